//! Reads QEMU `filter-dump` captures, to prove a tap scenario really handed the guest
//! CHECKSUM_PARTIAL frames (the TP_STATUS_CSUMNOTREADY path flint must handle).
//!
//! On a tap netdev with `vnet_hdr`, QEMU 7.2's filter-dump writes each frame with its
//! 12-byte virtio-net header in front (flags, gso_type, hdr_len, gso_size, csum_start,
//! csum_offset, num_buffers); `VIRTIO_NET_HDR_F_NEEDS_CSUM` in the flags is what the guest
//! driver turns into CHECKSUM_PARTIAL.

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
    }
}
