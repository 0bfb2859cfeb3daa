//! dracut's `ip=` and `nameserver=` kernel arguments (src/net/config.rs `from_kernel_args`), in
//! two halves.
//!
//! Structured: a known configuration chosen by the fuzzer — up to 7 `ip=` arguments (for any NIC
//! or one named by a valid interface name: `ip=METHOD[,METHOD…]`, `ip=IFACE:METHOD[:MTU[:MAC]]`,
//! the full `CLIENT:PEER:GATEWAY:NETMASK:HOSTNAME:IFACE:METHOD` with a static IPv4 or bracketed
//! IPv6 client, or without a client for DHCP and IPv6 methods, followed by `[:MTU[:MAC]]` or
//! `:DNS1[:DNS2]`), `nameserver=` lists, unrelated words and a `--` with init's arguments after
//! it — written out in the spellings dracut accepts (netmask dotted or as a prefix length, IPv6
//! compressed or not, empty and omitted fields, trailing colons, a MAC in one field, in brackets
//! or over six, `ip="…"` and `"ip=…"`, whitespace runs). Now and then one argument is broken in
//! one way (a bad method, name, address, peer, gateway, netmask, family, name server, MTU, MAC,
//! field count, or a conflict or a missing part). Parsed back, the answer must be the model's:
//! the configuration (interfaces in order, IPv4 name servers in order without repeats and at most
//! three, every IPv6 address, gateway, name server and method counted), or the first refusal in
//! the order the arguments come (`ArgError`: which argument, its place, why), a second argument
//! for one interface, a fifth one and a DHCP one without an interface among several included.
//!
//! Arbitrary bytes: never a panic; a refusal names an argument that exists (its place within the
//! number of `ip=` or `nameserver=` words) and a reason that argument can have, and the command
//! line cut before that argument is accepted; an accepted configuration keeps its bounds (at most
//! 4 interfaces and one per interface name, prefixes ≤ 32, valid names, name servers without
//! repeats), `NetConfig::for_nic` picks an interface by MAC, then name, then any NIC, and it is
//! stable: written back as `ip=`/`nameserver=` text it parses to itself.
#![no_main]

use arbitrary::{Result as ArbResult, Unstructured};
use flint::decode::cmdline;
use flint::net::config::{
    self, ArgError, DNS_MAX, IFACES_MAX, IfName, Iface, Invalid, Match, Method, NetConfig, Static,
};
use flint_fuzz::check_for_nic;
use libfuzzer_sys::fuzz_target;

/// dracut's methods, in the order src/net/config.rs lists them: 0–1 static, 2–5 DHCPv4 (2,
/// `single-dhcp`, only in a method list), 6 `dhcp6`, 7–9 IPv6 only.
const METHODS: [&str; 10] = ["none", "off", "single-dhcp", "dhcp", "on", "any", "dhcp6", "auto6", "either6", "link6"];

/// Words that are no `ip=` or `nameserver=` argument.
const OTHERS: &[&str] = &[
    "root=/dev/vda1",
    "ro",
    "quiet",
    "console=ttyS0,115200n8",
    "ip",
    "nameserver",
    "IP=dhcp",
    "ip6=dhcp",
    "rd.neednet=1",
    "ifname=eth0:52:54:00:12:34:56",
    "ipv6.disable=1",
    "nameserver6=::1",
    "nameservers=1.1.1.1",
    "\"x=a b\"",
    "x=\"ip=dhcp\"",
    "flint.interface=eth0",
];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
}

