//! A strict DER reader (ITU-T X.690 §10) for the parts of X.509 flint reads.
//!
//! Only what DER allows is accepted: single-byte tags, definite lengths in their shortest form,
//! minimal INTEGERs, BOOLEANs of 0x00/0xFF. The reader never recurses: each caller walks the
//! one structure it expects (RFC 5280's certificate schema), so nesting depth is bounded by the
//! schema itself and every loop by the input's length.

use super::PkiError;

/// ASN.1 universal tags and the context-specific ones X.509 uses.
pub mod tag {
    pub const BOOLEAN: u8 = 0x01;
    pub const INTEGER: u8 = 0x02;
    pub const BIT_STRING: u8 = 0x03;
    pub const OCTET_STRING: u8 = 0x04;
    pub const NULL: u8 = 0x05;
    pub const OID: u8 = 0x06;
    pub const UTC_TIME: u8 = 0x17;
    pub const GENERALIZED_TIME: u8 = 0x18;
    pub const SEQUENCE: u8 = 0x30;
    pub const SET: u8 = 0x31;
    /// `[n]` constructed, context-specific (EXPLICIT tagging).
    pub const fn explicit(n: u8) -> u8 {
        0xa0 | n
    }
    /// `[n]` primitive, context-specific (IMPLICIT tagging of a primitive type).
    pub const fn implicit(n: u8) -> u8 {
        0x80 | n
    }
}

/// A cursor over DER bytes.
#[derive(Clone, Copy, Debug)]
pub struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Self {
        Reader { buf }
    }

    pub fn is_empty(&self) -> bool {
        self.buf.is_empty()
    }

    /// The tag of the next element, if any.
    pub fn peek(&self) -> Option<u8> {
        self.buf.first().copied()
    }

    /// The next element: its tag, its contents and the whole TLV.
    pub fn any(&mut self) -> Result<(u8, &'a [u8], &'a [u8]), PkiError> {
        let (t, hdr, len) = header(self.buf)?;
        let end = hdr.checked_add(len).ok_or(PkiError::Malformed)?;
        if end > self.buf.len() {
            return Err(PkiError::Malformed);
        }
        let whole = &self.buf[..end];
        self.buf = &self.buf[end..];
        Ok((t, &whole[hdr..], whole))
    }

    /// The contents of the next element, which must carry `want`.
    pub fn read(&mut self, want: u8) -> Result<&'a [u8], PkiError> {
        let (t, v, _) = self.any()?;
        if t != want {
            return Err(PkiError::Malformed);
        }
        Ok(v)
    }

    /// Like [`Reader::read`], but returns the whole TLV (for Names compared as bytes).
    pub fn read_tlv(&mut self, want: u8) -> Result<&'a [u8], PkiError> {
        let (t, _, whole) = self.any()?;
        if t != want {
            return Err(PkiError::Malformed);
        }
        Ok(whole)
    }

    /// The contents of the next element if it carries `want`, else nothing read.
    pub fn optional(&mut self, want: u8) -> Result<Option<&'a [u8]>, PkiError> {
        if self.peek() == Some(want) { self.read(want).map(Some) } else { Ok(None) }
    }

    /// Fails unless everything was read: trailing bytes inside a structure are malformed.
    pub fn finish(&self) -> Result<(), PkiError> {
        if self.buf.is_empty() { Ok(()) } else { Err(PkiError::Malformed) }
    }
}

/// Parses one TLV header: (tag, header length, contents length).
#[inline(never)]
pub fn header(buf: &[u8]) -> Result<(u8, usize, usize), PkiError> {
    let (&t, rest) = buf.split_first().ok_or(PkiError::Malformed)?;
    // High tag numbers (low five bits all set) never occur in X.509's schema.
    if t & 0x1f == 0x1f {
        return Err(PkiError::Malformed);
    }
    let (&l, rest) = rest.split_first().ok_or(PkiError::Malformed)?;
    if l < 0x80 {
        return Ok((t, 2, l as usize));
    }
    // X.690 §10.1: definite form only, in the fewest octets. 0x80 (indefinite) is BER;
    // three length octets cover 16 MiB, more than any certificate.
    let n = (l & 0x7f) as usize;
    if n == 0 || n > 3 || rest.len() < n || rest[0] == 0 {
        return Err(PkiError::Malformed);
    }
    let mut len = 0usize;
    for &b in &rest[..n] {
        len = (len << 8) | b as usize;
    }
    if len < 0x80 {
        return Err(PkiError::Malformed);
    }
    if n > 1 && len < 1 << (8 * (n - 1)) {
        return Err(PkiError::Malformed);
    }
    Ok((t, 2 + n, len))
}

