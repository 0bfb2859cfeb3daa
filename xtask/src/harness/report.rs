//! Checks flint's `--report` JSON against docs/contract.md ("Report").

use serde_json::Value;

use super::checks::PHASES as LOG_PHASES;
use super::netns::{self, Addressing};

/// One line with where flint ended up and what it moved, for the demos.
pub fn summary(r: &Value) -> String {
    // JSON strings without their quotes, null as "-".
    let show = |v: &Value| match v {
        Value::String(s) => s.clone(),
        Value::Null => "-".into(),
        other => other.to_string(),
    };
    format!(
        "interface {} ({})  mode {}  address {}  router {}  server {}  requests {}  bytes fetched {} written {}  VmHWM {} KiB",
        show(&r["interface"]),
        show(&r["mac"]),
        show(&r["mode"]),
        show(&r["address"]),
        show(&r["router"]),
        show(&r["server"]),
        show(&r["requests"]),
        show(&r["bytes"]["fetched"]),
        show(&r["bytes"]["written"]),
        show(&r["vmhwm_kib"])
    )
}

pub const PHASES: [&str; 7] = ["link", "address", "token", "user_data", "decode", "write", "total"];
/// The report's top-level fields (OpenStack adds `source`).
pub const TOP_LEVEL: [&str; 20] = [
    "version",
    "platform",
    "exit_code",
    "failed_phase",
    "gzip",
    "interface",
    "mac",
    "mode",
    "address",
    "router",
    "static_from",
    "server",
    "endpoint",
    "addresses",
    "dns_servers",
    "search",
    "timings_us",
    "bytes",
    "requests",
    "vmhwm_kib",
];

/// What the report's `failed_phase` must be (docs/contract.md: "the phase an unsuccessful run
/// ended in, else null").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FailedPhase<'a> {
    /// `null`: the user-data was written (exit 0), or the instance has none (exit 3).
    Null,
    /// This phase, as flint names it in its `flint: error: <phase>:` line.
    Is(&'a str),
    /// Some log phase, not known in advance (a run that may fail in several places).
    AnyPhase,
}

impl<'a> FailedPhase<'a> {
    /// The expectation for a run that ended with `exit`: null for 0 and 3, else `phase` when
    /// the case names it.
    pub fn for_exit(exit: i32, phase: Option<&'a str>) -> Self {
        match (exit, phase) {
            (0 | 3, _) => FailedPhase::Null,
            (_, Some(p)) => FailedPhase::Is(p),
            (_, None) => FailedPhase::AnyPhase,
        }
    }
}

/// What the report's `gzip` must be: whether the payload was gzip once decoding completed,
/// `null` when no user-data was decoded. Decoding completes on exit 0 and 7 (the Ignition
/// check runs on the decoded bytes), and on exit 3 when a non-empty payload (an empty gzip
/// member) decoded to nothing; every other exit ends before it, or during it.
pub fn expected_gzip(exit: i32, payload: Option<&[u8]>) -> Option<bool> {
    let payload = payload.filter(|p| !p.is_empty())?;
    match exit {
        0 | 3 | 7 => Some(payload.starts_with(&[0x1f, 0x8b])),
        _ => None,
    }
}

/// What the harness knows about a run, to hold the report against.
pub struct Expect<'a> {
    pub platform: &'a str,
    pub exit_code: i32,
    pub mac: &'a str,
    /// The mode flint must report when it got that far (`None`: not checked beyond validity).
    pub addressing: Option<Addressing>,
    /// Prefix length of a DHCP lease (dnsmasq's is 24; the fault scenarios also hand out /32).
    pub dhcp_prefix: u8,
    pub success: bool,
    /// `bytes.written` on success: length of the decoded user-data.
    pub written: Option<usize>,
    /// `bytes.fetched` on success: length of the user-data body as served (before base64/gzip).
    pub fetched: Option<usize>,
    /// `requests`: number of HTTP requests the mock logged.
    pub requests: Option<usize>,
    pub budget_us: u64,
    pub failed_phase: FailedPhase<'a>,
    /// `gzip` (`expected_gzip`).
    pub gzip: Option<bool>,
}

