//! Consumer tests (issue #4, "How it is tested"): flint's outputs handed to the real
//! consumers, Debian's Ignition 2.14 and cloud-init 22.4, plus the Afterburn-style attribute
//! file, in the namespace harness of the end-to-end scenarios.
//!
//! Every case runs flint once in the client namespace against the mock (DHCP via dnsmasq)
//! with `--root <tmp>/root`, then:
//!
//! - checks the tree under the root holds exactly the files the case expects (no temp files,
//!   nothing partial) with their modes (user-data and `user.ign` 0600, the rest 0644);
//! - Ignition: runs `ignition --stage=fetch-offline --platform=metal` in private mount and
//!   network namespaces where `/usr/lib/ignition` is flint's directory (2.14 knows only
//!   `/usr/lib/ignition`, peers.md §2.2), and holds the cached config against what the mock
//!   served merged with flint's base fragment (hostname and SSH keys from the mock's
//!   metadata), and checks no `neednet` flag was written (peers.md §2.3). `metal` because it
//!   is a 2.14 platform whose provider does not itself go to the network: with `user.ign`
//!   present the system provider wins and the platform is never asked;
//! - cloud-init: loads the NoCloud seed with cloud-init's own `DataSourceNoCloud` (its seed
//!   dir search, no device scan) and compares user-data bytes, instance id, hostname, keys;
//! - attributes: `KEY=value` lines with Afterburn's variable names for the platform.
//!
//! The expected values come from `mock::aws` and `mock::akamai`, where the mock's answers are
//! defined.

use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;

use serde_json::{Value, json};

use crate::harness::checks::files_under;
use crate::harness::consumers::{
    b64, cache_is, contains, decode_data_url, merge_view, parse_attributes, read_nocloud, run_ignition,
};
use crate::harness::flint::{HARD_EXTRA, check_exit, run_flint, verdict};
use crate::harness::netns::{Addressing, Topology};
use crate::harness::report;
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::{self, Platform, akamai, aws, azure, gcp, nocloud, openstack, payloads};
use crate::support::{cleanup, deps, gzip, util};

pub const SUITE: Suite = Suite { name: "consumers", needs_flint: true, gate: false, run, cases: || all().len() };

/// flint's budget in every case; it is killed `HARD_EXTRA` later.
const BUDGET: Duration = Duration::from_secs(10);

/// Where flint is told to write, relative to `--root` (the paths an initramfs uses).
const SEED_DIR: &str = "/var/lib/cloud/seed/nocloud";
const ATTRIBUTES: &str = "/run/metadata/flint";
const REPORT: &str = "/run/flint/report.json";
/// flint's default `--output`, resolved under `--root`.
const USER_DATA: &str = "run/flint/user-data";
const USER_IGN: [&str; 2] = ["run/ignition/user.ign", "usr/lib/ignition/user.ign"];
const FRAGMENT: [&str; 2] = ["run/ignition/base.d/50-flint.ign", "usr/lib/ignition/base.d/50-flint.ign"];

/// Which of flint's two Ignition directories (under `--root`) Ignition is given as its
/// `/usr/lib/ignition`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum IgnitionDir {
    /// `usr/lib/ignition`: what Ignition ≤ 2.26, Debian's 2.14 among them, reads.
    UsrLib,
    /// `run/ignition`: what 2.27+ reads first. 2.14 predates it, so the case bind-mounts this
    /// directory over `/usr/lib/ignition` to have a real Ignition read these copies.
    Run,
}

impl IgnitionDir {
    /// Index of its files in `USER_IGN` and `FRAGMENT`.
    fn index(self) -> usize {
        match self {
            IgnitionDir::Run => 0,
            IgnitionDir::UsrLib => 1,
        }
    }

    fn dir(self) -> &'static str {
        match self {
            IgnitionDir::Run => "run/ignition",
            IgnitionDir::UsrLib => "usr/lib/ignition",
        }
    }
}
/// flint's default `--ssh-user`.
const SSH_USER: &str = "core";

#[derive(Clone, Copy, PartialEq, Eq)]
enum Served {
    /// An Ignition spec 3.3.0 config (the newest 2.14 accepts as stable).
    Ignition,
    /// `#cloud-config` YAML: not an Ignition config.
    CloudConfig,
}

/// What the mock publishes besides user-data (`--no-ssh-keys`, `--no-metadata`).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Published {
    All,
    NoSshKeys,
    Nothing,
}

