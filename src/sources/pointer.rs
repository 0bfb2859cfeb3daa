//! Pointers in user-data, resolved before anything is written, sans-IO: cloud-init `#include`
//! lists and Ignition spec 3 remote Resources. The caller (the engine) asks [`Resolver::step`]
//! what to do, fetches each URL it is given over http or https and hands back the body
//! ([`Resolver::fetched`]) or the failure ([`Resolver::failed`]); at the end it gets the
//! self-contained user-data to hand on.
//!
//! - `#include` ([`include`] has cloud-init's rules): every http(s) URL is fetched in order,
//!   gunzipped when gzip, and a fetched include list is resolved in turn (depth-first, as
//!   cloud-init appends parts); one part is the user-data itself, several become one
//!   `multipart/mixed` document ([`include::mime`]). A URL of another scheme (`file:`, …) is left
//!   for cloud-init as a one-line `#include` part and counted in [`Resolver::left_remote`].
//! - Ignition ([`ignition`] has Ignition's rules): only configs whose `ignition.version` is 3.x
//!   (spec 2 configs, with `ignition.config.append`, are handed on untouched: Ignition v2 does not
//!   read them and flint's hand-off refuses them). For every Resource with an http(s) `source`:
//!   `verification.hash` is checked over the decompressed bytes (Ignition's rule), then
//!   - `replace` / `merge[]`: the child is gunzipped when `compression: gzip`, must itself be a
//!     spec 3 config, is resolved the same way (to `depth`), and the whole Resource object
//!     becomes `{"source":"data:;base64,…"}` holding the resolved child: its `compression`,
//!     `verification` and `httpHeaders` go, since the hash was checked here and describes the
//!     unresolved bytes, not the resolved child Ignition now reads.
//!   - files' `contents` and `append[]`, certificate bundles, LUKS key files: only `source`
//!     becomes `"data:;base64,…"` of the bytes as fetched; `compression` and `verification`
//!     stay, because Ignition applies both to data URLs too, so it still decompresses and checks.
//!     These inlined bytes count against `inline_max`; a source past it is left as it was.
//!
//!   `data:` sources and empty ones stay; `s3:`, `gs:`, `arn:`, `tftp:` and other schemes, and
//!   http(s) sources with `httpHeaders` (the fetch API carries no headers), are left as they
//!   were and counted in [`Resolver::left_remote`]: Ignition then needs the network for them.
//!   Every other byte of every config is copied as it is.
//! - Anything else (a `#cloud-config`, a script, MIME, spec 2 JSON) is done at once, unchanged.
//!   Include parts inside a MIME user-data are not resolved (cloud-init fetches them later).
//!
//! Memory: everything lives in `work`, a bump arena, plus this struct (five JSON walkers, about
//! 11 KiB). The top [`WINDOW`] bytes of `work` are the inflate window while a gzip body is
//! decompressed. Include: the user-data, then every fetched part (each at most `fetch_max`
//! after gunzip), then the MIME document (the parts again, 4/3 of a binary one, plus ~150 B of
//! headers each). Ignition: per level of nesting the config's text, then its rewritten copy, then
//! the child's; a finished child is base64-encoded in place over its own text into its parent's
//! copy. So `work` must hold `WINDOW` + the user-data + about twice what is fetched (4/3 for what
//! is inlined, again for each level a child config is nested in). Running out is
//! [`PointerError::NoRoom`], never a truncated result.

use crate::decode::ignition::{self, Algo, Hash, Kind, Site, Walk};
use crate::decode::{self, DecodeError, WINDOW, include, json};
use crate::sources::meta::{IgnitionCheck, Verdict};
use core::fmt;
use core::ops::Range;
use sha2::{Digest, Sha256, Sha512};

/// The bounds of one resolution.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Deepest nesting of include lists or child configs (the user-data is depth 0); at most
    /// [`DEPTH_CAP`].
    pub depth: u8,
    /// Most fetches in all.
    pub count: u16,
    /// Largest body of one fetch, before and after gunzip.
    pub fetch_max: usize,
    /// Most bytes of base64 text inlined for Ignition file-like sources.
    pub inline_max: usize,
}

/// The deepest nesting any [`Limits`] may ask for.
pub const DEPTH_CAP: u8 = 4;
const LEVELS: usize = DEPTH_CAP as usize + 1;
/// Most parts of one include resolution.
pub const PARTS_MAX: usize = 64;

/// What the caller does next.
#[derive(Debug, PartialEq, Eq)]
pub enum Step<'r> {
    /// GET this absolute URL (byte for byte) and give the body to [`Resolver::fetched`].
    Fetch(&'r [u8]),
    /// The resolved user-data.
    Done(&'r [u8]),
}

/// Why a resolution failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PointerError {
    /// Nested deeper than `depth`.
    Depth,
    /// More fetches than `count`, or more include parts than [`PARTS_MAX`].
    Count,
    /// A body over `fetch_max` (before or after gunzip).
    TooLarge,
    /// `work` is too small for the resolved document.
    NoRoom,
    /// A body does not match its `verification.hash`.
    Hash,
    /// A `verification.hash` that is not `sha512-HEX` or `sha256-HEX`.
    HashFormat,
    /// A `compression` other than `gzip`.
    Compression,
    /// The fetch failed with this HTTP status (0: transport).
    Status(u16),
    /// A config that is not valid JSON.
    Json,
    /// A `merge`/`replace` child that is not a spec 3 Ignition config.
    NotConfig,
    /// A URL with bytes a request line cannot carry.
    Url,
    /// A body that is not valid gzip.
    Gzip,
    /// No MIME boundary could be found (never expected).
    Boundary,
    /// `fetched` or `failed` without a fetch asked for.
    Order,
}

