//! `cargo xtask gcp [FILTER] [--keep]`: the GCP cases (`suites/gcp`) with the flint already
//! built (or `$FLINT_BIN`); installs Ignition and cloud-init when missing.

use crate::suites::gcp;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&gcp::SUITE, args, deps::ensure_consumers)
}
