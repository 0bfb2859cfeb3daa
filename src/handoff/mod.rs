//! Every file flint leaves for the next boot stage, from one fetch:
//!
//! | output | path (under `--root`) | mode |
//! |---|---|---|
//! | user-data | `--output` | 0600 |
//! | Ignition config | `/run/ignition/user.ign`, `/usr/lib/ignition/user.ign` | 0600 |
//! | Ignition base fragment | `/run/ignition/base.d/50-flint.ign`, `/usr/lib/ignition/base.d/…` | 0644 |
//! | cloud-init NoCloud seed | `--cloud-init-seed` `/user-data` (0600), `/meta-data` (0644) | |
//! | Afterburn attributes | `--attributes` | 0644 |
//!
//! The decoded user-data streams once into every user-data-shaped file at the same time (a
//! [`Tee`]) and through the Ignition check; each file is atomic on its own (see `output`), and
//! one that fails never stops the others. Ignition ≤ 2.26 reads only `/usr/lib/ignition`, 2.27+
//! reads `/run/ignition` first (peers.md §2.2), so both get the files; `/usr` is read-only in
//! initrds since systemd 256 and is remounted read-write around the writes, then back.

use core::ffi::CStr;

use embedded_io::{ErrorKind, Write};

use crate::args::Config;
use crate::fmt::{Bytes, ErrnoName};
use crate::sources::meta::{IgnitionCheck, Metadata, Verdict};
use rustix::fs::{Access, StatVfsMountFlags};
use rustix::io::Errno;
use rustix::mount::MountFlags;

use output::{Dirs, Output};

pub mod output;

/// Ignition's system config directories, most preferred first (Ignition 2.27); `/etc` is only
/// checked for an existing `user.ign`: flint does not write there (it belongs to the image).
const IGNITION_DIRS: [&[u8]; 3] = [b"/run/ignition", b"/etc/ignition", b"/usr/lib/ignition"];
const WRITE_DIRS: [&[u8]; 2] = [b"/run/ignition", b"/usr/lib/ignition"];
const FRAGMENT: &[u8] = b"/base.d/50-flint.ign";
const PATH_MAX: usize = 1024;

/// flint's own directory, `/run/flint`, is made (mode 0700) for files directly in it; any other
/// `--output` or `--report` directory must exist (a typo should fail, not grow a tree).
pub fn own_dir(path: &[u8]) -> Dirs {
    match path.strip_prefix(b"/run/flint/") {
        Some(name) if !name.contains(&b'/') => Dirs::Private,
        _ => Dirs::None,
    }
}

/// A path under the root, NUL-terminated for the kernel.
pub struct Path {
    buf: [u8; PATH_MAX],
    len: usize,
}

impl Path {
    pub fn new(parts: &[&[u8]]) -> Result<Path, Errno> {
        let mut p = Path { buf: [0; PATH_MAX], len: 0 };
        for part in parts {
            let end = p.len + part.len();
            if part.contains(&0) || end >= PATH_MAX {
                return Err(Errno::NAMETOOLONG);
            }
            p.buf[p.len..end].copy_from_slice(part);
            p.len = end;
        }
        Ok(p)
    }

    pub fn bytes(&self) -> &[u8] {
        &self.buf[..self.len]
    }

    fn c(&self) -> &CStr {
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// `--output`
    UserData,
    /// The seed's `user-data`.
    Seed,
    /// A `user.ign`: kept only if the user-data is an Ignition config.
    UserIgn,
}

/// One user-data-shaped file being written.
struct Sink {
    out: Option<Output>,
    kind: Kind,
    path: Path,
    failed: Option<Errno>,
}

/// Writes the decoded user-data into every sink at once; see the module docs.
pub struct Tee {
    sinks: heapless::Vec<Sink, 5>,
    check: Option<IgnitionCheck>,
}

/// What went wrong, for the exit code (the details are logged where they happen).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trouble {
    /// A file could not be written.
    Output,
    /// `--ignition`, and the user-data is not an Ignition config.
    NotIgnition,
}

