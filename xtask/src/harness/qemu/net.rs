//! The network namespace a VM runs in: loopback for the slirp relays and the mock, and
//! optionally a "cloud" link — `br0` with the VM's `tap0` as its port — shaped like one of
//! the tap topologies of qemu.md §4:
//!
//! ```text
//!  fx-<pid>-q<n>-vm
//!   lo            127.0.0.1: mock (0.0.0.0:80), reached by slirp's per-connection relays
//!   br0 ── tap0 ── QEMU NIC (guest eth<i>), checksum offloads left ON
//!     Dhcp:      10.0.0.1/24 (router, dnsmasq) + 169.254.169.254/32 (mock, behind the router)
//!     LinkLocal: 169.254.169.254/16 (mock on-link), no DHCP server
//!     Silent:    no address, no service
//!     V6Only:    fd00::1/64 (dnsmasq: RA ra-only with RDNSS+DNSSL, DNS on fd00::53),
//!                fd00::80 (metadata.example.internal AAAA), fd00:ec2::254 (mock); no IPv4
//!     DualStack: Dhcp's addresses and dnsmasq's DHCPv4 (with DNS options) plus V6Only's
//!     DualStackV6Dropped: DualStack, and nft drops TCP to [fd00:ec2::254]:80 silently
//!     Gce:       Dhcp's addresses; dnsmasq leases 10.0.0.77/32 with option 121 (GCE's lease)
//! ```
//!
//! The IPv6 links are the dual-stack suite's segment (`suites/dualstack`, `netns::Segment`)
//! with the VM's tap as the client: the same addresses, dnsmasq options and drop rule.
//!
//! QEMU, dnsmasq and the mock all run inside it, so nothing the guest sends can reach the
//! host's network. The namespace (and whatever still runs in it) is removed on drop and by
//! the panic hook (`cleanup`).

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use crate::harness::netns;
use crate::support::{cleanup, proc, util};

pub const BRIDGE: &str = "br0";
pub const TAP_IF: &str = "tap0";
const IP_TIMEOUT: Duration = Duration::from_secs(10);
static COUNTER: AtomicU32 = AtomicU32::new(0);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TapLink {
    Dhcp,
    LinkLocal,
    Silent,
    /// IPv6 only: RAs (SLAAC) with RDNSS and DNSSL, dnsmasq answering DNS, no IPv4 at all.
    V6Only,
    /// DHCPv4 and RAs (SLAAC) on the same segment, DNS announced by both.
    DualStack,
    /// `DualStack` where TCP to the service's IPv6 address is silently dropped (nft).
    DualStackV6Dropped,
    /// GCE's lease: 10.0.0.77/32, router 10.0.0.1 outside it, and classless routes (option
    /// 121) `10.0.0.1/32 via 0.0.0.0, 0.0.0.0/0 via 10.0.0.1`.
    Gce,
}

impl TapLink {
    /// dnsmasq sends RAs and answers DNS; the bridge has IPv6 on.
    pub fn has_v6(self) -> bool {
        matches!(self, TapLink::V6Only | TapLink::DualStack | TapLink::DualStackV6Dropped)
    }

    /// dnsmasq hands out DHCPv4 leases (10.0.0.50-150/24, router 10.0.0.1).
    pub fn has_dhcp4(self) -> bool {
        matches!(self, TapLink::Dhcp | TapLink::DualStack | TapLink::DualStackV6Dropped)
    }

    /// A metadata service answers on this link.
    pub fn has_service(self) -> bool {
        self != TapLink::Silent
    }
}

