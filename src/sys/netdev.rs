//! Interface ioctls (netdevice(7)) through an `ifreq`: index lookup, flags (up, loopback), MTU
//! and hardware address — any socket works as the ioctl handle; flint uses its packet socket —
//! and rtnetlink link queries (listing, carrier).

use rustix::fd::BorrowedFd;
use rustix::ioctl::{Opcode, Updater, ioctl};

const SIOCGIFFLAGS: Opcode = 0x8913;
const SIOCSIFFLAGS: Opcode = 0x8914;
const SIOCGIFMTU: Opcode = 0x8921;
const SIOCGIFHWADDR: Opcode = 0x8927;
const SIOCGIFINDEX: Opcode = 0x8933;

pub const IFF_UP: u16 = 0x1;
pub const IFF_LOOPBACK: u16 = 0x8;
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
    // and writes within its 40 bytes; `req` is a live, exclusively borrowed `IfReq`.
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

/// `IFF_LOWER_UP` (include/uapi/linux/if.h): the driver reports carrier (`netif_carrier_ok`).
/// Only rtnetlink carries it: SIOCGIFFLAGS truncates flags to 16 bits.
pub const IFF_LOWER_UP: u32 = 0x1_0000;

/// An rtnetlink socket (`NETLINK_ROUTE`) for link queries; needs no /sys or /proc.
pub struct Netlink {
    fd: rustix::fd::OwnedFd,
}

impl Netlink {
    pub fn open() -> rustix::io::Result<Netlink> {
        use rustix::net::{AddressFamily, SocketFlags, SocketType};
        // Protocol 0 is NETLINK_ROUTE.
        let fd = rustix::net::socket_with(AddressFamily::NETLINK, SocketType::RAW, SocketFlags::CLOEXEC, None)?;
        Ok(Netlink { fd })
    }

    /// Calls `found` for every interface (an `RTM_GETLINK` dump).
    pub fn links(&self, found: impl FnMut(flint::net::iflist::Link)) -> rustix::io::Result<()> {
        self.ask(&flint::net::iflist::dump_request(1), true, found)
    }

    /// The current state of interface `index`; its flags hold [`IFF_LOWER_UP`].
    pub fn link(&self, index: i32) -> rustix::io::Result<Option<flint::net::iflist::Link>> {
        let mut link = None;
        self.ask(&flint::net::iflist::get_request(2, index), false, |l| link = Some(l))?;
        Ok(link)
    }

    /// Sends `request` and reads answers until the dump is done (`dump`) or the first answer.
    /// Bounded: at most 64 datagrams, each waited for at most 1 s.
    fn ask(
        &self,
        request: &[u8],
        dump: bool,
        mut found: impl FnMut(flint::net::iflist::Link),
    ) -> rustix::io::Result<()> {
        use flint::net::iflist::{Part, parse};
        use rustix::net::{RecvFlags, SendFlags};
        rustix::net::send(&self.fd, request, SendFlags::empty())?;
        let mut buf = [0u8; 8192];
        for _ in 0..64 {
            let mut fds = [rustix::event::PollFd::new(&self.fd, rustix::event::PollFlags::IN)];
            if rustix::event::poll(&mut fds, Some(&rustix::time::Timespec { tv_sec: 1, tv_nsec: 0 }))? == 0 {
                return Err(rustix::io::Errno::TIMEDOUT);
            }
            let (n, _) = rustix::net::recv(&self.fd, &mut buf[..], RecvFlags::empty())?;
            match parse(&buf[..n.min(buf.len())], &mut found) {
                Part::More if dump => {}
                Part::More | Part::Done => return Ok(()),
                // An NLMSG_ERROR with errno 0 is an acknowledgement.
                Part::Error(0) => return Ok(()),
                Part::Error(e) => return Err(rustix::io::Errno::from_raw_os_error(-e)),
            }
        }
        Err(rustix::io::Errno::MSGSIZE)
    }
}