/// The report's outcome fields: `exit_code`, `failed_phase` and `gzip`.
pub fn check_outcome(r: &Value, exit_code: i32, failed_phase: FailedPhase, gzip: Option<bool>) -> Vec<String> {
    let mut bad = Vec::new();
    if r["exit_code"] != exit_code {
        bad.push(format!("report exit_code = {}, expected {exit_code}", r["exit_code"]));
    }
    let got = &r["failed_phase"];
    match failed_phase {
        FailedPhase::Null if !got.is_null() => {
            bad.push(format!("report failed_phase = {got}, expected null after exit {exit_code}"))
        }
        FailedPhase::Is(want) if *got != want => bad.push(format!("report failed_phase = {got}, expected \"{want}\"")),
        FailedPhase::AnyPhase if !got.as_str().is_some_and(|p| LOG_PHASES.contains(&p)) => {
            bad.push(format!("report failed_phase = {got}, expected one of the log phases {LOG_PHASES:?}"))
        }
        _ => {}
    }
    let want = gzip.map_or(Value::Null, Value::from);
    if r["gzip"] != want {
        bad.push(format!("report gzip = {}, expected {want}", r["gzip"]));
    }
    bad
}

/// All problems found (empty = the report is fine).
pub fn check(r: &Value, e: &Expect) -> Vec<String> {
    let mut bad = Vec::new();
    let Some(obj) = r.as_object() else {
        return vec!["report is not a JSON object".into()];
    };
    for k in TOP_LEVEL {
        if !obj.contains_key(k) {
            bad.push(format!("report lacks `{k}` (absent values must be null)"));
        }
    }
    let mut expect_eq = |key: &str, want: Value| {
        if r[key] != want {
            bad.push(format!("report {key} = {}, expected {want}", r[key]));
        }
    };
    expect_eq("version", Value::from(1));
    expect_eq("platform", Value::from(e.platform));
    expect_eq("interface", Value::from(netns::CLIENT_IF));
    if !r["mac"].as_str().is_some_and(|m| m.eq_ignore_ascii_case(e.mac)) {
        bad.push(format!("report mac = {}, expected \"{}\"", r["mac"], e.mac));
    }

    let mode = r["mode"].as_str().unwrap_or("<not a string>");
    match (mode, e.addressing) {
        ("dhcp", Some(Addressing::Dhcp) | None) | ("link-local", Some(Addressing::LinkLocal) | None) => {}
        ("none", _) if !e.success => {}
        (m, want) => bad.push(format!("report mode = {m:?}, expected {want:?}")),
    }
    let cidr = r["address"].as_str().and_then(parse_cidr);
    match mode {
        "dhcp" => {
            if !is_lease(cidr, e.dhcp_prefix) {
                bad.push(format!(
                    "report address = {}, expected 10.0.0.{}-{}/{} from the DHCP server",
                    r["address"],
                    netns::POOL.0,
                    netns::POOL.1,
                    e.dhcp_prefix
                ));
            }
            if r["router"] != netns::ROUTER_IP {
                bad.push(format!("report router = {}, expected \"{}\"", r["router"], netns::ROUTER_IP));
            }
        }
        "link-local" => {
            if !is_link_local(cidr) {
                bad.push(format!("report address = {}, expected 169.254.1.0-169.254.254.255/16", r["address"]));
            }
            if !r["router"].is_null() {
                bad.push(format!("report router = {}, expected null in link-local mode", r["router"]));
            }
        }
        _ => {
            if !r["address"].is_null() {
                bad.push(format!("report address = {} with mode {mode:?}", r["address"]));
            }
        }
    }
    if mode != "none" && r["server"] != netns::METADATA_IP {
        bad.push(format!("report server = {}, expected \"{}\"", r["server"], netns::METADATA_IP));
    }

    let t = &r["timings_us"];
    if !t.is_object() {
        bad.push(format!("report timings_us = {t}, expected an object"));
    } else {
        bad.extend(check_total(t, e.budget_us));
        let total = t["total"].as_u64();
        bad.extend(PHASES.iter().filter_map(|p| check_timing(t, p, total, e.success)));
    }

    let b = &r["bytes"];
    if !b.is_object() || b.get("fetched").is_none() || b.get("written").is_none() {
        bad.push(format!("report bytes = {b}, expected {{\"fetched\":…,\"written\":…}}"));
    } else {
        for k in ["fetched", "written"] {
            if !b[k].is_null() && b[k].as_u64().is_none() {
                bad.push(format!("report bytes.{k} = {}, expected a number or null", b[k]));
            }
        }
        if let Some(w) = e.written
            && b["written"].as_u64() != Some(w as u64)
        {
            bad.push(format!("report bytes.written = {}, expected {w}", b["written"]));
        }
        if let Some(f) = e.fetched
            && b["fetched"].as_u64() != Some(f as u64)
        {
            bad.push(format!("report bytes.fetched = {}, expected {f} (body length as served)", b["fetched"]));
        }
    }
    match (r["requests"].as_u64(), e.requests) {
        (None, _) => bad.push(format!("report requests = {}, expected a number", r["requests"])),
        (Some(n), Some(want)) if n != want as u64 => {
            bad.push(format!("report requests = {n}, but the mock logged {want} request(s)"))
        }
        _ => {}
    }
    bad.extend(check_vmhwm(r));
    bad.extend(check_outcome(r, e.exit_code, e.failed_phase, e.gzip));
    bad
}

