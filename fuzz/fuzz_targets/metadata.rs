//! Metadata documents (src/sources/meta.rs `Metadata::absorb`) as every platform describes them
//! — text leaves (leaf tables included), EC2's `N=name` key index and key texts, JSON documents
//! (records numbered per class included) — with fuzz-chosen
//! bodies, then the three renderings the next boot stages read. A broken JSON document changes
//! nothing; every kept value is one line without control characters; the Afterburn attribute
//! file has only `NAME[_i]=value` lines with names the platforms define and no value systemd's
//! EnvironmentFile= would reinterpret, and a record's address is written as Rust's `IpAddr`
//! prints it; the NoCloud meta-data quotes every value so that it reads
//! back exactly; the Ignition fragment is JSON that serde_json reads back to the same hostname,
//! user and keys, and is itself an Ignition config; a buffer too small gives nothing, never a
//! cut-off file.
#![no_main]

use std::collections::{HashMap, HashSet};

use arbitrary::Arbitrary;
use flint::platform::{self, Body, Document, List, Role};
use flint::sources::meta::{self, IgnitionCheck, KEYS_MAX, Metadata, Verdict};
use libfuzzer_sys::fuzz_target;

#[derive(Arbitrary, Debug)]
struct Step {
    doc: u8,
    key: bool,
    leaf: u8,
    body: Vec<u8>,
}

#[derive(Arbitrary, Debug)]
struct Case {
    steps: Vec<Step>,
    user: Vec<u8>,
    cap: u16,
}

fn docs() -> Vec<&'static Document> {
    let services = platform::ALL.iter().flat_map(|p| p.services()).flat_map(|s| s.metadata.iter());
    let drives = platform::ALL.iter().flat_map(|p| p.drives()).flat_map(|d| d.metadata.iter().chain(d.cloud_config));
    services.chain(drives).collect()
}

/// The attribute names of records (`List::Records`): for a record's address, whether it is
/// IPv6 (its class); for the member written beside it (a gateway), `None`: Afterburn writes
/// that of either family.
fn record_names() -> HashMap<&'static str, Option<bool>> {
    let mut names = HashMap::new();
    for d in docs() {
        if let Body::Json(paths) | Body::Yaml(paths) | Body::CloudConfigPart(paths) = &d.body {
            for (_, f) in paths.iter() {
                if let Some(r) = match f.list {
                    List::Records(i) => platform::RECORDS.get(usize::from(i)),
                    _ => None,
                } {
                    for (class, fields) in r.classes.iter().enumerate() {
                        let [address, with] = fields;
                        names.extend(address.attr.map(|n| (n, Some(class >= 2))));
                        names.extend(with.attr.map(|n| (n, None)));
                    }
                }
            }
        }
    }
    names
}

/// The attribute names of plain fields (no records').
fn field_names() -> HashSet<&'static str> {
    let mut names = HashSet::new();
    for d in docs() {
        match &d.body {
            Body::Text(f) => names.extend(f.attr),
            Body::Json(paths) | Body::Yaml(paths) | Body::CloudConfigPart(paths) => {
                names.extend(paths.iter().filter_map(|(_, f)| f.attr))
            }
            Body::Leaves(leaves) => names.extend(leaves.iter().filter_map(|(_, f)| f.attr)),
            Body::KeyIndex => {}
        }
    }
    names
}

fn attr_names() -> HashSet<&'static str> {
    let mut names = field_names();
    names.extend(record_names().into_keys());
    names
}

/// Everything a reader of the metadata can see.
/// Attribute file, meta-data, SSH keys, and the first value of every role.
type Snapshot = (Option<Vec<u8>>, Option<Vec<u8>>, Vec<Vec<u8>>, Vec<Option<Vec<u8>>>);

