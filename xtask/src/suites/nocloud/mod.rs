//! The NoCloud suite (issue #10, `cargo xtask nocloud [FILTER] [--keep]`): flint against
//! `cidata` drives made as the platforms make them and against cloud-init's NoCloud network
//! seed, in network namespaces, and its hand-offs read by the real consumers.
//!
//! - **Drives** (`harness::cidata`): Proxmox VE's `genisoimage -quiet -iso-level 3 -J -R -V
//!   cidata` of its four files (its `#cloud-config` or an Ignition `cicustom` user-data,
//!   `instance-id: <sha1>`, a version 1 `network-config`, `vendor-data`); Debian's
//!   `cloud-localds` (ISO and `--filesystem vfat`); a KubeVirt-style VFAT with KubeVirt's JSON
//!   `meta-data`. Attached as read-only loop devices and found by scanning, in a namespace with
//!   **no NIC at all**, or named with `--drive`. Platforms `proxmoxve`, `kubevirt` and `nocloud`.
//! - **The network seed** (`mock::nocloud`, strict: exact paths, the URL's `Host`):
//!   `ds=nocloud;s=http://…/` on the kernel command line (`--cmdline FILE`), on a veth with **no
//!   DHCP server**: the address comes from `ip=` or from a drive's `network-config` (v1 or v2),
//!   the seed on-link or behind the gateway; a `network-config` for another MAC is not applied
//!   (a bounded exit 4, never a hang); with dnsmasq present the static address still wins (the
//!   mock logs the client's address).
//!
//! Each run is held to the checks every run gets (exit code, time within the budget, the exact
//! file set under `--root` with modes and bytes, the report with `source`, the stderr format,
//! no user-data bytes in any log) plus the hand-offs (`checks.rs`) and, for the `consumer-`
//! cases, what Ignition and cloud-init make of them (`consumers.rs`).
//!
//! Every namespace sees every block device, so a case that scans first checks that no other
//! `cidata` (or, for kubevirt, `config-2`) drive is attached (`drive::foreign_drives`).

mod case;
mod checks;
mod consumers;

use std::path::Path;
use std::time::Duration;

use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::cidata::{self, Build, Seed, StaticV4, V2Route};
use crate::harness::drive::{self, Loop};
use crate::harness::drivecase::{self, CaseNet, Observed};
use crate::harness::flint::{FlintRun, runner_ready, verdict};
use crate::harness::netns::{self, Addressing};
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::mock::{self, Platform, nocloud, payloads};
use crate::support::{deps, util};
use case::*;

/// Runs `"$@"` (flint) in the mount namespace `unshare` made, with an SMBIOS system serial
/// number of its own: `/sys/class` becomes a tmpfs holding bind mounts of every class the
/// machine has (`block` and `net` included) but `dmi`, whose `id/product_serial` is the file
/// `$1` (a machine without DMI, like a namespace host, has no such file to bind over). `$2` is
/// an empty directory that keeps the original `/sys/class` reachable.
const SMBIOS_SERIAL: &str = r#"serial="$1"; keep="$2"; shift 2
mount --bind /sys/class "$keep" || exit 100
mount -t tmpfs -o mode=755 flint-sysclass /sys/class || exit 100
for d in "$keep"/*; do
  n=${d##*/}
  [ "$n" = dmi ] && continue
  mkdir "/sys/class/$n" && mount --bind "$d" "/sys/class/$n" || exit 100
done
mkdir -p /sys/class/dmi/id && cp "$serial" /sys/class/dmi/id/product_serial || exit 100
exec "$@""#;

pub const SUITE: Suite = Suite { name: "nocloud", needs_flint: true, gate: false, run, cases: || all().len() };

