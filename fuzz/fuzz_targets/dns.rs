//! The DNS stub resolver (src/net/dns.rs) against hickory-proto, an independent DNS message
//! encoder and decoder.
//!
//! Responses, differential: arbitrary bytes (as they are, with the query's id patched in, or
//! after the query's own header and question) are the answer to a known A or AAAA query. flint
//! must not panic, and whatever it makes of a message it does not ignore must be what hickory
//! reads in it: the header's id, QR, opcode, TC and RCODE, the question echoed, and for NOERROR
//! the answer records read with hickory's name decoder (compression included), the CNAME chain
//! from the question name followed the same way (first CNAME owned by the current name, at
//! most CNAME_MAX links, class IN) and the A or AAAA records of the final name decoded by
//! hickory, without repeats, the first ADDRS_MAX.
//!
//! Responses, structured: records chosen by the fuzzer (A, AAAA, CNAME, TXT over a few names,
//! in mixed case, chains and loops) written by hickory's `Message::to_vec`, which compresses
//! every name it can: flint must extract exactly what the construction says, and must not
//! ignore the message.
//!
//! Search lists: names chosen by the fuzzer, written one after the other by hickory's encoder
//! with compression (option 119's form): `search_from_wire` must give them back in order,
//! without repeats or root names, the first SEARCH_MAX. Arbitrary bytes: whatever flint
//! decodes, hickory decodes to the same names.
#![no_main]

use arbitrary::{Arbitrary, Result as ArbResult, Unstructured};
use flint::net::dns::{
    ADDRS_MAX, Action, Addresses, CNAME_MAX, DnsError, QUERY_MAX, Resolver, SEARCH_MAX, SearchList, Want,
    search_from_wire,
};
use hickory_proto::op::{Header, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::rdata::{A, AAAA, CNAME, TXT};
use hickory_proto::rr::{Name, RData, Record, RecordType};
use hickory_proto::serialize::binary::{BinDecodable, BinDecoder, BinEncodable, BinEncoder, Restrict};
use libfuzzer_sys::fuzz_target;
use smoltcp::time::Instant;
use smoltcp::wire::IpAddress;

const SERVER: IpAddress = IpAddress::v4(192, 0, 2, 53);
const QNAME: &str = "metadata.example.";

/// What flint made of a response.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Ignored,
    /// Asked again over TCP.
    Truncated,
    NxDomain,
    NoData,
    /// Asked the server again over UDP.
    Failure,
    Found(Vec<[u8; 16]>),
}

fn t(ms: i64) -> Instant {
    Instant::from_millis(ms)
}

/// A resolver for QNAME, one family, no search list; the query it sent.
fn start(v6: bool) -> (Resolver, Vec<u8>) {
    let want = Want { v4: !v6, v6 };
    let mut r = Resolver::new(QNAME.as_bytes(), &[SERVER], &SearchList::new(), want, t(0), t(60_000), 1).unwrap();
    let mut out = [0u8; QUERY_MAX];
    let Action::Udp { len, server } = r.poll(t(0), &mut out) else { panic!("no query") };
    assert_eq!(server, SERVER);
    (r, out[..len].to_vec())
}

fn verdict(r: &mut Resolver, msg: &[u8], v6: bool) -> Verdict {
    r.on_udp(t(1), SERVER, msg);
    let mut out = [0u8; QUERY_MAX];
    match r.poll(t(1), &mut out) {
        Action::Wait(_) => Verdict::Ignored,
        Action::Tcp { .. } => Verdict::Truncated,
        Action::Udp { .. } => Verdict::Failure,
        Action::Done(Err(DnsError::NoSuchName)) => Verdict::NxDomain,
        Action::Done(Err(DnsError::NoAddress)) => Verdict::NoData,
        Action::Done(Ok(Addresses { name, v4, v6: v6s })) => {
            assert_eq!(*name, b"metadata.example"[..]);
            let found: Vec<[u8; 16]> = if v6 {
                assert!(v4.is_empty());
                v6s.to_vec()
            } else {
                assert!(v6s.is_empty());
                v4.iter().map(|a| widen(a)).collect()
            };
            assert!(!found.is_empty());
            Verdict::Found(found)
        }
        other => panic!("unexpected after one answer: {other:?}"),
    }
}

