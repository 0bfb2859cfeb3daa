//! The servers (one per identity the PKI made, plus the transport failures) with what their
//! fixture proof must show, and the cases flint runs against them.

use crate::harness::https::servers::Versions;

/// What serves on a port of `pki::TLS_IP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `openssl s_server -WWW` presenting the identity of the same name.
    SServer(Versions),
    /// The truncating relay in front of the `rsa2048` server: `rst` resets instead of closing.
    Truncate { rst: bool },
    /// Reads the ClientHello, never answers.
    Stall,
}

/// What the fixture proof (stock `curl` and `openssl s_client` from the probe namespace, with
/// the suite's trusted roots) must find before flint runs against the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Proof {
    /// curl fetches the served file, and `s_client -verify_return_error` verifies the chain
    /// and the name over TLS 1.3.
    Good,
    /// `s_client -verify_return_error` is refused with this verify error, and curl fails in the
    /// handshake (exit 60, a certificate error; or 35 where OpenSSL's signature check itself
    /// fails, as for the flipped signature).
    Refused(&'static str),
    /// `s_client -tls1_3` gets no handshake; `-tls1_2` verifies.
    Tls12Only,
    /// The handshake and the chain verify (OpenSSL's `sslserver` purpose accepts it), and the
    /// leaf's text (`openssl x509 -text`) shows this: the one property flint must refuse.
    LeafShows(&'static str),
    /// Verifies at OpenSSL's default level, refused at `-auth_level 2` ("EE certificate key too
    /// weak"): only the key size is wrong.
    WeakKey,
    /// `s_client` fails having read exactly the 40 bytes and no certificate, and the relay logged that it handed on the start of a real ServerHello
    /// (a handshake record, type 22, whose first message is a ServerHello, type 2).
    Truncated,
    /// `curl --max-time 2` times out (exit 28) and the server logged a ClientHello.
    Stalled,
}

pub struct Srv {
    /// The identity (pki.rs) and the host label: `<name>.tls.example`.
    pub name: &'static str,
    pub port: u16,
    pub kind: Kind,
    pub proof: Proof,
}

const fn s(name: &'static str, port: u16, proof: Proof) -> Srv {
    Srv { name, port, kind: Kind::SServer(Versions::Default), proof }
}

pub const SERVERS: &[Srv] = &[
    s("rsa2048", 8401, Proof::Good),
    s("rsa3072", 8402, Proof::Good),
    s("rsa4096", 8403, Proof::Good),
    s("p256", 8404, Proof::Good),
    s("p384", 8405, Proof::Good),
    Srv { name: "tls13only", port: 8406, kind: Kind::SServer(Versions::Tls13Only), proof: Proof::Good },
    Srv { name: "tls12only", port: 8407, kind: Kind::SServer(Versions::Tls12Only), proof: Proof::Tls12Only },
    s("system", 8408, Proof::Good),
    s("ipsan", 8409, Proof::Good),
    s("ipnosan", 8410, Proof::Refused("IP address mismatch")),
    s("expired", 8411, Proof::Refused("certificate has expired")),
    s("notyet", 8412, Proof::Refused("certificate is not yet valid")),
    s("wrongname", 8413, Proof::Refused("hostname mismatch")),
    s("selfsigned", 8414, Proof::Refused("self-signed certificate")),
    s("unknownissuer", 8415, Proof::Refused("unable to get local issuer certificate")),
    s("intnotca", 8416, Proof::Refused("invalid CA certificate")),
    s("leafleaf", 8417, Proof::Refused("invalid CA certificate")),
    s("pathlen", 8418, Proof::Refused("path length constraint exceeded")),
    s("eku", 8419, Proof::Refused("unsuitable certificate purpose")),
    s("keyusage", 8420, Proof::LeafShows("Key Encipherment")),
    s("critext", 8421, Proof::Refused("unhandled critical extension")),
    s("rsa1024", 8422, Proof::WeakKey),
    s("badsig", 8423, Proof::Refused("certificate signature failure")),
    Srv { name: "truncfin", port: 8424, kind: Kind::Truncate { rst: false }, proof: Proof::Truncated },
    Srv { name: "truncrst", port: 8425, kind: Kind::Truncate { rst: true }, proof: Proof::Truncated },
    Srv { name: "stall", port: 8426, kind: Kind::Stall, proof: Proof::Stalled },
];

/// nginx's TLS port (its default TLS settings) on `pki::TLS_IP`; plain HTTP is on 80.
pub const NGINX_TLS: u16 = 443;

/// Which trust anchors flint has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Trust {
    /// `--ca-bundle <the suite's roots>`.
    Bundle,
    /// No `--ca-bundle`; the suite's roots bind-mounted, in a mount namespace of the run's own,
    /// over the first system bundle the host has (Debian: `/etc/ssl/certs/ca-certificates.crt`;
    /// it has no `/etc/pki/tls/certs/ca-bundle.crt`, the first path flint tries).
    SystemPath,
    /// No `--ca-bundle`, the host's own system bundle (public CAs only).
    HostSystem,
    /// `http://`: no TLS, no `--ca-bundle`.
    PlainHttp,
}

