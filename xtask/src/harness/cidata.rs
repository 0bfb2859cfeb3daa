//! NoCloud `cidata` drives built by the tools the platforms build them with, and the documents
//! that go on them (shared/reference/platforms.md §17, §18):
//!
//! - **Proxmox VE** (`qemu-server` `PVE/QemuServer/Cloudinit.pm`): `genisoimage -quiet
//!   -iso-level 3 -J -R -V cidata` of a directory holding `user-data`, `meta-data`,
//!   `network-config` and `vendor-data` (empty unless a `cicustom` vendor snippet is set),
//!   copied into a 4 MiB volume; `meta-data` is `instance-id: <sha1>` alone; the generated
//!   `user-data` is a `#cloud-config` with `hostname`, `fqdn`, the user and
//!   `ssh_authorized_keys` (`proxmox_cloud_config`); `network-config` is version 1
//!   (`network_config_v1`), the shape of the Fedora CoreOS platform request;
//! - **cloud-localds** (Debian's `cloud-image-utils`): `cloud-localds [-N network-config]
//!   [-V vendor-data] [-f vfat] IMAGE user-data meta-data`, which runs `genisoimage -volid cidata
//!   -joliet -rock` or a 128 KiB `mkfs.vfat -n cidata` + `mcopy`;
//! - **KubeVirt-style VFAT**: `mkfs.vfat -n cidata` on a 1 MiB file and `mcopy` of the files,
//!   with KubeVirt's compact JSON `meta-data` (`kubevirt_meta_data`).
//!
//! Files absent from a `Seed` are not on the drive at all (a drive without `user-data` is how
//! a NoCloud seed says "none", and how a drive that only carries the network configuration for
//! a network seed looks). Loop devices, and the drives already attached, are `drive`'s.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use crate::support::{proc, util};

const TOOL_LIMIT: Duration = Duration::from_secs(60);
/// Proxmox's cloud-init volume (`CLOUDINIT_DISK_SIZE`), which the ISO is copied into.
const PROXMOX_VOLUME: u64 = 4 << 20;
/// The VFAT size of the KubeVirt-style drive.
const VFAT_BYTES: u64 = 1 << 20;
/// The labels a NoCloud reader accepts (cloud-init: exactly these two).
pub const LABELS: [&str; 2] = ["cidata", "CIDATA"];

/// How the image is made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Build {
    /// Proxmox's `genisoimage -quiet -iso-level 3 -J -R -V cidata`.
    ProxmoxIso,
    /// `cloud-localds` (ISO 9660, its default).
    LocaldsIso,
    /// `cloud-localds --filesystem vfat`.
    LocaldsVfat,
    /// `mkfs.vfat -n cidata` (1 MiB) + `mcopy`.
    KubevirtVfat,
}

impl Build {
    pub fn is_iso(self) -> bool {
        matches!(self, Build::ProxmoxIso | Build::LocaldsIso)
    }
}

/// The files of one seed drive; `None` is a file that is not there.
#[derive(Clone, Debug, Default)]
pub struct Seed {
    pub user_data: Option<Vec<u8>>,
    pub meta_data: Vec<u8>,
    pub network_config: Option<Vec<u8>>,
    pub vendor_data: Option<Vec<u8>>,
}

