//! Alibaba Cloud ECS instance metadata service.
//!
//! Facts relied on (platforms.md §13; Alibaba Cloud "Instance metadata" user guide; Ignition's
//! `internal/providers/aliyun`, Afterburn's `src/providers/aliyun`, cloud-init's
//! `DataSourceAliYun.py` and `helpers/aliyun.py`):
//! - the service is at 100.100.100.200, not 169.254.169.254;
//! - in security-hardening mode a token is required: `PUT /latest/api/token` with
//!   `X-aliyun-ecs-metadata-token-ttl-seconds` (1..21600; cloud-init asks 21600), then
//!   `X-aliyun-ecs-metadata-token` on every GET. Ignition and Afterburn never ask for one, so
//!   they fail on hardened instances; flint asks first and, like its IMDSv2 flow, goes on
//!   without a token when the PUT is 404;
//! - `/latest/user-data` is the user-data as uploaded, 404 when there is none;
//! - text leaves under `/latest/meta-data/`; `public-keys/` lists `N/` lines, key N at
//!   `public-keys/N/openssh-key`. Afterburn's attributes: `EIPV4`, `HOSTNAME`, `IMAGE_ID`,
//!   `INSTANCE_ID`, `INSTANCE_TYPE` (`instance/instance-type`), `IPV4_PRIVATE`, `IPV4_PUBLIC`,
//!   `REGION_ID`, `VPC_ID`, `ZONE_ID`.
//! - Afterburn leaves an attribute out when its leaf is empty (`fetch_attribute`), so flint
//!   does too (`Field::nonempty`).
//! - IPv6: no documented IPv6 address for the service.

use super::{
    Address, Body, Connect, Document, Endpoint, Field, Host, Platform, Resource, Role, Service, Source, Take,
    TokenStep, UserData,
};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "aliyun", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[Endpoint { address: Address::V4([100, 100, 100, 200]), port: 80, host: Host::Address }],
    token: Some(&TokenStep {
        method: "PUT",
        path: "/latest/api/token",
        fields: &[("X-aliyun-ecs-metadata-token-ttl-seconds", "21600")],
        body: "",
        take: Take::Body,
        header: "X-aliyun-ecs-metadata-token",
        prefix: "",
        tokenless_on_404: true,
        // The status for an expired token is not documented; 401 is what the hardened mode's
        // docs show for a missing one.
        refresh_on: &[401],
    }),
    user_data: UserData {
        resources: &[Resource { path: "/latest/user-data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::leaves(
            "/latest/meta-data/",
            &[
                ("eipv4", Field::attr("EIPV4").nonempty()),
                ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
                ("image-id", Field::attr("IMAGE_ID").nonempty()),
                ("instance-id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("instance/instance-type", Field::attr("INSTANCE_TYPE").nonempty()),
                ("private-ipv4", Field::attr("IPV4_PRIVATE").nonempty()),
                ("public-ipv4", Field::attr("IPV4_PUBLIC").nonempty()),
                ("region-id", Field::attr("REGION_ID").nonempty()),
                ("vpc-id", Field::attr("VPC_ID").nonempty()),
                ("zone-id", Field::attr("ZONE_ID").nonempty()),
            ],
        ),
        Document { path: "/latest/meta-data/public-keys/", body: Body::KeyIndex, unless: Role::None },
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
