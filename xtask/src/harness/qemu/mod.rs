//! Booting the test initramfs under QEMU and reading what the guest reports.
//!
//! One VM = one `qemu-system-x86_64 -nodefaults -nographic -no-reboot` process, run inside a
//! fresh network namespace (`net::VmNet`) so that its slirp relays, tap device, dnsmasq and
//! mock see nothing of the host's network. Two serial ports: ttyS0 is the kernel console
//! (kept in `console.log` for the reader), ttyS1 carries only the init's `FXQ:` markers
//! (`markers.log`), so kernel messages can never split a marker line. The VM is SIGKILLed on
//! every path out of `boot` (a `ChildGuard`), after the end marker (5 s grace for the
//! power-off) or at the hard timeout.
//!
//! Facts this relies on (shared/reference/qemu.md): no usable KVM on the project's machines,
//! so TCG unless a probe proves KVM works (`accel`); the uncompressed vmlinux boots through
//! PVH (~2.7 s instead of ~5.7 s); slirp reaches 169.254.169.254 only with
//! `net=169.254.0.0/16` and the `guestfwd=…-cmd:` form (one relay process per connection).

pub mod cidata;
pub mod cloud;
pub mod net;
pub mod pcap;
pub mod relay;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use crate::support::proc::{self, ChildGuard};
use crate::support::util;

pub const METADATA_IP: &str = "169.254.169.254";
/// Where the mock listens inside the VM's namespace (all addresses: loopback for the slirp
/// relay, the bridge for the tap topologies).
pub const MOCK_PORT: u16 = 80;
/// After the end marker, how long the guest gets to power off before QEMU is killed.
const POWEROFF_GRACE: Duration = Duration::from_secs(5);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Accel {
    Tcg,
    Kvm,
}

impl Accel {
    fn args(self) -> &'static [&'static str] {
        match self {
            Accel::Tcg => &["-accel", "tcg"],
            Accel::Kvm => &["-accel", "kvm", "-cpu", "host"],
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Accel::Tcg => "tcg",
            Accel::Kvm => "kvm",
        }
    }
}

/// QEMU's machine type.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Machine {
    /// `pc` (i440fx), QEMU's and Proxmox VE's default: a PIIX IDE controller with two buses
    /// (`ide.0`, `ide.1`) of two units each; the guest needs `ata_piix`.
    #[default]
    Pc,
    /// `q35`: an ICH9 AHCI controller whose six SATA ports are the buses `ide.0`…`ide.5`, one
    /// unit each; the guest needs `ahci`.
    Q35,
}

impl Machine {
    pub fn name(self) -> &'static str {
        match self {
            Machine::Pc => "pc",
            Machine::Q35 => "q35",
        }
    }
}

/// How a NIC is attached.
#[derive(Clone, Debug)]
pub enum Backend {
    /// QEMU user networking with `restrict=on` (nothing leaves). With `metadata`, the net is
    /// 169.254.0.0/16 and connections to 169.254.169.254:80 are relayed to the mock; without,
    /// slirp's default 10.0.2.0/24: DHCP answers, nothing else does.
    Slirp { metadata: bool },
    /// The namespace's `tap0` (bridged to `br0` by `net::VmNet::add_tap`).
    Tap,
}

#[derive(Clone, Debug)]
pub struct Nic {
    /// QEMU device model: `virtio-net-pci`, `e1000`, `e1000e`.
    pub model: String,
    pub mac: String,
    pub backend: Backend,
}

