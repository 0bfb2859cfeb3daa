//! The dual-stack checks: exit and time, the files under the root, the report with the fields
//! issue #11 adds (`addresses`, `dns_servers`, `search`, `endpoint`), flint's stderr with the
//! `dns` phase, the mock's request line and `Host`, and the side effects (`disable_ipv6` put
//! back, the drop counters, the kernel kept off eth0); plus the case-specific `extra` checks
//! (search order, transport, the capture).

use std::collections::BTreeSet;
use std::net::{IpAddr, Ipv6Addr};

use serde_json::Value;

use super::case::*;
use super::fixture::eui64_link_local;
use crate::harness::drivecase::check_exit_and_time;
use crate::harness::handoff::{self, ReportWant, rel};
use crate::harness::report;

/// The log phases: the contract's, and `dns` (issue #11).
pub fn exit_and_time(c: &Case, r: &Run) -> Vec<String> {
    let why = ": a definite answer (or a dead family) must not cost more";
    check_exit_and_time(r.exit, r.elapsed, c.exit, c.budget, c.within, why)
}

/// Only the report and, on success, the output (0600, the expected bytes) under the root.
pub fn files(c: &Case, r: &Run) -> Vec<String> {
    let mut want: BTreeSet<String> = [rel(REPORT)].into();
    let ok = r.exit == Some(0);
    if ok {
        want.insert(rel(OUTPUT));
    }
    let expected = r.expected.as_deref().filter(|_| ok && c.success());
    handoff::tree(&r.root, &want, &[rel(OUTPUT)], expected, "served")
}

/// `"addr/len"` → (address, prefix length)
pub fn parse_cidr(s: &str) -> Option<(IpAddr, u8)> {
    let (a, l) = s.split_once('/')?;
    let len: u8 = l.parse().ok()?;
    let ip: IpAddr = a.parse().ok()?;
    let max = if ip.is_ipv4() { 32 } else { 128 };
    (len <= max).then_some((ip, len))
}

fn in_fd00_64(ip: &Ipv6Addr) -> bool {
    ip.segments()[..4] == [0xfd00, 0, 0, 0]
}

fn is_dhcp6(ip: &Ipv6Addr) -> bool {
    let s = ip.segments();
    in_fd00_64(ip) && s[4..7] == [0, 0, 0] && (DHCP6_POOL.0..=DHCP6_POOL.1).contains(&s[7])
}

fn strings(v: &Value, key: &str, bad: &mut Vec<String>) -> Vec<String> {
    match v[key].as_array() {
        Some(a) if a.iter().all(Value::is_string) => a.iter().filter_map(|x| x.as_str().map(String::from)).collect(),
        _ => {
            bad.push(format!("report {key} = {}, expected an array of strings", v[key]));
            Vec::new()
        }
    }
}

