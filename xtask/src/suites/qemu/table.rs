//! The QEMU suite's table: `qemu-tests/scenarios.json`, parsed and validated, and what a
//! passed boot reports.

use std::path::PathBuf;

use serde_json::Value;

use crate::harness::drive::Build;
use crate::harness::initramfs;
use crate::harness::qemu::cloud::{NetKind, Payload};
use crate::harness::qemu::net::TapLink;
use crate::harness::qemu::{DiskBus, Machine};
use crate::mock;

const DEFAULT_BOOT_TIMEOUT: f64 = 60.0;

/// Which initramfs a scenario boots.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Image {
    /// The test initramfs of `initramfs.rs` (busybox init runs flint, `qemu-tests/init.sh`).
    Test,
    /// Real dracut with flint's module and Ignition's (`dracut.rs`).
    Dracut,
}

/// The platform flint runs as. Those with a metadata service have a mock; `proxmoxve` (a
/// `cidata` drive) and `qemu` (a fw_cfg item) have none. `url`: no platform at all, but
/// `flint.url=` (or `ignition.config.url=` on `metal`) in the kernel arguments, served by the
/// aws mock without its token API (IMDSv1: a plain GET of `/latest/user-data`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Service(mock::Platform),
    ProxmoxVe,
    Qemu,
    Url,
}

impl Platform {
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Service(p) => p.as_str(),
            Platform::ProxmoxVe => "proxmoxve",
            Platform::Qemu => "qemu",
            Platform::Url => "url",
        }
    }

    /// The metadata service's mock, if the platform has a service.
    pub fn mock(self) -> Option<mock::Platform> {
        match self {
            Platform::Service(p) => Some(p),
            Platform::Url => Some(mock::Platform::Aws),
            _ => None,
        }
    }

    /// How the mock is bent for the platform: the URL's server has no token API.
    pub fn mock_knobs(self) -> fn(&mut mock::Options) {
        match self {
            Platform::Url => |o| o.no_token_api = true,
            _ => |_| {},
        }
    }
}

/// What the report's `addresses` must hold (the dual-stack boots; `suites/dualstack`'s
/// `AddrWant`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddrWant {
    /// `fd00::x/64` from SLAAC on the RA's prefix.
    Slaac,
    /// A DHCPv4 lease of dnsmasq's pool, `10.0.0.50-150/24`.
    Dhcp4,
    /// A `fe80::/64` address.
    LinkLocal6,
    /// No IPv4 address at all.
    NoV4,
}

/// Which kernel argument names the platform: flint's own, or Ignition's (which flint reads
/// when its own is absent).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PlatformArg {
    Flint,
    Ignition,
    /// `flint.platform=auto`: flint picks the scenario's platform from the SMBIOS strings.
    Auto,
}

impl PlatformArg {
    pub fn name(self) -> &'static str {
        match self {
            PlatformArg::Flint | PlatformArg::Auto => "flint.platform",
            PlatformArg::Ignition => "ignition.platform.id",
        }
    }
}

/// A hand-off flint is asked for on the kernel command line; the init sends back every file
/// under its directories and the suite holds them against what the platform gave.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Handoff {
    /// `flint.ignition`: `user.ign` (and a base fragment) in `/run/ignition` and `/usr/lib/ignition`.
    Ignition,
    /// `flint.cloud-init-seed=`: a NoCloud seed directory.
    Seed,
    /// `flint.attributes=`: Afterburn's attributes file.
    Attributes,
}

#[derive(Clone, Debug)]
pub struct NicSpec {
    pub model: String,
    pub net: NetKind,
}

/// A config drive the VM gets: what it is, with the payload as its user-data, and how it is
/// attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DriveSpec {
    pub kind: DriveKind,
    pub bus: DiskBus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveKind {
    /// OpenStack's config-2, made by Nova's tools (`harness::drive`).
    Nova(Build),
    /// Proxmox VE's `cidata` ISO (`harness::qemu::cidata`) for NIC 0's MAC.
    ProxmoxCidata,
    /// Azure's provisioning CD (`harness::azure`): UDF, the payload as `CustomData`.
    AzureCd,
}

