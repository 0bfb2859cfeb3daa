//! The dracut image of the boot tests: an initramfs built by Debian's real `dracut` (systemd
//! initrd) with `initramfs/dracut/50flint`, Debian's Ignition module `30ignition` (its real
//! units, generator and 2.14 binary), and the test-only `qemu-tests/dracut/99fxq` that
//! reports over ttyS1 after `ignition-fetch-offline.service` and powers off. `cargo xtask
//! initramfs --dracut` builds it; the QEMU suite boots it (`suites/qemu/dracut.rs`).
//!
//! dracut runs against a private module tree (`dracutbasedir`): symlinks to the system's
//! modules, plus flint's module (with the binary under test next to its module-setup.sh,
//! where a package would put it) and the test modules, which also replace dracut's
//! `network` and `url-lib` (dependencies of 30ignition) by empty ones: the image has no
//! kernel-stack network tool at all, so a config that reaches Ignition came through flint.
//! Host configuration (`/etc/dracut.conf*`) is ignored (`--conf /dev/null`, empty
//! `--confdir`). The image is cached under `target/qemu/` keyed by everything that goes
//! into it (~17 s to build on 2 cores, 28 MB).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use super::initramfs;
use super::kernel::Kernel;
use crate::support::{proc, sha256, util};

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
    initramfs::qemu_tests_dir().join("dracut")
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
        let mut files: Vec<PathBuf> =
            std::fs::read_dir(&path).map_err(|e| e.to_string())?.filter_map(|e| e.ok().map(|e| e.path())).collect();
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
    all.extend(
        format!("{} {} {}\n{}\n{MODULES}", kernel.release, kernel.package, kernel.version, package_versions()).bytes(),
    );
    Ok(sha256::hex(&all)[..16].to_string())
}

/// The private `dracutbasedir`: the system's files and modules as symlinks, ours copied
/// (flint's with the binary under test), a system module of the same name replaced.
fn module_tree(base: &Path, flint: &Path) -> Result<(), String> {
    let err = |p: &Path, e: std::io::Error| format!("{}: {e}", p.display());
    let system = Path::new(SYSTEM_DRACUT);
    let ours: Vec<(String, PathBuf)> =
        [module_dirs(flint_module_dir().parent().unwrap_or(Path::new(".")))?, module_dirs(&test_modules_dir())?]
            .concat();
    let modules = base.join("modules.d");
    std::fs::create_dir_all(&modules).map_err(|e| err(&modules, e))?;
    for entry in std::fs::read_dir(system).map_err(|e| err(system, e))?.filter_map(|e| e.ok()) {
        if entry.file_name() != "modules.d" {
            std::os::unix::fs::symlink(entry.path(), base.join(entry.file_name()))
                .map_err(|e| err(&entry.path(), e))?;
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
