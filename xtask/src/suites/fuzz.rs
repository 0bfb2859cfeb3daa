//! `cargo xtask fuzz [--seconds N] [TARGET…]`: builds the cargo-fuzz crate in `fuzz/` and runs
//! each libFuzzer target for N seconds, one after the other; the smoke run in `cargo xtask
//! test` does the same for a few seconds per target.
//!
//! Installs what it needs when missing: cargo-fuzz from crates.io, a C++ compiler (libfuzzer-sys
//! builds libFuzzer from source) and a nightly toolchain. Targets are built without a sanitizer:
//! flint's library is `#![deny(unsafe_code)]`, so out-of-bounds accesses and overflows are
//! panics already (cargo fuzz builds with debug assertions and overflow checks), and ASan would
//! halve the executions. Without a sanitizer cargo fuzz passes only stable flags (`-Cpasses=
//! sancov-module`, `-Cllvm-args=…`), so where no nightly can be installed (a machine that
//! reaches only package registries) the default toolchain builds the same instrumented targets.
//!
//! Everything a run writes stays under `<target>/fuzz/`: the build, each target's working corpus
//! (`corpus/<target>`, kept between runs; libFuzzer adds new inputs to the first corpus
//! directory only, so the committed seeds in `fuzz/corpus/<target>` are read, never written),
//! crash inputs (`artifacts/<target>/`) and the full libFuzzer log (`logs/<target>.log`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::harness::tally::{Selection, Suite, Tally};
use crate::support::{deps, proc, util};

/// A few seconds of every target, as part of `cargo xtask test`.
pub const SMOKE: Suite = Suite { name: "fuzz", needs_flint: false, gate: false, run: smoke, cases: || TARGETS.len() };

/// Every target with its `-max_len`: HTTP inputs go past the 8 KiB head limit, gzip inputs past
/// the 32 KiB window once inflated (the JSON ones past TEXT_MAX); the rest are small structures.
pub const TARGETS: &[(&str, usize)] = &[
    ("http_response", 12 * 1024),
    ("http_roundtrip", 16 * 1024),
    ("http_request", 4096),
    ("gzip", 16 * 1024),
    ("gzip_roundtrip", 4096),
    ("decode", 8192),
    ("base64", 4096),
    ("json", 8192),
    ("yaml", 8192),
    ("ignition", 8192),
    ("metadata", 8192),
    ("cmdline", 4096),
    ("cmdline_roundtrip", 4096),
    ("ip_args", 4096),
    ("network_config", 8192),
    ("netlink", 4096),
    ("arp", 4096),
    ("dns", 4096),
    ("ndp", 2048),
    ("dhcpv6", 2048),
    ("csum", 4096),
    ("classless", 512),
    // Structured: seed images (ISO) or images built by fatfs from the input (FAT), changed at
    // a few bytes; the inputs themselves stay small.
    ("iso9660", 4096),
    ("fat", 8192),
    ("udf", 4096),
    ("ovfenv", 16 * 1024),
    ("include", 4096),
    ("mime", 8192),
    // Server bytes after a ClientHello: raw, or a scripted server's protected flight.
    ("tls_client", 16 * 1024),
    ("x509", 4096),
    ("url", 4096),
    // A fake sysfs tree written for every input: slow per run, so the inputs stay small.
    ("drive_scan", 2048),
];

/// Seconds per target in `cargo xtask test`: 24 targets take about a minute, on top of a
/// build of about 90 s on two cores.
pub const SMOKE_SECONDS: u64 = 3;
/// libFuzzer stops a run whose memory passes this (a decompression bomb the cap missed).
const RSS_LIMIT_MB: u32 = 2048;
/// One input taking longer than this is reported as a hang.
const INPUT_TIMEOUT_S: u32 = 10;

/// What one target's run did.
pub struct Outcome {
    pub target: String,
    pub seconds: u64,
    pub executions: Option<u64>,
    pub corpus: Option<u64>,
    pub coverage: Option<u64>,
    /// The input that failed, with the first lines of the panic or libFuzzer's report.
    pub crash: Option<(PathBuf, String)>,
    /// The run did not end the way libFuzzer ends (no "Done", no crash file).
    pub error: Option<String>,
    pub log: PathBuf,
}

