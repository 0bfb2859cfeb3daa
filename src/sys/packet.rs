//! The AF_PACKET device: flint's only path to the NIC, and smoltcp's `phy::Device`.
//!
//! What it adds over a plain raw socket (each measured on this machine kind, see
//! `docs/` and the README):
//! - the socket is created with protocol 0 and given `ETH_P_ALL` in `bind` (2 µs instead of an
//!   8–16 ms RCU wait when the protocol is set at creation);
//! - `PACKET_AUXDATA` reports frames whose TCP/UDP checksum the sender left partial
//!   (`TP_STATUS_CSUMNOTREADY`: veth, virtio-net with offload); those are completed before
//!   smoltcp verifies them, otherwise every DHCP offer would be dropped;
//! - the receive buffer holds 64 KiB frames, because GRO/TSO peers deliver coalesced frames far
//!   larger than the MTU; a frame that still does not fit (`MSG_TRUNC`) is dropped and counted;
//! - `PACKET_IGNORE_OUTGOING` keeps the kernel's own transmissions (and flint's) out;
//! - ARP frames are summarised into a small queue for link-local conflict detection, and NDP
//!   frames copied into another for router discovery and duplicate address detection;
//! - the socket joins every multicast group (`PACKET_MR_ALLMULTI`): with the kernel's IPv6
//!   off on the NIC (see `sys::nic`), the NIC's filter would otherwise drop router
//!   advertisements to ff02::1 and solicitations to flint's solicited-node groups (QEMU's
//!   e1000 and virtio-net filter multicast as real NICs do).

use core::arch::asm;

use flint::net::NDP_FRAME_MAX;
use flint::net::linklocal::{self, ArpSeen};
use rustix::fd::{AsFd, AsRawFd, OwnedFd};
use rustix::net::{AddressFamily, SendFlags, SocketFlags, SocketType};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::time::Instant;

use super::errno;

const SOL_PACKET: i32 = 263;
const PACKET_ADD_MEMBERSHIP: i32 = 1;
const PACKET_MR_ALLMULTI: u16 = 2;
const PACKET_AUXDATA: i32 = 8;
const PACKET_IGNORE_OUTGOING: i32 = 23;
const TP_STATUS_CSUMNOTREADY: u32 = 1 << 3;
const ETH_P_ALL: u16 = 0x0003;
const MSG_DONTWAIT: u32 = 0x40;
const MSG_TRUNC: u32 = 0x20;

/// Largest frame accepted: a 64 KiB IP packet (GRO's ceiling) plus Ethernet and VLAN headers.
pub const RX_FRAME_MAX: usize = 65536 + 64;
/// Largest frame sent: 9000-byte jumbo MTU plus the Ethernet header.
pub const TX_FRAME_MAX: usize = 9000 + 14;
/// Frames drained per `receive` call before giving smoltcp one, so a flood cannot pin the loop.
const SKIP_MAX: usize = 16;

/// NDP frames held until the stack takes them: an RA burst from two routers plus DAD traffic.
const NDP_QUEUE: usize = 4;

/// Frame buffers, reserved by the binary (`sys::Reserved`).
pub struct Frames {
    rx: [u8; RX_FRAME_MAX],
    tx: [u8; TX_FRAME_MAX],
    /// A ring of NDP frames: lengths, and bytes.
    ndp_len: [u16; NDP_QUEUE],
    ndp: [[u8; NDP_FRAME_MAX]; NDP_QUEUE],
}

impl Frames {
    pub const fn new() -> Frames {
        Frames {
            rx: [0; RX_FRAME_MAX],
            tx: [0; TX_FRAME_MAX],
            ndp_len: [0; NDP_QUEUE],
            ndp: [[0; NDP_FRAME_MAX]; NDP_QUEUE],
        }
    }
}

pub struct PacketDevice {
    fd: OwnedFd,
    mtu: usize,
    frames: &'static mut Frames,
    arp: heapless::Deque<ArpSeen, 8>,
    /// The NDP ring in `frames`: the oldest entry, and how many are held.
    ndp_head: usize,
    ndp_count: usize,
    /// Frames larger than the RX buffer, dropped (logged once at the end of the run).
    pub truncated: u32,
}

/// `struct sockaddr_ll` (include/uapi/linux/if_packet.h).
#[repr(C)]
struct SockaddrLl {
    family: u16,
    protocol: u16,
    ifindex: i32,
    hatype: u16,
    pkttype: u8,
    halen: u8,
    addr: [u8; 8],
}
const _: () = assert!(core::mem::size_of::<SockaddrLl>() == 20);

/// `struct tpacket_auxdata`, the PACKET_AUXDATA control message.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct AuxData {
    status: u32,
    len: u32,
    snaplen: u32,
    mac: u16,
    net: u16,
    vlan_tci: u16,
    vlan_tpid: u16,
}

#[repr(C)]
struct IoVec {
    base: *mut u8,
    len: usize,
}

#[repr(C)]
struct MsgHdr {
    name: *mut u8,
    namelen: u32,
    iov: *mut IoVec,
    iovlen: usize,
    control: *mut u8,
    controllen: usize,
    flags: i32,
}

