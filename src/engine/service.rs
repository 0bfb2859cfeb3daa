//! A metadata service in a run: its [`Flow`] (what to ask next, retries) joined to the shared
//! network, one non-blocking [`Exchange`] at a time.
//!
//! Each request first races connections to the service's endpoints ([`Race`], Happy Eyeballs
//! v2, RFC 8305): IPv6 first, the next address [`ATTEMPT_DELAY`] later while the first is still
//! silent, the first connection to complete wins and the rest are dropped. An endpoint whose
//! family has no usable address yet waits for one (an IPv4 lease, a SLAAC address) without
//! holding the others up. The winner is asked first for the rest of the run.

use core::fmt::Write as _;

use smoltcp::socket::tcp;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint};

use super::lookup::{self, Lookup};
use super::network::Network;
use crate::fmt::Addr;
use crate::http::ResponseParser;
use crate::http::exchange::{Exchange, ExchangeError};
use crate::net::dns::DnsError;
use crate::net::stack::TCP_SLOTS;
use crate::net::{Nic, Transport};
use crate::platform::{Address, Host, Service};
use crate::sources::seed::{Scheme, Url};
use crate::sources::service::{Failure, Flow, Stage, Step};
use crate::tls::Secure;
use crate::tls::pki::ServerName;

/// RFC 8305 §5: the recommended Connection Attempt Delay; a silent attempt gets this long alone
/// before the next address is tried alongside it.
pub const ATTEMPT_DELAY: Duration = Duration::from_millis(250);
/// Addresses a request may race: a platform's endpoints, or what a name resolved to.
pub const CANDIDATES_MAX: usize = 8;

/// Where a service run is. (`Busy` holds the 1 KiB request; there is one run per service and no
/// heap to box it on, so the size difference costs nothing.)
#[allow(clippy::large_enum_variant)]
enum State {
    /// Waiting for the network, then sends the flow's next request.
    Ready,
    /// Backing off until then.
    Wait(Instant),
    /// The seed URL's host name being resolved.
    Resolving(Lookup),
    /// Connections racing to the endpoints (see the module docs).
    Connecting(Race),
    /// A request in flight on this TCP slot.
    Busy(usize, Exchange),
    /// The flow ended (metadata included); [`Flow::found`] says what it found.
    Done,
    Failed(Stage, Failure),
    /// Another source answered first, or the network failed for good (the failure is the
    /// network's).
    Cancelled,
}

pub struct ServiceRun<'a> {
    pub service: &'static Service,
    pub flow: Flow,
    state: State,
    /// The user-data response; metadata documents get their own buffer, so the user-data stays
    /// where it was received.
    data: ResponseParser<'a>,
    meta: ResponseParser<'a>,
    /// Time spent per stage (token, user-data, metadata), for the report.
    pub spent_us: [u64; 3],
    started: Option<Instant>,
    /// The endpoint whose connection won last (for the report, and asked first next time).
    pub server: Option<IpEndpoint>,
    /// The NoCloud seed URL or `--url`, for a service at [`Address::Seed`]; the fixed URL of
    /// one at [`Address::Url`].
    seed: Option<Url<'a>>,
    /// What the seed URL's host name resolved to, once it has.
    resolved: heapless::Vec<IpAddress, CANDIDATES_MAX>,
    /// Feeds DNS query ids.
    dns_seed: u64,
    /// The decoded length of a JSON member's user-data, once decoded (in place, so once).
    decoded: Option<usize>,
}