/// `timings_us.total`: a number, within `budget_us` and the 1.5 s flint cannot account for.
pub fn check_total(t: &Value, budget_us: u64) -> Option<String> {
    match t["total"].as_u64() {
        None => Some(format!("report timings_us.total = {}, expected a number", t["total"])),
        Some(us) if us > budget_us + 1_500_000 => {
            Some(format!("report timings_us.total = {us} µs exceeds the {budget_us} µs budget"))
        }
        _ => None,
    }
}

/// `timings_us.<p>`: present, a number (`required`, after a success) or null, and not more
/// than the `total`.
pub fn check_timing(t: &Value, p: &str, total: Option<u64>, required: bool) -> Option<String> {
    let v = &t[p];
    if t.get(p).is_none() {
        Some(format!("report timings_us lacks `{p}`"))
    } else if required && v.as_u64().is_none() {
        Some(format!("report timings_us.{p} = {v}, expected a number after success"))
    } else if !v.is_null() && v.as_u64().is_none() {
        Some(format!("report timings_us.{p} = {v}, expected a number or null"))
    } else if let (Some(x), Some(total)) = (v.as_u64(), total)
        && x > total
    {
        Some(format!("report timings_us.{p} = {x} > total {total}"))
    } else {
        None
    }
}

/// `vmhwm_kib`: flint's peak resident memory, a positive number.
pub fn check_vmhwm(r: &Value) -> Option<String> {
    r["vmhwm_kib"]
        .as_u64()
        .is_none_or(|k| k == 0)
        .then(|| format!("report vmhwm_kib = {}, expected a positive number", r["vmhwm_kib"]))
}

/// `"a.b.c.d/len"` → ([a, b, c, d], len)
pub fn parse_cidr(s: &str) -> Option<([u8; 4], u8)> {
    let (ip, len) = s.split_once('/')?;
    let ip: std::net::Ipv4Addr = ip.parse().ok()?;
    Some((ip.octets(), len.parse().ok()?))
}

/// A lease from dnsmasq's pool (`netns::POOL`) with this prefix length.
pub fn is_lease(cidr: Option<([u8; 4], u8)>, prefix: u8) -> bool {
    matches!(cidr, Some(([10, 0, 0, h], p)) if (netns::POOL.0..=netns::POOL.1).contains(&h) && p == prefix)
}

