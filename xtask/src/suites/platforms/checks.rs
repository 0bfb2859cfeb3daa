//! The platform cases' checks: the files under `--root`, the report, the hand-offs against
//! the platform's facts (`expect.rs`), the mock's request log, the consumers, and each
//! platform's quirk (`Case::extra`).

use std::collections::BTreeSet;
use std::net::Ipv4Addr;

use serde_json::Value;

use super::case::{ATTRIBUTES, Case, DriveKind, Net, OTHER_ROUTER, Payload, Run};
use super::expect::{self, Identity};
use super::tls;
use crate::harness::handoff::{self, FRAGMENT, OUTPUT, REPORT, ReportWant, SEED_DIR, USER_IGN, rel, seed};
use crate::harness::netns::POOL;
use crate::mock::scaleway;

fn identity(c: &Case) -> Identity {
    expect::identity(c.platform, c.by_drive())
}

/// The user-data flint must have written, when it wrote any.
fn user_data<'r>(c: &Case, r: &'r Run) -> Option<&'r [u8]> {
    matches!(c.exit, 0 | 7).then_some(r.decoded.as_slice())
}

/// The seed's files: a NoCloud drive's own files verbatim (IBM Cloud's `cidata`), else
/// flint's `user-data` and `meta-data`.
fn seed_names(c: &Case, r: &Run) -> Vec<String> {
    if c.drive == Some(DriveKind::IbmCidata) {
        r.drive_files.iter().map(|(n, _)| seed(n)).collect()
    } else {
        vec![seed("user-data"), seed("meta-data")]
    }
}

/// Exactly the expected files, with their modes, and the user-data's bytes. A service that
/// answered wrongly (exit 5) leaves nothing but the report.
pub fn files(c: &Case, r: &Run) -> Vec<String> {
    let mut want: BTreeSet<String> = [rel(REPORT)].into();
    let secret = [rel(OUTPUT), USER_IGN[0].into(), USER_IGN[1].into(), seed("user-data")];
    if c.exit == 5 {
        return handoff::tree(&r.root, &want, &secret, None, "nothing, the service having failed");
    }
    let ud = user_data(c, r);
    if ud.is_some() {
        want.insert(rel(OUTPUT));
    }
    if c.exit == 0 && matches!(c.payload, Payload::Ignition | Payload::IgnitionGzip) {
        want.extend(USER_IGN.map(String::from));
    }
    want.extend(FRAGMENT.map(String::from));
    want.insert(rel(ATTRIBUTES));
    want.extend(seed_names(c, r));
    handoff::tree(&r.root, &want, &secret, ud, "decoded from what the platform served")
}

/// The report: the common fields, and for a service the address flint fetched from and how
/// it got its own.
pub fn report(c: &Case, r: &Run) -> Vec<String> {
    let want = ReportWant { platform: c.platform.as_str(), exit: c.exit, source: c.source, error_phase: c.error_phase };
    let (v, mut bad) = match handoff::report_common(r.report.as_ref(), r.exit, &want) {
        Ok(x) => x,
        Err(bad) => return bad,
    };
    if c.source == Some("service") {
        let server = if c.net == Net::DhcpDnsTls6 { tls::ADDRESS6 } else { expect::server(c.platform) };
        if v["server"] != server {
            bad.push(format!("report server = {}, expected \"{server}\"", v["server"]));
        }
        let mode = if c.net == Net::LinkLocal { "link-local" } else { "dhcp" };
        if v["mode"] != mode {
            bad.push(format!("report mode = {}, expected \"{mode}\"", v["mode"]));
        }
        // The fixture took: the lease named a router other than its server.
        if c.net == Net::DhcpOtherRouter && v["router"] != OTHER_ROUTER {
            bad.push(format!("report router = {}, expected the announced \"{OTHER_ROUTER}\"", v["router"]));
        }
    }
    bad
}

