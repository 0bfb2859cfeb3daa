//! Mock cloud metadata services (`xtask mock …`), written from the platform facts in
//! shared/reference/platforms.md §1 (AWS IMDSv2), §2 (Akamai) and §26 (mock checklist).
//!
//! Plain std: a `TcpListener`, one thread per connection, HTTP/1.1 with keep-alive. Every
//! request is appended to a JSON-lines log (`--log`) and every issued token to `--tokens`, so
//! tests can count token fetches and grep flint's stderr for the tokens. Scenario knobs bend
//! the protocol (chunked bodies, delays, stale tokens, 5xx/429 bursts, close-delimited bodies).
//!
//! The harness half of this module (`Options::to_args`, `start_in`, `read_log`) builds the
//! same command line the server half parses, so the two cannot drift apart.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::json;

use crate::proc::ChildGuard;
use crate::util;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Aws,
    Akamai,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Aws => "aws",
            Platform::Akamai => "akamai",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        match s {
            "aws" => Ok(Platform::Aws),
            "akamai" => Ok(Platform::Akamai),
            _ => Err(format!("unknown platform `{s}` (aws, akamai)")),
        }
    }

    /// The request header that carries the session token.
    pub fn token_header(self) -> &'static str {
        match self {
            Platform::Aws => "x-aws-ec2-metadata-token",
            Platform::Akamai => "metadata-token",
        }
    }
}

pub const MOCK_HELP: &str = "\
usage: xtask mock --platform aws|akamai [options]
  --listen ADDR          listen address (default 169.254.169.254:80)
  --payload FILE         user-data: served raw (aws) or base64-encoded (akamai); absent = none
  --log FILE             JSON lines, one per request (method, path, status, token sent/valid…)
  --tokens FILE          every issued token, one per line
  --ready FILE           created once the socket is bound
  --chunked              Transfer-Encoding: chunked, bodies split into several odd-sized chunks
  --close-delimited      no Content-Length; closing the connection ends every body
  --truncate             user-data answers announce the full length, send half, close
  --delay-ms N           wait N ms before every response
  --stale-token-once     the first user-data GET with a valid token answers 401 and revokes it
  --fail-first N         the first N requests (any path) answer --fail-status
  --fail-status S        status for --fail-first (default 503)
  --retry-after S        Retry-After header on 429/503 answers
  --no-token-api         aws: PUT /latest/api/token answers 404, GETs need no token (IMDSv1 only)
  --put-hop-limit N      aws: IP TTL of token responses (default 1 like IMDS; 0 = kernel default)
  --max-seconds N        exit after N seconds whatever happens (default 600)
";

/// Everything the mock can be told; the harness builds it, `to_args` serialises it and the
/// mock process parses it back.
#[derive(Clone, Debug)]
pub struct Options {
    pub platform: Platform,
    pub listen: String,
    pub payload: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub tokens: Option<PathBuf>,
    pub ready: Option<PathBuf>,
    pub chunked: bool,
    pub close_delimited: bool,
    pub truncate: bool,
    pub delay_ms: u64,
    pub stale_token_once: bool,
    pub fail_first: u32,
    pub fail_status: u16,
    pub retry_after: Option<u32>,
    pub no_token_api: bool,
    pub put_hop_limit: u32,
    pub max_seconds: u64,
}

