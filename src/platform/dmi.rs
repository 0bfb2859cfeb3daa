//! Which platform the SMBIOS strings name: `--platform auto`, and a sanity check of an explicit
//! platform.
//!
//! Ignition never guesses (`docs/development.md`: "the platform ID must always be explicitly set
//! by the OS image, never guessed", because a link-local metadata address is easily spoofed),
//! so `auto` is opt-in only, and only a string a cloud is documented to set counts; anything
//! else is unknown. With an explicit platform the hint is only logged.
//!
//! Facts relied on (cloud-init `tools/ds-identify` `dscheck_*` and `ec2_identify_platform`,
//! `cloudinit/sources/DataSource*.py` and `helpers/*.py`, at 04eacd06; platforms.md §25):
//! - the strings are the kernel's `/sys/class/dmi/id/<name>` files; cloud-init's `dmi.py`
//!   strips surrounding whitespace (`.strip()`, and ds-identify's `read`), and reads a value of
//!   all `0xff` bytes (an unset field) as empty. Comparisons are exact and case-sensitive
//!   (Python `==`/`startswith`, shell `case`), except AWS's UUID (below);
//! - `sys_vendor` (`system-manufacturer`): `Linode` or `Akamai` (Akamai, `helpers/akamai.py`),
//!   `DigitalOcean`, `Hetzner`, `Vultr`, `UpCloud`, `Scaleway` (each the whole string; cloud-init
//!   notes Scaleway's is checked ahead of Scaleway setting it);
//! - `product_name` (`system-product-name`): `Google Compute Engine` or `Google` (GCE,
//!   `platform_reports_gce`), `OpenStack Nova` or `OpenStack Compute` (OpenStack),
//!   `Alibaba Cloud ECS` (AliYun); starting with `Exoscale` (Exoscale) or `CloudStack`
//!   (CloudStack);
//! - `chassis_asset_tag`: `7783-7084-3265-9085-8269-3286-77` (Azure, `azure/identity.py`),
//!   `OracleCloud.com` (Oracle), and for OpenStack the two product names again plus
//!   `OpenTelekomCloud`, `SAP CCloud VM`, `HUAWEICLOUD`, `Samsung Cloud Platform` (OpenStack
//!   clouds that brand the tag, `VALID_DMI_ASSET_TAGS`);
//! - `product_serial` (`system-serial-number`): starting with `GoogleCloud-` (GCE, where the
//!   product name "is not guaranteed", LP: #1674861); a space-separated word starting with
//!   `ds=nocloud` is cloud-init's NoCloud seed selector (`dscheck_NoCloud`; Proxmox's and
//!   libvirt's `-smbios type=1,serial=ds=nocloud;s=URL`);
//! - `product_uuid` (`system-uuid`, readable by root only): AWS's documented quick check ("Detect
//!   whether a host is an EC2 instance"): its first group starts with `ec2`, or, in the
//!   little-endian form some SMBIOS versions show, ends with `2?ec` (`EC2E1916-…` /
//!   `45E12AEC-…`), either case. AWS calls it "potentially inaccurate": a random UUID matches
//!   about one time in 2048. So it is weaker than every named string: it counts only when no
//!   other rule matched;
//! - `bios_vendor` is read and shown, but no source names a cloud by it. QEMU's own strings
//!   (`QEMU`, `Standard PC (…)`, `SeaBIOS`) name no cloud: a plain QEMU VM, a Proxmox VE VM and
//!   a KubeVirt VM look alike there, so `qemu`, `proxmoxve` and `kubevirt` are never chosen
//!   (for `qemu` Ignition's warning applies in full). Neither is `ibmcloud`: cloud-init finds
//!   IBM Cloud by Xen and drive labels, not DMI.
//!
//! Two rules naming different platforms (a product name of one cloud, an asset tag of another)
//! are no clear answer: unknown.

use core::fmt;

