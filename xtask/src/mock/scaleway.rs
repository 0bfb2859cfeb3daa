//! Scaleway instance metadata (shared/reference/platforms.md §10) at 169.254.42.42.
//!
//! Facts: no token and no header, but user data (`/user_data`, `/user_data/<key>`) is only
//! served to TCP source ports below 1024, proof that the client is root (Scaleway's user-data
//! API page; Ignition binds a random port in 1..1022, cloud-init walks up from 1); the mock
//! answers any other port `403`, and logs every port (`peer_port`). User data is a key/value
//! store: `GET /user_data` lists the keys, the cloud-init payload is key `cloud-init`, an
//! unset key is `404`. `GET /conf?format=json` needs no special port; Afterburn's attributes
//! and keys come from it, and `PATCH /state` is its boot check-in
//! (`src/providers/scaleway/mod.rs`).
//!
//! Knobs: `any_port` (the negative control: no port check), `no_ssh_keys`, `no_metadata`.

use serde_json::json;

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

/// The lowest source port the service refuses for user data.
pub const FIRST_REFUSED_PORT: u16 = 1024;
pub const ID: &str = "f1e2d3c4-b5a6-4978-8a9b-0c1d2e3f4a5b";
pub const HOSTNAME: &str = "flint-scw-01";
pub const COMMERCIAL_TYPE: &str = "DEV1-S";
pub const ZONE_ID: &str = "fr-par-1";
pub const PRIVATE_IP: &str = "10.68.34.5";
pub const PUBLIC_IP: &str = "51.15.200.7";
pub const IPV6: &str = "2001:db8:6e0:1ee::1";
pub const KEYS: [&str; 2] = [keys::KEY_B, keys::KEY_ALICE];

/// Afterburn's attributes (`parse_attrs`), prefix included.
pub fn attributes() -> Vec<(String, String)> {
    [
        ("HOSTNAME", HOSTNAME),
        ("INSTANCE_ID", ID),
        ("INSTANCE_TYPE", COMMERCIAL_TYPE),
        ("ZONE_ID", ZONE_ID),
        ("IPV4_PRIVATE", PRIVATE_IP),
        ("IPV4_PUBLIC", PUBLIC_IP),
        ("IPV6_PUBLIC", IPV6),
    ]
    .iter()
    .map(|(k, v)| (format!("AFTERBURN_SCALEWAY_{k}"), v.to_string()))
    .collect()
}

/// Is a user-data request from this source port answered?
pub fn port_allowed(port: u16, any_port: bool) -> bool {
    any_port || port < FIRST_REFUSED_PORT
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let error = |status: u16, kind: &str, message: &str| {
        Response::new(status, "application/json", json!({"type": kind, "message": message}).to_string())
    };
    let path = req.path().trim_end_matches('/');
    if path == "/user_data" || path.starts_with("/user_data/") {
        if !port_allowed(req.peer_port, o.any_port) {
            return error(403, "forbidden", "user_data is only reachable from a privileged source port (< 1024)");
        }
        if req.method != "GET" && req.method != "HEAD" {
            return error(405, "method_not_allowed", "method not allowed");
        }
        return match (path, &server.payload) {
            ("/user_data", Some(_)) => {
                Response::new(200, "application/json", json!({"user_data": ["cloud-init"]}).to_string())
            }
            ("/user_data", None) => Response::new(200, "application/json", json!({"user_data": []}).to_string()),
            ("/user_data/cloud-init", Some(_)) => server.raw_user_data().unwrap_or_else(|| error(404, "not_found", "")),
            _ => error(404, "not_found", "key not found"),
        };
    }
    match (req.method.as_str(), path) {
        ("PATCH", "/state") => Response::new(200, "application/json", json!({"state_detail": "booted"}).to_string()),
        ("GET" | "HEAD", "/conf") if !o.no_metadata && req.target.contains("format=json") => {
            let keys: Vec<_> = if o.no_ssh_keys {
                Vec::new()
            } else {
                KEYS.iter().map(|k| json!({"key": k, "fingerprint": "256 MD5:00:11 flint (ssh-ed25519)"})).collect()
            };
            let doc = json!({
                "id": ID, "name": HOSTNAME, "hostname": HOSTNAME, "commercial_type": COMMERCIAL_TYPE,
                "organization": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6", "project": "0d1e2f3a-4b5c-4d6e-8f70-8192a3b4c5d6",
                "private_ip": PRIVATE_IP,
                "public_ip": {"id": "7a8b9c0d-1e2f-4a3b-8c4d-5e6f7a8b9c0d", "address": PUBLIC_IP, "dynamic": false},
                "ipv6": {"address": IPV6, "gateway": "2001:db8:6e0:1ee::", "netmask": "64"},
                "location": {"zone_id": ZONE_ID, "platform_id": "14", "cluster_id": "7", "hypervisor_id": "401", "node_id": "12"},
                "ssh_public_keys": keys, "tags": [], "state_detail": "booting", "volumes": {}
            });
            Response::new(200, "application/json", doc.to_string())
        }
        _ => error(404, "not_found", "not found"),
    }
}
