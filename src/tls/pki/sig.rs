//! Signature verification over a certificate's key: RSA (PKCS#1 v1.5, PSS) and ECDSA on P-256
//! and P-384, and the owned [`PublicKey`] the TLS handshake keeps for CertificateVerify.

use core::fmt;

use p256::ecdsa::signature::hazmat::PrehashVerifier;
use sha2::Digest;

use super::PkiError;
use super::cert::{Hash, SigAlg, Spki};
use super::der::{self, Reader, tag};
use super::rsa;

/// Hashes the concatenation of `parts` into `out`; returns the digest length.
#[inline(never)]
pub fn digest(h: Hash, parts: &[&[u8]], out: &mut [u8; 64]) -> usize {
    fn run<D: Digest>(parts: &[&[u8]], out: &mut [u8]) -> usize {
        let mut d = D::new();
        for p in parts {
            d.update(p);
        }
        let r = d.finalize();
        out[..r.len()].copy_from_slice(&r);
        r.len()
    }
    match h {
        Hash::Sha256 => run::<sha2::Sha256>(parts, out),
        Hash::Sha384 => run::<sha2::Sha384>(parts, out),
        Hash::Sha512 => run::<sha2::Sha512>(parts, out),
    }
}

/// Verifies `sig` over `msg` with `key` under `alg`. A key whose type does not fit the
/// algorithm is a bad signature; a key flint does not implement is unsupported.
#[inline(never)]
pub fn verify(key: Spki<'_>, alg: Option<SigAlg>, msg: &[u8], sig: &[u8]) -> Result<(), PkiError> {
    let alg = alg.ok_or(PkiError::UnsupportedAlgorithm)?;
    match (key, alg) {
        (Spki::Unsupported, _) => Err(PkiError::UnsupportedAlgorithm),
        (Spki::Rsa { n, e }, SigAlg::RsaPkcs1(h)) => rsa::verify_pkcs1(n, e, h, msg, sig),
        (Spki::Rsa { n, e }, SigAlg::RsaPss(h, salt)) => rsa::verify_pss(n, e, h, salt as usize, msg, sig),
        (Spki::P256(point), SigAlg::Ecdsa(h)) => {
            let mut d = [0u8; 64];
            let len = digest(h, &[msg], &mut d);
            let k = p256::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| PkiError::Malformed)?;
            let mut rs = [0u8; 96];
            let s =
                p256::ecdsa::Signature::from_slice(ecdsa_sig(sig, 32, &mut rs)?).map_err(|_| PkiError::BadSignature)?;
            k.verify_prehash(&d[..len], &s).map_err(|_| PkiError::BadSignature)
        }
        (Spki::P384(point), SigAlg::Ecdsa(h)) => {
            let mut d = [0u8; 64];
            let len = digest(h, &[msg], &mut d);
            let k = p384::ecdsa::VerifyingKey::from_sec1_bytes(point).map_err(|_| PkiError::Malformed)?;
            let mut rs = [0u8; 96];
            let s =
                p384::ecdsa::Signature::from_slice(ecdsa_sig(sig, 48, &mut rs)?).map_err(|_| PkiError::BadSignature)?;
            k.verify_prehash(&d[..len], &s).map_err(|_| PkiError::BadSignature)
        }
        _ => Err(PkiError::BadSignature),
    }
}

/// Ecdsa-Sig-Value ::= SEQUENCE { r INTEGER, s INTEGER } (RFC 5480 §2.2, RFC 8446 §4.2.3) to
/// the fixed-width r ‖ s the curve crates take; flint's own DER reader keeps the `der` crate
/// out of the binary. Zero or out-of-range scalars are refused by `from_slice`.
fn ecdsa_sig<'o>(sig: &[u8], width: usize, out: &'o mut [u8; 96]) -> Result<&'o [u8], PkiError> {
    let bad = |_| PkiError::BadSignature;
    let mut outer = Reader::new(sig);
    let mut r = Reader::new(outer.read(tag::SEQUENCE).map_err(bad)?);
    outer.finish().map_err(bad)?;
    for i in 0..2 {
        let v = der::unsigned(r.read(tag::INTEGER).map_err(bad)?).map_err(bad)?;
        if v.len() > width {
            return Err(PkiError::BadSignature);
        }
        out[(i + 1) * width - v.len()..(i + 1) * width].copy_from_slice(v);
    }
    r.finish().map_err(bad)?;
    Ok(&out[..2 * width])
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Rsa,
    P256,
    P384,
}

