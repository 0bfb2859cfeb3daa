//! The engine: one poll-driven loop that starts every source of a platform at once, takes the
//! first definite answer (user-data, or "this instance has none"), cancels the rest, and lets
//! the winner finish its metadata — all under one budget.
//!
//! [`Engine::poll`] takes `now` and the two seams (the NIC and the block devices), does every
//! piece of work that is due, and returns when it next needs to be called; the caller sleeps
//! on the NIC until then. Nothing in here blocks or reads a clock, so the host tests run whole
//! races over an in-memory NIC and in-memory drives.
//!
//! Sources:
//! - a **drive** scans the block devices at once and every [`drive::RESCAN`] until one carries
//!   its label; it never touches a NIC;
//! - a **service** needs the network, which starts (NICs raised, carrier, address) the moment
//!   the first service does; its flow then runs over one TCP slot at a time.
//!
//! When every source has failed, the run fails with the most telling failure: an answer that
//! was wrong beats a source that could not be reached, which beats a drive that never showed.

pub mod drive;
pub mod lookup;
pub mod network;
pub mod service;
#[cfg(test)]
mod tests;

use smoltcp::time::{Duration, Instant};

use crate::decode::Encoding;
use crate::net::stack::{Sockets, Storage};
use crate::net::{AddressMode, Family, Nic};
use crate::platform::{Platform, Source};
use crate::sources::meta::Metadata;
use crate::sources::seed::Url;
use crate::sources::service::{Failure, Stage};
use drive::{DriveFailure, DriveRun, Drives, SeedFiles};
use network::{NetConfig, NetError, Network};
use service::ServiceRun;

/// Rounds of flows and network within one poll before the engine returns to its caller (who
/// calls again at once if there is more to do).
const ROUNDS: usize = 4;

/// Most sources of each kind in one platform (checked for every platform by a test).
pub const SERVICES_MAX: usize = 1;
pub const DRIVES_MAX: usize = 2;

/// Memory a service run needs: the user-data body and one metadata document at a time.
pub struct ServiceBuffers<'a> {
    pub body: &'a mut [u8],
    pub meta: &'a mut [u8],
}

/// Memory a drive run needs: the user-data, one metadata file, and the seed files.
pub struct DriveBuffers<'a> {
    pub user_data: &'a mut [u8],
    pub file: &'a mut [u8],
    pub seed: &'a mut [u8],
}

/// What the engine takes from the command line.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub address: AddressMode,
    pub family: Family,
    pub dhcp_timeout: Duration,
    pub deadline: Instant,
    /// Some output needs the platform's metadata.
    pub metadata: bool,
    pub seed: u64,
}

/// How a run failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failed {
    Net(NetError),
    Flow(Stage, Failure),
    Drive(DriveFailure),
}

/// Which source answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Winner {
    Service(usize),
    Drive(usize),
}

/// What [`Engine::poll`] says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Poll {
    /// Call again by then (or as soon as the NIC has a frame).
    Wait(Instant),
    /// The run is over: see [`Engine::outcome`].
    Done,
}

/// The winning source's answer.
pub struct Answer<'e> {
    /// The raw user-data (before base64 and gzip), or `None` when the instance has none.
    pub user_data: Option<&'e mut [u8]>,
    pub encoding: Encoding,
    pub meta: &'e Metadata,
    /// Files a drive hands to cloud-init verbatim, and where its user-data goes among them.
    pub seed: Option<&'e SeedFiles<'e>>,
    pub seed_user_data: Option<&'static str>,
}

pub struct Engine<'a> {
    settings: Settings,
    pub network: Network<'a>,
    services: heapless::Vec<ServiceRun<'a>, SERVICES_MAX>,
    drives: heapless::Vec<DriveRun<'a>, DRIVES_MAX>,
    winner: Option<Winner>,
    done: bool,
    /// What https needs; `None` until the caller gives it (only runs that meet https do).
    tls: Option<crate::tls::Secure<'a>>,
    /// A URL asked after the answer (a pointer in the user-data: see [`Engine::fetch`]).
    pointer: Option<ServiceRun<'a>>,
    /// The pointer run's buffers, until its first fetch.
    pointer_buffers: Option<ServiceBuffers<'a>>,
}

