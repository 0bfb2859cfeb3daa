//! Whole runs of the engine on the host: flint's smoltcp stack against a simulated network
//! whose far end is a second smoltcp stack (a metadata service answering HTTP, a DHCP server
//! built from smoltcp's wire types), with in-memory drives, on a virtual clock.
//!
//! Faults are injected on the wire (frames dropped by a filter) and by scripting the server.

extern crate std;

use std::boxed::Box;
use std::collections::VecDeque;
use std::string::{String, ToString};
use std::vec;
use std::vec::Vec;

use smoltcp::iface::{Config, Interface, SocketHandle, SocketSet, SocketStorage};
use smoltcp::phy::{self, ChecksumCapabilities, DeviceCapabilities, Medium};
use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{
    DhcpMessageType, DhcpPacket, DhcpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr,
    HardwareAddress, IpAddress, IpCidr, IpEndpoint, IpProtocol, Ipv4Address, Ipv4Packet, Ipv4Repr, Ipv6Address,
    UdpPacket, UdpRepr,
};

use super::drive::{DriveError, Drives, Filesystem};
use super::*;
use crate::net::linklocal::{self, ArpSeen};
use crate::net::{Family, LinkError, NicInfo};
use crate::platform::{aws, azure, nocloud, openstack};
use crate::sources::seed::Url;

const CLIENT_MAC: [u8; 6] = [0x02, 0xf1, 0x17, 0, 0, 1];
const SERVER_MAC: [u8; 6] = [0x02, 0xf1, 0x17, 0, 0, 0xfe];
const LEASE: [u8; 4] = [10, 0, 0, 57];
const ROUTER: [u8; 4] = [10, 0, 0, 1];

/// What the service answers: (status, body) for a request line and its head.
type Routes = Box<dyn FnMut(&str, &str) -> (u16, Vec<u8>)>;

/// The far end of one link: DHCP, ARP, and an HTTP service on port 80.
struct Server {
    iface: Interface,
    sockets: SocketSet<'static>,
    listeners: Vec<(SocketHandle, Vec<u8>)>,
    routes: Routes,
    dhcp: bool,
    /// Answers router solicitations with an advertisement of `fd00:ec2::/64` (SLAAC), the
    /// server holding `fd00:ec2::254` and `fe80::1`.
    ra: bool,
    /// Request lines seen, in order.
    log: Vec<String>,
}

/// One simulated NIC: frames each way, carrier, and whoever is at the other end.
struct Link {
    to_client: VecDeque<Vec<u8>>,
    to_server: VecDeque<Vec<u8>>,
    carrier: bool,
    server: Option<Server>,
}

/// Decides, per frame on its way to the server (link slot, frame), whether the wire loses it.
type Filter = Box<dyn FnMut(usize, &[u8]) -> bool>;

/// The in-memory NIC seam.
struct SimNic {
    links: Vec<Link>,
    current: Option<usize>,
    raise: Result<(), LinkError>,
    /// Drops a frame on its way to the server when it returns true.
    drop_out: Filter,
    arp: VecDeque<ArpSeen>,
    ndp: VecDeque<Vec<u8>>,
    now: Instant,
    /// Hands over at most one frame per poll of the stack, as a real NIC whose frames arrive
    /// while flint is busy does: a frame can then be taken in by any of the engine's polls.
    stingy: bool,
    held: bool,
}

struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut SimNic);

impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}

impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.send_raw(&frame);
        r
    }
}

fn caps() -> DeviceCapabilities {
    let mut caps = DeviceCapabilities::default();
    caps.medium = Medium::Ethernet;
    caps.max_transmission_unit = 1514;
    caps
}

impl phy::Device for SimNic {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;

    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        if self.stingy {
            self.held = !self.held;
            if self.held {
                return None;
            }
        }
        let frame = self.links.get_mut(self.current?)?.to_client.pop_front()?;
        if let Some(seen) = linklocal::parse_arp(&frame) {
            self.arp.push_back(seen);
        }
        if crate::net::is_ndp(&frame) {
            self.ndp.push_back(frame.clone());
        }
        Some((Rx(frame), Tx(self)))
    }

    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        self.current?;
        Some(Tx(self))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        caps()
    }
}

impl Nic for SimNic {
    fn raise(&mut self) -> Result<usize, LinkError> {
        self.raise.map(|()| self.links.len())
    }

    fn carrier(&mut self, slot: usize) -> bool {
        self.links[slot].carrier
    }

    fn select(&mut self, slot: usize) -> Result<NicInfo, LinkError> {
        self.current = Some(slot);
        let mut name = [0u8; 16];
        name[..4].copy_from_slice(b"eth0");
        name[3] = b'0' + slot as u8;
        let mut mac = CLIENT_MAC;
        mac[5] += slot as u8;
        Ok(NicInfo { name, name_len: 4, mac, mtu: 1500 })
    }

    fn take_arp(&mut self) -> Option<ArpSeen> {
        self.arp.pop_front()
    }

    fn take_ndp(&mut self, out: &mut [u8]) -> Option<usize> {
        let f = self.ndp.pop_front()?;
        let n = f.len().min(out.len());
        out[..n].copy_from_slice(&f[..n]);
        Some(n)
    }

    fn send_raw(&mut self, frame: &[u8]) {
        let Some(cur) = self.current else { return };
        if !(self.drop_out)(cur, frame) && self.links[cur].carrier {
            self.links[cur].to_server.push_back(frame.to_vec());
        }
    }
}

/// The server's side of a link, as a smoltcp device.
struct ServerDev<'l> {
    to_client: &'l mut VecDeque<Vec<u8>>,
    to_server: &'l mut VecDeque<Vec<u8>>,
}

struct ServerTx<'a>(&'a mut VecDeque<Vec<u8>>);

impl phy::TxToken for ServerTx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut frame = vec![0; len];
        let r = f(&mut frame);
        self.0.push_back(frame);
        r
    }
}

impl phy::Device for ServerDev<'_> {
    type RxToken<'a>
        = Rx
    where
        Self: 'a;
    type TxToken<'a>
        = ServerTx<'a>
    where
        Self: 'a;

    fn receive(&mut self, _: Instant) -> Option<(Rx, ServerTx<'_>)> {
        let frame = self.to_server.pop_front()?;
        Some((Rx(frame), ServerTx(self.to_client)))
    }

    fn transmit(&mut self, _: Instant) -> Option<ServerTx<'_>> {
        Some(ServerTx(self.to_client))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        caps()
    }
}

