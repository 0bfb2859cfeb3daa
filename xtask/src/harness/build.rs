//! Building flint: the release build for the explicit host triple, then a static check of the
//! resulting ELF (no interpreter, no dynamic section, nothing left for a dynamic loader) and
//! its size; and the expected-failure links that prove the guard rails fire.

use std::process::Command;
use std::time::Duration;

use crate::support::{elf, proc, util};

pub struct Built {
    pub path: std::path::PathBuf,
    pub size: u64,
}

/// Compiler flags of the shipped build, for flint and every crate it links (with `--target`
/// explicit they reach neither build scripts nor xtask). Measured on the issue-10 binary:
///
/// - `-Zlocation-detail=none`: no file, line and column for each of the few hundred panic
///   sites (bounds checks, `unwrap`s in smoltcp and miniz_oxide): -9.0 KB. A panic is a bug
///   in flint and still says so (`flint: error: internal: panic`), just not where.
/// - `-Cllvm-args=-inline-threshold=50` with `opt-level = "z"` (Cargo.toml): "z" alone
///   inlines so little that call sequences outweigh bodies; thresholds 35–70 all give
///   168.7–170.2 KB, 50 the least, against 174.7 KB for "s" with its best threshold (10);
///   `cargo xtask bench` keeps watch over the time.
/// - `-Crelocation-model=static` (measured on the issue-11 binary: -1.7 KB): flint is linked as
///   a fully static ET_EXEC at a fixed address (`build.rs`: `-static`, `linker/flint.ld`), so
///   position-independent code buys nothing; without it every address of a static is taken
///   through a longer RIP-relative/GOT sequence the linker can only partly relax.
/// - `-Cllvm-args=-enable-machine-outliner=always` (-1.2 KB on top): LLVM moves instruction
///   sequences repeated across functions into shared outlined functions, a call each; the
///   cost is a call and return on those paths, which `cargo xtask bench` shows no trace of.
///
/// `-Z` flags are unstable: `RUSTC_BOOTSTRAP=1` lets the stable compiler take them, as the
/// Linux kernel's Rust build does. `build.rs` enforces the size budget only on a release build
/// that has them (a plain `cargo build --release` still links, with a warning).
pub const SHIPPED_RUSTFLAGS: [&str; 4] = [
    "-Zlocation-detail=none",
    "-Cllvm-args=-inline-threshold=50",
    "-Crelocation-model=static",
    "-Cllvm-args=-enable-machine-outliner=always",
];

/// `cmd` (a cargo build of flint) with the shipped build's compiler flags.
fn shipped(cmd: &mut Command) -> &mut Command {
    cmd.env("RUSTC_BOOTSTRAP", "1").env("CARGO_ENCODED_RUSTFLAGS", SHIPPED_RUSTFLAGS.join("\x1f"))
}

/// `cargo build --release --target <host triple> -p flint --bin flint` in the workspace root,
/// with the shipped build's flags.
fn release_build() -> Command {
    let mut cmd = Command::new(util::cargo());
    cmd.current_dir(util::root()).args(["build", "--release", "--target", util::TARGET]);
    cmd.args(["-p", "flint", "--bin", "flint"]);
    shipped(&mut cmd);
    cmd
}

/// Runs a release build with its output on the terminal; `what` names it in the error.
fn run_release_build(mut cmd: Command, what: &str) -> Result<(), String> {
    eprintln!("xtask: {}", proc::describe(&cmd));
    // Release builds with LTO on 2 cores are slow; the bound only guards against a hang.
    let status = proc::run_inherit(&mut cmd, Duration::from_secs(40 * 60))?;
    if !status.success() {
        return Err(format!("cargo build of {what} failed ({status})"));
    }
    Ok(())
}

/// Builds flint, prints `flint: <bytes> bytes (<KiB> KiB), static …` and returns its size.
pub fn run() -> Result<Built, String> {
    run_release_build(release_build(), "flint")?;
    check(&util::flint_bin())
}

/// The release build again with its symbol table kept (`strip = false`), in its own target
/// directory, for `cargo xtask size`: the same code, layout and size but the section headers
/// and `.symtab`, which a stripped build drops.
pub fn unstripped() -> Result<std::path::PathBuf, String> {
    let dir = util::target_dir().join("xtask-size");
    let mut cmd = release_build();
    // Under RUSTC_BOOTSTRAP rustc mangles the v0 way, as a nightly does; the symbol reader
    // (`support::symbols`) reads legacy names. Names only: the code is the same.
    let flags = [&SHIPPED_RUSTFLAGS[..], &["-Zunstable-options", "-Csymbol-mangling-version=legacy"]].concat();
    cmd.env("CARGO_TARGET_DIR", &dir)
        .env("CARGO_PROFILE_RELEASE_STRIP", "false")
        .env("CARGO_ENCODED_RUSTFLAGS", flags.join("\x1f"));
    run_release_build(cmd, "flint (unstripped)")?;
    Ok(dir.join(util::TARGET).join("release/flint"))
}