fn v4_text(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

/// An address, IPv6 with odds `n` in `d`.
fn any_ip(u: &mut Unstructured, n: u8, d: u8) -> ArbResult<Ip> {
    let v6 = u.ratio(n, d)?;
    ip(u, v6)
}

fn ip(u: &mut Unstructured, v6: bool) -> ArbResult<Ip> {
    if !v6 {
        return Ok(Ip::V4(u.arbitrary()?));
    }
    let mut g = [0u16; 8];
    for x in &mut g {
        // Zero groups often, so that `::` has something to stand for.
        *x = if u.ratio(1, 2)? { 0 } else { u.arbitrary()? };
    }
    Ok(Ip::V6(g))
}

/// RFC 4291 §2.2 text: std's (compressed, lowercase, `::ffff:a.b.c.d`) or all eight groups
/// with or without leading zeros, in either case.
fn v6_text(u: &mut Unstructured, g: [u16; 8]) -> ArbResult<String> {
    let s = match u.int_in_range(0..=2)? {
        0 => std::net::Ipv6Addr::from(g).to_string(),
        n => g.iter().map(|x| if n == 1 { format!("{x:x}") } else { format!("{x:04x}") }).collect::<Vec<_>>().join(":"),
    };
    Ok(if u.ratio(1, 4)? { s.to_uppercase() } else { s })
}

/// An address as an `ip=` field: IPv6 in brackets (it holds colons).
fn ip_field(u: &mut Unstructured, a: Ip) -> ArbResult<Vec<u8>> {
    Ok(match a {
        Ip::V4(a) => v4_text(a).into_bytes(),
        Ip::V6(g) => format!("[{}]", v6_text(u, g)?).into_bytes(),
    })
}

/// A valid interface name: 1–15 bytes, none of them white space, `/`, `:` or DEL, not `.` or
/// `..`; here also no `[` first (dracut would look for a bracketed IPv6 address there) and no
/// `"` first or last (the kernel's splitter would take it for a quote around the value). A `"`
/// inside stays: it only changes how the word must be quoted (see `word`).
fn name(u: &mut Unstructured) -> ArbResult<Vec<u8>> {
    const CHARS: &[u8] = b"eth0123ns-_.@#%+=][~!\"abcdefghXYZ\xc3\xa9\xff";
    let len = u.int_in_range(1..=15)?;
    let mut n: Vec<u8> = (0..len).map(|_| u.choose(CHARS).copied()).collect::<ArbResult<_>>()?;
    if n[0] == b'[' || n[0] == b'"' || n == b"." || n == b".." {
        n[0] = b'e';
    }
    if n.len() > 1 && n[n.len() - 1] == b'"' {
        n[len - 1] = b'0';
    }
    Ok(n)
}

/// A hostname field: dracut does not read it; anything but `:`, and white space (only inside
/// quotes) when `spaces`.
fn hostname(u: &mut Unstructured, spaces: bool) -> ArbResult<Vec<u8>> {
    const CHARS: &[u8] = b"vm1.example-_ []=,/\\'\xc3\xa9";
    let len = u.int_in_range(0..=12)?;
    let mut h: Vec<u8> = (0..len).map(|_| u.choose(CHARS).copied()).collect::<ArbResult<_>>()?;
    if !spaces {
        h.retain(|&b| b != b' ');
    }
    if h.first() == Some(&b'[') {
        h[0] = b'h';
    }
    Ok(h)
}

#[derive(Debug)]
enum Form {
    /// `ip=METHOD[,METHOD…]` for any NIC: DHCP and IPv6 methods; none given is `dhcp`.
    Bare(Vec<usize>),
    /// `ip=IFACE:METHOD`, one of `dhcp|on|any|dhcp6|auto6|either6|link6` (3–9).
    Iface(usize),
    /// The full form. With a client address: static (`none`/`off`, maybe IPv6 methods too);
    /// without: DHCP and IPv6 methods, none given being `dhcp`.
    Full {
        client: Option<Ip>,
        peer: Option<Ip>,
        gw: Option<Ip>,
        prefix: Option<u8>,
        hostname: Vec<u8>,
        methods: Vec<usize>,
    },
}

#[derive(Debug)]
enum Tail {
    None,
    /// `:DNS1[:DNS2]`, full form only.
    Dns(Vec<Ip>),
    /// `:MTU[:MAC]`; at least one of them.
    Link {
        mtu: Option<u16>,
        mac: Option<[u8; 6]>,
    },
}

/// One way to break an argument; each gives the reason named after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Break {
    Fields,
    Method,
    Interface,
    Conflict,
    Missing,
    Address,
    Peer,
    Gateway,
    Netmask,
    Family,
    Dns,
    Mtu,
    Mac,
}

#[derive(Debug)]
struct IpArg {
    name: Option<Vec<u8>>,
    form: Form,
    tail: Tail,
    brk: Option<Break>,
}

impl IpArg {
    fn methods(&self) -> Vec<usize> {
        match &self.form {
            Form::Bare(m) | Form::Full { methods: m, .. } if m.is_empty() => vec![3],
            Form::Bare(m) | Form::Full { methods: m, .. } => m.clone(),
            Form::Iface(m) => vec![*m],
        }
    }

