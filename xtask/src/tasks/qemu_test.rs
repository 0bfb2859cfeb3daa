//! `cargo xtask qemu-test [FILTER] [--keep]`: builds flint (unless `$FLINT_BIN`) and boots the
//! QEMU scenarios of `qemu-tests/scenarios.json` (`suites/qemu/`).

use crate::harness::build;
use crate::suites::qemu;
use crate::support::{deps, util};

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&qemu::SUITE, args, || {
        util::require_root("cargo xtask qemu-test")?;
        deps::ensure_qemu()?;
        build::built_or_override().map(|_| ())
    })
}
