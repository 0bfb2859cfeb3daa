//! `cargo xtask openstack [FILTER] [--keep]`: the OpenStack cases (`suites/openstack`,
//! docs/openstack.md) with the flint already built (or `$FLINT_BIN`); the suite installs the
//! drive tools, Ignition and cloud-init when missing.

use crate::suites::openstack;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&openstack::SUITE, args, deps::ensure_openstack)
}
