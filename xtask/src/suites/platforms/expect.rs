//! What each of issue #12's platforms must give flint's hand-offs, from the mock's fixtures
//! (`mock::<platform>`), whose values come from the platforms' documents and Afterburn's and
//! cloud-init's sources: where the service listens, the user-data path, the seed's instance
//! id (the one cloud-init's datasource uses), the hostname, the keys in order and Afterburn's
//! attributes.

use crate::mock::Platform;
use crate::mock::{
    aliyun, cloudstack, digitalocean, exoscale, hetzner, ibmcloud, oraclecloud, packet, scaleway, upcloud, vultr,
};

/// What one platform's instance publishes.
pub struct Identity {
    /// The seed's `instance-id`: what cloud-init's datasource calls the instance id
    /// (DigitalOcean `droplet_id`, Scaleway and Oracle `id`, the others' `instance-id`).
    pub instance_id: String,
    pub hostname: &'static str,
    pub keys: Vec<&'static str>,
    /// Afterburn's `AFTERBURN_<PLATFORM>_<NAME>` lines.
    pub attributes: Vec<(String, String)>,
}

pub fn identity(p: Platform, from_drive: bool) -> Identity {
    let id = |instance_id: &str, hostname, keys: &[&'static str], attributes| Identity {
        instance_id: instance_id.to_string(),
        hostname,
        keys: keys.to_vec(),
        attributes,
    };
    match p {
        Platform::DigitalOcean => id(
            &digitalocean::DROPLET_ID.to_string(),
            digitalocean::HOSTNAME,
            &digitalocean::KEYS,
            digitalocean::attributes(),
        ),
        Platform::Hetzner => {
            id(&hetzner::INSTANCE_ID.to_string(), hetzner::HOSTNAME, &hetzner::KEYS, hetzner::attributes())
        }
        Platform::Vultr => id(vultr::INSTANCE_ID, vultr::HOSTNAME, &vultr::KEYS, vultr::attributes()),
        Platform::UpCloud => id(upcloud::INSTANCE_ID, upcloud::HOSTNAME, &upcloud::KEYS, upcloud::attributes()),
        Platform::Exoscale => {
            id(exoscale::INSTANCE_ID, exoscale::LOCAL_HOSTNAME, &exoscale::KEYS, exoscale::attributes())
        }
        Platform::CloudStack => id(
            cloudstack::INSTANCE_ID,
            cloudstack::LOCAL_HOSTNAME,
            &cloudstack::KEYS,
            if from_drive { cloudstack::attributes_drive() } else { cloudstack::attributes_service() },
        ),
        Platform::Scaleway => id(scaleway::ID, scaleway::HOSTNAME, &scaleway::KEYS, scaleway::attributes()),
        Platform::OracleCloud => {
            id(oraclecloud::ID, oraclecloud::HOSTNAME, &oraclecloud::KEYS, oraclecloud::attributes())
        }
        Platform::Aliyun => id(aliyun::INSTANCE_ID, aliyun::HOSTNAME, &aliyun::ssh_keys(), aliyun::attributes()),
        // The drive's `meta-data` and `vendor-data`; the service's instance document says the
        // same (its `id` and `name`, its keys), and Afterburn's names are the drive's.
        Platform::IbmCloud => {
            id(ibmcloud::INSTANCE_ID, ibmcloud::HOSTNAME, &ibmcloud::ssh_keys(), ibmcloud::attributes())
        }
        Platform::Packet => id(packet::ID, packet::HOSTNAME, &packet::KEYS, packet::attributes()),
        Platform::Aws
        | Platform::Akamai
        | Platform::OpenStack
        | Platform::NoCloud
        | Platform::Gcp
        | Platform::Azure => {
            unreachable!("not one of this suite's platforms (GCP and Azure have their own suites)")
        }
    }
}

