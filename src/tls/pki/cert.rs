//! One X.509 v3 certificate, parsed in place (RFC 5280 §4.1): every field the path checks
//! need is a slice of the caller's bytes.

use super::PkiError;
use super::der::{self, Reader, tag};

/// The digests flint verifies signatures with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Hash {
    Sha256,
    Sha384,
    Sha512,
}

/// A signature algorithm (RFC 4055, RFC 5758), with its parameters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SigAlg {
    /// sha{256,384,512}WithRSAEncryption: RSASSA-PKCS1-v1_5.
    RsaPkcs1(Hash),
    /// RSASSA-PSS, MGF1 with the same hash, the given salt length (RFC 4055 §3.1).
    RsaPss(Hash, u16),
    /// ecdsa-with-SHA{256,384,512}.
    Ecdsa(Hash),
}

/// The key in a SubjectPublicKeyInfo (RFC 5280 §4.1.2.7), borrowed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Spki<'a> {
    /// rsaEncryption (RFC 3279 §2.3.1): the modulus and exponent magnitudes, big-endian.
    Rsa { n: &'a [u8], e: &'a [u8] },
    /// id-ecPublicKey on prime256v1: the SEC 1 point.
    P256(&'a [u8]),
    /// id-ecPublicKey on secp384r1.
    P384(&'a [u8]),
    /// Any other algorithm: refused only if this key has to verify something.
    Unsupported,
}

/// keyUsage bits (RFC 5280 §4.2.1.3), bit 0 as the MSB of a u16.
pub const KU_DIGITAL_SIGNATURE: u16 = 0x8000;
pub const KU_KEY_CERT_SIGN: u16 = 0x0400;

/// A parsed certificate. Names are the whole DER Name, compared as bytes (as webpki does);
/// SAN is the GeneralNames contents, walked by [`Cert::san`].
#[derive(Clone, Copy, Debug)]
pub struct Cert<'a> {
    /// The whole certificate.
    pub der: &'a [u8],
    /// The signed TBSCertificate, its tag and length included.
    pub tbs: &'a [u8],
    pub sig_alg: Option<SigAlg>,
    pub signature: &'a [u8],
    /// The serial number's contents (its two's-complement octets).
    pub serial: &'a [u8],
    pub issuer: &'a [u8],
    pub subject: &'a [u8],
    pub not_before: u64,
    pub not_after: u64,
    pub spki: Spki<'a>,
    /// basicConstraints: `Some(pathLen)` when cA is TRUE (pathLen `None` if unlimited).
    pub ca: Option<Option<u32>>,
    /// keyUsage if present.
    pub key_usage: Option<u16>,
    /// extendedKeyUsage contents if present.
    pub eku: Option<&'a [u8]>,
    /// subjectAltName's GeneralNames contents if present.
    pub san: Option<&'a [u8]>,
    /// subjectKeyIdentifier / authorityKeyIdentifier's keyIdentifier.
    pub ski: Option<&'a [u8]>,
    pub aki: Option<&'a [u8]>,
    /// A critical extension flint does not implement (RFC 5280 §4.2: MUST reject).
    pub unknown_critical: bool,
    /// nameConstraints is present, critical or not (not implemented: such a CA is refused).
    pub name_constraints: bool,
}

