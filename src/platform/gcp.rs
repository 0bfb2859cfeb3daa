//! Google Compute Engine metadata server.
//!
//! Facts relied on (Ignition `internal/providers/gcp/gcp.go`, Afterburn
//! `src/providers/gcp/mod.rs` at 790aa94, cloud-init `cloudinit/sources/DataSourceGCE.py` at
//! 04eacd0, Google's guest agent `metadata/metadata.go`; Google's "About VM metadata" page):
//! - the server is `169.254.169.254` (`metadata.google.internal`); Ignition, Afterburn and the
//!   guest agent use the address, so no DNS is needed. No token; every request carries
//!   `Metadata-Flavor: Google` (the server refuses requests without it, 403) and every answer
//!   carries the same header back;
//! - user-data is the raw value of `instance/attributes/user-data` (Ignition), 404 when the
//!   instance has none. cloud-init also honours `user-data-encoding: base64`; Ignition does not,
//!   and neither does flint (gzip is still detected);
//! - `instance/id`, `instance/hostname` (the FQDN) and Afterburn's four attributes:
//!   `GCP_HOSTNAME` (`instance/hostname`), `GCP_IP_EXTERNAL_0`
//!   (`instance/network-interfaces/0/access-configs/0/external-ip`), `GCP_IP_LOCAL_0`
//!   (`instance/network-interfaces/0/ip`), `GCP_MACHINE_TYPE` (`instance/machine-type`); a leaf
//!   the instance lacks (no external address) is 404 and left out;
//! - SSH keys are `user:key` lines in `instance/attributes/ssh-keys` and the legacy
//!   `sshKeys`, and in the same two attributes of `project/attributes/`. Project keys are left
//!   out when the instance's `block-project-ssh-keys` says yes, or when the instance has a
//!   legacy `sshKeys`. That is cloud-init's and the guest agent's rule; the value is compared
//!   without case (Google's docs write `TRUE`), where Afterburn compares with `true` exactly
//!   (and, with a legacy instance `sshKeys`, drops the instance's `ssh-keys` too);
//! - the DHCP lease is a /32 with an off-subnet router and RFC 3442 classless routes (option
//!   121) `<router>/32 via 0.0.0.0; 0.0.0.0/0 via <router>`, server identifier
//!   169.254.169.254 (u-root issue 1161, a lease printed in monogon issue 89): see
//!   [`crate::net::lease`].
//! - An IPv6 address of the server (`fd20:ce::254`, for IPv6-only instances) appears only in
//!   third-party lists and in no client read here: not used (UNCONFIRMED).

use super::{
    Body, Connect, Document, Field, List, Platform, Resource, Role, Service, Source, Take, UserData, V4_METADATA,
};
use crate::decode::Encoding;

pub const PLATFORM: Platform = Platform { id: "gcp", sources: &[Source::Service(&SERVICE)] };

const FLAVOR: &[(&str, &str)] = &[("Metadata-Flavor", "Google")];

/// An attribute of `user:key` lines; `unless: Role::Block` for the project's.
const fn keys(path: &'static str, role: Role, unless: Role) -> Document {
    let field = Field { list: List::UserLines(b':'), ..Field::role(role, None) };
    Document { path, body: Body::Text(field), unless }
}

const SERVICE: Service = Service {
    endpoints: &[V4_METADATA],
    token: None,
    user_data: UserData {
        resources: &[Resource { path: "/computeMetadata/v1/instance/attributes/user-data", fields: FLAVOR }],
        encoding: Encoding::Raw,
        none_on_404: true,
        take: Take::Body,
    },
    metadata: &[
        // Text leaves; the switch and the legacy instance keys come before the project's
        // documents they may skip.
        Document {
            path: "/computeMetadata/v1/instance/",
            body: Body::Leaves(&[
                ("id", Field::role(Role::InstanceId, None)),
                ("hostname", Field::role(Role::Hostname, Some("HOSTNAME"))),
                ("network-interfaces/0/access-configs/0/external-ip", Field::attr("IP_EXTERNAL_0").nonempty()),
                ("network-interfaces/0/ip", Field::attr("IP_LOCAL_0").nonempty()),
                ("machine-type", Field::attr("MACHINE_TYPE").nonempty()),
                ("attributes/block-project-ssh-keys", Field::role(Role::Block, None)),
            ]),
            unless: Role::None,
        },
        keys("/computeMetadata/v1/instance/attributes/sshKeys", Role::BlockingKey, Role::None),
        keys("/computeMetadata/v1/instance/attributes/ssh-keys", Role::SshKey, Role::None),
        keys("/computeMetadata/v1/project/attributes/ssh-keys", Role::SshKey, Role::Block),
        keys("/computeMetadata/v1/project/attributes/sshKeys", Role::SshKey, Role::Block),
    ],
    meta_fields: FLAVOR,
    connect: Connect::PLAIN,
};

