//! TLS 1.3 client (RFC 8446), sans-IO, and the certificate checks it relies on ([`pki`]).
//!
//! The layer sits between the TCP socket and the HTTP parser: it takes the bytes TCP delivered
//! and `now`, and hands back what to send and the decrypted application data. Nothing here
//! reads a clock, draws randomness or touches a socket; the caller passes entropy from
//! `getrandom()` and the real-time clock in.

pub mod client;
pub mod entropy;
pub mod keys;
pub mod pki;
pub mod session;
#[cfg(test)]
mod tests;

pub use client::Client;
pub use session::{Secure, Trust, WRITE_MAX};

use core::fmt;
use pki::{PkiError, ServerName};

/// The certificate checks the handshake asks for; implemented over [`pki`] by the caller, so the
/// state machine holds no trust anchors and no clock.
pub trait Verify {
    /// The server's certificates, DER, leaf first, as sent; `name` is the one given to `start`.
    fn chain(&mut self, certs: &[&[u8]], name: ServerName<'_>) -> Result<(), PkiError>;
    /// CertificateVerify: `message` is the full signed content; `scheme` the TLS SignatureScheme.
    fn signature(&mut self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), PkiError>;
}

/// Why a TLS connection failed. Every variant is final: the connection is unusable after it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TlsError {
    /// The certificate chain or the CertificateVerify signature was refused.
    Certificate(PkiError),
    /// The server speaks only TLS 1.2 or older (no supported_versions 1.3 in its ServerHello, or a
    /// protocol_version alert in answer to the ClientHello).
    Version,
    /// A ServerHello below TLS 1.3 carrying RFC 8446 §4.1.3's downgrade sentinel: something on
    /// the path rewrote the ClientHello.
    Downgrade,
    /// The server sent a fatal alert with this AlertDescription (§6).
    Alert(u8),
    /// The server broke the protocol: a malformed or unexpected message or record.
    Protocol,
    /// A record failed authentication (tampered, corrupt or out of order), or the server's
    /// Finished did not match the handshake.
    Decrypt,
    /// The server chose something flint did not offer or does not do (a HelloRetryRequest,
    /// a signature scheme, a group).
    Unsupported,
    /// A record over 2^14 + 256 bytes, a handshake message over flint's buffer, or more
    /// application data than fits the outgoing buffer.
    TooLarge,
    /// `write` before the handshake finished or after the connection closed.
    NotReady,
}

impl fmt::Display for TlsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TlsError::Certificate(e) => write!(f, "server certificate refused: {e}"),
            TlsError::Version => f.write_str("server offers only TLS 1.2 or older"),
            TlsError::Downgrade => f.write_str("TLS downgrade detected (RFC 8446 4.1.3)"),
            TlsError::Alert(code) => write!(f, "server sent TLS alert {code}"),
            TlsError::Protocol => f.write_str("TLS protocol violation by the server"),
            TlsError::Decrypt => f.write_str("TLS record or Finished failed authentication"),
            TlsError::Unsupported => f.write_str("server chose a TLS parameter flint does not offer"),
            TlsError::TooLarge => f.write_str("TLS record or message too large"),
            TlsError::NotReady => f.write_str("TLS connection not established"),
        }
    }
}

impl core::error::Error for TlsError {}
