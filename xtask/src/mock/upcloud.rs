//! UpCloud server metadata (shared/reference/platforms.md §11): `/metadata/v1/user_data`,
//! `/metadata/v1.json` and the text leaves Afterburn reads.
//!
//! Facts: no token; user-data raw, `404` when the server has none (Ignition
//! `internal/providers/upcloud`); `v1.json` holds `instance_id`, `hostname`, `public_keys`,
//! `region`, `user_data`, `network` (cloud-init helpers/upcloud.py); Afterburn reads
//! `hostname`, `instance_id`, `region` and `public_keys` (one per line) as text leaves
//! (`src/providers/upcloud/mod.rs`).
//!
//! Knobs: `no_ssh_keys`, `no_metadata`.

use serde_json::json;

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

pub const INSTANCE_ID: &str = "00a1b2c3-d4e5-4f60-8a7b-9c0d1e2f3a4b";
pub const HOSTNAME: &str = "flint-upcloud-01";
pub const REGION: &str = "fi-hel2";
pub const KEYS: [&str; 1] = [keys::KEY_ALICE];

/// Afterburn's attributes, prefix included.
pub fn attributes() -> Vec<(String, String)> {
    [("HOSTNAME", HOSTNAME), ("INSTANCE_ID", INSTANCE_ID), ("REGION", REGION)]
        .iter()
        .map(|(k, v)| (format!("AFTERBURN_UPCLOUD_{k}"), v.to_string()))
        .collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let not_found = || Response::new(404, "text/plain", "404 Not Found\n");
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n");
    }
    let text = |s: String| Response::new(200, "text/plain", s);
    let path = req.path();
    if path == "/metadata/v1/user_data" {
        return server.raw_user_data().unwrap_or_else(not_found);
    }
    if o.no_metadata {
        return not_found();
    }
    let keys: Vec<&str> = if o.no_ssh_keys { Vec::new() } else { KEYS.to_vec() };
    match path {
        "/metadata/v1.json" => {
            let doc = json!({
                "cloud_name": "upcloud", "instance_id": INSTANCE_ID, "hostname": HOSTNAME,
                "platform": "servers", "subplatform": "metadata (http://169.254.169.254)",
                "public_keys": keys, "region": REGION,
                "network": {"interfaces": [{"index": 1, "ip_addresses": [
                    {"address": "94.237.0.207", "dhcp": true, "dns": ["94.237.127.9"], "family": "IPv4", "floating": false, "gateway": "94.237.0.1", "network": "94.237.0.0/22"}],
                    "mac": "3a:d6:ba:4a:36:e7", "network_id": "031457f4-0f8c-483c-96f2-eccede02909c", "type": "public"}],
                    "dns": ["94.237.127.9"]},
                "storage": {"disks": []}, "tags": [],
                "user_data": server.payload.as_deref().map(|p| String::from_utf8_lossy(p).into_owned()).unwrap_or_default(),
                "vendor_data": ""
            });
            Response::new(200, "application/json", doc.to_string())
        }
        "/metadata/v1/hostname" => text(HOSTNAME.into()),
        "/metadata/v1/instance_id" => text(INSTANCE_ID.into()),
        "/metadata/v1/region" => text(REGION.into()),
        "/metadata/v1/public_keys" => text(keys.join("\n")),
        _ => not_found(),
    }
}
