//! Pointers resolved before the network starts (issue #13): CAPL's `#include` of a presigned
//! S3 URL in Akamai user-data, and Ignition `merge`, `replace` and remote file sources.
//!
//! - The object store: the large cloud-config (more than 64 KiB, past every platform's
//!   user-data limit) is put in moto's bucket; the Akamai mock serves `#include\n<URL>\n` as
//!   user-data, base64 as Akamai does, plain or gzip'd first; flint must write the NoCloud seed
//!   whose `user-data` is the large cloud-config byte for byte. The same URL with one signature
//!   byte changed is refused by the store (403) and nothing is written.
//! - Ignition: a config whose `merge` is https (s_server), with a remote file `source` and an
//!   `append` over https; a config whose `replace` is plain http with a `sha512-` hash. flint's
//!   `user.ign` must hold every source as a `data:` URL of exactly the bytes served, and real
//!   Ignition 2.14 `fetch-offline` must take it without `neednet`, while the same config handed
//!   over unresolved must raise `neednet` (so the check can fail). A wrong hash is exit 5.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use serde_json::{Value, json};

use super::cases::Host;
use super::fixture::{Fixture, METADATA, S3_IP, base_args, check_nothing_written, line_count, new_lines, run_flint};
use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::consumers::{b64, decode_data_url, read_nocloud, run_ignition};
use crate::harness::flint::{HARD_EXTRA, check_exit, check_time, verdict};
use crate::harness::handoff::{OUTPUT, SEED_DIR, USER_IGN, rel, seed};
use crate::harness::https::pki::{DOMAIN, TLS_IP};
use crate::harness::https::s3;
use crate::mock::{self, payloads};
use crate::support::proc::ChildGuard;
use crate::support::{gzip, proc, util};

/// What a pointer case does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Akamai user-data `#include` of the presigned URL (`gzip`: gzip'd before base64;
    /// `tampered`: one signature byte changed; `multi`: a comment, a blank line, and a second
    /// URL on nginx serving a gzip'd cloud-config: two parts, cloud-init's MIME multipart).
    Capl { gzip: bool, tampered: bool, multi: bool },
    /// `--url https://nginx…/configs/<config> --ignition`.
    Ignition { config: &'static str },
}

pub struct PointerCase {
    pub name: &'static str,
    pub about: &'static str,
    pub kind: Kind,
    pub exit: i32,
    pub budget: f64,
}

impl PointerCase {
    pub fn needs_store(&self) -> bool {
        matches!(self.kind, Kind::Capl { .. })
    }
}

pub const CASES: &[PointerCase] = &[
    PointerCase {
        name: "capl-s3-include-base64",
        about: "Akamai user-data base64(#include <presigned https S3 URL>): the seed holds the 80 KiB cloud-config",
        kind: Kind::Capl { gzip: false, tampered: false, multi: false },
        exit: 0,
        budget: 20.0,
    },
    PointerCase {
        name: "capl-s3-include-gzip",
        about: "the same pointer gzip'd, then base64: the same seed",
        kind: Kind::Capl { gzip: true, tampered: false, multi: false },
        exit: 0,
        budget: 20.0,
    },
    PointerCase {
        name: "capl-include-two-parts-mime",
        about: "#include with a comment, a blank line, the S3 URL and a gzip'd https part: MIME multipart of both, in order",
        kind: Kind::Capl { gzip: false, tampered: false, multi: true },
        exit: 0,
        budget: 20.0,
    },
    PointerCase {
        name: "capl-s3-signature-tampered",
        about: "one byte of X-Amz-Signature changed: S3 answers 403, exit 5, nothing written",
        kind: Kind::Capl { gzip: false, tampered: true, multi: false },
        exit: 5,
        budget: 10.0,
    },
    PointerCase {
        name: "ignition-merge-https-files",
        about: "merge over https, a remote file source and an append over https: all inlined; Ignition needs no network",
        kind: Kind::Ignition { config: "merge.ign" },
        exit: 0,
        budget: 20.0,
    },
    PointerCase {
        name: "ignition-replace-http-sha512",
        about: "replace over plain http with a sha512- hash: inlined; Ignition needs no network",
        kind: Kind::Ignition { config: "replace.ign" },
        exit: 0,
        budget: 20.0,
    },
    PointerCase {
        name: "ignition-config-own-ca",
        about: "merge from a server whose CA is only in the config's security.tls.certificateAuthorities: fetched, inlined",
        kind: Kind::Ignition { config: "configca.ign" },
        exit: 0,
        budget: 20.0,
    },
    PointerCase {
        name: "ignition-replace-bad-hash",
        about: "replace whose sha512- hash does not match the bytes: exit 5, nothing written",
        kind: Kind::Ignition { config: "replace-badhash.ign" },
        exit: 5,
        budget: 10.0,
    },
];

