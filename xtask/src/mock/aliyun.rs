//! Alibaba Cloud ECS instance metadata (shared/reference/platforms.md §13) at
//! 100.100.100.200.
//!
//! Facts: the hardened mode is IMDSv2-like: `PUT /latest/api/token` with
//! `X-aliyun-ecs-metadata-token-ttl-seconds` (1..21600) gives a token, and GETs then need it
//! in `X-aliyun-ecs-metadata-token` (Alibaba's "view instance metadata" page; cloud-init ≥
//! 23.2.2). A tokenless GET in hardened-only mode is refused; its status is UNCONFIRMED
//! (§27.6), the mock answers `403`. Ignition and Afterburn never ask for a token, so on an
//! instance in the normal mode the PUT is unknown (`no_token_api`: `404`) and tokenless GETs
//! work. `/latest/user-data` raw, `404` when unset; Afterburn's ten attributes are text leaves
//! under `/latest/meta-data/`, its keys `public-keys/` (`<id>/` lines) and
//! `public-keys/<id>/openssh-key`, de-duplicated and sorted (`src/providers/aliyun/mod.rs`).
//!
//! Knobs: `no_token_api`, `no_ssh_keys`, `no_metadata`.

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};
use crate::support::util;

pub const TOKEN_HEADER: &str = "x-aliyun-ecs-metadata-token";
pub const TTL_HEADER: &str = "x-aliyun-ecs-metadata-token-ttl-seconds";
pub const INSTANCE_ID: &str = "i-bp1flint0a1b2c3d4e5f";
pub const HOSTNAME: &str = "iZbp1flint0a1b2c3d4e5fZ";
/// Key ids are key-pair ids, not only numbers (cloud-init's test data: `0` and
/// `skp-bp1test`; Afterburn's mock test: `0/` and `test/`). Afterburn collects the keys into a
/// sorted set; the listing is in that order already.
pub const KEYS: [(&str, &str); 2] = [("0", keys::KEY_B), ("skp-bp1flint01", keys::KEY_A)];

/// The leaves Afterburn reads and its name for each.
pub const LEAVES: [(&str, &str, &str); 10] = [
    ("eipv4", "EIPV4", "47.96.10.11"),
    ("hostname", "HOSTNAME", HOSTNAME),
    ("image-id", "IMAGE_ID", "m-bp1flintimage01"),
    ("instance-id", "INSTANCE_ID", INSTANCE_ID),
    ("instance/instance-type", "INSTANCE_TYPE", "ecs.g7.large"),
    ("private-ipv4", "IPV4_PRIVATE", "172.16.1.23"),
    ("public-ipv4", "IPV4_PUBLIC", "47.96.10.11"),
    ("region-id", "REGION_ID", "cn-hangzhou"),
    ("vpc-id", "VPC_ID", "vpc-bp1flintvpc01"),
    ("zone-id", "ZONE_ID", "cn-hangzhou-i"),
];

/// Afterburn's attributes, prefix included.
pub fn attributes() -> Vec<(String, String)> {
    LEAVES.iter().map(|(_, k, v)| (format!("AFTERBURN_ALIYUN_{k}"), v.to_string())).collect()
}

pub fn ssh_keys() -> Vec<&'static str> {
    KEYS.iter().map(|(_, k)| *k).collect()
}

pub(super) fn route(server: &Server, req: &Request, st: &mut State, token_valid: bool) -> Response {
    let o = &server.opts;
    let not_found = || Response::new(404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>\n");
    let path = req.path();
    if path == "/latest/api/token" {
        if o.no_token_api {
            return not_found();
        }
        if req.method != "PUT" {
            return Response::new(405, "text/plain", "Method Not Allowed\n");
        }
        let ttl = req.header(TTL_HEADER).and_then(|v| v.trim().parse::<u64>().ok()).filter(|t| (1..=21600).contains(t));
        let Some(ttl) = ttl else {
            return Response::new(400, "text/plain", "Bad Request\n");
        };
        let token = server.issue_token(st, util::random_hex(28), ttl);
        return Response::new(200, "text/plain", token);
    }
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n");
    }
    // Hardened mode: no GET without a valid token.
    if !o.no_token_api && !token_valid {
        return Response::new(403, "text/plain", "Forbidden\n");
    }
    let text = |s: String| Response::new(200, "text/plain", s);
    match path {
        "/latest/user-data" => server.raw_user_data().unwrap_or_else(not_found),
        _ if o.no_metadata => not_found(),
        "/latest/meta-data/public-keys/" | "/latest/meta-data/public-keys" if !o.no_ssh_keys => {
            text(KEYS.iter().map(|(id, _)| format!("{id}/")).collect::<Vec<_>>().join("\n"))
        }
        p => {
            let Some(name) = p.strip_prefix("/latest/meta-data/") else { return not_found() };
            if let Some(id) = name.strip_prefix("public-keys/").and_then(|r| r.strip_suffix("/openssh-key")) {
                return match KEYS.iter().find(|(i, _)| *i == id).filter(|_| !o.no_ssh_keys) {
                    Some((_, k)) => text(k.to_string()),
                    None => not_found(),
                };
            }
            match LEAVES.iter().find(|(n, _, _)| *n == name) {
                Some((_, _, v)) => text(v.to_string()),
                None => not_found(),
            }
        }
    }
}
