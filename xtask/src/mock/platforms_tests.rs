//! Issue #12's mocks (`digitalocean.rs` … `ibmcloud.rs`) over loopback: the user-data, what
//! "none" looks like, the headers and tokens each one insists on, and the quirks.

use base64::Engine as _;
use serde_json::Value;

use super::options::{Options, Platform};
use super::tests::{exchange, start};
use super::*;

fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n\r\n")
}

fn get_with(path: &str, header: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\n{header}\r\n\r\n")
}

/// (status, body) of each request, one connection.
fn answers(opts: Options, payload: Option<&[u8]>, reqs: &[String]) -> Vec<(u16, String)> {
    let m = start(opts, payload);
    exchange(m.addr, reqs).into_iter().map(|(s, _, b)| (s, String::from_utf8_lossy(&b).into_owned())).collect()
}

fn statuses(a: &[(u16, String)]) -> Vec<u16> {
    a.iter().map(|(s, _)| *s).collect()
}

#[test]
fn digitalocean_user_data_none_is_200_empty_and_v1_json() {
    let p = Options::new(Platform::DigitalOcean);
    let a = answers(p.clone(), Some(b"#cloud-config\n"), &[get("/metadata/v1/user-data"), get("/metadata/v1")]);
    assert_eq!(a[0], (200, "#cloud-config\n".into()));
    assert_eq!(a[1].0, 301, "an index without its slash is redirected");
    let a = answers(p, None, &[get("/metadata/v1/user-data"), get("/metadata/v1.json"), get("/metadata/v1/nope")]);
    assert_eq!(statuses(&a), [200, 200, 404]);
    assert_eq!(a[0].1, "", "no user-data: 200 with an empty body");
    let v: Value = serde_json::from_str(&a[1].1).unwrap();
    assert_eq!(v["droplet_id"], digitalocean::DROPLET_ID);
    assert_eq!(v["public_keys"][1], digitalocean::KEYS[1]);
    assert_eq!(v["interfaces"]["public"][0]["anchor_ipv4"]["ip_address"], digitalocean::ANCHOR_IPV4);
    assert_eq!(digitalocean::attributes().len(), 6);
}

#[test]
fn hetzner_none_status_and_yaml() {
    for (status, body) in [(404, true), (204, false), (200, false)] {
        let mut o = Options::new(Platform::Hetzner);
        o.none_status = status;
        let a = answers(o, None, &[get("/hetzner/v1/userdata")]);
        assert_eq!(a[0].0, status);
        assert_eq!(a[0].1.is_empty(), !body);
    }
    let a = answers(
        Options::new(Platform::Hetzner),
        Some(b"x"),
        &[get("/hetzner/v1/userdata"), get("/hetzner/v1/metadata"), get("/hetzner/v1/metadata/public-keys")],
    );
    assert_eq!(a[0], (200, "x".into()));
    assert!(a[1].1.starts_with("availability-zone: fsn1-dc14\nhostname: flint-hz-01\ninstance-id: 48151623\n"));
    assert!(a[1].1.contains(&format!("\n    - address: {}\n", hetzner::PUBLIC_IPV6_CIDR)));
    let keys: Vec<String> = serde_json::from_str(&a[2].1).unwrap();
    assert_eq!(keys, hetzner::KEYS);
}

#[test]
fn vultr_upcloud_404_when_none() {
    let a = answers(
        Options::new(Platform::Vultr),
        None,
        &[get("/user-data/user-data"), get("/v1.json"), get("/v1/instanceid")],
    );
    assert_eq!(statuses(&a), [404, 200, 200]);
    let v: Value = serde_json::from_str(&a[1].1).unwrap();
    assert_eq!(v["user-data"], serde_json::json!([]), "unset user-data is [] in v1.json");
    assert_eq!(a[2].1, vultr::INSTANCE_ID);
    let a = answers(
        Options::new(Platform::UpCloud),
        None,
        &[get("/metadata/v1/user_data"), get("/metadata/v1/public_keys")],
    );
    assert_eq!(statuses(&a), [404, 200]);
    assert_eq!(a[1].1, upcloud::KEYS.join("\n"));
    let a = answers(Options::new(Platform::UpCloud), Some(b"u"), &[get("/metadata/v1/user_data")]);
    assert_eq!(a[0], (200, "u".into()));
}

