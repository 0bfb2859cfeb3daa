//! The plumbing the config-drive suites (`suites/nocloud`, `suites/openstack`) share to run one
//! case: its directories, its network (no NIC at all, or a veth with or without dnsmasq and
//! the suite's mock), flint run while a late loop device comes, what is read back afterwards,
//! and the checks on exit code and time every case gets.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::Value;

use crate::harness::drive::Loop;
use crate::harness::flint::{FlintRun, HARD_EXTRA, check_exit, check_time, run_flint_cmd};
use crate::harness::handoff::{REPORT, rel};
use crate::harness::netns::{Addressing, Lone, Topology};
use crate::mock::{self, LogEntry};
use crate::support::proc::ChildGuard;
use crate::support::util;

/// The directories of one case under its scenario directory: `drive`, `root` (with `run`,
/// `usr/lib` and `var/lib`, where flint writes) and `logs`.
pub fn case_dirs(dir: &Path) -> Result<(PathBuf, PathBuf, PathBuf), Vec<String>> {
    let (drive_dir, root, logs) = (dir.join("drive"), dir.join("root"), dir.join("logs"));
    for d in [&drive_dir, &logs, &root.join("run"), &root.join("usr/lib"), &root.join("var/lib")] {
        std::fs::create_dir_all(d).map_err(|e| vec![format!("mkdir {}: {e}", d.display())])?;
    }
    Ok((drive_dir, root, logs))
}

/// The network of a run; field order is drop order (the mock and dnsmasq go before the
/// namespaces).
pub struct CaseNet {
    _mock: Option<ChildGuard>,
    _dnsmasq: Option<ChildGuard>,
    pub mock_log: Option<PathBuf>,
    topo: Option<Topology>,
    lone: Option<Lone>,
}

impl CaseNet {
    /// A namespace with only `lo`: no NIC at all.
    pub fn lone() -> Result<CaseNet, String> {
        Ok(CaseNet { _mock: None, _dnsmasq: None, mock_log: None, topo: None, lone: Some(Lone::new()?) })
    }

    /// A veth whose server end has `addressing`'s address, dnsmasq on it when `dhcp`, and the
    /// mock with the options `mock` gives (it may set up the server end first; `None`: no mock).
    pub fn veth(
        addressing: Addressing,
        dhcp: bool,
        logs: &Path,
        mock: impl FnOnce(&Topology) -> Result<Option<mock::Options>, String>,
    ) -> Result<CaseNet, String> {
        let topo = Topology::new(addressing)?;
        let dnsmasq = if dhcp { Some(topo.start_dnsmasq(logs)?) } else { None };
        let (guard, mock_log) = match mock(&topo)? {
            Some(o) => {
                let (guard, o) = mock::start_in(&topo.server, &o, logs)?;
                (Some(guard), o.log)
            }
            None => (None, None),
        };
        Ok(CaseNet { _mock: guard, _dnsmasq: dnsmasq, mock_log, topo: Some(topo), lone: None })
    }

    /// `program` in the client's namespace.
    pub fn command(&self, program: &Path) -> Command {
        match (&self.topo, &self.lone) {
            (Some(t), _) => t.in_client(program),
            (None, Some(l)) => l.exec(program),
            (None, None) => Command::new(program),
        }
    }

    /// The test NIC's MAC (`None`: no NIC).
    pub fn mac(&self) -> Option<&str> {
        self.topo.as_ref().map(|t| t.client_mac.as_str())
    }

    /// The mock's request log as it is now (empty without a mock).
    pub fn read_log(&self) -> Result<Vec<LogEntry>, String> {
        self.mock_log.as_deref().map(mock::read_log).transpose().map(Option::unwrap_or_default)
    }
}

