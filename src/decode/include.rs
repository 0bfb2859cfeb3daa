//! cloud-init's `#include` lists and the MIME multipart document several fetched parts become.
//!
//! Facts this follows (canonical/cloud-init at its 2026-08 head):
//! - A payload is an include list when, lower-cased and stripped of leading whitespace, it starts
//!   with `#include` (`#include-once` too: the longest prefix wins, `handlers.type_from_starts_with`).
//! - `UserDataProcessor._do_include` reads the list with `str.splitlines()`; a line that starts
//!   (case-insensitively) with `#include-once` or `#include` loses that word and the whitespace
//!   after it, so `#include http://x` on one line is a URL; what is left is skipped when it starts
//!   with `#` (a comment) or is empty after `strip()`; anything else is one URL.
//! - Each URL's content goes through `convert_string` (gunzipped when gzip; a MIME message when
//!   `mime-version:` is within its first 4096 bytes, case-insensitive) and then through the same
//!   processing as user-data: a nested include list is fetched in turn, every other part is
//!   appended, in order, to one flat multipart message. A failed fetch is an error by default
//!   (`features.ERROR_ON_USER_DATA_FAILURE`); flint fails the resolution the same way.
//! - `#include-once` only differs in caching the content under the instance directory so that
//!   later boots read the cache; flint runs once per boot and fetches it like `#include` (on a
//!   later boot a one-time URL may be gone; that fetch then fails as any other).
//! - A part's type is derived from its first bytes by the same prefix table (platforms.md §24.2);
//!   a part whose type is not found is `text/x-not-multipart`, the type `convert_string` gives a
//!   lone payload, so cloud-init re-derives it exactly as it would for that payload alone.
//!
//! Line breaks here are the ASCII ones `str.splitlines()` knows (`\n`, `\r`, `\r\n`, VT, FF,
//! FS, GS, RS); the Unicode ones (U+0085, U+2028, U+2029) are not, and leave the URL invalid.

use core::ops::Range;
use sha2::{Digest, Sha256};

/// Python's `str.isspace()` for ASCII (what `strip()` removes).
fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t'..=b'\r' | 0x1c..=0x1f)
}

/// A line break `str.splitlines()` splits at.
fn is_break(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | 0x0b | 0x0c | 0x1c..=0x1e)
}

fn lstrip(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|&&b| is_space(b)).count();
    &s[n..]
}

fn starts_with_nocase(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// True when cloud-init reads `data` as an include list.
pub fn is_include(data: &[u8]) -> bool {
    starts_with_nocase(lstrip(data), b"#include")
}

/// True when cloud-init reads `data` as a MIME message (`convert_string`).
pub fn is_mime(data: &[u8]) -> bool {
    let head = &data[..data.len().min(4096)];
    head.windows(13).any(|w| w.eq_ignore_ascii_case(b"mime-version:"))
}

/// The next URL of the include list `text` at or after byte `from`: its range in `text` and
/// where the line after it starts.
pub fn next_url(text: &[u8], from: usize) -> Option<(Range<usize>, usize)> {
    let mut start = from;
    while start < text.len() {
        let len = text[start..].iter().position(|&b| is_break(b)).unwrap_or(text.len() - start);
        let end = start + len;
        let mut next = end + 1;
        if text.get(end) == Some(&b'\r') && text.get(end + 1) == Some(&b'\n') {
            next += 1;
        }
        let mut line = start..end;
        // Only after the word is the line left-stripped before the comment test: a line that
        // starts with a space and then `#` is a URL to cloud-init (a bad one).
        if let Some(word) =
            [&b"#include-once"[..], b"#include"].iter().find(|w| starts_with_nocase(&text[line.clone()], w))
        {
            line.start += word.len();
            while line.start < line.end && is_space(text[line.start]) {
                line.start += 1;
            }
        }
        let comment = text.get(line.start) == Some(&b'#') && line.start < line.end;
        while line.start < line.end && is_space(text[line.start]) {
            line.start += 1;
        }
        while line.end > line.start && is_space(text[line.end - 1]) {
            line.end -= 1;
        }
        if !line.is_empty() && !comment {
            return Some((line, next.min(text.len())));
        }
        start = next;
    }
    None
}

/// cloud-init's first-bytes table, longest prefix first (`handlers.INCLUSION_SRCH`).
const TYPES: [(&[u8], &str); 12] = [
    (b"text/x-shellscript-per-instance", "text/x-shellscript-per-instance"),
    (b"text/x-shellscript-per-boot", "text/x-shellscript-per-boot"),
    (b"text/x-shellscript-per-once", "text/x-shellscript-per-once"),
    (b"#cloud-config-archive", "text/cloud-config-archive"),
    (b"#cloud-config-jsonp", "text/cloud-config-jsonp"),
    (b"## template: jinja", "text/jinja2"),
    (b"#cloud-boothook", "text/cloud-boothook"),
    (b"#include-once", "text/x-include-once-url"),
    (b"#cloud-config", "text/cloud-config"),
    (b"#part-handler", "text/part-handler"),
    (b"#include", "text/x-include-url"),
    (b"#!", "text/x-shellscript"),
];

/// The type cloud-init gives a payload from its first bytes.
pub fn content_type(data: &[u8]) -> &'static str {
    if core::str::from_utf8(data).is_ok() {
        let head = lstrip(data);
        for (prefix, t) in TYPES {
            if starts_with_nocase(head, prefix) {
                return t;
            }
        }
    }
    "text/x-not-multipart"
}

