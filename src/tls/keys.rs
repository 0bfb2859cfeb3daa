//! TLS 1.3's cryptographic core: the transcript hash, HKDF and the key schedule (RFC 8446 §7.1),
//! traffic keys (§7.3) and AES-GCM record protection (§5.2–5.3), for the two suites flint offers.
//!
//! Every function takes the [`Suite`] at run time and dispatches once, inside, so the binary holds
//! one copy of each routine per hash rather than a generic copy per caller.

use aes_gcm::aead::AeadInPlace;
use aes_gcm::{Aes128Gcm, Aes256Gcm, KeyInit};
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256, Sha384};

use super::TlsError;

/// The longest hash output in use (SHA-384).
pub const MAX_HASH: usize = 48;
/// AES-GCM's tag length (RFC 5116 §5.1).
pub const TAG_LEN: usize = 16;

/// A TLS 1.3 cipher suite flint implements (RFC 8446 §B.4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// TLS_AES_128_GCM_SHA256, the one every TLS 1.3 peer must implement (§9.1).
    Aes128Sha256,
    /// TLS_AES_256_GCM_SHA384.
    Aes256Sha384,
}

impl Suite {
    /// The suite with this wire id, if flint implements it.
    pub fn from_id(id: u16) -> Option<Suite> {
        match id {
            0x1301 => Some(Suite::Aes128Sha256),
            0x1302 => Some(Suite::Aes256Sha384),
            _ => None,
        }
    }

    /// Hash.length in §7.1's terms: the size of every secret.
    pub fn hash_len(self) -> usize {
        match self {
            Suite::Aes128Sha256 => 32,
            Suite::Aes256Sha384 => 48,
        }
    }

    fn key_len(self) -> usize {
        match self {
            Suite::Aes128Sha256 => 16,
            Suite::Aes256Sha384 => 32,
        }
    }
}

/// A secret or digest of up to [`MAX_HASH`] bytes (the suite's hash length).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    bytes: [u8; MAX_HASH],
    len: u8,
}

impl Secret {
    /// No secret yet; what a fresh client holds.
    pub const EMPTY: Secret = Secret { bytes: [0; MAX_HASH], len: 0 };

    fn zeros(len: usize) -> Secret {
        Secret { bytes: [0; MAX_HASH], len: len as u8 }
    }

    /// The secret's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }
}

