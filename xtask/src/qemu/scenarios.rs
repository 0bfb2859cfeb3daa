//! `cargo xtask qemu-test [FILTER] [--keep]`: flint in the initramfs of a real Debian kernel
//! with real NIC drivers, one QEMU boot per scenario of `qemu-tests/scenarios.json`.
//!
//! Each scenario names the platform, the payload, the NICs (device model + network) and
//! extra kernel arguments; the harness starts the mock (and dnsmasq / a bridge where the
//! network needs them) in the VM's own namespace, boots, and checks what the init reported:
//! the end marker (the boot went on whatever flint did), the guest's own PASS, flint's exit
//! code, the SHA-256 of the written file against the decoded payload (or "absent"), flint's
//! time within its budget, the report (exit code, interface and its MAC, mode, bytes
//! written, total within the budget), flint's log format, no token or user-data bytes in
//! the log, and on success that the mock served the user-data.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;

use super::net::{TapLink, VmNet};
use super::{Accel, Backend, Boot, Nic, Vm};
use crate::kernel::{self, Kernel};
use crate::mock::{self, Platform};
use crate::proc::ChildGuard;
use crate::{build_task, cleanup, deps, initramfs, netns, payloads, sha256, util};

/// Allowed overrun of flint's budget, measured on the guest's clock around its run.
const SLACK: f64 = 1.5;
const DEFAULT_BOOT_TIMEOUT: f64 = 60.0;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    None,
    /// The example Ignition config (with the marker), served as is (base64 on Akamai).
    Ignition,
    /// ~280 KB of Ignition gzipped under AWS's 16 KB limit (base64(gzip) on Akamai).
    IgnitionGzip,
}

/// Which initramfs a scenario boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    /// The test initramfs of `initramfs.rs` (busybox init runs flint, `qemu-tests/init.sh`).
    Test,
    /// Real dracut with flint's module and Ignition's (`dracut.rs`).
    Dracut,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetKind {
    SlirpMetadata,
    SlirpIsolated,
    Tap(TapLink),
}

#[derive(Clone, Debug)]
pub struct NicSpec {
    pub model: String,
    pub net: NetKind,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub about: String,
    pub image: Image,
    pub platform: Platform,
    pub payload: Payload,
    pub nics: Vec<NicSpec>,
    pub kernel_args: String,
    pub expect_exit: i32,
    pub expect_interface: Option<String>,
    pub expect_mode: Option<String>,
    pub max_flint_seconds: Option<f64>,
    /// The tap NIC must have handed the guest CHECKSUM_PARTIAL TCP frames from the metadata
    /// service (checked in a capture of the NIC), so the CSUMNOTREADY path really ran.
    pub partial_checksums: bool,
    pub boot_timeout: f64,
}

pub fn scenarios_file() -> PathBuf {
    initramfs::qemu_tests_dir().join("scenarios.json")
}

pub fn load() -> Result<Vec<Scenario>, String> {
    let path = scenarios_file();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses and validates the scenario list (unknown keys are errors: a typo must not pass
/// silently as a default).
pub fn parse(text: &str) -> Result<Vec<Scenario>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let list = v.as_array().ok_or("expected a JSON array of scenarios")?;
    let mut out: Vec<Scenario> = Vec::new();
    for item in list {
        let s = parse_one(item).map_err(|e| format!("scenario {}: {e}", item["name"]))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(format!("duplicate scenario name {}", s.name));
        }
        out.push(s);
    }
    Ok(out)
}

fn known_keys(obj: &serde_json::Map<String, Value>, keys: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown key `{k}` (known: {})", keys.join(", "))),
        None => Ok(()),
    }
}

