//! flint: fetch cloud user-data before the system's network exists.
//!
//! This file is wiring: it reads the configuration, reserves the memory, runs the library's
//! [`Engine`] over the two seams the `sys` module implements (the AF_PACKET NIC and the block
//! devices) until a source answers, writes every hand-off, puts the NIC back and exits with a
//! code from [`Error::exit`] — the one place exit codes are decided.
#![no_std]
#![no_main]
#![deny(unsafe_code)]

mod logger;
mod sys;

use core::fmt;

use flint::args::{self, Config, UsageError};
use flint::decode::{self, DecodeError, Encoding};
use flint::engine::drive::DriveFailure;
use flint::engine::network::NetError;
use flint::engine::{self, Answer, DriveBuffers, Engine, Failed, Poll, ServiceBuffers, Settings, Winner};
use flint::fmt::{Addr, Bytes, ErrnoName, Mac};
use flint::handoff::{self, Handoff, Trouble};
use flint::net::LinkError;
use flint::net::linklocal::Ip;
use flint::net::stack::{self, Storage};
use flint::platform::dmi::{Key, Smbios};
use flint::platform::{Address, Role};
use flint::report::{self, Report};
use flint::sources::authorities::{Authorities, CaError, CaStep};
use flint::sources::drive::DriveError;
use flint::sources::drive::blocks::BlockDevices;
use flint::sources::pointer::{self, PointerError, Resolver, Step};
use flint::sources::seed::{Scheme, Url};
use flint::sources::service::{Failure, Stage};
use rustix::io::Errno;
use smoltcp::time::{Duration, Instant};
use smoltcp::wire::IpAddress;

use crate::sys::Reserved;
use crate::sys::nic::PacketNic;
use crate::sys::packet::Frames;

crate::entry!(main);

/// Largest user-data accepted (raw, before decoding): a response body or a drive's file.
/// Platforms cap user-data at 16–64 KiB; the decoded size has its own cap, `--max-size`.
pub const BODY_MAX: usize = 1 << 20;
/// Largest metadata document accepted (a response body or a drive's file).
pub const META_BODY_MAX: usize = 16 << 10;
/// Room for the drive files handed to cloud-init verbatim (OpenStack's three JSON files).
pub const SEED_MAX: usize = 64 << 10;
/// Room for a rendered metadata output: every kept value (`meta::ARENA`) plus names and quoting.
pub const RENDER_MAX: usize = 24 << 10;
/// Room for the trust anchors: a PEM bundle read whole (the system bundles are ~220 KB), then
/// decoded in place to DER.
pub const CA_MAX: usize = 1 << 20;
/// Room for an Ignition config's own `certificateAuthorities`: their PEM text, then DER.
pub const CONFIG_CA_MAX: usize = 256 << 10;
/// Pointer resolution: the decoded user-data, one fetched pointer, and the resolver's work
/// area (the resolved document with inlined sources, and its nested children).
pub const PLAIN_MAX: usize = 16 << 20;
pub const FETCH_MAX: usize = 16 << 20;
pub const WORK_MAX: usize = 48 << 20;
/// Copies of the URLs fetched (each lives as long as the run; the count is bounded).
pub const URLS_MAX: usize = 64 << 10;
/// The engine's loop may run this long past the budget before it is cut (it ends at the
/// budget by itself: every wait in it is bounded by the deadline).
const OVERRUN: Duration = Duration::from_secs(2);

// ---------------------------------------------------------------------------------------------
// All memory, reserved at link time (zero-initialised, so in `.bss` until touched; the README's
// memory table lists each).

struct ServiceMemory {
    body: [u8; BODY_MAX],
    meta: [u8; META_BODY_MAX],
}

struct DriveMemory {
    user_data: [u8; BODY_MAX],
    file: [u8; META_BODY_MAX],
    seed: [u8; SEED_MAX],
}

struct DecodeMemory {
    /// The body after base64 decoding (platforms that encode).
    decoded: [u8; BODY_MAX],
    window: [u8; decode::WINDOW],
    /// Where attributes, `meta-data` and the Ignition fragment are rendered, one at a time.
    render: [u8; RENDER_MAX],
}

struct TextMemory {
    cmdline: [u8; 4096],
    report: [u8; 4096],
    status: [u8; 4096],
    /// The SMBIOS strings (`platform::dmi::Key`): `--platform auto`, the check of an explicit
    /// platform, and the system serial number (a NoCloud seed selector).
    dmi: [[u8; 256]; 6],
}

struct PointerMemory {
    plain: [u8; PLAIN_MAX],
    body: [u8; FETCH_MAX],
    meta: [u8; 256],
    work: [u8; WORK_MAX],
    urls: [u8; URLS_MAX],
}

