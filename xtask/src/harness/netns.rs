//! Two network namespaces joined by a veth pair: a "cloud" side (metadata service, DHCP
//! server) and a "guest" side where flint runs on an unconfigured `eth0`.
//!
//! Checksum offloads stay ON: frames from the server reach flint's AF_PACKET socket with
//! partial checksums (nostd.md P6/P9), which flint must handle itself, as in real VMs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::support::cleanup;
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// How the guest is meant to get an address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Addressing {
    /// Server end `10.0.0.1/24` + `169.254.169.254/32`; the guest gets a lease from dnsmasq
    /// and must reach the metadata address through the router 10.0.0.1.
    Dhcp,
    /// Server end `169.254.169.254/16` only and no DHCP server: the guest must fall back to
    /// an IPv4 link-local address and reach the metadata service on-link.
    LinkLocal,
}

pub const SERVER_IF: &str = "vsrv";
pub const CLIENT_IF: &str = "eth0";
pub const METADATA_IP: &str = "169.254.169.254";
pub const ROUTER_IP: &str = "10.0.0.1";
/// dnsmasq's pool, checked against flint's report.
pub const POOL: (u8, u8) = (50, 150);

static COUNTER: AtomicU32 = AtomicU32::new(0);
const IP_TIMEOUT: Duration = Duration::from_secs(10);

/// The pair of namespaces; both are deleted (with the veth) on drop.
pub struct Topology {
    pub server: String,
    pub client: String,
    pub client_mac: String,
}

fn ip(args: &[&str]) -> Result<(), String> {
    proc::run_ok(Command::new(util::tool("ip")).args(args), IP_TIMEOUT).map(|_| ())
}

