//! FAT12, FAT16 and FAT32 read-only, with long file names: the VFAT config drives made by
//! `mkfs.vfat -n config-2` and `mcopy`.
//!
//! Layout and field offsets follow Microsoft's "FAT: General Overview of On-Disk Format"
//! (version 1.03, 2000; cited as "FAT spec"): the boot sector's BIOS Parameter Block (§3), the
//! FAT type decided by the count of clusters alone (§3.5), the FAT entries (§4), directory
//! entries (§6) and long name entries (§7).
//!
//! Names: a path component matches an entry's long name (a complete run of long name entries
//! with the short entry's checksum, §7) or its 8.3 short name (`NAME.EXT`, blanks dropped),
//! either ignoring ASCII case: FAT is case-insensitive.
//!
//! Label, as blkid reports it: the volume label entry in the root directory (attribute
//! ATTR_VOLUME_ID, §6) wins over the boot sector's `BS_VolLab`, which counts only when the
//! extended boot signature (0x29) is there and it is not mkfs's `NO NAME`. `mkfs.vfat -n
//! config-2` (dosfstools 4.2) writes the label as given, lower case included, to both.
//!
//! Bounds: a directory is read up to 2 MiB (the spec's limit of 65,536 entries, §6), a file's
//! chain exactly as far as its size needs, and that chain must then end: a chain that loops, or
//! is too short or too long for the size, is [`Part::Chain`] corruption, never a hang.

use super::{DriveError, Fs, Medium, Name, Node, Part, Volume, le16, le32, read_exact};

/// Bytes read from a directory at a time: every sector size is a multiple of it (§3.1).
const CHUNK: usize = 512;
/// Largest directory read: 65,536 entries of 32 bytes (FAT spec §6).
const DIR_BYTES_MAX: u32 = 65_536 * 32;
/// Directory entry attributes (§6): ATTR_VOLUME_ID, ATTR_DIRECTORY, and ATTR_LONG_NAME (read
/// only, hidden, system and volume id at once) under its mask.
const ATTR_VOLUME_ID: u8 = 0x08;
const ATTR_DIRECTORY: u8 = 0x10;
const ATTR_LONG_NAME: u8 = 0x0F;
const ATTR_LONG_NAME_MASK: u8 = 0x3F;
/// First byte of a free entry (§6.1, DIR_Name[0]); 0x00 ends the directory.
const FREE: u8 = 0xE5;
/// Long name entries per name: 255 characters, 13 to an entry (§7).
const LFN_ENTRIES_MAX: usize = 20;

/// Where a directory's entries are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Dir {
    /// The FAT12/16 root: a fixed region, `len` bytes at byte `at` (§3.5).
    Fixed { at: u64, len: u32 },
    /// A cluster chain from this cluster: subdirectories, and the FAT32 root (BPB_RootClus).
    Chain(u32),
}

/// What [`probe`] found on a FAT volume.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fat {
    /// 12, 16 or 32.
    bits: u8,
    cluster_bytes: u32,
    /// Byte offsets of the FAT in use and of cluster 2.
    fat: u64,
    data: u64,
    /// Count of data clusters: valid cluster numbers are 2..clusters + 2.
    clusters: u32,
    root: Dir,
}

/// One link of a cluster chain.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Link {
    Next(u32),
    End,
    /// Free, reserved, bad or past the last cluster.
    Bad,
}

/// Reads the boot sector and, when it holds a FAT BPB, the root directory's label.
pub(super) fn probe(m: &mut dyn Medium) -> Result<Option<Volume>, DriveError> {
    let mut b = [0u8; CHUNK];
    match read_exact(m, 0, &mut b) {
        Err(DriveError::Truncated) => return Ok(None),
        r => r?,
    }
    let Some((fat, boot_label)) = parse_bpb(&b) else { return Ok(None) };
    let mut label = None;
    fat.walk(m, fat.root, &mut b, &mut |e| {
        // The label entry (§6: ATTR_VOLUME_ID, not a long name entry, not free).
        let is_label = e[0] != FREE
            && e[11] & ATTR_LONG_NAME_MASK != ATTR_LONG_NAME
            && e[11] & (ATTR_VOLUME_ID | ATTR_DIRECTORY) == ATTR_VOLUME_ID;
        if is_label {
            let mut l = [0; 11];
            l.copy_from_slice(&e[..11]);
            label = Some(l);
        }
        is_label
    })?;
    let label = label.or(boot_label).unwrap_or([b' '; 11]);
    Ok(Some(Volume::new(&label, Fs::Fat(fat))))
}

