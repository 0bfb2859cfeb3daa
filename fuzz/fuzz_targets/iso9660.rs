//! ISO 9660 images made by genisoimage (the fixtures: Nova's options, no Rock Ridge, no Joliet,
//! Joliet-only, level 1), changed at up to 16 fuzz-chosen bytes of their descriptors and
//! directories and possibly cut short, read through a fuzz-chosen name space (Rock Ridge,
//! Joliet, ISO names). Checked: no panic, a bounded number of reads, a file never larger than
//! its buffer; every read that saw no changed byte answers exactly as on the unchanged image;
//! and the unchanged images read every file of the tree they were made from byte for byte
//! (checked once, at start).
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use flint::sources::drive::iso9660::Names;
use flint::sources::drive::{MemMedium, Volume, probe};
use flint_fuzz::{Patched, read_file};
use libfuzzer_sys::fuzz_target;

/// (image, paths to read, what each holds on the unchanged image.)
struct Seed {
    img: Vec<u8>,
    paths: Vec<(String, Option<Vec<u8>>)>,
}

const FIXTURES: &[(&[u8], &str, bool)] = &[
    // (gzip image, source tree, Joliet-only names cut at 64 characters)
    (include_bytes!("../../tests/fixtures/drive/nova.iso.gz"), "tree", false),
    (include_bytes!("../../tests/fixtures/drive/no-rock-ridge.iso.gz"), "tree", true),
    (include_bytes!("../../tests/fixtures/drive/no-joliet.iso.gz"), "tree", false),
    (include_bytes!("../../tests/fixtures/drive/joliet-only.iso.gz"), "tree", true),
    (include_bytes!("../../tests/fixtures/drive/level1.iso.gz"), "tree83", false),
];

static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    FIXTURES
        .iter()
        .map(|&(gz, tree, joliet)| {
            let img = flint_fuzz::gunzip(gz);
            let mut paths: Vec<(String, Option<Vec<u8>>)> = flint_fuzz::tree_files(tree)
                .into_iter()
                .filter(|(p, _)| !(joliet && p.len() > 80))
                .map(|(p, d)| (p, Some(d)))
                .collect();
            // Reading them all would make each run slow: a few of every kind, and misses.
            paths.retain(|(p, _)| !p.starts_with("openstack/content/") || p.ends_with("0000") || p.ends_with("002f"));
            paths.push(("openstack/latest/nope".into(), None));
            paths.push(("openstack/content".into(), None));
            // The unchanged image reads every file exactly.
            let v = probe(&mut MemMedium(&img)).unwrap().unwrap();
            for (p, want) in &paths {
                let got = read_file(&v, &mut MemMedium(&img), p, 16384).unwrap();
                assert_eq!(got, *want, "{p} in the unchanged image");
            }
            Seed { img, paths }
        })
        .collect()
});

#[derive(Arbitrary, Debug)]
struct Case {
    seed: u8,
    names: u8,
    patches: Vec<(u32, u8)>,
    cut: Option<u32>,
    cap: u16,
    /// Which paths to read (a bit each, all when 0), so a run is not always all of them.
    paths: u16,
}

fn with_names(v: Volume, pick: u8) -> Volume {
    let names = match pick % 4 {
        0 => return v,
        1 => Names::Joliet,
        2 => Names::Plain,
        _ => Names::RockRidge { skip: 0 },
    };
    v.with_iso_names(names).unwrap_or(v)
}

fuzz_target!(|c: Case| {
    let seed = &SEEDS[c.seed as usize % SEEDS.len()];
    // Descriptors, path tables and directories are in the first ~120 sectors.
    let region = seed.img.len().min(128 * 2048);
    let patches =
        c.patches.iter().take(16).map(|&(at, b)| (16 * 2048 + at as usize % (region - 16 * 2048), b)).collect();
    let len = c.cut.map_or(seed.img.len(), |x| x as usize % (seed.img.len() + 1));
    let mut m = Patched::new(&seed.img, patches, len);
    let clean = probe(&mut MemMedium(&seed.img)).unwrap().unwrap();
    let got = probe(&mut m);
    if !m.touched {
        assert_eq!(got, Ok(Some(clean)), "the probe saw no change");
    }
    let Ok(Some(v)) = got else { return };
    let (v, clean) = (with_names(v, c.names), with_names(clean, c.names));
    // 0 (what a short input leaves): every path, a buffer for any of them.
    let cap = if c.cap == 0 { 16384 } else { c.cap as usize % 12_000 };
    for (i, (path, _)) in seed.paths.iter().enumerate() {
        if c.paths != 0 && c.paths & (1 << (i % 16)) == 0 {
            continue;
        }
        m.reset();
        let r = read_file(&v, &mut m, path, cap);
        if v == clean && !m.touched {
            assert_eq!(r, read_file(&clean, &mut MemMedium(&seed.img), path, cap), "{path}: no changed byte was read");
        }
    }
});
