//! `cargo xtask initramfs-tools-test [FILTER] [--keep]`: builds flint (unless `$FLINT_BIN`),
//! then flint's initramfs-tools hook and scripts in a real `mkinitramfs` image
//! (`suites/packaging.rs`, docs/packaging.md).

use crate::harness::build;
use crate::suites::packaging;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&packaging::SUITE, args, || {
        deps::ensure_qemu()?;
        build::built_or_override().map(|_| ())
    })
}
