//! The TLS 1.3 client state machine (RFC 8446): ClientHello, the server's flight, the client's
//! Finished, then application data both ways. Sans-IO: bytes from TCP go in through
//! [`Client::receive`], bytes to send come out of [`Client::outgoing`].
//!
//! All state is inline (about 37 KiB): one incoming record, the handshake message being
//! assembled, the bytes waiting to be sent. Decrypted application data stays in the record buffer
//! until the caller has consumed it, so `receive` reads no further record while some is pending.
//!
//! Choices, each within what the RFC allows:
//! - no PSK, no early data, no client certificate: a CertificateRequest is answered with an empty
//!   Certificate (§4.4.2.4 lets the server decide whether to go on);
//! - key shares for x25519 and secp256r1, and only those groups offered, so a HelloRetryRequest
//!   can only ask for a cookie; it is refused as [`TlsError::Unsupported`];
//! - TLS 1.2 ECDHE AES-GCM suites are listed after the 1.3 ones, only so that a 1.2-only server
//!   answers with a ServerHello that names its version (reported as [`TlsError::Version`])
//!   rather than a handshake_failure alert;
//! - NewSessionTicket is ignored; KeyUpdate is honoured (§4.6.3).

use p256::elliptic_curve::ops::Reduce;
use p256::elliptic_curve::sec1::ToEncodedPoint;
use subtle::ConstantTimeEq;

use super::keys::{self, Secret, Suite, TAG_LEN, TrafficKeys, Transcript};
use super::pki::{PkiError, ServerName};
use super::{TlsError, Verify};

/// The largest TLSCiphertext.length (§5.2): 2^14 + 256.
const MAX_CIPHERTEXT: usize = 16384 + 256;
/// The largest TLSInnerPlaintext: 2^14 of content plus its type byte (§5.4).
const MAX_INNER: usize = 16384 + 1;
/// Record buffer: header plus the largest ciphertext.
const REC_CAP: usize = 5 + MAX_CIPHERTEXT;
/// Handshake message buffer: a Certificate of a few RSA-4096 certificates fits (~6 KB each).
const HS_CAP: usize = 16384;
/// Outgoing buffer: the ClientHello (under 700 bytes), the client's second flight and one
/// application-data record of [`MAX_WRITE`] bytes.
const OUT_CAP: usize = 4096;
/// The most application data one `write` takes.
pub const MAX_WRITE: usize = 2048;
/// The most certificates passed to [`Verify::chain`].
const MAX_CERTS: usize = 8;

// Record content types (§5.1).
const CHANGE_CIPHER_SPEC: u8 = 20;
const ALERT: u8 = 21;
const HANDSHAKE: u8 = 22;
const APPLICATION_DATA: u8 = 23;

// Handshake types (§4).
const CLIENT_HELLO: u8 = 1;
const SERVER_HELLO: u8 = 2;
const NEW_SESSION_TICKET: u8 = 4;
const ENCRYPTED_EXTENSIONS: u8 = 8;
const CERTIFICATE: u8 = 11;
const CERTIFICATE_REQUEST: u8 = 13;
const CERTIFICATE_VERIFY: u8 = 15;
const FINISHED: u8 = 20;
const KEY_UPDATE: u8 = 24;

// Extensions (§4.2) and named groups (§4.2.7).
const EXT_SERVER_NAME: u16 = 0;
const EXT_SUPPORTED_GROUPS: u16 = 10;
const EXT_SIGNATURE_ALGORITHMS: u16 = 13;
const EXT_SUPPORTED_VERSIONS: u16 = 43;
const EXT_KEY_SHARE: u16 = 51;
const X25519: u16 = 0x001d;
const SECP256R1: u16 = 0x0017;
const TLS13: u16 = 0x0304;

/// Cipher suites offered, preferred first: the two TLS 1.3 suites flint implements, then the
/// TLS 1.2 ECDHE-ECDSA/RSA AES-GCM suites (see the module doc for why).
const CIPHER_SUITES: [u16; 6] = [0x1301, 0x1302, 0xc02b, 0xc02f, 0xc02c, 0xc030];
/// signature_algorithms (§4.2.3): ECDSA P-256/P-384, RSA-PSS with rsaEncryption keys, and
/// PKCS#1 v1.5, which TLS 1.3 allows for certificates only.
const SIGNATURE_SCHEMES: [u16; 8] = [0x0403, 0x0503, 0x0804, 0x0805, 0x0806, 0x0401, 0x0501, 0x0601];
/// The schemes a CertificateVerify may use: the list above without PKCS#1 v1.5 (§4.4.3).
const VERIFY_SCHEMES: [u16; 5] = [0x0403, 0x0503, 0x0804, 0x0805, 0x0806];

