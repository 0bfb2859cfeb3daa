//! A small XML reader, sans-IO: the character data of the elements at a path of local names,
//! as ranges of the document. Enough for Azure's `ovf-env.xml`, whose `CustomData` is base64
//! text (cloud-init's `OvfEnvXml` and WALinuxAgent read it there).
//!
//! It checks what it walks through (XML 1.0, W3C REC-xml-20081126): start and end tags nest
//! and their names match (§3, WFC: Element Type Match), attribute values are quoted (§3.1),
//! comments, processing instructions and CDATA sections are closed (§2.5, §2.6, §2.7), there is
//! one root element. It does not expand anything: a value is the raw text between an
//! element's start and end tags, and only an element whose content is character data alone
//! (no child, comment or CDATA section) has one. Entity references are left as written (base64
//! never has any), and a document type declaration is refused outright: internal entities are
//! how an XML document grows without bound (the "billion laughs"), and Azure never sends one.
//!
//! Names are matched by their local part (after the prefix, §4 of Namespaces in XML 1.0):
//! Azure writes `ns1:CustomData` today and has written `CustomData` with a default namespace;
//! the namespace names themselves are not checked.
//!
//! Bounds: one pass over the document, [`DEPTH_MAX`] open elements, no allocation.

use core::ops::Range;

/// Deepest element nesting read (`ovf-env.xml` nests 7 deep).
pub const DEPTH_MAX: usize = 32;

/// Where `ovf-env.xml` keeps the custom data (the Azure ns1 namespace,
/// `http://schemas.microsoft.com/windowsazure`).
pub const CUSTOM_DATA: &[&[u8]] =
    &[b"Environment", b"ProvisioningSection", b"LinuxProvisioningConfigurationSet", b"CustomData"];

/// Why a document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum XmlError {
    /// Not well-formed: an unclosed markup, a mismatched end tag, text or a second element
    /// outside the root, no root at all.
    Malformed,
    /// A document type declaration.
    Doctype,
    /// Nested deeper than [`DEPTH_MAX`].
    TooDeep,
}

impl core::fmt::Display for XmlError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(match self {
            XmlError::Malformed => "malformed XML",
            XmlError::Doctype => "XML document type declarations are not read",
            XmlError::TooDeep => "XML nested too deep",
        })
    }
}

impl core::error::Error for XmlError {}

/// The value of the first element at `path`, if any (see the module docs).
pub fn first(doc: &[u8], path: &[&[u8]]) -> Result<Option<Range<usize>>, XmlError> {
    let mut found = None;
    scan(doc, path, &mut |r| {
        found = found.take().or(Some(r));
    })?;
    Ok(found)
}

