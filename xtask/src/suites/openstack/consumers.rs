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
//! (`suites/consumers.rs` does the same for aws and akamai; suites share no code, so the
//! Ignition and NoCloud runners are repeated here, with the platform as a parameter.)

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use super::case::{Case, Payload, Run, SEED_DIR};
use super::checks::{FRAGMENT, Identity, expected_user_data, fragment, identity};
use crate::mock::openstack;
use crate::support::{deps, proc, util};

/// Ignition and the Python readers are local and quick; this only bounds a hang.
const CONSUMER_LIMIT: Duration = Duration::from_secs(60);

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

/// Runs `fetch-offline` with `/usr/lib/ignition` = `<root>/usr/lib/ignition`: a tmpfs-backed
/// overlay on `/usr/lib` in a private mount namespace gives the mount point without touching
/// the host; the private network namespace has no interface up, so a stage that wanted the
/// network could not use the host's. Returns (exit code, log, cache, neednet written).
fn run_ignition(root: &Path, dir: &Path) -> Result<(i32, String, Option<Value>, bool), String> {
    const SCRIPT: &str = r#"set -e
root_ign="$1"; scratch="$2"; ignition="$3"; shift 3
mount -t tmpfs tmpfs "$scratch"
mkdir "$scratch/up" "$scratch/work"
mount -t overlay overlay -o "lowerdir=/usr/lib,upperdir=$scratch/up,workdir=$scratch/work" /usr/lib
mkdir -p /usr/lib/ignition
mount --bind "$root_ign" /usr/lib/ignition
exec "$ignition" "$@""#;
    let scratch = dir.join("ignition-mnt");
    std::fs::create_dir_all(&scratch).map_err(|e| e.to_string())?;
    let (cache, neednet, state) = (dir.join("ignition.json"), dir.join("neednet"), dir.join("ignition-state"));
    let mut cmd = Command::new(util::tool("unshare"));
    cmd.current_dir(dir)
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c", SCRIPT, "sh"])
        .arg(root.join("usr/lib/ignition"))
        .arg(&scratch)
        .arg(deps::IGNITION_BIN)
        .args(["-platform", "openstack", "-stage", "fetch-offline", "-log-to-stdout"])
        .arg("-config-cache")
        .arg(&cache)
        .arg("-neednet")
        .arg(&neednet)
        .arg("-state-file")
        .arg(&state);
    let out = proc::run_capture(&mut cmd, CONSUMER_LIMIT)?;
    let log = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    std::fs::write(dir.join("ignition-log.txt"), &log).ok();
    let cache = match std::fs::read(&cache) {
        Ok(b) => Some(serde_json::from_slice(&b).map_err(|e| format!("Ignition's cache is not JSON: {e}"))?),
        Err(_) => None,
    };
    Ok((proc::exit_code(out.status), log, cache, neednet.exists()))
}

/// Is everything in `want` also in `got`? Objects key by key, arrays element by element (each
/// in some element of `got`), scalars equal: Ignition's cache adds defaults.
fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w.iter().all(|(k, wv)| g.get(k).is_some_and(|gv| contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => w.iter().all(|wv| g.iter().any(|gv| contains(gv, wv))),
        _ => got == want,
    }
}