impl<'a> ServiceRun<'a> {
    pub fn new(
        service: &'static Service,
        seed: u64,
        metadata: bool,
        body: &'a mut [u8],
        meta_body: &'a mut [u8],
        nocloud: Option<Url<'a>>,
    ) -> ServiceRun<'a> {
        let mut flow = Flow::new(service, seed);
        if metadata {
            flow.fetch_metadata();
        }
        ServiceRun {
            service,
            flow,
            state: State::Ready,
            data: ResponseParser::new(body),
            meta: ResponseParser::new(meta_body),
            spent_us: [0; 3],
            started: None,
            server: None,
            seed: nocloud,
            resolved: heapless::Vec::new(),
            dns_seed: seed ^ 0xd25,
            decoded: None,
        }
    }

    /// Asks `url` from the start, keeping the buffers (a pointer fetch: one after another).
    pub fn restart(&mut self, url: Url<'a>) {
        self.flow = Flow::new(self.service, self.dns_seed);
        self.state = State::Ready;
        self.seed = Some(url);
        self.resolved.clear();
        self.decoded = None;
        self.dns_seed = self.dns_seed.rotate_left(11);
    }

    /// The `Location` of the last user-data response (a redirect).
    pub fn location(&self) -> Option<&[u8]> {
        self.data.location()
    }

    /// The user-data stage is over: `Some(true)` user-data, `Some(false)` none.
    pub fn answer(&self) -> Option<bool> {
        self.flow.found()
    }

    /// The flow has ended (metadata included).
    pub fn finished(&self) -> bool {
        matches!(self.state, State::Done | State::Failed(..) | State::Cancelled)
    }

    pub fn failure(&self) -> Option<(Stage, Failure)> {
        match self.state {
            State::Failed(stage, f) => Some((stage, f)),
            _ => None,
        }
    }

    /// The raw user-data body (complete once found) and the metadata gathered.
    /// A JSON member's user-data (see `UserData::take`) is decoded in place first.
    pub fn parts(&mut self) -> (&mut [u8], &crate::sources::meta::Metadata) {
        let body = self.data.body_mut();
        let body = match self.flow.member.clone() {
            Some(r) => {
                let text = &mut body[r];
                let n = *self.decoded.get_or_insert_with(|| crate::decode::json::unescape_in_place(text));
                &mut text[..n]
            }
            None => body,
        };
        (body, &self.flow.meta)
    }

    /// Another source won: drop any connection and stop.
    pub fn cancel(&mut self, net: &mut Network<'_>) {
        if let Some(stack) = net.stack() {
            match &mut self.state {
                State::Busy(slot, _) => stack.release(*slot),
                State::Connecting(race) => race.drop_all(stack),
                State::Resolving(lookup) => lookup.drop_all(stack),
                _ => {}
            }
        }
        self.state = State::Cancelled;
    }

    /// The network moved to another NIC (its connections are gone): ask again there.
    pub fn on_switch(&mut self) {
        if let State::Busy(..) | State::Connecting(_) | State::Resolving(_) = self.state {
            self.state = State::Ready;
        }
    }

    /// The network failed for good: nothing more to ask.
    pub fn abandon(&mut self) {
        if !self.finished() {
            self.state = State::Cancelled;
        }
    }

    /// Moves the run on; returns when it next needs a poll.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn poll<N: Nic>(
        &mut self,
        now: Instant,
        net: &mut Network<'_>,
        nic: &mut N,
        deadline: Instant,
        tls: &mut Option<Secure<'_>>,
    ) -> Option<Instant> {
        // Bounded: each round either starts a request, finishes one, or returns.
        for _ in 0..4 {
            match &mut self.state {
                State::Done | State::Failed(..) | State::Cancelled => return None,
                State::Wait(at) if now < *at => return Some(*at),
                State::Wait(_) => self.state = State::Ready,
                State::Ready => {
                    if !net.ready() {
                        return None;
                    }
                    if let Some(name) = self.unresolved() {
                        let family = net.family();
                        let stack = net.stack()?;
                        match Lookup::start(name, stack, family, now, deadline, self.dns_seed) {
                            Ok(l) => self.state = State::Resolving(l),
                            // No name server named yet: the sources that name one are still
                            // coming (DHCP, a router advertisement); the budget bounds it.
                            Err(DnsError::NoServers) if now < deadline => {
                                return Some(deadline.min(now + lookup::SERVER_WAIT));
                            }
                            Err(e) => self.state = State::Failed(self.flow.stage(), Failure::Dns(e)),
                        }
                        continue;
                    }
                    match self.race(now, net, deadline) {
                        Ok(Some(race)) => self.state = State::Connecting(race),
                        // Nothing reachable yet (no address of a family the service has): the
                        // network wakes the engine when that changes; the budget still ends it.
                        Ok(None) if now < deadline => return Some(deadline),
                        Ok(None) => {
                            self.settle(now, deadline, Err(ExchangeError::Transport(Transport::NoRoute)), net, nic)
                        }
                        Err(e) => self.settle(now, deadline, Err(e), net, nic),
                    }
                }
                State::Resolving(l) => {
                    let stack = net.stack()?;
                    match l.poll(now, stack) {
                        lookup::Progress::Pending(at) => return Some(at),
                        lookup::Progress::Done(Ok(())) => {
                            let found = l.found();
                            let Self { resolved, dns_seed, .. } = self;
                            for &a in &found.v6 {
                                let _ = resolved.push(IpAddress::Ipv6(a.into()));
                            }
                            for &[a, b, c, d] in &found.v4 {
                                let _ = resolved.push(IpAddress::v4(a, b, c, d));
                            }
                            *dns_seed = dns_seed.rotate_left(7);
                            info!("dns", "{} has {} addresses", crate::fmt::Bytes(&found.name), resolved.len());
                            self.state = State::Ready;
                        }
                        // Sources named more servers or domains since it started: again with
                        // them (bounded: the lists only grow, and are bounded).
                        lookup::Progress::Done(Err(_)) if stack.dns().generation != l.generation => {
                            self.dns_seed = self.dns_seed.rotate_left(7);
                            self.state = State::Ready;
                        }
                        lookup::Progress::Done(Err(e)) => {
                            self.state = State::Failed(self.flow.stage(), Failure::Dns(e));
                        }
                    }
                }
                State::Connecting(race) => {
                    let stack = net.stack()?;
                    match race.poll(now, stack) {
                        Progress::Pending(at) => return Some(at),
                        Progress::Won(slot, to) => {
                            if let Err(e) = self.send(now, net, slot, to, deadline) {
                                if let Some(stack) = net.stack() {
                                    stack.release(slot);
                                }
                                self.settle(now, deadline, Err(e), net, nic);
                            }
                        }
                        Progress::Lost(t) => {
                            self.flow.unsent();
                            if t.is_contact() {
                                net.answered();
                            }
                            self.settle(now, deadline, Err(ExchangeError::Transport(t)), net, nic);
                        }
                    }
                }
                State::Busy(slot, x) => {
                    let slot = *slot;
                    let stage = self.flow.stage();
                    let parser = if stage == Stage::Metadata { &mut self.meta } else { &mut self.data };
                    let stack = net.stack()?;
                    let secure = match self.seed.as_ref().filter(|u| u.scheme == Scheme::Https) {
                        Some(url) => match tls.as_mut() {
                            Some(s) => Some((s, server_name(url))),
                            None => {
                                stack.release(slot);
                                self.state = State::Failed(stage, Failure::NoTrust);
                                continue;
                            }
                        },
                        None => None,
                    };
                    let Some(result) = x.pump(stack.socket(slot), parser, now, secure) else {
                        return Some(x.deadline());
                    };
                    if result.is_ok() {
                        stack.close(slot);
                    } else {
                        stack.release(slot);
                    }
                    if let Some(t) = self.started.take() {
                        self.spent_us[stage as usize] += (now - t).total_micros();
                    }
                    if x.answered() || matches!(result, Ok(_) | Err(ExchangeError::Http(_))) {
                        net.answered();
                    }
                    self.settle(now, deadline, result, net, nic);
                }
            }
        }
        Some(now)
    }

    /// The seed URL's host, when it is a name not resolved yet.
    fn unresolved(&self) -> Option<&'a [u8]> {
        let url = self.seed.as_ref()?;
        (url.address.is_none() && self.resolved.is_empty()).then_some(url.host)
    }

    /// The addresses this request may go to, in the order to try them, as a race to start;
    /// `None` while no endpoint is reachable yet.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    fn race(&mut self, now: Instant, net: &mut Network<'_>, deadline: Instant) -> Result<Option<Race>, ExchangeError> {
        let no_route = ExchangeError::Transport(Transport::NoRoute);
        let lease = net.lease();
        let family = net.family();
        let mut all: heapless::Vec<Candidate, CANDIDATES_MAX> = heapless::Vec::new();
        // An endpoint known only once the network has told more (the DHCP server, a name).
        let mut later = false;
        for (i, e) in self.service.endpoints.iter().enumerate() {
            let mut add = |ip: IpAddress, port: u16| {
                let wanted = match ip {
                    IpAddress::Ipv4(_) => family.v4(),
                    IpAddress::Ipv6(_) => family.v6(),
                };
                if wanted {
                    let _ = all.push(Candidate { to: IpEndpoint::new(ip, port), endpoint: i as u8 });
                }
            };
            match e.address {
                Address::V4([a, b, c, d]) => add(IpAddress::v4(a, b, c, d), e.port),
                Address::V6(a) => add(IpAddress::Ipv6(a.into()), e.port),
                Address::DhcpServer => match lease.and_then(|l| l.server) {
                    Some(server) => add(IpAddress::Ipv4(server), e.port),
                    None => later = true,
                },
                Address::Seed | Address::Url(_) => {
                    let url = self.seed.as_ref().ok_or(no_route)?;
                    match url.address {
                        Some(ip) => add(ip, url.port),
                        None => {
                            later |= self.resolved.is_empty();
                            for &ip in &self.resolved {
                                add(ip, url.port);
                            }
                        }
                    }
                }
            }
        }
        if all.is_empty() && !later {
            // Nothing of a family in use (or the name resolved to nothing usable).
            return Err(no_route);
        }
        let Some(stack) = net.stack() else { return Ok(None) };
        if !all.iter().any(|c| stack.reachable(c.to.addr)) {
            return Ok(None);
        }
        let order = order(&all, self.server);
        let limit = deadline.min(now + net.contact_window());
        self.started = Some(now);
        Ok(Some(Race::new(all, order, limit, self.service.connect.privileged_port)))
    }

    /// The race was won by the connection in `slot` to `to`: the flow's request goes out on it.
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    fn send(
        &mut self,
        now: Instant,
        net: &mut Network<'_>,
        slot: usize,
        to: Candidate,
        deadline: Instant,
    ) -> Result<(), ExchangeError> {
        self.server = Some(to.to);
        let endpoint = self.service.endpoints.get(to.endpoint as usize);
        // The engine starts a seed service only with a seed URL.
        let seed = self
            .seed
            .as_ref()
            .filter(|_| endpoint.is_some_and(|e| matches!(e.address, Address::Seed | Address::Url(_))));
        let mut text: heapless::String<48> = heapless::String::new();
        let host = match endpoint.map(|e| e.host) {
            Some(Host::Seed) => seed.ok_or(ExchangeError::Transport(Transport::NoRoute))?.authority,
            _ => {
                // RFC 9110 §7.2: an IPv6 literal in brackets, as in a URL.
                let _ = match to.to.addr {
                    IpAddress::Ipv4(_) => write!(text, "{}", Addr(to.to.addr)),
                    IpAddress::Ipv6(_) => write!(text, "[{}]", Addr(to.to.addr)),
                };
                text.as_bytes()
            }
        };
        let limit = deadline.min(now + net.contact_window());
        let flow = &mut self.flow;
        let x = Exchange::new(limit, |out| flow.request(out, host, seed)).map_err(ExchangeError::Http)?;
        if self.flow.stage() == Stage::Metadata {
            self.meta.reset();
        } else {
            self.data.reset();
        }
        net.answered();
        self.state = State::Busy(slot, x);
        Ok(())
    }

    /// Hands the outcome of an exchange to the flow and follows its decision. A silent failure
    /// with several NICs moves the network to the next one first.
    fn settle<N: Nic>(
        &mut self,
        now: Instant,
        deadline: Instant,
        result: Result<crate::http::Head, ExchangeError>,
        net: &mut Network<'_>,
        nic: &mut N,
    ) {
        let stage = self.flow.stage();
        let step = match result {
            Ok(head) => {
                let body = if stage == Stage::Metadata { self.meta.body() } else { self.data.body() };
                debug!(stage.name(), "HTTP {} ({} body bytes)", head.status, body.len());
                self.flow.on_response(now, deadline, head, body)
            }
            Err(ExchangeError::Transport(t)) => {
                // Every endpoint was raced (see `Race`), so silence here is silence from all.
                let step = self.flow.on_transport(now, deadline, t);
                // Nothing on this NIC ever answered — no SYN-ACK, no RST, no route: ask the
                // next NIC at once; after a whole round of silence, wait out the backoff first.
                if let (Ok(Step::RetryAt(at)), false, true) = (step, t.is_contact(), net.may_fall_back()) {
                    if let Some(n) = net.stats.nic {
                        info!("link", "no metadata service via {} ({t})", crate::fmt::Bytes(n.name()));
                    }
                    let wrapped = net.fall_back(now, nic, deadline);
                    self.state = if wrapped { State::Wait(at) } else { State::Ready };
                    return;
                }
                step
            }
            Err(ExchangeError::Http(e)) => self.flow.on_http_error(now, deadline, e),
            // A certificate or protocol failure is the server's answer, never retried.
            Err(ExchangeError::Tls(e)) => Err(Failure::Tls(e)),
        };
        self.state = match step {
            Ok(Step::Request) => State::Ready,
            Ok(Step::RetryAt(at)) => State::Wait(at),
            Ok(Step::UserData | Step::NoUserData) => State::Done,
            Err(f) => State::Failed(stage, f),
        };
    }
}