/// Where `needle` next starts in `doc` from `at`, or the end of markup that is never closed.
fn find(doc: &[u8], at: usize, needle: &[u8]) -> Result<usize, XmlError> {
    doc.get(at..)
        .and_then(|rest| rest.windows(needle.len()).position(|w| w == needle))
        .map(|i| at + i)
        .ok_or(XmlError::Malformed)
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// The local part of a qualified name.
fn local(name: &[u8]) -> &[u8] {
    name.iter().position(|&b| b == b':').map_or(name, |i| &name[i + 1..])
}

/// Walks the whole document, checking it, and calls `on` with the value of every element at
/// `path`, in document order. A document with an error gives no values after it, and the error.
pub fn scan(doc: &[u8], path: &[&[u8]], on: &mut dyn FnMut(Range<usize>)) -> Result<(), XmlError> {
    // The names of the open elements; the first `matched` of them are `path`'s first ones.
    let mut open = [(0, 0); DEPTH_MAX];
    let mut depth = 0;
    let mut matched = 0;
    let mut roots = 0;
    // Where the value of an element at `path` started, while nothing but text followed.
    let mut value = None;
    // A UTF-8 byte order mark may start the document (XML 1.0 §4.3.3).
    let mut at = if doc.starts_with(b"\xef\xbb\xbf") { 3 } else { 0 };
    // Bounded: every round moves `at` forward.
    while at < doc.len() {
        let lt = match doc[at..].iter().position(|&b| b == b'<') {
            Some(i) => at + i,
            None => doc.len(),
        };
        // Character data outside the root element may only be white space (§2.1, `Misc`).
        if depth == 0 && !doc[at..lt].iter().all(|&b| is_space(b)) {
            return Err(XmlError::Malformed);
        }
        if lt == doc.len() {
            break;
        }
        let rest = &doc[lt..];
        let start = value.take();
        if rest.starts_with(b"<?") {
            at = find(doc, lt + 2, b"?>")? + 2;
        } else if rest.starts_with(b"<!--") {
            at = find(doc, lt + 4, b"-->")? + 3;
        } else if rest.starts_with(b"<![CDATA[") {
            if depth == 0 {
                return Err(XmlError::Malformed);
            }
            at = find(doc, lt + 9, b"]]>")? + 3;
        } else if rest.starts_with(b"<!") {
            return Err(XmlError::Doctype);
        } else if rest.starts_with(b"</") {
            let gt = find(doc, lt, b">")?;
            // `</name S?>` (§3.1): white space only after the name.
            let name = doc[lt + 2..gt].trim_ascii_end();
            if depth == 0 || doc[open[depth - 1].0..open[depth - 1].1] != *name {
                return Err(XmlError::Malformed);
            }
            if let Some(s) = start.filter(|_| matched == depth) {
                on(s..lt);
            }
            depth -= 1;
            matched = matched.min(depth);
            at = gt + 1;
        } else {
            // A start tag: the name, then attributes whose quoted values may hold `>`.
            let name_end = lt
                + 1
                + rest[1..].iter().position(|&b| is_space(b) || b == b'/' || b == b'>').ok_or(XmlError::Malformed)?;
            if name_end == lt + 1 || (depth == 0 && roots > 0) {
                return Err(XmlError::Malformed);
            }
            let mut i = name_end;
            let mut quote = None;
            // Bounded by the document's end.
            let gt = loop {
                let b = *doc.get(i).ok_or(XmlError::Malformed)?;
                match (quote, b) {
                    (None, b'"' | b'\'') => quote = Some(b),
                    (Some(q), _) if q == b => quote = None,
                    (Some(_), b'<') | (None, b'<') => return Err(XmlError::Malformed),
                    (None, b'>') => break i,
                    _ => {}
                }
                i += 1;
            };
            let empty = gt > name_end && doc[gt - 1] == b'/';
            if depth == DEPTH_MAX {
                return Err(XmlError::TooDeep);
            }
            let name = (lt + 1, name_end);
            if depth == 0 {
                roots += 1;
            }
            let hit = matched == depth && matched < path.len() && local(&doc[name.0..name.1]) == path[matched];
            if empty {
                if hit && matched + 1 == path.len() {
                    on(gt..gt);
                }
            } else {
                open[depth] = name;
                depth += 1;
                if hit {
                    matched += 1;
                    if matched == path.len() {
                        value = Some(gt + 1);
                    }
                }
            }
            at = gt + 1;
        }
    }
    if depth != 0 || roots == 0 {
        return Err(XmlError::Malformed);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    extern crate std;
    use super::*;
    use std::vec::Vec;

    fn values<'a>(doc: &'a str, path: &[&[u8]]) -> Result<Vec<&'a str>, XmlError> {
        let mut out = Vec::new();
        scan(doc.as_bytes(), path, &mut |r| out.push(&doc[r]))?;
        Ok(out)
    }

    fn fixture() -> std::string::String {
        let path = std::format!("{}/tests/fixtures/drive/azure/ovf-env.xml", env!("CARGO_MANIFEST_DIR"));
        std::fs::read_to_string(path).unwrap()
    }

    #[test]
    fn custom_data_of_azures_ovf_env() {
        let doc = fixture();
        let r = first(doc.as_bytes(), CUSTOM_DATA).unwrap().unwrap();
        // The same after a UTF-8 byte order mark (XML 1.0 §4.3.3).
        let bom = [&b"\xef\xbb\xbf"[..], doc.as_bytes()].concat();
        assert_eq!(first(&bom, CUSTOM_DATA).unwrap(), Some(r.start + 3..r.end + 3));
        assert!(doc[r.clone()].starts_with("ewog") && doc[r].ends_with("fQo="));
        let host: &[&[u8]] =
            &[b"Environment", b"ProvisioningSection", b"LinuxProvisioningConfigurationSet", b"HostName"];
        assert_eq!(values(&doc, host), Ok(std::vec!["flint-azure-vm"]));
        // An empty element has an empty value; an element with children has none.
        let set = &CUSTOM_DATA[..3];
        assert_eq!(values(&doc, set), Ok(std::vec![]));
        let nil: &[&[u8]] =
            &[b"Environment", b"PlatformSettingsSection", b"PlatformSettings", b"GuestAgentPackageName"];
        assert_eq!(values(&doc, nil), Ok(std::vec![""]));
    }

    #[test]
    fn custom_data_decodes_to_the_user_data() {
        let mut doc = fixture().into_bytes();
        let mut out = std::vec![0u8; 16384];
        let n = crate::decode::ovf_custom_data(&mut doc, &mut out).unwrap();
        let want = std::format!("{}/tests/fixtures/drive/tree/openstack/latest/user_data", env!("CARGO_MANIFEST_DIR"));
        assert_eq!(&out[..n], &std::fs::read(want).unwrap()[..]);
        let none = "<Environment><ProvisioningSection><LinuxProvisioningConfigurationSet>\
                    <HostName>h</HostName></LinuxProvisioningConfigurationSet></ProvisioningSection></Environment>";
        assert_eq!(crate::decode::ovf_custom_data(&mut none.as_bytes().to_vec(), &mut out), Ok(0));
        let bad = b"<Environment><ProvisioningSection>".to_vec();
        assert_eq!(crate::decode::ovf_custom_data(&mut bad.clone(), &mut out), Err(crate::decode::DecodeError::Xml));
    }

    #[test]
    fn names_are_local_and_paths_are_from_the_root() {
        let doc = "<?xml version=\"1.0\"?>\n<!-- c --><Environment xmlns=\"http://schemas.dmtf.org/ovf/environment/1\">\
                   <wa:ProvisioningSection xmlns:wa=\"x\"><wa:LinuxProvisioningConfigurationSet a='>' b=\"'\">\
                   <CustomData>YQ==</CustomData><CustomData>Yg==</CustomData></wa:LinuxProvisioningConfigurationSet>\
                   <CustomData>no</CustomData></wa:ProvisioningSection></Environment >\n";
        assert_eq!(values(doc, CUSTOM_DATA), Ok(std::vec!["YQ==", "Yg=="]));
        assert_eq!(first(doc.as_bytes(), CUSTOM_DATA).map(|r| r.map(|r| &doc[r])), Ok(Some("YQ==")));
        assert_eq!(values(doc, &[b"ProvisioningSection"]), Ok(std::vec![]));
        assert_eq!(values("<a><b>x<!-- y --></b><b><![CDATA[z]]></b></a>", &[b"a", b"b"]), Ok(std::vec![]));
    }

    #[test]
    fn malformed_documents_are_refused() {
        for doc in [
            "",
            "  ",
            "text",
            "<a>",
            "<a></b>",
            "<a><b></a></b>",
            "<a></a><b></b>",
            "<a></a>x",
            "<a b='c></a>",
            "<a><!-- </a>",
            "<a><?pi </a>",
            "<a><![CDATA[ </a>",
            "<></>",
            "<a></a x>",
            "<a><b</a>",
        ] {
            assert_eq!(first(doc.as_bytes(), &[b"a"]), Err(XmlError::Malformed), "{doc:?}");
        }
        let bomb = "<!DOCTYPE lolz [<!ENTITY lol \"lol\">]><lolz>&lol;</lolz>";
        assert_eq!(first(bomb.as_bytes(), &[b"lolz"]), Err(XmlError::Doctype));
        let deep = "<a>".repeat(DEPTH_MAX + 1) + &"</a>".repeat(DEPTH_MAX + 1);
        assert_eq!(first(deep.as_bytes(), &[b"a"]), Err(XmlError::TooDeep));
        let ok = "<a>".repeat(DEPTH_MAX) + "v" + &"</a>".repeat(DEPTH_MAX);
        let path: Vec<&[u8]> = std::vec![b"a"; DEPTH_MAX];
        assert_eq!(values(&ok, &path), Ok(std::vec!["v"]));
    }

    #[test]
    fn every_prefix_of_the_fixture_is_refused_or_whole() {
        let doc = fixture();
        let doc = doc.as_bytes();
        let end = doc.len() - doc.iter().rev().take_while(|&&b| is_space(b)).count();
        for cut in 0..end {
            assert!(first(&doc[..cut], CUSTOM_DATA).is_err(), "cut at {cut}");
        }
    }
}