/// The large cloud-config's size: above 64 KiB.
const BIG: usize = 80 * 1024;

/// What the pointer cases serve, made once per suite run.
pub struct Prepared {
    /// The large cloud-config in the bucket.
    pub big: Vec<u8>,
    pub presigned: Option<String>,
    /// (URL, bytes) of every remote source the Ignition configs name.
    pub sources: Vec<(String, Vec<u8>)>,
    /// The second `#include` part: its URL (gzip'd there) and its text.
    pub part2: (String, Vec<u8>),
}

fn sha512_hex(path: &Path) -> Result<String, String> {
    let mut cmd = Command::new(util::tool("sha512sum"));
    cmd.arg(path);
    let o = proc::run_ok(&mut cmd, Duration::from_secs(10))?;
    String::from_utf8_lossy(&o.stdout)
        .split_whitespace()
        .next()
        .map(str::to_string)
        .ok_or("sha512sum: no output".into())
}

fn write(p: &Path, bytes: &[u8]) -> Result<(), String> {
    std::fs::write(p, bytes).map_err(|e| format!("{}: {e}", p.display()))
}

fn pretty(v: &Value) -> Vec<u8> {
    let mut b = serde_json::to_vec_pretty(v).unwrap_or_default();
    b.push(b'\n');
    b
}

/// Writes the Ignition configs into the servers' root, and the big object into the store.
pub fn prepare(fx: &Fixture) -> Result<Prepared, String> {
    let cfg = fx.www.join("configs");
    std::fs::create_dir_all(&cfg).map_err(|e| e.to_string())?;
    let https = |server: &str, file: &str| fx.url(server, Host::Name, &format!("configs/{file}"));
    let child = pretty(&json!({"ignition": {"version": "3.3.0"}, "storage": {"files": [
        {"path": "/etc/flint-merged", "mode": 420, "contents": {"source": "data:,merged%20child"}}]}}));
    let remote = format!("remote file {}\n", fx.marker).into_bytes();
    let append = b"appended line from nginx\n".to_vec();
    let replacement = pretty(&json!({"ignition": {"version": "3.3.0"}, "storage": {"files": [
        {"path": "/etc/flint-replaced", "mode": 420, "contents": {"source": "data:,replaced"}}]}}));
    for (name, bytes) in [
        ("child.ign", &child),
        ("remote-file.txt", &remote),
        ("append.txt", &append),
        ("replacement.ign", &replacement),
    ] {
        write(&cfg.join(name), bytes)?;
    }
    let (child_url, remote_url, append_url) =
        (https("p256", "child.ign"), https("rsa2048", "remote-file.txt"), https("nginx", "append.txt"));
    let replace_url = format!("http://{TLS_IP}/configs/replacement.ign");
    let merge = json!({
        "ignition": {"version": "3.3.0", "config": {"merge": [{"source": child_url}]}},
        "storage": {"files": [
            {"path": "/etc/flint-remote", "mode": 420, "contents": {"source": remote_url}},
            {"path": "/etc/flint-appended", "mode": 420, "contents": {"source": "data:,first%20line%0A"},
             "append": [{"source": append_url}]}
        ]}
    });
    write(&cfg.join("merge.ign"), &pretty(&merge))?;
    let hash = sha512_hex(&cfg.join("replacement.ign"))?;
    let replace = |h: &str| {
        json!({"ignition": {"version": "3.3.0", "config": {"replace": {
            "source": replace_url, "verification": {"hash": format!("sha512-{h}")}}}}})
    };
    write(&cfg.join("replace.ign"), &pretty(&replace(&hash)))?;
    // The hash of other bytes: a real SHA-512, just not of what is served.
    write(&fx.dir.join("not-the-replacement"), b"not the replacement\n")?;
    let wrong = sha512_hex(&fx.dir.join("not-the-replacement"))?;
    write(&cfg.join("replace-badhash.ign"), &pretty(&replace(&wrong)))?;
    // A merge from a server whose CA is in no bundle, only in the config's own
    // `ignition.security.tls.certificateAuthorities` (a data: URL, as Ignition reads it).
    let configca_url = https("unknownissuer", "configca-child.ign");
    let configca_child = pretty(&json!({"ignition": {"version": "3.3.0"}, "storage": {"files": [
        {"path": "/etc/flint-config-ca", "mode": 420, "contents": {"source": "data:,own%20CA"}}]}}));
    write(&cfg.join("configca-child.ign"), &configca_child)?;
    let other_root = std::fs::read(&fx.mat.other_root).map_err(|e| e.to_string())?;
    let configca = json!({"ignition": {"version": "3.3.0",
        "config": {"merge": [{"source": configca_url}]},
        "security": {"tls": {"certificateAuthorities": [{"source": data_url(&other_root)}]}}}});
    write(&cfg.join("configca.ign"), &pretty(&configca))?;
    let sources = vec![
        (child_url, child),
        (remote_url, remote),
        (append_url, append),
        (replace_url, replacement),
        (configca_url, configca_child),
    ];

    let part2_text =
        format!("#cloud-config\nwrite_files:\n- path: /etc/flint-part2\n  content: second part {}\n", fx.marker);
    write(&cfg.join("part2.cfg.gz"), &gzip::gzip(part2_text.as_bytes(), None))?;
    let part2 = (https("nginx", "part2.cfg.gz"), part2_text.into_bytes());
    let big = payloads::cloud_config_of_len(&fx.marker, BIG);
    let presigned = match &fx.store {
        Some(store) => {
            let body = fx.dir.join("big-cloud-config");
            write(&body, &big)?;
            Some(store.put_and_presign(&fx.seg.server, &format!("https://s3.{DOMAIN}"), &body, 3600, &fx.dir)?)
        }
        None => None,
    };
    Ok(Prepared { big, presigned, sources, part2 })
}

