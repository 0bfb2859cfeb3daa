//! `cargo xtask initramfs`: the boot-test initramfs, a gzip-compressed newc cpio holding
//!
//! | path | from |
//! |---|---|
//! | `/init` | `qemu-tests/init.sh` (busybox sh) |
//! | `/bin/flint` | the release build, or `$FLINT_BIN` |
//! | `/bin/busybox`, `/bin/sh` | the host's busybox-static (for the test init only) |
//! | `/lib/modules/*.ko`, `/etc/modules.load` | the NIC drivers of `qemu-tests/modules.txt` and their dependencies, in load order |
//! | `/etc/udhcpc.script`, `/etc/reference.sh` | the benchmark's kernel-stack reference |
//! | `/dev/console` | char 5:1, so the kernel can give init a console before devtmpfs is mounted |
//!
//! The modules come from the same Debian kernel package as the `vmlinux` (`kernel.rs`).

use std::path::{Path, PathBuf};

use crate::harness::cpio::Archive;
use crate::harness::kernel::{self, Kernel};
use crate::support::{deps, gzip, util};

pub struct Image {
    pub path: PathBuf,
    pub size: u64,
    /// Module file names in load order.
    pub modules: Vec<String>,
}

pub fn qemu_tests_dir() -> PathBuf {
    util::root().join("qemu-tests")
}

fn read(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

/// Module names listed in `qemu-tests/modules.txt` (comments and blank lines skipped).
pub fn wanted_modules() -> Result<Vec<String>, String> {
    let text = String::from_utf8(read(&qemu_tests_dir().join("modules.txt"))?).map_err(|e| e.to_string())?;
    Ok(text
        .lines()
        .map(|l| l.split('#').next().unwrap_or("").trim())
        .filter(|l| !l.is_empty())
        .map(String::from)
        .collect())
}

/// Writes the initramfs for `flint` and `kernel` to `out`.
pub fn build(flint: &Path, kernel: &Kernel, out: &Path) -> Result<Image, String> {
    let busybox = deps::static_busybox().ok_or("no static busybox on PATH (apt-get install busybox-static)")?;
    let dep_text = String::from_utf8(read(&kernel.modules.join("modules.dep"))?).map_err(|e| e.to_string())?;
    let dep = kernel::parse_modules_dep(&dep_text);
    let wanted = wanted_modules()?;
    let order = kernel::load_order(&dep, &wanted.iter().map(String::as_str).collect::<Vec<_>>())?;

    let tests = qemu_tests_dir();
    let mut a = Archive::new();
    for d in ["proc", "sys", "dev", "run", "tmp", "etc"] {
        a.dir(d, 0o755);
    }
    a.char_dev("dev/console", 0o600, 5, 1);
    a.file("init", 0o755, &read(&tests.join("init.sh"))?);
    a.file("bin/busybox", 0o755, &read(&busybox)?);
    a.symlink("bin/sh", "busybox");
    a.file("bin/flint", 0o755, &read(flint)?);
    a.file("etc/udhcpc.script", 0o755, &read(&tests.join("udhcpc.script"))?);
    a.file("etc/reference.sh", 0o755, &read(&tests.join("reference.sh"))?);
    let mut files = Vec::new();
    for m in &order {
        let rel = &dep[m].0;
        let file = rel.rsplit('/').next().unwrap_or(rel).to_string();
        a.file(&format!("lib/modules/{file}"), 0o644, &read(&kernel.modules.join(rel))?);
        files.push(file);
    }
    let mut list = files.join("\n");
    list.push('\n');
    a.file("etc/modules.load", 0o644, list.as_bytes());
    a.file(
        "etc/flint-initramfs",
        0o644,
        format!("kernel={} ({} {})\nflint={}\n", kernel.release, kernel.package, kernel.version, flint.display())
            .as_bytes(),
    );
    // Level 6: within 0.5 % of level 9 on this content (1.466 vs 1.459 MB), in a fifth of the time.
    let gz = gzip::gzip_level(&a.finish(), None, 6);
    if let Some(dir) = out.parent() {
        std::fs::create_dir_all(dir).map_err(|e| format!("mkdir {}: {e}", dir.display()))?;
    }
    let tmp = out.with_extension("tmp");
    std::fs::write(&tmp, &gz).map_err(|e| format!("{}: {e}", tmp.display()))?;
    std::fs::rename(&tmp, out).map_err(|e| format!("{}: {e}", out.display()))?;
    Ok(Image { path: out.to_path_buf(), size: gz.len() as u64, modules: files })
}

pub fn default_path() -> PathBuf {
    util::target_dir().join("qemu").join("initramfs.cpio.gz")
}
