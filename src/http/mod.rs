//! HTTP/1.1 client pieces, sans-IO: a request writer and an incremental response parser.
//!
//! The parser is fed whatever bytes the transport produced, split at any boundary, and stores
//! the body of a successful (2xx) response in a caller-provided buffer. It implements the
//! message-body length rules of RFC 9112 §6.3: no body for 1xx/204/304, `Transfer-Encoding:
//! chunked` (§7.1) before `Content-Length` (§6.2), and otherwise a body delimited by the close of
//! the connection. Every size is bounded: the head by [`HEAD_MAX`], chunk-size lines and
//! trailers by the same budget, and the body by the buffer the caller hands in.
//!
//! Non-2xx responses stop at the head: the flows only need the status (and `Retry-After`), so
//! the connection can be dropped without reading an error page of unknown size.
//!
//! The head is parsed here too (status line and field lines, RFC 9112 §4–5): the grammar a
//! client needs is a few lines, and doing it by hand kept 2.7 KB of httparse out of the binary.

pub mod exchange;

use core::fmt;
use embedded_io::{Read, Write};

/// Largest response head (status line and fields) accepted. Metadata services send a few
/// hundred bytes; anything near this is hostile or broken.
pub const HEAD_MAX: usize = 8 * 1024;
/// Most header fields accepted in one response head.
const FIELDS_MAX: usize = 64;
/// Longest chunk-size line (size, extensions) and longest trailer section accepted.
const CHUNK_LINE_MAX: usize = 256;

/// Why a response could not be parsed or stored.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// The status line or a header field is malformed.
    BadHead,
    /// The head is longer than [`HEAD_MAX`] or has too many fields.
    HeadTooLarge,
    /// `Content-Length` is malformed or given twice with different values.
    BadContentLength,
    /// A chunk-size line, chunk terminator or trailer is malformed (RFC 9112 §7.1).
    BadChunk,
    /// The body of a 2xx response is larger than the buffer reserved for it.
    BodyTooLarge,
    /// The connection ended before the message did.
    Truncated,
    /// A request could not be written: a value holds CR/LF or the buffer is too small.
    BadRequest,
}

impl fmt::Display for HttpError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HttpError::BadHead => "malformed response head",
            HttpError::HeadTooLarge => "response head too large",
            HttpError::BadContentLength => "invalid Content-Length",
            HttpError::BadChunk => "invalid chunked framing",
            HttpError::BodyTooLarge => "response body too large",
            HttpError::Truncated => "response truncated",
            HttpError::BadRequest => "request not representable",
        })
    }
}

impl core::error::Error for HttpError {}

/// Writes `METHOD path HTTP/1.1` with the given fields and `body` into `out`, returning the
/// length.
///
/// Every request carries `Host`, `User-Agent`, `Connection: close` (one request per connection
/// keeps the state machine simple and the server's socket clean) and, for PUT and POST or any
/// body, an explicit `Content-Length` because some servers refuse a PUT without one
/// (RFC 9110 §8.6).
/// Values containing CR or LF are refused, so nothing received can inject a header.
pub fn write_request(
    out: &mut [u8],
    method: &str,
    host: &[u8],
    path: &[u8],
    fields: &[(&str, &[u8])],
    body: &[u8],
) -> Result<usize, HttpError> {
    let mut w = SliceWriter { buf: out, len: 0 };
    let bad = |v: &[u8]| v.iter().any(|&b| b == b'\r' || b == b'\n' || b == 0);
    if bad(path) || bad(host) || fields.iter().any(|(n, v)| bad(n.as_bytes()) || bad(v)) {
        return Err(HttpError::BadRequest);
    }
    w.put(method.as_bytes())?;
    w.put(b" ")?;
    w.put(path)?;
    w.put(b" HTTP/1.1\r\nHost: ")?;
    w.put(host)?;
    w.put(b"\r\nUser-Agent: flint/")?;
    w.put(env!("CARGO_PKG_VERSION").as_bytes())?;
    w.put(b"\r\nConnection: close\r\n")?;
    if method == "PUT" || method == "POST" || !body.is_empty() {
        w.put(b"Content-Length: ")?;
        let mut digits = [0u8; 20];
        w.put(crate::fmt::decimal(body.len() as u64, &mut digits))?;
        w.put(b"\r\n")?;
    }
    for (name, value) in fields {
        w.put(name.as_bytes())?;
        w.put(b": ")?;
        w.put(value)?;
        w.put(b"\r\n")?;
    }
    w.put(b"\r\n")?;
    w.put(body)?;
    Ok(w.len)
}