use crate::fmt::Bytes;

/// The SMBIOS strings flint reads, as `/sys/class/dmi/id` names them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    SysVendor,
    ProductName,
    ChassisAssetTag,
    BiosVendor,
    ProductSerial,
    ProductUuid,
}

/// The names, in [`Key`] order.
const NAMES: [&str; 6] =
    ["sys_vendor", "product_name", "chassis_asset_tag", "bios_vendor", "product_serial", "product_uuid"];

const DIR: &[u8] = b"/sys/class/dmi/id/";

/// Room for the longest path, NUL included.
pub const PATH_MAX: usize = 40;

impl Key {
    pub const ALL: [Key; 6] =
        [Key::SysVendor, Key::ProductName, Key::ChassisAssetTag, Key::BiosVendor, Key::ProductSerial, Key::ProductUuid];

    /// `sys_vendor`, `product_name`, …
    pub fn name(self) -> &'static str {
        NAMES[self as usize]
    }

    /// The sysfs file, NUL-terminated, in `buf`.
    pub fn path(self, buf: &mut [u8; PATH_MAX]) -> &[u8] {
        let name = self.name().as_bytes();
        let n = DIR.len() + name.len();
        buf[..DIR.len()].copy_from_slice(DIR);
        buf[DIR.len()..n].copy_from_slice(name);
        buf[n] = 0;
        &buf[..=n]
    }
}

/// The strings of one machine; a file that is missing or unreadable is an empty string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Smbios<'a> {
    values: [&'a [u8]; 6],
}

impl<'a> Smbios<'a> {
    /// Sets `key` from the file's bytes: surrounding whitespace dropped, an unset field (all
    /// `0xff`) empty, as cloud-init's `dmi.py` reads them.
    pub fn set(&mut self, key: Key, raw: &'a [u8]) {
        let v = raw.trim_ascii();
        self.values[key as usize] = if v.iter().all(|&b| b == 0xff) { &[] } else { v };
    }

    pub fn get(&self, key: Key) -> &'a [u8] {
        self.values[key as usize]
    }

    /// Which platform the strings name, and the string that decided; `None` when none or more
    /// than one does.
    pub fn platform(&self) -> Option<Hint> {
        let mut found: Option<Hint> = None;
        for line in RULES.split('\n') {
            let (rule, platform) = line.split_once('|')?;
            let b = rule.as_bytes();
            let key = Key::ALL[b"vpcbsu".iter().position(|&k| k == b[0])?];
            let (value, v) = (&b[2..], self.get(key));
            let hit = match b[1] {
                b'=' => v == value,
                b'^' => v.starts_with(value),
                b'~' => v.split(|&b| b == b' ').any(|w| w.starts_with(value)),
                // The UUID rule is last and weakest: only when no named string matched.
                _ if found.is_some() => break,
                _ => ec2_uuid(v),
            };
            match found {
                _ if !hit => {}
                Some(h) if h.platform != platform => return None,
                Some(_) => {}
                None => found = Some(Hint { platform, key }),
            }
        }
        found
    }
}

/// AWS's check: the UUID's first group starts with `ec2`, or ends with `2?ec` (little-endian),
/// in either case.
fn ec2_uuid(v: &[u8]) -> bool {
    let group = v.split(|&b| b == b'-').next().unwrap_or_default();
    let n = group.len();
    group.get(..3).is_some_and(|p| p.eq_ignore_ascii_case(b"ec2"))
        || n >= 4
            && group[n - 4] == b'2'
            && group[n - 3].is_ascii_hexdigit()
            && group[n - 2..].eq_ignore_ascii_case(b"ec")
}

/// `sys_vendor "QEMU", product_name "Standard PC (i440FX + PIIX, 1996)", …`: every string, for
/// the error of an unknown machine.
impl fmt::Display for Smbios<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, k) in Key::ALL.into_iter().enumerate() {
            let sep = if i > 0 { ", " } else { "" };
            write!(f, "{sep}{} \"{}\"", k.name(), Bytes(self.get(k)))?;
        }
        Ok(())
    }
}

