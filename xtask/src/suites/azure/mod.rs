//! The Azure suite (`cargo xtask azure [FILTER] [--keep]`): flint against the strict IMDS mock
//! (`mock::azure`) and Azure's provisioning CD, in network namespaces, and its `user.ign` read
//! by real Ignition.
//!
//! - **IMDS** on 169.254.169.254 behind dnsmasq: user-data (base64, gzip detected after it),
//!   the hostname and keys in the Ignition fragment and the seed, Afterburn's attribute names.
//! - **The provisioning CD**: an `ovf-env.xml` as Azure writes it, on a UDF image made by
//!   `genisoimage -udf`, attached as a read-only loop device and found by scanning (it has no
//!   label to go by). Ignition's rule: it counts only when IMDS's user-data is empty (or IMDS
//!   cannot be reached at all); IMDS user-data always wins; neither is "no user-data".
//!
//! Every namespace sees every block device: a CD case checks that no other loop device with
//! a UDF image of this suite is attached (the cases run one at a time and detach on drop).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::azure::provisioning_cd;
use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::drive::Loop;
use crate::harness::drivecase::{self, CaseNet, Observed};
use crate::harness::flint::runner_ready;
use crate::harness::handoff::{self, OUTPUT, REPORT, SEED_DIR};
use crate::harness::netns::Addressing;
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::{self, Platform, azure, payloads};
use crate::support::gzip;

pub const SUITE: Suite = Suite { name: "azure", needs_flint: true, gate: false, run, cases: || all().len() };

const ATTRIBUTES: &str = "/run/metadata/afterburn";

/// What IMDS serves as `userData`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Imds {
    /// An Ignition config.
    Ignition,
    /// The same, gzip-compressed (then base64, as Azure encodes every user-data).
    Gzip,
    /// An empty `userData`: the VM has none.
    Empty,
    /// No NIC at all: IMDS cannot be reached.
    Absent,
}

/// The provisioning CD.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Cd {
    None,
    /// `ovf-env.xml` with a `CustomData` element (an Ignition config).
    CustomData,
    /// `ovf-env.xml` without one.
    NoCustomData,
}

struct Case {
    name: &'static str,
    about: &'static str,
    imds: Imds,
    cd: Cd,
    exit: i32,
    /// The report's `source`.
    source: Option<&'static str>,
    budget: f64,
    /// Ignition `fetch-offline` reads the hand-off.
    consumers: bool,
}

fn all() -> Vec<Case> {
    let c = |name, about, imds, cd, exit, source| Case {
        name,
        about,
        imds,
        cd,
        exit,
        source,
        budget: 8.0,
        consumers: false,
    };
    vec![
        Case {
            consumers: true,
            ..c(
                "imds-user-data",
                "IMDS userData (base64): user.ign, hostname and keys, attributes; Ignition takes it",
                Imds::Ignition,
                Cd::None,
                0,
                Some("service"),
            )
        },
        c("imds-gzip", "IMDS userData gzip-compressed, then base64", Imds::Gzip, Cd::None, 0, Some("service")),
        c(
            "imds-wins-over-cd",
            "IMDS userData and a CD with CustomData: IMDS's, whatever the race",
            Imds::Ignition,
            Cd::CustomData,
            0,
            Some("service"),
        ),
        Case {
            consumers: true,
            ..c(
                "cd-custom-data",
                "IMDS userData empty: the CD's CustomData (UDF, found by scanning), IMDS's hostname and keys",
                Imds::Empty,
                Cd::CustomData,
                0,
                Some("drive"),
            )
        },
        c("cd-no-imds", "no NIC at all: the CD's CustomData", Imds::Absent, Cd::CustomData, 0, Some("drive")),
        c(
            "cd-without-custom-data",
            "IMDS empty and a CD without CustomData: no user-data, exit 3",
            Imds::Empty,
            Cd::NoCustomData,
            3,
            Some("drive"),
        ),
        Case {
            budget: 3.0,
            ..c(
                "neither",
                "IMDS empty and no CD: no user-data when the budget ends, exit 3",
                Imds::Empty,
                Cd::None,
                3,
                Some("service"),
            )
        },
    ]
}

fn run(sel: &Selection, tally: &mut Tally) -> Result<(), String> {
    // Its own installs, whatever ran before it (genisoimage for the CD, Ignition, cloud-init).
    crate::support::util::require_root("the Azure scenarios (network namespaces, loop devices)")?;
    crate::support::deps::ensure_openstack()?;
    let flint = runner_ready("azure")?;
    let cases = sel.pick(all(), |c| c.name, "azure case")?;
    let width = cases.iter().map(|c| c.name.len()).max().unwrap_or(0);
    tally.add(run_each(&cases, |c| (c.name, c.about), width, "flint", sel.keep, |c, dir| run_case(c, dir, &flint))?);
    Ok(())
}

