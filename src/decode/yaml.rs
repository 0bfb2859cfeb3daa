//! A YAML reader (YAML 1.2.2) for the documents the NoCloud family hands out, sans-IO and
//! allocation-free: `meta-data`, `#cloud-config` user-data and `network-config` v1 and v2.
//!
//! It reports a document as the JSON scanner's [`Event`]s, so the member-path machinery that
//! reads JSON metadata ([`crate::sources::meta`]) reads YAML unchanged: mappings as
//! `Object`/`Key`…/`End`, sequences as `Array`…/`End`, and every scalar as `String` with its
//! decoded text. Scalars are not resolved to numbers or booleans (the callers compare text);
//! only the core schema's nulls (§10.3.2: `null`, `Null`, `NULL`, `~` and an empty node, §7.2)
//! come out as `Null`. JSON is YAML 1.2 flow (§7.4), so a compact JSON document reads too.
//!
//! What is read, each rule from the section it cites: block mappings and sequences nested by
//! indentation (§8.2), a sequence as a mapping value at the key's own indentation (§8.2.1
//! `seq-spaces`), compact mappings and sequences after `- ` (§8.2.1); flow sequences and
//! mappings, with single-pair mappings inside sequences (§7.4), spanning lines; plain (§7.3.3),
//! single-quoted (§7.3.2) and double-quoted scalars with every escape of §5.7; literal and folded
//! block scalars with chomping and indentation indicators (§8.1); comments (§6.6); one document
//! with optional `---` and `...` markers (§9.1); LF, CRLF and CR line breaks (§5.4); a byte
//! order mark at the start (§5.2).
//!
//! What is refused, with the line it is on ([`Kind`] names it): a tab in indentation (§6.1),
//! anchors and aliases (§6.9.2, §7.1), tags (§6.9.1), explicit `? ` keys and keys that are not a
//! scalar (§8.2.2), directives (§6.8), a second document or content on a marker line (§9.2),
//! scalars continued on another line (multi-line plain and quoted scalars, §7.3), control
//! characters (§5.1) and anything that is not YAML. A document is read right or not at all:
//! nothing is guessed. Duplicate keys are reported as they come (the callers decide).
//!
//! Bounds: nesting deeper than [`DEPTH_MAX`] is an error; nothing recurses (block collections
//! are a column stack, flow collections a bitset); every loop advances through the input. A
//! key or scalar longer than [`TEXT_MAX`] is reported with text `None`, as the JSON scanner
//! does.

use crate::decode::json::{Event, TEXT_MAX};

/// Deepest nesting accepted, block and flow collections together. cloud-init's
/// `network-config` nests about 6 deep.
pub const DEPTH_MAX: usize = 32;

/// Why a document was refused, and on which line (1-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct YamlError {
    pub line: u32,
    pub kind: Kind,
}

/// What was refused. The first seven are YAML flint does not read; the rest is not YAML.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A tab in a line's indentation, or after `- ` (§6.1: indentation is spaces only).
    Tab,
    /// An anchor `&a` or an alias `*a` (§6.9.2, §7.1).
    Anchor,
    /// A tag `!a`, `!!str` (§6.9.1).
    Tag,
    /// An explicit key `? `, an empty key, or a collection as a key (§8.2.2, §7.4.2).
    ComplexKey,
    /// A directive `%YAML`, `%TAG` (§6.8).
    Directive,
    /// A second document, or content on a `---` or `...` line (§9.1, §9.2).
    Document,
    /// A plain or quoted scalar continued on the next line (§7.3).
    MultiLine,
    /// Nested deeper than [`DEPTH_MAX`].
    TooDeep,
    /// A line indented where nothing can be (§6.1, §8.2).
    Indent,
    /// A quoted scalar not closed on its line (§7.3.1, §7.3.2).
    Quote,
    /// An unknown escape, or one that is no Unicode scalar value (§5.7).
    Escape,
    /// Anything else that is not YAML, control characters included (§5.1).
    Syntax,
}

impl core::fmt::Display for YamlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let what = match self.kind {
            Kind::Tab => "tab in indentation",
            Kind::Anchor => "anchor or alias (not read)",
            Kind::Tag => "tag (not read)",
            Kind::ComplexKey => "key that is not a scalar (not read)",
            Kind::Directive => "directive (not read)",
            Kind::Document => "more than one document",
            Kind::MultiLine => "scalar continued on the next line (not read)",
            Kind::TooDeep => "YAML nested too deeply",
            Kind::Indent => "bad indentation",
            Kind::Quote => "quoted scalar not closed on its line",
            Kind::Escape => "bad escape",
            Kind::Syntax => "not valid YAML",
        };
        write!(f, "line {}: {what}", self.line)
    }
}

impl core::error::Error for YamlError {}

/// Reads one YAML document and reports it as the JSON scanner's events (see the module docs):
/// text is `None` when longer than [`TEXT_MAX`], empty for `Object`, `Array` and `End`.
pub fn scan(doc: &[u8], on: &mut dyn FnMut(Event, Option<&[u8]>)) -> Result<(), YamlError> {
    let mut cols = [0; 64];
    cols[0] = -1;
    Reader { doc, at: 0, line: 1, cols, seqs: 0, depth: 0, text: [0; TEXT_MAX], len: 0, long: false, on }.document()
}

/// Where a line's content ends (the break itself, or the end of input read as 0: control
/// characters are refused before reading, so 0 cannot be content).
/// §5.7: the escapes of double-quoted scalars, and the code point each stands for; `0xfffN`: N
/// hex digits give it.
const ESCAPES: &[u8; 21] = b"0abt\tnvfre \"/\\N_LPxuU";
const CODES: [u16; 21] =
    [0, 7, 8, 9, 9, 10, 11, 12, 13, 0x1b, 0x20, 0x22, 0x2f, 0x5c, 0x85, 0xa0, 0x2028, 0x2029, 0xfff2, 0xfff4, 0xfff8];

// The byte classes are out of line too (see [`Reader`]): called from dozens of places.
#[inline(never)]
fn eol(b: u8) -> bool {
    matches!(b, b'\n' | b'\r' | 0)
}