/// SHA-256("HelloRetryRequest"): the ServerHello.random that marks a HelloRetryRequest (§4.1.3).
pub(crate) const HRR_RANDOM: [u8; 32] = [
    0xcf, 0x21, 0xad, 0x74, 0xe5, 0x9a, 0x61, 0x11, 0xbe, 0x1d, 0x8c, 0x02, 0x1e, 0x65, 0xb8, 0x91, 0xc2, 0xa2, 0x11,
    0x16, 0x7a, 0xbb, 0x8c, 0x5e, 0x07, 0x9e, 0x09, 0xe2, 0xc8, 0xa8, 0x33, 0x9c,
];
/// The first 7 bytes of the downgrade sentinels in ServerHello.random's last 8 (§4.1.3).
const DOWNGRADE: [u8; 7] = *b"DOWNGRD";

// Alert descriptions (§6) flint reads.
const CLOSE_NOTIFY: u8 = 0;
const USER_CANCELED: u8 = 90;
const PROTOCOL_VERSION: u8 = 70;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// `start` not called yet.
    Idle,
    ServerHello,
    EncryptedExtensions,
    /// Certificate or CertificateRequest.
    CertificateOrRequest,
    Certificate,
    CertificateVerify,
    Finished,
    Established,
}

/// The name given to `start`, owned.
#[derive(Clone, Copy)]
enum Name {
    Dns(u8),
    V4([u8; 4]),
    V6([u8; 16]),
}

/// `Option<TlsError>` laid out so that "none" is all zero bytes: an `Option` would put its
/// `None` in the enum's spare tag values, and one non-zero byte moves the whole client (38 KB)
/// from `.bss` into the file (measured: the binary grew by exactly that; `cargo xtask build`
/// refuses a binary whose `.data` holds more than a few small statics).
#[derive(Clone, Copy)]
struct Fault {
    set: bool,
    error: TlsError,
}

impl Fault {
    /// `error` is the first variant with a zero payload: zero bytes.
    const NONE: Fault = Fault { set: false, error: TlsError::Certificate(crate::tls::pki::PkiError::Malformed) };
}

/// A TLS 1.3 client connection, all state inline; `new` is const so it can live in a static.
pub struct Client {
    rec: [u8; REC_CAP],
    rec_len: usize,
    /// Decrypted application data not yet consumed: `rec[plain.0..plain.1]`.
    plain: (usize, usize),
    hs: [u8; HS_CAP],
    hs_len: usize,
    c: Conn,
}

