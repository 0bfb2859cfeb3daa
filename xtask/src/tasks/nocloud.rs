//! `cargo xtask nocloud [FILTER] [--keep]`: the NoCloud cases (`suites/nocloud`, issue #10) with
//! the flint already built (or `$FLINT_BIN`); the suite installs the drive tools, cloud-localds,
//! Ignition and cloud-init when missing.

use crate::suites::nocloud;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&nocloud::SUITE, args, deps::ensure_nocloud)
}
