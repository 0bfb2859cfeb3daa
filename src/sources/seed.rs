//! cloud-init NoCloud's seed selector, sans-IO: `ds=nocloud;s=URL;h=HOST;i=ID` on the kernel
//! command line or in the SMBIOS system serial number (Proxmox VE and KubeVirt put it there),
//! and the seed URL it names, joined with each file name as cloud-init does.
//!
//! Facts from cloud-init's `cloudinit/sources/DataSourceNoCloud.py` (`parse_cmdline_data`,
//! `load_cmdline_data`) and `cloudinit/util.py` (`read_seeded`):
//! - the text is split at whitespace (Python's `str.split()`; no quoting, and `--` means
//!   nothing here);
//! - the selector is a word `ds=nocloud` or `ds=nocloud-net` (the older name), alone or
//!   followed by `;` and `key=value` items separated by `;`, with no escaping; the last such
//!   word wins, and within it the last value of a key;
//! - `s`/`seedfrom`, `h`/`local-hostname`, `i`/`instance-id`; other keys are ignored, and an
//!   item without `=` sets its key to nothing;
//! - a seed is `http://`, `https://`, `file://` or an absolute path (cloud-init also takes
//!   `ftp://` and `ftps://`, which flint does not speak), schemes in lower case;
//! - each file's URL is the seed with `%s` replaced by the file name when the seed has one;
//!   otherwise the name appended, after a `/` unless the seed ends in one or has a query.
//!
//! Not done: cloud-init's `__dmi.<key>__` substitutions in the seed.

use smoltcp::wire::{IpAddress, Ipv6Address};

use crate::decode::json::Writer;
use crate::net::config::{cut, dec, ipv4, ipv6, word, words};

/// What a `ds=nocloud` word selects.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ds<'a> {
    /// `s=`/`seedfrom=`, parsed; `None` when absent.
    pub seed: Option<Result<Url<'a>, UrlError>>,
    /// `h=`/`local-hostname=`, as given.
    pub hostname: Option<&'a [u8]>,
    /// `i=`/`instance-id=`, as given.
    pub instance_id: Option<&'a [u8]>,
}

/// Finds the selector in a kernel command line or an SMBIOS serial number.
pub fn parse_ds(text: &[u8]) -> Option<Ds<'_>> {
    // What follows `ds=nocloud` or `ds=nocloud-net` in the last such word: empty, or `;…`.
    let mut items = None;
    for w in words(text) {
        if let Some(rest) = w.strip_prefix(b"ds=nocloud") {
            let rest = rest.strip_prefix(b"-net").unwrap_or(rest);
            if rest.first().is_none_or(|&b| b == b';') {
                items = Some(rest);
            }
        }
    }
    let mut ds = Ds { seed: None, hostname: None, instance_id: None };
    let mut rest = cut(items?, b';').1;
    while let Some(r) = rest {
        let (item, next) = cut(r, b';');
        rest = next;
        let (k, v) = cut(item, b'=');
        match word(k, "s|seedfrom|h|local-hostname|i|instance-id") {
            0 | 1 => ds.seed = v.map(Url::parse),
            2 | 3 => ds.hostname = v,
            4 | 5 => ds.instance_id = v,
            _ => {}
        }
    }
    Some(ds)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
    File,
}

/// A URL (a NoCloud seed, or `--url`). For `file`, `host` is empty and `path` the directory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Url<'a> {
    pub scheme: Scheme,
    /// The host as given, without the brackets of an IPv6 literal: a name to resolve, or the
    /// text of `address`.
    pub host: &'a [u8],
    /// `host[:port]` as given: the `Host` field of a request (RFC 9110 §7.2).
    pub authority: &'a [u8],
    /// `host` when it is an IPv4 literal or a bracketed IPv6 literal (RFC 3986 §3.2.2).
    pub address: Option<IpAddress>,
    /// 80 or 443 unless given; 0 for `file`.
    pub port: u16,
    /// Everything after the host and port, the query included; may be empty.
    pub path: &'a [u8],
}

