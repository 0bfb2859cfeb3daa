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
//!   into the 4 MiB volume Proxmox allocates for the drive (zeros after the ISO).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{proc, util};

/// Proxmox allocates the cloud-init volume with this size and writes the ISO at its start.
const VOLUME_BYTES: u64 = 4 << 20;

/// The VM's static IPv4 configuration, as `ipconfig0: ip=…/24,gw=…` gives it.
pub const STATIC_IPV4: &str = "192.168.77.50";
const NETMASK: &str = "255.255.255.0";
const GATEWAY: &str = "192.168.77.1";
const NAMESERVERS: [&str; 2] = ["192.168.77.1", "9.9.9.9"];
const SEARCH: &str = "fxq.example";

/// The hostname and key a Proxmox `#cloud-config` names (`name`, `sshkeys`).
pub const HOSTNAME: &str = "fxq-pve";
pub const SSH_KEY: &str = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPkmaoT6H1c2vu9ykN4HuJfHcXY2Ntcw5oyAjjN0P5ye fxq@pve";

/// The files of one VM's drive, in the order Proxmox lists them.
pub struct Drive {
    pub files: Vec<(&'static str, Vec<u8>)>,
    pub instance_id: String,
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
    let mut s = String::from("version: 1\nconfig:\n");
    s.push_str(&format!(
        "    - type: physical\n      name: eth0\n      mac_address: '{}'\n      subnets:\n      - type: static\n        \
         address: '{STATIC_IPV4}'\n        netmask: '{NETMASK}'\n        gateway: '{GATEWAY}'\n",
        mac.to_ascii_lowercase()
    ));
    s.push_str("    - type: nameserver\n      address:\n");
    for ns in NAMESERVERS {
        s.push_str(&format!("      - '{ns}'\n"));
    }
    s.push_str(&format!("      search:\n      - '{SEARCH}'\n"));
    s.into_bytes()
}

/// The drive of a VM whose NIC has MAC `mac`, with `user_data` as its user-data.
pub fn proxmox(user_data: &[u8], mac: &str) -> Drive {
    let network = network_config(mac);
    let instance_id = instance_id(user_data, &network);
    Drive {
        files: vec![
            ("user-data", user_data.to_vec()),
            ("network-config", network),
            ("meta-data", format!("instance-id: {instance_id}\n").into_bytes()),
            ("vendor-data", Vec::new()),
        ],
        instance_id,
    }
}

/// Writes the drive's files to `dir/tree` and makes `dir/cidata.iso`, Proxmox's way.
pub fn build(drive: &Drive, dir: &Path) -> Result<PathBuf, String> {
    let tree = dir.join("tree");
    let _ = std::fs::remove_dir_all(&tree);
    std::fs::create_dir_all(&tree).map_err(|e| format!("mkdir {}: {e}", tree.display()))?;
    for (name, bytes) in &drive.files {
        let p = tree.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
    }
    let image = dir.join("cidata.iso");
    let _ = std::fs::remove_file(&image);
    let mut cmd = Command::new(util::tool("genisoimage"));
    cmd.args(["-quiet", "-iso-level", "3", "-J", "-R", "-V", "cidata", "-o"]).arg(&image).arg(&tree);
    proc::run_ok(&mut cmd, Duration::from_secs(60))?;
    let f = std::fs::OpenOptions::new().write(true).open(&image).map_err(|e| format!("{}: {e}", image.display()))?;
    let len = f.metadata().map_err(|e| e.to_string())?.len();
    if len > VOLUME_BYTES {
        return Err(format!("{}: {len} bytes, more than Proxmox's {VOLUME_BYTES} B volume", image.display()));
    }
    f.set_len(VOLUME_BYTES).map_err(|e| format!("{}: {e}", image.display()))?;
    Ok(image)
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
        let names: Vec<&str> = d.files.iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["user-data", "network-config", "meta-data", "vendor-data"]);
        assert_eq!(d.files[0].1, b"{}");
        assert_eq!(d.files[2].1, format!("instance-id: {}\n", d.instance_id).as_bytes());
        assert_eq!(d.files[3].1, b"");
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
