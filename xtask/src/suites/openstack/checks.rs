//! The OpenStack cases' checks: the files under `--root` (exactly the expected set, modes,
//! bytes), the report against docs/contract.md with what a drive changes (`source`, no NIC at
//! all, no token phase), the mock's request log, the hand-off files against the instance in
//! `mock::openstack`, and the case-specific ones the table names.

use std::collections::BTreeSet;

use serde_json::Value;

use super::case::{ATTRIBUTES, Case, DEV_LISTING, Net, OUTPUT, Payload, REPORT, Run, SEED_DIR};
use crate::harness::checks::files_under;
use crate::harness::handoff::{self, FRAGMENT, ReportWant, USER_IGN, rel, seed};
use crate::harness::netns::{self, Addressing};
use crate::harness::report;
use crate::mock::openstack::{self, Instance};
use crate::mock::{self, Platform};

/// The drive files a seed carries verbatim, under the seed directory.
pub const SEED_DRIVE_FILES: [&str; 3] =
    ["openstack/latest/meta_data.json", "openstack/latest/network_data.json", "openstack/latest/vendor_data.json"];

/// The mock's options as the case sets them.
pub fn mock_options(c: &Case) -> Option<mock::Options> {
    c.mock.map(|knobs| {
        let mut o = mock::Options::new(Platform::OpenStack);
        knobs(&mut o);
        o
    })
}

/// What the winning source says about the instance, as flint should hand it on.
pub struct Identity {
    pub instance: Instance,
    /// `meta_data.json` was read: the uuid (instance id) is known.
    pub uuid: bool,
    /// The SSH keys, trimmed as every consumer uses them.
    pub keys: Vec<String>,
    pub from_drive: bool,
}

pub fn identity(c: &Case) -> Option<Identity> {
    let (instance, uuid, from_drive) = match c.source? {
        "drive" => (c.instance, true, true),
        _ => {
            let o = mock_options(c)?;
            (Instance::from_options(&o), !o.no_openstack_tree && !o.no_metadata, false)
        }
    };
    let keys = instance.key().map(|k| k.trim_end().to_string()).into_iter().collect();
    Some(Identity { instance, uuid, keys, from_drive })
}

/// The user-data flint must have written, when it wrote any.
pub fn expected_user_data<'r>(c: &Case, r: &'r Run) -> Option<&'r [u8]> {
    if !matches!(c.exit, 0 | 6 | 7) {
        return None;
    }
    match c.source? {
        "drive" => Some(&r.served.drive),
        _ => Some(&r.served.service),
    }
}

/// The files that hold user-data by design (mode 0600).
fn user_data_files() -> [String; 5] {
    [rel(OUTPUT), USER_IGN[0].into(), USER_IGN[1].into(), seed("user-data"), seed("openstack/latest/user_data")]
}

/// The tree under the root is exactly what the run should leave (no temporary file, nothing
/// partial, nothing at a wrong path), with each file's mode and the user-data's bytes.
pub fn files(c: &Case, r: &Run) -> Vec<String> {
    let mut want: BTreeSet<String> = [rel(REPORT)].into();
    let user_data = expected_user_data(c, r);
    if user_data.is_some() {
        want.insert(rel(OUTPUT));
    }
    if let (true, Some(id)) = (c.handoff, identity(c)) {
        if user_data.is_some() && c.payload == Payload::Ignition {
            want.extend(USER_IGN.map(String::from));
        }
        want.extend(FRAGMENT.map(String::from));
        want.insert(rel(ATTRIBUTES));
        if id.uuid {
            want.extend([seed("user-data"), seed("meta-data")]);
            if id.from_drive {
                want.extend(SEED_DRIVE_FILES.map(seed));
                if user_data.is_some() {
                    want.insert(seed("openstack/latest/user_data"));
                }
            }
        }
    }
    let from = format!("from the {}", c.source.unwrap_or("?"));
    handoff::tree(&r.root, &want, &user_data_files(), user_data, &from)
}

