//! Last-resort cleanup of what the tasks created: network namespaces, child processes and loop
//! devices.
//!
//! Normal exits clean up through `Drop` guards (`netns::Topology`, `proc::ChildGuard`). Two
//! paths bypass them: a panic, because the workspace dev profile is `panic = "abort"` (so no
//! unwinding and no drops), and a kill of xtask itself (Ctrl-C, CI timeout). The guards
//! therefore also register here; the panic hook removes everything still registered, and
//! `remove_stale()` deletes namespaces left behind by an xtask process that no longer exists.

use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Every namespace xtask creates is named `fx-<xtask pid>-<n>-<role>`, so stale ones can be
/// recognised and attributed to a (dead) owner.
pub const NETNS_PREFIX: &str = "fx-";

struct Registry {
    pids: Vec<u32>,
    netns: Vec<String>,
    /// Loop devices (`/dev/loopN`) attached to the config drive images (`harness::drive`).
    loops: Vec<String>,
}

static REGISTRY: Mutex<Registry> = Mutex::new(Registry { pids: Vec::new(), netns: Vec::new(), loops: Vec::new() });

fn with<R>(f: impl FnOnce(&mut Registry) -> R) -> R {
    // A poisoned lock only means a panic happened while holding it; the data is still usable.
    let mut guard = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
    f(&mut guard)
}

pub fn add_pid(pid: u32) {
    with(|r| r.pids.push(pid));
}

pub fn remove_pid(pid: u32) {
    with(|r| r.pids.retain(|&p| p != pid));
}

pub fn add_netns(name: &str) {
    with(|r| r.netns.push(name.to_string()));
}

pub fn remove_netns(name: &str) {
    with(|r| r.netns.retain(|n| n != name));
}

pub fn add_loop(device: &str) {
    with(|r| r.loops.push(device.to_string()));
}

pub fn remove_loop(device: &str) {
    with(|r| r.loops.retain(|d| d != device));
}

pub fn install_panic_hook() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        default(info);
        let (pids, netns, loops) =
            with(|r| (std::mem::take(&mut r.pids), std::mem::take(&mut r.netns), std::mem::take(&mut r.loops)));
        if !pids.is_empty() || !netns.is_empty() || !loops.is_empty() {
            eprintln!(
                "xtask: panic: killing {} process(es), deleting {} namespace(s), detaching {} loop device(s)",
                pids.len(),
                netns.len(),
                loops.len()
            );
        }
        for pid in pids {
            kill9(pid);
        }
        for ns in netns {
            delete_netns(&ns);
        }
        for dev in loops {
            detach_loop(&dev);
        }
    }));
}

/// `losetup -d DEVICE`, bounded.
pub fn detach_loop(device: &str) {
    run_bounded(Command::new(crate::support::util::tool("losetup")).args(["-d", device]));
}

/// Runs a quick helper (kill, ip) for at most 5 s and returns its stdout. Deliberately not
/// `proc::ChildGuard`: this runs inside the panic hook and must not touch the registry.
fn run_bounded(cmd: &mut Command) -> Option<Vec<u8>> {
    let mut child = cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::null()).spawn().ok()?;
    let mut stdout = child.stdout.take()?;
    // `ip netns pids` prints a few numbers: read them on a thread so the wait stays bounded.
    let reader = std::thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = std::io::Read::read_to_end(&mut stdout, &mut buf);
        buf
    });
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match child.try_wait() {
            Ok(Some(_)) => return reader.join().ok(),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(2)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                return None;
            }
        }
    }
}

/// SIGKILL by pid through kill(1): xtask has no libc binding, and this path is rare.
pub fn kill9(pid: u32) {
    run_bounded(Command::new("kill").args(["-KILL", &pid.to_string()]));
}

/// Kills the processes still inside a namespace (ours: it carries our prefix), then deletes it.
pub fn delete_netns(name: &str) {
    let ip = crate::support::util::tool("ip");
    if let Some(out) = run_bounded(Command::new(&ip).args(["netns", "pids", name])) {
        for pid in String::from_utf8_lossy(&out).split_whitespace() {
            if let Ok(pid) = pid.parse::<u32>() {
                kill9(pid);
            }
        }
    }
    run_bounded(Command::new(&ip).args(["netns", "del", name]));
}

/// Is `pid` a running (not zombie) xtask? A reused pid belonging to something else counts
/// as gone, and so does the zombie of a just-killed xtask.
fn is_live_xtask(pid: u32) -> bool {
    let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
        return false;
    };
    // "<pid> (<comm>) <state> …"; comm may contain spaces, so split at the last ')'.
    let (Some(open), Some(close)) = (stat.find('('), stat.rfind(')')) else {
        return false;
    };
    let comm = &stat[open + 1..close];
    let state = stat[close + 1..].split_whitespace().next().unwrap_or("");
    comm == "xtask" && state != "Z" && state != "X"
}

/// Deletes `fx-<pid>-…` namespaces whose owning xtask process is gone (e.g. after Ctrl-C), and
/// detaches loop devices whose image lies in such an xtask's scratch directory.
pub fn remove_stale() {
    remove_stale_loops();
    let ip = crate::support::util::tool("ip");
    let Some(out) = run_bounded(Command::new(&ip).args(["netns", "list"])) else {
        return;
    };
    for line in String::from_utf8_lossy(&out).lines() {
        let Some(name) = line.split_whitespace().next() else { continue };
        let Some(rest) = name.strip_prefix(NETNS_PREFIX) else { continue };
        let Some(owner) = rest.split('-').next().and_then(|p| p.parse::<u32>().ok()) else {
            continue;
        };
        if owner != std::process::id() && !is_live_xtask(owner) {
            eprintln!("xtask: removing stale namespace {name} (owner {owner} is gone)");
            delete_netns(name);
        }
    }
}

/// Loop devices backed by a file in `/tmp/flint-xtask-<pid>-…` (`util::ScratchDir`) of an xtask
/// that no longer runs.
fn remove_stale_loops() {
    let losetup = crate::support::util::tool("losetup");
    let Some(out) = run_bounded(Command::new(&losetup).args(["--list", "--noheadings", "--output", "NAME,BACK-FILE"]))
    else {
        return;
    };
    for line in String::from_utf8_lossy(&out).lines() {
        let mut cols = line.split_whitespace();
        let (Some(dev), Some(file)) = (cols.next(), cols.next()) else { continue };
        let Some(owner) = file
            .split('/')
            .find_map(|part| part.strip_prefix("flint-xtask-"))
            .and_then(|rest| rest.split('-').next())
            .and_then(|pid| pid.parse::<u32>().ok())
        else {
            continue;
        };
        if owner != std::process::id() && !is_live_xtask(owner) {
            eprintln!("xtask: detaching stale loop device {dev} ({file}; owner {owner} is gone)");
            detach_loop(dev);
        }
    }
}
