//! Command line and kernel command line, sans-IO.
//!
//! Every option has a `flint.*` kernel-argument twin so an image can be configured from the boot
//! loader alone; the platform also comes from Ignition's `ignition.platform.id=`. The command
//! line wins over the kernel's. Values are validated in [`resolve`], so a bad kernel argument is
//! reported the same way as a bad option.

use core::fmt;

use crate::platform::{self, Platform};

pub const DEFAULT_OUTPUT: &[u8] = b"/run/flint/user-data";
pub const DEFAULT_SSH_USER: &[u8] = b"core";
pub const DEFAULT_TIMEOUT_MS: u64 = 30_000;
pub const DEFAULT_DHCP_TIMEOUT_MS: u64 = 3_000;
pub const DEFAULT_MAX_SIZE: u64 = 16 << 20;
const MAX_TIMEOUT_MS: u64 = 24 * 3600 * 1000;
const MAX_MAX_SIZE: u64 = 1 << 30;

pub const HELP: &str = "\
flint: fetch this instance's user-data on flint's own TCP/IP stack; write it atomically.
usage: flint [--platform ID] [OPTIONS]    (kernel-argument twin in brackets; options win)
  --platform ID          aws|akamai [flint.platform=, ignition.platform.id=]
  --output PATH          decoded user-data, mode 0600 [flint.output=] (/run/flint/user-data)
  --interface NAME       NIC [flint.interface=] (first Ethernet NIC with carrier)
  --address MODE         auto|dhcp|link-local [flint.address=] (auto)
  --timeout SECONDS      total budget [flint.timeout=] (30)
  --dhcp-timeout SECONDS auto: DHCP wait before link-local [flint.dhcp-timeout=] (3)
  --max-size BYTES       decoded size cap, K/M/G [flint.max-size=] (16M)
  --report PATH          JSON report of phases and timings [flint.report=]
  --ignition             hand an Ignition config to Ignition as user.ign, plus a base
                         fragment with hostname and SSH keys [flint.ignition]
  --ignition-overwrite   replace a user.ign already present [flint.ignition-overwrite]
  --ssh-user NAME        user the platform's SSH keys are for [flint.ssh-user=] (core)
  --cloud-init-seed DIR  write a cloud-init NoCloud seed [flint.cloud-init-seed=]
  --attributes PATH      Afterburn-style KEY=value metadata [flint.attributes=]
  --root DIR             write every output under DIR [flint.root=] (/)
  --cmdline PATH         kernel arguments from PATH, not /proc/cmdline
  -v, --verbose          debug lines [flint.verbose];  -h, --help;  --version
exit: 0 written, 1 system fault (NIC, socket, permission), 2 usage, 3 no user-data,
  4 unreachable or budget spent, 5 invalid response or encoding, 6 output not written,
  7 user-data is not an Ignition config (--ignition; other outputs written)
";

/// How flint gets an IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AddressMode {
    /// DHCP; link-local when no DHCP server answers within the DHCP timeout.
    Auto,
    Dhcp,
    LinkLocal,
}

impl AddressMode {
    pub fn name(self) -> &'static str {
        match self {
            AddressMode::Auto => "auto",
            AddressMode::Dhcp => "dhcp",
            AddressMode::LinkLocal => "link-local",
        }
    }
}

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
    pub report: Option<&'a [u8]>,
    pub cmdline: Option<&'a [u8]>,
    pub root: Option<&'a [u8]>,
    pub ssh_user: Option<&'a [u8]>,
    pub cloud_init_seed: Option<&'a [u8]>,
    pub attributes: Option<&'a [u8]>,
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
    pub report: Option<&'a [u8]>,
    /// Prefix of every output path; empty for `/`.
    pub root: &'a [u8],
    pub ignition: bool,
    pub ignition_overwrite: bool,
    pub ssh_user: &'a [u8],
    pub cloud_init_seed: Option<&'a [u8]>,
    pub attributes: Option<&'a [u8]>,
    pub verbose: bool,
}