/// The worse of two outcomes: a lost file outranks a refused hand-off.
fn worse(a: Option<Trouble>, b: Option<Trouble>) -> Option<Trouble> {
    if a == Some(Trouble::Output) || b == Some(Trouble::Output) { Some(Trouble::Output) } else { a.or(b) }
}

/// The hand-off state of one run.
pub struct Handoff<'c> {
    cfg: &'c Config<'c>,
    usr: Option<UsrRemount>,
    trouble: Option<Trouble>,
    /// The seed's `user-data` is in place, so its `meta-data` may follow (cloud-init's
    /// ds-identify claims a NoCloud seed only when both exist).
    seed_ready: bool,
}

impl<'c> Handoff<'c> {
    pub fn new(cfg: &'c Config<'c>) -> Self {
        Handoff { cfg, usr: None, trouble: None, seed_ready: false }
    }

    pub fn trouble(&self) -> Option<Trouble> {
        self.trouble
    }

    fn fail(&mut self, what: &str, path: &[u8], e: Errno) {
        error!("write", "{what} {}: {}", Bytes(path), ErrnoName(e));
        self.trouble = worse(self.trouble, Some(Trouble::Output));
    }

    /// Opens every user-data-shaped file this run writes. `seed` says whether the cloud-init
    /// seed will be complete (its `meta-data` needs an instance id) and gets flint's decoded
    /// `user-data` (not when a NoCloud drive's own is copied verbatim instead).
    pub fn open(&mut self, seed: bool) -> Tee {
        let cfg = self.cfg;
        let mut tee = Tee { sinks: heapless::Vec::new(), check: None };
        self.add(&mut tee, &[cfg.root, cfg.output], own_dir(cfg.output), Kind::UserData);
        if let (Some(dir), true) = (cfg.cloud_init_seed, seed) {
            self.add(&mut tee, &[cfg.root, dir, b"/user-data"], Dirs::Tree, Kind::Seed);
        }
        if cfg.ignition {
            tee.check = Some(IgnitionCheck::new());
            match self.existing_user_ign() {
                Some(p) if !cfg.ignition_overwrite => {
                    info!("ignition", "{} already present (an embedded config wins); kept", Bytes(p.bytes()));
                }
                _ => {
                    for dir in WRITE_DIRS {
                        self.prepare_dir(dir);
                        self.add(&mut tee, &[cfg.root, dir, b"/user.ign"], Dirs::Tree, Kind::UserIgn);
                    }
                }
            }
        }
        tee
    }

    fn add(&mut self, tee: &mut Tee, parts: &[&[u8]], dirs: Dirs, kind: Kind) {
        let path = match Path::new(parts) {
            Ok(p) => p,
            Err(e) => return self.fail("output", parts.last().copied().unwrap_or(b""), e),
        };
        let (out, failed) = match Output::create(path.bytes(), 0o600, dirs) {
            Ok(out) => (Some(out), None),
            Err(e) => {
                self.fail("output", path.bytes(), e);
                (None, Some(e))
            }
        };
        // At most five sinks are ever added.
        let _ = tee.sinks.push(Sink { out, kind, path, failed });
    }