fn widen(a: &[u8]) -> [u8; 16] {
    let mut w = [0u8; 16];
    w[..a.len()].copy_from_slice(a);
    w
}

/// One answer record as hickory reads it; the rdata is decoded only where flint reads it.
struct Rr {
    owner: Name,
    rtype: u16,
    class: u16,
    rdata: usize,
    rdlen: u16,
}

/// What hickory makes of `msg` as an answer to `query`; `None` where flint must ignore it.
fn oracle(msg: &[u8], query: &[u8], qtype: RecordType) -> Option<Verdict> {
    let mut d = BinDecoder::new(msg);
    let header = Header::read(&mut d).ok()?;
    let sent = Header::read(&mut BinDecoder::new(query)).unwrap();
    if header.id() != sent.id()
        || header.message_type() != MessageType::Response
        || header.op_code() != OpCode::Query
        || header.query_count() != 1
    {
        return None;
    }
    let qname = Name::read(&mut d).ok()?;
    let want = Name::from_ascii(QNAME).unwrap();
    let qt = d.read_u16().ok()?.unverified();
    let qc = d.read_u16().ok()?.unverified();
    if qname != want || qt != u16::from(qtype) || qc != 1 {
        return None;
    }
    if header.truncated() {
        return Some(Verdict::Truncated);
    }
    match header.response_code() {
        ResponseCode::NoError => {}
        ResponseCode::NXDomain => return Some(Verdict::NxDomain),
        _ => return Some(Verdict::Failure),
    }
    let mut rrs = Vec::new();
    for _ in 0..header.answer_count() {
        let owner = Name::read(&mut d).ok()?;
        let rtype = d.read_u16().ok()?.unverified();
        let class = d.read_u16().ok()?.unverified();
        d.read_u32().ok()?;
        let rdlen = d.read_u16().ok()?.unverified();
        let rdata = d.index();
        d.read_slice(rdlen as usize).ok()?;
        rrs.push(Rr { owner, rtype, class, rdata, rdlen });
    }
    let rdata = |rr: &Rr| {
        let mut d = BinDecoder::new(msg);
        d.read_slice(rr.rdata).unwrap();
        RData::read(&mut d, RecordType::from(rr.rtype), Restrict::new(rr.rdlen)).ok()
    };
    let mut name = qname;
    let mut links = 0;
    while let Some(rr) = rrs.iter().find(|rr| rr.rtype == 5 && rr.class == 1 && rr.owner == name) {
        let Some(RData::CNAME(CNAME(target))) = rdata(rr) else { return None };
        if links == CNAME_MAX {
            return Some(Verdict::Failure);
        }
        links += 1;
        name = target;
    }
    let mut found = Vec::new();
    for rr in rrs.iter().filter(|rr| rr.rtype == u16::from(qtype) && rr.class == 1 && rr.owner == name) {
        let a = match rdata(rr)? {
            RData::A(A(a)) => widen(&a.octets()),
            RData::AAAA(AAAA(a)) => a.octets(),
            _ => return None,
        };
        if !found.contains(&a) && found.len() < ADDRS_MAX {
            found.push(a);
        }
    }
    Some(if found.is_empty() { Verdict::NoData } else { Verdict::Found(found) })
}