pub fn all() -> Vec<Case> {
    use checks::*;
    let d =
        |build, user_data, meta, net| DriveCase { build, user_data, meta, net, vendor: Vendor::Snippet, at: At::Scan };
    let localds_iso = d(Build::LocaldsIso, UserData::Ignition, Meta::Yaml, NetCfg::V1);
    let localds_vfat = d(Build::LocaldsVfat, UserData::Ignition, Meta::Yaml, NetCfg::V2(V2Route::Routes));
    let kubevirt_vfat =
        DriveCase { vendor: Vendor::None, ..d(Build::KubevirtVfat, UserData::Ignition, Meta::Kubevirt, NetCfg::None) };
    vec![
        // --- Proxmox VE's drive, no NIC at all ------------------------------------------------
        Case {
            consumers: true,
            extra: Some(found_on_loop),
            ..Case::drive(
                "proxmox-ignition",
                "Proxmox's ISO, an Ignition cicustom user-data: user.ign byte-exact, the four files in the seed, IPV4 from network-config; Ignition and cloud-init take them",
                "proxmoxve",
                PROXMOX,
            )
        },
        Case {
            ..Case::drive(
                "proxmox-ignition-arg",
                "the same named with --drive IMAGE",
                "proxmoxve",
                DriveCase { at: At::Arg, ..PROXMOX },
            )
        },
        Case {
            consumers: true,
            exit: 7,
            error_phase: Some("ignition"),
            ..Case::drive(
                "proxmox-cloud-config",
                "Proxmox's generated #cloud-config: exit 7, no user.ign; hostname and keys in the fragment and HOSTNAME attribute; cloud-init takes the seed",
                "proxmoxve",
                DriveCase { user_data: UserData::ProxmoxCloudConfig, vendor: Vendor::Empty, ..PROXMOX },
            )
        },
        Case {
            consumers: true,
            exit: 7,
            error_phase: Some("ignition"),
            ..Case::drive(
                "proxmox-cloud-config-users",
                "a cicustom #cloud-config with the keys only under users[]: exit 7, the keys in the fragment",
                "proxmoxve",
                DriveCase { user_data: UserData::UsersCloudConfig, ..PROXMOX },
            )
        },
        Case {
            within: Some(2.5),
            extra: Some(found_on_loop),
            ..Case::drive(
                "proxmox-late-drive",
                "Proxmox's CD attached 0.8 s into the run (its driver still loading): found by a rescan",
                "proxmoxve",
                DriveCase { at: At::ScanLate(Duration::from_millis(800)), ..PROXMOX },
            )
        },
        Case {
            exit: 3,
            handoff: false,
            ..Case::drive(
                "proxmox-no-user-data",
                "a Proxmox drive without user-data: \"none\", exit 3, nothing written",
                "proxmoxve",
                DriveCase { user_data: UserData::Absent, ..PROXMOX },
            )
        },
        // --- cloud-localds and KubeVirt drives -------------------------------------------------
        Case {
            consumers: true,
            ..Case::drive(
                "localds-iso-kubevirt",
                "cloud-localds ISO with -N (v1) and -V, platform kubevirt: hand-offs; Ignition (kubevirt) and cloud-init",
                "kubevirt",
                localds_iso,
            )
        },
        Case {
            consumers: true,
            ..Case::drive(
                "localds-vfat-kubevirt",
                "cloud-localds --filesystem vfat with a v2 network-config, platform kubevirt",
                "kubevirt",
                localds_vfat,
            )
        },
        Case {
            consumers: true,
            ..Case::drive(
                "kubevirt-vfat",
                "KubeVirt-style VFAT cidata, JSON meta-data (instance-type, instance-id, local-hostname): Afterburn's KUBEVIRT attributes",
                "kubevirt",
                kubevirt_vfat,
            )
        },
        // --- the same drives, --platform nocloud ----------------------------------------------
        Case {
            consumers: true,
            ..Case::drive(
                "nocloud-localds-iso",
                "cloud-localds ISO, platform nocloud, no NIC: the drive alone",
                "nocloud",
                localds_iso,
            )
        },
        Case {
            ..Case::drive(
                "nocloud-localds-vfat",
                "cloud-localds --filesystem vfat, platform nocloud",
                "nocloud",
                localds_vfat,
            )
        },
        Case {
            ..Case::drive(
                "nocloud-kubevirt-vfat",
                "KubeVirt-style VFAT (JSON meta-data), platform nocloud, named with --drive",
                "nocloud",
                DriveCase { at: At::Arg, ..kubevirt_vfat },
            )
        },
        // cloud-init requires `user-data` and `meta-data` in a seed and skips one without
        // them; flint's nocloud does the same (a drive without user-data only addresses the
        // network), so with no network seed there is no source: exit 4, "no config drive
        // found" (docs/contract.md). Proxmox's drive without user-data is "none" instead (above).
        Case {
            exit: 4,
            source: None,
            error_phase: Some("drive"),
            within: None,
            handoff: false,
            ..Case::drive(
                "nocloud-drive-no-user-data",
                "platform nocloud, a drive without user-data and no seed: not a seed, no source, exit 4 within the budget",
                "nocloud",
                DriveCase { user_data: UserData::Absent, ..localds_iso_no_ud() },
            )
        },
        // --- the network seed, no DHCP server ------------------------------------------------
        Case {
            consumers: true,
            extra: Some(static_from_ip_arg),
            ..Case::seed(
                "seed-ip-cmdline",
                "ds=nocloud;s=http://10.0.0.1:8000/… and ip=…:off nameserver= on the kernel line only: user-data and meta-data from the seed; Ignition and cloud-init take the hand-offs",
                "10.0.0.23",
            )
        },
        Case {
            ip_form: IpForm::FcosNone,
            extra: Some(static_from_ip_arg),
            ..Case::seed(
                "seed-ip-fcos-form",
                "ip=<addr>::<gw>:<mask>:<host>:eth0:none:<dns> as Fedora CoreOS documents it",
                "10.0.0.41",
            )
        },
        Case {
            ip_form: IpForm::AnyIface,
            extra: Some(static_from_ip_arg),
            ..Case::seed(
                "seed-ip-any-iface",
                "ip= without an interface name: applied to the NIC flint uses",
                "10.0.0.42",
            )
        },
        Case {
            ip_form: IpForm::OtherIface,
            budget: 4.0,
            within: None,
            exit: 4,
            source: None,
            extra: Some(other_iface_unused),
            ..Case::seed(
                "seed-ip-other-iface",
                "ip= for ens3 on a machine whose NIC is eth0, no DHCP: not applied, exit 4 within the budget",
                "10.0.0.43",
            )
        },
        Case {
            seed: Some(SeedCase { off_link: true, ..SEED }),
            extra: Some(static_from_ip_arg),
            ..Case::seed(
                "seed-ip-cmdline-off-link",
                "the seed behind the router (192.0.2.80): reached through ip='s gateway",
                "10.0.0.27",
            )
        },
        Case {
            seed: Some(SeedCase { form: Form::NoCloudNet, ..SEED }),
            ..Case::seed("seed-nocloud-net", "the legacy ds=nocloud-net;seedfrom=URL", "10.0.0.28")
        },
        Case {
            ip_arg: false,
            drive: Some(net_only(NetCfg::V1)),
            consumers: true,
            extra: Some(static_from_network_config),
            ..Case::seed(
                "seed-drive-network-config",
                "a cidata drive with meta-data and Proxmox's v1 network-config but no user-data: the drive gives the address, the seed the user-data",
                "10.0.0.24",
            )
        },
        Case {
            ip_arg: false,
            drive: Some(net_only(NetCfg::V2(V2Route::Routes))),
            seed: Some(SeedCase { off_link: true, ..SEED }),
            extra: Some(static_from_network_config),
            ..Case::seed(
                "seed-network-config-v2-routes",
                "netplan-style v2 under network: (match: macaddress, addresses, routes to 0.0.0.0/0, nameservers); the seed behind the router",
                "10.0.0.25",
            )
        },
        Case {
            ip_arg: false,
            drive: Some(net_only(NetCfg::V2(V2Route::Gateway4))),
            seed: Some(SeedCase { off_link: true, ..SEED }),
            extra: Some(static_from_network_config),
            ..Case::seed(
                "seed-network-config-v2-gateway4",
                "Proxmox's own v2 spelling (no network: wrapper, net0, quoted macaddress, gateway4); the seed behind the router",
                "10.0.0.26",
            )
        },
        Case {
            ip_arg: false,
            drive: Some(net_only(NetCfg::V1WrongMac)),
            budget: 4.0,
            within: None,
            exit: 4,
            source: None,
            extra: Some(wrong_mac_unused),
            ..Case::seed(
                "seed-wrong-mac",
                "network-config for a MAC no NIC has, no DHCP: not applied, exit 4 within the budget, the configured address never used",
                "10.0.0.31",
            )
        },
        Case {
            net: Net::Dhcp,
            extra: Some(static_from_ip_arg),
            ..Case::seed(
                "seed-static-beats-dhcp-ip",
                "dnsmasq answers too, and ip= is static: the seed sees the static address",
                "10.0.0.29",
            )
        },
        Case {
            net: Net::Dhcp,
            ip_arg: false,
            drive: Some(net_only(NetCfg::V1)),
            extra: Some(static_from_network_config),
            ..Case::seed(
                "seed-static-beats-dhcp-drive",
                "dnsmasq answers too, and the drive's network-config is static: the seed sees the static address",
                "10.0.0.30",
            )
        },
        Case {
            seed: Some(SeedCase { user_data: false, ..SEED }),
            exit: 3,
            ..Case::seed("seed-no-user-data", "the seed's user-data is 404: \"none\", exit 3", "10.0.0.32")
        },
        Case {
            net: Net::Dhcp,
            ip_arg: false,
            drive: Some(net_only(NetCfg::V1WrongMac)),
            extra: Some(wrong_mac_then_dhcp),
            ..Case::seed(
                "seed-wrong-mac-dhcp",
                "network-config for another MAC and dnsmasq answering: \"nothing for eth0\", a DHCP lease reaches the seed",
                "10.0.0.37",
            )
        },
        Case {
            seed: Some(SeedCase {
                url: Some("http://10.0.0.1:8000/cgi-bin/seed?vm=flint-nc-01&f=%s"),
                mock_path: "/cgi-bin/seed?vm=flint-nc-01&f=",
                ..SEED
            }),
            ..Case::seed(
                "seed-percent-s",
                "s=http://…/cgi-bin/seed?vm=…&f=%s: %s replaced by each file name, the query kept",
                "10.0.0.38",
            )
        },
        Case {
            drive: Some(localds_iso),
            seed: Some(SeedCase { url: Some("https://10.0.0.1:8000/nocloud/flint-nc-01/"), ..SEED }),
            source: Some("drive"),
            extra: Some(seed_not_used),
            ..Case::seed(
                "seed-https-drive-answers",
                "an https:// seed (no TLS in this build): logged as not used, never contacted; the drive answers",
                "10.0.0.39",
            )
        },
        Case {
            drive: Some(localds_iso),
            seed: Some(SeedCase { url: Some("http://seed.flint.test:8000/nocloud/flint-nc-01/"), ..SEED }),
            source: Some("drive"),
            extra: Some(seed_not_asked),
            ..Case::seed(
                "seed-hostname-drive-answers",
                "a seed named by host name on a network that names no DNS server: the name waits for one, the seed is never contacted, the drive answers (names resolving: `cargo xtask dualstack`)",
                "10.0.0.40",
            )
        },
        Case {
            ip_arg: false,
            drive: Some(net_only(NetCfg::V1Dhcp)),
            budget: 5.0,
            within: None,
            exit: 4,
            source: None,
            extra: Some(dhcp_forced_no_link_local),
            ..Case::seed(
                "seed-network-config-dhcp4-no-server",
                "network-config says dhcp4 for the NIC and no DHCP server answers: DHCP only, no link-local fallback, exit 4 within the budget",
                "10.0.0.47",
            )
        },
        Case {
            net: Net::Dhcp,
            ip_arg: false,
            drive: Some(net_only(NetCfg::V1Dhcp)),
            extra: Some(lease_reached_seed),
            ..Case::seed(
                "seed-network-config-dhcp4",
                "network-config says dhcp4 and dnsmasq answers: a lease reaches the seed",
                "10.0.0.48",
            )
        },
        // cloud-init's order of precedence (its network-config reference): the datasource's
        // configuration, then the system's, then the kernel command line's `ip=`, each
        // overriding the one before.
        Case {
            drive: Some(net_only(NetCfg::V1OtherAddr)),
            extra: Some(static_from_ip_arg),
            ..Case::seed(
                "seed-ip-beats-network-config",
                "ip= and a drive's network-config with another address for the same NIC: ip= wins, as in cloud-init",
                "10.0.0.45",
            )
        },
        Case {
            seed: Some(SeedCase { meta_data: false, ..SEED }),
            exit: 6,
            error_phase: Some("write"),
            ..Case::seed(
                "seed-no-meta-data",
                "the seed's meta-data is 404: user.ign and the output written, no instance id so no seed (exit 6)",
                "10.0.0.44",
            )
        },
        Case {
            seed: Some(SeedCase { port: 80, slash: false, ..SEED }),
            ..Case::seed(
                "seed-port-80-no-slash",
                "s=http://10.0.0.1/nocloud/flint-nc-01 (port 80, no trailing /): Host without a port, the / added before the file name",
                "10.0.0.34",
            )
        },
        Case {
            seed: Some(SeedCase { selector: Selector::Serial, ..SEED }),
            ..Case::seed(
                "seed-smbios-serial",
                "the selector in the SMBIOS serial (Proxmox's -smbios type=1,serial=ds=nocloud;s=…), only ip= on the kernel line",
                "10.0.0.35",
            )
        },
        Case {
            seed: Some(SeedCase { selector: Selector::SerialOverCmdline, ..SEED }),
            ..Case::seed(
                "seed-smbios-serial-wins",
                "a selector in the serial and another one on the kernel line: the serial's seed is asked, the kernel line's never",
                "10.0.0.36",
            )
        },
        Case {
            drive: Some(DriveCase { at: At::Scan, ..localds_iso }),
            source: Some("drive"),
            within: Some(1.5),
            extra: Some(drive_won_seed_quiet),
            ..Case::seed(
                "race-drive-and-seed",
                "a cidata drive with user-data and a seed: the drive answers first, the seed is at most asked",
                "10.0.0.33",
            )
        },
    ]
}

