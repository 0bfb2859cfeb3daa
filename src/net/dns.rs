//! A DNS stub resolver, sans-IO: `--url http://metadata/…` on a network whose only way to the
//! metadata service is a name (IPv6-only clouds publish no literal address to use).
//!
//! [`Resolver`] takes a name, the name servers and the search list (from DHCPv4 options 6, 15
//! and 119, router advertisements' RDNSS/DNSSL or DHCPv6 options 23/24, or the kernel command
//! line), and returns [`Action`]s: a query to send over UDP (or TCP after a truncated answer), a
//! time to wait until, or the addresses. The caller owns the sockets and the clock.
//!
//! What it does, and why:
//! - **Search list like glibc with `ndots:1`** (resolv.conf(5)): a name ending in a dot is tried
//!   as is only; a name with a dot is tried as is, then with each search domain appended; a name
//!   without one (`metadata`) with each search domain first, then as is. A candidate whose
//!   answers are NXDOMAIN, or no address of any wanted type (NODATA), moves on to the next.
//! - **A and AAAA in parallel**, each with its own id, as glibc does. RFC 8305 §3 (Resolution
//!   Delay): a positive AAAA answer ends the resolution at once; a positive A answer first
//!   waits up to 50 ms for the AAAA one.
//! - **Retries**: each query goes to server 0 first; a timeout (400 ms, doubling up to 2 s), a
//!   SERVFAIL, REFUSED or other failure moves it to the next server, at most 3 transmissions
//!   per server. A fresh random id for every transmission (RFC 5452 §9.2) and a response that
//!   does not match it, the question, the server or the QR bit exactly is ignored, so a guess
//!   by an off-path attacker cannot end a query. Everything ends by the deadline.
//! - **The final error is the most telling one** over all candidates, in glibc's order: a name
//!   that exists without an address ([`DnsError::NoAddress`]) beats a server failure, which
//!   beats NXDOMAIN (the failing server may have known the name). No answer from any server for
//!   a candidate ends the resolution with [`DnsError::Timeout`] at once: the other candidates
//!   would go to the same silent servers.
//!
//! Untrusted input everywhere: no recursion, no indexing that can fail, every loop bounded
//! (names by their 255 wire bytes and [`HOPS_MAX`] compression pointers, CNAME chains by
//! [`CNAME_MAX`], records by the message length). The module never logs.

use core::fmt;

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpAddress;

use crate::rand::Rng;

/// Longest name in text form without the trailing dot: 255 wire bytes less the first length
/// byte and the root label (RFC 1035 §2.3.4, §3.1).
pub const NAME_MAX: usize = 253;
/// A name in text form, lower-cased or as given, without the trailing dot.
pub type Name = heapless::Vec<u8, NAME_MAX>;
/// Search domains kept: glibc's historic MAXDNSRCH; later ones are ignored.
pub const SEARCH_MAX: usize = 6;
pub type SearchList = heapless::Vec<Name, SEARCH_MAX>;
/// Name servers used: glibc's MAXNS; later ones are ignored.
pub const SERVERS_MAX: usize = 3;
/// Addresses kept per family; more are dropped (flint connects to the first that answers).
pub const ADDRS_MAX: usize = 4;
/// Longest name in wire form (RFC 1035 §2.3.4).
pub const WIRE_MAX: usize = 255;
/// Bytes `out` must have for [`Resolver::poll`]: the TCP length, the 12-byte header, the
/// longest name, type and class (RFC 1035 §4.1.1, §4.1.2, §4.2.2).
pub const QUERY_MAX: usize = 2 + 12 + WIRE_MAX + 4;
/// Compression pointers followed in one name (RFC 1035 §4.1.4). Each must point before the
/// part of the name read so far, which alone ends every loop; this bounds the work too.
pub const HOPS_MAX: usize = 32;
/// CNAME links followed from the question name within one response (RFC 2181 §10.1 allows
/// chains; glibc follows about this many before it calls the data broken).
pub const CNAME_MAX: usize = 8;

