//! FAT12, FAT16 and FAT32 images written by the `fatfs` crate (an independent implementation)
//! from fuzz-chosen directories, files (long, short, mixed-case and non-ASCII names; sizes
//! across clusters), cluster sizes and labels, then read by flint. Checked against fatfs's own
//! reading of the same image: the FAT type, the label, and every file by its long name, its
//! short name and its name in another case, byte for byte; directories and missing names are
//! `Ok(None)`; a buffer one byte short is `TooLarge`. Then up to 16 bytes of the boot sector,
//! FATs and directories are changed and the image possibly cut: no panic, bounded reads, and
//! every read that saw no changed byte answers as before. One input in two instead changes
//! the FAT12, FAT16 or FAT32 fixture that mkfs.vfat and mcopy made, the same way, after
//! checking once that the unchanged ones read every file of their tree exactly.
#![no_main]

use std::io::{Cursor, Read, Write};
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use fatfs::{FatType, FileSystem, FormatVolumeOptions, FsOptions};
use flint::sources::drive::{DriveError, MemMedium, Volume, probe};
use flint_fuzz::{Patched, read_file};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Item {
    /// Index of the parent among the directories made so far (0: the root).
    parent: u8,
    name: Vec<u8>,
    data: Vec<u8>,
    /// The data repeated this many times more: files over many clusters from small inputs.
    repeat: u8,
    dir: bool,
}

#[derive(Arbitrary, Debug)]
struct Case {
    kind: u8,
    cluster_shift: u8,
    label: [u8; 11],
    items: Vec<Item>,
    patches: Vec<(u32, u8)>,
    cut: Option<u32>,
}

/// Characters names are drawn from: FAT long-name characters, two of them outside ASCII.
const CHARS: &[char] = &[
    'a', 'b', 'c', 'x', 'y', 'z', 'A', 'B', 'Q', 'Z', '0', '1', '9', '-', '_', '.', ' ', '+', ',', ';', '=', '[', ']',
    '(', ')', '\'', '!', '#', '$', '%', '&', '@', '^', '{', '}', 'é', '€',
];

fn name(raw: &[u8]) -> Option<String> {
    let s: String = raw.iter().take(60).map(|&b| CHARS[b as usize % CHARS.len()]).collect();
    // Windows (and fatfs) drop trailing dots and spaces; leading spaces are just as odd.
    let s = s.trim_end_matches(['.', ' ']).trim_start_matches(' ').to_string();
    (!s.is_empty()).then_some(s)
}

/// One file or directory as fatfs reads it back.
struct Found {
    /// Each component as (long name, short name).
    path: Vec<(String, String)>,
    dir: bool,
    data: Vec<u8>,
}

fn walk(dir: &fatfs::Dir<'_, Cursor<&mut [u8]>>, prefix: &[(String, String)], out: &mut Vec<Found>, depth: usize) {
    for e in dir.iter() {
        let e = e.unwrap();
        let long = e.file_name();
        if long == "." || long == ".." {
            continue;
        }
        let mut path = prefix.to_vec();
        path.push((long, e.short_file_name()));
        if e.is_dir() {
            if depth < 8 {
                walk(&e.to_dir(), &path, out, depth + 1);
            }
            out.push(Found { path, dir: true, data: Vec::new() });
        } else {
            let mut data = Vec::new();
            e.to_file().read_to_end(&mut data).unwrap();
            out.push(Found { path, dir: false, data });
        }
    }
}

/// Files as (path, contents).
type Files = Vec<(String, Vec<u8>)>;

/// The images mkfs.vfat and mcopy made (`tests/fixtures/drive/`) and the files they hold.
static FIXTURES: LazyLock<Vec<(Vec<u8>, Files)>> = LazyLock::new(|| {
    let tree = flint_fuzz::tree_files("tree");
    [
        &include_bytes!("../../tests/fixtures/drive/fat12.img.gz")[..],
        include_bytes!("../../tests/fixtures/drive/fat16.img.gz"),
        include_bytes!("../../tests/fixtures/drive/fat32.img.gz"),
    ]
    .iter()
    .map(|gz| {
        let img = flint_fuzz::gunzip(gz);
        let v = probe(&mut MemMedium(&img)).unwrap().unwrap();
        for (p, want) in &tree {
            assert_eq!(read_file(&v, &mut MemMedium(&img), p, want.len()).unwrap().as_ref(), Some(want), "{p}");
        }
        (img, tree.clone())
    })
    .collect()
});

/// Bit 7 of `kind`: a fixture made by the real tools instead of a fatfs image.
fn fixture_case(c: &Case) {
    let (img, files) = &FIXTURES[c.cluster_shift as usize % 3];
    let v = probe(&mut MemMedium(img)).unwrap().unwrap();
    let paths: Vec<(&str, usize)> = files
        .iter()
        .map(|(p, d)| (p.as_str(), d.len()))
        .filter(|(p, _)| !p.contains("content/00") || p.ends_with("2f"))
        .collect();
    changed(img, &v, &paths, c);
}