/// A `cloud-localds`-like layout without user-data, made with genisoimage (cloud-localds
/// always writes one).
fn localds_iso_no_ud() -> DriveCase {
    DriveCase {
        build: Build::ProxmoxIso,
        user_data: UserData::Absent,
        meta: Meta::Yaml,
        net: NetCfg::V1,
        vendor: Vendor::None,
        at: At::Scan,
    }
}

/// A cidata drive for a network seed: Proxmox's meta-data (another instance id than the
/// seed's, so a mix-up shows) and a network-config, no user-data.
fn net_only(net: NetCfg) -> DriveCase {
    DriveCase { user_data: UserData::Absent, net, vendor: Vendor::None, ..PROXMOX }
}

/// An Ignition config of spec 3.3.0 with content of its own (a file holding the marker, a
/// unit, a user), and neither `/etc/hostname` nor `core`, so the fragment shows in the merge.
fn ignition_config(marker: &str, origin: &str) -> Vec<u8> {
    let v = serde_json::json!({
        "ignition": {"version": "3.3.0"},
        "passwd": {"users": [{"name": "ops", "groups": ["wheel"]}]},
        "storage": {"files": [
            {"path": "/etc/flint/marker", "mode": 420, "contents": {"source": format!("data:,{marker}")}},
            {"path": "/etc/flint/source", "mode": 420, "contents": {"source": format!("data:,{origin}")}}
        ]},
        "systemd": {"units": [{"name": "flint-hello.service", "enabled": true,
            "contents": "[Unit]\nDescription=hello\n\n[Service]\nType=oneshot\nExecStart=/usr/bin/true\n\n[Install]\nWantedBy=multi-user.target\n"}]}
    });
    let mut out = serde_json::to_vec_pretty(&v).unwrap_or_default();
    out.push(b'\n');
    out
}

