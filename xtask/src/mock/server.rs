//! The HTTP side of the mock: connection handling, request parsing, the AWS and Akamai
//! routes, and response framing (Content-Length, chunked, close-delimited, truncated).

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

use super::{Options, Platform, metadata};
use crate::util;

// A child of this module (it reaches the private request/response types); the file sits
// beside this one.
#[path = "faults.rs"]
pub(super) mod faults;

/// Accept loop; also used in-process by the unit tests.
pub(super) fn serve(listener: TcpListener, server: Arc<Server>) {
    let mut conn_id = 0u64;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                conn_id += 1;
                let server = Arc::clone(&server);
                let id = conn_id;
                std::thread::spawn(move || server.connection(stream, id));
            }
            // EMFILE and friends: back off briefly instead of spinning.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

pub(super) struct Server {
    pub(super) opts: Options,
    payload: Option<Vec<u8>>,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    /// token → expiry
    tokens: HashMap<String, Instant>,
    requests: u32,
    /// `--rate-limit`: start of the current one-second window and the requests admitted in it.
    window: (Instant, u32),
    stale_done: bool,
    /// Requests the `--fault` matched so far (for `--fault-times`).
    fault_hits: u32,
    log: Option<File>,
    token_log: Option<File>,
}

#[derive(Debug)]
struct Request {
    method: String,
    target: String,
    headers: Vec<(String, String)>,
    /// HTTP/1.0, or `Connection: close`.
    wants_close: bool,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }

    fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or("")
    }
}

struct Response {
    status: u16,
    content_type: &'static str,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Set the IP TTL of this connection before answering (IMDSv2 token responses).
    ttl: Option<u32>,
    /// The user-data body (what `--truncate` cuts short).
    user_data: bool,
}

impl Response {
    fn new(status: u16, content_type: &'static str, body: impl Into<Vec<u8>>) -> Self {
        Response { status, content_type, headers: Vec::new(), body: body.into(), ttl: None, user_data: false }
    }

    fn header(mut self, name: &str, value: impl Into<String>) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        204 => "No Content",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
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

const AWS_404: &str = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  <title>404 - Not Found</title>\n </head>\n <body>\n  <h1>404 - Not Found</h1>\n </body>\n</html>\n";

/// A request head larger than this is answered 400 and the connection closed.
const MAX_HEAD: usize = 64 * 1024;
/// Idle keep-alive connections are dropped after this, so threads cannot pile up.
const IDLE: Duration = Duration::from_secs(15);

enum ReadError {
    Closed,
    Malformed(String),
}

impl Server {
    pub(super) fn new(opts: Options) -> Result<Self, String> {
        let payload = match &opts.payload {
            Some(p) => Some(std::fs::read(p).map_err(|e| format!("mock: payload {}: {e}", p.display()))?),
            None => None,
        };
        let open = |p: &Option<PathBuf>| -> Result<Option<File>, String> {
            p.as_ref()
                .map(|p| {
                    OpenOptions::new()
                        .create(true)
                        .append(true)
                        .open(p)
                        .map_err(|e| format!("mock: {}: {e}", p.display()))
                })
                .transpose()
        };
        let state = State {
            tokens: HashMap::new(),
            requests: 0,
            window: (Instant::now(), 0),
            stale_done: false,
            fault_hits: 0,
            log: open(&opts.log)?,
            token_log: open(&opts.tokens)?,
        };
        Ok(Server { opts, payload, started: Instant::now(), state: Mutex::new(state) })
    }

    fn connection(&self, mut stream: TcpStream, conn: u64) {
        let _ = stream.set_read_timeout(Some(IDLE));
        // A client that stops reading must not pin this thread forever either.
        let _ = stream.set_write_timeout(Some(IDLE));
        let _ = stream.set_nodelay(true);
        let mut buf = Vec::new();
        loop {
            let req = match read_request(&mut stream, &mut buf) {
                Ok(r) => r,
                Err(ReadError::Closed) => return,
                Err(ReadError::Malformed(why)) => {
                    self.log_raw(conn, "?", &why, 400, false, false, None);
                    let resp = Response::new(400, "text/plain", "bad request\n");
                    let _ = self.write(&mut stream, "GET", &resp, true);
                    return;
                }
            };
            let resp = self.handle(&req, conn);
            if self.opts.delay_ms > 0 {
                std::thread::sleep(Duration::from_millis(self.opts.delay_ms));
            }
            if faults::take_over(self, &mut stream, &resp) {
                return;
            }
            let close = req.wants_close || self.opts.close_delimited || self.opts.truncate;
            if self.write(&mut stream, &req.method, &resp, close).is_err() || close {
                close_gracefully(&mut stream);
                return;
            }
        }
    }