/// No file under the root holds the marker unless it holds the user-data by design.
pub fn no_secrets_in_root(r: &Run, marker: &str) -> Vec<String> {
    let secret = user_data_files();
    files_under(&r.root)
        .into_iter()
        .filter(|f| !secret.contains(f))
        .filter(|f| {
            std::fs::read(r.root.join(f)).is_ok_and(|b| b.windows(marker.len()).any(|w| w == marker.as_bytes()))
        })
        .map(|f| format!("{f} contains user-data bytes (the marker)"))
        .collect()
}

/// The report against docs/contract.md ("Report") and what OpenStack adds: `source`; a run
/// without a NIC has no interface, address or link timing; there is no token step (its timing
/// is null); `server` is the platform's metadata address whether or not it was reached.
pub fn report(c: &Case, r: &Run, mac: Option<&str>) -> Vec<String> {
    let want = ReportWant { platform: "openstack", exit: c.exit, source: c.source, error_phase: c.error_phase };
    let (v, mut bad) = match handoff::report_common(r.report.as_ref(), r.exit, &want) {
        Ok(x) => x,
        Err(bad) => return bad,
    };
    if v["server"] != netns::METADATA_IP {
        bad.push(format!("report server = {}, expected \"{}\"", v["server"], netns::METADATA_IP));
    }

    // Where the network got to.
    let mode = v["mode"].as_str().unwrap_or("<not a string>");
    let service_won = c.source == Some("service");
    match mac {
        None => {
            for k in ["interface", "mac", "address", "router"] {
                if !v[k].is_null() {
                    bad.push(format!("report {k} = {} without any NIC", v[k]));
                }
            }
            if mode != "none" {
                bad.push(format!("report mode = {mode:?} without any NIC"));
            }
        }
        Some(mac) => {
            match v["interface"].as_str() {
                None if !service_won => {}
                Some(i) if i == netns::CLIENT_IF => {
                    if !v["mac"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(mac)) {
                        bad.push(format!("report mac = {}, expected \"{mac}\"", v["mac"]));
                    }
                }
                _ => bad.push(format!("report interface = {}, expected \"{}\"", v["interface"], netns::CLIENT_IF)),
            }
            let addressing = if c.net == Net::Dhcp { Addressing::Dhcp } else { Addressing::LinkLocal };
            bad.extend(address(v, mode, addressing, service_won));
        }
    }

    // Timings: within the budget, no token step, and what a win needed.
    let t = &v["timings_us"];
    let total = t["total"].as_u64();
    bad.extend(report::check_total(t, (c.budget * 1e6) as u64));
    bad.extend(
        ["link", "address", "token", "user_data", "decode", "write"]
            .iter()
            .filter_map(|p| report::check_timing(t, p, total, false)),
    );
    if !t["token"].is_null() {
        bad.push(format!("report timings_us.token = {}: OpenStack has no token step", t["token"]));
    }
    let user_data = expected_user_data(c, r);
    let mut need = |p: &str, why: &str| {
        if t[p].as_u64().is_none() {
            bad.push(format!("report timings_us.{p} = {}, expected a number ({why})", t[p]));
        }
    };
    if user_data.is_some() {
        need("decode", "user-data was written");
        need("write", "user-data was written");
    }
    if service_won {
        for p in ["link", "address", "user_data"] {
            need(p, "the service answered");
        }
    }
    if mac.is_none() {
        for p in ["link", "address", "user_data"] {
            if !t[p].is_null() {
                bad.push(format!("report timings_us.{p} = {} without any NIC", t[p]));
            }
        }
    }

    // Bytes, requests, gzip, memory.
    let b = &v["bytes"];
    let want_len = user_data.map(|u| u.len() as u64);
    if b["written"].as_u64() != want_len {
        bad.push(format!("report bytes.written = {}, expected {want_len:?}", b["written"]));
    }
    // Raw encoding: what arrived is what was written.
    if want_len.is_some() && b["fetched"].as_u64() != want_len {
        bad.push(format!("report bytes.fetched = {}, expected {want_len:?}", b["fetched"]));
    }
    let logged = r.log.len() as u64;
    match v["requests"].as_u64() {
        None => bad.push(format!("report requests = {}, expected a number", v["requests"])),
        Some(n) if mac.is_none() && n != 0 => bad.push(format!("report requests = {n} without any NIC")),
        // A request cancelled before it reached the mock still counts as attempted.
        Some(n) if n < logged => bad.push(format!("report requests = {n}, fewer than the mock logged ({logged})")),
        Some(n) if c.source != Some("drive") && c.mock.is_some() && n != logged => {
            bad.push(format!("report requests = {n}, but the mock logged {logged}"))
        }
        _ => {}
    }
    let gzip_want = if user_data.is_some() { Value::Bool(false) } else { v["gzip"].clone() };
    if v["gzip"] != gzip_want || (!v["gzip"].is_null() && !v["gzip"].is_boolean()) {
        bad.push(format!("report gzip = {}, expected {gzip_want} (the payloads are plain)", v["gzip"]));
    }
    bad.extend(report::check_vmhwm(v));
    bad
}

