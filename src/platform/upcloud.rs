//! UpCloud metadata service.
//!
//! Facts relied on (platforms.md §11; Ignition's `internal/providers/upcloud` and its
//! supported-platforms doc, Afterburn's `src/providers/upcloud`, cloud-init's
//! `DataSourceUpCloud.py`):
//! - 169.254.169.254 under `/metadata/v1/`, no token; the service must be enabled on the
//!   server (a server without it never answers: flint's budget bounds the wait);
//! - `/metadata/v1/user_data` is the user-data as uploaded, 404 when there is none;
//! - Afterburn's text leaves: `hostname`, `instance_id`, `region`, and `public_keys`, one key
//!   per line.
//! - Afterburn leaves an attribute out when its leaf is empty (`fetch_attribute`), so flint
//!   does too (`Field::nonempty`).
//! - IPv6: the service has no documented IPv6 address.

use super::{Connect, Document, Field, Platform, Resource, Role, Service, Source, Take, UserData, V4_METADATA};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "upcloud", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/metadata/v1/user_data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::leaves(
            "/metadata/v1/",
            &[
                ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
                ("instance_id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("region", Field::attr("REGION").nonempty()),
            ],
        ),
        Document::lines("/metadata/v1/public_keys", Field::role(Role::SshKey, None)),
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
