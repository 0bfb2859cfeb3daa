//! The boot test of flint's dracut module: an initramfs built by Debian's real `dracut`
//! (systemd initrd) with `initramfs/dracut/50flint`, Debian's Ignition module `30ignition`
//! (its real units, generator and 2.14 binary), and the test-only `qemu-tests/dracut/99fxq`
//! that reports over ttyS1 after `ignition-fetch-offline.service` and powers off.
//!
//! `cargo xtask initramfs --dracut` builds it; `qemu-test` boots it for the scenarios with
//! `"image": "dracut"`. Booted with `ignition.firstboot ignition.platform.id=metal
//! flint.platform=<platform>`: Ignition's generator pulls in `ignition-complete.target` (and
//! through it flint.service), Ignition itself looks only at local sources (metal), and flint
//! must prefer its own `flint.platform=` over `ignition.platform.id=`.
//!
//! dracut runs against a private module tree (`dracutbasedir`): symlinks to the system's
//! modules, plus flint's module (with the binary under test next to its module-setup.sh,
//! where a package would put it) and the test modules, which also replace dracut's
//! `network` and `url-lib` (dependencies of 30ignition) by empty ones: the image has no
//! kernel-stack network tool at all, so a config that reaches Ignition came through flint.
//! Host configuration (`/etc/dracut.conf*`) is ignored (`--conf /dev/null`, empty
//! `--confdir`). The image is cached under `target/qemu/` keyed by everything that goes
//! into it (~17 s to build on 2 cores, 28 MB).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::scenarios::{self, Env, NetKind, Passed, Scenario};
use super::{Boot, Markers, Vm};
use crate::kernel::Kernel;
use crate::{mock, payloads, proc, sha256, util};

/// Where Debian's dracut keeps its modules (and Ignition's package puts 30ignition).
const SYSTEM_DRACUT: &str = "/usr/lib/dracut";
/// `-m`: only these modules and what they depend on (no generic driver set).
const MODULES: &str = "systemd systemd-initrd dracut-systemd base ignition flint fxq";
const BUILD_LIMIT: Duration = Duration::from_secs(10 * 60);

/// flint's module, as an image builder installs it.
pub fn flint_module_dir() -> PathBuf {
    util::root().join("initramfs/dracut/50flint")
}

/// The test-only modules (`99fxq`, and the empty `network` and `url-lib`).
fn test_modules_dir() -> PathBuf {
    crate::initramfs::qemu_tests_dir().join("dracut")
}

/// `NNname` directories of a modules tree: (dir name, module name).
fn module_dirs(dir: &Path) -> Result<Vec<(String, PathBuf)>, String> {
    let mut v: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .map_err(|e| format!("{}: {e}", dir.display()))?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join("module-setup.sh").is_file())
        .map(|p| (p.file_name().unwrap_or_default().to_string_lossy().into_owned(), p))
        .collect();
    v.sort();
    Ok(v)
}

fn module_name(dir_name: &str) -> &str {
    dir_name.trim_start_matches(|c: char| c.is_ascii_digit())
}

/// Every file of a module directory, sorted, for the cache key.
fn files_under(dir: &Path) -> Result<Vec<(String, Vec<u8>)>, String> {
    let mut out = Vec::new();
    for (name, path) in module_dirs(dir)? {
        let mut files: Vec<PathBuf> = std::fs::read_dir(&path)
            .map_err(|e| e.to_string())?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        files.sort();
        for f in files {
            let bytes = std::fs::read(&f).map_err(|e| format!("{}: {e}", f.display()))?;
            out.push((format!("{name}/{}", f.file_name().unwrap_or_default().to_string_lossy()), bytes));
        }
    }
    Ok(out)
}

