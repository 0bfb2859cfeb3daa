//! The `consumer-` cases: flint's OpenStack hand-offs read by the real consumers, Debian's
//! Ignition 2.14 and cloud-init 22.4 (installed by `deps::ensure_openstack`).
//!
//! - Ignition: `ignition -platform openstack -stage fetch-offline` in private mount and network
//!   namespaces where `/usr/lib/ignition` is flint's (2.14 reads only that directory). With
//!   `user.ign` there, its system provider wins and the OpenStack provider — which would race
//!   the config drive against the metadata service — is never asked: exit 0, no `neednet`
//!   flag, `user.ign` and the base fragment read, the cache the served config, and the merge of
//!   fragment and cache the instance's hostname and keys for `core`.
//! - cloud-init: `DataSourceConfigDrive.read_config_drive(SEED)` on the seed directory, which
//!   from a drive holds the drive's own layout (`openstack/latest/…`): user-data, `instance-id`
//!   (= uuid), `local-hostname`, `public_keys`, `networkdata`, `vendordata`; and the NoCloud
//!   datasource on `seed/nocloud` (`user-data`, `meta-data`) as for the other platforms.
//!
//! (The runners and readers are `harness::consumers`, shared with `suites/consumers.rs`,
//! which does the same for aws and akamai.)

use serde_json::{Value, json};

use super::case::{Case, Payload, Run, SEED_DIR};
use super::checks::{Identity, expected_user_data, identity};
use crate::harness::consumers::{b64, read_config_drive};
use crate::harness::handoff;
use crate::mock::openstack;

pub fn check(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(id) = identity(c) else {
        return vec!["a consumer case needs a source that answered".into()];
    };
    let user_data = expected_user_data(c, r);
    if c.payload == Payload::Ignition && user_data.is_some() {
        match serde_json::from_slice::<Value>(user_data.unwrap_or_default()) {
            Ok(served) => bad.extend(ignition(r, &served, &id)),
            Err(e) => bad.push(format!("the served config is not JSON: {e}")),
        }
    }
    let ud = user_data.unwrap_or_default();
    if id.uuid {
        bad.extend(nocloud(c, r, ud, &id));
    }
    if id.from_drive {
        bad.extend(config_drive(c, r, ud, &id));
    }
    bad
}

// --- Ignition -------------------------------------------------------------------------------

fn ignition(r: &Run, served: &Value, id: &Identity) -> Vec<String> {
    let check = |merged: &Value| handoff::fragment(merged, Some(openstack::HOSTNAME), &id.keys);
    handoff::ignition(&r.root, &r.dir, "openstack", served, Some(&check))
}

// --- cloud-init -----------------------------------------------------------------------------

fn nocloud(c: &Case, r: &Run, ud: &[u8], id: &Identity) -> Vec<String> {
    let (v, mut bad) = match handoff::nocloud_reader(&r.root, &r.dir, ud) {
        Ok(x) => x,
        Err(bad) => return bad,
    };
    if v["instance_id"] != openstack::UUID || v["local_hostname"] != openstack::HOSTNAME {
        bad.push(format!("NoCloud: instance-id {} / local-hostname {}", v["instance_id"], v["local_hostname"]));
    }
    if v["public_keys"] != json!(id.keys) {
        bad.push(format!("NoCloud: public keys {}, expected {:?}", v["public_keys"], id.keys));
    }
    if c.payload == Payload::CloudConfig && v["parts"] != json!(["text/cloud-config"]) {
        bad.push(format!("NoCloud: user-data parts {}, expected [\"text/cloud-config\"]", v["parts"]));
    }
    bad
}

fn config_drive(c: &Case, r: &Run, ud: &[u8], id: &Identity) -> Vec<String> {
    let seed = r.root.join(SEED_DIR.trim_start_matches('/'));
    let v = match read_config_drive(&seed, &r.dir, "config-drive-reader.json") {
        Ok(v) => v,
        Err(e) => return vec![format!("cloud-init ConfigDrive reader: {e}")],
    };
    let mut bad = Vec::new();
    if v["version"] != 2 {
        bad.push(format!("ConfigDrive: read as version {}, expected 2 (openstack/latest)", v["version"]));
    }
    if b64(&v["user_data_b64"]).as_deref() != Some(ud) {
        bad.push("ConfigDrive: userdata differs from the served bytes".into());
    }
    if v["instance_id"] != openstack::UUID || v["local_hostname"] != openstack::HOSTNAME {
        bad.push(format!("ConfigDrive: instance-id {} / local-hostname {}", v["instance_id"], v["local_hostname"]));
    }
    // The drive's own `public_keys`, as Nova wrote them.
    let keys = c.instance.key().map_or(Value::Null, |k| json!({ openstack::KEY_NAME: k }));
    if v["public_keys"] != keys {
        bad.push(format!("ConfigDrive: public_keys {}, expected {keys}", v["public_keys"]));
    }
    if v["networkdata"] != id.instance.network_data() || v["vendordata"] != id.instance.vendor_data() {
        bad.push(format!("ConfigDrive: networkdata {} / vendordata {}", v["networkdata"], v["vendordata"]));
    }
    bad
}