impl Server {
    /// A metadata service at 169.254.169.254 behind router 10.0.0.1 (with `dhcp`), or on-link
    /// in 169.254/16 (without: the client must claim a link-local address).
    fn new(dhcp: bool, routes: Routes) -> Server {
        let mut dev = ServerDev { to_client: &mut VecDeque::new(), to_server: &mut VecDeque::new() };
        let mut iface = Interface::new(
            Config::new(HardwareAddress::Ethernet(EthernetAddress(SERVER_MAC))),
            &mut dev,
            Instant::ZERO,
        );
        iface.update_ip_addrs(|a| {
            if dhcp {
                a.push(IpCidr::new(IpAddress::v4(10, 0, 0, 1), 24)).unwrap();
                a.push(IpCidr::new(IpAddress::v4(169, 254, 169, 254), 32)).unwrap();
            } else {
                a.push(IpCidr::new(IpAddress::v4(169, 254, 169, 254), 16)).unwrap();
            }
        });
        // One connection each: eight requests a run (Azure's user-data and five documents).
        let storage: &'static mut [SocketStorage<'static>] = Box::leak(Box::new([SocketStorage::EMPTY; 8]));
        let n = storage.len();
        let mut sockets = SocketSet::new(storage);
        let mut listeners = Vec::new();
        for _ in 0..n {
            let rx = tcp::SocketBuffer::new(&mut vec![0u8; 8192].leak()[..]);
            let tx = tcp::SocketBuffer::new(&mut vec![0u8; 65536].leak()[..]);
            let mut s = tcp::Socket::new(rx, tx);
            s.listen(80).unwrap();
            listeners.push((sockets.add(s), Vec::new()));
        }
        Server { iface, sockets, listeners, routes, dhcp, ra: false, log: Vec::new() }
    }

    /// [`Server::new`] with IPv6 as well: router advertisements and the service on
    /// `fd00:ec2::254` (AWS's IPv6 IMDS address) and `fe80::1`.
    fn dual(dhcp: bool, routes: Routes) -> Server {
        let mut s = Server::new(dhcp, routes);
        s.ra = true;
        s.iface.update_ip_addrs(|a| {
            a.push(IpCidr::new(IpAddress::Ipv6(SERVER_LL), 64)).unwrap();
            a.push(IpCidr::new(IpAddress::Ipv6(SERVER_V6), 64)).unwrap();
        });
        s
    }

    fn poll(&mut self, now: Instant, to_client: &mut VecDeque<Vec<u8>>, to_server: &mut VecDeque<Vec<u8>>) {
        if self.ra && to_server.iter().any(|f| is_router_solicitation(f)) {
            to_client.push_back(router_advertisement());
        }
        if self.dhcp {
            to_server.retain(|f| match dhcp_reply(f) {
                Some(reply) => {
                    to_client.push_back(reply);
                    false
                }
                None => true,
            });
        }
        let mut dev = ServerDev { to_client, to_server };
        self.iface.poll(now, &mut dev, &mut self.sockets);
        for (handle, buf) in self.listeners.iter_mut() {
            let s = self.sockets.get_mut::<tcp::Socket>(*handle);
            if !s.is_open() {
                buf.clear();
                s.listen(80).unwrap();
                continue;
            }
            while let Ok(n) = s.recv(|b| (b.len(), b.to_vec())) {
                if n.is_empty() {
                    break;
                }
                buf.extend_from_slice(&n);
            }
            let text = String::from_utf8_lossy(buf).to_string();
            if let Some(end) = text.find("\r\n\r\n") {
                let line = text.lines().next().unwrap_or("").to_string();
                self.log.push(line.clone());
                let (status, body) = (self.routes)(&line, &text[..end]);
                let mut reply =
                    std::format!("HTTP/1.1 {status} X\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", body.len())
                        .into_bytes();
                reply.extend_from_slice(&body);
                s.send_slice(&reply).unwrap();
                s.close();
                buf.clear();
                // Nothing more is read from this connection.
                buf.extend_from_slice(b"done");
            }
        }
        self.iface.poll(now, &mut dev, &mut self.sockets);
    }
}

const SERVER_LL: Ipv6Address = Ipv6Address::new(0xfe80, 0, 0, 0, 0, 0, 0, 1);
const SERVER_V6: Ipv6Address = Ipv6Address::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254);

fn is_router_solicitation(frame: &[u8]) -> bool {
    crate::net::is_ndp(frame) && frame[54] == 133
}

/// An RA from `fe80::1` to all nodes: default router for 30 min, `fd00:ec2::/64` on-link and
/// autonomous (RFC 4861 §4.2, §4.6.2).
fn router_advertisement() -> Vec<u8> {
    use smoltcp::wire::{
        Icmpv6Packet, Icmpv6Repr, Ipv6Packet, Ipv6Repr, NdiscPrefixInfoFlags, NdiscPrefixInformation, NdiscRepr,
        NdiscRouterFlags,
    };
    let ra = Icmpv6Repr::Ndisc(NdiscRepr::RouterAdvert {
        hop_limit: 64,
        flags: NdiscRouterFlags::empty(),
        router_lifetime: Duration::from_secs(1800),
        reachable_time: Duration::ZERO,
        retrans_time: Duration::ZERO,
        lladdr: Some(EthernetAddress(SERVER_MAC).into()),
        mtu: None,
        prefix_info: Some(NdiscPrefixInformation {
            prefix_len: 64,
            flags: NdiscPrefixInfoFlags::ON_LINK | NdiscPrefixInfoFlags::ADDRCONF,
            valid_lifetime: Duration::from_secs(86400),
            preferred_lifetime: Duration::from_secs(14400),
            prefix: Ipv6Address::new(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0),
        }),
    });
    let all_nodes = Ipv6Address::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
    let ip = Ipv6Repr {
        src_addr: SERVER_LL,
        dst_addr: all_nodes,
        next_header: IpProtocol::Icmpv6,
        payload_len: ra.buffer_len(),
        hop_limit: 255,
    };
    let mut frame = vec![0u8; 14 + ip.buffer_len() + ra.buffer_len()];
    let mut eth = EthernetFrame::new_unchecked(&mut frame[..]);
    EthernetRepr {
        src_addr: EthernetAddress(SERVER_MAC),
        dst_addr: EthernetAddress([0x33, 0x33, 0, 0, 0, 1]),
        ethertype: EthernetProtocol::Ipv6,
    }
    .emit(&mut eth);
    let mut packet = Ipv6Packet::new_unchecked(eth.payload_mut());
    ip.emit(&mut packet);
    let mut icmp = Icmpv6Packet::new_unchecked(packet.payload_mut());
    ra.emit(&SERVER_LL, &all_nodes, &mut icmp, &smoltcp::phy::ChecksumCapabilities::default());
    frame
}

