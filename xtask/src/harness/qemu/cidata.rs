//! Proxmox VE's cloud-init drive, for the `proxmoxve` boots: the NoCloud files `qemu-server`
//! writes (`src/PVE/QemuServer/Cloudinit.pm`, its `nocloud` format) for one VM, and the ISO
//! image made of them with Proxmox's own `genisoimage` options.
//!
//! - `meta-data` is only `instance-id: <sha1 hex>`, the SHA-1 of `user-data` followed by
//!   `network-config`; the hostname and keys are only in a `#cloud-config` user-data;
//! - `network-config` is version 1 in Proxmox's layout (four-space list indent, single-quoted
//!   scalars): one `physical` entry per NIC with its MAC and a `static` subnet, then a
//!   `nameserver` entry. This is what a VM on a segment without DHCP gets;
//! - `user-data` is Proxmox's generated `#cloud-config`, or, with `cicustom: user=…` (how
//!   Fedora CoreOS and Flatcar are run on Proxmox), a file of the user's, here an Ignition
//!   config, byte for byte;
//! - `vendor-data` is written too, empty unless `cicustom: vendor=…` names one;
//! - the image is `genisoimage -quiet -iso-level 3 -J -R -V cidata` of that directory, copied
//!   into the 4 MiB volume Proxmox allocates for the drive (zeros after the ISO): the
//!   NoCloud suite's `harness::cidata::build` with `Build::ProxmoxIso`.

use std::path::{Path, PathBuf};

use crate::harness::cidata::{self, Build, Seed, StaticV4};

/// The VM's static IPv4 configuration, as `ipconfig0: ip=…/24,gw=…` gives it.
pub const STATIC_IPV4: &str = "192.168.77.50";
const GATEWAY: &str = "192.168.77.1";
const NAMESERVERS: [&str; 2] = ["192.168.77.1", "9.9.9.9"];
const SEARCH: &str = "fxq.example";

/// The hostname and key a Proxmox `#cloud-config` names (`name`, `sshkeys`).
pub const HOSTNAME: &str = "fxq-pve";
pub const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPkmaoT6H1c2vu9ykN4HuJfHcXY2Ntcw5oyAjjN0P5ye fxq@pve";

/// The files of one VM's drive.
pub struct Drive {
    pub seed: Seed,
    pub instance_id: String,
}

impl Drive {
    /// (name, bytes) of every file on the drive.
    pub fn files(&self) -> Vec<(&'static str, &[u8])> {
        self.seed.files()
    }
}

/// Proxmox's instance id: `sha1_hex(user-data . network-config)` (`nocloud_gen_metadata`).
pub fn instance_id(user_data: &[u8], network_config: &[u8]) -> String {
    sha1(&[user_data, network_config].concat()).iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-1 (FIPS 180-4), for Proxmox's instance id only: nothing here needs it to be secure.
fn sha1(data: &[u8]) -> [u8; 20] {
    let mut h: [u32; 5] = [0x6745_2301, 0xefcd_ab89, 0x98ba_dcfe, 0x1032_5476, 0xc3d2_e1f0];
    let mut msg = data.to_vec();
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&((data.len() as u64) * 8).to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 80];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..80 {
            w[i] = (w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16]).rotate_left(1);
        }
        let [mut a, mut b, mut c, mut d, mut e] = h;
        for (i, wi) in w.iter().enumerate() {
            let (f, k) = match i {
                0..=19 => ((b & c) | (!b & d), 0x5a82_7999),
                20..=39 => (b ^ c ^ d, 0x6ed9_eba1),
                40..=59 => ((b & c) | (b & d) | (c & d), 0x8f1b_bcdc),
                _ => (b ^ c ^ d, 0xca62_c1d6),
            };
            let t = a.rotate_left(5).wrapping_add(f).wrapping_add(e).wrapping_add(k).wrapping_add(*wi);
            (e, d, c, b, a) = (d, c, b.rotate_left(30), a, t);
        }
        for (x, y) in h.iter_mut().zip([a, b, c, d, e]) {
            *x = x.wrapping_add(y);
        }
    }
    let mut out = [0u8; 20];
    for (i, x) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&x.to_be_bytes());
    }
    out
}

