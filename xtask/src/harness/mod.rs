//! The harness: everything the suites share to run flint and judge a run. Running flint in
//! network namespaces (`netns`, `mountns`, `flint`, `scenario`) and the checks every run gets
//! (`checks`, `report`); the real consumers of flint's hand-offs, Ignition and cloud-init
//! (`consumers`); OpenStack config drives made by the real tools (`drive`) and NoCloud `cidata` drives
//! made as Proxmox, cloud-localds and KubeVirt make them (`cidata`, also for the QEMU Proxmox
//! boots); what the two config-drive suites share to run a case (`drivecase`) and to check its
//! hand-off files and their consumers (`handoff`); the QEMU VM
//! runner (`qemu/`) and the images it boots (`kernel`, `initramfs`, `cpio`, `dracut`);
//! building flint (`build`); the benchmark's stopwatch (`stopwatch`); counting and selecting
//! cases (`tally`). It uses the mock and the support helpers, never a suite or a task.

pub mod azure;
pub mod build;
pub mod checks;
pub mod cidata;
pub mod consumers;
pub mod cpio;
pub mod dracut;
pub mod drive;
pub mod drivecase;
pub mod flint;
pub mod handoff;
pub mod https;
pub mod initramfs;
pub mod kernel;
pub mod mountns;
pub mod netns;
pub mod qemu;
pub mod report;
pub mod scenario;
pub mod stopwatch;
pub mod tally;