/// Mode, address and router agree with each other and with the topology.
fn address(v: &Value, mode: &str, addressing: Addressing, required: bool) -> Vec<String> {
    let mut bad = Vec::new();
    let cidr = v["address"].as_str().and_then(report::parse_cidr);
    match (mode, addressing) {
        ("none", _) if !required => {
            if !v["address"].is_null() || !v["router"].is_null() {
                bad.push(format!("report address {} / router {} with mode none", v["address"], v["router"]));
            }
        }
        ("dhcp", Addressing::Dhcp) => {
            if !report::is_lease(cidr, 24) {
                bad.push(format!("report address = {}, expected a /24 lease from the pool", v["address"]));
            }
            if v["router"] != netns::ROUTER_IP {
                bad.push(format!("report router = {}, expected \"{}\"", v["router"], netns::ROUTER_IP));
            }
        }
        ("link-local", Addressing::LinkLocal) => {
            if !report::is_link_local(cidr) {
                bad.push(format!("report address = {}, expected 169.254.1.0-169.254.254.255/16", v["address"]));
            }
            if !v["router"].is_null() {
                bad.push(format!("report router = {} in link-local mode", v["router"]));
            }
        }
        (m, a) => bad.push(format!("report mode = {m:?} on a {a:?} link")),
    }
    bad
}

/// Nothing OpenStack needs carries a token; nothing reaches the mock once flint is gone; a
/// drive's win leaves the service unasked for metadata; a service's win came from a 200.
pub fn mock_log(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    for e in r.log.iter().filter(|e| e.token_sent) {
        bad.push(format!("a request carried a token header though Nova asks for none: {e}"));
    }
    if r.log_later.len() > r.log.len() {
        let late: Vec<String> = r.log_later[r.log.len()..].iter().map(|e| e.to_string()).collect();
        bad.push(format!("the mock logged requests after flint had exited: {late:?}"));
    }
    let user_data_path = |p: &str| p.ends_with("/user_data") || p.ends_with("/user-data");
    if c.source == Some("drive") {
        for e in r.log.iter().filter(|e| !user_data_path(&e.path)) {
            bad.push(format!("the drive answered, yet the service was asked: {e}"));
        }
    }
    if c.source == Some("service") && matches!(c.exit, 0 | 6 | 7) {
        let served = r.log.iter().any(|e| e.method == "GET" && user_data_path(&e.path) && e.status == 200);
        if !served {
            bad.push("the mock never served the user-data".into());
        }
    }
    bad
}

