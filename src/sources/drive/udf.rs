//! UDF (ECMA-167 3rd edition with the OSTA UDF 1.02–2.60 restrictions) read-only: the format
//! of Azure's provisioning CD, which holds `ovf-env.xml` (and Ignition's `CustomData.bin`).
//!
//! The path from the disc to a file, each step checked:
//!
//! 1. the Volume Recognition Sequence at sector 16 names an NSR02 or NSR03 descriptor
//!    (ECMA-167 2/9.1, 3/9.1): the volume is UDF (a UDF bridge disc has ISO 9660's `CD001`
//!    descriptors before it, which is why [`super::probe`] asks UDF first);
//! 2. the Anchor Volume Descriptor Pointer at sector 256 (3/10.2; UDF 2.2.3) gives the Main
//!    Volume Descriptor Sequence, where the Partition Descriptors (3/10.5) say where each
//!    partition starts and the Logical Volume Descriptor (3/10.6) gives the block size, the
//!    label, the partition maps and the File Set Descriptor's address;
//! 3. the File Set Descriptor (4/14.1) gives the root directory's ICB;
//! 4. an ICB is a File Entry (4/14.9) or Extended File Entry (4/14.17): the data's length and
//!    its allocation descriptors, short (4/14.14.1) or long (4/14.14.2), or the data itself
//!    embedded in the entry (ICB flags 3, 4/14.6.8);
//! 5. a directory's data is a packed run of File Identifier Descriptors (4/14.4), which may
//!    straddle sectors and extents: each is read through the directory's own allocation
//!    descriptors. Names are OSTA CS0 compressed Unicode (UDF 2.1.1): compression ID 8 (one
//!    byte per character) or 16 (UCS-2 big-endian), compared exactly as Linux's udf driver does.
//!
//! Every descriptor's tag (3/7.2) is checked: its identifier, its checksum and, as Linux checks
//! it, its location (the sector or partition block it was read from; File Identifier
//! Descriptors, whose tag locations writers fill in unevenly, only by identifier and checksum).
//!
//! Not read, each refused as [`DriveError::Unsupported`] rather than misread: a logical block
//! size other than 2048 (every CD has 2048); anything but one partition map, of type 1 (virtual,
//! sparable and metadata partitions of UDF 1.50+ packet writing and 2.50+ metadata files; the
//! writers of provisioning media — genisoimage, pycdlib, mkudffs for CDs — use one type 1 map);
//! ICB strategy 4096 (write-once media); allocation descriptors continued in an Allocation
//! Extent Descriptor (a file of more than ~250 extents); extended allocation descriptors (UDF
//! 2.3.10 forbids them). Unrecorded extents read as zeros, as the standard says (4/14.14.1.1).
//!
//! Bounds: [`VRS_MAX`] recognition descriptors, [`VDS_MAX`] volume descriptors (one
//! partition descriptor kept), [`DIR_MAX`] bytes per directory (each File Identifier Descriptor is at least 40
//! bytes, so at most ~52,000 per path component), one sector of allocation descriptors per
//! entry, and the path depth of [`super::PATH_DEPTH_MAX`]; nothing recurses and nothing loops
//! back: a directory that names itself only costs one path component.

use super::iso9660::SECTOR;
use super::{DriveError, Fs, Medium, Name, Node, Part, Volume, le16, le32, read_exact};

/// The Volume Recognition Sequence starts at byte 32,768 (ECMA-167 2/8.4), one descriptor per
/// 2048-byte sector.
const VRS_FIRST: u64 = 16;
/// Recognition descriptors examined (ISO 9660's, `BEA01`, `NSR0x`, `TEA01`, boot descriptors).
const VRS_MAX: u64 = 32;
/// Where the first Anchor Volume Descriptor Pointer is (UDF 2.2.3: at 256 on every medium).
const ANCHOR: u32 = 256;
/// Volume descriptors examined in the main sequence (UDF 2.2.3 reserves 16 sectors for it).
const VDS_MAX: u32 = 64;
/// Largest directory read: provisioning CDs hold a handful of files.
pub const DIR_MAX: u64 = 2 << 20;

