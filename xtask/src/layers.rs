//! The layering of xtask, as a test: imports go only downward,
//! `main → tasks → suites → harness → mock → support`, a suite never imports another suite,
//! and no two files import each other, directly or round a longer cycle.
//!
//! How: every `xtask/src/**/*.rs` is read with comments, string and character literals blanked
//! out; every path that starts with `crate::`, `super::`, `self::` or the name of a child
//! module the file declares (`mod x;` then `x::…`) is expanded (use-trees with braces, `self`,
//! `as`, `*`) and resolved against the inline modules it sits in (`mod tests { use super::*; }`)
//! to the file that defines the longest matching module path. Test code counts like any other.
//! It is a reader of this crate's own plain style, not a Rust parser: macros that build paths,
//! or `use` of a re-exported name through an alias, would escape it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

/// Layers from the top; a file may import only from its own layer or a later one.
const LAYERS: [&str; 6] = ["main", "tasks", "suites", "harness", "mock", "support"];

/// `harness/qemu/mod.rs` → `["harness", "qemu"]`; `main.rs` → `[]`.
fn module_of(rel: &str) -> Vec<String> {
    let mut parts: Vec<String> = rel.trim_end_matches(".rs").split('/').map(String::from).collect();
    if parts.last().is_some_and(|p| p == "mod" || p == "main") {
        parts.pop();
    }
    parts
}

/// Index into `LAYERS` of a module path (`layers.rs` and `main.rs` are the top).
fn layer_of(module: &[String]) -> usize {
    match module.first() {
        Some(first) => LAYERS.iter().position(|l| l == first).unwrap_or(0),
        None => 0,
    }
}

/// The source with comments, strings and character literals replaced by spaces, so that what
/// they say cannot count as an import. Lifetimes (`'a`) are kept.
fn code_only(src: &str) -> String {
    let c: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    let ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let at = |j: usize| c.get(j).copied().unwrap_or('\0');
    while i < c.len() {
        if c[i] == '/' && at(i + 1) == '/' {
            while i < c.len() && c[i] != '\n' {
                i += 1;
            }
        } else if c[i] == '/' && at(i + 1) == '*' {
            let mut depth = 0;
            while i < c.len() {
                if c[i] == '/' && at(i + 1) == '*' {
                    depth += 1;
                    i += 2;
                } else if c[i] == '*' && at(i + 1) == '/' {
                    depth -= 1;
                    i += 2;
                    if depth == 0 {
                        break;
                    }
                } else {
                    i += 1;
                }
            }
            out.push(' ');
        } else if c[i] == 'r' && (at(i + 1) == '"' || at(i + 1) == '#') && (i == 0 || !ident(c[i - 1])) {
            // r"…", r#"…"#: ends at a quote followed by as many hashes.
            let mut j = i + 1;
            let mut hashes = 0;
            while c.get(j) == Some(&'#') {
                hashes += 1;
                j += 1;
            }
            if c.get(j) != Some(&'"') {
                out.push(c[i]);
                i += 1;
                continue;
            }
            j += 1;
            while j < c.len() && !(c[j] == '"' && (1..=hashes).all(|h| c.get(j + h) == Some(&'#'))) {
                j += 1;
            }
            i = j + 1 + hashes;
            out.push_str("\"\"");
        } else if c[i] == '"' {
            i += 1;
            while i < c.len() && c[i] != '"' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("\"\"");
        } else if c[i] == '\'' && (at(i + 1) == '\\' || at(i + 2) == '\'') {
            i += 1;
            while i < c.len() && c[i] != '\'' {
                i += if c[i] == '\\' { 2 } else { 1 };
            }
            i += 1;
            out.push_str("' '");
        } else {
            out.push(c[i]);
            i += 1;
        }
    }
    out
}

