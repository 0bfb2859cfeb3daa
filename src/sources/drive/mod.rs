//! Config drives read raw: an ISO 9660 or FAT volume on a block device, found by its label and
//! read without mounting.
//!
//! OpenStack Nova attaches user-data as a small volume labelled `config-2` (ISO 9660 made by
//! `genisoimage`, or VFAT); NoCloud seeds are labelled `cidata`. Mounting one from the initramfs
//! would need the filesystem modules, a mount point and an unmount on every path out; reading
//! the few files flint wants takes small read-only filesystem readers instead:
//! [`iso9660`] (ECMA-119 with Rock Ridge and Joliet names), [`fat`] (FAT12/16/32 with long
//! names) and [`udf`] (ECMA-167 with OSTA UDF's rules: Azure's provisioning CD).
//!
//! The readers are sans-IO: they see the device through [`Medium`], one positioned read at a
//! time, so the host tests hand them images in memory and the binary hands them a
//! [`scan::BlockFile`]. `&mut dyn Medium` keeps one copy of each reader in the binary.
//!
//! Every input is untrusted (a cloud tenant can attach any disk): nothing here recurses, every
//! loop has a bound (path depth, directory size, continuation areas, cluster chain length), no
//! arithmetic on on-disk values can overflow, and a volume that breaks a rule gives an error or
//! `Ok(None)`, never a panic or a hang. No allocation: a call needs at most two sector buffers
//! and a name buffer on the stack.
//!
//! [`scan`] is the I/O side: it finds the block devices in sysfs and opens each one.
//! [`blocks`] joins the two behind the engine's seam: [`Drives`] offers each block device's
//! [`Filesystem`]; the engine tests offer filesystems from memory instead.

pub mod blocks;

pub use crate::platform::Store;
pub mod fat;
pub mod iso9660;
pub mod scan;
pub mod udf;

use core::fmt;

/// Deepest path [`Volume::read_file`] follows (`openstack/latest/user_data` is 3).
pub const PATH_DEPTH_MAX: usize = 16;
/// Longest file name kept for comparison, in bytes of UTF-8. A name longer than this cannot
/// equal a path component (Linux's NAME_MAX is 255), so it simply never matches.
const NAME_MAX: usize = 256;
/// Longest volume label kept: ISO 9660's volume identifier is 32 bytes, FAT's 11.
const LABEL_MAX: usize = 32;

/// Random access to a device or image.
pub trait Medium {
    /// Reads up to `buf.len()` bytes at byte `offset`; returns how many (0 only at or after
    /// the end).
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, DriveError>;
}

/// A filesystem found on a block device: what a drive source reads.
pub trait Filesystem {
    /// The device's name, for the logs (`sr0`, `vdb`, or the `--drive` path).
    fn device(&self) -> &[u8];
    /// The volume label, without padding.
    fn label(&self) -> &[u8];
    /// What it is, for the logs (`iso9660 rock-ridge`, `fat32`, ...).
    fn kind(&self) -> &'static str;
    /// Reads the file at `path` whole into `out`, as [`Volume::read_file`].
    fn read(&mut self, path: &[u8], out: &mut [u8]) -> Result<Option<usize>, DriveError>;
}

/// The block devices (and QEMU's fw_cfg): the drive sources' seam.
pub trait Drives {
    /// Offers the filesystem of every block device present now (or, for [`Store::FwCfg`], the
    /// fw_cfg directory when the driver shows it), one at a time, until `visit` returns true.
    fn scan(&mut self, store: Store, visit: &mut dyn FnMut(&mut dyn Filesystem) -> bool);
    /// The devices are the one `--drive` named, not a scan: a miss there is final.
    fn explicit(&self) -> bool;
}

/// An image in memory: the tests' and fuzzers' medium.
pub struct MemMedium<'a>(pub &'a [u8]);

impl Medium for MemMedium<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, DriveError> {
        let rest = usize::try_from(offset).ok().and_then(|o| self.0.get(o..)).unwrap_or(&[]);
        let n = rest.len().min(buf.len());
        buf[..n].copy_from_slice(&rest[..n]);
        Ok(n)
    }
}

