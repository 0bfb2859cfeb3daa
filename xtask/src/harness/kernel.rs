//! The Debian kernel the boot tests run: resolved, downloaded, unpacked and prepared once,
//! then reused from a cache outside the source tree.
//!
//! * Version: whatever `linux-image-amd64` (the meta package) depends on today, from
//!   `apt-cache depends`; the `-unsigned` image package when the archive has it (same kernel,
//!   no shim signature), else the regular one.
//! * `apt-get download` + `dpkg -x` (nothing is installed on the host), then `depmod -b`
//!   because the package ships no `modules.dep`.
//! * The uncompressed `vmlinux`, cut out of the xz bzImage: QEMU boots that ELF through its
//!   PVH note and skips the in-guest xz decompression, ~3 s under TCG (qemu.md §3).
//!
//! Cache: `$FLINT_CACHE_DIR`, else `$XDG_CACHE_HOME/flint`, else `~/.cache/flint`; one
//! directory per kernel, `kernel-<release>_<package version>/`, built under a temporary name
//! and renamed when complete, so an interrupted preparation is simply redone.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::support::proc::{self, ChildGuard};
use crate::support::{deps, util};

const META_PACKAGE: &str = "linux-image-amd64";
const XZ_MAGIC: &[u8] = &[0xfd, b'7', b'z', b'X', b'Z', 0x00];

pub struct Kernel {
    /// `uname -r` of the guest, e.g. `6.1.0-56-amd64`.
    pub release: String,
    /// The Debian package it came from and its version.
    pub package: String,
    pub version: String,
    /// Uncompressed ELF kernel, booted through PVH.
    pub vmlinux: PathBuf,
    /// `lib/modules/<release>` of the unpacked package, with `modules.dep`.
    pub modules: PathBuf,
}

pub fn cache_root() -> PathBuf {
    if let Some(d) = std::env::var_os("FLINT_CACHE_DIR") {
        return PathBuf::from(d);
    }
    if let Some(d) = std::env::var_os("XDG_CACHE_HOME").filter(|d| !d.is_empty()) {
        return PathBuf::from(d).join("flint");
    }
    match std::env::var_os("HOME").filter(|d| !d.is_empty()) {
        Some(h) => PathBuf::from(h).join(".cache").join("flint"),
        None => PathBuf::from("/var/cache/flint"),
    }
}

fn capture(cmd: &mut Command, limit: Duration) -> Result<String, String> {
    proc::run_ok(cmd, limit).map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
}

/// `linux-image-6.1.0-56-amd64` from `apt-cache depends linux-image-amd64`.
fn resolve_image_package() -> Result<String, String> {
    let query = || capture(Command::new("apt-cache").args(["depends", META_PACKAGE]), Duration::from_secs(60));
    let parse = |text: &str| {
        text.lines()
            .filter_map(|l| l.trim().strip_prefix("Depends:"))
            .map(str::trim)
            .find(|p| p.starts_with("linux-image-") && !p.starts_with('<'))
            .map(String::from)
    };
    if let Some(p) = query().ok().as_deref().and_then(parse) {
        return Ok(p);
    }
    // A fresh machine may have no package lists yet.
    deps::apt_update_once()?;
    let text = query()?;
    parse(&text).ok_or_else(|| format!("`apt-cache depends {META_PACKAGE}` names no linux-image package:\n{text}"))
}

/// Candidate version of a package, `None` when the archive does not have it.
fn candidate_version(package: &str) -> Option<String> {
    let text = capture(Command::new("apt-cache").args(["policy", package]), Duration::from_secs(60)).ok()?;
    text.lines()
        .find_map(|l| l.trim().strip_prefix("Candidate:"))
        .map(str::trim)
        .filter(|v| !v.is_empty() && *v != "(none)")
        .map(String::from)
}

