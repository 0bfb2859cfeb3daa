//! `cargo xtask azure [FILTER] [--keep]`: the Azure cases (`suites/azure`) with the flint
//! already built (or `$FLINT_BIN`); the suite installs genisoimage and Ignition when missing.

use crate::suites::azure;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&azure::SUITE, args, deps::ensure_openstack)
}