/// White space inside a line (§5.5).
#[inline(never)]
fn white(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

fn blank(b: u8) -> bool {
    white(b) || eol(b)
}

/// May follow `:`, `-` or `?` inside a plain scalar (§7.3.3 `ns-plain-safe`): flow indicators
/// end plain scalars in flow collections only.
#[inline(never)]
fn safe(b: u8, flow: bool) -> bool {
    !(blank(b) || flow && in_set(b, FLOW))
}

/// A set of ASCII bytes as a bit mask.
const fn set(bytes: &[u8]) -> u128 {
    let mut m = 0;
    let mut i = 0;
    while i < bytes.len() {
        m |= 1 << bytes[i];
        i += 1;
    }
    m
}

#[inline(never)]
fn in_set(b: u8, set: u128) -> bool {
    b < 128 && set >> b & 1 != 0
}

/// Flow indicators (§5.3).
const FLOW: u128 = set(b",[]{}");
/// Indicators (§5.3 `c-indicator`).
const INDICATORS: u128 = set(b"-?:,[]{}#&*!|>'\"%@`");

/// Can a plain scalar start with `b` followed by `next` (§7.3.3 `ns-plain-first`)?
fn plain_first(b: u8, next: u8, flow: bool) -> bool {
    !in_set(b, INDICATORS) || in_set(b, set(b"-?:")) && safe(next, flow)
}

/// The reader's state. Its helpers that run from many places are kept out of line
/// (`#[inline(never)]`): the reader's code size counts against flint's budget (README).
struct Reader<'d, 'o> {
    doc: &'d [u8],
    /// The next byte.
    at: usize,
    line: u32,
    /// Columns of the open block collections from index 1, outermost first; index 0 is the top
    /// (-1). Indexed modulo 64 (`depth` stays within DEPTH_MAX), so never out of bounds.
    cols: [isize; 64],
    /// Bit `i`: block collection `i` is a sequence.
    seqs: u64,
    /// Open block collections.
    depth: usize,
    /// The scalar being read, decoded.
    text: [u8; TEXT_MAX],
    len: usize,
    /// The scalar is longer than `text`.
    long: bool,
    on: &'o mut dyn FnMut(Event, Option<&[u8]>),
}

impl Reader<'_, '_> {
    fn byte(&self, i: usize) -> u8 {
        self.doc.get(i).copied().unwrap_or(0)
    }

    fn cur(&self) -> u8 {
        self.byte(self.at)
    }

    fn err<T>(&self, kind: Kind) -> Result<T, YamlError> {
        Err(YamlError { line: self.line, kind })
    }

    /// Separation inside a line (§6.2): spaces. A tab there is refused, as PyYAML (cloud-init's
    /// reader) and libyaml refuse it, though §6.2 allows it.
    fn sep(&mut self) -> Result<(), YamlError> {
        self.spaces();
        if self.cur() == b'\t' {
            return self.err(Kind::Tab);
        }
        Ok(())
    }

    /// Skips spaces only; returns how many.
    fn spaces(&mut self) -> usize {
        let start = self.at;
        while self.cur() == b' ' {
            self.at += 1;
        }
        self.at - start
    }

    /// Steps to the end of the line.
    #[inline(never)]
    fn skip_line(&mut self) {
        while !eol(self.cur()) {
            self.at += 1;
        }
    }

    /// Steps over the line break at `at` (CRLF, LF or CR, §5.4), if any.
    fn newline(&mut self) {
        if self.cur() == b'\r' && self.byte(self.at + 1) == b'\n' {
            self.at += 1;
        }
        if self.at < self.doc.len() {
            self.at += 1;
        }
        self.line += 1;
    }

    /// The rest of the line is white space and maybe a comment (§6.6: `#` after white space);
    /// steps past it, or fails with `kind`.
    fn end_line(&mut self, kind: Kind) -> Result<(), YamlError> {
        self.sep()?;
        if self.cur() == b'#' && blank(self.byte(self.at.wrapping_sub(1))) {
            self.skip_line();
        }
        if !eol(self.cur()) {
            return self.err(kind);
        }
        self.newline();
        Ok(())
    }

    /// A `---` or `...` marker line starts at `i` (§9.1.2: at column 0, then white space).
    fn marker(&self, i: usize) -> bool {
        let m = self.byte(i);
        (m == b'-' || m == b'.') && self.byte(i + 1) == m && self.byte(i + 2) == m && blank(self.byte(i + 3))
    }

    /// Column of the innermost block collection; -1 at the top (§8.2: its entries are at `n`,
    /// a node inside one is more indented than `n`).
    fn top(&self) -> isize {
        self.cols[self.depth & 63]
    }

    fn is_seq(&self, i: usize) -> bool {
        self.seqs >> (i & 63) & 1 != 0
    }

    fn open(&mut self, col: usize, seq: bool) -> Result<(), YamlError> {
        if self.depth >= DEPTH_MAX {
            return self.err(Kind::TooDeep);
        }
        self.depth += 1;
        self.cols[self.depth & 63] = col as isize;
        self.seqs = self.seqs & !(1 << self.depth) | (seq as u64) << self.depth;
        self.mark(if seq { Event::Array } else { Event::Object });
        Ok(())
    }

    fn close(&mut self) {
        self.depth -= 1;
        self.mark(Event::End);
    }

    /// An event without text: a bracket (empty text, as the JSON scanner reports) or a null.
    #[inline(never)]
    fn mark(&mut self, event: Event) {
        (self.on)(event, Some(&[]));
    }

    #[inline(never)]
    fn start_text(&mut self) {
        self.len = 0;
        self.long = false;
    }

    #[inline(never)]
    fn keep(&mut self, bytes: &[u8]) {
        match self.text.get_mut(self.len..self.len + bytes.len()) {
            Some(dst) if !self.long => {
                dst.copy_from_slice(bytes);
                self.len += bytes.len();
            }
            _ => self.long = true,
        }
    }

    #[inline(never)]
    fn keep_breaks(&mut self, n: usize) {
        for _ in 0..n {
            self.keep(b"\n");
        }
    }

    #[inline(never)]
    fn emit(&mut self, event: Event) {
        (self.on)(event, if self.long { None } else { Some(&self.text[..self.len]) });
    }

    fn null(&mut self) {
        self.mark(Event::Null);
    }

    /// The scalar just read, as a value: a plain one spelling null is `Null` (§10.3.2).
    fn value(&mut self, plain: bool) {
        let null = plain && !self.long && matches!(&self.text[..self.len], b"~" | b"null" | b"Null" | b"NULL");
        self.emit(if null { Event::Null } else { Event::String });
    }

    /// The whole document: block structure line by line (§8.2, §9.1).
    // Out of line though called once: measured smaller so.
    #[inline(never)]
    fn document(&mut self) -> Result<(), YamlError> {
        // §5.1: no C0 control but tab and the line breaks, anywhere. (DEL, C1 controls and
        // non-characters are outside c-printable too, but quoted scalars must take them for
        // JSON's sake; flint reads them as text everywhere.)
        if let Some(i) = self.doc.iter().position(|&b| b < 0x20 && !matches!(b, b'\t' | b'\n' | b'\r')) {
            while self.at < i {
                if eol(self.cur()) {
                    self.newline();
                } else {
                    self.at += 1;
                }
            }
            return self.err(Kind::Syntax);
        }
        if self.doc.starts_with("\u{feff}".as_bytes()) {
            self.at = 3;
        }
        // A node is due: `Some(true)` after `key:`, where a sequence may sit at the key's own
        // column; `Some(false)` after `- ` and at the start.
        let mut pending = Some(false);
        let mut started = false;
        let mut ended = false;
        // The last line ended in a plain scalar: a deeper line would continue it.
        let mut plain = false;
        while self.at < self.doc.len() {
            let start = self.at;
            let c = self.spaces();
            let first = self.at;
            if eol(self.cur()) || self.cur() == b'#' || self.cur() == b'\t' {
                self.end_line(Kind::Syntax)?;
                continue;
            }
            if c == 0 && self.marker(start) {
                let end = self.cur() == b'.';
                if ended || started && !end {
                    return self.err(Kind::Document);
                }
                (started, ended) = (true, end);
                self.at += 3;
                self.end_line(Kind::Document)?;
                continue;
            }
            if ended {
                return self.err(Kind::Document);
            }
            started = true;
            let col = c as isize;
            let dash = self.byte(first) == b'-' && blank(self.byte(first + 1));
            let mut fresh = false;
            if let Some(map_value) = pending.take() {
                fresh = col > self.top() || map_value && dash && col == self.top();
                if !fresh {
                    self.null();
                }
            }
            if !fresh {
                if col > self.top() {
                    return self.err(if plain { Kind::MultiLine } else { Kind::Indent });
                }
                while self.top() > col {
                    self.close();
                }
                // A sequence at its key's column ends where the mapping goes on.
                let d = self.depth;
                if !dash && self.is_seq(d) && !self.is_seq(d - 1) && self.cols[(d - 1) & 63] == col {
                    self.close();
                }
                if self.top() != col {
                    return self.err(Kind::Indent);
                }
                if self.is_seq(self.depth) != dash {
                    return self.err(Kind::Syntax);
                }
            }
            plain = false;
            // The nodes on this line: `- ` entries, then a key or a value (§8.2.1, §8.2.2).
            let mut key_ok = true;
            loop {
                let col = self.at - start;
                let b = self.cur();
                let next = self.byte(self.at + 1);
                if b == b'-' && blank(next) {
                    if !key_ok {
                        return self.err(Kind::Syntax);
                    }
                    if fresh {
                        self.open(col, true)?;
                    }
                    self.at += 1;
                    self.sep()?;
                    if eol(self.cur()) || self.cur() == b'#' {
                        pending = Some(false);
                        self.end_line(Kind::Syntax)?;
                        break;
                    }
                    fresh = true;
                    continue;
                }
                match b {
                    b'[' | b'{' => {
                        self.flow()?;
                        self.sep()?;
                        if self.cur() == b':' {
                            return self.err(Kind::ComplexKey);
                        }
                        if !fresh {
                            return self.err(Kind::Syntax);
                        }
                        self.end_line(Kind::Syntax)?;
                        break;
                    }
                    b'|' | b'>' if fresh => {
                        self.block_scalar()?;
                        break;
                    }
                    _ => {}
                }
                let node = self.at;
                let is_plain = self.scalar(false)?;
                self.sep()?;
                if self.cur() == b':' && blank(self.byte(self.at + 1)) {
                    // An implicit key spans at most 1024 characters up to its `:` (§8.2.2,
                    // §7.4.2), as libyaml, PyYAML and saphyr count them.
                    let chars = self.doc[node..self.at].iter().filter(|&&b| b & 0xc0 != 0x80).count();
                    if !key_ok || chars > 1024 {
                        return self.err(Kind::Syntax);
                    }
                    if fresh {
                        self.open(col, false)?;
                    }
                    self.emit(Event::Key);
                    self.at += 1;
                    self.sep()?;
                    if eol(self.cur()) || self.cur() == b'#' {
                        pending = Some(true);
                        self.end_line(Kind::Syntax)?;
                        break;
                    }
                    key_ok = false;
                    fresh = true;
                    continue;
                }
                if !fresh {
                    return self.err(Kind::Syntax);
                }
                self.value(is_plain);
                plain = is_plain;
                self.end_line(Kind::Syntax)?;
                break;
            }
        }
        if pending.is_some() {
            self.null();
        }
        while self.depth > 0 {
            self.close();
        }
        Ok(())
    }

    /// A plain scalar on one line (§7.3.3): ends before `: `, ` #`, the line's end and, in a
    /// flow collection, a flow indicator; trailing spaces are not part of it. A tab ends it
    /// too (and is then refused: PyYAML reads no tab in a plain scalar).
    fn plain(&mut self, flow: bool) {
        let start = self.at;
        let mut end = start;
        loop {
            let b = self.cur();
            if eol(b)
                || b == b'\t'
                || b == b':' && !safe(self.byte(self.at + 1), flow)
                || b == b'#' && self.byte(self.at - 1) == b' '
                || flow && in_set(b, FLOW)
            {
                break;
            }
            self.at += 1;
            if b != b' ' {
                end = self.at;
            }
        }
        self.start_text();
        let doc = self.doc;
        self.keep(&doc[start..end]);
    }

    /// A single-quoted (§7.3.2, `''` is a quote) or double-quoted (§7.3.1, escapes of §5.7)
    /// scalar that ends on its line.
    fn quoted(&mut self) -> Result<(), YamlError> {
        let q = self.cur();
        self.start_text();
        self.at += 1;
        loop {
            let b = self.cur();
            if eol(b) {
                return self.err(Kind::Quote);
            }
            self.at += 1;
            if b == q {
                if q == b'"' || self.cur() != b'\'' {
                    return Ok(());
                }
                self.at += 1;
            } else if b == b'\\' && q == b'"' {
                let e = self.cur();
                self.at += 1;
                // An escaped line break continues the scalar on the next line.
                if eol(e) {
                    return self.err(Kind::Quote);
                }
                let Some((_, &code)) = ESCAPES.iter().zip(&CODES).find(|&(&x, _)| x == e) else {
                    return self.err(Kind::Escape);
                };
                // `x`, `u` and `U` are followed by that many hex digits.
                let (mut c, digits) = if code >= 0xfff0 { (0, code & 15) } else { (code as u32, 0) };
                for _ in 0..digits {
                    match (self.cur() as char).to_digit(16) {
                        Some(d) => c = c << 4 | d,
                        None => return self.err(Kind::Escape),
                    }
                    self.at += 1;
                }
                match char::from_u32(c) {
                    Some(ch) => self.keep(ch.encode_utf8(&mut [0; 4]).as_bytes()),
                    None => return self.err(Kind::Escape),
                }
                continue;
            }
            self.keep(&[b]);
        }
    }

    /// A literal `|` or folded `>` block scalar (§8.1): the header, then every line that belongs
    /// to it. Leaves `at` at the first line after it.
    fn block_scalar(&mut self) -> Result<(), YamlError> {
        let n = self.top();
        let folded = self.cur() == b'>';
        self.at += 1;
        // §8.1.1.2: `-` strip, `+` keep, neither clip; §8.1.1.1: an indentation indicator.
        let mut chomp = None;
        let mut indent = None;
        for _ in 0..2 {
            match self.cur() {
                b @ (b'-' | b'+') if chomp.is_none() => chomp = Some(b == b'+'),
                // At the top, the indicator is the column itself (where §8.1.1.1 would count
                // from -1): so libyaml, PyYAML (cloud-init's reader) and saphyr read it.
                d @ b'1'..=b'9' if indent.is_none() => indent = Some(n.max(0) as usize + (d - b'0') as usize),
                _ => break,
            }
            self.at += 1;
        }
        self.end_line(Kind::Syntax)?;
        self.start_text();
        // Empty lines since the last content line, and the most spaces among leading ones.
        let mut empty = 0;
        let mut widest = 0;
        // The last content line ends in a line break (not at the end of input).
        let mut brk = 0;
        // Whether the last content line was "spaced" (starts with white space: not folded).
        let mut last: Option<bool> = None;
        while self.at < self.doc.len() {
            let start = self.at;
            let s = self.spaces();
            let b = self.cur();
            // The line after the scalar is read from its start again.
            self.at = start;
            if s == 0 && self.marker(start) {
                break;
            }
            let k = match indent {
                Some(k) => k,
                // Auto-detected from the first non-empty line (§8.1.1.1), which must be
                // deeper than the parent and no leading empty line wider.
                None if !eol(b) => {
                    // PyYAML, libyaml and saphyr refuse a tab there.
                    if s == 0 && b == b'\t' {
                        return self.err(Kind::Tab);
                    }
                    if s as isize <= n {
                        break;
                    }
                    if widest > s {
                        return self.err(Kind::Indent);
                    }
                    indent = Some(s);
                    s
                }
                None => usize::MAX,
            };
            if eol(b) && s <= k {
                widest = widest.max(s);
                // §6.4: an empty line ends in a line break.
                empty += (b != 0) as usize;
            } else if s < k {
                break;
            } else {
                let spaced = white(self.byte(start + k));
                match last {
                    None => self.keep_breaks(empty),
                    // §8.1.3: a break between two unspaced lines folds to a space, or is
                    // dropped before empty lines; other breaks stay (§6.5).
                    Some(false) if folded && !spaced => {
                        if empty == 0 {
                            self.keep(b" ");
                        }
                        self.keep_breaks(empty);
                    }
                    Some(_) => self.keep_breaks(empty + 1),
                }
                self.skip_line();
                let doc = self.doc;
                self.keep(&doc[start + k..self.at]);
                last = Some(spaced);
                empty = 0;
                brk = (self.cur() != 0) as usize;
            }
            self.skip_line();
            self.newline();
        }
        // §8.1.1.2: the last line break (none at the end of input) and the trailing empty lines.
        match chomp {
            None => self.keep_breaks(brk),
            Some(true) => self.keep_breaks(brk + empty),
            Some(false) => {}
        }
        self.emit(Event::String);
        Ok(())
    }

    /// Spaces, comments and line breaks inside a flow collection (§6.7). Lines are not held to
    /// §6.3's indentation (deeper than the block collection around): PyYAML and libyaml hold
    /// them to none, and brackets leave nothing ambiguous. Returns whether a line was crossed.
    fn flow_space(&mut self) -> Result<bool, YamlError> {
        let mut crossed = false;
        loop {
            match self.cur() {
                b' ' => self.at += 1,
                b'\t' => return self.err(Kind::Tab),
                b'#' if blank(self.byte(self.at - 1)) => {
                    self.skip_line();
                }
                b'\n' | b'\r' => {
                    self.newline();
                    crossed = true;
                    if self.marker(self.at) {
                        return self.err(Kind::Document);
                    }
                }
                _ => return Ok(crossed),
            }
        }
    }

    /// A scalar starting at `at` (§7.3), read into the text buffer; returns whether it is plain.
    /// Other node starts are refused here: properties (§6.9), explicit and empty keys, directives.
    fn scalar(&mut self, flow: bool) -> Result<bool, YamlError> {
        let b = self.cur();
        let next = self.byte(self.at + 1);
        match b {
            b'&' | b'*' => self.err(Kind::Anchor),
            b'!' => self.err(Kind::Tag),
            b'?' | b':' if !safe(next, flow) => self.err(Kind::ComplexKey),
            b'%' => self.err(Kind::Directive),
            b'\'' | b'"' => self.quoted().map(|_| false),
            _ if plain_first(b, next, flow) => {
                self.plain(flow);
                Ok(true)
            }
            _ => self.err(Kind::Syntax),
        }
    }

    /// A flow collection (§7.4) from its opening bracket to its closing one.
    fn flow(&mut self) -> Result<(), YamlError> {
        #[derive(Clone, Copy, PartialEq)]
        enum St {
            /// After `[`, `{` or `,`: an entry, or the end.
            Start,
            /// After a mapping key: `:`, `,` or the end.
            Key,
            /// After `:` (and before the outermost collection): a value, `,` or the end.
            Value,
            /// After an entry: `,` or the end.
            Done,
        }
        // Bit `i`: flow level `i` is a mapping; one that is a single-pair mapping inside a
        // sequence (§7.4.1 `ns-flow-pair`), closed by the sequence's `,` or `]`.
        let mut maps = 0u64;
        let mut pairs = 0u64;
        let mut d = 0usize;
        let mut st = St::Value;
        // The last scalar was plain (else quoted: a JSON-like key, which `:` may follow at once,
        // §7.4.2).
        let mut plain = false;
        loop {
            let crossed = d > 0 && self.flow_space()?;
            if self.at >= self.doc.len() {
                return self.err(Kind::Syntax);
            }
            let b = self.cur();
            let next = self.byte(self.at + 1);
            let level = d.wrapping_sub(1) & 63;
            let map = maps >> level & 1 != 0;
            if d > 0 && matches!(b, b',' | b']' | b'}') {
                if b == b',' && st == St::Start {
                    return self.err(Kind::Syntax);
                }
                if matches!(st, St::Key | St::Value) {
                    self.null();
                }
                st = St::Done;
                if pairs >> level & 1 != 0 {
                    // The pair ends here; the byte is its sequence's.
                    d -= 1;
                    self.mark(Event::End);
                    continue;
                }
                self.at += 1;
                if b == b',' {
                    st = St::Start;
                    continue;
                }
                if (b == b'}') != map {
                    return self.err(Kind::Syntax);
                }
                d -= 1;
                self.mark(Event::End);
                plain = false;
                if d == 0 {
                    return Ok(());
                }
                continue;
            }
            if b == b':' && st == St::Key {
                // After a plain key, white space or the entry's end must follow (§7.4.2
                // `c-ns-flow-map-separate-value`); after a quoted one, anything.
                if plain && !blank(next) && !in_set(next, set(b",]}")) {
                    return self.err(if crossed && safe(next, true) { Kind::MultiLine } else { Kind::Syntax });
                }
                self.at += 1;
                st = St::Value;
                continue;
            }
            if matches!(st, St::Key | St::Done) {
                // `:` after a collection (a collection as a key, §7.4.1); another node.
                return self.err(if b == b':' && !safe(next, true) {
                    Kind::ComplexKey
                } else if crossed && plain {
                    Kind::MultiLine
                } else {
                    Kind::Syntax
                });
            }
            if b == b'[' || b == b'{' {
                if map && st != St::Value {
                    return self.err(Kind::ComplexKey);
                }
                self.open_flow(d)?;
                maps = maps & !(1 << d) | ((b == b'{') as u64) << d;
                pairs &= !(1 << d);
                d += 1;
                self.mark(if b == b'{' { Event::Object } else { Event::Array });
                self.at += 1;
                st = St::Start;
                continue;
            }
            plain = self.scalar(true)?;
            if st == St::Value {
                self.value(plain);
                st = St::Done;
            } else if map {
                self.emit(Event::Key);
                st = St::Key;
            } else {
                // An entry of a sequence: a single-pair mapping's key when `:` follows on its line.
                self.sep()?;
                if self.cur() == b':' && (!plain || !safe(self.byte(self.at + 1), true)) {
                    self.open_flow(d)?;
                    maps |= 1 << d;
                    pairs |= 1 << d;
                    d += 1;
                    self.mark(Event::Object);
                    self.emit(Event::Key);
                    st = St::Key;
                } else {
                    self.value(plain);
                    st = St::Done;
                }
            }
        }
    }

    fn open_flow(&self, d: usize) -> Result<(), YamlError> {
        if self.depth + d >= DEPTH_MAX {
            return self.err(Kind::TooDeep);
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    /// The events as compact JSON-like text: `{k:"v",l:["a",~]}`; `~` null, `<long>` no text.
    fn read(doc: &str) -> Result<String, YamlError> {
        let mut out = String::new();
        // Per open collection: whether an entry was written (a comma is due) and its closer.
        let mut stack: Vec<(bool, char)> = Vec::new();
        let mut after_key = false;
        scan(doc.as_bytes(), &mut |e, t| {
            let text = t.map(|t| String::from_utf8_lossy(t).into_owned());
            if e != Event::End
                && !after_key
                && let Some((written, _)) = stack.last_mut()
            {
                if *written {
                    out.push(',');
                }
                *written = true;
            }
            after_key = e == Event::Key;
            match e {
                Event::Object => {
                    out.push('{');
                    stack.push((false, '}'));
                }
                Event::Array => {
                    out.push('[');
                    stack.push((false, ']'));
                }
                Event::End => out.push(stack.pop().unwrap().1),
                Event::Key => out.push_str(&std::format!("{}:", text.as_deref().unwrap_or("<long>"))),
                Event::Null => out.push('~'),
                _ => out.push_str(&text.map_or("<long>".into(), |t| std::format!("{t:?}"))),
            }
        })?;
        assert!(stack.is_empty());
        Ok(out)
    }

    fn fails(doc: &str) -> (u32, Kind) {
        let e = read(doc).unwrap_err();
        (e.line, e.kind)
    }

    const PROXMOX_NETWORK: &str = "version: 1
config:
    - type: physical
      name: eth0
      mac_address: 'bc:24:11:2c:69:ec'
      subnets:
      - type: static
        address: '192.168.1.10'
        netmask: '255.255.255.0'
        gateway: '192.168.1.1'
    - type: nameserver
      address:
      - '1.1.1.1'
      - '8.8.8.8'
      search:
      - 'example.com'
";

    const PROXMOX_USER_DATA: &str = "#cloud-config
hostname: vm1
manage_etc_hosts: true
fqdn: vm1.example.com
user: core
password: $5$abc$def
ssh_authorized_keys:
  - ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx me@host
chpasswd:
  expire: False
users:
  - default
package_upgrade: true
";

    const NETWORK_V2: &str = "version: 2
ethernets:
  eth0:
    match:
      macaddress: \"52:54:00:12:34:56\"
    addresses: [10.0.0.5/24]
    gateway4: 10.0.0.1
    nameservers:
      addresses: [10.0.0.1]
";

    const CLOUD_CONFIG: &str = "#cloud-config
--- # the document starts here
# users in both styles
users: [{name: a, ssh_authorized_keys: [k1, k2]}, default]
more_users:
- name: b   # compact mapping in a sequence
  groups: [wheel, 'adm']
  ssh_authorized_keys:
    - ssh-rsa AAAAB3 b@host
    - \"ssh-ed25519 AAAAC3 b@laptop\"
  lock_passwd: false
write_files:
  - path: /etc/motd
    permissions: '0644'
    content: |
      Welcome, #1: not a comment
        indented

      last line
  - path: /etc/issue
    content: >-
      folded
      text

      para
runcmd:
  - [sh, -c, 'echo hi # not a comment']
  - echo http://example.com/a?b=c#frag
...
# after the end
";

    #[test]
    fn proxmox_network_config_v1() {
        assert_eq!(
            read(PROXMOX_NETWORK).unwrap(),
            r#"{version:"1",config:[{type:"physical",name:"eth0",mac_address:"bc:24:11:2c:69:ec",subnets:[{type:"static",address:"192.168.1.10",netmask:"255.255.255.0",gateway:"192.168.1.1"}]},{type:"nameserver",address:["1.1.1.1","8.8.8.8"],search:["example.com"]}]}"#
        );
    }

    #[test]
    fn proxmox_user_data() {
        assert_eq!(
            read(PROXMOX_USER_DATA).unwrap(),
            r#"{hostname:"vm1",manage_etc_hosts:"true",fqdn:"vm1.example.com",user:"core",password:"$5$abc$def",ssh_authorized_keys:["ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGx me@host"],chpasswd:{expire:"False"},users:["default"],package_upgrade:"true"}"#
        );
    }

    #[test]
    fn nocloud_meta_data() {
        // cloud-localds and Proxmox: plain YAML, keys as a list or one string.
        assert_eq!(
            read("instance-id: iid-local01\nlocal-hostname: cloudimg\npublic-keys:\n  - ssh-rsa AAAA1 a@b\n  - ssh-ed25519 AAAA2\n").unwrap(),
            r#"{instance-id:"iid-local01",local-hostname:"cloudimg",public-keys:["ssh-rsa AAAA1 a@b","ssh-ed25519 AAAA2"]}"#
        );
        assert_eq!(
            read("instance-id: 8b9a\npublic-keys: ssh-rsa AAAA1 a@b\n").unwrap(),
            r#"{instance-id:"8b9a",public-keys:"ssh-rsa AAAA1 a@b"}"#
        );
        // KubeVirt writes compact JSON: a quoted key may be followed by `:` and no space.
        assert_eq!(
            read(r#"{"instance-id":"vm1.default","local-hostname":"vm1","public-keys":{"0":"ssh-rsa AAAA1 x"}}"#)
                .unwrap(),
            r#"{instance-id:"vm1.default",local-hostname:"vm1",public-keys:{0:"ssh-rsa AAAA1 x"}}"#
        );
        // Pretty-printed JSON spans lines; numbers, booleans and null as JSON has them.
        assert_eq!(
            read("{\n  \"instance-id\": \"i\",\n  \"n\": [1, -2.5e3, true, null],\n  \"e\": {}\n}\n").unwrap(),
            r#"{instance-id:"i",n:["1","-2.5e3","true",~],e:{}}"#
        );
    }

    #[test]
    fn network_config_v2() {
        assert_eq!(
            read(NETWORK_V2).unwrap(),
            r#"{version:"2",ethernets:{eth0:{match:{macaddress:"52:54:00:12:34:56"},addresses:["10.0.0.5/24"],gateway4:"10.0.0.1",nameservers:{addresses:["10.0.0.1"]}}}}"#
        );
    }

    #[test]
    fn cloud_config_with_everything() {
        let want = r#"{users:[{name:"a",ssh_authorized_keys:["k1","k2"]},"default"],more_users:[{name:"b",groups:["wheel","adm"],ssh_authorized_keys:["ssh-rsa AAAAB3 b@host","ssh-ed25519 AAAAC3 b@laptop"],lock_passwd:"false"}],write_files:[{path:"/etc/motd",permissions:"0644",content:"Welcome, #1: not a comment\n  indented\n\nlast line\n"},{path:"/etc/issue",content:"folded text\npara"}],runcmd:[["sh","-c","echo hi # not a comment"],"echo http://example.com/a?b=c#frag"]}"#;
        assert_eq!(read(CLOUD_CONFIG).unwrap(), want);
        // CRLF line breaks read the same (block scalar contents included), and so do CR ones.
        assert_eq!(read(&CLOUD_CONFIG.replace('\n', "\r\n")).unwrap(), want);
        assert_eq!(read(&CLOUD_CONFIG.replace('\n', "\r")).unwrap(), want);
        // A byte order mark may start the stream (§5.2).
        assert_eq!(read("\u{feff}a: b").unwrap(), r#"{a:"b"}"#);
    }

    #[test]
    fn plain_scalars() {
        assert_eq!(
            read("mac: 52:54:00:12:34:56\nurl: http://x/y#z\nk : v\ncolon: a:b\nsp: a  b  \nhash: a#b # c\n").unwrap(),
            r#"{mac:"52:54:00:12:34:56",url:"http://x/y#z",k:"v",colon:"a:b",sp:"a  b",hash:"a#b"}"#
        );
        // Indicators inside are plain text; `-`, `?` and `:` may start one when not followed by a space.
        assert_eq!(
            read("- -1\n- ?x\n- :y\n- a - b\n- a]b}c,d\n- ---\n").unwrap(),
            r#"["-1","?x",":y","a - b","a]b}c,d","---"]"#
        );
        // The core schema's nulls (§10.3.2); anything else stays text.
        assert_eq!(
            read("a: ~\nb: null\nc: NULL\nd:\ne: nil\nf: 'null'\ng: nULL\n").unwrap(),
            r#"{a:~,b:~,c:~,d:~,e:"nil",f:"null",g:"nULL"}"#
        );
        assert_eq!(read("hello world").unwrap(), r#""hello world""#);
        assert_eq!(read("  - a\n  - b\n").unwrap(), r#"["a","b"]"#);
    }

    #[test]
    fn quoted_scalars() {
        assert_eq!(read(r#"a: 'it''s # "x"'"#).unwrap(), r#"{a:"it's # \"x\""}"#);
        assert_eq!(
            read(r#"a: "\\ \" \/ \n\t\x41\u00e9\U0001F600\0\a\b\v\f\r\e\ \N\_\L\P""#).unwrap(),
            std::format!("{{a:{:?}}}", "\\ \" / \n\tAé😀\0\u{7}\u{8}\u{b}\u{c}\r\u{1b} \u{85}\u{a0}\u{2028}\u{2029}")
        );
        assert_eq!(read("'a': \"b\"\n\"c d\" : ''\n").unwrap(), r#"{a:"b",c d:""}"#);
        // Quoted nulls are text.
        assert_eq!(read("- '~'\n- \"\"\n").unwrap(), r#"["~",""]"#);
    }

    #[test]
    fn block_scalars() {
        // §8.1.1.2 chomping, on a scalar with trailing empty lines.
        let doc = "strip: |-\n  t\n\n\nclip: |\n  t\n\n\nkeep: |+\n  t\n\n\nend: x\n";
        assert_eq!(read(doc).unwrap(), r#"{strip:"t",clip:"t\n",keep:"t\n\n\n",end:"x"}"#);
        // Empty ones (§8.1.1.2 example 8.6).
        assert_eq!(read("strip: >-\n\nclip: >\n\nkeep: |+\n\n").unwrap(), r#"{strip:"",clip:"",keep:"\n"}"#);
        // Indentation indicator, with leading spaces kept; indicators in either order.
        assert_eq!(read("a: |2-\n    x\n  y\nb: >+1\n  z\n").unwrap(), r#"{a:"  x\ny",b:" z\n"}"#);
        // Folding (§8.1.3 example 8.10): more-indented lines keep their breaks.
        let folded =
            ">\n\n folded\n line\n\n next\n line\n   * bullet\n\n   * list\n   * lines\n\n last\n line\n\n# Comment\n";
        assert_eq!(
            read(folded).unwrap(),
            std::format!("{:?}", "\nfolded line\nnext line\n  * bullet\n\n  * list\n  * lines\n\nlast line\n")
        );
        // In a sequence and in a compact mapping; content may hold `#`, `- ` and `key: `.
        assert_eq!(
            read("- |\n  a: b\n  - c # d\n- k: >\n    x\n    y\n  j: 1\n").unwrap(),
            r#"["a: b\n- c # d\n",{k:"x y\n",j:"1"}]"#
        );
        // At the top, content may start at column 0 and ends at a document marker.
        assert_eq!(read("--- # c\n|\nfoo\n\n...\n").unwrap(), r#""foo\n""#);
        // A header comment, a value ended by a less-indented line, tabs as content.
        assert_eq!(read("a: | # c\n  \tx\n b\n").unwrap_err(), YamlError { line: 3, kind: Kind::Indent });
        assert_eq!(read("a: | # c\n  \tx\nb: |\n").unwrap(), r#"{a:"\tx\n",b:""}"#);
        // At the end of input without a line break there is no last break to clip or keep,
        // and a last line of spaces is no empty line (§6.4), as PyYAML reads them.
        assert_eq!(read("|+\n a").unwrap(), r#""a""#);
        assert_eq!(read("|\n a\n ").unwrap(), r#""a\n""#);
        assert_eq!(read("|+\n a\n\n ").unwrap(), r#""a\n\n""#);
    }

    #[test]
    fn flow_collections() {
        assert_eq!(read("[a, 'b', \"c\", [d, [e]], {f: g}, ]").unwrap(), r#"["a","b","c",["d",["e"]],{f:"g"}]"#);
        // In flow, `a:b` is one plain scalar; `,` and brackets end one.
        assert_eq!(read("{a:b, c: d,e: , f, \"g\":h, i:}").unwrap(), r#"{a:b:~,c:"d",e:~,f:~,g:"h",i:~}"#);
        // Single-pair mappings in sequences (§7.4.1).
        assert_eq!(read("[a: b, c, 'd':e, f: [g], : x]").unwrap_err().kind, Kind::ComplexKey);
        assert_eq!(read("[a: b, c, 'd':e, f: [g], h:]").unwrap(), r#"[{a:"b"},"c",{d:"e"},{f:["g"]},{h:~}]"#);
        // Spanning lines, with comments; deeper than the block collection around it.
        assert_eq!(read("k: [a, # one\n  b,\n\n   c]\nl: {\n  x: 1 }\n").unwrap(), r#"{k:["a","b","c"],l:{x:"1"}}"#);
        // Lines inside are held to no indentation, as PyYAML holds them (§6.3 would).
        assert_eq!(read("k: [a,\nb\n]\n").unwrap(), r#"{k:["a","b"]}"#);
        // JSON-like keys take `:` at once; plain ones need white space or the entry's end after.
        assert_eq!(read(r#"{"a":[1],'b':{}}"#).unwrap(), r#"{a:["1"],b:{}}"#);
        assert_eq!(fails("{a:[1]}"), (1, Kind::Syntax));
        assert_eq!(fails("{a\n:b}"), (2, Kind::MultiLine));
        assert_eq!(fails("[a\n:b]"), (2, Kind::MultiLine));
        assert_eq!(fails("[[a]: b]"), (1, Kind::ComplexKey));
        assert_eq!(fails("[?]"), (1, Kind::ComplexKey));
        assert_eq!(read("[]").unwrap(), "[]");
        assert_eq!(read("- {}\n- [ ]\n").unwrap(), "[{},[]]");
    }

    #[test]
    fn errors_name_their_line() {
        // Tabs: only in quoted scalars and block scalar contents, as PyYAML reads them.
        assert_eq!(fails("a: 1\n\tb: 2\n"), (2, Kind::Tab));
        assert_eq!(fails("a:\n  - \tb\n"), (2, Kind::Tab));
        for bad in
            ["k:\tv", "k: v\t", "k: v\t# c", "k: a\tb", "k \t: v", "[a,\tb]", "a: 1\n \t\n", "|\n\tx", "a: |\n\tx"]
        {
            assert_eq!(read(bad).map_err(|e| e.kind), Err(Kind::Tab), "{bad:?}");
        }
        assert_eq!(read("k: \"\ta\"\nl: '\t'\n# \tcomment\n").unwrap(), r#"{k:"\ta",l:"\t"}"#);
        assert_eq!(fails("a: &x 1\nb: *x\n"), (1, Kind::Anchor));
        assert_eq!(fails("a: 1\nb: *x\n"), (2, Kind::Anchor));
        assert_eq!(fails("a: 1\nb: !!str 2\n"), (2, Kind::Tag));
        assert_eq!(fails("a: 1\n? b\n: c\n"), (2, Kind::ComplexKey));
        assert_eq!(fails("a: 1\n[b]: c\n"), (2, Kind::ComplexKey));
        assert_eq!(fails("%YAML 1.2\n---\na: 1\n"), (1, Kind::Directive));
        assert_eq!(fails("a: 1\n---\nb: 2\n"), (2, Kind::Document));
        assert_eq!(fails("a: 1\n...\nb: 2\n"), (3, Kind::Document));
        assert_eq!(fails("--- a\n"), (1, Kind::Document));
        assert_eq!(fails("a: plain\n  continued\n"), (2, Kind::MultiLine));
        assert_eq!(fails("a: [b\n  c]\n"), (2, Kind::MultiLine));
        assert_eq!(fails("a: 1\n  b: 2\n"), (2, Kind::MultiLine));
        assert_eq!(fails("a:\n    b: 1\n  c: 2\n"), (3, Kind::Indent));
        assert_eq!(fails("a: 'x'\n  b\n"), (2, Kind::Indent));
        assert_eq!(fails("a: 1\n- b\n"), (2, Kind::Syntax));
        assert_eq!(fails("- a\nb: 1\n"), (2, Kind::Syntax));
        assert_eq!(fails("a:\n  b: 'unterminated\n"), (2, Kind::Quote));
        assert_eq!(fails("a: \"x\\\n  y\"\n"), (1, Kind::Quote));
        assert_eq!(fails("\n\na: \"\\q\"\n"), (3, Kind::Escape));
        assert_eq!(fails("a: \"\\ud800\"\n"), (1, Kind::Escape));
        assert_eq!(fails("a: 1\nb: \x01\n"), (2, Kind::Syntax));
        assert_eq!(fails("a: 1\r\nb: \x1f\n"), (2, Kind::Syntax));
        assert_eq!(fails("a: b: c\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: - b\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: \"b\" c\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: \"b\"# c\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: [b, c\n"), (2, Kind::Syntax));
        assert_eq!(fails("a: [b,, c]\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: [b}\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: |x\n  b\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: @b\n"), (1, Kind::Syntax));
        assert_eq!(fails("a: |\n\n    \n  b\n"), (4, Kind::Indent));
        let e = YamlError { line: 7, kind: Kind::Tab };
        assert_eq!(std::format!("{e}"), "line 7: tab in indentation");
    }

    #[test]
    fn keys_span_at_most_1024_characters() {
        let k = |n: usize| "é".repeat(n);
        assert!(read(&std::format!("{}: v", k(1024))).is_ok());
        assert_eq!(fails(&std::format!("a: 1\n{}: v", k(1025))), (2, Kind::Syntax));
        assert_eq!(fails(&std::format!("{} : v", k(1024))), (1, Kind::Syntax));
        assert!(read(&std::format!("'{}': v", k(1022))).is_ok());
        assert_eq!(fails(&std::format!("'{}': v", k(1023))), (1, Kind::Syntax));
        // Flow mappings have no such limit.
        assert!(read(&std::format!("{{{}: v}}", k(2000))).is_ok());
    }

    #[test]
    fn duplicate_keys_are_both_reported() {
        assert_eq!(read("a: 1\na: 2\n").unwrap(), r#"{a:"1",a:"2"}"#);
    }

    #[test]
    fn long_text_is_not_kept() {
        let long = "k".repeat(TEXT_MAX + 1);
        // A key that long can only be a flow mapping's (a block key spans 1024 characters at most).
        let doc = std::format!("a: {{{long}: [{long}, short]}}\nb: |\n  {long}\nc: '{long}'\n");
        assert_eq!(read(&doc).unwrap(), r#"{a:{<long>:[<long>,"short"]},b:<long>,c:<long>}"#);
        let fits = "k".repeat(TEXT_MAX);
        assert_eq!(read(&std::format!("'{fits}'")).unwrap(), std::format!("{fits:?}"));
    }

    #[test]
    fn depth_is_bounded() {
        let nest = |n: usize| (0..n).map(|i| std::format!("{}k{i}:\n", " ".repeat(i))).collect::<String>();
        assert!(read(&nest(DEPTH_MAX)).is_ok());
        assert_eq!(fails(&nest(DEPTH_MAX + 1)), (DEPTH_MAX as u32 + 1, Kind::TooDeep));
        let flow = |n: usize| std::format!("- {}{}", "[".repeat(n - 1), "]".repeat(n - 1));
        assert!(read(&flow(DEPTH_MAX)).is_ok());
        assert_eq!(fails(&flow(DEPTH_MAX + 1)), (1, Kind::TooDeep));
        // Compact sequences on one line count too; a million brackets cost nothing.
        assert_eq!(fails(&"- ".repeat(DEPTH_MAX + 1)), (1, Kind::TooDeep));
        assert_eq!(fails(&"[".repeat(1_000_000)), (1, Kind::TooDeep));
    }
}