pub struct Case {
    pub name: &'static str,
    about: &'static str,
    platform: Platform,
    served: Served,
    published: Published,
    ignition: bool,
    seed: bool,
    attributes: bool,
    /// An embedded config is already at `<root>/usr/lib/ignition/user.ign`.
    existing: bool,
    overwrite: bool,
    /// `<root>/usr` is a read-only bind mount, as systemd >= 256 leaves `/usr` in the initrd
    /// (ProtectSystem=yes, peers.md §2.2): flint must remount it read-write and back.
    usr_read_only: bool,
    /// The payload is uploaded gzipped: `user.ign` must still be plain JSON, as Ignition's
    /// system provider parses `user.ign` without gunzipping (peers.md §2.2).
    gzip: bool,
    /// `--ssh-user` when not flint's default.
    ssh_user: &'static str,
    /// The copies Ignition reads.
    ignition_reads: IgnitionDir,
    exit: i32,
}

impl Case {
    fn base(name: &'static str, about: &'static str) -> Self {
        Case {
            name,
            about,
            platform: Platform::Aws,
            served: Served::Ignition,
            published: Published::All,
            ignition: true,
            seed: true,
            attributes: true,
            existing: false,
            overwrite: false,
            usr_read_only: false,
            gzip: false,
            ssh_user: SSH_USER,
            ignition_reads: IgnitionDir::UsrLib,
            exit: 0,
        }
    }

    /// Does `user.ign` end up holding the served config?
    fn writes_user_ign(&self) -> bool {
        self.ignition && self.served == Served::Ignition && (!self.existing || self.overwrite)
    }

    /// Is there anything for a base fragment (a hostname or SSH keys)?
    fn fragment(&self) -> bool {
        self.ignition && self.published != Published::Nothing
    }
}

pub fn all() -> Vec<Case> {
    vec![
        Case::base("ignition-aws", "Ignition fetch-offline reads user.ign + hostname/keys fragment; seed; attributes"),
        Case {
            ignition_reads: IgnitionDir::Run,
            ..Case::base(
                "ignition-aws-run-copies",
                "the same from flint's /run/ignition copies (bind-mounted over /usr/lib/ignition for 2.14)",
            )
        },
        Case {
            platform: Platform::Akamai,
            ..Case::base("ignition-akamai", "the same on Akamai (label as hostname, keys of every user)")
        },
        Case {
            gzip: true,
            ..Case::base("ignition-aws-gzip", "gzip upload: user.ign and the seed hold the plain JSON Ignition parses")
        },
        Case {
            platform: Platform::Akamai,
            gzip: true,
            attributes: false,
            ..Case::base("ignition-akamai-gzip", "base64(gzip) on Akamai: the same")
        },
        Case {
            platform: Platform::Akamai,
            ssh_user: "admin",
            seed: false,
            attributes: false,
            ..Case::base("ignition-akamai-ssh-user", "--ssh-user admin: the fragment gives the keys to admin, not core")
        },
        Case {
            served: Served::CloudConfig,
            exit: 7,
            ..Case::base(
                "ignition-not-a-config",
                "#cloud-config with --ignition: exit 7, no user.ign, seed still written",
            )
        },
        Case {
            platform: Platform::Akamai,
            served: Served::CloudConfig,
            existing: true,
            overwrite: true,
            exit: 7,
            ..Case::base(
                "ignition-not-a-config-keeps-existing",
                "#cloud-config never replaces an existing user.ign, even with --ignition-overwrite",
            )
        },
        Case {
            existing: true,
            seed: false,
            attributes: false,
            ..Case::base("ignition-existing-kept", "an embedded user.ign wins: kept, Ignition caches it")
        },
        Case {
            platform: Platform::Akamai,
            existing: true,
            overwrite: true,
            seed: false,
            attributes: false,
            ..Case::base("ignition-overwrite", "--ignition-overwrite replaces an existing user.ign")
        },
        Case {
            usr_read_only: true,
            seed: false,
            attributes: false,
            ..Case::base(
                "ignition-usr-read-only",
                "/usr a read-only bind mount: remounted rw for user.ign, ro again after",
            )
        },
        Case {
            served: Served::CloudConfig,
            ignition: false,
            ..Case::base("cloud-init-aws", "NoCloud seed read by cloud-init's own DataSourceNoCloud; attributes")
        },
        Case {
            platform: Platform::Akamai,
            served: Served::CloudConfig,
            ignition: false,
            ..Case::base("cloud-init-akamai", "the same on Akamai")
        },
        Case {
            published: Published::NoSshKeys,
            attributes: false,
            ..Case::base("ignition-aws-no-ssh-keys", "instance without key pair: fragment sets the hostname only")
        },
        Case {
            published: Published::Nothing,
            seed: false,
            attributes: false,
            ..Case::base("ignition-aws-no-metadata", "metadata all 404: user.ign still handed over, no fragment")
        },
    ]
}

// --- payloads -----------------------------------------------------------------------------