/// Descriptor tag identifiers (ECMA-167 3/7.2.1 and 4/7.2.1).
const TAG_AVDP: u16 = 2;
const TAG_PD: u16 = 5;
const TAG_LVD: u16 = 6;
const TAG_TD: u16 = 8;
const TAG_FSD: u16 = 256;
const TAG_FID: u16 = 257;
const TAG_FE: u16 = 261;
const TAG_EFE: u16 = 266;

/// File Identifier Descriptor file characteristics (4/14.4.3).
const FID_DIRECTORY: u8 = 0x02;
const FID_DELETED: u8 = 0x04;
const FID_PARENT: u8 = 0x08;
/// The fixed part of a File Identifier Descriptor, before its implementation use and name.
const FID_FIXED: usize = 38;
/// ICB file type of a directory (4/14.6.6).
const FILE_TYPE_DIRECTORY: u8 = 4;

/// What [`probe`] found on a UDF volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Udf {
    /// The partition (reference number 0, the only one): its first sector and its length in
    /// blocks.
    part: (u32, u32),
    root: Node,
}

/// Reads sector `at` into `buf`.
fn read_block(m: &mut dyn Medium, at: u64, buf: &mut [u8; SECTOR]) -> Result<(), DriveError> {
    read_exact(m, at * SECTOR as u64, buf)
}

/// Checks a descriptor tag (3/7.2): identifier, checksum (the byte sum of the 16 tag bytes but
/// the checksum itself, modulo 256) and, when given, the tag location.
fn tag(b: &[u8], id: u16, at: Option<u32>, part: Part) -> Result<(), DriveError> {
    let sum = b[..16].iter().fold(0u8, |s, &x| s.wrapping_add(x)).wrapping_sub(b[4]);
    if le16(b, 0) != id || sum != b[4] || at.is_some_and(|at| le32(b, 12) != at) {
        return Err(DriveError::Corrupt(part));
    }
    Ok(())
}

/// OSTA CS0 (UDF 2.1.1) to UTF-8: the first byte says 8 bits or 16 bits (big-endian) per
/// character. Any other compression ID leaves a name that matches nothing.
fn cs0(raw: &[u8], name: &mut Name) {
    name.clear();
    match raw {
        [8, rest @ ..] => rest.iter().for_each(|&c| name.push_ucs2(u16::from(c))),
        [16, rest @ ..] => rest.chunks_exact(2).for_each(|u| name.push_ucs2(u16::from_be_bytes([u[0], u[1]]))),
        _ => name.over = true,
    }
}

