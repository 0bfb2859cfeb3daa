//! Command line and kernel command line, sans-IO.
//!
//! Every option has a `flint.*` kernel-argument twin so an image can be configured from the boot
//! loader alone; the platform also comes from Ignition's `ignition.platform.id=`. The command
//! line wins over the kernel's. Values are validated in [`resolve`], so a bad kernel argument is
//! reported the same way as a bad option.

use core::fmt::{self, Write as _};

use crate::decode::cmdline;
use crate::net::config::word;
use crate::platform::dmi::Hint;
use crate::platform::{self, Platform};
use crate::sources::seed::{Scheme, Url, UrlError};

pub const DEFAULT_OUTPUT: &[u8] = b"/run/flint/user-data";
pub const DEFAULT_SSH_USER: &[u8] = b"core";
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_DHCP_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_MAX_SIZE: u64 = 16 << 20;
const MAX_TIMEOUT_MS: u64 = 24 * 3600 * 1000;
const MAX_MAX_SIZE: u64 = 1 << 30;

pub use crate::net::{AddressMode, Family};

/// Raw option values, from either source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Raw<'a> {
    pub platform: Option<&'a [u8]>,
    /// `ignition.platform.id=`, used when `flint.platform=` is absent.
    pub ignition_platform: Option<&'a [u8]>,
    pub output: Option<&'a [u8]>,
    pub interface: Option<&'a [u8]>,
    pub address: Option<&'a [u8]>,
    pub timeout: Option<&'a [u8]>,
    pub dhcp_timeout: Option<&'a [u8]>,
    pub max_size: Option<&'a [u8]>,
    pub ca_bundle: Option<&'a [u8]>,
    pub inline_max: Option<&'a [u8]>,
    pub report: Option<&'a [u8]>,
    pub cmdline: Option<&'a [u8]>,
    pub root: Option<&'a [u8]>,
    pub ssh_user: Option<&'a [u8]>,
    pub cloud_init_seed: Option<&'a [u8]>,
    pub attributes: Option<&'a [u8]>,
    pub drive: Option<&'a [u8]>,
    pub family: Option<&'a [u8]>,
    pub url: Option<&'a [u8]>,
    /// `ignition.config.url=`, used when the platform is Ignition's `metal` and no `flint.url=`.
    pub ignition_url: Option<&'a [u8]>,
    pub ignition: bool,
    pub ignition_overwrite: bool,
    pub verbose: bool,
    pub help: bool,
    pub version: bool,
}

/// The settled configuration of one run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Config<'a> {
    pub platform: &'static Platform,
    pub output: &'a [u8],
    pub interface: Option<&'a [u8]>,
    pub address: AddressMode,
    pub timeout_ms: u64,
    pub dhcp_timeout_ms: u64,
    pub max_size: u64,
    /// Trust anchors for https (PEM); `None`: the first system bundle present.
    pub ca_bundle: Option<&'a [u8]>,
    /// Most bytes of pointer sources inlined into the hand-off (cloud-init `#include`, Ignition
    /// `merge`/`replace`/remote files).
    pub inline_max: u64,
    pub report: Option<&'a [u8]>,
    /// Prefix of every output path; empty for `/`.
    pub root: &'a [u8],
    pub ignition: bool,
    pub ignition_overwrite: bool,
    pub ssh_user: &'a [u8],
    pub cloud_init_seed: Option<&'a [u8]>,
    pub attributes: Option<&'a [u8]>,
    /// A config drive (block device or image file) to read instead of scanning
    /// `/sys/class/block`; an input, so not under `root`.
    pub drive: Option<&'a [u8]>,
    /// Which IP versions flint's stack uses.
    pub family: Family,
    /// `--url`: fetch user-data from this HTTP URL (the platform is then [`platform::url`]).
    pub url: Option<Url<'a>>,
    pub verbose: bool,
    /// `--platform auto`: the platform is the one the SMBIOS strings name.
    pub auto: bool,
}

impl Config<'_> {
    /// Some output needs the platform's metadata (hostname, keys, attributes).
    // Out of line: asked from several places, each inlined copy cost more than the call.
    #[inline(never)]
    pub fn wants_metadata(&self) -> bool {
        self.ignition || self.cloud_init_seed.is_some() || self.attributes.is_some()
    }
}

/// A usage error: which option and what is wrong with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UsageError {
    UnknownOption,
    MissingValue(&'static str),
    BadValue(&'static str),
    NoPlatform,
    UnknownPlatform,
    /// `--platform auto`, and the SMBIOS strings name no single platform.
    UnknownMachine,
    Url(UrlError),
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnknownOption => f.write_str("unknown option (see --help)"),
            UsageError::MissingValue(o) => write!(f, "{o} needs a value"),
            UsageError::BadValue(o) => write!(f, "invalid value for {o}"),
            UsageError::NoPlatform => {
                f.write_str("no platform: give --platform, flint.platform= or ignition.platform.id=")
            }
            UsageError::UnknownPlatform => {
                f.write_str("unsupported platform (supported: ")?;
                platform_ids(f, usize::MAX)?;
                f.write_str(")")
            }
            UsageError::UnknownMachine => f.write_str("--platform auto: DMI names no platform flint knows"),
            UsageError::Url(e) => write!(f, "--url: {e}"),
        }
    }
}

