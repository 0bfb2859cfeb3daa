//! Raw bytes into the payload decoder (src/decode.rs: gzip wrapper, inflate, size cap) with a
//! small fuzz-chosen --max-size, checked against flate2 on zlib-rs, an inflate independent of
//! the miniz_oxide flint uses. Whatever each side produces must agree byte for byte; flint
//! must accept what the oracle accepts within the cap and reject what it rejects; and never
//! more than the cap reaches the sink.
#![no_main]

use std::io::Read;

use arbitrary::Unstructured;
use flint::decode::{DecodeError, WINDOW, decode, is_gzip};
use flint_fuzz::CappedSink;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let max = u.int_in_range(0..=128 * 1024u64).unwrap_or(0);
    let payload = u.take_rest();
    let mut window = Box::new([0u8; WINDOW]);
    let mut sink = CappedSink { data: Vec::new(), max };
    let got = decode(payload, &mut window, max, &mut sink);
    if let Ok(d) = got {
        assert_eq!(d.written, sink.data.len() as u64, "reported length differs from the bytes written");
        assert_eq!(d.gzip, is_gzip(payload));
    }
    if !is_gzip(payload) {
        // Not gzip: passed through as is, under the same cap.
        if payload.len() as u64 <= max {
            assert!(got.is_ok());
            assert_eq!(sink.data, payload);
        } else {
            assert_eq!(got, Err(DecodeError::TooLarge));
            assert!(sink.data.is_empty(), "an oversized raw payload is refused before any write");
        }
        return;
    }

    // The oracle, read in small steps so everything it produced before an error is kept.
    let mut oracle = flate2::bufread::MultiGzDecoder::new(payload);
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    let oracle_ok = loop {
        match oracle.read(&mut buf) {
            Ok(0) => break true,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                if out.len() as u64 > max {
                    break true;
                }
            }
            Err(_) => break false,
        }
    };
    let common = sink.data.len().min(out.len());
    assert_eq!(sink.data[..common], out[..common], "decoded bytes differ from flate2's");
    let too_large = out.len() as u64 > max;
    match got {
        Ok(_) => {
            assert!(oracle_ok, "flint accepted a stream flate2 rejects");
            assert_eq!(sink.data, out, "flint's output differs from flate2's");
        }
        Err(DecodeError::TooLarge) => {
            // The oracle may stop on a corruption later in the stream than flint's cap; before
            // that, it must also have gone past the cap.
            assert!(too_large || !oracle_ok, "flint says too large, flate2 decoded {} bytes (cap {max})", out.len());
        }
        Err(e) => {
            assert!(
                !oracle_ok || too_large,
                "flint rejects ({e:?}) a stream flate2 decodes to {} bytes within the cap {max}",
                out.len()
            );
        }
    }
});