struct SliceWriter<'a> {
    buf: &'a mut [u8],
    len: usize,
}

impl SliceWriter<'_> {
    fn put(&mut self, bytes: &[u8]) -> Result<(), HttpError> {
        let end = self.len.checked_add(bytes.len()).filter(|&e| e <= self.buf.len()).ok_or(HttpError::BadRequest)?;
        self.buf[self.len..end].copy_from_slice(bytes);
        self.len = end;
        Ok(())
    }
}

/// What the flows need from a response head.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Head {
    pub status: u16,
    /// `Retry-After` in delay-seconds form (RFC 9110 §10.2.3); the HTTP-date form is ignored.
    pub retry_after: Option<u32>,
}

impl Head {
    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Head,
    /// Content-Length framing, this many bytes still to come.
    Fixed(u64),
    Chunked(Chunk),
    /// Body ends when the connection does.
    UntilClose,
    Done,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Chunk {
    /// Reading the hex chunk size; `ext` once a `;` extension started.
    Size {
        value: u64,
        digits: u8,
        ext: bool,
    },
    /// Saw CR after the size line, LF must follow.
    SizeLf {
        value: u64,
    },
    Data(u64),
    DataCr,
    DataLf,
    /// After the last chunk: trailer field lines until an empty line (§7.1.2).
    /// `line` counts bytes in the current line; `cr` means the last byte was CR.
    Trailer {
        line: u16,
        cr: bool,
    },
}

/// Incremental response parser; see the module docs.
pub struct ResponseParser<'b> {
    head_buf: [u8; HEAD_MAX],
    head_len: usize,
    head: Head,
    state: State,
    body: &'b mut [u8],
    body_len: usize,
    /// Bytes of chunk-size lines and trailers seen, bounded by [`CHUNK_LINE_MAX`] per line.
    line_len: usize,
}

impl<'b> ResponseParser<'b> {
    pub fn new(body: &'b mut [u8]) -> Self {
        ResponseParser {
            head_buf: [0; HEAD_MAX],
            head_len: 0,
            head: Head::default(),
            state: State::Head,
            body,
            body_len: 0,
            line_len: 0,
        }
    }

    /// Forgets everything but the body buffer, for the next request.
    pub fn reset(&mut self) {
        self.head_len = 0;
        self.head = Head::default();
        self.state = State::Head;
        self.body_len = 0;
        self.line_len = 0;
    }

    /// The parsed head, once it is complete.
    pub fn head(&self) -> Option<Head> {
        (self.state != State::Head).then_some(self.head)
    }

    /// The `Location` field of a complete head (a redirect's target, RFC 9110 §10.2.2), trimmed.
    pub fn location(&self) -> Option<&[u8]> {
        self.head()?;
        let head = self.head_buf.get(..self.head_len)?;
        head.split(|&b| b == b'\n').skip(1).find_map(|line| {
            let line = line.strip_suffix(b"\r")?;
            let (name, value) = parse_field(line).ok()?;
            name.eq_ignore_ascii_case(b"location").then_some(value)
        })
    }

    /// The body received so far (complete once [`is_done`](Self::is_done)).
    pub fn body(&self) -> &[u8] {
        &self.body[..self.body_len]
    }

    /// The body received so far, writable (base64 is decoded in place).
    pub fn body_mut(&mut self) -> &mut [u8] {
        &mut self.body[..self.body_len]
    }

    /// True when the message is complete and the connection can be dropped.
    pub fn is_done(&self) -> bool {
        self.state == State::Done
    }

