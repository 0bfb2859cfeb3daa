//! The symbol table of an unstripped ELF64 file, for `cargo xtask size`: every sized symbol
//! with the section kind it lives in, its Rust path (legacy mangling, `_ZN…E`, demangled far
//! enough to group by module), and the grouping of those paths into the parts of flint.

use super::elf::{self, Section};

const SHT_SYMTAB: u32 = 2;
const SHF_ALLOC: u64 = 0x2;
const SHF_WRITE: u64 = 0x1;
const SHF_EXECINSTR: u64 = 0x4;
const SHT_NOBITS: u32 = 8;

/// Where a symbol's bytes are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Code,
    ReadOnly,
    Data,
    /// `.bss`: reserved, not in the file.
    Zero,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Symbol {
    /// The Rust path (`flint::engine::network::Network::poll`), or the raw name.
    pub path: String,
    pub size: u64,
    pub kind: Kind,
}

/// Every sized symbol of `.symtab`.
pub fn read(b: &[u8]) -> Result<Vec<Symbol>, String> {
    let info = elf::parse(b)?;
    let Some(symtab) = info.sections.iter().find(|s| s.kind == SHT_SYMTAB) else {
        return Err("no .symtab: the binary is stripped".into());
    };
    let strtab = info.sections.get(symtab.link as usize).ok_or("symtab without strtab")?;
    let mut out = Vec::new();
    let count = symtab.size / 24;
    for i in 0..count as usize {
        let at = symtab.offset as usize + i * 24;
        let e = b.get(at..at + 24).ok_or("truncated symbol table")?;
        let name = u32::from_le_bytes(e[0..4].try_into().unwrap());
        let shndx = u16::from_le_bytes(e[6..8].try_into().unwrap());
        let size = u64::from_le_bytes(e[16..24].try_into().unwrap());
        if size == 0 {
            continue;
        }
        let Some(section) = info.sections.get(shndx as usize) else { continue };
        let Some(kind) = kind_of(section) else { continue };
        let raw = string_at(b, strtab, name);
        out.push(Symbol { path: demangle(&raw), size, kind });
    }
    Ok(out)
}

fn kind_of(s: &Section) -> Option<Kind> {
    if s.flags & SHF_ALLOC == 0 {
        return None;
    }
    Some(if s.kind == SHT_NOBITS {
        Kind::Zero
    } else if s.flags & SHF_EXECINSTR != 0 {
        Kind::Code
    } else if s.flags & SHF_WRITE != 0 {
        Kind::Data
    } else {
        Kind::ReadOnly
    })
}

fn string_at(b: &[u8], strtab: &Section, at: u32) -> String {
    let start = (strtab.offset + u64::from(at)) as usize;
    let end = (strtab.offset + strtab.size) as usize;
    let bytes = b.get(start..end.min(b.len())).unwrap_or(&[]);
    let len = bytes.iter().position(|&c| c == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..len]).into_owned()
}

/// `_ZN5flint6engine4poll17h0123456789abcdefE` → `flint::engine::poll`; the trailing hash is
/// dropped and `$LT$`-style escapes are undone. Anything else is returned unchanged.
pub fn demangle(raw: &str) -> String {
    let Some(mut rest) = raw.strip_prefix("_ZN") else { return raw.to_string() };
    let mut parts = Vec::new();
    while let Some(c) = rest.chars().next() {
        if c == 'E' {
            break;
        }
        let digits = rest.chars().take_while(char::is_ascii_digit).count();
        let Ok(len) = rest[..digits].parse::<usize>() else { return raw.to_string() };
        let Some(ident) = rest.get(digits..digits + len) else { return raw.to_string() };
        rest = &rest[digits + len..];
        parts.push(ident);
    }
    if parts.last().is_some_and(|p| p.len() == 17 && p.starts_with('h')) {
        parts.pop();
    }
    let unescape = |p: &str| {
        p.trim_start_matches('_')
            .replace("$LT$", "<")
            .replace("$GT$", ">")
            .replace("$u20$", " ")
            .replace("$RF$", "&")
            .replace("$C$", ",")
            .replace("$u7b$", "{")
            .replace("$u7d$", "}")
            .replace("..", "::")
    };
    parts.iter().map(|p| unescape(p)).collect::<Vec<_>>().join("::")
}

/// The module a symbol belongs to: for `<A as B>::f` the implementing type `A`.
fn owner(path: &str) -> &str {
    match path.strip_prefix('<') {
        Some(inner) => inner.split([' ', '>']).next().unwrap_or(inner),
        None => path,
    }
}