/// Everything but the two large input buffers, so handshake messages can be read out of
/// `Client::hs` while this is updated.
struct Conn {
    state: State,
    /// The error every later call returns, once one happened (see [`Fault`]).
    failed: Fault,
    closed: bool,
    suite: Suite,
    name: Name,
    name_buf: [u8; 253],
    session_id: [u8; 32],
    p256_key: [u8; 32],
    x25519_key: [u8; 32],
    transcript: Option<Transcript>,
    handshake_secret: Secret,
    client_hs: Secret,
    server_hs: Secret,
    read: TrafficKeys,
    write: TrafficKeys,
    /// A CertificateRequest arrived: its certificate_request_context, echoed in our Certificate.
    cert_request: Option<([u8; 255], u8)>,
    out: [u8; OUT_CAP],
    out_len: usize,
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl Client {
    /// An idle client; [`start`](Client::start) begins a connection.
    pub const fn new() -> Client {
        Client {
            rec: [0; REC_CAP],
            rec_len: 0,
            plain: (0, 0),
            hs: [0; HS_CAP],
            hs_len: 0,
            c: Conn {
                state: State::Idle,
                failed: Fault::NONE,
                closed: false,
                suite: Suite::Aes128Sha256,
                name: Name::Dns(0),
                name_buf: [0; 253],
                session_id: [0; 32],
                p256_key: [0; 32],
                x25519_key: [0; 32],
                transcript: None,
                handshake_secret: Secret::EMPTY,
                client_hs: Secret::EMPTY,
                server_hs: Secret::EMPTY,
                read: TrafficKeys::NONE,
                write: TrafficKeys::NONE,
                cert_request: None,
                out: [0; OUT_CAP],
                out_len: 0,
            },
        }
    }

    /// Reset everything and queue a ClientHello for `name` (a DNS name longer than 253 bytes is
    /// cut, and then fails the certificate check). `entropy` must be fresh from the kernel's
    /// CSPRNG: the random, the legacy session id and both private keys are derived from it.
    pub fn start(&mut self, name: ServerName<'_>, entropy: &[u8; 64]) {
        self.rec_len = 0;
        self.plain = (0, 0);
        self.hs_len = 0;
        let c = &mut self.c;
        c.state = State::ServerHello;
        c.failed = Fault::NONE;
        c.closed = false;
        c.suite = Suite::Aes128Sha256;
        c.name = match name {
            ServerName::Dns(n) => {
                let n = &n[..n.len().min(253)];
                c.name_buf[..n.len()].copy_from_slice(n);
                Name::Dns(n.len() as u8)
            }
            ServerName::V4(a) => Name::V4(a),
            ServerName::V6(a) => Name::V6(a),
        };
        // Independent values from one draw: HMAC-SHA256 keyed with the entropy, one label each.
        let derive = |label: &[u8]| {
            let mut v = [0; 32];
            v.copy_from_slice(keys::hmac(Suite::Aes128Sha256, entropy, &[label]).as_bytes());
            v
        };
        let random = derive(b"flint tls random");
        c.session_id = derive(b"flint tls session id");
        c.p256_key = derive(b"flint tls p256");
        c.x25519_key = derive(b"flint tls x25519");
        c.transcript = Some(Transcript::new());
        c.handshake_secret = Secret::EMPTY;
        c.client_hs = Secret::EMPTY;
        c.server_hs = Secret::EMPTY;
        c.read = TrafficKeys::NONE;
        c.write = TrafficKeys::NONE;
        c.cert_request = None;
        c.out_len = 0;
        c.client_hello(&random);
    }

    /// Bytes to send now.
    pub fn outgoing(&self) -> &[u8] {
        &self.c.out[..self.c.out_len]
    }

    /// `n` bytes of [`outgoing`](Client::outgoing) were sent.
    pub fn sent(&mut self, n: usize) {
        let n = n.min(self.c.out_len);
        self.c.out.copy_within(n..self.c.out_len, 0);
        self.c.out_len -= n;
    }

    /// Take bytes received from TCP; returns how many were consumed. Fewer than `input.len()` are
    /// taken while decrypted application data waits in [`plaintext`](Client::plaintext), or after
    /// close_notify. Errors are final: every later call returns the same one, and
    /// [`outgoing`](Client::outgoing) then holds the fatal alert that names the reason (§6.2).
    pub fn receive(&mut self, input: &[u8], verify: &mut dyn Verify) -> Result<usize, TlsError> {
        if self.c.failed.set {
            return Err(self.c.failed.error);
        }
        if self.c.state == State::Idle {
            return Err(TlsError::NotReady);
        }
        let mut used = 0;
        let result = loop {
            if self.plain.0 < self.plain.1 || self.c.closed {
                break Ok(used);
            }
            let want = if self.rec_len < 5 {
                5
            } else {
                let len = usize::from(u16::from_be_bytes([self.rec[3], self.rec[4]]));
                if len > MAX_CIPHERTEXT {
                    break Err(TlsError::TooLarge);
                }
                5 + len
            };
            let n = (want - self.rec_len).min(input.len() - used);
            self.rec[self.rec_len..self.rec_len + n].copy_from_slice(&input[used..used + n]);
            self.rec_len += n;
            used += n;
            if self.rec_len < want {
                break Ok(used);
            }
            if (want > 5 || self.rec[3..5] == [0, 0])
                && let Err(e) = self.record(verify)
            {
                break Err(e);
            }
        };
        if let Err(e) = result {
            self.c.failed = Fault { set: true, error: e };
            self.c.alert(e);
        }
        result
    }

    /// Decrypted application data not yet consumed.
    pub fn plaintext(&self) -> &[u8] {
        &self.rec[self.plain.0..self.plain.1]
    }

    /// `n` bytes of [`plaintext`](Client::plaintext) were used.
    pub fn consume(&mut self, n: usize) {
        if self.plain.1 == 0 {
            return;
        }
        self.plain.0 = (self.plain.0 + n).min(self.plain.1);
        if self.plain.0 == self.plain.1 {
            // The record is used up: the buffer takes the next one.
            self.plain = (0, 0);
            self.rec_len = 0;
        }
    }

    /// The handshake is done: the client Finished is queued and application data can flow.
    pub fn is_established(&self) -> bool {
        self.c.state == State::Established && !self.c.failed.set
    }

    /// Encrypt application data (at most [`MAX_WRITE`] bytes) into the outgoing bytes.
    pub fn write(&mut self, data: &[u8]) -> Result<(), TlsError> {
        if !self.is_established() || self.c.closed {
            return Err(TlsError::NotReady);
        }
        if data.len() > MAX_WRITE {
            return Err(TlsError::TooLarge);
        }
        self.c.seal(APPLICATION_DATA, data)
    }

    /// The server sent close_notify: no more data will come.
    pub fn is_closed(&self) -> bool {
        self.c.closed
    }

    /// One complete record is in `rec`: open it and act on its content.
    fn record(&mut self, verify: &mut dyn Verify) -> Result<(), TlsError> {
        let len = self.rec_len - 5;
        let mut typ = self.rec[0];
        let mut end = self.rec_len;
        let before_finished = !matches!(self.c.state, State::Established);
        if typ == CHANGE_CIPHER_SPEC {
            // §5: a single 0x01 between the ClientHello and the server Finished is ignored
            // (middlebox compatibility); anything else is unexpected_message.
            if !before_finished || len != 1 || self.rec[5] != 1 {
                return Err(TlsError::Protocol);
            }
            self.rec_len = 0;
            return Ok(());
        }
        if self.c.read.is_set() {
            // Once keys are in place, every record is protected (§5.2).
            if typ != APPLICATION_DATA || len < TAG_LEN + 1 {
                return Err(TlsError::Protocol);
            }
            let header: [u8; 5] = [self.rec[0], self.rec[1], self.rec[2], self.rec[3], self.rec[4]];
            let tag_at = self.rec_len - TAG_LEN;
            let mut tag = [0; TAG_LEN];
            tag.copy_from_slice(&self.rec[tag_at..self.rec_len]);
            self.c.read.open(&header, &mut self.rec[5..tag_at], &tag)?;
            // TLSInnerPlaintext: content, the real type, then zero padding (§5.4).
            end = tag_at;
            while end > 5 && self.rec[end - 1] == 0 {
                end -= 1;
            }
            if end == 5 {
                return Err(TlsError::Protocol);
            }
            end -= 1;
            typ = self.rec[end];
            if end - 5 + 1 > MAX_INNER {
                return Err(TlsError::TooLarge);
            }
        } else if typ == APPLICATION_DATA {
            return Err(TlsError::Protocol);
        }
        let body = 5..end;
        match typ {
            ALERT => {
                self.rec_len = 0;
                if body.len() != 2 {
                    return Err(TlsError::Protocol);
                }
                match self.rec[6] {
                    CLOSE_NOTIFY => self.c.closed = true,
                    USER_CANCELED => {}
                    PROTOCOL_VERSION if self.c.state == State::ServerHello => return Err(TlsError::Version),
                    code => return Err(TlsError::Alert(code)),
                }
                Ok(())
            }
            HANDSHAKE => {
                // Handshake messages may span and share records (§5.1); gather them here, as
                // much as fits at a time, so only a single message over HS_CAP is too large.
                if body.is_empty() {
                    return Err(TlsError::Protocol);
                }
                let mut from = body.start;
                while from < end {
                    let n = (end - from).min(HS_CAP - self.hs_len);
                    if n == 0 {
                        return Err(TlsError::TooLarge);
                    }
                    self.hs[self.hs_len..self.hs_len + n].copy_from_slice(&self.rec[from..from + n]);
                    self.hs_len += n;
                    from += n;
                    // A key change must fall on a record boundary (§5.1).
                    if self.handshake(verify)? && from < end {
                        return Err(TlsError::Protocol);
                    }
                }
                self.rec_len = 0;
                Ok(())
            }
            APPLICATION_DATA if self.c.state == State::Established => {
                if body.is_empty() {
                    self.rec_len = 0;
                } else {
                    self.plain = (5, end);
                }
                Ok(())
            }
            _ => Err(TlsError::Protocol),
        }
    }

    /// Act on every complete handshake message gathered so far; returns whether the last one
    /// changed the read keys.
    fn handshake(&mut self, verify: &mut dyn Verify) -> Result<bool, TlsError> {
        let mut at = 0;
        let mut keys_changed = false;
        while self.hs_len - at >= 4 {
            let m = &self.hs[at..self.hs_len];
            let len = (usize::from(m[1]) << 16) | (usize::from(m[2]) << 8) | usize::from(m[3]);
            if 4 + len > HS_CAP {
                return Err(TlsError::TooLarge);
            }
            if m.len() < 4 + len {
                break;
            }
            keys_changed = self.c.message(&m[..4 + len], verify)?;
            at += 4 + len;
            if keys_changed && at != self.hs_len {
                return Err(TlsError::Protocol);
            }
        }
        self.hs.copy_within(at..self.hs_len, 0);
        self.hs_len -= at;
        Ok(keys_changed)
    }
}

/// Bounds-checked reading of TLS's length-prefixed structures (§3); any overrun is decode_error.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], TlsError> {
        if n > self.0.len() {
            return Err(TlsError::Protocol);
        }
        let (head, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(head)
    }

