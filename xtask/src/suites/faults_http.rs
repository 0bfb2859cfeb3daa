//! The HTTP, metadata-service, payload and output half of the fault matrix (issue #5), and the
//! security checks: `cargo xtask faults-http [FILTER] [--keep]`, and part of `cargo xtask test`.
//!
//! Every scenario here is a `harness::scenario::Scenario` and runs through the same `run_one` as the
//! end-to-end scenarios, so each one checks the exit code, the elapsed time against the budget,
//! the output (complete, correct, mode 0600, alone) or its absence (no temporary file either),
//! the report, the stderr format, and that no file the run produced — flint's stderr and
//! stdout, the report, the mock's request log and stderr, dnsmasq's log — holds an issued
//! token or the marker hidden in the user-data (`harness::checks::check_secrets`). The faults come
//! from the mock (`mock/faults.rs`, `--fault`), from the harness (a mock that starts late, a
//! decoy listener, a read-only or full tmpfs in a mount namespace of the run's own), and from
//! signals sent to flint in the middle of writing (`interrupted`, below).
//!
//! Faults the end-to-end scenarios (`cargo xtask e2e`) already cover are not repeated:
//! `aws-503-twice` (503 then success), `aws-429-retry-after` (429 with Retry-After),
//! `aws-imdsv1-fallback` (token endpoint 404: tokenless GETs), `aws-truncated-body` (FIN before
//! Content-Length, every time), `aws-max-size` (decoded size over --max-size),
//! `aws-output-unwritable` (output directory is a file), `aws-stale-token` (401 once),
//! `aws-chunked` / `aws-close-delimited` (valid framings), `aws-slow-server`,
//! `aws-unreachable`, `akamai-no-user-data`. docs/faults-http.md has the whole table.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use rustix::process::{Pid, Signal};
use serde_json::Value;

use crate::harness::checks::{check_secrets, list_dir};
use crate::harness::flint::{run_flint_cmd, runner_ready};
use crate::harness::mountns::MountNs;
use crate::harness::netns::{Addressing, Topology};
use crate::harness::scenario::{self, OutputAt, Payload, Run, Scenario};
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::payloads::{self, GzipDamage};
use crate::mock::{self, Fault, Platform};
use crate::support::proc::{self, ChildGuard};
use crate::support::{gzip, util};

pub const SUITE: Suite = Suite { name: "faults-http", needs_flint: true, gate: false, run, cases: count };

const DECOY: &str = "10.0.0.1:8080";
const REDIRECT: &str = "http://10.0.0.1:8080/latest/user-data";

/// The mock's `--fault` for the first `times` matching requests (0: all of them).
fn set(o: &mut mock::Options, f: Fault, times: u32) {
    o.fault = Some(f);
    o.fault_times = times;
}