/// The parts of the binary, most specific prefix first; the first match names a symbol's part.
pub const PARTS: &[(&str, &str)] = &[
    ("flint::engine::lookup", "DNS: resolver, its UDP/TCP transport, search lists"),
    ("flint::tls::pki", "X.509: DER, path validation, names, PEM, RSA (own Montgomery), signature dispatch"),
    ("flint::tls", "TLS 1.3 client: handshake, key schedule, records, session glue"),
    ("flint::sources::pointer", "pointers: the resolver, #include, Ignition sources, MIME"),
    ("flint::decode::include", "pointers: the resolver, #include, Ignition sources, MIME"),
    ("flint::decode::ignition", "pointers: the resolver, #include, Ignition sources, MIME"),
    ("flint::engine", "engine: the race, the shared network and NIC fallback, service and drive runs"),
    ("flint::sources::drive", "config drives: ISO 9660, FAT and UDF readers, block-device scan"),
    ("flint::sources::service", "service flow: token, user-data, metadata, retries"),
    ("flint::sources::seed", "NoCloud seed selector and URL"),
    ("flint::sources::meta", "metadata values and their renderings (attributes, meta-data, fragment, Ignition check)"),
    ("flint::http", "HTTP: request writer, response parser, non-blocking exchange"),
    ("flint::net::config", "static addressing: ip=, network-config v1/v2, network_data.json"),
    ("flint::net::dns", "DNS: resolver, its UDP/TCP transport, search lists"),
    ("flint::net::ndp", "IPv6: NDP (router discovery, SLAAC, DAD) and DHCPv6"),
    ("flint::net::dhcpv6", "IPv6: NDP (router discovery, SLAAC, DAD) and DHCPv6"),
    ("flint::net", "network: stack glue, DHCP/link-local acquisition, ARP claims, checksums, rtnetlink"),
    ("flint::decode::json", "JSON scanner and writer"),
    ("flint::decode::yaml", "YAML reader"),
    ("flint::decode::xml", "XML reader (Azure's ovf-env.xml)"),
    ("flint::decode::cmdline", "command line and kernel arguments, --help"),
    ("flint::decode", "base64 and gzip framing"),
    ("flint::handoff", "hand-offs: tee, user.ign, fragment, seed, attributes, atomic output"),
    ("flint::args", "command line and kernel arguments, --help"),
    ("flint::report", "the report"),
    ("flint::platform", "platform code: the SMBIOS rules, table lookups (the tables are unnamed data)"),
    ("flint::sys", "sys: entry, mem functions, packet device, ioctls, netlink"),
    ("flint::fmt", "logging shim and display helpers"),
    ("flint::logger", "logging shim and display helpers"),
    ("flint_main", "main: wiring, with everything LTO inlined into it"),
    ("flint::", "main: wiring, with everything LTO inlined into it"),
    ("smoltcp", "smoltcp: interface, IPv4, IPv6, ARP/NDP, TCP, UDP, DHCPv4"),
    ("miniz_oxide", "miniz_oxide: inflate"),
    ("p256", "P-256 and P-384 (ECDHE, ECDSA): p256, p384, primeorder, elliptic-curve, ecdsa"),
    ("p384", "P-256 and P-384 (ECDHE, ECDSA): p256, p384, primeorder, elliptic-curve, ecdsa"),
    ("primeorder", "P-256 and P-384 (ECDHE, ECDSA): p256, p384, primeorder, elliptic-curve, ecdsa"),
    ("elliptic_curve", "P-256 and P-384 (ECDHE, ECDSA): p256, p384, primeorder, elliptic-curve, ecdsa"),
    ("ecdsa", "P-256 and P-384 (ECDHE, ECDSA): p256, p384, primeorder, elliptic-curve, ecdsa"),
    ("crypto_bigint", "P-256 and P-384 (ECDHE, ECDSA): p256, p384, primeorder, elliptic-curve, ecdsa"),
    ("curve25519_dalek", "X25519: x25519-dalek, curve25519-dalek"),
    ("x25519_dalek", "X25519: x25519-dalek, curve25519-dalek"),
    ("aes", "AES-GCM: aes, aes-gcm, ghash, polyval"),
    ("ghash", "AES-GCM: aes, aes-gcm, ghash, polyval"),
    ("polyval", "AES-GCM: aes, aes-gcm, ghash, polyval"),
    ("sha2", "SHA-2 and HMAC: sha2, hmac, digest"),
    ("hmac", "SHA-2 and HMAC: sha2, hmac, digest"),
    ("digest", "SHA-2 and HMAC: sha2, hmac, digest"),
    ("crc", "core, heapless, rustix, crc, log and compiler builtins"),
    ("core", "core, heapless, rustix, crc, log and compiler builtins"),
    ("heapless", "core, heapless, rustix, crc, log and compiler builtins"),
    ("rustix", "core, heapless, rustix, crc, log and compiler builtins"),
    ("log", "core, heapless, rustix, crc, log and compiler builtins"),
    ("embedded_io", "core, heapless, rustix, crc, log and compiler builtins"),
    ("compiler_builtins", "core, heapless, rustix, crc, log and compiler builtins"),
];

/// The part a symbol path belongs to (see [`PARTS`]); unknown paths go to the last group.
pub fn part_of(path: &str) -> &'static str {
    let owner = owner(path);
    PARTS
        .iter()
        .find(|(prefix, _)| owner.starts_with(prefix))
        .map_or("core, heapless, rustix, crc, log and compiler builtins", |&(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn legacy_names_demangle_to_paths() {
        assert_eq!(
            demangle("_ZN5flint6engine7network7Network4poll17h0123456789abcdefE"),
            "flint::engine::network::Network::poll"
        );
        assert_eq!(
            demangle(
                "_ZN90_$LT$flint..sources..drive..blocks..Found$u20$as$u20$flint..sources..drive..Filesystem$GT$4read17h0123456789abcdefE"
            ),
            "<flint::sources::drive::blocks::Found as flint::sources::drive::Filesystem>::read"
        );
        assert_eq!(demangle("memcpy"), "memcpy");
        assert_eq!(demangle("_ZN99bad"), "_ZN99bad");
    }

    #[test]
    fn paths_fall_into_parts() {
        assert!(part_of("flint::engine::Engine::poll").starts_with("engine"));
        assert!(
            part_of("<flint::sources::drive::blocks::Found as flint::sources::drive::Filesystem>::read")
                .starts_with("config drives")
        );
        assert!(part_of("flint::decode::json::Scanner::push").starts_with("JSON"));
        assert!(part_of("flint::decode::unbase64").starts_with("base64"));
        assert!(part_of("flint::SOCKETS").starts_with("main"));
        assert!(part_of("smoltcp::iface::interface::Interface::poll").starts_with("smoltcp"));
        assert!(part_of("memcpy").starts_with("core"));
    }
}
