//! Installs the host tools the end-to-end tests, the boot tests and the benchmarks need,
//! when missing. Non-interactive so it works as root on a fresh Debian machine and in CI.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use crate::support::{proc, util};

/// (program looked up on `$PATH`, or an absolute path checked as is; Debian package providing
/// it). `dnsmasq-base` rather than `dnsmasq`: the binary without the system service, which on a
/// systemd host would start a resolver. `tc` (iproute2) shapes the link in the network faults.
/// `unshare`, `nsenter` and `mount` give the output-fault scenarios a mount namespace with a
/// small or read-only tmpfs (faults_http.rs); Debian ships them, but a slim image may not.
const TOOLS: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("tc", "iproute2"),
    ("dnsmasq", "dnsmasq-base"),
    ("busybox", "busybox-static"),
    ("curl", "curl"),
    ("unshare", "util-linux"),
    ("nsenter", "util-linux"),
    ("mount", "mount"),
];

/// What `qemu-test`, `initramfs`, `bench --qemu` and the QEMU demo need on top: QEMU itself,
/// `xz` (vmlinux extraction), `depmod` (the kernel package ships no modules.dep), `dpkg`
/// and `apt-cache` (kernel download), `cpio` (only the archive writer's cross-check test),
/// dracut, Ignition and initramfs-tools for the packaging tests.
const QEMU_TOOLS: &[(&str, &str)] = &[
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("xz", "xz-utils"),
    ("depmod", "kmod"),
    ("dpkg", "dpkg"),
    ("apt-cache", "apt"),
    ("cpio", "cpio"),
    // The dracut boot test (`qemu/dracut.rs`): dracut-core, not `dracut`, which conflicts
    // with initramfs-tools and adds kernel postinst hooks; Ignition's package ships its
    // dracut module (/usr/lib/dracut/modules.d/30ignition) with the binary.
    ("dracut", "dracut-core"),
    (IGNITION_BIN, "ignition"),
    // The initramfs-tools hook test: mkinitramfs without initramfs-tools' kernel hooks.
    ("mkinitramfs", "initramfs-tools-core"),
    // The host CA bundle the hook and the dracut module put into the image (https).
    ("/etc/ssl/certs/ca-certificates.crt", "ca-certificates"),
    // The dual-stack boots' drop rule on the bridge (`harness/qemu/net.rs`).
    ("nft", "nftables"),
];

/// OpenStack config drives (`harness::drive`): Nova's own image tools (`genisoimage`, and
/// `mkfs.vfat` + `mcopy` for its VFAT drives), `losetup` for the loop devices a scan finds and
/// `blkid` to see that no other config drive is attached.
const DRIVE_TOOLS: &[(&str, &str)] = &[
    ("genisoimage", "genisoimage"),
    ("mkfs.vfat", "dosfstools"),
    ("mcopy", "mtools"),
    ("losetup", "mount"),
    ("blkid", "util-linux"),
];

/// NoCloud `cidata` drives (`harness::cidata`): Debian's `cloud-localds` (cloud-image-utils)
/// on top of the drive tools.
const NOCLOUD_TOOLS: &[(&str, &str)] = &[("cloud-localds", "cloud-image-utils")];

/// The real consumers of flint's outputs (issue #4 consumer tests, `consumers.rs`).
/// Debian ships the Ignition binary only inside its dracut module, not on `$PATH`.
pub const IGNITION_BIN: &str = "/usr/lib/dracut/modules.d/30ignition/ignition";
/// The tests import cloud-init's NoCloud reader with Debian's `/usr/bin/python3` (a
/// dependency of the package), so the module is what must be there, not the CLI.
pub const NOCLOUD_MODULE: &str = "/usr/lib/python3/dist-packages/cloudinit/sources/DataSourceNoCloud.py";
const CONSUMER_PACKAGES: &[(&str, &str)] = &[(IGNITION_BIN, "ignition"), (NOCLOUD_MODULE, "cloud-init")];

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
    crate::support::elf::parse(&bytes).ok().filter(|i| i.is_static()).map(|_| p)
}

