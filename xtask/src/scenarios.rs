//! End-to-end scenarios: flint against the mock metadata services in network namespaces.
//!
//! Each scenario gets its own veth pair and namespaces (`netns::Topology`), optionally
//! dnsmasq and a mock, runs flint once in the client namespace and then checks, whatever the
//! scenario: exit code, output bytes = decoded payload, mode 0600, no stray files next to
//! the output, the report (`report::check`), flint's stderr format, and that stderr never
//! contains an issued token nor the marker hidden in the user-data. Times are only checked
//! as "within the budget", never as performance claims.

use std::fs::File;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use base64::Engine as _;
use serde_json::Value;

use crate::mock::{self, LogEntry, Platform};
use crate::netns::{Addressing, Topology};
use crate::proc::{self, ChildGuard};
use crate::report;
use crate::faults_http::MountNs;
use crate::{build_task, cleanup, deps, payloads, util};

/// flint must be gone this long after its own budget, else it is killed and the run fails.
const HARD_EXTRA: Duration = Duration::from_secs(10);
/// Allowed overrun of the budget, measured from outside (spawn, `ip netns exec`, exit).
const SLACK: Duration = Duration::from_millis(1500);

const PHASES: [&str; 9] = ["args", "link", "address", "token", "user-data", "metadata", "decode", "write", "ignition"];

#[derive(Clone, Copy)]
pub(crate) enum Payload {
    None,
    Small,
    LargeGzip,
    /// The ~280 KB document of `LargeGzip`, served uncompressed: hundreds of TCP segments.
    LargePlain,
    /// Built for the run's marker: (bytes the mock serves, decoded bytes flint must write).
    Custom(fn(&str) -> (Vec<u8>, Vec<u8>)),
}

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum PlatformFrom {
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
pub(crate) enum OutputAt {
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
    pub(crate) about: &'static str,
    pub(crate) addressing: Addressing,
    pub(crate) dhcp_server: bool,
    pub(crate) platform: Platform,
    pub(crate) platform_from: PlatformFrom,
    /// `None`: nothing listens on 169.254.169.254:80.
    pub(crate) mock: Option<fn(&mut mock::Options)>,
    /// The mock is started this long after flint (connections are refused until then).
    pub(crate) mock_after: Duration,
    /// A second mock listening here in the server namespace, which flint must never reach
    /// (`Run::decoy_log`).
    pub(crate) decoy: Option<&'static str>,
    pub(crate) payload: Payload,
    pub(crate) budget: f64,
    pub(crate) args: &'static [&'static str],
    pub(crate) exit: i32,
    /// A second acceptable exit code where the contract allows either reading.
    pub(crate) or_exit: Option<i32>,
    pub(crate) output_at: OutputAt,
    pub(crate) error_phase: Option<&'static str>,
    pub(crate) extra: Option<fn(&Run) -> Vec<String>>,
    /// Network set-up beyond the plain topology (the network faults, `faults_net.rs`).
    pub(crate) net: Option<fn(&Topology, &Path) -> Result<NetFixture, String>>,
}

/// What a scenario's `net` set-up started (DHCP servers, …), kept alive until the checks end,
/// and what it changes about the expectations.
#[derive(Default)]
pub(crate) struct NetFixture {
    #[allow(dead_code)] // held for their Drop (kill and reap)
    pub(crate) guards: Vec<ChildGuard>,
    /// Run on a thread of its own from the moment flint is spawned (e.g. a late carrier);
    /// joined before the checks, its error fails the scenario.
    pub(crate) during: Option<Box<dyn FnOnce() -> Result<(), String> + Send>>,
    /// The address mode the report must show, when it is not the topology's own.
    pub(crate) mode: Option<Addressing>,
    /// Prefix length of the DHCP lease, when not dnsmasq's /24.
    pub(crate) prefix: Option<u8>,
    /// Frames are lost on the link: flint's `requests` counts attempts whose SYN never reached
    /// the mock, so it is only held to at least what the mock logged; and DHCP may lose to the
    /// link-local fallback, so the report may show either mode.
    pub(crate) lossy: bool,
}