/// The report: the common fields, then what issue #11 adds.
pub fn report(c: &Case, r: &Run) -> Vec<String> {
    let source = matches!(c.exit, 0 | 3).then_some("service");
    let want = ReportWant { platform: c.platform, exit: c.exit, source, error_phase: c.error_phase };
    let (v, mut bad) = match handoff::report_common(r.report.as_ref(), r.exit, &want) {
        Ok(x) => x,
        Err(bad) => return bad,
    };
    for k in ["addresses", "dns_servers", "search", "endpoint"] {
        if v.get(k).is_none() {
            bad.push(format!("report lacks `{k}` (issue #11)"));
        }
    }
    if !v["mac"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(&r.client_mac)) {
        bad.push(format!("report mac = {}, expected \"{}\"", v["mac"], r.client_mac));
    }
    let t = &v["timings_us"];
    bad.extend(report::check_total(t, (c.budget * 1e6) as u64));

    // Addresses: every entry CIDR text; what the case's link must have given.
    let addrs = strings(v, "addresses", &mut bad);
    let parsed: Vec<(IpAddr, u8)> = addrs
        .iter()
        .filter_map(|a| {
            let p = parse_cidr(a);
            if p.is_none() {
                bad.push(format!("report addresses holds {a:?}, not CIDR text"));
            }
            p
        })
        .collect();
    let v6: Vec<Ipv6Addr> =
        parsed.iter().filter_map(|(ip, _)| if let IpAddr::V6(a) = ip { Some(*a) } else { None }).collect();
    let reached = r.exit == Some(0) || r.exit == Some(3);
    for w in c.addrs {
        let ok = match w {
            AddrWant::Slaac => {
                parsed.iter().any(|(ip, l)| matches!(ip, IpAddr::V6(a) if in_fd00_64(a) && !is_dhcp6(a)) && *l == 64)
            }
            AddrWant::Dhcp6 => v6.iter().any(is_dhcp6),
            AddrWant::Dhcp4 => parsed.iter().any(|(ip, l)| {
                matches!(ip, IpAddr::V4(a) if a.octets()[..3] == [10, 0, 0] && (50..=150).contains(&a.octets()[3]))
                    && *l == 24
            }),
            AddrWant::LinkLocal6 => {
                parsed.iter().any(|(ip, l)| matches!(ip, IpAddr::V6(a) if a.segments()[0] == 0xfe80) && *l == 64)
            }
            AddrWant::NoV4 => !parsed.iter().any(|(ip, _)| ip.is_ipv4()),
            AddrWant::NoV6Global => !v6.iter().any(|a| a.segments()[0] & 0xffc0 != 0xfe80),
            AddrWant::NotEui64 => eui64_link_local(&r.client_mac).is_none_or(|e| !v6.contains(&e)),
        };
        // Positive expectations only hold once the network got that far.
        let positive = matches!(w, AddrWant::Slaac | AddrWant::Dhcp6 | AddrWant::Dhcp4 | AddrWant::LinkLocal6);
        if !ok && (reached || !positive) {
            bad.push(format!("report addresses {addrs:?}: expected {w:?}"));
        }
    }
    if let Some(dhcp6) = v6.iter().find(|a| is_dhcp6(a))
        && c.v6 == V6::Stateful
        && !r.dnsmasq_log.contains(&dhcp6.to_string())
    {
        bad.push(format!("report address {dhcp6} is not one dnsmasq's DHCPv6 handed out"));
    }
    // The connection that fetched came from one of the reported addresses.
    if reached {
        for e in r.log.iter().filter(|e| e.method == "GET") {
            let Some(peer) = e.peer.as_deref().and_then(|p| p.parse::<IpAddr>().ok()) else { continue };
            let peer = match peer {
                IpAddr::V6(a) => a.to_ipv4_mapped().map_or(IpAddr::V6(a), IpAddr::V4),
                p => p,
            };
            if !parsed.iter().any(|(ip, _)| *ip == peer) {
                bad.push(format!("the mock was asked from {peer}, which the report's addresses {addrs:?} do not hold"));
                break;
            }
        }
    }

    let dns = strings(v, "dns_servers", &mut bad);
    for d in c.dns_servers {
        if reached && !dns.iter().any(|x| x == d) {
            bad.push(format!("report dns_servers = {dns:?}, expected {d}"));
        }
    }
    let search = strings(v, "search", &mut bad);
    for s in c.search {
        if reached && !search.iter().any(|x| x.trim_end_matches('.') == *s) {
            bad.push(format!("report search = {search:?}, expected {s}"));
        }
    }
    match (&v["endpoint"], reached) {
        (Value::String(e), true) if c.endpoint.is_empty() || c.endpoint.contains(&e.as_str()) => {}
        (e, true) => bad.push(format!("report endpoint = {e}, expected one of {:?}", c.endpoint)),
        (Value::Null, false) => {}
        (e, false) => bad.push(format!("report endpoint = {e} after a failure, expected null")),
    }
    bad
}