fn package_versions() -> String {
    let out = proc::run_capture(
        Command::new("dpkg-query").args(["-W", "-f", "${Package}=${Version}\n", "dracut-core", "ignition", "systemd"]),
        Duration::from_secs(30),
    );
    out.map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Cache key: the flint binary, both module trees, the kernel, the dracut/Ignition/systemd
/// package versions and the module list.
fn cache_key(flint: &Path, kernel: &Kernel) -> Result<String, String> {
    let mut all = Vec::new();
    all.extend(std::fs::read(flint).map_err(|e| format!("{}: {e}", flint.display()))?);
    for dir in [flint_module_dir().parent().map(Path::to_path_buf).unwrap_or_default(), test_modules_dir()] {
        for (name, bytes) in files_under(&dir)? {
            all.extend(name.as_bytes());
            all.extend(sha256::digest(&bytes));
        }
    }
    all.extend(format!("{} {} {}\n{}\n{MODULES}", kernel.release, kernel.package, kernel.version, package_versions()).bytes());
    Ok(sha256::hex(&all)[..16].to_string())
}

/// The private `dracutbasedir`: the system's files and modules as symlinks, ours copied
/// (flint's with the binary under test), a system module of the same name replaced.
fn module_tree(base: &Path, flint: &Path) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let system = Path::new(SYSTEM_DRACUT);
    let ours: Vec<(String, PathBuf)> =
        [module_dirs(flint_module_dir().parent().unwrap_or(Path::new(".")))?, module_dirs(&test_modules_dir())?].concat();
    let modules = base.join("modules.d");
    std::fs::create_dir_all(&modules).map_err(|e| err(&modules, e))?;
    for entry in std::fs::read_dir(system).map_err(|e| err(system, e))?.filter_map(|e| e.ok()) {
        if entry.file_name() != "modules.d" {
            std::os::unix::fs::symlink(entry.path(), base.join(entry.file_name())).map_err(|e| err(&entry.path(), e))?;
        }
    }
    for (name, path) in module_dirs(&system.join("modules.d"))? {
        if !ours.iter().any(|(n, _)| module_name(n) == module_name(&name)) {
            std::os::unix::fs::symlink(&path, modules.join(&name)).map_err(|e| err(&path, e))?;
        }
    }
    for (name, path) in &ours {
        let dest = modules.join(name);
        std::fs::create_dir_all(&dest).map_err(|e| err(&dest, e))?;
        for f in std::fs::read_dir(path).map_err(|e| err(path, e))?.filter_map(|e| e.ok()) {
            std::fs::copy(f.path(), dest.join(f.file_name())).map_err(|e| err(&f.path(), e))?;
        }
        if module_name(name) == "flint" {
            std::fs::copy(flint, dest.join("flint")).map_err(|e| err(flint, e))?;
        }
    }
    Ok(())
}

pub fn default_path(key: &str) -> PathBuf {
    util::target_dir().join("qemu").join(format!("dracut-{key}.img"))
}

/// The dracut image for `flint` and `kernel`: from the cache, or built (and older cached
/// images removed).
pub fn image(flint: &Path, kernel: &Kernel) -> Result<PathBuf, String> {
    let key = cache_key(flint, kernel)?;
    let out = default_path(&key);
    if out.is_file() {
        return Ok(out);
    }
    let started = Instant::now();
    build(flint, kernel, &out)?;
    eprintln!("xtask: dracut image built in {:.1} s: {}", started.elapsed().as_secs_f64(), out.display());
    if let Ok(rd) = std::fs::read_dir(out.parent().unwrap_or(Path::new("."))) {
        for p in rd.filter_map(|e| e.ok().map(|e| e.path())) {
            let name = p.file_name().unwrap_or_default().to_string_lossy().into_owned();
            if name.starts_with("dracut-") && name.ends_with(".img") && p != out {
                let _ = std::fs::remove_file(&p);
            }
        }
    }
    Ok(out)
}