    fn breaks(&self) -> Vec<Break> {
        let mut b = vec![];
        match &self.form {
            Form::Bare(_) => b.extend([Break::Method, Break::Missing]),
            Form::Iface(_) => {}
            Form::Full { client, .. } => {
                b.extend([Break::Method, Break::Conflict, Break::Peer, Break::Gateway]);
                if client.is_some() {
                    b.extend([Break::Missing, Break::Address, Break::Netmask, Break::Family]);
                }
            }
        }
        if self.name.is_some() && !matches!(self.form, Form::Bare(_)) {
            b.push(Break::Interface);
        }
        match &self.tail {
            Tail::None => {}
            Tail::Dns(_) => b.extend([Break::Dns, Break::Fields]),
            Tail::Link { mtu, mac } => {
                if mtu.is_some() {
                    b.push(Break::Mtu);
                }
                if mac.is_some() {
                    b.extend([Break::Mac, Break::Fields]);
                }
            }
        }
        b
    }
}

fn ip_arg(u: &mut Unstructured) -> ArbResult<IpArg> {
    let name = if u.ratio(3, 4)? { Some(name(u)?) } else { None };
    let form = match u.int_in_range(0..=3)? {
        0 if name.is_none() => {
            Form::Bare((0..u.int_in_range(0..=3)?).map(|_| u.int_in_range(2..=9)).collect::<ArbResult<_>>()?)
        }
        0 | 1 => Form::Iface(u.int_in_range(3..=9)?),
        n => {
            let client = if n == 2 { Some(any_ip(u, 1, 4)?) } else { None };
            let v6 = matches!(client, Some(Ip::V6(_)));
            let mut methods: Vec<usize> = Vec::new();
            for _ in 0..u.int_in_range(0..=3)? {
                methods.push(if client.is_some() { u.int_in_range(7..=9)? } else { u.int_in_range(2..=9)? });
            }
            if client.is_some() {
                let at = u.int_in_range(0..=methods.len())?;
                methods.insert(at, u.int_in_range(0..=1)?);
            }
            Form::Full {
                peer: if u.ratio(1, 3)? { Some(any_ip(u, 1, 3)?) } else { None },
                gw: if u.ratio(1, 2)? {
                    Some(if client.is_some() { ip(u, v6)? } else { any_ip(u, 1, 3)? })
                } else {
                    None
                },
                prefix: if client.is_some() || u.ratio(1, 3)? {
                    Some(u.int_in_range(0..=if v6 { 128 } else { 32 })?)
                } else {
                    None
                },
                // Quotes in the name leave white space unprotected: none then.
                hostname: hostname(u, !name.as_ref().is_some_and(|n| n.contains(&b'"')))?,
                client,
                methods,
            }
        }
    };
    let tail = match u.int_in_range(0..=2)? {
        1 if matches!(form, Form::Full { .. }) => {
            Tail::Dns((0..u.int_in_range(1..=2)?).map(|_| any_ip(u, 1, 3)).collect::<ArbResult<_>>()?)
        }
        1 | 2 if !matches!(form, Form::Bare(_)) => {
            let mtu = if u.ratio(1, 2)? { Some(u.int_in_range(68..=65535)?) } else { None };
            let mac = if mtu.is_none() || u.ratio(1, 2)? { Some(u.arbitrary()?) } else { None };
            Tail::Link { mtu, mac }
        }
        _ => Tail::None,
    };
    let mut a = IpArg { name, form, tail, brk: None };
    // Broken now and then; never when the fuzzer's bytes ran out (`ratio` is true then).
    if u.int_in_range(0..=9)? == 9 {
        let b = a.breaks();
        if !b.is_empty() {
            a.brk = Some(*u.choose(&b)?);
        }
    }
    Ok(a)
}

/// Methods as dracut reads them: comma-separated, empty items ignored.
fn method_list(u: &mut Unstructured, m: &[usize]) -> ArbResult<Vec<u8>> {
    let mut s = String::new();
    for (i, &m) in m.iter().enumerate() {
        if i > 0 || u.ratio(1, 8)? {
            s.push(',');
        }
        if u.ratio(1, 8)? {
            s.push(',');
        }
        s.push_str(METHODS[m]);
    }
    if !s.is_empty() && u.ratio(1, 8)? {
        s.push(',');
    }
    Ok(s.into_bytes())
}

fn dotted(prefix: u8) -> String {
    let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    v4_text(m.to_be_bytes())
}

