//! The client against a real TLS 1.3 server (rustls with its ring provider), in memory, with
//! certificates made by rcgen; plus scripted servers for what rustls will not do.

use std::io::{Read, Write};
use std::sync::Arc;

use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use rustls::{ServerConfig, ServerConnection};

use super::keys::TrafficKeys;
use super::pki::{PkiError, ServerName};
use super::{Client, TlsError, Verify};

const HOST: &[u8] = b"metadata.example.test";

struct Pki {
    ca: CertificateDer<'static>,
    leaf: CertificateDer<'static>,
    leaf_key: PrivateKeyDer<'static>,
    /// The leaf's public key as an uncompressed P-256 point.
    leaf_public: Vec<u8>,
}

fn make_pki() -> Pki {
    let ca_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let mut ca_params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca = rcgen::CertifiedIssuer::self_signed(ca_params, ca_key).unwrap();
    let leaf_key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
    let params = rcgen::CertificateParams::new(vec![String::from_utf8(HOST.to_vec()).unwrap()]).unwrap();
    let leaf = params.signed_by(&leaf_key, &ca).unwrap();
    Pki {
        ca: ca.der().clone(),
        leaf: leaf.der().clone(),
        leaf_public: leaf_key.public_key_raw().to_vec(),
        leaf_key: PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der())),
    }
}

/// Checks what the lead's pki glue will check, with independent code: the chain's leaf is the
/// one issued, and the CertificateVerify signature verifies under its key with ring.
struct TestVerify {
    leaf: Vec<u8>,
    leaf_public: Vec<u8>,
    chains: usize,
    signatures: usize,
    refuse_chain: Option<PkiError>,
}

impl TestVerify {
    fn new(pki: &Pki) -> TestVerify {
        TestVerify {
            leaf: pki.leaf.to_vec(),
            leaf_public: pki.leaf_public.clone(),
            chains: 0,
            signatures: 0,
            refuse_chain: None,
        }
    }
}

impl Verify for TestVerify {
    fn chain(&mut self, certs: &[&[u8]], name: ServerName<'_>) -> Result<(), PkiError> {
        self.chains += 1;
        assert_eq!(name, ServerName::Dns(HOST));
        if let Some(e) = self.refuse_chain {
            return Err(e);
        }
        if certs.len() != 2 || certs[0] != self.leaf.as_slice() {
            return Err(PkiError::UnknownIssuer);
        }
        Ok(())
    }

    fn signature(&mut self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), PkiError> {
        self.signatures += 1;
        assert_eq!(scheme, 0x0403, "an ECDSA P-256 key signs with ecdsa_secp256r1_sha256");
        let key = ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_ASN1, &self.leaf_public);
        key.verify(message, signature).map_err(|_| PkiError::BadSignature)
    }
}

fn provider(tweak: impl FnOnce(&mut CryptoProvider)) -> Arc<CryptoProvider> {
    let mut p = rustls::crypto::ring::default_provider();
    tweak(&mut p);
    Arc::new(p)
}

fn server_config(pki: &Pki, provider: Arc<CryptoProvider>, tls12_only: bool) -> ServerConfig {
    let versions: &[&rustls::SupportedProtocolVersion] =
        if tls12_only { &[&rustls::version::TLS12] } else { &[&rustls::version::TLS13] };
    ServerConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![pki.leaf.clone(), pki.ca.clone()], pki.leaf_key.clone_key())
        .unwrap()
}

/// Moves bytes both ways until neither side has anything to say. The server's bytes reach the
/// client `step` bytes at a time; decrypted data is collected into `got`.
fn pump(
    client: &mut Client,
    server: &mut ServerConnection,
    verify: &mut TestVerify,
    step: usize,
    got: &mut Vec<u8>,
) -> Result<(), TlsError> {
    for _ in 0..100 {
        let mut progress = false;
        while !client.outgoing().is_empty() {
            let out = client.outgoing().to_vec();
            let n = server.read_tls(&mut &out[..]).unwrap();
            client.sent(n);
            // A server that refuses the client queues an alert; the client must read it.
            if server.process_new_packets().is_err() {
                assert!(server.wants_write(), "the server explains its refusal");
            }
            progress = true;
        }
        let mut wire = Vec::new();
        while server.wants_write() {
            server.write_tls(&mut wire).unwrap();
        }
        let mut at = 0;
        while at < wire.len() {
            let end = at.saturating_add(step).min(wire.len());
            let n = client.receive(&wire[at..end], verify)?;
            at += n;
            got.extend_from_slice(client.plaintext());
            let pending = client.plaintext().len();
            client.consume(pending);
            if n == 0 && pending == 0 {
                assert!(client.is_closed(), "the client stalled on input it should take");
                break;
            }
            progress = true;
        }
        if !progress {
            return Ok(());
        }
    }
    panic!("no quiescence after 100 rounds");
}