impl fmt::Display for PointerError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PointerError::Depth => "pointers nested too deeply",
            PointerError::Count => "too many pointers",
            PointerError::TooLarge => "pointed-to document too large",
            PointerError::NoRoom => "resolved user-data too large",
            PointerError::Hash => "pointed-to document does not match its verification hash",
            PointerError::HashFormat => "unsupported verification hash",
            PointerError::Compression => "unsupported compression",
            PointerError::Status(_) => "pointer fetch failed",
            PointerError::Json => "Ignition config is not valid JSON",
            PointerError::NotConfig => "merged or replacing config is not an Ignition spec 3 config",
            PointerError::Url => "invalid pointer URL",
            PointerError::Gzip => "invalid gzip in pointed-to document",
            PointerError::Boundary => "no MIME boundary found",
            PointerError::Order => "pointer resolver used out of order",
        })?;
        if let PointerError::Status(s) = self {
            write!(f, " (HTTP {s})")?;
        }
        Ok(())
    }
}

impl core::error::Error for PointerError {}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Mode {
    Include,
    Ignition,
    Done,
    Failed(PointerError),
}

/// An include list being read: its text and the offset of the next line.
#[derive(Clone)]
struct List {
    text: Range<usize>,
    at: usize,
}

/// A config being rewritten: its text, where its rewritten copy starts, how far the text has
/// been copied, and the walk over it.
struct Frame {
    src: Range<usize>,
    out: usize,
    copied: usize,
    walk: Walk,
}

impl Frame {
    const fn new() -> Frame {
        Frame { src: 0..0, out: 0, copied: 0, walk: Walk::new() }
    }
}

/// What [`Resolver::step`] decided, as ranges of `work`.
enum Next {
    Fetch(Range<usize>),
    Done(Range<usize>),
}

/// The resolver; see the module docs.
pub struct Resolver<'m> {
    work: &'m mut [u8],
    limits: Limits,
    mode: Mode,
    /// End of the bytes in use.
    top: usize,
    fetches: u16,
    remote: u16,
    inlined: usize,
    /// The URL asked for and not answered yet.
    pending: Option<Range<usize>>,
    done: Range<usize>,
    lists: [List; LEVELS],
    nlists: usize,
    parts: [Range<usize>; PARTS_MAX],
    nparts: usize,
    frames: [Frame; LEVELS],
    nframes: usize,
    /// The Resource whose source is being fetched.
    site: Option<Site>,
}

/// The hash being computed over a body.
pub(crate) enum Hasher {
    Sha256(Sha256),
    Sha512(Sha512),
}

impl Hasher {
    pub(crate) fn new(hash: &Option<Hash>) -> Option<Hasher> {
        hash.as_ref().map(|h| match h.algo {
            Algo::Sha256 => Hasher::Sha256(Sha256::new()),
            Algo::Sha512 => Hasher::Sha512(Sha512::new()),
        })
    }

    fn update(&mut self, data: &[u8]) {
        match self {
            Hasher::Sha256(h) => h.update(data),
            Hasher::Sha512(h) => h.update(data),
        }
    }

    pub(crate) fn matches(self, hash: &Hash) -> bool {
        match self {
            Hasher::Sha256(h) => h.finalize()[..] == *hash.bytes(),
            Hasher::Sha512(h) => h.finalize()[..] == *hash.bytes(),
        }
    }
}

/// Where decoded bytes go: kept in `buf` (when `keep`) and hashed. One type, so the gzip code
/// is instantiated once for every use here.
pub(crate) struct Sink<'a> {
    pub(crate) buf: &'a mut [u8],
    pub(crate) n: usize,
    pub(crate) keep: bool,
    pub(crate) hasher: Option<Hasher>,
}

impl embedded_io::ErrorType for Sink<'_> {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for Sink<'_> {
    fn write(&mut self, data: &[u8]) -> Result<usize, Self::Error> {
        if self.keep {
            let dst = self.buf.get_mut(self.n..self.n + data.len()).ok_or(embedded_io::ErrorKind::OutOfMemory)?;
            dst.copy_from_slice(data);
            self.n += data.len();
        }
        if let Some(h) = &mut self.hasher {
            h.update(data);
        }
        Ok(data.len())
    }

    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

fn decode_error(e: DecodeError) -> PointerError {
    match e {
        DecodeError::TooLarge => PointerError::TooLarge,
        DecodeError::Sink => PointerError::NoRoom,
        _ => PointerError::Gzip,
    }
}

const DATA_URL: &[u8] = b"\"data:;base64,";
const DATA_OBJECT: &[u8] = b"{\"source\":\"data:;base64,";

impl<'m> Resolver<'m> {
    /// Takes a copy of `user_data` into `work` and decides what it is (see the module docs).
    pub fn new(user_data: &[u8], work: &'m mut [u8], limits: Limits) -> Result<Resolver<'m>, PointerError> {
        let n = user_data.len();
        work.get_mut(..n).ok_or(PointerError::NoRoom)?.copy_from_slice(user_data);
        let mode = if include::is_include(user_data) {
            Mode::Include
        } else if ignition_config(user_data) {
            Mode::Ignition
        } else {
            Mode::Done
        };
        let mut r = Resolver {
            work,
            limits: Limits { depth: limits.depth.min(DEPTH_CAP), ..limits },
            mode,
            top: n,
            fetches: 0,
            remote: 0,
            inlined: 0,
            pending: None,
            done: 0..n,
            lists: [const { List { text: 0..0, at: 0 } }; LEVELS],
            nlists: 0,
            parts: [const { 0..0 }; PARTS_MAX],
            nparts: 0,
            frames: [const { Frame::new() }; LEVELS],
            nframes: 0,
            site: None,
        };
        match mode {
            Mode::Include => {
                r.lists[0] = List { text: 0..n, at: 0 };
                r.nlists = 1;
            }
            Mode::Ignition => {
                r.frames[0].src = 0..n;
                r.frames[0].out = n;
                r.nframes = 1;
            }
            _ => {}
        }
        Ok(r)
    }

    /// What to do next: fetch a URL, or take the result. After an error, the same error again.
    pub fn step(&mut self) -> Result<Step<'_>, PointerError> {
        let next = match self.mode {
            Mode::Failed(e) => return Err(e),
            Mode::Done => Next::Done(self.done.clone()),
            _ if self.pending.is_some() => Next::Fetch(self.pending.clone().unwrap_or(0..0)),
            Mode::Include => self.guard(Self::step_include)?,
            Mode::Ignition => self.guard(Self::step_ignition)?,
        };
        Ok(match next {
            Next::Fetch(r) => Step::Fetch(&self.work[r]),
            Next::Done(r) => Step::Done(&self.work[r]),
        })
    }

