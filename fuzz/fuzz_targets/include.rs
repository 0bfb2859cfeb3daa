//! cloud-init `#include` lists (src/decode/include.rs `next_url`, `is_include`) against an
//! independent model of `UserDataProcessor._do_include`: the text split into lines as Python's
//! `str.splitlines()` splits ASCII text, each line taken through the same steps in the same
//! order on owned strings (the `#include-once`/`#include` word removed case-insensitively and
//! the line left-stripped, then a `#` line skipped, then `strip()`, then an empty one skipped).
//! flint's URLs must be the model's, in order, each a range of the text; every step moves on.
#![no_main]

use libfuzzer_sys::fuzz_target;

fn space(c: u8) -> bool {
    c == b' ' || (b'\t'..=b'\r').contains(&c) || (0x1c..=0x1f).contains(&c)
}

fn model(text: &[u8]) -> Vec<Vec<u8>> {
    // splitlines(): \r\n is one break; \n \r VT FF FS GS RS each one.
    let mut lines: Vec<Vec<u8>> = Vec::new();
    let mut cur = Vec::new();
    let mut i = 0;
    while i < text.len() {
        let c = text[i];
        if matches!(c, b'\n' | b'\r' | 0x0b | 0x0c | 0x1c | 0x1d | 0x1e) {
            lines.push(std::mem::take(&mut cur));
            if c == b'\r' && text.get(i + 1) == Some(&b'\n') {
                i += 1;
            }
        } else {
            cur.push(c);
        }
        i += 1;
    }
    if !cur.is_empty() {
        lines.push(cur);
    }
    let mut urls = Vec::new();
    for line in lines {
        let lower = line.to_ascii_lowercase();
        let mut line = line;
        for word in ["#include-once", "#include"] {
            if lower.starts_with(word.as_bytes()) {
                line = line[word.len()..].to_vec();
                while line.first().is_some_and(|&c| space(c)) {
                    line.remove(0);
                }
                break;
            }
        }
        if line.first() == Some(&b'#') {
            continue;
        }
        while line.first().is_some_and(|&c| space(c)) {
            line.remove(0);
        }
        while line.last().is_some_and(|&c| space(c)) {
            line.pop();
        }
        if !line.is_empty() {
            urls.push(line);
        }
    }
    urls
}

fuzz_target!(|text: &[u8]| {
    let mut got = Vec::new();
    let mut at = 0;
    while let Some((r, next)) = flint::decode::include::next_url(text, at) {
        assert!(r.start >= at && r.end <= text.len() && r.start < r.end, "{r:?} from {at}");
        assert!(next > at && next <= text.len() && next >= r.end);
        got.push(text[r].to_vec());
        at = next;
    }
    assert_eq!(got, model(text));
    let trimmed: Vec<u8> = text.iter().copied().skip_while(|&c| space(c)).take(8).collect();
    assert_eq!(flint::decode::include::is_include(text), trimmed.eq_ignore_ascii_case(b"#include"));
});