    /// Consumes `input`; returns how many bytes were used (less than `input.len()` only when
    /// the message ended inside it).
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn feed(&mut self, input: &[u8]) -> Result<usize, HttpError> {
        let mut used = 0;
        while used < input.len() && self.state != State::Done {
            used += match self.state {
                State::Head => self.feed_head(&input[used..])?,
                State::Fixed(left) => {
                    let n = (input.len() - used).min(usize::try_from(left).unwrap_or(usize::MAX));
                    self.store(&input[used..used + n])?;
                    self.state = if left == n as u64 { State::Done } else { State::Fixed(left - n as u64) };
                    n
                }
                State::UntilClose => {
                    self.store(&input[used..])?;
                    input.len() - used
                }
                State::Chunked(c) => self.feed_chunked(c, &input[used..])?,
                State::Done => 0,
            };
        }
        Ok(used)
    }

    /// The transport reported end of stream: close-delimited bodies end here, anything else
    /// unfinished is truncated.
    pub fn finish(&mut self) -> Result<(), HttpError> {
        match self.state {
            State::UntilClose | State::Done => {
                self.state = State::Done;
                Ok(())
            }
            _ => Err(HttpError::Truncated),
        }
    }

    fn store(&mut self, data: &[u8]) -> Result<(), HttpError> {
        let end = self.body_len + data.len();
        if end > self.body.len() {
            return Err(HttpError::BodyTooLarge);
        }
        self.body[self.body_len..end].copy_from_slice(data);
        self.body_len = end;
        Ok(())
    }