impl<'a> Engine<'a> {
    /// A run of `platform`'s sources. Each source takes the next buffers of its kind. A service
    /// at a NoCloud seed ([`crate::platform::Address::Seed`]) runs only with a `nocloud` seed
    /// URL (HTTP, its host an address).
    pub fn new(
        platform: &'static Platform,
        settings: Settings,
        now: Instant,
        net: (&'a mut Storage, &'a mut Sockets<'a>),
        service_buffers: impl IntoIterator<Item = ServiceBuffers<'a>>,
        drive_buffers: impl IntoIterator<Item = DriveBuffers<'a>>,
        nocloud: Option<Url<'a>>,
    ) -> Engine<'a> {
        let mut services = heapless::Vec::new();
        let mut drives = heapless::Vec::new();
        let mut sb = service_buffers.into_iter();
        let mut db = drive_buffers.into_iter();
        let mut mode = settings.address;
        for (i, source) in platform.sources.iter().enumerate() {
            match source {
                Source::Service(s) => {
                    let seeded = s.at_seed();
                    if seeded && nocloud.is_none() {
                        continue;
                    }
                    // A service at a fixed URL is its own seed (the table's URLs parse: a test).
                    let fixed = s.endpoints.iter().find_map(|e| match e.address {
                        crate::platform::Address::Url(u) => Url::parse(u.as_bytes()).ok(),
                        _ => None,
                    });
                    if let Some(b) = sb.next() {
                        let _ = services.push(ServiceRun::new(
                            s,
                            settings.seed.rotate_left(17 + i as u32),
                            settings.metadata,
                            b.body,
                            b.meta,
                            fixed.or(nocloud.filter(|_| seeded)),
                        ));
                        if s.connect.link_local_first && mode == AddressMode::Auto {
                            mode = AddressMode::LinkLocal;
                        }
                    }
                }
                Source::Drive(d) => {
                    if let Some(b) = db.next() {
                        let _ = drives.push(DriveRun::new(d, now, b.user_data, b.file, b.seed));
                    }
                }
            }
        }
        let config =
            NetConfig { mode, family: settings.family, dhcp_timeout: settings.dhcp_timeout, seed: settings.seed };
        Engine {
            settings,
            network: Network::new(config, net.0, net.1),
            services,
            drives,
            winner: None,
            done: false,
            tls: None,
            pointer: None,
            pointer_buffers: None,
        }
    }

    /// Where the last [`Engine::fetch`] was redirected to (its `Location`), if it was.
    pub fn location(&self) -> Option<&[u8]> {
        self.pointer.as_ref()?.location()
    }

    /// Makes https possible: the TLS client, trust anchors and key material.
    pub fn set_tls(&mut self, tls: crate::tls::Secure<'a>) {
        self.tls = Some(tls);
    }

    pub fn has_tls(&self) -> bool {
        self.tls.is_some()
    }

