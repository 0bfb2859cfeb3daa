//! Counting and selecting: what a suite is to the tasks that run it, which of its cases run
//! (`[FILTER] [--keep]`), one printed line per case or step, and the closing `N passed, N
//! failed` line.
//!
//! Every suite (`crate::suites`) exposes a `Suite`; `cargo xtask test` runs its list of them
//! in order (`tasks::test::SUITES`) and a task such as `e2e` runs one. A suite's `run` counts
//! into the `Tally` it is given, so the test task needs no knowledge of what is inside.

use std::path::Path;
use std::time::{Duration, Instant};

use crate::support::util;

/// Which cases of a suite run, and whether their scratch directories are kept.
#[derive(Clone, Copy, Debug, Default)]
pub struct Selection<'a> {
    /// Only the cases whose name contains this.
    pub filter: Option<&'a str>,
    /// Keep every case's files (failed cases always keep theirs).
    pub keep: bool,
}

impl<'a> Selection<'a> {
    /// Everything, files removed: what `cargo xtask test` runs.
    pub const ALL: Selection<'static> = Selection { filter: None, keep: false };

    /// `[FILTER] [--keep]`; any other `--option` is an error.
    pub fn parse(args: &'a [String]) -> Result<Self, String> {
        if let Some(bad) = args.iter().find(|a| a.starts_with("--") && *a != "--keep") {
            return Err(format!("unknown option `{bad}`"));
        }
        let keep = args.iter().any(|a| a == "--keep");
        let filter = args.iter().find(|a| !a.starts_with("--")).map(String::as_str);
        Ok(Selection { filter, keep })
    }

    pub fn matches(&self, name: &str) -> bool {
        self.filter.is_none_or(|f| name.contains(f))
    }

    /// The cases of `all` this selection runs; an error when it leaves none.
    pub fn pick<T>(&self, all: Vec<T>, name: impl Fn(&T) -> &str, what: &str) -> Result<Vec<T>, String> {
        let picked: Vec<T> = all.into_iter().filter(|c| self.matches(name(c))).collect();
        if picked.is_empty() {
            return Err(format!("no {what} matches {:?}", self.filter));
        }
        Ok(picked)
    }
}

/// Pass/fail tally, one printed line per case or step, closed by `N passed, N failed`.
#[derive(Default)]
pub struct Tally {
    pub passed: usize,
    pub failed: usize,
}

impl Tally {
    /// One counted step with its own line.
    pub fn step(&mut self, name: &str, ok: bool, detail: &str) {
        if ok {
            self.passed += 1;
            println!("ok   {name:<24} {detail}");
        } else {
            self.failed += 1;
            println!("FAIL {name:<24} {detail}");
        }
    }

    /// Cases that printed their own lines.
    pub fn add(&mut self, (passed, failed): (usize, usize)) {
        self.passed += passed;
        self.failed += failed;
    }

    /// Prints `N passed, N failed`; an error when anything failed.
    pub fn close(&self, what: &str) -> Result<(), String> {
        println!("{} passed, {} failed", self.passed, self.failed);
        if self.failed == 0 { Ok(()) } else { Err(format!("{} {what} failed", self.failed)) }
    }
}

/// A table of cases and their checks, as the tasks see it.
pub struct Suite {
    /// The name of its line when it cannot run at all.
    pub name: &'static str,
    /// It runs the flint under test: when the build failed it is not run, and its cases
    /// count as failed.
    pub needs_flint: bool,
    /// A failure here stops every later `needs_flint` suite (the build).
    pub gate: bool,
    /// Runs the selected cases, one line each, counting into the tally; `Err` when the
    /// suite could not run at all (then counted as one failed step).
    pub run: fn(&Selection, &mut Tally) -> Result<(), String>,
    /// How many cases it has, counted as failed when it is not run.
    pub cases: fn() -> usize,
}

/// What a passed case reports on its `ok` line: flint's time, or a summary of its own (the
/// signal runs of `faults_http`).
pub trait Passed {
    fn line(&self) -> String;
}

impl Passed for Duration {
    fn line(&self) -> String {
        format!("flint {:>6.3} s", self.as_secs_f64())
    }
}

impl Passed for String {
    fn line(&self) -> String {
        self.clone()
    }
}

/// Runs `cases` one after the other, each in its own scratch directory (kept when the case
/// fails, or with `keep`), printing an `ok` line with flint's time (or the case's summary) and
/// the case's, or the failure block. `run` returns that time or the problems found. Returns
/// (passed, failed).
pub fn run_each<T, P: Passed>(
    cases: &[T],
    name_about: impl Fn(&T) -> (&'static str, &'static str),
    width: usize,
    noun: &str,
    keep: bool,
    run: impl Fn(&T, &Path) -> Result<P, Vec<String>>,
) -> Result<(usize, usize), String> {
    let (mut passed, mut failed) = (0, 0);
    for c in cases {
        let (name, about) = name_about(c);
        let mut dir = util::ScratchDir::new(name)?;
        let started = Instant::now();
        match run(c, dir.path()) {
            Ok(done) => {
                passed += 1;
                println!(
                    "ok   {name:<width$} {}, {noun} {:>5.2} s  {about}",
                    done.line(),
                    started.elapsed().as_secs_f64(),
                );
                if keep {
                    dir.keep();
                }
            }
            Err(problems) => {
                failed += 1;
                dir.keep();
                util::print_failure(&format!("{name:<width$}"), about, &problems, dir.path());
            }
        }
    }
    Ok((passed, failed))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selection_from_args() {
        let args: Vec<String> = ["aws", "--keep"].iter().map(|s| s.to_string()).collect();
        let s = Selection::parse(&args).unwrap();
        assert_eq!((s.filter, s.keep), (Some("aws"), true));
        assert!(s.matches("aws-dhcp") && !s.matches("akamai-plain"));
        assert!(Selection::parse(&["--kep".to_string()]).is_err());
        assert!(Selection::ALL.pick(vec!["a", "b"], |s| s, "case").unwrap().len() == 2);
        assert!(s.pick(vec!["b"], |s| s, "case").is_err());
    }
}
