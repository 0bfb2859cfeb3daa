//! Installs the host tools the end-to-end tests, the boot tests and the benchmarks need,
//! when missing. Non-interactive so it works as root on a fresh Debian machine and in CI.

use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::{proc, util};

/// (program looked up, Debian package providing it). `dnsmasq-base` rather than `dnsmasq`:
/// the binary without the system service, which on a systemd host would start a resolver.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("tc", "iproute2"),
    ("dnsmasq", "dnsmasq-base"),
    ("busybox", "busybox-static"),
    ("curl", "curl"),
];

/// What `qemu-test`, `initramfs`, `bench --qemu` and the QEMU demo need on top: QEMU itself,
/// `xz` (vmlinux extraction), `depmod` (the kernel package ships no modules.dep), `dpkg`
/// and `apt-cache` (kernel download), `cpio` (only the archive writer's cross-check test).
const QEMU_TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("xz", "xz-utils"),
    ("depmod", "kmod"),
    ("dpkg", "dpkg"),
    ("apt-cache", "apt"),
    ("cpio", "cpio"),
];

static UPDATED: AtomicBool = AtomicBool::new(false);

fn apt(args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new("apt-get");
    cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
    let st = proc::run_inherit(&mut cmd, Duration::from_secs(15 * 60))?;
    if st.success() { Ok(()) } else { Err(format!("apt-get {} failed ({st})", args.join(" "))) }
}

/// `apt-get update`, at most once per xtask run.
pub fn apt_update_once() -> Result<(), String> {
    if UPDATED.swap(true, Ordering::SeqCst) {
        return Ok(());
    }
    util::require_root("apt-get update")?;
    apt(&["update", "-q"])
}

/// The initramfs needs a static busybox: the Debian `busybox` package is dynamic and would
/// not run in a guest without a libc; `busybox-static` replaces it.
pub fn static_busybox() -> Option<std::path::PathBuf> {
    let p = util::which("busybox")?;
    let bytes = std::fs::read(&p).ok()?;
    crate::elf::parse(&bytes).ok().filter(|i| i.is_static()).map(|_| p)
}

fn ensure_set(tools: &[(&str, &str)], need_static_busybox: bool) -> Result<(), String> {
    let missing_now = || {
        let mut m: Vec<&str> =
            tools.iter().filter(|(bin, _)| util::which(bin).is_none()).map(|&(_, pkg)| pkg).collect();
        if need_static_busybox && static_busybox().is_none() && !m.contains(&"busybox-static") {
            m.push("busybox-static");
        }
        m
    };
    let missing = missing_now();
    if missing.is_empty() {
        return Ok(());
    }
    util::require_root(&format!("installing {}", missing.join(" ")))?;
    eprintln!("xtask: installing {}", missing.join(" "));
    apt_update_once()?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)?;
    let still = missing_now();
    if still.is_empty() { Ok(()) } else { Err(format!("still missing after install: {}", still.join(" "))) }
}

pub fn ensure() -> Result<(), String> {
    ensure_set(TOOLS, false)
}

/// Everything `ensure` installs plus the QEMU boot-test tools.
pub fn ensure_qemu() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS.iter().chain(QEMU_TOOLS).copied().collect();
    ensure_set(&all, true)
}