    fn uint(&mut self, bytes: usize) -> Result<usize, TlsError> {
        Ok(self.take(bytes)?.iter().fold(0, |v, &b| (v << 8) | usize::from(b)))
    }

    fn u16(&mut self) -> Result<u16, TlsError> {
        self.uint(2).map(|v| v as u16)
    }

    /// A vector with a `bytes`-byte length prefix.
    fn vec(&mut self, bytes: usize) -> Result<&'a [u8], TlsError> {
        let n = self.uint(bytes)?;
        self.take(n)
    }

    fn end(&self) -> Result<(), TlsError> {
        if self.0.is_empty() { Ok(()) } else { Err(TlsError::Protocol) }
    }
}

/// Appending to the outgoing buffer, with length prefixes filled in afterwards.
struct Writer<'a> {
    buf: &'a mut [u8],
    at: usize,
}

impl Writer<'_> {
    fn bytes(&mut self, b: &[u8]) {
        self.buf[self.at..self.at + b.len()].copy_from_slice(b);
        self.at += b.len();
    }

    fn u16(&mut self, v: u16) {
        self.bytes(&v.to_be_bytes());
    }

    /// Reserve a `bytes`-byte length prefix; [`close`](Writer::close) fills it in.
    fn open(&mut self, bytes: usize) -> usize {
        self.at += bytes;
        self.at
    }

    fn close(&mut self, start: usize, bytes: usize) {
        let len = self.at - start;
        for i in 0..bytes {
            self.buf[start - 1 - i] = (len >> (8 * i)) as u8;
        }
    }
}

