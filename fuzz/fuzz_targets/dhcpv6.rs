//! The DHCPv6 client (src/net/dhcpv6.rs) against dhcproto, an independent DHCPv6 codec.
//!
//! - Every message flint sends decodes with dhcproto as the exchange's type with the current
//!   transaction id, our DUID as Client Identifier, an Elapsed Time and an ORO asking for
//!   options 23 and 24; a Solicit carries our IA_NA and Rapid Commit, a Request the chosen
//!   server's identifier, an Information-request no IA. Nothing goes out before poll_at, and
//!   the number of messages stays within the documented bounds.
//! - Replies and Advertises built with dhcproto from fuzz-chosen fields bind exactly the
//!   address, lifetimes, DNS servers, search list and server id put in, when RFC 8415 says
//!   they should (right transaction, our client id, a server id, a usable address in our IA,
//!   Success), report NoAddrsAvail when a server says so, and do nothing otherwise.
//! - Arbitrary bytes as replies never panic and never bind unless dhcproto decodes them as a
//!   Reply with our transaction id, our client id, the bound server id, the bound address in
//!   an IA_NA and the DNS servers bound.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use dhcproto::v6::{self, DhcpOption, IAAddr, IANA, MessageType, OptionCode, Status, StatusCode};
use dhcproto::{Decodable, Encodable, Name};
use flint::net::dhcpv6::{Client, Event, Lease6, MSG_MAX, Mode, REQ_MAX_RC, SOLICIT_MAX_RC, State};
use libfuzzer_sys::fuzz_target;
use smoltcp::time::{Duration, Instant};
use std::net::Ipv6Addr;

#[derive(Arbitrary, Debug)]
struct ServerMsg {
    advertise: bool,
    /// 0 our transaction, anything else a wrong one (1 in 8).
    xid: u8,
    /// 0, 1: ours, 2: missing, 3: another client's.
    client: u8,
    server_id: Option<Vec<u8>>,
    iaid_ok: bool,
    ia: bool,
    t1: u32,
    t2: u32,
    addr: Option<([u8; 16], u32, u32)>,
    ia_status: Option<u16>,
    msg_status: Option<u16>,
    rapid: bool,
    preference: Option<u8>,
    dns: Vec<[u8; 16]>,
    search: Vec<Vec<u8>>,
}

#[derive(Arbitrary, Debug)]
enum Ev {
    Poll(u16),
    PollAt,
    Server(ServerMsg),
    /// Raw bytes; bit 0 of `patch` writes our transaction id into them, bit 1 puts our client
    /// id and a server id in front of the options.
    Raw(u8, Vec<u8>),
}

fn ip(a: [u8; 16]) -> Ipv6Addr {
    Ipv6Addr::from(a)
}

fn usable(a: &[u8; 16]) -> bool {
    *a != [0; 16] && a[0] != 0xff
}

/// The first three distinct usable DNS servers (flint's documented filter).
fn dns_want(list: &[[u8; 16]]) -> Vec<[u8; 16]> {
    let mut v: Vec<[u8; 16]> = Vec::new();
    for a in list {
        if usable(a) && !v.contains(a) && v.len() < 3 {
            v.push(*a);
        }
    }
    v
}

/// Names with labels of [a-z0-9] and a last label unique to each name, so dhcproto's encoder
/// (which may compress repeated suffixes, RFC 8415 §10 says not to) writes them plainly.
fn names(raw: &[Vec<u8>]) -> (Vec<Name>, Vec<u8>) {
    let (mut names, mut wire) = (Vec::new(), Vec::new());
    for (i, n) in raw.iter().take(8).enumerate() {
        let mut labels: Vec<String> = n
            .chunks(7)
            .take(3)
            .map(|c| c.iter().map(|b| (b"abcdefghijklmnopqrstuvwxyz0123456789"[*b as usize % 36]) as char).collect())
            .collect();
        labels.push(format!("t{i}"));
        let Ok(name) = Name::from_ascii(format!("{}.", labels.join("."))) else { continue };
        let mut w = Vec::new();
        for l in &labels {
            w.push(l.len() as u8);
            w.extend_from_slice(l.as_bytes());
        }
        w.push(0);
        // flint keeps whole names within 256 bytes.
        if wire.len() + w.len() <= 256 {
            wire.extend_from_slice(&w);
        }
        names.push(name);
    }
    (names, wire)
}