fn static_v4(c: &Case, mac: &str) -> StaticV4 {
    StaticV4 {
        mac: mac.into(),
        address: c.addr.into(),
        prefix: 24,
        gateway: netns::ROUTER_IP.into(),
        nameservers: vec![NAMESERVER.into()],
        search: SEARCH.into(),
    }
}

/// The drive's files for the case (`mac`: the NIC the network-config is for).
fn drive_seed(c: &Case, d: &DriveCase, mac: &str, marker: &str) -> Seed {
    let user_data = match d.user_data {
        UserData::Ignition => Some(ignition_config(marker, "drive")),
        UserData::ProxmoxCloudConfig => {
            let mut cc = cidata::proxmox_cloud_config(PVE_HOSTNAME, PVE_DOMAIN, PVE_USER, &nocloud::PLAIN_KEYS);
            // The marker rides in a comment, so the log checks can see a leak.
            cc.extend_from_slice(format!("# {marker}\n").as_bytes());
            Some(cc)
        }
        UserData::UsersCloudConfig => {
            let mut cc = format!(
                "#cloud-config\nhostname: {PVE_HOSTNAME}\nusers:\n  - default\n  - name: core\n    groups: [wheel]\n    ssh_authorized_keys:\n"
            );
            for k in nocloud::PLAIN_KEYS {
                cc += &format!("      - {k}\n");
            }
            cc += &format!("runcmd:\n  - [sh, -c, 'echo hello']\n# {marker}\n");
            Some(cc.into_bytes())
        }
        UserData::Absent => None,
    };
    let meta_data = match d.meta {
        Meta::Proxmox => cidata::proxmox_meta_data(PVE_INSTANCE_ID),
        Meta::Yaml => nocloud::meta_data().into_bytes(),
        Meta::Kubevirt => cidata::kubevirt_meta_data(KV_INSTANCE_TYPE, KV_INSTANCE_ID, KV_HOSTNAME),
    };
    let network_config = match d.net {
        NetCfg::None => None,
        NetCfg::V1 => Some(cidata::network_config_v1(&static_v4(c, mac))),
        NetCfg::V2(route) => Some(cidata::network_config_v2(&static_v4(c, mac), route)),
        NetCfg::V1WrongMac => Some(cidata::network_config_v1(&static_v4(c, WRONG_MAC))),
        NetCfg::V1Dhcp => Some(cidata::network_config_v1_dhcp(mac, NAMESERVER, SEARCH)),
        NetCfg::V1OtherAddr => {
            Some(cidata::network_config_v1(&StaticV4 { address: OTHER_ADDR.into(), ..static_v4(c, mac) }))
        }
    };
    let vendor_data = match d.vendor {
        Vendor::None => None,
        Vendor::Empty => Some(Vec::new()),
        Vendor::Snippet => Some(b"#cloud-config\npackages:\n  - qemu-guest-agent\n".to_vec()),
    };
    Seed { user_data, meta_data, network_config, vendor_data }
}

