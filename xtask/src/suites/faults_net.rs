//! The network half of the fault matrix (issue #5): misbehaving DHCP servers, unusual
//! leases and MTUs, a lossy, duplicating and reordering link, a link-local address already
//! taken, and a carrier that comes up late.
//!
//! Every fault is a `harness::scenario::Scenario` with a `net` set-up, so each run gets the same
//! checks as the end-to-end scenarios: exit code, time within the budget (+ slack), output
//! complete and correct (mode 0600, alone in its directory) or absent, the report, the
//! stderr format, and no token or user-data marker in any log line. The expected outcome of
//! each fault, and why, is in docs/faults-net.md.

use std::path::Path;
use std::time::Duration;

use crate::harness::flint::run_flint;
use crate::harness::netns::{self, Addressing, Impair, Topology};
use crate::harness::scenario::{self, NetFixture, Payload, Run, Scenario};
use crate::harness::tally::{Selection, Suite, Tally};
use crate::mock::dhcp::{self as dhcp_mock, AckMode};
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

pub const SUITE: Suite = Suite { name: "faults-net", needs_flint: true, gate: false, run, cases: || all().len() };

fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    scenario::run_list(all(), sel, t)
}

/// The metadata service is also reachable on-link from a 169.254.0.0/16 address (as IMDS
/// is): the server namespace gets a route back to link-local hosts, so `auto` can fall back.
fn metadata_on_link(topo: &Topology) -> Result<(), String> {
    topo.ip_server(&["route", "add", "169.254.0.0/16", "dev", netns::SERVER_IF]).map(|_| ())
}

fn dhcp_mock(topo: &Topology, dir: &Path, o: dhcp_mock::Options) -> Result<ChildGuard, String> {
    dhcp_mock::start_in(&topo.server, netns::SERVER_IF, &o, dir)
}

fn events(r: &Run) -> Vec<dhcp_mock::Event> {
    dhcp_mock::read_log(&r.dir.join("dhcp-mock.jsonl"))
}

fn count(ev: &[dhcp_mock::Event], dir: &str, kind: &str) -> usize {
    ev.iter().filter(|e| e.dir == dir && e.kind == kind).count()
}

fn report_str<'a>(r: &'a Run, key: &str) -> &'a str {
    r.report.as_ref().and_then(|v| v[key].as_str()).unwrap_or("")
}

// --- DHCP ------------------------------------------------------------------------------

fn never_acks(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    metadata_on_link(topo)?;
    let g = dhcp_mock(topo, dir, dhcp_mock::Options { ack: AckMode::Never, ..Default::default() })?;
    Ok(NetFixture { guards: vec![g], mode: Some(Addressing::LinkLocal), ..Default::default() })
}

fn naks(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    metadata_on_link(topo)?;
    let g = dhcp_mock(topo, dir, dhcp_mock::Options { ack: AckMode::Nak, ..Default::default() })?;
    Ok(NetFixture { guards: vec![g], mode: Some(Addressing::LinkLocal), ..Default::default() })
}

/// flint took the offer: it sent a REQUEST for it (RFC 2131 §4.4.1), which was not answered.
fn requested_unanswered(r: &Run) -> Vec<String> {
    let ev = events(r);
    let mut bad = Vec::new();
    if count(&ev, "out", "OFFER") == 0 || count(&ev, "in", "REQUEST") == 0 {
        bad.push(format!(
            "expected OFFERs answered by REQUESTs, DHCP log has {} OFFER(s), {} REQUEST(s)",
            count(&ev, "out", "OFFER"),
            count(&ev, "in", "REQUEST")
        ));
    }
    if count(&ev, "out", "ACK") != 0 {
        bad.push("the never-ACK server sent an ACK: fix the mock".into());
    }
    bad
}