/// The name a URL's server must prove (SNI and the certificate's subjectAltName): its IP
/// literal, or its host name.
fn server_name<'u>(url: &Url<'u>) -> ServerName<'u> {
    match url.address {
        Some(IpAddress::Ipv4(a)) => ServerName::V4(a.octets()),
        Some(IpAddress::Ipv6(a)) => ServerName::V6(a.octets()),
        None => ServerName::Dns(url.host),
    }
}

/// An address a request may go to, and the platform endpoint it stands for (its `Host`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub to: IpEndpoint,
    pub endpoint: u8,
}

/// The order to try candidates in (RFC 8305 §4): the address that won last first, then the
/// families interleaved, IPv6 first, each family in the given order.
// Out of line: measured smaller so (inlined, it grew its caller more than it costs).
#[inline(never)]
pub fn order(all: &[Candidate], won: Option<IpEndpoint>) -> heapless::Vec<u8, CANDIDATES_MAX> {
    let mut out: heapless::Vec<u8, CANDIDATES_MAX> = heapless::Vec::new();
    if let Some(i) = all.iter().position(|c| Some(c.to) == won) {
        let _ = out.push(i as u8);
    }
    // Round k takes the k-th IPv6 address, then the k-th IPv4 one (plain loops: two filtered
    // iterators measured larger).
    for round in 0..all.len() {
        for v4 in [false, true] {
            let mut k = 0;
            for (i, c) in all.iter().enumerate() {
                if matches!(c.to.addr, IpAddress::Ipv4(_)) == v4 {
                    if k == round && !out.contains(&(i as u8)) {
                        let _ = out.push(i as u8);
                    }
                    k += 1;
                }
            }
        }
    }
    out
}

