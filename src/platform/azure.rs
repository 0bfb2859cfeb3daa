//! Microsoft Azure: the Instance Metadata Service (IMDS), and the provisioning CD's custom data
//! when IMDS has no user-data.
//!
//! Facts relied on:
//! - IMDS answers at 169.254.169.254 over IPv4 only; every request carries `Metadata: true` and
//!   no `X-Forwarded-For` (else 400), and the `api-version` query parameter is mandatory (a
//!   missing or unknown one is 400 with a JSON `error` and `newest-versions`); leaves need
//!   `format=text` (Microsoft Learn, "Azure Instance Metadata Service", MicrosoftDocs/
//!   azure-compute-docs `articles/virtual-machines/instance-metadata-service.md`);
//! - user-data is `GET /metadata/instance/compute/userData?api-version=2021-01-01&format=text`,
//!   base64, an empty body when the VM has none (the same doc; Ignition's
//!   `internal/providers/azure/azure.go`, which asks exactly this and retries 404, 410 and 429).
//!   A 404 here is therefore no "none" (`none_on_404: false`): it never lets the CD stand in.
//!   flint retries 429 and 5xx as on every platform; 404 and 410 end the service with an error
//!   (exit 5) — retrying them needs a per-platform status list in [`UserData`], not in this
//!   build;
//! - Ignition falls back to the provisioning CD's custom data only when the IMDS user-data is
//!   empty (`errors.ErrEmpty`), and waits for the CD: a CD-ROM whose filesystem is `udf` and
//!   holds `ovf-env.xml` (azure.go `FetchFromOvfDevice`, `getRawConfig`). The CD has no label
//!   to go by, so the drive here is found by its kind and that file ([`Drive::kind`]) and only
//!   stands in for IMDS ([`Drive::fallback`]);
//! - the custom data is the base64 text of `ovf-env.xml`'s
//!   `Environment/ProvisioningSection/LinuxProvisioningConfigurationSet/CustomData`, the
//!   document cloud-init's Azure datasource and WALinuxAgent read (cloud-init
//!   `cloudinit/sources/helpers/azure.py` `OvfEnvXml`; Azure writes the elements with an `ns1:`
//!   prefix, cloud-init PR #1519). Released Ignition reads the same bytes raw from
//!   `/CustomData.bin` beside it (missing: an empty config); Ignition PR #2321 moves it to
//!   `ovf-env.xml`, which is on every provisioning CD, so flint reads that. A CD without
//!   `CustomData` is "no user-data";
//! - Afterburn's azure provider (`src/providers/microsoft/azure/mod.rs`): the hostname is
//!   `compute/name` (api-version 2017-08-01), SSH keys the `keyData` of each
//!   `compute/publicKeys` entry (api-version 2021-02-01; Azure ends each in CR LF, trimmed as
//!   every value is), `AFTERBURN_AZURE_VMSIZE` is `compute/vmSize`; `AFTERBURN_AZURE_IPV4_DYNAMIC`
//!   is the instance's address in the wireserver's SharedConfig, which is the primary NIC's
//!   primary private address: flint reads that from IMDS
//!   (`network/interface/0/ipv4/ipAddress/0/privateIpAddress`, api-version 2017-08-01) rather
//!   than talking to the wireserver. `AFTERBURN_AZURE_IPV4_VIRTUAL` (the load balancer's public
//!   address in SharedConfig's input endpoints) has no IMDS equivalent and is not written: the
//!   wireserver steps (goalstate, SharedConfig, at DHCP option 245 or 168.63.129.16) are left
//!   out of this build. The instance id for cloud-init is `compute/vmId`.

use super::{
    Body, Connect, Document, Drive, Field, Platform, Resource, Role, Service, Source, Store, Take, UserData,
    V4_METADATA,
};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "azure", sources: &[Source::Service(&SERVICE), Source::Drive(&CD)] };

/// Sent with every IMDS request.
const METADATA: &[(&str, &str)] = &[("Metadata", "true")];

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource {
            path: "/metadata/instance/compute/userData?api-version=2021-01-01&format=text",
            fields: METADATA,
        }],
        encoding: Encoding::Base64,
        none_on_404: false,
        take: Take::Body,
    },
    metadata: &[
        Document {
            path: "/metadata/instance/",
            body: Body::Leaves(&[
                ("compute/name?api-version=2017-08-01&format=text", Field::role(Role::Hostname, None)),
                ("compute/vmId?api-version=2017-08-01&format=text", Field::role(Role::InstanceId, None)),
                ("compute/vmSize?api-version=2017-08-01&format=text", Field::attr("VMSIZE")),
                (
                    "network/interface/0/ipv4/ipAddress/0/privateIpAddress?api-version=2017-08-01&format=text",
                    Field::attr("IPV4_DYNAMIC"),
                ),
            ]),
            unless: Role::None,
        },
        Document {
            path: "/metadata/instance/compute/publicKeys?api-version=2021-02-01",
            body: Body::Json(&[("keyData", Field::role(Role::SshKey, None))]),
            unless: Role::None,
        },
    ],
    meta_fields: METADATA,
    connect: Connect::PLAIN,
};

/// The provisioning CD.
const CD: Drive = Drive {
    store: Store::BlockDevice,
    labels: &[],
    user_data: "ovf-env.xml",
    encoding: Encoding::OvfEnv,
    cloud_config: None,
    metadata: &[],
    seed_files: &[],
    seed_user_data: None,
    needs_user_data: false,
    network: None,
    kind: Some("udf"),
    fallback: true,
};
