//! The NoCloud seed mock's strictness (`nocloud.rs`), over loopback (no namespaces, no root).

use super::nocloud::*;
use super::options::{Options, Platform};
use super::tests::{exchange, start};

fn opts() -> Options {
    let mut o = Options::new(Platform::NoCloud);
    o.seed_path = "/seeds/vm1/".into();
    o.seed_host = Some("10.0.0.1:8000".into());
    o
}

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

fn get(path: &str, host: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n")
}

#[test]
fn serves_exactly_the_seed_files_for_its_host() {
    let o = opts();
    let h = "10.0.0.1:8000";
    let a = ask(
        &o,
        Some(b"#cloud-config\n"),
        &[
            get("/seeds/vm1/user-data", h),
            get("/seeds/vm1/meta-data", h),
            get("/seeds/vm1/vendor-data", h),
            get("/seeds/vm1//user-data", h),
            get("/seeds/vm1user-data", h),
            get("/seeds/vm1/user-data?x=1", h),
            get("/seeds/vm1/user-data", "10.0.0.1"),
            get("/seeds/vm1/user-data", "10.0.0.1:80"),
            "GET /seeds/vm1/user-data HTTP/1.1\r\nConnection: close\r\n\r\n".into(),
            "PUT /seeds/vm1/user-data HTTP/1.1\r\nHost: 10.0.0.1:8000\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                .into(),
        ],
    );
    let statuses: Vec<u16> = a.iter().map(|(s, _)| *s).collect();
    assert_eq!(statuses, [200, 200, 404, 404, 404, 404, 404, 404, 400, 405]);
    assert_eq!(a[0].1, "#cloud-config\n");
    assert_eq!(a[1].1, meta_data());
    let none = ask(&o, None, &[get("/seeds/vm1/user-data", h)]);
    assert_eq!(none[0].0, 404);
}

#[test]
fn meta_data_is_yaml_with_every_key() {
    let md = meta_data();
    assert!(md.starts_with(&format!("instance-id: {INSTANCE_ID}\nlocal-hostname: {HOSTNAME}\npublic-keys:\n")));
    // The key with `: ` and `#` in its comment is single-quoted, its quotes kept.
    assert_eq!(md.lines().filter(|l| l.starts_with("  - ")).count(), KEYS.len());
    assert!(md.contains(&format!("  - '{}'", KEYS[1])), "{md}");
}