/// Each scenario's mock knobs are a plain `fn`, so the faults are spelled out one by one.
pub fn all() -> Vec<Scenario> {
    let base = Scenario::base;
    vec![
        // --- HTTP and the metadata service ---------------------------------------------
        Scenario {
            mock_after: Duration::from_secs(1),
            extra: Some(refused_first),
            ..base("http-refused-then-up", "nothing listens for 1 s (RST to every SYN), then the mock starts: success")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::ResetMidBody, 1)),
            payload: Payload::LargeGzip,
            extra: Some(|r| retried_user_data(r, "connection reset")),
            ..base("http-rst-mid-body-once", "first user-data body cut by a TCP RST: retried, success")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::ResetMidBody, 0)),
            payload: Payload::LargeGzip,
            budget: 4.0,
            exit: 4,
            error_phase: Some("user-data"),
            extra: Some(|r| retried_user_data(r, "connection reset")),
            ..base("http-rst-mid-body", "every user-data body cut by a TCP RST: exit 4 at the budget")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::FinMidBody, 1)),
            payload: Payload::LargeGzip,
            extra: Some(|r| retried_user_data(r, "response cut short")),
            ..base("http-fin-mid-body-once", "FIN before Content-Length is reached, once: retried, success")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::FinMidBody, 0)),
            payload: Payload::LargeGzip,
            budget: 4.0,
            exit: 4,
            error_phase: Some("user-data"),
            extra: Some(|r| retried_user_data(r, "response cut short")),
            ..base("http-fin-mid-body", "FIN before Content-Length every time: exit 4 (contract), not 5")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::ChunkSize("1x".into()), 0)),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(not_retried),
            ..base("http-chunk-size-not-hex", "chunk-size line `1x`: exit 5, not retried")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::ChunkSize("10000000000000000".into()), 0)),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(not_retried),
            ..base("http-chunk-size-overflow", "chunk size of 17 hex digits (> 2^64): exit 5")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::ChunkNoCrlf, 0)),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(not_retried),
            ..base("http-chunk-no-crlf", "chunk data not followed by CRLF: exit 5")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::ChunkNoEnd, 0)),
            budget: 4.0,
            exit: 4,
            error_phase: Some("user-data"),
            extra: Some(|r| retried_user_data(r, "response cut short")),
            ..base("http-chunk-no-end", "all data, then `0\\r\\n` and FIN (last chunk truncated): exit 4")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::StatusLine("HTTP/1.1 2x0 OK".into()), 0)),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(not_retried),
            ..base("http-bad-status-line", "status line `HTTP/1.1 2x0 OK`: exit 5")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::HugeHead, 0)),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(not_retried),
            ..base("http-64k-head", "a 64 KiB header field (HEAD_MAX is 8 KiB): exit 5")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::HugeLength, 0)),
            budget: 6.0,
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(not_retried),
            ..base("http-length-over-cap", "Content-Length 1 GiB, connection held open: exit 5 at once, no wait")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::Drip, 0)),
            budget: 3.0,
            exit: 4,
            error_phase: Some("user-data"),
            ..base("http-drip", "body at one byte per second, past the 3 s budget: exit 4 at the budget")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::Endless100, 0)),
            budget: 3.0,
            exit: 4,
            error_phase: Some("user-data"),
            ..base("http-endless-100", "`100 Continue` every 10 ms, never a final answer: exit 4 at the budget")
        },
        Scenario {
            mock: Some(|o| {
                o.fail_first = 3;
                o.fail_status = 500;
            }),
            extra: Some(three_500s_then_success),
            ..base("http-500-three-times", "first three requests 500: retried, success")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::TokenStatus(403), 0)),
            exit: 5,
            error_phase: Some("token"),
            extra: Some(only_the_token_put),
            ..base("http-token-403", "token endpoint 403 (IMDS off): exit 5, no retry, no tokenless GET")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::TokenCrlf, 0)),
            exit: 5,
            error_phase: Some("token"),
            extra: Some(only_the_token_put),
            ..base("http-token-crlf", "token body `<token>\\r\\nX-Flint-Injected: 1`: refused, never sent")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::TokenLf, 0)),
            exit: 5,
            error_phase: Some("token"),
            extra: Some(only_the_token_put),
            ..base("http-token-lf", "token body `<token>\\nX-Flint-Injected: 1`: refused, never sent")
        },
        Scenario {
            mock: Some(|o| set(o, Fault::Redirect(REDIRECT.into()), 0)),
            decoy: Some(DECOY),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(redirect_not_followed),
            ..base(
                "http-redirect-elsewhere",
                "user-data 307 to another host: not followed, the token goes nowhere else",
            )
        },
        Scenario {
            mock: Some(|o| set(o, Fault::UserDataStatus(401), 0)),
            exit: 5,
            error_phase: Some("user-data"),
            extra: Some(token_replaced_once),
            ..base("http-401-forever", "every user-data GET 401: the token is replaced once, then exit 5")
        },
        // --- payloads ----------------------------------------------------------------------
        Scenario {
            platform: Platform::Akamai,
            mock: Some(|o| set(o, Fault::Verbatim, 0)),
            payload: Payload::Custom(|m| (format!("#cloud-config {m} is not base64!\n").into_bytes(), Vec::new())),
            exit: 5,
            error_phase: Some("decode"),
            ..base("payload-akamai-bad-base64", "Akamai body that is not base64: exit 5")
        },
        Scenario {
            payload: Payload::Custom(|m| {
                (payloads::damaged_gzip(&payloads::ignition_small(m), GzipDamage::Crc), Vec::new())
            }),
            exit: 5,
            error_phase: Some("decode"),
            ..base("payload-gzip-bad-crc", "gzip with one CRC-32 bit flipped: exit 5, no file")
        },
        Scenario {
            payload: Payload::Custom(|m| {
                (payloads::damaged_gzip(&payloads::ignition_small(m), GzipDamage::Isize), Vec::new())
            }),
            exit: 5,
            error_phase: Some("decode"),
            ..base("payload-gzip-bad-isize", "gzip with ISIZE one too large: exit 5, no file")
        },
        Scenario {
            payload: Payload::Custom(|m| {
                (payloads::damaged_gzip(&payloads::ignition_small(m), GzipDamage::Truncated), Vec::new())
            }),
            exit: 5,
            error_phase: Some("decode"),
            ..base("payload-gzip-truncated", "gzip cut in the middle of the deflate stream: exit 5, no file")
        },
        Scenario {
            payload: Payload::Custom(|m| (payloads::zeros_gzip(m, 64 << 20).1, Vec::new())),
            exit: 5,
            error_phase: Some("decode"),
            extra: Some(bomb_ratio),
            ..base("payload-gzip-bomb", "64 MiB of zeros in a ~64 KB gzip (>1000:1), default 16M cap: exit 5")
        },
        Scenario {
            payload: Payload::Custom(|_| (Vec::new(), Vec::new())),
            exit: 3,
            ..base("payload-empty", "user-data 200 with an empty body: exit 3, nothing written")
        },
        Scenario {
            payload: Payload::Custom(|_| (gzip::gzip(b"", None), Vec::new())),
            exit: 3,
            ..base("payload-empty-gzip", "a gzip member holding zero bytes: exit 3, nothing written")
        },
        Scenario {
            payload: Payload::Custom(|m| {
                let p = payloads::cloud_config_of_len(m, 4096);
                (p.clone(), p)
            }),
            args: &["--max-size", "4K"],
            ..base("payload-at-cap", "user-data of exactly --max-size 4K: written")
        },
        Scenario {
            payload: Payload::Custom(|m| (payloads::cloud_config_of_len(m, 4097), Vec::new())),
            args: &["--max-size", "4K"],
            exit: 5,
            error_phase: Some("decode"),
            ..base("payload-over-cap", "user-data one byte over --max-size 4K: exit 5, no file")
        },
        Scenario {
            payload: Payload::Custom(|m| {
                let p = payloads::cloud_config_of_len(m, 4096);
                (gzip::gzip(&p, None), p)
            }),
            args: &["--max-size", "4K"],
            ..base("payload-gzip-at-cap", "gzip inflating to exactly --max-size 4K: written")
        },
        Scenario {
            payload: Payload::Custom(|m| (gzip::gzip(&payloads::cloud_config_of_len(m, 4097), None), Vec::new())),
            args: &["--max-size", "4K"],
            exit: 5,
            error_phase: Some("decode"),
            ..base("payload-gzip-over-cap", "gzip inflating to one byte over --max-size 4K: exit 5, no file")
        },
        // --- output ------------------------------------------------------------------------
        Scenario {
            output_at: OutputAt::ReadOnly,
            exit: 6,
            error_phase: Some("write"),
            ..base("output-read-only", "output directory on a read-only tmpfs: exit 6")
        },
        Scenario {
            output_at: OutputAt::Tmpfs(64),
            payload: Payload::LargeGzip,
            exit: 6,
            error_phase: Some("write"),
            ..base("output-full", "~280 KB of user-data into a 64 KiB tmpfs: exit 6, no temporary file left")
        },
    ]
}