impl Outcome {
    pub fn ok(&self) -> bool {
        self.crash.is_none() && self.error.is_none()
    }

    /// One line: executions, rate, corpus, coverage, crashes.
    pub fn summary(&self) -> String {
        let n = |v: Option<u64>| v.map_or("?".to_string(), |v| v.to_string());
        let rate = self.executions.map_or("?".to_string(), |e| (e / self.seconds.max(1)).to_string());
        let mut s = format!(
            "{} execs in {} s ({rate}/s), corpus {}, coverage {}, {} crash{}",
            n(self.executions),
            self.seconds,
            n(self.corpus),
            n(self.coverage),
            u8::from(self.crash.is_some()),
            if self.crash.is_some() { "" } else { "es" }
        );
        if let Some((path, why)) = &self.crash {
            s += &format!(
                "\n  crash input: {}\n  {}\n  reproduce: {} {}",
                path.display(),
                why.replace('\n', "\n  "),
                binary(&self.target).display(),
                path.display()
            );
        }
        if let Some(e) = &self.error {
            s += &format!("\n  {e} (log: {})", self.log.display());
        }
        s
    }
}

fn fuzz_dir() -> PathBuf {
    util::root().join("fuzz")
}

fn work_dir() -> PathBuf {
    util::target_dir().join("fuzz")
}

fn binary(target: &str) -> PathBuf {
    work_dir().join(util::TARGET).join("release").join(target)
}

/// The rustup proxy, not `$CARGO`: `+nightly` only means something to the proxy.
fn rustup_cargo() -> Command {
    let mut cmd = Command::new("cargo");
    // Set by the stable cargo that runs xtask; they would pin the nightly build to stable.
    for var in ["RUSTUP_TOOLCHAIN", "CARGO", "RUSTC", "RUSTDOC", "RUSTC_WRAPPER", "CARGO_TARGET_DIR"] {
        cmd.env_remove(var);
    }
    cmd
}

fn succeeds(cmd: &mut Command) -> bool {
    proc::run_capture(cmd, Duration::from_secs(60)).is_ok_and(|o| o.status.success())
}

/// Nightly, cargo-fuzz and a C++ compiler, installed when missing. Returns the toolchain
/// argument for cargo (`+nightly`), or `None` for the default toolchain when nightly could not
/// be had.
pub fn ensure_tools() -> Result<Option<&'static str>, String> {
    deps::ensure_fuzz()?;
    let has_nightly = || succeeds(Command::new("rustup").args(["run", "nightly", "rustc", "--version"]));
    if !has_nightly() {
        eprintln!("xtask: installing the nightly toolchain for cargo fuzz");
        let mut cmd = Command::new("rustup");
        cmd.args(["toolchain", "install", "nightly", "--profile", "minimal"]);
        if let Err(e) = proc::run_inherit(&mut cmd, Duration::from_secs(20 * 60)) {
            eprintln!("xtask: {e}");
        }
    }
    let toolchain = if has_nightly() {
        Some("+nightly")
    } else {
        eprintln!("xtask: no nightly toolchain; building the fuzz targets with the default one");
        None
    };
    if !succeeds(rustup_cargo().args(["fuzz", "--version"])) {
        eprintln!("xtask: installing cargo-fuzz");
        let mut cmd = rustup_cargo();
        cmd.args(["install", "cargo-fuzz", "--locked"]);
        let st = proc::run_inherit(&mut cmd, Duration::from_secs(30 * 60))?;
        if !st.success() {
            return Err(format!("cargo install cargo-fuzz failed ({st})"));
        }
    }
    Ok(toolchain)
}

/// `cargo [+nightly] fuzz build` of every target.
pub fn build(toolchain: Option<&str>) -> Result<(), String> {
    let mut cmd = rustup_cargo();
    cmd.current_dir(util::root())
        .args(toolchain)
        .args(["fuzz", "build", "--sanitizer", "none", "--target-dir"])
        .arg(work_dir());
    let st = proc::run_inherit(&mut cmd, Duration::from_secs(30 * 60))?;
    if st.success() { Ok(()) } else { Err(format!("cargo fuzz build failed ({st})")) }
}

