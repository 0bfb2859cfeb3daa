//! The NIC seam over the kernel: candidate interfaces from rtnetlink, raised with SIOCSIFFLAGS,
//! carrier as `IFF_LOWER_UP`, and the AF_PACKET device bound to the chosen one. Every
//! interface flint raised is put back down by [`PacketNic::restore`].
//!
//! The kernel's own IPv6 is switched off on every candidate NIC before it is raised
//! (`net.ipv6.conf.<nic>.disable_ipv6=1`) and switched back on at the end, whatever
//! `--family` says: a NIC flint raised carries flint's traffic only (with `--family ipv4`,
//! not one IPv6 frame: the kernel would otherwise send its MLD reports and solicitations from
//! it). With IPv6 in use, flint's stack
//! owns the NIC's IPv6 addresses while it runs: a kernel that also configured the NIC would
//! claim the same EUI-64 link-local address (its DAD and flint's would collide), send its own
//! router solicitations, and answer flint's TCP segments with resets, as it does for IPv4
//! addresses it does not hold. `disable_ipv6` stops all of it at once (the kernel then drops
//! every IPv6 frame on that NIC; the packet socket still sees them), where `addr_gen_mode`
//! alone would leave the kernel processing router advertisements.

use flint::net::iflist::Link;
use flint::net::linklocal::ArpSeen;
use flint::net::{LinkError, Nic, NicInfo};
use rustix::fd::{AsFd, OwnedFd};
use smoltcp::phy::{self, DeviceCapabilities};
use smoltcp::time::Instant;

use super::netdev::{self, IFF_LOOPBACK, IFF_LOWER_UP, IFF_UP, Netlink};
use super::packet::{self, Frames, PacketDevice};

const ARPHRD_ETHER: u16 = 1;
/// Most interfaces considered in automatic choice.
const CANDIDATES: usize = 8;

/// The packet socket before it is bound, or the device after.
enum Socket {
    Unbound(OwnedFd),
    Bound(PacketDevice),
    Closed,
}

pub struct PacketNic {
    socket: Socket,
    frames: Option<&'static mut Frames>,
    wanted: Option<&'static [u8]>,
    list: heapless::Vec<Link, CANDIDATES>,
    netlink: Option<Netlink>,
    /// Interfaces whose flags flint changed: name, name length, flags before.
    changed: heapless::Vec<([u8; 16], usize, u16), CANDIDATES>,
    /// Interfaces whose kernel IPv6 flint switched off: name, name length.
    ipv6_off: heapless::Vec<([u8; 16], usize), CANDIDATES>,
}

impl PacketNic {
    /// `wanted`: `--interface`, or every non-loopback Ethernet interface when `None`.
    pub fn new(wanted: Option<&'static [u8]>, frames: &'static mut Frames) -> PacketNic {
        PacketNic {
            socket: Socket::Closed,
            frames: Some(frames),
            wanted,
            list: heapless::Vec::new(),
            netlink: None,
            changed: heapless::Vec::new(),
            ipv6_off: heapless::Vec::new(),
        }
    }

    fn fd(&self) -> Option<&OwnedFd> {
        match &self.socket {
            Socket::Unbound(fd) => Some(fd),
            Socket::Bound(dev) => Some(dev.fd()),
            Socket::Closed => None,
        }
    }

    /// Frames larger than the receive buffer, dropped.
    pub fn truncated(&self) -> u32 {
        match &self.socket {
            Socket::Bound(dev) => dev.truncated,
            _ => 0,
        }
    }

    /// Sleeps until a frame arrives or `timeout` passes (just sleeps before the device is
    /// bound).
    pub fn wait(&self, timeout: smoltcp::time::Duration) {
        match &self.socket {
            Socket::Bound(dev) => dev.wait(timeout),
            _ => {
                let _ = rustix::event::poll(&mut [], Some(&super::timespec(timeout)));
            }
        }
    }