/// The proofs of the pointer fixtures: each Ignition source is served as written; the hash
/// matches (and the wrong one does not); the presigned URL fetches the big object through
/// nginx and the SigV4 check, and the tampered one is refused 403.
pub fn prove(fx: &Fixture, p: &Prepared, tmp: &Path) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    let mut bad = Vec::new();
    let body = tmp.join("curl-pointer.out");
    let resolves: Vec<String> = [("p256", 8404), ("rsa2048", 8401), ("nginx", 443), ("unknownissuer", 8415)]
        .iter()
        .map(|(n, port)| format!("{n}.{DOMAIN}:{port}:{TLS_IP}"))
        .collect();
    let other = fx.mat.other_root.display().to_string();
    for (url, bytes) in &p.sources {
        let mut extra: Vec<&str> = Vec::new();
        // The config-CA source is trusted through the config's own CA only.
        if url.contains("unknownissuer") {
            extra.extend(["--cacert", other.as_str()]);
        }
        for r in &resolves {
            extra.extend(["--resolve", r.as_str()]);
        }
        let (code, text) = fx.curl(url, &extra, &body);
        if code != Some(0) || std::fs::read(&body).ok().as_ref() != Some(bytes) {
            bad.push(format!("fixture: curl {url}: exit {code:?}, not the bytes written: {}", util::tail(&text, 2)));
        }
    }
    let (code, _) = fx.curl(&p.part2.0, &["--resolve", resolves[2].as_str()], &body);
    let got = std::fs::read(&body).ok().and_then(|gz| gzip::gunzip(&gz).ok());
    if code != Some(0) || got.as_ref() != Some(&p.part2.1) {
        bad.push(format!("fixture: {} is not the gzip'd second part (curl exit {code:?})", p.part2.0));
    }
    let cfg = fx.www.join("configs");
    let hashes = |f: &str| {
        std::fs::read(cfg.join(f))
            .ok()
            .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
            .and_then(|v| v["ignition"]["config"]["replace"]["verification"]["hash"].as_str().map(str::to_string))
    };
    let real = sha512_hex(&cfg.join("replacement.ign")).unwrap_or_default();
    if hashes("replace.ign") != Some(format!("sha512-{real}")) {
        bad.push("fixture: replace.ign's hash is not the replacement's SHA-512".into());
    }
    if hashes("replace-badhash.ign").is_none_or(|h| h == format!("sha512-{real}")) {
        bad.push("fixture: replace-badhash.ign's hash matches".into());
    }
    out.push(("ignition-sources".to_string(), bad));
    // The Ignition oracle, proven both ways without flint: each config with its sources
    // inlined by the suite itself is taken by real Ignition without `neednet`, and the config
    // as served raises it. So the check on flint's user.ign can pass, and can fail.
    for config in ["merge.ign", "replace.ign", "configca.ign"] {
        let bad = match oracle_resolved(&cfg.join(config), &p.sources) {
            Ok((original, resolved)) => {
                let at = tmp.join(format!("oracle-{config}"));
                let ign = at.join("root/usr/lib/ignition");
                match std::fs::create_dir_all(&ign).and_then(|_| std::fs::write(ign.join("user.ign"), &resolved)) {
                    Ok(()) => ignition_checks(&at.join("root"), config, &original, &at)
                        .into_iter()
                        .map(|e| format!("fixture: {e}"))
                        .collect(),
                    Err(e) => vec![format!("fixture: {e}")],
                }
            }
            Err(e) => vec![format!("fixture: {e}")],
        };
        out.push((format!("ignition-oracle-{}", config.trim_end_matches(".ign")), bad));
    }

    if let Some(url) = &p.presigned {
        let mut bad = Vec::new();
        let resolve = format!("s3.{DOMAIN}:443:{}", S3_IP);
        let (code, text) = fx.curl(url, &["--resolve", &resolve, "--tlsv1.3", "-w", "%{http_code}"], &body);
        if code != Some(0) || text.trim() != "200" || std::fs::read(&body).ok() != Some(p.big.clone()) {
            bad.push(format!(
                "fixture: curl of the presigned URL: exit {code:?}, status {}, not the object",
                text.trim()
            ));
        }
        let bad_url = s3::tamper(url);
        let (code, text) = fx.curl(&bad_url, &["--resolve", &resolve, "-w", "%{http_code}"], &body);
        let answer = std::fs::read_to_string(&body).unwrap_or_default();
        if code != Some(0) || text.trim() != "403" || !answer.contains("SignatureDoesNotMatch") {
            bad.push(format!(
                "fixture: the tampered URL was not refused 403 SignatureDoesNotMatch: {} {answer}",
                text.trim()
            ));
        }
        out.push(("s3-presigned".to_string(), bad));
    }
    out
}

