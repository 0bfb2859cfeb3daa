//! `cargo xtask initramfs-tools-test`: flint's initramfs-tools integration
//! (`initramfs/initramfs-tools/`), tested with Debian's real `mkinitramfs` and the real
//! boot scripts.
//!
//! 1. **Image**: `mkinitramfs -d <confdir>` with flint's hook and scripts, for the cached
//!    Debian kernel (`kernel.rs`). mkinitramfs only knows `/lib/modules/<version>` and
//!    `/boot/config-<version>`, so it runs in a private mount namespace where the cached
//!    kernel's directories are bind-mounted there; the host's own files are never touched
//!    (an empty `/lib/modules` is created when the host has none, as a mount point). The
//!    unpacked image (`unmkinitramfs`) must hold the binary under test, both scripts in the
//!    `ORDER` of their boot phase, the settings file, and every NIC driver of the hook's list
//!    that this kernel has, with its dependencies.
//! 2. **Boot scripts**: for each case, the unpacked image is the root of a `chroot` inside the
//!    client namespace of an e2e topology (veth, dnsmasq, the AWS mock; `netns.rs`), with a
//!    private tmpfs as the "real root" at `/root`, mounted read-only as initramfs-tools mounts
//!    it. The image's own busybox runs `/scripts/init-premount/flint` (flint fetches for real,
//!    over its own stack) and then `/scripts/local-bottom/flint`, with the variables
//!    initramfs-tools' `/init` exports. Checked afterwards: both scripts exit 0, the seed in
//!    the root (bytes, modes, no temporary files), the root read-only again, flint's report.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::harness::kernel::{self, Kernel};
use crate::harness::netns::{Addressing, Topology};
use crate::harness::tally::{Selection, Suite, Tally};
use crate::mock::{self, Platform};
use crate::support::{cleanup, proc, util};

pub const SUITE: Suite =
    Suite { name: "initramfs-tools", needs_flint: true, gate: false, run, cases: || cases().len() + 1 };

/// The mock's AWS instance id (`mock/server.rs`), which meta-data must carry.
const MOCK_INSTANCE_ID: &str = "i-0f1a2b3c4d5e6f708";
const SEED: &str = "var/lib/cloud/seed/nocloud";
const OWNER: &str = ".written-by-flint";
const LIMIT: Duration = Duration::from_secs(5 * 60);

fn src_dir() -> PathBuf {
    util::root().join("initramfs/initramfs-tools")
}

/// The hook's NIC driver list, read from the hook itself so the check follows it.
fn hook_modules() -> Result<Vec<String>, String> {
    let hook = std::fs::read_to_string(src_dir().join("hooks/flint")).map_err(|e| e.to_string())?;
    let start = hook.find("\nmanual_add_modules ").ok_or("hooks/flint calls no manual_add_modules")?;
    let mut names = Vec::new();
    for line in hook[start + 1..].lines() {
        let continued = line.trim_end().ends_with('\\');
        names.extend(
            line.trim_end_matches('\\').split_whitespace().filter(|w| *w != "manual_add_modules").map(String::from),
        );
        if !continued {
            break;
        }
    }
    Ok(names)
}

/// The confdir mkinitramfs reads: a minimal `initramfs.conf` (only listed modules, busybox),
/// flint's hook and scripts as an image builder installs them, and `flint.conf`.
fn confdir(dir: &Path) -> Result<PathBuf, String> {
    let conf = dir.join("conf");
    let src = src_dir();
    let files = ["hooks/flint", "scripts/init-premount/flint", "scripts/local-bottom/flint"];
    for f in files {
        let to = conf.join(f);
        std::fs::create_dir_all(to.parent().unwrap_or(&conf)).map_err(|e| e.to_string())?;
        std::fs::copy(src.join(f), &to).map_err(|e| format!("{f}: {e}"))?;
    }
    let write = |name: &str, text: &str| std::fs::write(conf.join(name), text).map_err(|e| format!("{name}: {e}"));
    write(
        "initramfs.conf",
        "MODULES=list\nBUSYBOX=y\nKEYMAP=n\nCOMPRESS=gzip\nDEVICE=\nNFSROOT=auto\nRUNSIZE=10%\nFSTYPE=auto\n",
    )?;
    write("modules", "")?;
    write("flint.conf", "FLINT_PLATFORM=aws\nFLINT_ARGS=\"--timeout 10\"\n")?;
    Ok(conf)
}