/// Runs dracut into `out` (written under a temporary name, renamed when complete).
pub fn build(flint: &Path, kernel: &Kernel, out: &Path) -> Result<(), String> {
    let scratch = util::ScratchDir::new("dracut")?;
    let base = scratch.join("base");
    module_tree(&base, flint)?;
    let confdir = scratch.join("conf.d");
    let tmpdir = scratch.join("tmp");
    for d in [&confdir, &tmpdir] {
        std::fs::create_dir_all(d).map_err(|e| format!("{}: {e}", d.display()))?;
    }
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    let tmp_out = out.with_extension("tmp");
    let mut cmd = Command::new(util::tool("dracut"));
    cmd.env("dracutbasedir", &base)
        .args(["--force", "--no-hostonly", "--no-hostonly-cmdline", "--no-early-microcode", "--gzip"])
        .args(["--kver", &kernel.release])
        .arg("--kmoddir")
        .arg(&kernel.modules)
        .args(["--conf", "/dev/null"])
        .arg("--confdir")
        .arg(&confdir)
        .arg("--tmpdir")
        .arg(&tmpdir)
        .args(["-m", MODULES])
        .arg(&tmp_out);
    let o = proc::run_capture(&mut cmd, BUILD_LIMIT)?;
    let log = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
    let _ = std::fs::write(scratch.join("dracut.log"), &log);
    let included: Vec<&str> =
        log.lines().filter_map(|l| l.strip_prefix("dracut: *** Including module: ")?.strip_suffix(" ***")).collect();
    let missing: Vec<&str> = ["ignition", "flint", "fxq"].into_iter().filter(|m| !included.contains(m)).collect();
    if !o.status.success() || !missing.is_empty() {
        let _ = std::fs::remove_file(&tmp_out);
        return Err(format!(
            "dracut failed ({}, modules missing: {missing:?}):\n{}",
            o.status,
            util::indent(&util::tail(&log, 30))
        ));
    }
    std::fs::rename(&tmp_out, out).map_err(|e| format!("{}: {e}", out.display()))
}

/// `systemctl show` properties of the units the guest reports (`FXQ:UNIT <name> K=V …`).
fn units(m: &Markers) -> BTreeMap<String, BTreeMap<String, String>> {
    m.all("UNIT")
        .into_iter()
        .filter_map(|l| {
            let (name, props) = l.split_once(' ')?;
            let map = props.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into()));
            Some((name.to_string(), map.collect()))
        })
        .collect()
}