    /// The body of the last [`Step::Fetch`] (a 2xx answer, redirects followed).
    pub fn fetched(&mut self, body: &[u8]) -> Result<(), PointerError> {
        if let Mode::Failed(e) = self.mode {
            return Err(e);
        }
        if self.pending.take().is_none() {
            return Err(PointerError::Order);
        }
        let r = if body.len() > self.limits.fetch_max {
            Err(PointerError::TooLarge)
        } else if self.mode == Mode::Include {
            self.fetched_include(body)
        } else {
            self.fetched_ignition(body)
        };
        r.map_err(|e| self.fail(e))
    }

    /// The last [`Step::Fetch`] failed with HTTP `status` (0: a transport failure): a pointer
    /// that cannot be followed fails the whole resolution.
    pub fn failed(&mut self, status: u16) -> PointerError {
        if self.pending.take().is_none() {
            return PointerError::Order;
        }
        self.fail(PointerError::Status(status))
    }

    /// How many sources were left as they were (past `inline_max`, a scheme flint does not
    /// fetch, or `httpHeaders`); the next stage needs the network for them.
    pub fn left_remote(&self) -> u16 {
        self.remote
    }

    fn fail(&mut self, e: PointerError) -> PointerError {
        self.mode = Mode::Failed(e);
        self.pending = None;
        e
    }

    fn guard(&mut self, f: fn(&mut Self) -> Result<Next, PointerError>) -> Result<Next, PointerError> {
        f(self).map_err(|e| self.fail(e))
    }

    fn room(&self, n: usize) -> Result<usize, PointerError> {
        let end = self.top.checked_add(n).filter(|&e| e <= self.work.len()).ok_or(PointerError::NoRoom)?;
        Ok(end)
    }

    /// Appends `s` at the top of the arena.
    fn put(&mut self, s: &[u8]) -> Result<(), PointerError> {
        let end = self.room(s.len())?;
        self.work[self.top..end].copy_from_slice(s);
        self.top = end;
        Ok(())
    }

    /// Appends a copy of `work[from]` at the top of the arena.
    fn put_within(&mut self, from: Range<usize>) -> Result<(), PointerError> {
        let end = self.room(from.len())?;
        self.work.copy_within(from, self.top);
        self.top = end;
        Ok(())
    }

    /// Asks for `url`, if the budget of fetches allows.
    fn ask(&mut self, url: Range<usize>) -> Result<Next, PointerError> {
        if !self.work[url.clone()].iter().all(|b| (0x21..0x7f).contains(b)) {
            return Err(PointerError::Url);
        }
        if self.fetches >= self.limits.count {
            return Err(PointerError::Count);
        }
        self.fetches += 1;
        self.pending = Some(url.clone());
        Ok(Next::Fetch(url))
    }

    /// Writes `body` at the top of the arena (not committed), gunzipped when `gzip`, hashing
    /// what is written; returns its length.
    fn unpack(&mut self, body: &[u8], gzip: bool, hash: &Option<Hash>, keep: bool) -> Result<usize, PointerError> {
        let limit = self.work.len().checked_sub(WINDOW).ok_or(PointerError::NoRoom)?;
        let (head, tail) = self.work.split_at_mut(limit);
        let window: &mut [u8; WINDOW] = (&mut tail[..WINDOW]).try_into().map_err(|_| PointerError::NoRoom)?;
        let mut sink = Sink { buf: head.get_mut(self.top..).unwrap_or(&mut []), n: 0, keep, hasher: Hasher::new(hash) };
        let max = self.limits.fetch_max as u64;
        if gzip {
            decode::gunzip(body, window, max, &mut sink).map_err(decode_error)?;
        } else {
            // `decode` gunzips only what starts with the gzip magic; plain bodies come here
            // with `gzip` false only when that is what the caller wants (checked by it).
            embedded_io::Write::write_all(&mut sink, body).map_err(|_| PointerError::NoRoom)?;
        }
        if let (Some(h), Some(hash)) = (sink.hasher.take(), hash)
            && !h.matches(hash)
        {
            return Err(PointerError::Hash);
        }
        Ok(sink.n)
    }

