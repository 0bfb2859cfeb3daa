//! The `--platform auto` suite (issue #12, `cargo xtask auto [FILTER] [--keep]`): flint with
//! SMBIOS strings of its own, in network namespaces, against the platforms' mocks.
//!
//! Each run gets a `/sys/class/dmi/id` made for the case (a mount namespace in which
//! `/sys/class` is a tmpfs holding bind mounts of every other class, `net` and `block`
//! included: the NoCloud suite's way, see `DMI_SCRIPT`), a veth with dnsmasq, and the mock of
//! one platform at 169.254.169.254. The cases:
//! - auto picks the platform the strings name (each of AWS's UUID, Akamai's vendor and
//!   OpenStack's product name, from `--platform auto` and from the kernel's
//!   `flint.platform=auto`) and fetches from that platform's mock: the user-data byte-exact,
//!   the info line naming the string that decided, the report's `platform`, `dmi_platform`
//!   and `dmi_key`;
//! - auto on QEMU's own strings, on strings of two clouds at once, and on no DMI at all: exit
//!   2 with the strings it saw on one error line, no request to the mock, no report;
//! - an explicit platform on a machine whose strings name another cloud: one warning, and the
//!   run is exactly the explicit platform's (its mock answered, its user-data written).

use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::drivecase::{self, CaseNet, Observed};
use crate::harness::flint::{runner_ready, verdict};
use crate::harness::handoff::{REPORT, rel};
use crate::harness::netns::Addressing;
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::{self, Platform, payloads};

/// Runs `"$@"` (flint) with the SMBIOS strings of directory `$1`: `/sys/class` becomes a tmpfs
/// holding bind mounts of every class the machine has but `dmi`, whose `id/` is a copy of
/// `$1`; `$2` is an empty directory that keeps the original `/sys/class` reachable.
const DMI_SCRIPT: &str = r#"strings="$1"; keep="$2"; shift 2
mount --bind /sys/class "$keep" || exit 100
mount -t tmpfs -o mode=755 flint-sysclass /sys/class || exit 100
for d in "$keep"/*; do
  n=${d##*/}
  [ "$n" = dmi ] && continue
  mkdir "/sys/class/$n" && mount --bind "$d" "/sys/class/$n" || exit 100
done
mkdir -p /sys/class/dmi/id && cp -R "$strings"/. /sys/class/dmi/id/ || exit 100
exec "$@""#;

/// flint's whole budget in every case.
const BUDGET: f64 = 10.0;

/// How the platform is given.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Given {
    /// `--platform auto`.
    Auto,
    /// `flint.platform=auto` on the kernel command line (`--cmdline FILE`).
    KernelAuto,
    /// `--platform ID`.
    Id(&'static str),
}

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    /// The files of `/sys/class/dmi/id` (name, contents as the kernel shows them).
    pub dmi: &'static [(&'static str, &'static str)],
    pub given: Given,
    /// The mock at 169.254.169.254.
    pub mock: Platform,
    pub exit: i32,
    /// What the run must have fetched from (the report's `platform`; exit 0 cases).
    pub platform: Option<&'static str>,
    /// The report's `dmi_platform` and `dmi_key`.
    pub hint: Option<(&'static str, &'static str)>,
    /// The stderr line about DMI: its level prefix and text.
    pub line: &'static str,
}

/// QEMU's own strings (i440FX), as a plain QEMU, Proxmox VE or KubeVirt VM shows them.
const QEMU: &[(&str, &str)] = &[
    ("sys_vendor", "QEMU\n"),
    ("product_name", "Standard PC (i440FX + PIIX, 1996)\n"),
    ("bios_vendor", "SeaBIOS\n"),
    ("chassis_asset_tag", "\n"),
    ("product_uuid", "9a3f07d1-5c4e-4f7e-8a51-3c1d2b6e0f42\n"),
];

