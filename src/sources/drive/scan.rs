//! The I/O side of drive sources: finding block devices in sysfs and opening them read-only.
//!
//! The only module under `sources/` that makes system calls, all through safe `rustix`
//! wrappers. [`scan`] lists a sysfs `class/block` directory (every disk, partition, CD drive
//! and loop device the kernel knows, whatever udev has or has not done yet), finds each one's
//! node in `/dev` by its `dev` numbers — or makes one in a private directory when `/dev` lacks
//! it — opens it, and hands it to a visitor as a [`BlockFile`], a [`Medium`] read with
//! `pread`.
//!
//! The private directory must be on a filesystem that allows device nodes: systemd mounts
//! `/run` with `nodev` in the initrd, so a node made there cannot be opened (EACCES); a
//! directory under the `/dev` devtmpfs can. Each node made there is unlinked as soon as it is
//! open.

use core::ffi::CStr;
use core::mem::MaybeUninit;

use rustix::fd::{AsFd, OwnedFd};
use rustix::fs::{self, FileType, Mode, OFlags, RawDir};
use rustix::io::{self, Errno};

use super::{DriveError, Medium};
use crate::fmt::parse_decimal;

/// Most entries of the sysfs directory looked at in one scan.
pub const DEVICES_MAX: usize = 64;
/// Longest device name: the kernel's DISK_NAME_LEN.
const NAME_MAX: usize = 32;
/// How often a read interrupted by a signal is tried again.
const EINTR_RETRIES: u32 = 8;

/// A block device (or an image file) open read-only.
pub struct BlockFile {
    fd: OwnedFd,
    last: Option<Errno>,
}

impl BlockFile {
    /// Opens `path`, a block device or a plain image file (`--drive PATH`). O_NONBLOCK: a CD
    /// drive with an empty tray then fails at once with ENOMEDIUM instead of waiting for the
    /// tray (cdrom_open); reads of block devices and files ignore the flag.
    pub fn open(path: &CStr) -> Result<BlockFile, Errno> {
        open_at(fs::CWD, path)
    }

    /// The error of the last read that failed (a [`Medium`] only says [`DriveError::Io`]).
    pub fn last_error(&self) -> Option<Errno> {
        self.last
    }
}

impl Medium for BlockFile {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, DriveError> {
        let mut tries = 0;
        loop {
            match io::pread(&self.fd, &mut *buf, offset) {
                Ok(n) => return Ok(n),
                Err(Errno::INTR) if tries < EINTR_RETRIES => tries += 1,
                Err(e) => {
                    self.last = Some(e);
                    return Err(DriveError::Io);
                }
            }
        }
    }
}

fn open_at(dir: impl AsFd, path: &CStr) -> Result<BlockFile, Errno> {
    let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NONBLOCK | OFlags::NOCTTY;
    let fd = fs::openat(dir, path, flags, Mode::empty())?;
    Ok(BlockFile { fd, last: None })
}

/// Opens every block device listed in `sysfs` (a `class/block` directory, normally
/// `/sys/class/block`) and hands it to `visit` with its name, until `visit` returns true (stop)
/// or [`DEVICES_MAX`] entries were looked at. Returns how many devices were handed over.
///
/// Skipped: `ram*` and `zram*` (never a config drive), devices of size 0 (an unbound loop
/// device, a partition table's extended-partition stub) except CD drives (`sr*`, whose size is
/// only known once opened), a tray that is empty (ENOMEDIUM), and any device that cannot be
/// opened. The node is `dev_dir/NAME` when that is a block device with the device's numbers
/// (or a plain file, which tests put there); otherwise a node is made in `private_dir`
/// (created 0700 if missing) with `mknodat`, mode 0600, opened and unlinked again.
///
/// Errors: only when `sysfs` cannot be listed.
pub fn scan(
    sysfs: &CStr,
    dev_dir: &CStr,
    private_dir: &CStr,
    visit: &mut dyn FnMut(&[u8], &mut BlockFile) -> bool,
) -> Result<usize, Errno> {
    let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
    let class = fs::open(sysfs, dir_flags, Mode::empty())?;
    let dev = fs::open(dev_dir, dir_flags, Mode::empty()).ok();
    let mut listing = [MaybeUninit::uninit(); 4096];
    let mut entries = RawDir::new(&class, &mut listing);
    let mut looked = 0;
    let mut handed = 0;
    while let Some(entry) = entries.next() {
        let entry = entry?;
        let raw = entry.file_name().to_bytes();
        if raw.first() == Some(&b'.') {
            continue;
        }
        looked += 1;
        if looked > DEVICES_MAX {
            break;
        }
        if raw.starts_with(b"ram") || raw.starts_with(b"zram") {
            continue;
        }
        let mut buf = [0u8; NAME_MAX + 1];
        let Some(name) = cstr(&mut buf, &[raw]) else { continue };
        let Some(mut file) = open_device(&class, dev.as_ref(), private_dir, name) else { continue };
        handed += 1;
        if visit(name.to_bytes(), &mut file) {
            break;
        }
    }
    Ok(handed)
}

