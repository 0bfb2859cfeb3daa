//! The real consumers of flint's hand-offs, run on the tree flint wrote under `--root`, and
//! what the suites that run them (`consumers`, `openstack`) read their results with:
//!
//! - `run_ignition`: Debian's Ignition 2.14, `fetch-offline` in private mount and network
//!   namespaces where `/usr/lib/ignition` is one of flint's directories (2.14 reads only
//!   `/usr/lib/ignition`, peers.md §2.2); `cache_is`, `contains` and `merge_view` hold its
//!   cache and its merge with the base fragment to what was served;
//! - `read_nocloud`, `read_config_drive`: cloud-init 22.4's own NoCloud datasource and
//!   ConfigDrive reader on a seed directory, their findings as JSON;
//! - `parse_attributes`, `decode_data_url`, `percent_decode`: the hand-off files read back.

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;
use serde_json::{Value, json};

use crate::support::{deps, proc, util};

/// Ignition and the Python readers are local and quick; this only bounds a hang.
const CONSUMER_LIMIT: Duration = Duration::from_secs(60);

// --- Ignition -------------------------------------------------------------------------------

/// What `ignition -stage fetch-offline` did.
pub struct IgnitionRun {
    pub exit: i32,
    /// stdout and stderr (`-log-to-stdout`), also kept in `ignition-log.txt`.
    pub log: String,
    /// The config cache it wrote, `None` when it wrote none.
    pub cache: Option<Value>,
    /// It wrote the `neednet` flag: it would bring up networking.
    pub neednet: bool,
}

impl IgnitionRun {
    /// Did Ignition parse `/usr/lib/ignition/<f>`? It logs every system config file it read; a
    /// base fragment that failed to parse would have failed the stage.
    pub fn read(&self, f: &str) -> bool {
        self.log.contains(&format!("reading system config file \"/usr/lib/ignition/{f}\""))
    }

    /// The end of its log, for a failure message.
    pub fn log_tail(&self) -> String {
        format!("ignition log:\n{}", util::indent(&util::tail(&self.log, 15)))
    }
}

/// Runs Ignition's fetch-offline stage for `platform` with `/usr/lib/ignition` = `ign_dir`
/// (flint's `usr/lib/ignition`, or its `run/ignition` copies, which 2.14 would not look for),
/// its files in `dir`. The private mount namespace gets a tmpfs-backed overlay on `/usr/lib`
/// so the mount point can exist without touching the host; the private network namespace has
/// no interface up, so a stage that needed the network could not quietly use the host's.
pub fn run_ignition(ign_dir: &Path, platform: &str, dir: &Path) -> Result<IgnitionRun, String> {
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
    let cache = dir.join("ignition.json");
    let neednet = dir.join("neednet");
    let state = dir.join("ignition-state");
    let mut cmd = Command::new(util::tool("unshare"));
    cmd.current_dir(dir)
        .args(["--mount", "--net", "--propagation", "private", "sh", "-c", SCRIPT, "sh"])
        .arg(ign_dir)
        .arg(&scratch)
        .arg(deps::IGNITION_BIN)
        .args(["-platform", platform, "-stage", "fetch-offline", "-log-to-stdout"])
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
    Ok(IgnitionRun { exit: proc::exit_code(out.status), log, cache, neednet: neednet.exists() })
}

/// Is Ignition's `cache` the config `source` it acquired, translated to its newest spec: every
/// value of `source` but its `ignition` section, and the same files, units and users (by
/// path and name), nothing more, nothing less?
pub fn cache_is(cache: &Value, source: &Value) -> bool {
    let mut own = source.clone();
    own.as_object_mut().map(|o| o.remove("ignition"));
    let keys = |v: &Value, a: &str, b: &str, key: &str| -> BTreeSet<String> {
        v[a][b].as_array().into_iter().flatten().filter_map(|e| e[key].as_str().map(String::from)).collect()
    };
    let same_entries = [("storage", "files", "path"), ("systemd", "units", "name"), ("passwd", "users", "name")]
        .iter()
        .all(|(a, b, key)| keys(cache, a, b, key) == keys(source, a, b, key));
    contains(cache, &own) && same_entries
}

