//! A push JSON scanner (RFC 8259), sans-IO and allocation-free.
//!
//! Bytes go in one chunk at a time (a user-data config may stream through in 32 KiB pieces, and
//! metadata documents arrive whole); every token comes out as an [`Event`] with its decoded text
//! (keys and strings unescaped, numbers and literals as written). The whole grammar is checked:
//! a document that [`Scanner::finish`] accepts is one JSON value and nothing else.
//!
//! Bounds: nesting deeper than [`DEPTH_MAX`] is an error (nothing recurses: the container stack
//! is a bitset); a key or string longer than [`TEXT_MAX`] bytes is still validated but its text
//! is reported as `None` (too long to keep), so callers never act on a cut-off value.

/// Deepest nesting accepted. Ignition configs nest about 7 deep; metadata documents 3.
pub const DEPTH_MAX: u32 = 64;
/// Longest key or string whose text is kept (an RSA-8192 OpenSSH key is ~1.4 KB).
pub const TEXT_MAX: usize = 2048;

/// One token.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Event {
    /// `{`
    Object,
    /// `[`
    Array,
    /// `}` or `]`
    End,
    /// An object member's name; the next event is its value.
    Key,
    String,
    Number,
    True,
    False,
    Null,
}

/// Why a document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JsonError {
    /// Not JSON at that byte.
    Syntax,
    /// Nested deeper than [`DEPTH_MAX`].
    TooDeep,
    /// The input ended inside a value.
    Incomplete,
}

impl core::fmt::Display for JsonError {
    // Out of line: inlined at each of its callers it cost more than the call (measured).
    #[inline(never)]
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            JsonError::Syntax => "not valid JSON",
            JsonError::TooDeep => "JSON nested too deeply",
            JsonError::Incomplete => "JSON ends early",
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Num {
    Minus,
    Zero,
    Int,
    Dot,
    Frac,
    E,
    ESign,
    Exp,
}

impl Num {
    /// A number may end here.
    fn complete(self) -> bool {
        matches!(self, Num::Zero | Num::Int | Num::Frac | Num::Exp)
    }

    // Out of line: inlined at each of its callers it cost more than the call (measured).
    #[inline(never)]
    fn next(self, b: u8) -> Option<Num> {
        Some(match (self, b) {
            (Num::Minus, b'0') => Num::Zero,
            (Num::Minus, b'1'..=b'9') => Num::Int,
            (Num::Int, b'0'..=b'9') => Num::Int,
            (Num::Zero | Num::Int, b'.') => Num::Dot,
            (Num::Dot | Num::Frac, b'0'..=b'9') => Num::Frac,
            (Num::Zero | Num::Int | Num::Frac, b'e' | b'E') => Num::E,
            (Num::E, b'+' | b'-') => Num::ESign,
            (Num::E | Num::ESign | Num::Exp, b'0'..=b'9') => Num::Exp,
            _ => return None,
        })
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// A value must come (top level, after `:` or after `,` in an array).
    Value,
    /// After `[`: a value or `]`.
    ValueOrEnd,
    /// After `{`: a key or `}`.
    KeyOrEnd,
    /// After `,` in an object: a key.
    Key,
    /// After a key: `:`.
    Colon,
    /// After a value inside a container: `,` or the closing bracket.
    Next,
    /// After the top-level value: only whitespace.
    Done,
    /// Inside a string (a key when `key`).
    Str {
        key: bool,
    },
    /// After a backslash.
    Escape {
        key: bool,
    },
    /// In `\uXXXX`, `left` hex digits to go.
    Hex {
        key: bool,
        left: u8,
        acc: u16,
    },
    Number(Num),
    /// In `true`, `false` or `null`: `at` bytes matched of `word`.
    Word {
        word: &'static [u8],
        at: u8,
    },
}

/// The scanner; see the module docs.
pub struct Scanner {
    state: State,
    depth: u32,
    /// Bit `i` set: the container at depth `i + 1` is an object.
    objects: u64,
    /// A `\uD800`–`\uDBFF` escape waiting for its low half.
    high: Option<u16>,
    text: [u8; TEXT_MAX],
    len: usize,
    /// The current string or number is longer than `text`.
    long: bool,
}

impl Default for Scanner {
    fn default() -> Self {
        Self::new()
    }
}

impl Scanner {
    pub const fn new() -> Scanner {
        Scanner { state: State::Value, depth: 0, objects: 0, high: None, text: [0; TEXT_MAX], len: 0, long: false }
    }

    /// Current nesting depth (0 at top level; 1 inside the outermost container).
    pub fn depth(&self) -> u32 {
        self.depth
    }