/// Renders `a` as an `ip=` value, broken as `a.brk` says.
fn render_ip(u: &mut Unstructured, a: &IpArg) -> ArbResult<Vec<u8>> {
    let brk = a.brk;
    let name = match (&a.name, brk) {
        (Some(_), Some(Break::Interface)) => u
            .choose(&[
                &b"."[..],
                b"..",
                b"a/b",
                b"eth0\x7f",
                b"enp0s31f6-abcdef",
                b"\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9\xc3\xa9",
            ])?
            .to_vec(),
        (n, _) => n.clone().unwrap_or_default(),
    };
    let mut f: Vec<Vec<u8>> = match &a.form {
        Form::Bare(m) => {
            let mut m = m.clone();
            match brk {
                Some(Break::Method) => m.insert(u.int_in_range(0..=m.len())?, 10),
                Some(Break::Missing) => m.insert(u.int_in_range(0..=m.len())?, u.int_in_range(0..=1)?),
                _ => {}
            }
            vec![bad_methods(u, &m)?]
        }
        Form::Iface(m) => vec![name.clone(), METHODS[*m].as_bytes().to_vec()],
        Form::Full { client, peer, gw, prefix, hostname, methods } => {
            let mut m = methods.clone();
            match brk {
                Some(Break::Method) => m.insert(u.int_in_range(0..=m.len())?, 10),
                Some(Break::Conflict) if client.is_some() => {
                    m.insert(u.int_in_range(0..=m.len())?, u.int_in_range(2..=6)?)
                }
                _ => {}
            }
            let client = match (client, brk) {
                (None, Some(Break::Conflict)) => Some(Ip::V4(u.arbitrary()?)),
                (c, _) => *c,
            };
            let v6 = matches!(client, Some(Ip::V6(_)));
            let some = |u: &mut Unstructured, a: Option<Ip>| a.map_or(Ok(vec![]), |a| ip_field(u, a));
            let client_text = match brk {
                Some(Break::Address) => {
                    u.choose(&["1.2.3", "256.0.0.1", "01.2.3.4", "1.2.3.4.5", "eth0", "1.2.3.-4"])?.as_bytes().to_vec()
                }
                _ => some(u, client)?,
            };
            let peer = match brk {
                Some(Break::Peer) => u.choose(&["nfs", "1.2.3", "10.0.0.01", "[1::2::3]"])?.as_bytes().to_vec(),
                _ => some(u, *peer)?,
            };
            let gw = match brk {
                Some(Break::Gateway) => {
                    u.choose(&["gw", "1.2.3.256", "[2001:db8::g]", "1.2.3.4/24"])?.as_bytes().to_vec()
                }
                Some(Break::Family) => {
                    let other = ip(u, !v6)?;
                    ip_field(u, other)?
                }
                _ => some(u, *gw)?,
            };
            let mask = match (brk, prefix) {
                (Some(Break::Missing), _) => vec![],
                (Some(Break::Netmask), _) if v6 => {
                    u.choose(&["255.255.255.0", "129", "064", "-1"])?.as_bytes().to_vec()
                }
                (Some(Break::Netmask), _) => u
                    .choose(&["255.0.255.0", "33", "024", "255.255.255.1", "129", "0.255.255.255"])?
                    .as_bytes()
                    .to_vec(),
                (_, None) => vec![],
                (_, Some(p)) if !v6 && u.ratio(1, 2)? => dotted(*p).into_bytes(),
                (_, Some(p)) => p.to_string().into_bytes(),
            };
            vec![client_text, peer, gw, mask, hostname.clone(), name.clone(), bad_methods(u, &m)?]
        }
    };
    let bare = matches!(a.form, Form::Bare(_));
    match &a.tail {
        Tail::None => {}
        Tail::Dns(d) => {
            for (i, &d) in d.iter().enumerate() {
                f.push(if brk == Some(Break::Dns) && i == 0 { b"1.1.1".to_vec() } else { ip_field(u, d)? });
            }
            if brk == Some(Break::Fields) {
                f.push(b"9.9.9.9".to_vec());
                if d.len() == 1 {
                    f.push(b"8.8.8.8".to_vec());
                }
            }
        }
        Tail::Link { mtu, mac } => {
            f.push(match (mtu, brk) {
                (Some(_), Some(Break::Mtu)) => {
                    u.choose(&["67", "65536", "01500", "0", "jumbo", "99999"])?.as_bytes().to_vec()
                }
                (Some(m), _) => m.to_string().into_bytes(),
                (None, _) => vec![],
            });
            if let Some(m) = mac {
                let hex = |u: &mut Unstructured, b: u8| -> ArbResult<String> {
                    Ok(if u.ratio(1, 2)? { format!("{b:02x}") } else { format!("{b:02X}") })
                };
                let mut pairs: Vec<String> = m.iter().map(|&b| hex(u, b)).collect::<ArbResult<_>>()?;
                match brk {
                    Some(Break::Mac) => {
                        let i = u.int_in_range(0..=5)?;
                        pairs[i] = u.choose(&["zz", "5", "123", "g0"])?.to_string();
                    }
                    Some(Break::Fields) => _ = pairs.pop(),
                    _ => {}
                }
                // Five pairs are a wrong field count only as separate fields.
                match if brk == Some(Break::Fields) { 0 } else { u.int_in_range(0..=2)? } {
                    0 => f.extend(pairs.iter().map(|p| p.as_bytes().to_vec())),
                    1 if pairs.len() == 6 => f.push(pairs.join("-").into_bytes()),
                    _ => f.push(format!("[{}]", pairs.join(":")).into_bytes()),
                }
            }
        }
    }
    // Trailing empty fields are ignored (not in the bare form, where a colon makes it another).
    if !bare && matches!(a.tail, Tail::None) && u.ratio(1, 2)? {
        while f.len() > 2 && f.last().is_some_and(Vec::is_empty) {
            f.pop();
        }
    }
    let mut v = f.join(&b':');
    if !bare {
        let n = u.int_in_range(0..=2)?;
        v.extend(std::iter::repeat_n(b':', n));
    }
    Ok(v)
}