/// The server's key, owned (copied out of the certificate: the handshake buffer is reused
/// before CertificateVerify).
#[derive(Clone)]
pub struct PublicKey {
    kind: Kind,
    /// RSA modulus or SEC 1 point, big-endian, in `bytes[..len]`.
    bytes: [u8; rsa::MAX_BYTES],
    len: u16,
    /// RSA public exponent, big-endian, in `e[..e_len]` (at most 5 bytes are accepted).
    e: [u8; 8],
    e_len: u8,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.kind {
            Kind::Rsa => write!(f, "RSA-{}", self.len as usize * 8),
            Kind::P256 => f.write_str("P-256"),
            Kind::P384 => f.write_str("P-384"),
        }
    }
}

impl PublicKey {
    /// Copies a certificate's key, refusing what flint cannot verify with.
    pub(super) fn from_spki(k: Spki<'_>) -> Result<Self, PkiError> {
        let mut out = PublicKey { kind: Kind::Rsa, bytes: [0; rsa::MAX_BYTES], len: 0, e: [0; 8], e_len: 0 };
        let key = match k {
            Spki::Rsa { n, e } => {
                // The size rule of rsa::public_op, applied now so a server with a small key
                // fails at its certificate, not later at CertificateVerify.
                let bits = n.len() * 8 - n.first().map_or(8, |b| b.leading_zeros() as usize);
                if !(2048..=rsa::MAX_BYTES * 8).contains(&bits) {
                    return Err(PkiError::KeySize);
                }
                if e.len() > 5 {
                    return Err(PkiError::UnsupportedAlgorithm);
                }
                out.e[..e.len()].copy_from_slice(e);
                out.e_len = e.len() as u8;
                n
            }
            Spki::P256(p) if p.len() == 65 => {
                out.kind = Kind::P256;
                p
            }
            Spki::P384(p) if p.len() == 97 => {
                out.kind = Kind::P384;
                p
            }
            Spki::P256(_) | Spki::P384(_) => return Err(PkiError::Malformed),
            Spki::Unsupported => return Err(PkiError::UnsupportedAlgorithm),
        };
        out.bytes[..key.len()].copy_from_slice(key);
        out.len = key.len() as u16;
        Ok(out)
    }

