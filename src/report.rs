//! The `--report` JSON document (layout in docs/contract.md), rendered into a fixed buffer. It
//! holds timings, sizes and addresses, never the token or user-data.
//!
//! Rendered by hand with `core::fmt` (already linked for the logs): for this one document of
//! fixed shape that is ~1 KB smaller than deriving `Serialize` and rendering with serde-json-core
//! (measured on the stripped binary), and the size budget is tight.

use core::fmt::{self, Write};

use crate::decode::json::Writer;
use crate::net::config::pieces;

/// Per-phase wall time in microseconds; `None` (JSON `null`) for phases not reached.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Timings {
    pub link: Option<u64>,
    pub address: Option<u64>,
    pub token: Option<u64>,
    pub user_data: Option<u64>,
    pub decode: Option<u64>,
    pub write: Option<u64>,
    pub total: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Bytes {
    /// Body bytes of the user-data response, as on the wire.
    pub fetched: Option<u64>,
    /// Bytes written to the output after decoding.
    pub written: Option<u64>,
}

/// Short text fields (names, addresses with a prefix or port; an IPv6 endpoint
/// `[8 groups]:65535` is 47 bytes); one type keeps one copy of the formatting code.
pub type Text = heapless::String<48>;

/// The whole report.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub version: u32,
    pub platform: &'static str,
    pub exit_code: i32,
    /// Phase in which the run ended without user-data, if it did.
    pub failed_phase: Option<&'static str>,
    pub interface: Option<Text>,
    pub mac: Option<Text>,
    pub mode: &'static str,
    pub address: Option<Text>,
    pub router: Option<Text>,
    /// Where a static address came from: `ip=`, or the drive's `network-config` or
    /// `openstack/latest/network_data.json`.
    pub static_from: Option<&'static str>,
    pub server: Option<Text>,
    /// The endpoint whose connection won (`address:port`, IPv6 in brackets).
    pub endpoint: Option<Text>,
    /// Every address flint's stack held at the end, IPv4 and IPv6, with its prefix length.
    pub addresses: heapless::Vec<Text, 8>,
    /// Name servers and search domains known at the end (from every source).
    pub dns_servers: heapless::Vec<Text, { crate::net::dns::SERVERS_MAX }>,
    pub search: crate::net::dns::SearchList,
    pub timings_us: Timings,
    pub bytes: Bytes,
    pub requests: u32,
    pub gzip: Option<bool>,
    pub vmhwm_kib: Option<u64>,
    /// Which kind of source answered: `service` or `drive`.
    pub source: Option<&'static str>,
    /// The platform the SMBIOS strings name and the string that named it (`dmi_platform`,
    /// `dmi_key`): what `--platform auto` took; with a platform given, only a hint.
    pub dmi: Option<crate::platform::dmi::Hint>,
}

impl Report {
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn new(platform: &'static str) -> Report {
        Report { version: 1, platform, mode: "none", ..Report::default() }
    }