/// The hand-off files against the instance: Afterburn's attributes exactly, the Ignition
/// fragment, the seed's `meta-data`, the drive files and user-data copies in the seed.
pub fn handoff(c: &Case, r: &Run) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(id) = identity(c) else { return bad };
    let read = |f: &str| std::fs::read(r.root.join(f));

    // Attributes: exactly Afterburn's lines for what the source publishes.
    bad.extend(handoff::attributes(&r.root, ATTRIBUTES, openstack::attributes(&id.instance, id.uuid)));
    // The Ignition fragment: both copies, spec 3.0.0, the hostname and the keys of `core`.
    bad.extend(handoff::fragment_files(&r.root, Some(openstack::HOSTNAME), &id.keys));

    // The seed: meta-data, user-data, and the drive's own files.
    if id.uuid {
        let ud = expected_user_data(c, r).unwrap_or(b"");
        bad.extend(handoff::seed_files(&r.root, openstack::UUID, openstack::HOSTNAME, &id.keys, ud));
        if id.from_drive {
            let tree = crate::harness::drive::tree_files(Some(b""), &c.instance);
            for f in SEED_DRIVE_FILES {
                let on_drive = tree.iter().find(|(n, _)| n == f).map(|(_, b)| b.as_slice());
                if read(&seed(f)).ok().as_deref() != on_drive {
                    bad.push(format!("{SEED_DIR}/{f} is not the drive's file byte for byte"));
                }
            }
            if let Some(ud) = expected_user_data(c, r)
                && read(&seed("openstack/latest/user_data")).ok().as_deref() != Some(ud)
            {
                bad.push(format!("{SEED_DIR}/openstack/latest/user_data is not the drive's user_data"));
            }
        }
    }

    // user.ign: the config, byte for byte, in both places.
    if c.payload == Payload::Ignition
        && let Some(ud) = expected_user_data(c, r)
    {
        bad.extend(handoff::user_ign(&r.root, ud));
    }
    bad
}

// --- case-specific checks (`Case::extra`) -------------------------------------------------

fn read_with(r: &Run, kind: &str) -> Vec<String> {
    let want = format!("flint: drive: {kind} drive config-2 on ");
    if r.stderr.lines().any(|l| l.starts_with(&want)) {
        Vec::new()
    } else {
        vec![format!("no `{want}…` line: the drive was not read through that name space")]
    }
}

pub fn read_joliet(r: &Run) -> Vec<String> {
    read_with(r, "iso9660 joliet")
}

pub fn read_rock_ridge(r: &Run) -> Vec<String> {
    read_with(r, "iso9660 rock-ridge")
}

/// The drive found by scanning names the loop device it was on.
pub fn found_on_loop(r: &Run) -> Vec<String> {
    handoff::found_on_loop(&r.stderr, r.device.as_deref())
}

/// With an empty `/dev`, flint made its own node for the loop device (found, so the read went
/// through it) and left none behind.
pub fn private_nodes_gone(r: &Run) -> Vec<String> {
    let mut bad = found_on_loop(r);
    let listing = r.dir.join("logs").join(DEV_LISTING);
    match std::fs::read_to_string(&listing) {
        Ok(text) if text.trim().is_empty() => {}
        Ok(text) => {
            bad.push(format!("/dev/.flint after the run: {:?} (nodes must be unlinked once open)", text.trim()))
        }
        Err(e) => bad.push(format!("{}: {e}", listing.display())),
    }
    bad
}

fn gets_are(r: &Run, want: &[(&str, u16)]) -> Vec<String> {
    let got: Vec<(&str, u16)> =
        r.log.iter().filter(|e| e.method == "GET").map(|e| (e.path.as_str(), e.status)).collect();
    if got == want { Vec::new() } else { vec![format!("service asked {got:?}, expected exactly {want:?}")] }
}

pub fn asked_once(r: &Run) -> Vec<String> {
    gets_are(r, &[("/openstack/latest/user_data", 200)])
}

pub fn asked_both_trees_none(r: &Run) -> Vec<String> {
    gets_are(r, &[("/openstack/latest/user_data", 404), ("/latest/user-data", 404)])
}

