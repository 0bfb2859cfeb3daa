//! A writer for the "newc" cpio format (SVR4 without CRC, magic `070701`), the only format
//! the kernel's initramfs unpacker reads (Documentation/driver-api/early-userspace/
//! buffer-format.rst). Every entry is a 110-byte ASCII header of 13 eight-digit hex fields,
//! the NUL-terminated name, padding to 4 bytes, the data, padding to 4 bytes; a
//! `TRAILER!!!` entry ends the archive.
//!
//! Written in memory and reproducibly: mtime 0, uid/gid 0, inode numbers in entry order, so
//! the same inputs give the same bytes (no root needed for device nodes either: the header
//! just records the numbers).

use std::collections::BTreeSet;

const S_IFDIR: u32 = 0o040_000;
const S_IFREG: u32 = 0o100_000;
const S_IFLNK: u32 = 0o120_000;
const S_IFCHR: u32 = 0o020_000;

pub struct Archive {
    out: Vec<u8>,
    ino: u32,
    /// Paths written so far (parents are added on demand, once).
    paths: BTreeSet<String>,
}

impl Default for Archive {
    fn default() -> Self {
        Self::new()
    }
}

impl Archive {
    pub fn new() -> Self {
        Archive { out: Vec::new(), ino: 0, paths: BTreeSet::new() }
    }

    /// A directory (and any missing parents, mode 0755).
    pub fn dir(&mut self, path: &str, mode: u32) -> &mut Self {
        let path = clean(path);
        self.parents(&path);
        if self.paths.insert(path.clone()) {
            self.entry(&path, S_IFDIR | (mode & 0o7777), 2, (0, 0), &[]);
        }
        self
    }

    pub fn file(&mut self, path: &str, mode: u32, data: &[u8]) -> &mut Self {
        let path = clean(path);
        self.parents(&path);
        self.paths.insert(path.clone());
        self.entry(&path, S_IFREG | (mode & 0o7777), 1, (0, 0), data);
        self
    }

    /// A symbolic link; the target is stored as the entry's data, as cpio does.
    pub fn symlink(&mut self, path: &str, target: &str) -> &mut Self {
        let path = clean(path);
        self.parents(&path);
        self.paths.insert(path.clone());
        self.entry(&path, S_IFLNK | 0o777, 1, (0, 0), target.as_bytes());
        self
    }

    /// A character device node, e.g. `/dev/console` (5, 1): the kernel opens it for init's
    /// stdio before init runs, so it must exist before devtmpfs is mounted.
    pub fn char_dev(&mut self, path: &str, mode: u32, major: u32, minor: u32) -> &mut Self {
        let path = clean(path);
        self.parents(&path);
        self.paths.insert(path.clone());
        self.entry(&path, S_IFCHR | (mode & 0o7777), 1, (major, minor), &[]);
        self
    }

    /// Appends the trailer and returns the archive.
    pub fn finish(mut self) -> Vec<u8> {
        // The trailer's fields are zero except nlink and namesize.
        write_header(&mut self.out, 0, 0, 1, 0, (0, 0), "TRAILER!!!");
        pad4(&mut self.out);
        // The kernel does not need it, but `cpio` and the block layer like a 512-byte multiple.
        while !self.out.len().is_multiple_of(512) {
            self.out.push(0);
        }
        self.out
    }

    fn parents(&mut self, path: &str) {
        let mut prefix = String::new();
        let parts: Vec<&str> = path.split('/').collect();
        for part in &parts[..parts.len().saturating_sub(1)] {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(part);
            if self.paths.insert(prefix.clone()) {
                self.entry(&prefix.clone(), S_IFDIR | 0o755, 2, (0, 0), &[]);
            }
        }
    }

    fn entry(&mut self, name: &str, mode: u32, nlink: u32, rdev: (u32, u32), data: &[u8]) {
        self.ino += 1;
        write_header(&mut self.out, self.ino, mode, nlink, data.len() as u32, rdev, name);
        pad4(&mut self.out);
        self.out.extend_from_slice(data);
        pad4(&mut self.out);
    }
}

/// `/bin/sh` → `bin/sh`: archive names are relative to the root.
fn clean(path: &str) -> String {
    path.trim_start_matches('/').trim_end_matches('/').to_string()
}