/// Control buffer: one `cmsghdr` (16 bytes) plus `tpacket_auxdata` (20), 8-aligned.
#[repr(C, align(8))]
struct Control([u8; 64]);

/// A packet socket, not yet bound: usable for interface ioctls.
pub fn open() -> rustix::io::Result<OwnedFd> {
    rustix::net::socket_with(AddressFamily::PACKET, SocketType::RAW, SocketFlags::NONBLOCK | SocketFlags::CLOEXEC, None)
}

impl PacketDevice {
    /// Binds `fd` to interface `ifindex` for all protocols and sets the socket options above.
    pub fn bind(
        fd: OwnedFd,
        ifindex: i32,
        mtu: usize,
        frames: &'static mut Frames,
    ) -> rustix::io::Result<PacketDevice> {
        bind_to(&fd, ifindex)?;
        super::setsockopt_int(fd.as_fd(), SOL_PACKET, PACKET_AUXDATA, 1)?;
        // Linux ≥ 4.20; older kernels only cost us some frames to skip.
        let _ = super::setsockopt_int(fd.as_fd(), SOL_PACKET, PACKET_IGNORE_OUTGOING, 1);
        all_multicast(&fd, ifindex);
        Ok(PacketDevice {
            fd,
            mtu: mtu.clamp(576, TX_FRAME_MAX - 14),
            frames,
            arp: heapless::Deque::new(),
            ndp_head: 0,
            ndp_count: 0,
            truncated: 0,
        })
    }

    pub fn fd(&self) -> &OwnedFd {
        &self.fd
    }

    /// Moves the socket to another interface (falling back to the next NIC) and drops frames
    /// still queued from the old one. Re-binding keeps the socket, so the slow close is paid
    /// once, at exit.
    pub fn rebind(&mut self, ifindex: i32, mtu: usize) -> rustix::io::Result<()> {
        bind_to(&self.fd, ifindex)?;
        all_multicast(&self.fd, ifindex);
        self.mtu = mtu.clamp(576, TX_FRAME_MAX - 14);
        // Bounded: a busy link keeps queueing, and a few stale frames are harmless anyway
        // (smoltcp drops what is not for its new MAC).
        for _ in 0..64 {
            if self.recv_frame().is_none() {
                break;
            }
        }
        self.arp.clear();
        self.ndp_count = 0;
        Ok(())
    }

    /// Sleeps until a frame can be read or `timeout` passes.
    pub fn wait(&self, timeout: smoltcp::time::Duration) {
        let ts = super::timespec(timeout);
        let mut fds = [rustix::event::PollFd::new(&self.fd, rustix::event::PollFlags::IN)];
        let _ = rustix::event::poll(&mut fds, Some(&ts));
    }

    /// An ARP packet seen since the last call (oldest first).
    pub fn take_arp(&mut self) -> Option<ArpSeen> {
        self.arp.pop_front()
    }

    /// The oldest NDP frame held, copied into `out`.
    pub fn take_ndp(&mut self, out: &mut [u8]) -> Option<usize> {
        if self.ndp_count == 0 {
            return None;
        }
        let i = self.ndp_head;
        self.ndp_head = (i + 1) % NDP_QUEUE;
        self.ndp_count -= 1;
        let len = (self.frames.ndp_len[i] as usize).min(out.len());
        out[..len].copy_from_slice(&self.frames.ndp[i][..len]);
        Some(len)
    }

    /// Sends a frame built outside smoltcp (link-local ARP probes).
    pub fn send_raw(&mut self, frame: &[u8]) {
        let _ = rustix::net::send(&self.fd, frame, SendFlags::empty());
    }

    /// Reads the next usable frame into the RX buffer; its length, or `None` when none is queued.
    fn recv_frame(&mut self) -> Option<usize> {
        for _ in 0..SKIP_MAX {
            let mut iov = IoVec { base: self.frames.rx.as_mut_ptr(), len: RX_FRAME_MAX };
            let mut control = Control([0; 64]);
            let mut msg = MsgHdr {
                name: core::ptr::null_mut(),
                namelen: 0,
                iov: &mut iov,
                iovlen: 1,
                control: control.0.as_mut_ptr(),
                controllen: control.0.len(),
                flags: 0,
            };
            let ret: isize;
            // SAFETY: recvmsg(2) writes at most `iov.len` bytes into the RX buffer and at most
            // `controllen` bytes into `control`, both live and exclusively borrowed here, and
            // updates `msg` in place.
            unsafe {
                asm!("syscall", inlateout("rax") 47isize => ret, in("rdi") self.fd.as_raw_fd(),
                    in("rsi") &mut msg as *mut MsgHdr, in("rdx") MSG_DONTWAIT | MSG_TRUNC,
                    lateout("rcx") _, lateout("r11") _, options(nostack))
            };
            let len = errno(ret).ok()?;
            if msg.flags as u32 & MSG_TRUNC != 0 || len > RX_FRAME_MAX {
                self.truncated += 1;
                continue;
            }
            let aux = aux_data(&control.0[..msg.controllen.min(64)]);
            let frame = &mut self.frames.rx[..len];
            if aux.status & TP_STATUS_CSUMNOTREADY != 0 {
                flint::net::csum::complete_l4(frame);
            }
            if let Some(seen) = linklocal::parse_arp(frame) {
                if self.arp.is_full() {
                    self.arp.pop_front();
                }
                let _ = self.arp.push_back(seen);
            }
            if flint::net::is_ndp(&self.frames.rx[..len]) && len <= NDP_FRAME_MAX {
                // A full ring drops its oldest frame: the newest RA is the one that counts.
                if self.ndp_count == NDP_QUEUE {
                    self.ndp_head = (self.ndp_head + 1) % NDP_QUEUE;
                    self.ndp_count -= 1;
                }
                let i = (self.ndp_head + self.ndp_count) % NDP_QUEUE;
                let Frames { rx, ndp, ndp_len, .. } = &mut *self.frames;
                ndp[i][..len].copy_from_slice(&rx[..len]);
                ndp_len[i] = len as u16;
                self.ndp_count += 1;
            }
            return Some(len);
        }
        None
    }
}