impl Scenario {
    pub(crate) fn base(name: &'static str, about: &'static str) -> Self {
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
    pub(crate) exit: Option<i32>,
    pub(crate) elapsed: Duration,
    pub(crate) stderr: String,
    pub(crate) log: Vec<LogEntry>,
    pub(crate) tokens: Vec<String>,
    /// What the decoy listener (`Scenario::decoy`) was asked.
    pub(crate) decoy_log: Vec<LogEntry>,
    /// The scenario's scratch directory (helpers' logs) and flint's parsed report.
    pub(crate) dir: PathBuf,
    pub(crate) report: Option<Value>,
}

impl Run {
    pub(crate) fn requests(&self, method: &str, path_suffix: &str) -> Vec<&LogEntry> {
        self.log.iter().filter(|e| e.method == method && e.path.ends_with(path_suffix)).collect()
    }
}

pub fn all() -> Vec<Scenario> {
    vec![
        Scenario {
            extra: Some(one_token_then_user_data),
            ..Scenario::base("aws-dhcp", "IMDSv2 token + user-data over a DHCP lease, via the router")
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            budget: 20.0,
            ..Scenario::base("aws-link-local", "no DHCP server: IPv4 link-local address, metadata on-link")
        },
        Scenario {
            payload: Payload::LargeGzip,
            extra: Some(gzip_fits_aws_limit),
            ..Scenario::base("aws-gzip-large", "gzip user-data under 16 KB that inflates to ~280 KB")
        },
        Scenario {
            platform: Platform::Akamai,
            payload: Payload::LargeGzip,
            extra: Some(akamai_accept_ok),
            ..Scenario::base("akamai-base64-gzip", "Akamai base64(gzip) user-data")
        },
        Scenario {
            platform: Platform::Akamai,
            extra: Some(akamai_accept_ok),
            ..Scenario::base("akamai-plain", "Akamai base64(plain) user-data")
        },
        Scenario {
            mock: Some(|o| o.chunked = true),
            payload: Payload::LargeGzip,
            args: &["-v"],
            ..Scenario::base("aws-chunked", "Transfer-Encoding: chunked, odd chunk sizes (verbose)")
        },
        Scenario {
            mock: Some(|o| o.close_delimited = true),
            payload: Payload::LargeGzip,
            ..Scenario::base("aws-close-delimited", "no Content-Length: the close ends every body")
        },
        Scenario {
            mock: Some(|o| o.stale_token_once = true),
            args: &["-v"],
            extra: Some(stale_token_recovered),
            ..Scenario::base("aws-stale-token", "first user-data GET says 401: a second token PUT recovers (verbose)")
        },
        Scenario {
            payload: Payload::None,
            exit: 3,
            extra: Some(user_data_404_seen),
            ..Scenario::base("aws-no-user-data", "404 for user-data: exit 3, nothing written")
        },
        Scenario {
            platform: Platform::Akamai,
            payload: Payload::None,
            exit: 3,
            ..Scenario::base("akamai-no-user-data", "200 with an empty body: exit 3, nothing written")
        },
        Scenario {
            mock: None,
            budget: 4.0,
            exit: 4,
            ..Scenario::base("aws-unreachable", "lease but nothing listening on :80: exit 4 within the budget")
        },
        Scenario {
            mock: Some(|o| o.delay_ms = 1500),
            extra: Some(one_token_then_user_data),
            ..Scenario::base("aws-slow-server", "every answer 1.5 s late, 10 s budget: success")
        },
        Scenario {
            mock: Some(|o| {
                o.fail_first = 2;
                o.fail_status = 503;
            }),
            extra: Some(recovered_after_failures),
            ..Scenario::base("aws-503-twice", "first two requests 503: retried, success")
        },
        Scenario {
            mock: Some(|o| {
                o.fail_first = 1;
                o.fail_status = 429;
                o.retry_after = Some(1);
            }),
            extra: Some(recovered_after_failures),
            ..Scenario::base("aws-429-retry-after", "first request 429 with Retry-After: 1: retried, success")
        },
        Scenario {
            platform: Platform::Akamai,
            platform_from: PlatformFrom::Cmdline,
            ..Scenario::base("akamai-from-cmdline", "platform from ignition.platform.id=akamai in --cmdline FILE")
        },
        Scenario {
            payload: Payload::LargeGzip,
            args: &["--max-size", "100K"],
            exit: 5,
            ..Scenario::base("aws-max-size", "--max-size 100K below the ~280 KB decoded size: exit 5")
        },
        Scenario {
            output_at: OutputAt::UnderAFile,
            exit: 6,
            error_phase: Some("write"),
            ..Scenario::base("aws-output-unwritable", "output directory is a regular file: exit 6")
        },
        Scenario {
            platform_from: PlatformFrom::KernelArgs,
            ..Scenario::base(
                "kernel-args-only",
                "all options as flint.* kernel arguments; flint.platform beats ignition.platform.id",
            )
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            args: &["--address", "link-local"],
            ..Scenario::base("aws-address-link-local", "--address link-local: no DHCP wait at all")
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            mock: None,
            args: &["--address", "dhcp"],
            budget: 4.0,
            exit: 4,
            ..Scenario::base("dhcp-only-no-server", "--address dhcp, no DHCP server: no link-local fallback, exit 4")
        },
        Scenario {
            mock: Some(|o| o.no_token_api = true),
            extra: Some(imdsv1_fallback),
            ..Scenario::base("aws-imdsv1-fallback", "token PUT answers 404: user-data fetched without a token")
        },
        Scenario {
            mock: Some(|o| o.truncate = true),
            payload: Payload::LargeGzip,
            budget: 4.0,
            exit: 4,
            or_exit: Some(5),
            ..Scenario::base(
                "aws-truncated-body",
                "Content-Length promises more than arrives: exit 4 or 5, nothing written",
            )
        },
        Scenario {
            platform_from: PlatformFrom::Nowhere,
            dhcp_server: false,
            mock: None,
            exit: 2,
            error_phase: Some("args"),
            ..Scenario::base("usage-no-platform", "no --platform and none on the kernel command line: exit 2")
        },
    ]
}

// --- scenario-specific checks ----------------------------------------------------------

fn one_token_then_user_data(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let puts = r.requests("PUT", "/api/token");
    let gets = r.requests("GET", "/user-data");
    if puts.len() != 1 || r.tokens.len() != 1 {
        bad.push(format!("expected exactly one token PUT, mock saw {} (issued {})", puts.len(), r.tokens.len()));
    }
    if gets.len() != 1 || !gets.iter().all(|g| g.token_sent && g.token_valid && g.status == 200) {
        bad.push("expected one user-data GET carrying the valid token".into());
    }
    bad
}

fn gzip_fits_aws_limit(r: &Run) -> Vec<String> {
    // The point of the scenario: what AWS would store is under its limit.
    match r.log.iter().find(|e| e.path.ends_with("/user-data") && e.status == 200) {
        Some(e) if e.bytes < payloads::AWS_USER_DATA_LIMIT => Vec::new(),
        Some(e) => vec![format!("served gzip is {} B, over AWS's 16 KB limit: fix the payload", e.bytes)],
        None => vec!["mock never served user-data".into()],
    }
}

fn akamai_accept_ok(r: &Run) -> Vec<String> {
    r.requests("GET", "/v1/user-data")
        .iter()
        .filter(|e| e.status == 406)
        .map(|e| format!("user-data GET refused for its Accept header: {:?}", e.accept))
        .collect()
}

fn stale_token_recovered(r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let puts = r.requests("PUT", "/api/token");
    let gets = r.requests("GET", "/user-data");
    if r.tokens.len() != 2 || puts.len() != 2 {
        bad.push(format!(
            "expected the token to be fetched twice, mock issued {} on {} PUT(s)",
            r.tokens.len(),
            puts.len()
        ));
    }
    let statuses: Vec<u16> = gets.iter().map(|g| g.status).collect();
    if statuses != [401, 200] {
        bad.push(format!("expected user-data GETs 401 then 200, got {statuses:?}"));
    }
    bad
}

fn imdsv1_fallback(r: &Run) -> Vec<String> {
    // Every GET, not just one: after the 404 no request may carry a token header at all.
    let gets = r.requests("GET", "/user-data");
    if !gets.is_empty() && gets.iter().all(|g| !g.token_sent) && gets.iter().any(|g| g.status == 200) {
        Vec::new()
    } else {
        vec!["expected only tokenless user-data GETs (one answered 200) after the token endpoint's 404".into()]
    }
}

fn user_data_404_seen(r: &Run) -> Vec<String> {
    if r.requests("GET", "/user-data").iter().any(|e| e.status == 404) {
        Vec::new()
    } else {
        vec!["mock never answered 404 for user-data".into()]
    }
}

fn recovered_after_failures(r: &Run) -> Vec<String> {
    let failed = r.log.iter().take_while(|e| e.status == 503 || e.status == 429).count();
    let mut bad = Vec::new();
    if failed == 0 {
        bad.push("mock log does not start with the scripted failures".into());
    }
    if !r.requests("GET", "/user-data").iter().any(|e| e.status == 200) {
        bad.push("no successful user-data GET after the failures".into());
    }
    bad
}

// --- running -----------------------------------------------------------------------------

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
        Platform::Aws => f.len(),
        Platform::Akamai => base64::engine::general_purpose::STANDARD.encode(f).len(),
    });
    Prepared { file, decoded, served_len }
}

