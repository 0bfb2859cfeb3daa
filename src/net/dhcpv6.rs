//! A DHCPv6 client (RFC 8415), sans-IO: stateful (an IA_NA address, with Rapid Commit) or
//! stateless (Information-request for DNS), whichever the RA's M and O flags asked for
//! ([`ndp::Event::StartDhcpv6`](super::ndp::Event::StartDhcpv6)).
//!
//! Messages are UDP payloads: the caller sends what [`Client::poll`] writes from its link-local
//! address, port 546, to All_DHCP_Relay_Agents_and_Servers ff02::1:2 port 547 (RFC 8415 §7.1,
//! §7.2), and hands every datagram received on port 546 to [`Client::on_message`]. flint lives
//! for one fetch, so the client stops at the first binding: no Renew, Rebind or Release (the
//! system's own DHCPv6 client takes over after flint; RFC 8415 §18.2.7 lets a lease simply
//! lapse).
//!
//! Deviations from RFC 8415, for an early boot that must be done in seconds:
//! - No initial random delay (§18.2.1 SOL_MAX_DELAY and §18.2.6 INF_MAX_DELAY, both SHOULDs):
//!   the delay spreads the clients of a whole link that boots at once (after a power failure);
//!   flint runs once per boot of one VM, after router discovery, which already spread it out.
//! - Retransmission timeouts (§15) double from 1 s but are capped at [`MAX_RT_MS`] instead of
//!   SOL_MAX_RT and INF_MAX_RT (3600 s), and every exchange is bounded: [`SOLICIT_MAX_RC`]
//!   Solicits or Information-requests, REQ_MAX_RC (10) Requests per server, one return to
//!   server discovery after a failed Request. Then the client gives up ([`State::GaveUp`]).
//!
//! Every message carries the client's DUID-LL (§11.4), the Elapsed Time option (§21.9) and an
//! Option Request for DNS servers and the domain search list (RFC 3646 options 23 and 24).
//! Replies are checked per §16: the transaction id, a Server Identifier, and a Client
//! Identifier equal to ours.

use heapless::Vec;
use smoltcp::time::{Duration, Instant};

use crate::rand::Rng;

/// The longest message the client writes (a Request with a 130-byte server DUID: 210 bytes).
pub const MSG_MAX: usize = 256;
/// Message types (RFC 8415 §7.3).
const SOLICIT: u8 = 1;
const ADVERTISE: u8 = 2;
const REQUEST: u8 = 3;
const REPLY: u8 = 7;
const INFORMATION_REQUEST: u8 = 11;
/// Option codes (RFC 8415 §21, RFC 3646).
const OPT_CLIENTID: u16 = 1;
const OPT_SERVERID: u16 = 2;
const OPT_IA_NA: u16 = 3;
const OPT_IAADDR: u16 = 5;
const OPT_ORO: u16 = 6;
const OPT_PREFERENCE: u16 = 7;
const OPT_ELAPSED_TIME: u16 = 8;
const OPT_STATUS_CODE: u16 = 13;
const OPT_RAPID_COMMIT: u16 = 14;
const OPT_DNS_SERVERS: u16 = 23;
const OPT_DOMAIN_LIST: u16 = 24;
/// Status codes (RFC 8415 §21.13).
const STATUS_SUCCESS: u16 = 0;
const STATUS_NO_ADDRS_AVAIL: u16 = 2;
const STATUS_NOT_ON_LINK: u16 = 4;
/// The longest DUID (RFC 8415 §11.1: 128 octets after the 2-octet type).
pub const DUID_MAX: usize = 130;
/// Initial retransmission timeout of every exchange flint makes (§7.6: SOL_TIMEOUT,
/// REQ_TIMEOUT and INF_TIMEOUT are all 1 s).
const IRT_MS: u64 = 1000;
/// flint's cap on the retransmission timeout (see the module docs).
pub const MAX_RT_MS: u64 = 4000;
/// Solicits (or Information-requests) sent before giving up; with the cap, about 27 s.
pub const SOLICIT_MAX_RC: u8 = 8;
/// RFC 8415 §7.6.
pub const REQ_MAX_RC: u8 = 10;
/// Returns to server discovery after a Request went unanswered or was refused.
const RESTARTS_MAX: u8 = 1;

/// What the client asks for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// An address (IA_NA) and DNS: the RA's M flag.
    Stateful,
    /// DNS only: the RA's O flag without M.
    Stateless,
}

/// Where the client stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum State {
    /// Sending Solicits, collecting Advertises (§18.2.1).
    Soliciting,
    /// Sending Requests to the chosen server (§18.2.2).
    Requesting,
    /// Sending Information-requests (§18.2.6).
    InformationRequesting,
    Bound,
    /// Every bounded retransmission went unanswered.
    GaveUp,
}