/// An IPv4 link-local address flint may take: RFC 3927 §2.1, 169.254.1.0 - 169.254.254.255,
/// /16; 169.254.169.254 is the server here.
pub fn is_link_local(cidr: Option<([u8; 4], u8)>) -> bool {
    matches!(cidr, Some(([169, 254, x, y], 16)) if (1..=254).contains(&x) && (x, y) != (169, 254))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Value {
        serde_json::json!({"version":1,"platform":"aws","exit_code":0,"failed_phase":null,"interface":"eth0","mac":"02:00:00:00:00:01",
         "mode":"dhcp","address":"10.0.0.57/24","router":"10.0.0.1","static_from":null,"server":"169.254.169.254",
         "endpoint":"169.254.169.254:80","addresses":["10.0.0.57/24","fe80::1/64"],"dns_servers":[],"search":[],
         "timings_us":{"link":812,"address":640,"token":850,"user_data":550,"decode":90,"write":120,"total":3100},
         "bytes":{"fetched":1234,"written":5678},"requests":2,"gzip":true,"vmhwm_kib":120})
    }

    fn expect() -> Expect<'static> {
        Expect {
            platform: "aws",
            exit_code: 0,
            mac: "02:00:00:00:00:01",
            addressing: Some(Addressing::Dhcp),
            dhcp_prefix: 24,
            success: true,
            written: Some(5678),
            fetched: Some(1234),
            requests: Some(2),
            budget_us: 10_000_000,
            failed_phase: FailedPhase::Null,
            gzip: Some(true),
        }
    }

    #[test]
    fn contract_example_passes() {
        assert_eq!(check(&sample(), &expect()), Vec::<String>::new());
    }

    #[test]
    fn problems_are_named() {
        let mut r = sample();
        r["mode"] = "link-local".into();
        r["timings_us"]["write"] = Value::Null;
        r.as_object_mut().unwrap().remove("vmhwm_kib");
        let bad = check(&r, &expect()).join("\n");
        assert!(bad.contains("mode"), "{bad}");
        assert!(bad.contains("timings_us.write"), "{bad}");
        assert!(bad.contains("lacks `vmhwm_kib`"), "{bad}");
    }

    #[test]
    fn failure_report_may_have_nulls() {
        let r = serde_json::json!({"version":1,"platform":"aws","exit_code":4,"failed_phase":"token","interface":"eth0","mac":"02:00:00:00:00:01",
         "mode":"dhcp","address":"10.0.0.99/24","router":"10.0.0.1","static_from":null,"server":"169.254.169.254",
         "endpoint":null,"addresses":["10.0.0.99/24"],"dns_servers":[],"search":[],
         "timings_us":{"link":812,"address":640,"token":null,"user_data":null,"decode":null,"write":null,"total":4000000},
         "bytes":{"fetched":null,"written":null},"requests":0,"gzip":null,"vmhwm_kib":100});
        let e = Expect {
            exit_code: 4,
            success: false,
            written: None,
            fetched: None,
            requests: None,
            budget_us: 4_000_000,
            failed_phase: FailedPhase::Is("token"),
            gzip: None,
            ..expect()
        };
        assert_eq!(check(&r, &e), Vec::<String>::new());
        let any = Expect { failed_phase: FailedPhase::AnyPhase, ..e };
        assert_eq!(check(&r, &any), Vec::<String>::new());
        let wrong = Expect { failed_phase: FailedPhase::Is("user-data"), ..any };
        assert!(check(&r, &wrong).join("\n").contains("failed_phase = \"token\", expected \"user-data\""));
    }

    #[test]
    fn outcome_fields_are_held_to_the_run() {
        let mut r = sample();
        assert!(
            check(&r, &Expect { gzip: Some(false), ..expect() })
                .join("\n")
                .contains("report gzip = true, expected false")
        );
        r["failed_phase"] = "write".into();
        assert!(check(&r, &expect()).join("\n").contains("expected null after exit 0"));
        r["failed_phase"] = "nonsense".into();
        assert!(!check_outcome(&r, 0, FailedPhase::AnyPhase, Some(true)).is_empty());
        r.as_object_mut().unwrap().remove("gzip");
        assert!(check(&r, &expect()).join("\n").contains("lacks `gzip`"));
    }

    #[test]
    fn shared_pieces() {
        let t = serde_json::json!({"link": null, "write": 12, "total": 10});
        assert_eq!(check_timing(&t, "link", Some(10), false), None);
        assert!(check_timing(&t, "link", Some(10), true).unwrap().contains("after success"));
        assert!(check_timing(&t, "decode", Some(10), false).unwrap().contains("lacks `decode`"));
        assert!(check_timing(&t, "write", Some(10), false).unwrap().contains("> total"));
        assert_eq!(check_total(&t, 0), None, "1.5 s of slack");
        assert!(check_vmhwm(&t).is_some());
        assert!(is_link_local(parse_cidr("169.254.3.4/16")) && !is_link_local(parse_cidr("169.254.169.254/16")));
        assert!(is_lease(parse_cidr("10.0.0.60/24"), 24) && !is_lease(parse_cidr("10.0.0.60/32"), 24));
    }

    #[test]
    fn gzip_expectations() {
        let gz = [0x1f, 0x8b, 8, 0];
        assert_eq!(expected_gzip(0, Some(&gz)), Some(true));
        assert_eq!(expected_gzip(0, Some(b"{}")), Some(false));
        assert_eq!(expected_gzip(7, Some(b"#cloud-config")), Some(false));
        assert_eq!(expected_gzip(3, Some(&gz)), Some(true), "an empty gzip member is decoded");
        assert_eq!(expected_gzip(3, Some(b"")), None, "an empty body is not");
        assert_eq!(expected_gzip(3, None), None);
        assert_eq!(expected_gzip(5, Some(&gz)), None, "a failed decode is no decode");
        assert_eq!(FailedPhase::for_exit(3, Some("decode")), FailedPhase::Null);
        assert_eq!(FailedPhase::for_exit(4, None), FailedPhase::AnyPhase);
    }
}
