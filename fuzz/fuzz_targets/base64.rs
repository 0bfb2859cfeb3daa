//! flint's base64 decoder (src/decode.rs `unbase64`) against the base64 crate on arbitrary
//! text: same bytes or both refuse. flint's rules, RFC 4648 §4 alphabet: ASCII whitespace is
//! ignored anywhere, padding is optional but when present completes the last 4-symbol group,
//! and the unused low bits of the last symbol must be zero (§3.5). A too-small output buffer is
//! refused. Then the other direction: any bytes, encoded with or without padding and wrapped
//! at a fuzz-chosen width with LF or CRLF, decode back to themselves.
#![no_main]

use arbitrary::Unstructured;
use base64::Engine;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, general_purpose};
use flint::decode::{DecodeError, unbase64};
use libfuzzer_sys::fuzz_target;

const CANONICAL: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireCanonical),
);
const UNPADDED: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::RequireNone),
);

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let short_by = u.int_in_range(0..=3usize).unwrap_or(0);
    let width = u.int_in_range(1..=100usize).unwrap_or(76);
    let crlf = u.arbitrary::<bool>().unwrap_or(false);
    let text = u.take_rest();

    // Direction 1: arbitrary text.
    let compact: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    let engine = if compact.contains(&b'=') { &CANONICAL } else { &UNPADDED };
    let want = engine.decode(&compact);
    let mut t = text.to_vec();
    let mut out = vec![0u8; text.len()];
    let got = unbase64(&mut t, &mut out).map(|n| out[..n].to_vec());
    match &want {
        Ok(v) => assert_eq!(got.as_ref(), Ok(v), "flint disagrees with the base64 crate"),
        Err(e) => assert_eq!(got, Err(DecodeError::Base64), "flint accepted what the base64 crate rejects ({e})"),
    }
    if let Ok(v) = &want
        && !v.is_empty()
        && short_by > 0
    {
        // One to three bytes too little room: refused, not cut short.
        let mut t = text.to_vec();
        let mut small = vec![0u8; v.len().saturating_sub(short_by)];
        assert_eq!(unbase64(&mut t, &mut small), Err(DecodeError::Base64), "output buffer overrun accepted");
    }

    // Direction 2: the same bytes as data, encoded and wrapped.
    for engine in [general_purpose::STANDARD, general_purpose::STANDARD_NO_PAD] {
        let encoded = engine.encode(text);
        let mut wrapped = Vec::new();
        for line in encoded.as_bytes().chunks(width) {
            wrapped.extend_from_slice(line);
            wrapped.extend_from_slice(if crlf { b"\r\n" } else { b"\n" });
        }
        let mut out = vec![0u8; text.len()];
        let n = unbase64(&mut wrapped, &mut out).expect("valid base64 refused");
        assert_eq!(&out[..n], text);
    }
});