/// One option in both its forms, the command line's `--name` and the kernel's `flint.name`.
/// [`parse_argv`], [`parse_cmdline`] and [`Help`] all read this one table.
struct Opt {
    /// `--name`; `None` for a kernel argument only (`ignition.platform.id`).
    long: Option<&'static str>,
    /// The one-letter form, `-x`.
    short: Option<u8>,
    /// The kernel argument; `None` for a command-line option only.
    kernel: Option<&'static str>,
    kind: Kind,
    /// One line for `--help`, the default in parentheses.
    help: &'static str,
}

/// The `Raw` field a value option fills.
type ValueSlot = for<'r, 'a> fn(&'r mut Raw<'a>) -> &'r mut Option<&'a [u8]>;
/// The `Raw` field a switch turns on.
type SwitchSlot = for<'r, 'a> fn(&'r mut Raw<'a>) -> &'r mut bool;

/// Where an option's value goes.
enum Kind {
    /// `--name VALUE`, `--name=VALUE`, `flint.name=VALUE`; the metavar names VALUE in the help.
    Value(&'static str, ValueSlot),
    /// `--name`; `flint.name` or `flint.name=1` turns it on, `=0`, `=no`, `=false` off.
    Switch(SwitchSlot),
}

impl Opt {
    const fn value(
        long: &'static str,
        kernel: &'static str,
        metavar: &'static str,
        slot: ValueSlot,
        help: &'static str,
    ) -> Opt {
        Opt { long: name(long), short: None, kernel: name(kernel), kind: Kind::Value(metavar, slot), help }
    }

    const fn switch(long: &'static str, kernel: &'static str, slot: SwitchSlot, help: &'static str) -> Opt {
        Opt { long: name(long), short: None, kernel: name(kernel), kind: Kind::Switch(slot), help }
    }