/// flint (`args`) in the case's network, within the budget and `HARD_EXTRA`; with `script`,
/// in a private mount namespace through `sh -c script sh SCRIPT_ARGS… flint ARGS…`.
pub fn run_flint(
    net: &CaseNet,
    flint: &Path,
    args: &[String],
    script: Option<(&str, Vec<String>)>,
    logs: &Path,
    budget: Duration,
) -> Result<FlintRun, String> {
    match script {
        Some((script, script_args)) => {
            let mut wrapped: Vec<String> = ["--mount", "--propagation", "private", "sh", "-c", script, "sh"]
                .iter()
                .map(|s| s.to_string())
                .collect();
            wrapped.extend(script_args);
            wrapped.push(flint.display().to_string());
            wrapped.extend(args.iter().cloned());
            run_flint_cmd(net.command(&util::tool("unshare")), &wrapped, logs, budget + HARD_EXTRA)
        }
        None => run_flint_cmd(net.command(flint), args, logs, budget + HARD_EXTRA),
    }
}

/// `run` while, when `late` says so, `image` is attached as a loop device that long after the
/// start (a CD-ROM whose driver is still loading); the device is kept attached for the checks.
pub fn with_late_loop<R>(
    late: Option<(Duration, PathBuf)>,
    run: impl FnOnce() -> R,
) -> (R, Result<Option<Loop>, String>) {
    std::thread::scope(|sc| {
        let late = late.map(|(after, img)| {
            sc.spawn(move || {
                std::thread::sleep(after);
                Loop::attach(&img)
            })
        });
        let r = run();
        (r, late.map(|h| h.join().unwrap_or_else(|_| Err("late loop device: thread panicked".into()))).transpose())
    })
}

/// What every config-drive case's run observed, for the checks; each suite's `Run` adds its
/// own and derefs to this.
pub struct Observed {
    pub exit: Option<i32>,
    pub elapsed: Duration,
    pub stderr: String,
    /// The mock's request log when flint had exited.
    pub log: Vec<LogEntry>,
    pub root: PathBuf,
    pub dir: PathBuf,
    /// The report flint wrote, when it is JSON.
    pub report: Option<Value>,
    /// The loop device the drive was on (scan cases).
    pub device: Option<String>,
}

impl Observed {
    /// flint's run, the mock's log, and the report read back from under `root`.
    pub fn new(fr: FlintRun, log: Vec<LogEntry>, root: &Path, dir: &Path, device: Option<String>) -> Observed {
        let report = std::fs::read(root.join(rel(REPORT))).ok().and_then(|b| serde_json::from_slice(&b).ok());
        Observed {
            exit: fr.exit,
            elapsed: fr.elapsed,
            stderr: fr.stderr,
            log,
            root: root.to_path_buf(),
            dir: dir.to_path_buf(),
            report,
            device,
        }
    }
}

/// The exit code within the hard limit, the time within the budget and, where the case says
/// so, within `within` seconds (`why` says why so soon).
pub fn check_exit_and_time(
    exit: Option<i32>,
    elapsed: Duration,
    want: i32,
    budget: f64,
    within: Option<f64>,
    why: &str,
) -> Vec<String> {
    let budget = Duration::from_secs_f64(budget);
    let mut bad = check_exit(exit, want, None, budget + HARD_EXTRA);
    bad.extend(check_time(elapsed, budget));
    if let Some(max) = within.filter(|&m| elapsed.as_secs_f64() > m) {
        bad.push(format!("took {:.2} s{why}, expected within {max} s", elapsed.as_secs_f64()));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The exit-and-time check fails on a wrong exit code and on a run slower than `within`.
    #[test]
    fn exit_and_time_bite() {
        let fast = Duration::from_millis(100);
        assert_eq!(check_exit_and_time(Some(0), fast, 0, 5.0, Some(2.0), ""), Vec::<String>::new());
        assert_eq!(check_exit_and_time(Some(4), fast, 0, 5.0, None, "").len(), 1);
        let slow = check_exit_and_time(Some(0), Duration::from_secs(3), 0, 5.0, Some(2.0), ": x");
        assert_eq!(slow, ["took 3.00 s: x, expected within 2 s"]);
    }
}
