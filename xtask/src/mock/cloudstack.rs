//! Apache CloudStack (shared/reference/platforms.md §15): the virtual router's metadata
//! service and the files of CloudStack's `config-2` drive, for one instance. Exoscale
//! (`exoscale.rs`) runs the same service under `/1.0/`.
//!
//! Facts: the metadata server is the virtual router, which is also the instance's DHCP
//! server: clients take its address from the lease's server identifier (option 54), not
//! 169.254.169.254 (cloud-init DataSourceCloudStack.py, Afterburn
//! `src/providers/cloudstack/network.rs`), so the suite runs this mock on dnsmasq's address
//! only. No token; `/latest/user-data` raw, `404` when unset; `/latest/meta-data/<key>` text
//! leaves, `public-keys` one key per line. The drive: `cloudstack/userdata/user_data.txt`,
//! `cloudstack/metadata/<key>.txt` with `_` in the key names, `public_keys.txt` (Afterburn
//! `src/providers/cloudstack/configdrive.rs`).
//!
//! Knobs: `no_ssh_keys`, `no_metadata`.

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

pub const INSTANCE_ID: &str = "5c3f0e2a-8b1d-4f6e-9a7c-1d2e3f4a5b6c";
pub const LOCAL_HOSTNAME: &str = "flint-cs-01";
pub const PUBLIC_HOSTNAME: &str = "flint-cs-01.cloud.example";
pub const AVAILABILITY_ZONE: &str = "zone1";
pub const PUBLIC_IPV4: &str = "203.0.113.90";
pub const LOCAL_IPV4: &str = "10.1.1.45";
pub const SERVICE_OFFERING: &str = "Small Instance";
pub const CLOUD_IDENTIFIER: &str = "CloudStack-{1f6a2b3c-4d5e-4f70-8a9b-0c1d2e3f4a5b}";
pub const VM_ID: &str = INSTANCE_ID;
pub const KEYS: [&str; 1] = [keys::KEY_A];

/// The service's leaves (`/latest/meta-data/<key>`) and Afterburn's name for each.
pub const LEAVES: [(&str, &str, &str); 9] = [
    ("instance-id", "INSTANCE_ID", INSTANCE_ID),
    ("local-hostname", "LOCAL_HOSTNAME", LOCAL_HOSTNAME),
    ("public-hostname", "PUBLIC_HOSTNAME", PUBLIC_HOSTNAME),
    ("availability-zone", "AVAILABILITY_ZONE", AVAILABILITY_ZONE),
    ("public-ipv4", "IPV4_PUBLIC", PUBLIC_IPV4),
    ("local-ipv4", "IPV4_LOCAL", LOCAL_IPV4),
    ("service-offering", "SERVICE_OFFERING", SERVICE_OFFERING),
    ("cloud-identifier", "CLOUD_IDENTIFIER", CLOUD_IDENTIFIER),
    ("vm-id", "VM_ID", VM_ID),
];

/// Afterburn's attributes from the metadata service (`network.rs`), prefix included.
pub fn attributes_service() -> Vec<(String, String)> {
    LEAVES.iter().map(|(_, k, v)| (format!("AFTERBURN_CLOUDSTACK_{k}"), v.to_string())).collect()
}

/// The drive's `cloudstack/metadata/<file>.txt` files Afterburn reads (`configdrive.rs`):
/// (file stem, attribute name, value).
pub const DRIVE_METADATA: [(&str, &str, &str); 6] = [
    ("availability_zone", "AVAILABILITY_ZONE", AVAILABILITY_ZONE),
    ("cloud_identifier", "CLOUD_IDENTIFIER", CLOUD_IDENTIFIER),
    ("instance_id", "INSTANCE_ID", INSTANCE_ID),
    ("local_hostname", "LOCAL_HOSTNAME", LOCAL_HOSTNAME),
    ("service_offering", "SERVICE_OFFERING", SERVICE_OFFERING),
    ("vm_id", "VM_ID", VM_ID),
];

/// Afterburn's attributes from the config drive, prefix included.
pub fn attributes_drive() -> Vec<(String, String)> {
    DRIVE_METADATA.iter().map(|(_, k, v)| (format!("AFTERBURN_CLOUDSTACK_{k}"), v.to_string())).collect()
}

/// The files of CloudStack's config drive (relative paths), with `user_data` when given.
/// CloudStack writes the metadata files and keys with a trailing newline.
pub fn drive_files(user_data: Option<&[u8]>) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<(String, Vec<u8>)> = DRIVE_METADATA
        .iter()
        .map(|(f, _, val)| (format!("cloudstack/metadata/{f}.txt"), format!("{val}\n").into_bytes()))
        .collect();
    v.push(("cloudstack/metadata/public_keys.txt".into(), format!("{}\n", KEYS.join("\n")).into_bytes()));
    v.push(("cloudstack/metadata/public_hostname.txt".into(), format!("{PUBLIC_HOSTNAME}\n").into_bytes()));
    if let Some(u) = user_data {
        v.push(("cloudstack/userdata/user_data.txt".into(), u.to_vec()));
    }
    v
}

/// One text leaf of a CloudStack-style `meta-data/` tree, `None` for 404.
pub(super) fn leaf(leaves: &[(&str, &str, &str)], keys: &[&str], name: &str) -> Option<String> {
    match name {
        "" => Some(leaves.iter().map(|(n, _, _)| *n).chain(["public-keys"]).collect::<Vec<_>>().join("\n")),
        "public-keys" if !keys.is_empty() => Some(keys.join("\n")),
        _ => leaves.iter().find(|(n, _, _)| *n == name).map(|(_, _, v)| v.to_string()),
    }
}

/// The CloudStack tree under `/{version}/` for the versions `versions`.
pub(super) fn tree(
    server: &Server,
    req: &Request,
    versions: &[&str],
    leaves: &[(&str, &str, &str)],
    keys: &[&str],
    no_user_data: fn() -> Response,
) -> Response {
    let not_found = || Response::new(404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>\n");
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n");
    }
    let o = &server.opts;
    let path = req.path();
    let Some((version, rest)) = path.trim_start_matches('/').split_once('/') else { return not_found() };
    if !versions.contains(&version) {
        return not_found();
    }
    let keys: &[&str] = if o.no_ssh_keys { &[] } else { keys };
    match rest.trim_end_matches('/') {
        "user-data" => server.raw_user_data().unwrap_or_else(no_user_data),
        _ if o.no_metadata => not_found(),
        "meta-data" => Response::new(200, "text/plain", leaf(leaves, keys, "").unwrap_or_default()),
        r => match r.strip_prefix("meta-data/").and_then(|n| leaf(leaves, keys, n)) {
            Some(body) => Response::new(200, "text/plain", body),
            None => not_found(),
        },
    }
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    tree(server, req, &["latest"], &LEAVES, &KEYS, || {
        Response::new(404, "text/html", "<html><body><h1>404 Not Found</h1></body></html>\n")
    })
}
