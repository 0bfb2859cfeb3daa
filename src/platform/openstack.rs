//! OpenStack: a `config-2` config drive or the Nova metadata service, whichever answers first.
//!
//! Facts relied on (Nova `nova/virt/configdrive.py`, `nova/api/metadata/base.py`; Ignition's
//! `internal/providers/openstack/openstack.go`; Afterburn's `src/providers/openstack/`):
//! - Nova builds the drive with `genisoimage … -ldots -allow-lowercase -allow-multidot -l -J -r
//!   -V config-2`, or as a 64 MiB VFAT image made with `mkfs -t vfat -n config-2`; older
//!   dosfstools stored the label as `CONFIG-2`, so both are accepted (Ignition and cloud-init
//!   accept both too);
//! - on the drive, `openstack/latest/user_data` exists only when the instance has user-data:
//!   Ignition treats a drive without it as an empty config that wins the race, so flint
//!   answers "no user-data" (exit 3); `openstack/latest/meta_data.json` always exists with
//!   `uuid`, `hostname` and, with a keypair, `public_keys` (name → OpenSSH key);
//!   `ec2/latest/meta-data.json` holds the EC2-style leaves (`instance-id`, `instance-type`,
//!   `local-ipv4`, `public-ipv4`, `""` without a floating IP);
//! - the service answers on 169.254.169.254 without a token or special headers, and on
//!   IPv6-only networks on the link-local `fe80::a9fe:a9fe` of the NIC asked (Neutron's
//!   metadata agent for IPv6, "Metadata service" admin guide; cloud-init asks
//!   `fe80::a9fe:a9fe%<nic>`); the two are raced (RFC 8305), IPv6 first;
//!   `/openstack/latest/user_data` is 404 without user-data, and so is the EC2-compatible
//!   `/latest/user-data`; `/latest/meta-data/public-keys` lists `0=name` only when there is a
//!   key (else 404), key N at `public-keys/N/openssh-key`; `hostname` is the name plus
//!   `.novalocal` (Nova's `dhcp_domain` default);
//! - Ignition races the drive (both labels) against the service with no overall timeout and
//!   takes the first answer, a drive without user-data or a 404 included;
//! - Afterburn's attributes, drive / service: `HOSTNAME` from `meta_data.json` `hostname` /
//!   EC2 `meta-data/hostname`; `INSTANCE_UUID` from `meta_data.json` `uuid` (both);
//!   `INSTANCE_ID`, `INSTANCE_TYPE`, `IPV4_LOCAL`, `IPV4_PUBLIC` from `ec2/latest/meta-data.json`
//!   / EC2 `meta-data/…`; an empty value is written empty, a missing one left out. SSH keys come
//!   from `public_keys` on the drive and from the EC2 key index on the service.
//! - cloud-init's ConfigDrive reader takes a directory with `openstack/latest/meta_data.json`
//!   (`uuid` required), `user_data`, `vendor_data.json`, `network_data.json`: the drive's files
//!   are handed over verbatim with a seed.

use super::{
    Address, Body, Connect, Document, Drive, Endpoint, Field, Host, Platform, Resource, Role, Service, Source, Store,
    Take, UserData, V4_METADATA,
};
use crate::decode::Encoding;

/// `fe80::a9fe:a9fe` (169.254.169.254 in the low 32 bits).
const FE80_A9FE_A9FE: [u8; 16] = [0xfe, 0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xa9, 0xfe, 0xa9, 0xfe];

pub const PLATFORM: Platform =
    Platform { id: "openstack", sources: &[Source::Drive(&DRIVE), Source::Service(&SERVICE)] };

const UUID: Field = Field::role(Role::InstanceId, Some("INSTANCE_UUID"));
const HOSTNAME: Field = Field::role(Role::Hostname, Some("HOSTNAME"));
const KEY: Field = Field::role(Role::SshKey, None);

const DRIVE: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["config-2", "CONFIG-2"],
    user_data: "openstack/latest/user_data",
    encoding: Encoding::Raw,
    cloud_config: None,
    metadata: &[
        Document::json(
            "openstack/latest/meta_data.json",
            &[("uuid", UUID), ("hostname", HOSTNAME), ("public_keys.*", KEY)],
        ),
        Document::json(
            "ec2/latest/meta-data.json",
            &[
                ("instance-id", Field::attr("INSTANCE_ID")),
                ("instance-type", Field::attr("INSTANCE_TYPE")),
                ("local-ipv4", Field::attr("IPV4_LOCAL")),
                ("public-ipv4", Field::attr("IPV4_PUBLIC")),
            ],
        ),
    ],
    seed_files: &[
        ("openstack/latest/meta_data.json", "openstack/latest/meta_data.json"),
        ("openstack/latest/network_data.json", "openstack/latest/network_data.json"),
        ("openstack/latest/vendor_data.json", "openstack/latest/vendor_data.json"),
    ],
    seed_user_data: Some("openstack/latest/user_data"),
    needs_user_data: false,
    kind: None,
    fallback: false,
    network: None,
};

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA, Endpoint { address: Address::V6(FE80_A9FE_A9FE), port: 80, host: Host::Address }],
    token: None,
    user_data: UserData {
        // Where a cloud serves only the EC2-compatible tree, its user-data is there.
        resources: &[
            Resource { path: "/openstack/latest/user_data", fields: &[] },
            Resource { path: "/latest/user-data", fields: &[] },
        ],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::json("/openstack/latest/meta_data.json", &[("uuid", UUID), ("public_keys.*", KEY)]),
        Document::leaves(
            "/latest/meta-data/",
            &[
                ("hostname", HOSTNAME),
                ("instance-id", Field::attr("INSTANCE_ID")),
                ("instance-type", Field::attr("INSTANCE_TYPE")),
                ("local-ipv4", Field::attr("IPV4_LOCAL")),
                ("public-ipv4", Field::attr("IPV4_PUBLIC")),
            ],
        ),
        // Afterburn's source of keys on the service; the OpenStack document's keys come first.
        Document { path: "/latest/meta-data/public-keys/", body: Body::KeyIndex, unless: Role::SshKey },
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
