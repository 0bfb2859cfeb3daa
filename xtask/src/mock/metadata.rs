//! The metadata trees the mock serves next to user-data: the instance identity, hostname and
//! SSH keys that flint feeds to Ignition (base fragment), cloud-init (NoCloud `meta-data`) and
//! Afterburn-style attribute files (issue #4).
//!
//! Every value is defined here once and is public, so tests compare flint's outputs against
//! these constants instead of repeating literals. Layout and formats follow
//! shared/reference/platforms.md §1 (AWS: text leaves, `\n`-separated listings without a
//! trailing newline, `public-keys/` as `N=name`, 404 for an absent leaf such as `ipv6` on an
//! instance without IPv6) and §2 (Akamai: JSON bodies of `/v1/instance`, `/v1/network`,
//! `/v1/ssh-keys`).
//!
//! Knobs (`Options`): `no_ssh_keys` — an instance launched without a key pair (aws:
//! `public-keys/` is 404, as IMDS has no such directory then; akamai: `{"users": {}}`);
//! `no_metadata` — every metadata path is 404, user-data and the token API still work.

use serde_json::{Value, json};

use super::Options;

/// Well-formed ed25519 public keys (generated once with ssh-keygen, private halves discarded),
/// so consumers that parse key types accept them.
const KEY_A: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJCnEaTIXfOjJlI3t5ywVZzBacYMLTjrdYkgqM6tnd9A key-a";
const KEY_B: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIId9/1kxdZOoT87Az6VvjNychz539rhWrfnfQV85Yqw4 key-b";
const KEY_ROOT_2: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIBS3khWgxi9jYfLz3JJh1BlL5s6fAO5MloMIJy4kukUc root-2";
const KEY_ALICE: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAII+ai5zTiHfr3rQFbXBGvSRWfh+wLMgdCVHLvMh0TEBm alice";

/// AWS EC2 instance metadata (IMDS), platforms.md §1.
pub mod aws {
    pub const INSTANCE_ID: &str = "i-0f1a2b3c4d5e6f708";
    pub const AMI_ID: &str = "ami-0f1a2b3c4d5e6f708";
    pub const INSTANCE_TYPE: &str = "t3.micro";
    /// EC2 answers `hostname` and `local-hostname` with the same private DNS name.
    pub const HOSTNAME: &str = "ip-10-0-0-57.eu-west-1.compute.internal";
    pub const LOCAL_HOSTNAME: &str = HOSTNAME;
    pub const PUBLIC_HOSTNAME: &str = "ec2-203-0-113-25.eu-west-1.compute.amazonaws.com";
    pub const LOCAL_IPV4: &str = "10.0.0.57";
    pub const PUBLIC_IPV4: &str = "203.0.113.25";
    pub const AVAILABILITY_ZONE: &str = "eu-west-1b";
    pub const AVAILABILITY_ZONE_ID: &str = "euw1-az3";
    pub const REGION: &str = "eu-west-1";
    pub const ACCOUNT_ID: &str = "123456789012";
    /// `meta-data/public-keys/` entries in index order: (key-pair name, `openssh-key` line).
    pub const PUBLIC_KEYS: [(&str, &str); 2] = [("key-a", super::KEY_A), ("key-b", super::KEY_B)];

    /// The authorized-keys lines a consumer should end up with, in index order.
    pub fn ssh_keys() -> Vec<&'static str> {
        PUBLIC_KEYS.iter().map(|(_, k)| *k).collect()
    }
}

/// Akamai / Linode metadata service, platforms.md §2.
pub mod akamai {
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
    /// `/v1/ssh-keys` users, in the order the mock lists them.
    pub const SSH_USERS: [(&str, &[&str]); 2] =
        [("root", &[super::KEY_A, super::KEY_ROOT_2]), ("alice", &[super::KEY_ALICE])];

    /// Every key of every user, in listing order.
    pub fn ssh_keys() -> Vec<&'static str> {
        SSH_USERS.iter().flat_map(|(_, keys)| keys.iter().copied()).collect()
    }
}

