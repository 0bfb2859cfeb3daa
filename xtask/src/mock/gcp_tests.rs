//! The GCE metadata mock's strictness (`gcp.rs`), over loopback (no namespaces, no root).

use super::gcp::*;
use super::options::{Options, Platform};
use super::tests::{exchange, start};

/// (status, head, body) of one request per connection.
fn ask(o: &Options, payload: Option<&[u8]>, raw: &[String]) -> Vec<(u16, String, String)> {
    let m = start(o.clone(), payload);
    raw.iter()
        .map(|r| {
            let (s, h, b) = exchange(m.addr, std::slice::from_ref(r)).remove(0);
            (s, h, String::from_utf8_lossy(&b).into_owned())
        })
        .collect()
}

fn get(path: &str) -> String {
    format!(
        "GET {PREFIX}{path} HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Flavor: Google\r\nConnection: close\r\n\r\n"
    )
}

#[test]
fn flavor_header_is_required_and_returned() {
    let o = Options::new(Platform::Gcp);
    let bare = format!("GET {PREFIX}instance/id HTTP/1.1\r\nHost: 169.254.169.254\r\nConnection: close\r\n\r\n");
    let wrong = format!(
        "GET {PREFIX}instance/id HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Flavor: google\r\nConnection: close\r\n\r\n"
    );
    let put = format!(
        "PUT {PREFIX}instance/id HTTP/1.1\r\nHost: x\r\nMetadata-Flavor: Google\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
    );
    let a = ask(
        &o,
        Some(b"\x1f\x8b\x08\x00gz"),
        &[bare, wrong, get("instance/id"), put, get("instance/attributes/user-data")],
    );
    let statuses: Vec<u16> = a.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(statuses, [403, 403, 200, 405, 200]);
    assert_eq!(a[2].2, INSTANCE_ID);
    assert!(a[2].1.to_ascii_lowercase().contains("metadata-flavor: google"), "{}", a[2].1);
    // Served raw, byte for byte.
    let m = start(o.clone(), Some(b"\x1f\x8b\x08\x00gz"));
    let (s, _, body) = exchange(m.addr, &[get("instance/attributes/user-data")]).remove(0);
    assert_eq!((s, body.as_slice()), (200, &b"\x1f\x8b\x08\x00gz"[..]));
}

#[test]
fn missing_leaves_are_404_and_directories_list() {
    let mut o = Options::new(Platform::Gcp);
    let a = ask(
        &o,
        None,
        &[
            get("instance/attributes/user-data"),
            get("instance/attributes/block-project-ssh-keys"),
            get("instance/attributes/sshKeys"),
            get("instance/attributes/"),
            get("project/attributes/ssh-keys"),
        ],
    );
    let statuses: Vec<u16> = a.iter().map(|(s, _, _)| *s).collect();
    assert_eq!(statuses, [404, 404, 404, 200, 200]);
    assert_eq!(a[3].2, "ssh-keys\n");
    assert_eq!(a[4].2, "bob:".to_owned() + super::keys::KEY_B + "\n");
    o.gcp_block = Some("TRUE".into());
    o.gcp_legacy_keys = true;
    let a = ask(&o, Some(b"x"), &[get("instance/attributes/block-project-ssh-keys"), get("instance/attributes/")]);
    assert_eq!(a[0].2, "TRUE");
    assert_eq!(a[1].2, "user-data\nssh-keys\nsshKeys\nblock-project-ssh-keys\n");
    o.no_metadata = true;
    let a = ask(&o, Some(b"x"), &[get("instance/hostname"), get("instance/attributes/user-data")]);
    assert_eq!((a[0].0, a[1].0), (404, 200));
}

#[test]
fn options_round_trip() {
    let mut o = Options::new(Platform::Gcp);
    o.gcp_block = Some("true".into());
    o.gcp_legacy_keys = true;
    let back = Options::parse(&o.to_args()).unwrap();
    assert_eq!((back.platform, back.gcp_block.as_deref(), back.gcp_legacy_keys), (Platform::Gcp, Some("true"), true));
}