/// Why a seed URL is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UrlError {
    /// Not `http://`, `https://`, `file://` or an absolute path.
    Scheme,
    /// Empty, with user information, an invalid IPv6 literal (or one with a zone), or a
    /// character that is not a letter, digit, `-`, `.` or `_`; any host at all for `file`.
    Host,
    /// Not a decimal 1–65535.
    Port,
    /// A fragment (`#`), a space, a control or a non-ASCII byte.
    Path,
    /// Valid, but not fetched: `file` (flint reads no local seed directories), or a path too
    /// long for a request.
    File,
    Long,
}

impl core::fmt::Display for UrlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            UrlError::Scheme => "URL: not http, https, file or a path",
            UrlError::Host => "URL: unusable host",
            UrlError::Port => "URL: invalid port",
            UrlError::Path => "URL: invalid path",
            UrlError::File => "URL: a local seed directory is not read",
            UrlError::Long => "URL: path too long",
        })
    }
}

impl<'a> Url<'a> {
    /// Parses a seed (see the module docs). The authority ends at the first `/` or `?`
    /// (RFC 3986 §3.2); an empty port is the default one (§3.2.3).
    pub fn parse(t: &'a [u8]) -> Result<Url<'a>, UrlError> {
        let (i, rest) = match cut(t, b':') {
            (s, Some(r)) if r.starts_with(b"//") && word(s, "http|https|file") < 3 => {
                (word(s, "http|https|file"), &r[2..])
            }
            _ if t.starts_with(b"/") => (2, t),
            _ => return Err(UrlError::Scheme),
        };
        let i = usize::from(i);
        let end = rest.iter().position(|&b| b == b'/' || b == b'?').unwrap_or(rest.len());
        let (authority, path) = rest.split_at(end);
        // `[IPv6]` or `[IPv6]:port`; no zone (RFC 6874's `%25` is not for a metadata URL).
        let (host, port, address) = match authority.strip_prefix(b"[") {
            Some(r) => {
                let (literal, after) = cut(r, b']');
                let port = match after {
                    Some([]) => None,
                    Some([b':', p @ ..]) => Some(p),
                    _ => return Err(UrlError::Host),
                };
                let v6 = ipv6(literal).ok_or(UrlError::Host)?;
                (literal, port, Some(IpAddress::Ipv6(Ipv6Address::from(v6))))
            }
            None => {
                let (host, port) = cut(authority, b':');
                (host, port, ipv4(host).map(|[a, b, c, d]| IpAddress::v4(a, b, c, d)))
            }
        };
        let mut url = Url {
            scheme: [Scheme::Http, Scheme::Https, Scheme::File][i],
            host,
            authority,
            address,
            port: [80, 443, 0][i],
            path,
        };
        let good = |b: &u8| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_');
        let ok = if i == 2 {
            authority.is_empty() && !path.is_empty()
        } else {
            !host.is_empty() && (address.is_some() || host.iter().all(good))
        };
        if !ok {
            return Err(UrlError::Host);
        }
        if let Some(p) = port.filter(|p| !p.is_empty()) {
            url.port = dec(p, 65535).filter(|&n| n > 0).ok_or(UrlError::Port)? as u16;
        }
        if path.iter().any(|&b| b <= b' ' || b >= 0x7f || b == b'#') {
            return Err(UrlError::Path);
        }
        Ok(url)
    }

    /// The absolute URL a redirect from this URL names, written into `out` (RFC 9110 §10.2.2:
    /// `Location` is a URI reference, resolved against the request's URL, RFC 3986 §5): an
    /// absolute `http(s)://` URL as it is, a network-path `//host/…` with this scheme, an
    /// absolute path `/…` on this authority. `None` for anything else (a relative path, which
    /// object stores and metadata services do not send), or when it does not fit.
    pub fn redirect<'b>(&self, location: &[u8], out: &'b mut [u8]) -> Option<&'b [u8]> {
        let scheme: &[u8] = if self.scheme == Scheme::Https { b"https:" } else { b"http:" };
        let mut w = Writer::new(out);
        if location.starts_with(b"http://") || location.starts_with(b"https://") {
            w.bytes(location).ok()?;
        } else if location.starts_with(b"//") {
            w.bytes(scheme).ok()?;
            w.bytes(location).ok()?;
        } else if location.starts_with(b"/") {
            for part in [scheme, b"//", self.authority, location] {
                w.bytes(part).ok()?;
            }
        } else {
            return None;
        }
        Some(w.into_slice())
    }

    /// The path of file `name` under this seed, written into `out` (`None` if it does not
    /// fit): for HTTP the request target, always starting with `/`; for `file` the file's path.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn join<'b>(&self, name: &[u8], out: &'b mut [u8]) -> Option<&'b [u8]> {
        let p = self.path;
        let mut w = Writer::new(out);
        if !p.starts_with(b"/") {
            w.bytes(b"/").ok()?;
        }
        let substitute = p.windows(2).any(|x| x == b"%s");
        let mut i = 0;
        while i < p.len() {
            if substitute && p[i..].starts_with(b"%s") {
                w.bytes(name).ok()?;
                i += 2;
            } else {
                w.bytes(&p[i..=i]).ok()?;
                i += 1;
            }
        }
        if !substitute {
            if w.buf[..w.len].last() != Some(&b'/') && cut(p, b'?').1.is_none_or(<[u8]>::is_empty) {
                w.bytes(b"/").ok()?;
            }
            w.bytes(name).ok()?;
        }
        Some(w.into_slice())
    }
}

