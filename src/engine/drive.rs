//! A config drive in a run: scan the block devices for a filesystem with one of the drive's
//! labels, read the user-data and metadata files from it, and rescan at a bounded interval
//! while none is there (the CD driver may still be loading, udev may be slow).
//!
//! The block devices are the [`Drives`] seam: the binary scans `/sys/class/block` (or opens
//! `--drive PATH`) and probes each device's superblock (`sources::drive::blocks`); tests hand
//! in filesystems from memory.

use smoltcp::time::{Duration, Instant};

use crate::fmt::Bytes;
use crate::net::config::{self, ConfigError, Method, NetConfig as Plan};
use crate::net::linklocal::Ip;
use crate::platform::{Drive, NetworkDoc, NetworkFormat, Store};
use crate::sources::meta::Metadata;
use crate::sources::service::PATH_MAX;
use core::fmt::Write as _;

/// How often the block devices are scanned again while no drive is found. A scan reads one
/// superblock per device (a few KiB, cached after the first time).
pub const RESCAN: Duration = Duration::from_millis(250);
/// Most seed files handed over verbatim.
pub const SEED_FILES_MAX: usize = 4;

pub use crate::sources::drive::{DriveError, Drives, Filesystem};

/// Why the drive source ended without an answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DriveFailure {
    /// No block device carried the drive within the budget (or `--drive` did not).
    NotFound,
    /// The `qemu_fw_cfg` driver's sysfs directory never appeared within the budget.
    NoFwCfg,
    /// The drive was found but its user-data could not be read.
    Unreadable(DriveError),
}

impl core::fmt::Display for DriveFailure {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DriveFailure::NotFound => f.write_str("no config drive found"),
            DriveFailure::NoFwCfg => f.write_str("no fw_cfg directory in sysfs (qemu_fw_cfg not loaded?)"),
            DriveFailure::Unreadable(e) => write!(f, "config drive user-data: {e}"),
        }
    }
}

enum State {
    /// Scanning; the next scan is due then.
    Scan(Instant),
    /// Found: user-data of this length, or none.
    Done(Option<usize>),
    Failed(DriveFailure),
    /// Another source answered first.
    Cancelled,
}

/// The drive's files kept for the hand-off, back to back in one buffer.
pub struct SeedFiles<'a> {
    arena: &'a mut [u8],
    used: usize,
    files: heapless::Vec<(&'static str, usize, usize), SEED_FILES_MAX>,
}

impl<'a> SeedFiles<'a> {
    /// (path under the seed directory, contents), in the platform's order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static str, &[u8])> + use<'_, 'a> {
        self.files.iter().map(|&(name, start, end)| (name, &self.arena[start..end]))
    }
}

pub struct DriveRun<'a> {
    pub drive: &'static Drive,
    state: State,
    user_data: &'a mut [u8],
    /// One metadata file at a time.
    scratch: &'a mut [u8],
    pub seed: SeedFiles<'a>,
    pub meta: Metadata,
    /// The drive's network configuration, once read and until the engine takes it.
    pub network: Option<Plan>,
    /// Scans made so far.
    pub scans: u32,
    /// A scan found nothing: a fw_cfg directory seen later has only just appeared (see
    /// [`DriveRun::poll`]).
    late: bool,
}

