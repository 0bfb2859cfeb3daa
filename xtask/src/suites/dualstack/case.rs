//! The dual-stack cases as data (issue #11): what the link offers (IPv4 DHCP, an RA and which
//! flags, DHCPv6), which DNS server answers and how it is announced, which service listens
//! where, what is dropped, and what the run must end with.

use std::path::PathBuf;
use std::time::Duration;

use serde_json::Value;

use crate::mock::dns::{DnsLogEntry, Mode};
use crate::mock::{self, LogEntry, Platform};

/// The segment's addresses (server side unless named otherwise).
pub const ROUTER4: &str = "10.0.0.1";
pub const METADATA4: &str = "169.254.169.254";
/// The DNS servers: dnsmasq, and the suite's own `dns-mock`.
pub const DNS4: &str = "10.0.0.5";
pub const DNS4_MOCK: &str = "10.0.0.6";
pub const DNS6: &str = "fd00::53";
pub const DNS6_MOCK: &str = "fd00::54";
/// What `metadata.example.internal` resolves to, and the bare name `metadata` (a decoy: the
/// search list must be tried first, as glibc does for a name without dots).
pub const META4: &str = "10.0.0.8";
pub const META6: &str = "fd00::80";
pub const DECOY6: &str = "fd00::99";
pub const ROUTER6: &str = "fd00::1";
pub const PREFIX6: &str = "fd00::";
/// The probe's own addresses (fixture self-checks).
pub const PROBE4: &str = "10.0.0.250";
pub const PROBE6: &str = "fd00::250";
/// dnsmasq's DHCPv6 pool (stateful), fd00::100 - fd00::1ff.
pub const DHCP6_POOL: (u16, u16) = (0x100, 0x1ff);
/// The platforms' IPv6 endpoints (platforms.md §0.1).
pub const AWS6: &str = "fd00:ec2::254";
pub const AKAMAI6: &str = "fd00:a9fe:a9fe::1";
pub const OPENSTACK6: &str = "fe80::a9fe:a9fe";
pub const DOMAIN: &str = "example.internal";
pub const OTHER_DOMAIN: &str = "corp.example";

/// Paths flint is told to write, relative to `--root`.
pub use crate::harness::handoff::{OUTPUT, REPORT};

/// IPv4 on the link.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V4 {
    /// No IPv4 at all: no address on the server, no DHCPv4.
    None,
    /// dnsmasq's DHCPv4 (10.0.0.50-150/24, router 10.0.0.1), 169.254.169.254 behind the router.
    Dhcp,
}

/// IPv6 on the link (the server's link-local address is always there).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V6 {
    /// No RA, no global address: an IPv4-only cloud.
    None,
    /// No RA either, but `fe80::a9fe:a9fe` on the server: OpenStack's link-local endpoint.
    LinkLocal,
    /// RA with the A flag for fd00::/64, no M/O (dnsmasq `ra-only`).
    Slaac,
    /// RA with A and O flags; DNS also from a DHCPv6 information-request (`ra-stateless`).
    Stateless,
    /// RA with the M flag and no A flag; the address from DHCPv6 IA_NA (fd00::100-1ff).
    Stateful,
}

impl V6 {
    pub fn has_ra(self) -> bool {
        matches!(self, V6::Slaac | V6::Stateless | V6::Stateful)
    }
}

/// Who answers DNS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dns {
    None,
    /// dnsmasq itself (on fd00::53 and 10.0.0.53), authoritative for `example.internal`.
    Dnsmasq,
    /// `xtask dns-mock` in this mode on fd00::54 (or 10.0.0.54 without IPv6).
    Mock(Mode),
}

/// How flint is told about the DNS server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Announce {
    /// RDNSS/DNSSL in the RA, DHCPv6 options 23/24, DHCPv4 options 6/15/119: whatever the
    /// link's configuration carries.
    Link,
    /// Nowhere on the link: only `nameserver=` on the kernel command line.
    KernelOnly,
}

/// A metadata service (`xtask mock`) and where it listens.
#[derive(Clone, Copy)]
pub struct Svc {
    pub platform: Platform,
    pub listen: &'static str,
    pub knobs: fn(&mut mock::Options),
}

/// What the mock serves and what flint must write.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// An Ignition config, served and written as is.
    Plain,
    /// Served gzip'd: written decoded.
    Gzip,
    /// Served as base64 text: `--url` writes it as is (only platforms decode base64).
    Base64Text,
    /// No user-data (404).
    None,
}

/// An nft rule in the server's input chain: `<match> counter drop`.
#[derive(Clone, Copy)]
pub struct DropRule {
    pub matches: &'static str,
    /// flint must have sent something it dropped (the counter moved): proof flint tried.
    pub must_hit: bool,
}

/// What the report's IPv6/IPv4 address list must hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrWant {
    /// An address in fd00::/64 (SLAAC).
    Slaac,
    /// An address of dnsmasq's DHCPv6 pool.
    Dhcp6,
    /// A DHCPv4 lease 10.0.0.50-150/24.
    Dhcp4,
    /// Some fe80::/64 address.
    LinkLocal6,
    /// No IPv4 address at all.
    NoV4,
    /// No global IPv6 address.
    NoV6Global,
    /// Not the modified EUI-64 link-local address of flint's MAC (the DAD case).
    NotEui64,
}

