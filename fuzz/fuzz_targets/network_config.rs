//! cloud-init's network-config (v1 and v2) and OpenStack's network_data.json (src/net/config.rs
//! `from_network_config`, `from_network_data`), in two halves.
//!
//! Structured: a known set of NICs chosen by the fuzzer — each matched by MAC or by name (valid
//! names with odd characters, longer than 15 bytes now and then, glob characters), with up to two
//! static IPv4 addresses (a prefix, a dotted netmask or none: /24), DHCPv4, an IPv6 address,
//! DHCPv6, an IPv4 gateway, an IPv6 one, a route that is not the default one, name servers and
//! search domains — plus global name servers and search domains and devices flint does not
//! configure (bonds, bridges, VLANs, NICs matched by driver). It is written out as a v1
//! document (physical entries with subnets of every type, the gateway on the subnet or as a
//! default route, a `nameserver` entry), a v2 document (`ethernets` by id, `match.name` or
//! `match.macaddress`, `addresses`, `gateway4` or a route `to: default`, `nameservers`), both
//! as YAML (block and flow collections, plain, single- and double-quoted scalars, sequences at
//! their key's column, compact `- key:` mappings, comments, `---`, CRLF, a `network:` key
//! around it) and as JSON (read with the JSON scanner and with the YAML reader), and as a
//! network_data.json (links, networks of type ipv4, ipv4_dhcp, ipv6, ipv6_dhcp with routes and
//! services, top-level services, a VLAN link); keys come in any order. Each parse must give what
//! the module docs say, computed by a model from the known NICs: interfaces in order, the first
//! static IPv4 address winning over DHCP, later ones and other routes counted as skipped, IPv6
//! counted, name servers and search domains in document order without repeats and within
//! bounds, at most 4 interfaces.
//!
//! Arbitrary bytes, read as YAML and as JSON network-config and as network_data.json: never a
//! panic; a document both the JSON scanner and the YAML reader take reads the same through
//! either; an accepted configuration keeps its bounds (4 interfaces, one per MAC or name, valid
//! names, prefixes ≤ 32, name servers and search domains without repeats, 256 bytes of search
//! domains), `NetConfig::for_nic` picks an interface by MAC, then name, then any NIC, and it is
//! stable: written back as a v1 JSON document, it reads to itself.
#![no_main]

use arbitrary::{Result as ArbResult, Unstructured};
use flint::decode::{json, yaml};
use flint::net::config::{
    self, ConfigError, DNS_MAX, IFACES_MAX, IfName, Iface, Match, Method, NetConfig, SEARCH_MAX, Static,
};
use flint_fuzz::check_for_nic;
use libfuzzer_sys::fuzz_target;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Ip {
    V4([u8; 4]),
    V6([u16; 8]),
}

fn v4_text(a: [u8; 4]) -> String {
    format!("{}.{}.{}.{}", a[0], a[1], a[2], a[3])
}

fn v6_text(u: &mut Unstructured, g: [u16; 8]) -> ArbResult<String> {
    let s = match u.int_in_range(0..=2)? {
        0 => std::net::Ipv6Addr::from(g).to_string(),
        n => g.iter().map(|x| if n == 1 { format!("{x:x}") } else { format!("{x:04x}") }).collect::<Vec<_>>().join(":"),
    };
    Ok(if u.ratio(1, 4)? { s.to_uppercase() } else { s })
}

fn ip_text(u: &mut Unstructured, a: Ip) -> ArbResult<String> {
    match a {
        Ip::V4(a) => Ok(v4_text(a)),
        Ip::V6(g) => v6_text(u, g),
    }
}

fn v6(u: &mut Unstructured) -> ArbResult<[u16; 8]> {
    let mut g = [0u16; 8];
    for x in &mut g {
        *x = if u.ratio(1, 2)? { 0 } else { u.arbitrary()? };
    }
    Ok(g)
}

fn any_ip(u: &mut Unstructured) -> ArbResult<Ip> {
    Ok(if u.int_in_range(0..=3)? == 3 { Ip::V6(v6(u)?) } else { Ip::V4(u.arbitrary()?) })
}

fn dotted(prefix: u8) -> String {
    let m = if prefix == 0 { 0 } else { u32::MAX << (32 - u32::from(prefix)) };
    v4_text(m.to_be_bytes())
}

fn mac_text(u: &mut Unstructured, m: [u8; 6]) -> ArbResult<String> {
    let sep = if u.int_in_range(0..=3)? == 3 { "-" } else { ":" };
    let s = m.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(sep);
    Ok(if u.ratio(1, 3)? { s.to_uppercase() } else { s })
}

/// A valid interface name (1–20 characters: cut to 15 bytes when read), with characters that
/// need quoting in YAML and glob characters (`*?[`, which v2 `match.name` does not match).
fn name(u: &mut Unstructured) -> ArbResult<String> {
    const CHARS: &[char] = &[
        'e', 't', 'h', 'n', 's', '0', '1', '2', '3', '-', '_', '.', '@', '+', '=', '~', '!', '*', '?', '[', ']', '#',
        '&', '\'', '"', '\\', ',', '{', '}', 'é', '€',
    ];
    let len = if u.int_in_range(0..=7)? == 7 { u.int_in_range(16..=20)? } else { u.int_in_range(1..=8)? };
    let mut n: String = (0..len).map(|_| u.choose(CHARS).copied()).collect::<ArbResult<_>>()?;
    if n == "." || n == ".." {
        n = "eth0".into();
    }
    Ok(n)
}

/// Bytes of a name as flint keeps it: cut to 15.
fn kept(n: &str) -> IfName {
    IfName::from_slice(&n.as_bytes()[..n.len().min(15)]).unwrap()
}

fn domain(u: &mut Unstructured) -> ArbResult<String> {
    const CHARS: &[u8] = b"abcxyz019-_.";
    let len = if u.int_in_range(0..=15)? == 15 { u.int_in_range(100..=253)? } else { u.int_in_range(1..=12)? };
    (0..len).map(|_| u.choose(CHARS).map(|&c| c as char)).collect()
}

