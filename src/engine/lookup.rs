//! A host name resolved for a service (`--url http://metadata/…`, a NoCloud seed by name):
//! [`dns::Resolver`] joined to the stack's DNS socket, and to a TCP slot when an answer comes
//! back truncated (RFC 1035 §4.2.2: the same query over TCP, each message prefixed with its
//! two-byte length).

use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint};

use crate::net::Family;
use crate::net::dns::{self, Addresses, DnsError, Resolver, Want};
use crate::net::stack::Stack;

/// Largest DNS-over-TCP answer read (a UDP answer is at most 512 bytes; one that did not fit
/// is rarely much larger for A and AAAA records).
const TCP_ANSWER_MAX: usize = 4096;

/// How a lookup stands; once `Done(Ok)`, [`Lookup::found`] has the addresses.
pub enum Progress {
    Pending(Instant),
    Done(Result<(), DnsError>),
}

/// A DNS-over-TCP exchange in progress.
struct Tcp {
    slot: usize,
    query: [u8; dns::QUERY_MAX],
    len: usize,
    sent: usize,
    answer: heapless::Vec<u8, TCP_ANSWER_MAX>,
    established: bool,
}

pub struct Lookup {
    resolver: Resolver,
    /// The name servers' generation it started with (see [`crate::net::stack::Dns`]).
    pub generation: u32,
    tcp: Option<Tcp>,
    out: [u8; dns::QUERY_MAX],
}

impl Lookup {
    /// Starts resolving `name` with what the stack knows now; `NoServers` until a source has
    /// named a server.
    pub fn start(
        name: &[u8],
        stack: &Stack<'_>,
        family: Family,
        now: Instant,
        deadline: Instant,
        seed: u64,
    ) -> Result<Lookup, DnsError> {
        let dns = stack.dns();
        let want = Want { v4: family.v4(), v6: family.v6() };
        let resolver = Resolver::new(name, &dns.servers, &dns.search, want, now, deadline, seed)?;
        Ok(Lookup { resolver, generation: dns.generation, tcp: None, out: [0; dns::QUERY_MAX] })
    }

    /// What the name resolved to.
    pub fn found(&self) -> &Addresses {
        self.resolver.found()
    }

    /// Ends a TCP exchange still open (the service was cancelled).
    pub fn drop_all(&mut self, stack: &mut Stack<'_>) {
        if let Some(t) = self.tcp.take() {
            stack.release(t.slot);
        }
    }

    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll(&mut self, now: Instant, stack: &mut Stack<'_>) -> Progress {
        let resolver = &mut self.resolver;
        stack.dns_recv(|from, msg| resolver.on_udp(now, from, msg));
        self.pump_tcp(now, stack);
        // Bounded: each round sends one query (two at most are outstanding) or ends.
        for _ in 0..4 {
            match self.resolver.poll(now, &mut self.out) {
                dns::Action::Udp { server, len } => stack.dns_send(server, &self.out[..len]),
                dns::Action::Tcp { server, len } => self.open_tcp(now, stack, server, len),
                dns::Action::Wait(at) => return Progress::Pending(at),
                dns::Action::Done(result) => {
                    let result = result.map(|_| ());
                    self.drop_all(stack);
                    return Progress::Done(result);
                }
            }
        }
        Progress::Pending(now)
    }

    fn open_tcp(&mut self, now: Instant, stack: &mut Stack<'_>, server: IpAddress, len: usize) {
        // The resolver gave up on an earlier exchange by its own clock: that slot is free.
        self.drop_all(stack);
        let connected =
            stack.free_slot().filter(|&slot| stack.connect(slot, IpEndpoint::new(server, 53), false).is_ok());
        match connected {
            Some(slot) => {
                let mut t = Tcp {
                    slot,
                    query: [0; dns::QUERY_MAX],
                    len,
                    sent: 0,
                    answer: heapless::Vec::new(),
                    established: false,
                };
                t.query[..len].copy_from_slice(&self.out[..len]);
                self.tcp = Some(t);
            }
            None => self.resolver.on_tcp_failed(now),
        }
    }

    /// Moves the TCP exchange on; hands the answer (or the failure) to the resolver.
    fn pump_tcp(&mut self, now: Instant, stack: &mut Stack<'_>) {
        let Some(t) = self.tcp.as_mut() else { return };
        let socket = stack.socket(t.slot);
        let state = socket.state();
        if matches!(state, tcp::State::SynSent | tcp::State::SynReceived) {
            return;
        }
        let mut failed = state == tcp::State::Closed;
        t.established |= !failed;
        if !failed {
            while t.sent < t.len && socket.can_send() {
                match socket.send_slice(&t.query[t.sent..t.len]) {
                    Ok(n @ 1..) => t.sent += n,
                    _ => break,
                }
            }
            // Bounded by the answer buffer: each round takes bytes or stops.
            while socket.can_recv() && !t.answer.is_full() {
                let room = TCP_ANSWER_MAX - t.answer.len();
                let got = socket.recv(|buf| {
                    let n = buf.len().min(room);
                    (n, t.answer.extend_from_slice(&buf[..n]).is_ok())
                });
                if got != Ok(true) {
                    break;
                }
            }
            if !socket.may_recv() && Self::complete(&t.answer).is_none() {
                failed = true;
            }
        }
        if let Some(msg) = Self::complete(&t.answer) {
            self.resolver.on_tcp(now, msg);
        } else if failed || t.answer.is_full() {
            self.resolver.on_tcp_failed(now);
        } else {
            return;
        }
        let slot = t.slot;
        self.tcp = None;
        stack.release(slot);
    }

    /// The whole message once its two-byte length and that many bytes are in.
    fn complete(answer: &[u8]) -> Option<&[u8]> {
        let [a, b, rest @ ..] = answer else { return None };
        rest.get(..usize::from(u16::from_be_bytes([*a, *b])))
    }
}

/// How long a service waits for its first name server before asking again (the network
/// wakes it sooner when one arrives).
pub const SERVER_WAIT: Duration = Duration::from_millis(100);