/// Why a MIME document could not be written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MimeError {
    /// `out` is too small.
    NoRoom,
    /// No boundary absent from every part was found (never expected: see [`mime`]).
    Boundary,
}

struct Out<'a> {
    buf: &'a mut [u8],
    n: usize,
}

impl Out<'_> {
    fn put(&mut self, s: &[u8]) -> Result<(), MimeError> {
        let dst = self.buf.get_mut(self.n..self.n + s.len()).ok_or(MimeError::NoRoom)?;
        dst.copy_from_slice(s);
        self.n += s.len();
        Ok(())
    }
}

/// Boundary length: `==flint-` and 32 hex digits (RFC 2046 §5.1.1: at most 70 characters).
const BOUNDARY: usize = 8 + 32;

/// A boundary found in no part: the SHA-256 of the parts and an attempt counter, so no part can
/// be written to contain it (a counter alone could be); checked all the same. base64 text never
/// holds `-`, so only parts written raw are searched.
fn boundary(parts: &[&[u8]]) -> Result<[u8; BOUNDARY], MimeError> {
    for attempt in 0u8..4 {
        let mut h = Sha256::new();
        for p in parts {
            h.update((p.len() as u64).to_le_bytes());
            h.update(p);
        }
        h.update([attempt]);
        let digest = h.finalize();
        let mut b = [0u8; BOUNDARY];
        b[..8].copy_from_slice(b"==flint-");
        for (i, byte) in digest[..16].iter().enumerate() {
            b[8 + 2 * i] = b"0123456789abcdef"[(byte >> 4) as usize];
            b[9 + 2 * i] = b"0123456789abcdef"[(byte & 15) as usize];
        }
        if !parts.iter().any(|p| p.windows(BOUNDARY).any(|w| w == b)) {
            return Ok(b);
        }
    }
    Err(MimeError::Boundary)
}

/// base64 lines of at most 76 characters (RFC 2045 §6.8): 57 bytes each.
fn put_base64(out: &mut Out<'_>, data: &[u8]) -> Result<(), MimeError> {
    for line in data.chunks(57) {
        let mut text = [0u8; 76];
        let n = super::ignition::base64_len(line.len());
        super::ignition::base64(line, &mut text);
        out.put(&text[..n])?;
        out.put(b"\n")?;
    }
    Ok(())
}

