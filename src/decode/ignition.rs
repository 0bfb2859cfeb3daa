//! Ignition spec 3 pointer sources: finding every remote Resource in a config, sans-IO, without
//! copying the config ([`Walk`]), and the base64 writer the resolver inlines fetched bytes with.
//!
//! Facts this follows (coreos/ignition at its 2026-07 head; docs/configuration-v3_0..v3_6.md,
//! internal/resource/url.go, internal/util/url.go):
//! - A Resource is an object with `source`, optional `compression` (null or `"gzip"`),
//!   `httpHeaders` (`[{name, value}]`, http/https only, spec 3.1+) and `verification.hash`
//!   (`sha512-HEX`; `sha256-HEX` from spec 3.1). Resources sit at `ignition.config.replace`,
//!   `ignition.config.merge[]`, `ignition.security.tls.certificateAuthorities[]`,
//!   `storage.files[].contents`, `storage.files[].append[]` and (spec 3.2+)
//!   `storage.luks[].keyFile`; [`Walk`] reports exactly those.
//! - Schemes: `http`, `https`, `tftp`, `s3`, `arn`, `gs` and `data` (RFC 2397). Only `data` (and
//!   an empty source) needs no network (`util.UrlNeedsNet`).
//! - `data:` URLs go through the same `decompressCopyHashAndVerify` as fetched bytes
//!   (`fetchFromDataURL`): a data URL is still decompressed and its hash checked.
//! - The hash is computed on the decompressed stream (`decompressCopyHashAndVerify` hashes what
//!   the decompressor yields; every spec's docs: "If `compression` is specified, the hash
//!   describes the decompressed …").
//! - Spec 2.x configs (`ignition.config.append`) are not read by Ignition v2 at all, so they are
//!   never walked here: the resolver only takes configs whose `ignition.version` is 3.x.

use super::json::{Event, JsonError, Scanner};
use core::ops::Range;

/// Where a Resource sits, which decides what the resolver does with it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// `ignition.config.replace` or `merge[]`: a child config, resolved recursively.
    Config,
    /// A file's `contents` or `append[]`, a LUKS key file: bytes Ignition writes or reads as
    /// they are.
    Data,
    /// `ignition.security.tls.certificateAuthorities[]`: a PEM bundle, bytes like `Data`, which
    /// Ignition also trusts for the config's own https fetches (`sources::authorities`).
    Ca,
}

/// A hash algorithm `verification.hash` names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Algo {
    Sha256,
    Sha512,
}

/// A parsed `verification.hash`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hash {
    pub algo: Algo,
    /// The digest; the first 32 bytes for SHA-256.
    pub digest: [u8; 64],
}

impl Hash {
    /// Parses `sha512-HEX` / `sha256-HEX` (lower or upper case hex, as Go's `hex.DecodeString`).
    pub fn parse(text: &[u8]) -> Option<Hash> {
        let (algo, hex, n) = if let Some(h) = text.strip_prefix(b"sha512-") {
            (Algo::Sha512, h, 64)
        } else if let Some(h) = text.strip_prefix(b"sha256-") {
            (Algo::Sha256, h, 32)
        } else {
            return None;
        };
        if hex.len() != 2 * n {
            return None;
        }
        let mut digest = [0u8; 64];
        for (i, pair) in hex.chunks(2).enumerate() {
            digest[i] = nibble(pair[0])? << 4 | nibble(pair[1])?;
        }
        Some(Hash { algo, digest })
    }

    /// The digest bytes that matter for this algorithm.
    pub fn bytes(&self) -> &[u8] {
        match self.algo {
            Algo::Sha256 => &self.digest[..32],
            Algo::Sha512 => &self.digest,
        }
    }
}

fn nibble(c: u8) -> Option<u8> {
    Some(match c {
        b'0'..=b'9' => c - b'0',
        b'a'..=b'f' => c - b'a' + 10,
        b'A'..=b'F' => c - b'A' + 10,
        _ => return None,
    })
}

/// One Resource object, reported when its closing `}` has been scanned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Site {
    pub kind: Kind,
    /// The object, `{` to `}` inclusive.
    pub object: Range<usize>,
    /// The `source` string, quotes included (still JSON-escaped); `None` when absent or null.
    pub source: Option<Range<usize>>,
    /// `compression: "gzip"`.
    pub gzip: bool,
    /// `compression` is a string other than `""` and `"gzip"`: Ignition refuses the config.
    pub bad_compression: bool,
    /// `verification.hash`, when present.
    pub hash: Option<Hash>,
    /// `verification.hash` present but not `sha512-`/`sha256-` with the right length of hex.
    pub bad_hash: bool,
    /// A non-empty `httpHeaders`.
    pub headers: bool,
}

