//! Mock cloud metadata services (`xtask mock …`), written from the platform facts in
//! shared/reference/platforms.md §1 (AWS IMDSv2), §2 (Akamai), §5 (OpenStack) and §26 (mock
//! checklist).
//!
//! Plain std: a `TcpListener`, one thread per connection, HTTP/1.1 with keep-alive. Every
//! request is appended to a JSON-lines log (`--log`) and every issued token to `--tokens`, so
//! tests can count token fetches and grep flint's stderr for the tokens. Scenario knobs bend
//! the protocol (chunked bodies, delays, stale tokens, 5xx/429 bursts, close-delimited bodies).
//!
//! Files, each using only those listed before it: `fault` (the faults' names), `options`
//! (`Options`, `Platform`: what the harness tells the mock), `http` (requests, responses,
//! framing), `keys`, `service` (the state of one mock process), one module per platform
//! with its fixtures, metadata tree and routes (`aws.rs`, `akamai.rs`, `openstack.rs`, whose
//! documents the config drives are built from too), `faults` (what each
//! fault does on the wire), `server` (accept loop, shared knobs, request log). This file
//! starts the mock (`main`, and `start_in` for the harness) and reads what it recorded.
//! `payloads` builds the user-data the mock serves; `dhcp` is the misbehaving DHCP server of
//! the network faults.
//!
//! The mock is an independent oracle: it is written from the platforms' documentation and
//! never imports flint's code (xtask does not depend on the flint crate).

pub mod akamai;
pub mod aliyun;
pub mod aws;
pub mod azure;
#[cfg(test)]
mod azure_tests;
pub mod cloudstack;
pub mod dhcp;
pub mod digitalocean;
pub mod dns;
pub mod exoscale;
mod fault;
mod faults;
pub mod gcp;
#[cfg(test)]
mod gcp_tests;
pub mod hetzner;
mod http;
pub mod ibmcloud;
mod keys;
pub mod nocloud;
#[cfg(test)]
mod nocloud_tests;
pub mod openstack;
#[cfg(test)]
mod openstack_tests;
mod options;
pub mod oraclecloud;
pub mod packet;
pub mod payloads;
#[cfg(test)]
mod platforms_tests;
pub mod scaleway;
mod server;
mod service;
#[cfg(test)]
mod tests;
pub mod upcloud;
pub mod vultr;

use std::fs::File;
use std::net::TcpListener;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

pub use fault::Fault;
pub use options::{MOCK_HELP, Options, Platform};

use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// `xtask mock …`: serves until killed (or `--max-seconds`).
pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{MOCK_HELP}");
        return Ok(());
    }
    let opts = Options::parse(args)?;
    let listener = TcpListener::bind(&opts.listen).map_err(|e| format!("mock: bind {}: {e}", opts.listen))?;
    let server = Arc::new(service::Server::new(opts)?);
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
    /// The request's `Host` header.
    pub host: Option<String>,
    /// The client's address as the server saw it.
    pub peer: Option<String>,
    /// The client's TCP source port.
    pub peer_port: Option<u16>,
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
                host: v["host"].as_str().map(String::from),
                peer: v["peer"].as_str().map(String::from),
                peer_port: v["peer_port"].as_u64().map(|p| p as u16),
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
    let ok = proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        ready.exists() || child.try_status().is_some()
    });
    if !ok || !ready.exists() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        return Err(format!("mock did not start: {}", err.trim()));
    }
    Ok((child, opts))
}