#[derive(Debug)]
struct Nic {
    mac: Option<[u8; 6]>,
    name: String,
    /// Static IPv4 addresses and their prefixes (`None`: none given, /24).
    v4: Vec<([u8; 4], Option<u8>)>,
    dhcp4: bool,
    v6: Option<([u16; 8], u8)>,
    dhcp6: bool,
    /// Only with a static address.
    gateway: Option<[u8; 4]>,
    gateway6: Option<[u16; 8]>,
    /// An IPv4 route that is not the default one: network, prefix 1–32, next hop.
    route: Option<([u8; 4], u8, [u8; 4])>,
    dns: Vec<Ip>,
    search: Vec<String>,
}

#[derive(Debug)]
struct Spec {
    nics: Vec<Nic>,
    dns: Vec<Ip>,
    search: Vec<String>,
    /// Bonds, bridges, VLANs, NICs matched by driver.
    virtuals: usize,
}

fn list<T>(u: &mut Unstructured, max: usize, f: impl Fn(&mut Unstructured) -> ArbResult<T>) -> ArbResult<Vec<T>> {
    let n = u.int_in_range(0..=max)?;
    (0..n).map(|_| f(u)).collect()
}

fn spec(u: &mut Unstructured) -> ArbResult<Spec> {
    let mut nics = Vec::new();
    for _ in 0..u.int_in_range(0..=6)? {
        if u.is_empty() {
            break;
        }
        let v4 =
            list(u, 2, |u| Ok((u.arbitrary()?, if u.ratio(3, 4)? { Some(u.int_in_range(0..=32)?) } else { None })))?;
        let statik = !v4.is_empty();
        nics.push(Nic {
            mac: if u.ratio(1, 2)? { Some(u.arbitrary()?) } else { None },
            name: name(u)?,
            v4,
            dhcp4: u.ratio(1, 2)?,
            v6: if u.int_in_range(0..=3)? == 3 { Some((v6(u)?, u.int_in_range(0..=128)?)) } else { None },
            dhcp6: u.int_in_range(0..=3)? == 3,
            gateway: if statik && u.ratio(1, 2)? { Some(u.arbitrary()?) } else { None },
            gateway6: if u.int_in_range(0..=3)? == 3 { Some(v6(u)?) } else { None },
            route: if u.int_in_range(0..=3)? == 3 {
                Some((u.arbitrary()?, u.int_in_range(1..=32)?, u.arbitrary()?))
            } else {
                None
            },
            dns: list(u, 2, any_ip)?,
            search: list(u, 2, domain)?,
        });
    }
    Ok(Spec { nics, dns: list(u, 3, any_ip)?, search: list(u, 3, domain)?, virtuals: u.int_in_range(0..=2)? })
}

/// The answer, built the way the module docs say as the document is written.
#[derive(Default)]
struct Model {
    c: NetConfig,
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

    fn search(&mut self, d: &str) {
        let known = self.c.search.split(|&b| b == b' ').any(|w| w == d.as_bytes());
        if !known && self.c.search.len() + 1 + d.len() <= SEARCH_MAX {
            if !self.c.search.is_empty() {
                self.c.search.push(b' ').unwrap();
            }
            self.c.search.extend_from_slice(d.as_bytes()).unwrap();
        }
    }

    fn v6(&mut self, n: usize) {
        self.c.ipv6_skipped = self.c.ipv6_skipped.saturating_add(n as u8);
    }

    fn skip(&mut self, n: usize) {
        self.c.skipped = self.c.skipped.saturating_add(n as u8);
    }

    /// Closes an interface: a static address wins over DHCP; a second entry for a NIC only turns
    /// DHCP into a static address; past 4, skipped.
    fn close(&mut self, matcher: Match, v4: Option<([u8; 4], u8)>, gateway: Option<[u8; 4]>, dhcp: bool) {
        let method = match v4 {
            Some((address, prefix)) => Method::Static(Static { address, prefix, gateway }),
            None if dhcp => Method::Dhcp,
            None => return,
        };
        let full = self.c.ifaces.len() == IFACES_MAX;
        match self.c.ifaces.iter_mut().find(|x| x.matcher == matcher) {
            Some(x) if x.method == Method::Dhcp && method != Method::Dhcp => x.method = method,
            Some(_) => self.skip(1),
            None if !full => self.c.ifaces.push(Iface { matcher, method }).unwrap(),
            None => self.skip(1),
        }
    }

    /// What one NIC of a v1 or v2 document adds, but for closing it.
    fn nic_counts(&mut self, n: &Nic) {
        n.dns.iter().for_each(|&a| self.dns(a));
        n.search.iter().for_each(|d| self.search(d));
        self.v6(usize::from(n.v6.is_some()) + usize::from(n.dhcp6) + usize::from(n.gateway6.is_some()));
        self.skip(n.v4.len().saturating_sub(1) + usize::from(n.route.is_some()));
    }

    fn nic(&mut self, n: &Nic, skipped: bool) {
        self.nic_counts(n);
        if skipped {
            self.skip(1);
            return;
        }
        let matcher = match n.mac {
            Some(m) => Match::Mac(m),
            None => Match::Name(kept(&n.name)),
        };
        let v4 = n.v4.first().map(|&(a, p)| (a, p.unwrap_or(24)));
        self.close(matcher, v4, n.gateway, n.dhcp4);
    }
}

/// A document tree; `Lit` is a JSON literal (number, `true`, `null`), plain in YAML.
#[derive(Clone, Debug)]
enum Node {
    Map(Vec<(String, Node)>),
    Seq(Vec<Node>),
    Str(String),
    Lit(String),
}

fn s(t: impl Into<String>) -> Node {
    Node::Str(t.into())
}

