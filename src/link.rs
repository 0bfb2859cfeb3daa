//! The link phase: list the NICs, raise them, wait for carrier, and put every interface flint
//! touched back the way it was at the end.
//!
//! Choice without `--interface`: every non-loopback Ethernet interface is raised at once and
//! the first to report carrier (lowest index on a tie) is used, so a slow PHY on one NIC (e1000
//! takes ~2.5 s) does not hold up another that is ready. If that NIC cannot reach the metadata
//! service, `main` falls back to the next one with carrier (see `run` in main.rs).

use flint::iflist::Link;
use rustix::fd::{AsFd, OwnedFd};
use smoltcp::time::{Duration, Instant};

use crate::clock;
use crate::sys::netdev::{self, IFF_LOOPBACK, IFF_LOWER_UP, IFF_UP, Netlink};

const ARPHRD_ETHER: u16 = 1;
/// Most interfaces considered in automatic choice.
const CANDIDATES: usize = 8;
/// Carrier is polled this often: a netlink query is cheap, and veth reports carrier in well
/// under 1 ms.
const CARRIER_POLL: Duration = Duration::from_millis(1);

/// The chosen NIC.
#[derive(Clone, Copy)]
pub struct Nic {
    pub link: Link,
    pub mac: [u8; 6],
    pub mtu: usize,
}

/// Why the link phase failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LinkError {
    /// The named interface does not exist, or there is no Ethernet interface at all.
    NotFound,
    /// The interface is not Ethernet (no MAC) or has a multicast MAC.
    NotEthernet,
    /// An ioctl or socket call was refused (usually: not root / no CAP_NET_RAW/ADMIN).
    Os(rustix::io::Errno),
    /// No carrier within the budget.
    NoCarrier,
}

/// Interfaces whose flags flint changed, to restore at the end.
pub struct Restore {
    changed: heapless::Vec<([u8; 16], usize, u16), CANDIDATES>,
}

impl Restore {
    pub fn new() -> Restore {
        Restore { changed: heapless::Vec::new() }
    }

    fn bring_up(&mut self, fd: &OwnedFd, name: &[u8]) -> Result<(), LinkError> {
        let flags = netdev::flags(fd.as_fd(), name).map_err(LinkError::Os)?;
        if flags & IFF_UP == 0 {
            netdev::set_flags(fd.as_fd(), name, flags | IFF_UP).map_err(LinkError::Os)?;
            let mut n = [0u8; 16];
            n[..name.len()].copy_from_slice(name);
            let _ = self.changed.push((n, name.len(), flags));
        }
        Ok(())
    }

    /// Puts back the flags of every interface flint raised.
    pub fn restore(&mut self, fd: &OwnedFd) {
        for (n, len, flags) in self.changed.iter() {
            let _ = netdev::set_flags(fd.as_fd(), &n[..*len], *flags);
        }
        self.changed.clear();
    }
}

/// The NICs flint may use, in index order, and the netlink socket that reports their carrier.
pub struct Candidates {
    list: heapless::Vec<Link, CANDIDATES>,
    netlink: Netlink,
}

impl Candidates {
    pub fn len(&self) -> usize {
        self.list.len()
    }

    /// Carrier as the kernel sees it (`IFF_LOWER_UP`, i.e. `netif_carrier_ok`): set the moment
    /// the driver calls `netif_carrier_on`, and the condition for frames to leave. Neither
    /// `IFF_RUNNING` (the operstate, which linkwatch updates at most about once a second; it
    /// lagged by 970 ms on veth) nor `ETHTOOL_GLINK` (e1000 reports the PHY link ~2 s before
    /// the kernel's carrier, and frames sent in between are dropped) will do.
    fn has_carrier(&self, slot: usize) -> bool {
        self.netlink.link(self.list[slot].index).ok().flatten().is_some_and(|l| l.flags & IFF_LOWER_UP != 0)
    }
}