impl Options {
    pub fn new(platform: Platform) -> Self {
        Options {
            platform,
            listen: "169.254.169.254:80".into(),
            payload: None,
            log: None,
            tokens: None,
            ready: None,
            chunked: false,
            close_delimited: false,
            truncate: false,
            delay_ms: 0,
            stale_token_once: false,
            fail_first: 0,
            fail_status: 503,
            retry_after: None,
            no_token_api: false,
            put_hop_limit: 1,
            max_seconds: 600,
        }
    }

    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> = vec!["--platform".into(), self.platform.as_str().into(), "--listen".into(), self.listen.clone()];
        let mut path = |flag: &str, p: &Option<PathBuf>| {
            if let Some(p) = p {
                a.push(flag.into());
                a.push(p.display().to_string());
            }
        };
        path("--payload", &self.payload);
        path("--log", &self.log);
        path("--tokens", &self.tokens);
        path("--ready", &self.ready);
        for (on, flag) in [
            (self.chunked, "--chunked"),
            (self.close_delimited, "--close-delimited"),
            (self.truncate, "--truncate"),
            (self.stale_token_once, "--stale-token-once"),
            (self.no_token_api, "--no-token-api"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a.extend(["--delay-ms".into(), self.delay_ms.to_string()]);
        a.extend(["--fail-first".into(), self.fail_first.to_string()]);
        a.extend(["--fail-status".into(), self.fail_status.to_string()]);
        if let Some(s) = self.retry_after {
            a.extend(["--retry-after".into(), s.to_string()]);
        }
        a.extend(["--put-hop-limit".into(), self.put_hop_limit.to_string()]);
        a.extend(["--max-seconds".into(), self.max_seconds.to_string()]);
        a
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut platform = None;
        let mut o = Options::new(Platform::Aws);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
                v.parse().map_err(|_| format!("{flag}: bad number `{v}`"))
            }
            match flag.as_str() {
                "--platform" => platform = Some(Platform::parse(&value()?)?),
                "--listen" => o.listen = value()?,
                "--payload" => o.payload = Some(value()?.into()),
                "--log" => o.log = Some(value()?.into()),
                "--tokens" => o.tokens = Some(value()?.into()),
                "--ready" => o.ready = Some(value()?.into()),
                "--chunked" => o.chunked = true,
                "--close-delimited" => o.close_delimited = true,
                "--truncate" => o.truncate = true,
                "--stale-token-once" => o.stale_token_once = true,
                "--no-token-api" => o.no_token_api = true,
                "--delay-ms" => o.delay_ms = num(flag, value()?)?,
                "--fail-first" => o.fail_first = num(flag, value()?)?,
                "--fail-status" => o.fail_status = num(flag, value()?)?,
                "--retry-after" => o.retry_after = Some(num(flag, value()?)?),
                "--put-hop-limit" => o.put_hop_limit = num(flag, value()?)?,
                "--max-seconds" => o.max_seconds = num(flag, value()?)?,
                "-h" | "--help" => return Err(MOCK_HELP.into()),
                other => return Err(format!("mock: unknown option `{other}`\n{MOCK_HELP}")),
            }
        }
        o.platform = platform.ok_or_else(|| format!("mock: --platform is required\n{MOCK_HELP}"))?;
        Ok(o)
    }
}

// ---------------------------------------------------------------------------------------
// Server half
// ---------------------------------------------------------------------------------------

/// `xtask mock …`: serves until killed (or `--max-seconds`).
pub fn main(args: &[String]) -> Result<(), String> {
    let opts = Options::parse(args)?;
    let listener = TcpListener::bind(&opts.listen).map_err(|e| format!("mock: bind {}: {e}", opts.listen))?;
    let server = Arc::new(Server::new(opts)?);
    if let Some(ready) = &server.opts.ready {
        File::create(ready).map_err(|e| format!("mock: {}: {e}", ready.display()))?;
    }
    // An orphaned mock (harness SIGKILLed) must not live forever.
    let max = Duration::from_secs(server.opts.max_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        std::process::exit(0);
    });
    serve(listener, server);
    Ok(())
}

