//! cloud-init's NoCloud: a `cidata` seed drive, or a network seed named on the kernel command
//! line or in the SMBIOS serial number (`ds=nocloud;s=URL`).
//!
//! Facts relied on (cloud-init `cloudinit/sources/DataSourceNoCloud.py`, `tools/ds-identify`,
//! `doc/rtd/reference/datasources/nocloud.rst`; platforms.md §17):
//! - the drive is ISO 9660 or VFAT labelled `cidata` or `CIDATA` (cloud-init matches exactly
//!   those two); `user-data` and `meta-data` at its root are required, `vendor-data` and
//!   `network-config` optional. `cloud-localds` builds it with `genisoimage -volid cidata
//!   -joliet -rock` or `mkfs.vfat -n cidata` + `mcopy`;
//! - `meta-data` is YAML (JSON is YAML too): `instance-id`, `local-hostname`, `public-keys` as a
//!   list, a string or a map of names to keys;
//! - `network-config` is cloud-init's network configuration, version 1 or 2: flint reads it for
//!   static addressing of whatever else the run fetches;
//! - a network seed fetches `URL/user-data` and `URL/meta-data` (a missing `/` is added before
//!   the file name, `%s` in the URL is replaced by it);
//! - everything on the drive is handed to cloud-init verbatim, byte for byte, as the seed.

use super::{
    Address, Connect, Document, Drive, Endpoint, Field, Host, NetworkDoc, NetworkFormat, Platform, Resource, Role,
    Service, Source, Store, Take, UserData,
};
use crate::decode::Encoding;

/// The drive and the network seed race; a run without a seed has only the drive.
pub const PLATFORM: Platform = Platform { id: "nocloud", sources: &[Source::Drive(&CIDATA), Source::Service(&SEED)] };

/// `URL/user-data`, then `URL/meta-data` (what `read_seeded` fetches; cloud-init also asks for
/// `vendor-data` and `network-config`, which flint does not use).
const SEED: Service = Service {
    endpoints: &[Endpoint { address: Address::Seed, port: 0, host: Host::Seed }],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "user-data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[Document::yaml("meta-data", META_DATA)],
    meta_fields: &[],
    connect: Connect::PLAIN,
};

pub(super) const KEY: Field = Field::role(Role::SshKey, None);
pub(super) const LOCAL_HOSTNAME: Field = Field::role(Role::Hostname, None);
const INSTANCE_ID: Field = Field::role(Role::InstanceId, None);

/// The `meta-data` values flint uses (every platform that writes a NoCloud drive).
pub(super) const META_DATA: &[(&str, Field)] =
    &[("instance-id", INSTANCE_ID), ("local-hostname", LOCAL_HOSTNAME), ("public-keys", KEY), ("public-keys.*", KEY)];
/// The hostname and keys of a `#cloud-config` user-data.
pub(super) const CLOUD_CONFIG: &[(&str, Field)] = &[
    ("hostname", LOCAL_HOSTNAME),
    ("fqdn", LOCAL_HOSTNAME),
    ("ssh_authorized_keys", KEY),
    ("users.ssh_authorized_keys", KEY),
];
/// What a NoCloud seed directory holds besides `user-data`, copied from the drive.
pub(super) const SEED_FILES: &[(&str, &str)] =
    &[("meta-data", "meta-data"), ("network-config", "network-config"), ("vendor-data", "vendor-data")];

pub const CIDATA: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["cidata", "CIDATA"],
    user_data: "user-data",
    encoding: Encoding::Raw,
    cloud_config: Some(&Document::yaml("user-data", CLOUD_CONFIG)),
    metadata: &[Document::yaml("meta-data", META_DATA)],
    seed_files: SEED_FILES,
    seed_user_data: Some("user-data"),
    needs_user_data: true,
    kind: None,
    fallback: false,
    network: Some(&NetworkDoc { path: "network-config", format: NetworkFormat::CloudInit, ipv4_attr: None }),
};
