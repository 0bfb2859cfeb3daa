//! X.509 certificate path validation for TLS server authentication (RFC 5280 §6, RFC 6125),
//! without an allocator.

use core::fmt;

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
        })
    }
}
