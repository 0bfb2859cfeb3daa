//! The smoltcp stack on one NIC: IPv4 address acquisition (DHCPv4 and/or an RFC 3927
//! link-local claim), IPv6 configuration ([`ndp`]: link-local, router discovery, SLAAC;
//! [`dhcpv6`] when a router asks for it), the name servers and search list every source
//! announces, and the sockets: a few TCP connections, and UDP for DNS and DHCPv6. All of it is
//! advanced by [`Stack::poll`] with the time passed in.
//!
//! Nothing here waits: the engine polls, asks [`Stack::poll_at`] when something is next due,
//! and sleeps on the device itself.
//!
//! smoltcp carries IPv6 (and answers neighbour solicitations for the addresses it holds), but
//! flint configures it: smoltcp 0.14's own SLAAC keeps one prefix, never installs an IPv6
//! default route next to an IPv4 one, and has no DAD, DHCPv6 or RDNSS/DNSSL.

use smoltcp::iface::{Config, Interface, PollResult, Route, SocketHandle, SocketSet, SocketStorage};
use smoltcp::socket::{dhcpv4, tcp, udp};
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    EthernetAddress, HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpListenEndpoint, Ipv4Address, Ipv4Cidr,
    Ipv6Address,
};

use super::dns::{self, SearchList};
use super::linklocal::{Claim, Ip};
use super::ndp::{self, Ndp, earliest};
use super::{AddressMode, Family, NDP_FRAME_MAX, Nic, Transport, dhcpv6, lease};
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

/// UDP datagrams a socket holds (DNS: the A and AAAA answers and a stray one; DHCPv6: an
/// Advertise or Reply from each of two servers).
const UDP_PACKETS: usize = 4;
/// UDP payload bytes a socket holds: a few DNS answers (512 bytes each over UDP without EDNS,
/// RFC 1035 §4.2.1) or DHCPv6 replies.
const UDP_RX: usize = 2048;
/// UDP bytes queued to send: one query or one DHCPv6 message at a time, with room to spare.
const UDP_TX: usize = 1024;
/// The DHCPv4 reply kept for the options smoltcp does not decode (15 and 119).
const DHCP_PACKET: usize = 1500;
/// DHCPv4 options flint asks for (RFC 2132): subnet mask, router, name servers, domain name,
/// the domain search list (RFC 3397) and classless static routes (RFC 3442: GCP's lease).
const DHCP_OPTIONS: &[u8] = &[1, 3, 6, 15, 119, 121];
/// DHCPv6 client and server ports (RFC 8415 §7.2).
const DHCPV6_CLIENT: u16 = 546;
const DHCPV6_SERVER: u16 = 547;
/// All_DHCP_Relay_Agents_and_Servers (RFC 8415 §7.1).
const ALL_DHCP: Ipv6Address = Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 1, 2);

/// Socket buffers, reserved by the owner of the stack (all zero, so they can live in `.bss`).
pub struct Storage {
    tcp: [([u8; TCP_RX], [u8; TCP_TX]); TCP_SLOTS],
    /// DNS, then DHCPv6.
    udp: [([u8; UDP_RX], [u8; UDP_TX]); 2],
    dhcp_packet: [u8; DHCP_PACKET],
}

impl Storage {
    pub const fn new() -> Storage {
        Storage {
            tcp: [([0; TCP_RX], [0; TCP_TX]); TCP_SLOTS],
            udp: [([0; UDP_RX], [0; UDP_TX]); 2],
            dhcp_packet: [0; DHCP_PACKET],
        }
    }
}

impl Default for Storage {
    fn default() -> Self {
        Self::new()
    }
}

/// Sockets: DHCPv4, the TCP connections, DNS and DHCPv6.
const SOCKETS: usize = 1 + TCP_SLOTS + 2;

