//! The OpenStack mock's behaviour (`openstack.rs`), over loopback (no namespaces, no root).

use serde_json::Value;

use super::openstack::*;
use super::options::{Options, Platform};
use super::tests::{exchange, start};

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
}

/// (status, body) of each path, one connection.
fn answers(opts: Options, payload: Option<&[u8]>, paths: &[&str]) -> Vec<(u16, String)> {
    let m = start(opts, payload);
    let reqs: Vec<String> = paths.iter().map(|p| get(p)).collect();
    exchange(m.addr, &reqs).into_iter().map(|(s, _, b)| (s, String::from_utf8_lossy(&b).into_owned())).collect()
}

#[test]
fn user_data_on_both_trees_and_404_without() {
    let o = Options::new(Platform::OpenStack);
    let paths = ["/openstack/latest/user_data", "/latest/user-data", "/openstack/2012-08-10/user_data"];
    let a = answers(o.clone(), Some(b"#cloud-config\n"), &paths);
    assert!(a.iter().all(|(s, b)| *s == 200 && b == "#cloud-config\n"), "{a:?}");
    let a = answers(o, None, &paths);
    assert!(a.iter().all(|(s, b)| *s == 404 && b.starts_with("404 Not Found")), "{a:?}");
}

#[test]
fn meta_data_json_and_ec2_leaves() {
    let o = Options::new(Platform::OpenStack);
    let m = start(o, None);
    let r = exchange(m.addr, &[get("/openstack/latest/meta_data.json")]);
    assert_eq!(r[0].0, 200);
    assert!(r[0].1.to_ascii_lowercase().contains("content-type: application/json"), "{}", r[0].1);
    let v: Value = serde_json::from_slice(&r[0].2).unwrap();
    assert_eq!((v["uuid"].as_str(), v["hostname"].as_str()), (Some(UUID), Some(HOSTNAME)));
    assert_eq!(v["public_keys"][KEY_NAME], KEY);
    assert_eq!(v["keys"][0]["data"], KEY);
    let leaves = [
        "/latest/meta-data/hostname",
        "/latest/meta-data/instance-id",
        "/latest/meta-data/public-ipv4",
        "/latest/meta-data/public-keys/",
        "/latest/meta-data/public-keys/0/openssh-key",
        "/2009-04-04/meta-data/local-ipv4",
    ];
    let a = answers(Options::new(Platform::OpenStack), None, &leaves);
    let bodies: Vec<&str> = a.iter().map(|(_, b)| b.as_str()).collect();
    assert!(a.iter().all(|(s, _)| *s == 200), "{a:?}");
    assert_eq!(bodies, [HOSTNAME, INSTANCE_ID, "", "0=flint-key", KEY, LOCAL_IPV4]);
    assert!(HOSTNAME.ends_with(".novalocal") && INSTANCE_ID.len() == 10);
}

#[test]
fn knobs() {
    let mut o = Options::new(Platform::OpenStack);
    o.no_openstack_tree = true;
    let a = answers(
        o,
        Some(b"x"),
        &["/openstack/latest/user_data", "/openstack/latest/meta_data.json", "/latest/user-data"],
    );
    assert_eq!(a.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [404, 404, 200]);

    let mut o = Options::new(Platform::OpenStack);
    o.no_ssh_keys = true;
    o.floating_ip = true;
    let a = answers(
        o,
        None,
        &["/latest/meta-data/public-keys/", "/latest/meta-data/public-ipv4", "/openstack/latest/meta_data.json"],
    );
    assert_eq!((a[0].0, a[1].1.as_str()), (404, FLOATING_IPV4));
    let v: Value = serde_json::from_str(&a[2].1).unwrap();
    assert!(v.get("public_keys").is_none() && v.get("keys").is_none(), "{v}");

    let mut o = Options::new(Platform::OpenStack);
    o.key_newline = true;
    let a = answers(o, None, &["/latest/meta-data/public-keys/0/openssh-key"]);
    assert_eq!(a[0].1, format!("{KEY}\n"));

    let mut o = Options::new(Platform::OpenStack);
    o.no_metadata = true;
    let a = answers(
        o,
        Some(b"x"),
        &["/openstack/latest/meta_data.json", "/latest/meta-data/hostname", "/openstack/latest/user_data"],
    );
    assert_eq!(a.iter().map(|(s, _)| *s).collect::<Vec<_>>(), [404, 404, 200]);
}

#[test]
fn knobs_round_trip() {
    let mut o = Options::new(Platform::OpenStack);
    (o.no_openstack_tree, o.floating_ip, o.key_newline) = (true, true, true);
    let back = Options::parse(&o.to_args()).unwrap();
    assert_eq!(back.platform, Platform::OpenStack);
    assert_eq!(Instance::from_options(&back), Instance { no_ssh_keys: false, floating_ip: true, key_newline: true });
    assert!(back.no_openstack_tree);
}

#[test]
fn no_token_and_get_only() {
    let m = start(Options::new(Platform::OpenStack), Some(b"x"));
    let put = "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n";
    let r = exchange(m.addr, &[put.to_string(), get("/openstack")]);
    assert_eq!(r[0].0, 405);
    assert!(String::from_utf8_lossy(&r[1].2).ends_with("2018-08-27\nlatest"));
}

#[test]
fn drive_documents_are_nova_json() {
    let i = Instance::default();
    let bytes = nova_json(&i.meta_data());
    let text = String::from_utf8(bytes.clone()).unwrap();
    assert!(text.contains("\"uuid\": \"") && text.contains(", \""), "{text}");
    // Escapes survive: the key's quotes and backslash come back as they were.
    let v: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(v["public_keys"][KEY_NAME], KEY);
    assert_eq!(i.ec2_meta_data()["public-ipv4"], "");
    let names: Vec<String> = attributes(&i, true).into_iter().map(|(k, _)| k).collect();
    assert_eq!(names.len(), 6);
    assert!(names.iter().all(|k| k.starts_with("AFTERBURN_OPENSTACK_")));
}
