//! The machine's block devices as the drive sources see them: each device [`scan`]
//! finds (or the one `--drive` names) is probed for an ISO 9660 or FAT filesystem, and that
//! filesystem is offered through the [`Drives`] seam.

use core::ffi::CStr;

use rustix::fd::OwnedFd;
use rustix::fs::{Mode, OFlags};

use super::scan::{self, BlockFile};
use super::{DriveError, Drives, Filesystem, Medium, Store, Volume, probe};
use crate::fmt::{Bytes, ErrnoName};

/// Where the kernel lists every block device (disks, partitions, CD drives, loop devices),
/// whatever udev has or has not done yet.
const SYSFS: &CStr = c"/sys/class/block";
const DEV: &CStr = c"/dev";
/// Where a node missing from `/dev` is made: on the devtmpfs, since systemd mounts `/run`
/// `nodev` in the initrd (a node there cannot be opened). Each is unlinked once open.
const PRIVATE: &CStr = c"/dev/.flint";

/// Where the kernel's `qemu_fw_cfg` driver lists QEMU's fw_cfg items by name.
const FW_CFG: &CStr = c"/sys/firmware/qemu_fw_cfg/by_name";

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

/// QEMU's fw_cfg items as files: `<name>/raw` under the driver's `by_name` directory.
struct SysfsDir {
    dir: OwnedFd,
}

impl SysfsDir {
    /// The directory, when the driver shows it (`None` before `qemu_fw_cfg` is loaded).
    fn open(path: &CStr) -> Option<SysfsDir> {
        let dir = rustix::fs::open(path, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
        Some(SysfsDir { dir })
    }
}

impl Filesystem for SysfsDir {
    fn device(&self) -> &[u8] {
        FW_CFG.to_bytes()
    }

    fn label(&self) -> &[u8] {
        b""
    }

    fn kind(&self) -> &'static str {
        "fw_cfg"
    }

    /// Reads the file whole; `Ok(None)` when the item is not there. Bounded: each read makes
    /// progress into `out`, and one byte past `out` proves the file too large.
    fn read(&mut self, path: &[u8], out: &mut [u8]) -> Result<Option<usize>, DriveError> {
        let mut c = [0u8; 256];
        let name = c.get_mut(..path.len()).ok_or(DriveError::Unsupported)?;
        name.copy_from_slice(path);
        let name = CStr::from_bytes_until_nul(&c).map_err(|_| DriveError::Unsupported)?;
        let file = match rustix::fs::openat(&self.dir, name, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()) {
            Ok(f) => f,
            Err(rustix::io::Errno::NOENT) => return Ok(None),
            Err(_) => return Err(DriveError::Io),
        };
        let mut len = 0;
        let mut interrupted = 0;
        loop {
            let mut probe = [0u8; 1];
            let buf = match out.get_mut(len..) {
                Some(b) if !b.is_empty() => b,
                _ => &mut probe[..],
            };
            match rustix::io::read(&file, buf) {
                Ok(0) => return Ok(Some(len)),
                Ok(_) if len == out.len() => return Err(DriveError::TooLarge),
                Ok(n) => len += n,
                Err(rustix::io::Errno::INTR) if interrupted < 8 => interrupted += 1,
                Err(_) => return Err(DriveError::Io),
            }
        }
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
    fn scan(&mut self, store: Store, visit: &mut dyn FnMut(&mut dyn Filesystem) -> bool) {
        if store == Store::FwCfg {
            if let Some(mut dir) = SysfsDir::open(FW_CFG) {
                visit(&mut dir);
            }
            return;
        }
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

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;

    #[test]
    fn fw_cfg_items_read_whole_missing_is_none_and_too_large_is_refused() {
        let root = std::env::temp_dir().join(std::format!("flint-fwcfg-{}", std::process::id()));
        let item = root.join("opt/com.coreos/config");
        std::fs::create_dir_all(&item).unwrap();
        std::fs::write(item.join("raw"), b"{\"ignition\":{\"version\":\"3.3.0\"}}").unwrap();
        let path = std::ffi::CString::new(root.as_os_str().as_encoded_bytes()).unwrap();
        let mut dir = SysfsDir::open(&path).unwrap();
        let mut out = [0u8; 64];
        let n = dir.read(b"opt/com.coreos/config/raw", &mut out).unwrap().unwrap();
        assert_eq!(&out[..n], b"{\"ignition\":{\"version\":\"3.3.0\"}}");
        assert_eq!(dir.read(b"opt/com.example/other/raw", &mut out), Ok(None));
        assert_eq!(dir.read(b"opt/com.coreos/config/raw", &mut out[..n - 1]), Err(DriveError::TooLarge));
        assert_eq!(dir.read(b"opt/com.coreos/config/raw", &mut out[..n]).unwrap(), Some(n), "exactly full is fine");
        std::fs::remove_dir_all(&root).unwrap();
        assert!(SysfsDir::open(&path).is_none(), "no driver, no directory");
    }
}