impl Topology {
    pub fn new(addressing: Addressing) -> Result<Self, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("{}{}-{n}", cleanup::NETNS_PREFIX, std::process::id());
        // A locally administered, unicast MAC that names the run, so reports can be matched.
        let client_mac = format!(
            "02:f1:17:{:02x}:{:02x}:{:02x}",
            (std::process::id() >> 8) & 0xff,
            std::process::id() & 0xff,
            n & 0xff
        );
        let topo = Topology { server: format!("{base}-srv"), client: format!("{base}-cli"), client_mac };
        // Registered before creation: an error half-way returns early and Drop (or the panic
        // hook) deletes whatever exists; deleting a missing namespace is harmless.
        for ns in [topo.server.clone(), topo.client.clone()] {
            cleanup::add_netns(&ns);
            ip(&["netns", "add", &ns])?;
        }
        let (s, c) = (topo.server.as_str(), topo.client.as_str());
        // Created directly inside the namespaces: nothing ever appears in the host namespace.
        ip(&[
            "-n",
            s,
            "link",
            "add",
            SERVER_IF,
            "type",
            "veth",
            "peer",
            "name",
            CLIENT_IF,
            "address",
            &topo.client_mac,
            "netns",
            c,
        ])?;
        ip(&["-n", s, "link", "set", "lo", "up"])?;
        match addressing {
            Addressing::Dhcp => {
                ip(&["-n", s, "addr", "add", &format!("{ROUTER_IP}/24"), "dev", SERVER_IF])?;
                ip(&["-n", s, "addr", "add", &format!("{METADATA_IP}/32"), "dev", SERVER_IF])?;
            }
            Addressing::LinkLocal => {
                ip(&["-n", s, "addr", "add", &format!("{METADATA_IP}/16"), "dev", SERVER_IF])?;
            }
        }
        ip(&["-n", s, "link", "set", SERVER_IF, "up"])?;
        // The guest side stays as a fresh boot has it: eth0 DOWN, no address; lo untouched.
        Ok(topo)
    }

    /// `ip netns exec <client> program …`
    pub fn in_client(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(util::tool("ip"));
        cmd.args(["netns", "exec", &self.client]).arg(program);
        cmd
    }

    /// `ip -n <client> args…`
    pub fn ip_client(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["-n", self.client.as_str()];
        full.extend_from_slice(args);
        let out = proc::run_ok(Command::new(util::tool("ip")).args(&full), IP_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// `ip -n <server> args…`
    pub fn ip_server(&self, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["-n", self.server.as_str()];
        full.extend_from_slice(args);
        let out = proc::run_ok(Command::new(util::tool("ip")).args(&full), IP_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }

    /// Starts dnsmasq as the DHCP server on the server end (`start_dnsmasq`).
    pub fn start_dnsmasq(&self, dir: &Path) -> Result<ChildGuard, String> {
        start_dnsmasq(&self.server, SERVER_IF, dir)
    }

    /// Brings the client link up (or down) and, for up, waits (≤ 2 s) until both ends report
    /// carrier, so a benchmark round does not start inside the P15 carrier transition.
    pub fn set_client_link(&self, up: bool) -> Result<(), String> {
        self.ip_client(&["link", "set", CLIENT_IF, if up { "up" } else { "down" }])?;
        if up {
            let ok = proc::wait_until(Duration::from_secs(2), Duration::from_millis(5), || {
                let c = self.ip_client(&["-o", "link", "show", CLIENT_IF]).unwrap_or_default();
                let s = self.ip_server(&["-o", "link", "show", SERVER_IF]).unwrap_or_default();
                c.contains("LOWER_UP") && s.contains("LOWER_UP")
            });
            if !ok {
                return Err("veth did not report carrier within 2 s".into());
            }
        }
        Ok(())
    }

    /// Removes every IPv4 address and route the kernel holds on the client end.
    pub fn flush_client(&self) -> Result<(), String> {
        self.ip_client(&["-4", "addr", "flush", "dev", CLIENT_IF])?;
        // Removing the last address already drops the device's routes; this only catches
        // leftovers and fails harmlessly ("FIB table does not exist") when there are none.
        let _ = self.ip_client(&["-4", "route", "flush", "dev", CLIENT_IF]);
        Ok(())
    }
}

impl Drop for Topology {
    fn drop(&mut self) {
        // Processes started inside were killed by their own guards (declared later, dropped
        // earlier); delete_netns also kills any straggler before deleting.
        for ns in [&self.client, &self.server] {
            cleanup::delete_netns(ns);
            cleanup::remove_netns(ns);
        }
    }
}

/// Starts dnsmasq as a DHCP server on `iface` in namespace `netns` (pool 10.0.0.50-150,
/// router 10.0.0.1) and waits (≤ 5 s) until it has bound its DHCP socket. `--no-ping`
/// avoids the ~3 s ICMP probe before the first OFFER; `--port=0` disables DNS. With
/// `--no-daemon` dnsmasq writes no pid file and logs to stderr, which is also the readiness
/// signal.
pub fn start_dnsmasq(netns: &str, iface: &str, dir: &Path) -> Result<ChildGuard, String> {
    let log = dir.join("dnsmasq.log");
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns]).arg(util::tool("dnsmasq"));
    cmd.args([
        "--no-daemon",
        "--no-ping",
        "--port=0",
        "--bind-interfaces",
        &format!("--interface={iface}"),
        &format!("--dhcp-range=10.0.0.{},10.0.0.{},255.255.255.0,1h", POOL.0, POOL.1),
        &format!("--dhcp-option=option:router,{ROUTER_IP}"),
        "--conf-file=/dev/null",
        &format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        &format!("--pid-file={}", dir.join("dnsmasq.pid").display()),
        "--log-dhcp",
    ])
    .stdin(Stdio::null())
    .stdout(Stdio::null())
    .stderr(stderr);
    let mut child = ChildGuard::spawn(&mut cmd, "dnsmasq")?;
    let ready = proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        child.try_status().is_some() || std::fs::read_to_string(&log).is_ok_and(|s| s.contains("sockets bound"))
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if !ready || !text.contains("sockets bound") {
        return Err(format!("dnsmasq did not start: {}", util::tail(&text, 5)));
    }
    Ok(child)
}

/// `ip netns exec <netns> tc args…`
pub fn tc(netns: &str, args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns]).arg(util::tool("tc")).args(args);
    proc::run_ok(&mut cmd, IP_TIMEOUT).map(|_| ())
}

