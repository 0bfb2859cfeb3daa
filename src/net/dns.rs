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
// `Done` carries the addresses by value (~370 bytes): without alloc there is no box to put
// them in, and an `Action` lives on the stack only for the moment the caller matches it.
#[allow(clippy::large_enum_variant)]
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action<'r> {
    /// Send `out[..len]` as one UDP datagram to `server`:53.
    Udp { server: IpAddress, len: usize },
    /// Open TCP to `server`:53 and send `out[..len]`, already prefixed with the 2-byte length
    /// (RFC 1035 §4.2.2): a UDP answer came back truncated (TC).
    Tcp { server: IpAddress, len: usize },
    /// Nothing to send before this instant (or before a datagram arrives).
    Wait(Instant),
    /// The addresses found (borrowed from the resolver: copying them out cost code size), or
    /// why there are none.
    Done(Result<&'r Addresses, DnsError>),
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

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
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
/// A pointer must point before the part of the name read so far, and what it points at must
/// end before that part too: a compressor only points at names it wrote earlier, whole. The
/// first rule alone makes every loop impossible; the second refuses labels that overlap the
/// name pointing at them (as hickory-proto does; the `dns` fuzz target found the difference).
/// The result is at most 255 bytes with labels of at most 63 (the two high bits 01 and 10 are
/// refused).
fn read_name(msg: &[u8], start: usize, out: &mut Wire) -> Option<usize> {
    out.len = 0;
    // `floor`: where the part being read starts; `limit`: where the part that pointed at it
    // started, which this one must end before.
    let (mut pos, mut floor, mut limit, mut end) = (start, start, usize::MAX, None);
    for _ in 0..HOPS_MAX + 128 {
        let b = *msg.get(pos)?;
        match b & 0xc0 {
            0x00 => {
                let label = msg.get(pos..pos + 1 + b as usize).filter(|l| pos + l.len() <= limit)?;
                out.push(label)?;
                pos += label.len();
                if b == 0 {
                    return Some(end.unwrap_or(pos));
                }
            }
            0xc0 => {
                let target = ((b as usize & 0x3f) << 8) | *msg.get(pos + 1)? as usize;
                if target >= floor || pos + 2 > limit {
                    return None;
                }
                end.get_or_insert(pos + 2);
                (pos, limit, floor) = (target, floor, target);
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
        // A dot inside a label has no text form.
        let label = tail.get(..len as usize).filter(|l| l.iter().all(|&b| label_byte(b)))?;
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
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
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
    Udp {
        at: Instant,
    },
    /// Answered truncated: to send over TCP to the same server once no other query uses TCP.
    TcpDue,
    /// Sent over TCP; the exchange fails at `at`.
    Tcp {
        at: Instant,
    },
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
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
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

    /// What the resolution found (complete once [`Action::Done`] said `Ok`).
    pub fn found(&self) -> &Addresses {
        &self.found
    }

    /// What to do now. Call it after every event and until it returns [`Action::Wait`] or
    /// [`Action::Done`]: each call sends at most one query, written into `out` (at least
    /// [`QUERY_MAX`] bytes; a query that does not fit is lost and retried). `Wait` is always
    /// after `now`; `Done` is returned again on every later call.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll(&mut self, now: Instant, out: &mut [u8]) -> Action<'_> {
        if self.done.is_none() {
            self.step(now);
        }
        if let Some(result) = self.done {
            return Action::Done(result.map(|()| &self.found));
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
    /// `from`, with its id, QR set, opcode QUERY and the question echoed (RFC 5452 §3).
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
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

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    /// [`super::Action`] with the addresses owned, so that a test can keep it while it polls on.
    #[derive(Clone, Debug, PartialEq, Eq)]
    #[allow(clippy::large_enum_variant)]
    enum Action {
        Udp { server: IpAddress, len: usize },
        Tcp { server: IpAddress, len: usize },
        Wait(Instant),
        Done(Result<Addresses, DnsError>),
    }

    impl From<super::Action<'_>> for Action {
        fn from(a: super::Action<'_>) -> Action {
            match a {
                super::Action::Udp { server, len } => Action::Udp { server, len },
                super::Action::Tcp { server, len } => Action::Tcp { server, len },
                super::Action::Wait(at) => Action::Wait(at),
                super::Action::Done(r) => Action::Done(r.cloned()),
            }
        }
    }

    const S1: IpAddress = IpAddress::v4(192, 0, 2, 53);
    const S2: IpAddress = IpAddress::v6(0x2001, 0xdb8, 0, 0, 0, 0, 0, 0x53);
    const V4: [u8; 4] = [192, 0, 2, 10];
    const V6: [u8; 16] = [0x20, 1, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
    const BOTH: Want = Want { v4: true, v6: true };
    /// A pointer to the question name, which starts right after the header.
    const QPTR: &[u8] = &[0xc0, 12];

    fn t(ms: i64) -> Instant {
        Instant::from_millis(ms)
    }

    fn wire(text: &str) -> Vec<u8> {
        let mut w = Vec::new();
        for l in text.split('.').filter(|l| !l.is_empty()) {
            w.push(l.len() as u8);
            w.extend_from_slice(l.as_bytes());
        }
        w.push(0);
        w
    }

    fn search(domains: &[&str]) -> SearchList {
        let mut s = SearchList::new();
        for d in domains {
            push_search(&mut s, d.as_bytes()).unwrap();
        }
        s
    }

    /// A query flint sent.
    #[derive(Clone, Debug)]
    struct Sent {
        server: IpAddress,
        tcp: bool,
        msg: Vec<u8>,
    }

    impl Sent {
        fn id(&self) -> u16 {
            u16::from_be_bytes([self.msg[0], self.msg[1]])
        }
        fn qtype(&self) -> u16 {
            let n = self.msg.len();
            u16::from_be_bytes([self.msg[n - 4], self.msg[n - 3]])
        }
        /// "name/A" or "name/AAAA".
        fn question(&self) -> String {
            let mut w = Wire::new();
            read_name(&self.msg, 12, &mut w).unwrap();
            let name = wire_to_text(&w).unwrap();
            let ty = if self.qtype() == TYPE_A { "A" } else { "AAAA" };
            std::format!("{}/{ty}", String::from_utf8(name.to_vec()).unwrap())
        }
        /// A response header and the question echoed, with `rcode`.
        fn reply(&self, rcode: u16) -> Resp {
            let mut m = self.msg.clone();
            m[2] = 0x81;
            m[3] = 0x80 | rcode as u8;
            Resp(m)
        }
        fn found(&self, v4: [u8; 4], v6: [u8; 16]) -> Vec<u8> {
            if self.qtype() == TYPE_A { self.reply(0).a(QPTR, v4).0 } else { self.reply(0).aaaa(QPTR, v6).0 }
        }
    }

    /// A response being built.
    struct Resp(Vec<u8>);

    impl Resp {
        fn rr(mut self, owner: &[u8], rtype: u16, rdata: &[u8]) -> Resp {
            let an = u16::from_be_bytes([self.0[6], self.0[7]]) + 1;
            self.0[6..8].copy_from_slice(&an.to_be_bytes());
            self.0.extend_from_slice(owner);
            self.0.extend_from_slice(&rtype.to_be_bytes());
            self.0.extend_from_slice(&[0, 1, 0, 0, 0x0e, 0x10]);
            self.0.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
            self.0.extend_from_slice(rdata);
            self
        }
        fn a(self, owner: &[u8], a: [u8; 4]) -> Resp {
            self.rr(owner, TYPE_A, &a)
        }
        fn aaaa(self, owner: &[u8], a: [u8; 16]) -> Resp {
            self.rr(owner, TYPE_AAAA, &a)
        }
        fn cname(self, owner: &[u8], target: &[u8]) -> Resp {
            self.rr(owner, TYPE_CNAME, target)
        }
        fn tc(mut self) -> Resp {
            self.0[2] |= 0x02;
            self
        }
        /// Where the next record's owner will start, for pointers to it.
        fn at(&self) -> u8 {
            self.0.len() as u8
        }
    }

    struct Run {
        r: Resolver,
        out: [u8; QUERY_MAX],
    }

    impl Run {
        fn new(name: &str, servers: &[IpAddress], search: &SearchList, want: Want) -> Run {
            let r = Resolver::new(name.as_bytes(), servers, search, want, t(0), t(30_000), 7).unwrap();
            Run { r, out: [0; QUERY_MAX] }
        }

        /// Polls until flint waits or is done: what it sent, then the last action.
        fn poll(&mut self, now: Instant) -> (Vec<Sent>, Action) {
            let mut sent = Vec::new();
            for _ in 0..10 {
                match Action::from(self.r.poll(now, &mut self.out)) {
                    Action::Udp { server, len } => {
                        sent.push(Sent { server, tcp: false, msg: self.out[..len].to_vec() })
                    }
                    Action::Tcp { server, len } => {
                        assert_eq!(u16::from_be_bytes([self.out[0], self.out[1]]) as usize, len - 2);
                        sent.push(Sent { server, tcp: true, msg: self.out[2..len].to_vec() })
                    }
                    Action::Wait(at) => {
                        assert!(at > now, "wait until {at} at {now}");
                        return (sent, Action::Wait(at));
                    }
                    done => {
                        assert_eq!(Action::from(self.r.poll(now, &mut self.out)), done, "Done is idempotent");
                        return (sent, done);
                    }
                }
            }
            panic!("poll never settles");
        }

        /// Answers every query with `reply` until done; the questions asked, in order.
        fn answer_all(&mut self, reply: impl Fn(&Sent) -> Vec<u8>) -> (Vec<String>, Action) {
            let mut asked = Vec::new();
            let mut now = t(0);
            for _ in 0..100 {
                let (sent, action) = self.poll(now);
                for s in &sent {
                    asked.push(s.question());
                    self.r.on_udp(now, s.server, &reply(s));
                }
                if let Action::Done(_) = action {
                    return (asked, action);
                }
                if sent.is_empty() {
                    let Action::Wait(at) = action else { unreachable!() };
                    now = at;
                }
                now += Duration::from_millis(1);
            }
            panic!("never done");
        }
    }

    fn nx(s: &Sent) -> Vec<u8> {
        s.reply(3).0
    }

    fn names(asked: &[String]) -> Vec<&str> {
        let mut v: Vec<&str> = asked.iter().map(|q| q.split('/').next().unwrap()).collect();
        v.dedup();
        v
    }

    #[test]
    fn a_bare_name_tries_the_search_domains_first() {
        let s = search(&["a.example", "b.example."]);
        let (asked, done) = Run::new("metadata", &[S1], &s, BOTH).answer_all(nx);
        assert_eq!(names(&asked), ["metadata.a.example", "metadata.b.example", "metadata"]);
        assert_eq!(asked[..2], ["metadata.a.example/A", "metadata.a.example/AAAA"]);
        assert_eq!(done, Action::Done(Err(DnsError::NoSuchName)));
    }

    #[test]
    fn a_dotted_name_is_tried_as_is_first_and_an_absolute_one_only() {
        let s = search(&["a.example", "b.example"]);
        let (asked, _) = Run::new("meta.internal", &[S1], &s, BOTH).answer_all(nx);
        assert_eq!(names(&asked), ["meta.internal", "meta.internal.a.example", "meta.internal.b.example"]);
        let (asked, done) = Run::new("metadata.", &[S1], &s, BOTH).answer_all(nx);
        assert_eq!(asked, ["metadata/A", "metadata/AAAA"]);
        assert_eq!(done, Action::Done(Err(DnsError::NoSuchName)));
    }

    #[test]
    fn the_first_candidate_with_an_address_answers() {
        let s = search(&["a.example", "b.example"]);
        let (asked, done) = Run::new("metadata", &[S1], &s, Want { v4: true, v6: false })
            .answer_all(|q| if q.question().starts_with("metadata.b.example") { q.found(V4, V6) } else { nx(q) });
        assert_eq!(asked, ["metadata.a.example/A", "metadata.b.example/A"]);
        let Action::Done(Ok(a)) = done else { panic!("{done:?}") };
        assert_eq!((&a.name[..], &a.v4[..], a.v6.len()), (&b"metadata.b.example"[..], &[V4][..], 0));
    }

    #[test]
    fn an_address_less_name_is_the_error_over_nxdomain() {
        let s = search(&["a.example", "b.example"]);
        let (_, done) = Run::new("metadata", &[S1], &s, BOTH)
            .answer_all(|q| if q.question().starts_with("metadata.a.") { q.reply(0).0 } else { nx(q) });
        assert_eq!(done, Action::Done(Err(DnsError::NoAddress)));
        // Only IPv6 wanted, and only an A record: NODATA for AAAA.
        let (_, done) = Run::new("metadata.", &[S1], &s, Want { v4: false, v6: true }).answer_all(|q| {
            assert_eq!(q.qtype(), TYPE_AAAA);
            q.reply(0).a(QPTR, V4).0
        });
        assert_eq!(done, Action::Done(Err(DnsError::NoAddress)));
    }

    #[test]
    fn a_and_aaaa_are_asked_together_and_merged() {
        let mut run = Run::new("metadata.", &[S1], &SearchList::new(), BOTH);
        let (sent, _) = run.poll(t(0));
        assert_eq!(sent.len(), 2);
        assert_ne!(sent[0].id(), sent[1].id(), "separate ids");
        run.r.on_udp(t(5), S1, &sent[0].found(V4, V6));
        // A first: wait for the AAAA answer (RFC 8305 §3), which comes 20 ms later.
        assert_eq!(run.poll(t(5)).1, Action::Wait(t(55)));
        run.r.on_udp(t(25), S1, &sent[1].found(V4, V6));
        let Action::Done(Ok(a)) = run.poll(t(25)).1 else { panic!() };
        assert_eq!((&a.v4[..], &a.v6[..]), (&[V4][..], &[V6][..]));
    }

    #[test]
    fn a_positive_aaaa_answer_ends_at_once_an_a_one_after_the_resolution_delay() {
        let mut run = Run::new("metadata.", &[S1], &SearchList::new(), BOTH);
        let (sent, _) = run.poll(t(0));
        run.r.on_udp(t(5), S1, &sent[1].found(V4, V6));
        let Action::Done(Ok(a)) = run.poll(t(5)).1 else { panic!() };
        assert_eq!((a.v4.len(), &a.v6[..]), (0, &[V6][..]));

        let mut run = Run::new("metadata.", &[S1], &SearchList::new(), BOTH);
        let (sent, _) = run.poll(t(0));
        run.r.on_udp(t(5), S1, &sent[0].found(V4, V6));
        assert_eq!(run.poll(t(54)).1, Action::Wait(t(55)));
        let Action::Done(Ok(a)) = run.poll(t(55)).1 else { panic!() };
        assert_eq!((&a.v4[..], a.v6.len()), (&[V4][..], 0));

        // A negative AAAA answer does not wait out the delay.
        let mut run = Run::new("metadata.", &[S1], &SearchList::new(), BOTH);
        let (sent, _) = run.poll(t(0));
        run.r.on_udp(t(5), S1, &sent[0].found(V4, V6));
        run.r.on_udp(t(6), S1, &sent[1].reply(0).0);
        assert!(matches!(run.poll(t(6)).1, Action::Done(Ok(_))));
    }

    #[test]
    fn cname_chains_are_followed_within_a_response() {
        let (_, done) = Run::new("metadata.", &[S1], &SearchList::new(), BOTH).answer_all(|q| {
            let r = q.reply(0);
            // metadata -> one.example -> two.example, the second link compressed: its owner
            // points at the first link's target, its target is `two` then a pointer to
            // `example` in there; the addresses' owners differ from it in case only.
            let one = r.at() + 12;
            r.cname(QPTR, &wire("one.example"))
                .cname(&[0xc0, one], &[3, b't', b'w', b'o', 0xc0, one + 4])
                .a(&wire("other.example"), [9, 9, 9, 9])
                .a(&wire("metadata"), [8, 8, 8, 8])
                .a(&wire("TWO.example"), V4)
                .aaaa(&wire("two.EXAMPLE"), V6)
                .0
        });
        let Action::Done(Ok(a)) = done else { panic!("{done:?}") };
        assert_eq!((&a.name[..], &a.v4[..], &a.v6[..]), (&b"metadata"[..], &[V4][..], &[V6][..]));
    }

    fn chain(links: usize, looped: bool) -> impl Fn(&Sent) -> Vec<u8> {
        move |q| {
            let mut r = q.reply(0).cname(QPTR, &wire("c0.example"));
            for i in 0..links - 1 {
                let target = if looped { wire("metadata") } else { wire(&std::format!("c{}.example", i + 1)) };
                r = r.cname(&wire(&std::format!("c{i}.example")), &target);
            }
            r.a(&wire(&std::format!("c{}.example", links - 1)), V4).a(&wire("metadata"), [1, 1, 1, 1]).0
        }
    }

    #[test]
    fn cname_chains_up_to_eight_links_loops_are_a_failure() {
        let want = Want { v4: true, v6: false };
        let (_, done) = Run::new("metadata.", &[S1], &SearchList::new(), want).answer_all(chain(8, false));
        let Action::Done(Ok(a)) = done else { panic!("{done:?}") };
        assert_eq!((&a.v4[..], &a.name[..]), (&[V4][..], &b"metadata"[..]), "the last name's address");
        let (asked, done) = Run::new("metadata.", &[S1], &SearchList::new(), want).answer_all(chain(9, false));
        assert_eq!(done, Action::Done(Err(DnsError::ServerFailure)));
        assert_eq!(asked.len(), 3, "a failure: the server is asked again");
        let (_, done) = Run::new("metadata.", &[S1], &SearchList::new(), want).answer_all(chain(2, true));
        assert_eq!(done, Action::Done(Err(DnsError::ServerFailure)));
    }

    #[test]
    fn compressed_names_are_read_and_pointer_loops_refused() {
        // A CNAME target compressed against the question name: www.<qname>.
        let want = Want { v4: true, v6: false };
        let (_, done) = Run::new("metadata.", &[S1], &SearchList::new(), want).answer_all(|q| {
            let r = q.reply(0);
            let target = r.at() + 12;
            r.cname(QPTR, &[3, b'w', b'w', b'w', 0xc0, 12]).a(&[0xc0, target], V4).0
        });
        let Action::Done(Ok(a)) = done else { panic!("{done:?}") };
        assert_eq!(&a.v4[..], &[V4]);

        let msg = [0u8, 0, 0, 0, 3, b'a', b'b', b'c', 0xc0, 4, 0xc0, 8, 0xc0, 14, 0, 0];
        let mut w = Wire::new();
        assert_eq!(read_name(&msg, 4, &mut w), None, "a pointer into its own name loops");
        assert_eq!(read_name(&msg, 10, &mut w), None, "to a pointer that points at itself");
        assert_eq!(read_name(&msg, 12, &mut w), None, "forward");
        let good = [3, b'a', b'b', b'c', 0, 1, b'x', 0xc0, 0, 0xc0, 5];
        assert_eq!(read_name(&good, 9, &mut w), Some(11));
        assert_eq!(w.as_bytes(), &[1, b'x', 3, b'a', b'b', b'c', 0]);
        // Found by the fuzz target: the name pointed at runs into the name pointing at it.
        let overlap = [0, 5, 2, b'a', b'b', 0xc0, 1, 0];
        assert_eq!(read_name(&overlap, 2, &mut w), None);
        let long = [[63u8; 64]; 5].concat();
        assert_eq!(read_name(&long, 0, &mut w), None, "longer than 255 bytes");
        assert_eq!(read_name(&[0x40, 0], 0, &mut w), None, "extended label type");
    }

    #[test]
    fn responses_that_do_not_match_are_ignored() {
        let mut run = Run::new("metadata.", &[S1], &SearchList::new(), Want { v4: true, v6: false });
        let (sent, _) = run.poll(t(0));
        let q = &sent[0];
        let good = q.found(V4, V6);
        let mut wrong_id = good.clone();
        wrong_id[1] ^= 1;
        let mut query_bit = good.clone();
        query_bit[2] &= 0x7f;
        let mut opcode = good.clone();
        opcode[2] |= 0x08;
        let mut question = good.clone();
        question[13] = b'n';
        let mut qtype = good.clone();
        qtype[12 + 10 + 1] = 28;
        let mut rdlen = good.clone();
        let n = rdlen.len();
        rdlen[n - 5] = 5;
        for (bad, why) in [
            (&wrong_id, "id"),
            (&query_bit, "QR"),
            (&opcode, "opcode"),
            (&question, "question"),
            (&qtype, "qtype"),
            (&rdlen, "rdlength"),
            (&good[..good.len() - 1].to_vec(), "cut short"),
            (&q.reply(3).0[..12].to_vec(), "no question"),
        ] {
            run.r.on_udp(t(10), S1, bad);
            assert!(matches!(run.poll(t(10)).1, Action::Wait(_)), "{why}");
        }
        run.r.on_udp(t(10), S2, &good);
        assert!(matches!(run.poll(t(10)).1, Action::Wait(_)), "another server");
        // Case does not matter in the echoed question (0x20 mixing servers).
        let mut upper = good.clone();
        upper[13] = b'M';
        run.r.on_udp(t(10), S1, &upper);
        assert!(matches!(run.poll(t(10)).1, Action::Done(Ok(_))));
    }

    #[test]
    fn servfail_moves_to_the_next_server_at_once() {
        let mut run = Run::new("metadata.", &[S1, S2], &SearchList::new(), Want { v4: false, v6: true });
        let (sent, _) = run.poll(t(0));
        assert_eq!(sent[0].server, S1);
        run.r.on_udp(t(3), S1, &sent[0].reply(2).0);
        let (sent, _) = run.poll(t(3));
        assert_eq!((sent.len(), sent[0].server), (1, S2));
        run.r.on_udp(t(4), S2, &sent[0].reply(5).0);
        let (sent, _) = run.poll(t(4));
        assert_eq!(sent[0].server, S1, "REFUSED too; back to the first");
        // All refuse: 3 tries each, then a server failure.
        let (asked, done) = Run::new("metadata.", &[S1, S2], &SearchList::new(), Want { v4: false, v6: true })
            .answer_all(|q| q.reply(5).0);
        assert_eq!((asked.len(), done), (6, Action::Done(Err(DnsError::ServerFailure))));
    }

    #[test]
    fn timeouts_double_and_rotate_through_the_servers() {
        let mut run = Run::new("metadata.", &[S1, S2], &SearchList::new(), Want { v4: true, v6: false });
        let mut now = t(0);
        let mut log = Vec::new();
        loop {
            let (sent, action) = run.poll(now);
            for s in sent {
                log.push((now.total_millis(), s.server));
            }
            match action {
                Action::Wait(at) => now = at,
                done => {
                    assert_eq!(done, Action::Done(Err(DnsError::Timeout)));
                    break;
                }
            }
        }
        let times: Vec<i64> = log.iter().map(|l| l.0).collect();
        assert_eq!(times, [0, 400, 1200, 2800, 4800, 6800]);
        let servers: Vec<IpAddress> = log.iter().map(|l| l.1).collect();
        assert_eq!(servers, [S1, S2, S1, S2, S1, S2]);
        assert_eq!(now, t(8800));
    }

    #[test]
    fn every_transmission_has_a_fresh_id_and_late_answers_to_old_ones_are_ignored() {
        let mut run = Run::new("metadata.", &[S1], &SearchList::new(), Want { v4: true, v6: false });
        let (first, _) = run.poll(t(0));
        let (second, _) = run.poll(t(400));
        assert_ne!(first[0].id(), second[0].id());
        run.r.on_udp(t(450), S1, &first[0].found(V4, V6));
        assert!(matches!(run.poll(t(450)).1, Action::Wait(_)));
        run.r.on_udp(t(460), S1, &second[0].found(V4, V6));
        assert!(matches!(run.poll(t(460)).1, Action::Done(Ok(_))));
    }

    #[test]
    fn the_deadline_ends_everything() {
        let mut r = Resolver::new(b"metadata", &[S1], &search(&["a.example"]), BOTH, t(0), t(1000), 1).unwrap();
        let mut out = [0u8; QUERY_MAX];
        let mut now = t(0);
        for _ in 0..20 {
            match Action::from(r.poll(now, &mut out)) {
                Action::Wait(at) => {
                    assert!(at <= t(1000));
                    now = at;
                }
                Action::Done(e) => {
                    assert_eq!((now, e), (t(1000), Err(DnsError::Timeout)));
                    return;
                }
                _ => {}
            }
        }
        panic!("not done by the deadline");
    }

    #[test]
    fn a_truncated_answer_is_asked_again_over_tcp() {
        let mut run = Run::new("metadata.", &[S1, S2], &SearchList::new(), BOTH);
        let (sent, _) = run.poll(t(0));
        run.r.on_udp(t(1), S1, &sent[0].reply(0).tc().0);
        run.r.on_udp(t(1), S1, &sent[1].reply(0).tc().0);
        let (tcp, _) = run.poll(t(1));
        assert_eq!(tcp.len(), 1, "one TCP exchange at a time");
        assert!(tcp[0].tcp && tcp[0].server == S1 && tcp[0].qtype() == TYPE_A);
        assert_ne!(tcp[0].id(), sent[0].id());
        // The TCP answer may have TC set too; it is read all the same.
        run.r.on_tcp(t(20), &tcp[0].reply(0).tc().a(QPTR, V4).0);
        let (tcp, _) = run.poll(t(20));
        assert!(tcp[0].tcp && tcp[0].qtype() == TYPE_AAAA);
        // A failed TCP exchange moves the query to the next server, over UDP.
        run.r.on_tcp_failed(t(30));
        let (sent, _) = run.poll(t(30));
        assert!(!sent[0].tcp && sent[0].server == S2);
        run.r.on_udp(t(31), S2, &sent[0].found(V4, V6));
        let Action::Done(Ok(a)) = run.poll(t(31)).1 else { panic!() };
        assert_eq!((&a.v4[..], &a.v6[..]), (&[V4][..], &[V6][..]));
    }

    #[test]
    fn invalid_names_and_no_servers_fail_at_once() {
        let s = SearchList::new();
        let new = |name: &[u8], servers: &[IpAddress]| Resolver::new(name, servers, &s, BOTH, t(0), t(10), 0).err();
        for bad in [&b""[..], b".", b"a..b", b"-\xff", b"a b", &[b'a'; 254], &[b'a'; 64]] {
            assert_eq!(new(bad, &[S1]), Some(DnsError::BadName), "{bad:?}");
        }
        assert_eq!(new(b"metadata", &[]), Some(DnsError::NoServers));
        assert!(new(&[b'a'; 63], &[S1]).is_none());
        // A search domain that makes the name too long is skipped.
        let name = ["x".repeat(63), "y".repeat(63), "z".repeat(63)].join(".");
        let long = search(&["a".repeat(63).as_str(), &["b".repeat(63), "c".into()].join("."), "c"]);
        let mut run = Run::new(&name, &[S1], &long, Want { v4: true, v6: false });
        let (asked, _) = run.answer_all(nx);
        assert_eq!(names(&asked).len(), 2, "{asked:?}");
        assert!(asked[1].ends_with(".c/A"));
    }

    #[test]
    fn option_119_with_compression_as_in_rfc_3397() {
        // RFC 3397 §4: "eng.apple.com." and "marketing.apple.com.", the second compressed
        // against the first; the option data split over two options, concatenated here.
        let data = b"\x03eng\x05apple\x03com\x00\x09marketing\xc0\x04";
        let mut s = SearchList::new();
        search_from_wire(data, &mut s).unwrap();
        assert_eq!(s, [Name::from_slice(b"eng.apple.com").unwrap(), Name::from_slice(b"marketing.apple.com").unwrap()]);
        // A forward pointer, and a name cut short, keep what came before.
        let mut s = SearchList::new();
        assert_eq!(search_from_wire(b"\x01a\x00\xc0\x05\x01b\x00", &mut s), Err(DnsError::Malformed));
        assert_eq!(s.len(), 1);
        assert_eq!(search_from_wire(b"\x01b\x00\x03ab", &mut s), Err(DnsError::Malformed));
        assert_eq!(s.len(), 2);
        // A label that is not a host name's.
        assert_eq!(search_from_wire(b"\x03a.b\x00", &mut s), Err(DnsError::Malformed));
    }

    #[test]
    fn dnssl_padding_duplicates_and_a_full_list() {
        // RFC 8106 §5.2: names, then zero padding to a multiple of 8 bytes.
        let data = b"\x07example\x03com\x00\x03LAB\x07example\x03com\x00\x00\x00\x00\x00\x00";
        let mut s = search(&["lab.example.com"]);
        search_from_wire(data, &mut s).unwrap();
        assert_eq!(s, [Name::from_slice(b"lab.example.com").unwrap(), Name::from_slice(b"example.com").unwrap()]);
        let many: Vec<u8> = (0..10u8).flat_map(|i| [1, b'a' + i, 0]).collect();
        search_from_wire(&many, &mut s).unwrap();
        assert_eq!(s.len(), SEARCH_MAX);
        assert_eq!(&s[5][..], b"d");
        // Full: the rest is not read, malformed or not.
        search_from_wire(b"\xff", &mut s).unwrap();
    }

    #[test]
    fn push_search_validates_text() {
        let mut s = SearchList::new();
        push_search(&mut s, b"Example.COM.").unwrap();
        push_search(&mut s, b"example.com").unwrap();
        assert_eq!(s.len(), 1);
        for bad in [&b""[..], b".", b"a..b", b"a b", b"a/b", &[b'a'; 254]] {
            assert_eq!(push_search(&mut s, bad), Err(DnsError::BadName), "{bad:?}");
        }
    }

    #[test]
    fn errors_read_as_short_phrases() {
        assert_eq!(std::format!("{}", DnsError::NoSuchName), "no such name (NXDOMAIN)");
        assert_eq!(std::format!("{}", DnsError::Timeout), "no answer from name servers");
    }

    #[test]
    fn the_resolver_is_small_enough_for_a_static() {
        let size = core::mem::size_of::<Resolver>();
        std::println!("Resolver: {size} bytes");
        assert!(size < 3 * 1024, "{size}");
    }
}