/// What the mock serves: a config with content of its own (a file carrying the marker, a
/// unit, a second user) and neither `/etc/hostname` nor the SSH user, so everything the
/// fragment adds is visible in Ignition's merged result.
fn served_bytes(served: Served, marker: &str) -> Vec<u8> {
    match served {
        Served::Ignition => {
            let v = served_ignition(marker);
            let mut out = serde_json::to_vec_pretty(&v).expect("serialisable");
            out.push(b'\n');
            out
        }
        Served::CloudConfig => format!(
            "#cloud-config\n# {marker}\npackages:\n  - htop\nruncmd:\n  - [sh, -c, 'echo provisioned by flint > /run/flint-hello']\n"
        )
        .into_bytes(),
    }
}

fn served_ignition(marker: &str) -> Value {
    json!({
        "ignition": {"version": "3.3.0"},
        "passwd": {"users": [{"name": "ops", "groups": ["wheel"]}]},
        "storage": {"files": [
            {"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}},
            {"path": "/etc/motd.d/flint.motd", "mode": 420,
             "contents": {"source": "data:;base64,UHJvdmlzaW9uZWQgYnkgZmxpbnQuCg=="}}
        ]},
        "systemd": {"units": [{
            "name": "flint-hello.service", "enabled": true,
            "contents": "[Unit]\nDescription=hello\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"
        }]}
    })
}

/// The config an image builder embedded before flint ran.
fn embedded_ignition() -> Vec<u8> {
    let v = json!({
        "ignition": {"version": "3.3.0"},
        "storage": {"files": [{"path": "/etc/embedded-config", "mode": 420, "contents": {"source": "data:,embedded"}}]}
    });
    serde_json::to_vec(&v).expect("serialisable")
}

/// What the platform publishes, as flint should hand it on.
struct Identity {
    instance_id: String,
    hostname: String,
    keys: Vec<String>,
    /// Who the fragment gives the keys to (`--ssh-user`).
    user: &'static str,
}

fn published(c: &Case) -> Option<Identity> {
    if c.published == Published::Nothing {
        return None;
    }
    let (instance_id, hostname, keys) = match c.platform {
        Platform::Aws => (aws::INSTANCE_ID.to_string(), aws::LOCAL_HOSTNAME, aws::ssh_keys()),
        Platform::Akamai => (akamai::INSTANCE_ID.to_string(), akamai::LABEL, akamai::ssh_keys()),
        // (OpenStack's consumer cases are in `suites/openstack`.)
        Platform::OpenStack => (openstack::UUID.to_string(), openstack::HOSTNAME, vec![openstack::KEY]),
        // (NoCloud's are in `suites/nocloud`.)
        Platform::NoCloud => (nocloud::INSTANCE_ID.to_string(), nocloud::HOSTNAME, nocloud::KEYS.to_vec()),
        Platform::Azure => (azure::VM_ID.to_string(), azure::VM_NAME, azure::KEYS.to_vec()),
        // (GCP's are in `suites/gcp`.)
        Platform::Gcp => (gcp::INSTANCE_ID.to_string(), gcp::HOSTNAME, gcp::expected_keys(false, false)),
        // (Issue #12's are in `suites/platforms`.)
        _ => return None,
    };
    let keys =
        if c.published == Published::NoSshKeys { Vec::new() } else { keys.into_iter().map(String::from).collect() };
    Some(Identity { instance_id, hostname: hostname.to_string(), keys, user: c.ssh_user })
}

/// Afterburn's attribute names and the mock's values (Afterburn `src/providers/{aws,akamai}`,
/// prefixed `AFTERBURN_` when written).
fn expected_attributes(platform: Platform) -> Vec<(String, String)> {
    let v: Vec<(&str, String)> = match platform {
        Platform::OpenStack => return openstack::attributes(&openstack::Instance::default(), true),
        // NoCloud has no Afterburn provider; GCP's cases are in `suites/gcp`.
        Platform::NoCloud | Platform::Gcp => return Vec::new(),
        // Afterburn's `IPV4_VIRTUAL` comes from the wireserver, which flint does not ask.
        Platform::Azure => {
            vec![("AZURE_VMSIZE", azure::VM_SIZE.into()), ("AZURE_IPV4_DYNAMIC", azure::PRIVATE_IPV4.into())]
        }
        Platform::Aws => {
            use aws::*;
            vec![
                ("AWS_INSTANCE_ID", INSTANCE_ID.into()),
                ("AWS_INSTANCE_TYPE", INSTANCE_TYPE.into()),
                ("AWS_IPV4_LOCAL", LOCAL_IPV4.into()),
                ("AWS_IPV4_PUBLIC", PUBLIC_IPV4.into()),
                ("AWS_AVAILABILITY_ZONE", AVAILABILITY_ZONE.into()),
                ("AWS_HOSTNAME", HOSTNAME.into()),
                ("AWS_PUBLIC_HOSTNAME", PUBLIC_HOSTNAME.into()),
                ("AWS_REGION", REGION.into()),
            ]
        }
        Platform::Akamai => {
            use akamai::*;
            vec![
                ("AKAMAI_INSTANCE_ID", INSTANCE_ID.to_string()),
                ("AKAMAI_INSTANCE_HOST_UUID", HOST_UUID.into()),
                ("AKAMAI_INSTANCE_LABEL", LABEL.into()),
                ("AKAMAI_INSTANCE_REGION", REGION.into()),
                ("AKAMAI_INSTANCE_TYPE", TYPE.into()),
                ("AKAMAI_INSTANCE_TAGS", TAGS.join(":")),
                ("AKAMAI_PUBLIC_IPV4_0", IPV4_PUBLIC.into()),
                ("AKAMAI_PRIVATE_IPV4_0", IPV4_PRIVATE.into()),
                ("AKAMAI_IPV6_SLAAC", IPV6_SLAAC.into()),
                ("AKAMAI_IPV6_LINK_LOCAL", IPV6_LINK_LOCAL.into()),
            ]
        }
        _ => Vec::new(),
    };
    v.into_iter().map(|(k, v)| (format!("AFTERBURN_{k}"), v)).collect()
}

// --- helpers ------------------------------------------------------------------------------

fn mode(p: &Path) -> Option<u32> {
    std::fs::symlink_metadata(p).ok().map(|m| m.permissions().mode() & 0o7777)
}

fn sorted(v: &[String]) -> Vec<String> {
    let mut v = v.to_vec();
    v.sort();
    v
}

// --- checks ---------------------------------------------------------------------------------

fn check_files(c: &Case, root: &Path, bad: &mut Vec<String>) {
    let mut want: BTreeSet<String> =
        [USER_DATA, REPORT.trim_start_matches('/')].iter().map(|s| s.to_string()).collect();
    let mut optional = BTreeSet::new();
    if c.writes_user_ign() {
        want.extend(USER_IGN.iter().map(|s| s.to_string()));
    }
    if c.existing {
        want.insert(USER_IGN[1].into());
    }
    if c.fragment() {
        // With exit 7 Ignition falls back to its platform provider; a fragment is harmless
        // there and the contract does not say, so either way is accepted.
        let set = if c.exit == 0 { &mut want } else { &mut optional };
        set.extend(FRAGMENT.iter().map(|s| s.to_string()));
    }
    if c.seed {
        let d = SEED_DIR.trim_start_matches('/');
        want.extend([format!("{d}/user-data"), format!("{d}/meta-data")]);
        optional.insert(format!("{d}/network-config"));
    }
    if c.attributes {
        want.insert(ATTRIBUTES.trim_start_matches('/').into());
    }
    let got = files_under(root);
    let missing: Vec<&String> = want.difference(&got).collect();
    let extra: Vec<&String> = got.iter().filter(|f| !want.contains(*f) && !optional.contains(*f)).collect();
    if !missing.is_empty() {
        bad.push(format!("missing under --root: {missing:?}"));
    }
    if !extra.is_empty() {
        bad.push(format!("unexpected files under --root (temp files? wrong paths?): {extra:?}"));
    }
    let secret =
        [USER_DATA.to_string(), USER_IGN[0].into(), USER_IGN[1].into(), format!("{}/user-data", &SEED_DIR[1..])];
    for f in got.intersection(&want.union(&optional).cloned().collect()) {
        if c.existing && f == USER_IGN[1] && !c.writes_user_ign() {
            continue; // ours, mode as we made it
        }
        let expect = if secret.contains(f) { 0o600 } else { 0o644 };
        match mode(&root.join(f)) {
            Some(m) if m == expect => {}
            Some(m) => bad.push(format!("{f}: mode {m:o}, expected {expect:o}")),
            None => bad.push(format!("{f}: vanished")),
        }
    }
}

fn check_user_ign(c: &Case, root: &Path, served: &[u8], bad: &mut Vec<String>) {
    for (i, rel) in USER_IGN.iter().enumerate() {
        let got = std::fs::read(root.join(rel)).ok();
        let want: Option<Vec<u8>> = if c.writes_user_ign() {
            Some(served.to_vec())
        } else if c.existing && i == 1 {
            Some(embedded_ignition())
        } else {
            None
        };
        if got != want {
            let show = |v: &Option<Vec<u8>>| v.as_ref().map_or("absent".to_string(), |b| format!("{} bytes", b.len()));
            let what = if c.existing && !c.writes_user_ign() && i == 0 {
                " (Ignition >= 2.27 reads /run/ignition first and would skip the embedded config)"
            } else {
                ""
            };
            bad.push(format!("{rel}: {}, expected {}{what}", show(&got), show(&want)));
        }
    }
}

/// The fragment's two copies: identical, spec 3.0.0, hostname and keys of the SSH user.
fn check_fragment(pubd: &Identity, root: &Path, bad: &mut Vec<String>) {
    let copies: Vec<Option<Vec<u8>>> = FRAGMENT.iter().map(|f| std::fs::read(root.join(f)).ok()).collect();
    if copies[0] != copies[1] {
        bad.push(format!("{} and {} differ", FRAGMENT[0], FRAGMENT[1]));
    }
    let Some(Some(bytes)) = copies.last() else { return };
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v) => {
            if v["ignition"]["version"] != "3.0.0" {
                bad.push(format!("fragment ignition.version {}, expected \"3.0.0\"", v["ignition"]["version"]));
            }
            bad.extend(check_hostname_and_keys("fragment", &v, pubd));
        }
        Err(e) => bad.push(format!("fragment is not JSON: {e}")),
    }
}