impl Conn {
    fn name(&self) -> ServerName<'_> {
        match self.name {
            Name::Dns(n) => ServerName::Dns(&self.name_buf[..usize::from(n)]),
            Name::V4(a) => ServerName::V4(a),
            Name::V6(a) => ServerName::V6(a),
        }
    }

    fn p256_scalar(&self) -> Option<p256::NonZeroScalar> {
        // A uniformly random 256-bit string reduced mod n: bias under 2^-128 (FIPS 186-5 A.2.1's
        // "extra bits" method would need 64 more bits for no practical gain).
        let s = <p256::Scalar as Reduce<p256::U256>>::reduce_bytes(&self.p256_key.into());
        p256::NonZeroScalar::new(s).into()
    }

    fn transcript_hash(&self) -> Secret {
        self.transcript.as_ref().map(|t| t.hash(self.suite)).unwrap_or(Secret::EMPTY)
    }

    fn add_to_transcript(&mut self, message: &[u8]) {
        if let Some(t) = self.transcript.as_mut() {
            t.update(message);
        }
    }

    /// Queue the ClientHello (§4.1.2) in a plaintext handshake record.
    fn client_hello(&mut self, random: &[u8; 32]) {
        let x25519_public = x25519_dalek::x25519(self.x25519_key, x25519_dalek::X25519_BASEPOINT_BYTES);
        let p256_public = self.p256_scalar().map(|s| p256::PublicKey::from_secret_scalar(&s).to_encoded_point(false));
        let name = self.name;
        let name_len = match name {
            Name::Dns(n) => usize::from(n),
            _ => 0,
        };
        let mut w = Writer { buf: &mut self.out, at: 0 };
        // legacy_record_version 0x0301 for the first ClientHello, as §5.1 allows and old
        // middleboxes expect.
        w.bytes(&[HANDSHAKE, 3, 1]);
        let record = w.open(2);
        w.bytes(&[CLIENT_HELLO]);
        let hello = w.open(3);
        w.bytes(&[3, 3]);
        w.bytes(random);
        // A non-empty legacy_session_id puts the handshake in middlebox compatibility mode (§D.4).
        w.bytes(&[32]);
        w.bytes(&self.session_id);
        let suites = w.open(2);
        for s in CIPHER_SUITES {
            w.u16(s);
        }
        w.close(suites, 2);
        w.bytes(&[1, 0]);
        let exts = w.open(2);
        if name_len > 0 {
            // RFC 6066 §3: one host_name entry; never an IP literal.
            w.u16(EXT_SERVER_NAME);
            let ext = w.open(2);
            let list = w.open(2);
            w.bytes(&[0]);
            w.u16(name_len as u16);
            w.bytes(&self.name_buf[..name_len]);
            w.close(list, 2);
            w.close(ext, 2);
        }
        w.u16(EXT_SUPPORTED_VERSIONS);
        w.bytes(&[0, 3, 2]);
        w.u16(TLS13);
        w.u16(EXT_SUPPORTED_GROUPS);
        let ext = w.open(2);
        let list = w.open(2);
        w.u16(X25519);
        if p256_public.is_some() {
            w.u16(SECP256R1);
        }
        w.close(list, 2);
        w.close(ext, 2);
        w.u16(EXT_SIGNATURE_ALGORITHMS);
        let ext = w.open(2);
        let list = w.open(2);
        for s in SIGNATURE_SCHEMES {
            w.u16(s);
        }
        w.close(list, 2);
        w.close(ext, 2);
        w.u16(EXT_KEY_SHARE);
        let ext = w.open(2);
        let list = w.open(2);
        w.u16(X25519);
        w.u16(32);
        w.bytes(&x25519_public);
        if let Some(p) = &p256_public {
            w.u16(SECP256R1);
            w.u16(65);
            w.bytes(p.as_bytes());
        }
        w.close(list, 2);
        w.close(ext, 2);
        w.close(exts, 2);
        w.close(hello, 3);
        w.close(record, 2);
        let end = w.at;
        self.out_len = end;
        if let Some(t) = self.transcript.as_mut() {
            t.update(&self.out[5..end]);
        }
    }

    /// Queue the fatal alert that tells the server why flint gives up (§6.2), protected once
    /// keys are in place. The caller may send it before closing; nothing depends on it.
    fn alert(&mut self, e: TlsError) {
        let code = match e {
            TlsError::Certificate(PkiError::Expired | PkiError::NotYetValid) => 45, // certificate_expired
            TlsError::Certificate(PkiError::UnknownIssuer) => 48,                   // unknown_ca
            TlsError::Certificate(PkiError::BadSignature) => 51,                    // decrypt_error
            TlsError::Certificate(_) => 42,                                         // bad_certificate
            TlsError::Version => PROTOCOL_VERSION,
            TlsError::Downgrade | TlsError::Unsupported => 47, // illegal_parameter
            TlsError::Protocol => 50,                          // decode_error
            TlsError::Decrypt => 20,                           // bad_record_mac
            TlsError::TooLarge => 22,                          // record_overflow
            TlsError::Alert(_) | TlsError::NotReady => return,
        };
        if self.write.is_set() {
            let _ = self.seal(ALERT, &[2, code]);
        } else if self.out_len + 7 <= OUT_CAP {
            self.out[self.out_len..self.out_len + 7].copy_from_slice(&[ALERT, 3, 3, 0, 2, 2, code]);
            self.out_len += 7;
        }
    }

    /// Protect `data` as one record of inner type `typ` and queue it (§5.2).
    fn seal(&mut self, typ: u8, data: &[u8]) -> Result<(), TlsError> {
        let total = 5 + data.len() + 1 + TAG_LEN;
        if self.out_len + total > OUT_CAP {
            return Err(TlsError::TooLarge);
        }
        let rec = &mut self.out[self.out_len..self.out_len + total];
        let len = (total - 5) as u16;
        let header = [APPLICATION_DATA, 3, 3, (len >> 8) as u8, len as u8];
        rec[..5].copy_from_slice(&header);
        rec[5..5 + data.len()].copy_from_slice(data);
        rec[5 + data.len()] = typ;
        let tag = self.write.seal(&header, &mut rec[5..total - TAG_LEN]);
        rec[total - TAG_LEN..].copy_from_slice(&tag);
        self.out_len += total;
        Ok(())
    }

    /// Act on one handshake message (header included). Returns whether the read keys changed
    /// after it, so the caller can check the record boundary.
    fn message(&mut self, m: &[u8], verify: &mut dyn Verify) -> Result<bool, TlsError> {
        let typ = m[0];
        let body = &m[4..];
        match (self.state, typ) {
            (State::ServerHello, SERVER_HELLO) => {
                self.server_hello(m)?;
                self.state = State::EncryptedExtensions;
                Ok(true)
            }
            (State::EncryptedExtensions, ENCRYPTED_EXTENSIONS) => {
                let mut r = Reader(body);
                extensions(r.vec(2)?)?;
                r.end()?;
                self.add_to_transcript(m);
                self.state = State::CertificateOrRequest;
                Ok(false)
            }
            (State::CertificateOrRequest, CERTIFICATE_REQUEST) => {
                // struct { opaque certificate_request_context<0..2^8-1>; Extension extensions<2..2^16-1>; }
                let mut r = Reader(body);
                let context = r.vec(1)?;
                extensions(r.vec(2)?)?;
                r.end()?;
                let mut ctx = [0; 255];
                ctx[..context.len()].copy_from_slice(context);
                self.cert_request = Some((ctx, context.len() as u8));
                self.add_to_transcript(m);
                self.state = State::Certificate;
                Ok(false)
            }
            (State::CertificateOrRequest | State::Certificate, CERTIFICATE) => {
                self.certificate(body, verify)?;
                self.add_to_transcript(m);
                self.state = State::CertificateVerify;
                Ok(false)
            }
            (State::CertificateVerify, CERTIFICATE_VERIFY) => {
                // §4.4.3: 64 spaces, the context string, 0, then Transcript-Hash(CH..Certificate).
                let mut r = Reader(body);
                let scheme = r.u16()?;
                let signature = r.vec(2)?;
                r.end()?;
                if !VERIFY_SCHEMES.contains(&scheme) {
                    return Err(TlsError::Unsupported);
                }
                let hash = self.transcript_hash();
                let mut content = [0x20; 64 + 34 + keys::MAX_HASH];
                content[64..64 + 33].copy_from_slice(b"TLS 1.3, server CertificateVerify");
                content[97] = 0;
                let n = hash.as_bytes().len();
                content[98..98 + n].copy_from_slice(hash.as_bytes());
                verify.signature(scheme, &content[..98 + n], signature).map_err(TlsError::Certificate)?;
                self.add_to_transcript(m);
                self.state = State::Finished;
                Ok(false)
            }
            (State::Finished, FINISHED) => {
                self.server_finished(body)?;
                self.add_to_transcript(m);
                self.client_flight()?;
                self.state = State::Established;
                Ok(true)
            }
            (State::Established, NEW_SESSION_TICKET) => Ok(false),
            (State::Established, KEY_UPDATE) => {
                // §4.6.3: the peer's next records use the next secret; if it asks, answer with
                // our own update_not_requested under the current keys, then switch.
                if body.len() != 1 || body[0] > 1 {
                    return Err(TlsError::Protocol);
                }
                self.read = self.read.next();
                if body[0] == 1 {
                    self.seal(HANDSHAKE, &[KEY_UPDATE, 0, 0, 1, 0])?;
                    self.write = self.write.next();
                }
                Ok(true)
            }
            _ => Err(TlsError::Protocol),
        }
    }

    fn server_hello(&mut self, m: &[u8]) -> Result<(), TlsError> {
        let mut r = Reader(&m[4..]);
        let version = r.u16()?;
        let random = r.take(32)?;
        if random == HRR_RANDOM {
            // A HelloRetryRequest (§4.1.4). flint sends a share for every group it offers, so a
            // well-behaved server sends one only to ask for a cookie round trip.
            return Err(TlsError::Unsupported);
        }
        let session_id = r.vec(1)?;
        let suite = r.u16()?;
        let compression = r.take(1)?[0];
        // A TLS 1.2-or-older ServerHello may have no extensions at all (RFC 5246 §7.4.1.3).
        let exts = if r.0.is_empty() { &[][..] } else { r.vec(2)? };
        r.end()?;

        let mut negotiated = None;
        let mut share = None;
        let mut seen = 0u8;
        let mut e = Reader(exts);
        while !e.0.is_empty() {
            let typ = e.u16()?;
            let mut data = Reader(e.vec(2)?);
            let bit = match typ {
                EXT_SUPPORTED_VERSIONS => {
                    negotiated = Some(data.u16()?);
                    data.end()?;
                    1
                }
                EXT_KEY_SHARE => {
                    let group = data.u16()?;
                    share = Some((group, data.vec(2)?));
                    data.end()?;
                    2
                }
                // We offered nothing else a ServerHello may carry (§4.2: unsupported_extension);
                // a 1.2 server's own extensions are judged below, by version first.
                _ => 4,
            };
            if seen & bit != 0 && bit != 4 {
                return Err(TlsError::Protocol);
            }
            seen |= bit;
        }
        if negotiated != Some(TLS13) {
            // §4.1.3: a TLS 1.3 server that negotiates 1.2 or below marks its random; seeing the
            // mark here means the ClientHello was tampered with on the way.
            if negotiated.is_none() && random[24..31] == DOWNGRADE && random[31] <= 1 {
                return Err(TlsError::Downgrade);
            }
            return Err(TlsError::Version);
        }
        if version != 0x0303 || compression != 0 || seen & 4 != 0 || session_id != self.session_id {
            return Err(TlsError::Protocol);
        }
        self.suite = Suite::from_id(suite).ok_or(TlsError::Unsupported)?;
        let (group, public) = share.ok_or(TlsError::Protocol)?;

        let mut shared = [0u8; 32];
        match group {
            X25519 => {
                let peer: [u8; 32] = public.try_into().map_err(|_| TlsError::Protocol)?;
                shared = x25519_dalek::x25519(self.x25519_key, peer);
                // §7.4.2: an all-zero result means a small-order point; abort.
                if shared.iter().fold(0, |a, b| a | b) == 0 {
                    return Err(TlsError::Protocol);
                }
            }
            SECP256R1 => {
                // §4.2.8.2: the uncompressed form only; from_sec1_bytes checks the point is on
                // the curve.
                if public.len() != 65 || public[0] != 4 {
                    return Err(TlsError::Protocol);
                }
                let peer = p256::PublicKey::from_sec1_bytes(public).map_err(|_| TlsError::Protocol)?;
                let scalar = self.p256_scalar().ok_or(TlsError::Unsupported)?;
                shared.copy_from_slice(p256::ecdh::diffie_hellman(scalar, peer.as_affine()).raw_secret_bytes());
            }
            _ => return Err(TlsError::Unsupported),
        }
        self.x25519_key = [0; 32];
        self.p256_key = [0; 32];

        self.add_to_transcript(m);
        let suite = self.suite;
        let hash = self.transcript_hash();
        self.handshake_secret = keys::handshake_secret(suite, &shared);
        self.client_hs = keys::derive_secret(suite, &self.handshake_secret, b"c hs traffic", &hash);
        self.server_hs = keys::derive_secret(suite, &self.handshake_secret, b"s hs traffic", &hash);
        self.read = TrafficKeys::new(suite, &self.server_hs);
        self.write = TrafficKeys::new(suite, &self.client_hs);
        Ok(())
    }

    fn certificate(&mut self, body: &[u8], verify: &mut dyn Verify) -> Result<(), TlsError> {
        // struct { opaque certificate_request_context<0..2^8-1>;
        //          CertificateEntry certificate_list<0..2^24-1>; } (§4.4.2)
        let mut r = Reader(body);
        if !r.vec(1)?.is_empty() {
            return Err(TlsError::Protocol);
        }
        let mut list = Reader(r.vec(3)?);
        r.end()?;
        let mut certs: [&[u8]; MAX_CERTS] = [&[]; MAX_CERTS];
        let mut n = 0;
        while !list.0.is_empty() {
            let der = list.vec(3)?;
            list.vec(2)?; // per-certificate extensions: flint asked for none (OCSP, SCT)
            if der.is_empty() {
                return Err(TlsError::Protocol);
            }
            if n == MAX_CERTS {
                return Err(TlsError::Certificate(PkiError::ChainTooLong));
            }
            certs[n] = der;
            n += 1;
        }
        // §4.4.2.4: an empty Certificate from the server is decode_error.
        if n == 0 {
            return Err(TlsError::Protocol);
        }
        verify.chain(&certs[..n], self.name()).map_err(TlsError::Certificate)
    }

    fn server_finished(&mut self, body: &[u8]) -> Result<(), TlsError> {
        let expected = keys::finished_mac(self.suite, &self.server_hs, &self.transcript_hash());
        let ok = body.len() == expected.as_bytes().len() && bool::from(body.ct_eq(expected.as_bytes()));
        if ok { Ok(()) } else { Err(TlsError::Decrypt) }
    }

    /// After the server Finished: switch to application keys for reading, and queue the dummy
    /// ChangeCipherSpec (§D.4), an empty Certificate if one was asked for, and our Finished.
    fn client_flight(&mut self) -> Result<(), TlsError> {
        let suite = self.suite;
        let hash = self.transcript_hash();
        let master = keys::master_secret(suite, &self.handshake_secret);
        let client_ap = keys::derive_secret(suite, &master, b"c ap traffic", &hash);
        let server_ap = keys::derive_secret(suite, &master, b"s ap traffic", &hash);
        self.read = TrafficKeys::new(suite, &server_ap);

        if self.out_len + 6 > OUT_CAP {
            return Err(TlsError::TooLarge);
        }
        self.out[self.out_len..self.out_len + 6].copy_from_slice(&[CHANGE_CIPHER_SPEC, 3, 3, 0, 1, 1]);
        self.out_len += 6;
        if let Some((ctx, len)) = self.cert_request {
            // Certificate { context, certificate_list = <> } (§4.4.2): no client certificate.
            let len = usize::from(len);
            let mut msg = [0u8; 4 + 1 + 255 + 3];
            msg[0] = CERTIFICATE;
            msg[3] = (1 + len + 3) as u8;
            msg[2] = ((1 + len + 3) >> 8) as u8;
            msg[4] = len as u8;
            msg[5..5 + len].copy_from_slice(&ctx[..len]);
            let msg = &msg[..4 + 1 + len + 3];
            self.add_to_transcript(msg);
            self.seal(HANDSHAKE, msg)?;
        }
        let verify_data = keys::finished_mac(suite, &self.client_hs, &self.transcript_hash());
        let n = verify_data.as_bytes().len();
        let mut msg = [0u8; 4 + keys::MAX_HASH];
        msg[0] = FINISHED;
        msg[3] = n as u8;
        msg[4..4 + n].copy_from_slice(verify_data.as_bytes());
        self.seal(HANDSHAKE, &msg[..4 + n])?;
        self.write = TrafficKeys::new(suite, &client_ap);
        // Nothing later needs the transcript or the handshake secrets.
        self.handshake_secret = Secret::EMPTY;
        self.client_hs = Secret::EMPTY;
        self.server_hs = Secret::EMPTY;
        Ok(())
    }
}

/// Check an extension list's framing (§4.2); flint acts on none of EncryptedExtensions' or
/// CertificateRequest's entries.
fn extensions(list: &[u8]) -> Result<(), TlsError> {
    let mut r = Reader(list);
    while !r.0.is_empty() {
        r.u16()?;
        r.vec(2)?;
    }
    Ok(())
}