/// After a NAK the client must start over with DISCOVER (RFC 2131 §3.1 step 5, §4.4.4),
/// never use the address.
fn restarted_after_nak(r: &Run) -> Vec<String> {
    let ev = events(r);
    let Some(first_nak) = ev.iter().position(|e| e.dir == "out" && e.kind == "NAK") else {
        return vec!["the server never sent a NAK: flint sent no REQUEST".into()];
    };
    let mut bad = Vec::new();
    if !ev[first_nak..].iter().any(|e| e.dir == "in" && e.kind == "DISCOVER") {
        bad.push("no DISCOVER after the NAK: flint did not restart DHCP".into());
    }
    if report_str(r, "address").starts_with("10.0.0.") {
        bad.push(format!("flint used the NAKed address {}", report_str(r, "address")));
    }
    bad
}

fn slow_2s(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    metadata_on_link(topo)?;
    let g = dhcp_mock(topo, dir, dhcp_mock::Options { delay_ms: 2000, ..Default::default() })?;
    Ok(NetFixture { guards: vec![g], ..Default::default() })
}

fn slow_2s_default_timeout(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    Ok(NetFixture { mode: Some(Addressing::LinkLocal), ..slow_2s(topo, dir)? })
}

/// The lease is the one the slow server ACKed, which it did ≥ 2 s after the REQUEST.
fn slow_lease_taken(r: &Run) -> Vec<String> {
    let ev = events(r);
    let acks: Vec<_> = ev.iter().filter(|e| e.dir == "out" && e.kind == "ACK").collect();
    let mut bad = Vec::new();
    match acks.first() {
        Some(a) if a.t_ms >= 2000 => {
            let want = format!("{}/24", a.yiaddr.as_deref().unwrap_or("?"));
            if report_str(r, "address") != want {
                bad.push(format!("report address {:?}, the server ACKed {want}", report_str(r, "address")));
            }
        }
        Some(a) => bad.push(format!("ACK sent at {} ms, the server should delay 2 s", a.t_ms)),
        None => bad.push("the slow server never sent an ACK".into()),
    }
    bad
}

/// With the default --dhcp-timeout (3 s) the ACK (≈ 4 s: OFFER at 2 s, ACK 2 s after the
/// REQUEST) comes too late: the link-local address is used at 3 s.
fn slow_fell_back(r: &Run) -> Vec<String> {
    let ev = events(r);
    if count(&ev, "out", "OFFER") == 0 {
        return vec!["the slow server never offered".into()];
    }
    Vec::new()
}

fn two_servers(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    topo.ip_server(&["addr", "add", "10.0.0.2/24", "dev", netns::SERVER_IF])?;
    let g = dhcp_mock(topo, dir, dhcp_mock::Options { servers: 2, ..Default::default() })?;
    Ok(NetFixture { guards: vec![g], ..Default::default() })
}

/// Both servers offered; flint requested from exactly one of them (by server identifier,
/// RFC 2131 §4.4.1), got one ACK, and uses that server's address.
fn one_of_two(r: &Run) -> Vec<String> {
    let ev = events(r);
    let mut bad = Vec::new();
    let offered_by: std::collections::BTreeSet<_> =
        ev.iter().filter(|e| e.dir == "out" && e.kind == "OFFER").filter_map(|e| e.server.clone()).collect();
    if offered_by.len() != 2 {
        bad.push(format!("expected OFFERs from both servers, saw {offered_by:?}"));
    }
    let acks: Vec<_> = ev.iter().filter(|e| e.dir == "out" && e.kind == "ACK").collect();
    let acked: std::collections::BTreeSet<_> = acks.iter().filter_map(|e| e.server.clone()).collect();
    if acked.len() != 1 {
        bad.push(format!("expected ACKs from exactly one server, saw {acked:?}"));
    }
    if count(&ev, "out", "NAK") != 0 {
        bad.push("a server NAKed: flint requested an address from the wrong server".into());
    }
    if let Some(a) = acks.first() {
        let want = format!("{}/24", a.yiaddr.as_deref().unwrap_or("?"));
        if report_str(r, "address") != want {
            bad.push(format!("report address {:?}, but the ACK gave {want}", report_str(r, "address")));
        }
    }
    bad
}