// Secrets never appear in logs, not even through `{:?}`.
impl core::fmt::Debug for Secret {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// HMAC (RFC 2104) over the concatenation of `parts`, with the suite's hash.
#[inline(never)]
pub fn hmac(suite: Suite, key: &[u8], parts: &[&[u8]]) -> Secret {
    let mut out = Secret::zeros(suite.hash_len());
    // HMAC takes keys of any length, so `new_from_slice` cannot fail; the `if let` only avoids a
    // panic path.
    match suite {
        Suite::Aes128Sha256 => {
            if let Ok(mut mac) = <Hmac<Sha256> as Mac>::new_from_slice(key) {
                for p in parts {
                    mac.update(p);
                }
                out.bytes[..32].copy_from_slice(&mac.finalize().into_bytes());
            }
        }
        Suite::Aes256Sha384 => {
            if let Ok(mut mac) = <Hmac<Sha384> as Mac>::new_from_slice(key) {
                for p in parts {
                    mac.update(p);
                }
                out.bytes[..48].copy_from_slice(&mac.finalize().into_bytes());
            }
        }
    }
    out
}

/// HKDF-Extract (RFC 5869 §2.2): HMAC keyed with the salt.
pub fn extract(suite: Suite, salt: &[u8], ikm: &[u8]) -> Secret {
    hmac(suite, salt, &[ikm])
}

/// HKDF-Expand-Label (RFC 8446 §7.1) for outputs of at most one hash block, which is all TLS 1.3
/// ever asks for (keys, IVs and secrets are never longer than the hash): T(1) truncated.
#[inline(never)]
pub fn expand_label(suite: Suite, secret: &Secret, label: &[u8], context: &[u8], len: usize) -> Secret {
    // struct { uint16 length; opaque label<7..255> = "tls13 " + Label; opaque context<0..255>; }
    let head = [(len >> 8) as u8, len as u8, (6 + label.len()) as u8];
    let ctx_len = [context.len() as u8];
    let mut out = hmac(suite, secret.as_bytes(), &[&head, b"tls13 ", label, &ctx_len, context, &[1]]);
    out.bytes[len..].fill(0);
    out.len = len as u8;
    out
}

/// Derive-Secret (§7.1) from a transcript hash already computed.
pub fn derive_secret(suite: Suite, secret: &Secret, label: &[u8], transcript_hash: &Secret) -> Secret {
    expand_label(suite, secret, label, transcript_hash.as_bytes(), suite.hash_len())
}

/// The Handshake Secret (§7.1): Early Secret from no PSK, "derived", then Extract with the
/// (EC)DHE shared secret.
pub fn handshake_secret(suite: Suite, shared: &[u8]) -> Secret {
    let zeros = Secret::zeros(suite.hash_len());
    let early = extract(suite, zeros.as_bytes(), zeros.as_bytes());
    let derived = derive_secret(suite, &early, b"derived", &Transcript::new().hash(suite));
    extract(suite, derived.as_bytes(), shared)
}

/// The Master Secret (§7.1) that follows a Handshake Secret.
pub fn master_secret(suite: Suite, handshake: &Secret) -> Secret {
    let derived = derive_secret(suite, handshake, b"derived", &Transcript::new().hash(suite));
    extract(suite, derived.as_bytes(), Secret::zeros(suite.hash_len()).as_bytes())
}

/// finished_key (§4.4.4) of a handshake traffic secret, and verify_data over a transcript hash.
pub fn finished_mac(suite: Suite, base: &Secret, transcript_hash: &Secret) -> Secret {
    let key = expand_label(suite, base, b"finished", &[], suite.hash_len());
    hmac(suite, key.as_bytes(), &[transcript_hash.as_bytes()])
}

/// The running transcript hash (§4.4.1). Both hashes run until the ServerHello names the suite;
/// SHA-384's state is a few hundred bytes and hashing a handshake twice costs microseconds.
#[derive(Clone)]
pub struct Transcript {
    sha256: Sha256,
    sha384: Sha384,
}

impl Transcript {
    /// An empty transcript.
    pub fn new() -> Transcript {
        Transcript { sha256: Sha256::new(), sha384: Sha384::new() }
    }

    /// Append a handshake message, header included.
    pub fn update(&mut self, message: &[u8]) {
        self.sha256.update(message);
        self.sha384.update(message);
    }

    /// Transcript-Hash of everything so far, with the suite's hash.
    #[inline(never)]
    pub fn hash(&self, suite: Suite) -> Secret {
        let mut out = Secret::zeros(suite.hash_len());
        match suite {
            Suite::Aes128Sha256 => out.bytes[..32].copy_from_slice(&self.sha256.clone().finalize()),
            Suite::Aes256Sha384 => out.bytes[..48].copy_from_slice(&self.sha384.clone().finalize()),
        }
        out
    }
}

impl Default for Transcript {
    fn default() -> Self {
        Transcript::new()
    }
}

/// One direction's record protection: key, IV and sequence number (§5.3, §7.3).
#[derive(Clone, Copy)]
pub struct TrafficKeys {
    suite: Suite,
    key: [u8; 32],
    iv: [u8; 12],
    seq: u64,
    /// The traffic secret these keys came from, kept for KeyUpdate (§7.2).
    secret: Secret,
}

impl TrafficKeys {
    /// No keys: records in this direction are not protected yet.
    pub const NONE: TrafficKeys =
        TrafficKeys { suite: Suite::Aes128Sha256, key: [0; 32], iv: [0; 12], seq: 0, secret: Secret::EMPTY };

    /// The write key and IV of a traffic secret, sequence number 0 (§7.3).
    pub fn new(suite: Suite, secret: &Secret) -> TrafficKeys {
        let mut keys = TrafficKeys { suite, key: [0; 32], iv: [0; 12], seq: 0, secret: *secret };
        let n = suite.key_len();
        keys.key[..n].copy_from_slice(expand_label(suite, secret, b"key", &[], n).as_bytes());
        keys.iv.copy_from_slice(expand_label(suite, secret, b"iv", &[], 12).as_bytes());
        keys
    }

