//! The URL parser (`sources::seed::Url::parse`, `join`, `redirect`) on any bytes and on URLs
//! built from known parts (scheme, a host name, an IPv4 or IPv6 literal in several spellings,
//! user information or a zone, port forms, path segments and queries such as S3 SigV4
//! presigned ones, one bad byte). Built URLs must give exactly the parts they were built from,
//! or the first error in flint's order (scheme, host, port, path). On every input:
//! - each slice returned lies inside the input; the input is `scheme://authority` + `path`,
//!   `authority` is `host[:port]` (IPv6 in brackets) as given; the port is the written decimal
//!   or the scheme's default; `address` is what std's `Ipv4Addr`/`Ipv6Addr` read from `host`;
//! - an http(s) URL flint accepts, the `url` crate (WHATWG) accepts too, with the same scheme,
//!   port, host (a name lower-cased; the same address) and path+query bytes. Where WHATWG
//!   legitimately differs nothing is compared: a name whose last label is a number (RFC 3986
//!   §3.2.2 makes `1.2.3.256` or `010.0.0.1` a reg-name, WHATWG an IPv4 address or an error),
//!   an IDNA `xn--` label (WHATWG decodes it), and paths it rewrites (dot segments, `\`, the
//!   characters it percent-encodes);
//! - `redirect` and `join` against models of their docs (`join` always starts with `/`; a
//!   redirect to a path keeps the scheme and authority and parses back to them).
#![no_main]

use std::net::{Ipv4Addr, Ipv6Addr};

use arbitrary::Arbitrary;
use flint::sources::seed::{Scheme, Url, UrlError};
use libfuzzer_sys::fuzz_target;
use smoltcp::wire::IpAddress;