/// Is everything in `want` also in `got`? Objects: every key, recursively; arrays: every
/// element of `want` is contained in some element of `got`; scalars: equal. Ignition's cache
/// adds defaults (empty objects, the translated version), so equality would be too strict.
pub fn contains(got: &Value, want: &Value) -> bool {
    match (got, want) {
        (Value::Object(g), Value::Object(w)) => w.iter().all(|(k, wv)| g.get(k).is_some_and(|gv| contains(gv, wv))),
        (Value::Array(g), Value::Array(w)) => w.iter().all(|wv| g.iter().any(|gv| contains(gv, wv))),
        _ => got == want,
    }
}

/// Ignition's merge (config/merge) restricted to what the fragment sets: `storage.files`
/// keyed by `path` and `passwd.users` keyed by `name`, the child (user config) winning per
/// key, except that `sshAuthorizedKeys` lists of the same user are unioned. Ignition merges
/// the base fragment under the cached config at every later stage (engine.go:
/// Merge(base, config)); the cache itself never holds it.
pub fn merge_view(base: &Value, child: &Value) -> Value {
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

// --- cloud-init -----------------------------------------------------------------------------

/// cloud-init's NoCloud datasource on a seed dir: it searches `<cloud_dir>/seed/nocloud`
/// (cloudinit/sources/DataSourceNoCloud.py); `fs_label: null` skips the block-device scan.
const NOCLOUD_READER: &str = r#"
import base64, json, sys
from cloudinit import distros, helpers
from cloudinit.sources.DataSourceNoCloud import DataSourceNoCloud
cloud_dir, run_dir = sys.argv[1], sys.argv[2]
paths = helpers.Paths({"cloud_dir": cloud_dir, "run_dir": run_dir})
sys_cfg = {"datasource": {"NoCloud": {"fs_label": None}}}
distro = distros.fetch("debian")("debian", {}, paths)
ds = DataSourceNoCloud(sys_cfg, distro, paths)
out = {"claimed": bool(ds.get_data()), "seed": ds.seed}
if out["claimed"]:
    ud = ds.get_userdata_raw()
    out.update({
        "user_data_b64": base64.b64encode(ud if isinstance(ud, bytes) else ud.encode()).decode(),
        "instance_id": ds.get_instance_id(),
        "local_hostname": ds.metadata.get("local-hostname"),
        "hostname": ds.get_hostname(fqdn=True).hostname,
        "public_keys": ds.get_public_ssh_keys(),
        "parts": [p.get_content_type() for p in ds.get_userdata().walk() if not p.is_multipart()],
        "network_config": ds.network_config,
        "vendor_data_b64": None if ds.get_vendordata_raw() is None else base64.b64encode(
            ds.get_vendordata_raw() if isinstance(ds.get_vendordata_raw(), bytes) else ds.get_vendordata_raw().encode()).decode(),
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

/// The NoCloud datasource on `<root>/var/lib/cloud` (its run dir in `dir`): `claimed`, and
/// when it took the seed `user_data_b64`, `instance_id`, `local_hostname`, `hostname`,
/// `public_keys`, the user-data's MIME `parts`, the `network_config` it read (a seed's
/// `network-config`) and `vendor_data_b64` (null without `vendor-data`). The output is kept in `dir/<out_name>`.
pub fn read_nocloud(root: &Path, dir: &Path, out_name: &str) -> Result<Value, String> {
    let run_dir = dir.join("cloud-init-run");
    std::fs::create_dir_all(&run_dir).map_err(|e| e.to_string())?;
    python(NOCLOUD_READER, &[&root.join("var/lib/cloud"), &run_dir], &dir.join(out_name))
}

/// `read_config_drive(seed)`: `version`, `user_data_b64`, `instance_id`, `local_hostname`,
/// `public_keys`, `networkdata`, `vendordata`. The output is kept in `dir/<out_name>`.
pub fn read_config_drive(seed: &Path, dir: &Path, out_name: &str) -> Result<Value, String> {
    python(CONFIG_DRIVE_READER, &[seed], &dir.join(out_name))
}

fn python(script: &str, args: &[&Path], out_path: &Path) -> Result<Value, String> {
    // Debian's interpreter: the package's modules live in its dist-packages.
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", script]).args(args);
    let out = proc::run_ok(&mut cmd, CONSUMER_LIMIT)?;
    std::fs::write(out_path, &out.stdout).ok();
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("reader output {:?}: {e}", String::from_utf8_lossy(&out.stdout)))
}

/// A reader's `user_data_b64`, decoded.
pub fn b64(v: &Value) -> Option<Vec<u8>> {
    v.as_str().and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok())
}

// --- the hand-off files read back -----------------------------------------------------------

/// Parses an attributes file: `KEY=value` lines, keys `[A-Z0-9_]+`, no duplicates.
pub fn parse_attributes(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out: Vec<(String, String)> = Vec::new();
    for line in text.lines() {
        let (k, v) = line.split_once('=').ok_or_else(|| format!("attribute line without `=`: {line:?}"))?;
        if k.is_empty() || !k.bytes().all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == b'_') {
            return Err(format!("attribute name {k:?} is not [A-Z0-9_]+"));
        }
        if out.iter().any(|(seen, _)| seen == k) {
            return Err(format!("attribute {k} appears twice"));
        }
        out.push((k.to_string(), v.to_string()));
    }
    Ok(out)
}