/// Runs mkinitramfs for `kernel` with flint's hook; returns the image path.
fn build_image(flint: &Path, kernel: &Kernel, dir: &Path) -> Result<PathBuf, String> {
    let conf = confdir(dir)?;
    let image = dir.join("initrd.img");
    let root = kernel.modules.parent().and_then(Path::parent).and_then(Path::parent).ok_or("kernel cache layout")?;
    if !Path::new("/lib/modules").exists() {
        std::fs::create_dir_all("/lib/modules").map_err(|e| format!("/lib/modules: {e}"))?;
    }
    let script = r#"set -e
mount -t tmpfs tmpfs /lib/modules
mkdir "/lib/modules/$1"
mount --bind "$2/lib/modules/$1" "/lib/modules/$1"
mount --bind "$2/boot" /boot
exec mkinitramfs -d "$3" -o "$4" "$1""#;
    let mut cmd = Command::new("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script, "sh", &kernel.release])
        .arg(root)
        .arg(&conf)
        .arg(&image)
        .env("FLINT", flint);
    let o = proc::run_capture(&mut cmd, LIMIT)?;
    let log = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    std::fs::write(dir.join("mkinitramfs.log"), &log).ok();
    if !o.status.success() || std::fs::metadata(&image).map_or(true, |m| m.len() == 0) {
        return Err(format!("mkinitramfs failed ({}):\n{}", o.status, util::indent(&util::tail(&log, 20))));
    }
    Ok(image)
}

/// What the image must hold.
fn check_image(unpacked: &Path, flint: &Path, kernel: &Kernel) -> Vec<String> {
    let mut bad = Vec::new();
    let same = |inside: &str, outside: &Path| std::fs::read(unpacked.join(inside)).ok() == std::fs::read(outside).ok();
    if !same("usr/bin/flint", flint) {
        bad.push("usr/bin/flint is not the binary under test".into());
    }
    for (phase, file) in
        [("init-premount", "scripts/init-premount/flint"), ("local-bottom", "scripts/local-bottom/flint")]
    {
        if !same(file, &src_dir().join(file)) {
            bad.push(format!("{file} missing or not the repository's"));
        }
        let order = std::fs::read_to_string(unpacked.join(format!("scripts/{phase}/ORDER"))).unwrap_or_default();
        if !order.contains(&format!("/scripts/{phase}/flint")) {
            bad.push(format!("scripts/{phase}/ORDER does not run flint:\n{order}"));
        }
    }
    if !unpacked.join("conf/flint.conf").is_file() {
        bad.push("conf/flint.conf (from the confdir's flint.conf) missing".into());
    }
    // https needs trust anchors: the host's bundle, at the path flint looks for it.
    let bundles = ["etc/pki/tls/certs/ca-bundle.crt", "etc/ssl/certs/ca-certificates.crt", "etc/ssl/cert.pem"];
    if let Some(host) = bundles.iter().find(|b| Path::new("/").join(b).is_file()) {
        let (inside, outside) =
            (std::fs::read(unpacked.join(host)).ok(), std::fs::read(Path::new("/").join(host)).ok());
        if inside != outside {
            bad.push(format!("{host}: the host's CA bundle is not in the image"));
        }
    }
    let dep = match std::fs::read_to_string(kernel.modules.join("modules.dep")) {
        Ok(t) => kernel::parse_modules_dep(&t),
        Err(e) => return vec![format!("modules.dep: {e}")],
    };
    let wanted = match hook_modules() {
        Ok(w) => w,
        Err(e) => return vec![e],
    };
    let present: Vec<&str> =
        wanted.iter().map(String::as_str).filter(|m| dep.contains_key(&m.replace('-', "_"))).collect();
    if present.len() < 8 {
        bad.push(format!("only {present:?} of the hook's drivers are in this kernel: the check would prove little"));
    }
    match kernel::load_order(&dep, &present) {
        Ok(all) => {
            let dir = unpacked.join("usr/lib/modules").join(&kernel.release);
            for m in all {
                if !dir.join(&dep[&m].0).is_file() {
                    bad.push(format!("module {m} ({}) is not in the image", dep[&m].0));
                }
            }
        }
        Err(e) => bad.push(e),
    }
    bad
}

/// What the root holds before the scripts run.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Before {
    Empty,
    /// A seed baked into the image by its builder (no owner file): must stay.
    BakedSeed,
    /// A seed flint wrote on an earlier boot: must be refreshed.
    OldFlintSeed,
}

