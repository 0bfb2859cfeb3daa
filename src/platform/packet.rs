//! Equinix Metal (formerly Packet) metadata service, over HTTPS.
//!
//! Facts relied on (platforms.md §16; Ignition `internal/providers/packet/packet.go` and
//! `internal/resource/url.go` at a5d574a8, Afterburn `src/providers/packet/mod.rs` and
//! `mock_tests.rs` at 790aa94b; Equinix's "Metadata" and "User Data" pages;
//! `metal-toolbox/hollow-metadataservice`, the Equinix Metal team's implementation):
//! - the service is `https://metadata.packet.net`, a name resolved by DNS and spoken to over
//!   TLS. Equinix's pages now name it `https://metadata.platformequinix.com`; Ignition and
//!   Afterburn at the snapshots above still ask `metadata.packet.net`, and flint asks what
//!   Ignition asks (the old name still being served is Equinix's promise to those clients);
//! - `GET /userdata` is the user-data as given. Ignition sends `Accept: */*` because the
//!   service answers 406 to its default `Accept`; Afterburn's client (reqwest) sends `*/*` too.
//!   Ignition takes 200 and 204, fails on a 404 like on any other error, and an empty body is
//!   no config (`config.Parse`: `ErrEmpty`, the boot goes on). So empty is "no user-data" and
//!   a 404 is an error here too (hollow-metadataservice answers 404 for an instance without
//!   user-data; Ignition would then fail the boot, flint exits 5 and the boot goes on);
//! - `GET /metadata` is one JSON document: `id`, `hostname`, `plan`, `ssh_keys` (array),
//!   `phone_home_url`, and `network.addresses[]` with `address`, `public`, `gateway` (and
//!   `id`, `address_family`, `netmask`, `management`, ...);
//! - Afterburn's attributes: `HOSTNAME`, `PLAN`, `PHONE_HOME_URL`, and for each element of
//!   `network.addresses` in order, numbered per (family of `address`, `public`):
//!   `IPV4_PUBLIC_<n>` and `IPV4_PUBLIC_GATEWAY_<n>`, `IPV4_PRIVATE_…`, `IPV6_PUBLIC_…`,
//!   `IPV6_PRIVATE_…`, each address printed as Rust's `IpAddr` prints it (RFC 5952:
//!   `2604:1380::0` becomes `2604:1380::`). Afterburn refuses the whole document when any
//!   address member is missing or invalid; flint drops only that record;
//! - the phone-home POST (Afterburn's boot check-in) and Ignition's timeline events are made
//!   after the boot, by them: not flint's job;
//! - no documented SMBIOS strings: the machines are bare metal with their makers' own
//!   (cloud-init has no Equinix datasource and ds-identify no rule), so `--platform auto`
//!   never picks `packet`;
//! - IPv6: the name may resolve to AAAA records; flint's resolver asks both.

use super::{
    Address, Connect, Document, Endpoint, Field, Host, List, Platform, Records, Resource, Role, Service, Source, Take,
    UserData,
};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "packet", sources: &[Source::Service(&SERVICE)] };

/// Ignition's and Afterburn's host; resource paths are joined to this URL's path.
pub const URL: &str = "https://metadata.packet.net/";

const ACCEPT: &[(&str, &str)] = &[("Accept", "*/*")];

/// `network.addresses[]`, as Afterburn numbers them (`RECORDS[0]`).
pub const ADDRESSES: Records = Records {
    address: "address",
    flag: "public",
    with: "gateway",
    classes: [
        [Field::attr("IPV4_PRIVATE"), Field::attr("IPV4_PRIVATE_GATEWAY")],
        [Field::attr("IPV4_PUBLIC"), Field::attr("IPV4_PUBLIC_GATEWAY")],
        [Field::attr("IPV6_PRIVATE"), Field::attr("IPV6_PRIVATE_GATEWAY")],
        [Field::attr("IPV6_PUBLIC"), Field::attr("IPV6_PUBLIC_GATEWAY")],
    ],
};

const SERVICE: Service = Service {
    endpoints: &[Endpoint { address: Address::Url(URL), port: 443, host: Host::Seed }],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "userdata", fields: ACCEPT }],
        encoding: Encoding::Raw,
        none_on_404: false,
        take: Take::Body,
    },
    metadata: &[Document::json(
        "metadata",
        &[
            ("id", Field::role(Role::InstanceId, None)),
            ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
            ("plan", Field::attr("PLAN")),
            ("phone_home_url", Field::attr("PHONE_HOME_URL")),
            ("ssh_keys", Field::role(Role::SshKey, None)),
            ("network.addresses", Field { attr: None, role: Role::None, list: List::Records(0), omit_empty: false }),
        ],
    )],
    meta_fields: ACCEPT,
    connect: Connect::PLAIN,
};