/// Transmissions of one query to one server.
const TRIES_PER_SERVER: u8 = 3;
const FIRST_TIMEOUT_MS: u64 = 400;
const MAX_TIMEOUT_MS: u64 = 2000;
/// RFC 8305 §3: how long a positive A answer waits for the AAAA one.
const RESOLUTION_DELAY_MS: u64 = 50;
/// How long a DNS-over-TCP exchange may take before it counts as a server failure, in case
/// the caller's own TCP timeout is longer.
const TCP_TIMEOUT_MS: u64 = 2000;

const TYPE_A: u16 = 1;
const TYPE_CNAME: u16 = 5;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
const RCODE_NXDOMAIN: u16 = 3;

/// Why a name did not resolve, or why search data was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DnsError {
    /// The name (or a search domain given as text) is not a valid host name.
    BadName,
    NoServers,
    /// NXDOMAIN for every candidate name.
    NoSuchName,
    /// A candidate name exists but has no address of a wanted type (NODATA).
    NoAddress,
    /// SERVFAIL, REFUSED, a broken answer over TCP… from every server.
    ServerFailure,
    /// Search-list option data that is not a list of names.
    Malformed,
    /// No answer from any server, or the deadline passed.
    Timeout,
}

impl fmt::Display for DnsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DnsError::BadName => "invalid host name",
            DnsError::NoServers => "no name servers",
            DnsError::NoSuchName => "no such name (NXDOMAIN)",
            DnsError::NoAddress => "name has no address",
            DnsError::ServerFailure => "name server failure",
            DnsError::Malformed => "malformed name list",
            DnsError::Timeout => "no answer from name servers",
        })
    }
}

/// Which families to ask for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Want {
    pub v4: bool,
    pub v6: bool,
}

/// What a resolution found.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Addresses {
    /// The name that answered: after the search list, before CNAMEs.
    pub name: Name,
    pub v6: heapless::Vec<[u8; 16], ADDRS_MAX>,
    pub v4: heapless::Vec<[u8; 4], ADDRS_MAX>,
}

/// What the caller does next; see [`Resolver::poll`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// Send `out[..len]` as one UDP datagram to `server`:53.
    Udp { server: IpAddress, len: usize },
    /// Open TCP to `server`:53 and send `out[..len]`, already prefixed with the 2-byte length
    /// (RFC 1035 §4.2.2): a UDP answer came back truncated (TC).
    Tcp { server: IpAddress, len: usize },
    /// Nothing to send before this instant (or before a datagram arrives).
    Wait(Instant),
    Done(Result<Addresses, DnsError>),
}

// ---------------------------------------------------------------------------------------------
// Names

/// A name in wire form (RFC 1035 §3.1): length-prefixed labels ending with the root label.
#[derive(Clone, Copy)]
struct Wire {
    buf: [u8; WIRE_MAX],
    len: u8,
}

impl Wire {
    fn new() -> Wire {
        Wire { buf: [0; WIRE_MAX], len: 0 }
    }

    fn as_bytes(&self) -> &[u8] {
        self.buf.get(..self.len as usize).unwrap_or(&[])
    }

    fn push(&mut self, bytes: &[u8]) -> Option<()> {
        let start = self.len as usize;
        let end = start + bytes.len();
        self.buf.get_mut(start..end)?.copy_from_slice(bytes);
        self.len = end as u8;
        Some(())
    }

    /// Appends the labels of `text` (valid, without a trailing dot).
    fn push_text(&mut self, text: &[u8]) -> Option<()> {
        for label in text.split(|&b| b == b'.') {
            self.push(&[label.len() as u8])?;
            self.push(label)?;
        }
        Some(())
    }

    fn eq_name(&self, other: &Wire) -> bool {
        // Length bytes are below 64, so ASCII case folding never touches them.
        self.as_bytes().eq_ignore_ascii_case(other.as_bytes())
    }
}

