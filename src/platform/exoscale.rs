//! Exoscale metadata service (CloudStack-based).
//!
//! Facts relied on (platforms.md §9; Ignition's `internal/providers/exoscale`, Afterburn's
//! `src/providers/exoscale`, cloud-init's `DataSourceExoscale.py`; fedora-coreos-tracker
//! #1160, ignition PR #1345, exoscale/cli #330 and #451):
//! - 169.254.169.254 under `/1.0/`, no token;
//! - `/1.0/user-data` is the user-data exactly as uploaded: an instance without any answers
//!   200 with an empty body; Exoscale's CLI and Terraform provider gzipped by default, which
//!   Ignition cannot read — flint detects gzip on every platform;
//! - `/1.0/meta-data/<key>` text leaves; Afterburn's attributes come from `instance-id`,
//!   `local-hostname`, `public-hostname`, `availability-zone`, `public-ipv4`, `local-ipv4`,
//!   `service-offering`, `cloud-identifier`, `vm-id`; `public-keys` holds the keys, one per
//!   line.
//! - IPv6: the service has no documented IPv6 address.

use super::{Connect, Document, Field, Platform, Resource, Role, Service, Source, Take, UserData, V4_METADATA};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "exoscale", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/1.0/user-data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::leaves(
            "/1.0/meta-data/",
            &[
                ("instance-id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("local-hostname", Field::role(Role::Hostname, Some("LOCAL_HOSTNAME"))),
                ("public-hostname", Field::attr("PUBLIC_HOSTNAME")),
                ("availability-zone", Field::attr("AVAILABILITY_ZONE")),
                ("public-ipv4", Field::attr("PUBLIC_IPV4")),
                ("local-ipv4", Field::attr("LOCAL_IPV4")),
                ("service-offering", Field::attr("SERVICE_OFFERING")),
                ("cloud-identifier", Field::attr("CLOUD_IDENTIFIER")),
                ("vm-id", Field::attr("VM_ID")),
            ],
        ),
        Document::lines("/1.0/meta-data/public-keys", Field::role(Role::SshKey, None)),
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
