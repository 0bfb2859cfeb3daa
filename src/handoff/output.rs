//! Atomic file output: the file at the final path is either the complete new content or
//! untouched.
//!
//! Bytes go to a hidden temporary file in the same directory (`.NAME.flint-PID`, created with
//! O_EXCL, so the rename below stays within one filesystem), which is fsync'ed, renamed over
//! the final name, and the directory fsync'ed so the rename itself survives a crash. Any error,
//! or [`Output::discard`], unlinks the temporary file. A SIGKILL mid-write can leave the hidden
//! temporary behind, never a partial file at the final path.

use core::ffi::CStr;

use rustix::fd::OwnedFd;
use rustix::fs::{AtFlags, Mode, OFlags};
use rustix::io::Errno;

/// Longest path flint writes (with its NUL). The kernel allows 4096, but every frame holding an
/// `Output` pays for it in touched stack pages; flint's own paths are short.
const PATH_MAX: usize = 1024;

/// A path made NUL-terminated in a fixed buffer.
struct CPath {
    buf: [u8; PATH_MAX],
    len: usize,
}

impl CPath {
    fn new() -> CPath {
        CPath { buf: [0; PATH_MAX], len: 0 }
    }

    fn push(&mut self, bytes: &[u8]) -> Result<(), Errno> {
        if bytes.contains(&0) || self.len + bytes.len() >= PATH_MAX {
            return Err(Errno::NAMETOOLONG);
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
        Ok(())
    }

    fn as_cstr(&mut self) -> &CStr {
        self.buf[self.len] = 0;
        CStr::from_bytes_with_nul(&self.buf[..=self.len]).unwrap_or(c"")
    }
}

/// Which missing parent directories [`Output::create`] makes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dirs {
    None,
    /// The parent mode 0700 (flint's own `/run/flint`), its missing ancestors 0755.
    Private,
    /// Every missing ancestor, mode 0755 (`/run/ignition/base.d`, a seed directory): they
    /// belong to the consumers, which expect the usual mode.
    Tree,
}

