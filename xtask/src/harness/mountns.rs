//! A mount namespace of a run's own, for outputs on a small or read-only tmpfs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::netns::Topology;
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// A mount namespace of the run's own, held open by a `sleep` started with util-linux
/// `unshare`, where the harness mounts a tmpfs over flint's output directory (a small one: a
/// full filesystem; a read-only one). The host's mounts are never touched: the namespace, and
/// the tmpfs with it, vanish when the holder dies (its `ChildGuard`, or the panic hook, which
/// kills every registered pid). flint runs inside through `nsenter`; the harness reads the
/// output directory through `/proc/<holder>/root`.
pub struct MountNs {
    holder: ChildGuard,
}

impl MountNs {
    pub fn with_tmpfs(dir: &Path, options: &str) -> Result<Self, String> {
        // "slave": mounts the host makes later still propagate in, ours never propagate out.
        // The run's /run/netns entries exist already (the topology is made first) and are
        // copied when the namespace is created.
        let mut cmd = Command::new(util::tool("unshare"));
        cmd.args(["--mount", "--propagation", "slave", "sleep", "600"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut holder = ChildGuard::spawn(&mut cmd, "mount namespace holder")?;
        let own = std::fs::read_link("/proc/self/ns/mnt").map_err(|e| format!("/proc/self/ns/mnt: {e}"))?;
        let theirs = format!("/proc/{}/ns/mnt", holder.id());
        let ready = proc::wait_until(Duration::from_secs(5), Duration::from_millis(2), || {
            holder.try_status().is_some() || std::fs::read_link(&theirs).is_ok_and(|l| l != own)
        });
        if !ready || holder.try_status().is_some() {
            return Err("unshare --mount did not start a mount namespace".into());
        }
        let ns = MountNs { holder };
        let mut mount = ns.enter(util::tool("mount"));
        mount.args(["-t", "tmpfs", "-o", options, "flint-out"]).arg(dir);
        proc::run_ok(&mut mount, Duration::from_secs(10))?;
        Ok(ns)
    }

    /// `nsenter --mount=/proc/<holder>/ns/mnt program`
    fn enter(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(util::tool("nsenter"));
        cmd.arg(format!("--mount=/proc/{}/ns/mnt", self.holder.id())).arg(program);
        cmd
    }

    /// `program` in this mount namespace and the topology's client network namespace. Both
    /// `nsenter` and `ip netns exec` exec the program, so the child's pid is flint's.
    pub fn in_client(&self, topo: &Topology, program: &Path) -> Command {
        let mut cmd = self.enter(util::tool("ip"));
        cmd.args(["netns", "exec", &topo.client]).arg(program);
        cmd
    }

    /// Where the harness sees `path` (absolute) as processes in the namespace see it.
    pub fn view(&self, path: &Path) -> PathBuf {
        PathBuf::from(format!("/proc/{}/root{}", self.holder.id(), path.display()))
    }
}
