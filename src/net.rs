//! smoltcp glue: the poll loop, address acquisition (DHCPv4 and/or RFC 3927 link-local) and a
//! blocking TCP stream with a deadline that speaks `embedded_io`, so the sans-IO HTTP exchange
//! in `flint::http` runs over it unchanged.
//!
//! Every wait in here ends at a deadline the caller passes in; nothing blocks longer.

use flint::args::AddressMode;
use flint::flow::Transport;
use flint::linklocal::{Claim, Ip};
use flint::rand::Rng;
use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::{dhcpv4, tcp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv4Cidr};

use crate::clock;
use crate::sys::packet::PacketDevice;

/// TCP receive window: room for a whole 64 KiB super-frame (see `sys::packet`).
const TCP_RX: usize = 64 * 1024;
/// TCP send buffer: requests are a few hundred bytes.
const TCP_TX: usize = 2048;
/// DHCP retransmission: smoltcp's 10 s default would spend a third of the budget on one lost
/// DISCOVER; RFC 2131 §4.1 leaves the schedule to the client.
const DHCP_RETRY: Duration = Duration::from_millis(500);
/// The DISCOVER interval doubles after each retransmission up to this (RFC 2131 §4.1 backs
/// off exponentially). It must: smoltcp 0.14 draws a new `xid` for every DISCOVER and drops an
/// OFFER for an older one, so a server slower than the interval would never be heard.
const DHCP_RETRY_MAX: Duration = Duration::from_secs(4);

/// TCP buffers, reserved in `sys::Buffers` (all zero, so they live in `.bss`).
pub struct Storage {
    tcp_rx: [u8; TCP_RX],
    tcp_tx: [u8; TCP_TX],
}

impl Storage {
    pub const fn new() -> Storage {
        Storage { tcp_rx: [0; TCP_RX], tcp_tx: [0; TCP_TX] }
    }
}

/// Socket slots: DHCP and TCP. Kept apart from [`Storage`] because an empty slot is not
/// all-zero bytes, and one non-zero byte would move megabytes of buffers from `.bss` to `.data`.
pub type Sockets = [SocketStorage<'static>; 2];
pub const SOCKETS_EMPTY: Sockets = [SocketStorage::EMPTY; 2];

/// How the address was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Dhcp,
    LinkLocal,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dhcp => "dhcp",
            Mode::LinkLocal => "link-local",
        }
    }
}

#[derive(Clone, Copy, Debug)]
pub struct Lease {
    pub mode: Mode,
    pub address: Ipv4Cidr,
    pub router: Option<Ipv4Address>,
}

/// Why no address was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Neither DHCP nor link-local finished within the budget.
    Timeout,
    /// Every link-local candidate tried was in use.
    Conflicts,
}

pub struct Net {
    pub dev: PacketDevice,
    iface: Interface,
    sockets: SocketSet<'static>,
    dhcp: SocketHandle,
    tcp: SocketHandle,
    rng: Rng,
}