impl Config<'_> {
    /// Some output needs the platform's metadata (hostname, keys, attributes).
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
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsageError::UnknownOption => f.write_str("unknown option (see --help)"),
            UsageError::MissingValue(o) => write!(f, "{o} needs a value"),
            UsageError::BadValue(o) => write!(f, "invalid value for {o}"),
            UsageError::NoPlatform => f.write_str(
                "no platform: give --platform, flint.platform= or ignition.platform.id=",
            ),
            UsageError::UnknownPlatform => {
                f.write_str("unsupported platform (supported: aws, akamai)")
            }
        }
    }
}

/// Parses the process arguments (without the program name).
pub fn parse_argv<'a, I: IntoIterator<Item = &'a [u8]>>(args: I) -> Result<Raw<'a>, UsageError> {
    let mut raw = Raw::default();
    let mut it = args.into_iter();
    while let Some(arg) = it.next() {
        // Accept both `--opt value` and `--opt=value`.
        let (name, inline) = match arg.iter().position(|&b| b == b'=') {
            Some(i) if arg.starts_with(b"--") => (&arg[..i], Some(&arg[i + 1..])),
            _ => (arg, None),
        };
        let flag = |on: &mut bool| -> Result<(), UsageError> {
            if inline.is_some() {
                return Err(UsageError::UnknownOption);
            }
            *on = true;
            Ok(())
        };
        match name {
            b"-h" | b"--help" => flag(&mut raw.help)?,
            b"--version" => flag(&mut raw.version)?,
            b"-v" | b"--verbose" => flag(&mut raw.verbose)?,
            b"--ignition" => flag(&mut raw.ignition)?,
            b"--ignition-overwrite" => flag(&mut raw.ignition_overwrite)?,
            _ => {
                let (slot, label) = match name {
                    b"--platform" => (&mut raw.platform, "--platform"),
                    b"--output" => (&mut raw.output, "--output"),
                    b"--interface" => (&mut raw.interface, "--interface"),
                    b"--address" => (&mut raw.address, "--address"),
                    b"--timeout" => (&mut raw.timeout, "--timeout"),
                    b"--dhcp-timeout" => (&mut raw.dhcp_timeout, "--dhcp-timeout"),
                    b"--max-size" => (&mut raw.max_size, "--max-size"),
                    b"--report" => (&mut raw.report, "--report"),
                    b"--cmdline" => (&mut raw.cmdline, "--cmdline"),
                    b"--root" => (&mut raw.root, "--root"),
                    b"--ssh-user" => (&mut raw.ssh_user, "--ssh-user"),
                    b"--cloud-init-seed" => (&mut raw.cloud_init_seed, "--cloud-init-seed"),
                    b"--attributes" => (&mut raw.attributes, "--attributes"),
                    _ => return Err(UsageError::UnknownOption),
                };
                let value = match inline {
                    Some(v) => v,
                    None => it.next().ok_or(UsageError::MissingValue(label))?,
                };
                if value.is_empty() {
                    return Err(UsageError::MissingValue(label));
                }
                *slot = Some(value);
            }
        }
    }
    Ok(raw)
}