/// Reads one path or use-tree at `at`: `a::b::{c, d::{self, e as f}, *}` → every full path.
fn paths_at(code: &[char], at: usize) -> Vec<Vec<String>> {
    fn skip_ws(c: &[char], mut i: usize) -> usize {
        while i < c.len() && c[i].is_whitespace() {
            i += 1;
        }
        i
    }
    fn word(c: &[char], i: usize) -> (String, usize) {
        let mut j = i;
        while j < c.len() && (c[j].is_alphanumeric() || c[j] == '_') {
            j += 1;
        }
        (c[i..j].iter().collect(), j)
    }
    /// Parses a tree from `i`; pushes full paths (prefix + tree) into `out`; returns the end.
    fn tree(c: &[char], i: usize, prefix: &[String], out: &mut Vec<Vec<String>>, depth: u32) -> usize {
        let mut i = skip_ws(c, i);
        if depth > 16 {
            return i;
        }
        if c.get(i) == Some(&'{') {
            i += 1;
            loop {
                i = skip_ws(c, i);
                match c.get(i) {
                    Some('}') => return i + 1,
                    Some(',') => i += 1,
                    None => return i,
                    _ => {
                        let next = tree(c, i, prefix, out, depth + 1);
                        if next == i {
                            return i;
                        }
                        i = next;
                    }
                }
            }
        }
        if c.get(i) == Some(&'*') {
            let mut p = prefix.to_vec();
            p.push("*".into());
            out.push(p);
            return i + 1;
        }
        let (w, j) = word(c, i);
        if w.is_empty() {
            return i;
        }
        let mut p = prefix.to_vec();
        p.push(w);
        let k = skip_ws(c, j);
        if c.get(k) == Some(&':') && c.get(k + 1) == Some(&':') {
            return tree(c, k + 2, &p, out, depth + 1);
        }
        out.push(p);
        // `x as y`: the alias names nothing new.
        let (kw, after) = word(c, k);
        if kw == "as" {
            let (_, end) = word(c, skip_ws(c, after));
            return end;
        }
        j
    }
    let mut out = Vec::new();
    tree(code, at, &[], &mut out, 0);
    out
}

/// Resolves `path` (as written in module `here`) to an absolute module path, or `None` for a
/// path that does not start inside this crate.
fn absolute(path: &[String], here: &[String], children: &BTreeSet<String>) -> Option<Vec<String>> {
    let (first, rest) = path.split_first()?;
    let mut base: Vec<String> = match first.as_str() {
        "crate" => Vec::new(),
        "self" => here.to_vec(),
        "super" => here[..here.len().checked_sub(1)?].to_vec(),
        name if children.contains(name) => {
            let mut b = here.to_vec();
            b.push(name.to_string());
            b
        }
        _ => return None,
    };
    for seg in rest {
        match seg.as_str() {
            "super" => {
                base.pop()?;
            }
            "self" | "*" => {}
            s => base.push(s.to_string()),
        }
    }
    Some(base)
}