/// What one dracut boot must show. `decoded`: the config the mock served (when flint is
/// expected to write it); `marker`: the payload's marker, which the Ignition cache must hold.
pub fn check(s: &Scenario, boot: &Boot, decoded: Option<&[u8]>, marker: &str, tokens: &[String]) -> Vec<String> {
    let m = &boot.markers;
    let mut bad = Vec::new();
    if boot.timed_out || !boot.ended() {
        bad.push(format!("no report from the guest within {:.0} s (QEMU exit {:?})", s.boot_timeout, boot.qemu_exit));
        return bad;
    }
    if m.get("MODE") != Some("dracut") {
        bad.push(format!("the boot went to emergency mode (report from {:?})", m.get("MODE")));
    }
    let u = units(m);
    let prop = |unit: &str, k: &str| u.get(unit).and_then(|p| p.get(k)).map(String::as_str).unwrap_or("-");
    let num = |unit: &str, k: &str| prop(unit, k).parse::<u64>().unwrap_or(0);

    // flint ran, exited as expected, and its unit succeeded whatever the exit code (fail-open).
    if num("flint", "ExecMainStartTimestampMonotonic") == 0 {
        bad.push("flint.service never ran".into());
    }
    if prop("flint", "ExecMainCode") != "1" || m.exit() != Some(s.expect_exit) {
        bad.push(format!(
            "flint exit {:?} (ExecMainCode {}), expected exit {}",
            m.exit(),
            prop("flint", "ExecMainCode"),
            s.expect_exit
        ));
    }
    if prop("flint", "Result") != "success" {
        bad.push(format!("flint.service result {}: it must never fail the boot", prop("flint", "Result")));
    }
    // Ordering: flint had exited before Ignition's first stage started.
    let flint_done = num("flint", "ExecMainExitTimestampMonotonic");
    let fo_start = num("fetch-offline", "ExecMainStartTimestampMonotonic");
    if fo_start == 0 || prop("fetch-offline", "Result") != "success" || prop("fetch-offline", "ExecMainStatus") != "0" {
        bad.push(format!(
            "ignition-fetch-offline did not run to success: {:?}\n{}",
            u.get("fetch-offline"),
            util::indent(&m.all("IGNLOG").join("\n"))
        ));
    } else if flint_done == 0 || flint_done > fo_start {
        bad.push(format!("flint exited at {flint_done} µs, after ignition-fetch-offline started at {fo_start} µs"));
    }
    if prop("fetch", "ExecMainStartTimestampMonotonic") != "0" {
        bad.push("ignition-fetch.service (the online stage) ran".into());
    }
    if m.get("NEEDNET") != Some("absent") {
        bad.push(format!("/run/ignition/neednet is {:?}: Ignition asked for the network", m.get("NEEDNET")));
    }

    // The hand-off: user.ign is the served config byte for byte, and Ignition's cache holds it.
    let want = decoded.map_or("absent".to_string(), sha256::hex);
    for key in ["SHA256", "SHA256_RUN"] {
        if m.get(key) != Some(want.as_str()) {
            bad.push(format!("{key} of user.ign {:?}, expected {want}", m.get(key)));
        }
    }
    let cache = m.get("CACHE").filter(|c| *c != "absent").and_then(|c| {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(c.trim()).ok()?;
        serde_json::from_slice::<Value>(&bytes).ok()
    });
    let holds_marker = |c: &Value| {
        c["storage"]["files"].as_array().is_some_and(|files| {
            files.iter().any(|f| f["contents"]["source"].as_str() == Some(format!("data:,{marker}").as_str()))
        })
    };
    match (&cache, decoded.is_some()) {
        (None, _) => bad.push("Ignition wrote no /run/ignition.json".into()),
        (Some(c), true) if !holds_marker(c) => {
            bad.push(format!("Ignition's cached config lacks the served config's marker file: {c}"))
        }
        (Some(c), false) if holds_marker(c) => bad.push("Ignition's cache holds a config nobody served".into()),
        _ => {}
    }

    // No kernel network bring-up: flint's address lived only in flint.
    for a in m.all("ADDR") {
        if !a.contains("inet 127.") {
            bad.push(format!("the kernel has an IPv4 address: {a}"));
        }
    }
    for r in m.all("ROUTE") {
        bad.push(format!("the kernel has a route: {r}"));
    }
    // flint lowers every interface it raised (docs/contract.md, side effects).
    for l in m.all("LINK") {
        let flags = l.split_once('<').and_then(|(_, r)| r.split_once('>')).map_or("", |(f, _)| f);
        if !l.contains(" lo:") && flags.split(',').any(|f| f == "UP") {
            bad.push(format!("a NIC was left up: {l}"));
        }
    }

    // flint's choice of platform and its report.
    if !m.get("IGNITION_ENV").is_some_and(|e| e.contains("PLATFORM_ID=metal")) {
        bad.push(format!("Ignition's platform is not metal: {:?}", m.get("IGNITION_ENV")));
    }
    match m.report() {
        None => bad.push(format!("no flint report: {:?}", m.get("REPORT"))),
        Some(r) => {
            if r["platform"] != s.platform.as_str() {
                bad.push(format!("flint used platform {} (flint.platform={} must win)", r["platform"], s.platform.as_str()));
            }
            if r["exit_code"].as_i64() != m.exit().map(i64::from) {
                bad.push(format!("report exit_code {} but flint exited {:?}", r["exit_code"], m.exit()));
            }
            if !r["mac"].as_str().is_some_and(|mac| mac.eq_ignore_ascii_case(&super::mac(0))) {
                bad.push(format!("report mac {}, expected the VM's NIC {}", r["mac"], super::mac(0)));
            }
        }
    }
    let logs = m.all("LOG");
    if logs.is_empty() {
        bad.push("flint logged nothing to the journal".into());
    }
    for line in logs {
        if !line.starts_with("flint: ") {
            bad.push(format!("flint log line not in `flint: <phase>: …` form: {line:?}"));
        }
        if line.contains(marker) || tokens.iter().any(|t| line.contains(&t[..t.len().min(16)])) {
            bad.push("flint's log holds user-data bytes or a token".into());
        }
    }
    bad
}

