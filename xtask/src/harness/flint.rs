//! Running flint under test: one execution in a namespace, bounded, with its stderr and
//! stdout kept in the case's directory, and what every runner checks before it starts.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::netns::Topology;
use crate::support::proc::{self, ChildGuard};
use crate::support::{cleanup, util};

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
