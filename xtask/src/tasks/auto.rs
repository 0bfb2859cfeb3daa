//! `cargo xtask auto [FILTER] [--keep]`: the `--platform auto` cases (`suites/auto`, issue #12)
//! with the flint already built (or `$FLINT_BIN`).

use crate::suites::auto;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&auto::SUITE, args, deps::ensure)
}