    /// Puts back the flags of every interface flint raised.
    pub fn restore(&mut self) {
        if let Some(fd) = self.fd() {
            for (n, len, flags) in self.changed.iter() {
                let _ = netdev::set_flags(fd.as_fd(), &n[..*len], *flags);
            }
        }
        self.changed.clear();
        for (n, len) in self.ipv6_off.iter() {
            let _ = kernel_ipv6_off(&n[..*len], false);
        }
        self.ipv6_off.clear();
    }

    /// Hands the packet socket's slow close to a child (see `close_in_background`); the last
    /// thing before exit.
    pub fn close(&self) {
        if let Some(fd) = self.fd() {
            super::close_in_background(fd);
        }
    }

    fn bring_up(&mut self, fd: &OwnedFd, name: &[u8]) -> Result<(), LinkError> {
        // Before the NIC goes up, so the kernel never starts its own DAD and solicitations.
        // A kernel without IPv6 (`ipv6.disable=1`, no /proc/sys/net/ipv6) has nothing to stop.
        if kernel_ipv6_off(name, true) == Ok(true) {
            let mut n = [0u8; 16];
            n[..name.len()].copy_from_slice(name);
            let _ = self.ipv6_off.push((n, name.len()));
        }
        let flags = netdev::flags(fd.as_fd(), name).map_err(LinkError::Os)?;
        if flags & IFF_UP == 0 {
            netdev::set_flags(fd.as_fd(), name, flags | IFF_UP).map_err(LinkError::Os)?;
            let mut n = [0u8; 16];
            n[..name.len()].copy_from_slice(name);
            let _ = self.changed.push((n, name.len(), flags));
        }
        Ok(())
    }
}

/// Sets `net.ipv6.conf.<name>.disable_ipv6` to `off`; true when that changed it.
fn kernel_ipv6_off(name: &[u8], off: bool) -> rustix::io::Result<bool> {
    use rustix::fs::{Mode, OFlags};
    let mut path = [0u8; 64];
    let parts: [&[u8]; 3] = [b"/proc/sys/net/ipv6/conf/", name, b"/disable_ipv6\0"];
    let mut at = 0;
    for p in parts {
        path.get_mut(at..at + p.len()).ok_or(rustix::io::Errno::NAMETOOLONG)?.copy_from_slice(p);
        at += p.len();
    }
    let path = core::ffi::CStr::from_bytes_until_nul(&path[..at]).map_err(|_| rustix::io::Errno::INVAL)?;
    let fd = rustix::fs::open(path, OFlags::RDWR | OFlags::CLOEXEC, Mode::empty())?;
    let mut now = [0u8; 4];
    let n = rustix::io::read(&fd, &mut now)?;
    let want = if off { b"1\n" } else { b"0\n" };
    if now[..n].first() == want.first() {
        return Ok(false);
    }
    // At offset 0: the kernel ignores a write to a numeric sysctl at any other position
    // (`kernel.sysctl_writes_strict`, 1 by default), and the read moved the offset.
    rustix::io::pwrite(&fd, want, 0)?;
    Ok(true)
}

impl Nic for PacketNic {
    fn raise(&mut self) -> Result<usize, LinkError> {
        let fd = packet::open().map_err(LinkError::Os)?;
        let netlink = Netlink::open().map_err(LinkError::Os)?;
        match self.wanted {
            Some(name) => {
                let index = netdev::index(fd.as_fd(), name)
                    .map_err(|e| if e == rustix::io::Errno::NODEV { LinkError::NotFound } else { LinkError::Os(e) })?;
                let mut l = Link { index, kind: ARPHRD_ETHER, flags: 0, name: [0; 16], name_len: name.len() };
                l.name[..name.len()].copy_from_slice(name);
                let _ = self.list.push(l);
            }
            None => {
                // Kept in index order (the kernel's dump order is not promised); a plain
                // insert avoids pulling a general sort into the binary.
                let list = &mut self.list;
                netlink
                    .links(|l| {
                        if l.kind == ARPHRD_ETHER && l.flags & IFF_LOOPBACK as u32 == 0 {
                            let at = list.iter().position(|c| c.index > l.index).unwrap_or(list.len());
                            let _ = list.insert(at, l);
                        }
                    })
                    .map_err(LinkError::Os)?;
            }
        }
        if self.list.is_empty() {
            self.socket = Socket::Unbound(fd);
            return Err(LinkError::NotFound);
        }
        for i in 0..self.list.len() {
            let name = self.list[i];
            self.bring_up(&fd, name.name())?;
        }
        self.socket = Socket::Unbound(fd);
        self.netlink = Some(netlink);
        Ok(self.list.len())
    }

