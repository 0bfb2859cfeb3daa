//! Payload decoding, sans-IO: base64 on platforms that encode, then gzip wherever the payload
//! starts with the gzip magic, streamed into an `embedded_io::Write` sink under a size cap.
//!
//! gzip is parsed by hand (RFC 1952) around miniz_oxide's raw inflate: header fields in the order
//! of §2.3.1, FHCRC checked, and every member's CRC-32 and ISIZE verified. Concatenated members
//! are decoded in turn (§2.2, as gunzip does); anything else after a member is rejected.
//! Decompressed bytes pass through a 32 KiB ring (the deflate window), so memory stays constant
//! however large the output; the cap stops a gzip bomb after at most `max` bytes.
//!
//! Beside it: [`json`], the push JSON scanner, and [`cmdline`], the kernel command line's words.

pub mod cmdline;
pub mod ignition;
pub mod include;
pub mod json;
pub mod xml;
pub mod yaml;

use core::fmt;
use crc::{CRC_32_ISO_HDLC, Crc, Table};
use embedded_io::Write;
use miniz_oxide::inflate::TINFLStatus;
use miniz_oxide::inflate::core::{DecompressorOxide, decompress};

/// How a platform encodes user-data on the wire.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Encoding {
    /// The bytes as the user uploaded them.
    Raw,
    /// RFC 4648 base64 text (whitespace tolerated, padding optional).
    Base64,
    /// Azure's `ovf-env.xml`: the base64 text of its `CustomData` element ([`xml::CUSTOM_DATA`]);
    /// a document without one is no user-data.
    OvfEnv,
}

/// Why a payload could not be decoded or stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DecodeError {
    /// Not valid base64.
    Base64,
    /// An `ovf-env.xml` that is not well-formed XML flint reads (see [`xml`]).
    Xml,
    /// gzip header malformed: bad method, reserved flags, or FHCRC mismatch.
    GzipHeader,
    /// The deflate stream is corrupt.
    Inflate,
    /// The gzip stream ends early.
    Truncated,
    /// CRC-32 of the decompressed data differs from the trailer.
    Crc,
    /// ISIZE in the trailer differs from the decompressed length.
    Isize,
    /// Bytes after the last gzip member that are not another member.
    TrailingData,
    /// The decoded payload exceeds the configured cap.
    TooLarge,
    /// The sink refused the bytes (disk full, I/O error).
    Sink,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DecodeError::Base64 => "invalid base64",
            DecodeError::Xml => "invalid ovf-env.xml",
            DecodeError::GzipHeader => "invalid gzip header",
            DecodeError::Inflate => "corrupt deflate data",
            DecodeError::Truncated => "truncated gzip stream",
            DecodeError::Crc => "gzip CRC-32 mismatch",
            DecodeError::Isize => "gzip ISIZE mismatch",
            DecodeError::TrailingData => "trailing data after gzip stream",
            DecodeError::TooLarge => "decoded payload exceeds --max-size",
            DecodeError::Sink => "could not store decoded bytes",
        })
    }
}

impl core::error::Error for DecodeError {}

/// The deflate window: the ring decompressed bytes pass through. Must be a power of two and at
/// least 32 KiB (RFC 1951 §2 distance limit) for miniz_oxide's wrapping mode.
pub const WINDOW: usize = 32 * 1024;

/// CRC-32 as gzip defines it (RFC 1952 §8: ISO 3309 polynomial, reflected); one 1 KiB table.
pub const CRC32: Crc<u32, Table<1>> = Crc::<u32, Table<1>>::new(&CRC_32_ISO_HDLC);

const FHCRC: u8 = 0x02;
const FEXTRA: u8 = 0x04;
const FNAME: u8 = 0x08;
const FCOMMENT: u8 = 0x10;
const FRESERVED: u8 = 0xe0;

/// Result of decoding: how many bytes reached the sink and whether they were gzip'd.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Decoded {
    pub written: u64,
    pub gzip: bool,
}

/// True when `data` starts like a gzip member (ID1 ID2 CM=deflate).
pub fn is_gzip(data: &[u8]) -> bool {
    data.starts_with(&[0x1f, 0x8b, 0x08])
}