fn snapshot(m: &Metadata) -> Snapshot {
    let mut a = vec![0u8; 64 * 1024];
    let mut b = vec![0u8; 64 * 1024];
    (
        m.render_attributes("fuzz", &mut a).map(<[u8]>::to_vec),
        m.render_meta_data(&mut b).map(<[u8]>::to_vec),
        m.keys().map(<[u8]>::to_vec).collect(),
        [Role::None, Role::InstanceId, Role::Hostname, Role::SshKey]
            .iter()
            .map(|&r| m.get(r).map(<[u8]>::to_vec))
            .collect(),
    )
}

fn json_string(v: &[u8]) -> Option<String> {
    std::str::from_utf8(v).ok().map(str::to_string)
}

fuzz_target!(|c: Case| {
    let docs = docs();
    let mut m = Metadata::new();
    for s in c.steps.iter().take(12) {
        let doc = docs[s.doc as usize % docs.len()];
        // A key text is only ever fetched through a key index.
        let key = s.key && doc.body == Body::KeyIndex;
        let before = snapshot(&m);
        // A leaf table's leaves are each their own text body, as the flow takes them.
        if let Body::Leaves(leaves) = doc.body {
            m.put(&leaves[s.leaf as usize % leaves.len()].1, &s.body);
            continue;
        }
        let r = m.absorb(doc, key, &s.body);
        if r.is_err() {
            assert!(
                matches!(doc.body, Body::Json(_) | Body::Yaml(_) | Body::CloudConfigPart(_)) && !key,
                "only a JSON or YAML document can fail"
            );
            assert_eq!(snapshot(&m), before, "a broken document changed the metadata");
        }
        assert!(m.pending_keys.len() <= KEYS_MAX);
    }

    let (attributes, meta_data, keys, roles) = snapshot(&m);
    // Values flint uses are never empty; an attribute-only value (Role::None, first in
    // `roles`) may be, as Afterburn writes `NAME=` for an empty one.
    let values: Vec<&Vec<u8>> = keys.iter().chain(roles[1..].iter().flatten()).collect();
    for v in &values {
        assert!(!v.is_empty() && !v.iter().any(|&b| b < 0x20 || b == 0x7f), "kept value {v:?}");
    }
    if let Some(v) = &roles[0] {
        assert!(!v.iter().any(|&b| b < 0x20 || b == 0x7f), "kept attribute {v:?}");
    }
    let hostname = m.get(Role::Hostname);
    if let Some(h) = hostname {
        assert_eq!(meta::hostname(h), Some(h), "kept hostname is not one");
    }

    let names = attr_names();
    // Names only records use (DigitalOcean's `IPV4_PUBLIC` is any text of its document).
    let fields = field_names();
    let records: HashMap<&str, Option<bool>> =
        record_names().into_iter().filter(|(n, _)| !fields.contains(n)).collect();
    let attributes = attributes.expect("64 KiB holds every attribute");
    for line in attributes.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
        let eq = line.iter().position(|&b| b == b'=').expect("NAME=value");
        let (name, value) = (std::str::from_utf8(&line[..eq]).unwrap(), &line[eq + 1..]);
        let name = name.strip_prefix("AFTERBURN_FUZZ_").expect("Afterburn's prefix and the platform's id");
        let base = match name.rsplit_once('_') {
            Some((b, i)) if !names.contains(name) && !i.is_empty() && i.bytes().all(|d| d.is_ascii_digit()) => b,
            _ => name,
        };
        assert!(names.contains(base), "attribute {name} is no platform's");
        // A record's value is an address written as Rust's `IpAddr` writes it (what Afterburn
        // prints; std's dotted IPv4-mapped form aside, as in src/fmt.rs); a record's own
        // address is of its class's family.
        if let Some(&family) = records.get(base) {
            let text = std::str::from_utf8(value).expect("an address is ASCII");
            let ip: std::net::IpAddr = text.parse().expect("a record's value is an address");
            if let Some(v6) = family {
                assert_eq!(ip.is_ipv6(), v6, "{name}={text} is of the other family");
            }
            assert!(ip.to_string() == text || ip.to_string().contains('.'), "{name}={text}, std writes {ip}");
        }
        assert!(!value.iter().any(|&b| b < 0x20 || b == 0x7f || b"\"'\\".contains(&b)), "attribute value {value:?}");
    }
    assert!(attributes.is_empty() || attributes.ends_with(b"\n"));

    assert_eq!(
        meta_data.is_some(),
        m.get(Role::InstanceId).is_some(),
        "meta-data exactly when there is an instance id"
    );
    if let Some(md) = &meta_data {
        let text = String::from_utf8_lossy(md);
        let mut read_back = Vec::new();
        for line in text.lines() {
            let quoted = ["instance-id: ", "local-hostname: ", "  - "].iter().find_map(|p| line.strip_prefix(p));
            match quoted {
                Some(q) => read_back.push(serde_json::from_str::<String>(q).expect("a double-quoted scalar")),
                None => assert_eq!(line, "public-keys:"),
            }
        }
        if let Some(want) = std::iter::once(m.get(Role::InstanceId))
            .chain(std::iter::once(hostname).filter(Option::is_some))
            .flatten()
            .chain(m.keys())
            .map(json_string)
            .collect::<Option<Vec<_>>>()
        {
            assert_eq!(read_back, want, "meta-data does not read back to the values");
        }
    }

    // The SSH user as `resolve` admits it: portable name characters, no leading '-'.
    let mut user: Vec<u8> =
        c.user.iter().copied().filter(|b| b.is_ascii_alphanumeric() || b"_-.".contains(b)).take(32).collect();
    while user.first() == Some(&b'-') {
        user.remove(0);
    }
    if user.is_empty() {
        user = b"core".to_vec();
    }
    let mut buf = vec![0u8; 64 * 1024];
    let frag = m.render_fragment(&user, &mut buf).expect("64 KiB holds the fragment").to_vec();
    if hostname.is_none() && keys.is_empty() {
        assert!(frag.is_empty(), "nothing to say, no fragment");
    } else {
        let mut check = IgnitionCheck::new();
        check.push(&frag);
        assert_eq!(check.finish(), Verdict::Config, "the fragment is not an Ignition config");
        if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&frag) {
            assert_eq!(v["ignition"]["version"], "3.0.0");
            if let Some(h) = hostname {
                let src = format!("data:,{}%0A", std::str::from_utf8(h).unwrap());
                assert_eq!(v["storage"]["files"][0]["contents"]["source"], src.as_str());
                assert_eq!(v["storage"]["files"][0]["path"], "/etc/hostname");
            }
            if !keys.is_empty() {
                assert_eq!(v["passwd"]["users"][0]["name"], std::str::from_utf8(&user).unwrap());
                let got: Vec<&str> = v["passwd"]["users"][0]["sshAuthorizedKeys"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|k| k.as_str().unwrap())
                    .collect();
                let want: Vec<String> = keys.iter().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
                assert_eq!(got, want);
            }
        } else {
            assert!(
                keys.iter().any(|k| std::str::from_utf8(k).is_err()),
                "fragment is not JSON though every key is UTF-8"
            );
        }
    }

    // Too small a buffer: nothing rather than a cut-off file.
    let mut small = vec![0u8; c.cap as usize % (frag.len() + attributes.len() + 2)];
    if let Some(f) = m.render_fragment(&user, &mut small) {
        assert_eq!(f, &frag[..]);
    }
    let mut small = vec![0u8; c.cap as usize % (attributes.len() + 1)];
    if let Some(a) = m.render_attributes("fuzz", &mut small) {
        assert_eq!(a, &attributes[..]);
    }
    if let Some(md) = &meta_data {
        let mut small = vec![0u8; c.cap as usize % (md.len() + 1)];
        if let Some(x) = m.render_meta_data(&mut small) {
            assert_eq!(x, &md[..]);
        }
    }
});
