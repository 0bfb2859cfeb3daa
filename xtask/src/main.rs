//! `cargo xtask <task>`: everything around flint that is not flint itself.
//!
//! Public tasks (`USAGE`), one module each in `tasks/`. Hidden helpers that the tasks start
//! inside network namespaces: `mock …` and `dhcp-mock …` (the metadata and DHCP services,
//! `mock/`), `time-exec …` (exec→exit stopwatch for the benchmark) and `relay …` (what QEMU's
//! slirp runs per guest connection to the metadata address).
//!
//! The workspace's dev profile sets `panic = "abort"`, so a panic would skip every `Drop`
//! guard; `support::cleanup` therefore installs a panic hook that removes whatever namespaces and
//! processes are still registered. Code paths return `Result<_, String>` instead of panicking.

// Layers, each importing only from the ones below it (`layers.rs` is the test that holds it):
// main → tasks → suites → harness → mock → support.
mod harness;
#[cfg(test)]
mod layers;
mod mock;
mod suites;
mod support;
mod tasks;

use std::process::ExitCode;

const USAGE: &str = "\
usage: cargo xtask <task>

tasks:
  build                      build flint (release, static), check the ELF, print its size
  size                       what each part of flint costs in the binary (symbol by symbol)
  test                       install missing tools, cargo test -p flint, cargo test -p xtask,
                             rustfmt and clippy (flint, xtask, fuzz), a fuzz smoke, build,
                             links that the size budget and the dynamic-relocation guards must
                             stop, every end-to-end and fault scenario, the load test, every
                             QEMU boot scenario, every consumer case, the OpenStack and
                             NoCloud cases, the initramfs-tools checks; ends with
                             `N passed, N failed`
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
  openstack [FILTER] [--keep] OpenStack: Nova config drives (ISO, VFAT, odd ones) found by
                             scanning or --drive, the Nova mock, both raced, the hand-offs
                             read by Ignition and cloud-init; see docs/openstack.md
  nocloud [FILTER] [--keep]  NoCloud (proxmoxve, kubevirt, nocloud): cidata drives made by
                             Proxmox's genisoimage, cloud-localds and KubeVirt, the network
                             seed (ds=nocloud;s=URL) with ip= or a drive's network-config and
                             no DHCP, the hand-offs read by Ignition and cloud-init
  gcp [FILTER] [--keep]      GCP: the metadata server on a /32 lease with option 121 routes,
                             block-project-ssh-keys, the hand-offs read by Ignition and cloud-init
  platforms [FILTER] [--keep] issue #12's metadata platforms (digitalocean … ibmcloud) against
                             their mocks and drives, quirks included, the hand-offs read by
                             Ignition and cloud-init
  azure [FILTER] [--keep]    Azure: the strict IMDS mock, the provisioning CD (UDF ovf-env.xml)
                             as Ignition's fallback for an empty userData, Ignition on user.ign
  dualstack [FILTER] [--keep] IPv6 and names (issue #11): RA/SLAAC, DHCPv6, DNS with search
                             lists, Happy Eyeballs, --url, IPv6 endpoints, DAD, against real
                             dnsmasq in namespaces; every fixture proven without flint first
  auto [FILTER] [--keep]     --platform auto: SMBIOS strings faked per case, each cloud's mock
  https [FILTER] [--keep]    HTTPS and pointers (issue #13): flint's TLS 1.3 and certificate
                             checks against openssl s_server and nginx with the suite's own CA,
                             every refusal, a real S3 (moto) behind a CAPL #include, Ignition
                             merge/replace/remote files read by Ignition; fixtures proven first
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
  mock --platform aws|akamai|openstack|nocloud|gcp|… [--listen ADDR] [--payload FILE] [knobs…]   (`mock --help`)
  dhcp-mock [options]        a misbehaving DHCP server (`dhcp-mock --help`)
  dns-mock --listen IP [options]  a DNS server that truncates or never answers (`dns-mock --help`)
  time-exec [--result FILE] [--timeout S] -- CMD [ARGS…]
  relay HOST:PORT            stdin/stdout <-> TCP, for slirp's guestfwd
";

fn main() -> ExitCode {
    support::cleanup::install_panic_hook();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((task, rest)) = args.split_first() else {
        eprint!("{USAGE}");
        return ExitCode::from(2);
    };
    let result = match task.as_str() {
        "build" => tasks::build::cli(rest),
        "size" => tasks::size::cli(rest),
        "test" => tasks::test::cli(rest),
        "e2e" => tasks::e2e::cli(rest),
        "faults-http" => tasks::faults_http::cli(rest),
        "faults-net" => tasks::faults_net::cli(rest),
        "load" => tasks::load::cli(rest),
        "initramfs" => tasks::initramfs::cli(rest),
        "qemu-test" => tasks::qemu_test::cli(rest),
        "initramfs-tools-test" => tasks::initramfs_tools_test::cli(rest),
        "demo" => tasks::demo::cli(rest),
        "bench" => tasks::bench::cli(rest),
        "fuzz" => tasks::fuzz::cli(rest),
        "consumers" => tasks::consumers::cli(rest),
        "openstack" => tasks::openstack::cli(rest),
        "platforms" => tasks::platforms::cli(rest),
        "nocloud" => tasks::nocloud::cli(rest),
        "azure" => tasks::azure::cli(rest),
        "dualstack" => tasks::dualstack::cli(rest),
        "auto" => tasks::auto::cli(rest),
        "gcp" => tasks::gcp::cli(rest),
        "https" => tasks::https::cli(rest),
        "mock" => mock::main(rest),
        "dhcp-mock" => mock::dhcp::main(rest),
        "dns-mock" => mock::dns::main(rest),
        "time-exec" => harness::stopwatch::main(rest),
        "relay" => harness::qemu::relay::main(rest),
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