/// Outcome of one flint execution in the client namespace.
pub struct FlintRun {
    pub exit: Option<i32>,
    pub elapsed: Duration,
    pub stderr: String,
}

/// Runs flint (already built) in the client namespace with `args`, stdout/stderr into `dir`,
/// killing it if it outlives `limit`.
pub fn run_flint(
    topo: &Topology,
    flint: &Path,
    args: &[String],
    dir: &Path,
    limit: Duration,
) -> Result<FlintRun, String> {
    run_flint_cmd(topo.in_client(flint), args, dir, limit)
}

/// `run_flint` for a command that already names flint (e.g. wrapped to enter a mount namespace).
pub(crate) fn run_flint_cmd(mut cmd: std::process::Command, args: &[String], dir: &Path, limit: Duration) -> Result<FlintRun, String> {
    let stderr_path = dir.join("flint-stderr.txt");
    let stdout_path = dir.join("flint-stdout.txt");
    cmd.args(args)
        .stdin(Stdio::null())
        .stdout(File::create(&stdout_path).map_err(|e| e.to_string())?)
        .stderr(File::create(&stderr_path).map_err(|e| e.to_string())?);
    let start = Instant::now();
    let mut child = ChildGuard::spawn(&mut cmd, "flint")?;
    let status = child.wait_timeout(limit);
    let elapsed = start.elapsed();
    if status.is_none() {
        child.kill();
    }
    Ok(FlintRun {
        exit: status.map(proc::exit_code),
        elapsed,
        stderr: std::fs::read_to_string(&stderr_path).unwrap_or_default(),
    })
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

pub(crate) fn list_dir(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Runs one scenario; `Err` lists every failed check (plus context for the reader).
pub(crate) fn run_one(s: &Scenario, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
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
    match run.exit {
        None => bad.push(format!("flint still running after {:?}: killed", budget + HARD_EXTRA)),
        Some(code) if code != s.exit && Some(code) != s.or_exit => bad.push(match s.or_exit {
            Some(alt) => format!("exit code {code}, expected {} or {alt}", s.exit),
            None => format!("exit code {code}, expected {}", s.exit),
        }),
        _ => {}
    }
    if run.elapsed > budget + SLACK {
        bad.push(format!(
            "took {:.2} s, budget {:.1} s (+{:.1} s slack)",
            run.elapsed.as_secs_f64(),
            s.budget,
            SLACK.as_secs_f64()
        ));
    }

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
                let served_requests =
                    if mock_opts.is_some() && s.mock_after.is_zero() && !fixture.lossy { Some(run.log.len()) } else { None };
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
                };
                bad.extend(report::check(&v, &e));
            }
            Err(e) => bad.push(format!("report {}: {e}", report_path.display())),
        }
    }

    // stderr format; no secrets in any stream the run produced.
    bad.extend(check_stderr(&run, s));
    bad.extend(check_secrets(dir, &run.tokens, &marker));
    if let Some(extra) = s.extra {
        bad.extend(extra(&run));
    }

    if bad.is_empty() {
        Ok(run.elapsed)
    } else {
        bad.push(format!("flint {}", args.join(" ")));
        bad.push(format!("flint stderr:\n{}", util::indent(&util::tail(&run.stderr, 25))));
        if !run.log.is_empty() {
            let lines: Vec<String> = run.log.iter().map(|e| e.to_string()).collect();
            bad.push(format!("mock log:\n{}", util::indent(&lines.join("\n"))));
        }
        Err(bad)
    }
}

