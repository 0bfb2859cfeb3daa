//! The NoCloud cases' checks: what the winning source says about the instance (`identity`),
//! the files under `--root` (exactly the expected set, modes, bytes), the report, the seed
//! mock's log (paths, `Host`, the address flint used), and the hand-off files: Afterburn's
//! attributes with their platform's names, the Ignition fragment, the seed directory.

use std::collections::BTreeSet;

use serde_json::Value;

use super::case::*;
use crate::harness::handoff::{self, FRAGMENT, ReportWant, USER_IGN, rel, seed};
use crate::mock::nocloud;

/// What the source that answered says about the instance.
#[derive(Debug, Default)]
pub struct Identity {
    pub instance_id: String,
    pub hostname: Option<String>,
    pub keys: Vec<String>,
    /// `instance-type` (KubeVirt's JSON).
    pub instance_type: Option<String>,
}

pub fn identity(c: &Case) -> Option<Identity> {
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    match c.source? {
        "service" if c.seed.is_some_and(|s| !s.meta_data) => Some(Identity::default()),
        "service" => Some(Identity {
            instance_id: nocloud::INSTANCE_ID.into(),
            hostname: Some(nocloud::HOSTNAME.into()),
            keys: keys(&nocloud::KEYS),
            instance_type: None,
        }),
        _ => {
            let d = c.drive?;
            Some(match d.meta {
                Meta::Proxmox => {
                    let cc = matches!(d.user_data, UserData::ProxmoxCloudConfig | UserData::UsersCloudConfig);
                    Identity {
                        instance_id: PVE_INSTANCE_ID.into(),
                        hostname: cc.then(|| PVE_HOSTNAME.into()),
                        keys: if cc { keys(&nocloud::PLAIN_KEYS) } else { Vec::new() },
                        instance_type: None,
                    }
                }
                Meta::Yaml => Identity {
                    instance_id: nocloud::INSTANCE_ID.into(),
                    hostname: Some(nocloud::HOSTNAME.into()),
                    keys: keys(&nocloud::KEYS),
                    instance_type: None,
                },
                Meta::Kubevirt => Identity {
                    instance_id: KV_INSTANCE_ID.into(),
                    hostname: Some(KV_HOSTNAME.into()),
                    keys: Vec::new(),
                    instance_type: Some(KV_INSTANCE_TYPE.into()),
                },
            })
        }
    }
}

/// The user-data flint must have written, when it wrote any.
pub fn expected_user_data<'r>(c: &Case, r: &'r Run) -> Option<&'r [u8]> {
    if !matches!(c.exit, 0 | 6 | 7) {
        return None;
    }
    match c.source? {
        "drive" => r.drive.as_ref()?.user_data.as_deref(),
        _ => Some(&r.served),
    }
}

/// Afterburn's attributes for what the drive says (Afterburn `src/providers/proxmoxve`,
/// `src/providers/kubevirt`): `IPV4` is the first static IPv4 of the network configuration.
pub fn expected_attributes(c: &Case) -> Vec<(String, String)> {
    let (Some(d), Some(id)) = (c.drive, identity(c)) else { return Vec::new() };
    let ipv4 = matches!(d.net, NetCfg::V1 | NetCfg::V2(_) | NetCfg::V1WrongMac)
        .then(|| c.addr.to_string())
        .or_else(|| (d.net == NetCfg::V1OtherAddr).then(|| OTHER_ADDR.to_string()));
    let v: Vec<(&str, Option<String>)> = match c.platform {
        "proxmoxve" => {
            vec![
                ("PROXMOXVE_HOSTNAME", id.hostname),
                ("PROXMOXVE_INSTANCE_ID", Some(id.instance_id)),
                ("PROXMOXVE_IPV4", ipv4),
            ]
        }
        "kubevirt" => vec![
            ("KUBEVIRT_INSTANCE_ID", Some(id.instance_id)),
            ("KUBEVIRT_HOSTNAME", id.hostname),
            ("KUBEVIRT_INSTANCE_TYPE", id.instance_type),
            ("KUBEVIRT_IPV4", ipv4),
        ],
        _ => Vec::new(),
    };
    v.into_iter().filter_map(|(k, v)| v.map(|v| (format!("AFTERBURN_{k}"), v))).collect()
}