#[test]
fn exoscale_and_cloudstack_trees() {
    let a = answers(
        Options::new(Platform::Exoscale),
        None,
        &[get("/1.0/user-data"), get("/1.0/meta-data/vm-id"), get("/1.0/meta-data/public-keys"), get("/2.0/user-data")],
    );
    assert_eq!(statuses(&a), [200, 200, 200, 404]);
    assert_eq!(a[0].1, "", "Exoscale: no user-data is 200 and empty");
    assert_eq!((a[1].1.as_str(), a[2].1.clone()), (exoscale::VM_ID, exoscale::KEYS.join("\n")));
    let a = answers(
        Options::new(Platform::CloudStack),
        None,
        &[get("/latest/user-data"), get("/latest/meta-data/public-ipv4")],
    );
    assert_eq!(statuses(&a), [404, 200]);
    assert_eq!(a[1].1, cloudstack::PUBLIC_IPV4);
    assert_eq!(cloudstack::attributes_service().len(), 9);
    let files = cloudstack::drive_files(Some(b"ud"));
    assert!(files.iter().any(|(p, b)| p == "cloudstack/userdata/user_data.txt" && b == b"ud"));
    assert!(files.iter().any(|(p, _)| p == "cloudstack/metadata/instance_id.txt"));
}

#[test]
fn scaleway_refuses_unprivileged_source_ports() {
    // Loopback clients get an ephemeral port (≥ 1024 here): refused, and logged with the port.
    let m = start(Options::new(Platform::Scaleway), Some(b"secret"));
    let r = exchange(m.addr, &[get("/user_data/cloud-init"), get("/user_data"), get("/conf?format=json")]);
    assert_eq!(r.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(), [403, 403, 200]);
    let log = read_log(&m.dir.join("log")).unwrap();
    assert!(log[0].peer_port.is_some_and(|p| p >= 1024), "{:?}", log[0].peer_port);
    let v: Value = serde_json::from_slice(&r[2].2).unwrap();
    assert_eq!(v["ssh_public_keys"][0]["key"], scaleway::KEYS[0]);
    assert_eq!(v["location"]["zone_id"], scaleway::ZONE_ID);
    // The negative control answers any port.
    let mut o = Options::new(Platform::Scaleway);
    o.any_port = true;
    let a = answers(o.clone(), Some(b"secret"), &[get("/user_data/cloud-init"), get("/user_data")]);
    assert_eq!(a[0], (200, "secret".into()));
    assert!(a[1].1.contains("cloud-init"));
    let a = answers(o, None, &[get("/user_data/cloud-init")]);
    assert_eq!(a[0].0, 404, "an unset key");
    assert!(scaleway::port_allowed(1023, false) && !scaleway::port_allowed(1024, false));
    assert!(scaleway::port_allowed(40000, true));
}