/// The mock saw the exact request target and `Host` (`--url`), and the decoy nothing.
pub fn mock_log(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if let (Some((target, host)), Some(0 | 3)) = (c.target, r.exit) {
        let gets: Vec<_> = r.log.iter().filter(|e| e.method == "GET").collect();
        if gets.len() != 1 {
            bad.push(format!("{} GETs logged, expected exactly one (--url: one GET)", gets.len()));
        }
        if !gets.iter().any(|e| e.path == target) {
            let seen: Vec<&str> = gets.iter().map(|e| e.path.as_str()).collect();
            bad.push(format!("the mock saw targets {seen:?}, expected {target:?} byte for byte"));
        }
        if !gets.iter().any(|e| e.host.as_deref() == Some(host)) {
            let seen: Vec<Option<&str>> = gets.iter().map(|e| e.host.as_deref()).collect();
            bad.push(format!("Host headers {seen:?}, expected {host:?}"));
        }
        if r.log.iter().any(|e| e.method != "GET") {
            bad.push("a --url fetch sent something else than its one GET".into());
        }
    }
    if !r.decoy_log.is_empty() {
        let lines: Vec<String> = r.decoy_log.iter().map(|e| e.to_string()).collect();
        bad.push(format!("the decoy (bare `metadata`) was asked: {lines:?}"));
    }
    bad
}

/// `disable_ipv6` put back; drop rules that had to be hit were; sampled state sane.
pub fn side_effects(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if r.disable_ipv6_after != c.disable_ipv6_before {
        bad.push(format!(
            "eth0 disable_ipv6 = {:?} after the run, was {:?} before: not restored",
            r.disable_ipv6_after, c.disable_ipv6_before
        ));
    }
    for (d, (rule, n)) in c.drops.iter().zip(&r.drop_counters) {
        if d.must_hit && *n == 0 {
            bad.push(format!("nothing hit `{rule}`: flint never tried that family's endpoint"));
        }
    }
    bad
}

/// aws: the user-data GET follows the token PUT within the HE delay and some slack (a family
/// already known to work, or a dead one, may cost at most the delay).
pub fn token_to_get(c: &Case, r: &Run) -> Vec<String> {
    if c.platform != "aws" || r.exit != Some(0) {
        return Vec::new();
    }
    let put = r.log.iter().find(|e| e.method == "PUT").map(|e| e.t_ms);
    let get = r.log.iter().find(|e| e.method == "GET").map(|e| e.t_ms);
    match (put, get) {
        (Some(p), Some(g)) if g.saturating_sub(p) > 350 => {
            vec![format!("the GET came {} ms after the token PUT: more than the 250 ms HE delay (+100 ms)", g - p)]
        }
        _ => Vec::new(),
    }
}

// --- case-specific checks ----------------------------------------------------------------

/// Happy Eyeballs seen on the wire: once flint sent its first SYN to [fd00:ec2::254] (dropped),
/// its first SYN to 169.254.169.254 follows within the 250 ms delay (+100 ms), when it already
/// had its IPv4 lease. Vacuous when flint never tried IPv6 (IPv4 came first and won).
pub fn he_delay_on_the_wire(r: &Run) -> Vec<String> {
    let Some(cap) = r.capture.as_deref() else { return vec!["no capture".into()] };
    let stamp = |l: &str| l.split_whitespace().next().and_then(|t| t.parse::<f64>().ok());
    let syn = |to: &str| cap.lines().find(|l| l.contains(to) && l.contains("Flags [S]")).and_then(stamp);
    let lease = cap.lines().find(|l| l.contains("BOOTP/DHCP, Reply")).and_then(stamp);
    let (Some(t6), Some(t4)) = (syn("> fd00:ec2::254.80:"), syn("> 169.254.169.254.80:")) else { return Vec::new() };
    match lease {
        Some(l) if l <= t6 && t4 > t6 + 0.35 => {
            vec![format!(
                "first IPv4 SYN {:.0} ms after the first (dropped) IPv6 SYN, with the lease already there: more than the 250 ms HE delay",
                (t4 - t6) * 1000.0
            )]
        }
        _ => Vec::new(),
    }
}

