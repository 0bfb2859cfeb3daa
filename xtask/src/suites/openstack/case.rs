//! The OpenStack cases as data: where the drive is, what network flint finds, what the
//! sources serve and what the run must end with; and what one run observed (`Run`), for the
//! checks.

use std::time::Duration;

use crate::harness::drive::{Build, Damage};
use crate::harness::drivecase::Observed;
use crate::mock::openstack::Instance;
use crate::mock::{self, LogEntry};

/// flint's cap on user-data (raw, before decoding): `BODY_MAX` in `src/main.rs`.
pub const USER_DATA_CAP: usize = 1 << 20;

/// Paths flint is told to write, relative to `--root`.
pub use crate::harness::handoff::{OUTPUT, REPORT, SEED_DIR};
pub const ATTRIBUTES: &str = "/run/metadata/flint";
/// Where an `empty_dev` run lists what flint left in `/dev/.flint`, in the logs directory.
pub const DEV_LISTING: &str = "dev-flint-listing.txt";

/// The network flint finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// A namespace with only `lo`: no NIC at all.
    NoNic,
    /// A veth, dnsmasq, and the mock (when the case has one) on 169.254.169.254 behind the
    /// router 10.0.0.1.
    Dhcp,
    /// A veth and no DHCP server; the far end holds 169.254.169.254/16 (link-local).
    NoDhcp,
}

/// Where the config drive is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum At {
    /// No drive: a scan finds nothing.
    Nowhere,
    /// A loop device attached before flint starts: found by scanning.
    Scan,
    /// A loop device attached this long after flint started: a rescan must find it.
    ScanLate(Duration),
    /// `--drive IMAGE`, the image file itself.
    Arg,
    /// `flint.drive=IMAGE` and `ignition.platform.id=openstack` in `--cmdline FILE`, nothing
    /// but `--cmdline` and `--root` on the command line.
    KernelArgs,
    /// `--drive FILE` naming something that holds no config drive.
    ArgNot(NotADrive),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NotADrive {
    /// A text file.
    Text,
    /// A good VFAT filesystem labelled `cidata` (a NoCloud seed), the OpenStack tree on it.
    WrongLabel,
    /// A path that does not exist.
    Missing,
}

/// What the user-data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// An Ignition config, spec 3.3.0 (the newest Debian's Ignition 2.14 takes).
    Ignition,
    /// `#cloud-config` YAML.
    CloudConfig,
    /// `#cloud-config` of exactly this many bytes.
    Sized(usize),
    /// An empty file: no user-data (exit 3).
    Empty,
}

/// The drive's image.
#[derive(Clone, Copy, Debug)]
pub struct DriveSpec {
    pub build: Build,
    pub label: &'static str,
    pub damage: Damage,
    /// `openstack/latest/user_data` is there.
    pub user_data: bool,
}

pub const NOVA_ISO: DriveSpec =
    DriveSpec { build: Build::NovaIso, label: "config-2", damage: Damage::None, user_data: true };
pub const NOVA_VFAT: DriveSpec = DriveSpec { build: Build::Vfat, ..NOVA_ISO };

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub net: Net,
    /// The metadata service (on `Dhcp`/`NoDhcp`), with its knobs; `None`: nothing listens.
    pub mock: Option<fn(&mut mock::Options)>,
    /// The service has user-data.
    pub service_user_data: bool,
    pub at: At,
    pub drive: DriveSpec,
    pub instance: Instance,
    pub payload: Payload,
    /// `--ignition --cloud-init-seed SEED_DIR --attributes ATTRIBUTES`.
    pub handoff: bool,
    /// Run Ignition and cloud-init on the hand-offs (`consumers.rs`).
    pub consumers: bool,
    pub budget: f64,
    pub exit: i32,
    /// The report's `source`.
    pub source: Option<&'static str>,
    /// The phase of the one error line (and the report's `failed_phase`).
    pub error_phase: Option<&'static str>,
    /// flint must be done within this (seconds) where the point is that it need not wait.
    pub within: Option<f64>,
    /// flint runs in a mount namespace whose `/dev` is an empty tmpfs: every node it opens
    /// it must make itself (`/dev/.flint`), as in an initramfs whose `/dev` lacks the
    /// device's node.
    pub empty_dev: bool,
    pub extra: Option<fn(&Run) -> Vec<String>>,
}

impl Case {
    pub fn base(name: &'static str, about: &'static str) -> Case {
        Case {
            name,
            about,
            net: Net::NoNic,
            mock: None,
            service_user_data: true,
            at: At::Scan,
            drive: NOVA_ISO,
            instance: Instance::default(),
            payload: Payload::Ignition,
            handoff: false,
            consumers: false,
            budget: 5.0,
            exit: 0,
            source: Some("drive"),
            error_phase: None,
            within: None,
            empty_dev: false,
            extra: None,
        }
    }

    /// A service-only case: the mock behind dnsmasq, no drive.
    pub fn service(name: &'static str, about: &'static str) -> Case {
        Case {
            net: Net::Dhcp,
            mock: Some(|_| {}),
            at: At::Nowhere,
            source: Some("service"),
            budget: 10.0,
            ..Case::base(name, about)
        }
    }

    pub fn has_drive(&self) -> bool {
        !matches!(self.at, At::Nowhere | At::ArgNot(_))
    }

    /// The run scans block devices (no `--drive`).
    pub fn scans(&self) -> bool {
        matches!(self.at, At::Nowhere | At::Scan | At::ScanLate(_))
    }
}

/// What the drive and the service serve, for one run.
pub struct Served {
    /// The drive's `user_data` (when it has one).
    pub drive: Vec<u8>,
    /// The service's user-data (when it has some).
    pub service: Vec<u8>,
}

/// Everything observed in one run, for the checks.
pub struct Run {
    pub seen: Observed,
    /// The mock's request log a moment after `seen.log`.
    pub log_later: Vec<LogEntry>,
    pub served: Served,
}

impl std::ops::Deref for Run {
    type Target = Observed;
    fn deref(&self) -> &Observed {
        &self.seen
    }
}

impl Run {
    pub fn gets(&self) -> Vec<&str> {
        self.log.iter().filter(|e| e.method == "GET").map(|e| e.path.as_str()).collect()
    }
}
