//! The `consumer-` cases: flint's NoCloud hand-offs read by the real consumers (Debian's
//! Ignition 2.14 and cloud-init 22.4, `harness::consumers`).
//!
//! - Ignition `fetch-offline` on flint's `/usr/lib/ignition`: exit 0, no `neednet`, `user.ign`
//!   read and cached as served, and the base fragment's hostname and keys in the merge. 2.14
//!   knows `kubevirt` but predates Ignition's `proxmoxve` provider; `user.ign` (the system
//!   provider) wins before any platform provider is asked, so proxmoxve runs use `metal`.
//! - cloud-init's own NoCloud datasource on the seed directory: the user-data bytes, the
//!   instance id, the hostname and keys of `meta-data`, and — what only a drive's verbatim
//!   files give it — the `network-config` (the static address, matched by MAC) and the
//!   `vendor-data`.

use serde_json::{Value, json};

use super::case::{Case, Meta, NetCfg, OTHER_ADDR, Run, UserData};
use super::checks::{Identity, expected_user_data, identity};
use crate::harness::consumers::b64;
use crate::harness::handoff;

pub fn check(c: &Case, r: &Run) -> Vec<String> {
    let Some(id) = identity(c) else {
        return vec!["a consumer case needs a source that answered".into()];
    };
    let mut bad = Vec::new();
    let ud = expected_user_data(c, r).unwrap_or_default();
    if c.exit == 0
        && let Ok(served) = serde_json::from_slice::<Value>(ud)
    {
        bad.extend(ignition(c, r, &served, &id));
    }
    bad.extend(nocloud(c, r, ud, &id));
    bad
}

fn ignition(c: &Case, r: &Run, served: &Value, id: &Identity) -> Vec<String> {
    let platform = if c.platform == "kubevirt" { "kubevirt" } else { "metal" };
    let check = |merged: &Value| handoff::fragment(merged, id.hostname.as_deref(), &id.keys);
    let has_fragment = id.hostname.is_some() || !id.keys.is_empty();
    let fragment: Option<handoff::FragmentCheck> = if has_fragment { Some(&check) } else { None };
    handoff::ignition(&r.root, &r.dir, platform, served, fragment)
}

fn nocloud(c: &Case, r: &Run, ud: &[u8], id: &Identity) -> Vec<String> {
    let (v, mut bad) = match handoff::nocloud_reader(&r.root, &r.dir, ud) {
        Ok(x) => x,
        Err(bad) => return bad,
    };
    if v["instance_id"] != id.instance_id.as_str() {
        bad.push(format!("NoCloud: instance-id {}, expected {}", v["instance_id"], id.instance_id));
    }
    // Proxmox's hostname is in its cloud-config, which cloud-init applies later (cc_set_hostname),
    // not in meta-data.
    let proxmox_meta = c.source == Some("drive") && c.drive.is_some_and(|d| d.meta == Meta::Proxmox);
    let md_hostname = if proxmox_meta { None } else { id.hostname.clone() };
    if v["local_hostname"] != json!(md_hostname) {
        bad.push(format!("NoCloud: local-hostname {}, expected {md_hostname:?}", v["local_hostname"]));
    }
    let md_keys: Vec<String> = if proxmox_meta { Vec::new() } else { id.keys.clone() };
    if v["public_keys"] != json!(md_keys) {
        bad.push(format!("NoCloud: public keys {}, expected {md_keys:?}", v["public_keys"]));
    }
    if let Some(d) = c.drive.filter(|_| c.source == Some("drive")) {
        if matches!(d.user_data, UserData::ProxmoxCloudConfig | UserData::UsersCloudConfig)
            && v["parts"] != json!(["text/cloud-config"])
        {
            bad.push(format!("NoCloud: user-data parts {}, expected [\"text/cloud-config\"]", v["parts"]));
        }
        bad.extend(network_config(c, d.net, &v["network_config"]));
        // cloud-init reads a seed without `vendor-data` as an empty one.
        let vendor = r.drive.as_ref().and_then(|s| s.vendor_data.clone()).unwrap_or_default();
        if b64(&v["vendor_data_b64"]).unwrap_or_default() != vendor {
            bad.push(format!("NoCloud: vendor-data {}, expected the drive's", v["vendor_data_b64"]));
        }
    }
    bad
}

/// The `network-config` cloud-init read from the seed: the drive's, with the static address
/// for the MAC.
fn network_config(c: &Case, net: NetCfg, got: &Value) -> Vec<String> {
    let ok = match net {
        NetCfg::None => got.is_null(),
        NetCfg::V1OtherAddr => got["config"][0]["subnets"][0]["address"] == OTHER_ADDR,
        NetCfg::V1Dhcp => got["config"][0]["subnets"][0]["type"] == "dhcp4",
        NetCfg::V1 | NetCfg::V1WrongMac => {
            let phys = &got["config"][0];
            got["version"] == 1
                && phys["type"] == "physical"
                && phys["subnets"][0]["type"] == "static"
                && phys["subnets"][0]["address"] == c.addr
        }
        NetCfg::V2(_) => {
            let v2 = if got["network"].is_object() { &got["network"] } else { got };
            let eth = &v2["ethernets"]["nic0"];
            v2["version"] == 2 && eth["addresses"] == json!([format!("{}/24", c.addr)])
        }
    };
    if ok { Vec::new() } else { vec![format!("NoCloud: network-config {got}, expected the drive's ({net:?})")] }
}