// OID contents (X.690 §8.19).
const OID_RSA: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01];
const OID_RSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b];
const OID_RSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0c];
const OID_RSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0d];
const OID_RSA_PSS: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0a];
const OID_MGF1: &[u8] = &[0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x08];
const OID_SHA256: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01];
const OID_SHA384: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x02];
const OID_SHA512: &[u8] = &[0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x03];
const OID_EC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];
const OID_ECDSA_SHA256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_ECDSA_SHA384: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x03];
const OID_ECDSA_SHA512: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
/// id-ce arcs (2.5.29.x) are three octets: 0x55 0x1d x.
const ID_CE: &[u8] = &[0x55, 0x1d];
const CE_SKI: u8 = 14;
const CE_KEY_USAGE: u8 = 15;
const CE_SAN: u8 = 17;
const CE_BASIC_CONSTRAINTS: u8 = 19;
const CE_EKU: u8 = 37;
const CE_AKI: u8 = 35;
const CE_NAME_CONSTRAINTS: u8 = 30;
/// id-kp-serverAuth (1.3.6.1.5.5.7.3.1) and anyExtendedKeyUsage (2.5.29.37.0).
const OID_SERVER_AUTH: &[u8] = &[0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const OID_ANY_EKU: &[u8] = &[0x55, 0x1d, 0x25, 0x00];

impl<'a> Cert<'a> {
    /// Parses one DER certificate that must fill `der` exactly.
    pub fn parse(der: &'a [u8]) -> Result<Self, PkiError> {
        let mut outer = Reader::new(der);
        let mut cert = Reader::new(outer.read(tag::SEQUENCE)?);
        outer.finish()?;
        let tbs = cert.read_tlv(tag::SEQUENCE)?;
        let outer_alg = cert.read_tlv(tag::SEQUENCE)?;
        let signature = der::bit_string_octets(cert.read(tag::BIT_STRING)?)?;
        cert.finish()?;

        let mut t = Reader::new(der::header(tbs).map(|(_, h, _)| &tbs[h..])?);
        // version [0] EXPLICIT DEFAULT v1: DER omits v1, so an explicit 0 is malformed.
        let version = match t.optional(tag::explicit(0))? {
            Some(v) => {
                let mut r = Reader::new(v);
                let n = der::small_uint(r.read(tag::INTEGER)?)?;
                r.finish()?;
                if n == 0 || n > 2 {
                    return Err(PkiError::Malformed);
                }
                n
            }
            None => 0,
        };
        let serial = t.read(tag::INTEGER)?;
        // Positive per RFC 5280 §4.1.2.2 (some CAs issue a zero; negative is refused).
        der::unsigned(serial)?;
        let inner_alg = t.read_tlv(tag::SEQUENCE)?;
        // RFC 5280 §4.1.1.2: the algorithm in the signed part must equal the outer one.
        if inner_alg != outer_alg {
            return Err(PkiError::Malformed);
        }
        let issuer = t.read_tlv(tag::SEQUENCE)?;
        let mut validity = Reader::new(t.read(tag::SEQUENCE)?);
        let not_before = der::time(&mut validity)?;
        let not_after = der::time(&mut validity)?;
        validity.finish()?;
        let subject = t.read_tlv(tag::SEQUENCE)?;
        let spki = parse_spki(t.read(tag::SEQUENCE)?)?;
        // issuerUniqueID [1], subjectUniqueID [2]: v2+ only, skipped.
        for n in 1..=2 {
            if t.optional(tag::implicit(n))?.is_some() && version < 1 {
                return Err(PkiError::Malformed);
            }
        }
        let mut c = Cert {
            der,
            tbs,
            sig_alg: sig_alg(outer_alg)?,
            signature,
            serial,
            issuer,
            subject,
            not_before,
            not_after,
            spki,
            ca: None,
            key_usage: None,
            eku: None,
            san: None,
            ski: None,
            aki: None,
            unknown_critical: false,
            name_constraints: false,
        };
        if let Some(exts) = t.optional(tag::explicit(3))? {
            if version != 2 {
                return Err(PkiError::Malformed);
            }
            let mut r = Reader::new(exts);
            let list = r.read(tag::SEQUENCE)?;
            r.finish()?;
            c.extensions(list)?;
        }
        t.finish()?;
        Ok(c)
    }

    fn extensions(&mut self, list: &'a [u8]) -> Result<(), PkiError> {
        let mut r = Reader::new(list);
        // RFC 5280 §4.2: at most one instance of an extension; the list must not be empty.
        let mut seen = 0u64;
        if r.is_empty() {
            return Err(PkiError::Malformed);
        }
        while !r.is_empty() {
            let mut e = Reader::new(r.read(tag::SEQUENCE)?);
            let oid = e.read(tag::OID)?;
            der::check_oid(oid)?;
            // critical BOOLEAN DEFAULT FALSE: an explicit FALSE is tolerated (seen in the wild).
            let critical = match e.optional(tag::BOOLEAN)? {
                Some(b) => der::boolean(b)?,
                None => false,
            };
            let value = e.read(tag::OCTET_STRING)?;
            e.finish()?;
            let known = match oid {
                [0x55, 0x1d, n] if oid[..2] == *ID_CE => {
                    let n = *n;
                    if n < 64 {
                        if seen & 1 << n != 0 {
                            return Err(PkiError::Malformed);
                        }
                        seen |= 1 << n;
                    }
                    self.extension(n, value)?
                }
                _ => false,
            };
            if critical && !known {
                self.unknown_critical = true;
            }
        }
        Ok(())
    }

    /// Reads one id-ce extension; false if flint does not implement it.
    fn extension(&mut self, n: u8, value: &'a [u8]) -> Result<bool, PkiError> {
        let mut r = Reader::new(value);
        match n {
            CE_BASIC_CONSTRAINTS => {
                let mut s = Reader::new(r.read(tag::SEQUENCE)?);
                let ca = match s.optional(tag::BOOLEAN)? {
                    Some(b) => der::boolean(b)?,
                    None => false,
                };
                let path_len = match s.optional(tag::INTEGER)? {
                    Some(v) => Some(der::small_uint(v)?),
                    None => None,
                };
                s.finish()?;
                // RFC 5280 §4.2.1.9: pathLenConstraint only with cA TRUE.
                if path_len.is_some() && !ca {
                    return Err(PkiError::Malformed);
                }
                self.ca = if ca { Some(path_len) } else { None };
            }
            CE_KEY_USAGE => self.key_usage = Some(der::named_bits(r.read(tag::BIT_STRING)?)?),
            CE_EKU => {
                let list = r.read(tag::SEQUENCE)?;
                let mut s = Reader::new(list);
                if s.is_empty() {
                    return Err(PkiError::Malformed);
                }
                while !s.is_empty() {
                    der::check_oid(s.read(tag::OID)?)?;
                }
                self.eku = Some(list);
            }
            CE_SAN => {
                let list = r.read(tag::SEQUENCE)?;
                let mut s = Reader::new(list);
                if s.is_empty() {
                    return Err(PkiError::Malformed);
                }
                while !s.is_empty() {
                    s.any()?;
                }
                self.san = Some(list);
            }
            CE_SKI => self.ski = Some(r.read(tag::OCTET_STRING)?),
            CE_AKI => {
                let mut s = Reader::new(r.read(tag::SEQUENCE)?);
                self.aki = s.optional(tag::implicit(0))?;
            }
            // RFC 5280 §4.2.1.10 says critical, the CA/B Forum allows non-critical: either
            // way its subtrees are not evaluated, so the certificate is flagged, not trusted.
            CE_NAME_CONSTRAINTS => {
                self.name_constraints = true;
                return Ok(true);
            }
            // Every other id-ce extension: not implemented, so a critical one fails the
            // certificate.
            _ => return Ok(false),
        }
        r.finish()?;
        Ok(true)
    }

    /// Whether extendedKeyUsage, if present, allows TLS server authentication.
    pub fn allows_server_auth(&self) -> bool {
        let Some(list) = self.eku else { return true };
        let mut r = Reader::new(list);
        while let Ok(oid) = r.read(tag::OID) {
            if oid == OID_SERVER_AUTH || oid == OID_ANY_EKU {
                return true;
            }
        }
        false
    }

    /// Walks subjectAltName: (GeneralName tag, contents) of each entry.
    pub fn san_entries(&self) -> impl Iterator<Item = (u8, &'a [u8])> + 'a {
        let mut r = Reader::new(self.san.unwrap_or(&[]));
        core::iter::from_fn(move || r.any().ok().map(|(t, v, _)| (t, v)))
    }

    /// Whether `now` lies within notBefore..=notAfter (RFC 5280 §4.1.2.5).
    pub fn check_time(&self, now: u64) -> Result<(), PkiError> {
        if now < self.not_before {
            Err(PkiError::NotYetValid)
        } else if now > self.not_after {
            Err(PkiError::Expired)
        } else {
            Ok(())
        }
    }
}

fn hash_alg(alg: &[u8]) -> Result<Hash, PkiError> {
    let mut r = Reader::new(alg);
    let oid = r.read(tag::OID)?;
    // Parameters NULL or absent (RFC 5754 §2).
    if let Some(p) = r.optional(tag::NULL)?
        && !p.is_empty()
    {
        return Err(PkiError::Malformed);
    }
    r.finish()?;
    match oid {
        OID_SHA256 => Ok(Hash::Sha256),
        OID_SHA384 => Ok(Hash::Sha384),
        OID_SHA512 => Ok(Hash::Sha512),
        _ => Err(PkiError::UnsupportedAlgorithm),
    }
}

/// An AlgorithmIdentifier TLV to a signature algorithm; `None` for one flint does not
/// implement (refused only if the certificate's signature has to be checked).
fn sig_alg(tlv: &[u8]) -> Result<Option<SigAlg>, PkiError> {
    let mut outer = Reader::new(tlv);
    let mut r = Reader::new(outer.read(tag::SEQUENCE)?);
    let oid = r.read(tag::OID)?;
    der::check_oid(oid)?;
    let (rsa, hash) = match oid {
        OID_RSA_SHA256 => (true, Hash::Sha256),
        OID_RSA_SHA384 => (true, Hash::Sha384),
        OID_RSA_SHA512 => (true, Hash::Sha512),
        OID_ECDSA_SHA256 => (false, Hash::Sha256),
        OID_ECDSA_SHA384 => (false, Hash::Sha384),
        OID_ECDSA_SHA512 => (false, Hash::Sha512),
        OID_RSA_PSS => return pss_params(r.read(tag::SEQUENCE)?).map(Some),
        _ => return Ok(None),
    };
    if rsa {
        // NULL parameters (RFC 4055 §5); tolerate their absence, as most verifiers do.
        if let Some(p) = r.optional(tag::NULL)?
            && !p.is_empty()
        {
            return Err(PkiError::Malformed);
        }
        r.finish()?;
        return Ok(Some(SigAlg::RsaPkcs1(hash)));
    }
    // ECDSA: parameters absent (RFC 5758 §3.2).
    r.finish()?;
    outer.finish()?;
    Ok(Some(SigAlg::Ecdsa(hash)))
}

/// RSASSA-PSS-params (RFC 4055 §3.1). The defaults (SHA-1) are not accepted: the hash must be
/// given, MGF1 must use the same hash, the trailer field must be 1.
fn pss_params(v: &[u8]) -> Result<SigAlg, PkiError> {
    let mut r = Reader::new(v);
    let h = r.read(tag::explicit(0)).map_err(|_| PkiError::UnsupportedAlgorithm)?;
    let mut hr = Reader::new(h);
    let hash = hash_alg(hr.read(tag::SEQUENCE)?)?;
    hr.finish()?;
    let mut mr = Reader::new(r.read(tag::explicit(1)).map_err(|_| PkiError::UnsupportedAlgorithm)?);
    let mut mgf = Reader::new(mr.read(tag::SEQUENCE)?);
    mr.finish()?;
    if mgf.read(tag::OID)? != OID_MGF1 || hash_alg(mgf.read(tag::SEQUENCE)?)? != hash {
        return Err(PkiError::UnsupportedAlgorithm);
    }
    mgf.finish()?;
    let salt = match r.optional(tag::explicit(2))? {
        Some(s) => {
            let mut sr = Reader::new(s);
            let n = der::small_uint(sr.read(tag::INTEGER)?)?;
            sr.finish()?;
            u16::try_from(n).map_err(|_| PkiError::Malformed)?
        }
        None => 20,
    };
    if let Some(t) = r.optional(tag::explicit(3))? {
        let mut tr = Reader::new(t);
        if der::small_uint(tr.read(tag::INTEGER)?)? != 1 {
            return Err(PkiError::UnsupportedAlgorithm);
        }
        tr.finish()?;
    }
    r.finish()?;
    Ok(SigAlg::RsaPss(hash, salt))
}

fn parse_spki(v: &[u8]) -> Result<Spki<'_>, PkiError> {
    let mut r = Reader::new(v);
    let mut alg = Reader::new(r.read(tag::SEQUENCE)?);
    let key = der::bit_string_octets(r.read(tag::BIT_STRING)?)?;
    r.finish()?;
    let oid = alg.read(tag::OID)?;
    der::check_oid(oid)?;
    match oid {
        OID_RSA => {
            if !alg.read(tag::NULL)?.is_empty() {
                return Err(PkiError::Malformed);
            }
            alg.finish()?;
            // RSAPublicKey ::= SEQUENCE { modulus INTEGER, publicExponent INTEGER }
            let mut k = Reader::new(key);
            let mut s = Reader::new(k.read(tag::SEQUENCE)?);
            k.finish()?;
            let n = der::unsigned(s.read(tag::INTEGER)?)?;
            let e = der::unsigned(s.read(tag::INTEGER)?)?;
            s.finish()?;
            Ok(Spki::Rsa { n, e })
        }
        OID_EC_KEY => {
            let curve = alg.read(tag::OID)?;
            alg.finish()?;
            match curve {
                OID_P256 => Ok(Spki::P256(key)),
                OID_P384 => Ok(Spki::P384(key)),
                _ => Ok(Spki::Unsupported),
            }
        }
        _ => Ok(Spki::Unsupported),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LEAF: &[u8] = include_bytes!("testdata/leaf-p256.der");
    const PSS: &[u8] = include_bytes!("testdata/leaf-pss.der");
    const INT_PSS: &[u8] = include_bytes!("testdata/int-pss.der");
    const ROOT384: &[u8] = include_bytes!("testdata/root-p384.der");
    const PL0: &[u8] = include_bytes!("testdata/int-pl0.der");

    #[test]
    fn parses_a_server_certificate() {
        let c = Cert::parse(LEAF).unwrap();
        assert_eq!(c.sig_alg, Some(SigAlg::Ecdsa(Hash::Sha256)));
        assert!(matches!(c.spki, Spki::P256(k) if k.len() == 65 && k[0] == 4));
        assert_eq!(c.ca, None);
        assert_eq!(c.key_usage, Some(KU_DIGITAL_SIGNATURE));
        assert!(c.allows_server_auth());
        assert_eq!(c.not_before, 1_735_689_600); // 2025-01-01
        assert_eq!(c.not_after, 2_051_222_400); // 2035-01-01
        let names: heapless::Vec<&[u8], 4> = c.san_entries().filter(|e| e.0 == 0x82).map(|e| e.1).collect();
        assert_eq!(names[..], [&b"p256.flint.test"[..], b"www.p256.flint.test"]);
        assert!(c.ski.is_some() && c.aki.is_some());
        assert!(!c.unknown_critical);
        assert_eq!(c.serial[0] & 0xf0, 0x40);
        // tbs is the signed part: it starts right after the outer header
        assert_eq!(&LEAF[4..4 + c.tbs.len()], c.tbs);
    }

    #[test]
    fn reads_pss_parameters_and_generalized_time() {
        assert_eq!(Cert::parse(INT_PSS).unwrap().sig_alg, Some(SigAlg::RsaPss(Hash::Sha256, 32)));
        // saltLength omitted: DEFAULT 20
        assert_eq!(Cert::parse(PSS).unwrap().sig_alg, Some(SigAlg::RsaPss(Hash::Sha384, 20)));
        let r = Cert::parse(ROOT384).unwrap();
        assert_eq!(r.not_after, 2_556_144_000);
        assert!(matches!(r.spki, Spki::P384(k) if k.len() == 97));
        assert_eq!(r.ca, Some(None));
        assert_eq!(Cert::parse(PL0).unwrap().ca, Some(Some(0)));
    }

    #[test]
    fn flags_unknown_critical_extensions_only() {
        let c = Cert::parse(include_bytes!("testdata/leaf-critical.der")).unwrap();
        assert!(c.unknown_critical);
        let c = Cert::parse(include_bytes!("testdata/leaf-noncritical.der")).unwrap();
        assert!(!c.unknown_critical);
    }

    #[test]
    fn refuses_damaged_encodings() {
        // every truncation fails, never panics
        for n in 0..LEAF.len() {
            assert!(Cert::parse(&LEAF[..n]).is_err(), "{n}");
        }
        // a trailing byte
        let mut v = heapless::Vec::<u8, 2048>::from_slice(LEAF).unwrap();
        v.push(0).unwrap();
        assert!(Cert::parse(&v).is_err());
        // the outer signature algorithm differing from the signed one (ecdsa-with-SHA384)
        let mut v = heapless::Vec::<u8, 2048>::from_slice(LEAF).unwrap();
        let tail = v.len() - Cert::parse(LEAF).unwrap().signature.len() - 4;
        assert_eq!(v[tail], 0x02);
        v[tail] = 0x03;
        assert_eq!(Cert::parse(&v).err(), Some(PkiError::Malformed));
    }
}
