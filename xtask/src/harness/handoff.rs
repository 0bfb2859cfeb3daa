//! The checks the config-drive suites (`suites/nocloud`, `suites/openstack`) share on what
//! flint leaves under `--root`: the file set and modes, the report's common fields, the
//! Afterburn attributes, the Ignition fragment and `user.ign`, the NoCloud seed directory; and
//! the real consumers on those files (Ignition `fetch-offline`, cloud-init's NoCloud reader).
//! Each suite says what it expects (its instance, its attribute names); the reading and the
//! comparing are here.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use serde_json::{Value, json};

use crate::harness::checks::files_under;
use crate::harness::consumers::{
    b64, cache_is, decode_data_url, merge_view, parse_attributes, read_nocloud, run_ignition,
};
use crate::harness::report;
use crate::support::util;

/// flint's outputs under the root.
pub const OUTPUT: &str = "/run/flint/user-data";
pub const REPORT: &str = "/run/flint/report.json";
pub const SEED_DIR: &str = "/var/lib/cloud/seed/nocloud";
/// The Ignition files flint writes, relative to the root.
pub const USER_IGN: [&str; 2] = ["run/ignition/user.ign", "usr/lib/ignition/user.ign"];
pub const FRAGMENT: [&str; 2] = ["run/ignition/base.d/50-flint.ign", "usr/lib/ignition/base.d/50-flint.ign"];
/// flint's default `--ssh-user`.
pub const SSH_USER: &str = "core";

/// An absolute path of flint's, relative to the root.
pub fn rel(p: &str) -> String {
    p.trim_start_matches('/').to_string()
}

/// A file of the seed directory, relative to the root.
pub fn seed(name: &str) -> String {
    format!("{}/{name}", rel(SEED_DIR))
}

/// The tree under the root is exactly `want` (no temporary file, nothing partial, nothing at a
/// wrong path); the `secret` files are mode 0600, the others 0644; the user-data output is
/// `output` byte for byte (`from` says whose bytes they are).
pub fn tree(root: &Path, want: &BTreeSet<String>, secret: &[String], output: Option<&[u8]>, from: &str) -> Vec<String> {
    let mut bad = Vec::new();
    let got = files_under(root);
    let missing: Vec<&String> = want.difference(&got).collect();
    let extra: Vec<&String> = got.difference(want).collect();
    if !missing.is_empty() {
        bad.push(format!("missing under --root: {missing:?}"));
    }
    if !extra.is_empty() {
        bad.push(format!("unexpected files under --root (temporaries? wrong paths?): {extra:?}"));
    }
    for f in got.intersection(want) {
        let expect = if secret.contains(f) { 0o600 } else { 0o644 };
        match std::fs::symlink_metadata(root.join(f)).map(|m| m.permissions().mode() & 0o7777) {
            Ok(m) if m == expect => {}
            Ok(m) => bad.push(format!("{f}: mode {m:o}, expected {expect:o}")),
            Err(e) => bad.push(format!("{f}: {e}")),
        }
    }
    if let Some(want) = output {
        match std::fs::read(root.join(rel(OUTPUT))) {
            Ok(b) if b == want => {}
            Ok(b) => bad.push(format!("{OUTPUT}: {} bytes, not the {} bytes {from}", b.len(), want.len())),
            Err(e) => bad.push(format!("{OUTPUT}: {e}")),
        }
    }
    bad
}

/// What every config-drive case expects of the report's common fields.
pub struct ReportWant<'a> {
    pub platform: &'a str,
    pub exit: i32,
    pub source: Option<&'a str>,
    pub error_phase: Option<&'a str>,
}

/// The report against docs/contract.md ("Report"): all top-level keys and `source`; version,
/// platform, exit code, source, failed phase. `Err` when there is no report object to check
/// further, else the report and what was wrong so far.
pub fn report_common<'v>(
    report: Option<&'v Value>,
    got_exit: Option<i32>,
    want: &ReportWant,
) -> Result<(&'v Value, Vec<String>), Vec<String>> {
    let mut bad = Vec::new();
    let Some(v) = report else {
        return Err(vec![format!("no readable report at {REPORT}")]);
    };
    let Some(obj) = v.as_object() else { return Err(vec!["report is not a JSON object".into()]) };
    for k in report::TOP_LEVEL.iter().chain(&["source"]) {
        if !obj.contains_key(*k) {
            bad.push(format!("report lacks `{k}` (absent values must be null)"));
        }
    }
    let mut eq = |key: &str, want: Value| {
        if v[key] != want {
            bad.push(format!("report {key} = {}, expected {want}", v[key]));
        }
    };
    eq("version", 1.into());
    eq("platform", want.platform.into());
    eq("exit_code", got_exit.unwrap_or(-1).into());
    eq("source", want.source.map_or(Value::Null, Value::from));
    match (want.exit, want.error_phase) {
        (0 | 3, _) => eq("failed_phase", Value::Null),
        (_, Some(p)) => eq("failed_phase", p.into()),
        (_, None) if !v["failed_phase"].is_string() => {
            bad.push(format!("report failed_phase = {}, expected the phase the run failed in", v["failed_phase"]))
        }
        _ => {}
    }
    Ok((v, bad))
}