impl Seed {
    /// (name, bytes) of every file on the drive.
    pub fn files(&self) -> Vec<(&'static str, &[u8])> {
        let mut v: Vec<(&'static str, &[u8])> = Vec::new();
        if let Some(u) = &self.user_data {
            v.push(("user-data", u));
        }
        v.push(("meta-data", &self.meta_data));
        if let Some(n) = &self.network_config {
            v.push(("network-config", n));
        }
        if let Some(d) = &self.vendor_data {
            v.push(("vendor-data", d));
        }
        v
    }
}

/// Writes the seed's files into `dir/files` and builds the image in `dir`; returns its path.
pub fn build(build: Build, seed: &Seed, dir: &Path) -> Result<PathBuf, String> {
    let files = dir.join("files");
    let _ = std::fs::remove_dir_all(&files);
    std::fs::create_dir_all(&files).map_err(|e| format!("mkdir {}: {e}", files.display()))?;
    let mut paths = Vec::new();
    for (name, bytes) in seed.files() {
        let p = files.join(name);
        std::fs::write(&p, bytes).map_err(|e| format!("{}: {e}", p.display()))?;
        paths.push(p);
    }
    let image = dir.join(if build.is_iso() { "cidata.iso" } else { "cidata.img" });
    let _ = std::fs::remove_file(&image);
    match build {
        Build::ProxmoxIso => {
            let mut cmd = Command::new(util::tool("genisoimage"));
            cmd.args(["-quiet", "-iso-level", "3", "-J", "-R", "-V", "cidata", "-o"]).arg(&image).arg(&files);
            proc::run_ok(&mut cmd, TOOL_LIMIT)?;
            // `qemu-img dd … osize=4MiB` into the VM's cloud-init volume: the ISO, then zeros.
            let f = std::fs::OpenOptions::new()
                .write(true)
                .open(&image)
                .map_err(|e| format!("{}: {e}", image.display()))?;
            let len = f.metadata().map_err(|e| e.to_string())?.len();
            if len > PROXMOX_VOLUME {
                return Err(format!("{}: {len} bytes, more than Proxmox's {PROXMOX_VOLUME} B volume", image.display()));
            }
            f.set_len(PROXMOX_VOLUME).map_err(|e| format!("{}: {e}", image.display()))?;
        }
        Build::LocaldsIso | Build::LocaldsVfat => {
            if seed.user_data.is_none() {
                return Err("cloud-localds always writes a user-data".into());
            }
            let mut cmd = Command::new(util::tool("cloud-localds"));
            if build == Build::LocaldsVfat {
                cmd.args(["--filesystem", "vfat"]);
            }
            if seed.network_config.is_some() {
                cmd.arg("--network-config").arg(files.join("network-config"));
            }
            if seed.vendor_data.is_some() {
                cmd.arg("--vendor-data").arg(files.join("vendor-data"));
            }
            cmd.arg(&image).arg(files.join("user-data")).arg(files.join("meta-data"));
            proc::run_ok(&mut cmd, TOOL_LIMIT)?;
        }
        Build::KubevirtVfat => {
            let f = std::fs::File::create(&image).map_err(|e| format!("{}: {e}", image.display()))?;
            f.set_len(VFAT_BYTES).map_err(|e| format!("{}: {e}", image.display()))?;
            drop(f);
            proc::run_ok(Command::new(util::tool("mkfs.vfat")).args(["-n", "cidata"]).arg(&image), TOOL_LIMIT)?;
            let mut mcopy = Command::new(util::tool("mcopy"));
            mcopy.env("MTOOLS_SKIP_CHECK", "1").arg("-i").arg(&image).args(&paths).arg("::/");
            proc::run_ok(&mut mcopy, TOOL_LIMIT)?;
        }
    }
    Ok(image)
}

// --- the documents -------------------------------------------------------------------------

/// Proxmox's generated `user-data` (`cloudinit_userdata` in `Cloudinit.pm`): keys as written by
/// Proxmox, unquoted, one per line.
pub fn proxmox_cloud_config(hostname: &str, domain: &str, user: &str, keys: &[&str]) -> Vec<u8> {
    let mut s = format!("#cloud-config\nhostname: {hostname}\nmanage_etc_hosts: true\nfqdn: {hostname}.{domain}\n");
    s += &format!("user: {user}\n");
    // A SHA-512 crypt hash as Proxmox stores `cipassword`.
    s += "password: $6$rounds=656000$flintsalt$0r8cYlZ7k1m9Jm0r3Zx8uQ2oKJmZr3w8xkP6sV0m1YhN1d2Q3e4R5t6Y7u8I9o0P1a2S3d4F5g6H7j8K9l0Z1x/\n";
    s += "ssh_authorized_keys:\n";
    for k in keys {
        s += &format!("  - {k}\n");
    }
    s += "chpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n";
    s.into_bytes()
}

/// Proxmox's `meta-data`: the instance id (a SHA-1 of the VM's cloud-init settings) alone.
pub fn proxmox_meta_data(sha1: &str) -> Vec<u8> {
    format!("instance-id: {sha1}\n").into_bytes()
}

/// A static IPv4 configuration for one NIC.
#[derive(Clone, Debug)]
pub struct StaticV4 {
    pub mac: String,
    pub address: String,
    pub prefix: u8,
    pub gateway: String,
    pub nameservers: Vec<String>,
    pub search: String,
}

fn netmask(prefix: u8) -> String {
    let m: u32 = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    let b = m.to_be_bytes();
    format!("{}.{}.{}.{}", b[0], b[1], b[2], b[3])
}

/// Each item as a YAML list entry, single-quoted, indented by `indent`.
fn quoted_items(items: &[String], indent: &str) -> String {
    items.iter().map(|i| format!("{indent}- '{i}'\n")).collect()
}

/// Proxmox's `network-config` (`nocloud_network` in `Cloudinit.pm`, the Fedora CoreOS platform
/// request's example): version 1 in Proxmox's layout (four-space list indent, single-quoted
/// scalars), a `physical` entry with the NIC's MAC and a `static` subnet, then a `nameserver`
/// entry.
pub fn network_config_v1(s: &StaticV4) -> Vec<u8> {
    format!(
        "version: 1\nconfig:\n    - type: physical\n      name: eth0\n      mac_address: '{mac}'\n      subnets:\n      - type: static\n        address: '{addr}'\n        netmask: '{mask}'\n        gateway: '{gw}'\n    - type: nameserver\n      address:\n{ns}      search:\n      - '{search}'\n",
        mac = s.mac,
        addr = s.address,
        mask = netmask(s.prefix),
        gw = s.gateway,
        ns = quoted_items(&s.nameservers, "      "),
        search = s.search,
    )
    .into_bytes()
}

/// Proxmox's `network-config` for a NIC set to `ip=dhcp`: a `dhcp4` subnet, then the
/// `nameserver` entry.
pub fn network_config_v1_dhcp(mac: &str, nameserver: &str, search: &str) -> Vec<u8> {
    format!(
        "version: 1\nconfig:\n    - type: physical\n      name: eth0\n      mac_address: '{mac}'\n      subnets:\n      - type: dhcp4\n    - type: nameserver\n      address:\n      - '{nameserver}'\n      search:\n      - '{search}'\n"
    )
    .into_bytes()
}

/// How a version 2 configuration is written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum V2Route {
    /// Proxmox's own version 2 (`nocloud_network_v2` in `Cloudinit.pm`): no `network:` wrapper,
    /// `ethernets` keyed `net0`, a double-quoted `macaddress`, quoted `addresses`, `gateway4`.
    Gateway4,
    /// netplan's spelling under `network:`, the default route in `routes` (`to: 0.0.0.0/0`).
    Routes,
}