/// A method list with index 10 standing for a method dracut or flint refuses.
fn bad_methods(u: &mut Unstructured, m: &[usize]) -> ArbResult<Vec<u8>> {
    let good: Vec<usize> = m.iter().map(|&m| m.min(9)).collect();
    let mut s = method_list(u, &good)?;
    if let Some(i) = m.iter().position(|&m| m == 10) {
        // Put the bad one in place of the i-th item.
        let bad = u.choose(&["bootp", "ibft", "rarp", "both", "static", "dhcp4", "DHCP", "error"])?;
        let items: Vec<&[u8]> = s.split(|&b| b == b',').filter(|w| !w.is_empty()).collect();
        let mut out: Vec<Vec<u8>> = items.iter().map(|w| w.to_vec()).collect();
        out[i] = bad.as_bytes().to_vec();
        s = out.join(&b',');
    }
    Ok(s)
}

#[derive(Debug)]
enum Word {
    Ip(IpArg),
    /// A `nameserver=` list; `None` items are empty ones; `true`: broken.
    Ns(Vec<Option<Ip>>, bool),
    Other(u8),
}

/// What the model expects from one argument, and the state it carries.
#[derive(Default)]
struct Model {
    c: NetConfig,
    seen: Vec<Vec<u8>>,
    nth: [u8; 2],
    lone_dhcp: Option<u8>,
}

impl Model {
    fn dns(&mut self, a: Ip) {
        match a {
            Ip::V4(a) if !self.c.dns.contains(&a) && self.c.dns.len() < DNS_MAX => self.c.dns.push(a).unwrap(),
            Ip::V4(_) => {}
            Ip::V6(g) => {
                let a = std::net::Ipv6Addr::from(g).octets();
                if !self.c.dns6.contains(&a) && self.c.dns6.len() < DNS_MAX {
                    self.c.dns6.push(a).unwrap();
                }
            }
        }
    }

