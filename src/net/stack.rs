//! The smoltcp stack on one NIC: address acquisition (DHCPv4 and/or an RFC 3927 link-local
//! claim) and a few TCP sockets, all advanced by [`Stack::poll`] with the time passed in.
//!
//! Nothing here waits: the engine polls, asks [`Stack::poll_at`] when something is next due,
//! and sleeps on the device itself.

use smoltcp::iface::{Config, Interface, PollResult, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::{dhcpv4, tcp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, IpEndpoint, Ipv4Address, Ipv4Cidr};

use super::linklocal::{Claim, Ip};
use super::{AddressMode, Nic, Transport};
use crate::rand::Rng;

/// TCP connections open at once (one per source, and room for a second endpoint).
pub const TCP_SLOTS: usize = 2;
/// TCP receive window per connection: room for a whole 64 KiB super-frame (see `sys::packet`).
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

/// TCP buffers, reserved by the owner of the stack (all zero, so they can live in `.bss`).
pub struct Storage {
    tcp: [([u8; TCP_RX], [u8; TCP_TX]); TCP_SLOTS],
}

impl Storage {
    pub const fn new() -> Storage {
        Storage { tcp: [([0; TCP_RX], [0; TCP_TX]); TCP_SLOTS] }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self::new()
    }
}

/// Socket slots: DHCP and the TCP connections. Kept apart from [`Storage`] because an empty
/// slot is not all-zero bytes, and one non-zero byte would move the buffers to `.data`.
pub type Sockets = [SocketStorage<'static>; 1 + TCP_SLOTS];
pub const SOCKETS_EMPTY: Sockets = [SocketStorage::EMPTY; 1 + TCP_SLOTS];

/// How the address was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Dhcp,
    LinkLocal,
    /// Given: `ip=`, or a drive's network configuration.
    Static,
}

impl Mode {
    pub fn name(self) -> &'static str {
        match self {
            Mode::Dhcp => "dhcp",
            Mode::LinkLocal => "link-local",
            Mode::Static => "static",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Lease {
    pub mode: Mode,
    pub address: Ipv4Cidr,
    pub router: Option<Ipv4Address>,
    /// The DHCP server that granted the lease (option 54).
    pub server: Option<Ipv4Address>,
}

/// Why no address was obtained.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressError {
    /// Neither DHCP nor link-local finished within the time given.
    Timeout,
    /// Every link-local candidate tried was in use.
    Conflicts,
}

/// Address acquisition in progress.
struct Acquire {
    dhcp: bool,
    claim: Option<Claim>,
    /// The DISCOVER interval in force, and when smoltcp sends the next one.
    interval: Duration,
    next_send: Instant,
    /// In `auto` mode, DHCP alone until then; the link-local address after.
    dhcp_until: Instant,
    deadline: Instant,
}

/// What [`Stack::poll`] reports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    Address(Result<Lease, AddressError>),
}

pub struct Stack<'a> {
    iface: Interface,
    sockets: SocketSet<'a>,
    dhcp: SocketHandle,
    tcp: [SocketHandle; TCP_SLOTS],
    busy: [bool; TCP_SLOTS],
    rng: Rng,
    mac: [u8; 6],
    acquire: Option<Acquire>,
    lease: Option<Lease>,
}

