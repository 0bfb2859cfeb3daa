//! Link flags for the `flint` binary only (`rustc-link-arg-bins`): never for build scripts,
//! proc macros, tests or xtask, which share the host triple.
//!
//! - `-nostartfiles`: flint has its own `_start` (src/sys/mod.rs); there is no C runtime.
//! - `-static`: a fully static ET_EXEC with no interpreter and no dynamic section; it overrides
//!   rustc's `-pie`, so no relocations need applying at start (nobody would apply them).
//! - `-T linker/flint.ld`: the section layout and the size budget ASSERT.
//! - `--no-eh-frame-hdr`, `--build-id=none`: nothing unwinds under panic=abort; no build-id
//!   note is needed in an initramfs binary.
//! - `--defsym=__flint_unbudgeted=1` waives the size budget ASSERT on every build but the
//!   shipped one: the release profile (LTO, `opt-level = "z"`) with the compiler flags `cargo
//!   xtask build` adds (`SHIPPED_RUSTFLAGS` in xtask/src/harness/build.rs; without
//!   `-Zlocation-detail=none` the binary is 9 KB larger). A debug build is about twice as
//!   large, and a plain `cargo build` or `cargo build --release` must still link.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker/flint.ld");
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=CARGO_ENCODED_RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=RUSTFLAGS");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    // The build's date: a real-time clock earlier than this is taken as unset (certificate
    // dates are then checked at this time). SOURCE_DATE_EPOCH keeps builds reproducible.
    let epoch = std::env::var("SOURCE_DATE_EPOCH").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or_else(|| {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
    });
    println!("cargo:rustc-env=FLINT_BUILD_EPOCH={epoch}");
    for arg in ["-nostartfiles", "-static", "-Wl,--no-eh-frame-hdr", "-Wl,--build-id=none", "-Wl,--gc-sections"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/linker/flint.ld");
    // The flags of the crate being built (cargo's 0x1f-separated form), not of this script.
    let flags = std::env::var("CARGO_ENCODED_RUSTFLAGS").unwrap_or_default();
    let shipped_flags = flags.split('\x1f').any(|f| f == "-Zlocation-detail=none");
    let release = std::env::var("PROFILE").as_deref() == Ok("release");
    if !(release && shipped_flags) {
        if release {
            println!("cargo:warning=not the shipped build (build with `cargo xtask build`): size budget not enforced");
        }
        println!("cargo:rustc-link-arg-bins=-Wl,--defsym=__flint_unbudgeted=1");
    }
}
