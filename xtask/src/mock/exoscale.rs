//! Exoscale (shared/reference/platforms.md §9): CloudStack's metadata service under `/1.0/`
//! (and `/latest/`), at 169.254.169.254.
//!
//! Facts: no token; `/1.0/user-data` raw as uploaded — the CLI and Terraform gzip by default
//! (exoscale/cli #330, #451; Ignition PR #1345), so the suite serves gzip too — and `200` with an
//! empty body when unset, not 404 (fedora-coreos-tracker #1160); `/1.0/meta-data/<key>` text
//! leaves; Afterburn's nine attributes and its keys (`public-keys`, one per line) come from
//! them (`src/providers/exoscale/mod.rs`).
//!
//! Knobs: `no_ssh_keys`, `no_metadata`.

use super::cloudstack;
use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

pub const INSTANCE_ID: &str = "8f2e4c1a-6b3d-4e5f-a7b8-c9d0e1f2a3b4";
pub const LOCAL_HOSTNAME: &str = "flint-exo-01";
pub const PUBLIC_HOSTNAME: &str = "flint-exo-01";
pub const AVAILABILITY_ZONE: &str = "ch-gva-2";
pub const PUBLIC_IPV4: &str = "194.182.160.33";
pub const LOCAL_IPV4: &str = "194.182.160.33";
pub const SERVICE_OFFERING: &str = "standard.small";
pub const CLOUD_IDENTIFIER: &str = "CloudStack-{5a1f7a6e-5f6b-4c1d-8a1a-6c0b8f2e4d3c}";
pub const VM_ID: &str = INSTANCE_ID;
pub const KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_ROOT_2];

/// The leaves and Afterburn's name for each.
pub const LEAVES: [(&str, &str, &str); 9] = [
    ("instance-id", "INSTANCE_ID", INSTANCE_ID),
    ("local-hostname", "LOCAL_HOSTNAME", LOCAL_HOSTNAME),
    ("public-hostname", "PUBLIC_HOSTNAME", PUBLIC_HOSTNAME),
    ("availability-zone", "AVAILABILITY_ZONE", AVAILABILITY_ZONE),
    ("public-ipv4", "PUBLIC_IPV4", PUBLIC_IPV4),
    ("local-ipv4", "LOCAL_IPV4", LOCAL_IPV4),
    ("service-offering", "SERVICE_OFFERING", SERVICE_OFFERING),
    ("cloud-identifier", "CLOUD_IDENTIFIER", CLOUD_IDENTIFIER),
    ("vm-id", "VM_ID", VM_ID),
];

/// Afterburn's attributes, prefix included.
pub fn attributes() -> Vec<(String, String)> {
    LEAVES.iter().map(|(_, k, v)| (format!("AFTERBURN_EXOSCALE_{k}"), v.to_string())).collect()
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    // No user-data: 200 and an empty body.
    cloudstack::tree(server, req, &["1.0", "latest"], &LEAVES, &KEYS, || {
        Response::new(200, "text/plain", "").user_data()
    })
}
