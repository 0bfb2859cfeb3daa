//! The dual-stack suite (issue #11, `cargo xtask dualstack [FILTER] [--keep]`): flint on
//! IPv6-only, dual-stack and IPv4-only links built from real daemons — Debian's dnsmasq sending
//! RAs (`ra-only`, `ra-stateless`, a DHCPv6 range), DHCPv6 and DHCPv4 with DNS options, and
//! answering DNS (`host-record=`, authoritative for `example.internal`) — the metadata mocks
//! listening on IPv6, the suite's own DNS server for truncated and unanswered queries
//! (`mock::dns`), nft rules that silently drop one family, and a peer that already holds flint's
//! link-local address.
//!
//! Each case builds its segment (`netns::Segment`: server bridge, flint's namespace, a probe
//! namespace), proves every piece of the fixture from the probe with the kernel's own IPv6 and
//! stock tools before flint runs (`fixture::self_check`: "fixture: …" problems mean the
//! fixture is wrong, not flint), runs flint once with `--root`, and holds the run to the checks
//! every run gets (exit code, time within the budget, output bytes and mode or nothing, no stray
//! files, the report, the stderr format with the `dns` phase, no user-data bytes or token in any
//! log) plus the issue's: the report's `addresses`, `dns_servers`, `search` and `endpoint`, the
//! request line and `Host` the mock saw, the time a dead family may cost, the drop counters, the
//! client's `disable_ipv6` put back, and for some cases what the capture shows.

mod case;
mod cases;
mod checks;
mod fixture;

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;

use crate::harness::checks::check_secrets;
use crate::harness::flint::{FlintRun, HARD_EXTRA, run_flint_cmd, runner_ready, verdict};
use crate::harness::handoff::rel;
use crate::harness::netns::{self, CLIENT_IF, Segment};
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::dns::read_dns_log;
use crate::mock::{self, LogEntry, payloads};
use crate::support::proc::ChildGuard;
use crate::support::{deps, util};
use case::{Case, OUTPUT, REPORT, Run};
use fixture::{Fixture, SELF_CHECK_PATH};

pub const SUITE: Suite = Suite { name: "dualstack", needs_flint: true, gate: false, run, cases: || cases::all().len() };

const BOOT: &str =
    "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0b3c6d1e-5f7a-4c2b-9d8e-1a2b3c4d5e6f ro console=ttyS0,115200n8";

/// Samples, every 20 ms while flint runs, the client's `disable_ipv6`, how many IPv6 addresses
/// the kernel holds on eth0, and eth0's operstate.
/// Samples eth0 every 20 ms: `disable_ipv6`, the kernel's IPv6 addresses there, and "up" only
/// when IFF_UP (`flags`, set synchronously, unlike `operstate`) was set both before and after
/// the other two were read, so a sample taken while flint raises or lowers the NIC cannot
/// pair one state of the NIC with the other's sysctl value.
const SAMPLER: &str = r#"while :; do read f1 < /sys/class/net/eth0/flags; read v < /proc/sys/net/ipv6/conf/eth0/disable_ipv6; n=$(grep -c ' eth0$' /proc/net/if_inet6); read f2 < /sys/class/net/eth0/flags; o=down; [ $((f1 & f2 & 1)) = 1 ] && o=up; echo "$v $n $o"; sleep 0.02; done"#;

fn read_log_filtered(path: Option<&Path>) -> Vec<LogEntry> {
    path.and_then(|p| mock::read_log(p).ok())
        .unwrap_or_default()
        .into_iter()
        .filter(|e| !e.path.starts_with(SELF_CHECK_PATH))
        .collect()
}

/// flint's command line: `--root` and the fixed paths, the `--cmdline` file, the case's own.
fn flint_args(c: &Case, root: &Path, logs: &Path) -> Result<Vec<String>, String> {
    let cmdline = logs.join("cmdline");
    std::fs::write(&cmdline, format!("{BOOT} {} quiet\n", c.cmdline)).map_err(|e| e.to_string())?;
    let mut a: Vec<String> = vec!["--root".into(), root.display().to_string()];
    a.extend(["--cmdline".into(), cmdline.display().to_string()]);
    a.extend(["--output".into(), OUTPUT.into(), "--report".into(), REPORT.into()]);
    a.extend(["--timeout".into(), c.budget.to_string(), "--interface".into(), CLIENT_IF.into()]);
    let named = c.args.contains(&"--url") || c.cmdline.contains("platform") || c.cmdline.contains(".url=");
    if !named {
        a.extend(["--platform".into(), c.platform.into()]);
    }
    a.extend(c.args.iter().map(|s| s.to_string()));
    Ok(a)
}

