//! QEMU: the Ignition config handed to the VM with `-fw_cfg name=opt/com.coreos/config,file=…`.
//!
//! Facts relied on (QEMU `docs/specs/fw_cfg.rst`; Ignition's `internal/providers/qemu/qemu_fwcfg.go`;
//! platforms.md §20):
//! - the kernel's `qemu_fw_cfg` driver (a module in Debian's and Fedora's kernels, loaded by udev
//!   from the firmware's `QEMU0002` ACPI device; flint's dracut module installs it) lists every
//!   item under `/sys/firmware/qemu_fw_cfg/by_name/`, the item's bytes in `<name>/raw`;
//! - Ignition's name for the config is `opt/com.coreos/config`; an item that is not there means
//!   "no config" (Ignition goes on with an empty one at once), so it is a definite "no
//!   user-data" here too, once the driver's directory exists. Until it does (the module still
//!   loading), the directory is looked for again every 250 ms, within the budget;
//! - the item is the config itself, not encoded (gzip is detected as everywhere).
//!
//! Ignition reads `raw` with large reads because each read of that sysfs file walks the item
//! from its start; flint reads it straight into its 1 MiB user-data buffer.

use super::{Drive, Platform, Source, Store};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "qemu", sources: &[Source::Drive(&FW_CFG)] };

const FW_CFG: Drive = Drive {
    store: Store::FwCfg,
    labels: &[],
    user_data: "opt/com.coreos/config/raw",
    encoding: Encoding::Raw,
    cloud_config: None,
    metadata: &[],
    seed_files: &[],
    seed_user_data: None,
    needs_user_data: false,
    kind: None,
    fallback: false,
    network: None,
};
