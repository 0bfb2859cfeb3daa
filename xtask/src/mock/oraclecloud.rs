//! Oracle Cloud Infrastructure instance metadata, IMDS v2 (shared/reference/platforms.md §12).
//!
//! Facts: every `/opc/v2/` request needs `Authorization: Bearer Oracle` — a constant, not a
//! fetched token — and is refused without it, as is any request carrying `Forwarded`,
//! `X-Forwarded-For` or `X-Forwarded-Host`; with v1 disabled `/opc/v1/` and `/openstack/` are
//! `404` (OCI "Getting Instance Metadata"). `GET /opc/v2/instance/` is one JSON document whose
//! `metadata.user_data` is the user-data in base64 (no member when there is none) and
//! `metadata.ssh_authorized_keys` the keys, newline-separated; the leaf
//! `/opc/v2/instance/metadata/user_data` is the same base64 text, `404` when absent. Afterburn
//! reads the document for seven attributes, the hostname and the keys
//! (`src/providers/oraclecloud/mod.rs`).
//!
//! Knobs: `no_ssh_keys`, `no_metadata` (every path but the user-data leaf 404).

use base64::Engine as _;
use serde_json::{Value, json};

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

pub const AUTHORIZATION: &str = "Bearer Oracle";
pub const ID: &str = "ocid1.instance.oc1.eu-frankfurt-1.antheljsflintinstance0001";
pub const HOSTNAME: &str = "flint-oci-01";
pub const AVAILABILITY_DOMAIN: &str = "Uocm:EU-FRANKFURT-1-AD-1";
pub const COMPARTMENT_ID: &str = "ocid1.compartment.oc1..aaaaaaaaflintcompartment";
pub const FAULT_DOMAIN: &str = "FAULT-DOMAIN-2";
pub const SHAPE: &str = "VM.Standard.E4.Flex";
pub const REGION: &str = "eu-frankfurt-1";
pub const KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_B];

/// `/opc/v2/instance/`.
pub fn instance(payload: Option<&[u8]>, with_keys: bool) -> Value {
    let mut metadata = serde_json::Map::new();
    if with_keys {
        metadata.insert("ssh_authorized_keys".into(), json!(KEYS.join("\n")));
    }
    if let Some(p) = payload {
        metadata.insert("user_data".into(), json!(base64::engine::general_purpose::STANDARD.encode(p)));
    }
    json!({
        "availabilityDomain": AVAILABILITY_DOMAIN, "ociAdName": "eu-frankfurt-1-ad-1",
        "canonicalRegionName": REGION, "region": "fra", "regionInfo": {"realmKey": "oc1", "regionIdentifier": REGION},
        "compartmentId": COMPARTMENT_ID, "displayName": "flint oci 01", "faultDomain": FAULT_DOMAIN,
        "hostname": HOSTNAME, "id": ID, "image": "ocid1.image.oc1.eu-frankfurt-1.aaaaaaaaflintimage",
        "shape": SHAPE, "shapeConfig": {"ocpus": 1.0, "memoryInGBs": 16.0},
        "state": "Running", "timeCreated": 1_764_000_000_000u64,
        "agentConfig": {"monitoringDisabled": false}, "definedTags": {}, "freeformTags": {},
        "metadata": metadata
    })
}

/// Afterburn's attributes, prefix included.
pub fn attributes() -> Vec<(String, String)> {
    [
        ("AVAILABILITY_DOMAIN", AVAILABILITY_DOMAIN),
        ("COMPARTMENT_ID", COMPARTMENT_ID),
        ("FAULT_DOMAIN", FAULT_DOMAIN),
        ("HOSTNAME", HOSTNAME),
        ("INSTANCE_ID", ID),
        ("INSTANCE_SHAPE", SHAPE),
        ("REGION_ID", REGION),
    ]
    .iter()
    .map(|(k, v)| (format!("AFTERBURN_ORACLECLOUD_{k}"), v.to_string()))
    .collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let error = |status: u16, code: &str, message: &str| {
        Response::new(status, "application/json", json!({"code": code, "message": message}).to_string())
    };
    if ["forwarded", "x-forwarded-for", "x-forwarded-host"].iter().any(|h| req.header(h).is_some()) {
        return error(403, "Forbidden", "forwarded requests are not allowed");
    }
    let path = req.path();
    let Some(rest) = path.strip_prefix("/opc/v2/") else {
        // v1 (and the OpenStack tree) disabled.
        return error(404, "NotFound", "Not Found");
    };
    if req.header("authorization") != Some(AUTHORIZATION) {
        return error(401, "NotAuthenticated", "Authorization: Bearer Oracle is required");
    }
    if req.method != "GET" && req.method != "HEAD" {
        return error(405, "MethodNotAllowed", "Method Not Allowed");
    }
    let b64 = |p: &[u8]| base64::engine::general_purpose::STANDARD.encode(p);
    match rest.trim_end_matches('/') {
        "instance/metadata/user_data" => match &server.payload {
            Some(p) => Response::new(200, "text/plain", b64(p)).user_data(),
            None => error(404, "NotFound", "Not Found"),
        },
        _ if o.no_metadata => error(404, "NotFound", "Not Found"),
        "instance" => Response::new(
            200,
            "application/json",
            serde_json::to_string_pretty(&instance(server.payload.as_deref(), !o.no_ssh_keys)).unwrap_or_default(),
        )
        .user_data(),
        "instance/hostname" => Response::new(200, "text/plain", HOSTNAME),
        "instance/id" => Response::new(200, "text/plain", ID),
        _ => error(404, "NotFound", "Not Found"),
    }
}
