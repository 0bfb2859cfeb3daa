//! Installs the host tools the end-to-end tests and the benchmark need, when missing.
//! Non-interactive so it works as root on a fresh Debian machine and in CI.

use std::process::Command;
use std::time::Duration;

use crate::{proc, util};

/// (program looked up, Debian package providing it). `dnsmasq-base` rather than `dnsmasq`:
/// the binary without the system service, which on a systemd host would start a resolver.
const TOOLS: &[(&str, &str)] =
    &[("ip", "iproute2"), ("dnsmasq", "dnsmasq-base"), ("busybox", "busybox-static"), ("curl", "curl")];

pub fn ensure() -> Result<(), String> {
    let missing: Vec<&str> = TOOLS.iter().filter(|(bin, _)| util::which(bin).is_none()).map(|&(_, pkg)| pkg).collect();
    if missing.is_empty() {
        return Ok(());
    }
    util::require_root(&format!("installing {}", missing.join(" ")))?;
    eprintln!("xtask: installing {}", missing.join(" "));
    let apt = |args: &[&str]| -> Result<(), String> {
        let mut cmd = Command::new("apt-get");
        cmd.args(args).env("DEBIAN_FRONTEND", "noninteractive");
        let st = proc::run_inherit(&mut cmd, Duration::from_secs(15 * 60))?;
        if st.success() { Ok(()) } else { Err(format!("apt-get {} failed ({st})", args.join(" "))) }
    };
    apt(&["update", "-q"])?;
    let mut args = vec!["install", "-y", "-q", "--no-install-recommends"];
    args.extend(&missing);
    apt(&args)?;
    let still: Vec<&str> = TOOLS.iter().filter(|(bin, _)| util::which(bin).is_none()).map(|&(bin, _)| bin).collect();
    if still.is_empty() { Ok(()) } else { Err(format!("still missing after install: {}", still.join(" "))) }
}
