//! KubeVirt: a `cidata` drive (`cloudInitNoCloud`) or a `config-2` drive
//! (`cloudInitConfigDrive`), whichever the VM has.
//!
//! Facts relied on (KubeVirt `pkg/cloud-init/cloud-init.go`; Ignition's
//! `internal/providers/kubevirt/`; Afterburn's `src/providers/kubevirt/`):
//! - both drives are ISO 9660 made by `xorrisofs -volid <cidata|config-2> -joliet -rock`,
//!   attached on the bus the VM names (SATA by default on x86-64, often virtio);
//! - the NoCloud drive holds `user-data`, `meta-data` (compact JSON: `instance-id`,
//!   `local-hostname`, `instance-type`, `public-keys`) and, when given, `network-config`; the
//!   config drive holds `openstack/latest/{user_data,meta_data.json,network_data.json}` with
//!   `uuid`, `instance_id` (`<name>.<namespace>`), `hostname` and `public_keys`;
//! - Ignition races the two labels and takes the first drive found, one without a user-data
//!   file included (an empty config);
//! - Afterburn's attributes: `INSTANCE_ID` (`instance-id`, else `uuid`), `HOSTNAME`
//!   (`hostname`, else `local-hostname`), `INSTANCE_TYPE`, `IPV4`/`IPV6` from the first
//!   interface with addresses in the network configuration.

use super::nocloud::{KEY, SEED_FILES};
use super::{Document, Drive, Field, NetworkDoc, NetworkFormat, Platform, Role, Source, Store};
use crate::decode::Encoding;

pub const PLATFORM: Platform =
    Platform { id: "kubevirt", sources: &[Source::Drive(&NOCLOUD), Source::Drive(&CONFIG_DRIVE)] };

const INSTANCE_ID: Field = Field::role(Role::InstanceId, Some("INSTANCE_ID"));
const HOSTNAME: Field = Field::role(Role::Hostname, Some("HOSTNAME"));
const INSTANCE_TYPE: Field = Field::attr("INSTANCE_TYPE");
const IPV4: Option<Field> = Some(Field::attr("IPV4"));

const NOCLOUD: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["cidata", "CIDATA"],
    user_data: "user-data",
    encoding: Encoding::Raw,
    cloud_config: None,
    metadata: &[Document::yaml(
        "meta-data",
        &[
            ("instance-id", INSTANCE_ID),
            ("local-hostname", HOSTNAME),
            ("instance-type", INSTANCE_TYPE),
            ("public-keys", KEY),
            ("public-keys.*", KEY),
        ],
    )],
    seed_files: SEED_FILES,
    seed_user_data: Some("user-data"),
    needs_user_data: false,
    kind: None,
    fallback: false,
    network: Some(&NetworkDoc { path: "network-config", format: NetworkFormat::CloudInit, ipv4_attr: IPV4 }),
};

const CONFIG_DRIVE: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["config-2", "CONFIG-2"],
    user_data: "openstack/latest/user_data",
    encoding: Encoding::Raw,
    cloud_config: None,
    metadata: &[Document::json(
        "openstack/latest/meta_data.json",
        &[("uuid", INSTANCE_ID), ("hostname", HOSTNAME), ("instance_type", INSTANCE_TYPE), ("public_keys.*", KEY)],
    )],
    seed_files: &[
        ("openstack/latest/meta_data.json", "openstack/latest/meta_data.json"),
        ("openstack/latest/network_data.json", "openstack/latest/network_data.json"),
    ],
    seed_user_data: Some("openstack/latest/user_data"),
    needs_user_data: false,
    kind: None,
    fallback: false,
    network: Some(&NetworkDoc {
        path: "openstack/latest/network_data.json",
        format: NetworkFormat::OpenStack,
        ipv4_attr: IPV4,
    }),
};
