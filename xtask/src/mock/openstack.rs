//! OpenStack (shared/reference/platforms.md §5): one Nova instance, the documents Nova puts on
//! its config drive, and the Nova metadata service at 169.254.169.254 that serves the same
//! instance. The harness builds config drives from these documents (`harness::drive`), so a
//! drive and the service always describe one instance and the tests compare flint's outputs
//! against the constants here.
//!
//! Facts (Nova `nova/api/metadata/base.py`, `nova/virt/configdrive.py`, its metadata docs;
//! Afterburn's OpenStack fixtures for the shape of real documents):
//! - no token and no special header; only GET and HEAD;
//! - `/openstack/{version}/user_data` is the raw user-data, 404 when the instance has none,
//!   and so is the EC2-compatible `/{version}/user-data`; versions are `latest` and dated ones;
//! - `meta_data.json` (`application/json`): `uuid`, `hostname`, `name`, `launch_index`,
//!   `availability_zone`, `project_id`, `random_seed` (base64), `devices`, and with a keypair
//!   `public_keys` (name → key) and `keys` (`[{name, type, data}]`); an instance has at most one
//!   keypair;
//! - `hostname` is the instance's host name plus `.` and Nova's `dhcp_domain` (`novalocal` by
//!   default), in `meta_data.json` and in the EC2 `hostname`, `local-hostname` and
//!   `public-hostname` alike;
//! - EC2 tree: text leaves, `\n`-separated listings, directories with a trailing `/`;
//!   `instance-id` is `i-` and the instance's database id in 8 hex digits; `public-ipv4` is an
//!   empty 200 without a floating IP; `public-keys/` lists `0=<keypair name>` and is 404 without
//!   a keypair;
//! - an absent resource is 404 with webob's plain error page.
//!
//! Knobs (`Options`): `no_openstack_tree` — only the EC2-compatible tree answers (every
//! `/openstack/…` path is 404, as on clouds that serve only that tree); `no_ssh_keys` — an
//! instance booted without a keypair; `floating_ip` — the instance has a floating IP;
//! `key_newline` — the public key ends with a newline, as a key imported from a `.pub` file
//! does (Afterburn's fixtures hold such keys); `no_metadata` — every metadata path is 404,
//! user-data still answers.

use base64::Engine as _;
use serde_json::{Value, json};

use super::http::{Request, Response, is_dated_version};
use super::keys;
use super::options::Options;
use super::service::{Server, State};

/// Nova asks for no token. The header an IMDSv2 client would send (`aws::TOKEN_HEADER`) is
/// watched anyway, so the request log shows whether a client sent one (`token_sent`).
pub const TOKEN_HEADER: &str = super::aws::TOKEN_HEADER;
/// What the mock calls itself in `Server:` (real deployments differ: a neutron metadata proxy,
/// Apache or eventlet in front of nova-api-metadata).
pub(super) const SERVER_NAME: &str = "nova-metadata-mock";

pub const UUID: &str = "2f9b3c55-7e2a-4d41-9c1e-5b8a0c6d7e11";
/// The instance's display name (`meta_data.json` `name`).
pub const NAME: &str = "flint-os-01";
/// `name` + `.` + Nova's default `dhcp_domain`.
pub const HOSTNAME: &str = "flint-os-01.novalocal";
/// `i-%08x` of the instance's database id (10).
pub const INSTANCE_ID: &str = "i-0000000a";
pub const INSTANCE_TYPE: &str = "m1.small";
pub const LOCAL_IPV4: &str = "192.168.17.21";
/// The floating IP of `--floating-ip`; without one `public-ipv4` is empty.
pub const FLOATING_IPV4: &str = "203.0.113.71";
pub const AVAILABILITY_ZONE: &str = "nova";
pub const PROJECT_ID: &str = "5d1c0f6a9e8b4c7d8a2b3c4d5e6f7a8b";
pub const RESERVATION_ID: &str = "r-7k2m9q4x";
pub const AMI_ID: &str = "ami-00000001";
pub const MAC: &str = "fa:16:3e:2a:5b:01";
pub const KEY_NAME: &str = "flint-key";
/// The instance's one keypair. Its comment holds quotes, a backslash, `#` and `: `, so the
/// JSON on the drive escapes it and every writer downstream must quote it properly.
pub const KEY: &str = keys::KEY_B;
/// Versions of the OpenStack tree (`GET /openstack`), oldest first.
pub const OPENSTACK_VERSIONS: [&str; 8] =
    ["2012-08-10", "2013-04-04", "2013-10-17", "2015-10-15", "2016-06-30", "2016-10-06", "2017-02-22", "2018-08-27"];

/// webob's 404 page, what Nova answers for an absent resource.
const NOVA_404: &str = "404 Not Found\n\nThe resource could not be found.\n\n   ";

