//! Hetzner Cloud metadata service.
//!
//! Facts relied on (platforms.md §7; Ignition's `internal/providers/hetzner`, Afterburn's
//! `src/providers/hetzner` and its fixtures `tests/fixtures/hetzner/*.yaml`, cloud-init's
//! `DataSourceHetzner.py` and `helpers/hetzner.py`):
//! - 169.254.169.254, no token, no special header. Afterburn's provider notes that the
//!   service has no IPv6 address (cloud-init's `fe80::a9fe:a9fe` attempt never answers), so
//!   flint asks IPv4 only;
//! - `/hetzner/v1/userdata` is the user-data as uploaded; Ignition treats 404 as none,
//!   cloud-init treats 204 as none; an empty 200 is none too;
//! - `/hetzner/v1/metadata` is one YAML mapping: `hostname`, `instance-id`, `public-ipv4`,
//!   `availability-zone`, `region`, `public-keys` (list), `network-config` (cloud-init v1);
//!   `/hetzner/v1/metadata/private-networks` is a YAML list of `{ip: …}` (Afterburn:
//!   `HETZNER_PRIVATE_IPV4_<i>`).
//! - Afterburn's `HETZNER_PUBLIC_IPV6` is the address of the first `ipv6: true` subnet of the
//!   nested `network-config` (cloud-init v1), without its prefix, as Rust prints an address
//!   (RFC 5952). flint takes the first subnet `address` that is an IPv6 address: the same one
//!   wherever the `ipv6` flag is true exactly for the IPv6 subnets, as in Hetzner's documents
//!   and Afterburn's fixture.

use super::{Connect, Document, Field, List, Platform, Resource, Role, Service, Source, Take, UserData, V4_METADATA};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "hetzner", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/hetzner/v1/userdata", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::yaml(
            "/hetzner/v1/metadata",
            &[
                ("availability-zone", Field::attr("AVAILABILITY_ZONE")),
                ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
                ("instance-id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("public-ipv4", Field::attr("PUBLIC_IPV4")),
                ("region", Field::attr("REGION")),
                ("public-keys", Field::role(Role::SshKey, None)),
                (
                    "network-config.config.subnets.address",
                    Field { attr: Some("PUBLIC_IPV6"), role: Role::None, list: List::FirstV6, omit_empty: true },
                ),
            ],
        ),
        Document::yaml("/hetzner/v1/metadata/private-networks", &[("ip", Field::attr("PRIVATE_IPV4"))]),
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
