//! NDP parsing (src/net/ndp.rs) against smoltcp's wire parser, RAs built from known fields, and
//! the Ndp aggregate driven by fuzz-chosen frames and clock steps.
//!
//! - Arbitrary frames never panic; whatever flint accepts as an RA, NS or NA smoltcp accepts
//!   too (Ethernet, IPv6, ICMPv6 checksum, NDP options), with the same M/O flags, router
//!   lifetime, MTU (flint drops values under 1280, RFC 4861 §6.3.4), target and last prefix
//!   (smoltcp keeps only the last, and knows option types 1-5 only; flint drops link-local and
//!   multicast prefixes).
//! - An RA built here from structured fields (prefixes, MTU, RDNSS, DNSSL, unknown options)
//!   parses to exactly those fields, less what the documented rules drop.
//! - The aggregate: its events keep a consistent set of addresses (at most the link-local one
//!   and three SLAAC ones), every frame it sends is a valid RS or DAD probe by smoltcp's
//!   reading, nothing goes out before poll_at, and RSs stay within RS_MAX.
#![no_main]

use std::collections::BTreeSet;

use arbitrary::{Arbitrary, Unstructured};
use flint::net::ndp::{self, Event, FRAME_MAX, Message, Ndp, Prefix, RS_MAX};
use libfuzzer_sys::fuzz_target;
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    EthernetFrame, Icmpv6Packet, Icmpv6Repr, IpProtocol, Ipv6Address, Ipv6Packet, Ipv6Repr, NdiscPrefixInfoFlags,
    NdiscRepr, NdiscRouterFlags,
};

const ROUTER: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
const ALL_NODES: [u8; 16] = [0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

#[derive(Arbitrary, Debug, Clone)]
struct PrefixIn {
    prefix: [u8; 16],
    len: u8,
    flags: u8,
    valid: u32,
    preferred: u32,
}

#[derive(Arbitrary, Debug, Clone)]
enum Opt {
    Prefix(PrefixIn),
    Mtu(u32),
    Rdnss {
        lifetime: u32,
        addrs: Vec<[u8; 16]>,
    },
    /// Labels of one name each; lengths forced into 1..=63.
    Dnssl {
        lifetime: u32,
        names: Vec<Vec<Vec<u8>>>,
    },
    Unknown {
        kind: u8,
        data: Vec<u8>,
    },
}

#[derive(Arbitrary, Debug, Clone)]
struct RaIn {
    flags: u8,
    lifetime: u16,
    opts: Vec<Opt>,
}

#[derive(Arbitrary, Debug)]
enum Ev {
    Poll(u16),
    PollAt,
    Frame(Vec<u8>),
    /// An ICMPv6 message with a correct checksum around fuzz-chosen bytes: type 133-137 by
    /// `kind`, source and destination picked by `addrs`, the hop limit 255 unless `hop` is 0.
    Icmp {
        kind: u8,
        addrs: u8,
        hop: u8,
        body: Vec<u8>,
    },
    Ra(RaIn),
    /// Another host: 0 answers for one of our addresses (NA), 1 probes for it (NS from ::).
    Conflict(u8, u8),
}

/// An ICMPv6 message in an Ethernet/IPv6 frame, checksummed by smoltcp's code.
fn frame(src: [u8; 16], dst: [u8; 16], icmp: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 54];
    f[12..14].copy_from_slice(&[0x86, 0xdd]);
    f[14] = 0x60;
    f[18..20].copy_from_slice(&(icmp.len() as u16).to_be_bytes());
    f[20] = 58;
    f[21] = 255;
    f[22..38].copy_from_slice(&src);
    f[38..54].copy_from_slice(&dst);
    f.extend_from_slice(icmp);
    let (s, d) = (Ipv6Address::from(src), Ipv6Address::from(dst));
    let mut p = Icmpv6Packet::new_unchecked(&mut f[54..]);
    p.fill_checksum(&s, &d);
    f
}

fn pad8(o: &mut Vec<u8>) {
    while !o.len().is_multiple_of(8) {
        o.push(0);
    }
}

