//! Helpers shared by the fuzz targets: sinks for the decoder, feeding the incremental HTTP
//! parser at chosen split points, and a bounded reader of fuzz-chosen numbers.

use flint::args::Raw;
use flint::http::{Head, HttpError, ResponseParser};

/// A decoder sink that keeps what it receives and fails the run if more than `max` bytes ever
/// reach it: the size cap must stop a gzip bomb before the sink sees the excess.
pub struct CappedSink {
    pub data: Vec<u8>,
    pub max: u64,
}

impl embedded_io::ErrorType for CappedSink {
    type Error = embedded_io::ErrorKind;
}

impl embedded_io::Write for CappedSink {
    fn write(&mut self, buf: &[u8]) -> Result<usize, Self::Error> {
        self.data.extend_from_slice(buf);
        assert!(
            self.data.len() as u64 <= self.max,
            "{} bytes reached the sink past a cap of {}",
            self.data.len(),
            self.max
        );
        Ok(buf.len())
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        Ok(())
    }
}

/// Everything observable about one parse: the outcome, the head, the body and how many input
/// bytes the parser consumed before it was done.
#[derive(Debug, PartialEq, Eq)]
pub struct Parsed {
    pub result: Result<(), HttpError>,
    pub head: Option<Head>,
    pub body: Vec<u8>,
    pub used: usize,
    pub done: bool,
}

/// Feeds `input` to a fresh parser with a `cap`-byte body buffer, cut into pieces at `cuts`
/// (positions, any order, out-of-range ones ignored), then reports end of stream. Checks the
/// feeding contract on the way: a feed uses all of its piece unless the message ended inside it.
pub fn parse_pieces(input: &[u8], cap: usize, cuts: &[usize]) -> Parsed {
    let mut body = vec![0u8; cap];
    let mut p = ResponseParser::new(&mut body);
    let out = drive(&mut p, input, cuts);
    // Parsing again after reset must see the same thing: reset forgets every bit of state.
    p.reset();
    let again = drive(&mut p, input, cuts);
    assert_eq!(again, out, "a reset parser disagrees with a fresh one");
    out
}