/// Accept loop; also used in-process by the unit tests.
fn serve(listener: TcpListener, server: Arc<Server>) {
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

struct Server {
    opts: Options,
    payload: Option<Vec<u8>>,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    /// token → expiry
    tokens: HashMap<String, Instant>,
    requests: u32,
    stale_done: bool,
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
    fn new(opts: Options) -> Result<Self, String> {
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
            stale_done: false,
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
            let close = req.wants_close || self.opts.close_delimited || self.opts.truncate;
            if self.write(&mut stream, &req.method, &resp, close).is_err() || close {
                let _ = stream.flush();
                let _ = stream.shutdown(std::net::Shutdown::Write);
                // Drain until the peer closes (bounded by IDLE) so our FIN is not followed by
                // an RST that could destroy data still in flight to the client.
                let mut sink = [0u8; 512];
                while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
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
        let resp = if st.requests <= self.opts.fail_first {
            let mut r = Response::new(self.opts.fail_status, "text/plain", format!("{} (scenario)\n", reason(self.opts.fail_status)));
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

    fn log_raw(&self, conn: u64, method: &str, what: &str, status: u16, token_sent: bool, token_valid: bool, accept: Option<&str>) {
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
            let mut r = Response::new(200, "text/plain", token).header("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", ttl.to_string());
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
            "" => text(if self.payload.is_some() { "dynamic\nmeta-data\nuser-data" } else { "dynamic\nmeta-data" }),
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
                    Some(p) => Response { user_data: true, ..Response::new(200, "application/octet-stream", p.clone()) },
                    None => not_found(),
                }
            }
            "meta-data" => text("ami-id\nhostname\ninstance-id\ninstance-type\nlocal-hostname\nlocal-ipv4\npublic-keys/"),
            "meta-data/ami-id" => text("ami-0f1a2b3c4d5e6f708"),
            "meta-data/instance-id" => text("i-0f1a2b3c4d5e6f708"),
            "meta-data/instance-type" => text("t3.micro"),
            "meta-data/hostname" | "meta-data/local-hostname" => text("ip-10-0-0-57.eu-west-1.compute.internal"),
            "meta-data/local-ipv4" => text("10.0.0.57"),
            "meta-data/public-keys" => text("0=flint-test"),
            "meta-data/public-keys/0" => text("openssh-key"),
            "meta-data/public-keys/0/openssh-key" => text(&format!("{TEST_SSH_KEY} flint-test\n")),
            _ => not_found(),
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
            "/v1/instance" => Response::new(
                200,
                "application/json",
                json!({
                    "id": 12345678, "host_uuid": "3f1c2d4e5a6b7c8d9e0f", "label": "flint-test",
                    "region": "us-ord", "type": "g6-nanode-1", "tags": ["flint"],
                    "specs": {"vcpus": 1, "memory": 1024, "disk": 25600, "transfer": 1000, "gpus": 0},
                    "backups": {"enabled": false, "status": null},
                    "image": {"id": "linode/debian12", "label": "Debian 12"}, "account_euuid": "A1B2C3D4-E5F6"
                })
                .to_string(),
            ),
            "/v1/network" => Response::new(
                200,
                "application/json",
                json!({
                    "interfaces": [],
                    "ipv4": {"public": ["192.0.2.10/32"], "private": [], "shared": []},
                    "ipv6": {"slaac": "2001:db8::f03c:91ff:fe00:1/128", "link_local": "fe80::f03c:91ff:fe00:1/128",
                             "ranges": [], "shared_ranges": []}
                })
                .to_string(),
            ),
            "/v1/ssh-keys" => Response::new(
                200,
                "application/json",
                json!({"users": {"root": [format!("{TEST_SSH_KEY} flint-test")]}}).to_string(),
            ),
            _ => error(404, "Not Found"),
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

fn is_dated_version(v: &str) -> bool {
    let b = v.as_bytes();
    b.len() == 10
        && b[4] == b'-'
        && b[7] == b'-'
        && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit())
}

/// Does an `Accept` header list one of `types` (parameters such as `q=` ignored)?
fn accept_has(accept: Option<&str>, types: &[&str]) -> bool {
    accept.is_some_and(|a| {
        a.split(',')
            .map(|t| t.split(';').next().unwrap_or("").trim().to_ascii_lowercase())
            .any(|t| types.contains(&t.as_str()))
    })
}

fn base64_url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

pub const TEST_SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlintTestKeyNotARealKeyJustForMocks0123456";

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
            Ok(0) => return Err(ReadError::Malformed(format!("connection closed mid-request after {} bytes", buf.len()))),
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(_) if buf.is_empty() => return Err(ReadError::Closed),
            Err(e) => return Err(ReadError::Malformed(format!("read: {e}"))),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end.0]).into_owned();
    let mut lines = head.split('\n').map(|l| l.trim_end_matches('\r'));
    let request_line = lines.next().unwrap_or("");
    let mut parts = request_line.split(' ');
    let (Some(method), Some(target), Some(version), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
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

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

// ---------------------------------------------------------------------------------------
// Harness half
// ---------------------------------------------------------------------------------------

/// One line of the mock's request log.
#[derive(Clone, Debug)]
pub struct LogEntry {
    pub t_ms: u64,
    pub method: String,
    pub path: String,
    pub status: u16,
    pub token_sent: bool,
    pub token_valid: bool,
    pub accept: Option<String>,
    /// Body bytes of the answer (before transfer framing).
    pub bytes: usize,
}

impl std::fmt::Display for LogEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{:>6} ms {} {} -> {} (token {})",
            self.t_ms,
            self.method,
            self.path,
            self.status,
            match (self.token_sent, self.token_valid) {
                (false, _) => "none",
                (true, true) => "valid",
                (true, false) => "INVALID",
            }
        )
    }
}

