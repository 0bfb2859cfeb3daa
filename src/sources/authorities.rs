//! Ignition's own trust anchors, sans-IO: the certificates a spec 3 config names in
//! `ignition.security.tls.certificateAuthorities[]`, gathered as DER before the first of its
//! pointers is fetched, so that flint trusts them for that config's https fetches as Ignition
//! does. The caller fetches what [`Authorities::step`] asks for and hands back the body.
//!
//! What Ignition does (coreos/ignition, 2026-07 head): `internal/exec/engine.go` calls
//! `Fetcher.UpdateHttpTimeoutsAndCAs` with the user config's CAs before `RenderConfig` fetches
//! any `replace`/`merge` source, so their place in the text does not matter; the same call
//! precedes the files stage. `internal/resource/http.go` (`getCABlob`, `parseCABundle`): each CA
//! source is fetched like any Resource (`data:`, http(s), …; `compression` undone,
//! `verification.hash` checked on the decompressed bytes), with the client as it was before
//! the update (so over https only the anchors known so far vouch for it); the blob must be
//! PEM, one or more certificates, each added to the system pool. A CA that cannot be fetched,
//! has the wrong hash or is not PEM fails the whole run.
//!
//! Here: the sources are found with [`Walk`] (its [`Kind::Ca`] sites); `data:` URLs (RFC 2397:
//! `data:[<mediatype>][;base64],<data>`, the data percent-encoded per RFC 3986 §2.1) are decoded
//! here, http(s) ones are asked of the caller, other schemes (`s3:`, `tftp:`, …) and sources
//! with `httpHeaders` are skipped and counted ([`Authorities::left_remote`]): flint cannot fetch
//! them, and a pointer that needs them then fails its certificate check, as it would without
//! them. Every PEM certificate is converted to DER into the caller's buffer, which
//! [`crate::tls::Trust::extra`] then takes. Only the config given is read: the CAs of a child
//! config of `merge`/`replace` are not gathered (its pointers are fetched with its parent's).

use crate::decode::ignition::{self, Kind, Site, Walk};
use crate::decode::{self, DecodeError, WINDOW, json};
use crate::sources::pointer::{Hasher, Sink};
use core::fmt;

/// Why the trust anchors of a config could not be gathered: Ignition fails the run for each.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaError {
    /// The config is not valid JSON.
    Json,
    /// A `data:` URL without its `,`, with a bad `%` escape or bad base64.
    DataUrl,
    /// A CA source that holds no PEM certificate.
    Pem,
    /// A CA that does not match its `verification.hash`.
    Hash,
    /// A `verification.hash` that is not `sha512-HEX` or `sha256-HEX`.
    HashFormat,
    /// A `compression` other than `gzip`.
    Compression,
    /// Invalid gzip.
    Gzip,
    /// The certificates do not fit the buffer (or the scratch space is too small).
    TooLarge,
    /// More CA sources than the caller allows fetching.
    Count,
    /// `fetched` without a fetch asked for.
    Order,
}

impl fmt::Display for CaError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaError::Json => "Ignition config is not valid JSON",
            CaError::DataUrl => "a certificate authority's data: URL is invalid",
            CaError::Pem => "a certificate authority source holds no PEM certificate",
            CaError::Hash => "a certificate authority does not match its verification hash",
            CaError::HashFormat => "a certificate authority has an unsupported verification hash",
            CaError::Compression => "a certificate authority has an unsupported compression",
            CaError::Gzip => "a certificate authority is not valid gzip",
            CaError::TooLarge => "the config's certificate authorities are too large",
            CaError::Count => "too many certificate authorities to fetch",
            CaError::Order => "certificate authority gathering used out of order",
        })
    }
}

impl core::error::Error for CaError {}

/// What the caller does next.
#[derive(Debug, PartialEq, Eq)]
pub enum CaStep<'s> {
    /// GET this absolute http(s) URL and give the body to [`Authorities::fetched`].
    Fetch(&'s [u8]),
    /// Every source was read; [`Authorities::finish`] has the DER.
    Done,
}

/// The gathering; see the module docs.
pub struct Authorities<'b> {
    der: &'b mut [u8],
    len: usize,
    walk: Walk,
    /// The site whose source is being fetched.
    pending: Option<Site>,
    fetches: u16,
    max_fetches: u16,
    left: u16,
}

