//! `cargo xtask load [--instances N] [--rate-limit R] [--timeout S] [--keep]`: N flint
//! instances, one per network namespace, booting at once on one bridged link against one
//! dnsmasq and one mock metadata service that answers 429 (`Retry-After: 1`) past R requests
//! per second. Every instance must write the user-data within its own budget; the time of
//! the last one and the median are printed (issue #5, "Load").
//!
//! Each instance gets the end-to-end checks that apply to it: exit 0, elapsed within the
//! budget (+ slack), output equal to the payload, mode 0600, nothing else in its directory,
//! the report (`report::check`), the stderr format and no token or user-data marker in it.
//! Across instances: every lease distinct, and the rate limit really bit (429s were served)
//! whenever the instances ask for more than the limit admits in a second.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::flint::{HARD_EXTRA, SLACK};
use crate::harness::netns::{self, Addressing, Lan};
use crate::harness::report;
use crate::harness::tally::{Selection, Suite, Tally};
use crate::mock::{self, Platform, payloads};
use crate::support::proc::{self, ChildGuard};
use crate::support::{cleanup, util};

pub const SUITE: Suite = Suite { name: "load-100", needs_flint: true, gate: false, run: test_step, cases: || 1 };

const DEFAULT_INSTANCES: usize = 100;
/// Requests per second the mock admits before answering 429: 100 instances make 200
/// requests (token + user-data), so most of them meet the limit at least once.
const DEFAULT_RATE_LIMIT: u32 = 40;
const DEFAULT_BUDGET: f64 = 30.0;

pub struct Config {
    pub instances: usize,
    pub rate_limit: u32,
    pub budget: f64,
    pub keep: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config { instances: DEFAULT_INSTANCES, rate_limit: DEFAULT_RATE_LIMIT, budget: DEFAULT_BUDGET, keep: false }
    }
}

/// What one load run measured.
pub struct Outcome {
    pub problems: Vec<String>,
    pub last: f64,
    pub median: f64,
    pub requests: usize,
    pub throttled: usize,
    pub dir: PathBuf,
}

struct Instance {
    child: ChildGuard,
    dir: PathBuf,
    output: PathBuf,
    report: PathBuf,
    done: Option<(i32, Duration)>,
}