/// What a received message did. Returned by value once per exchange; no allocator to box
/// the lease into, so the size difference between variants stays.
#[derive(Clone, Debug, PartialEq, Eq)]
#[allow(clippy::large_enum_variant)]
pub enum Event {
    Bound(Lease6),
    /// A server said it has no address for us (status NoAddrsAvail, §21.13); the client keeps
    /// soliciting within its bound, other servers may have one.
    NoAddrsAvail,
}

/// What a Reply gave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Lease6 {
    /// The IA_NA address with its preferred and valid lifetimes in seconds (0xffff_ffff:
    /// infinity); `None` in stateless mode. Its prefix length is not DHCPv6's to say (the RA's
    /// on-link prefixes give it): /128 unless a prefix says otherwise (RFC 8415 §21.6).
    pub address: Option<([u8; 16], u32, u32)>,
    /// DNS servers (RFC 3646 option 23), the first three; unspecified and multicast skipped.
    pub dns: Vec<[u8; 16], 3>,
    /// The Domain Search List (RFC 3646 option 24) as sent: wire-format names; cut after the
    /// last whole name that fits.
    pub search: Vec<u8, 256>,
    pub server_id: Vec<u8, DUID_MAX>,
}

/// The server chosen from the Advertises so far.
#[derive(Clone, Debug)]
struct Offer {
    preference: u8,
    server_id: Vec<u8, DUID_MAX>,
    address: [u8; 16],
}

/// One DHCPv6 exchange for one interface; see the module docs.
#[derive(Clone, Debug)]
pub struct Client {
    mac: [u8; 6],
    mode: Mode,
    rng: Rng,
    state: State,
    xid: [u8; 3],
    /// When the current exchange began (for the Elapsed Time option).
    started: Instant,
    /// Messages of the current exchange sent so far.
    sent: u8,
    /// The current retransmission timeout and when it runs out.
    rt: Duration,
    next: Instant,
    offer: Option<Offer>,
    restarts: u8,
}

impl Client {
    /// A client for the NIC `mac` that sends its first message at `now`; `seed` gives the
    /// transaction ids and the retransmission jitter.
    pub fn new(mac: [u8; 6], mode: Mode, now: Instant, seed: u64) -> Client {
        let mut c = Client {
            mac,
            mode,
            rng: Rng::new(seed),
            state: State::Soliciting,
            xid: [0; 3],
            started: now,
            sent: 0,
            rt: Duration::ZERO,
            next: now,
            offer: None,
            restarts: 0,
        };
        c.begin(now, if mode == Mode::Stateful { State::Soliciting } else { State::InformationRequesting });
        c
    }

    /// Starts an exchange: a new transaction id (§16.1), timers from scratch.
    fn begin(&mut self, now: Instant, state: State) {
        let x = self.rng.next_u64().to_be_bytes();
        self.xid = [x[0], x[1], x[2]];
        self.state = state;
        self.started = now;
        self.sent = 0;
        self.rt = Duration::ZERO;
        self.next = now;
    }

    pub fn state(&self) -> State {
        self.state
    }

    pub fn mode(&self) -> Mode {
        self.mode
    }

    /// The transaction id of the current exchange.
    pub fn xid(&self) -> [u8; 3] {
        self.xid
    }

    /// The client identifier, DUID-LL (RFC 8415 §11.4): type 3, hardware type 1 (Ethernet),
    /// the MAC — stable across boots and needs no clock or storage, unlike DUID-LLT.
    pub fn duid(&self) -> [u8; 10] {
        let m = self.mac;
        [0, 3, 0, 1, m[0], m[1], m[2], m[3], m[4], m[5]]
    }

    /// The IA_NA's IAID: the MAC's last four octets, stable per interface (§12).
    pub fn iaid(&self) -> [u8; 4] {
        [self.mac[2], self.mac[3], self.mac[4], self.mac[5]]
    }

    pub fn poll_at(&self) -> Option<Instant> {
        match self.state {
            State::Bound | State::GaveUp => None,
            _ => Some(self.next),
        }
    }

