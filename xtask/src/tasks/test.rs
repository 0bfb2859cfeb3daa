//! `cargo xtask test`: every suite of `SUITES`, in order, one counted line per case or step,
//! closed by `N passed, N failed`. A new suite is one more line in `SUITES`.

use crate::harness::tally::{Selection, Suite, Tally};
use crate::suites;
use crate::support::{deps, util};

/// What `cargo xtask test` runs, in this order. The build is a gate: when it fails, the suites
/// that run flint are not run and their cases count as failed.
pub const SUITES: &[&Suite] = &[
    &suites::cargo::UNIT_TESTS,
    &suites::cargo::LINT,
    &suites::fuzz::SMOKE,
    &suites::build::BUILD,
    &suites::build::GUARDS,
    &suites::e2e::SUITE,
    // The fault matrix (docs/faults-http.md, docs/faults-net.md) and the 100-instance load test.
    &suites::faults_http::SUITE,
    &suites::faults_net::SUITE,
    &suites::load::SUITE,
    // Boot tests: flint in the initramfs of a real kernel under QEMU, the dracut boots included.
    &suites::qemu::SUITE,
    // Ignition and cloud-init reading flint's outputs (issue #4).
    &suites::consumers::SUITE,
    // OpenStack: config drives and the Nova service, raced; their hand-offs read by the
    // consumers (issue #9).
    &suites::openstack::SUITE,
    &suites::platforms::SUITE,
    // NoCloud: Proxmox, cloud-localds and KubeVirt cidata drives, the network seed with static
    // addressing and no DHCP; their hand-offs read by the consumers (issue #10).
    &suites::nocloud::SUITE,
    &suites::azure::SUITE,
    // Dual stack and names: IPv6, DNS, Happy Eyeballs, --url (issue #11).
    &suites::dualstack::SUITE,
    // --platform auto: the platform from SMBIOS strings (issue #12).
    &suites::auto::SUITE,
    // GCP: the metadata server on a /32 lease with classless routes (issue #12).
    &suites::gcp::SUITE,
    // HTTPS and pointers resolved before the network (issue #13).
    &suites::https::SUITE,
    // flint's initramfs-tools hook and scripts.
    &suites::packaging::SUITE,
];

pub fn cli(args: &[String]) -> Result<(), String> {
    if let Some(a) = args.first() {
        return Err(format!("test: unexpected `{a}` (run one suite with its own task)"));
    }
    util::require_root("cargo xtask test")?;
    deps::ensure_qemu()?;
    let mut t = Tally::default();
    let mut built = true;
    for suite in SUITES {
        if suite.needs_flint && !built {
            let n = (suite.cases)();
            println!("FAIL {:<24} not run: flint did not build ({n} cases)", suite.name);
            t.failed += n;
            continue;
        }
        let failed_before = t.failed;
        if let Err(e) = (suite.run)(&Selection::ALL, &mut t) {
            t.step(suite.name, false, &e);
        }
        if suite.gate && t.failed > failed_before {
            built = false;
        }
    }
    t.close("check(s)")
}
