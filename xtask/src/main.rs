//! `cargo xtask <task>`: everything around flint that is not flint itself.
//!
//! Public tasks: `build`, `test`, `e2e [FILTER]`, `demo`, `bench [--rounds N] [--link up|down|both]`.
//! Hidden helpers that the tasks start inside network namespaces: `mock …` (the metadata
//! services) and `time-exec …` (exec→exit stopwatch for the benchmark).
//!
//! The workspace's dev profile sets `panic = "abort"`, so a panic would skip every `Drop`
//! guard; `cleanup` therefore installs a panic hook that removes whatever namespaces and
//! processes are still registered. Code paths return `Result<_, String>` instead of panicking.

mod bench;
mod build_task;
mod cleanup;
mod demo;
mod deps;
mod elf;
mod gzip;
mod mock;
mod netns;
mod payloads;
mod proc;
mod report;
mod scenarios;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  build                      build flint (release, static), check the ELF, print its size
  test                       install missing tools, cargo test -p flint, cargo test -p xtask,
                             build, a link that the size budget ASSERT must stop, then every
                             end-to-end scenario; ends with `N passed, N failed`
  e2e [FILTER] [--keep]      run the end-to-end scenarios whose name contains FILTER
                             (needs root and a built flint); --keep keeps every run's files
  demo                       fetch the bundled Ignition config over DHCP and show the report
  bench [--rounds N] [--link up|down|both]
                             exec-to-exit time of flint vs busybox udhcpc + curl (default 30, both)

environment: FLINT_BIN=PATH makes e2e, demo and bench run PATH instead of the release build

hidden helpers (started by the tasks):
  mock --platform aws|akamai [--listen ADDR] [--payload FILE] [knobs…]   (`mock --help`)
  time-exec [--result FILE] [--timeout S] -- CMD [ARGS…]
";

fn main() -> ExitCode {
    cleanup::install_panic_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "build" => build_task::run().map(|_| ()),
        "test" => scenarios::test_all(),
        "e2e" => scenarios::e2e_cli(rest),
        "demo" => demo::run(),
        "bench" => bench::run(rest),
        "mock" => mock::main(rest),
        "time-exec" => bench::time_exec_main(rest),
        "help" | "-h" | "--help" => {
            print!("{USAGE}");
            Ok(())
        }
        other => Err(format!("unknown task `{other}`\n{USAGE}")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}