/// Socket slots and UDP packet records, filled when the stack is made. An empty slot is not
/// all-zero bytes: a static array of them went to `.data` whole (3 KB of the file), where
/// empty vectors are zeros and stay in `.bss`.
pub struct Sockets<'a> {
    slots: heapless::Vec<SocketStorage<'a>, SOCKETS>,
    /// Receive and send records of the two UDP sockets.
    udp: heapless::Vec<[udp::PacketMetadata; UDP_PACKETS], 4>,
}

pub const SOCKETS_EMPTY: Sockets<'static> = Sockets { slots: heapless::Vec::new(), udp: heapless::Vec::new() };

/// Name servers and search domains, merged from every source in the order they arrive (the
/// kernel's `nameserver=`, DHCPv4, router advertisements, DHCPv6), without repeats.
#[derive(Clone, Debug, Default)]
pub struct Dns {
    pub servers: heapless::Vec<IpAddress, { dns::SERVERS_MAX }>,
    pub search: SearchList,
    /// Bumped on every change, so a resolution that failed can tell it has more to try.
    pub generation: u32,
}

impl Dns {
    pub fn add_server(&mut self, ip: IpAddress) {
        if !self.servers.contains(&ip) && self.servers.push(ip).is_ok() {
            self.generation += 1;
        }
    }

    /// Domains from a wire-format list (DHCPv4 option 119, DNSSL, DHCPv6 option 24).
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn add_search_wire(&mut self, data: &[u8]) {
        let before = self.search.len();
        let _ = dns::search_from_wire(data, &mut self.search);
        if self.search.len() != before {
            self.generation += 1;
        }
    }

    /// Domains as text, separated by spaces (DHCPv4 option 15, `nameserver=`'s plan).
    pub fn add_search_text(&mut self, text: &[u8]) {
        for d in text.split(|&b| b == b' ').filter(|d| !d.is_empty()) {
            let before = self.search.len();
            let _ = dns::push_search(&mut self.search, d);
            if self.search.len() != before {
                self.generation += 1;
            }
        }
    }
}

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
    /// UDP for DNS queries (from a random port), and for DHCPv6 (port 546).
    udp_dns: SocketHandle,
    udp_dhcpv6: SocketHandle,
    rng: Rng,
    mac: [u8; 6],
    family: Family,
    acquire: Option<Acquire>,
    lease: Option<Lease>,
    /// IPv6 on this NIC, when the family includes it.
    ndp: Option<Ndp>,
    dhcpv6: Option<dhcpv6::Client>,
    /// The DHCPv6 address held, if any.
    dhcpv6_address: Option<[u8; 16]>,
    dns: Dns,
    /// Name servers and search domains given on the kernel command line, kept across NICs.
    given: Dns,
    seed: u64,
    /// Next hops flint talks to (see [`Stack::prime`]), and whether they need asking now.
    hops: heapless::Vec<IpAddress, HOPS>,
    prime_due: bool,
    /// The time of the last poll, and when a link-local IPv6 destination is worth a try
    /// without a router advertisement (see [`Stack::reachable`]).
    now: Instant,
    link_local_from: Instant,
}

/// How long a link-local IPv6 destination waits for a router advertisement before it is tried
/// anyway (see [`Stack::reachable`]): an IPv4 lease has usually been used by then.
const LINK_LOCAL_GRACE: Duration = Duration::from_secs(1);

/// Next hops remembered for priming: the IPv4 and IPv6 routers or on-link services, and name
/// servers.
const HOPS: usize = 4;