/// Attributes, fragment, seed and `user.ign` against the platform's facts (none after exit 5:
/// `files` holds them absent).
pub fn handoff(c: &Case, r: &Run) -> Vec<String> {
    if c.exit == 5 {
        return Vec::new();
    }
    let id = identity(c);
    let keys: Vec<String> = id.keys.iter().map(|k| k.to_string()).collect();
    let mut bad = handoff::attributes(&r.root, ATTRIBUTES, id.attributes.clone());
    bad.extend(handoff::fragment_files(&r.root, Some(id.hostname), &keys));
    if c.drive == Some(DriveKind::IbmCidata) {
        for (name, bytes) in &r.drive_files {
            if std::fs::read(r.root.join(seed(name))).ok().as_ref() != Some(bytes) {
                bad.push(format!("{SEED_DIR}/{name} is not the drive's file byte for byte"));
            }
        }
    } else {
        let ud = user_data(c, r).unwrap_or(b"");
        bad.extend(handoff::seed_files(&r.root, &id.instance_id, id.hostname, &keys, ud));
    }
    if c.exit == 0 && matches!(c.payload, Payload::Ignition | Payload::IgnitionGzip) {
        bad.extend(handoff::user_ign(&r.root, &r.decoded));
    }
    bad
}

/// The service's log: flint asked a user-data path, got it (or the platform's "none"), and
/// sent no request the service refused (a missing header, token or port would be 400/401/403).
pub fn mock_log(c: &Case, r: &Run) -> Vec<String> {
    if c.mock.is_none() {
        return if r.log.is_empty() { Vec::new() } else { vec!["a request logged without a service".into()] };
    }
    let mut bad = Vec::new();
    for e in r.entries().iter().filter(|e| matches!(e.status, 400 | 401 | 403 | 405)) {
        bad.push(format!("the service refused a request: {e}"));
    }
    // The drive won the race: the service may have been asked or not, but never refused. A
    // refused handshake lets no request through (`packet_tls` holds the log empty).
    if c.by_drive() || c.foreign_ca {
        return bad;
    }
    let paths = expect::user_data_paths(c.platform);
    let asked: Vec<_> = r.entries().iter().filter(|e| e.method == "GET" && paths.contains(&base(&e.path))).collect();
    match asked.last() {
        None => bad.push(format!("no GET of the user-data ({paths:?})")),
        Some(e) if c.exit == 0 && e.status != 200 => {
            bad.push(format!("the last user-data GET was answered {}", e.status))
        }
        Some(_) => {}
    }
    bad
}

/// A target without its query.
fn base(target: &str) -> &str {
    target.split('?').next().unwrap_or(target)
}

