//! Platform descriptions: one module per cloud, each a [`Platform`] value and nothing else.
//!
//! A platform is its id plus an ordered list of [`Source`]s. The engine starts every source at
//! once and takes the first definite answer (user-data, or "this instance has none"); a source
//! that needs the network brings it up only when it starts, and a drive never touches a NIC.
//!
//! Adding a platform means describing it here: endpoints, token step, request fields, user-data
//! resources and encoding, metadata documents, drive labels and paths. The control flow in
//! [`crate::sources`] and [`crate::engine`] runs every one of them; where a platform truly needs
//! code, it is one small function the data points at.

use crate::decode::Encoding;

pub mod akamai;
pub mod aliyun;
pub mod aws;
pub mod azure;
pub mod cloudstack;
pub mod digitalocean;
pub mod dmi;
pub mod exoscale;
pub mod gcp;
pub mod hetzner;
pub mod ibmcloud;
pub mod kubevirt;
pub mod nocloud;
pub mod openstack;
pub mod oraclecloud;
pub mod packet;
pub mod proxmoxve;
pub mod qemu;
pub mod scaleway;
pub mod upcloud;
pub mod url;
pub mod vultr;

/// Every platform flint knows, by the id Ignition and Afterburn use (`ignition.platform.id=`).
pub const ALL: &[&Platform] = &[
    &aws::PLATFORM,
    &akamai::PLATFORM,
    &gcp::PLATFORM,
    &openstack::PLATFORM,
    &qemu::PLATFORM,
    &proxmoxve::PLATFORM,
    &kubevirt::PLATFORM,
    &nocloud::PLATFORM,
    &digitalocean::PLATFORM,
    &hetzner::PLATFORM,
    &vultr::PLATFORM,
    &upcloud::PLATFORM,
    &exoscale::PLATFORM,
    &cloudstack::PLATFORM,
    &scaleway::PLATFORM,
    &oraclecloud::PLATFORM,
    &aliyun::PLATFORM,
    &ibmcloud::PLATFORM,
    &azure::PLATFORM,
    &packet::PLATFORM,
];

/// 169.254.169.254, named by its address: the metadata endpoint most clouds share.
pub(crate) const V4_METADATA: Endpoint =
    Endpoint { address: Address::V4([169, 254, 169, 254]), port: 80, host: Host::Address };

/// Looks a platform up by its id.
pub fn by_id(id: &[u8]) -> Option<&'static Platform> {
    ALL.iter().copied().find(|p| p.id.as_bytes() == id)
}

/// Where a platform hands out user-data.
#[derive(Debug, PartialEq, Eq)]
pub struct Platform {
    /// Ignition/Afterburn platform id.
    pub id: &'static str,
    /// Raced against each other; the order only breaks ties within one poll.
    pub sources: &'static [Source],
}

impl Platform {
    /// The platform's HTTP metadata services.
    pub fn services(&self) -> impl Iterator<Item = &'static Service> {
        self.sources.iter().filter_map(|s| match s {
            Source::Service(s) => Some(*s),
            Source::Drive(_) => None,
        })
    }

    /// Does any source publish metadata (hostname, keys, attributes)? QEMU's fw_cfg does not.
    pub fn has_metadata(&self) -> bool {
        self.sources.iter().any(|s| match s {
            Source::Service(s) => !s.metadata.is_empty(),
            Source::Drive(d) => !d.metadata.is_empty() || d.cloud_config.is_some() || d.network.is_some(),
        })
    }

    /// The platform's config drives.
    pub fn drives(&self) -> impl Iterator<Item = &'static Drive> {
        self.sources.iter().filter_map(|s| match s {
            Source::Drive(d) => Some(*d),
            Source::Service(_) => None,
        })
    }
}