    /// A `user.ign` in any of Ignition's system config directories.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn existing_user_ign(&self) -> Option<Path> {
        IGNITION_DIRS
            .iter()
            .filter_map(|dir| Path::new(&[self.cfg.root, dir, b"/user.ign"]).ok())
            .find(|p| rustix::fs::access(p.c(), Access::EXISTS).is_ok())
    }

    /// Makes `/usr` writable (once) before writing under `/usr/lib/ignition`.
    fn prepare_dir(&mut self, dir: &[u8]) {
        if dir.starts_with(b"/usr/")
            && self.usr.is_none()
            && let Ok(p) = Path::new(&[self.cfg.root, b"/usr"])
        {
            self.usr = Some(UsrRemount::writable(p));
        }
    }

    /// Commits the user-data files: all but the `user.ign`s unconditionally, those only for an
    /// Ignition config. Returns the bytes written to `--output`.
    pub fn commit(&mut self, tee: Tee) {
        let verdict = tee.check.map(IgnitionCheck::finish);
        match verdict {
            Some(Verdict::Config) | None => {}
            Some(v) => {
                error!("ignition", "user-data is {v}; user.ign not written");
                self.trouble = worse(self.trouble, Some(Trouble::NotIgnition));
            }
        }
        let mut ign_written = 0;
        for sink in tee.sinks {
            let Some(out) = sink.out else {
                if sink.failed.is_none() {
                    self.trouble = worse(self.trouble, Some(Trouble::Output));
                }
                continue;
            };
            if sink.kind == Kind::UserIgn && verdict != Some(Verdict::Config) {
                out.discard();
                continue;
            }
            match out.commit() {
                Ok(()) => {
                    ign_written += (sink.kind == Kind::UserIgn) as u32;
                    self.seed_ready |= sink.kind == Kind::Seed;
                }
                Err(e) => self.fail("output", sink.path.bytes(), e),
            }
        }
        if ign_written > 0 {
            info!("ignition", "user.ign written for Ignition ({ign_written} places)");
        }
    }

    /// No user-data: the seed still gets an empty `user-data` (cloud-init reads that as "no
    /// user-data") so the instance id, hostname and keys reach cloud-init without network.
    pub fn seed_without_user_data(&mut self, seed: bool) {
        if let (Some(dir), true) = (self.cfg.cloud_init_seed, seed) {
            self.seed_ready = self.small_file(&[self.cfg.root, dir, b"/user-data"], b"", 0o600, "cloud-init user-data");
        }
    }

    /// Everything that comes from the metadata: attributes, the seed's `meta-data` (unless the
    /// drive's own was copied: `own_meta_data`), the Ignition base fragment. `render` is
    /// scratch space.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn write_metadata(&mut self, meta: &Metadata, own_meta_data: bool, render: &mut [u8]) {
        let cfg = self.cfg;
        if meta.dropped > 0 {
            warn!("metadata", "{} values left out (malformed, unsafe characters or no room)", meta.dropped);
        }
        if let Some(path) = cfg.attributes {
            match meta.render_attributes(cfg.platform.id, render) {
                Some(text) => {
                    self.small_file(&[cfg.root, path], text, 0o644, "attributes");
                }
                None => self.fail("attributes", path, Errno::NOSPC),
            }
        }
        if let (Some(dir), false) = (cfg.cloud_init_seed, own_meta_data) {
            match meta.render_meta_data(render) {
                Some(text) if self.seed_ready => {
                    self.small_file(&[cfg.root, dir, b"/meta-data"], text, 0o644, "cloud-init meta-data");
                }
                // The seed's user-data failed: already an error; a lone meta-data is no seed.
                Some(_) => {}
                None => {
                    error!(
                        "write",
                        "cloud-init seed {}: the platform gave no instance id; seed not written",
                        Bytes(dir)
                    );
                    self.trouble = worse(self.trouble, Some(Trouble::Output));
                }
            }
        }
        if cfg.ignition {
            match meta.render_fragment(cfg.ssh_user, render) {
                Some([]) => info!("ignition", "no hostname or SSH keys from the platform; no base fragment"),
                Some(text) => {
                    for dir in WRITE_DIRS {
                        self.prepare_dir(dir);
                        self.small_file(&[cfg.root, dir, FRAGMENT], text, 0o644, "Ignition base fragment");
                    }
                }
                None => self.fail("Ignition base fragment", FRAGMENT, Errno::NOSPC),
            }
        }
    }

    /// Files a config drive hands to cloud-init verbatim, byte for byte, under the seed
    /// directory: a NoCloud drive's `user-data`, `meta-data`, `network-config`,
    /// `vendor-data` (the seed itself), or OpenStack's `openstack/latest/…` layout, which
    /// cloud-init's ConfigDrive reader takes from a directory. `seed` as for [`Handoff::open`]:
    /// nothing without a whole seed.
    pub fn write_seed_files<'f>(&mut self, seed: bool, files: impl Iterator<Item = (&'static str, &'f [u8])>) {
        let cfg = self.cfg;
        let (Some(dir), true) = (cfg.cloud_init_seed, seed) else { return };
        for (name, bytes) in files {
            let mode = if name == "user-data" || name.ends_with("user_data") { 0o600 } else { 0o644 };
            let written =
                self.small_file(&[cfg.root, dir, b"/", name.as_bytes()], bytes, mode, "cloud-init drive file");
            self.seed_ready |= written && name == "user-data";
        }
    }

    fn small_file(&mut self, parts: &[&[u8]], bytes: &[u8], mode: u32, what: &str) -> bool {
        let r = Path::new(parts).and_then(|p| output::write_file(p.bytes(), bytes, mode, Dirs::Tree).map(|()| p));
        match r {
            Ok(p) => {
                info!("write", "{what}: {} ({} bytes)", Bytes(p.bytes()), bytes.len());
                true
            }
            Err(e) => {
                self.fail(what, parts.last().copied().unwrap_or(b""), e);
                false
            }
        }
    }
}