static NET: Reserved<Storage> = Reserved::new(Storage::new());
static CLIENT: Reserved<flint::tls::Client> = Reserved::new(flint::tls::Client::new());
static BUNDLE: Reserved<[u8; CA_MAX]> = Reserved::new([0; CA_MAX]);
static CONFIG_CAS: Reserved<[u8; CONFIG_CA_MAX]> = Reserved::new([0; CONFIG_CA_MAX]);
static POINTER: Reserved<PointerMemory> = Reserved::new(PointerMemory {
    plain: [0; PLAIN_MAX],
    body: [0; FETCH_MAX],
    meta: [0; 256],
    work: [0; WORK_MAX],
    urls: [0; URLS_MAX],
});
static SOCKETS: Reserved<stack::Sockets> = Reserved::new(stack::SOCKETS_EMPTY);
static FRAMES: Reserved<Frames> = Reserved::new(Frames::new());
static SERVICE: Reserved<ServiceMemory> =
    Reserved::new(ServiceMemory { body: [0; BODY_MAX], meta: [0; META_BODY_MAX] });
/// One per drive source: KubeVirt races a `cidata` and a `config-2` drive.
static DRIVES: Reserved<[DriveMemory; engine::DRIVES_MAX]> = Reserved::new(
    [const { DriveMemory { user_data: [0; BODY_MAX], file: [0; META_BODY_MAX], seed: [0; SEED_MAX] } };
        engine::DRIVES_MAX],
);
static DECODE: Reserved<DecodeMemory> =
    Reserved::new(DecodeMemory { decoded: [0; BODY_MAX], window: [0; decode::WINDOW], render: [0; RENDER_MAX] });
static TEXT: Reserved<TextMemory> =
    Reserved::new(TextMemory { cmdline: [0; 4096], report: [0; 4096], status: [0; 4096], dmi: [[0; 256]; 6] });

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

/// Every way a run can fail, with what it was doing.
#[derive(Clone, Copy, Debug)]
enum Error {
    Usage(UsageError),
    Cmdline(Errno),
    Run(Failed),
    Decode(DecodeError),
    /// A hand-off file failed or was refused; already logged where it happened.
    Handoff(Trouble),
    /// https could not be set up: no usable trust anchors, or no key material in the budget.
    Trust(TrustError),
    /// A pointer in the user-data could not be followed.
    Pointer(Follow),
}

/// Why a pointer (cloud-init `#include`, an Ignition source) was not followed.
#[derive(Clone, Copy, Debug)]
enum Follow {
    Resolve(PointerError),
    /// An Ignition config's own `certificateAuthorities` could not be read.
    Authorities(CaError),
    /// Its URL is not one flint fetches (or there is no room left to keep it).
    Url,
    /// A redirect from https to http.
    Downgrade,
    /// The fetch failed: no answer, an HTTP error status, a TLS failure.
    Fetch(Failed),
}

impl fmt::Display for Follow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Follow::Resolve(e) => e.fmt(f),
            Follow::Authorities(e) => e.fmt(f),
            Follow::Url => f.write_str("a pointer's URL (or a redirect's Location) is not http(s), or too long"),
            Follow::Downgrade => f.write_str("a redirect from https to http is not followed"),
            // The URL itself is not said: a signed URL's query is a credential.
            Follow::Fetch(e) => write!(f, "fetching a pointer: {}", Error::Run(*e)),
        }
    }
}

/// Why https could not be set up.
#[derive(Clone, Copy, Debug)]
enum TrustError {
    /// No `--ca-bundle` and none of the system bundles exists.
    NoBundle,
    Unreadable(Errno),
    TooLarge,
    /// The bundle holds no certificate flint can read.
    Empty,
    /// The kernel's random pool did not become ready within the budget.
    NoEntropy,
}

impl fmt::Display for TrustError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TrustError::NoBundle => f.write_str("no CA bundle: give --ca-bundle (none of the system bundles exists)"),
            TrustError::Unreadable(e) => write!(f, "CA bundle unreadable: {}", ErrnoName(*e)),
            TrustError::TooLarge => write!(f, "CA bundle larger than {} KiB", CA_MAX >> 10),
            TrustError::Empty => f.write_str("CA bundle holds no PEM certificate"),
            TrustError::NoEntropy => f.write_str("the kernel's random pool was not ready within the budget"),
        }
    }
}

impl Error {
    fn exit(&self) -> Exit {
        match self {
            Error::Usage(_) | Error::Cmdline(_) => Exit::Usage,
            Error::Run(Failed::Net(NetError::Link(LinkError::NoCarrier) | NetError::Address(_))) => Exit::Unreachable,
            Error::Run(Failed::Net(NetError::Link(_))) => Exit::System,
            Error::Run(Failed::Flow(_, f)) if f.is_unreachable() => Exit::Unreachable,
            Error::Run(Failed::Flow(..)) => Exit::Invalid,
            Error::Run(Failed::Drive(DriveFailure::NotFound | DriveFailure::NoFwCfg)) => Exit::Unreachable,
            Error::Run(Failed::Drive(DriveFailure::Unreadable(DriveError::Io))) => Exit::System,
            Error::Run(Failed::Drive(DriveFailure::Unreadable(_))) => Exit::Invalid,
            Error::Decode(DecodeError::Sink) => Exit::Output,
            Error::Decode(_) => Exit::Invalid,
            Error::Handoff(Trouble::Output) => Exit::Output,
            Error::Handoff(Trouble::NotIgnition) => Exit::NotIgnition,
            Error::Trust(TrustError::NoEntropy) => Exit::System,
            Error::Trust(_) => Exit::Usage,
            Error::Pointer(Follow::Fetch(e)) => Error::Run(*e).exit(),
            Error::Pointer(_) => Exit::Invalid,
        }
    }

