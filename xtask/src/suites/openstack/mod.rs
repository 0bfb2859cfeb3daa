//! The OpenStack suite (issue #9, `cargo xtask openstack [FILTER] [--keep]`, docs/openstack.md):
//! flint against config drives made by Nova's own tools and the Nova mock, in network
//! namespaces, and its hand-offs read by the real consumers.
//!
//! Each case builds what it needs — a config drive (`harness::drive`: `genisoimage` with Nova's
//! options and its odd variants, `mkfs.vfat` + `mcopy`), attached as a read-only loop device
//! for the runs that find it by scanning `/sys/class/block` or named with `--drive`; a network:
//! none at all (a namespace with only `lo`), a veth with dnsmasq and the mock on
//! 169.254.169.254, or a veth without DHCP — runs flint once with `--root <dir>/root`, and
//! holds the run to the checks every run gets (exit code, time within the budget, output bytes
//! and mode or nothing, no stray files anywhere under the root, the report and its `source`,
//! the stderr format with the `drive` phase, no user-data bytes in any log) plus its own: the
//! mock's request log, the hand-off files (`checks.rs`), and for the `consumer-` cases what
//! Ignition and cloud-init make of them (`consumers.rs`).
//!
//! Every namespace sees every block device, so a case that scans first checks that no other
//! config drive is attached to the machine (`drive::foreign_config_drives`).

mod case;
mod checks;
mod consumers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::drive::{self, Build, Damage, Loop, Spec};
use crate::harness::drivecase::{self, CaseNet, Observed};
use crate::harness::flint::{runner_ready, verdict};
use crate::harness::netns::Addressing;
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::openstack::Instance;
use crate::mock::{self, Platform, payloads};
use crate::support::{deps, util};
use case::{ATTRIBUTES, DEV_LISTING, OUTPUT, REPORT, SEED_DIR, USER_DATA_CAP};
use case::{At, Case, DriveSpec, NOVA_ISO, NOVA_VFAT, Net, NotADrive, Payload, Run, Served};

pub const SUITE: Suite = Suite { name: "openstack", needs_flint: true, gate: false, run, cases: || all().len() };

/// Runs `"$@"` (flint) with an empty tmpfs on `/dev` in the mount namespace `unshare` made,
/// then lists what flint left in its private node directory into `$1`.
const EMPTY_DEV: &str = r#"listing="$1"; shift
mount -t tmpfs -o mode=755 flint-empty-dev /dev || exit 100
"$@"; rc=$?
if [ -d /dev/.flint ]; then ls -A /dev/.flint > "$listing"; else echo "no /dev/.flint" > "$listing"; fi
exit $rc"#;

fn no_ssh_keys() -> Instance {
    Instance { no_ssh_keys: true, ..Instance::default() }
}