fn connect(
    config: ServerConfig,
    pki: &Pki,
    step: usize,
) -> (Client, ServerConnection, TestVerify, Result<(), TlsError>) {
    let mut server = ServerConnection::new(Arc::new(config)).unwrap();
    let mut client = Box::new(Client::new());
    let mut verify = TestVerify::new(pki);
    let mut entropy = [0u8; 64];
    ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut entropy).unwrap();
    client.start(ServerName::Dns(HOST), &entropy);
    let mut got = Vec::new();
    let result = pump(&mut client, &mut server, &mut verify, step, &mut got);
    assert!(got.is_empty());
    (*client, server, verify, result)
}

/// A whole session: handshake, a request, a response, close_notify.
fn session(pki: &Pki, config: ServerConfig, step: usize) -> rustls::SupportedCipherSuite {
    let (mut client, mut server, mut verify, result) = connect(config, pki, step);
    result.unwrap();
    assert!(client.is_established());
    assert!(!server.is_handshaking());
    assert_eq!((verify.chains, verify.signatures), (1, 1));

    client.write(b"GET /user-data HTTP/1.1\r\n\r\n").unwrap();
    let mut got = Vec::new();
    pump(&mut client, &mut server, &mut verify, step, &mut got).unwrap();
    let mut request = [0u8; 64];
    let n = server.reader().read(&mut request).unwrap();
    assert_eq!(&request[..n], b"GET /user-data HTTP/1.1\r\n\r\n");

    let body: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    server.writer().write_all(&body).unwrap();
    server.send_close_notify();
    pump(&mut client, &mut server, &mut verify, step, &mut got).unwrap();
    assert_eq!(got, body);
    assert!(client.is_closed());
    assert_eq!(client.write(b"x"), Err(TlsError::NotReady));
    server.negotiated_cipher_suite().unwrap()
}

#[test]
fn full_session_with_rustls_x25519_aes128() {
    let pki = make_pki();
    let suite = session(&pki, server_config(&pki, provider(|_| {}), false), usize::MAX);
    assert_eq!(suite.suite(), rustls::CipherSuite::TLS13_AES_128_GCM_SHA256);
}

#[test]
fn p256_key_exchange() {
    let pki = make_pki();
    let p = provider(|p| p.kx_groups = vec![rustls::crypto::ring::kx_group::SECP256R1]);
    let config = server_config(&pki, p, false);
    let mut server = ServerConnection::new(Arc::new(config)).unwrap();
    let mut client = Box::new(Client::new());
    let mut verify = TestVerify::new(&pki);
    client.start(ServerName::Dns(HOST), &[9; 64]);
    pump(&mut client, &mut server, &mut verify, usize::MAX, &mut Vec::new()).unwrap();
    assert!(client.is_established());
    assert_eq!(server.negotiated_key_exchange_group().unwrap().name(), rustls::NamedGroup::secp256r1);
}

#[test]
fn aes256_gcm_sha384_suite() {
    let pki = make_pki();
    let p = provider(|p| p.cipher_suites = vec![rustls::crypto::ring::cipher_suite::TLS13_AES_256_GCM_SHA384]);
    let suite = session(&pki, server_config(&pki, p, false), 1000);
    assert_eq!(suite.suite(), rustls::CipherSuite::TLS13_AES_256_GCM_SHA384);
}

#[test]
fn every_byte_boundary() {
    // One byte at a time: every record header, record and handshake message is split at every
    // possible point.
    let pki = make_pki();
    session(&pki, server_config(&pki, provider(|_| {}), false), 1);
}

#[test]
fn tls12_only_server_is_a_version_error() {
    let pki = make_pki();
    let (client, _, _, result) = connect(server_config(&pki, provider(|_| {}), true), &pki, usize::MAX);
    assert_eq!(result, Err(TlsError::Version));
    assert!(!client.is_established());
}

