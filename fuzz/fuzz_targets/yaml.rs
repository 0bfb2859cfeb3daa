//! The YAML reader (src/decode/yaml.rs) in two halves.
//!
//! Differential: arbitrary bytes against saphyr-parser, a YAML 1.2 parser that passes the YAML
//! test suite. A document flint reads must be one document saphyr reads to the same structure
//! (keys and scalars as text; plain `null`, `Null`, `NULL`, `~` and empty nodes as nulls). A
//! document saphyr reads and flint refuses must be refused for something flint documents as
//! not read, and that thing must be in the document (a tab for `Tab`, an anchor or alias in
//! saphyr's events for `Anchor`, a scalar spanning lines for `MultiLine`…): never `Syntax`,
//! `Indent` or `Escape`.
//!
//! Structured: a tree chosen by the fuzzer (mappings, sequences, nulls, scalars with odd
//! characters, long ones past TEXT_MAX) rendered as YAML in block style (indentation steps of
//! 1–4, sequences at their key's column or deeper, compact `- k: v`, literal block scalars
//! with every chomping), flow style (on one line or across lines, single-pair mappings),
//! compact JSON, with comments and CRLF: flint reads each rendering back to the tree, and so
//! does saphyr (which checks the renderer).
#![no_main]

use arbitrary::{Result as ArbResult, Unstructured};
use flint::decode::json::TEXT_MAX;
use flint::decode::yaml::{self, DEPTH_MAX, Kind};
use flint_fuzz::{Tok, yaml_tokens};
use libfuzzer_sys::fuzz_target;
use saphyr_parser::{Event, Parser, ScalarStyle};

/// What saphyr read: the tokens of its first document, how many documents, and the features
/// flint does not read that it saw.
#[derive(Debug, Default)]
struct Reference {
    toks: Vec<Tok>,
    documents: usize,
    anchors: bool,
    tags: bool,
    complex_keys: bool,
    multi_line: bool,
    depth: usize,
    /// A plain scalar starting with an indicator §7.3.3 (`ns-plain-first`) refuses there, which
    /// saphyr reads (`[|]`, `[?]`); PyYAML and libyaml refuse it too.
    bad_plain: bool,
    /// The last scalar is a literal or folded block scalar.
    last_block: bool,
}

fn kept(t: &str) -> Option<Vec<u8>> {
    (t.len() <= TEXT_MAX).then(|| t.as_bytes().to_vec())
}

/// Is the node that starts now a mapping key? (Then the next one is its value.)
fn is_key(stack: &mut [Option<bool>]) -> bool {
    let key = matches!(stack.last(), Some(Some(true)));
    if let Some(Some(k)) = stack.last_mut() {
        *k = !*k;
    }
    key
}

/// Why saphyr refused a document, and whether it was inside a flow collection.
struct Refusal {
    why: String,
    in_flow: bool,
    /// The line saphyr points at holds only a comment.
    line_is_comment: bool,
    /// saphyr points at a `-` inside a plain scalar (after a space after a plain character).
    dash_inside_plain: bool,
}