/// Random impairment of what a device sends (loss, reordering) and receives (duplication),
/// in percent of frames.
///
/// `tc qdisc … netem` is the usual tool, but this project's CI kernel is built without
/// `CONFIG_NET_SCH_NETEM` (and without `act_gact`), so the same effects are made from what
/// it has: an HTB root whose classes are "pass", "slow" (a 4 Mbit/s class: a frame put there
/// waits behind its own serialisation and is overtaken by the frames after it, i.e.
/// reordered) and "drop" (a `pfifo limit 0` leaf drops every frame), and a `cls_bpf`
/// classifier in classic BPF that draws a random number per frame (`ld rand`) to pick the
/// class. Duplication is a `mirred ingress mirror` back into the device's own receive path
/// for a random share of received frames (packet sockets see both copies).
/// GSO is turned off on the device so a "frame" here is one MTU-sized frame on the wire.
#[derive(Clone, Copy, Default)]
pub struct Impair {
    pub loss: u32,
    pub reorder: u32,
    pub duplicate: u32,
}

/// Classic BPF for cls_bpf: one random draw, `cuts` = (percent, classid) taken in order;
/// past the last cut, 0 (no match: the qdisc's default class, no action).
fn random_classifier(cuts: &[(u32, u32)]) -> String {
    // linux/filter.h: BPF_LD|BPF_W|BPF_ABS = 0x20 with k = SKF_AD_OFF (-0x1000) +
    // SKF_AD_RANDOM (56); BPF_JMP|BPF_JGE|BPF_K = 0x35; BPF_RET|BPF_K = 0x06.
    let mut ins = vec![format!("32 0 0 {}", 0xffff_f000u32 + 56)];
    let mut cumulative = 0u64;
    for &(pct, classid) in cuts {
        cumulative += u64::from(pct);
        let threshold = (cumulative.min(100) * (1u64 << 32) / 100).min(u64::from(u32::MAX)) as u32;
        // A >= threshold: skip the `ret` below and try the next cut.
        ins.push(format!("53 1 0 {threshold}"));
        ins.push(format!("6 0 0 {classid}"));
    }
    ins.push("6 0 0 0".into());
    format!("{},{}", ins.len(), ins.join(","))
}

pub fn impair(netns: &str, dev: &str, imp: Impair) -> Result<(), String> {
    ip(&["-n", netns, "link", "set", "dev", dev, "gso_max_segs", "1"])?;
    if imp.loss > 0 || imp.reorder > 0 {
        tc(netns, &["qdisc", "add", "dev", dev, "root", "handle", "1:", "htb", "default", "10", "r2q", "100000"])?;
        tc(netns, &["class", "add", "dev", dev, "parent", "1:", "classid", "1:10", "htb", "rate", "10gbit"])?;
        #[rustfmt::skip]
        tc(netns, &["class", "add", "dev", dev, "parent", "1:", "classid", "1:20", "htb", "rate", "4mbit", "ceil", "4mbit", "burst", "1600", "cburst", "1600"])?;
        tc(netns, &["class", "add", "dev", dev, "parent", "1:", "classid", "1:30", "htb", "rate", "10gbit"])?;
        tc(netns, &["qdisc", "add", "dev", dev, "parent", "1:30", "handle", "30:", "pfifo", "limit", "0"])?;
        let prog = random_classifier(&[(imp.loss, 0x1_0030), (imp.reorder, 0x1_0020)]);
        tc(netns, &["filter", "add", "dev", dev, "parent", "1:", "bpf", "bytecode", &prog])?;
    }
    if imp.duplicate > 0 {
        tc(netns, &["qdisc", "add", "dev", dev, "ingress"])?;
        let prog = random_classifier(&[(imp.duplicate, 1)]);
        #[rustfmt::skip]
        tc(netns, &["filter", "add", "dev", dev, "parent", "ffff:", "bpf", "bytecode", &prog, "action", "mirred", "ingress", "mirror", "dev", dev])?;
    }
    Ok(())
}

