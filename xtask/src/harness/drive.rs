//! OpenStack config drives built by the real tools, as Nova builds them, and attached as
//! read-only loop devices for the runs that find them by scanning.
//!
//! The tree is Nova's layout with the mocked instance's documents (`mock::openstack`), so a
//! drive and the metadata service describe the same instance:
//!
//! ```text
//! openstack/latest/{meta_data.json, user_data, network_data.json, vendor_data.json}
//! openstack/2012-08-10/{meta_data.json, user_data}
//! ec2/latest/meta-data.json
//! ```
//!
//! `user_data` is left out for an instance without user-data (Nova writes it only when there
//! is some). Images (`Build`): `genisoimage` with Nova's exact options
//! (`nova/virt/configdrive.py`), the same without Rock Ridge, without Joliet, with long names
//! only in Joliet, and Nova's VFAT variant (a 64 MiB file, `mkfs.vfat -n LABEL`, `mcopy -s`).
//! `Damage` then breaks a finished ISO image the way a reader must notice: a directory record
//! shorter than ECMA-119 allows, or an image cut inside `user_data`'s extent.
//!
//! A `Loop` is attached with `losetup -f --show -r` and detached when dropped; it is also
//! registered with `support::cleanup`, whose panic hook and stale sweep detach it when the
//! guard cannot.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::mock::openstack::{self, Instance};
use crate::support::{cleanup, proc, util};

const TOOL_LIMIT: Duration = Duration::from_secs(60);
/// Nova's VFAT config drive size (`CONFIGDRIVESIZE_BYTES`).
const VFAT_BYTES: u64 = 64 << 20;
/// ISO 9660 logical sector (ECMA-119 §6.1.2; genisoimage always uses 2048).
const SECTOR: usize = 2048;

/// How the image is made from the tree.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// `genisoimage -o x.iso -ldots -allow-lowercase -allow-multidot -l -publisher "OpenStack
    /// Nova 0.0.0" -quiet -J -r -V LABEL DIR`: ISO names, Rock Ridge and Joliet.
    NovaIso,
    /// Nova's options without `-r`: a reader must take the names from Joliet.
    IsoNoRockRidge,
    /// Nova's options without `-J`: names from Rock Ridge.
    IsoNoJoliet,
    /// `-J` alone: ISO names are 8.3 (`USER_DAT.;1`), the long names exist only in Joliet.
    IsoJolietOnly,
    /// Nova's VFAT drive: a 64 MiB file, `mkfs.vfat -n LABEL`, the tree copied with `mcopy -s`.
    Vfat,
}

impl Build {
    pub fn is_iso(self) -> bool {
        self != Build::Vfat
    }
}

/// A finished ISO image broken afterwards.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Damage {
    None,
    /// The root directory's record for `openstack`, in every directory tree of the image
    /// (primary and Joliet), gets a length of 20: less than the 33 bytes plus name that
    /// ECMA-119 §9.1 requires, so the record is corrupt (0 would be legal: end of sector).
    CorruptDirectory,
    /// The image ends halfway through `openstack/latest/user_data`'s extent; the directories
    /// before it are intact.
    Truncated,
}

/// One config drive to make.
#[derive(Clone, Debug)]
pub struct Spec {
    pub build: Build,
    pub label: &'static str,
    /// `openstack/{latest,2012-08-10}/user_data`; `None`: the instance has no user-data.
    pub user_data: Option<Vec<u8>>,
    pub instance: Instance,
    pub damage: Damage,
}

impl Spec {
    /// Nova's own ISO of `user_data` for the default instance.
    pub fn nova(user_data: Option<Vec<u8>>) -> Spec {
        Spec {
            build: Build::NovaIso,
            label: "config-2",
            user_data,
            instance: Instance::default(),
            damage: Damage::None,
        }
    }
}

/// The files of a drive's tree (relative path, contents), as written by `write_tree`.
pub fn tree_files(user_data: Option<&[u8]>, instance: &Instance) -> Vec<(String, Vec<u8>)> {
    let mut files = vec![
        ("openstack/latest/meta_data.json".to_string(), openstack::nova_json(&instance.meta_data())),
        ("openstack/latest/network_data.json".into(), openstack::nova_json(&instance.network_data())),
        ("openstack/latest/vendor_data.json".into(), openstack::nova_json(&instance.vendor_data())),
        ("openstack/2012-08-10/meta_data.json".into(), openstack::nova_json(&instance.meta_data())),
        ("ec2/latest/meta-data.json".into(), openstack::nova_json(&instance.ec2_meta_data())),
    ];
    if let Some(ud) = user_data {
        files.push(("openstack/latest/user_data".into(), ud.to_vec()));
        files.push(("openstack/2012-08-10/user_data".into(), ud.to_vec()));
    }
    files
}