impl<'a> DriveRun<'a> {
    pub fn new(
        drive: &'static Drive,
        now: Instant,
        user_data: &'a mut [u8],
        scratch: &'a mut [u8],
        seed_arena: &'a mut [u8],
    ) -> DriveRun<'a> {
        DriveRun {
            drive,
            state: State::Scan(now),
            user_data,
            scratch,
            seed: SeedFiles { arena: seed_arena, used: 0, files: heapless::Vec::new() },
            meta: Metadata::new(),
            network: None,
            scans: 0,
            late: false,
        }
    }

    /// `Some(true)` user-data found, `Some(false)` the drive has none.
    pub fn answer(&self) -> Option<bool> {
        match self.state {
            State::Done(len) => Some(len.is_some()),
            _ => None,
        }
    }

    pub fn failure(&self) -> Option<DriveFailure> {
        match self.state {
            State::Failed(f) => Some(f),
            _ => None,
        }
    }

    pub fn finished(&self) -> bool {
        !matches!(self.state, State::Scan(_))
    }

    /// The user-data read (empty unless found), the metadata and the seed files.
    pub fn parts(&mut self) -> (&mut [u8], &Metadata, &SeedFiles<'a>) {
        let n = match self.state {
            State::Done(Some(n)) => n,
            _ => 0,
        };
        (&mut self.user_data[..n], &self.meta, &self.seed)
    }

    pub fn cancel(&mut self) {
        if !self.finished() {
            self.state = State::Cancelled;
        }
    }

    /// The budget ran out while scanning.
    pub fn expire(&mut self) {
        if let State::Scan(_) = self.state {
            self.state = State::Failed(match self.drive.store {
                Store::BlockDevice => DriveFailure::NotFound,
                Store::FwCfg => DriveFailure::NoFwCfg,
            });
        }
    }

    /// Scans when a scan is due; returns when the next one is.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll(&mut self, now: Instant, drives: &mut dyn Drives, metadata: bool) -> Option<Instant> {
        let State::Scan(at) = self.state else { return None };
        if now < at {
            return Some(at);
        }
        self.scans += 1;
        let drive = self.drive;
        let mut found = None;
        drives.scan(drive.store, &mut |fs| {
            let label = fs.label();
            let by_label = drive.labels.iter().any(|l| l.as_bytes() == label);
            if drive.store == Store::BlockDevice && !by_label && drive.kind != Some(fs.kind()) {
                debug!("drive", "{}: label {} is not a config drive", Bytes(fs.device()), Bytes(label));
                return false;
            }
            match drive.store {
                Store::BlockDevice => info!("drive", "{} drive {} on {}", fs.kind(), Bytes(label), Bytes(fs.device())),
                Store::FwCfg => info!("drive", "fw_cfg items in {}", Bytes(fs.device())),
            }
            let read = self.read(fs, metadata);
            // Found by content: without its file, or unreadable, this filesystem is some other
            // one (a UDF data disk before Azure's CD), and the scan goes on.
            if drive.kind.is_some() && !matches!(read, Ok(Some(_))) {
                return false;
            }
            found = Some(read);
            true
        });
        self.state = match found {
            Some(Ok(None)) if drive.needs_user_data => {
                info!("drive", "not a seed without {}", drive.user_data);
                State::Failed(DriveFailure::NotFound)
            }
            // The `qemu_fw_cfg` driver creates its `by_name` directory before it registers the
            // items in it (`fw_cfg_sysfs_probe`): a directory that has just appeared may not
            // hold the item yet. Look once more before calling it "no user-data" (seen in the
            // QEMU boot that loads the driver late).
            Some(Ok(None)) if drive.store == Store::FwCfg && self.late => {
                self.late = false;
                State::Scan(now + RESCAN)
            }
            Some(Ok(len)) => State::Done(len),
            Some(Err(e)) => State::Failed(DriveFailure::Unreadable(e)),
            None if drives.explicit() && drive.store == Store::BlockDevice => {
                info!("drive", "--drive holds no drive labelled {}", drive.labels.first().copied().unwrap_or(""));
                State::Failed(DriveFailure::NotFound)
            }
            None => {
                self.late = true;
                State::Scan(now + RESCAN)
            }
        };
        match self.state {
            State::Scan(at) => Some(at),
            _ => None,
        }
    }

    /// Reads everything the run needs from the drive: the user-data (`None`: the drive has
    /// none, a definite answer), and with `metadata` the metadata documents and seed files.
    fn read(&mut self, fs: &mut dyn Filesystem, metadata: bool) -> Result<Option<usize>, DriveError> {
        let len = fs.read(self.drive.user_data.as_bytes(), self.user_data)?;
        match len {
            Some(n) => info!("drive", "user-data: {n} bytes"),
            None => info!("drive", "no {} on the drive", self.drive.user_data),
        }
        // The network configuration matters to the rest of the run whatever outputs there are.
        if let Some(doc) = &self.drive.network {
            match fs.read(doc.path.as_bytes(), self.scratch) {
                Ok(Some(n)) => match network(doc, &self.scratch[..n]) {
                    Ok(plan) => {
                        if let (Some(field), Some(s)) = (&doc.ipv4_attr, first_static(&plan)) {
                            // The report's text type: one heapless string size fewer in the binary.
                            let text = crate::report::text(format_args!("{}", Ip(s))).unwrap_or_default();
                            self.meta.put(field, text.as_bytes());
                        }
                        self.network = Some(plan);
                    }
                    Err(e) => warn!("drive", "{}: {e}; not used", doc.path),
                },
                Ok(None) => {}
                Err(e) => warn!("drive", "{}: {e}; not used", doc.path),
            }
        }
        if !metadata {
            return Ok(len);
        }
        // A `#cloud-config` user-data also names the hostname and keys (Proxmox puts them only
        // there); one that is not YAML flint reads is left out of the metadata, and said so.
        if let (Some(n), Some(doc)) = (len, &self.drive.cloud_config)
            && self.user_data[..n].starts_with(b"#cloud-config")
            && let Err(e) = self.meta.absorb(doc, false, &self.user_data[..n])
        {
            warn!("metadata", "cloud-config user-data: {e}; its hostname and keys left out");
        }
        // Metadata can never cost the user-data: a file that fails is left out and logged.
        for doc in self.drive.metadata {
            // A leaf table is one file per leaf; anything else is one file.
            let mut i = 0;
            loop {
                let leaf = doc.leaf(i);
                let mut path: heapless::String<PATH_MAX> = heapless::String::new();
                if write!(path, "{}{}", doc.path, leaf.map_or("", |l| l.0)).is_err() {
                    break;
                }
                match fs.read(path.as_bytes(), self.scratch) {
                    Ok(Some(n)) => match leaf {
                        Some((_, field)) => self.meta.put(field, &self.scratch[..n]),
                        None => {
                            if let Err(e) = self.meta.absorb(doc, false, &self.scratch[..n]) {
                                warn!("metadata", "{path}: {e}; skipped");
                            }
                        }
                    },
                    Ok(None) => {}
                    Err(e) => warn!("metadata", "{path}: {e}; skipped"),
                }
                i += 1;
                if doc.leaf(i).is_none() {
                    break;
                }
            }
        }
        for &(path, name) in self.drive.seed_files {
            let seed = &mut self.seed;
            match fs.read(path.as_bytes(), &mut seed.arena[seed.used..]) {
                Ok(Some(n)) => {
                    if seed.files.push((name, seed.used, seed.used + n)).is_ok() {
                        seed.used += n;
                    }
                }
                Ok(None) => {}
                Err(e) => warn!("metadata", "{path}: {e}; not handed over"),
            }
        }
        Ok(len)
    }
}