pub struct Vm<'a> {
    pub machine: Machine,
    pub vmlinux: &'a Path,
    pub initrd: &'a Path,
    /// Kernel arguments after `console=ttyS0 panic=-1`.
    pub append: String,
    pub nics: Vec<Nic>,
    /// Run QEMU inside this network namespace.
    pub netns: Option<&'a str>,
    /// Where console.log, markers.log and qemu.log go.
    pub dir: &'a Path,
    pub timeout: Duration,
    pub accel: Accel,
    /// Record every NIC's frames to `nic<i>.pcap` (also forced by `FLINT_QEMU_PCAP=1`).
    pub capture: bool,
    /// Give up early when the kernel has printed no banner this long after QEMU started
    /// (the KVM probe: a working KVM prints it well within a second).
    pub banner_within: Option<Duration>,
    /// Disks besides the initramfs (config drives), read-only.
    pub disks: Vec<Disk>,
    /// Firmware configuration items (`-fw_cfg name=NAME,file=PATH`), as `qemu -fw_cfg` hands
    /// an Ignition config to a VM.
    pub fw_cfg: Vec<FwCfg>,
    /// SMBIOS fields, each one `-smbios` argument (`type=1,manufacturer=Linode`,
    /// `type=3,asset=OracleCloud.com`): the strings a cloud's VM shows in `/sys/class/dmi/id`.
    pub smbios: Vec<String>,
    /// More slirp forwards on every NIC whose net has the metadata service, each guest
    /// `ADDR:PORT` relayed (one relay per connection, as the mock's) to a host address in the
    /// VM's namespace: the QEMU suite's object store behind TLS.
    pub forwards: Vec<Forward>,
    /// Give the TCG guest's CPU RDRAND (KVM's `-cpu host` has the host's).
    pub rdrand: bool,
}

/// One extra `guestfwd`: connections from the guest to `guest` (`IP:PORT`, inside
/// 169.254.0.0/16) go to `host` (`IP:PORT` in the VM's namespace).
#[derive(Clone, Debug)]
pub struct Forward {
    pub guest: String,
    pub host: String,
}

/// One `-fw_cfg` item: the guest's `qemu_fw_cfg` driver shows its bytes in
/// `/sys/firmware/qemu_fw_cfg/by_name/<name>/raw`.
#[derive(Clone, Debug)]
pub struct FwCfg {
    /// `opt/…` for anything but QEMU's own items (QEMU warns on other names).
    pub name: String,
    pub file: PathBuf,
}

/// The name Ignition's `qemu` provider reads its config from (and flint's `qemu` platform).
pub const IGNITION_FW_CFG: &str = "opt/com.coreos/config";

/// A read-only disk image the guest sees.
#[derive(Clone, Debug)]
pub struct Disk {
    pub image: PathBuf,
    pub bus: DiskBus,
}

/// How a disk is attached.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DiskBus {
    /// A CD-ROM on the IDE controller the pc machine always has (`-drive …,media=cdrom,if=ide`),
    /// as Nova attaches an ISO config drive with `config_drive_cdrom`: the guest needs
    /// ata_piix, libata, scsi_mod, sr_mod and cdrom, and sees `sr0`.
    IdeCd,
    /// A virtio-blk PCI disk (`virtio_blk`), as Nova attaches a config drive by default: `vdX`.
    VirtioBlk,
    /// Proxmox VE's cloud-init drive in its `ide2` slot: a CD-ROM device, the drive given
    /// separately (`-drive …,if=none,media=cdrom -device ide-cd,bus=ide.1,unit=0`), as
    /// `qemu-server` starts a VM (`print_drivedevice_full`: index 2 is controller 1, unit 0,
    /// kept so on q35, where even indices keep their old bus): on `pc` the second IDE bus's
    /// first unit, on `q35` the AHCI controller's second port. The guest sees `sr0` when it is
    /// the only CD-ROM.
    Ide2,
}

/// MAC of NIC `i`: locally administered, so reports can be matched to the NIC.
pub fn mac(i: usize) -> String {
    format!("02:f1:17:51:00:{:02x}", i + 1)
}

/// Everything observed in one boot.
pub struct Boot {
    pub markers: Markers,
    pub console: String,
    pub qemu_log: String,
    /// QEMU exec → end marker seen (host clock), when it was.
    pub to_end: Option<Duration>,
    /// QEMU exec → QEMU gone.
    pub wall: Duration,
    /// QEMU's exit code, `None` when it had to be killed.
    pub qemu_exit: Option<i32>,
    pub timed_out: bool,
    pub command: String,
}