#[test]
fn refused_chain_stops_the_handshake() {
    let pki = make_pki();
    let config = server_config(&pki, provider(|_| {}), false);
    let mut server = ServerConnection::new(Arc::new(config)).unwrap();
    let mut client = Box::new(Client::new());
    let mut verify = TestVerify::new(&pki);
    verify.refuse_chain = Some(PkiError::Expired);
    client.start(ServerName::Dns(HOST), &[1; 64]);
    let result = pump(&mut client, &mut server, &mut verify, usize::MAX, &mut Vec::new());
    assert_eq!(result, Err(TlsError::Certificate(PkiError::Expired)));
    assert_eq!(verify.signatures, 0);
    // The certificate_expired alert, protected under the client's handshake keys, reaches the
    // server, which reports it.
    let alert = client.outgoing().to_vec();
    assert_eq!(alert[0], 23);
    server.read_tls(&mut &alert[..]).unwrap();
    let err = server.process_new_packets().unwrap_err();
    assert_eq!(err, rustls::Error::AlertReceived(rustls::AlertDescription::CertificateExpired));
    assert!(!client.is_established());
    // Errors are final.
    assert_eq!(client.receive(&[22], &mut verify), Err(TlsError::Certificate(PkiError::Expired)));
}

#[test]
fn wrong_signature_key_is_refused() {
    // The same chain, but the verifier holds another key: the signature over the transcript
    // cannot verify, which shows the signed content reaches the verifier intact.
    let pki = make_pki();
    let other = make_pki();
    let config = server_config(&pki, provider(|_| {}), false);
    let mut server = ServerConnection::new(Arc::new(config)).unwrap();
    let mut client = Box::new(Client::new());
    let mut verify = TestVerify::new(&pki);
    verify.leaf_public = other.leaf_public;
    client.start(ServerName::Dns(HOST), &[2; 64]);
    let result = pump(&mut client, &mut server, &mut verify, usize::MAX, &mut Vec::new());
    assert_eq!(result, Err(TlsError::Certificate(PkiError::BadSignature)));
}

#[test]
fn tampered_record_is_a_decrypt_error() {
    let pki = make_pki();
    let (mut client, mut server, mut verify, result) =
        connect(server_config(&pki, provider(|_| {}), false), &pki, usize::MAX);
    result.unwrap();
    server.writer().write_all(b"hello").unwrap();
    let mut wire = Vec::new();
    while server.wants_write() {
        server.write_tls(&mut wire).unwrap();
    }
    // rustls may have queued session tickets before the data; flip a byte of the last record.
    let last = wire.len() - 3;
    wire[last] ^= 0x40;
    let mut at = 0;
    let err = loop {
        match client.receive(&wire[at..], &mut verify) {
            Ok(n) => {
                assert!(n > 0);
                at += n;
            }
            Err(e) => break e,
        }
    };
    assert_eq!(err, TlsError::Decrypt);
}

#[test]
fn key_update_both_ways() {
    let pki = make_pki();
    let (mut client, mut server, mut verify, result) =
        connect(server_config(&pki, provider(|_| {}), false), &pki, usize::MAX);
    result.unwrap();
    server.refresh_traffic_keys().unwrap();
    server.writer().write_all(b"after update").unwrap();
    let mut got = Vec::new();
    pump(&mut client, &mut server, &mut verify, usize::MAX, &mut got).unwrap();
    assert_eq!(got, b"after update");
    // The client answered the update_requested with its own KeyUpdate; the server reads data
    // under the client's next keys.
    client.write(b"reply").unwrap();
    pump(&mut client, &mut server, &mut verify, usize::MAX, &mut got).unwrap();
    let mut buf = [0u8; 16];
    let n = server.reader().read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"reply");
}

#[test]
fn certificate_request_gets_an_empty_certificate() {
    let pki = make_pki();
    let p = provider(|_| {});
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.ca.clone()).unwrap();
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(Arc::new(roots), p.clone())
        .allow_unauthenticated()
        .build()
        .unwrap();
    let config = ServerConfig::builder_with_provider(p)
        .with_protocol_versions(&[&rustls::version::TLS13])
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(vec![pki.leaf.clone(), pki.ca.clone()], pki.leaf_key.clone_key())
        .unwrap();
    let (mut client, mut server, mut verify, result) = connect(config, &pki, 7);
    result.unwrap();
    assert!(client.is_established() && !server.is_handshaking());
    client.write(b"ping").unwrap();
    pump(&mut client, &mut server, &mut verify, 7, &mut Vec::new()).unwrap();
    let mut buf = [0u8; 8];
    let n = server.reader().read(&mut buf).unwrap();
    assert_eq!(&buf[..n], b"ping");
}