fn parse_one(v: &Value) -> Result<Scenario, String> {
    let obj = v.as_object().ok_or("not an object")?;
    known_keys(obj, &["name", "about", "image", "platform", "payload", "nics", "kernel_args", "expect", "boot_timeout"])?;
    let string = |k: &str| v[k].as_str().map(String::from).ok_or_else(|| format!("`{k}` must be a string"));
    let platform = match string("platform")?.as_str() {
        "aws" => Platform::Aws,
        "akamai" => Platform::Akamai,
        p => return Err(format!("unknown platform `{p}`")),
    };
    let image = match v.get("image").map(|_| string("image")).transpose()?.as_deref() {
        None | Some("test") => Image::Test,
        Some("dracut") => Image::Dracut,
        Some(i) => return Err(format!("unknown image `{i}` (test, dracut)")),
    };
    let payload = match string("payload")?.as_str() {
        "none" => Payload::None,
        "ignition" => Payload::Ignition,
        "ignition-gzip" => Payload::IgnitionGzip,
        p => return Err(format!("unknown payload `{p}` (none, ignition, ignition-gzip)")),
    };
    let mut nics = Vec::new();
    for n in v["nics"].as_array().ok_or("`nics` must be an array")? {
        let o = n.as_object().ok_or("a NIC must be an object")?;
        known_keys(o, &["model", "net"])?;
        let model = n["model"].as_str().ok_or("NIC `model` must be a string")?;
        if !["virtio-net-pci", "e1000", "e1000e"].contains(&model) {
            return Err(format!("NIC model `{model}` has no driver in the initramfs (virtio-net-pci, e1000, e1000e)"));
        }
        let net = match n["net"].as_str().unwrap_or("") {
            "slirp-metadata" => NetKind::SlirpMetadata,
            "slirp-isolated" => NetKind::SlirpIsolated,
            "tap-dhcp" => NetKind::Tap(TapLink::Dhcp),
            "tap-link-local" => NetKind::Tap(TapLink::LinkLocal),
            "tap-silent" => NetKind::Tap(TapLink::Silent),
            other => return Err(format!("unknown net `{other}`")),
        };
        nics.push(NicSpec { model: model.into(), net });
    }
    if nics.is_empty() {
        return Err("no NICs".into());
    }
    let taps = nics.iter().filter(|n| matches!(n.net, NetKind::Tap(_))).count();
    if taps > 1 {
        return Err("at most one tap NIC per scenario".into());
    }
    if v["expect"]["partial_checksums"] == true && (taps == 0 || !nics.iter().any(|n| n.model == "virtio-net-pci")) {
        return Err("expect.partial_checksums needs a virtio-net-pci NIC on a tap network".into());
    }
    let e = v["expect"].as_object().ok_or("`expect` must be an object")?;
    known_keys(e, &["exit", "interface", "mode", "max_flint_seconds", "partial_checksums"])?;
    let kernel_args = v.get("kernel_args").map_or(Ok(String::new()), |_| string("kernel_args"))?;
    if kernel_args.split_whitespace().any(|a| a.starts_with("flint.platform=") || a.starts_with("fxq.")) {
        return Err("kernel_args must not set flint.platform or fxq.* (the harness does)".into());
    }
    Ok(Scenario {
        name: string("name")?,
        about: string("about")?,
        image,
        platform,
        payload,
        nics,
        kernel_args,
        expect_exit: v["expect"]["exit"].as_i64().ok_or("`expect.exit` must be a number")? as i32,
        expect_interface: v["expect"]["interface"].as_str().map(String::from),
        expect_mode: v["expect"]["mode"].as_str().map(String::from),
        max_flint_seconds: v["expect"]["max_flint_seconds"].as_f64(),
        partial_checksums: v["expect"]["partial_checksums"].as_bool().unwrap_or(false),
        boot_timeout: v["boot_timeout"].as_f64().unwrap_or(DEFAULT_BOOT_TIMEOUT),
    })
}

/// What the mock serves and what flint must write.
pub struct Served {
    pub file: Option<Vec<u8>>,
    pub decoded: Option<Vec<u8>>,
}

pub fn payload(p: Payload, marker: &str) -> Served {
    match p {
        Payload::None => Served { file: None, decoded: None },
        Payload::Ignition => {
            let d = payloads::ignition_small(marker);
            Served { file: Some(d.clone()), decoded: Some(d) }
        }
        Payload::IgnitionGzip => {
            let (plain, gz) = payloads::large_gzip(marker);
            Served { file: Some(gz), decoded: Some(plain) }
        }
    }
}

/// The kernel and image every boot of a run uses, and how QEMU accelerates.
pub struct Env {
    pub kernel: Kernel,
    pub initrd: PathBuf,
    pub accel: Accel,
    pub accel_why: String,
    _dir: util::ScratchDir,
}