/// Names on the path that matter, as tags (anything else is `Other`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Tag {
    Root,
    Item,
    Other,
    Ignition,
    Config,
    Replace,
    Merge,
    Security,
    Tls,
    Cas,
    Storage,
    Files,
    Contents,
    Append,
    Luks,
    KeyFile,
    Source,
    Compression,
    Verification,
    Hash,
    Headers,
}

const NAMES: [(&[u8], Tag); 18] = [
    (b"ignition", Tag::Ignition),
    (b"config", Tag::Config),
    (b"replace", Tag::Replace),
    (b"merge", Tag::Merge),
    (b"security", Tag::Security),
    (b"tls", Tag::Tls),
    (b"certificateAuthorities", Tag::Cas),
    (b"storage", Tag::Storage),
    (b"files", Tag::Files),
    (b"contents", Tag::Contents),
    (b"append", Tag::Append),
    (b"luks", Tag::Luks),
    (b"keyFile", Tag::KeyFile),
    (b"source", Tag::Source),
    (b"compression", Tag::Compression),
    (b"verification", Tag::Verification),
    (b"hash", Tag::Hash),
    (b"httpHeaders", Tag::Headers),
];

/// The Resource paths, container by container from the root object.
const PATHS: [(&[Tag], Kind); 6] = [
    (&[Tag::Root, Tag::Ignition, Tag::Config, Tag::Replace], Kind::Config),
    (&[Tag::Root, Tag::Ignition, Tag::Config, Tag::Merge, Tag::Item], Kind::Config),
    (&[Tag::Root, Tag::Ignition, Tag::Security, Tag::Tls, Tag::Cas, Tag::Item], Kind::Ca),
    (&[Tag::Root, Tag::Storage, Tag::Files, Tag::Item, Tag::Contents], Kind::Data),
    (&[Tag::Root, Tag::Storage, Tag::Files, Tag::Item, Tag::Append, Tag::Item], Kind::Data),
    (&[Tag::Root, Tag::Storage, Tag::Luks, Tag::Item, Tag::KeyFile], Kind::Data),
];

/// Containers deeper than this are never on a Resource's path (the deepest is 6, plus
/// `verification` and `httpHeaders[]` inside it).
const TRACK: usize = 9;

/// The walker's state besides the scanner (split so the scanner's callback can borrow it).
struct State {
    tags: [Tag; TRACK],
    /// Open containers.
    depth: usize,
    /// Bit `i`: the container at depth `i + 1` is an array.
    arrays: u16,
    /// The last key's tag and the index of its closing quote.
    key: Tag,
    key_end: usize,
    /// The Resource being scanned and its depth.
    open: Option<(Site, usize)>,
    ready: Option<Site>,
}

/// Walks a config and stops at each Resource; see the module docs. The config is validated as
/// it goes (a syntax error anywhere is an error, at the latest from the final [`Walk::next`]).
pub struct Walk {
    scanner: Scanner,
    state: State,
    pos: usize,
    finished: bool,
}

impl Default for Walk {
    fn default() -> Self {
        Self::new()
    }
}

impl Walk {
    pub const fn new() -> Walk {
        Walk {
            scanner: Scanner::new(),
            state: State {
                tags: [Tag::Other; TRACK],
                depth: 0,
                arrays: 0,
                key: Tag::Other,
                key_end: 0,
                open: None,
                ready: None,
            },
            pos: 0,
            finished: false,
        }
    }

    /// Scans `doc` (the same bytes every call) on from where the last call stopped, up to the end
    /// of the next Resource; `None` once the whole document has been scanned and is valid.
    pub fn next(&mut self, doc: &[u8]) -> Result<Option<Site>, JsonError> {
        let Walk { scanner, state, pos, finished } = self;
        while *pos < doc.len() {
            let at = *pos;
            *pos += 1;
            // One byte at a time: every event then names the byte that ended its token.
            scanner.push(&doc[at..at + 1], &mut |event, text| state.on(event, text, at, doc))?;
            if let Some(site) = state.ready.take() {
                return Ok(Some(site));
            }
        }
        if !*finished {
            scanner.finish(&mut |_, _| {})?;
            *finished = true;
        }
        Ok(None)
    }
}