/// The seed files flint must write: a drive's files verbatim, or its own `user-data` and
/// `meta-data` from the service.
fn expected_seed(c: &Case, r: &Run) -> Vec<String> {
    match (c.source, &r.drive) {
        (Some("drive"), Some(d)) => d.files().into_iter().map(|(n, _)| seed(n)).collect(),
        // No instance id, no seed (exit 6).
        (Some("service"), _) if c.seed.is_some_and(|s| !s.meta_data) => Vec::new(),
        (Some("service"), _) => vec![seed("user-data"), seed("meta-data")],
        _ => Vec::new(),
    }
}

/// The tree under the root is exactly what the run should leave, with each file's mode and the
/// user-data's bytes.
pub fn files(c: &Case, r: &Run) -> Vec<String> {
    let mut want: BTreeSet<String> = [rel(REPORT)].into();
    let user_data = expected_user_data(c, r);
    if user_data.is_some() {
        want.insert(rel(OUTPUT));
    }
    if c.handoff
        && let Some(id) = identity(c)
    {
        let is_ignition = user_data.is_some_and(|u| {
            serde_json::from_slice::<Value>(u).is_ok_and(|v| v["ignition"]["version"].as_str().is_some())
        });
        if is_ignition && matches!(c.exit, 0 | 6) {
            want.extend(USER_IGN.map(String::from));
        }
        if id.hostname.is_some() || !id.keys.is_empty() {
            want.extend(FRAGMENT.map(String::from));
        }
        if c.has_attributes() && !expected_attributes(c).is_empty() {
            want.insert(rel(ATTRIBUTES));
        }
        want.extend(expected_seed(c, r));
    }
    let secret = [rel(OUTPUT), USER_IGN[0].into(), USER_IGN[1].into(), seed("user-data")];
    handoff::tree(&r.root, &want, &secret, user_data, "served")
}

/// The report against docs/contract.md and the case: platform, exit, source, failed phase,
/// and where the network got to (no NIC: nothing; a static configuration: mode `static` and
/// the configured address and router; the seed's address as the server).
pub fn report(c: &Case, r: &Run) -> Vec<String> {
    let want = ReportWant { platform: c.platform, exit: c.exit, source: c.source, error_phase: c.error_phase };
    let (v, mut bad) = match handoff::report_common(r.report.as_ref(), r.exit, &want) {
        Ok(x) => x,
        Err(bad) => return bad,
    };
    match (&r.mac, c.seed) {
        (None, _) => {
            for k in ["interface", "mac", "address", "router", "server"] {
                if !v[k].is_null() {
                    bad.push(format!("report {k} = {} without any NIC", v[k]));
                }
            }
            if v["mode"] != "none" {
                bad.push(format!("report mode = {}, expected \"none\" without any NIC", v["mode"]));
            }
        }
        (Some(mac), Some(s)) if c.source == Some("service") => {
            if v["interface"] != crate::harness::netns::CLIENT_IF {
                bad.push(format!("report interface = {}, expected eth0", v["interface"]));
            }
            if !v["mac"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(mac)) {
                bad.push(format!("report mac = {}, expected {mac}", v["mac"]));
            }
            if c.static_applies() {
                if v["mode"] != "static" {
                    bad.push(format!("report mode = {}, expected \"static\"", v["mode"]));
                }
                let want = format!("{}/24", c.addr);
                if v["address"] != want.as_str() {
                    bad.push(format!("report address = {}, expected {want}", v["address"]));
                }
                if v["router"] != crate::harness::netns::ROUTER_IP {
                    bad.push(format!("report router = {}, expected {}", v["router"], crate::harness::netns::ROUTER_IP));
                }
            }
            if v["server"] != s.ip() {
                bad.push(format!("report server = {}, expected the seed's {}", v["server"], s.ip()));
            }
        }
        _ => {}
    }
    let t = &v["timings_us"];
    if let Some(total) = t["total"].as_u64() {
        if total as f64 > (c.budget + 0.5) * 1e6 {
            bad.push(format!("report total {total} us is past the budget"));
        }
    } else if r.exit.is_some() {
        bad.push(format!("report timings_us.total = {}", t["total"]));
    }
    bad
}