    /// Renders the report as one line of JSON with a trailing newline; `None` if `buf` is too
    /// small (never a truncated document).
    pub fn render<'b>(&self, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let mut w = Writer::new(buf);
        self.write(&mut w).ok()?;
        w.write_str("\n").ok()?;
        Some(w.into_slice())
    }

    // Out of line though called once: measured smaller so.
    #[inline(never)]
    fn write(&self, w: &mut Writer<'_>) -> fmt::Result {
        let t = &self.timings_us;
        write!(
            w,
            "{{\"version\":{},\"platform\":\"{}\",\"exit_code\":{}",
            self.version, self.platform, self.exit_code
        )?;
        field(w, "failed_phase", self.failed_phase)?;
        field(w, "interface", self.interface.as_deref())?;
        field(w, "mac", self.mac.as_deref())?;
        field(w, "mode", Some(self.mode))?;
        field(w, "address", self.address.as_deref())?;
        field(w, "router", self.router.as_deref())?;
        field(w, "static_from", self.static_from)?;
        field(w, "server", self.server.as_deref())?;
        field(w, "endpoint", self.endpoint.as_deref())?;
        list(w, "addresses", self.addresses.iter().map(|t| t.as_bytes()))?;
        list(w, "dns_servers", self.dns_servers.iter().map(|t| t.as_bytes()))?;
        list(w, "search", self.search.iter().map(|n| &n[..]))?;
        w.write_str(",\"timings_us\":{")?;
        let phases = [
            ("link", t.link),
            ("address", t.address),
            ("token", t.token),
            ("user_data", t.user_data),
            ("decode", t.decode),
            ("write", t.write),
            ("total", t.total),
        ];
        for (i, (name, v)) in phases.into_iter().enumerate() {
            write!(w, "{}\"{name}\":{}", if i > 0 { "," } else { "" }, Num(v))?;
        }
        write!(w, "}},\"bytes\":{{\"fetched\":{},\"written\":{}}}", Num(self.bytes.fetched), Num(self.bytes.written))?;
        let gzip = match self.gzip {
            Some(true) => "true",
            Some(false) => "false",
            None => "null",
        };
        write!(w, ",\"requests\":{},\"gzip\":{gzip},\"vmhwm_kib\":{}", self.requests, Num(self.vmhwm_kib))?;
        field(w, "source", self.source)?;
        field(w, "dmi_platform", self.dmi.map(|h| h.platform))?;
        field(w, "dmi_key", self.dmi.map(|h| h.key.name()))?;
        w.write_str("}")
    }
}

/// A number or `null`.
struct Num(Option<u64>);

impl fmt::Display for Num {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(n) => write!(f, "{n}"),
            None => f.write_str("null"),
        }
    }
}

/// `,"name":"value"` or `,"name":null`.
fn field(w: &mut Writer<'_>, name: &str, v: Option<&str>) -> fmt::Result {
    write!(w, ",\"{name}\":")?;
    match v {
        // Interface names may hold almost any byte: escaped as RFC 8259 §7 requires.
        Some(v) => w.quoted(v.as_bytes()),
        None => w.write_str("null"),
    }
}

/// `,"name":["a","b"]`.
fn list<'i>(w: &mut Writer<'_>, name: &str, items: impl Iterator<Item = &'i [u8]>) -> fmt::Result {
    write!(w, ",\"{name}\":[")?;
    for (i, item) in items.enumerate() {
        if i > 0 {
            w.write_str(",")?;
        }
        w.quoted(item)?;
    }
    w.write_str("]")
}

/// Formats into a small heapless string (addresses, names); `None` if it does not fit.
#[inline(never)]
pub fn text(args: core::fmt::Arguments<'_>) -> Option<Text> {
    let mut s = heapless::String::new();
    core::fmt::write(&mut s, args).ok()?;
    Some(s)
}