fn map(entries: Vec<(&str, Node)>) -> Node {
    Node::Map(entries.into_iter().map(|(k, v)| (k.to_string(), v)).collect())
}

/// The same members in an order the fuzzer picks (for objects whose member order means nothing).
fn shuffled(u: &mut Unstructured, mut entries: Vec<(&str, Node)>) -> ArbResult<Node> {
    for i in (1..entries.len()).rev() {
        let j = u.int_in_range(0..=i)?;
        entries.swap(i, j);
    }
    Ok(map(entries))
}

fn insert_at<T>(u: &mut Unstructured, v: &mut Vec<T>, x: T) -> ArbResult<()> {
    let at = u.int_in_range(0..=v.len())?;
    v.insert(at, x);
    Ok(())
}

/// A list, or (cloud-init splits a string where it expects a list) one string of words.
fn words(u: &mut Unstructured, items: Vec<String>) -> ArbResult<Node> {
    Ok(if !items.is_empty() && u.int_in_range(0..=3)? == 3 {
        s(items.join(" "))
    } else {
        Node::Seq(items.into_iter().map(Node::Str).collect())
    })
}

fn ips(u: &mut Unstructured, a: &[Ip]) -> ArbResult<Vec<String>> {
    a.iter().map(|&a| ip_text(u, a)).collect()
}

/// Addresses as [`words`].
fn ip_words(u: &mut Unstructured, a: &[Ip]) -> ArbResult<Node> {
    let t = ips(u, a)?;
    words(u, t)
}

/// Inserts an object, its members shuffled, at a place the fuzzer picks.
fn insert_shuffled(u: &mut Unstructured, v: &mut Vec<Node>, entries: Vec<(&str, Node)>) -> ArbResult<()> {
    let x = shuffled(u, entries)?;
    insert_at(u, v, x)
}

fn boolean(u: &mut Unstructured, v: bool) -> ArbResult<Node> {
    let spellings: &[&str] =
        if v { &["true", "True", "TRUE", "yes", "Yes", "on", "ON"] } else { &["false", "no", "off", "False"] };
    Ok(match u.int_in_range(0..=2)? {
        0 => Node::Lit(if v { "true" } else { "false" }.into()),
        _ => s(*u.choose(spellings)?),
    })
}

fn number(u: &mut Unstructured, n: u32) -> ArbResult<Node> {
    Ok(if u.ratio(1, 2)? { Node::Lit(n.to_string()) } else { s(n.to_string()) })
}

/// Wraps a document in `network:` now and then.
fn top(u: &mut Unstructured, doc: Node) -> ArbResult<Node> {
    Ok(if u.int_in_range(0..=3)? == 3 { map(vec![("network", doc)]) } else { doc })
}

/// The v1 document for `sp`, and its answer.
fn v1(u: &mut Unstructured, sp: &Spec) -> ArbResult<(Node, NetConfig)> {
    let mut m = Model::default();
    let mut items = Vec::new();
    let global_at = u.int_in_range(0..=sp.nics.len())?;
    let global = |u: &mut Unstructured, m: &mut Model| -> ArbResult<Node> {
        sp.dns.iter().for_each(|&a| m.dns(a));
        sp.search.iter().for_each(|d| m.search(d));
        let mut e = vec![("type", s("nameserver"))];
        if !sp.dns.is_empty() || u.ratio(1, 2)? {
            e.push(("address", ip_words(u, &sp.dns)?));
        }
        if !sp.search.is_empty() || u.ratio(1, 2)? {
            e.push(("search", words(u, sp.search.clone())?));
        }
        shuffled(u, e)
    };
    for (i, n) in sp.nics.iter().enumerate() {
        if i == global_at {
            items.push(global(u, &mut m)?);
        }
        let mut subnets = Vec::new();
        let gw_on_subnet = u.ratio(1, 2)?;
        for (k, &(a, p)) in n.v4.iter().enumerate() {
            let mut e = vec![("type", s("static"))];
            match (p, u.int_in_range(0..=2)?) {
                (None, _) => e.push(("address", s(v4_text(a)))),
                (Some(p), 0) => e.push(("address", s(format!("{}/{p}", v4_text(a))))),
                (Some(p), 1) => e.extend([("address", s(v4_text(a))), ("netmask", s(dotted(p)))]),
                (Some(p), _) => e.extend([("address", s(v4_text(a))), ("prefix", number(u, p.into())?)]),
            }
            if let (0, Some(g), true) = (k, n.gateway, gw_on_subnet) {
                e.push(("gateway", s(v4_text(g))));
            }
            subnets.push(shuffled(u, e)?);
        }
        if n.dhcp4 {
            let t = *u.choose(&["dhcp", "dhcp4"])?;
            insert_at(u, &mut subnets, map(vec![("type", s(t))]))?;
        }
        if let Some((g, p)) = n.v6 {
            let a = format!("{}/{p}", v6_text(u, g)?);
            insert_shuffled(u, &mut subnets, vec![("type", s("static6")), ("address", s(a))])?;
        }
        if n.dhcp6 {
            let t = *u.choose(&["dhcp6", "ipv6_slaac", "ipv6_dhcpv6-stateless", "ipv6_dhcpv6-stateful"])?;
            insert_at(u, &mut subnets, map(vec![("type", s(t))]))?;
        }
        let mut routes = Vec::new();
        if let (Some(g), false) = (n.gateway, gw_on_subnet) {
            routes.push(if u.ratio(1, 2)? {
                shuffled(u, vec![("network", s("0.0.0.0")), ("netmask", s("0.0.0.0")), ("gateway", s(v4_text(g)))])?
            } else {
                shuffled(u, vec![("destination", s("0.0.0.0/0")), ("gateway", s(v4_text(g)))])?
            });
        }
        if let Some(g) = n.gateway6 {
            let via = v6_text(u, g)?;
            insert_shuffled(u, &mut routes, vec![("destination", s("::/0")), ("gateway", s(via))])?;
        }
        if let Some((to, p, via)) = n.route {
            let r = if u.ratio(1, 2)? {
                vec![("network", s(v4_text(to))), ("netmask", s(dotted(p))), ("gateway", s(v4_text(via)))]
            } else {
                vec![("destination", s(format!("{}/{p}", v4_text(to)))), ("gateway", s(v4_text(via)))]
            };
            insert_shuffled(u, &mut routes, r)?;
        }
        // Routes, name servers and search domains go on some subnet (a `manual` one if none).
        let mut extra = Vec::new();
        if !routes.is_empty() {
            extra.push(("routes", Node::Seq(routes)));
        }
        if !n.dns.is_empty() {
            extra.push(("dns_nameservers", ip_words(u, &n.dns)?));
        }
        if !n.search.is_empty() {
            extra.push(("dns_search", words(u, n.search.clone())?));
        }
        if !extra.is_empty() && (subnets.is_empty() || u.int_in_range(0..=3)? == 3) {
            insert_at(u, &mut subnets, map(vec![("type", s("manual"))]))?;
        }
        if !extra.is_empty() {
            let at = u.int_in_range(0..=subnets.len() - 1)?;
            if let Node::Map(e) = &mut subnets[at] {
                e.extend(extra.into_iter().map(|(k, v)| (k.to_string(), v)));
            }
        }
        m.nic(n, false);
        let mut e = vec![("type", s("physical")), ("name", s(&n.name))];
        if let Some(mac) = n.mac {
            e.push(("mac_address", s(mac_text(u, mac)?)));
        }
        if !subnets.is_empty() || u.ratio(1, 2)? {
            e.push(("subnets", Node::Seq(subnets)));
        }
        if u.int_in_range(0..=3)? == 3 {
            e.push(("mtu", number(u, 1500)?));
        }
        items.push(shuffled(u, e)?);
    }
    if global_at == sp.nics.len() {
        items.push(global(u, &mut m)?);
    }
    for i in 0..sp.virtuals {
        let t = *u.choose(&["bond", "bridge", "vlan", "route"])?;
        insert_at(u, &mut items, map(vec![("type", s(t)), ("name", s(format!("{t}{i}")))]))?;
        m.skip(1);
    }
    let version = number(u, 1)?;
    let doc = shuffled(u, vec![("version", version), ("config", Node::Seq(items))])?;
    Ok((top(u, doc)?, m.c))
}

