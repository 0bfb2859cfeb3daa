//! Completing partial checksums in received frames, sans-IO.
//!
//! A packet socket can receive frames whose TCP/UDP checksum was never finished: the sender
//! (a veth peer, a virtio-net host with offload, GRO on a real NIC) left only the pseudo-header
//! sum for hardware that never ran (`CHECKSUM_PARTIAL`, reported as `TP_STATUS_CSUMNOTREADY`).
//! smoltcp verifies checksums and would drop every such frame, so the device completes the
//! checksum first — only for frames the kernel flagged, so corrupt frames are still dropped.

/// RFC 1071 one's-complement sum of `data`, folded into `acc`.
fn sum(mut acc: u32, data: &[u8]) -> u32 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        acc += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        acc += (*last as u32) << 8;
    }
    acc
}

fn fold(mut acc: u32) -> u16 {
    while acc > 0xffff {
        acc = (acc & 0xffff) + (acc >> 16);
    }
    !(acc as u16)
}

/// Recomputes the TCP or UDP checksum of an Ethernet/IPv4 or Ethernet/IPv6 frame in place.
/// Returns false (and leaves the frame alone) for anything else or a frame too short for its
/// own headers.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
pub fn complete_l4(frame: &mut [u8]) -> bool {
    if frame.len() >= 14 + 40 && frame[12..14] == [0x86, 0xdd] {
        return complete_l4_v6(frame);
    }
    if frame.len() < 14 + 20 || frame[12..14] != [0x08, 0x00] {
        return false;
    }
    let ip = &frame[14..];
    let ihl = ((ip[0] & 0x0f) as usize) * 4;
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    if ip[0] >> 4 != 4 || ihl < 20 || total < ihl || total > ip.len() {
        return false;
    }
    // Fragments other than the first carry no L4 header.
    if u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff != 0 {
        return false;
    }
    let proto = ip[9];
    let field = match proto {
        6 => 16,
        17 => 6,
        _ => return false,
    };
    let l4_len = total - ihl;
    if l4_len < field + 2 {
        return false;
    }
    // Pseudo-header (RFC 793 §3.1, RFC 768): source, destination, zero, protocol, length.
    let mut acc = sum(0, &ip[12..20]);
    acc += proto as u32 + l4_len as u32;
    let start = 14 + ihl;
    frame[start + field] = 0;
    frame[start + field + 1] = 0;
    let mut c = fold(sum(acc, &frame[start..start + l4_len]));
    if proto == 17 && c == 0 {
        c = 0xffff; // a computed zero is sent as all ones; zero means "no checksum" in UDP
    }
    frame[start + field..start + field + 2].copy_from_slice(&c.to_be_bytes());
    true
}

