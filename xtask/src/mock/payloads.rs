//! User-data payloads for the scenarios, demo and benchmark.
//!
//! Every scenario payload embeds a random marker string; the harness then checks that the
//! marker never shows up in flint's stderr (the contract: lengths only, never user-data bytes).

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::gzip;

/// A small, real-looking Ignition v3 config (also what `cargo xtask demo` serves).
pub const EXAMPLE_IGNITION: &str = include_str!("../../fixtures/example.ign");

/// AWS rejects user-data above 16 KB (before base64): a gzip upload must fit under it.
pub const AWS_USER_DATA_LIMIT: usize = 16 * 1024;

pub fn new_marker() -> String {
    format!("FLINTMARK-{}", crate::support::util::random_hex(8))
}

/// The example config plus one file whose contents are the marker.
pub fn ignition_small(marker: &str) -> Vec<u8> {
    let mut v: Value = serde_json::from_str(EXAMPLE_IGNITION).expect("fixtures/example.ign is valid JSON");
    v["storage"]["files"]
        .as_array_mut()
        .expect("fixture has storage.files")
        .push(json!({"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}}));
    let mut out = serde_json::to_vec_pretty(&v).expect("serialisable");
    out.push(b'\n');
    out
}

/// An Ignition config of about 280 KB that gzips to well under AWS's 16 KB limit: 68 files
/// carrying the same 4 KiB base64 blob (pseudo-random text, so the first copy really has to
/// be Huffman-coded and the rest become long back-references within deflate's 32 KiB window).
pub fn ignition_large(marker: &str) -> Vec<u8> {
    let mut seed: u32 = 0x2545_f491;
    let alphabet = b"abcdefghijklmnopqrstuvwxyz ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.,\n";
    let text: Vec<u8> = (0..3072)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            alphabet[(seed % alphabet.len() as u32) as usize]
        })
        .collect();
    let blob = base64::engine::general_purpose::STANDARD.encode(&text);
    let mut files: Vec<Value> = (0..68)
        .map(|i| {
            json!({
                "path": format!("/opt/flint/blob-{i:03}.txt"),
                "mode": 420,
                "contents": {"source": format!("data:;base64,{blob}")}
            })
        })
        .collect();
    files.push(json!({"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}}));
    let v = json!({"ignition": {"version": "3.4.0"}, "storage": {"files": files}});
    let mut out = serde_json::to_vec(&v).expect("serialisable");
    out.push(b'\n');
    out
}

/// The large config gzipped the way a user would upload it (`gzip user-data.ign` sets FNAME).
pub fn large_gzip(marker: &str) -> (Vec<u8>, Vec<u8>) {
    let plain = ignition_large(marker);
    let gz = gzip::gzip(&plain, Some("user-data.ign"));
    // Our own encoder is checked against our own decoder before flint ever sees it.
    assert_eq!(gzip::gunzip(&gz).as_deref(), Ok(&plain[..]), "gzip round trip");
    (plain, gz)
}

/// `#cloud-config` text of exactly `len` bytes carrying the marker; comment lines pad it, so
/// a scenario can sit exactly at `--max-size` or one byte over it.
pub fn cloud_config_of_len(marker: &str, len: usize) -> Vec<u8> {
    let mut out = format!("#cloud-config\n# {marker}\n").into_bytes();
    assert!(out.len() <= len, "{len} bytes cannot hold the header and marker");
    while out.len() < len {
        let line = (len - out.len()).min(64);
        out.extend(std::iter::repeat_n(b'#', line - 1));
        out.push(b'\n');
    }
    out
}

/// Ways to break a gzip member (RFC 1952 §2.3: CRC32 and ISIZE close every member).
#[derive(Clone, Copy, Debug)]
pub enum GzipDamage {
    /// One bit of the CRC-32 flipped.
    Crc,
    /// ISIZE one more than the real length (mod 2^32).
    Isize,
    /// Cut in the middle of the deflate stream: no end of block, no trailer.
    Truncated,
}

/// `plain` gzipped (no FNAME) and then damaged.
pub fn damaged_gzip(plain: &[u8], damage: GzipDamage) -> Vec<u8> {
    let mut gz = gzip::gzip(plain, None);
    let n = gz.len();
    match damage {
        GzipDamage::Crc => gz[n - 8] ^= 0x01,
        GzipDamage::Isize => gz[n - 4] = gz[n - 4].wrapping_add(1),
        // 10-byte header, then half of the deflate data.
        GzipDamage::Truncated => gz.truncate(10 + (n - 18) / 2),
    }
    gz
}

/// The marker followed by zeros up to `size` bytes, gzipped at the highest level: deflate's
/// best case, ~1030:1 (a 258-byte match costs about two bits), the classic gzip bomb.
pub fn zeros_gzip(marker: &str, size: usize) -> (Vec<u8>, Vec<u8>) {
    let mut plain = format!("#cloud-config\n# {marker}\n").into_bytes();
    plain.resize(size, 0);
    let gz = gzip::gzip_level(&plain, None, 10);
    (plain, gz)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exact_length_and_damaged_gzip() {
        for len in [43, 44, 4096, 4097, 65_536] {
            let p = cloud_config_of_len("FLINTMARK-0123456789abcdef", len);
            assert_eq!(p.len(), len);
            assert!(p.starts_with(b"#cloud-config\n# FLINTMARK-0123456789abcdef\n") && p.ends_with(b"\n"));
        }
        let plain = ignition_small("FLINTMARK-x");
        for d in [GzipDamage::Crc, GzipDamage::Isize, GzipDamage::Truncated] {
            let gz = damaged_gzip(&plain, d);
            assert_eq!(&gz[..2], &[0x1f, 0x8b], "{d:?} still looks like gzip");
            assert!(gzip::gunzip(&gz).is_err(), "{d:?} must not decode");
        }
    }

    #[test]
    fn zeros_gzip_is_a_bomb() {
        let (plain, gz) = zeros_gzip("FLINTMARK-x", 64 << 20);
        assert_eq!(plain.len(), 64 << 20);
        assert!(plain.len() / gz.len() > 1000, "ratio {}:1", plain.len() / gz.len());
        assert_eq!(gzip::gunzip(&gz).unwrap(), plain);
    }

    #[test]
    fn large_payload_fits_the_aws_limit_only_compressed() {
        let (plain, gz) = large_gzip("FLINTMARK-x");
        assert!(plain.len() > 270_000 && plain.len() < 300_000, "{}", plain.len());
        assert!(gz.len() < AWS_USER_DATA_LIMIT, "{}", gz.len());
        assert_eq!(gzip::gunzip(&gz).unwrap(), plain);
        let v: Value = serde_json::from_slice(&plain).unwrap();
        assert_eq!(v["ignition"]["version"], "3.4.0");
    }

    #[test]
    fn small_payload_carries_the_marker() {
        let p = ignition_small("FLINTMARK-abc");
        assert!(String::from_utf8(p.clone()).unwrap().contains("FLINTMARK-abc"));
        let v: Value = serde_json::from_slice(&p).unwrap();
        assert_eq!(v["passwd"]["users"][0]["name"], "core");
    }
}