#[derive(Debug, PartialEq, Eq)]
pub enum Source {
    /// An HTTP metadata service reached over flint's own network stack (by reference, as a
    /// drive is: the platform tables then hold each description once, and a source slot is a
    /// pointer).
    Service(&'static Service),
    /// A block device with a labelled ISO 9660 or FAT filesystem, read raw (by reference:
    /// a drive description is twice a service's size, and would size every source so).
    Drive(&'static Drive),
}

/// An HTTP metadata service.
#[derive(Debug, PartialEq, Eq)]
pub struct Service {
    /// Where the service answers, in order of preference: a request goes to the first endpoint
    /// the network can reach.
    pub endpoints: &'static [Endpoint],
    /// Session token to get first, if the service uses one (by reference: most services
    /// have none, and the platform tables stay small).
    pub token: Option<&'static TokenStep>,
    pub user_data: UserData,
    /// Instance metadata to read after the user-data when an output needs it (hostname, SSH
    /// keys, Afterburn attributes), in request order.
    pub metadata: &'static [Document],
    /// Fields sent with every metadata request (a service asks the same of all of them:
    /// GCP's `Metadata-Flavor`, Azure's `Metadata`, Akamai's `Accept`).
    pub meta_fields: &'static [(&'static str, &'static str)],
    /// How the connection is made.
    pub connect: Connect,
}

impl Service {
    /// Is this a NoCloud network seed (an endpoint at [`Address::Seed`])?
    pub fn at_seed(&self) -> bool {
        self.endpoints.iter().any(|e| e.address == Address::Seed)
    }
}

/// One address a service answers on.
#[derive(Debug, PartialEq, Eq)]
pub struct Endpoint {
    pub address: Address,
    pub port: u16,
    /// The `Host` field value.
    pub host: Host,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Address {
    V4([u8; 4]),
    /// An IPv6 address; a link-local one (`fe80::/10`) is reached on the NIC being tried (the
    /// `%nic` zone of cloud-init's `fe80::a9fe:a9fe%eth0`).
    V6([u8; 16]),
    /// The DHCP server that gave the lease (option 54): CloudStack's virtual router serves
    /// metadata on the address that hands out leases.
    DhcpServer,
    /// The host of the NoCloud seed URL the instance was given (`ds=nocloud;s=URL`, see
    /// [`crate::sources::seed`]), and its port; the service's resource paths are then file
    /// names joined to the URL's path. A platform's service with this address is left out
    /// of a run that names no seed.
    Seed,
    /// A fixed URL (`https://metadata.packet.net/`): its host is a name resolved by DNS, its
    /// scheme says whether TLS is spoken, and the resource paths are joined to its path as to a
    /// seed's. The request's `Host` is the URL's authority ([`Host::Seed`]).
    Url(&'static str),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// The address the request goes to: dotted decimal, or an IPv6 literal in brackets. Every
    /// platform's services answer to their own address (Ignition, Afterburn and cloud-init ask
    /// `169.254.169.254` by address too), so no platform needs another name here.
    Address,
    /// The seed URL's authority (`host[:port]`), as given (RFC 9110 §7.2).
    Seed,
}

/// Transport details some services insist on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Connect {
    /// Use a TCP source port below 1024 (Scaleway serves user-data only to privileged ports,
    /// as proof that the caller is root).
    pub privileged_port: bool,
    /// In `--address auto`, claim an IPv4 link-local address at once instead of waiting for
    /// DHCP (DigitalOcean: cloud-init talks to the service from a random 169.254/16 address).
    pub link_local_first: bool,
}

impl Connect {
    pub const PLAIN: Connect = Connect { privileged_port: false, link_local_first: false };
}

/// A token request; the token then travels in `header` (after `prefix`) on every GET.
#[derive(Debug, PartialEq, Eq)]
pub struct TokenStep {
    pub method: &'static str,
    pub path: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
    /// Request body (with its `Content-Type` among `fields`); empty for none.
    pub body: &'static str,
    /// Where the token is in a 2xx response.
    pub take: Take,
    pub header: &'static str,
    /// Put before the token in `header` (`"Bearer "`).
    pub prefix: &'static str,
    /// A 404 from the token endpoint means tokens are not in use: continue without one.
    pub tokenless_on_404: bool,
    /// Statuses of a GET that mean the token is stale: get a new one, once.
    pub refresh_on: &'static [u16],
}

/// Which part of a response body is the value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Take {
    /// The whole body, without surrounding whitespace.
    Body,
    /// The string at this dotted member path of a JSON object body.
    Member(&'static str),
}

/// How the service hands out user-data.
#[derive(Debug, PartialEq, Eq)]
pub struct UserData {
    /// Tried in order: a 404 moves on to the next resource; a 404 from the last one means
    /// "no user-data" when `none_on_404`.
    pub resources: &'static [Resource],
    /// Wire encoding of the user-data (gzip is detected after this, on every platform).
    pub encoding: Encoding,
    pub none_on_404: bool,
    /// Where the user-data is in a 2xx body: the whole body, or a JSON string member (Oracle's
    /// instance document, IBM Cloud's initialization document); an absent, `null` or
    /// non-string member means "no user-data".
    pub take: Take,
}

/// A GET of `path` with `fields`.
#[derive(Debug, PartialEq, Eq)]
pub struct Resource {
    pub path: &'static str,
    pub fields: &'static [(&'static str, &'static str)],
}

/// One metadata document (a service path or a file on a drive) and what to take from it (see
/// [`crate::sources::meta`]).
#[derive(Debug, PartialEq, Eq)]
pub struct Document {
    pub path: &'static str,
    pub body: Body,
    /// Skip this document when a value with this role is already known (an EC2-compatible
    /// fallback for what a platform's own document did not give).
    pub unless: Role,
}

#[derive(Debug, PartialEq, Eq)]
pub enum Body {
    /// The whole body, without surrounding whitespace, is one value.
    Text(Field),
    /// A JSON object; each entry takes the value(s) at a dotted member path (`*` matches any
    /// member name). A path naming an array takes each element.
    Json(&'static [(&'static str, Field)]),
    /// A YAML document (NoCloud `meta-data`, `#cloud-config`), read like [`Body::Json`]: the
    /// YAML reader reports the same events, every scalar as a string.
    Yaml(&'static [(&'static str, Field)]),
    /// An EC2-style key index: lines `N=name`; key `N` is then read as text from
    /// `<path>N/openssh-key`.
    KeyIndex,
    /// A MIME multipart message (cloud-init's `vendor-data` on IBM Cloud's drive): its
    /// `text/cloud-config` part that names `ssh_authorized_keys` is read like [`Body::Yaml`].
    CloudConfigPart(&'static [(&'static str, Field)]),
    /// Text leaves under the document's path, read one after the other: `(name, field)` is the
    /// whole body of `<path><name>` (EC2-style trees, CloudStack's `metadata/<key>.txt`). One
    /// table per tree keeps the shared prefix and the per-document fields out of every leaf.
    Leaves(&'static [(&'static str, Field)]),
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
    /// An empty value is no attribute. Afterburn writes `NAME=` for an empty value on most
    /// platforms, but its Alibaba, Vultr and UpCloud providers skip empty leaves.
    pub omit_empty: bool,
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
    /// A switch that skips the documents whose `unless` names it: kept only when the text says
    /// yes (`true` in any case, `1`, `t`: what cloud-init and Google's guest agent accept for
    /// GCP's `block-project-ssh-keys`).
    Block,
    /// An SSH key ([`Role::SshKey`]) whose presence also sets [`Role::Block`] (GCP's legacy
    /// instance `sshKeys`, which stops project-wide keys).
    BlockingKey,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum List {
    Indexed,
    /// Joined with this separator byte.
    Joined(u8),
    /// A string holding one value per non-empty line (Oracle's `ssh_authorized_keys`, the key
    /// lists of text documents).
    Lines,
    /// One value per non-empty line, each `user<sep>value`: the user part is dropped (GCP's
    /// `ssh-keys`: `user:ssh-ed25519 AAAA… comment`).
    UserLines(u8),
    /// Only the first value that is an IPv6 address (`addr[/prefix]`), as RFC 5952 text
    /// without the prefix; values of other families are passed over.
    FirstV6,
    /// The path names an array of objects, each one record of [`RECORDS`]`[i]`; the field's
    /// own `attr` and `role` are unused. (An index, not a reference: a reference would make
    /// every field of every platform's tables twice the size.)
    Records(u8),
}