fn raw_response(mut u: Unstructured) -> ArbResult<()> {
    let u = &mut u;
    let v6 = bool::arbitrary(u)?;
    let how = u.int_in_range(0..=2u8)?;
    let (mut r, query) = start(v6);
    let mut msg = match how {
        0 => Vec::new(),
        1 => query[..2].to_vec(),
        _ => {
            let mut m = query.clone();
            m[2] = 0x80 | u8::arbitrary(u)?;
            m[3] = u8::arbitrary(u)?;
            m[6..12].copy_from_slice(&<[u8; 6]>::arbitrary(u)?);
            m
        }
    };
    let rest = std::mem::replace(u, Unstructured::new(&[])).take_rest();
    match how {
        1 => msg.extend_from_slice(rest.get(2..).unwrap_or(&[])),
        _ => msg.extend_from_slice(rest),
    }
    let got = verdict(&mut r, &msg, v6);
    if got != Verdict::Ignored {
        let qtype = if v6 { RecordType::AAAA } else { RecordType::A };
        assert_eq!(Some(got), oracle(&msg, &query, qtype), "message {msg:02x?}");
    }
    Ok(())
}

#[derive(Arbitrary, Debug)]
struct Rec {
    owner: u8,
    kind: u8,
    target: u8,
    addr: [u8; 16],
    upper: bool,
}

/// Owners and CNAME targets: the question name, names sharing suffixes with it (so hickory
/// compresses them) and one unrelated.
const NAMES: &[&str] =
    &[QNAME, "c0.example.", "c1.metadata.example.", "x.c0.example.", "example.", "other.test.", "c2.example."];

fn name(i: u8, upper: bool) -> Name {
    let text = NAMES[i as usize % NAMES.len()];
    Name::from_ascii(if upper { text.to_ascii_uppercase() } else { text.to_string() }).unwrap()
}

fn structured_response(u: &mut Unstructured) -> ArbResult<()> {
    let v6 = bool::arbitrary(u)?;
    let rcode = u.int_in_range(0..=7u8)?;
    let tc = u.ratio(1, 16)?;
    let n = u.int_in_range(0..=24usize)?;
    let recs: Vec<Rec> = (0..n).map(|_| Rec::arbitrary(u)).collect::<ArbResult<_>>()?;
    let (mut r, query) = start(v6);
    let qtype = if v6 { RecordType::AAAA } else { RecordType::A };

    let mut m = Message::new();
    m.set_id(u16::from_be_bytes([query[0], query[1]]))
        .set_message_type(MessageType::Response)
        .set_op_code(OpCode::Query)
        .set_recursion_desired(true)
        .set_truncated(tc)
        .set_response_code(ResponseCode::from_low(rcode));
    m.add_query(Query::query(Name::from_ascii(QNAME).unwrap(), qtype));
    // The construction's own reading: (owner index, kind, target index, address).
    let mut plain = Vec::new();
    for rec in &recs {
        let owner = name(rec.owner, rec.upper);
        let kind = rec.kind % 4;
        let rdata = match kind {
            0 => RData::A(A::from(std::net::Ipv4Addr::from(<[u8; 4]>::try_from(&rec.addr[..4]).unwrap()))),
            1 => RData::AAAA(AAAA::from(std::net::Ipv6Addr::from(rec.addr))),
            2 => RData::CNAME(CNAME(name(rec.target, !rec.upper))),
            _ => RData::TXT(TXT::new(vec!["metadata.example".into()])),
        };
        m.add_answer(Record::from_rdata(owner, 60, rdata));
        plain.push((rec.owner as usize % NAMES.len(), kind, rec.target as usize % NAMES.len(), rec.addr));
    }
    let msg = m.to_vec().unwrap();

    let expect = if tc {
        Verdict::Truncated
    } else if rcode == 3 {
        Verdict::NxDomain
    } else if rcode != 0 {
        Verdict::Failure
    } else {
        let (mut at, mut links, mut looped) = (0usize, 0, false);
        while let Some(&(_, _, target, _)) = plain.iter().find(|p| p.1 == 2 && p.0 == at) {
            if links == CNAME_MAX {
                looped = true;
                break;
            }
            links += 1;
            at = target;
        }
        let kind = if v6 { 1 } else { 0 };
        let mut found = Vec::new();
        for &(owner, k, _, addr) in &plain {
            let addr = if v6 { addr } else { widen(&addr[..4]) };
            if owner == at && k == kind && !found.contains(&addr) && found.len() < ADDRS_MAX {
                found.push(addr);
            }
        }
        if looped {
            Verdict::Failure
        } else if found.is_empty() {
            Verdict::NoData
        } else {
            Verdict::Found(found)
        }
    };
    assert_eq!(verdict(&mut r, &msg, v6), expect, "records {recs:?}, message {msg:02x?}");
    assert_eq!(oracle(&msg, &query, qtype), Some(expect), "the oracle reads the construction");
    Ok(())
}