/// How the URL names the server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Host {
    /// `<server>.tls.example`, resolved through dnsmasq.
    Name,
    /// `10.0.0.20`.
    Ip,
}

/// How flint is told the URL and the bundle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// `--url`, `--ca-bundle`.
    Args,
    /// `flint.url=`, `flint.ca-bundle=` on the kernel command line (the `--cmdline` file).
    Kernel,
    /// `ignition.platform.id=metal ignition.config.url=…` and `flint.ca-bundle=`.
    IgnitionMetal,
}

/// A `--url https://…` case.
pub struct TlsCase {
    pub name: &'static str,
    pub about: &'static str,
    /// A server of `SERVERS`, or "nginx".
    pub server: &'static str,
    pub host: Host,
    pub trust: Trust,
    pub via: Via,
    pub budget: f64,
    pub exit: i32,
    /// A word the one error line must hold (case-insensitive), for failures.
    pub word: Option<&'static str>,
}

const fn ok(name: &'static str, about: &'static str, server: &'static str) -> TlsCase {
    TlsCase {
        name,
        about,
        server,
        host: Host::Name,
        trust: Trust::Bundle,
        via: Via::Args,
        budget: 20.0,
        exit: 0,
        word: None,
    }
}

const fn refused(name: &'static str, about: &'static str, server: &'static str, word: &'static str) -> TlsCase {
    TlsCase {
        name,
        about,
        server,
        host: Host::Name,
        trust: Trust::Bundle,
        via: Via::Args,
        budget: 20.0,
        exit: 5,
        word: Some(word),
    }
}

/// Transport failures: retried until the budget, then exit 4.
const fn transport(name: &'static str, about: &'static str, server: &'static str) -> TlsCase {
    TlsCase {
        name,
        about,
        server,
        host: Host::Name,
        trust: Trust::Bundle,
        via: Via::Args,
        budget: 3.0,
        exit: 4,
        word: None,
    }
}

