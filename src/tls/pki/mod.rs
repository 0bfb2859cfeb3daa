//! X.509 certificate path validation for TLS server authentication (RFC 5280 §6, RFC 6125),
//! without an allocator.
//!
//! [`verify_server`] takes the server's certificates as sent (leaf first, the rest in any
//! order, extras and the root allowed), builds a path by issuer name and signature to one of
//! the [`Anchors`], checks every certificate on it, and hands back the leaf's [`PublicKey`]
//! for CertificateVerify. Decisions, after webpki's where RFC 5280 leaves a choice:
//! - an anchor is a name and a key: its own dates, constraints and extensions are not checked;
//!   a server-sent certificate byte-identical to an anchor counts as that anchor;
//! - a leaf with cA TRUE is refused ([`PkiError::CaAsLeaf`]) unless it is itself an anchor
//!   (a self-signed server certificate the user trusts directly, as `curl --cacert` allows);
//! - nameConstraints is not evaluated: a CA on the path that has it, critical or not, anchor
//!   or not, fails the path ([`PkiError::NameConstraints`]) rather than be trusted for names
//!   it may exclude;
//! - an extendedKeyUsage on an intermediate must allow serverAuth too (as browsers do);
//! - names compare as DER bytes; no common-name fallback for the identity.

use core::fmt;

pub mod cert;
pub mod der;
mod name;
mod pem;
mod rsa;
mod sig;

pub use pem::pem_to_der;
pub use sig::PublicKey;

use cert::{Cert, KU_DIGITAL_SIGNATURE, KU_KEY_CERT_SIGN};

/// The name the client asked for (SNI and the identity checked against subjectAltName).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ServerName<'a> {
    /// A DNS host name, ASCII, without a trailing dot.
    Dns(&'a [u8]),
    /// An IPv4 literal: matched against iPAddress SAN entries only (RFC 6125 §1.7.2).
    V4([u8; 4]),
    /// An IPv6 literal, likewise.
    V6([u8; 16]),
}

/// Why a certificate chain or a signature was refused. One word per failure a user can act on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PkiError {
    /// DER that does not parse, or a certificate field outside RFC 5280's profile.
    Malformed,
    /// A signature or key algorithm flint does not implement.
    UnsupportedAlgorithm,
    /// An RSA modulus outside 2048–4096 bits.
    KeySize,
    /// No path from the server's certificate to a trust anchor.
    UnknownIssuer,
    /// A certificate in the path is past its notAfter.
    Expired,
    /// A certificate in the path is before its notBefore.
    NotYetValid,
    /// The server certificate's subjectAltName does not name the host asked for.
    NameMismatch,
    /// A signature does not verify.
    BadSignature,
    /// An issuing certificate lacks basicConstraints CA:TRUE.
    NotCa,
    /// An issuing certificate's pathLenConstraint is exceeded.
    PathLen,
    /// keyUsage forbids the use (keyCertSign for issuers, digitalSignature for the server).
    KeyUsage,
    /// extendedKeyUsage lacks serverAuth.
    ExtKeyUsage,
    /// A critical extension flint does not understand (RFC 5280 §4.2).
    UnknownCritical,
    /// More certificates than flint follows.
    ChainTooLong,
    /// The server's own certificate is a CA certificate (basicConstraints cA TRUE) that is not
    /// itself a trust anchor.
    CaAsLeaf,
    /// A CA on the path carries nameConstraints, which flint does not evaluate.
    NameConstraints,
}

impl fmt::Display for PkiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PkiError::Malformed => "malformed certificate",
            PkiError::UnsupportedAlgorithm => "unsupported signature or key algorithm",
            PkiError::KeySize => "RSA key size outside 2048-4096 bits",
            PkiError::UnknownIssuer => "unknown issuer (no path to a trusted CA)",
            PkiError::Expired => "certificate expired",
            PkiError::NotYetValid => "certificate not yet valid",
            PkiError::NameMismatch => "certificate does not name the host",
            PkiError::BadSignature => "bad signature",
            PkiError::NotCa => "issuer is not a CA (basicConstraints)",
            PkiError::PathLen => "path length constraint exceeded",
            PkiError::KeyUsage => "keyUsage forbids this use",
            PkiError::ExtKeyUsage => "extendedKeyUsage lacks serverAuth",
            PkiError::UnknownCritical => "unknown critical extension",
            PkiError::ChainTooLong => "certificate chain too long",
            PkiError::CaAsLeaf => "server certificate is a CA certificate",
            PkiError::NameConstraints => "name constraints on a CA (not supported)",
        })
    }
}