/// The magnitude of a non-negative INTEGER's contents, without its sign octet (X.690 §8.3:
/// minimal two's complement). Negative integers and empty contents are malformed.
#[inline(never)]
pub fn unsigned(v: &[u8]) -> Result<&[u8], PkiError> {
    match v {
        [] => Err(PkiError::Malformed),
        [b, ..] if b & 0x80 != 0 => Err(PkiError::Malformed),
        [0] => Ok(v),
        [0, b, ..] if b & 0x80 == 0 => Err(PkiError::Malformed),
        [0, rest @ ..] => Ok(rest),
        _ => Ok(v),
    }
}

/// A small non-negative INTEGER (pathLenConstraint, saltLength, version).
pub fn small_uint(v: &[u8]) -> Result<u32, PkiError> {
    let m = unsigned(v)?;
    if m.len() > 4 {
        return Err(PkiError::Malformed);
    }
    Ok(m.iter().fold(0u32, |a, &b| (a << 8) | b as u32))
}

/// A BOOLEAN's contents: DER allows only 0x00 and 0xFF (X.690 §11.1).
pub fn boolean(v: &[u8]) -> Result<bool, PkiError> {
    match v {
        [0x00] => Ok(false),
        [0xff] => Ok(true),
        _ => Err(PkiError::Malformed),
    }
}

/// A BIT STRING's contents as whole octets, for keys and signatures (no unused bits).
pub fn bit_string_octets(v: &[u8]) -> Result<&[u8], PkiError> {
    match v {
        [0, rest @ ..] => Ok(rest),
        _ => Err(PkiError::Malformed),
    }
}

/// A named-bit BIT STRING (keyUsage): returns the bits, bit 0 first as the MSB of a u16.
/// DER (X.690 §11.2.2) drops trailing zero bits, so the last octet's lowest used bit is 1.
pub fn named_bits(v: &[u8]) -> Result<u16, PkiError> {
    let (&unused, bits) = v.split_first().ok_or(PkiError::Malformed)?;
    if unused > 7 || (bits.is_empty() && unused != 0) || bits.len() > 2 {
        return Err(PkiError::Malformed);
    }
    if let Some(&last) = bits.last()
        && (last & (1 << unused) == 0 || last & ((1u8 << unused) - 1) != 0)
    {
        return Err(PkiError::Malformed);
    }
    let hi = bits.first().copied().unwrap_or(0) as u16;
    let lo = bits.get(1).copied().unwrap_or(0) as u16;
    Ok(hi << 8 | lo)
}

/// An OBJECT IDENTIFIER's contents are checked for minimal base-128 arcs (X.690 §8.19.2).
pub fn check_oid(v: &[u8]) -> Result<(), PkiError> {
    if v.is_empty() || v[v.len() - 1] & 0x80 != 0 {
        return Err(PkiError::Malformed);
    }
    let mut start = true;
    for &b in v {
        if start && b == 0x80 {
            return Err(PkiError::Malformed);
        }
        start = b & 0x80 == 0;
    }
    Ok(())
}

/// A Time (RFC 5280 §4.1.2.5) as seconds since the Unix epoch. UTCTime is `YYMMDDHHMMSSZ`
/// (YY ≥ 50 is 19YY), GeneralizedTime `YYYYMMDDHHMMSSZ`; both in UTC with seconds and no
/// fraction, as the profile requires.
#[inline(never)]
pub fn time(r: &mut Reader<'_>) -> Result<u64, PkiError> {
    let (t, v, _) = r.any()?;
    let (year, rest) = match (t, v.len()) {
        (tag::UTC_TIME, 13) => {
            let yy = digits(&v[..2])?;
            (if yy >= 50 { 1900 + yy } else { 2000 + yy }, &v[2..])
        }
        (tag::GENERALIZED_TIME, 15) => (digits(&v[..4])?, &v[4..]),
        _ => return Err(PkiError::Malformed),
    };
    if rest[10] != b'Z' {
        return Err(PkiError::Malformed);
    }
    let month = digits(&rest[0..2])?;
    let day = digits(&rest[2..4])?;
    let hour = digits(&rest[4..6])?;
    let min = digits(&rest[6..8])?;
    let sec = digits(&rest[8..10])?;
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let mdays = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(PkiError::Malformed),
    };
    if day == 0 || day > mdays || hour > 23 || min > 59 || sec > 59 {
        return Err(PkiError::Malformed);
    }
    // Before the epoch (UTCTime 50–69): the start of time, as far as `now` can tell.
    if year < 1970 {
        return Ok(0);
    }
    // Days from the civil date (H. Hinnant's algorithm, for years ≥ 1970 only).
    let (y, m) = if month <= 2 { (year - 1, month + 9) } else { (year, month - 3) };
    let era = y / 400;
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = (era * 146_097 + doe) as u64 - 719_468;
    Ok(days * 86_400 + (hour * 3600 + min * 60 + sec) as u64)
}

