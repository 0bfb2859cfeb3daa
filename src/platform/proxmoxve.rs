//! Proxmox VE: the `cidata` drive Proxmox attaches to a VM with a cloud-init drive.
//!
//! Facts relied on (Proxmox `qemu-server` `src/PVE/QemuServer/Cloudinit.pm`; Afterburn's
//! `src/providers/proxmoxve/`; Ignition's `internal/providers/proxmoxve/`):
//! - Proxmox builds the drive with `genisoimage -quiet -iso-level 3 -J -R -V cidata`, a 4 MiB
//!   volume attached as a CD-ROM (`ide2` in its documentation); it holds `user-data`,
//!   `meta-data`, `network-config` and `vendor-data`;
//! - `meta-data` is only `instance-id: <sha1>`; the hostname and the SSH keys are only in the
//!   `#cloud-config` user-data Proxmox generates (`hostname`, `fqdn`, top-level
//!   `ssh_authorized_keys`), so that user-data is read for them even though it is not an
//!   Ignition config (Ignition skips a `#cloud-config` user-data on this platform);
//! - `network-config` is version 1: one `physical` entry per NIC with a MAC and its `static` or
//!   `dhcp` subnets, and a `nameserver` entry; in many Proxmox setups there is no DHCP server,
//!   so this is how flint gets an address when the run needs the network;
//! - Afterburn's attributes: `HOSTNAME` from the cloud-config `hostname`, `INSTANCE_ID` from
//!   `meta-data`, `IPV4` and `IPV6` from the static address of the network config's first
//!   `physical` entry (none when that entry is DHCP)
//!   (flint's stack is IPv4-only until issue #11: no `IPV6` yet).

use super::nocloud::{KEY, LOCAL_HOSTNAME, SEED_FILES};
use super::{Document, Drive, Field, NetworkDoc, NetworkFormat, Platform, Role, Source, Store};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "proxmoxve", sources: &[Source::Drive(&DRIVE)] };

const DRIVE: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["cidata", "CIDATA"],
    user_data: "user-data",
    encoding: Encoding::Raw,
    cloud_config: Some(&Document::yaml(
        "user-data",
        &[
            ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
            ("fqdn", LOCAL_HOSTNAME),
            ("ssh_authorized_keys", KEY),
            ("users.ssh_authorized_keys", KEY),
        ],
    )),
    metadata: &[Document::yaml(
        "meta-data",
        &[
            ("instance-id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
            ("local-hostname", LOCAL_HOSTNAME),
            ("public-keys", KEY),
            ("public-keys.*", KEY),
        ],
    )],
    seed_files: SEED_FILES,
    seed_user_data: Some("user-data"),
    needs_user_data: false,
    kind: None,
    fallback: false,
    network: Some(&NetworkDoc {
        path: "network-config",
        format: NetworkFormat::CloudInit,
        ipv4_attr: Some(Field::attr("IPV4")),
    }),
};