/// Runs one built target for `seconds` at nice 10 (it yields to other work on the machine).
pub fn run(target: &str, max_len: usize, seconds: u64) -> Result<Outcome, String> {
    let corpus = work_dir().join("corpus").join(target);
    let seeds = fuzz_dir().join("corpus").join(target);
    let artifacts = work_dir().join("artifacts").join(target);
    let logs = work_dir().join("logs");
    for d in [&corpus, &seeds, &artifacts, &logs] {
        std::fs::create_dir_all(d).map_err(|e| format!("mkdir {}: {e}", d.display()))?;
    }
    let log = logs.join(format!("{target}.log"));
    let file = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let before = crash_files(&artifacts);
    let mut cmd = Command::new(util::tool("nice"));
    cmd.args(["-n", "10"])
        .arg(binary(target))
        .arg(&corpus)
        .arg(&seeds)
        .arg(format!("-max_total_time={seconds}"))
        .arg(format!("-max_len={max_len}"))
        .arg(format!("-rss_limit_mb={RSS_LIMIT_MB}"))
        .arg(format!("-timeout={INPUT_TIMEOUT_S}"))
        .arg(format!("-artifact_prefix={}/", artifacts.display()))
        .arg("-print_final_stats=1")
        .stdin(Stdio::null())
        .stdout(file.try_clone().map_err(|e| e.to_string())?)
        .stderr(file);
    let started = Instant::now();
    let mut child = proc::ChildGuard::spawn(&mut cmd, target)?;
    // libFuzzer stops itself at -max_total_time; the margin covers loading the corpus and a
    // last input running into -timeout.
    let limit = Duration::from_secs(seconds + 60 + 2 * INPUT_TIMEOUT_S as u64);
    let status = child.wait_timeout(limit);
    let elapsed = started.elapsed().as_secs().max(1);
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    let mut out = parse_log(target, &text);
    out.seconds = elapsed.min(seconds.max(1));
    out.log = log;
    let new_crash = crash_files(&artifacts).into_iter().find(|p| !before.contains(p));
    match (status, new_crash) {
        (None, _) => out.error = Some(format!("still running after {limit:?}; killed")),
        (Some(_), Some(path)) => out.crash = Some((path, crash_reason(&text))),
        (Some(st), None) if !st.success() || out.executions.is_none() => {
            out.error = Some(format!("libFuzzer exited {st} without a crash file: {}", util::tail(&text, 5)))
        }
        (Some(_), None) => {}
    }
    Ok(out)
}

fn crash_files(dir: &Path) -> Vec<PathBuf> {
    std::fs::read_dir(dir).map(|rd| rd.flatten().map(|e| e.path()).collect()).unwrap_or_default()
}

/// The panic message (two lines) or libFuzzer's own error line.
fn crash_reason(log: &str) -> String {
    let lines: Vec<&str> = log.lines().collect();
    if let Some(i) = lines.iter().position(|l| l.contains("panicked at")) {
        return lines[i..(i + 4).min(lines.len())]
            .iter()
            .take_while(|l| !l.starts_with("stack backtrace"))
            .copied()
            .collect::<Vec<_>>()
            .join("\n");
    }
    lines
        .iter()
        .find(|l| l.contains("ERROR: libFuzzer"))
        .map_or("(no panic message; see the log)".to_string(), |l| l.trim().to_string())
}

/// Executions from `stat::number_of_executed_units` (or "Done N runs"), corpus size and
/// coverage from the last status line (`#N DONE cov: C ft: F corp: K/…`).
fn parse_log(target: &str, log: &str) -> Outcome {
    let field = |line: &str, key: &str| -> Option<u64> {
        let rest = &line[line.find(key)? + key.len()..];
        rest.trim_start().split(|c: char| !c.is_ascii_digit()).next()?.parse().ok()
    };
    let executions = log
        .lines()
        .find_map(|l| l.strip_prefix("stat::number_of_executed_units:").and_then(|v| v.trim().parse().ok()))
        .or_else(|| log.lines().find_map(|l| field(l, "Done ")));
    let status = log.lines().rev().find(|l| l.starts_with('#') && l.contains(" cov: "));
    Outcome {
        target: target.to_string(),
        seconds: 0,
        executions,
        corpus: status.and_then(|l| field(l, " corp: ")),
        coverage: status.and_then(|l| field(l, " cov: ")),
        crash: None,
        error: None,
        log: PathBuf::new(),
    }
}