/// `bytes` as a base64 `data:` URL (RFC 2397).
fn data_url(bytes: &[u8]) -> String {
    use base64::Engine as _;
    format!("data:;base64,{}", base64::engine::general_purpose::STANDARD.encode(bytes))
}

/// `config` as served, and with every remote source replaced by a base64 `data:` URL of what
/// is served there (the suite's own resolution, RFC 2397).
fn oracle_resolved(config: &Path, served: &[(String, Vec<u8>)]) -> Result<(Vec<u8>, Vec<u8>), String> {
    let original = std::fs::read(config).map_err(|e| format!("{}: {e}", config.display()))?;
    let mut v: Value = serde_json::from_slice(&original).map_err(|e| e.to_string())?;
    let mut found = Vec::new();
    sources(&v, "", &mut found);
    for (ptr, url) in found.into_iter().filter(|(_, u)| !u.starts_with("data:")) {
        let (_, bytes) = served.iter().find(|(u, _)| *u == url).ok_or(format!("nothing served at {url}"))?;
        if let Some(slot) = v.pointer_mut(&ptr) {
            *slot = Value::String(data_url(bytes));
        }
    }
    Ok((original, pretty(&v)))
}

/// Every `source` string in `v` with its JSON pointer.
fn sources(v: &Value, at: &str, out: &mut Vec<(String, String)>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                let here = format!("{at}/{k}");
                match (k.as_str(), x) {
                    ("source", Value::String(s)) => out.push((here, s.clone())),
                    _ => sources(x, &here, out),
                }
            }
        }
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| sources(x, &format!("{at}/{i}"), out)),
        _ => {}
    }
}