/// Writes the drive's tree under `dir` (which must not exist yet).
pub fn write_tree(dir: &Path, user_data: Option<&[u8]>, instance: &Instance) -> Result<(), String> {
    for (rel, bytes) in tree_files(user_data, instance) {
        let p = dir.join(&rel);
        if let Some(parent) = p.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("mkdir {}: {e}", parent.display()))?;
        }
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    Ok(())
}

/// Makes the image of `spec` in `dir` (tree in `dir/tree`, image `dir/config-2.iso` or `.img`)
/// and returns the image's path.
pub fn build(spec: &Spec, dir: &Path) -> Result<PathBuf, String> {
    let tree = dir.join("tree");
    let _ = std::fs::remove_dir_all(&tree);
    write_tree(&tree, spec.user_data.as_deref(), &spec.instance)?;
    let image = dir.join(if spec.build.is_iso() { "config-2.iso" } else { "config-2.img" });
    let _ = std::fs::remove_file(&image);
    match spec.build {
        Build::Vfat => vfat(&tree, &image, spec.label)?,
        iso => genisoimage(&tree, &image, spec.label, iso)?,
    }
    match (spec.damage, spec.build.is_iso()) {
        (Damage::None, _) => {}
        (_, false) => return Err("damage is only made in ISO images".into()),
        (Damage::CorruptDirectory, true) => corrupt_directory(&image)?,
        (Damage::Truncated, true) => truncate_in_user_data(&image)?,
    }
    Ok(image)
}

fn genisoimage(tree: &Path, image: &Path, label: &str, build: Build) -> Result<(), String> {
    let mut cmd = Command::new(util::tool("genisoimage"));
    cmd.arg("-o").arg(image);
    let nova = ["-ldots", "-allow-lowercase", "-allow-multidot", "-l", "-publisher", "OpenStack Nova 0.0.0", "-quiet"];
    match build {
        Build::NovaIso => cmd.args(nova).args(["-J", "-r"]),
        Build::IsoNoRockRidge => cmd.args(nova).arg("-J"),
        Build::IsoNoJoliet => cmd.args(nova).arg("-r"),
        Build::IsoJolietOnly => cmd.args(["-quiet", "-J"]),
        Build::Vfat => return Err("not an ISO".into()),
    };
    cmd.args(["-V", label]).arg(tree);
    proc::run_ok(&mut cmd, TOOL_LIMIT).map(|_| ())
}

fn vfat(tree: &Path, image: &Path, label: &str) -> Result<(), String> {
    let f = std::fs::File::create(image).map_err(|e| format!("{}: {e}", image.display()))?;
    f.set_len(VFAT_BYTES).map_err(|e| format!("{}: {e}", image.display()))?;
    drop(f);
    proc::run_ok(Command::new(util::tool("mkfs.vfat")).args(["-n", label]).arg(image), TOOL_LIMIT)?;
    let mut mcopy = Command::new(util::tool("mcopy"));
    // mtools checks the geometry against the boot sector's idea of a floppy and refuses large
    // images without this.
    mcopy.env("MTOOLS_SKIP_CHECK", "1").arg("-s").arg("-i").arg(image);
    for top in ["openstack", "ec2"] {
        mcopy.arg(tree.join(top));
    }
    mcopy.arg("::/");
    proc::run_ok(&mut mcopy, TOOL_LIMIT).map(|_| ())
}

// --- damage: a minimal ECMA-119 walker, independent of flint's reader --------------------

fn le32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// One directory record: where it sits in the image and what it says.
struct Record {
    offset: usize,
    extent: u32,
    size: u32,
    name: String,
}

