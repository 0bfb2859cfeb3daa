//! A metadata service in a run: its [`Flow`] (what to ask next, retries) joined to a TCP slot of
//! the shared network, one non-blocking [`Exchange`] at a time.

use core::fmt::Write as _;

use smoltcp::time::Instant;
use smoltcp::wire::{IpAddress, IpEndpoint};

use super::network::Network;
use crate::http::ResponseParser;
use crate::http::exchange::{Exchange, ExchangeError};
use crate::net::linklocal::Ip;
use crate::net::{Nic, Transport};
use crate::platform::{Address, Host, Service};
use crate::sources::seed::Url;
use crate::sources::service::{Failure, Flow, Stage, Step};

/// Where a service run is. (`Busy` holds the 1 KiB request; there is one run per service and no
/// heap to box it on, so the size difference costs nothing.)
#[allow(clippy::large_enum_variant)]
enum State {
    /// Waiting for the network, then sends the flow's next request.
    Ready,
    /// Backing off until then.
    Wait(Instant),
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
    /// The server asked, once known (for the report).
    pub server: Option<[u8; 4]>,
    /// Which of the service's endpoints requests go to (the next one after a silent failure).
    endpoint: usize,
    /// The NoCloud seed URL, for a service at [`Address::Seed`].
    seed: Option<Url<'a>>,
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
            endpoint: 0,
            seed: nocloud,
        }
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
    pub fn parts(&mut self) -> (&mut [u8], &crate::sources::meta::Metadata) {
        (self.data.body_mut(), &self.flow.meta)
    }

    /// Another source won: drop any connection and stop.
    pub fn cancel(&mut self, net: &mut Network<'_>) {
        if let State::Busy(slot, _) = self.state
            && let Some(stack) = net.stack()
        {
            stack.release(slot);
        }
        self.state = State::Cancelled;
    }

    /// The network moved to another NIC (its connections are gone): ask again there.
    pub fn on_switch(&mut self) {
        if let State::Busy(..) = self.state {
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
    pub fn poll<N: Nic>(
        &mut self,
        now: Instant,
        net: &mut Network<'_>,
        nic: &mut N,
        deadline: Instant,
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
                    if let Err(e) = self.send(now, net, deadline) {
                        self.settle(now, deadline, Err(e), net, nic);
                    }
                }
                State::Busy(slot, x) => {
                    let slot = *slot;
                    let stage = self.flow.stage();
                    let parser = if stage == Stage::Metadata { &mut self.meta } else { &mut self.data };
                    let stack = net.stack()?;
                    let Some(result) = x.pump(stack.socket(slot), parser, now) else {
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

    /// Starts the flow's next request on a free TCP slot.
    fn send(&mut self, now: Instant, net: &mut Network<'_>, deadline: Instant) -> Result<(), ExchangeError> {
        let lease = net.lease();
        let endpoints = self.service.endpoints;
        let endpoint = endpoints
            .get(self.endpoint % endpoints.len().max(1))
            .ok_or(ExchangeError::Transport(Transport::NoRoute))?;
        let no_route = ExchangeError::Transport(Transport::NoRoute);
        // The engine starts a seed service only with a seed whose host is an address.
        let seed = self.seed.as_ref().filter(|_| endpoint.address == Address::Seed);
        let address = match endpoint.address {
            Address::V4(a) => a,
            Address::DhcpServer => lease.and_then(|l| l.server).ok_or(no_route)?.octets(),
            Address::Seed => seed.and_then(|u| u.address).ok_or(no_route)?,
        };
        self.server = Some(address);
        let mut host: heapless::String<16> = heapless::String::new();
        let host = match endpoint.host {
            Host::Named(name) => name.as_bytes(),
            Host::Address => {
                let _ = write!(host, "{}", Ip(address));
                host.as_bytes()
            }
            Host::Seed => seed.ok_or(no_route)?.authority,
        };
        let port = seed.map_or(endpoint.port, |u| u.port);
        let limit = deadline.min(now + net.contact_window());
        let flow = &mut self.flow;
        let x = Exchange::new(limit, |out| flow.request(out, host, seed)).map_err(ExchangeError::Http)?;
        let stack = net.stack().ok_or(ExchangeError::Transport(Transport::NoRoute))?;
        let slot = stack.free_slot().ok_or(ExchangeError::Transport(Transport::NoRoute))?;
        let [a, b, c, d] = address;
        stack
            .connect(slot, IpEndpoint::new(IpAddress::v4(a, b, c, d), port), self.service.connect.privileged_port)
            .map_err(ExchangeError::Transport)?;
        if self.flow.stage() == Stage::Metadata {
            self.meta.reset();
        } else {
            self.data.reset();
        }
        self.started = Some(now);
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
                let step = self.flow.on_transport(now, deadline, t);
                // Silence from one endpoint: the service's next one, at once; only once every
                // endpoint was silent does the NIC fallback below apply.
                let count = self.service.endpoints.len();
                if let (Ok(Step::RetryAt(_)), false, 2..) = (step, t.is_contact(), count) {
                    self.endpoint = (self.endpoint + 1) % count;
                    if self.endpoint != 0 {
                        self.state = State::Ready;
                        return;
                    }
                }
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
        };
        self.state = match step {
            Ok(Step::Request) => State::Ready,
            Ok(Step::RetryAt(at)) => State::Wait(at),
            Ok(Step::UserData | Step::NoUserData) => State::Done,
            Err(f) => State::Failed(stage, f),
        };
    }
}