/// Files of a scenario directory that hold the secrets by design: the payload the mock
/// serves, the tokens it issued (both inputs of the checks) and flint's output directory.
const SECRET_HOLDERS: [&str; 3] = ["payload.bin", "mock-tokens.txt", "out"];

/// Every other file of the run — flint's stderr and stdout, the report, the mock's request log
/// and stderr (also the decoy's), dnsmasq's log — must hold neither an issued token (its first
/// 16 bytes) nor the marker hidden in the user-data.
pub(crate) fn check_secrets(dir: &Path, tokens: &[String], marker: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Bounded: the scenario directory is a few levels deep at most.
    for _ in 0..64 {
        let Some(d) = pending.pop() else { break };
        for entry in std::fs::read_dir(&d).into_iter().flatten().filter_map(|e| e.ok()) {
            let path = entry.path();
            if SECRET_HOLDERS.iter().any(|h| entry.file_name() == *h) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
            let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            if holds(marker.as_bytes()) {
                bad.push(format!("{name} contains user-data bytes (the marker)"));
            }
            if tokens.iter().any(|t| holds(&t.as_bytes()[..t.len().min(16)])) {
                bad.push(format!("{name} contains a metadata token"));
            }
        }
    }
    bad
}

pub(crate) fn check_stderr(run: &Run, s: &Scenario) -> Vec<String> {
    let mut bad = Vec::new();
    let mut error_phases = Vec::new();
    for line in run.stderr.lines().filter(|l| !l.trim().is_empty()) {
        let Some(rest) = line.strip_prefix("flint: ") else {
            bad.push(format!("stderr line not in `flint: <phase>: …` form: {line:?}"));
            continue;
        };
        let (is_error, rest) = match rest.strip_prefix("error: ") {
            Some(r) => (true, r),
            None => (false, rest),
        };
        let phase = rest.split(':').next().unwrap_or("");
        if !PHASES.contains(&phase) {
            bad.push(format!("stderr line with unknown phase {phase:?}: {line:?}"));
        }
        if is_error {
            error_phases.push(phase.to_string());
        }
    }
    if s.exit != 0 && s.exit != 3 && error_phases.is_empty() {
        bad.push("failed without a `flint: error: <phase>: <reason>` line".into());
    }
    // One failure, one error line (a full filesystem once logged two).
    if error_phases.len() > 1 {
        bad.push(format!("{} error lines for one failure: {error_phases:?}", error_phases.len()));
    }
    if let Some(want) = s.error_phase {
        if !error_phases.iter().any(|p| p == want) {
            bad.push(format!("expected an error in phase `{want}`, saw {error_phases:?}"));
        }
    }
    bad
}