impl<'b> Authorities<'b> {
    /// Gathers into `der` (every certificate's DER, one after another); at most `max_fetches`
    /// sources are fetched.
    pub fn new(der: &'b mut [u8], max_fetches: u16) -> Authorities<'b> {
        Authorities { der, len: 0, walk: Walk::new(), pending: None, fetches: 0, max_fetches, left: 0 }
    }

    /// Reads `config` (the same bytes every call) on to its next CA source: a `data:` one is
    /// decoded here (with `scratch` and `window` as working memory), an http(s) one is written
    /// to `scratch` and asked for. Bounded: each call moves the walk on past one source.
    pub fn step<'s>(
        &mut self,
        config: &[u8],
        scratch: &'s mut [u8],
        window: &mut [u8; WINDOW],
    ) -> Result<CaStep<'s>, CaError> {
        if self.pending.is_some() {
            return Err(CaError::Order);
        }
        loop {
            let Some(site) = self.walk.next(config).map_err(|_| CaError::Json)? else { return Ok(CaStep::Done) };
            if site.kind != Kind::Ca {
                continue;
            }
            let Some(source) = site.source.clone() else { continue };
            // Unescaped as JSON (a `\/` in a URL is common in generated JSON).
            let raw = &config[source.start + 1..source.end - 1];
            let room = scratch.get_mut(..raw.len()).ok_or(CaError::TooLarge)?;
            room.copy_from_slice(raw);
            let n = json::unescape_in_place(room);
            let url = &scratch[..n];
            let is_data = ignition::scheme(url).is_some_and(|s| s.eq_ignore_ascii_case(b"data"));
            if n == 0 || !is_data && (!ignition::is_http(url) || site.headers) {
                if n > 0 {
                    self.left = self.left.saturating_add(1);
                }
                continue;
            }
            if site.bad_compression {
                return Err(CaError::Compression);
            }
            if site.bad_hash {
                return Err(CaError::HashFormat);
            }
            if is_data {
                let (text, out) = scratch.split_at_mut(n);
                let m = data_url(text, out)?;
                self.add(&site, &out[..m], window)?;
                continue;
            }
            if self.fetches >= self.max_fetches {
                return Err(CaError::Count);
            }
            self.fetches += 1;
            self.pending = Some(site);
            return Ok(CaStep::Fetch(&scratch[..n]));
        }
    }

    /// The body of the last [`CaStep::Fetch`] (a 2xx answer).
    pub fn fetched(&mut self, body: &[u8], window: &mut [u8; WINDOW]) -> Result<(), CaError> {
        let site = self.pending.take().ok_or(CaError::Order)?;
        self.add(&site, body, window)
    }

    /// Sources skipped: a scheme flint does not fetch, or `httpHeaders`.
    pub fn left_remote(&self) -> u16 {
        self.left
    }

    /// The DER of every certificate gathered, concatenated (empty when there were none).
    pub fn finish(self) -> &'b [u8] {
        let Authorities { der, len, .. } = self;
        &der[..len]
    }

    /// Decompresses and checks `bytes` as `site` says, then keeps its certificates as DER.
    // Out of line and on the resolver's own `Sink`: one gunzip instance for both.
    #[inline(never)]
    fn add(&mut self, site: &Site, bytes: &[u8], window: &mut [u8; WINDOW]) -> Result<(), CaError> {
        let free = &mut self.der[self.len..];
        let mut sink = Sink { buf: free, n: 0, keep: true, hasher: Hasher::new(&site.hash) };
        if site.gzip {
            decode::gunzip(bytes, window, u64::MAX, &mut sink).map_err(|e| match e {
                DecodeError::Sink | DecodeError::TooLarge => CaError::TooLarge,
                _ => CaError::Gzip,
            })?;
        } else {
            embedded_io::Write::write_all(&mut sink, bytes).map_err(|_| CaError::TooLarge)?;
        }
        if let (Some(h), Some(hash)) = (sink.hasher.take(), &site.hash)
            && !h.matches(hash)
        {
            return Err(CaError::Hash);
        }
        let n = sink.n;
        // PEM to DER in place, over the text just written (DER is always the shorter).
        let d = crate::tls::pki::pem_to_der(&mut self.der[self.len..self.len + n]);
        if d == 0 {
            return Err(CaError::Pem);
        }
        self.len += d;
        Ok(())
    }
}

