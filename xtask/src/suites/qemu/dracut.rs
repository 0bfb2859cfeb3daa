//! The dracut boots of the QEMU suite (`"image": "dracut"` in `qemu-tests/scenarios.json`):
//! the image of `harness/dracut.rs` booted with `ignition.firstboot ignition.platform.id=metal
//! flint.platform=<platform>`. Ignition's generator pulls in `ignition-complete.target` (and
//! through it flint.service), Ignition itself looks only at local sources (metal), and flint
//! must prefer its own `flint.platform=` over `ignition.platform.id=`.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

use serde_json::Value;

use super::table::{Passed, Platform, Scenario};
use crate::harness::qemu::cloud::{self, Env, NetKind};
use crate::harness::qemu::{self as vm, Boot, Markers, Vm};
use crate::harness::report;
use crate::mock::payloads;
use crate::support::{sha256, util};

/// `systemctl show` properties of the units the guest reports (`FXQ:UNIT <name> K=V …`).
fn units(m: &Markers) -> BTreeMap<String, BTreeMap<String, String>> {
    m.all("UNIT")
        .into_iter()
        .filter_map(|l| {
            let (name, props) = l.split_once(' ')?;
            let map = props.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.into(), v.into()));
            Some((name.to_string(), map.collect()))
        })
        .collect()
}