    fn ip(&mut self, a: &IpArg) -> Result<(), Invalid> {
        if let Some(b) = a.brk {
            return Err(match b {
                Break::Fields => Invalid::Fields,
                Break::Method => Invalid::Method,
                Break::Interface => Invalid::Interface,
                Break::Conflict => Invalid::Conflict,
                Break::Missing => Invalid::Missing,
                Break::Address => Invalid::Address,
                Break::Peer => Invalid::Peer,
                Break::Gateway => Invalid::Gateway,
                Break::Netmask => Invalid::Netmask,
                Break::Family => Invalid::Family,
                Break::Dns => Invalid::Dns,
                Break::Mtu => Invalid::Mtu,
                Break::Mac => Invalid::Mac,
            });
        }
        let methods = a.methods();
        let dhcp = methods.iter().any(|m| (2..=6).contains(m));
        let dhcp4 = methods.iter().any(|m| (2..=5).contains(m));
        self.c.ipv6_skipped += methods.iter().filter(|&&m| m >= 6).count() as u8;
        let mut method = dhcp4.then_some(Method::Dhcp);
        if let Form::Full { client: Some(client), gw, prefix, .. } = &a.form {
            match client {
                Ip::V4(address) => {
                    let gateway = match gw {
                        Some(Ip::V4(g)) => Some(*g),
                        _ => None,
                    };
                    method = Some(Method::Static(Static { address: *address, prefix: prefix.unwrap(), gateway }));
                }
                Ip::V6(_) => self.c.ipv6_skipped += 1 + u8::from(gw.is_some()),
            }
        }
        if let Tail::Dns(d) = &a.tail {
            d.iter().for_each(|&d| self.dns(d));
        }
        let name = a.name.clone().unwrap_or_default();
        if self.seen.contains(&name) {
            return Err(Invalid::Duplicate);
        }
        if self.seen.len() == IFACES_MAX {
            return Err(Invalid::TooMany);
        }
        self.seen.push(name.clone());
        if let Some(method) = method {
            let matcher = if name.is_empty() { Match::Any } else { Match::Name(IfName::from_slice(&name).unwrap()) };
            self.c.ifaces.push(Iface { matcher, method }).unwrap();
        }
        if name.is_empty() && dhcp {
            self.lone_dhcp = self.lone_dhcp.or(Some(self.nth[0]));
        }
        Ok(())
    }

    /// The answer for these words.
    fn run(words: &[Word]) -> Result<Option<NetConfig>, ArgError> {
        let mut m = Model::default();
        for w in words {
            let (k, r) = match w {
                Word::Ip(a) => {
                    m.nth[0] += 1;
                    (0, m.ip(a))
                }
                Word::Ns(list, broken) => {
                    m.nth[1] += 1;
                    list.iter().flatten().for_each(|&a| m.dns(a));
                    (1, if *broken { Err(Invalid::Dns) } else { Ok(()) })
                }
                Word::Other(_) => continue,
            };
            r.map_err(|why| ArgError { arg: ["ip", "nameserver"][k], nth: m.nth[k], why })?;
        }
        if let Some(nth) = m.lone_dhcp.filter(|_| m.nth[0] > 1) {
            return Err(ArgError { arg: "ip", nth, why: Invalid::NeedsInterface });
        }
        Ok((m.nth != [0; 2]).then_some(m.c))
    }
}

/// One word as the kernel's command line holds it: `key=value`, `key="value"` or `"key=value"`
/// (quotes are needed, and then used, when the value holds white space). A value with an odd
/// number of `"` (in an interface name) gets one in front, `"key=value`, which the splitter
/// strips again: else the word would run on into the next.
fn word(u: &mut Unstructured, key: &str, value: &[u8], out: &mut Vec<u8>) -> ArbResult<()> {
    let spaces = value.iter().any(u8::is_ascii_whitespace);
    if value.iter().filter(|&&b| b == b'"').count() % 2 == 1 {
        out.extend([b"\"", key.as_bytes(), b"=", value].concat());
        return Ok(());
    }
    match u.int_in_range(if spaces { 1..=2 } else { 0..=2 })? {
        0 => out.extend([key.as_bytes(), b"=", value].concat()),
        1 => out.extend([key.as_bytes(), b"=\"", value, b"\""].concat()),
        _ => out.extend([b"\"", key.as_bytes(), b"=", value, b"\""].concat()),
    }
    Ok(())
}

fn gap(u: &mut Unstructured, out: &mut Vec<u8>) -> ArbResult<()> {
    for _ in 0..u.int_in_range(1..=3)? {
        out.push(*u.choose(b" \t\n")?);
    }
    Ok(())
}