/// `/etc/hostname` = the published hostname, and the SSH user has exactly the published keys.
fn check_hostname_and_keys(what: &str, cfg: &Value, pubd: &Identity) -> Vec<String> {
    let mut bad = Vec::new();
    let files = cfg["storage"]["files"].as_array().cloned().unwrap_or_default();
    let hostname_files: Vec<&Value> = files.iter().filter(|f| f["path"] == "/etc/hostname").collect();
    match hostname_files.as_slice() {
        [f] => {
            let src = f["contents"]["source"].as_str().unwrap_or("");
            match decode_data_url(src) {
                Some(b) if b == pubd.hostname.as_bytes() || b == format!("{}\n", pubd.hostname).as_bytes() => {}
                Some(b) => bad.push(format!(
                    "{what}: /etc/hostname holds {:?}, expected {:?}",
                    String::from_utf8_lossy(&b),
                    pubd.hostname
                )),
                None => bad.push(format!("{what}: /etc/hostname source {src:?} is not a data URL")),
            }
        }
        other => bad.push(format!("{what}: {} /etc/hostname entries, expected 1", other.len())),
    }
    let users = cfg["passwd"]["users"].as_array().cloned().unwrap_or_default();
    let user = pubd.user;
    let mine: Vec<&Value> = users.iter().filter(|u| u["name"] == user).collect();
    let keys: Vec<String> = mine
        .iter()
        .flat_map(|u| u["sshAuthorizedKeys"].as_array().cloned().unwrap_or_default())
        .filter_map(|k| k.as_str().map(String::from))
        .collect();
    for other in users.iter().filter(|u| u["name"] != user) {
        let theirs = other["sshAuthorizedKeys"].as_array().cloned().unwrap_or_default();
        if theirs.iter().any(|k| k.as_str().is_some_and(|k| pubd.keys.iter().any(|p| p == k))) {
            bad.push(format!("{what}: user {} got published keys; only {user} should", other["name"]));
        }
    }
    if mine.len() > 1 {
        bad.push(format!("{what}: user {user} listed {} times", mine.len()));
    }
    if pubd.keys.is_empty() {
        if !keys.is_empty() {
            bad.push(format!("{what}: {user} has keys {keys:?} though the platform publishes none"));
        }
    } else if sorted(&keys) != sorted(&pubd.keys) {
        bad.push(format!("{what}: {user} keys {keys:?}, expected exactly {:?}", pubd.keys));
    }
    bad
}