/// The seed mock's log: nothing but what a NoCloud client asks (the seed's exact paths), each
/// with the seed URL's `Host`, from the address the configuration gave; the user-data first.
pub fn mock_log(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(s) = c.seed else { return bad };
    let ud = format!("{}user-data", s.mock_path);
    let md = format!("{}meta-data", s.mock_path);
    for e in &r.log {
        if e.host.as_deref() != Some(s.host().as_str()) {
            bad.push(format!("request with Host {:?}, expected {:?}: {e}", e.host, s.host()));
        }
        if c.static_applies() && e.peer.as_deref() != Some(c.addr) {
            bad.push(format!("request from {:?}, expected the configured address {}: {e}", e.peer, c.addr));
        }
        if e.method != "GET" || (e.path != ud && e.path != md) {
            bad.push(format!("unexpected request: {e}"));
        }
    }
    if c.source == Some("service") {
        let gets = r.gets();
        let want_ud = if s.user_data { 200 } else { 404 };
        if gets.first() != Some(&(ud.as_str(), want_ud)) {
            bad.push(format!("first GET {:?}, expected {ud} → {want_ud}", gets.first()));
        }
        let want_md = if s.meta_data { 200 } else { 404 };
        if c.handoff && s.user_data && !gets.contains(&(md.as_str(), want_md)) {
            bad.push(format!("{md} never fetched, though the seed and fragment need it"));
        }
    }
    bad
}

/// The hand-off files: attributes exactly, the fragment, the seed (a drive's files byte for
/// byte; from the service, flint's `meta-data`), `user.ign` byte for byte.
pub fn handoff(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(id) = identity(c) else { return bad };
    let read = |f: &str| std::fs::read(r.root.join(f));

    let want_attrs = expected_attributes(c);
    if c.has_attributes() && !want_attrs.is_empty() {
        bad.extend(handoff::attributes(&r.root, ATTRIBUTES, want_attrs));
    }
    if id.hostname.is_some() || !id.keys.is_empty() {
        bad.extend(handoff::fragment_files(&r.root, id.hostname.as_deref(), &id.keys));
    }

    match (c.source, &r.drive) {
        (Some("drive"), Some(d)) => {
            for (name, bytes) in d.files() {
                if read(&seed(name)).ok().as_deref() != Some(bytes) {
                    bad.push(format!("{SEED_DIR}/{name} is not the drive's file byte for byte"));
                }
            }
        }
        (Some("service"), _) if c.seed.is_some_and(|s| !s.meta_data) => {}
        (Some("service"), _) => {
            let ud = expected_user_data(c, r).unwrap_or(b"");
            bad.extend(handoff::seed_files(&r.root, nocloud::INSTANCE_ID, nocloud::HOSTNAME, &id.keys, ud));
        }
        _ => {}
    }

    if matches!(c.exit, 0 | 6)
        && let Some(ud) = expected_user_data(c, r)
        && serde_json::from_slice::<Value>(ud).is_ok()
    {
        bad.extend(handoff::user_ign(&r.root, ud));
    }
    bad
}

// --- case-specific checks (`Case::extra`) -----------------------------------------------------

/// The drive found by scanning names the loop device it was on.
pub fn found_on_loop(_c: &Case, r: &Run) -> Vec<String> {
    handoff::found_on_loop(&r.stderr, r.device.as_deref())
}

fn static_from(r: &Run, want: &str) -> Vec<String> {
    match &r.report {
        Some(v) if v["static_from"] == want => Vec::new(),
        Some(v) => vec![format!("report static_from = {}, expected {want:?}", v["static_from"])],
        None => vec!["no report".into()],
    }
}

pub fn static_from_ip_arg(_c: &Case, r: &Run) -> Vec<String> {
    static_from(r, "ip=")
}

pub fn static_from_network_config(_c: &Case, r: &Run) -> Vec<String> {
    static_from(r, "network-config")
}

/// The drive answered: the scan found it, and the seed got at most the user-data request that
/// raced it.
pub fn drive_won_seed_quiet(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = found_on_loop(c, r);
    if r.log.iter().any(|e| !e.path.ends_with("/user-data")) {
        bad.push(format!("the drive answered, yet the seed was asked {:?}", r.gets()));
    }
    bad
}