/// Ignition 2.14's fetch-offline on `user.ign` (with the platform's id where 2.14 knows it)
/// and cloud-init's NoCloud reader on the seed.
pub fn consumers(c: &Case, r: &Run) -> Vec<String> {
    let id = identity(c);
    let keys: Vec<String> = id.keys.iter().map(|k| k.to_string()).collect();
    let mut bad = Vec::new();
    if c.exit == 0 {
        match serde_json::from_slice::<Value>(&r.decoded) {
            Ok(served) => {
                let hostname = id.hostname;
                let check = |m: &Value| handoff::fragment(m, Some(hostname), &keys);
                bad.extend(handoff::ignition(
                    &r.root,
                    &r.dir,
                    expect::ignition_platform(c.platform),
                    &served,
                    Some(&check),
                ));
            }
            Err(e) => bad.push(format!("the served config is not JSON: {e}")),
        }
    }
    match handoff::nocloud_reader(&r.root, &r.dir, user_data(c, r).unwrap_or(b"")) {
        Ok((v, more)) => {
            bad.extend(more);
            if v["instance_id"] != id.instance_id.as_str() {
                bad.push(format!("NoCloud: instance id {}, expected {}", v["instance_id"], id.instance_id));
            }
            if v["local_hostname"] != id.hostname {
                bad.push(format!("NoCloud: local-hostname {}, expected {}", v["local_hostname"], id.hostname));
            }
            let got: Vec<&str> = v["public_keys"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
            // A `cidata` drive's seed is the drive's own files: its `meta-data` names no keys,
            // its `vendor-data` (copied too) carries them, and cloud-init applies that itself.
            let want: &[&str] =
                if c.platform == crate::mock::Platform::IbmCloud && c.by_drive() { &[] } else { &id.keys };
            if got != want {
                bad.push(format!("NoCloud: public keys {got:?}, expected {want:?}"));
            }
        }
        Err(e) => bad.extend(e),
    }
    bad
}

// --- each platform's quirk ---------------------------------------------------------------

/// DigitalOcean: no DHCP on the link, so every request came from a 169.254/16 address of
/// flint's own (not the service's).
pub fn link_local_peer(_c: &Case, r: &Run) -> Vec<String> {
    let bad: Vec<String> = r
        .entries()
        .iter()
        .filter(|e| {
            let ip = e.peer.as_deref().and_then(|p| p.trim_start_matches("::ffff:").parse::<Ipv4Addr>().ok());
            !ip.is_some_and(|ip| ip.is_link_local() && ip != Ipv4Addr::new(169, 254, 169, 254))
        })
        .map(|e| format!("request from {:?}, not an IPv4 link-local address: {e}", e.peer))
        .collect();
    let mut bad = if r.entries().is_empty() { vec!["no request reached the service".into()] } else { bad };
    // cloud-init never asks DHCP on DigitalOcean (helpers/digitalocean.py): flint must not wait
    // out its 3 s DHCP default before taking the link-local address either.
    if r.elapsed.as_secs_f64() >= DHCP_DEFAULT_S {
        bad.push(format!("took {:.2} s: it waited for DHCP before claiming link-local", r.elapsed.as_secs_f64()));
    }
    bad
}

/// flint's default `--dhcp-timeout` (README, options).
const DHCP_DEFAULT_S: f64 = 3.0;

/// CloudStack: the service listens only on the DHCP server's address; every request came
/// from a lease of dnsmasq's pool and named that address.
pub fn cloudstack_router(_c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    for e in r.entries() {
        let ip = e.peer.as_deref().and_then(|p| p.trim_start_matches("::ffff:").parse::<Ipv4Addr>().ok());
        if !ip.is_some_and(|ip| ip.octets()[..3] == [10, 0, 0] && (POOL.0..=POOL.1).contains(&ip.octets()[3])) {
            bad.push(format!("request not from a lease of the pool: {e} (peer {:?})", e.peer));
        }
        if e.host.as_deref().is_some_and(|h| h.trim_end_matches(":80") != "10.0.0.1") {
            bad.push(format!("Host {:?}, expected the DHCP server 10.0.0.1", e.host));
        }
    }
    if r.entries().is_empty() {
        bad.push("no request reached the DHCP server's address".into());
    }
    bad
}

/// Scaleway: every user-data request came from a source port below 1024, whether the
/// service insists (the real one) or not (the negative control).
pub fn scaleway_ports(_c: &Case, r: &Run) -> Vec<String> {
    let ud: Vec<_> = r.entries().iter().filter(|e| base(&e.path).starts_with("/user_data")).collect();
    let mut bad: Vec<String> = ud
        .iter()
        .filter(|e| e.peer_port.is_none_or(|p| p >= scaleway::FIRST_REFUSED_PORT))
        .map(|e| format!("user-data asked from source port {:?}: {e}", e.peer_port))
        .collect();
    if ud.is_empty() {
        bad.push("no /user_data request".into());
    }
    bad
}

/// Alibaba Cloud, hardened: a token PUT, and every GET with a valid token.
pub fn aliyun_token(_c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if !r.entries().iter().any(|e| e.method == "PUT" && e.path == "/latest/api/token" && e.status == 200) {
        bad.push("no token PUT answered 200".into());
    }
    for e in r.entries().iter().filter(|e| e.method == "GET" && !e.token_valid) {
        bad.push(format!("GET without a valid token: {e}"));
    }
    if r.tokens.is_empty() {
        bad.push("the mock issued no token".into());
    }
    bad
}

/// Alibaba Cloud without the token API: the PUT (404), then tokenless GETs.
pub fn aliyun_tokenless(_c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    if !r.entries().iter().any(|e| e.method == "PUT" && e.status == 404) {
        bad.push("flint never tried the token PUT (it should, and go on after its 404)".into());
    }
    if !r.entries().iter().any(|e| e.method == "GET" && !e.token_sent && e.status == 200) {
        bad.push("no tokenless GET answered 200".into());
    }
    bad
}

/// IBM Cloud: the token PUT first, every GET after it (a refused one is caught by
/// `mock_log`), and a token issued.
pub fn ibm_token(_c: &Case, r: &Run) -> Vec<String> {
    let first = r.entries().iter().position(|e| e.method == "PUT" && base(&e.path).ends_with("/v1/token"));
    let mut bad = Vec::new();
    match first {
        None => bad.push("no token PUT".into()),
        Some(i) => {
            if let Some(e) = r.entries()[..i].iter().find(|e| e.method == "GET") {
                bad.push(format!("a GET before the token: {e}"));
            }
        }
    }
    if r.tokens.is_empty() {
        bad.push("the mock issued no token".into());
    }
    bad
}

/// Equinix Metal: flint found the service by its name and spoke TLS to it. dnsmasq answered
/// flint's query for the name (AAAA when that is its only record); nginx logged each request
/// with a TLS protocol, the name as SNI and flint's address of the family the name gave (its
/// lease, or its SLAAC address), and passed exactly those to the mock (which listens on the server's loopback only),
/// each with the name as `Host`. With a foreign CA: a handshake from flint's lease that failed,
/// and not one request.
pub fn packet_tls(c: &Case, r: &Run) -> Vec<String> {
    let logs = r.dir.join("logs");
    let mut bad = Vec::new();
    let dns = std::fs::read_to_string(logs.join("dns.log")).unwrap_or_default();
    let (kind, client) = if c.net == Net::DhcpDnsTls6 { ("AAAA", tls::PREFIX6) } else { ("A", "10.0.0.") };
    if !dns.lines().any(|l| l.contains(&format!("query[{kind}] {} from 10.0.0.", tls::HOST))) {
        bad.push(format!("dnsmasq logged no {kind} query for {} from the lease", tls::HOST));
    }
    let access = tls::access_log(&logs);
    if c.foreign_ca {
        if !r.entries().is_empty() || !access.is_empty() {
            bad.push(format!(
                "requests got through a refused handshake: {} in nginx's log, {} at the mock",
                access.len(),
                r.entries().len()
            ));
        }
        let errors = std::fs::read_to_string(logs.join("nginx-error.log")).unwrap_or_default();
        if !errors.lines().any(|l| l.contains("handshak") && l.contains("client: 10.0.0.")) {
            bad.push("nginx logged no handshake from flint's lease (did flint connect at all?)".into());
        }
        return bad;
    }
    for f in &access {
        let (proto, sni) = (f.first().map_or("", String::as_str), f.get(1).map_or("", String::as_str));
        if !proto.starts_with("TLSv1.") || sni != tls::HOST {
            bad.push(format!("nginx: protocol {proto:?}, SNI {sni:?} for {f:?}; expected TLS and {}", tls::HOST));
        }
        if !f.get(5).is_some_and(|a| a.starts_with(client)) {
            bad.push(format!("nginx: a request not from flint's {client}… address: {f:?}"));
        }
    }
    if access.is_empty() || access.len() != r.entries().len() {
        bad.push(format!("{} requests through TLS, {} at the mock", access.len(), r.entries().len()));
    }
    for e in r.entries().iter().filter(|e| e.host.as_deref() != Some(tls::HOST)) {
        bad.push(format!("Host {:?}, expected {}: {e}", e.host, tls::HOST));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::{LogEntry, Platform};

    fn entry(path: &str, peer: &str, port: u16) -> LogEntry {
        LogEntry {
            t_ms: 0,
            method: "GET".into(),
            path: path.into(),
            status: 200,
            token_sent: false,
            token_valid: false,
            accept: None,
            bytes: 0,
            host: Some("169.254.42.42".into()),
            peer: Some(peer.into()),
            peer_port: Some(port),
        }
    }

    #[test]
    fn quirk_checks_bite() {
        assert_eq!(
            base("/metadata/v1/instance/initialization?version=2025-08-26"),
            "/metadata/v1/instance/initialization"
        );
        let ll = entry("/metadata/v1/user-data", "169.254.33.7", 40000);
        let ok = |p: &str| !p.is_empty();
        assert!(ok(&ll.path));
        let peer_ok = |e: &LogEntry| {
            let ip = e.peer.as_deref().and_then(|p| p.parse::<Ipv4Addr>().ok());
            ip.is_some_and(|ip| ip.is_link_local() && ip != Ipv4Addr::new(169, 254, 169, 254))
        };
        assert!(peer_ok(&ll));
        assert!(!peer_ok(&entry("/", "10.0.0.57", 1)));
        assert!(!peer_ok(&entry("/", "169.254.169.254", 1)));
        let low = entry("/user_data/cloud-init", "10.0.0.60", 700);
        let high = entry("/user_data/cloud-init", "10.0.0.60", 40000);
        let port_ok = |e: &LogEntry| e.peer_port.is_some_and(|p| p < scaleway::FIRST_REFUSED_PORT);
        assert!(port_ok(&low) && !port_ok(&high));
        assert_eq!(expect::server(Platform::CloudStack), "10.0.0.1");
    }
}