/// Decodes the RFC 2397 URL `url` (`data:` and all) into `out`; returns the length. The data
/// after the first `,` is percent-decoded (RFC 3986 §2.1), then base64-decoded when the part
/// before it ends with `;base64` (the media type is not looked at: a CA is PEM whatever it says).
pub fn data_url(url: &mut [u8], out: &mut [u8]) -> Result<usize, CaError> {
    let comma = url.iter().position(|&b| b == b',').ok_or(CaError::DataUrl)?;
    let (head, data) = url.split_at_mut(comma);
    let data = &mut data[1..];
    let base64 = head.len() >= 7 && head[head.len() - 7..].eq_ignore_ascii_case(b";base64");
    // Percent-decoding shrinks, so it is done in place.
    let mut w = 0;
    let mut r = 0;
    while r < data.len() {
        let b = if data[r] == b'%' {
            let hex = data.get(r + 1..r + 3).ok_or(CaError::DataUrl)?;
            let v = hex_value(hex[0]).zip(hex_value(hex[1])).ok_or(CaError::DataUrl)?;
            r += 3;
            v.0 << 4 | v.1
        } else {
            r += 1;
            data[r - 1]
        };
        data[w] = b;
        w += 1;
    }
    if base64 {
        return decode::unbase64(&mut data[..w], out).map_err(|_| CaError::DataUrl);
    }
    out.get_mut(..w).ok_or(CaError::TooLarge)?.copy_from_slice(&data[..w]);
    Ok(w)
}