fn drive(p: &mut ResponseParser<'_>, input: &[u8], cuts: &[usize]) -> Parsed {
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c <= input.len()).collect();
    cuts.push(0);
    cuts.push(input.len());
    cuts.sort_unstable();
    cuts.dedup();
    let mut used = 0;
    let mut result = Ok(());
    for w in cuts.windows(2) {
        if p.is_done() {
            break;
        }
        let piece = &input[w[0]..w[1]];
        match p.feed(piece) {
            Ok(n) => {
                assert!(n <= piece.len(), "feed used {n} of {} bytes", piece.len());
                assert!(
                    n == piece.len() || p.is_done(),
                    "feed stopped early ({n} of {}) before the message ended",
                    piece.len()
                );
                used += n;
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    if result.is_ok() && !p.is_done() {
        result = p.finish();
    }
    Parsed { result, head: p.head(), body: p.body().to_vec(), used, done: p.is_done() }
}

/// True when `needle` is a subsequence of `hay` (in order, gaps allowed).
pub fn is_subsequence(needle: &[u8], hay: &[u8]) -> bool {
    let mut it = hay.iter();
    needle.iter().all(|b| it.any(|h| h == b))
}

/// One JSON token as both scanners report it: flint's `json::Event` with its text (`None` when
/// longer than `json::TEXT_MAX`), or serde_json's visit calls.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Tok {
    Object,
    Array,
    End,
    Key(Option<Vec<u8>>),
    Str(Option<Vec<u8>>),
    Num(Option<Vec<u8>>),
    True,
    False,
    Null,
}

/// flint's tokens for `doc`, pushed in pieces cut at `cuts`.
pub fn flint_tokens(doc: &[u8], cuts: &[usize]) -> Result<Vec<Tok>, flint::decode::json::JsonError> {
    use flint::decode::json::{Event, Scanner};
    let mut out = Vec::new();
    let mut on = |e: Event, t: Option<&[u8]>| {
        let t = t.map(<[u8]>::to_vec);
        out.push(match e {
            Event::Object => Tok::Object,
            Event::Array => Tok::Array,
            Event::End => Tok::End,
            Event::Key => Tok::Key(t),
            Event::String => Tok::Str(t),
            Event::Number => Tok::Num(t),
            Event::True => Tok::True,
            Event::False => Tok::False,
            Event::Null => Tok::Null,
        })
    };
    let mut s = Scanner::new();
    let mut cuts: Vec<usize> = cuts.iter().copied().filter(|&c| c <= doc.len()).collect();
    cuts.push(0);
    cuts.push(doc.len());
    cuts.sort_unstable();
    for w in cuts.windows(2) {
        s.push(&doc[w[0]..w[1]], &mut on)?;
        assert!(s.depth() <= flint::decode::json::DEPTH_MAX);
    }
    s.finish(&mut on)?;
    Ok(out)
}

/// flint's YAML reader's tokens for `doc` (strings only: it resolves no numbers or booleans).
pub fn yaml_tokens(doc: &[u8]) -> Result<Vec<Tok>, flint::decode::yaml::YamlError> {
    use flint::decode::json::Event;
    let mut out = Vec::new();
    flint::decode::yaml::scan(doc, &mut |e: Event, t: Option<&[u8]>| {
        let t = t.map(<[u8]>::to_vec);
        out.push(match e {
            Event::Object => Tok::Object,
            Event::Array => Tok::Array,
            Event::End => Tok::End,
            Event::Key => Tok::Key(t),
            Event::String => Tok::Str(t),
            Event::Null => Tok::Null,
            e => panic!("the YAML reader reported {e:?}"),
        })
    })?;
    Ok(out)
}

/// serde_json's tokens for `doc` (one value, then only whitespace), texts longer than
/// `json::TEXT_MAX` reported as `None` the way flint does.
pub fn serde_tokens(doc: &[u8]) -> Result<Vec<Tok>, serde_json::Error> {
    use serde::de::DeserializeSeed;
    let mut out = Vec::new();
    let mut d = serde_json::Deserializer::from_slice(doc);
    Seed(&mut out).deserialize(&mut d)?;
    d.end()?;
    Ok(out)
}

fn kept(t: &[u8]) -> Option<Vec<u8>> {
    (t.len() <= flint::decode::json::TEXT_MAX).then(|| t.to_vec())
}

struct Seed<'a>(&'a mut Vec<Tok>);

impl<'de> serde::de::DeserializeSeed<'de> for Seed<'_> {
    type Value = ();
    fn deserialize<D: serde::Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

/// The key serde_json (arbitrary_precision) uses to hand a number over as its text.
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

impl<'de> serde::de::Visitor<'de> for Seed<'_> {
    type Value = ();
    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_bool<E>(self, v: bool) -> Result<(), E> {
        self.0.push(if v { Tok::True } else { Tok::False });
        Ok(())
    }
    // Integers that fit come as u64/i64 even with arbitrary_precision; see `canonical`.
    fn visit_u64<E>(self, v: u64) -> Result<(), E> {
        self.0.push(Tok::Num(kept(v.to_string().as_bytes())));
        Ok(())
    }
    fn visit_i64<E>(self, v: i64) -> Result<(), E> {
        self.0.push(Tok::Num(kept(v.to_string().as_bytes())));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        self.0.push(Tok::Str(kept(v.as_bytes())));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        self.0.push(Tok::Null);
        Ok(())
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        self.0.push(Tok::Array);
        while seq.next_element_seed(Seed(self.0))?.is_some() {}
        self.0.push(Tok::End);
        Ok(())
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut first = true;
        while let Some(k) = map.next_key::<String>()? {
            if first && k == NUMBER_TOKEN {
                let n: String = map.next_value()?;
                self.0.push(Tok::Num(kept(n.as_bytes())));
                return Ok(());
            }
            if first {
                self.0.push(Tok::Object);
                first = false;
            }
            self.0.push(Tok::Key(kept(k.as_bytes())));
            map.next_value_seed(Seed(self.0))?;
        }
        if first {
            self.0.push(Tok::Object);
        }
        self.0.push(Tok::End);
        Ok(())
    }
}

