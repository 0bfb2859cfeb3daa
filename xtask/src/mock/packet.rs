//! Equinix Metal (formerly Packet) metadata service (shared/reference/platforms.md §16), the
//! plain-HTTP side: the suites put a real TLS terminator (Debian's nginx, with a leaf for
//! `metadata.packet.net` from a CA made at fixture time) in front of it, as the real service
//! is only at `https://metadata.packet.net`.
//!
//! Facts: `GET /userdata` is the user-data as given, `GET /metadata` one JSON document (the
//! fields of Afterburn's `PacketData` and of Equinix's "Metadata" page: `id`, `hostname`,
//! `iqn`, `plan`, `class`, `facility`, `metro`, `tags`, `ssh_keys`, `network.{bonding,
//! interfaces, addresses}`, `phone_home_url`, …). The service answers 406 Not Acceptable to
//! Ignition's default `Accept` (Ignition's provider comment), so Ignition asks with
//! `Accept: */*`, as reqwest (Afterburn) does by default; the mock takes `*/*` (and
//! `application/json` for `/metadata`) and answers 406 to anything else, a missing `Accept`
//! included (the service's rule for none is not documented: flint must send what Ignition
//! sends). No user-data: Ignition takes 200 with an empty body as "no config" and fails on a
//! 404; the Equinix team's hollow-metadataservice answers 404 for an instance without
//! user-data — both shapes are knobs (`none_status` 200, the default, or 404).
//!
//! Knobs: `no_ssh_keys` (an empty `ssh_keys`), `no_metadata` (`/metadata` 404),
//! `none_status`.

use std::net::IpAddr;

use serde_json::{Value, json};

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

/// The name Ignition and Afterburn ask (Equinix's pages now say `metadata.platformequinix.com`).
pub const HOST: &str = "metadata.packet.net";
pub const ID: &str = "6b1f4c2e-8d3a-4f57-9e21-0c7d5a9b3e10";
pub const HOSTNAME: &str = "flint-em-01";
pub const PLAN: &str = "c3.small.x86";
pub const PHONE_HOME_URL: &str = "http://tinkerbell.da11.packet.net/phone-home";
pub const KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_B];

/// `network.addresses[]`: (address, gateway, public, address_family, cidr). Two public IPv4
/// (the second an elastic IP), a public IPv6 whose gateway is written with its zero groups
/// (Afterburn prints it RFC 5952 short), a private IPv4, a private IPv6 — the order and shapes
/// of Equinix's own example, one of each class at least.
const ADDRESSES: [(&str, &str, bool, u8, u8); 5] = [
    ("147.75.80.11", "147.75.80.10", true, 4, 31),
    ("2604:1380:4641:c500::1", "2604:1380:4641:c500:0:0:0:0", true, 6, 127),
    ("10.70.20.3", "10.70.20.2", false, 4, 31),
    ("147.75.90.5", "147.75.80.10", true, 4, 32),
    ("fd00:70:20::3", "fd00:70:20::2", false, 6, 127),
];

/// `/metadata`, shaped like Equinix's example and Afterburn's fixture.
pub fn document(with_keys: bool) -> Value {
    let keys: Vec<&str> = if with_keys { KEYS.to_vec() } else { Vec::new() };
    let addresses: Vec<Value> = ADDRESSES
        .iter()
        .enumerate()
        .map(|(i, (address, gateway, public, family, cidr))| {
            json!({
                "id": format!("0b5e9a7c-31d2-4e8f-a6b4-5d0c2e7f91a{i}"),
                "address_family": family,
                "netmask": if *family == 4 { "255.255.255.254" } else { "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe" },
                "created_at": "2026-11-30T09:12:44Z",
                "public": public,
                "cidr": cidr,
                "management": i < 3,
                "enabled": true,
                "network": gateway,
                "address": address,
                "gateway": gateway,
                "parent_block": {"network": gateway, "netmask": "255.255.255.254", "cidr": cidr,
                                 "href": format!("/ips/9c1d{i}")}
            })
        })
        .collect();
    json!({
        "id": ID,
        "hostname": HOSTNAME,
        "iqn": "iqn.2026-11.net.packet:device.6b1f4c2e",
        "operating_system": {"slug": "flatcar_stable", "distro": "flatcar", "version": "stable"},
        "plan": PLAN,
        "class": PLAN,
        "facility": "da11",
        "metro": "da",
        "tags": ["flint"],
        "ssh_keys": keys,
        "storage": {"disks": [], "raid": [], "filesystems": []},
        "network": {
            "bonding": {"mode": 4, "link_aggregation": "bonded", "mac": "b4:96:91:70:2c:01"},
            "interfaces": [
                {"name": "eth0", "mac": "b4:96:91:70:2c:01", "bond": "bond0"},
                {"name": "eth1", "mac": "b4:96:91:70:2c:02", "bond": "bond0"}
            ],
            "addresses": addresses
        },
        "customdata": {},
        "specs": {"cpus": [{"count": 1, "type": "AMD EPYC 7402P 24-Core Processor @ 2.80GHz"}]},
        "switch_short_id": "7c1a9f2d",
        "volumes": [],
        "api_url": "https://metadata.packet.net/metal",
        "phone_home_url": PHONE_HOME_URL,
        "user_state_url": "http://tinkerbell.da11.packet.net/events"
    })
}

/// Afterburn's attributes of this instance (`get_attrs`, prefix included): the addresses
/// numbered per (family, public) in document order, each printed as Rust's `IpAddr` prints it.
pub fn attributes() -> Vec<(String, String)> {
    let mut out = vec![
        ("HOSTNAME".to_string(), HOSTNAME.to_string()),
        ("PHONE_HOME_URL".into(), PHONE_HOME_URL.into()),
        ("PLAN".into(), PLAN.into()),
    ];
    let mut counts = [0usize; 4];
    for (address, gateway, public, _, _) in ADDRESSES {
        let ip: IpAddr = address.parse().expect("fixture address");
        let gw: IpAddr = gateway.parse().expect("fixture gateway");
        let class = 2 * usize::from(ip.is_ipv6()) + usize::from(public);
        let name = ["IPV4_PRIVATE", "IPV4_PUBLIC", "IPV6_PRIVATE", "IPV6_PUBLIC"][class];
        let n = counts[class];
        counts[class] += 1;
        out.push((format!("{name}_{n}"), ip.to_string()));
        out.push((format!("{name}_GATEWAY_{n}"), gw.to_string()));
    }
    out.into_iter().map(|(k, v)| (format!("AFTERBURN_PACKET_{k}"), v)).collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let json_error =
        |status: u16, message: &str| Response::new(status, "application/json", json!({"error": message}).to_string());
    if req.method != "GET" && req.method != "HEAD" {
        return json_error(405, "Method Not Allowed");
    }
    let path = req.path();
    let accept = req.header("accept");
    let acceptable = accept == Some("*/*") || (path == "/metadata" && accept == Some("application/json"));
    if !acceptable {
        return json_error(406, "Not Acceptable");
    }
    match path {
        "/userdata" => match &server.payload {
            Some(p) => Response::new(200, "text/plain; charset=utf-8", p.clone()).user_data(),
            None if o.none_status == 404 => json_error(404, "resource not found").user_data(),
            None => Response::new(200, "text/plain; charset=utf-8", "").user_data(),
        },
        "/metadata" if !o.no_metadata => Response::new(
            200,
            "application/json",
            serde_json::to_string_pretty(&document(!o.no_ssh_keys)).unwrap_or_default(),
        ),
        _ => json_error(404, "resource not found"),
    }
}