fn hex_value(c: u8) -> Option<u8> {
    (c as char).to_digit(16).map(|v| v as u8)
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use base64::Engine as _;
    use sha2::Digest;
    use std::string::String;
    use std::vec::Vec;
    use std::{format, vec};

    fn ca(name: &str) -> (String, Vec<u8>) {
        let mut params = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
        params.distinguished_name.push(rcgen::DnType::CommonName, name);
        params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = params.self_signed(&key).unwrap();
        (cert.pem(), cert.der().to_vec())
    }

    fn b64(b: &[u8]) -> String {
        base64::engine::general_purpose::STANDARD.encode(b)
    }

    fn percent(b: &[u8]) -> String {
        b.iter()
            .map(|&c| if c.is_ascii_alphanumeric() || c == b'-' { (c as char).into() } else { format!("%{c:02X}") })
            .collect()
    }

    fn gzip(b: &[u8]) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(b).unwrap();
        e.finish().unwrap()
    }

    /// Runs a gathering over `config`, answering fetches from `served` (URL, body); returns the
    /// DER, the URLs asked for and the sources left.
    fn gather(config: &str, served: &[(&str, &[u8])]) -> Result<(Vec<u8>, Vec<String>, u16), CaError> {
        let mut der = vec![0u8; 64 << 10];
        let mut scratch = vec![0u8; 64 << 10];
        let mut window = std::boxed::Box::new([0u8; WINDOW]);
        let mut a = Authorities::new(&mut der, 4);
        let mut asked = Vec::new();
        for _ in 0..100 {
            match a.step(config.as_bytes(), &mut scratch, &mut window)? {
                CaStep::Done => {
                    let left = a.left_remote();
                    return Ok((a.finish().to_vec(), asked, left));
                }
                CaStep::Fetch(url) => {
                    let url = String::from_utf8(url.to_vec()).unwrap();
                    let body = served.iter().find(|(u, _)| *u == url).map(|(_, b)| *b).unwrap();
                    asked.push(url);
                    a.fetched(body, &mut window)?;
                }
            }
        }
        panic!("no end");
    }

    #[test]
    fn every_form_of_source_gives_its_certificates_in_order() {
        let (pem1, der1) = ca("one");
        let (pem2, der2) = ca("two");
        let (pem3, der3) = ca("three");
        let (pem4, der4) = ca("four");
        let bundle = format!("{pem3}\n{pem4}");
        let gz = gzip(pem2.as_bytes());
        let sha = hex(&sha2::Sha512::digest(pem2.as_bytes()));
        // The merge comes first in the text; the CAs still are all found, and nothing else is.
        let config = format!(
            r#"{{"ignition":{{"version":"3.4.0","config":{{"merge":[{{"source":"https://m/child.ign"}}]}},
            "security":{{"tls":{{"certificateAuthorities":[
              {{"source":"data:;base64,{}"}},
              {{"source":"data:text/plain;charset=utf-8;BASE64,{}","compression":"gzip","verification":{{"hash":"sha512-{sha}"}}}},
              {{"source":"https:\/\/ca.example\/bundle.pem"}},
              {{"source":"s3://bucket/ca.pem"}},
              {{"source":"https://h/ca.pem","httpHeaders":[{{"name":"a","value":"b"}}]}},
              {{"source":"data:,{}"}}]}}}}}},
            "storage":{{"files":[{{"path":"/a","contents":{{"source":"https://f/a"}}}}]}}}}"#,
            b64(pem1.as_bytes()),
            b64(&gz),
            percent(pem1.as_bytes()),
        );
        let (der, asked, left) = gather(&config, &[("https://ca.example/bundle.pem", bundle.as_bytes())]).unwrap();
        assert_eq!(der, [&der1[..], &der2, &der3, &der4, &der1].concat());
        assert_eq!(asked, ["https://ca.example/bundle.pem"]);
        assert_eq!(left, 2);
        let anchors = crate::tls::pki::Anchors::new(&der);
        assert_eq!(anchors.count(), 5);
    }

    fn hex(b: &[u8]) -> String {
        b.iter().map(|x| format!("{x:02x}")).collect()
    }

    fn one(source: &str, extra: &str) -> Result<(Vec<u8>, Vec<String>, u16), CaError> {
        let config = format!(
            r#"{{"ignition":{{"version":"3.3.0","security":{{"tls":{{"certificateAuthorities":[{{"source":"{source}"{extra}}}]}}}}}}}}"#
        );
        gather(&config, &[("http://ca/x", b"not pem")])
    }

    #[test]
    fn failures_are_named() {
        let (pem, _) = ca("x");
        let data = format!("data:;base64,{}", b64(pem.as_bytes()));
        assert!(one(&data, "").is_ok());
        let wrong = format!(r#","verification":{{"hash":"sha256-{}"}}"#, "00".repeat(32));
        assert_eq!(one(&data, &wrong).unwrap_err(), CaError::Hash);
        let right = format!(r#","verification":{{"hash":"sha256-{}"}}"#, hex(&sha2::Sha256::digest(pem.as_bytes())));
        assert!(one(&data, &right).is_ok());
        assert_eq!(one(&data, r#","verification":{"hash":"md5-00"}"#).unwrap_err(), CaError::HashFormat);
        assert_eq!(one(&data, r#","compression":"zstd""#).unwrap_err(), CaError::Compression);
        assert_eq!(one(&data, r#","compression":"gzip""#).unwrap_err(), CaError::Gzip);
        assert_eq!(one("http://ca/x", "").unwrap_err(), CaError::Pem);
        assert_eq!(one("data:,%4", "").unwrap_err(), CaError::DataUrl);
        assert_eq!(one("data:;base64", "").unwrap_err(), CaError::DataUrl);
        assert_eq!(one("data:;base64,!!!!", "").unwrap_err(), CaError::DataUrl);
        assert_eq!(gather(r#"{"ignition":{"version":"3.3.0"}"#, &[]).unwrap_err(), CaError::Json);
        // Nothing named: nothing gathered, nothing asked.
        assert_eq!(gather(r#"{"ignition":{"version":"3.3.0"}}"#, &[]).unwrap(), (vec![], vec![], 0));
    }

    #[test]
    fn bounds_hold() {
        let (pem, _) = ca("x");
        let config = format!(
            r#"{{"ignition":{{"version":"3.3.0","security":{{"tls":{{"certificateAuthorities":[{}]}}}}}}}}"#,
            [r#"{"source":"http://ca/x"}"#; 5].join(",")
        );
        let err = gather(&config, &[("http://ca/x", pem.as_bytes())]).unwrap_err();
        assert_eq!(err, CaError::Count);
        // A buffer too small for the PEM text is an error, not a truncated anchor.
        let mut der = vec![0u8; pem.len() - 1];
        let mut scratch = vec![0u8; 256];
        let mut window = std::boxed::Box::new([0u8; WINDOW]);
        let mut a = Authorities::new(&mut der, 4);
        let config = r#"{"ignition":{"version":"3.3.0","security":{"tls":{"certificateAuthorities":[{"source":"http://ca/x"}]}}}}"#;
        assert_eq!(a.step(config.as_bytes(), &mut scratch, &mut window).unwrap(), CaStep::Fetch(b"http://ca/x"));
        assert_eq!(a.step(config.as_bytes(), &mut scratch, &mut window).unwrap_err(), CaError::Order);
        assert_eq!(a.fetched(pem.as_bytes(), &mut window).unwrap_err(), CaError::TooLarge);
        assert_eq!(a.fetched(pem.as_bytes(), &mut window).unwrap_err(), CaError::Order);
    }

    #[test]
    fn data_urls() {
        let mut out = [0u8; 64];
        let mut url = *b"data:,a%20b%2Cc,d";
        let n = data_url(&mut url, &mut out).unwrap();
        assert_eq!(&out[..n], b"a b,c,d");
        let mut url = *b"data:;base64,aGk%3D";
        let n = data_url(&mut url, &mut out).unwrap();
        assert_eq!(&out[..n], b"hi");
        let mut url = *b"data:text/plain,x%zz";
        assert_eq!(data_url(&mut url, &mut out), Err(CaError::DataUrl));
        let mut url = *b"data:,0123456789";
        assert_eq!(data_url(&mut url, &mut out[..5]), Err(CaError::TooLarge));
    }
}
