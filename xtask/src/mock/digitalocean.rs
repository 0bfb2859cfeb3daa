//! DigitalOcean droplet metadata (shared/reference/platforms.md §6): one droplet, its
//! `/metadata/v1.json` document, the single-value leaves and the user-data.
//!
//! Facts: no token and no header; `GET /metadata/v1/user-data` is the raw user-data and a
//! droplet without any answers `200` with an empty body (Ignition's provider and the
//! terraform #18236 log, §6); an index path without its trailing `/` is a `301`, an unknown
//! path `404` (DO's droplet-properties page). cloud-init reaches the service from a random
//! `169.254.x.y/16` address with no DHCP at all (helpers/digitalocean.py), so the suite runs
//! this mock on a link without a DHCP server. Afterburn reads everything from `v1.json`
//! (`src/providers/digitalocean/mod.rs`).
//!
//! Knobs: `no_ssh_keys` (an empty `public_keys`), `no_metadata` (`v1.json` and the leaves 404).

use serde_json::{Value, json};

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

pub const DROPLET_ID: u64 = 331465722;
pub const HOSTNAME: &str = "flint-do-01";
pub const REGION: &str = "fra1";
pub const PUBLIC_IPV4: &str = "203.0.113.17";
pub const PUBLIC_IPV6: &str = "2001:db8:3:d0::1b:7001";
pub const ANCHOR_IPV4: &str = "10.19.0.5";
pub const PRIVATE_IPV4: &str = "10.114.0.2";
pub const KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_B];

/// `/metadata/v1.json`, shaped like DO's (platforms.md §6).
pub fn document(payload: Option<&[u8]>, with_keys: bool) -> Value {
    let keys: Vec<&str> = if with_keys { KEYS.to_vec() } else { Vec::new() };
    json!({
        "droplet_id": DROPLET_ID,
        "hostname": HOSTNAME,
        "user_data": payload.map(|p| String::from_utf8_lossy(p).into_owned()),
        "vendor_data": "#cloud-config\ndisable_root: false\n",
        "public_keys": keys,
        "auth_key": "7b0d6a1f2c3e4d5b",
        "region": REGION,
        "interfaces": {
            "public": [{
                "ipv4": {"ip_address": PUBLIC_IPV4, "netmask": "255.255.240.0", "gateway": "203.0.113.1"},
                "ipv6": {"ip_address": PUBLIC_IPV6, "cidr": 64, "gateway": "2001:db8:3:d0::1"},
                "anchor_ipv4": {"ip_address": ANCHOR_IPV4, "netmask": "255.255.0.0", "gateway": "10.19.0.1"},
                "mac": "d2:3f:b0:72:91:01", "type": "public"
            }],
            "private": [{
                "ipv4": {"ip_address": PRIVATE_IPV4, "netmask": "255.255.240.0", "gateway": "0.0.0.0"},
                "mac": "d2:3f:b0:72:91:02", "type": "private"
            }]
        },
        "floating_ip": {"ipv4": {"active": false}},
        "reserved_ip": {"ipv4": {"active": false}},
        "dns": {"nameservers": ["67.207.67.2", "67.207.67.3"]},
        "tags": ["flint"],
        "features": {"dhcp_enabled": false}
    })
}

/// Afterburn's attributes of this droplet (`parse_attrs`), prefix included.
pub fn attributes() -> Vec<(String, String)> {
    [
        ("HOSTNAME", HOSTNAME),
        ("REGION", REGION),
        ("IPV4_PUBLIC_0", PUBLIC_IPV4),
        ("IPV6_PUBLIC_0", PUBLIC_IPV6),
        ("IPV4_ANCHOR_0", ANCHOR_IPV4),
        ("IPV4_PRIVATE_0", PRIVATE_IPV4),
    ]
    .iter()
    .map(|(k, v)| (format!("AFTERBURN_DIGITALOCEAN_{k}"), v.to_string()))
    .collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let not_found = || Response::new(404, "text/plain; charset=utf-8", "404 page not found\n");
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n");
    }
    let text = |s: String| Response::new(200, "text/plain; charset=utf-8", s);
    let path = req.path();
    if path == "/metadata/v1/user-data" {
        // No user-data: 200 and an empty body, never 404.
        return Response::new(200, "text/plain; charset=utf-8", server.payload.clone().unwrap_or_default()).user_data();
    }
    if o.no_metadata {
        return not_found();
    }
    let keys: Vec<&str> = if o.no_ssh_keys { Vec::new() } else { KEYS.to_vec() };
    match path {
        "/metadata/v1.json" => {
            Response::new(200, "application/json", document(server.payload.as_deref(), !o.no_ssh_keys).to_string())
        }
        // An index without its trailing slash is redirected.
        "/metadata/v1" | "/metadata/v1/interfaces" => {
            Response::new(301, "text/html", "").header("Location", format!("{path}/"))
        }
        "/metadata/v1/" => text(
            "id\nhostname\nuser-data\nvendor-data\npublic-keys\nregion\ninterfaces/\ndns/\nfloating_ip/\nreserved_ip/\ntags/\nfeatures/"
                .into(),
        ),
        "/metadata/v1/id" => text(DROPLET_ID.to_string()),
        "/metadata/v1/hostname" => text(HOSTNAME.into()),
        "/metadata/v1/region" => text(REGION.into()),
        "/metadata/v1/public-keys" => text(keys.join("\n")),
        "/metadata/v1/interfaces/public/0/ipv4/address" => text(PUBLIC_IPV4.into()),
        "/metadata/v1/interfaces/public/0/ipv6/address" => text(PUBLIC_IPV6.into()),
        "/metadata/v1/interfaces/public/0/anchor_ipv4/address" => text(ANCHOR_IPV4.into()),
        "/metadata/v1/interfaces/private/0/ipv4/address" => text(PRIVATE_IPV4.into()),
        _ => not_found(),
    }
}