    /// The RFC 8415 §15 timeout after `prev` (zero: the first): IRT + RAND*IRT, then
    /// 2*RTprev + RAND*RTprev, and MRT + RAND*MRT once past MRT ([`MAX_RT_MS`]), RAND in
    /// -0.1..0.1 (the first Solicit's strictly above 0, §15).
    fn next_rt(&mut self, prev: Duration) -> Duration {
        let prev = prev.total_millis();
        let ms = if prev == 0 && self.state == State::Soliciting {
            IRT_MS + 1 + self.rng.below(IRT_MS / 10)
        } else if prev == 0 {
            self.around(IRT_MS)
        } else {
            let rt = 2 * prev - prev / 10 + self.rng.below(prev / 5 + 1);
            if rt > MAX_RT_MS { self.around(MAX_RT_MS) } else { rt }
        };
        Duration::from_millis(ms)
    }

    /// `v` ± 10 %.
    fn around(&mut self, v: u64) -> u64 {
        v - v / 10 + self.rng.below(v / 5 + 1)
    }

    /// Advances timers; writes the message to send now, if one is due. `out` must hold
    /// [`MSG_MAX`] bytes (a shorter one gets nothing).
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll(&mut self, now: Instant, out: &mut [u8]) -> Option<usize> {
        if out.len() < MSG_MAX || self.poll_at().is_none_or(|at| now < at) {
            return None;
        }
        // The first RT is over with an Advertise in hand: request from the best (§18.2.1).
        if self.state == State::Soliciting && self.offer.is_some() {
            self.begin(now, State::Requesting);
        }
        let max = if self.state == State::Requesting { REQ_MAX_RC } else { SOLICIT_MAX_RC };
        if self.sent >= max {
            if self.state == State::Requesting && self.restarts < RESTARTS_MAX {
                // §18.2.2: the Request failed; back to server discovery.
                self.restarts += 1;
                self.offer = None;
                self.begin(now, State::Soliciting);
            } else {
                warn!("address", "no DHCPv6 server answered");
                self.state = State::GaveUp;
                return None;
            }
        }
        self.rt = self.next_rt(self.rt);
        self.sent += 1;
        self.next = now + self.rt;
        Some(self.write(now, out))
    }

    fn write(&self, now: Instant, out: &mut [u8]) -> usize {
        let kind = match self.state {
            State::Soliciting => SOLICIT,
            State::Requesting => REQUEST,
            _ => INFORMATION_REQUEST,
        };
        let mut w = Writer { out, at: 0 };
        w.bytes(&[kind]);
        w.bytes(&self.xid);
        w.option(OPT_CLIENTID, &self.duid());
        if let (State::Requesting, Some(o)) = (self.state, &self.offer) {
            w.option(OPT_SERVERID, &o.server_id);
        }
        // Hundredths of a second since the exchange began, 0xffff when longer (§21.9).
        let cs = (now - self.started).total_millis() / 10;
        w.option(OPT_ELAPSED_TIME, &(cs.min(0xffff) as u16).to_be_bytes());
        w.option(OPT_ORO, &[0, OPT_DNS_SERVERS as u8, 0, OPT_DOMAIN_LIST as u8]);
        if kind != INFORMATION_REQUEST {
            // IA_NA (§21.4): T1 and T2 0, the server's choice. A Request names the offered
            // address (§18.2.2 lets the client include it; lifetimes 0: no preference).
            let addr = self.offer.as_ref().filter(|_| kind == REQUEST).map(|o| o.address);
            let len = if addr.is_some() { 12 + 4 + 24 } else { 12 };
            w.header(OPT_IA_NA, len);
            w.bytes(&self.iaid());
            w.bytes(&[0; 8]);
            if let Some(a) = addr {
                w.header(OPT_IAADDR, 24);
                w.bytes(&a);
                w.bytes(&[0; 8]);
            }
        }
        if kind == SOLICIT {
            // §18.2.1, §21.14: a server that can may answer with a Reply at once.
            w.option(OPT_RAPID_COMMIT, &[]);
        }
        w.at
    }

