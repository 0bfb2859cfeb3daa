//! The workspace's own cargo checks as steps of `cargo xtask test`: the unit tests of flint
//! and xtask.

use std::process::Command;
use std::time::Duration;

use crate::harness::tally::{Selection, Suite, Tally};
use crate::support::{proc, util};

pub const UNIT_TESTS: Suite =
    Suite { name: "unit-tests", needs_flint: false, gate: false, run: unit_tests, cases: || 2 };

/// Generous: a cold build of the test binaries on 2 shared cores; it only guards a hang.
const LIMIT: Duration = Duration::from_secs(40 * 60);

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