/// Ignition's merge (`config/merge`) for what the fragment sets: `storage.files` by `path` and
/// `passwd.users` by `name`, the child (the user config) winning, `sshAuthorizedKeys` unioned.
fn merge_view(base: &Value, child: &Value) -> Value {
    let list = |v: &Value, a: &str, b: &str| v[a][b].as_array().cloned().unwrap_or_default();
    let mut files: Vec<Value> = list(base, "storage", "files")
        .into_iter()
        .filter(|f| !list(child, "storage", "files").iter().any(|c| c["path"] == f["path"]))
        .collect();
    files.extend(list(child, "storage", "files"));
    let mut users = list(base, "passwd", "users");
    for cu in list(child, "passwd", "users") {
        match users.iter_mut().find(|u| u["name"] == cu["name"]) {
            Some(u) => {
                let mut keys = u["sshAuthorizedKeys"].as_array().cloned().unwrap_or_default();
                for k in cu["sshAuthorizedKeys"].as_array().cloned().unwrap_or_default() {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
                *u = cu.clone();
                u["sshAuthorizedKeys"] = Value::Array(keys);
            }
            None => users.push(cu),
        }
    }
    json!({"storage": {"files": files}, "passwd": {"users": users}})
}

fn ignition(r: &Run, served: &Value, id: &Identity) -> Vec<String> {
    let mut bad = Vec::new();
    let (exit, log, cache, neednet) = match run_ignition(&r.root, &r.dir) {
        Ok(x) => x,
        Err(e) => return vec![format!("ignition: {e}")],
    };
    let tail = || format!("ignition log:\n{}", util::indent(&util::tail(&log, 15)));
    if exit != 0 {
        return vec![format!("ignition fetch-offline (platform openstack) exited {exit}"), tail()];
    }
    if neednet {
        bad.push("ignition wrote the neednet flag: it would bring up networking".into());
    }
    for f in ["user.ign", "base.d/50-flint.ign"] {
        if !log.contains(&format!("reading system config file \"/usr/lib/ignition/{f}\"")) {
            bad.push(format!("Ignition did not read /usr/lib/ignition/{f}"));
        }
    }
    let Some(cache) = cache else {
        return [bad, vec!["ignition wrote no config cache".into(), tail()]].concat();
    };
    // The cache is the acquired config (user.ign) translated to 2.14's newest spec: the same
    // files, units and users, nothing more.
    let mut own = served.clone();
    own.as_object_mut().map(|o| o.remove("ignition"));
    let names = |v: &Value, a: &str, b: &str, key: &str| -> BTreeSet<String> {
        v[a][b].as_array().into_iter().flatten().filter_map(|e| e[key].as_str().map(String::from)).collect()
    };
    let same = [("storage", "files", "path"), ("systemd", "units", "name"), ("passwd", "users", "name")]
        .iter()
        .all(|(a, b, k)| names(&cache, a, b, k) == names(served, a, b, k));
    if !contains(&cache, &own) || !same {
        bad.push(format!("Ignition's cache is not the user.ign flint wrote:\n{}", util::indent(&cache.to_string())));
    }
    // Ignition merges base.d under the config at every later stage; the merge shows what the
    // fragment gives the instance.
    let frag = std::fs::read(r.root.join(FRAGMENT[1])).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let merged = merge_view(frag.as_ref().unwrap_or(&json!({})), &cache);
    bad.extend(fragment(&merged, id).into_iter().map(|e| format!("Ignition's merged config: {e}")));
    bad
}

// --- cloud-init -----------------------------------------------------------------------------

/// cloud-init's NoCloud datasource on `<cloud_dir>/seed/nocloud`; `fs_label: null` skips the
/// block-device scan.
const NOCLOUD_READER: &str = r#"
import base64, json, sys
from cloudinit import distros, helpers
from cloudinit.sources.DataSourceNoCloud import DataSourceNoCloud
cloud_dir, run_dir = sys.argv[1], sys.argv[2]
paths = helpers.Paths({"cloud_dir": cloud_dir, "run_dir": run_dir})
sys_cfg = {"datasource": {"NoCloud": {"fs_label": None}}}
distro = distros.fetch("debian")("debian", {}, paths)
ds = DataSourceNoCloud(sys_cfg, distro, paths)
out = {"claimed": bool(ds.get_data())}
if out["claimed"]:
    ud = ds.get_userdata_raw()
    out.update({
        "user_data_b64": base64.b64encode(ud if isinstance(ud, bytes) else ud.encode()).decode(),
        "instance_id": ds.get_instance_id(),
        "local_hostname": ds.metadata.get("local-hostname"),
        "public_keys": ds.get_public_ssh_keys(),
        "parts": [p.get_content_type() for p in ds.get_userdata().walk() if not p.is_multipart()],
    })
print(json.dumps(out))
"#;

/// cloud-init's ConfigDrive reader on a directory (what the datasource does with a mounted
/// drive).
const CONFIG_DRIVE_READER: &str = r#"
import base64, json, sys
from cloudinit.sources.DataSourceConfigDrive import read_config_drive
r = read_config_drive(sys.argv[1])
md = r["metadata"]
ud = r.get("userdata") or b""
print(json.dumps({
    "version": r.get("version"),
    "user_data_b64": base64.b64encode(ud if isinstance(ud, bytes) else ud.encode()).decode(),
    "instance_id": md.get("instance-id"),
    "local_hostname": md.get("local-hostname"),
    "public_keys": md.get("public_keys"),
    "networkdata": r.get("networkdata"),
    "vendordata": r.get("vendordata"),
}))
"#;

fn python(script: &str, args: &[&Path], out_name: &str, dir: &Path) -> Result<Value, String> {
    // Debian's interpreter: the package's modules live in its dist-packages.
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", script]).args(args);
    let out = proc::run_ok(&mut cmd, CONSUMER_LIMIT)?;
    std::fs::write(dir.join(out_name), &out.stdout).ok();
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("reader output {:?}: {e}", String::from_utf8_lossy(&out.stdout)))
}

fn b64(v: &Value) -> Option<Vec<u8>> {
    v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
}

fn nocloud(c: &Case, r: &Run, ud: &[u8], id: &Identity) -> Vec<String> {
    let run_dir = r.dir.join("cloud-init-run");
    if let Err(e) = std::fs::create_dir_all(&run_dir) {
        return vec![e.to_string()];
    }
    let v = match python(NOCLOUD_READER, &[&r.root.join("var/lib/cloud"), &run_dir], "nocloud-reader.json", &r.dir) {
        Ok(v) => v,
        Err(e) => return vec![format!("cloud-init NoCloud reader: {e}")],
    };
    if v["claimed"] != true {
        return vec![format!("cloud-init's NoCloud datasource did not take the seed: {v}")];
    }
    let mut bad = Vec::new();
    if b64(&v["user_data_b64"]).as_deref() != Some(ud) {
        bad.push("NoCloud: user-data differs from the served bytes".into());
    }
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
    let v = match python(CONFIG_DRIVE_READER, &[&seed], "config-drive-reader.json", &r.dir) {
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