/// Reads the device's numbers and size from sysfs and opens its node.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn open_device(class: &OwnedFd, dev: Option<&OwnedFd>, private_dir: &CStr, name: &CStr) -> Option<BlockFile> {
    let mut buf = [0u8; 32];
    let (major, minor) = parse_dev(read_attr(class, name, b"dev", &mut buf)?)?;
    // `size` is in 512-byte sectors whatever the device's block size.
    let size = parse_decimal(read_attr(class, name, b"size", &mut buf)?)?;
    if size == 0 && !name.to_bytes().starts_with(b"sr") {
        return None;
    }
    let devno = fs::makedev(major, minor);
    if let Some(dev) = dev {
        match open_at(dev, name) {
            Ok(f) => match fs::fstat(&f.fd) {
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::RegularFile => return Some(f),
                Ok(st) if FileType::from_raw_mode(st.st_mode) == FileType::BlockDevice && st.st_rdev == devno => {
                    return Some(f);
                }
                // Some other node has the name: make our own.
                _ => {}
            },
            Err(Errno::NOENT) => {}
            Err(_) => return None,
        }
    }
    private_node(private_dir, name, devno)
}

/// Makes `private_dir/NAME` for `devno`, opens it and unlinks it.
fn private_node(private_dir: &CStr, name: &CStr, devno: fs::Dev) -> Option<BlockFile> {
    make_dirs(private_dir);
    let dir = fs::open(private_dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let mode = Mode::RUSR | Mode::WUSR;
    if fs::mknodat(&dir, name, FileType::BlockDevice, mode, devno) == Err(Errno::EXIST) {
        // Left from an earlier run: it may name another device.
        fs::unlinkat(&dir, name, fs::AtFlags::empty()).ok()?;
        fs::mknodat(&dir, name, FileType::BlockDevice, mode, devno).ok()?;
    }
    let file = open_at(&dir, name);
    let _ = fs::unlinkat(&dir, name, fs::AtFlags::empty());
    file.ok()
}

/// `mkdir -p` with mode 0700; failures show when the directory is opened.
fn make_dirs(path: &CStr) {
    let mut buf = [0u8; 256];
    let Some(p) = cstr(&mut buf, &[path.to_bytes()]) else { return };
    let len = p.to_bytes().len();
    for i in 1..=len {
        if i == len || buf[i] == b'/' {
            let keep = core::mem::replace(&mut buf[i], 0);
            if let Ok(dir) = CStr::from_bytes_until_nul(&buf) {
                let _ = fs::mkdir(dir, Mode::RWXU);
            }
            buf[i] = keep;
        }
    }
}

/// `parts` joined and NUL-terminated in `buf`; None when they do not fit or hold a NUL.
fn cstr<'b>(buf: &'b mut [u8], parts: &[&[u8]]) -> Option<&'b CStr> {
    let mut len = 0;
    for p in parts {
        buf.get_mut(len..len + p.len())?.copy_from_slice(p);
        len += p.len();
    }
    *buf.get_mut(len)? = 0;
    CStr::from_bytes_with_nul(&buf[..=len]).ok()
}

