//! The NoCloud cases as data — which drive (made by which tool, holding which documents), which
//! network (none at all, a veth without DHCP, or with dnsmasq), which network seed and kernel
//! arguments, what the run must end with — and what one run observed (`Run`), for the checks.

use std::time::Duration;

use crate::harness::cidata::{Build, Seed, V2Route};
use crate::harness::drivecase::Observed;
use crate::mock::nocloud;

/// Paths flint is told to write, relative to `--root`.
pub use crate::harness::handoff::{OUTPUT, REPORT, SEED_DIR};
pub const ATTRIBUTES: &str = "/run/metadata/afterburn";

/// Proxmox's instance: the id is a SHA-1 of the VM's cloud-init settings.
pub const PVE_INSTANCE_ID: &str = "15a9919cb91024fbd1d70fa07f0efa749cbba03b";
pub const PVE_HOSTNAME: &str = "flint-pve-01";
pub const PVE_DOMAIN: &str = "flint.test";
pub const PVE_USER: &str = "core";
/// Proxmox's MAC prefix (BC:24:11), for a drive read where there is no NIC at all.
pub const PVE_MAC: &str = "bc:24:11:5e:a1:01";
/// KubeVirt's instance: `<vmi>.<namespace>`, the VMI's name, its instance type.
pub const KV_INSTANCE_ID: &str = "flint-kv-01.default";
pub const KV_HOSTNAME: &str = "flint-kv-01";
pub const KV_INSTANCE_TYPE: &str = "u1.small";
/// A MAC no NIC of the test has.
pub const WRONG_MAC: &str = "02:00:5e:10:99:99";
/// The address of a `network-config` that competes with `ip=`.
pub const OTHER_ADDR: &str = "10.0.0.46";
/// The seed server behind the router (off-link: only the gateway reaches it).
pub const OFF_LINK_SEED_IP: &str = "192.0.2.80";
pub const SEED_PORT: u16 = 8000;
/// The path a decoy selector on the kernel command line names (nothing is served there).
pub const DECOY_PATH: &str = "/nocloud/decoy/";
/// The DNS server and search domain of every static configuration (flint has no resolver;
/// they are parsed and handed on).
pub const NAMESERVER: &str = "10.0.0.1";
pub const SEARCH: &str = "flint.test";

/// What the user-data on the drive is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UserData {
    /// An Ignition config (Proxmox: a `cicustom` user snippet).
    Ignition,
    /// The `#cloud-config` Proxmox generates (hostname, fqdn, user, keys).
    ProxmoxCloudConfig,
    /// A `cicustom` `#cloud-config` whose keys are only under `users[]` (the default user and
    /// `core`), with a `hostname`.
    UsersCloudConfig,
    /// No `user-data` file on the drive.
    Absent,
}

/// The drive's `meta-data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Meta {
    /// `instance-id: <sha1>` alone.
    Proxmox,
    /// A hand-written YAML one (`instance-id`, `local-hostname`, `public-keys`): the seed mock's.
    Yaml,
    /// KubeVirt's compact JSON (`instance-type`, `instance-id`, `local-hostname`).
    Kubevirt,
}

/// The drive's `network-config`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetCfg {
    None,
    /// Version 1 (Proxmox's), for the test NIC's MAC.
    V1,
    V2(V2Route),
    /// Version 1 for a MAC no NIC has.
    V1WrongMac,
    /// Version 1 for the test NIC, with another address (`OTHER_ADDR`) than the case's.
    V1OtherAddr,
    /// Version 1, the test NIC's subnet `dhcp4` (Proxmox's `ipconfig0: ip=dhcp`).
    V1Dhcp,
}

/// The drive's `vendor-data`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Vendor {
    None,
    /// An empty file: what Proxmox writes without a `cicustom` vendor snippet.
    Empty,
    /// A `#cloud-config` snippet (Proxmox's `cicustom vendor=`, `cloud-localds -V`).
    Snippet,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// A read-only loop device, found by scanning.
    Scan,
    /// `--drive IMAGE`.
    Arg,
    /// A loop device attached this long after flint started (a CD-ROM whose driver is still
    /// loading): a rescan must find it.
    ScanLate(Duration),
}

