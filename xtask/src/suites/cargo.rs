//! The workspace's own cargo checks as steps of `cargo xtask test`: the unit tests of flint
//! and xtask, rustfmt and clippy over flint, xtask and the fuzz crate (its own workspace).
//!
//! Each package is a step of its own, so that one package's findings never hide another's:
//! `src/` is rewritten by others while xtask and fuzz are kept clean here.

use std::process::Command;
use std::time::Duration;

use crate::harness::tally::{Selection, Suite, Tally};
use crate::support::{deps, proc, util};

pub const UNIT_TESTS: Suite =
    Suite { name: "unit-tests", needs_flint: false, gate: false, run: unit_tests, cases: || 2 };
pub const LINT: Suite = Suite { name: "lint", needs_flint: false, gate: false, run: lint, cases: || 6 };

/// Generous: a cold build of the test binaries on 2 shared cores; it only guards a hang.
const LIMIT: Duration = Duration::from_secs(40 * 60);
/// Problems quoted under a failed step; the command, rerun by hand, shows the rest.
const QUOTED: usize = 12;

/// `cargo test -p flint`, `cargo test -p xtask`: one step each.
fn unit_tests(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    for pkg in ["flint", "xtask"] {
        let name = format!("unit-tests-{pkg}");
        if !sel.matches(&name) {
            continue;
        }
        let mut cmd = Command::new(util::cargo());
        cmd.current_dir(util::root()).args(["test", "-p", pkg]);
        let st = proc::run_inherit(&mut cmd, LIMIT);
        t.step(&name, matches!(st, Ok(s) if s.success()), &format!("cargo test -p {pkg}"));
    }
    Ok(())
}

/// How a lint step selects its package: in the root workspace, or the fuzz crate's own.
fn package_args(pkg: &str) -> Vec<String> {
    match pkg {
        // Relative: every cargo here runs in the workspace root.
        "fuzz" => vec!["--manifest-path".into(), "fuzz/Cargo.toml".into()],
        p => vec!["-p".into(), p.into()],
    }
}

/// `cargo fmt --check` and `cargo clippy -- -D warnings` over every target of flint, xtask and
/// the fuzz crate: one step each, the findings quoted under a failed one.
fn lint(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    for pkg in ["flint", "xtask", "fuzz"] {
        let name = format!("fmt-{pkg}");
        if sel.matches(&name) {
            let mut cmd = Command::new(util::cargo());
            cmd.current_dir(util::root()).arg("fmt").args(package_args(pkg)).arg("--check");
            let line = format!("cargo fmt {} --check", package_args(pkg).join(" "));
            report(t, &name, &line, proc::run_capture(&mut cmd, LIMIT), |out| {
                let root = format!("{}/", util::root().display());
                let places: Vec<String> = out
                    .lines()
                    .filter_map(|l| l.strip_prefix("Diff in "))
                    .map(|p| p.trim_end_matches(':').trim_start_matches(root.as_str()).to_string())
                    .collect();
                (format!("{} place(s) not in rustfmt's form", places.len()), places)
            });
        }
    }
    for pkg in ["flint", "xtask", "fuzz"] {
        let name = format!("clippy-{pkg}");
        if !sel.matches(&name) {
            continue;
        }
        // flint's binary is linted apart from its tests: built together, cargo unifies the
        // dev-dependencies' features (std, alloc) into the binary's dependencies, and a
        // `#![no_std]` binary then wants a global allocator it must not have.
        let targets: &[&[&str]] =
            if pkg == "flint" { &[&["--lib", "--tests"], &["--bin", "flint"]] } else { &[&["--all-targets"]] };
        for (i, which) in targets.iter().enumerate() {
            let last = i + 1 == targets.len();
            if !clippy(t, &name, pkg, which, last) {
                break;
            }
        }
    }
    Ok(())
}

/// One clippy run of `pkg` over `which` targets; records the step when it fails, or when it
/// passes and is the `last` run of the step. Whether it passed.
fn clippy(t: &mut Tally, name: &str, pkg: &str, which: &[&str], last: bool) -> bool {
    {
        let mut cmd = Command::new(util::cargo());
        cmd.current_dir(util::root()).arg("clippy").args(package_args(pkg)).args(which).args(["--", "-D", "warnings"]);
        if pkg == "fuzz" {
            // libfuzzer-sys builds libFuzzer (C++) in its build script; and a target directory of
            // its own, so that clippy and `cargo fuzz` (other RUSTFLAGS) never rebuild each other.
            if let Err(e) = deps::ensure_fuzz() {
                t.step(name, false, &e);
                return false;
            }
            cmd.env("CARGO_TARGET_DIR", util::target_dir().join("fuzz-clippy"));
        }
        let line = format!("cargo clippy {} {} -- -D warnings", package_args(pkg).join(" "), which.join(" "));
        let out = proc::run_capture(&mut cmd, LIMIT);
        let passed = matches!(&out, Ok(o) if o.status.success());
        if passed && !last {
            return true;
        }
        report(t, name, &line, out, |out| {
            // `error: <lint message>` followed a line or two later by `--> file:line:col`.
            let mut found = Vec::new();
            let mut message = None;
            for l in out.lines() {
                if let Some(m) = l.strip_prefix("error: ").or_else(|| l.strip_prefix("warning: ")) {
                    message = Some(m.to_string());
                } else if let (Some(at), Some(m)) = (l.trim_start().strip_prefix("--> "), message.take()) {
                    found.push(format!("{at}: {m}"));
                }
            }
            (format!("{} finding(s)", found.len()), found)
        });
        passed
    }
}

/// One lint step: `ok` with the command, or `FAIL` with a summary and the first findings.
fn report(
    t: &mut Tally,
    name: &str,
    line: &str,
    out: Result<std::process::Output, String>,
    findings: impl Fn(&str) -> (String, Vec<String>),
) {
    match out {
        Ok(o) if o.status.success() => t.step(name, true, line),
        Ok(o) => {
            let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
            let (summary, list) = findings(&text);
            t.step(name, false, &format!("{summary}: {line}"));
            let quoted =
                if list.is_empty() { util::tail(&text, QUOTED) } else { list[..list.len().min(QUOTED)].join("\n") };
            println!("{}", util::indent(&quoted));
            if list.len() > QUOTED {
                println!("    … {} more", list.len() - QUOTED);
            }
        }
        Err(e) => t.step(name, false, &e),
    }
}
