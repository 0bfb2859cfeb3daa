//! Kernel command line and argv parsing (src/args.rs) on raw bytes, then `resolve`, checked
//! against a model of the documented rules written with std's parsers: the first problem in the
//! order --url (or `ignition.config.url=` on `metal`), platform, --family, --address, --timeout,
//! --dhcp-timeout, --max-size, --inline-max, --interface, --ssh-user,
//! then the output paths under --root is the one reported, and every accepted value is in range.
//! Every slice handed back lies inside the input.
#![no_main]

use arbitrary::Unstructured;
use flint::args::{self, AddressMode, Family, Raw, UsageError};
use flint::sources::seed::{Scheme, Url, UrlError};
use flint::sources::service::PATH_MAX;
use flint_fuzz::raw_options;
use libfuzzer_sys::fuzz_target;

fn inside(v: &[u8], input: &[u8]) -> bool {
    let (a, b) = (input.as_ptr() as usize, v.as_ptr() as usize);
    v.is_empty() || (b >= a && b + v.len() <= a + input.len())
}

fn values<'a>(r: &Raw<'a>) -> Vec<Option<&'a [u8]>> {
    raw_options(r).iter().map(|o| o.2).collect()
}

/// `SECONDS` with up to three decimals, 0 < s <= one day, in milliseconds (README, options).
fn seconds(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let (int, frac) = s.split_once('.').unwrap_or((s, ""));
    let digits = |d: &str| d.bytes().all(|b| b.is_ascii_digit());
    if !digits(int) || !digits(frac) || (int.is_empty() && frac.is_empty()) || int.len() > 6 || frac.len() > 3 {
        return None;
    }
    let ms = if int.is_empty() { 0 } else { int.parse::<u64>().ok()? * 1000 }
        + if frac.is_empty() { 0 } else { format!("{frac:0<3}").parse::<u64>().ok()? };
    (1..=24 * 3600 * 1000).contains(&ms).then_some(ms)
}

/// `BYTES[K|M|G]`, binary suffixes, 0 < size <= 1 GiB.
fn size(v: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(v).ok()?;
    let (num, unit) = match s.char_indices().last()? {
        (i, 'K' | 'k') => (&s[..i], 1u64 << 10),
        (i, 'M' | 'm') => (&s[..i], 1 << 20),
        (i, 'G' | 'g') => (&s[..i], 1 << 30),
        _ => (s, 1),
    };
    if num.is_empty() || num.len() > 10 || !num.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let n = num.parse::<u64>().ok()?.checked_mul(unit)?;
    (1..=1 << 30).contains(&n).then_some(n)
}