fn slash32(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    let o = dhcp_mock::Options { mask: std::net::Ipv4Addr::BROADCAST, ..Default::default() };
    let g = dhcp_mock(topo, dir, o)?;
    Ok(NetFixture { guards: vec![g], prefix: Some(32), ..Default::default() })
}

// --- MTU -------------------------------------------------------------------------------

/// The server end's kernel counters (`ip -s -j link`), read after the run.
fn server_tx(dir: &Path) -> Result<(u64, u64), String> {
    let ns = std::fs::read_to_string(dir.join("server-netns")).map_err(|e| e.to_string())?;
    let mut cmd = std::process::Command::new(util::tool("ip"));
    cmd.args(["-n", ns.trim(), "-s", "-j", "link", "show", netns::SERVER_IF]);
    let out = proc::run_ok(&mut cmd, Duration::from_secs(10))?;
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    let tx = &v[0]["stats64"]["tx"];
    Ok((tx["bytes"].as_u64().unwrap_or(0), tx["packets"].as_u64().unwrap_or(0)))
}

fn mtu(topo: &Topology, dir: &Path, link_mtu: u16, client_mtu: Option<u16>) -> Result<NetFixture, String> {
    std::fs::write(dir.join("server-netns"), &topo.server).map_err(|e| e.to_string())?;
    let m = link_mtu.to_string();
    topo.ip_server(&["link", "set", "dev", netns::SERVER_IF, "mtu", &m, "gso_max_segs", "1"])?;
    if let Some(c) = client_mtu {
        topo.ip_client(&["link", "set", "dev", netns::CLIENT_IF, "mtu", &c.to_string()])?;
    }
    let g = dhcp_mock(topo, dir, dhcp_mock::Options { mtu: Some(link_mtu), ..Default::default() })?;
    Ok(NetFixture { guards: vec![g], ..Default::default() })
}

/// The network's MTU is 1280 (the server end, and DHCP option 26 says so) while the NIC
/// comes up at its default 1500.
fn mtu_1280(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    mtu(topo, dir, 1280, None)
}

fn mtu_9000(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    mtu(topo, dir, 9000, Some(9000))
}

fn served_user_data(r: &Run) -> usize {
    r.log.iter().filter(|e| e.path.ends_with("/user-data") && e.status == 200).map(|e| e.bytes).sum()
}

/// With GSO off the server's kernel cut the body into ≤ 1280-byte frames: at least
/// body / 1240 (MSS) of them reached flint, and flint reassembled them.
fn segmented_1280(r: &Run) -> Vec<String> {
    let body = served_user_data(r) as u64;
    match server_tx(&r.dir) {
        Ok((bytes, packets)) if packets >= body.div_ceil(1240) && bytes / packets.max(1) <= 1280 + 14 => Vec::new(),
        Ok((bytes, packets)) => {
            vec![format!("server sent {packets} frames / {bytes} bytes for a {body}-byte body: not cut at MTU 1280")]
        }
        Err(e) => vec![format!("server counters: {e}")],
    }
}

/// Jumbo frames were really used: the server's frames average more than a 1500-byte MTU
/// allows, so flint's 64 KiB receive buffer took 9000-byte frames.
fn jumbo_9000(r: &Run) -> Vec<String> {
    match server_tx(&r.dir) {
        Ok((bytes, packets)) if packets > 0 && bytes / packets > 1514 => Vec::new(),
        Ok((bytes, packets)) => vec![format!("server sent {packets} frames / {bytes} bytes: no jumbo frames used")],
        Err(e) => vec![format!("server counters: {e}")],
    }
}

// --- a lossy, duplicating, reordering link ------------------------------------------------

