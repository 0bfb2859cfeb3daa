//! Amazon EC2 instance metadata service (IMDSv2).
//!
//! Facts relied on (AWS user guide, "How IMDSv2 works" and "Retrieve user data"):
//! - the token comes from `PUT /latest/api/token` (only the `latest` path; a dated path is 403)
//!   with a TTL of 1..=21600 s; Ignition, Afterburn and cloud-init all ask for 21600;
//! - every GET carries `X-aws-ec2-metadata-token`; a missing, unknown or expired one is 401;
//! - user-data is returned exactly as uploaded (possibly gzip), 404 when there is none;
//! - a 404 from the token endpoint means IMDSv2 is unavailable; like Ignition, fall back to
//!   IMDSv1 (no token). A 403 there means IMDS is off or the request was refused: no fallback.

use super::{Platform, Resource, TokenStep};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform {
    id: "aws",
    address: [169, 254, 169, 254],
    port: 80,
    host: "169.254.169.254",
    token: Some(TokenStep {
        path: "/latest/api/token",
        fields: &[("X-aws-ec2-metadata-token-ttl-seconds", "21600")],
        header: "X-aws-ec2-metadata-token",
        tokenless_on_404: true,
    }),
    user_data: Resource { path: "/latest/user-data", fields: &[] },
    encoding: Encoding::Raw,
    none_on_404: true,
    refresh_on: &[401],
};
