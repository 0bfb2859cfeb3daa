//! The mock's HTTP/1.1: one request read from a keep-alive stream, an answer as a value, the
//! status reasons, and the framing helpers every platform and fault shares.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

#[derive(Debug)]
pub(super) struct Request {
    pub(super) method: String,
    pub(super) target: String,
    pub(super) headers: Vec<(String, String)>,
    /// HTTP/1.0, or `Connection: close`.
    pub(super) wants_close: bool,
    /// The request body (a token request's JSON, IBM Cloud).
    pub(super) body: Vec<u8>,
    /// The client's TCP source port (Scaleway answers user-data only to ports < 1024).
    pub(super) peer_port: u16,
}

impl Request {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    pub(super) fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

pub(super) struct Response {
    pub(super) status: u16,
    pub(super) content_type: &'static str,
    pub(super) headers: Vec<(String, String)>,
    pub(super) body: Vec<u8>,
    /// Set the IP TTL of this connection before answering (IMDSv2 token responses).
    pub(super) ttl: Option<u32>,
    /// The user-data body (what `--truncate` cuts short).
    pub(super) user_data: bool,
}

impl Response {
    pub(super) fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response { status, content_type, headers: Vec::new(), body: body.into(), ttl: None, user_data: false }
    }

    pub(super) fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }

    /// Marks the body as the user-data (what `--truncate` and the wire faults act on).
    pub(super) fn user_data(mut self) -> Self {
        self.user_data = true;
        self
    }
}

pub(super) fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        301 => "Moved Permanently",
        307 => "Temporary Redirect",
        406 => "Not Acceptable",
        429 => "Too Many Requests",
        500 => "Internal Server Error",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "Unknown",
    }
}

/// A request head larger than this is answered 400 and the connection closed.
const MAX_HEAD: usize = 64 * 1024;
pub(super) enum ReadError {
    Closed,
    Malformed(String),
}

/// FIN after everything written, then drain until the peer closes (bounded by IDLE) so the FIN
/// is not followed by an RST that could destroy data still in flight to the client.
pub(super) fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 512];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Chunk sizes cycle through odd values so chunk boundaries fall everywhere: inside the
/// token, across TCP segments, at 1 byte. The first few go out as separate segments.
pub(super) fn write_chunked(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    const SIZES: [usize; 6] = [1, 13, 517, 1500, 4099, 16384];
    let mut rest = body;
    let mut i = 0;
    while !rest.is_empty() {
        let n = SIZES[i % SIZES.len()].min(rest.len());
        let (chunk, tail) = rest.split_at(n);
        let mut frame = format!("{n:x}\r\n").into_bytes();
        frame.extend_from_slice(chunk);
        frame.extend_from_slice(b"\r\n");
        stream.write_all(&frame)?;
        if i < 3 {
            stream.flush()?;
            std::thread::sleep(Duration::from_millis(2));
        }
        rest = tail;
        i += 1;
    }
    stream.write_all(b"0\r\n\r\n")
}

pub(super) fn is_dated_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Does an `Accept` header list one of `types` (parameters such as `q=` ignored)?
pub(super) fn accept_has(accept: Option<&str>, types: &[&str]) -> bool {
    accept.is_some_and(|a| {
        a.split(',')
            .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .any(|t| types.contains(&t.as_str()))
    })
}

/// Reads one request head (+ a Content-Length body, discarded) from a keep-alive stream.
/// Bytes past the request stay in `buf` for the next call (pipelining).
pub(super) fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Request, ReadError> {
    let head_end = loop {
        // Bare-LF line ends are tolerated, as most servers do.
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break (i, i + 4);
        }
        if let Some(i) = find(buf, b"\n\n") {
            break (i, i + 2);
        }
        if buf.len() > MAX_HEAD {
            return Err(ReadError::Malformed("request head too large".into()));
        }
        let mut tmp = [0u8; 4096];
        match stream.read(&mut tmp) {
            Ok(0) if buf.is_empty() => return Err(ReadError::Closed),
            Ok(0) => {
                return Err(ReadError::Malformed(format!("connection closed mid-request after {} bytes", buf.len())));
            }
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(_) if buf.is_empty() => return Err(ReadError::Closed),
            Err(e) => return Err(ReadError::Malformed(format!("read: {e}"))),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end.0]).into_owned();
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(ReadError::Malformed(format!("bad request line {request_line:?}")));
    };
    if !version.starts_with("HTTP/1.") || !target.starts_with('/') || method.is_empty() {
        return Err(ReadError::Malformed(format!("bad request line {request_line:?}")));
    }
    let mut headers = Vec::new();
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            return Err(ReadError::Malformed(format!("bad header line {line:?}")));
        };
        if k.is_empty() || k.ends_with(' ') || k.ends_with('\t') {
            return Err(ReadError::Malformed(format!("bad header name {k:?}")));
        }
        headers.push((k.to_string(), v.trim().to_string()));
    }
    let mut req = Request {
        method: method.into(),
        target: target.into(),
        headers,
        wants_close: version == "HTTP/1.0",
        body: Vec::new(),
        peer_port: 0,
    };
    if let Some(c) = req.header("connection")
        && c.to_ascii_lowercase().split(',').any(|t| t.trim() == "close")
    {
        req.wants_close = true;
    }
    if req.header("transfer-encoding").is_some() {
        return Err(ReadError::Malformed("chunked request bodies are not supported by the mock".into()));
    }
    let body_len = match req.header("content-length") {
        Some(v) => v.trim().parse::<usize>().map_err(|_| ReadError::Malformed(format!("bad Content-Length {v:?}")))?,
        None => 0,
    };
    if body_len > MAX_HEAD {
        return Err(ReadError::Malformed("request body too large".into()));
    }
    while buf.len() < head_end.1 + body_len {
        let mut tmp = [0u8; 4096];
        match stream.read(&mut tmp) {
            Ok(n) if n > 0 => buf.extend_from_slice(&tmp[..n]),
            _ => return Err(ReadError::Malformed("connection closed inside the request body".into())),
        }
    }
    req.body = buf[head_end.1..head_end.1 + body_len].to_vec();
    buf.drain(..head_end.1 + body_len);
    Ok(req)
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