/// Runs the selected scenarios, one line each; returns (passed, failed).
pub fn run_selected(filter: Option<&str>, keep: bool) -> Result<(usize, usize), String> {
    run_list(all(), filter, keep)
}

/// Runs the scenarios of `list` whose name contains `filter`, one line each; (passed, failed).
pub(crate) fn run_list(list: Vec<Scenario>, filter: Option<&str>, keep: bool) -> Result<(usize, usize), String> {
    let flint = runner_ready("the end-to-end scenarios")?;
    let selected: Vec<Scenario> = list.into_iter().filter(|s| filter.is_none_or(|f| s.name.contains(f))).collect();
    if selected.is_empty() {
        return Err(format!("no scenario matches {filter:?}"));
    }
    run_table(&selected, &flint, keep)
}

/// What every scenario runner needs first: root, a built flint (returned), no stale namespaces.
pub(crate) fn runner_ready(what: &str) -> Result<PathBuf, String> {
    util::require_root(what)?;
    let flint = util::flint_under_test();
    if !flint.exists() {
        return Err(format!("{} not found: run `cargo xtask build` first", flint.display()));
    }
    cleanup::remove_stale();
    Ok(flint)
}

/// Runs every scenario of `selected` with `flint`; (passed, failed).
pub(crate) fn run_table(selected: &[Scenario], flint: &Path, keep: bool) -> Result<(usize, usize), String> {
    run_each(selected, |s| (s.name, s.about), 24, "scenario", keep, |s, dir| run_one(s, flint, dir))
}

