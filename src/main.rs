//! flint: fetch cloud user-data before the system's network exists.
//!
//! Phases, each bounded by what is left of `--timeout`: link (choose and raise the NIC), address
//! (DHCPv4 or IPv4 link-local, on smoltcp), token and user-data (the platform's flow over
//! HTTP/1.1), decode (base64, gzip), write (atomic rename). Then the NIC is put back and flint
//! exits with a code from [`Error::exit`] — the one place exit codes are decided.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod handoff;
mod link;
mod logger;
mod net;
mod output;
mod sys;

use core::fmt;

use flint::args::{self, Config, UsageError};
use flint::decode::{self, DecodeError, Encoding};
use flint::flow::{Failure, Flow, Stage, Step, Transport};
use flint::http::{self, ExchangeError, ResponseParser};
use flint::linklocal::Ip;
use flint::platform::Role;
use flint::report::{self, Report};
use rustix::fd::OwnedFd;
use rustix::io::Errno;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::{IpAddress, IpEndpoint};

use crate::link::{LinkError, Restore};
use crate::net::{AddressError, Net, TcpError};
use crate::handoff::{Handoff, Trouble};
use crate::sys::packet::{self, PacketDevice};

/// Largest user-data response body accepted (raw, before decoding). Platforms cap user-data at
/// 16–64 KiB; the decoded size has its own cap, `--max-size`.
pub const BODY_MAX: usize = 1 << 20;
/// Largest metadata document accepted.
pub const META_BODY_MAX: usize = 16 << 10;
/// Room for a rendered metadata output: every kept value (`meta::ARENA`) plus names and quoting.
pub const RENDER_MAX: usize = 24 << 10;
/// Longest single HTTP attempt (connect to last byte), like Ignition's 10 s header timeout;
/// always also bounded by the budget.
const ATTEMPT_MAX: Duration = Duration::from_secs(10);
const REQUEST_MAX: usize = 1024;
/// With several NICs: how long one attempt may wait for the metadata service's first answer on
/// a NIC in the first round (on the right NIC it answers in milliseconds; a SYN lost on a good
/// link is retransmitted after 1 s, so 2 s still covers one loss); doubled each round...
const CONTACT_MAX: Duration = Duration::from_secs(2);
/// ...and how long address acquisition on one of several NICs may run past `--dhcp-timeout`
/// (the link-local claim settles ~0.5 s after probing starts).
const ADDRESS_SPARE: Duration = Duration::from_secs(1);

pub mod clock {
    use smoltcp::time::Instant;

    /// CLOCK_MONOTONIC: the only clock flint reads (see `sys::monotonic_us`).
    pub fn now() -> Instant {
        Instant::from_micros(crate::sys::monotonic_us())
    }
}

/// Exit codes (docs/contract.md, `--help`, README).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Exit {
    Written = 0,
    System = 1,
    Usage = 2,
    NoUserData = 3,
    Unreachable = 4,
    Invalid = 5,
    Output = 6,
    NotIgnition = 7,
}

/// Moves the stack to the next candidate NIC with carrier, if there is one (see `link::other`);
/// counts a round each time the choice wraps around.
fn fall_back(net: &mut Net, candidates: &link::Candidates, slot: usize, round: &mut u32, seed: u64) -> Result<Option<(usize, link::Nic)>, Error> {
    let Some((next, nic)) = link::other(net.dev.fd(), candidates, slot) else { return Ok(None) };
    if next < slot {
        *round += 1;
    }
    flint::info!("link", "falling back to {}", Bytes(nic.link.name()));
    net.switch(nic.link.index, nic.mac, nic.mtu, seed ^ next as u64).map_err(|e| Error::Link(LinkError::Os(e)))?;
    Ok(Some((next, nic)))
}

/// Every way a run can fail, with what it was doing.
#[derive(Clone, Copy, Debug)]
enum Error {
    Usage(UsageError),
    Cmdline(Errno),
    Link(LinkError),
    Address(AddressError),
    Flow(Stage, Failure),
    Decode(DecodeError),
    /// A hand-off file failed or was refused; already logged where it happened.
    Handoff(Trouble),
}