/// OFFER for a DISCOVER, ACK for a REQUEST: 10.0.0.57/24 via 10.0.0.1, from 10.0.0.1.
fn dhcp_reply(frame: &[u8]) -> Option<Vec<u8>> {
    let eth = EthernetFrame::new_checked(frame).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Udp {
        return None;
    }
    let udp = UdpPacket::new_checked(ip.payload()).ok()?;
    if udp.dst_port() != 67 {
        return None;
    }
    let packet = DhcpPacket::new_checked(udp.payload()).ok()?;
    let request = DhcpRepr::parse(&packet).ok()?;
    let message_type = match request.message_type {
        DhcpMessageType::Discover => DhcpMessageType::Offer,
        DhcpMessageType::Request => DhcpMessageType::Ack,
        _ => return None,
    };
    let router = Ipv4Address::from(ROUTER);
    let reply = DhcpRepr {
        message_type,
        transaction_id: request.transaction_id,
        secs: 0,
        client_hardware_address: request.client_hardware_address,
        client_ip: Ipv4Address::UNSPECIFIED,
        your_ip: Ipv4Address::from(LEASE),
        server_ip: router,
        router: Some(router),
        subnet_mask: Some(Ipv4Address::new(255, 255, 255, 0)),
        relay_agent_ip: Ipv4Address::UNSPECIFIED,
        broadcast: false,
        requested_ip: None,
        client_identifier: None,
        server_identifier: Some(router),
        parameter_request_list: None,
        dns_servers: None,
        max_size: None,
        lease_duration: Some(3600),
        renew_duration: None,
        rebind_duration: None,
        additional_options: &[],
    };
    let udp_repr = UdpRepr { src_port: 67, dst_port: 68 };
    let ip_repr = Ipv4Repr {
        src_addr: router,
        dst_addr: Ipv4Address::BROADCAST,
        next_header: IpProtocol::Udp,
        payload_len: 8 + reply.buffer_len(),
        hop_limit: 64,
    };
    let eth_repr = EthernetRepr {
        src_addr: EthernetAddress(SERVER_MAC),
        dst_addr: EthernetAddress::BROADCAST,
        ethertype: EthernetProtocol::Ipv4,
    };
    let mut out = vec![0; 14 + 20 + ip_repr.payload_len];
    eth_repr.emit(&mut EthernetFrame::new_unchecked(&mut out[..]));
    let csum = ChecksumCapabilities::default();
    ip_repr.emit(&mut Ipv4Packet::new_unchecked(&mut out[14..]), &csum);
    let (src, dst) = (IpAddress::Ipv4(router), IpAddress::Ipv4(Ipv4Address::BROADCAST));
    udp_repr.emit(
        &mut UdpPacket::new_unchecked(&mut out[34..]),
        &src,
        &dst,
        reply.buffer_len(),
        |p| reply.emit(&mut DhcpPacket::new_unchecked(p)).unwrap(),
        &csum,
    );
    UdpPacket::new_unchecked(&mut out[34..]).fill_checksum(&src, &dst);
    Some(out)
}

/// Drives with in-memory filesystems, each present from a given time.
struct MemDrives {
    disks: Vec<(Instant, MemFs)>,
    now: Instant,
    explicit: bool,
    scans: u32,
}

impl Default for MemDrives {
    fn default() -> Self {
        MemDrives { disks: Vec::new(), now: Instant::ZERO, explicit: false, scans: 0 }
    }
}

struct MemFs {
    device: &'static str,
    label: &'static str,
    kind: &'static str,
    files: Vec<(&'static str, Vec<u8>)>,
}

impl Filesystem for MemFs {
    fn device(&self) -> &[u8] {
        self.device.as_bytes()
    }
    fn label(&self) -> &[u8] {
        self.label.as_bytes()
    }
    fn kind(&self) -> &'static str {
        self.kind
    }
    fn read(&mut self, path: &[u8], out: &mut [u8]) -> Result<Option<usize>, DriveError> {
        let Some((_, data)) = self.files.iter().find(|(p, _)| p.as_bytes() == path) else { return Ok(None) };
        let dst = out.get_mut(..data.len()).ok_or(DriveError::TooLarge)?;
        dst.copy_from_slice(data);
        Ok(Some(data.len()))
    }
}

impl Drives for MemDrives {
    fn scan(&mut self, _: crate::platform::Store, visit: &mut dyn FnMut(&mut dyn Filesystem) -> bool) {
        self.scans += 1;
        for (from, fs) in self.disks.iter_mut() {
            if *from <= self.now && visit(fs) {
                return;
            }
        }
    }
    fn explicit(&self) -> bool {
        self.explicit
    }
}

fn config_drive(device: &'static str, user_data: Option<&str>) -> MemFs {
    let mut files = vec![(
        "openstack/latest/meta_data.json",
        br#"{"uuid": "b3c7f4de", "hostname": "vm-1.novalocal", "public_keys": {"k": "ssh-ed25519 AAAA k"}}"#.to_vec(),
    )];
    if let Some(u) = user_data {
        files.push(("openstack/latest/user_data", u.as_bytes().to_vec()));
    }
    files.push(("openstack/latest/network_data.json", br#"{"links": []}"#.to_vec()));
    MemFs { device, label: "config-2", kind: "iso9660", files }
}

/// The AWS flow: a token, then the user-data.
fn imds(user_data: &'static str) -> Routes {
    Box::new(move |line, _head| match line {
        l if l.starts_with("PUT /latest/api/token ") => (200, b"tok".to_vec()),
        l if l.starts_with("GET /latest/user-data ") => (200, user_data.as_bytes().to_vec()),
        _ => (404, Vec::new()),
    })
}

struct Run {
    result: Result<(Option<Vec<u8>>, Vec<String>), Failed>,
    winner: Option<Winner>,
    elapsed: Duration,
    requests: u32,
    server_log: Vec<Vec<String>>,
    nic: Option<usize>,
    static_from: Option<&'static str>,
    /// The endpoint whose connection won last.
    endpoint: Option<IpEndpoint>,
}

/// Runs `platform` to the end on the virtual clock.
fn run(
    platform: &'static Platform,
    nic: SimNic,
    drives: MemDrives,
    mode: AddressMode,
    budget_ms: u64,
    metadata: bool,
) -> Run {
    run_seeded(platform, nic, drives, mode, budget_ms, metadata, None)
}

/// [`run`] with a NoCloud seed URL.
fn run_seeded(
    platform: &'static Platform,
    nic: SimNic,
    drives: MemDrives,
    mode: AddressMode,
    budget_ms: u64,
    metadata: bool,
    nocloud: Option<Url<'static>>,
) -> Run {
    run_full(platform, nic, drives, mode, Family::V4, budget_ms, metadata, nocloud)
}

/// [`run`] with IP versions other than IPv4 alone.
fn run_family(platform: &'static Platform, nic: SimNic, family: Family, budget_ms: u64) -> Run {
    run_full(platform, nic, MemDrives::default(), AddressMode::Auto, family, budget_ms, false, None)
}

#[allow(clippy::too_many_arguments)]
fn run_full(
    platform: &'static Platform,
    mut nic: SimNic,
    mut drives: MemDrives,
    mode: AddressMode,
    family: Family,
    budget_ms: u64,
    metadata: bool,
    nocloud: Option<Url<'static>>,
) -> Run {
    let storage = Box::leak(Box::new(Storage::new()));
    let sockets = Box::leak(Box::new(crate::net::stack::SOCKETS_EMPTY));
    let (b1, m1, u, f, s) = (
        vec![0u8; 1 << 20].leak(),
        vec![0u8; 16 << 10].leak(),
        vec![0u8; 1 << 20].leak(),
        vec![0u8; 16 << 10].leak(),
        vec![0u8; 64 << 10].leak(),
    );
    let t0 = Instant::from_millis(1000);
    let deadline = t0 + Duration::from_millis(budget_ms);
    let settings =
        Settings { address: mode, family, dhcp_timeout: Duration::from_millis(3000), deadline, metadata, seed: 42 };
    let mut engine = Engine::new(
        platform,
        settings,
        t0,
        (storage, sockets),
        [ServiceBuffers { body: b1, meta: m1 }],
        [DriveBuffers { user_data: u, file: f, seed: s }],
        nocloud,
    );
    let mut now = t0;
    // Bounded: the virtual clock only moves forward and the engine ends at its deadline.
    for _ in 0..200_000 {
        drives.now = now;
        nic.now = now;
        let wake = match engine.poll(now, &mut nic, &mut drives) {
            Poll::Done => break,
            Poll::Wait(at) => at,
        };
        // The far ends answer; any frame for flint means "poll again now".
        let mut busy = false;
        for link in nic.links.iter_mut() {
            if let Some(server) = link.server.as_mut() {
                server.poll(now, &mut link.to_client, &mut link.to_server);
            } else {
                link.to_server.clear();
            }
        }
        if let Some(cur) = nic.current {
            busy = !nic.links[cur].to_client.is_empty();
        }
        let server_at = nic
            .links
            .iter_mut()
            .filter_map(|l| l.server.as_mut())
            .filter_map(|s| s.iface.poll_at(now, &s.sockets))
            .min();
        let next = if busy { now } else { server_at.map_or(wake, |s| s.min(wake)).max(now) };
        now = if next == now && !busy { now + Duration::from_millis(1) } else { next };
        assert!(now <= deadline + Duration::from_secs(5), "the engine outlived its budget");
    }
    let elapsed = now - t0;
    let winner = engine.winner();
    let (requests, _, endpoint) = engine.service_stats();
    let nic_slot = nic.current;
    let server_log = nic.links.iter().map(|l| l.server.as_ref().map(|s| s.log.clone()).unwrap_or_default()).collect();
    let result = engine.outcome().map(|a| {
        let keys = a.meta.keys().map(|k| String::from_utf8_lossy(k).to_string()).collect();
        (a.user_data.map(|u| u.to_vec()), keys)
    });
    let static_from = engine.network.stats.static_from;
    Run { result, winner, elapsed, requests, server_log, nic: nic_slot, static_from, endpoint }
}

fn sim(links: Vec<Link>) -> SimNic {
    SimNic {
        links,
        current: None,
        raise: Ok(()),
        drop_out: Box::new(|_, _| false),
        arp: VecDeque::new(),
        ndp: VecDeque::new(),
        now: Instant::ZERO,
        stingy: false,
        held: false,
    }
}

fn link(server: Option<Server>) -> Link {
    Link { to_client: VecDeque::new(), to_server: VecDeque::new(), carrier: true, server }
}

fn is_syn(frame: &[u8]) -> bool {
    frame.len() > 14 + 20 + 13 && frame[12..14] == [8, 0] && frame[23] == 6 && frame[14 + 20 + 13] & 0x12 == 0x02
}

#[test]
fn aws_over_dhcp_like_the_real_thing() {
    let nic = sim(vec![link(Some(Server::new(true, imds("#cloud-config\n"))))]);
    let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"#cloud-config\n"[..]));
    assert_eq!(r.winner, Some(Winner::Service(0)));
    assert_eq!(r.requests, 2);
    assert_eq!(r.server_log[0], ["PUT /latest/api/token HTTP/1.1", "GET /latest/user-data HTTP/1.1"]);
    assert!(r.elapsed < Duration::from_millis(100), "{}", r.elapsed);
}

