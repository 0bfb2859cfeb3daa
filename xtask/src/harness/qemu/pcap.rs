//! Reads QEMU `filter-dump` captures, to prove a tap scenario really handed the guest
//! CHECKSUM_PARTIAL frames (the TP_STATUS_CSUMNOTREADY path flint must handle).
//!
//! On a tap netdev with `vnet_hdr`, QEMU 7.2's filter-dump writes each frame with its
//! 12-byte virtio-net header in front (flags, gso_type, hdr_len, gso_size, csum_start,
//! csum_offset, num_buffers); `VIRTIO_NET_HDR_F_NEEDS_CSUM` in the flags is what the guest
//! driver turns into CHECKSUM_PARTIAL.
//!
//! The dual-stack boots also read which families the guest used and when (`tap_frames`,
//! `tcp`): QEMU stamps each record with the host's clock as the frame passes the netdev.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const VNET_HDR_LEN: usize = 12;
const VIRTIO_NET_HDR_F_NEEDS_CSUM: u8 = 1;

/// Frames of a classic little-endian pcap file (microsecond or nanosecond magic).
pub fn frames(pcap: &[u8]) -> Result<Vec<&[u8]>, String> {
    if pcap.len() < 24 {
        return Err("pcap file too short".into());
    }
    let magic = u32::from_le_bytes(pcap[..4].try_into().expect("4 bytes"));
    if magic != 0xa1b2_c3d4 && magic != 0xa1b2_3c4d {
        return Err(format!("not a little-endian pcap file (magic {magic:#x})"));
    }
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[i + 8..i + 12].try_into().expect("4 bytes")) as usize;
        let data = pcap.get(i + 16..i + 16 + incl).ok_or("truncated pcap record")?;
        out.push(data);
        i += 16 + incl;
    }
    Ok(out)
}

/// Counts IPv4 TCP frames from `src` that carry `NEEDS_CSUM` in their virtio-net header:
/// the ones the guest kernel delivers with a partial checksum.
pub fn partial_tcp_from(pcap: &[u8], src: [u8; 4]) -> Result<usize, String> {
    Ok(frames(pcap)?
        .into_iter()
        .filter(|f| f.len() >= VNET_HDR_LEN + 14 + 20 && f[0] & VIRTIO_NET_HDR_F_NEEDS_CSUM != 0)
        .map(|f| &f[VNET_HDR_LEN..])
        .filter(|eth| eth[12..14] == [0x08, 0x00] && eth[14 + 9] == 6 && eth[14 + 12..14 + 16] == src)
        .count())
}

/// Counts the frames of a tap capture (virtio-net header first) whose Ethernet source is
/// `mac`: what the guest sent on that NIC.
pub fn frames_from_mac(pcap: &[u8], mac: [u8; 6]) -> Result<usize, String> {
    Ok(frames(pcap)?
        .into_iter()
        .filter(|f| f.len() >= VNET_HDR_LEN + 14 && f[VNET_HDR_LEN + 6..VNET_HDR_LEN + 12] == mac)
        .count())
}

pub const ETH_IPV4: u16 = 0x0800;
pub const ETH_ARP: u16 = 0x0806;
pub const ETH_IPV6: u16 = 0x86dd;

/// One frame of a tap capture: the host time it passed QEMU's netdev (seconds since the
/// epoch) and the Ethernet frame without the virtio-net header.
#[derive(Clone, Copy, Debug)]
pub struct TapFrame<'a> {
    pub t: f64,
    pub eth: &'a [u8],
}

impl TapFrame<'_> {
    pub fn src_mac(&self) -> &[u8] {
        &self.eth[6..12]
    }

    pub fn ethertype(&self) -> u16 {
        u16::from_be_bytes([self.eth[12], self.eth[13]])
    }
}

/// The frames of a tap capture (virtio-net header first) with their timestamps; records too
/// short for an Ethernet header are left out.
pub fn tap_frames(pcap: &[u8]) -> Result<Vec<TapFrame<'_>>, String> {
    if pcap.len() < 24 {
        return Err("pcap file too short".into());
    }
    let magic = u32::from_le_bytes(pcap[..4].try_into().expect("4 bytes"));
    let per_second = match magic {
        0xa1b2_c3d4 => 1e6,
        0xa1b2_3c4d => 1e9,
        _ => return Err(format!("not a little-endian pcap file (magic {magic:#x})")),
    };
    let mut out = Vec::new();
    let mut i = 24;
    while i + 16 <= pcap.len() {
        let word = |o: usize| u32::from_le_bytes(pcap[i + o..i + o + 4].try_into().expect("4 bytes"));
        let (sec, frac, incl) = (word(0), word(4), word(8) as usize);
        let data = pcap.get(i + 16..i + 16 + incl).ok_or("truncated pcap record")?;
        if data.len() >= VNET_HDR_LEN + 14 {
            out.push(TapFrame { t: f64::from(sec) + f64::from(frac) / per_second, eth: &data[VNET_HDR_LEN..] });
        }
        i += 16 + incl;
    }
    Ok(out)
}

pub const TCP_SYN: u8 = 0x02;
pub const TCP_ACK: u8 = 0x10;

/// A TCP segment's addresses, ports, flags and payload length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tcp {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub sport: u16,
    pub dport: u16,
    pub flags: u8,
    pub payload: usize,
}