// --- scenario-specific checks ----------------------------------------------------------

fn refused_first(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if !r.stderr.contains("connection refused") {
        bad.push("flint never logged a refused connection: the mock was up too early".into());
    }
    if !r.requests("GET", "/user-data").iter().any(|g| g.status == 200 && g.token_valid) {
        bad.push("no user-data GET with a valid token once the mock was up".into());
    }
    bad
}

/// The user-data GET was retried after `what` (flint's own word for it, logged per attempt).
fn retried_user_data(r: &Run, what: &str) -> Vec<String> {
    let mut bad = Vec::new();
    if r.requests("GET", "/user-data").len() < 2 {
        bad.push(format!("expected the user-data GET to be retried after `{what}`, mock saw one"));
    }
    if !r.stderr.contains(what) {
        bad.push(format!("flint did not log `{what}`"));
    }
    bad
}

/// An invalid response is final: exactly one user-data GET.
fn not_retried(r: &Run) -> Vec<String> {
    let n = r.requests("GET", "/user-data").len();
    if n == 1 {
        Vec::new()
    } else {
        vec![format!("an invalid response is not retried, but the mock saw {n} user-data GETs")]
    }
}

fn three_500s_then_success(r: &Run) -> Vec<String> {
    let statuses: Vec<u16> = r.log.iter().map(|e| e.status).collect();
    if statuses.starts_with(&[500, 500, 500]) && statuses.last() == Some(&200) {
        Vec::new()
    } else {
        vec![format!("expected 500, 500, 500 then success, mock answered {statuses:?}")]
    }
}