    fn spki(&self) -> Spki<'_> {
        let b = &self.bytes[..self.len as usize];
        match self.kind {
            Kind::Rsa => Spki::Rsa { n: b, e: &self.e[..self.e_len as usize] },
            Kind::P256 => Spki::P256(b),
            Kind::P384 => Spki::P384(b),
        }
    }

    /// TLS 1.3 CertificateVerify / signature_algorithms codes (RFC 8446 §4.2.3): 0x0403
    /// ecdsa_secp256r1_sha256, 0x0503 ecdsa_secp384r1_sha384, 0x0804/0x0805/0x0806
    /// rsa_pss_rsae_sha256/384/512. `message` is the full signed content (the caller builds
    /// the 64 spaces + context string + transcript hash); this hashes it with the scheme's
    /// hash. A known scheme that does not fit the key's type or curve is `BadSignature`; any
    /// other code (PKCS#1 v1.5 included, which TLS 1.3 forbids here) is `UnsupportedAlgorithm`.
    pub fn verify_tls13(&self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), PkiError> {
        let (kind, alg) = match scheme {
            0x0403 => (Kind::P256, SigAlg::Ecdsa(Hash::Sha256)),
            0x0503 => (Kind::P384, SigAlg::Ecdsa(Hash::Sha384)),
            // RFC 8446 §4.2.3: the PSS salt is as long as the digest.
            0x0804 => (Kind::Rsa, SigAlg::RsaPss(Hash::Sha256, 32)),
            0x0805 => (Kind::Rsa, SigAlg::RsaPss(Hash::Sha384, 48)),
            0x0806 => (Kind::Rsa, SigAlg::RsaPss(Hash::Sha512, 64)),
            _ => return Err(PkiError::UnsupportedAlgorithm),
        };
        if kind != self.kind {
            return Err(PkiError::BadSignature);
        }
        verify(self.spki(), Some(alg), message, signature)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tls::pki::cert::Cert;

    const MSG: &[u8] = include_bytes!("testdata/cv-message.bin");

    fn key(der: &[u8]) -> PublicKey {
        PublicKey::from_spki(Cert::parse(der).unwrap().spki).unwrap()
    }

    #[test]
    fn digests_match_known_answers() {
        let mut d = [0u8; 64];
        assert_eq!(digest(Hash::Sha256, &[b"a", b"bc"], &mut d), 32);
        assert_eq!(d[..4], [0xba, 0x78, 0x16, 0xbf]);
        assert_eq!(digest(Hash::Sha384, &[b"abc"], &mut d), 48);
        assert_eq!(d[..4], [0xcb, 0x00, 0x75, 0x3f]);
        assert_eq!(digest(Hash::Sha512, &[b"abc"], &mut d), 64);
        assert_eq!(d[..4], [0xdd, 0xaf, 0x35, 0xa1]);
    }

    #[test]
    fn certificate_verify_signatures_made_by_openssl() {
        let cases: [(&[u8], u16, &[u8]); 5] = [
            (include_bytes!("testdata/leaf-rsa2048.der"), 0x0804, include_bytes!("testdata/cv-0804-rsa2048.sig")),
            (include_bytes!("testdata/leaf-rsa3072.der"), 0x0805, include_bytes!("testdata/cv-0805-rsa3072.sig")),
            (include_bytes!("testdata/leaf-rsa4096.der"), 0x0806, include_bytes!("testdata/cv-0806-rsa4096.sig")),
            (include_bytes!("testdata/leaf-p256.der"), 0x0403, include_bytes!("testdata/cv-0403-p256.sig")),
            (include_bytes!("testdata/leaf-p384.der"), 0x0503, include_bytes!("testdata/cv-0503-p384.sig")),
        ];
        for (cert, scheme, sig) in cases {
            let k = key(cert);
            assert_eq!(k.verify_tls13(scheme, MSG, sig), Ok(()), "{scheme:04x}");
            // one bit of the signature, one bit of the message
            let mut bad = [0u8; 512];
            bad[..sig.len()].copy_from_slice(sig);
            bad[sig.len() / 2] ^= 0x10;
            assert_eq!(k.verify_tls13(scheme, MSG, &bad[..sig.len()]), Err(PkiError::BadSignature));
            let mut m = [0u8; 256];
            m[..MSG.len()].copy_from_slice(MSG);
            m[MSG.len() - 1] ^= 1;
            assert_eq!(k.verify_tls13(scheme, &m[..MSG.len()], sig), Err(PkiError::BadSignature));
        }
    }

    #[test]
    fn schemes_must_fit_the_key() {
        let rsa = key(include_bytes!("testdata/leaf-rsa2048.der"));
        let p256 = key(include_bytes!("testdata/leaf-p256.der"));
        let p384 = key(include_bytes!("testdata/leaf-p384.der"));
        let sig256: &[u8] = include_bytes!("testdata/cv-0403-p256.sig");
        let pss: &[u8] = include_bytes!("testdata/cv-0804-rsa2048.sig");
        // the right signature under another hash, or a P-256 signature on a P-384 key
        assert_eq!(rsa.verify_tls13(0x0805, MSG, pss), Err(PkiError::BadSignature));
        assert_eq!(p384.verify_tls13(0x0403, MSG, sig256), Err(PkiError::BadSignature));
        assert_eq!(p256.verify_tls13(0x0804, MSG, pss), Err(PkiError::BadSignature));
        // a valid P-384 signature over SHA-256 is still not ecdsa_secp256r1_sha256
        let p384_sha256: &[u8] = include_bytes!("testdata/cv-p384-sha256.sig");
        assert_eq!(verify(p384.spki(), Some(SigAlg::Ecdsa(Hash::Sha256)), MSG, p384_sha256), Ok(()));
        assert_eq!(p384.verify_tls13(0x0403, MSG, p384_sha256), Err(PkiError::BadSignature));
        // PKCS#1 v1.5 (rsa_pkcs1_sha256) is not a CertificateVerify scheme in TLS 1.3
        let v15: &[u8] = include_bytes!("testdata/cv-0401-rsa2048.sig");
        assert_eq!(rsa.verify_tls13(0x0401, MSG, v15), Err(PkiError::UnsupportedAlgorithm));
        // …but the same bytes are a valid PKCS#1 v1.5 signature, so the refusal is the scheme's
        assert_eq!(verify(rsa.spki(), Some(SigAlg::RsaPkcs1(Hash::Sha256)), MSG, v15), Ok(()));
        assert_eq!(format!("{rsa:?} {p256:?} {p384:?}"), "RSA-2048 P-256 P-384");
    }

    #[test]
    fn small_rsa_keys_are_refused() {
        let c = Cert::parse(include_bytes!("testdata/leaf-rsa1024.der")).unwrap();
        assert_eq!(PublicKey::from_spki(c.spki).err(), Some(PkiError::KeySize));
    }
}