/// Looks for UDF's recognition sequence, then its anchor and volume descriptors.
pub(super) fn probe(m: &mut dyn Medium) -> Result<Option<Volume>, DriveError> {
    let mut buf = [0u8; SECTOR];
    let mut nsr = false;
    for i in 0..VRS_MAX {
        match read_block(m, VRS_FIRST + i, &mut buf) {
            Err(DriveError::Truncated) => return Ok(None),
            r => r?,
        }
        // Volume Structure Descriptor (2/9.1): type, a 5-byte identifier, version.
        match &buf[1..6] {
            b"NSR02" | b"NSR03" => {
                nsr = true;
                break;
            }
            b"BEA01" | b"CD001" | b"BOOT2" | b"CDW02" => {}
            // TEA01, or the end of the sequence.
            _ => break,
        }
    }
    if !nsr {
        return Ok(None);
    }
    read_block(m, u64::from(ANCHOR), &mut buf)?;
    tag(&buf, TAG_AVDP, Some(ANCHOR), Part::Descriptor)?;
    // Main VDS extent (3/10.2.2): length in bytes, then location.
    let (vds_len, vds_at) = (le32(&buf, 16), le32(&buf, 20));
    // (partition number, first sector, length in blocks) of the Partition Descriptor.
    let mut pd = None;
    let mut map = None;
    let mut fsd = None;
    let mut label = Name::new();
    for i in 0..(vds_len / SECTOR as u32).min(VDS_MAX) {
        let at = vds_at.checked_add(i).ok_or(DriveError::Corrupt(Part::Descriptor))?;
        read_block(m, u64::from(at), &mut buf)?;
        match le16(&buf, 0) {
            // Partition Descriptor (3/10.5): 22 partition number, 188 starting location,
            // 192 length.
            TAG_PD if pd.is_none() => {
                tag(&buf, TAG_PD, Some(at), Part::Descriptor)?;
                pd = Some((le16(&buf, 22), le32(&buf, 188), le32(&buf, 192)));
            }
            // Logical Volume Descriptor (3/10.6): 84 identifier (dstring of 128), 212 block
            // size, 248 the File Set Descriptor's long_ad, 264 map table length, 268 number
            // of maps, 440 the maps.
            TAG_LVD if fsd.is_none() => {
                tag(&buf, TAG_LVD, Some(at), Part::Descriptor)?;
                if le32(&buf, 212) as usize != SECTOR {
                    return Err(DriveError::Unsupported);
                }
                let id = &buf[84..212];
                cs0(&id[..usize::from(id[127]).min(127)], &mut label);
                fsd = Some((le32(&buf, 252), le16(&buf, 256)));
                // One type 1 map (3/10.7.2): type, length 6, volume sequence number, partition
                // number. Anything else is packet writing or a metadata partition.
                map = match (le32(&buf, 268), &buf[440..446]) {
                    (1, &[1, 6, _, _, a, b]) => Some(u16::from_le_bytes([a, b])),
                    _ => return Err(DriveError::Unsupported),
                };
            }
            TAG_TD => break,
            // Primary, Implementation Use and Unallocated Space Descriptors, pointers: not
            // needed to read files.
            _ => {}
        }
    }
    let (fsd_block, fsd_part) = fsd.ok_or(DriveError::Corrupt(Part::Descriptor))?;
    // The one partition must be the one the map names.
    let pd = pd.filter(|pd| Some(pd.0) == map).ok_or(DriveError::Corrupt(Part::Descriptor))?;
    let mut udf = Udf { part: (pd.1, pd.2), root: Node { start: 0, len: 0, dir: true } };
    // File Set Descriptor (4/14.1): 400 the root directory's ICB, a long_ad.
    read_block(m, udf.sector(fsd_part, fsd_block, 1)?, &mut buf)?;
    tag(&buf, TAG_FSD, Some(fsd_block), Part::Descriptor)?;
    udf.root = Node { start: le32(&buf, 404), len: u32::from(le16(&buf, 408)), dir: true };
    Ok(Some(Volume::new(label.get(), Fs::Udf(udf))))
}

/// A File Entry or Extended File Entry, as read into its sector buffer.
struct Entry {
    /// Information length: the data's size in bytes.
    len: u64,
    /// Allocation descriptor type (4/14.6.8): 0 short, 1 long, 3 the data itself.
    ad: u16,
    /// Where the allocation descriptors (or the embedded data) are in the entry.
    ads: (usize, usize),
    /// The partition the entry is in: short descriptors point into it.
    part: u16,
    dir: bool,
}

impl Udf {
    /// The root directory. A [`Node`] of a UDF volume is an ICB: `start` its logical block,
    /// `len` its partition reference number.
    pub(super) fn root(&self) -> Node {
        self.root
    }

    /// The sector of `block` in partition `part`, checking that `blocks` blocks from there lie
    /// inside the partition.
    fn sector(&self, part: u16, block: u32, blocks: u64) -> Result<u64, DriveError> {
        let (start, len) = self.part;
        if part != 0 || u64::from(block) + blocks > u64::from(len) {
            return Err(DriveError::Corrupt(Part::Directory));
        }
        Ok(u64::from(start) + u64::from(block))
    }