    /// The trust of the https session, once there is one (to add anchors to).
    pub fn trust(&mut self) -> Option<&mut crate::tls::Trust<'a>> {
        self.tls.as_mut().map(|s| &mut s.trust)
    }

    /// Memory for [`Engine::fetch`]: the body of one pointer at a time.
    pub fn set_pointer_buffers(&mut self, buffers: ServiceBuffers<'a>) {
        self.pointer_buffers = Some(buffers);
    }

    /// After the run: GET `url` (http or https) on the same network, under the same budget;
    /// [`Engine::poll`] then runs until it has an answer, which [`Engine::fetched`] gives.
    /// Without pointer buffers nothing is asked (and `fetched` says so).
    pub fn fetch(&mut self, url: Url<'a>) {
        if let Some(p) = &mut self.pointer {
            p.restart(url);
        } else if let Some(b) = self.pointer_buffers.take() {
            let seed = self.settings.seed.rotate_left(29);
            self.pointer =
                Some(ServiceRun::new(&crate::platform::url::POINTER, seed, false, b.body, b.meta, Some(url)));
        }
        self.done = false;
    }

    /// The last [`Engine::fetch`]: the body of a 2xx answer (an empty one is an empty
    /// document), or why there is none (a 404 is `Failure::Status(404)`: a pointer that names
    /// nothing is an error, not "no user-data"; a redirect is its status, see [`Engine::location`]).
    pub fn fetched(&mut self) -> Result<&[u8], Failed> {
        let Some(p) = &mut self.pointer else { return Err(Failed::Flow(Stage::UserData, Failure::RequestCap)) };
        match (p.answer(), p.failure()) {
            (Some(true), _) => Ok(p.parts().0),
            (_, Some((stage, f))) => Err(Failed::Flow(stage, f)),
            (Some(false), None) => Ok(&[]),
            (None, None) => {
                Err(self.network.failed().map_or(Failed::Flow(Stage::UserData, Failure::RequestCap), Failed::Net))
            }
        }
    }

    pub fn winner(&self) -> Option<Winner> {
        self.winner
    }

    /// Does everything due at `now`; see the module docs.
    pub fn poll<N: Nic>(&mut self, now: Instant, nic: &mut N, block: &mut dyn Drives) -> Poll {
        if self.done {
            return Poll::Done;
        }
        let deadline = self.settings.deadline;
        let mut wake = deadline;
        let mut soonest = |at: Option<Instant>| {
            if let Some(at) = at {
                wake = wake.min(at);
            }
        };

        for d in self.drives.iter_mut() {
            soonest(d.poll(now, block, self.settings.metadata));
            // A drive's network configuration addresses whatever the run fetches next.
            if let Some(plan) = d.network.take() {
                let from = d.drive.network.as_ref().map_or("", |n| n.path);
                self.network.set_plan(plan, from, now, deadline);
            }
        }
        self.decide();

        // Services: the network first (frames, timers, address), then each flow, then the
        // network again so that what the flows queued leaves now.
        let services_left =
            self.services.iter().any(|s| !s.finished()) || self.pointer.as_ref().is_some_and(|p| !p.finished());
        if services_left {
            self.network.start(now, nic);
            self.network.poll(now, nic, deadline);
            if self.network.failed().is_some() {
                // The failure is the network's (see `failure`); the flows just stop.
                for s in self.services.iter_mut().chain(self.pointer.as_mut()) {
                    s.abandon();
                }
            }
            // A frame the second network poll took in (an answer, an address) wakes no one
            // later: while that poll changed something, the flows look again now. Bounded.
            for round in 0..ROUNDS {
                for s in self.services.iter_mut().chain(self.pointer.as_mut()) {
                    soonest(s.poll(now, &mut self.network, nic, deadline, &mut self.tls));
                }
                if !self.network.poll(now, nic, deadline) {
                    break;
                }
                if round + 1 == ROUNDS {
                    soonest(Some(now));
                }
            }
            soonest(self.network.poll_at(now));
        } else if self.winner.is_none() && self.drives.iter().any(|d| d.drive.fallback && !d.finished()) {
            // The services said "none" and a fallback drive is awaited: the network is still
            // polled, or a frame left unread would end the caller's wait at once, every time.
            self.network.poll(now, nic, deadline);
            soonest(self.network.poll_at(now));
        }
        self.decide();

        if now >= deadline {
            for d in self.drives.iter_mut() {
                d.expire();
            }
            // A fallback drive that never showed leaves the services' "none" standing.
            self.decide();
        }
        if let Some(p) = &self.pointer {
            if p.finished() {
                self.done = true;
                return Poll::Done;
            }
            return Poll::Wait(wake.max(now));
        }
        let all_over = self.drives.iter().all(DriveRun::finished) && self.services.iter().all(ServiceRun::finished);
        let winner_over = match self.winner {
            Some(Winner::Service(i)) => self.services[i].finished(),
            // A fallback drive waits for the metadata of the services that said "none".
            Some(Winner::Drive(i)) => !self.drives[i].drive.fallback || self.services.iter().all(ServiceRun::finished),
            None => false,
        };
        if all_over || winner_over {
            self.done = true;
            return Poll::Done;
        }
        Poll::Wait(wake.max(now))
    }

    /// The first source with a definite answer wins; the others are cancelled.
    ///
    /// A fallback drive (Azure's provisioning CD) is the exception: it answers only once every
    /// service has said "none" or could not be reached, so no race can let it win over a
    /// service's user-data, and a wrong answer (an HTTP error, bad base64) is never papered over
    /// by it; a service's "none" waits for a fallback drive still being looked for (until the
    /// budget ends). Then the drive's answer comes with the services' metadata.
    fn decide(&mut self) {
        if self.winner.is_some() {
            return;
        }
        // A service that answered wrongly (a 404 from Azure's IMDS, bad base64) is no "none":
        // its error stands, and a fallback drive is no longer looked for.
        let wrong = |s: &ServiceRun| s.failure().is_some_and(|(_, f)| !f.is_unreachable());
        if self.services.iter().any(wrong) {
            self.drives.iter_mut().filter(|d| d.drive.fallback).for_each(DriveRun::cancel);
        }
        // "None": said so, or never reached (no NIC, no address, no answer in the budget).
        let services_none = self
            .services
            .iter()
            .all(|s| s.answer() == Some(false) || s.finished() && s.answer().is_none() && !wrong(s));
        let fallback_pending = self.drives.iter().any(|d| d.drive.fallback && !d.finished());
        let winner = if let Some(i) =
            self.drives.iter().position(|d| d.answer().is_some() && (!d.drive.fallback || services_none))
        {
            Winner::Drive(i)
        } else if let Some(i) = self
            .services
            .iter()
            .position(|s| s.answer() == Some(true) || s.answer() == Some(false) && !fallback_pending)
        {
            Winner::Service(i)
        } else {
            return;
        };
        self.winner = Some(winner);
        let fallback = matches!(winner, Winner::Drive(i) if self.drives[i].drive.fallback);
        for (i, d) in self.drives.iter_mut().enumerate() {
            if winner != Winner::Drive(i) {
                d.cancel();
            }
        }
        for (i, s) in self.services.iter_mut().enumerate() {
            // Services that said "none" finish their metadata for a fallback drive's answer.
            if winner != Winner::Service(i) && !(fallback && s.answer() == Some(false)) {
                if !s.finished() {
                    info!("user-data", "the drive answered first; metadata service no longer asked");
                }
                s.cancel(&mut self.network);
            }
        }
    }

    /// The answer of the run, or why there is none. Call after [`Poll::Done`].
    // Out of line: measured smaller so (inlined, it grew its caller more than it costs).
    #[inline(never)]
    pub fn outcome(&mut self) -> Result<Answer<'_>, Failed> {
        match self.winner {
            Some(Winner::Drive(i)) => {
                let d = &mut self.drives[i];
                let found = d.answer() == Some(true);
                let (encoding, seed_user_data) = (d.drive.encoding, d.drive.seed_user_data);
                let fallback = d.drive.fallback;
                let (user_data, mut meta, seed) = d.parts();
                if fallback && let Some(s) = self.services.iter().find(|s| s.answer() == Some(false)) {
                    meta = &s.flow.meta;
                }
                Ok(Answer { user_data: found.then_some(user_data), encoding, meta, seed: Some(seed), seed_user_data })
            }
            Some(Winner::Service(i)) => {
                let s = &mut self.services[i];
                let found = s.answer() == Some(true);
                let encoding = s.service.user_data.encoding;
                let (body, meta) = s.parts();
                Ok(Answer { user_data: found.then_some(body), encoding, meta, seed: None, seed_user_data: None })
            }
            None => Err(self.failure()),
        }
    }

    /// The most telling failure of all the sources (see the module docs).
    fn failure(&self) -> Failed {
        let flows = self.services.iter().filter_map(ServiceRun::failure);
        let drives = self.drives.iter().filter_map(DriveRun::failure);
        // A source that answered wrongly.
        if let Some((stage, f)) = flows.clone().find(|(_, f)| !f.is_unreachable()) {
            return Failed::Flow(stage, f);
        }
        if let Some(f) = drives.clone().find(|f| *f != DriveFailure::NotFound) {
            return Failed::Drive(f);
        }
        // The network, then a service that could not be reached, then the drive.
        if let Some(e) = self.network.failed() {
            return Failed::Net(e);
        }
        if let Some((stage, f)) = flows.clone().next() {
            return Failed::Flow(stage, f);
        }
        Failed::Drive(drives.clone().next().unwrap_or(DriveFailure::NotFound))
    }

    /// Requests sent and time spent per stage by the services, for the report.
    pub fn service_stats(&self) -> (u32, [u64; 3], Option<smoltcp::wire::IpEndpoint>) {
        let mut requests = 0;
        let mut spent = [0; 3];
        let mut server = None;
        for s in &self.services {
            requests += s.flow.requests();
            for (a, b) in spent.iter_mut().zip(s.spent_us) {
                *a += b;
            }
            server = server.or(s.server);
        }
        (requests, spent, server)
    }
}
