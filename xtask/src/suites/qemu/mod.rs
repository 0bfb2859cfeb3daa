//! `cargo xtask qemu-test [FILTER] [--keep]`: flint in the initramfs of a real Debian kernel
//! with real NIC drivers, one QEMU boot per scenario of `qemu-tests/scenarios.json`.
//!
//! Each scenario names the platform, the payload, the NICs (device model + network) and
//! extra kernel arguments; the harness starts the mock (and dnsmasq / a bridge where the
//! network needs them) in the VM's own namespace, boots, and checks what the init reported:
//! the end marker (the boot went on whatever flint did), the guest's own PASS, flint's exit
//! code, the SHA-256 of the written file against the decoded payload (or "absent"), flint's
//! time within its budget, the report (exit code, interface and its MAC, mode, `source`, bytes
//! written, total within the budget), flint's log format, no token or user-data bytes in
//! the log, and on success that the mock served the user-data (unless a config drive, attached
//! as an IDE CD-ROM or a virtio-blk disk, was the source, or the platform has no service).
//!
//! Platforms without a metadata service: `proxmoxve` (Proxmox VE's `cidata` ISO in its `ide2`
//! CD-ROM slot, on a segment without DHCP) and `qemu` (the `opt/com.coreos/config` fw_cfg
//! item). Their boots also ask for the hand-offs and check every file flint left
//! (`handoff.rs`), lines flint must have logged (the drive it found), and, on a tap NIC, that
//! the guest sent not a single frame.
//!
//! CAPL's pointer (`capl.rs`, issue #13): the Akamai user-data is `#include` of a presigned
//! https URL to a real S3 store started in the VM's namespace; the boot must write the object.

use std::path::Path;
use std::time::{Duration, Instant};

use serde_json::Value;

mod capl;
mod dracut;
mod handoff;
mod media;
mod table;

use crate::harness::dracut as harness_dracut;
use crate::harness::qemu::cloud::{self, Env, NetKind, Payload, Served};
use crate::harness::qemu::net::{self as qnet, TapLink};
use crate::harness::qemu::{self as vm, Boot, Vm, cidata, pcap};
use crate::harness::report;
use crate::harness::tally::{Selection, Suite, Tally};
use crate::mock::{self, payloads};
use crate::support::{cleanup, deps, sha256, util};

use table::{AddrWant, Image, Passed, Platform, Scenario, load};

pub const SUITE: Suite =
    Suite { name: "qemu-tests", needs_flint: true, gate: false, run, cases: || load().map_or(1, |s| s.len()) };