fn saphyr(doc: &str) -> Result<Reference, Refusal> {
    let mut r = Reference::default();
    // Per open collection: `Some(key_due)` for a mapping.
    let mut stack: Vec<Option<bool>> = Vec::new();
    // Open flow collections (their events start at `[` or `{`).
    let mut flows = 0usize;
    let chars: Vec<char> = doc.chars().collect();
    for ev in Parser::new_from_str(doc) {
        let (ev, span) = ev.map_err(|e| {
            let at = e.marker().index();
            let before = chars[..at.min(chars.len())].iter().rev().find(|&&c| c != ' ');
            Refusal {
                why: e.to_string(),
                in_flow: flows > 0,
                line_is_comment: doc
                    .replace("\r\n", "\n")
                    .split(['\n', '\r'])
                    .nth(e.marker().line().saturating_sub(1))
                    .is_some_and(|l| l.trim_start_matches(' ').starts_with('#')),
                dash_inside_plain: chars.get(at) == Some(&'-')
                    && at > 0
                    && chars[at - 1] == ' '
                    && before.is_some_and(|c| !"[{,:\n\r".contains(*c)),
            }
        })?;
        let first = r.documents <= 1;
        match ev {
            Event::DocumentStart(_) => r.documents += 1,
            Event::Alias(_) => {
                r.anchors = true;
                is_key(&mut stack);
            }
            Event::Scalar(text, style, anchor, tag) => {
                r.anchors |= anchor != 0;
                r.tags |= tag.is_some();
                r.multi_line |= span.end.line() > span.start.line()
                    && matches!(style, ScalarStyle::Plain | ScalarStyle::SingleQuoted | ScalarStyle::DoubleQuoted);
                let key = is_key(&mut stack);
                let null = style == ScalarStyle::Plain && matches!(&*text, "" | "~" | "null" | "Null" | "NULL");
                r.last_block = matches!(style, ScalarStyle::Literal | ScalarStyle::Folded);
                if style == ScalarStyle::Plain {
                    let mut t = text.chars();
                    let (first, next) = (t.next().unwrap_or(' '), t.next().unwrap_or(' '));
                    r.bad_plain |= "-?:,[]{}#&*!|>'\"%@`".contains(first)
                        && !("-?:".contains(first) && !next.is_whitespace() && !",[]{}".contains(next));
                }
                r.complex_keys |= key && style == ScalarStyle::Plain && text.is_empty();
                if first {
                    r.toks.push(if key {
                        Tok::Key(kept(&text))
                    } else if null {
                        Tok::Null
                    } else {
                        Tok::Str(kept(&text))
                    });
                }
            }
            Event::SequenceStart(ref anchor, ref tag) | Event::MappingStart(ref anchor, ref tag) => {
                let map = matches!(ev, Event::MappingStart(..));
                let anchor = *anchor;
                if matches!(chars.get(span.start.index()), Some('[' | '{')) {
                    flows += 1;
                }
                r.anchors |= anchor != 0;
                r.tags |= tag.is_some();
                r.complex_keys |= is_key(&mut stack);
                stack.push(map.then_some(true));
                r.depth = r.depth.max(stack.len());
                if first {
                    r.toks.push(if map { Tok::Object } else { Tok::Array });
                }
            }
            Event::SequenceEnd | Event::MappingEnd => {
                if matches!(chars.get(span.end.index().wrapping_sub(1)), Some(']' | '}')) {
                    flows = flows.saturating_sub(1);
                }
                stack.pop();
                if first {
                    r.toks.push(Tok::End);
                }
            }
            _ => {}
        }
    }
    if r.documents == 0 {
        r.toks.push(Tok::Null);
    }
    Ok(r)
}

fn differential(data: &[u8]) {
    let got = yaml_tokens(data);
    let Ok(doc) = std::str::from_utf8(data) else { return };
    // §5.1: flint refuses C0 controls (but tab and line breaks) anywhere; saphyr reads some of
    // them. Other characters outside c-printable (DEL, C1 controls, U+FFFE) are allowed in
    // quoted scalars, and flint reads them as text everywhere. Such documents are not compared.
    if doc.chars().any(|c| c < ' ' && !"\t\n\r".contains(c)) {
        assert!(got.is_err_and(|e| e.kind == Kind::Syntax), "flint reads a control character");
        return;
    }
    if !doc.chars().all(printable) {
        return;
    }
    compare(doc, got);
    // saphyr reads a block scalar that meets the end of input with no line break as if one
    // were there (`|+\n a` as "a\n", where §8.1.1.2 and PyYAML give "a"): such documents are
    // compared with a line break appended.
    if !doc.ends_with(['\n', '\r']) {
        let doc = format!("{doc}\n");
        compare(&doc, yaml_tokens(doc.as_bytes()));
    }
}

fn compare(doc: &str, got: Result<Vec<Tok>, yaml::YamlError>) {
    match (saphyr(doc), got) {
        (Ok(want), Ok(_)) if want.last_block && !doc.ends_with(['\n', '\r']) => {}
        (Ok(want), Ok(got)) => {
            assert!(want.documents <= 1, "flint read one of {} documents", want.documents);
            assert!(!want.anchors && !want.tags && !want.complex_keys, "flint read past {want:?}");
            assert_eq!(got, want.toks, "flint and saphyr read different structures");
        }
        (Ok(want), Err(e)) => {
            let ok = match e.kind {
                Kind::Tab => doc.contains('\t'),
                Kind::Anchor => want.anchors,
                Kind::Tag => want.tags,
                Kind::ComplexKey => want.complex_keys || doc.contains('?'),
                Kind::Directive => doc.contains('%'),
                Kind::Document => want.documents > 1 || doc.contains("---") || doc.contains("..."),
                Kind::MultiLine | Kind::Quote => want.multi_line,
                Kind::TooDeep => want.depth > DEPTH_MAX,
                Kind::Syntax => want.bad_plain,
                Kind::Indent | Kind::Escape => false,
            };
            assert!(ok, "flint refuses ({e}) a document saphyr reads: {want:?}");
        }
        // saphyr holds lines inside flow collections to an indentation of its own (plain
        // scalars deeper than the block collection around, other tokens not); flint holds
        // them to none, as PyYAML.
        (Err(r), Ok(_)) if r.in_flow && r.why.starts_with("invalid indentation") => {}
        // saphyr refuses a comment less indented than an explicit indentation indicator right
        // after the header (`|4\n #`), which §8.1.1.2 (`l-trail-comments`) and PyYAML read.
        (Err(r), Ok(_)) if r.why.starts_with("wrongly indented line in block scalar") && r.line_is_comment => {}
        // saphyr holds a word inside a plain scalar to the first character's rule (`[a -]`,
        // "plain scalar cannot start with '-'"); §7.3.3 `ns-plain-char` and PyYAML do not.
        (Err(r), Ok(_)) if r.why.starts_with("plain scalar cannot start with '-'") && r.dash_inside_plain => {}
        (Err(r), Ok(got)) => panic!("flint reads a document saphyr refuses ({}): {got:?}", r.why),
        (Err(_), Err(_)) => {}
    }
}