/// What is particular about the instance, from the mock's options (and for the drives, from
/// the harness).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Instance {
    pub no_ssh_keys: bool,
    pub floating_ip: bool,
    pub key_newline: bool,
}

impl Instance {
    pub fn from_options(o: &Options) -> Instance {
        Instance { no_ssh_keys: o.no_ssh_keys, floating_ip: o.floating_ip, key_newline: o.key_newline }
    }

    /// The public key as Nova stores it, `None` without a keypair.
    pub fn key(&self) -> Option<String> {
        (!self.no_ssh_keys).then(|| if self.key_newline { format!("{KEY}\n") } else { KEY.to_string() })
    }

    /// The EC2 `public-ipv4`: the floating IP, or empty.
    pub fn public_ipv4(&self) -> &'static str {
        if self.floating_ip { FLOATING_IPV4 } else { "" }
    }

    /// `openstack/{version}/meta_data.json`.
    pub fn meta_data(&self) -> Value {
        // 48 fixed bytes: cloud-init base64-decodes `random_seed` and refuses the drive when
        // it is not base64.
        let seed: Vec<u8> = (0u8..48).map(|i| i.wrapping_mul(37).wrapping_add(11)).collect();
        let mut v = json!({
            "uuid": UUID,
            "hostname": HOSTNAME,
            "name": NAME,
            "launch_index": 0,
            "availability_zone": AVAILABILITY_ZONE,
            "project_id": PROJECT_ID,
            "random_seed": base64::engine::general_purpose::STANDARD.encode(seed),
            "devices": [],
            "meta": {}
        });
        if let Some(key) = self.key() {
            v["public_keys"] = json!({ KEY_NAME: key });
            v["keys"] = json!([{"name": KEY_NAME, "type": "ssh", "data": key}]);
        }
        v
    }

    /// `openstack/{version}/network_data.json`: one port on a DHCP network.
    pub fn network_data(&self) -> Value {
        json!({
            "links": [{"id": "tap1f2e3d4c-5b", "vif_id": "1f2e3d4c-5b6a-4798-8a9b-0c1d2e3f4a5b",
                       "type": "ovs", "mtu": 1450, "ethernet_mac_address": MAC}],
            "networks": [{"id": "network0", "type": "ipv4_dhcp", "link": "tap1f2e3d4c-5b",
                          "network_id": "7c6b5a49-3827-4161-9f0e-d1c2b3a49586"}],
            "services": []
        })
    }

    /// `openstack/{version}/vendor_data.json` (Nova's default: nothing).
    pub fn vendor_data(&self) -> Value {
        json!({})
    }

    /// `ec2/latest/meta-data.json` on a config drive: the EC2 tree as one document.
    pub fn ec2_meta_data(&self) -> Value {
        let mut v = json!({
            "ami-id": AMI_ID,
            "ami-launch-index": 0,
            "ami-manifest-path": "FIXME",
            "block-device-mapping": {"ami": "vda", "root": "/dev/vda"},
            "hostname": HOSTNAME,
            "instance-action": "none",
            "instance-id": INSTANCE_ID,
            "instance-type": INSTANCE_TYPE,
            "local-hostname": HOSTNAME,
            "local-ipv4": LOCAL_IPV4,
            "placement": {"availability-zone": AVAILABILITY_ZONE},
            "public-hostname": HOSTNAME,
            "public-ipv4": self.public_ipv4(),
            "reservation-id": RESERVATION_ID,
            "security-groups": ["default"]
        });
        if let Some(key) = self.key() {
            v["public-keys"] = json!({"0": {"_name": format!("0={KEY_NAME}"), "openssh-key": key}});
        }
        v
    }
}

/// A document as Nova writes it: `json.dumps`, which separates with `", "` and `": "`.
pub fn nova_json(v: &Value) -> Vec<u8> {
    fn write(v: &Value, out: &mut String) {
        match v {
            Value::Object(m) => {
                out.push('{');
                for (i, (k, v)) in m.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    out.push_str(&Value::from(k.as_str()).to_string());
                    out.push_str(": ");
                    write(v, out);
                }
                out.push('}');
            }
            Value::Array(a) => {
                out.push('[');
                for (i, v) in a.iter().enumerate() {
                    if i > 0 {
                        out.push_str(", ");
                    }
                    write(v, out);
                }
                out.push(']');
            }
            other => out.push_str(&other.to_string()),
        }
    }
    let mut s = String::new();
    write(v, &mut s);
    s.into_bytes()
}

/// The Afterburn attributes of this instance, read from a drive or the service: `(name,
/// value)`, `AFTERBURN_OPENSTACK_` prefix included (Afterburn `src/providers/openstack`).
/// `uuid` is `false` where `meta_data.json` could not be read (the EC2-only service).
pub fn attributes(i: &Instance, uuid: bool) -> Vec<(String, String)> {
    let mut v = vec![
        ("HOSTNAME", HOSTNAME),
        ("INSTANCE_ID", INSTANCE_ID),
        ("INSTANCE_TYPE", INSTANCE_TYPE),
        ("IPV4_LOCAL", LOCAL_IPV4),
        ("IPV4_PUBLIC", i.public_ipv4()),
    ];
    if uuid {
        v.push(("INSTANCE_UUID", UUID));
    }
    v.into_iter().map(|(k, val)| (format!("AFTERBURN_OPENSTACK_{k}"), val.to_string())).collect()
}

