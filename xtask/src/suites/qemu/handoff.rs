//! The hand-offs of a boot (`"handoff"` in `qemu-tests/scenarios.json`): the kernel arguments
//! that ask flint for them, the files the init sends back (`FXQ:OUT <path> <mode> <base64>`
//! for every regular file under their directories), and what must be there, file by file:
//! nothing missing, nothing extra (a leftover temporary file counts), each with its mode and
//! its bytes.
//!
//! What must be there is modelled per platform from what the VM was given (docs/contract.md,
//! hand-off files):
//! - `user.ign` in `/run/ignition` and `/usr/lib/ignition` (0600): the user-data byte for byte,
//!   when it is an Ignition config (flint exits 0; a `#cloud-config` is exit 7 and no `user.ign`);
//! - the base fragment `base.d/50-flint.ign` in both (0644) when the platform gave a hostname or
//!   keys, as JSON (spec 3.0.0, `/etc/hostname`, `core`'s keys);
//! - the seed directory: a NoCloud drive's own files verbatim (`user-data` 0600, the others
//!   0644);
//! - the attributes file (0644): Afterburn's lines, in any order.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::table::{Handoff, Platform, Scenario};
use crate::harness::qemu::Markers;
use crate::harness::qemu::cidata;
use crate::harness::qemu::cloud::Payload;

pub const SEED_DIR: &str = "/run/fxq/seed";
pub const ATTRIBUTES: &str = "/run/metadata/afterburn";
const IGNITION_DIRS: [&str; 2] = ["/run/ignition", "/usr/lib/ignition"];

/// flint's kernel arguments for the hand-offs and the init's `fxq.dump` of their directories
/// (empty when none is asked for).
pub fn kernel_args(handoff: &[Handoff]) -> String {
    let mut args = Vec::new();
    let mut dirs: Vec<&str> = Vec::new();
    for h in handoff {
        match h {
            Handoff::Ignition => {
                args.push("flint.ignition".to_string());
                dirs.extend(IGNITION_DIRS);
            }
            Handoff::Seed => {
                args.push(format!("flint.cloud-init-seed={SEED_DIR}"));
                dirs.push(SEED_DIR);
            }
            Handoff::Attributes => {
                args.push(format!("flint.attributes={ATTRIBUTES}"));
                dirs.push("/run/metadata");
            }
        }
    }
    if !dirs.is_empty() {
        args.push(format!("fxq.dump={}", dirs.join(",")));
    }
    args.join(" ")
}

/// One file the guest sent.
#[derive(Debug, PartialEq, Eq)]
pub struct Out {
    pub mode: u32,
    pub bytes: Vec<u8>,
}

/// The `FXQ:OUT` lines, by path.
pub fn dumped(m: &Markers) -> Result<BTreeMap<String, Out>, String> {
    use base64::Engine as _;
    let mut out = BTreeMap::new();
    for line in m.all("OUT") {
        let mut f = line.split(' ');
        let (Some(path), Some(mode)) = (f.next(), f.next()) else {
            return Err(format!("FXQ:OUT {line:?}: no path and mode"));
        };
        let mode = u32::from_str_radix(mode, 8).map_err(|e| format!("FXQ:OUT {line:?}: mode: {e}"))?;
        let b64 = f.next().unwrap_or("").trim();
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .map_err(|e| format!("FXQ:OUT {path}: base64: {e}"))?;
        if out.insert(path.to_string(), Out { mode, bytes }).is_some() {
            return Err(format!("FXQ:OUT {path} sent twice"));
        }
    }
    Ok(out)
}

/// What a file must hold.
#[derive(Clone, Debug, PartialEq)]
pub enum Content {
    /// These bytes exactly.
    Exact(Vec<u8>),
    /// These lines (each ending in a newline), in any order, and nothing else.
    Lines(Vec<String>),
    /// This JSON value.
    Json(Value),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Want {
    pub path: String,
    pub mode: u32,
    pub content: Content,
}

/// What the VM was given, as far as the hand-offs go.
pub struct Given<'a> {
    /// The decoded user-data.
    pub user_data: Option<&'a [u8]>,
    /// The Proxmox drive, when there is one.
    pub drive: Option<&'a cidata::Drive>,
}

