//! Static network configuration, sans-IO: what the kernel command line (dracut's `ip=` and
//! `nameserver=`), a cloud-init `network-config` (version 1 or 2) or an OpenStack
//! `network_data.json` says about each NIC, reduced to what flint's IPv4 stack can use.
//!
//! Why: many VPS clouds (Proxmox VE, NoCloud seeds, KubeVirt) run no DHCP server. The address
//! is on the kernel command line or on the config drive, next to the user-data, and flint must
//! read it before it can reach anything.
//!
//! The model is [`NetConfig`]: up to [`IFACES_MAX`] interfaces, each matched by MAC, by name or
//! matching any NIC, each with a static IPv4 address or DHCPv4; up to [`DNS_MAX`] IPv4 and as
//! many IPv6 name servers, and the search domains. flint configures IPv6 itself (router
//! advertisements, DHCPv6: `net::ndp`, `net::dhcpv6`), so static IPv6 addresses, gateways and
//! methods are parsed and validated but not kept, only counted in `ipv6_skipped`; IPv6 name
//! servers are kept. What flint cannot represent at all (bonds, bridges, VLANs, static
//! routes other than the default one, NICs matched by driver or by glob) is counted in
//! `skipped`.
//!
//! Rules common to every source:
//! - an IPv4 address is a dotted quad of decimal numbers 0–255 without leading zeros (inet_aton
//!   would read `010` as octal; Python's `ipaddress`, which cloud-init uses, refuses it);
//! - an IPv6 address is RFC 4291 §2.2 text: eight groups of 1–4 hex digits, one `::` for one or
//!   more zero groups, an IPv4 dotted quad as the last 32 bits;
//! - a netmask is a dotted quad whose ones are contiguous (else an error), or a prefix length;
//! - an interface name is what the kernel's `dev_valid_name()` accepts: 1–15 bytes (IFNAMSIZ
//!   less the NUL), not `.` or `..`, no `/`, `:`, space or control byte; names are bytes, not
//!   UTF-8, so [`Match::Name`] holds bytes;
//! - a MAC address is six hex pairs separated by `:` (or `-`), in either case.
//!
//! Every input is untrusted: no recursion, every loop bounded by the input, no panic on any
//! bytes (the `ip_args` and `network_config` fuzz targets hold the parsers to that).

use core::fmt;
use core::mem::take;

use crate::decode::cmdline;
use crate::decode::json::{self, Event};

/// Interfaces kept.
pub const IFACES_MAX: usize = 4;
/// Name servers kept: resolv.conf(5) MAXNS; later ones are ignored, as the resolver does.
pub const DNS_MAX: usize = 3;
/// Bytes of search domains kept: resolv.conf(5)'s historical limit on the `search` line (glibc
/// before 2.26: six domains, 256 characters); a domain that does not fit is ignored.
pub const SEARCH_MAX: usize = 256;

/// An interface name (see the module docs).
pub type IfName = heapless::Vec<u8, 15>;

/// Which NIC an [`Iface`] is for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Match {
    /// Any NIC (`ip=` without an interface).
    Any,
    Mac([u8; 6]),
    Name(IfName),
}

/// A static IPv4 configuration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Static {
    pub address: [u8; 4],
    /// 0–32.
    pub prefix: u8,
    /// The default route's next hop.
    pub gateway: Option<[u8; 4]>,
}

/// How an interface gets its IPv4 address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Static(Static),
    Dhcp,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Iface {
    pub matcher: Match,
    pub method: Method,
}

/// A network configuration; see the module docs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NetConfig {
    pub ifaces: heapless::Vec<Iface, IFACES_MAX>,
    /// IPv4 name servers, in order, without repeats.
    pub dns: heapless::Vec<[u8; 4], DNS_MAX>,
    /// IPv6 name servers, in order, without repeats.
    pub dns6: heapless::Vec<[u8; 16], DNS_MAX>,
    /// Search domains, in order, without repeats, separated by one space: resolv.conf's
    /// `search` line. [`NetConfig::search_domains`] lists them.
    pub search: heapless::Vec<u8, SEARCH_MAX>,
    /// IPv6 addresses, gateways, routes and methods seen and not kept.
    pub ipv6_skipped: u8,
    /// Configuration flint cannot represent: virtual devices, other routes, NICs matched by
    /// driver or glob, second addresses, interfaces past [`IFACES_MAX`] in a document.
    pub skipped: u8,
}

impl NetConfig {
    /// The interface `mac`/`name` should use: one matched by MAC first, then by name, then one
    /// that matches any NIC.
    pub fn for_nic(&self, mac: [u8; 6], name: &[u8]) -> Option<&Iface> {
        let (mut best, mut rank) = (None, 3);
        for i in &self.ifaces {
            let r = match &i.matcher {
                Match::Mac(m) if *m == mac => 0,
                Match::Name(n) if n == name => 1,
                Match::Any => 2,
                _ => 3,
            };
            if r < rank {
                (best, rank) = (Some(i), r);
            }
        }
        best
    }

    /// The search domains, in order.
    pub fn search_domains(&self) -> impl Iterator<Item = &[u8]> {
        words(&self.search)
    }

    #[inline(never)]
    fn v6(&mut self) {
        self.ipv6_skipped = self.ipv6_skipped.saturating_add(1);
    }

    #[inline(never)]
    fn skip(&mut self) {
        self.skipped = self.skipped.saturating_add(1);
    }

    fn dns_ip(&mut self, a: Ip) {
        match a {
            Ip::V4(a) if !self.dns.contains(&a) => _ = self.dns.push(a),
            Ip::V4(_) => {}
            Ip::V6(a) if !self.dns6.contains(&a) => _ = self.dns6.push(a),
            Ip::V6(_) => {}
        }
    }

    /// Name servers from a document: one address, or several separated by whitespace
    /// (cloud-init splits a string where it expects a list, `_normalize_subnet`).
    fn add_dns(&mut self, text: &[u8]) -> Result<(), Invalid> {
        for t in words(text) {
            self.dns_ip(ip(t).ok_or(Invalid::Dns)?);
        }
        Ok(())
    }

    /// Search domains, split like [`NetConfig::add_dns`]: letters, digits, `-`, `_`, `.`, at
    /// most 253 bytes (RFC 1035 §2.3.4 less the length octets).
    fn add_search(&mut self, text: &[u8]) -> Result<(), Invalid> {
        for d in words(text) {
            if d.len() > 253 || !d.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.')) {
                return Err(Invalid::Search);
            }
            if self.search_domains().all(|s| s != d) && self.search.len() + 1 + d.len() <= SEARCH_MAX {
                if !self.search.is_empty() {
                    _ = self.search.push(b' ');
                }
                _ = self.search.extend_from_slice(d);
            }
        }
        Ok(())
    }

    /// Adds an interface from a document. A second entry for the same NIC only turns DHCP into
    /// a static address; interfaces past [`IFACES_MAX`] are skipped, so a VM with more NICs
    /// still boots on the first ones.
    #[inline(never)]
    fn add(&mut self, i: Iface) {
        match self.ifaces.iter_mut().find(|x| x.matcher == i.matcher) {
            Some(x) if x.method == Method::Dhcp && i.method != Method::Dhcp => x.method = i.method,
            Some(_) => self.skip(),
            None => {
                if self.ifaces.push(i).is_err() {
                    self.skip();
                }
            }
        }
    }
}

/// What is wrong with a value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Invalid {
    /// `ip=` has more fields than its form allows, or a MAC split into other than 6.
    Fields,
    /// An `ip=` method dracut does not know, or one flint cannot do (`ibft`, `bootp`, `rarp`).
    Method,
    Interface,
    /// Several `ip=` arguments, and a DHCP one names no interface (dracut's `parse-ip-opts.sh`).
    NeedsInterface,
    /// An `ip=` client address without `none`/`off`, or with a DHCP method.
    Conflict,
    /// A static configuration without an address (or, in `ip=`, without a netmask).
    Missing,
    Address,
    Peer,
    Gateway,
    Netmask,
    /// An IPv4 address with an IPv6 gateway, or the reverse.
    Family,
    Dns,
    Mtu,
    Mac,
    Search,
    /// Two `ip=` arguments for the same interface.
    Duplicate,
    /// More than [`IFACES_MAX`] `ip=` arguments.
    TooMany,
}

impl fmt::Display for Invalid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Invalid::Fields => "wrong number of fields",
            Invalid::Method => "unknown or unsupported method",
            Invalid::Interface => "invalid interface name",
            Invalid::NeedsInterface => "several ip=: DHCP needs an interface",
            Invalid::Conflict => "a client address needs none or off",
            Invalid::Missing => "static without address or netmask",
            Invalid::Address => "invalid address",
            Invalid::Peer => "invalid peer",
            Invalid::Gateway => "invalid gateway",
            Invalid::Netmask => "invalid netmask",
            Invalid::Family => "address and gateway differ in IP version",
            Invalid::Dns => "invalid name server",
            Invalid::Mtu => "invalid MTU",
            Invalid::Mac => "invalid MAC address",
            Invalid::Search => "invalid search domain",
            Invalid::Duplicate => "interface configured twice",
            Invalid::TooMany => "more than 4 interfaces",
        })
    }
}

/// A refused kernel argument: which one (`ip` or `nameserver`, and its place among those, from
/// 1) and why.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ArgError {
    pub arg: &'static str,
    pub nth: u8,
    pub why: Invalid,
}

impl fmt::Display for ArgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}= #{}: {}", self.arg, self.nth, self.why)
    }
}

/// A refused `network-config` or `network_data.json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConfigError {
    /// The scanner refused the document.
    Document,
    /// `version` is missing, not 1 or 2, or does not fit the document's keys.
    Version,
    Invalid(Invalid),
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Document => f.write_str("not a valid document"),
            ConfigError::Version => f.write_str("no network config version 1 or 2"),
            ConfigError::Invalid(why) => why.fmt(f),
        }
    }
}

/// An address, as far as flint keeps it. Aligned so that it moves as one word, not byte by
/// byte (measured smaller).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(align(4))]
enum Ip {
    V4([u8; 4]),
    V6([u8; 16]),
}

fn ip(t: &[u8]) -> Option<Ip> {
    match ipv4(t) {
        Some(a) => Some(Ip::V4(a)),
        None => ipv6(t).map(Ip::V6),
    }
}

/// `t` split at its first `sep`: what comes before, and what comes after when there was one.
pub(crate) fn cut(t: &[u8], sep: u8) -> (&[u8], Option<&[u8]>) {
    match t.iter().position(|&b| b == sep) {
        Some(i) => (&t[..i], t.get(i + 1..)),
        None => (t, None),
    }
}

