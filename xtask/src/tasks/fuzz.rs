//! `cargo xtask fuzz [--seconds N] [TARGET…]`: every cargo-fuzz target for N seconds, one at
//! a time (`suites/fuzz.rs` builds and runs them; `cargo xtask test` runs its short smoke).

use crate::suites::fuzz;

/// Seconds per target when `--seconds` is not given.
const DEFAULT_SECONDS: u64 = 60;

/// `cargo xtask fuzz [--seconds N] [TARGET…]`.
pub fn cli(args: &[String]) -> Result<(), String> {
    let mut seconds = DEFAULT_SECONDS;
    let mut filters = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--seconds" => {
                let v = it.next().ok_or("--seconds needs a value")?;
                seconds = v
                    .parse()
                    .ok()
                    .filter(|&s| s > 0)
                    .ok_or_else(|| format!("--seconds: not a positive number: {v}"))?;
            }
            f if f.starts_with('-') => {
                return Err(format!("unknown option {f} (usage: cargo xtask fuzz [--seconds N] [TARGET…])"));
            }
            f => filters.push(f.to_string()),
        }
    }
    let targets = fuzz::select(&filters)?;
    fuzz::build(fuzz::ensure_tools()?)?;
    let mut failed = Vec::new();
    for (target, max_len) in targets {
        println!("fuzz {target}: {seconds} s, -max_len={max_len}");
        let out = fuzz::run(target, max_len, seconds)?;
        println!("{} {:<18} {}", if out.ok() { "ok  " } else { "FAIL" }, target, out.summary());
        if !out.ok() {
            failed.push(target);
        }
    }
    if failed.is_empty() { Ok(()) } else { Err(format!("fuzz target(s) failed: {}", failed.join(", "))) }
}