    /// Looks at a datagram received on port 546. Anything not for this exchange, malformed or
    /// unusable is ignored (`None`).
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn on_message(&mut self, now: Instant, msg: &[u8]) -> Option<Event> {
        if matches!(self.state, State::Bound | State::GaveUp) {
            return None;
        }
        let (&kind, rest) = msg.split_first()?;
        if rest.get(..3)? != self.xid {
            return None;
        }
        let opts = &rest[3..];
        // §16.3, §16.10: a Server Identifier, and our own Client Identifier.
        if !options_ok(opts) || find(opts, OPT_CLIENTID)? != self.duid() {
            return None;
        }
        let server = find(opts, OPT_SERVERID).filter(|s| !s.is_empty())?;
        let server_id = Vec::from_slice(server).ok()?;
        let status = status(opts);
        match (self.state, kind) {
            (State::Soliciting, ADVERTISE) => {
                if status == STATUS_NO_ADDRS_AVAIL {
                    return Some(Event::NoAddrsAvail);
                }
                // §18.2.9: an Advertise without addresses is ignored.
                let (address, ia_status) = self.ia_address(opts);
                let Some((address, _, _)) = address else {
                    return (ia_status == STATUS_NO_ADDRS_AVAIL).then_some(Event::NoAddrsAvail);
                };
                let preference = find(opts, OPT_PREFERENCE).and_then(|p| p.first().copied()).unwrap_or(0);
                if self.offer.as_ref().is_none_or(|o| preference > o.preference) {
                    self.offer = Some(Offer { preference, server_id, address });
                }
                // §18.2.1: preference 255 is taken at once, and so is any Advertise once the
                // first RT is over; before, the client waits for better ones.
                if preference == 255 || self.sent > 1 {
                    self.next = now;
                }
                None
            }
            (State::Soliciting, REPLY) if find(opts, OPT_RAPID_COMMIT).is_some() => self.bind(opts, server_id),
            (State::Requesting, REPLY) => {
                if status == STATUS_NOT_ON_LINK {
                    // §18.2.10.1: the offered address is not for this link; start over.
                    self.restart(now);
                    return None;
                }
                let ev = self.bind(opts, server_id);
                if ev == Some(Event::NoAddrsAvail) {
                    // §18.2.10.1: this server has none after all; try discovery again.
                    self.restart(now);
                }
                ev
            }
            (State::InformationRequesting, REPLY) if status == STATUS_SUCCESS => {
                self.state = State::Bound;
                Some(Event::Bound(Lease6 { address: None, dns: dns(opts), search: search(opts), server_id }))
            }
            _ => None,
        }
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn restart(&mut self, now: Instant) {
        self.offer = None;
        if self.restarts < RESTARTS_MAX {
            self.restarts += 1;
            self.begin(now, State::Soliciting);
        } else {
            self.state = State::GaveUp;
        }
    }

    /// A Reply to a Solicit (rapid commit) or a Request: binds when our IA_NA holds a usable
    /// address; a message-level status other than Success (§21.13) binds nothing.
    fn bind(&mut self, opts: &[u8], server_id: Vec<u8, DUID_MAX>) -> Option<Event> {
        let status = status(opts);
        let (address, ia_status) = self.ia_address(opts);
        if status == STATUS_NO_ADDRS_AVAIL || (address.is_none() && ia_status == STATUS_NO_ADDRS_AVAIL) {
            return Some(Event::NoAddrsAvail);
        }
        if status != STATUS_SUCCESS {
            return None;
        }
        let address = address?;
        self.state = State::Bound;
        Some(Event::Bound(Lease6 { address: Some(address), dns: dns(opts), search: search(opts), server_id }))
    }

    /// The first usable address of the IA_NA with our IAID (§21.4, §21.6), and that IA's
    /// status. An IA with T1 > T2 > 0 is ignored (§21.4); an address with valid lifetime 0, a
    /// preferred lifetime past the valid one, or a status other than Success is skipped (§21.6,
    /// §18.2.10.1).
    #[allow(clippy::type_complexity)]
    fn ia_address(&self, opts: &[u8]) -> (Option<([u8; 16], u32, u32)>, u16) {
        for (code, ia) in Options(opts) {
            if code != OPT_IA_NA || ia.get(..4) != Some(&self.iaid()[..]) || ia.len() < 12 {
                continue;
            }
            let (t1, t2) = (be32(ia, 4), be32(ia, 8));
            if t1 > t2 && t2 > 0 {
                continue;
            }
            let inner = &ia[12..];
            if !options_ok(inner) {
                continue;
            }
            let ia_status = status(inner);
            for (code, a) in Options(inner) {
                if code != OPT_IAADDR || a.len() < 24 {
                    continue;
                }
                let Ok(addr) = <[u8; 16]>::try_from(&a[..16]) else { continue };
                let (preferred, valid) = (be32(a, 16), be32(a, 20));
                let a_opts = &a[24..];
                if valid == 0 || preferred > valid || !options_ok(a_opts) || status(a_opts) != STATUS_SUCCESS {
                    continue;
                }
                if ia_status == STATUS_SUCCESS && addr[0] != 0xff && addr != [0; 16] {
                    return (Some((addr, preferred, valid)), ia_status);
                }
            }
            return (None, ia_status);
        }
        (None, STATUS_SUCCESS)
    }
}

/// Writes options into a buffer that is known to be [`MSG_MAX`] long.
struct Writer<'a> {
    out: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn bytes(&mut self, b: &[u8]) {
        if let Some(dst) = self.out.get_mut(self.at..self.at + b.len()) {
            dst.copy_from_slice(b);
            self.at += b.len();
        }
    }

