//! Link flags for the `flint` binary only (`rustc-link-arg-bins`): never for build scripts,
//! proc macros, tests or xtask, which share the host triple.
//!
//! - `-nostartfiles`: flint has its own `_start` (src/sys/mod.rs); there is no C runtime.
//! - `-static`: a fully static ET_EXEC with no interpreter and no dynamic section; it overrides
//!   rustc's `-pie`, so no relocations need applying at start (nobody would apply them).
//! - `-T linker/flint.ld`: the section layout and the size budget ASSERT.
//! - `--no-eh-frame-hdr`, `--build-id=none`: nothing unwinds under panic=abort; no build-id
//!   note is needed in an initramfs binary.
//! - Only outside the release profile: `--defsym=__flint_unbudgeted=1` waives the size budget
//!   ASSERT. The budget is the shipped binary's (release, LTO, `opt-level = "s"`); a debug build
//!   is about twice as large, and a plain `cargo build` must still link.
fn main() {
    let dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    println!("cargo:rerun-if-changed=linker/flint.ld");
    println!("cargo:rerun-if-changed=build.rs");
    for arg in ["-nostartfiles", "-static", "-Wl,--no-eh-frame-hdr", "-Wl,--build-id=none", "-Wl,--gc-sections"] {
        println!("cargo:rustc-link-arg-bins={arg}");
    }
    println!("cargo:rustc-link-arg-bins=-Wl,-T,{dir}/linker/flint.ld");
    if std::env::var("PROFILE").as_deref() != Ok("release") {
        println!("cargo:rustc-link-arg-bins=-Wl,--defsym=__flint_unbudgeted=1");
    }
}