/// What flint must do with `m`, from RFC 8415 and flint's documented choices.
#[derive(Debug, PartialEq)]
enum Want {
    Nothing,
    NoAddrs,
    Bound {
        address: Option<([u8; 16], u32, u32)>,
        dns: Vec<[u8; 16]>,
        search: Vec<u8>,
    },
    /// Whatever flint does is fine (an Advertise that only changes the offer).
    Any,
}

fn build(c: &Client, m: &ServerMsg) -> (Vec<u8>, Want) {
    let xid = if m.xid.is_multiple_of(8) { c.xid() } else { [c.xid()[0] ^ 1, m.xid, 0] };
    let kind = if m.advertise { MessageType::Advertise } else { MessageType::Reply };
    let mut msg = v6::Message::new_with_id(kind, xid);
    let opts = msg.opts_mut();
    let client_ok = m.client % 4 < 2;
    match m.client % 4 {
        0 | 1 => opts.insert(DhcpOption::ClientId(c.duid().to_vec())),
        2 => {}
        _ => opts.insert(DhcpOption::ClientId(vec![0, 3, 0, 1, 9, 9, 9, 9, 9, 9])),
    }
    let server = m.server_id.as_ref().map(|s| s[..s.len().min(140)].to_vec());
    if let Some(s) = &server {
        opts.insert(DhcpOption::ServerId(s.clone()));
    }
    let iaid = u32::from_be_bytes(c.iaid()) ^ if m.iaid_ok { 0 } else { 1 };
    let mut ia_opts = v6::DhcpOptions::new();
    if let Some((a, preferred, valid)) = m.addr {
        ia_opts.insert(DhcpOption::IAAddr(IAAddr {
            addr: ip(a),
            preferred_life: preferred,
            valid_life: valid,
            opts: v6::DhcpOptions::new(),
        }));
    }
    if let Some(s) = m.ia_status {
        ia_opts.insert(DhcpOption::StatusCode(StatusCode { status: Status::from(s), msg: "x".into() }));
    }
    if m.ia {
        opts.insert(DhcpOption::IANA(IANA { id: iaid, t1: m.t1, t2: m.t2, opts: ia_opts }));
    }
    if let Some(s) = m.msg_status {
        opts.insert(DhcpOption::StatusCode(StatusCode { status: Status::from(s), msg: String::new() }));
    }
    if m.rapid {
        opts.insert(DhcpOption::RapidCommit);
    }
    if let Some(p) = m.preference {
        opts.insert(DhcpOption::Preference(p));
    }
    if !m.dns.is_empty() {
        opts.insert(DhcpOption::DomainNameServers(m.dns.iter().take(6).map(|a| ip(*a)).collect()));
    }
    let (search_names, search) = names(&m.search);
    if !search_names.is_empty() {
        opts.insert(DhcpOption::DomainSearchList(search_names));
    }
    let bytes = msg.to_vec().expect("dhcproto encodes");

    let header_ok =
        m.xid.is_multiple_of(8) && client_ok && server.as_ref().is_some_and(|s| !s.is_empty() && s.len() <= 130);
    if !header_ok {
        return (bytes, Want::Nothing);
    }
    let msg_status = m.msg_status.unwrap_or(0);
    // The IA counts only with our IAID and T1 <= T2 (or either 0), RFC 8415 §21.4.
    let ia_seen = m.ia && m.iaid_ok && !(m.t1 > m.t2 && m.t2 > 0);
    let ia_status = if ia_seen { m.ia_status.unwrap_or(0) } else { 0 };
    let address = m.addr.filter(|(a, p, v)| ia_seen && ia_status == 0 && *v != 0 && p <= v && usable(a) && m.ia);
    let no_addrs = msg_status == 2 || (address.is_none() && ia_status == 2);
    let dns = dns_want(&m.dns[..m.dns.len().min(6)]);
    let bind = |stateful: bool| {
        if no_addrs {
            Want::NoAddrs
        } else if msg_status != 0 || address.is_none() {
            Want::Nothing
        } else {
            Want::Bound { address: address.filter(|_| stateful), dns: dns.clone(), search: search.clone() }
        }
    };
    let want = match (c.state(), m.advertise) {
        (State::Soliciting, true) => {
            if no_addrs {
                Want::NoAddrs
            } else {
                Want::Any
            }
        }
        (State::Soliciting, false) if m.rapid => bind(true),
        (State::Requesting, false) if msg_status == 4 => Want::Nothing,
        (State::Requesting, false) => bind(true),
        (State::InformationRequesting, false) if msg_status == 0 => Want::Bound { address: None, dns, search },
        _ => Want::Nothing,
    };
    (bytes, want)
}