#[test]
fn client_hello_shape() {
    // All state inline, as documented: one record, one handshake message, the outgoing bytes.
    assert!(size_of::<Client>() < 38 * 1024, "{} bytes", size_of::<Client>());
    let mut client = Box::new(Client::new());
    client.start(ServerName::Dns(HOST), &[3; 64]);
    let hello = client.outgoing().to_vec();
    assert_eq!(&hello[..3], &[22, 3, 1]);
    assert_eq!(usize::from(u16::from_be_bytes([hello[3], hello[4]])), hello.len() - 5);
    assert!(hello.windows(HOST.len()).any(|w| w == HOST), "SNI names the host");
    // An IP literal gets no SNI (RFC 6066 §3), and a fresh start resets the output.
    client.start(ServerName::V4([192, 0, 2, 1]), &[3; 64]);
    let by_ip = client.outgoing().to_vec();
    assert_eq!(by_ip.len(), hello.len() - (4 + 2 + 3 + HOST.len()));
    // Different entropy, different random and keys; same entropy, same bytes.
    client.start(ServerName::Dns(HOST), &[4; 64]);
    assert_ne!(client.outgoing(), &hello[..]);
    client.start(ServerName::Dns(HOST), &[3; 64]);
    assert_eq!(client.outgoing(), &hello[..]);
    client.sent(10);
    assert_eq!(client.outgoing(), &hello[10..]);
    assert_eq!(client.write(b"early"), Err(TlsError::NotReady));
}

/// A client that has sent its ClientHello, and a ServerHello body with these fields.
fn scripted(random: [u8; 32], extensions: &[u8]) -> (Box<Client>, Vec<u8>) {
    let mut client = Box::new(Client::new());
    client.start(ServerName::Dns(HOST), &[5; 64]);
    let hello = client.outgoing().to_vec();
    client.sent(hello.len());
    let session_id = &hello[5 + 4 + 2 + 32 + 1..5 + 4 + 2 + 32 + 1 + 32];
    let mut body = vec![3, 3];
    body.extend_from_slice(&random);
    body.push(32);
    body.extend_from_slice(session_id);
    body.extend_from_slice(&[0xc0, 0x2b, 0]);
    body.extend_from_slice(&(extensions.len() as u16).to_be_bytes());
    body.extend_from_slice(extensions);
    let mut msg = vec![2, 0, (body.len() >> 8) as u8, body.len() as u8];
    msg.extend_from_slice(&body);
    let mut record = vec![22, 3, 3, (msg.len() >> 8) as u8, msg.len() as u8];
    record.extend_from_slice(&msg);
    (client, record)
}

struct NoVerify;
impl Verify for NoVerify {
    fn chain(&mut self, _: &[&[u8]], _: ServerName<'_>) -> Result<(), PkiError> {
        panic!("no certificate expected")
    }
    fn signature(&mut self, _: u16, _: &[u8], _: &[u8]) -> Result<(), PkiError> {
        panic!("no signature expected")
    }
}

