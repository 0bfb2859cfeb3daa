//! `cargo xtask <task>`: everything around flint that is not flint itself.
//!
//! Public tasks: `build`, `test`, `e2e [FILTER]`, `consumers [FILTER]`, `initramfs`,
//! `qemu-test [FILTER]`, `demo [--netns]`, `bench [--qemu] [--rounds N] [--link up|down|both]`.
//! Hidden helpers that the tasks start inside network namespaces: `mock …` (the metadata
//! services), `time-exec …` (exec→exit stopwatch for the benchmark) and `relay …` (what
//! QEMU's slirp runs per guest connection to the metadata address).
//!
//! The workspace's dev profile sets `panic = "abort"`, so a panic would skip every `Drop`
//! guard; `cleanup` therefore installs a panic hook that removes whatever namespaces and
//! processes are still registered. Code paths return `Result<_, String>` instead of panicking.

mod bench;
mod build_task;
mod cleanup;
mod consumers;
mod cpio;
mod demo;
mod deps;
mod dhcp_mock;
mod elf;
mod faults_http;
mod faults_net;
mod fuzz;
mod gzip;
mod initramfs;
mod kernel;
mod load;
mod mock;
mod netns;
mod packaging;
mod payloads;
mod proc;
mod qemu;
mod report;
mod scenarios;
mod sha256;
mod util;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  build                      build flint (release, static), check the ELF, print its size
  test                       install missing tools, cargo test -p flint, cargo test -p xtask,
                             build, a link that the size budget ASSERT must stop, every
                             end-to-end scenario, every QEMU boot scenario, every consumer
                             case; ends with `N passed, N failed`
  e2e [FILTER] [--keep]      run the end-to-end scenarios whose name contains FILTER
                             (needs root and a built flint); --keep keeps every run's files
  faults-http [FILTER] [--keep]
                             the HTTP, payload and output fault scenarios and the signal
                             runs (docs/faults-http.md), like e2e
  faults-net [FILTER] [--keep]
                             the network fault scenarios (docs/faults-net.md) whose name
                             contains FILTER (needs root and a built flint)
  load [--instances N] [--rate-limit R] [--timeout S] [--keep]
                             N flints (default 100) at once in N namespaces on one bridge,
                             one mock answering 429 past R requests/s (default 40)
  initramfs [--out PATH]     build the boot-test initramfs (flint, busybox test init, NIC
                             modules of the Debian kernel, which is downloaded and cached)
  initramfs --dracut [--out PATH]
                             the same kernel's initramfs built by real dracut: systemd,
                             flint's module, Ignition's module, the test report (cached)
  qemu-test [FILTER] [--keep]
                             boot the QEMU scenarios (qemu-tests/scenarios.json) whose name
                             contains FILTER
  initramfs-tools-test       flint's initramfs-tools hook and scripts: a real mkinitramfs
                             image, then the scripts run against the mock (NoCloud seed)
  consumers [FILTER] [--keep] flint's --ignition/--cloud-init-seed/--attributes outputs read by
                             Debian's Ignition 2.14 (fetch-offline) and cloud-init's NoCloud
                             reader (installed when missing); see docs/consumers.md
  demo [--netns]             boot the QEMU image: flint fetches the bundled Ignition config;
                             shows it with the boot timeline (--netns: the namespace demo)
  fuzz [--seconds N] [TARGET...]
                             every libFuzzer target (fuzz/, docs/fuzzing.md) for N seconds
                             (default 60), one at a time; installs nightly and cargo-fuzz
  bench [--rounds N] [--link up|down|both]
                             exec-to-exit time of flint vs busybox udhcpc + curl (default 30, both)
  bench --qemu [--rounds N]  kernel start -> config written, flint vs a busybox kernel-stack
                             reference in the same initramfs (default 5 rounds)

environment: FLINT_BIN=PATH makes e2e, consumers, qemu-test, initramfs, demo and bench use
             PATH instead of the release build; FLINT_QEMU_ACCEL=tcg|kvm skips the KVM probe;
             FLINT_CACHE_DIR=DIR holds the downloaded kernel (default ~/.cache/flint)

hidden helpers (started by the tasks):
  mock --platform aws|akamai [--listen ADDR] [--payload FILE] [knobs…]   (`mock --help`)
  dhcp-mock [options]        a misbehaving DHCP server (`dhcp-mock --help`)
  time-exec [--result FILE] [--timeout S] -- CMD [ARGS…]
  relay HOST:PORT            stdin/stdout <-> TCP, for slirp's guestfwd
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
        "faults-http" => faults_http::cli(rest),
        "faults-net" => faults_net::cli(rest),
        "load" => load::cli(rest),
        "initramfs" => initramfs::cli(rest),
        "qemu-test" => qemu::scenarios::cli(rest),
        "initramfs-tools-test" => packaging::cli(rest),
        "demo" => match rest {
            [] => qemu::demo::run(),
            [flag] if flag == "--netns" => demo::run(),
            _ => Err("demo takes no argument but --netns".into()),
        },
        "bench" if rest.iter().any(|a| a == "--qemu") => {
            qemu::bench::run(&rest.iter().filter(|a| *a != "--qemu").cloned().collect::<Vec<_>>())
        }
        "bench" => bench::run(rest),
        "fuzz" => fuzz::cli(rest),
        "consumers" => consumers::cli(rest),
        "mock" => mock::main(rest),
        "dhcp-mock" => dhcp_mock::main(rest),
        "time-exec" => bench::time_exec_main(rest),
        "relay" => qemu::relay::main(rest),
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