/// The non-empty whitespace-separated words of `t`.
pub(crate) fn words(t: &[u8]) -> Pieces<'_> {
    Pieces { rest: t, sep: b' ' }
}

/// The non-empty pieces of `t` between `sep`s (`,`-separated lists, lines).
pub(crate) fn pieces(t: &[u8], sep: u8) -> Pieces<'_> {
    Pieces { rest: t, sep }
}

/// The iterator of [`words`] and [`pieces`]: one `next` for every such loop, smaller than
/// `split().filter()` (measured).
pub(crate) struct Pieces<'a> {
    rest: &'a [u8],
    /// `b' '` stands for any ASCII white space.
    sep: u8,
}

impl<'a> Iterator for Pieces<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        let is_sep = |b: &u8| if self.sep == b' ' { b.is_ascii_whitespace() } else { *b == self.sep };
        let start = self.rest.iter().position(|b| !is_sep(b))?;
        let rest = &self.rest[start..];
        let end = rest.iter().position(is_sep).unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

/// The place of `t` in `list` (`|`-separated words), or `u8::MAX`: one loop over data, where
/// a `match` on byte strings would compile to a comparison per word.
pub(crate) fn word(t: &[u8], list: &str) -> u8 {
    list.as_bytes().split(|&b| b == b'|').position(|w| w == t).map_or(u8::MAX, |i| i as u8)
}

/// A decimal number without leading zeros, at most `max`.
pub(crate) fn dec(t: &[u8], max: u32) -> Option<u32> {
    if t.is_empty() || t.len() > 5 || (t[0] == b'0' && t.len() > 1) {
        return None;
    }
    let mut n = 0;
    for &d in t {
        if !d.is_ascii_digit() {
            return None;
        }
        n = n * 10 + u32::from(d - b'0');
    }
    (n <= max).then_some(n)
}

/// A dotted quad (see the module docs).
pub fn ipv4(t: &[u8]) -> Option<[u8; 4]> {
    let mut a = [0; 4];
    let mut rest = Some(t);
    for o in &mut a {
        let (part, next) = cut(rest?, b'.');
        *o = dec(part, 255)? as u8;
        rest = next;
    }
    rest.is_none().then_some(a)
}

/// RFC 4291 §2.2 text (see the module docs); zone indices (`%eth0`) are refused. Also what
/// URLs (`http://[fd00:ec2::254]/`) hold, so flint needs no second IPv6 parser.
pub fn ipv6(t: &[u8]) -> Option<[u8; 16]> {
    let gap = t.windows(2).position(|w| w == b"::");
    let (head, tail) = match gap {
        Some(i) => (&t[..i], &t[i + 2..]),
        None => (t, &t[..0]),
    };
    // The dotted quad may only end the address: in `tail` after a gap, else in `head`.
    let (mut h, mut n) = ([0u8; 16], [0u8; 16]);
    let hn = groups(head, gap.is_none(), &mut h)?;
    let tn = groups(tail, true, &mut n)?;
    if gap.map_or(hn != 8, |_| hn + tn > 7) {
        return None;
    }
    // The tail's groups end the address; the gap is zeros.
    h[16 - 2 * tn..].copy_from_slice(&n[..2 * tn]);
    Some(h)
}

/// Reads the 16-bit groups of `t` (`:`-separated; empty is none) into `out`, big-endian; how
/// many there are.
fn groups(t: &[u8], quad_last: bool, out: &mut [u8; 16]) -> Option<usize> {
    let mut n = 0;
    let mut rest = (!t.is_empty()).then_some(t);
    while let Some(r) = rest {
        let (g, next) = cut(r, b':');
        rest = next;
        if let Some(q) = ipv4(g).filter(|_| quad_last && next.is_none()) {
            out.get_mut(2 * n..2 * n + 4)?.copy_from_slice(&q);
            n += 2;
        } else if (1..=4).contains(&g.len()) && g.iter().all(u8::is_ascii_hexdigit) {
            let v = g.iter().fold(0u16, |v, &d| v << 4 | (d as char).to_digit(16).unwrap_or(0) as u16);
            out.get_mut(2 * n..2 * n + 2)?.copy_from_slice(&v.to_be_bytes());
            n += 1;
        } else {
            return None;
        }
    }
    Some(n)
}

/// A netmask as a prefix length: a contiguous dotted mask, a decimal 0–128, or an IPv6 mask
/// (`ffff:ffff::`, as in OpenStack's `network_data.json`) read as 128, which is no IPv4 prefix.
/// IPv6 prefixes are validated, not kept.
fn mask(t: &[u8]) -> Option<u8> {
    if let Some(m) = ipv4(t) {
        let m = u32::from_be_bytes(m);
        return (m.leading_ones() + m.trailing_zeros() == 32).then_some(m.leading_ones() as u8);
    }
    dec(t, 128).map(|p| p as u8).or_else(|| ipv6(t).map(|_| 128))
}

/// `address[/prefix]`, the prefix as [`mask`] reads it (cloud-init accepts a dotted mask there).
fn cidr(t: &[u8]) -> Option<(Ip, Option<u8>)> {
    let (a, p) = cut(t, b'/');
    Some((
        ip(a)?,
        match p {
            Some(p) => Some(mask(p)?),
            None => None,
        },
    ))
}

// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn hex(b: u8) -> Option<u8> {
    let l = b | 0x20;
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        _ if (b'a'..=b'f').contains(&l) => Some(l - b'a' + 10),
        _ => None,
    }
}

/// `xx:xx:xx:xx:xx:xx` or `xx-xx-xx-xx-xx-xx`.
pub fn mac(t: &[u8]) -> Option<[u8; 6]> {
    let t: &[u8; 17] = t.try_into().ok()?;
    let mut m = [0; 6];
    for (i, o) in m.iter_mut().enumerate() {
        if i < 5 && t[3 * i + 2] != t[2] || !matches!(t[2], b':' | b'-') {
            return None;
        }
        *o = hex(t[3 * i])? << 4 | hex(t[3 * i + 1])?;
    }
    Some(m)
}

/// A valid interface name (see the module docs), cut to 15 bytes when `cut` (cloud-init's v1
/// docs: "Names exceeding the maximum will be truncated").
fn ifname(t: &[u8], cut: bool) -> Option<IfName> {
    let t = if cut { &t[..t.len().min(15)] } else { t };
    let ok = !matches!(t, b"" | b"." | b"..") && t.iter().all(|&b| b > b' ' && b != b'/' && b != b':' && b != 0x7f);
    IfName::from_slice(t).ok().filter(|_| ok)
}

/// An address with its gateway, both given or not: the IPv4 configuration, or `None` for IPv6
/// (counted, with its gateway).
fn static_ip(c: &mut NetConfig, (a, prefix): (Ip, u8), g: Option<Ip>) -> Result<Option<Static>, Invalid> {
    match (a, g) {
        (Ip::V4(_), Some(Ip::V6(_))) | (Ip::V6(_), Some(Ip::V4(_))) => Err(Invalid::Family),
        (Ip::V4(address), _) if prefix <= 32 => {
            let gateway = match g {
                Some(Ip::V4(g)) => Some(g),
                _ => None,
            };
            Ok(Some(Static { address, prefix, gateway }))
        }
        (Ip::V4(_), _) => Err(Invalid::Netmask),
        (Ip::V6(_), _) => {
            c.v6();
            if g.is_some() {
                c.v6();
            }
            Ok(None)
        }
    }
}

/// Reads dracut's `ip=` and `nameserver=` arguments (dracut.cmdline(7)) from a kernel command
/// line; `None` when there are none.
///
/// Words are split as for flint's own options ([`cmdline::args`]: quotes, nothing after `--`).
/// Each `ip=` value is cut into fields as dracut's `ip_to_var` (`modules.d/45net-lib/net-lib.sh`)
/// does: at `:`, except that a field starting with `[` runs to the first `]` followed by `:` or
/// the end, when some such `]` has at least two `:` before it (an IPv6 address). Then, by the
/// second field:
///
/// - one field: `ip=METHOD[,METHOD…]` for any NIC;
/// - second field `dhcp`, `on`, `any`, `dhcp6`, `auto6`, `either6` or `link6` (the last from
///   dracut.cmdline(7); `ip_to_var` forgets it): `ip=IFACE:METHOD[:MTU[:MAC]]`;
/// - otherwise `ip=CLIENT:PEER:GATEWAY:NETMASK:HOSTNAME:IFACE:METHOD` followed by
///   `[:MTU[:MAC]]`, or by `:DNS1[:DNS2]` when the eighth field contains `.` or `:` (dracut:
///   "looks like an IP").
///
/// A MAC comes in one field or split over six; trailing empty fields are ignored; more fields
/// than the form has are an error (dracut ignores them). The MTU (68–65535, RFC 791) and MAC
/// are validated and not kept: dracut *sets* them on the NIC, and flint never changes a NIC.
/// The peer and hostname are not kept either.
///
/// Methods, comma-separated (`parse-ip-opts.sh`): `none`/`off` is static and needs an address
/// and a netmask (dotted or a prefix length; only a prefix length for IPv6); `dhcp`, `on`,
/// `any`, `single-dhcp` are DHCPv4 and refuse a client address; `dhcp6` too, counted as IPv6;
/// `auto6`, `link6`, `either6` are IPv6 only, counted. An empty method is `dhcp` (dracut warns).
/// Anything else is an error: `ibft`, `bootp`, `rarp`, `both` included (flint reads no iBFT).
/// Stricter than dracut: a client address needs `none` or `off` whatever else is listed.
///
/// Several `ip=`: one per interface (a second for the same interface, or a second without one,
/// is an error), and each DHCP one must name its interface (dracut dies on both; flint reports
/// that last, once every argument is read). At most [`IFACES_MAX`].
///
/// `nameserver=ADDRESS` may repeat, and may hold a comma list; an IPv6 address may be in
/// brackets. `DNS1`/`DNS2` of `ip=` join the same list.
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
pub fn from_kernel_args(cmdline: &[u8]) -> Result<Option<NetConfig>, ArgError> {
    let mut c = NetConfig::default();
    let mut seen = heapless::Vec::new();
    let mut nth = [0u8; 2];
    // The first `ip=` that is DHCP without an interface: an error if there are several.
    let mut lone_dhcp = None;
    for (key, value) in cmdline::args(cmdline) {
        let (Some(v), k @ 0..=1) = (value, word(key, "ip|nameserver")) else { continue };
        let k = usize::from(k);
        nth[k] = nth[k].saturating_add(1);
        let r = if k == 0 {
            ip_arg(&mut c, &mut seen, v).map(|dhcp_anywhere| {
                if dhcp_anywhere {
                    lone_dhcp = lone_dhcp.or(Some(nth[0]));
                }
            })
        } else {
            pieces(v, b',').try_for_each(|s| {
                let s = s.strip_prefix(b"[").and_then(|s| s.strip_suffix(b"]")).unwrap_or(s);
                c.dns_ip(ip(s).ok_or(Invalid::Dns)?);
                Ok(())
            })
        };
        r.map_err(|why| ArgError { arg: ["ip", "nameserver"][k], nth: nth[k], why })?;
    }
    if let Some(nth) = lone_dhcp.filter(|_| nth[0] > 1) {
        return Err(ArgError { arg: "ip", nth, why: Invalid::NeedsInterface });
    }
    Ok((nth != [0; 2]).then_some(c))
}

