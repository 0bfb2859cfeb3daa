//! `cargo xtask consumers [FILTER] [--keep]`: flint's hand-offs read by Debian's Ignition and
//! cloud-init (`suites/consumers.rs`, docs/consumers.md); the suite installs both.

use crate::suites::consumers;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&consumers::SUITE, args, deps::ensure)
}
