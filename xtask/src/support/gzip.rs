//! RFC 1952 gzip members built on miniz_oxide's raw deflate (already in the workspace lock,
//! so no flate2), and the inverse for checking what flint wrote.

const CRC32: crc::Crc<u32> = crc::Crc::<u32>::new(&crc::CRC_32_ISO_HDLC);
const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;

/// One gzip member at level 9. `name` sets FNAME the way `gzip FILE` does, so flint's
/// header parser sees the optional field real uploads carry.
pub fn gzip(data: &[u8], name: Option<&str>) -> Vec<u8> {
    gzip_level(data, name, 9)
}

/// `gzip` at a chosen deflate level (0-10); the initramfs uses a faster one.
pub fn gzip_level(data: &[u8], name: Option<&str>, level: u8) -> Vec<u8> {
    let mut out = vec![0x1f, 0x8b, 8, if name.is_some() { FNAME } else { 0 }];
    out.extend_from_slice(&0u32.to_le_bytes()); // MTIME unknown: reproducible output
    out.extend_from_slice(&[2, 3]); // XFL = max compression, OS = Unix
    if let Some(n) = name {
        out.extend_from_slice(n.as_bytes());
        out.push(0);
    }
    out.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(data, level));
    out.extend_from_slice(&CRC32.checksum(data).to_le_bytes());
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out
}

/// Decodes a single gzip member, verifying CRC-32 and ISIZE.
pub fn gunzip(gz: &[u8]) -> Result<Vec<u8>, String> {
    if gz.len() < 18 || gz[0] != 0x1f || gz[1] != 0x8b || gz[2] != 8 {
        return Err("not a gzip member".into());
    }
    let flags = gz[3];
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = usize::from(u16::from_le_bytes([gz[pos], gz[pos + 1]]));
        pos += 2 + xlen;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let end = gz[pos..].iter().position(|&b| b == 0).ok_or("unterminated header string")?;
            pos += end + 1;
        }
    }
    if flags & FHCRC != 0 {
        pos += 2;
    }
    if pos + 8 > gz.len() {
        return Err("truncated gzip member".into());
    }
    let body = &gz[pos..gz.len() - 8];
    let data = miniz_oxide::inflate::decompress_to_vec(body).map_err(|e| format!("inflate: {e:?}"))?;
    let trailer = &gz[gz.len() - 8..];
    let crc = u32::from_le_bytes(trailer[..4].try_into().unwrap());
    let isize = u32::from_le_bytes(trailer[4..].try_into().unwrap());
    if crc != CRC32.checksum(&data) || isize != data.len() as u32 {
        return Err("gzip trailer mismatch".into());
    }
    Ok(data)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_and_without_name() {
        let data = b"{\"ignition\":{\"version\":\"3.4.0\"}}".repeat(100);
        for name in [None, Some("user-data.ign")] {
            let gz = gzip(&data, name);
            assert!(gz.len() < data.len());
            assert_eq!(gunzip(&gz).unwrap(), data);
        }
    }

    #[test]
    fn corrupt_trailer_is_detected() {
        let mut gz = gzip(b"hello", None);
        let n = gz.len();
        gz[n - 8] ^= 1;
        assert!(gunzip(&gz).is_err());
    }
}