fn ensure_set(tools: &[(&str, &str)], need_static_busybox: bool) -> Result<(), String> {
    let missing_now = || {
        let found = |bin: &str| if bin.starts_with('/') { Path::new(bin).exists() } else { util::which(bin).is_some() };
        let mut m: Vec<&str> = tools.iter().filter(|(bin, _)| !found(bin)).map(|&(_, pkg)| pkg).collect();
        // One package can provide several tools (util-linux).
        m.dedup();
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

/// Everything `ensure` installs plus the QEMU boot-test tools (and the drive tools: the
/// OpenStack boots attach config drives).
pub fn ensure_qemu() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS.iter().chain(QEMU_TOOLS).chain(DRIVE_TOOLS).copied().collect();
    ensure_set(&all, true)
}

/// Everything `ensure` installs plus Ignition and cloud-init, for the consumer tests.
pub fn ensure_consumers() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS.iter().chain(CONSUMER_PACKAGES).copied().collect();
    ensure_set(&all, false)
}

/// Everything `ensure` installs plus the drive tools and the consumers, for the OpenStack suite.
pub fn ensure_openstack() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS.iter().chain(DRIVE_TOOLS).chain(CONSUMER_PACKAGES).copied().collect();
    ensure_set(&all, false)
}

/// Everything the OpenStack suite needs plus `cloud-localds`, for the NoCloud suite.
pub fn ensure_nocloud() -> Result<(), String> {
    let all: Vec<(&str, &str)> =
        TOOLS.iter().chain(DRIVE_TOOLS).chain(NOCLOUD_TOOLS).chain(CONSUMER_PACKAGES).copied().collect();
    ensure_set(&all, false)
}

/// Equinix Metal's TLS in the platforms suite: `openssl` makes the CA and the leaf, Debian's
/// `nginx` terminates TLS in front of the mock.
const TLS_FIXTURE_TOOLS: &[(&str, &str)] = &[("openssl", "openssl"), ("nginx", "nginx")];

/// Everything the NoCloud suite needs plus the TLS fixture's tools, for the platforms suite.
pub fn ensure_platforms() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS
        .iter()
        .chain(DRIVE_TOOLS)
        .chain(NOCLOUD_TOOLS)
        .chain(CONSUMER_PACKAGES)
        .chain(TLS_FIXTURE_TOOLS)
        .copied()
        .collect();
    ensure_set(&all, false)
}

/// The dual-stack suite's fixture self-checks: `rdisc6` (ndisc6) reads the RA, `dhclient -6`
/// (isc-dhcp-client) takes a DHCPv6 lease, `dig` (bind9-dnsutils) asks the DNS servers, `nft`
/// (nftables) drops one family, `tcpdump` captures the link, `sysctl` (procps) sets
/// `disable_ipv6`.
const DUALSTACK_TOOLS: &[(&str, &str)] = &[
    ("rdisc6", "ndisc6"),
    ("dhclient", "isc-dhcp-client"),
    ("dig", "bind9-dnsutils"),
    ("nft", "nftables"),
    ("tcpdump", "tcpdump"),
    ("sysctl", "procps"),
];

/// Everything `ensure` installs plus the dual-stack suite's tools.
pub fn ensure_dualstack() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS.iter().chain(DUALSTACK_TOOLS).copied().collect();
    ensure_set(&all, false)
}

/// The https suite: `openssl` makes the CA and runs `s_server`, Debian's `nginx`, `curl` and
/// `dig` prove the fixtures, `ss` sees a server listen, `sha512sum` makes Ignition's hashes,
/// Debian's Python with `venv` holds moto and boto3 from PyPI (Debian 12 has no python3-moto),
/// Ignition reads the resolved configs and cloud-init the resolved seeds.
const HTTPS_TOOLS: &[(&str, &str)] = &[
    ("openssl", "openssl"),
    ("nginx", "nginx"),
    ("dig", "bind9-dnsutils"),
    ("ss", "iproute2"),
    ("sha512sum", "coreutils"),
    ("/usr/bin/python3", "python3"),
    ("/usr/lib/python3.11/ensurepip/__init__.py", "python3-venv"),
    (IGNITION_BIN, "ignition"),
    (NOCLOUD_MODULE, "cloud-init"),
];

/// Everything `ensure` installs plus the https suite's tools.
pub fn ensure_https() -> Result<(), String> {
    let all: Vec<(&str, &str)> = TOOLS.iter().chain(HTTPS_TOOLS).copied().collect();
    ensure_set(&all, false)
}

/// `cargo xtask fuzz` builds libFuzzer (C++) through libfuzzer-sys.
const FUZZ_TOOLS: &[(&str, &str)] = &[("c++", "g++")];

/// The C++ compiler the fuzz build needs.
pub fn ensure_fuzz() -> Result<(), String> {
    ensure_set(FUZZ_TOOLS, false)
}
