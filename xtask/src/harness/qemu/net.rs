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
//! ```
//!
//! QEMU, dnsmasq and the mock all run inside it, so nothing the guest sends can reach the
//! host's network. The namespace (and whatever still runs in it) is removed on drop and by
//! the panic hook (`cleanup`).

use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

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
}

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
        self.ip(&["link", "add", BRIDGE, "type", "bridge", "stp_state", "0", "forward_delay", "0"])?;
        self.ip(&["tuntap", "add", "dev", TAP_IF, "mode", "tap", "vnet_hdr"])?;
        self.ip(&["link", "set", TAP_IF, "master", BRIDGE])?;
        let addrs: &[&str] = match link {
            TapLink::Dhcp => &["10.0.0.1/24", "169.254.169.254/32"],
            TapLink::LinkLocal => &["169.254.169.254/16"],
            TapLink::Silent => &[],
        };
        for a in addrs {
            self.ip(&["addr", "add", a, "dev", BRIDGE])?;
        }
        self.ip(&["link", "set", TAP_IF, "up"])?;
        self.ip(&["link", "set", BRIDGE, "up"])?;
        Ok(())
    }
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
