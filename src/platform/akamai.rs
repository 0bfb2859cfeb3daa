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
//! - the status for a stale token is not documented: treat 401 and 403 as "get a new token".

use super::{Body, Document, Field, List, Platform, Resource, Role, TokenStep};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform {
    id: "akamai",
    address: [169, 254, 169, 254],
    port: 80,
    host: "169.254.169.254",
    token: Some(TokenStep {
        path: "/v1/token",
        fields: &[("Metadata-Token-Expiry-Seconds", "300"), ("Accept", "text/plain")],
        header: "Metadata-Token",
        tokenless_on_404: false,
    }),
    user_data: Resource { path: "/v1/user-data", fields: &[("Accept", "text/plain")] },
    encoding: Encoding::Base64,
    none_on_404: false,
    refresh_on: &[401, 403],
    metadata: &[
        json(
            "/v1/instance",
            &[
                ("id", Field::role(Role::InstanceId, Some("AFTERBURN_AKAMAI_INSTANCE_ID"))),
                ("host_uuid", Field::attr("AFTERBURN_AKAMAI_INSTANCE_HOST_UUID")),
                ("label", Field::role(Role::Hostname, Some("AFTERBURN_AKAMAI_INSTANCE_LABEL"))),
                ("region", Field::attr("AFTERBURN_AKAMAI_INSTANCE_REGION")),
                ("type", Field::attr("AFTERBURN_AKAMAI_INSTANCE_TYPE")),
                ("tags", Field { attr: Some("AFTERBURN_AKAMAI_INSTANCE_TAGS"), role: Role::None, list: List::Joined(":") }),
            ],
        ),
        json(
            "/v1/network",
            &[
                ("ipv4.public", Field::attr("AFTERBURN_AKAMAI_PUBLIC_IPV4")),
                ("ipv4.private", Field::attr("AFTERBURN_AKAMAI_PRIVATE_IPV4")),
                ("ipv4.shared", Field::attr("AFTERBURN_AKAMAI_SHARED_IPV4")),
                ("ipv6.slaac", Field::attr("AFTERBURN_AKAMAI_IPV6_SLAAC")),
                ("ipv6.link_local", Field::attr("AFTERBURN_AKAMAI_IPV6_LINK_LOCAL")),
                ("ipv6.ranges", Field::attr("AFTERBURN_AKAMAI_IPV6_RANGE")),
                ("ipv6.shared_ranges", Field::attr("AFTERBURN_AKAMAI_IPV6_SHARED_RANGE")),
            ],
        ),
        json("/v1/ssh-keys", &[("users.*", Field::role(Role::SshKey, None))]),
    ],
};

const fn json(path: &'static str, fields: &'static [(&'static str, Field)]) -> Document {
    Document { path, fields: &[("Accept", "application/json")], body: Body::Json(fields) }
}