#[derive(Clone, Copy, Debug)]
pub struct DriveCase {
    pub build: Build,
    pub user_data: UserData,
    pub meta: Meta,
    pub net: NetCfg,
    pub vendor: Vendor,
    pub at: At,
}

pub const PROXMOX: DriveCase = DriveCase {
    build: Build::ProxmoxIso,
    user_data: UserData::Ignition,
    meta: Meta::Proxmox,
    net: NetCfg::V1,
    vendor: Vendor::Snippet,
    at: At::Scan,
};

/// The network flint finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// Only `lo`: no NIC at all.
    NoNic,
    /// A veth whose far end is 10.0.0.1/24 and no DHCP server.
    Static,
    /// The same with dnsmasq (pool 10.0.0.50–150).
    Dhcp,
}

/// The selector's spelling on the kernel command line.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Form {
    /// `ds=nocloud;s=URL`
    NoCloud,
    /// The legacy `ds=nocloud-net;seedfrom=URL`.
    NoCloudNet,
}

/// Where the selector is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Selector {
    /// On the kernel command line.
    Cmdline,
    /// In the SMBIOS system serial number (`/sys/class/dmi/id/product_serial`), as Proxmox's
    /// `-smbios type=1,serial=ds=nocloud;s=URL` puts it; nothing on the kernel line.
    Serial,
    /// In the serial, and a selector naming another path (`DECOY_PATH`) on the kernel line:
    /// the serial wins, as in cloud-init.
    SerialOverCmdline,
}

/// How `ip=` is spelled (dracut's `ip=<client>:[<peer>]:<gateway>:<netmask>:<hostname>:<iface>:<method>[:<dns1>[:<dns2>]]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IpForm {
    /// `ip=<addr>::<gw>:255.255.255.0::eth0:off nameserver=<dns>`
    Off,
    /// Fedora CoreOS's documented form: a hostname, method `none` and the DNS server in the
    /// eighth field: `ip=<addr>::<gw>:255.255.255.0:<host>:eth0:none:<dns>`.
    FcosNone,
    /// No interface: `ip=<addr>::<gw>:255.255.255.0:::off` applies to any NIC.
    AnyIface,
    /// For an interface the machine does not have (`ens3`): not applied.
    OtherIface,
}

/// The network seed (the mock) and how it is named.
#[derive(Clone, Copy, Debug)]
pub struct SeedCase {
    /// On 192.0.2.80 behind the router instead of on-link at 10.0.0.1.
    pub off_link: bool,
    /// The seed has a `user-data` (else 404).
    pub user_data: bool,
    /// The seed has a `meta-data` (else 404).
    pub meta_data: bool,
    pub form: Form,
    pub selector: Selector,
    /// The seed's port; 80 is left out of the URL (and so of `Host`).
    pub port: u16,
    /// The URL ends with `/` (cloud-init's docs require it; newer cloud-init adds a missing one).
    pub slash: bool,
    /// The selector's URL as written, in place of the one made from the fields above.
    pub url: Option<&'static str>,
    /// Where the mock serves the files: `<mock_path>user-data`, `<mock_path>meta-data`.
    pub mock_path: &'static str,
}

pub const SEED: SeedCase = SeedCase {
    off_link: false,
    user_data: true,
    meta_data: true,
    form: Form::NoCloud,
    selector: Selector::Cmdline,
    port: SEED_PORT,
    slash: true,
    url: None,
    mock_path: nocloud::DEFAULT_PATH,
};