    /// Reads the entry of ICB `node` into `fe`.
    fn entry(&self, m: &mut dyn Medium, node: Node, fe: &mut [u8; SECTOR]) -> Result<Entry, DriveError> {
        let part = node.len as u16;
        read_block(m, self.sector(part, node.start, 1)?, fe)?;
        // The lengths of the extended attributes and the allocation descriptors, then where
        // the extended attributes start (4/14.9.19–22, 4/14.17.21–24).
        let id = le16(fe, 0);
        let (lengths, base) = match id {
            TAG_FE => (168, 176),
            TAG_EFE => (208, 216),
            _ => return Err(DriveError::Corrupt(Part::Directory)),
        };
        tag(fe, id, Some(node.start), Part::Directory)?;
        // ICB tag (4/14.6) at 16: strategy type at +4, file type at +11, flags at +18.
        if le16(fe, 20) != 4 {
            return Err(DriveError::Unsupported);
        }
        let start = base + le32(fe, lengths) as usize;
        let end = start.checked_add(le32(fe, lengths + 4) as usize).filter(|&e| e <= SECTOR);
        let end = end.ok_or(DriveError::Corrupt(Part::Directory))?;
        let len = u64::from_le_bytes(fe[56..64].try_into().unwrap_or_default());
        Ok(Entry { len, ad: le16(fe, 34) & 7, ads: (start, end), part, dir: fe[27] == FILE_TYPE_DIRECTORY })
    }

    /// Copies the entry's data from byte `pos` into `out`, through its allocation descriptors.
    /// Data the descriptors do not reach is corruption.
    fn read_data(
        &self,
        m: &mut dyn Medium,
        e: &Entry,
        fe: &[u8; SECTOR],
        mut pos: u64,
        mut out: &mut [u8],
    ) -> Result<(), DriveError> {
        let ads = &fe[e.ads.0..e.ads.1];
        let size = match e.ad {
            0 => 8,
            1 => 16,
            3 => {
                let from = usize::try_from(pos).ok().filter(|&p| p <= ads.len()).unwrap_or(ads.len());
                let src = ads[from..].get(..out.len()).ok_or(DriveError::Corrupt(Part::Directory))?;
                out.copy_from_slice(src);
                return Ok(());
            }
            _ => return Err(DriveError::Unsupported),
        };
        let mut extent_start = 0u64;
        for ad in ads.chunks_exact(size) {
            if out.is_empty() {
                break;
            }
            // Extent length (4/14.14.1.1): the top two bits are the extent's type.
            let raw = le32(ad, 0);
            let (len, kind) = (u64::from(raw & 0x3FFF_FFFF), raw >> 30);
            if len == 0 {
                break;
            }
            if kind == 3 {
                return Err(DriveError::Unsupported);
            }
            let end = extent_start + len;
            if pos < end {
                let skip = pos - extent_start;
                let n = (end - pos).min(out.len() as u64) as usize;
                let (now, rest) = out.split_at_mut(n);
                if kind == 0 {
                    // A long descriptor names its partition (4/14.14.2); a short one is in
                    // the entry's.
                    let part = if size == 16 { le16(ad, 8) } else { e.part };
                    let first = self.sector(part, le32(ad, 4), len.div_ceil(SECTOR as u64))?;
                    read_exact(m, first * SECTOR as u64 + skip, now)?;
                } else {
                    now.fill(0);
                }
                out = rest;
                pos += n as u64;
            }
            extent_start = end;
        }
        if !out.is_empty() {
            return Err(DriveError::Corrupt(Part::Directory));
        }
        Ok(())
    }