impl fmt::Debug for Wire {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Wire({:?})", self.as_bytes())
    }
}

fn label_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'-' || b == b'_'
}

/// A host name in text form without the trailing dot: labels of 1–63 letters, digits, hyphens
/// and underscores (RFC 1123 §2.1, plus `_` as resolvers accept it), 253 bytes at most.
fn valid_text(text: &[u8]) -> bool {
    !text.is_empty()
        && text.len() <= NAME_MAX
        && text.split(|&b| b == b'.').all(|l| (1..=63).contains(&l.len()) && l.iter().all(|&b| label_byte(b)))
}

/// Reads the possibly compressed name at `pos` of `msg` into `out` (RFC 1035 §4.1.4) and
/// returns where the name ends in `msg` (after its first pointer, if any).
///
/// A pointer must point before the part of the name read so far: a compressor only points at
/// names it already wrote, and this rule alone makes every loop impossible. The result is at
/// most 255 bytes with labels of at most 63 (the two high bits 01 and 10 are refused).
fn read_name(msg: &[u8], start: usize, out: &mut Wire) -> Option<usize> {
    out.len = 0;
    let (mut pos, mut floor, mut end) = (start, start, None);
    for _ in 0..HOPS_MAX + 128 {
        let b = *msg.get(pos)?;
        match b & 0xc0 {
            0x00 => {
                let label = msg.get(pos..pos + 1 + b as usize)?;
                out.push(label)?;
                pos += label.len();
                if b == 0 {
                    return Some(end.unwrap_or(pos));
                }
            }
            0xc0 => {
                let target = ((b as usize & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
                if target >= floor {
                    return None;
                }
                end.get_or_insert(pos + 2);
                (pos, floor) = (target, target);
            }
            _ => return None,
        }
    }
    // 128 labels of one byte fill 255 bytes; the pointers are bounded by HOPS_MAX.
    None
}

/// The text form of a wire name, validated like [`valid_text`]; `None` for the root.
fn wire_to_text(wire: &Wire) -> Option<Name> {
    let mut text = Name::new();
    let mut rest = wire.as_bytes();
    while let Some((&len, tail)) = rest.split_first() {
        if len == 0 {
            break;
        }
        let label = tail.get(..len as usize)?;
        if !text.is_empty() {
            text.push(b'.').ok()?;
        }
        text.extend_from_slice(label).ok()?;
        rest = tail.get(len as usize..)?;
    }
    valid_text(&text).then_some(text)
}

fn push_unique(out: &mut SearchList, name: Name) {
    if !out.iter().any(|n| n.eq_ignore_ascii_case(&name)) {
        // Full: dropped, as glibc ignores domains past MAXDNSRCH.
        let _ = out.push(name);
    }
}

/// Appends the domains of an on-the-wire list of names: DHCPv4 option 119 (RFC 3397 §2: the
/// concatenated option data, compression pointers relative to its start), RFC 8106 §5.2 DNSSL
/// option data (uncompressed, zero padding after the last name) and DHCPv6 option 24 (RFC 3646
/// §4, uncompressed). Root names (the padding) are skipped, duplicates too (case-insensitive);
/// stops silently when `out` is full. Malformed data, or a name that is not a host name, is
/// [`DnsError::Malformed`] with what came before it kept.
pub fn search_from_wire(data: &[u8], out: &mut SearchList) -> Result<(), DnsError> {
    let mut pos = 0;
    let mut wire = Wire::new();
    // Every name takes at least one byte.
    for _ in 0..data.len() {
        if pos >= data.len() || out.is_full() {
            break;
        }
        pos = read_name(data, pos, &mut wire).ok_or(DnsError::Malformed)?;
        if wire.len > 1 {
            push_unique(out, wire_to_text(&wire).ok_or(DnsError::Malformed)?);
        }
    }
    Ok(())
}

/// Appends one domain given as text (DHCPv4 option 15, resolv.conf's `search`, the kernel
/// command line), validated like a host name; a trailing dot is allowed and dropped. A
/// duplicate (case-insensitive) or a domain past a full list is ignored.
pub fn push_search(out: &mut SearchList, text: &[u8]) -> Result<(), DnsError> {
    let text = text.strip_suffix(b".").unwrap_or(text);
    if !valid_text(text) {
        return Err(DnsError::BadName);
    }
    push_unique(out, Name::from_slice(text).map_err(|_| DnsError::BadName)?);
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Messages

fn be16(msg: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*msg.get(at)?, *msg.get(at + 1)?]))
}