/// Numbers as text, integers normalised (`-0` and `0` are one integer; serde_json hands
/// integers over as values, flint as written; other numbers by their f64 value), so both
/// scanners' tokens compare.
pub fn canonical(toks: Vec<Tok>) -> Vec<Tok> {
    toks.into_iter()
        .map(|t| match t {
            Tok::Num(Some(n)) => match std::str::from_utf8(&n).ok().and_then(|s| s.parse::<i128>().ok()) {
                Some(i) => Tok::Num(Some(i.to_string().into_bytes())),
                // serde_json rewrites exponents (`E0` as `e+0`): compare other numbers by value.
                None => match std::str::from_utf8(&n).ok().and_then(|s| s.parse::<f64>().ok()) {
                    Some(f) => Tok::Num(Some(format!("{f:e}").into_bytes())),
                    None => Tok::Num(Some(n)),
                },
            },
            t => t,
        })
        .collect()
}

/// Some object in `toks` names a member twice (RFC 8259 §4: names SHOULD be unique; what a
/// reader does with a repeat varies, so such documents are not compared on meaning).
pub fn has_duplicate_keys(toks: &[Tok]) -> bool {
    let mut stack: Vec<Option<std::collections::HashSet<Vec<u8>>>> = Vec::new();
    for t in toks {
        match t {
            Tok::Object => stack.push(Some(Default::default())),
            Tok::Array => stack.push(None),
            Tok::End => {
                stack.pop();
            }
            Tok::Key(k) => {
                if let Some(Some(set)) = stack.last_mut()
                    && !set.insert(k.clone().unwrap_or_default())
                {
                    return true;
                }
            }
            _ => {}
        }
    }
    false
}

/// A `\uXXXX` escape of a UTF-16 surrogate half: serde_json refuses a lone one, flint (like
/// Go's encoding/json, which Ignition uses) turns it into U+FFFD.
pub fn has_surrogate_escape(doc: &[u8]) -> bool {
    doc.windows(4).any(|w| {
        w[0] == b'\\' && w[1] == b'u' && (w[2] | 0x20) == b'd' && matches!(w[3] | 0x20, b'8'..=b'9' | b'a'..=b'f')
    })
}

/// Every value option of `args::Raw`: its kernel argument, its command-line option (either may
/// be absent: `ignition.platform.id` has no option, `--cmdline` no kernel argument) and value.
pub type RawOption<'a> = (Option<&'static str>, Option<&'static str>, Option<&'a [u8]>);

pub fn raw_options<'a>(r: &Raw<'a>) -> [RawOption<'a>; 18] {
    [
        (Some("flint.platform"), Some("--platform"), r.platform),
        (Some("ignition.platform.id"), None, r.ignition_platform),
        (Some("flint.output"), Some("--output"), r.output),
        (Some("flint.interface"), Some("--interface"), r.interface),
        (Some("flint.address"), Some("--address"), r.address),
        (Some("flint.timeout"), Some("--timeout"), r.timeout),
        (Some("flint.dhcp-timeout"), Some("--dhcp-timeout"), r.dhcp_timeout),
        (Some("flint.max-size"), Some("--max-size"), r.max_size),
        (Some("flint.report"), Some("--report"), r.report),
        (None, Some("--cmdline"), r.cmdline),
        (Some("flint.root"), Some("--root"), r.root),
        (Some("flint.ssh-user"), Some("--ssh-user"), r.ssh_user),
        (Some("flint.cloud-init-seed"), Some("--cloud-init-seed"), r.cloud_init_seed),
        (Some("flint.attributes"), Some("--attributes"), r.attributes),
        (Some("flint.drive"), Some("--drive"), r.drive),
        (Some("flint.url"), Some("--url"), r.url),
        (Some("ignition.config.url"), None, r.ignition_url),
        (Some("flint.family"), Some("--family"), r.family),
    ]
}

/// A config drive image seen through bytes changed at `patches` and cut to `len`, recording
/// whether any read returned something the unchanged image would not have (a changed byte,
/// or fewer bytes). A reader whose reads were all untouched must answer exactly as on the
/// unchanged image; the read count catches a reader that does not stop.
pub struct Patched<'a> {
    pub base: &'a [u8],
    pub patches: Vec<(usize, u8)>,
    pub len: usize,
    pub touched: bool,
    pub reads: u64,
}

/// Reads one probe or file read may make: a directory of 2 MiB in 512-byte clusters with its
/// FAT links, at the deepest path, is well under this.
pub const DRIVE_READS_MAX: u64 = 400_000;