/// The same impairment on both ends' egress (and, for duplication, ingress), so requests
/// and answers, ARP and DHCP all suffer it.
fn impaired(topo: &Topology, dir: &Path, imp: Impair) -> Result<NetFixture, String> {
    std::fs::write(dir.join("server-netns"), &topo.server).map_err(|e| e.to_string())?;
    // Under loss DHCP can miss --dhcp-timeout; the metadata service is then still reachable
    // from the link-local fallback, as IMDS is.
    metadata_on_link(topo)?;
    netns::impair(&topo.server, netns::SERVER_IF, imp)?;
    netns::impair(&topo.client, netns::CLIENT_IF, imp)?;
    Ok(NetFixture { lossy: imp.loss > 0, ..Default::default() })
}

fn loss_20(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    impaired(topo, dir, Impair { loss: 20, ..Default::default() })
}

fn loss_50(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    impaired(topo, dir, Impair { loss: 50, ..Default::default() })
}

fn duplicate_30(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    impaired(topo, dir, Impair { duplicate: 30, ..Default::default() })
}

fn reorder_30(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    impaired(topo, dir, Impair { reorder: 30, ..Default::default() })
}

/// Both ends of the impaired link: (namespace, device).
fn both_ends(r: &Run) -> Result<[(String, &'static str); 2], String> {
    let srv = std::fs::read_to_string(r.dir.join("server-netns")).map_err(|_| "server namespace not recorded")?;
    let srv = srv.trim().to_string();
    // netns::Topology names the pair `<base>-srv` and `<base>-cli`.
    let cli = format!("{}-cli", srv.strip_suffix("-srv").ok_or("unexpected server namespace name")?);
    Ok([(srv, netns::SERVER_IF), (cli, netns::CLIENT_IF)])
}

/// Packets in `tc -s … show` output: the "Sent N bytes M pkt (dropped D, …)" lines (after
/// a line containing `header`, when given); `dropped` counts D instead of M.
fn tc_count(text: &str, header: Option<&str>, dropped: bool) -> u64 {
    let mut total = 0;
    let mut lines = text.lines();
    while let Some(l) = lines.next() {
        let stats = match header {
            Some(h) if l.contains(h) => lines.next().unwrap_or(""),
            Some(_) => continue,
            None => l,
        };
        let Some(rest) = stats.trim().strip_prefix("Sent ") else { continue };
        let key = if dropped { "(dropped " } else { " bytes " };
        total += rest.split(key).nth(1).and_then(|t| t.split([' ', ',']).next()?.parse::<u64>().ok()).unwrap_or(0);
    }
    total
}

/// The impairment really acted on the link (summed over both ends, so that a short
/// exchange cannot slip through by chance), else the scenario proves nothing.
fn impairment_acted(r: &Run, what: &[&str], header: Option<&str>, dropped: bool, name: &str) -> Vec<String> {
    let ends = match both_ends(r) {
        Ok(e) => e,
        Err(e) => return vec![e],
    };
    let mut text = String::new();
    let mut n = 0;
    for (ns, dev) in &ends {
        let t = netns::tc_stats(ns, dev, what);
        n += tc_count(&t, header, dropped);
        text += &t;
    }
    if n > 0 { Vec::new() } else { vec![format!("no frame was {name} on either end:\n{text}")] }
}

fn lost_frames(r: &Run) -> Vec<String> {
    impairment_acted(r, &["class"], Some("class htb 1:30 "), true, "dropped")
}

fn reordered_frames(r: &Run) -> Vec<String> {
    impairment_acted(r, &["class"], Some("class htb 1:20 "), false, "held back")
}

/// Duplicates have no class to count; the mirred action's counters show them.
fn duplicated_frames(r: &Run) -> Vec<String> {
    impairment_acted(r, &["filter"], None, false, "duplicated")
}

// --- link-local conflict, late carrier -------------------------------------------------------

/// Learns flint's first link-local candidate (a run with nothing listening: the address is
/// claimed, then the fetch fails), then gives that address to the server end, whose kernel
/// answers ARP probes for it (RFC 3927 §2.2.1: a reply for the candidate is a conflict).
fn candidate_taken(topo: &Topology, dir: &Path) -> Result<NetFixture, String> {
    let first = dir.join("first-run");
    std::fs::create_dir_all(&first).map_err(|e| e.to_string())?;
    let report = first.join("report.json");
    let args: Vec<String> = [
        "--platform",
        "aws",
        "--interface",
        netns::CLIENT_IF,
        "--address",
        "link-local",
        "--timeout",
        "2",
        "--output",
        &first.join("user-data").display().to_string(),
        "--report",
        &report.display().to_string(),
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    run_flint(topo, &util::flint_under_test(), &args, &first, Duration::from_secs(10))?;
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).map_err(|e| format!("first run: {e}"))?)
        .map_err(|e| format!("first run report: {e}"))?;
    let addr = v["address"].as_str().ok_or("first run claimed no link-local address")?;
    let ip = addr.split('/').next().unwrap_or(addr);
    std::fs::write(dir.join("taken-address"), ip).map_err(|e| e.to_string())?;
    topo.ip_server(&["addr", "add", &format!("{ip}/32"), "dev", netns::SERVER_IF])?;
    Ok(NetFixture::default())
}