/// Decodes an RFC 2397 `data:` URL (`data:[<mediatype>][;base64],<data>`).
pub fn decode_data_url(url: &str) -> Option<Vec<u8>> {
    let (meta, data) = url.strip_prefix("data:")?.split_once(',')?;
    if meta.split(';').any(|p| p == "base64") {
        return base64::engine::general_purpose::STANDARD.decode(percent_decode(data)?).ok();
    }
    percent_decode(data)
}

/// `%XX` escapes decoded; `None` for a bad one.
pub fn percent_decode(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = std::str::from_utf8(b.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_urls() {
        assert_eq!(decode_data_url("data:,host%0A").unwrap(), b"host\n");
        assert_eq!(decode_data_url("data:text/plain;charset=utf-8,a%20b").unwrap(), b"a b");
        assert_eq!(decode_data_url("data:;base64,aG9zdAo=").unwrap(), b"host\n");
        assert_eq!(decode_data_url("http://x/"), None);
        assert_eq!(decode_data_url("data:,bad%zz"), None);
        assert_eq!(percent_decode("h.novalocal%0A").unwrap(), b"h.novalocal\n");
    }

    #[test]
    fn containment() {
        let got = json!({"a": {"b": [1, {"c": 2, "d": 3}], "e": null}, "f": "x"});
        assert!(contains(&got, &json!({"a": {"b": [{"c": 2}]}})));
        assert!(contains(&got, &json!({})));
        assert!(!contains(&got, &json!({"a": {"b": [{"c": 3}]}})));
        assert!(!contains(&got, &json!({"g": 1})));
        assert!(!contains(&got, &json!({"f": "y"})));
    }

    #[test]
    fn caches_and_merges() {
        let source = json!({"ignition": {"version": "3.3.0"}, "storage": {"files": [{"path": "/a"}]}});
        let cache = json!({"ignition": {"version": "3.4.0"}, "storage": {"files": [{"path": "/a", "mode": 420}]}});
        assert!(cache_is(&cache, &source));
        let more = json!({"storage": {"files": [{"path": "/a"}, {"path": "/b"}]}});
        assert!(!cache_is(&more, &source), "an extra file");
        let base = json!({"passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["k1"]}]}});
        let child = json!({"passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["k2"]}]}});
        assert_eq!(merge_view(&base, &child)["passwd"]["users"][0]["sshAuthorizedKeys"], json!(["k1", "k2"]));
    }

    #[test]
    fn attribute_lines() {
        let a = parse_attributes("AFTERBURN_AWS_INSTANCE_ID=i-1\nAFTERBURN_AWS_REGION=eu-west-1\n").unwrap();
        assert_eq!(a[1], ("AFTERBURN_AWS_REGION".into(), "eu-west-1".into()));
        let a = parse_attributes("AFTERBURN_OPENSTACK_IPV4_PUBLIC=\nAFTERBURN_OPENSTACK_HOSTNAME=h\n").unwrap();
        assert_eq!(a[0], ("AFTERBURN_OPENSTACK_IPV4_PUBLIC".into(), String::new()));
        assert!(parse_attributes("afterburn=1\n").is_err());
        assert!(parse_attributes("lower=1\n").is_err());
        assert!(parse_attributes("NOEQUALS\n").is_err());
        assert!(parse_attributes("A=1\nA=2\n").is_err());
    }
}