/// The BPB (FAT spec §3.1–§3.3), its FAT type (§3.5), and `BS_VolLab` when it counts. None
/// when the sector is not a FAT boot sector or its geometry is impossible.
fn parse_bpb(b: &[u8; CHUNK]) -> Option<(Fat, Option<[u8; 11]>)> {
    // 0: BS_jmpBoot (EB ?? 90 or E9 ?? ??); 510: the signature 55 AA (§3.1, §3.2).
    if !matches!(b[0], 0xEB | 0xE9) || b[510..512] != [0x55, 0xAA] {
        return None;
    }
    // 11: BPB_BytsPerSec (512–4096, a power of two); 13: BPB_SecPerClus (a power of two);
    // 14: BPB_RsvdSecCnt (not 0); 16: BPB_NumFATs; 17: BPB_RootEntCnt; 19: BPB_TotSec16;
    // 21: BPB_Media (F0, F8–FF); 22: BPB_FATSz16; 32: BPB_TotSec32; FAT32 only: 36 BPB_FATSz32,
    // 40 BPB_ExtFlags, 44 BPB_RootClus.
    let bps = u64::from(le16(b, 11));
    let spc = u64::from(b[13]);
    let reserved = u64::from(le16(b, 14));
    let fats = u64::from(b[16]);
    let root_entries = u64::from(le16(b, 17));
    let media = b[21];
    if !(512..=4096).contains(&bps) || !bps.is_power_of_two() || !spc.is_power_of_two() || reserved == 0 || fats == 0 {
        return None;
    }
    if media != 0xF0 && media < 0xF8 {
        return None;
    }
    let fat_sectors = match le16(b, 22) {
        0 => u64::from(le32(b, 36)),
        n => u64::from(n),
    };
    let total = match le16(b, 19) {
        0 => u64::from(le32(b, 32)),
        n => u64::from(n),
    };
    // §3.5: RootDirSectors, the first data sector, and the count of clusters, which alone
    // decides the FAT type.
    let root_sectors = (root_entries * 32).div_ceil(bps);
    let first_data = reserved + fats * fat_sectors + root_sectors;
    let clusters = total.checked_sub(first_data)? / spc;
    let bits: u8 = match clusters {
        0..4085 => 12,
        4085..65525 => 16,
        // FAT32 cluster numbers are 28 bits, the top 11 values reserved (§4).
        65525..0x0FFF_FFF5 => 32,
        _ => return None,
    };
    // The FAT must have an entry for every cluster.
    if fat_sectors == 0 || fat_sectors * bps * 8 < (clusters + 2) * u64::from(bits) {
        return None;
    }
    let mut active = 0;
    let (root, sig_at) = if bits == 32 {
        // BPB_ExtFlags bit 7: only the FAT numbered in bits 0–3 is in use (§3.3).
        let ext = le16(b, 40);
        if ext & 0x80 != 0 {
            active = u64::from(ext & 0x0F);
        }
        if root_entries != 0 || active >= fats {
            return None;
        }
        (Dir::Chain(le32(b, 44)), 66)
    } else {
        if root_entries == 0 {
            return None;
        }
        (Dir::Fixed { at: (first_data - root_sectors) * bps, len: root_entries as u32 * 32 }, 38)
    };
    // BS_BootSig 0x29 says BS_VolID and BS_VolLab follow (§3.2: 38, 43; §3.3: 66, 71).
    let boot_label = (b[sig_at] == 0x29).then(|| {
        let mut l = [0; 11];
        l.copy_from_slice(&b[sig_at + 5..sig_at + 16]);
        l
    });
    let fat = Fat {
        bits,
        cluster_bytes: (bps * spc) as u32,
        fat: (reserved + active * fat_sectors) * bps,
        data: first_data * bps,
        clusters: clusters as u32,
        root,
    };
    Some((fat, boot_label.filter(|l| l != b"NO NAME    ")))
}