    /// Scans `input`, calling `on` for every token with its text (`None` when too long to keep;
    /// empty for brackets).
    pub fn push(&mut self, input: &[u8], on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), JsonError> {
        for &b in input {
            self.byte(b, on)?;
        }
        Ok(())
    }

    /// Ends the document: a number at top level is complete only now.
    pub fn finish(&mut self, on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), JsonError> {
        if let State::Number(n) = self.state {
            if !n.complete() {
                return Err(JsonError::Incomplete);
            }
            self.emit(Event::Number, on);
            self.after_value();
        }
        match self.state {
            State::Done => Ok(()),
            _ => Err(JsonError::Incomplete),
        }
    }

    fn byte(&mut self, b: u8, on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), JsonError> {
        let ws = matches!(b, b' ' | b'\t' | b'\n' | b'\r');
        match self.state {
            State::Str { key } => match b {
                b'"' => {
                    self.flush_high();
                    self.emit(if key { Event::Key } else { Event::String }, on);
                    if key {
                        self.state = State::Colon;
                    } else {
                        self.after_value();
                    }
                }
                b'\\' => self.state = State::Escape { key },
                0..=0x1f => return Err(JsonError::Syntax),
                _ => {
                    self.flush_high();
                    self.keep(&[b]);
                }
            },
            State::Escape { key } => {
                let c = match b {
                    b'"' | b'\\' | b'/' => b,
                    b'b' => 0x08,
                    b'f' => 0x0c,
                    b'n' => b'\n',
                    b'r' => b'\r',
                    b't' => b'\t',
                    b'u' => {
                        self.state = State::Hex { key, left: 4, acc: 0 };
                        return Ok(());
                    }
                    _ => return Err(JsonError::Syntax),
                };
                self.flush_high();
                self.keep(&[c]);
                self.state = State::Str { key };
            }
            State::Hex { key, left, acc } => {
                let d = match b {
                    b'0'..=b'9' => b - b'0',
                    b'a'..=b'f' => b - b'a' + 10,
                    b'A'..=b'F' => b - b'A' + 10,
                    _ => return Err(JsonError::Syntax),
                } as u16;
                let acc = acc << 4 | d;
                self.state = if left > 1 { State::Hex { key, left: left - 1, acc } } else { self.unicode(acc, key) };
            }
            State::Number(n) => match n.next(b) {
                Some(n) => {
                    self.keep(&[b]);
                    self.state = State::Number(n);
                }
                None if n.complete() => {
                    self.emit(Event::Number, on);
                    self.after_value();
                    // The byte that ended the number is the next token's.
                    return self.byte(b, on);
                }
                None => return Err(JsonError::Syntax),
            },
            State::Word { word, at } => {
                if word[at as usize] != b {
                    return Err(JsonError::Syntax);
                }
                if at as usize + 1 < word.len() {
                    self.state = State::Word { word, at: at + 1 };
                } else {
                    on(
                        match word[0] {
                            b't' => Event::True,
                            b'f' => Event::False,
                            _ => Event::Null,
                        },
                        Some(word),
                    );
                    self.after_value();
                }
            }
            _ if ws => {}
            State::Value | State::ValueOrEnd => match b {
                b']' if self.state == State::ValueOrEnd => self.close(false, on)?,
                _ => self.value(b, on)?,
            },
            State::KeyOrEnd | State::Key => match b {
                b'"' => self.open_string(true),
                b'}' if self.state == State::KeyOrEnd => self.close(true, on)?,
                _ => return Err(JsonError::Syntax),
            },
            State::Colon if b == b':' => self.state = State::Value,
            State::Next => {
                let object = self.in_object();
                match b {
                    b',' => self.state = if object { State::Key } else { State::Value },
                    b'}' | b']' => self.close(b == b'}', on)?,
                    _ => return Err(JsonError::Syntax),
                }
            }
            State::Colon | State::Done => return Err(JsonError::Syntax),
        }
        Ok(())
    }