/// `tc -s <what…> show dev <dev>` (ingress filters included): what the impairment did.
pub fn tc_stats(netns: &str, dev: &str, what: &[&str]) -> String {
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns]).arg(util::tool("tc")).arg("-s").args(what).args(["show", "dev", dev]);
    if what == ["filter"] {
        cmd.arg("ingress");
    }
    proc::run_ok(&mut cmd, IP_TIMEOUT).map(|o| String::from_utf8_lossy(&o.stdout).into_owned()).unwrap_or_default()
}

/// Many guests on one link (the load test): a server namespace whose bridge `br0` carries
/// 10.0.0.1/24 and 169.254.169.254/32, and `n` client namespaces, each with an `eth0`
/// (DOWN, no address) whose peer is a port of the bridge. Everything is deleted on drop.
pub struct Lan {
    pub server: String,
    /// (namespace, MAC of its eth0)
    pub clients: Vec<(String, String)>,
}

pub const BRIDGE: &str = "br0";

/// `ip [-n netns] -batch FILE` over `lines`: one process for hundreds of commands.
fn ip_batch(netns: Option<&str>, lines: &[String], dir: &Path, name: &str) -> Result<(), String> {
    let file = dir.join(name);
    std::fs::write(&file, lines.join("\n") + "\n").map_err(|e| format!("{}: {e}", file.display()))?;
    let mut cmd = Command::new(util::tool("ip"));
    if let Some(ns) = netns {
        cmd.args(["-n", ns]);
    }
    cmd.arg("-batch").arg(&file);
    proc::run_ok(&mut cmd, Duration::from_secs(120)).map(|_| ())
}

impl Lan {
    pub fn new(n: usize, dir: &Path) -> Result<Lan, String> {
        let id = COUNTER.fetch_add(1, Ordering::Relaxed);
        let base = format!("{}{}-{id}", cleanup::NETNS_PREFIX, std::process::id());
        let pid = std::process::id();
        let lan = Lan {
            server: format!("{base}-srv"),
            clients: (0..n)
                .map(|i| {
                    (format!("{base}-c{i}"), format!("02:f1:18:{:02x}:{:02x}:{:02x}", pid & 0xff, i >> 8, i & 0xff))
                })
                .collect(),
        };
        // Registered first, so Drop and the panic hook delete whatever got created.
        cleanup::add_netns(&lan.server);
        for (ns, _) in &lan.clients {
            cleanup::add_netns(ns);
        }
        let mut adds = vec![format!("netns add {}", lan.server)];
        adds.extend(lan.clients.iter().map(|(ns, _)| format!("netns add {ns}")));
        ip_batch(None, &adds, dir, "netns-add.batch")?;
        let mut links = vec![
            "link set lo up".to_string(),
            format!("link add {BRIDGE} type bridge"),
            format!("addr add {ROUTER_IP}/24 dev {BRIDGE}"),
            format!("addr add {METADATA_IP}/32 dev {BRIDGE}"),
            format!("link set {BRIDGE} up"),
        ];
        for (i, (ns, mac)) in lan.clients.iter().enumerate() {
            links.push(format!("link add p{i} type veth peer name {CLIENT_IF} address {mac} netns {ns}"));
            links.push(format!("link set p{i} master {BRIDGE} up"));
        }
        ip_batch(Some(&lan.server), &links, dir, "links.batch")?;
        Ok(lan)
    }

    /// `ip netns exec <client i> program …`
    pub fn in_client(&self, i: usize, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(util::tool("ip"));
        cmd.args(["netns", "exec", &self.clients[i].0]).arg(program);
        cmd
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        // Clients first (their veth peers vanish with them), then the server; each deletion
        // kills what still runs inside, bounded per call (cleanup::delete_netns).
        for ns in self.clients.iter().map(|(ns, _)| ns).chain([&self.server]) {
            cleanup::delete_netns(ns);
            cleanup::remove_netns(ns);
        }
    }
}

/// A network namespace with nothing but `lo` (left down, as at boot): a machine with no NIC at
/// all, for runs that must do without the network. Deleted on drop.
pub struct Lone {
    pub ns: String,
}

