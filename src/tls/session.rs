//! What one https exchange needs beside the socket: the client, the trust anchors with the
//! time to check certificates at, and fresh key material per handshake.
//!
//! [`Trust`] is the bridge from the TLS state machine to [`super::pki`]: the chain is checked
//! first (and the server's key kept, copied, since the handshake buffer is reused), then the
//! CertificateVerify signature against that key.

use super::entropy::Entropy;
use super::pki::{self, Anchors, PkiError, PublicKey, ServerName};
use super::{Client, Verify};

/// Most application data sealed by one [`Client::write`].
pub const WRITE_MAX: usize = 2048;

/// Trust anchors and the time certificates are checked at (Unix seconds).
pub struct Trust<'a> {
    anchors: Anchors<'a>,
    now: u64,
    /// The server's key, once its chain was accepted.
    key: Option<PublicKey>,
}

impl<'a> Trust<'a> {
    pub fn new(anchors: Anchors<'a>, now: u64) -> Trust<'a> {
        Trust { anchors, now, key: None }
    }

    /// Trusts the certificates in `der` (concatenated DER) too, beside the anchors given to
    /// [`Trust::new`], replacing any earlier extra ones: an Ignition config's own
    /// `certificateAuthorities` (`sources::authorities`).
    pub fn extra(&mut self, der: &'a [u8]) {
        self.anchors = self.anchors.with_extra(der);
    }
}

impl Verify for Trust<'_> {
    fn chain(&mut self, certs: &[&[u8]], name: ServerName<'_>) -> Result<(), PkiError> {
        self.key = Some(pki::verify_server(certs, &self.anchors, name, self.now)?);
        Ok(())
    }

    fn signature(&mut self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), PkiError> {
        // No accepted chain, no key: the state machine never asks before `chain`, but a
        // signature without one must not pass.
        self.key.as_ref().ok_or(PkiError::UnknownIssuer)?.verify_tls13(scheme, message, signature)
    }
}

/// One TLS session at a time: https fetches run one after another.
pub struct Secure<'a> {
    pub client: &'a mut Client,
    pub trust: Trust<'a>,
    pub entropy: Entropy,
}

impl Secure<'_> {
    /// A new handshake to `name` on a fresh connection.
    pub fn start(&mut self, name: ServerName<'_>) {
        self.trust.key = None;
        let e = self.entropy.draw();
        self.client.start(name, &e);
    }
}