impl State {
    fn on(&mut self, event: Event, text: Option<&[u8]>, at: usize, doc: &[u8]) {
        let d = self.depth;
        match event {
            Event::Key => {
                self.key = text.and_then(|t| NAMES.iter().find(|(n, _)| *n == t)).map_or(Tag::Other, |&(_, tag)| tag);
                self.key_end = at;
            }
            Event::Object | Event::Array => {
                let in_array = d > 0 && self.arrays & (1 << (d - 1).min(15)) != 0;
                let tag = match d {
                    0 => Tag::Root,
                    _ if in_array => Tag::Item,
                    _ => self.key,
                };
                if d < TRACK {
                    self.tags[d] = tag;
                }
                if d < 16 {
                    if event == Event::Array {
                        self.arrays |= 1 << d;
                    } else {
                        self.arrays &= !(1 << d);
                    }
                }
                self.depth = d + 1;
                if event == Event::Object {
                    match &mut self.open {
                        // `httpHeaders: [{…}]`: one header is enough to say there are some.
                        Some((site, rd)) if d == *rd + 1 && self.tags[*rd] == Tag::Headers => site.headers = true,
                        Some(_) => {}
                        None if d < TRACK => {
                            let path = &self.tags[..=d];
                            if let Some(&(_, kind)) = PATHS.iter().find(|(p, _)| *p == path) {
                                let site = Site {
                                    kind,
                                    object: at..at,
                                    source: None,
                                    gzip: false,
                                    bad_compression: false,
                                    hash: None,
                                    bad_hash: false,
                                    headers: false,
                                };
                                self.open = Some((site, d + 1));
                            }
                        }
                        None => {}
                    }
                }
            }
            Event::End => {
                self.depth = d.saturating_sub(1);
                if let Some((_, rd)) = &self.open
                    && d == *rd
                    && let Some((mut site, _)) = self.open.take()
                {
                    site.object.end = at + 1;
                    self.ready = Some(site);
                }
            }
            _ => {
                let Some((site, rd)) = &mut self.open else { return };
                if d == *rd {
                    match (self.key, event) {
                        (Tag::Source, Event::String) => {
                            // The value's opening quote is the first after the key's closing one.
                            let start =
                                doc[self.key_end + 1..].iter().position(|&b| b == b'"').map(|p| self.key_end + 1 + p);
                            site.source = start.map(|s| s..at + 1);
                        }
                        (Tag::Compression, Event::String) => {
                            site.gzip = text == Some(b"gzip");
                            site.bad_compression = !site.gzip && text != Some(b"");
                        }
                        _ => {}
                    }
                } else if d == *rd + 1 && self.tags[*rd] == Tag::Verification && self.key == Tag::Hash {
                    site.hash = None;
                    site.bad_hash = false;
                    if event == Event::String {
                        site.hash = text.and_then(Hash::parse);
                        site.bad_hash = site.hash.is_none();
                    }
                }
            }
        }
    }
}

/// The URL scheme of `url` in lower case, up to its `:` (RFC 3986 §3.1); `None` without one.
pub fn scheme(url: &[u8]) -> Option<&[u8]> {
    let colon = url.iter().position(|&b| b == b':')?;
    let s = &url[..colon];
    let ok = s.first().is_some_and(u8::is_ascii_alphabetic)
        && s.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'));
    ok.then_some(s)
}

/// True for the schemes flint fetches itself.
pub fn is_http(url: &[u8]) -> bool {
    scheme(url).is_some_and(|s| s.eq_ignore_ascii_case(b"http") || s.eq_ignore_ascii_case(b"https"))
}

/// Length of the base64 text (RFC 4648 §4, padded) of `n` bytes.
pub const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Encodes the 1–3 bytes of `group` as four base64 symbols (padded).
fn quad(group: &[u8]) -> [u8; 4] {
    let b = [group[0], *group.get(1).unwrap_or(&0), *group.get(2).unwrap_or(&0)];
    let v = (b[0] as u32) << 16 | (b[1] as u32) << 8 | b[2] as u32;
    let mut q = [b'='; 4];
    for (i, slot) in q.iter_mut().enumerate().take(group.len() + 1) {
        *slot = B64[(v >> (18 - 6 * i) & 63) as usize];
    }
    q
}

/// Writes the base64 text of `data` to the start of `out` (at least [`base64_len`] bytes).
pub fn base64(data: &[u8], out: &mut [u8]) {
    for (group, slot) in data.chunks(3).zip(out.chunks_mut(4)) {
        slot.copy_from_slice(&quad(group));
    }
}

