//! Hetzner Cloud server metadata (shared/reference/platforms.md §7): `/hetzner/v1/userdata`
//! and the YAML metadata tree under `/hetzner/v1/metadata`.
//!
//! Facts: no token and no header; user-data raw; "no user-data" is not settled (§27.9:
//! Ignition handles 404, cloud-init's helper 204, Afterburn's fixture suggests 200-empty), so
//! the status is a knob (`none_status`) and the suite runs all three. The metadata document
//! is YAML in the shape of Afterburn's fixture (`tests/fixtures/hetzner/metadata.yaml`);
//! `public-keys` alone is a JSON array, `private-networks` a YAML list, `hostname` and
//! `instance-id` text (Afterburn `src/providers/hetzner/mod.rs`, cloud-init
//! helpers/hetzner.py).
//!
//! Knobs: `none_status`, `no_ssh_keys`, `no_metadata`.

use serde_json::json;

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

pub const INSTANCE_ID: u64 = 48151623;
pub const HOSTNAME: &str = "flint-hz-01";
pub const AVAILABILITY_ZONE: &str = "fsn1-dc14";
pub const REGION: &str = "eu-central";
pub const PUBLIC_IPV4: &str = "198.51.100.24";
/// The static IPv6 subnet of `network-config`; Afterburn's attribute is its address alone.
pub const PUBLIC_IPV6_CIDR: &str = "2001:db8:c012:1a2b::1/64";
pub const PUBLIC_IPV6: &str = "2001:db8:c012:1a2b::1";
pub const PRIVATE_IPV4: &str = "10.0.0.2";
pub const KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_ALICE];

/// A YAML double-quoted scalar (JSON's escapes are YAML's).
fn q(s: &str) -> String {
    json!(s).to_string()
}

/// `/hetzner/v1/metadata`.
pub fn metadata_yaml(with_keys: bool) -> String {
    let keys = if with_keys { KEYS.iter().map(|k| format!("\n- {}", q(k))).collect::<String>() } else { " []".into() };
    let lines = [
        format!("availability-zone: {AVAILABILITY_ZONE}"),
        format!("hostname: {HOSTNAME}"),
        format!("instance-id: {INSTANCE_ID}"),
        "local-ipv4: ''".into(),
        "network-config:".into(),
        "  config:".into(),
        "  - mac_address: 96:00:02:1a:2b:3c".into(),
        "    name: eth0".into(),
        "    subnets:".into(),
        "    - ipv4: true".into(),
        "      type: dhcp".into(),
        format!("    - address: {PUBLIC_IPV6_CIDR}"),
        "      dns_nameservers:".into(),
        "      - 2a01:4ff:ff00::add:1".into(),
        "      gateway: fe80::1".into(),
        "      ipv6: true".into(),
        "      type: static".into(),
        "    type: physical".into(),
        "  version: 1".into(),
        format!("public-ipv4: {PUBLIC_IPV4}"),
        format!("public-keys:{keys}"),
        format!("region: {REGION}"),
        "vendor_data: \"#cloud-config\\nruncmd:\\n- [touch, /run/hetzner-vendor]\\n\"".into(),
    ];
    lines.join("\n") + "\n"
}

/// Afterburn's attributes (`From<Attributes>`), prefix included.
pub fn attributes() -> Vec<(String, String)> {
    let id = INSTANCE_ID.to_string();
    [
        ("AVAILABILITY_ZONE", AVAILABILITY_ZONE),
        ("HOSTNAME", HOSTNAME),
        ("INSTANCE_ID", id.as_str()),
        ("PUBLIC_IPV4", PUBLIC_IPV4),
        ("PUBLIC_IPV6", PUBLIC_IPV6),
        ("REGION", REGION),
        ("PRIVATE_IPV4_0", PRIVATE_IPV4),
    ]
    .iter()
    .map(|(k, v)| (format!("AFTERBURN_HETZNER_{k}"), v.to_string()))
    .collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let not_found = || Response::new(404, "text/plain", "Not Found\n");
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n");
    }
    let text = |s: String| Response::new(200, "text/plain", s);
    let path = req.path();
    if path == "/hetzner/v1/userdata" {
        return match (&server.payload, o.none_status) {
            (Some(_), _) => server.raw_user_data().unwrap_or_else(not_found),
            (None, 404) => not_found(),
            (None, 204) => Response::new(204, "text/plain", ""),
            (None, _) => Response::new(200, "text/plain", "").user_data(),
        };
    }
    if o.no_metadata {
        return not_found();
    }
    let keys: Vec<&str> = if o.no_ssh_keys { Vec::new() } else { KEYS.to_vec() };
    match path.trim_end_matches('/') {
        "/hetzner/v1/metadata" => text(metadata_yaml(!o.no_ssh_keys)),
        "/hetzner/v1/metadata/hostname" => text(HOSTNAME.into()),
        "/hetzner/v1/metadata/instance-id" => text(INSTANCE_ID.to_string()),
        "/hetzner/v1/metadata/region" => text(REGION.into()),
        "/hetzner/v1/metadata/availability-zone" => text(AVAILABILITY_ZONE.into()),
        "/hetzner/v1/metadata/public-ipv4" => text(PUBLIC_IPV4.into()),
        "/hetzner/v1/metadata/public-keys" => Response::new(200, "application/json", json!(keys).to_string()),
        "/hetzner/v1/metadata/private-networks" => text(format!(
            "- ip: {PRIVATE_IPV4}\n  alias_ips: []\n  interface_num: 1\n  mac_address: 86:00:00:98:40:6e\n  \
             network_id: 4124728\n  network_name: flint\n  network: 10.0.0.0/16\n  subnet: 10.0.0.0/24\n  gateway: 10.0.0.1\n"
        )),
        _ => not_found(),
    }
}
