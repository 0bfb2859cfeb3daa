//! The network a run's services share: raise the NICs, wait for carrier, get an address, and
//! fall back to the next NIC when nothing answers on this one. Started by the first service
//! that needs it; a drive-only answer never starts it.

use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpAddress;

use crate::fmt::Bytes;
use crate::net::config::{Method, NetConfig as Plan};
use crate::net::link::{ADDRESS_SPARE, Choice};
use crate::net::stack::{self, AddressError, Lease, Sockets, Stack, Storage};
use crate::net::{AddressMode, Family, LinkError, Nic, NicInfo};

/// Carrier is polled this often: a netlink query is cheap, and veth reports carrier in well
/// under 1 ms.
const CARRIER_POLL: Duration = Duration::from_millis(1);

/// Why the network could not be used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NetError {
    Link(LinkError),
    Address(AddressError),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Not needed yet.
    Idle,
    /// NICs raised, waiting for the first carrier.
    Carrier,
    /// An address is being acquired on the current NIC.
    Addressing,
    Ready,
    Failed(NetError),
}

/// What the engine reports about the network (for the report and the logs).
#[derive(Clone, Copy, Debug, Default)]
pub struct NetStats {
    pub nic: Option<NicInfo>,
    pub lease: Option<Lease>,
    pub link_us: Option<u64>,
    pub address_us: Option<u64>,
    /// Where the static address in use came from (`ip=`, or the drive file's path).
    pub static_from: Option<&'static str>,
}

/// Settings the network takes from the command line.
#[derive(Clone, Copy, Debug)]
pub struct NetConfig {
    pub mode: AddressMode,
    pub family: Family,
    pub dhcp_timeout: Duration,
    pub seed: u64,
}

/// Where a plan from the kernel command line comes from (see [`Network::set_plan`]).
pub const KERNEL: &str = "ip=";