/// One file's imports: (file it imports, as written).
fn imports_of(rel: &str, src: &str, files: &BTreeMap<Vec<String>, String>) -> Vec<(String, String)> {
    let code: Vec<char> = code_only(src).chars().collect();
    let file_module = module_of(rel);
    // `mod x;` in this file: x is a child file (bare `x::…` paths point at it).
    let text: String = code.iter().collect();
    let children: BTreeSet<String> = text
        .split(';')
        .filter_map(|stmt| {
            let words: Vec<&str> = stmt.split_whitespace().collect();
            match words.as_slice() {
                [.., "mod", name] if !name.contains('{') => Some(name.to_string()),
                _ => None,
            }
        })
        .collect();
    let mut out = Vec::new();
    // Inline modules open at a brace depth: (name, depth inside it).
    let mut inline: Vec<(String, usize)> = Vec::new();
    let mut depth = 0usize;
    let is_ident = |ch: char| ch.is_alphanumeric() || ch == '_';
    let mut i = 0;
    while i < code.len() {
        match code[i] {
            '{' => {
                depth += 1;
                i += 1;
                continue;
            }
            '}' => {
                if inline.last().is_some_and(|(_, d)| *d == depth) {
                    inline.pop();
                }
                depth = depth.saturating_sub(1);
                i += 1;
                continue;
            }
            _ => {}
        }
        let starts_word = is_ident(code[i]) && (i == 0 || !(is_ident(code[i - 1]) || code[i - 1] == ':'));
        if !starts_word {
            i += 1;
            continue;
        }
        let end = (i..code.len()).find(|&j| !is_ident(code[j])).unwrap_or(code.len());
        let word: String = code[i..end].iter().collect();
        if word == "mod" {
            // `mod name {` opens an inline module.
            let rest: String = code[end..code.len().min(end + 80)].iter().collect();
            let mut it = rest.split_whitespace();
            if let (Some(name), Some(brace)) = (it.next(), it.next())
                && brace.starts_with('{')
            {
                inline.push((name.to_string(), depth + 1));
            } else if let Some(name) = rest.split_whitespace().next().and_then(|n| n.strip_suffix('{')) {
                inline.push((name.to_string(), depth + 1));
            }
            i = end;
            continue;
        }
        let followed_by_path = {
            let k = (end..code.len()).find(|&j| !code[j].is_whitespace()).unwrap_or(code.len());
            code.get(k) == Some(&':') && code.get(k + 1) == Some(&':')
        };
        let rooted = matches!(word.as_str(), "crate" | "super" | "self") || children.contains(&word);
        if !followed_by_path || !rooted {
            i = end;
            continue;
        }
        let mut here = file_module.clone();
        here.extend(inline.iter().map(|(n, _)| n.clone()));
        for p in paths_at(&code, i) {
            // Children are only bare names at the file's own level.
            let kids = if inline.is_empty() { &children } else { &BTreeSet::new() };
            let Some(abs) = absolute(&p, &here, kids) else { continue };
            // The file that defines the longest prefix of the path.
            let target = (0..=abs.len()).rev().find_map(|n| files.get(&abs[..n]));
            if let Some(t) = target
                && t != rel
            {
                out.push((t.clone(), p.join("::")));
            }
        }
        // Past the whole path or tree (its end is not needed exactly: nested words are
        // preceded by `::` or `{`, and `{`/`}` are still counted below).
        i = end;
    }
    out
}

/// Every problem with the layering of `files` (relative path, source).
fn check(files: &[(String, String)]) -> Vec<String> {
    let by_module: BTreeMap<Vec<String>, String> = files.iter().map(|(rel, _)| (module_of(rel), rel.clone())).collect();
    let mut bad = Vec::new();
    let mut graph: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for (rel, src) in files {
        let from = module_of(rel);
        for (to_rel, written) in imports_of(rel, src, &by_module) {
            let to = module_of(&to_rel);
            let (lf, lt) = (layer_of(&from), layer_of(&to));
            if lt < lf {
                bad.push(format!("{rel} ({}) imports {to_rel} ({}) upward: {written}", LAYERS[lf], LAYERS[lt]));
            }
            if lf == 2 && lt == 2 && from.get(1) != to.get(1) {
                bad.push(format!("suite {rel} imports another suite, {to_rel}: {written}"));
            }
            graph.entry(rel.clone()).or_default().insert(to_rel);
        }
    }
    bad.extend(cycles(&graph));
    bad
}