/// Picks flint's arguments out of a kernel command line (`/proc/cmdline`).
///
/// Words are separated by spaces; a value may be double-quoted (`flint.output="/a b"`) or the
/// whole word may be (`"flint.output=/a b"`), as the kernel's own parser allows. Everything after
/// a lone `--` belongs to init and is ignored. A later occurrence wins, as for most kernel
/// parameters.
pub fn parse_cmdline(text: &[u8]) -> Raw<'_> {
    let mut raw = Raw::default();
    let mut rest = text;
    loop {
        let start = rest
            .iter()
            .position(|b| !b.is_ascii_whitespace())
            .unwrap_or(rest.len());
        rest = &rest[start..];
        if rest.is_empty() {
            break;
        }
        let mut quoted = false;
        let end = rest
            .iter()
            .position(|&b| {
                if b == b'"' {
                    quoted = !quoted;
                }
                b.is_ascii_whitespace() && !quoted
            })
            .unwrap_or(rest.len());
        let word = strip_quotes(&rest[..end]);
        rest = &rest[end..];
        if word == b"--" {
            break;
        }
        let (key, value) = match word.iter().position(|&b| b == b'=') {
            Some(i) => (&word[..i], Some(strip_quotes(&word[i + 1..]))),
            None => (word, None),
        };
        let slot = match key {
            b"flint.platform" => &mut raw.platform,
            b"ignition.platform.id" => &mut raw.ignition_platform,
            b"flint.output" => &mut raw.output,
            b"flint.interface" => &mut raw.interface,
            b"flint.address" => &mut raw.address,
            b"flint.timeout" => &mut raw.timeout,
            b"flint.dhcp-timeout" => &mut raw.dhcp_timeout,
            b"flint.max-size" => &mut raw.max_size,
            b"flint.report" => &mut raw.report,
            b"flint.root" => &mut raw.root,
            b"flint.ssh-user" => &mut raw.ssh_user,
            b"flint.cloud-init-seed" => &mut raw.cloud_init_seed,
            b"flint.attributes" => &mut raw.attributes,
            _ => {
                let switch = match key {
                    b"flint.verbose" => &mut raw.verbose,
                    b"flint.ignition" => &mut raw.ignition,
                    b"flint.ignition-overwrite" => &mut raw.ignition_overwrite,
                    _ => continue,
                };
                // `flint.x` or `flint.x=1` turns it on; `=0`, `=no`, `=false` off.
                *switch = !matches!(value, Some(b"0" | b"no" | b"false"));
                continue;
            }
        };
        if let Some(v) = value.filter(|v| !v.is_empty()) {
            *slot = Some(v);
        }
    }
    raw
}

fn strip_quotes(w: &[u8]) -> &[u8] {
    let w = w.strip_prefix(b"\"").unwrap_or(w);
    w.strip_suffix(b"\"").unwrap_or(w)
}

