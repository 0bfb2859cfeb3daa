//! What a boot of the test image needs around the VM: the kernel and initramfs of a run and
//! the accelerator (`Env`), the VM's namespace with the mock, dnsmasq and a bridge as its
//! NICs need them (`Cloud`), the payload the mock serves, and one boot with the mock's log
//! read afterwards. Used by the QEMU suite, the QEMU demo and the QEMU benchmark.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde_json::Value;

use super::net::{TapLink, VmNet};
use super::{Accel, Backend, Boot, Nic, Vm};
use crate::harness::initramfs;
use crate::harness::kernel::{self, Kernel};
use crate::harness::netns;
use crate::mock::{self, Platform, payloads};
use crate::support::proc::ChildGuard;
use crate::support::util;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Payload {
    None,
    /// The example Ignition config (with the marker), served as is (base64 on Akamai).
    Ignition,
    /// ~280 KB of Ignition gzipped under AWS's 16 KB limit (base64(gzip) on Akamai).
    IgnitionGzip,
    /// The example config as spec 3.3.0, the newest Debian's Ignition 2.14 accepts as stable
    /// (it refuses 3.4.0 as "unsupported config version"): for the boots where Ignition
    /// itself reads what flint wrote.
    IgnitionSpec33,
    /// The `#cloud-config` Proxmox VE generates for a VM with a name and an SSH key
    /// (`cidata::cloud_config`): not an Ignition config.
    ProxmoxCloudConfig,
    /// CAPL's bootstrap pointer: `#include` and a presigned https URL of an S3 object (the
    /// large cloud-config) on the QEMU suite's object store. Only that suite, which starts the
    /// store and signs the URL, can make it: `payload` gives nothing for it.
    CaplIncludeHttps,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetKind {
    SlirpMetadata,
    SlirpIsolated,
    Tap(TapLink),
}

/// What the mock serves and what flint must write.
pub struct Served {
    pub file: Option<Vec<u8>>,
    pub decoded: Option<Vec<u8>>,
}

pub fn payload(p: Payload, marker: &str) -> Served {
    match p {
        Payload::None => Served { file: None, decoded: None },
        Payload::Ignition => {
            let d = payloads::ignition_small(marker);
            Served { file: Some(d.clone()), decoded: Some(d) }
        }
        Payload::IgnitionGzip => {
            let (plain, gz) = payloads::large_gzip(marker);
            Served { file: Some(gz), decoded: Some(plain) }
        }
        Payload::IgnitionSpec33 => {
            // Every field of the example exists in spec 3.3.0.
            let mut v: Value = serde_json::from_slice(&payloads::ignition_small(marker)).unwrap_or_default();
            v["ignition"]["version"] = "3.3.0".into();
            let d = serde_json::to_vec_pretty(&v).unwrap_or_default();
            Served { file: Some(d.clone()), decoded: Some(d) }
        }
        Payload::ProxmoxCloudConfig => {
            let d = super::cidata::cloud_config(marker);
            Served { file: Some(d.clone()), decoded: Some(d) }
        }
        Payload::CaplIncludeHttps => Served { file: None, decoded: None },
    }
}

/// The kernel and image every boot of a run uses, and how QEMU accelerates.
pub struct Env {
    pub kernel: Kernel,
    pub initrd: PathBuf,
    pub accel: Accel,
    pub accel_why: String,
    _dir: util::ScratchDir,
}

/// Kernel (cached), a fresh initramfs around `flint`, and the accelerator decision.
pub fn prepare_env(flint: &Path) -> Result<Env, String> {
    let kernel = kernel::ensure()?;
    let dir = util::ScratchDir::new("qemu-image")?;
    let image = initramfs::build(flint, &kernel, &dir.join("initramfs.cpio.gz"))?;
    let (accel, accel_why) = super::accel(&kernel.vmlinux, &image.path);
    Ok(Env { kernel, initrd: image.path, accel, accel_why, _dir: dir })
}

/// A VM's namespace with what its NICs need running in it. Field order is drop order:
/// mock and dnsmasq die before the namespace goes.
pub struct Cloud {
    pub mock: Option<(ChildGuard, mock::Options)>,
    /// Servers the caller started in the namespace beforehand (`start_cloud_on`).
    _keep: Vec<Box<dyn std::any::Any>>,
    _dnsmasq: Option<ChildGuard>,
    pub net: VmNet,
}

/// `platform`: the mock to start when a NIC's network has a metadata service (`None`: a
/// platform without one, whose NICs must be on networks without a service).
pub fn start_cloud(
    nets: &[NetKind],
    platform: Option<Platform>,
    file: Option<&[u8]>,
    dir: &Path,
) -> Result<Cloud, String> {
    start_cloud_with(nets, platform, file, dir, |_| {})
}

/// `start_cloud` with the mock's options bent by `knobs` (the `url` boots' IMDSv1 mock).
/// On an IPv6 link (`TapLink::has_v6`) dnsmasq sends RAs and answers DNS, the drop rule is
/// in place where the link has one, and the mock listens on `[::]:80` (IPv4 too).
pub fn start_cloud_with(
    nets: &[NetKind],
    platform: Option<Platform>,
    file: Option<&[u8]>,
    dir: &Path,
    knobs: fn(&mut mock::Options),
) -> Result<Cloud, String> {
    start_cloud_on(VmNet::new()?, Vec::new(), nets, platform, file, dir, knobs)
}

/// `start_cloud_with` in `net`, made beforehand so the caller could start servers in it whose
/// guards are `keep` (dropped with the cloud, before the namespace). With anything kept, the
/// NICs must be slirp ones and the mock listens on 127.0.0.1:80 only, where the relays reach
/// it: the namespace's other loopback addresses are the kept servers'.
pub fn start_cloud_on(
    net: VmNet,
    keep: Vec<Box<dyn std::any::Any>>,
    nets: &[NetKind],
    platform: Option<Platform>,
    file: Option<&[u8]>,
    dir: &Path,
    knobs: fn(&mut mock::Options),
) -> Result<Cloud, String> {
    let mut dnsmasq = None;
    let tap = nets.iter().find_map(|n| if let NetKind::Tap(l) = n { Some(*l) } else { None });
    if tap.is_some() && !keep.is_empty() {
        return Err("servers started beforehand in a VM's namespace need slirp NICs only".into());
    }
    if let Some(link) = tap {
        net.add_tap(link)?;
        if link == TapLink::Dhcp {
            dnsmasq = Some(netns::start_dnsmasq(&net.ns, super::net::BRIDGE, dir)?);
        }
        if link == TapLink::Gce {
            let args = super::net::gce_dnsmasq_args(dir);
            dnsmasq = Some(netns::start_dnsmasq_args(&net.ns, &args, dir, "dnsmasq")?);
        }
        if link.has_v6() {
            let args = super::net::dnsmasq_args(link, dir);
            dnsmasq = Some(netns::start_dnsmasq_args(&net.ns, &args, dir, "dnsmasq")?);
        }
        if link == TapLink::DualStackV6Dropped {
            super::net::drop_v6_service(&net.ns, dir)?;
        }
    }
    let needs_mock = nets.iter().any(|n| match n {
        NetKind::SlirpMetadata => true,
        NetKind::SlirpIsolated => false,
        NetKind::Tap(l) => l.has_service(),
    });
    let mock = if needs_mock {
        let platform = platform.ok_or("a metadata service network, but the platform has no metadata service")?;
        let mut o = mock::Options::new(platform);
        o.listen = match (tap.is_some_and(TapLink::has_v6), keep.is_empty()) {
            (true, _) => format!("[::]:{}", super::MOCK_PORT),
            (false, true) => format!("0.0.0.0:{}", super::MOCK_PORT),
            (false, false) => format!("127.0.0.1:{}", super::MOCK_PORT),
        };
        knobs(&mut o);
        if let Some(bytes) = file {
            let p = dir.join("payload.bin");
            std::fs::write(&p, bytes).map_err(|e| e.to_string())?;
            o.payload = Some(p);
        }
        Some(mock::start_in(&net.ns, &o, dir)?)
    } else {
        None
    };
    Ok(Cloud { mock, _keep: keep, _dnsmasq: dnsmasq, net })
}

/// The demo's and the boot benchmark's cloud: one slirp NIC with the AWS mock behind
/// guestfwd, serving `file`.
pub fn start_aws_slirp(file: Option<&[u8]>, dir: &Path) -> Result<Cloud, String> {
    start_cloud(&[NetKind::SlirpMetadata], Some(Platform::Aws), file, dir)
}

/// The VM for `start_aws_slirp`'s cloud: `env`'s kernel and image, one virtio-net NIC,
/// kernel arguments `append`, 90 s to boot.
pub fn aws_slirp_vm<'a>(env: &'a Env, cloud: &'a Cloud, dir: &'a Path, append: String) -> Vm<'a> {
    Vm {
        machine: super::Machine::Pc,
        vmlinux: &env.kernel.vmlinux,
        initrd: &env.initrd,
        append,
        nics: nics(&[NetKind::SlirpMetadata], &["virtio-net-pci"]),
        netns: Some(&cloud.net.ns),
        dir,
        timeout: Duration::from_secs(90),
        accel: env.accel,
        capture: false,
        banner_within: None,
        disks: Vec::new(),
        fw_cfg: Vec::new(),
        smbios: Vec::new(),
        forwards: Vec::new(),
        rdrand: false,
    }
}