impl Lone {
    pub fn new() -> Result<Lone, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let ns = format!("{}{}-{n}-lone", cleanup::NETNS_PREFIX, std::process::id());
        // Registered first: Drop and the panic hook delete it whatever happens below.
        cleanup::add_netns(&ns);
        let lone = Lone { ns };
        ip(&["netns", "add", &lone.ns])?;
        Ok(lone)
    }

    /// `ip netns exec <ns> program …`
    pub fn exec(&self, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(util::tool("ip"));
        cmd.args(["netns", "exec", &self.ns]).arg(program);
        cmd
    }
}

impl Drop for Lone {
    fn drop(&mut self) {
        cleanup::delete_netns(&self.ns);
        cleanup::remove_netns(&self.ns);
    }
}

/// An IPv6-capable segment (issue #11, the dual-stack suite): a server namespace whose bridge
/// `br0` carries the cloud's addresses, the client namespace (flint's `eth0`, DOWN, no
/// address, the kernel's IPv6 left at its defaults as at boot) and a probe namespace (`eth0`
/// UP, the kernel's own IPv6 and DAD off) that proves the fixtures without flint and can play
/// "another host on the link". Deleted on drop.
///
/// ```text
///  server  br0 (IPv6 on, DAD off, MLD snooping off) ── vcli ── client eth0 (flint)
///                                                   └─ vprb ── probe  eth0 (kernel IPv6)
/// ```
///
/// MLD snooping is off so that a solicited-node group the probe joined (the DAD case: the probe
/// holds flint's address) does not stop the bridge from flooding it to flint, which sends no MLD
/// reports of its own.
pub struct Segment {
    pub server: String,
    pub client: String,
    pub probe: String,
    pub client_mac: String,
    pub probe_mac: String,
}

/// The bridge of a `Segment` (the server's side of the link).
pub const SEGMENT_IF: &str = BRIDGE;

impl Segment {
    pub fn new() -> Result<Segment, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let base = format!("{}{pid}-{n}", cleanup::NETNS_PREFIX);
        let mac = |kind: u32| {
            format!("02:f1:{:02x}:{:02x}:{:02x}:{:02x}", 0x20 + kind, (pid >> 8) & 0xff, pid & 0xff, n & 0xff)
        };
        let seg = Segment {
            server: format!("{base}-srv"),
            client: format!("{base}-cli"),
            probe: format!("{base}-prb"),
            client_mac: mac(0),
            probe_mac: mac(1),
        };
        for ns in [&seg.server, &seg.client, &seg.probe] {
            cleanup::add_netns(ns);
            ip(&["netns", "add", ns])?;
        }
        let s = seg.server.as_str();
        ip(&["-n", s, "link", "set", "lo", "up"])?;
        ip(&[
            "-n",
            s,
            "link",
            "add",
            BRIDGE,
            "type",
            "bridge",
            "stp_state",
            "0",
            "forward_delay",
            "0",
            "mcast_snooping",
            "0",
        ])?;
        // IPv6 on and DAD off before the bridge is up: its link-local address (dnsmasq's RA
        // source) and every `nodad` address are usable at once.
        sysctl(s, &format!("net.ipv6.conf.{BRIDGE}.disable_ipv6"), "0")?;
        sysctl(s, &format!("net.ipv6.conf.{BRIDGE}.accept_dad"), "0")?;
        for (port, ns, mac) in [("vcli", &seg.client, &seg.client_mac), ("vprb", &seg.probe, &seg.probe_mac)] {
            ip(&[
                "-n", s, "link", "add", port, "type", "veth", "peer", "name", CLIENT_IF, "address", mac, "netns", ns,
            ])?;
            ip(&["-n", s, "link", "set", port, "master", BRIDGE, "up"])?;
        }
        let p = seg.probe.as_str();
        sysctl(p, &format!("net.ipv6.conf.{CLIENT_IF}.accept_dad"), "0")?;
        ip(&["-n", p, "link", "set", "lo", "up"])?;
        ip(&["-n", p, "link", "set", CLIENT_IF, "up"])?;
        ip(&["-n", s, "link", "set", BRIDGE, "up"])?;
        Ok(seg)
    }

    /// Adds `cidr` to the server's bridge (IPv6 ones `nodad`: usable at once).
    pub fn server_addr(&self, cidr: &str) -> Result<(), String> {
        let mut args = vec!["-n", self.server.as_str(), "addr", "add", cidr, "dev", BRIDGE];
        if cidr.contains(':') {
            args.push("nodad");
        }
        ip(&args)
    }

    /// `ip netns exec <ns> program …` for one of the segment's namespaces.
    pub fn exec(ns: &str, program: impl AsRef<std::ffi::OsStr>) -> Command {
        let mut cmd = Command::new(util::tool("ip"));
        cmd.args(["netns", "exec", ns]).arg(program);
        cmd
    }

    /// `ip -n <ns> args…`, its stdout.
    pub fn ip_in(ns: &str, args: &[&str]) -> Result<String, String> {
        let mut full = vec!["-n", ns];
        full.extend_from_slice(args);
        let out = proc::run_ok(Command::new(util::tool("ip")).args(&full), IP_TIMEOUT)?;
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    }
}