pub fn run(cfg: &Config) -> Result<Outcome, String> {
    util::require_root("the load test")?;
    let flint = util::flint_under_test();
    if !flint.exists() {
        return Err(format!("{} not found: run `cargo xtask build` first", flint.display()));
    }
    let pool = usize::from(netns::POOL.1 - netns::POOL.0) + 1;
    if cfg.instances == 0 || cfg.instances > pool {
        return Err(format!("--instances must be 1..={pool} (dnsmasq's pool)"));
    }
    cleanup::remove_stale();
    let mut scratch = util::ScratchDir::new("load")?;
    let dir = scratch.path().to_path_buf();

    // Declaration order = reverse drop order: flints, mock and dnsmasq die before the LAN.
    let lan = Lan::new(cfg.instances, &dir)?;
    let _dnsmasq = netns::start_dnsmasq(&lan.server, netns::BRIDGE, &dir)?;
    let marker = payloads::new_marker();
    let payload = payloads::ignition_small(&marker);
    let payload_path = dir.join("payload.bin");
    std::fs::write(&payload_path, &payload).map_err(|e| e.to_string())?;
    let mut o = mock::Options::new(Platform::Aws);
    o.payload = Some(payload_path);
    o.rate_limit = Some(cfg.rate_limit);
    let (_mock, mock_opts) = mock::start_in(&lan.server, &o, &dir)?;

    let budget = Duration::from_secs_f64(cfg.budget);
    let mut instances = Vec::with_capacity(cfg.instances);
    let t0 = Instant::now();
    for i in 0..cfg.instances {
        let idir = dir.join(format!("c{i}"));
        let out = idir.join("out");
        std::fs::create_dir_all(&out).map_err(|e| e.to_string())?;
        let (output, report_path) = (out.join("user-data"), idir.join("report.json"));
        let mut cmd = lan.in_client(i, &flint);
        cmd.args(["--platform", "aws", "--interface", netns::CLIENT_IF, "--timeout", &cfg.budget.to_string()])
            .arg("--output")
            .arg(&output)
            .arg("--report")
            .arg(&report_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(File::create(idir.join("flint-stderr.txt")).map_err(|e| e.to_string())?);
        let child = ChildGuard::spawn(&mut cmd, &format!("flint c{i}"))?;
        instances.push(Instance { child, dir: idir, output, report: report_path, done: None });
    }
    let spawned = t0.elapsed();
    // One bounded wait for all of them; exit times are taken at 5 ms granularity, from t0.
    let deadline = t0 + budget + HARD_EXTRA;
    while Instant::now() < deadline && instances.iter().any(|x| x.done.is_none()) {
        for x in instances.iter_mut().filter(|x| x.done.is_none()) {
            if let Some(st) = x.child.try_status() {
                x.done = Some((proc::exit_code(st), t0.elapsed()));
            }
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    for x in &mut instances {
        x.child.kill();
    }
    std::thread::sleep(Duration::from_millis(20));
    let log = mock::read_log(mock_opts.log.as_deref().unwrap_or(Path::new("/nonexistent")))?;
    let tokens = mock::read_tokens(mock_opts.tokens.as_deref().unwrap_or(Path::new("/nonexistent")));

    let mut problems = Vec::new();
    let mut times = Vec::new();
    let mut addresses = std::collections::BTreeMap::<String, usize>::new();
    for (i, x) in instances.iter().enumerate() {
        let mut bad = Vec::new();
        match x.done {
            None => bad.push(format!("still running after {:?}: killed", budget + HARD_EXTRA)),
            Some((code, t)) => {
                times.push(t.as_secs_f64());
                if code != 0 {
                    bad.push(format!("exit code {code}, expected 0"));
                }
                // Measured from t0, so it includes the time taken to spawn the later ones.
                if t > budget + SLACK + spawned {
                    bad.push(format!("ended at {:.2} s, budget {:.1} s", t.as_secs_f64(), cfg.budget));
                }
            }
        }
        match std::fs::read(&x.output) {
            Ok(b) if b == payload => {}
            Ok(b) => bad.push(format!("output differs from the payload ({} bytes)", b.len())),
            Err(e) => bad.push(format!("no output: {e}")),
        }
        let mode = std::fs::metadata(&x.output).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
        if mode != 0o600 {
            bad.push(format!("output mode {mode:o}, expected 600"));
        }
        let entries: Vec<String> = std::fs::read_dir(x.output.parent().unwrap_or(Path::new("/")))
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
            .unwrap_or_default();
        if entries != ["user-data"] {
            bad.push(format!("output directory holds {entries:?}"));
        }
        let report_json = std::fs::read(&x.report).ok().and_then(|b| serde_json::from_slice(&b).ok());
        match &report_json {
            Some(v) => {
                let e = report::Expect {
                    platform: "aws",
                    exit_code: x.done.map_or(-1, |d| d.0),
                    mac: &lan.clients[i].1,
                    addressing: Some(Addressing::Dhcp),
                    dhcp_prefix: 24,
                    success: true,
                    written: Some(payload.len()),
                    fetched: Some(payload.len()),
                    // The mock's log cannot tell the instances apart.
                    requests: None,
                    budget_us: budget.as_micros() as u64,
                    failed_phase: report::FailedPhase::Null,
                    gzip: Some(false),
                };
                bad.extend(report::check(v, &e));
                if let Some(a) = v["address"].as_str() {
                    *addresses.entry(a.to_string()).or_default() += 1;
                }
            }
            None => bad.push(format!("no report at {}", x.report.display())),
        }
        let stderr = std::fs::read_to_string(x.dir.join("flint-stderr.txt")).unwrap_or_default();
        bad.extend(check_stderr(&stderr, 0, None));
        bad.extend(check_secrets(&x.dir, &tokens, &marker));
        if !bad.is_empty() {
            problems.push(format!("instance c{i} ({}):\n{}", lan.clients[i].1, util::indent(&bad.join("\n"))));
        }
    }
    for (a, n) in &addresses {
        if *n > 1 {
            problems.push(format!("{n} instances used the same address {a}"));
        }
    }
    let throttled = log.iter().filter(|e| e.status == 429).count();
    let served = log.iter().filter(|e| e.path.ends_with("/user-data") && e.status == 200).count();
    // Two requests per instance; only when they exceed one second's allowance must the
    // limit have answered 429 at least once, else the test would not test the backoff.
    if cfg.instances * 2 > cfg.rate_limit as usize && throttled == 0 {
        problems.push(format!("the mock never answered 429 (limit {}/s): nothing was throttled", cfg.rate_limit));
    }
    if served != cfg.instances {
        problems.push(format!("the mock served user-data {served} times for {} instances", cfg.instances));
    }
    if !problems.is_empty() || cfg.keep {
        scratch.keep();
    }
    let last = times.iter().copied().fold(0.0, f64::max);
    Ok(Outcome { problems, last, median: util::median(&times).unwrap_or(0.0), requests: log.len(), throttled, dir })
}

/// What the run measured, in one line.
pub fn summary(cfg: &Config, o: &Outcome) -> String {
    format!(
        "{} instances, limit {}/s: last done at {:.2} s, median {:.2} s; mock saw {} requests, {} answered 429",
        cfg.instances, cfg.rate_limit, o.last, o.median, o.requests, o.throttled
    )
}

/// The problems under the run's line, and where the files are.
pub fn print_problems(cfg: &Config, o: &Outcome) {
    for p in o.problems.iter().take(20) {
        println!("{}", util::indent(p));
    }
    if o.problems.len() > 20 {
        println!("    … {} more", o.problems.len() - 20);
    }
    if !o.problems.is_empty() || cfg.keep {
        println!("    files kept in {}", o.dir.display());
    }
}

/// The load test as one counted step of `cargo xtask test`, at full size (100 instances
/// take ~8 s on this project's machines).
fn test_step(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    let cfg = Config { keep: sel.keep, ..Config::default() };
    match run(&cfg) {
        Ok(o) => {
            t.step("load-100", o.problems.is_empty(), &summary(&cfg, &o));
            print_problems(&cfg, &o);
        }
        Err(e) => t.step("load-100", false, &e),
    }
    Ok(())
}