struct Case {
    name: &'static str,
    about: &'static str,
    served: Option<&'static [u8]>,
    knobs: fn(&mut mock::Options),
    before: Before,
    flint_exit: i64,
    /// The seed's user-data afterwards (`None`: no seed in the root at all).
    seed: Option<&'static [u8]>,
}

const CLOUD_CONFIG: &[u8] = b"#cloud-config\nhostname: flint-initramfs-tools\nruncmd:\n  - [echo, hello]\n";
const BAKED: &[u8] = b"#cloud-config\nhostname: baked-into-the-image\n";

fn cases() -> Vec<Case> {
    vec![
        Case {
            name: "seed-into-read-only-root",
            about: "flint fetches in init-premount; local-bottom remounts the root rw, writes the seed, remounts ro",
            served: Some(CLOUD_CONFIG),
            knobs: |_| {},
            before: Before::Empty,
            flint_exit: 0,
            seed: Some(CLOUD_CONFIG),
        },
        Case {
            name: "earlier-flint-seed-refreshed",
            about: "a seed flint wrote on an earlier boot is replaced by this boot's",
            served: Some(CLOUD_CONFIG),
            knobs: |_| {},
            before: Before::OldFlintSeed,
            flint_exit: 0,
            seed: Some(CLOUD_CONFIG),
        },
        Case {
            name: "baked-seed-kept",
            about: "a seed the image builder put into the root wins over the fetched one",
            served: Some(CLOUD_CONFIG),
            knobs: |_| {},
            before: Before::BakedSeed,
            flint_exit: 0,
            seed: Some(BAKED),
        },
        Case {
            name: "no-user-data-metadata-seed",
            about: "no user-data: flint exits 3 with a metadata-only seed (instance id, hostname, keys), both scripts exit 0",
            served: None,
            knobs: |_| {},
            before: Before::Empty,
            flint_exit: 3,
            seed: Some(b""),
        },
        Case {
            name: "metadata-refused-fail-open",
            about: "IMDS answers 403: flint exits 5, no seed, both scripts exit 0, the root is left read-only",
            served: Some(CLOUD_CONFIG),
            knobs: |o| {
                o.fail_first = 1000;
                o.fail_status = 403;
            },
            before: Before::Empty,
            flint_exit: 5,
            seed: None,
        },
    ]
}

/// Runs the image's scripts in `unpacked` as initramfs-tools' /init would, inside the client
/// namespace; copies the resulting root to `dir/root-after`. Returns the scripts' output.
fn run_scripts(topo: &Topology, unpacked: &Path, template: &Path, dir: &Path) -> Result<String, String> {
    let out = dir.join("root-after");
    let run_out = dir.join("run-after");
    for d in [&out, &run_out] {
        std::fs::create_dir_all(d).map_err(|e| e.to_string())?;
    }
    // $1 image, $2 root template, $3 root copy out, $4 /run copy out.
    let script = r#"set -e
mkdir -p "$1/root" "$1/proc" "$1/run"
mount -t tmpfs -o mode=0755 tmpfs "$1/root"
cp -a "$2/." "$1/root/"
mount -o remount,ro "$1/root"
mount -t proc proc "$1/proc"
mount -t tmpfs -o mode=0755 tmpfs "$1/run"
env -i PATH=/sbin:/usr/sbin:/bin:/usr/bin quiet=n rootmnt=/root readonly=y \
  chroot "$1" /bin/sh -c '/scripts/init-premount/flint; echo "fxq-exit init-premount $?"; /scripts/local-bottom/flint; echo "fxq-exit local-bottom $?"' 2>&1
grep " $1/root " /proc/mounts | tail -n 1 | sed 's/^/fxq-root-mount /'
cp -a "$1/root/." "$3/"
if [ -d "$1/run/flint" ]; then cp -a "$1/run/flint/." "$4/"; fi"#;
    let mut cmd = topo.in_client("unshare");
    cmd.args(["--mount", "--propagation", "private", "sh", "-c", script, "sh"])
        .arg(unpacked)
        .arg(template)
        .arg(&out)
        .arg(&run_out);
    let o = proc::run_capture(&mut cmd, Duration::from_secs(60))?;
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    std::fs::write(dir.join("scripts-output.txt"), &text).ok();
    if !o.status.success() {
        return Err(format!("the test harness around the scripts failed ({}):\n{}", o.status, util::indent(&text)));
    }
    Ok(text)
}

