//! The `--report` JSON document (layout in docs/contract.md), rendered with serde-json-core into
//! a fixed buffer. It holds timings, sizes and addresses, never the token or user-data.

use serde::Serialize;

/// Per-phase wall time in microseconds; `None` (JSON `null`) for phases not reached.
#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Timings {
    pub link: Option<u64>,
    pub address: Option<u64>,
    pub token: Option<u64>,
    pub user_data: Option<u64>,
    pub decode: Option<u64>,
    pub write: Option<u64>,
    pub total: Option<u64>,
}

#[derive(Clone, Copy, Debug, Default, Serialize, PartialEq, Eq)]
pub struct Bytes {
    /// Body bytes of the user-data response, as on the wire.
    pub fetched: Option<u64>,
    /// Bytes written to the output after decoding.
    pub written: Option<u64>,
}

/// Short text fields (names, addresses); one type keeps one copy of the formatting code.
pub type Text = heapless::String<24>;

/// The whole report.
#[derive(Clone, Debug, Default, Serialize, PartialEq, Eq)]
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
    pub server: Option<Text>,
    pub timings_us: Timings,
    pub bytes: Bytes,
    pub requests: u32,
    pub gzip: Option<bool>,
    pub vmhwm_kib: Option<u64>,
}

impl Report {
    pub fn new(platform: &'static str) -> Report {
        Report { version: 1, platform, mode: "none", ..Report::default() }
    }

    /// Renders the report as one line of JSON with a trailing newline.
    pub fn render<'b>(&self, buf: &'b mut [u8]) -> Option<&'b [u8]> {
        let n = serde_json_core::to_slice(self, buf).ok()?;
        let end = buf.get_mut(n)?;
        *end = b'\n';
        Some(&buf[..=n])
    }
}

/// Formats into a small heapless string (addresses, names); `None` if it does not fit.
pub fn text(args: core::fmt::Arguments<'_>) -> Option<Text> {
    let mut s = heapless::String::new();
    core::fmt::write(&mut s, args).ok()?;
    Some(s)
}

/// Reads `VmHWM` (peak resident set, kB) out of `/proc/self/status` text.
pub fn vmhwm_kib(status: &[u8]) -> Option<u64> {
    let line = status.split(|&b| b == b'\n').find(|l| l.starts_with(b"VmHWM:"))?;
    let digits = line[6..].trim_ascii().split(|&b| b == b' ').next()?;
    digits.iter().try_fold(0u64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64))
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
        assert!(r.render(&mut [0u8; 16]).is_none(), "too small a buffer is refused, not truncated");
    }

    #[test]
    fn reads_vmhwm() {
        let status = b"Name:\tflint\nVmPeak:\t  1000 kB\nVmHWM:\t     124 kB\nVmRSS:\t 100 kB\n";
        assert_eq!(vmhwm_kib(status), Some(124));
        assert_eq!(vmhwm_kib(b"Name: x\n"), None);
    }
}