/// The token answer ends the run: no tokenless fallback, no retry, and nothing ever carried
/// a token header (the injected header could only have ridden on a later request).
fn only_the_token_put(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let seen: Vec<String> = r.log.iter().map(|e| format!("{} {}", e.method, e.path)).collect();
    if seen != ["PUT /latest/api/token"] {
        bad.push(format!("expected only the token PUT, mock saw {seen:?}"));
    }
    if r.log.iter().any(|e| e.token_sent) {
        bad.push("a request carried a token header".into());
    }
    bad
}

fn redirect_not_followed(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if !r.decoy_log.is_empty() {
        let lines: Vec<String> = r.decoy_log.iter().map(|e| e.to_string()).collect();
        bad.push(format!("the redirect target {DECOY} was asked:\n{}", util::indent(&lines.join("\n"))));
    }
    let gets = r.requests("GET", "/user-data");
    if gets.len() != 1 || gets[0].status != 307 {
        bad.push(format!("expected one user-data GET answered 307, mock saw {}", gets.len()));
    }
    bad
}

fn token_replaced_once(r: &Run) -> Vec<String> {
    let (puts, gets) = (r.requests("PUT", "/api/token").len(), r.requests("GET", "/user-data").len());
    if (puts, gets) == (2, 2) {
        Vec::new()
    } else {
        vec![format!("expected 2 token PUTs and 2 user-data GETs (one refresh), mock saw {puts} and {gets}")]
    }
}

fn bomb_ratio(r: &Run) -> Vec<String> {
    match r.requests("GET", "/user-data").iter().find(|e| e.status == 200) {
        Some(e) if e.bytes > 0 && (64 << 20) / e.bytes > 1000 => Vec::new(),
        Some(e) => vec![format!("served bomb is {} B: not over 1000:1", e.bytes)],
        None => vec!["mock never served the bomb".into()],
    }
}

// --- signals in the middle of writing --------------------------------------------------

/// Decoded size of the payload the signal runs write: large enough that writing it takes tens
/// of milliseconds, so signals can be placed inside the write.
const SIGNAL_PAYLOAD: usize = 64 << 20;
/// Signalled runs per signal, spread over the decode-and-write window.
const SIGNAL_RUNS: usize = 10;

pub struct Interrupt {
    pub name: &'static str,
    about: &'static str,
    signal: Signal,
    /// flint holds this signal while it writes its files (`sys::hold_termination`): every run
    /// must then end with the complete output and exit 0, the signal answered by the exit.
    held: bool,
}

pub fn interrupts() -> Vec<Interrupt> {
    vec![
        Interrupt {
            name: "output-sigterm-mid-write",
            about: "SIGTERM at 10 points across a 64 MiB write: held, every run completes (exit 0, no temporary)",
            signal: Signal::TERM,
            held: true,
        },
        Interrupt {
            name: "output-sigkill-mid-write",
            about: "SIGKILL at 10 points across a 64 MiB write: never a partial file at the output path",
            signal: Signal::KILL,
            held: false,
        },
    ]
}

/// What one signalled run left in the output directory.
#[derive(Debug, PartialEq, Eq)]
enum Left {
    /// Nothing: killed before the temporary file existed.
    Nothing,
    /// Only the hidden temporary file (this many bytes): killed while writing it.
    Temp(u64),
    /// The complete, correct output: the signal came after the rename.
    Complete,
}

