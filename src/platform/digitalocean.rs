//! DigitalOcean droplet metadata service.
//!
//! Facts relied on (platforms.md §6; DigitalOcean "Droplet metadata" API reference; Ignition's
//! `internal/providers/digitalocean`, Afterburn's `src/providers/digitalocean`, cloud-init's
//! `DataSourceDigitalOcean.py` and `helpers/digitalocean.py`):
//! - the service answers at 169.254.169.254 with no token and no special header;
//! - cloud-init does not wait for DHCP: it gives the first NIC a random 169.254/16 address and
//!   talks to the service on-link (DigitalOcean routes the link-local range per droplet), so
//!   flint claims its link-local address at once in `--address auto` (`link_local_first`);
//! - `/metadata/v1/user-data` is the user-data as uploaded; a droplet without any answers
//!   200 with an empty body (terraform issue #18236's log), and Ignition treats every error,
//!   404 included, as fatal — so a 404 is an error here too;
//! - `/metadata/v1.json` holds everything: `droplet_id`, `hostname`, `public_keys` (array),
//!   `region`, `interfaces.{public,private}[i].{ipv4,ipv6,anchor_ipv4}.ip_address`;
//!   Afterburn names the addresses `…_IPV4_PUBLIC_<i>` after the interface's position.
//! - IPv6: the service has no IPv6 address.

use super::{Connect, Document, Field, Platform, Resource, Role, Service, Source, Take, UserData, V4_METADATA};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "digitalocean", sources: &[Source::Service(&SERVICE)] };

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/metadata/v1/user-data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: false,
        take: Take::Body,
    },
    metadata: &[Document::json(
        "/metadata/v1.json",
        &[
            ("droplet_id", Field::role(Role::InstanceId, None)),
            ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
            ("public_keys", Field::role(Role::SshKey, None)),
            ("region", Field::attr("REGION")),
            ("interfaces.public.anchor_ipv4.ip_address", Field::attr("IPV4_ANCHOR")),
            ("interfaces.public.ipv4.ip_address", Field::attr("IPV4_PUBLIC")),
            ("interfaces.public.ipv6.ip_address", Field::attr("IPV6_PUBLIC")),
            ("interfaces.private.ipv4.ip_address", Field::attr("IPV4_PRIVATE")),
            ("interfaces.private.ipv6.ip_address", Field::attr("IPV6_PRIVATE")),
        ],
    )],
    meta_fields: &[],
    connect: Connect { privileged_port: false, link_local_first: true },
};