fn mode(p: &Path) -> Option<u32> {
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::metadata(p).ok().map(|m| m.permissions().mode() & 0o7777)
}

fn run_case(c: &Case, unpacked: &Path, dir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let template = dir.join("root-before");
    let seed_before = template.join(SEED);
    let setup = || -> std::io::Result<()> {
        std::fs::create_dir_all(template.join("var/lib/cloud"))?;
        match c.before {
            Before::Empty => {}
            Before::BakedSeed | Before::OldFlintSeed => {
                std::fs::create_dir_all(&seed_before)?;
                std::fs::write(seed_before.join("user-data"), BAKED)?;
                std::fs::write(seed_before.join("meta-data"), "instance-id: baked\n")?;
                if c.before == Before::OldFlintSeed {
                    std::fs::write(seed_before.join(OWNER), "")?;
                }
            }
        }
        Ok(())
    };
    if let Err(e) = setup() {
        return vec![format!("root template: {e}")];
    }

    let run = || -> Result<(String, Vec<mock::LogEntry>), String> {
        let topo = Topology::new(Addressing::Dhcp)?;
        let _dnsmasq = topo.start_dnsmasq(dir)?;
        let mut o = mock::Options::new(Platform::Aws);
        (c.knobs)(&mut o);
        if let Some(bytes) = c.served {
            let p = dir.join("payload.bin");
            std::fs::write(&p, bytes).map_err(|e| e.to_string())?;
            o.payload = Some(p);
        }
        let (_mock, full) = mock::start_in(&topo.server, &o, dir)?;
        let text = run_scripts(&topo, unpacked, &template, dir)?;
        std::thread::sleep(Duration::from_millis(20));
        let log = full.log.as_deref().map(mock::read_log).transpose()?.unwrap_or_default();
        Ok((text, log))
    };
    let (text, log) = match run() {
        Ok(r) => r,
        Err(e) => return vec![e],
    };

    for phase in ["init-premount", "local-bottom"] {
        if !text.lines().any(|l| l == format!("fxq-exit {phase} 0")) {
            bad.push(format!("scripts/{phase}/flint did not exit 0 (fail-open)"));
        }
    }
    let mount = text.lines().find_map(|l| l.strip_prefix("fxq-root-mount ")).unwrap_or("");
    if !mount.split_whitespace().nth(3).is_some_and(|o| o.split(',').any(|x| x == "ro")) {
        bad.push(format!("the root is not read-only after the scripts: {mount:?}"));
    }
    let report: serde_json::Value = std::fs::read(dir.join("run-after/report.json"))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    if report["exit_code"].as_i64() != Some(c.flint_exit) {
        bad.push(format!("flint's report says exit {}, expected {}", report["exit_code"], c.flint_exit));
    }
    if c.flint_exit == 0 && !log.iter().any(|e| e.method == "GET" && e.path.ends_with("/user-data") && e.status == 200)
    {
        bad.push("the mock never served the user-data".into());
    }

    let seed = dir.join("root-after").join(SEED);
    let read = |name: &str| std::fs::read(seed.join(name)).ok();
    match (c.before, c.seed) {
        (Before::BakedSeed, _) => {
            if read("user-data").as_deref() != Some(BAKED) || read(OWNER).is_some() {
                bad.push("the baked-in seed was changed".into());
            }
        }
        (_, Some(want)) => {
            if read("user-data").as_deref() != Some(want) {
                bad.push(format!("seed user-data is not the expected {} bytes", want.len()));
            }
            // flint quotes YAML scalars; cloud-init's own reading is the consumer test's job.
            let meta = String::from_utf8_lossy(&read("meta-data").unwrap_or_default()).into_owned();
            let id = meta.lines().find_map(|l| l.strip_prefix("instance-id:")).map(|v| v.trim().trim_matches('"'));
            if id != Some(MOCK_INSTANCE_ID) {
                bad.push(format!("seed meta-data lacks instance-id {MOCK_INSTANCE_ID}:\n{meta}"));
            }
            if mode(&seed.join("user-data")) != Some(0o600) || mode(&seed.join("meta-data")) != Some(0o644) {
                let show = |n: &str| mode(&seed.join(n)).map_or("-".into(), |m| format!("{m:o}"));
                bad.push(format!("seed modes {}/{}, expected 600/644", show("user-data"), show("meta-data")));
            }
            if read(OWNER).is_none() {
                bad.push(format!("no {OWNER} next to the seed flint wrote"));
            }
        }
        (_, None) => {
            if seed.exists() {
                bad.push("a seed was written although flint fetched nothing".into());
            }
        }
    }
    if let Ok(rd) = std::fs::read_dir(&seed) {
        let stray: Vec<String> = rd
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.ends_with(".flint-tmp"))
            .collect();
        if !stray.is_empty() {
            bad.push(format!("temporary files left in the seed directory: {stray:?}"));
        }
    }
    if !bad.is_empty() {
        bad.push(format!("scripts' output:\n{}", util::indent(&text)));
    }
    bad
}