    /// Finds `want` in the directory `dir`: its File Identifier Descriptors, in order, read
    /// through the directory's allocation descriptors. Deleted entries and the parent entry
    /// have no name to match.
    pub(super) fn lookup(
        &self,
        m: &mut dyn Medium,
        dir: Node,
        want: &[u8],
        fe: &mut [u8; SECTOR],
        spare: &mut [u8; SECTOR],
        name: &mut Name,
    ) -> Result<Option<Node>, DriveError> {
        let e = self.entry(m, dir, fe)?;
        if !e.dir {
            return Err(DriveError::Corrupt(Part::Directory));
        }
        if e.len > DIR_MAX {
            return Err(DriveError::Unsupported);
        }
        let mut pos = 0;
        // Bounded: `pos` grows by at least 40 bytes a round, up to `e.len`.
        while pos < e.len {
            if pos + FID_FIXED as u64 > e.len {
                return Err(DriveError::Corrupt(Part::Directory));
            }
            let head = &mut spare[..FID_FIXED];
            self.read_data(m, &e, fe, pos, head)?;
            tag(head, TAG_FID, None, Part::Directory)?;
            // 18 characteristics, 19 identifier length, 20 the ICB's long_ad, 36 length of
            // the implementation use that comes before the identifier (4/14.4).
            let (chars, l_fi, l_iu) = (head[18], usize::from(head[19]), usize::from(le16(head, 36)));
            let found = Node { start: le32(head, 24), len: u32::from(le16(head, 28)), dir: chars & FID_DIRECTORY != 0 };
            // Padded to a multiple of 4 (4/14.4.9).
            let total = ((FID_FIXED + l_iu + l_fi + 3) & !3) as u64;
            if pos + total > e.len {
                return Err(DriveError::Corrupt(Part::Directory));
            }
            if chars & (FID_DELETED | FID_PARENT) == 0 && l_fi > 0 {
                let id = &mut spare[..l_fi];
                self.read_data(m, &e, fe, pos + (FID_FIXED + l_iu) as u64, id)?;
                cs0(id, name);
                if name.is(want, false) {
                    return Ok(Some(found));
                }
            }
            pos += total;
        }
        Ok(None)
    }

    /// Reads the file whose ICB is `node` whole into `out`.
    pub(super) fn read(
        &self,
        m: &mut dyn Medium,
        node: Node,
        fe: &mut [u8; SECTOR],
        out: &mut [u8],
    ) -> Result<usize, DriveError> {
        let e = self.entry(m, node, fe)?;
        if e.dir {
            return Err(DriveError::Corrupt(Part::Directory));
        }
        let out = usize::try_from(e.len).ok().and_then(|n| out.get_mut(..n)).ok_or(DriveError::TooLarge)?;
        self.read_data(m, &e, fe, 0, out)?;
        Ok(out.len())
    }
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::tests::{fixture, read, read_with, tree_files};
    use super::super::{Kind, MemMedium, probe};
    use super::*;
    use std::vec::Vec;

    const IMAGES: [&str; 2] = ["udf102.iso", "udf260.iso"];

    fn volume(img: &[u8]) -> Volume {
        probe(&mut MemMedium(img)).unwrap().expect("a filesystem")
    }

    /// The sector offset of the descriptor with tag `id` found first from sector `from`.
    fn find_tag(img: &[u8], id: u16, from: usize) -> usize {
        (from..img.len() / SECTOR).map(|s| s * SECTOR).find(|&o| le16(img, o) == id).expect("descriptor")
    }

    /// Rewrites a descriptor's tag checksum after a test changed its tag bytes.
    fn fix_checksum(img: &mut [u8], at: usize) {
        let sum = (0..16).filter(|&i| i != 4).fold(0u8, |s, i| s.wrapping_add(img[at + i]));
        img[at + 4] = sum;
    }

    #[test]
    fn real_images_read_back_every_file() {
        for name in IMAGES {
            let img = fixture(name);
            let v = volume(&img);
            assert_eq!((v.kind(), v.describe(), v.label()), (Kind::Udf, "udf", &b"AZURE_PROV"[..]), "{name}");
            let files = tree_files("azure");
            assert!(files.len() > 60);
            for (path, want) in files {
                assert_eq!(read_with(&v, &img, &path, 16384), Ok(Some(want)), "{name}: {path}");
            }
        }
    }

    #[test]
    fn names_are_exact_and_directories_are_not_files() {
        for name in IMAGES {
            let img = fixture(name);
            for p in ["OVF-ENV.XML", "ovf-env.xm", "content", "a/b", "a/b/c/deep.txt/x", "missing", "content/.."] {
                assert_eq!(read(&img, p, 16384), Ok(None), "{name}: {p}");
            }
            assert_eq!(read(&img, "ovf-env.xml", 100), Err(DriveError::TooLarge), "{name}");
            assert_eq!(read(&img, "empty", 0), Ok(Some(Vec::new())), "{name}");
        }
    }

