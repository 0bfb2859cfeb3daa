//! Vultr instance metadata (shared/reference/platforms.md §8): Ignition's
//! `/user-data/user-data`, cloud-init's `/v1.json` and Afterburn's `/v1/*` text leaves.
//!
//! Facts: no token (cloud-init's `Metadata-Token: cloudinit` is a label; whether the server
//! needs it is UNCONFIRMED, §27.5, so the mock does not); user-data raw, `404` when unset
//! (Ignition `internal/providers/vultr`); in `v1.json` an unset `user-data` is `[]`, not a
//! string (cloud-init's test data); Afterburn's attributes come from `/v1/hostname`,
//! `/v1/instanceid`, `/v1/region/regioncode` and its keys from `/v1/public-keys`, one per line
//! (Afterburn `src/providers/vultr/mod.rs`).
//!
//! Knobs: `no_ssh_keys`, `no_metadata`.

use serde_json::json;

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

/// The instance's id, the same in `v1.json`'s `instance-id` and `instanceid` and the
/// `/v1/instanceid` leaf (the v2 id is a UUID of its own).
pub const INSTANCE_ID: &str = "43017925";
pub const INSTANCE_V2_ID: &str = "b5d0c6a7-4f1e-4d2b-9a3c-2e8f71d0a6b4";
pub const HOSTNAME: &str = "flint-vultr-01";
pub const REGION_CODE: &str = "AMS";
pub const KEYS: [&str; 2] = [keys::KEY_B, keys::KEY_ROOT_2];

/// Afterburn's attributes, prefix included.
pub fn attributes() -> Vec<(String, String)> {
    [("HOSTNAME", HOSTNAME), ("INSTANCE_ID", INSTANCE_ID), ("REGION_CODE", REGION_CODE)]
        .iter()
        .map(|(k, v)| (format!("AFTERBURN_VULTR_{k}"), v.to_string()))
        .collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let not_found = || Response::new(404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>\n");
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n");
    }
    let text = |s: String| Response::new(200, "text/plain", s);
    let path = req.path();
    if path == "/user-data/user-data" {
        return server.raw_user_data().unwrap_or_else(not_found);
    }
    if o.no_metadata {
        return not_found();
    }
    let keys: Vec<&str> = if o.no_ssh_keys { Vec::new() } else { KEYS.to_vec() };
    match path {
        "/v1.json" => {
            let user_data = match &server.payload {
                Some(p) => json!(String::from_utf8_lossy(p)),
                None => json!([]),
            };
            let doc = json!({
                "bgp": {"ipv4": {}, "ipv6": {}},
                "hostname": HOSTNAME, "local-hostname": HOSTNAME,
                "instance-id": INSTANCE_ID, "instanceid": INSTANCE_ID, "instance-v2-id": INSTANCE_V2_ID,
                "interfaces": [{
                    "ipv4": {"additional": [], "address": "192.0.2.123", "gateway": "192.0.2.1", "netmask": "255.255.254.0"},
                    "ipv6": {"additional": [], "address": "2001:db8:2000:1234:5400:4ff:fe12:3456", "network": "2001:db8:2000:1234::", "prefix": "64"},
                    "mac": "56:00:04:12:34:56", "network-type": "public"
                }],
                "public-keys": keys,
                "region": {"regioncode": REGION_CODE, "countrycode": "NL"},
                "user-defined": [], "startup-script": "echo No configured startup script",
                "user-data": user_data,
                "vendor-data": []
            });
            Response::new(200, "application/json", doc.to_string())
        }
        "/v1/hostname" => text(HOSTNAME.into()),
        "/v1/instanceid" => text(INSTANCE_ID.into()),
        "/v1/instance-v2-id" => text(INSTANCE_V2_ID.into()),
        "/v1/region/regioncode" => text(REGION_CODE.into()),
        "/v1/public-keys" => text(keys.join("\n")),
        _ => not_found(),
    }
}