/// The network of a run: no NIC, or the Dhcp topology's server end (10.0.0.1/24) with or
/// without a DHCP server, and the seed (off-link: its address added behind the router).
fn network(c: &Case, payload: Option<&Path>, logs: &Path) -> Result<CaseNet, String> {
    if c.net == Net::NoNic {
        return CaseNet::lone();
    }
    CaseNet::veth(Addressing::Dhcp, c.net == Net::Dhcp, logs, |topo| {
        let Some(s) = c.seed else { return Ok(None) };
        if s.off_link {
            topo.ip_server(&["addr", "add", &format!("{OFF_LINK_SEED_IP}/32"), "dev", netns::SERVER_IF])?;
        }
        let mut o = mock::Options::new(Platform::NoCloud);
        o.listen = format!("{}:{}", s.ip(), s.port);
        o.seed_host = Some(s.host());
        o.seed_path = s.mock_path.into();
        o.no_metadata = !s.meta_data;
        o.payload = payload.filter(|_| s.user_data).map(Path::to_path_buf);
        Ok(Some(o))
    })
}

/// The kernel command line of the case: a distribution's boot line, the seed selector, `ip=`.
fn kernel_cmdline(c: &Case) -> String {
    let mut s =
        "BOOT_IMAGE=/boot/vmlinuz-6.1.0-flint root=UUID=0b3c6d1e-5f7a-4c2b-9d8e-1a2b3c4d5e6f ro console=ttyS0,115200n8"
            .to_string();
    match c.seed.map(|seed| (seed, seed.selector)) {
        Some((seed, Selector::Cmdline)) => s += &format!(" {}", seed.selector()),
        Some((seed, Selector::SerialOverCmdline)) => s += &format!(" {}", seed.selector_for(DECOY_PATH)),
        _ => {}
    }
    if c.ip_arg {
        let (a, gw, nic) = (c.addr, netns::ROUTER_IP, netns::CLIENT_IF);
        s += &match c.ip_form {
            IpForm::Off => format!(" ip={a}::{gw}:255.255.255.0::{nic}:off nameserver={NAMESERVER}"),
            IpForm::FcosNone => format!(" ip={a}::{gw}:255.255.255.0:flint-nc-01:{nic}:none:{NAMESERVER}"),
            IpForm::AnyIface => format!(" ip={a}::{gw}:255.255.255.0:::off"),
            IpForm::OtherIface => format!(" ip={a}::{gw}:255.255.255.0::ens3:off nameserver={NAMESERVER}"),
        };
    }
    s + " quiet\n"
}

