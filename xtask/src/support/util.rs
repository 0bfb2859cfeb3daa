//! Small shared helpers: workspace paths, tool lookup, randomness, scratch directories.

use std::io::Read;
use std::path::{Path, PathBuf};

/// The target flint is always built for: explicit, so that flint's link arguments never
/// reach build scripts or xtask itself (nostd.md P2).
pub const TARGET: &str = "x86_64-unknown-linux-gnu";

/// Workspace root (the directory holding the root `Cargo.toml`).
pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("xtask lives one level below the workspace root")
        .to_path_buf()
}

/// `$CARGO_TARGET_DIR` when set (relative to the current directory, as cargo reads it),
/// else `<root>/target`.
pub fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(dir) => {
            let dir = PathBuf::from(dir);
            if dir.is_absolute() { dir } else { std::env::current_dir().unwrap_or_else(|_| root()).join(dir) }
        }
        None => root().join("target"),
    }
}

/// Where `cargo xtask build` leaves flint.
pub fn flint_bin() -> PathBuf {
    target_dir().join(TARGET).join("release").join("flint")
}

/// The flint the scenarios run: `$FLINT_BIN` when set (e.g. a debug build or an older
/// binary to compare), else the release build.
pub fn flint_under_test() -> PathBuf {
    std::env::var_os("FLINT_BIN").map(PathBuf::from).unwrap_or_else(flint_bin)
}

/// The cargo that runs us (matklad's xtask convention), so toolchain overrides carry over.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string())
}

/// Looks a program up in `$PATH` and then in the sbin directories, which are often missing
/// from a non-login root `PATH` even though `ip` and `dnsmasq` live there.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let extra = ["/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"];
    std::env::split_paths(&path)
        .chain(extra.iter().map(PathBuf::from))
        .map(|dir| dir.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata().map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0).unwrap_or(false)
}

/// Absolute path of a tool, falling back to the bare name (the spawn error then names it).
pub fn tool(name: &str) -> PathBuf {
    which(name).unwrap_or_else(|| PathBuf::from(name))
}

/// Effective uid from `/proc/self/status` (no libc in xtask).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("Uid:")).and_then(|l| l.split_whitespace().nth(2).map(|euid| euid == "0"))
        })
        .unwrap_or(false)
}

pub fn require_root(what: &str) -> Result<(), String> {
    if is_root() { Ok(()) } else { Err(format!("{what} needs root (network namespaces, raw sockets)")) }
}

/// `n` bytes from the kernel's CSPRNG.
pub fn random_bytes(n: usize) -> Vec<u8> {
    let mut buf = vec![0u8; n];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom")
        && f.read_exact(&mut buf).is_ok()
    {
        return buf;
    }
    // Not expected on Linux; still produce something distinct per call.
    let seed =
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_nanos()).unwrap_or(0) as u64;
    let mut x = seed ^ u64::from(std::process::id());
    for b in &mut buf {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *b = x as u8;
    }
    buf
}

pub fn random_hex(n_bytes: usize) -> String {
    random_bytes(n_bytes).iter().map(|b| format!("{b:02x}")).collect()
}

/// A scratch directory removed on drop unless `keep()` was called (failed runs keep
/// theirs so the logs can be read).
pub struct ScratchDir {
    path: PathBuf,
    keep: bool,
}

impl ScratchDir {
    pub fn new(label: &str) -> Result<Self, String> {
        let path = std::env::temp_dir().join(format!("flint-xtask-{}-{label}-{}", std::process::id(), random_hex(3)));
        std::fs::create_dir_all(&path).map_err(|e| format!("mkdir {}: {e}", path.display()))?;
        Ok(ScratchDir { path, keep: false })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        if !self.keep {
            let _ = std::fs::remove_dir_all(&self.path);
        }
    }
}

/// Median of a non-empty sample (mean of the middle two for even counts).
pub fn median(values: &[f64]) -> Option<f64> {
    if values.is_empty() {
        return None;
    }
    let mut v = values.to_vec();
    v.sort_by(|a, b| a.total_cmp(b));
    let n = v.len();
    Some(if n % 2 == 1 { v[n / 2] } else { (v[n / 2 - 1] + v[n / 2]) / 2.0 })
}

/// Last `n` lines of a text, for failure messages.
pub fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Indents every line of `s` by four spaces (problem details under a FAIL line).
pub fn indent(s: &str) -> String {
    s.lines().map(|l| format!("    {l}")).collect::<Vec<_>>().join("\n")
}

/// Prints a failed scenario: its `FAIL` line, each problem indented, and where its files are.
pub fn print_failure(label: &str, about: &str, problems: &[String], kept: &std::path::Path) {
    println!("FAIL {label} {about}");
    for p in problems {
        println!("{}", indent(p));
    }
    println!("    files kept in {}", kept.display());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_odd_even_empty() {
        assert_eq!(median(&[]), None);
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), Some(2.5));
    }

    #[test]
    fn random_hex_is_distinct() {
        let a = random_hex(16);
        assert_eq!(a.len(), 32);
        assert_ne!(a, random_hex(16));
    }
}