/// Lists the candidate NICs (`wanted`, or every non-loopback Ethernet interface) and raises
/// them all, so their carriers come up in parallel. They stay up until [`Restore::restore`].
pub fn raise(fd: &OwnedFd, wanted: Option<&[u8]>, restore: &mut Restore) -> Result<Candidates, LinkError> {
    let netlink = Netlink::open().map_err(LinkError::Os)?;
    let mut candidates = heapless::Vec::<Link, CANDIDATES>::new();
    match wanted {
        Some(name) => {
            let index = netdev::index(fd.as_fd(), name).map_err(|e| if e == rustix::io::Errno::NODEV { LinkError::NotFound } else { LinkError::Os(e) })?;
            let mut l = Link { index, kind: ARPHRD_ETHER, flags: 0, name: [0; 16], name_len: name.len() };
            l.name[..name.len()].copy_from_slice(name);
            let _ = candidates.push(l);
        }
        None => {
            // Kept in index order (the kernel's dump order is not promised); a plain insert
            // avoids pulling a general sort into the binary.
            netlink.links(|l| {
                if l.kind == ARPHRD_ETHER && l.flags & IFF_LOOPBACK as u32 == 0 {
                    let at = candidates.iter().position(|c| c.index > l.index).unwrap_or(candidates.len());
                    let _ = candidates.insert(at, l);
                }
            })
            .map_err(LinkError::Os)?;
        }
    }
    if candidates.is_empty() {
        return Err(LinkError::NotFound);
    }
    for c in &candidates {
        restore.bring_up(fd, c.name())?;
    }
    Ok(Candidates { list: candidates, netlink })
}

/// Waits for the first candidate to report carrier (lowest index first among those that have
/// it) and returns it with its position.
pub fn first(fd: &OwnedFd, candidates: &Candidates, deadline: Instant) -> Result<(usize, Nic), LinkError> {
    let start = clock::now();
    // Bounded by the deadline; each round is one ioctl per candidate.
    let slot = loop {
        if let Some(i) = (0..candidates.len()).find(|&i| candidates.has_carrier(i)) {
            break i;
        }
        let now = clock::now();
        if now >= deadline {
            return Err(LinkError::NoCarrier);
        }
        let _ = rustix::event::poll(&mut [], Some(&timespec(CARRIER_POLL.min(deadline - now))));
    };
    let nic = describe(fd, candidates.list[slot])?;
    flint::info!("link", "{} up, carrier after {} us, mtu {}", crate::Bytes(nic.link.name()), (clock::now() - start).total_micros(), nic.mtu);
    Ok((slot, nic))
}

/// The candidate after `current` (in index order, wrapping) that has carrier now, for falling
/// back; `None` when no other NIC has carrier. Round-robin, so every NIC with carrier gets its
/// turn again.
pub fn other(fd: &OwnedFd, candidates: &Candidates, current: usize) -> Option<(usize, Nic)> {
    let n = candidates.len();
    let slot = (1..n).map(|k| (current + k) % n).find(|&i| candidates.has_carrier(i))?;
    describe(fd, candidates.list[slot]).ok().map(|nic| (slot, nic))
}

/// MAC and MTU of a candidate; only unicast Ethernet NICs qualify.
fn describe(fd: &OwnedFd, link: Link) -> Result<Nic, LinkError> {
    let mac = netdev::ethernet_address(fd.as_fd(), link.name()).map_err(LinkError::Os)?.ok_or(LinkError::NotEthernet)?;
    if mac[0] & 1 != 0 {
        return Err(LinkError::NotEthernet);
    }
    let mtu = netdev::mtu(fd.as_fd(), link.name()).map_err(LinkError::Os)?;
    Ok(Nic { link, mac, mtu })
}

pub fn timespec(d: Duration) -> rustix::time::Timespec {
    let us = d.total_micros();
    rustix::time::Timespec { tv_sec: (us / 1_000_000) as i64, tv_nsec: ((us % 1_000_000) * 1000) as i64 }
}