/// The seed flint fetches: the `s=` of the selector in the SMBIOS serial number, else of the
/// kernel command line's (cloud-init reads the serial first and keeps the first value of a
/// key: `_merge_new_seed`, `mergemanydict`). `Ok(None)`: none named. `Err`: one is named that
/// flint cannot fetch (HTTP, a path that fits `path_max` with the longest file name).
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
pub fn choose<'a>(serial: &'a [u8], cmdline: &'a [u8], path_max: usize) -> Result<Option<Url<'a>>, UrlError> {
    let named = parse_ds(serial).and_then(|d| d.seed).or_else(|| parse_ds(cmdline).and_then(|d| d.seed));
    let Some(url) = named.transpose()? else { return Ok(None) };
    match url.scheme {
        Scheme::File => Err(UrlError::File),
        _ if url.path.len() + b"/user-data".len() > path_max => Err(UrlError::Long),
        Scheme::Http | Scheme::Https => Ok(Some(url)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(t: &str) -> Result<Url<'_>, UrlError> {
        Url::parse(t.as_bytes())
    }

    fn join(t: &str, name: &str) -> std::string::String {
        let mut buf = [0u8; 128];
        let out = url(t).unwrap().join(name.as_bytes(), &mut buf).unwrap();
        std::string::String::from_utf8(out.to_vec()).unwrap()
    }

    extern crate std;

    #[test]
    fn selector_on_the_kernel_command_line_and_in_the_serial() {
        let ds =
            parse_ds(b"BOOT_IMAGE=/vmlinuz ro ds=nocloud;s=http://10.0.0.1:8000/seed/;h=vm1;i=iid-01 quiet").unwrap();
        assert_eq!(
            ds.seed,
            Some(Ok(Url {
                scheme: Scheme::Http,
                host: b"10.0.0.1",
                authority: b"10.0.0.1:8000",
                address: Some(IpAddress::v4(10, 0, 0, 1)),
                port: 8000,
                path: b"/seed/"
            }))
        );
        assert_eq!((ds.hostname, ds.instance_id), (Some(&b"vm1"[..]), Some(&b"iid-01"[..])));
        // Proxmox VE and KubeVirt: the SMBIOS system serial number, long names, the old name.
        let ds =
            parse_ds(b"ds=nocloud-net;seedfrom=https://seed.example.com/vm/;local-hostname=a;instance-id=b").unwrap();
        assert_eq!(
            ds.seed,
            Some(Ok(Url {
                scheme: Scheme::Https,
                host: b"seed.example.com",
                authority: b"seed.example.com",
                address: None,
                port: 443,
                path: b"/vm/"
            }))
        );
        assert_eq!((ds.hostname, ds.instance_id), (Some(&b"a"[..]), Some(&b"b"[..])));
        assert_eq!(parse_ds(b"ds=nocloud"), Some(Ds { seed: None, hostname: None, instance_id: None }));
        // The last word wins, and in it the last value; other keys and empty items are ignored,
        // a key without `=` sets nothing.
        let ds = parse_ds(b"ds=nocloud;h=first ds=nocloud;;h=x;dsmode=net;h=second;i;s").unwrap();
        assert_eq!(ds, Ds { seed: None, hostname: Some(b"second"), instance_id: None });
        assert_eq!(
            parse_ds(b"ds=nocloud;s=file:///var/seed/\tother").unwrap().seed.unwrap().unwrap().path,
            b"/var/seed/"
        );
        for none in [&b""[..], b"ds=nocloudx", b"ds=nocloud-nett;h=x", b"xds=nocloud", b"ds=ec2", b"\"ds=nocloud\""] {
            assert_eq!(parse_ds(none), None, "{none:?}");
        }
        // No escaping: a `;` always separates.
        assert_eq!(parse_ds(b"ds=nocloud;h=a\\;i=b").unwrap().instance_id, Some(&b"b"[..]));
    }

    #[test]
    fn the_serial_number_wins_and_only_http_and_https_are_fetched() {
        let line = b"ro ds=nocloud;s=http://10.0.0.2/line/ quiet";
        let pick = |serial: &'static [u8], line: &'static [u8]| choose(serial, line, 64).map(|u| u.map(|u| u.path));
        assert_eq!(pick(b"ds=nocloud;s=http://10.0.0.1:8000/dmi/", line), Ok(Some(&b"/dmi/"[..])));
        assert_eq!(pick(b"", line), Ok(Some(&b"/line/"[..])));
        assert_eq!(pick(b"", b"ds=nocloud;s=https://seed.example/vm/"), Ok(Some(&b"/vm/"[..])));
        // A serial selector without a seed names none: the command line's still counts.
        assert_eq!(pick(b"ds=nocloud;h=vm1", line), Ok(Some(&b"/line/"[..])));
        assert_eq!(pick(b"VMware-56 4d", b"ro quiet"), Ok(None));
        assert_eq!(pick(b"", b"ds=nocloud;h=vm1"), Ok(None));
        for (line, e) in [
            (&b"ds=nocloud;s=file:///var/seed/"[..], UrlError::File),
            (b"ds=nocloud;s=/var/seed/", UrlError::File),
            (b"ds=nocloud;s=ftp://10.0.0.1/", UrlError::Scheme),
            (
                b"ds=nocloud-net;s=http://10.0.0.1/0123456789012345678901234567890123456789012345678901234/",
                UrlError::Long,
            ),
        ] {
            assert_eq!(pick(b"", line), Err(e), "{}", std::string::String::from_utf8_lossy(line));
        }
        // A path that fits with `/user-data` (63 of 64 bytes).
        assert!(
            pick(b"", b"ds=nocloud-net;s=http://10.0.0.1/012345678901234567890123456789012345678901234567890/").is_ok()
        );
    }

    #[test]
    fn redirects_resolve_against_the_request_url() {
        let base = Url::parse(b"https://bucket.s3.example:8443/k?X-Amz-Signature=1").unwrap();
        let to = |loc: &[u8]| {
            let mut out = [0u8; 128];
            base.redirect(loc, &mut out).map(|u| u.to_vec())
        };
        assert_eq!(to(b"http://other.example/x").unwrap(), b"http://other.example/x");
        assert_eq!(to(b"//mirror.example/y?z").unwrap(), b"https://mirror.example/y?z");
        assert_eq!(to(b"/other/key?q=1").unwrap(), b"https://bucket.s3.example:8443/other/key?q=1");
        assert_eq!(to(b"relative/path"), None);
        assert_eq!(to(b"ftp://x/"), None);
        let mut tiny = [0u8; 8];
        assert_eq!(base.redirect(b"/a-long-path", &mut tiny), None);
    }

    #[test]
    fn seed_urls() {
        assert_eq!(
            url("http://seed:8080"),
            Ok(Url {
                scheme: Scheme::Http,
                host: b"seed",
                authority: b"seed:8080",
                address: None,
                port: 8080,
                path: b""
            })
        );
        assert_eq!(
            url("http://seed:/x?y"),
            Ok(Url {
                scheme: Scheme::Http,
                host: b"seed",
                authority: b"seed:",
                address: None,
                port: 80,
                path: b"/x?y"
            })
        );
        assert_eq!(url("http://h?q").unwrap().path, b"?q");
        // IPv6 literals (RFC 3986 §3.2.2): the host without brackets, the authority as given.
        let v6 = url("http://[fd00:ec2::254]:8080/latest/user-data?a=b").unwrap();
        assert_eq!((v6.host, v6.authority, v6.port), (&b"fd00:ec2::254"[..], &b"[fd00:ec2::254]:8080"[..], 8080));
        assert_eq!(v6.address, Some(IpAddress::v6(0xfd00, 0xec2, 0, 0, 0, 0, 0, 0x254)));
        assert_eq!(v6.path, b"/latest/user-data?a=b");
        assert_eq!(url("http://[::1]").unwrap().port, 80);
        assert_eq!(url("http://metadata/x").unwrap().address, None, "a name, resolved later");
        assert_eq!(
            url("/var/lib/seed").unwrap(),
            Url { scheme: Scheme::File, host: b"", authority: b"", address: None, port: 0, path: b"/var/lib/seed" }
        );
        assert_eq!(url("file:///seed/").unwrap().path, b"/seed/");
        for (t, e) in [
            ("ftp://h/", UrlError::Scheme),
            ("HTTP://h/", UrlError::Scheme),
            ("seed/", UrlError::Scheme),
            ("http:/h/", UrlError::Scheme),
            ("", UrlError::Scheme),
            ("http://", UrlError::Host),
            ("http:///x", UrlError::Host),
            ("http://:80/", UrlError::Host),
            ("http://user@h/", UrlError::Host),
            ("http://[::1%25eth0]/", UrlError::Host),
            ("http://[::1]x/", UrlError::Host),
            ("http://[10.0.0.1]/", UrlError::Host),
            ("http://[::1/", UrlError::Host),
            ("http://h%20/", UrlError::Host),
            ("file://host/seed/", UrlError::Host),
            ("file://", UrlError::Host),
            ("http://h:0/", UrlError::Port),
            ("http://h:65536/", UrlError::Port),
            ("http://h:8o/", UrlError::Port),
            ("http://h:1:2/", UrlError::Port),
            ("http://h/a#b", UrlError::Path),
            ("http://h/a\x7f", UrlError::Path),
            ("http://h/\u{e9}", UrlError::Path),
        ] {
            assert_eq!(url(t), Err(e), "{t:?}");
        }
    }

    #[test]
    fn joining_file_names_as_cloud_init_does() {
        for (seed, want) in [
            ("http://h", "/user-data"),
            ("http://h/", "/user-data"),
            ("http://h/a", "/a/user-data"),
            ("http://h/a/", "/a/user-data"),
            // A query: no `/` added (util.read_seeded), even when that glues the name on.
            ("http://h/a?x=1", "/a?x=1user-data"),
            ("http://h?x=", "/?x=user-data"),
            // An empty query is no query.
            ("http://h/a?", "/a?/user-data"),
            ("http://h/%s.yaml", "/user-data.yaml"),
            ("http://h/?f=%s&g=%s", "/?f=user-data&g=user-data"),
            ("http://h/%", "/%/user-data"),
            ("file:///var/seed", "/var/seed/user-data"),
            ("/var/seed/", "/var/seed/user-data"),
        ] {
            assert_eq!(join(seed, "user-data"), want, "{seed}");
        }
        let u = url("http://h/a/").unwrap();
        assert_eq!(u.join(b"meta-data", &mut [0u8; 12]), Some(&b"/a/meta-data"[..]));
        assert_eq!(u.join(b"meta-data", &mut [0u8; 11]), None, "too small: nothing");
        assert_eq!(UrlError::Port.to_string(), "URL: invalid port");
    }
}
