//! ISO 9660 (ECMA-119, 4th edition) read-only, with Rock Ridge and Joliet names: the format of
//! the config drive OpenStack Nova writes with `genisoimage -ldots -allow-lowercase
//! -allow-multidot -l -J -r -V config-2`.
//!
//! One volume can carry three trees of names for the same files, and [`probe`] picks one:
//!
//! 1. **Rock Ridge** (RRIP, IEEE P1282, on SUSP, IEEE P1281): POSIX names in `NM` entries of each
//!    directory record's System Use field, continued in `CE` areas. Present when the root's
//!    first record starts with an `SP` entry (SUSP §5.3). Matched exactly (POSIX names are
//!    case-sensitive); a record without `NM` falls back to its ISO name.
//! 2. **Joliet** (Microsoft's "Joliet Specification", 1995): a Supplementary Volume Descriptor
//!    whose escape sequences name UCS-2 level 1, 2 or 3 (`%/@`, `%/C`, `%/E`), with its own tree
//!    of UCS-2 big-endian names. Matched ignoring ASCII case, as Windows reads them.
//! 3. **ISO names**: `d-characters`, at most 8.3 at level 1, with a `;1` version (§7.5).
//!    Matched ignoring ASCII case, with the version and a trailing `.` dropped.
//!
//! Rock Ridge wins over Joliet as in Linux's isofs: it is what Nova's tooling wrote to be read
//! on Linux, and Joliet names stop at 64 characters.
//!
//! Not read, each refused or ignored rather than misread: multi-extent files (a file of 4 GiB or
//! more, split over several records with the multi-extent flag, §9.1.6) are refused as
//! [`DriveError::Unsupported`], as is a logical block size other than 2048 (every writer in use
//! has 2048); Rock Ridge directory relocation (`CL`/`RE`, for trees deeper than 8 levels, which
//! config drives never are) is not followed; interleaved files (§9.1.7) are read as contiguous.
//!
//! Bounds: 32 volume descriptors, [`DIR_MAX`] bytes per directory (so at most 1,024 sectors and
//! ~60,000 records visited per path component), 8 continuation areas per record, and the
//! path depth of [`super::PATH_DEPTH_MAX`].

use super::{DriveError, Fs, Medium, Name, Node, Part, Volume, le32, read_exact};

/// Logical sector and block size (ECMA-119 §6.1.2, §6.2.2).
pub const SECTOR: usize = 2048;
/// First volume descriptor: sector 16, after the System Area (§6.2.1, §6.7.1).
const VD_FIRST: u64 = 16;
/// Volume descriptors examined before giving up on the terminator (§6.7.1).
const VD_MAX: u64 = 32;
/// Largest directory read. Nova's directories hold a dozen entries; genisoimage needs ~40
/// bytes per name, so 2 MiB is room for tens of thousands.
pub const DIR_MAX: u32 = 2 << 20;
/// Continuation areas followed for one directory record's System Use entries (SUSP §5.1).
const CE_MAX: usize = 8;
/// Directory record flags (§9.1.6).
const FLAG_DIRECTORY: u8 = 0x02;
const FLAG_ASSOCIATED: u8 = 0x04;
const FLAG_MULTI_EXTENT: u8 = 0x80;

/// Which tree of names a volume is read through; see the module docs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Names {
    /// Rock Ridge `NM` names in the primary tree; `skip` is the SUSP `SP` entry's `LEN_SKP`,
    /// the bytes to pass over at the start of every System Use field (SUSP §5.3).
    RockRidge { skip: u8 },
    /// UCS-2 names in the Joliet tree.
    Joliet,
    /// ISO 9660 names in the primary tree.
    Plain,
}

/// Location and length of an extent (§6.5, §9.1.3–9.1.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Extent {
    block: u32,
    len: u32,
}

/// What [`probe`] found on an ISO 9660 volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Iso {
    primary: Extent,
    joliet: Option<Extent>,
    rock_skip: Option<u8>,
    names: Names,
}

/// Reads logical block `block` into `buf`.
fn read_block(m: &mut dyn Medium, block: u64, buf: &mut [u8; SECTOR]) -> Result<(), DriveError> {
    read_exact(m, block * SECTOR as u64, buf)
}