/// The contents of sysfs attribute `NAME/attr`, trimmed of its newline.
fn read_attr<'b>(class: &OwnedFd, name: &CStr, attr: &[u8], buf: &'b mut [u8; 32]) -> Option<&'b [u8]> {
    let mut path = [0u8; NAME_MAX + 8];
    let path = cstr(&mut path, &[name.to_bytes(), b"/", attr])?;
    let fd = fs::openat(class, path, OFlags::RDONLY | OFlags::CLOEXEC, Mode::empty()).ok()?;
    let n = io::read(&fd, &mut buf[..]).ok()?;
    let text = &buf[..n];
    Some(text.strip_suffix(b"\n").unwrap_or(text))
}

/// `MAJ:MIN`, the `dev` attribute.
fn parse_dev(text: &[u8]) -> Option<(u32, u32)> {
    let colon = text.iter().position(|&b| b == b':')?;
    let major = u32::try_from(parse_decimal(&text[..colon])?).ok()?;
    let minor = u32::try_from(parse_decimal(&text[colon + 1..])?).ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::tests::{fixture, source};
    use super::super::{Kind, probe};
    use super::*;
    use std::ffi::CString;
    use std::path::{Path, PathBuf};
    use std::string::String;
    use std::vec::Vec;

    /// A fresh directory under the system's temp dir, removed on drop.
    struct TempDir(PathBuf);

    impl TempDir {
        fn new(tag: &str) -> TempDir {
            static N: core::sync::atomic::AtomicU32 = core::sync::atomic::AtomicU32::new(0);
            let n = N.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
            let p = std::env::temp_dir().join(std::format!("flint-scan-{tag}-{}-{n}", std::process::id()));
            let _ = std::fs::remove_dir_all(&p);
            std::fs::create_dir_all(&p).unwrap();
            TempDir(p)
        }
    }

    impl Drop for TempDir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn c(p: &Path) -> CString {
        CString::new(p.to_str().unwrap()).unwrap()
    }

    /// A fake `class/block` entry: `dev` and `size` attributes.
    fn device(sys: &Path, name: &str, dev: &str, size: u64) {
        let d = sys.join(name);
        std::fs::create_dir_all(&d).unwrap();
        std::fs::write(d.join("dev"), std::format!("{dev}\n")).unwrap();
        std::fs::write(d.join("size"), std::format!("{size}\n")).unwrap();
    }

    /// Scans and returns (name, label, kind) of every device holding a filesystem.
    fn labels(sys: &Path, dev: &Path, private: &Path) -> (usize, Vec<(String, Vec<u8>, Kind)>) {
        let mut found = Vec::new();
        let n = scan(&c(sys), &c(dev), &c(private), &mut |name, f| {
            if let Ok(Some(v)) = probe(f) {
                found.push((String::from_utf8(name.to_vec()).unwrap(), v.label().to_vec(), v.kind()));
            }
            false
        })
        .unwrap();
        found.sort_by(|a, b| a.0.cmp(&b.0));
        (n, found)
    }

    #[test]
    fn finds_drives_in_a_fake_sysfs() {
        let t = TempDir::new("find");
        let (sys, dev, private) = (t.0.join("sys"), t.0.join("dev"), t.0.join("run/flint/dev"));
        std::fs::create_dir_all(&dev).unwrap();
        device(&sys, "vda", "253:0", 1000);
        device(&sys, "vda1", "253:1", 900);
        device(&sys, "sr0", "11:0", 0);
        device(&sys, "loop0", "7:0", 0); // unbound: skipped without a look
        device(&sys, "ram0", "1:0", 8192); // never a config drive
        // No node in dev/: a private one is made. Without CAP_MKNOD that fails (EPERM), as
        // root the node opens to nothing (major 240 is for local use) — skipped either way.
        device(&sys, "vdz", "240:0", 100);
        std::fs::write(dev.join("vda"), fixture("nova.iso")).unwrap();
        std::fs::write(dev.join("vda1"), b"no filesystem here").unwrap();
        std::fs::write(dev.join("sr0"), fixture("fat12.img")).unwrap();
        std::fs::write(dev.join("loop0"), fixture("fat16.img")).unwrap();
        std::fs::write(dev.join("ram0"), fixture("fat16.img")).unwrap();
        let (n, found) = labels(&sys, &dev, &private);
        assert_eq!(n, 3, "vda, vda1, sr0");
        assert_eq!(
            found,
            [("sr0".into(), b"config-2".to_vec(), Kind::Fat), ("vda".into(), b"config-2".to_vec(), Kind::Iso9660)]
        );
        // Nothing left behind in the private directory.
        assert_eq!(std::fs::read_dir(&private).map(|d| d.count()).unwrap_or(0), 0);
    }

    #[test]
    fn the_visitor_reads_and_stops() {
        let t = TempDir::new("stop");
        let (sys, dev) = (t.0.join("sys"), t.0.join("dev"));
        std::fs::create_dir_all(&dev).unwrap();
        for i in 0..3 {
            device(&sys, &std::format!("vd{i}"), &std::format!("253:{i}"), 1000);
            std::fs::write(dev.join(std::format!("vd{i}")), fixture("fat12.img")).unwrap();
        }
        let mut calls = 0;
        let mut data = Vec::new();
        let n = scan(&c(&sys), &c(&dev), &c(&t.0.join("p")), &mut |_, f| {
            calls += 1;
            let v = probe(f).unwrap().unwrap();
            let mut out = [0u8; 16384];
            let len = v.read_file(f, b"openstack/latest/user_data", &mut out).unwrap().unwrap();
            data = out[..len].to_vec();
            true
        })
        .unwrap();
        assert_eq!((n, calls), (1, 1));
        assert_eq!(data, source("tree", "openstack/latest/user_data"));
    }

    #[test]
    fn at_most_64_entries() {
        let t = TempDir::new("many");
        let (sys, dev) = (t.0.join("sys"), t.0.join("dev"));
        std::fs::create_dir_all(&dev).unwrap();
        for i in 0..80 {
            device(&sys, &std::format!("vd{i}"), &std::format!("253:{i}"), 1);
            std::fs::write(dev.join(std::format!("vd{i}")), b"").unwrap();
        }
        let n = scan(&c(&sys), &c(&dev), &c(&t.0.join("p")), &mut |_, _| false).unwrap();
        assert_eq!(n, DEVICES_MAX);
    }

    #[test]
    fn missing_sysfs_is_an_error_and_missing_dev_is_not() {
        let t = TempDir::new("missing");
        assert_eq!(scan(&c(&t.0.join("nope")), c"/dev", c"/nonexistent", &mut |_, _| false), Err(Errno::NOENT));
        device(&t.0.join("sys"), "vda", "240:1", 10);
        assert_eq!(scan(&c(&t.0.join("sys")), &c(&t.0.join("nodev")), &c(&t.0.join("p")), &mut |_, _| false), Ok(0));
    }

    #[test]
    fn block_file_reads_an_image() {
        let t = TempDir::new("open");
        let p = t.0.join("img");
        std::fs::write(&p, fixture("level1.iso")).unwrap();
        let mut f = BlockFile::open(&c(&p)).unwrap();
        let v = probe(&mut f).unwrap().unwrap();
        assert_eq!(v.label(), b"CONFIG-2");
        let mut out = [0u8; 64];
        let n = v.read_file(&mut f, b"openstk/latest/userdata", &mut out).unwrap().unwrap();
        assert_eq!(&out[..n], &source("tree83", "openstk/latest/userdata")[..]);
        assert_eq!(f.read_at(u64::MAX - 10, &mut out), Err(DriveError::Io));
        assert_eq!(f.last_error(), Some(Errno::INVAL));
        assert_eq!(BlockFile::open(c"/nonexistent").err(), Some(Errno::NOENT));
    }

    #[test]
    fn sysfs_attributes() {
        assert_eq!(parse_dev(b"253:16"), Some((253, 16)));
        assert_eq!(parse_dev(b"259:0"), Some((259, 0)));
        for bad in [&b""[..], b"253", b":1", b"1:", b"1:2:3", b"99999999999:0", b"a:b"] {
            assert_eq!(parse_dev(bad), None, "{bad:?}");
        }
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
    }
}