/// `got` is `original` with every remote source replaced by a `data:` URL of exactly the bytes
/// served there; nothing else differs.
fn check_inlined(original: &Value, got: &Value, served: &[(String, Vec<u8>)]) -> Vec<String> {
    let mut bad = Vec::new();
    let (mut want_src, mut got_src) = (Vec::new(), Vec::new());
    sources(original, "", &mut want_src);
    sources(got, "", &mut got_src);
    let mut restored = got.clone();
    for (ptr, orig) in &want_src {
        let Some((_, now)) = got_src.iter().find(|(p, _)| p == ptr) else {
            bad.push(format!("user.ign lost the source at {ptr}"));
            continue;
        };
        if orig.starts_with("data:") {
            if now != orig {
                bad.push(format!("user.ign changed the data: source at {ptr}"));
            }
            continue;
        }
        match (decode_data_url(now), served.iter().find(|(u, _)| u == orig)) {
            (Some(b), Some((_, want))) if &b == want => {}
            (Some(b), Some((_, want))) => {
                bad.push(format!("{ptr}: inlined {} bytes, {orig} serves {}", b.len(), want.len()))
            }
            (None, _) => bad.push(format!("{ptr}: not inlined as a data: URL: {:.80}", now)),
            (_, None) => bad.push(format!("{ptr}: no served bytes for {orig}")),
        }
        if let Some(slot) = restored.pointer_mut(ptr) {
            *slot = Value::String(orig.clone());
        }
    }
    if got_src.len() != want_src.len() {
        bad.push(format!("user.ign has {} sources, the config {}", got_src.len(), want_src.len()));
    }
    // A merged or replacing config is inlined resolved (its own pointers followed), so flint
    // drops the Resource's `verification` and `compression`: they describe the bytes served,
    // which flint checked, not the child Ignition now reads (src/sources/pointer.rs). Every
    // other Resource keeps them.
    let mut want = original.clone();
    for (ptr, _) in want_src.iter().filter(|(p, _)| p.starts_with("/ignition/config/")) {
        let object = ptr.trim_end_matches("/source");
        for v in [&mut want, &mut restored] {
            if let Some(Value::Object(m)) = v.pointer_mut(object) {
                m.remove("verification");
                m.remove("compression");
            }
        }
    }
    if bad.is_empty() && restored != want {
        bad.push("user.ign differs from the config in more than its sources".into());
    }
    bad
}

/// The files Ignition's cache must hold for each config.
fn cached_paths(config: &str) -> &'static [&'static str] {
    match config {
        "merge.ign" => &["/etc/flint-merged", "/etc/flint-remote", "/etc/flint-appended"],
        "configca.ign" => &["/etc/flint-config-ca"],
        _ => &["/etc/flint-replaced"],
    }
}

fn cache_has(cache: &Option<Value>, path: &str) -> bool {
    cache
        .as_ref()
        .and_then(|c| c["storage"]["files"].as_array().cloned())
        .into_iter()
        .flatten()
        .any(|f| f["path"] == path)
}

/// Real Ignition on flint's `user.ign` (no `neednet`, every file in its cache) and on the config
/// as served (`neednet`: the check can fail).
fn ignition_checks(root: &Path, config: &str, original: &[u8], dir: &Path) -> Vec<String> {
    let mut bad = Vec::new();
    let resolved = dir.join("ignition-resolved");
    let _ = std::fs::create_dir_all(&resolved);
    match run_ignition(&root.join("usr/lib/ignition"), "metal", &resolved) {
        Ok(r) => {
            if r.exit != 0 || r.neednet {
                bad.push(format!(
                    "Ignition on flint's user.ign: exit {}, neednet {}\n{}",
                    r.exit,
                    r.neednet,
                    r.log_tail()
                ));
            }
            for p in cached_paths(config) {
                if !cache_has(&r.cache, p) {
                    bad.push(format!("Ignition's cache has no {p}\n{}", r.log_tail()));
                }
            }
        }
        Err(e) => bad.push(format!("Ignition: {e}")),
    }
    // The same config unresolved: Ignition must want the network.
    let raw = dir.join("unresolved");
    let raw_ign = raw.join("ign");
    let _ = std::fs::create_dir_all(&raw_ign);
    if std::fs::write(raw_ign.join("user.ign"), original).is_ok() {
        match run_ignition(&raw_ign, "metal", &raw) {
            Ok(r) if r.neednet => {}
            Ok(r) => bad.push(format!(
                "Ignition on the unresolved config did not raise neednet (exit {})\n{}",
                r.exit,
                r.log_tail()
            )),
            Err(e) => bad.push(format!("Ignition (unresolved): {e}")),
        }
    }
    bad
}

/// The payloads of every non-multipart part of the MIME message at `path`, in order, as
/// Python's `email` parser (which cloud-init uses) decodes them.
fn mime_parts(path: &Path) -> Result<Vec<Vec<u8>>, String> {
    use base64::Engine as _;
    const SCRIPT: &str = "import base64, email, json, sys\n\
m = email.message_from_bytes(open(sys.argv[1], 'rb').read())\n\
print(json.dumps([base64.b64encode(p.get_payload(decode=True) or b'').decode() for p in m.walk() if not p.is_multipart()]))\n";
    if !std::fs::read(path).map_err(|e| e.to_string())?.starts_with(b"Content-Type: multipart/") {
        return Err("not a MIME multipart message (no leading Content-Type: multipart/…)".into());
    }
    let mut cmd = Command::new("/usr/bin/python3");
    cmd.args(["-c", SCRIPT]).arg(path);
    let o = proc::run_ok(&mut cmd, Duration::from_secs(30))?;
    let v: Vec<String> = serde_json::from_slice(&o.stdout).map_err(|e| e.to_string())?;
    v.iter().map(|s| base64::engine::general_purpose::STANDARD.decode(s).map_err(|e| e.to_string())).collect()
}