fn check_ignition(c: &Case, root: &Path, dir: &Path, marker: &str, bad: &mut Vec<String>) {
    let ig = match run_ignition(&root.join(c.ignition_reads.dir()), "metal", dir) {
        Ok(r) => r,
        Err(e) => return bad.push(format!("ignition: {e}")),
    };
    if ig.exit != 0 {
        bad.push(format!("ignition fetch-offline exited {}", ig.exit));
        bad.push(ig.log_tail());
        return;
    }
    if ig.neednet {
        bad.push("ignition wrote the neednet flag: it would bring up networking".into());
    }
    let Some(cache) = &ig.cache else {
        bad.push("ignition wrote no config cache".into());
        bad.push(ig.log_tail());
        return;
    };
    if !ig.read("user.ign") {
        bad.push("Ignition did not read /usr/lib/ignition/user.ign".into());
    }
    if ig.read("base.d/50-flint.ign") != c.fragment() {
        bad.push(format!("Ignition read the base fragment: {}, expected {}", !c.fragment(), c.fragment()));
    }
    // The cache holds the config Ignition acquired (user.ign), translated to its newest spec.
    let source: Value = if c.writes_user_ign() {
        served_ignition(marker)
    } else {
        serde_json::from_slice(&embedded_ignition()).expect("own JSON")
    };
    if !cache_is(cache, &source) {
        bad.push(format!(
            "Ignition's cached config is not the user.ign it should have read:\n{}",
            util::indent(&serde_json::to_string_pretty(cache).unwrap_or_default())
        ));
    }
    // Ignition merges the base fragment under the cached config at every later stage
    // (engine.go: Merge(base, config)); the cache itself never holds it. Check the result of
    // that merge for what the fragment sets.
    let fragment =
        std::fs::read(root.join(FRAGMENT[c.ignition_reads.index()])).ok().and_then(|b| serde_json::from_slice(&b).ok());
    let merged = merge_view(fragment.as_ref().unwrap_or(&json!({})), cache);
    match published(c) {
        Some(p) => bad.extend(check_hostname_and_keys("Ignition's merged config", &merged, &p)),
        None => {
            let leaked = contains(&merged, &json!({"storage": {"files": [{"path": "/etc/hostname"}]}}))
                || contains(&merged, &json!({"passwd": {"users": [{"name": c.ssh_user}]}}));
            if leaked {
                bad.push(
                    "Ignition's merged config sets a hostname or SSH user though no metadata was published".into(),
                );
            }
        }
    }
}