/// Whether dhcproto 0.15 can decode `opts` without an arithmetic overflow of its own (it
/// subtracts from option lengths without checking: Authentication, Status Code, Vendor
/// Class/Options); follows its framing, which trusts some fixed lengths over the option's.
fn dhcproto_safe(mut b: &[u8], depth: u8) -> bool {
    while b.len() >= 4 {
        let code = u16::from_be_bytes([b[0], b[1]]);
        let len = u16::from_be_bytes([b[2], b[3]]) as usize;
        b = &b[4..];
        let min = match code {
            11 => 11,
            13 => 2,
            16 | 17 => 4,
            _ => 0,
        };
        if len < min {
            return false;
        }
        let used = match code {
            7 | 19 => 1,
            8 => 2,
            12 => 16,
            14 | 20 => 0,
            _ => len,
        };
        let Some(body) = b.get(..used) else { return true };
        let nested = match code {
            3 | 25 => 12,
            4 | 17 => 4,
            5 => 24,
            26 => 25,
            9 => 34,
            _ => usize::MAX,
        };
        if let Some(inner) = body.get(nested..)
            && (depth > 8 || !dhcproto_safe(inner, depth + 1))
        {
            return false;
        }
        b = &b[used..];
    }
    true
}

/// A bound lease from arbitrary bytes must be what dhcproto reads there.
fn check_raw_bind(c: &Client, xid: [u8; 3], bytes: &[u8], l: &Lease6) {
    let m = v6::Message::from_bytes(bytes).expect("flint bound on what dhcproto cannot decode");
    assert_eq!(m.msg_type(), MessageType::Reply);
    assert_eq!(m.xid(), xid);
    let opts: Vec<&DhcpOption> = m.opts().iter().collect();
    assert!(
        opts.iter().any(|o| matches!(o, DhcpOption::ClientId(d) if d[..] == c.duid())),
        "bound without our client id by dhcproto's reading: {m:?}"
    );
    assert!(
        opts.iter().any(|o| matches!(o, DhcpOption::ServerId(d) if d[..] == l.server_id[..])),
        "bound server id not in dhcproto's reading: {m:?}"
    );
    if let Some((a, p, v)) = l.address {
        let found = opts.iter().any(|o| match o {
            DhcpOption::IANA(ia) => {
                ia.id == u32::from_be_bytes(c.iaid())
                    && ia.opts.iter().any(|i| {
                        matches!(i, DhcpOption::IAAddr(x) if x.addr == ip(a) && x.preferred_life == p && x.valid_life == v)
                    })
            }
            _ => false,
        });
        assert!(found, "bound address not in dhcproto's reading: {m:?}");
    }
    for d in &l.dns {
        let found = opts.iter().any(|o| matches!(o, DhcpOption::DomainNameServers(s) if s.contains(&ip(*d))));
        assert!(found, "bound DNS server not in dhcproto's reading: {m:?}");
    }
}

