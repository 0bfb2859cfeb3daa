//! Apache CloudStack: a config drive or the virtual router's metadata service.
//!
//! Facts relied on (platforms.md §15; Ignition's `internal/providers/cloudstack`, Afterburn's
//! `src/providers/cloudstack/{configdrive,network}.rs`, cloud-init's `DataSourceCloudStack.py`):
//! - the metadata server is the virtual router, which is also the DHCP server: its address is
//!   the lease's server identifier (DHCP option 54; `SERVER_ADDRESS` in networkd's lease,
//!   what Afterburn reads), not 169.254.169.254;
//! - `/latest/user-data` is the user-data (404: none); `/latest/meta-data/<key>` text leaves;
//!   `public-keys` holds the keys, one per line;
//! - the config drive is labelled `config-2` or `CONFIG-2` (Ignition races both labels and the
//!   service) and holds `cloudstack/userdata/user_data.txt` and `cloudstack/metadata/<key>.txt`
//!   with `_` where the service's keys have `-`; `public_keys.txt` holds the keys;
//! - Afterburn's attributes: from the drive `AVAILABILITY_ZONE`, `CLOUD_IDENTIFIER`,
//!   `INSTANCE_ID`, `LOCAL_HOSTNAME`, `SERVICE_OFFERING`, `VM_ID`; from the service those plus
//!   `PUBLIC_HOSTNAME`, `IPV4_PUBLIC`, `IPV4_LOCAL`.
//! - IPv6: none documented for the virtual router's service.

use super::{
    Address, Connect, Document, Drive, Endpoint, Field, Host, Platform, Resource, Role, Service, Source, Store, Take,
    UserData,
};
use crate::decode::Encoding;

pub const PLATFORM: Platform =
    Platform { id: "cloudstack", sources: &[Source::Drive(&DRIVE), Source::Service(&SERVICE)] };

const INSTANCE_ID: Field = Field::role(Role::InstanceId, Some("INSTANCE_ID"));
const LOCAL_HOSTNAME: Field = Field::role(Role::Hostname, Some("LOCAL_HOSTNAME"));
const KEYS: Field = Field::role(Role::SshKey, None);

const DRIVE: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["config-2", "CONFIG-2"],
    user_data: "cloudstack/userdata/user_data.txt",
    encoding: Encoding::Raw,
    cloud_config: None,
    metadata: &[
        Document::leaves(
            "cloudstack/metadata/",
            &[
                ("availability_zone.txt", Field::attr("AVAILABILITY_ZONE")),
                ("cloud_identifier.txt", Field::attr("CLOUD_IDENTIFIER")),
                ("instance_id.txt", INSTANCE_ID),
                ("local_hostname.txt", LOCAL_HOSTNAME),
                ("service_offering.txt", Field::attr("SERVICE_OFFERING")),
                ("vm_id.txt", Field::attr("VM_ID")),
            ],
        ),
        Document::lines("cloudstack/metadata/public_keys.txt", KEYS),
    ],
    seed_files: &[],
    seed_user_data: None,
    // Ignition takes a drive without the file as an empty config, as on OpenStack.
    needs_user_data: false,
    network: None,
    kind: None,
    fallback: false,
};

const SERVICE: Service = Service {
    endpoints: &[Endpoint { address: Address::DhcpServer, port: 80, host: Host::Address }],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/latest/user-data", fields: &[] }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        Document::leaves(
            "/latest/meta-data/",
            &[
                ("instance-id", INSTANCE_ID),
                ("local-hostname", LOCAL_HOSTNAME),
                ("public-hostname", Field::attr("PUBLIC_HOSTNAME")),
                ("availability-zone", Field::attr("AVAILABILITY_ZONE")),
                ("public-ipv4", Field::attr("IPV4_PUBLIC")),
                ("local-ipv4", Field::attr("IPV4_LOCAL")),
                ("service-offering", Field::attr("SERVICE_OFFERING")),
                ("cloud-identifier", Field::attr("CLOUD_IDENTIFIER")),
                ("vm-id", Field::attr("VM_ID")),
            ],
        ),
        Document::lines("/latest/meta-data/public-keys", KEYS),
    ],
    meta_fields: &[],
    connect: Connect::PLAIN,
};