/// Writes a query (RFC 1035 §4.1.1, §4.1.2: one question, RD set) into `out`, after the TCP
/// length when `tcp`; returns the bytes written.
fn write_query(out: &mut [u8], id: u16, qname: &Wire, qtype: u16, tcp: bool) -> Option<usize> {
    let msg_len = 12 + qname.len as usize + 4;
    let off = if tcp { 2 } else { 0 };
    let buf = out.get_mut(..off + msg_len)?;
    let (len, msg) = buf.split_at_mut(off);
    len.copy_from_slice(&(msg_len as u16).to_be_bytes()[..off]);
    let (header, rest) = msg.split_at_mut(12);
    let id = id.to_be_bytes();
    header.copy_from_slice(&[id[0], id[1], 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]);
    let (name, tail) = rest.split_at_mut(qname.len as usize);
    name.copy_from_slice(qname.as_bytes());
    let (t, c) = (qtype.to_be_bytes(), CLASS_IN.to_be_bytes());
    tail.copy_from_slice(&[t[0], t[1], c[0], c[1]]);
    Some(off + msg_len)
}

type Found = heapless::Vec<[u8; 16], ADDRS_MAX>;

/// What a response to one query says.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Reply {
    /// TC over UDP: ask again over TCP (RFC 1035 §4.2.1).
    Truncated,
    NxDomain,
    /// SERVFAIL, REFUSED, NOTIMP, FORMERR or another failure, or a CNAME chain longer than
    /// [`CNAME_MAX`] (a loop): the server's data is unusable.
    Failure,
    /// NOERROR without an address of the type asked for (NODATA).
    NoData,
    /// Addresses (the first 4 or 16 bytes of each), in answer order, without repeats.
    Found(Found),
}

/// One resource record's fixed fields (RFC 1035 §4.1.3).
struct Record {
    rtype: u16,
    class: u16,
    rdata: usize,
    rdlen: usize,
}

/// The record at `pos`, and where the next one starts.
fn record(msg: &[u8], pos: usize, scratch: &mut Wire) -> Option<(Record, usize)> {
    let fixed = read_name(msg, pos, scratch)?;
    let rdlen = be16(msg, fixed + 8)? as usize;
    let rdata = fixed + 10;
    msg.get(rdata..rdata + rdlen)?;
    let r = Record { rtype: be16(msg, fixed)?, class: be16(msg, fixed + 2)?, rdata, rdlen };
    Some((r, rdata + rdlen))
}

