//! `cargo xtask build`: the release build of flint, its ELF checks and its size
//! (`harness/build.rs`).

use crate::harness::build;

pub fn cli(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("build: unexpected `{a}`"));
    }
    build::run().map(|_| ())
}