/// `ip=` methods: 0–1 static, 2–5 DHCPv4 (`single-dhcp` is no method of the interface form),
/// 6 `dhcp6`, 7–9 IPv6 only.
const METHODS: &str = "none|off|single-dhcp|dhcp|on|any|dhcp6|auto6|either6|link6";

/// One `ip=` value; see [`from_kernel_args`]. `seen` holds the interface of every earlier
/// `ip=` (empty for none). Says whether this is DHCP for any NIC, which is an error when there
/// are several `ip=` (checked once all are read). Checks run in a fixed order (the fuzz model
/// follows it): fields, methods, interface, conflict, missing, address, peer, gateway, netmask,
/// family, DNS, MTU, MAC, duplicate, too many.
#[inline(never)]
fn ip_arg(c: &mut NetConfig, seen: &mut heapless::Vec<IfName, IFACES_MAX>, v: &[u8]) -> Result<bool, Invalid> {
    let mut f = [&v[..0]; 14];
    let n = fields(v, &mut f).ok_or(Invalid::Fields)?;
    let none = &v[..0];
    let form = if n == 1 {
        0
    } else if (3..=9).contains(&word(f[1], METHODS)) {
        1
    } else {
        2
    };
    let (st, dev, how, start) = match form {
        0 => ([none; 4], none, f[0], 1),
        1 => ([none; 4], f[0], f[1], 2),
        _ => ([f[0], f[1], f[2], f[3]], f[5], f[6], 7),
    };
    let mut tail = f.get(start..n).unwrap_or_default();
    while let [rest @ .., b""] = tail {
        tail = rest;
    }
    let is_dns = form == 2 && tail.first().is_some_and(|d| d.iter().any(|&b| b == b'.' || b == b':'));
    let (dns, mtu, macs) = match tail {
        _ if is_dns => (tail, none, &tail[..0]),
        [] => (tail, none, tail),
        [mtu, macs @ ..] => (&tail[..0], *mtu, macs),
    };
    if dns.len() > 2 || !matches!(macs.len(), 0 | 1 | 6) {
        return Err(Invalid::Fields);
    }
    // `dhcp`: any DHCP method (they refuse a client address); `dhcp4`: the ones flint runs.
    let (mut stat, mut dhcp, mut dhcp4) = (false, false, false);
    let how: &[u8] = if how.is_empty() { b"dhcp" } else { how };
    for m in pieces(how, b',') {
        match word(m, METHODS) {
            0..=1 => stat = true,
            2..=5 => (dhcp, dhcp4) = (true, true),
            6 => {
                dhcp = true;
                c.v6();
            }
            7..=9 => c.v6(),
            _ => return Err(Invalid::Method),
        }
    }
    let name = if dev.is_empty() { IfName::new() } else { ifname(dev, false).ok_or(Invalid::Interface)? };
    let [addr, peer, gw, netmask] = st;
    if !addr.is_empty() && (!stat || dhcp) {
        return Err(Invalid::Conflict);
    }
    if stat && (addr.is_empty() || netmask.is_empty()) {
        return Err(Invalid::Missing);
    }
    let address = some_ip(addr, Invalid::Address)?;
    some_ip(peer, Invalid::Peer)?;
    let gateway = some_ip(gw, Invalid::Gateway)?;
    let mut method = dhcp4.then_some(Method::Dhcp);
    if let Some(a) = address {
        let prefix = match a {
            Ip::V4(_) => mask(netmask).filter(|&p| p <= 32),
            Ip::V6(_) => dec(netmask, 128).map(|p| p as u8),
        };
        if let Some(s) = static_ip(c, (a, prefix.ok_or(Invalid::Netmask)?), gateway)? {
            method = Some(Method::Static(s));
        }
    }
    for &d in dns {
        c.dns_ip(ip(d).ok_or(Invalid::Dns)?);
    }
    if !mtu.is_empty() && dec(mtu, 65535).is_none_or(|m| m < 68) {
        return Err(Invalid::Mtu);
    }
    let mac_ok = match macs {
        [m] => mac(m).is_some(),
        _ => macs.iter().all(|p| p.len() == 2 && p.iter().all(u8::is_ascii_hexdigit)),
    };
    if !mac_ok {
        return Err(Invalid::Mac);
    }
    if seen.contains(&name) {
        return Err(Invalid::Duplicate);
    }
    seen.push(name.clone()).map_err(|_| Invalid::TooMany)?;
    if let Some(method) = method {
        let matcher = if name.is_empty() { Match::Any } else { Match::Name(name) };
        _ = c.ifaces.push(Iface { matcher, method });
    }
    Ok(dev.is_empty() && dhcp)
}

/// An optional `ip=` address field: empty is none, anything else must be an address.
#[inline(never)]
fn some_ip(t: &[u8], why: Invalid) -> Result<Option<Ip>, Invalid> {
    if t.is_empty() { Ok(None) } else { ip(t).ok_or(why).map(Some) }
}

/// Cuts an `ip=` value into `f` as `ip_to_var` does (see [`from_kernel_args`]); `None` when
/// there are more fields than `f` holds, other than empty ones at the end.
// Out of line though called once: measured smaller so.
#[inline(never)]
fn fields<'a>(v: &'a [u8], f: &mut [&'a [u8]; 14]) -> Option<usize> {
    let mut rest = v;
    for (n, slot) in f.iter_mut().enumerate() {
        // dracut appends a `:` to the value, so the end of the value ends a field too.
        let (field, next) = bracketed(rest).unwrap_or_else(|| cut(rest, b':'));
        *slot = field;
        match next {
            Some(r) => rest = r,
            None => return Some(n + 1),
        }
    }
    rest.iter().all(|&b| b == b':').then_some(f.len())
}

/// `[…]` at the start of `rest` as one field, the way `ip_to_var` tests it (the shell pattern
/// `[*:*:*]:` on the value with a `:` appended) and takes it (up to the first `]:`).
fn bracketed(rest: &[u8]) -> Option<(&[u8], Option<&[u8]>)> {
    if rest.first() != Some(&b'[') {
        return None;
    }
    let (mut first, mut ok, mut colons) = (None, false, 0);
    for (i, &b) in rest.iter().enumerate().skip(1) {
        if b == b']' && rest.get(i + 1).is_none_or(|&b| b == b':') {
            first = first.or(Some(i));
            ok |= colons >= 2;
        }
        colons += usize::from(b == b':');
    }
    let i = first.filter(|_| ok)?;
    Some((&rest[1..i], rest.get(i + 2..)))
}

/// Runs a scanner (`json::scan`, `yaml::scan`) over one document, handing every event to the
/// callback it is given; says whether the document was well formed.
pub type Scan<'s> = dyn FnMut(&mut dyn FnMut(Event, Option<&[u8]>)) -> bool + 's;

/// Reads a cloud-init `network-config`, version 1 or 2 (cloud-init's
/// `doc/rtd/reference/network-config-format-v1.rst` and `-v2.rst`), with or without a top-level
/// `network:` key. `scan` runs a scanner over the document (`decode::yaml::scan`, or
/// `json::scan` for the JSON form), handing every event to the callback it is given, and says
/// whether the document was well formed. Scalars may come as strings (YAML) or numbers (JSON);
/// a boolean is `true`, `yes` or `on` (YAML 1.1 spellings), anything else is false.
///
/// Version 1: `config` lists entries by `type`. A `physical` entry is matched by `mac_address`,
/// else by `name` (cut to 15 bytes, as the docs say cloud-init does); its `subnets` are
/// `static`/`static6` (an `address` that may carry `/prefix`, else `netmask` or `prefix`, else
/// /24 as cloud-init's `_normalize_net_keys` defaults; a `gateway`), `dhcp`/`dhcp4` (DHCP),
/// `dhcp6` and `ipv6_*` (counted as IPv6), `manual` (nothing), anything else skipped. A
/// `nameserver` entry's `address` and `search` lists, and every subnet's `dns_nameservers` and
/// `dns_search`, are global. Other types (`bond`, `bridge`, `vlan`, `route`) are skipped.
///
/// Version 2: each `ethernets` entry is matched by `match.macaddress`, else by `match.name`,
/// else by its id; one matched by `driver` or by a glob is skipped (flint knows neither). It
/// has `dhcp4`, `dhcp6` (counted), `addresses` (`address/prefix`), `gateway4`, `gateway6`
/// (counted), `routes` and `nameservers: {addresses, search}`. `bonds`, `bridges`, `vlans`,
/// `wifis` entries are skipped.
///
/// Both: the first static IPv4 address of an interface wins over DHCP (it needs no server) and
/// further ones are skipped; its first IPv4 default route is the gateway (a subnet's `gateway`,
/// `gateway4`, or a route `to: default`, to `0.0.0.0/0`, or to network `0.0.0.0` with netmask
/// `0.0.0.0`); other routes are skipped. An interface without IPv4 configuration is left out.
pub fn from_network_config(scan: &mut Scan<'_>) -> Result<NetConfig, ConfigError> {
    let mut r = Reader::new(C);
    r.run(scan)?;
    match (r.version, r.v1, r.v2) {
        (0, _, false) | (1, false, _) => Ok(r.c),
        _ => Err(ConfigError::Version),
    }
}