    fn phase(&self) -> &'static str {
        match self {
            Error::Usage(_) | Error::Cmdline(_) => "args",
            Error::Run(Failed::Net(NetError::Link(_))) => "link",
            Error::Run(Failed::Net(NetError::Address(_))) => "address",
            Error::Run(Failed::Flow(_, Failure::Dns(_))) => "dns",
            Error::Run(Failed::Flow(_, Failure::Tls(_) | Failure::NoTrust)) | Error::Trust(_) => "tls",
            Error::Run(Failed::Flow(stage, _)) => stage.name(),
            Error::Run(Failed::Drive(_)) => "drive",
            Error::Decode(DecodeError::Sink) => "write",
            Error::Decode(_) => "decode",
            Error::Handoff(Trouble::Output) => "write",
            Error::Handoff(Trouble::NotIgnition) => "ignition",
            Error::Pointer(_) => "pointer",
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        use flint::net::stack::AddressError;
        match self {
            Error::Usage(e) => e.fmt(f),
            Error::Cmdline(e) => write!(f, "cannot read the kernel command line: {}", ErrnoName(*e)),
            Error::Run(Failed::Net(NetError::Link(LinkError::NotFound))) => f.write_str("no such Ethernet interface"),
            Error::Run(Failed::Net(NetError::Link(LinkError::NotEthernet))) => {
                f.write_str("interface is not Ethernet (or has a multicast MAC)")
            }
            Error::Run(Failed::Net(NetError::Link(LinkError::NoCarrier))) => {
                f.write_str("no carrier within the budget")
            }
            Error::Run(Failed::Net(NetError::Link(LinkError::Os(e)))) => {
                write!(f, "{} (flint needs root or CAP_NET_RAW and CAP_NET_ADMIN)", ErrnoName(*e))
            }
            Error::Run(Failed::Net(NetError::Address(AddressError::Timeout))) => {
                f.write_str("no address within the budget")
            }
            Error::Run(Failed::Net(NetError::Address(AddressError::Conflicts))) => {
                f.write_str("every link-local address tried is in use")
            }
            Error::Run(Failed::Flow(_, e)) => e.fmt(f),
            Error::Run(Failed::Drive(e)) => e.fmt(f),
            Error::Decode(e) => e.fmt(f),
            Error::Handoff(_) => Ok(()),
            Error::Trust(e) => e.fmt(f),
            Error::Pointer(e) => e.fmt(f),
        }
    }
}

/// How a successful run ended.
enum Done {
    Written,
    NoUserData,
}

fn main(mut argv: sys::Args) -> i32 {
    let t0 = clock::now();
    logger::init();
    let _program = argv.next();
    let cli = match args::parse_argv(argv) {
        Ok(raw) => raw,
        Err(e) => return usage(Error::Usage(e)),
    };
    let TextMemory { cmdline, report: report_buffer, status, dmi } = TEXT.take();
    if cli.help {
        // Rendered from the option table into a buffer this run has no other use for, so it
        // leaves in one write.
        let mut out = flint::decode::json::Writer::new(status);
        let _ = fmt::write(&mut out, format_args!("{}", args::Help));
        sys::write_stdout(out.into_slice());
        return 0;
    }
    if cli.version {
        sys::write_stdout(concat!("flint ", env!("CARGO_PKG_VERSION"), "\n").as_bytes());
        return 0;
    }
    let kernel_text = match read_cmdline(cli.cmdline, cmdline) {
        Ok(text) => text,
        Err(e) => return usage(e),
    };
    let kernel = args::parse_cmdline(kernel_text);
    let smbios = read_smbios(dmi);
    let hint = smbios.platform();
    let cfg = match args::resolve(&cli, &kernel, hint) {
        Ok(cfg) => cfg,
        Err(e @ UsageError::UnknownMachine) => {
            // What flint saw, so the machine can be told apart (or given a platform).
            flint::error!("args", "{e}: {smbios}");
            return Exit::Usage as i32;
        }
        Err(e) => return usage(Error::Usage(e)),
    };
    logger::set_verbose(cfg.verbose);
    // What decided, for auto; for a platform given, another cloud's strings are only said: the
    // image asked for that platform.
    if let Some(h) = hint {
        let (key, value) = (h.key.name(), Bytes(smbios.get(h.key)));
        if cfg.auto {
            flint::info!("args", "--platform auto: DMI {key} \"{value}\" names {}", h.platform);
        } else if h.platform != cfg.platform.id && cfg.url.is_none() {
            let given = cfg.platform.id;
            flint::warn!("args", "--platform {given}: DMI {key} \"{value}\" names {}; going on as given", h.platform);
        }
    }

    let mut report = Report::new(cfg.platform.id);
    report.dmi = hint;
    let mut nic = PacketNic::new(cfg.interface, FRAMES.take());
    let result = run(&cfg, kernel_text, smbios.get(Key::ProductSerial), &mut nic, &mut report, t0);
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
    if let dropped @ 1.. = nic.truncated() {
        flint::warn!("link", "{dropped} frames larger than 64 KiB dropped");
    }
    nic.restore();
    report.exit_code = code as i32;
    report.timings_us.total = Some((clock::now() - t0).total_micros());
    report.vmhwm_kib = read_file(b"/proc/self/status\0", status).ok().and_then(report::vmhwm_kib);
    if let Some(path) = cfg.report {
        match report.render(report_buffer) {
            Some(json) => {
                let written = handoff::Path::new(&[cfg.root, path])
                    .and_then(|p| handoff::output::write_file(p.bytes(), json, 0o644, handoff::own_dir(path)));
                if let Err(e) = written {
                    flint::warn!("write", "report {}: {}", Bytes(path), ErrnoName(e));
                }
            }
            None => flint::warn!("write", "report too large for its buffer"),
        }
    }
    nic.close();
    code as i32
}