/// The attributes file holds exactly `want` (Afterburn's lines).
pub fn attributes(root: &Path, path: &str, want: Vec<(String, String)>) -> Vec<String> {
    let mut bad = Vec::new();
    match std::fs::read(root.join(rel(path))).map(|b| String::from_utf8_lossy(&b).into_owned()) {
        Ok(text) => match parse_attributes(&text) {
            Ok(got) => {
                let got: BTreeSet<(String, String)> = got.into_iter().collect();
                let want: BTreeSet<(String, String)> = want.into_iter().collect();
                for (k, v) in want.difference(&got) {
                    bad.push(format!("attribute {k}={v} missing"));
                }
                for (k, v) in got.difference(&want) {
                    bad.push(format!("attribute {k}={v} not expected"));
                }
            }
            Err(e) => bad.push(format!("attributes: {e}")),
        },
        Err(e) => bad.push(format!("{path}: {e}")),
    }
    bad
}

/// The Ignition fragment: both copies alike, spec 3.0.0, and `fragment` on it.
pub fn fragment_files(root: &Path, hostname: Option<&str>, keys: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    let copies: Vec<Option<Vec<u8>>> = FRAGMENT.iter().map(|f| std::fs::read(root.join(f)).ok()).collect();
    if copies[0] != copies[1] {
        bad.push(format!("{} and {} differ", FRAGMENT[0], FRAGMENT[1]));
    }
    match copies[1].as_deref().map(serde_json::from_slice::<Value>) {
        Some(Ok(f)) => {
            if f["ignition"]["version"] != "3.0.0" {
                bad.push(format!("fragment ignition.version {}, expected \"3.0.0\"", f["ignition"]["version"]));
            }
            bad.extend(fragment(&f, hostname, keys));
        }
        Some(Err(e)) => bad.push(format!("fragment is not JSON: {e}")),
        None => {}
    }
    bad
}

/// A base fragment (or a config merged with it): `/etc/hostname` is the hostname (none: no
/// such file), and `core` holds exactly the keys.
pub fn fragment(f: &Value, hostname: Option<&str>, keys: &[String]) -> Vec<String> {
    let mut bad = Vec::new();
    let files = f["storage"]["files"].as_array().cloned().unwrap_or_default();
    let hostnames: Vec<&Value> = files.iter().filter(|e| e["path"] == "/etc/hostname").collect();
    match (hostnames.as_slice(), hostname) {
        ([], None) => {}
        ([e], Some(h)) => {
            let got = e["contents"]["source"].as_str().and_then(decode_data_url);
            let want = format!("{h}\n").into_bytes();
            if got.as_deref() != Some(want.as_slice()) && got.as_deref() != Some(h.as_bytes()) {
                bad.push(format!("/etc/hostname source {}, expected {h}", e["contents"]["source"]));
            }
        }
        (other, want) => bad.push(format!("{} /etc/hostname entries, expected the hostname {want:?}", other.len())),
    }
    let users = f["passwd"]["users"].as_array().cloned().unwrap_or_default();
    let got: Vec<String> = users
        .iter()
        .filter(|u| u["name"] == SSH_USER)
        .flat_map(|u| u["sshAuthorizedKeys"].as_array().cloned().unwrap_or_default())
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    if got != keys {
        bad.push(format!("user {SSH_USER} has keys {got:?}, expected {keys:?}"));
    }
    bad
}

/// The seed's `meta-data`: its (key, scalar) pairs in order, and the `public-keys` list.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct MetaData {
    pub pairs: Vec<(String, String)>,
    pub keys: Vec<String>,
}

/// The seed's `meta-data` read back. flint writes each scalar as a YAML double-quoted string
/// (the same escapes as JSON); plain scalars are taken as they are. (cloud-init itself reads
/// the seed in the consumer cases.)
pub fn parse_meta_data(text: &str) -> Result<MetaData, String> {
    let scalar = |s: &str| -> Result<String, String> {
        let s = s.trim();
        if s.starts_with('"') {
            serde_json::from_str::<String>(s).map_err(|e| format!("meta-data value {s:?}: {e}"))
        } else {
            Ok(s.to_string())
        }
    };
    let (mut md, mut in_keys) = (MetaData::default(), false);
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        if let Some(item) = line.strip_prefix("  - ").filter(|_| in_keys) {
            md.keys.push(scalar(item)?);
            continue;
        }
        let (k, v) = line.split_once(':').ok_or_else(|| format!("meta-data line {line:?}"))?;
        in_keys = k == "public-keys" && v.trim().is_empty();
        if !in_keys {
            md.pairs.push((k.to_string(), scalar(v)?));
        }
    }
    Ok(md)
}