pub fn all() -> Vec<Case> {
    use checks::*;
    let s = Duration::from_secs_f64;
    vec![
        // --- a drive and no NIC at all ---------------------------------------------------
        Case {
            within: Some(1.5),
            extra: Some(found_on_loop),
            ..Case::base("drive-iso-scan", "Nova's ISO on a loop device, no NIC: found by scanning, exit 0")
        },
        Case {
            drive: NOVA_VFAT,
            within: Some(1.5),
            extra: Some(found_on_loop),
            ..Case::base("drive-vfat-scan", "Nova's 64 MiB VFAT drive on a loop device, no NIC")
        },
        Case { at: At::Arg, ..Case::base("drive-iso-arg", "--drive IMAGE (a file), no NIC") },
        Case { at: At::Arg, drive: NOVA_VFAT, ..Case::base("drive-vfat-arg", "--drive IMAGE, VFAT, no NIC") },
        Case {
            empty_dev: true,
            extra: Some(private_nodes_gone),
            ..Case::base(
                "drive-scan-no-dev-node",
                "/dev holds no node for the loop device: flint makes its own in /dev/.flint, reads, unlinks it",
            )
        },
        Case {
            at: At::KernelArgs,
            ..Case::base(
                "drive-kernel-args",
                "ignition.platform.id=openstack flint.drive=IMAGE on the kernel command line only",
            )
        },
        Case {
            at: At::Arg,
            drive: DriveSpec { build: Build::IsoNoRockRidge, ..NOVA_ISO },
            extra: Some(read_joliet),
            ..Case::base("drive-no-rock-ridge", "ISO without Rock Ridge: names from Joliet")
        },
        Case {
            at: At::Arg,
            drive: DriveSpec { build: Build::IsoNoJoliet, ..NOVA_ISO },
            extra: Some(read_rock_ridge),
            ..Case::base("drive-no-joliet", "ISO without Joliet: names from Rock Ridge")
        },
        Case {
            drive: DriveSpec { build: Build::IsoJolietOnly, ..NOVA_ISO },
            extra: Some(read_joliet),
            ..Case::base(
                "drive-joliet-only-names",
                "ISO names 8.3 (USER_DAT.;1), the long names only in Joliet; scanned",
            )
        },
        Case {
            drive: DriveSpec { label: "CONFIG-2", ..NOVA_ISO },
            ..Case::base(
                "drive-iso-upper-label",
                "ISO labelled CONFIG-2 (accepted like Ignition and cloud-init do); scanned",
            )
        },
        Case {
            drive: DriveSpec { label: "CONFIG-2", ..NOVA_VFAT },
            ..Case::base(
                "drive-vfat-upper-label",
                "VFAT labelled CONFIG-2 (older dosfstools upper-cased labels); scanned",
            )
        },
        Case {
            at: At::Arg,
            payload: Payload::Sized(USER_DATA_CAP),
            ..Case::base("drive-user-data-at-cap", "user_data of exactly 1 MiB, flint's cap: read whole")
        },
        Case {
            at: At::Arg,
            payload: Payload::Sized(USER_DATA_CAP + 1),
            exit: 5,
            source: None,
            error_phase: Some("drive"),
            ..Case::base("drive-user-data-over-cap", "user_data 1 byte over the 1 MiB cap, no service: exit 5")
        },
        Case {
            at: At::Arg,
            drive: DriveSpec { damage: Damage::CorruptDirectory, ..NOVA_ISO },
            exit: 5,
            source: None,
            error_phase: Some("drive"),
            ..Case::base(
                "drive-corrupt-directory",
                "the `openstack` directory record shorter than ECMA-119 allows: exit 5, never \"no user-data\"",
            )
        },
        Case {
            at: At::Arg,
            drive: DriveSpec { damage: Damage::Truncated, ..NOVA_ISO },
            exit: 5,
            source: None,
            error_phase: Some("drive"),
            ..Case::base("drive-truncated", "the image ends inside user_data's extent: exit 5")
        },
        Case {
            drive: DriveSpec { user_data: false, ..NOVA_ISO },
            exit: 3,
            ..Case::base("drive-no-user-data", "a drive without openstack/latest/user_data: \"none\", exit 3")
        },
        Case {
            at: At::Arg,
            payload: Payload::Empty,
            exit: 3,
            ..Case::base(
                "drive-empty-user-data",
                "an empty openstack/latest/user_data: no user-data, exit 3, nothing written",
            )
        },
        // --- the metadata service alone --------------------------------------------------
        Case {
            extra: Some(asked_once),
            ..Case::service("service-dhcp", "Nova service behind dnsmasq, no drive: exit 0, source service")
        },
        Case {
            net: Net::NoDhcp,
            budget: 20.0,
            extra: Some(asked_once),
            ..Case::service("service-link-local", "no DHCP server: link-local address, the service on-link")
        },
        Case {
            service_user_data: false,
            exit: 3,
            extra: Some(asked_both_trees_none),
            ..Case::service("service-no-user-data", "404 on both trees: exit 3, nothing written")
        },
        Case {
            mock: Some(|o| o.no_openstack_tree = true),
            extra: Some(asked_ec2_after_404),
            ..Case::service(
                "service-ec2-tree-only",
                "only the EC2 tree answers: user-data from /latest/user-data after the 404",
            )
        },
        // --- both, and neither -----------------------------------------------------------
        Case {
            net: Net::Dhcp,
            mock: Some(|_| {}),
            within: Some(1.5),
            extra: Some(drive_won_service_quiet),
            ..Case::base("race-drive-first", "drive and service: the drive wins at once, HTTP cancelled")
        },
        Case {
            net: Net::Dhcp,
            mock: Some(|o| o.delay_ms = 3000),
            at: At::ScanLate(s(0.8)),
            budget: 10.0,
            within: Some(2.5),
            extra: Some(drive_won_mid_request),
            ..Case::base(
                "race-drive-mid-request",
                "the service takes 3 s; a drive attached at 0.8 s wins and the pending GET is dropped",
            )
        },
        Case {
            net: Net::Dhcp,
            mock: Some(|_| {}),
            at: At::ScanLate(s(2.5)),
            budget: 10.0,
            source: Some("service"),
            within: Some(2.0),
            extra: Some(service_won_drive_unread),
            ..Case::base("race-service-first", "the service answers before a drive appears at 2.5 s: source service")
        },
        Case {
            net: Net::Dhcp,
            mock: Some(|_| {}),
            service_user_data: false,
            at: At::ScanLate(s(2.5)),
            budget: 10.0,
            exit: 3,
            source: Some("service"),
            within: Some(2.0),
            extra: Some(service_none_first),
            ..Case::base(
                "race-service-none-first",
                "the service's 404s come before a drive with user-data appears: \"none\" is an answer, exit 3",
            )
        },
        Case {
            net: Net::Dhcp,
            at: At::Nowhere,
            budget: 4.0,
            exit: 4,
            source: None,
            ..Case::base("neither-nothing-listening", "a lease, nothing on :80, no drive: exit 4 within the budget")
        },
        Case {
            net: Net::NoDhcp,
            at: At::Nowhere,
            budget: 4.0,
            exit: 4,
            source: None,
            ..Case::base("neither-no-dhcp", "no DHCP server, nothing on :80, no drive: exit 4 within the budget")
        },
        Case {
            at: At::Nowhere,
            budget: 3.0,
            exit: 1,
            source: None,
            error_phase: Some("link"),
            ..Case::base(
                "neither-no-nic",
                "no NIC and no drive: exit 1 (no usable NIC) once the budget ends the drive scans",
            )
        },
        Case {
            at: At::ArgNot(NotADrive::Text),
            extra: Some(logged_no_drive),
            ..Case::service("drive-arg-not-a-drive", "--drive names a text file: logged, the service still answers")
        },
        Case {
            at: At::ArgNot(NotADrive::WrongLabel),
            extra: Some(logged_no_drive),
            ..Case::service(
                "drive-arg-wrong-label",
                "--drive names a VFAT seed labelled cidata: logged, the service answers",
            )
        },
        Case {
            at: At::ArgNot(NotADrive::Missing),
            extra: Some(logged_missing),
            ..Case::service(
                "drive-arg-missing",
                "--drive names a path that does not exist: logged, the service answers",
            )
        },
        // --- hand-offs -------------------------------------------------------------------
        Case {
            handoff: true,
            ..Case::base(
                "handoff-drive",
                "--ignition --cloud-init-seed --attributes from the drive: Afterburn's six attributes, fragment, seed with the drive's files",
            )
        },
        Case {
            handoff: true,
            drive: DriveSpec { user_data: false, ..NOVA_ISO },
            exit: 3,
            ..Case::base(
                "handoff-drive-no-user-data",
                "drive without user_data: exit 3, attributes, fragment and a seed with empty user-data still written",
            )
        },
        Case {
            handoff: true,
            instance: no_ssh_keys(),
            ..Case::base(
                "handoff-drive-no-keypair",
                "instance without keypair: fragment with the hostname only, seed without keys",
            )
        },
        Case {
            handoff: true,
            instance: Instance { key_newline: true, ..Instance::default() },
            ..Case::base(
                "handoff-drive-key-newline",
                "the key imported from a .pub file ends with \\n in meta_data.json: handed over without it",
            )
        },
        Case {
            handoff: true,
            mock: Some(|o| o.floating_ip = true),
            extra: Some(service_metadata_from_both_trees),
            ..Case::service(
                "handoff-service",
                "the same from the service: hostname from EC2 `hostname`, keys from meta_data.json, a floating IP",
            )
        },
        Case {
            handoff: true,
            mock: Some(|o| o.key_newline = true),
            extra: Some(service_metadata_from_both_trees),
            ..Case::service(
                "handoff-service-key-newline",
                "the service's meta_data.json key ends with \\n: taken from there without it, the EC2 index never asked",
            )
        },
        Case {
            handoff: true,
            mock: Some(|o| o.no_openstack_tree = true),
            extra: Some(service_keys_from_ec2_index),
            exit: 6,
            error_phase: Some("write"),
            ..Case::service(
                "handoff-service-ec2-tree-only",
                "EC2 tree only: keys from its index, no uuid, so no seed (exit 6); attributes and fragment written",
            )
        },
        // --- the consumers ---------------------------------------------------------------
        Case {
            handoff: true,
            consumers: true,
            ..Case::base(
                "consumer-drive-ignition",
                "Ignition 2.14 (platform openstack) takes user.ign with no neednet; cloud-init's ConfigDrive and NoCloud readers take the seed",
            )
        },
        Case {
            handoff: true,
            consumers: true,
            ..Case::service(
                "consumer-service-ignition",
                "the same from the service: Ignition, and cloud-init's NoCloud reader",
            )
        },
        Case {
            handoff: true,
            consumers: true,
            at: At::Arg,
            drive: NOVA_VFAT,
            payload: Payload::CloudConfig,
            exit: 7,
            error_phase: Some("ignition"),
            ..Case::base(
                "consumer-drive-cloud-config",
                "#cloud-config on a VFAT drive with --ignition: exit 7, no user.ign; cloud-init reads the seed",
            )
        },
    ]
}

