//! cloud-init NoCloud's network seed (shared/reference/platforms.md §17.2): a plain HTTP
//! server holding the seed files under one directory, the `s=` URL of
//! `ds=nocloud;s=http://HOST:PORT/PATH/` (kernel command line or SMBIOS serial).
//!
//! Facts (cloud-init `DataSourceNoCloud.py`, `util.read_seeded`, its NoCloud docs): the client
//! joins the seed URL and a file name (`<seed>user-data`, `<seed>meta-data`, then the optional
//! `vendor-data` and `network-config`); the seed is any web server (Python's `http.server`, nginx,
//! a MAAS or Foreman endpoint), so nothing is special about it but the paths. `meta-data` is YAML
//! with `instance-id`, `local-hostname` and `public-keys`.
//!
//! The mock is as strict as a real server that serves one directory of one virtual host:
//! - only GET and HEAD (else 405);
//! - a request without `Host` is 400 (RFC 9112 §3.2: HTTP/1.1 requires it); a `Host` other than
//!   the one the seed URL names (`--seed-host`, `10.0.0.1:8000` with its port as written) is
//!   404, as a name-based virtual host answers for a name it does not serve;
//! - only the exact file paths under `--seed-path` exist (no `//`, no missing `/`, no query):
//!   everything else is 404;
//! - `user-data` is 404 when the instance has none (the payload is absent); `meta-data` is
//!   always there; `vendor-data` and `network-config` are not (404), as a seed that only
//!   carries the two required files.

use super::http::{Request, Response};
use super::keys;
use super::service::{Server, State};

/// NoCloud asks for no token; the header is watched so the log would show a stray one.
pub const TOKEN_HEADER: &str = super::aws::TOKEN_HEADER;
/// What `python3 -m http.server` calls itself (the usual ad-hoc seed server).
pub(super) const SERVER_NAME: &str = "SimpleHTTP/0.6 Python/3.11.2";

/// Where the seed lives on the mock, and the `Host` it answers for.
pub const DEFAULT_PATH: &str = super::options::DEFAULT_SEED_PATH;
pub const INSTANCE_ID: &str = "iid-flint-nc-01";
pub const HOSTNAME: &str = "flint-nc-01";
/// The seed's SSH keys: plain and one that needs YAML quoting.
pub const KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_B];
/// Keys as Proxmox writes them into its `#cloud-config`, unquoted: only comments a plain YAML
/// scalar can hold (Proxmox does not quote, so a key whose comment holds `: ` or ` #` breaks
/// its own user-data).
pub const PLAIN_KEYS: [&str; 2] = [keys::KEY_A, keys::KEY_ROOT_2];

/// The seed's `meta-data`, as a user would write it by hand (the key with `: ` and `#` in its
/// comment single-quoted, the others plain).
pub fn meta_data() -> String {
    let mut s = format!("instance-id: {INSTANCE_ID}\nlocal-hostname: {HOSTNAME}\npublic-keys:\n");
    for k in KEYS {
        if k.contains(": ") || k.contains(" #") || k.contains('"') {
            s += &format!("  - '{}'\n", k.replace('\'', "''"));
        } else {
            s += &format!("  - {k}\n");
        }
    }
    s
}

pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let html = |status: u16, msg: &str| {
        Response::new(
            status,
            "text/html;charset=utf-8",
            format!(
                "<!DOCTYPE HTML>\n<html><body><h1>Error response</h1><p>Error code: {status}</p><p>Message: {msg}.</p></body></html>\n"
            ),
        )
    };
    if req.method != "GET" && req.method != "HEAD" {
        return html(405, "Method Not Allowed").header("Allow", "GET, HEAD");
    }
    let o = &server.opts;
    match (req.header("host"), o.seed_host.as_deref()) {
        (None, _) => return html(400, "Bad request: no Host header"),
        (Some(got), Some(want)) if !got.eq_ignore_ascii_case(want) => return html(404, "File not found"),
        _ => {}
    }
    let Some(file) = req.target.strip_prefix(o.seed_path.as_str()) else {
        return html(404, "File not found");
    };
    match file {
        "user-data" => server
            .payload
            .as_ref()
            .map(|p| Response::new(200, "application/octet-stream", p.clone()).user_data())
            .unwrap_or_else(|| html(404, "File not found")),
        "meta-data" if !o.no_metadata => Response::new(200, "application/octet-stream", meta_data()),
        _ => html(404, "File not found"),
    }
}