fn another_candidate(r: &Run) -> Vec<String> {
    let taken = std::fs::read_to_string(r.dir.join("taken-address")).unwrap_or_default();
    let got = report_str(r, "address").split('/').next().unwrap_or("");
    if got.is_empty() || got == taken.trim() {
        vec![format!("flint used {got:?}, the address another host holds is {taken:?}")]
    } else {
        Vec::new()
    }
}

/// The peer raises its end 1.5 s after flint starts: flint sees no carrier until then.
fn late_carrier(topo: &Topology, _dir: &Path) -> Result<NetFixture, String> {
    topo.ip_server(&["link", "set", netns::SERVER_IF, "down"])?;
    let server = topo.server.clone();
    let during = move || -> Result<(), String> {
        std::thread::sleep(Duration::from_millis(1500));
        let mut cmd = std::process::Command::new(util::tool("ip"));
        cmd.args(["-n", &server, "link", "set", netns::SERVER_IF, "up"]);
        proc::run_ok(&mut cmd, Duration::from_secs(10)).map(|_| ())
    };
    Ok(NetFixture { during: Some(Box::new(during)), ..Default::default() })
}

fn waited_for_carrier(r: &Run) -> Vec<String> {
    let link = r.report.as_ref().and_then(|v| v["timings_us"]["link"].as_u64()).unwrap_or(0);
    // Not a speed claim: a link phase shorter than the peer's delay would mean flint went on
    // without carrier (and then got its lease by luck of retransmission).
    if link >= 1_400_000 {
        Vec::new()
    } else {
        vec![format!("link phase {link} µs: flint did not wait for the late carrier")]
    }
}