#[derive(Clone, Debug)]
pub struct Scenario {
    pub name: String,
    pub about: String,
    pub image: Image,
    /// QEMU's machine type (`pc` unless named).
    pub machine: Machine,
    pub platform: Platform,
    /// The kernel argument that names the platform.
    pub platform_arg: PlatformArg,
    pub payload: Payload,
    pub nics: Vec<NicSpec>,
    pub drive: Option<DriveSpec>,
    /// The payload is the VM's `opt/com.coreos/config` fw_cfg item (`-fw_cfg`).
    pub fw_cfg: bool,
    /// The guest CPU has RDRAND (`-cpu qemu64,+rdrand` under TCG; KVM's `host` CPU has it), as
    /// every x86 cloud's does: the kernel's random pool is seeded at boot (Debian's
    /// RANDOM_TRUST_CPU), which https key material waits for.
    pub rdrand: bool,
    /// `-smbios` arguments: the VM's SMBIOS strings (`type=1,manufacturer=…`, `type=3,asset=…`).
    pub smbios: Vec<String>,
    /// Hand-offs asked for and checked file by file (sorted, no duplicates).
    pub handoff: Vec<Handoff>,
    /// Modules of `modules.txt` the init loads 1 s after flint started instead of before
    /// (`fxq.late_modules`): the device appears while flint runs.
    pub late_modules: Vec<String>,
    pub kernel_args: String,
    pub expect_exit: i32,
    /// The report's `failed_phase` when flint is expected to fail (any exit but 0, 2, 3).
    pub expect_failed_phase: Option<String>,
    pub expect_interface: Option<String>,
    pub expect_mode: Option<String>,
    /// The report's `source` (`drive`, `service`).
    pub expect_source: Option<String>,
    pub max_flint_seconds: Option<f64>,
    /// The tap NIC must have handed the guest CHECKSUM_PARTIAL TCP frames from the metadata
    /// service (checked in a capture of the NIC), so the CSUMNOTREADY path really ran.
    pub partial_checksums: bool,
    /// The guest sends not a single frame on its tap NIC (checked in a capture): flint left
    /// the network alone.
    pub guest_silent: bool,
    /// Text each of which some line of flint's log must contain (`drive: … on /dev/sr0`).
    pub expect_log: Vec<String>,
    /// The report's `endpoint` must be one of these (issue #11).
    pub expect_endpoint: Vec<String>,
    /// What the report's `addresses` must hold; the mock's user-data request must also have
    /// come from one of them.
    pub expect_addresses: Vec<AddrWant>,
    /// Each of these in the report's `dns_servers` / `search`.
    pub expect_dns_servers: Vec<String>,
    pub expect_search: Vec<String>,
    /// The `Host` header of the user-data request the mock saw (a `url` boot: the URL's).
    pub expect_host: Option<String>,
    /// Not one IPv4 or ARP frame from the guest on its tap NIC (checked in a capture).
    pub no_ipv4_frames: bool,
    /// The first answer of the service over IPv4 came at most this many seconds after the
    /// guest's first SYN to it on either family (the capture): Happy Eyeballs when IPv6 is
    /// dropped.
    pub v4_wins_within: Option<f64>,
    /// Both families work (`tap-dual-stack`): when the guest's first SYN to the service went
    /// to its IPv6 address, the report's endpoint must be that address (the capture shows
    /// why not: every Neighbor Solicitation from the host for a guest address and the guest's
    /// answer, or none).
    pub v6_first_wins: bool,
    pub boot_timeout: f64,
}

impl Scenario {
    /// The kernel argument naming the platform (none for `url` with `flint.url=`; Ignition's
    /// `metal` for `url` with `ignition.config.url=`).
    pub fn platform_kernel_arg(&self) -> String {
        match (self.platform, self.platform_arg) {
            (Platform::Url, PlatformArg::Flint) => String::new(),
            (Platform::Url, PlatformArg::Ignition) => "ignition.platform.id=metal".into(),
            (_, PlatformArg::Auto) => "flint.platform=auto".into(),
            (p, a) => format!("{}={}", a.name(), p.as_str()),
        }
    }

    /// The boot records its tap NIC's frames.
    pub fn capture(&self) -> bool {
        self.partial_checksums
            || self.guest_silent
            || self.no_ipv4_frames
            || self.v4_wins_within.is_some()
            || self.v6_first_wins
    }
}

pub fn scenarios_file() -> PathBuf {
    initramfs::qemu_tests_dir().join("scenarios.json")
}

pub fn load() -> Result<Vec<Scenario>, String> {
    let path = scenarios_file();
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    parse(&text).map_err(|e| format!("{}: {e}", path.display()))
}

/// Parses and validates the scenario list (unknown keys are errors: a typo must not pass
/// silently as a default).
pub fn parse(text: &str) -> Result<Vec<Scenario>, String> {
    let v: Value = serde_json::from_str(text).map_err(|e| e.to_string())?;
    let list = v.as_array().ok_or("expected a JSON array of scenarios")?;
    let mut out: Vec<Scenario> = Vec::new();
    for item in list {
        let s = parse_one(item).map_err(|e| format!("scenario {}: {e}", item["name"]))?;
        if out.iter().any(|o| o.name == s.name) {
            return Err(format!("duplicate scenario name {}", s.name));
        }
        out.push(s);
    }
    Ok(out)
}

fn known_keys(obj: &serde_json::Map<String, Value>, keys: &[&str]) -> Result<(), String> {
    match obj.keys().find(|k| !keys.contains(&k.as_str())) {
        Some(k) => Err(format!("unknown key `{k}` (known: {})", keys.join(", "))),
        None => Ok(()),
    }
}

