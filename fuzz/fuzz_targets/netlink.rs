//! The rtnetlink link-dump parser (src/iflist.rs) on raw datagrams and on dumps built from a
//! fuzz-chosen list of links in the kernel's layout (nlmsghdr, ifinfomsg, rtattrs, 4-byte
//! alignment; include/uapi/linux/{netlink,rtnetlink,if_link}.h) with other messages and
//! attributes mixed in: exactly the links that were put in come out, names cut to 15 bytes
//! (IFNAMSIZ), and the dump's end or error is reported.
#![no_main]

use arbitrary::{Arbitrary, Unstructured};
use flint::net::iflist::{self, Link, NLMSG_DONE, NLMSG_ERROR, Part, RTM_NEWLINK};
use libfuzzer_sys::fuzz_target;

const IFLA_IFNAME: u16 = 3;
const RTM_NEWADDR: u16 = 20;

#[derive(Arbitrary, Debug)]
struct Spec {
    index: i32,
    kind: u16,
    flags: u32,
    name: Vec<u8>,
    /// Other attributes (kind, payload) before and after IFLA_IFNAME.
    before: Vec<(u16, Vec<u8>)>,
    after: Vec<(u16, Vec<u8>)>,
    nul: bool,
}

#[derive(Arbitrary, Debug)]
enum Msg {
    Link(Spec),
    /// A message of another type (RTM_NEWADDR, NLMSG_NOOP...), skipped.
    Other(u16, Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum End {
    More,
    Done,
    Error(i32),
}

fn align(v: &mut Vec<u8>) {
    while !v.len().is_multiple_of(4) {
        v.push(0);
    }
}

fn attr(out: &mut Vec<u8>, kind: u16, payload: &[u8]) {
    out.extend(((4 + payload.len()) as u16).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend_from_slice(payload);
    align(out);
}

fn message(out: &mut Vec<u8>, kind: u16, body: &[u8]) {
    out.extend(((16 + body.len()) as u32).to_ne_bytes());
    out.extend(kind.to_ne_bytes());
    out.extend(2u16.to_ne_bytes()); // NLM_F_MULTI
    out.extend(1u32.to_ne_bytes());
    out.extend(0u32.to_ne_bytes());
    out.extend_from_slice(body);
    align(out);
}

fn structured(u: &mut Unstructured<'_>) -> arbitrary::Result<()> {
    let msgs: Vec<Msg> = u.arbitrary()?;
    let end: End = u.arbitrary()?;
    let mut d = Vec::new();
    let mut want = Vec::new();
    for m in msgs.iter().take(32) {
        match m {
            Msg::Link(s) => {
                let mut body = vec![0u8, 0];
                body.extend(s.kind.to_ne_bytes());
                body.extend(s.index.to_ne_bytes());
                body.extend(s.flags.to_ne_bytes());
                body.extend(0u32.to_ne_bytes());
                for (k, p) in s.before.iter().take(4) {
                    attr(&mut body, if *k == IFLA_IFNAME { k + 1 } else { *k }, &p[..p.len().min(64)]);
                }
                let name: Vec<u8> = s.name.iter().copied().filter(|&b| b != 0).take(20).collect();
                let mut payload = name.clone();
                if s.nul {
                    payload.push(0);
                }
                attr(&mut body, IFLA_IFNAME, &payload);
                for (k, p) in s.after.iter().take(4) {
                    attr(&mut body, if *k == IFLA_IFNAME { k + 1 } else { *k }, &p[..p.len().min(64)]);
                }
                message(&mut d, RTM_NEWLINK, &body);
                if !name.is_empty() {
                    let n = name.len().min(15);
                    let mut l = Link { index: s.index, kind: s.kind, flags: s.flags, name: [0; 16], name_len: n };
                    l.name[..n].copy_from_slice(&name[..n]);
                    want.push(l);
                }
            }
            Msg::Other(k, b) => {
                let k = match *k {
                    NLMSG_DONE | NLMSG_ERROR | RTM_NEWLINK => RTM_NEWADDR,
                    k => k,
                };
                message(&mut d, k, &b[..b.len().min(64)]);
            }
        }
    }
    let want_part = match end {
        End::More => Part::More,
        End::Done => {
            message(&mut d, NLMSG_DONE, &0i32.to_ne_bytes());
            Part::Done
        }
        End::Error(e) => {
            // nlmsgerr: the errno, then the header of the request it answers.
            let mut body = e.to_ne_bytes().to_vec();
            body.extend_from_slice(&iflist::dump_request(1)[..16]);
            message(&mut d, NLMSG_ERROR, &body);
            Part::Error(e)
        }
    };
    let mut got = Vec::new();
    assert_eq!(iflist::parse(&d, |l| got.push(l)), want_part);
    assert_eq!(got, want, "links differ from the ones in the dump");
    Ok(())
}

fuzz_target!(|data: &[u8]| {
    // Raw: any datagram. Names are 1..=15 bytes without NUL; nothing is invented.
    let mut count = 0;
    let part = iflist::parse(data, |l| {
        count += 1;
        assert!((1..=15).contains(&l.name_len), "name length {}", l.name_len);
        assert!(!l.name().contains(&0));
        assert!(l.name[l.name_len..].iter().all(|&b| b == 0));
    });
    // Each link needs a 16-byte header, a 16-byte ifinfomsg and a name attribute.
    assert!(count * 37 <= data.len(), "{count} links out of {} bytes", data.len());
    if let Part::Error(e) = part {
        assert!(e == -22 || data.len() >= 20, "error {e} from a datagram too short to carry one");
    }

    let _ = structured(&mut Unstructured::new(data));
});