pub fn all() -> Vec<Scenario> {
    let on_link_dhcp = |name, about| Scenario { dhcp_server: false, ..Scenario::base(name, about) };
    vec![
        Scenario {
            net: Some(never_acks),
            args: &["--dhcp-timeout", "2"],
            extra: Some(requested_unanswered),
            ..on_link_dhcp("faults-net-dhcp-no-ack", "server offers, never ACKs; auto: link-local after --dhcp-timeout")
        },
        Scenario {
            net: Some(never_acks),
            args: &["--address", "dhcp"],
            budget: 4.0,
            exit: 4,
            error_phase: Some("address"),
            extra: Some(requested_unanswered),
            ..on_link_dhcp("faults-net-dhcp-no-ack-dhcp-only", "server offers, never ACKs; --address dhcp: exit 4")
        },
        Scenario {
            net: Some(naks),
            args: &["--dhcp-timeout", "2"],
            extra: Some(restarted_after_nak),
            ..on_link_dhcp("faults-net-dhcp-nak", "every REQUEST NAKed: DISCOVER again; auto: link-local")
        },
        Scenario {
            net: Some(naks),
            args: &["--address", "dhcp"],
            budget: 4.0,
            exit: 4,
            error_phase: Some("address"),
            extra: Some(restarted_after_nak),
            ..on_link_dhcp("faults-net-dhcp-nak-dhcp-only", "every REQUEST NAKed; --address dhcp: exit 4")
        },
        Scenario {
            net: Some(slow_2s),
            args: &["--address", "dhcp"],
            budget: 15.0,
            extra: Some(slow_lease_taken),
            ..on_link_dhcp("faults-net-dhcp-slow", "every DHCP reply 2 s late, --address dhcp: the lease, in budget")
        },
        Scenario {
            net: Some(slow_2s_default_timeout),
            extra: Some(slow_fell_back),
            ..on_link_dhcp(
                "faults-net-dhcp-slow-default",
                "every DHCP reply 2 s late, default --dhcp-timeout 3: link-local at 3 s",
            )
        },
        Scenario {
            net: Some(two_servers),
            extra: Some(one_of_two),
            ..on_link_dhcp("faults-net-dhcp-two-servers", "two DHCP servers offer: one REQUEST, one ACK, that lease")
        },
        Scenario {
            net: Some(slash32),
            ..on_link_dhcp("faults-net-dhcp-slash32", "lease 10.0.0.77/32 with router 10.0.0.1 outside it")
        },
        Scenario {
            net: Some(mtu_1280),
            payload: Payload::LargePlain,
            extra: Some(segmented_1280),
            ..on_link_dhcp("faults-net-mtu-1280", "link MTU 1280 (option 26), NIC at 1500, GSO off: many segments")
        },
        Scenario {
            net: Some(mtu_9000),
            payload: Payload::LargePlain,
            extra: Some(jumbo_9000),
            ..on_link_dhcp("faults-net-mtu-9000", "link and NIC MTU 9000 (option 26), GSO off: jumbo frames")
        },
        Scenario {
            net: Some(loss_20),
            payload: Payload::LargeGzip,
            budget: 30.0,
            extra: Some(lost_frames),
            ..Scenario::base("faults-net-loss-20", "20 % of frames dropped each way: success within 30 s")
        },
        Scenario {
            net: Some(loss_50),
            payload: Payload::LargeGzip,
            budget: 15.0,
            or_exit: Some(4),
            extra: Some(lost_frames),
            ..Scenario::base("faults-net-loss-50", "50 % of frames dropped each way: success or exit 4 within 15 s")
        },
        Scenario {
            net: Some(duplicate_30),
            payload: Payload::LargePlain,
            extra: Some(duplicated_frames),
            ..Scenario::base("faults-net-duplicate", "30 % of frames duplicated each way: success, output exact")
        },
        Scenario {
            net: Some(reorder_30),
            payload: Payload::LargePlain,
            extra: Some(reordered_frames),
            ..Scenario::base("faults-net-reorder", "30 % of frames held back behind later ones: success")
        },
        Scenario {
            addressing: Addressing::LinkLocal,
            dhcp_server: false,
            net: Some(candidate_taken),
            args: &["--address", "link-local"],
            extra: Some(another_candidate),
            ..Scenario::base(
                "faults-net-link-local-conflict",
                "first link-local candidate held by another host: next one",
            )
        },
        Scenario {
            net: Some(late_carrier),
            extra: Some(waited_for_carrier),
            ..Scenario::base("faults-net-late-carrier", "peer raises its end 1.5 s after flint starts: waits, success")
        },
    ]
}

#[cfg(test)]
mod tests {
    #[test]
    fn failures_name_their_phase() {
        assert_eq!(crate::harness::scenario::unnamed_failures(&super::all()), Vec::<&str>::new());
    }
}
