//! Running flint under test: one execution in a namespace, bounded, with its stderr and
//! stdout kept in the case's directory; what every runner checks before it starts, and after:
//! the exit code, the time within the budget, and the case's verdict.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::Topology;
use crate::mock::LogEntry;
use crate::support::proc::{self, ChildGuard};
use crate::support::{cleanup, util};

/// flint must be gone this long after its own budget, else it is killed and the run fails.
pub const HARD_EXTRA: Duration = Duration::from_secs(10);
/// Allowed overrun of the budget, measured from outside (spawn, `ip netns exec`, exit).
pub const SLACK: Duration = Duration::from_millis(1500);

/// What every scenario runner needs first: root, a built flint (returned: `$FLINT_BIN` or the
/// release build), no stale namespaces.
pub fn runner_ready(what: &str) -> Result<PathBuf, String> {
    util::require_root(what)?;
    let flint = util::flint_under_test();
    if !flint.exists() {
        return Err(format!("{} not found: run `cargo xtask build` first", flint.display()));
    }
    cleanup::remove_stale();
    Ok(flint)
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
pub fn run_flint_cmd(mut cmd: Command, args: &[String], dir: &Path, limit: Duration) -> Result<FlintRun, String> {
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

/// The exit code against the expected one (`or_exit`: another one the case allows); `None`
/// means flint was killed at `limit`.
pub fn check_exit(exit: Option<i32>, want: i32, or_exit: Option<i32>, limit: Duration) -> Vec<String> {
    match exit {
        None => vec![format!("flint still running after {limit:?}: killed")],
        Some(code) if code != want && Some(code) != or_exit => vec![match or_exit {
            Some(alt) => format!("exit code {code}, expected {want} or {alt}"),
            None => format!("exit code {code}, expected {want}"),
        }],
        _ => Vec::new(),
    }
}

/// The run took no longer than its budget and `SLACK`.
pub fn check_time(elapsed: Duration, budget: Duration) -> Vec<String> {
    if elapsed > budget + SLACK {
        vec![format!(
            "took {:.2} s, budget {:.1} s (+{:.1} s slack)",
            elapsed.as_secs_f64(),
            budget.as_secs_f64(),
            SLACK.as_secs_f64()
        )]
    } else {
        Vec::new()
    }
}

/// A case's outcome: its time when nothing is `bad`, else the problems followed by flint's
/// command line, the end of its stderr and the mock's request log (when it logged anything).
pub fn verdict(
    mut bad: Vec<String>,
    elapsed: Duration,
    args: &[String],
    stderr: &str,
    log: &[LogEntry],
) -> Result<Duration, Vec<String>> {
    if bad.is_empty() {
        return Ok(elapsed);
    }
    bad.push(format!("flint {}", args.join(" ")));
    bad.push(format!("flint stderr:\n{}", util::indent(&util::tail(stderr, 25))));
    if !log.is_empty() {
        let lines: Vec<String> = log.iter().map(|e| e.to_string()).collect();
        bad.push(format!("mock log:\n{}", util::indent(&lines.join("\n"))));
    }
    Err(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exit_time_and_verdict() {
        let limit = Duration::from_secs(20);
        assert!(check_exit(Some(4), 4, None, limit).is_empty());
        assert!(check_exit(Some(0), 4, Some(0), limit).is_empty());
        assert_eq!(check_exit(Some(5), 4, Some(0), limit), ["exit code 5, expected 4 or 0"]);
        assert_eq!(check_exit(None, 0, None, limit), ["flint still running after 20s: killed"]);
        let budget = Duration::from_secs(10);
        assert!(check_time(budget + SLACK, budget).is_empty());
        assert_eq!(check_time(Duration::from_secs(12), budget), ["took 12.00 s, budget 10.0 s (+1.5 s slack)"]);
        assert_eq!(verdict(Vec::new(), budget, &[], "", &[]), Ok(budget));
        let bad = verdict(vec!["x".into()], budget, &["--platform".into(), "aws".into()], "flint: a\n", &[]);
        assert_eq!(bad.unwrap_err()[..2], ["x", "flint --platform aws"]);
    }
}
