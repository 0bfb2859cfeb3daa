//! Mock cloud metadata services (`xtask mock …`), written from the platform facts in
//! shared/reference/platforms.md §1 (AWS IMDSv2), §2 (Akamai) and §26 (mock checklist).
//!
//! Plain std: a `TcpListener`, one thread per connection, HTTP/1.1 with keep-alive. Every
//! request is appended to a JSON-lines log (`--log`) and every issued token to `--tokens`, so
//! tests can count token fetches and grep flint's stderr for the tokens. Scenario knobs bend
//! the protocol (chunked bodies, delays, stale tokens, 5xx/429 bursts, close-delimited bodies).
//! The metadata trees (instance id, hostname, SSH keys…) and their values live in `metadata`.
//!
//! The HTTP server lives in `server`; this file holds what both sides share: `Options`, which
//! the harness turns into a command line (`to_args`, `start_in`) and the mock process parses
//! back (`parse`), so the two cannot drift apart, and the readers of the mock's log files.

pub mod metadata;
mod server;
#[cfg(test)]
mod tests;

use std::fs::File;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

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
  --no-ssh-keys          no SSH keys (aws: meta-data/public-keys/ 404; akamai: no users)
  --no-metadata          every metadata path 404 (user-data and tokens still served)
  --put-hop-limit N      aws: IP TTL of token responses (default 1 like IMDS; 0 = kernel default)
  --rate-limit N         past N requests in a second, answer 429 with Retry-After: 1 (load test)
  --max-seconds N        exit after N seconds whatever happens (default 600)
  --fault SPEC           a fault of docs/faults-http.md (mock/faults.rs), e.g. reset-mid-body,
                         token-status=403, redirect=URL, chunk-size=TEXT, drip, endless-100
  --fault-times N        the fault hits the first N matching requests only (default 0 = all)
";

pub use server::faults::Fault;

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
    pub no_ssh_keys: bool,
    pub no_metadata: bool,
    pub put_hop_limit: u32,
    pub rate_limit: Option<u32>,
    pub max_seconds: u64,
    pub fault: Option<Fault>,
    pub fault_times: u32,
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
            no_ssh_keys: false,
            no_metadata: false,
            put_hop_limit: 1,
            rate_limit: None,
            max_seconds: 600,
            fault: None,
            fault_times: 0,
        }
    }

    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> =
            vec!["--platform".into(), self.platform.as_str().into(), "--listen".into(), self.listen.clone()];
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
            (self.no_ssh_keys, "--no-ssh-keys"),
            (self.no_metadata, "--no-metadata"),
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
        if let Some(n) = self.rate_limit {
            a.extend(["--rate-limit".into(), n.to_string()]);
        }
        a.extend(["--max-seconds".into(), self.max_seconds.to_string()]);
        if let Some(f) = &self.fault {
            a.extend(["--fault".into(), f.spec(), "--fault-times".into(), self.fault_times.to_string()]);
        }
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
                "--no-ssh-keys" => o.no_ssh_keys = true,
                "--no-metadata" => o.no_metadata = true,
                "--delay-ms" => o.delay_ms = num(flag, value()?)?,
                "--fail-first" => o.fail_first = num(flag, value()?)?,
                "--fail-status" => o.fail_status = num(flag, value()?)?,
                "--retry-after" => o.retry_after = Some(num(flag, value()?)?),
                "--put-hop-limit" => o.put_hop_limit = num(flag, value()?)?,
                "--rate-limit" => o.rate_limit = Some(num(flag, value()?)?),
                "--max-seconds" => o.max_seconds = num(flag, value()?)?,
                "--fault" => o.fault = Some(Fault::parse(&value()?)?),
                "--fault-times" => o.fault_times = num(flag, value()?)?,
                "-h" | "--help" => return Err(MOCK_HELP.into()),
                other => return Err(format!("mock: unknown option `{other}`\n{MOCK_HELP}")),
            }
        }
        o.platform = platform.ok_or_else(|| format!("mock: --platform is required\n{MOCK_HELP}"))?;
        Ok(o)
    }
}

/// `xtask mock …`: serves until killed (or `--max-seconds`).
pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{MOCK_HELP}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    let listener = TcpListener::bind(&opts.listen).map_err(|e| format!("mock: bind {}: {e}", opts.listen))?;
    let server = Arc::new(server::Server::new(opts)?);
    if let Some(ready) = &server.opts.ready {
        File::create(ready).map_err(|e| format!("mock: {}: {e}", ready.display()))?;
    }
    // An orphaned mock (harness SIGKILLed) must not live forever.
    let max = Duration::from_secs(server.opts.max_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        std::process::exit(0);
    });
    server::serve(listener, server);
    Ok(())
}

// --- harness side: start a mock in a namespace, read what it recorded -----------------

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