/// ChkSum (§7): the short name's checksum that each of its long name entries carries.
fn checksum(short: &[u8]) -> u8 {
    short.iter().fold(0u8, |s, &c| s.rotate_right(1).wrapping_add(c))
}

/// A long name being collected from its entries, which come last piece first (§7).
struct LongName {
    units: [u16; LFN_ENTRIES_MAX * 13],
    /// Pieces in the name; the ordinal expected next (0: complete); their checksum.
    count: u8,
    next: u8,
    sum: u8,
}

impl LongName {
    /// Takes one long name entry: 0 LDIR_Ord (0x40 marks the last piece, which comes first),
    /// 1 LDIR_Name1 (5 UCS-2 characters), 13 LDIR_Chksum, 14 LDIR_Name2 (6), 28 LDIR_Name3 (2).
    /// An entry out of sequence drops what was collected.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn feed(&mut self, e: &[u8; 32]) {
        let ord = e[0] & 0x3F;
        if e[0] & 0x40 != 0 {
            (self.count, self.next, self.sum) = (ord, ord, e[13]);
        }
        if ord == 0 || ord as usize > LFN_ENTRIES_MAX || ord != self.next || e[13] != self.sum {
            self.next = u8::MAX;
            return;
        }
        let base = (usize::from(ord) - 1) * 13;
        for (i, at) in [1, 3, 5, 7, 9, 14, 16, 18, 20, 22, 24, 28, 30].into_iter().enumerate() {
            self.units[base + i] = le16(e, at);
        }
        self.next -= 1;
    }

    /// Puts the long name into `name` when a complete one, with `short`'s checksum, came right
    /// before this short entry; forgets it either way.
    fn take(&mut self, short: &[u8; 32], name: &mut Name) -> bool {
        let whole = self.next == 0 && checksum(&short[..11]) == self.sum;
        self.next = u8::MAX;
        if whole {
            // The name ends at a 0x0000 unless it fills its last entry (§7).
            let units = &self.units[..usize::from(self.count) * 13];
            units.iter().take_while(|&&u| u != 0).for_each(|&u| name.push_ucs2(u));
        }
        whole
    }
}

/// The 8.3 name of a short entry as `NAME.EXT` (§6.1: blank-padded, no dot stored; a first
/// byte 0x05 stands for 0xE5).
fn short_name(e: &[u8; 32], name: &mut Name) {
    let trim = |s: &[u8]| s.len() - s.iter().rev().take_while(|&&c| c == b' ').count();
    let base = &e[..trim(&e[..8])];
    let ext = &e[8..8 + trim(&e[8..11])];
    match base.split_first() {
        Some((0x05, rest)) => {
            name.push(&[FREE]);
            name.push(rest);
        }
        _ => name.push(base),
    }
    if !ext.is_empty() {
        name.push(b".");
        name.push(ext);
    }
}