/// cloud-init's version 2: one `ethernets` entry matched by MAC, renamed, with `addresses`, the
/// default route as `gateway4` or `routes`, and `nameservers`.
pub fn network_config_v2(s: &StaticV4, route: V2Route) -> Vec<u8> {
    if route == V2Route::Gateway4 {
        return format!(
            "version: 2\nethernets:\n    net0:\n        match:\n            macaddress: \"{mac}\"\n        set-name: eth0\n        addresses:\n        - '{addr}/{prefix}'\n        gateway4: '{gw}'\n        nameservers:\n          addresses:\n{ns}          search:\n          - '{search}'\n",
            mac = s.mac,
            addr = s.address,
            prefix = s.prefix,
            gw = s.gateway,
            ns = quoted_items(&s.nameservers, "          "),
            search = s.search,
        )
        .into_bytes();
    }
    let route = format!("      routes:\n        - to: 0.0.0.0/0\n          via: {}\n", s.gateway);
    format!(
        "network:\n  version: 2\n  ethernets:\n    nic0:\n      match:\n        macaddress: '{mac}'\n      set-name: eth0\n      dhcp4: false\n      addresses:\n        - {addr}/{prefix}\n{route}      nameservers:\n        addresses: [{ns}]\n        search: [{search}]\n",
        mac = s.mac,
        addr = s.address,
        prefix = s.prefix,
        ns = s.nameservers.join(", "),
        search = s.search,
    )
    .into_bytes()
}