/// hickory's labels of `n`, joined by dots.
fn text(n: &Name) -> Vec<u8> {
    n.iter().collect::<Vec<_>>().join(&b'.')
}

const LABELS: &[&str] = &["a", "B", "example", "com", "x-y", "_srv", "Example", "0"];

fn structured_search(u: &mut Unstructured) -> ArbResult<()> {
    let n = u.int_in_range(0..=10usize)?;
    let mut names = Vec::new();
    for _ in 0..n {
        let k = u.int_in_range(0..=4usize)?;
        let labels: Vec<&str> = (0..k).map(|_| u.choose(LABELS).copied()).collect::<ArbResult<_>>()?;
        names.push(Name::from_labels(labels.iter().map(|l| l.as_bytes())).unwrap());
    }
    let mut data = Vec::new();
    let mut enc = BinEncoder::new(&mut data);
    for n in &names {
        n.emit(&mut enc).unwrap();
    }
    let mut list = SearchList::new();
    assert_eq!(search_from_wire(&data, &mut list), Ok(()), "{names:?} as {data:02x?}");
    let mut expect: Vec<Vec<u8>> = Vec::new();
    for n in &names {
        let t = text(n);
        if !t.is_empty() && !expect.iter().any(|e| e.eq_ignore_ascii_case(&t)) && expect.len() < SEARCH_MAX {
            expect.push(t);
        }
    }
    let got: Vec<Vec<u8>> = list.iter().map(|n| n.to_vec()).collect();
    assert_eq!(got, expect, "{names:?} as {data:02x?}");
    Ok(())
}

fn raw_search(u: Unstructured) -> ArbResult<()> {
    let data = u.take_rest();
    let mut list = SearchList::new();
    let result = search_from_wire(data, &mut list);
    // hickory reads the names one after the other as long as flint did.
    let mut d = BinDecoder::new(data);
    let mut seen: Vec<Vec<u8>> = Vec::new();
    while seen.len() < list.len() {
        let n = Name::read(&mut d).unwrap_or_else(|e| panic!("flint read {list:?}, hickory: {e} in {data:02x?}"));
        let t = text(&n);
        if !t.is_empty() && !seen.iter().any(|s| s.eq_ignore_ascii_case(&t)) {
            seen.push(t);
        }
    }
    let got: Vec<Vec<u8>> = list.iter().map(|n| n.to_vec()).collect();
    assert_eq!(got, seen, "{data:02x?}");
    // Past a full list flint stops reading; else, if all of it was a list of host names,
    // hickory reads it all too.
    if result.is_ok() && list.len() < SEARCH_MAX {
        while !d.is_empty() {
            let n = Name::read(&mut d).unwrap_or_else(|e| panic!("flint accepted, hickory: {e} in {data:02x?}"));
            assert!(n.is_root() || seen.iter().any(|s| s.eq_ignore_ascii_case(&text(&n))), "{data:02x?}");
        }
    }
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let _ = match u.int_in_range(0..=3u8) {
        Ok(0) => raw_response(u),
        Ok(1) => structured_response(&mut u),
        Ok(2) => structured_search(&mut u),
        _ => raw_search(u),
    };
});