/// A directory record (§9.1): the 33-byte fixed part, then the file identifier.
struct Record<'a> {
    raw: &'a [u8],
    extent: Extent,
    flags: u8,
    id: &'a [u8],
}

impl<'a> Record<'a> {
    /// Checks the lengths of a record and reads its fixed fields. `raw` is exactly the record's
    /// `LEN_DR` bytes.
    fn parse(raw: &'a [u8]) -> Result<Record<'a>, DriveError> {
        // 0: LEN_DR; 1: extended attribute record length, in blocks recorded before the data
        // (§9.1.2, §9.5); 2..10: extent location, both-endian (§7.3.3, only the LE half is
        // read, as Linux does); 10..18: data length; 25: flags; 32: LEN_FI; 33..: identifier.
        let lfi = *raw.get(32).ok_or(DriveError::Corrupt(Part::Directory))? as usize;
        let id = raw.get(33..33 + lfi).ok_or(DriveError::Corrupt(Part::Directory))?;
        if lfi == 0 {
            return Err(DriveError::Corrupt(Part::Directory));
        }
        let block = le32(raw, 2).checked_add(u32::from(raw[1])).ok_or(DriveError::Corrupt(Part::Directory))?;
        Ok(Record { raw, extent: Extent { block, len: le32(raw, 10) }, flags: raw[25], id })
    }

    /// The System Use field (§9.1.13): after the identifier and its padding byte (present when
    /// `LEN_FI` is even, §9.1.12), minus SUSP's `LEN_SKP`.
    fn system_use(&self, skip: u8) -> &'a [u8] {
        let at = 33 + self.id.len() + (1 - self.id.len() % 2) + usize::from(skip);
        self.raw.get(at..).unwrap_or(&[])
    }

    /// `.` and `..`: one byte, 0x00 or 0x01 (§6.8.2.2).
    fn is_dot(&self) -> bool {
        self.id.len() == 1 && self.id[0] <= 1
    }
}

/// Looks for ECMA-119 volume descriptors at sector 16 and on.
pub(super) fn probe(m: &mut dyn Medium) -> Result<Option<Volume>, DriveError> {
    let mut buf = [0u8; SECTOR];
    let mut primary: Option<(Extent, [u8; 32])> = None;
    let mut joliet = None;
    for i in 0..VD_MAX {
        match read_block(m, VD_FIRST + i, &mut buf) {
            Err(DriveError::Truncated) if i == 0 => return Ok(None),
            r => r?,
        }
        // Volume descriptor (§8.1): 0 type, 1..6 "CD001", 6 version.
        if &buf[1..6] != b"CD001" {
            if i == 0 {
                return Ok(None);
            }
            return Err(DriveError::Corrupt(Part::Descriptor));
        }
        match buf[0] {
            // Primary (§8.4): 40..72 volume identifier; 128..132 logical block size,
            // both-endian 16-bit; 156..190 the root directory's record.
            1 if primary.is_none() => {
                if u16::from_le_bytes([buf[128], buf[129]]) as usize != SECTOR {
                    return Err(DriveError::Unsupported);
                }
                let mut label = [0; 32];
                label.copy_from_slice(&buf[40..72]);
                primary = Some((root_extent(&buf)?, label));
            }
            // Supplementary (§8.5) with Joliet's escape sequences at 88..120: `%/@`, `%/C`,
            // `%/E` for UCS-2 levels 1–3 (Joliet Specification §3.2 and §3.3).
            2 if joliet.is_none() && buf[88] == b'%' && buf[89] == b'/' && matches!(buf[90], b'@' | b'C' | b'E') => {
                joliet = Some(root_extent(&buf)?);
            }
            // Terminator (§8.3).
            255 => break,
            _ => {}
        }
    }
    let (primary, label) = primary.ok_or(DriveError::Corrupt(Part::Descriptor))?;
    let rock_skip = rock_ridge(m, primary, &mut buf)?;
    let names = match (rock_skip, joliet) {
        (Some(skip), _) => Names::RockRidge { skip },
        (None, Some(_)) => Names::Joliet,
        (None, None) => Names::Plain,
    };
    Ok(Some(Volume::new(&label, Fs::Iso(Iso { primary, joliet, rock_skip, names }))))
}