fn write_header(out: &mut Vec<u8>, ino: u32, mode: u32, nlink: u32, size: u32, rdev: (u32, u32), name: &str) {
    out.extend_from_slice(b"070701");
    let namesize = name.len() as u32 + 1;
    // ino mode uid gid nlink mtime filesize devmajor devminor rdevmajor rdevminor namesize check
    for v in [ino, mode, 0, 0, nlink, 0, size, 0, 0, rdev.0, rdev.1, namesize, 0] {
        out.extend_from_slice(format!("{v:08x}").as_bytes());
    }
    out.extend_from_slice(name.as_bytes());
    out.push(0);
}

fn pad4(out: &mut Vec<u8>) {
    while !out.len().is_multiple_of(4) {
        out.push(0);
    }
}

/// Reads an archive back: (name, mode, data) per entry, trailer excluded. For tests.
#[cfg(test)]
pub fn read(mut b: &[u8]) -> Result<Vec<(String, u32, Vec<u8>)>, String> {
    let mut entries = Vec::new();
    let start = b.len();
    loop {
        if b.len() < 110 || &b[..6] != b"070701" {
            return Err(format!("no header at offset {}", start - b.len()));
        }
        let field = |i: usize| u32::from_str_radix(std::str::from_utf8(&b[6 + i * 8..14 + i * 8]).unwrap(), 16);
        let mode = field(1).map_err(|e| e.to_string())?;
        let size = field(6).map_err(|e| e.to_string())? as usize;
        let namesize = field(11).map_err(|e| e.to_string())? as usize;
        let name = String::from_utf8(b[110..110 + namesize - 1].to_vec()).map_err(|e| e.to_string())?;
        let data_at = (110 + namesize).next_multiple_of(4);
        let data = b[data_at..data_at + size].to_vec();
        if name == "TRAILER!!!" {
            return Ok(entries);
        }
        entries.push((name, mode, data));
        // Entries start 4-aligned, so aligning within the entry aligns in the archive.
        b = &b[(data_at + size).next_multiple_of(4)..];
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_with_parents_and_alignment() {
        let mut a = Archive::new();
        a.char_dev("/dev/console", 0o600, 5, 1);
        a.file("/bin/flint", 0o755, b"abc");
        a.symlink("/bin/sh", "busybox");
        a.dir("/run", 0o755);
        a.file("/lib/modules/x.ko", 0o644, &[7u8; 5]);
        let bytes = a.finish();
        assert_eq!(bytes.len() % 512, 0);
        let e = read(&bytes).unwrap();
        let names: Vec<&str> = e.iter().map(|(n, _, _)| n.as_str()).collect();
        assert_eq!(
            names,
            ["dev", "dev/console", "bin", "bin/flint", "bin/sh", "run", "lib", "lib/modules", "lib/modules/x.ko"]
        );
        assert_eq!(e[1].1, S_IFCHR | 0o600);
        assert_eq!(e[3], ("bin/flint".into(), S_IFREG | 0o755, b"abc".to_vec()));
        assert_eq!(e[4].2, b"busybox");
        assert_eq!(e[8].2, vec![7u8; 5]);
    }

    #[test]
    fn cpio_tool_agrees() {
        // Cross-check with GNU cpio when it is installed (it is wherever qemu-test ran).
        let Some(cpio) = crate::support::util::which("cpio") else { return };
        let mut a = Archive::new();
        a.file("init", 0o755, b"#!/bin/sh\n");
        a.char_dev("dev/console", 0o600, 5, 1);
        let bytes = a.finish();
        let dir = std::env::temp_dir().join(format!("flint-cpio-test-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("a.cpio");
        std::fs::write(&file, &bytes).unwrap();
        let out = std::process::Command::new(cpio)
            .args(["-itv", "--quiet", "-F"])
            .arg(&file)
            .stderr(std::process::Stdio::piped())
            .output()
            .unwrap();
        let _ = std::fs::remove_dir_all(&dir);
        let listing = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(listing.contains("-rwxr-xr-x") && listing.contains("init"), "{listing}");
        assert!(listing.contains("crw-------") && listing.contains("dev/console"), "{listing}");
    }
}