/// What one dracut boot must show. `served`: the bytes the mock served (for the report's `gzip`);
/// `decoded`: the config the mock served (when flint is
/// expected to write it); `marker`: the payload's marker, which the Ignition cache must hold.
pub fn check(
    s: &Scenario,
    boot: &Boot,
    served: Option<&[u8]>,
    decoded: Option<&[u8]>,
    marker: &str,
    tokens: &[String],
) -> Vec<String> {
    let m = &boot.markers;
    let mut bad = Vec::new();
    if boot.timed_out || !boot.ended() {
        bad.push(format!("no report from the guest within {:.0} s (QEMU exit {:?})", s.boot_timeout, boot.qemu_exit));
        return bad;
    }
    if m.get("MODE") != Some("dracut") {
        bad.push(format!("the boot went to emergency mode (report from {:?})", m.get("MODE")));
    }
    let u = units(m);
    let prop = |unit: &str, k: &str| u.get(unit).and_then(|p| p.get(k)).map(String::as_str).unwrap_or("-");
    let num = |unit: &str, k: &str| prop(unit, k).parse::<u64>().unwrap_or(0);

    // flint ran, exited as expected, and its unit succeeded whatever the exit code (fail-open).
    if num("flint", "ExecMainStartTimestampMonotonic") == 0 {
        bad.push("flint.service never ran".into());
    }
    if prop("flint", "ExecMainCode") != "1" || m.exit() != Some(s.expect_exit) {
        bad.push(format!(
            "flint exit {:?} (ExecMainCode {}), expected exit {}",
            m.exit(),
            prop("flint", "ExecMainCode"),
            s.expect_exit
        ));
    }
    if prop("flint", "Result") != "success" {
        bad.push(format!("flint.service result {}: it must never fail the boot", prop("flint", "Result")));
    }
    // Ordering: flint had exited before Ignition's first stage started.
    let flint_done = num("flint", "ExecMainExitTimestampMonotonic");
    let fo_start = num("fetch-offline", "ExecMainStartTimestampMonotonic");
    if fo_start == 0 || prop("fetch-offline", "Result") != "success" || prop("fetch-offline", "ExecMainStatus") != "0" {
        bad.push(format!(
            "ignition-fetch-offline did not run to success: {:?}\n{}",
            u.get("fetch-offline"),
            util::indent(&m.all("IGNLOG").join("\n"))
        ));
    } else if flint_done == 0 || flint_done > fo_start {
        bad.push(format!("flint exited at {flint_done} µs, after ignition-fetch-offline started at {fo_start} µs"));
    }
    if prop("fetch", "ExecMainStartTimestampMonotonic") != "0" {
        bad.push("ignition-fetch.service (the online stage) ran".into());
    }
    if m.get("NEEDNET") != Some("absent") {
        bad.push(format!("/run/ignition/neednet is {:?}: Ignition asked for the network", m.get("NEEDNET")));
    }

    // The hand-off: user.ign is the served config byte for byte, and Ignition's cache holds it.
    let want = decoded.map_or("absent".to_string(), sha256::hex);
    for key in ["SHA256", "SHA256_RUN"] {
        if m.get(key) != Some(want.as_str()) {
            bad.push(format!("{key} of user.ign {:?}, expected {want}", m.get(key)));
        }
    }
    let cache = m.get("CACHE").filter(|c| *c != "absent").and_then(|c| {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(c.trim()).ok()?;
        serde_json::from_slice::<Value>(&bytes).ok()
    });
    let holds_marker = |c: &Value| {
        c["storage"]["files"].as_array().is_some_and(|files| {
            files.iter().any(|f| f["contents"]["source"].as_str() == Some(format!("data:,{marker}").as_str()))
        })
    };
    match (&cache, decoded.is_some()) {
        (None, _) => bad.push("Ignition wrote no /run/ignition.json".into()),
        (Some(c), true) if !holds_marker(c) => {
            bad.push(format!("Ignition's cached config lacks the served config's marker file: {c}"))
        }
        (Some(c), false) if holds_marker(c) => bad.push("Ignition's cache holds a config nobody served".into()),
        _ => {}
    }

    // No kernel network bring-up: flint's address lived only in flint.
    for a in m.all("ADDR") {
        if !a.contains("inet 127.") {
            bad.push(format!("the kernel has an IPv4 address: {a}"));
        }
    }
    for r in m.all("ROUTE") {
        bad.push(format!("the kernel has a route: {r}"));
    }
    // flint lowers every interface it raised (docs/contract.md, side effects).
    for l in m.all("LINK") {
        let flags = l.split_once('<').and_then(|(_, r)| r.split_once('>')).map_or("", |(f, _)| f);
        if !l.contains(" lo:") && flags.split(',').any(|f| f == "UP") {
            bad.push(format!("a NIC was left up: {l}"));
        }
    }

    // flint's choice of platform and its report.
    if !m.get("IGNITION_ENV").is_some_and(|e| e.contains("PLATFORM_ID=metal")) {
        bad.push(format!("Ignition's platform is not metal: {:?}", m.get("IGNITION_ENV")));
    }
    match m.report() {
        None => bad.push(format!("no flint report: {:?}", m.get("REPORT"))),
        Some(r) => {
            if r["platform"] != s.platform.as_str() {
                bad.push(format!(
                    "flint used platform {} (flint.platform={} must win)",
                    r["platform"],
                    s.platform.as_str()
                ));
            }
            // exit_code against flint's own exit, failed_phase and gzip against the scenario.
            let exit = m.exit().unwrap_or(-1);
            let phase = report::FailedPhase::for_exit(exit, s.expect_failed_phase.as_deref());
            bad.extend(report::check_outcome(&r, exit, phase, report::expected_gzip(exit, served)));
            // A NIC flint used (a platform with a metadata service) is the VM's first.
            if s.platform.mock().is_some()
                && !s.nics.is_empty()
                && !r["mac"].as_str().is_some_and(|mac| mac.eq_ignore_ascii_case(&vm::mac(0)))
            {
                bad.push(format!("report mac {}, expected the VM's NIC {}", r["mac"], vm::mac(0)));
            }
            if let Some(want) = &s.expect_source
                && r["source"] != want.as_str()
            {
                bad.push(format!("report source {}, expected {want}", r["source"]));
            }
        }
    }
    // Platform qemu: udev loaded qemu_fw_cfg before flint started (fxq-fwcfg.service, ordered
    // right before flint.service, saw the driver's directory). The image holds the module
    // twice over: flint's module installs it, and so does dracut's 90qemu, which Ignition's
    // module depends on (a boot without flint's `instmods qemu_fw_cfg` passes too: tried).
    if s.platform == Platform::Qemu {
        if !m.get("MODULES").is_some_and(|l| l.split_whitespace().any(|n| n == "qemu_fw_cfg")) {
            bad.push(format!("qemu_fw_cfg is not loaded: modules {:?}", m.get("MODULES")));
        }
        if m.get("FWCFG_AT_FLINT_START") != Some("present") {
            bad.push(format!(
                "qemu_fw_cfg's sysfs directory when flint started: {:?}, expected present",
                m.get("FWCFG_AT_FLINT_START")
            ));
        }
    }
    let logs = m.all("LOG");
    for want in &s.expect_log {
        if !logs.iter().any(|l| l.contains(want.as_str())) {
            bad.push(format!("no line of flint's log contains {want:?}"));
        }
    }
    if logs.is_empty() {
        bad.push("flint logged nothing to the journal".into());
    }
    for line in logs {
        if !line.starts_with("flint: ") {
            bad.push(format!("flint log line not in `flint: <phase>: …` form: {line:?}"));
        }
        if line.contains(marker) || tokens.iter().any(|t| line.contains(&t[..t.len().min(16)])) {
            bad.push("flint's log holds user-data bytes or a token".into());
        }
    }
    bad
}

