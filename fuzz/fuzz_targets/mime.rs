//! The MIME multipart writer (src/decode/include.rs `mime`) read back by an independent reader
//! of RFC 2046 §5.1.1 (delimiters only at line starts, the LF before a delimiter belongs to it,
//! a close delimiter ending the parts) and RFC 2045 §6.8 base64: up to 8 fuzz-chosen parts
//! (any bytes: text, binary, ones holding `--` lines and the writer's own boundary prefix)
//! come back as the same parts in order, each typed as cloud-init would type it alone; a
//! buffer one byte short is refused, never cut. Parts that are themselves MIME messages
//! (`mime-version:` in their head) go in as they are, so only their presence is checked.
#![no_main]

use arbitrary::Unstructured;
use base64::Engine;
use flint::decode::include::{MimeError, content_type, is_mime, mime};
use libfuzzer_sys::fuzz_target;

fn find(h: &[u8], n: &[u8]) -> Option<usize> {
    h.windows(n.len()).position(|w| w == n)
}

/// Every part's Content-Type, its bytes (the CTE undone) and its whole entity (headers too).
fn read(doc: &[u8]) -> Vec<(String, Vec<u8>, Vec<u8>)> {
    let head_end = find(doc, b"\n\n").expect("headers end");
    let head = std::str::from_utf8(&doc[..head_end]).expect("ASCII headers");
    let ct = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-type:")).expect("a type");
    assert!(head.lines().any(|l| l == "MIME-Version: 1.0"));
    let boundary = ct.split("boundary=\"").nth(1).and_then(|b| b.strip_suffix('"')).expect("a quoted boundary");
    assert!(boundary.len() <= 70 && !boundary.is_empty());
    let body = &doc[head_end + 2..];
    let delim = format!("--{boundary}").into_bytes();
    let mut starts = Vec::new();
    let mut i = 0;
    while let Some(p) = find(&body[i..], &delim) {
        let at = i + p;
        if at == 0 || body[at - 1] == b'\n' {
            starts.push(at);
        }
        i = at + 1;
    }
    let last = *starts.last().expect("a close delimiter");
    assert_eq!(&body[last..], [&delim[..], b"--\n"].concat().as_slice(), "the close delimiter ends it");
    let mut parts = Vec::new();
    for w in starts.windows(2) {
        let line_end = w[0] + delim.len();
        assert_eq!(body[line_end], b'\n', "nothing after a delimiter");
        let entity = &body[line_end + 1..w[1] - 1];
        let h_end = find(entity, b"\n\n").unwrap_or(entity.len());
        let headers = String::from_utf8_lossy(&entity[..h_end]).into_owned();
        let get = |name: &str| {
            headers.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
            })
        };
        let payload = entity.get(h_end + 2..).unwrap_or(&[]);
        let bytes = match get("content-transfer-encoding").as_deref() {
            Some("base64") => {
                let t: Vec<u8> = payload.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
                assert!(payload.split(|&b| b == b'\n').all(|l| l.len() <= 76));
                base64::engine::general_purpose::STANDARD.decode(t).expect("valid base64")
            }
            Some("8bit") => payload.to_vec(),
            _ => entity.to_vec(),
        };
        parts.push((get("content-type").unwrap_or_default(), bytes, entity.to_vec()));
    }
    parts
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let n = u.int_in_range(0..=8usize).unwrap_or(0);
    let mut parts: Vec<Vec<u8>> = Vec::new();
    for _ in 0..n {
        let mut p: Vec<u8> = u.arbitrary().unwrap_or_default();
        if u.arbitrary::<bool>().unwrap_or(false) {
            p.extend_from_slice(b"\n--==flint-");
        }
        parts.push(p);
    }
    let slices: Vec<&[u8]> = parts.iter().map(|p| p.as_slice()).collect();
    let mut out = vec![0u8; 1024 + parts.iter().map(|p| p.len() * 2 + 200).sum::<usize>()];
    let len = mime(&slices, &mut out).expect("room enough");
    let doc = &out[..len];
    let got = read(doc);
    assert_eq!(got.len(), parts.len());
    for ((ctype, bytes, entity), part) in got.iter().zip(&parts) {
        if is_mime(part) {
            assert_eq!(entity, part, "a MIME part goes in as it is");
            continue;
        }
        assert_eq!(bytes, part);
        assert_eq!(ctype, content_type(part));
    }
    let mut short = vec![0u8; len - 1];
    assert_eq!(mime(&slices, &mut short), Err(MimeError::NoRoom));
});