#[test]
fn scripted_server_hellos() {
    // A TLS 1.2 ServerHello: Version; with §4.1.3's sentinel: Downgrade.
    let (mut c, rec) = scripted([7; 32], &[0xff, 0x01, 0, 1, 0]);
    assert_eq!(c.receive(&rec, &mut NoVerify), Err(TlsError::Version));
    assert_eq!(c.outgoing(), &[21, 3, 3, 0, 2, 2, 70], "a plaintext protocol_version alert");
    let mut random = [7; 32];
    random[24..].copy_from_slice(b"DOWNGRD\x01");
    let (mut c, rec) = scripted(random, &[]);
    assert_eq!(c.receive(&rec, &mut NoVerify), Err(TlsError::Downgrade));
    // A HelloRetryRequest (supported_versions 1.3, key_share naming a group).
    let hrr: [u8; 32] = super::client::HRR_RANDOM;
    let (mut c, rec) = scripted(hrr, &[0, 43, 0, 2, 3, 4, 0, 51, 0, 2, 0, 0x17]);
    assert_eq!(c.receive(&rec, &mut NoVerify), Err(TlsError::Unsupported));
    // protocol_version alert in answer to the ClientHello.
    let (mut c, _) = scripted([7; 32], &[]);
    assert_eq!(c.receive(&[21, 3, 3, 0, 2, 2, 70], &mut NoVerify), Err(TlsError::Version));
    // Any other alert names its code.
    let (mut c, _) = scripted([7; 32], &[]);
    assert_eq!(c.receive(&[21, 3, 3, 0, 2, 2, 40], &mut NoVerify), Err(TlsError::Alert(40)));
    // A record longer than 2^14 + 256: record_overflow, decided from the header alone.
    let (mut c, _) = scripted([7; 32], &[]);
    assert_eq!(c.receive(&[22, 3, 3, 0x41, 0x01], &mut NoVerify), Err(TlsError::TooLarge));
    let (mut c, _) = scripted([7; 32], &[]);
    assert_eq!(c.receive(&[22, 3, 3, 0x41, 0x00], &mut NoVerify), Ok(5));
    // Encrypted-looking data before any keys.
    let (mut c, _) = scripted([7; 32], &[]);
    assert_eq!(c.receive(&[23, 3, 3, 0, 1, 0], &mut NoVerify), Err(TlsError::Protocol));
    // A ChangeCipherSpec before the ServerHello is ignored; a malformed one is not.
    let (mut c, _) = scripted([7; 32], &[]);
    assert_eq!(c.receive(&[20, 3, 3, 0, 1, 1], &mut NoVerify), Ok(6));
    assert_eq!(c.receive(&[20, 3, 3, 0, 1, 2], &mut NoVerify), Err(TlsError::Protocol));
    // A ServerHello with an unexpected extension (pre_shared_key was never offered).
    let (mut c, rec) = scripted([7; 32], &[0, 43, 0, 2, 3, 4, 0, 41, 0, 2, 0, 0]);
    assert_eq!(c.receive(&rec, &mut NoVerify), Err(TlsError::Protocol));
}

/// Accepts any chain and signature: for scripted servers whose certificates are not the point.
struct AcceptAll;
impl Verify for AcceptAll {
    fn chain(&mut self, certs: &[&[u8]], _: ServerName<'_>) -> Result<(), PkiError> {
        assert_eq!(certs.len(), 2);
        assert!(certs[0].iter().all(|&b| b == 0xab));
        assert_eq!(certs[1], b"intermediate");
        Ok(())
    }
    fn signature(&mut self, scheme: u16, message: &[u8], signature: &[u8]) -> Result<(), PkiError> {
        assert_eq!((scheme, signature), (0x0804, b"sig".as_slice()));
        assert!(message.starts_with(&[0x20; 64]));
        assert_eq!(&message[64..98], b"TLS 1.3, server CertificateVerify\0");
        Ok(())
    }
}

fn message(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ, 0, (body.len() >> 8) as u8, body.len() as u8];
    m.extend_from_slice(body);
    m
}