/// The root directory record of a volume descriptor (offset 156, §8.4.18 and §8.5.12).
fn root_extent(vd: &[u8; SECTOR]) -> Result<Extent, DriveError> {
    let r = Record::parse(&vd[156..190]).map_err(|_| DriveError::Corrupt(Part::Descriptor))?;
    if r.flags & FLAG_DIRECTORY == 0 {
        return Err(DriveError::Corrupt(Part::Descriptor));
    }
    Ok(r.extent)
}

/// SUSP §5.3: a volume uses the System Use Sharing Protocol when the first record (`.`) of the
/// root directory starts its System Use field with `SP`: length 7, version 1, check bytes 0xBE
/// 0xEF, then `LEN_SKP`. Rock Ridge is SUSP's only user on config drives, so SUSP means Rock
/// Ridge here (its `ER` entry, which would say so, usually sits in a continuation area).
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn rock_ridge(m: &mut dyn Medium, root: Extent, buf: &mut [u8; SECTOR]) -> Result<Option<u8>, DriveError> {
    read_block(m, u64::from(root.block), buf)?;
    let len = usize::from(buf[0]);
    let rec = Record::parse(buf.get(..len).ok_or(DriveError::Corrupt(Part::Directory))?)?;
    Ok(match rec.system_use(0) {
        [b'S', b'P', 7, 1, 0xBE, 0xEF, skip, ..] => Some(*skip),
        _ => None,
    })
}

impl Iso {
    pub(super) fn names(&self) -> Names {
        self.names
    }

    pub(super) fn with_names(self, names: Names) -> Option<Iso> {
        let ok = match names {
            Names::RockRidge { skip } => self.rock_skip == Some(skip),
            Names::Joliet => self.joliet.is_some(),
            Names::Plain => true,
        };
        ok.then_some(Iso { names, ..self })
    }

    pub(super) fn describe(&self) -> &'static str {
        match self.names {
            Names::RockRidge { .. } => "iso9660 rock-ridge",
            Names::Joliet => "iso9660 joliet",
            Names::Plain => "iso9660",
        }
    }

    /// The root directory of the tree being read.
    pub(super) fn root(&self) -> Node {
        let root = match self.names {
            Names::Joliet => self.joliet.unwrap_or(self.primary),
            _ => self.primary,
        };
        Node { start: root.block, len: root.len, dir: true }
    }

    /// Finds `want` in the directory `dir`. Records never cross a sector (§6.8.1.1): a zero
    /// length byte ends the records of a sector, the rest is padding. A multi-extent file found
    /// is refused.
    pub(super) fn lookup(
        &self,
        m: &mut dyn Medium,
        dir: Node,
        want: &[u8],
        sector: &mut [u8; SECTOR],
        spare: &mut [u8; SECTOR],
        name: &mut Name,
    ) -> Result<Option<Node>, DriveError> {
        if dir.len > DIR_MAX {
            return Err(DriveError::Unsupported);
        }
        for i in 0..dir.len.div_ceil(SECTOR as u32) {
            read_block(m, u64::from(dir.start) + u64::from(i), sector)?;
            let mut at = 0;
            while at < SECTOR && sector[at] != 0 {
                let len = usize::from(sector[at]);
                let raw = sector.get(at..at + len).ok_or(DriveError::Corrupt(Part::Directory))?;
                let rec = Record::parse(raw)?;
                at += len;
                if rec.is_dot() || rec.flags & FLAG_ASSOCIATED != 0 {
                    continue;
                }
                if self.name_matches(m, &rec, want, spare, name)? {
                    if rec.flags & FLAG_MULTI_EXTENT != 0 {
                        return Err(DriveError::Unsupported);
                    }
                    let dir = rec.flags & FLAG_DIRECTORY != 0;
                    return Ok(Some(Node { start: rec.extent.block, len: rec.extent.len, dir }));
                }
            }
        }
        Ok(None)
    }

    fn name_matches(
        &self,
        m: &mut dyn Medium,
        rec: &Record<'_>,
        want: &[u8],
        spare: &mut [u8; SECTOR],
        name: &mut Name,
    ) -> Result<bool, DriveError> {
        name.clear();
        match self.names {
            Names::RockRidge { skip } => {
                if rock_name(m, rec.system_use(skip), spare, name)? {
                    return Ok(name.is(want, false));
                }
                name.clear();
                name.push(rec.id);
            }
            // Joliet identifiers are UCS-2 big-endian (Joliet Specification §4).
            Names::Joliet => rec.id.chunks_exact(2).for_each(|u| name.push_ucs2(u16::from_be_bytes([u[0], u[1]]))),
            Names::Plain => name.push(rec.id),
        }
        name.trim_version();
        Ok(name.is(want, true))
    }
}