/// Makes every missing directory of `path` (`mkdir -p`), each bounded by the path's length.
fn make_tree(path: &[u8]) -> Result<(), Errno> {
    for (i, _) in
        path.iter().enumerate().filter(|&(i, &b)| b == b'/' && i > 0).chain(core::iter::once((path.len(), &b'/')))
    {
        let mut p = CPath::new();
        p.push(&path[..i])?;
        match rustix::fs::mkdir(p.as_cstr(), Mode::from_raw_mode(0o755)) {
            Ok(()) | Err(Errno::EXIST) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// A file being written; see the module docs.
pub struct Output {
    dir: OwnedFd,
    file: Option<OwnedFd>,
    tmp: CPath,
    name: CPath,
    pub written: u64,
}

impl Output {
    /// Starts writing `path` with permission `mode` (the umask may only remove bits), making
    /// missing parent directories as `dirs` says.
    pub fn create(path: &[u8], mode: u32, dirs: Dirs) -> Result<Output, Errno> {
        let (dir_path, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(0) => (&b"/"[..], &path[1..]),
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b"."[..], path),
        };
        if name.is_empty() || name == b"." || name == b".." {
            return Err(Errno::ISDIR);
        }
        let mut d = CPath::new();
        d.push(dir_path)?;
        let dir_flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC;
        let dir = match rustix::fs::open(d.as_cstr(), dir_flags, Mode::empty()) {
            Err(Errno::NOENT) if dirs != Dirs::None => {
                if dirs == Dirs::Private {
                    // Under `--root` the root's `/run` may be missing too: the ancestors get
                    // the usual mode, flint's own directory 0700.
                    if let Some(i) = dir_path.iter().rposition(|&b| b == b'/').filter(|&i| i > 0) {
                        make_tree(&dir_path[..i])?;
                    }
                    rustix::fs::mkdir(d.as_cstr(), Mode::from_raw_mode(0o700))?;
                } else {
                    make_tree(dir_path)?;
                }
                rustix::fs::open(d.as_cstr(), dir_flags, Mode::empty())?
            }
            r => r?,
        };
        let mut tmp = CPath::new();
        tmp.push(b".")?;
        // NAME_MAX is 255: keep the temporary's name within it.
        tmp.push(&name[..name.len().min(200)])?;
        tmp.push(b".flint-")?;
        let mut pid = [0u8; 20];
        tmp.push(crate::fmt::decimal(rustix::process::getpid().as_raw_nonzero().get() as u64, &mut pid))?;
        let mut final_name = CPath::new();
        final_name.push(name)?;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let file = match rustix::fs::openat(&dir, tmp.as_cstr(), flags, Mode::from_raw_mode(mode)) {
            // A leftover of an earlier run that was killed with the same pid: ours to replace.
            Err(Errno::EXIST) => {
                rustix::fs::unlinkat(&dir, tmp.as_cstr(), AtFlags::empty())?;
                rustix::fs::openat(&dir, tmp.as_cstr(), flags, Mode::from_raw_mode(mode))?
            }
            r => r?,
        };
        Ok(Output { dir, file: Some(file), tmp, name: final_name, written: 0 })
    }

    /// Makes the content durable and visible under the final name.
    pub fn commit(mut self) -> Result<(), Errno> {
        let r = self.try_commit();
        if r.is_err() {
            self.discard_inner();
        }
        r
    }

    fn try_commit(&mut self) -> Result<(), Errno> {
        let file = self.file.take().ok_or(Errno::BADF)?;
        rustix::fs::fsync(&file)?;
        drop(file);
        rustix::fs::renameat(&self.dir, self.tmp.as_cstr(), &self.dir, self.name.as_cstr())?;
        self.tmp.len = 0;
        rustix::fs::fsync(&self.dir)
    }

    /// Removes the temporary file; the final path is left as it was.
    pub fn discard(mut self) {
        self.discard_inner();
    }

    fn discard_inner(&mut self) {
        self.file = None;
        if self.tmp.len > 0 {
            let _ = rustix::fs::unlinkat(&self.dir, self.tmp.as_cstr(), AtFlags::empty());
            self.tmp.len = 0;
        }
    }
}

impl Drop for Output {
    fn drop(&mut self) {
        // Every path that did not commit removes its temporary file.
        self.discard_inner();
    }
}

impl embedded_io::ErrorType for Output {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for Output {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        let file = self.file.as_ref().ok_or(embedded_io::ErrorKind::NotConnected)?;
        loop {
            match rustix::io::write(file, buf) {
                Ok(0) => return Err(embedded_io::ErrorKind::WriteZero),
                Ok(n) => {
                    self.written += n as u64;
                    return Ok(n);
                }
                Err(Errno::INTR) => continue,
                Err(Errno::NOSPC) | Err(Errno::DQUOT) => return Err(embedded_io::ErrorKind::OutOfMemory),
                Err(_) => return Err(embedded_io::ErrorKind::Other),
            }
        }
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Writes `bytes` to `path` atomically.
pub fn write_file(path: &[u8], bytes: &[u8], mode: u32, dirs: Dirs) -> Result<(), Errno> {
    let mut out = Output::create(path, mode, dirs)?;
    embedded_io::Write::write_all(&mut out, bytes).map_err(|_| Errno::IO)?;
    out.commit()
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::os::unix::fs::PermissionsExt;
    use std::path::PathBuf;

    fn scratch(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(std::format!("flint-output-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    fn bytes(p: &std::path::Path) -> std::vec::Vec<u8> {
        p.as_os_str().as_encoded_bytes().to_vec()
    }

    #[test]
    fn flints_own_directory_is_made_under_any_root() {
        // `--root DIR` with the default output: DIR/run does not exist yet either.
        let root = scratch("root");
        let out = root.join("run/flint/user-data");
        write_file(&bytes(&out), b"hello", 0o600, Dirs::Private).unwrap();
        assert_eq!(std::fs::read(&out).unwrap(), b"hello");
        let mode = |p: PathBuf| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(root.join("run/flint")), 0o700, "flint's own directory is private");
        assert_eq!(mode(root.join("run")), 0o755 & !umask(), "its ancestors get the usual mode");
        assert_eq!(mode(out), 0o600);
        // Anything else must exist: a typo fails instead of growing a tree.
        assert_eq!(write_file(&bytes(&root.join("nope/x")), b"", 0o600, Dirs::None), Err(Errno::NOENT));
        std::fs::remove_dir_all(root).unwrap();
    }

    #[test]
    fn a_discarded_or_dropped_output_leaves_nothing() {
        let dir = scratch("discard");
        let path = dir.join("f");
        std::fs::write(&path, b"old").unwrap();
        let mut out = Output::create(&bytes(&path), 0o600, Dirs::None).unwrap();
        embedded_io::Write::write_all(&mut out, b"new").unwrap();
        out.discard();
        drop(Output::create(&bytes(&path), 0o600, Dirs::None).unwrap());
        assert_eq!(std::fs::read(&path).unwrap(), b"old", "the old file is untouched");
        assert_eq!(std::fs::read_dir(&dir).unwrap().count(), 1, "no temporary left");
        std::fs::remove_dir_all(dir).unwrap();
    }

    /// The process umask, read without changing it (tests run in parallel threads).
    fn umask() -> u32 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find_map(|l| l.strip_prefix("Umask:")).unwrap();
        u32::from_str_radix(line.trim(), 8).unwrap()
    }
}