/// The files `s`'s hand-offs must leave, and nothing else. Only the platforms modelled here
/// may ask for hand-offs (the table checks it).
pub fn wanted(s: &Scenario, given: &Given) -> Result<Vec<Want>, String> {
    let mut want = Vec::new();
    // The metadata flint reads: Proxmox's hostname and keys come only from its #cloud-config.
    let cloud_config = s.payload == Payload::ProxmoxCloudConfig;
    let (hostname, keys): (Option<&str>, Vec<&str>) = match (s.platform, cloud_config) {
        (Platform::ProxmoxVe, true) => (Some(cidata::HOSTNAME), vec![cidata::SSH_KEY]),
        (Platform::ProxmoxVe | Platform::Qemu, false) => (None, Vec::new()),
        (p, _) => return Err(format!("hand-offs of platform {} are not modelled here", p.as_str())),
    };
    for h in &s.handoff {
        match h {
            Handoff::Ignition => {
                let ignition = !cloud_config && given.user_data.is_some_and(|u| !u.is_empty());
                for dir in IGNITION_DIRS {
                    if let (true, Some(u)) = (ignition, given.user_data) {
                        want.push(Want {
                            path: format!("{dir}/user.ign"),
                            mode: 0o600,
                            content: Content::Exact(u.to_vec()),
                        });
                    }
                    if hostname.is_some() || !keys.is_empty() {
                        want.push(Want {
                            path: format!("{dir}/base.d/50-flint.ign"),
                            mode: 0o644,
                            content: Content::Json(fragment(hostname, &keys)),
                        });
                    }
                }
            }
            Handoff::Seed => {
                let drive = given.drive.ok_or("a seed is modelled only from a NoCloud drive")?;
                for (name, bytes) in drive.files() {
                    let mode = if name == "user-data" { 0o600 } else { 0o644 };
                    want.push(Want {
                        path: format!("{SEED_DIR}/{name}"),
                        mode,
                        content: Content::Exact(bytes.to_vec()),
                    });
                }
            }
            Handoff::Attributes => {
                let mut lines = Vec::new();
                if s.platform == Platform::ProxmoxVe {
                    let drive = given.drive.ok_or("proxmoxve without its drive")?;
                    if let Some(h) = hostname {
                        lines.push(format!("AFTERBURN_PROXMOXVE_HOSTNAME={h}"));
                    }
                    lines.push(format!("AFTERBURN_PROXMOXVE_INSTANCE_ID={}", drive.instance_id));
                    lines.push(format!("AFTERBURN_PROXMOXVE_IPV4={}", cidata::STATIC_IPV4));
                }
                want.push(Want { path: ATTRIBUTES.into(), mode: 0o644, content: Content::Lines(lines) });
            }
        }
    }
    Ok(want)
}

/// flint's Ignition base fragment for a hostname and `core`'s keys.
pub fn fragment(hostname: Option<&str>, keys: &[&str]) -> Value {
    let mut v = json!({"ignition": {"version": "3.0.0"}});
    if let Some(h) = hostname {
        v["storage"] = json!({"files": [{"path": "/etc/hostname", "mode": 420, "overwrite": true,
            "contents": {"source": format!("data:,{h}%0A")}}]});
    }
    if !keys.is_empty() {
        v["passwd"] = json!({"users": [{"name": "core", "sshAuthorizedKeys": keys}]});
    }
    v
}