/// Trust anchors: concatenated DER certificates in up to two regions (the system or
/// `--ca-bundle` set, and an Ignition config's certificateAuthorities).
#[derive(Clone, Copy, Debug)]
pub struct Anchors<'a> {
    regions: [&'a [u8]; 2],
}

impl<'a> Anchors<'a> {
    pub fn new(der: &'a [u8]) -> Self {
        Anchors { regions: [der, &[]] }
    }

    /// Adds a second region (replacing any earlier second one).
    pub fn with_extra(self, der: &'a [u8]) -> Self {
        Anchors { regions: [self.regions[0], der] }
    }

    /// How many certificates parse (the others are skipped by every search).
    pub fn count(&self) -> usize {
        self.iter().count()
    }

    /// Every anchor that parses; a region ends at the first element that is not a DER TLV.
    fn iter(&self) -> impl Iterator<Item = Cert<'a>> + 'a {
        let [a, b] = self.regions;
        let split = |region: &'a [u8]| {
            let mut r = der::Reader::new(region);
            core::iter::from_fn(move || r.any().ok().map(|(_, _, whole)| whole))
        };
        split(a).chain(split(b)).filter_map(|d| Cert::parse(d).ok())
    }

    fn contains(&self, der: &[u8]) -> bool {
        self.iter().any(|a| a.der == der)
    }
}

/// Server certificates looked at (the leaf and 7 others); more are ignored, not refused.
const MAX_SENT: usize = 8;
/// Certificates in a path below the anchor, the leaf included.
const MAX_DEPTH: usize = 6;
/// Signature verifications per call: every path step costs one, so this bounds the search.
const MAX_SIGNATURES: u32 = 24;

/// Validates the server's chain for `name` at `now_unix` (seconds) and returns the leaf's key.
///
/// `chain` is the TLS Certificate message's list (RFC 8446 §4.4.2): the leaf first, then
/// certificates that may help, in any order.
pub fn verify_server(
    chain: &[&[u8]],
    anchors: &Anchors<'_>,
    name: ServerName<'_>,
    now_unix: u64,
) -> Result<PublicKey, PkiError> {
    let leaf_der = *chain.first().ok_or(PkiError::Malformed)?;
    let leaf = Cert::parse(leaf_der)?;
    // The leaf's own checks come first: they need no search and name the problem best.
    own_checks(&leaf, now_unix)?;
    if leaf.key_usage.is_some_and(|ku| ku & KU_DIGITAL_SIGNATURE == 0) {
        return Err(PkiError::KeyUsage);
    }
    let key = PublicKey::from_spki(leaf.spki)?;
    if !anchors.contains(leaf_der) {
        if leaf.ca.is_some() {
            return Err(PkiError::CaAsLeaf);
        }
        let mut sent: [Option<Cert<'_>>; MAX_SENT - 1] = [None; MAX_SENT - 1];
        for (slot, der) in sent.iter_mut().zip(&chain[1..]) {
            // one that does not parse cannot be on a path; others may still make one
            *slot = Cert::parse(der).ok();
        }
        let mut search = Search { sent: &sent, anchors, now: now_unix, budget: MAX_SIGNATURES };
        search.issuer_of(&leaf, 0, 0)?;
    }
    if !name::matches(&leaf, name) {
        return Err(PkiError::NameMismatch);
    }
    Ok(key)
}

/// Checks every certificate on a path gets, leaf or issuer: extensions understood, dates,
/// extendedKeyUsage.
fn own_checks(c: &Cert<'_>, now: u64) -> Result<(), PkiError> {
    if c.unknown_critical {
        return Err(PkiError::UnknownCritical);
    }
    c.check_time(now)?;
    if !c.allows_server_auth() {
        return Err(PkiError::ExtKeyUsage);
    }
    Ok(())
}

/// How specific an error is, to report the best one when every candidate issuer failed.
fn rank(e: PkiError) -> u8 {
    match e {
        PkiError::UnknownIssuer => 0,
        PkiError::ChainTooLong => 1,
        PkiError::BadSignature => 2,
        _ => 3,
    }
}

struct Search<'s, 'a> {
    sent: &'s [Option<Cert<'a>>],
    anchors: &'s Anchors<'s>,
    now: u64,
    budget: u32,
}