/// AWS: the body of `rest` (the path after `/latest/` or a dated version, trailing `/`
/// stripped), or `None` for 404. User-data and the version root are the server's business.
pub(super) fn aws(rest: &str, opts: &Options) -> Option<String> {
    if opts.no_metadata || !(rest.starts_with("meta-data") || rest.starts_with("dynamic")) {
        return None;
    }
    let keys = !opts.no_ssh_keys;
    // `meta-data/public-keys/N…`: N is the listing index, as IMDS numbers key pairs.
    if let Some(sub) = rest.strip_prefix("meta-data/public-keys/").filter(|_| keys) {
        let (index, leaf) = sub.split_once('/').unwrap_or((sub, ""));
        let (_, key) = aws::PUBLIC_KEYS.get(index.parse::<usize>().ok()?)?;
        return match leaf {
            "" => Some("openssh-key".into()),
            // Real IMDS ends the key with a newline; consumers must trim it.
            "openssh-key" => Some(format!("{key}\n")),
            _ => None,
        };
    }
    let leaf = |s: &str| Some(s.to_string());
    match rest {
        "meta-data" => {
            let mut names = vec![
                "ami-id",
                "hostname",
                "instance-id",
                "instance-type",
                "local-hostname",
                "local-ipv4",
                "placement/",
                "public-hostname",
                "public-ipv4",
            ];
            if keys {
                names.push("public-keys/");
            }
            Some(names.join("\n"))
        }
        "meta-data/ami-id" => leaf(aws::AMI_ID),
        "meta-data/instance-id" => leaf(aws::INSTANCE_ID),
        "meta-data/instance-type" => leaf(aws::INSTANCE_TYPE),
        "meta-data/hostname" => leaf(aws::HOSTNAME),
        "meta-data/local-hostname" => leaf(aws::LOCAL_HOSTNAME),
        "meta-data/public-hostname" => leaf(aws::PUBLIC_HOSTNAME),
        "meta-data/local-ipv4" => leaf(aws::LOCAL_IPV4),
        "meta-data/public-ipv4" => leaf(aws::PUBLIC_IPV4),
        "meta-data/placement" => leaf("availability-zone\navailability-zone-id\nregion"),
        "meta-data/placement/availability-zone" => leaf(aws::AVAILABILITY_ZONE),
        "meta-data/placement/availability-zone-id" => leaf(aws::AVAILABILITY_ZONE_ID),
        "meta-data/placement/region" => leaf(aws::REGION),
        "meta-data/public-keys" if keys => Some(
            aws::PUBLIC_KEYS
                .iter()
                .enumerate()
                .map(|(i, (name, _))| format!("{i}={name}"))
                .collect::<Vec<_>>()
                .join("\n"),
        ),
        "dynamic" => leaf("instance-identity/"),
        "dynamic/instance-identity" => leaf("document\npkcs7\nsignature"),
        // Served pretty-printed, as IMDS does; `region` is what Afterburn reads from it.
        "dynamic/instance-identity/document" => serde_json::to_string_pretty(&json!({
            "accountId": aws::ACCOUNT_ID,
            "architecture": "x86_64",
            "availabilityZone": aws::AVAILABILITY_ZONE,
            "billingProducts": null,
            "devpayProductCodes": null,
            "marketplaceProductCodes": null,
            "imageId": aws::AMI_ID,
            "instanceId": aws::INSTANCE_ID,
            "instanceType": aws::INSTANCE_TYPE,
            "kernelId": null,
            "pendingTime": "2026-11-23T03:00:00Z",
            "privateIp": aws::LOCAL_IPV4,
            "ramdiskId": null,
            "region": aws::REGION,
            "version": "2017-09-30"
        }))
        .ok(),
        // `meta-data/ipv6` included: this instance has no IPv6 address, so the leaf is absent.
        _ => None,
    }
}

/// Akamai: the JSON document of `path` (`/v1/…`, trailing `/` stripped), or `None` for 404.
pub(super) fn akamai(path: &str, opts: &Options) -> Option<Value> {
    if opts.no_metadata {
        return None;
    }
    match path {
        "/v1/instance" => Some(json!({
            "id": akamai::INSTANCE_ID, "host_uuid": akamai::HOST_UUID, "label": akamai::LABEL,
            "region": akamai::REGION, "type": akamai::TYPE, "tags": akamai::TAGS,
            "specs": {"vcpus": 1, "memory": 1024, "disk": 25600, "transfer": 1000, "gpus": 0},
            "backups": {"enabled": false, "status": null},
            "image": {"id": "linode/debian12", "label": "Debian 12"}, "account_euuid": "A1B2C3D4-E5F6"
        })),
        // Real responses use `shared`, `slaac`, `link_local` (a string), `shared_ranges` (§2).
        "/v1/network" => Some(json!({
            "interfaces": [],
            "ipv4": {"public": [akamai::IPV4_PUBLIC], "private": [akamai::IPV4_PRIVATE], "shared": []},
            "ipv6": {"slaac": akamai::IPV6_SLAAC, "link_local": akamai::IPV6_LINK_LOCAL,
                     "ranges": [], "shared_ranges": []}
        })),
        "/v1/ssh-keys" => {
            let users: serde_json::Map<String, Value> = if opts.no_ssh_keys {
                serde_json::Map::new()
            } else {
                akamai::SSH_USERS.iter().map(|(user, keys)| (user.to_string(), json!(keys))).collect()
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