    #[test]
    fn an_empty_mkudffs_volume_has_no_files() {
        let img = fixture("mkudffs-empty.udf");
        let v = volume(&img);
        assert_eq!((v.kind(), v.label()), (Kind::Udf, &b"EMPTY"[..]));
        assert_eq!(read_with(&v, &img, "ovf-env.xml", 16384), Ok(None));
    }

    #[test]
    fn iso9660_and_fat_volumes_are_not_udf() {
        for name in ["nova.iso", "fat12.img"] {
            assert_ne!(volume(&fixture(name)).kind(), Kind::Udf, "{name}");
        }
    }

    #[test]
    fn a_directory_spans_sectors_and_names_straddle_them() {
        for name in IMAGES {
            let img = fixture(name);
            let v = volume(&img);
            // 60 identifiers of ~90 bytes: three sectors, some identifiers across a boundary.
            for i in [0, 22, 23, 45, 59] {
                let p = std::format!("content/file-with-a-fairly-long-name-number-{i:04}.txt");
                assert_eq!(read_with(&v, &img, &p, 64), Ok(Some(std::format!("content {i}\n").into_bytes())), "{p}");
            }
        }
    }

    #[test]
    fn embedded_data_and_long_descriptors_are_read() {
        // Make the deep file's data live in its File Entry (flags 3), as small files may.
        let mut img = fixture("udf102.iso");
        let v = volume(&img);
        let deep = b"deep\n";
        let at = (0..img.len() / SECTOR)
            .map(|s| s * SECTOR)
            .find(|&o| le16(&img, o) == TAG_FE && img[o + 56] == 5 && img[o + 27] == 5)
            .expect("the 5-byte file's entry");
        let l_ea = le32(&img, at + 168) as usize;
        img[at + 34] = (img[at + 34] & !7) | 3;
        img[at + 172..at + 176].copy_from_slice(&5u32.to_le_bytes());
        img[at + 176 + l_ea..at + 181 + l_ea].copy_from_slice(b"EMBED");
        assert_eq!(read_with(&v, &img, "a/b/c/deep.txt", 64), Ok(Some(b"EMBED".to_vec())));
        // And as a long descriptor pointing at the original data.
        let mut img = fixture("udf102.iso");
        let short: [u8; 8] = img[at + 176 + l_ea..at + 184 + l_ea].try_into().unwrap();
        img[at + 34] = (img[at + 34] & !7) | 1;
        img[at + 172..at + 176].copy_from_slice(&16u32.to_le_bytes());
        let long = &mut img[at + 176 + l_ea..at + 192 + l_ea];
        long.fill(0);
        long[..8].copy_from_slice(&short);
        assert_eq!(read_with(&v, &img, "a/b/c/deep.txt", 64), Ok(Some(deep.to_vec())));
        // A long descriptor into a partition that does not exist.
        img[at + 176 + l_ea + 8] = 3;
        assert_eq!(read_with(&v, &img, "a/b/c/deep.txt", 64), Err(DriveError::Corrupt(Part::Directory)));
        // A continuation extent (type 3) is not followed.
        img[at + 176 + l_ea + 8] = 0;
        img[at + 176 + l_ea + 3] |= 0xC0;
        assert_eq!(read_with(&v, &img, "a/b/c/deep.txt", 64), Err(DriveError::Unsupported));
    }

