//! Platform descriptions: one module per cloud, each a [`Platform`] value and nothing else.
//!
//! Adding a platform means describing its endpoint, token step, request fields, user-data path
//! and encoding here; the single control flow in [`crate::flow`] runs every one of them.

use crate::decode::Encoding;

pub mod akamai;
pub mod aws;

/// Every platform flint knows, by the id Ignition and Afterburn use (`ignition.platform.id=`).
pub const ALL: &[&Platform] = &[&aws::PLATFORM, &akamai::PLATFORM];

/// Looks a platform up by its id.
pub fn by_id(id: &[u8]) -> Option<&'static Platform> {
    ALL.iter().copied().find(|p| p.id.as_bytes() == id)
}

/// How a metadata service hands out user-data.
#[derive(Debug, PartialEq, Eq)]
pub struct Platform {
    /// Ignition/Afterburn platform id.
    pub id: &'static str,
    /// IPv4 address of the metadata service.
    pub address: [u8; 4],
    pub port: u16,
    /// `Host` field value.
    pub host: &'static str,
    /// Session token to get first, if the service uses one.
    pub token: Option<TokenStep>,
    /// User-data resource.
    pub user_data: Resource,
    /// Wire encoding of the user-data body (gzip is detected after this, on every platform).
    pub encoding: Encoding,
    /// A 404 for the user-data resource means "this instance has no user-data".
    pub none_on_404: bool,
    /// Statuses of a user-data GET that mean the token is stale: get a new one, once.
    pub refresh_on: &'static [u16],
}

/// A token request: `PUT path` with `fields`; the token then travels in `header`.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenStep {
    pub path: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
    pub header: &'static str,
    /// A 404 from the token endpoint means tokens are not in use: continue without one.
    pub tokenless_on_404: bool,
}

/// A GET of `path` with `fields`.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    pub path: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}