    fn header(&mut self, code: u16, len: usize) {
        self.bytes(&code.to_be_bytes());
        self.bytes(&(len as u16).to_be_bytes());
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn option(&mut self, code: u16, data: &[u8]) {
        self.header(code, data.len());
        self.bytes(data);
    }
}

/// Iterates over DHCPv6 options (§21.1: code, length, data), stopping at a truncated one;
/// [`options_ok`] tells beforehand whether there is one.
struct Options<'a>(&'a [u8]);

impl<'a> Iterator for Options<'a> {
    type Item = (u16, &'a [u8]);
    fn next(&mut self) -> Option<(u16, &'a [u8])> {
        let h = self.0.get(..4)?;
        let (code, len) = (u16::from_be_bytes([h[0], h[1]]), u16::from_be_bytes([h[2], h[3]]) as usize);
        let data = self.0.get(4..4 + len)?;
        self.0 = &self.0[4 + len..];
        Some((code, data))
    }
}

/// Every option ends within `opts` (a message that breaks this is malformed, §16).
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn options_ok(opts: &[u8]) -> bool {
    let mut it = Options(opts);
    while it.next().is_some() {}
    it.0.is_empty()
}

/// The first option `code`.
fn find(opts: &[u8], code: u16) -> Option<&[u8]> {
    Options(opts).find(|o| o.0 == code).map(|o| o.1)
}

/// The Status Code option's code (§21.13); Success when absent (§21.13: "If the Status Code
/// option does not appear in a message ... the status code is assumed to be Success").
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn status(opts: &[u8]) -> u16 {
    match find(opts, OPT_STATUS_CODE) {
        Some(s) => s.get(..2).map_or(u16::MAX, |c| u16::from_be_bytes([c[0], c[1]])),
        None => STATUS_SUCCESS,
    }
}

fn be32(b: &[u8], at: usize) -> u32 {
    b.get(at..at + 4).and_then(|s| s.try_into().ok()).map_or(0, u32::from_be_bytes)
}

fn dns(opts: &[u8]) -> Vec<[u8; 16], 3> {
    let mut v = Vec::new();
    for a in find(opts, OPT_DNS_SERVERS).unwrap_or(&[]).chunks_exact(16) {
        let Ok(a) = <[u8; 16]>::try_from(a) else { continue };
        if a != [0; 16] && a[0] != 0xff && !v.contains(&a) {
            let _ = v.push(a);
        }
    }
    v
}

/// Option 24's data up to the last whole name within 256 bytes (a name is labels ending in a
/// zero octet, RFC 1035 §3.1).
fn search(opts: &[u8]) -> Vec<u8, 256> {
    let data = find(opts, OPT_DOMAIN_LIST).unwrap_or(&[]);
    let (mut at, mut whole) = (0, 0);
    while let Some(&l) = data.get(at) {
        at += 1 + l as usize;
        if at > data.len() || at > 256 || l > 63 {
            break;
        }
        if l == 0 {
            whole = at;
        }
    }
    Vec::from_slice(&data[..whole]).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec as SVec;

    const MAC: [u8; 6] = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    const SERVER: &[u8] = &[0, 1, 0, 1, 0x2a, 0x2b, 0x2c, 0x2d, 2, 0, 0, 0, 0, 0x53];
    const ADDR: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10, 0x01];
    const DNS1: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x53];

    fn t(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    fn opt(code: u16, data: &[u8]) -> SVec<u8> {
        let mut o = SVec::new();
        o.extend_from_slice(&code.to_be_bytes());
        o.extend_from_slice(&(data.len() as u16).to_be_bytes());
        o.extend_from_slice(data);
        o
    }

    fn ia_na(iaid: [u8; 4], inner: &[SVec<u8>]) -> SVec<u8> {
        let mut d = iaid.to_vec();
        d.extend_from_slice(&[0, 0, 0, 100, 0, 0, 0, 160]);
        for o in inner {
            d.extend_from_slice(o);
        }
        opt(OPT_IA_NA, &d)
    }

    fn iaaddr(a: [u8; 16], preferred: u32, valid: u32) -> SVec<u8> {
        let mut d = a.to_vec();
        d.extend_from_slice(&preferred.to_be_bytes());
        d.extend_from_slice(&valid.to_be_bytes());
        opt(OPT_IAADDR, &d)
    }

    fn message(kind: u8, xid: [u8; 3], opts: &[SVec<u8>]) -> SVec<u8> {
        let mut m = std::vec![kind];
        m.extend_from_slice(&xid);
        for o in opts {
            m.extend_from_slice(o);
        }
        m
    }

    /// A server's answer for `c`'s current exchange.
    fn answer(c: &Client, kind: u8, extra: &[SVec<u8>]) -> SVec<u8> {
        let mut opts = std::vec![opt(OPT_SERVERID, SERVER), opt(OPT_CLIENTID, &c.duid())];
        opts.extend_from_slice(extra);
        message(kind, c.xid(), &opts)
    }

    fn lease_opts(c: &Client) -> SVec<SVec<u8>> {
        std::vec![
            ia_na(c.iaid(), &[iaaddr(ADDR, 3600, 7200)]),
            opt(OPT_DNS_SERVERS, &DNS1),
            opt(OPT_DOMAIN_LIST, b"\x07example\x03com\x00"),
        ]
    }

    /// The options of a message the client wrote, by code.
    fn sent_opts(m: &[u8]) -> SVec<(u16, SVec<u8>)> {
        assert!(options_ok(&m[4..]));
        Options(&m[4..]).map(|(c, d)| (c, d.to_vec())).collect()
    }

    fn send(c: &mut Client, now: Instant) -> SVec<u8> {
        let mut out = [0u8; MSG_MAX];
        let n = c.poll(now, &mut out).expect("a message is due");
        out[..n].to_vec()
    }

    #[test]
    fn solicit_carries_every_required_option() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 1);
        let m = send(&mut c, t(0));
        assert_eq!(m[0], SOLICIT);
        assert_eq!(m[1..4], c.xid());
        let o = sent_opts(&m);
        let codes: SVec<u16> = o.iter().map(|o| o.0).collect();
        assert_eq!(codes, [OPT_CLIENTID, OPT_ELAPSED_TIME, OPT_ORO, OPT_IA_NA, OPT_RAPID_COMMIT]);
        assert_eq!(o[0].1, [0, 3, 0, 1, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56], "DUID-LL");
        assert_eq!(o[1].1, [0, 0], "elapsed time starts at 0");
        assert_eq!(o[2].1, [0, 23, 0, 24]);
        assert_eq!(o[3].1, [0, 0x12, 0x34, 0x56, 0, 0, 0, 0, 0, 0, 0, 0], "IAID from the MAC, T1 = T2 = 0");
        assert!(o[4].1.is_empty());
        // A retransmission: same transaction, elapsed time in hundredths.
        let at = c.poll_at().unwrap();
        let m2 = send(&mut c, at);
        assert_eq!(m2[1..4], m[1..4]);
        let cs = u16::from_be_bytes(sent_opts(&m2)[1].1[..].try_into().unwrap());
        assert_eq!(cs as i64, at.total_millis() / 10);
    }

    #[test]
    fn rapid_commit_reply_binds() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 1);
        send(&mut c, t(0));
        let mut opts = lease_opts(&c);
        // Without Rapid Commit a Reply to a Solicit is not for us.
        assert_eq!(c.on_message(t(10), &answer(&c, REPLY, &opts)), None);
        opts.push(opt(OPT_RAPID_COMMIT, &[]));
        let Some(Event::Bound(l)) = c.on_message(t(10), &answer(&c, REPLY, &opts)) else { panic!("not bound") };
        assert_eq!(l.address, Some((ADDR, 3600, 7200)));
        assert_eq!(l.dns.as_slice(), &[DNS1]);
        assert_eq!(l.search.as_slice(), b"\x07example\x03com\x00");
        assert_eq!(l.server_id.as_slice(), SERVER);
        assert_eq!(c.state(), State::Bound);
        assert_eq!(c.poll_at(), None);
    }

    #[test]
    fn advertise_request_reply() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 3);
        send(&mut c, t(0));
        let first_rt = c.poll_at().unwrap();
        let (lo, hi) = (t(1000), t(1100));
        assert!(first_rt > lo && first_rt <= hi, "first RT {first_rt} strictly above IRT");
        let other: &[u8] = &[0, 3, 0, 1, 2, 0, 0, 0, 0, 9];
        let adv_low = message(
            ADVERTISE,
            c.xid(),
            &[
                opt(OPT_SERVERID, other),
                opt(OPT_CLIENTID, &c.duid()),
                ia_na(c.iaid(), &[iaaddr([0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 9], 10, 20)]),
            ],
        );
        let adv_good = answer(&c, ADVERTISE, &[ia_na(c.iaid(), &[iaaddr(ADDR, 100, 200)]), opt(OPT_PREFERENCE, &[7])]);
        assert_eq!(c.on_message(t(100), &adv_low), None);
        assert_eq!(c.on_message(t(200), &adv_good), None);
        // It waits out the first RT for better ones.
        assert_eq!(c.poll_at(), Some(first_rt));
        let mut out = [0u8; MSG_MAX];
        assert_eq!(c.poll(t(500), &mut out), None);
        let req = send(&mut c, first_rt);
        assert_eq!(req[0], REQUEST);
        assert_eq!(c.state(), State::Requesting);
        assert_ne!(req[1..4], adv_good[1..4], "a new transaction");
        let o = sent_opts(&req);
        assert_eq!(o.iter().find(|o| o.0 == OPT_SERVERID).unwrap().1, SERVER, "the preferred server");
        assert_eq!(o.iter().find(|o| o.0 == OPT_ELAPSED_TIME).unwrap().1, [0, 0]);
        let ia = &o.iter().find(|o| o.0 == OPT_IA_NA).unwrap().1;
        assert_eq!(ia[16..32], ADDR, "the offered address");
        assert!(o.iter().all(|o| o.0 != OPT_RAPID_COMMIT));
        let Some(Event::Bound(l)) = c.on_message(t(1200), &answer(&c, REPLY, &lease_opts(&c))) else {
            panic!("not bound")
        };
        assert_eq!(l.address, Some((ADDR, 3600, 7200)));
    }

    #[test]
    fn preference_255_is_taken_at_once() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 3);
        send(&mut c, t(0));
        let adv = answer(&c, ADVERTISE, &[ia_na(c.iaid(), &[iaaddr(ADDR, 100, 200)]), opt(OPT_PREFERENCE, &[255])]);
        assert_eq!(c.on_message(t(50), &adv), None);
        assert_eq!(c.poll_at(), Some(t(50)));
        assert_eq!(send(&mut c, t(50))[0], REQUEST);
    }

    #[test]
    fn wrong_transaction_or_client_is_ignored() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 1);
        send(&mut c, t(0));
        let mut opts = lease_opts(&c);
        opts.push(opt(OPT_RAPID_COMMIT, &[]));
        let mut wrong_xid = answer(&c, REPLY, &opts);
        wrong_xid[3] ^= 1;
        assert_eq!(c.on_message(t(1), &wrong_xid), None);
        let mut other = opts.clone();
        other.insert(0, opt(OPT_CLIENTID, &[0, 3, 0, 1, 2, 2, 2, 2, 2, 2]));
        other.insert(0, opt(OPT_SERVERID, SERVER));
        assert_eq!(c.on_message(t(1), &message(REPLY, c.xid(), &other)), None, "another client's");
        let mut no_server = std::vec![opt(OPT_CLIENTID, &c.duid())];
        no_server.extend_from_slice(&opts);
        assert_eq!(c.on_message(t(1), &message(REPLY, c.xid(), &no_server)), None, "no server id");
        let mut truncated = answer(&c, REPLY, &opts);
        truncated.pop();
        assert_eq!(c.on_message(t(1), &truncated), None, "an option past the end");
        // Unusable addresses: valid 0, preferred > valid, another IAID.
        for bad in [iaaddr(ADDR, 0, 0), iaaddr(ADDR, 20, 10)] {
            let o = [ia_na(c.iaid(), &[bad]), opt(OPT_RAPID_COMMIT, &[])];
            assert_eq!(c.on_message(t(1), &answer(&c, REPLY, &o)), None);
        }
        let o = [ia_na([9, 9, 9, 9], &[iaaddr(ADDR, 1, 2)]), opt(OPT_RAPID_COMMIT, &[])];
        assert_eq!(c.on_message(t(1), &answer(&c, REPLY, &o)), None);
        assert_eq!(c.state(), State::Soliciting);
        assert!(matches!(c.on_message(t(1), &answer(&c, REPLY, &opts)), Some(Event::Bound(_))));
    }

    #[test]
    fn retransmissions_double_within_bounds_then_give_up() {
        for seed in 0..20 {
            let mut c = Client::new(MAC, Mode::Stateful, t(0), seed);
            let mut now = t(0);
            let mut gaps = SVec::new();
            let mut count = 0;
            while let Some(at) = c.poll_at() {
                let mut out = [0u8; MSG_MAX];
                if c.poll(at, &mut out).is_some() {
                    count += 1;
                    if count > 1 {
                        gaps.push((at - now).total_millis());
                    }
                    now = at;
                }
                assert!(count <= SOLICIT_MAX_RC as usize);
            }
            assert_eq!(c.state(), State::GaveUp);
            assert_eq!(count, SOLICIT_MAX_RC as usize);
            // §15: each RT is 1.9 to 2.1 times the one before, or 0.9 to 1.1 times the cap.
            let mut prev = gaps[0];
            for &g in &gaps[1..] {
                let doubled = g >= prev * 19 / 10 && g <= prev * 21 / 10 && g <= MAX_RT_MS;
                let capped = (3600..=4400).contains(&g);
                assert!(doubled || capped, "gap {g} after {prev}, seed {seed}");
                prev = g;
            }
            assert!(gaps.iter().all(|&g| g <= 4400));
            assert!(gaps[0] > 1000, "the first Solicit's RT is strictly above IRT");
        }
    }

    #[test]
    fn requests_are_bounded_then_discovery_restarts_once() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 5);
        let mut requests = 0;
        let mut solicits = 0;
        let mut now = t(0);
        while let Some(at) = c.poll_at() {
            now = at;
            let mut out = [0u8; MSG_MAX];
            let Some(_) = c.poll(now, &mut out) else { continue };
            match out[0] {
                SOLICIT => {
                    solicits += 1;
                    let adv =
                        answer(&c, ADVERTISE, &[ia_na(c.iaid(), &[iaaddr(ADDR, 1, 2)]), opt(OPT_PREFERENCE, &[255])]);
                    c.on_message(now, &adv);
                }
                REQUEST => requests += 1,
                k => panic!("sent {k}"),
            }
        }
        assert_eq!((solicits, requests), (2, 2 * REQ_MAX_RC as usize));
        assert_eq!(c.state(), State::GaveUp);
        assert!(now.total_millis() < 120_000);
    }

    #[test]
    fn information_request_flow() {
        let mut c = Client::new(MAC, Mode::Stateless, t(0), 9);
        assert_eq!(c.state(), State::InformationRequesting);
        let m = send(&mut c, t(0));
        assert_eq!(m[0], INFORMATION_REQUEST);
        let codes: SVec<u16> = sent_opts(&m).iter().map(|o| o.0).collect();
        assert_eq!(codes, [OPT_CLIENTID, OPT_ELAPSED_TIME, OPT_ORO], "no IA in stateless mode");
        let gap = c.poll_at().unwrap().total_millis();
        assert!((900..=1100).contains(&gap));
        let reply = answer(&c, REPLY, &[opt(OPT_DNS_SERVERS, &[DNS1, [0xff; 16], DNS1].concat())]);
        let Some(Event::Bound(l)) = c.on_message(t(30), &reply) else { panic!("no reply") };
        assert_eq!(l.address, None);
        assert_eq!(l.dns.as_slice(), &[DNS1], "multicast and repeats skipped");
        assert!(l.search.is_empty());
    }

    #[test]
    fn no_addrs_avail_is_reported_and_soliciting_goes_on() {
        let mut c = Client::new(MAC, Mode::Stateful, t(0), 2);
        send(&mut c, t(0));
        let status = opt(OPT_STATUS_CODE, &[0, 2, b'n', b'o']);
        // In the IA of an Advertise, at the message level, and in a rapid-commit Reply.
        let adv = answer(&c, ADVERTISE, &[ia_na(c.iaid(), core::slice::from_ref(&status))]);
        assert_eq!(c.on_message(t(10), &adv), Some(Event::NoAddrsAvail));
        assert_eq!(
            c.on_message(t(10), &answer(&c, ADVERTISE, core::slice::from_ref(&status))),
            Some(Event::NoAddrsAvail)
        );
        let rep = answer(&c, REPLY, &[ia_na(c.iaid(), &[status]), opt(OPT_RAPID_COMMIT, &[])]);
        assert_eq!(c.on_message(t(10), &rep), Some(Event::NoAddrsAvail));
        assert_eq!(c.state(), State::Soliciting);
        let at = c.poll_at().unwrap();
        assert_eq!(send(&mut c, at)[0], SOLICIT);
    }

    #[test]
    fn search_list_is_cut_at_a_whole_name() {
        let mut long = SVec::new();
        for _ in 0..30 {
            long.extend_from_slice(b"\x07example\x03com\x00");
        }
        let s = search(&opt(OPT_DOMAIN_LIST, &long));
        assert_eq!(s.len(), 13 * 19);
        assert_eq!(search(&opt(OPT_DOMAIN_LIST, b"\x03lan\x00\x05bro")).as_slice(), b"\x03lan\x00");
    }

    #[test]
    fn struct_sizes() {
        std::println!("Client {} B, Lease6 {} B", core::mem::size_of::<Client>(), core::mem::size_of::<Lease6>());
        assert!(core::mem::size_of::<Client>() < 512);
    }
}