#[test]
fn frames_taken_in_by_any_poll_are_acted_on_at_once() {
    // A lease or an answer that arrives in the engine's last poll of a round must not wait
    // for a frame or timer that never comes (found on QEMU: the address on a second NIC was
    // taken in after the flows had looked, and flint slept to its deadline).
    for slots in [1, 2] {
        let links = (0..slots).map(|_| link(Some(Server::new(true, imds("x"))))).collect();
        let mut nic = sim(links);
        nic.stingy = true;
        if slots == 2 {
            nic.drop_out = Box::new(|link, frame| link == 0 && is_syn(frame));
        }
        let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
        assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"x"[..]));
        let within = if slots == 1 { Duration::from_millis(100) } else { Duration::from_millis(2100) };
        assert!(r.elapsed < within, "{slots} NIC(s): {}", r.elapsed);
    }
}

#[test]
fn link_local_when_there_is_no_dhcp() {
    let nic = sim(vec![link(Some(Server::new(false, imds("x"))))]);
    let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"x"[..]));
    // DHCP gets its 3 s first; the claim is ready by then.
    assert!(r.elapsed >= Duration::from_secs(3) && r.elapsed < Duration::from_secs(4), "{}", r.elapsed);
}

#[test]
fn a_lost_syn_is_retransmitted() {
    let mut nic = sim(vec![link(Some(Server::new(true, imds("x"))))]);
    let mut dropped = 0;
    nic.drop_out = Box::new(move |_, f| {
        let drop = is_syn(f) && dropped == 0;
        dropped += drop as u32;
        drop
    });
    let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"x"[..]));
    // smoltcp's first retransmission comes after its initial RTO of 1 s.
    assert!(r.elapsed >= Duration::from_secs(1) && r.elapsed < Duration::from_secs(2), "{}", r.elapsed);
    assert_eq!(r.requests, 2, "the same request, retransmitted by TCP, not repeated");
}

#[test]
fn a_nic_that_never_answers_fails_within_the_budget() {
    let mut nic = sim(vec![link(Some(Server::new(true, imds("x"))))]);
    nic.drop_out = Box::new(|_, _| true);
    let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Dhcp, 4_000, false);
    assert_eq!(r.result.err(), Some(Failed::Net(NetError::Address(crate::net::stack::AddressError::Timeout))));
    assert!(r.elapsed <= Duration::from_secs(4), "{}", r.elapsed);
}

#[test]
fn silence_on_the_first_nic_moves_to_the_second() {
    // eth0 has DHCP but nothing on port 80 answers (every SYN dropped); eth1 has the service.
    let mut nic = sim(vec![link(Some(Server::new(true, imds("wrong")))), link(Some(Server::new(true, imds("right"))))]);
    nic.drop_out = Box::new(|link, frame| link == 0 && is_syn(frame));
    let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"right"[..]));
    assert_eq!(r.nic, Some(1));
    // One contact window (2 s) on eth0, then eth1 answers at once.
    assert!(r.elapsed >= Duration::from_secs(2) && r.elapsed < Duration::from_secs(3), "{}", r.elapsed);
}

#[test]
fn no_nic_at_all_is_a_link_failure() {
    let mut nic = sim(vec![]);
    nic.raise = Err(LinkError::NotFound);
    let r = run(&aws::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.err(), Some(Failed::Net(NetError::Link(LinkError::NotFound))));
    assert!(r.elapsed < Duration::from_millis(10));
}

#[test]
fn a_drive_answers_while_http_is_still_connecting() {
    // The service is slow to come: every SYN is dropped. The drive is there from the start.
    let mut nic = sim(vec![link(Some(Server::new(true, Box::new(|_, _| (200, b"from service".to_vec())))))]);
    nic.drop_out = Box::new(|_, f| is_syn(f));
    let drives =
        MemDrives { disks: vec![(Instant::ZERO, config_drive("sr0", Some("from drive")))], ..MemDrives::default() };
    let r = run(&openstack::PLATFORM, nic, drives, AddressMode::Auto, 30_000, true);
    let (user_data, keys) = r.result.unwrap();
    assert_eq!(user_data.as_deref(), Some(&b"from drive"[..]));
    assert_eq!(keys, ["ssh-ed25519 AAAA k"]);
    assert_eq!(r.winner, Some(Winner::Drive(0)));
    assert!(r.server_log[0].is_empty());
    assert!(r.elapsed < Duration::from_millis(10), "{}", r.elapsed);
}