/// The root directory's (extent, size) of every volume descriptor with a directory tree: the
/// primary (type 1) and supplementary ones such as Joliet (type 2), with whether names are
/// UCS-2 (Joliet).
fn roots(img: &[u8]) -> Result<Vec<(u32, u32, bool)>, String> {
    let mut out = Vec::new();
    // Descriptors start at sector 16 and end with a terminator (type 255); 32 is a bound.
    for i in 16..48 {
        let d = img.get(i * SECTOR..(i + 1) * SECTOR).ok_or("image ends inside its volume descriptors")?;
        if &d[1..6] != b"CD001" {
            return Err(format!("sector {i} is not a volume descriptor"));
        }
        match d[0] {
            1 | 2 => {
                let root = &d[156..190];
                let extent = le32(root, 2).ok_or("short root record")?;
                let size = le32(root, 10).ok_or("short root record")?;
                // Joliet's escape sequences (ECMA-119 §8.5.6) start with `%/`.
                out.push((extent, size, d[0] == 2 && &d[88..90] == b"%/"));
            }
            255 => return Ok(out),
            _ => {}
        }
    }
    Err("no volume descriptor set terminator".into())
}

/// The records of the directory at (extent, size), `.` and `..` left out.
fn records(img: &[u8], extent: u32, size: u32, ucs2: bool) -> Result<Vec<Record>, String> {
    let start = extent as usize * SECTOR;
    let dir = img.get(start..start + size as usize).ok_or("directory outside the image")?;
    let mut out = Vec::new();
    let mut at = 0;
    while at < dir.len() {
        let len = dir[at] as usize;
        if len == 0 {
            // The rest of this sector is padding (records never cross sector boundaries).
            at = (at / SECTOR + 1) * SECTOR;
            continue;
        }
        let r = dir.get(at..at + len).ok_or("record past the directory's end")?;
        let name_len = *r.get(32).ok_or("short record")? as usize;
        let raw = r.get(33..33 + name_len).ok_or("record name past its end")?;
        if !(name_len == 1 && raw[0] <= 1) {
            let name = if ucs2 {
                let units: Vec<u16> = raw.chunks_exact(2).map(|c| u16::from_be_bytes([c[0], c[1]])).collect();
                String::from_utf16_lossy(&units)
            } else {
                String::from_utf8_lossy(raw).into_owned()
            };
            let extent = le32(r, 2).ok_or("short record")?;
            let size = le32(r, 10).ok_or("short record")?;
            out.push(Record { offset: start + at, extent, size, name });
        }
        at += len;
    }
    Ok(out)
}

/// An ISO name as a path component: version (`;1`) and a trailing `.` dropped, any case.
fn same_name(iso: &str, want: &str) -> bool {
    let base = iso.split(';').next().unwrap_or(iso);
    base.strip_suffix('.').unwrap_or(base).eq_ignore_ascii_case(want)
}

fn find(img: &[u8], (extent, size, ucs2): (u32, u32, bool), name: &str) -> Result<Record, String> {
    records(img, extent, size, ucs2)?
        .into_iter()
        .find(|r| same_name(&r.name, name))
        .ok_or_else(|| format!("no `{name}` in the directory at sector {extent}"))
}

fn corrupt_directory(image: &Path) -> Result<(), String> {
    let mut img = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    for root in roots(&img)? {
        let r = find(&img, root, "openstack")?;
        img[r.offset] = 20;
    }
    std::fs::write(image, &img).map_err(|e| format!("{}: {e}", image.display()))
}

/// Where `openstack/latest/user_data`'s extent starts and how long it is (primary tree).
fn user_data_extent(img: &[u8]) -> Result<(u64, u64), String> {
    let &(extent, size, _) = roots(img)?.first().ok_or("no primary volume descriptor")?;
    let mut dir = (extent, size, false);
    for comp in ["openstack", "latest"] {
        let r = find(img, dir, comp)?;
        dir = (r.extent, r.size, false);
    }
    let f = find(img, dir, "user_data")?;
    Ok((u64::from(f.extent) * SECTOR as u64, u64::from(f.size)))
}

fn truncate_in_user_data(image: &Path) -> Result<(), String> {
    let img = std::fs::read(image).map_err(|e| format!("{}: {e}", image.display()))?;
    let (start, len) = user_data_extent(&img)?;
    if len < 2 {
        return Err("user_data too short to cut inside".into());
    }
    let f = std::fs::OpenOptions::new().write(true).open(image).map_err(|e| format!("{}: {e}", image.display()))?;
    f.set_len(start + len / 2).map_err(|e| format!("{}: {e}", image.display()))
}

// --- loop devices ------------------------------------------------------------------------

/// A read-only loop device over an image, detached on drop.
pub struct Loop {
    pub device: String,
}