impl Error {
    fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Cmdline(_) => Exit::Usage,
            Error::Link(LinkError::NoCarrier) | Error::Address(_) => Exit::Unreachable,
            Error::Link(_) => Exit::System,
            Error::Flow(_, f) if f.is_unreachable() => Exit::Unreachable,
            Error::Flow(..) => Exit::Invalid,
            Error::Decode(DecodeError::Sink) => Exit::Output,
            Error::Decode(_) => Exit::Invalid,
            Error::Handoff(Trouble::Output) => Exit::Output,
            Error::Handoff(Trouble::NotIgnition) => Exit::NotIgnition,
        }
    }

    fn phase(&self) -> &'static str {
        match self {
            Error::Usage(_) | Error::Cmdline(_) => "args",
            Error::Link(_) => "link",
            Error::Address(_) => "address",
            Error::Flow(stage, _) => stage.name(),
            Error::Decode(DecodeError::Sink) => "write",
            Error::Decode(_) => "decode",
            Error::Handoff(Trouble::Output) => "write",
            Error::Handoff(Trouble::NotIgnition) => "ignition",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Cmdline(e) => write!(f, "cannot read the kernel command line: {}", ErrnoName(*e)),
            Error::Link(LinkError::NotFound) => f.write_str("no such Ethernet interface"),
            Error::Link(LinkError::NotEthernet) => f.write_str("interface is not Ethernet (or has a multicast MAC)"),
            Error::Link(LinkError::NoCarrier) => f.write_str("no carrier within the budget"),
            Error::Link(LinkError::Os(e)) => write!(f, "{} (flint needs root or CAP_NET_RAW and CAP_NET_ADMIN)", ErrnoName(*e)),
            Error::Address(AddressError::Timeout) => f.write_str("no address within the budget"),
            Error::Address(AddressError::Conflicts) => f.write_str("every link-local address tried is in use"),
            Error::Flow(_, e) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
            Error::Handoff(_) => Ok(()),
        }
    }
}

/// How a successful run ended.
enum Done {
    Written,
    NoUserData,
}

/// What must be undone however the run ends.
struct Session {
    restore: Restore,
    socket: Option<OwnedFd>,
    net: Option<Net>,
}

impl Session {
    fn fd(&self) -> Option<&OwnedFd> {
        self.net.as_ref().map(|n| n.dev.fd()).or(self.socket.as_ref())
    }

    /// Puts every interface flint raised back down.
    fn restore_links(&mut self) {
        let Session { restore, socket, net } = self;
        if let Some(fd) = net.as_ref().map(|n| n.dev.fd()).or(socket.as_ref()) {
            restore.restore(fd);
        }
    }
}