/// The record tables [`List::Records`] names, by index.
pub const RECORDS: &[&Records] = &[&packet::ADDRESSES];

/// The records of an array of objects, each classified by the IP family of one member and a
/// boolean member, and numbered from 0 within its class in array order (Equinix Metal's
/// `network.addresses[]`, which Afterburn writes as `IPV4_PUBLIC_<n>`,
/// `IPV6_PRIVATE_GATEWAY_<n>`, …). A record is taken when both members are there and valid;
/// the members may come in any order, and every other member is passed over.
#[derive(Debug, PartialEq, Eq)]
pub struct Records {
    /// The IP address member that classifies the record, and is its first value.
    pub address: &'static str,
    /// The boolean member (`true` or `false`) that classifies it too.
    pub flag: &'static str,
    /// A second IP address member, written under the same number when present (the gateway).
    pub with: &'static str,
    /// By class (IPv4 and false, IPv4 and true, IPv6 and false, IPv6 and true): the fields of
    /// `address` and of `with`. Addresses are written as dotted quads or RFC 5952 text.
    pub classes: [[Field; 2]; 4],
}

impl Field {
    /// An Afterburn attribute.
    pub const fn attr(name: &'static str) -> Field {
        Field { attr: Some(name), role: Role::None, list: List::Indexed, omit_empty: false }
    }