/// Reads a response to the query `id` for `qname`/`qtype` (RFC 1035 §4.1). `None` when it is
/// not one (wrong id, QR clear, another opcode, another question) or is malformed: the caller
/// ignores it on UDP. Over TCP the TC bit is ignored (the connection gave the whole message).
fn parse(msg: &[u8], id: u16, qname: &Wire, qtype: u16, tcp: bool) -> Option<Reply> {
    let flags = be16(msg, 2)?;
    if be16(msg, 0)? != id || flags & 0x8000 == 0 || (flags >> 11) & 0xf != 0 || be16(msg, 4)? != 1 {
        return None;
    }
    let ancount = be16(msg, 6)?;
    let mut name = Wire::new();
    let q = read_name(msg, 12, &mut name)?;
    if !name.eq_name(qname) || be16(msg, q)? != qtype || be16(msg, q + 2)? != CLASS_IN {
        return None;
    }
    let answers = q + 4;
    if flags & 0x0200 != 0 && !tcp {
        return Some(Reply::Truncated);
    }
    match flags & 0xf {
        0 => {}
        RCODE_NXDOMAIN => return Some(Reply::NxDomain),
        _ => return Some(Reply::Failure),
    }
    // The whole answer section must be well formed, even the records not read below.
    let mut scratch = Wire::new();
    let mut pos = answers;
    for _ in 0..ancount {
        pos = record(msg, pos, &mut scratch)?.1;
    }
    // RFC 2181 §10.1: follow CNAMEs from the question name; the addresses are the final
    // name's. `name` is the question name as the server wrote it.
    let mut target = Wire::new();
    let mut links = 0;
    loop {
        let mut next = None;
        let mut pos = answers;
        for _ in 0..ancount {
            let (r, after) = record(msg, pos, &mut scratch)?;
            pos = after;
            if r.rtype == TYPE_CNAME && r.class == CLASS_IN && scratch.eq_name(&name) {
                if read_name(msg, r.rdata, &mut target)? != r.rdata + r.rdlen {
                    return None;
                }
                next = Some(target);
                break;
            }
        }
        let Some(next) = next else { break };
        if links == CNAME_MAX {
            return Some(Reply::Failure);
        }
        links += 1;
        name = next;
    }
    let want_len = if qtype == TYPE_A { 4 } else { 16 };
    let mut found = Found::new();
    let mut pos = answers;
    for _ in 0..ancount {
        let (r, after) = record(msg, pos, &mut scratch)?;
        pos = after;
        if r.rtype != qtype || r.class != CLASS_IN || !scratch.eq_name(&name) {
            continue;
        }
        // RFC 1035 §3.4.1, RFC 3596 §2.2.
        let data = msg.get(r.rdata..r.rdata + r.rdlen).filter(|d| d.len() == want_len)?;
        let mut addr = [0u8; 16];
        addr.get_mut(..want_len)?.copy_from_slice(data);
        if !found.contains(&addr) {
            let _ = found.push(addr);
        }
    }
    Some(if found.is_empty() { Reply::NoData } else { Reply::Found(found) })
}

// ---------------------------------------------------------------------------------------------
// The resolver

/// How one query ended for the current candidate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Outcome {
    Found,
    NoData,
    NxDomain,
    /// Every transmission failed, and at least one server answered with a failure.
    Failure,
    /// Every transmission went unanswered.
    Timeout,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// The family is not wanted.
    Off,
    /// To send over UDP at the next poll.
    Due,
    /// Sent over UDP; unanswered at `at` is a timeout.
    Udp { at: Instant },
    /// Answered truncated: to send over TCP to the same server once no other query uses TCP.
    TcpDue,
    /// Sent over TCP; the exchange fails at `at`.
    Tcp { at: Instant },
    Ended(Outcome),
}

/// The A or the AAAA query for the current candidate.
#[derive(Clone, Copy, Debug)]
struct Query {
    qtype: u16,
    state: State,
    /// The id of the last transmission.
    id: u16,
    /// Transmissions so far; the next goes to server `sent % servers`.
    sent: u8,
    /// The server of the last transmission.
    server: u8,
    /// A server answered with a failure (rather than not at all).
    failed: bool,
}

impl Query {
    fn new(qtype: u16, wanted: bool) -> Query {
        Query { qtype, state: if wanted { State::Due } else { State::Off }, id: 0, sent: 0, server: 0, failed: false }
    }

