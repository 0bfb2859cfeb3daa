//! Parsing an rtnetlink link dump (`RTM_GETLINK` with `NLM_F_DUMP`), sans-IO.
//!
//! The binary sends the request on a `NETLINK_ROUTE` socket and feeds each datagram here; this
//! needs no /sys or /proc, which an early initramfs may not have mounted. Layouts are from
//! include/uapi/linux/{netlink,rtnetlink,if_link}.h (rtnetlink(7)).

/// One interface from the dump.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Link {
    pub index: i32,
    /// ARPHRD_* type; 1 is Ethernet.
    pub kind: u16,
    /// IFF_* flags.
    pub flags: u32,
    pub name: [u8; 16],
    pub name_len: usize,
}

impl Link {
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len]
    }
}

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const RTM_NEWLINK: u16 = 16;
pub const RTM_GETLINK: u16 = 18;
const IFLA_IFNAME: u16 = 3;
const NLMSG_HDR: usize = 16;
const IFINFOMSG: usize = 16;

/// What one datagram of the dump held.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// More datagrams follow.
    More,
    /// The dump is complete.
    Done,
    /// The kernel answered with an error (negative errno) or the datagram is malformed.
    Error(i32),
}

/// The 32-byte dump request: an `nlmsghdr` and an empty `ifinfomsg` (AF_UNSPEC: all links).
pub fn dump_request(seq: u32) -> [u8; NLMSG_HDR + IFINFOMSG] {
    let mut m = [0u8; NLMSG_HDR + IFINFOMSG];
    m[0..4].copy_from_slice(&((NLMSG_HDR + IFINFOMSG) as u32).to_ne_bytes());
    m[4..6].copy_from_slice(&RTM_GETLINK.to_ne_bytes());
    // NLM_F_REQUEST | NLM_F_DUMP (ROOT | MATCH)
    m[6..8].copy_from_slice(&(0x1u16 | 0x300).to_ne_bytes());
    m[8..12].copy_from_slice(&seq.to_ne_bytes());
    m
}

/// The 32-byte request for one link by index (`RTM_GETLINK` without `NLM_F_DUMP`): the answer
/// is a single `RTM_NEWLINK`, or an error.
pub fn get_request(seq: u32, index: i32) -> [u8; NLMSG_HDR + IFINFOMSG] {
    let mut m = dump_request(seq);
    m[6..8].copy_from_slice(&0x1u16.to_ne_bytes()); // NLM_F_REQUEST only
    m[NLMSG_HDR + 4..NLMSG_HDR + 8].copy_from_slice(&index.to_ne_bytes());
    m
}