/// The v2 document for `sp`, and its answer.
fn v2(u: &mut Unstructured, sp: &Spec) -> ArbResult<(Node, NetConfig)> {
    let mut m = Model::default();
    let mut ethernets: Vec<(String, Node)> = Vec::new();
    let global_at = u.int_in_range(0..=sp.nics.len())?;
    let nameservers =
        |u: &mut Unstructured, dns: &[Ip], search: &[String]| -> ArbResult<Option<(&'static str, Node)>> {
            let mut e = Vec::new();
            if !dns.is_empty() {
                e.push(("addresses", ip_words(u, dns)?));
            }
            if !search.is_empty() {
                e.push(("search", words(u, search.to_vec())?));
            }
            Ok(if e.is_empty() { None } else { Some(("nameservers", shuffled(u, e)?)) })
        };
    let global = |u: &mut Unstructured, m: &mut Model| -> ArbResult<(String, Node)> {
        sp.dns.iter().for_each(|&a| m.dns(a));
        sp.search.iter().for_each(|d| m.search(d));
        let ns = nameservers(u, &sp.dns, &sp.search)?;
        Ok(("lo-dns".to_string(), map(ns.into_iter().collect())))
    };
    for (i, n) in sp.nics.iter().enumerate() {
        if i == global_at {
            ethernets.push(global(u, &mut m)?);
        }
        let mut e: Vec<(&str, Node)> = Vec::new();
        let mut id = format!("nic{i}");
        let mut glob = false;
        match n.mac {
            Some(mac) => {
                e.push(("match", map(vec![("macaddress", s(mac_text(u, mac)?))])));
                if u.ratio(1, 2)? {
                    e.push(("set-name", s(&n.name)));
                }
            }
            None if u.ratio(1, 2)? => id = n.name.clone(),
            None => {
                glob = n.name.contains(['*', '?', '[']);
                e.push(("match", map(vec![("name", s(&n.name))])));
            }
        }
        if n.dhcp4 || u.ratio(1, 3)? {
            e.push(("dhcp4", boolean(u, n.dhcp4)?));
        }
        if n.dhcp6 || u.ratio(1, 3)? {
            e.push(("dhcp6", boolean(u, n.dhcp6)?));
        }
        let mut addresses: Vec<Node> = Vec::new();
        for &(a, p) in &n.v4 {
            addresses.push(s(match p {
                Some(p) => format!("{}/{p}", v4_text(a)),
                None => v4_text(a),
            }));
        }
        if let Some((g, p)) = n.v6 {
            let a = format!("{}/{p}", v6_text(u, g)?);
            insert_at(u, &mut addresses, s(a))?;
        }
        if !addresses.is_empty() {
            e.push(("addresses", Node::Seq(addresses)));
        }
        let mut routes = Vec::new();
        if let Some(g) = n.gateway {
            if u.ratio(1, 2)? {
                e.push(("gateway4", s(v4_text(g))));
            } else {
                let to = *u.choose(&["default", "0.0.0.0/0"])?;
                routes.push(shuffled(u, vec![("to", s(to)), ("via", s(v4_text(g)))])?);
            }
        }
        if let Some(g) = n.gateway6 {
            let via = v6_text(u, g)?;
            if u.ratio(1, 2)? {
                e.push(("gateway6", s(via)));
            } else {
                let to = *u.choose(&["default", "::/0"])?;
                insert_shuffled(u, &mut routes, vec![("to", s(to)), ("via", s(via))])?;
            }
        }
        if let Some((to, p, via)) = n.route {
            let r = vec![("to", s(format!("{}/{p}", v4_text(to)))), ("via", s(v4_text(via)))];
            insert_shuffled(u, &mut routes, r)?;
        }
        if !routes.is_empty() {
            e.push(("routes", Node::Seq(routes)));
        }
        if let Some(ns) = nameservers(u, &n.dns, &n.search)? {
            e.push(ns);
        }
        m.nic(n, glob);
        ethernets.push((id, shuffled(u, e)?));
    }
    if global_at == sp.nics.len() {
        ethernets.push(global(u, &mut m)?);
    }
    let mut doc = vec![("version", number(u, 2)?), ("ethernets", Node::Map(ethernets))];
    if u.ratio(1, 3)? {
        doc.push(("renderer", s("networkd")));
    }
    let mut virtuals: Vec<(&str, Vec<(String, Node)>)> = Vec::new();
    for i in 0..sp.virtuals {
        let kind = *u.choose(&["bonds", "bridges", "vlans", "wifis", "ethernets"])?;
        let body = match kind {
            "vlans" => map(vec![("id", Node::Lit("5".into())), ("link", s("nic0"))]),
            // A NIC matched by driver: flint knows no drivers.
            "ethernets" => map(vec![("match", map(vec![("driver", s("virtio_net"))])), ("dhcp4", s("true"))]),
            _ => map(vec![("interfaces", Node::Seq(vec![s("nic0")])), ("dhcp4", s("true"))]),
        };
        if kind == "ethernets" {
            if let Node::Map(e) = &mut doc[1].1 {
                let at = u.int_in_range(0..=e.len())?;
                e.insert(at, (format!("by-driver{i}"), body));
            }
        } else {
            match virtuals.iter_mut().find(|(k, _)| *k == kind) {
                Some((_, v)) => v.push((format!("{kind}{i}"), body)),
                None => virtuals.push((kind, vec![(format!("{kind}{i}"), body)])),
            }
        }
        m.skip(1);
    }
    doc.extend(virtuals.into_iter().map(|(k, v)| (k, Node::Map(v))));
    let doc = shuffled(u, doc)?;
    Ok((top(u, doc)?, m.c))
}