    /// Carrier as the kernel sees it (`IFF_LOWER_UP`, i.e. `netif_carrier_ok`): set the moment
    /// the driver calls `netif_carrier_on`, and the condition for frames to leave. Neither
    /// `IFF_RUNNING` (the operstate, which linkwatch updates at most about once a second; it
    /// lagged by 970 ms on veth) nor `ETHTOOL_GLINK` (e1000 reports the PHY link ~2 s before
    /// the kernel's carrier, and frames sent in between are dropped) will do.
    fn carrier(&mut self, slot: usize) -> bool {
        let (Some(netlink), Some(link)) = (&self.netlink, self.list.get(slot)) else { return false };
        netlink.link(link.index).ok().flatten().is_some_and(|l| l.flags & IFF_LOWER_UP != 0)
    }

    /// MAC and MTU of a candidate (only unicast Ethernet NICs qualify), with the device bound
    /// to it. Re-binding keeps the socket, so the slow close is paid once, at exit.
    fn select(&mut self, slot: usize) -> Result<NicInfo, LinkError> {
        let link = *self.list.get(slot).ok_or(LinkError::NotFound)?;
        let fd = self.fd().ok_or(LinkError::NotFound)?;
        let mac =
            netdev::ethernet_address(fd.as_fd(), link.name()).map_err(LinkError::Os)?.ok_or(LinkError::NotEthernet)?;
        if mac[0] & 1 != 0 {
            return Err(LinkError::NotEthernet);
        }
        let mtu = netdev::mtu(fd.as_fd(), link.name()).map_err(LinkError::Os)?;
        match core::mem::replace(&mut self.socket, Socket::Closed) {
            Socket::Unbound(fd) => {
                let frames = self.frames.take().ok_or(LinkError::NotFound)?;
                self.socket = Socket::Bound(PacketDevice::bind(fd, link.index, mtu, frames).map_err(LinkError::Os)?);
            }
            Socket::Bound(mut dev) => {
                let r = dev.rebind(link.index, mtu);
                self.socket = Socket::Bound(dev);
                r.map_err(LinkError::Os)?;
            }
            Socket::Closed => return Err(LinkError::NotFound),
        }
        let mut name = [0u8; 16];
        name.copy_from_slice(&link.name);
        Ok(NicInfo { name, name_len: link.name_len, mac, mtu })
    }

    fn take_arp(&mut self) -> Option<ArpSeen> {
        match &mut self.socket {
            Socket::Bound(dev) => dev.take_arp(),
            _ => None,
        }
    }

    fn send_raw(&mut self, frame: &[u8]) {
        if let Socket::Bound(dev) = &mut self.socket {
            dev.send_raw(frame);
        }
    }

    fn take_ndp(&mut self, out: &mut [u8]) -> Option<usize> {
        match &mut self.socket {
            Socket::Bound(dev) => dev.take_ndp(out),
            _ => None,
        }
    }
}

impl phy::Device for PacketNic {
    type RxToken<'a> = packet::RxToken<'a>;
    type TxToken<'a> = packet::TxToken<'a>;

    fn receive(&mut self, now: Instant) -> Option<(Self::RxToken<'_>, Self::TxToken<'_>)> {
        match &mut self.socket {
            Socket::Bound(dev) => dev.receive(now),
            _ => None,
        }
    }

    fn transmit(&mut self, now: Instant) -> Option<Self::TxToken<'_>> {
        match &mut self.socket {
            Socket::Bound(dev) => dev.transmit(now),
            _ => None,
        }
    }

    fn capabilities(&self) -> DeviceCapabilities {
        match &self.socket {
            Socket::Bound(dev) => dev.capabilities(),
            _ => DeviceCapabilities::default(),
        }
    }
}
