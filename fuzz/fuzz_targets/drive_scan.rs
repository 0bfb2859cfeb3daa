//! The block-device scan (src/sources/drive/scan.rs) over a fuzz-chosen sysfs `class/block`
//! tree: entry names, `dev` and `size` attribute contents, and which entries have a node (a
//! regular image file standing in for it) in the `dev` directory. Checked against a model of
//! the scan's rules: exactly the entries that are not dot-files, `ram*` or `zram*`, have a
//! `MAJ:MIN` `dev` of two decimal numbers that fit 32 bits, a decimal `size` that is not 0
//! (unless the name starts with `sr`), and a node, are handed over — among the first 64 entries
//! looked at — each once; a visitor that says stop ends the scan. Every device handed over is
//! then probed and read as the drive source does: no panic on whatever the image holds.
//!
//! The private directory for missing nodes lies under a regular file, so no device node is
//! ever made: the fuzzer never opens the machine's real disks.
#![no_main]

use std::collections::HashSet;
use std::ffi::{CString, OsStr};
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;
use std::sync::LazyLock;

use arbitrary::Arbitrary;
use flint::sources::drive::probe;
use flint::sources::drive::scan::{self, DEVICES_MAX};
use libfuzzer_sys::fuzz_target;

/// A name: mostly a kernel-like one (a known prefix and a number), sometimes any bytes.
#[derive(Arbitrary, Debug)]
enum Name {
    Kernel(u8, u8),
    Raw(Vec<u8>),
}

/// An attribute's text: well formed, or any bytes.
#[derive(Arbitrary, Debug)]
enum Attr {
    Numbers(u32, u32, bool),
    Sectors(u32, bool),
    Raw(Vec<u8>),
}

const PREFIXES: &[&str] = &["sr", "vd", "sd", "loop", "nvme0n", "xvd", "ram", "zram", ".", "mmcblk"];

impl Attr {
    fn text(&self, dev: bool) -> Vec<u8> {
        match self {
            Attr::Numbers(a, b, nl) if dev => format!("{a}:{b}{}", if *nl { "\n" } else { "" }).into_bytes(),
            Attr::Numbers(a, _, nl) | Attr::Sectors(a, nl) => {
                format!("{}{}", if dev { u64::from(*a) } else { u64::from(*a % 4) }, if *nl { "\n" } else { "" })
                    .into_bytes()
            }
            Attr::Raw(r) => r[..r.len().min(64)].to_vec(),
        }
    }
}

#[derive(Arbitrary, Debug)]
struct Entry {
    name: Name,
    dev: Attr,
    size: Attr,
    /// Some: a node exists, holding these bytes (or, with `iso`, the Nova fixture image).
    node: Option<Vec<u8>>,
    iso: bool,
}

#[derive(Arbitrary, Debug)]
struct Case {
    entries: Vec<Entry>,
    stop_after: Option<u8>,
}

/// A scratch directory per fuzzing process, emptied for every input.
static ROOT: LazyLock<PathBuf> = LazyLock::new(|| {
    let root = std::env::temp_dir().join(format!("flint-fuzz-scan-{}", std::process::id()));
    std::fs::create_dir_all(&root).unwrap();
    root
});

static ISO: LazyLock<Vec<u8>> = LazyLock::new(|| {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../tests/fixtures/drive/nova.iso.gz");
    let gz = std::fs::read(path).unwrap();
    let mut out = Vec::new();
    std::io::Read::read_to_end(&mut flate2::read::GzDecoder::new(&gz[..]), &mut out).unwrap();
    out
});

/// File names the fuzzer may use: any bytes but `/` and NUL, 1 to 31 of them.
fn name(n: &Name) -> Option<Vec<u8>> {
    let n: Vec<u8> = match n {
        Name::Kernel(p, i) => format!("{}{i}", PREFIXES[*p as usize % PREFIXES.len()]).into_bytes(),
        Name::Raw(raw) => raw.iter().copied().filter(|&b| b != b'/' && b != 0).take(31).collect(),
    };
    (!n.is_empty() && n != b"." && n != b"..").then_some(n)
}