fn usage(e: Error) -> i32 {
    flint::error!(e.phase(), "{e}");
    e.exit() as i32
}

/// Runs the engine until a source answers (or none can), then writes every hand-off.
fn run(
    cfg: &Config<'static>,
    kernel: &'static [u8],
    serial: &'static [u8],
    nic: &mut PacketNic,
    report: &mut Report,
    t0: Instant,
) -> Result<Done, Error> {
    let deadline = t0 + Duration::from_millis(cfg.timeout_ms);
    let seed = random_seed(t0);
    let settings = Settings {
        address: cfg.address,
        family: cfg.family,
        dhcp_timeout: Duration::from_millis(cfg.dhcp_timeout_ms),
        deadline,
        metadata: cfg.wants_metadata(),
        seed,
    };
    // cloud-init NoCloud's network seed, for a platform that has one.
    let nocloud = if cfg.url.is_some() {
        cfg.url
    } else if cfg.platform.services().any(|s| s.at_seed()) {
        match flint::sources::seed::choose(serial, kernel, flint::sources::service::PATH_MAX) {
            Ok(url) => url,
            Err(e) => {
                flint::warn!("user-data", "{e}; not used");
                None
            }
        }
    } else {
        None
    };
    let service = SERVICE.take();
    let drives_memory = DRIVES.take();
    let mut engine = Engine::new(
        cfg.platform,
        settings,
        clock::now(),
        (NET.take(), SOCKETS.take()),
        [ServiceBuffers { body: &mut service.body, meta: &mut service.meta }],
        drives_memory.iter_mut().map(|d| DriveBuffers {
            user_data: &mut d.user_data,
            file: &mut d.file,
            seed: &mut d.seed,
        }),
        nocloud,
    );
    // dracut's `ip=` and `nameserver=` (the kernel itself ignores them: Debian's and Fedora's
    // kernels have no CONFIG_IP_PNP): an address given there is used instead of asking for one.
    // One flint cannot read is no reason to fail the boot: said, and left to DHCP.
    match flint::net::config::from_kernel_args(kernel) {
        Ok(Some(plan)) => engine.network.set_plan(plan, flint::engine::network::KERNEL, clock::now(), deadline),
        Ok(None) => {}
        Err(e) => flint::warn!("address", "{e}; not used"),
    }
    // An https source (`--url`, a NoCloud seed, a platform at an https URL) needs trust
    // anchors and key material before the first exchange.
    let fixed_https = cfg.platform.services().flat_map(|s| s.endpoints).any(|e| match e.address {
        Address::Url(u) => u.starts_with("https:"),
        _ => false,
    });
    if fixed_https || nocloud.is_some_and(|u| u.scheme == Scheme::Https) {
        engine.set_tls(secure(cfg, deadline)?);
    }
    let mut drives = BlockDevices::new(cfg.drive);
    drive(&mut engine, nic, &mut drives, deadline);
    fill_report(report, &engine, cfg);

    let DecodeMemory { decoded, window, render } = DECODE.take();
    let resolved = follow(cfg, &mut engine, nic, &mut drives, deadline, window)?;
    let answer = engine.outcome().map_err(Error::Run)?;
    if answer.meta.is_empty() && cfg.wants_metadata() && cfg.platform.has_metadata() {
        flint::warn!("metadata", "the platform gave no metadata");
    }
    // Every output, then the exit code: a hand-off problem outranks "no user-data" but not a
    // failed decode (nothing was written then, and that is the first thing to fix).
    // From here on a stop request waits until every file is settled (see `hold_termination`).
    sys::hold_termination();
    let mut handoff = Handoff::new(cfg);
    let seed = answer.meta.get(Role::InstanceId).is_some();
    let Answer { user_data, encoding, meta, seed: seed_files, seed_user_data } = answer;
    // A NoCloud drive is itself a seed: its `user-data` and `meta-data` go to cloud-init as
    // they are, in place of flint's own.
    let verbatim =
        |name: &str| seed_user_data == Some(name) || seed_files.is_some_and(|f| f.iter().any(|(n, _)| n == name));
    let (own_user_data, own_meta_data) = (verbatim("user-data"), verbatim("meta-data"));
    let mut raw_copy = None;
    let result = match user_data {
        None => Ok(Done::NoUserData),
        Some(body) => {
            let (body, encoding) = match resolved {
                Some(r) => (r, Encoding::Raw),
                None => (body, encoding),
            };
            let r =
                write_user_data(cfg, &mut handoff, seed && !own_user_data, body, encoding, decoded, window, report, t0);
            // Drives are not encoded: the body is still the bytes on the drive.
            raw_copy = seed_user_data.filter(|_| encoding == Encoding::Raw && r.is_ok()).map(|name| (name, &*body));
            r
        }
    };
    if let Some(files) = seed_files {
        handoff.write_seed_files(seed, raw_copy.into_iter().chain(files.iter()));
    }
    if let Ok(Done::NoUserData) = result
        && !own_user_data
    {
        handoff.seed_without_user_data(seed);
    }
    handoff.write_metadata(meta, own_meta_data, render);
    match (result, handoff.trouble()) {
        (Ok(_), Some(t)) => Err(Error::Handoff(t)),
        (r, _) => r,
    }
}