/// Proxmox's generated user-data for a VM with a name, a user and one SSH key (the marker in a
/// comment, so a log holding user-data bytes is caught).
pub fn cloud_config(marker: &str) -> Vec<u8> {
    format!(
        "#cloud-config\n# {marker}\nhostname: {HOSTNAME}\nmanage_etc_hosts: true\nfqdn: {HOSTNAME}.{SEARCH}\n\
         user: core\nssh_authorized_keys:\n  - {SSH_KEY}\nchpasswd:\n  expire: False\nusers:\n  - default\n\
         package_upgrade: true\n"
    )
    .into_bytes()
}

/// `network-config` for one NIC with MAC `mac` and the static address above.
pub fn network_config(mac: &str) -> Vec<u8> {
    cidata::network_config_v1(&StaticV4 {
        mac: mac.to_ascii_lowercase(),
        address: STATIC_IPV4.into(),
        prefix: 24,
        gateway: GATEWAY.into(),
        nameservers: NAMESERVERS.map(String::from).to_vec(),
        search: SEARCH.into(),
    })
}

/// The drive of a VM whose NIC has MAC `mac`, with `user_data` as its user-data.
pub fn proxmox(user_data: &[u8], mac: &str) -> Drive {
    let network = network_config(mac);
    let instance_id = instance_id(user_data, &network);
    let seed = Seed {
        user_data: Some(user_data.to_vec()),
        meta_data: cidata::proxmox_meta_data(&instance_id),
        network_config: Some(network),
        vendor_data: Some(Vec::new()),
    };
    Drive { seed, instance_id }
}

/// Makes the drive's ISO in `dir`, Proxmox's way.
pub fn build(drive: &Drive, dir: &Path) -> Result<PathBuf, String> {
    cidata::build(Build::ProxmoxIso, &drive.seed, dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proxmox_layout() {
        // FIPS 180-4's examples.
        assert_eq!(instance_id(b"ab", b"c"), "a9993e364706816aba3e25717850c26c9cd0d89d");
        assert_eq!(instance_id(b"", b""), "da39a3ee5e6b4b0d3255bfef95601890afd80709");
        let long = b"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
        assert_eq!(instance_id(long, b""), "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
        let d = proxmox(b"{}", "02:F1:17:51:00:01");
        assert_eq!(d.instance_id, instance_id(b"{}", &network_config("02:f1:17:51:00:01")));
        let files = d.files();
        let names: Vec<&str> = files.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["user-data", "meta-data", "network-config", "vendor-data"]);
        assert_eq!(files[0].1, b"{}");
        assert_eq!(files[1].1, format!("instance-id: {}\n", d.instance_id).as_bytes());
        assert_eq!(files[3].1, b"");
        let net = String::from_utf8(network_config("02:F1:17:51:00:01")).unwrap();
        // The layout of Proxmox's own output (the fixture of flint's YAML reader).
        assert!(net.starts_with(
            "version: 1\nconfig:\n    - type: physical\n      name: eth0\n      mac_address: '02:f1:17:51:00:01'\n      \
             subnets:\n      - type: static\n        address: '192.168.77.50'\n        netmask: '255.255.255.0'\n"
        ));
        assert!(net.ends_with("    - type: nameserver\n      address:\n      - '192.168.77.1'\n      - '9.9.9.9'\n      search:\n      - 'fxq.example'\n"), "{net}");
        let cc = String::from_utf8(cloud_config("FLINTMARK-x")).unwrap();
        assert!(cc.starts_with("#cloud-config\n# FLINTMARK-x\nhostname: fxq-pve\n"), "{cc}");
    }
}