#[test]
fn a_late_drive_is_found_by_a_rescan() {
    let mut nic = sim(vec![]);
    nic.raise = Err(LinkError::NotFound);
    let late = Instant::from_millis(1000) + Duration::from_millis(1200);
    let drives = MemDrives { disks: vec![(late, config_drive("vdb", Some("late")))], ..MemDrives::default() };
    let r = run(&openstack::PLATFORM, nic, drives, AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"late"[..]));
    assert!(
        r.elapsed >= Duration::from_millis(1200) && r.elapsed <= Duration::from_millis(1200) + drive::RESCAN,
        "{}",
        r.elapsed
    );
}

#[test]
fn a_drive_without_user_data_is_a_definite_none() {
    let drives = MemDrives { disks: vec![(Instant::ZERO, config_drive("sr0", None))], ..MemDrives::default() };
    let mut nic = sim(vec![]);
    nic.raise = Err(LinkError::NotFound);
    let r = run(&openstack::PLATFORM, nic, drives, AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0, None);
}

#[test]
fn the_service_wins_when_there_is_no_drive_and_a_404_means_none() {
    let routes: Routes = Box::new(|_, _| (404, Vec::new()));
    let nic = sim(vec![link(Some(Server::new(true, routes)))]);
    let r = run(&openstack::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0, None);
    assert_eq!(r.winner, Some(Winner::Service(0)));
    assert_eq!(r.server_log[0], ["GET /openstack/latest/user_data HTTP/1.1", "GET /latest/user-data HTTP/1.1"]);
}

#[test]
fn neither_source_fails_at_the_budget_with_the_networks_reason() {
    let mut nic = sim(vec![link(None)]);
    nic.links[0].carrier = false;
    let r = run(&openstack::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 2_000, false);
    assert_eq!(r.result.err(), Some(Failed::Net(NetError::Link(LinkError::NoCarrier))));
    assert!(r.elapsed <= Duration::from_secs(2));
}

#[test]
fn a_wrong_label_or_an_explicit_miss_does_not_stop_the_service() {
    let mut other = config_drive("vda", Some("not this"));
    other.label = "cidata";
    let drives = MemDrives { disks: vec![(Instant::ZERO, other)], explicit: true, ..MemDrives::default() };
    let nic = sim(vec![link(Some(Server::new(true, Box::new(|_, _| (200, b"svc".to_vec())))))]);
    let r = run(&openstack::PLATFORM, nic, drives, AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"svc"[..]));
}

/// A NoCloud drive with `files`, and a network seed at 10.0.0.1 on a segment with no DHCP.
fn nocloud_run(files: Vec<(&'static str, &str)>, seed: Option<&'static str>) -> (Run, Vec<String>) {
    let hosts = std::rc::Rc::new(std::cell::RefCell::new(Vec::new()));
    let seen = hosts.clone();
    let routes: Routes = Box::new(move |line, head| {
        let host = head.lines().find_map(|l| l.strip_prefix("Host: ")).unwrap_or("").to_string();
        seen.borrow_mut().push(host);
        match line {
            "GET /seed/user-data HTTP/1.1" => (200, b"#cloud-config\nhostname: seeded\n".to_vec()),
            "GET /seed/meta-data HTTP/1.1" => {
                (200, b"instance-id: iid-7\npublic-keys: [ssh-ed25519 AAAA s]\n".to_vec())
            }
            _ => (404, Vec::new()),
        }
    });
    let mut server = Server::new(true, routes);
    server.dhcp = false;
    let nic = sim(vec![link(Some(server))]);
    let files = files.into_iter().map(|(n, t)| (n, t.as_bytes().to_vec())).collect();
    let disk = MemFs { device: "sr0", label: "cidata", kind: "iso9660", files };
    let drives = MemDrives { disks: vec![(Instant::ZERO, disk)], ..MemDrives::default() };
    let url = seed.map(|s| Url::parse(s.as_bytes()).unwrap());
    let r = run_seeded(&nocloud::PLATFORM, nic, drives, AddressMode::Auto, 10_000, true, url);
    let hosts = hosts.borrow().clone();
    (r, hosts)
}

const STATIC_V1: &str = "version: 1\nconfig:\n  - type: physical\n    name: eth0\n    mac_address: '02:f1:17:00:00:01'\n    subnets:\n      - type: static\n        address: 10.0.0.57\n        netmask: 255.255.255.0\n        gateway: 10.0.0.1\n";

#[test]
fn a_nocloud_drive_without_user_data_addresses_the_network_seed() {
    let files = vec![("meta-data", "instance-id: iid-drive\n"), ("network-config", STATIC_V1)];
    let (r, hosts) = nocloud_run(files, Some("http://10.0.0.1/seed/"));
    let (user_data, keys) = r.result.unwrap();
    assert_eq!(user_data.as_deref(), Some(&b"#cloud-config\nhostname: seeded\n"[..]));
    assert_eq!(keys, ["ssh-ed25519 AAAA s"]);
    assert_eq!(r.winner, Some(Winner::Service(0)));
    assert_eq!(r.server_log[0], ["GET /seed/user-data HTTP/1.1", "GET /seed/meta-data HTTP/1.1"]);
    assert_eq!(hosts, ["10.0.0.1", "10.0.0.1"]);
    assert_eq!(r.static_from, Some("network-config"));
    // The drive's address at once: no DHCP wait, no link-local fallback.
    assert!(r.elapsed < Duration::from_millis(500), "{}", r.elapsed);
}

#[test]
fn without_a_static_address_a_segment_without_dhcp_leaves_the_seed_unreached() {
    let (r, _) = nocloud_run(vec![("meta-data", "instance-id: iid-drive\n")], Some("http://10.0.0.1/seed/"));
    assert!(r.result.is_err());
    assert!(r.server_log[0].is_empty());
}

#[test]
fn a_nocloud_drive_with_user_data_needs_no_seed_and_no_network() {
    let files = vec![("user-data", "drive"), ("meta-data", "instance-id: iid-drive\n"), ("network-config", STATIC_V1)];
    let (r, _) = nocloud_run(files.clone(), None);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"drive"[..]));
    assert_eq!((r.winner, r.nic), (Some(Winner::Drive(0)), None));
    // Without user-data and without a seed, there is nothing to answer with.
    let (r, _) = nocloud_run(files[1..].to_vec(), None);
    assert_eq!(r.result.err(), Some(Failed::Drive(DriveFailure::NotFound)));
    assert_eq!(r.nic, None);
}

