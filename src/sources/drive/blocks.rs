//! The machine's block devices as the drive sources see them: each device [`scan`]
//! finds (or the one `--drive` names) is probed for an ISO 9660 or FAT filesystem, and that
//! filesystem is offered through the [`Drives`] seam.

use core::ffi::CStr;

use super::scan::{self, BlockFile};
use super::{DriveError, Drives, Filesystem, Medium, Volume, probe};
use crate::fmt::{Bytes, ErrnoName};

/// Where the kernel lists every block device (disks, partitions, CD drives, loop devices),
/// whatever udev has or has not done yet.
const SYSFS: &CStr = c"/sys/class/block";
const DEV: &CStr = c"/dev";
/// Where a node missing from `/dev` is made: on the devtmpfs, since systemd mounts `/run`
/// `nodev` in the initrd (a node there cannot be opened). Each is unlinked once open.
const PRIVATE: &CStr = c"/dev/.flint";

/// Longest `--drive` path.
const PATH_MAX: usize = 1024;

/// The block devices of this machine, or the one device or image `--drive` names.
pub struct BlockDevices<'p> {
    drive: Option<&'p [u8]>,
    /// A failure already logged (it would repeat at every rescan).
    said: bool,
}

impl<'p> BlockDevices<'p> {
    pub fn new(drive: Option<&'p [u8]>) -> Self {
        BlockDevices { drive, said: false }
    }
}

/// A probed volume and the device it is on.
struct Found<'m> {
    name: &'m [u8],
    volume: Volume,
    medium: &'m mut dyn Medium,
}

impl Filesystem for Found<'_> {
    fn device(&self) -> &[u8] {
        self.name
    }

    fn label(&self) -> &[u8] {
        self.volume.label()
    }

    fn kind(&self) -> &'static str {
        self.volume.describe()
    }

    fn read(&mut self, path: &[u8], out: &mut [u8]) -> Result<Option<usize>, DriveError> {
        self.volume.read_file(self.medium, path, out)
    }
}

/// Probes one device and offers what it holds.
fn offer(name: &[u8], medium: &mut dyn Medium, visit: &mut dyn FnMut(&mut dyn Filesystem) -> bool) -> bool {
    match probe(medium) {
        Ok(Some(volume)) => visit(&mut Found { name, volume, medium }),
        Ok(None) => false,
        Err(e) => {
            debug!("drive", "{}: {e}", Bytes(name));
            false
        }
    }
}

impl Drives for BlockDevices<'_> {
    fn scan(&mut self, visit: &mut dyn FnMut(&mut dyn Filesystem) -> bool) {
        match self.drive {
            Some(path) => {
                let mut c = [0u8; PATH_MAX + 1];
                let n = path.len().min(PATH_MAX);
                c[..n].copy_from_slice(&path[..n]);
                let opened =
                    CStr::from_bytes_until_nul(&c).map_err(|_| rustix::io::Errno::INVAL).and_then(BlockFile::open);
                match opened {
                    Ok(mut file) => {
                        offer(path, &mut file, visit);
                    }
                    Err(e) => info!("drive", "{}: {}", Bytes(path), ErrnoName(e)),
                }
            }
            None => {
                if let Err(e) = scan::scan(SYSFS, DEV, PRIVATE, &mut |name, file| offer(name, file, visit))
                    && !self.said
                {
                    info!("drive", "cannot list {}: {}", Bytes(SYSFS.to_bytes()), ErrnoName(e));
                    self.said = true;
                }
            }
        }
    }

    fn explicit(&self) -> bool {
        self.drive.is_some()
    }
}