/// Allowed overrun of flint's budget, measured on the guest's clock around its run.
const SLACK: f64 = 1.5;
fn run_one(s: &Scenario, env: &Env, dir: &Path) -> Result<Passed, Vec<String>> {
    let marker = payloads::new_marker();
    let nets: Vec<NetKind> = s.nics.iter().map(|n| n.net).collect();
    // The CAPL boot: the object store first, in the VM's namespace, as the pointer needs its URL.
    let net = qnet::VmNet::new().map_err(|e| vec![e])?;
    let mut store = match s.payload {
        Payload::CaplIncludeHttps => Some(capl::start(&net.ns, &env.initrd, &marker, dir).map_err(|e| vec![e])?),
        _ => None,
    };
    let served = match &mut store {
        Some(c) => std::mem::replace(&mut c.served, Served { file: None, decoded: None }),
        None => cloud::payload(s.payload, &marker),
    };
    let keep = store.as_mut().map(|c| std::mem::take(&mut c.guards)).unwrap_or_default();
    let cloud = cloud::start_cloud_on(
        net,
        keep,
        &nets,
        s.platform.mock(),
        served.file.as_deref(),
        dir,
        s.platform.mock_knobs(),
    )
    .map_err(|e| vec![e])?;
    let sigv4_before =
        store.as_ref().map_or(0, |c| std::fs::read_to_string(&c.sigv4_log).unwrap_or_default().lines().count());
    let (disks, proxmox) = media::disks(s, &served, dir).map_err(|e| vec![e])?;
    let fw_cfg = media::fw_cfg(s, &served, dir).map_err(|e| vec![e])?;

    // The output is complete on exit 0 and on exit 7 (user-data that is not an Ignition config).
    let complete = matches!(s.expect_exit, 0 | 7);
    let expect_sha = served.decoded.as_deref().filter(|_| complete).map_or("absent".to_string(), sha256::hex);
    let budget = vm::flint_budget(&s.kernel_args);
    let mut append = format!(
        "{} {} {} fxq.mode=flint fxq.watchdog={} fxq.expect_exit={} fxq.expect_sha256={expect_sha}",
        s.platform_kernel_arg(),
        s.kernel_args,
        handoff::kernel_args(&s.handoff),
        (budget + 30.0).ceil(),
        s.expect_exit,
    );
    if !s.late_modules.is_empty() {
        append.push_str(&format!(" fxq.late_modules={}", s.late_modules.join(",")));
    }
    if store.is_some() {
        append.push_str(&format!(" flint.ca-bundle={}", capl::CA_PATH));
    }
    let models: Vec<&str> = s.nics.iter().map(|n| n.model.as_str()).collect();
    let vm = Vm {
        machine: s.machine,
        vmlinux: &env.kernel.vmlinux,
        initrd: store.as_ref().map_or(&env.initrd, |c| &c.initrd),
        append,
        nics: cloud::nics(&nets, &models),
        netns: Some(&cloud.net.ns),
        dir,
        timeout: Duration::from_secs_f64(s.boot_timeout),
        accel: env.accel,
        capture: s.capture(),
        banner_within: None,
        disks,
        fw_cfg,
        smbios: s.smbios.clone(),
        forwards: store.iter().map(|_| capl::forward()).collect(),
        rdrand: s.rdrand,
    };
    let (boot, log, tokens) = cloud::boot_in(&vm, &cloud, dir)?;
    let dropped = match nets.contains(&NetKind::Tap(TapLink::DualStackV6Dropped)) {
        true => qnet::dropped_packets(&cloud.net.ns),
        false => None,
    };
    drop(cloud);

    let mut bad = check(s, &boot, &served, proxmox.as_ref(), &expect_sha, budget, &marker, &tokens, &log, dir);
    // The object came from the store, through its signature check, during this boot.
    if let Some(c) = &store
        && s.expect_exit == 0
        && !capl::served_since(&std::fs::read_to_string(&c.sigv4_log).unwrap_or_default(), sigv4_before)
    {
        bad.push(format!("the object store never served the object during the boot ({})", c.sigv4_log.display()));
    }
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
        if let Some(e) = r["endpoint"].as_str() {
            summary.push_str(&format!(", endpoint {e}"));
        }
        if let Some(Ok(w)) = s.v4_wins_within.map(|_| he_race(s, dir)) {
            summary.push_str(&format!(", IPv4 answered {:.0} ms after the first SYN", w.answer_after * 1e3));
            match w.v6_syn_first {
                true => summary.push_str(" (IPv6 tried first)"),
                false => summary.push_str(" (IPv6 not tried)"),
            }
        }
        if let Some(n) = dropped {
            summary.push_str(&format!(", {n} dropped"));
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
    proxmox: Option<&cidata::Drive>,
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
    // A late driver: its device can only have appeared after flint started.
    if !s.late_modules.is_empty() {
        match (stamps.get("tool-start"), stamps.get("late-modules")) {
            (Some(a), Some(b)) if b > a => {}
            (a, b) => bad
                .push(format!("late modules stamped at {b:?}, flint started at {a:?}: not loaded after flint started")),
        }
    }

    // The report.
    let rc = m.exit();
    match m.report() {
        None if rc == Some(2) => {}
        None => bad.push(format!("no readable report: {:?}", m.get("REPORT"))),
        Some(r) => {
            // exit_code against flint's own exit, failed_phase and gzip against the scenario.
            let exit = rc.unwrap_or(-1);
            let phase = report::FailedPhase::for_exit(exit, s.expect_failed_phase.as_deref());
            bad.extend(report::check_outcome(&r, exit, phase, report::expected_gzip(exit, served.file.as_deref())));
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
                && !r["mac"].as_str().is_some_and(|mac| mac.eq_ignore_ascii_case(&vm::mac(i)))
            {
                bad.push(format!("report mac {} is not eth{i}'s {}", r["mac"], vm::mac(i)));
            }
            if let Some(want) = &s.expect_mode
                && r["mode"] != want.as_str()
            {
                bad.push(format!("report mode {}, expected {want}", r["mode"]));
            }
            if let Some(want) = &s.expect_source
                && r["source"] != want.as_str()
            {
                bad.push(format!("report source {}, expected {want}", r["source"]));
            }
            if s.nics.is_empty() && !(r["interface"].is_null() && r["mode"] == "none") {
                bad.push(format!("report interface {} mode {} on a VM without a NIC", r["interface"], r["mode"]));
            }
            match r["timings_us"]["total"].as_f64() {
                Some(us) if us / 1e6 > budget + SLACK => {
                    bad.push(format!("report total {:.2} s exceeds the {budget} s budget", us / 1e6))
                }
                Some(_) => {}
                None => bad.push(format!("report timings_us.total = {}", r["timings_us"]["total"])),
            }
            if matches!(s.expect_exit, 0 | 7) {
                let want = served.decoded.as_ref().map(|d| d.len() as u64);
                if r["bytes"]["written"].as_u64() != want {
                    bad.push(format!("report bytes.written {}, expected {want:?}", r["bytes"]["written"]));
                }
            }
            bad.extend(dual_stack_report(s, &r, log));
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
    for want in &s.expect_log {
        if !m.all("LOG").iter().any(|l| l.contains(want.as_str())) {
            bad.push(format!("no line of flint's log contains {want:?}"));
        }
    }
    // Scaleway's key/value store: `/user_data/cloud-init`.
    let user_data = |p: &str| p.ends_with("/user-data") || p.ends_with("/user_data") || p.starts_with("/user_data/");
    // Scaleway answers user data only to source ports below 1024: check flint's ports too.
    if s.platform == Platform::Service(mock::Platform::Scaleway) {
        for e in log.iter().filter(|e| e.path.starts_with("/user_data")) {
            if e.peer_port.is_none_or(|p| p >= 1024) {
                bad.push(format!("Scaleway user data asked from source port {:?}: {e}", e.peer_port));
            }
        }
    }
    if s.expect_exit == 0
        && s.platform.mock().is_some()
        && s.expect_source.as_deref() != Some("drive")
        && !log.iter().any(|e| e.method == "GET" && user_data(&e.path) && e.status == 200)
    {
        bad.push("the mock never served the user-data".into());
    }
    if s.partial_checksums
        && let Err(e) = partial_frames(s, dir)
    {
        bad.push(e);
    }
    if s.no_ipv4_frames {
        match guest_ipv4_frames(s, dir) {
            Ok((0, _)) => bad.push("the capture holds no IPv6 frame from the guest: it saw nothing of the run".into()),
            Ok((_, v4)) if v4.is_empty() => {}
            Ok((_, v4)) => bad.push(format!(
                "the guest sent {} IPv4/ARP frame(s) on its tap NIC (flint.family=ipv6), the first at +{:.3} s: {}",
                v4.len(),
                v4[0].0,
                v4[0].1
            )),
            Err(e) => bad.push(e),
        }
    }
    if let Some(within) = s.v4_wins_within {
        match he_race(s, dir) {
            Ok(w) if w.answer_after <= within => {}
            Ok(w) => bad.push(format!(
                "the service's first answer over IPv4 came {:.0} ms after the guest's first SYN, expected within {:.0} ms ({})",
                w.answer_after * 1e3,
                within * 1e3,
                w.detail
            )),
            Err(e) => bad.push(e),
        }
        // flint's own clock: the token exchange, from its first connection attempt (either
        // family) to the answer.
        if let Some(r) = m.report()
            && let Some(us) = r["timings_us"]["token"].as_f64()
            && us / 1e6 > within
        {
            bad.push(format!("report timings_us.token {:.0} ms, expected within {:.0} ms", us / 1e3, within * 1e3));
        }
    }
    if s.v6_first_wins {
        let endpoint = m.report().and_then(|r| r["endpoint"].as_str().map(String::from));
        match first_syn_and_ns(s, dir) {
            Ok(w) if w.first_syn_v6 && endpoint.as_deref() != Some(&format!("[{}]:80", qnet::AWS6)) => bad.push(format!(
                "IPv6 lost on a link where it works: the guest's first SYN went to [{}]:80, the report's endpoint is {endpoint:?}; {}",
                qnet::AWS6,
                w.detail
            )),
            Ok(_) => {}
            Err(e) => bad.push(e),
        }
    }
    if s.guest_silent {
        match guest_frames(s, dir) {
            Ok(0) => {}
            Ok(n) => bad.push(format!("the guest sent {n} frame(s) on its tap NIC: flint used the network")),
            Err(e) => bad.push(e),
        }
    }
    // The hand-offs, file by file.
    if !s.handoff.is_empty() {
        let given = handoff::Given { user_data: served.decoded.as_deref(), drive: proxmox };
        match (handoff::dumped(m), handoff::wanted(s, &given)) {
            (Ok(got), Ok(want)) => bad.extend(handoff::check(&got, &want)),
            (Err(e), _) | (_, Err(e)) => bad.push(e),
        }
    }
    bad
}

/// TCP frames with a partial checksum the metadata service sent to the tap NIC.
fn partial_frames(s: &Scenario, dir: &Path) -> Result<usize, String> {
    let i = s.nics.iter().position(|n| matches!(n.net, NetKind::Tap(_))).ok_or("no tap NIC")?;
    let file = dir.join(format!("nic{i}.pcap"));
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    match pcap::partial_tcp_from(&bytes, [169, 254, 169, 254])? {
        0 => Err("no CHECKSUM_PARTIAL TCP frame reached the guest: the CSUMNOTREADY path was not exercised".into()),
        n => Ok(n),
    }
}

/// The report's issue-#11 fields against the scenario: `endpoint`, `addresses` (and the
/// user-data request came from one of them), `dns_servers`, `search`, and the `Host` the mock
/// saw. Nothing when the scenario expects none of them.
fn dual_stack_report(s: &Scenario, r: &Value, log: &[mock::LogEntry]) -> Vec<String> {
    use std::net::IpAddr;
    let mut bad = Vec::new();
    if !s.expect_endpoint.is_empty()
        && !r["endpoint"].as_str().is_some_and(|e| s.expect_endpoint.iter().any(|w| w == e))
    {
        bad.push(format!("report endpoint {}, expected one of {:?}", r["endpoint"], s.expect_endpoint));
    }
    let list = |k: &str| -> Vec<String> {
        r[k].as_array().map(|a| a.iter().filter_map(|x| x.as_str().map(String::from)).collect()).unwrap_or_default()
    };
    let wants_lists = !s.expect_addresses.is_empty() || !s.expect_dns_servers.is_empty() || !s.expect_search.is_empty();
    for k in ["addresses", "dns_servers", "search"] {
        if wants_lists && !r[k].as_array().is_some_and(|a| a.iter().all(Value::is_string)) {
            bad.push(format!("report {k} = {}, expected an array of strings", r[k]));
        }
    }
    let addrs = list("addresses");
    let parsed: Vec<(IpAddr, u8)> = addrs
        .iter()
        .filter_map(|a| {
            let (ip, len) = a.split_once('/')?;
            Some((ip.parse().ok()?, len.parse().ok()?))
        })
        .collect();
    if !s.expect_addresses.is_empty() && parsed.len() != addrs.len() {
        bad.push(format!("report addresses {addrs:?}: not all `address/prefix`"));
    }
    for w in &s.expect_addresses {
        let ok = match w {
            AddrWant::Slaac => parsed
                .iter()
                .any(|(ip, l)| matches!(ip, IpAddr::V6(a) if a.segments()[..4] == [0xfd00, 0, 0, 0]) && *l == 64),
            AddrWant::Dhcp4 => parsed.iter().any(|(ip, l)| {
                matches!(ip, IpAddr::V4(a) if a.octets()[..3] == [10, 0, 0]
                    && (crate::harness::netns::POOL.0..=crate::harness::netns::POOL.1).contains(&a.octets()[3]))
                    && *l == 24
            }),
            AddrWant::LinkLocal6 => {
                parsed.iter().any(|(ip, l)| matches!(ip, IpAddr::V6(a) if a.segments()[0] == 0xfe80) && *l == 64)
            }
            AddrWant::NoV4 => !parsed.iter().any(|(ip, _)| ip.is_ipv4()),
        };
        if !ok {
            bad.push(format!("report addresses {addrs:?}: expected {w:?}"));
        }
    }
    if !s.expect_addresses.is_empty() {
        for e in log.iter().filter(|e| e.method == "GET" && e.status == 200) {
            let Some(peer) = e.peer.as_deref().and_then(|p| p.parse::<IpAddr>().ok()) else { continue };
            let peer = match peer {
                IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
                p => p,
            };
            if !parsed.iter().any(|(ip, _)| *ip == peer) {
                bad.push(format!(
                    "the mock served {} to {peer}, which the report's addresses {addrs:?} do not hold",
                    e.path
                ));
            }
        }
    }
    let dns = list("dns_servers");
    for d in &s.expect_dns_servers {
        if !dns.contains(d) {
            bad.push(format!("report dns_servers {dns:?}, expected {d}"));
        }
    }
    let search = list("search");
    for d in &s.expect_search {
        if !search.iter().any(|x| x.trim_end_matches('.') == d) {
            bad.push(format!("report search {search:?}, expected {d}"));
        }
    }
    if let Some(host) = &s.expect_host {
        let hosts: Vec<Option<&str>> = log.iter().filter(|e| e.method == "GET").map(|e| e.host.as_deref()).collect();
        if hosts.is_empty() || hosts.iter().any(|h| *h != Some(host.as_str())) {
            bad.push(format!("the mock saw GETs with Host {hosts:?}, expected {host:?}"));
        }
    }
    bad
}

/// The tap NIC's capture: its index's file, read.
fn tap_capture(s: &Scenario, dir: &Path) -> Result<(usize, Vec<u8>), String> {
    let i = s.nics.iter().position(|n| matches!(n.net, NetKind::Tap(_))).ok_or("no tap NIC")?;
    let file = dir.join(format!("nic{i}.pcap"));
    Ok((i, std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?))
}

/// How many IPv6 frames the guest sent on its tap NIC, and its IPv4 and ARP frames (seconds
/// after the capture's first frame, what it was).
fn guest_ipv4_frames(s: &Scenario, dir: &Path) -> Result<(usize, Vec<(f64, String)>), String> {
    let (i, bytes) = tap_capture(s, dir)?;
    let mac: Vec<u8> = vm::mac(i).split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    let frames = pcap::tap_frames(&bytes)?;
    let t0 = frames.first().map_or(0.0, |f| f.t);
    let v6 = frames.iter().filter(|f| f.src_mac() == mac.as_slice() && f.ethertype() == pcap::ETH_IPV6).count();
    let v4 = frames
        .iter()
        .filter(|f| f.src_mac() == mac.as_slice() && matches!(f.ethertype(), pcap::ETH_IPV4 | pcap::ETH_ARP))
        .map(|f| {
            let what = match pcap::tcp(f.eth) {
                Some(t) => format!("TCP {}:{} > {}:{}", t.src, t.sport, t.dst, t.dport),
                None if f.ethertype() == pcap::ETH_ARP => "ARP".into(),
                None => format!("IPv4 protocol {}", f.eth.get(14 + 9).copied().unwrap_or(0)),
            };
            (f.t - t0, what)
        })
        .collect();
    Ok((v6, v4))
}

/// Happy Eyeballs on the wire of a dual-stack boot whose IPv6 service address is dropped.
struct Race {
    /// The guest's first SYN to the service (either family) → the service's first answer
    /// bytes over IPv4, in seconds (QEMU's timestamps).
    answer_after: f64,
    /// The first SYN went to the IPv6 address (then dropped by the bridge).
    v6_syn_first: bool,
    detail: String,
}

fn he_race(s: &Scenario, dir: &Path) -> Result<Race, String> {
    use std::net::IpAddr;
    let (i, bytes) = tap_capture(s, dir)?;
    let mac: Vec<u8> = vm::mac(i).split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    let frames = pcap::tap_frames(&bytes)?;
    let v4: IpAddr = vm::METADATA_IP.parse().map_err(|_| "bad metadata address")?;
    let v6: IpAddr = qnet::AWS6.parse().map_err(|_| "bad IPv6 metadata address")?;
    let segs: Vec<(f64, bool, pcap::Tcp)> =
        frames.iter().filter_map(|f| pcap::tcp(f.eth).map(|t| (f.t, f.src_mac() == mac.as_slice(), t))).collect();
    let first_syn = segs.iter().find(|(_, from_guest, t)| {
        *from_guest
            && t.flags & pcap::TCP_SYN != 0
            && t.flags & pcap::TCP_ACK == 0
            && t.dport == 80
            && (t.dst == v4 || t.dst == v6)
    });
    let Some((t0, _, syn)) = first_syn else {
        return Err("no SYN from the guest to the service in the capture".into());
    };
    let answer = segs.iter().find(|(_, from_guest, t)| !from_guest && t.src == v4 && t.sport == 80 && t.payload > 0);
    let Some((t1, _, _)) = answer else { return Err("the service never answered over IPv4 (capture)".into()) };
    let first_v4_syn = segs
        .iter()
        .find(|(_, g, t)| *g && t.flags & pcap::TCP_SYN != 0 && t.flags & pcap::TCP_ACK == 0 && t.dst == v4)
        .map(|(t, _, _)| *t);
    let v6_syns = segs
        .iter()
        .filter(|(_, g, t)| *g && t.flags & pcap::TCP_SYN != 0 && t.flags & pcap::TCP_ACK == 0 && t.dst == v6)
        .count();
    Ok(Race {
        answer_after: t1 - t0,
        v6_syn_first: syn.dst == v6,
        detail: format!(
            "first SYN to {} at 0, first IPv4 SYN at +{} ms, {v6_syns} IPv6 SYN(s) in all",
            syn.dst,
            first_v4_syn.map_or("-".into(), |t| format!("{:.0}", (t - t0) * 1e3))
        ),
    })
}

/// A dual-stack boot's first SYN to the service and the neighbour discovery around it.
struct FirstSyn {
    first_syn_v6: bool,
    /// The Neighbor Solicitations the host sent for the guest's addresses, each with the
    /// guest's answer (or none within 200 ms), times from the first SYN.
    detail: String,
}

fn first_syn_and_ns(s: &Scenario, dir: &Path) -> Result<FirstSyn, String> {
    use std::net::IpAddr;
    let (i, bytes) = tap_capture(s, dir)?;
    let mac: Vec<u8> = vm::mac(i).split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    let frames = pcap::tap_frames(&bytes)?;
    let v4: IpAddr = vm::METADATA_IP.parse().map_err(|_| "bad metadata address")?;
    let v6: IpAddr = qnet::AWS6.parse().map_err(|_| "bad IPv6 metadata address")?;
    let syn = frames.iter().find_map(|f| {
        let t = pcap::tcp(f.eth)?;
        let first = f.src_mac() == mac.as_slice()
            && t.flags & pcap::TCP_SYN != 0
            && t.flags & pcap::TCP_ACK == 0
            && t.dport == 80
            && (t.dst == v4 || t.dst == v6);
        first.then_some((f.t, t.dst == v6))
    });
    let Some((t0, first_syn_v6)) = syn else {
        return Err("no SYN from the guest to the service in the capture".into());
    };
    // ICMPv6 (next header 58) NS (135) / NA (136): (time, from the guest, type, target,
    // from ::).
    let nd: Vec<(f64, bool, u8, std::net::Ipv6Addr, bool)> = frames
        .iter()
        .filter(|f| f.ethertype() == pcap::ETH_IPV6 && f.eth.len() >= 14 + 40 + 24 && f.eth[14 + 6] == 58)
        .filter(|f| matches!(f.eth[14 + 40], 135 | 136))
        .map(|f| {
            let target: [u8; 16] = f.eth[14 + 48..14 + 64].try_into().expect("16 bytes");
            let dad = f.eth[14 + 8..14 + 24].iter().all(|&b| b == 0);
            (f.t, f.src_mac() == mac.as_slice(), f.eth[14 + 40], target.into(), dad)
        })
        .collect();
    let mut lines = Vec::new();
    // The host resolving a guest address (DAD probes, from ::, left out).
    for &(t, _, _, target, _) in nd.iter().filter(|&&(_, from_guest, kind, _, dad)| !from_guest && kind == 135 && !dad)
    {
        let answered = nd.iter().find(|&&(ta, g, k, tg, _)| g && k == 136 && tg == target && ta >= t && ta - t < 0.2);
        lines.push(match answered {
            Some(&(ta, ..)) => {
                format!("host NS for {target} at {:+.0} ms answered at {:+.0} ms", (t - t0) * 1e3, (ta - t0) * 1e3)
            }
            None => format!("host NS for {target} at {:+.0} ms NOT answered within 200 ms", (t - t0) * 1e3),
        });
    }
    if lines.is_empty() {
        lines.push("no NS from the host for a guest address".into());
    }
    Ok(FirstSyn { first_syn_v6, detail: lines.join("; ") })
}

/// Frames the guest sent on its tap NIC (its MAC as the source, in the NIC's capture).
fn guest_frames(s: &Scenario, dir: &Path) -> Result<usize, String> {
    let i = s.nics.iter().position(|n| matches!(n.net, NetKind::Tap(_))).ok_or("no tap NIC")?;
    let file = dir.join(format!("nic{i}.pcap"));
    let bytes = std::fs::read(&file).map_err(|e| format!("{}: {e}", file.display()))?;
    let mac: Vec<u8> = vm::mac(i).split(':').filter_map(|h| u8::from_str_radix(h, 16).ok()).collect();
    pcap::frames_from_mac(&bytes, mac.try_into().map_err(|_| "a NIC's MAC is not 6 bytes")?)
}

/// Runs the selected scenarios with the flint under test, one line each, into `t`.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the QEMU boot tests (network namespaces, tap devices)")?;
    let flint = util::flint_under_test();
    if !flint.exists() {
        return Err(format!("{} not found: run `cargo xtask build` first", flint.display()));
    }
    let flint = flint.as_path();
    cleanup::remove_stale();
    let selected = sel.pick(load()?, |s| s.name.as_str(), "QEMU scenario")?;
    if selected.iter().any(|s| s.payload == Payload::CaplIncludeHttps) {
        deps::ensure_https()?;
    }
    let started = Instant::now();
    let env = cloud::prepare_env(flint)?;
    let dracut = match selected.iter().any(|s| s.image == Image::Dracut) {
        true => Some(harness_dracut::image(flint, &env.kernel)?),
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
            (Image::Dracut, Some(img)) => dracut::run_one(s, &env, img, dir.path()),
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
                if sel.keep {
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
    t.add((passed, failed));
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use base64::Engine as _;

    use super::*;
    use crate::harness::qemu::Markers;

    const MARKER: &str = "FLINTMARK-0123456789abcdef";

    fn proxmox_scenario(payload: &str, exit: i32) -> Scenario {
        let phase = if exit == 7 { r#","failed_phase":"ignition""# } else { "" };
        let json = format!(
            r#"[{{"name":"p","about":"a","platform":"proxmoxve","payload":"{payload}",
                "nics":[{{"model":"virtio-net-pci","net":"tap-silent"}}],"drive":{{"format":"cidata","bus":"ide2"}},
                "handoff":["attributes","seed","ignition"],
                "expect":{{"exit":{exit}{phase},"source":"drive","mode":"none","log":["drive cidata on sr0"]}}}}]"#
        );
        table::parse(&json).unwrap().remove(0)
    }

    /// The markers of a good Proxmox boot (shaped like a real one) for `drive`, `edit` applied.
    fn boot(s: &Scenario, drive: &cidata::Drive, edit: &dyn Fn(String) -> String) -> Boot {
        let b64 = |b: &[u8]| base64::engine::general_purpose::STANDARD.encode(b);
        let user_data = drive.seed.user_data.as_deref().unwrap_or_default();
        let mut out = String::new();
        if s.expect_exit == 0 {
            for dir in ["/run/ignition", "/usr/lib/ignition"] {
                out.push_str(&format!("FXQ:OUT {dir}/user.ign 600 {}\n", b64(user_data)));
            }
        } else {
            let frag = handoff::fragment(Some(cidata::HOSTNAME), &[cidata::SSH_KEY]).to_string();
            for dir in ["/run/ignition", "/usr/lib/ignition"] {
                out.push_str(&format!("FXQ:OUT {dir}/base.d/50-flint.ign 644 {}\n", b64(frag.as_bytes())));
            }
        }
        for (name, bytes) in drive.files() {
            let mode = if name == "user-data" { 600 } else { 644 };
            out.push_str(&format!("FXQ:OUT /run/fxq/seed/{name} {mode} {}\n", b64(bytes)));
        }
        let host = if s.expect_exit == 7 {
            format!("AFTERBURN_PROXMOXVE_HOSTNAME={}\n", cidata::HOSTNAME)
        } else {
            String::new()
        };
        let attrs = format!(
            "AFTERBURN_PROXMOXVE_IPV4={}\n{host}AFTERBURN_PROXMOXVE_INSTANCE_ID={}\n",
            cidata::STATIC_IPV4,
            drive.instance_id
        );
        out.push_str(&format!("FXQ:OUT /run/metadata/afterburn 644 {}\n", b64(attrs.as_bytes())));
        let phase = if s.expect_exit == 7 { "\"ignition\"" } else { "null" };
        let text = format!(
            "FXQ:BEGIN\nFXQ:MODE flint\nFXQ:EXIT {exit}\nFXQ:SHA256 {sha}\nFXQ:SIZE {len}\n\
             FXQ:REPORT {{\"version\":1,\"platform\":\"proxmoxve\",\"exit_code\":{exit},\"failed_phase\":{phase},\
             \"interface\":null,\"mac\":null,\"mode\":\"none\",\"timings_us\":{{\"total\":160000}},\
             \"bytes\":{{\"fetched\":{len},\"written\":{len}}},\"gzip\":false,\"source\":\"drive\"}}\n\
             FXQ:LOG flint: drive: iso9660 rock-ridge drive cidata on sr0\n\
             FXQ:KMSG [    1.75] Run /init as init process\nFXQ:KMSG [    3.75] fxq: tool-start\n\
             FXQ:KMSG [    4.03] fxq: tool-done\n{out}FXQ:RESULT PASS\nFXQ:END\n",
            exit = s.expect_exit,
            sha = sha256::hex(user_data),
            len = user_data.len(),
        );
        Boot {
            markers: Markers::parse(&edit(text)),
            console: String::new(),
            qemu_log: String::new(),
            to_end: Some(Duration::from_secs(5)),
            wall: Duration::from_secs(6),
            qemu_exit: Some(0),
            timed_out: false,
            command: String::new(),
        }
    }

    /// `t` with the file `path` sent back changed by `f`.
    fn edit_out(t: &str, path: &str, f: impl Fn(String) -> String) -> String {
        let e = base64::engine::general_purpose::STANDARD;
        let head = format!("FXQ:OUT {path} ");
        t.lines()
            .map(|l| match l.strip_prefix(&head).and_then(|r| r.split_once(' ')) {
                Some((mode, b)) => {
                    let text = String::from_utf8(e.decode(b).unwrap()).unwrap();
                    format!("{head}{mode} {}\n", e.encode(f(text)))
                }
                None => format!("{l}\n"),
            })
            .collect()
    }

    fn problems(s: &Scenario, edit: &dyn Fn(String) -> String) -> Vec<String> {
        let served = cloud::payload(s.payload, MARKER);
        let drive = cidata::proxmox(served.file.as_deref().unwrap(), &vm::mac(0));
        let sha = sha256::hex(served.decoded.as_deref().unwrap());
        check(s, &boot(s, &drive, edit), &served, Some(&drive), &sha, 20.0, MARKER, &[], &[], Path::new("/nonexistent"))
    }

    #[test]
    fn a_good_proxmox_boot_passes() {
        for (payload, exit) in [("ignition", 0), ("proxmox-cloud-config", 7)] {
            assert_eq!(problems(&proxmox_scenario(payload, exit), &|t| t), Vec::<String>::new(), "{payload}");
        }
    }

    #[test]
    fn each_broken_proxmox_promise_is_caught() {
        let ign = proxmox_scenario("ignition", 0);
        let cc = proxmox_scenario("proxmox-cloud-config", 7);
        type Edit = Box<dyn Fn(String) -> String>;
        let cases: Vec<(&Scenario, Edit, &str)> = vec![
            // user.ign: a changed byte, a wrong mode, missing in one place.
            (&ign, Box::new(|t| edit_out(&t, "/run/ignition/user.ign", |u| u.replacen('"', "'", 1))), "byte for byte"),
            (
                &ign,
                Box::new(|t| t.replacen("/usr/lib/ignition/user.ign 600", "/usr/lib/ignition/user.ign 644", 1)),
                "mode 644",
            ),
            (
                &ign,
                Box::new(|t| {
                    t.lines().filter(|l| !l.contains("/run/ignition/user.ign")).map(|l| format!("{l}\n")).collect()
                }),
                "/run/ignition/user.ign missing",
            ),
            // The seed: a file left out, a temporary file left over.
            (
                &ign,
                Box::new(|t| {
                    t.lines().filter(|l| !l.contains("seed/network-config")).map(|l| format!("{l}\n")).collect()
                }),
                "network-config missing",
            ),
            (
                &ign,
                Box::new(|t| t.replacen("FXQ:RESULT", "FXQ:OUT /run/fxq/seed/.meta-data.tmp 600 \nFXQ:RESULT", 1)),
                "nothing should",
            ),
            // Attributes: the address missing, the hostname where none was given.
            (
                &ign,
                Box::new(|t| {
                    edit_out(&t, "/run/metadata/afterburn", |a| a.lines().skip(1).map(|l| format!("{l}\n")).collect())
                }),
                "afterburn",
            ),
            (
                &ign,
                Box::new(|t| edit_out(&t, "/run/metadata/afterburn", |a| a + "AFTERBURN_PROXMOXVE_HOSTNAME=fxq-pve\n")),
                "afterburn",
            ),
            (
                &ign,
                Box::new(|t| {
                    edit_out(&t, "/run/metadata/afterburn", |a| a.replace(cidata::STATIC_IPV4, "192.168.77.51"))
                }),
                "afterburn",
            ),
            (
                &ign,
                Box::new(|t| edit_out(&t, "/run/fxq/seed/meta-data", |m| m.replace("instance-id: ", "instance-id: x"))),
                "byte for byte",
            ),
            (
                &cc,
                Box::new(|t| edit_out(&t, "/run/ignition/base.d/50-flint.ign", |f| f.replace("fxq-pve", "localhost"))),
                "expected",
            ),
            // The fragment and user.ign on a #cloud-config.
            (
                &cc,
                Box::new(|t| {
                    t.lines().filter(|l| !l.contains("/usr/lib/ignition/base.d")).map(|l| format!("{l}\n")).collect()
                }),
                "50-flint.ign missing",
            ),
            (
                &cc,
                Box::new(|t| t.replacen("FXQ:RESULT", "FXQ:OUT /run/ignition/user.ign 600 e30K\nFXQ:RESULT", 1)),
                "nothing should",
            ),
            // The report and the log.
            (&ign, Box::new(|t| t.replacen("\"source\":\"drive\"", "\"source\":\"service\"", 1)), "source"),
            (&ign, Box::new(|t| t.replacen("\"mode\":\"none\"", "\"mode\":\"dhcp\"", 1)), "mode"),
            (&ign, Box::new(|t| t.replacen("\"platform\":\"proxmoxve\"", "\"platform\":\"nocloud\"", 1)), "platform"),
            (&ign, Box::new(|t| t.replacen("cidata on sr0", "cidata on vda", 1)), "sr0"),
            (&ign, Box::new(|t| t.replacen("FXQ:EXIT 0", "FXQ:EXIT 7", 1)), "exit code"),
            (&ign, Box::new(|t| t.replacen("tool-done", "tool-dome", 1)), "timestamps"),
        ];
        for (i, (s, edit, want)) in cases.iter().enumerate() {
            let bad = problems(s, &**edit);
            assert!(bad.iter().any(|b| b.contains(want)), "case {i} ({want}): {bad:?}");
        }
    }

    fn entry(method: &str, path: &str, host: &str, peer: &str) -> mock::LogEntry {
        mock::LogEntry {
            t_ms: 1,
            method: method.into(),
            path: path.into(),
            status: 200,
            token_sent: false,
            token_valid: false,
            accept: None,
            bytes: 10,
            host: Some(host.into()),
            peer: Some(peer.into()),
            peer_port: None,
        }
    }

    /// The issue-#11 report checks of the bundled IPv6-only and dual-stack boots, against a
    /// report shaped like a real one and its breakages.
    #[test]
    fn dual_stack_report_checks() {
        let all = load().unwrap();
        let v6 = all.iter().find(|s| s.name == "url-v6-only-ra-dns").unwrap();
        let dual = all.iter().find(|s| s.name == "aws-dual-stack").unwrap();
        let v6_report = r#"{"endpoint":"[fd00::80]:80","addresses":["fe80::f1:17ff:fe51:1/64","fd00::f1:17ff:fe51:1/64"],
            "dns_servers":["fd00::53"],"search":["example.internal","corp.example"]}"#;
        let v6_log = [entry("GET", "/latest/user-data", "metadata", "fd00::f1:17ff:fe51:1")];
        let dual_report = r#"{"endpoint":"169.254.169.254:80","addresses":["fe80::f1:17ff:fe51:1/64",
            "fd00::f1:17ff:fe51:1/64","10.0.0.89/24"],"dns_servers":["fd00::53","10.0.0.5"],"search":["example.internal"]}"#;
        let dual_log = [
            entry("PUT", "/latest/api/token", "169.254.169.254", "::ffff:10.0.0.89"),
            entry("GET", "/latest/user-data", "169.254.169.254", "::ffff:10.0.0.89"),
        ];
        let run = |s: &Scenario, report: &str, log: &[mock::LogEntry]| {
            dual_stack_report(s, &serde_json::from_str(report).unwrap(), log)
        };
        assert_eq!(run(v6, v6_report, &v6_log), Vec::<String>::new());
        assert_eq!(run(dual, dual_report, &dual_log), Vec::<String>::new());
        let v6_cases = [
            (v6_report.replace("[fd00::80]:80", "[fd00::99]:80"), "endpoint"),
            (v6_report.replace("\"fd00::f1:17ff:fe51:1/64\"", "\"fd00::f1:17ff:fe51:1/128\""), "Slaac"),
            (v6_report.replace("fe80::f1:17ff:fe51:1/64\",", "fe80::f1:17ff:fe51:1/64\",\"169.254.7.7/16\","), "NoV4"),
            (v6_report.replace("\"fd00::53\"", ""), "dns_servers"),
            (v6_report.replace(",\"corp.example\"", ""), "corp.example"),
            (v6_report.replace("\"search\":[", "\"search\":7,\"x\":["), "array of strings"),
        ];
        for (report, want) in &v6_cases {
            let bad = run(v6, report, &v6_log);
            assert!(bad.iter().any(|b| b.contains(want)), "{want}: {bad:?}");
        }
        let wrong_host = [entry("GET", "/latest/user-data", "fd00::80", "fd00::f1:17ff:fe51:1")];
        assert!(run(v6, v6_report, &wrong_host).iter().any(|b| b.contains("Host")));
        let other_peer = [entry("GET", "/latest/user-data", "metadata", "fd00::1234")];
        assert!(run(v6, v6_report, &other_peer).iter().any(|b| b.contains("do not hold")));
        let no_lease = dual_report.replace(",\"10.0.0.89/24\"", "");
        assert!(run(dual, &no_lease, &dual_log).iter().any(|b| b.contains("Dhcp4")));
        assert!(
            run(dual, &dual_report.replace("10.0.0.89/24", "10.0.0.200/24"), &[]).iter().any(|b| b.contains("Dhcp4"))
        );
    }
}
