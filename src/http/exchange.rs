//! One HTTP request and its response over a smoltcp TCP socket, advanced a step at a time.
//!
//! [`Exchange::pump`] never waits: it sends what the socket will take, feeds whatever arrived to
//! the [`ResponseParser`], and says whether the exchange is over. The engine calls it after
//! every poll of the stack, so several exchanges progress at once in one loop.
//!
//! Over https the same request and parser run through a TLS 1.3 session ([`Secure`]): the
//! handshake starts once TCP is established, the request is sealed into one application-data
//! record once the handshake is done, and what the session decrypts is fed to the parser.

use smoltcp::socket::tcp;
use smoltcp::time::Instant;

use super::{Head, HttpError, ResponseParser};
use crate::net::Transport;
use crate::tls::pki::ServerName;
use crate::tls::{Secure, TlsError};

/// Longest request written (request line with a [`PATH_MAX`] target, fields, a small body).
///
/// [`PATH_MAX`]: crate::sources::service::PATH_MAX
pub const REQUEST_MAX: usize = 3072;

/// Why an exchange failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeError {
    Transport(Transport),
    Http(HttpError),
    Tls(TlsError),
}

/// A request in flight; see the module docs.
pub struct Exchange {
    request: [u8; REQUEST_MAX],
    len: usize,
    sent: usize,
    /// The connection got past SYN-SENT (the peer answered).
    established: bool,
    /// The TLS handshake was started (https only).
    hello: bool,
    deadline: Instant,
}

impl Exchange {
    /// A request of `len` bytes, written by `write` into the exchange's own buffer.
    pub fn new(
        deadline: Instant,
        write: impl FnOnce(&mut [u8]) -> Result<usize, HttpError>,
    ) -> Result<Exchange, HttpError> {
        let mut x = Exchange { request: [0; REQUEST_MAX], len: 0, sent: 0, established: false, hello: false, deadline };
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
        tls: Option<(&mut Secure<'_>, ServerName<'_>)>,
    ) -> Option<Result<Head, ExchangeError>> {
        let fail = |t| Some(Err(ExchangeError::Transport(t)));
        match socket.state() {
            tcp::State::SynSent | tcp::State::SynReceived => {}
            // Straight from SYN-SENT to CLOSED: a RST answered the SYN.
            tcp::State::Closed if !self.established => return fail(Transport::Refused),
            _ => self.established = true,
        }
        if let (true, Some((secure, name))) = (self.established, tls) {
            if let Some(end) = self.pump_tls(socket, parser, secure, name) {
                return Some(end);
            }
        } else if self.established {
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

    /// [`Exchange::pump`] over TLS: `None` while it is still going.
    // Out of line: the plain path must not grow by it.
    #[inline(never)]
    fn pump_tls(
        &mut self,
        socket: &mut tcp::Socket<'_>,
        parser: &mut ResponseParser<'_>,
        secure: &mut Secure<'_>,
        name: ServerName<'_>,
    ) -> Option<Result<Head, ExchangeError>> {
        let tls_fail = |e| Some(Err(ExchangeError::Tls(e)));
        if !self.hello {
            self.hello = true;
            secure.start(name);
        }
        // Bounded: every round moves bytes (sent, received, decrypted or handed to the parser)
        // or ends the loop; a response fills at most the parser's buffer.
        for _ in 0..64 {
            let Secure { client, trust, .. } = secure;
            // The request, sealed once the handshake is over (a few records at most).
            while client.is_established() && self.sent < self.len {
                let end = self.len.min(self.sent + crate::tls::WRITE_MAX);
                if let Err(e) = client.write(&self.request[self.sent..end]) {
                    return tls_fail(e);
                }
                self.sent = end;
            }
            while socket.can_send() && !client.outgoing().is_empty() {
                match socket.send_slice(client.outgoing()) {
                    Ok(n @ 1..) => client.sent(n),
                    _ => break,
                }
            }
            let mut failed = None;
            let got = socket.recv(|buf| match client.receive(buf, trust) {
                Ok(n) => (n, n),
                Err(e) => {
                    failed = Some(e);
                    (buf.len(), 0)
                }
            });
            if let Some(e) = failed {
                return tls_fail(e);
            }
            let plain = client.plaintext();
            let fed = plain.len();
            if fed > 0 {
                if let Err(e) = parser.feed(plain) {
                    return Some(Err(ExchangeError::Http(e)));
                }
                client.consume(fed);
            }
            if parser.is_done() {
                return parser.head().map(Ok);
            }
            // close_notify (RFC 8446 §6.1), or the TCP stream's end: the response is over. A
            // handshake cut short is a transport failure, retried like a reset connection.
            let finished = matches!(got, Err(tcp::RecvError::Finished));
            if client.is_closed() || finished {
                if !client.is_established() {
                    return Some(Err(ExchangeError::Transport(Transport::Reset)));
                }
                return Some(match parser.finish() {
                    Ok(()) => parser.head().ok_or(ExchangeError::Http(HttpError::Truncated)),
                    Err(e) => Err(ExchangeError::Http(e)),
                });
            }
            match got {
                Ok(n) if n > 0 || fed > 0 => {}
                Err(tcp::RecvError::InvalidState) => return Some(Err(ExchangeError::Transport(Transport::Reset))),
                _ => break,
            }
        }
        if socket.state() == tcp::State::Closed {
            return Some(Err(ExchangeError::Transport(Transport::Reset)));
        }
        None
    }
}