fn pick<'a>(a: Option<&'a [u8]>, b: Option<&'a [u8]>) -> Option<&'a [u8]> {
    a.or(b)
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let split = u.arbitrary::<u16>().unwrap_or(0) as usize;
    let rest = u.take_rest();
    let (text, argv_bytes) = rest.split_at(split.min(rest.len()));

    let kernel = args::parse_cmdline(text);
    for v in values(&kernel).into_iter().flatten() {
        assert!(!v.is_empty(), "empty kernel values are dropped");
        assert!(inside(v, text), "value not taken from the command line");
    }
    let argv: Vec<&[u8]> = if argv_bytes.is_empty() { Vec::new() } else { argv_bytes.split(|&b| b == 0).collect() };
    let cli = match args::parse_argv(argv.iter().copied()) {
        Ok(c) => c,
        Err(e) => {
            assert!(matches!(e, UsageError::UnknownOption | UsageError::MissingValue(_)), "{e:?}");
            return;
        }
    };
    for v in values(&cli).into_iter().flatten() {
        assert!(!v.is_empty() && inside(v, argv_bytes));
    }

    // No SMBIOS hint: `auto` is then an unknown machine (the hint's own rules: platform::dmi).
    let got = args::resolve(&cli, &kernel, None);
    let want = (|| {
        // A URL names the source: `--url`/`flint.url=`, else Ignition's own on bare metal. Its
        // grammar is the seed URL's (tested in src/sources/seed.rs); here: http or https, a
        // path that fits a request.
        let metal = cli.platform.or(kernel.platform).is_none() && kernel.ignition_platform == Some(&b"metal"[..]);
        let url = pick(cli.url, kernel.url).or(kernel.ignition_url.filter(|_| metal));
        let platform: &[u8] = match url {
            Some(u) => {
                let parsed = Url::parse(u).map_err(UsageError::Url)?;
                match parsed.scheme {
                    Scheme::File => return Err(UsageError::Url(UrlError::File)),
                    _ if parsed.path.len() > PATH_MAX => return Err(UsageError::Url(UrlError::Long)),
                    Scheme::Http | Scheme::Https => b"url",
                }
            }
            // `auto` is flint's own word (`--platform`, `flint.platform=`), never Ignition's.
            None if cli.platform.or(kernel.platform) == Some(&b"auto"[..]) => return Err(UsageError::UnknownMachine),
            None => {
                let id = cli.platform.or(kernel.platform).or(kernel.ignition_platform).ok_or(UsageError::NoPlatform)?;
                // Every platform in flint::platform::ALL, by its id.
                let Some(platform) = flint::platform::ALL.iter().map(|p| p.id.as_bytes()).find(|p| *p == id) else {
                    return Err(UsageError::UnknownPlatform);
                };
                platform
            }
        };
        let family = match pick(cli.family, kernel.family) {
            None | Some(b"any") => Family::Any,
            Some(b"ipv4") => Family::V4,
            Some(b"ipv6") => Family::V6,
            Some(_) => return Err(UsageError::BadValue("--family")),
        };
        let address = match pick(cli.address, kernel.address) {
            None | Some(b"auto") => AddressMode::Auto,
            Some(b"dhcp") => AddressMode::Dhcp,
            Some(b"link-local") => AddressMode::LinkLocal,
            Some(_) => return Err(UsageError::BadValue("--address")),
        };
        let timeout = pick(cli.timeout, kernel.timeout)
            .map_or(Some(args::DEFAULT_TIMEOUT_MS), seconds)
            .ok_or(UsageError::BadValue("--timeout"))?;
        let dhcp = pick(cli.dhcp_timeout, kernel.dhcp_timeout)
            .map_or(Some(args::DEFAULT_DHCP_TIMEOUT_MS), seconds)
            .ok_or(UsageError::BadValue("--dhcp-timeout"))?;
        let max = pick(cli.max_size, kernel.max_size)
            .map_or(Some(args::DEFAULT_MAX_SIZE), size)
            .ok_or(UsageError::BadValue("--max-size"))?;
        let inline = pick(cli.inline_max, kernel.inline_max)
            .map_or(Some(args::DEFAULT_MAX_SIZE), size)
            .ok_or(UsageError::BadValue("--inline-max"))?;
        let interface = pick(cli.interface, kernel.interface);
        // IFNAMSIZ 16 with the NUL; no '/', ':' or whitespace/control bytes in a name, and not
        // "." or ".." (the kernel's dev_valid_name()).
        let bad_name = |n: &[u8]| {
            n.len() > 15 || n == b"." || n == b".." || n.iter().any(|&b| b == b'/' || b == b':' || b <= b' ')
        };
        if interface.is_some_and(bad_name) {
            return Err(UsageError::BadValue("--interface"));
        }
        // useradd's portable names: letters, digits, '_', '-', '.', no leading '-', at most 32.
        let user = pick(cli.ssh_user, kernel.ssh_user).unwrap_or(args::DEFAULT_SSH_USER);
        let portable = |b: &u8| b.is_ascii_alphanumeric() || b"_-.".contains(b);
        if user.len() > 32 || user.starts_with(b"-") || !user.iter().all(portable) {
            return Err(UsageError::BadValue("--ssh-user"));
        }
        // The root loses its trailing '/' ("/" and "///" become empty: no prefix); under a
        // root every output path must be absolute.
        let root = pick(cli.root, kernel.root).unwrap_or(b"/");
        let root = if root.iter().all(|&b| b == b'/') { &root[..0] } else { root.strip_suffix(b"/").unwrap_or(root) };
        let outputs = [
            (Some(pick(cli.output, kernel.output).unwrap_or(args::DEFAULT_OUTPUT)), "--output"),
            (pick(cli.report, kernel.report), "--report"),
            (pick(cli.cloud_init_seed, kernel.cloud_init_seed), "--cloud-init-seed"),
            (pick(cli.attributes, kernel.attributes), "--attributes"),
        ];
        if !root.is_empty()
            && let Some((_, name)) = outputs.iter().find(|(p, _)| p.is_some_and(|p| !p.starts_with(b"/")))
        {
            return Err(UsageError::BadValue(name));
        }
        Ok((platform, family, address, timeout, dhcp, (max, inline), interface, user, root))
    })();
    match (got, want) {
        (Ok(c), Ok((platform, family, address, timeout, dhcp, (max, inline), interface, user, root))) => {
            assert_eq!(c.platform.id.as_bytes(), platform);
            assert_eq!(c.inline_max, inline);
            assert_eq!(c.ca_bundle, pick(cli.ca_bundle, kernel.ca_bundle));
            assert_eq!(c.family, family);
            assert_eq!(c.url.is_some(), platform == b"url");
            assert_eq!(
                (c.address, c.timeout_ms, c.dhcp_timeout_ms, c.max_size, c.interface),
                (address, timeout, dhcp, max, interface)
            );
            assert_eq!((c.ssh_user, c.root), (user, root));
            assert_eq!(
                c.output,
                pick(cli.output, kernel.output).unwrap_or(args::DEFAULT_OUTPUT),
                "the command line wins, then the kernel, then the default"
            );
            assert_eq!(c.report, pick(cli.report, kernel.report));
            assert_eq!(c.cloud_init_seed, pick(cli.cloud_init_seed, kernel.cloud_init_seed));
            assert_eq!(c.attributes, pick(cli.attributes, kernel.attributes));
            // An input: whatever was given, never joined to the root.
            assert_eq!(c.drive, pick(cli.drive, kernel.drive));
            assert_eq!(c.verbose, cli.verbose || kernel.verbose);
            assert_eq!(c.ignition, cli.ignition || kernel.ignition);
            assert_eq!(c.ignition_overwrite, cli.ignition_overwrite || kernel.ignition_overwrite);
            assert_eq!(c.wants_metadata(), c.ignition || c.cloud_init_seed.is_some() || c.attributes.is_some());
        }
        (got, want) => assert_eq!(got.map(|_| ()), want.map(|_| ()), "resolve disagrees with the documented rules"),
    }
});