#[derive(Arbitrary, Debug)]
enum HostKind {
    Name(Vec<u8>),
    V4([u8; 4]),
    /// The address and its spelling: compressed, full, full with leading zeros, upper case,
    /// with a dotted-quad tail.
    V6([u8; 16], u8),
    /// A valid host with `user@` before it, or an IPv6 literal with a zone.
    UserInfo(Vec<u8>),
    Zone([u8; 16]),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum PortKind {
    None,
    Empty,
    Num(u16),
    LeadingZero(u16),
    Big(u32),
    Bytes(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
enum QueryKind {
    None,
    Empty,
    /// An S3 SigV4 presigned query as boto3 writes it (RFC 3986 unreserved characters and
    /// `%2F`), with the fuzzer's signature bytes.
    SigV4 {
        signature: [u8; 32],
        expires: u32,
    },
    Text(Vec<u8>),
}

#[derive(Arbitrary, Debug)]
struct Built {
    /// 0 http, 1 https, 2 file, 3 an absolute path, 4 `HTTP`, 5 `ftp`.
    scheme: u8,
    host: HostKind,
    port: PortKind,
    segments: Vec<Vec<u8>>,
    trailing_slash: bool,
    query: QueryKind,
    /// One byte flint refuses in a path (space, `#`, a control, DEL, non-ASCII), at a place.
    bad: Option<(u8, u16)>,
}

#[derive(Arbitrary, Debug)]
struct Input {
    raw: Option<Vec<u8>>,
    built: Built,
    location: Vec<u8>,
    /// 0 any bytes; 1 an absolute path; 2 a network path; 3 `http://` + the bytes; 4 `https://`.
    location_kind: u8,
    name: Vec<u8>,
    out: u16,
}

const NAME: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._";
/// RFC 3986 pchar without `%` (whose escapes WHATWG may read as dot segments).
const PCHAR: &[u8] = b"abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-._~!$&'()*+,;=:@";

fn pick(alphabet: &[u8], bytes: &[u8]) -> Vec<u8> {
    bytes.iter().map(|&b| alphabet[b as usize % alphabet.len()]).collect()
}

fn v6_text(o: [u8; 16], form: u8) -> String {
    let a = Ipv6Addr::from(o);
    let g = a.segments();
    match form % 5 {
        0 => a.to_string(),
        1 => g.iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":"),
        2 => g.iter().map(|x| format!("{x:04x}")).collect::<Vec<_>>().join(":"),
        3 => a.to_string().to_ascii_uppercase(),
        _ => {
            let head = g[..6].iter().map(|x| format!("{x:x}")).collect::<Vec<_>>().join(":");
            format!("{head}:{}.{}.{}.{}", o[12], o[13], o[14], o[15])
        }
    }
}

/// What a built URL must parse to: its scheme, address and port, or the first error.
type Expected = Result<(Scheme, Option<IpAddress>, u16), UrlError>;

/// The text and the answer flint must give, when the parts say it.
fn build(b: &Built) -> (Vec<u8>, Option<Expected>) {
    let scheme = b.scheme % 6;
    let mut host = Vec::new();
    let mut expect_host: Result<Option<IpAddress>, ()> = Ok(None);
    let mut known = true;
    match &b.host {
        HostKind::Name(n) => {
            host = pick(NAME, n);
            if host.is_empty() {
                expect_host = Err(());
            } else if let Ok(a) = std::str::from_utf8(&host).unwrap().parse::<Ipv4Addr>() {
                expect_host = Ok(Some(IpAddress::Ipv4(a)));
            }
        }
        HostKind::V4(o) => {
            host = Ipv4Addr::from(*o).to_string().into_bytes();
            expect_host = Ok(Some(IpAddress::Ipv4(Ipv4Addr::from(*o))));
        }
        HostKind::V6(o, form) => {
            host = format!("[{}]", v6_text(*o, *form)).into_bytes();
            expect_host = Ok(Some(IpAddress::Ipv6(Ipv6Addr::from(*o))));
        }
        HostKind::UserInfo(n) => {
            host = b"user@".to_vec();
            host.extend(pick(NAME, n));
            expect_host = Err(());
        }
        HostKind::Zone(o) => {
            host = format!("[{}%25eth0]", Ipv6Addr::from(*o)).into_bytes();
            expect_host = Err(());
        }
        HostKind::Bytes(n) => {
            host.extend(n);
            known = false;
        }
    }
    let mut port_text: Option<Vec<u8>> = None;
    let mut expect_port: Result<Option<u16>, ()> = Ok(None);
    match &b.port {
        PortKind::None => {}
        PortKind::Empty => port_text = Some(Vec::new()),
        PortKind::Num(n) => {
            port_text = Some(n.to_string().into_bytes());
            expect_port = if *n == 0 { Err(()) } else { Ok(Some(*n)) };
        }
        PortKind::LeadingZero(n) => {
            port_text = Some(format!("0{n}").into_bytes());
            expect_port = Err(());
        }
        PortKind::Big(n) => {
            port_text = Some((65536 + u64::from(*n)).to_string().into_bytes());
            expect_port = Err(());
        }
        PortKind::Bytes(p) => {
            port_text = Some(p.clone());
            known = false;
        }
    }
    let mut path = Vec::new();
    for s in &b.segments {
        path.push(b'/');
        path.extend(pick(PCHAR, s));
    }
    if b.trailing_slash {
        path.push(b'/');
    }
    match &b.query {
        QueryKind::None => {}
        QueryKind::Empty => path.push(b'?'),
        QueryKind::SigV4 { signature, expires } => {
            let sig: String = signature.iter().map(|x| format!("{x:02x}")).collect();
            path.extend(
                format!(
                    "?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20261203%2F\
                     us-east-1%2Fs3%2Faws4_request&X-Amz-Date=20261203T165500Z&X-Amz-Expires={}\
                     &X-Amz-SignedHeaders=host&X-Amz-Signature={sig}",
                    expires % 604_801
                )
                .bytes(),
            );
        }
        QueryKind::Text(t) => {
            path.push(b'?');
            path.extend(pick(PCHAR, t));
            path.extend(b"/?");
        }
    }
    let mut expect_path = Ok(());
    if let Some((byte, at)) = b.bad {
        let byte = match byte % 5 {
            0 => b' ',
            1 => b'#',
            2 => byte % 0x20,
            3 => 0x7f,
            _ => 0x80 | byte,
        };
        // After the first byte, so the byte cannot end the authority or start the path.
        let at = 1 + usize::from(at) % path.len().max(1);
        if path.is_empty() {
            path.push(b'/');
        }
        path.insert(at.min(path.len()), byte);
        expect_path = Err(());
    }
    let mut text = Vec::new();
    let expect = match scheme {
        0 | 1 => {
            text.extend(if scheme == 0 { &b"http://"[..] } else { b"https://" });
            text.extend(&host);
            if let Some(p) = &port_text {
                text.push(b':');
                text.extend(p);
            }
            text.extend(&path);
            let s = [Scheme::Http, Scheme::Https][usize::from(scheme)];
            let default = [80, 443][usize::from(scheme)];
            match (expect_host, expect_port, expect_path) {
                (Err(()), ..) => Some(Err(UrlError::Host)),
                (_, Err(()), _) => Some(Err(UrlError::Port)),
                (_, _, Err(())) => Some(Err(UrlError::Path)),
                (Ok(a), Ok(p), Ok(())) => Some(Ok((s, a, p.unwrap_or(default)))),
            }
        }
        2 => {
            // A file seed has no authority and must name a directory.
            text.extend(b"file://");
            text.extend(&path);
            known = true;
            Some(match (path.is_empty(), expect_path) {
                (true, _) => Err(UrlError::Host),
                (_, Err(())) => Err(UrlError::Path),
                _ => Ok((Scheme::File, None, 0)),
            })
        }
        3 => {
            text.extend(&path);
            known = true;
            Some(match (path.first(), expect_path) {
                (Some(b'/'), Err(())) => Err(UrlError::Path),
                (Some(b'/'), Ok(())) => Ok((Scheme::File, None, 0)),
                _ => Err(UrlError::Scheme),
            })
        }
        _ => {
            text.extend(if scheme == 4 { &b"HTTP://"[..] } else { b"ftp://" });
            text.extend(&host);
            text.extend(&path);
            known = true;
            Some(Err(UrlError::Scheme))
        }
    };
    (text, if known { expect } else { None })
}

fn inside(part: &[u8], whole: &[u8]) -> bool {
    let (p, w) = (part.as_ptr() as usize, whole.as_ptr() as usize);
    part.is_empty() || (p >= w && p + part.len() <= w + whole.len())
}

/// WHATWG's "ends in a number": the last label (a trailing dot dropped) is decimal digits or
/// `0x` and hex digits; such a host is an IPv4 address to WHATWG, a name to RFC 3986.
fn ends_in_number(host: &[u8]) -> bool {
    let mut labels: Vec<&[u8]> = host.split(|&b| b == b'.').collect();
    if labels.len() > 1 && labels.last().is_some_and(|l| l.is_empty()) {
        labels.pop();
    }
    let last = labels.last().copied().unwrap_or_default();
    (!last.is_empty() && last.iter().all(u8::is_ascii_digit))
        || ((last.starts_with(b"0x") || last.starts_with(b"0X")) && last[2..].iter().all(u8::is_ascii_hexdigit))
}

/// A path+query WHATWG keeps byte for byte: no `\` or character it percent-encodes, no dot
/// segment (also spelled `%2e`).
fn whatwg_keeps(path: &[u8]) -> bool {
    if path.iter().any(|b| b"\\\"<>^`{}|'".contains(b)) {
        return false;
    }
    let before_query = path.split(|&b| b == b'?').next().unwrap_or_default();
    let lower = String::from_utf8_lossy(before_query).to_ascii_lowercase().replace("%2e", ".");
    !lower.split('/').any(|s| s == "." || s == "..")
}

fn check_parsed(text: &[u8], u: &Url<'_>) {
    for part in [u.host, u.authority, u.path] {
        assert!(inside(part, text), "a slice outside the input");
    }
    assert!(u.path.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b'#'), "{:?}", u.path);
    if u.scheme == Scheme::File {
        assert!(u.host.is_empty() && u.authority.is_empty() && u.address.is_none() && u.port == 0);
        assert!(!u.path.is_empty());
        assert!(text == u.path || [&b"file://"[..], u.path].concat() == text);
        return;
    }
    let prefix: &[u8] = if u.scheme == Scheme::Https { b"https://" } else { b"http://" };
    assert_eq!([prefix, u.authority, u.path].concat(), text, "the input is scheme, authority and path");
    assert!(u.path.is_empty() || u.path[0] == b'/' || u.path[0] == b'?');
    assert!(!u.host.is_empty());
    let (host_part, port_text) = match u.authority.strip_prefix(b"[") {
        Some(r) => {
            let end = r.iter().position(|&b| b == b']').expect("a bracket closes the literal");
            let after = &r[end + 1..];
            assert!(after.is_empty() || after[0] == b':');
            (&r[..end], after.get(1..).filter(|_| !after.is_empty()))
        }
        None => match u.authority.iter().position(|&b| b == b':') {
            Some(i) => (&u.authority[..i], Some(&u.authority[i + 1..])),
            None => (u.authority, None),
        },
    };
    assert_eq!(u.host, host_part, "host is the authority's host as given");
    let default = if u.scheme == Scheme::Https { 443 } else { 80 };
    match port_text.filter(|p| !p.is_empty()) {
        None => assert_eq!(u.port, default),
        Some(p) => {
            assert_eq!(std::str::from_utf8(p).unwrap().parse::<u16>().ok(), Some(u.port));
            assert!(u.port > 0 && p[0] != b'0', "no leading zero or port 0");
        }
    }
    let host = std::str::from_utf8(u.host).expect("an accepted host is ASCII");
    if u.authority.starts_with(b"[") {
        let a: Ipv6Addr = host.parse().expect("std reads the IPv6 literal flint took");
        assert_eq!(u.address, Some(IpAddress::Ipv6(a)));
    } else {
        assert_eq!(u.address, host.parse::<Ipv4Addr>().ok().map(IpAddress::Ipv4), "{host}");
        if u.address.is_none() {
            assert!(u.host.iter().all(|b| NAME.contains(b)), "{host}");
        }
    }
    // WHATWG.
    let s = std::str::from_utf8(text).unwrap();
    let name = u.address.is_none();
    let numeric = name && ends_in_number(u.host);
    let idna = name && u.host.split(|&b| b == b'.').any(|l| l.len() >= 4 && l[..4].eq_ignore_ascii_case(b"xn--"));
    let w = match url::Url::parse(s) {
        Ok(w) => w,
        Err(e) => {
            assert!(numeric || idna, "flint accepts {s:?}, WHATWG refuses it: {e}");
            return;
        }
    };
    assert_eq!(w.scheme(), if u.scheme == Scheme::Https { "https" } else { "http" });
    assert_eq!(w.port_or_known_default(), Some(u.port), "{s:?}");
    match w.host() {
        Some(url::Host::Ipv4(a)) => {
            if u.address.is_some() {
                assert_eq!(u.address, Some(IpAddress::Ipv4(a)), "{s:?}");
            } else {
                assert!(numeric, "{s:?}: WHATWG reads an IPv4 address in {host:?}");
            }
        }
        Some(url::Host::Ipv6(a)) => assert_eq!(u.address, Some(IpAddress::Ipv6(a)), "{s:?}"),
        Some(url::Host::Domain(d)) => {
            assert!(name, "{s:?}: WHATWG reads a name {d:?}");
            if !idna {
                assert_eq!(d, host.to_ascii_lowercase(), "{s:?}");
            }
        }
        None => panic!("{s:?}: WHATWG reads no host"),
    }
    if whatwg_keeps(u.path) {
        let want = if u.path.first() == Some(&b'/') { u.path.to_vec() } else { [&b"/"[..], u.path].concat() };
        assert_eq!(w[url::Position::BeforePath..url::Position::AfterQuery].as_bytes(), want, "{s:?}: path and query");
    }
}

/// `join` by its docs: `%s` replaced by the name wherever it is, else the name appended after
/// a `/` unless the path ends in one or has a non-empty query; always starting with `/`.
fn join_model(path: &[u8], name: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    if !path.starts_with(b"/") {
        out.push(b'/');
    }
    let substitute = path.windows(2).any(|w| w == b"%s");
    let mut i = 0;
    while i < path.len() {
        if substitute && path[i..].starts_with(b"%s") {
            out.extend(name);
            i += 2;
        } else {
            out.push(path[i]);
            i += 1;
        }
    }
    if !substitute {
        let query = path.iter().position(|&b| b == b'?').map(|q| &path[q + 1..]);
        if out.last() != Some(&b'/') && query.is_none_or(<[u8]>::is_empty) {
            out.push(b'/');
        }
        out.extend(name);
    }
    out
}

fn check_join(u: &Url<'_>, name: &[u8], out: usize) {
    let want = join_model(u.path, name);
    let mut buf = vec![0u8; out];
    let got = u.join(name, &mut buf);
    if want.len() <= out {
        assert_eq!(got, Some(&want[..]), "join");
        assert_eq!(got.unwrap()[0], b'/');
    } else {
        assert_eq!(got, None, "join past the buffer");
    }
}

fn check_redirect(u: &Url<'_>, location: &[u8], out: usize) {
    let scheme: &[u8] = if u.scheme == Scheme::Https { b"https:" } else { b"http:" };
    let want = if location.starts_with(b"http://") || location.starts_with(b"https://") {
        Some(location.to_vec())
    } else if location.starts_with(b"//") {
        Some([scheme, location].concat())
    } else if location.starts_with(b"/") {
        Some([scheme, b"//", u.authority, location].concat())
    } else {
        None
    };
    let mut buf = vec![0u8; out];
    let got = u.redirect(location, &mut buf);
    match &want {
        Some(w) if w.len() <= out => assert_eq!(got, Some(&w[..]), "redirect"),
        _ => assert_eq!(got, None, "redirect: none, or past the buffer"),
    }
    let Some(got) = got else { return };
    let again = Url::parse(got);
    if location.starts_with(b"//") {
        // A network path keeps the scheme.
        if let Ok(r) = again {
            assert_eq!(r.scheme, u.scheme);
        }
    } else if location.starts_with(b"/") {
        // An absolute path keeps scheme and authority; it parses back unless it is no path.
        let valid = location.iter().all(|&b| (0x21..0x7f).contains(&b) && b != b'#');
        let want = Url { path: location, ..*u };
        if valid {
            let r = again.expect("a redirect to a valid path parses");
            assert_eq!(
                (r.scheme, r.host, r.authority, r.address, r.port, r.path),
                (want.scheme, want.host, want.authority, want.address, want.port, want.path)
            );
        } else {
            assert_eq!(again, Err(UrlError::Path));
        }
    } else if let Ok(r) = again {
        // An absolute URL is taken as it is, its own scheme too (a downgrade is the caller's
        // to refuse).
        let https = location.starts_with(b"https:");
        assert_eq!(r.scheme, if https { Scheme::Https } else { Scheme::Http });
    }
}

fn run(text: &[u8], input: &Input) -> Result<(), UrlError> {
    let u = Url::parse(text)?;
    check_parsed(text, &u);
    let out = usize::from(input.out % 2048);
    check_join(&u, &input.name, out);
    if u.scheme != Scheme::File {
        let location = match input.location_kind % 5 {
            0 => input.location.clone(),
            1 => [&b"/"[..], &input.location].concat(),
            2 => [&b"//"[..], &input.location].concat(),
            3 => [&b"http://"[..], &input.location].concat(),
            _ => [&b"https://"[..], &input.location].concat(),
        };
        check_redirect(&u, &location, out);
    }
    Ok(())
}

fuzz_target!(|input: Input| {
    if let Some(raw) = &input.raw {
        let _ = run(raw, &input);
    }
    let (text, expect) = build(&input.built);
    let got = Url::parse(&text);
    if let Some(expect) = expect {
        let got_parts = got.map(|u| (u.scheme, u.address, u.port));
        assert_eq!(got_parts, expect, "{:?}", String::from_utf8_lossy(&text));
    }
    let _ = run(&text, &input);
});