fn decimal(t: &[u8]) -> Option<u64> {
    (!t.is_empty() && t.iter().all(u8::is_ascii_digit)).then(|| std::str::from_utf8(t).ok()?.parse().ok()).flatten()
}

/// What the scan must do with one entry (attribute text as read: up to 32 bytes, one newline
/// stripped).
fn handed_over(e: &Entry, name: &[u8]) -> bool {
    let attr = |v: &[u8]| {
        let v = &v[..v.len().min(32)];
        v.strip_suffix(b"\n").unwrap_or(v).to_vec()
    };
    let dev = attr(&e.dev.text(true));
    let numbers = dev.iter().position(|&b| b == b':').and_then(|c| {
        let major = decimal(&dev[..c]).filter(|&m| m <= u32::MAX as u64)?;
        let minor = decimal(&dev[c + 1..]).filter(|&m| m <= u32::MAX as u64)?;
        Some((major, minor))
    });
    let size = decimal(&attr(&e.size.text(false)));
    !name.starts_with(b".")
        && !name.starts_with(b"ram")
        && !name.starts_with(b"zram")
        && numbers.is_some()
        && size.is_some_and(|s| s > 0 || name.starts_with(b"sr"))
        && e.node.is_some()
}

fuzz_target!(|c: Case| {
    let root = &*ROOT;
    let _ = std::fs::remove_dir_all(root);
    let (class, dev) = (root.join("class"), root.join("dev"));
    std::fs::create_dir_all(&class).unwrap();
    std::fs::create_dir_all(&dev).unwrap();
    std::fs::write(root.join("file"), b"").unwrap();
    let mut seen = HashSet::new();
    let mut expected = HashSet::new();
    for e in c.entries.iter().take(80) {
        let Some(n) = name(&e.name) else { continue };
        if !seen.insert(n.clone()) {
            continue;
        }
        let os = OsStr::from_bytes(&n);
        let dir = class.join(os);
        std::fs::create_dir(&dir).unwrap();
        std::fs::write(dir.join("dev"), e.dev.text(true)).unwrap();
        std::fs::write(dir.join("size"), e.size.text(false)).unwrap();
        if let Some(bytes) = &e.node {
            let image = if e.iso { &ISO[..] } else { &bytes[..bytes.len().min(64 << 10)] };
            std::fs::write(dev.join(os), image).unwrap();
        }
        if handed_over(e, &n) {
            expected.insert(n);
        }
    }
    let c_path = |p: PathBuf| CString::new(p.into_os_string().into_encoded_bytes()).unwrap();
    let mut visited = Vec::new();
    let stop = c.stop_after.map(|s| s as usize);
    let mut out = vec![0u8; 64 << 10];
    let handed = scan::scan(&c_path(class), &c_path(dev), &c_path(root.join("file/private")), &mut |name, file| {
        visited.push(name.to_vec());
        if let Ok(Some(volume)) = probe(file) {
            for path in [&b"openstack/latest/user_data"[..], b"openstack/latest/meta_data.json"] {
                let _ = volume.read_file(file, path, &mut out);
            }
        }
        stop.is_some_and(|s| visited.len() > s)
    })
    .unwrap();
    assert_eq!(handed, visited.len());
    let unique: HashSet<_> = visited.iter().cloned().collect();
    assert_eq!(unique.len(), visited.len(), "a device was handed over twice");
    assert!(
        unique.is_subset(&expected),
        "handed over against the rules: {:?}",
        unique.difference(&expected).collect::<Vec<_>>()
    );
    // Directory order is the filesystem's: with more than DEVICES_MAX entries, or a stop,
    // only some of the expected ones are reached; otherwise all are.
    let stopped = stop.is_some_and(|s| visited.len() > s);
    if seen.len() <= DEVICES_MAX && !stopped {
        assert_eq!(unique, expected, "a device the rules allow was not handed over");
    }
});