/// What the CD's `CustomData`, and IMDS's `userData`, decode to (spec 3.3.0: the newest
/// Debian's Ignition 2.14 reads).
fn config(marker: &str, from: &str) -> Vec<u8> {
    format!(r#"{{"ignition":{{"version":"3.3.0"}},"storage":{{"files":[{{"path":"/etc/flint-{from}","contents":{{"source":"data:,{marker}"}}}}]}}}}"#).into_bytes()
}

fn run_case(c: &Case, dir: &Path, flint: &Path) -> Result<Duration, Vec<String>> {
    let (drive_dir, root, logs) = drivecase::case_dirs(dir)?;
    let marker = payloads::new_marker();
    let from_imds = config(&marker, "imds");
    let from_cd = config(&marker, "cd");
    let cd = match c.cd {
        Cd::None => None,
        Cd::CustomData => Some(provisioning_cd(&drive_dir, Some(&from_cd)).map_err(|e| vec![e])?),
        Cd::NoCustomData => Some(provisioning_cd(&drive_dir, None).map_err(|e| vec![e])?),
    };
    let lo = cd.as_deref().map(Loop::attach).transpose().map_err(|e| vec![e])?;
    let served = match c.imds {
        Imds::Ignition => Some(from_imds.clone()),
        Imds::Gzip => Some(gzip::gzip(&from_imds, None)),
        Imds::Empty | Imds::Absent => None,
    };
    let payload_file = drive_dir.join("imds-payload");
    if let Some(p) = &served {
        std::fs::write(&payload_file, p).map_err(|e| vec![format!("payload: {e}")])?;
    }
    let net = match c.imds {
        Imds::Absent => CaseNet::lone(),
        _ => CaseNet::veth(Addressing::Dhcp, true, &logs, |_| {
            let mut o = mock::Options::new(Platform::Azure);
            o.payload = served.as_ref().map(|_| payload_file.clone());
            Ok(Some(o))
        }),
    }
    .map_err(|e| vec![e])?;
    let mut args: Vec<String> = ["--platform", "azure", "--output", OUTPUT, "--report", REPORT, "--ignition"]
        .iter()
        .map(|s| s.to_string())
        .collect();
    args.extend(["--attributes".into(), ATTRIBUTES.into(), "--timeout".into(), c.budget.to_string()]);
    args.extend(["--root".into(), root.display().to_string()]);
    // The seed needs an instance id, which only IMDS gives (`compute/vmId`): without IMDS a
    // seed is exit 6 by the contract.
    if c.imds != Imds::Absent {
        args.extend(["--cloud-init-seed".to_string(), SEED_DIR.to_string()]);
    }
    let fr = drivecase::run_flint(&net, flint, &args, None, &logs, Duration::from_secs_f64(c.budget))
        .map_err(|e| vec![e])?;
    let log = net.read_log().map_err(|e| vec![e])?;
    let r = Observed::new(fr, log, &root, dir, lo.as_ref().map(|l| l.name().to_string()));
    let mut bad = drivecase::check_exit_and_time(r.exit, r.elapsed, c.exit, c.budget, None, "");
    bad.extend(check_stderr(&r.stderr, c.exit, None));
    bad.extend(check_secrets(&logs, &[], &marker));
    let source = r.report.as_ref().map(|v| v["source"].clone()).unwrap_or(Value::Null);
    if source != serde_json::json!(c.source) {
        bad.push(format!("report source {source}, expected {:?}", c.source));
    }
    // IMDS wants `Metadata: true` and an api-version on every request: the mock answers 400
    // otherwise, and flint must never have drawn one.
    if let Some(e) = r.log.iter().find(|e| e.status == 400) {
        bad.push(format!("IMDS refused a request: {e}"));
    }
    let want = match (c.exit, c.imds) {
        (0, Imds::Ignition | Imds::Gzip) => Some(&from_imds),
        (0, _) => Some(&from_cd),
        _ => None,
    };
    match want {
        Some(config) => bad.extend(handoff::user_ign(&r.root, config)),
        None => {
            for f in handoff::USER_IGN {
                if r.root.join(f).exists() {
                    bad.push(format!("{f} written without user-data"));
                }
            }
        }
    }
    if c.imds != Imds::Absent {
        let keys: Vec<String> = azure::KEYS.iter().map(|k| k.to_string()).collect();
        if c.exit == 0 {
            bad.extend(handoff::fragment_files(&r.root, Some(azure::VM_NAME), &keys));
        }
        let attrs = vec![
            ("AFTERBURN_AZURE_VMSIZE".to_string(), azure::VM_SIZE.to_string()),
            ("AFTERBURN_AZURE_IPV4_DYNAMIC".to_string(), azure::PRIVATE_IPV4.to_string()),
        ];
        bad.extend(handoff::attributes(&r.root, ATTRIBUTES, attrs));
    }
    if c.consumers && bad.is_empty() {
        let served: Value = serde_json::from_slice(want.map_or(&[][..], |w| w)).unwrap_or(Value::Null);
        let keys: Vec<String> = azure::KEYS.iter().map(|k| k.to_string()).collect();
        let check = |merged: &Value| handoff::fragment(merged, Some(azure::VM_NAME), &keys);
        bad.extend(handoff::ignition(&r.root, &r.dir, "azure", &served, Some(&check)));
    }
    drop(lo);
    if bad.is_empty() { Ok(r.elapsed) } else { Err(bad) }
}