impl Drop for Segment {
    fn drop(&mut self) {
        for ns in [&self.client, &self.probe, &self.server] {
            cleanup::delete_netns(ns);
            cleanup::remove_netns(ns);
        }
    }
}

/// `sysctl -w key=value` inside `netns` (written through its /proc/sys).
pub fn sysctl(netns: &str, key: &str, value: &str) -> Result<(), String> {
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns]).arg(util::tool("sysctl")).args(["-qw", &format!("{key}={value}")]);
    proc::run_ok(&mut cmd, IP_TIMEOUT).map(|_| ())
}

/// `sysctl -n key` inside `netns`.
pub fn sysctl_read(netns: &str, key: &str) -> Result<String, String> {
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns]).arg(util::tool("sysctl")).args(["-n", key]);
    let out = proc::run_ok(&mut cmd, IP_TIMEOUT)?;
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Starts dnsmasq in `netns` with exactly `args` (plus `--no-daemon`, `--conf-file=/dev/null`,
/// a pid file in `dir`), logging to `dir/<name>.log`, and waits (≤ 5 s) for its "started" line.
/// For the dual-stack suite, which composes RA, DHCPv6, DHCPv4 and DNS options per case.
pub fn start_dnsmasq_args(netns: &str, args: &[String], dir: &Path, name: &str) -> Result<ChildGuard, String> {
    let log = dir.join(format!("{name}.log"));
    let stderr = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns]).arg(util::tool("dnsmasq"));
    cmd.args(["--no-daemon", "--conf-file=/dev/null"]);
    cmd.arg(format!("--pid-file={}", dir.join(format!("{name}.pid")).display()));
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    let mut child = ChildGuard::spawn(&mut cmd, "dnsmasq")?;
    let started = |t: &str| t.contains("dnsmasq: started");
    let ready = proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        child.try_status().is_some() || std::fs::read_to_string(&log).is_ok_and(|s| started(&s))
    });
    let text = std::fs::read_to_string(&log).unwrap_or_default();
    if !ready || !started(&text) || child.try_status().is_some() {
        return Err(format!("dnsmasq did not start: {}", util::tail(&text, 5)));
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::random_classifier;

    #[test]
    fn random_classifier_cuts_are_cumulative() {
        // ld rand; 20 % → 1:30; next 30 % (cumulative 50 %) → 1:20; else no match.
        let p = random_classifier(&[(20, 0x1_0030), (30, 0x1_0020)]);
        let quarter = (1u64 << 32) / 5;
        assert_eq!(
            p,
            format!("6,32 0 0 4294963256,53 1 0 {quarter},6 0 0 65584,53 1 0 {},6 0 0 65568,6 0 0 0", (1u64 << 31))
        );
        // 100 % never overflows the 32-bit threshold.
        assert!(random_classifier(&[(100, 1)]).contains(&format!("53 1 0 {}", u32::MAX)));
    }
}
