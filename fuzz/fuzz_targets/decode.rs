//! The whole payload pipeline as src/main.rs runs it: the body as the platform encodes it
//! (raw, or base64 as Akamai serves it), gzip or not, decoded with a small --max-size. The body
//! is built from fuzz-chosen plaintext (gzip by flate2, base64 by the base64 crate with
//! fuzz-chosen line wrapping); flint must return the plaintext within the cap and TooLarge past
//! it. With one byte of the body flipped, nothing breaks the cap or the written count.
#![no_main]

use std::io::Write;

use arbitrary::Arbitrary;
use base64::Engine;
use flate2::Compression;
use flate2::write::GzEncoder;
use flint::decode::{DecodeError, Decoded, WINDOW, decode, unbase64};
use flint_fuzz::CappedSink;
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Case {
    plain: Vec<u8>,
    gzip: Option<u8>,
    base64: Option<(bool, u8)>,
    slack: i16,
    flip: Option<(u16, u8)>,
}

/// One run of main.rs's decode step; `None` when the payload is empty (exit 3, no user-data).
fn pipeline(body: &mut [u8], base64: bool, max: u64, sink: &mut CappedSink) -> Result<Option<Decoded>, DecodeError> {
    let mut decoded = vec![0u8; body.len()];
    let payload: &[u8] = if base64 {
        let n = unbase64(body, &mut decoded)?;
        &decoded[..n]
    } else {
        body
    };
    if payload.is_empty() {
        return Ok(None);
    }
    let mut window = Box::new([0u8; WINDOW]);
    let d = decode(payload, &mut window, max, sink)?;
    assert_eq!(d.written, sink.data.len() as u64);
    Ok(Some(d))
}

fuzz_target!(|c: Case| {
    let mut body = match c.gzip {
        Some(level) => {
            let mut e = GzEncoder::new(Vec::new(), Compression::new((level % 10) as u32));
            e.write_all(&c.plain).unwrap();
            e.finish().unwrap()
        }
        None => c.plain.clone(),
    };
    if let Some((pad, width)) = c.base64 {
        let engine = if pad {
            base64::engine::general_purpose::STANDARD
        } else {
            base64::engine::general_purpose::STANDARD_NO_PAD
        };
        let text = engine.encode(&body);
        body.clear();
        for line in text.as_bytes().chunks(width.max(4) as usize) {
            body.extend_from_slice(line);
            body.push(b'\n');
        }
    }
    let max = (c.plain.len() as i64 + c.slack as i64 / 256).max(0) as u64;

    let mut sink = CappedSink { data: Vec::new(), max };
    let got = pipeline(&mut body.clone(), c.base64.is_some(), max, &mut sink);
    let raw_empty = c.gzip.is_none() && c.plain.is_empty();
    if raw_empty {
        assert_eq!(got, Ok(None), "an empty payload is no user-data");
    } else if c.plain.len() as u64 > max {
        assert_eq!(got, Err(DecodeError::TooLarge));
    } else {
        assert_eq!(got, Ok(Some(Decoded { written: c.plain.len() as u64, gzip: c.gzip.is_some() })));
        assert_eq!(sink.data, c.plain);
    }

    if let (Some((pos, xor)), false) = (c.flip, body.is_empty()) {
        let i = pos as usize % body.len();
        body[i] ^= xor;
        let mut sink = CappedSink { data: Vec::new(), max };
        let _ = pipeline(&mut body, c.base64.is_some(), max, &mut sink);
    }
});