/// One network of network_data.json, as the model reads it.
#[derive(Default)]
struct Net {
    v4: Option<([u8; 4], u8)>,
    dhcp: bool,
    gateway: Option<[u8; 4]>,
    v6: usize,
    skips: usize,
    dns: Vec<Ip>,
    /// The MAC of its link, when the link is one flint can use.
    mac: Option<[u8; 6]>,
}

/// The network_data.json for `sp`, and its answer.
fn network_data(u: &mut Unstructured, sp: &Spec) -> ArbResult<(Node, NetConfig)> {
    let mut links = Vec::new();
    let mut networks = Vec::new();
    let mut nets: Vec<Net> = Vec::new();
    let vlan = !sp.nics.is_empty() && u.int_in_range(0..=3)? == 3;
    let mut k = 0;
    for (i, n) in sp.nics.iter().enumerate() {
        let link =
            if u.ratio(1, 2)? { format!("tap{i:02x}c7709-b3") } else { format!("{i:08x}-b3f7-4448-9580-e1ec32d75bbd") };
        let mut l = vec![("id", s(&link)), ("type", s(*u.choose(&["phy", "ovs", "bridge", "tap", "vif", "hw_veb"])?))];
        if let Some(mac) = n.mac {
            l.push(("ethernet_mac_address", s(mac_text(u, mac)?)));
        }
        if u.ratio(1, 2)? {
            l.push(("mtu", if u.ratio(1, 2)? { Node::Lit("null".into()) } else { Node::Lit("1450".into()) }));
        }
        if u.ratio(1, 2)? {
            l.push(("vif_id", s("2ecc7709-b3f7-4448-9580-e1ec32d75bbd")));
        }
        links.push(shuffled(u, l)?);
        // The NIC's networks, in an order the fuzzer picks.
        let mut mine: Vec<(Vec<(&str, Node)>, Net)> = Vec::new();
        for (j, &(a, p)) in n.v4.iter().enumerate() {
            let mut e = vec![("type", s(*u.choose(&["ipv4", "static"])?))];
            match p {
                Some(p) if u.ratio(1, 4)? => e.push(("ip_address", s(format!("{}/{p}", v4_text(a))))),
                Some(p) => e.extend([("ip_address", s(v4_text(a))), ("netmask", s(dotted(p)))]),
                None => e.push(("ip_address", s(v4_text(a)))),
            }
            let mut net = Net { v4: Some((a, p.unwrap_or(24))), ..Net::default() };
            if let (0, Some(g)) = (j, n.gateway) {
                let r = vec![("network", s("0.0.0.0")), ("netmask", s("0.0.0.0")), ("gateway", s(v4_text(g)))];
                e.push(("routes", Node::Seq(vec![shuffled(u, r)?])));
                net.gateway = Some(g);
            }
            mine.push((e, net));
        }
        if n.dhcp4 {
            let net = Net { dhcp: true, ..Net::default() };
            insert_at(u, &mut mine, (vec![("type", s("ipv4_dhcp"))], net))?;
        }
        if let Some((g, p)) = n.v6 {
            let mask = if u.ratio(1, 2)? { s("ffff:ffff:ffff:ffff::") } else { s(p.to_string()) };
            let e = vec![("type", s("ipv6")), ("ip_address", s(v6_text(u, g)?)), ("netmask", mask)];
            insert_at(u, &mut mine, (e, Net { v6: 1, ..Net::default() }))?;
        }
        if n.dhcp6 {
            let t = *u.choose(&["ipv6_dhcp", "ipv6_slaac", "ipv6_dhcpv6-stateless"])?;
            insert_at(u, &mut mine, (vec![("type", s(t))], Net { v6: 1, ..Net::default() }))?;
        }
        // The IPv6 default route, the other route and the name servers go on one of its
        // networks, when it has any.
        if let Some((e, net)) = mine.last_mut() {
            let mut routes = Vec::new();
            if let Some(g) = n.gateway6 {
                let via = v6_text(u, g)?;
                routes.push(shuffled(u, vec![("network", s("::")), ("netmask", s("::")), ("gateway", s(via))])?);
                net.v6 += 1;
            }
            if let Some((to, p, via)) = n.route {
                let r = vec![("network", s(v4_text(to))), ("netmask", s(dotted(p))), ("gateway", s(v4_text(via)))];
                routes.push(shuffled(u, r)?);
                net.skips += 1;
            }
            if !routes.is_empty() {
                match e.iter_mut().find(|(k, _)| *k == "routes") {
                    Some((_, Node::Seq(r))) => r.extend(routes),
                    _ => e.push(("routes", Node::Seq(routes))),
                }
            }
            if !n.dns.is_empty() {
                let mut services = Vec::new();
                for &a in &n.dns {
                    let t = ip_text(u, a)?;
                    services.push(shuffled(u, vec![("type", s("dns")), ("address", s(t))])?);
                }
                e.push(("services", Node::Seq(services)));
                net.dns = n.dns.clone();
            }
        }
        for (mut e, mut net) in mine {
            e.push(("id", s(format!("network{k}"))));
            e.push(("link", s(&link)));
            if u.ratio(1, 2)? {
                e.push(("network_id", s("6d6357ac-0f70-4afa-8bd7-c274cc4ea235")));
            }
            k += 1;
            net.mac = n.mac;
            networks.push(shuffled(u, e)?);
            nets.push(net);
        }
    }
    if vlan {
        let l = vec![
            ("id", s("vlan0")),
            ("type", s("vlan")),
            ("vlan_link", s("tap00c7709-b3")),
            ("vlan_id", Node::Lit("5".into())),
            ("vlan_mac_address", s("fa:16:3e:d4:57:ad")),
            ("ethernet_mac_address", s("fa:16:3e:d4:57:ad")),
        ];
        links.push(shuffled(u, l)?);
        let e = vec![("id", s("vlan-net")), ("type", s("ipv4_dhcp")), ("link", s("vlan0"))];
        insert_shuffled(u, &mut networks, e)?;
        // Its place among `nets` follows `networks`: find it again below.
    }
    // Where the VLAN's network landed: networks are in `nets` order but for it.
    let vlan_at = networks.iter().position(|n| matches!(n, Node::Map(e) if e.iter().any(|(k, v)| k == "id" && matches!(v, Node::Str(t) if t == "vlan-net"))));
    if let Some(at) = vlan_at {
        nets.insert(at, Net { dhcp: true, mac: None, ..Net::default() });
    }
    let mut services = Vec::new();
    for &a in &sp.dns {
        let t = ip_text(u, a)?;
        services.push(shuffled(u, vec![("type", s("dns")), ("address", s(t))])?);
    }
    if u.ratio(1, 3)? {
        insert_at(u, &mut services, map(vec![("type", s("ntp")), ("address", s("10.0.0.9"))]))?;
    }
    let services_first = u.ratio(1, 2)?;
    let mut m = Model::default();
    let globals = |m: &mut Model| sp.dns.iter().for_each(|&a| m.dns(a));
    if services_first {
        globals(&mut m);
    }
    for net in nets {
        m.v6(net.v6);
        m.skip(net.skips);
        net.dns.iter().for_each(|&a| m.dns(a));
        match net.mac {
            Some(mac) => m.close(Match::Mac(mac), net.v4, net.gateway, net.dhcp),
            None => m.skip(1),
        }
    }
    if !services_first {
        globals(&mut m);
    }
    let mut doc = vec![("links", Node::Seq(links)), ("networks", Node::Seq(networks))];
    let at = if services_first { 0 } else { 2 };
    doc.insert(at, ("services", Node::Seq(services)));
    if u.ratio(1, 2)? {
        // `links` may come anywhere: it is read in a pass of its own.
        let l = doc.remove(if services_first { 1 } else { 0 });
        insert_at(u, &mut doc, l)?;
    }
    Ok((map(doc), m.c))
}