fn classify(dir: &Path, expected: &[u8]) -> Result<Left, String> {
    let entries = list_dir(dir);
    let output = dir.join("user-data");
    match entries.as_slice() {
        [] => Ok(Left::Nothing),
        [one] if one == "user-data" => {
            let bytes = std::fs::read(&output).map_err(|e| format!("{}: {e}", output.display()))?;
            if bytes != expected {
                return Err(format!(
                    "PARTIAL or wrong file at the output path: {} of {} bytes",
                    bytes.len(),
                    expected.len()
                ));
            }
            let mode = std::fs::metadata(&output).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
            if mode != 0o600 {
                return Err(format!("output mode {mode:o}, expected 600"));
            }
            Ok(Left::Complete)
        }
        [one] if one.starts_with(".user-data.flint-") => {
            Ok(Left::Temp(std::fs::metadata(dir.join(one)).map(|m| m.len()).unwrap_or(0)))
        }
        other => Err(format!("output directory holds {other:?}")),
    }
}

/// Empties the output directory between runs (a killed flint leaves its temporary file).
fn clear(dir: &Path) -> Result<(), String> {
    for name in list_dir(dir) {
        std::fs::remove_file(dir.join(&name)).map_err(|e| format!("remove {name}: {e}"))?;
    }
    Ok(())
}

