//! Akamai Connected Cloud (Linode) metadata service.
//!
//! Facts relied on (Linode "Metadata service API" docs; Ignition's and Afterburn's akamai
//! providers):
//! - the token comes from `PUT /v1/token` with `Metadata-Token-Expiry-Seconds` (300 as Ignition
//!   and Afterburn ask); with `Accept: text/plain` the body is the bare token;
//! - every GET carries `Metadata-Token`;
//! - `/v1/user-data` only serves `text/plain` (Ignition's default config `Accept` is refused) and
//!   returns the user-data base64-encoded; nothing at all when the instance has none;
//! - the status for a stale token is not documented: treat 401 and 403 as "get a new token".

use super::{Platform, Resource, TokenStep};
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
};