/// flint's own seed: `meta-data` with exactly the instance id, the hostname and the keys, and
/// `user-data` the user-data byte for byte.
pub fn seed_files(root: &Path, instance_id: &str, hostname: &str, keys: &[String], user_data: &[u8]) -> Vec<String> {
    let mut bad = Vec::new();
    let read = |f: &str| std::fs::read(root.join(f));
    match read(&seed("meta-data")).map(|b| String::from_utf8_lossy(&b).into_owned()) {
        Ok(text) => match parse_meta_data(&text) {
            Ok(md) => {
                let want = [("instance-id", instance_id), ("local-hostname", hostname)];
                let want: Vec<(String, String)> = want.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
                if md.pairs != want {
                    bad.push(format!("seed meta-data holds {:?}, expected {want:?}", md.pairs));
                }
                if md.keys != keys {
                    bad.push(format!("seed meta-data public-keys {:?}, expected {keys:?}", md.keys));
                }
            }
            Err(e) => bad.push(format!("seed meta-data: {e}")),
        },
        Err(e) => bad.push(format!("{SEED_DIR}/meta-data: {e}")),
    }
    if read(&seed("user-data")).ok().as_deref() != Some(user_data) {
        bad.push(format!("{SEED_DIR}/user-data is not the user-data ({} bytes expected)", user_data.len()));
    }
    bad
}

/// Both `user.ign` copies are the served config byte for byte.
pub fn user_ign(root: &Path, config: &[u8]) -> Vec<String> {
    USER_IGN
        .iter()
        .filter(|f| std::fs::read(root.join(f)).ok().as_deref() != Some(config))
        .map(|f| format!("{f} is not the served config byte for byte"))
        .collect()
}

/// The drive found by scanning names the loop device it was on.
pub fn found_on_loop(stderr: &str, device: Option<&str>) -> Vec<String> {
    match device {
        Some(dev) if stderr.lines().any(|l| l.starts_with("flint: drive: ") && l.ends_with(&format!(" on {dev}"))) => {
            Vec::new()
        }
        Some(dev) => vec![format!("no `flint: drive: … on {dev}` line: the scan did not find the loop device")],
        None => vec!["no loop device was attached".into()],
    }
}

// --- the real consumers ------------------------------------------------------------------------

/// A check of the fragment merged with the config (`fragment` with the instance's values).
pub type FragmentCheck<'a> = &'a dyn Fn(&Value) -> Vec<String>;

/// Ignition `fetch-offline` on flint's `/usr/lib/ignition` with `platform`: exit 0, no
/// `neednet`, `user.ign` (and the base fragment, when `fragment` is given) read, the cache the
/// served config, and the merge of fragment and cache passing `fragment`.
pub fn ignition(
    root: &Path,
    dir: &Path,
    platform: &str,
    served: &Value,
    fragment: Option<FragmentCheck>,
) -> Vec<String> {
    let ig = match run_ignition(&root.join("usr/lib/ignition"), platform, dir) {
        Ok(x) => x,
        Err(e) => return vec![format!("ignition: {e}")],
    };
    if ig.exit != 0 {
        return vec![format!("ignition fetch-offline (platform {platform}) exited {}", ig.exit), ig.log_tail()];
    }
    let mut bad = Vec::new();
    if ig.neednet {
        bad.push("ignition wrote the neednet flag: it would bring up networking".into());
    }
    let reads: &[&str] = if fragment.is_some() { &["user.ign", "base.d/50-flint.ign"] } else { &["user.ign"] };
    for f in reads {
        if !ig.read(f) {
            bad.push(format!("Ignition did not read /usr/lib/ignition/{f}"));
        }
    }
    let Some(cache) = &ig.cache else {
        return [bad, vec!["ignition wrote no config cache".into(), ig.log_tail()]].concat();
    };
    // The cache is the acquired config (user.ign) translated to 2.14's newest spec: the same
    // files, units and users, nothing more.
    if !cache_is(cache, served) {
        bad.push(format!("Ignition's cache is not the user.ign flint wrote:\n{}", util::indent(&cache.to_string())));
    }
    // Ignition merges base.d under the config at every later stage; the merge shows what the
    // fragment gives the instance.
    if let Some(check) = fragment {
        let frag = std::fs::read(root.join(FRAGMENT[1])).ok().and_then(|b| serde_json::from_slice(&b).ok());
        let merged = merge_view(frag.as_ref().unwrap_or(&json!({})), cache);
        bad.extend(check(&merged).into_iter().map(|e| format!("Ignition's merged config: {e}")));
    }
    bad
}