    /// The first byte of a value.
    // Out of line: inlined at each of its callers it cost more than the call (measured).
    #[inline(never)]
    fn value(&mut self, b: u8, on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), JsonError> {
        match b {
            b'{' | b'[' => {
                if self.depth >= DEPTH_MAX {
                    return Err(JsonError::TooDeep);
                }
                let bit = 1u64 << self.depth;
                if b == b'{' {
                    self.objects |= bit;
                } else {
                    self.objects &= !bit;
                }
                self.depth += 1;
                on(if b == b'{' { Event::Object } else { Event::Array }, Some(&[]));
                self.state = if b == b'{' { State::KeyOrEnd } else { State::ValueOrEnd };
            }
            b'"' => self.open_string(false),
            b'-' | b'0'..=b'9' => {
                self.start_text();
                self.keep(&[b]);
                self.state = State::Number(if b == b'-' {
                    Num::Minus
                } else if b == b'0' {
                    Num::Zero
                } else {
                    Num::Int
                });
            }
            b't' => self.state = State::Word { word: b"true", at: 1 },
            b'f' => self.state = State::Word { word: b"false", at: 1 },
            b'n' => self.state = State::Word { word: b"null", at: 1 },
            _ => return Err(JsonError::Syntax),
        }
        Ok(())
    }

    fn close(&mut self, object: bool, on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), JsonError> {
        if self.depth == 0 || self.in_object() != object {
            return Err(JsonError::Syntax);
        }
        self.depth -= 1;
        on(Event::End, Some(&[]));
        self.after_value();
        Ok(())
    }

    fn in_object(&self) -> bool {
        self.depth > 0 && self.objects & (1u64 << (self.depth - 1)) != 0
    }

    // Out of line: inlined at each of its callers it cost more than the call (measured).
    #[inline(never)]
    fn after_value(&mut self) {
        self.state = if self.depth == 0 { State::Done } else { State::Next };
    }

    fn open_string(&mut self, key: bool) {
        self.start_text();
        self.state = State::Str { key };
    }

    // Out of line: inlined at each of its callers it cost more than the call (measured).
    #[inline(never)]
    fn start_text(&mut self) {
        self.len = 0;
        self.long = false;
        self.high = None;
    }

    /// A complete `\uXXXX`: joins surrogate pairs; a lone half becomes U+FFFD, as lenient
    /// decoders (Go's encoding/json, which Ignition uses) do.
    fn unicode(&mut self, u: u16, key: bool) -> State {
        match (self.high.take(), u) {
            (Some(h), 0xdc00..=0xdfff) => {
                let c = 0x10000 + ((h as u32 - 0xd800) << 10) + (u as u32 - 0xdc00);
                self.keep_char(c);
            }
            (h, _) => {
                if h.is_some() {
                    self.keep_char(0xfffd);
                }
                match u {
                    0xd800..=0xdbff => self.high = Some(u),
                    0xdc00..=0xdfff => self.keep_char(0xfffd),
                    _ => self.keep_char(u as u32),
                }
            }
        }
        State::Str { key }
    }

    fn flush_high(&mut self) {
        if self.high.take().is_some() {
            self.keep_char(0xfffd);
        }
    }

    fn keep_char(&mut self, c: u32) {
        let mut buf = [0u8; 4];
        let s = char::from_u32(c).unwrap_or('\u{fffd}').encode_utf8(&mut buf);
        self.keep(s.as_bytes());
    }

    fn keep(&mut self, bytes: &[u8]) {
        match self.text.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) if !self.long => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            _ => self.long = true,
        }
    }

    fn emit(&mut self, event: Event, on: &mut dyn FnMut(Event, Option<&[u8]>)) {
        on(event, if self.long { None } else { Some(&self.text[..self.len]) });
    }
}

/// A `fmt::Write` into a fixed buffer that fails, rather than truncating, when full: rendered
/// documents are either whole or not produced.
pub struct Writer<'b> {
    pub buf: &'b mut [u8],
    pub len: usize,
}

impl<'b> Writer<'b> {
    // Out of line: inlined at each of its callers it cost more than the call (measured).
    #[inline(never)]
    pub fn new(buf: &'b mut [u8]) -> Self {
        Writer { buf, len: 0 }
    }

    /// Out of line: inlined, each of its many callers (the report, escapes) grew a copy.
    #[inline(never)]
    pub fn bytes(&mut self, s: &[u8]) -> core::fmt::Result {
        let end = self.len + s.len();
        self.buf.get_mut(self.len..end).ok_or(core::fmt::Error)?.copy_from_slice(s);
        self.len = end;
        Ok(())
    }

    /// `"text"` with JSON escapes.
    pub fn quoted(&mut self, s: &[u8]) -> core::fmt::Result {
        self.bytes(b"\"")?;
        escape(self, s)?;
        self.bytes(b"\"")
    }

    pub fn into_slice(self) -> &'b [u8] {
        &self.buf[..self.len]
    }
}

impl core::fmt::Write for Writer<'_> {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.bytes(s.as_bytes())
    }
}

