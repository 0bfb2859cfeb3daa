//! Amazon EC2 instance metadata service (IMDSv2).
//!
//! Facts relied on (AWS user guide, "How IMDSv2 works" and "Retrieve user data"):
//! - the token comes from `PUT /latest/api/token` (only the `latest` path; a dated path is 403)
//!   with a TTL of 1..=21600 s; Ignition, Afterburn and cloud-init all ask for 21600;
//! - every GET carries `X-aws-ec2-metadata-token`; a missing, unknown or expired one is 401;
//! - user-data is returned exactly as uploaded (possibly gzip), 404 when there is none;
//! - metadata leaves are text under `/latest/meta-data/`, 404 when the instance lacks them
//!   (`public-ipv4` on a private instance); `public-keys/` lists `N=name` lines and key N is at
//!   `public-keys/N/openssh-key`; the region is only in the JSON identity document;
//! - a 404 from the token endpoint means IMDSv2 is unavailable; like Ignition, fall back to
//!   IMDSv1 (no token). A 403 there means IMDS is off or the request was refused: no fallback;
//! - IMDS also answers on `[fd00:ec2::254]` on Nitro instances whose IPv6 endpoint is enabled
//!   (`HttpProtocolIpv6`), reached from the instance's own IPv6 address (SLAAC or DHCPv6 on the
//!   subnet; AWS user guide, "Instance metadata service endpoints"). The two are raced (RFC
//!   8305), IPv6 first.

use super::{
    Address, Body, Connect, Document, Endpoint, Field, Host, Platform, Resource, Role, Service, Source, Take,
    TokenStep, UserData, V4_METADATA,
};
use crate::decode::Encoding;

/// `fd00:ec2::254`.
const FD00_EC2_254: [u8; 16] = [0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x02, 0x54];

pub const PLATFORM: Platform = Platform { id: "aws", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA, Endpoint { address: Address::V6(FD00_EC2_254), port: 80, host: Host::Address }],
    token: Some(&TokenStep {
        method: "PUT",
        path: "/latest/api/token",
        fields: &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        body: "",
        take: Take::Body,
        header: "X-aws-ec2-metadata-token",
        prefix: "",
        tokenless_on_404: true,
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
                ("instance-id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("instance-type", Field::attr("INSTANCE_TYPE")),
                ("local-ipv4", Field::attr("IPV4_LOCAL")),
                ("public-ipv4", Field::attr("IPV4_PUBLIC")),
                ("placement/availability-zone", Field::attr("AVAILABILITY_ZONE")),
                ("hostname", Field::attr("HOSTNAME")),
                ("public-hostname", Field::attr("PUBLIC_HOSTNAME")),
                // The short name the instance knows itself by (cloud-init's choice for EC2).
                ("local-hostname", Field::role(Role::Hostname, None)),
            ],
        ),
        Document::json("/latest/dynamic/instance-identity/document", &[("region", Field::attr("REGION"))]),
        Document { path: "/latest/meta-data/public-keys/", body: Body::KeyIndex, unless: Role::None },
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