/// Resolves, and prepares when not cached, the kernel the boot tests use.
pub fn ensure() -> Result<Kernel, String> {
    let image = match resolve_image_package() {
        Ok(p) => p,
        Err(e) => {
            // No apt metadata at all (offline tinkering): fall back to a prepared cache entry.
            if let Some(k) = newest_cached() {
                eprintln!("xtask: warning: {e}; using the cached kernel {}", k.release);
                return Ok(k);
            }
            return Err(e);
        }
    };
    let release = image.trim_start_matches("linux-image-").to_string();
    let unsigned = format!("{image}-unsigned");
    let (package, version) = match candidate_version(&unsigned) {
        Some(v) => (unsigned, v),
        None => {
            let v = candidate_version(&image).ok_or_else(|| format!("no installable candidate for {image}"))?;
            (image.clone(), v)
        }
    };
    let dir = cache_root().join(format!("kernel-{release}_{}", version.replace([':', '/'], "_")));
    if !dir.join(".complete").exists() {
        remove_stale_temporaries();
        prepare(&dir, &package, &version, &release)?;
        remove_other_kernels(&dir);
    }
    from_dir(&dir)
}

/// `.tmp-<pid>-…` directories of preparations whose xtask is gone (killed mid-download).
fn remove_stale_temporaries() {
    let Ok(rd) = std::fs::read_dir(cache_root()) else { return };
    for p in rd.filter_map(|e| e.ok().map(|e| e.path())) {
        let name = p.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let pid = name.strip_prefix(".tmp-").and_then(|r| r.split('-').next()).and_then(|p| p.parse::<u32>().ok());
        if pid.is_some_and(|pid| !Path::new(&format!("/proc/{pid}")).exists()) {
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

/// A new kernel replaces the cached ones (each unpacked package is ~440 MB).
fn remove_other_kernels(keep: &Path) {
    let Ok(rd) = std::fs::read_dir(cache_root()) else { return };
    for p in rd.filter_map(|e| e.ok().map(|e| e.path())) {
        let is_kernel = p.file_name().is_some_and(|n| n.to_string_lossy().starts_with("kernel-"));
        if is_kernel && p != keep {
            eprintln!("xtask: removing the previous kernel cache {}", p.display());
            let _ = std::fs::remove_dir_all(&p);
        }
    }
}

fn from_dir(dir: &Path) -> Result<Kernel, String> {
    let info = std::fs::read_to_string(dir.join(".complete")).map_err(|e| format!("{}: {e}", dir.display()))?;
    let field = |k: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(k).and_then(|r| r.strip_prefix('=')))
            .map(String::from)
            .ok_or_else(|| format!("{}/.complete lacks {k}", dir.display()))
    };
    let release = field("release")?;
    Ok(Kernel {
        modules: dir.join("root/lib/modules").join(&release),
        vmlinux: dir.join("vmlinux"),
        package: field("package")?,
        version: field("version")?,
        release,
    })
}

fn newest_cached() -> Option<Kernel> {
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(cache_root())
        .ok()?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.join(".complete").exists())
        .collect();
    dirs.sort_by_key(|p| std::fs::metadata(p.join(".complete")).and_then(|m| m.modified()).ok());
    dirs.last().and_then(|d| from_dir(d).ok())
}

fn prepare(dir: &Path, package: &str, version: &str, release: &str) -> Result<(), String> {
    let parent = dir.parent().ok_or("cache directory has no parent")?;
    std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
    let tmp = parent.join(format!(".tmp-{}-{}", std::process::id(), util::random_hex(3)));
    let result = prepare_in(&tmp, package, version, release);
    if result.is_ok() {
        let _ = std::fs::remove_dir_all(dir); // an incomplete leftover
        std::fs::rename(&tmp, dir).map_err(|e| format!("rename {} -> {}: {e}", tmp.display(), dir.display()))?;
    } else {
        let _ = std::fs::remove_dir_all(&tmp);
    }
    result
}

