//! The namespace scenario: flint once against the mock metadata service in network
//! namespaces, and every check a run gets whatever the suite.
//!
//! A `Scenario` declares topology, mock platform and knobs, payload, flint's arguments, the
//! budget and the expected exit code; the suites (`e2e`, `faults_http`, `faults_net`) are
//! tables of them. Each run gets its own veth pair and namespaces (`netns::Topology`),
//! optionally dnsmasq and a mock, runs flint in the client namespace and then checks: exit
//! code, time within the budget, output bytes = decoded payload, mode 0600, no stray files next
//! to the output, the report (`report::check`), flint's stderr format (`checks`), that no
//! file the run produced holds an issued token or the marker hidden in the user-data, and the
//! scenario's own `extra` checks. Times are only checked as "within the budget", never as
//! performance claims.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use base64::Engine as _;
use serde_json::Value;

use super::checks::{check_secrets, check_stderr, list_dir};
use super::flint::{HARD_EXTRA, check_exit, check_time, run_flint_cmd, runner_ready, verdict};
use super::mountns::MountNs;
use super::netns::{Addressing, Topology};
use super::report;
use super::tally::{Selection, Tally, run_each};
use crate::mock::{self, LogEntry, Platform, payloads};
use crate::support::proc::ChildGuard;

#[derive(Clone, Copy)]
pub enum Payload {
    None,
    Small,
    LargeGzip,
    /// The ~280 KB document of `LargeGzip`, served uncompressed: hundreds of TCP segments.
    LargePlain,
    /// Built for the run's marker: (bytes the mock serves, decoded bytes flint must write).
    Custom(fn(&str) -> (Vec<u8>, Vec<u8>)),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum PlatformFrom {
    /// `--platform <id>`
    Arg,
    /// `--cmdline FILE` holding `ignition.platform.id=<id>` among other kernel arguments.
    Cmdline,
    /// Everything through kernel arguments (`flint.platform=`, `flint.output=`, …) and only
    /// `--cmdline FILE` on the command line; `ignition.platform.id=` names another platform
    /// to prove `flint.platform=` takes precedence.
    KernelArgs,
    /// Neither: a usage error.
    Nowhere,
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum OutputAt {
    /// `<dir>/out/user-data`
    Normal,
    /// `<dir>/out/blocker/user-data` where `blocker` is a regular file: cannot be written.
    UnderAFile,
    /// `<dir>/out` is a read-only tmpfs (in a mount namespace of the run's own, `MountNs`).
    ReadOnly,
    /// `<dir>/out` is a tmpfs of this many KiB (in a mount namespace of the run's own).
    Tmpfs(u32),
}

pub struct Scenario {
    pub name: &'static str,
    pub about: &'static str,
    pub addressing: Addressing,
    pub dhcp_server: bool,
    pub platform: Platform,
    pub platform_from: PlatformFrom,
    /// `None`: nothing listens on 169.254.169.254:80.
    pub mock: Option<fn(&mut mock::Options)>,
    /// The mock is started this long after flint (connections are refused until then).
    pub mock_after: Duration,
    /// A second mock listening here in the server namespace, which flint must never reach
    /// (`Run::decoy_log`).
    pub decoy: Option<&'static str>,
    pub payload: Payload,
    pub budget: f64,
    pub args: &'static [&'static str],
    pub exit: i32,
    /// A second acceptable exit code where the contract allows either reading.
    pub or_exit: Option<i32>,
    pub output_at: OutputAt,
    /// The phase of the run's one `flint: error:` line and of the report's `failed_phase`,
    /// named by every scenario expected to fail (`unnamed_failures`).
    pub error_phase: Option<&'static str>,
    pub extra: Option<fn(&Run) -> Vec<String>>,
    /// Network set-up beyond the plain topology (the network faults, `faults_net.rs`).
    pub net: Option<NetSetup>,
}

/// A scenario's network set-up beyond the plain topology, run before flint starts.
pub type NetSetup = fn(&Topology, &Path) -> Result<NetFixture, String>;

/// What a scenario's `net` set-up started (DHCP servers, …), kept alive until the checks end,
/// and what it changes about the expectations.
#[derive(Default)]
pub struct NetFixture {
    #[allow(dead_code)] // held for their Drop (kill and reap)
    pub guards: Vec<ChildGuard>,
    /// Run on a thread of its own from the moment flint is spawned (e.g. a late carrier);
    /// joined before the checks, its error fails the scenario.
    pub during: Option<Box<dyn FnOnce() -> Result<(), String> + Send>>,
    /// The address mode the report must show, when it is not the topology's own.
    pub mode: Option<Addressing>,
    /// Prefix length of the DHCP lease, when not dnsmasq's /24.
    pub prefix: Option<u8>,
    /// Frames are lost on the link: flint's `requests` counts attempts whose SYN never reached
    /// the mock, so it is only held to at least what the mock logged; and DHCP may lose to the
    /// link-local fallback, so the report may show either mode.
    pub lossy: bool,
}

impl Scenario {
    pub fn base(name: &'static str, about: &'static str) -> Self {
        Scenario {
            name,
            about,
            addressing: Addressing::Dhcp,
            dhcp_server: true,
            platform: Platform::Aws,
            platform_from: PlatformFrom::Arg,
            mock: Some(|_| {}),
            mock_after: Duration::ZERO,
            decoy: None,
            payload: Payload::Small,
            budget: 10.0,
            args: &[],
            exit: 0,
            or_exit: None,
            output_at: OutputAt::Normal,
            error_phase: None,
            extra: None,
            net: None,
        }
    }
}

/// Everything observed in one run, for the checks.
pub struct Run {
    pub exit: Option<i32>,
    pub elapsed: Duration,
    pub stderr: String,
    pub log: Vec<LogEntry>,
    pub tokens: Vec<String>,
    /// What the decoy listener (`Scenario::decoy`) was asked.
    pub decoy_log: Vec<LogEntry>,
    /// The scenario's scratch directory (helpers' logs) and flint's parsed report.
    pub dir: PathBuf,
    pub report: Option<Value>,
}

impl Run {
    pub fn requests(&self, method: &str, path_suffix: &str) -> Vec<&LogEntry> {
        self.log.iter().filter(|e| e.method == method && e.path.ends_with(path_suffix)).collect()
    }
}

/// What the mock serves and what flint must write.
struct Prepared {
    /// Bytes for `--payload` (served raw by aws, base64-encoded by akamai).
    file: Option<Vec<u8>>,
    /// The decoded user-data flint must write.
    decoded: Option<Vec<u8>>,
    /// Length of the user-data body on the wire (before transfer framing).
    served_len: Option<usize>,
}

fn prepare(s: &Scenario, marker: &str) -> Prepared {
    let (decoded, file) = match s.payload {
        Payload::None => (None, None),
        Payload::Small => {
            let p = payloads::ignition_small(marker);
            (Some(p.clone()), Some(p))
        }
        Payload::LargeGzip => {
            let (plain, gz) = payloads::large_gzip(marker);
            (Some(plain), Some(gz))
        }
        Payload::LargePlain => {
            let (plain, _) = payloads::large_gzip(marker);
            (Some(plain.clone()), Some(plain))
        }
        Payload::Custom(build) => {
            let (served, decoded) = build(marker);
            (Some(decoded), Some(served))
        }
    };
    let served_len = file.as_ref().map(|f| match s.platform {
        Platform::Aws | Platform::OpenStack | Platform::NoCloud | Platform::Gcp => f.len(),
        Platform::Akamai | Platform::Azure => base64::engine::general_purpose::STANDARD.encode(f).len(),
        // Issue #12's platforms run in `suites/platforms`, not here.
        _ => f.len(),
    });
    Prepared { file, decoded, served_len }
}

/// flint's command line for a scenario (and the `--cmdline` file it may point to).
fn flint_args(s: &Scenario, dir: &Path, output: &Path, report: &Path) -> Result<Vec<String>, String> {
    const BOOT: &str = "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0b3c6d1e-5f7a-4c2b-9d8e-1a2b3c4d5e6f ro console=ttyS0,115200n8";
    let budget = format!("{}", s.budget);
    let cmdline_file = dir.join("cmdline");
    let cmdline_arg = || vec!["--cmdline".to_string(), cmdline_file.display().to_string()];
    let mut args: Vec<String> = Vec::new();
    let cmdline = match s.platform_from {
        PlatformFrom::Arg => {
            args.extend(["--platform".into(), s.platform.as_str().into()]);
            None
        }
        PlatformFrom::Cmdline => {
            args.extend(cmdline_arg());
            Some(format!("{BOOT} ignition.platform.id={} ignition.firstboot quiet\n", s.platform.as_str()))
        }
        PlatformFrom::Nowhere => {
            args.extend(cmdline_arg());
            Some(format!("{BOOT} quiet\n"))
        }
        PlatformFrom::KernelArgs => {
            let decoy = if s.platform == Platform::Aws { "akamai" } else { "aws" };
            args.extend(cmdline_arg());
            args.extend(s.args.iter().map(|a| a.to_string()));
            let text = format!(
                "{BOOT} ignition.platform.id={decoy} flint.platform={} flint.interface=eth0 flint.output={} flint.report={} flint.timeout={budget} quiet\n",
                s.platform.as_str(),
                output.display(),
                report.display()
            );
            std::fs::write(&cmdline_file, text).map_err(|e| e.to_string())?;
            return Ok(args);
        }
    };
    if let Some(text) = cmdline {
        std::fs::write(&cmdline_file, text).map_err(|e| e.to_string())?;
    }
    args.extend(["--interface".into(), "eth0".into()]);
    args.extend(["--output".into(), output.display().to_string()]);
    args.extend(["--report".into(), report.display().to_string()]);
    args.extend(["--timeout".into(), budget]);
    args.extend(s.args.iter().map(|a| a.to_string()));
    Ok(args)
}

/// Runs one scenario; `Err` lists every failed check (plus context for the reader).
pub fn run_one(s: &Scenario, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let marker = payloads::new_marker();
    let prep = prepare(s, &marker);

    // Declaration order = reverse drop order: mock and dnsmasq die before the namespaces go.
    let topo = Topology::new(s.addressing).map_err(|e| vec![e])?;
    let _dnsmasq = if s.dhcp_server && s.addressing == Addressing::Dhcp {
        Some(topo.start_dnsmasq(dir).map_err(|e| vec![e])?)
    } else {
        None
    };
    let mut fixture = match s.net {
        Some(setup) => setup(&topo, dir).map_err(|e| vec![e])?,
        None => NetFixture::default(),
    };
    let mock_opts = match s.mock {
        Some(knobs) => {
            let mut o = mock::Options::new(s.platform);
            if let Some(bytes) = &prep.file {
                let p = dir.join("payload.bin");
                std::fs::write(&p, bytes).map_err(|e| vec![e.to_string()])?;
                o.payload = Some(p);
            }
            knobs(&mut o);
            Some(o)
        }
        None => None,
    };
    // `start_in` fills in where the log and token files go; a late mock gets them here.
    let (_mock, mock_opts, late) = match mock_opts {
        Some(o) if s.mock_after.is_zero() => {
            let (guard, full) = mock::start_in(&topo.server, &o, dir).map_err(|e| vec![e])?;
            (Some(guard), Some(full), None)
        }
        Some(mut o) => {
            o.log = Some(dir.join("mock-log.jsonl"));
            o.tokens = Some(dir.join("mock-tokens.txt"));
            (None, Some(o.clone()), Some(o))
        }
        None => (None, None, None),
    };
    let decoy = match s.decoy {
        Some(listen) => {
            let decoy_dir = dir.join("decoy");
            std::fs::create_dir_all(&decoy_dir).map_err(|e| vec![e.to_string()])?;
            let mut o = mock::Options::new(Platform::Aws);
            o.listen = listen.into();
            o.payload = mock_opts.as_ref().and_then(|m| m.payload.clone());
            Some(mock::start_in(&topo.server, &o, &decoy_dir).map_err(|e| vec![e])?)
        }
        None => None,
    };

    let out_dir = dir.join("out");
    let report_dir = dir.join("report");
    for d in [&out_dir, &report_dir] {
        std::fs::create_dir_all(d).map_err(|e| vec![e.to_string()])?;
    }
    let mount_ns = match s.output_at {
        OutputAt::ReadOnly => Some(MountNs::with_tmpfs(&out_dir, "ro,size=64k").map_err(|e| vec![e])?),
        OutputAt::Tmpfs(kib) => Some(MountNs::with_tmpfs(&out_dir, &format!("size={kib}k")).map_err(|e| vec![e])?),
        OutputAt::Normal | OutputAt::UnderAFile => None,
    };
    let output: PathBuf = match s.output_at {
        OutputAt::Normal | OutputAt::ReadOnly | OutputAt::Tmpfs(_) => out_dir.join("user-data"),
        OutputAt::UnderAFile => {
            std::fs::write(out_dir.join("blocker"), b"not a directory\n").map_err(|e| vec![e.to_string()])?;
            out_dir.join("blocker").join("user-data")
        }
    };
    let report_path = report_dir.join("report.json");
    let args = flint_args(s, dir, &output, &report_path).map_err(|e| vec![e])?;
    std::fs::write(dir.join("flint-args.txt"), args.join(" ")).ok();

    let budget = Duration::from_secs_f64(s.budget);
    let cmd = match &mount_ns {
        Some(m) => m.in_client(&topo, flint),
        None => topo.in_client(flint),
    };
    let during = fixture.during.take().map(std::thread::spawn);
    let (fr, late) = std::thread::scope(|sc| {
        let late = late.as_ref().map(|o| {
            sc.spawn(|| {
                std::thread::sleep(s.mock_after);
                mock::start_in(&topo.server, o, dir)
            })
        });
        let fr = run_flint_cmd(cmd, &args, dir, budget + HARD_EXTRA);
        (fr, late.map(|h| h.join().unwrap_or_else(|_| Err("late mock: thread panicked".into()))))
    });
    let during = during.map(|t| t.join().unwrap_or_else(|_| Err("the scenario's action thread panicked".into())));
    let fr = fr.map_err(|e| vec![e])?;
    let _late_mock = late.transpose().map_err(|e| vec![e])?;
    // Let the mock finish logging the last request before reading its files.
    std::thread::sleep(Duration::from_millis(20));
    let (log, tokens) = match &mock_opts {
        Some(mock::Options { log: Some(log), tokens: Some(tokens), .. }) => {
            (mock::read_log(log).map_err(|e| vec![e])?, mock::read_tokens(tokens))
        }
        _ => (Vec::new(), Vec::new()),
    };
    let decoy_log = match &decoy {
        Some((_, o)) => o.log.as_deref().map(mock::read_log).transpose().map_err(|e| vec![e])?.unwrap_or_default(),
        None => Vec::new(),
    };
    let report_json = std::fs::read(&report_path).ok().and_then(|b| serde_json::from_slice::<Value>(&b).ok());
    let run = Run {
        exit: fr.exit,
        elapsed: fr.elapsed,
        stderr: fr.stderr,
        log,
        tokens,
        decoy_log,
        dir: dir.to_path_buf(),
        report: report_json,
    };
    // Where the harness sees flint's output: through the mount namespace when there is one.
    let (out_dir, output) = match &mount_ns {
        Some(m) => (m.view(&out_dir), m.view(&output)),
        None => (out_dir, output),
    };

    let mut bad = Vec::new();
    if let Some(Err(e)) = during {
        bad.push(e);
    }
    // Exit code and time.
    bad.extend(check_exit(run.exit, s.exit, s.or_exit, budget + HARD_EXTRA));
    bad.extend(check_time(run.elapsed, budget));

    // Output file and its directory.
    let entries = list_dir(&out_dir);
    // Where either outcome is allowed (`or_exit`), the checks follow the one that happened.
    let success = match run.exit {
        Some(c) if c == s.exit || Some(c) == s.or_exit => c == 0,
        _ => s.exit == 0,
    };
    if success {
        match std::fs::read(&output) {
            Ok(bytes) => {
                if Some(&bytes) != prep.decoded.as_ref() {
                    bad.push(format!(
                        "output differs from the decoded payload ({} bytes written, {} expected)",
                        bytes.len(),
                        prep.decoded.as_ref().map_or(0, |d| d.len())
                    ));
                }
                let mode = std::fs::metadata(&output).map(|m| m.permissions().mode() & 0o7777).unwrap_or(0);
                if mode != 0o600 {
                    bad.push(format!("output mode {mode:o}, expected 600"));
                }
            }
            Err(e) => bad.push(format!("no output file {}: {e}", output.display())),
        }
        if entries != ["user-data"] {
            bad.push(format!("output directory holds {entries:?}, expected only user-data"));
        }
    } else {
        let expected: &[&str] = if s.output_at == OutputAt::UnderAFile { &["blocker"] } else { &[] };
        if entries != expected {
            bad.push(format!("output directory holds {entries:?} after a failure, expected {expected:?}"));
        }
    }

    // Report.
    let report_entries = list_dir(&report_dir);
    if s.exit != 2 {
        if report_entries != ["report.json"] {
            bad.push(format!("report directory holds {report_entries:?}, expected only report.json"));
        }
        match std::fs::read(&report_path)
            .map_err(|e| e.to_string())
            .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
        {
            Ok(v) => {
                // A late mock did not see the refused attempts flint counts.
                // Lost frames: flint counts attempts whose SYN never reached the mock.
                let served_requests = if mock_opts.is_some() && s.mock_after.is_zero() && !fixture.lossy {
                    Some(run.log.len())
                } else {
                    None
                };
                if fixture.lossy && v["requests"].as_u64().is_some_and(|n| n < run.log.len() as u64) {
                    bad.push(format!(
                        "report requests = {}, fewer than the mock logged ({})",
                        v["requests"],
                        run.log.len()
                    ));
                }
                let e = report::Expect {
                    platform: s.platform.as_str(),
                    exit_code: run.exit.unwrap_or(-1),
                    mac: &topo.client_mac,
                    addressing: if fixture.lossy { None } else { Some(fixture.mode.unwrap_or(s.addressing)) },
                    dhcp_prefix: fixture.prefix.unwrap_or(24),
                    success,
                    written: if success { prep.decoded.as_ref().map(|d| d.len()) } else { None },
                    fetched: if success { prep.served_len } else { None },
                    requests: served_requests,
                    budget_us: budget.as_micros() as u64,
                    failed_phase: report::FailedPhase::for_exit(run.exit.unwrap_or(-1), s.error_phase),
                    gzip: report::expected_gzip(run.exit.unwrap_or(-1), prep.file.as_deref()),
                };
                bad.extend(report::check(&v, &e));
            }
            Err(e) => bad.push(format!("report {}: {e}", report_path.display())),
        }
    }

    // stderr format; no secrets in any stream the run produced.
    bad.extend(check_stderr(&run.stderr, s.exit, s.error_phase));
    bad.extend(check_secrets(dir, &run.tokens, &marker));
    if let Some(extra) = s.extra {
        bad.extend(extra(&run));
    }

    verdict(bad, run.elapsed, &args, &run.stderr, &run.log)
}

/// Scenarios expected to fail (any exit but 0 and 3) that do not name the phase they fail in:
/// the report's `failed_phase` and the error line are held to it, so every table names it.
#[cfg(test)]
pub fn unnamed_failures(list: &[Scenario]) -> Vec<&'static str> {
    list.iter().filter(|s| s.exit != 0 && s.exit != 3 && s.error_phase.is_none()).map(|s| s.name).collect()
}

/// Runs the cases of `list` that `sel` selects, one line each, into `t`.
pub fn run_list(list: Vec<Scenario>, sel: &Selection, t: &mut Tally) -> Result<(), String> {
    let flint = runner_ready("the namespace scenarios")?;
    let selected = sel.pick(list, |s| s.name, "scenario")?;
    t.add(run_table(&selected, &flint, sel.keep)?);
    Ok(())
}

/// Runs every scenario of `selected` with `flint`; (passed, failed).
pub fn run_table(selected: &[Scenario], flint: &Path, keep: bool) -> Result<(usize, usize), String> {
    run_each(selected, |s| (s.name, s.about), 24, "scenario", keep, |s, dir| run_one(s, flint, dir))
}
