//! Scaleway instance metadata service.
//!
//! Facts relied on (platforms.md §10; Scaleway "Instance user data" API docs; Ignition's
//! `internal/providers/scaleway`, Afterburn's `src/providers/scaleway`, cloud-init's
//! `DataSourceScaleway.py`):
//! - 169.254.42.42, and `fd00:42::42` on IPv6 (cloud-init asks it after IPv4); no token;
//! - user-data is a key/value store: `/user_data/cloud-init` is the payload, 404 when unset;
//!   it is served only to TCP **source ports below 1024**, as proof that the caller is root
//!   (Ignition binds a random local port in 1..1022; cloud-init walks 1, 2, 3, …);
//! - `/conf?format=json`: `id`, `hostname`, `commercial_type`, `location.zone_id`,
//!   `private_ip`, `public_ip.address`, `ipv6.address`, `ssh_public_keys[].key`. Afterburn's
//!   code writes `SCALEWAY_IPV4_PRIVATE`, `SCALEWAY_IPV4_PUBLIC`, `SCALEWAY_IPV6_PUBLIC` (its
//!   attribute list in docs/usage/attributes.md spells them `PRIVATE_IPV4` etc.; what the code
//!   writes is what consumers see).

use super::{
    Address, Connect, Document, Endpoint, Field, Host, Platform, Resource, Role, Service, Source, Take, UserData,
};
use crate::decode::Encoding;

/// `fd00:42::42`.
const FD00_42_42: [u8; 16] = [0xfd, 0, 0, 0x42, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x42];

pub const PLATFORM: Platform = Platform { id: "scaleway", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[
        Endpoint { address: Address::V4([169, 254, 42, 42]), port: 80, host: Host::Address },
        Endpoint { address: Address::V6(FD00_42_42), port: 80, host: Host::Address },
    ],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/user_data/cloud-init", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[Document::json(
        "/conf?format=json",
        &[
            ("id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
            ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
            ("commercial_type", Field::attr("INSTANCE_TYPE")),
            ("location.zone_id", Field::attr("ZONE_ID")),
            ("private_ip", Field::attr("IPV4_PRIVATE")),
            ("public_ip.address", Field::attr("IPV4_PUBLIC")),
            ("ipv6.address", Field::attr("IPV6_PUBLIC")),
            ("ssh_public_keys.key", Field::role(Role::SshKey, None)),
        ],
    )],
    meta_fields: &[],
    connect: Connect { privileged_port: true, link_local_first: false },
};