pub fn read_log(path: &Path) -> Result<Vec<LogEntry>, String> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(format!("{}: {e}", path.display())),
    };
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).map_err(|e| format!("mock log line {l:?}: {e}"))?;
            Ok(LogEntry {
                t_ms: v["t_ms"].as_u64().unwrap_or(0),
                method: v["method"].as_str().unwrap_or("").into(),
                path: v["path"].as_str().unwrap_or("").into(),
                status: v["status"].as_u64().unwrap_or(0) as u16,
                token_sent: v["token_sent"].as_bool().unwrap_or(false),
                token_valid: v["token_valid"].as_bool().unwrap_or(false),
                accept: v["accept"].as_str().map(String::from),
                bytes: v["bytes"].as_u64().unwrap_or(0) as usize,
            })
        })
        .collect()
}

pub fn read_tokens(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect()
}

/// Starts `xtask mock` inside network namespace `netns`, with log/tokens/ready files and
/// stdio in `dir`, and waits (≤ 5 s) until it has bound its socket.
pub fn start_in(netns: &str, opts: &Options, dir: &Path) -> Result<(ChildGuard, Options), String> {
    let mut opts = opts.clone();
    opts.log.get_or_insert_with(|| dir.join("mock-log.jsonl"));
    opts.tokens.get_or_insert_with(|| dir.join("mock-tokens.txt"));
    let ready = dir.join("mock-ready");
    let _ = std::fs::remove_file(&ready);
    opts.ready = Some(ready.clone());
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let stderr_path = dir.join("mock-stderr.txt");
    let stderr = File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns])
        .arg(exe)
        .arg("mock")
        .args(opts.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let mut child = ChildGuard::spawn(&mut cmd, "mock")?;
    let ok = crate::proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        ready.exists() || child.try_status().is_some()
    });
    if !ok || !ready.exists() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        return Err(format!("mock did not start: {}", err.trim()));
    }
    Ok((child, opts))
}

#[cfg(test)]
mod tests {
    //! The mock's protocol behaviour, over loopback (no namespaces, no root).
    use super::*;

    struct Running {
        addr: std::net::SocketAddr,
        dir: util::ScratchDir,
    }

    fn start(mut opts: Options, payload: Option<&[u8]>) -> Running {
        let dir = util::ScratchDir::new("mocktest").unwrap();
        if let Some(p) = payload {
            std::fs::write(dir.join("payload"), p).unwrap();
            opts.payload = Some(dir.join("payload"));
        }
        opts.log = Some(dir.join("log"));
        opts.tokens = Some(dir.join("tokens"));
        opts.put_hop_limit = 0;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = Arc::new(Server::new(opts).unwrap());
        std::thread::spawn(move || serve(listener, server));
        Running { addr, dir }
    }

    /// Sends raw requests on one connection (Connection: close on the last) and returns
    /// the (status, headers, decoded body) of each response.
    fn exchange(addr: std::net::SocketAddr, reqs: &[String]) -> Vec<(u16, String, Vec<u8>)> {
        let mut s = TcpStream::connect(addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut out = Vec::new();
        let mut buf = Vec::new();
        for r in reqs {
            s.write_all(r.as_bytes()).unwrap();
            out.push(read_response(&mut s, &mut buf));
        }
        out
    }

    fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
        let fill = |s: &mut TcpStream, buf: &mut Vec<u8>| -> bool {
            let mut tmp = [0u8; 8192];
            let n = s.read(&mut tmp).unwrap_or(0);
            buf.extend_from_slice(&tmp[..n]);
            n > 0
        };
        let end = loop {
            if let Some(i) = find(buf, b"\r\n\r\n") {
                break i;
            }
            assert!(fill(s, buf), "eof in head");
        };
        let head = String::from_utf8(buf[..end].to_vec()).unwrap();
        buf.drain(..end + 4);
        let status: u16 = head[9..12].parse().unwrap();
        let lower = head.to_ascii_lowercase();
        let body = if lower.contains("transfer-encoding: chunked") {
            let mut body = Vec::new();
            loop {
                let line_end = loop {
                    if let Some(i) = find(buf, b"\r\n") {
                        break i;
                    }
                    assert!(fill(s, buf));
                };
                let n = usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
                buf.drain(..line_end + 2);
                while buf.len() < n + 2 {
                    assert!(fill(s, buf));
                }
                body.extend_from_slice(&buf[..n]);
                buf.drain(..n + 2);
                if n == 0 {
                    break body;
                }
            }
        } else if let Some(cl) = lower.lines().find_map(|l| l.strip_prefix("content-length: ")) {
            let n: usize = cl.trim().parse().unwrap();
            while buf.len() < n {
                assert!(fill(s, buf));
            }
            buf.drain(..n).collect()
        } else {
            while fill(s, buf) {}
            std::mem::take(buf)
        };
        (status, head, body)
    }