fn flint_args(c: &Case, root: &Path, cmdline: &Path, drive: Option<&Path>) -> Vec<String> {
    let mut a: Vec<String> = vec!["--platform".into(), c.platform.into(), "--cmdline".into()];
    a.push(cmdline.display().to_string());
    a.extend(["--root".into(), root.display().to_string(), "--output".into(), OUTPUT.into()]);
    a.extend(["--report".into(), REPORT.into(), "--timeout".into(), c.budget.to_string()]);
    if let Some(p) = drive {
        a.extend(["--drive".into(), p.display().to_string()]);
    }
    if c.handoff {
        a.extend(["--ignition".into(), "--cloud-init-seed".into(), SEED_DIR.into()]);
        if c.has_attributes() {
            a.extend(["--attributes".into(), ATTRIBUTES.into()]);
        }
    }
    a
}

fn run_one(c: &Case, flint: &Path, dir: &Path) -> Result<Duration, Vec<String>> {
    let marker = payloads::new_marker();
    let (drive_dir, root, logs) = drivecase::case_dirs(dir)?;
    if c.scans() {
        let mut labels = cidata::LABELS.to_vec();
        if c.platform == "kubevirt" {
            labels.extend(["config-2", "CONFIG-2"]);
        }
        let foreign = drive::foreign_drives(&labels, &[]).map_err(|e| vec![e])?;
        if !foreign.is_empty() {
            return Err(vec![format!(
                "another {labels:?} drive is attached to this machine ({foreign:?}): a scan would find it"
            )]);
        }
    }
    let served = ignition_config(&marker, "seed");
    let payload = drive_dir.join("seed-user-data");
    std::fs::write(&payload, &served).map_err(|e| vec![e.to_string()])?;

    let net = network(c, Some(&payload), &logs).map_err(|e| vec![e])?;
    let mac = net.mac().map(String::from);
    let drive = c.drive.map(|d| (d, drive_seed(c, &d, mac.as_deref().unwrap_or(PVE_MAC), &marker)));
    let image = match &drive {
        Some((d, seed)) => Some((d.at, cidata::build(d.build, seed, &drive_dir).map_err(|e| vec![e])?)),
        None => None,
    };
    let attached = match &image {
        Some((At::Scan, img)) => Some(Loop::attach(img).map_err(|e| vec![e])?),
        _ => None,
    };
    let drive_arg = match &image {
        Some((At::Arg, img)) => Some(img.as_path()),
        _ => None,
    };
    let cmdline = logs.join("cmdline");
    std::fs::write(&cmdline, kernel_cmdline(c)).map_err(|e| vec![format!("{}: {e}", cmdline.display())])?;
    let args = flint_args(c, &root, &cmdline, drive_arg);
    std::fs::write(logs.join("flint-args.txt"), args.join(" ")).ok();

    let late_image = match &image {
        Some((At::ScanLate(after), img)) => Some((*after, img.clone())),
        _ => None,
    };
    let (fr, late) = drivecase::with_late_loop(late_image, || run_flint(c, &net, flint, &args, dir, &logs));
    let late = late.map_err(|e| vec![e])?;
    let fr = fr.map_err(|e| vec![e])?;
    std::thread::sleep(Duration::from_millis(20));
    let log = net.read_log().map_err(|e| vec![e])?;
    let device = attached.as_ref().or(late.as_ref()).map(|l| l.name().to_string());
    let run = Run { seen: Observed::new(fr, log, &root, dir, device), drive: drive.map(|(_, s)| s), served, mac };
    judge(c, &run, &args, &logs, &marker)
}