/// The configuration for another MAC was said to have nothing for eth0; DHCP gave the
/// address the seed saw (dnsmasq's pool), and the report says so.
pub fn wrong_mac_then_dhcp(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = wrong_mac_unused(c, r);
    bad.extend(lease_reached_seed(c, r));
    bad
}

/// A `dhcp4` entry forces DHCP: with no server there is no link-local address, and the seed is
/// never reached.
pub fn dhcp_forced_no_link_local(_c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if let Some(v) = &r.report
        && (v["mode"] == "link-local" || v["address"].as_str().is_some_and(|a| a.starts_with("169.254.")))
    {
        bad.push(format!("report mode {} address {}: a link-local fallback despite dhcp4", v["mode"], v["address"]));
    }
    if !r.log.is_empty() {
        bad.push(format!("the seed was reached without an address: {:?}", r.gets()));
    }
    bad
}

/// The seed saw a lease from dnsmasq's pool, and the report says `dhcp`.
pub fn lease_reached_seed(_c: &Case, r: &Run) -> Vec<String> {
    let (lo, hi) = crate::harness::netns::POOL;
    let in_pool =
        |p: &str| p.strip_prefix("10.0.0.").and_then(|n| n.parse::<u8>().ok()).is_some_and(|n| (lo..=hi).contains(&n));
    let mut bad: Vec<String> = r
        .log
        .iter()
        .filter(|e| !e.peer.as_deref().is_some_and(in_pool))
        .map(|e| format!("request from {:?}, expected a lease from dnsmasq's pool: {e}", e.peer))
        .collect();
    if r.log.is_empty() {
        bad.push("the seed was never asked".into());
    }
    if let Some(v) = &r.report
        && (v["mode"] != "dhcp" || !v["static_from"].is_null())
    {
        bad.push(format!("report mode {} static_from {}, expected dhcp and null", v["mode"], v["static_from"]));
    }
    bad
}

/// A seed by host name where no name server is known: never asked (the drive answers first).
pub fn seed_not_asked(_c: &Case, r: &Run) -> Vec<String> {
    match r.log.is_empty() {
        true => Vec::new(),
        false => vec![format!("the seed was asked: {:?}", r.gets())],
    }
}

/// A seed this build cannot fetch (https) is logged as not used and never asked.
pub fn seed_not_used(_c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if !r.stderr.lines().any(|l| l.contains("not used")) {
        bad.push("no log line says the seed is not used".into());
    }
    if !r.log.is_empty() {
        bad.push(format!("the seed was asked: {:?}", r.gets()));
    }
    bad
}

/// `ip=` for another interface: said to have nothing for eth0, its address never used.
pub fn other_iface_unused(c: &Case, r: &Run) -> Vec<String> {
    let mut bad: Vec<String> = r
        .log
        .iter()
        .filter(|e| e.peer.as_deref() == Some(c.addr))
        .map(|e| format!("a request came from the address ip= gave ens3: {e}"))
        .collect();
    if !r.stderr.lines().any(|l| l.starts_with("flint: address: ip=: nothing for eth0")) {
        bad.push("no `flint: address: ip=: nothing for eth0` line".into());
    }
    bad
}