    const fn short(self, letter: u8) -> Opt {
        Opt { short: Some(letter), ..self }
    }
}

/// `""` for "this form does not exist", so the table reads as a table.
const fn name(n: &'static str) -> Option<&'static str> {
    if n.is_empty() { None } else { Some(n) }
}

/// Every option. A kernel argument is the option's name under `flint.` (a test holds the table
/// to that); `ignition.platform.id` is Ignition's, read so that an Ignition image needs no
/// second platform argument.
#[rustfmt::skip]
const OPTIONS: &[Opt] = &[
    Opt::value( "--platform",           "flint.platform",           "ID",      |r| &mut r.platform,           "the cloud: one of the platforms below, or auto (DMI)"),
    Opt::value( "",                     "ignition.platform.id",     "ID",      |r| &mut r.ignition_platform,  "the platform when flint.platform= is absent"),
    Opt::value( "--url",                "flint.url",                "URL",     |r| &mut r.url,                "fetch user-data from this http(s):// URL (no --platform)"),
    Opt::value( "",                     "ignition.config.url",      "URL",     |r| &mut r.ignition_url,       "the URL when ignition.platform.id=metal"),
    Opt::value( "--output",             "flint.output",             "PATH",    |r| &mut r.output,             "decoded user-data, mode 0600 (/run/flint/user-data)"),
    Opt::value( "--interface",          "flint.interface",          "NAME",    |r| &mut r.interface,          "NIC (first Ethernet NIC with carrier)"),
    Opt::value( "--address",            "flint.address",            "MODE",    |r| &mut r.address,            "auto|dhcp|link-local (auto)"),
    Opt::value( "--family",             "flint.family",             "FAMILY",  |r| &mut r.family,             "any|ipv4|ipv6 (any: both, raced)"),
    Opt::value( "--timeout",            "flint.timeout",            "SECONDS", |r| &mut r.timeout,            "total budget (30)"),
    Opt::value( "--dhcp-timeout",       "flint.dhcp-timeout",       "SECONDS", |r| &mut r.dhcp_timeout,       "auto: DHCP wait before link-local (3)"),
    Opt::value( "--max-size",           "flint.max-size",           "BYTES",   |r| &mut r.max_size,           "decoded size cap, K/M/G (16M)"),
    Opt::value( "--ca-bundle",          "flint.ca-bundle",          "PATH",    |r| &mut r.ca_bundle,          "https trust anchors, PEM (the system bundle)"),
    Opt::value( "--inline-max",         "flint.inline-max",         "BYTES",   |r| &mut r.inline_max,         "pointer bytes inlined, K/M/G (16M)"),
    Opt::value( "--report",             "flint.report",             "PATH",    |r| &mut r.report,             "JSON report of phases and timings"),
    Opt::switch("--ignition",           "flint.ignition",                      |r| &mut r.ignition,           "user.ign and a hostname/SSH-key fragment for Ignition"),
    Opt::switch("--ignition-overwrite", "flint.ignition-overwrite",            |r| &mut r.ignition_overwrite, "replace a user.ign already present"),
    Opt::value( "--ssh-user",           "flint.ssh-user",           "NAME",    |r| &mut r.ssh_user,           "user the platform's SSH keys are for (core)"),
    Opt::value( "--cloud-init-seed",    "flint.cloud-init-seed",    "DIR",     |r| &mut r.cloud_init_seed,    "write a cloud-init NoCloud seed"),
    Opt::value( "--attributes",         "flint.attributes",         "PATH",    |r| &mut r.attributes,         "Afterburn-style KEY=value metadata"),
    Opt::value( "--root",               "flint.root",               "DIR",     |r| &mut r.root,               "write every output under DIR (/)"),
    Opt::value( "--drive",              "flint.drive",              "PATH",    |r| &mut r.drive,              "config drive (block device or image) instead of scanning"),
    Opt::value( "--cmdline",            "",                         "PATH",    |r| &mut r.cmdline,            "kernel arguments from PATH, not /proc/cmdline"),
    Opt::switch("--verbose",            "flint.verbose",                       |r| &mut r.verbose,            "debug lines").short(b'v'),
    Opt::switch("--help",               "",                                    |r| &mut r.help,               "this text").short(b'h'),
    Opt::switch("--version",            "",                                    |r| &mut r.version,            "flint's version"),
];

/// `--help`, rendered from [`OPTIONS`] and [`platform::ALL`].
pub struct Help;

impl fmt::Display for Help {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(
            "flint: fetch this instance's user-data on flint's own TCP/IP stack; write it atomically.\n\
             usage: flint [--platform ID] [OPTIONS]    (kernel-argument twin in brackets; options win)\n",
        )?;
        for o in OPTIONS {
            let metavar = match o.kind {
                Kind::Value(m, _) => m,
                Kind::Switch(_) => "",
            };
            // The first column: `-x, --name METAVAR`, or `kernel.name=METAVAR` for a kernel
            // argument only.
            let (name, sep) = match (o.long, o.kernel) {
                (Some(long), _) => (long, if metavar.is_empty() { "" } else { " " }),
                (None, kernel) => (kernel.unwrap_or_default(), "="),
            };
            f.write_str("  ")?;
            if let Some(letter) = o.short {
                f.write_char('-')?;
                f.write_char(char::from(letter))?;
                f.write_str(", ")?;
            }
            for s in [name, sep, metavar] {
                f.write_str(s)?;
            }
            let width = 2 + if o.short.is_some() { 4 } else { 0 } + name.len() + sep.len() + metavar.len();
            for _ in width..HELP_COLUMN.max(width + 1) {
                f.write_str(" ")?;
            }
            f.write_str(o.help)?;
            if let (Some(_), Some(kernel)) = (o.long, o.kernel) {
                f.write_str(" [")?;
                f.write_str(kernel)?;
                f.write_str(if metavar.is_empty() { "]\n" } else { "=]\n" })?;
            } else {
                f.write_str("\n")?;
            }
        }
        f.write_str("platforms: ")?;
        platform_ids(f, 9)?;
        f.write_str(
            "\nexit: 0 written, 1 system fault (NIC, socket, permission), 2 usage, 3 no user-data,\n  \
             4 unreachable or budget spent, 5 invalid response or encoding, 6 output not written,\n  \
             7 user-data is not an Ignition config (--ignition; other outputs written)\n",
        )
    }
}

/// Where the help text of every option starts.
const HELP_COLUMN: usize = 25;

/// `aws, akamai`: the ids of [`platform::ALL`].
/// The platform ids, comma-separated, a line break after every `per_line`.
fn platform_ids(f: &mut fmt::Formatter<'_>, per_line: usize) -> fmt::Result {
    for (i, p) in platform::ALL.iter().enumerate() {
        if i > 0 {
            f.write_str(if i % per_line == 0 { ",\n  " } else { ", " })?;
        }
        f.write_str(p.id)?;
    }
    Ok(())
}

/// Parses the process arguments (without the program name).
// Out of line though called once: measured smaller so.
#[inline(never)]
pub fn parse_argv<'a, I: IntoIterator<Item = &'a [u8]>>(args: I) -> Result<Raw<'a>, UsageError> {
    let mut raw = Raw::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // Accept both `--opt value` and `--opt=value`.
        let (name, inline) = match arg.iter().position(|&b| b == b'=') {
            Some(i) if arg.starts_with(b"--") => (&arg[..i], Some(&arg[i + 1..])),
            _ => (arg, None),
        };
        let (long, kind) = OPTIONS
            .iter()
            .find_map(|o| {
                let long = o.long?;
                (long.as_bytes() == name || o.short.is_some_and(|s| name == [b'-', s])).then_some((long, &o.kind))
            })
            .ok_or(UsageError::UnknownOption)?;
        match kind {
            Kind::Switch(_) if inline.is_some() => return Err(UsageError::UnknownOption),
            Kind::Switch(slot) => *slot(&mut raw) = true,
            Kind::Value(_, slot) => {
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or(UsageError::MissingValue(long))?,
                };
                if value.is_empty() {
                    return Err(UsageError::MissingValue(long));
                }
                *slot(&mut raw) = Some(value);
            }
        }
    }
    Ok(raw)
}

/// Picks flint's arguments out of a kernel command line (`/proc/cmdline`).
///
/// Words are split by [`cmdline::args`], shared with the network arguments: separated by
/// spaces; a value may be double-quoted (`flint.output="/a b"`) or the
/// whole word may be (`"flint.output=/a b"`), as the kernel's own parser allows. Everything after
/// a lone `--` belongs to init and is ignored. A later occurrence wins, as for most kernel
/// parameters.
pub fn parse_cmdline(text: &[u8]) -> Raw<'_> {
    let mut raw = Raw::default();
    for (key, value) in cmdline::args(text) {
        let Some(opt) = OPTIONS.iter().find(|o| o.kernel.is_some_and(|k| k.as_bytes() == key)) else {
            continue;
        };
        match opt.kind {
            Kind::Switch(slot) => *slot(&mut raw) = !matches!(value, Some(b"0" | b"no" | b"false")),
            Kind::Value(_, slot) => {
                if let Some(v) = value.filter(|v| !v.is_empty()) {
                    *slot(&mut raw) = Some(v);
                }
            }
        }
    }
    raw
}

