//! Well-formed responses built from a fuzz-chosen description (status, fields, framing, body,
//! bytes after the message), fed at fuzz-chosen split points: the parser must return exactly
//! the body that was framed, consume exactly the message (Content-Length and chunked framing
//! end where they say, whatever follows is left alone), and fail with the right error when a
//! limit (HEAD_MAX, 64 fields, 256-byte chunk lines, 1 KiB of trailers, the body buffer) is
//! crossed. RFC 9112 §4-§7.
#![no_main]

use arbitrary::Arbitrary;
use flint::http::{HEAD_MAX, Head, HttpError};
use flint_fuzz::parse_pieces;
use libfuzzer_sys::fuzz_target;

const FIELDS_MAX: usize = 64;
const CHUNK_LINE_MAX: usize = 256;
const TRAILER_MAX: usize = 4 * CHUNK_LINE_MAX;

#[derive(Arbitrary, Debug)]
struct Case {
    http10: bool,
    status: u16,
    reason: Option<Vec<u8>>,
    /// 100/103 interim responses before the final one (RFC 9110 §15.2).
    interim: Vec<bool>,
    fields: Vec<(Vec<u8>, Vec<u8>)>,
    retry_after: Option<u32>,
    framing: Framing,
    body: Vec<u8>,
    after: Vec<u8>,
    cap_slack: i16,
    cuts: Vec<u16>,
    /// Case of the framing field names and whitespace around values.
    style: u8,
}

#[derive(Arbitrary, Debug)]
enum Framing {
    Length {
        twice: bool,
    },
    Chunked {
        sizes: Vec<u8>,
        exts: Vec<Vec<u8>>,
        zeros: u8,
        trailers: Vec<(Vec<u8>, Vec<u8>)>,
        also_length: Option<u32>,
        coded: bool,
    },
    Close,
}