impl Fat {
    pub(super) fn describe(&self) -> &'static str {
        match self.bits {
            12 => "fat12",
            16 => "fat16",
            _ => "fat32",
        }
    }

    /// Byte offset of cluster `c` (§3.5: FirstSectorofCluster).
    fn cluster_at(&self, c: u32) -> Result<u64, DriveError> {
        match c.checked_sub(2) {
            Some(i) if i < self.clusters => Ok(self.data + u64::from(i) * u64::from(self.cluster_bytes)),
            _ => Err(DriveError::Corrupt(Part::Chain)),
        }
    }

    /// The FAT entry of cluster `c` (§4): 12 bits at byte c * 1.5 (the high 12 of the 16 read
    /// when c is odd), 16 bits at c * 2, 28 bits at c * 4. Values from 0xFF8 (0xFFF8,
    /// 0x0FFFFFF8) end the chain.
    fn link(&self, m: &mut dyn Medium, c: u32) -> Result<Link, DriveError> {
        let c64 = u64::from(c);
        let (at, max) = match self.bits {
            12 => (c64 + c64 / 2, 0xFFF),
            16 => (c64 * 2, 0xFFFF),
            _ => (c64 * 4, 0x0FFF_FFFF),
        };
        let mut b = [0u8; 4];
        let width = if self.bits == 32 { 4 } else { 2 };
        read_exact(m, self.fat + at, &mut b[..width])?;
        let mut v = u32::from_le_bytes(b);
        if self.bits == 12 && c & 1 == 1 {
            v >>= 4;
        }
        v &= max;
        Ok(if v >= max - 7 {
            Link::End
        } else if v >= 2 && v - 2 < self.clusters {
            Link::Next(v)
        } else {
            Link::Bad
        })
    }

    /// Hands each entry of `dir` to `visit` until it returns true or the directory ends (a
    /// first byte 0x00, §6.1, or the end of the region or chain).
    fn walk(
        &self,
        m: &mut dyn Medium,
        dir: Dir,
        buf: &mut [u8],
        visit: &mut dyn FnMut(&[u8; 32]) -> bool,
    ) -> Result<(), DriveError> {
        let (mut at, mut left, mut cluster) = match dir {
            Dir::Fixed { at, len } => (at, len, None),
            Dir::Chain(c) => (self.cluster_at(c)?, self.cluster_bytes, Some(c)),
        };
        let mut budget = DIR_BYTES_MAX;
        loop {
            while left > 0 {
                let n = left.min(buf.len() as u32 & !31);
                budget = budget.checked_sub(n).ok_or(DriveError::Corrupt(Part::Chain))?;
                let chunk = &mut buf[..n as usize];
                read_exact(m, at, chunk)?;
                for e in chunk.as_chunks::<32>().0 {
                    if e[0] == 0 || visit(e) {
                        return Ok(());
                    }
                }
                at += u64::from(n);
                left -= n;
            }
            let Some(c) = cluster else { return Ok(()) };
            match self.link(m, c)? {
                Link::Next(n) => {
                    (at, left, cluster) = (self.cluster_at(n)?, self.cluster_bytes, Some(n));
                }
                Link::End => return Ok(()),
                Link::Bad => return Err(DriveError::Corrupt(Part::Chain)),
            }
        }
    }

    /// The root directory, as a [`Node`] with cluster 0 (what `..` entries record for it, §6).
    pub(super) fn root(&self) -> Node {
        Node { start: 0, len: 0, dir: true }
    }

    /// Finds `want` in directory `dir` by long or short name.
    pub(super) fn lookup(
        &self,
        m: &mut dyn Medium,
        dir: Node,
        want: &[u8],
        buf: &mut [u8],
        name: &mut Name,
    ) -> Result<Option<Node>, DriveError> {
        let dir = if dir.start == 0 { self.root } else { Dir::Chain(dir.start) };
        let mut long = LongName { units: [0; LFN_ENTRIES_MAX * 13], count: 0, next: u8::MAX, sum: 0 };
        let mut found = None;
        let bits = self.bits;
        self.walk(m, dir, buf, &mut |e| {
            if e[0] == FREE {
                long.next = u8::MAX;
                return false;
            }
            if e[11] & ATTR_LONG_NAME_MASK == ATTR_LONG_NAME {
                long.feed(e);
                return false;
            }
            name.clear();
            let has_long = long.take(e, name);
            if e[11] & ATTR_VOLUME_ID != 0 {
                return false;
            }
            let hit = (has_long && name.is(want, true)) || {
                name.clear();
                short_name(e, name);
                name.is(want, true)
            };
            if hit {
                // §6: DIR_FstClusHI (20, FAT32 only), DIR_FstClusLO (26), DIR_FileSize (28).
                let hi = if bits == 32 { u32::from(le16(e, 20)) << 16 } else { 0 };
                found = Some(Node {
                    start: hi | u32::from(le16(e, 26)),
                    len: le32(e, 28),
                    dir: e[11] & ATTR_DIRECTORY != 0,
                });
            }
            hit
        })?;
        Ok(found)
    }

    /// Reads the chain from cluster `first` into `out`, which is as long as the file. The
    /// chain must hold exactly the clusters that size needs: one more link, a free or bad one,
    /// or a loop back, is corruption.
    pub(super) fn read_chain(&self, m: &mut dyn Medium, first: u32, out: &mut [u8]) -> Result<(), DriveError> {
        let size = out.len();
        let mut done = 0;
        let mut c = first;
        while done < size {
            // A run of consecutive clusters is one read.
            let start = c;
            let mut run = 0usize;
            let link = loop {
                run += self.cluster_bytes as usize;
                let link = self.link(m, c)?;
                match link {
                    Link::Next(n) if n == c.wrapping_add(1) && done + run < size => c = n,
                    _ => break link,
                }
            };
            let n = run.min(size - done);
            read_exact(m, self.cluster_at(start)?, &mut out[done..done + n])?;
            done += n;
            match (link, done == size) {
                (Link::End, true) => {}
                (Link::Next(n), false) => c = n,
                _ => return Err(DriveError::Corrupt(Part::Chain)),
            }
        }
        Ok(())
    }
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

    fn fat_of(v: &Volume) -> Fat {
        let Fs::Fat(f) = v.fs else { panic!("not FAT") };
        f
    }

    /// Every file of the tree the images were made from reads back byte for byte.
    fn reads_tree(img: &[u8]) {
        let v = volume(img);
        let files = tree_files("tree");
        for (path, data) in &files {
            assert_eq!(read_with(&v, img, path, 16384).as_ref(), Ok(&Some(data.clone())), "{path}");
        }
        assert!(files.len() > 50);
        for p in ["openstack/latest/nope", "nope/user_data", "openstack/latest/user_data/x", "openstack/content"] {
            assert_eq!(read_with(&v, img, p, 16384), Ok(None), "{p}");
        }
    }

    #[test]
    fn fat12() {
        let img = fixture("fat12.img");
        let v = volume(&img);
        assert_eq!((v.kind(), v.describe(), v.label()), (Kind::Fat, "fat12", &b"config-2"[..]));
        reads_tree(&img);
    }

    #[test]
    fn fat16() {
        let img = fixture("fat16.img");
        let v = volume(&img);
        assert_eq!((v.describe(), v.label()), ("fat16", &b"CONFIG-2"[..]));
        assert_eq!(fat_of(&v).cluster_bytes, 2048);
        reads_tree(&img);
    }

    #[test]
    fn fat32() {
        let img = fixture("fat32.img");
        let v = volume(&img);
        assert_eq!((v.describe(), v.label()), ("fat32", &b"config-2"[..]));
        assert_eq!(fat_of(&v).cluster_bytes, 512);
        assert!(matches!(fat_of(&v).root, Dir::Chain(2)));
        // openstack/content has 48 short entries and 2 dot entries: 4 clusters of 512 bytes.
        reads_tree(&img);
    }

    #[test]
    fn long_and_short_names() {
        let img = fixture("fat12.img");
        let want = source("tree", "openstack/latest/user_data");
        // The long name, in any case, and the 8.3 alias mtools gave it.
        for p in ["openstack/latest/user_data", "OpenStack/LATEST/User_Data", "OPENST~1/LATEST/USER_D~1"] {
            assert_eq!(read(&img, p, 16384), Ok(Some(want.clone())), "{p}");
        }
        // `empty`, `0000`: short entries only (mtools records lower case in DIR_NTRes).
        assert_eq!(read(&img, "openstack/latest/EMPTY", 0), Ok(Some(Vec::new())));
        assert_eq!(read(&img, "openstack/content/002F", 256), Ok(Some(source("tree", "openstack/content/002f"))));
        let long = "openstack/latest/a-rather-long-file-name.for.joliet-and-rock-ridge.txt";
        assert_eq!(read(&img, long, 64), Ok(Some(source("tree", long))));
        assert_eq!(read(&img, &long[..long.len() - 1], 64), Ok(None));
    }

    #[test]
    fn a_broken_long_name_leaves_the_short_one() {
        let img = fixture("fat12.img");
        // The first long name entry of `user_data`: change its checksum.
        let lfn = img.windows(10).position(|w| w == b"u\0s\0e\0r\0_\0").unwrap() - 1;
        let mut bad = img.clone();
        bad[lfn + 13] ^= 1;
        let want = source("tree", "openstack/latest/user_data");
        assert_eq!(read(&bad, "openstack/latest/user_data", 16384), Ok(None));
        assert_eq!(read(&bad, "openstack/latest/user_d~1", 16384), Ok(Some(want)));
    }

    #[test]
    fn label_entry_wins_over_the_boot_sector() {
        let mut img = fixture("fat16.img");
        img[43..54].copy_from_slice(b"BOOTLABEL  ");
        assert_eq!(volume(&img).label(), b"CONFIG-2");
        // Without the root entry, the boot sector's; mkfs's placeholder counts as none.
        let root = fat_of(&volume(&img)).root;
        let Dir::Fixed { at, .. } = root else { panic!() };
        let at = at as usize;
        assert_eq!(img[at + 11], ATTR_VOLUME_ID);
        img[at] = FREE;
        assert_eq!(volume(&img).label(), b"BOOTLABEL");
        img[43..54].copy_from_slice(b"NO NAME    ");
        assert_eq!(volume(&img).label(), b"");
        img[38] = 0;
        img[43..54].copy_from_slice(b"BOOTLABEL  ");
        assert_eq!(volume(&img).label(), b"", "no extended boot signature, no BS_VolLab");
    }

    #[test]
    fn too_large() {
        let img = fixture("fat32.img");
        let len = source("tree", "openstack/latest/user_data").len();
        assert_eq!(read(&img, "openstack/latest/user_data", len - 1), Err(DriveError::TooLarge));
        assert_eq!(read(&img, "openstack/latest/user_data", len).map(|d| d.map(|d| d.len())), Ok(Some(len)));
    }

    /// (FAT, the first cluster of `path` in `img`.)
    fn first_cluster(img: &[u8], path: &str) -> (Fat, u32) {
        let f = fat_of(&volume(img));
        let mut m = MemMedium(img);
        let mut node = f.root();
        for c in path.split('/') {
            node = f.lookup(&mut m, node, c.as_bytes(), &mut [0; CHUNK], &mut Name::new()).unwrap().unwrap();
        }
        (f, node.start)
    }

    /// Sets cluster `c`'s FAT entry (every FAT copy is left alone but the first).
    fn set_link(img: &mut [u8], f: &Fat, c: u32, v: u32) {
        let c = c as usize;
        let fat = f.fat as usize;
        match f.bits {
            12 => {
                let at = fat + c + c / 2;
                let old = u16::from_le_bytes([img[at], img[at + 1]]);
                let new =
                    if c & 1 == 1 { (old & 0x000F) | ((v as u16) << 4) } else { (old & 0xF000) | (v as u16 & 0xFFF) };
                img[at..at + 2].copy_from_slice(&new.to_le_bytes());
            }
            16 => img[fat + 2 * c..fat + 2 * c + 2].copy_from_slice(&(v as u16).to_le_bytes()),
            _ => img[fat + 4 * c..fat + 4 * c + 4].copy_from_slice(&v.to_le_bytes()),
        }
    }

    #[test]
    fn chain_cycles_end_in_corrupt() {
        for fixture_name in ["fat12.img", "fat16.img", "fat32.img"] {
            let img = fixture(fixture_name);
            let (f, first) = first_cluster(&img, "openstack/latest/user_data");
            let mut m = MemMedium(&img);
            let mut last = first;
            while let Link::Next(n) = f.link(&mut m, last).unwrap() {
                last = n;
            }
            // The file's last cluster links back to its first.
            let mut bad = img.clone();
            set_link(&mut bad, &f, last, first);
            assert_eq!(
                read(&bad, "openstack/latest/user_data", 16384),
                Err(DriveError::Corrupt(Part::Chain)),
                "{fixture_name}"
            );
            // A directory's first cluster links to itself: read up to 2 MiB, then refused
            // (where the directory fits one cluster, its end marker comes first).
            let (_, content) = first_cluster(&img, "openstack/content");
            let mut bad = img.clone();
            set_link(&mut bad, &f, content, content);
            let want = if f.cluster_bytes < 50 * 32 { Err(DriveError::Corrupt(Part::Chain)) } else { Ok(None) };
            assert_eq!(read(&bad, "openstack/content/nope", 16), want, "{fixture_name}");
            // A chain cut short (free) or running into a bad cluster.
            for v in [0, 0xFF7] {
                let mut bad = img.clone();
                set_link(&mut bad, &f, first, v);
                assert_eq!(
                    read(&bad, "openstack/latest/user_data", 16384),
                    Err(DriveError::Corrupt(Part::Chain)),
                    "{fixture_name}"
                );
            }
        }
    }

    #[test]
    fn corrupt_entries() {
        let img = fixture("fat16.img");
        let short = img.windows(11).position(|w| w == b"USER_D~1   ").unwrap();
        // The first cluster past the volume.
        let mut bad = img.clone();
        bad[short + 26..short + 28].copy_from_slice(&0xFFF0u16.to_le_bytes());
        assert_eq!(read(&bad, "openstack/latest/user_data", 16384), Err(DriveError::Corrupt(Part::Chain)));
        // A size longer than the chain.
        let mut bad = img.clone();
        bad[short + 28..short + 32].copy_from_slice(&9000u32.to_le_bytes());
        assert_eq!(read(&bad, "openstack/latest/user_data", 16384), Err(DriveError::Corrupt(Part::Chain)));
        // A size shorter than the chain.
        let mut bad = img.clone();
        bad[short + 28..short + 32].copy_from_slice(&100u32.to_le_bytes());
        assert_eq!(read(&bad, "openstack/latest/user_data", 16384), Err(DriveError::Corrupt(Part::Chain)));
    }

    #[test]
    fn not_fat() {
        let img = fixture("fat12.img");
        for (at, v) in [(510, 0), (0, 0), (11, 3), (13, 3), (14, 0), (16, 0), (21, 0x12)] {
            let mut bad = img.clone();
            bad[at] = v;
            if at == 14 {
                bad[15] = 0;
            }
            assert!(probe(&mut MemMedium(&bad)).unwrap().is_none(), "byte {at} = {v}");
        }
        // The FAT too small for the clusters.
        let mut bad = img.clone();
        bad[22..24].copy_from_slice(&1u16.to_le_bytes());
        assert!(probe(&mut MemMedium(&bad)).unwrap().is_none());
    }

    #[test]
    fn truncated_images() {
        let img = fixture("fat32.img");
        let v = volume(&img);
        let whole = source("tree", "openstack/latest/user_data");
        for cut in [0, 100, 511, 512, 4096, 100_000, 400_000, 1 << 20] {
            let short = &img[..cut];
            let r = probe(&mut MemMedium(short));
            assert!(matches!(r, Ok(None) | Ok(Some(_)) | Err(DriveError::Truncated)), "cut at {cut}: {r:?}");
            let r = read_with(&v, short, "openstack/latest/user_data", 16384);
            assert!(r == Err(DriveError::Truncated) || r == Ok(Some(whole.clone())), "cut at {cut}: {r:?}");
        }
    }

    #[test]
    fn every_single_byte_flip_in_the_metadata_is_survived() {
        let img = fixture("fat12.img");
        let f = fat_of(&volume(&img));
        let end = f.data as usize + 40 * 512;
        let mut bad = img.clone();
        for i in (0..end).step_by(5) {
            for x in [0x01, 0x80, 0xFF] {
                bad[i] ^= x;
                if let Ok(Some(v)) = probe(&mut MemMedium(&bad)) {
                    let _ = read_with(&v, &bad, "openstack/latest/user_data", 16384);
                    let _ = read_with(&v, &bad, "openstack/content/002f", 16384);
                }
                bad[i] ^= x;
            }
        }
    }

    #[test]
    fn checksum_of_a_short_name() {
        // mtools' `USER_D~1` for user_data, as recorded in its long name entries.
        let img = fixture("fat12.img");
        let short = img.windows(11).position(|w| w == b"USER_D~1   ").unwrap();
        let lfn = img.windows(10).position(|w| w == b"u\0s\0e\0r\0_\0").unwrap() - 1;
        assert_eq!(checksum(&img[short..short + 11]), img[lfn + 13]);
    }
}