impl Search<'_, '_> {
    /// Finds an issuer for `cur` (at `depth` on the path, the leaf at 0) among the anchors,
    /// then among the unused server certificates (`used` is a bit set of `sent`), recursing.
    fn issuer_of(&mut self, cur: &Cert<'_>, depth: usize, used: u16) -> Result<(), PkiError> {
        let mut err = PkiError::UnknownIssuer;
        let note = |e: PkiError, err: &mut PkiError| {
            if rank(e) > rank(*err) {
                *err = e;
            }
        };
        for a in self.anchors.iter() {
            if a.subject == cur.issuer {
                let r = if a.name_constraints { Err(PkiError::NameConstraints) } else { self.signed_by(cur, &a) };
                match r {
                    Ok(()) => return Ok(()),
                    Err(e) => note(e, &mut err),
                }
            }
        }
        for (i, c) in self.sent.iter().enumerate() {
            let Some(c) = c else { continue };
            // a server-sent copy of an anchor was tried as the anchor above
            if used & 1 << i != 0 || c.subject != cur.issuer || self.anchors.contains(c.der) {
                continue;
            }
            match self.try_issuer(cur, c, depth, used | 1 << i) {
                Ok(()) => return Ok(()),
                Err(e) => note(e, &mut err),
            }
        }
        Err(err)
    }

    /// `c` as the issuer of `cur`, which sits at `depth`: `c` would be at depth + 1, with
    /// `depth` intermediates below it.
    fn try_issuer(&mut self, cur: &Cert<'_>, c: &Cert<'_>, depth: usize, used: u16) -> Result<(), PkiError> {
        if depth + 1 >= MAX_DEPTH {
            return Err(PkiError::ChainTooLong);
        }
        // RFC 5280 §4.2.1.9: only a CA issues certificates, and its pathLenConstraint bounds
        // the intermediates that may follow it (self-issued ones counted too: stricter).
        match c.ca {
            None => return Err(PkiError::NotCa),
            Some(Some(max)) if depth > max as usize => return Err(PkiError::PathLen),
            Some(_) => {}
        }
        // RFC 5280 §4.2.1.3: keyCertSign when keyUsage is present.
        if c.key_usage.is_some_and(|ku| ku & KU_KEY_CERT_SIGN == 0) {
            return Err(PkiError::KeyUsage);
        }
        if c.name_constraints {
            return Err(PkiError::NameConstraints);
        }
        own_checks(c, self.now)?;
        self.signed_by(cur, c)?;
        self.issuer_of(c, depth + 1, used)
    }