    fn aws_put(ttl: &str) -> String {
        format!("PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\nContent-Length: 0\r\n\r\n")
    }

    fn aws_get(path: &str, token: &str) -> String {
        format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n")
    }

    #[test]
    fn aws_token_flow_and_rules() {
        let m = start(Options::new(Platform::Aws), Some(b"\x1f\x8bgzip-bytes"));
        let r = exchange(m.addr, &[aws_put("21600")]);
        assert_eq!(r[0].0, 200);
        assert!(r[0].1.contains("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600"));
        let token = String::from_utf8(r[0].2.clone()).unwrap();
        assert_eq!(read_tokens(&m.dir.join("tokens")), vec![token.clone()]);

        // Same keep-alive connection: user-data raw, metadata leaves and listings.
        let r = exchange(
            m.addr,
            &[
                aws_get("/latest/user-data", &token),
                aws_get("/2019-10-01/user-data", &token),
                aws_get("/latest/meta-data/public-keys/", &token),
                aws_get("/latest/meta-data/public-keys/0/openssh-key", &token),
                aws_get("/latest/meta-data/instance-id", &token),
            ],
        );
        assert_eq!((r[0].0, r[0].2.as_slice()), (200, &b"\x1f\x8bgzip-bytes"[..]));
        assert_eq!(r[1].0, 200);
        assert_eq!(r[2].2, b"0=flint-test");
        assert!(r[3].2.starts_with(b"ssh-ed25519 "));
        assert_eq!(r[4].2, b"i-0f1a2b3c4d5e6f708");

        let bad: Vec<u16> = [
            aws_put("0"),
            aws_put("21601"),
            aws_put("abc"),
            "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n\r\n".into(),
            "PUT /2021-03-23/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n".into(),
            "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n".into(),
            "GET /latest/user-data HTTP/1.1\r\n\r\n".into(),
            aws_get("/latest/user-data", "AQAEAnot-a-token"),
            aws_get("/latest/meta-data/nope", &token),
        ]
        .iter()
        .map(|r| exchange(m.addr, &[r.clone()])[0].0)
        .collect();
        assert_eq!(bad, vec![400, 400, 400, 400, 403, 403, 401, 401, 404]);

        let log = read_log(&m.dir.join("log")).unwrap();
        assert_eq!(log.len(), 1 + 5 + 9);
        assert!(log[1].token_sent && log[1].token_valid && log[1].path == "/latest/user-data");
    }

    #[test]
    fn aws_no_user_data_is_404_html() {
        let m = start(Options::new(Platform::Aws), None);
        let token = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
        let r = exchange(m.addr, &[aws_get("/latest/user-data", &token)]);
        assert_eq!(r[0].0, 404);
        assert!(r[0].1.contains("text/html") && String::from_utf8_lossy(&r[0].2).contains("404 - Not Found"));
    }