fn parse_one(v: &Value) -> Result<Scenario, String> {
    let obj = v.as_object().ok_or("not an object")?;
    known_keys(
        obj,
        &[
            "name",
            "about",
            "image",
            "machine",
            "platform",
            "platform_arg",
            "payload",
            "nics",
            "drive",
            "fw_cfg",
            "rdrand",
            "smbios",
            "handoff",
            "late_modules",
            "kernel_args",
            "expect",
            "boot_timeout",
        ],
    )?;
    let string = |k: &str| v[k].as_str().map(String::from).ok_or_else(|| format!("`{k}` must be a string"));
    let platform = match string("platform")?.as_str() {
        "aws" => Platform::Service(mock::Platform::Aws),
        "akamai" => Platform::Service(mock::Platform::Akamai),
        "openstack" => Platform::Service(mock::Platform::OpenStack),
        "azure" => Platform::Service(mock::Platform::Azure),
        "gcp" => Platform::Service(mock::Platform::Gcp),
        "digitalocean" => Platform::Service(mock::Platform::DigitalOcean),
        "scaleway" => Platform::Service(mock::Platform::Scaleway),
        // Asked over no NIC in these boots (the `auto-*` ones that only show what the SMBIOS
        // strings name); their services are tested in `suites/platforms`.
        "hetzner" => Platform::Service(mock::Platform::Hetzner),
        "vultr" => Platform::Service(mock::Platform::Vultr),
        "upcloud" => Platform::Service(mock::Platform::UpCloud),
        "exoscale" => Platform::Service(mock::Platform::Exoscale),
        "cloudstack" => Platform::Service(mock::Platform::CloudStack),
        "oraclecloud" => Platform::Service(mock::Platform::OracleCloud),
        "aliyun" => Platform::Service(mock::Platform::Aliyun),
        "proxmoxve" => Platform::ProxmoxVe,
        "qemu" => Platform::Qemu,
        "url" => Platform::Url,
        p => {
            return Err(format!(
                "unknown platform `{p}` (aws, akamai, openstack, azure, gcp, digitalocean, scaleway, hetzner, vultr, upcloud, exoscale, cloudstack, oraclecloud, aliyun, proxmoxve, qemu, url)"
            ));
        }
    };
    let platform_arg = match v.get("platform_arg").map(|_| string("platform_arg")).transpose()?.as_deref() {
        None | Some("flint.platform") => PlatformArg::Flint,
        Some("ignition.platform.id") => PlatformArg::Ignition,
        Some("auto") => PlatformArg::Auto,
        Some(a) => return Err(format!("unknown platform_arg `{a}` (flint.platform, ignition.platform.id, auto)")),
    };
    // One `-smbios` argument each, of the two types whose strings flint reads; no value with a
    // comma (QEMU's option syntax would need it doubled).
    let mut smbios = Vec::new();
    for f in v.get("smbios").map_or(Some(&Vec::new()), Value::as_array).ok_or("`smbios` must be an array")? {
        match f.as_str() {
            Some(t) if (t.starts_with("type=1,") || t.starts_with("type=3,")) && !t.contains(",,") => {
                smbios.push(t.to_string())
            }
            _ => return Err(format!("`smbios` holds {f}, not `type=1,…` or `type=3,…`")),
        }
    }
    if platform_arg == PlatformArg::Auto && platform == Platform::Url {
        return Err("platform_arg auto names a platform, not a URL".into());
    }
    let image = match v.get("image").map(|_| string("image")).transpose()?.as_deref() {
        None | Some("test") => Image::Test,
        Some("dracut") => Image::Dracut,
        Some(i) => return Err(format!("unknown image `{i}` (test, dracut)")),
    };
    let machine = match v.get("machine").map(|_| string("machine")).transpose()?.as_deref() {
        None | Some("pc") => Machine::Pc,
        Some("q35") => Machine::Q35,
        Some(m) => return Err(format!("unknown machine `{m}` (pc, q35)")),
    };
    let payload = match string("payload")?.as_str() {
        "none" => Payload::None,
        "ignition" => Payload::Ignition,
        "ignition-gzip" => Payload::IgnitionGzip,
        "ignition-3.3" => Payload::IgnitionSpec33,
        "proxmox-cloud-config" => Payload::ProxmoxCloudConfig,
        "capl-include-https" => Payload::CaplIncludeHttps,
        p => {
            return Err(format!(
                "unknown payload `{p}` (none, ignition, ignition-gzip, ignition-3.3, proxmox-cloud-config, \
                 capl-include-https)"
            ));
        }
    };
    let mut nics = Vec::new();
    for n in v["nics"].as_array().ok_or("`nics` must be an array")? {
        let o = n.as_object().ok_or("a NIC must be an object")?;
        known_keys(o, &["model", "net"])?;
        let model = n["model"].as_str().ok_or("NIC `model` must be a string")?;
        if !["virtio-net-pci", "e1000", "e1000e"].contains(&model) {
            return Err(format!("NIC model `{model}` has no driver in the initramfs (virtio-net-pci, e1000, e1000e)"));
        }
        let net = match n["net"].as_str().unwrap_or("") {
            "slirp-metadata" => NetKind::SlirpMetadata,
            "slirp-isolated" => NetKind::SlirpIsolated,
            "tap-dhcp" => NetKind::Tap(TapLink::Dhcp),
            "tap-gce" => NetKind::Tap(TapLink::Gce),
            "tap-link-local" => NetKind::Tap(TapLink::LinkLocal),
            "tap-silent" => NetKind::Tap(TapLink::Silent),
            "tap-v6-only" => NetKind::Tap(TapLink::V6Only),
            "tap-dual-stack" => NetKind::Tap(TapLink::DualStack),
            "tap-dual-stack-v6-dropped" => NetKind::Tap(TapLink::DualStackV6Dropped),
            other => return Err(format!("unknown net `{other}`")),
        };
        nics.push(NicSpec { model: model.into(), net });
    }
    let drive = match v.get("drive") {
        None => None,
        Some(d) => {
            let o = d.as_object().ok_or("`drive` must be an object")?;
            known_keys(o, &["format", "bus"])?;
            let kind = match d["format"].as_str().unwrap_or("") {
                "iso" => DriveKind::Nova(Build::NovaIso),
                "vfat" => DriveKind::Nova(Build::Vfat),
                "cidata" => DriveKind::ProxmoxCidata,
                "udf" => DriveKind::AzureCd,
                f => return Err(format!("unknown drive format `{f}` (iso, vfat, cidata, udf)")),
            };
            let bus = match d["bus"].as_str().unwrap_or("") {
                "ide-cd" => DiskBus::IdeCd,
                "virtio-blk" => DiskBus::VirtioBlk,
                "ide2" => DiskBus::Ide2,
                b => return Err(format!("unknown drive bus `{b}` (ide-cd, virtio-blk, ide2)")),
            };
            Some(DriveSpec { kind, bus })
        }
    };
    let rdrand = match v.get("rdrand") {
        None => false,
        Some(f) => f.as_bool().ok_or("`rdrand` must be true or false")?,
    };
    let fw_cfg = match v.get("fw_cfg") {
        None => false,
        Some(f) => f.as_bool().ok_or("`fw_cfg` must be true or false")?,
    };
    if nics.is_empty() && drive.is_none() && platform != Platform::Qemu {
        return Err("no NICs and no drive".into());
    }
    match (drive.map(|d| d.kind), platform) {
        (None, _) | (Some(DriveKind::Nova(_)), Platform::Service(mock::Platform::OpenStack)) => {}
        (Some(DriveKind::ProxmoxCidata), Platform::ProxmoxVe) => {}
        (Some(DriveKind::AzureCd), Platform::Service(mock::Platform::Azure)) => {}
        (Some(DriveKind::AzureCd), _) => return Err("a provisioning CD needs platform azure".into()),
        (Some(DriveKind::Nova(_)), _) => return Err("a config-2 drive needs platform openstack".into()),
        (Some(DriveKind::ProxmoxCidata), _) => return Err("a cidata drive needs platform proxmoxve".into()),
    }
    if platform == Platform::ProxmoxVe && drive.is_none() {
        return Err("platform proxmoxve needs its cidata drive".into());
    }
    if fw_cfg && platform != Platform::Qemu {
        return Err("`fw_cfg` needs platform qemu".into());
    }
    if platform.mock().is_none()
        && nics.iter().any(|n| match n.net {
            NetKind::SlirpMetadata => true,
            NetKind::SlirpIsolated => false,
            NetKind::Tap(l) => l.has_service(),
        })
    {
        return Err(format!("platform {} has no metadata service to put on a NIC's network", platform.as_str()));
    }
    let mut handoff = Vec::new();
    for h in v.get("handoff").map_or(Some(&Vec::new()), Value::as_array).ok_or("`handoff` must be an array")? {
        handoff.push(match h.as_str() {
            Some("ignition") => Handoff::Ignition,
            Some("seed") => Handoff::Seed,
            Some("attributes") => Handoff::Attributes,
            _ => return Err(format!("unknown handoff {h} (ignition, seed, attributes)")),
        });
    }
    handoff.sort();
    if handoff.windows(2).any(|w| w[0] == w[1]) {
        return Err("a handoff is named twice".into());
    }
    // The suite models the hand-off files of these platforms only (`handoff::wanted`).
    match platform {
        Platform::ProxmoxVe => {}
        Platform::Qemu if handoff.iter().all(|&h| h == Handoff::Ignition) => {}
        _ if handoff.is_empty() => {}
        p => return Err(format!("hand-offs {handoff:?} are not modelled for platform {}", p.as_str())),
    }
    // The object store is reached through slirp's guestfwd, and the pointer is user-data a
    // metadata service serves.
    if payload == Payload::CaplIncludeHttps
        && (platform.mock().is_none()
            || nics.iter().any(|n| matches!(n.net, NetKind::Tap(_)))
            || !nics.iter().any(|n| n.net == NetKind::SlirpMetadata)
            || drive.is_some()
            || fw_cfg)
    {
        return Err("payload capl-include-https needs a metadata service on slirp NICs only".into());
    }
    if fw_cfg && payload == Payload::None {
        return Err("`fw_cfg` with payload none: no item to give".into());
    }
    let taps = nics.iter().filter(|n| matches!(n.net, NetKind::Tap(_))).count();
    if taps > 1 {
        return Err("at most one tap NIC per scenario".into());
    }
    if v["expect"]["guest_silent"] == true && taps == 0 {
        return Err("expect.guest_silent needs a NIC on a tap network (its capture)".into());
    }
    if v["expect"]["partial_checksums"] == true && (taps == 0 || !nics.iter().any(|n| n.model == "virtio-net-pci")) {
        return Err("expect.partial_checksums needs a virtio-net-pci NIC on a tap network".into());
    }
    let mut late_modules = Vec::new();
    for m in
        v.get("late_modules").map_or(Some(&Vec::new()), Value::as_array).ok_or("`late_modules` must be an array")?
    {
        match m.as_str() {
            Some(name)
                if !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-') =>
            {
                late_modules.push(name.to_string())
            }
            _ => return Err(format!("`late_modules` holds {m}, not a module name")),
        }
    }
    let e = v["expect"].as_object().ok_or("`expect` must be an object")?;
    known_keys(
        e,
        &[
            "exit",
            "failed_phase",
            "interface",
            "mode",
            "source",
            "max_flint_seconds",
            "partial_checksums",
            "guest_silent",
            "log",
            "endpoint",
            "addresses",
            "dns_servers",
            "search",
            "host",
            "no_ipv4_frames",
            "v4_wins_within",
            "v6_first_wins",
        ],
    )?;
    let mut expect_log = Vec::new();
    for l in e.get("log").map_or(Some(&Vec::new()), Value::as_array).ok_or("`expect.log` must be an array")? {
        expect_log.push(l.as_str().filter(|l| !l.is_empty()).ok_or("`expect.log` holds a non-string")?.to_string());
    }
    let strings = |k: &str| -> Result<Vec<String>, String> {
        let none = Vec::new();
        let list = e.get(k).map_or(Some(&none), Value::as_array).ok_or(format!("`expect.{k}` must be an array"))?;
        list.iter()
            .map(|x| x.as_str().filter(|x| !x.is_empty()).map(String::from).ok_or(format!("`expect.{k}` holds {x}")))
            .collect()
    };
    let expect_endpoint = strings("endpoint")?;
    let expect_dns_servers = strings("dns_servers")?;
    let expect_search = strings("search")?;
    let mut expect_addresses = Vec::new();
    for a in strings("addresses")? {
        expect_addresses.push(match a.as_str() {
            "slaac" => AddrWant::Slaac,
            "dhcp4" => AddrWant::Dhcp4,
            "link-local6" => AddrWant::LinkLocal6,
            "no-ipv4" => AddrWant::NoV4,
            _ => return Err(format!("unknown `expect.addresses` entry `{a}` (slaac, dhcp4, link-local6, no-ipv4)")),
        });
    }
    let no_ipv4_frames = match e.get("no_ipv4_frames") {
        None => false,
        Some(b) => b.as_bool().ok_or("`expect.no_ipv4_frames` must be true or false")?,
    };
    let v4_wins_within = match e.get("v4_wins_within") {
        None => None,
        Some(x) => Some(x.as_f64().filter(|x| *x > 0.0).ok_or("`expect.v4_wins_within` must be seconds")?),
    };
    let tap_link = nics.iter().find_map(|n| if let NetKind::Tap(l) = n.net { Some(l) } else { None });
    if no_ipv4_frames && tap_link.is_none() {
        return Err("expect.no_ipv4_frames needs a NIC on a tap network (its capture)".into());
    }
    if v4_wins_within.is_some() && tap_link != Some(TapLink::DualStackV6Dropped) {
        return Err("expect.v4_wins_within needs the tap-dual-stack-v6-dropped network".into());
    }
    let v6_first_wins = match e.get("v6_first_wins") {
        None => false,
        Some(b) => b.as_bool().ok_or("`expect.v6_first_wins` must be true or false")?,
    };
    if v6_first_wins && tap_link != Some(TapLink::DualStack) {
        return Err("expect.v6_first_wins needs the tap-dual-stack network".into());
    }
    let expect_exit = v["expect"]["exit"].as_i64().ok_or("`expect.exit` must be a number")? as i32;
    let expect_failed_phase = v["expect"]["failed_phase"].as_str().map(String::from);
    if !matches!(expect_exit, 0 | 2 | 3) && expect_failed_phase.is_none() {
        return Err("`expect.failed_phase` must name the phase a failing run ends in".into());
    }
    let kernel_args = v.get("kernel_args").map_or(Ok(String::new()), |_| string("kernel_args"))?;
    let reserved = [
        "flint.platform=",
        "ignition.platform.id=",
        "fxq.",
        "flint.ignition",
        "flint.cloud-init-seed=",
        "flint.attributes=",
    ];
    if kernel_args.split_whitespace().any(|a| reserved.iter().any(|r| a.starts_with(r))) {
        return Err(format!("kernel_args must not set {} (the harness does)", reserved.join(", ")));
    }
    // A URL replaces the platform: the scenario must say so, and name the URL the way its
    // platform argument does.
    let url_arg = match platform_arg {
        PlatformArg::Flint | PlatformArg::Auto => "flint.url=",
        PlatformArg::Ignition => "ignition.config.url=",
    };
    let urls = ["flint.url=", "ignition.config.url="];
    let has = |p: &str| kernel_args.split_whitespace().any(|a| a.starts_with(p));
    match platform {
        Platform::Url if !has(url_arg) => {
            return Err(format!(
                "platform url needs `{url_arg}` in kernel_args (platform_arg {})",
                platform_arg.name()
            ));
        }
        Platform::Url if image != Image::Test => return Err("platform url boots the test image only".into()),
        Platform::Url => {}
        _ if urls.iter().any(|u| has(u)) => {
            return Err("kernel_args give a URL: the scenario's platform is `url`".into());
        }
        _ => {}
    }
    Ok(Scenario {
        name: string("name")?,
        about: string("about")?,
        image,
        machine,
        platform,
        platform_arg,
        payload,
        nics,
        drive,
        fw_cfg,
        rdrand,
        smbios,
        handoff,
        late_modules,
        kernel_args,
        expect_exit,
        expect_failed_phase,
        expect_interface: v["expect"]["interface"].as_str().map(String::from),
        expect_mode: v["expect"]["mode"].as_str().map(String::from),
        expect_source: v["expect"]["source"].as_str().map(String::from),
        max_flint_seconds: v["expect"]["max_flint_seconds"].as_f64(),
        partial_checksums: v["expect"]["partial_checksums"].as_bool().unwrap_or(false),
        guest_silent: v["expect"]["guest_silent"].as_bool().unwrap_or(false),
        expect_log,
        expect_endpoint,
        expect_addresses,
        expect_dns_servers,
        expect_search,
        expect_host: e.get("host").and_then(Value::as_str).map(String::from),
        no_ipv4_frames,
        v4_wins_within,
        v6_first_wins,
        boot_timeout: v["boot_timeout"].as_f64().unwrap_or(DEFAULT_BOOT_TIMEOUT),
    })
}