    #[test]
    fn corrupt_descriptors() {
        let img = fixture("udf260.iso");
        let anchor = ANCHOR as usize * SECTOR;
        // The UDF reader's own verdicts (this pycdlib image is a bridge disc: the drive-level
        // probe then reads its ISO 9660 tree instead, checked below).
        let probe_of = |img: &[u8]| super::probe(&mut MemMedium(img)).map(|v| v.map(|v| v.kind()));
        // A bad anchor checksum, a wrong tag location, a wrong identifier.
        for (at, value) in [(anchor + 4, 0u8), (anchor + 12, 7), (anchor, 3)] {
            let mut bad = img.clone();
            bad[at] ^= value.max(1);
            assert_eq!(probe_of(&bad), Err(DriveError::Corrupt(Part::Descriptor)), "byte {at}");
            // A UDF part flint refuses does not hide the disc's ISO 9660 tree.
            assert_eq!(probe(&mut MemMedium(&bad)).map(|v| v.map(|v| v.kind())), Ok(Some(Kind::Iso9660)));
        }
        // A block size of 512.
        let lvd = find_tag(&img, TAG_LVD, 16);
        let mut bad = img.clone();
        bad[lvd + 212..lvd + 216].copy_from_slice(&512u32.to_le_bytes());
        assert_eq!(probe_of(&bad), Err(DriveError::Unsupported));
        // A type 2 partition map (a metadata partition).
        let mut bad = img.clone();
        bad[lvd + 440] = 2;
        assert_eq!(probe_of(&bad), Err(DriveError::Unsupported));
        // Two maps.
        let mut bad = img.clone();
        bad[lvd + 268] = 2;
        assert_eq!(probe_of(&bad), Err(DriveError::Unsupported));
        // A map naming a partition no descriptor describes.
        let mut bad = img.clone();
        bad[lvd + 444] = 9;
        assert_eq!(probe_of(&bad), Err(DriveError::Corrupt(Part::Descriptor)));
        // No recognition sequence: not UDF (this image is then read as its ISO 9660 tree).
        let mut bad = img.clone();
        for s in 16..32 {
            if &bad[s * SECTOR + 1..s * SECTOR + 6] == b"NSR02" || &bad[s * SECTOR + 1..s * SECTOR + 6] == b"NSR03" {
                bad[s * SECTOR + 1] = b'X';
            }
        }
        assert_eq!(probe(&mut MemMedium(&bad)).map(|v| v.map(|v| v.kind())), Ok(Some(Kind::Iso9660)));
        assert_eq!(probe_of(&bad), Ok(None));
    }

    #[test]
    fn corrupt_entries_and_identifiers() {
        let img = fixture("udf102.iso");
        let v = volume(&img);
        let fid = find_tag(&img, TAG_FID, 257);
        // A broken identifier tag in the root directory.
        let mut bad = img.clone();
        bad[fid + 4] ^= 1;
        assert_eq!(read_with(&v, &bad, "ovf-env.xml", 16384), Err(DriveError::Corrupt(Part::Directory)));
        // An implementation-use length that runs past the directory's end.
        let mut bad = img.clone();
        bad[fid + 36..fid + 38].copy_from_slice(&0xFFFFu16.to_le_bytes());
        assert_eq!(read_with(&v, &bad, "ovf-env.xml", 16384), Err(DriveError::Corrupt(Part::Directory)));
        // A root entry whose tag says it is somewhere else, or of strategy 4096.
        let root = find_tag(&img, TAG_FE, 257);
        let mut bad = img.clone();
        bad[root + 12] ^= 1;
        fix_checksum(&mut bad, root);
        assert_eq!(read_with(&v, &bad, "ovf-env.xml", 16384), Err(DriveError::Corrupt(Part::Directory)));
        let mut bad = img.clone();
        bad[root + 20..root + 22].copy_from_slice(&4096u16.to_le_bytes());
        assert_eq!(read_with(&v, &bad, "ovf-env.xml", 16384), Err(DriveError::Unsupported));
        // Allocation descriptors longer than the entry's sector.
        let mut bad = img.clone();
        bad[root + 172..root + 176].copy_from_slice(&5000u32.to_le_bytes());
        assert_eq!(read_with(&v, &bad, "ovf-env.xml", 16384), Err(DriveError::Corrupt(Part::Directory)));
        // A directory claimed longer than its extents.
        let mut bad = img.clone();
        bad[root + 56..root + 64].copy_from_slice(&100_000u64.to_le_bytes());
        assert_eq!(read_with(&v, &bad, "missing", 16384), Err(DriveError::Corrupt(Part::Directory)));
        // A directory larger than the bound.
        bad[root + 56..root + 64].copy_from_slice(&(DIR_MAX + 1).to_le_bytes());
        assert_eq!(read_with(&v, &bad, "missing", 16384), Err(DriveError::Unsupported));
    }

