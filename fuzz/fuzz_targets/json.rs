//! The JSON scanner (src/json.rs) on arbitrary bytes, pushed whole and in fuzz-chosen pieces,
//! against serde_json read token by token: a document serde_json accepts gives the same tokens
//! with the same decoded texts (flint refuses it only for nesting past DEPTH_MAX); a document
//! flint accepts and serde_json refuses must be one of the documented leniencies (bytes that are
//! not UTF-8, a lone surrogate escape turned into U+FFFD). Then the writer side: any bytes
//! escaped by `json::escape` and quoted scan back to themselves.
#![no_main]

use arbitrary::Unstructured;
use flint::decode::json::{self, DEPTH_MAX, JsonError, TEXT_MAX, Writer};
use flint_fuzz::{Tok, canonical, flint_tokens, has_surrogate_escape, serde_tokens};
use libfuzzer_sys::fuzz_target;

fn depth(toks: &[Tok]) -> u32 {
    let (mut d, mut max) = (0u32, 0u32);
    for t in toks {
        match t {
            Tok::Object | Tok::Array => {
                d += 1;
                max = max.max(d);
            }
            Tok::End => d -= 1,
            _ => {}
        }
    }
    max
}

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let n = u.int_in_range(0..=6usize).unwrap_or(0);
    let cuts: Vec<usize> = (0..n).map(|_| u.arbitrary::<u16>().unwrap_or(0) as usize).collect();
    let doc = u.take_rest();

    let whole = flint_tokens(doc, &[]);
    assert_eq!(flint_tokens(doc, &cuts), whole, "pushing in pieces changed the tokens");
    let mut scanned = Vec::new();
    let plain = json::scan(doc, &mut |e, _| scanned.push(e));
    assert_eq!(plain.is_ok(), whole.is_ok());

    match (serde_tokens(doc), &whole) {
        (Ok(want), Ok(got)) => assert_eq!(canonical(got.clone()), canonical(want), "tokens differ from serde_json's"),
        (Ok(want), Err(e)) => {
            assert_eq!(*e, JsonError::TooDeep, "flint refuses ({e:?}) a document serde_json reads");
            assert!(depth(&want) > DEPTH_MAX, "TooDeep at depth {}", depth(&want));
        }
        (Err(e), Ok(_)) => assert!(
            std::str::from_utf8(doc).is_err() || has_surrogate_escape(doc),
            "flint accepts a document serde_json refuses: {e}"
        ),
        (Err(_), Err(_)) => {}
    }

    // Writer side: escape + quote, then scan it back.
    let mut buf = vec![0u8; doc.len() * 6 + 2];
    let mut w = Writer::new(&mut buf);
    w.quoted(doc).expect("six bytes per input byte is always enough");
    let quoted = w.into_slice().to_vec();
    let back = flint_tokens(&quoted, &[]).expect("an escaped string is valid JSON");
    assert_eq!(back, [Tok::Str((doc.len() <= TEXT_MAX).then(|| doc.to_vec()))], "escape did not round-trip");
    if let Ok(s) = std::str::from_utf8(doc) {
        let v: String = serde_json::from_slice(&quoted).expect("serde_json reads flint's escaping");
        assert_eq!(v, s);
    }
    // One byte short: an error, never a cut-off string.
    if !quoted.is_empty() {
        let mut small = vec![0u8; quoted.len() - 1];
        assert!(Writer::new(&mut small).quoted(doc).is_err());
    }
});