    /// Whether these are real keys (protection is on in this direction).
    pub fn is_set(&self) -> bool {
        self.secret.len != 0
    }

    /// The keys after a KeyUpdate (§7.2): application_traffic_secret_N+1.
    pub fn next(&self) -> TrafficKeys {
        let suite = self.suite;
        TrafficKeys::new(suite, &expand_label(suite, &self.secret, b"traffic upd", &[], suite.hash_len()))
    }

    /// The per-record nonce: the IV XOR the 64-bit sequence number, left-padded (§5.3).
    fn nonce(&self) -> [u8; 12] {
        let mut nonce = self.iv;
        for (n, s) in nonce[4..].iter_mut().zip(self.seq.to_be_bytes()) {
            *n ^= s;
        }
        nonce
    }

    /// Encrypt `buf` in place as the next record, with `header` (the record header) as the
    /// additional data (§5.2); returns the tag.
    #[inline(never)]
    pub fn seal(&mut self, header: &[u8; 5], buf: &mut [u8]) -> [u8; TAG_LEN] {
        let nonce = self.nonce();
        self.seq = self.seq.wrapping_add(1);
        let nonce = (&nonce).into();
        let tag = match self.suite {
            Suite::Aes128Sha256 => {
                Aes128Gcm::new((&self.key[..16]).into()).encrypt_in_place_detached(nonce, header, buf)
            }
            Suite::Aes256Sha384 => Aes256Gcm::new((&self.key).into()).encrypt_in_place_detached(nonce, header, buf),
        };
        // AES-GCM refuses only plaintexts over 2^36 bytes; a record is at most 2^14 + 256.
        tag.map(Into::into).unwrap_or([0; TAG_LEN])
    }