fn check_sent(c: &Client, bytes: &[u8]) {
    let m = v6::Message::from_bytes(bytes).expect("dhcproto decodes what flint sends");
    let want = match c.state() {
        State::Soliciting => MessageType::Solicit,
        State::Requesting => MessageType::Request,
        State::InformationRequesting => MessageType::InformationRequest,
        s => panic!("sent in state {s:?}"),
    };
    assert_eq!(m.msg_type(), want);
    assert_eq!(m.xid(), c.xid());
    let opts: Vec<&DhcpOption> = m.opts().iter().collect();
    let has = |f: &dyn Fn(&DhcpOption) -> bool| opts.iter().any(|o| f(o));
    assert!(has(&|o| matches!(o, DhcpOption::ClientId(d) if d[..] == c.duid())));
    assert!(has(&|o| matches!(o, DhcpOption::ElapsedTime(_))));
    assert!(has(&|o| matches!(o, DhcpOption::ORO(r)
        if r.opts.contains(&OptionCode::DomainNameServers) && r.opts.contains(&OptionCode::DomainSearchList))));
    let ia = has(&|o| matches!(o, DhcpOption::IANA(ia) if ia.id == u32::from_be_bytes(c.iaid())));
    let rapid = has(&|o| matches!(o, DhcpOption::RapidCommit));
    let server = has(&|o| matches!(o, DhcpOption::ServerId(_)));
    match want {
        MessageType::Solicit => assert!(ia && rapid && !server),
        MessageType::Request => assert!(ia && !rapid && server),
        _ => assert!(!ia && !rapid && !server),
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mac) = u.arbitrary::<[u8; 6]>() else { return };
    let Ok(seed) = u.arbitrary::<u64>() else { return };
    let Ok(stateful) = u.arbitrary::<bool>() else { return };
    let Ok(events) = u.arbitrary::<Vec<Ev>>() else { return };

    let mut now = Instant::from_millis(5000);
    let mode = if stateful { Mode::Stateful } else { Mode::Stateless };
    let mut c = Client::new(mac, mode, now, seed);
    let mut sent = 0u32;
    let mut out = [0u8; MSG_MAX];
    for ev in events.iter().take(64) {
        let step = match ev {
            Ev::Poll(dt) => Some(now + Duration::from_millis(*dt as u64)),
            Ev::PollAt => c.poll_at().map(|t| t.max(now)),
            _ => None,
        };
        if let Some(t) = step {
            now = t;
            let due = c.poll_at();
            if let Some(n) = c.poll(now, &mut out) {
                assert!(due.is_some_and(|d| d <= now), "sent before it was due");
                sent += 1;
                check_sent(&c, &out[..n]);
                assert!(c.poll_at().is_some_and(|t| t > now));
            }
            assert!(c.poll(now, &mut out).is_none(), "two messages at one instant");
        }
        let before = c.state();
        match ev {
            Ev::Server(m) => {
                let (bytes, want) = build(&c, m);
                let got = c.on_message(now, &bytes);
                match (&want, &got) {
                    (Want::Any, None | Some(Event::NoAddrsAvail)) => {}
                    (Want::Nothing, None) | (Want::NoAddrs, Some(Event::NoAddrsAvail)) => {}
                    (Want::Bound { address, dns, search }, Some(Event::Bound(l))) => {
                        assert_eq!(&l.address, address);
                        assert_eq!(l.dns.as_slice(), dns.as_slice());
                        assert_eq!(l.search.as_slice(), search.as_slice());
                        assert_eq!(Some(&l.server_id[..]), m.server_id.as_deref());
                        assert_eq!(c.state(), State::Bound);
                    }
                    _ => panic!("wanted {want:?}, got {got:?} in {before:?} for {m:?}"),
                }
            }
            Ev::Raw(patch, b) => {
                let mut b = b.clone();
                if patch & 2 != 0 && b.len() >= 4 {
                    let mut front = vec![0, 1, 0, 10];
                    front.extend_from_slice(&c.duid());
                    front.extend_from_slice(&[0, 2, 0, 3, 0, 1, 2]);
                    b.splice(4..4, front);
                }
                if patch & 1 != 0 && b.len() >= 4 {
                    b[1..4].copy_from_slice(&c.xid());
                }
                let xid = c.xid();
                if let Some(Event::Bound(l)) = c.on_message(now, &b) {
                    assert_eq!((b[0], &b[1..4]), (7, &xid[..]), "bound on something other than a Reply to us");
                    if dhcproto_safe(&b[4..], 0) {
                        check_raw_bind(&c, xid, &b, &l);
                    }
                }
            }
            _ => {}
        }
        if matches!(before, State::Bound | State::GaveUp) {
            assert_eq!(c.state(), before, "a final state changed");
        }
        // Two rounds of Solicits, two servers' Requests (or one round of Information-requests).
        assert!(sent <= 2 * (SOLICIT_MAX_RC + REQ_MAX_RC) as u32);
        if !stateful {
            assert!(sent <= SOLICIT_MAX_RC as u32);
            assert!(matches!(c.state(), State::InformationRequesting | State::Bound | State::GaveUp));
        }
    }
});