impl Boot {
    pub fn ended(&self) -> bool {
        self.markers.get("END").is_some()
    }

    /// Last lines of the console and QEMU's own output, for failure messages.
    pub fn tails(&self) -> String {
        let mut s = format!("console (last 25 lines):\n{}", util::tail(&self.console, 25));
        if !self.qemu_log.trim().is_empty() {
            s.push_str(&format!("\nqemu:\n{}", util::tail(&self.qemu_log, 10)));
        }
        s
    }
}

/// The `FXQ:` lines of ttyS1.
#[derive(Default)]
pub struct Markers {
    pub lines: Vec<(String, String)>,
}

impl Markers {
    pub fn parse(text: &str) -> Self {
        let lines = text
            .lines()
            .map(|l| l.trim_end_matches('\r'))
            .filter_map(|l| l.strip_prefix("FXQ:"))
            .map(|l| match l.split_once(' ') {
                Some((k, v)) => (k.to_string(), v.to_string()),
                None => (l.to_string(), String::new()),
            })
            .collect();
        Markers { lines }
    }

    pub fn get(&self, key: &str) -> Option<&str> {
        self.lines.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    pub fn all(&self, key: &str) -> Vec<&str> {
        self.lines.iter().filter(|(k, _)| k == key).map(|(_, v)| v.as_str()).collect()
    }

    /// The tool's exit code.
    pub fn exit(&self) -> Option<i32> {
        self.get("EXIT").and_then(|v| v.trim().parse().ok())
    }

    pub fn report(&self) -> Option<serde_json::Value> {
        self.get("REPORT").filter(|v| *v != "absent").and_then(|v| serde_json::from_str(v).ok())
    }

    /// Kernel-clock timestamps (seconds since kernel start) of the init's `fxq: <step>`
    /// lines, plus `run-init` for the kernel's "Run /init as init process".
    pub fn stamps(&self) -> BTreeMap<String, f64> {
        let mut m = BTreeMap::new();
        for line in self.all("KMSG") {
            let Some((ts, msg)) = line.trim_start().strip_prefix('[').and_then(|r| r.split_once(']')) else {
                continue;
            };
            let Ok(t) = ts.trim().parse::<f64>() else { continue };
            let msg = msg.trim();
            if let Some(step) = msg.strip_prefix("fxq: ") {
                m.insert(step.trim().to_string(), t);
            } else if msg.starts_with("Run /init") {
                m.insert("run-init".into(), t);
            }
        }
        m
    }

    /// The file the guest sent with `fxq.show=1`.
    pub fn file(&self) -> Option<Vec<u8>> {
        use base64::Engine as _;
        let text: String = self.all("FILE").concat();
        if text.is_empty() {
            return None;
        }
        base64::engine::general_purpose::STANDARD.decode(text.trim()).ok()
    }
}

/// The QEMU command line of a VM (without the `ip netns exec` prefix). With `pcap`, every
/// NIC's frames are also recorded to `nic<i>.pcap` in the VM's directory (QEMU filter-dump).
pub fn command_line(vm: &Vm, relay: &[String], pcap: bool) -> Vec<String> {
    // The relay command with its target (the last word) replaced: one more guestfwd each.
    let mut forwards = String::new();
    for f in &vm.forwards {
        let (head, _) = relay.split_at(relay.len().saturating_sub(1));
        forwards.push_str(&format!(",guestfwd=tcp:{}-cmd:{} {}", f.guest, head.join(" "), f.host));
    }
    let mut a: Vec<String> = ["-nodefaults", "-nographic", "-no-reboot", "-no-user-config"].map(String::from).to_vec();
    a.extend(vm.accel.args().iter().map(|s| s.to_string()));
    if vm.rdrand && vm.accel == Accel::Tcg {
        a.extend(["-cpu".into(), "qemu64,+rdrand".into()]);
    }
    // `pc` is QEMU's default, named: i440fx with its PIIX IDE controller, as Proxmox VE and
    // Nova start VMs by default; `q35` has AHCI instead.
    a.extend(["-machine".into(), vm.machine.name().into()]);
    a.extend(["-m", "256M", "-smp", "1"].map(String::from));
    a.extend(["-kernel".into(), vm.vmlinux.display().to_string(), "-initrd".into(), vm.initrd.display().to_string()]);
    a.extend(["-append".into(), format!("console=ttyS0 panic=-1 {}", vm.append.trim())]);
    a.extend(["-serial".into(), format!("file:{}", vm.dir.join("console.log").display())]);
    a.extend(["-serial".into(), format!("file:{}", vm.dir.join("markers.log").display())]);
    // A second way out for a guest whose power-off fails (qemu.md §3); the init does not use it.
    a.extend(["-device".into(), "isa-debug-exit,iobase=0xf4,iosize=0x04".into()]);
    for (i, disk) in vm.disks.iter().enumerate() {
        // A comma in the path would end the -drive option (our scratch paths have none).
        let file = disk.image.display();
        match disk.bus {
            DiskBus::IdeCd => {
                a.extend(["-drive".into(), format!("file={file},format=raw,media=cdrom,if=ide,index={i}")])
            }
            DiskBus::VirtioBlk => a.extend([
                "-drive".into(),
                format!("file={file},format=raw,if=none,id=disk{i},readonly=on"),
                "-device".into(),
                format!("virtio-blk-pci,drive=disk{i}"),
            ]),
            DiskBus::Ide2 => a.extend([
                "-drive".into(),
                format!("file={file},format=raw,if=none,id=drive-ide2,media=cdrom,readonly=on"),
                "-device".into(),
                "ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2".into(),
            ]),
        }
    }
    for item in &vm.fw_cfg {
        // As for -drive: a comma would end the option.
        a.extend(["-fw_cfg".into(), format!("name={},file={}", item.name, item.file.display())]);
    }
    for fields in &vm.smbios {
        a.extend(["-smbios".into(), fields.clone()]);
    }
    for (i, nic) in vm.nics.iter().enumerate() {
        let netdev = match &nic.backend {
            Backend::Slirp { metadata: true } => format!(
                "user,id=n{i},restrict=on,net=169.254.0.0/16,guestfwd=tcp:{METADATA_IP}:80-cmd:{}{forwards}",
                relay.join(" ")
            ),
            Backend::Slirp { metadata: false } => format!("user,id=n{i},restrict=on"),
            Backend::Tap => format!("tap,id=n{i},ifname={},script=no,downscript=no", net::TAP_IF),
        };
        a.extend(["-netdev".into(), netdev, "-device".into(), format!("{},netdev=n{i},mac={}", nic.model, nic.mac)]);
        if pcap {
            let file = vm.dir.join(format!("nic{i}.pcap"));
            a.extend(["-object".into(), format!("filter-dump,id=d{i},netdev=n{i},file={}", file.display())]);
        }
    }
    a
}

/// `xtask relay 127.0.0.1:PORT`, the command slirp runs for each guest connection to the
/// metadata address. QEMU splits it like a shell; a comma would end the -netdev option.
fn relay_command() -> Result<Vec<String>, String> {
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let exe = exe.display().to_string();
    if exe.contains([',', ' ', '\'', '"', '\\']) {
        return Err(format!("xtask's path {exe:?} cannot go into a QEMU -netdev option"));
    }
    Ok(vec![exe, "relay".into(), format!("127.0.0.1:{MOCK_PORT}")])
}

/// Boots `vm` and waits for its end (or the hard timeout); QEMU never outlives this call.
pub fn boot(vm: &Vm) -> Result<Boot, String> {
    let console = vm.dir.join("console.log");
    let markers = vm.dir.join("markers.log");
    let qemu_log = vm.dir.join("qemu.log");
    for f in [&console, &markers] {
        let _ = std::fs::remove_file(f);
    }
    // FLINT_QEMU_PCAP=1: keep a capture of every NIC next to the console log.
    let pcap = vm.capture || std::env::var_os("FLINT_QEMU_PCAP").is_some_and(|v| v == "1");
    let args = command_line(vm, &relay_command()?, pcap);
    let qemu = util::tool("qemu-system-x86_64");
    let mut cmd = match vm.netns {
        Some(ns) => {
            let mut c = Command::new(util::tool("ip"));
            c.args(["netns", "exec", ns]).arg(&qemu);
            c
        }
        None => Command::new(&qemu),
    };
    cmd.args(&args);
    let command = proc::describe(&cmd);
    let log = std::fs::File::create(&qemu_log).map_err(|e| format!("{}: {e}", qemu_log.display()))?;
    let log2 = log.try_clone().map_err(|e| e.to_string())?;
    cmd.stdin(Stdio::null()).stdout(log).stderr(log2);

    let start = Instant::now();
    let mut child = ChildGuard::spawn(&mut cmd, "qemu")?;
    let mut to_end = None;
    let mut timed_out = false;
    let status = loop {
        if let Some(st) = child.try_status() {
            break Some(st);
        }
        let now = start.elapsed();
        if to_end.is_none() && std::fs::read_to_string(&markers).is_ok_and(|t| t.contains("FXQ:END")) {
            to_end = Some(now);
        }
        if to_end.is_some_and(|t| now > t + POWEROFF_GRACE) {
            break None;
        }
        if vm.banner_within.is_some_and(|b| now > b)
            && !std::fs::read_to_string(&console).is_ok_and(|t| t.contains("Linux version"))
        {
            timed_out = true;
            break None;
        }
        if now > vm.timeout {
            timed_out = to_end.is_none();
            break None;
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill();
    let wall = start.elapsed();
    drop(child);
    let markers_text = std::fs::read_to_string(&markers).unwrap_or_default();
    let markers = Markers::parse(&markers_text);
    if to_end.is_none() && markers.get("END").is_some() {
        // Ended and powered off between two polls.
        to_end = Some(wall);
    }
    Ok(Boot {
        markers,
        console: String::from_utf8_lossy(&std::fs::read(&console).unwrap_or_default()).into_owned(),
        qemu_log: std::fs::read_to_string(&qemu_log).unwrap_or_default(),
        to_end,
        wall,
        qemu_exit: status.map(proc::exit_code),
        timed_out,
        command,
    })
}

static ACCEL: OnceLock<(Accel, String)> = OnceLock::new();

/// TCG or KVM, decided once per run: `$FLINT_QEMU_ACCEL` (`tcg`/`kvm`) when set; else KVM
/// only if `/dev/kvm` opens and a probe boot with `-accel kvm -cpu host` prints the kernel
/// banner within 3 s and reaches the init's end marker within 15 s. On this project's
/// machines `/dev/kvm` exists but is a nested PVM hypervisor on which QEMU aborts or crawls
/// (qemu.md §1b; here SeaBIOS alone takes longer than 3 s): existing is not working.
pub fn accel(vmlinux: &Path, initrd: &Path) -> (Accel, String) {
    ACCEL
        .get_or_init(|| match std::env::var("FLINT_QEMU_ACCEL").as_deref() {
            Ok("tcg") => (Accel::Tcg, "FLINT_QEMU_ACCEL=tcg".into()),
            Ok("kvm") => (Accel::Kvm, "FLINT_QEMU_ACCEL=kvm".into()),
            _ => probe_kvm(vmlinux, initrd),
        })
        .clone()
}

fn probe_kvm(vmlinux: &Path, initrd: &Path) -> (Accel, String) {
    if let Err(e) = std::fs::OpenOptions::new().read(true).write(true).open("/dev/kvm") {
        return (Accel::Tcg, format!("/dev/kvm: {e}"));
    }
    let dir = match util::ScratchDir::new("kvm-probe") {
        Ok(d) => d,
        Err(e) => return (Accel::Tcg, e),
    };
    // In a namespace of its own although it has no NIC: if xtask is killed mid-probe, the
    // next run's stale-namespace cleanup kills this QEMU too.
    let net = match net::VmNet::new() {
        Ok(n) => n,
        Err(e) => return (Accel::Tcg, e),
    };
    let vm = Vm {
        machine: Machine::Pc,
        vmlinux,
        initrd,
        append: "fxq.mode=probe".into(),
        nics: Vec::new(),
        netns: Some(&net.ns),
        dir: dir.path(),
        timeout: Duration::from_secs(15),
        accel: Accel::Kvm,
        capture: false,
        banner_within: Some(Duration::from_secs(3)),
        disks: Vec::new(),
        fw_cfg: Vec::new(),
        smbios: Vec::new(),
        forwards: Vec::new(),
        rdrand: false,
    };
    match boot(&vm) {
        Ok(b) if b.ended() => (Accel::Kvm, format!("KVM probe boot ended in {:.1} s", b.wall.as_secs_f64())),
        Ok(b) => {
            let why = b.qemu_log.lines().find(|l| !l.trim().is_empty()).unwrap_or("no end marker").trim().to_string();
            let what = if !b.timed_out {
                format!("failed ({why})")
            } else if b.console.contains("Linux version") {
                "did not finish within 15 s".to_string()
            } else {
                format!("printed no kernel banner within 3 s ({:.1} s spent)", b.wall.as_secs_f64())
            };
            (Accel::Tcg, format!("KVM probe boot {what}"))
        }
        Err(e) => (Accel::Tcg, format!("KVM probe: {e}")),
    }
}

/// Parses `flint.timeout=` from kernel arguments (flint's own default: 30 s).
pub fn flint_budget(kernel_args: &str) -> f64 {
    kernel_args
        .split_whitespace()
        .find_map(|a| a.strip_prefix("flint.timeout="))
        .and_then(|v| v.parse().ok())
        .unwrap_or(30.0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn markers_and_stamps() {
        let text = "garbage\r\nFXQ:BEGIN\r\nFXQ:EXIT 4\r\nFXQ:SHA256 absent\r\nFXQ:REPORT {\"exit_code\":4}\r\n\
                    FXQ:KMSG [    1.702331] Run /init as init process\r\nFXQ:KMSG [    1.80] fxq: init\r\n\
                    FXQ:KMSG [    2.5] fxq: tool-done\r\nFXQ:FILE aGVs\r\nFXQ:FILE bG8=\r\nFXQ:END\r\n";
        let m = Markers::parse(text);
        assert_eq!(m.exit(), Some(4));
        assert_eq!(m.get("SHA256"), Some("absent"));
        assert_eq!(m.report().unwrap()["exit_code"], 4);
        assert_eq!(m.get("END"), Some(""));
        let s = m.stamps();
        assert_eq!(s["run-init"], 1.702331);
        assert_eq!(s["init"], 1.8);
        assert_eq!(s["tool-done"], 2.5);
        assert_eq!(m.file().unwrap(), b"hello");
    }

    #[test]
    fn command_line_per_backend() {
        let dir = Path::new("/tmp/x");
        let vm = Vm {
            machine: Machine::Pc,
            vmlinux: Path::new("/k/vmlinux"),
            initrd: Path::new("/k/i.gz"),
            append: "flint.platform=aws".into(),
            nics: vec![
                Nic { model: "virtio-net-pci".into(), mac: mac(0), backend: Backend::Slirp { metadata: false } },
                Nic { model: "e1000".into(), mac: mac(1), backend: Backend::Slirp { metadata: true } },
                Nic { model: "e1000e".into(), mac: mac(2), backend: Backend::Tap },
            ],
            netns: None,
            dir,
            timeout: Duration::from_secs(1),
            accel: Accel::Tcg,
            capture: false,
            banner_within: None,
            disks: vec![
                Disk { image: "/d/config-2.iso".into(), bus: DiskBus::IdeCd },
                Disk { image: "/d/config-2.img".into(), bus: DiskBus::VirtioBlk },
                Disk { image: "/d/cidata.iso".into(), bus: DiskBus::Ide2 },
            ],
            fw_cfg: vec![FwCfg { name: IGNITION_FW_CFG.into(), file: "/d/config.ign".into() }],
            smbios: vec!["type=1,manufacturer=Amazon EC2,uuid=ec2e1916-9099-7caf-fd21-012345abcdef".into()],
            forwards: vec![Forward { guest: "169.254.169.250:443".into(), host: "127.0.0.3:443".into() }],
            rdrand: true,
        };
        let a = command_line(&vm, &["/x/xtask".into(), "relay".into(), "127.0.0.1:80".into()], true).join(" ");
        assert!(a.contains("-accel tcg -cpu qemu64,+rdrand -machine pc "), "{a}");
        assert!(a.contains("-append console=ttyS0 panic=-1 flint.platform=aws"), "{a}");
        assert!(
            a.contains("-netdev user,id=n0,restrict=on -device virtio-net-pci,netdev=n0,mac=02:f1:17:51:00:01"),
            "{a}"
        );
        assert!(
            a.contains(
                "user,id=n1,restrict=on,net=169.254.0.0/16,guestfwd=tcp:169.254.169.254:80-cmd:/x/xtask relay 127.0.0.1:80,\
                 guestfwd=tcp:169.254.169.250:443-cmd:/x/xtask relay 127.0.0.3:443 -device"
            ),
            "{a}"
        );
        assert!(a.contains("tap,id=n2,ifname=tap0,script=no,downscript=no -device e1000e,netdev=n2"), "{a}");
        assert!(a.contains("-object filter-dump,id=d2,netdev=n2,file=/tmp/x/nic2.pcap"), "{a}");
        assert!(a.contains("-drive file=/d/config-2.iso,format=raw,media=cdrom,if=ide,index=0"), "{a}");
        assert!(
            a.contains(
                "-drive file=/d/config-2.img,format=raw,if=none,id=disk1,readonly=on -device virtio-blk-pci,drive=disk1"
            ),
            "{a}"
        );
        assert!(
            a.contains(
                "-drive file=/d/cidata.iso,format=raw,if=none,id=drive-ide2,media=cdrom,readonly=on \
                 -device ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2"
            ),
            "{a}"
        );
        assert!(a.contains("-fw_cfg name=opt/com.coreos/config,file=/d/config.ign"), "{a}");
        let args = command_line(&vm, &["/x/xtask".into()], true);
        let at = args.iter().position(|x| x == "-smbios").expect("-smbios");
        assert_eq!(args[at + 1], "type=1,manufacturer=Amazon EC2,uuid=ec2e1916-9099-7caf-fd21-012345abcdef");
        let q35 =
            Vm { machine: Machine::Q35, disks: vec![Disk { image: "/d/c.iso".into(), bus: DiskBus::Ide2 }], ..vm };
        let a = command_line(&q35, &[], false).join(" ");
        assert!(a.contains("-machine q35 "), "{a}");
        assert!(a.contains("-device ide-cd,bus=ide.1,unit=0,drive=drive-ide2,id=ide2"), "{a}");
    }

    #[test]
    fn budget_from_kernel_args() {
        assert_eq!(flint_budget("flint.platform=aws flint.timeout=4"), 4.0);
        assert_eq!(flint_budget("flint.timeout=2.5 x"), 2.5);
        assert_eq!(flint_budget("flint.platform=aws"), 30.0);
    }
}