/// One case.
pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub v4: V4,
    pub v6: V6,
    pub dns: Dns,
    pub announce: Announce,
    /// DNS records (name, address) dnsmasq or the dns-mock holds.
    pub records: &'static [(&'static str, &'static str)],
    pub service: Option<Svc>,
    /// A second mock here, which flint must never reach (the bare `metadata` decoy).
    pub decoy: Option<&'static str>,
    pub payload: Payload,
    pub drops: &'static [DropRule],
    /// The probe holds flint's EUI-64 link-local address before flint starts.
    pub dad_peer: bool,
    /// `disable_ipv6` of the client's eth0 before the run (flint must put it back).
    pub disable_ipv6_before: &'static str,
    /// Sample the client's `disable_ipv6` and kernel IPv6 addresses while flint runs.
    pub sample: bool,
    /// Capture the link (tcpdump on the bridge, kept in `capture/` for a failed case) for the
    /// packet checks and the reader of a failure.
    pub capture: bool,
    pub args: &'static [&'static str],
    /// Extra kernel arguments in the `--cmdline` file (`{…}` placeholders: none needed).
    pub cmdline: &'static str,
    pub budget: f64,
    pub exit: i32,
    pub error_phase: Option<&'static str>,
    /// The run must end within this many seconds (a definite answer, or the HE delay).
    pub within: Option<f64>,
    /// `report.platform`.
    pub platform: &'static str,
    /// `report.endpoint`: any of these.
    pub endpoint: &'static [&'static str],
    pub addrs: &'static [AddrWant],
    pub dns_servers: &'static [&'static str],
    pub search: &'static [&'static str],
    /// The request line's target the mock must have seen, byte for byte, and the `Host` header.
    pub target: Option<(&'static str, &'static str)>,
    pub extra: Option<fn(&Run) -> Vec<String>>,
}

pub const RECORDS: &[(&str, &str)] =
    &[("metadata.example.internal", META6), ("metadata", DECOY6), ("v4only.example.internal", META4)];

impl Case {
    /// An IPv6-only link configured by an RA alone (RDNSS+DNSSL), dnsmasq as DNS server,
    /// `--url http://metadata/latest/user-data` served by the aws mock (IMDSv1 knob: no token)
    /// on fd00::80.
    pub fn base(name: &'static str, about: &'static str) -> Case {
        Case {
            name,
            about,
            v4: V4::None,
            v6: V6::Slaac,
            dns: Dns::Dnsmasq,
            announce: Announce::Link,
            records: RECORDS,
            service: Some(Svc { platform: Platform::Aws, listen: "[fd00::80]:80", knobs: |o| o.no_token_api = true }),
            decoy: None,
            payload: Payload::Plain,
            drops: &[],
            dad_peer: false,
            disable_ipv6_before: "0",
            sample: false,
            capture: true,
            args: &["--url", "http://metadata/latest/user-data"],
            cmdline: "",
            budget: 10.0,
            exit: 0,
            error_phase: None,
            within: None,
            platform: "url",
            endpoint: &["[fd00::80]:80"],
            addrs: &[AddrWant::Slaac, AddrWant::LinkLocal6],
            dns_servers: &[DNS6],
            search: &[DOMAIN],
            target: Some(("/latest/user-data", "metadata")),
            extra: None,
        }
    }

    /// A platform's service (its own mock, token flow and all) instead of `--url`.
    pub fn platform(name: &'static str, about: &'static str, p: Platform, listen: &'static str) -> Case {
        Case {
            service: Some(Svc { platform: p, listen, knobs: |_| {} }),
            args: &[],
            platform: p.as_str(),
            dns: Dns::None,
            dns_servers: &[],
            search: &[],
            target: None,
            ..Case::base(name, about)
        }
    }

    pub fn success(&self) -> bool {
        self.exit == 0
    }
}

/// Everything one run observed, for the checks.
pub struct Run {
    pub exit: Option<i32>,
    pub elapsed: Duration,
    pub stderr: String,
    /// The mock's request log (the self-checks' requests left out).
    pub log: Vec<LogEntry>,
    pub decoy_log: Vec<LogEntry>,
    pub dns_log: Vec<DnsLogEntry>,
    pub dnsmasq_log: String,
    pub report: Option<Value>,
    pub root: PathBuf,
    pub client_mac: String,
    pub probe_mac: String,
    /// The capture as `tcpdump -n -e -tt -v` text.
    pub capture: Option<String>,
    pub drop_counters: Vec<(String, u64)>,
    /// `disable_ipv6` of eth0 once flint exited.
    pub disable_ipv6_after: String,
    /// (disable_ipv6, kernel IPv6 addresses on eth0, operstate) while flint ran.
    pub samples: Vec<(String, u32, String)>,
    /// The bytes flint must have written.
    pub expected: Option<Vec<u8>>,
}