impl Loop {
    pub fn attach(image: &Path) -> Result<Loop, String> {
        let out =
            proc::run_ok(Command::new(util::tool("losetup")).args(["-f", "--show", "-r"]).arg(image), TOOL_LIMIT)?;
        let device = String::from_utf8_lossy(&out.stdout).trim().to_string();
        if !device.starts_with("/dev/loop") {
            return Err(format!("losetup printed {device:?}, expected /dev/loopN"));
        }
        cleanup::add_loop(&device);
        Ok(Loop { device })
    }

    /// `loopN`, as flint names the device in its log.
    pub fn name(&self) -> &str {
        self.device.trim_start_matches("/dev/")
    }
}

impl Drop for Loop {
    fn drop(&mut self) {
        cleanup::detach_loop(&self.device);
        cleanup::remove_loop(&self.device);
    }
}

/// Block devices other than `ours` that carry a config drive label now.
pub fn foreign_config_drives(ours: &[&str]) -> Result<Vec<String>, String> {
    foreign_drives(&["config-2", "CONFIG-2"], ours)
}

/// Block devices other than `ours` that carry one of `labels` now: a scan would find them too
/// (every namespace sees every block device). `blkid -c /dev/null` probes each device instead
/// of trusting a cache.
pub fn foreign_drives(labels: &[&str], ours: &[&str]) -> Result<Vec<String>, String> {
    let mut found = Vec::new();
    for label in labels {
        let mut cmd = Command::new(util::tool("blkid"));
        cmd.args(["-c", "/dev/null", "-o", "device", "-t", &format!("LABEL={label}")]);
        let out = proc::run_capture(&mut cmd, TOOL_LIMIT)?;
        // Exit 2: no device matched.
        if !out.status.success() && out.status.code() != Some(2) {
            return Err(format!("blkid: {}", String::from_utf8_lossy(&out.stderr).trim()));
        }
        found.extend(String::from_utf8_lossy(&out.stdout).lines().map(|l| l.trim().to_string()));
    }
    found.retain(|d| !d.is_empty() && !ours.contains(&d.as_str()));
    found.sort();
    found.dedup();
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iso_names() {
        assert!(same_name("user_data.;1", "user_data"));
        assert!(same_name("OPENSTACK", "openstack"));
        assert!(same_name("USER_DAT.;1", "user_dat"));
        assert!(!same_name("user_data2;1", "user_data"));
    }

    #[test]
    fn tree_holds_nova_layout() {
        let files = tree_files(Some(b"x"), &Instance::default());
        let names: Vec<&str> = files.iter().map(|(n, _)| n.as_str()).collect();
        for want in [
            "openstack/latest/meta_data.json",
            "openstack/latest/user_data",
            "openstack/latest/network_data.json",
            "openstack/latest/vendor_data.json",
            "ec2/latest/meta-data.json",
        ] {
            assert!(names.contains(&want), "{want}");
        }
        assert!(!tree_files(None, &Instance::default()).iter().any(|(n, _)| n.ends_with("user_data")));
    }

    /// Needs genisoimage (the QEMU and OpenStack tasks install it); skipped without.
    #[test]
    fn damage_lands_where_it_should() {
        if util::which("genisoimage").is_none() {
            eprintln!("genisoimage missing: skipped");
            return;
        }
        let dir = util::ScratchDir::new("drive-test").unwrap();
        let ud = vec![b'u'; 10_000];
        let iso = build(&Spec::nova(Some(ud.clone())), dir.path()).unwrap();
        let img = std::fs::read(&iso).unwrap();
        let (start, len) = user_data_extent(&img).unwrap();
        assert_eq!(len, ud.len() as u64);
        assert_eq!(&img[start as usize..start as usize + ud.len()], &ud[..]);
        // Primary and Joliet trees.
        assert_eq!(roots(&img).unwrap().len(), 2);

        let cut = build(&Spec { damage: Damage::Truncated, ..Spec::nova(Some(ud.clone())) }, dir.path()).unwrap();
        assert_eq!(std::fs::metadata(&cut).unwrap().len(), start + len / 2);

        let bad = build(&Spec { damage: Damage::CorruptDirectory, ..Spec::nova(Some(ud)) }, dir.path()).unwrap();
        let img = std::fs::read(&bad).unwrap();
        for (extent, _, _) in roots(&img).unwrap() {
            let root = &img[extent as usize * SECTOR..];
            // ".", "..", "ec2", then the damaged "openstack".
            let mut at = 0;
            for _ in 0..3 {
                at += root[at] as usize;
            }
            assert_eq!(root[at], 20);
        }
    }
}