/// Cycles in the file graph, each reported once (by its smallest file).
fn cycles(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<String> {
    let mut found = BTreeSet::new();
    for start in graph.keys() {
        // Depth-first from `start`, looking for a way back to it; bounded by the file count.
        let mut stack: Vec<(String, Vec<String>)> = vec![(start.clone(), vec![start.clone()])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            for next in graph.get(&node).into_iter().flatten() {
                if next == start {
                    let min = path.iter().min().cloned().unwrap_or_default();
                    if min == *start {
                        found.insert(format!("import cycle: {} -> {start}", path.join(" -> ")));
                    }
                } else if seen.insert(next.clone()) {
                    let mut p = path.clone();
                    p.push(next.clone());
                    stack.push((next.clone(), p));
                }
            }
        }
    }
    found.into_iter().collect()
}

/// `xtask/src/**/*.rs` as (path relative to `src/`, source).
fn read_tree(src: &Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut pending = vec![src.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).expect("xtask/src is readable").filter_map(Result::ok) {
            let p = entry.path();
            if p.is_dir() {
                pending.push(p);
            } else if p.extension().is_some_and(|e| e == "rs") {
                let rel = p.strip_prefix(src).expect("under src").to_string_lossy().into_owned();
                out.push((rel, std::fs::read_to_string(&p).expect("source is UTF-8")));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn xtask_imports_go_only_downward() {
    let files = read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src"));
    assert!(files.len() > 40, "read only {} files", files.len());
    let problems = check(&files);
    assert!(problems.is_empty(), "layering of xtask/src:\n{}", problems.join("\n"));
}

#[test]
fn every_file_is_in_a_layer() {
    for (rel, _) in read_tree(&Path::new(env!("CARGO_MANIFEST_DIR")).join("src")) {
        let top = rel.split('/').next().unwrap_or("");
        assert!(
            rel == "main.rs" || rel == "layers.rs" || LAYERS.contains(&top),
            "{rel} is outside tasks/, suites/, harness/, mock/, support/"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter().map(|(p, s)| (p.to_string(), s.to_string())).collect()
    }

    #[test]
    fn downward_imports_pass() {
        let f = files(&[
            ("main.rs", "mod support; mod harness; fn main() { harness::run::go(); }"),
            ("harness/mod.rs", "pub mod run;"),
            ("harness/run.rs", "use crate::support::util::{self, tool as t};\npub fn go() { util::x(); }"),
            ("support/mod.rs", "pub mod util;"),
            ("support/util.rs", "pub fn x() {}\n#[cfg(test)]\nmod tests { use super::*; }"),
        ]);
        assert_eq!(check(&f), Vec::<String>::new());
    }

    #[test]
    fn upward_imports_and_suite_to_suite_fail() {
        let f = files(&[
            ("support/util.rs", "use crate::harness::run;"),
            ("harness/run.rs", ""),
            ("suites/e2e.rs", "fn f() { crate::suites::load::all(); }"),
            ("suites/load.rs", "pub fn all() {}"),
        ]);
        let bad = check(&f).join("\n");
        assert!(bad.contains("support/util.rs (support) imports harness/run.rs (harness) upward"), "{bad}");
        assert!(bad.contains("suite suites/e2e.rs imports another suite"), "{bad}");
    }

    #[test]
    fn cycles_fail_even_within_a_layer() {
        let f = files(&[
            ("mock/mod.rs", "mod server;\nmod aws;\nfn main() { server::serve(); }"),
            ("mock/server.rs", "use super::{aws, Options};"),
            ("mock/aws.rs", "use super::server::State;"),
        ]);
        let bad = check(&f).join("\n");
        assert!(bad.contains("import cycle: mock/aws.rs -> mock/server.rs -> mock/aws.rs"), "{bad}");
        assert!(bad.contains("import cycle: mock/mod.rs -> mock/server.rs -> mock/mod.rs"), "{bad}");
    }

    #[test]
    fn comments_and_strings_are_not_imports() {
        let f = files(&[
            (
                "support/util.rs",
                "// crate::tasks::x\n/* crate::tasks::y */ const S: &str = \"crate::tasks::z\";\nconst R: &str = r#\"crate::tasks::w\"#; const C: char = '\"'; fn f<'a>(x: &'a str) {}",
            ),
            ("tasks/x.rs", ""),
        ]);
        assert_eq!(check(&f), Vec::<String>::new());
    }

    #[test]
    fn inline_test_modules_resolve_super_to_their_file() {
        let f = files(&[
            ("mock/tests.rs", "use super::*;\nmod faults { use super::{start}; use crate::mock::http::find; }"),
            ("mock/mod.rs", "mod http; mod tests;"),
            ("mock/http.rs", "pub fn find() {}"),
        ]);
        // tests → mod.rs, tests → http.rs, and nothing back from either: no cycle.
        assert_eq!(check(&f), Vec::<String>::new());
        let deps: Vec<String> = imports_of(
            "mock/tests.rs",
            &f[0].1,
            &[
                (module_of("mock/tests.rs"), "mock/tests.rs".to_string()),
                (module_of("mock/mod.rs"), "mock/mod.rs".to_string()),
                (module_of("mock/http.rs"), "mock/http.rs".to_string()),
            ]
            .into_iter()
            .collect(),
        )
        .into_iter()
        .map(|(t, _)| t)
        .collect();
        assert_eq!(deps, ["mock/mod.rs", "mock/http.rs"]);
    }
}