/// cloud-init's own NoCloud datasource takes the seed: the user-data's parts have these
/// content types, and (`whole`) its user-data is these bytes.
fn cloud_init_reads(root: &Path, dir: &Path, types: &[&str], whole: Option<&[u8]>) -> Vec<String> {
    match read_nocloud(root, dir, "nocloud.json") {
        Ok(v) => {
            let mut bad = Vec::new();
            if v["claimed"] != json!(true) {
                bad.push(format!("cloud-init's NoCloud did not take the seed: {v}"));
            }
            if v["parts"] != json!(types) {
                bad.push(format!("cloud-init saw parts {}, expected {types:?}", v["parts"]));
            }
            if let Some(w) = whole
                && b64(&v["user_data_b64"]).as_deref() != Some(w)
            {
                bad.push("cloud-init's user-data is not the cloud-config in the bucket".into());
            }
            bad
        }
        Err(e) => vec![format!("cloud-init's NoCloud reader: {e}")],
    }
}

/// docs/contract.md ("Logs"): a pointer's path and query are never logged (a signed URL's query
/// is a credential), only its host: no file the run left in `logs` (flint's stderr and stdout,
/// its command line aside) holds the object's key, an `X-Amz-` parameter, or the path of any
/// Ignition source.
fn no_pointer_paths(logs: &Path, p: &Prepared) -> Vec<String> {
    let mut needles: Vec<String> = vec![s3::KEY.to_string(), "X-Amz-".to_string()];
    for (url, _) in p.sources.iter().chain([&p.part2]) {
        if let Some((_, path)) = url.split_once("://").and_then(|(_, rest)| rest.split_once('/')) {
            needles.push(format!("/{path}"));
        }
    }
    let mut bad = Vec::new();
    for f in ["flint-stderr.txt", "flint-stdout.txt"] {
        let text = std::fs::read_to_string(logs.join(f)).unwrap_or_default();
        for n in &needles {
            if text.contains(n.as_str()) {
                bad.push(format!("{f} logs a pointer's path or query ({n:?})"));
            }
        }
    }
    if let Ok(report) = std::fs::read_to_string(logs.join("../root/run/flint/report.json")) {
        for n in &needles {
            if report.contains(n.as_str()) {
                bad.push(format!("the report holds a pointer's path or query ({n:?})"));
            }
        }
    }
    bad
}

/// Starts the Akamai mock serving `payload` (it encodes base64 itself) on 169.254.169.254:80.
fn akamai(fx: &Fixture, payload: &[u8], dir: &Path) -> Result<(ChildGuard, PathBuf), String> {
    let file = dir.join("payload.bin");
    write(&file, payload)?;
    let mut o = mock::Options::new(mock::Platform::Akamai);
    o.listen = format!("{}:80", METADATA);
    o.payload = Some(file);
    let (g, o) = mock::start_in(&fx.seg.server, &o, dir)?;
    Ok((g, o.log.unwrap_or_default()))
}