/// A server written with the key schedule alone: answers the client's real ClientHello with
/// x25519, then sends its flight with handshake messages cut into records of `piece` bytes
/// (so messages span records, and records hold parts of two messages).
fn scripted_flight(client: &mut Client, piece: usize, leaf_len: usize) -> (Vec<u8>, TrafficKeys) {
    use super::keys::{self, Suite, Transcript};
    let hello = client.outgoing().to_vec();
    client.sent(hello.len());
    let at = hello.windows(4).position(|w| w == [0, 0x1d, 0, 32]).unwrap();
    let client_share: [u8; 32] = hello[at + 4..at + 36].try_into().unwrap();
    let server_key = [0x42; 32];
    let shared = x25519_dalek::x25519(server_key, client_share);
    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[0x11; 32]);
    sh.push(32);
    sh.extend_from_slice(&hello[44..76]);
    sh.extend_from_slice(&[0x13, 0x01, 0, 0, 46, 0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 0x1d, 0, 32]);
    sh.extend_from_slice(&x25519_dalek::x25519(server_key, x25519_dalek::X25519_BASEPOINT_BYTES));
    let sh = message(2, &sh);
    let mut transcript = Transcript::new();
    transcript.update(&hello[5..]);
    transcript.update(&sh);
    let mut wire = vec![22, 3, 3, 0, sh.len() as u8];
    wire.extend_from_slice(&sh);

    let suite = Suite::Aes128Sha256;
    let hs = keys::handshake_secret(suite, &shared);
    let s_hs = keys::derive_secret(suite, &hs, b"s hs traffic", &transcript.hash(suite));
    let mut flight = Vec::new();
    let mut list = Vec::new();
    for cert in [&vec![0xab; leaf_len][..], b"intermediate"] {
        list.extend_from_slice(&[0, (cert.len() >> 8) as u8, cert.len() as u8]);
        list.extend_from_slice(cert);
        list.extend_from_slice(&[0, 0]);
    }
    let mut cert = vec![0, 0, (list.len() >> 8) as u8, list.len() as u8];
    cert.extend_from_slice(&list);
    for m in [message(8, &[0, 0]), message(11, &cert), message(15, &[8, 4, 0, 3, b's', b'i', b'g'])] {
        transcript.update(&m);
        flight.extend_from_slice(&m);
    }
    let fin = message(20, keys::finished_mac(suite, &s_hs, &transcript.hash(suite)).as_bytes());
    transcript.update(&fin);
    flight.extend_from_slice(&fin);
    let mut server = TrafficKeys::new(suite, &s_hs);
    for chunk in flight.chunks(piece) {
        let mut inner = chunk.to_vec();
        inner.push(22);
        let len = inner.len() + 16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let tag = server.seal(&header, &mut inner);
        wire.extend_from_slice(&header);
        wire.extend_from_slice(&inner);
        wire.extend_from_slice(&tag);
    }
    let master = keys::master_secret(suite, &hs);
    let s_ap = keys::derive_secret(suite, &master, b"s ap traffic", &transcript.hash(suite));
    (wire, TrafficKeys::new(suite, &s_ap))
}

#[test]
fn handshake_messages_split_across_records_at_every_size() {
    for piece in 1..=80 {
        let mut client = Box::new(Client::new());
        client.start(ServerName::Dns(HOST), &[6; 64]);
        let (wire, mut app) = scripted_flight(&mut client, piece, 16);
        assert_eq!(client.receive(&wire, &mut AcceptAll), Ok(wire.len()), "records of {piece} bytes");
        assert!(client.is_established(), "records of {piece} bytes");
        // Application data under the server's application keys, with padding (§5.4).
        let mut inner = b"payload\x17\0\0\0".to_vec();
        let header = [23, 3, 3, 0, inner.len() as u8 + 16];
        let tag = app.seal(&header, &mut inner);
        let mut record = header.to_vec();
        record.extend_from_slice(&inner);
        record.extend_from_slice(&tag);
        assert_eq!(client.receive(&record, &mut AcceptAll), Ok(record.len()));
        assert_eq!(client.plaintext(), b"payload");
        // While it is unread, no further record is taken.
        assert_eq!(client.receive(&record, &mut AcceptAll), Ok(0));
        client.consume(3);
        assert_eq!(client.plaintext(), b"load");
        client.consume(4);
        assert_eq!(client.plaintext(), b"");
    }
}

#[test]
fn a_key_change_inside_a_record_is_refused() {
    // The ServerHello and the start of the encrypted flight in one plaintext record: §5.1
    // forbids handshake data past a key change in the same record.
    let mut client = Box::new(Client::new());
    client.start(ServerName::Dns(HOST), &[6; 64]);
    let (wire, _) = scripted_flight(&mut client, 1000, 16);
    let sh_len = usize::from(wire[4]);
    let mut joined = wire[..5 + sh_len].to_vec();
    joined.extend_from_slice(&[8, 0, 0, 2, 0, 0]);
    joined[4] += 6;
    assert_eq!(client.receive(&joined, &mut AcceptAll), Err(TlsError::Protocol));
}

#[test]
fn the_largest_certificate_message_fits_across_full_records() {
    // A Certificate message of exactly HS_CAP bytes, in records of 2^14 bytes that also carry
    // the messages around it: it fits, one byte more does not.
    let overhead = 4 + 1 + 3 + (3 + 2) + (3 + 12 + 2);
    for (leaf, ok) in [(16384 - overhead, true), (16384 - overhead + 1, false)] {
        let mut client = Box::new(Client::new());
        client.start(ServerName::Dns(HOST), &[6; 64]);
        let (wire, _) = scripted_flight(&mut client, 16384, leaf);
        let result = client.receive(&wire, &mut AcceptAll);
        if ok {
            assert_eq!(result, Ok(wire.len()));
            assert!(client.is_established());
        } else {
            assert_eq!(result, Err(TlsError::TooLarge));
        }
    }
}