/// The targets whose name contains one of `filters` (all when empty).
pub fn select(filters: &[String]) -> Result<Vec<(&'static str, usize)>, String> {
    let picked: Vec<_> = TARGETS
        .iter()
        .copied()
        .filter(|(t, _)| filters.is_empty() || filters.iter().any(|f| t.contains(f.as_str())))
        .collect();
    if picked.is_empty() {
        let names: Vec<&str> = TARGETS.iter().map(|(t, _)| *t).collect();
        return Err(format!("no fuzz target matches {}; targets: {}", filters.join(" "), names.join(" ")));
    }
    Ok(picked)
}

/// The smoke run for `cargo xtask test`: one step per target, or one failed step when the
/// tools or the build are missing.
fn smoke(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    if let Err(e) = ensure_tools().and_then(build) {
        t.step("fuzz-build", false, &e);
        return Ok(());
    }
    for &(target, max_len) in TARGETS.iter().filter(|(target, _)| sel.matches(&format!("fuzz-{target}"))) {
        match run(target, max_len, SMOKE_SECONDS) {
            Ok(out) => t.step(&format!("fuzz-{target}"), out.ok(), &out.summary()),
            Err(e) => t.step(&format!("fuzz-{target}"), false, &e),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_libfuzzer_figures() {
        let log = "INFO: Seed: 1\n#2\tINITED cov: 40 ft: 41 corp: 1/1b exec/s: 0 rss: 30Mb\n\
                   #4096\tpulse  cov: 118 ft: 200 corp: 30/900b lim: 40 exec/s: 2048 rss: 35Mb\n\
                   #30001\tDONE   cov: 120 ft: 210 corp: 33/1010b lim: 60 exec/s: 10000 rss: 36Mb\n\
                   Done 30001 runs in 3 second(s)\nstat::number_of_executed_units: 30001\n";
        let o = parse_log("t", log);
        assert_eq!((o.executions, o.corpus, o.coverage), (Some(30001), Some(33), Some(120)));
        let no_stats = "#7\tDONE cov: 5 ft: 5 corp: 2/4b\nDone 7 runs in 1 second(s)\n";
        assert_eq!(parse_log("t", no_stats).executions, Some(7));
        assert_eq!(parse_log("t", "garbage").executions, None);
    }

    #[test]
    fn crash_reason_is_the_panic() {
        let log = "#1 NEW\n\nthread '<unnamed>' panicked at fuzz_targets/x.rs:3:5:\nassertion failed: ok\nstack backtrace:\n  0: x\n==1== ERROR: libFuzzer: deadly signal\n";
        assert_eq!(crash_reason(log), "thread '<unnamed>' panicked at fuzz_targets/x.rs:3:5:\nassertion failed: ok");
        assert_eq!(
            crash_reason("==1== ERROR: libFuzzer: out-of-memory (used: 3000Mb)\n"),
            "==1== ERROR: libFuzzer: out-of-memory (used: 3000Mb)"
        );
    }

    #[test]
    fn every_target_has_a_source_and_a_bin_entry() {
        let manifest = std::fs::read_to_string(fuzz_dir().join("Cargo.toml")).unwrap();
        for (t, _) in TARGETS {
            assert!(fuzz_dir().join("fuzz_targets").join(format!("{t}.rs")).is_file(), "{t}");
            assert!(manifest.contains(&format!("name = \"{t}\"")), "{t} has no [[bin]]");
        }
        let sources = std::fs::read_dir(fuzz_dir().join("fuzz_targets")).unwrap().count();
        assert_eq!(sources, TARGETS.len(), "a fuzz target is not in TARGETS");
        assert!(select(&["http".to_string()]).unwrap().iter().all(|(t, _)| t.starts_with("http")));
        assert!(select(&["nope".to_string()]).is_err());
    }
}