/// Reads OpenStack's `network_data.json` (the config drive's and the metadata service's
/// `openstack/latest/network_data.json`; cloud-init's `convert_net_json` reads the same
/// fields). Each network of type `ipv4` (or `static`) or `ipv4_dhcp` is an interface matched by
/// its link's `ethernet_mac_address`; `ip_address`, `netmask` and a route to network `0.0.0.0`
/// with netmask `0.0.0.0` give the address, prefix and gateway. IPv6 networks (`ipv6`,
/// `ipv6_dhcp`, `ipv6_slaac`, …) are counted; a network on a `vlan` or `bond` link, on a link
/// without a MAC or on no known link is skipped. `services` of type `dns`, top-level or in a
/// network, are the name servers. The document is read twice (links first, then networks),
/// since JSON members come in any order.
pub fn from_network_data(doc: &[u8]) -> Result<NetConfig, ConfigError> {
    let mut r = Reader::new(L);
    r.run(&mut |on| json::scan(doc, on).is_ok())?;
    r.mode = N;
    r.run(&mut |on| json::scan(doc, on).is_ok())?;
    Ok(r.c)
}

/// Longest path read: `config[].subnets[].routes[].gateway`, under a top-level `network`.
const DEPTH: usize = 7;
/// OpenStack links remembered, and the longest link id kept (Nova's are `tap` and 11
/// characters, or a 36-character UUID).
const LINKS_MAX: usize = 8;
const ID_MAX: usize = 48;

/// The member names that matter; a name's code is its place in this list plus one (0 for any
/// other name). `bonds` and the three after it all read as [`k::VIRTUAL`].
const KEYS: &str = "network|version|config|type|name|mac_address|subnets|address|netmask|prefix|gateway|\
dns_nameservers|dns_search|search|routes|destination|ethernets|match|macaddress|dhcp4|dhcp6|addresses|gateway4|\
gateway6|to|via|nameservers|links|id|ethernet_mac_address|networks|link|ip_address|services|bonds|bridges|vlans|wifis";

/// Path codes: [`KEYS`], and three for patterns.
mod k {
    pub const NETWORK: u8 = 1;
    pub const VERSION: u8 = 2;
    pub const CONFIG: u8 = 3;
    pub const TYPE: u8 = 4;
    pub const NAME: u8 = 5;
    pub const MAC_ADDRESS: u8 = 6;
    pub const SUBNETS: u8 = 7;
    pub const ADDRESS: u8 = 8;
    pub const NETMASK: u8 = 9;
    pub const PREFIX: u8 = 10;
    pub const GATEWAY: u8 = 11;
    pub const DNS_NAMESERVERS: u8 = 12;
    pub const DNS_SEARCH: u8 = 13;
    pub const SEARCH: u8 = 14;
    pub const ROUTES: u8 = 15;
    pub const DESTINATION: u8 = 16;
    pub const ETHERNETS: u8 = 17;
    pub const MATCH: u8 = 18;
    pub const MACADDRESS: u8 = 19;
    pub const DHCP4: u8 = 20;
    pub const DHCP6: u8 = 21;
    pub const ADDRESSES: u8 = 22;
    pub const GATEWAY4: u8 = 23;
    pub const GATEWAY6: u8 = 24;
    pub const TO: u8 = 25;
    pub const VIA: u8 = 26;
    pub const NAMESERVERS: u8 = 27;
    pub const LINKS: u8 = 28;
    pub const ID: u8 = 29;
    pub const ETHERNET_MAC_ADDRESS: u8 = 30;
    pub const NETWORKS: u8 = 31;
    pub const LINK: u8 = 32;
    pub const IP_ADDRESS: u8 = 33;
    pub const SERVICES: u8 = 34;
    pub const VIRTUAL: u8 = 35;
    /// An array element.
    pub const ITEM: u8 = 60;
    /// In a pattern: any one member name.
    pub const ANY: u8 = 61;
    /// In a pattern, first or last: any run of path elements.
    pub const REST: u8 = 62;
}

fn key(t: &[u8]) -> u8 {
    word(t, KEYS).saturating_add(1).min(k::VIRTUAL)
}

/// Modes ([`Reader::mode`]) and events, as the bits of [`Rule::on`].
const C: u8 = 1;
const L: u8 = 2;
const N: u8 = 4;
const KEY: u8 = 8;
const VALUE: u8 = 16;
const END: u8 = 32;

/// What a [`Rule`] does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Act {
    V1,
    V2,
    V2Entry,
    Skip,
    Version,
    V1Type,
    Name,
    MatchName,
    Mac,
    Unmatchable,
    Dns,
    Search,
    To,
    ToMask,
    Via,
    ServiceType,
    ServiceAddress,
    Link,
    LinkType,
    Kind,
    Address,
    Mask,
    Gateway,
    Dhcp4,
    Dhcp6,
    V2Address,
    V2Gateway,
    Route,
    Service,
    Subnet,
    Entry,
    LinkEnd,
    Network,
}

/// "On these events in these modes, at a path that fits, do this": the documents' grammar as
/// data. The first rule that fits wins.
struct Rule {
    on: u8,
    act: Act,
    path: [u8; DEPTH],
}

const fn rule(on: u8, act: Act, p: &[u8]) -> Rule {
    let mut path = [0; DEPTH];
    let mut i = 0;
    while i < p.len() {
        path[i] = p[i];
        i += 1;
    }
    Rule { on, act, path }
}

#[rustfmt::skip]
const RULES: &[Rule] = {
    use k::*;
    &[
        rule(C | KEY,   Act::V1,             &[CONFIG]),
        rule(C | KEY,   Act::V2,             &[ETHERNETS]),
        rule(C | KEY,   Act::V2,             &[VIRTUAL]),
        rule(C | KEY,   Act::V2Entry,        &[ETHERNETS, ANY]),
        rule(C | KEY,   Act::Skip,           &[VIRTUAL, ANY]),
        rule(C | VALUE, Act::Version,        &[VERSION]),
        // v1
        rule(C | VALUE, Act::V1Type,         &[CONFIG, ITEM, TYPE]),
        rule(C | VALUE, Act::Name,           &[CONFIG, ITEM, NAME]),
        rule(C | VALUE, Act::Mac,            &[CONFIG, ITEM, MAC_ADDRESS]),
        rule(C | VALUE, Act::Dns,            &[CONFIG, ITEM, ADDRESS, REST]),
        rule(C | VALUE, Act::Search,         &[CONFIG, ITEM, SEARCH, REST]),
        rule(C | VALUE, Act::Dns,            &[CONFIG, ITEM, SUBNETS, ITEM, DNS_NAMESERVERS, REST]),
        rule(C | VALUE, Act::Search,         &[CONFIG, ITEM, SUBNETS, ITEM, DNS_SEARCH, REST]),
        rule(C | VALUE, Act::Kind,           &[CONFIG, ITEM, SUBNETS, ITEM, TYPE]),
        rule(C | VALUE, Act::Address,        &[CONFIG, ITEM, SUBNETS, ITEM, ADDRESS]),
        rule(C | VALUE, Act::Mask,           &[CONFIG, ITEM, SUBNETS, ITEM, NETMASK]),
        rule(C | VALUE, Act::Mask,           &[CONFIG, ITEM, SUBNETS, ITEM, PREFIX]),
        rule(C | VALUE, Act::Gateway,        &[CONFIG, ITEM, SUBNETS, ITEM, GATEWAY]),
        rule(C | END,   Act::Subnet,         &[CONFIG, ITEM, SUBNETS, ITEM]),
        rule(C | END,   Act::Entry,          &[CONFIG, ITEM]),
        // v2
        rule(C | VALUE, Act::Mac,            &[ETHERNETS, ANY, MATCH, MACADDRESS]),
        rule(C | VALUE, Act::MatchName,      &[ETHERNETS, ANY, MATCH, NAME]),
        rule(C | VALUE, Act::Unmatchable,    &[ETHERNETS, ANY, MATCH, ANY]),
        rule(C | VALUE, Act::Dhcp4,          &[ETHERNETS, ANY, DHCP4]),
        rule(C | VALUE, Act::Dhcp6,          &[ETHERNETS, ANY, DHCP6]),
        rule(C | VALUE, Act::V2Address,      &[ETHERNETS, ANY, ADDRESSES, ITEM]),
        rule(C | VALUE, Act::V2Gateway,      &[ETHERNETS, ANY, GATEWAY4]),
        rule(C | VALUE, Act::V2Gateway,      &[ETHERNETS, ANY, GATEWAY6]),
        rule(C | VALUE, Act::Dns,            &[ETHERNETS, ANY, NAMESERVERS, ADDRESSES, REST]),
        rule(C | VALUE, Act::Search,         &[ETHERNETS, ANY, NAMESERVERS, SEARCH, REST]),
        rule(C | END,   Act::Entry,          &[ETHERNETS, ANY]),
        // Routes: v1 subnets', v2 interfaces', OpenStack networks'.
        rule(C | N | VALUE, Act::To,         &[REST, ROUTES, ITEM, TO]),
        rule(C | N | VALUE, Act::To,         &[REST, ROUTES, ITEM, NETWORK]),
        rule(C | N | VALUE, Act::To,         &[REST, ROUTES, ITEM, DESTINATION]),
        rule(C | N | VALUE, Act::ToMask,     &[REST, ROUTES, ITEM, NETMASK]),
        rule(C | N | VALUE, Act::Via,        &[REST, ROUTES, ITEM, GATEWAY]),
        rule(C | N | VALUE, Act::Via,        &[REST, ROUTES, ITEM, VIA]),
        rule(C | N | END,   Act::Route,      &[REST, ROUTES, ITEM]),
        // OpenStack
        rule(L | VALUE, Act::Link,           &[LINKS, ITEM, ID]),
        rule(L | VALUE, Act::Mac,            &[LINKS, ITEM, ETHERNET_MAC_ADDRESS]),
        rule(L | VALUE, Act::LinkType,       &[LINKS, ITEM, TYPE]),
        rule(L | END,   Act::LinkEnd,        &[LINKS, ITEM]),
        rule(N | VALUE, Act::Link,           &[NETWORKS, ITEM, LINK]),
        rule(N | VALUE, Act::Kind,           &[NETWORKS, ITEM, TYPE]),
        rule(N | VALUE, Act::Address,        &[NETWORKS, ITEM, IP_ADDRESS]),
        rule(N | VALUE, Act::Mask,           &[NETWORKS, ITEM, NETMASK]),
        rule(N | VALUE, Act::ServiceType,    &[REST, SERVICES, ITEM, TYPE]),
        rule(N | VALUE, Act::ServiceAddress, &[REST, SERVICES, ITEM, ADDRESS]),
        rule(N | END,   Act::Service,        &[REST, SERVICES, ITEM]),
        rule(N | END,   Act::Network,        &[NETWORKS, ITEM]),
    ]
};