/// Why a drive could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveError {
    /// The device refused a read.
    Io,
    /// The medium ends before a structure or file that the filesystem places there.
    Truncated,
    /// An on-disk structure breaks its specification.
    Corrupt(Part),
    /// Valid, but outside what flint reads: a multi-extent ISO 9660 file, a logical block size
    /// other than 2048, a path deeper than [`PATH_DEPTH_MAX`], a directory larger than the
    /// readers' bound.
    Unsupported,
    /// The file is larger than the buffer given for it.
    TooLarge,
}

/// Which structure was found corrupt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Part {
    /// ISO 9660 volume descriptors (ECMA-119 §8).
    Descriptor,
    /// A directory record (ECMA-119 §9.1) or FAT directory entry.
    Directory,
    /// A FAT cluster chain: a free, bad or out-of-range link, a loop, or a chain whose length
    /// does not match the file's size.
    Chain,
}

impl fmt::Display for DriveError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            DriveError::Io => "read error",
            DriveError::Truncated => "image truncated",
            DriveError::Corrupt(Part::Descriptor) => "corrupt volume descriptor",
            DriveError::Corrupt(Part::Directory) => "corrupt directory",
            DriveError::Corrupt(Part::Chain) => "corrupt cluster chain",
            DriveError::Unsupported => "unsupported layout",
            DriveError::TooLarge => "file too large",
        })
    }
}

impl core::error::Error for DriveError {}

/// Filesystem of a [`Volume`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Iso9660,
    Fat,
    Udf,
}

/// A filesystem found by [`probe`]: its label and where its root directory is. Plain data: it
/// holds no reference to the medium, which is passed to each call again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Volume {
    label: [u8; LABEL_MAX],
    label_len: u8,
    fs: Fs,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Fs {
    Iso(iso9660::Iso),
    Fat(fat::Fat),
    Udf(udf::Udf),
}

/// Looks for a UDF filesystem, then an ISO 9660 one, then a FAT one. `Ok(None)`: none is there.
///
/// UDF goes first: a UDF bridge disc (`genisoimage -udf`, pycdlib) also carries ISO 9660
/// descriptors, and the UDF tree is the one its writer meant (libblkid, and so Ignition's
/// filesystem type check, call such a disc `udf` too). ISO 9660 goes before FAT: its
/// descriptors start at byte 32768 and leave the first 32 KiB free (ECMA-119 §6.2.1), where a
/// hybrid image keeps an MBR that could pass for a boot sector.
///
/// A UDF part flint refuses (a metadata partition, a cut image) does not hide the disc's ISO
/// 9660 tree: its error stands only when no other filesystem is there.
pub fn probe(m: &mut dyn Medium) -> Result<Option<Volume>, DriveError> {
    let udf = udf::probe(m);
    if let Ok(Some(v)) = udf {
        return Ok(Some(v));
    }
    if let Some(v) = iso9660::probe(m)? {
        return Ok(Some(v));
    }
    match fat::probe(m)? {
        None => udf,
        v => Ok(v),
    }
}

impl Volume {
    fn new(raw_label: &[u8], fs: Fs) -> Volume {
        let mut label = [0; LABEL_MAX];
        let mut len = raw_label.len().min(LABEL_MAX);
        while len > 0 && matches!(raw_label[len - 1], b' ' | 0) {
            len -= 1;
        }
        label[..len].copy_from_slice(&raw_label[..len]);
        Volume { label, label_len: len as u8, fs }
    }

    /// The volume label, trailing spaces trimmed: ISO 9660's volume identifier, FAT's volume
    /// label entry (or the boot sector's, see [`fat`]).
    pub fn label(&self) -> &[u8] {
        &self.label[..self.label_len as usize]
    }

    pub fn kind(&self) -> Kind {
        match self.fs {
            Fs::Iso(_) => Kind::Iso9660,
            Fs::Fat(_) => Kind::Fat,
            Fs::Udf(_) => Kind::Udf,
        }
    }