/// The TCP segment of an Ethernet frame (IPv4, or IPv6 with TCP as the first next header).
pub fn tcp(eth: &[u8]) -> Option<Tcp> {
    let ip = eth.get(14..)?;
    let (src, dst, seg, ip_payload) = match u16::from_be_bytes([*eth.get(12)?, *eth.get(13)?]) {
        ETH_IPV4 if ip.first()? >> 4 == 4 && *ip.get(9)? == 6 => {
            let ihl = usize::from(ip[0] & 0xf) * 4;
            let total = usize::from(u16::from_be_bytes([*ip.get(2)?, *ip.get(3)?]));
            let a = |o: usize| -> Option<IpAddr> {
                Some(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(ip.get(o..o + 4)?).ok()?)))
            };
            (a(12)?, a(16)?, ip.get(ihl..)?, total.checked_sub(ihl)?)
        }
        ETH_IPV6 if ip.first()? >> 4 == 6 && *ip.get(6)? == 6 => {
            let len = usize::from(u16::from_be_bytes([*ip.get(4)?, *ip.get(5)?]));
            let a = |o: usize| -> Option<IpAddr> {
                Some(IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(ip.get(o..o + 16)?).ok()?)))
            };
            (a(8)?, a(24)?, ip.get(40..)?, len)
        }
        _ => return None,
    };
    let doff = usize::from(seg.get(12)? >> 4) * 4;
    Some(Tcp {
        src,
        dst,
        sport: u16::from_be_bytes([*seg.first()?, *seg.get(1)?]),
        dport: u16::from_be_bytes([*seg.get(2)?, *seg.get(3)?]),
        flags: *seg.get(13)?,
        payload: ip_payload.saturating_sub(doff),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(data: &[u8]) -> Vec<u8> {
        let mut r = vec![0u8; 8];
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(&(data.len() as u32).to_le_bytes());
        r.extend_from_slice(data);
        r
    }

    fn frame(flags: u8, proto: u8, src: [u8; 4]) -> Vec<u8> {
        let mut f = vec![flags];
        f.extend_from_slice(&[0; VNET_HDR_LEN - 1]);
        f.extend_from_slice(&[0; 12]); // MACs
        f.extend_from_slice(&[0x08, 0x00]);
        let mut ip = vec![0x45, 0, 0, 40, 0, 0, 0, 0, 64, proto, 0, 0];
        ip.extend_from_slice(&src);
        ip.extend_from_slice(&[10, 0, 0, 57]);
        f.extend_from_slice(&ip);
        f.extend_from_slice(&[0; 20]);
        f
    }

    #[test]
    fn counts_only_partial_tcp_from_the_source() {
        let mut pcap = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        pcap.extend_from_slice(&[0; 20]);
        let md = [169, 254, 169, 254];
        for f in [frame(1, 6, md), frame(0, 6, md), frame(1, 17, md), frame(1, 6, [10, 0, 0, 1]), frame(1, 6, md)] {
            pcap.extend(record(&f));
        }
        assert_eq!(frames(&pcap).unwrap().len(), 5);
        assert_eq!(partial_tcp_from(&pcap, md).unwrap(), 2);
        assert!(frames(b"nope").is_err());
        // Every frame above has all-zero MACs.
        assert_eq!(frames_from_mac(&pcap, [0; 6]).unwrap(), 5);
        assert_eq!(frames_from_mac(&pcap, [2, 0, 0, 0, 0, 0]).unwrap(), 0);
        let tap = tap_frames(&pcap).unwrap();
        assert_eq!(tap.len(), 5);
        assert_eq!(tap[0].ethertype(), ETH_IPV4);
        let seg = tcp(tap[0].eth).unwrap();
        assert_eq!((seg.src, seg.dst), ("169.254.169.254".parse().unwrap(), "10.0.0.57".parse().unwrap()));
        assert!(tcp(tap[2].eth).is_none(), "UDP");
    }

    #[test]
    fn reads_an_ipv6_syn_with_its_time() {
        let mut f = vec![0u8; VNET_HDR_LEN];
        f.extend_from_slice(&[0x02, 0, 0, 0, 0, 1, 0x02, 0xf1, 0x17, 0x51, 0, 1, 0x86, 0xdd]);
        let mut ip = vec![0x60, 0, 0, 0, 0, 20, 6, 64];
        ip.extend_from_slice(&"fd00::f1:17ff:fe51:1".parse::<Ipv6Addr>().unwrap().octets());
        ip.extend_from_slice(&"fd00:ec2::254".parse::<Ipv6Addr>().unwrap().octets());
        f.extend_from_slice(&ip);
        let mut t = vec![0xc0, 0x01, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, TCP_SYN, 0xff, 0xff, 0, 0, 0, 0];
        f.append(&mut t);
        let mut pcap = 0xa1b2_c3d4u32.to_le_bytes().to_vec();
        pcap.extend_from_slice(&[0; 20]);
        let mut r = record(&f);
        r[..8].copy_from_slice(&[10, 0, 0, 0, 0x20, 0xa1, 0x07, 0]); // 10 s + 500000 µs
        pcap.extend(r);
        let tap = tap_frames(&pcap).unwrap();
        assert_eq!(tap.len(), 1);
        assert!((tap[0].t - 10.5).abs() < 1e-9, "{}", tap[0].t);
        assert_eq!(tap[0].src_mac(), [0x02, 0xf1, 0x17, 0x51, 0, 1]);
        let seg = tcp(tap[0].eth).unwrap();
        assert_eq!(seg.dst, "fd00:ec2::254".parse::<IpAddr>().unwrap());
        assert_eq!((seg.sport, seg.dport, seg.flags, seg.payload), (0xc001, 80, TCP_SYN, 0));
    }
}
