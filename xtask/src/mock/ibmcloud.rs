//! IBM Cloud VPC (shared/reference/platforms.md §14): the instance metadata service with its
//! token flow, and the files of the `cidata` drive Ignition and Afterburn read.
//!
//! Facts, service (IBM's VPC metadata API reference): a token first, `PUT
//! /identity/v1/token?version=<date>` (older versions: `/instance_identity/v1/token`) with
//! `Metadata-Flavor: ibm` and a JSON body `{"expires_in": 5..3600}`, answered with JSON whose
//! `access_token` is the token; then every GET with `Authorization: Bearer <token>` and a
//! `version` query; `GET /metadata/v1/instance/initialization` is JSON holding the key
//! references and `user_data` (plain text; no member when the instance has none),
//! `/metadata/v1/instance` the instance (`id`, `name`, `zone`, `profile`), `/metadata/v1/keys`
//! the public keys. Facts, drive (Ignition `internal/providers/ibmcloud`, Afterburn
//! `src/providers/ibmcloud/mod.rs`): label `cidata`, `user-data`, `meta-data` (YAML:
//! `instance-id`, `local-hostname`), the keys inside `vendor-data`, a MIME multipart message
//! whose `#cloud-config` part has `ssh_authorized_keys`; Afterburn's attributes are
//! `IBMCLOUD_INSTANCE_ID` and `IBMCLOUD_LOCAL_HOSTNAME` from `meta-data`.
//!
//! Knobs: `no_ssh_keys`, `no_metadata`.

use serde_json::{Value, json};

use super::http::{Request, Response, is_dated_version};
use super::keys;
use super::service::{Server, State};
use crate::support::util;

pub const INSTANCE_ID: &str = "0717_5e8a1c2b-3d4e-4f5a-8b6c-7d8e9f0a1b2c";
pub const HOSTNAME: &str = "flint-ibm-01";
pub const ZONE: &str = "eu-de-1";
pub const PROFILE: &str = "bx2-2x8";
pub const KEYS: [(&str, &str, &str); 1] = [("r010-7b1c2d3e-flint-key", "flint-key", keys::KEY_A)];

/// The drive's `meta-data`.
pub fn meta_data() -> Vec<u8> {
    format!("instance-id: {INSTANCE_ID}\nlocal-hostname: {HOSTNAME}\n").into_bytes()
}

/// The drive's `vendor-data`: MIME multipart, the keys in its `#cloud-config` part, a script
/// part beside it (the shape of Afterburn's fixture `tests/fixtures/ibmcloud/vendor-data`).
pub fn vendor_data() -> Vec<u8> {
    let b = "4f1c2d3e5a6b7c8d9e0f1a2b3c4d5e6f";
    let keys: String = KEYS.iter().map(|(_, _, k)| format!("- {}\n", json!(k))).collect();
    format!(
        "Content-Type: multipart/mixed; boundary={b}\nMIME-Version: 1.0\n\n--{b}\nContent-Type: text/cloud-config\n\n\
         #cloud-config\ndisable_root: false\nssh_authorized_keys:\n{keys}users:\n- default\n\n--{b}\n\
         Content-Type: text/x-shellscript\n\n#!/bin/bash\necho vendor script\n\n--{b}--\n"
    )
    .into_bytes()
}

/// Afterburn's attributes (from the drive), prefix included.
pub fn attributes() -> Vec<(String, String)> {
    vec![
        ("AFTERBURN_IBMCLOUD_INSTANCE_ID".into(), INSTANCE_ID.into()),
        ("AFTERBURN_IBMCLOUD_LOCAL_HOSTNAME".into(), HOSTNAME.into()),
    ]
}

pub fn ssh_keys() -> Vec<&'static str> {
    KEYS.iter().map(|(_, _, k)| *k).collect()
}

/// The `version` query of a target, when it is a date.
fn version(target: &str) -> Option<&str> {
    let query = target.split_once('?')?.1;
    query.split('&').find_map(|kv| kv.strip_prefix("version=")).filter(|v| is_dated_version(v))
}

pub(super) fn route(server: &Server, req: &Request, st: &mut State, _token_valid: bool) -> Response {
    let o = &server.opts;
    let error = |status: u16, code: &str, message: &str| {
        Response::new(
            status,
            "application/json",
            json!({"errors": [{"code": code, "message": message}], "trace": "flint-mock"}).to_string(),
        )
    };
    let path = req.path();
    if version(&req.target).is_none() {
        return error(400, "missing_version", "the version query parameter is required (version=YYYY-MM-DD)");
    }
    if path == "/identity/v1/token" || path == "/instance_identity/v1/token" {
        if req.method != "PUT" {
            return error(405, "method_not_allowed", "Method Not Allowed");
        }
        if req.header("metadata-flavor") != Some("ibm") {
            return error(403, "missing_metadata_flavor", "Metadata-Flavor: ibm is required");
        }
        let body: Value = match serde_json::from_slice(&req.body) {
            Ok(v) => v,
            Err(_) => return error(400, "bad_request", "the body must be JSON"),
        };
        let ttl = match body.get("expires_in") {
            None => 300,
            Some(v) => match v.as_u64().filter(|t| (5..=3600).contains(t)) {
                Some(t) => t,
                None => return error(400, "bad_request", "expires_in must be 5..3600"),
            },
        };
        let token = server.issue_token(st, format!("eyJhbGciOi.{}", util::random_hex(24)), ttl);
        let doc = json!({"access_token": token, "created_at": "2026-12-03T14:00:00Z",
                         "expires_at": "2026-12-03T14:05:00Z", "expires_in": ttl});
        return Response::new(200, "application/json", doc.to_string());
    }
    let token = req.header("authorization").and_then(|a| a.strip_prefix("Bearer "));
    if !token.is_some_and(|t| st.tokens.contains_key(t)) {
        return error(401, "not_authorized", "a valid instance identity token is required");
    }
    if req.method != "GET" && req.method != "HEAD" {
        return error(405, "method_not_allowed", "Method Not Allowed");
    }
    let keys: &[(&str, &str, &str)] = if o.no_ssh_keys { &[] } else { &KEYS };
    let doc = |v: Value| Response::new(200, "application/json", v.to_string());
    match path {
        "/metadata/v1/instance/initialization" => {
            let mut v = json!({
                "keys": keys.iter().map(|(id, name, _)| json!({"id": id, "name": name, "resource_type": "key"})).collect::<Vec<_>>(),
                "user_accounts": []
            });
            if let Some(p) = &server.payload {
                v["user_data"] = json!(String::from_utf8_lossy(p));
            }
            doc(v).user_data()
        }
        _ if o.no_metadata => error(404, "not_found", "Not Found"),
        "/metadata/v1/instance" => doc(json!({
            "id": INSTANCE_ID, "name": HOSTNAME, "zone": {"name": ZONE}, "profile": {"name": PROFILE},
            "crn": format!("crn:v1:bluemix:public:is:{ZONE}:a/flint::instance:{INSTANCE_ID}"),
            "lifecycle_state": "running", "memory": 8, "vcpu": {"architecture": "amd64", "count": 2}
        })),
        "/metadata/v1/keys" => doc(json!({"keys": keys.iter().map(|(id, name, k)| json!({
            "id": id, "name": name, "public_key": k, "type": "ed25519"})).collect::<Vec<_>>()})),
        _ => error(404, "not_found", "Not Found"),
    }
}