pub fn asked_ec2_after_404(r: &Run) -> Vec<String> {
    gets_are(r, &[("/openstack/latest/user_data", 404), ("/latest/user-data", 200)])
}

/// The drive was there from the start: at most the first user-data requests reached the
/// service (checked for every drive win in `mock_log`), and the scan named the loop device.
pub fn drive_won_service_quiet(r: &Run) -> Vec<String> {
    let mut bad = found_on_loop(r);
    if r.gets().len() > 2 {
        bad.push(format!("the service was asked {} times though the drive was there from the start", r.gets().len()));
    }
    bad
}

/// The service held its answer 3 s; flint had asked it, then the drive came and won: exactly
/// that one GET, and flint said why it stopped asking.
pub fn drive_won_mid_request(r: &Run) -> Vec<String> {
    let mut bad = found_on_loop(r);
    if r.gets() != ["/openstack/latest/user_data"] {
        bad.push(format!("service asked {:?}, expected the one pending user_data GET", r.gets()));
    }
    if !r.stderr.lines().any(|l| l.starts_with("flint: user-data: ") && l.contains("drive answered first")) {
        bad.push("no `flint: user-data: … drive answered first …` line".into());
    }
    bad
}

/// The service said "none" first (404 on both trees); the drive that came later, with
/// user-data, was never read.
pub fn service_none_first(r: &Run) -> Vec<String> {
    let mut bad = asked_both_trees_none(r);
    if let Some(l) = r.stderr.lines().find(|l| l.starts_with("flint: drive: ")) {
        bad.push(format!("the drive was read after the service had answered: {l:?}"));
    }
    bad
}

/// The service answered first: the drive that came later was never read.
pub fn service_won_drive_unread(r: &Run) -> Vec<String> {
    let mut bad = asked_once(r);
    if let Some(l) = r.stderr.lines().find(|l| l.starts_with("flint: drive: ")) {
        bad.push(format!("the drive was read after the service had answered: {l:?}"));
    }
    bad
}

fn drive_line(r: &Run, needle: &str) -> Vec<String> {
    if r.stderr.lines().any(|l| l.starts_with("flint: drive: ") && l.contains(needle)) {
        Vec::new()
    } else {
        vec![format!("no `flint: drive: …{needle}…` line")]
    }
}

pub fn logged_no_drive(r: &Run) -> Vec<String> {
    let mut bad = drive_line(r, "--drive holds no drive labelled config-2");
    bad.extend(asked_once(r));
    bad
}

pub fn logged_missing(r: &Run) -> Vec<String> {
    let mut bad = drive_line(r, "no-such-image.iso: no such file or directory");
    bad.extend(asked_once(r));
    bad
}

/// Metadata from the service with the OpenStack tree: `meta_data.json` and the EC2 leaves, and
/// not the EC2 key index (`meta_data.json` gave the keys).
pub fn service_metadata_from_both_trees(r: &Run) -> Vec<String> {
    let gets = r.gets();
    let mut bad = Vec::new();
    for want in [
        "/openstack/latest/meta_data.json",
        "/latest/meta-data/hostname",
        "/latest/meta-data/instance-id",
        "/latest/meta-data/instance-type",
        "/latest/meta-data/local-ipv4",
        "/latest/meta-data/public-ipv4",
    ] {
        if !gets.contains(&want) {
            bad.push(format!("the service was never asked {want}"));
        }
    }
    if let Some(p) = gets.iter().find(|p| p.contains("/public-keys")) {
        bad.push(format!("{p} asked though meta_data.json gave the keys"));
    }
    bad
}

/// Without the OpenStack tree the keys come from the EC2 index.
pub fn service_keys_from_ec2_index(r: &Run) -> Vec<String> {
    let gets = r.gets();
    ["/latest/meta-data/public-keys/", "/latest/meta-data/public-keys/0/openssh-key"]
        .iter()
        .filter(|w| !gets.contains(w))
        .map(|w| format!("the service was never asked {w}"))
        .collect()
}