#[test]
fn a_silent_endpoint_is_raced_by_the_next_after_the_attempt_delay() {
    use crate::platform::{Address, Endpoint, Host, Service};
    static TWO: Platform = Platform {
        id: "two-endpoints",
        sources: &[crate::platform::Source::Service(&Service {
            endpoints: &[
                // Routed to the server's router, which nobody answers for.
                Endpoint { address: Address::V4([192, 0, 2, 1]), port: 80, host: Host::Address },
                Endpoint { address: Address::V4([169, 254, 169, 254]), port: 80, host: Host::Address },
            ],
            ..PLAIN_SERVICE
        })],
    };
    let nic = sim(vec![link(Some(Server::new(true, Box::new(|_, head| (200, head.as_bytes().to_vec())))))]);
    let r = run(&TWO, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    let body = String::from_utf8(r.result.unwrap().0.unwrap()).unwrap();
    assert!(body.contains("Host: 169.254.169.254\r\n"), "{body}");
    assert_eq!(r.requests, 1, "the request goes out once, on the connection that won");
    // RFC 8305: the silent endpoint gets the attempt delay alone, then the next one races it.
    let delay = super::service::ATTEMPT_DELAY;
    assert!(r.elapsed >= delay && r.elapsed < delay + Duration::from_millis(100), "{}", r.elapsed);
}

#[test]
fn qemu_reads_its_fw_cfg_item_and_a_missing_item_is_none() {
    let fw_cfg = |files: Vec<(&'static str, Vec<u8>)>| MemDrives {
        disks: vec![(
            Instant::ZERO,
            MemFs { device: "/sys/firmware/qemu_fw_cfg/by_name", label: "", kind: "iso9660", files },
        )],
        ..MemDrives::default()
    };
    let config = br#"{"ignition":{"version":"3.3.0"}}"#.to_vec();
    let r = run(
        &crate::platform::qemu::PLATFORM,
        sim(vec![]),
        fw_cfg(vec![("opt/com.coreos/config/raw", config.clone())]),
        AddressMode::Auto,
        30_000,
        true,
    );
    assert_eq!(r.result.unwrap().0, Some(config));
    let r = run(&crate::platform::qemu::PLATFORM, sim(vec![]), fw_cfg(vec![]), AddressMode::Auto, 30_000, true);
    assert_eq!(r.result.unwrap().0, None);
    assert_eq!(r.requests, 0, "no network is touched");
}

/// What a run's metadata holds: (instance id, hostname, keys, attribute lines).
fn metadata_of(
    platform: &'static Platform,
    disks: Vec<(Instant, MemFs)>,
) -> (Option<String>, Option<String>, Vec<String>, String) {
    let storage = Box::leak(Box::new(Storage::new()));
    let sockets = Box::leak(Box::new(crate::net::stack::SOCKETS_EMPTY));
    let t0 = Instant::from_millis(1000);
    let settings = Settings {
        address: AddressMode::Auto,
        family: crate::net::Family::V4,
        dhcp_timeout: Duration::from_secs(3),
        deadline: t0 + Duration::from_secs(5),
        metadata: true,
        seed: 1,
    };
    let buffers = (0..2).map(|_| DriveBuffers {
        user_data: vec![0u8; 1 << 20].leak(),
        file: vec![0u8; 16 << 10].leak(),
        seed: vec![0u8; 64 << 10].leak(),
    });
    let mut engine = Engine::new(
        platform,
        settings,
        t0,
        (storage, sockets),
        [ServiceBuffers { body: vec![0u8; 1 << 20].leak(), meta: vec![0u8; 16 << 10].leak() }],
        buffers,
        None,
    );
    let mut nic = sim(vec![]);
    nic.raise = Err(LinkError::NotFound);
    let mut drives = MemDrives { disks, ..MemDrives::default() };
    let mut now = t0;
    while let Poll::Wait(at) = engine.poll(now, &mut nic, &mut drives) {
        now = at.max(now + Duration::from_millis(1));
        drives.now = now;
    }
    let a = engine.outcome().unwrap();
    let text = |v: Option<&[u8]>| v.map(|b| String::from_utf8_lossy(b).to_string());
    let mut attrs = [0u8; 4096];
    let attributes = String::from_utf8_lossy(a.meta.render_attributes(platform.id, &mut attrs).unwrap()).to_string();
    (
        text(a.meta.get(crate::platform::Role::InstanceId)),
        text(a.meta.get(crate::platform::Role::Hostname)),
        a.meta.keys().map(|k| String::from_utf8_lossy(k).to_string()).collect(),
        attributes,
    )
}

#[test]
fn proxmox_hostname_and_keys_come_from_the_cloud_config() {
    // Proxmox's own layout: meta-data holds only the instance id.
    let user_data = "#cloud-config\nhostname: vm1\nmanage_etc_hosts: true\nfqdn: vm1.example.com\nuser: core\nssh_authorized_keys:\n  - ssh-ed25519 AAAAC3 me@host\nchpasswd:\n  expire: False\nusers:\n  - default\npackage_upgrade: true\n";
    let fs = MemFs {
        device: "sr0",
        label: "cidata",
        kind: "iso9660",
        files: vec![
            ("user-data", user_data.as_bytes().to_vec()),
            ("meta-data", b"instance-id: 15a9919cb91024fbd1d70fa07f0efa749cbba03b\n".to_vec()),
        ],
    };
    let (id, host, keys, attrs) = metadata_of(&crate::platform::proxmoxve::PLATFORM, vec![(Instant::ZERO, fs)]);
    assert_eq!(id.as_deref(), Some("15a9919cb91024fbd1d70fa07f0efa749cbba03b"));
    assert_eq!(host.as_deref(), Some("vm1"));
    assert_eq!(keys, ["ssh-ed25519 AAAAC3 me@host"]);
    assert_eq!(
        attrs,
        "AFTERBURN_PROXMOXVE_HOSTNAME=vm1\nAFTERBURN_PROXMOXVE_INSTANCE_ID=15a9919cb91024fbd1d70fa07f0efa749cbba03b\n"
    );
}

#[test]
fn kubevirt_reads_either_drive_and_its_json_meta_data() {
    let nocloud = MemFs {
        device: "vdb",
        label: "cidata", kind: "iso9660",
        files: vec![
            ("user-data", b"{\"ignition\":{\"version\":\"3.3.0\"}}".to_vec()),
            ("meta-data", br#"{"instance-type":"u1.small","instance-id":"2f3b","local-hostname":"vmi","public-keys":{"k":"ssh-rsa AAAA k"}}"#.to_vec()),
        ],
    };
    let (id, host, keys, attrs) = metadata_of(&crate::platform::kubevirt::PLATFORM, vec![(Instant::ZERO, nocloud)]);
    assert_eq!((id.as_deref(), host.as_deref()), (Some("2f3b"), Some("vmi")));
    assert_eq!(keys, ["ssh-rsa AAAA k"]);
    assert!(attrs.contains("AFTERBURN_KUBEVIRT_INSTANCE_TYPE=u1.small\n"), "{attrs}");
    let mut drive = config_drive("vdc", Some("x"));
    drive.files[0] = (
        "openstack/latest/meta_data.json",
        br#"{"uuid":"u-1","hostname":"cd","public_keys":{"k":"ssh-ed25519 B k"}}"#.to_vec(),
    );
    let (id, host, keys, _) = metadata_of(&crate::platform::kubevirt::PLATFORM, vec![(Instant::ZERO, drive)]);
    assert_eq!((id.as_deref(), host.as_deref(), keys), (Some("u-1"), Some("cd"), vec!["ssh-ed25519 B k".to_string()]));
}

#[test]
fn every_platform_fits_the_engine() {
    for p in crate::platform::ALL {
        assert!(p.services().count() <= SERVICES_MAX, "{}", p.id);
        assert!(p.drives().count() <= DRIVES_MAX, "{}", p.id);
        for d in p.drives() {
            assert!(d.seed_files.len() <= drive::SEED_FILES_MAX, "{}", p.id);
        }
    }
}

/// Is `frame` a TCP SYN over IPv6 (to drop: IPv6 silently broken)?
fn is_syn_v6(frame: &[u8]) -> bool {
    frame.len() > 14 + 40 + 13 && frame[12..14] == [0x86, 0xdd] && frame[20] == 6 && frame[14 + 40 + 13] & 0x12 == 0x02
}

fn aws_v6_imds() -> Server {
    Server::dual(true, imds("v6 or v4"))
}

#[test]
fn ipv6_alone_gets_a_slaac_address_from_the_router_and_asks_aws_over_it() {
    let mut server = Server::dual(false, imds("over ipv6"));
    // No IPv4 at all on this link: the server has no 169.254/16 address either.
    server.iface.update_ip_addrs(|a| a.retain(|c| matches!(c, IpCidr::Ipv6(_))));
    let ipv4_sent = std::rc::Rc::new(std::cell::Cell::new(false));
    let seen = ipv4_sent.clone();
    let mut nic = sim(vec![link(Some(server))]);
    nic.drop_out = Box::new(move |_, f| {
        seen.set(seen.get() || f[12..14] != [0x86, 0xdd]);
        false
    });
    let r = run_family(&aws::PLATFORM, nic, Family::V6, 10_000);
    assert!(!ipv4_sent.get(), "--family ipv6: no DHCPv4, no ARP, nothing but IPv6");
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"over ipv6"[..]));
    assert_eq!(r.endpoint, Some(IpEndpoint::new(IpAddress::Ipv6(SERVER_V6), 80)));
    // Optimistic DAD (RFC 4429): no second of waiting for the address.
    assert!(r.elapsed < Duration::from_millis(100), "{}", r.elapsed);
}

