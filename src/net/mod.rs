//! The network below HTTP: which NIC ([`link`]), which address ([`stack`]: DHCPv4 and RFC 3927
//! link-local), and the smoltcp stack that carries TCP — all driven by `now`, never blocking.
//!
//! The NIC itself is the [`Nic`] seam: smoltcp's `phy::Device` plus what flint needs around it
//! (listing and raising interfaces, carrier, ARP frames for the link-local claim). The binary
//! implements it over an AF_PACKET socket (`sys::nic`); the engine tests over memory.

use core::fmt;

pub mod config;
pub mod csum;
pub mod dhcpv6;
pub mod dns;
pub mod iflist;
pub mod lease;
pub mod link;
pub mod linklocal;
pub mod ndp;
pub mod stack;

pub use link::LinkError;

/// The NIC seam; see the module docs.
pub trait Nic: smoltcp::phy::Device {
    /// Lists the candidate NICs (`--interface`, or every non-loopback Ethernet interface) and
    /// raises them all so their carriers come up in parallel; returns how many there are.
    /// Called once per run; whatever it raises the binary puts back at the end.
    fn raise(&mut self) -> Result<usize, LinkError>;
    /// Whether candidate `slot` has carrier now.
    fn carrier(&mut self, slot: usize) -> bool;
    /// Points the device at candidate `slot` (frames still queued from another NIC are
    /// dropped) and describes it.
    fn select(&mut self, slot: usize) -> Result<NicInfo, LinkError>;
    /// An ARP packet seen since the last call, oldest first (for link-local conflicts).
    fn take_arp(&mut self) -> Option<linklocal::ArpSeen>;
    /// Sends a frame built outside smoltcp (link-local ARP probes, router solicitations,
    /// duplicate address detection probes).
    fn send_raw(&mut self, frame: &[u8]);
    /// An NDP frame (see [`is_ndp`]) seen since the last call, oldest first, copied into `out`;
    /// its length. smoltcp sees the same frames (it answers neighbour solicitations itself).
    fn take_ndp(&mut self, out: &mut [u8]) -> Option<usize>;
}

/// Largest NDP frame kept for [`Nic::take_ndp`]: a router advertisement fills at most one
/// packet of the link's MTU (RFC 4861 §6.2.3); 1500 covers every MTU flint meets on the links
/// that carry RAs, and a longer one is dropped.
pub const NDP_FRAME_MAX: usize = 1514;

/// Is `frame` an Ethernet/IPv6 frame carrying an ICMPv6 router solicitation, router
/// advertisement, neighbour solicitation or neighbour advertisement (RFC 4861 §4, types
/// 133–136) right after the fixed header? NDP messages never carry extension headers.
pub fn is_ndp(frame: &[u8]) -> bool {
    frame.len() > 14 + 40 && frame[12..14] == [0x86, 0xdd] && frame[14 + 6] == 58 && (133..=136).contains(&frame[54])
}

/// A candidate NIC, as the engine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NicInfo {
    pub name: [u8; 16],
    pub name_len: usize,
    pub mac: [u8; 6],
    pub mtu: usize,
}

impl NicInfo {
    pub fn name(&self) -> &[u8] {
        &self.name[..self.name_len.min(16)]
    }
}

/// How flint gets an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressMode {
    /// DHCP; link-local when no DHCP server answers within the DHCP timeout.
    Auto,
    Dhcp,
    LinkLocal,
}

impl AddressMode {
    pub fn name(self) -> &'static str {
        match self {
            AddressMode::Auto => "auto",
            AddressMode::Dhcp => "dhcp",
            AddressMode::LinkLocal => "link-local",
        }
    }
}

/// Which IP versions flint's stack uses (`--family`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Family {
    /// Both: IPv4 (DHCP or link-local, `--address`) and IPv6 (link-local, SLAAC, DHCPv6),
    /// raced per connection (RFC 8305).
    Any,
    V4,
    V6,
}

impl Family {
    pub fn v4(self) -> bool {
        self != Family::V6
    }

    pub fn v6(self) -> bool {
        self != Family::V4
    }
}

/// How a request failed below HTTP.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Transport {
    /// Nothing answered the connection attempt (no ARP reply, no SYN-ACK) before the deadline.
    Timeout,
    /// The peer refused the connection (RST to our SYN).
    Refused,
    /// The connection broke after it was established (RST).
    Reset,
    /// The connection closed before the response was complete (FIN before the promised end).
    Truncated,
    /// The network has no route or address to send from.
    NoRoute,
}

impl Transport {
    /// The service's host answered something: the network path works.
    pub fn is_contact(self) -> bool {
        matches!(self, Transport::Refused | Transport::Reset | Transport::Truncated)
    }
}

impl fmt::Display for Transport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Transport::Timeout => "no answer",
            Transport::Refused => "connection refused",
            Transport::Reset => "connection reset",
            Transport::Truncated => "response cut short",
            Transport::NoRoute => "no route",
        })
    }
}