/// The IPv6 links' plan (the dual-stack suite's, `suites/dualstack/case.rs`).
pub const PREFIX6: &str = "fd00::";
pub const ROUTER6: &str = "fd00::1";
/// dnsmasq's DNS on IPv6 (announced by RDNSS) and IPv4 (DHCPv4 option 6).
pub const DNS6: &str = "fd00::53";
pub const DNS4: &str = "10.0.0.5";
/// What `metadata.example.internal` resolves to (AAAA).
pub const META6: &str = "fd00::80";
/// AWS's IMDS IPv6 endpoint.
pub const AWS6: &str = "fd00:ec2::254";
/// The search list (DNSSL, DHCPv4 option 119): the first one holds the records.
pub const DOMAIN: &str = "example.internal";
pub const OTHER_DOMAIN: &str = "corp.example";
/// The nft table of the drop rule.
const NFT_TABLE: &str = "flintdrop";
/// What `DualStackV6Dropped` drops (in the bridge's input chain).
pub const V6_DROP: &str = "ip6 daddr fd00:ec2::254 tcp dport 80";

pub struct VmNet {
    pub ns: String,
}

impl VmNet {
    pub fn new() -> Result<Self, String> {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let ns = format!("{}{}-q{n}-vm", cleanup::NETNS_PREFIX, std::process::id());
        // Registered first: Drop and the panic hook delete it whatever happens below.
        cleanup::add_netns(&ns);
        let net = VmNet { ns };
        ip(&["netns", "add", &net.ns])?;
        net.ip(&["link", "set", "lo", "up"])?;
        Ok(net)
    }

