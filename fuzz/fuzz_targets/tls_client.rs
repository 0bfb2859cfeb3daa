//! The TLS 1.3 client (src/tls/client.rs) fed server bytes after its ClientHello, in two ways:
//! raw fuzz bytes at fuzz-chosen split points, and a scripted server that answers the real
//! ClientHello with a valid ServerHello and a protected flight whose messages, record
//! boundaries and later records come from the fuzz input (so the encrypted states are reached).
//! Neither may panic; consumption stays within the input, output within its buffer, and
//! plaintext appears only after the handshake.
#![no_main]

use arbitrary::Unstructured;
use flint::tls::keys::{self, Suite, TrafficKeys, Transcript};
use flint::tls::pki::{PkiError, ServerName};
use flint::tls::{Client, TlsError, Verify};
use libfuzzer_sys::fuzz_target;

/// Accepts whatever it is shown, so the fuzzer can walk past the certificate checks.
struct Accept;
impl Verify for Accept {
    fn chain(&mut self, certs: &[&[u8]], _: ServerName<'_>) -> Result<(), PkiError> {
        assert!(!certs.is_empty() && certs.len() <= 8);
        Ok(())
    }
    fn signature(&mut self, _: u16, message: &[u8], _: &[u8]) -> Result<(), PkiError> {
        assert!(message.starts_with(&[0x20; 64]));
        Ok(())
    }
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let scripted = u.arbitrary::<bool>().unwrap_or(false);
    let step = u.int_in_range(1..=2000usize).unwrap_or(1);
    let mut client = Box::new(Client::new());
    client.start(ServerName::Dns(b"fuzz.example"), &[0x5a; 64]);
    let hello = client.outgoing().to_vec();
    client.sent(hello.len());
    let wire = if scripted { script(&mut u, &hello) } else { u.take_rest().to_vec() };
    feed(&mut client, &wire, step);
});

fn feed(client: &mut Client, wire: &[u8], step: usize) {
    let mut at = 0;
    let mut stalls = 0;
    while at < wire.len() {
        let end = (at + step).min(wire.len());
        match client.receive(&wire[at..end], &mut Accept) {
            Ok(n) => {
                assert!(n <= end - at);
                at += n;
                if !client.plaintext().is_empty() {
                    assert!(client.is_established(), "plaintext before the handshake finished");
                }
                let pending = client.plaintext().len();
                client.consume(pending);
                if n == 0 && pending == 0 {
                    assert!(client.is_closed(), "stalled with input left and nothing pending");
                    stalls += 1;
                    if stalls > 2 {
                        break;
                    }
                }
            }
            Err(e) => {
                // Errors are final and stable.
                assert_eq!(client.receive(&wire[at..], &mut Accept), Err(e));
                assert_ne!(e, TlsError::NotReady, "the client was started");
                break;
            }
        }
        assert!(client.outgoing().len() <= 4096);
        if client.is_established() {
            let _ = client.write(b"fuzz");
        }
        let n = client.outgoing().len();
        client.sent(n);
    }
}

fn handshake(typ: u8, body: &[u8]) -> Vec<u8> {
    let mut m = vec![typ, (body.len() >> 16) as u8, (body.len() >> 8) as u8, body.len() as u8];
    m.extend_from_slice(body);
    m
}

fn vec_u16(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u16).to_be_bytes().to_vec();
    v.extend_from_slice(body);
    v
}

fn vec_u24(body: &[u8]) -> Vec<u8> {
    let mut v = (body.len() as u32).to_be_bytes()[1..].to_vec();
    v.extend_from_slice(body);
    v
}

/// Protected records of `inner` (content + type), split at fuzz-chosen sizes.
fn protect(u: &mut Unstructured, keys: &mut TrafficKeys, typ: u8, content: &[u8], out: &mut Vec<u8>) {
    let mut rest = content;
    loop {
        let n = u.int_in_range(1..=rest.len().max(1)).unwrap_or(rest.len()).min(rest.len());
        let (piece, tail) = rest.split_at(n);
        let pad = u.int_in_range(0..=3usize).unwrap_or(0);
        let mut inner = piece.to_vec();
        inner.push(typ);
        inner.extend(std::iter::repeat_n(0, pad));
        let len = (inner.len() + 16) as u16;
        let header = [23, 3, 3, (len >> 8) as u8, len as u8];
        let tag = keys.seal(&header, &mut inner);
        out.extend_from_slice(&header);
        out.extend_from_slice(&inner);
        out.extend_from_slice(&tag);
        rest = tail;
        if rest.is_empty() {
            return;
        }
    }
}