fn check_seed(c: &Case, root: &Path, dir: &Path, served: &[u8], bad: &mut Vec<String>) {
    let seed_ud = root.join(&SEED_DIR[1..]).join("user-data");
    if std::fs::read(&seed_ud).ok().as_deref() != Some(served) {
        bad.push(format!("{}: not the served user-data bytes", seed_ud.display()));
    }
    let v = match read_nocloud(root, dir, "cloud-init-reader.json") {
        Ok(v) => v,
        Err(e) => return bad.push(format!("cloud-init reader: {e}")),
    };
    if v["claimed"] != true {
        return bad.push(format!("cloud-init's NoCloud datasource did not accept the seed: {v}"));
    }
    if b64(&v["user_data_b64"]).as_deref() != Some(served) {
        bad.push("cloud-init's user-data differs from the served bytes".into());
    }
    let Some(p) = published(c) else { return };
    if v["instance_id"] != p.instance_id.as_str() {
        bad.push(format!("cloud-init instance id {}, expected {:?}", v["instance_id"], p.instance_id));
    }
    if v["local_hostname"] != p.hostname.as_str() || v["hostname"] != p.hostname.as_str() {
        bad.push(format!(
            "cloud-init local-hostname {} / hostname {}, expected {:?}",
            v["local_hostname"], v["hostname"], p.hostname
        ));
    }
    let keys: Vec<String> =
        v["public_keys"].as_array().into_iter().flatten().filter_map(|k| k.as_str().map(String::from)).collect();
    if sorted(&keys) != sorted(&p.keys) {
        bad.push(format!("cloud-init public keys {keys:?}, expected exactly {:?}", p.keys));
    }
    if c.served == Served::CloudConfig && v["parts"] != json!(["text/cloud-config"]) {
        bad.push(format!("cloud-init sees user-data parts {}, expected [\"text/cloud-config\"]", v["parts"]));
    }
}

fn check_attributes(c: &Case, root: &Path, bad: &mut Vec<String>) {
    let path = root.join(&ATTRIBUTES[1..]);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return bad.push(format!("{}: {e}", path.display())),
    };
    let got = match parse_attributes(&text) {
        Ok(a) => a,
        Err(e) => return bad.push(format!("attributes: {e}")),
    };
    let prefix = format!("AFTERBURN_{}_", c.platform.as_str().to_ascii_uppercase());
    for (k, _) in &got {
        if !k.starts_with(&prefix) {
            bad.push(format!("attribute {k} lacks the {prefix} prefix"));
        }
    }
    for (k, want) in expected_attributes(c.platform) {
        match got.iter().find(|(g, _)| *g == k) {
            Some((_, v)) if *v == want => {}
            Some((_, v)) => bad.push(format!("attribute {k}={v}, expected {want}")),
            None => bad.push(format!("attribute {k} missing (expected {want})")),
        }
    }
    // The mocked AWS instance has no IPv6 address (meta-data/ipv6 is 404).
    if let Some((k, v)) = got.iter().find(|(k, _)| k == "AFTERBURN_AWS_IPV6") {
        bad.push(format!("{k}={v} though meta-data/ipv6 is 404"));
    }
}

/// `<root>/usr` was read-only before flint, read-only again after, and flint said it
/// remounted it (`/proc/self/mountinfo` field 6: per-mount options).
fn check_usr_remount(root: &Path, dir: &Path, stderr: &str, bad: &mut Vec<String>) {
    let usr = root.join("usr").display().to_string();
    for when in ["before", "after"] {
        let text = std::fs::read_to_string(dir.join(format!("usr-mountinfo.{when}"))).unwrap_or_default();
        let mount = text.lines().rfind(|l| l.split(' ').nth(4) == Some(usr.as_str()));
        match mount.and_then(|l| l.split(' ').nth(5)) {
            Some(opts) if opts.split(',').any(|o| o == "ro") => {}
            Some(opts) => bad.push(format!("{usr} mount options {when} flint: {opts}, expected ro")),
            None => bad.push(format!("no mount at {usr} {when} flint")),
        }
    }
    if !stderr.lines().any(|l| l.starts_with("flint: ignition: remounted ") && l.contains("read-write")) {
        bad.push("flint did not log remounting /usr read-write".into());
    }
}