/// Builds and checks the image, then runs every case, one line each, into `t`. (The image is
/// always built and checked: every case runs from it.)
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the initramfs-tools test (mount namespaces, chroot, network namespaces)")?;
    let flint = util::flint_under_test();
    if !flint.exists() {
        return Err(format!("{} not found: run `cargo xtask build` first", flint.display()));
    }
    let flint = flint.as_path();
    cleanup::remove_stale();
    let started = Instant::now();
    let kernel = kernel::ensure()?;
    let mut dir = util::ScratchDir::new("initramfs-tools")?;
    let (mut passed, mut failed) = (0, 0);
    let mut report = |name: &str, about: &str, bad: Vec<String>, dir: &mut util::ScratchDir| {
        if bad.is_empty() {
            passed += 1;
            println!("ok   initramfs-tools:{name:<30} {about}");
        } else {
            failed += 1;
            dir.keep();
            util::print_failure(&format!("initramfs-tools:{name:<30}"), about, &bad, dir.path());
        }
        if sel.keep {
            dir.keep();
        }
    };
    let image = match build_image(flint, &kernel, dir.path()) {
        Ok(i) => i,
        Err(e) => {
            report("image", "mkinitramfs with flint's hook", vec![e], &mut dir);
            t.add((passed, failed + cases().len()));
            return Ok(());
        }
    };
    let unpacked = dir.join("unpacked");
    proc::run_ok(Command::new("unmkinitramfs").arg(&image).arg(&unpacked), LIMIT)?;
    // With an early (microcode) archive unmkinitramfs puts the main one under main/.
    let unpacked = if unpacked.join("main").is_dir() { unpacked.join("main") } else { unpacked };
    let size = std::fs::metadata(&image).map(|m| m.len()).unwrap_or(0);
    let about = format!("real mkinitramfs for {}: flint, scripts in ORDER, NIC drivers ({size} bytes)", kernel.release);
    report("image", &about, check_image(&unpacked, flint, &kernel), &mut dir);
    for c in cases().into_iter().filter(|c| sel.matches(c.name)) {
        let case_dir = dir.join(c.name);
        let bad = match std::fs::create_dir_all(&case_dir) {
            Ok(()) => run_case(&c, &unpacked, &case_dir),
            Err(e) => vec![e.to_string()],
        };
        report(c.name, c.about, bad, &mut dir);
    }
    println!("initramfs-tools: {} check(s) in {:.1} s", passed + failed, started.elapsed().as_secs_f64());
    t.add((passed, failed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hook_lists_the_cloud_nic_drivers() {
        let m = hook_modules().unwrap();
        for want in ["virtio_net", "ena", "gve", "hv_netvsc", "vmxnet3", "e1000e", "mlx5_core"] {
            assert!(m.iter().any(|x| x == want), "{want} not in {m:?}");
        }
    }
}
