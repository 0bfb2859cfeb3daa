//! One HTTP request and its response over a smoltcp TCP socket, advanced a step at a time.
//!
//! [`Exchange::pump`] never waits: it sends what the socket will take, feeds whatever arrived to
//! the [`ResponseParser`], and says whether the exchange is over. The engine calls it after
//! every poll of the stack, so several exchanges progress at once in one loop.

use smoltcp::socket::tcp;
use smoltcp::time::Instant;

use super::{Head, HttpError, ResponseParser};
use crate::net::Transport;

/// Longest request written (request line with a [`PATH_MAX`] target, fields, a small body).
///
/// [`PATH_MAX`]: crate::sources::service::PATH_MAX
pub const REQUEST_MAX: usize = 3072;

/// Why an exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeError {
    Transport(Transport),
    Http(HttpError),
}

/// A request in flight; see the module docs.
pub struct Exchange {
    request: [u8; REQUEST_MAX],
    len: usize,
    sent: usize,
    /// The connection got past SYN-SENT (the peer answered).
    established: bool,
    deadline: Instant,
}

impl Exchange {
    /// A request of `len` bytes, written by `write` into the exchange's own buffer.
    pub fn new(
        deadline: Instant,
        write: impl FnOnce(&mut [u8]) -> Result<usize, HttpError>,
    ) -> Result<Exchange, HttpError> {
        let mut x = Exchange { request: [0; REQUEST_MAX], len: 0, sent: 0, established: false, deadline };
        x.len = write(&mut x.request)?;
        Ok(x)
    }

    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// The peer answered at the TCP level (SYN-ACK or RST): the path to it works.
    pub fn answered(&self) -> bool {
        self.established
    }

    /// Moves the exchange on: `None` while it is still going, else how it ended (with the
    /// response in `parser`). The caller then closes or releases the socket.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn pump(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        parser: &mut ResponseParser<'_>,
        now: Instant,
    ) -> Option<Result<Head, ExchangeError>> {
        let fail = |t| Some(Err(ExchangeError::Transport(t)));
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => {}
            // Straight from SYN-SENT to CLOSED: a RST answered the SYN.
            tcp::State::Closed if !self.established => return fail(Transport::Refused),
            _ => self.established = true,
        }
        if self.established {
            while self.sent < self.len && socket.can_send() {
                match socket.send_slice(&self.request[self.sent..self.len]) {
                    Ok(n @ 1..) => self.sent += n,
                    _ => break,
                }
            }
            // Bounded: every round consumes the bytes it is shown, and the receive buffer
            // holds at most one window.
            loop {
                let mut failed = None;
                let got = socket.recv(|buf| match parser.feed(buf) {
                    Ok(_) => (buf.len(), buf.len()),
                    Err(e) => {
                        failed = Some(e);
                        (buf.len(), 0)
                    }
                });
                if let Some(e) = failed {
                    return Some(Err(ExchangeError::Http(e)));
                }
                if parser.is_done() {
                    return parser.head().map(Ok);
                }
                match got {
                    Ok(1..) => {}
                    Ok(0) => break,
                    // smoltcp's EOF: the peer's FIN arrived and everything before it was read.
                    Err(tcp::RecvError::Finished) => {
                        return Some(match parser.finish() {
                            Ok(()) => parser.head().ok_or(ExchangeError::Http(HttpError::Truncated)),
                            Err(e) => Err(ExchangeError::Http(e)),
                        });
                    }
                    Err(tcp::RecvError::InvalidState) => return fail(Transport::Reset),
                }
            }
            if socket.state() == tcp::State::Closed {
                return fail(Transport::Reset);
            }
        }
        if now >= self.deadline {
            socket.abort();
            return fail(Transport::Timeout);
        }
        None
    }
}
