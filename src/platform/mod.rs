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
    /// Statuses of a GET that mean the token is stale: get a new one, once.
    pub refresh_on: &'static [u16],
    /// Instance metadata to read after the user-data when an output needs it (hostname, SSH
    /// keys, Afterburn attributes), in request order.
    pub metadata: &'static [Document],
}

/// One metadata document and what to take from it (see [`crate::meta`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Document {
    pub path: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
    pub body: Body,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// The whole body, without surrounding whitespace, is one value.
    Text(Field),
    /// A JSON object; each entry takes the value(s) at a dotted member path (`*` matches any
    /// member name). A path naming an array takes each element.
    Json(&'static [(&'static str, Field)]),
    /// An EC2-style key index: lines `N=name`; key `N` is then read as text from
    /// `<path>N/openssh-key`.
    KeyIndex,
}

/// Where one value goes.
#[derive(Debug, PartialEq, Eq)]
pub struct Field {
    /// Afterburn attribute name, if Afterburn publishes this value.
    pub attr: Option<&'static str>,
    /// What flint itself uses the value for.
    pub role: Role,
    /// For array values: `Indexed` names them `<attr>_<i>`, `Joined` puts them on one line.
    pub list: List,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Only an attribute.
    None,
    /// cloud-init's `instance-id`.
    InstanceId,
    /// The hostname written to `/etc/hostname` and cloud-init's `local-hostname`.
    Hostname,
    /// An OpenSSH public key for the SSH user.
    SshKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Indexed,
    Joined(&'static str),
}

impl Field {
    /// An Afterburn attribute.
    pub const fn attr(name: &'static str) -> Field {
        Field { attr: Some(name), role: Role::None, list: List::Indexed }
    }

    /// A value flint uses, optionally also an attribute.
    pub const fn role(role: Role, attr: Option<&'static str>) -> Field {
        Field { attr, role, list: List::Indexed }
    }
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