pub struct Network<'a> {
    config: NetConfig,
    /// Addresses given rather than asked for: `ip=`, or a drive's network configuration, and
    /// where they came from.
    plan: Option<(Plan, &'static str)>,
    state: State,
    choice: Choice,
    memory: Option<(&'a mut Storage, &'a mut Sockets<'a>)>,
    stack: Option<Stack<'a>>,
    /// When the current phase started (carrier wait, address).
    since: Instant,
    /// Something on the current NIC answered a service (HTTP, SYN-ACK or RST).
    answered: bool,
    pub stats: NetStats,
}

impl<'a> Network<'a> {
    pub fn new(config: NetConfig, storage: &'a mut Storage, sockets: &'a mut Sockets<'a>) -> Network<'a> {
        Network {
            config,
            plan: None,
            state: State::Idle,
            choice: Choice::new(0),
            memory: Some((storage, sockets)),
            stack: None,
            since: Instant::ZERO,
            answered: false,
            stats: NetStats::default(),
        }
    }

    /// Raises the NICs (once); the network then comes up as [`poll`](Self::poll) is called.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn start<N: Nic>(&mut self, now: Instant, nic: &mut N) {
        if self.state != State::Idle {
            return;
        }
        self.since = now;
        self.state = match nic.raise() {
            Ok(count) => {
                self.choice = Choice::new(count);
                State::Carrier
            }
            Err(e) => State::Failed(NetError::Link(e)),
        };
    }

    /// Services may connect: an IPv4 address is held, or IPv6 is in use (its link-local
    /// address is usable at once, and each connection waits for an address of its own family).
    pub fn ready(&self) -> bool {
        self.state == State::Ready || (self.state == State::Addressing && self.config.family.v6())
    }

    pub fn family(&self) -> Family {
        self.config.family
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn failed(&self) -> Option<NetError> {
        match self.state {
            State::Failed(e) => Some(e),
            _ => None,
        }
    }

    pub fn started(&self) -> bool {
        self.state != State::Idle
    }

    /// The stack, once there is one.
    pub fn stack(&mut self) -> Option<&mut Stack<'a>> {
        self.stack.as_mut()
    }

    /// The stack, to look at (the report).
    pub fn stack_ref(&self) -> Option<&Stack<'a>> {
        self.stack.as_ref()
    }

    pub fn lease(&self) -> Option<Lease> {
        self.stack.as_ref().and_then(Stack::lease)
    }

    /// The service answered on this NIC: stay on it.
    pub fn answered(&mut self) {
        self.answered = true;
    }

    /// How long an attempt may wait for a first answer now (see [`Choice::contact_window`]).
    pub fn contact_window(&self) -> Duration {
        self.choice.contact_window(self.answered)
    }

    /// Whether a silent failure here is a reason to try another NIC.
    pub fn may_fall_back(&self) -> bool {
        self.choice.several() && !self.answered && self.state == State::Ready
    }

    /// Gives up on this NIC: the next one with carrier, round-robin (or this one again when no
    /// other has carrier). Returns whether a round over every NIC just ended.
    pub fn fall_back<N: Nic>(&mut self, now: Instant, nic: &mut N, deadline: Instant) -> bool {
        let round = self.choice.round();
        let mut carrier = |i| nic.carrier(i);
        if self.choice.next(&mut carrier).is_some() {
            self.select(now, nic, deadline);
        } else if self.state == State::Addressing || self.state == State::Ready {
            // No other NIC has carrier: start over on this one.
            self.acquire(now, deadline);
        }
        self.choice.wrapped_since(round)
    }

    /// Advances the network: carrier, address, and every frame and timer of the stack. True
    /// when something changed that a service should see now (a socket's state, the network
    /// becoming ready or moving to another NIC).
    pub fn poll<N: Nic>(&mut self, now: Instant, nic: &mut N, deadline: Instant) -> bool {
        let before = self.state;
        let mut changed = false;
        match self.state {
            State::Idle | State::Failed(_) => {}
            State::Carrier => {
                let mut carrier = |i| nic.carrier(i);
                if self.choice.first(&mut carrier).is_some() {
                    let waited = (now - self.since).total_micros();
                    if self.select(now, nic, deadline) {
                        if let Some(n) = self.stats.nic {
                            info!("link", "{} up, carrier after {} us, mtu {}", Bytes(n.name()), waited, n.mtu);
                        }
                        self.stats.link_us = Some(waited);
                    }
                } else if now >= deadline {
                    self.state = State::Failed(NetError::Link(LinkError::NoCarrier));
                }
            }
            State::Addressing | State::Ready => {
                let Some(stack) = self.stack.as_mut() else { return false };
                let (event, sockets) = stack.poll(now, nic);
                changed = sockets;
                if let Some(stack::Event::Address(result)) = event {
                    match result {
                        Ok(lease) => {
                            self.state = State::Ready;
                            self.stats.lease = Some(lease);
                            self.stats.address_us = Some((now - self.since).total_micros());
                        }
                        // IPv4 gave nothing, but a router configured IPv6 here: carry on with it.
                        Err(e) if stack.has_global_v6() => {
                            let _ = e;
                            info!("address", "no IPv4 address; IPv6 only");
                            self.state = State::Ready;
                        }
                        // Out of budget, or nowhere else to go: the network failed.
                        Err(e) if now >= deadline || !self.choice.several() => {
                            self.state = State::Failed(NetError::Address(e))
                        }
                        // No address here within its share: the next NIC with carrier, or this
                        // one again.
                        Err(_) => {
                            self.fall_back(now, nic, deadline);
                        }
                    }
                }
            }
        }
        changed || self.state != before
    }

    /// When the network next needs a poll.
    pub fn poll_at(&mut self, now: Instant) -> Option<Instant> {
        match self.state {
            State::Carrier => Some(now + CARRIER_POLL),
            State::Addressing | State::Ready => self.stack.as_mut().and_then(|s| s.poll_at(now)),
            State::Idle | State::Failed(_) => None,
        }
    }

    /// Points the device at the current choice and starts getting an address there.
    fn select<N: Nic>(&mut self, now: Instant, nic: &mut N, deadline: Instant) -> bool {
        let Some(slot) = self.choice.current() else { return false };
        let info = match nic.select(slot) {
            Ok(info) => info,
            Err(e) => {
                self.state = State::Failed(NetError::Link(e));
                return false;
            }
        };
        if self.stats.nic.is_some() {
            info!("link", "falling back to {}", Bytes(info.name()));
        }
        self.stats.nic = Some(info);
        self.stats.lease = None;
        self.answered = false;
        // Every NIC (and every boot, through the clock or getrandom) draws differently.
        let seed = info.mac.iter().fold(self.config.seed ^ slot as u64, |s, &m| s.rotate_left(8) ^ m as u64);
        match (self.stack.as_mut(), self.memory.take()) {
            (Some(stack), _) => stack.switch(nic, info.mac, now, seed),
            (None, Some((storage, sockets))) => {
                let mut stack = Stack::new(nic, info.mac, now, storage, sockets, seed, self.config.family);
                if let Some((plan, _)) = &self.plan {
                    give_dns(&mut stack, plan);
                }
                self.stack = Some(stack)
            }
            (None, None) => return false,
        }
        self.acquire(now, deadline);
        true
    }

    fn acquire(&mut self, now: Instant, deadline: Instant) {
        let dhcp_until = now + self.config.dhcp_timeout;
        // With several NICs, one that gives no address gets its share and no more.
        let until = if self.choice.several() { deadline.min(dhcp_until + ADDRESS_SPARE) } else { deadline };
        self.since = now;
        self.state = State::Addressing;
        if !self.config.family.v4() {
            // IPv6 alone: the link-local address is there at once; the rest comes as routers
            // advertise it.
            self.state = State::Ready;
            self.stats.address_us = Some(0);
            return;
        }
        let mut mode = self.config.mode;
        let nic = self.stats.nic;
        // A plan of name servers alone (`nameserver=` without `ip=`) says nothing of addresses.
        if let (Some((plan, from)), Some(nic)) = (self.plan.as_ref().filter(|(p, _)| !p.ifaces.is_empty()), nic) {
            match plan.for_nic(nic.mac, nic.name()).map(|i| i.method) {
                // A given address is the operator's or the platform's word: no server to ask.
                Some(Method::Static(s)) => {
                    if let Some(stack) = self.stack.as_mut() {
                        stack.assign(s.address, s.prefix, s.gateway);
                        self.stats.lease = stack.lease();
                        self.stats.address_us = Some(0);
                        self.stats.static_from = Some(from);
                        self.state = State::Ready;
                    }
                    return;
                }
                Some(Method::Dhcp) => mode = AddressMode::Dhcp,
                // Matched by MAC or name: another NIC's entry is never applied here.
                None => info!("address", "{from}: nothing for {}", Bytes(nic.name())),
            }
        }
        if let Some(stack) = self.stack.as_mut() {
            stack.acquire(mode, now, dhcp_until, until);
        }
    }

    /// Addresses to use instead of asking (`ip=`, a drive's network configuration). One that
    /// arrives while an address is being asked for takes over at once; one that arrives after
    /// an address was obtained changes nothing (connections may be open on it).
    ///
    /// `ip=` (the operator's word) wins over a drive's configuration (the platform's), as in
    /// cloud-init, which reads the kernel command line's and the initramfs' network
    /// configuration before a datasource's (`NetworkConfigSource`, default order).
    pub fn set_plan(&mut self, plan: Plan, from: &'static str, now: Instant, deadline: Instant) {
        if let Some((_, KERNEL)) = self.plan {
            info!("address", "{from} not used: ip= is given");
            return;
        }
        if let Some(stack) = self.stack.as_mut() {
            give_dns(stack, &plan);
        }
        self.plan = Some((plan, from));
        if self.state == State::Addressing {
            self.acquire(now, deadline);
        }
    }
}

/// The name servers and search domains of a plan (`nameserver=`, a drive's configuration).
fn give_dns(stack: &mut Stack<'_>, plan: &Plan) {
    let mut servers: heapless::Vec<IpAddress, { crate::net::dns::SERVERS_MAX }> = heapless::Vec::new();
    for &[a, b, c, d] in &plan.dns {
        let _ = servers.push(IpAddress::v4(a, b, c, d));
    }
    for &a in &plan.dns6 {
        let _ = servers.push(IpAddress::Ipv6(a.into()));
    }
    stack.give_dns(&servers, &plan.search);
}