/// One run of flint for the case: in the case's network, and with an SMBIOS serial of its own
/// when the selector is there.
fn run_flint(
    c: &Case,
    net: &CaseNet,
    flint: &Path,
    args: &[String],
    dir: &Path,
    logs: &Path,
) -> Result<FlintRun, String> {
    let budget = Duration::from_secs_f64(c.budget);
    let script = match c.seed.filter(|s| s.selector != Selector::Cmdline) {
        Some(s) => {
            let (serial, keep) = (logs.join("product_serial"), dir.join("sys-class"));
            std::fs::write(&serial, format!("{}\n", s.selector())).map_err(|e| e.to_string())?;
            std::fs::create_dir_all(&keep).map_err(|e| e.to_string())?;
            Some((SMBIOS_SERIAL, vec![serial.display().to_string(), keep.display().to_string()]))
        }
        None => None,
    };
    drivecase::run_flint(net, flint, args, script, logs, budget)
}

/// Every check of the case on what the run observed.
fn judge(c: &Case, run: &Run, args: &[String], logs: &Path, marker: &str) -> Result<Duration, Vec<String>> {
    let mut bad = drivecase::check_exit_and_time(run.exit, run.elapsed, c.exit, c.budget, c.within, "");
    bad.extend(checks::files(c, run));
    bad.extend(checks::report(c, run));
    bad.extend(check_stderr(&run.stderr, c.exit, c.error_phase));
    bad.extend(check_secrets(logs, &[], marker));
    bad.extend(checks::mock_log(c, run));
    if c.handoff {
        bad.extend(checks::handoff(c, run));
    }
    if c.consumers && run.exit == Some(c.exit) {
        bad.extend(consumers::check(c, run));
    }
    if let Some(extra) = c.extra {
        bad.extend(extra(c, run));
    }
    verdict(bad, run.elapsed, args, &run.stderr, &run.log)
}