/// Does `path` fit `pattern` (see [`k::ANY`], [`k::REST`]; a 0 ends the pattern)?
// Out of line: measured smaller so (inlined, it grew its callers more than it costs).
#[inline(never)]
fn fits(path: &[u8], pattern: &[u8; DEPTH]) -> bool {
    let len = pattern.iter().position(|&c| c == 0).unwrap_or(DEPTH);
    let (p, path) = match &pattern[..len] {
        [k::REST, p @ ..] => (p, path.get(path.len().wrapping_sub(p.len())..)),
        [p @ .., k::REST] => (p, path.get(..p.len())),
        p => (p, Some(path)),
    };
    path.is_some_and(|path| path.len() == p.len() && path.iter().zip(p).all(|(&a, &b)| a == b || b == k::ANY))
}

/// What a v1 subnet or an OpenStack network asks for (either vocabulary is read in both).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Kind {
    #[default]
    Unknown,
    Static,
    Dhcp,
    V6,
    Manual,
}

// Out of line though called once: measured smaller so.
#[inline(never)]
fn kind(t: &[u8]) -> Kind {
    match word(t, "static|static6|ipv4|ipv6|dhcp|dhcp4|ipv4_dhcp|manual|dhcp6") {
        0..=3 => Kind::Static,
        4..=6 => Kind::Dhcp,
        7 => Kind::Manual,
        8 => Kind::V6,
        _ if t.starts_with(b"ipv6_") => Kind::V6,
        _ => Kind::Unknown,
    }
}

/// The interface being read: a v1 entry, a v2 `ethernets` entry, an OpenStack link or network.
#[derive(Default)]
struct Entry {
    mac: Option<[u8; 6]>,
    /// A valid name, or `None` (also when the name given was invalid).
    name: Option<IfName>,
    /// A v1 `nameserver` entry.
    nameserver: bool,
    /// Something flint cannot match or represent.
    skip: bool,
    v4: Option<([u8; 4], u8)>,
    gateway: Option<[u8; 4]>,
    dhcp: bool,
}

/// A v1 subnet or an OpenStack network.
#[derive(Default)]
struct Subnet {
    kind: Kind,
    address: Option<(Ip, Option<u8>)>,
    mask: Option<u8>,
    gateway: Option<Ip>,
}

/// A route, or an OpenStack service.
#[derive(Default)]
struct Leaf {
    /// Destination `default`.
    default: bool,
    to: Option<(Ip, Option<u8>)>,
    mask: Option<u8>,
    /// The route's next hop, or the service's address.
    ip: Option<Ip>,
    /// A service of type `dns`.
    dns: bool,
}

/// Follows the events of one document; see [`from_network_config`] and [`from_network_data`].
struct Reader {
    c: NetConfig,
    /// [`C`], [`L`] or [`N`].
    mode: u8,
    err: Option<Invalid>,
    /// `path[1..depth]`: the codes of the member names (or [`k::ITEM`]) down to the current
    /// container, the top-level value being at depth 0; `path[depth]`: the current member's.
    /// Nothing deeper than [`DEPTH`] (and a `network` key) is read.
    path: [u8; DEPTH + 2],
    depth: usize,
    /// `version`: 0 for 1, 1 for 2, `u8::MAX` for anything else or nothing.
    version: u8,
    /// A v1 `config` or a v2 device type was seen.
    v1: bool,
    v2: bool,
    entry: Entry,
    subnet: Subnet,
    leaf: Leaf,
    /// The current OpenStack link's id, or the current network's link; `None` when too long.
    link: Option<heapless::Vec<u8, ID_MAX>>,
    links: heapless::Vec<(heapless::Vec<u8, ID_MAX>, [u8; 6]), LINKS_MAX>,
}

impl Reader {
    // Out of line (as are `run`, `add`, `v6`, `skip` and `ip_arg`): measured smaller so; each
    // inlined copy cost more than the call.
    #[inline(never)]
    fn new(mode: u8) -> Reader {
        Reader {
            c: NetConfig::default(),
            mode,
            err: None,
            path: [0; DEPTH + 2],
            depth: 0,
            version: u8::MAX,
            v1: false,
            v2: false,
            entry: Entry::default(),
            subnet: Subnet::default(),
            leaf: Leaf::default(),
            link: None,
            links: heapless::Vec::new(),
        }
    }

    #[inline(never)]
    fn run(&mut self, scan: &mut Scan<'_>) -> Result<(), ConfigError> {
        if !scan(&mut |e, t| self.on(e, t)) {
            return Err(ConfigError::Document);
        }
        self.err.map_or(Ok(()), |why| Err(ConfigError::Invalid(why)))
    }

    fn on(&mut self, ev: Event, text: Option<&[u8]>) {
        // Text too long to keep is a value nothing accepts (no address, name or number has a
        // NUL).
        let t = text.unwrap_or(&[0]);
        let on = match ev {
            Event::Object | Event::Array => {
                self.depth += 1;
                if let Some(p) = self.path.get_mut(self.depth) {
                    *p = if ev == Event::Array { k::ITEM } else { 0 };
                }
                return;
            }
            Event::End => {
                self.depth = self.depth.saturating_sub(1);
                END
            }
            Event::Key => {
                if let Some(p) = self.path.get_mut(self.depth) {
                    *p = key(t);
                }
                KEY
            }
            _ => VALUE,
        };
        let top = 1 + usize::from(self.path[1] == k::NETWORK && self.depth > 1);
        let Some(path) = self.path.get(top..=self.depth) else { return };
        let Some(rule) = RULES.iter().find(|r| r.on & self.mode != 0 && r.on & on != 0 && fits(path, &r.path)) else {
            return;
        };
        if self.err.is_none()
            && let Err(why) = self.act(rule.act, t)
        {
            self.err = Some(why);
        }
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn act(&mut self, act: Act, t: &[u8]) -> Result<(), Invalid> {
        let e = &mut self.entry;
        match act {
            Act::V1 => self.v1 = true,
            Act::V2 => self.v2 = true,
            Act::V2Entry => *e = Entry { name: ifname(t, true), ..Entry::default() },
            Act::Skip => self.c.skip(),
            Act::Version => self.version = word(t, "1|2"),
            Act::V1Type => match word(t, "physical|nameserver") {
                0 => {}
                1 => e.nameserver = true,
                _ => e.skip = true,
            },
            Act::Name => e.name = ifname(t, true),
            Act::MatchName if !t.iter().any(|b| b"*?[".contains(b)) => e.name = ifname(t, true),
            Act::MatchName | Act::Unmatchable => e.skip = true,
            Act::Mac => e.mac = Some(mac(t).ok_or(Invalid::Mac)?),
            Act::Dns => self.c.add_dns(t)?,
            Act::Search => self.c.add_search(t)?,
            Act::To if t == b"default" => self.leaf.default = true,
            Act::To => self.leaf.to = Some(cidr(t).ok_or(Invalid::Address)?),
            Act::ToMask => self.leaf.mask = Some(mask(t).ok_or(Invalid::Netmask)?),
            Act::Via => self.leaf.ip = Some(ip(t).ok_or(Invalid::Gateway)?),
            Act::ServiceType => self.leaf.dns = t == b"dns",
            Act::ServiceAddress => self.leaf.ip = Some(ip(t).ok_or(Invalid::Dns)?),
            Act::Link => self.link = heapless::Vec::from_slice(t).ok(),
            Act::LinkType => e.skip = word(t, "vlan|bond") < 2,
            Act::Kind => self.subnet.kind = kind(t),
            Act::Address => self.subnet.address = Some(cidr(t).ok_or(Invalid::Address)?),
            Act::Mask => self.subnet.mask = Some(mask(t).ok_or(Invalid::Netmask)?),
            Act::Gateway => self.subnet.gateway = Some(ip(t).ok_or(Invalid::Gateway)?),
            Act::Dhcp4 => e.dhcp = word(t, TRUE) != u8::MAX,
            Act::Dhcp6 if word(t, TRUE) != u8::MAX => self.c.v6(),
            Act::Dhcp6 => {}
            Act::V2Address => self.address(cidr(t).ok_or(Invalid::Address)?, None)?,
            Act::V2Gateway => match ip(t).ok_or(Invalid::Gateway)? {
                Ip::V4(g) => _ = e.gateway.get_or_insert(g),
                Ip::V6(_) => self.c.v6(),
            },
            Act::Route => {
                let r = take(&mut self.leaf);
                let default = r.default || matches!(r.to, Some((Ip::V4([0, 0, 0, 0]), p)) if p.or(r.mask) == Some(0));
                match r.ip {
                    Some(Ip::V4(g)) if default => _ = e.gateway.get_or_insert(g),
                    Some(Ip::V6(_)) => self.c.v6(),
                    _ => self.c.skip(),
                }
            }
            Act::Service => {
                let r = take(&mut self.leaf);
                if let (Some(a), true) = (r.ip, r.dns) {
                    self.c.dns_ip(a);
                }
            }
            Act::Subnet => self.close_subnet()?,
            Act::Entry => self.close_entry()?,
            Act::LinkEnd => {
                let e = take(e);
                if let (Some(id), Some(mac), false) = (self.link.take(), e.mac, e.skip) {
                    _ = self.links.push((id, mac));
                }
            }
            Act::Network => {
                self.close_subnet()?;
                let link = self.link.take();
                match self.links.iter().find(|(id, _)| Some(id) == link.as_ref()) {
                    Some(&(_, mac)) => self.entry.mac = Some(mac),
                    None => self.entry.skip = true,
                }
                self.close_entry()?;
            }
        }
        Ok(())
    }

    /// A static address of the current interface, with its gateway; /24 when no prefix was
    /// given (cloud-init's `_normalize_net_keys`).
    fn address(&mut self, (a, prefix): (Ip, Option<u8>), gateway: Option<Ip>) -> Result<(), Invalid> {
        if let Some(s) = static_ip(&mut self.c, (a, prefix.unwrap_or(24)), gateway)? {
            match self.entry.v4 {
                Some(_) => self.c.skip(),
                None => self.entry.v4 = Some((s.address, s.prefix)),
            }
            if let Some(g) = s.gateway {
                self.entry.gateway.get_or_insert(g);
            }
        }
        Ok(())
    }

    fn close_subnet(&mut self) -> Result<(), Invalid> {
        let s = take(&mut self.subnet);
        match s.kind {
            Kind::Static => {
                let (a, p) = s.address.ok_or(Invalid::Missing)?;
                self.address((a, p.or(s.mask)), s.gateway)?;
            }
            Kind::Dhcp => self.entry.dhcp = true,
            Kind::V6 => self.c.v6(),
            Kind::Manual => {}
            Kind::Unknown => self.c.skip(),
        }
        Ok(())
    }

    fn close_entry(&mut self) -> Result<(), Invalid> {
        let e = take(&mut self.entry);
        if e.nameserver {
            return Ok(());
        }
        if e.skip {
            self.c.skip();
            return Ok(());
        }
        let method = match e.v4 {
            Some((address, prefix)) => Method::Static(Static { address, prefix, gateway: e.gateway }),
            None if e.dhcp => Method::Dhcp,
            None => return Ok(()),
        };
        let matcher = match (e.mac, e.name) {
            (Some(m), _) => Match::Mac(m),
            (None, Some(n)) => Match::Name(n),
            (None, None) => return Err(Invalid::Interface),
        };
        self.c.add(Iface { matcher, method });
        Ok(())
    }
}

/// YAML 1.1's spellings of true (netplan reads booleans so).
const TRUE: &str = "true|True|TRUE|yes|Yes|YES|on|On|ON";

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::ToString;