fn script(u: &mut Unstructured, hello: &[u8]) -> Vec<u8> {
    let suite = if u.arbitrary::<bool>().unwrap_or(false) { Suite::Aes256Sha384 } else { Suite::Aes128Sha256 };
    let Some(at) = hello.windows(4).position(|w| w == [0, 0x1d, 0, 32]) else { return Vec::new() };
    let client_share: [u8; 32] = hello[at + 4..at + 36].try_into().unwrap();
    let server_key: [u8; 32] = u.arbitrary().unwrap_or([1; 32]);
    let server_share = x25519_dalek::x25519(server_key, x25519_dalek::X25519_BASEPOINT_BYTES);
    let shared = x25519_dalek::x25519(server_key, client_share);

    let mut sh = vec![3, 3];
    sh.extend_from_slice(&[0x11; 32]);
    sh.push(32);
    sh.extend_from_slice(&hello[44..76]);
    sh.extend_from_slice(&[0x13, if suite == Suite::Aes128Sha256 { 1 } else { 2 }, 0]);
    let mut exts = vec![0, 43, 0, 2, 3, 4, 0, 51, 0, 36, 0, 0x1d, 0, 32];
    exts.extend_from_slice(&server_share);
    sh.extend_from_slice(&vec_u16(&exts));
    let sh = handshake(2, &sh);

    let mut transcript = Transcript::new();
    transcript.update(&hello[5..]);
    transcript.update(&sh);
    let mut wire = vec![22, 3, 3, (sh.len() >> 8) as u8, sh.len() as u8];
    wire.extend_from_slice(&sh);
    if u.arbitrary::<bool>().unwrap_or(false) {
        wire.extend_from_slice(&[20, 3, 3, 0, 1, 1]);
    }

    let hs = keys::handshake_secret(suite, &shared);
    let th = transcript.hash(suite);
    let s_hs = keys::derive_secret(suite, &hs, b"s hs traffic", &th);
    let mut server = TrafficKeys::new(suite, &s_hs);

    // EncryptedExtensions, maybe a CertificateRequest, Certificate, CertificateVerify: bodies
    // from the fuzzer, framing usually right so the states behind them are reached.
    let mut flight = Vec::new();
    let ee = handshake(8, &vec_u16(&bytes(u, 64)));
    let mut messages = vec![ee];
    if u.arbitrary::<bool>().unwrap_or(false) {
        let mut cr = vec![0];
        cr.extend_from_slice(&vec_u16(&bytes(u, 16)));
        messages.push(handshake(13, &cr));
    }
    let mut list = Vec::new();
    for _ in 0..u.int_in_range(0..=3usize).unwrap_or(1) {
        list.extend_from_slice(&vec_u24(&bytes(u, 300)));
        list.extend_from_slice(&vec_u16(&[]));
    }
    let mut cert = vec![0];
    cert.extend_from_slice(&vec_u24(&list));
    messages.push(handshake(11, &cert));
    let mut cv = u.arbitrary::<u16>().unwrap_or(0x0403).to_be_bytes().to_vec();
    cv.extend_from_slice(&vec_u16(&bytes(u, 80)));
    messages.push(handshake(15, &cv));
    if u.arbitrary::<bool>().unwrap_or(false) {
        // A raw message in place of the rest.
        messages.push(bytes(u, 100));
    }
    for m in &messages {
        transcript.update(m);
        flight.extend_from_slice(m);
    }
    let finished = keys::finished_mac(suite, &s_hs, &transcript.hash(suite));
    let fin = handshake(20, finished.as_bytes());
    transcript.update(&fin);
    flight.extend_from_slice(&fin);
    protect(u, &mut server, 22, &flight, &mut wire);

    let master = keys::master_secret(suite, &hs);
    let s_ap = keys::derive_secret(suite, &master, b"s ap traffic", &transcript.hash(suite));
    let mut app = TrafficKeys::new(suite, &s_ap);
    for _ in 0..u.int_in_range(0..=4usize).unwrap_or(0) {
        let typ = *u.choose(&[21u8, 22, 23, 23, 0]).unwrap_or(&23);
        let content = bytes(u, 3000);
        if content.is_empty() && typ != 23 {
            continue;
        }
        protect(u, &mut app, typ, &content, &mut wire);
        if typ == 22 && content.first() == Some(&24) {
            app = app.next();
        }
    }
    // Whatever is left: bytes after the scripted records.
    let rest = u.len();
    wire.extend_from_slice(u.bytes(rest).unwrap_or_default());
    wire
}

fn bytes(u: &mut Unstructured, max: usize) -> Vec<u8> {
    let n = u.int_in_range(0..=max).unwrap_or(0);
    u.bytes(n).map(<[u8]>::to_vec).unwrap_or_default()
}