    fn step_include(&mut self) -> Result<Next, PointerError> {
        while self.nlists > 0 {
            let List { text, at } = self.lists[self.nlists - 1].clone();
            let Some((url, next)) = include::next_url(&self.work[text.clone()], at) else {
                self.nlists -= 1;
                continue;
            };
            self.lists[self.nlists - 1].at = next;
            let url = text.start + url.start..text.start + url.end;
            if ignition::is_http(&self.work[url.clone()]) {
                return self.ask(url);
            }
            // Left for cloud-init: a one-line include list as a part of its own.
            let start = self.top;
            self.put(b"#include\n")?;
            self.put_within(url)?;
            self.put(b"\n")?;
            self.part(start..self.top)?;
            self.remote = self.remote.saturating_add(1);
        }
        let done = match self.nparts {
            // Nothing listed at all: the list itself, as cloud-init would find it.
            0 => self.done.clone(),
            1 => self.parts[0].clone(),
            n => {
                let (head, tail) = self.work.split_at_mut(self.top);
                let mut slices: [&[u8]; PARTS_MAX] = [&[]; PARTS_MAX];
                for (s, r) in slices.iter_mut().zip(&self.parts[..n]) {
                    *s = &head[r.clone()];
                }
                let len = include::mime(&slices[..n], tail).map_err(|e| match e {
                    include::MimeError::NoRoom => PointerError::NoRoom,
                    include::MimeError::Boundary => PointerError::Boundary,
                })?;
                self.top..self.top + len
            }
        };
        self.mode = Mode::Done;
        self.done = done.clone();
        Ok(Next::Done(done))
    }

    fn part(&mut self, r: Range<usize>) -> Result<(), PointerError> {
        let slot = self.parts.get_mut(self.nparts).ok_or(PointerError::Count)?;
        *slot = r;
        self.nparts += 1;
        Ok(())
    }

    fn fetched_include(&mut self, body: &[u8]) -> Result<(), PointerError> {
        let start = self.top;
        let n = self.unpack(body, decode::is_gzip(body), &None, true)?;
        let data = start..start + n;
        if include::is_include(&self.work[data.clone()]) {
            if self.nlists > self.limits.depth as usize {
                return Err(PointerError::Depth);
            }
            self.lists[self.nlists] = List { text: data.clone(), at: 0 };
            self.nlists += 1;
        } else {
            self.part(data.clone())?;
        }
        self.top = data.end;
        Ok(())
    }

    /// Copies the top frame's text up to `upto` into its rewritten copy.
    fn copy_to(&mut self, upto: usize) -> Result<(), PointerError> {
        let f = self.nframes - 1;
        let from = self.frames[f].copied;
        self.put_within(from..upto)?;
        self.frames[f].copied = upto;
        Ok(())
    }

    fn step_ignition(&mut self) -> Result<Next, PointerError> {
        loop {
            let f = self.nframes - 1;
            let frame = &mut self.frames[f];
            let base = frame.src.start;
            let site = match frame.walk.next(&self.work[frame.src.clone()]) {
                Err(_) => return Err(PointerError::Json),
                Ok(Some(site)) => site,
                Ok(None) => {
                    let end = frame.src.end;
                    self.copy_to(end)?;
                    if f == 0 {
                        self.mode = Mode::Done;
                        self.done = self.frames[0].out..self.top;
                        return Ok(Next::Done(self.done.clone()));
                    }
                    self.inline_child()?;
                    continue;
                }
            };
            let Some(source) = site.source.clone() else { continue };
            // The URL, unescaped, just above the arena's top (not kept: the fetch's answer is
            // written over it).
            let raw = base + source.start + 1..base + source.end - 1;
            let end = self.room(raw.len())?;
            self.work.copy_within(raw, self.top);
            let n = json::unescape_in_place(&mut self.work[self.top..end]);
            let url = self.top..self.top + n;
            let scheme = ignition::scheme(&self.work[url.clone()]);
            if n == 0 || scheme.is_some_and(|s| s.eq_ignore_ascii_case(b"data")) {
                continue;
            }
            if !ignition::is_http(&self.work[url.clone()]) || site.headers {
                self.remote = self.remote.saturating_add(1);
                continue;
            }
            if site.bad_compression {
                return Err(PointerError::Compression);
            }
            if site.bad_hash {
                return Err(PointerError::HashFormat);
            }
            if site.kind == Kind::Config && self.nframes > self.limits.depth as usize {
                return Err(PointerError::Depth);
            }
            let shift = |r: Range<usize>| base + r.start..base + r.end;
            self.site = Some(Site { object: shift(site.object.clone()), source: Some(shift(source)), ..site });
            return self.ask(url);
        }
    }

    fn fetched_ignition(&mut self, body: &[u8]) -> Result<(), PointerError> {
        let site = self.site.take().ok_or(PointerError::Order)?;
        let source = site.source.clone().unwrap_or(0..0);
        if site.kind != Kind::Config {
            if site.hash.is_some() {
                self.unpack(body, site.gzip, &site.hash, false)?;
            }
            let add = DATA_URL.len() + ignition::base64_len(body.len()) + 1;
            if self.inlined.saturating_add(add) > self.limits.inline_max {
                self.remote = self.remote.saturating_add(1);
                return Ok(());
            }
            self.copy_to(source.start)?;
            self.room(add)?;
            self.put(DATA_URL)?;
            ignition::base64(body, &mut self.work[self.top..]);
            self.top += ignition::base64_len(body.len());
            self.put(b"\"")?;
            self.frames[self.nframes - 1].copied = source.end;
            self.inlined += add;
            return Ok(());
        }
        // A child config: the parent's copy up to the Resource first, then the child's text.
        self.copy_to(site.object.start)?;
        self.frames[self.nframes - 1].copied = site.object.end;
        let start = self.top;
        let n = self.unpack(body, site.gzip, &site.hash, true)?;
        let child = start..start + n;
        let mut check = IgnitionCheck::new();
        check.push(&self.work[child.clone()]);
        match check.finish() {
            Verdict::Config => {}
            Verdict::NotJson(_) => return Err(PointerError::Json),
            _ => return Err(PointerError::NotConfig),
        }
        let frame = &mut self.frames[self.nframes];
        *frame = Frame { src: child.clone(), out: child.end, copied: child.start, walk: Walk::new() };
        self.nframes += 1;
        self.top = child.end;
        Ok(())
    }