/// Every difference between the files sent and those wanted.
pub fn check(got: &BTreeMap<String, Out>, want: &[Want]) -> Vec<String> {
    let mut bad = Vec::new();
    for w in want {
        let Some(o) = got.get(&w.path) else {
            bad.push(format!("hand-off {} missing", w.path));
            continue;
        };
        if o.mode != w.mode {
            bad.push(format!("hand-off {} has mode {:o}, expected {:o}", w.path, o.mode, w.mode));
        }
        let text = String::from_utf8_lossy(&o.bytes);
        match &w.content {
            Content::Exact(b) if *b != o.bytes => bad.push(format!(
                "hand-off {}: {} bytes, not the {} expected byte for byte (first difference at {})\ngot:\n{}\nexpected:\n{}",
                w.path,
                o.bytes.len(),
                b.len(),
                o.bytes.iter().zip(b).position(|(x, y)| x != y).unwrap_or(o.bytes.len().min(b.len())),
                crate::support::util::indent(&text),
                crate::support::util::indent(&String::from_utf8_lossy(b)),
            )),
            Content::Lines(lines) => {
                let mut got_lines: Vec<&str> = text.split_inclusive('\n').collect();
                let mut want_lines: Vec<String> = lines.iter().map(|l| format!("{l}\n")).collect();
                got_lines.sort_unstable();
                want_lines.sort_unstable();
                if got_lines != want_lines {
                    bad.push(format!("hand-off {} holds {got_lines:?}, expected the lines {want_lines:?}", w.path));
                }
            }
            Content::Json(v) => match serde_json::from_slice::<Value>(&o.bytes) {
                Ok(g) if g == *v => {}
                Ok(g) => bad.push(format!("hand-off {} is {g}, expected {v}", w.path)),
                Err(e) => bad.push(format!("hand-off {} is not JSON ({e}): {text:?}", w.path)),
            },
            Content::Exact(_) => {}
        }
    }
    for path in got.keys().filter(|p| !want.iter().any(|w| &w.path == *p)) {
        bad.push(format!("hand-off directory holds {path}, which nothing should have written"));
    }
    bad
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kernel_args_and_dumps() {
        assert_eq!(kernel_args(&[]), "");
        assert_eq!(
            kernel_args(&[Handoff::Ignition, Handoff::Seed, Handoff::Attributes]),
            "flint.ignition flint.cloud-init-seed=/run/fxq/seed flint.attributes=/run/metadata/afterburn \
             fxq.dump=/run/ignition,/usr/lib/ignition,/run/fxq/seed,/run/metadata"
        );
        let m = Markers::parse("FXQ:OUT /run/a 600 aGk=\nFXQ:OUT /run/b 644 \nFXQ:END\n");
        let d = dumped(&m).unwrap();
        assert_eq!(d["/run/a"], Out { mode: 0o600, bytes: b"hi".to_vec() });
        assert_eq!(d["/run/b"], Out { mode: 0o644, bytes: Vec::new() });
        assert!(dumped(&Markers::parse("FXQ:OUT /run/a 600 aGk=\nFXQ:OUT /run/a 600 aGk=\n")).is_err());
        assert!(dumped(&Markers::parse("FXQ:OUT /run/a 6x0 aGk=\n")).is_err());
    }

    #[test]
    fn every_difference_is_caught() {
        let want = vec![
            Want { path: "/a".into(), mode: 0o600, content: Content::Exact(b"x\n".to_vec()) },
            Want { path: "/b".into(), mode: 0o644, content: Content::Lines(vec!["K=1".into(), "L=2".into()]) },
            Want { path: "/c".into(), mode: 0o644, content: Content::Json(fragment(Some("h"), &["k"])) },
        ];
        let good = || {
            let mut g = BTreeMap::new();
            g.insert("/a".to_string(), Out { mode: 0o600, bytes: b"x\n".to_vec() });
            g.insert("/b".to_string(), Out { mode: 0o644, bytes: b"L=2\nK=1\n".to_vec() });
            let frag = r#"{"ignition":{"version":"3.0.0"},"storage":{"files":[{"path":"/etc/hostname","mode":420,"overwrite":true,"contents":{"source":"data:,h%0A"}}]},"passwd":{"users":[{"name":"core","sshAuthorizedKeys":["k"]}]}}"#;
            g.insert("/c".to_string(), Out { mode: 0o644, bytes: format!("{frag}\n").into_bytes() });
            g
        };
        assert_eq!(check(&good(), &want), Vec::<String>::new());
        type Edit = Box<dyn Fn(&mut BTreeMap<String, Out>)>;
        let cases: Vec<(Edit, &str)> = vec![
            (Box::new(|g| g.get_mut("/a").unwrap().bytes.push(b'y')), "byte for byte"),
            (Box::new(|g| g.get_mut("/a").unwrap().mode = 0o644), "mode 644"),
            (Box::new(|g| drop(g.remove("/a"))), "/a missing"),
            (Box::new(|g| g.get_mut("/b").unwrap().bytes = b"K=1\n".to_vec()), "lines"),
            (Box::new(|g| g.get_mut("/b").unwrap().bytes = b"K=1\nL=2".to_vec()), "lines"),
            (Box::new(|g| g.get_mut("/b").unwrap().bytes.extend(b"M=3\n")), "lines"),
            (
                Box::new(|g| g.get_mut("/c").unwrap().bytes = b"{\"ignition\":{\"version\":\"3.0.0\"}}".to_vec()),
                "expected",
            ),
            (Box::new(|g| g.get_mut("/c").unwrap().bytes = b"{".to_vec()), "not JSON"),
            (Box::new(|g| drop(g.insert("/.a.tmp".into(), Out { mode: 0o600, bytes: Vec::new() }))), "nothing should"),
        ];
        for (edit, what) in cases {
            let mut g = good();
            edit(&mut g);
            let bad = check(&g, &want);
            assert!(bad.iter().any(|b| b.contains(what)), "{what}: {bad:?}");
        }
    }
}