/// The search list before the bare name: dnsmasq's first query is `metadata.example.internal`.
pub fn search_order(r: &Run) -> Vec<String> {
    let queries: Vec<&str> = r
        .dnsmasq_log
        .lines()
        .filter_map(|l| l.split("]: query[").nth(1).or_else(|| l.split("dnsmasq: query[").nth(1)))
        .collect();
    match queries.first() {
        Some(q) if q.contains("] metadata.example.internal ") => Vec::new(),
        _ => vec![format!(
            "first DNS queries {:?}: expected metadata.example.internal first (search list before the bare name)",
            &queries[..queries.len().min(4)]
        )],
    }
}

/// The truncated UDP answer was followed by the same question over TCP.
pub fn resolved_over_tcp(r: &Run) -> Vec<String> {
    let udp_tc = r.dns_log.iter().any(|e| e.transport == "udp" && e.tc);
    let tcp = r.dns_log.iter().any(|e| e.transport == "tcp" && e.qname == "metadata.example.internal");
    if udp_tc && tcp {
        Vec::new()
    } else {
        let seen: Vec<String> = r
            .dns_log
            .iter()
            .map(|e| format!("{} {} {}{}", e.transport, e.qname, e.qtype, if e.tc { " TC" } else { "" }))
            .collect();
        vec![format!("expected a truncated UDP answer then the query over TCP, the server saw {seen:?}")]
    }
}

/// The silent server was asked (flint used the announced server, and gave up on it).
pub fn silent_server_asked(r: &Run) -> Vec<String> {
    if r.dns_log.is_empty() { vec!["the silent DNS server never received a query".into()] } else { Vec::new() }
}

/// Frames of the capture sent by flint's MAC.
fn flint_frames(r: &Run) -> Vec<&str> {
    let mac = r.client_mac.to_ascii_lowercase();
    r.capture
        .as_deref()
        .unwrap_or("")
        .lines()
        .filter(|l| l.to_ascii_lowercase().contains(&format!(" {mac} > ")))
        .collect()
}

/// `--family ipv6`: not one IPv4 frame (no DHCPv4, no ARP for an IPv4 link-local address).
pub fn no_ipv4_frames(r: &Run) -> Vec<String> {
    let v4: Vec<&str> =
        flint_frames(r).into_iter().filter(|l| l.contains("ethertype IPv4") || l.contains("ethertype ARP")).collect();
    if r.capture.is_none() {
        return vec!["no capture".into()];
    }
    if v4.is_empty() {
        Vec::new()
    } else {
        vec![format!("--family ipv6, yet flint sent IPv4/ARP: {:?}", &v4[..v4.len().min(3)])]
    }
}

/// `--family ipv4`: not one IPv6 frame.
pub fn no_ipv6_frames(r: &Run) -> Vec<String> {
    if r.capture.is_none() {
        return vec!["no capture".into()];
    }
    let v6: Vec<&str> = flint_frames(r).into_iter().filter(|l| l.contains("ethertype IPv6")).collect();
    if v6.is_empty() {
        Vec::new()
    } else {
        // From flint's MAC: flint's own frames, or the kernel's when flint left its IPv6 on.
        vec![format!(
            "--family ipv4, yet IPv6 left flint's NIC (flint's or the kernel's): {:?}",
            &v6[..v6.len().min(3)]
        )]
    }
}