/// KubeVirt's `meta-data` (`pkg/cloud-init/types.go`: `NoCloudMetadata` marshalled by Go's
/// `encoding/json`: compact, fields in struct order — `instance-type`, `instance-id`,
/// `local-hostname` — and no keys: KubeVirt's SSH keys reach the guest another way).
pub fn kubevirt_meta_data(instance_type: &str, instance_id: &str, hostname: &str) -> Vec<u8> {
    let s = serde_json::Value::from;
    format!(
        "{{\"instance-type\":{},\"instance-id\":{},\"local-hostname\":{}}}",
        s(instance_type),
        s(instance_id),
        s(hostname)
    )
    .into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net() -> StaticV4 {
        StaticV4 {
            mac: "bc:24:11:0a:0b:0c".into(),
            address: "10.0.0.23".into(),
            prefix: 24,
            gateway: "10.0.0.1".into(),
            nameservers: vec!["10.0.0.1".into()],
            search: "flint.test".into(),
        }
    }

    #[test]
    fn documents() {
        assert_eq!(netmask(24), "255.255.255.0");
        assert_eq!(netmask(20), "255.255.240.0");
        assert_eq!(netmask(32), "255.255.255.255");
        let v1 = String::from_utf8(network_config_v1(&net())).unwrap();
        assert!(v1.contains("mac_address: 'bc:24:11:0a:0b:0c'") && v1.contains("netmask: '255.255.255.0'"), "{v1}");
        let v2 = String::from_utf8(network_config_v2(&net(), V2Route::Routes)).unwrap();
        assert!(v2.contains("- 10.0.0.23/24\n") && v2.contains("via: 10.0.0.1\n"), "{v2}");
        assert!(
            String::from_utf8(network_config_v2(&net(), V2Route::Gateway4)).unwrap().contains("gateway4: '10.0.0.1'")
        );
        let md = kubevirt_meta_data("u1.small", "vm.ns", "vm");
        assert_eq!(md, br#"{"instance-type":"u1.small","instance-id":"vm.ns","local-hostname":"vm"}"#);
        let cc =
            String::from_utf8(proxmox_cloud_config("vm1", "example.com", "core", &["ssh-ed25519 AAAA k"])).unwrap();
        assert!(cc.starts_with("#cloud-config\nhostname: vm1\n") && cc.contains("  - ssh-ed25519 AAAA k\n"));
    }

    /// Each tool's image carries the label and every file (needs the tools; skipped without).
    #[test]
    fn images_hold_the_files() {
        if ["genisoimage", "cloud-localds", "mkfs.vfat", "mcopy", "blkid"].iter().any(|t| util::which(t).is_none()) {
            eprintln!("drive tools missing: skipped");
            return;
        }
        let dir = util::ScratchDir::new("cidata-test").unwrap();
        let seed = Seed {
            user_data: Some(b"#cloud-config\n".to_vec()),
            meta_data: b"instance-id: i-1\n".to_vec(),
            network_config: Some(network_config_v1(&net())),
            vendor_data: Some(b"#cloud-config\n{}\n".to_vec()),
        };
        for b in [Build::ProxmoxIso, Build::LocaldsIso, Build::LocaldsVfat, Build::KubevirtVfat] {
            let img = build(b, &seed, dir.path()).unwrap();
            let out = proc::run_ok(
                Command::new(util::tool("blkid")).args(["-c", "/dev/null", "-o", "value", "-s", "LABEL"]).arg(&img),
                TOOL_LIMIT,
            )
            .unwrap();
            assert!(LABELS.contains(&String::from_utf8_lossy(&out.stdout).trim()), "{b:?}");
            let bytes = std::fs::read(&img).unwrap();
            for (name, content) in seed.files() {
                assert!(bytes.windows(content.len()).any(|w| w == content), "{b:?}: {name} not in the image");
            }
        }
    }
}