/// Decodes the escapes of a JSON string's raw text (between its quotes, already accepted by
/// the [`Scanner`]) in place and returns the decoded length. Every escape decodes to no more
/// bytes than it spans (`\uXXXX`: 6 bytes to at most 3, a surrogate pair 12 to 4), so the
/// write position never passes the read position. A lone surrogate becomes U+FFFD, as the
/// scanner makes it; a malformed escape (the scanner refuses them) is kept as written.
pub fn unescape_in_place(buf: &mut [u8]) -> usize {
    fn hex(buf: &[u8], at: usize) -> Option<u32> {
        buf.get(at..at + 4)?.iter().try_fold(0, |n, &b| Some(n << 4 | (b as char).to_digit(16)?))
    }
    let (mut r, mut w) = (0, 0);
    while r < buf.len() {
        let b = buf[r];
        let (c, used) = match (b, buf.get(r + 1)) {
            (b'\\', Some(&e)) => match e {
                b'b' => (0x08, 2),
                b'f' => (0x0c, 2),
                b'n' => (0x0a, 2),
                b'r' => (0x0d, 2),
                b't' => (0x09, 2),
                b'u' => match hex(buf, r + 2) {
                    Some(hi @ 0xd800..=0xdbff) => match (buf.get(r + 6..r + 8), hex(buf, r + 8)) {
                        (Some(b"\\u"), Some(lo @ 0xdc00..=0xdfff)) => {
                            (0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00), 12)
                        }
                        _ => (0xfffd, 6),
                    },
                    Some(u) => (u, 6),
                    None => (b'\\' as u32, 1),
                },
                b'"' | b'\\' | b'/' => (e as u32, 2),
                // Not an escape (the scanner refuses these): kept as written.
                _ => (b'\\' as u32, 1),
            },
            // Text bytes (UTF-8 included) are copied as they are.
            _ => {
                buf[w] = b;
                (w, r) = (w + 1, r + 1);
                continue;
            }
        };
        if c < 0x80 {
            buf[w] = c as u8;
            w += 1;
        } else {
            let mut utf8 = [0; 4];
            let text = char::from_u32(c).unwrap_or('\u{fffd}').encode_utf8(&mut utf8);
            buf[w..w + text.len()].copy_from_slice(text.as_bytes());
            w += text.len();
        }
        r += used;
    }
    w
}

/// Checks that `doc` is one JSON document, calling `on` for every token.
pub fn scan(doc: &[u8], on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), JsonError> {
    let mut s = Scanner::new();
    s.push(doc, on)?;
    s.finish(on)
}

