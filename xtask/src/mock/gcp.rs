//! Google Compute Engine metadata server (shared/reference/platforms.md §3): the instance's
//! fixtures, its metadata tree under `/computeMetadata/v1/` and its routes.
//!
//! As strict as the real server is documented and observed by its clients (Ignition's,
//! Afterburn's and cloud-init's GCE providers, Google's guest agent):
//! - every request needs `Metadata-Flavor: Google`, else 403; every answer carries
//!   `Metadata-Flavor: Google` back (clients use it to tell the real server from an impostor);
//! - only GET (else 405); a leaf the instance lacks is 404 (`user-data` without user-data,
//!   `block-project-ssh-keys` unless set, the legacy `sshKeys` unless set);
//! - leaves are text (`application/text`); a directory asked for with its trailing `/` lists
//!   its children, one per line, sub-directories with a `/`.
//!
//! Knobs (`Options`): `no_ssh_keys` — no `ssh-keys` attributes at all; `no_metadata` — every
//! path but the user-data is 404; `gcp_block` — the instance's `block-project-ssh-keys` text;
//! `gcp_legacy_keys` — the instance also has a legacy `sshKeys`.

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

/// GCE has no token; the header is watched so the log would show a stray one.
pub const TOKEN_HEADER: &str = super::aws::TOKEN_HEADER;
/// What the server calls itself in `Server:`.
pub(super) const SERVER_NAME: &str = "Metadata Server for VM";
pub const PREFIX: &str = "/computeMetadata/v1/";

pub const INSTANCE_ID: &str = "4520031799277581759";
/// `instance/hostname` is the FQDN (zonal DNS).
pub const HOSTNAME: &str = "flint-gcp-01.us-central1-a.c.flint-test.internal";
pub const MACHINE_TYPE: &str = "projects/123456789012/machineTypes/e2-small";
/// The address of the instance's first NIC, as the DHCP server of the suites leases it.
pub const IP_LOCAL: &str = "10.0.0.77";
pub const IP_EXTERNAL: &str = "203.0.113.7";
/// `user:key` lines: the instance's, its legacy attribute's and the project's (two attributes).
pub const INSTANCE_KEYS: [(&str, &str); 2] = [("core", keys::KEY_A), ("alice", keys::KEY_ALICE)];
pub const LEGACY_KEYS: [(&str, &str); 1] = [("old", keys::KEY_ROOT_2)];
pub const PROJECT_KEYS: [(&str, &str); 1] = [("bob", keys::KEY_B)];
pub const PROJECT_LEGACY_KEYS: [(&str, &str); 1] = [("carol", keys::KEY_ROOT_2)];

/// The keys as a client should take them: instance (legacy first), then project unless blocked.
pub fn expected_keys(block: bool, legacy: bool) -> Vec<&'static str> {
    let mut keys: Vec<&str> = Vec::new();
    if legacy {
        keys.extend(LEGACY_KEYS.iter().map(|(_, k)| *k));
    }
    keys.extend(INSTANCE_KEYS.iter().map(|(_, k)| *k));
    if !block && !legacy {
        keys.extend(PROJECT_KEYS.iter().chain(&PROJECT_LEGACY_KEYS).map(|(_, k)| *k));
    }
    keys
}

fn lines(keys: &[(&str, &str)]) -> String {
    keys.iter().map(|(u, k)| format!("{u}:{k}\n")).collect()
}

/// The bytes of a leaf (path under [`PREFIX`]), or `None` for 404.
fn leaf(server: &Server, path: &str) -> Option<Vec<u8>> {
    let o = &server.opts;
    if path == "instance/attributes/user-data" {
        return server.payload.clone();
    }
    if o.no_metadata {
        return None;
    }
    let keys = |k: &[(&str, &str)]| (!o.no_ssh_keys).then(|| lines(k));
    let text = match path {
        "instance/id" => Some(INSTANCE_ID.into()),
        "instance/hostname" => Some(HOSTNAME.into()),
        "instance/machine-type" => Some(MACHINE_TYPE.into()),
        "instance/zone" => Some("projects/123456789012/zones/us-central1-a".into()),
        "instance/network-interfaces/0/ip" => Some(IP_LOCAL.into()),
        "instance/network-interfaces/0/access-configs/0/external-ip" => Some(IP_EXTERNAL.into()),
        "instance/attributes/ssh-keys" => keys(&INSTANCE_KEYS),
        "instance/attributes/sshKeys" if o.gcp_legacy_keys => keys(&LEGACY_KEYS),
        "instance/attributes/block-project-ssh-keys" => o.gcp_block.clone(),
        "project/project-id" => Some("flint-test".into()),
        "project/attributes/ssh-keys" => keys(&PROJECT_KEYS),
        "project/attributes/sshKeys" => keys(&PROJECT_LEGACY_KEYS),
        _ => None,
    };
    text.map(String::into_bytes)
}

/// Every leaf path the tree may hold (for directory listings).
const LEAVES: &[&str] = &[
    "instance/id",
    "instance/hostname",
    "instance/machine-type",
    "instance/zone",
    "instance/network-interfaces/0/ip",
    "instance/network-interfaces/0/access-configs/0/external-ip",
    "instance/attributes/user-data",
    "instance/attributes/ssh-keys",
    "instance/attributes/sshKeys",
    "instance/attributes/block-project-ssh-keys",
    "project/project-id",
    "project/attributes/ssh-keys",
    "project/attributes/sshKeys",
];

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let text = |status: u16, body: Vec<u8>| {
        Response::new(status, "application/text", body).header("Metadata-Flavor", "Google")
    };
    if req.header("metadata-flavor") != Some("Google") {
        // The real server's refusal names the header it wants.
        return Response::new(403, "text/html; charset=UTF-8", "Missing Metadata-Flavor:Google header.\n".to_string());
    }
    if req.method != "GET" {
        return text(405, b"Method Not Allowed\n".to_vec()).header("Allow", "GET");
    }
    let Some(path) = req.path().strip_prefix(PREFIX) else {
        return text(404, b"Not Found\n".to_vec());
    };
    if path.is_empty() || path.ends_with('/') {
        // A directory: its children that exist, once each, in tree order.
        let mut children: Vec<String> = Vec::new();
        for l in LEAVES.iter().filter(|l| leaf(server, l).is_some()) {
            if let Some(rest) = l.strip_prefix(path) {
                let child = match rest.find('/') {
                    Some(i) => format!("{}/", &rest[..i]),
                    None => rest.to_string(),
                };
                if !children.contains(&child) {
                    children.push(child);
                }
            }
        }
        return if children.is_empty() {
            text(404, b"Not Found\n".to_vec())
        } else {
            text(200, children.iter().map(|c| format!("{c}\n")).collect::<String>().into_bytes())
        };
    }
    match leaf(server, path) {
        Some(body) if path == "instance/attributes/user-data" => text(200, body).user_data(),
        Some(body) => text(200, body),
        None => text(404, b"Not Found\n".to_vec()),
    }
}