/// What a passed case reports on its `ok` line: flint's time, or a summary of its own (the
/// signal runs of `faults_http`).
pub trait Passed {
    fn line(&self) -> String;
}

impl Passed for Duration {
    fn line(&self) -> String {
        format!("flint {:>6.3} s", self.as_secs_f64())
    }
}

impl Passed for String {
    fn line(&self) -> String {
        self.clone()
    }
}

/// Runs `cases` one after the other, each in its own scratch directory (kept when the case
/// fails, or with `keep`), printing an `ok` line with flint's time (or the case's summary) and
/// the case's, or the failure block. `run` returns that time or the problems found. Returns
/// (passed, failed).
pub fn run_each<T, P: Passed>(
    cases: &[T],
    name_about: impl Fn(&T) -> (&'static str, &'static str),
    width: usize,
    noun: &str,
    keep: bool,
    run: impl Fn(&T, &Path) -> Result<P, Vec<String>>,
) -> Result<(usize, usize), String> {
    let (mut passed, mut failed) = (0, 0);
    for c in cases {
        let (name, about) = name_about(c);
        let mut dir = util::ScratchDir::new(name)?;
        let started = Instant::now();
        match run(c, dir.path()) {
            Ok(done) => {
                passed += 1;
                println!(
                    "ok   {name:<width$} {}, {noun} {:>5.2} s  {about}",
                    done.line(),
                    started.elapsed().as_secs_f64(),
                );
                if keep {
                    dir.keep();
                }
            }
            Err(problems) => {
                failed += 1;
                dir.keep();
                util::print_failure(&format!("{name:<width$}"), about, &problems, dir.path());
            }
        }
    }
    Ok((passed, failed))
}

/// `cargo xtask e2e [FILTER] [--keep]`
pub fn e2e_cli(args: &[String]) -> Result<(), String> {
    cli_with(args, run_selected)
}

/// `run(filter, keep)` → (passed, failed)
pub(crate) type Runner = fn(Option<&str>, bool) -> Result<(usize, usize), String>;

/// A `[FILTER] [--keep]` task over `run(filter, keep)`: tools, the runs, `N passed, N failed`.
pub(crate) fn cli_with(args: &[String], run: Runner) -> Result<(), String> {
    cli_over(args, run)
}

/// `[FILTER] [--keep]` over a list of scenarios (`faults-net`).
pub(crate) fn list_cli(list: fn() -> Vec<Scenario>, args: &[String]) -> Result<(), String> {
    cli_over(args, |filter, keep| run_list(list(), filter, keep))
}