fn check_stderr(c: &Case, stderr: &str, marker: &str, tokens: &[String], bad: &mut Vec<String>) {
    if stderr.contains(marker) {
        bad.push("stderr contains user-data bytes (the marker)".into());
    }
    if tokens.iter().any(|t| stderr.contains(&t[..t.len().min(16)])) {
        bad.push("stderr contains a metadata token".into());
    }
    if let Some(l) = stderr.lines().find(|l| !l.trim().is_empty() && !l.starts_with("flint: ")) {
        bad.push(format!("stderr line not in `flint: <phase>: …` form: {l:?}"));
    }
    if c.exit == 7 && !stderr.lines().any(|l| l.starts_with("flint: error: ignition: ")) {
        bad.push("exit 7 without a `flint: error: ignition: …` line".into());
    }
}

/// Every metadata request carried a valid token (and, on Akamai, asked for JSON).
fn check_mock_log(c: &Case, log: &[mock::LogEntry], bad: &mut Vec<String>) {
    for e in log.iter().filter(|e| e.method == "GET") {
        if !(e.token_sent && e.token_valid) {
            bad.push(format!("request without a valid token: {e}"));
        }
        if e.status == 406 {
            bad.push(format!("request refused for its Accept header {:?}: {e}", e.accept));
        }
    }
    if c.published != Published::Nothing && (c.fragment() || c.seed || c.attributes) {
        let meta = log.iter().filter(|e| !e.path.contains("user-data") && !e.path.contains("token")).count();
        if meta == 0 {
            bad.push("flint fetched no metadata at all".into());
        }
    }
}

// --- running ------------------------------------------------------------------------------