/// Decodes the `CustomData` of Azure's `ovf-env.xml` into `out`: 0 bytes when there is none.
pub fn ovf_custom_data(doc: &mut [u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    match xml::first(doc, xml::CUSTOM_DATA) {
        Ok(Some(r)) => unbase64(&mut doc[r], out),
        Ok(None) => Ok(0),
        Err(_) => Err(DecodeError::Xml),
    }
}

/// Decodes base64 `text` (RFC 4648 §4 alphabet) into `out`, ignoring ASCII whitespace
/// (services and users wrap lines) and accepting missing padding. `text` is compacted in place
/// first, which is why it is `&mut`. Padding is only allowed at the very end, and the unused low
/// bits of the last symbol must be zero (§3.5), so every text has one decoding.
pub fn unbase64(text: &mut [u8], out: &mut [u8]) -> Result<usize, DecodeError> {
    let mut n = 0;
    for i in 0..text.len() {
        let b = text[i];
        if !b.is_ascii_whitespace() {
            text[n] = b;
            n += 1;
        }
    }
    let mut text = &text[..n];
    // Up to two '=' at the end, and only where they complete a 4-symbol group.
    let pad = text.iter().rev().take_while(|&&b| b == b'=').count();
    if pad > 2 || (pad > 0 && n % 4 != 0) {
        return Err(DecodeError::Base64);
    }
    text = &text[..n - pad];
    if text.len() % 4 == 1 {
        return Err(DecodeError::Base64);
    }
    let len = text.len() / 4 * 3 + (text.len() % 4).saturating_sub(1);
    if len > out.len() {
        return Err(DecodeError::Base64);
    }
    let mut acc = 0u32;
    let mut bits = 0;
    let mut w = 0;
    for &b in text {
        let v = match b {
            b'A'..=b'Z' => b - b'A',
            b'a'..=b'z' => b - b'a' + 26,
            b'0'..=b'9' => b - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            _ => return Err(DecodeError::Base64),
        };
        acc = (acc << 6) | v as u32;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out[w] = (acc >> bits) as u8;
            w += 1;
        }
    }
    // Leftover bits (2 or 4) must be zero.
    if acc & ((1 << bits) - 1) != 0 {
        return Err(DecodeError::Base64);
    }
    Ok(w)
}

/// A [`Write`] into a slice: it takes what fits, and once full refuses the rest
/// (`OutOfMemory`: `write_all` fails), never dropping bytes silently.
pub struct SliceSink<'b> {
    buf: &'b mut [u8],
    len: usize,
}