/// §5.1 c-printable, with the byte order mark (which YAML allows only at the start).
fn printable(c: char) -> bool {
    matches!(c, '\t' | '\n' | '\r' | ' '..='~' | '\u{85}' | '\u{a0}'..='\u{d7ff}' | '\u{e000}'..='\u{fffd}' | '\u{10000}'..)
}

/// A node of the structured half.
#[derive(Clone, Debug)]
enum Node {
    Null,
    Str(String),
    Seq(Vec<Node>),
    Map(Vec<(String, Node)>),
}

/// Text with the characters that make YAML hard: indicators, quotes, `: `, ` #`, white space
/// at the ends, line breaks, controls, non-ASCII, the null spellings; now and then past TEXT_MAX.
fn text(u: &mut Unstructured) -> ArbResult<String> {
    const PIECES: &[&str] = &[
        "a",
        "key",
        "ssh-rsa AAAA",
        "52:54:00:12:34:56",
        ": ",
        " #",
        "#",
        ":",
        "-",
        "- ",
        "?",
        "'",
        "\"",
        "\\",
        ",",
        "[",
        "]",
        "{",
        "}",
        "&",
        "*",
        "!",
        "|",
        ">",
        "%",
        "@",
        "`",
        " ",
        "  ",
        "\t",
        "\n",
        "\r",
        "\u{1}",
        "\u{7f}",
        "é",
        "€",
        "😀",
        "\u{85}",
        "\u{feff}",
        "~",
        "null",
        "true",
        "0x1",
        "---",
        "...",
        "1.5",
    ];
    if u.ratio(1, 64)? {
        return Ok("x".repeat(TEXT_MAX + u.int_in_range(0..=2)?));
    }
    let mut s = String::new();
    for _ in 0..u.int_in_range(0..=4)? {
        s.push_str(u.choose(PIECES)?);
    }
    Ok(s)
}

fn node(u: &mut Unstructured, depth: usize) -> ArbResult<Node> {
    let pick = if depth >= 6 { u.int_in_range(0..=1)? } else { u.int_in_range(0..=3)? };
    Ok(match pick {
        0 => Node::Null,
        1 => Node::Str(text(u)?),
        2 => Node::Seq((0..u.int_in_range(0..=3)?).map(|_| node(u, depth + 1)).collect::<ArbResult<_>>()?),
        _ => Node::Map(
            (0..u.int_in_range(0..=3)?)
                .map(|_| Ok((text(u)?.chars().take(40).collect(), node(u, depth + 1)?)))
                .collect::<ArbResult<_>>()?,
        ),
    })
}

fn tokens(n: &Node, out: &mut Vec<Tok>) {
    match n {
        Node::Null => out.push(Tok::Null),
        Node::Str(s) => out.push(Tok::Str(kept(s))),
        Node::Seq(items) => {
            out.push(Tok::Array);
            items.iter().for_each(|i| tokens(i, out));
            out.push(Tok::End);
        }
        Node::Map(entries) => {
            out.push(Tok::Object);
            for (k, v) in entries {
                out.push(Tok::Key(kept(k)));
                tokens(v, out);
            }
            out.push(Tok::End);
        }
    }
}