/// Where the platform's service listens in the namespace, and which extra address the
/// server end needs for it (the Dhcp topology has 10.0.0.1/24 and 169.254.169.254/32).
pub fn listen(p: Platform) -> (&'static str, Option<&'static str>) {
    match p {
        Platform::Scaleway => ("169.254.42.42:80", Some("169.254.42.42/32")),
        Platform::Aliyun => ("100.100.100.200:80", Some("100.100.100.200/32")),
        // The virtual router: dnsmasq's own address, the lease's server identifier. Nothing
        // listens on 169.254.169.254.
        Platform::CloudStack => ("10.0.0.1:80", None),
        // Behind nginx, which holds the name's address (`tls.rs`).
        Platform::Packet => (super::tls::BACKEND, None),
        _ => ("169.254.169.254:80", None),
    }
}

/// The report's `server`: the address flint fetched from.
pub fn server(p: Platform) -> &'static str {
    match p {
        Platform::Packet => super::tls::ADDRESS,
        p => listen(p).0.trim_end_matches(":80"),
    }
}

/// The paths that carry user-data (any of them may be the one flint asks).
pub fn user_data_paths(p: Platform) -> &'static [&'static str] {
    match p {
        Platform::DigitalOcean => &["/metadata/v1/user-data"],
        Platform::Hetzner => &["/hetzner/v1/userdata"],
        Platform::Vultr => &["/user-data/user-data"],
        Platform::UpCloud => &["/metadata/v1/user_data"],
        Platform::Exoscale => &["/1.0/user-data", "/latest/user-data"],
        Platform::CloudStack | Platform::Aliyun => &["/latest/user-data"],
        Platform::Scaleway => &["/user_data/cloud-init"],
        Platform::OracleCloud => &["/opc/v2/instance/", "/opc/v2/instance", "/opc/v2/instance/metadata/user_data"],
        Platform::IbmCloud => &["/metadata/v1/instance/initialization"],
        Platform::Packet => &["/userdata"],
        _ => &[],
    }
}

/// The id Ignition 2.14 (Debian's) is run with on `user.ign`. Measured: 2.14 knows
/// digitalocean, vultr, exoscale, cloudstack, aliyun, ibmcloud and packet, and with `user.ign`
/// present none of them writes `neednet` in fetch-offline (packet's status POST after the
/// stage fails offline and is only logged); it rejects hetzner, upcloud, scaleway and
/// oraclecloud (`-platform`: "not a valid platform"; their providers came later), so those
/// run as `metal`, whose provider never goes to the network either.
pub fn ignition_platform(p: Platform) -> &'static str {
    match p {
        Platform::Hetzner | Platform::UpCloud | Platform::Scaleway | Platform::OracleCloud => "metal",
        p => p.as_str(),
    }
}

/// Issue #12's platforms.
#[cfg(test)]
pub const PLATFORMS: [Platform; 11] = [
    Platform::DigitalOcean,
    Platform::Hetzner,
    Platform::Vultr,
    Platform::UpCloud,
    Platform::Exoscale,
    Platform::CloudStack,
    Platform::Scaleway,
    Platform::OracleCloud,
    Platform::Aliyun,
    Platform::IbmCloud,
    Platform::Packet,
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_platform_has_its_facts() {
        for p in PLATFORMS {
            let id = identity(p, false);
            assert!(!id.instance_id.is_empty() && !id.hostname.is_empty() && !id.keys.is_empty(), "{p:?}");
            let prefix = format!("AFTERBURN_{}_", p.as_str().to_ascii_uppercase());
            assert!(id.attributes.iter().all(|(k, _)| k.starts_with(&prefix)), "{p:?}");
            assert!(!user_data_paths(p).is_empty());
        }
        assert_eq!(identity(Platform::CloudStack, true).attributes.len(), 6);
        assert_eq!((server(Platform::Scaleway), server(Platform::Aliyun)), ("169.254.42.42", "100.100.100.200"));
    }
}