/// An Ignition config of spec 3.3.0 (the newest Debian's Ignition 2.14 takes as stable) with
/// content of its own — a file holding the marker, one naming the source, a unit, a user —
/// and neither `/etc/hostname` nor the `core` user, so what flint's base fragment adds shows
/// in Ignition's merged result.
pub fn ignition_config(marker: &str, origin: &str) -> Value {
    serde_json::json!({
        "ignition": {"version": "3.3.0"},
        "passwd": {"users": [{"name": "ops", "groups": ["wheel"]}]},
        "storage": {"files": [
            {"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}},
            {"path": "/etc/flint/source", "mode": 420, "contents": {"source": format!("data:,{origin}")}}
        ]},
        "systemd": {"units": [{
            "name": "flint-hello.service", "enabled": true,
            "contents": "[Unit]\nDescription=hello\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"
        }]}
    })
}

/// The two user-datas differ (`origin` is in each), so the output shows which source won;
/// both carry the marker.
fn payload(p: Payload, marker: &str, origin: &str) -> Vec<u8> {
    match p {
        Payload::Ignition => {
            let mut out = serde_json::to_vec_pretty(&ignition_config(marker, origin)).unwrap_or_default();
            out.push(b'\n');
            out
        }
        Payload::CloudConfig => format!(
            "#cloud-config\n# {marker} from the {origin}\nruncmd:\n  - [sh, -c, 'echo provisioned by flint > /run/flint-hello']\n"
        )
        .into_bytes(),
        Payload::Empty => Vec::new(),
        Payload::Sized(n) => {
            let mut p = payloads::cloud_config_of_len(marker, n);
            // `origin` replaces the start of the last padding line (`#` comments), length kept.
            let tag = format!("# {origin}");
            if let Some(start) = p.len().checked_sub(tag.len() + 1) {
                p[start..start + tag.len()].copy_from_slice(tag.as_bytes());
            }
            p
        }
    }
}

/// The network of a run: no NIC, or a veth (dnsmasq on it for `Net::Dhcp`, else link-local)
/// and the mock with the case's knobs.
fn network(c: &Case, service_payload: Option<&Path>, logs: &Path) -> Result<CaseNet, String> {
    if c.net == Net::NoNic {
        return CaseNet::lone();
    }
    let addressing = if c.net == Net::Dhcp { Addressing::Dhcp } else { Addressing::LinkLocal };
    CaseNet::veth(addressing, c.net == Net::Dhcp, logs, |_| {
        Ok(c.mock.map(|knobs| {
            let mut o = mock::Options::new(Platform::OpenStack);
            o.payload = service_payload.map(Path::to_path_buf);
            knobs(&mut o);
            o
        }))
    })
}

/// flint's command line (and the `--cmdline` file it may name).
fn flint_args(c: &Case, root: &Path, drive: Option<&Path>, logs: &Path) -> Result<Vec<String>, String> {
    let mut a: Vec<String> = vec!["--root".into(), root.display().to_string()];
    if c.at == At::KernelArgs {
        let image = drive.ok_or("no image for flint.drive=")?;
        let cmdline = logs.join("cmdline");
        let text = format!(
            "BOOT_IMAGE=/boot/vmlinuz root=UUID=0b3c6d1e-5f7a-4c2b-9d8e-1a2b3c4d5e6f ro console=ttyS0 ignition.firstboot ignition.platform.id=openstack flint.drive={} flint.report={REPORT} flint.timeout={} quiet\n",
            image.display(),
            c.budget
        );
        std::fs::write(&cmdline, text).map_err(|e| format!("{}: {e}", cmdline.display()))?;
        a.extend(["--cmdline".into(), cmdline.display().to_string()]);
        return Ok(a);
    }
    a.extend(["--platform".into(), "openstack".into(), "--output".into(), OUTPUT.into()]);
    a.extend(["--report".into(), REPORT.into(), "--timeout".into(), c.budget.to_string()]);
    if let Some(p) = drive {
        a.extend(["--drive".into(), p.display().to_string()]);
    }
    if c.handoff {
        a.extend(["--ignition".into(), "--cloud-init-seed".into(), SEED_DIR.into()]);
        a.extend(["--attributes".into(), ATTRIBUTES.into()]);
    }
    Ok(a)
}

/// What `--drive` names for `At::ArgNot`.
fn not_a_drive(kind: NotADrive, dir: &Path, drive_ud: &[u8], inst: &Instance) -> Result<PathBuf, String> {
    match kind {
        NotADrive::Text => {
            let p = dir.join("notes.txt");
            std::fs::write(&p, "not a filesystem\n".repeat(4096)).map_err(|e| e.to_string())?;
            Ok(p)
        }
        NotADrive::WrongLabel => {
            let spec = Spec {
                build: Build::Vfat,
                label: "cidata",
                user_data: Some(drive_ud.to_vec()),
                instance: *inst,
                damage: Damage::None,
            };
            drive::build(&spec, dir)
        }
        NotADrive::Missing => Ok(dir.join("no-such-image.iso")),
    }
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let marker = payloads::new_marker();
    let served =
        Served { drive: payload(c.payload, &marker, "drive"), service: payload(c.payload, &marker, "service") };
    let (drive_dir, root, logs) = drivecase::case_dirs(dir)?;
    if c.scans() {
        let foreign = drive::foreign_config_drives(&[]).map_err(|e| vec![e])?;
        if !foreign.is_empty() {
            return Err(vec![format!(
                "another config drive is attached to this machine ({foreign:?}): a scan would find it"
            )]);
        }
    }

    // The drive (or what `--drive` names instead).
    let image = if c.has_drive() {
        let spec = Spec {
            build: c.drive.build,
            label: c.drive.label,
            user_data: c.drive.user_data.then(|| served.drive.clone()),
            instance: c.instance,
            damage: c.drive.damage,
        };
        Some(drive::build(&spec, &drive_dir).map_err(|e| vec![e])?)
    } else if let At::ArgNot(kind) = c.at {
        Some(not_a_drive(kind, &drive_dir, &served.drive, &c.instance).map_err(|e| vec![e])?)
    } else {
        None
    };
    let service_payload = drive_dir.join("service-user-data");
    if c.service_user_data {
        std::fs::write(&service_payload, &served.service).map_err(|e| vec![e.to_string()])?;
    }

    let net = network(c, c.service_user_data.then_some(service_payload.as_path()), &logs).map_err(|e| vec![e])?;
    let early = match (c.at, &image) {
        (At::Scan, Some(img)) => Some(Loop::attach(img).map_err(|e| vec![e])?),
        _ => None,
    };
    let drive_arg = match c.at {
        At::Arg | At::ArgNot(_) | At::KernelArgs => image.as_deref(),
        _ => None,
    };
    let args = flint_args(c, &root, drive_arg, &logs).map_err(|e| vec![e])?;
    std::fs::write(logs.join("flint-args.txt"), args.join(" ")).ok();

    let late_image = match c.at {
        At::ScanLate(after) => image.clone().map(|img| (after, img)),
        _ => None,
    };
    let script = c.empty_dev.then(|| (EMPTY_DEV, vec![logs.join(DEV_LISTING).display().to_string()]));
    let budget = Duration::from_secs_f64(c.budget);
    let (fr, late) =
        drivecase::with_late_loop(late_image, || drivecase::run_flint(&net, flint, &args, script, &logs, budget));
    let fr = fr.map_err(|e| vec![e])?;
    let late = late.map_err(|e| vec![e])?;
    let device = early.as_ref().or(late.as_ref()).map(|l| l.name().to_string());

    // The mock's log just after flint's exit, and again a moment later: nothing may arrive
    // from a flint that is gone (a cancelled request must not be finished by anyone).
    std::thread::sleep(Duration::from_millis(20));
    let log = net.read_log().map_err(|e| vec![e])?;
    std::thread::sleep(Duration::from_millis(200));
    let log_later = net.read_log().map_err(|e| vec![e])?;
    let run = Run { seen: Observed::new(fr, log, &root, dir, device), log_later, served };

    let why = ": the winner answered, flint should be done soon";
    let mut bad = drivecase::check_exit_and_time(run.exit, run.elapsed, c.exit, c.budget, c.within, why);
    bad.extend(checks::files(c, &run));
    bad.extend(checks::report(c, &run, net.mac()));
    bad.extend(check_stderr(&run.stderr, c.exit, c.error_phase));
    bad.extend(check_secrets(&logs, &[], &marker));
    bad.extend(checks::no_secrets_in_root(&run, &marker));
    bad.extend(checks::mock_log(c, &run));
    if c.handoff {
        bad.extend(checks::handoff(c, &run));
    }
    // The consumers only make sense of the outputs the expected outcome leaves.
    if c.consumers && run.exit == Some(c.exit) {
        bad.extend(consumers::check(c, &run));
    }
    if let Some(extra) = c.extra {
        bad.extend(extra(&run));
    }

    verdict(bad, run.elapsed, &args, &run.stderr, &run.log)
}

/// Runs the selected cases, one line each, into `t`. Installs the drive tools, Ignition and
/// cloud-init first when missing.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the OpenStack scenarios (network namespaces, loop devices)")?;
    deps::ensure_openstack()?;
    let flint = runner_ready("the OpenStack scenarios")?;
    let selected = sel.pick(all(), |c| c.name, "OpenStack case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 30, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_payloads_differ_by_origin() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for p in [Payload::Ignition, Payload::CloudConfig, Payload::Sized(4096)] {
            let (a, b) = (payload(p, "M", "drive"), payload(p, "M", "service"));
            assert_ne!(a, b);
            assert!(String::from_utf8_lossy(&a).contains('M'));
        }
        assert_eq!(payload(Payload::Sized(USER_DATA_CAP), "M", "drive").len(), USER_DATA_CAP);
    }

    #[test]
    fn identities_follow_the_source() {
        let drive = all().into_iter().find(|c| c.name == "handoff-drive").unwrap();
        let id = checks::identity(&drive).unwrap();
        assert!(id.uuid && id.from_drive && id.keys == [crate::mock::openstack::KEY]);
        let ec2 = all().into_iter().find(|c| c.name == "handoff-service-ec2-tree-only").unwrap();
        let id = checks::identity(&ec2).unwrap();
        assert!(!id.uuid && !id.from_drive && id.keys.len() == 1);
        let newline = all().into_iter().find(|c| c.name == "handoff-drive-key-newline").unwrap();
        assert_eq!(
            checks::identity(&newline).unwrap().keys,
            [crate::mock::openstack::KEY],
            "keys are expected trimmed"
        );
        assert!(all().iter().filter(|c| c.scans()).count() > 5);
    }
}
