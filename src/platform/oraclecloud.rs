//! Oracle Cloud Infrastructure instance metadata service (v2).
//!
//! Facts relied on (platforms.md §12; OCI "Getting instance metadata"; Ignition's
//! `internal/providers/oraclecloud`, Afterburn's `src/providers/oraclecloud`, cloud-init's
//! `DataSourceOracle.py`):
//! - 169.254.169.254, and `fd00:c1::a9fe:a9fe` on IPv6 (cloud-init's Oracle datasource);
//! - every `/opc/v2/` request carries `Authorization: Bearer Oracle`, a constant, not a
//!   fetched token; without it v2 refuses the request;
//! - `/opc/v2/instance/` is one JSON document: `id`, `hostname`, `availabilityDomain`,
//!   `compartmentId`, `faultDomain`, `shape`, `canonicalRegionName`, and `metadata` with
//!   `user_data` (base64, absent without user-data) and `ssh_authorized_keys` (one string,
//!   keys separated by newlines). Ignition reads the same base64 from the leaf
//!   `/opc/v2/instance/metadata/user_data`; flint takes it from the document, which it reads
//!   for the metadata anyway (one request instead of two).
//! - Afterburn's attributes: `AVAILABILITY_DOMAIN`, `COMPARTMENT_ID`, `FAULT_DOMAIN`,
//!   `HOSTNAME`, `INSTANCE_ID`, `INSTANCE_SHAPE`, `REGION_ID` (from `canonicalRegionName`).

use super::{
    Address, Connect, Document, Endpoint, Field, Host, List, Platform, Resource, Role, Service, Source, Take, UserData,
    V4_METADATA,
};
use crate::decode::Encoding;

/// `fd00:c1::a9fe:a9fe`.
const FD00_C1_A9FE_A9FE: [u8; 16] = [0xfd, 0, 0, 0xc1, 0, 0, 0, 0, 0, 0, 0, 0, 0xa9, 0xfe, 0xa9, 0xfe];

pub const PLATFORM: Platform = Platform { id: "oraclecloud", sources: &[Source::Service(&SERVICE)] };

const BEARER: &[(&str, &str)] = &[("Authorization", "Bearer Oracle")];
const INSTANCE: &str = "/opc/v2/instance/";

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA, Endpoint { address: Address::V6(FD00_C1_A9FE_A9FE), port: 80, host: Host::Address }],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: INSTANCE, fields: BEARER }],
        encoding: Encoding::Base64,
        none_on_404: false,
        take: Take::Member("metadata.user_data"),
    },
    metadata: &[Document::json(
        INSTANCE,
        &[
            ("availabilityDomain", Field::attr("AVAILABILITY_DOMAIN")),
            ("compartmentId", Field::attr("COMPARTMENT_ID")),
            ("faultDomain", Field::attr("FAULT_DOMAIN")),
            ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
            ("id", Field::role(Role::InstanceId, Some("INSTANCE_ID"))),
            ("shape", Field::attr("INSTANCE_SHAPE")),
            ("canonicalRegionName", Field::attr("REGION_ID")),
            (
                "metadata.ssh_authorized_keys",
                Field { attr: None, role: Role::SshKey, list: List::Lines, omit_empty: false },
            ),
        ],
    )],
    meta_fields: BEARER,
    connect: Connect::PLAIN,
};