    /// Decides the answer and logs the request. Everything stateful happens here, under the lock.
    fn handle(&self, req: &Request, conn: u64) -> Response {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests += 1;
        let now = Instant::now();
        st.tokens.retain(|_, expiry| *expiry > now);
        let token = req.header(self.opts.platform.token_header());
        let token_valid = token.is_some_and(|t| st.tokens.contains_key(t));
        // A fixed one-second window, the shape of a metadata service's throttle seen from
        // outside (Azure IMDS: 5 requests/s per VM, then 429; AWS throttles but publishes no
        // figure; platforms.md §1). Retry-After: 1 is the window's length.
        let throttled = self.opts.rate_limit.is_some_and(|limit| {
            if now.duration_since(st.window.0) >= Duration::from_secs(1) {
                st.window = (now, 0);
            }
            st.window.1 += 1;
            st.window.1 > limit
        });
        let resp = if throttled {
            Response::new(429, "text/plain", "Too Many Requests (rate limit)\n").header("Retry-After", "1")
        } else if st.requests <= self.opts.fail_first {
            let mut r = Response::new(
                self.opts.fail_status,
                "text/plain",
                format!("{} (scenario)\n", reason(self.opts.fail_status)),
            );
            if let (Some(s), 429 | 503) = (self.opts.retry_after, self.opts.fail_status) {
                r = r.header("Retry-After", s.to_string());
            }
            r
        } else {
            match self.opts.platform {
                Platform::Aws => self.aws(req, &mut st, token_valid),
                Platform::Akamai => self.akamai(req, &mut st, token_valid),
            }
        };
        let resp = faults::answer(self, req, &mut st, resp);
        let entry = json!({
            "t_ms": self.started.elapsed().as_millis() as u64,
            "conn": conn,
            "method": req.method,
            "path": req.target,
            "status": resp.status,
            "token_sent": token.is_some(),
            "token_valid": token_valid,
            "accept": req.header("accept"),
            "ttl_header": req.header("x-aws-ec2-metadata-token-ttl-seconds").or(req.header("metadata-token-expiry-seconds")),
            "user_agent": req.header("user-agent"),
            "bytes": resp.body.len(),
        });
        if let Some(f) = st.log.as_mut() {
            let _ = writeln!(f, "{entry}");
        }
        resp
    }

    fn log_raw(
        &self,
        conn: u64,
        method: &str,
        what: &str,
        status: u16,
        token_sent: bool,
        token_valid: bool,
        accept: Option<&str>,
    ) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = json!({
            "t_ms": self.started.elapsed().as_millis() as u64, "conn": conn, "method": method, "path": what,
            "status": status, "token_sent": token_sent, "token_valid": token_valid, "accept": accept,
        });
        if let Some(f) = st.log.as_mut() {
            let _ = writeln!(f, "{entry}");
        }
    }

    fn issue_token(&self, st: &mut State, token: String, ttl: u64) -> String {
        st.tokens.insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
        if let Some(f) = st.token_log.as_mut() {
            let _ = writeln!(f, "{token}");
        }
        token
    }