/// One passed scenario's numbers.
pub struct Passed {
    pub to_end: f64,
    pub run_init: Option<f64>,
    pub flint: Option<f64>,
    pub summary: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::harness::qemu::cloud::NetKind;
    use crate::harness::qemu::net::TapLink;

    #[test]
    fn bundled_scenarios_parse() {
        let all = load().unwrap();
        assert!(all.len() >= 7, "{}", all.len());
        assert!(all.iter().any(|s| s.nics.len() == 2 && s.expect_interface.as_deref() == Some("eth1")));
        assert!(all.iter().any(|s| s.nics.iter().any(|n| n.net == NetKind::Tap(TapLink::LinkLocal))));
    }

    #[test]
    fn typos_are_errors() {
        let ok = r#"[{"name":"a","about":"b","platform":"aws","payload":"none",
            "nics":[{"model":"e1000","net":"tap-dhcp"}],"expect":{"exit":3}}]"#;
        assert_eq!(parse(ok).unwrap()[0].expect_exit, 3);
        // A failing scenario names the phase it fails in.
        assert!(parse(&ok.replace(r#""exit":3"#, r#""exit":4"#)).unwrap_err().contains("failed_phase"));
        let named = ok.replace(r#""exit":3"#, r#""exit":4,"failed_phase":"token""#);
        assert_eq!(parse(&named).unwrap()[0].expect_failed_phase.as_deref(), Some("token"));
        for (from, to) in [
            ("\"payload\"", "\"paylaod\""),
            ("e1000\"", "rtl8139\""),
            ("tap-dhcp", "tap-dchp"),
            ("\"exit\"", "\"exit_code\""),
        ] {
            assert!(parse(&ok.replace(from, to)).is_err(), "{from} -> {to} accepted");
        }
        let cd = r#"[{"name":"a","about":"b","platform":"openstack","payload":"none","nics":[],
            "drive":{"format":"iso","bus":"ide-cd"},"expect":{"exit":3,"source":"drive"}}]"#;
        let s = &parse(cd).unwrap()[0];
        assert_eq!(
            (s.drive, s.expect_source.as_deref()),
            (Some(DriveSpec { kind: DriveKind::Nova(Build::NovaIso), bus: DiskBus::IdeCd }), Some("drive"))
        );
        assert!(parse(&cd.replace("ide-cd", "scsi")).is_err());
        assert!(parse(&cd.replace("openstack", "aws")).is_err(), "a drive on aws");
        assert!(parse(&cd.replace(r#""drive":{"format":"iso","bus":"ide-cd"},"#, "")).is_err(), "nothing at all");
        let two_taps = ok.replace(
            r#"{"model":"e1000","net":"tap-dhcp"}"#,
            r#"{"model":"e1000","net":"tap-dhcp"},{"model":"e1000","net":"tap-silent"}"#,
        );
        assert!(parse(&two_taps).unwrap_err().contains("tap"));
    }

    #[test]
    fn capl_needs_a_service_on_slirp_only() {
        let capl = r#"[{"name":"c","about":"a","platform":"akamai","payload":"capl-include-https","rdrand":true,
            "nics":[{"model":"virtio-net-pci","net":"slirp-metadata"}],"expect":{"exit":0}}]"#;
        let s = &parse(capl).unwrap()[0];
        assert_eq!((s.payload, s.rdrand), (Payload::CaplIncludeHttps, true));
        assert!(!parse(&capl.replace(r#""rdrand":true,"#, "")).unwrap()[0].rdrand);
        assert!(parse(&capl.replace("true", "1")).unwrap_err().contains("rdrand"));
        for (from, to) in [
            ("slirp-metadata", "tap-dhcp"),
            ("slirp-metadata", "slirp-isolated"),
            (r#""platform":"akamai""#, r#""platform":"qemu""#),
        ] {
            let e = parse(&capl.replace(from, to)).unwrap_err();
            assert!(e.contains("capl-include-https") || e.contains("metadata service"), "{from} -> {to}: {e}");
        }
    }

    #[test]
    fn proxmox_and_qemu_rules() {
        let pve = r#"[{"name":"p","about":"a","platform":"proxmoxve","payload":"ignition",
            "nics":[{"model":"virtio-net-pci","net":"tap-silent"}],"drive":{"format":"cidata","bus":"ide2"},
            "handoff":["seed","ignition","attributes"],"expect":{"exit":0,"log":["on sr0"]}}]"#;
        let s = &parse(pve).unwrap()[0];
        assert_eq!((s.platform, s.platform_arg, s.machine), (Platform::ProxmoxVe, PlatformArg::Flint, Machine::Pc));
        let q35 = pve.replace(r#""platform""#, r#""machine":"q35","platform""#);
        assert_eq!(parse(&q35).unwrap()[0].machine, Machine::Q35);
        assert!(parse(&q35.replace("q35", "virt")).unwrap_err().contains("machine"));
        assert_eq!(s.drive, Some(DriveSpec { kind: DriveKind::ProxmoxCidata, bus: DiskBus::Ide2 }));
        assert_eq!(s.handoff, [Handoff::Ignition, Handoff::Seed, Handoff::Attributes]);
        assert_eq!(s.expect_log, ["on sr0"]);
        let silent = pve.replace(r#""exit":0,"#, r#""exit":0,"guest_silent":true,"#);
        assert!(parse(&silent).unwrap()[0].guest_silent);
        let e = parse(&silent.replace("tap-silent", "slirp-isolated")).unwrap_err();
        assert!(e.contains("guest_silent"), "{e}");
        let arg = pve.replace(r#""payload""#, r#""platform_arg":"ignition.platform.id","payload""#);
        assert_eq!(parse(&arg).unwrap()[0].platform_arg, PlatformArg::Ignition);
        for (from, to, why) in [
            (r#""bus":"ide2""#, r#""bus":"ide3""#, "bus"),
            (r#""format":"cidata""#, r#""format":"iso""#, "openstack"),
            (r#""platform":"proxmoxve""#, r#""platform":"openstack""#, "proxmoxve"),
            (r#""drive":{"format":"cidata","bus":"ide2"},"#, "", "cidata drive"),
            ("tap-silent", "tap-dhcp", "metadata service"),
            (r#""seed","#, r#""seed","seed","#, "twice"),
            (r#""seed","#, r#""sead","#, "handoff"),
            (r#""log":["on sr0"]"#, r#""log":[""]"#, "log"),
            (r#""payload""#, r#""platform_arg":"flint.platfrom","payload""#, "platform_arg"),
            (r#""payload""#, r#""fw_cfg":true,"payload""#, "qemu"),
            (r#""exit":0"#, r#""exit":0},"kernel_args":"flint.attributes=/x","expect":{"exit":0"#, "harness"),
        ] {
            let e = parse(&pve.replace(from, to)).err().unwrap_or_default();
            assert!(e.contains(why), "{from} -> {to}: {e:?}");
        }
        let qemu = r#"[{"name":"q","about":"a","platform":"qemu","payload":"ignition","nics":[],"fw_cfg":true,
            "handoff":["ignition"],"expect":{"exit":0}}]"#;
        assert!(parse(qemu).unwrap()[0].fw_cfg);
        // No NIC and no drive is a VM for the qemu platform (fw_cfg needs neither).
        assert!(!parse(&qemu.replace(r#""fw_cfg":true,"#, "")).unwrap()[0].fw_cfg);
        assert!(
            parse(&qemu.replace(r#""payload":"ignition""#, r#""payload":"none""#)).unwrap_err().contains("no item")
        );
        assert!(parse(&qemu.replace(r#"["ignition"]"#, r#"["ignition","seed"]"#)).unwrap_err().contains("modelled"));
        assert!(parse(&qemu.replace(r#""platform":"qemu""#, r#""platform":"aws""#)).is_err());
    }

    #[test]
    fn url_and_dual_stack_rules() {
        let url = r#"[{"name":"u","about":"a","platform":"url","payload":"ignition",
            "nics":[{"model":"virtio-net-pci","net":"tap-v6-only"}],
            "kernel_args":"flint.url=http://metadata/latest/user-data flint.family=ipv6",
            "expect":{"exit":0,"endpoint":["[fd00::80]:80"],"addresses":["slaac","no-ipv4"],"dns_servers":["fd00::53"],
                      "search":["example.internal"],"host":"metadata","no_ipv4_frames":true}}]"#;
        let s = &parse(url).unwrap()[0];
        assert_eq!((s.platform, s.platform.mock()), (Platform::Url, Some(mock::Platform::Aws)));
        assert_eq!(s.platform_kernel_arg(), "");
        assert_eq!(s.expect_addresses, [AddrWant::Slaac, AddrWant::NoV4]);
        assert_eq!((s.expect_host.as_deref(), s.no_ipv4_frames, s.capture()), (Some("metadata"), true, true));
        let mut o = mock::Options::new(mock::Platform::Aws);
        s.platform.mock_knobs()(&mut o);
        assert!(o.no_token_api);
        let metal = url
            .replace(r#""payload""#, r#""platform_arg":"ignition.platform.id","payload""#)
            .replace("flint.url=", "ignition.config.url=");
        assert_eq!(parse(&metal).unwrap()[0].platform_kernel_arg(), "ignition.platform.id=metal");
        let dropped = url
            .replace("tap-v6-only", "tap-dual-stack-v6-dropped")
            .replace(r#""no_ipv4_frames":true"#, r#""v4_wins_within":1.5"#);
        let d = &parse(&dropped).unwrap()[0];
        assert_eq!((d.v4_wins_within, d.capture()), (Some(1.5), true));
        let dual =
            url.replace("tap-v6-only", "tap-dual-stack").replace(r#""no_ipv4_frames":true"#, r#""v6_first_wins":true"#);
        assert!(parse(&dual).unwrap()[0].v6_first_wins);
        assert!(parse(&dual.replace("tap-dual-stack", "tap-v6-only")).unwrap_err().contains("v6_first_wins"));
        for (from, to, why) in [
            ("flint.url=", "flint.uri=", "flint.url="),
            (r#""payload""#, r#""platform_arg":"ignition.platform.id","payload""#, "ignition.config.url="),
            (r#""platform":"url""#, r#""platform":"aws""#, "platform is `url`"),
            (r#""payload""#, r#""image":"dracut","payload""#, "test image"),
            ("\"slaac\"", "\"slac\"", "slaac"),
            (r#""host":"metadata","#, r#""host":"metadata","dns_servers":"fd00::53","#, "array"),
            ("tap-v6-only", "slirp-metadata", "no_ipv4_frames"),
            (r#""no_ipv4_frames":true"#, r#""v4_wins_within":1.5"#, "tap-dual-stack-v6-dropped"),
            (r#""no_ipv4_frames":true"#, r#""v4_wins_within":0"#, "seconds"),
            ("tap-v6-only", "tap-v6only", "unknown net"),
            (r#""exit":0"#, r#""exit":0,"endpiont":[]"#, "unknown key"),
        ] {
            let e = parse(&url.replace(from, to)).err().unwrap_or_default();
            assert!(e.contains(why), "{from} -> {to}: {e:?}");
        }
        // The bundled boots of issue #11.
        let all = load().unwrap();
        for (name, link) in [
            ("url-v6-only-ra-dns", TapLink::V6Only),
            ("aws-dual-stack", TapLink::DualStack),
            ("aws-dual-stack-v6-dropped", TapLink::DualStackV6Dropped),
        ] {
            let s = all.iter().find(|s| s.name == name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(s.nics[0].net, NetKind::Tap(link), "{name}");
            assert!(!s.expect_endpoint.is_empty(), "{name}");
        }
    }

    #[test]
    fn smbios_and_platform_auto() {
        let s = r#"[{"name":"a","about":"a","platform":"aws","platform_arg":"auto","payload":"ignition",
            "nics":[{"model":"virtio-net-pci","net":"slirp-metadata"}],
            "smbios":["type=1,manufacturer=Amazon EC2","type=3,asset=x"],"expect":{"exit":0}}]"#;
        let p = parse(s).unwrap();
        assert_eq!(p[0].platform_kernel_arg(), "flint.platform=auto");
        assert_eq!(p[0].smbios, ["type=1,manufacturer=Amazon EC2", "type=3,asset=x"]);
        assert!(parse(&s.replace("type=3,asset=x", "type=2,asset=x")).is_err(), "flint reads types 1 and 3 only");
        assert!(parse(&s.replace("type=3,asset=x", "type=3,asset=a,,b")).is_err());
        assert!(parse(&s.replace(r#""platform_arg":"auto","#, "")).unwrap()[0].smbios.len() == 2);
        assert!(parse(&s.replace(r#""platform":"aws""#, r#""platform":"url""#)).is_err());
        // Every auto scenario of the table names its SMBIOS strings or expects exit 2.
        for s in load().unwrap().iter().filter(|s| s.platform_arg == PlatformArg::Auto) {
            assert!(s.name.starts_with("auto-") && (!s.smbios.is_empty() || s.expect_exit == 2), "{}", s.name);
        }
    }
}
