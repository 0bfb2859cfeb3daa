//! The XML reader against roxmltree, a conforming XML 1.0 parser, on fuzz-made documents and
//! on Azure's `ovf-env.xml` with fuzz-chosen changes. Checked: no panic; a value is always a
//! range of the document; a document roxmltree reads (with no document type declaration and
//! no deeper than flint's bound) is one flint reads too, with the same first `CustomData`
//! (local names matched, as the reader does): the element's text when it is text alone and
//! holds no reference or carriage return, which roxmltree would rewrite.
#![no_main]

use arbitrary::Arbitrary;
use flint::decode::xml::{self, CUSTOM_DATA, DEPTH_MAX};
use libfuzzer_sys::fuzz_target;

const OVF_ENV: &[u8] = include_bytes!("../../tests/fixtures/drive/azure/ovf-env.xml");

#[derive(Arbitrary, Debug)]
enum Case {
    /// Any bytes.
    Raw(Vec<u8>),
    /// `ovf-env.xml` with up to 8 bytes replaced and possibly cut.
    Patched { patches: Vec<(u16, u8)>, cut: Option<u16> },
}

/// The first element at `path` by local names, from the root, as roxmltree sees it: its text
/// when its only child is one text node (or none).
fn oracle<'a>(doc: &'a roxmltree::Document, path: &[&[u8]]) -> Option<Option<&'a str>> {
    let mut found = None;
    let root = doc.root_element();
    if root.tag_name().name().as_bytes() != path[0] {
        return None;
    }
    let mut todo = vec![(root, 1)];
    // Depth-first in document order: the first hit is the first in the document.
    while let Some((n, depth)) = todo.pop() {
        if depth == path.len() {
            found = Some(n);
            break;
        }
        let kids: Vec<_> =
            n.children().filter(|k| k.is_element() && k.tag_name().name().as_bytes() == path[depth]).collect();
        for k in kids.into_iter().rev() {
            todo.push((k, depth + 1));
        }
    }
    let n = found?;
    let kids: Vec<_> = n.children().collect();
    Some(match kids[..] {
        [] => Some(""),
        [k] if k.is_text() => k.text(),
        _ => None,
    })
}

fn depth(doc: &roxmltree::Document) -> usize {
    doc.descendants().map(|n| n.ancestors().filter(|a| a.is_element()).count()).max().unwrap_or(0)
}

fuzz_target!(|c: Case| {
    let bytes = match c {
        Case::Raw(b) => b,
        Case::Patched { patches, cut } => {
            let mut b = OVF_ENV.to_vec();
            for (at, v) in patches.into_iter().take(8) {
                let i = at as usize % b.len();
                b[i] = v;
            }
            if let Some(cut) = cut {
                b.truncate(cut as usize % (b.len() + 1));
            }
            b
        }
    };
    let ours = xml::first(&bytes, CUSTOM_DATA);
    if let Ok(Some(r)) = &ours {
        assert!(r.start <= r.end && r.end <= bytes.len());
    }
    let Ok(text) = std::str::from_utf8(&bytes) else { return };
    let opts = roxmltree::ParsingOptions { allow_dtd: false, ..Default::default() };
    let Ok(doc) = roxmltree::Document::parse_with_options(text, opts) else { return };
    if depth(&doc) > DEPTH_MAX || text.contains("<!DOCTYPE") {
        return;
    }
    let ours = ours.unwrap_or_else(|e| panic!("roxmltree reads it, flint says {e}"));
    match oracle(&doc, CUSTOM_DATA) {
        Some(Some(want)) => {
            let raw = ours.map(|r| &text[r]);
            // A plain text value is the same text; one with references or CRs is rewritten by
            // roxmltree (flint leaves it as written; base64 then refuses it).
            if let Some(raw) = raw.filter(|r| !r.contains('&') && !r.contains('\r')) {
                assert_eq!(raw, want, "CustomData");
            }
            assert!(raw.is_some() || text.contains("<![CDATA["), "roxmltree found a CustomData of text, flint none");
        }
        // An element with other children has no value for flint, or none is there.
        Some(None) | None => {
            if let Some(r) = ours {
                // Unless its children are only text flint took as a whole (CDATA ends a value).
                assert!(!text[r].contains('<'), "flint took markup as a value");
            }
        }
    }
});
