//! The Azure IMDS mock's strictness (`azure.rs`), over loopback (no namespaces, no root).

use super::azure::*;
use super::options::{Options, Platform};
use super::tests::{exchange, start};

/// (status, body) of one request per connection.
fn ask(o: &Options, payload: Option<&[u8]>, raw: &[String]) -> Vec<(u16, String)> {
    let m = start(o.clone(), payload);
    raw.iter()
        .map(|r| {
            let (s, _, b) = exchange(m.addr, std::slice::from_ref(r)).remove(0);
            (s, String::from_utf8_lossy(&b).into_owned())
        })
        .collect()
}

fn get(target: &str, headers: &str) -> String {
    format!("GET {target} HTTP/1.1\r\nHost: 169.254.169.254\r\n{headers}Connection: close\r\n\r\n")
}

const UD: &str = "/metadata/instance/compute/userData?api-version=2021-01-01&format=text";

#[test]
fn every_request_needs_the_header_and_a_known_api_version_once() {
    let o = Options::new(Platform::Azure);
    let m = "Metadata: true\r\n";
    let a = ask(
        &o,
        Some(b"{\"ignition\":{}}"),
        &[
            get(UD, m),
            get(UD, ""),
            get(UD, "Metadata: false\r\n"),
            get(UD, "Metadata: true\r\nX-Forwarded-For: 10.0.0.9\r\n"),
            get("/metadata/instance/compute/userData?format=text", m),
            get("/metadata/instance/compute/userData?api-version=2099-01-01&format=text", m),
            get("/metadata/instance/compute/userData?api-version=2021-01-01&api-version=2021-01-01&format=text", m),
            get("/metadata/instance/compute/userData?api-version=2021-01-01", m),
            get("/metadata/instance/compute/nope?api-version=2021-01-01&format=text", m),
            "POST /metadata/instance/compute/userData?api-version=2021-01-01&format=text HTTP/1.1\r\nMetadata: true\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".into(),
        ],
    );
    let statuses: Vec<u16> = a.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 400, 400, 400, 400, 400, 400, 400, 404, 405]);
    assert_eq!(a[0].1, "eyJpZ25pdGlvbiI6e319");
    for (_, body) in &a[1..8] {
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert!(v["error"].is_string() && v["newest-versions"].is_array(), "{body}");
    }
}

#[test]
fn no_user_data_is_an_empty_body_and_leaves_are_text() {
    let o = Options::new(Platform::Azure);
    let m = "Metadata: true\r\n";
    let a = ask(
        &o,
        None,
        &[
            get(UD, m),
            get("/metadata/instance/compute/name?api-version=2017-08-01&format=text", m),
            get("/metadata/instance/compute/vmSize?api-version=2017-08-01&format=text", m),
            get("/metadata/instance/compute/publicKeys?api-version=2021-02-01", m),
        ],
    );
    assert_eq!(a[0], (200, String::new()));
    assert_eq!(a[1], (200, VM_NAME.into()));
    assert_eq!(a[2], (200, VM_SIZE.into()));
    let keys: serde_json::Value = serde_json::from_str(&a[3].1).unwrap();
    assert_eq!(keys[0]["keyData"].as_str(), Some(format!("{}\r\n", KEYS[0]).as_str()));
    let mut o = Options::new(Platform::Azure);
    o.no_ssh_keys = true;
    let a = ask(&o, None, &[get("/metadata/instance/compute/publicKeys?api-version=2021-02-01", m)]);
    assert_eq!(a[0], (200, "[]".into()));
}