pub const TLS_CASES: &[TlsCase] = &[
    ok("rsa2048-chain", "RSA 2048 leaf + intermediate (server sends both), TLS 1.3", "rsa2048"),
    ok("rsa3072-chain", "RSA 3072 leaf + intermediate", "rsa3072"),
    ok("rsa4096-chain", "RSA 4096 leaf + intermediate", "rsa4096"),
    ok("ecdsa-p256-chain", "ECDSA P-256 leaf + intermediate under a P-256 root", "p256"),
    ok("ecdsa-p384-chain", "ECDSA P-384 leaf + intermediate under a P-384 root (SHA-384)", "p384"),
    ok("tls13-only-server", "s_server -tls1_3", "tls13only"),
    TlsCase {
        via: Via::Kernel,
        ..ok("kernel-url-ca-bundle", "flint.url=https://… flint.ca-bundle=… on the kernel command line", "p256")
    },
    TlsCase {
        via: Via::IgnitionMetal,
        ..ok(
            "metal-ignition-config-url",
            "ignition.platform.id=metal ignition.config.url=https://… with flint.ca-bundle=…",
            "rsa2048",
        )
    },
    TlsCase {
        trust: Trust::PlainHttp,
        ..ok("http-still-works", "http://nginx.tls.example/user-data (port 80, by name): plain HTTP as before", "nginx")
    },
    ok("nginx-default", "Debian's nginx with the TLS settings of Debian's nginx.conf", "nginx"),
    TlsCase {
        host: Host::Ip,
        ..ok(
            "ip-literal-ip-san",
            "https://10.0.0.20:PORT/ and a leaf with an iPAddress SAN: no SNI, IP matched",
            "ipsan",
        )
    },
    TlsCase {
        trust: Trust::SystemPath,
        ..ok(
            "system-bundle-path",
            "no --ca-bundle: the roots at the system bundle path (bind-mounted in a mount namespace)",
            "system",
        )
    },
    TlsCase {
        trust: Trust::HostSystem,
        ..refused(
            "system-bundle-lacks-ca",
            "no --ca-bundle, the host's public system bundle: the suite's CA is unknown",
            "system",
            "unknown issuer",
        )
    },
    refused("tls12-only-server", "s_server -tls1_2: refused, saying TLS 1.2", "tls12only", "TLS 1.2"),
    refused("expired", "leaf notAfter 2021-01-01", "expired", "expired"),
    refused("not-yet-valid", "leaf notBefore 2040-01-01", "notyet", "not yet valid"),
    refused(
        "wrong-name",
        "leaf for other.tls.example served as wrongname.tls.example",
        "wrongname",
        "does not name the host",
    ),
    TlsCase {
        host: Host::Ip,
        ..refused(
            "ip-literal-no-ip-san",
            "https://10.0.0.20:PORT/ and a leaf with only a DNS SAN",
            "ipnosan",
            "does not name the host",
        )
    },
    refused("self-signed-leaf", "a self-signed leaf in no bundle", "selfsigned", "unknown issuer"),
    refused("unknown-issuer", "a chain to a root in no bundle", "unknownissuer", "unknown issuer"),
    refused("intermediate-not-ca", "the intermediate has CA:FALSE (and keyCertSign)", "intnotca", "not a CA"),
    refused("leaf-signs-leaf", "a CA:FALSE leaf signed another leaf", "leafleaf", "not a CA"),
    refused("pathlen-exceeded", "pathlen:0 intermediate with another intermediate under it", "pathlen", "path length"),
    refused("eku-client-auth", "leaf extendedKeyUsage clientAuth only", "eku", "extendedKeyUsage"),
    refused("keyusage-no-signature", "RSA leaf keyUsage keyEncipherment only", "keyusage", "keyUsage"),
    refused(
        "unknown-critical-ext",
        "leaf with a private extension marked critical",
        "critext",
        "unknown critical extension",
    ),
    refused("rsa-1024-leaf", "RSA 1024 leaf", "rsa1024", "RSA key size"),
    refused("bad-signature", "leaf signature with one bit flipped", "badsig", "bad signature"),
    transport(
        "truncated-server-hello-fin",
        "the first 40 bytes of a real ServerHello, then FIN: exit 4 within 3 s",
        "truncfin",
    ),
    transport(
        "truncated-server-hello-rst",
        "the first 40 bytes of a real ServerHello, then RST: exit 4 within 3 s",
        "truncrst",
    ),
    transport("stalled-handshake", "the server reads the ClientHello and never answers: exit 4 within 3 s", "stall"),
];

/// The port a case's server listens on.
pub fn port_of(server: &str) -> Option<u16> {
    if server == "nginx" {
        return Some(NGINX_TLS);
    }
    SERVERS.iter().find(|s| s.name == server).map(|s| s.port)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_ports_and_words() {
        let mut names: Vec<&str> = TLS_CASES.iter().map(|c| c.name).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), TLS_CASES.len(), "case names are unique");
        let mut ports: Vec<u16> = SERVERS.iter().map(|s| s.port).collect();
        ports.sort();
        ports.dedup();
        assert_eq!(ports.len(), SERVERS.len(), "one server per port");
        for c in TLS_CASES {
            assert!(port_of(c.server).is_some(), "{}: no server {}", c.name, c.server);
            assert_eq!(c.exit == 5, c.word.is_some(), "{}: a certificate failure names its word", c.name);
            assert!(c.exit != 4 || c.budget <= 5.0, "{}: transport failures run on a short budget", c.name);
        }
    }
}
