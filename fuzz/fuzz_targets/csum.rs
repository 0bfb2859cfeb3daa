//! Checksum completion (src/net/csum.rs `complete_l4`) on arbitrary frames, most of them shaped
//! into plausible Ethernet/IPv4 or Ethernet/IPv6 frames carrying TCP or UDP. It must touch only
//! the TCP or UDP checksum field of exactly the frames it can handle (IPv4 first fragments, or
//! IPv6 with TCP/UDP right after the fixed header; headers and lengths within the frame), leave
//! every other frame alone, and leave a checksum that smoltcp's RFC 1071 code verifies over the
//! pseudo-header (RFC 793 §3.1, RFC 768, RFC 8200 §8.1), never 0 for UDP; doing it twice
//! changes nothing.
#![no_main]

use arbitrary::Unstructured;
use flint::net::csum::complete_l4;
use libfuzzer_sys::fuzz_target;
use smoltcp::wire::{IpProtocol, Ipv4Address, Ipv6Address, TcpPacket, UdpPacket, checksum};

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let shape = u.arbitrary::<u8>().unwrap_or(0);
    let mut frame = u.take_rest().to_vec();
    if shape & 1 == 1 && frame.len() >= 34 {
        // Ethernet type IPv4, version 4 with a fuzz-chosen IHL, total length from the frame
        // (or a bit off), first fragment, TCP or UDP.
        frame[12..14].copy_from_slice(&[0x08, 0x00]);
        frame[14] = 0x40 | (5 + (shape >> 1) % 3);
        let total = (frame.len() - 14).min(0xffff) as i64 - ((shape >> 3) % 4) as i64 * ((shape >> 5) % 2) as i64;
        frame[16..18].copy_from_slice(&(total.max(0) as u16).to_be_bytes());
        frame[20] &= 0xe0;
        frame[21] = 0;
        frame[23] = if shape & 0x80 != 0 { 6 } else { 17 };
    } else if shape & 3 == 2 && frame.len() >= 54 {
        // Ethernet type IPv6, payload length from the frame (or a bit off), TCP, UDP or an
        // extension header.
        frame[12..14].copy_from_slice(&[0x86, 0xdd]);
        frame[14] = 0x60 | (frame[14] & 0x0f);
        let payload = (frame.len() - 54).min(0xffff) as i64 - ((shape >> 3) % 4) as i64 * ((shape >> 5) % 2) as i64;
        frame[18..20].copy_from_slice(&(payload.max(0) as u16).to_be_bytes());
        frame[20] = [6, 17, 0, 17][(shape >> 6) as usize];
    }
    let orig = frame.clone();
    let done = complete_l4(&mut frame);

    // Which frames qualify, from the header fields: where the L4 segment is, where its checksum
    // field is, and its pseudo-header sum.
    let eligible = (|| {
        let ip = frame.get(14..)?;
        match frame.get(12..14)? {
            [0x08, 0x00] if frame.len() >= 34 && ip[0] >> 4 == 4 => {
                let ihl = (ip[0] & 0x0f) as usize * 4;
                let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
                let field = match ip[9] {
                    6 => 16,
                    17 => 6,
                    _ => return None,
                };
                let first_fragment = u16::from_be_bytes([ip[6], ip[7]]) & 0x1fff == 0;
                if !(ihl >= 20 && total >= ihl && total <= ip.len() && first_fragment && total - ihl >= field + 2) {
                    return None;
                }
                let (src, dst) = (
                    Ipv4Address::from_octets(ip[12..16].try_into().unwrap()),
                    Ipv4Address::from_octets(ip[16..20].try_into().unwrap()),
                );
                let proto = IpProtocol::from(ip[9]);
                let pseudo = checksum::pseudo_header_v4(&src, &dst, proto, (total - ihl) as u32);
                Some((14 + ihl, 14 + total, field, proto, pseudo, (src.into(), dst.into())))
            }
            [0x86, 0xdd] if frame.len() >= 54 && ip[0] >> 4 == 6 => {
                let payload = u16::from_be_bytes([ip[4], ip[5]]) as usize;
                let field = match ip[6] {
                    6 => 16,
                    17 => 6,
                    _ => return None,
                };
                if payload > ip.len() - 40 || payload < field + 2 {
                    return None;
                }
                let (src, dst) = (
                    Ipv6Address::from_octets(ip[8..24].try_into().unwrap()),
                    Ipv6Address::from_octets(ip[24..40].try_into().unwrap()),
                );
                let proto = IpProtocol::from(ip[6]);
                let pseudo = checksum::pseudo_header_v6(&src, &dst, proto, payload as u32);
                Some((54, 54 + payload, field, proto, pseudo, (src.into(), dst.into())))
            }
            _ => None,
        }
    })();
    assert_eq!(done, eligible.is_some(), "handled frames differ from the qualifying ones");
    let Some((start, end, field, proto, pseudo, (src, dst))) = eligible else {
        assert_eq!(frame, orig, "a frame that was not handled was changed");
        return;
    };
    let at = start + field;
    for (i, (a, b)) in frame.iter().zip(&orig).enumerate() {
        assert!(a == b || i == at || i == at + 1, "byte {i} changed outside the checksum field");
    }
    let l4 = &frame[start..end];
    let sum = checksum::combine(&[pseudo, checksum::data(l4)]);
    assert_eq!(sum, 0xffff, "checksum does not verify");
    if proto == IpProtocol::Udp {
        assert_ne!(&frame[at..at + 2], &[0, 0], "a UDP checksum of 0 means none (RFC 768)");
        // smoltcp sums over the UDP length field; compare only where it matches the IP length.
        if let Some(p) = UdpPacket::new_checked(l4).ok().filter(|p| p.len() as usize == l4.len()) {
            assert!(p.verify_checksum(&src, &dst));
        }
    } else if let Ok(p) = TcpPacket::new_checked(l4) {
        assert!(p.verify_checksum(&src, &dst));
    }
    let mut again = frame.clone();
    assert!(complete_l4(&mut again));
    assert_eq!(again, frame, "completing twice changed the frame");
});