impl Net {
    pub fn new(mut dev: PacketDevice, mac: [u8; 6], storage: &'static mut Storage, sockets: &'static mut Sockets, seed: u64) -> Net {
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed = seed;
        let iface = Interface::new(config, &mut dev, clock::now());
        let Storage { tcp_rx, tcp_tx } = storage;
        let mut sockets = SocketSet::new(&mut sockets[..]);
        let dhcp = dhcpv4::Socket::new();
        let dhcp = sockets.add(dhcp);
        let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(&mut tcp_rx[..]), tcp::SocketBuffer::new(&mut tcp_tx[..]));
        // Requests go out whole and answers are wanted at once: no Nagle, no delayed ACK.
        socket.set_nagle_enabled(false);
        socket.set_ack_delay(None);
        let tcp = sockets.add(socket);
        Net { dev, iface, sockets, dhcp, tcp, rng: Rng::new(seed ^ 0x5eed) }
    }

    /// Moves the stack to another NIC: the device is re-bound, and the interface is rebuilt for
    /// the new MAC and MTU (smoltcp reads device capabilities only when an interface is made);
    /// the DHCP client starts over and any connection is dropped.
    pub fn switch(&mut self, ifindex: i32, mac: [u8; 6], mtu: usize, seed: u64) -> rustix::io::Result<()> {
        self.dev.rebind(ifindex, mtu)?;
        let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
        config.random_seed = seed;
        self.iface = Interface::new(config, &mut self.dev, clock::now());
        self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).reset();
        self.sockets.get_mut::<tcp::Socket>(self.tcp).abort();
        Ok(())
    }

    /// Processes queued frames and timers; returns the time it used.
    fn poll(&mut self) -> Instant {
        let now = clock::now();
        self.iface.poll(now, &mut self.dev, &mut self.sockets);
        now
    }

    /// Sleeps until a frame arrives, smoltcp has a timer due, or `until`.
    fn wait(&mut self, now: Instant, until: Instant) {
        let mut wake = until;
        if let Some(d) = self.iface.poll_delay(now, &self.sockets) {
            wake = wake.min(now + d);
        }
        if wake > now {
            self.dev.wait(wake - now);
        }
    }

    /// Gets an IPv4 address. `auto`: DHCP, with a link-local claim running alongside so that the
    /// fallback is ready the moment `dhcp_until` passes; the first lease wins before that.
    pub fn acquire(&mut self, mode: AddressMode, mac: [u8; 6], dhcp_until: Instant, deadline: Instant) -> Result<Lease, AddressError> {
        let use_dhcp = mode != AddressMode::LinkLocal;
        let mut claim = (mode != AddressMode::Dhcp).then(|| Claim::new(mac, clock::now()));
        // The DISCOVER schedule: smoltcp sends one at the first poll and then whenever the
        // current interval has passed, scheduling the next with the interval configured at
        // that moment; so right after each send the interval is doubled for the next.
        let mut interval = DHCP_RETRY;
        self.set_discover_interval(interval);
        let mut next_send = clock::now();
        loop {
            let now = self.poll();
            if use_dhcp && now >= next_send {
                next_send += interval;
                interval = (interval * 2).min(DHCP_RETRY_MAX);
                self.set_discover_interval(interval);
            }
            if use_dhcp {
                if let Some(dhcpv4::Event::Configured(c)) = self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).poll() {
                    let lease = Lease { mode: Mode::Dhcp, address: c.address, router: c.router };
                    self.apply(lease);
                    return Ok(lease);
                }
            }
            let mut wake = deadline;
            if let Some(claim) = claim.as_mut() {
                while let Some(seen) = self.dev.take_arp() {
                    claim.on_arp(now, &seen);
                }
                if let Some(frame) = claim.poll(now) {
                    self.dev.send_raw(&frame);
                }
                if let Some(ip) = claim.claimed() {
                    if !use_dhcp || now >= dhcp_until {
                        let lease = Lease { mode: Mode::LinkLocal, address: Ipv4Cidr::new(Ipv4Address::from(ip), 16), router: None };
                        self.apply(lease);
                        return Ok(lease);
                    }
                    wake = wake.min(dhcp_until);
                } else if claim.gave_up() && !use_dhcp {
                    return Err(AddressError::Conflicts);
                }
                if let Some(at) = claim.poll_at() {
                    wake = wake.min(at);
                }
            }
            if now >= deadline {
                if claim.as_ref().is_some_and(|c| c.gave_up()) {
                    return Err(AddressError::Conflicts);
                }
                return Err(AddressError::Timeout);
            }
            self.wait(now, wake);
        }
    }

    fn set_discover_interval(&mut self, interval: Duration) {
        let dhcp = self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp);
        let mut retry = dhcpv4::RetryConfig::default();
        retry.discover_timeout = interval;
        retry.initial_request_timeout = DHCP_RETRY;
        dhcp.set_retry_config(retry);
    }

    /// Installs the lease in smoltcp (never in the kernel: the kernel must not own an address on
    /// this NIC, or it would answer flint's traffic with resets).
    fn apply(&mut self, lease: Lease) {
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            // A router outside the lease (a /32) is on-link all the same: see `lease`.
            let prefix = flint::lease::on_link_prefix(lease.address.address().octets(), lease.address.prefix_len(), lease.router.map(|r| r.octets()));
            let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(lease.address.address(), prefix)));
        });
        match lease.router {
            Some(r) => {
                let _ = self.iface.routes_mut().add_default_ipv4_route(r);
            }
            None => {
                self.iface.routes_mut().remove_default_ipv4_route();
            }
        }
        flint::info!("address", "{} {}/{} via {}", lease.mode.name(), Ip(lease.address.address().octets()), lease.address.prefix_len(),
            match lease.router { Some(r) => RouterIp(Some(r.octets())), None => RouterIp(None) });
    }

    /// Opens a TCP connection to `remote` from a fresh random port (so a server still holding
    /// the previous connection in TIME-WAIT never sees a reused 4-tuple).
    pub fn connect(&mut self, remote: IpEndpoint, deadline: Instant) -> Result<TcpStream<'_>, Transport> {
        let port = 32768 + self.rng.below(28232) as u16;
        let socket = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        if socket.state() != tcp::State::Closed {
            // The previous exchange ended with our FIN in flight; we do not wait for its ACK.
            socket.abort();
            self.poll();
        }
        let socket = self.sockets.get_mut::<tcp::Socket>(self.tcp);
        socket.connect(self.iface.context(), remote, port).map_err(|_| Transport::NoRoute)?;
        Ok(TcpStream { net: self, deadline, established: false })
    }

    /// Sends whatever smoltcp still has queued (the FIN of a closed connection).
    pub fn flush(&mut self) {
        self.poll();
    }

    /// Waits until `at` (a retry's backoff), still answering ARP and running timers meanwhile.
    pub fn sleep_until(&mut self, at: Instant) {
        loop {
            let now = self.poll();
            if now >= at {
                return;
            }
            self.wait(now, at);
        }
    }
}

