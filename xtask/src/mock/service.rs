//! What one mock process knows and remembers: its options, the payload, the tokens it issued,
//! its counters and its log files, behind one lock. The platforms' routes (`aws.rs`,
//! `akamai.rs`) and the faults (`faults.rs`) read and change it; `server.rs` drives it.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use super::http::Response;
use super::options::Options;

pub(super) struct Server {
    pub(super) opts: Options,
    pub(super) payload: Option<Vec<u8>>,
    pub(super) started: Instant,
    pub(super) state: Mutex<State>,
}

pub(super) struct State {
    /// token → expiry
    pub(super) tokens: HashMap<String, Instant>,
    pub(super) requests: u32,
    /// `--rate-limit`: start of the current one-second window and the requests admitted in it.
    pub(super) window: (Instant, u32),
    pub(super) stale_done: bool,
    /// Requests the `--fault` matched so far (for `--fault-times`).
    pub(super) fault_hits: u32,
    pub(super) log: Option<File>,
    token_log: Option<File>,
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

    /// The user-data served raw (`application/octet-stream`, logged as the user-data), `None`
    /// when there is none.
    pub(super) fn raw_user_data(&self) -> Option<Response> {
        self.payload.as_ref().map(|p| Response::new(200, "application/octet-stream", p.clone()).user_data())
    }

    pub(super) fn issue_token(&self, st: &mut State, token: String, ttl: u64) -> String {
        st.tokens.insert(token.clone(), Instant::now() + Duration::from_secs(ttl));
        if let Some(f) = st.token_log.as_mut() {
            let _ = writeln!(f, "{token}");
        }
        token
    }
}
