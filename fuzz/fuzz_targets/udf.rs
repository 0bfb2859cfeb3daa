//! UDF images made by real tools (the fixtures: genisoimage's UDF 1.02 bridge disc, pycdlib's
//! UDF 2.60), changed at up to 16 fuzz-chosen bytes of their descriptors, entries and
//! directories and possibly cut short. Checked: no panic, a bounded number of reads, a file
//! never larger than its buffer; every read that saw no changed byte answers exactly as on the
//! unchanged image; and the unchanged images read every file of the tree they were made from
//! byte for byte (checked once, at start).
#![no_main]

use std::sync::LazyLock;

use arbitrary::Arbitrary;
use flint::sources::drive::{Kind, MemMedium, probe};
use flint_fuzz::{Patched, read_file};
use libfuzzer_sys::fuzz_target;

/// (image, paths to read, what each holds on the unchanged image.)
struct Seed {
    img: Vec<u8>,
    paths: Vec<(String, Option<Vec<u8>>)>,
}

const FIXTURES: &[&[u8]] = &[
    include_bytes!("../../tests/fixtures/drive/udf102.iso.gz"),
    include_bytes!("../../tests/fixtures/drive/udf260.iso.gz"),
];

static SEEDS: LazyLock<Vec<Seed>> = LazyLock::new(|| {
    FIXTURES
        .iter()
        .map(|gz| {
            let img = flint_fuzz::gunzip(gz);
            let mut paths: Vec<(String, Option<Vec<u8>>)> =
                flint_fuzz::tree_files("azure").into_iter().map(|(p, d)| (p, Some(d))).collect();
            // A few of the 60 in `content/` (across its sectors), and misses.
            paths.retain(|(p, _)| !p.starts_with("content/") || p.ends_with("0000.txt") || p.ends_with("0059.txt"));
            paths.push(("content/nope".into(), None));
            paths.push(("a/b".into(), None));
            let v = probe(&mut MemMedium(&img)).unwrap().unwrap();
            assert_eq!(v.kind(), Kind::Udf);
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
    patches: Vec<(u32, u8)>,
    cut: Option<u32>,
    cap: u16,
    /// Which paths to read (a bit each, all when 0).
    paths: u16,
}

fuzz_target!(|c: Case| {
    let seed = &SEEDS[c.seed as usize % SEEDS.len()];
    // The recognition sequence, the volume descriptors, the anchor at 256 and the file set,
    // entries and directories after it are all in the first ~340 sectors.
    let region = seed.img.len().min(340 * 2048);
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
    let cap = if c.cap == 0 { 16384 } else { c.cap as usize % 14_000 };
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