fn flint_args(c: &Case, root: &Path) -> Vec<String> {
    let mut a: Vec<String> =
        ["--platform", c.platform.as_str(), "--interface", "eth0", "--timeout"].iter().map(|s| s.to_string()).collect();
    a.push(BUDGET.as_secs().to_string());
    a.extend(["--root".into(), root.display().to_string(), "--report".into(), REPORT.into()]);
    if c.ignition {
        a.push("--ignition".into());
    }
    if c.overwrite {
        a.push("--ignition-overwrite".into());
    }
    if c.ssh_user != SSH_USER {
        a.extend(["--ssh-user".into(), c.ssh_user.into()]);
    }
    if c.seed {
        a.extend(["--cloud-init-seed".into(), SEED_DIR.into()]);
    }
    if c.attributes {
        a.extend(["--attributes".into(), ATTRIBUTES.into()]);
    }
    a
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let marker = payloads::new_marker();
    let served = served_bytes(c.served, &marker);

    // Declaration order = reverse drop order: mock and dnsmasq die before the namespaces go.
    let topo = Topology::new(Addressing::Dhcp).map_err(|e| vec![e])?;
    let _dnsmasq = topo.start_dnsmasq(dir).map_err(|e| vec![e])?;
    let mut o = mock::Options::new(c.platform);
    let payload = dir.join("payload.bin");
    let upload = if c.gzip { gzip::gzip(&served, Some("user-data.ign")) } else { served.clone() };
    std::fs::write(&payload, &upload).map_err(|e| vec![e.to_string()])?;
    o.payload = Some(payload);
    o.no_ssh_keys = c.published == Published::NoSshKeys;
    o.no_metadata = c.published == Published::Nothing;
    let (_mock, o) = mock::start_in(&topo.server, &o, dir).map_err(|e| vec![e])?;

    // What every root has; flint creates the rest (Debian's Ignition dracut module ships no
    // /usr/lib/ignition, and a fresh image has no cloud seed dir).
    let root = dir.join("root");
    for d in ["run", "usr/lib", "var/lib"] {
        std::fs::create_dir_all(root.join(d)).map_err(|e| vec![e.to_string()])?;
    }
    if c.existing {
        let p = root.join(USER_IGN[1]);
        std::fs::create_dir_all(p.parent().expect("has a parent")).map_err(|e| vec![e.to_string()])?;
        std::fs::write(&p, embedded_ignition()).map_err(|e| vec![e.to_string()])?;
    }

    let args = flint_args(c, &root);
    std::fs::write(dir.join("flint-args.txt"), args.join(" ")).ok();
    let fr = if c.usr_read_only {
        // In a private mount namespace inside the client's network namespace: make <root>/usr
        // a read-only bind mount, run flint, then record the mount's options again.
        const SCRIPT: &str = r#"usr="$1"; info="$2"; shift 2
mount --bind "$usr" "$usr" && mount -o remount,bind,ro "$usr" || exit 100
grep " $usr " /proc/self/mountinfo > "$info.before"
"$@"; rc=$?
grep " $usr " /proc/self/mountinfo > "$info.after"
exit $rc"#;
        let mut wrapped: Vec<String> =
            ["--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh"].iter().map(|s| s.to_string()).collect();
        wrapped.push(root.join("usr").display().to_string());
        wrapped.push(dir.join("usr-mountinfo").display().to_string());
        wrapped.push(flint.display().to_string());
        wrapped.extend(args.iter().cloned());
        run_flint(&topo, &util::tool("unshare"), &wrapped, dir, BUDGET + HARD_EXTRA)
    } else {
        run_flint(&topo, flint, &args, dir, BUDGET + HARD_EXTRA)
    }
    .map_err(|e| vec![e])?;
    // Let the mock finish logging the last request before reading its files.
    std::thread::sleep(Duration::from_millis(20));
    let log = o.log.as_deref().map(mock::read_log).transpose().map_err(|e| vec![e])?.unwrap_or_default();
    let tokens = o.tokens.as_deref().map(mock::read_tokens).unwrap_or_default();

    let mut bad = check_exit(fr.exit, c.exit, None, BUDGET + HARD_EXTRA);
    check_stderr(c, &fr.stderr, &marker, &tokens, &mut bad);
    if c.usr_read_only {
        check_usr_remount(&root, dir, &fr.stderr, &mut bad);
    }
    check_mock_log(c, &log, &mut bad);
    check_files(c, &root, &mut bad);
    if std::fs::read(root.join(USER_DATA)).ok().as_deref() != Some(&served[..]) {
        bad.push(format!("{USER_DATA}: not the served user-data bytes"));
    }
    // The only failure among the cases is exit 7, the Ignition check, logged in its phase.
    let failed_phase = report::FailedPhase::for_exit(c.exit, Some("ignition"));
    let gzip = report::expected_gzip(c.exit, Some(&upload));
    match std::fs::read(root.join(&REPORT[1..]))
        .map_err(|e| e.to_string())
        .and_then(|b| serde_json::from_slice::<Value>(&b).map_err(|e| e.to_string()))
    {
        Ok(r) if c.exit == 0 => bad.extend(report::check(
            &r,
            &report::Expect {
                platform: c.platform.as_str(),
                exit_code: c.exit,
                mac: &topo.client_mac,
                addressing: Some(Addressing::Dhcp),
                dhcp_prefix: 24,
                success: true,
                written: Some(served.len()),
                fetched: log.iter().find(|e| e.path.ends_with("/user-data") && e.status == 200).map(|e| e.bytes),
                requests: Some(log.len()),
                budget_us: BUDGET.as_micros() as u64,
                failed_phase,
                gzip,
            },
        )),
        Ok(r) => bad.extend(report::check_outcome(&r, c.exit, failed_phase, gzip)),
        Err(e) => bad.push(format!("report: {e}")),
    }
    if c.ignition {
        check_user_ign(c, &root, &served, &mut bad);
        if let (true, 0, Some(p)) = (c.fragment(), c.exit, published(c)) {
            check_fragment(&p, &root, &mut bad);
        }
        if root.join(USER_IGN[c.ignition_reads.index()]).exists() {
            check_ignition(c, &root, dir, &marker, &mut bad);
        }
    }
    if c.seed {
        check_seed(c, &root, dir, &served, &mut bad);
    }
    if c.attributes {
        check_attributes(c, &root, &mut bad);
    }

    verdict(bad, fr.elapsed, &args, &fr.stderr, &log)
}

/// Runs the selected cases, one line each, into `t`. Installs Ignition and cloud-init first
/// when missing.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the consumer tests")?;
    deps::ensure_consumers()?;
    let flint = util::flint_under_test();
    if !flint.exists() {
        return Err(format!("{} not found: run `cargo xtask build` first", flint.display()));
    }
    cleanup::remove_stale();
    let selected = sel.pick(all(), |c| c.name, "consumer case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 36, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expectations_come_from_the_mock() {
        let aws = expected_attributes(Platform::Aws);
        assert!(aws.contains(&("AFTERBURN_AWS_INSTANCE_ID".into(), aws::INSTANCE_ID.into())));
        let akamai = Case { platform: Platform::Akamai, ..Case::base("t", "") };
        let p = published(&akamai).unwrap();
        assert_eq!((p.hostname.as_str(), p.keys.len()), (akamai::LABEL, 3));
        let no_keys = Case { published: Published::NoSshKeys, ..Case::base("t", "") };
        assert!(published(&no_keys).unwrap().keys.is_empty());
        // The served config is one Ignition 2.14 accepts and leaves room for the fragment.
        let v = served_ignition("m");
        assert_eq!(v["ignition"]["version"], "3.3.0");
        assert!(!contains(&v, &json!({"storage": {"files": [{"path": "/etc/hostname"}]}})));
        assert!(!contains(&v, &json!({"passwd": {"users": [{"name": SSH_USER}]}})));
    }
}
