//! Azure Instance Metadata Service (shared/reference/platforms.md §4): the instance's fixtures,
//! its leaves and `publicKeys`, and the rules IMDS enforces on every request.
//!
//! Strict like the real service (Microsoft Learn, "Azure Instance Metadata Service"): only
//! `GET` (405); a request without `Metadata: true` or with `X-Forwarded-For` is 400; the
//! `api-version` query parameter is mandatory and must be a version IMDS knows, given once
//! (400 with a JSON `error` and `newest-versions`); a leaf without `format=text` is 400 (leaves
//! have no JSON form); an unknown path is 404. `userData` is the payload base64-encoded, an
//! empty body when there is none, as on Azure.
//!
//! Knobs (`Options`): `no_ssh_keys` — `publicKeys` is `[]`; `no_metadata` — every path but
//! `userData` is 404.

use base64::Engine as _;
use serde_json::json;

use super::http::{Request, Response};
use super::options::Options;
use super::service::{Server, State};

/// IMDS has no session token.
pub const TOKEN_HEADER: &str = "x-flint-no-token";
/// What the service calls itself in `Server:`.
pub(super) const SERVER_NAME: &str = "Microsoft-IIS/10.0";

pub const VM_NAME: &str = "flint-azure-01";
pub const VM_ID: &str = "13f56399-bd52-4150-9748-7190aae1ff21";
pub const VM_SIZE: &str = "Standard_B1s";
pub const PRIVATE_IPV4: &str = "10.0.0.4";
/// `publicKeys` entries; Azure ends each `keyData` in CR LF.
pub const KEYS: [&str; 2] = [
    "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIFlintAzureImdsKeyOne00000000000000000000 core@flint",
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQFlintAzureImdsKeyTwo0000000000000000 admin@flint",
];

/// api-versions the mock knows (a subset of IMDS's list, the ones clients use).
const VERSIONS: [&str; 6] = ["2017-08-01", "2018-04-02", "2019-06-01", "2020-09-01", "2021-01-01", "2021-02-01"];

/// The query's parameters, in order.
fn query(req: &Request) -> Vec<(&str, &str)> {
    let q = req.target.split_once('?').map_or("", |(_, q)| q);
    q.split('&').filter(|p| !p.is_empty()).map(|p| p.split_once('=').unwrap_or((p, ""))).collect()
}

/// Azure IMDS (platforms.md §4).
pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let error = |status: u16, why: &str| {
        let body = json!({"error": why, "newest-versions": ["2021-02-01", "2021-01-01", "2020-12-01"]});
        Response::new(status, "application/json; charset=utf-8", body.to_string())
    };
    if req.method != "GET" {
        return error(405, "Method not allowed").header("Allow", "GET");
    }
    if req.header("metadata") != Some("true") {
        return error(400, "Bad request. Required metadata header not specified");
    }
    if req.header("x-forwarded-for").is_some() {
        return error(400, "Bad request. Request with X-Forwarded-For header not allowed");
    }
    let q = query(req);
    let versions: Vec<&str> = q.iter().filter(|(k, _)| *k == "api-version").map(|(_, v)| *v).collect();
    match versions[..] {
        [] => return error(400, "Bad request. api-version was not specified in the request"),
        [v] if VERSIONS.contains(&v) => {}
        [_] => return error(400, "Bad request. api-version is invalid or was not specified in the request"),
        _ => return error(400, "Bad request. Duplicate query parameter names are not allowed"),
    }
    let text = q.iter().any(|&(k, v)| k == "format" && v == "text");
    let leaf = |value: &str| {
        if text {
            Response::new(200, "text/plain; charset=utf-8", value.to_string())
        } else {
            error(400, "Bad request. Leaf node queries require format=text")
        }
    };
    let o: &Options = &server.opts;
    match req.path() {
        "/metadata/instance/compute/userData" => {
            let body = server.payload.as_deref().map(|p| base64::engine::general_purpose::STANDARD.encode(p));
            match leaf("") {
                r if r.status != 200 => r,
                _ => Response::new(200, "text/plain; charset=utf-8", body.unwrap_or_default()).user_data(),
            }
        }
        _ if o.no_metadata => error(404, "Not found"),
        "/metadata/instance/compute/name" => leaf(VM_NAME),
        "/metadata/instance/compute/vmId" => leaf(VM_ID),
        "/metadata/instance/compute/vmSize" => leaf(VM_SIZE),
        "/metadata/instance/network/interface/0/ipv4/ipAddress/0/privateIpAddress" => leaf(PRIVATE_IPV4),
        "/metadata/instance/compute/publicKeys" => {
            let keys: Vec<_> = if o.no_ssh_keys {
                Vec::new()
            } else {
                KEYS.iter()
                    .map(|k| json!({"keyData": format!("{k}\r\n"), "path": "/home/core/.ssh/authorized_keys"}))
                    .collect()
            };
            Response::new(200, "application/json; charset=utf-8", serde_json::Value::Array(keys).to_string())
        }
        _ => error(404, "Not found"),
    }
}