/// Kernel arguments of a dracut boot: Ignition's first boot on metal, flint told its platform.
pub fn kernel_args(s: &Scenario) -> String {
    format!(
        "ignition.firstboot ignition.platform.id=metal flint.platform={} {} systemd.show_status=1",
        s.platform.as_str(),
        s.kernel_args
    )
}

/// One dracut scenario against the mock in its own namespace.
pub fn run_one(s: &Scenario, env: &Env, image: &Path, dir: &Path) -> Result<Passed, Vec<String>> {
    let marker = payloads::new_marker();
    let served = scenarios::payload(s.payload, &marker);
    let nets: Vec<NetKind> = s.nics.iter().map(|n| n.net).collect();
    let cloud = scenarios::start_cloud(&nets, s.platform, served.file.as_deref(), dir).map_err(|e| vec![e])?;
    let models: Vec<&str> = s.nics.iter().map(|n| n.model.as_str()).collect();
    let vm = Vm {
        vmlinux: &env.kernel.vmlinux,
        initrd: image,
        append: kernel_args(s),
        nics: scenarios::nics(&nets, &models),
        netns: Some(&cloud.net.ns),
        dir,
        timeout: Duration::from_secs_f64(s.boot_timeout),
        accel: env.accel,
        capture: false,
        banner_within: None,
    };
    let boot = super::boot(&vm).map_err(|e| vec![e])?;
    std::fs::write(dir.join("qemu-command.txt"), &boot.command).ok();
    std::thread::sleep(Duration::from_millis(20));
    let (log, tokens) = match &cloud.mock {
        Some((_, o)) => (
            o.log.as_deref().map(mock::read_log).transpose().map_err(|e| vec![e])?.unwrap_or_default(),
            o.tokens.as_deref().map(mock::read_tokens).unwrap_or_default(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    drop(cloud);
    let decoded = served.decoded.as_deref().filter(|_| s.expect_exit == 0);
    let mut bad = check(s, &boot, decoded, &marker, &tokens);
    if decoded.is_some() && !log.iter().any(|e| e.method == "GET" && e.path.ends_with("/user-data") && e.status == 200) {
        bad.push("the mock never served the user-data".into());
    }
    if !bad.is_empty() {
        bad.push(format!("qemu: {}", boot.command));
        bad.push(util::indent(&boot.tails()));
        return Err(bad);
    }
    let u = units(&boot.markers);
    let at = |unit: &str, k: &str| u.get(unit).and_then(|p| p.get(k)).and_then(|v| v.parse::<f64>().ok()).map(|v| v / 1e6);
    let flint = match (at("flint", "ExecMainStartTimestampMonotonic"), at("flint", "ExecMainExitTimestampMonotonic")) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(Passed {
        to_end: boot.to_end.unwrap_or(boot.wall).as_secs_f64(),
        run_init: boot.markers.stamps().get("run-init").copied(),
        flint,
        summary: format!(
            "exit {}, flint done at {:.2} s, fetch-offline started at {:.2} s",
            boot.markers.exit().map_or("-".into(), |c| c.to_string()),
            at("flint", "ExecMainExitTimestampMonotonic").unwrap_or(0.0),
            at("fetch-offline", "ExecMainStartTimestampMonotonic").unwrap_or(0.0),
        ),
    })
}