    /// Replaces the finished top frame (text and rewritten copy) by the Resource object that
    /// holds its copy as a data URL, at the end of its parent's copy.
    fn inline_child(&mut self) -> Result<(), PointerError> {
        let child = &self.frames[self.nframes - 1];
        let at = child.src.start;
        let copy = child.out..self.top;
        let n = copy.len();
        let text = at + DATA_OBJECT.len();
        let end = text + ignition::base64_len(n);
        if end + 2 > self.work.len() {
            return Err(PointerError::NoRoom);
        }
        // Move first: the object's opening may overlap where a short child's copy now is.
        self.work.copy_within(copy, text);
        self.work[at..text].copy_from_slice(DATA_OBJECT);
        ignition::base64_in_place(&mut self.work[text..end], n);
        self.work[end..end + 2].copy_from_slice(b"\"}");
        self.top = end + 2;
        self.nframes -= 1;
        Ok(())
    }
}

/// A spec 3 Ignition config, as the hand-off decides it.
pub fn ignition_config(data: &[u8]) -> bool {
    let mut check = IgnitionCheck::new();
    check.push(data);
    check.finish() == Verdict::Config
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use crate::decode::include::tests::parse_mime;
    use base64::Engine;
    use flate2::{Compression, write::GzEncoder};
    use serde_json::Value;
    use std::collections::HashMap;
    use std::io::Write as _;
    use std::string::{String, ToString};
    use std::vec::Vec;

    const LIMITS: Limits = Limits { depth: 3, count: 32, fetch_max: 1 << 20, inline_max: 1 << 20 };

    fn gz(data: &[u8]) -> Vec<u8> {
        let mut e = GzEncoder::new(Vec::new(), Compression::default());
        e.write_all(data).unwrap();
        e.finish().unwrap()
    }

    /// A server: URL → body; a missing URL answers 404.
    struct Run {
        result: Result<Vec<u8>, PointerError>,
        asked: Vec<String>,
        remote: u16,
    }

    fn run_with(user_data: &[u8], served: &[(&str, &[u8])], limits: Limits, work: usize) -> Run {
        let map: HashMap<&str, &[u8]> = served.iter().copied().collect();
        let mut mem = std::vec![0u8; work];
        let mut asked = Vec::new();
        let mut r = match Resolver::new(user_data, &mut mem, limits) {
            Ok(r) => r,
            Err(e) => return Run { result: Err(e), asked, remote: 0 },
        };
        let result = loop {
            let url = match r.step() {
                Err(e) => break Err(e),
                Ok(Step::Done(d)) => break Ok(d.to_vec()),
                Ok(Step::Fetch(u)) => String::from_utf8(u.to_vec()).unwrap(),
            };
            assert!(asked.len() < 100, "the resolver must end");
            asked.push(url.clone());
            match map.get(url.as_str()) {
                Some(body) => {
                    if let Err(e) = r.fetched(body) {
                        assert_eq!(r.step(), Err(e), "an error stays");
                        break Err(e);
                    }
                }
                None => {
                    let e = r.failed(404);
                    assert_eq!(r.step(), Err(e), "an error stays");
                    break Err(e);
                }
            }
        };
        Run { result, asked, remote: r.left_remote() }
    }

    fn run(user_data: &[u8], served: &[(&str, &[u8])]) -> Run {
        run_with(user_data, served, LIMITS, 8 << 20)
    }

    fn cloud_config(n: usize) -> Vec<u8> {
        let mut v = b"#cloud-config\nwrite_files:\n".to_vec();
        let mut i = 0u32;
        while v.len() < n {
            v.extend(std::format!("  - path: /etc/f{i}\n    content: {}\n", i.wrapping_mul(2654435761)).as_bytes());
            i += 1;
        }
        v
    }

    #[test]
    fn one_include_is_the_user_data_itself() {
        let cfg = cloud_config(100);
        for url in ["http://10.0.0.1/x", "https://example.com/a/b.yaml"] {
            let ud = std::format!("#include\n{url}\n");
            let r = run(ud.as_bytes(), &[(url, &cfg)]);
            assert_eq!(r.result.unwrap(), cfg);
            assert_eq!(r.asked, [url]);
            assert_eq!(r.remote, 0);
        }
    }

    #[test]
    fn capl_signed_url_is_asked_byte_for_byte_and_its_gzip_part_unpacked() {
        let url = "https://capl-bucket.us-ord-1.linodeobjects.com/cluster/worker-0?X-Amz-Algorithm=AWS4-HMAC-SHA256\
            &X-Amz-Credential=AKIAEXAMPLE%2F20261203%2Fus-ord-1%2Fs3%2Faws4_request&X-Amz-Date=20261203T165500Z\
            &X-Amz-Expires=900&X-Amz-SignedHeaders=host\
            &X-Amz-Signature=5d672d79c15b13162d9279b0855cfba6789a8edb4c82c400e06b5924a6f2b5d7";
        let cfg = cloud_config(100 << 10);
        let ud = std::format!("#include\n{url}\n");
        let r = run(ud.as_bytes(), &[(url, &gz(&cfg))]);
        assert_eq!(r.asked, [url]);
        assert_eq!(r.result.unwrap(), cfg);
    }

    #[test]
    fn several_includes_become_mime_in_order() {
        let a = cloud_config(300);
        let b = b"#!/bin/sh\necho hi\n".to_vec();
        let c = b"\x00\xffbinary".to_vec();
        let ud =
            b"#include\n# comment\n\nhttp://h/a\n#INCLUDE https://h/b  \r\nfile:///etc/x\n#include-once http://h/c\n";
        let r = run(ud, &[("http://h/a", &gz(&a)), ("https://h/b", &b), ("http://h/c", &c)]);
        assert_eq!(r.asked, ["http://h/a", "https://h/b", "http://h/c"]);
        assert_eq!(r.remote, 1);
        let doc = r.result.unwrap();
        let parts = parse_mime(&doc);
        let want: [(&str, &[u8]); 4] = [
            ("text/cloud-config", &a),
            ("text/x-shellscript", &b),
            ("text/x-include-url", b"#include\nfile:///etc/x\n"),
            ("text/x-not-multipart", &c),
        ];
        assert_eq!(parts.len(), 4);
        for ((t, bytes), (wt, wb)) in parts.iter().zip(want) {
            assert_eq!((t.as_str(), bytes.as_slice()), (wt, wb));
        }
        assert!(include::is_mime(&doc));
    }

    #[test]
    fn nested_includes_are_flattened_depth_first_and_bounded() {
        let r = run(
            b"#include\nhttp://h/list\nhttp://h/d\n",
            &[
                ("http://h/list", b"#include\nhttp://h/b\nhttp://h/c\n"),
                ("http://h/b", b"B"),
                ("http://h/c", b"C"),
                ("http://h/d", b"D"),
            ],
        );
        assert_eq!(r.asked, ["http://h/list", "http://h/b", "http://h/c", "http://h/d"]);
        let parts: Vec<Vec<u8>> = parse_mime(&r.result.unwrap()).into_iter().map(|p| p.1).collect();
        assert_eq!(parts, [b"B".to_vec(), b"C".to_vec(), b"D".to_vec()]);

        // A chain: depth 3 is allowed, 4 is not.
        let chain: Vec<(String, Vec<u8>)> = (1..=5)
            .map(|i| (std::format!("http://h/{i}"), std::format!("#include\nhttp://h/{}\n", i + 1).into_bytes()))
            .collect();
        let mut served: Vec<(&str, &[u8])> = chain.iter().map(|(u, b)| (u.as_str(), b.as_slice())).collect();
        served[3].1 = b"end";
        let ok = run(b"#include http://h/1", &served);
        assert_eq!(ok.result.unwrap(), b"end");
        served[3].1 = chain[3].1.as_slice();
        assert_eq!(run(b"#include http://h/1", &served).result, Err(PointerError::Depth));
    }

    #[test]
    fn include_failures() {
        assert_eq!(run(b"#include\nhttp://h/missing\n", &[]).result, Err(PointerError::Status(404)));
        let few = Limits { count: 1, ..LIMITS };
        let r = run_with(
            b"#include\nhttp://h/a\nhttp://h/b\n",
            &[("http://h/a", b"a"), ("http://h/b", b"b")],
            few,
            1 << 20,
        );
        assert_eq!(r.result, Err(PointerError::Count));
        let small = Limits { fetch_max: 100, ..LIMITS };
        let big = cloud_config(200);
        let r = run_with(b"#include\nhttp://h/a\n", &[("http://h/a", &big)], small, 1 << 20);
        assert_eq!(r.result, Err(PointerError::TooLarge));
        // Under the cap compressed, over it unpacked.
        let r = run_with(b"#include\nhttp://h/a\n", &[("http://h/a", &gz(&[b'x'; 1000]))], small, 1 << 20);
        assert_eq!(r.result, Err(PointerError::TooLarge));
        let r = run_with(b"#include\nhttp://h/a\n", &[("http://h/a", b"\x1f\x8b\x08garbage")], LIMITS, 1 << 20);
        assert_eq!(r.result, Err(PointerError::Gzip));
        let r = run_with(b"#include\nhttp://h/a\n", &[("http://h/a", &big)], LIMITS, WINDOW + 150);
        assert_eq!(r.result, Err(PointerError::NoRoom));
        assert_eq!(run(b"#include\nhttp://h/a b\n", &[]).result, Err(PointerError::Url));
        // Nothing listed: the list as it was, nothing asked.
        let r = run(b"#include\n# none\n", &[]);
        assert_eq!((r.result.unwrap(), r.asked.len()), (b"#include\n# none\n".to_vec(), 0));
    }

    #[test]
    fn other_user_data_is_done_at_once_unchanged() {
        for ud in [
            &b"#cloud-config\nruncmd: [\"curl http://x\"]\n"[..],
            br#"{"ignition":{"version":"2.2.0","config":{"append":[{"source":"http://h/a"}]}}}"#,
            b"",
            b"Content-Type: multipart/mixed; boundary=x\nMIME-Version: 1.0\n\n--x\n\n#include http://h/a\n--x--\n",
        ] {
            let r = run(ud, &[]);
            assert_eq!((r.result.unwrap(), r.asked.len()), (ud.to_vec(), 0));
        }
        let mut tiny = [0u8; 3];
        assert!(matches!(Resolver::new(b"four", &mut tiny, LIMITS), Err(PointerError::NoRoom)));
    }

    fn sha512(data: &[u8]) -> String {
        let d = Sha512::digest(data);
        d.iter().map(|b| std::format!("{b:02x}")).collect()
    }

    fn sha256(data: &[u8]) -> String {
        let d = Sha256::digest(data);
        d.iter().map(|b| std::format!("{b:02X}")).collect()
    }

    /// The bytes of a `data:;base64,` URL.
    fn data_url(v: &Value) -> Vec<u8> {
        let s = v.as_str().unwrap();
        let b64 = s.strip_prefix("data:;base64,").unwrap_or_else(|| panic!("not inlined: {s}"));
        base64::engine::general_purpose::STANDARD.decode(b64).unwrap()
    }

    fn json(bytes: &[u8]) -> Value {
        serde_json::from_slice(bytes).unwrap()
    }

    const CHILD: &str = r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/etc/child","contents":{"source":"data:,child"}}]}}"#;

    #[test]
    fn merge_over_https_is_inlined_and_everything_else_copied() {
        let parent = r#"{"ignition": {"version": "3.4.0", "config": {"merge": [{"source": "https://h/child.ign", "httpHeaders": []}]}},
            "passwd": {"users": [{"name": "core", "sshAuthorizedKeys": ["ssh-ed25519 AAAA x"]}]}}"#;
        let r = run(parent.as_bytes(), &[("https://h/child.ign", CHILD.as_bytes())]);
        assert_eq!(r.asked, ["https://h/child.ign"]);
        let out = r.result.unwrap();
        let v = json(&out);
        let merge = &v["ignition"]["config"]["merge"][0];
        assert_eq!(merge.as_object().unwrap().len(), 1, "only source is left: {merge}");
        assert_eq!(data_url(&merge["source"]), CHILD.as_bytes());
        // The text around the Resource is as it was, byte for byte.
        let cut = parent.find("{\"source\"").unwrap();
        assert!(out.starts_with(&parent.as_bytes()[..cut]));
        let tail = &parent[parent.find("]}},").unwrap()..];
        assert!(out.ends_with(tail.as_bytes()));
        assert!(ignition_config(&out));
    }