/// Kernel (cached), a fresh initramfs around `flint`, and the accelerator decision.
pub fn prepare_env(flint: &Path) -> Result<Env, String> {
    let kernel = kernel::ensure()?;
    let dir = util::ScratchDir::new("qemu-image")?;
    let image = initramfs::build(flint, &kernel, &dir.join("initramfs.cpio.gz"))?;
    let (accel, accel_why) = super::accel(&kernel.vmlinux, &image.path);
    Ok(Env { kernel, initrd: image.path, accel, accel_why, _dir: dir })
}

/// A VM's namespace with what its NICs need running in it. Field order is drop order:
/// mock and dnsmasq die before the namespace goes.
pub struct Cloud {
    pub mock: Option<(ChildGuard, mock::Options)>,
    _dnsmasq: Option<ChildGuard>,
    pub net: VmNet,
}

pub fn start_cloud(nets: &[NetKind], platform: Platform, file: Option<&[u8]>, dir: &Path) -> Result<Cloud, String> {
    let net = VmNet::new()?;
    let mut dnsmasq = None;
    if let Some(link) = nets.iter().find_map(|n| if let NetKind::Tap(l) = n { Some(*l) } else { None }) {
        net.add_tap(link)?;
        if link == TapLink::Dhcp {
            dnsmasq = Some(netns::start_dnsmasq(&net.ns, super::net::BRIDGE, dir)?);
        }
    }
    let needs_mock =
        nets.iter().any(|n| matches!(n, NetKind::SlirpMetadata | NetKind::Tap(TapLink::Dhcp | TapLink::LinkLocal)));
    let mock = if needs_mock {
        let mut o = mock::Options::new(platform);
        o.listen = format!("0.0.0.0:{}", super::MOCK_PORT);
        if let Some(bytes) = file {
            let p = dir.join("payload.bin");
            std::fs::write(&p, bytes).map_err(|e| e.to_string())?;
            o.payload = Some(p);
        }
        Some(mock::start_in(&net.ns, &o, dir)?)
    } else {
        None
    };
    Ok(Cloud { mock, _dnsmasq: dnsmasq, net })
}

pub fn nics(specs: &[NetKind], models: &[&str]) -> Vec<Nic> {
    specs
        .iter()
        .zip(models)
        .enumerate()
        .map(|(i, (net, model))| Nic {
            model: model.to_string(),
            mac: super::mac(i),
            backend: match net {
                NetKind::SlirpMetadata => Backend::Slirp { metadata: true },
                NetKind::SlirpIsolated => Backend::Slirp { metadata: false },
                NetKind::Tap(_) => Backend::Tap,
            },
        })
        .collect()
}

/// One passed scenario's numbers.
pub struct Passed {
    pub to_end: f64,
    pub run_init: Option<f64>,
    pub flint: Option<f64>,
    pub summary: String,
}