/// One interruption scenario: a calibration run that must succeed (and tells where the write
/// is), then `SIGNAL_RUNS` runs signalled at points spread over that window. Every run must
/// leave nothing, only the temporary file, or the complete output: never a partial file at
/// the output path. At least one signal must have landed mid-write (else nothing was tested).
fn interrupted(it: &Interrupt, flint: &Path, dir: &Path) -> Result<String, Vec<String>> {
    let marker = payloads::new_marker();
    let (plain, gz) = payloads::zeros_gzip(&marker, SIGNAL_PAYLOAD);
    let topo = Topology::new(Addressing::Dhcp).map_err(|e| vec![e])?;
    let _dnsmasq = topo.start_dnsmasq(dir).map_err(|e| vec![e])?;
    let mut o = mock::Options::new(Platform::Aws);
    let payload_path = dir.join("payload.bin");
    std::fs::write(&payload_path, &gz).map_err(|e| vec![e.to_string()])?;
    o.payload = Some(payload_path);
    let (_mock, o) = mock::start_in(&topo.server, &o, dir).map_err(|e| vec![e])?;
    let out_dir = dir.join("out");
    std::fs::create_dir_all(&out_dir).map_err(|e| vec![e.to_string()])?;
    // On a tmpfs: 64 MiB fsync'ed to a real disk 20 times is slow and wears it for nothing.
    let ns = MountNs::with_tmpfs(&out_dir, "size=160m").map_err(|e| vec![e])?;
    let seen = ns.view(&out_dir);
    let report_path = dir.join("report.json");
    let budget = Duration::from_secs(20);
    let args = |report: bool| {
        let mut a: Vec<String> = ["--platform", "aws", "--interface", "eth0", "--timeout", "20", "--max-size", "128M"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        a.extend(["--output".into(), out_dir.join("user-data").display().to_string()]);
        if report {
            a.extend(["--report".into(), report_path.display().to_string()]);
        }
        a
    };

    // Calibration: how long decoding-and-writing (temporary file created → renamed) lasts.
    let cal = run_flint_cmd(ns.in_client(&topo, flint), &args(true), dir, budget).map_err(|e| vec![e])?;
    if cal.exit != Some(0) {
        return Err(vec![format!("calibration run: exit {:?}, expected 0", cal.exit), cal.stderr]);
    }
    match classify(&seen, &plain) {
        Ok(Left::Complete) => {}
        other => return Err(vec![format!("calibration run left {other:?}, expected the complete output")]),
    }
    let report: Value = std::fs::read(&report_path)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| vec!["calibration run: no readable report".to_string()])?;
    let t = &report["timings_us"];
    let us = |k: &str| Duration::from_micros(t[k].as_u64().unwrap_or(0));
    let window = us("decode") + us("write");
    clear(&seen).map_err(|e| vec![e])?;

    let mut bad = Vec::new();
    let mut left = Vec::new();
    for k in 0..SIGNAL_RUNS {
        // Signal points from the moment the temporary file appears to a little past the
        // calibrated end of the write, so runs end mid-write and some just after the rename.
        // Timed from the file's appearance, not from the spawn: DHCP alone varies by 0.5 s.
        let at = window.mul_f64(1.2 * k as f64 / (SIGNAL_RUNS - 1) as f64);
        let mut cmd = ns.in_client(&topo, flint);
        let stderr =
            std::fs::File::create(dir.join(format!("flint-stderr-{k}.txt"))).map_err(|e| vec![e.to_string()])?;
        cmd.args(args(false)).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
        let mut child = ChildGuard::spawn(&mut cmd, "flint").map_err(|e| vec![e])?;
        proc::wait_until(budget, Duration::from_micros(200), || {
            !list_dir(&seen).is_empty() || child.try_status().is_some()
        });
        std::thread::sleep(at);
        // Not yet reaped, so the pid cannot have been reused even if flint has exited.
        let pid = Pid::from_raw(child.id() as i32).ok_or_else(|| vec!["pid 0".to_string()])?;
        let _ = rustix::process::kill_process(pid, it.signal);
        let status = child.wait_timeout(budget).map(proc::exit_code);
        child.kill();
        match classify(&seen, &plain) {
            Ok(l) => left.push((at, status, l)),
            Err(e) => bad.push(format!("signal {:.1} ms into the write: {e}", at.as_secs_f64() * 1e3)),
        }
        clear(&seen).map_err(|e| vec![e])?;
    }
    bad.extend(check_secrets(dir, &mock::read_tokens(o.tokens.as_deref().unwrap_or(dir)), &marker));

    let count = |f: &dyn Fn(&Left) -> bool| left.iter().filter(|(_, _, l)| f(l)).count();
    let temps: Vec<u64> =
        left.iter().filter_map(|(_, _, l)| if let Left::Temp(n) = l { Some(*n) } else { None }).collect();
    // Undisturbed, every run writes the output (the calibration did): a run that did not was
    // stopped before its rename, whatever flint then did with the signal.
    if it.held {
        for (at, st, l) in &left {
            if *st != Some(0) || *l != Left::Complete {
                bad.push(format!(
                    "signal {:.1} ms into the write: exit {st:?}, {l:?}; a held signal must let the write complete",
                    at.as_secs_f64() * 1e3
                ));
            }
        }
    } else if count(&|l| *l != Left::Complete) == 0 {
        bad.push(format!(
            "no signal landed before the rename (calibrated write {:.1} ms): nothing was tested",
            window.as_secs_f64() * 1e3
        ));
    }
    for (at, st, l) in &left {
        if *st == Some(0) && *l != Left::Complete {
            bad.push(format!(
                "signal {:.1} ms into the write: exit 0, but {l:?} at the output path",
                at.as_secs_f64() * 1e3
            ));
        }
    }
    let summary = format!(
        "{} runs over a {:.0} ms write: {} complete, {} nothing, {} temp file left{}",
        left.len(),
        window.as_secs_f64() * 1e3,
        count(&|l| *l == Left::Complete),
        count(&|l| *l == Left::Nothing),
        temps.len(),
        match (temps.iter().min(), temps.iter().max()) {
            (Some(a), Some(b)) => format!(" ({:.1}-{:.1} MiB)", *a as f64 / 1048576.0, *b as f64 / 1048576.0),
            _ => String::new(),
        }
    );
    if bad.is_empty() {
        Ok(summary)
    } else {
        bad.push(summary);
        let lines: Vec<String> = left
            .iter()
            .map(|(at, st, l)| {
                format!("signal {:>6.1} ms into the write: exit {st:?}, left {l:?}", at.as_secs_f64() * 1e3)
            })
            .collect();
        bad.push(lines.join("\n"));
        Err(bad)
    }
}

// --- running ---------------------------------------------------------------------------

/// How many cases the suite counts.
fn count() -> usize {
    all().len() + interrupts().len()
}

/// Runs the selected fault scenarios and signal runs, one line each, into `t`.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    let flint = runner_ready("the fault scenarios")?;
    let table: Vec<Scenario> = all().into_iter().filter(|s| sel.matches(s.name)).collect();
    let signals: Vec<Interrupt> = interrupts().into_iter().filter(|i| sel.matches(i.name)).collect();
    if table.is_empty() && signals.is_empty() {
        return Err(format!("no fault scenario matches {:?}", sel.filter));
    }
    t.add(scenario::run_table(&table, &flint, sel.keep)?);
    t.add(run_each(&signals, |i| (i.name, i.about), 24, "scenario", sel.keep, |i, dir| interrupted(i, &flint, dir))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_name_their_phase() {
        assert_eq!(crate::harness::scenario::unnamed_failures(&super::all()), Vec::<&str>::new());
    }
}