/// Merges both sources (command line first) and validates every value. `dmi` is the platform
/// the SMBIOS strings name, for `--platform auto`.
pub fn resolve<'a>(cli: &Raw<'a>, kernel: &Raw<'a>, dmi: Option<Hint>) -> Result<Config<'a>, UsageError> {
    // Both sources merged into one through the option table (a value from the command line
    // wins, a switch set in either is set): one loop rather than a comparison per field.
    let (mut cli, mut r) = (*cli, *kernel);
    for o in OPTIONS {
        match o.kind {
            Kind::Value(_, slot) => {
                if let Some(v) = *slot(&mut cli) {
                    *slot(&mut r) = Some(v);
                }
            }
            Kind::Switch(slot) => *slot(&mut r) |= *slot(&mut cli),
        }
    }
    // A URL names the source itself: `--url`, or Ignition's own `ignition.config.url=` on
    // bare metal (where Ignition has no metadata service to ask).
    let metal = r.platform.is_none() && r.ignition_platform == Some(b"metal");
    let url = match r.url.or(r.ignition_url.filter(|_| metal)) {
        Some(u) => Some(Url::parse(u).and_then(fetchable).map_err(UsageError::Url)?),
        None => None,
    };
    // flint's own argument only: Ignition has no `auto`, and never guesses (platform::dmi).
    let auto = url.is_none() && r.platform == Some(b"auto");
    let platform = match (url, r.platform.or(r.ignition_platform)) {
        (Some(_), _) => &platform::url::PLATFORM,
        (None, _) if auto => {
            let hint = dmi.ok_or(UsageError::UnknownMachine)?;
            platform::by_id(hint.platform.as_bytes()).ok_or(UsageError::UnknownPlatform)?
        }
        (None, Some(id)) => platform::by_id(id).ok_or(UsageError::UnknownPlatform)?,
        (None, None) => return Err(UsageError::NoPlatform),
    };
    let family = match r.family.map_or(0, |v| word(v, "any|ipv4|ipv6")) {
        0 => Family::Any,
        1 => Family::V4,
        2 => Family::V6,
        _ => return Err(UsageError::BadValue("--family")),
    };
    let address = match r.address.map_or(0, |v| word(v, "auto|dhcp|link-local")) {
        0 => AddressMode::Auto,
        1 => AddressMode::Dhcp,
        2 => AddressMode::LinkLocal,
        _ => return Err(UsageError::BadValue("--address")),
    };
    let timeout_ms = match r.timeout {
        None => DEFAULT_TIMEOUT_MS,
        Some(v) => parse_seconds(v).ok_or(UsageError::BadValue("--timeout"))?,
    };
    let dhcp_timeout_ms = match r.dhcp_timeout {
        None => DEFAULT_DHCP_TIMEOUT_MS,
        Some(v) => parse_seconds(v).ok_or(UsageError::BadValue("--dhcp-timeout"))?,
    };
    let max_size = match r.max_size {
        None => DEFAULT_MAX_SIZE,
        Some(v) => parse_size(v).ok_or(UsageError::BadValue("--max-size"))?,
    };
    let inline_max = match r.inline_max {
        None => DEFAULT_MAX_SIZE,
        Some(v) => parse_size(v).ok_or(UsageError::BadValue("--inline-max"))?,
    };
    let interface = r.interface;
    // IFNAMSIZ is 16 including the NUL; '/' and ':' are never valid in names.
    // "." and ".." are refused by the kernel's dev_valid_name() too.
    if interface.is_some_and(|n| {
        n.len() > 15 || n == b"." || n == b".." || n.iter().any(|&b| b == b'/' || b == b':' || b <= b' ')
    }) {
        return Err(UsageError::BadValue("--interface"));
    }
    let ssh_user = r.ssh_user.unwrap_or(DEFAULT_SSH_USER);
    // useradd's portable name rule (letters, digits, '_', '-', '.'; no leading '-'), at most 32.
    if ssh_user.len() > 32
        || ssh_user.first().is_none_or(|&b| b == b'-')
        || !ssh_user.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(UsageError::BadValue("--ssh-user"));
    }
    // Under --root every output path is absolute (it is joined onto the root).
    let root = match r.root.unwrap_or(b"/") {
        p if p.iter().all(|&b| b == b'/') => &p[..0],
        p => p.strip_suffix(b"/").unwrap_or(p),
    };
    let output = r.output.unwrap_or(DEFAULT_OUTPUT);
    let report = r.report;
    let cloud_init_seed = r.cloud_init_seed;
    let attributes = r.attributes;
    if !root.is_empty() {
        for (path, name) in [
            (Some(output), "--output"),
            (report, "--report"),
            (cloud_init_seed, "--cloud-init-seed"),
            (attributes, "--attributes"),
        ] {
            if path.is_some_and(|p| !p.starts_with(b"/")) {
                return Err(UsageError::BadValue(name));
            }
        }
    }
    Ok(Config {
        platform,
        output,
        interface,
        address,
        timeout_ms,
        dhcp_timeout_ms,
        max_size,
        ca_bundle: r.ca_bundle,
        inline_max,
        report,
        root,
        ignition: r.ignition,
        ignition_overwrite: r.ignition_overwrite,
        ssh_user,
        cloud_init_seed,
        attributes,
        drive: r.drive,
        family,
        url,
        verbose: r.verbose,
        auto,
    })
}