#[test]
fn dual_stack_prefers_ipv6() {
    let r = run_family(&aws::PLATFORM, sim(vec![link(Some(aws_v6_imds()))]), Family::Any, 10_000);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"v6 or v4"[..]));
    assert_eq!(r.endpoint.map(|e| e.addr), Some(IpAddress::Ipv6(SERVER_V6)), "RFC 8305 §4: IPv6 first");
}

#[test]
fn dual_stack_with_ipv6_silently_broken_waits_only_the_attempt_delay() {
    let mut nic = sim(vec![link(Some(aws_v6_imds()))]);
    nic.drop_out = Box::new(|_, f| is_syn_v6(f));
    let r = run_family(&aws::PLATFORM, nic, Family::Any, 10_000);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"v6 or v4"[..]));
    assert_eq!(r.endpoint, Some(IpEndpoint::new(IpAddress::v4(169, 254, 169, 254), 80)));
    let delay = super::service::ATTEMPT_DELAY;
    assert!(r.elapsed >= delay && r.elapsed < delay + Duration::from_millis(100), "{}", r.elapsed);
    // The token PUT raced; the next request goes straight to the winner.
    assert_eq!(r.server_log[0].len(), 2, "{:?}", r.server_log);
}

#[test]
fn dual_stack_with_ipv4_broken_uses_ipv6_at_once() {
    let mut nic = sim(vec![link(Some(aws_v6_imds()))]);
    nic.drop_out = Box::new(|_, f| is_syn(f));
    let r = run_family(&aws::PLATFORM, nic, Family::Any, 10_000);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"v6 or v4"[..]));
    assert_eq!(r.endpoint.map(|e| e.addr), Some(IpAddress::Ipv6(SERVER_V6)));
    assert!(r.elapsed < Duration::from_millis(100), "{}", r.elapsed);
}

#[test]
fn ipv4_only_link_is_not_slowed_by_ipv6() {
    // No router advertisement ever: the IPv6 endpoint is never reachable, IPv4 goes at once.
    let v4 = run_family(&aws::PLATFORM, sim(vec![link(Some(Server::new(true, imds("x"))))]), Family::V4, 10_000);
    let any = run_family(&aws::PLATFORM, sim(vec![link(Some(Server::new(true, imds("x"))))]), Family::Any, 10_000);
    assert_eq!(any.result.unwrap().0.as_deref(), Some(&b"x"[..]));
    assert_eq!(any.endpoint.map(|e| e.addr), Some(IpAddress::v4(169, 254, 169, 254)));
    assert!(any.elapsed <= v4.elapsed + Duration::from_millis(5), "{} vs {}", any.elapsed, v4.elapsed);
    // OpenStack's link-local IPv6 endpoint waits for a router advertisement that never comes.
    let os = run_family(&openstack::PLATFORM, sim(vec![link(Some(Server::new(true, imds("x"))))]), Family::Any, 10_000);
    assert_eq!(os.endpoint.map(|e| e.addr), Some(IpAddress::v4(169, 254, 169, 254)));
    assert!(os.elapsed < super::service::ATTEMPT_DELAY, "{}", os.elapsed);
}

#[test]
fn a_refusal_is_retried_at_once_while_the_other_family_has_no_address() {
    use crate::platform::{Address, Endpoint, Host, Service};
    // Port 81: the server answers every SYN with a RST. The IPv6 endpoint never becomes
    // reachable (no router advertisement): it must not hold each refused request until the
    // attempt limit.
    static REFUSING: Platform = Platform {
        id: "refusing",
        sources: &[crate::platform::Source::Service(&Service {
            endpoints: &[
                Endpoint { address: Address::V4([169, 254, 169, 254]), port: 81, host: Host::Address },
                Endpoint {
                    address: Address::V6([0xfd, 0, 0x0e, 0xc2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2, 0x54]),
                    port: 81,
                    host: Host::Address,
                },
            ],
            ..PLAIN_SERVICE
        })],
    };
    let r = run_family(&REFUSING, sim(vec![link(Some(Server::new(true, imds("x"))))]), Family::Any, 3_000);
    assert!(matches!(r.result, Err(Failed::Flow(_, _))), "{:?}", r.result.err());
    assert!(r.requests >= 5, "refusals retried with the backoff, not once per attempt limit: {}", r.requests);
}

/// A service with no token, `/user-data`, raw, 404 for none: the endpoints are each test's.
const PLAIN_SERVICE: crate::platform::Service = crate::platform::Service {
    endpoints: &[],
    token: None,
    user_data: crate::platform::UserData {
        resources: &[crate::platform::Resource { path: "/user-data", fields: &[] }],
        encoding: crate::decode::Encoding::Raw,
        none_on_404: true,
        take: crate::platform::Take::Body,
    },
    metadata: &[],
    meta_fields: &[],
    connect: crate::platform::Connect::PLAIN,
};

/// A service that answers every user-data path of the platforms below with `x`.
fn any_user_data() -> Routes {
    Box::new(|line, _head| match line {
        l if l.starts_with("GET /metadata/v1/user-data ") || l.starts_with("GET /latest/user-data ") => {
            (200, b"x".to_vec())
        }
        _ => (404, Vec::new()),
    })
}

/// Azure's provisioning CD: a UDF volume with `ovf-env.xml` (its contents are not read here).
fn provisioning_cd(device: &'static str) -> MemFs {
    MemFs { device, label: "", kind: "udf", files: vec![("ovf-env.xml", b"<Environment/>".to_vec())] }
}