    /// What was found, for a log line: `iso9660 rock-ridge`, `iso9660 joliet`, `iso9660`,
    /// `fat12`, `fat16`, `fat32` or `udf`.
    pub fn describe(&self) -> &'static str {
        match &self.fs {
            Fs::Iso(i) => i.describe(),
            Fs::Fat(f) => f.describe(),
            Fs::Udf(_) => "udf",
        }
    }

    /// The ISO 9660 name space this volume reads names from.
    pub fn iso_names(&self) -> Option<iso9660::Names> {
        match &self.fs {
            Fs::Iso(i) => Some(i.names()),
            Fs::Fat(_) | Fs::Udf(_) => None,
        }
    }

    /// The same ISO 9660 volume read through another of its name spaces, if it has that one
    /// (tests and fuzzers compare them; [`probe`] picks the best).
    pub fn with_iso_names(self, names: iso9660::Names) -> Option<Volume> {
        match self.fs {
            Fs::Iso(i) => Some(Volume { fs: Fs::Iso(i.with_names(names)?), ..self }),
            Fs::Fat(_) | Fs::Udf(_) => None,
        }
    }

    /// Reads the file at `path` (`openstack/latest/user_data`: `/`-separated, empty components
    /// ignored) whole into `out`, returning its length.
    ///
    /// `Ok(None)`: no such file, or it is a directory, or a component is `.` or `..`.
    /// `Err(TooLarge)` when it does not fit `out`; nothing partial is ever returned as success.
    pub fn read_file(&self, m: &mut dyn Medium, path: &[u8], out: &mut [u8]) -> Result<Option<usize>, DriveError> {
        if path.split(|&b| b == b'/').filter(|c| !c.is_empty()).count() > PATH_DEPTH_MAX {
            return Err(DriveError::Unsupported);
        }
        let mut node = match &self.fs {
            Fs::Iso(i) => i.root(),
            Fs::Fat(f) => f.root(),
            Fs::Udf(u) => u.root(),
        };
        let mut name = Name::new();
        let mut a = [0u8; iso9660::SECTOR];
        let mut b = [0u8; iso9660::SECTOR];
        for comp in path.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            if !node.dir || comp == b"." || comp == b".." {
                return Ok(None);
            }
            let found = match &self.fs {
                Fs::Iso(i) => i.lookup(m, node, comp, &mut a, &mut b, &mut name)?,
                Fs::Fat(f) => f.lookup(m, node, comp, &mut a, &mut name)?,
                Fs::Udf(u) => u.lookup(m, node, comp, &mut a, &mut b, &mut name)?,
            };
            let Some(n) = found else { return Ok(None) };
            node = n;
        }
        // The root, or a directory at the end of the path, is not a file.
        if node.dir {
            return Ok(None);
        }
        if let Fs::Udf(u) = &self.fs {
            return u.read(m, node, &mut a, out).map(Some);
        }
        let out = out.get_mut(..node.len as usize).ok_or(DriveError::TooLarge)?;
        match &self.fs {
            Fs::Fat(f) => f.read_chain(m, node.start, out)?,
            _ => read_exact(m, u64::from(node.start) * iso9660::SECTOR as u64, out)?,
        }
        Ok(Some(out.len()))
    }
}

/// A file or directory: where its data starts (an ISO 9660 block, a FAT cluster), its length
/// in bytes (unknown, 0, for FAT directories), and whether it is a directory. On UDF, where a
/// file is an ICB, `start` is the ICB's block and `len` its partition (see [`udf`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Node {
    start: u32,
    len: u32,
    dir: bool,
}

/// Fills `buf` from `offset`; a medium that ends first is [`DriveError::Truncated`].
fn read_exact(m: &mut dyn Medium, mut offset: u64, mut buf: &mut [u8]) -> Result<(), DriveError> {
    while !buf.is_empty() {
        let n = m.read_at(offset, buf)?;
        if n == 0 || n > buf.len() {
            return Err(DriveError::Truncated);
        }
        buf = &mut buf[n..];
        offset = offset.checked_add(n as u64).ok_or(DriveError::Truncated)?;
    }
    Ok(())
}