    #[test]
    fn replace_with_hashes_checked_over_the_decompressed_child() {
        let ud = |hash: &str, compression: &str| {
            std::format!(
                r#"{{"ignition":{{"version":"3.2.0","config":{{"replace":{{"source":"http://h/r","compression":{compression},"verification":{{"hash":"{hash}"}}}}}}}}}}"#
            )
        };
        let good = std::format!("sha512-{}", sha512(CHILD.as_bytes()));
        let r = run(ud(&good, "null").as_bytes(), &[("http://h/r", CHILD.as_bytes())]);
        let v = json(&r.result.unwrap());
        assert_eq!(data_url(&v["ignition"]["config"]["replace"]["source"]), CHILD.as_bytes());
        assert!(v["ignition"]["config"]["replace"].get("verification").is_none());

        let mut bad = good.clone();
        bad.replace_range(10..11, if &good[10..11] == "0" { "1" } else { "0" });
        let r = run(ud(&bad, "null").as_bytes(), &[("http://h/r", CHILD.as_bytes())]);
        assert_eq!(r.result, Err(PointerError::Hash));

        let s256 = std::format!("sha256-{}", sha256(CHILD.as_bytes()));
        let zipped = gz(CHILD.as_bytes());
        let r = run(ud(&s256, "\"gzip\"").as_bytes(), &[("http://h/r", &zipped)]);
        let v = json(&r.result.unwrap());
        let replace = &v["ignition"]["config"]["replace"];
        assert_eq!(data_url(&replace["source"]), CHILD.as_bytes(), "inlined decompressed");
        assert!(replace.get("compression").is_none());
        // A hash of the compressed bytes is not Ignition's hash.
        let wrong = std::format!("sha256-{}", sha256(&zipped));
        assert_eq!(run(ud(&wrong, "\"gzip\"").as_bytes(), &[("http://h/r", &zipped)]).result, Err(PointerError::Hash));
        assert_eq!(run(ud("md5-00", "null").as_bytes(), &[]).result, Err(PointerError::HashFormat));
        assert_eq!(run(ud(&good, "\"xz\"").as_bytes(), &[]).result, Err(PointerError::Compression));
        assert_eq!(run(ud(&good, "null").as_bytes(), &[]).result, Err(PointerError::Status(404)));
        assert_eq!(
            run(ud(&good, "\"gzip\"").as_bytes(), &[("http://h/r", CHILD.as_bytes())]).result,
            Err(PointerError::Gzip)
        );
        let not_config = br#"{"ignition":{"version":"2.1.0"}}"#;
        let h = std::format!("sha512-{}", sha512(not_config));
        assert_eq!(run(ud(&h, "null").as_bytes(), &[("http://h/r", not_config)]).result, Err(PointerError::NotConfig));
        let h = std::format!("sha512-{}", sha512(b"{"));
        assert_eq!(run(ud(&h, "null").as_bytes(), &[("http://h/r", b"{")]).result, Err(PointerError::Json));
    }