/// May `s` be written plain (§7.3.3)? Conservatively: ordinary characters only, no null
/// spelling, nothing that could start or end a plain scalar differently.
fn plain_ok(s: &str, flow: bool) -> bool {
    let ordinary = |c: char| c.is_ascii_alphanumeric() || " ._/@=+-:#()!%&*?'\"|>€é😀".contains(c);
    !s.is_empty()
        && s.chars().all(ordinary)
        && s.starts_with(|c: char| c.is_ascii_alphanumeric() || "/é€😀".contains(c))
        && !s.ends_with([' ', ':'])
        && !s.contains(": ")
        && !s.contains(" #")
        && !(flow && s.contains(':'))
        // saphyr misreads a word starting with `-` inside a plain scalar in flow (see `compare`).
        && !(flow && s.contains(" -"))
        && !["~", "null", "Null", "NULL"].contains(&s)
}

/// How a rendering is laid out, chosen by the fuzzer once per document.
struct Style {
    /// Spaces per block level (1–4).
    step: usize,
    /// Sequences under a key at the key's column (cloud-init style).
    seq_at_key: bool,
    /// Put a comment after every value that allows one.
    comments: bool,
    /// Break flow collections across lines.
    flow_lines: bool,
}

fn scalar(u: &mut Unstructured, s: &str, flow: bool, out: &mut String) -> ArbResult<()> {
    let printable = !s.chars().any(|c| c.is_control() && c != '\t' || c == '\u{feff}');
    match u.int_in_range(0..=2)? {
        0 if plain_ok(s, flow) => out.push_str(s),
        1 if printable => {
            out.push('\'');
            out.push_str(&s.replace('\'', "''"));
            out.push('\'');
        }
        _ => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '"' => out.push_str("\\\""),
                    '\\' => out.push_str("\\\\"),
                    '\n' => out.push_str("\\n"),
                    '\t' if u.ratio(1, 2)? => out.push_str("\\t"),
                    c if c.is_control() && c != '\t' || c == '\u{feff}' => {
                        out.push_str(&format!("\\u{:04x}", c as u32));
                    }
                    c => out.push(c),
                }
            }
            out.push('"');
        }
    }
    Ok(())
}

fn flow(u: &mut Unstructured, n: &Node, style: &Style, indent: usize, out: &mut String) -> ArbResult<()> {
    let sep = |u: &mut Unstructured, out: &mut String| -> ArbResult<()> {
        if style.flow_lines && u.ratio(1, 2)? {
            out.push('\n');
            out.push_str(&" ".repeat(indent + 1));
        } else {
            out.push(' ');
        }
        Ok(())
    };
    match n {
        Node::Null => out.push_str(if u.ratio(1, 2)? { "~" } else { "null" }),
        Node::Str(s) => scalar(u, s, true, out)?,
        Node::Seq(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                sep(u, out)?;
                match item {
                    // A single-pair mapping without braces (§7.4.1).
                    Node::Map(e) if e.len() == 1 && u.ratio(1, 2)? => {
                        scalar(u, &e[0].0, true, out)?;
                        out.push_str(": ");
                        flow(u, &e[0].1, style, indent, out)?;
                    }
                    _ => flow(u, item, style, indent, out)?,
                }
            }
            out.push(']');
        }
        Node::Map(entries) => {
            out.push('{');
            for (i, (k, v)) in entries.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                sep(u, out)?;
                scalar(u, k, true, out)?;
                out.push_str(": ");
                flow(u, v, style, indent, out)?;
            }
            out.push('}');
        }
    }
    Ok(())
}

/// A literal block scalar (§8.1.2) for text with line breaks and nothing else unprintable,
/// with an indentation indicator (`n` is the column of the collection around it, -1 at the
/// top, where the indicator is the column itself).
fn literal(s: &str, n: isize, out: &mut String) -> bool {
    if !s.contains('\n') || s.chars().any(|c| c.is_control() && c != '\t' && c != '\n' || c == '\u{feff}') {
        return false;
    }
    let chomp = if !s.ends_with('\n') {
        "-"
    } else if s.ends_with("\n\n") || s == "\n" {
        "+"
    } else {
        ""
    };
    out.push_str(&format!(" |2{chomp}\n"));
    let body = s.strip_suffix('\n').unwrap_or(s);
    for line in body.split('\n') {
        if !line.is_empty() {
            out.push_str(&" ".repeat(n.max(0) as usize + 2));
            out.push_str(line);
        }
        out.push('\n');
    }
    true
}