fn le16(b: &[u8], at: usize) -> u16 {
    u16::from_le_bytes([b[at], b[at + 1]])
}

fn le32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes([b[at], b[at + 1], b[at + 2], b[at + 3]])
}

/// A file name assembled from on-disk pieces, as UTF-8. Past [`NAME_MAX`] bytes it is marked
/// too long and matches nothing.
struct Name {
    buf: [u8; NAME_MAX],
    len: usize,
    over: bool,
}

impl Name {
    fn new() -> Name {
        Name { buf: [0; NAME_MAX], len: 0, over: false }
    }

    fn clear(&mut self) {
        self.len = 0;
        self.over = false;
    }

    fn get(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn push(&mut self, bytes: &[u8]) {
        match self.buf.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            None => self.over = true,
        }
    }

    /// Appends one UCS-2 code unit (Joliet, FAT long names) as UTF-8. Surrogates come out as
    /// their own three-byte forms: such a name then matches no valid UTF-8 path, which is right
    /// for a name no config drive has.
    fn push_ucs2(&mut self, u: u16) {
        let u = u32::from(u);
        if u < 0x80 {
            self.push(&[u as u8]);
        } else if u < 0x800 {
            self.push(&[0xC0 | (u >> 6) as u8, 0x80 | (u & 0x3F) as u8]);
        } else {
            self.push(&[0xE0 | (u >> 12) as u8, 0x80 | ((u >> 6) & 0x3F) as u8, 0x80 | (u & 0x3F) as u8]);
        }
    }

    /// Drops an ISO 9660 version (`;1`) and then one trailing `.` (a name with no extension is
    /// recorded as `NAME.;1`, ECMA-119 §7.5.1).
    fn trim_version(&mut self) {
        if let Some(i) = self.buf[..self.len].iter().rposition(|&b| b == b';') {
            self.len = i;
        }
        if self.len > 0 && self.buf[self.len - 1] == b'.' {
            self.len -= 1;
        }
    }

    /// Equal to `want`, ignoring ASCII case when `fold`.
    fn is(&self, want: &[u8], fold: bool) -> bool {
        let have = &self.buf[..self.len];
        let same = |(&a, &b): (&u8, &u8)| a == b || (fold && a.eq_ignore_ascii_case(&b));
        !self.over && have.len() == want.len() && have.iter().zip(want).all(same)
    }
}

#[cfg(test)]
pub(crate) mod tests {
    extern crate std;
    use super::*;
    use std::io::Read;
    use std::vec::Vec;

    /// A fixture image, decompressed (`tests/fixtures/drive/`).
    pub fn fixture(name: &str) -> Vec<u8> {
        let path = std::format!("{}/tests/fixtures/drive/{name}.gz", env!("CARGO_MANIFEST_DIR"));
        let gz = std::fs::read(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
        let mut out = Vec::new();
        flate2::read::GzDecoder::new(&gz[..]).read_to_end(&mut out).unwrap();
        out
    }

    /// A file of the fixture source tree the images were made from.
    pub fn source(tree: &str, path: &str) -> Vec<u8> {
        std::fs::read(std::format!("{}/tests/fixtures/drive/{tree}/{path}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    }

    /// Every file of a fixture source tree, as (path relative to the tree, contents).
    pub fn tree_files(tree: &str) -> Vec<(std::string::String, Vec<u8>)> {
        let root = std::path::PathBuf::from(std::format!("{}/tests/fixtures/drive/{tree}", env!("CARGO_MANIFEST_DIR")));
        let mut out = Vec::new();
        let mut todo = std::vec![root.clone()];
        while let Some(d) = todo.pop() {
            for e in std::fs::read_dir(&d).unwrap() {
                let p = e.unwrap().path();
                if p.is_dir() {
                    todo.push(p);
                } else {
                    let rel = p.strip_prefix(&root).unwrap().to_str().unwrap().replace('\\', "/");
                    out.push((rel, std::fs::read(&p).unwrap()));
                }
            }
        }
        out.sort();
        out
    }

    /// Probes `img` and reads `path` into a buffer of `cap` bytes.
    pub fn read(img: &[u8], path: &str, cap: usize) -> Result<Option<Vec<u8>>, DriveError> {
        let mut m = MemMedium(img);
        let v = probe(&mut m)?.expect("a filesystem");
        read_with(&v, img, path, cap)
    }

    pub fn read_with(v: &Volume, img: &[u8], path: &str, cap: usize) -> Result<Option<Vec<u8>>, DriveError> {
        let mut out = std::vec![0u8; cap];
        let n = v.read_file(&mut MemMedium(img), path.as_bytes(), &mut out)?;
        Ok(n.map(|n| out[..n].to_vec()))
    }

    /// A medium whose reads fail past `limit` bytes.
    struct Failing<'a>(&'a [u8], u64);

    impl Medium for Failing<'_> {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, DriveError> {
            if offset + buf.len() as u64 > self.1 {
                return Err(DriveError::Io);
            }
            MemMedium(self.0).read_at(offset, buf)
        }
    }

    /// A medium that returns one byte per read.
    struct Dribble<'a>(&'a [u8]);