/// Encodes `buf[..n]` in place into `buf[..base64_len(n)]`. Groups are encoded from the last
/// one back: group `g` reads bytes `3g..3g+3` and writes `4g..4g+4`, and every later group has
/// already been read, so nothing is overwritten before it is read.
pub fn base64_in_place(buf: &mut [u8], n: usize) {
    let mut g = n.div_ceil(3);
    while g > 0 {
        g -= 1;
        let group = &buf[3 * g..n.min(3 * g + 3)];
        let q = quad(group);
        buf[4 * g..4 * g + 4].copy_from_slice(&q);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::vec::Vec;

    fn sites(doc: &[u8]) -> Result<Vec<Site>, JsonError> {
        let mut w = Walk::new();
        let mut v = Vec::new();
        while let Some(s) = w.next(doc)? {
            v.push(s);
        }
        Ok(v)
    }

    #[test]
    fn every_resource_path_is_found_and_nothing_else() {
        let sha = "sha256-".to_string() + &"ab".repeat(32);
        let doc = std::format!(
            r#"{{"ignition":{{"version":"3.4.0","config":{{"merge":[{{"source":"https://a/1"}},{{"source":"data:,x","compression":"gzip"}}],
            "replace":{{"source":"http://b/r","verification":{{"hash":"{sha}"}},"httpHeaders":[{{"name":"a","value":"b"}}]}}}},
            "security":{{"tls":{{"certificateAuthorities":[{{"source":"s3://bucket/ca.pem"}}]}}}}}},
            "storage":{{"files":[{{"path":"/a","contents":{{"source":"https://f/a","compression":"zstd"}},"append":[{{"source":"http://f/b"}}]}}],
            "luks":[{{"name":"x","keyFile":{{"source":"tftp://k"}}}}]}},
            "other":{{"ignition":{{"config":{{"merge":[{{"source":"http://no"}}]}}}}}},
            "passwd":{{"users":[{{"name":"core","source":"http://no"}}]}}}}"#
        );
        let doc = doc.as_bytes();
        let found = sites(doc).unwrap();
        let sources: Vec<&[u8]> = found.iter().map(|s| &doc[s.source.clone().unwrap()]).collect();
        assert_eq!(
            sources,
            [
                &b"\"https://a/1\""[..],
                b"\"data:,x\"",
                b"\"http://b/r\"",
                b"\"s3://bucket/ca.pem\"",
                b"\"https://f/a\"",
                b"\"http://f/b\"",
                b"\"tftp://k\""
            ]
        );
        let kinds: Vec<Kind> = found.iter().map(|s| s.kind).collect();
        use Kind::*;
        assert_eq!(kinds, [Config, Config, Config, Ca, Data, Data, Data]);
        assert!(found[1].gzip && !found[1].bad_compression);
        assert!(!found[4].gzip && found[4].bad_compression);
        assert_eq!(found[2].hash.unwrap().algo, Algo::Sha256);
        assert_eq!(found[2].hash.unwrap().bytes(), &[0xab; 32][..]);
        assert!(found[2].headers && !found[0].headers);
        for s in &found {
            assert_eq!(doc[s.object.start], b'{');
            assert_eq!(doc[s.object.end - 1], b'}');
        }
    }

    #[test]
    fn bad_hashes_and_json() {
        let doc = br#"{"ignition":{"config":{"replace":{"source":"http://x","verification":{"hash":"md5-00"}}}}}"#;
        let s = sites(doc).unwrap();
        assert!(s[0].bad_hash && s[0].hash.is_none());
        assert_eq!(sites(br#"{"ignition":{"config":{"replace":{"source":"http://x"}}}"#), Err(JsonError::Incomplete));
        assert_eq!(sites(br#"{"ignition":{"config":{"replace":{"source":"http://x"}}}}x"#), Err(JsonError::Syntax));
        assert!(Hash::parse(&[&b"sha512-"[..], &[b'0'; 127]].concat()).is_none());
        assert!(Hash::parse(&[&b"sha512-"[..], &[b'g'; 128]].concat()).is_none());
        assert!(Hash::parse(&[&b"sha512-"[..], &[b'F'; 128]].concat()).is_some());
    }

    #[test]
    fn base64_matches_the_base64_crate_in_both_forms() {
        use base64::Engine;
        for n in 0..100usize {
            let data: Vec<u8> = (0..n).map(|i| (i * 91 + 7) as u8).collect();
            let want = base64::engine::general_purpose::STANDARD.encode(&data);
            let mut out = std::vec![0u8; base64_len(n)];
            base64(&data, &mut out);
            assert_eq!(out, want.as_bytes());
            let mut buf = std::vec![0u8; base64_len(n)];
            buf[..n].copy_from_slice(&data);
            base64_in_place(&mut buf, n);
            assert_eq!(buf, want.as_bytes());
        }
    }

    #[test]
    fn schemes() {
        assert!(is_http(b"HTTPS://x") && is_http(b"http://x"));
        assert!(!is_http(b"s3://x") && !is_http(b"data:,") && !is_http(b"/x:y") && !is_http(b"httpx://"));
        assert_eq!(scheme(b"data:;base64,"), Some(&b"data"[..]));
        assert_eq!(scheme(b"1a:b"), None);
    }
}