/// cloud-init's NoCloud datasource on the seed directory: it takes the seed, and the user-data
/// is `user_data`. `Err` when there is nothing further to check, else what it read and what
/// was wrong so far.
pub fn nocloud_reader(root: &Path, dir: &Path, user_data: &[u8]) -> Result<(Value, Vec<String>), Vec<String>> {
    let v = match read_nocloud(root, dir, "nocloud-reader.json") {
        Ok(v) => v,
        Err(e) => return Err(vec![format!("cloud-init NoCloud reader: {e}")]),
    };
    if v["claimed"] != true {
        return Err(vec![format!("cloud-init's NoCloud datasource did not take the seed: {v}")]);
    }
    let mut bad = Vec::new();
    if b64(&v["user_data_b64"]).as_deref() != Some(user_data) {
        bad.push("NoCloud: user-data differs from the served bytes".into());
    }
    Ok((v, bad))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_data_reader() {
        let text =
            "instance-id: \"2f9b\"\nlocal-hostname: h.novalocal\npublic-keys:\n  - \"ssh-ed25519 AAAA k \\\"x\\\"\"\n";
        let MetaData { pairs, keys } = parse_meta_data(text).unwrap();
        assert_eq!(
            pairs,
            [("instance-id".to_string(), "2f9b".to_string()), ("local-hostname".into(), "h.novalocal".into())]
        );
        assert_eq!(keys, ["ssh-ed25519 AAAA k \"x\""]);
        assert!(parse_meta_data("nonsense\n").is_err());
    }

    /// The fragment check fails on a wrong or missing hostname, an extra or a missing key.
    #[test]
    fn fragment_bites() {
        let keys = ["k1".to_string()];
        let f = |host: Option<&str>, keys: &[&str]| {
            let files: Vec<Value> = host
                .map(|h| json!({"path": "/etc/hostname", "contents": {"source": format!("data:,{h}%0A")}}))
                .into_iter()
                .collect();
            json!({"storage": {"files": files}, "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": keys}]}})
        };
        assert_eq!(fragment(&f(Some("h"), &["k1"]), Some("h"), &keys), Vec::<String>::new());
        assert_eq!(fragment(&f(Some("g"), &["k1"]), Some("h"), &keys).len(), 1);
        assert_eq!(fragment(&f(None, &["k1"]), Some("h"), &keys).len(), 1);
        assert_eq!(fragment(&f(Some("h"), &["k1"]), None, &keys).len(), 1);
        assert_eq!(fragment(&f(Some("h"), &["k1", "k2"]), Some("h"), &keys).len(), 1);
        assert_eq!(fragment(&f(Some("h"), &[]), Some("h"), &keys).len(), 1);
    }

    /// The tree check fails on a missing file and on output bytes other than the served ones.
    /// (The suites' own tests break the modes and leave a temporary file.)
    #[test]
    fn tree_bites() {
        let dir = util::ScratchDir::new("handoff-tree").unwrap();
        let root = dir.path();
        std::fs::create_dir_all(root.join("run/flint")).unwrap();
        std::fs::write(root.join("run/flint/user-data"), "{}").unwrap();
        let mode = std::fs::Permissions::from_mode(0o600);
        std::fs::set_permissions(root.join("run/flint/user-data"), mode).unwrap();
        let secret = [rel(OUTPUT)];
        let check = |want: &BTreeSet<String>, out: &[u8]| tree(root, want, &secret, Some(out), "served");
        let output: BTreeSet<String> = [rel(OUTPUT)].into();
        assert_eq!(check(&output, b"{}"), Vec::<String>::new());
        assert_eq!(check(&output, b"{ }"), ["/run/flint/user-data: 2 bytes, not the 3 bytes served"]);
        let with_report: BTreeSet<String> = [rel(REPORT), rel(OUTPUT)].into();
        assert!(check(&with_report, b"{}")[0].starts_with("missing under --root"));
    }

    #[test]
    fn loop_device_named() {
        let line = "flint: drive: iso9660 drive cidata on /dev/loop7\n";
        assert_eq!(found_on_loop(line, Some("/dev/loop7")), Vec::<String>::new());
        assert_eq!(found_on_loop(line, Some("/dev/loop3")).len(), 1);
        assert_eq!(found_on_loop(line, None).len(), 1);
    }
}