/// Runs the selected cases, one line each, into `t`. Installs the drive tools, cloud-localds,
/// Ignition and cloud-init first when missing.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the NoCloud scenarios (network namespaces, loop devices)")?;
    deps::ensure_nocloud()?;
    let flint = runner_ready("the NoCloud scenarios")?;
    let selected = sel.pick(all(), |c| c.name, "NoCloud case")?;
    t.add(run_each(&selected, |c| (c.name, c.about), 30, "case", sel.keep, |c, dir| run_one(c, &flint, dir))?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let all = all();
        let mut names: Vec<&str> = all.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all.len());
    }

    #[test]
    fn kernel_command_lines() {
        let c = Case::seed("x", "", "10.0.0.23");
        let line = kernel_cmdline(&c);
        assert!(line.contains(" ds=nocloud;s=http://10.0.0.1:8000/nocloud/flint-nc-01/ "), "{line}");
        assert!(line.contains(" ip=10.0.0.23::10.0.0.1:255.255.255.0::eth0:off nameserver=10.0.0.1 "), "{line}");
        let net = Case { seed: Some(SeedCase { form: Form::NoCloudNet, off_link: true, ..SEED }), ..c };
        assert!(kernel_cmdline(&net).contains(" ds=nocloud-net;seedfrom=http://192.0.2.80:8000/nocloud/flint-nc-01/ "));
        let bare = Case { seed: Some(SeedCase { port: 80, slash: false, ..SEED }), ..Case::seed("y", "", "10.0.0.2") };
        assert!(kernel_cmdline(&bare).contains(" ds=nocloud;s=http://10.0.0.1/nocloud/flint-nc-01 "));
        let serial =
            Case { seed: Some(SeedCase { selector: Selector::Serial, ..SEED }), ..Case::seed("z", "", "10.0.0.2") };
        assert!(!kernel_cmdline(&serial).contains("ds="));
    }

    #[test]
    fn proxmox_attributes() {
        let c = all().into_iter().find(|c| c.name == "proxmox-cloud-config").unwrap();
        let a = checks::expected_attributes(&c);
        assert_eq!(a.len(), 3, "{a:?}");
        assert!(a.contains(&("AFTERBURN_PROXMOXVE_IPV4".into(), "10.0.0.23".into())));
        let ign = all().into_iter().find(|c| c.name == "proxmox-ignition").unwrap();
        assert!(!checks::expected_attributes(&ign).iter().any(|(k, _)| k.ends_with("HOSTNAME")));
    }
}