/// Kernel arguments of a dracut boot: Ignition's first boot on metal, flint told its platform.
pub fn kernel_args(s: &Scenario) -> String {
    format!(
        "ignition.firstboot ignition.platform.id=metal flint.platform={} {} systemd.show_status=1",
        s.platform.as_str(),
        s.kernel_args
    )
}

/// One dracut scenario against the mock in its own namespace.
pub fn run_one(s: &Scenario, env: &Env, image: &Path, dir: &Path) -> Result<Passed, Vec<String>> {
    let marker = payloads::new_marker();
    let served = cloud::payload(s.payload, &marker);
    let nets: Vec<NetKind> = s.nics.iter().map(|n| n.net).collect();
    let cloud = cloud::start_cloud(&nets, s.platform.mock(), served.file.as_deref(), dir).map_err(|e| vec![e])?;
    let models: Vec<&str> = s.nics.iter().map(|n| n.model.as_str()).collect();
    let (disks, _) = super::media::disks(s, &served, dir).map_err(|e| vec![e])?;
    let vm = Vm {
        machine: s.machine,
        vmlinux: &env.kernel.vmlinux,
        initrd: image,
        append: kernel_args(s),
        nics: cloud::nics(&nets, &models),
        netns: Some(&cloud.net.ns),
        dir,
        timeout: Duration::from_secs_f64(s.boot_timeout),
        accel: env.accel,
        capture: false,
        banner_within: None,
        disks,
        fw_cfg: super::media::fw_cfg(s, &served, dir).map_err(|e| vec![e])?,
        smbios: s.smbios.clone(),
        forwards: Vec::new(),
        rdrand: s.rdrand,
    };
    let (boot, log, tokens) = cloud::boot_in(&vm, &cloud, dir)?;
    drop(cloud);
    let decoded = served.decoded.as_deref().filter(|_| s.expect_exit == 0);
    let mut bad = check(s, &boot, served.file.as_deref(), decoded, &marker, &tokens);
    if decoded.is_some()
        && s.platform.mock().is_some()
        && !log.iter().any(|e| e.method == "GET" && e.path.ends_with("/user-data") && e.status == 200)
    {
        bad.push("the mock never served the user-data".into());
    }
    if !bad.is_empty() {
        bad.push(format!("qemu: {}", boot.command));
        bad.push(util::indent(&boot.tails()));
        return Err(bad);
    }
    let u = units(&boot.markers);
    let at =
        |unit: &str, k: &str| u.get(unit).and_then(|p| p.get(k)).and_then(|v| v.parse::<f64>().ok()).map(|v| v / 1e6);
    let flint = match (at("flint", "ExecMainStartTimestampMonotonic"), at("flint", "ExecMainExitTimestampMonotonic")) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    Ok(Passed {
        to_end: boot.to_end.unwrap_or(boot.wall).as_secs_f64(),
        // The kernel's own "Run /init" line on the console (the guest clock).
        run_init: boot
            .console
            .lines()
            .find(|l| l.contains("Run /init"))
            .and_then(|l| l.trim_start().strip_prefix('[')?.split_once(']')?.0.trim().parse().ok()),
        flint,
        summary: format!(
            "exit {}, flint done at {:.2} s, fetch-offline started at {:.2} s",
            boot.markers.exit().map_or("-".into(), |c| c.to_string()),
            at("flint", "ExecMainExitTimestampMonotonic").unwrap_or(0.0),
            at("fetch-offline", "ExecMainStartTimestampMonotonic").unwrap_or(0.0),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;

    const MARKER: &str = "FLINTMARK-0123456789abcdef";
    const CONFIG: &[u8] = b"{\"ignition\":{\"version\":\"3.3.0\"}}\n";

    fn scenario(exit: i32) -> Scenario {
        let json = format!(
            r#"[{{"name":"d","about":"a","image":"dracut","platform":"aws","payload":"ignition-3.3",
                "nics":[{{"model":"virtio-net-pci","net":"slirp-metadata"}}],"expect":{{"exit":{exit}}}}}]"#
        );
        super::super::table::parse(&json).unwrap().remove(0)
    }

    /// The markers of a good boot (shaped like a real one), with `edit` applied to the text.
    fn boot(edit: impl Fn(String) -> String) -> Boot {
        let cache = format!(
            r#"{{"storage":{{"files":[{{"path":"/etc/flint/marker","contents":{{"source":"data:,{MARKER}"}}}}]}}}}"#
        );
        let text = format!(
            "FXQ:BEGIN\nFXQ:MODE dracut\n\
             FXQ:UNIT flint Result=success ExecMainStartTimestampMonotonic=10638000 ExecMainExitTimestampMonotonic=10924000 ExecMainCode=1 ExecMainStatus=0 ActiveState=active \n\
             FXQ:UNIT fetch-offline Result=success ExecMainStartTimestampMonotonic=10960000 ExecMainExitTimestampMonotonic=11900000 ExecMainCode=1 ExecMainStatus=0 ActiveState=active \n\
             FXQ:UNIT fetch Result=success ExecMainStartTimestampMonotonic=0 ExecMainExitTimestampMonotonic=0 ExecMainCode=0 ExecMainStatus=0 ActiveState=inactive \n\
             FXQ:EXIT 0\nFXQ:SHA256 {sha}\nFXQ:SHA256_RUN {sha}\nFXQ:NEEDNET absent\nFXQ:IGNITION_ENV PLATFORM_ID=metal \n\
             FXQ:REPORT {{\"platform\":\"aws\",\"exit_code\":0,\"failed_phase\":null,\"mac\":\"02:f1:17:51:00:01\",\"gzip\":false}}\n\
             FXQ:ADDR 1: lo    inet 127.0.0.1/8 scope host lo\\       valid_lft forever preferred_lft forever\n\
             FXQ:LINK 1: lo: <LOOPBACK,UP,LOWER_UP> mtu 65536 qdisc noqueue state UNKNOWN\n\
             FXQ:LINK 2: eth0: <BROADCAST,MULTICAST> mtu 1500 qdisc fq_codel state DOWN\n\
             FXQ:LOG flint: link: eth0 up, carrier after 1059 us, mtu 1500\n\
             FXQ:CACHE {b64}\nFXQ:END\n",
            sha = sha256::hex(CONFIG),
            b64 = base64::engine::general_purpose::STANDARD.encode(cache),
        );
        Boot {
            markers: Markers::parse(&edit(text)),
            console: String::new(),
            qemu_log: String::new(),
            to_end: Some(Duration::from_secs(14)),
            wall: Duration::from_secs(15),
            qemu_exit: Some(0),
            timed_out: false,
            command: String::new(),
        }
    }

    fn problems(edit: impl Fn(String) -> String) -> Vec<String> {
        check(&scenario(0), &boot(edit), Some(CONFIG), Some(CONFIG), MARKER, &[])
    }

    #[test]
    fn a_good_boot_passes() {
        assert_eq!(problems(|t| t), Vec::<String>::new());
    }

    #[test]
    fn each_broken_promise_is_caught() {
        let cases: &[(&str, &str, &str)] = &[
            (
                "ExecMainExitTimestampMonotonic=10924000",
                "ExecMainExitTimestampMonotonic=10990000",
                "after ignition-fetch-offline",
            ),
            ("MODE dracut", "MODE emergency", "emergency"),
            ("NEEDNET absent", "NEEDNET present", "neednet"),
            ("FXQ:LINK 2", "FXQ:ADDR 2: eth0    inet 169.254.2.15/16 scope global eth0\nFXQ:LINK 2", "IPv4 address"),
            ("<BROADCAST,MULTICAST>", "<BROADCAST,MULTICAST,UP,LOWER_UP>", "left up"),
            (
                "Result=success ExecMainStartTimestampMonotonic=10638000",
                "Result=exit-code ExecMainStartTimestampMonotonic=10638000",
                "never fail the boot",
            ),
            ("\"platform\":\"aws\"", "\"platform\":\"metal\"", "must win"),
            ("FXQ:SHA256 ", "FXQ:SHA256 0", "SHA256 of user.ign"),
            ("FXQ:LOG flint: link", "FXQ:LOG link", "form"),
            ("PLATFORM_ID=metal", "PLATFORM_ID=aws", "not metal"),
        ];
        for (from, to, want) in cases {
            let bad = problems(|t| t.replacen(from, to, 1));
            assert!(bad.iter().any(|b| b.contains(want)), "{from} -> {to}: {bad:?}");
        }
        let bad = problems(|t| t.lines().filter(|l| !l.starts_with("FXQ:CACHE")).collect::<Vec<_>>().join("\n"));
        assert!(bad.iter().any(|b| b.contains("/run/ignition.json")), "{bad:?}");
        let bad = check(&scenario(0), &boot(|t| t), Some(CONFIG), Some(CONFIG), "FLINTMARK-other", &[]);
        assert!(bad.iter().any(|b| b.contains("marker")), "{bad:?}");
    }

    #[test]
    fn qemu_fw_cfg_checks() {
        let json = r#"[{"name":"d","about":"a","image":"dracut","platform":"qemu","payload":"ignition-3.3",
            "nics":[],"fw_cfg":true,"expect":{"exit":0,"source":"drive","log":["fw_cfg items in"]}}]"#;
        let s = super::super::table::parse(json).unwrap().remove(0);
        let good = |t: String| {
            t.replace("\"platform\":\"aws\"", "\"platform\":\"qemu\",\"source\":\"drive\"")
                .replace("\"mac\":\"02:f1:17:51:00:01\"", "\"mac\":null")
                .replace(
                    "FXQ:LOG flint: link: eth0 up, carrier after 1059 us, mtu 1500\n",
                    "FXQ:LOG flint: drive: fw_cfg items in /sys/firmware/qemu_fw_cfg/by_name\n\
                     FXQ:FWCFG_AT_FLINT_START present\nFXQ:MODULES ata_piix qemu_fw_cfg autofs4\n",
                )
        };
        let problems = |edit: &dyn Fn(String) -> String| {
            check(&s, &boot(|t| edit(good(t))), Some(CONFIG), Some(CONFIG), MARKER, &[])
        };
        assert_eq!(problems(&|t| t), Vec::<String>::new());
        for (from, to, want) in [
            ("FWCFG_AT_FLINT_START present", "FWCFG_AT_FLINT_START absent", "when flint started"),
            (" qemu_fw_cfg autofs4", " autofs4", "not loaded"),
            ("fw_cfg items in", "no fw_cfg in", "log"),
            ("\"source\":\"drive\"", "\"source\":\"service\"", "source"),
        ] {
            let bad = problems(&|t| t.replacen(from, to, 1));
            assert!(bad.iter().any(|b| b.contains(want)), "{from} -> {to}: {bad:?}");
        }
    }
}