fn prepare_in(tmp: &Path, package: &str, version: &str, release: &str) -> Result<(), String> {
    let started = std::time::Instant::now();
    std::fs::create_dir_all(tmp).map_err(|e| format!("mkdir {}: {e}", tmp.display()))?;
    eprintln!("xtask: kernel {release}: apt-get download {package}={version} into {}", tmp.display());
    // As root, apt drops to `_apt` for downloads and warns when that user cannot write the
    // directory; the download itself works either way.
    let out = proc::run_capture(
        Command::new("apt-get").current_dir(tmp).args(["download", "-q", &format!("{package}={version}")]),
        Duration::from_secs(10 * 60),
    )?;
    if !out.status.success() {
        return Err(format!("apt-get download {package} failed: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    let deb = std::fs::read_dir(tmp)
        .map_err(|e| e.to_string())?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .ok_or("apt-get download left no .deb")?;
    let root = tmp.join("root");
    proc::run_ok(Command::new("dpkg").arg("-x").arg(&deb).arg(&root), Duration::from_secs(5 * 60))?;
    let _ = std::fs::remove_file(&deb); // 70 MB we no longer need
    let modules = root.join("lib/modules").join(release);
    if !modules.is_dir() {
        return Err(format!("{} has no lib/modules/{release}", package));
    }
    proc::run_ok(Command::new(util::tool("depmod")).arg("-b").arg(&root).arg(release), Duration::from_secs(5 * 60))?;
    let bzimage = root.join("boot").join(format!("vmlinuz-{release}"));
    extract_vmlinux(&bzimage, &tmp.join("vmlinux"))?;
    std::fs::write(tmp.join(".complete"), format!("release={release}\npackage={package}\nversion={version}\n"))
        .map_err(|e| e.to_string())?;
    eprintln!("xtask: kernel {release} prepared in {:.1} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Cuts the uncompressed ELF `vmlinux` out of an xz-compressed bzImage: tries each xz stream
/// magic in the file (the setup code precedes the payload) until one decompresses to an ELF.
pub fn extract_vmlinux(bzimage: &Path, out: &Path) -> Result<(), String> {
    let image = std::fs::read(bzimage).map_err(|e| format!("{}: {e}", bzimage.display()))?;
    let xz = util::tool("xz");
    for at in image.windows(XZ_MAGIC.len()).enumerate().filter(|(_, w)| *w == XZ_MAGIC).map(|(i, _)| i) {
        let file = std::fs::File::create(out).map_err(|e| format!("{}: {e}", out.display()))?;
        // --single-stream: stop after the kernel's stream and ignore what follows it.
        let mut cmd = Command::new(&xz);
        cmd.args(["-dc", "--single-stream"]).stdin(Stdio::piped()).stdout(file).stderr(Stdio::null());
        let mut child = ChildGuard::spawn(&mut cmd, "xz")?;
        let mut stdin = child.take_stdin().ok_or("xz: no stdin")?;
        let tail = image[at..].to_vec();
        let feeder = std::thread::spawn(move || {
            let _ = stdin.write_all(&tail);
        });
        let status = child.wait_timeout(Duration::from_secs(120));
        drop(child);
        let _ = feeder.join();
        let head = std::fs::read(out).map(|b| b.get(..4).map(<[u8]>::to_vec)).unwrap_or_default();
        if status.is_some_and(|s| s.success()) && head.as_deref() == Some(b"\x7fELF") {
            return Ok(());
        }
    }
    let _ = std::fs::remove_file(out);
    Err(format!("{}: no xz stream that decompresses to an ELF kernel", bzimage.display()))
}

/// `modules.dep` as (module name → (path relative to the modules dir, dependency names)).
/// Names are normalised like the kernel does: `-` and `_` are the same.
pub fn parse_modules_dep(text: &str) -> std::collections::BTreeMap<String, (String, Vec<String>)> {
    let name = |path: &str| {
        let file = path.rsplit('/').next().unwrap_or(path);
        let stem = file.split(".ko").next().unwrap_or(file);
        stem.replace('-', "_")
    };
    text.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(path, deps)| {
            let deps = deps.split_whitespace().map(name).collect();
            (name(path), (path.trim().to_string(), deps))
        })
        .collect()
}

/// Load order for `wanted`: each module after everything it depends on, each once, in the
/// order `wanted` lists them otherwise (depth-first over `modules.dep`).
pub fn load_order(
    dep: &std::collections::BTreeMap<String, (String, Vec<String>)>,
    wanted: &[&str],
) -> Result<Vec<String>, String> {
    fn visit(
        dep: &std::collections::BTreeMap<String, (String, Vec<String>)>,
        m: &str,
        out: &mut Vec<String>,
        stack: &mut Vec<String>,
    ) -> Result<(), String> {
        if out.iter().any(|x| x == m) {
            return Ok(());
        }
        if stack.iter().any(|x| x == m) {
            return Err(format!("dependency cycle through {m}"));
        }
        let (_, deps) = dep.get(m).ok_or_else(|| format!("module {m} is not in modules.dep"))?;
        stack.push(m.to_string());
        for d in deps {
            visit(dep, d, out, stack)?;
        }
        stack.pop();
        out.push(m.to_string());
        Ok(())
    }
    let mut out = Vec::new();
    for m in wanted {
        visit(dep, &m.replace('-', "_"), &mut out, &mut Vec::new())?;
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DEP: &str = "\
kernel/drivers/net/virtio_net.ko: kernel/drivers/net/net_failover.ko kernel/net/core/failover.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/net/net_failover.ko: kernel/net/core/failover.ko
kernel/net/core/failover.ko:
kernel/drivers/virtio/virtio_pci.ko: kernel/drivers/virtio/virtio_pci_modern_dev.ko kernel/drivers/virtio/virtio_pci_legacy_dev.ko kernel/drivers/virtio/virtio.ko kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_pci_modern_dev.ko:
kernel/drivers/virtio/virtio_pci_legacy_dev.ko:
kernel/drivers/virtio/virtio.ko: kernel/drivers/virtio/virtio_ring.ko
kernel/drivers/virtio/virtio_ring.ko:
kernel/drivers/net/ethernet/intel/e1000/e1000.ko:
";

    #[test]
    fn dependencies_first_each_once() {
        let dep = parse_modules_dep(DEP);
        let order = load_order(&dep, &["virtio_pci", "virtio-net", "e1000"]).unwrap();
        let pos = |m: &str| order.iter().position(|x| x == m).unwrap_or_else(|| panic!("{m} missing from {order:?}"));
        assert_eq!(order.len(), 9);
        assert!(pos("virtio_ring") < pos("virtio") && pos("virtio") < pos("virtio_pci"));
        assert!(pos("virtio_pci_modern_dev") < pos("virtio_pci") && pos("virtio_pci_legacy_dev") < pos("virtio_pci"));
        assert!(pos("failover") < pos("net_failover") && pos("net_failover") < pos("virtio_net"));
        assert!(pos("virtio_pci") < pos("virtio_net"), "wanted order kept otherwise: {order:?}");
        assert_eq!(dep["e1000"].0, "kernel/drivers/net/ethernet/intel/e1000/e1000.ko");
    }

    #[test]
    fn unknown_module_is_an_error() {
        assert!(load_order(&parse_modules_dep(DEP), &["e1000e"]).unwrap_err().contains("e1000e"));
    }

    #[test]
    fn finds_the_xz_stream_after_setup_code() {
        let Some(xz) = util::which("xz") else { return };
        let dir = std::env::temp_dir().join(format!("flint-vmlinux-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let elf = [b"\x7fELF".as_slice(), &[2u8; 4000]].concat();
        let mut child = Command::new(xz)
            .args(["-zc", "--check=crc32"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(&elf).unwrap();
        let compressed = child.wait_with_output().unwrap().stdout;
        // Setup code with a decoy magic that does not decompress, the stream, then trailing data.
        let image = [b"MZ setup".as_slice(), XZ_MAGIC, b"junk", &compressed, &[0u8; 64]].concat();
        std::fs::write(dir.join("vmlinuz"), image).unwrap();
        extract_vmlinux(&dir.join("vmlinuz"), &dir.join("vmlinux")).unwrap();
        assert_eq!(std::fs::read(dir.join("vmlinux")).unwrap(), elf);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