pub fn main(mut argv: sys::Args) -> i32 {
    let t0 = clock::now();
    logger::init();
    let _program = argv.next();
    let cli = match args::parse_argv(argv) {
        Ok(raw) => raw,
        Err(e) => return usage(Error::Usage(e)),
    };
    let sys::Buffers { run: run_buffers, sockets, cmdline, report: report_buffer, status } = sys::buffers();
    if cli.help {
        // Rendered from the option table into a buffer this run has no other use for, so it
        // leaves in one write.
        let mut out = flint::json::Writer::new(status);
        let _ = fmt::write(&mut out, format_args!("{}", args::Help));
        sys::write_stdout(out.into_slice());
        return 0;
    }
    if cli.version {
        sys::write_stdout(concat!("flint ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
        return 0;
    }
    let kernel = match read_cmdline(cli.cmdline, cmdline) {
        Ok(text) => args::parse_cmdline(text),
        Err(e) => return usage(e),
    };
    let cfg = match args::resolve(&cli, &kernel) {
        Ok(cfg) => cfg,
        Err(e) => return usage(Error::Usage(e)),
    };
    logger::set_verbose(cfg.verbose);

    let mut report = Report::new(cfg.platform.id);
    let mut session = Session { restore: Restore::new(), socket: None, net: None };
    let result = run(&cfg, run_buffers, sockets, &mut session, &mut report, t0);
    let code = match result {
        Ok(Done::Written) => Exit::Written,
        Ok(Done::NoUserData) => {
            flint::info!("user-data", "this instance has no user-data; nothing written");
            Exit::NoUserData
        }
        Err(e) => {
            if !matches!(e, Error::Handoff(_)) {
                flint::error!(e.phase(), "{e}");
            }
            report.failed_phase = Some(e.phase());
            e.exit()
        }
    };
    if let Some(dropped @ 1..) = session.net.as_ref().map(|n| n.dev.truncated) {
        flint::warn!("link", "{dropped} frames larger than 64 KiB dropped");
    }
    session.restore_links();
    report.exit_code = code as i32;
    report.timings_us.total = Some((clock::now() - t0).total_micros());
    report.vmhwm_kib = read_file(b"/proc/self/status\0", status).ok().and_then(report::vmhwm_kib);
    if let Some(path) = cfg.report {
        match report.render(report_buffer) {
            Some(json) => {
                let written = handoff::Path::new(&[cfg.root, path]).and_then(|p| output::write_file(p.bytes(), json, 0o644, handoff::own_dir(path)));
                if let Err(e) = written {
                    flint::warn!("write", "report {}: {}", Bytes(path), ErrnoName(e));
                }
            }
            None => flint::warn!("write", "report too large for its buffer"),
        }
    }
    if let Some(fd) = session.fd() {
        sys::close_in_background(fd);
    }
    code as i32
}

fn usage(e: Error) -> i32 {
    flint::error!(e.phase(), "{e}");
    e.exit() as i32
}

fn run(cfg: &Config<'_>, bufs: &'static mut sys::RunBuffers, sockets: &'static mut net::Sockets, s: &mut Session, report: &mut Report, t0: Instant) -> Result<Done, Error> {
    let deadline = t0 + Duration::from_millis(cfg.timeout_ms);
    let sys::RunBuffers { net: net_storage, frames, body, decoded, window, meta_body, render } = bufs;

    // Link: raise every candidate NIC; take the first with carrier.
    let t = clock::now();
    let fd = packet::open().map_err(|e| Error::Link(LinkError::Os(e)))?;
    let fd = s.socket.insert(fd);
    let candidates = link::raise(fd, cfg.interface, &mut s.restore).map_err(Error::Link)?;
    let (mut slot, mut nic) = link::first(fd, &candidates, deadline).map_err(Error::Link)?;
    let fd = s.socket.take().expect("socket opened above");
    let dev = PacketDevice::bind(fd, nic.link.index, nic.mtu, frames).map_err(|e| Error::Link(LinkError::Os(e)))?;
    report.timings_us.link = Some((clock::now() - t).total_micros());
    let seed = random_seed(nic.mac, t);
    let net = s.net.insert(Net::new(dev, nic.mac, net_storage, sockets, seed));

    let p = cfg.platform;
    report.server = report::text(format_args!("{}", Ip(p.address)));
    let [a, b, c, d] = p.address;
    let endpoint = IpEndpoint::new(IpAddress::v4(a, b, c, d), p.port);
    let mut flow = Flow::new(p, seed.rotate_left(17));
    if cfg.wants_metadata() {
        flow.fetch_metadata();
    }
    let mut data_parser = ResponseParser::new(&mut body[..]);
    let mut meta_parser = ResponseParser::new(&mut meta_body[..]);
    let mut request = [0u8; REQUEST_MAX];
    let mut spent = [0u64; 3];

    // One pass per NIC: address, then the platform's flow. Until the metadata service has
    // answered on a NIC, a failure there moves flint to the next NIC with carrier (round-robin;
    // each full round doubles how long a NIC is given, up to ATTEMPT_MAX).
    let several = candidates.len() > 1;
    let mut round = 0u32;
    let outcome = 'nics: loop {
        report.interface = report::text(format_args!("{}", Bytes(nic.link.name())));
        report.mac = report::text(format_args!("{}", Mac(nic.mac)));

        // Address.
        let t = clock::now();
        let dhcp_until = t + Duration::from_millis(cfg.dhcp_timeout_ms);
        let addr_deadline = if several { deadline.min(dhcp_until + ADDRESS_SPARE) } else { deadline };
        let lease = match net.acquire(cfg.address, nic.mac, dhcp_until, addr_deadline) {
            Ok(lease) => lease,
            Err(e) if clock::now() >= deadline => return Err(Error::Address(e)),
            Err(_) => {
                // No address here within its share: the next NIC with carrier, or this one again.
                if let Some(next) = fall_back(net, &candidates, slot, &mut round, seed)? {
                    (slot, nic) = next;
                }
                continue 'nics;
            }
        };
        report.mode = lease.mode.name();
        report.address = report::text(format_args!("{}/{}", Ip(lease.address.address().octets()), lease.address.prefix_len()));
        report.router = lease.router.and_then(|r| report::text(format_args!("{}", Ip(r.octets()))));
        report.timings_us.address = Some((clock::now() - t).total_micros());

        // Token and user-data.
        let mut answered = false;
        break loop {
            let stage = flow.stage();
            let t = clock::now();
            let n = flow.request(&mut request).map_err(|e| Error::Flow(stage, Failure::Http(e)))?;
            // Metadata gets its own buffer: the user-data stays where it was received.
            let parser = if stage == Stage::Metadata { &mut meta_parser } else { &mut data_parser };
            parser.reset();
            let limit = if answered || !several { ATTEMPT_MAX } else { (CONTACT_MAX * (1 << round.min(3))).min(ATTEMPT_MAX) };
            let result = match net.connect(endpoint, deadline.min(t + limit)) {
                Ok(mut stream) => {
                    let r = http::exchange(&mut stream, &request[..n], parser);
                    if r.is_ok() {
                        stream.close();
                    }
                    r
                }
                Err(transport) => Err(ExchangeError::Io(TcpError(transport))),
            };
            let now = clock::now();
            spent[stage as usize] += (now - t).total_micros();
            report.requests = flow.requests();
            let step = match result {
                Ok(head) => {
                    answered = true;
                    flint::debug!(stage.name(), "HTTP {} ({} body bytes)", head.status, parser.body().len());
                    flow.on_response(now, deadline, head, parser.body())
                }
                Err(ExchangeError::Io(TcpError(t))) => {
                    // The flow decides first (budget, request cap, backoff). If it would retry
                    // and nothing on this NIC ever answered — no SYN-ACK, no RST, no route — the
                    // next NIC is asked at once; after a whole round of silence, the backoff is
                    // waited out first. A refusal or reset means the service's host is here.
                    let step = flow.on_transport(now, deadline, t);
                    answered |= matches!(t, Transport::Refused | Transport::Reset | Transport::Truncated);
                    if let (Ok(Step::RetryAt(at)), true, false) = (step, several, answered) {
                        flint::info!("link", "no metadata service via {} ({t})", Bytes(nic.link.name()));
                        if let Some(next) = fall_back(net, &candidates, slot, &mut round, seed)? {
                            if next.0 < slot {
                                net.sleep_until(at);
                            }
                            (slot, nic) = next;
                            continue 'nics;
                        }
                    }
                    step
                }
                Err(ExchangeError::Http(e)) => {
                    answered = true;
                    flow.on_http_error(now, deadline, e)
                }
            };
            match step.map_err(|f| Error::Flow(stage, f))? {
                Step::Request => {}
                Step::RetryAt(at) => net.sleep_until(at),
                Step::UserData => break Done::Written,
                Step::NoUserData => break Done::NoUserData,
            }
        };
    };
    let fetched = data_parser.body().len();
    drop(data_parser);
    report.timings_us.token = p.token.as_ref().map(|_| spent[Stage::Token as usize]);
    report.timings_us.user_data = Some(spent[Stage::UserData as usize]);
    if flow.meta.is_empty() && cfg.wants_metadata() {
        flint::warn!("metadata", "the platform gave no metadata");
    }

    // Every output, then the exit code: a hand-off problem outranks "no user-data" but not a
    // failed decode (nothing was written then, and that is the first thing to fix).
    // From here on a stop request waits until every file is settled (see `hold_termination`).
    sys::hold_termination();
    let mut handoff = Handoff::new(cfg);
    let seed = flow.meta.get(Role::InstanceId).is_some();
    let result = match outcome {
        Done::NoUserData => Ok(Done::NoUserData),
        Done::Written => write_user_data(cfg, &mut handoff, seed, &mut body[..fetched], decoded, window, report, t0),
    };
    if let Ok(Done::NoUserData) = result {
        handoff.seed_without_user_data(seed);
    }
    handoff.write_metadata(&flow.meta, render);
    match (result, handoff.trouble()) {
        (Ok(_), Some(t)) => Err(Error::Handoff(t)),
        (r, _) => r,
    }
}

/// Decodes the user-data straight into every file that takes it.
#[allow(clippy::too_many_arguments)]
fn write_user_data(cfg: &Config<'_>, handoff: &mut Handoff<'_>, seed: bool, body: &mut [u8], decoded: &mut [u8], window: &mut [u8; decode::WINDOW], report: &mut Report, t0: Instant) -> Result<Done, Error> {
    report.bytes.fetched = Some(body.len() as u64);
    let t = clock::now();
    let payload: &[u8] = match cfg.platform.encoding {
        Encoding::Raw => body,
        Encoding::Base64 => {
            let n = decode::unbase64(body, decoded).map_err(Error::Decode)?;
            &decoded[..n]
        }
    };
    if payload.is_empty() {
        return Ok(Done::NoUserData);
    }
    let mut tee = handoff.open(seed);
    if tee.is_empty() {
        return Err(Error::Handoff(Trouble::Output));
    }
    let result = match decode::decode(payload, window, cfg.max_size, &mut tee) {
        Ok(r) => r,
        // Every file failed, and each said why already.
        Err(DecodeError::Sink) => return Err(Error::Handoff(Trouble::Output)),
        Err(e) => {
            // Dropping the files removes their temporaries (`Output`'s Drop).
            drop(tee);
            return Err(Error::Decode(e));
        }
    };
    report.gzip = Some(result.gzip);
    report.timings_us.decode = Some((clock::now() - t).total_micros());
    if result.written == 0 {
        drop(tee);
        return Ok(Done::NoUserData);
    }

    // Write: make it durable and visible.
    let t = clock::now();
    let written = tee.written();
    handoff.commit(tee);
    report.timings_us.write = Some((clock::now() - t).total_micros());
    if written == result.written {
        report.bytes.written = Some(written);
        flint::info!("write", "{} bytes{} to {} in {} us", written, if result.gzip { " (gunzipped)" } else { "" },
            Bytes(cfg.output), (clock::now() - t0).total_micros());
    }
    Ok(Done::Written)
}

/// Reads the kernel command line: `--cmdline PATH` (an error if unreadable) or /proc/cmdline
/// (absent /proc simply means no kernel arguments).
fn read_cmdline<'b>(path: Option<&[u8]>, buf: &'b mut [u8; 4096]) -> Result<&'b [u8], Error> {
    match path {
        Some(p) => {
            let mut c = [0u8; 4097];
            let n = p.len().min(4096);
            c[..n].copy_from_slice(&p[..n]);
            read_file(&c[..=n], buf).map_err(Error::Cmdline)
        }
        None => Ok(read_file(b"/proc/cmdline\0", buf).unwrap_or(&[])),
    }
}