/// Runs the engine until it is done. Bounded: every wait ends by the deadline, and the engine
/// ends by itself there; the overrun cut is a second guard.
fn drive(engine: &mut Engine<'static>, nic: &mut PacketNic, drives: &mut BlockDevices<'_>, deadline: Instant) {
    loop {
        let now = clock::now();
        let wake = match engine.poll(now, nic, drives) {
            Poll::Done => break,
            Poll::Wait(_) if now >= deadline + OVERRUN => break,
            Poll::Wait(at) => at,
        };
        if wake > now {
            nic.wait(wake - now);
        }
    }
}

/// The system CA bundles, in the order looked for (Fedora/RHEL, Debian/Ubuntu, Alpine/BSD).
const SYSTEM_BUNDLES: [&[u8]; 3] =
    [b"/etc/pki/tls/certs/ca-bundle.crt\0", b"/etc/ssl/certs/ca-certificates.crt\0", b"/etc/ssl/cert.pem\0"];

/// What https needs: trust anchors (`--ca-bundle`, else the first system bundle present),
/// key material from the kernel's initialised random pool (waited for, within the budget),
/// and the time to check certificates at. Asked only by runs that meet an https URL.
// Out of line though called twice at most: it is the https runs' cost only.
#[inline(never)]
fn secure(cfg: &Config<'static>, deadline: Instant) -> Result<flint::tls::Secure<'static>, Error> {
    let bundle = BUNDLE.take();
    let mut len = None;
    match cfg.ca_bundle {
        Some(p) => len = Some(read_named(p, bundle).map_err(|e| Error::Trust(TrustError::Unreadable(e)))?.len()),
        None => {
            for p in SYSTEM_BUNDLES {
                if let Ok(text) = read_file(p, bundle) {
                    len = Some(text.len());
                    break;
                }
            }
        }
    }
    let len = len.ok_or(Error::Trust(TrustError::NoBundle))?;
    if len == CA_MAX {
        return Err(Error::Trust(TrustError::TooLarge));
    }
    let der = flint::tls::pki::pem_to_der(&mut bundle[..len]);
    let anchors = flint::tls::pki::Anchors::new(&bundle[..der]);
    if anchors.count() == 0 {
        return Err(Error::Trust(TrustError::Empty));
    }
    flint::debug!("tls", "{} trust anchors", anchors.count());
    // getrandom(2) without GRND_INSECURE: key material only from an initialised pool. When the
    // pool is not ready yet (a guest CPU without RDRAND and no virtio-rng), only a *blocking*
    // call makes the kernel seed it from CPU timing jitter (Linux 5.4+, about a second; a
    // non-blocking poll never does, measured under QEMU): so flint blocks then, once, and says
    // so. Short reads and EINTR are retried a bounded number of times.
    let mut seed = [0u8; 32];
    let mut flags = rustix::rand::GetRandomFlags::NONBLOCK;
    let mut filled = 0;
    for _ in 0..8 {
        match rustix::rand::getrandom(&mut seed[filled..], flags) {
            Ok(n) => filled += n,
            Err(Errno::AGAIN) if !flags.is_empty() => {
                flint::info!("tls", "waiting for the kernel's random pool");
                flags = rustix::rand::GetRandomFlags::empty();
            }
            Err(Errno::INTR) => {}
            Err(_) => break,
        }
        if filled == seed.len() {
            break;
        }
    }
    if filled < seed.len() || clock::now() >= deadline {
        return Err(Error::Trust(TrustError::NoEntropy));
    }
    let mut entropy = flint::tls::entropy::Entropy::new();
    entropy.seed(seed);
    // A clock before flint's own build is unset (no RTC, or a battery gone): certificates are
    // then checked at the build date instead of at 1970, when none would be valid yet.
    let now = sys::realtime_s().max(0) as u64;
    let now = if now < BUILD_EPOCH {
        flint::warn!(
            "tls",
            "the real-time clock is before flint's build date; certificates are checked at the build date"
        );
        BUILD_EPOCH
    } else {
        now
    };
    Ok(flint::tls::Secure { client: CLIENT.take(), trust: flint::tls::Trust::new(anchors, now), entropy })
}

/// When flint was built (Unix seconds; build.rs).
const BUILD_EPOCH: u64 = match u64::from_str_radix(env!("FLINT_BUILD_EPOCH"), 10) {
    Ok(t) => t,
    Err(_) => 0,
};

/// Follows the pointers of the user-data (cloud-init `#include`, Ignition's remote sources)
/// on the same network and budget. `None`: the user-data has none (or is not one flint reads
/// whole in memory: it is then written as it is); else the resolved document to hand off.
#[inline(never)]
fn follow(
    cfg: &Config<'static>,
    engine: &mut Engine<'static>,
    nic: &mut PacketNic,
    drives: &mut BlockDevices<'_>,
    deadline: Instant,
    window: &mut [u8; decode::WINDOW],
) -> Result<Option<&'static mut [u8]>, Error> {
    let mem = POINTER.take();
    let Ok(answer) = engine.outcome() else { return Ok(None) };
    let Some(body) = answer.user_data else { return Ok(None) };
    // The user-data as the next stage reads it (base64 and gzip undone), in memory; anything
    // that fails here fails again, and is reported, where it is written.
    let payload: &[u8] = match answer.encoding {
        Encoding::Raw => body,
        Encoding::Base64 => match decode::unbase64(body, &mut mem.body) {
            Ok(n) => &mem.body[..n],
            Err(_) => return Ok(None),
        },
        Encoding::OvfEnv => match decode::ovf_custom_data(body, &mut mem.body) {
            Ok(n) => &mem.body[..n],
            Err(_) => return Ok(None),
        },
    };
    // Only a `#include` list or a JSON document can hold pointers: the first bytes decide, so
    // every other user-data is decoded once, straight into its files, as before.
    let mut head = [0u8; 64];
    let mut peek = flint::decode::SliceSink::new(&mut head);
    let _ = decode::decode(payload, window, cfg.max_size, &mut peek);
    let seen = peek.len();
    let include = head.starts_with(b"#include");
    if !(include || head[..seen].trim_ascii_start().starts_with(b"{")) {
        return Ok(None);
    }
    // A Resource flint fetches has a string value starting `http` (`"source":"https://…"`); a
    // config without one (its files inline as `data:` URLs, the usual case) holds no pointer.
    // Looked for as the bytes stream past, keeping none: no copy, no walk. (A scheme spelled
    // with `\u` escapes is missed: that source stays remote, for Ignition to fetch.)
    let mut finder = Finder { at: 0, found: false };
    if !include && (decode::decode(payload, window, cfg.max_size, &mut finder).is_err() || !finder.found) {
        return Ok(None);
    }
    let mut sink = flint::decode::SliceSink::new(&mut mem.plain);
    if decode::decode(payload, window, cfg.max_size.min(PLAIN_MAX as u64), &mut sink).is_err() {
        return Ok(None);
    }
    let plain_len = sink.len();
    let limits = pointer::Limits {
        depth: 3,
        count: 32,
        fetch_max: FETCH_MAX,
        inline_max: cfg.inline_max.min(WORK_MAX as u64) as usize,
    };
    engine.set_pointer_buffers(ServiceBuffers { body: &mut mem.body, meta: &mut mem.meta });
    let mut run = PointerRun { urls: &mut mem.urls, extra: &[] };
    let mut fetches = 0u32;
    let plain = &mem.plain[..plain_len];
    // Ignition trusts a config's own CAs for every fetch of its pointers, wherever `security`
    // sits in the text: they are gathered first (fetched with the anchors known so far, as
    // Ignition's `getCABlob` does). The work area is free until the resolver takes it.
    if pointer::ignition_config(plain) {
        let mut cas = Authorities::new(CONFIG_CAS.take(), limits.count);
        let ca_error = |e| Error::Pointer(Follow::Authorities(e));
        // Bounded: every step moves on past one source, at most `limits.count` are fetched.
        while let CaStep::Fetch(url) = cas.step(plain, &mut mem.work, window).map_err(ca_error)? {
            get(cfg, engine, nic, drives, deadline, &mut run, url)?;
            fetches += 1;
            let body = engine.fetched().map_err(|e| Error::Pointer(Follow::Fetch(e)))?;
            cas.fetched(body, window).map_err(ca_error)?;
        }
        run.extra = cas.finish();
        let added = flint::tls::pki::Anchors::new(run.extra).count();
        if added > 0 {
            flint::info!("pointer", "the Ignition config adds {added} trust anchors");
        }
    }
    let mut resolver = Resolver::new(plain, &mut mem.work, limits).map_err(|e| Error::Pointer(Follow::Resolve(e)))?;
    // Bounded: the resolver asks at most `limits.count` fetches before it is done or fails.
    loop {
        let left = resolver.left_remote();
        match resolver.step().map_err(|e| Error::Pointer(Follow::Resolve(e)))? {
            Step::Done(out) => {
                if fetches == 0 {
                    return Ok(None);
                }
                flint::info!("pointer", "{fetches} pointers followed, {} bytes resolved", out.len());
                if left > 0 {
                    flint::warn!("pointer", "{left} sources left as they are (over --inline-max, or not http/https)");
                }
                // The resolved document outlives the resolver: into the plain buffer, which
                // is free now.
                let n = out.len();
                let copy = mem.plain.get_mut(..n).ok_or(Error::Pointer(Follow::Resolve(PointerError::TooLarge)))?;
                copy.copy_from_slice(out);
                return Ok(Some(copy));
            }
            Step::Fetch(first) => {
                get(cfg, engine, nic, drives, deadline, &mut run, first)?;
                fetches += 1;
                let body = engine.fetched().map_err(|e| Error::Pointer(Follow::Fetch(e)))?;
                resolver.fetched(body).map_err(|e| Error::Pointer(Follow::Resolve(e)))?;
            }
        }
    }
}