pub fn run(c: &PointerCase, fx: &Fixture, p: Option<&Prepared>, dir: &Path) -> Result<Duration, Vec<String>> {
    let p = p.ok_or_else(|| vec!["fixture: pointer material not prepared".to_string()])?;
    let proofs: &[&str] = match c.kind {
        Kind::Capl { .. } => &["s3-presigned", "ignition-sources", "nginx"],
        Kind::Ignition { config: "merge.ign" } => {
            &["ignition-sources", "ignition-oracle-merge", "nginx", "p256", "rsa2048"]
        }
        Kind::Ignition { config: "configca.ign" } => {
            &["ignition-sources", "ignition-oracle-configca", "nginx", "unknownissuer"]
        }
        Kind::Ignition { .. } => &["ignition-sources", "ignition-oracle-replace", "nginx"],
    };
    let unproven = fx.unproven(proofs);
    if !unproven.is_empty() {
        return Err(unproven);
    }
    let (root, logs) = (dir.join("root"), dir.join("logs"));
    for d in [&root, &logs] {
        std::fs::create_dir_all(d).map_err(|e| vec![format!("mkdir {}: {e}", d.display())])?;
    }
    let mut args = base_args(&root, &logs, c.budget, "").map_err(|e| vec![e])?;
    args.extend(["--ca-bundle".into(), fx.mat.bundle.display().to_string()]);
    let mut _mock = None;
    let sigv4_log = fx.dir.join("servers/sigv4-check.log");
    let sigv4_before = std::fs::read_to_string(&sigv4_log).unwrap_or_default().lines().count();
    match c.kind {
        Kind::Capl { gzip: gz, tampered, multi } => {
            let url = p.presigned.clone().ok_or_else(|| vec!["fixture: no presigned URL".to_string()])?;
            let url = if tampered { s3::tamper(&url) } else { url };
            // CAPL's bootstrap pointer: cloud-init's include format (one URL per line;
            // comments and blank lines skipped).
            let pointer = if multi {
                format!("#include\n# bootstrap data, two parts\n\n{url}\n{}\n", p.part2.0).into_bytes()
            } else {
                format!("#include\n{url}\n").into_bytes()
            };
            let served = if gz { gzip::gzip(&pointer, None) } else { pointer };
            let mock_dir = logs.join("mock");
            let _ = std::fs::create_dir_all(&mock_dir);
            let (g, _) = akamai(fx, &served, &mock_dir).map_err(|e| vec![format!("fixture: {e}")])?;
            _mock = Some((g, mock_dir));
            args.extend(["--platform".into(), "akamai".into(), "--cloud-init-seed".into(), SEED_DIR.into()]);
        }
        Kind::Ignition { config } => {
            args.extend([
                "--url".into(),
                fx.url("nginx", Host::Name, &format!("configs/{config}")),
                "--ignition".into(),
            ]);
        }
    }
    let access_log = fx.dir.join("servers/nginx/nginx-access.log");
    let access_before = line_count(&access_log);
    let fr = run_flint(fx, &args, &logs, c.budget, false).map_err(|e| vec![e])?;
    let tokens = match _mock.take() {
        Some((g, mock_dir)) => {
            drop(g);
            mock::read_tokens(&mock_dir.join("mock-tokens.txt"))
        }
        None => Vec::new(),
    };
    let budget = Duration::from_secs_f64(c.budget);
    let mut bad = check_exit(fr.exit, c.exit, None, budget + HARD_EXTRA);
    bad.extend(check_time(fr.elapsed, budget));
    // A pointer that cannot be followed is phase `pointer` (docs/contract.md, exit codes).
    bad.extend(check_stderr(&fr.stderr, c.exit, (c.exit == 5).then_some("pointer")));
    if c.exit != 0 {
        bad.extend(check_nothing_written(&root));
    }
    let sigv4: Vec<String> = std::fs::read_to_string(&sigv4_log)
        .unwrap_or_default()
        .lines()
        .skip(sigv4_before)
        .map(str::to_string)
        .collect();
    match c.kind {
        Kind::Capl { tampered: false, multi: false, .. } if c.exit == 0 => {
            for f in [seed("user-data"), rel(OUTPUT)] {
                match std::fs::read(root.join(&f)) {
                    Ok(b) if b == p.big => {}
                    Ok(b) => bad.push(format!(
                        "{f}: {} bytes, not the {}-byte cloud-config in the bucket",
                        b.len(),
                        p.big.len()
                    )),
                    Err(e) => bad.push(format!("{f}: {e}")),
                }
            }
            // cloud-init would follow an unresolved #include itself: only resolved bytes go to it.
            if bad.is_empty() {
                bad.extend(cloud_init_reads(&root, dir, &["text/cloud-config"], Some(&p.big)));
            }
            if !sigv4.iter().any(|l| l.contains(" -> 200,")) {
                bad.push(format!("the object store never served the object (SigV4 check log: {sigv4:?})"));
            }
        }
        Kind::Capl { tampered: false, multi: true, .. } if c.exit == 0 => {
            let want = vec![p.big.clone(), p.part2.1.clone()];
            for f in [seed("user-data"), rel(OUTPUT)] {
                match mime_parts(&root.join(&f)) {
                    Ok(parts) if parts == want => {}
                    Ok(parts) => bad.push(format!(
                        "{f}: MIME parts of {:?} bytes, expected the object ({}) then the second part ({})",
                        parts.iter().map(Vec::len).collect::<Vec<_>>(),
                        p.big.len(),
                        p.part2.1.len()
                    )),
                    Err(e) => bad.push(format!("{f}: {e}")),
                }
            }
            if bad.is_empty() {
                bad.extend(cloud_init_reads(&root, dir, &["text/cloud-config", "text/cloud-config"], None));
            }
            if !sigv4.iter().any(|l| l.contains(" -> 200,")) {
                bad.push(format!("the object store never served the object (SigV4 check log: {sigv4:?})"));
            }
        }
        Kind::Capl { tampered: true, .. } if !sigv4.iter().any(|l| l.contains("-> 403 SignatureDoesNotMatch")) => {
            bad.push(format!("the object store never refused the tampered URL (log: {sigv4:?})"));
        }
        // The wrong hash, not anything earlier, must be what failed: flint fetched the config
        // over TLS and the replacement over plain HTTP, both answered 200.
        Kind::Ignition { config: "replace-badhash.ign" } => {
            let seen = new_lines(&access_log, access_before);
            for (scheme, port, path) in
                [("https", 443, "/configs/replace-badhash.ign"), ("http", 80, "/configs/replacement.ign")]
            {
                if !seen.iter().any(|l| l.contains(&format!(" {scheme} {port} \"GET {path} ")) && l.contains("\" 200 "))
                {
                    bad.push(format!("flint never fetched {scheme}://…{path} (nginx log: {seen:?})"));
                }
            }
        }
        Kind::Ignition { config } if c.exit == 0 => {
            let original = std::fs::read(fx.www.join("configs").join(config)).unwrap_or_default();
            let orig_v: Value = serde_json::from_slice(&original).unwrap_or(Value::Null);
            for f in USER_IGN {
                match std::fs::read(root.join(f)).map(|b| serde_json::from_slice::<Value>(&b)) {
                    Ok(Ok(v)) => {
                        bad.extend(check_inlined(&orig_v, &v, &p.sources).into_iter().map(|e| format!("{f}: {e}")))
                    }
                    Ok(Err(e)) => bad.push(format!("{f}: not JSON: {e}")),
                    Err(e) => bad.push(format!("{f}: {e}")),
                }
            }
            if bad.is_empty() {
                bad.extend(ignition_checks(&root, config, &original, dir));
            }
        }
        _ => {}
    }
    bad.extend(check_secrets(&logs, &tokens, &fx.marker));
    bad.extend(no_pointer_paths(&logs, p));
    verdict(bad, fr.elapsed, &args, &fr.stderr, &[])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inlined_sources_are_checked_byte_for_byte() {
        let orig = json!({"ignition": {"config": {"merge": [{"source": "https://a/x"}]}},
                          "storage": {"files": [{"path": "/f", "contents": {"source": "data:,keep"}}]}});
        let served = vec![("https://a/x".to_string(), b"{}".to_vec())];
        let mut good = orig.clone();
        good["ignition"]["config"]["merge"][0]["source"] = json!("data:;base64,e30=");
        assert!(check_inlined(&orig, &good, &served).is_empty());
        let mut wrong = orig.clone();
        wrong["ignition"]["config"]["merge"][0]["source"] = json!("data:,%7B");
        assert!(!check_inlined(&orig, &wrong, &served).is_empty());
        assert!(!check_inlined(&orig, &orig, &served).is_empty(), "left remote");
        let mut extra = good.clone();
        extra["storage"]["files"][0]["mode"] = json!(420);
        assert!(!check_inlined(&orig, &extra, &served).is_empty(), "other fields changed");
        // A merged config's verification goes with the inlining (it is inlined resolved);
        // a file's stays, unchanged.
        let mut hashed = orig.clone();
        hashed["ignition"]["config"]["merge"][0]["verification"] = json!({"hash": "sha512-00"});
        assert!(check_inlined(&hashed, &good, &served).is_empty(), "a config's hash dropped");
        let file = json!({"storage": {"files": [{"path": "/f", "contents": {"source": "https://a/x",
                          "verification": {"hash": "sha512-00"}}}]}});
        let mut inlined = file.clone();
        inlined["storage"]["files"][0]["contents"]["source"] = json!("data:;base64,e30=");
        assert!(check_inlined(&file, &inlined, &served).is_empty(), "a file keeps its hash");
        inlined["storage"]["files"][0]["contents"].as_object_mut().unwrap().remove("verification");
        assert!(!check_inlined(&file, &inlined, &served).is_empty(), "a file's hash dropped");
    }
}
