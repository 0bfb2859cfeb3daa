//! Akamai Connected Cloud (Linode) metadata service.
//!
//! Facts relied on (Linode "Metadata service API" docs; Ignition's and Afterburn's akamai
//! providers):
//! - the token comes from `PUT /v1/token` with `Metadata-Token-Expiry-Seconds` (300 as Ignition
//!   and Afterburn ask); with `Accept: text/plain` the body is the bare token;
//! - every GET carries `Metadata-Token`;
//! - `/v1/user-data` only serves `text/plain` (Ignition's default config `Accept` is refused) and
//!   returns the user-data base64-encoded; nothing at all when the instance has none;
//! - `/v1/instance`, `/v1/network` and `/v1/ssh-keys` answer JSON with `Accept: application/json`
//!   (Afterburn's attribute names below follow its akamai provider: tags joined with `:`,
//!   address lists numbered from 0); `/v1/ssh-keys` maps user names to key lists, and every
//!   key goes to the one SSH user, as Afterburn does;
//! - the status for a stale token is not documented: treat 401 and 403 as "get a new token";
//! - the service also answers on `[fd00:a9fe:a9fe::1]` (Linode "Metadata service API": the
//!   IPv6 address of the metadata service; cloud-init's Akamai datasource tries it first, over
//!   the SLAAC address). The two are raced (RFC 8305), IPv6 first.

use super::{
    Address, Connect, Document, Endpoint, Field, Host, List, Platform, Resource, Role, Service, Source, Take,
    TokenStep, UserData, V4_METADATA,
};
use crate::decode::Encoding;

/// `fd00:a9fe:a9fe::1`.
const FD00_A9FE_A9FE_1: [u8; 16] = [0xfd, 0, 0xa9, 0xfe, 0xa9, 0xfe, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];

pub const PLATFORM: Platform = Platform { id: "akamai", sources: &[Source::Service(&SERVICE)] };

const JSON: &[(&str, &str)] = &[("Accept", "application/json")];

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA, Endpoint { address: Address::V6(FD00_A9FE_A9FE_1), port: 80, host: Host::Address }],
    token: Some(&TokenStep {
        method: "PUT",
        path: "/v1/token",
        fields: &[("Metadata-Token-Expiry-Seconds", "300"), ("Accept", "text/plain")],
        body: "",
        take: Take::Body,
        header: "Metadata-Token",
        prefix: "",
        tokenless_on_404: false,
        refresh_on: &[401, 403],
    }),
    user_data: UserData {
        resources: &[Resource { path: "/v1/user-data", fields: &[("Accept", "text/plain")] }],
        encoding: Encoding::Base64,
        none_on_404: false,
        take: Take::Body,
    },
    metadata: &[
        Document::json(
            "/v1/instance",
            &[
                ("id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
                ("host_uuid", Field::attr("INSTANCE_HOST_UUID")),
                ("label", Field::role(Role::Hostname, Some("INSTANCE_LABEL"))),
                ("region", Field::attr("INSTANCE_REGION")),
                ("type", Field::attr("INSTANCE_TYPE")),
                (
                    "tags",
                    Field {
                        attr: Some("INSTANCE_TAGS"),
                        role: Role::None,
                        list: List::Joined(b':'),
                        omit_empty: false,
                    },
                ),
            ],
        ),
        Document::json(
            "/v1/network",
            &[
                ("ipv4.public", Field::attr("PUBLIC_IPV4")),
                ("ipv4.private", Field::attr("PRIVATE_IPV4")),
                ("ipv4.shared", Field::attr("SHARED_IPV4")),
                ("ipv6.slaac", Field::attr("IPV6_SLAAC")),
                ("ipv6.link_local", Field::attr("IPV6_LINK_LOCAL")),
                ("ipv6.ranges", Field::attr("IPV6_RANGE")),
                ("ipv6.shared_ranges", Field::attr("IPV6_SHARED_RANGE")),
            ],
        ),
        Document::json("/v1/ssh-keys", &[("users.*", Field::role(Role::SshKey, None))]),
    ],
    meta_fields: JSON,
    connect: Connect::PLAIN,
};