fn run_one(s: &Scenario, env: &Env, dir: &Path) -> Result<Passed, Vec<String>> {
    let marker = payloads::new_marker();
    let served = payload(s.payload, &marker);
    let nets: Vec<NetKind> = s.nics.iter().map(|n| n.net).collect();
    let cloud = start_cloud(&nets, s.platform, served.file.as_deref(), dir).map_err(|e| vec![e])?;

    let expect_sha = served.decoded.as_deref().filter(|_| s.expect_exit == 0).map_or("absent".to_string(), sha256::hex);
    let budget = super::flint_budget(&s.kernel_args);
    let append = format!(
        "flint.platform={} {} fxq.mode=flint fxq.watchdog={} fxq.expect_exit={} fxq.expect_sha256={expect_sha}",
        s.platform.as_str(),
        s.kernel_args,
        (budget + 30.0).ceil(),
        s.expect_exit,
    );
    let models: Vec<&str> = s.nics.iter().map(|n| n.model.as_str()).collect();
    let vm = Vm {
        vmlinux: &env.kernel.vmlinux,
        initrd: &env.initrd,
        append,
        nics: nics(&nets, &models),
        netns: Some(&cloud.net.ns),
        dir,
        timeout: Duration::from_secs_f64(s.boot_timeout),
        accel: env.accel,
        capture: s.partial_checksums,
        banner_within: None,
    };
    let boot = super::boot(&vm).map_err(|e| vec![e])?;
    std::fs::write(dir.join("qemu-command.txt"), &boot.command).ok();
    // Let the mock finish logging the last request before reading its files.
    std::thread::sleep(Duration::from_millis(20));
    let (log, tokens) = match &cloud.mock {
        Some((_, o)) => (
            o.log.as_deref().map(mock::read_log).transpose().map_err(|e| vec![e])?.unwrap_or_default(),
            o.tokens.as_deref().map(mock::read_tokens).unwrap_or_default(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    drop(cloud);

    let bad = check(s, &boot, &served, &expect_sha, budget, &marker, &tokens, &log, dir);
    let stamps = boot.markers.stamps();
    let flint_s = match (stamps.get("tool-start"), stamps.get("tool-done")) {
        (Some(a), Some(b)) => Some(b - a),
        _ => None,
    };
    if bad.is_empty() {
        let r = boot.markers.report().unwrap_or(Value::Null);
        let mut summary = format!(
            "exit {}, {} {}",
            boot.markers.exit().map_or("-".into(), |c| c.to_string()),
            r["interface"].as_str().unwrap_or("-"),
            r["mode"].as_str().unwrap_or("-"),
        );
        if let Some(n) = s.partial_checksums.then(|| partial_frames(s, dir).ok()).flatten() {
            summary.push_str(&format!(", {n} partial-csum frames"));
        }
        Ok(Passed {
            to_end: boot.to_end.unwrap_or(boot.wall).as_secs_f64(),
            run_init: stamps.get("run-init").copied(),
            flint: flint_s,
            summary,
        })
    } else {
        let mut bad = bad;
        bad.push(format!("qemu: {}", boot.command));
        let logs: Vec<&str> = boot.markers.all("LOG");
        if !logs.is_empty() {
            bad.push(format!("flint stderr:\n{}", util::indent(&logs.join("\n"))));
        }
        if !log.is_empty() {
            let lines: Vec<String> = log.iter().map(|e| e.to_string()).collect();
            bad.push(format!("mock log:\n{}", util::indent(&lines.join("\n"))));
        }
        bad.push(util::indent(&boot.tails()));
        Err(bad)
    }
}

#[allow(clippy::too_many_arguments)]
fn check(
    s: &Scenario,
    boot: &Boot,
    served: &Served,
    expect_sha: &str,
    budget: f64,
    marker: &str,
    tokens: &[String],
    log: &[mock::LogEntry],
    dir: &Path,
) -> Vec<String> {
    let m = &boot.markers;
    let mut bad = Vec::new();
    if boot.timed_out {
        bad.push(format!("no end marker within {:.0} s: QEMU killed", s.boot_timeout));
        return bad;
    }
    if !boot.ended() {
        bad.push(format!("the boot ended without the end marker (QEMU exit {:?})", boot.qemu_exit));
        return bad;
    }
    match m.get("RESULT") {
        Some("PASS") => {}
        other => bad.push(format!("guest result {other:?}, expected PASS")),
    }
    match m.exit() {
        Some(c) if c == s.expect_exit => {}
        other => bad.push(format!("flint exit code {other:?}, expected {}", s.expect_exit)),
    }
    let sha = m.get("SHA256").unwrap_or("-");
    if sha != expect_sha {
        bad.push(format!(
            "output sha256 {sha}, expected {expect_sha} ({} bytes written)",
            m.get("SIZE").unwrap_or("-")
        ));
    }
    let stamps = m.stamps();
    match (stamps.get("tool-start"), stamps.get("tool-done")) {
        (Some(a), Some(b)) if b - a > budget + SLACK => {
            bad.push(format!("flint ran {:.2} s on the guest clock, budget {budget} s (+{SLACK} s)", b - a))
        }
        (Some(a), Some(b)) => {
            if let Some(max) = s.max_flint_seconds.filter(|&max| b - a > max) {
                bad.push(format!("flint ran {:.2} s, expected at most {max} s here", b - a));
            }
        }
        _ => bad.push("no tool-start/tool-done timestamps from the guest".into()),
    }

    // The report.
    let rc = m.exit();
    match m.report() {
        None if rc == Some(2) => {}
        None => bad.push(format!("no readable report: {:?}", m.get("REPORT"))),
        Some(r) => {
            if r["exit_code"].as_i64() != rc.map(i64::from) {
                bad.push(format!("report exit_code {} but flint exited {rc:?}", r["exit_code"]));
            }
            if r["platform"] != s.platform.as_str() {
                bad.push(format!("report platform {}, expected {}", r["platform"], s.platform.as_str()));
            }
            if let Some(want) = &s.expect_interface
                && r["interface"] != want.as_str()
            {
                bad.push(format!("report interface {}, expected {want}", r["interface"]));
            }
            // The MAC must be the one QEMU gave that interface (ethN = NIC N without udev).
            if let Some(i) = r["interface"].as_str().and_then(|n| n.strip_prefix("eth")).and_then(|n| n.parse().ok())
                && !r["mac"].as_str().is_some_and(|mac| mac.eq_ignore_ascii_case(&super::mac(i)))
            {
                bad.push(format!("report mac {} is not eth{i}'s {}", r["mac"], super::mac(i)));
            }
            if let Some(want) = &s.expect_mode
                && r["mode"] != want.as_str()
            {
                bad.push(format!("report mode {}, expected {want}", r["mode"]));
            }
            match r["timings_us"]["total"].as_f64() {
                Some(us) if us / 1e6 > budget + SLACK => {
                    bad.push(format!("report total {:.2} s exceeds the {budget} s budget", us / 1e6))
                }
                Some(_) => {}
                None => bad.push(format!("report timings_us.total = {}", r["timings_us"]["total"])),
            }
            if s.expect_exit == 0 {
                let want = served.decoded.as_ref().map(|d| d.len() as u64);
                if r["bytes"]["written"].as_u64() != want {
                    bad.push(format!("report bytes.written {}, expected {want:?}", r["bytes"]["written"]));
                }
            }
        }
    }

    // flint's log: contract format, no secrets.
    for line in m.all("LOG") {
        if line.contains(marker) {
            bad.push("flint's log contains user-data bytes (the marker)".into());
        }
        if tokens.iter().any(|t| line.contains(&t[..t.len().min(16)])) {
            bad.push("flint's log contains a metadata token".into());
        }
        if !line.starts_with("flint: ") && !line.starts_with("fxq-init: ") {
            bad.push(format!("log line not in `flint: <phase>: …` form: {line:?}"));
        }
        if line.starts_with("fxq-init: ") {
            bad.push(format!("init problem: {line}"));
        }
    }
    if s.expect_exit == 0 && !log.iter().any(|e| e.method == "GET" && e.path.ends_with("/user-data") && e.status == 200)
    {
        bad.push("the mock never served the user-data".into());
    }
    if s.partial_checksums
        && let Err(e) = partial_frames(s, dir)
    {
        bad.push(e);
    }
    bad
}

/// TCP frames with a partial checksum the metadata service sent to the tap NIC.
fn partial_frames(s: &Scenario, dir: &Path) -> Result<usize, String> {
    let i = s.nics.iter().position(|n| matches!(n.net, NetKind::Tap(_))).ok_or("no tap NIC")?;
    let file = dir.join(format!("nic{i}.pcap"));
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    match super::pcap::partial_tcp_from(&bytes, [169, 254, 169, 254])? {
        0 => Err("no CHECKSUM_PARTIAL TCP frame reached the guest: the CSUMNOTREADY path was not exercised".into()),
        n => Ok(n),
    }
}

/// Runs the selected scenarios with `flint`, one line each; returns (passed, failed).
pub fn run_selected(flint: &Path, filter: Option<&str>, keep: bool) -> Result<(usize, usize), String> {
    util::require_root("the QEMU boot tests (network namespaces, tap devices)")?;
    cleanup::remove_stale();
    let selected: Vec<Scenario> = load()?.into_iter().filter(|s| filter.is_none_or(|f| s.name.contains(f))).collect();
    if selected.is_empty() {
        return Err(format!("no QEMU scenario matches {filter:?}"));
    }
    let started = Instant::now();
    let env = prepare_env(flint)?;
    let dracut = match selected.iter().any(|s| s.image == Image::Dracut) {
        true => Some(super::dracut::image(flint, &env.kernel)?),
        false => None,
    };
    println!(
        "qemu: kernel {} ({} {}), PVH vmlinux; accel {} ({}); image {} bytes; prepared in {:.1} s",
        env.kernel.release,
        env.kernel.package,
        env.kernel.version,
        env.accel.name(),
        env.accel_why,
        std::fs::metadata(&env.initrd).map(|m| m.len()).unwrap_or(0),
        started.elapsed().as_secs_f64()
    );
    let (mut passed, mut failed) = (0, 0);
    for s in &selected {
        let mut dir = util::ScratchDir::new(&format!("qemu-{}", s.name))?;
        let t0 = Instant::now();
        let result = match (s.image, &dracut) {
            (Image::Dracut, Some(img)) => super::dracut::run_one(s, &env, img, dir.path()),
            _ => run_one(s, &env, dir.path()),
        };
        match result {
            Ok(p) => {
                passed += 1;
                let opt = |v: Option<f64>, digits: usize| v.map_or("-".into(), |v| format!("{v:.digits$}"));
                println!(
                    "ok   qemu:{:<34} boot→end {:>5.2} s (kernel→/init {} s, flint {} s; {}), run {:>5.2} s  {}",
                    s.name,
                    p.to_end,
                    opt(p.run_init, 2),
                    opt(p.flint, 3),
                    p.summary,
                    t0.elapsed().as_secs_f64(),
                    s.about
                );
                if keep {
                    dir.keep();
                }
            }
            Err(problems) => {
                failed += 1;
                dir.keep();
                util::print_failure(&format!("qemu:{:<34}", s.name), &s.about, &problems, dir.path());
            }
        }
    }
    println!("qemu: {} scenario(s) in {:.1} s", selected.len(), started.elapsed().as_secs_f64());
    Ok((passed, failed))
}

/// `cargo xtask qemu-test [FILTER] [--keep]`
pub fn cli(args: &[String]) -> Result<(), String> {
    let keep = args.iter().any(|a| a == "--keep");
    if let Some(bad) = args.iter().find(|a| a.starts_with("--") && *a != "--keep") {
        return Err(format!("qemu-test: unknown option `{bad}`"));
    }
    let filter = args.iter().find(|a| !a.starts_with("--")).map(String::as_str);
    util::require_root("cargo xtask qemu-test")?;
    deps::ensure_qemu()?;
    let built = build_task::built_or_override()?;
    let (passed, failed) = run_selected(&built.path, filter, keep)?;
    println!("{passed} passed, {failed} failed");
    if failed == 0 { Ok(()) } else { Err(format!("{failed} QEMU scenario(s) failed")) }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_scenarios_parse() {
        let all = load().unwrap();
        assert!(all.len() >= 7, "{}", all.len());
        assert!(all.iter().any(|s| s.nics.len() == 2 && s.expect_interface.as_deref() == Some("eth1")));
        assert!(all.iter().any(|s| s.nics.iter().any(|n| n.net == NetKind::Tap(TapLink::LinkLocal))));
    }

    #[test]
    fn typos_are_errors() {
        let ok = r#"[{"name":"a","about":"b","platform":"aws","payload":"none",
            "nics":[{"model":"e1000","net":"tap-dhcp"}],"expect":{"exit":3}}]"#;
        assert_eq!(parse(ok).unwrap()[0].expect_exit, 3);
        for (from, to) in [
            ("\"payload\"", "\"paylaod\""),
            ("e1000\"", "rtl8139\""),
            ("tap-dhcp", "tap-dchp"),
            ("\"exit\"", "\"exit_code\""),
        ] {
            assert!(parse(&ok.replace(from, to)).is_err(), "{from} -> {to} accepted");
        }
        let two_taps = ok.replace(
            r#"{"model":"e1000","net":"tap-dhcp"}"#,
            r#"{"model":"e1000","net":"tap-dhcp"},{"model":"e1000","net":"tap-silent"}"#,
        );
        assert!(parse(&two_taps).unwrap_err().contains("tap"));
    }
}