struct RouterIp(Option<[u8; 4]>);

impl core::fmt::Display for RouterIp {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{}", Ip(ip)),
            None => f.write_str("on-link"),
        }
    }
}

/// A connection in progress; reads and writes block until progress, end of stream, or the
/// deadline.
pub struct TcpStream<'n> {
    net: &'n mut Net,
    deadline: Instant,
    established: bool,
}

/// A TCP failure, as `embedded_io` sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TcpError(pub Transport);

impl core::fmt::Display for TcpError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        self.0.fmt(f)
    }
}

impl core::error::Error for TcpError {}

impl embedded_io::Error for TcpError {
    fn kind(&self) -> embedded_io::ErrorKind {
        match self.0 {
            Transport::Timeout => embedded_io::ErrorKind::TimedOut,
            Transport::Refused => embedded_io::ErrorKind::ConnectionRefused,
            Transport::Reset | Transport::Truncated => embedded_io::ErrorKind::ConnectionReset,
            Transport::NoRoute => embedded_io::ErrorKind::AddrNotAvailable,
        }
    }
}

impl embedded_io::ErrorType for TcpStream<'_> {
    type Error = TcpError;
}

impl TcpStream<'_> {
    fn socket(&mut self) -> &mut tcp::Socket<'static> {
        self.net.sockets.get_mut::<tcp::Socket>(self.net.tcp)
    }

    /// Runs the stack until `ready` says so, or fails on a dead connection or the deadline.
    /// (`dyn` and not inlined: one copy of this loop serves read, write and flush.)
    #[inline(never)]
    fn drive(&mut self, ready: &mut dyn FnMut(&mut tcp::Socket<'static>) -> bool) -> Result<(), TcpError> {
        loop {
            let now = self.net.poll();
            let established = self.established;
            let socket = self.socket();
            match socket.state() {
                tcp::State::SynSent | tcp::State::SynReceived => {}
                // A socket that went from SYN-SENT straight to CLOSED got a RST: refused.
                tcp::State::Closed if !established => return Err(TcpError(Transport::Refused)),
                tcp::State::Closed => return Err(TcpError(Transport::Reset)),
                _ => self.established = true,
            }
            let socket = self.socket();
            if ready(socket) {
                return Ok(());
            }
            if now >= self.deadline {
                self.socket().abort();
                self.net.poll();
                return Err(TcpError(Transport::Timeout));
            }
            self.net.wait(now, self.deadline);
        }
    }

    /// Half-closes (FIN) and pushes it out; the server's FIN has already been ACKed by then.
    pub fn close(mut self) {
        self.socket().close();
        self.net.flush();
    }
}

impl embedded_io::Write for TcpStream<'_> {
    fn write(&mut self, buf: &[u8]) -> Result<usize, TcpError> {
        if buf.is_empty() {
            return Ok(0);
        }
        let mut sent = 0;
        self.drive(&mut |s| {
            if s.can_send() {
                sent = s.send_slice(buf).unwrap_or(0);
            }
            sent > 0
        })?;
        Ok(sent)
    }

    fn flush(&mut self) -> Result<(), TcpError> {
        self.drive(&mut |s| s.send_queue() == 0)?;
        // Put the request on the wire now rather than at the next read's poll.
        self.net.poll();
        Ok(())
    }
}

impl embedded_io::Read for TcpStream<'_> {
    fn read(&mut self, buf: &mut [u8]) -> Result<usize, TcpError> {
        let mut got: Result<usize, TcpError> = Ok(0);
        let mut eof = false;
        self.drive(&mut |s| match s.recv_slice(buf) {
            Ok(0) => false,
            Ok(n) => {
                got = Ok(n);
                true
            }
            // smoltcp's EOF: the peer's FIN arrived and everything before it was read.
            Err(tcp::RecvError::Finished) => {
                eof = true;
                true
            }
            Err(tcp::RecvError::InvalidState) => {
                got = Err(TcpError(Transport::Reset));
                true
            }
        })?;
        if eof { Ok(0) } else { got }
    }
}