    /// `ip -n <ns> args…`
    pub fn ip(&self, args: &[&str]) -> Result<(), String> {
        let mut full = vec!["-n", self.ns.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    /// `br0` with `tap0` (vnet_hdr, as QEMU's virtio-net uses it) as its only port, shaped
    /// per `link`. STP off and forward delay 0: the port forwards as soon as QEMU opens it.
    pub fn add_tap(&self, link: TapLink) -> Result<(), String> {
        let mut bridge = vec!["link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"];
        if link.has_v6() {
            // The solicited-node groups flint joins without sending MLD reports (as in
            // `netns::Segment`): the bridge must flood them.
            bridge.extend(["mcast_snooping", "0"]);
        }
        self.ip(&bridge)?;
        if link.has_v6() {
            // IPv6 on and DAD off before the bridge is up: its link-local address (dnsmasq's
            // RA source) and every `nodad` address are usable at once.
            netns::sysctl(&self.ns, &format!("net.ipv6.conf.{BRIDGE}.disable_ipv6"), "0")?;
            netns::sysctl(&self.ns, &format!("net.ipv6.conf.{BRIDGE}.accept_dad"), "0")?;
        }
        self.ip(&["tuntap", "add", "dev", TAP_IF, "mode", "tap", "vnet_hdr"])?;
        self.ip(&["link", "set", TAP_IF, "master", BRIDGE])?;
        let v4: &[&str] = match link {
            // 169.254.42.42: Scaleway's metadata address (platforms.md §10).
            TapLink::Dhcp | TapLink::Gce => &["10.0.0.1/24", "169.254.169.254/32", "169.254.42.42/32"],
            TapLink::DualStack | TapLink::DualStackV6Dropped => &["10.0.0.1/24", "169.254.169.254/32", "10.0.0.5/32"],
            TapLink::LinkLocal => &["169.254.169.254/16"],
            TapLink::Silent | TapLink::V6Only => &[],
        };
        for a in v4 {
            self.ip(&["addr", "add", a, "dev", BRIDGE])?;
        }
        if link.has_v6() {
            let v6 = [format!("{ROUTER6}/64"), format!("{DNS6}/128"), format!("{META6}/128"), format!("{AWS6}/128")];
            for a in &v6 {
                self.ip(&["-6", "addr", "add", a, "dev", BRIDGE, "nodad"])?;
            }
        }
        self.ip(&["link", "set", TAP_IF, "up"])?;
        self.ip(&["link", "set", BRIDGE, "up"])?;
        Ok(())
    }
}

/// dnsmasq's arguments for an IPv6 link (`start_dnsmasq_args`): DHCPv4 where the link has
/// it, RAs (`ra-only`: the A flag, SLAAC) with RDNSS and DNSSL, and DNS, authoritative for
/// `example.internal` (`metadata.example.internal` AAAA fd00::80), as the dual-stack suite's
/// `fixture::dnsmasq_args` builds them.
pub fn dnsmasq_args(link: TapLink, dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--no-ping".into(),
        "--bind-interfaces".into(),
        format!("--interface={BRIDGE}"),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        "--log-queries".into(),
        // Authoritative for the domain: an unknown name is NXDOMAIN, never forwarded.
        format!("--local=/{DOMAIN}/"),
        format!("--host-record=metadata.{DOMAIN},{META6}"),
    ];
    if link.has_dhcp4() {
        a.push(format!("--dhcp-range=10.0.0.{},10.0.0.{},255.255.255.0,1h", netns::POOL.0, netns::POOL.1));
        a.push(format!("--dhcp-option=option:router,{}", netns::ROUTER_IP));
        a.push(format!("--dhcp-option=option:dns-server,{DNS4}"));
        a.push(format!("--dhcp-option=option:domain-name,{DOMAIN}"));
        a.push(format!("--dhcp-option=option:domain-search,{DOMAIN},{OTHER_DOMAIN}"));
    }
    a.push("--enable-ra".into());
    a.push(format!("--dhcp-range={PREFIX6},ra-only,64,1h"));
    a.push(format!("--dhcp-option=option6:dns-server,[{DNS6}]"));
    a.push(format!("--dhcp-option=option6:domain-search,{DOMAIN},{OTHER_DOMAIN}"));
    a
}

/// dnsmasq's arguments for `TapLink::Gce` (`start_dnsmasq_args`): the one address with a
/// subnet mask of 255.255.255.255 (option 1 given, which dnsmasq sends instead of its own),
/// router 10.0.0.1 and option 121 as GCE sends them.
pub fn gce_dnsmasq_args(dir: &Path) -> Vec<String> {
    vec![
        "--no-ping".into(),
        "--port=0".into(),
        "--bind-interfaces".into(),
        format!("--interface={BRIDGE}"),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
        "--dhcp-range=10.0.0.77,10.0.0.77,1h".into(),
        "--dhcp-option=option:netmask,255.255.255.255".into(),
        format!("--dhcp-option=option:router,{}", netns::ROUTER_IP),
        format!("--dhcp-option=option:classless-static-route,{0}/32,0.0.0.0,0.0.0.0/0,{0}", netns::ROUTER_IP),
    ]
}

/// The drop rule of `DualStackV6Dropped` in the namespace's input chain (frames from the tap
/// to the bridge's own addresses pass it), with a counter; its text is kept in `dir`.
pub fn drop_v6_service(ns: &str, dir: &Path) -> Result<(), String> {
    let rules = format!(
        "table inet {NFT_TABLE} {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n  {V6_DROP} counter drop\n }}\n}}\n"
    );
    let file = dir.join("drops.nft");
    std::fs::write(&file, rules).map_err(|e| format!("{}: {e}", file.display()))?;
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", ns]).arg(util::tool("nft")).arg("-f").arg(&file);
    proc::run_ok(&mut cmd, IP_TIMEOUT).map(|_| ())
}

/// Packets the drop rule dropped so far (`None`: no rule or nft failed).
pub fn dropped_packets(ns: &str) -> Option<u64> {
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", ns]).arg(util::tool("nft")).args(["list", "table", "inet", NFT_TABLE]);
    let out = proc::run_ok(&mut cmd, IP_TIMEOUT).ok()?;
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.split("counter packets ").nth(1)?.split(' ').next()?.parse().ok()
}

impl Drop for VmNet {
    fn drop(&mut self) {
        cleanup::delete_netns(&self.ns);
        cleanup::remove_netns(&self.ns);
    }
}

fn ip(args: &[&str]) -> Result<(), String> {
    proc::run_ok(Command::new(util::tool("ip")).args(args), IP_TIMEOUT).map(|_| ())
}