/// How a race stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Progress {
    /// Still going; poll again by then (or when a frame arrives).
    Pending(Instant),
    /// The connection in this TCP slot is up (the others are dropped).
    Won(usize, Candidate),
    /// Every candidate failed: the most telling failure (a refusal beats silence).
    Lost(Transport),
}

/// One request's connection race (see the module docs).
pub struct Race {
    all: heapless::Vec<Candidate, CANDIDATES_MAX>,
    order: heapless::Vec<u8, CANDIDATES_MAX>,
    /// Which candidates were tried (bit per index into `all`).
    tried: u8,
    /// Attempts in progress: TCP slot and candidate index.
    running: heapless::Vec<(usize, u8), TCP_SLOTS>,
    last_start: Option<Instant>,
    limit: Instant,
    privileged: bool,
    refused: bool,
    /// An attempt got no answer before the limit.
    silent: bool,
}

impl Race {
    pub fn new(
        all: heapless::Vec<Candidate, CANDIDATES_MAX>,
        order: heapless::Vec<u8, CANDIDATES_MAX>,
        limit: Instant,
        privileged: bool,
    ) -> Race {
        Race {
            all,
            order,
            tried: 0,
            running: heapless::Vec::new(),
            last_start: None,
            limit,
            privileged,
            refused: false,
            silent: false,
        }
    }