    fn feed_head(&mut self, input: &[u8]) -> Result<usize, HttpError> {
        // Look for the blank line that ends the head, starting a few bytes back so a CRLFCRLF
        // split across two feeds is still found.
        let start = self.head_len.saturating_sub(3);
        let room = HEAD_MAX - self.head_len;
        let take = input.len().min(room);
        self.head_buf[self.head_len..self.head_len + take].copy_from_slice(&input[..take]);
        let filled = self.head_len + take;
        let Some(end) = find_blank_line(&self.head_buf[start..filled]).map(|e| start + e) else {
            if take < input.len() || filled == HEAD_MAX {
                return Err(HttpError::HeadTooLarge);
            }
            self.head_len = filled;
            return Ok(take);
        };
        let used = end - self.head_len;
        self.head_len = end;
        self.parse_head()?;
        Ok(used)
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn parse_head(&mut self) -> Result<(), HttpError> {
        // The head ends with CRLF CRLF (found by feed_head); drop the final empty line.
        let head = &self.head_buf[..self.head_len - 2];
        let mut lines = head.split_inclusive(|&b| b == b'\n').map(|l| l.strip_suffix(b"\r\n"));
        let status = parse_status_line(lines.next().flatten().ok_or(HttpError::BadHead)?)?;
        if (100..200).contains(&status) && status != 101 {
            // Interim response (e.g. 100 Continue): a final one follows (RFC 9110 §15.2).
            self.head_len = 0;
            return Ok(());
        }
        let mut content_length: Option<u64> = None;
        let mut chunked = false;
        let mut transfer_coded = false;
        let mut retry_after = None;
        let mut fields = 0;
        for line in lines {
            // Every line must have ended in CRLF; an empty one cannot occur before the end.
            let line = line.ok_or(HttpError::BadHead)?;
            if line.is_empty() {
                continue;
            }
            fields += 1;
            if fields > FIELDS_MAX {
                return Err(HttpError::HeadTooLarge);
            }
            let (name, value) = parse_field(line)?;
            if name.eq_ignore_ascii_case(b"content-length") {
                let v = parse_decimal(value).ok_or(HttpError::BadContentLength)?;
                if content_length.is_some_and(|old| old != v) {
                    return Err(HttpError::BadContentLength);
                }
                content_length = Some(v);
            } else if name.eq_ignore_ascii_case(b"transfer-encoding") {
                transfer_coded = true;
                // Chunked must be the final coding (RFC 9112 §6.3 rule 4).
                let last = value.rsplit(|&b| b == b',').next().unwrap_or(&[]);
                chunked = trim(last).eq_ignore_ascii_case(b"chunked");
            } else if name.eq_ignore_ascii_case(b"retry-after") {
                retry_after = parse_decimal(value).map(|v| v.min(u32::MAX as u64) as u32);
            }
        }
        self.head = Head { status, retry_after };
        self.state = if !self.head.is_success() || status == 204 {
            State::Done
        } else if transfer_coded {
            if chunked { State::Chunked(Chunk::Size { value: 0, digits: 0, ext: false }) } else { State::UntilClose }
        } else {
            match content_length {
                Some(0) => State::Done,
                Some(n) if n > self.body.len() as u64 => return Err(HttpError::BodyTooLarge),
                Some(n) => State::Fixed(n),
                None => State::UntilClose,
            }
        };
        Ok(())
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn feed_chunked(&mut self, c: Chunk, input: &[u8]) -> Result<usize, HttpError> {
        if let Chunk::Data(left) = c {
            let n = input.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            self.store(&input[..n])?;
            self.state = State::Chunked(if left == n as u64 { Chunk::DataCr } else { Chunk::Data(left - n as u64) });
            return Ok(n);
        }
        // Everything else advances one byte at a time; these lines are a few bytes long.
        let b = input[0];
        let next = match c {
            Chunk::Size { value, digits, ext } => {
                self.line_len += 1;
                if self.line_len > CHUNK_LINE_MAX {
                    return Err(HttpError::BadChunk);
                }
                match (b, ext) {
                    (b'\r', _) if digits > 0 => Chunk::SizeLf { value },
                    (_, true) => c,
                    (b';', false) if digits > 0 => Chunk::Size { value, digits, ext: true },
                    (b' ' | b'\t', false) if digits > 0 => Chunk::Size { value, digits, ext: true },
                    _ => {
                        let d = (b as char).to_digit(16).ok_or(HttpError::BadChunk)? as u64;
                        if digits >= 15 {
                            return Err(HttpError::BadChunk);
                        }
                        Chunk::Size { value: value * 16 + d, digits: digits + 1, ext }
                    }
                }
            }
            Chunk::SizeLf { value } => {
                if b != b'\n' {
                    return Err(HttpError::BadChunk);
                }
                self.line_len = 0;
                if value == 0 {
                    Chunk::Trailer { line: 0, cr: false }
                } else {
                    if value > (self.body.len() - self.body_len) as u64 {
                        return Err(HttpError::BodyTooLarge);
                    }
                    Chunk::Data(value)
                }
            }
            Chunk::DataCr if b == b'\r' => Chunk::DataLf,
            Chunk::DataLf if b == b'\n' => Chunk::Size { value: 0, digits: 0, ext: false },
            Chunk::DataCr | Chunk::DataLf => return Err(HttpError::BadChunk),
            Chunk::Trailer { line, cr } => {
                self.line_len += 1;
                if self.line_len > CHUNK_LINE_MAX * 4 {
                    return Err(HttpError::BadChunk);
                }
                match (b, cr) {
                    (b'\n', true) if line == 0 => {
                        self.state = State::Done;
                        return Ok(1);
                    }
                    (b'\n', true) => Chunk::Trailer { line: 0, cr: false },
                    (b'\r', false) => Chunk::Trailer { line, cr: true },
                    (_, true) => return Err(HttpError::BadChunk),
                    _ => Chunk::Trailer { line: line.saturating_add(1), cr: false },
                }
            }
            Chunk::Data(_) => unreachable!("handled above"),
        };
        self.state = State::Chunked(next);
        Ok(1)
    }
}

/// `HTTP/1.x SP 3DIGIT SP [reason]` (RFC 9112 §4); returns the status code.
fn parse_status_line(line: &[u8]) -> Result<u16, HttpError> {
    let rest = line.strip_prefix(b"HTTP/1.").ok_or(HttpError::BadHead)?;
    match rest {
        [b'0' | b'1', b' ', a, b, c, tail @ ..] if tail.is_empty() || tail[0] == b' ' => {
            let digits = [*a, *b, *c];
            if !digits.iter().all(u8::is_ascii_digit) || *a == b'0' {
                return Err(HttpError::BadHead);
            }
            Ok(digits.iter().fold(0u16, |acc, d| acc * 10 + (d - b'0') as u16))
        }
        _ => Err(HttpError::BadHead),
    }
}

/// `field-name ":" OWS field-value OWS` (RFC 9112 §5.1); no whitespace before the colon, no
/// obsolete line folding, no control characters in the value.
fn parse_field(line: &[u8]) -> Result<(&[u8], &[u8]), HttpError> {
    let colon = line.iter().position(|&b| b == b':').ok_or(HttpError::BadHead)?;
    let (name, value) = (&line[..colon], &line[colon + 1..]);
    let tchar = |b: &u8| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(b);
    if name.is_empty() || !name.iter().all(tchar) || value.iter().any(|&b| (b < 0x20 && b != b'\t') || b == 0x7f) {
        return Err(HttpError::BadHead);
    }
    Ok((name, trim(value)))
}

/// Position just past the first CRLFCRLF in `buf`.
fn find_blank_line(buf: &[u8]) -> Option<usize> {
    buf.windows(4).position(|w| w == b"\r\n\r\n").map(|p| p + 4)
}

fn trim(v: &[u8]) -> &[u8] {
    v.trim_ascii()
}

fn parse_decimal(v: &[u8]) -> Option<u64> {
    crate::fmt::parse_decimal(trim(v))
}

/// What went wrong while exchanging one request and response over a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExchangeError<E> {
    /// The transport failed (refused, reset, timed out).
    Io(E),
    /// The peer's bytes do not form a valid response.
    Http(HttpError),
}

/// Sends `request` over `stream` and feeds the answer into `parser` until the response is
/// complete (or the stream ends). Generic over `embedded_io` so host tests drive it with a
/// scripted stream and the binary with a TCP socket on smoltcp.
pub fn exchange<S: Read + Write>(
    stream: &mut S,
    request: &[u8],
    parser: &mut ResponseParser<'_>,
) -> Result<Head, ExchangeError<S::Error>> {
    stream.write_all(request).map_err(ExchangeError::Io)?;
    stream.flush().map_err(ExchangeError::Io)?;
    let mut buf = [0u8; 2048];
    while !parser.is_done() {
        let n = stream.read(&mut buf).map_err(ExchangeError::Io)?;
        if n == 0 {
            parser.finish().map_err(ExchangeError::Http)?;
            break;
        }
        parser.feed(&buf[..n]).map_err(ExchangeError::Http)?;
    }
    parser.head().ok_or(ExchangeError::Http(HttpError::Truncated))
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    /// Feeds `resp` split at `split` (and in one piece) and returns status and body.
    fn parse_split(resp: &[u8], split: usize, cap: usize) -> Result<(u16, Vec<u8>), HttpError> {
        let mut body = std::vec![0u8; cap];
        let mut p = ResponseParser::new(&mut body);
        let (a, b) = resp.split_at(split);
        let mut used = p.feed(a)?;
        if !p.is_done() {
            used += p.feed(b)?;
        }
        let _ = used;
        if !p.is_done() {
            p.finish()?;
        }
        Ok((p.head().unwrap().status, p.body().to_vec()))
    }

    fn at_every_split(resp: &[u8], cap: usize) -> Result<(u16, Vec<u8>), HttpError> {
        let whole = parse_split(resp, resp.len(), cap);
        for i in 0..=resp.len() {
            assert_eq!(parse_split(resp, i, cap), whole, "split at {i}");
        }
        // And one byte at a time.
        let mut body = std::vec![0u8; cap];
        let mut p = ResponseParser::new(&mut body);
        let mut r = Ok(());
        for b in resp {
            if p.is_done() {
                break;
            }
            if let Err(e) = p.feed(core::slice::from_ref(b)) {
                r = Err(e);
                break;
            }
        }
        let bytewise = r
            .and_then(|_| if p.is_done() { Ok(()) } else { p.finish() })
            .map(|_| (p.head().unwrap().status, p.body().to_vec()));
        assert_eq!(bytewise, whole, "byte at a time");
        whole
    }

    #[test]
    fn content_length_body_at_every_split() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 11\r\n\r\nhello world";
        assert_eq!(at_every_split(r, 64), Ok((200, b"hello world".to_vec())));
    }