/// What the fetches of one pointer resolution share.
struct PointerRun {
    /// The run's URL memory ([`keep_url`]).
    urls: &'static mut [u8],
    /// The Ignition config's own trust anchors (DER), trusted beside the bundle's.
    extra: &'static [u8],
}

/// GETs the pointer `first` (a 2xx body is then [`Engine::fetched`]), following redirects, with
/// the bundle's trust anchors and the Ignition config's own.
#[inline(never)]
fn get(
    cfg: &Config<'static>,
    engine: &mut Engine<'static>,
    nic: &mut PacketNic,
    drives: &mut BlockDevices<'_>,
    deadline: Instant,
    run: &mut PointerRun,
    first: &[u8],
) -> Result<(), Error> {
    let mut url = keep_url(&mut run.urls, |out| {
        out.get_mut(..first.len()).map(|o| {
            o.copy_from_slice(first);
            &*o
        })
    })?;
    // Redirects are followed for pointers (an object store may send one), at most
    // REDIRECTS_MAX, and never from https to http.
    let mut redirects = 0;
    loop {
        if url.scheme == Scheme::Https && !engine.has_tls() {
            engine.set_tls(secure(cfg, deadline)?);
        }
        if let Some(trust) = engine.trust() {
            trust.extra(run.extra);
        }
        // The host only: a signed URL's query is a credential.
        flint::info!("pointer", "fetching from {}", Bytes(url.authority));
        engine.fetch(url);
        drive(engine, nic, drives, deadline);
        match engine.fetched() {
            Ok(_) => return Ok(()),
            Err(Failed::Flow(_, Failure::Status(301 | 302 | 303 | 307 | 308))) if redirects < REDIRECTS_MAX => {
                redirects += 1;
                let location = engine.location().ok_or(Error::Pointer(Follow::Url))?;
                let from = url;
                url = keep_url(&mut run.urls, |out| from.redirect(location, out))?;
                if from.scheme == Scheme::Https && url.scheme != Scheme::Https {
                    return Err(Error::Pointer(Follow::Downgrade));
                }
            }
            Err(e) => return Err(Error::Pointer(Follow::Fetch(e))),
        }
    }
}