pub fn all() -> Vec<Case> {
    let ok = |name, about, dmi, given, mock, platform: &'static str, key: &'static str, line| Case {
        name,
        about,
        dmi,
        given,
        mock,
        exit: 0,
        platform: Some(platform),
        hint: Some((platform, key)),
        line,
    };
    let unknown = |name, about, dmi, line| Case {
        name,
        about,
        dmi,
        given: Given::Auto,
        mock: Platform::Aws,
        exit: 2,
        platform: None,
        hint: None,
        line,
    };
    vec![
        ok(
            "aws-uuid",
            "--platform auto, an EC2 UUID (Nitro: sys_vendor Amazon EC2): aws, IMDSv2 from the aws mock",
            &[
                ("sys_vendor", "Amazon EC2\n"),
                ("product_name", "m6i.large\n"),
                ("bios_vendor", "Amazon EC2\n"),
                ("product_uuid", "ec2e1916-9099-7caf-fd21-012345abcdef\n"),
            ],
            Given::Auto,
            Platform::Aws,
            "aws",
            "product_uuid",
            "flint: args: --platform auto: DMI product_uuid \"ec2e1916-9099-7caf-fd21-012345abcdef\" names aws",
        ),
        ok(
            "aws-uuid-little-endian",
            "the little-endian EC2 UUID AWS documents (45E12AEC-…): aws",
            &[("sys_vendor", "Xen\n"), ("product_uuid", "45E12AEC-DCD1-B213-94ED-012345ABCDEF\n")],
            Given::Auto,
            Platform::Aws,
            "aws",
            "product_uuid",
            "names aws",
        ),
        ok(
            "akamai-linode",
            "--platform auto, sys_vendor Linode: akamai, from the akamai mock",
            &[("sys_vendor", "Linode\n"), ("product_name", "Compute Instance\n"), ("product_serial", "12345678\n")],
            Given::Auto,
            Platform::Akamai,
            "akamai",
            "sys_vendor",
            "flint: args: --platform auto: DMI sys_vendor \"Linode\" names akamai",
        ),
        ok(
            "openstack-nova-kernel",
            "flint.platform=auto on the kernel line, product_name OpenStack Nova: openstack, the Nova mock",
            &[("sys_vendor", "OpenStack Foundation\n"), ("product_name", "OpenStack Nova\n")],
            Given::KernelAuto,
            Platform::OpenStack,
            "openstack",
            "product_name",
            "flint: args: --platform auto: DMI product_name \"OpenStack Nova\" names openstack",
        ),
        unknown(
            "unknown-qemu",
            "QEMU's own strings name no cloud: exit 2 listing what was seen, nothing asked",
            QEMU,
            "flint: error: args: --platform auto: DMI names no platform flint knows: sys_vendor \"QEMU\", \
             product_name \"Standard PC (i440FX + PIIX, 1996)\", chassis_asset_tag \"\", bios_vendor \"SeaBIOS\", \
             product_serial \"\", product_uuid \"9a3f07d1-5c4e-4f7e-8a51-3c1d2b6e0f42\"",
        ),
        unknown(
            "unknown-two-clouds",
            "an OpenStack product name and Oracle's asset tag: no single platform, exit 2",
            &[("product_name", "OpenStack Nova\n"), ("chassis_asset_tag", "OracleCloud.com\n")],
            "chassis_asset_tag \"OracleCloud.com\"",
        ),
        unknown(
            "unknown-no-dmi",
            "no DMI files at all (a machine without SMBIOS): exit 2",
            &[],
            "DMI names no platform flint knows: sys_vendor \"\", product_name \"\"",
        ),
        Case {
            hint: Some(("akamai", "sys_vendor")),
            line: "flint: warning: args: --platform aws: DMI sys_vendor \"Linode\" names akamai; going on as given",
            ..ok(
                "given-aws-on-linode",
                "--platform aws where DMI says Linode: one warning, and the aws run unchanged",
                &[("sys_vendor", "Linode\n")],
                Given::Id("aws"),
                Platform::Aws,
                "aws",
                "",
                "",
            )
        },
    ]
}

pub const SUITE: Suite = Suite { name: "auto", needs_flint: true, gate: false, run, cases: || all().len() };

fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    crate::support::util::require_root("the --platform auto cases (network and mount namespaces)")?;
    crate::support::deps::ensure()?;
    let flint = runner_ready("the --platform auto cases")?;
    let selected = sel.pick(all(), |c| c.name, "auto case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 24, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let (_, root, logs) = drivecase::case_dirs(dir)?;
    let err = |e: String| vec![e];
    let marker = payloads::new_marker();
    let payload = payloads::ignition_small(&marker);
    let payload_path = logs.join("payload.bin");
    std::fs::write(&payload_path, &payload).map_err(|e| vec![e.to_string()])?;
    let strings = dir.join("dmi");
    std::fs::create_dir_all(&strings).map_err(|e| vec![e.to_string()])?;
    for (name, text) in c.dmi {
        std::fs::write(strings.join(name), text).map_err(|e| vec![e.to_string()])?;
    }
    let keep = dir.join("sys-class");
    std::fs::create_dir_all(&keep).map_err(|e| vec![e.to_string()])?;
    let net = CaseNet::veth(Addressing::Dhcp, true, &logs, |_| {
        let mut o = mock::Options::new(c.mock);
        o.payload = Some(payload_path.clone());
        Ok(Some(o))
    })
    .map_err(err)?;
    let cmdline = logs.join("cmdline");
    let kernel = if c.given == Given::KernelAuto { "quiet flint.platform=auto\n" } else { "quiet\n" };
    std::fs::write(&cmdline, kernel).map_err(|e| vec![e.to_string()])?;
    let mut args: Vec<String> = vec!["--root".into(), root.display().to_string()];
    match c.given {
        Given::Auto => args.extend(["--platform".into(), "auto".into()]),
        Given::Id(id) => args.extend(["--platform".into(), id.into()]),
        Given::KernelAuto => {}
    }
    args.extend(
        ["--cmdline", &cmdline.display().to_string(), "--report", REPORT, "--timeout", &BUDGET.to_string()]
            .map(String::from),
    );
    let script = Some((DMI_SCRIPT, vec![strings.display().to_string(), keep.display().to_string()]));
    let fr = drivecase::run_flint(&net, flint, &args, script, &logs, Duration::from_secs_f64(BUDGET)).map_err(err)?;
    std::thread::sleep(Duration::from_millis(20));
    let log = net.read_log().map_err(err)?;
    let seen = Observed::new(fr, log, &root, dir, None);
    let bad = judge(c, &seen, &root, &payload, &logs, &marker);
    verdict(bad, seen.elapsed, &args, &seen.stderr, &seen.log)
}

/// Every check of the case on what the run left.
fn judge(c: &Case, run: &Observed, root: &Path, payload: &[u8], logs: &Path, marker: &str) -> Vec<String> {
    let mut bad = drivecase::check_exit_and_time(run.exit, run.elapsed, c.exit, BUDGET, None, "");
    bad.extend(check_stderr(&run.stderr, c.exit, (c.exit != 0).then_some("args")));
    bad.extend(check_secrets(logs, &[], marker));
    let lines: Vec<&str> = run.stderr.lines().filter(|l| l.contains("DMI")).collect();
    if lines.len() != 1 || !lines[0].contains(c.line) {
        bad.push(format!("expected one DMI line containing {:?}, saw {lines:?}", c.line));
    }
    let output = std::fs::read(root.join("run/flint/user-data")).ok();
    match c.platform {
        Some(platform) => {
            if output.as_deref() != Some(payload) {
                bad.push("the user-data written is not the mock's payload, byte for byte".into());
            }
            let r = run.report.as_ref().unwrap_or(&Value::Null);
            let want =
                [("platform", Some(platform)), ("dmi_platform", c.hint.map(|h| h.0)), ("dmi_key", c.hint.map(|h| h.1))];
            for (k, v) in want {
                if r[k] != v.map_or(Value::Null, Value::from) {
                    bad.push(format!("report {k} = {}, expected {v:?}", r[k]));
                }
            }
            let user_data = ["/latest/user-data", "/v1/user-data", "/openstack/latest/user_data"];
            if !run.log.iter().any(|e| e.status == 200 && user_data.contains(&e.path.as_str())) {
                bad.push(format!("the {} mock served no user-data", c.mock.as_str()));
            }
        }
        None => {
            if output.is_some() || root.join(rel(REPORT)).exists() {
                bad.push("a usage error left an output or a report".into());
            }
            if !run.log.is_empty() {
                bad.push(format!("{} request(s) reached the mock on a usage error", run.log.len()));
            }
        }
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_cases_consistent() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
        for c in &all {
            assert_eq!(c.exit == 0, c.platform.is_some(), "{}", c.name);
            assert!(!c.line.is_empty() && c.dmi.iter().all(|(n, _)| !n.contains('/')), "{}", c.name);
            if let Some(p) = c.platform {
                assert_eq!(p, c.mock.as_str(), "{}: the mock must be the platform fetched from", c.name);
            }
        }
    }
}