/// Walks the messages in one datagram, calling `found` for each link.
pub fn parse(datagram: &[u8], mut found: impl FnMut(Link)) -> Part {
    let mut off = 0;
    while off + NLMSG_HDR <= datagram.len() {
        let h = &datagram[off..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        if len < NLMSG_HDR || off + len > datagram.len() {
            return Part::Error(-22);
        }
        let body = &h[NLMSG_HDR..len];
        match kind {
            NLMSG_DONE => return Part::Done,
            NLMSG_ERROR => {
                let errno = body.get(..4).map(|e| i32::from_ne_bytes([e[0], e[1], e[2], e[3]])).unwrap_or(-22);
                return Part::Error(errno);
            }
            RTM_NEWLINK if body.len() >= IFINFOMSG => {
                let mut link = Link {
                    kind: u16::from_ne_bytes([body[2], body[3]]),
                    index: i32::from_ne_bytes([body[4], body[5], body[6], body[7]]),
                    flags: u32::from_ne_bytes([body[8], body[9], body[10], body[11]]),
                    name: [0; 16],
                    name_len: 0,
                };
                let mut attrs = &body[IFINFOMSG..];
                while attrs.len() >= 4 {
                    let alen = u16::from_ne_bytes([attrs[0], attrs[1]]) as usize;
                    let akind = u16::from_ne_bytes([attrs[2], attrs[3]]);
                    if alen < 4 || alen > attrs.len() {
                        break;
                    }
                    if akind == IFLA_IFNAME {
                        let v = &attrs[4..alen];
                        let n = v.iter().position(|&b| b == 0).unwrap_or(v.len()).min(15);
                        // A later IFLA_IFNAME replaces the whole name: no tail of a longer
                        // earlier one may survive in the array (Link compares all 16 bytes).
                        link.name = [0; 16];
                        link.name[..n].copy_from_slice(&v[..n]);
                        link.name_len = n;
                    }
                    // Attributes are padded to 4 bytes (RTA_ALIGN).
                    attrs = &attrs[((alen + 3) & !3).min(attrs.len())..];
                }
                if link.name_len > 0 {
                    found(link);
                }
            }
            _ => {}
        }
        // Messages are padded to 4 bytes (NLMSG_ALIGN).
        off += (len + 3) & !3;
    }
    Part::More
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn newlink(index: i32, kind: u16, flags: u32, name: &str) -> Vec<u8> {
        let mut body = Vec::new();
        body.extend([0u8, 0]);
        body.extend(kind.to_ne_bytes());
        body.extend(index.to_ne_bytes());
        body.extend(flags.to_ne_bytes());
        body.extend(0u32.to_ne_bytes());
        // IFLA_MTU first (to be skipped), then IFLA_IFNAME with NUL and padding.
        body.extend(8u16.to_ne_bytes());
        body.extend(4u16.to_ne_bytes());
        body.extend(1500u32.to_ne_bytes());
        let alen = 4 + name.len() + 1;
        body.extend((alen as u16).to_ne_bytes());
        body.extend(IFLA_IFNAME.to_ne_bytes());
        body.extend(name.as_bytes());
        body.push(0);
        while body.len() % 4 != 0 {
            body.push(0);
        }
        let mut m = Vec::new();
        m.extend(((16 + body.len()) as u32).to_ne_bytes());
        m.extend(RTM_NEWLINK.to_ne_bytes());
        m.extend(2u16.to_ne_bytes());
        m.extend(1u32.to_ne_bytes());
        m.extend(0u32.to_ne_bytes());
        m.extend(body);
        m
    }

    #[test]
    fn reads_links_then_done() {
        let mut d = newlink(1, 772, 0x9, "lo");
        d.extend(newlink(4021, 1, 0x1043, "eth0"));
        let mut seen = Vec::new();
        assert_eq!(parse(&d, |l| seen.push(l)), Part::More);
        assert_eq!(seen.len(), 2);
        assert_eq!((seen[1].index, seen[1].kind, seen[1].flags, seen[1].name()), (4021, 1, 0x1043, &b"eth0"[..]));
        let mut done = Vec::new();
        done.extend(20u32.to_ne_bytes());
        done.extend(NLMSG_DONE.to_ne_bytes());
        done.extend([0u8; 14]);
        assert_eq!(parse(&done, |_| panic!()), Part::Done);
    }

    #[test]
    fn errors_and_garbage() {
        let mut err = Vec::new();
        err.extend(36u32.to_ne_bytes());
        err.extend(NLMSG_ERROR.to_ne_bytes());
        err.extend([0u8; 10]);
        err.extend((-1i32).to_ne_bytes());
        err.extend([0u8; 16]);
        assert_eq!(parse(&err, |_| {}), Part::Error(-1));
        let mut bad = newlink(2, 1, 0, "eth0");
        bad[0] = 200; // longer than the datagram
        assert_eq!(parse(&bad, |_| panic!()), Part::Error(-22));
        assert_eq!(dump_request(7).len(), 32);
    }

    /// Found by the `netlink` fuzz target: with two IFLA_IFNAME attributes, the later one
    /// shorter, the earlier name's tail stayed in `Link::name` past `name_len`, so the link
    /// compared unequal to the same link with one attribute.
    #[test]
    fn later_shorter_ifname_leaves_no_tail() {
        let once = newlink(7, 1, 0x1043, "eth1");
        // The same message with a longer IFLA_IFNAME inserted before the real one.
        let mut twice = once[..16 + 16].to_vec();
        twice.extend(14u16.to_ne_bytes());
        twice.extend(IFLA_IFNAME.to_ne_bytes());
        twice.extend(b"longname0\0\0\0");
        twice.extend(&once[16 + 16..]);
        let len = twice.len() as u32;
        twice[..4].copy_from_slice(&len.to_ne_bytes());
        let mut got = Vec::new();
        assert_eq!(parse(&twice, |l| got.push(l)), Part::More);
        assert_eq!(parse(&once, |l| got.push(l)), Part::More);
        assert_eq!(got.len(), 2);
        assert_eq!(got[0].name(), b"eth1");
        assert_eq!(got[0], got[1]);
    }

    #[test]
    fn requests_are_well_formed() {
        let d = dump_request(7);
        assert_eq!(u32::from_ne_bytes(d[0..4].try_into().unwrap()), 32);
        assert_eq!(u16::from_ne_bytes(d[4..6].try_into().unwrap()), RTM_GETLINK);
        assert_eq!(u16::from_ne_bytes(d[6..8].try_into().unwrap()), 0x301);
        assert_eq!(u32::from_ne_bytes(d[8..12].try_into().unwrap()), 7);
        let g = get_request(9, 4021);
        assert_eq!(u16::from_ne_bytes(g[6..8].try_into().unwrap()), 0x1, "no dump flag");
        assert_eq!(i32::from_ne_bytes(g[20..24].try_into().unwrap()), 4021);
    }
}