/// Looks for `"http` in a byte stream, keeping nothing (a sink for `decode::decode`).
struct Finder {
    /// Bytes of the pattern matched so far.
    at: usize,
    found: bool,
}

impl embedded_io::ErrorType for Finder {
    type Error = core::convert::Infallible;
}

impl embedded_io::Write for Finder {
    fn write(&mut self, data: &[u8]) -> Result<usize, Self::Error> {
        const PATTERN: &[u8] = b"\"http";
        for &b in data {
            if self.found {
                break;
            }
            // The pattern has no border: on a mismatch, only a quote can restart it.
            self.at = if b == PATTERN[self.at] { self.at + 1 } else { usize::from(b == b'"') };
            self.found = self.at == PATTERN.len();
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Redirects followed for one pointer (curl's and Ignition's clients allow more; a pointer that
/// needs more than a few is broken).
const REDIRECTS_MAX: usize = 5;

/// A URL written by `write` into the run's URL memory (kept for the rest of the run: the
/// engine's request borrows it), parsed; refused when it does not fit, is not http(s), or its
/// request target is too long.
fn keep_url(
    urls: &mut &'static mut [u8],
    write: impl FnOnce(&mut [u8]) -> Option<&[u8]>,
) -> Result<Url<'static>, Error> {
    let n = write(urls).ok_or(Error::Pointer(Follow::Url))?.len();
    let (kept, rest) = core::mem::take(urls).split_at_mut(n);
    *urls = rest;
    Url::parse(kept)
        .ok()
        .filter(|u| u.scheme != Scheme::File && u.path.len() <= flint::sources::service::PATH_MAX)
        .ok_or(Error::Pointer(Follow::Url))
}

/// What the engine saw, into the report.
// Out of line: measured smaller so (inlined, it grew its caller more than it costs).
#[inline(never)]
fn fill_report(report: &mut Report, engine: &Engine<'_>, cfg: &Config<'_>) {
    let net = &engine.network.stats;
    if let Some(n) = net.nic {
        report.interface = report::text(format_args!("{}", Bytes(n.name())));
        report.mac = report::text(format_args!("{}", Mac(n.mac)));
    }
    if let Some(lease) = net.lease {
        report.mode = lease.mode.name();
        report.address =
            report::text(format_args!("{}/{}", Ip(lease.address.address().octets()), lease.address.prefix_len()));
        report.router = lease.router.and_then(|r| report::text(format_args!("{}", Ip(r.octets()))));
        report.static_from = net.static_from;
    }
    report.timings_us.link = net.link_us;
    report.timings_us.address = net.address_us;
    let (requests, spent, server) = engine.service_stats();
    // The service the platform names, whether or not it was reached.
    let named = cfg.platform.services().next().and_then(|s| match s.endpoints.first()?.address {
        Address::V4(a) => Some(IpAddress::v4(a[0], a[1], a[2], a[3])),
        Address::V6(a) => Some(IpAddress::Ipv6(a.into())),
        Address::DhcpServer | Address::Seed | Address::Url(_) => None,
    });
    report.server = server.map(|e| e.addr).or(named).and_then(|a| report::text(format_args!("{}", Addr(a))));
    report.endpoint = server.and_then(|e| match e.addr {
        IpAddress::Ipv4(_) => report::text(format_args!("{}:{}", Addr(e.addr), e.port)),
        IpAddress::Ipv6(_) => report::text(format_args!("[{}]:{}", Addr(e.addr), e.port)),
    });
    if let Some(stack) = engine.network.stack_ref() {
        for a in stack.addresses() {
            if let Some(t) = report::text(format_args!("{}/{}", Addr(a.address()), a.prefix_len())) {
                let _ = report.addresses.push(t);
            }
        }
        let dns = stack.dns();
        for s in &dns.servers {
            if let Some(t) = report::text(format_args!("{}", Addr(*s))) {
                let _ = report.dns_servers.push(t);
            }
        }
        report.search = dns.search.clone();
    }
    report.requests = requests;
    let service = cfg.platform.services().next();
    if service.is_some() && requests > 0 {
        report.timings_us.token = service.and_then(|s| s.token.as_ref()).map(|_| spent[Stage::Token as usize]);
        report.timings_us.user_data = Some(spent[Stage::UserData as usize]);
    }
    report.source = match engine.winner() {
        Some(Winner::Service(_)) => Some("service"),
        Some(Winner::Drive(_)) => Some("drive"),
        None => None,
    };
}

/// Decodes the user-data straight into every file that takes it.
#[allow(clippy::too_many_arguments)]
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn write_user_data(
    cfg: &Config<'_>,
    handoff: &mut Handoff<'_>,
    seed: bool,
    body: &mut [u8],
    encoding: Encoding,
    decoded: &mut [u8],
    window: &mut [u8; decode::WINDOW],
    report: &mut Report,
    t0: Instant,
) -> Result<Done, Error> {
    report.bytes.fetched = Some(body.len() as u64);
    let t = clock::now();
    let payload: &[u8] = match encoding {
        Encoding::Raw => body,
        Encoding::Base64 => {
            let n = decode::unbase64(body, decoded).map_err(Error::Decode)?;
            &decoded[..n]
        }
        Encoding::OvfEnv => {
            let n = decode::ovf_custom_data(body, decoded).map_err(Error::Decode)?;
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
        flint::info!(
            "write",
            "{} bytes{} to {} in {} us",
            written,
            if result.gzip { " (gunzipped)" } else { "" },
            Bytes(cfg.output),
            (clock::now() - t0).total_micros()
        );
    }
    Ok(Done::Written)
}

/// Reads the kernel command line: `--cmdline PATH` (an error if unreadable) or /proc/cmdline
/// (absent /proc simply means no kernel arguments).
fn read_cmdline<'b>(path: Option<&[u8]>, buf: &'b mut [u8; 4096]) -> Result<&'b [u8], Error> {
    match path {
        Some(p) => read_named(p, buf).map_err(Error::Cmdline),
        None => Ok(read_file(b"/proc/cmdline\0", buf).unwrap_or(&[])),
    }
}

/// [`read_file`] of a path given as an argument (not NUL-terminated; at most 4096 bytes).
fn read_named<'b>(p: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let mut c = [0u8; 4097];
    let n = p.len().min(4096);
    c[..n].copy_from_slice(&p[..n]);
    read_file(&c[..=n], buf)
}

/// The SMBIOS strings; a file missing or unreadable (`product_serial` and `product_uuid` are
/// root's only) is an empty string, as in cloud-init's `dmi.py`. Bounded by the buffers.
// Out of line though called once: one loop, not six inlined reads.
#[inline(never)]
fn read_smbios(bufs: &'static mut [[u8; 256]; 6]) -> Smbios<'static> {
    let mut s = Smbios::default();
    let mut path = [0; flint::platform::dmi::PATH_MAX];
    for (key, buf) in Key::ALL.into_iter().zip(bufs.iter_mut()) {
        s.set(key, read_file(key.path(&mut path), buf).unwrap_or(&[]));
    }
    s
}

/// Reads up to `buf.len()` bytes of a file named by a NUL-terminated path.
fn read_file<'b>(path: &[u8], buf: &'b mut [u8]) -> Result<&'b [u8], Errno> {
    let path = core::ffi::CStr::from_bytes_until_nul(path).map_err(|_| Errno::INVAL)?;
    let fd =
        rustix::fs::open(path, rustix::fs::OFlags::RDONLY | rustix::fs::OFlags::CLOEXEC, rustix::fs::Mode::empty())?;
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
/// and then the clock still makes every boot differ (the NIC's MAC is mixed in per NIC).
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn random_seed(now: Instant) -> u64 {
    let mut b = [0u8; 8];
    let ok = rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::INSECURE).is_ok()
        || rustix::rand::getrandom(&mut b, rustix::rand::GetRandomFlags::NONBLOCK).is_ok();
    if ok { u64::from_ne_bytes(b) } else { now.total_micros() as u64 }
}