/// How a YAML rendering is laid out.
struct Style {
    step: usize,
    seq_at_key: bool,
    comments: bool,
}

/// May `t` be written plain? Conservatively (the `yaml` target tests plain scalars at large):
/// ordinary characters, a letter or digit first, no null spelling.
fn plain_ok(t: &str, flow: bool) -> bool {
    let ordinary = |c: char| c.is_ascii_alphanumeric() || "-_./@+=~é€".contains(c) || c == ':' && !flow;
    t.starts_with(|c: char| c.is_ascii_alphanumeric())
        && t.chars().all(ordinary)
        && !t.ends_with(':')
        && !["null", "Null", "NULL"].contains(&t)
}

fn scalar(u: &mut Unstructured, t: &str, flow: bool, out: &mut String) -> ArbResult<()> {
    match u.int_in_range(0..=3)? {
        0 | 1 if plain_ok(t, flow) => out.push_str(t),
        2 => {
            out.push('\'');
            out.push_str(&t.replace('\'', "''"));
            out.push('\'');
        }
        _ => {
            out.push('"');
            for c in t.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    c if !c.is_ascii() && u.ratio(1, 2)? => out.push_str(&format!("\\u{:04x}", c as u32)),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
    }
    Ok(())
}

fn flow(u: &mut Unstructured, v: &Node, out: &mut String) -> ArbResult<()> {
    match v {
        Node::Str(t) => scalar(u, t, true, out)?,
        Node::Lit(t) => out.push_str(t),
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { "" });
                flow(u, item, out)?;
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                out.push_str(if i > 0 { ", " } else { "" });
                scalar(u, k, true, out)?;
                out.push_str(": ");
                flow(u, v, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn end_line(u: &mut Unstructured, st: &Style, out: &mut String) -> ArbResult<()> {
    if st.comments && u.ratio(1, 4)? {
        out.push_str(" # note");
    }
    out.push('\n');
    Ok(())
}

/// `v` after `key:` or `-` (`after_dash`) in a block collection at column `col`.
fn block_value(
    u: &mut Unstructured,
    v: &Node,
    st: &Style,
    col: usize,
    after_dash: bool,
    out: &mut String,
) -> ArbResult<()> {
    match v {
        Node::Str(_) | Node::Lit(_) => {
            out.push(' ');
            flow(u, v, out)?;
            end_line(u, st, out)
        }
        Node::Map(e) if e.is_empty() => end(out, " {}"),
        Node::Seq(e) if e.is_empty() => end(out, " []"),
        _ if u.int_in_range(0..=4)? == 4 => {
            out.push(' ');
            flow(u, v, out)?;
            end_line(u, st, out)
        }
        Node::Map(e) => {
            out.push('\n');
            block_map(u, e, st, col + st.step, false, out)
        }
        Node::Seq(items) => {
            out.push('\n');
            let c = if st.seq_at_key && !after_dash { col } else { col + st.step };
            block_seq(u, items, st, c, out)
        }
    }
}

fn end(out: &mut String, t: &str) -> ArbResult<()> {
    out.push_str(t);
    out.push('\n');
    Ok(())
}

fn pad(u: &mut Unstructured, st: &Style, col: usize, out: &mut String) -> ArbResult<()> {
    if st.comments && u.int_in_range(0..=7)? == 7 {
        out.push_str(&" ".repeat(col));
        out.push_str("# a comment line\n");
    }
    out.push_str(&" ".repeat(col));
    Ok(())
}

fn block_map(
    u: &mut Unstructured,
    e: &[(String, Node)],
    st: &Style,
    col: usize,
    inline: bool,
    out: &mut String,
) -> ArbResult<()> {
    for (i, (k, v)) in e.iter().enumerate() {
        if i > 0 || !inline {
            pad(u, st, col, out)?;
        }
        scalar(u, k, false, out)?;
        out.push(':');
        block_value(u, v, st, col, false, out)?;
    }
    Ok(())
}

fn block_seq(u: &mut Unstructured, items: &[Node], st: &Style, col: usize, out: &mut String) -> ArbResult<()> {
    for item in items {
        pad(u, st, col, out)?;
        out.push('-');
        match item {
            // Compact: `- key: value` with the mapping's other keys under the first.
            Node::Map(e) if !e.is_empty() && u.ratio(1, 2)? => {
                out.push(' ');
                block_map(u, e, st, col + 2, true, out)?;
            }
            _ => block_value(u, item, st, col, true, out)?,
        }
    }
    Ok(())
}

fn yaml_text(u: &mut Unstructured, doc: &Node) -> ArbResult<String> {
    let st = Style { step: u.int_in_range(1..=4)?, seq_at_key: u.arbitrary()?, comments: u.arbitrary()? };
    let mut out = String::new();
    if u.ratio(1, 4)? {
        out.push_str("# network-config\n");
    }
    if u.ratio(1, 4)? {
        out.push_str("---\n");
    }
    match doc {
        Node::Map(e) if u.int_in_range(0..=7)? != 7 => block_map(u, e, &st, 0, false, &mut out)?,
        _ => {
            flow(u, doc, &mut out)?;
            out.push('\n');
        }
    }
    if u.int_in_range(0..=7)? == 7 {
        out = out.replace('\n', "\r\n");
    }
    Ok(out)
}

fn json_text(u: &mut Unstructured, v: &Node, indent: usize, out: &mut String) -> ArbResult<()> {
    let gap = |u: &mut Unstructured, out: &mut String, indent: usize| -> ArbResult<()> {
        match u.int_in_range(0..=3)? {
            0 => {}
            1 | 2 => out.push(' '),
            _ => {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
            }
        }
        Ok(())
    };
    match v {
        Node::Str(t) => out.push_str(&serde_json::to_string(t).unwrap()),
        Node::Lit(t) => out.push_str(t),
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gap(u, out, indent + 2)?;
                json_text(u, item, indent + 2, out)?;
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                gap(u, out, indent + 2)?;
                out.push_str(&serde_json::to_string(k).unwrap());
                out.push(':');
                if u.ratio(1, 2)? {
                    out.push(' ');
                }
                json_text(u, v, indent + 2, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

fn from_yaml(doc: &[u8]) -> Result<NetConfig, ConfigError> {
    config::from_network_config(&mut |on| yaml::scan(doc, on).is_ok())
}

fn from_json(doc: &[u8]) -> Result<NetConfig, ConfigError> {
    config::from_network_config(&mut |on| json::scan(doc, on).is_ok())
}

fn structured(data: &[u8]) -> ArbResult<()> {
    let mut u = Unstructured::new(data);
    let sp = spec(&mut u)?;
    // Each document one way (YAML, JSON, JSON through the YAML reader): the reader's rule
    // matching is most of the time an input takes.
    for version in [1, 2] {
        let (doc, want) = if version == 1 { v1(&mut u, &sp)? } else { v2(&mut u, &sp)? };
        let how = u.int_in_range(0..=2)?;
        let text = if how == 0 {
            yaml_text(&mut u, &doc)?
        } else {
            let mut text = String::new();
            json_text(&mut u, &doc, 0, &mut text)?;
            text
        };
        let got = if how == 1 { from_json(text.as_bytes()) } else { from_yaml(text.as_bytes()) };
        let what = ["YAML", "JSON", "JSON read as YAML"][how as usize];
        assert_eq!(got, Ok(want.clone()), "v{version} {what}:\n{text}\nfrom {sp:#?}");
        // What was read through the checks for any bytes too: its configurations are richer.
        check(&want, what);
    }
    let (doc, want) = network_data(&mut u, &sp)?;
    let mut text = String::new();
    json_text(&mut u, &doc, 0, &mut text)?;
    assert_eq!(
        config::from_network_data(text.as_bytes()),
        Ok(want.clone()),
        "network_data.json:\n{text}\nfrom {sp:#?}"
    );
    check(&want, "network_data.json");
    Ok(())
}

/// A valid interface name (the module docs' rule, written anew).
fn valid_name(n: &[u8]) -> bool {
    (1..=15).contains(&n.len())
        && n != b"."
        && n != b".."
        && n.iter().all(|&b| b > b' ' && b != b'/' && b != b':' && b != 0x7f)
}

/// `t` as a JSON string: flint's scanner takes bytes that are not UTF-8 as they are.
fn json_bytes(t: &[u8]) -> Vec<u8> {
    let mut out = vec![b'"'];
    for &b in t {
        match b {
            b'"' | b'\\' => out.extend([b'\\', b]),
            0..0x20 => out.extend(format!("\\u{b:04x}").bytes()),
            b => out.push(b),
        }
    }
    out.push(b'"');
    out
}

/// `c` written back as a v1 JSON document: one physical entry per interface, a nameserver
/// entry, a physical entry with only a `dhcp6` subnet per IPv6 thing counted, a bond per thing
/// skipped.
fn render_v1(c: &NetConfig) -> Vec<u8> {
    let mut items: Vec<Vec<u8>> = Vec::new();
    for i in &c.ifaces {
        let mut e = br#"{"type": "physical", "#.to_vec();
        match &i.matcher {
            Match::Mac(m) => {
                e.extend(format!(r#""mac_address": "{}", "#, m.map(|b| format!("{b:02x}")).join(":")).bytes())
            }
            Match::Name(n) => e.extend([&br#""name": "#[..], &json_bytes(n), b", "].concat()),
            Match::Any => panic!("a document matched any NIC"),
        }
        e.extend(
            match i.method {
                Method::Dhcp => r#""subnets": [{"type": "dhcp"}]}"#.to_string(),
                Method::Static(s) => format!(
                    r#""subnets": [{{"type": "static", "address": "{}/{}"{}}}]}}"#,
                    v4_text(s.address),
                    s.prefix,
                    s.gateway.map(|g| format!(r#", "gateway": "{}""#, v4_text(g))).unwrap_or_default()
                ),
            }
            .bytes(),
        );
        items.push(e);
    }
    let mut dns: Vec<String> = c.dns.iter().map(|&a| format!("\"{}\"", v4_text(a))).collect();
    dns.extend(c.dns6.iter().map(|&a| format!("\"{}\"", std::net::Ipv6Addr::from(a))));
    items.extend((0..c.ipv6_skipped).map(|i| {
        format!(r#"{{"type": "physical", "name": "v6skip{i}", "subnets": [{{"type": "dhcp6"}}]}}"#).into_bytes()
    }));
    let search: Vec<Vec<u8>> = c.search_domains().map(json_bytes).collect();
    items.push(
        [
            &format!(r#"{{"type": "nameserver", "address": [{}], "search": ["#, dns.join(", ")).into_bytes()[..],
            &search.join(&b", "[..]),
            b"]}",
        ]
        .concat(),
    );
    items.extend((0..c.skipped).map(|i| format!(r#"{{"type": "bond", "name": "bond{i}"}}"#).into_bytes()));
    [&br#"{"version": 1, "config": ["#[..], &items.join(&b",\n"[..]), b"]}"].concat()
}

fn check(c: &NetConfig, from: &str) {
    assert!(c.ifaces.len() <= IFACES_MAX);
    for (n, i) in c.ifaces.iter().enumerate() {
        match &i.matcher {
            Match::Name(name) => assert!(valid_name(name), "name {name:?}"),
            Match::Mac(_) => {}
            Match::Any => panic!("{from}: an interface for any NIC"),
        }
        if let Method::Static(s) = i.method {
            assert!(s.prefix <= 32);
        }
        assert!(c.ifaces[..n].iter().all(|j| j.matcher != i.matcher), "{from}: one NIC twice");
    }
    for (n, d) in c.dns.iter().enumerate() {
        assert!(!c.dns[..n].contains(d), "{from}: a repeated name server");
    }
    for (n, d) in c.dns6.iter().enumerate() {
        assert!(!c.dns6[..n].contains(d), "{from}: a repeated IPv6 name server");
    }
    let domains: Vec<&[u8]> = c.search.split(|&b| b == b' ').collect();
    if !c.search.is_empty() {
        for (n, d) in domains.iter().enumerate() {
            assert!((1..=253).contains(&d.len()), "{from}: search domain {d:?}");
            assert!(d.iter().all(|&b| b.is_ascii_alphanumeric() || b"-_.".contains(&b)), "{from}: search domain {d:?}");
            assert!(!domains[..n].contains(d), "{from}: a repeated search domain");
        }
    }
    assert!(c.search.len() <= SEARCH_MAX);
    check_for_nic(c);
    let text = render_v1(c);
    assert_eq!(
        from_json(&text),
        Ok(c.clone()),
        "{from}: not stable; written back as\n{}",
        String::from_utf8_lossy(&text)
    );
}

fuzz_target!(|data: &[u8]| {
    let (y, j) = (from_yaml(data), from_json(data));
    if let Ok(c) = &y {
        check(c, "YAML network-config");
    }
    if let Ok(c) = &j {
        check(c, "JSON network-config");
    }
    // JSON is YAML: a document both readers take reads to one answer (numbers and booleans
    // come as text from the YAML reader, as the config reader compares them).
    if y != Err(ConfigError::Document) && j != Err(ConfigError::Document) {
        assert_eq!(y, j, "the YAML and the JSON reader disagree");
    }
    if let Ok(c) = config::from_network_data(data) {
        check(&c, "network_data.json");
    }
    let _ = structured(data);
});