/// Changed bytes in the boot sector, the FATs and the first directories, and a cut: no panic,
/// bounded reads, and reads that saw no changed byte answer as on `img`.
fn changed(img: &[u8], v: &Volume, paths: &[(&str, usize)], c: &Case) {
    let region = img.len().min(1 << 20);
    let patches = c.patches.iter().take(16).map(|&(at, b)| (at as usize % region, b)).collect();
    let len = c.cut.map_or(img.len(), |x| x as usize % (img.len() + 1));
    let mut m = Patched::new(img, patches, len);
    let got = probe(&mut m);
    if !m.touched {
        assert_eq!(got, Ok(Some(*v)), "the probe saw no change");
    }
    let Ok(Some(bad)) = got else { return };
    for &(p, size) in paths {
        m.reset();
        let r = read_file(&bad, &mut m, p, size);
        if bad == *v && !m.touched {
            assert_eq!(r, read_file(v, &mut MemMedium(img), p, size), "{p}: no changed byte was read");
        }
    }
}

fuzz_target!(|c: Case| {
    if c.kind & 0x80 != 0 {
        return fixture_case(&c);
    }
    // Sizes that give each type the cluster count the FAT spec requires of it.
    let (fat_type, bytes, cluster) = match c.kind & 7 {
        0..=3 => (FatType::Fat12, 1 << 20, 512u32 << (c.cluster_shift % 4)),
        4..=6 => (FatType::Fat16, 8 << 20, 512 << (c.cluster_shift % 3)),
        _ => (FatType::Fat32, 34 << 20, 512),
    };
    let label = c.label.map(|b| b"ABCXYZ019 -_"[b as usize % 12]);
    let mut img = Cursor::new(vec![0u8; bytes]);
    let opts = FormatVolumeOptions::new().fat_type(fat_type).bytes_per_cluster(cluster).volume_label(label);
    if fatfs::format_volume(&mut img, opts).is_err() {
        return;
    }
    {
        let fs = FileSystem::new(&mut img, FsOptions::new()).unwrap();
        let mut dirs = vec![fs.root_dir()];
        let mut taken: Vec<Vec<String>> = vec![Vec::new()];
        for it in c.items.iter().take(24) {
            let Some(n) = name(&it.name) else { continue };
            let p = it.parent as usize % dirs.len();
            // One name per directory, case ignored as FAT does.
            let key = n.to_lowercase();
            if taken[p].contains(&key) {
                continue;
            }
            if it.dir {
                let Ok(d) = dirs[p].create_dir(&n) else { continue };
                dirs.push(d);
                taken.push(Vec::new());
            } else {
                let Ok(mut f) = dirs[p].create_file(&n) else { continue };
                for _ in 0..=it.repeat % 16 {
                    f.write_all(&it.data).unwrap();
                }
            }
            taken[p].push(key);
        }
    }
    let mut img = img.into_inner();
    let mut found = Vec::new();
    let (fat_type, root_label) = {
        // fatfs marks the volume dirty while mounted and clean again when dropped.
        let fs = FileSystem::new(Cursor::new(&mut img[..]), FsOptions::new()).unwrap();
        walk(&fs.root_dir(), &[], &mut found, 0);
        (fs.fat_type(), fs.read_volume_label_from_root_dir_as_bytes().unwrap().expect("a label entry"))
    };

    let v = probe(&mut MemMedium(&img)).unwrap().expect("flint finds the FAT fatfs wrote");
    let want_type = match fat_type {
        FatType::Fat12 => "fat12",
        FatType::Fat16 => "fat16",
        FatType::Fat32 => "fat32",
    };
    assert_eq!(v.describe(), want_type);
    let trimmed = &root_label[..root_label.iter().rposition(|&b| b != b' ').map_or(0, |i| i + 1)];
    assert_eq!(v.label(), trimmed);

    let mut paths = Vec::new();
    for f in &found {
        let long: Vec<&str> = f.path.iter().map(|(l, _)| l.as_str()).collect();
        let short: Vec<&str> = f.path.iter().map(|(_, s)| s.as_str()).collect();
        let long = long.join("/");
        let want = (!f.dir).then(|| f.data.clone());
        for p in [long.clone(), short.join("/"), long.to_ascii_uppercase(), long.to_ascii_lowercase()] {
            let got = read_file(&v, &mut MemMedium(&img), &p, f.data.len());
            assert_eq!(got, Ok(want.clone()), "{p} (as {long})");
        }
        if !f.dir && !f.data.is_empty() {
            let short_buf = read_file(&v, &mut MemMedium(&img), &long, f.data.len() - 1);
            assert_eq!(short_buf, Err(DriveError::TooLarge), "{long} into a buffer one byte short");
        }
        assert_eq!(read_file(&v, &mut MemMedium(&img), &format!("{long}~nope"), 16), Ok(None));
        paths.push((long, f.data.len()));
    }

    let paths: Vec<(&str, usize)> = paths.iter().take(8).map(|(p, n)| (p.as_str(), *n)).collect();
    changed(&img, &v, &paths, &c);
});
