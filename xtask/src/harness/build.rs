//! `cargo xtask build`: release build of flint for the explicit host triple, then a static
//! check of the resulting ELF and its size.

use std::process::Command;
use std::time::Duration;

use crate::support::{elf, proc, util};

pub struct Built {
    pub path: std::path::PathBuf,
    pub size: u64,
}

/// Builds flint, prints `flint: <bytes> bytes (<KiB> KiB), static …` and returns its size.
pub fn run() -> Result<Built, String> {
    let mut cmd = Command::new(util::cargo());
    cmd.current_dir(util::root()).args([
        "build",
        "--release",
        "--target",
        util::TARGET,
        "-p",
        "flint",
        "--bin",
        "flint",
    ]);
    eprintln!("xtask: {}", proc::describe(&cmd));
    // Release builds with LTO on 2 cores are slow; the bound only guards against a hang.
    let status = proc::run_inherit(&mut cmd, Duration::from_secs(40 * 60))?;
    if !status.success() {
        return Err(format!("cargo build of flint failed ({status})"));
    }
    check(&util::flint_bin())
}

/// Expected-failure build (cortex-m-rt's `fail_examples` idea): relinks flint with
/// `__flint_budget` forced to 4 KiB and requires the linker script's size ASSERT to stop the
/// link. Uses its own target directory so the real release build is neither overwritten nor
/// invalidated.
pub fn budget_assert_fires() -> Result<(), String> {
    let mut cmd = Command::new(util::cargo());
    cmd.current_dir(util::root())
        .env("CARGO_TARGET_DIR", util::target_dir().join("xtask-budget-check"))
        .args(["rustc", "--release", "--target", util::TARGET, "-p", "flint", "--bin", "flint", "--"])
        .args(["-C", "link-arg=-Wl,--defsym=__flint_budget=4096"]);
    eprintln!("xtask: {} (must fail)", proc::describe(&cmd));
    let out = proc::run_capture(&mut cmd, Duration::from_secs(40 * 60))?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Err("flint linked with a 4 KiB budget: the size ASSERT in linker/flint.ld did not fire".into());
    }
    if !stderr.contains("over its size budget") {
        return Err(format!("the budget build failed, but not at the size ASSERT:\n{}", util::tail(&stderr, 15)));
    }
    Ok(())
}

/// The flint a demo or benchmark runs: `$FLINT_BIN` as is when set (no build, no static
/// check: it may be a stand-in), else a fresh release build.
pub fn built_or_override() -> Result<Built, String> {
    match std::env::var_os("FLINT_BIN") {
        Some(p) => {
            let path = std::path::PathBuf::from(p);
            let size = std::fs::metadata(&path).map_err(|e| format!("FLINT_BIN {}: {e}", path.display()))?.len();
            eprintln!("xtask: using FLINT_BIN={} ({size} bytes), not building", path.display());
            Ok(Built { path, size })
        }
        None => run(),
    }
}

/// Static check + size report of an already built binary.
pub fn check(path: &std::path::Path) -> Result<Built, String> {
    let bytes = std::fs::read(path).map_err(|e| format!("read {}: {e}", path.display()))?;
    let info = elf::parse(&bytes).map_err(|e| format!("{}: {e}", path.display()))?;
    elf::check_x86_64(&info)?;
    if info.has_interp {
        return Err(format!("{} has PT_INTERP: it is dynamically linked", path.display()));
    }
    if !info.is_static() {
        return Err(format!(
            "{} has PT_DYNAMIC ({}): not fully static (static-pie?)",
            path.display(),
            info.type_name()
        ));
    }
    let size = bytes.len() as u64;
    println!(
        "flint: {size} bytes ({:.1} KiB), fully static ({}, no PT_INTERP, no PT_DYNAMIC): {}",
        size as f64 / 1024.0,
        info.type_name(),
        path.display()
    );
    Ok(Built { path: path.to_path_buf(), size })
}