/// bind(2) to `ifindex` for every protocol (`ETH_P_ALL` here, not at socket creation: see above).
fn bind_to(fd: &OwnedFd, ifindex: i32) -> rustix::io::Result<()> {
    let addr = SockaddrLl {
        family: 17, /* AF_PACKET */
        protocol: ETH_P_ALL.to_be(),
        ifindex,
        hatype: 0,
        pkttype: 0,
        halen: 0,
        addr: [0; 8],
    };
    let ret: isize;
    // SAFETY: bind(2) reads `size_of::<SockaddrLl>()` bytes from a live local; fd is valid.
    unsafe {
        asm!("syscall", inlateout("rax") 49isize => ret, in("rdi") fd.as_raw_fd(),
            in("rsi") &addr as *const SockaddrLl, in("rdx") core::mem::size_of::<SockaddrLl>(),
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    errno(ret).map(|_| ())
}

/// Asks for every multicast frame on `ifindex` (`struct packet_mreq`, packet(7)); see the module
/// docs. A refusal only costs multicast frames a filtering NIC drops, so it is not an error.
fn all_multicast(fd: &OwnedFd, ifindex: i32) {
    let mut mreq = [0u8; 16];
    mreq[..4].copy_from_slice(&ifindex.to_ne_bytes());
    mreq[4..6].copy_from_slice(&PACKET_MR_ALLMULTI.to_ne_bytes());
    let _ = super::setsockopt(fd.as_fd(), SOL_PACKET, PACKET_ADD_MEMBERSHIP, &mreq);
}

/// Finds the PACKET_AUXDATA message in a control buffer (cmsg(3) layout: len, level, type, data).
fn aux_data(control: &[u8]) -> AuxData {
    let mut off = 0;
    while off + 16 <= control.len() {
        let len = usize::from_ne_bytes(control[off..off + 8].try_into().unwrap_or([0; 8]));
        let level = i32::from_ne_bytes(control[off + 8..off + 12].try_into().unwrap_or([0; 4]));
        let kind = i32::from_ne_bytes(control[off + 12..off + 16].try_into().unwrap_or([0; 4]));
        if len < 16 || off + len > control.len() {
            break;
        }
        if level == SOL_PACKET && kind == PACKET_AUXDATA && len >= 16 + 4 {
            let s = &control[off + 16..];
            return AuxData { status: u32::from_ne_bytes([s[0], s[1], s[2], s[3]]), ..AuxData::default() };
        }
        off += (len + 7) & !7;
    }
    AuxData::default()
}

pub struct RxToken<'a> {
    frame: &'a [u8],
}

pub struct TxToken<'a> {
    fd: &'a OwnedFd,
    buf: &'a mut [u8; TX_FRAME_MAX],
}

impl phy::RxToken for RxToken<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.frame)
    }
}

impl phy::TxToken for TxToken<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let len = len.min(TX_FRAME_MAX);
        let r = f(&mut self.buf[..len]);
        // A full queue drops the frame; TCP and DHCP retransmit.
        let _ = rustix::net::send(self.fd, &self.buf[..len], SendFlags::DONTWAIT);
        r
    }
}

impl phy::Device for PacketDevice {
    type RxToken<'a> = RxToken<'a>;
    type TxToken<'a> = TxToken<'a>;

    fn receive(&mut self, _: Instant) -> Option<(RxToken<'_>, TxToken<'_>)> {
        let len = self.recv_frame()?;
        let Frames { rx, tx, .. } = &mut *self.frames;
        Some((RxToken { frame: &rx[..len] }, TxToken { fd: &self.fd, buf: tx }))
    }

    fn transmit(&mut self, _: Instant) -> Option<TxToken<'_>> {
        Some(TxToken { fd: &self.fd, buf: &mut self.frames.tx })
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        // smoltcp counts the Ethernet header in the MTU.
        caps.max_transmission_unit = self.mtu + 14;
        caps.max_burst_size = None;
        caps
    }
}