    fn name(n: &str) -> Match {
        Match::Name(IfName::from_slice(n.as_bytes()).unwrap())
    }

    fn st(address: [u8; 4], prefix: u8, gateway: Option<[u8; 4]>) -> Method {
        Method::Static(Static { address, prefix, gateway })
    }

    fn iface(matcher: Match, method: Method) -> Iface {
        Iface { matcher, method }
    }

    /// With IPv6 name servers too.
    fn dns6(mut c: NetConfig, servers: &[&str]) -> NetConfig {
        c.dns6 = servers.iter().map(|s| s.parse::<std::net::Ipv6Addr>().unwrap().octets()).collect();
        c
    }

    /// A `NetConfig` from its parts.
    fn config(ifaces: &[Iface], dns: &[[u8; 4]], search: &str, ipv6_skipped: u8, skipped: u8) -> NetConfig {
        NetConfig {
            ifaces: ifaces.iter().cloned().collect(),
            dns: dns.iter().copied().collect(),
            dns6: heapless::Vec::new(),
            search: heapless::Vec::from_slice(search.as_bytes()).unwrap(),
            ipv6_skipped,
            skipped,
        }
    }

    fn kernel(cmdline: &str) -> Result<Option<NetConfig>, ArgError> {
        from_kernel_args(cmdline.as_bytes())
    }

    fn arg_error(cmdline: &str) -> (&'static str, u8, Invalid) {
        let e = kernel(cmdline).expect_err(cmdline);
        (e.arg, e.nth, e.why)
    }

    fn network_config(json: &str) -> Result<NetConfig, ConfigError> {
        from_network_config(&mut |on| json::scan(json.as_bytes(), on).is_ok())
    }

    fn network_data(json: &str) -> Result<NetConfig, ConfigError> {
        from_network_data(json.as_bytes())
    }