    /// The last transmission failed: the next goes to the next server, unless every server
    /// had its [`TRIES_PER_SERVER`].
    fn retry(&mut self, servers: usize, answered: bool) {
        self.failed |= answered;
        self.state = if self.sent as usize >= TRIES_PER_SERVER as usize * servers {
            State::Ended(if self.failed { Outcome::Failure } else { Outcome::Timeout })
        } else {
            State::Due
        };
    }

    /// `None` while the query is still going on; a family not wanted counts as no data.
    fn outcome(&self) -> Option<Outcome> {
        match self.state {
            State::Off => Some(Outcome::NoData),
            State::Ended(o) => Some(o),
            _ => None,
        }
    }
}

/// One name being resolved; see the module docs. Holds no references, so it can live in a
/// static; it copies the search list.
#[derive(Clone, Debug)]
pub struct Resolver {
    name: Name,
    absolute: bool,
    search: SearchList,
    servers: heapless::Vec<IpAddress, SERVERS_MAX>,
    /// The candidate being tried: an index into the order described in the module docs.
    candidate: u8,
    /// Its wire form (the text form is `found.name`).
    qname: Wire,
    /// The A query, then the AAAA one.
    queries: [Query; 2],
    rng: Rng,
    deadline: Instant,
    /// A positive A answer waits for the AAAA one until then (RFC 8305 §3).
    delay: Option<Instant>,
    /// The most telling error of the candidates tried.
    worst: Option<DnsError>,
    found: Addresses,
    done: Option<Result<(), DnsError>>,
}

impl Resolver {
    /// Starts resolving `name` (text; an absolute name may end with a dot) against `servers`
    /// (the first [`SERVERS_MAX`], IPv4 or IPv6) with `search`, finishing by `deadline`. `seed`
    /// feeds the query ids (RFC 5452 §9.2: unpredictable ids). Errors at once for an invalid
    /// name, no family wanted ([`DnsError::BadName`]) or no servers.
    pub fn new(
        name: &[u8],
        servers: &[IpAddress],
        search: &SearchList,
        want: Want,
        now: Instant,
        deadline: Instant,
        seed: u64,
    ) -> Result<Resolver, DnsError> {
        let (name, absolute) = match name.strip_suffix(b".") {
            Some(n) => (n, true),
            None => (name, false),
        };
        if !valid_text(name) || !(want.v4 || want.v6) {
            return Err(DnsError::BadName);
        }
        if servers.is_empty() {
            return Err(DnsError::NoServers);
        }
        let mut r = Resolver {
            name: Name::from_slice(name).map_err(|_| DnsError::BadName)?,
            absolute,
            search: search.clone(),
            servers: servers.iter().take(SERVERS_MAX).copied().collect(),
            candidate: 0,
            qname: Wire::new(),
            queries: [Query::new(TYPE_A, want.v4), Query::new(TYPE_AAAA, want.v6)],
            rng: Rng::new(seed),
            deadline,
            delay: None,
            worst: None,
            found: Addresses::default(),
            done: None,
        };
        // The name itself is a valid candidate in every order, so one is found.
        if !r.start_candidate(0) {
            return Err(DnsError::BadName);
        }
        if now >= deadline {
            r.done = Some(Err(DnsError::Timeout));
        }
        Ok(r)
    }