/// `bytes` as the VM's Ignition config item (`opt/com.coreos/config`), from `dir/config.ign`.
pub fn ignition_fw_cfg(bytes: &[u8], dir: &Path) -> Result<super::FwCfg, String> {
    let file = dir.join("config.ign");
    std::fs::write(&file, bytes).map_err(|e| format!("{}: {e}", file.display()))?;
    Ok(super::FwCfg { name: super::IGNITION_FW_CFG.into(), file })
}

pub fn nics(specs: &[NetKind], models: &[&str]) -> Vec<Nic> {
    specs
        .iter()
        .zip(models)
        .enumerate()
        .map(|(i, (net, model))| Nic {
            model: model.to_string(),
            mac: super::mac(i),
            backend: match net {
                NetKind::SlirpMetadata => Backend::Slirp { metadata: true },
                NetKind::SlirpIsolated => Backend::Slirp { metadata: false },
                NetKind::Tap(_) => Backend::Tap,
            },
        })
        .collect()
}

/// Boots `vm` in `cloud`, then reads the mock's request log and issued tokens; the
/// caller then tears the cloud down (QEMU's command line is kept in `dir`).
pub fn boot_in(vm: &Vm, cloud: &Cloud, dir: &Path) -> Result<(Boot, Vec<mock::LogEntry>, Vec<String>), Vec<String>> {
    let boot = super::boot(vm).map_err(|e| vec![e])?;
    std::fs::write(dir.join("qemu-command.txt"), &boot.command).ok();
    // Let the mock finish logging the last request before reading its files.
    std::thread::sleep(Duration::from_millis(20));
    let (log, tokens) = match &cloud.mock {
        Some((_, o)) => (
            o.log.as_deref().map(mock::read_log).transpose().map_err(|e| vec![e])?.unwrap_or_default(),
            o.tokens.as_deref().map(mock::read_tokens).unwrap_or_default(),
        ),
        None => (Vec::new(), Vec::new()),
    };
    Ok((boot, log, tokens))
}
