//! PEM certificate bundles (RFC 7468 §5) to concatenated DER, in place.

use super::der::{self, tag};

const BEGIN: &[u8] = b"-----BEGIN CERTIFICATE-----";
const END: &[u8] = b"-----END CERTIFICATE-----";

/// Decodes every `-----BEGIN CERTIFICATE-----` block of `buf` in place into concatenated DER
/// at the front of `buf` and returns the DER length. Other blocks and text are ignored; a
/// block that is not valid base64 or not one whole DER SEQUENCE is skipped, so one bad entry
/// in a system bundle (~150 certificates) loses only itself.
///
/// Decoding in place is safe because output never overtakes input: every 4 base64 characters
/// read give at most 3 bytes written, starting at or before the block's own first byte.
pub fn pem_to_der(buf: &mut [u8]) -> usize {
    let mut w = 0;
    let mut r = 0;
    while let Some(b) = find(&buf[r..], BEGIN) {
        let body = r + b + BEGIN.len();
        let Some(e) = find(&buf[body..], END) else { break };
        let end = body + e;
        r = end + END.len();
        let start = w;
        match decode(buf, body, end, w) {
            Some(n) if whole_sequence(&buf[start..start + n]) => w = start + n,
            _ => w = start,
        }
    }
    w
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

fn whole_sequence(der: &[u8]) -> bool {
    matches!(der::header(der), Ok((tag::SEQUENCE, h, l)) if h + l == der.len())
}

/// Base64 (RFC 4648 §4) of `buf[from..to]`, whitespace skipped, written from `w`; the length
/// written, or None for a bad character, bad padding or a partial quantum.
fn decode(buf: &mut [u8], from: usize, to: usize, mut w: usize) -> Option<usize> {
    let start = w;
    let mut acc = 0u32;
    let mut n = 0;
    let mut pad = 0;
    for i in from..to {
        let c = buf[i];
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => {
                pad += 1;
                0
            }
            b' ' | b'\t' | b'\r' | b'\n' => continue,
            _ => return None,
        };
        // data after padding
        if pad > 0 && c != b'=' {
            return None;
        }
        acc = acc << 6 | v as u32;
        n += 1;
        if n == 4 {
            let bytes = acc.to_be_bytes();
            let keep = 3 - pad.min(2);
            if pad > 2 {
                return None;
            }
            // w + 3 ≤ i always holds: see pem_to_der.
            buf[w..w + keep].copy_from_slice(&bytes[1..1 + keep]);
            w += keep;
            acc = 0;
            n = 0;
            if pad > 0 {
                // only the final quantum may be padded; mark it so later data fails
                pad = 3;
            }
        }
    }
    if n != 0 { None } else { Some(w - start) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::pki::Anchors;

    #[test]
    fn bundle_with_junk_and_a_broken_block() {
        let mut buf = [0u8; 8192];
        let pem = include_bytes!("testdata/bundle.pem");
        buf[..pem.len()].copy_from_slice(pem);
        let n = pem_to_der(&mut buf[..pem.len()]);
        let roots: [&[u8]; 3] = [
            include_bytes!("testdata/root-rsa.der"),
            include_bytes!("testdata/root-p256.der"),
            include_bytes!("testdata/root-p384.der"),
        ];
        let want: usize = roots.iter().map(|r| r.len()).sum();
        assert_eq!(n, want);
        let mut at = 0;
        for r in roots {
            assert_eq!(&buf[at..at + r.len()], r);
            at += r.len();
        }
        assert_eq!(Anchors::new(&buf[..n]).count(), 3);
    }

    #[test]
    fn padding_and_truncation() {
        fn run(text: &[u8]) -> heapless::Vec<u8, 256> {
            let mut b = heapless::Vec::<u8, 256>::from_slice(text).unwrap();
            let n = pem_to_der(&mut b);
            b.truncate(n);
            b
        }
        // "MAMCAQE=" is 30 03 02 01 01: a SEQUENCE holding INTEGER 1
        let one = [0x30, 0x03, 0x02, 0x01, 0x01];
        assert_eq!(run(b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n")[..], one);
        assert_eq!(run(b"x-----BEGIN CERTIFICATE-----\r\nMAMC\r\nAQE=\r\n-----END CERTIFICATE-----")[..], one);
        // DER cut short, a partial quantum, padding inside, no END line, bad characters
        assert!(run(b"-----BEGIN CERTIFICATE-----\nMAMCAQ==\n-----END CERTIFICATE-----\n").is_empty());
        assert!(run(b"-----BEGIN CERTIFICATE-----\nMAMCAQE\n-----END CERTIFICATE-----\n").is_empty());
        assert!(run(b"-----BEGIN CERTIFICATE-----\nMA==MAMCAQE=\n-----END CERTIFICATE-----\n").is_empty());
        assert!(run(b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n").is_empty());
        assert!(run(b"-----BEGIN CERTIFICATE-----\nMAMC-QE=\n-----END CERTIFICATE-----\n").is_empty());
        // a bad block between two good ones loses only itself
        let two = run(b"-----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n\
            -----BEGIN CERTIFICATE-----\nMA!!\n-----END CERTIFICATE-----\n\
            -----BEGIN CERTIFICATE-----\nMAMCAQE=\n-----END CERTIFICATE-----\n");
        assert_eq!(two[..], [one, one].concat()[..]);
    }
}