/// Merges both sources (command line first) and validates every value.
pub fn resolve<'a>(cli: &Raw<'a>, kernel: &Raw<'a>) -> Result<Config<'a>, UsageError> {
    let pick = |a: Option<&'a [u8]>, b: Option<&'a [u8]>| a.or(b);
    let id = cli
        .platform
        .or(kernel.platform)
        .or(kernel.ignition_platform)
        .ok_or(UsageError::NoPlatform)?;
    let platform = platform::by_id(id).ok_or(UsageError::UnknownPlatform)?;
    let address = match pick(cli.address, kernel.address) {
        None | Some(b"auto") => AddressMode::Auto,
        Some(b"dhcp") => AddressMode::Dhcp,
        Some(b"link-local") => AddressMode::LinkLocal,
        Some(_) => return Err(UsageError::BadValue("--address")),
    };
    let timeout_ms = match pick(cli.timeout, kernel.timeout) {
        None => DEFAULT_TIMEOUT_MS,
        Some(v) => parse_seconds(v).ok_or(UsageError::BadValue("--timeout"))?,
    };
    let dhcp_timeout_ms = match pick(cli.dhcp_timeout, kernel.dhcp_timeout) {
        None => DEFAULT_DHCP_TIMEOUT_MS,
        Some(v) => parse_seconds(v).ok_or(UsageError::BadValue("--dhcp-timeout"))?,
    };
    let max_size = match pick(cli.max_size, kernel.max_size) {
        None => DEFAULT_MAX_SIZE,
        Some(v) => parse_size(v).ok_or(UsageError::BadValue("--max-size"))?,
    };
    let interface = pick(cli.interface, kernel.interface);
    // IFNAMSIZ is 16 including the NUL; '/' and ':' are never valid in names.
    // "." and ".." are refused by the kernel's dev_valid_name() too.
    if interface.is_some_and(|n| {
        n.len() > 15
            || n == b"."
            || n == b".."
            || n.iter().any(|&b| b == b'/' || b == b':' || b <= b' ')
    }) {
        return Err(UsageError::BadValue("--interface"));
    }
    let ssh_user = pick(cli.ssh_user, kernel.ssh_user).unwrap_or(DEFAULT_SSH_USER);
    // useradd's portable name rule (letters, digits, '_', '-', '.'; no leading '-'), at most 32.
    if ssh_user.len() > 32
        || ssh_user.first().is_none_or(|&b| b == b'-')
        || !ssh_user
            .iter()
            .all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        return Err(UsageError::BadValue("--ssh-user"));
    }
    // Under --root every output path is absolute (it is joined onto the root).
    let root = match pick(cli.root, kernel.root).unwrap_or(b"/") {
        r if r.iter().all(|&b| b == b'/') => &r[..0],
        r => r.strip_suffix(b"/").unwrap_or(r),
    };
    let output = pick(cli.output, kernel.output).unwrap_or(DEFAULT_OUTPUT);
    let report = pick(cli.report, kernel.report);
    let cloud_init_seed = pick(cli.cloud_init_seed, kernel.cloud_init_seed);
    let attributes = pick(cli.attributes, kernel.attributes);
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
        report,
        root,
        ignition: cli.ignition || kernel.ignition,
        ignition_overwrite: cli.ignition_overwrite || kernel.ignition_overwrite,
        ssh_user,
        cloud_init_seed,
        attributes,
        verbose: cli.verbose || kernel.verbose,
    })
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
    let digits = |d: &[u8]| {
        d.iter().try_fold(0u64, |acc, &b| {
            b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64)
        })
    };
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
    let n = num.iter().try_fold(0u64, |acc, &b| {
        b.is_ascii_digit().then(|| acc * 10 + (b - b'0') as u64)
    })?;
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
        let raw = argv(&[
            "--platform",
            "aws",
            "--output=/tmp/x",
            "-v",
            "--timeout",
            "2.5",
            "--max-size",
            "64K",
        ])
        .unwrap();
        let c = resolve(&raw, &Raw::default()).unwrap();
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
        let c = resolve(&argv(&["--platform", "akamai"]).unwrap(), &Raw::default()).unwrap();
        assert_eq!(c.output, DEFAULT_OUTPUT);
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(c.max_size, DEFAULT_MAX_SIZE);
        assert_eq!(c.interface, None);
    }

    #[test]
    fn usage_errors_name_the_option() {
        assert_eq!(argv(&["--bogus"]), Err(UsageError::UnknownOption));
        assert_eq!(
            argv(&["--platform"]),
            Err(UsageError::MissingValue("--platform"))
        );
        assert_eq!(
            argv(&["--output="]),
            Err(UsageError::MissingValue("--output"))
        );
        assert_eq!(argv(&["--help=yes"]), Err(UsageError::UnknownOption));
        let none = Raw::default();
        assert_eq!(resolve(&none, &none), Err(UsageError::NoPlatform));
        fn bad<'a>(a: &'a [&'a str]) -> Result<Config<'a>, UsageError> {
            resolve(&argv(a).unwrap(), &Raw::default())
        }
        assert_eq!(
            bad(&["--platform", "gcp"]),
            Err(UsageError::UnknownPlatform)
        );
        for (opt, v) in [
            ("--timeout", "0"),
            ("--timeout", "abc"),
            ("--timeout", "1.2345"),
            ("--timeout", "99999999"),
            ("--dhcp-timeout", "-1"),
        ] {
            assert_eq!(
                bad(&["--platform", "aws", opt, v]),
                Err(UsageError::BadValue(if opt == "--timeout" {
                    "--timeout"
                } else {
                    "--dhcp-timeout"
                })),
                "{opt} {v}"
            );
        }
        assert_eq!(
            bad(&["--platform", "aws", "--max-size", "0"]),
            Err(UsageError::BadValue("--max-size"))
        );
        assert_eq!(
            bad(&["--platform", "aws", "--max-size", "2G"]),
            Err(UsageError::BadValue("--max-size"))
        );
        assert_eq!(
            bad(&["--platform", "aws", "--address", "static"]),
            Err(UsageError::BadValue("--address"))
        );
        assert_eq!(
            bad(&["--platform", "aws", "--interface", "a/b"]),
            Err(UsageError::BadValue("--interface"))
        );
        assert_eq!(
            bad(&["--platform", "aws", "--interface", "."]),
            Err(UsageError::BadValue("--interface"))
        );
        assert_eq!(
            bad(&["--platform", "aws", "--interface", ".."]),
            Err(UsageError::BadValue("--interface"))
        );
        assert_eq!(
            bad(&["--platform", "aws", "--interface", "sixteen-chars-xx"]),
            Err(UsageError::BadValue("--interface"))
        );
    }

    #[test]
    fn handoff_options() {
        let c = resolve(&argv(&["--platform", "aws"]).unwrap(), &Raw::default()).unwrap();
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
        let c = resolve(&cli, &Raw::default()).unwrap();
        assert!(c.ignition && !c.ignition_overwrite && c.wants_metadata());
        assert_eq!((c.root, c.ssh_user), (&b"/tmp/r"[..], &b"admin"[..]));
        let k = parse_cmdline(b"flint.platform=akamai flint.ignition flint.ignition-overwrite=1 flint.cloud-init-seed=/sysroot/var/lib/cloud/seed/nocloud");
        let c = resolve(&Raw::default(), &k).unwrap();
        assert!(c.ignition && c.ignition_overwrite && c.wants_metadata());
        assert_eq!(
            c.cloud_init_seed,
            Some(&b"/sysroot/var/lib/cloud/seed/nocloud"[..])
        );
        let k = parse_cmdline(b"flint.platform=aws flint.ignition=0");
        assert!(!resolve(&Raw::default(), &k).unwrap().ignition);
        for (opt, v) in [
            ("--ssh-user", "-rf"),
            ("--ssh-user", "a b"),
            ("--ssh-user", "a/b"),
        ] {
            assert_eq!(
                resolve(
                    &argv(&["--platform", "aws", opt, v]).unwrap(),
                    &Raw::default()
                ),
                Err(UsageError::BadValue("--ssh-user"))
            );
        }
        // Relative outputs cannot be put under a root.
        let cli = argv(&["--platform", "aws", "--root", "/r", "--output", "rel/x"]).unwrap();
        assert_eq!(
            resolve(&cli, &Raw::default()),
            Err(UsageError::BadValue("--output"))
        );
    }

    #[test]
    fn kernel_arguments_and_precedence() {
        let k = parse_cmdline(b"BOOT_IMAGE=/vmlinuz root=UUID=1 ignition.platform.id=aws flint.timeout=5 flint.output=\"/run/a b\" flint.verbose quiet\n");
        assert_eq!(k.ignition_platform, Some(&b"aws"[..]));
        assert_eq!(k.output, Some(&b"/run/a b"[..]));
        assert!(k.verbose);
        let c = resolve(&Raw::default(), &k).unwrap();
        assert_eq!(c.platform.id, "aws");
        assert_eq!(c.timeout_ms, 5000);
        // flint.platform beats ignition.platform.id; the command line beats both.
        let k = parse_cmdline(
            b"ignition.platform.id=aws flint.platform=akamai flint.address=link-local",
        );
        assert_eq!(resolve(&Raw::default(), &k).unwrap().platform.id, "akamai");
        let cli = argv(&["--platform", "aws", "--address", "dhcp"]).unwrap();
        let c = resolve(&cli, &k).unwrap();
        assert_eq!((c.platform.id, c.address), ("aws", AddressMode::Dhcp));
        assert_eq!(
            resolve(&Raw::default(), &k).unwrap().address,
            AddressMode::LinkLocal
        );
    }

    #[test]
    fn cmdline_quoting_repeats_and_init_arguments() {
        let k = parse_cmdline(
            b"\"flint.interface=eth1\" flint.timeout=1 flint.timeout=2 -- flint.platform=aws",
        );
        assert_eq!(k.interface, Some(&b"eth1"[..]));
        assert_eq!(k.timeout, Some(&b"2"[..]), "the later occurrence wins");
        assert_eq!(k.platform, None, "arguments after -- belong to init");
        let k = parse_cmdline(b"  flint.platform=  flint.verbose=0 flint.max-size=1M");
        assert_eq!(k.platform, None);
        assert!(!k.verbose);
        assert_eq!(
            resolve(
                &Raw {
                    platform: Some(b"aws"),
                    ..Raw::default()
                },
                &k
            )
            .unwrap()
            .max_size,
            1 << 20
        );
        assert_eq!(parse_cmdline(b""), Raw::default());
        // A bad kernel value is a usage error just like a bad option.
        let k = parse_cmdline(b"flint.platform=aws flint.timeout=soon");
        assert_eq!(
            resolve(&Raw::default(), &k),
            Err(UsageError::BadValue("--timeout"))
        );
    }
}
