//! The request writer (src/http/mod.rs `write_request`) with fuzz-chosen host, path, fields
//! and body: anything holding CR, LF or NUL in the head is refused (nothing received, e.g. a
//! token, can inject a header line), a buffer one byte too small is refused rather than cut,
//! and otherwise the request is exactly the request line, the fixed fields, the given fields
//! one per line, a blank line and the body, whose length `Content-Length` states.
#![no_main]

use arbitrary::Arbitrary;
use flint::http::{HttpError, write_request};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Req {
    put: bool,
    host: String,
    path: String,
    fields: Vec<(String, Vec<u8>)>,
    body: Vec<u8>,
    short_by: u8,
}

fn unsafe_bytes(v: &[u8]) -> bool {
    v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0)
}

fuzz_target!(|r: Req| {
    let method = if r.put { "PUT" } else { "GET" };
    let fields: Vec<(&str, &[u8])> = r.fields.iter().take(16).map(|(n, v)| (n.as_str(), v.as_slice())).collect();
    let mut big = vec![0u8; 64 * 1024];
    let body = &r.body[..r.body.len().min(4096)];
    let got = write_request(&mut big, method, r.host.as_bytes(), r.path.as_bytes(), &fields, body);
    let refused = unsafe_bytes(r.host.as_bytes())
        || unsafe_bytes(r.path.as_bytes())
        || fields.iter().any(|(n, v)| unsafe_bytes(n.as_bytes()) || unsafe_bytes(v));
    if refused {
        assert_eq!(got, Err(HttpError::BadRequest), "a CR, LF or NUL was written into a request");
        return;
    }
    let n = got.expect("a clean request fits in 64 KiB");
    // The body follows the head's blank line untouched.
    let head_len = n - body.len();
    assert_eq!(&big[head_len..n], body);
    let out = &big[..head_len];
    let lines: Vec<&[u8]> = out.split(|&b| b == b'\n').collect();
    // Every line ends in CRLF and there are no stray CR: count lines by CRLF.
    assert!(out.ends_with(b"\r\n\r\n"));
    assert_eq!(out.iter().filter(|&&b| b == b'\r').count(), lines.len() - 1, "stray CR");
    let lines: Vec<&[u8]> = lines[..lines.len() - 1].iter().map(|l| l.strip_suffix(b"\r").expect("CRLF")).collect();
    let sized = r.put || !body.is_empty();
    let fixed = if sized { 4 } else { 3 };
    assert_eq!(lines.len(), 1 + fixed + fields.len() + 1, "line count: a header was injected or lost");
    assert_eq!(lines[0], format!("{method} {} HTTP/1.1", r.path).as_bytes());
    assert_eq!(lines[1], format!("Host: {}", r.host).as_bytes());
    assert!(lines[2].starts_with(b"User-Agent: flint/"));
    assert_eq!(lines[3], b"Connection: close");
    if sized {
        // A PUT says how long its body is, even when empty (RFC 9110 §8.6).
        assert_eq!(lines[4], format!("Content-Length: {}", body.len()).as_bytes());
    }
    for (i, (name, v)) in fields.iter().enumerate() {
        let mut want = format!("{name}: ").into_bytes();
        want.extend_from_slice(v);
        assert_eq!(lines[1 + fixed + i], want.as_slice());
    }
    assert!(lines[lines.len() - 1].is_empty());
    // One byte (or more) short: refused, never truncated.
    let short = n - (r.short_by as usize % n.max(1)).max(1).min(n);
    let mut small = vec![0u8; short];
    assert_eq!(
        write_request(&mut small, method, r.host.as_bytes(), r.path.as_bytes(), &fields, body),
        Err(HttpError::BadRequest)
    );
});