/// The IPv6 case: TCP or UDP directly after the fixed header (a frame with extension headers
/// is left alone; the kernel does not offload those to a virtual peer), pseudo-header per
/// RFC 8200 §8.1: source, destination, upper-layer length and next header.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn complete_l4_v6(frame: &mut [u8]) -> bool {
    let ip = &frame[14..];
    let payload = u16::from_be_bytes([ip[4], ip[5]]) as usize;
    let proto = ip[6];
    let field = match proto {
        6 => 16,
        17 => 6,
        _ => return false,
    };
    if ip[0] >> 4 != 6 || payload > ip.len() - 40 || payload < field + 2 {
        return false;
    }
    let mut acc = sum(0, &ip[8..40]);
    acc += proto as u32 + payload as u32;
    let start = 14 + 40;
    frame[start + field] = 0;
    frame[start + field + 1] = 0;
    let mut c = fold(sum(acc, &frame[start..start + payload]));
    if proto == 17 && c == 0 {
        c = 0xffff; // RFC 8200 §8.1: a computed zero is sent as all ones
    }
    frame[start + field..start + field + 2].copy_from_slice(&c.to_be_bytes());
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use smoltcp::wire::{EthernetFrame, IpProtocol, Ipv4Address, Ipv4Packet, TcpPacket, UdpPacket};

    const SRC: Ipv4Address = Ipv4Address::new(10, 0, 0, 1);
    const DST: Ipv4Address = Ipv4Address::new(10, 0, 0, 57);

    /// A real UDP frame (a DHCP-sized payload) and a TCP segment with an odd length, as a veth
    /// peer would send them: checksum field holding only the pseudo-header sum.
    fn frame(proto: u8, payload_len: usize) -> std::vec::Vec<u8> {
        extern crate std;
        let l4 = if proto == 6 { 20 } else { 8 } + payload_len;
        let mut f = std::vec![0u8; 14 + 20 + l4];
        f[12..14].copy_from_slice(&[0x08, 0x00]);
        let ip = &mut f[14..];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&((20 + l4) as u16).to_be_bytes());
        ip[8] = 64;
        ip[9] = proto;
        ip[12..16].copy_from_slice(&SRC.octets());
        ip[16..20].copy_from_slice(&DST.octets());
        let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
        p.fill_checksum();
        let l4s = &mut f[34..];
        if proto == 6 {
            l4s[12] = 5 << 4;
        } else {
            l4s[4..6].copy_from_slice(&(l4 as u16).to_be_bytes());
        }
        for (i, b) in l4s[if proto == 6 { 20 } else { 8 }..].iter_mut().enumerate() {
            *b = (i * 7 + 3) as u8;
        }
        let off = if proto == 6 { 16 } else { 6 };
        l4s[off..off + 2].copy_from_slice(&[0x12, 0x34]); // the partial sum: not a valid checksum
        f
    }

    #[test]
    fn completes_tcp_and_udp_checksums_that_smoltcp_then_accepts() {
        for (proto, len) in [(6u8, 101usize), (6, 0), (17, 300), (17, 1)] {
            let mut f = frame(proto, len);
            {
                let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
                let ok = if proto == 6 {
                    TcpPacket::new_checked(ip.payload()).unwrap().verify_checksum(&SRC.into(), &DST.into())
                } else {
                    UdpPacket::new_checked(ip.payload()).unwrap().verify_checksum(&SRC.into(), &DST.into())
                };
                assert!(!ok, "starts out invalid");
            }
            assert!(complete_l4(&mut f));
            let eth = EthernetFrame::new_checked(&f[..]).unwrap();
            let ip = Ipv4Packet::new_checked(eth.payload()).unwrap();
            assert!(ip.verify_checksum());
            let ok = match IpProtocol::from(proto) {
                IpProtocol::Tcp => {
                    TcpPacket::new_checked(ip.payload()).unwrap().verify_checksum(&SRC.into(), &DST.into())
                }
                _ => UdpPacket::new_checked(ip.payload()).unwrap().verify_checksum(&SRC.into(), &DST.into()),
            };
            assert!(ok, "proto {proto} len {len}");
        }
    }

    #[test]
    fn completes_ipv6_tcp_and_udp_checksums_that_smoltcp_then_accepts() {
        use smoltcp::wire::{Ipv6Address, Ipv6Packet};
        let src = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
        let dst = Ipv6Address::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);
        for (proto, len) in [(6u8, 101usize), (17, 300), (17, 1)] {
            let l4 = if proto == 6 { 20 } else { 8 } + len;
            let mut f = std::vec![0u8; 14 + 40 + l4];
            f[12..14].copy_from_slice(&[0x86, 0xdd]);
            f[14] = 0x60;
            f[18..20].copy_from_slice(&(l4 as u16).to_be_bytes());
            f[20] = proto;
            f[21] = 64;
            f[22..38].copy_from_slice(&src.octets());
            f[38..54].copy_from_slice(&dst.octets());
            if proto == 6 {
                f[54 + 12] = 5 << 4;
            } else {
                f[54 + 4..54 + 6].copy_from_slice(&(l4 as u16).to_be_bytes());
            }
            for (i, b) in f[54 + if proto == 6 { 20 } else { 8 }..].iter_mut().enumerate() {
                *b = (i * 5 + 1) as u8;
            }
            let off = 54 + if proto == 6 { 16 } else { 6 };
            f[off..off + 2].copy_from_slice(&[0x43, 0x21]);
            assert!(complete_l4(&mut f));
            let ip = Ipv6Packet::new_checked(&f[14..]).unwrap();
            let ok = if proto == 6 {
                TcpPacket::new_checked(ip.payload()).unwrap().verify_checksum(&src.into(), &dst.into())
            } else {
                UdpPacket::new_checked(ip.payload()).unwrap().verify_checksum(&src.into(), &dst.into())
            };
            assert!(ok, "proto {proto} len {len}");
            // An extension header in between: left alone.
            let mut ext = f.clone();
            ext[20] = 0;
            assert!(!complete_l4(&mut ext));
            assert_eq!(ext[off..off + 2], f[off..off + 2]);
        }
    }

    #[test]
    fn leaves_other_frames_alone() {
        let arp = crate::net::linklocal::arp_request([2, 0, 0, 0, 0, 1], [0; 4], [169, 254, 1, 1]);
        let mut a = arp;
        assert!(!complete_l4(&mut a));
        assert_eq!(a, arp);
        let mut icmp = frame(6, 10);
        icmp[14 + 9] = 1;
        assert!(!complete_l4(&mut icmp));
        let mut short = frame(17, 10);
        short[14 + 2..14 + 4].copy_from_slice(&2000u16.to_be_bytes()); // claims more than it has
        assert!(!complete_l4(&mut short));
        let mut fragment = frame(17, 10);
        fragment[14 + 7] = 1;
        assert!(!complete_l4(&mut fragment));
    }
}