    /// AWS IMDSv2 (platforms.md §1).
    fn aws(&self, req: &Request, st: &mut State, token_valid: bool) -> Response {
        let not_found = || Response::new(404, "text/html", AWS_404);
        // IMDS refuses anything that looks proxied.
        if req.header("x-forwarded-for").is_some() {
            return Response::new(403, "text/plain", "Forbidden\n");
        }
        let path = req.path().trim_end_matches('/');
        if path.ends_with("/api/token") {
            // Only the unversioned path hands out tokens; dated ones are refused by design.
            if path != "/latest/api/token" {
                return Response::new(403, "text/plain", "Forbidden\n");
            }
            if self.opts.no_token_api {
                return not_found();
            }
            if req.method != "PUT" {
                return Response::new(405, "text/plain", "Method Not Allowed\n").header("Allow", "OPTIONS, PUT");
            }
            let ttl = req
                .header("x-aws-ec2-metadata-token-ttl-seconds")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|t| (1..=21600).contains(t));
            let Some(ttl) = ttl else {
                return Response::new(400, "text/plain", "Bad Request\n");
            };
            let token = self.issue_token(st, format!("AQAEA{}", base64_url(&util::random_bytes(42))), ttl);
            let mut r =
                Response::new(200, "text/plain", token).header("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", ttl.to_string());
            if self.opts.put_hop_limit > 0 {
                r.ttl = Some(self.opts.put_hop_limit);
            }
            return r;
        }
        if req.method != "GET" && req.method != "HEAD" {
            return Response::new(405, "text/plain", "Method Not Allowed\n").header("Allow", "OPTIONS, GET, HEAD");
        }
        let tokenless_ok = self.opts.no_token_api && req.header("x-aws-ec2-metadata-token").is_none();
        if !token_valid && !tokenless_ok {
            return Response::new(401, "text/html", "<html><body><h1>401 - Unauthorized</h1></body></html>\n");
        }
        // `/latest/…` or a dated version such as `/2019-10-01/…` (Ignition's path).
        let mut parts = path.trim_start_matches('/').splitn(2, '/');
        let version = parts.next().unwrap_or("");
        let rest = parts.next().unwrap_or("");
        if !(version == "latest" || is_dated_version(version)) {
            return not_found();
        }
        let text = |body: &str| Response::new(200, "text/plain", body.to_string());
        match rest {
            "" => {
                let mut names = if self.opts.no_metadata { vec![] } else { vec!["dynamic", "meta-data"] };
                if self.payload.is_some() {
                    names.push("user-data");
                }
                text(&names.join("\n"))
            }
            "user-data" => {
                if self.opts.stale_token_once && !st.stale_done {
                    // Looks to the client like a token that expired between PUT and GET.
                    st.stale_done = true;
                    if let Some(t) = req.header("x-aws-ec2-metadata-token") {
                        st.tokens.remove(t);
                    }
                    return Response::new(401, "text/html", "<html><body><h1>401 - Unauthorized</h1></body></html>\n");
                }
                match &self.payload {
                    Some(p) => {
                        Response { user_data: true, ..Response::new(200, "application/octet-stream", p.clone()) }
                    }
                    None => not_found(),
                }
            }
            _ => match metadata::aws(rest, &self.opts) {
                Some(body) => text(&body),
                None => not_found(),
            },
        }
    }

    /// Akamai / Linode metadata service (platforms.md §2).
    fn akamai(&self, req: &Request, st: &mut State, token_valid: bool) -> Response {
        let error = |status: u16, why: &str| {
            Response::new(status, "application/json", json!({"errors": [{"reason": why}]}).to_string())
        };
        let path = req.path().trim_end_matches('/');
        let accept = req.header("accept");
        if path == "/v1/token" {
            if req.method != "PUT" {
                return error(405, "Method Not Allowed");
            }
            let ttl = req
                .header("metadata-token-expiry-seconds")
                .and_then(|v| v.trim().parse::<u64>().ok())
                .filter(|t| (1..=86400).contains(t));
            let Some(ttl) = ttl else {
                return error(400, "Metadata-Token-Expiry-Seconds must be an integer between 1 and 86400");
            };
            let token = self.issue_token(st, util::random_hex(32), ttl);
            return if accept_has(accept, &["application/json"]) {
                Response::new(200, "application/json", json!([token]).to_string())
            } else {
                Response::new(200, "text/plain", token)
            };
        }
        if req.method != "GET" && req.method != "HEAD" {
            return error(405, "Method Not Allowed");
        }
        if !token_valid {
            return error(401, "Unauthorized");
        }
        match path {
            "/v1/user-data" => {
                // Only text/plain is offered; Ignition's config Accept would be refused here.
                if accept.is_some() && !accept_has(accept, &["text/plain", "text/*", "*/*"]) {
                    return error(406, "Not Acceptable");
                }
                let body = self.payload.as_deref().map(|p| base64::engine::general_purpose::STANDARD.encode(p));
                Response { user_data: true, ..Response::new(200, "text/plain", body.unwrap_or_default()) }
            }
            // JSON only when asked for (as go-metadata and Afterburn do); otherwise the
            // service's default text/plain form, and 406 for anything neither covers.
            _ => match metadata::akamai(path, &self.opts) {
                None => error(404, "Not Found"),
                Some(doc) if accept_has(accept, &["application/json"]) => {
                    Response::new(200, "application/json", doc.to_string())
                }
                Some(doc) if accept.is_none() || accept_has(accept, &["text/plain", "text/*", "*/*"]) => {
                    Response::new(200, "text/plain", metadata::flatten(&doc))
                }
                Some(_) => error(406, "Not Acceptable"),
            },
        }
    }

    /// Writes one response with the framing the knobs ask for. `Err` = the connection is done.
    fn write(&self, stream: &mut TcpStream, method: &str, resp: &Response, close: bool) -> std::io::Result<()> {
        let old_ttl = match resp.ttl {
            Some(ttl) => {
                let old = stream.ttl().ok();
                stream.set_ttl(ttl)?;
                old
            }
            None => None,
        };
        let has_body = method != "HEAD" && resp.status != 204 && resp.status != 304;
        let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
        let server_name = match self.opts.platform {
            Platform::Aws => "EC2ws",
            Platform::Akamai => "nginx",
        };
        head += &format!("Server: {server_name}\r\nContent-Type: {}\r\n", resp.content_type);
        for (k, v) in &resp.headers {
            head += &format!("{k}: {v}\r\n");
        }
        let chunked = self.opts.chunked && !self.opts.close_delimited;
        if self.opts.close_delimited {
            head += "Connection: close\r\n";
        } else {
            if chunked {
                head += "Transfer-Encoding: chunked\r\n";
            } else {
                head += &format!("Content-Length: {}\r\n", resp.body.len());
            }
            if close {
                head += "Connection: close\r\n";
            }
        }
        head += "\r\n";
        stream.write_all(head.as_bytes())?;
        if has_body {
            let cut = self.opts.truncate && resp.user_data;
            let body: &[u8] = if cut { &resp.body[..resp.body.len() / 2] } else { &resp.body };
            if chunked {
                write_chunked(stream, body)?;
            } else {
                // Two writes so the body never rides in the same segment as the head.
                let (a, b) = body.split_at(body.len() / 3);
                stream.write_all(a)?;
                stream.flush()?;
                stream.write_all(b)?;
            }
        }
        stream.flush()?;
        if let Some(old) = old_ttl {
            let _ = stream.set_ttl(old);
        }
        Ok(())
    }
}

/// FIN after everything written, then drain until the peer closes (bounded by IDLE) so the FIN
/// is not followed by an RST that could destroy data still in flight to the client.
fn close_gracefully(stream: &mut TcpStream) {
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Write);
    let mut sink = [0u8; 512];
    while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
}

/// Chunk sizes cycle through odd values so chunk boundaries fall everywhere: inside the
/// token, across TCP segments, at 1 byte. The first few go out as separate segments.
fn write_chunked(stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
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

fn base64_url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// Reads one request head (+ a Content-Length body, discarded) from a keep-alive stream.
/// Bytes past the request stay in `buf` for the next call (pipelining).
fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>) -> Result<Request, ReadError> {
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
    let mut req = Request { method: method.into(), target: target.into(), headers, wants_close: version == "HTTP/1.0" };
    if let Some(c) = req.header("connection") {
        if c.to_ascii_lowercase().split(',').any(|t| t.trim() == "close") {
            req.wants_close = true;
        }
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
    buf.drain(..head_end.1 + body_len);
    Ok(req)
}

pub(super) fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}