/// A platform the SMBIOS strings name, and which string named it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hint {
    /// A platform id, resolved with [`super::by_id`] where it is used.
    pub platform: &'static str,
    pub key: Key,
}

/// Every documented string (module docs), one rule a line: `<key><test><value>|<platform>`.
/// The key is a letter of `vpcbsu` (`sys_vendor`, `product_name`, `chassis_asset_tag`,
/// `bios_vendor`, `product_serial`, `product_uuid`); the test is `=` (the whole string), `^` (a
/// prefix), `~` (a prefix of a space-separated word) or `*` (AWS's UUID check, no value; last,
/// because weakest). Text rather than a table of structs: the first version, with a struct
/// per rule, made the binary 1.3 KB larger.
const RULES: &str = "\
v=Linode|akamai
v=Akamai|akamai
v=DigitalOcean|digitalocean
v=Hetzner|hetzner
v=Vultr|vultr
v=UpCloud|upcloud
v=Scaleway|scaleway
p=Google Compute Engine|gcp
p=Google|gcp
p=OpenStack Nova|openstack
p=OpenStack Compute|openstack
p=Alibaba Cloud ECS|aliyun
p^Exoscale|exoscale
p^CloudStack|cloudstack
c=7783-7084-3265-9085-8269-3286-77|azure
c=OracleCloud.com|oraclecloud
c=OpenStack Nova|openstack
c=OpenStack Compute|openstack
c=OpenTelekomCloud|openstack
c=SAP CCloud VM|openstack
c=HUAWEICLOUD|openstack
c=Samsung Cloud Platform|openstack
s^GoogleCloud-|gcp
s~ds=nocloud|nocloud
u*|aws";

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;
    use std::vec::Vec;

    fn machine(pairs: &[(Key, &'static str)]) -> Smbios<'static> {
        let mut s = Smbios::default();
        for &(k, v) in pairs {
            s.set(k, v.as_bytes());
        }
        s
    }

    fn pick(pairs: &[(Key, &'static str)]) -> Option<(&'static str, Key)> {
        machine(pairs).platform().map(|h| (h.platform, h.key))
    }

    /// Each cloud as its machines show it (sysfs adds the newline).
    #[test]
    fn each_cloud_by_its_documented_string() {
        use Key::*;
        let qemu_board = [(BiosVendor, "SeaBIOS\n"), (ProductUuid, "9a3f07d1-5c4e-4f7e-8a51-3c1d2b6e0f42\n")];
        for (key, value, platform) in [
            (SysVendor, "Linode\n", "akamai"),
            (SysVendor, "Akamai\n", "akamai"),
            (SysVendor, "DigitalOcean\n", "digitalocean"),
            (SysVendor, "Hetzner\n", "hetzner"),
            (SysVendor, "Vultr\n", "vultr"),
            (SysVendor, "UpCloud\n", "upcloud"),
            (SysVendor, "Scaleway\n", "scaleway"),
            (ProductName, "Google Compute Engine\n", "gcp"),
            (ProductName, "Google\n", "gcp"),
            (ProductSerial, "GoogleCloud-7C5E2A41D9B3F0E6\n", "gcp"),
            (ProductName, "OpenStack Nova\n", "openstack"),
            (ProductName, "OpenStack Compute\n", "openstack"),
            (ChassisAssetTag, "HUAWEICLOUD\n", "openstack"),
            (ChassisAssetTag, "SAP CCloud VM\n", "openstack"),
            (ProductName, "Alibaba Cloud ECS\n", "aliyun"),
            (ProductName, "Exoscale Compute Platform\n", "exoscale"),
            (ProductName, "CloudStack KVM Hypervisor\n", "cloudstack"),
            (ChassisAssetTag, "7783-7084-3265-9085-8269-3286-77\n", "azure"),
            (ChassisAssetTag, "OracleCloud.com\n", "oraclecloud"),
            (ProductSerial, "ds=nocloud;s=http://10.0.0.1:8000/\n", "nocloud"),
            (ProductSerial, "ds=nocloud-net;seedfrom=http://10.0.0.1/\n", "nocloud"),
            (ProductSerial, "vm-42 ds=nocloud;i=iid-1\n", "nocloud"),
        ] {
            let mut pairs = std::vec![(key, value)];
            if key != ProductUuid {
                pairs.extend(qemu_board);
            }
            assert_eq!(pick(&pairs), Some((platform, key)), "{}={value:?}", key.name());
        }
    }

    #[test]
    fn aws_by_its_uuid_in_either_byte_order_and_case() {
        use Key::*;
        for uuid in [
            "ec2e1916-9099-7caf-fd21-012345abcdef\n",
            "EC2E1916-9099-7CAF-FD21-012345ABCDEF",
            "45E12AEC-DCD1-B213-94ED-012345ABCDEF",
            "45e12aec-dcd1-b213-94ed-012345abcdef",
        ] {
            let s = machine(&[(SysVendor, "Amazon EC2"), (ProductUuid, uuid)]);
            assert_eq!(s.platform(), Some(Hint { platform: "aws", key: ProductUuid }), "{uuid}");
        }
        for uuid in ["", "9a3f07d1-5c4e-4f7e-8a51-3c1d2b6e0f42", "ec-2", "e2c00000-0000", "45E12AGC-DCD1", "2ec"] {
            assert_eq!(pick(&[(ProductUuid, uuid)]), None, "{uuid}");
        }
        // ds-identify's pattern is on the whole first group, however short.
        assert_eq!(pick(&[(ProductUuid, "2aec")]), Some(("aws", ProductUuid)));
        // Weakest: a named string wins over a UUID that happens to start with ec2.
        let s = [(ProductName, "OpenStack Nova"), (ProductUuid, "ec2a0d2c-0000-4000-8000-000000000001")];
        assert_eq!(pick(&s), Some(("openstack", ProductName)));
    }

    #[test]
    fn near_misses_are_unknown() {
        use Key::*;
        for (key, value) in [
            (SysVendor, "linode"),
            (SysVendor, "Linode Inc"),
            (SysVendor, "DIGITALOCEAN"),
            (SysVendor, "Hetzner Online GmbH"),
            (SysVendor, "Amazon EC2"),
            (SysVendor, "Google"),
            (ProductName, "Google Compute"),
            (ProductName, "OpenStack"),
            (ProductName, "openstack nova"),
            (ProductName, "Alibaba Cloud"),
            (ProductName, "My Exoscale"),
            (ProductName, "cloudstack"),
            (ChassisAssetTag, "7783-7084-3265-9085-8269-3286-7"),
            (ChassisAssetTag, "oraclecloud.com"),
            (ProductSerial, "GoogleCloud"),
            (ProductSerial, "xds=nocloud"),
            (ProductSerial, "ds=NoCloud"),
            (BiosVendor, "Google"),
            (BiosVendor, "Amazon EC2"),
        ] {
            assert_eq!(pick(&[(key, value)]), None, "{}={value:?}", key.name());
        }
    }

    #[test]
    fn qemu_and_no_dmi_at_all_are_unknown() {
        use Key::*;
        // QEMU's own SMBIOS (i440FX and q35), as a Proxmox VE or plain QEMU VM shows it.
        for product in ["Standard PC (i440FX + PIIX, 1996)", "Standard PC (Q35 + ICH9, 2009)"] {
            let s = [
                (SysVendor, "QEMU\n"),
                (ProductName, product),
                (BiosVendor, "SeaBIOS\n"),
                (ProductUuid, "9a3f07d1-5c4e-4f7e-8a51-3c1d2b6e0f42\n"),
            ];
            assert_eq!(pick(&s), None);
        }
        assert_eq!(Smbios::default().platform(), None, "a machine without DMI (a container)");
    }

    #[test]
    fn two_clouds_at_once_are_no_answer() {
        use Key::*;
        assert_eq!(pick(&[(ProductName, "OpenStack Nova"), (ChassisAssetTag, "OracleCloud.com")]), None);
        assert_eq!(pick(&[(SysVendor, "Hetzner"), (ProductSerial, "ds=nocloud;s=http://x/")]), None);
        // Two strings of the same cloud agree: the first decides.
        let gcp = [(ProductName, "Google Compute Engine"), (ProductSerial, "GoogleCloud-1")];
        assert_eq!(pick(&gcp), Some(("gcp", ProductName)));
        let nova = [(ProductName, "OpenStack Nova"), (ChassisAssetTag, "OpenStack Nova")];
        assert_eq!(pick(&nova), Some(("openstack", ProductName)));
    }

    #[test]
    fn whitespace_and_unset_fields() {
        use Key::*;
        // cloud-init strips (`.strip()`, shell `read`); the kernel ends each file with a newline.
        assert_eq!(pick(&[(SysVendor, "  DigitalOcean \t\n")]), Some(("digitalocean", SysVendor)));
        // Inner whitespace is part of the string.
        assert_eq!(pick(&[(ProductName, "OpenStack  Nova")]), None);
        let mut s = Smbios::default();
        s.set(ChassisAssetTag, b"\xff\xff\xff\xff\n");
        assert_eq!(s.get(ChassisAssetTag), b"");
        s.set(SysVendor, b"Vultr\n");
        assert_eq!(s.get(SysVendor), b"Vultr");
    }

    #[test]
    fn names_paths_and_display() {
        let names: Vec<&str> = Key::ALL.iter().map(|k| k.name()).collect();
        assert_eq!(
            names,
            ["sys_vendor", "product_name", "chassis_asset_tag", "bios_vendor", "product_serial", "product_uuid"]
        );
        for k in Key::ALL {
            let p = std::str::from_utf8(k.path(&mut [0; PATH_MAX])).unwrap().to_string();
            assert_eq!(p, std::format!("/sys/class/dmi/id/{}\0", k.name()));
            assert_eq!(Key::ALL[k as usize], k);
        }
        let s = machine(&[(Key::SysVendor, "QEMU\n"), (Key::ProductName, "Standard PC\u{1}")]);
        assert_eq!(
            s.to_string(),
            "sys_vendor \"QEMU\", product_name \"Standard PC?\", chassis_asset_tag \"\", bios_vendor \"\", \
             product_serial \"\", product_uuid \"\""
        );
    }

    #[test]
    fn every_rule_is_well_formed() {
        for line in RULES.split('\n') {
            let (rule, id) = line.split_once('|').unwrap();
            let b = rule.as_bytes();
            assert!(b"vpcbsu".contains(&b[0]) && !id.is_empty() && !id.contains('|'), "{line}");
            match b[1] {
                b'=' | b'^' | b'~' => assert!(b.len() > 2 && rule.trim() == rule, "{line}"),
                b'*' => assert!(b.len() == 2 && line == RULES.rsplit('\n').next().unwrap(), "{line}: last"),
                _ => panic!("{line}: unknown test"),
            }
        }
    }

    fn unknown_ids() -> Vec<&'static str> {
        let ids = RULES.split('\n').map(|l| l.split_once('|').unwrap().1);
        ids.filter(|id| super::super::by_id(id.as_bytes()).is_none()).collect()
    }

    /// Every platform the table names is one flint knows.
    #[test]
    fn every_platform_in_the_table_is_known() {
        let unknown = unknown_ids();
        assert!(unknown.is_empty(), "not in platform::ALL: {unknown:?}");
    }
}