impl<'b> SliceSink<'b> {
    pub fn new(buf: &'b mut [u8]) -> SliceSink<'b> {
        SliceSink { buf, len: 0 }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl embedded_io::ErrorType for SliceSink<'_> {
    type Error = embedded_io::ErrorKind;
}

impl Write for SliceSink<'_> {
    fn write(&mut self, data: &[u8]) -> Result<usize, Self::Error> {
        let n = data.len().min(self.buf.len() - self.len);
        if n == 0 && !data.is_empty() {
            return Err(embedded_io::ErrorKind::OutOfMemory);
        }
        self.buf[self.len..self.len + n].copy_from_slice(&data[..n]);
        self.len += n;
        Ok(n)
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Writes `payload` to `sink`: gunzipped if it is gzip, as is otherwise; at most `max` bytes.
/// `window` is scratch space of [`WINDOW`] bytes.
pub fn decode<W: Write>(
    payload: &[u8],
    window: &mut [u8; WINDOW],
    max: u64,
    sink: &mut W,
) -> Result<Decoded, DecodeError> {
    if is_gzip(payload) {
        let written = gunzip(payload, window, max, sink)?;
        return Ok(Decoded { written, gzip: true });
    }
    if payload.len() as u64 > max {
        return Err(DecodeError::TooLarge);
    }
    sink.write_all(payload).map_err(|_| DecodeError::Sink)?;
    Ok(Decoded { written: payload.len() as u64, gzip: false })
}

/// Decompresses every member of a gzip stream into `sink`; returns the total length.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
pub fn gunzip<W: Write>(data: &[u8], window: &mut [u8; WINDOW], max: u64, sink: &mut W) -> Result<u64, DecodeError> {
    // Held here rather than in a static: it is 10.5 KB and used once per run.
    let mut inflater = DecompressorOxide::new();
    let mut total = 0u64;
    let mut pos = 0;
    loop {
        pos += member_header(&data[pos..])?;
        inflater.init();
        let mut crc = CRC32.digest();
        let mut member_len = 0u64;
        let mut out_pos = 0;
        loop {
            // No HAS_MORE_INPUT flag: the whole stream is in `data`, so running out of input
            // means truncation rather than a request for more.
            let (status, used, produced) = decompress(&mut inflater, &data[pos..], window, out_pos, 0);
            pos += used;
            if produced > 0 {
                total += produced as u64;
                if total > max {
                    return Err(DecodeError::TooLarge);
                }
                let fresh = &window[out_pos..out_pos + produced];
                crc.update(fresh);
                sink.write_all(fresh).map_err(|_| DecodeError::Sink)?;
                member_len += produced as u64;
                out_pos = (out_pos + produced) & (WINDOW - 1);
            }
            match status {
                TINFLStatus::Done => break,
                TINFLStatus::HasMoreOutput => continue,
                TINFLStatus::FailedCannotMakeProgress | TINFLStatus::NeedsMoreInput => {
                    return Err(DecodeError::Truncated);
                }
                _ => return Err(DecodeError::Inflate),
            }
        }
        // Trailer (§2.3.1): CRC32 then ISIZE, both little-endian; ISIZE is the length mod 2^32.
        let trailer = data.get(pos..pos + 8).ok_or(DecodeError::Truncated)?;
        if u32::from_le_bytes([trailer[0], trailer[1], trailer[2], trailer[3]]) != crc.finalize() {
            return Err(DecodeError::Crc);
        }
        if u32::from_le_bytes([trailer[4], trailer[5], trailer[6], trailer[7]]) != member_len as u32 {
            return Err(DecodeError::Isize);
        }
        pos += 8;
        if pos == data.len() {
            return Ok(total);
        }
        if !is_gzip(&data[pos..]) {
            return Err(DecodeError::TrailingData);
        }
    }
}

/// Parses a member header (RFC 1952 §2.3.1) and returns its length.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn member_header(data: &[u8]) -> Result<usize, DecodeError> {
    let fixed = data.get(..10).ok_or(DecodeError::Truncated)?;
    if !is_gzip(fixed) || fixed[3] & FRESERVED != 0 {
        return Err(DecodeError::GzipHeader);
    }
    let flags = fixed[3];
    // FTEXT (0x01) is only a hint about the content: nothing to do.
    let mut pos = 10;
    if flags & FEXTRA != 0 {
        let xlen = data.get(pos..pos + 2).ok_or(DecodeError::Truncated)?;
        pos += 2 + u16::from_le_bytes([xlen[0], xlen[1]]) as usize;
    }
    for flag in [FNAME, FCOMMENT] {
        if flags & flag != 0 {
            let rest = data.get(pos..).ok_or(DecodeError::Truncated)?;
            pos += rest.iter().position(|&b| b == 0).ok_or(DecodeError::Truncated)? + 1;
        }
    }
    if flags & FHCRC != 0 {
        let stored = data.get(pos..pos + 2).ok_or(DecodeError::Truncated)?;
        // CRC16 = the two least significant bytes of the CRC-32 of the header so far.
        let want = CRC32.checksum(&data[..pos]) as u16;
        if u16::from_le_bytes([stored[0], stored[1]]) != want {
            return Err(DecodeError::GzipHeader);
        }
        pos += 2;
    }
    if pos > data.len() {
        return Err(DecodeError::Truncated);
    }
    Ok(pos)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use flate2::{Compression, GzBuilder, write::GzEncoder};
    use std::io::Write as _;
    use std::vec::Vec;

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    fn run(payload: &[u8], max: u64) -> Result<(Vec<u8>, Decoded), DecodeError> {
        let mut window = [0u8; WINDOW];
        let mut out = VecSink(Vec::new());
        let d = decode(payload, &mut window, max, &mut out)?;
        assert_eq!(d.written, out.0.len() as u64);
        Ok((out.0, d))
    }

    struct VecSink(Vec<u8>);
    impl embedded_io::ErrorType for VecSink {
        type Error = embedded_io::ErrorKind;
    }
    impl Write for VecSink {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.0.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    fn sample(n: usize) -> Vec<u8> {
        // Compressible but not trivial: a config-like text with varying numbers.
        let mut v = Vec::new();
        let mut i = 0u32;
        while v.len() < n {
            v.extend(std::format!("{{\"path\":\"/etc/file{i}\",\"mode\":{}}},\n", i % 511).as_bytes());
            i = i.wrapping_mul(2654435761).wrapping_add(1);
        }
        v.truncate(n);
        v
    }

    #[test]
    fn raw_payload_passes_through() {
        let (out, d) = run(b"#cloud-config\nhostname: a\n", 1024).unwrap();
        assert_eq!(out, b"#cloud-config\nhostname: a\n");
        assert!(!d.gzip);
    }

    #[test]
    fn gzip_round_trip_larger_than_the_window() {
        let data = sample(280 * 1024);
        let (out, d) = run(&gz(&data), 16 << 20).unwrap();
        assert!(d.gzip);
        assert_eq!(out, data);
    }

    #[test]
    fn optional_header_fields_are_skipped_and_fhcrc_checked() {
        let data = sample(5000);
        let mut z = Vec::new();
        let mut e =
            GzBuilder::new().filename("user-data").comment("c").extra(&b"xx"[..]).write(&mut z, Compression::fast());
        e.write_all(&data).unwrap();
        e.finish().unwrap();
        assert_eq!(run(&z, 1 << 20).unwrap().0, data);

        // Add FHCRC by hand: flags |= 2 and the CRC16 after the header.
        let plain = gz(&data);
        let mut with_hcrc = plain[..10].to_vec();
        with_hcrc[3] |= FHCRC;
        let crc16 = (CRC32.checksum(&with_hcrc) as u16).to_le_bytes();
        with_hcrc.extend(crc16);
        with_hcrc.extend(&plain[10..]);
        assert_eq!(run(&with_hcrc, 1 << 20).unwrap().0, data);
        with_hcrc[10] ^= 1;
        assert_eq!(run(&with_hcrc, 1 << 20), Err(DecodeError::GzipHeader));
    }

    #[test]
    fn concatenated_members() {
        let mut z = gz(b"first ");
        z.extend(gz(b"second"));
        assert_eq!(run(&z, 100).unwrap().0, b"first second");
    }

    #[test]
    fn corrupt_streams_are_rejected() {
        let data = sample(40_000);
        let z = gz(&data);
        let n = z.len();

        let mut bad_crc = z.clone();
        bad_crc[n - 8] ^= 0xff;
        assert_eq!(run(&bad_crc, 1 << 20), Err(DecodeError::Crc));

        let mut bad_isize = z.clone();
        bad_isize[n - 1] ^= 0x01;
        assert_eq!(run(&bad_isize, 1 << 20), Err(DecodeError::Isize));

        for cut in [11, n / 2, n - 9, n - 4, n - 1] {
            assert_eq!(run(&z[..cut], 1 << 20), Err(DecodeError::Truncated), "cut at {cut}");
        }

        let mut garbage = z.clone();
        garbage.extend(b"junk");
        assert_eq!(run(&garbage, 1 << 20), Err(DecodeError::TrailingData));

        let mut reserved = z.clone();
        reserved[3] |= 0x20;
        assert_eq!(run(&reserved, 1 << 20), Err(DecodeError::GzipHeader));

        let mut corrupt = z.clone();
        for b in &mut corrupt[12..40] {
            *b = 0xff;
        }
        assert!(matches!(run(&corrupt, 1 << 20), Err(DecodeError::Inflate | DecodeError::Crc | DecodeError::Isize)));
    }

    #[test]
    fn size_cap_stops_bombs_and_is_exact() {
        // 64 MiB of zeros compresses about 1000:1.
        let bomb = gz(&std::vec![0u8; 64 << 20]);
        assert!(bomb.len() < (64 << 20) / 1000);
        let mut window = [0u8; WINDOW];
        let mut counted = Counting(0);
        assert_eq!(decode(&bomb, &mut window, 16 << 20, &mut counted), Err(DecodeError::TooLarge));
        assert!(counted.0 <= 16 << 20, "never more than the cap reaches the sink");

        let data = sample(1000);
        assert_eq!(run(&gz(&data), 1000).unwrap().0, data);
        assert_eq!(run(&gz(&data), 999), Err(DecodeError::TooLarge));
        assert_eq!(run(&data, 1000).unwrap().0, data);
        assert_eq!(run(&data, 999), Err(DecodeError::TooLarge));
    }

    struct Counting(u64);
    impl embedded_io::ErrorType for Counting {
        type Error = embedded_io::ErrorKind;
    }
    impl Write for Counting {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.0 += buf.len() as u64;
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    struct Full;
    impl embedded_io::ErrorType for Full {
        type Error = embedded_io::ErrorKind;
    }
    impl Write for Full {
        fn write(&mut self, _: &[u8]) -> Result<usize, Self::Error> {
            Err(embedded_io::ErrorKind::OutOfMemory)
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn sink_failure_is_reported() {
        let mut window = [0u8; WINDOW];
        assert_eq!(decode(b"abc", &mut window, 10, &mut Full), Err(DecodeError::Sink));
        assert_eq!(decode(&gz(b"abc"), &mut window, 10, &mut Full), Err(DecodeError::Sink));
    }

    #[test]
    fn base64_with_whitespace_and_optional_padding() {
        let mut out = [0u8; 64];
        let mut t = *b"aGVs\nbG8g\r\nd29y bGQ=\n";
        let n = unbase64(&mut t, &mut out).unwrap();
        assert_eq!(&out[..n], b"hello world");
        let mut unpadded = *b"aGVsbG8gd29ybGQ";
        let n = unbase64(&mut unpadded, &mut out).unwrap();
        assert_eq!(&out[..n], b"hello world");
        let mut empty = *b" \n";
        assert_eq!(unbase64(&mut empty, &mut out), Ok(0));
        for bad in
            [&b"aGVs!G8="[..], b"a", b"aGVsbG8=aGVs", b"aG=V", b"aGVsbG9=", b"aGVsbA===", b"aGVsbA=", b"aGVsbG8-"]
        {
            let mut t = bad.to_vec();
            assert_eq!(unbase64(&mut t, &mut out), Err(DecodeError::Base64), "{bad:?}");
        }
        let mut long = *b"aGVsbG8gd29ybGQ=";
        assert_eq!(unbase64(&mut long, &mut out[..5]), Err(DecodeError::Base64));
        let mut exact = *b"aGVsbG8gd29ybGQ=";
        assert_eq!(unbase64(&mut exact, &mut out[..11]), Ok(11));
    }

    #[test]
    fn base64_agrees_with_the_base64_crate() {
        use base64::Engine;
        let mut out = [0u8; 300];
        for len in 0..200usize {
            let data: Vec<u8> = (0..len).map(|i| (i * 37 + len) as u8).collect();
            for engine in [base64::engine::general_purpose::STANDARD, base64::engine::general_purpose::STANDARD_NO_PAD]
            {
                let mut t = engine.encode(&data).into_bytes();
                let n = unbase64(&mut t, &mut out).unwrap();
                assert_eq!(&out[..n], &data[..], "len {len}");
            }
        }
    }

    #[test]
    fn base64_then_gzip() {
        use base64::Engine;
        let data = sample(3000);
        let text = base64::engine::general_purpose::STANDARD.encode(gz(&data));
        let mut t = text.into_bytes();
        let mut decoded = std::vec![0u8; t.len()];
        let n = unbase64(&mut t, &mut decoded).unwrap();
        assert_eq!(run(&decoded[..n], 1 << 20).unwrap().0, data);
    }

    #[test]
    fn crc32_known_vector() {
        assert_eq!(CRC32.checksum(b"123456789"), 0xcbf43926);
    }
}