#[test]
fn scaleway_answers_a_privileged_port() {
    if !crate::support::util::is_root() {
        return; // binding port < 1024 needs root (the namespace suites run as root anyway)
    }
    use rustix::net::{AddressFamily, SocketType, bind, connect, socket};
    use std::io::{Read, Write};
    let m = start(Options::new(Platform::Scaleway), Some(b"secret"));
    let fd = socket(AddressFamily::INET, SocketType::STREAM, None).unwrap();
    rustix::net::sockopt::set_socket_reuseaddr(&fd, true).unwrap();
    let local = std::net::SocketAddr::from(([127, 0, 0, 1], 0));
    // A free port below 1024 (some may be taken on the host).
    let port = (600..1000u16)
        .find(|p| bind(&fd, &std::net::SocketAddr::from(([127, 0, 0, 1], *p))).is_ok())
        .unwrap_or_else(|| panic!("no free privileged port ({local})"));
    connect(&fd, &m.addr).unwrap();
    let mut s = std::net::TcpStream::from(fd);
    s.write_all(get("/user_data/cloud-init").replace("HTTP/1.1\r\n", "HTTP/1.0\r\n").as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    assert!(out.starts_with("HTTP/1.1 200") && out.ends_with("secret"), "{out}");
    let log = read_log(&m.dir.join("log")).unwrap();
    assert_eq!(log[0].peer_port, Some(port));
}

#[test]
fn oraclecloud_bearer_and_base64_in_json() {
    let auth = "Authorization: Bearer Oracle";
    let a = answers(
        Options::new(Platform::OracleCloud),
        Some(b"\x1f\x8bbin"),
        &[
            get("/opc/v2/instance/"),
            get_with("/opc/v2/instance/", "Authorization: Bearer Other"),
            get_with("/opc/v2/instance/", auth),
            get_with("/opc/v2/instance/metadata/user_data", auth),
            get_with("/opc/v1/instance/", auth),
            get_with("/opc/v2/instance/", &format!("{auth}\r\nX-Forwarded-For: 10.0.0.9")),
        ],
    );
    assert_eq!(statuses(&a), [401, 401, 200, 200, 404, 403]);
    let v: Value = serde_json::from_str(&a[2].1).unwrap();
    let ud = base64::engine::general_purpose::STANDARD.decode(v["metadata"]["user_data"].as_str().unwrap()).unwrap();
    assert_eq!(ud, b"\x1f\x8bbin");
    assert_eq!(v["metadata"]["ssh_authorized_keys"], oraclecloud::KEYS.join("\n"));
    assert_eq!(v["canonicalRegionName"], oraclecloud::REGION);
    let a = answers(
        Options::new(Platform::OracleCloud),
        None,
        &[get_with("/opc/v2/instance/", auth), get_with("/opc/v2/instance/metadata/user_data", auth)],
    );
    let v: Value = serde_json::from_str(&a[0].1).unwrap();
    assert!(v["metadata"].get("user_data").is_none(), "no user-data: no member");
    assert_eq!(a[1].0, 404);
}

#[test]
fn aliyun_hardened_and_tokenless_modes() {
    let put = "PUT /latest/api/token HTTP/1.1\r\nHost: 100.100.100.200\r\nX-aliyun-ecs-metadata-token-ttl-seconds: 21600\r\n\r\n";
    let m = start(Options::new(Platform::Aliyun), Some(b"ud"));
    let r = exchange(m.addr, &[get("/latest/user-data"), put.to_string()]);
    assert_eq!((r[0].0, r[1].0), (403, 200), "hardened: a tokenless GET is refused");
    let token = String::from_utf8(r[1].2.clone()).unwrap();
    let h = format!("X-aliyun-ecs-metadata-token: {token}");
    let r = exchange(
        m.addr,
        &[
            get_with("/latest/user-data", &h),
            get_with("/latest/meta-data/public-keys/", &h),
            get_with("/latest/meta-data/public-keys/skp-bp1flint01/openssh-key", &h),
            get_with("/latest/meta-data/instance/instance-type", &h),
            get_with("/latest/user-data", "X-aliyun-ecs-metadata-token: forged"),
        ],
    );
    assert_eq!(r.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(), [200, 200, 200, 200, 403]);
    assert_eq!(r[1].2, b"0/\nskp-bp1flint01/");
    let bad_ttl = put.replace("21600", "21601");
    let mut o = Options::new(Platform::Aliyun);
    assert_eq!(answers(o.clone(), None, &[bad_ttl])[0].0, 400);
    o.no_token_api = true;
    let a = answers(o, None, &[put.to_string(), get("/latest/user-data"), get("/latest/meta-data/zone-id")]);
    assert_eq!(statuses(&a), [404, 404, 200], "no token API: PUT 404, tokenless GETs answered, no user-data 404");
    assert_eq!(aliyun::attributes().len(), 10);
}

#[test]
fn ibmcloud_token_flow() {
    let put = |flavor: &str, body: &str| {
        format!(
            "PUT /identity/v1/token?version=2025-08-26 HTTP/1.1\r\nHost: 169.254.169.254\r\n{flavor}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
    };
    let m = start(Options::new(Platform::IbmCloud), Some(b"#cloud-config\n"));
    let r = exchange(
        m.addr,
        &[
            put("", r#"{"expires_in": 300}"#),
            put("Metadata-Flavor: ibm\r\n", r#"{"expires_in": 4000}"#),
            put("Metadata-Flavor: ibm\r\n", "not json"),
            put("Metadata-Flavor: ibm\r\n", r#"{"expires_in": 300}"#),
        ],
    );
    assert_eq!(r.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(), [403, 400, 400, 200]);
    let v: Value = serde_json::from_slice(&r[3].2).unwrap();
    let token = v["access_token"].as_str().unwrap().to_string();
    let init = "/metadata/v1/instance/initialization?version=2025-08-26";
    let r = exchange(
        m.addr,
        &[
            get(init),
            get_with(init, &format!("Authorization: Bearer {token}")),
            get_with("/metadata/v1/instance/initialization", &format!("Authorization: Bearer {token}")),
            get_with("/metadata/v1/keys?version=2025-08-26", &format!("Authorization: Bearer {token}")),
        ],
    );
    assert_eq!(r.iter().map(|(s, _, _)| *s).collect::<Vec<_>>(), [401, 200, 400, 200]);
    let v: Value = serde_json::from_slice(&r[1].2).unwrap();
    assert_eq!(v["user_data"], "#cloud-config\n");
    let v: Value = serde_json::from_slice(&r[3].2).unwrap();
    assert_eq!(v["keys"][0]["public_key"], ibmcloud::ssh_keys()[0]);
    let vd = String::from_utf8(ibmcloud::vendor_data()).unwrap();
    assert!(
        vd.contains("Content-Type: text/cloud-config\n\n#cloud-config\n")
            && vd.contains("ssh_authorized_keys:\n- \"ssh-ed25519")
    );
}

#[test]
fn new_platforms_round_trip() {
    for p in Platform::ALL {
        let mut o = Options::new(p);
        (o.any_port, o.none_status) = (true, 204);
        let back = Options::parse(&o.to_args()).unwrap();
        assert_eq!((back.platform, back.any_port, back.none_status), (p, true, 204));
    }
}

#[test]
fn packet_wants_accept_and_serves_userdata_and_metadata() {
    let star = |p: &str| get_with(p, "Accept: */*");
    let ignition_default = "Accept: application/vnd.coreos.ignition+json;version=3.4.0, */*;q=0.1";
    let a = answers(
        Options::new(Platform::Packet),
        Some(b"#cloud-config\n"),
        &[
            star("/userdata"),
            get("/userdata"),
            get_with("/userdata", ignition_default),
            star("/metadata"),
            get_with("/metadata", "Accept: application/json"),
            get_with("/userdata", "Accept: application/json"),
            star("/userdata/"),
        ],
    );
    assert_eq!(statuses(&a), [200, 406, 406, 200, 200, 406, 404]);
    assert_eq!(a[0].1, "#cloud-config\n");
    let v: Value = serde_json::from_str(&a[3].1).unwrap();
    assert_eq!(v["id"], packet::ID);
    assert_eq!(v["ssh_keys"][1], packet::KEYS[1]);
    assert_eq!(v["network"]["addresses"][1]["gateway"], "2604:1380:4641:c500:0:0:0:0");
    assert_eq!(v["network"]["addresses"][2]["public"], false);
    // No user-data: 200 and an empty body (what Ignition takes as no config), or hollow's 404.
    let a = answers(Options::new(Platform::Packet), None, &[star("/userdata")]);
    assert_eq!(a[0], (200, String::new()));
    let mut o = Options::new(Platform::Packet);
    o.none_status = 404;
    assert_eq!(answers(o, None, &[star("/userdata")])[0].0, 404);
    // Afterburn's numbering, per (family, public), with Rust's RFC 5952 text.
    let attrs = packet::attributes();
    assert_eq!(attrs.len(), 13);
    for (k, v) in [
        ("AFTERBURN_PACKET_IPV4_PUBLIC_1", "147.75.90.5"),
        ("AFTERBURN_PACKET_IPV4_PUBLIC_GATEWAY_1", "147.75.80.10"),
        ("AFTERBURN_PACKET_IPV6_PUBLIC_GATEWAY_0", "2604:1380:4641:c500::"),
        ("AFTERBURN_PACKET_IPV4_PRIVATE_0", "10.70.20.3"),
        ("AFTERBURN_PACKET_IPV6_PRIVATE_0", "fd00:70:20::3"),
    ] {
        assert!(attrs.contains(&(k.to_string(), v.to_string())), "{k}");
    }
}
