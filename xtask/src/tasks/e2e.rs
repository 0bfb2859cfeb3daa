//! `cargo xtask e2e [FILTER] [--keep]`: the end-to-end scenarios (`suites/e2e.rs`) with the
//! flint already built (or `$FLINT_BIN`).

use crate::suites::e2e;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&e2e::SUITE, args, deps::ensure)
}