/// A drive's network configuration file, read as its format says.
fn network(doc: &NetworkDoc, bytes: &[u8]) -> Result<Plan, ConfigError> {
    match doc.format {
        NetworkFormat::CloudInit => config::from_network_config(&mut |on| crate::decode::yaml::scan(bytes, on).is_ok()),
        NetworkFormat::OpenStack => config::from_network_data(bytes),
    }
}

/// The static IPv4 address of a configuration's first interface, in document order (Afterburn's
/// `IPV4` attributes: `proxmoxve/cloudconfig.rs` takes the first `physical` entry's addresses;
/// flint keeps one address per interface, Afterburn the last of several).
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn first_static(plan: &Plan) -> Option<[u8; 4]> {
    match plan.ifaces.first()?.method {
        Method::Static(s) => Some(s.address),
        Method::Dhcp => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    fn ipv4_attr(doc: &str) -> Option<[u8; 4]> {
        let net = NetworkDoc { path: "network-config", format: NetworkFormat::CloudInit, ipv4_attr: None };
        first_static(&network(&net, doc.as_bytes()).unwrap())
    }

    #[test]
    fn the_ipv4_attribute_is_the_first_interfaces_as_afterburn_reads_it() {
        let entry = |name: &str, subnet: &str| {
            std::format!("  - type: physical\n    name: {name}\n    subnets:\n      - type: {subnet}\n")
        };
        let st = "static\n        address: 10.0.0.5\n        netmask: 255.255.255.0";
        let doc = |a: &str, b: &str| std::format!("version: 1\nconfig:\n{}{}", entry("eth0", a), entry("eth1", b));
        assert_eq!(ipv4_attr(&doc(st, "dhcp")), Some([10, 0, 0, 5]));
        // Afterburn: no IPV4 when the first interface is DHCP, whatever the next one has.
        assert_eq!(ipv4_attr(&doc("dhcp", st)), None);
    }
}
