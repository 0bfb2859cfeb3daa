//! IBM Cloud VPC: the `cidata` drive Ignition and Afterburn read, raced against the VPC
//! instance metadata service.
//!
//! Facts relied on (platforms.md §14; Ignition's `internal/providers/ibmcloud`, Afterburn's
//! `src/providers/ibmcloud`; IBM Cloud docs "Accessing the metadata service" and
//! "instance identity token"):
//! - Ignition waits for a volume labelled `cidata` and reads `/user-data` from it; a drive
//!   without the file is an empty config (no user-data). Afterburn reads `meta-data` (YAML:
//!   `instance-id`, `local-hostname`) for `IBMCLOUD_INSTANCE_ID` and
//!   `IBMCLOUD_LOCAL_HOSTNAME`; its SSH keys are the `ssh_authorized_keys` of the
//!   `text/cloud-config` part of the MIME `vendor-data` that names them;
//! - the metadata service (off by default; enabled per instance) answers at 169.254.169.254: a
//!   token from `PUT /identity/v1/token?version=2025-08-26` with `Metadata-Flavor: ibm` and a
//!   JSON body `{"expires_in": 300}` (5..3600 s), answered as JSON `access_token` (IBM Cloud
//!   docs, "Identity operations", https://cloud.ibm.com/docs/vpc?topic=vpc-imd-identity-operations:
//!   the older `/instance_identity/v1/token` is for versions before 2025-08-26); every GET
//!   then carries `Authorization: Bearer <token>`;
//!   `/metadata/v1/instance/initialization?version=2025-08-26` holds the user-data as the
//!   JSON string `user_data`; `/metadata/v1/instance` has `id` and `name`;
//!   `/metadata/v1/keys` lists `keys[].public_key`.
//! - IPv6: none documented for the service.

use super::{
    Body, Connect, Document, Drive, Field, Platform, Resource, Role, Service, Source, Store, Take, TokenStep, UserData,
    V4_METADATA,
};
use crate::decode::Encoding;

pub const PLATFORM: Platform =
    Platform { id: "ibmcloud", sources: &[Source::Drive(&DRIVE), Source::Service(&SERVICE)] };

const INSTANCE_ID: Field = Field::role(Role::InstanceId, Some("INSTANCE_ID"));
const LOCAL_HOSTNAME: Field = Field::role(Role::Hostname, Some("LOCAL_HOSTNAME"));
const JSON: &[(&str, &str)] = &[("Accept", "application/json")];

const DRIVE: Drive = Drive {
    store: Store::BlockDevice,
    labels: &["cidata"],
    user_data: "user-data",
    encoding: Encoding::Raw,
    cloud_config: None,
    metadata: &[
        Document::yaml("meta-data", &[("instance-id", INSTANCE_ID), ("local-hostname", LOCAL_HOSTNAME)]),
        Document {
            path: "vendor-data",
            body: Body::CloudConfigPart(&[("ssh_authorized_keys", Field::role(Role::SshKey, None))]),
            unless: Role::None,
        },
    ],
    seed_files: super::nocloud::SEED_FILES,
    seed_user_data: Some("user-data"),
    needs_user_data: false,
    network: None,
    kind: None,
    fallback: false,
};

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: Some(&TokenStep {
        method: "PUT",
        path: "/identity/v1/token?version=2025-08-26",
        fields: &[("Metadata-Flavor", "ibm"), ("Content-Type", "application/json"), ("Accept", "application/json")],
        body: "{\"expires_in\": 300}",
        take: Take::Member("access_token"),
        header: "Authorization",
        prefix: "Bearer ",
        tokenless_on_404: false,
        refresh_on: &[401],
    }),
    user_data: UserData {
        resources: &[Resource { path: "/metadata/v1/instance/initialization?version=2025-08-26", fields: JSON }],
        encoding: Encoding::Raw,
        none_on_404: false,
        take: Take::Member("user_data"),
    },
    metadata: &[
        Document::json("/metadata/v1/instance?version=2025-08-26", &[("id", INSTANCE_ID), ("name", LOCAL_HOSTNAME)]),
        Document::json("/metadata/v1/keys?version=2025-08-26", &[("keys.public_key", Field::role(Role::SshKey, None))]),
    ],
    meta_fields: JSON,
    connect: Connect::PLAIN,
};
