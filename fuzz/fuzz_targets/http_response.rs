//! Raw bytes into the incremental HTTP response parser (src/http.rs), fed whole, at fuzz-chosen
//! split points and one byte at a time: every feeding must reach the same outcome, and the body
//! can only be made of input bytes, in order, within the caller's buffer.
#![no_main]

use arbitrary::Unstructured;
use flint_fuzz::{Parsed, is_subsequence, parse_pieces};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    // Body buffers from empty to a few KiB, so the BodyTooLarge edges are reachable.
    let cap = u.int_in_range(0..=4096usize).unwrap_or(0);
    let n_cuts = u.int_in_range(0..=8usize).unwrap_or(0);
    let cuts: Vec<usize> = (0..n_cuts).map(|_| u.arbitrary::<u16>().unwrap_or(0) as usize).collect();
    let input = u.take_rest();

    let whole = parse_pieces(input, cap, &[]);
    let split = parse_pieces(input, cap, &cuts);
    let bytewise = parse_pieces(input, cap, &(0..input.len()).collect::<Vec<_>>());
    for (name, other) in [("split", &split), ("byte-at-a-time", &bytewise)] {
        assert_eq!(other.result, whole.result, "{name}: outcome differs from one feed");
        assert_eq!(other.head, whole.head, "{name}: head differs from one feed");
        if whole.result.is_ok() {
            assert_eq!(other.body, whole.body, "{name}: body differs from one feed");
            assert_eq!(other.used, whole.used, "{name}: consumed length differs from one feed");
        }
    }
    check(&whole, input, cap);
});

fn check(p: &Parsed, input: &[u8], cap: usize) {
    assert!(p.body.len() <= cap, "body of {} bytes in a {cap}-byte buffer", p.body.len());
    assert!(p.used <= input.len());
    if p.result.is_err() {
        return;
    }
    assert!(p.done, "an accepted response is complete");
    let head = p.head.expect("a complete response has a head");
    assert!((100..=999).contains(&head.status), "status {}", head.status);
    assert!(
        !(100..200).contains(&head.status) || head.status == 101,
        "interim status {} reported as final",
        head.status
    );
    if !head.is_success() || head.status == 204 {
        assert!(p.body.is_empty(), "status {} carries no body", head.status);
    }
    // The head ends at the first CRLFCRLF after the last interim response; the body is made of
    // bytes after it, in order (contiguous for Content-Length and close framing, chunk data
    // otherwise).
    let head_end = input.windows(4).position(|w| w == b"\r\n\r\n").map(|i| i + 4).expect("a head ends with CRLFCRLF");
    assert!(is_subsequence(&p.body, &input[head_end..]), "body bytes not taken from the input in order");
    assert!(p.body.len() <= p.used, "body longer than the bytes consumed");
}