    /// What to do now. Call it after every event and until it returns [`Action::Wait`] or
    /// [`Action::Done`]: each call sends at most one query, written into `out` (at least
    /// [`QUERY_MAX`] bytes; a query that does not fit is lost and retried). `Wait` is always
    /// after `now`; `Done` is returned again on every later call.
    pub fn poll(&mut self, now: Instant, out: &mut [u8]) -> Action {
        if self.done.is_none() {
            self.step(now);
        }
        if let Some(result) = self.done {
            return Action::Done(result.map(|()| self.found.clone()));
        }
        let servers = self.servers.len();
        let tcp_busy = self.queries.iter().any(|q| matches!(q.state, State::Tcp { .. }));
        for q in self.queries.iter_mut() {
            let tcp = match q.state {
                State::Due => false,
                State::TcpDue if !tcp_busy => true,
                _ => continue,
            };
            q.id = self.rng.next_u64() as u16;
            let (server, len) = if tcp {
                q.state = State::Tcp { at: now + Duration::from_millis(TCP_TIMEOUT_MS) };
                (q.server, write_query(out, q.id, &self.qname, q.qtype, true))
            } else {
                let wait = (FIRST_TIMEOUT_MS << q.sent.min(8)).min(MAX_TIMEOUT_MS);
                q.server = (q.sent as usize % servers) as u8;
                q.sent += 1;
                q.state = State::Udp { at: now + Duration::from_millis(wait) };
                (q.server, write_query(out, q.id, &self.qname, q.qtype, false))
            };
            let (Some(len), Some(&server)) = (len, self.servers.get(server as usize)) else { continue };
            return if tcp { Action::Tcp { server, len } } else { Action::Udp { server, len } };
        }
        let mut at = self.deadline;
        for q in &self.queries {
            if let State::Udp { at: t } | State::Tcp { at: t } = q.state {
                at = at.min(t);
            }
        }
        Action::Wait(self.delay.map_or(at, |d| d.min(at)))
    }

    /// A UDP datagram from `from`. Ignored unless it answers an outstanding UDP query: sent to
    /// `from`, with its id, QR set, opcode QUERY and the question echoed (RFC 5452 §9.1).
    pub fn on_udp(&mut self, now: Instant, from: IpAddress, msg: &[u8]) {
        if self.done.is_some() {
            return;
        }
        for i in 0..self.queries.len() {
            let q = self.queries[i];
            if !matches!(q.state, State::Udp { .. }) || self.servers.get(q.server as usize) != Some(&from) {
                continue;
            }
            if let Some(reply) = parse(msg, q.id, &self.qname, q.qtype, false) {
                self.apply(i, reply);
                break;
            }
        }
        self.step(now);
    }

    /// A whole DNS-over-TCP response (without the 2-byte length) to the query sent with
    /// [`Action::Tcp`]. Over a connection a response that does not match is a broken server,
    /// not a spoofing attempt: it counts as a failure of that server.
    pub fn on_tcp(&mut self, now: Instant, msg: &[u8]) {
        if self.done.is_some() {
            return;
        }
        if let Some(i) = self.queries.iter().position(|q| matches!(q.state, State::Tcp { .. })) {
            let q = self.queries[i];
            match parse(msg, q.id, &self.qname, q.qtype, true) {
                Some(reply) => self.apply(i, reply),
                None => self.queries[i].retry(self.servers.len(), true),
            }
        }
        self.step(now);
    }

    /// The TCP exchange failed (refused, reset, timed out): a failure of that server.
    pub fn on_tcp_failed(&mut self, now: Instant) {
        if self.done.is_some() {
            return;
        }
        let servers = self.servers.len();
        if let Some(q) = self.queries.iter_mut().find(|q| matches!(q.state, State::Tcp { .. })) {
            q.retry(servers, true);
        }
        self.step(now);
    }

    fn apply(&mut self, i: usize, reply: Reply) {
        let servers = self.servers.len();
        let Some(q) = self.queries.get_mut(i) else { return };
        match reply {
            Reply::Truncated => q.state = State::TcpDue,
            Reply::NxDomain => q.state = State::Ended(Outcome::NxDomain),
            Reply::NoData => q.state = State::Ended(Outcome::NoData),
            Reply::Failure => q.retry(servers, true),
            Reply::Found(addrs) => {
                q.state = State::Ended(Outcome::Found);
                for a in addrs {
                    let _ = match q.qtype {
                        TYPE_A => self.found.v4.push([a[0], a[1], a[2], a[3]]).is_ok(),
                        _ => self.found.v6.push(a).is_ok(),
                    };
                }
            }
        }
    }

