//! `cargo xtask platforms [FILTER] [--keep]`: issue #12's metadata platforms (`suites/platforms`)
//! with the flint already built (or `$FLINT_BIN`); installs the drive tools, Ignition and
//! cloud-init when missing.

use crate::suites::platforms;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&platforms::SUITE, args, deps::ensure_nocloud)
}