    #[test]
    fn a_directory_that_contains_itself_costs_only_the_path_depth() {
        // Point `a`'s identifier back at the root's ICB: a/a/a/... is the root again and again.
        let mut img = fixture("udf102.iso");
        let v = volume(&img);
        let root_fid = find_tag(&img, TAG_FID, 257);
        let root_icb: [u8; 6] = img[root_fid + 24..root_fid + 30].try_into().unwrap();
        let a = (root_fid..root_fid + SECTOR)
            .find(|&o| {
                le16(&img, o) == TAG_FID && img[o + 19] == 2 && img[o + 38 + le16(&img, o + 36) as usize + 1] == b'a'
            })
            .expect("a's identifier");
        img[a + 24..a + 30].copy_from_slice(&root_icb);
        let deep = std::format!("{}ovf-env.xml", "a/".repeat(10));
        assert!(read_with(&v, &img, &deep, 16384).unwrap().is_some());
        let deeper = std::format!("{}ovf-env.xml", "a/".repeat(super::super::PATH_DEPTH_MAX));
        assert_eq!(read_with(&v, &img, &deeper, 16384), Err(DriveError::Unsupported));
    }

    #[test]
    fn truncated_images() {
        let img = fixture("udf260.iso");
        let v = volume(&img);
        assert_eq!(probe(&mut MemMedium(&img[..20 * SECTOR])).map(|v| v.is_some()), Err(DriveError::Truncated));
        // Cut inside the recognition sequence: no UDF here (the probe then tries ISO 9660).
        assert_eq!(super::probe(&mut MemMedium(&img[..17 * SECTOR])).map(|v| v.is_some()), Ok(false));
        // Cut anywhere after the descriptors: the whole file, or an error, never part of it.
        let want = super::super::tests::source("azure", "ovf-env.xml");
        let mut failed = 0;
        for cut in 257..img.len() / SECTOR {
            match read_with(&v, &img[..cut * SECTOR], "ovf-env.xml", 16384) {
                Ok(Some(got)) => assert!(got == want, "cut at {cut}"),
                Err(DriveError::Truncated | DriveError::Corrupt(_)) => failed += 1,
                r => panic!("cut at {cut}: {:?}", r.map(|o| o.map(|v| v.len()))),
            }
        }
        assert!(failed > 2);
    }

    #[test]
    fn every_single_byte_flip_in_the_metadata_is_survived() {
        let img = fixture("udf102.iso");
        let want = super::super::tests::source("azure", "ovf-env.xml");
        // The descriptors, the root and the first directories: every byte flipped, no panic,
        // and either the right file, an error, or nothing.
        let regions = [(16 * SECTOR, 24 * SECTOR), (256 * SECTOR, 270 * SECTOR)];
        let mut bad = img.clone();
        for (from, to) in regions {
            for i in from..to {
                bad[i] ^= 0xFF;
                let r = probe(&mut MemMedium(&bad)).and_then(|v| match v {
                    Some(v) => read_with(&v, &bad, "ovf-env.xml", 16384),
                    None => Ok(None),
                });
                if let Ok(Some(got)) = r {
                    assert!(got.len() == want.len(), "byte {i}");
                }
                bad[i] = img[i];
            }
        }
    }

    #[test]
    fn cs0_names() {
        let mut n = Name::new();
        cs0(&[8, b'a', 0xE9], &mut n);
        assert_eq!(n.get(), "aé".as_bytes());
        cs0(&[16, 0x20, 0xAC, 0, b'x'], &mut n);
        assert_eq!(n.get(), "€x".as_bytes());
        cs0(&[254, b'a'], &mut n);
        assert!(!n.is(b"a", false));
        cs0(&[], &mut n);
        assert!(!n.is(b"", false));
    }
}