impl embedded_io::ErrorType for Tee {
    type Error = ErrorKind;
}

impl Write for Tee {
    /// Every sink gets every byte; one that fails is dropped (its temporary file removed) and
    /// the others go on. Only when none is left does the decode stop. Out of line: the
    /// decoder calls it from several places.
    #[inline(never)]
    fn write(&mut self, buf: &[u8]) -> Result<usize, ErrorKind> {
        for sink in self.sinks.iter_mut() {
            if let Some(out) = sink.out.as_mut()
                && let Err(e) = out.write_all(buf)
            {
                error!(
                    "write",
                    "{}: {}",
                    Bytes(sink.path.bytes()),
                    if e == ErrorKind::OutOfMemory { "no space left" } else { "write failed" }
                );
                sink.out = None;
            }
        }
        if let Some(check) = self.check.as_mut() {
            check.push(buf);
        }
        if self.sinks.iter().all(|s| s.out.is_none()) {
            return Err(ErrorKind::Other);
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> Result<(), ErrorKind> {
        Ok(())
    }
}

impl Tee {
    /// No file could even be created.
    pub fn is_empty(&self) -> bool {
        self.sinks.iter().all(|s| s.out.is_none())
    }

    /// Bytes that reached `--output` (the first sink), 0 if it failed.
    pub fn written(&self) -> u64 {
        self.sinks.first().and_then(|s| s.out.as_ref()).map_or(0, |o| o.written)
    }
}

/// `/usr` made writable for this run, and read-only again when dropped.
struct UsrRemount {
    path: Path,
    /// How it was made writable: `Some(true)` the mount point only (MS_BIND), `Some(false)` the
    /// filesystem; `None` it already was.
    how: Option<bool>,
}

impl UsrRemount {
    fn read_only(p: &Path) -> bool {
        rustix::fs::statvfs(p.c()).is_ok_and(|s| s.f_flag.contains(StatVfsMountFlags::RDONLY))
    }

    /// systemd ≥ 256 mounts `/usr` read-only in the initrd (ProtectSystem=yes): first clear the
    /// mount point's own read-only flag (a bind remount touches nothing else), then, if the
    /// filesystem itself is read-only, remount it read-write as `mount -o remount,rw` does.
    fn writable(path: Path) -> UsrRemount {
        let mut how = None;
        if Self::read_only(&path) {
            if rustix::mount::mount_remount(path.c(), MountFlags::BIND, c"").is_ok() && !Self::read_only(&path) {
                how = Some(true);
            } else if rustix::mount::mount_remount(path.c(), MountFlags::empty(), c"").is_ok() {
                how = Some(false);
            }
            match how {
                Some(_) => info!("ignition", "remounted {} read-write", Bytes(path.bytes())),
                None => warn!("ignition", "{} is read-only and could not be remounted", Bytes(path.bytes())),
            }
        }
        UsrRemount { path, how }
    }
}

impl Drop for UsrRemount {
    fn drop(&mut self) {
        let flags = match self.how {
            None => return,
            Some(true) => MountFlags::BIND | MountFlags::RDONLY,
            Some(false) => MountFlags::RDONLY,
        };
        if rustix::mount::mount_remount(self.path.c(), flags, c"").is_err() {
            warn!("ignition", "could not make {} read-only again", Bytes(self.path.bytes()));
        }
    }
}