/// The RA's bytes, and the fields flint must report.
fn build_ra(ra: &RaIn) -> Option<(Vec<u8>, Expect)> {
    let mut m = vec![134, 0, 0, 0, 64, ra.flags];
    m.extend_from_slice(&ra.lifetime.to_be_bytes());
    m.extend_from_slice(&[0; 8]);
    let mut e = Expect::default();
    for o in ra.opts.iter().take(12) {
        let mut b = Vec::new();
        match o {
            Opt::Prefix(p) => {
                b.extend_from_slice(&[3, 4, p.len, p.flags]);
                b.extend_from_slice(&p.valid.to_be_bytes());
                b.extend_from_slice(&p.preferred.to_be_bytes());
                b.extend_from_slice(&[0; 4]);
                b.extend_from_slice(&p.prefix);
                let link_local = p.prefix[0] == 0xfe && p.prefix[1] & 0xc0 == 0x80;
                if p.len <= 128 && !link_local && p.prefix[0] != 0xff && e.prefixes.len() < 4 {
                    e.prefixes.push(Prefix {
                        prefix: p.prefix,
                        len: p.len,
                        on_link: p.flags & 0x80 != 0,
                        autonomous: p.flags & 0x40 != 0,
                        valid_s: p.valid,
                        preferred_s: p.preferred,
                    });
                }
            }
            Opt::Mtu(v) => {
                b.extend_from_slice(&[5, 1, 0, 0]);
                b.extend_from_slice(&v.to_be_bytes());
                e.mtu = (*v >= 1280).then_some(*v);
            }
            Opt::Rdnss { lifetime, addrs } => {
                let addrs = &addrs[..addrs.len().min(4)];
                if addrs.is_empty() {
                    continue;
                }
                b.extend_from_slice(&[25, (1 + 2 * addrs.len()) as u8, 0, 0]);
                b.extend_from_slice(&lifetime.to_be_bytes());
                for a in addrs {
                    b.extend_from_slice(a);
                    let usable = *a != [0; 16] && a[0] != 0xff && !e.rdnss.contains(a);
                    if *lifetime != 0 && usable && e.rdnss.len() < 3 {
                        e.rdnss.push(*a);
                    }
                }
            }
            Opt::Dnssl { lifetime, names } => {
                let mut field = Vec::new();
                for n in names.iter().take(4) {
                    for l in n.iter().take(4) {
                        let l = &l[..l.len().min(63)];
                        if l.is_empty() {
                            continue;
                        }
                        field.push(l.len() as u8);
                        field.extend_from_slice(l);
                    }
                    field.push(0);
                }
                if field.is_empty() {
                    field.push(0);
                }
                b.extend_from_slice(&[31, 0, 0, 0]);
                b.extend_from_slice(&lifetime.to_be_bytes());
                b.extend_from_slice(&field);
                pad8(&mut b);
                b[1] = (b.len() / 8) as u8;
                field.resize(b.len() - 8, 0);
                if *lifetime != 0 && e.dnssl.len() < 2 {
                    e.dnssl.push(field);
                }
            }
            Opt::Unknown { kind, data } => {
                if matches!(kind, 1..=5 | 25 | 31) {
                    continue;
                }
                b.extend_from_slice(&[*kind, 0]);
                b.extend_from_slice(&data[..data.len().min(100)]);
                pad8(&mut b);
                b[1] = (b.len() / 8) as u8;
            }
        }
        m.extend_from_slice(&b);
    }
    if m.len() > 1400 {
        return None;
    }
    Some((frame(ROUTER, ALL_NODES, &m), e))
}

#[derive(Default, Debug)]
struct Expect {
    prefixes: Vec<Prefix>,
    mtu: Option<u32>,
    rdnss: Vec<[u8; 16]>,
    dnssl: Vec<Vec<u8>>,
}

/// smoltcp's reading of a frame: IPv6 header and NDP message, checksum verified.
fn smoltcp_ndisc(f: &[u8]) -> Option<(Ipv6Repr, NdiscRepr<'_>)> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    let ip = Ipv6Packet::new_checked(eth.payload()).ok()?;
    let repr = Ipv6Repr::parse(&ip).ok()?;
    if repr.next_header != IpProtocol::Icmpv6 {
        return None;
    }
    let payload = &eth.payload()[40..40 + repr.payload_len];
    let icmp = Icmpv6Packet::new_checked(payload).ok()?;
    match Icmpv6Repr::parse(&repr.src_addr, &repr.dst_addr, &icmp, &ChecksumCapabilities::default()).ok()? {
        Icmpv6Repr::Ndisc(n) => Some((repr, n)),
        _ => None,
    }
}

