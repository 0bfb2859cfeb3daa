//! The checks every namespace run gets, whatever the suite: flint's stderr in the contract's
//! format, no secret in any file the run produced, and what is left in a directory or a tree.
//! (The report's checks are in `report.rs`.)

use std::collections::BTreeSet;
use std::path::Path;

/// The log phases of docs/contract.md ("Logs"), and `drive` (config drives, core v2).
pub const PHASES: [&str; 13] = [
    "args",
    "link",
    "address",
    "dns",
    "token",
    "user-data",
    "metadata",
    "decode",
    "tls",
    "pointer",
    "write",
    "ignition",
    "drive",
];

/// Sorted names in `dir` (empty when it cannot be read).
pub fn list_dir(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}

/// Every non-directory under `root`, relative (bounded depth: flint's tree is shallow).
pub fn files_under(root: &Path) -> BTreeSet<String> {
    fn walk(base: &Path, dir: &Path, depth: u32, out: &mut BTreeSet<String>) {
        let Ok(rd) = std::fs::read_dir(dir) else { return };
        for e in rd.filter_map(Result::ok) {
            let p = e.path();
            if e.file_type().is_ok_and(|t| t.is_dir()) && depth < 12 {
                walk(base, &p, depth + 1, out);
            } else {
                out.insert(p.strip_prefix(base).unwrap_or(&p).display().to_string());
            }
        }
    }
    let mut out = BTreeSet::new();
    walk(root, root, 0, &mut out);
    out
}

/// Files of a scenario directory that hold the secrets by design: the payload the mock
/// serves, the tokens it issued (both inputs of the checks) and flint's output directory.
const SECRET_HOLDERS: [&str; 3] = ["payload.bin", "mock-tokens.txt", "out"];

/// Every other file of the run — flint's stderr and stdout, the report, the mock's request log
/// and stderr (also the decoy's), dnsmasq's log — must hold neither an issued token (its first
/// 16 bytes) nor the marker hidden in the user-data.
pub fn check_secrets(dir: &Path, tokens: &[String], marker: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    // Bounded: the scenario directory is a few levels deep at most.
    for _ in 0..64 {
        let Some(d) = pending.pop() else { break };
        for entry in std::fs::read_dir(&d).into_iter().flatten().filter_map(|e| e.ok()) {
            let path = entry.path();
            if SECRET_HOLDERS.iter().any(|h| entry.file_name() == *h) {
                continue;
            }
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let Ok(bytes) = std::fs::read(&path) else { continue };
            let name = path.strip_prefix(dir).unwrap_or(&path).display().to_string();
            let holds = |needle: &[u8]| bytes.windows(needle.len()).any(|w| w == needle);
            if holds(marker.as_bytes()) {
                bad.push(format!("{name} contains user-data bytes (the marker)"));
            }
            if tokens.iter().any(|t| holds(&t.as_bytes()[..t.len().min(16)])) {
                bad.push(format!("{name} contains a metadata token"));
            }
        }
    }
    bad
}

/// flint's stderr against the contract's log format: every line
/// `flint: [error: |warning: ]<phase>: …` with a contract phase (a warning is something left
/// out that does not change the exit code); a run expected to fail (`exit` not 0 or 3) logs exactly one error
/// line, in `error_phase` when the case names one.
pub fn check_stderr(stderr: &str, exit: i32, error_phase: Option<&str>) -> Vec<String> {
    let mut bad = Vec::new();
    let mut error_phases = Vec::new();
    for line in stderr.lines().filter(|l| !l.trim().is_empty()) {
        let Some(rest) = line.strip_prefix("flint: ") else {
            bad.push(format!("stderr line not in `flint: <phase>: …` form: {line:?}"));
            continue;
        };
        let (is_error, rest) = match rest.strip_prefix("error: ") {
            Some(r) => (true, r),
            None => (false, rest.strip_prefix("warning: ").unwrap_or(rest)),
        };
        let phase = rest.split(':').next().unwrap_or("");
        if !PHASES.contains(&phase) {
            bad.push(format!("stderr line with unknown phase {phase:?}: {line:?}"));
        }
        if is_error {
            error_phases.push(phase.to_string());
        }
    }
    if exit != 0 && exit != 3 && error_phases.is_empty() {
        bad.push("failed without a `flint: error: <phase>: <reason>` line".into());
    }
    // One failure, one error line (a full filesystem once logged two).
    if error_phases.len() > 1 {
        bad.push(format!("{} error lines for one failure: {error_phases:?}", error_phases.len()));
    }
    if let Some(want) = error_phase
        && !error_phases.iter().any(|p| p == want)
    {
        bad.push(format!("expected an error in phase `{want}`, saw {error_phases:?}"));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stderr_format_and_error_lines() {
        let ok = "flint: link: eth0 up\nflint: write: 12 bytes\n";
        assert!(check_stderr(ok, 0, None).is_empty());
        assert!(!check_stderr(ok, 4, None).is_empty(), "a failure needs its error line");
        let failed = "flint: link: eth0 up\nflint: error: token: connection refused\n";
        assert!(check_stderr(failed, 4, Some("token")).is_empty());
        assert!(!check_stderr(failed, 4, Some("user-data")).is_empty());
        assert!(!check_stderr("flint: bogus: x\n", 0, None).is_empty());
        assert!(check_stderr("flint: warning: metadata: 1 values left out\n", 0, None).is_empty());
        assert!(!check_stderr("flint: warning: bogus: x\n", 0, None).is_empty());
        assert!(!check_stderr("flint: warning: metadata: x\n", 5, None).is_empty(), "a warning is no error line");
        assert!(!check_stderr("panic at x\n", 0, None).is_empty());
        let two = "flint: error: write: a\nflint: error: write: b\n";
        assert!(!check_stderr(two, 6, Some("write")).is_empty());
    }
}