    fn signed_by(&mut self, cur: &Cert<'_>, issuer: &Cert<'_>) -> Result<(), PkiError> {
        if self.budget == 0 {
            return Err(PkiError::ChainTooLong);
        }
        self.budget -= 1;
        sig::verify(issuer.spki, cur.sig_alg, cur.tbs, cur.signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-06-01: inside every good fixture's validity (testdata/make.sh).
    const NOW: u64 = 1_780_272_000;

    macro_rules! der {
        ($name:literal) => {
            include_bytes!(concat!("testdata/", $name, ".der")) as &[u8]
        };
    }
    const ROOT_RSA: &[u8] = der!("root-rsa");
    const ROOT_P256: &[u8] = der!("root-p256");
    const ROOT_P384: &[u8] = der!("root-p384");

    fn roots() -> heapless::Vec<u8, 8192> {
        let mut v = heapless::Vec::new();
        for r in [ROOT_RSA, ROOT_P256, ROOT_P384] {
            v.extend_from_slice(r).unwrap();
        }
        v
    }

    fn check(chain: &[&[u8]], name: &str) -> Result<PublicKey, PkiError> {
        let b = roots();
        verify_server(chain, &Anchors::new(&b), ServerName::Dns(name.as_bytes()), NOW)
    }

    fn ok(chain: &[&[u8]], name: &str) -> String {
        format!("{:?}", check(chain, name).unwrap())
    }

    /// A copy with one bit flipped at `at` bytes into the part of `der` that `field` points to.
    fn flip<'a>(der: &'a [u8], field: impl Fn(&Cert<'a>) -> &'a [u8], at: usize) -> heapless::Vec<u8, 2048> {
        let c = Cert::parse(der).unwrap();
        let off = field(&c).as_ptr() as usize - der.as_ptr() as usize + at;
        let mut v = heapless::Vec::from_slice(der).unwrap();
        v[off] ^= 0x01;
        v
    }

    #[test]
    fn good_chains_of_every_key_type() {
        assert_eq!(ok(&[der!("leaf-rsa2048"), der!("int-rsa2048")], "rsa2048.flint.test"), "RSA-2048");
        assert_eq!(ok(&[der!("leaf-rsa3072"), der!("int-rsa3072")], "rsa3072.flint.test"), "RSA-3072");
        assert_eq!(ok(&[der!("leaf-rsa4096"), der!("int-rsa3072")], "rsa4096.flint.test"), "RSA-4096");
        // RSASSA-PSS: salt 32 (given) on the intermediate, salt 20 (the default) on the leaf
        assert_eq!(ok(&[der!("leaf-pss"), der!("int-pss")], "pss.flint.test"), "RSA-2048");
        assert_eq!(ok(&[der!("leaf-p256"), der!("int-p256")], "p256.flint.test"), "P-256");
        assert_eq!(ok(&[der!("leaf-p384"), der!("int-p384")], "p384.flint.test"), "P-384");
        // a P-256 key signed with SHA-384 by a P-384 CA, and the reverse
        assert_eq!(ok(&[der!("leaf-p256-by-p384"), der!("int-p384")], "mixed.flint.test"), "P-256");
        assert_eq!(ok(&[der!("leaf-p384-by-p256"), der!("int-p256")], "mixed.flint.test"), "P-384");
    }

    #[test]
    fn chains_out_of_order_with_extras_and_the_root() {
        let junk: &[u8] = &[0x30, 0x03, 0x02, 0x01, 0x01];
        let chain = [der!("leaf-rsa2048"), ROOT_RSA, junk, der!("int-p256"), der!("leaf-p384"), der!("int-rsa2048")];
        assert_eq!(ok(&chain, "rsa2048.flint.test"), "RSA-2048");
        // the root in the second anchor region
        let a = Anchors::new(ROOT_P256).with_extra(ROOT_RSA);
        assert_eq!(a.count(), 2);
        let dns = ServerName::Dns(b"rsa2048.flint.test");
        assert!(verify_server(&chain, &a, dns, NOW).is_ok());
        assert_eq!(verify_server(&chain, &Anchors::new(ROOT_P256), dns, NOW).err(), Some(PkiError::UnknownIssuer));
    }

    #[test]
    fn dates() {
        let p256 = der!("int-p256");
        assert_eq!(check(&[der!("expired"), p256], "p256.flint.test").err(), Some(PkiError::Expired));
        assert_eq!(check(&[der!("future"), p256], "p256.flint.test").err(), Some(PkiError::NotYetValid));
        // an intermediate's dates count too
        let r = check(&[der!("leaf-under-old"), der!("int-old")], "p256.flint.test");
        assert_eq!(r.err(), Some(PkiError::Expired));
        // the bounds are inclusive (RFC 5280 §4.1.2.5)
        let b = roots();
        let a = Anchors::new(&b);
        let chain = [der!("leaf-p384"), der!("int-p384")];
        let dns = ServerName::Dns(b"p384.flint.test");
        assert!(verify_server(&chain, &a, dns, 2_051_222_400).is_ok());
        assert_eq!(verify_server(&chain, &a, dns, 2_051_222_401).err(), Some(PkiError::Expired));
        assert!(verify_server(&chain, &a, dns, 1_735_689_600).is_ok());
        assert_eq!(verify_server(&chain, &a, dns, 1_735_689_599).err(), Some(PkiError::NotYetValid));
    }

    #[test]
    fn names() {
        let chain = [der!("leaf-p256"), der!("int-p256")];
        assert!(check(&chain, "WWW.P256.Flint.Test").is_ok());
        for bad in ["other.flint.test", "flint.test", "p256.flint.test.evil", "x.p256.flint.test", ""] {
            assert_eq!(check(&chain, bad).err(), Some(PkiError::NameMismatch), "{bad}");
        }
        // no subjectAltName: the subject's CN (p256.flint.test) is never used
        assert_eq!(
            check(&[der!("leaf-nosan"), der!("int-p256")], "p256.flint.test").err(),
            Some(PkiError::NameMismatch)
        );
    }

    #[test]
    fn ip_addresses() {
        let b = roots();
        let a = Anchors::new(&b);
        let chain = [der!("leaf-ip"), der!("int-p256")];
        let v6 = |last| {
            let mut x = [0u8; 16];
            x[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            x[15] = last;
            ServerName::V6(x)
        };
        let run = |n| verify_server(&chain, &a, n, NOW).err();
        assert_eq!(run(ServerName::V4([192, 0, 2, 7])), None);
        assert_eq!(run(ServerName::V4([192, 0, 2, 8])), Some(PkiError::NameMismatch));
        assert_eq!(run(v6(7)), None);
        assert_eq!(run(v6(8)), Some(PkiError::NameMismatch));
        assert_eq!(run(ServerName::Dns(b"ip.flint.test")), None);
        // an IP literal spelled as a DNS name matches no iPAddress entry
        assert_eq!(run(ServerName::Dns(b"192.0.2.7")), Some(PkiError::NameMismatch));
        // and a DNS-only certificate matches no address
        let chain = [der!("leaf-p256"), der!("int-p256")];
        assert_eq!(verify_server(&chain, &a, ServerName::V4([192, 0, 2, 7]), NOW).err(), Some(PkiError::NameMismatch));
    }

    #[test]
    fn wildcards() {
        // SAN: *.wild.flint.test, f*.part.flint.test, *.test, a.*.mid.flint.test
        let chain = [der!("leaf-wild"), der!("int-p256")];
        assert!(check(&chain, "a.wild.flint.test").is_ok());
        assert!(check(&chain, "XN--BCHER-KVA.wild.flint.test").is_ok());
        for bad in [
            "wild.flint.test",
            "a.b.wild.flint.test",
            "foo.part.flint.test",
            "f.part.flint.test",
            "x.test",
            "a.b.mid.flint.test",
            "a.x.mid.flint.test",
        ] {
            assert_eq!(check(&chain, bad).err(), Some(PkiError::NameMismatch), "{bad}");
        }
    }

    #[test]
    fn untrusted_issuers() {
        let chain = [der!("leaf-p256"), der!("int-p256")];
        let dns = ServerName::Dns(b"p256.flint.test");
        assert_eq!(verify_server(&chain, &Anchors::new(ROOT_RSA), dns, NOW).err(), Some(PkiError::UnknownIssuer));
        assert_eq!(verify_server(&chain, &Anchors::new(&[]), dns, NOW).err(), Some(PkiError::UnknownIssuer));
        // the intermediate alone is not an anchor here, and the leaf without it has no path
        assert_eq!(check(&[der!("leaf-p256")], "p256.flint.test").err(), Some(PkiError::UnknownIssuer));
        // a self-signed server certificate, unless the user trusts that very certificate
        let me = der!("self-signed");
        assert_eq!(check(&[me], "self.flint.test").err(), Some(PkiError::UnknownIssuer));
        let dns = ServerName::Dns(b"self.flint.test");
        assert!(verify_server(&[me], &Anchors::new(ROOT_RSA).with_extra(me), dns, NOW).is_ok());
        // trusted directly, its name is still checked
        let other = ServerName::Dns(b"p256.flint.test");
        assert_eq!(verify_server(&[me], &Anchors::new(me), other, NOW).err(), Some(PkiError::NameMismatch));
    }

    #[test]
    fn only_cas_issue() {
        let name = "p256.flint.test";
        assert_eq!(check(&[der!("leaf-under-noca"), der!("int-noca")], name).err(), Some(PkiError::NotCa));
        assert_eq!(check(&[der!("leaf-under-nobc"), der!("int-nobc")], name).err(), Some(PkiError::NotCa));
        // a CA:FALSE leaf that signed another leaf, with its own good chain sent along
        let chain = [der!("leaf-by-leaf"), der!("leaf-p256"), der!("int-p256")];
        assert_eq!(check(&chain, name).err(), Some(PkiError::NotCa));
        // a CA certificate as the server's own
        assert_eq!(check(&[der!("leaf-ca"), der!("int-p256")], name).err(), Some(PkiError::CaAsLeaf));
    }

    #[test]
    fn path_length() {
        let name = "p256.flint.test";
        let chain = [der!("leaf-under-sub"), der!("int-sub"), der!("int-pl0")];
        assert_eq!(check(&chain, name).err(), Some(PkiError::PathLen));
        // pathlen:0 still issues end-entity certificates
        assert!(check(&[der!("leaf-under-pl0"), der!("int-pl0")], name).is_ok());
    }

    #[test]
    fn key_usages() {
        let name = "p256.flint.test";
        let int = der!("int-p256");
        assert_eq!(check(&[der!("leaf-client"), int], name).err(), Some(PkiError::ExtKeyUsage));
        assert!(check(&[der!("leaf-anyeku"), int], name).is_ok());
        let chain = [der!("leaf-under-client"), der!("int-client")];
        assert_eq!(check(&chain, name).err(), Some(PkiError::ExtKeyUsage));
        let chain = [der!("leaf-under-noku"), der!("int-noku")];
        assert_eq!(check(&chain, name).err(), Some(PkiError::KeyUsage));
        assert_eq!(check(&[der!("leaf-keyenc"), int], name).err(), Some(PkiError::KeyUsage));
    }

    #[test]
    fn critical_extensions() {
        let int = der!("int-p256");
        assert_eq!(check(&[der!("leaf-critical"), int], "p256.flint.test").err(), Some(PkiError::UnknownCritical));
        assert!(check(&[der!("leaf-noncritical"), int], "p256.flint.test").is_ok());
    }

    #[test]
    fn name_constraints_are_refused() {
        // permitted;DNS:flint.test would allow p256.flint.test, but it is not evaluated
        let r = check(&[der!("leaf-under-nc"), der!("int-nc")], "p256.flint.test");
        assert_eq!(r.err(), Some(PkiError::NameConstraints));
        let r = check(&[der!("leaf-under-nc-soft"), der!("int-nc-soft")], "p256.flint.test");
        assert_eq!(r.err(), Some(PkiError::NameConstraints));
        // the same CA as an anchor
        let a = Anchors::new(der!("int-nc"));
        let dns = ServerName::Dns(b"p256.flint.test");
        assert_eq!(verify_server(&[der!("leaf-under-nc")], &a, dns, NOW).err(), Some(PkiError::NameConstraints));
    }

    #[test]
    fn tampered_signatures() {
        // one bit of the tbs: in a SAN name ('p' to 'q'), and in the intermediate's serial
        let leaf = flip(der!("leaf-p256"), |c| c.san.unwrap(), 4);
        assert_eq!(check(&[&leaf, der!("int-p256")], "p256.flint.test").err(), Some(PkiError::BadSignature));
        let leaf = flip(der!("leaf-rsa2048"), |c| c.san.unwrap(), 4);
        let r = check(&[&leaf, der!("int-rsa2048")], "rsa2048.flint.test");
        assert_eq!(r.err(), Some(PkiError::BadSignature));
        let leaf = flip(der!("leaf-pss"), |c| c.san.unwrap(), 4);
        assert_eq!(check(&[&leaf, der!("int-pss")], "pss.flint.test").err(), Some(PkiError::BadSignature));
        let int = flip(der!("int-p256"), |c| c.serial, 15);
        let r = check(&[der!("leaf-p256"), &int], "p256.flint.test");
        assert_eq!(r.err(), Some(PkiError::BadSignature));
        // one bit of the signature itself (RSA-4096 root over a 3072 intermediate)
        let int = flip(der!("int-rsa3072"), |c| c.signature, 100);
        let r = check(&[der!("leaf-rsa3072"), &int], "rsa3072.flint.test");
        assert_eq!(r.err(), Some(PkiError::BadSignature));
    }

    #[test]
    fn small_keys_and_bad_input() {
        let r = check(&[der!("leaf-rsa1024"), der!("int-rsa2048")], "rsa1024.flint.test");
        assert_eq!(r.err(), Some(PkiError::KeySize));
        assert_eq!(check(&[], "x.flint.test").err(), Some(PkiError::Malformed));
        assert_eq!(check(&[&[0x30, 0x00]], "x.flint.test").err(), Some(PkiError::Malformed));
    }

    #[test]
    fn anchors_skip_what_does_not_parse() {
        let mut v: heapless::Vec<u8, 4096> = heapless::Vec::new();
        v.extend_from_slice(ROOT_P256).unwrap();
        v.extend_from_slice(&[0x30, 0x03, 0x02, 0x01, 0x01]).unwrap();
        v.extend_from_slice(ROOT_P384).unwrap();
        assert_eq!(Anchors::new(&v).count(), 2);
        let chain = [der!("leaf-p384"), der!("int-p384")];
        assert!(verify_server(&chain, &Anchors::new(&v), ServerName::Dns(b"p384.flint.test"), NOW).is_ok());
        // a region ends at bytes that are not DER
        v.clear();
        v.extend_from_slice(&[0xff, 0xff]).unwrap();
        v.extend_from_slice(ROOT_P384).unwrap();
        assert_eq!(Anchors::new(&v).count(), 0);
    }
}