    #[test]
    fn files_and_appends_are_inlined_keeping_compression_and_hash() {
        let payload = gz(b"file body\n");
        let hash = std::format!("sha512-{}", sha512(b"file body\n"));
        let ud = std::format!(
            r#"{{"ignition":{{"version":"3.3.0","security":{{"tls":{{"certificateAuthorities":[{{"source":"https://h/ca.pem"}}]}}}}}},
            "storage":{{"files":[{{"path":"/a","contents":{{"source":"https:\/\/h\/a?x=1\u0026y=2","compression":"gzip","verification":{{"hash":"{hash}"}}}},
            "append":[{{"source":"http://h/b"}},{{"source":"data:,kept"}},{{"source":"s3://bucket/key"}},{{"source":"http://h/hdr","httpHeaders":[{{"name":"A","value":"b"}}]}}]}}]}}}}"#
        );
        let r = run(
            ud.as_bytes(),
            &[
                ("https://h/ca.pem", b"-----BEGIN CERTIFICATE-----\n"),
                ("https://h/a?x=1&y=2", &payload),
                ("http://h/b", b"more"),
            ],
        );
        assert_eq!(r.asked, ["https://h/ca.pem", "https://h/a?x=1&y=2", "http://h/b"]);
        assert_eq!(r.remote, 2, "s3 and the source with headers");
        let v = json(&r.result.unwrap());
        assert_eq!(
            data_url(&v["ignition"]["security"]["tls"]["certificateAuthorities"][0]["source"]),
            b"-----BEGIN CERTIFICATE-----\n"
        );
        let file = &v["storage"]["files"][0];
        assert_eq!(data_url(&file["contents"]["source"]), payload, "the bytes as fetched");
        assert_eq!(file["contents"]["compression"], "gzip");
        assert_eq!(file["contents"]["verification"]["hash"], hash.as_str());
        assert_eq!(data_url(&file["append"][0]["source"]), b"more");
        assert_eq!(file["append"][1]["source"], "data:,kept");
        assert_eq!(file["append"][2]["source"], "s3://bucket/key");
        assert_eq!(file["append"][3]["source"], "http://h/hdr");

        // The hash is checked here too, over the decompressed bytes.
        let bad = ud.replace(&hash, &std::format!("sha512-{}", sha512(&payload)));
        let r = run(bad.as_bytes(), &[("https://h/ca.pem", b"x"), ("https://h/a?x=1&y=2", &payload)]);
        assert_eq!(r.result, Err(PointerError::Hash));
    }

    #[test]
    fn inline_max_leaves_sources_remote() {
        let ud = br#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/a","contents":{"source":"http://h/a"}},{"path":"/b","contents":{"source":"http://h/b"}}]}}"#;
        let a = [b'a'; 30];
        let b = [b'b'; 3000];
        // Room for the first (14 + 40 + 1 bytes), not the second.
        let limits = Limits { inline_max: 100, ..LIMITS };
        let r = run_with(ud, &[("http://h/a", &a), ("http://h/b", &b)], limits, 1 << 20);
        assert_eq!(r.remote, 1);
        let v = json(&r.result.unwrap());
        assert_eq!(data_url(&v["storage"]["files"][0]["contents"]["source"]), a);
        assert_eq!(v["storage"]["files"][1]["contents"]["source"], "http://h/b");
    }

    #[test]
    fn nested_merges_resolve_recursively_to_the_depth() {
        // Level i merges level i + 1 over https; the last has a remote file.
        let level = |i: usize, last: usize| {
            if i == last {
                r#"{"ignition":{"version":"3.4.0"},"storage":{"files":[{"path":"/f","contents":{"source":"http://h/file"}}]}}"#.to_string()
            } else {
                std::format!(
                    r#"{{"ignition":{{"version":"3.4.0","config":{{"merge":[{{"source":"https://h/{}"}}]}}}}}}"#,
                    i + 1
                )
            }
        };
        for (last, ok) in [(1, true), (3, true), (4, false)] {
            let docs: Vec<(String, String)> =
                (1..=last).map(|i| (std::format!("https://h/{i}"), level(i, last))).collect();
            let mut served: Vec<(&str, &[u8])> = docs.iter().map(|(u, d)| (u.as_str(), d.as_bytes())).collect();
            served.push(("http://h/file", b"leaf"));
            let r = run(level(0, last).as_bytes(), &served);
            if !ok {
                assert_eq!(r.result, Err(PointerError::Depth));
                continue;
            }
            let mut v = json(&r.result.unwrap());
            for _ in 0..last {
                v = json(&data_url(&v["ignition"]["config"]["merge"][0]["source"]));
            }
            assert_eq!(data_url(&v["storage"]["files"][0]["contents"]["source"]), b"leaf");
        }
    }

    #[test]
    fn work_too_small_is_no_room_never_a_cut_result() {
        let ud = br#"{"ignition":{"version":"3.4.0","config":{"merge":[{"source":"http://h/c"}]}}}"#;
        let full = run(ud, &[("http://h/c", CHILD.as_bytes())]).result.unwrap();
        // Every size is either too small, said so, or enough for the whole result; and enough
        // stays enough.
        let mut fitted = false;
        for size in [0, 10, 100, WINDOW - 1].into_iter().chain(WINDOW..WINDOW + 3 * full.len()) {
            let r = run_with(ud, &[("http://h/c", CHILD.as_bytes())], LIMITS, size);
            match r.result {
                Ok(out) => {
                    assert_eq!(out, full);
                    fitted = true;
                }
                Err(e) => {
                    assert_eq!(e, PointerError::NoRoom, "{size}");
                    assert!(!fitted, "{size} fails after a smaller size fitted");
                }
            }
        }
        assert!(fitted);
    }

    #[test]
    fn misuse_is_an_error() {
        let mut mem = std::vec![0u8; 1 << 20];
        let mut r = Resolver::new(b"#include http://h/a", &mut mem, LIMITS).unwrap();
        assert_eq!(r.fetched(b"x"), Err(PointerError::Order));
        assert_eq!(r.step(), Ok(Step::Fetch(b"http://h/a")));
        assert_eq!(r.step(), Ok(Step::Fetch(b"http://h/a")), "asked again until answered");
        r.fetched(b"x").unwrap();
        assert_eq!(r.step(), Ok(Step::Done(b"x")));
        assert_eq!(r.failed(500), PointerError::Order);
    }
}
