//! The --ignition check (src/meta.rs `IgnitionCheck`) on arbitrary user-data pushed in
//! fuzz-chosen pieces (user-data streams through it as it is decoded): its verdict agrees with
//! the scanner on what is JSON at all, and with serde_json on what is an Ignition config: a JSON
//! object whose `ignition.version` is a string starting with "3." (spec 3, what Ignition v2
//! reads); another version string is an old config; anything else has no version. A version
//! string longer than the scanner keeps (json::TEXT_MAX) is not a spec 3 version.
#![no_main]

use arbitrary::Unstructured;
use flint::decode::json;
use flint::sources::meta::{IgnitionCheck, Verdict};
use flint_fuzz::{has_duplicate_keys, serde_tokens};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut u = Unstructured::new(data);
    let n = u.int_in_range(0..=6usize).unwrap_or(0);
    let mut cuts: Vec<usize> = (0..n).map(|_| u.arbitrary::<u16>().unwrap_or(0) as usize).collect();
    let doc = u.take_rest();
    cuts.retain(|&c| c <= doc.len());
    cuts.push(0);
    cuts.push(doc.len());
    cuts.sort_unstable();

    let mut check = IgnitionCheck::new();
    for w in cuts.windows(2) {
        check.push(&doc[w[0]..w[1]]);
    }
    let verdict = check.finish();
    if let Err(e) = json::scan(doc, &mut |_, _| {}) {
        assert_eq!(verdict, Verdict::NotJson(e));
        return;
    }
    assert!(!matches!(verdict, Verdict::NotJson(_)), "valid JSON called not JSON: {verdict:?}");
    // Compare meaning only where readers agree on it: no repeated member names.
    let Ok(toks) = serde_tokens(doc) else { return };
    if has_duplicate_keys(&toks) {
        return;
    }
    let v: serde_json::Value = serde_json::from_slice(doc).expect("serde_json read it token by token");
    let want = match v.get("ignition").and_then(|i| i.get("version")) {
        Some(serde_json::Value::String(s)) if v.is_object() && v["ignition"].is_object() => {
            if s.starts_with("3.") && s.len() <= json::TEXT_MAX { Verdict::Config } else { Verdict::OldVersion }
        }
        _ => Verdict::NoVersion,
    };
    assert_eq!(verdict, want, "verdict differs from serde_json's reading");
});