    #[test]
    fn ipv4_text() {
        for (t, a) in [("0.0.0.0", [0, 0, 0, 0]), ("255.255.255.255", [255; 4]), ("10.0.0.1", [10, 0, 0, 1])] {
            assert_eq!(ipv4(t.as_bytes()), Some(a), "{t}");
        }
        for t in
            ["256.1.1.1", "01.2.3.4", "1.2.3", "1.2.3.4.5", "1..2.3", "", "a.b.c.d", " 1.2.3.4", "1.2.3.4 ", "1.2.3.-4"]
        {
            assert_eq!(ipv4(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn ipv6_text_agrees_with_std() {
        for t in [
            "::",
            "::1",
            "2001:db8::1",
            "fe80::1:2:3:4:5:6",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "::ffff:192.0.2.1",
            "64:ff9b::192.0.2.33",
            "1:2:3:4:5:6:1.2.3.4",
            "FFFF:abcd::",
            ":::",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            "12345::",
            "::1.2.3.4:5",
            "1:2:3:4:5:6:7",
            "g::",
            "::%eth0",
            "1.2.3.4::",
            "1:2:3:4:5:6:7:1.2.3.4",
            "::01.2.3.4",
            ":1::",
            "1::2:",
            "",
            "1:2:3:4:5:6::1.2.3.4",
        ] {
            let std = t.parse::<std::net::Ipv6Addr>().ok().map(|a| a.octets());
            assert_eq!(ipv6(t.as_bytes()), std, "{t}");
        }
    }

    #[test]
    fn netmasks_macs_and_names() {
        for (t, p) in
            [("255.255.255.0", Some(24)), ("0.0.0.0", Some(0)), ("255.255.255.255", Some(32)), ("24", Some(24))]
        {
            assert_eq!(mask(t.as_bytes()), p, "{t}");
        }
        assert_eq!(mask(b"128"), Some(128));
        assert_eq!(mask(b"ffff:ffff:ffff:ffff::"), Some(128), "an IPv6 mask: no IPv4 prefix");
        for t in ["255.0.255.0", "255.255.255.1", "0.255.255.255", "129", "024", "", "/24"] {
            assert_eq!(mask(t.as_bytes()), None, "{t}");
        }
        let m = Some([0x52, 0x54, 0x00, 0xab, 0xCD, 0xef]);
        assert_eq!(mac(b"52:54:00:ab:cd:ef"), m);
        assert_eq!(mac(b"52-54-00-AB-CD-EF"), m);
        for t in
            ["52:54:00:ab:cd", "52:54:00:ab:cd:ef:01", "52:54-00:ab:cd:ef", "52:54:00:ab:cd:eg", "5:54:00:ab:cd:eff"]
        {
            assert_eq!(mac(t.as_bytes()), None, "{t}");
        }
        assert!(ifname(b"eth0", false).is_some());
        assert!(ifname(b"enp0s31f6-abcdef", false).is_none(), "16 bytes");
        assert_eq!(ifname(b"enp0s31f6-abcdef", true).unwrap(), b"enp0s31f6-abcde"[..]);
        for t in [&b""[..], b".", b"..", b"a/b", b"a:b", b"a b", b"a\tb", b"a\x7f"] {
            assert!(ifname(t, false).is_none(), "{t:?}");
        }
    }

    #[test]
    fn kernel_static_forms() {
        // Proxmox VE's addressing in dracut's syntax, dotted and as a prefix length.
        let want = config(
            &[iface(name("eth0"), st([192, 168, 1, 10], 24, Some([192, 168, 1, 1])))],
            &[[1, 1, 1, 1]],
            "",
            0,
            0,
        );
        for c in [
            "ip=192.168.1.10::192.168.1.1:255.255.255.0::eth0:none nameserver=1.1.1.1",
            "ip=192.168.1.10::192.168.1.1:24:vm1:eth0:off:1.1.1.1",
            "ip=192.168.1.10:192.168.1.2:192.168.1.1:24:vm1:eth0:none:1500 nameserver=1.1.1.1",
            "ip=192.168.1.10::192.168.1.1:24::eth0:none:1500:52:54:00:12:34:56: nameserver=1.1.1.1",
            "ip=192.168.1.10::192.168.1.1:24::eth0:none::52-54-00-12-34-56 nameserver=1.1.1.1",
            "\"ip=192.168.1.10::192.168.1.1:24::eth0:none\" nameserver=\"1.1.1.1\"",
        ] {
            assert_eq!(kernel(c).unwrap(), Some(want.clone()), "{c}");
        }
        // No gateway, no interface; two name servers in fields 8 and 9.
        assert_eq!(
            kernel("ro ip=10.0.0.5:::255.255.0.0:::none:10.0.0.1:10.0.0.2 quiet").unwrap(),
            Some(config(&[iface(Match::Any, st([10, 0, 0, 5], 16, None))], &[[10, 0, 0, 1], [10, 0, 0, 2]], "", 0, 0))
        );
    }

    #[test]
    fn kernel_dhcp_and_ipv6_forms() {
        let any_dhcp = config(&[iface(Match::Any, Method::Dhcp)], &[], "", 0, 0);
        for c in ["ip=dhcp", "ip=on", "ip=any", "ip=single-dhcp", "ip=", "ip=dhcp,", "ip=::::::dhcp"] {
            assert_eq!(kernel(c).unwrap(), Some(any_dhcp.clone()), "{c}");
        }
        let eth0 = config(&[iface(name("eth0"), Method::Dhcp)], &[], "", 0, 0);
        for c in [
            "ip=eth0:dhcp",
            "ip=eth0:on:1500",
            "ip=eth0:any::52:54:00:12:34:56",
            "ip=eth0:dhcp:9000:[52:54:00:12:34:56]",
        ] {
            assert_eq!(kernel(c).unwrap(), Some(eth0.clone()), "{c}");
        }
        assert_eq!(kernel("ip=dhcp6").unwrap(), Some(config(&[], &[], "", 1, 0)));
        assert_eq!(kernel("ip=eth0:auto6 ip=eth1:link6").unwrap(), Some(config(&[], &[], "", 2, 0)));
        assert_eq!(kernel("ip=dhcp,dhcp6").unwrap(), Some(config(&[iface(Match::Any, Method::Dhcp)], &[], "", 1, 0)));
        // IPv6 in brackets: address and gateway validated, counted, not kept; the name server
        // kept.
        assert_eq!(
            kernel("ip=[2001:db8::2]::[2001:db8::1]:64::eth0:none:[2001:4860:4860::8888]:8.8.8.8").unwrap(),
            Some(dns6(config(&[], &[[8, 8, 8, 8]], "", 2, 0), &["2001:4860:4860::8888"]))
        );
        assert_eq!(kernel("ip=[2001:db8::2]:::64::eth0:none,auto6").unwrap(), Some(config(&[], &[], "", 2, 0)));
        // One interface static, one DHCP; nothing after `--` counts.
        assert_eq!(
            kernel("ip=10.0.0.2::10.0.0.1:255.255.255.0::ens3:none ip=ens4:dhcp -- ip=dhcp").unwrap(),
            Some(config(
                &[iface(name("ens3"), st([10, 0, 0, 2], 24, Some([10, 0, 0, 1]))), iface(name("ens4"), Method::Dhcp)],
                &[],
                "",
                0,
                0
            ))
        );
    }

    #[test]
    fn kernel_name_servers() {
        assert_eq!(kernel("root=/dev/vda ip nameserver quiet").unwrap(), None, "no value, no argument");
        assert_eq!(kernel("").unwrap(), None);
        assert_eq!(
            kernel("nameserver=1.1.1.1,[2606:4700::1111],8.8.8.8 nameserver=1.1.1.1 nameserver=9.9.9.9,, nameserver=8.8.4.4").unwrap(),
            Some(dns6(config(&[], &[[1, 1, 1, 1], [8, 8, 8, 8], [9, 9, 9, 9]], "", 0, 0), &["2606:4700::1111"])),
            "repeats dropped, MAXNS kept, IPv6 counted"
        );
        assert_eq!(arg_error("nameserver=1.1.1.1 nameserver=dns.example"), ("nameserver", 2, Invalid::Dns));
    }

    #[test]
    fn kernel_errors_name_the_argument() {
        for (c, nth, why) in [
            ("ip=eth0:dhcp:1500:52:54", 1, Invalid::Fields),
            ("ip=1:2:3:4:5:6:7:8:9:10:11:12:13:14:15", 1, Invalid::Fields),
            ("ip=10.0.0.2:::24::eth0:none:1.1.1.1:1.1.1.2:1.1.1.3", 1, Invalid::Fields),
            ("ip=ibft", 1, Invalid::Method),
            ("ip=eth0:dhcp ip=bootp", 2, Invalid::Method),
            ("ip=10.0.0.2:::24::eth0:static", 1, Invalid::Method),
            ("ip=a/b:dhcp", 1, Invalid::Interface),
            ("ip=abcdefghijklmnop:dhcp", 1, Invalid::Interface),
            ("ip=dhcp ip=eth1:dhcp", 1, Invalid::NeedsInterface),
            ("ip=eth1:dhcp ip=:dhcp6", 2, Invalid::NeedsInterface),
            ("ip=10.0.0.2:::24::eth0:dhcp", 1, Invalid::Conflict),
            ("ip=10.0.0.2:::24::eth0:", 1, Invalid::Conflict),
            ("ip=10.0.0.2:::24::eth0:auto6", 1, Invalid::Conflict),
            ("ip=10.0.0.2:::24::eth0:none,dhcp", 1, Invalid::Conflict),
            ("ip=none", 1, Invalid::Missing),
            ("ip=10.0.0.2::10.0.0.1:::eth0:none", 1, Invalid::Missing),
            ("ip=:::24::eth0:none", 1, Invalid::Missing),
            ("ip=10.0.0.256:::24::eth0:none", 1, Invalid::Address),
            ("ip=eth0:::24::eth0:none", 1, Invalid::Address),
            ("ip=10.0.0.2:::24::eth0:none:1500:52:54:00:12:34:56:7", 1, Invalid::Fields),
            ("ip=10.0.0.2:nfs::24::eth0:none", 1, Invalid::Peer),
            ("ip=10.0.0.2::gw:24::eth0:none", 1, Invalid::Gateway),
            ("ip=10.0.0.2:::255.0.255.0::eth0:none", 1, Invalid::Netmask),
            ("ip=10.0.0.2:::33::eth0:none", 1, Invalid::Netmask),
            ("ip=[2001:db8::2]:::255.255.255.0::eth0:none", 1, Invalid::Netmask),
            ("ip=10.0.0.2::[2001:db8::1]:24::eth0:none", 1, Invalid::Family),
            ("ip=[2001:db8::2]::10.0.0.1:64::eth0:none", 1, Invalid::Family),
            ("ip=10.0.0.2:::24::eth0:none:1.1.1", 1, Invalid::Dns),
            ("ip=eth0:dhcp:67", 1, Invalid::Mtu),
            ("ip=eth0:dhcp:jumbo", 1, Invalid::Mtu),
            ("ip=10.0.0.2:::24::eth0:none:x", 1, Invalid::Mtu),
            ("ip=eth0:dhcp:1500:zz:54:00:12:34:56", 1, Invalid::Mac),
            ("ip=eth0:dhcp:1500:52-54-00-12-34", 1, Invalid::Mac),
            ("ip=eth0:dhcp ip=eth0:dhcp6", 2, Invalid::Duplicate),
            ("ip=10.0.0.2:::24:::none ip=10.0.0.3:::24:::none", 2, Invalid::Duplicate),
            ("ip=e0:dhcp ip=e1:dhcp ip=e2:dhcp ip=e3:dhcp ip=e4:dhcp", 5, Invalid::TooMany),
        ] {
            assert_eq!(arg_error(c), ("ip", nth, why), "{c}");
        }
        let e = kernel("ip=eth0:dhcp ip=10.0.0.2:::33::eth1:none").unwrap_err();
        assert_eq!(e.to_string(), "ip= #2: invalid netmask");
    }

    /// Proxmox VE's own v1 output (`qm cloudinit dump VMID network`), as JSON.
    const PROXMOX: &str = r#"{"version": 1, "config": [
        {"type": "physical", "name": "eth0", "mac_address": "bc:24:11:2c:69:ec",
         "subnets": [{"type": "static", "address": "192.168.1.10", "netmask": "255.255.255.0", "gateway": "192.168.1.1"}]},
        {"type": "nameserver", "address": ["1.1.1.1", "8.8.8.8"], "search": ["example.com"]}]}"#;

    #[test]
    fn v1_proxmox_and_afterburn_fixtures() {
        let eth0 = Match::Mac([0xbc, 0x24, 0x11, 0x2c, 0x69, 0xec]);
        assert_eq!(
            network_config(PROXMOX).unwrap(),
            config(
                &[iface(eth0, st([192, 168, 1, 10], 24, Some([192, 168, 1, 1])))],
                &[[1, 1, 1, 1], [8, 8, 8, 8]],
                "example.com",
                0,
                0
            )
        );
        // Afterburn's proxmoxve fixtures (dhcp, dhcp-dual, static-no-gateway), as JSON.
        let mac = Match::Mac([1, 0x23, 0x45, 0x67, 0x89, 0]);
        let dhcp = r#"{"version": 1, "config": [
            {"type": "physical", "name": "eth0", "mac_address": "01:23:45:67:89:00", "subnets": [{"type": "dhcp4"}]},
            {"type": "nameserver", "address": ["1.1.1.1", "8.8.8.8"], "search": ["local.com"]}]}"#;
        let want = config(&[iface(mac.clone(), Method::Dhcp)], &[[1, 1, 1, 1], [8, 8, 8, 8]], "local.com", 0, 0);
        assert_eq!(network_config(dhcp).unwrap(), want);
        let dual = dhcp.replace(r#"[{"type": "dhcp4"}]"#, r#"[{"type": "dhcp4"}, {"type": "dhcp6"}]"#);
        assert_eq!(network_config(&dual).unwrap(), NetConfig { ipv6_skipped: 1, ..want });
        let no_gateway = r#"{"version": 1, "config": [
            {"type": "physical", "name": "eth0", "mac_address": "01:23:45:67:89:00",
             "subnets": [{"type": "static", "address": "192.168.1.1", "netmask": "255.255.255.0"}]},
            {"type": "nameserver", "address": ["1.1.1.1", "8.8.8.8"]}]}"#;
        assert_eq!(
            network_config(no_gateway).unwrap(),
            config(&[iface(mac, st([192, 168, 1, 1], 24, None))], &[[1, 1, 1, 1], [8, 8, 8, 8]], "", 0, 0)
        );
    }

    #[test]
    fn v1_every_field() {
        let doc = r#"{"network": {"version": "1", "config": [
            {"type": "physical", "name": "ens3",
             "subnets": [
                {"type": "dhcp"},
                {"type": "static6", "address": "2001:db8::10/64", "gateway": "2001:db8::1"},
                {"type": "static", "address": "10.1.0.10/255.255.0.0", "dns_nameservers": "10.1.0.2 10.1.0.3",
                 "dns_search": ["a.example", "b.example"],
                 "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.1.0.1"},
                            {"network": "192.168.0.0", "netmask": "255.255.0.0", "gateway": "10.1.0.254"}]},
                {"type": "static", "address": "10.2.0.10", "prefix": 8},
                {"type": "manual"}, {"type": "ipv6_slaac"}, {"type": "dhcp6"}, {"type": "bogus"}]},
            {"type": "physical", "name": "a-name-longer-than-fifteen", "subnets": [{"type": "static", "address": "10.3.0.3"}]},
            {"type": "bond", "name": "bond0", "subnets": [{"type": "dhcp"}]},
            {"type": "vlan", "name": "ens3.5"},
            {"type": "route", "destination": "0.0.0.0/0", "gateway": "10.1.0.1"},
            {"type": "physical", "name": "ens9"},
            {"type": "nameserver", "address": "10.1.0.2", "search": "a.example c.example"}]}}"#;
        assert_eq!(
            network_config(doc).unwrap(),
            config(
                &[
                    iface(name("ens3"), st([10, 1, 0, 10], 16, Some([10, 1, 0, 1]))),
                    iface(name("a-name-longer-t"), st([10, 3, 0, 3], 24, None)),
                ],
                &[[10, 1, 0, 2], [10, 1, 0, 3]],
                "a.example b.example c.example",
                4,
                // The other route, the second static address, `bogus`, bond, vlan, route.
                6
            )
        );
    }

    #[test]
    fn v2_match_macaddress_and_more() {
        let doc = r#"{"network": {"version": 2, "renderer": "networkd", "ethernets": {
            "id0": {"match": {"macaddress": "52:54:00:12:34:56"}, "set-name": "eth0",
                    "addresses": ["10.0.0.5/24", "2001:db8::5/64"], "gateway4": "10.0.0.1", "gateway6": "2001:db8::1",
                    "routes": [{"to": "default", "via": "10.0.0.254"}, {"to": "::/0", "via": "2001:db8::1"}],
                    "nameservers": {"addresses": ["10.0.0.2", "2001:4860:4860::8888"], "search": ["lab", "home"]}},
            "eth1": {"dhcp4": true, "dhcp6": "yes"},
            "lan": {"match": {"name": "ens7"}, "dhcp4": "on", "routes": [{"to": "0.0.0.0/0", "via": "192.168.7.1"}]},
            "all-en": {"match": {"name": "en*"}, "dhcp4": true},
            "by-driver": {"match": {"driver": "ixgbe"}, "dhcp4": true},
            "off": {"dhcp4": false},
            "eth3": {"dhcp4": "false", "addresses": ["172.16.0.3/12"], "routes": [{"to": "10.0.0.0/8", "via": "172.16.0.1"}]}},
            "bonds": {"bond0": {"interfaces": ["eth1"], "dhcp4": true}},
            "vlans": {"v5": {"id": 5, "link": "eth1"}}}}"#;
        assert_eq!(
            network_config(doc).unwrap(),
            dns6(
                config(
                    &[
                        iface(
                            Match::Mac([0x52, 0x54, 0, 0x12, 0x34, 0x56]),
                            st([10, 0, 0, 5], 24, Some([10, 0, 0, 1]))
                        ),
                        iface(name("eth1"), Method::Dhcp),
                        iface(name("ens7"), Method::Dhcp),
                        iface(name("eth3"), st([172, 16, 0, 3], 12, None)),
                    ],
                    &[[10, 0, 0, 2]],
                    "lab home",
                    // 2001:db8::5, gateway6, the ::/0 route, dhcp6.
                    4,
                    // glob, driver, bond, vlan, the 10/8 route.
                    5
                ),
                &["2001:4860:4860::8888"]
            )
        );
        // Version 2 documents without the `network` key, YAML's strings for numbers.
        assert_eq!(
            network_config(r#"{"version": "2", "ethernets": {"eth0": {"dhcp4": "True"}}}"#).unwrap(),
            config(&[iface(name("eth0"), Method::Dhcp)], &[], "", 0, 0)
        );
    }

    #[test]
    fn documents_merge_and_cap_interfaces() {
        let doc = r#"{"version": 2, "ethernets": {
            "e0": {"dhcp4": true}, "e1": {"dhcp4": true}, "e2": {"dhcp4": true}, "e3": {"dhcp4": true},
            "e4": {"dhcp4": true},
            "a": {"match": {"name": "e0"}, "addresses": ["10.0.0.1/8"]},
            "b": {"match": {"name": "e1"}, "dhcp4": true}}}"#;
        let c = network_config(doc).unwrap();
        assert_eq!(c.ifaces.len(), 4);
        assert_eq!(c.ifaces[0], iface(name("e0"), st([10, 0, 0, 1], 8, None)), "a static address wins over DHCP");
        assert_eq!(c.skipped, 2, "e4 past the cap, b again");
    }

    #[test]
    fn document_errors() {
        let v1 = |subnet: &str| {
            std::format!(
                r#"{{"version": 1, "config": [{{"type": "physical", "name": "eth0", "subnets": [{subnet}]}}]}}"#
            )
        };
        for (doc, e) in [
            ("{\"version\": 1, ", ConfigError::Document),
            ("{}", ConfigError::Version),
            ("[]", ConfigError::Version),
            (r#"{"version": 3, "config": []}"#, ConfigError::Version),
            (r#"{"version": 1.0, "config": []}"#, ConfigError::Version),
            (r#"{"version": 1, "ethernets": {}}"#, ConfigError::Version),
            (r#"{"version": 2, "config": []}"#, ConfigError::Version),
            (&v1(r#"{"type": "static", "address": "10.0.0.300"}"#), ConfigError::Invalid(Invalid::Address)),
            (
                &v1(r#"{"type": "static", "address": "10.0.0.3", "netmask": "255.0.255.0"}"#),
                ConfigError::Invalid(Invalid::Netmask),
            ),
            (&v1(r#"{"type": "static", "address": "10.0.0.3/64"}"#), ConfigError::Invalid(Invalid::Netmask)),
            (
                &v1(r#"{"type": "static", "address": "10.0.0.3", "gateway": "gw"}"#),
                ConfigError::Invalid(Invalid::Gateway),
            ),
            (
                &v1(r#"{"type": "static", "address": "10.0.0.3", "gateway": "::1"}"#),
                ConfigError::Invalid(Invalid::Family),
            ),
            (&v1(r#"{"type": "static"}"#), ConfigError::Invalid(Invalid::Missing)),
            (&v1(r#"{"type": "dhcp", "dns_nameservers": ["x"]}"#), ConfigError::Invalid(Invalid::Dns)),
            (&v1(r#"{"type": "dhcp", "dns_search": ["a/b"]}"#), ConfigError::Invalid(Invalid::Search)),
            (
                r#"{"version": 1, "config": [{"type": "physical", "mac_address": "zz"}]}"#,
                ConfigError::Invalid(Invalid::Mac),
            ),
            (
                r#"{"version": 1, "config": [{"type": "physical", "name": "a/b", "subnets": [{"type": "dhcp"}]}]}"#,
                ConfigError::Invalid(Invalid::Interface),
            ),
            (
                r#"{"version": 2, "ethernets": {"e0": {"routes": [{"to": "default", "via": "x"}]}}}"#,
                ConfigError::Invalid(Invalid::Gateway),
            ),
        ] {
            assert_eq!(network_config(doc), Err(e), "{doc}");
        }
        assert_eq!(ConfigError::Invalid(Invalid::Family).to_string(), "address and gateway differ in IP version");
        // A value too long for the scanner to keep is invalid, not cut.
        let long =
            v1(&std::format!(r#"{{"type": "static", "address": "10.0.0.3", "gateway": "{}"}}"#, "1".repeat(3000)));
        assert_eq!(network_config(&long), Err(ConfigError::Invalid(Invalid::Gateway)));
        // Deeper than anything read: ignored, not an error.
        let deep = std::format!(r#"{{"version": 2, "x": {}1{}}}"#, "[".repeat(60), "]".repeat(60));
        assert_eq!(network_config(&deep), Ok(NetConfig::default()));
    }

    /// A Nova `network_data.json`: a static port with a default route, its IPv6 twin, a DHCP
    /// port, a VLAN on it, DNS both top-level and per network.
    const NOVA: &str = r#"{
        "links": [
            {"id": "tap2ecc7709-b3", "vif_id": "2ecc7709-b3f7-4448-9580-e1ec32d75bbd", "type": "ovs", "mtu": 1450,
             "ethernet_mac_address": "fa:16:3e:69:b0:58"},
            {"ethernet_mac_address": "FA:16:3E:D4:57:AD", "type": "phy", "mtu": null, "id": "tap2f88d109-5b"},
            {"id": "vlan0", "type": "vlan", "vlan_link": "tap2f88d109-5b", "vlan_id": 5,
             "vlan_mac_address": "fa:16:3e:d4:57:ad"}],
        "networks": [
            {"id": "network0", "type": "ipv4", "link": "tap2ecc7709-b3", "ip_address": "10.0.0.5",
             "netmask": "255.255.255.0", "network_id": "6d6357ac-0f70-4afa-8bd7-c274cc4ea235",
             "routes": [{"network": "0.0.0.0", "netmask": "0.0.0.0", "gateway": "10.0.0.1"},
                        {"network": "169.254.169.254", "netmask": "255.255.255.255", "gateway": "10.0.0.2"}],
             "services": [{"type": "dns", "address": "10.0.0.3"}]},
            {"id": "network1", "type": "ipv6", "link": "tap2ecc7709-b3", "ip_address": "2001:db8::5",
             "netmask": "ffff:ffff:ffff:ffff::", "routes": [{"network": "::", "netmask": "::", "gateway": "2001:db8::1"}]},
            {"id": "network2", "type": "ipv4_dhcp", "link": "tap2f88d109-5b", "network_id": "d227a9b3"},
            {"id": "network3", "type": "ipv4", "link": "vlan0", "ip_address": "192.168.5.5", "netmask": "255.255.255.0"},
            {"id": "network4", "type": "ipv4_dhcp", "link": "nowhere"}],
        "services": [{"type": "dns", "address": "199.204.44.24"}, {"address": "2001:4860:4860::8888", "type": "dns"},
                     {"type": "ntp", "address": "10.0.0.9"}]
    }"#;

    #[test]
    fn nova_network_data() {
        assert_eq!(
            network_data(NOVA).unwrap(),
            dns6(
                config(
                    &[
                        iface(
                            Match::Mac([0xfa, 0x16, 0x3e, 0x69, 0xb0, 0x58]),
                            st([10, 0, 0, 5], 24, Some([10, 0, 0, 1]))
                        ),
                        iface(Match::Mac([0xfa, 0x16, 0x3e, 0xd4, 0x57, 0xad]), Method::Dhcp),
                    ],
                    &[[10, 0, 0, 3], [199, 204, 44, 24]],
                    "",
                    // The IPv6 network and its route.
                    2,
                    // The metadata route, the VLAN's network, the network on no link.
                    3
                ),
                &["2001:4860:4860::8888"]
            )
        );
        // flint's own fixture and mock: DHCP on one port, members in any order.
        let fixture = include_str!("../../tests/fixtures/drive/tree/openstack/latest/network_data.json");
        let want = config(&[iface(Match::Mac([0xfa, 0x16, 0x3e, 0, 0, 1]), Method::Dhcp)], &[], "", 0, 0);
        assert_eq!(network_data(fixture).unwrap(), want);
        let reordered = r#"{"services": [], "networks": [{"type": "ipv4_dhcp", "link": "eth0", "id": "network0"}],
            "links": [{"type": "phy", "ethernet_mac_address": "fa:16:3e:00:00:01", "id": "eth0"}]}"#;
        assert_eq!(network_data(reordered).unwrap(), want);
        assert_eq!(network_data("{"), Err(ConfigError::Document));
        assert_eq!(
            network_data(r#"{"links": [{"id": "a", "ethernet_mac_address": "fa:16:3e"}]}"#),
            Err(ConfigError::Invalid(Invalid::Mac))
        );
        assert_eq!(
            network_data(
                r#"{"networks": [{"type": "ipv4", "link": "a", "ip_address": "10.0.0.1", "netmask": "255.0.0.255"}]}"#
            ),
            Err(ConfigError::Invalid(Invalid::Netmask))
        );
    }

    #[test]
    fn choosing_the_interface_for_a_nic() {
        let mac = [2, 0, 0, 0, 0, 1];
        let c = config(
            &[
                iface(Match::Any, Method::Dhcp),
                iface(name("eth0"), st([10, 0, 0, 2], 8, None)),
                iface(Match::Mac(mac), st([10, 0, 0, 3], 8, None)),
            ],
            &[],
            "",
            0,
            0,
        );
        assert_eq!(c.for_nic(mac, b"eth0"), Some(&c.ifaces[2]), "MAC first");
        assert_eq!(c.for_nic([2, 0, 0, 0, 0, 2], b"eth0"), Some(&c.ifaces[1]), "then the name");
        assert_eq!(c.for_nic([2, 0, 0, 0, 0, 2], b"eth1"), Some(&c.ifaces[0]), "then any");
        assert_eq!(config(&[], &[], "", 0, 0).for_nic(mac, b"eth0"), None);
        let c = network_config(PROXMOX).unwrap();
        assert_eq!(c.search_domains().collect::<std::vec::Vec<_>>(), [b"example.com"]);
    }
}