/// Expected-failure build (cortex-m-rt's `fail_examples` idea): relinks flint with
/// `__flint_budget` forced to 4 KiB and requires the linker script's size ASSERT to stop the
/// link. Uses its own target directory so the real release build is neither overwritten nor
/// invalidated.
pub fn budget_assert_fires() -> Result<(), String> {
    let mut cmd = Command::new(util::cargo());
    shipped(&mut cmd)
        .current_dir(util::root())
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

/// What the dynamic-relocation negative test links into flint: one call into libc through
/// its GOT slot, which is how rustc compiles any call into the `libc` crate on x86-64 (no PLT),
/// so the link ends up exactly like a dependency that pulls in that crate.
const LIBC_PROBE_C: &str = "\
/* Written by `cargo xtask test` (libc-link-refused); never part of flint. */
extern int getpid(void);
int flint_libc_probe(void) { return getpid(); }
";

/// Expected-failure build: flint linked with a call into libc.so (`-l dylib=c`, what the libc
/// crate's `#[link(name = "c")]` adds, plus the probe above kept by `--undefined`), in its own
/// target directory. The dynamic-relocation ASSERT of `linker/flint.ld` must stop the link;
/// then, with that ASSERT waived (`__flint_allow_dynamic_relocs`), the link goes through and
/// `check` must refuse the binary. Either guard missing fails the test. Returns what `check`
/// said.
pub fn libc_link_refused() -> Result<String, String> {
    let dir = util::target_dir().join("xtask-libc-check");
    std::fs::create_dir_all(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let (source, object) = (dir.join("probe.c"), dir.join("probe.o"));
    std::fs::write(&source, LIBC_PROBE_C).map_err(|e| format!("{}: {e}", source.display()))?;
    let mut cc = Command::new(util::tool("cc"));
    cc.args(["-c", "-O2", "-fPIC", "-fno-plt", "-o"]).arg(&object).arg(&source);
    proc::run_ok(&mut cc, Duration::from_secs(60))?;
    let link = |waive: bool| {
        let mut cmd = Command::new(util::cargo());
        shipped(&mut cmd)
            .current_dir(util::root())
            .env("CARGO_TARGET_DIR", dir.join("target"))
            .args(["rustc", "--release", "--target", util::TARGET, "-p", "flint", "--bin", "flint", "--"])
            .args(["-l", "dylib=c", "-C"])
            .arg(format!("link-arg={}", object.display()))
            .args(["-C", "link-arg=-Wl,--undefined=flint_libc_probe"])
            // The probe's bytes must not trip the size ASSERT first: this test is about the
            // dynamic-relocation guards (the budget has its own expected-failure link).
            .args(["-C", "link-arg=-Wl,--defsym=__flint_unbudgeted=1"]);
        if waive {
            cmd.args(["-C", "link-arg=-Wl,--defsym=__flint_allow_dynamic_relocs=1"]);
        }
        eprintln!("xtask: {}{}", proc::describe(&cmd), if waive { "" } else { " (must fail)" });
        proc::run_capture(&mut cmd, Duration::from_secs(40 * 60))
    };
    let out = link(false)?;
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.success() {
        return Err(
            "flint linked with a call into libc.so: the dynamic-relocation ASSERT in linker/flint.ld did not fire"
                .into(),
        );
    }
    if !stderr.contains("flint needs dynamic relocations") {
        return Err(format!("the libc build failed, but not at the ASSERT:\n{}", util::tail(&stderr, 15)));
    }
    let out = link(true)?;
    if !out.status.success() {
        let stderr = String::from_utf8_lossy(&out.stderr);
        return Err(format!("with the ASSERT waived the libc build still failed:\n{}", util::tail(&stderr, 15)));
    }
    let binary = dir.join("target").join(util::TARGET).join("release").join("flint");
    match check(&binary) {
        Ok(_) => Err("`cargo xtask build`'s ELF check accepted a binary with a call into libc.so".into()),
        Err(e) if e.contains("dynamic loader") => Ok(e),
        Err(e) => Err(format!("the ELF check refused the libc build, but for another reason: {e}")),
    }
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

/// Most initialised writable data the binary may carry: a few statics with non-zero values.
const DATA_MAX: u64 = 1024;

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
    let dynamic = elf::dynamic_linking(&bytes, &info);
    if !dynamic.is_empty() {
        return Err(format!(
            "{} needs a dynamic loader, and none runs before _start: {}. A symbol was resolved \
             against a shared library: usually a dependency that pulls in the libc crate \
             (`cargo tree -p flint -e normal -i libc`)",
            path.display(),
            dynamic.join("; ")
        ));
    }
    // Every buffer is a zero-initialised static in `.bss`; one non-zero byte in a buffer's
    // initial value moves it whole into `.data`, in the file (the TLS client's 38 KB did, once).
    if let Some(data) = info.sections.iter().find(|s| s.name == ".data").filter(|s| s.size > DATA_MAX) {
        return Err(format!(
            "{}: .data is {} bytes (at most {DATA_MAX}): a reserved static's initial value is not all \
             zero bytes, so it is stored in the file; make it zero (or `cargo xtask size` names it)",
            path.display(),
            data.size
        ));
    }
    let size = bytes.len() as u64;
    println!(
        "flint: {size} bytes ({:.1} KiB), fully static ({}, no PT_INTERP, no PT_DYNAMIC, no dynamic relocations): {}",
        size as f64 / 1024.0,
        info.type_name(),
        path.display()
    );
    Ok(Built { path: path.to_path_buf(), size })
}