impl<'a> Patched<'a> {
    pub fn new(base: &'a [u8], patches: Vec<(usize, u8)>, len: usize) -> Patched<'a> {
        Patched { base, patches, len: len.min(base.len()), touched: false, reads: 0 }
    }

    /// Starts a new operation: forgets what earlier reads saw.
    pub fn reset(&mut self) {
        self.touched = false;
        self.reads = 0;
    }
}

impl flint::sources::drive::Medium for Patched<'_> {
    fn read_at(&mut self, offset: u64, buf: &mut [u8]) -> Result<usize, flint::sources::drive::DriveError> {
        self.reads += 1;
        assert!(self.reads <= DRIVE_READS_MAX, "more than {DRIVE_READS_MAX} reads for one operation");
        let at = usize::try_from(offset).unwrap_or(usize::MAX);
        let clean = self.base.len().saturating_sub(at).min(buf.len());
        let n = self.len.saturating_sub(at).min(buf.len());
        if n != clean {
            self.touched = true;
        }
        if n == 0 {
            return Ok(0);
        }
        buf[..n].copy_from_slice(&self.base[at..at + n]);
        for &(p, b) in &self.patches {
            if (at..at + n).contains(&p) && self.base[p] != b {
                buf[p - at] = b;
                self.touched = true;
            }
        }
        Ok(n)
    }
}

/// `v.read_file` of `path` into a `cap`-byte buffer: the file's bytes, `Ok(None)` for a
/// missing name or a directory. A read never reports more bytes than the buffer holds.
pub fn read_file(
    v: &flint::sources::drive::Volume,
    m: &mut dyn flint::sources::drive::Medium,
    path: &str,
    cap: usize,
) -> Result<Option<Vec<u8>>, flint::sources::drive::DriveError> {
    let mut out = vec![0; cap];
    let n = v.read_file(m, path.as_bytes(), &mut out)?;
    if let Some(n) = n {
        assert!(n <= cap, "{n} bytes from a {cap}-byte buffer");
    }
    Ok(n.map(|n| out[..n].to_vec()))
}

/// A gzip fixture, decompressed.
pub fn gunzip(gz: &[u8]) -> Vec<u8> {
    use std::io::Read;
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(gz).read_to_end(&mut out).expect("a gzip fixture");
    out
}

/// Every file under `tests/fixtures/drive/<tree>`, as (path relative to it, contents), sorted.
pub fn tree_files(tree: &str) -> Vec<(String, Vec<u8>)> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../tests/fixtures/drive").join(tree);
    let mut out = Vec::new();
    let mut todo = vec![root.clone()];
    while let Some(d) = todo.pop() {
        for e in std::fs::read_dir(&d).expect("the fixture tree") {
            let p = e.expect("a directory entry").path();
            if p.is_dir() {
                todo.push(p);
            } else {
                let rel = p.strip_prefix(&root).expect("under the root").to_string_lossy().into_owned();
                out.push((rel, std::fs::read(&p).expect("a fixture file")));
            }
        }
    }
    out.sort();
    out
}

/// `NetConfig::for_nic` against its rule (an interface matched by the NIC's MAC first, then one
/// by its name, then one for any NIC), for every pairing of the interfaces' MACs and names with
/// each other and with a MAC and a name no interface has.
pub fn check_for_nic(c: &flint::net::config::NetConfig) {
    use flint::net::config::{Iface, Match};
    let by = |f: &dyn Fn(&Match) -> bool| -> Option<&Iface> { c.ifaces.iter().find(|i| f(&i.matcher)) };
    let mut macs = vec![[0xfe; 6]];
    let mut names = vec![b"none-such0".to_vec()];
    for i in &c.ifaces {
        match &i.matcher {
            Match::Mac(m) => macs.push(*m),
            Match::Name(n) => names.push(n.to_vec()),
            Match::Any => {}
        }
    }
    for &mac in &macs {
        for name in &names {
            let want = by(&|m| *m == Match::Mac(mac))
                .or_else(|| by(&|m| matches!(m, Match::Name(n) if n.as_slice() == name.as_slice())))
                .or_else(|| by(&|m| *m == Match::Any));
            assert_eq!(c.for_nic(mac, name), want, "for_nic({mac:02x?}, {name:?})");
        }
    }
}