#[cfg(test)]
mod tests {
    use super::*;
    use crate::http::Head;
    use crate::sources::service::{Flow, Step};
    use smoltcp::time::Instant;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    /// Runs the whole flow against a metadata tree (path under `/computeMetadata/v1/` → body;
    /// anything else 404), as the server would answer; returns the paths asked and the flow.
    fn fetch(tree: &[(&str, &str)]) -> (Vec<String>, Flow) {
        let mut flow = Flow::new(PLATFORM.services().next().unwrap(), 1);
        flow.fetch_metadata();
        let mut asked = Vec::new();
        for _ in 0..40 {
            let mut buf = [0u8; 1024];
            let n = flow.request(&mut buf, b"169.254.169.254", None).unwrap();
            let req = String::from_utf8(buf[..n].to_vec()).unwrap();
            assert!(req.contains("\r\nMetadata-Flavor: Google\r\n"), "{req}");
            let path = req.split(' ').nth(1).unwrap().trim_start_matches("/computeMetadata/v1/").to_owned();
            let answer = tree.iter().find(|(p, _)| *p == path);
            asked.push(path);
            let (status, body) = answer.map_or((404, ""), |(_, b)| (200, *b));
            let now = Instant::from_millis(0);
            match flow.on_response(
                now,
                Instant::from_millis(30_000),
                Head { status, retry_after: None },
                body.as_bytes(),
            ) {
                Ok(Step::Request) => {}
                Ok(Step::UserData | Step::NoUserData) => return (asked, flow),
                r => panic!("{r:?}"),
            }
        }
        panic!("the flow never ended")
    }

    fn keys(flow: &Flow) -> Vec<String> {
        flow.meta.keys().map(|k| String::from_utf8(k.to_vec()).unwrap()).collect()
    }

    const INSTANCE: &[(&str, &str)] = &[
        ("instance/attributes/user-data", "{\"ignition\":{\"version\":\"3.4.0\"}}"),
        ("instance/id", "4520031799277581759"),
        ("instance/hostname", "vm-1.us-central1-a.c.proj.internal"),
        ("instance/network-interfaces/0/ip", "10.128.0.5"),
        ("instance/machine-type", "projects/123/machineTypes/e2-small"),
        ("instance/attributes/ssh-keys", "core:ssh-ed25519 AAAAi core@a\nalice:ssh-rsa AAAAj alice\n"),
        ("project/attributes/ssh-keys", "bob:ssh-ed25519 AAAAp bob"),
        ("project/attributes/sshKeys", "carol:ssh-rsa AAAAq carol"),
    ];

    #[test]
    fn project_keys_join_the_instance_keys() {
        let (asked, flow) = fetch(INSTANCE);
        assert_eq!(asked[0], "instance/attributes/user-data");
        assert_eq!(asked.len(), 11, "user-data and ten documents: {asked:?}");
        assert_eq!(
            keys(&flow),
            ["ssh-ed25519 AAAAi core@a", "ssh-rsa AAAAj alice", "ssh-ed25519 AAAAp bob", "ssh-rsa AAAAq carol"]
        );
        let mut buf = [0u8; 512];
        let attrs = String::from_utf8(flow.meta.render_attributes("gcp", &mut buf).unwrap().to_vec()).unwrap();
        // Afterburn's names; no external address on this instance (404): left out.
        assert_eq!(
            attrs,
            "AFTERBURN_GCP_HOSTNAME=vm-1.us-central1-a.c.proj.internal\n\
             AFTERBURN_GCP_IP_LOCAL_0=10.128.0.5\n\
             AFTERBURN_GCP_MACHINE_TYPE=projects/123/machineTypes/e2-small\n"
        );
        assert_eq!(flow.meta.get(Role::InstanceId), Some(&b"4520031799277581759"[..]));
    }

    #[test]
    fn block_project_ssh_keys_skips_the_project_documents() {
        for yes in ["true", "TRUE", "True", " true\n", "1", "t"] {
            let tree = [INSTANCE, &[("instance/attributes/block-project-ssh-keys", yes)]].concat();
            let (asked, flow) = fetch(&tree);
            assert_eq!(keys(&flow), ["ssh-ed25519 AAAAi core@a", "ssh-rsa AAAAj alice"], "{yes:?}");
            assert!(!asked.iter().any(|p| p.starts_with("project/")), "{yes:?}: {asked:?}");
        }
        for no in ["false", "FALSE", "0", "", "yes", "truee"] {
            let tree = [INSTANCE, &[("instance/attributes/block-project-ssh-keys", no)]].concat();
            let (_, flow) = fetch(&tree);
            assert_eq!(keys(&flow).len(), 4, "{no:?}");
        }
    }

    #[test]
    fn legacy_instance_keys_also_block_the_project() {
        let tree = [INSTANCE, &[("instance/attributes/sshKeys", "old:ssh-rsa AAAAo old\n")]].concat();
        let (asked, flow) = fetch(&tree);
        assert_eq!(keys(&flow), ["ssh-rsa AAAAo old", "ssh-ed25519 AAAAi core@a", "ssh-rsa AAAAj alice"]);
        assert!(!asked.iter().any(|p| p.starts_with("project/")));
    }

    #[test]
    fn no_user_data_is_404_and_metadata_is_still_read() {
        let (asked, flow) = fetch(&INSTANCE[1..]);
        assert_eq!(asked.len(), 11);
        assert_eq!(flow.meta.get(Role::Hostname), Some(&b"vm-1.us-central1-a.c.proj.internal"[..]));
    }
}