/// Parses with flint and checks the result against smoltcp.
fn check_parse(f: &[u8]) -> Option<Message<'_>> {
    let got = ndp::parse(f)?;
    let (ip, nd) = smoltcp_ndisc(f).unwrap_or_else(|| panic!("flint accepted what smoltcp refuses: {got:?}"));
    assert_eq!(ip.hop_limit, 255);
    match (&got, nd) {
        (Message::RouterAdvert(ra), NdiscRepr::RouterAdvert { flags, router_lifetime, mtu, prefix_info, .. }) => {
            assert_eq!(ip.src_addr.octets(), ra.router);
            assert!(ip.src_addr.is_unicast_link_local());
            assert_eq!(ra.managed, flags.contains(NdiscRouterFlags::MANAGED));
            assert_eq!(ra.other, flags.contains(NdiscRouterFlags::OTHER));
            assert_eq!(ra.router_lifetime_s as u64, router_lifetime.secs());
            assert_eq!(ra.mtu, mtu.filter(|&m| m >= 1280));
            if let Some(p) = prefix_info
                && !p.prefix.is_unicast_link_local()
                && !p.prefix.is_multicast()
                && p.prefix_len <= 128
                && ra.prefixes.len() < 4
            {
                let last = ra.prefixes.last().expect("smoltcp saw a prefix flint dropped");
                assert_eq!(last.prefix, p.prefix.octets());
                assert_eq!(last.len, p.prefix_len);
                assert_eq!(last.on_link, p.flags.contains(NdiscPrefixInfoFlags::ON_LINK));
                assert_eq!(last.autonomous, p.flags.contains(NdiscPrefixInfoFlags::ADDRCONF));
                assert_eq!(last.valid_s as u64, p.valid_lifetime.secs());
                assert_eq!(last.preferred_s as u64, p.preferred_lifetime.secs());
            }
            if prefix_info.is_none() {
                assert!(ra.prefixes.is_empty(), "flint saw a prefix smoltcp did not");
            }
            assert!(ra.rdnss.len() <= 3 && ra.dnssl.len() <= 2 && ra.prefixes.len() <= 4);
        }
        (Message::NeighborSolicit { source, target }, NdiscRepr::NeighborSolicit { target_addr, lladdr }) => {
            assert_eq!(*target, target_addr.octets());
            assert_eq!(*source, ip.src_addr.octets());
            assert!(!target_addr.is_multicast());
            if *source == [0; 16] {
                assert!(lladdr.is_none());
                assert_eq!(ip.dst_addr.octets(), ndp::solicited_node(&ip.dst_addr.octets()));
            }
        }
        (Message::NeighborAdvert { target }, NdiscRepr::NeighborAdvert { target_addr, .. }) => {
            assert_eq!(*target, target_addr.octets());
            assert!(!target_addr.is_multicast());
        }
        (g, s) => panic!("flint read {g:?}, smoltcp {s:?}"),
    }
    Some(got)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let Ok(mac) = u.arbitrary::<[u8; 6]>() else { return };
    let Ok(seed) = u.arbitrary::<u64>() else { return };
    let Ok(events) = u.arbitrary::<Vec<Ev>>() else { return };
    let mac = [mac[0] & 0xfe, mac[1], mac[2], mac[3], mac[4], mac[5]];

    let mut now = Instant::from_millis(1000);
    let mut n = Ndp::new(mac, now, seed);
    let mut live: BTreeSet<[u8; 16]> = BTreeSet::new();
    assert_eq!(n.next_event(), Some(Event::AddressAdded(ndp::link_local(mac), 64)));
    live.insert(ndp::link_local(mac));
    let mut rs = 0u32;
    let mut out = [0u8; FRAME_MAX];
    for ev in events.iter().take(100) {
        let step = match ev {
            Ev::Poll(dt) => Some(now + Duration::from_millis(*dt as u64 * 8)),
            Ev::PollAt => n.poll_at().map(|t| t.max(now)),
            _ => None,
        };
        if let Some(t) = step {
            now = t;
            let due = n.poll_at();
            for _ in 0..10 {
                let Some(len) = n.poll(now, &mut out) else { break };
                assert!(due.is_some_and(|d| d <= now), "a frame before it was due");
                let f = &out[..len];
                let (ip, nd) = smoltcp_ndisc(f).expect("flint's own frame is valid");
                assert_eq!(ip.hop_limit, 255);
                match nd {
                    NdiscRepr::RouterSolicit { lladdr } => {
                        rs += 1;
                        assert_eq!(lladdr.is_some(), !ip.src_addr.is_unspecified(), "SLLA only with a source");
                        assert!(ip.src_addr.is_unspecified() || Some(ip.src_addr.octets()) == n.link_local());
                    }
                    NdiscRepr::NeighborSolicit { target_addr, lladdr } => {
                        assert!(lladdr.is_none() && ip.src_addr.is_unspecified(), "a DAD probe");
                        assert!(live.contains(&target_addr.octets()), "probing an address not added");
                        assert_eq!(ip.dst_addr.octets(), ndp::solicited_node(&target_addr.octets()));
                    }
                    other => panic!("sent {other:?}"),
                }
            }
            assert!(n.poll(now, &mut out).is_none(), "more than 10 frames at one instant");
        }
        match ev {
            Ev::Frame(f) => {
                if let Some(m) = check_parse(f) {
                    n.on(now, &m);
                }
            }
            Ev::Icmp { kind, addrs, hop, body } => {
                let mut m = vec![133 + kind % 5];
                m.extend_from_slice(&body[..body.len().min(1200)]);
                if m.len() < 8 {
                    m.resize(8, 0); // smoltcp's fill_checksum wants a whole ICMPv6 header
                }
                let target: [u8; 16] = m.get(8..24).and_then(|t| t.try_into().ok()).unwrap_or([0; 16]);
                let src = match addrs % 3 {
                    0 => ROUTER,
                    1 => [0; 16],
                    _ => [0x20, 1, 0xd, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
                };
                let dst = match addrs / 3 % 3 {
                    0 => ALL_NODES,
                    1 => ndp::solicited_node(&target),
                    _ => target,
                };
                let mut f = frame(src, dst, &m);
                if *hop == 0 {
                    f[21] = 254;
                }
                if let Some(m) = check_parse(&f) {
                    n.on(now, &m);
                }
            }
            Ev::Ra(ra) => {
                if let Some((f, want)) = build_ra(ra) {
                    let Some(Message::RouterAdvert(got)) = check_parse(&f) else { panic!("built RA refused") };
                    assert_eq!(got.prefixes.as_slice(), want.prefixes.as_slice());
                    assert_eq!(got.mtu, want.mtu);
                    assert_eq!(got.rdnss.as_slice(), want.rdnss.as_slice());
                    let dnssl: Vec<Vec<u8>> = got.dnssl.iter().map(|d| d.to_vec()).collect();
                    assert_eq!(dnssl, want.dnssl);
                    assert_eq!((got.managed, got.other), (ra.flags & 0x80 != 0, ra.flags & 0x40 != 0));
                    assert_eq!(got.router_lifetime_s, ra.lifetime);
                    n.on(now, &Message::RouterAdvert(got));
                }
            }
            Ev::Conflict(kind, which) => {
                let addrs: Vec<[u8; 16]> = live.iter().copied().collect();
                if let Some(&a) = addrs.get(*which as usize % addrs.len().max(1)) {
                    let f = if kind % 2 == 0 {
                        let mut m = vec![136, 0, 0, 0, 0x20, 0, 0, 0];
                        m.extend_from_slice(&a);
                        frame([0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x99, 0x99], ALL_NODES, &m)
                    } else {
                        let mut m = vec![135, 0, 0, 0, 0, 0, 0, 0];
                        m.extend_from_slice(&a);
                        frame([0; 16], ndp::solicited_node(&a), &m)
                    };
                    let m = check_parse(&f).expect("a conflict frame parses");
                    n.on(now, &m);
                }
            }
            _ => {}
        }
        while let Some(e) = n.next_event() {
            match e {
                Event::AddressAdded(a, len) => {
                    assert_eq!(len, 64);
                    assert!(live.insert(a), "added twice: {a:02x?}");
                }
                Event::AddressRemoved(a) => assert!(live.remove(&a), "removed an address never added"),
                Event::Router(r) => assert_eq!(r, n.router()),
                Event::StartDhcpv6 { .. } | Event::Dns => {}
            }
        }
        let mut want: BTreeSet<[u8; 16]> = n.addresses().collect();
        want.extend(n.link_local());
        assert_eq!(live, want, "events and state disagree");
        assert!(n.addresses().count() <= 3);
        assert!(rs <= RS_MAX as u32);
        assert!(n.dns().len() <= 3 && n.search().len() <= ndp::SEARCH_MAX);
    }
});