fn structured(data: &[u8]) -> ArbResult<()> {
    let mut u = Unstructured::new(data);
    let mut words = Vec::new();
    for _ in 0..u.int_in_range(0..=9)? {
        if u.is_empty() {
            break;
        }
        words.push(match u.int_in_range(0..=5)? {
            0..=2 => {
                let mut a = ip_arg(&mut u)?;
                // One interface twice (or two without one) is an error; mostly keep them apart.
                let seen = |n: &Option<Vec<u8>>| words.iter().any(|w| matches!(w, Word::Ip(b) if b.name == *n));
                if seen(&a.name) && u.int_in_range(0..=3)? != 3 {
                    let mut n = a.name.take().unwrap_or_else(|| b"eth".to_vec());
                    n.truncate(13);
                    n.extend(format!("{}", words.len()).bytes());
                    a.name = Some(n);
                    if matches!(a.form, Form::Bare(_)) {
                        a.form = Form::Iface(3);
                    }
                    if a.brk.is_some_and(|b| !a.breaks().contains(&b)) {
                        a.brk = None;
                    }
                }
                Word::Ip(a)
            }
            3 => {
                let list = (0..u.int_in_range(0..=4)?)
                    .map(|_| Ok(if u.ratio(1, 6)? { None } else { Some(any_ip(&mut u, 1, 3)?) }));
                Word::Ns(list.collect::<ArbResult<_>>()?, u.int_in_range(0..=15)? == 15)
            }
            _ => Word::Other(u.arbitrary()?),
        });
    }
    let mut text = Vec::new();
    if u.arbitrary()? {
        gap(&mut u, &mut text)?;
    }
    for (i, w) in words.iter().enumerate() {
        if i > 0 {
            gap(&mut u, &mut text)?;
        }
        match w {
            Word::Ip(a) => {
                let v = render_ip(&mut u, a)?;
                word(&mut u, "ip", &v, &mut text)?;
            }
            Word::Ns(list, broken) => {
                let mut items = Vec::new();
                for a in list {
                    items.push(match a {
                        None => vec![],
                        Some(Ip::V4(a)) => v4_text(*a).into_bytes(),
                        Some(Ip::V6(g)) if u.arbitrary()? => v6_text(&mut u, *g)?.into_bytes(),
                        Some(a) => ip_field(&mut u, *a)?,
                    });
                }
                if *broken {
                    let at = u.int_in_range(0..=items.len())?;
                    items.insert(
                        at,
                        u.choose(&["dns.example", "1.1.1", "[::1", "1.1.1.1]", "[1.1.1.1", "::g"])?.as_bytes().to_vec(),
                    );
                }
                word(&mut u, "nameserver", &items.join(&b','), &mut text)?;
            }
            Word::Other(o) => text.extend_from_slice(OTHERS[*o as usize % OTHERS.len()].as_bytes()),
        }
    }
    if u.arbitrary()? {
        // init's arguments: none of them counts.
        text.extend_from_slice(b" -- ip=bootp nameserver=dns.example ip=eth0:dhcp");
    }
    if u.arbitrary()? {
        gap(&mut u, &mut text)?;
    }
    let want = Model::run(&words);
    let got = config::from_kernel_args(&text);
    assert_eq!(got, want, "in {:?}\nwords {words:#?}", String::from_utf8_lossy(&text));
    // The built line through the checks for any bytes too: its configurations are richer.
    arbitrary_bytes(&text);
    Ok(())
}

/// A valid interface name (the module docs' rule, written anew).
fn valid_name(n: &[u8]) -> bool {
    (1..=15).contains(&n.len())
        && n != b"."
        && n != b".."
        && n.iter().all(|&b| b > b' ' && b != b'/' && b != b':' && b != 0x7f)
}

/// `c` written back as kernel arguments: one `ip=` per interface in order, the name servers in
/// one `nameserver=`, and as many `::` as IPv6 things were counted.
fn render_config(c: &NetConfig) -> Vec<u8> {
    let mut words: Vec<Vec<u8>> = Vec::new();
    for i in &c.ifaces {
        let name = match &i.matcher {
            Match::Name(n) => n.to_vec(),
            _ => vec![],
        };
        // The IPv6 methods counted go in the first `ip=`'s method list (each counts once): one
        // for any NIC must be the only `ip=`, and their number is bounded.
        let first = std::ptr::eq(i, &c.ifaces[0]);
        let v6: Vec<u8> = if first { b",auto6".repeat(c.ipv6_skipped as usize) } else { vec![] };
        let v = match i.method {
            Method::Static(s) => [
                v4_text(s.address).as_bytes(),
                b"::",
                s.gateway.map(v4_text).unwrap_or_default().as_bytes(),
                b":",
                s.prefix.to_string().as_bytes(),
                b"::",
                &name,
                b":none",
                &v6,
            ]
            .concat(),
            Method::Dhcp => [&b":::::"[..], &name, b":dhcp", &v6].concat(),
        };
        // No escape exists for a `"` inside a word: an odd number of them would join the next
        // word, so a quote in front (stripped again) makes the count even.
        let lead: &[u8] = if v.iter().filter(|&&b| b == b'"').count() % 2 == 1 { b"\"" } else { b"" };
        words.push([lead, b"ip=", &v].concat());
    }
    let dns: Vec<String> = c.dns.iter().map(|&a| v4_text(a)).collect();
    if !dns.is_empty() || c.ipv6_skipped == 0 && c.ifaces.is_empty() {
        words.push(format!("nameserver={}", dns.join(",")).into_bytes());
    }
    for a in &c.dns6 {
        words.push(format!("nameserver=[{}]", std::net::Ipv6Addr::from(*a)).into_bytes());
    }
    // IPv6 methods are counted and not kept (IPv6 name servers are kept: above).
    // Without any: one `ip=` for them.
    if c.ipv6_skipped > 0 && c.ifaces.is_empty() {
        let methods = vec!["auto6"; c.ipv6_skipped as usize].join(",");
        words.push(format!("ip=:::::v6skip:{methods}").into_bytes());
    }
    words.join(&b' ')
}

