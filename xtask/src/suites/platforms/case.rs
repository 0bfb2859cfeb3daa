//! The platform cases as data (what network, which service knobs, which drive, what the run
//! must end with), and what one run observed (`Run`), for the checks.

use crate::harness::drivecase::Observed;
use crate::mock::{self, LogEntry, Platform};

/// The router `Net::DhcpOtherRouter` announces.
pub const OTHER_ROUTER: &str = "10.0.0.254";

/// Where the attributes go, relative to `--root`.
pub const ATTRIBUTES: &str = "/run/metadata/afterburn";

/// What the user-data is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    /// An Ignition config (spec 3.3.0, which 2.14 takes).
    Ignition,
    /// The same config gzipped, served as it is (flint must detect and gunzip it).
    IgnitionGzip,
    /// `#cloud-config`: exit 7 with `--ignition`, no `user.ign`.
    CloudConfig,
    /// None at all: the platform's "none" answer, exit 3.
    None,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    /// A namespace with only `lo`.
    NoNic,
    /// dnsmasq on the veth (10.0.0.1, pool .50–.150).
    Dhcp,
    /// No DHCP server; the server end holds 169.254.169.254/16.
    LinkLocal,
    /// dnsmasq on 10.0.0.1 announcing another router (`OTHER_ROUTER`, which nobody holds):
    /// the DHCP server identifier and the gateway differ.
    DhcpOtherRouter,
    /// dnsmasq on 10.0.0.1 as DHCP server and name server, the service behind TLS at a name
    /// (Equinix Metal, `tls.rs`).
    DhcpDnsTls,
    /// The same, and router advertisements for SLAAC: the name has only an AAAA record.
    DhcpDnsTls6,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveKind {
    /// CloudStack's `config-2` ISO (`cloudstack/userdata/user_data.txt`, `cloudstack/metadata/*.txt`).
    CloudStack,
    /// A `cidata` ISO as IBM Cloud VPC attaches it (`user-data`, `meta-data`, MIME `vendor-data`).
    IbmCidata,
}

pub struct Case {
    pub name: &'static str,
    pub about: &'static str,
    pub platform: Platform,
    pub payload: Payload,
    pub net: Net,
    /// The platform's mock runs (on `Dhcp`/`LinkLocal`), with these knobs.
    pub mock: Option<fn(&mut mock::Options)>,
    /// A drive named with `--drive` (the user-data on it is the payload).
    pub drive: Option<DriveKind>,
    pub exit: i32,
    /// The report's `source`.
    pub source: Option<&'static str>,
    pub error_phase: Option<&'static str>,
    /// Ignition fetch-offline and cloud-init's NoCloud reader on the hand-offs.
    pub consumers: bool,
    pub budget: f64,
    pub extra: Option<fn(&Case, &Run) -> Vec<String>>,
    /// `Net::DhcpDnsTls*`: flint trusts a CA that did not sign the service's certificate.
    pub foreign_ca: bool,
}

impl Case {
    /// The platform's service behind dnsmasq (link-local for DigitalOcean, as cloud-init
    /// reaches it), an Ignition config, exit 0.
    pub fn service(name: &'static str, about: &'static str, platform: Platform) -> Case {
        Case {
            name,
            about,
            platform,
            payload: Payload::Ignition,
            net: match platform {
                Platform::DigitalOcean => Net::LinkLocal,
                Platform::Packet => Net::DhcpDnsTls,
                _ => Net::Dhcp,
            },
            mock: Some(|_| {}),
            drive: None,
            exit: 0,
            source: Some("service"),
            error_phase: None,
            consumers: false,
            budget: if platform == Platform::DigitalOcean { 15.0 } else { 10.0 },
            extra: None,
            foreign_ca: false,
        }
    }

    /// A config drive named with `--drive`, no NIC.
    pub fn drive(name: &'static str, about: &'static str, platform: Platform, kind: DriveKind) -> Case {
        Case {
            net: Net::NoNic,
            mock: None,
            drive: Some(kind),
            source: Some("drive"),
            budget: 5.0,
            ..Case::service(name, about, platform)
        }
    }

    pub fn none(self) -> Case {
        Case { payload: Payload::None, exit: 3, ..self }
    }

    pub fn by_drive(&self) -> bool {
        self.source == Some("drive")
    }
}

/// A drive's files: (path on the drive, bytes).
pub type Files = Vec<(String, Vec<u8>)>;

/// Everything observed in one run, for the checks.
pub struct Run {
    pub seen: Observed,
    /// What flint should have written as the user-data (decoded).
    pub decoded: Vec<u8>,
    /// The tokens the mock issued.
    pub tokens: Vec<String>,
    /// The drive's files, when there was one.
    pub drive_files: Files,
}

impl std::ops::Deref for Run {
    type Target = Observed;
    fn deref(&self) -> &Observed {
        &self.seen
    }
}

impl Run {
    pub fn entries(&self) -> &[LogEntry] {
        &self.log
    }
}