/// The DAD case: flint probed its EUI-64 link-local address (a DAD NS for it, so the conflict
/// was there to notice), and once the peer's NA defended it, flint never again used it as a
/// source address.
pub fn dad_noticed(r: &Run) -> Vec<String> {
    let Some(ll) = eui64_link_local(&r.client_mac).map(|a| a.to_string()) else { return vec!["bad MAC".into()] };
    let Some(cap) = r.capture.as_deref() else { return vec!["no capture".into()] };
    let mac = r.client_mac.to_ascii_lowercase();
    let probe = r.probe_mac.to_ascii_lowercase();
    let lines: Vec<&str> = cap.lines().collect();
    // tcpdump -v prints a frame over two lines; join each frame's lines.
    let mut frames: Vec<String> = Vec::new();
    for l in lines {
        if l.starts_with(char::is_numeric) {
            frames.push(l.to_string());
        } else if let Some(last) = frames.last_mut() {
            last.push(' ');
            last.push_str(l.trim());
        }
    }
    let stamp = |f: &str| f.split_whitespace().next().and_then(|t| t.parse::<f64>().ok()).unwrap_or(0.0);
    let ns_for_ll = frames.iter().any(|f| {
        f.contains(&format!("{mac} > ")) && f.contains("neighbor solicitation") && f.contains(&format!("who has {ll}"))
    });
    let mut bad = Vec::new();
    if !ns_for_ll {
        bad.push(format!(
            "flint sent no neighbor solicitation for {ll} (its EUI-64 link-local): no DAD to notice the conflict"
        ));
    }
    let defended = frames
        .iter()
        .find(|f| {
            f.contains(&format!("{probe} > "))
                && f.contains("neighbor advertisement")
                && f.contains(&format!("tgt is {ll}"))
        })
        .map(|f| stamp(f));
    match defended {
        None => bad.push(format!("the peer never defended {ll} (no NA in the capture)")),
        Some(t) => {
            let after: Vec<&String> = frames
                .iter()
                .filter(|f| f.contains(&format!("{mac} > ")) && stamp(f) > t + 0.05 && f.contains(&format!(" {ll} > ")))
                .collect();
            if !after.is_empty() {
                bad.push(format!(
                    "flint kept sending from {ll} after the peer defended it: {:?}",
                    &after[..after.len().min(2)]
                ));
            }
        }
    }
    bad
}

/// While flint ran with eth0 up, `disable_ipv6` was 1 and the kernel held no IPv6 address there.
pub fn kernel_kept_off(r: &Run) -> Vec<String> {
    let up: Vec<&(String, u32, String)> = r.samples.iter().filter(|(_, _, o)| o == "up" || o == "unknown").collect();
    let mut bad = Vec::new();
    // A run shorter than the 20 ms sampling period leaves nothing to hold here (the kernel's
    // own IPv6 then shows in the capture: MLD reports and DAD from flint's MAC).
    if let Some(s) = up.iter().find(|(v, _, _)| v != "1") {
        bad.push(format!("eth0 up with disable_ipv6 = {} while flint ran: the kernel could configure it", s.0));
    }
    if let Some(s) = r.samples.iter().find(|(_, n, _)| *n > 0) {
        bad.push(format!("the kernel held {} IPv6 address(es) on eth0 while flint ran", s.1));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::checks::check_stderr;

    #[test]
    fn stderr_knows_the_dns_phase() {
        assert!(check_stderr("flint: dns: metadata.example.internal AAAA fd00::80\n", 0, None).is_empty());
        assert!(check_stderr("flint: error: dns: nothere.example.internal: NXDOMAIN\n", 4, Some("dns")).is_empty());
        assert!(!check_stderr("flint: error: link: x\n", 4, Some("dns")).is_empty());
        assert!(!check_stderr("flint: bogus: x\n", 0, None).is_empty());
        assert!(!check_stderr("flint: error: dns: a\nflint: error: dns: b\n", 4, Some("dns")).is_empty());
    }

    #[test]
    fn cidrs_and_pools() {
        assert_eq!(parse_cidr("fd00::1:2/64"), Some(("fd00::1:2".parse().unwrap(), 64)));
        assert_eq!(parse_cidr("10.0.0.2/24"), Some(("10.0.0.2".parse().unwrap(), 24)));
        assert!(parse_cidr("10.0.0.2/33").is_none() && parse_cidr("fd00::1").is_none());
        assert!(is_dhcp6(&"fd00::1a0".parse().unwrap()) && !is_dhcp6(&"fd00::f1:17ff:fe00:1".parse().unwrap()));
    }
}