    #[test]
    fn chunked_body_with_extensions_and_trailers_at_every_split() {
        let r = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5;name=v\r\nhello\r\n1\r\n \r\nA\r\n0123456789\r\n0\r\nX-Trailer: 1\r\n\r\n";
        assert_eq!(at_every_split(r, 64), Ok((200, b"hello 0123456789".to_vec())));
    }

    #[test]
    fn close_delimited_body_at_every_split() {
        let r = b"HTTP/1.0 200 OK\r\nServer: x\r\n\r\nuntil the end";
        assert_eq!(at_every_split(r, 64), Ok((200, b"until the end".to_vec())));
    }

    #[test]
    fn a_redirect_keeps_its_location() {
        let mut body = [0u8; 16];
        let mut p = ResponseParser::new(&mut body);
        assert_eq!(p.location(), None);
        p.feed(b"HTTP/1.1 302 Found\r\nServer: x\r\nlocation:  https://b.example/k?X-Amz-Signature=ab \r\n").unwrap();
        assert_eq!(p.location(), None, "no head yet");
        p.feed(b"Content-Length: 5\r\n\r\nmoved").unwrap();
        assert_eq!(p.head().map(|h| h.status), Some(302));
        assert_eq!(p.location(), Some(&b"https://b.example/k?X-Amz-Signature=ab"[..]));
        p.reset();
        p.feed(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n").unwrap();
        assert_eq!(p.location(), None);
    }

    #[test]
    fn error_status_stops_at_head_and_keeps_retry_after() {
        let mut body = [0u8; 4];
        let mut p = ResponseParser::new(&mut body);
        let r = b"HTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 100000\r\n\r\n<html>";
        let used = p.feed(r).unwrap();
        assert!(p.is_done());
        assert_eq!(used, r.len() - 6);
        assert_eq!(p.head(), Some(Head { status: 503, retry_after: Some(7) }));
    }

    #[test]
    fn interim_100_continue_is_skipped() {
        let r = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
        assert_eq!(at_every_split(r, 8), Ok((200, b"ok".to_vec())));
    }

    #[test]
    fn no_content_has_no_body() {
        let r = b"HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n";
        assert_eq!(at_every_split(r, 8), Ok((204, Vec::new())));
    }

    #[test]
    fn transfer_encoding_wins_over_content_length() {
        let r = b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n";
        assert_eq!(at_every_split(r, 8), Ok((200, b"ab".to_vec())));
    }

    #[test]
    fn truncated_bodies_are_errors() {
        let fixed = b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort";
        assert_eq!(at_every_split(fixed, 64), Err(HttpError::Truncated));
        let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n";
        assert_eq!(at_every_split(chunk, 64), Err(HttpError::Truncated));
        let head = b"HTTP/1.1 200 OK\r\nContent-Len";
        assert_eq!(at_every_split(head, 64), Err(HttpError::Truncated));
    }

    #[test]
    fn chunked_framing_errors() {
        for r in [
            &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n"[..],
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhelloXX0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n10000000000000000\r\n",
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nbad\rtrailer\r\n\r\n",
        ] {
            assert_eq!(at_every_split(r, 64), Err(HttpError::BadChunk), "{}", std::string::String::from_utf8_lossy(r));
        }
    }

    #[test]
    fn body_limits() {
        let declared = b"HTTP/1.1 200 OK\r\nContent-Length: 65\r\n\r\n";
        assert_eq!(at_every_split(declared, 64), Err(HttpError::BodyTooLarge));
        let chunk = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n41\r\n";
        assert_eq!(at_every_split(chunk, 64), Err(HttpError::BodyTooLarge));
        let mut close = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        close.extend(std::iter::repeat_n(b'x', 65));
        assert_eq!(at_every_split(&close, 64), Err(HttpError::BodyTooLarge));
        let exact = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nabcd";
        assert_eq!(at_every_split(exact, 4), Ok((200, b"abcd".to_vec())));
    }

    #[test]
    fn head_limits_and_malformed_heads() {
        let mut big = b"HTTP/1.1 200 OK\r\nX-Big: ".to_vec();
        big.extend(std::iter::repeat_n(b'a', 64 * 1024));
        big.extend(b"\r\n\r\n");
        assert_eq!(parse_split(&big, 100, 64), Err(HttpError::HeadTooLarge));
        let mut many = b"HTTP/1.1 200 OK\r\n".to_vec();
        for i in 0..70 {
            many.extend(std::format!("X-{i}: v\r\n").as_bytes());
        }
        many.extend(b"\r\n");
        assert_eq!(parse_split(&many, 0, 64), Err(HttpError::HeadTooLarge));
        assert_eq!(at_every_split(b"HTTX/1.1 200 OK\r\n\r\n", 64), Err(HttpError::BadHead));
        for bad in [
            &b"HTTP/1.1 2000 OK\r\n\r\n"[..],
            b"HTTP/1.1 20 OK\r\n\r\n",
            b"HTTP/2.0 200 OK\r\n\r\n",
            b"HTTP/1.1 099 OK\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nNo-Colon\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nBad Name: x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nName : x\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\r\n folded\r\n\r\n",
            b"HTTP/1.1 200 OK\r\nX: a\x01b\r\n\r\n",
            b"HTTP/1.1 200 OK\nX: bare-lf\r\n\r\n",
        ] {
            assert_eq!(
                at_every_split(bad, 64),
                Err(HttpError::BadHead),
                "{}",
                std::string::String::from_utf8_lossy(bad)
            );
        }
        assert_eq!(
            at_every_split(b"HTTP/1.1 200\r\nContent-Length:2\r\n\r\nok", 64),
            Ok((200, b"ok".to_vec())),
            "reason is optional"
        );
        assert_eq!(
            at_every_split(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", 64),
            Err(HttpError::BadContentLength)
        );
        assert_eq!(
            at_every_split(b"HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n", 64),
            Err(HttpError::BadContentLength)
        );
    }

    #[test]
    fn request_is_well_formed_and_refuses_injection() {
        let mut buf = [0u8; 512];
        let n = write_request(
            &mut buf,
            "PUT",
            b"169.254.169.254",
            b"/latest/api/token",
            &[("X-aws-ec2-metadata-token-ttl-seconds", b"21600")],
            b"",
        )
        .unwrap();
        let text = core::str::from_utf8(&buf[..n]).unwrap();
        assert!(text.starts_with("PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\n"));
        assert!(text.contains("\r\nContent-Length: 0\r\n"));
        assert!(text.contains("\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
        assert!(text.ends_with("\r\n\r\n"));
        assert_eq!(
            write_request(&mut buf, "GET", b"h", b"/p", &[("T", b"a\r\nEvil: 1")], b""),
            Err(HttpError::BadRequest)
        );
        assert_eq!(write_request(&mut buf[..10], "GET", b"h", b"/p", &[], b""), Err(HttpError::BadRequest));
    }

    /// A scripted stream: yields the response in the given pieces and records what was written.
    struct Script<'a> {
        pieces: &'a [&'a [u8]],
        next: usize,
        written: Vec<u8>,
    }
    impl embedded_io::ErrorType for Script<'_> {
        type Error = embedded_io::ErrorKind;
    }
    impl Read for Script<'_> {
        fn read(&mut self, buf: &mut [u8]) -> Result<usize, Self::Error> {
            let Some(p) = self.pieces.get(self.next) else { return Ok(0) };
            self.next += 1;
            if p.is_empty() {
                return Err(embedded_io::ErrorKind::ConnectionReset);
            }
            buf[..p.len()].copy_from_slice(p);
            Ok(p.len())
        }
    }
    impl Write for Script<'_> {
        fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
            self.written.extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> Result<(), Self::Error> {
            Ok(())
        }
    }

    #[test]
    fn exchange_over_a_stream() {
        let pieces: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Le", b"ngth: 3\r\n\r\nab", b"c"];
        let mut s = Script { pieces, next: 0, written: Vec::new() };
        let mut body = [0u8; 16];
        let mut p = ResponseParser::new(&mut body);
        assert_eq!(exchange(&mut s, b"GET / HTTP/1.1\r\n\r\n", &mut p).unwrap().status, 200);
        assert_eq!(p.body(), b"abc");
        assert_eq!(s.written, b"GET / HTTP/1.1\r\n\r\n");

        let reset: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na", b""];
        let mut s = Script { pieces: reset, next: 0, written: Vec::new() };
        p.reset();
        assert_eq!(exchange(&mut s, b"x", &mut p), Err(ExchangeError::Io(embedded_io::ErrorKind::ConnectionReset)));

        let eof: &[&[u8]] = &[b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\na"];
        let mut s = Script { pieces: eof, next: 0, written: Vec::new() };
        p.reset();
        assert_eq!(exchange(&mut s, b"x", &mut p), Err(ExchangeError::Http(HttpError::Truncated)));
    }
}