/// Block style: `v` as the value after `key:` or `-` (`after_dash`), inside a block collection
/// at column `n` (-1 at the top).
fn block(u: &mut Unstructured, v: &Node, style: &Style, n: isize, after_dash: bool, out: &mut String) -> ArbResult<()> {
    let indent = (n + style.step as isize) as usize;
    let collection = match v {
        Node::Seq(items) => !items.is_empty(),
        Node::Map(entries) => !entries.is_empty(),
        _ => false,
    };
    match v {
        Node::Str(s) if u.ratio(1, 4)? && literal(s, n, out) => return Ok(()),
        Node::Null if u.ratio(1, 2)? => {}
        _ if collection && u.ratio(3, 4)? => {
            // Compact (`- k: v`, `- - a`) after a dash, at the key's column after `key:`
            // (cloud-init's style, sequences only), or deeper on the next lines.
            let compact = after_dash && u.ratio(1, 2)?;
            let col = if compact {
                (n + 2) as usize
            } else if style.seq_at_key && !after_dash && n >= 0 && matches!(v, Node::Seq(_)) {
                n as usize
            } else {
                indent
            };
            out.push(if compact { ' ' } else { '\n' });
            let mut first = compact;
            let mut lead = |out: &mut String| {
                if !first {
                    out.push_str(&" ".repeat(col));
                }
                first = false;
            };
            match v {
                Node::Seq(items) => {
                    for item in items {
                        lead(out);
                        out.push('-');
                        block(u, item, style, col as isize, true, out)?;
                    }
                }
                Node::Map(entries) => {
                    for (k, v) in entries {
                        lead(out);
                        scalar(u, k, false, out)?;
                        out.push(':');
                        block(u, v, style, col as isize, false, out)?;
                    }
                }
                _ => unreachable!(),
            }
            return Ok(());
        }
        _ => {
            out.push(' ');
            flow(u, v, style, n.max(0) as usize, out)?;
        }
    }
    if style.comments {
        out.push_str(" # c");
    }
    out.push('\n');
    Ok(())
}

fn structured(data: &[u8]) -> ArbResult<()> {
    let mut u = Unstructured::new(data);
    let tree = node(&mut u, 0)?;
    let mut want = Vec::new();
    tokens(&tree, &mut want);
    let style = Style {
        step: u.int_in_range(1..=4)?,
        seq_at_key: u.arbitrary()?,
        comments: u.arbitrary()?,
        flow_lines: u.arbitrary()?,
    };
    let mut doc = String::new();
    if u.arbitrary()? {
        doc.push_str("#cloud-config\n---\n");
    }
    match u.int_in_range(0..=2)? {
        0 => {
            // Block style; the top node as the value of nothing: strip the leading space or
            // line break `block` puts after `key:`.
            let mut body = String::new();
            block(&mut u, &tree, &style, -1, false, &mut body)?;
            doc.push_str(body.strip_prefix(' ').or(body.strip_prefix('\n')).unwrap_or(&body));
        }
        1 => {
            flow(&mut u, &tree, &style, 0, &mut doc)?;
            doc.push('\n');
        }
        _ => doc.push_str(&json(&tree)),
    }
    if u.arbitrary()? {
        doc = doc.replace('\n', "\r\n");
    }
    check_rendering(&doc, &want);
    Ok(())
}

/// saphyr checks the renderer (it must read the tree back); flint must read it back too.
fn check_rendering(doc: &str, want: &[Tok]) {
    match saphyr(doc) {
        Ok(r) => assert_eq!(r.toks, want, "saphyr reads the rendering differently:\n{doc}"),
        Err(r) => panic!("saphyr refuses the rendering ({}):\n{doc}", r.why),
    }
    match yaml_tokens(doc.as_bytes()) {
        Ok(got) => assert_eq!(got, want, "flint reads the rendering differently:\n{doc}"),
        Err(e) => panic!("flint refuses the rendering ({e}):\n{doc}"),
    }
}

/// Compact JSON, as KubeVirt writes meta-data: no space after `:` or `,`.
fn json(n: &Node) -> String {
    fn value(n: &Node) -> serde_json::Value {
        match n {
            Node::Null => serde_json::Value::Null,
            Node::Str(s) => serde_json::Value::String(s.clone()),
            Node::Seq(items) => serde_json::Value::Array(items.iter().map(value).collect()),
            Node::Map(_) => unreachable!(),
        }
    }
    // serde_json's maps drop repeated keys: write objects by hand.
    match n {
        Node::Map(entries) => {
            let members: Vec<String> =
                entries.iter().map(|(k, v)| format!("{}:{}", serde_json::Value::String(k.clone()), json(v))).collect();
            format!("{{{}}}", members.join(","))
        }
        Node::Seq(items) => format!("[{}]", items.iter().map(json).collect::<Vec<_>>().join(",")),
        n => value(n).to_string(),
    }
}

fuzz_target!(|data: &[u8]| {
    differential(data);
    let _ = structured(data);
    // Never more than one event per input byte and a few per line: nothing loops.
    let _ = yaml::scan(data, &mut |_, _| {});
});
