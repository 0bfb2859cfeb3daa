//! Vultr metadata service.
//!
//! Facts relied on (platforms.md §8; Ignition's `internal/providers/vultr`, Afterburn's
//! `src/providers/vultr`, cloud-init's `DataSourceVultr.py`):
//! - 169.254.169.254, no token; cloud-init's `Metadata-Token: cloudinit` is a label, and
//!   neither Ignition nor Afterburn sends it;
//! - Ignition reads `/user-data/user-data` and treats 404 as none;
//! - Afterburn reads text leaves: `/v1/hostname`, `/v1/instanceid`, `/v1/region/regioncode`,
//!   and `/v1/public-keys`, one key per line.
//! - Afterburn leaves an attribute out when its leaf is empty (`fetch_attribute`), so flint
//!   does too (`Field::nonempty`).
//! - IPv6: the service has no documented IPv6 address.

use super::{Connect, Document, Field, Platform, Resource, Role, Service, Source, Take, UserData, V4_METADATA};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "vultr", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/user-data/user-data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::leaves(
            "/v1/",
            &[
                ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
                ("instanceid", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("region/regioncode", Field::attr("REGION_CODE").nonempty()),
            ],
        ),
        Document::lines("/v1/public-keys", Field::role(Role::SshKey, None)),
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