    /// The same attribute, left out when empty.
    pub const fn nonempty(self) -> Field {
        Field { omit_empty: true, ..self }
    }

    /// A value flint uses, optionally also an attribute.
    pub const fn role(role: Role, attr: Option<&'static str>) -> Field {
        Field { attr, role, list: List::Indexed, omit_empty: false }
    }
}

impl Document {
    /// A document whose whole body is one value.
    pub const fn text(path: &'static str, field: Field) -> Document {
        Document { path, body: Body::Text(field), unless: Role::None }
    }

    /// A YAML document.
    pub const fn yaml(path: &'static str, paths: &'static [(&'static str, Field)]) -> Document {
        Document { path, body: Body::Yaml(paths), unless: Role::None }
    }

    /// Leaf `i` of a leaf table: its name under the document's path, and its field.
    // Out of line: measured smaller so (four callers).
    #[inline(never)]
    pub fn leaf(&self, i: usize) -> Option<&'static (&'static str, Field)> {
        match self.body {
            Body::Leaves(l) => l.get(i),
            _ => None,
        }
    }

    /// Text leaves under `prefix`.
    pub const fn leaves(prefix: &'static str, leaves: &'static [(&'static str, Field)]) -> Document {
        Document { path: prefix, body: Body::Leaves(leaves), unless: Role::None }
    }

    /// A document with one value per line.
    pub const fn lines(path: &'static str, field: Field) -> Document {
        Document::text(path, Field { list: List::Lines, ..field })
    }

    /// A JSON document.
    pub const fn json(path: &'static str, paths: &'static [(&'static str, Field)]) -> Document {
        Document { path, body: Body::Json(paths), unless: Role::None }
    }
}

/// A config drive: a block device whose filesystem carries one of `labels`, or QEMU's
/// firmware configuration device.
#[derive(Debug, PartialEq, Eq)]
pub struct Drive {
    pub store: Store,
    /// Filesystem labels, compared exactly (block devices only).
    pub labels: &'static [&'static str],
    /// The user-data file; a drive without it is a definite "no user-data".
    pub user_data: &'static str,
    pub encoding: Encoding,
    /// A user-data that is a `#cloud-config` is also read as this YAML document (the hostname
    /// and SSH keys a Proxmox VM gets only there).
    pub cloud_config: Option<&'static Document>,
    /// Metadata files read like a service's documents (their `fields` are unused).
    pub metadata: &'static [Document],
    /// Files handed to cloud-init verbatim with a seed: (path on the drive, path under the seed
    /// directory).
    pub seed_files: &'static [(&'static str, &'static str)],
    /// Where the user-data goes among them, verbatim (as on the drive), so the seed directory is
    /// a whole drive tree. When the names include the seed's own `user-data` or `meta-data`,
    /// those are the drive's, not flint's renderings.
    pub seed_user_data: Option<&'static str>,
    /// A drive without its user-data is no answer at all, not "no user-data": cloud-init takes
    /// a NoCloud drive as a seed only when it holds `user-data` and `meta-data`
    /// (`pathprefix2dict(…, required=…)`). Its network configuration still counts, so a drive
    /// can address the network seed that holds the user-data.
    pub needs_user_data: bool,
    /// The drive's network configuration: static addressing for whatever else the run fetches.
    pub network: Option<&'static NetworkDoc>,
    /// Found by content rather than by label: the filesystem kind it must be (as
    /// [`crate::sources::drive::Filesystem::kind`] names it; Azure's provisioning CD is `udf`
    /// and has no label to go by). Such a drive has no `labels`, and a filesystem of that kind
    /// without `user_data` is not it: the scan goes on.
    pub kind: Option<&'static str>,
    /// Stands in for the services only: its answer counts once every service of the platform
    /// has ended without user-data (Ignition's Azure rule: IMDS user-data first, the CD's
    /// custom data when IMDS has none). The services' metadata is kept.
    pub fallback: bool,
}

/// A network configuration file on a drive.
#[derive(Debug, PartialEq, Eq)]
pub struct NetworkDoc {
    pub path: &'static str,
    pub format: NetworkFormat,
    /// The Afterburn attribute that holds the first static IPv4 address, if Afterburn has one.
    pub ipv4_attr: Option<Field>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetworkFormat {
    /// cloud-init `network-config`, version 1 or 2 (YAML).
    CloudInit,
    /// OpenStack `network_data.json`.
    OpenStack,
}

/// Where a drive's files are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Store {
    /// A filesystem on a block device, found by its label.
    BlockDevice,
    /// QEMU's fw_cfg items as the kernel's `qemu_fw_cfg` driver shows them in sysfs
    /// (`/sys/firmware/qemu_fw_cfg/by_name/<name>/raw`).
    FwCfg,
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;

    #[test]
    fn only_qemu_has_no_metadata() {
        let without: std::vec::Vec<&str> = ALL.iter().filter(|p| !p.has_metadata()).map(|p| p.id).collect();
        assert_eq!(without, ["qemu"]);
    }

    #[test]
    fn ids_are_unique_and_found() {
        for (i, p) in ALL.iter().enumerate() {
            assert_eq!(by_id(p.id.as_bytes()).map(|q| q.id), Some(p.id));
            assert!(ALL[i + 1..].iter().all(|q| q.id != p.id), "{} twice", p.id);
            assert!(!p.sources.is_empty(), "{} has no source", p.id);
        }
        assert!(by_id(b"nope").is_none());
    }

    #[test]
    fn every_service_can_be_asked() {
        for s in ALL.iter().flat_map(|p| p.services()) {
            assert!(!s.endpoints.is_empty() && !s.user_data.resources.is_empty());
            // A seed's and a fixed URL's files are names joined to the URL's path.
            let joined = s.endpoints.iter().any(|e| matches!(e.address, Address::Seed | Address::Url(_)));
            for r in s.user_data.resources.iter().map(|r| r.path).chain(s.metadata.iter().map(|d| d.path)) {
                assert!(r.starts_with('/') != joined, "{r}");
            }
            // Every record table a document names exists.
            for d in s.metadata {
                if let Body::Json(paths) = d.body {
                    for (_, f) in paths {
                        if let List::Records(i) = f.list {
                            assert!(RECORDS.get(usize::from(i)).is_some(), "{}: records {i}", d.path);
                        }
                    }
                }
            }
            // A fixed URL parses, and is named by its authority.
            for e in s.endpoints {
                if let Address::Url(u) = e.address {
                    let url = crate::sources::seed::Url::parse(u.as_bytes()).unwrap();
                    assert!(url.address.is_none() && e.host == Host::Seed, "{u}");
                }
            }
        }
        for d in ALL.iter().flat_map(|p| p.drives()) {
            // A block device is found by its label, or else by its kind and content.
            assert!(d.store == Store::FwCfg || d.labels.is_empty() == d.kind.is_some());
            assert!(!d.user_data.starts_with('/'));
        }
    }
}
