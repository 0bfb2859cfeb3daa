//! The build as steps of `cargo xtask test`: the release build with its ELF checks (the gate
//! for every suite that runs flint), and the expected-failure links that prove the guard
//! rails fire (`harness/build.rs`).

use crate::harness::build;
use crate::harness::tally::{Selection, Suite, Tally};

pub const BUILD: Suite = Suite { name: "build", needs_flint: false, gate: true, run: release, cases: || 1 };
pub const GUARDS: Suite = Suite { name: "link-guards", needs_flint: false, gate: false, run: guards, cases: || 2 };

fn release(_: &Selection, t: &mut Tally) -> Result<(), String> {
    match build::run() {
        Ok(b) => t.step("build", true, &format!("{} bytes, fully static", b.size)),
        Err(e) => t.step("build", false, &e),
    }
    Ok(())
}

fn guards(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    if sel.matches("linker-budget-assert") {
        let budget = build::budget_assert_fires();
        t.step(
            "linker-budget-assert",
            budget.is_ok(),
            budget.as_ref().err().map_or("a 4 KiB budget stops the link", |e| e.as_str()),
        );
    }
    if sel.matches("libc-link-refused") {
        match build::libc_link_refused() {
            Ok(why) => t.step(
                "libc-link-refused",
                true,
                &format!(
                    "a call into libc.so: the linker's ASSERT stops it; past it, the ELF check: {}",
                    why_short(&why)
                ),
            ),
            Err(e) => t.step("libc-link-refused", false, &e),
        }
    }
    Ok(())
}

/// The ELF check's findings without the path and the advice, for the `ok` line.
fn why_short(why: &str) -> &str {
    let found = why.split_once("before _start: ").map_or(why, |(_, rest)| rest);
    found.split_once(". A symbol").map_or(found, |(f, _)| f)
}