    /// Ends every attempt (another source won, or the run is over).
    pub fn drop_all(&mut self, stack: &mut crate::net::stack::Stack<'_>) {
        for (slot, _) in self.running.drain(..) {
            stack.release(slot);
        }
    }

    /// Moves the race on: attempts that completed or failed, and the next attempt when due.
    pub fn poll(&mut self, now: Instant, stack: &mut crate::net::stack::Stack<'_>) -> Progress {
        // Bounded by TCP_SLOTS.
        let mut i = 0;
        while i < self.running.len() {
            let (slot, c) = self.running[i];
            match stack.socket(slot).state() {
                tcp::State::SynSent | tcp::State::SynReceived if now < self.limit => i += 1,
                tcp::State::SynSent | tcp::State::SynReceived => {
                    self.silent = true;
                    stack.release(slot);
                    self.running.swap_remove(i);
                }
                // Straight from SYN-SENT to CLOSED: a RST answered the SYN.
                tcp::State::Closed => {
                    self.refused = true;
                    stack.release(slot);
                    self.running.swap_remove(i);
                }
                _ => {
                    for &(other, _) in self.running.iter().filter(|(s, _)| *s != slot) {
                        stack.release(other);
                    }
                    self.running.clear();
                    return Progress::Won(slot, self.all[c as usize]);
                }
            }
        }
        let due = self.last_start.map_or(now, |t| t + ATTEMPT_DELAY);
        if now < self.limit
            && (self.running.is_empty() || now >= due)
            && let (Some(c), Some(slot)) = (self.next_reachable(stack), stack.free_slot())
        {
            self.tried |= 1 << c;
            let to = self.all[c as usize].to;
            match stack.connect(slot, to, self.privileged) {
                Ok(()) => {
                    let _ = self.running.push((slot, c));
                    self.last_start = Some(now);
                }
                // No route after all: the next candidate at the next poll.
                Err(_) => return Progress::Pending(now),
            }
        }
        if self.running.is_empty() {
            // Every reachable address answered or fell silent. Those of a family without an
            // address yet wait for the next request (after the backoff), not for the limit:
            // holding a refused attempt until then would spend the budget on one request.
            if self.tried != 0 || self.next_reachable(stack).is_none() || now >= self.limit {
                // A refusal says the service's host is on this NIC only if nothing else was
                // silent: an IPv6 router refusing for a missing IPv6 service (QEMU's slirp does)
                // says nothing about the IPv4 service that never answered.
                let t = if self.refused && !self.silent { Transport::Refused } else { Transport::Timeout };
                return Progress::Lost(t);
            }
            return Progress::Pending(self.limit);
        }
        let more = self.order.iter().any(|&c| self.tried & (1 << c) == 0);
        let next = if more { self.last_start.map_or(now, |t| t + ATTEMPT_DELAY) } else { self.limit };
        Progress::Pending(next.min(self.limit).max(now))
    }

    /// The first candidate in order not tried yet whose family has a usable address now.
    fn next_reachable(&self, stack: &crate::net::stack::Stack<'_>) -> Option<u8> {
        self.order
            .iter()
            .copied()
            .find(|&c| self.tried & (1 << c) == 0 && stack.reachable(self.all[c as usize].to.addr))
    }
}