impl<'a> Stack<'a> {
    pub fn new<D: Nic>(
        dev: &mut D,
        mac: [u8; 6],
        now: Instant,
        storage: &'a mut Storage,
        sockets: &'a mut [SocketStorage<'a>; 1 + TCP_SLOTS],
        seed: u64,
    ) -> Stack<'a> {
        let iface = interface(dev, mac, now, seed);
        let mut set = SocketSet::new(&mut sockets[..]);
        let dhcp = set.add(dhcpv4::Socket::new());
        let mut tcp = [dhcp; TCP_SLOTS];
        for (slot, (rx, tx)) in tcp.iter_mut().zip(storage.tcp.iter_mut()) {
            let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
            // Requests go out whole and answers are wanted at once: no Nagle, no delayed ACK.
            socket.set_nagle_enabled(false);
            socket.set_ack_delay(None);
            *slot = set.add(socket);
        }
        Stack {
            iface,
            sockets: set,
            dhcp,
            tcp,
            busy: [false; TCP_SLOTS],
            rng: Rng::new(seed ^ 0x5eed),
            mac,
            acquire: None,
            lease: None,
        }
    }

    /// Moves the stack to another NIC: the interface is rebuilt for its MAC and MTU (smoltcp
    /// reads device capabilities only when an interface is made), the address is forgotten,
    /// and every connection dropped.
    pub fn switch<D: Nic>(&mut self, dev: &mut D, mac: [u8; 6], now: Instant, seed: u64) {
        self.iface = interface(dev, mac, now, seed);
        self.mac = mac;
        self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).reset();
        for slot in 0..TCP_SLOTS {
            self.release(slot);
        }
        self.acquire = None;
        self.lease = None;
    }

    pub fn lease(&self) -> Option<Lease> {
        self.lease
    }

    /// Starts getting an address. `auto`: DHCP, with a link-local claim running alongside so
    /// that the fallback is ready the moment `dhcp_until` passes; the first lease wins before
    /// that. Fails at `deadline`.
    pub fn acquire(&mut self, mode: AddressMode, now: Instant, dhcp_until: Instant, deadline: Instant) {
        let dhcp = mode != AddressMode::LinkLocal;
        let claim = (mode != AddressMode::Dhcp).then(|| Claim::new(self.mac, now));
        self.acquire = Some(Acquire { dhcp, claim, interval: DHCP_RETRY, next_send: now, dhcp_until, deadline });
        self.set_discover_interval(DHCP_RETRY);
    }

    /// Takes a static address at once (no DHCP, no link-local claim).
    pub fn assign(&mut self, address: [u8; 4], prefix: u8, gateway: Option<[u8; 4]>) {
        let lease = Lease {
            mode: Mode::Static,
            address: Ipv4Cidr::new(Ipv4Address::from(address), prefix),
            router: gateway.map(Ipv4Address::from),
            server: None,
        };
        self.apply(lease);
    }

    /// Processes queued frames and timers, and advances address acquisition. Also says whether
    /// a socket's state may have changed (data in, connection up or down): its owner should
    /// look at it before sleeping, since the frame that changed it will not wake anyone again.
    pub fn poll<D: Nic>(&mut self, now: Instant, dev: &mut D) -> (Option<Event>, bool) {
        let mut changed = self.iface.poll(now, dev, &mut self.sockets) == PollResult::SocketStateChanged;
        let event = self.poll_acquire(now, dev);
        if event.is_some() {
            // The address changes what sockets can send: let them act on it now.
            self.iface.poll(now, dev, &mut self.sockets);
            changed = true;
        }
        (event, changed)
    }

    fn poll_acquire<D: Nic>(&mut self, now: Instant, dev: &mut D) -> Option<Event> {
        let a = self.acquire.as_mut()?;
        // The DISCOVER schedule: smoltcp sends one at the first poll and then whenever the
        // current interval has passed, scheduling the next with the interval configured at
        // that moment; so right after each send the interval is doubled for the next.
        let mut interval = None;
        if a.dhcp && now >= a.next_send {
            a.next_send += a.interval;
            a.interval = (a.interval * 2).min(DHCP_RETRY_MAX);
            interval = Some(a.interval);
        }
        let dhcp = a.dhcp;
        if let Some(i) = interval {
            self.set_discover_interval(i);
        }
        if dhcp && let Some(dhcpv4::Event::Configured(c)) = self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).poll() {
            let lease =
                Lease { mode: Mode::Dhcp, address: c.address, router: c.router, server: Some(c.server.address) };
            return Some(self.apply(lease));
        }
        let a = self.acquire.as_mut()?;
        if let Some(claim) = a.claim.as_mut() {
            while let Some(seen) = dev.take_arp() {
                claim.on_arp(now, &seen);
            }
            if let Some(frame) = claim.poll(now) {
                dev.send_raw(&frame);
            }
            if let Some(ip) = claim.claimed() {
                if !a.dhcp || now >= a.dhcp_until {
                    let lease = Lease {
                        mode: Mode::LinkLocal,
                        address: Ipv4Cidr::new(Ipv4Address::from(ip), 16),
                        router: None,
                        server: None,
                    };
                    return Some(self.apply(lease));
                }
            } else if claim.gave_up() && !a.dhcp {
                self.acquire = None;
                return Some(Event::Address(Err(AddressError::Conflicts)));
            }
        }
        if now >= a.deadline {
            let conflicts = a.claim.as_ref().is_some_and(|c| c.gave_up());
            self.acquire = None;
            return Some(Event::Address(Err(if conflicts { AddressError::Conflicts } else { AddressError::Timeout })));
        }
        None
    }

    /// When the stack next needs a poll (a timer of smoltcp's or of the address acquisition);
    /// `None` when only a frame can make progress.
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        let mut at = self.iface.poll_delay(now, &self.sockets).map(|d| now + d);
        if let Some(a) = &self.acquire {
            let mut mine = a.deadline;
            if let Some(claim) = &a.claim {
                if let Some(t) = claim.poll_at() {
                    mine = mine.min(t);
                }
                if claim.claimed().is_some() {
                    mine = mine.min(a.dhcp_until);
                }
            }
            at = Some(at.map_or(mine, |t| t.min(mine)));
        }
        at
    }

    fn set_discover_interval(&mut self, interval: Duration) {
        let dhcp = self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp);
        let mut retry = dhcpv4::RetryConfig::default();
        retry.discover_timeout = interval;
        retry.initial_request_timeout = DHCP_RETRY;
        dhcp.set_retry_config(retry);
    }

    /// Installs the lease in smoltcp (never in the kernel: the kernel must not own an address
    /// on this NIC, or it would answer flint's traffic with resets).
    fn apply(&mut self, lease: Lease) -> Event {
        self.acquire = None;
        self.lease = Some(lease);
        self.iface.update_ip_addrs(|addrs| {
            addrs.clear();
            // A router outside the lease (a /32, as GCP hands out) must be on-link: see `lease`.
            let prefix = super::lease::on_link_prefix(
                lease.address.address().octets(),
                lease.address.prefix_len(),
                lease.router.map(|r| r.octets()),
            );
            let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(lease.address.address(), prefix)));
        });
        let routes = self.iface.routes_mut();
        routes.remove_default_ipv4_route();
        if let Some(r) = lease.router {
            let _ = routes.add_default_ipv4_route(r);
        }
        info!(
            "address",
            "{} {}/{} via {}",
            lease.mode.name(),
            Ip(lease.address.address().octets()),
            lease.address.prefix_len(),
            Via(lease.router)
        );
        Event::Address(Ok(lease))
    }

    /// A free TCP slot, if any.
    pub fn free_slot(&self) -> Option<usize> {
        self.busy.iter().position(|b| !b)
    }

    /// Opens a TCP connection in `slot` to `remote`, from a fresh random port (so a server
    /// still holding an earlier connection in TIME-WAIT never sees a reused 4-tuple); with
    /// `privileged`, from a port below 1024.
    pub fn connect(&mut self, slot: usize, remote: IpEndpoint, privileged: bool) -> Result<(), Transport> {
        let port = if privileged { 1 + self.rng.below(1022) as u16 } else { 32768 + self.rng.below(28232) as u16 };
        let socket = self.sockets.get_mut::<tcp::Socket>(self.tcp[slot]);
        socket.abort();
        socket.connect(self.iface.context(), remote, port).map_err(|_| Transport::NoRoute)?;
        self.busy[slot] = true;
        Ok(())
    }

    pub fn socket(&mut self, slot: usize) -> &mut tcp::Socket<'a> {
        self.sockets.get_mut::<tcp::Socket>(self.tcp[slot])
    }

    /// Ends the connection in `slot` (a RST if still open: nothing more is wanted from it).
    pub fn release(&mut self, slot: usize) {
        self.sockets.get_mut::<tcp::Socket>(self.tcp[slot]).abort();
        self.busy[slot] = false;
    }

    /// Half-closes the connection in `slot` (our FIN goes out at the next poll) and frees the
    /// slot; a later `connect` there aborts whatever is left of it.
    pub fn close(&mut self, slot: usize) {
        self.sockets.get_mut::<tcp::Socket>(self.tcp[slot]).close();
        self.busy[slot] = false;
    }
}

#[inline(never)]
fn interface<D: Nic>(dev: &mut D, mac: [u8; 6], now: Instant, seed: u64) -> Interface {
    let mut config = Config::new(HardwareAddress::Ethernet(EthernetAddress(mac)));
    config.random_seed = seed;
    Interface::new(config, dev, now)
}

struct Via(Option<Ipv4Address>);

impl core::fmt::Display for Via {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            Some(ip) => write!(f, "{}", Ip(ip.octets())),
            None => f.write_str("on-link"),
        }
    }
}