fn start_sampler(seg: &Segment, logs: &Path) -> Result<(ChildGuard, PathBuf), String> {
    let out = logs.join("samples.txt");
    let f = std::fs::File::create(&out).map_err(|e| e.to_string())?;
    let mut cmd = Segment::exec(&seg.client, util::tool("sh"));
    cmd.args(["-c", SAMPLER]).stdin(Stdio::null()).stdout(f).stderr(Stdio::null());
    Ok((ChildGuard::spawn(&mut cmd, "sampler")?, out))
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let marker = payloads::new_marker();
    let (served, expected) = fixture::payload(c.payload, &marker);
    let (root, logs, capture_dir) = (dir.join("root"), dir.join("logs"), dir.join("capture"));
    for d in [&root.join("run"), &logs, &capture_dir] {
        std::fs::create_dir_all(d).map_err(|e| vec![format!("mkdir {}: {e}", d.display())])?;
    }
    let payload_file = match &served {
        Some(bytes) => {
            let p = logs.join("payload.bin");
            std::fs::write(&p, bytes).map_err(|e| vec![e.to_string()])?;
            Some(p)
        }
        None => None,
    };

    let mut fx = Fixture::build(c, payload_file.as_deref(), &logs).map_err(|e| vec![format!("fixture: {e}")])?;
    let problems = fx.self_check(c, &logs);
    if !problems.is_empty() {
        return Err(problems);
    }
    if c.capture {
        fx.start_capture(&capture_dir).map_err(|e| vec![format!("fixture: {e}")])?;
    }
    let args = flint_args(c, &root, &logs).map_err(|e| vec![e])?;
    std::fs::write(logs.join("flint-args.txt"), args.join(" ")).ok();
    let sampler = if c.sample { Some(start_sampler(&fx.seg, &logs).map_err(|e| vec![e])?) } else { None };
    let budget = Duration::from_secs_f64(c.budget);
    let fr: FlintRun =
        run_flint_cmd(Segment::exec(&fx.seg.client, flint), &args, &logs, budget + HARD_EXTRA).map_err(|e| vec![e])?;
    let samples = match sampler {
        Some((mut g, path)) => {
            g.kill();
            std::fs::read_to_string(path)
                .unwrap_or_default()
                .lines()
                .filter_map(|l| {
                    let mut it = l.split_whitespace();
                    Some((it.next()?.to_string(), it.next()?.parse().ok()?, it.next()?.to_string()))
                })
                .collect()
        }
        None => Vec::new(),
    };
    std::thread::sleep(Duration::from_millis(30));
    let disable_ipv6_after =
        netns::sysctl_read(&fx.seg.client, &format!("net.ipv6.conf.{CLIENT_IF}.disable_ipv6")).unwrap_or_default();
    let capture = if c.capture { fx.capture_text() } else { None };
    let run = Run {
        exit: fr.exit,
        elapsed: fr.elapsed,
        stderr: fr.stderr,
        log: read_log_filtered(fx.mock_log.as_deref()),
        decoy_log: read_log_filtered(fx.decoy_log.as_deref()),
        dns_log: fx.dns_log.as_deref().map(read_dns_log).unwrap_or_default(),
        dnsmasq_log: fx.dnsmasq_log.as_deref().and_then(|p| std::fs::read_to_string(p).ok()).unwrap_or_default(),
        report: std::fs::read(root.join(rel(REPORT))).ok().and_then(|b| serde_json::from_slice(&b).ok()),
        root: root.clone(),
        client_mac: fx.seg.client_mac.clone(),
        probe_mac: fx.seg.probe_mac.clone(),
        capture,
        drop_counters: fx.drop_counters(),
        disable_ipv6_after,
        samples,
        expected,
    };
    let tokens = mock::read_tokens(&logs.join("mock-tokens.txt"));

    let mut bad = checks::exit_and_time(c, &run);
    bad.extend(checks::files(c, &run));
    bad.extend(checks::report(c, &run));
    bad.extend(crate::harness::checks::check_stderr(&run.stderr, c.exit, c.error_phase));
    bad.extend(check_secrets(&logs, &tokens, &marker));
    bad.extend(checks::mock_log(c, &run));
    bad.extend(checks::side_effects(c, &run));
    bad.extend(checks::token_to_get(c, &run));
    if let Some(extra) = c.extra {
        bad.extend(extra(&run));
    }
    drop(fx);
    verdict(bad, run.elapsed, &args, &run.stderr, &run.log)
}

/// Runs the selected cases, one line each, into `t`. Installs the tools first when missing.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the dual-stack scenarios (network namespaces)")?;
    deps::ensure_dualstack()?;
    let flint = runner_ready("the dual-stack scenarios")?;
    let selected = sel.pick(cases::all(), |c| c.name, "dual-stack case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 30, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_failures_name_their_phase() {
        let all = cases::all();
        let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for c in &all {
            assert!(c.exit == 0 || c.exit == 3 || c.error_phase.is_some(), "{} names no error phase", c.name);
            assert!(c.success() != c.endpoint.is_empty() || c.exit == 3, "{}: an endpoint iff success", c.name);
        }
    }

    #[test]
    fn args_name_the_platform_once() {
        let root = Path::new("/r");
        let dir = std::env::temp_dir().join(format!("flint-dualstack-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        for c in cases::all() {
            let a = flint_args(&c, root, &dir).unwrap();
            let platforms = a.iter().filter(|x| *x == "--platform").count();
            let url = a.iter().any(|x| x == "--url") || c.cmdline.contains("url=");
            assert!(platforms + usize::from(url) >= 1, "{}: neither --platform nor a URL", c.name);
        }
        std::fs::remove_dir_all(&dir).ok();
    }
}