/// Azure's IMDS: `userData` as given, and the metadata leaves.
fn azure_imds(user_data: &'static str) -> Routes {
    Box::new(move |line, _head| match line {
        l if l.starts_with("GET /metadata/instance/compute/userData?") => (200, user_data.as_bytes().to_vec()),
        l if l.starts_with("GET /metadata/instance/compute/name?") => (200, b"vm-az".to_vec()),
        l if l.starts_with("GET /metadata/instance/compute/publicKeys?") => (
            200,
            b"[{\"keyData\": \"ssh-ed25519 AAAA az\\r\\n\", \"path\": \"/home/core/.ssh/authorized_keys\"}]".to_vec(),
        ),
        _ => (404, Vec::new()),
    })
}

#[test]
fn digitalocean_claims_link_local_at_once() {
    // No DHCP on the link: cloud-init's way, a link-local address without waiting for a lease.
    let nic = sim(vec![link(Some(Server::new(false, any_user_data())))]);
    let r = run(&crate::platform::digitalocean::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"x"[..]));
    assert!(r.elapsed < Duration::from_secs(1), "{}", r.elapsed);
}

#[test]
fn cloudstack_asks_the_dhcp_server() {
    let nic = sim(vec![link(Some(Server::new(true, any_user_data())))]);
    let r = run(&crate::platform::cloudstack::PLATFORM, nic, MemDrives::default(), AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"x"[..]));
    assert_eq!(r.server_log[0], ["GET /latest/user-data HTTP/1.1"]);
    let server = r.endpoint.unwrap();
    assert_ne!(server.addr, IpAddress::v4(169, 254, 169, 254), "{server}");
}

#[test]
fn cloudstack_reads_its_drive_leaves() {
    // CloudStack's config drive: one `<key>.txt` per value, keys one per line.
    let fs = MemFs {
        device: "sr0",
        label: "config-2",
        kind: "iso9660",
        files: vec![
            ("cloudstack/userdata/user_data.txt", b"#cloud-config\n".to_vec()),
            ("cloudstack/metadata/instance_id.txt", b"8f3c\n".to_vec()),
            ("cloudstack/metadata/local_hostname.txt", b"vm-7".to_vec()),
            ("cloudstack/metadata/availability_zone.txt", b"zone1".to_vec()),
            ("cloudstack/metadata/vm_id.txt", b"8f3c".to_vec()),
            ("cloudstack/metadata/public_keys.txt", b"ssh-ed25519 AAAA1 a\nssh-rsa AAAA2 b\n".to_vec()),
        ],
    };
    let (id, host, keys, attrs) = metadata_of(&crate::platform::cloudstack::PLATFORM, vec![(Instant::ZERO, fs)]);
    assert_eq!((id.as_deref(), host.as_deref()), (Some("8f3c"), Some("vm-7")));
    assert_eq!(keys, ["ssh-ed25519 AAAA1 a", "ssh-rsa AAAA2 b"]);
    assert_eq!(
        attrs,
        "AFTERBURN_CLOUDSTACK_AVAILABILITY_ZONE=zone1\nAFTERBURN_CLOUDSTACK_INSTANCE_ID=8f3c\n\
         AFTERBURN_CLOUDSTACK_LOCAL_HOSTNAME=vm-7\nAFTERBURN_CLOUDSTACK_VM_ID=8f3c\n"
    );
}

#[test]
fn azure_imds_user_data_wins_over_a_cd_found_first() {
    let nic = sim(vec![link(Some(Server::new(true, azure_imds("eyJ4IjoxfQ=="))))]);
    let drives = MemDrives { disks: vec![(Instant::ZERO, provisioning_cd("sr0"))], ..MemDrives::default() };
    let r = run(&azure::PLATFORM, nic, drives, AddressMode::Auto, 30_000, false);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"eyJ4IjoxfQ=="[..]));
    assert_eq!(r.winner, Some(Winner::Service(0)));
}

#[test]
fn azure_empty_imds_user_data_falls_back_to_the_cd_with_imds_metadata() {
    // The CD shows up late, after IMDS said "none": the "none" waits for it.
    let nic = sim(vec![link(Some(Server::new(true, azure_imds(""))))]);
    let late = Instant::from_millis(1000) + Duration::from_millis(2000);
    let drives = MemDrives { disks: vec![(late, provisioning_cd("sr0"))], ..MemDrives::default() };
    let r = run(&azure::PLATFORM, nic, drives, AddressMode::Auto, 30_000, true);
    let (user_data, keys) = r.result.unwrap();
    assert_eq!(user_data.as_deref(), Some(&b"<Environment/>"[..]));
    assert_eq!(keys, ["ssh-ed25519 AAAA az"], "IMDS's keys, CR LF trimmed");
    assert_eq!(r.winner, Some(Winner::Drive(0)));
    assert!(r.elapsed >= Duration::from_millis(2000) && r.elapsed < Duration::from_millis(2500), "{}", r.elapsed);
}

#[test]
fn azure_empty_imds_and_no_cd_is_none_at_the_budget() {
    let nic = sim(vec![link(Some(Server::new(true, azure_imds(""))))]);
    // Another UDF volume without `ovf-env.xml`, and a labelled ISO: neither is the CD.
    let mut udf = provisioning_cd("vdb");
    udf.files.clear();
    let mut iso = provisioning_cd("sr1");
    (iso.kind, iso.label) = ("iso9660", "config-2");
    let drives = MemDrives { disks: vec![(Instant::ZERO, udf), (Instant::ZERO, iso)], ..MemDrives::default() };
    let r = run(&azure::PLATFORM, nic, drives, AddressMode::Auto, 4_000, false);
    assert_eq!(r.result.unwrap().0, None);
    assert_eq!(r.winner, Some(Winner::Service(0)));
    assert!(r.elapsed >= Duration::from_millis(4000), "{}", r.elapsed);
}

#[test]
fn azure_cd_answers_when_imds_cannot_be_reached() {
    let mut nic = sim(vec![]);
    nic.raise = Err(LinkError::NotFound);
    let drives = MemDrives { disks: vec![(Instant::ZERO, provisioning_cd("sr0"))], ..MemDrives::default() };
    let r = run(&azure::PLATFORM, nic, drives, AddressMode::Auto, 30_000, true);
    assert_eq!(r.result.unwrap().0.as_deref(), Some(&b"<Environment/>"[..]));
    assert_eq!(r.winner, Some(Winner::Drive(0)));
    assert!(r.elapsed < Duration::from_millis(10), "{}", r.elapsed);
}

#[test]
fn azure_imds_404_is_no_none_so_the_cd_cannot_answer() {
    // A 404 from userData is not "no user-data" (Ignition retries it): the CD must not stand in.
    let routes: Routes = Box::new(|_, _| (404, Vec::new()));
    let nic = sim(vec![link(Some(Server::new(true, routes)))]);
    let drives = MemDrives { disks: vec![(Instant::ZERO, provisioning_cd("sr0"))], ..MemDrives::default() };
    let r = run(&azure::PLATFORM, nic, drives, AddressMode::Auto, 30_000, false);
    assert_eq!(
        r.result.err(),
        Some(Failed::Flow(crate::sources::service::Stage::UserData, crate::sources::service::Failure::Status(404)))
    );
    assert_eq!(r.winner, None);
}