/// Nova's metadata service (platforms.md §5.1).
pub(super) fn route(server: &Server, req: &Request, _st: &mut State, _token_valid: bool) -> Response {
    let not_found = || Response::new(404, "text/plain; charset=UTF-8", NOVA_404);
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain; charset=UTF-8", "405 Method Not Allowed\n\n   ")
            .header("Allow", "GET, HEAD");
    }
    let o = &server.opts;
    let inst = Instance::from_options(o);
    let text = |body: String| Response::new(200, "text/plain; charset=UTF-8", body);
    let doc = |v: Value| Response::new(200, "application/json", nova_json(&v));
    let user_data = || server.raw_user_data().unwrap_or_else(not_found);
    let path = req.path().trim_end_matches('/');
    let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match parts.as_slice() {
        [""] => text(["1.0", "2009-04-04", "latest"].join("\n")),
        ["openstack", rest @ ..] if !o.no_openstack_tree => {
            let known = |v: &str| v == "latest" || OPENSTACK_VERSIONS.contains(&v);
            match rest {
                [] => text(OPENSTACK_VERSIONS.iter().chain(&["latest"]).copied().collect::<Vec<_>>().join("\n")),
                [v] if known(v) => {
                    let mut names = vec!["meta_data.json", "password", "vendor_data.json", "network_data.json"];
                    if server.payload.is_some() {
                        names.push("user_data");
                    }
                    text(names.join("\n"))
                }
                [v, "user_data"] if known(v) => user_data(),
                [v, _] if o.no_metadata && known(v) => not_found(),
                [v, "meta_data.json"] if known(v) => doc(inst.meta_data()),
                [v, "network_data.json"] if known(v) => doc(inst.network_data()),
                [v, "vendor_data.json" | "vendor_data2.json"] if known(v) => doc(inst.vendor_data()),
                // No admin password was set.
                [v, "password"] if known(v) => text(String::new()),
                _ => not_found(),
            }
        }
        ["openstack", ..] => not_found(),
        [v, rest @ ..] if *v == "latest" || is_dated_version(v) || *v == "1.0" => match rest {
            [] => text(if server.payload.is_some() { "meta-data/\nuser-data" } else { "meta-data/" }.into()),
            ["user-data"] => user_data(),
            ["meta-data", leaf @ ..] if !o.no_metadata => match ec2_leaf(&inst, leaf) {
                Some(body) => text(body),
                None => not_found(),
            },
            _ => not_found(),
        },
        _ => not_found(),
    }
}

/// The EC2-compatible tree under `meta-data/`: the body of `leaf`, or `None` for 404.
fn ec2_leaf(i: &Instance, leaf: &[&str]) -> Option<String> {
    let s = |v: &str| Some(v.to_string());
    let key = i.key();
    match leaf {
        [] => {
            let mut names = vec![
                "ami-id",
                "ami-launch-index",
                "ami-manifest-path",
                "block-device-mapping/",
                "hostname",
                "instance-action",
                "instance-id",
                "instance-type",
                "local-hostname",
                "local-ipv4",
                "placement/",
                "public-hostname",
                "public-ipv4",
                "reservation-id",
                "security-groups",
            ];
            if key.is_some() {
                names.push("public-keys/");
            }
            Some(names.join("\n"))
        }
        ["ami-id"] => s(AMI_ID),
        ["ami-launch-index"] => s("0"),
        ["ami-manifest-path"] => s("FIXME"),
        ["block-device-mapping"] => s("ami\nroot"),
        ["block-device-mapping", "ami"] => s("vda"),
        ["block-device-mapping", "root"] => s("/dev/vda"),
        ["hostname" | "local-hostname" | "public-hostname"] => s(HOSTNAME),
        ["instance-action"] => s("none"),
        ["instance-id"] => s(INSTANCE_ID),
        ["instance-type"] => s(INSTANCE_TYPE),
        ["local-ipv4"] => s(LOCAL_IPV4),
        ["public-ipv4"] => s(i.public_ipv4()),
        ["placement"] => s("availability-zone"),
        ["placement", "availability-zone"] => s(AVAILABILITY_ZONE),
        ["reservation-id"] => s(RESERVATION_ID),
        ["security-groups"] => s("default"),
        ["public-keys"] => key.map(|_| format!("0={KEY_NAME}")),
        ["public-keys", "0"] => key.map(|_| "openssh-key".to_string()),
        ["public-keys", "0", "openssh-key"] => key,
        _ => None,
    }
}
