//! `gcp`: flint against the GCE metadata mock (`mock/gcp.rs`) in network namespaces, on the
//! lease GCE hands out: a /32 address, a router outside it, and RFC 3442 classless static
//! routes (option 121) from dnsmasq.
//!
//! Every case runs flint once in the client namespace with `--root <tmp>/out` and every
//! hand-off (`--ignition`, `--cloud-init-seed`, `--attributes`), then checks the exit code,
//! the tree under the root (files and modes, user-data byte for byte), the report (address,
//! router), the fragment's hostname and keys, the seed, the attributes against Afterburn's
//! names, that every request carried `Metadata-Flavor: Google` (the mock answers 403
//! otherwise) and that no log holds user-data bytes. The consumer cases also hand the tree to
//! Debian's Ignition 2.14 (`fetch-offline`, `ignition.platform.id=gcp`) and cloud-init's
//! NoCloud reader.
//!
//! The lease: the server end holds 10.0.0.1/24 and 169.254.169.254/32; dnsmasq leases
//! 10.0.0.77 with subnet mask 255.255.255.255 (option 1 given explicitly, which dnsmasq sends
//! instead of its own) and the case's options 3 and 121.

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::flint::{HARD_EXTRA, check_exit, run_flint, runner_ready, verdict};
use crate::harness::handoff::{self, FRAGMENT, OUTPUT, REPORT, ReportWant, SEED_DIR, USER_IGN, rel, seed};
use crate::harness::netns::{self, Addressing, SERVER_IF, Topology};
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::{self, Platform, gcp, payloads};
use crate::support::{deps, gzip, util};

pub const SUITE: Suite = Suite { name: "gcp", needs_flint: true, gate: false, run, cases: || all().len() };

/// flint's budget in every case; it is killed `HARD_EXTRA` later.
const BUDGET: u64 = 10;
/// Where flint is told to write the Afterburn attributes, under the root.
const ATTRIBUTES_PATH: &str = "/run/metadata/afterburn";
/// The address dnsmasq leases, as a /32.
const LEASE: &str = "10.0.0.77";

/// What the DHCP server hands out besides the /32 address.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Lease {
    /// GCE's own: router 10.0.0.1 and `10.0.0.1/32 via 0.0.0.0, 0.0.0.0/0 via 10.0.0.1`.
    Gce,
    /// Option 3 names a router nobody answers for; option 121 has no default route, only
    /// `169.254.169.254/32 via 10.0.0.1`: the service is reachable only if option 121 wins.
    OnlyClassless,
    /// A plain /24 with a router and no option 121.
    Plain,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Payload {
    Ignition,
    Gzip,
    None,
}

pub struct Case {
    name: &'static str,
    about: &'static str,
    lease: Lease,
    payload: Payload,
    /// The instance's `block-project-ssh-keys`, and whether it has a legacy `sshKeys`.
    block: Option<&'static str>,
    legacy: bool,
    /// Hand the tree to Ignition and cloud-init.
    consumers: bool,
}

const BASE: Case = Case {
    name: "",
    about: "",
    lease: Lease::Gce,
    payload: Payload::Ignition,
    block: None,
    legacy: false,
    consumers: false,
};

pub fn all() -> Vec<Case> {
    vec![
        Case {
            name: "user-data",
            about: "GCE lease; Ignition config; every hand-off read by Ignition 2.14 and cloud-init",
            consumers: true,
            ..BASE
        },
        Case { name: "gzip", about: "gzip user-data is decoded", payload: Payload::Gzip, ..BASE },
        Case {
            name: "none",
            about: "no user-data attribute (404): exit 3, metadata still handed off",
            payload: Payload::None,
            ..BASE
        },
        Case {
            name: "block-true",
            about: "block-project-ssh-keys=TRUE: only the instance's keys",
            block: Some("TRUE"),
            ..BASE
        },
        Case {
            name: "block-false",
            about: "block-project-ssh-keys=false: instance and project keys",
            block: Some("false"),
            ..BASE
        },
        Case {
            name: "legacy-sshkeys",
            about: "a legacy instance sshKeys: it and ssh-keys, no project keys",
            legacy: true,
            ..BASE
        },
        Case {
            name: "only-classless",
            about: "option 3 names a dead router; the service is reachable only by the option 121 route",
            lease: Lease::OnlyClassless,
            ..BASE
        },
        Case { name: "plain-lease", about: "a /24 lease without option 121", lease: Lease::Plain, ..BASE },
    ]
}

fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the GCP scenarios (network namespaces)")?;
    deps::ensure_consumers()?;
    let flint = runner_ready("the GCP scenarios")?;
    let selected = sel.pick(all(), |c| c.name, "GCP case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 16, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

fn dnsmasq_args(lease: Lease, dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--no-ping".into(),
        "--port=0".into(),
        "--bind-interfaces".into(),
        format!("--interface={SERVER_IF}"),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
    ];
    match lease {
        Lease::Plain => a.extend([
            format!("--dhcp-range={LEASE},{LEASE},255.255.255.0,1h"),
            "--dhcp-option=option:router,10.0.0.1".into(),
        ]),
        Lease::Gce | Lease::OnlyClassless => {
            a.push(format!("--dhcp-range={LEASE},{LEASE},1h"));
            a.push("--dhcp-option=option:netmask,255.255.255.255".into());
            if lease == Lease::Gce {
                a.push("--dhcp-option=option:router,10.0.0.1".into());
                a.push("--dhcp-option=option:classless-static-route,10.0.0.1/32,0.0.0.0,0.0.0.0/0,10.0.0.1".into());
            } else {
                a.push("--dhcp-option=option:router,10.0.0.99".into());
                a.push("--dhcp-option=option:classless-static-route,169.254.169.254/32,10.0.0.1".into());
            }
        }
    }
    a
}

