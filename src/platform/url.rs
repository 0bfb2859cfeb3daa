//! `--url URL` (kernel `flint.url=`, or Ignition's `ignition.config.url=` on `metal`): user-data
//! from any HTTP URL the operator names: one GET of exactly that URL.
//!
//! Facts relied on (Ignition `internal/providers/metal`, `internal/resource/url.go`;
//! platforms.md §0.3): on bare metal Ignition fetches `ignition.config.url=` with one GET, takes
//! 200 as the config and a 404 as no config; the body is used as sent (gzip is detected on every
//! platform after the wire encoding, which here is none). The `Host` field is the URL's
//! authority, as any HTTP client sends it (RFC 9110 §7.2).

use super::{Address, Connect, Endpoint, Host, Platform, Resource, Service, Source, Take, UserData};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "url", sources: &[Source::Service(&SERVICE)] };

/// The URL's host and port; its path and query are the request target (an empty resource path
/// means "the URL's own", see [`crate::sources::service::Flow::request`]).
/// A pointer in the user-data (cloud-init `#include`, an Ignition source): the same GET, but a
/// 404 is an error (a pointer that names nothing cannot be handed on) and an empty 200 is an
/// empty document.
pub const POINTER: Service = Service { user_data: UserData { none_on_404: false, ..SERVICE.user_data }, ..SERVICE };

pub const SERVICE: Service = Service {
    endpoints: &[Endpoint { address: Address::Seed, port: 0, host: Host::Seed }],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