fn cli_over(args: &[String], run: impl FnOnce(Option<&str>, bool) -> Result<(usize, usize), String>) -> Result<(), String> {
    let keep = args.iter().any(|a| a == "--keep");
    let filter = args.iter().find(|a| !a.starts_with("--")).map(String::as_str);
    deps::ensure()?;
    let (passed, failed) = run(filter, keep)?;
    println!("{passed} passed, {failed} failed");
    if failed == 0 { Ok(()) } else { Err(format!("{failed} scenario(s) failed")) }
}

/// Pass/fail tally printed one line per step, closed by `N passed, N failed`.
#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
}

impl Tally {
    fn step(&mut self, name: &str, ok: bool, detail: &str) {
        if ok {
            self.passed += 1;
            println!("ok   {name:<24} {detail}");
        } else {
            self.failed += 1;
            println!("FAIL {name:<24} {detail}");
        }
    }
}

/// `cargo xtask test`: tools, unit tests, build, scenarios. Each step is one counted line.
pub fn test_all() -> Result<(), String> {
    util::require_root("cargo xtask test")?;
    deps::ensure_qemu()?;
    let mut t = Tally::default();
    for pkg in ["flint", "xtask"] {
        let mut cmd = std::process::Command::new(util::cargo());
        cmd.current_dir(util::root()).args(["test", "-p", pkg]);
        let st = proc::run_inherit(&mut cmd, Duration::from_secs(40 * 60));
        t.step(&format!("unit-tests-{pkg}"), matches!(st, Ok(s) if s.success()), &format!("cargo test -p {pkg}"));
    }
    // Fuzz smoke: every parser's libFuzzer target for a few seconds (fuzz/, docs/fuzzing.md).
    for (name, ok, detail) in crate::fuzz::smoke() {
        t.step(&name, ok, &detail);
    }
    let built = build_task::run();
    match &built {
        Ok(b) => t.step("build", true, &format!("{} bytes, fully static", b.size)),
        Err(e) => t.step("build", false, e),
    }
    let budget = build_task::budget_assert_fires();
    t.step(
        "linker-budget-assert",
        budget.is_ok(),
        budget.as_ref().err().map_or("a 4 KiB budget stops the link", |e| e.as_str()),
    );
    if built.is_ok() {
        let (p, f) = run_selected(None, false)?;
        t.passed += p;
        t.failed += f;
        // The HTTP, payload and output half of the fault matrix (docs/faults-http.md).
        let (p, f) = crate::faults_http::run_selected(None, false)?;
        t.passed += p;
        t.failed += f;
        // The network half (docs/faults-net.md) and the 100-instance load test.
        let (p, f) = crate::faults_net::run_selected(None, false)?;
        t.passed += p;
        t.failed += f;
        crate::load::test_step(&mut |name, ok, detail| t.step(name, ok, detail));
        // Boot tests: flint in the initramfs of a real kernel under QEMU.
        match crate::qemu::scenarios::run_selected(&util::flint_under_test(), None, false) {
            Ok((p, f)) => {
                t.passed += p;
                t.failed += f;
            }
            Err(e) => t.step("qemu-tests", false, &e),
        }
        // Ignition and cloud-init reading flint's outputs (issue #4).
        match crate::consumers::run_selected(None, false) {
            Ok((p, f)) => {
                t.passed += p;
                t.failed += f;
            }
            Err(e) => t.step("consumers", false, &e),
        }
        // flint's initramfs-tools hook and scripts (the dracut module boots in qemu-tests).
        match crate::packaging::run(&util::flint_under_test()) {
            Ok((p, f)) => {
                t.passed += p;
                t.failed += f;
            }
            Err(e) => t.step("initramfs-tools", false, &e),
        }
    } else {
        let n = all().len()
            + crate::faults_http::count()
            + crate::faults_net::all().len()
            + crate::qemu::scenarios::load().map_or(1, |s| s.len())
            + crate::consumers::all().len();
        println!("FAIL {:<24} not run: flint did not build", format!("{n} scenarios"));
        t.failed += n;
    }
    println!("{} passed, {} failed", t.passed, t.failed);
    if t.failed == 0 { Ok(()) } else { Err(format!("{} check(s) failed", t.failed)) }
}