impl SeedCase {
    pub fn ip(&self) -> &'static str {
        if self.off_link { OFF_LINK_SEED_IP } else { crate::harness::netns::ROUTER_IP }
    }

    /// The `Host` a client must send: the URL's authority as written.
    pub fn host(&self) -> String {
        if self.port == 80 { self.ip().to_string() } else { format!("{}:{}", self.ip(), self.port) }
    }

    pub fn url_for(&self, path: &str) -> String {
        if let (Some(url), true) = (self.url, path == self.mock_path) {
            return url.to_string();
        }
        let path = if self.slash { path } else { path.trim_end_matches('/') };
        format!("http://{}{path}", self.host())
    }

    /// The selector as the kernel line or the serial carries it, for the seed at `path`.
    pub fn selector_for(&self, path: &str) -> String {
        match self.form {
            Form::NoCloud => format!("ds=nocloud;s={}", self.url_for(path)),
            Form::NoCloudNet => format!("ds=nocloud-net;seedfrom={}", self.url_for(path)),
        }
    }

    pub fn selector(&self) -> String {
        self.selector_for(self.mock_path)
    }
}

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub platform: &'static str,
    pub drive: Option<DriveCase>,
    pub net: Net,
    pub seed: Option<SeedCase>,
    /// `ip=<addr>::<gw>:<mask>::eth0:off nameserver=…` on the kernel command line.
    pub ip_arg: bool,
    pub ip_form: IpForm,
    /// The static address of this case (in `ip=` and in the drive's `network-config`): a
    /// different one per case, outside dnsmasq's pool, so the mock's log shows which was used.
    pub addr: &'static str,
    /// `--ignition --cloud-init-seed SEED_DIR` (and `--attributes` where Afterburn has names).
    pub handoff: bool,
    pub consumers: bool,
    pub budget: f64,
    pub exit: i32,
    /// The report's `source`.
    pub source: Option<&'static str>,
    pub error_phase: Option<&'static str>,
    /// flint must be done within this many seconds.
    pub within: Option<f64>,
    pub extra: Option<fn(&Case, &Run) -> Vec<String>>,
}

impl Case {
    /// A drive and no NIC at all.
    pub const fn drive(name: &'static str, about: &'static str, platform: &'static str, d: DriveCase) -> Case {
        Case {
            name,
            about,
            platform,
            drive: Some(d),
            net: Net::NoNic,
            seed: None,
            ip_arg: false,
            ip_form: IpForm::Off,
            addr: "10.0.0.23",
            handoff: true,
            consumers: false,
            budget: 5.0,
            exit: 0,
            source: Some("drive"),
            error_phase: None,
            within: Some(2.0),
            extra: None,
        }
    }

    /// `--platform nocloud` against the network seed on a veth without DHCP, no drive.
    pub const fn seed(name: &'static str, about: &'static str, addr: &'static str) -> Case {
        Case {
            name,
            about,
            platform: "nocloud",
            drive: None,
            net: Net::Static,
            seed: Some(SEED),
            ip_arg: true,
            ip_form: IpForm::Off,
            addr,
            handoff: true,
            consumers: false,
            budget: 8.0,
            exit: 0,
            source: Some("service"),
            error_phase: None,
            within: Some(4.0),
            extra: None,
        }
    }

    /// Where the configuration said to put the address, when flint must use it.
    pub fn static_applies(&self) -> bool {
        (self.ip_arg && self.ip_form != IpForm::OtherIface)
            || self.drive.is_some_and(|d| matches!(d.net, NetCfg::V1 | NetCfg::V2(_)))
    }

    pub fn scans(&self) -> bool {
        self.drive.is_none_or(|d| matches!(d.at, At::Scan | At::ScanLate(_)))
    }

    /// Afterburn has attribute names for this platform.
    pub fn has_attributes(&self) -> bool {
        matches!(self.platform, "proxmoxve" | "kubevirt")
    }
}

/// Everything observed in one run, for the checks (`seen.log` is the seed mock's).
pub struct Run {
    pub seen: Observed,
    /// The drive's files as built.
    pub drive: Option<Seed>,
    /// What the network seed serves as user-data.
    pub served: Vec<u8>,
    /// The test NIC's MAC (`None`: no NIC).
    pub mac: Option<String>,
}

impl std::ops::Deref for Run {
    type Target = Observed;
    fn deref(&self) -> &Observed {
        &self.seen
    }
}

impl std::ops::DerefMut for Run {
    fn deref_mut(&mut self) -> &mut Observed {
        &mut self.seen
    }
}

impl Run {
    pub fn gets(&self) -> Vec<(&str, u16)> {
        self.log.iter().filter(|e| e.method == "GET").map(|e| (e.path.as_str(), e.status)).collect()
    }
}