/// Reads `VmHWM` (peak resident set, kB) out of `/proc/self/status` text.
pub fn vmhwm_kib(status: &[u8]) -> Option<u64> {
    let line = pieces(status, b'\n').find_map(|l| l.strip_prefix(b"VmHWM:"))?;
    let digits = line.trim_ascii().split(|&b| b == b' ').next()?;
    // Found by fuzzing: no digits is no value, and an absurd one does not overflow.
    crate::fmt::parse_decimal(digits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_the_documented_fields() {
        let mut r = Report::new("aws");
        r.interface = text(format_args!("eth0"));
        r.mode = "dhcp";
        r.address = text(format_args!("10.0.0.57/24"));
        r.timings_us.link = Some(812);
        r.timings_us.total = Some(3100);
        r.bytes.written = Some(5678);
        r.requests = 2;
        r.vmhwm_kib = Some(120);
        r.endpoint = text(format_args!("[fd00:ec2::254]:80"));
        r.addresses.push(text(format_args!("10.0.0.57/24")).unwrap()).unwrap();
        r.addresses.push(text(format_args!("fe80::1/64")).unwrap()).unwrap();
        r.dns_servers.push(text(format_args!("fd00::53")).unwrap()).unwrap();
        r.search.push(crate::net::dns::Name::from_slice(b"example.internal").unwrap()).unwrap();
        let mut buf = [0u8; 1024];
        let out = std::str::from_utf8(r.render(&mut buf).unwrap()).unwrap();
        assert!(out.ends_with("}\n"));
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        assert_eq!(v["version"], 1);
        assert_eq!(v["platform"], "aws");
        assert_eq!(v["exit_code"], 0);
        assert_eq!(v["interface"], "eth0");
        assert_eq!(v["mode"], "dhcp");
        assert_eq!(v["address"], "10.0.0.57/24");
        assert!(v["router"].is_null());
        assert_eq!(v["timings_us"]["link"], 812);
        assert!(v["timings_us"]["token"].is_null());
        assert_eq!(v["bytes"]["written"], 5678);
        assert_eq!(v["requests"], 2);
        assert_eq!(v["vmhwm_kib"], 120);
        assert_eq!(v["endpoint"], "[fd00:ec2::254]:80");
        assert_eq!(v["addresses"], serde_json::json!(["10.0.0.57/24", "fe80::1/64"]));
        assert_eq!(v["dns_servers"], serde_json::json!(["fd00::53"]));
        assert_eq!(v["search"], serde_json::json!(["example.internal"]));
        assert!(r.render(&mut [0u8; 16]).is_none(), "too small a buffer is refused, not truncated");
        let n = r.render(&mut buf).unwrap().len();
        assert!(r.render(&mut buf[..n]).is_some());
        assert!(r.render(&mut buf[..n - 1]).is_none());
    }

    #[test]
    fn escapes_strings_and_renders_every_null() {
        let mut r = Report::new("akamai");
        r.interface = text(format_args!("e\"t\\h\u{1}"));
        r.failed_phase = Some("user-data");
        r.gzip = Some(true);
        r.exit_code = 4;
        let mut buf = [0u8; 1024];
        let out = std::str::from_utf8(r.render(&mut buf).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        assert_eq!(v["interface"], "e\"t\\h\u{1}");
        assert_eq!(v["exit_code"], 4);
        assert_eq!(v["failed_phase"], "user-data");
        assert_eq!(v["gzip"], true);
        for k in ["mac", "address", "router", "static_from", "server", "vmhwm_kib", "source"] {
            assert!(v[k].is_null(), "{k}");
        }
        for k in ["link", "address", "token", "user_data", "decode", "write", "total"] {
            assert!(v["timings_us"][k].is_null(), "{k}");
        }
        for k in ["addresses", "dns_servers", "search"] {
            assert_eq!(v[k], serde_json::json!([]), "{k}");
        }
        assert!(v["endpoint"].is_null());
        assert!(v["dmi_platform"].is_null() && v["dmi_key"].is_null());
        assert_eq!(v.as_object().unwrap().len(), 23);
        r.dmi = Some(crate::platform::dmi::Hint { platform: "gcp", key: crate::platform::dmi::Key::ProductName });
        let out = std::str::from_utf8(r.render(&mut buf).unwrap()).unwrap();
        let v: serde_json::Value = serde_json::from_str(out).unwrap();
        assert_eq!((&v["dmi_platform"], &v["dmi_key"]), (&"gcp".into(), &"product_name".into()));
    }

    #[test]
    fn reads_vmhwm() {
        let status = b"Name:\tflint\nVmPeak:\t  1000 kB\nVmHWM:\t     124 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(vmhwm_kib(status), Some(124));
        assert_eq!(vmhwm_kib(b"Name: x\n"), None);
        assert_eq!(vmhwm_kib(b"VmHWM:\t   kB\n"), None);
        assert_eq!(vmhwm_kib(b"VmHWM:\t99999999999999999999999 kB\n"), None);
    }
}