fn arbitrary_bytes(data: &[u8]) {
    let got = config::from_kernel_args(data);
    // Where each `ip=` and `nameserver=` argument starts, by the splitter flint uses (the
    // `cmdline` target holds it to the kernel's rules).
    let mut at: [Vec<usize>; 2] = [vec![], vec![]];
    for (k, v) in cmdline::args(data) {
        let i = match (k, v) {
            (b"ip", Some(_)) => 0,
            (b"nameserver", Some(_)) => 1,
            _ => continue,
        };
        at[i].push(k.as_ptr() as usize - data.as_ptr() as usize);
    }
    match got {
        Ok(None) => assert!(at[0].is_empty() && at[1].is_empty(), "arguments given, nothing read"),
        Ok(Some(c)) => {
            assert!(!at[0].is_empty() || !at[1].is_empty(), "a configuration from no argument");
            assert!(c.ifaces.len() <= at[0].len().min(IFACES_MAX));
            for (n, i) in c.ifaces.iter().enumerate() {
                match &i.matcher {
                    Match::Name(name) => assert!(valid_name(name), "name {name:?}"),
                    Match::Any => {
                        if i.method == Method::Dhcp {
                            assert_eq!(at[0].len(), 1, "DHCP for any NIC among several ip=");
                        }
                    }
                    Match::Mac(_) => panic!("ip= matched a MAC"),
                }
                if let Method::Static(s) = i.method {
                    assert!(s.prefix <= 32);
                }
                assert!(c.ifaces[..n].iter().all(|j| j.matcher != i.matcher), "two ip= for one interface");
            }
            for (n, d) in c.dns.iter().enumerate() {
                assert!(!c.dns[..n].contains(d), "a repeated name server");
            }
            for (n, d) in c.dns6.iter().enumerate() {
                assert!(!c.dns6[..n].contains(d), "a repeated IPv6 name server");
            }
            assert!(c.search.is_empty() && c.skipped == 0);
            check_for_nic(&c);
            let text = render_config(&c);
            let again = config::from_kernel_args(&text);
            assert_eq!(again, Ok(Some(c)), "not stable; written back as {:?}", String::from_utf8_lossy(&text));
        }
        Err(e) => {
            let k = match e.arg {
                "ip" => 0,
                "nameserver" => 1,
                a => panic!("error for an argument {a:?}"),
            };
            let n = at[k].len();
            assert!(e.nth >= 1 && usize::from(e.nth) <= n.min(255), "{e} of {n}");
            match e.why {
                Invalid::Dns => {}
                _ if k == 1 => panic!("nameserver= refused for {:?}", e.why),
                Invalid::NeedsInterface => assert!(n > 1, "{e} with one ip="),
                Invalid::TooMany => assert_eq!(e.nth as usize, IFACES_MAX + 1),
                Invalid::Search => panic!("no search domain in ip="),
                _ => {}
            }
            // Everything before the argument refused was accepted: cut there, the command line
            // reads (or fails only the check made once every argument is read).
            if e.why != Invalid::NeedsInterface && e.nth < 255 {
                let cut = &data[..at[k][usize::from(e.nth) - 1]];
                let before = config::from_kernel_args(cut);
                assert!(
                    matches!(before, Ok(_) | Err(ArgError { why: Invalid::NeedsInterface, .. })),
                    "{e}, but the arguments before it give {before:?}"
                );
            }
        }
    }
}

fuzz_target!(|data: &[u8]| {
    arbitrary_bytes(data);
    let _ = structured(data);
});