fn token(raw: &[u8]) -> Vec<u8> {
    const T: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-.^_`|~";
    raw.iter().take(24).map(|b| T[*b as usize % T.len()]).collect()
}

/// A field value: visible ASCII, spaces and tabs inside, no CTL (RFC 9110 §5.5).
fn value(raw: &[u8]) -> Vec<u8> {
    let v: Vec<u8> = raw.iter().take(200).map(|&b| if b == b'\t' { b } else { 0x20 + b % 0x5f }).collect();
    v.trim_ascii().to_vec()
}

fn styled(name: &str, style: u8) -> String {
    match style % 3 {
        0 => name.to_string(),
        1 => name.to_ascii_lowercase(),
        _ => name.to_ascii_uppercase(),
    }
}

fn field(out: &mut Vec<u8>, name: &[u8], v: &[u8], style: u8) {
    out.extend_from_slice(name);
    out.extend_from_slice(match style / 3 % 4 {
        0 => b": ",
        1 => b":",
        2 => b":\t ",
        _ => b":  ",
    });
    out.extend_from_slice(v);
    if style / 12 % 2 == 1 {
        out.extend_from_slice(b" \t");
    }
    out.extend_from_slice(b"\r\n");
}

fuzz_target!(|c: Case| {
    let status = 200 + c.status % 400;
    let carries_body = (200..300).contains(&status) && status != 204;
    let body: &[u8] = if carries_body { &c.body } else { &[] };
    let cap = (c.body.len() as i64 + c.cap_slack as i64 / 64).clamp(0, 1 << 16) as usize;

    let mut msg = Vec::new();
    for early_hints in c.interim.iter().take(3) {
        if *early_hints {
            msg.extend_from_slice(b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n");
        } else {
            msg.extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
    }
    let head_start = msg.len();
    msg.extend_from_slice(if c.http10 { b"HTTP/1.0 " } else { b"HTTP/1.1 " });
    msg.extend_from_slice(status.to_string().as_bytes());
    if let Some(r) = &c.reason {
        msg.push(b' ');
        msg.extend(value(r));
    }
    msg.extend_from_slice(b"\r\n");
    let mut fields = 0;
    for (n, v) in &c.fields {
        let mut name = b"X-".to_vec();
        name.extend(token(n));
        field(&mut msg, &name, &value(v), c.style);
        fields += 1;
    }
    if let Some(s) = c.retry_after {
        field(&mut msg, styled("Retry-After", c.style).as_bytes(), s.to_string().as_bytes(), c.style);
        fields += 1;
    }

    // The expected outcome, computed in the order the parser meets the bytes.
    let mut expect: Result<(), HttpError> = Ok(());
    // Framing errors only matter when there is a body to frame: other statuses end at the head.
    let fail = |e: HttpError, expect: &mut Result<(), HttpError>| {
        if carries_body && expect.is_ok() {
            *expect = Err(e);
        }
    };
    let mut tail = Vec::new();
    match &c.framing {
        Framing::Length { twice } => {
            let cl = styled("Content-Length", c.style);
            field(&mut msg, cl.as_bytes(), body.len().to_string().as_bytes(), c.style);
            fields += 1;
            if *twice {
                // An identical repeat is allowed (RFC 9112 §6.3 rule 5).
                field(&mut msg, cl.as_bytes(), body.len().to_string().as_bytes(), c.style);
                fields += 1;
            }
            if body.len() > cap {
                fail(HttpError::BodyTooLarge, &mut expect);
            }
            tail.extend_from_slice(body);
        }
        Framing::Chunked { sizes, exts, zeros, trailers, also_length, coded } => {
            if let Some(n) = also_length {
                // Transfer-Encoding wins over Content-Length (RFC 9112 §6.3 rule 3).
                field(&mut msg, styled("Content-Length", c.style).as_bytes(), n.to_string().as_bytes(), c.style);
                fields += 1;
            }
            let te: &[u8] = if *coded { b"gzip, chunked" } else { b"chunked" };
            field(&mut msg, styled("Transfer-Encoding", c.style).as_bytes(), te, c.style);
            fields += 1;
            let mut stored = 0usize;
            let mut rest = body;
            let mut i = 0;
            loop {
                let size = if rest.is_empty() {
                    0
                } else {
                    (sizes.get(i).copied().unwrap_or(255).max(1) as usize).min(rest.len())
                };
                let zeros = (*zeros % 8) as usize;
                let hex = if c.style.is_multiple_of(2) {
                    format!("{:0w$x}", size, w = zeros + 1)
                } else {
                    format!("{:0w$X}", size, w = zeros + 1)
                };
                let mut line = hex.into_bytes();
                if let Some(e) = exts.get(i) {
                    // A chunk extension (§7.1.1): ";name=value", or after whitespace.
                    line.push(if e.first().is_some_and(|b| b % 2 == 0) { b';' } else { b' ' });
                    line.extend(token(e));
                }
                if line.len() + 1 > CHUNK_LINE_MAX {
                    fail(HttpError::BadChunk, &mut expect);
                }
                tail.extend_from_slice(&line);
                tail.extend_from_slice(b"\r\n");
                if size == 0 {
                    break;
                }
                if size > cap - stored.min(cap) {
                    fail(HttpError::BodyTooLarge, &mut expect);
                }
                stored += size;
                tail.extend_from_slice(&rest[..size]);
                tail.extend_from_slice(b"\r\n");
                rest = &rest[size..];
                i += 1;
            }
            let mut section = Vec::new();
            for (n, v) in trailers {
                let mut name = b"X-".to_vec();
                name.extend(token(n));
                field(&mut section, &name, &value(v), c.style);
            }
            section.extend_from_slice(b"\r\n");
            if section.len() > TRAILER_MAX {
                fail(HttpError::BadChunk, &mut expect);
            }
            tail.extend_from_slice(&section);
        }
        Framing::Close => {
            if body.len() > cap {
                fail(HttpError::BodyTooLarge, &mut expect);
            }
            tail.extend_from_slice(body);
        }
    }
    msg.extend_from_slice(b"\r\n");
    // Head limits come first: nothing is framed before the head is whole.
    if msg.len() - head_start > HEAD_MAX || fields > FIELDS_MAX {
        expect = Err(HttpError::HeadTooLarge);
    }
    let message_end = if carries_body { msg.len() + tail.len() } else { msg.len() };
    msg.extend_from_slice(&tail);
    let close_delimited = matches!(c.framing, Framing::Close) && carries_body;
    if !close_delimited {
        // Bytes after the message (another response, garbage) must be left alone.
        msg.extend_from_slice(&c.after);
    }

    let cuts: Vec<usize> = c.cuts.iter().map(|&x| x as usize).collect();
    let got = parse_pieces(&msg, cap, &cuts);
    match expect {
        Err(e) => assert_eq!(got.result, Err(e), "expected {e:?}"),
        Ok(()) => {
            assert_eq!(got.result, Ok(()));
            assert_eq!(got.head, Some(Head { status, retry_after: c.retry_after }));
            assert_eq!(got.body, body, "body differs from what was framed");
            assert!(got.done);
            if !close_delimited {
                assert_eq!(got.used, message_end, "parser consumed past (or short of) the message end");
            }
        }
    }
});
