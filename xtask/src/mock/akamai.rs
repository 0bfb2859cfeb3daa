//! Akamai / Linode metadata service (shared/reference/platforms.md §2): the instance's
//! fixtures, its JSON documents (`/v1/instance`, `/v1/network`, `/v1/ssh-keys`) and its routes.
//!
//! Every value is defined here once and is public, so tests compare flint's outputs against
//! these constants instead of repeating literals.
//!
//! Knobs (`Options`): `no_ssh_keys` — `{"users": {}}`; `no_metadata` — every metadata path
//! is 404, user-data and the token API still work.

use base64::Engine as _;
use serde_json::{Value, json};

use super::http::{Request, Response, accept_has};
use super::keys;
use super::options::Options;
use super::service::{Server, State};
use crate::support::util;

/// The request header that carries the session token.
pub const TOKEN_HEADER: &str = "metadata-token";
/// What the service calls itself in `Server:`.
pub(super) const SERVER_NAME: &str = "nginx";

pub const INSTANCE_ID: u64 = 12345678;
pub const HOST_UUID: &str = "3f1c2d4e5a6b7c8d9e0f1a2b3c4d5e6f7a8b9c0d";
/// The instance label, which is what flint uses as hostname on Akamai.
pub const LABEL: &str = "flint-akamai-01";
pub const REGION: &str = "us-ord";
pub const TYPE: &str = "g6-nanode-1";
pub const TAGS: [&str; 2] = ["flint", "test"];
pub const IPV4_PUBLIC: &str = "192.0.2.10/32";
pub const IPV4_PRIVATE: &str = "192.168.139.20/17";
pub const IPV6_SLAAC: &str = "2001:db8::f03c:91ff:fe00:1/128";
pub const IPV6_LINK_LOCAL: &str = "fe80::f03c:91ff:fe00:1/128";
/// `/v1/ssh-keys` users (the JSON object comes out sorted by user name; a JSON object has
/// no order a client may rely on anyway).
pub const SSH_USERS: [(&str, &[&str]); 2] = [("root", &[keys::KEY_A, keys::KEY_ROOT_2]), ("alice", &[keys::KEY_ALICE])];

/// Every key of every user (order not significant: compare as sets).
pub fn ssh_keys() -> Vec<&'static str> {
    SSH_USERS.iter().flat_map(|(_, keys)| keys.iter().copied()).collect()
}

/// Akamai / Linode metadata service (platforms.md §2).
pub(super) fn route(server: &Server, req: &Request, st: &mut State, token_valid: bool) -> Response {
    let error = |status: u16, why: &str| {
        Response::new(status, "application/json", json!({"errors": [{"reason": why}]}).to_string())
    };
    let path = req.path().trim_end_matches('/');
    let accept = req.header("accept");
    if path == "/v1/token" {
        if req.method != "PUT" {
            return error(405, "Method Not Allowed");
        }
        let ttl = req
            .header("metadata-token-expiry-seconds")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=86400).contains(t));
        let Some(ttl) = ttl else {
            return error(400, "Metadata-Token-Expiry-Seconds must be an integer between 1 and 86400");
        };
        let token = server.issue_token(st, util::random_hex(32), ttl);
        return if accept_has(accept, &["application/json"]) {
            Response::new(200, "application/json", json!([token]).to_string())
        } else {
            Response::new(200, "text/plain", token)
        };
    }
    if req.method != "GET" && req.method != "HEAD" {
        return error(405, "Method Not Allowed");
    }
    if !token_valid {
        return error(401, "Unauthorized");
    }
    match path {
        "/v1/user-data" => {
            // Only text/plain is offered; Ignition's config Accept would be refused here.
            if accept.is_some() && !accept_has(accept, &["text/plain", "text/*", "*/*"]) {
                return error(406, "Not Acceptable");
            }
            let body = server.payload.as_deref().map(|p| base64::engine::general_purpose::STANDARD.encode(p));
            Response::new(200, "text/plain", body.unwrap_or_default()).user_data()
        }
        // JSON only when asked for (as go-metadata and Afterburn do); otherwise the
        // service's default text/plain form, and 406 for anything neither covers.
        _ => match document(path, &server.opts) {
            None => error(404, "Not Found"),
            Some(doc) if accept_has(accept, &["application/json"]) => {
                Response::new(200, "application/json", doc.to_string())
            }
            Some(doc) if accept.is_none() || accept_has(accept, &["text/plain", "text/*", "*/*"]) => {
                Response::new(200, "text/plain", flatten(&doc))
            }
            Some(_) => error(406, "Not Acceptable"),
        },
    }
}

/// Akamai: the JSON document of `path` (`/v1/…`, trailing `/` stripped), or `None` for 404.
fn document(path: &str, opts: &Options) -> Option<Value> {
    if opts.no_metadata {
        return None;
    }
    match path {
        "/v1/instance" => Some(json!({
            "id": INSTANCE_ID, "host_uuid": HOST_UUID, "label": LABEL,
            "region": REGION, "type": TYPE, "tags": TAGS,
            "specs": {"vcpus": 1, "memory": 1024, "disk": 25600, "transfer": 1000, "gpus": 0},
            "backups": {"enabled": false, "status": null},
            "image": {"id": "linode/debian12", "label": "Debian 12"}, "account_euuid": "A1B2C3D4-E5F6"
        })),
        // Real responses use `shared`, `slaac`, `link_local` (a string), `shared_ranges` (§2).
        "/v1/network" => Some(json!({
            "interfaces": [],
            "ipv4": {"public": [IPV4_PUBLIC], "private": [IPV4_PRIVATE], "shared": []},
            "ipv6": {"slaac": IPV6_SLAAC, "link_local": IPV6_LINK_LOCAL,
                     "ranges": [], "shared_ranges": []}
        })),
        "/v1/ssh-keys" => {
            let users: serde_json::Map<String, Value> = if opts.no_ssh_keys {
                serde_json::Map::new()
            } else {
                SSH_USERS.iter().map(|(user, keys)| (user.to_string(), json!(keys))).collect()
            };
            Some(json!({ "users": users }))
        }
        _ => None,
    }
}

/// The service's `text/plain` form of a JSON document: one `dotted.key: value` line per leaf
/// (platforms.md §2 shows `ipv4.public: 192.0.2.0/24`). How arrays and nulls look is not
/// documented; the mock writes one line per array element and an empty value for null.
pub(super) fn flatten(v: &Value) -> String {
    fn walk(prefix: &str, v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let key = if prefix.is_empty() { k.clone() } else { format!("{prefix}.{k}") };
                    walk(&key, v, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|v| walk(prefix, v, out)),
            Value::Null => out.push(format!("{prefix}: ")),
            Value::String(s) => out.push(format!("{prefix}: {s}")),
            other => out.push(format!("{prefix}: {other}")),
        }
    }
    let mut out = Vec::new();
    walk("", v, &mut out);
    out.join("\n")
}