/// Writes `parts` as one `multipart/mixed` document (RFC 2046 §5.1) cloud-init reads as the
/// parts in order; returns its length. A part that is itself a MIME message goes in as it is (its
/// own headers become the part's, so cloud-init walks into it as it would have); any other part
/// gets its [`content_type`] and goes in as `8bit` text when it is UTF-8 (cloud-init decodes the
/// whole document as UTF-8 before parsing it) and as `base64` otherwise. Lines end in LF, as
/// Python's `email` writes them; the LF before each delimiter belongs to the delimiter (§5.1.1),
/// so every part's bytes come back exactly.
pub fn mime(parts: &[&[u8]], out: &mut [u8]) -> Result<usize, MimeError> {
    let b = boundary(parts)?;
    let mut o = Out { buf: out, n: 0 };
    o.put(b"Content-Type: multipart/mixed; boundary=\"")?;
    o.put(&b)?;
    o.put(b"\"\nMIME-Version: 1.0\n\n")?;
    for part in parts {
        o.put(b"--")?;
        o.put(&b)?;
        o.put(b"\n")?;
        if is_mime(part) {
            o.put(part)?;
            o.put(b"\n")?;
            continue;
        }
        o.put(b"Content-Type: ")?;
        o.put(content_type(part).as_bytes())?;
        if core::str::from_utf8(part).is_ok() {
            o.put(b"\nContent-Transfer-Encoding: 8bit\n\n")?;
            o.put(part)?;
            o.put(b"\n")?;
        } else {
            o.put(b"\nContent-Transfer-Encoding: base64\n\n")?;
            put_base64(&mut o, part)?;
        }
    }
    o.put(b"--")?;
    o.put(&b)?;
    o.put(b"--\n")?;
    Ok(o.n)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn urls(text: &[u8]) -> Vec<&[u8]> {
        let mut v = Vec::new();
        let mut at = 0;
        while let Some((r, next)) = next_url(text, at) {
            assert!(next > at);
            v.push(&text[r]);
            at = next;
        }
        v
    }

    #[test]
    fn include_lists_as_cloud_init_reads_them() {
        let text = b"#include\n# a comment\n\n  http://a/1  \r\n#include https://b/2?x=1&y=%2F\r#INCLUDE-ONCE\thttp://c/3\n  #include http://e\n#include # not a url\n#includes\n\x0chttp://d\n#!x";
        assert_eq!(
            urls(text),
            [&b"http://a/1"[..], b"https://b/2?x=1&y=%2F", b"http://c/3", b"#include http://e", b"s", b"http://d"]
        );
        assert!(is_include(b"\n  #Include\nhttp://x"));
        assert!(is_include(b"#include-once\nhttp://x"));
        assert!(!is_include(b"#cloud-config\n#include\n"));
        assert!(urls(b"#include").is_empty());
        assert!(urls(b"").is_empty());
    }

    #[test]
    fn content_types_longest_prefix_first() {
        assert_eq!(content_type(b"#cloud-config-archive\n- x"), "text/cloud-config-archive");
        assert_eq!(content_type(b"  #Cloud-Config\n"), "text/cloud-config");
        assert_eq!(content_type(b"#!/bin/sh\n"), "text/x-shellscript");
        assert_eq!(content_type(b"#include-once\n"), "text/x-include-once-url");
        assert_eq!(content_type(b"hello"), "text/x-not-multipart");
        assert_eq!(content_type(b"#!\xff"), "text/x-not-multipart");
    }

    /// An independent reading of a multipart/mixed document (RFC 2046 §5.1.1, RFC 2045 §6.8):
    /// the boundary from the top-level `Content-Type`, the body split at delimiter lines, each
    /// part's headers up to the first empty line, base64 bodies decoded. Returns each part's
    /// `Content-Type` and bytes.
    pub(crate) fn parse_mime(doc: &[u8]) -> Vec<(String, Vec<u8>)> {
        use base64::Engine;
        let text = doc;
        let head_end = find(text, b"\n\n").expect("a blank line ends the headers");
        let head = std::str::from_utf8(&text[..head_end]).unwrap();
        assert!(head.lines().any(|l| l.eq_ignore_ascii_case("MIME-Version: 1.0")));
        let ct = head.lines().find(|l| l.to_ascii_lowercase().starts_with("content-type:")).unwrap();
        assert!(ct.to_ascii_lowercase().contains("multipart/mixed"));
        let b = ct.split("boundary=").nth(1).unwrap().trim_matches('"');
        let body = &text[head_end + 2..];
        let delim = [b"--", b.as_bytes()].concat();
        // Every delimiter is at the start of a line; the LF before it belongs to it.
        let mut starts = Vec::new();
        let mut i = 0;
        while let Some(p) = find(&body[i..], &delim) {
            let at = i + p;
            if at == 0 || body[at - 1] == b'\n' {
                starts.push(at);
            }
            i = at + 1;
        }
        let mut parts = Vec::new();
        for w in starts.windows(2) {
            let line_end = w[0] + find(&body[w[0]..], b"\n").unwrap() + 1;
            assert_eq!(&body[w[0]..line_end - 1], &delim[..], "a delimiter line holds nothing else");
            let entity = &body[line_end..w[1] - 1];
            let h_end = find(entity, b"\n\n").expect("part headers end");
            let headers = std::str::from_utf8(&entity[..h_end]).unwrap();
            let payload = &entity[h_end + 2..];
            let get = |name: &str| {
                headers.lines().find_map(|l| {
                    let (k, v) = l.split_once(':')?;
                    k.eq_ignore_ascii_case(name).then(|| v.trim().to_string())
                })
            };
            let ctype = get("content-type").unwrap_or_default();
            let bytes = match get("content-transfer-encoding").as_deref() {
                Some("base64") => {
                    let t: Vec<u8> = payload.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
                    base64::engine::general_purpose::STANDARD.decode(t).unwrap()
                }
                _ => payload.to_vec(),
            };
            parts.push((ctype, bytes));
        }
        let last = *starts.last().unwrap();
        assert!(body[last..].starts_with(&[&delim[..], b"--"].concat()), "the close delimiter ends the parts");
        parts
    }

    fn find(h: &[u8], n: &[u8]) -> Option<usize> {
        h.windows(n.len()).position(|w| w == n)
    }

    #[test]
    fn mime_round_trips_every_kind_of_part() {
        let parts: [&[u8]; 5] = [
            b"#cloud-config\nhostname: a\n",
            b"#!/bin/sh\necho no newline at the end",
            b"\x00\x01binary\xff\xfe--==flint-",
            b"",
            b"\n\n--x\n\n",
        ];
        let mut out = std::vec![0u8; 4096];
        let n = mime(&parts, &mut out).unwrap();
        let got = parse_mime(&out[..n]);
        assert_eq!(got.len(), parts.len());
        for ((ctype, bytes), part) in got.iter().zip(parts) {
            assert_eq!(bytes, part);
            assert_eq!(ctype, content_type(part));
        }
        assert_eq!(mime(&parts, &mut out[..n - 1]), Err(MimeError::NoRoom));
        assert_eq!(mime(&parts, &mut out[..n]), Ok(n));
    }
}