fn digits(v: &[u8]) -> Result<u32, PkiError> {
    v.iter().try_fold(
        0u32,
        |a, &b| {
            if b.is_ascii_digit() { Ok(a * 10 + (b - b'0') as u32) } else { Err(PkiError::Malformed) }
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &[u8]) -> Result<u64, PkiError> {
        time(&mut Reader::new(s))
    }

    #[test]
    fn lengths_are_minimal_and_definite() {
        assert_eq!(header(&[0x30, 0x03]), Ok((0x30, 2, 3)));
        assert_eq!(header(&[0x30, 0x81, 0x80]), Ok((0x30, 3, 128)));
        assert_eq!(header(&[0x30, 0x82, 0x01, 0x00]), Ok((0x30, 4, 256)));
        // long form for a short length, a leading zero octet, indefinite, high tag number
        assert_eq!(header(&[0x30, 0x81, 0x7f]), Err(PkiError::Malformed));
        assert_eq!(header(&[0x30, 0x82, 0x00, 0x80]), Err(PkiError::Malformed));
        assert_eq!(header(&[0x30, 0x80]), Err(PkiError::Malformed));
        assert_eq!(header(&[0x1f, 0x01]), Err(PkiError::Malformed));
        assert_eq!(header(&[0x30]), Err(PkiError::Malformed));
        // contents longer than the input
        assert!(Reader::new(&[0x04, 0x03, 1, 2]).any().is_err());
    }

    #[test]
    fn integers_are_minimal() {
        assert_eq!(unsigned(&[0x00, 0x80]), Ok(&[0x80][..]));
        assert_eq!(unsigned(&[0x7f]), Ok(&[0x7f][..]));
        assert_eq!(unsigned(&[0x00]), Ok(&[0x00][..]));
        assert_eq!(unsigned(&[0x00, 0x7f]), Err(PkiError::Malformed));
        assert_eq!(unsigned(&[0x80]), Err(PkiError::Malformed));
        assert_eq!(unsigned(&[]), Err(PkiError::Malformed));
        assert_eq!(small_uint(&[0x01, 0x00]), Ok(256));
        assert_eq!(boolean(&[0x01]), Err(PkiError::Malformed));
    }

    #[test]
    fn named_bits_follow_der() {
        // keyUsage digitalSignature only: 07 80
        assert_eq!(named_bits(&[7, 0x80]), Ok(0x8000));
        // keyCertSign + cRLSign: 01 06
        assert_eq!(named_bits(&[1, 0x06]), Ok(0x0600));
        // a trailing zero bit that DER would have dropped
        assert_eq!(named_bits(&[0, 0x80]), Err(PkiError::Malformed));
        // decipherOnly (bit 8)
        assert_eq!(named_bits(&[7, 0x00, 0x80]), Ok(0x0080));
    }

    #[test]
    fn times_convert_to_unix_seconds() {
        assert_eq!(t(b"\x17\x0d700101000000Z"), Ok(0));
        assert_eq!(t(b"\x17\x0d491231235959Z"), Ok(2_524_607_999));
        assert_eq!(t(b"\x17\x0d000229120000Z"), Ok(951_825_600));
        assert_eq!(t(b"\x18\x0f20510101000000Z"), Ok(2_556_144_000));
        assert_eq!(t(b"\x18\x0f20240229000000Z"), Ok(1_709_164_800));
        assert_eq!(t(b"\x17\x0d500101000000Z"), Ok(0));
        // no Z, a fraction, 30 February, a UTCTime's length under the GeneralizedTime tag
        assert!(t(b"\x17\x0d700101000000+").is_err());
        assert!(t(b"\x18\x1120510101000000.0Z").is_err());
        assert!(t(b"\x17\x0d250230000000Z").is_err());
        assert!(t(b"\x18\x0d700101000000Z").is_err());
        assert!(t(b"\x17\x0d7001010000a0Z").is_err());
        assert!(t(b"\x17\x0d700101240000Z").is_err());
    }

    #[test]
    fn oids_are_minimal() {
        assert!(check_oid(&[0x55, 0x1d, 0x13]).is_ok());
        assert!(check_oid(&[0x2a, 0x80, 0x01]).is_err());
        assert!(check_oid(&[0x2a, 0x86]).is_err());
        assert!(check_oid(&[]).is_err());
    }
}