/// Collects the Rock Ridge name from the System Use entries in `area` and its continuation
/// areas into `name`; false when there is no `NM` entry.
fn rock_name(m: &mut dyn Medium, area: &[u8], spare: &mut [u8; SECTOR], name: &mut Name) -> Result<bool, DriveError> {
    let mut found = false;
    let mut next = rock_entries(area, name, &mut found);
    for _ in 0..CE_MAX {
        let Some((block, offset, len)) = next else { break };
        // A continuation area lies within one block (SUSP §5.1: its offset and length fit
        // the logical block size).
        let (offset, len) = (offset as usize, len as usize);
        if offset.checked_add(len).is_none_or(|end| end > SECTOR) {
            break;
        }
        read_exact(m, u64::from(block) * SECTOR as u64 + offset as u64, &mut spare[..len])?;
        next = rock_entries(&spare[..len], name, &mut found);
    }
    Ok(found)
}

/// Reads the System Use entries of one area (SUSP §4.1: signature, length, version, data):
/// appends `NM` pieces to `name` and returns where the `CE` entry continues, if any. A
/// malformed entry ends the area, as in Linux, so the record keeps its ISO name.
fn rock_entries(mut rest: &[u8], name: &mut Name, found: &mut bool) -> Option<(u32, u32, u32)> {
    let mut next = None;
    while let [a, b, len, _, ..] = *rest {
        let len = usize::from(len);
        let Some(e) = rest.get(..len).filter(|_| len >= 4) else { break };
        match [a, b] {
            // NM (RRIP §4.1.4): flags, then a piece of the name. CURRENT (bit 1) and PARENT
            // (bit 2) name `.` and `..`, which have no text; pieces with CONTINUE (bit 0) are
            // followed by more NM entries, so all pieces are joined in order.
            [b'N', b'M'] if len >= 5 && e[4] & 0x06 == 0 => {
                name.push(&e[5..]);
                *found = true;
            }
            // CE (SUSP §5.1): block, offset and length of the continuation area, each
            // both-endian 32-bit, at 4, 12 and 20.
            [b'C', b'E'] if len >= 28 => next = Some((le32(e, 4), le32(e, 12), le32(e, 20))),
            // ST (SUSP §5.4): the end of the entries.
            [b'S', b'T'] => break,
            _ => {}
        }
        rest = &rest[len..];
    }
    next
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::super::tests::{fixture, read, read_with, source, tree_files};
    use super::super::{Kind, MemMedium, probe};
    use super::*;
    use std::vec::Vec;

    fn volume(img: &[u8]) -> Volume {
        probe(&mut MemMedium(img)).unwrap().unwrap()
    }

    /// Every file of `tree` reads back byte for byte through `v`, names as given by `name_of`
    /// (None: not expected to be found under any name).
    fn reads_tree(v: &Volume, img: &[u8], tree: &str, name_of: impl Fn(&str) -> Option<std::string::String>) {
        let mut seen = 0;
        for (path, data) in tree_files(tree) {
            let Some(p) = name_of(&path) else { continue };
            let got = read_with(v, img, &p, 16384);
            assert_eq!(got, Ok(Some(data)), "{p} through {:?}", v.iso_names());
            seen += 1;
        }
        assert!(seen > 50 || tree == "tree83", "{seen} files");
        for p in ["openstack/latest/nope", "nope/user_data", "openstack/latest/user_data/x", "openstack/content"] {
            assert_eq!(read_with(v, img, p, 16384), Ok(None), "{p}");
        }
    }

    /// Joliet (genisoimage) keeps 64 UCS-2 characters of a name.
    fn joliet_name(p: &str) -> Option<std::string::String> {
        (!p.contains("the-longest-name")).then(|| p.to_string())
    }

    #[test]
    fn nova_config_drive() {
        let img = fixture("nova.iso");
        let v = volume(&img);
        assert_eq!((v.kind(), v.label()), (Kind::Iso9660, &b"config-2"[..]));
        assert_eq!(v.iso_names(), Some(Names::RockRidge { skip: 0 }));
        assert_eq!(v.describe(), "iso9660 rock-ridge");
        // Rock Ridge: every name, the 195-byte one through a CE continuation area, exactly.
        reads_tree(&v, &img, "tree", |p| Some(p.to_string()));
        assert_eq!(read(&img, "OPENSTACK/LATEST/USER_DATA", 16384), Ok(None), "Rock Ridge names are exact");
        // The same image through its Joliet tree and its ISO names (-l: 31 characters).
        let j = v.with_iso_names(Names::Joliet).unwrap();
        reads_tree(&j, &img, "tree", joliet_name);
        assert_eq!(
            read_with(&j, &img, "OPENSTACK/Latest/USER_DATA", 16384),
            Ok(Some(source("tree", "openstack/latest/user_data")))
        );
        let p = v.with_iso_names(Names::Plain).unwrap();
        assert_eq!(
            read_with(&p, &img, "openstack/latest/meta_data.json", 4096),
            Ok(Some(source("tree", "openstack/latest/meta_data.json")))
        );
        assert!(v.with_iso_names(Names::RockRidge { skip: 1 }).is_none());
    }

    #[test]
    fn the_long_rock_ridge_name_is_continued() {
        // genisoimage moved the end of the long name's NM into a CE area: it reads whole, and
        // a prefix of it does not match.
        let img = fixture("nova.iso");
        let long = tree_files("tree").into_iter().find(|(p, _)| p.contains("the-longest-name")).unwrap();
        assert_eq!(read(&img, &long.0, 64), Ok(Some(long.1)));
        assert_eq!(read(&img, &long.0[..long.0.len() - 1], 64), Ok(None));
    }

    #[test]
    fn no_rock_ridge_reads_joliet() {
        let img = fixture("no-rock-ridge.iso");
        let v = volume(&img);
        assert_eq!((v.iso_names(), v.label()), (Some(Names::Joliet), &b"config-2"[..]));
        reads_tree(&v, &img, "tree", joliet_name);
    }

    #[test]
    fn no_joliet_reads_rock_ridge() {
        let img = fixture("no-joliet.iso");
        let v = volume(&img);
        assert_eq!(v.iso_names(), Some(Names::RockRidge { skip: 0 }));
        reads_tree(&v, &img, "tree", |p| Some(p.to_string()));
        assert!(v.with_iso_names(Names::Joliet).is_none());
    }

    #[test]
    fn long_names_only_in_joliet() {
        // No Rock Ridge and no -l: the ISO names are 8.3 (`USER_DAT.;1`), the real names are
        // only in the Joliet tree.
        let img = fixture("joliet-only.iso");
        let v = volume(&img);
        assert_eq!((v.iso_names(), v.label()), (Some(Names::Joliet), &b"CONFIG-2"[..]));
        reads_tree(&v, &img, "tree", joliet_name);
        let p = v.with_iso_names(Names::Plain).unwrap();
        assert_eq!(
            read_with(&p, &img, "openstac/latest/user_dat", 16384),
            Ok(Some(source("tree", "openstack/latest/user_data")))
        );
        assert_eq!(read_with(&p, &img, "openstack/latest/user_data", 16384), Ok(None));
    }

    #[test]
    fn level_1_names() {
        let img = fixture("level1.iso");
        let v = volume(&img);
        assert_eq!((v.iso_names(), v.label(), v.describe()), (Some(Names::Plain), &b"CONFIG-2"[..], "iso9660"));
        // `USERDATA.;1` and `README.;1`: version and trailing dot dropped, case ignored.
        reads_tree(&v, &img, "tree83", |p| Some(p.to_string()));
        assert_eq!(read(&img, "OPENSTK/LATEST/USERDATA", 64), Ok(Some(source("tree83", "openstk/latest/userdata"))));
        assert_eq!(read(&img, "readme;1", 64), Ok(None));
    }

    #[test]
    fn directories_span_sectors() {
        // openstack/content holds 48 files: 3 sectors of Rock Ridge records, 2 of Joliet ones.
        let img = fixture("nova.iso");
        let v = volume(&img);
        for names in [Names::RockRidge { skip: 0 }, Names::Joliet, Names::Plain] {
            let v = v.with_iso_names(names).unwrap();
            assert_eq!(
                read_with(&v, &img, "openstack/content/002f", 256),
                Ok(Some(source("tree", "openstack/content/002f")))
            );
        }
    }

    #[test]
    fn too_large_and_empty() {
        let img = fixture("nova.iso");
        let len = source("tree", "openstack/latest/user_data").len();
        assert_eq!(read(&img, "openstack/latest/user_data", len - 1), Err(DriveError::TooLarge));
        assert_eq!(read(&img, "openstack/latest/user_data", len).map(|d| d.map(|d| d.len())), Ok(Some(len)));
        assert_eq!(read(&img, "openstack/latest/empty", 0), Ok(Some(Vec::new())));
    }

    /// Byte offset of the first directory record whose identifier is `name`.
    fn record_at(img: &[u8], name: &[u8]) -> usize {
        (33..img.len() - name.len())
            .find(|&i| {
                &img[i..i + name.len()] == name
                    && usize::from(img[i - 1]) == name.len()
                    && usize::from(img[i - 33]) >= 33 + name.len()
            })
            .unwrap()
            - 33
    }

    #[test]
    fn corrupt_directory_records() {
        let img = fixture("nova.iso");
        let path = "openstack/latest/network_data.json";
        let at = record_at(&img, b"network_data.json;1");
        assert_eq!(read(&img, path, 16384), Ok(Some(source("tree", path))));
        // LEN_FI past the record.
        let mut bad = img.clone();
        bad[at + 32] = 200;
        assert_eq!(read(&bad, path, 16384), Err(DriveError::Corrupt(Part::Directory)));
        // LEN_FI zero.
        let mut bad = img.clone();
        bad[at + 32] = 0;
        assert_eq!(read(&bad, path, 16384), Err(DriveError::Corrupt(Part::Directory)));
        // A stray record after the last one of the sector: its length byte over the padding.
        let last = record_at(&img, b"vendor_data2.json;1");
        let mut bad = img.clone();
        bad[last + usize::from(img[last])] = 255;
        assert_eq!(read(&bad, "openstack/latest/nope", 16384), Err(DriveError::Corrupt(Part::Directory)));
        assert_eq!(read(&bad, path, 16384), Ok(Some(source("tree", path))), "found before the bad record");
        // LEN_DR too small for the fixed part.
        let mut bad = img.clone();
        bad[at] = 20;
        assert_eq!(read(&bad, path, 16384), Err(DriveError::Corrupt(Part::Directory)));
        // A multi-extent file is refused.
        let mut bad = img.clone();
        bad[at + 25] |= FLAG_MULTI_EXTENT;
        assert_eq!(read(&bad, path, 16384), Err(DriveError::Unsupported));
        // A file extent past the end of the image.
        let mut bad = img.clone();
        bad[at + 2..at + 6].copy_from_slice(&0x00FF_FFFFu32.to_le_bytes());
        assert_eq!(read(&bad, path, 16384), Err(DriveError::Truncated));
        // A directory claiming to be huge.
        let mut bad = img.clone();
        let dir = record_at(&bad, b"content");
        bad[dir + 10..dir + 14].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(read(&bad, "openstack/content/0000", 16384), Err(DriveError::Unsupported));
        // A file where a directory should be, and a directory where a file should be.
        assert_eq!(read(&img, "openstack/latest/network_data.json/x", 16384), Ok(None));
        assert_eq!(read(&img, "openstack/content", 16384), Ok(None));
    }

    #[test]
    fn corrupt_descriptors() {
        let img = fixture("nova.iso");
        let mut bad = img.clone();
        bad[16 * SECTOR + 128..16 * SECTOR + 130].copy_from_slice(&512u16.to_le_bytes());
        assert_eq!(probe(&mut MemMedium(&bad)).map(|v| v.is_some()), Err(DriveError::Unsupported));
        // The second descriptor lost its identifier.
        let mut bad = img.clone();
        bad[17 * SECTOR + 1] = b'X';
        assert_eq!(probe(&mut MemMedium(&bad)).map(|v| v.is_some()), Err(DriveError::Corrupt(Part::Descriptor)));
        // No primary descriptor before the terminator.
        let mut bad = img.clone();
        bad[16 * SECTOR] = 3;
        assert_eq!(probe(&mut MemMedium(&bad)).map(|v| v.is_some()), Err(DriveError::Corrupt(Part::Descriptor)));
        // The root record is not a directory.
        let mut bad = img.clone();
        bad[16 * SECTOR + 156 + 25] = 0;
        assert_eq!(probe(&mut MemMedium(&bad)).map(|v| v.is_some()), Err(DriveError::Corrupt(Part::Descriptor)));
    }

    #[test]
    fn corrupt_system_use_falls_back_to_the_iso_name() {
        let img = fixture("nova.iso");
        let at = record_at(&img, b"network_data.json;1");
        let su = at + 33 + 19;
        let nm = su + img[su..].windows(2).position(|w| w == b"NM").unwrap();
        let mut bad = img.clone();
        bad[nm + 2] = 250; // the NM entry runs past the record
        let want = source("tree", "openstack/latest/network_data.json");
        // This record is found by its ISO name, case ignored; the others keep their names.
        assert_eq!(read(&bad, "openstack/latest/NETWORK_DATA.JSON", 16384), Ok(Some(want)));
        assert_eq!(read(&bad, "openstack/latest/user_data", 16384).map(|d| d.is_some()), Ok(true));
        assert_eq!(read(&bad, "openstack/latest/USER_DATA", 16384), Ok(None));
    }

    #[test]
    fn continuation_loops_are_bounded() {
        // Point the root's CE (the one holding ER) at itself: followed CE_MAX times, then done.
        let img = fixture("nova.iso");
        let v = volume(&img);
        let Fs::Iso(iso) = v.fs else { panic!("not ISO 9660") };
        let root = iso.primary.block as usize * SECTOR;
        let ce = root + img[root..root + 255].windows(4).position(|w| w == b"CE\x1c\x01").unwrap();
        let mut bad = img.clone();
        let (blk, off) = (le32(&img, ce + 4) as usize, le32(&img, ce + 12) as usize);
        let area = blk * SECTOR + off;
        bad[area..area + 28].copy_from_slice(&img[ce..ce + 28]);
        assert_eq!(read(&bad, "openstack/latest/user_data", 16384).map(|d| d.is_some()), Ok(true));
    }

    #[test]
    fn truncated_images() {
        let img = fixture("nova.iso");
        let v = volume(&img);
        let whole = read(&img, "openstack/latest/user_data", 16384).unwrap().unwrap();
        for cut in [100, 32 * 1024, 34 * 1024, 40 * 1024, 60 * 1024, 100 * 1024] {
            let short = &img[..cut];
            let r = probe(&mut MemMedium(short));
            if cut < 34 * 1024 {
                assert_eq!(r.map(|v| v.is_some()), Ok(false), "cut at {cut}");
            }
            let r = read_with(&v, short, "openstack/latest/user_data", 16384);
            assert!(r == Err(DriveError::Truncated) || r == Ok(Some(whole.clone())), "cut at {cut}: {r:?}");
        }
        assert_eq!(read_with(&v, &img[..60 * 1024], "openstack/latest/user_data", 16384), Err(DriveError::Truncated));
    }

    #[test]
    fn every_single_byte_flip_in_the_metadata_is_survived() {
        // No panic and no hang for any one-byte change to the descriptors and directories.
        let img = fixture("nova.iso");
        let end = 60 * SECTOR;
        let mut bad = img.clone();
        for i in (16 * SECTOR..end).step_by(7) {
            for x in [0x01, 0x80, 0xFF] {
                bad[i] ^= x;
                if let Ok(Some(v)) = probe(&mut MemMedium(&bad)) {
                    let _ = read_with(&v, &bad, "openstack/latest/user_data", 16384);
                }
                bad[i] ^= x;
            }
        }
    }
}