    impl Medium for Dribble<'_> {
        fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, DriveError> {
            let n = buf.len().min(1);
            MemMedium(self.0).read_at(offset, &mut buf[..n])
        }
    }

    #[test]
    fn nothing_on_an_empty_or_zeroed_medium() {
        assert!(probe(&mut MemMedium(&[])).unwrap().is_none());
        assert!(probe(&mut MemMedium(&[0u8; 70_000])).unwrap().is_none());
        assert!(probe(&mut MemMedium(&[0xFFu8; 600])).unwrap().is_none());
    }

    #[test]
    fn short_reads_are_continued() {
        let img = fixture("fat12.img");
        let v = probe(&mut Dribble(&img)).unwrap().unwrap();
        let mut out = std::vec![0u8; 16384];
        let n = v.read_file(&mut Dribble(&img), b"openstack/latest/user_data", &mut out).unwrap().unwrap();
        assert_eq!(&out[..n], &source("tree", "openstack/latest/user_data")[..]);
    }

    #[test]
    fn read_errors_pass_through() {
        let img = fixture("nova.iso");
        let v = probe(&mut MemMedium(&img)).unwrap().unwrap();
        let mut out = [0u8; 16384];
        let e = v.read_file(&mut Failing(&img, 40_000), b"openstack/latest/user_data", &mut out);
        assert_eq!(e, Err(DriveError::Io));
    }

    #[test]
    fn paths() {
        let img = fixture("nova.iso");
        let want = source("tree", "openstack/latest/user_data");
        for p in ["openstack/latest/user_data", "/openstack//latest/user_data/"] {
            assert_eq!(read(&img, p, 16384), Ok(Some(want.clone())), "{p}");
        }
        for p in ["", "/", "openstack/../openstack/latest/user_data", "./user-data", "openstack/latest", "user-data/."]
        {
            assert_eq!(read(&img, p, 16384), Ok(None), "{p}");
        }
        let deep = "a/".repeat(PATH_DEPTH_MAX) + "b";
        assert_eq!(read(&img, &deep, 16), Err(DriveError::Unsupported));
    }

    #[test]
    fn names_assemble_and_compare() {
        let mut n = Name::new();
        n.push(b"USER_DAT.;1");
        n.trim_version();
        assert!(n.is(b"user_dat", true) && !n.is(b"user_dat", false));
        n.clear();
        for u in [0x61u16, 0xE9, 0x20AC] {
            n.push_ucs2(u);
        }
        assert_eq!(&n.buf[..n.len], "aé€".as_bytes());
        n.clear();
        n.push(&[b'x'; NAME_MAX]);
        assert!(n.is(&[b'x'; NAME_MAX], false));
        n.push(b"y");
        assert!(!n.is(&[b'x'; NAME_MAX], false), "a name past NAME_MAX matches nothing");
    }

    #[test]
    fn errors_say_what() {
        assert_eq!(std::format!("{}", DriveError::Corrupt(Part::Chain)), "corrupt cluster chain");
        assert_eq!(std::format!("{}", DriveError::TooLarge), "file too large");
    }
}