/// Reads up to `buf.len()` bytes of a file named by a NUL-terminated path.
fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let path = core::ffi::CStr::from_bytes_until_nul(path).map_err(|_| Errno::INVAL)?;
    let fd = rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())?;
    let mut len = 0;
    // Bounded: each read makes progress or ends the loop.
    while len < buf.len() {
        match rustix::io::read(&fd, &mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(Errno::INTR) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(&buf[..len])
}

/// A per-boot random seed for TCP sequence numbers, ports and jitter. `GRND_INSECURE` never
/// blocks on an uninitialised entropy pool in early boot; kernels older than 5.6 refuse it,
/// and then the clock and MAC still make every boot and NIC differ.
fn random_seed(mac: [u8; 6], now: Instant) -> u64 {
    let mut b = [0u8; 8];
    let ok = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::INSECURE).is_ok()
        || rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::NONBLOCK).is_ok();
    let mut seed = u64::from_ne_bytes(b);
    if !ok {
        seed = now.total_micros() as u64;
    }
    mac.iter().fold(seed, |s, &m| s.rotate_left(8) ^ m as u64)
}

/// Byte strings (interface names, paths) in logs: printable ASCII as is, the rest as `?`.
pub struct Bytes<'a>(pub &'a [u8]);

impl fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for &b in self.0 {
            let c = if (0x20..0x7f).contains(&b) { b as char } else { '?' };
            fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

struct Mac([u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// errno values flint can meet, by name; others by number.
struct ErrnoName(Errno);

impl fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            Errno::PERM => "operation not permitted",
            Errno::ACCESS => "permission denied",
            Errno::NOENT => "no such file or directory",
            Errno::NOTDIR => "not a directory",
            Errno::ISDIR => "is a directory",
            Errno::ROFS => "read-only file system",
            Errno::NOSPC => "no space left on device",
                        Errno::NAMETOOLONG => "path too long",
            Errno::NODEV => "no such device",
            Errno::IO => "I/O error",
            Errno::LOOP => "too many symbolic links",
            _ => return write!(f, "errno {}", self.0.raw_os_error()),
        };
        f.write_str(name)
    }
}