impl<'a> Stack<'a> {
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn new<D: Nic>(
        dev: &mut D,
        mac: [u8; 6],
        now: Instant,
        storage: &'a mut Storage,
        sockets: &'a mut Sockets<'a>,
        seed: u64,
        family: Family,
    ) -> Stack<'a> {
        let iface = interface(dev, mac, now, seed);
        // Bounded by the vectors' capacities.
        while sockets.slots.push(SocketStorage::EMPTY).is_ok() {}
        while sockets.udp.push([udp::PacketMetadata::EMPTY; UDP_PACKETS]).is_ok() {}
        let mut set = SocketSet::new(&mut sockets.slots[..]);
        let mut dhcp_socket = dhcpv4::Socket::new();
        dhcp_socket.set_parameter_request_list(DHCP_OPTIONS);
        dhcp_socket.set_receive_packet_buffer(&mut storage.dhcp_packet[..]);
        let dhcp = set.add(dhcp_socket);
        let mut tcp = [dhcp; TCP_SLOTS];
        for (slot, (rx, tx)) in tcp.iter_mut().zip(storage.tcp.iter_mut()) {
            let mut socket = tcp::Socket::new(tcp::SocketBuffer::new(&mut rx[..]), tcp::SocketBuffer::new(&mut tx[..]));
            // Requests go out whole and answers are wanted at once: no Nagle, no delayed ACK.
            socket.set_nagle_enabled(false);
            socket.set_ack_delay(None);
            *slot = set.add(socket);
        }
        // DNS, then DHCPv6: each with a receive and a send record array.
        let mut udp = [dhcp; 2];
        for (handle, (records, (rx, tx))) in udp.iter_mut().zip(sockets.udp.chunks_mut(2).zip(storage.udp.iter_mut())) {
            if let [rx_records, tx_records] = records {
                *handle = set.add(udp::Socket::new(
                    udp::PacketBuffer::new(&mut rx_records[..], &mut rx[..]),
                    udp::PacketBuffer::new(&mut tx_records[..], &mut tx[..]),
                ));
            }
        }
        let [udp_dns, udp_dhcpv6] = udp;
        if !family.v4() {
            // smoltcp's DHCP socket sends a DISCOVER whenever the interface is polled: without
            // IPv4 it must not be in the set at all (removed last, so its handle names no
            // other socket; every use of it is behind `family.v4()`).
            set.remove(dhcp);
        }
        let mut stack = Stack {
            iface,
            sockets: set,
            dhcp,
            tcp,
            busy: [false; TCP_SLOTS],
            udp_dns,
            udp_dhcpv6,
            rng: Rng::new(seed ^ 0x5eed),
            mac,
            family,
            acquire: None,
            lease: None,
            ndp: None,
            dhcpv6: None,
            dhcpv6_address: None,
            dns: Dns::default(),
            given: Dns::default(),
            seed,
            hops: heapless::Vec::new(),
            prime_due: false,
            now,
            link_local_from: now,
        };
        stack.start_v6(now);
        stack
    }

    /// Moves the stack to another NIC: the interface is rebuilt for its MAC and MTU (smoltcp
    /// reads device capabilities only when an interface is made), the addresses are forgotten,
    /// and every connection dropped.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn switch<D: Nic>(&mut self, dev: &mut D, mac: [u8; 6], now: Instant, seed: u64) {
        self.iface = interface(dev, mac, now, seed);
        self.mac = mac;
        self.seed = seed;
        if self.family.v4() {
            self.sockets.get_mut::<dhcpv4::Socket>(self.dhcp).reset();
        }
        for slot in 0..TCP_SLOTS {
            self.release(slot);
        }
        self.sockets.get_mut::<udp::Socket>(self.udp_dns).close();
        self.sockets.get_mut::<udp::Socket>(self.udp_dhcpv6).close();
        self.acquire = None;
        self.lease = None;
        self.dhcpv6 = None;
        self.dhcpv6_address = None;
        self.dns = self.given.clone();
        self.hops.clear();
        self.start_v6(now);
    }

    /// IPv6 on a fresh interface: the link-local address at once (optimistic DAD, RFC 4429),
    /// router solicitations, and the DHCPv6 client's port.
    fn start_v6(&mut self, now: Instant) {
        self.ndp = None;
        if !self.family.v6() {
            return;
        }
        self.ndp = Some(Ndp::new(self.mac, now, self.seed ^ 0x6666));
        // `--family ipv6`: nothing to spare the link-local destination for.
        self.link_local_from = if self.family.v4() { now + LINK_LOCAL_GRACE } else { now };
        let _ = self.sockets.get_mut::<udp::Socket>(self.udp_dhcpv6).bind(DHCPV6_CLIENT);
    }

    pub fn lease(&self) -> Option<Lease> {
        self.lease
    }

    /// The name servers and search domains known so far.
    pub fn dns(&self) -> &Dns {
        &self.dns
    }

    /// Name servers and search domains the operator gave (`nameserver=`): asked first.
    pub fn give_dns(&mut self, servers: &[IpAddress], search: &[u8]) {
        for &s in servers {
            self.given.add_server(s);
            self.dns.add_server(s);
        }
        self.given.add_search_text(search);
        self.dns.add_search_text(search);
    }

    /// Every address the interface holds (IPv4 and IPv6), for the report.
    pub fn addresses(&self) -> impl Iterator<Item = IpCidr> + '_ {
        self.iface.ip_addrs().iter().copied()
    }

    /// Does the interface hold an IPv6 address beyond the link (SLAAC or DHCPv6)?
    pub fn has_global_v6(&self) -> bool {
        self.iface.ip_addrs().iter().any(|c| matches!(c.address(), IpAddress::Ipv6(x) if !x.is_unicast_link_local()))
    }

    /// Can a packet to `ip` be sent now: an address of its family and scope, and for an IPv6
    /// destination beyond the link, a default router or an on-link prefix that holds it?
    ///
    /// A link-local IPv6 destination (OpenStack's `fe80::a9fe:a9fe`) waits for a router
    /// advertisement, or [`LINK_LOCAL_GRACE`] (none with `--family ipv6`): the link-local
    /// address exists at once on every link, and racing it first on the IPv4-only links most
    /// clouds still have would cost every boot the connection attempt delay.
    #[inline(never)]
    pub fn reachable(&self, ip: IpAddress) -> bool {
        let addrs = self.iface.ip_addrs();
        match ip {
            IpAddress::Ipv4(_) => self.lease.is_some(),
            IpAddress::Ipv6(a) if a.is_unicast_link_local() => {
                let v6 = self.ndp.as_ref().is_some_and(|n| n.flags().is_some() || self.now >= self.link_local_from);
                v6 && addrs.iter().any(|c| matches!(c.address(), IpAddress::Ipv6(x) if x.is_unicast_link_local()))
            }
            IpAddress::Ipv6(a) => {
                let global = |c: &&IpCidr| matches!(c.address(), IpAddress::Ipv6(x) if !x.is_unicast_link_local());
                let router = self.ndp.as_ref().and_then(Ndp::router).is_some();
                addrs.iter().filter(global).any(|c| router || c.contains_addr(&IpAddress::Ipv6(a)))
            }
        }
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
        self.apply(lease, None);
    }

    /// Processes queued frames and timers, and advances address acquisition. Also says whether
    /// a socket's state may have changed (data in, connection up or down): its owner should
    /// look at it before sleeping, since the frame that changed it will not wake anyone again.
    pub fn poll<D: Nic>(&mut self, now: Instant, dev: &mut D) -> (Option<Event>, bool) {
        self.now = now;
        if self.prime_due {
            self.prime(dev);
        }
        let mut changed = self.iface.poll(now, dev, &mut self.sockets) == PollResult::SocketStateChanged;
        let event = if self.family.v4() { self.poll_acquire(now, dev) } else { None };
        if self.poll_v6(now, dev) {
            changed = true;
        }
        if event.is_some() || changed {
            // The address changes what sockets can send: let them act on it now.
            self.iface.poll(now, dev, &mut self.sockets);
            changed = true;
        }
        (event, changed)
    }

    /// IPv6: NDP frames in and out, the changes they make applied to smoltcp, and DHCPv6.
    /// True when an address, a route or a name server changed.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    fn poll_v6<D: Nic>(&mut self, now: Instant, dev: &mut D) -> bool {
        let Some(ndp) = self.ndp.as_mut() else { return false };
        let mut frame = [0u8; NDP_FRAME_MAX];
        // Bounded by the device's NDP queue.
        while let Some(n) = dev.take_ndp(&mut frame) {
            let Some(msg) = ndp::parse(&frame[..n]) else { continue };
            // A solicitation for one of flint's addresses is answered here too, straight to the
            // asker's MAC: smoltcp answers to the asker's IP address, and when that is off the
            // on-link prefixes (AWS's `fd00:ec2::254` asking for a SLAAC address) it routes the
            // answer through the router, whose entry the last address change may just have
            // emptied: the answer is then lost, and the asker's SYN-ACK waits a second (seen in
            // the QEMU dual-stack boot). RFC 4861 §7.2.4: the advertisement goes to the
            // solicitation's source; no Override flag, as for an optimistic address (RFC 4429
            // §3.3).
            let answer = match msg {
                ndp::Message::NeighborSolicit { source, target }
                    if source != [0; 16] && self.iface.has_ip_addr(Ipv6Address::from(target)) =>
                {
                    let mut asker = [0u8; 6];
                    asker.copy_from_slice(&frame[6..12]);
                    Some((asker, source, target))
                }
                _ => None,
            };
            ndp.on(now, &msg);
            if let Some((asker, source, target)) = answer {
                let na = smoltcp::wire::Icmpv6Repr::Ndisc(smoltcp::wire::NdiscRepr::NeighborAdvert {
                    flags: smoltcp::wire::NdiscNeighborFlags::SOLICITED,
                    target_addr: target.into(),
                    lladdr: Some(EthernetAddress(self.mac).into()),
                });
                let mut out = [0u8; 86];
                let n = ndisc_frame(&mut out, self.mac, asker, target.into(), source.into(), na);
                dev.send_raw(&out[..n]);
            }
        }
        // Bounded: each call sends one due frame (DAD probes, a solicitation).
        for _ in 0..8 {
            let Some(n) = ndp.poll(now, &mut frame) else { break };
            dev.send_raw(&frame[..n]);
        }
        let mut changed = false;
        // Bounded by the NDP event queue.
        while let Some(e) = self.ndp.as_mut().and_then(Ndp::next_event) {
            changed = true;
            match e {
                ndp::Event::AddressAdded(a, len) => self.add_v6(a, len),
                ndp::Event::AddressRemoved(a) => self.remove_v6(a),
                ndp::Event::Router(r) => {
                    let routes = self.iface.routes_mut();
                    routes.remove_default_ipv6_route();
                    if let Some(r) = r {
                        let _ = routes.add_default_ipv6_route(Ipv6Address::from(r));
                        info!("address", "IPv6 router {}", ndp::Ip6(r));
                    }
                }
                ndp::Event::StartDhcpv6 { stateful } => {
                    if self.dhcpv6.is_none() {
                        let mode = if stateful { dhcpv6::Mode::Stateful } else { dhcpv6::Mode::Stateless };
                        self.dhcpv6 = Some(dhcpv6::Client::new(self.mac, mode, now, self.seed ^ 0xd6));
                    }
                }
                ndp::Event::Dns => {
                    if let Some(ndp) = self.ndp.as_ref() {
                        for &s in ndp.dns() {
                            self.dns.add_server(IpAddress::Ipv6(s.into()));
                        }
                        self.dns.add_search_wire(ndp.search());
                    }
                }
            }
        }
        self.poll_dhcpv6(now) || changed
    }

    /// DHCPv6 over its UDP socket, once a router asked for it (the M or O flag).
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    fn poll_dhcpv6(&mut self, now: Instant) -> bool {
        let Some(client) = self.dhcpv6.as_mut() else { return false };
        let socket = self.sockets.get_mut::<udp::Socket>(self.udp_dhcpv6);
        let mut bound = None;
        // Bounded by the socket's packet records.
        while let Ok((msg, _)) = socket.recv() {
            if let Some(dhcpv6::Event::Bound(lease)) = client.on_message(now, msg) {
                bound = Some(lease);
            }
        }
        let mut out = [0u8; UDP_TX];
        if let Some(n) = client.poll(now, &mut out) {
            let _ = socket.send_slice(&out[..n], IpEndpoint::new(IpAddress::Ipv6(ALL_DHCP), DHCPV6_SERVER));
        }
        let Some(lease) = bound else { return false };
        if let Some((a, _, _)) = lease.address
            && self.dhcpv6_address != Some(a)
        {
            if let Some(old) = self.dhcpv6_address.take() {
                self.remove_v6(old);
            }
            // RFC 8415 §21.6: an IA address says nothing of the prefix; the on-link prefixes
            // come from the router's advertisement, so a /128 here and the default route.
            self.add_v6(a, 128);
            self.dhcpv6_address = Some(a);
            info!("address", "DHCPv6 {}", ndp::Ip6(a));
        }
        for &s in &lease.dns {
            self.dns.add_server(IpAddress::Ipv6(s.into()));
        }
        self.dns.add_search_wire(&lease.search);
        true
    }

    /// Asks every next hop in use for its MAC, with flint's own ARP request or neighbour
    /// solicitation; the answers fill smoltcp's neighbour cache as its own would.
    ///
    /// Why: smoltcp 0.14 sends at most one neighbour query per second for the whole interface
    /// (`neighbor::Cache::limit_rate`, one `silent_until` for every address) and empties the
    /// cache on every address change (`Interface::update_ip_addrs`). On a dual-stack link,
    /// where a SLAAC address, a DHCPv4 lease and a DHCPv6 address arrive milliseconds apart and
    /// two connections race to different next hops, every packet after a change would wait out
    /// that second: a Happy Eyeballs race could never answer in 250 ms. Measured in the engine
    /// tests (`dual_stack_*`), 1.0–2.25 s without this.
    #[inline(never)]
    fn prime<D: Nic>(&mut self, dev: &mut D) {
        self.prime_due = false;
        for i in 0..self.hops.len() {
            let hop = self.hops[i];
            let mut frame = [0u8; 86];
            let n = match hop {
                IpAddress::Ipv4(t) => {
                    if let Some(l) = self.lease {
                        dev.send_raw(&super::linklocal::arp_request(
                            self.mac,
                            l.address.address().octets(),
                            t.octets(),
                        ));
                    }
                    0
                }
                IpAddress::Ipv6(t) => {
                    let source = self.iface.get_source_address_ipv6(&t);
                    solicitation(&mut frame, self.mac, source, t)
                }
            };
            if n > 0 {
                dev.send_raw(&frame[..n]);
            }
        }
    }

    /// The next hop towards `dst`, remembered for [`Stack::prime`] (oldest forgotten first).
    #[inline(never)]
    fn remember_hop(&mut self, dst: IpAddress) {
        let on_link = self.iface.ip_addrs().iter().any(|c| c.contains_addr(&dst));
        let hop = match dst {
            _ if on_link => dst,
            IpAddress::Ipv6(a) if a.is_unicast_link_local() => dst,
            // The default router; a destination with a route of its own (option 121) is left to
            // smoltcp's own ARP query, the one query it then makes.
            IpAddress::Ipv4(_) => match self.lease.and_then(|l| l.router) {
                Some(r) => IpAddress::Ipv4(r),
                None => dst,
            },
            IpAddress::Ipv6(_) => match self.ndp.as_ref().and_then(Ndp::router) {
                Some(r) => IpAddress::Ipv6(r.into()),
                None => return,
            },
        };
        if !self.hops.contains(&hop) {
            if self.hops.is_full() {
                self.hops.remove(0);
            }
            let _ = self.hops.push(hop);
        }
        self.prime_due = true;
    }

    fn add_v6(&mut self, a: [u8; 16], len: u8) {
        self.prime_due = true;
        self.iface.update_ip_addrs(|addrs| {
            let cidr = IpCidr::new(IpAddress::Ipv6(a.into()), len);
            if !addrs.contains(&cidr) {
                let _ = addrs.push(cidr);
            }
        });
    }

    fn remove_v6(&mut self, a: [u8; 16]) {
        self.prime_due = true;
        self.iface.update_ip_addrs(|addrs| addrs.retain(|c| c.address() != IpAddress::Ipv6(a.into())));
    }

    /// A UDP socket for DNS queries, bound to a fresh random port (RFC 5452 §9.2) at the first.
    pub fn dns_send(&mut self, to: IpAddress, query: &[u8]) {
        let port = 32768 + self.rng.below(28232) as u16;
        if !self.hops.contains(&to) {
            self.remember_hop(to);
        }
        let socket = self.sockets.get_mut::<udp::Socket>(self.udp_dns);
        if !socket.is_open() {
            let _ = socket.bind(IpListenEndpoint { addr: None, port });
        }
        let _ = socket.send_slice(query, IpEndpoint::new(to, 53));
    }

    /// Hands every DNS datagram received to `f` (source address, payload).
    pub fn dns_recv(&mut self, mut f: impl FnMut(IpAddress, &[u8])) {
        let socket = self.sockets.get_mut::<udp::Socket>(self.udp_dns);
        // Bounded by the socket's packet records.
        while let Ok((msg, meta)) = socket.recv() {
            f(meta.endpoint.addr, msg);
        }
    }

    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
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
            for s in c.dns_servers.iter() {
                self.dns.add_server(IpAddress::Ipv4(*s));
            }
            // Options 15 (domain name, RFC 2132 §3.17), 119 (search list, RFC 3397) and 121
            // (classless routes, RFC 3442); long ones span several option instances,
            // concatenated as RFC 3396 says. A 121 longer than its buffer (29 or more routes)
            // is refused as malformed.
            let (mut list, mut len) = ([0u8; 256], 0);
            let (mut routes, mut routes_len) = ([0u8; 256], None);
            if let Some(packet) = &c.packet {
                for o in packet.options() {
                    let (to, at) = match o.kind {
                        15 => {
                            self.dns.add_search_text(o.data);
                            continue;
                        }
                        119 => (&mut list, &mut len),
                        121 => (&mut routes, routes_len.get_or_insert(0)),
                        _ => continue,
                    };
                    match to.get_mut(*at..*at + o.data.len()) {
                        Some(slot) => {
                            slot.copy_from_slice(o.data);
                            *at += o.data.len();
                        }
                        // Routes that do not fit: none can be trusted (past the buffer, the
                        // option reads as empty, which is refused as malformed).
                        None if o.kind == 121 => *at = usize::MAX / 2,
                        None => {}
                    }
                }
                self.dns.add_search_wire(&list[..len]);
            }
            return Some(self.apply(lease, routes_len.map(|n| routes.get(..n).unwrap_or_default())));
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
                    return Some(self.apply(lease, None));
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
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        let mut at = self.iface.poll_delay(now, &self.sockets).map(|d| now + d);
        at = earliest(at, self.ndp.as_ref().and_then(Ndp::poll_at));
        at = earliest(at, self.dhcpv6.as_ref().and_then(dhcpv6::Client::poll_at));
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
            at = earliest(at, Some(mine));
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
    /// on this NIC, or it would answer flint's traffic with resets), with the routes of its
    /// option 121 when it has one (see `lease`).
    fn apply(&mut self, mut lease: Lease, option_121: Option<&[u8]>) -> Event {
        self.acquire = None;
        self.prime_due = true;
        let option_121 = option_121.filter(|o| match lease::check(o) {
            Ok(_) => true,
            Err(e) => {
                warn!("address", "DHCP option 121 ignored: {e}");
                false
            }
        });
        let address = lease.address.address().octets();
        let plan = lease::plan(address, lease.address.prefix_len(), lease.router.map(|r| r.octets()), option_121);
        if option_121.is_some() {
            lease.router = plan.router().map(Ipv4Address::from);
        }
        self.lease = Some(lease);
        self.iface.update_ip_addrs(|addrs| {
            addrs.retain(|c| matches!(c, IpCidr::Ipv6(_)));
            let _ = addrs.push(IpCidr::Ipv4(Ipv4Cidr::new(lease.address.address(), plan.on_link)));
        });
        self.iface.routes_mut().update(|table| {
            table.retain(|r| matches!(r.cidr, IpCidr::Ipv6(_)));
            for r in &plan.routes {
                let cidr = IpCidr::Ipv4(Ipv4Cidr::new(Ipv4Address::from(r.dest), r.prefix));
                let route = Route {
                    cidr,
                    via_router: Ipv4Address::from(r.router).into(),
                    preferred_until: None,
                    expires_at: None,
                };
                // Never full: `lease::ROUTES_MAX` leaves room for the IPv6 default route.
                let _ = table.push(route);
            }
        });
        // Each route at debug level only (compiled out of the shipped build: the budget).
        if crate::fmt::DEBUG {
            for r in plan.routes.iter().filter(|r| r.prefix > 0) {
                debug!("address", "route {}/{} via {}", Ip(r.dest), r.prefix, Ip(r.router));
            }
        }
        if plan.left_out > 0 {
            warn!("address", "{} DHCP option 121 routes left out", plan.left_out);
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
        self.remember_hop(remote.addr);
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

/// A neighbour solicitation for `target` from `source` with flint's link-layer address, to the
/// target's solicited-node group (RFC 4861 §4.3, §7.2.2); its length in `out`.
fn solicitation(out: &mut [u8], mac: [u8; 6], source: Ipv6Address, target: Ipv6Address) -> usize {
    let group = Ipv6Address::from(ndp::solicited_node(&target.octets()));
    let g = group.octets();
    let ns = smoltcp::wire::Icmpv6Repr::Ndisc(smoltcp::wire::NdiscRepr::NeighborSolicit {
        target_addr: target,
        lladdr: Some(EthernetAddress(mac).into()),
    });
    ndisc_frame(out, mac, [0x33, 0x33, g[12], g[13], g[14], g[15]], source, group, ns)
}

/// An NDP message from flint's `mac` and `source` to `dest` at `dest_mac`, hop limit 255 (RFC
/// 4861 §3.1); its length in `out`.
#[inline(never)]
fn ndisc_frame(
    out: &mut [u8],
    mac: [u8; 6],
    dest_mac: [u8; 6],
    source: Ipv6Address,
    dest: Ipv6Address,
    msg: smoltcp::wire::Icmpv6Repr<'_>,
) -> usize {
    use smoltcp::wire::{EthernetFrame, Icmpv6Packet, IpProtocol, Ipv6Packet, Ipv6Repr};
    let ip = Ipv6Repr {
        src_addr: source,
        dst_addr: dest,
        next_header: IpProtocol::Icmpv6,
        payload_len: msg.buffer_len(),
        hop_limit: 255,
    };
    let len = 14 + ip.buffer_len() + msg.buffer_len();
    let Some(frame) = out.get_mut(..len) else { return 0 };
    frame[..6].copy_from_slice(&dest_mac);
    frame[6..12].copy_from_slice(&mac);
    frame[12..14].copy_from_slice(&[0x86, 0xdd]);
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    let mut packet = Ipv6Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut packet);
    msg.emit(
        &source,
        &dest,
        &mut Icmpv6Packet::new_unchecked(packet.payload_mut()),
        &smoltcp::phy::ChecksumCapabilities::default(),
    );
    len
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