/// A URL flint can fetch user-data from: HTTP, with a request target that fits a request.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn fetchable(url: Url<'_>) -> Result<Url<'_>, UrlError> {
    match url.scheme {
        Scheme::File => Err(UrlError::File),
        _ if url.path.len() > crate::sources::service::PATH_MAX => Err(UrlError::Long),
        Scheme::Http | Scheme::Https => Ok(url),
    }
}

/// `SECONDS` with up to three decimals, more than zero, at most a day; in milliseconds.
fn parse_seconds(v: &[u8]) -> Option<u64> {
    let (int, frac) = match v.iter().position(|&b| b == b'.') {
        Some(i) => (&v[..i], &v[i + 1..]),
        None => (v, &b""[..]),
    };
    if int.is_empty() && frac.is_empty() || int.len() > 6 || frac.len() > 3 {
        return None;
    }
    let digits = |d: &[u8]| d.iter().try_fold(0u64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64));
    let mut ms = digits(int)? * 1000;
    let mut scale = 100;
    for &b in frac {
        ms += digits(&[b])? * scale;
        scale /= 10;
    }
    (ms > 0 && ms <= MAX_TIMEOUT_MS).then_some(ms)
}

/// `BYTES` with an optional binary `K`, `M` or `G` suffix.
fn parse_size(v: &[u8]) -> Option<u64> {
    let (num, shift) = match v.last()? {
        b'K' | b'k' => (&v[..v.len() - 1], 10),
        b'M' | b'm' => (&v[..v.len() - 1], 20),
        b'G' | b'g' => (&v[..v.len() - 1], 30),
        _ => (v, 0),
    };
    if num.is_empty() || num.len() > 10 {
        return None;
    }
    let n = num.iter().try_fold(0u64, |acc, &b| b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64))?;
    let bytes = n.checked_shl(shift)?;
    (bytes > 0 && bytes <= MAX_MAX_SIZE).then_some(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv<'a>(s: &'a [&'a str]) -> Result<Raw<'a>, UsageError> {
        parse_argv(s.iter().map(|a| a.as_bytes()))
    }

    #[test]
    fn command_line_options() {
        let raw =
            argv(&["--platform", "aws", "--output=/tmp/x", "-v", "--timeout", "2.5", "--max-size", "64K"]).unwrap();
        let c = resolve(&raw, &Raw::default(), None).unwrap();
        assert_eq!(c.platform.id, "aws");
        assert_eq!(c.output, b"/tmp/x");
        assert!(c.verbose);
        assert_eq!(c.timeout_ms, 2500);
        assert_eq!(c.max_size, 64 * 1024);
        assert_eq!(c.address, AddressMode::Auto);
        assert_eq!(c.dhcp_timeout_ms, DEFAULT_DHCP_TIMEOUT_MS);
        assert_eq!(c.report, None);
    }

    #[test]
    fn defaults() {
        let c = resolve(&argv(&["--platform", "akamai"]).unwrap(), &Raw::default(), None).unwrap();
        assert_eq!(c.output, DEFAULT_OUTPUT);
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(c.max_size, DEFAULT_MAX_SIZE);
        assert_eq!(c.interface, None);
    }

    #[test]
    fn usage_errors_name_the_option() {
        assert_eq!(argv(&["--bogus"]), Err(UsageError::UnknownOption));
        assert_eq!(argv(&["--platform"]), Err(UsageError::MissingValue("--platform")));
        assert_eq!(argv(&["--output="]), Err(UsageError::MissingValue("--output")));
        assert_eq!(argv(&["--help=yes"]), Err(UsageError::UnknownOption));
        let none = Raw::default();
        assert_eq!(resolve(&none, &none, None), Err(UsageError::NoPlatform));
        fn bad<'a>(a: &'a [&'a str]) -> Result<Config<'a>, UsageError> {
            resolve(&argv(a).unwrap(), &Raw::default(), None)
        }
        assert_eq!(bad(&["--platform", "gce"]), Err(UsageError::UnknownPlatform));
        for (opt, v) in [
            ("--timeout", "0"),
            ("--timeout", "abc"),
            ("--timeout", "1.2345"),
            ("--timeout", "99999999"),
            ("--dhcp-timeout", "-1"),
        ] {
            assert_eq!(
                bad(&["--platform", "aws", opt, v]),
                Err(UsageError::BadValue(if opt == "--timeout" { "--timeout" } else { "--dhcp-timeout" })),
                "{opt} {v}"
            );
        }
        assert_eq!(bad(&["--platform", "aws", "--max-size", "0"]), Err(UsageError::BadValue("--max-size")));
        assert_eq!(bad(&["--platform", "aws", "--max-size", "2G"]), Err(UsageError::BadValue("--max-size")));
        assert_eq!(bad(&["--platform", "aws", "--address", "static"]), Err(UsageError::BadValue("--address")));
        assert_eq!(bad(&["--platform", "aws", "--interface", "a/b"]), Err(UsageError::BadValue("--interface")));
        assert_eq!(bad(&["--platform", "aws", "--interface", "."]), Err(UsageError::BadValue("--interface")));
        assert_eq!(bad(&["--platform", "aws", "--interface", ".."]), Err(UsageError::BadValue("--interface")));
        assert_eq!(
            bad(&["--platform", "aws", "--interface", "sixteen-chars-xx"]),
            Err(UsageError::BadValue("--interface"))
        );
    }

    #[test]
    fn handoff_options() {
        let c = resolve(&argv(&["--platform", "aws"]).unwrap(), &Raw::default(), None).unwrap();
        assert!(!c.ignition && !c.wants_metadata());
        assert_eq!((c.root, c.ssh_user), (&b""[..], DEFAULT_SSH_USER));
        let cli = argv(&[
            "--platform",
            "aws",
            "--ignition",
            "--root",
            "/tmp/r/",
            "--ssh-user=admin",
            "--attributes",
            "/run/metadata/flint",
        ])
        .unwrap();
        let c = resolve(&cli, &Raw::default(), None).unwrap();
        assert!(c.ignition && !c.ignition_overwrite && c.wants_metadata());
        assert_eq!((c.root, c.ssh_user), (&b"/tmp/r"[..], &b"admin"[..]));
        let k = parse_cmdline(b"flint.platform=akamai flint.ignition flint.ignition-overwrite=1 flint.cloud-init-seed=/sysroot/var/lib/cloud/seed/nocloud");
        let c = resolve(&Raw::default(), &k, None).unwrap();
        assert!(c.ignition && c.ignition_overwrite && c.wants_metadata());
        assert_eq!(c.cloud_init_seed, Some(&b"/sysroot/var/lib/cloud/seed/nocloud"[..]));
        let k = parse_cmdline(b"flint.platform=aws flint.ignition=0");
        assert!(!resolve(&Raw::default(), &k, None).unwrap().ignition);
        for (opt, v) in [("--ssh-user", "-rf"), ("--ssh-user", "a b"), ("--ssh-user", "a/b")] {
            assert_eq!(
                resolve(&argv(&["--platform", "aws", opt, v]).unwrap(), &Raw::default(), None),
                Err(UsageError::BadValue("--ssh-user"))
            );
        }
        // Relative outputs cannot be put under a root.
        let cli = argv(&["--platform", "aws", "--root", "/r", "--output", "rel/x"]).unwrap();
        assert_eq!(resolve(&cli, &Raw::default(), None), Err(UsageError::BadValue("--output")));
    }

    #[test]
    fn kernel_arguments_and_precedence() {
        let k = parse_cmdline(b"BOOT_IMAGE=/vmlinuz root=UUID=1 ignition.platform.id=aws flint.timeout=5 flint.output=\"/run/a b\" flint.verbose quiet\n");
        assert_eq!(k.ignition_platform, Some(&b"aws"[..]));
        assert_eq!(k.output, Some(&b"/run/a b"[..]));
        assert!(k.verbose);
        let c = resolve(&Raw::default(), &k, None).unwrap();
        assert_eq!(c.platform.id, "aws");
        assert_eq!(c.timeout_ms, 5000);
        // flint.platform beats ignition.platform.id; the command line beats both.
        let k = parse_cmdline(b"ignition.platform.id=aws flint.platform=akamai flint.address=link-local");
        assert_eq!(resolve(&Raw::default(), &k, None).unwrap().platform.id, "akamai");
        let cli = argv(&["--platform", "aws", "--address", "dhcp"]).unwrap();
        let c = resolve(&cli, &k, None).unwrap();
        assert_eq!((c.platform.id, c.address), ("aws", AddressMode::Dhcp));
        assert_eq!(resolve(&Raw::default(), &k, None).unwrap().address, AddressMode::LinkLocal);
    }

    #[test]
    fn cmdline_quoting_repeats_and_init_arguments() {
        let k = parse_cmdline(b"\"flint.interface=eth1\" flint.timeout=1 flint.timeout=2 -- flint.platform=aws");
        assert_eq!(k.interface, Some(&b"eth1"[..]));
        assert_eq!(k.timeout, Some(&b"2"[..]), "the later occurrence wins");
        assert_eq!(k.platform, None, "arguments after -- belong to init");
        let k = parse_cmdline(b"  flint.platform=  flint.verbose=0 flint.max-size=1M");
        assert_eq!(k.platform, None);
        assert!(!k.verbose);
        assert_eq!(resolve(&Raw { platform: Some(b"aws"), ..Raw::default() }, &k, None).unwrap().max_size, 1 << 20);
        assert_eq!(parse_cmdline(b""), Raw::default());
        // A bad kernel value is a usage error just like a bad option.
        let k = parse_cmdline(b"flint.platform=aws flint.timeout=soon");
        assert_eq!(resolve(&Raw::default(), &k, None), Err(UsageError::BadValue("--timeout")));
    }

    #[test]
    fn platform_auto_takes_the_dmi_hint() {
        use crate::platform::dmi::Key;
        let akamai = Some(Hint { platform: "akamai", key: Key::SysVendor });
        let cli = argv(&["--platform", "auto"]).unwrap();
        let c = resolve(&cli, &Raw::default(), akamai).unwrap();
        assert_eq!((c.platform.id, c.auto), ("akamai", true));
        // The kernel's flint.platform=auto too; an unknown machine is a usage error.
        let k = parse_cmdline(b"flint.platform=auto");
        assert_eq!(resolve(&Raw::default(), &k, akamai).unwrap().platform.id, "akamai");
        assert_eq!(resolve(&Raw::default(), &k, None), Err(UsageError::UnknownMachine));
        // A hint never changes an explicit platform, and is never the default.
        let aws = argv(&["--platform", "aws"]).unwrap();
        let c = resolve(&aws, &k, akamai).unwrap();
        assert_eq!((c.platform.id, c.auto), ("aws", false));
        assert_eq!(resolve(&Raw::default(), &Raw::default(), akamai), Err(UsageError::NoPlatform));
        let k = parse_cmdline(b"ignition.platform.id=auto");
        assert_eq!(resolve(&Raw::default(), &k, akamai), Err(UsageError::UnknownPlatform), "not Ignition's");
        // A URL names its own source.
        let url = argv(&["--platform", "auto", "--url", "http://10.0.0.1/x"]).unwrap();
        let c = resolve(&url, &Raw::default(), None).unwrap();
        assert_eq!((c.platform.id, c.auto), ("url", false));
        // A platform the hint names but this build lacks is refused like an unknown id.
        let gone = Some(Hint { platform: "nope", key: Key::SysVendor });
        assert_eq!(resolve(&cli, &Raw::default(), gone), Err(UsageError::UnknownPlatform));
        assert_eq!(UsageError::UnknownMachine.to_string(), "--platform auto: DMI names no platform flint knows");
    }

    #[test]
    fn drive_option() {
        let c = resolve(&argv(&["--platform", "aws", "--drive", "/dev/vdb"]).unwrap(), &Raw::default(), None).unwrap();
        assert_eq!(c.drive, Some(&b"/dev/vdb"[..]));
        assert_eq!(
            resolve(&argv(&["--platform", "aws"]).unwrap(), &Raw::default(), None).unwrap().drive,
            None,
            "no drive: scan"
        );
        assert_eq!(argv(&["--drive"]), Err(UsageError::MissingValue("--drive")));
        assert_eq!(argv(&["--drive="]), Err(UsageError::MissingValue("--drive")));
        assert_eq!(argv(&["--drive", ""]), Err(UsageError::MissingValue("--drive")));
        let k = parse_cmdline(b"flint.platform=aws flint.drive=/dev/sr0 flint.drive=");
        assert_eq!(k.drive, Some(&b"/dev/sr0"[..]), "an empty kernel value sets nothing");
        assert_eq!(resolve(&Raw::default(), &k, None).unwrap().drive, Some(&b"/dev/sr0"[..]));
        let cli = argv(&["--drive=/tmp/config.img"]).unwrap();
        assert_eq!(resolve(&cli, &k, None).unwrap().drive, Some(&b"/tmp/config.img"[..]), "the command line wins");
        // An input: neither joined to --root nor required to be absolute under it.
        let cli = argv(&["--platform", "aws", "--root", "/sysroot", "--drive", "images/config.img"]).unwrap();
        let c = resolve(&cli, &Raw::default(), None).unwrap();
        assert_eq!((c.root, c.drive), (&b"/sysroot"[..], Some(&b"images/config.img"[..])));
    }

    /// Each option's field, found through the table (the field it names in `Raw`).
    fn value<'a>(o: &Opt, raw: &mut Raw<'a>) -> Option<&'a [u8]> {
        match o.kind {
            Kind::Value(_, slot) => *slot(raw),
            Kind::Switch(slot) => slot(raw).then_some(b"on"),
        }
    }

    #[test]
    fn option_table() {
        for (i, o) in OPTIONS.iter().enumerate() {
            assert!(o.long.is_some() || o.kernel.is_some(), "entry {i} has no name");
            for other in &OPTIONS[i + 1..] {
                assert!(o.long.is_none() || o.long != other.long, "{:?} twice", o.long);
                assert!(o.kernel.is_none() || o.kernel != other.kernel, "{:?} twice", o.kernel);
                assert!(o.short.is_none() || o.short != other.short, "-{:?} twice", o.short);
                let mut raw = Raw::default();
                // Setting one entry's field leaves every other entry's field alone.
                match o.kind {
                    Kind::Value(_, slot) => *slot(&mut raw) = Some(b"x"),
                    Kind::Switch(slot) => *slot(&mut raw) = true,
                }
                assert_eq!(value(other, &mut raw), None, "{:?} and {:?} share a field", o.long, other.long);
            }
            // The kernel twin of `--name` is `flint.name`.
            if let (Some(long), Some(kernel)) = (o.long, o.kernel) {
                assert_eq!(long.strip_prefix("--"), kernel.strip_prefix("flint."), "{long} vs {kernel}");
            }
            assert!(!o.help.is_empty() && !o.help.contains('\n'), "{:?}: one line of help", o.long);
        }
    }

    #[test]
    fn every_option_from_both_sources() {
        for o in OPTIONS {
            match (&o.kind, o.long, o.kernel) {
                (Kind::Value(..), long, kernel) => {
                    if let Some(long) = long {
                        for raw in [argv(&[long, "v a"]).unwrap(), argv(&[&format!("{long}=v a")]).unwrap()] {
                            assert_eq!(raw, raw_with(o, b"v a"), "{long} sets its field and no other");
                        }
                        assert_eq!(argv(&[long]), Err(UsageError::MissingValue(long)));
                        assert_eq!(argv(&[&format!("{long}=")]), Err(UsageError::MissingValue(long)));
                    }
                    if let Some(kernel) = kernel {
                        // The later occurrence wins; an empty value sets nothing.
                        let text = format!("{kernel}=1 {kernel}=\"v a\" {kernel}=");
                        assert_eq!(parse_cmdline(text.as_bytes()), raw_with(o, b"v a"), "{text}");
                    }
                }
                (Kind::Switch(_), long, kernel) => {
                    if let Some(long) = long {
                        assert_eq!(argv(&[long]).unwrap(), raw_with(o, b"on"), "{long}");
                        assert_eq!(argv(&[&format!("{long}=1")]), Err(UsageError::UnknownOption));
                    }
                    if let Some(letter) = o.short {
                        let short = format!("-{}", char::from(letter));
                        assert_eq!(argv(&[&short]).unwrap(), raw_with(o, b"on"), "{short}");
                    }
                    if let Some(kernel) = kernel {
                        for (words, on) in
                            [("", true), ("=1", true), ("=yes", true), ("=0", false), ("=no", false), ("=false", false)]
                        {
                            let text = format!("{kernel}{words}");
                            assert_eq!(value(o, &mut parse_cmdline(text.as_bytes())).is_some(), on, "{text}");
                        }
                        let text = format!("{kernel} {kernel}=0");
                        assert_eq!(parse_cmdline(text.as_bytes()), Raw::default(), "{text}: the later one wins");
                        let text = format!("{kernel}=0 {kernel}");
                        assert_eq!(parse_cmdline(text.as_bytes()), raw_with(o, b"on"), "{text}");
                    }
                }
            }
        }
        // A command-line-only option is no kernel argument, and the reverse.
        assert_eq!(parse_cmdline(b"flint.cmdline=/x flint.help flint.version"), Raw::default());
        assert_eq!(argv(&["--ignition.platform.id=aws"]), Err(UsageError::UnknownOption));
        assert_eq!(argv(&[""]), Err(UsageError::UnknownOption));
        assert_eq!(parse_cmdline(b"=x"), Raw::default());
    }

    /// A default `Raw` with only `o`'s field set.
    fn raw_with<'a>(o: &Opt, v: &'a [u8]) -> Raw<'a> {
        let mut raw = Raw::default();
        match o.kind {
            Kind::Value(_, slot) => *slot(&mut raw) = Some(v),
            Kind::Switch(slot) => *slot(&mut raw) = true,
        }
        raw
    }

    #[test]
    fn help_and_errors_follow_the_tables() {
        let help = Help.to_string();
        // main renders it into a 4 KiB buffer.
        assert!(help.len() <= 4096, "{} bytes", help.len());
        for line in help.lines() {
            assert!(line.len() <= 100, "too long: {line}");
        }
        let unknown = UsageError::UnknownPlatform.to_string();
        for p in platform::ALL {
            assert!(help.contains(p.id), "{} missing from --help", p.id);
            assert!(unknown.contains(p.id), "{} missing from {unknown:?}", p.id);
        }
        let ids = platform::ALL.iter().map(|p| p.id).collect::<std::vec::Vec<_>>().join(", ");
        assert!(help.replace(",\n  ", ", ").contains(&std::format!("\nplatforms: {ids}\n")), "{help}");
        assert_eq!(unknown, std::format!("unsupported platform (supported: {ids})"));
        for o in OPTIONS {
            // Each option starts its own line, its kernel twin in brackets after the help.
            let line = help.lines().find(|l| l.contains(o.help)).unwrap();
            let name = o.long.or(o.kernel).unwrap();
            assert!(line.starts_with("  ") && line.contains(name), "{line}");
            // The help starts at HELP_COLUMN, or one space after a wider first column.
            let at = line.find(o.help).unwrap();
            assert_eq!(at, HELP_COLUMN.max(line[..at].trim_end().len() + 1), "{line}");
            if let (Some(_), Some(kernel)) = (o.long, o.kernel) {
                let bracket =
                    if matches!(o.kind, Kind::Value(..)) { format!("[{kernel}=]") } else { format!("[{kernel}]") };
                assert!(line.ends_with(&bracket), "{line}");
            }
        }
        assert!(help.contains("\n  -v, --verbose          debug lines [flint.verbose]\n"), "{help}");
        assert!(help.contains("\n  -h, --help             this text\n"), "{help}");
        assert!(
            help.contains(
                "\n  --drive PATH           config drive (block device or image) instead of scanning [flint.drive=]\n"
            ),
            "{help}"
        );
        assert!(help.contains("\n  ignition.platform.id=ID the platform when flint.platform= is absent\n"), "{help}");
        // The defaults the help names are the ones `resolve` uses.
        let default = |long: &str| OPTIONS.iter().find(|o| o.long == Some(long)).unwrap().help;
        assert!(default("--output").ends_with(&format!("({})", core::str::from_utf8(DEFAULT_OUTPUT).unwrap())));
        assert!(default("--ssh-user").ends_with(&format!("({})", core::str::from_utf8(DEFAULT_SSH_USER).unwrap())));
        assert!(default("--timeout").ends_with(&format!("({})", DEFAULT_TIMEOUT_MS / 1000)));
        assert!(default("--dhcp-timeout").ends_with(&format!("({})", DEFAULT_DHCP_TIMEOUT_MS / 1000)));
        assert!(default("--max-size").ends_with(&format!("({}M)", DEFAULT_MAX_SIZE >> 20)));
        assert!(default("--address").ends_with(&format!("({})", AddressMode::Auto.name())));
    }
}