/// Appends `s` to `out` as the body of a JSON string (RFC 8259 §7): quote, backslash and
/// control characters escaped, everything else as is.
pub fn escape(out: &mut Writer<'_>, s: &[u8]) -> core::fmt::Result {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut start = 0;
    for (i, &b) in s.iter().enumerate() {
        let esc: &[u8] = match b {
            b'"' => b"\\\"",
            b'\\' => b"\\\\",
            b'\n' => b"\\n",
            b'\r' => b"\\r",
            b'\t' => b"\\t",
            0..=0x1f => &[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]],
            _ => continue,
        };
        out.bytes(&s[start..i])?;
        out.bytes(esc)?;
        start = i + 1;
    }
    out.bytes(&s[start..])
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn events(doc: &[u8]) -> Result<Vec<(Event, Option<String>)>, JsonError> {
        let mut out = Vec::new();
        scan(doc, &mut |e, t: Option<&[u8]>| out.push((e, t.map(|t| String::from_utf8_lossy(t).into_owned()))))?;
        Ok(out)
    }

    fn chunked(doc: &[u8], size: usize) -> Result<Vec<(Event, Option<String>)>, JsonError> {
        let mut out = Vec::new();
        let mut on = |e, t: Option<&[u8]>| out.push((e, t.map(|t| String::from_utf8_lossy(t).into_owned())));
        let mut s = Scanner::new();
        for c in doc.chunks(size) {
            s.push(c, &mut on)?;
        }
        s.finish(&mut on)?;
        Ok(out)
    }

    #[test]
    fn unescape_in_place_matches_the_scanner() {
        for raw in [
            r#"plain"#,
            r#"a\"b\\c\/d\b\f\n\r\t"#,
            r#"\u00e9\u20ac\ud83d\ude00 and é"#,
            r#"lone \ud800 high, lone \udc00 low, \ud800\u0041"#,
            r#"#cloud-config\nhostname: \"x\"\n"#,
        ] {
            let doc = std::format!("\"{raw}\"");
            let mut want = std::vec::Vec::new();
            scan(doc.as_bytes(), &mut |_, t| want.extend_from_slice(t.unwrap())).unwrap();
            let mut buf = raw.as_bytes().to_vec();
            let n = unescape_in_place(&mut buf);
            assert_eq!(&buf[..n], &want[..], "{raw}");
        }
    }

    #[test]
    fn tokens_and_text() {
        let doc = br#" {"a": [1, -2.5e+3, "x\"y", true, false, null], "b\u00e9": {}, "c": []} "#;
        let ev = events(doc).unwrap();
        let kinds: Vec<Event> = ev.iter().map(|e| e.0).collect();
        use Event::*;
        assert_eq!(
            kinds,
            [
                Object, Key, Array, Number, Number, String, True, False, Null, End, Key, Object, End, Key, Array, End,
                End
            ]
        );
        assert_eq!(ev[3].1.as_deref(), Some("1"));
        assert_eq!(ev[4].1.as_deref(), Some("-2.5e+3"));
        assert_eq!(ev[5].1.as_deref(), Some("x\"y"));
        assert_eq!(ev[10].1.as_deref(), Some("bé"));
        // Any chunking gives the same tokens.
        for size in [1, 2, 3, 7] {
            assert_eq!(chunked(doc, size).unwrap(), ev);
        }
    }

    #[test]
    fn escapes_and_surrogates() {
        let ev = events(br#""\n\t\\\/\b\f\r\u0041\ud83d\ude00\ud800x\udc00""#).unwrap();
        assert_eq!(ev[0].1.as_deref(), Some("\n\t\\/\u{8}\u{c}\rA😀\u{fffd}x\u{fffd}"));
    }

    #[test]
    fn top_level_scalars() {
        assert_eq!(events(b"0").unwrap()[0], (Event::Number, Some("0".into())));
        assert_eq!(events(b" 12 ").unwrap()[0], (Event::Number, Some("12".into())));
        assert_eq!(events(b"null").unwrap()[0].0, Event::Null);
    }

    #[test]
    fn refuses_what_is_not_json() {
        for bad in [
            &b""[..],
            b"{",
            b"[1,]",
            b"{\"a\":1,}",
            b"{\"a\" 1}",
            b"{1:2}",
            b"[1 2]",
            b"01",
            b"1.",
            b"-",
            b"1e",
            b".5",
            b"+1",
            b"tru",
            b"trueX",
            b"nul",
            b"\"abc",
            b"\"a\x01\"",
            b"\"\\x\"",
            b"\"\\u12G4\"",
            b"[}",
            b"{]",
            b"{} {}",
            b"]",
            b"#cloud-config\n",
        ] {
            assert!(events(bad).is_err(), "{:?} accepted", std::str::from_utf8(bad));
        }
    }

    #[test]
    fn depth_is_bounded() {
        let ok: Vec<u8> = [vec![b'['; 64], vec![b']'; 64]].concat();
        assert!(events(&ok).is_ok());
        let deep: Vec<u8> = [vec![b'['; 65], vec![b']'; 65]].concat();
        assert_eq!(events(&deep), Err(JsonError::TooDeep));
        // An attacker's million brackets cost nothing but the bitset.
        assert_eq!(events(&vec![b'['; 1_000_000]), Err(JsonError::TooDeep));
    }

    #[test]
    fn long_text_is_not_kept() {
        let long = std::format!("[\"{}\", \"short\"]", "k".repeat(TEXT_MAX + 1));
        let ev = events(long.as_bytes()).unwrap();
        assert_eq!(ev[1], (Event::String, None));
        assert_eq!(ev[2], (Event::String, Some("short".into())));
    }

    #[test]
    fn agrees_with_serde_json() {
        for doc in [
            &br#"{"ignition":{"version":"3.4.0"},"storage":{"files":[]}}"#[..],
            b"[1e5, 0.25, -0, \"\\u00e9\"]",
            b"{\"\":\"\"}",
        ] {
            assert!(serde_json::from_slice::<serde_json::Value>(doc).is_ok());
            assert!(events(doc).is_ok());
        }
    }

    #[test]
    fn escape_round_trips() {
        let mut buf = [0u8; 64];
        let mut w = Writer::new(&mut buf);
        escape(&mut w, "a\"b\\c\n\u{1}é".as_bytes()).unwrap();
        let s = String::from_utf8(w.into_slice().to_vec()).unwrap();
        assert_eq!(s, "a\\\"b\\\\c\\n\\u0001é");
        // Full means an error, never a cut-off document.
        assert!(Writer::new(&mut [0u8; 3]).quoted(b"abcd").is_err());
        let back: String = serde_json::from_str(&std::format!("\"{s}\"")).unwrap();
        assert_eq!(back, "a\"b\\c\n\u{1}é");
    }
}