    #[test]
    fn aws_stale_token_once_needs_a_new_token() {
        let mut o = Options::new(Platform::Aws);
        o.stale_token_once = true;
        let m = start(o, Some(b"payload"));
        let t1 = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
        assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &t1)])[0].0, 401);
        assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &t1)])[0].0, 401, "revoked");
        let t2 = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
        assert_ne!(t1, t2);
        let r = exchange(m.addr, &[aws_get("/latest/user-data", &t2)]).remove(0);
        assert_eq!((r.0, r.2), (200, b"payload".to_vec()));
        assert_eq!(read_tokens(&m.dir.join("tokens")).len(), 2);
    }

    #[test]
    fn chunked_close_delimited_and_failures() {
        let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
        let mut o = Options::new(Platform::Aws);
        o.chunked = true;
        let m = start(o, Some(&body));
        let r = exchange(m.addr, &[aws_put("60")]);
        assert!(r[0].1.contains("Transfer-Encoding: chunked"));
        let token = String::from_utf8(r[0].2.clone()).unwrap();
        assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &token)])[0].2, body);

        let mut o = Options::new(Platform::Aws);
        o.close_delimited = true;
        let m = start(o, Some(&body));
        let r = exchange(m.addr, &[aws_put("60")]);
        assert!(!r[0].1.to_ascii_lowercase().contains("content-length"));
        let token = String::from_utf8(r[0].2.clone()).unwrap();
        assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &token)])[0].2, body);

        let mut o = Options::new(Platform::Aws);
        o.fail_first = 2;
        o.fail_status = 503;
        o.retry_after = Some(1);
        let m = start(o, Some(&body));
        let r = exchange(m.addr, &[aws_put("60"), aws_put("60"), aws_put("60")]);
        assert_eq!((r[0].0, r[1].0, r[2].0), (503, 503, 200));
        assert!(r[0].1.contains("Retry-After: 1"));
    }

    fn akamai_put(accept: Option<&str>) -> String {
        let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
        format!("PUT /v1/token HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Token-Expiry-Seconds: 300\r\n{accept}\r\n")
    }

    fn akamai_get(path: &str, token: &str, accept: Option<&str>) -> String {
        let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
        format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Token: {token}\r\n{accept}\r\n")
    }

    #[test]
    fn akamai_token_and_user_data() {
        let m = start(Options::new(Platform::Akamai), Some(b"#cloud-config\n"));
        let r = exchange(m.addr, &[akamai_put(Some("text/plain")), akamai_put(Some("application/json"))]);
        let token = String::from_utf8(r[0].2.clone()).unwrap();
        assert_eq!(token.len(), 64);
        let json: Vec<String> = serde_json::from_slice(&r[1].2).unwrap();
        assert_eq!(json.len(), 1);
        let missing = "PUT /v1/token HTTP/1.1\r\nHost: x\r\n\r\n".to_string();
        assert_eq!(exchange(m.addr, &[missing])[0].0, 400);

        let statuses: Vec<(u16, Vec<u8>)> = [
            akamai_get("/v1/user-data", &token, None),
            akamai_get("/v1/user-data", &token, Some("text/plain")),
            akamai_get("/v1/user-data", &token, Some("*/*")),
            akamai_get("/v1/user-data", &token, Some("application/json")),
            akamai_get("/v1/user-data", &token, Some("application/vnd.coreos.ignition+json;version=3.6.0")),
            akamai_get("/v1/user-data", "nope", None),
            "GET /v1/user-data HTTP/1.1\r\n\r\n".into(),
        ]
        .iter()
        .map(|r| {
            let x = exchange(m.addr, &[r.clone()]).remove(0);
            (x.0, x.2)
        })
        .collect();
        assert_eq!(statuses[0], (200, b"I2Nsb3VkLWNvbmZpZwo=".to_vec()));
        assert_eq!(statuses[1].0, 200);
        assert_eq!(statuses[2].0, 200);
        assert_eq!(statuses[3].0, 406);
        assert_eq!(statuses[4].0, 406);
        assert_eq!(statuses[5].0, 401);
        assert_eq!(statuses[6].0, 401);
        let inst = exchange(m.addr, &[akamai_get("/v1/instance", &token, Some("application/json"))]).remove(0);
        let v: serde_json::Value = serde_json::from_slice(&inst.2).unwrap();
        assert_eq!(v["label"], "flint-test");
    }

    #[test]
    fn akamai_no_user_data_is_200_empty() {
        let m = start(Options::new(Platform::Akamai), None);
        let token = String::from_utf8(exchange(m.addr, &[akamai_put(None)])[0].2.clone()).unwrap();
        let r = exchange(m.addr, &[akamai_get("/v1/user-data", &token, None)]);
        assert_eq!((r[0].0, r[0].2.len()), (200, 0));
    }

    #[test]
    fn options_round_trip() {
        let mut o = Options::new(Platform::Akamai);
        o.chunked = true;
        o.delay_ms = 1500;
        o.fail_first = 2;
        o.retry_after = Some(3);
        o.payload = Some("/tmp/p".into());
        let back = Options::parse(&o.to_args()).unwrap();
        assert_eq!(format!("{o:?}"), format!("{back:?}"));
    }

    #[test]
    fn accept_matching() {
        assert!(accept_has(Some("text/plain"), &["text/plain"]));
        assert!(accept_has(Some("application/json;q=0.9, */*;q=0.1"), &["*/*"]));
        assert!(!accept_has(Some("application/json"), &["text/plain", "*/*"]));
        assert!(!accept_has(None, &["*/*"]));
        assert!(is_dated_version("2019-10-01"));
        assert!(!is_dated_version("latest"));
    }
}