    /// Decrypt `buf` in place and check its tag; [`TlsError::Decrypt`] when the record was not produced with
    /// these keys at this sequence number (forged, corrupted, reordered).
    #[inline(never)]
    pub fn open(&mut self, header: &[u8; 5], buf: &mut [u8], tag: &[u8; TAG_LEN]) -> Result<(), TlsError> {
        let nonce = self.nonce();
        let nonce = (&nonce).into();
        let result = match self.suite {
            Suite::Aes128Sha256 => {
                Aes128Gcm::new((&self.key[..16]).into()).decrypt_in_place_detached(nonce, header, buf, tag.into())
            }
            Suite::Aes256Sha384 => {
                Aes256Gcm::new((&self.key).into()).decrypt_in_place_detached(nonce, header, buf, tag.into())
            }
        };
        result.map_err(|_| TlsError::Decrypt)?;
        self.seq = self.seq.wrapping_add(1);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    //! Checked against RFC 8448 §3, "Simple 1-RTT Handshake": the trace publishes every secret,
    //! key and record of one real TLS_AES_128_GCM_SHA256 handshake.
    use super::*;

    pub(crate) fn hex(s: &str) -> Vec<u8> {
        let s: Vec<u8> = s.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
        s.chunks(2).map(|p| u8::from_str_radix(core::str::from_utf8(p).unwrap(), 16).unwrap()).collect()
    }

    const CLIENT_HELLO: &str = "010000c00303cb34ecb1e78163ba1c38c6dacb196a6dffa21a8d9912ec18a2ef6283024dece7
        000006130113031302010000910000000b0009000006736572766572ff01000100000a00140012001d00170018
        00190100010101020103010400230000003300260024001d002099381de560e4bd43d23d8e435a7dbafeb3c06e
        51c13cae4d5413691e529aaf2c002b0003020304000d0020001e0403050306030203080408050806040105010601
        02010402050206020202002d00020101001c00024001";
    const SERVER_HELLO: &str = "020000560303a6af06a4121860dc5e6e60249cd34c95930c8ac5cb1434dac155772ed3e2692800
        130100002e00330024001d0020c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f
        002b00020304";
    const SHARED: &str = "8bd4054fb55b9d63fdfbacf9f04b9f0d35e6d63f537563efd46272900f89492d";
    const CLIENT_PRIVATE: &str = "49af42ba7f7994852d713ef2784bcbcaa7911de26adc5642cb634540e7ea5005";
    const SERVER_PUBLIC: &str = "c9828876112095fe66762bdbf7c672e156d6cc253b833df1dd69b1b04e751f0f";
    /// The server's flight (EncryptedExtensions, Certificate, CertificateVerify, Finished) as the
    /// one protected record the trace shows.
    const SERVER_FLIGHT_RECORD: &str = "17030302a2d1ff334a56f5bff6594a07cc87b580233f500f45e489e7f33af35e
        df7869fcf40aa40aa2b8ea73f848a7ca07612ef9f945cb960b4068905123ea78b111b429ba9191cd05d2a389280f
        526134aadc7fc78c4b729df828b5ecf7b13bd9aefb0e57f271585b8ea9bb355c7c79020716cfb9b1183ef3ab20e3
        7d57a6b9d7477609aee6e122a4cf51427325250c7d0e509289444c9b3a648f1d71035d2ed65b0e3cdd0cbae8bf2d
        0b227812cbb360987255cc744110c453baa4fcd610928d809810e4b7ed1a8fd991f06aa6248204797e36a6a73b70
        a2559c09ead686945ba246ab66e5edd8044b4c6de3fcf2a89441ac66272fd8fb330ef8190579b3684596c960bd59
        6eea520a56a8d650f563aad27409960dca63d3e688611ea5e22f4415cf9538d51a200c27034272968a264ed6540c
        84838d89f72c24461aad6d26f59ecaba9acbbb317b66d902f4f292a36ac1b639c637ce343117b659622245317b49
        eeda0c6258f100d7d961ffb138647e92ea330faeea6dfa31c7a84dc3bd7e1b7a6c7178af36879018e3f252107f24
        3d243dc7339d5684c8b0378bf30244da8c87c843f5e56eb4c5e8280a2b48052cf93b16499a66db7cca71e4599426
        f7d461e66f99882bd89fc50800becca62d6c74116dbd2972fda1fa80f85df881edbe5a37668936b335583b599186
        dc5c6918a396fa48a181d6b6fa4f9d62d513afbb992f2b992f67f8afe67f76913fa388cb5630c8ca01e0c65d11c6
        6a1e2ac4c85977b7c7a6999bbf10dc35ae69f5515614636c0b9b68c19ed2e31c0b3b66763038ebba42f3b38edc03
        99f3a9f23faa63978c317fc9fa66a73f60f0504de93b5b845e275592c12335ee340bbc4fddd502784016e4b3be7e
        f04dda49f4b440a30cb5d2af939828fd4ae3794e44f94df5a631ede42c1719bfdabf0253fe5175be898e750edc53
        370d2b";
    /// Its plaintext: the four messages, then the inner content type 0x16.
    const SERVER_FLIGHT: &str = "080000240022000a00140012001d00170018001901000101010201030104001c
        00024001000000000b0001b9000001b50001b0308201ac30820115a003020102020102300d06092a864886f70d01
        010b0500300e310c300a06035504031303727361301e170d3136303733303031323335395a170d32363037333030
        31323335395a300e310c300a0603550403130372736130819f300d06092a864886f70d010101050003818d003081
        8902818100b4bb498f8279303d980836399b36c6988c0c68de55e1bdb826d3901a2461eafd2de49a91d015abbc9a
        95137ace6c1af19eaa6af98c7ced43120998e187a80ee0ccb0524b1b018c3e0b63264d449a6d38e22a5fda430846
        748030530ef0461c8ca9d9efbfae8ea6d1d03e2bd193eff0ab9a8002c47428a6d35a8d88d79f7f1e3f0203010001
        a31a301830090603551d1304023000300b0603551d0f0404030205a0300d06092a864886f70d01010b0500038181
        0085aad2a0e5b9276b908c65f73a7267170618a54c5f8a7b337d2df7a594365417f2eae8f8a58c8f8172f9319cf3
        6b7fd6c55b80f21a03015156726096fd335e5e67f2dbf102702e608ccae6bec1fc63a42a99be5c3eb7107c3c54e9
        b9eb2bd5203b1c3b84e0a8b2f759409ba3eac9d91d402dcc0cc8f8961229ac9187b42b4de100000f000084080400
        805a747c5d88fa9bd2e55ab085a61015b7211f824cd484145ab3ff52f1fda8477b0b7abc90db78e2d33a5c141a07
        8653fa6bef780c5ea248eeaaa785c4f394cab6d30bbe8d4859ee511f602957b15411ac027671459e46445c9ea58c
        181e818e95b8c3fb0bf3278409d3be152a3da5043e063dda65cdf5aea20d53dfacd42f74f3140000209b9b141d90
        6337fbd2cbdce71df4deda4ab42c309572cb7fffee5454b78f071816";

    const S256: Suite = Suite::Aes128Sha256;

    fn secret(h: &str) -> Secret {
        let b = hex(h);
        let mut s = Secret::zeros(b.len());
        s.bytes[..b.len()].copy_from_slice(&b);
        s
    }

    #[test]
    fn x25519_shared_secret_matches_the_trace() {
        let k: [u8; 32] = hex(CLIENT_PRIVATE).try_into().unwrap();
        let u: [u8; 32] = hex(SERVER_PUBLIC).try_into().unwrap();
        assert_eq!(x25519_dalek::x25519(k, u).to_vec(), hex(SHARED));
    }

    #[test]
    fn key_schedule_matches_rfc_8448() {
        let zeros = Secret::zeros(32);
        let early = extract(S256, zeros.as_bytes(), zeros.as_bytes());
        assert_eq!(early, secret("33ad0a1c607ec03b09e6cd9893680ce210adf300aa1f2660e1b22e10f170f92a"));

        let hs = handshake_secret(S256, &hex(SHARED));
        assert_eq!(hs, secret("1dc826e93606aa6fdc0aadc12f741b01046aa6b99f691ed221a9f0ca043fbeac"));

        let mut transcript = Transcript::new();
        transcript.update(&hex(CLIENT_HELLO));
        transcript.update(&hex(SERVER_HELLO));
        let th = transcript.hash(S256);
        assert_eq!(th, secret("860c06edc07858ee8e78f0e7428c58edd6b43f2ca3e6e95f02ed063cf0e1cad8"));

        let c_hs = derive_secret(S256, &hs, b"c hs traffic", &th);
        let s_hs = derive_secret(S256, &hs, b"s hs traffic", &th);
        assert_eq!(c_hs, secret("b3eddb126e067f35a780b3abf45e2d8f3b1a950738f52e9600746a0e27a55a21"));
        assert_eq!(s_hs, secret("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38"));

        let master = master_secret(S256, &hs);
        assert_eq!(master, secret("18df06843d13a08bf2a449844c5f8a478001bc4d4c627984d5a41da8d0402919"));

        let server = TrafficKeys::new(S256, &s_hs);
        assert_eq!(server.key[..16], hex("3fce516009c21727d0f2e4e86ee403bc")[..]);
        assert_eq!(server.iv[..], hex("5d313eb2671276ee13000b30")[..]);
        let client = TrafficKeys::new(S256, &c_hs);
        assert_eq!(client.key[..16], hex("dbfaa693d1762c5b666af5d950258d01")[..]);
        assert_eq!(client.iv[..], hex("5bd3c71b836e0b76bb73265f")[..]);

        // The server Finished over CH..CertificateVerify, then the application secrets over
        // CH..server Finished, then the client Finished over the same transcript.
        let flight = hex(SERVER_FLIGHT);
        let finished_at = flight.len() - 1 - 36;
        transcript.update(&flight[..finished_at]);
        let th = transcript.hash(S256);
        let verify = finished_mac(S256, &s_hs, &th);
        assert_eq!(verify.as_bytes(), &flight[finished_at + 4..flight.len() - 1]);
        transcript.update(&flight[finished_at..flight.len() - 1]);
        let th = transcript.hash(S256);
        let c_ap = derive_secret(S256, &master, b"c ap traffic", &th);
        let s_ap = derive_secret(S256, &master, b"s ap traffic", &th);
        assert_eq!(c_ap, secret("9e40646ce79a7f9dc05af8889bce6552875afa0b06df0087f792ebb7c17504a5"));
        assert_eq!(s_ap, secret("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643"));
        let app = TrafficKeys::new(S256, &s_ap);
        assert_eq!(app.key[..16], hex("9f02283b6c9c07efc26bb9f2ac92e356")[..]);
        assert_eq!(app.iv[..], hex("cf782b88dd83549aadf1e984")[..]);
        let client_finished = finished_mac(S256, &c_hs, &th);
        assert_eq!(client_finished, secret("a8ec436d677634ae525ac1fcebe11a039ec17694fac6e98527b642f2edd5ce61"));
    }

    #[test]
    fn record_protection_matches_rfc_8448() {
        let s_hs = secret("b67b7d690cc16c4e75e54213cb2d37b4e9c912bcded9105d42befd59d391ad38");
        let record = hex(SERVER_FLIGHT_RECORD);
        let flight = hex(SERVER_FLIGHT);
        let header: [u8; 5] = record[..5].try_into().unwrap();
        let (body, tag) = record[5..].split_at(record.len() - 5 - TAG_LEN);

        // Sealing the plaintext reproduces the RFC's record byte for byte.
        let mut sealed = flight.clone();
        let got = TrafficKeys::new(S256, &s_hs).seal(&header, &mut sealed);
        assert_eq!(sealed, body);
        assert_eq!(got[..], tag[..]);

        // Opening it gives the plaintext back; one flipped bit anywhere is refused.
        let mut keys = TrafficKeys::new(S256, &s_hs);
        let mut opened = body.to_vec();
        keys.open(&header, &mut opened, tag.try_into().unwrap()).unwrap();
        assert_eq!(opened, flight);
        assert_eq!(keys.seq, 1);
        for at in [0, 100, body.len() - 1] {
            let mut bad = body.to_vec();
            bad[at] ^= 1;
            assert!(TrafficKeys::new(S256, &s_hs).open(&header, &mut bad, tag.try_into().unwrap()).is_err());
        }
        let mut bad_header = header;
        bad_header[4] ^= 1;
        let mut copy = body.to_vec();
        assert!(TrafficKeys::new(S256, &s_hs).open(&bad_header, &mut copy, tag.try_into().unwrap()).is_err());
        // The same record at sequence number 1 is refused (the nonce differs).
        let mut later = TrafficKeys::new(S256, &s_hs);
        later.seq = 1;
        let mut copy = body.to_vec();
        assert!(later.open(&header, &mut copy, tag.try_into().unwrap()).is_err());
    }

    #[test]
    fn key_update_follows_section_7_2() {
        // application_traffic_secret_N+1 = HKDF-Expand-Label(secret_N, "traffic upd", "", Hash.length)
        let s_ap = secret("a11af9f05531f856ad47116b45a950328204b4f44bfb6b3a4b4f1f3fcb631643");
        let next = TrafficKeys::new(S256, &s_ap).next();
        let want = expand_label(S256, &s_ap, b"traffic upd", &[], 32);
        assert_eq!(next.secret, want);
        assert_eq!(next.seq, 0);
        assert_ne!(next.key, TrafficKeys::new(S256, &s_ap).key);
    }

    #[test]
    fn sha384_suite_uses_48_byte_secrets() {
        let hs = handshake_secret(Suite::Aes256Sha384, &[7; 32]);
        assert_eq!(hs.as_bytes().len(), 48);
        let keys = TrafficKeys::new(Suite::Aes256Sha384, &hs);
        // A record sealed and opened under the 256-bit key round-trips; a 128-bit suite with the
        // same secret bytes cannot open it.
        let header = [23, 3, 3, 0, 21];
        let mut buf = *b"hello";
        let tag = keys.clone().seal(&header, &mut buf);
        let mut opened = buf;
        keys.clone().open(&header, &mut opened, &tag).unwrap();
        assert_eq!(&opened, b"hello");
        let mut other = TrafficKeys::new(Suite::Aes128Sha256, &hs);
        let mut copy = buf;
        assert!(other.open(&header, &mut copy, &tag).is_err());
    }
}