/// A spec 3.3.0 config (the newest Debian's Ignition 2.14 takes as stable) with a file holding
/// the marker and a user of its own, and neither `/etc/hostname` nor `core`: what flint's base
/// fragment adds shows in Ignition's merge.
fn config(marker: &str) -> Value {
    serde_json::json!({
        "ignition": {"version": "3.3.0"},
        "passwd": {"users": [{"name": "gce-ops"}]},
        "storage": {"files": [
            {"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}}
        ]}
    })
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let e = |e: String| vec![e];
    let marker = payloads::new_marker();
    let config = serde_json::to_vec_pretty(&config(&marker)).map_err(|x| e(x.to_string()))?;
    let served = match c.payload {
        Payload::Ignition => Some(config.clone()),
        Payload::Gzip => Some(gzip::gzip(&config, None)),
        Payload::None => None,
    };
    let payload_file = dir.join("payload.bin");
    if let Some(p) = &served {
        std::fs::write(&payload_file, p).map_err(|x| e(x.to_string()))?;
    }
    let root = dir.join("out");
    std::fs::create_dir_all(&root).map_err(|x| e(x.to_string()))?;

    let topo = Topology::new(Addressing::Dhcp).map_err(e)?;
    let _dnsmasq = netns::start_dnsmasq_args(&topo.server, &dnsmasq_args(c.lease, dir), dir, "dnsmasq").map_err(e)?;
    let mut o = mock::Options::new(Platform::Gcp);
    o.payload = served.is_some().then(|| payload_file.clone());
    o.gcp_block = c.block.map(String::from);
    o.gcp_legacy_keys = c.legacy;
    let (_mock, o) = mock::start_in(&topo.server, &o, dir).map_err(e)?;

    let args: Vec<String> = [
        "--platform",
        "gcp",
        "--root",
        &root.display().to_string(),
        "--timeout",
        &BUDGET.to_string(),
        "--report",
        REPORT,
        "--ignition",
        "--cloud-init-seed",
        SEED_DIR,
        "--attributes",
        ATTRIBUTES_PATH,
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    std::fs::write(dir.join("flint-args.txt"), args.join(" ")).ok();
    let limit = Duration::from_secs(BUDGET) + HARD_EXTRA;
    let fr = run_flint(&topo, flint, &args, dir, limit).map_err(e)?;
    let log = mock::read_log(o.log.as_deref().unwrap_or(Path::new("/nonexistent"))).map_err(e)?;

    let want_exit = if c.payload == Payload::None { 3 } else { 0 };
    let mut bad = check_exit(fr.exit, want_exit, None, limit);
    bad.extend(check_stderr(&fr.stderr, want_exit, None));
    bad.extend(check_secrets(dir, &[], &marker));
    if fr.exit == Some(want_exit) {
        bad.extend(checks(c, &root, dir, &log, served.is_some().then_some(config.as_slice())));
    }
    verdict(bad, fr.elapsed, &args, &fr.stderr, &log)
}

fn checks(c: &Case, root: &Path, dir: &Path, log: &[mock::LogEntry], config: Option<&[u8]>) -> Vec<String> {
    let mut bad = Vec::new();
    // Every request was one the real server answers: the flavor header on each (403 without).
    for l in log.iter().filter(|l| l.status == 403 || l.method != "GET") {
        bad.push(format!("refused or odd request: {l}"));
    }
    let asked: BTreeSet<&str> = log.iter().map(|l| l.path.as_str()).collect();
    let blocked = c.block.is_some_and(|b| b.eq_ignore_ascii_case("true")) || c.legacy;
    if blocked && asked.iter().any(|p| p.starts_with("/computeMetadata/v1/project/")) {
        bad.push("project keys were asked for although blocked".into());
    }

    // The files: user-data (and user.ign) only with user-data; the rest always.
    // (The seed's `user-data` is there, empty, without user-data: cloud-init wants the file.)
    let mut want: BTreeSet<String> = [rel(REPORT), rel(ATTRIBUTES_PATH), seed("meta-data"), seed("user-data")]
        .into_iter()
        .chain(FRAGMENT.map(String::from))
        .collect();
    let mut secret = vec![rel(OUTPUT), seed("user-data")];
    secret.extend(USER_IGN.map(String::from));
    if config.is_some() {
        want.insert(rel(OUTPUT));
        want.extend(USER_IGN.map(String::from));
    }
    bad.extend(handoff::tree(root, &want, &secret, config, "served"));
    if let Some(config) = config {
        bad.extend(handoff::user_ign(root, config));
    }

    // The report: the /32 lease and the router option 121 named (or option 3 without it).
    let report: Option<Value> =
        std::fs::read(root.join(rel(REPORT))).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let want_exit = if config.is_some() { 0 } else { 3 };
    let rw = ReportWant { platform: "gcp", exit: want_exit, source: Some("service"), error_phase: None };
    match handoff::report_common(report.as_ref(), Some(want_exit), &rw) {
        Ok((v, more)) => {
            bad.extend(more);
            let (address, router) = match c.lease {
                Lease::Gce => (format!("{LEASE}/32"), Value::from("10.0.0.1")),
                Lease::OnlyClassless => (format!("{LEASE}/32"), Value::Null),
                Lease::Plain => (format!("{LEASE}/24"), Value::from("10.0.0.1")),
            };
            if v["address"] != address.as_str() || v["router"] != router || v["mode"] != "dhcp" {
                bad.push(format!(
                    "report: mode {} address {} router {}, expected dhcp {address} {router}",
                    v["mode"], v["address"], v["router"]
                ));
            }
        }
        Err(more) => bad.extend(more),
    }

    // Hostname and keys: in the fragment and the seed; the attributes with Afterburn's names.
    let keys: Vec<String> = gcp::expected_keys(blocked, c.legacy).into_iter().map(String::from).collect();
    bad.extend(handoff::fragment_files(root, Some(gcp::HOSTNAME), &keys));
    bad.extend(handoff::seed_files(root, gcp::INSTANCE_ID, gcp::HOSTNAME, &keys, config.unwrap_or_default()));
    bad.extend(handoff::attributes(root, ATTRIBUTES_PATH, attributes()));

    if c.consumers
        && let Some(config) = config
    {
        match serde_json::from_slice::<Value>(config) {
            Ok(served) => {
                let check = |merged: &Value| handoff::fragment(merged, Some(gcp::HOSTNAME), &keys);
                bad.extend(handoff::ignition(root, dir, "gcp", &served, Some(&check)));
            }
            Err(e) => bad.push(format!("the served config is not JSON: {e}")),
        }
        match handoff::nocloud_reader(root, dir, config) {
            Ok((v, more)) => {
                bad.extend(more);
                if v["instance_id"] != gcp::INSTANCE_ID || v["local_hostname"] != gcp::HOSTNAME {
                    bad.push(format!(
                        "NoCloud: instance-id {} / local-hostname {}",
                        v["instance_id"], v["local_hostname"]
                    ));
                }
                if v["public_keys"] != serde_json::json!(keys) {
                    bad.push(format!("NoCloud: public keys {}, expected {keys:?}", v["public_keys"]));
                }
            }
            Err(more) => bad.extend(more),
        }
    }
    bad
}

/// Afterburn's GCP attributes (`src/providers/gcp/mod.rs`, written `AFTERBURN_<name>`) with the
/// mock's values.
fn attributes() -> Vec<(String, String)> {
    [
        ("GCP_HOSTNAME", gcp::HOSTNAME),
        ("GCP_IP_EXTERNAL_0", gcp::IP_EXTERNAL),
        ("GCP_IP_LOCAL_0", gcp::IP_LOCAL),
        ("GCP_MACHINE_TYPE", gcp::MACHINE_TYPE),
    ]
    .into_iter()
    .map(|(k, v)| (format!("AFTERBURN_{k}"), v.to_string()))
    .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let cases = all();
        let names: BTreeSet<&str> = cases.iter().map(|c| c.name).collect();
        assert_eq!(names.len(), cases.len());
    }

    #[test]
    fn leases_name_the_routes() {
        let a = dnsmasq_args(Lease::OnlyClassless, Path::new("/x"));
        assert!(a.contains(&"--dhcp-option=option:classless-static-route,169.254.169.254/32,10.0.0.1".to_string()));
        assert!(a.contains(&"--dhcp-option=option:netmask,255.255.255.255".to_string()));
        assert!(!dnsmasq_args(Lease::Plain, Path::new("/x")).iter().any(|s| s.contains("classless")));
    }
}
