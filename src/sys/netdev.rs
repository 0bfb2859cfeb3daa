//! Interface ioctls (netdevice(7)) through an `ifreq`: index and name lookups, flags (up,
//! running, loopback), MTU and hardware address. Any socket works as the ioctl handle; flint
//! uses its packet socket before binding it.

use rustix::fd::BorrowedFd;
use rustix::ioctl::{Opcode, Updater, ioctl};

const SIOCGIFFLAGS: Opcode = 0x8913;
const SIOCSIFFLAGS: Opcode = 0x8914;
const SIOCGIFMTU: Opcode = 0x8921;
const SIOCGIFHWADDR: Opcode = 0x8927;
const SIOCGIFINDEX: Opcode = 0x8933;
const SIOCETHTOOL: Opcode = 0x8946;
/// `ETHTOOL_GLINK` (include/uapi/linux/ethtool.h): the driver's link state.
const ETHTOOL_GLINK: u32 = 0x0a;

pub const IFF_UP: u16 = 0x1;
pub const IFF_LOOPBACK: u16 = 0x8;
/// Operational state up (RFC 2863): for Ethernet, the driver reports carrier.
pub const IFF_RUNNING: u16 = 0x40;
const ARPHRD_ETHER: u16 = 1;
pub const IFNAMSIZ: usize = 16;

/// `struct ifreq` (include/uapi/linux/if.h): the name, then a 24-byte union on x86-64.
#[repr(C)]
#[derive(Clone, Copy)]
struct IfReq {
    name: [u8; IFNAMSIZ],
    data: [u8; 24],
}
const _: () = assert!(core::mem::size_of::<IfReq>() == 40);

impl IfReq {
    fn named(name: &[u8]) -> IfReq {
        let mut r = IfReq { name: [0; IFNAMSIZ], data: [0; 24] };
        let n = name.len().min(IFNAMSIZ - 1);
        r.name[..n].copy_from_slice(&name[..n]);
        r
    }
}

fn call<const OP: Opcode>(fd: BorrowedFd<'_>, req: &mut IfReq) -> rustix::io::Result<()> {
    // SAFETY: every opcode used with this helper takes a `struct ifreq *` that the kernel reads
    // and writes within its 40 bytes; `req` is a live, exclusively borrowed `IfReq`. For
    // SIOCETHTOOL the union holds a pointer to a live `ethtool_value` (see `carrier`).
    unsafe { ioctl(fd, Updater::<OP, IfReq>::new(req)) }
}

/// Index of the interface called `name`.
pub fn index(fd: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<i32> {
    let mut r = IfReq::named(name);
    call::<SIOCGIFINDEX>(fd, &mut r)?;
    Ok(i32::from_ne_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]))
}

pub fn flags(fd: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<u16> {
    let mut r = IfReq::named(name);
    call::<SIOCGIFFLAGS>(fd, &mut r)?;
    Ok(u16::from_ne_bytes([r.data[0], r.data[1]]))
}

pub fn set_flags(fd: BorrowedFd<'_>, name: &[u8], flags: u16) -> rustix::io::Result<()> {
    let mut r = IfReq::named(name);
    r.data[..2].copy_from_slice(&flags.to_ne_bytes());
    call::<SIOCSIFFLAGS>(fd, &mut r)
}

/// Carrier, straight from the driver (`ETHTOOL_GLINK`, which reads `netif_carrier_ok` or the
/// hardware), or `None` when the driver has no ethtool link report.
///
/// `IFF_RUNNING` from [`flags`] says the same thing later: it mirrors the operstate, which the
/// kernel's linkwatch updates asynchronously and rate-limits to about one batch per second, so
/// after any other link change in the last second it lags the carrier by up to a second
/// (measured: 970 ms on veth).
pub fn carrier(fd: BorrowedFd<'_>, name: &[u8]) -> Option<bool> {
    // `struct ethtool_value { u32 cmd; u32 data; }`, passed by pointer in the ifreq union.
    let mut value = [ETHTOOL_GLINK, 0u32];
    let mut r = IfReq::named(name);
    r.data[..8].copy_from_slice(&(value.as_mut_ptr() as usize).to_ne_bytes());
    call::<SIOCETHTOOL>(fd, &mut r).ok()?;
    // SAFETY: `value` is a live local the kernel wrote through the pointer above during the
    // ioctl; the volatile read keeps the compiler from assuming it still holds the zero.
    let link = unsafe { core::ptr::read_volatile(&value[1]) };
    Some(link != 0)
}

/// The IP MTU (without the Ethernet header).
pub fn mtu(fd: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<usize> {
    let mut r = IfReq::named(name);
    call::<SIOCGIFMTU>(fd, &mut r)?;
    Ok(i32::from_ne_bytes([r.data[0], r.data[1], r.data[2], r.data[3]]).max(0) as usize)
}

/// The MAC address, or `None` when the interface is not Ethernet.
pub fn ethernet_address(fd: BorrowedFd<'_>, name: &[u8]) -> rustix::io::Result<Option<[u8; 6]>> {
    let mut r = IfReq::named(name);
    call::<SIOCGIFHWADDR>(fd, &mut r)?;
    // A `struct sockaddr`: family (the ARPHRD type here), then the address bytes.
    let family = u16::from_ne_bytes([r.data[0], r.data[1]]);
    let mut mac = [0u8; 6];
    mac.copy_from_slice(&r.data[2..8]);
    Ok((family == ARPHRD_ETHER).then_some(mac))
}

/// Lists the system's interfaces with an rtnetlink dump (no /sys or /proc needed), calling
/// `found` for each. Bounded: at most 64 datagrams are read, each wait at most 1 s.
pub fn list_links(mut found: impl FnMut(flint::iflist::Link)) -> rustix::io::Result<()> {
    use flint::iflist::{Part, dump_request, parse};
    use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};
    let fd = rustix::net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, None)?; // protocol 0: NETLINK_ROUTE
    rustix::net::send(&fd, &dump_request(1), SendFlags::empty())?;
    let mut buf = [0u8; 8192];
    for _ in 0..64 {
        let mut fds = [rustix::event::PollFd::new(&fd, rustix::event::PollFlags::IN)];
        if rustix::event::poll(&mut fds, Some(&rustix::time::Timespec { tv_sec: 1, tv_nsec: 0 }))? == 0 {
            return Err(rustix::io::Errno::TIMEDOUT);
        }
        let (n, _) = rustix::net::recv(&fd, &mut buf[..], RecvFlags::empty())?;
        match parse(&buf[..n.min(buf.len())], &mut found) {
            Part::More => {}
            Part::Done => return Ok(()),
            Part::Error(e) => return Err(rustix::io::Errno::from_raw_os_error(-e)),
        }
    }
    Err(rustix::io::Errno::MSGSIZE)
}
