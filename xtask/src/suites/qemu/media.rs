//! What a scenario's VM gets besides NICs, for both images: its config drive (made by the
//! platform's own tools, the payload as its user-data) and its fw_cfg items.

use std::path::Path;

use super::table::{DriveKind, Scenario};
use crate::harness::qemu::cloud::{self, Served};
use crate::harness::qemu::{self as vm, Disk, FwCfg, cidata};
use crate::harness::{azure, drive};

/// The VM's disks, and the Proxmox drive's files when it has one (what the hand-offs must copy).
pub fn disks(s: &Scenario, served: &Served, dir: &Path) -> Result<(Vec<Disk>, Option<cidata::Drive>), String> {
    let Some(d) = s.drive else { return Ok((Vec::new(), None)) };
    let (image, proxmox) = match d.kind {
        DriveKind::Nova(build) => {
            let spec = drive::Spec { build, ..drive::Spec::nova(served.file.clone()) };
            (drive::build(&spec, &dir.join("drive"))?, None)
        }
        DriveKind::AzureCd => (azure::provisioning_cd(&dir.join("drive"), served.file.as_deref())?, None),
        DriveKind::ProxmoxCidata => {
            let drive = cidata::proxmox(served.file.as_deref().unwrap_or_default(), &vm::mac(0));
            (cidata::build(&drive, &dir.join("drive"))?, Some(drive))
        }
    };
    Ok((vec![Disk { image, bus: d.bus }], proxmox))
}

/// The payload as QEMU's fw_cfg item for Ignition, when the scenario says so.
pub fn fw_cfg(s: &Scenario, served: &Served, dir: &Path) -> Result<Vec<FwCfg>, String> {
    match (s.fw_cfg, served.file.as_deref()) {
        (true, Some(bytes)) => Ok(vec![cloud::ignition_fw_cfg(bytes, dir)?]),
        _ => Ok(Vec::new()),
    }
}