    /// Advances timers and moves through the candidates: everything but sending.
    fn step(&mut self, now: Instant) {
        let servers = self.servers.len();
        for q in self.queries.iter_mut() {
            match q.state {
                State::Udp { at } if now >= at => q.retry(servers, false),
                State::Tcp { at } if now >= at => q.retry(servers, true),
                _ => {}
            }
        }
        // Bounded: each pass either returns or moves to a later candidate.
        for _ in 0..=SEARCH_MAX + 1 {
            let [a, aaaa] = [self.queries[0].outcome(), self.queries[1].outcome()];
            if aaaa == Some(Outcome::Found) || (a == Some(Outcome::Found) && aaaa.is_some()) {
                self.done = Some(Ok(()));
                return;
            }
            if a == Some(Outcome::Found) {
                let delay = *self.delay.get_or_insert(now + Duration::from_millis(RESOLUTION_DELAY_MS));
                if now >= delay || now >= self.deadline {
                    self.done = Some(Ok(()));
                }
                return;
            }
            if now >= self.deadline {
                self.done = Some(Err(DnsError::Timeout));
                return;
            }
            let (Some(a), Some(aaaa)) = (a, aaaa) else { return };
            let either = |o| a == o || aaaa == o;
            let error = if either(Outcome::NxDomain) {
                DnsError::NoSuchName
            } else if either(Outcome::Timeout) {
                self.done = Some(Err(DnsError::Timeout));
                return;
            } else if either(Outcome::Failure) {
                DnsError::ServerFailure
            } else {
                DnsError::NoAddress
            };
            let rank = |e: Option<DnsError>| match e {
                Some(DnsError::NoAddress) => 3,
                Some(DnsError::ServerFailure) => 2,
                Some(_) => 1,
                None => 0,
            };
            if rank(Some(error)) > rank(self.worst) {
                self.worst = Some(error);
            }
            if !self.next_candidate() {
                self.done = Some(Err(self.worst.unwrap_or(error)));
                return;
            }
        }
    }

    /// Which name candidate `i` is: `None` for the name as given, `Some(d)` for it with search
    /// domain `d` appended; past the end, `Err`.
    fn order(&self, i: usize) -> Result<Option<usize>, ()> {
        let n = self.search.len();
        match (self.absolute, self.name.contains(&b'.')) {
            (true, _) if i == 0 => Ok(None),
            (true, _) => Err(()),
            (false, true) if i == 0 => Ok(None),
            (false, true) if i <= n => Ok(Some(i - 1)),
            (false, false) if i < n => Ok(Some(i)),
            (false, false) if i == n => Ok(None),
            _ => Err(()),
        }
    }

    /// Makes candidate `i` current if its name is valid and fits; fresh queries for it.
    fn start_candidate(&mut self, i: usize) -> bool {
        let Ok(domain) = self.order(i) else { return false };
        let mut text = self.name.clone();
        if let Some(d) = domain {
            let Some(d) = self.search.get(d) else { return false };
            if text.push(b'.').is_err() || text.extend_from_slice(d).is_err() || !valid_text(&text) {
                return false;
            }
        }
        let mut qname = Wire::new();
        if qname.push_text(&text).and_then(|()| qname.push(&[0])).is_none() {
            return false;
        }
        (self.candidate, self.qname) = (i as u8, qname);
        let [a, aaaa] = &mut self.queries;
        *a = Query::new(TYPE_A, a.state != State::Off);
        *aaaa = Query::new(TYPE_AAAA, aaaa.state != State::Off);
        self.delay = None;
        self.found = Addresses { name: text, ..Addresses::default() };
        true
    }

    /// Moves to the next candidate that fits; `false` when none is left.
    fn next_candidate(&mut self) -> bool {
        let mut i = self.candidate as usize + 1;
        while self.order(i).is_ok() {
            if self.start_candidate(i) {
                return true;
            }
            i += 1;
        }
        false
    }
}