/// The seed never saw the address of a configuration that names another NIC.
pub fn wrong_mac_unused(c: &Case, r: &Run) -> Vec<String> {
    let mut bad: Vec<String> = r
        .log
        .iter()
        .filter(|e| e.peer.as_deref() == Some(c.addr))
        .map(|e| format!("a request came from the address configured for another MAC: {e}"))
        .collect();
    if !r.stderr.lines().any(|l| l.starts_with("flint: address: network-config: nothing for eth0")) {
        bad.push("no `flint: address: network-config: nothing for eth0` line".into());
    }
    if let Some(v) = &r.report
        && v["address"].as_str().is_some_and(|a| a.starts_with(&format!("{}/", c.addr)))
    {
        bad.push(format!("report address {} is the one configured for another MAC", v["address"]));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::harness::drivecase::Observed;
    use crate::mock::LogEntry;
    use std::time::Duration;

    fn entry(path: &str, status: u16, host: &str, peer: &str) -> LogEntry {
        LogEntry {
            t_ms: 1,
            method: "GET".into(),
            path: path.into(),
            status,
            token_sent: false,
            token_valid: false,
            accept: None,
            bytes: 0,
            host: Some(host.into()),
            peer: Some(peer.into()),
            peer_port: None,
        }
    }

    fn run(log: Vec<LogEntry>, root: &std::path::Path) -> Run {
        Run {
            seen: Observed {
                exit: Some(0),
                elapsed: Duration::from_millis(20),
                stderr: String::new(),
                log,
                root: root.to_path_buf(),
                dir: root.to_path_buf(),
                report: None,
                device: None,
            },
            drive: None,
            served: b"{}".to_vec(),
            mac: Some("02:f1:17:00:00:01".into()),
        }
    }

    /// The seed log check fails on each thing a real NoCloud client must get right.
    #[test]
    fn seed_log_bites() {
        let c = Case::seed("x", "", "10.0.0.23");
        let dir = crate::support::util::ScratchDir::new("nocloud-checks").unwrap();
        let (ud, md) = ("/nocloud/flint-nc-01/user-data", "/nocloud/flint-nc-01/meta-data");
        let good = || vec![entry(ud, 200, "10.0.0.1:8000", "10.0.0.23"), entry(md, 200, "10.0.0.1:8000", "10.0.0.23")];
        assert_eq!(mock_log(&c, &run(good(), dir.path())), Vec::<String>::new());
        let mut wrong_host = good();
        wrong_host[0].host = Some("10.0.0.1".into());
        assert!(mock_log(&c, &run(wrong_host, dir.path()))[0].contains("Host"));
        let mut dhcp_address = good();
        dhcp_address[1].peer = Some("10.0.0.77".into());
        assert!(mock_log(&c, &run(dhcp_address, dir.path()))[0].contains("configured address"));
        let mut stray = good();
        stray.push(entry("/nocloud/flint-nc-01/vendor-data", 404, "10.0.0.1:8000", "10.0.0.23"));
        assert!(mock_log(&c, &run(stray, dir.path()))[0].contains("unexpected request"));
        let meta_first = vec![good()[1].clone(), good()[0].clone()];
        assert!(!mock_log(&c, &run(meta_first, dir.path())).is_empty());
        let no_meta = vec![good()[0].clone()];
        assert!(mock_log(&c, &run(no_meta, dir.path()))[0].contains("never fetched"));
        // A lease seen by the seed fails the wrong-MAC-then-DHCP check only when outside the pool.
        let lease = vec![entry(ud, 200, "10.0.0.1:8000", "10.0.0.60")];
        let mut r = run(lease, dir.path());
        r.stderr = "flint: address: network-config: nothing for eth0\n".into();
        r.report = Some(serde_json::json!({"mode": "dhcp", "static_from": null}));
        assert_eq!(wrong_mac_then_dhcp(&c, &r), Vec::<String>::new());
        r.log[0].peer = Some("10.0.0.23".into());
        assert_eq!(wrong_mac_then_dhcp(&c, &r).len(), 2, "the configured address, outside the pool");
    }

    /// The file-set check fails on a stray temporary file and on a wrong mode.
    #[test]
    fn files_bite() {
        use std::os::unix::fs::PermissionsExt;
        let c = Case { handoff: false, ..Case::seed("x", "", "10.0.0.23") };
        let dir = crate::support::util::ScratchDir::new("nocloud-files").unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("run/flint")).unwrap();
        std::fs::write(root.join("run/flint/report.json"), "{}").unwrap();
        std::fs::write(root.join("run/flint/user-data"), "{}").unwrap();
        std::fs::set_permissions(root.join("run/flint/user-data"), std::fs::Permissions::from_mode(0o600)).unwrap();
        std::fs::set_permissions(root.join("run/flint/report.json"), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert_eq!(files(&c, &run(Vec::new(), root)), Vec::<String>::new());
        std::fs::write(root.join("run/flint/.user-data.tmp"), "").unwrap();
        assert!(files(&c, &run(Vec::new(), root))[0].contains("unexpected"));
        std::fs::remove_file(root.join("run/flint/.user-data.tmp")).unwrap();
        std::fs::set_permissions(root.join("run/flint/user-data"), std::fs::Permissions::from_mode(0o644)).unwrap();
        assert!(files(&c, &run(Vec::new(), root))[0].contains("mode 644"));
    }
}
