//! The mock's protocol behaviour, over loopback (no namespaces, no root).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::http::{accept_has, find, is_dated_version};
use super::server::serve;
use super::service::Server;
use super::*;

pub(super) struct Running {
    pub(super) addr: std::net::SocketAddr,
    pub(super) dir: util::ScratchDir,
}

pub(super) fn start(mut opts: Options, payload: Option<&[u8]>) -> Running {
    let dir = util::ScratchDir::new("mocktest").unwrap();
    if let Some(p) = payload {
        std::fs::write(dir.join("payload"), p).unwrap();
        opts.payload = Some(dir.join("payload"));
    }
    opts.log = Some(dir.join("log"));
    opts.tokens = Some(dir.join("tokens"));
    opts.put_hop_limit = 0;
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = Arc::new(Server::new(opts).unwrap());
    std::thread::spawn(move || serve(listener, server));
    Running { addr, dir }
}

/// Sends raw requests on one connection (Connection: close on the last) and returns
/// the (status, headers, decoded body) of each response.
pub(super) fn exchange(addr: std::net::SocketAddr, reqs: &[String]) -> Vec<(u16, String, Vec<u8>)> {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut out = Vec::new();
    let mut buf = Vec::new();
    for r in reqs {
        s.write_all(r.as_bytes()).unwrap();
        out.push(read_response(&mut s, &mut buf));
    }
    out
}

fn read_response(s: &mut TcpStream, buf: &mut Vec<u8>) -> (u16, String, Vec<u8>) {
    let fill = |s: &mut TcpStream, buf: &mut Vec<u8>| -> bool {
        let mut tmp = [0u8; 8192];
        let n = s.read(&mut tmp).unwrap_or(0);
        buf.extend_from_slice(&tmp[..n]);
        n > 0
    };
    let end = loop {
        if let Some(i) = find(buf, b"\r\n\r\n") {
            break i;
        }
        assert!(fill(s, buf), "eof in head");
    };
    let head = String::from_utf8(buf[..end].to_vec()).unwrap();
    buf.drain(..end + 4);
    let status: u16 = head[9..12].parse().unwrap();
    let lower = head.to_ascii_lowercase();
    let body = if lower.contains("transfer-encoding: chunked") {
        let mut body = Vec::new();
        loop {
            let line_end = loop {
                if let Some(i) = find(buf, b"\r\n") {
                    break i;
                }
                assert!(fill(s, buf));
            };
            let n = usize::from_str_radix(std::str::from_utf8(&buf[..line_end]).unwrap(), 16).unwrap();
            buf.drain(..line_end + 2);
            while buf.len() < n + 2 {
                assert!(fill(s, buf));
            }
            body.extend_from_slice(&buf[..n]);
            buf.drain(..n + 2);
            if n == 0 {
                break body;
            }
        }
    } else if let Some(cl) = lower.lines().find_map(|l| l.strip_prefix("content-length: ")) {
        let n: usize = cl.trim().parse().unwrap();
        while buf.len() < n {
            assert!(fill(s, buf));
        }
        buf.drain(..n).collect()
    } else {
        while fill(s, buf) {}
        std::mem::take(buf)
    };
    (status, head, body)
}

pub(super) fn aws_put(ttl: &str) -> String {
    format!(
        "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\nContent-Length: 0\r\n\r\n"
    )
}

pub(super) fn aws_get(path: &str, token: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token: {token}\r\n\r\n")
}

#[test]
fn aws_token_flow_and_rules() {
    let m = start(Options::new(Platform::Aws), Some(b"\x1f\x8bgzip-bytes"));
    let r = exchange(m.addr, &[aws_put("21600")]);
    assert_eq!(r[0].0, 200);
    assert!(r[0].1.contains("X-Aws-Ec2-Metadata-Token-Ttl-Seconds: 21600"));
    let token = String::from_utf8(r[0].2.clone()).unwrap();
    assert_eq!(read_tokens(&m.dir.join("tokens")), vec![token.clone()]);

    // Same keep-alive connection: user-data raw, metadata leaves and listings.
    let r = exchange(
        m.addr,
        &[
            aws_get("/latest/user-data", &token),
            aws_get("/2019-10-01/user-data", &token),
            aws_get("/latest/meta-data/public-keys/", &token),
            aws_get("/latest/meta-data/public-keys/0/openssh-key", &token),
            aws_get("/latest/meta-data/instance-id", &token),
        ],
    );
    assert_eq!((r[0].0, r[0].2.as_slice()), (200, &b"\x1f\x8bgzip-bytes"[..]));
    assert_eq!(r[1].0, 200);
    assert_eq!(r[2].2, b"0=key-a\n1=key-b");
    assert_eq!(r[3].2, format!("{}\n", aws::PUBLIC_KEYS[0].1).into_bytes());
    assert_eq!(r[4].2, aws::INSTANCE_ID.as_bytes());

    let bad: Vec<u16> = [
        aws_put("0"),
        aws_put("21601"),
        aws_put("abc"),
        "PUT /latest/api/token HTTP/1.1\r\nHost: x\r\n\r\n".into(),
        "PUT /2021-03-23/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\n\r\n".into(),
        "PUT /latest/api/token HTTP/1.1\r\nX-aws-ec2-metadata-token-ttl-seconds: 60\r\nX-Forwarded-For: 1.2.3.4\r\n\r\n".into(),
        "GET /latest/user-data HTTP/1.1\r\n\r\n".into(),
        aws_get("/latest/user-data", "AQAEAnot-a-token"),
        aws_get("/latest/meta-data/nope", &token),
    ]
    .iter()
    .map(|r| exchange(m.addr, std::slice::from_ref(r))[0].0)
    .collect();
    assert_eq!(bad, vec![400, 400, 400, 400, 403, 403, 401, 401, 404]);

    let log = read_log(&m.dir.join("log")).unwrap();
    assert_eq!(log.len(), 1 + 5 + 9);
    assert!(log[1].token_sent && log[1].token_valid && log[1].path == "/latest/user-data");
}

#[test]
fn aws_no_user_data_is_404_html() {
    let m = start(Options::new(Platform::Aws), None);
    let token = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
    let r = exchange(m.addr, &[aws_get("/latest/user-data", &token)]);
    assert_eq!(r[0].0, 404);
    assert!(r[0].1.contains("text/html") && String::from_utf8_lossy(&r[0].2).contains("404 - Not Found"));
}

#[test]
fn aws_stale_token_once_needs_a_new_token() {
    let mut o = Options::new(Platform::Aws);
    o.stale_token_once = true;
    let m = start(o, Some(b"payload"));
    let t1 = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
    assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &t1)])[0].0, 401);
    assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &t1)])[0].0, 401, "revoked");
    let t2 = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
    assert_ne!(t1, t2);
    let r = exchange(m.addr, &[aws_get("/latest/user-data", &t2)]).remove(0);
    assert_eq!((r.0, r.2), (200, b"payload".to_vec()));
    assert_eq!(read_tokens(&m.dir.join("tokens")).len(), 2);
}

#[test]
fn chunked_close_delimited_and_failures() {
    let body: Vec<u8> = (0..50_000u32).map(|i| (i % 251) as u8).collect();
    let mut o = Options::new(Platform::Aws);
    o.chunked = true;
    let m = start(o, Some(&body));
    let r = exchange(m.addr, &[aws_put("60")]);
    assert!(r[0].1.contains("Transfer-Encoding: chunked"));
    let token = String::from_utf8(r[0].2.clone()).unwrap();
    assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &token)])[0].2, body);

    let mut o = Options::new(Platform::Aws);
    o.close_delimited = true;
    let m = start(o, Some(&body));
    let r = exchange(m.addr, &[aws_put("60")]);
    assert!(!r[0].1.to_ascii_lowercase().contains("content-length"));
    let token = String::from_utf8(r[0].2.clone()).unwrap();
    assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &token)])[0].2, body);

    let mut o = Options::new(Platform::Aws);
    o.fail_first = 2;
    o.fail_status = 503;
    o.retry_after = Some(1);
    let m = start(o, Some(&body));
    let r = exchange(m.addr, &[aws_put("60"), aws_put("60"), aws_put("60")]);
    assert_eq!((r[0].0, r[1].0, r[2].0), (503, 503, 200));
    assert!(r[0].1.contains("Retry-After: 1"));
}

fn akamai_put(accept: Option<&str>) -> String {
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    format!("PUT /v1/token HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Token-Expiry-Seconds: 300\r\n{accept}\r\n")
}

fn akamai_get(path: &str, token: &str, accept: Option<&str>) -> String {
    let accept = accept.map(|a| format!("Accept: {a}\r\n")).unwrap_or_default();
    format!("GET {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nMetadata-Token: {token}\r\n{accept}\r\n")
}

#[test]
fn akamai_token_and_user_data() {
    let m = start(Options::new(Platform::Akamai), Some(b"#cloud-config\n"));
    let r = exchange(m.addr, &[akamai_put(Some("text/plain")), akamai_put(Some("application/json"))]);
    let token = String::from_utf8(r[0].2.clone()).unwrap();
    assert_eq!(token.len(), 64);
    let json: Vec<String> = serde_json::from_slice(&r[1].2).unwrap();
    assert_eq!(json.len(), 1);
    let missing = "PUT /v1/token HTTP/1.1\r\nHost: x\r\n\r\n".to_string();
    assert_eq!(exchange(m.addr, &[missing])[0].0, 400);

    let statuses: Vec<(u16, Vec<u8>)> = [
        akamai_get("/v1/user-data", &token, None),
        akamai_get("/v1/user-data", &token, Some("text/plain")),
        akamai_get("/v1/user-data", &token, Some("*/*")),
        akamai_get("/v1/user-data", &token, Some("application/json")),
        akamai_get("/v1/user-data", &token, Some("application/vnd.coreos.ignition+json;version=3.6.0")),
        akamai_get("/v1/user-data", "nope", None),
        "GET /v1/user-data HTTP/1.1\r\n\r\n".into(),
    ]
    .iter()
    .map(|r| {
        let x = exchange(m.addr, std::slice::from_ref(r)).remove(0);
        (x.0, x.2)
    })
    .collect();
    assert_eq!(statuses[0], (200, b"I2Nsb3VkLWNvbmZpZwo=".to_vec()));
    assert_eq!(statuses[1].0, 200);
    assert_eq!(statuses[2].0, 200);
    assert_eq!(statuses[3].0, 406);
    assert_eq!(statuses[4].0, 406);
    assert_eq!(statuses[5].0, 401);
    assert_eq!(statuses[6].0, 401);
    let inst = exchange(m.addr, &[akamai_get("/v1/instance", &token, Some("application/json"))]).remove(0);
    let v: serde_json::Value = serde_json::from_slice(&inst.2).unwrap();
    assert_eq!(v["label"], akamai::LABEL);
}

#[test]
fn akamai_no_user_data_is_200_empty() {
    let m = start(Options::new(Platform::Akamai), None);
    let token = String::from_utf8(exchange(m.addr, &[akamai_put(None)])[0].2.clone()).unwrap();
    let r = exchange(m.addr, &[akamai_get("/v1/user-data", &token, None)]);
    assert_eq!((r[0].0, r[0].2.len()), (200, 0));
}

#[test]
fn options_round_trip() {
    let mut o = Options::new(Platform::Akamai);
    o.chunked = true;
    o.delay_ms = 1500;
    o.fail_first = 2;
    o.retry_after = Some(3);
    o.payload = Some("/tmp/p".into());
    o.no_ssh_keys = true;
    o.no_metadata = true;
    let back = Options::parse(&o.to_args()).unwrap();
    assert_eq!(format!("{o:?}"), format!("{back:?}"));
}

#[test]
fn accept_matching() {
    assert!(accept_has(Some("text/plain"), &["text/plain"]));
    assert!(accept_has(Some("application/json;q=0.9, */*;q=0.1"), &["*/*"]));
    assert!(!accept_has(Some("application/json"), &["text/plain", "*/*"]));
    assert!(!accept_has(None, &["*/*"]));
    assert!(is_dated_version("2019-10-01"));
    assert!(!is_dated_version("latest"));
}

#[test]
fn rate_limit_answers_429_then_admits_again() {
    let mut o = Options::new(Platform::Aws);
    o.rate_limit = Some(2);
    let m = start(o, Some(b"x"));
    let r = exchange(m.addr, &[aws_put("60"), aws_put("60"), aws_put("60")]);
    assert_eq!((r[0].0, r[1].0, r[2].0), (200, 200, 429));
    assert!(r[2].1.contains("Retry-After: 1"));
    // The next one-second window admits requests again.
    std::thread::sleep(Duration::from_millis(1100));
    assert_eq!(exchange(m.addr, &[aws_put("60")])[0].0, 200);
    let back = Options::parse(&Options { rate_limit: Some(7), ..Options::new(Platform::Aws) }.to_args()).unwrap();
    assert_eq!(back.rate_limit, Some(7));
}

/// GETs every path on one keep-alive connection after a fresh token; (status, body) each.
fn aws_tree(opts: Options, paths: &[&str]) -> Vec<(u16, String)> {
    let m = start(opts, Some(b"{}"));
    let token = String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap();
    let reqs: Vec<String> = paths.iter().map(|p| aws_get(p, &token)).collect();
    exchange(m.addr, &reqs).into_iter().map(|(s, _, b)| (s, String::from_utf8(b).unwrap())).collect()
}

#[test]
fn aws_metadata_tree() {
    use aws;
    let paths = [
        "/latest/meta-data/instance-id",
        "/latest/meta-data/hostname",
        "/latest/meta-data/local-hostname",
        "/latest/meta-data/public-hostname",
        "/latest/meta-data/local-ipv4",
        "/latest/meta-data/public-ipv4",
        "/latest/meta-data/placement/availability-zone",
        "/latest/meta-data/instance-type",
        "/2019-10-01/meta-data/instance-id",
    ];
    let r = aws_tree(Options::new(Platform::Aws), &paths);
    let want = [
        aws::INSTANCE_ID,
        aws::HOSTNAME,
        aws::LOCAL_HOSTNAME,
        aws::PUBLIC_HOSTNAME,
        aws::LOCAL_IPV4,
        aws::PUBLIC_IPV4,
        aws::AVAILABILITY_ZONE,
        aws::INSTANCE_TYPE,
        aws::INSTANCE_ID,
    ];
    for ((p, got), want) in paths.iter().zip(&r).zip(want) {
        assert_eq!(got, &(200, want.to_string()), "{p}");
    }

    let r = aws_tree(
        Options::new(Platform::Aws),
        &[
            "/latest/meta-data/public-keys/",
            "/latest/meta-data/public-keys/1/",
            "/latest/meta-data/public-keys/1/openssh-key",
            "/latest/meta-data/public-keys/2/openssh-key",
            "/latest/meta-data/public-keys/x/openssh-key",
            "/latest/meta-data/public-keys/0/nope",
            "/latest/meta-data/ipv6",
            "/latest/meta-data/",
            "/latest/dynamic/instance-identity/document",
            "/latest/meta-data/instance-id/nope",
        ],
    );
    assert_eq!(r[0], (200, "0=key-a\n1=key-b".into()));
    assert_eq!(r[1], (200, "openssh-key".into()));
    assert_eq!(r[2], (200, format!("{}\n", aws::PUBLIC_KEYS[1].1)));
    assert_eq!(aws::ssh_keys(), [aws::PUBLIC_KEYS[0].1, aws::PUBLIC_KEYS[1].1]);
    assert!(aws::ssh_keys().iter().all(|k| k.starts_with("ssh-ed25519 AAAA") && !k.ends_with('\n')));
    let statuses: Vec<u16> = r[3..7].iter().map(|x| x.0).collect();
    assert_eq!(statuses, [404, 404, 404, 404], "unknown key index, bad index, unknown leaf, ipv6");
    // Listings: `\n`-separated, no trailing newline, directories end in `/`, no ipv6 entry.
    assert_eq!(r[7].0, 200);
    assert!(!r[7].1.ends_with('\n') && r[7].1.lines().any(|l| l == "public-keys/"));
    assert!(!r[7].1.lines().any(|l| l == "ipv6"));
    let doc: serde_json::Value = serde_json::from_str(&r[8].1).unwrap();
    assert_eq!(
        (doc["region"].as_str(), doc["instanceId"].as_str(), doc["availabilityZone"].as_str()),
        (Some(aws::REGION), Some(aws::INSTANCE_ID), Some(aws::AVAILABILITY_ZONE))
    );
    assert_eq!(r[9].0, 404);
}

#[test]
fn aws_metadata_needs_the_token() {
    let m = start(Options::new(Platform::Aws), None);
    let r = exchange(m.addr, &["GET /latest/meta-data/instance-id HTTP/1.1\r\n\r\n".into()]);
    assert_eq!(r[0].0, 401);
    let r = exchange(m.addr, &[aws_get("/latest/meta-data/public-keys/", "AQAEAforged")]);
    assert_eq!(r[0].0, 401);
}

#[test]
fn aws_no_ssh_keys_and_no_metadata_knobs() {
    let mut o = Options::new(Platform::Aws);
    o.no_ssh_keys = true;
    let r = aws_tree(
        o,
        &[
            "/latest/meta-data/public-keys/",
            "/latest/meta-data/public-keys/0/openssh-key",
            "/latest/meta-data/instance-id",
            "/latest/meta-data",
        ],
    );
    assert_eq!((r[0].0, r[1].0), (404, 404));
    assert_eq!(r[2], (200, aws::INSTANCE_ID.into()));
    assert!(!r[3].1.contains("public-keys"));

    let mut o = Options::new(Platform::Aws);
    o.no_metadata = true;
    let r = aws_tree(
        o,
        &[
            "/latest/meta-data/instance-id",
            "/latest/meta-data/local-hostname",
            "/latest/meta-data/public-keys/",
            "/latest/dynamic/instance-identity/document",
            "/latest/meta-data/",
            "/latest/user-data",
            "/latest/",
        ],
    );
    let statuses: Vec<u16> = r.iter().map(|x| x.0).collect();
    assert_eq!(statuses, [404, 404, 404, 404, 404, 200, 200]);
    assert_eq!(r[5].1, "{}");
    assert_eq!(r[6].1, "user-data");
}

fn akamai_docs(opts: Options, accept: Option<&str>) -> Vec<(u16, String, String)> {
    let m = start(opts, None);
    let token = String::from_utf8(exchange(m.addr, &[akamai_put(None)])[0].2.clone()).unwrap();
    let reqs: Vec<String> =
        ["/v1/instance", "/v1/network", "/v1/ssh-keys"].iter().map(|p| akamai_get(p, &token, accept)).collect();
    exchange(m.addr, &reqs).into_iter().map(|(s, h, b)| (s, h, String::from_utf8(b).unwrap())).collect()
}

#[test]
fn akamai_metadata_json() {
    use akamai;
    let r = akamai_docs(Options::new(Platform::Akamai), Some("application/json"));
    assert!(r.iter().all(|(s, h, _)| *s == 200 && h.contains("application/json")));
    let v: Vec<serde_json::Value> = r.iter().map(|x| serde_json::from_str(&x.2).unwrap()).collect();
    assert_eq!(v[0]["id"], akamai::INSTANCE_ID);
    assert_eq!(v[0]["label"], akamai::LABEL);
    assert_eq!(v[0]["region"], akamai::REGION);
    assert_eq!(v[0]["host_uuid"], akamai::HOST_UUID);
    assert_eq!(v[1]["ipv4"]["public"][0], akamai::IPV4_PUBLIC);
    assert_eq!(v[1]["ipv6"]["slaac"], akamai::IPV6_SLAAC);
    let users = v[2]["users"].as_object().unwrap();
    assert_eq!(users.len(), 2);
    assert_eq!(users["root"], serde_json::json!(akamai::SSH_USERS[0].1));
    assert_eq!(users["root"].as_array().unwrap().len(), 2);
    assert_eq!(users["alice"], serde_json::json!(akamai::SSH_USERS[1].1));
    assert_eq!(akamai::ssh_keys().len(), 3);
}

#[test]
fn akamai_metadata_text_406_token_and_knobs() {
    use akamai;
    // No Accept, or text/plain: the flattened `key.sub: value` form.
    for accept in [None, Some("text/plain"), Some("*/*")] {
        let r = akamai_docs(Options::new(Platform::Akamai), accept);
        assert!(r.iter().all(|(s, h, _)| *s == 200 && h.contains("text/plain")), "{accept:?}");
        assert!(r[0].2.lines().any(|l| l == format!("id: {}", akamai::INSTANCE_ID)));
        assert!(r[0].2.lines().any(|l| l == format!("label: {}", akamai::LABEL)));
        assert!(r[1].2.lines().any(|l| l == format!("ipv4.public: {}", akamai::IPV4_PUBLIC)));
        assert_eq!(r[2].2.lines().filter(|l| l.starts_with("users.root: ")).count(), 2);
    }
    let r = akamai_docs(Options::new(Platform::Akamai), Some("application/xml"));
    assert!(r.iter().all(|x| x.0 == 406));

    let m = start(Options::new(Platform::Akamai), None);
    assert_eq!(exchange(m.addr, &[akamai_get("/v1/instance", "forged", Some("application/json"))])[0].0, 401);
    assert_eq!(exchange(m.addr, &["GET /v1/ssh-keys HTTP/1.1\r\n\r\n".into()])[0].0, 401);

    let mut o = Options::new(Platform::Akamai);
    o.no_ssh_keys = true;
    let r = akamai_docs(o, Some("application/json"));
    assert_eq!(r[2].0, 200);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&r[2].2).unwrap(), serde_json::json!({"users": {}}));
    assert_eq!(r[0].0, 200);

    let mut o = Options::new(Platform::Akamai);
    o.no_metadata = true;
    let r = akamai_docs(o, Some("application/json"));
    assert!(r.iter().all(|x| x.0 == 404));
}

/// The faults of `--fault`, over loopback (`faults.rs`).
mod faults {
    use std::io::{Read, Write};
    use std::net::TcpStream;
    use std::time::Duration;

    use super::{Running, aws_get, aws_put, exchange, start};
    use crate::mock::faults::INJECTED;
    use crate::mock::http::find;
    use crate::mock::{Fault, Options, Platform, read_log, read_tokens};

    #[test]
    fn spec_round_trips() {
        let all = [
            Fault::TokenStatus(403),
            Fault::TokenCrlf,
            Fault::TokenLf,
            Fault::UserDataStatus(401),
            Fault::Redirect("http://10.0.0.1:8080/latest/user-data".into()),
            Fault::Verbatim,
            Fault::ResetMidBody,
            Fault::FinMidBody,
            Fault::ChunkSize("1x".into()),
            Fault::ChunkNoCrlf,
            Fault::ChunkNoEnd,
            Fault::StatusLine("HTTP/1.1 2x0 OK".into()),
            Fault::HugeHead,
            Fault::HugeLength,
            Fault::Drip,
            Fault::Endless100,
        ];
        for f in all {
            assert_eq!(Fault::parse(&f.spec()), Ok(f.clone()), "{}", f.spec());
        }
        assert!(Fault::parse("token-status=abc").is_err());
        assert!(Fault::parse("no-such-fault").is_err());
    }

    fn with(fault: Fault, times: u32) -> Running {
        let mut o = Options::new(Platform::Aws);
        o.fault = Some(fault);
        o.fault_times = times;
        start(o, Some(b"0123456789abcdefghij"))
    }

    fn token(m: &Running) -> String {
        String::from_utf8(exchange(m.addr, &[aws_put("60")])[0].2.clone()).unwrap()
    }

    /// One request on a fresh connection, read raw until EOF or error.
    fn raw(m: &Running, req: &str) -> (Vec<u8>, Option<std::io::ErrorKind>) {
        let mut s = TcpStream::connect(m.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut got = Vec::new();
        let err = s.read_to_end(&mut got).err().map(|e| e.kind());
        (got, err)
    }

    fn get(token: &str) -> String {
        aws_get("/latest/user-data", token).replace("\r\n\r\n", "\r\nConnection: close\r\n\r\n")
    }

    #[test]
    fn token_with_a_line_break_and_token_status() {
        let m = with(Fault::TokenCrlf, 0);
        let r = exchange(m.addr, &[aws_put("60")]);
        let body = String::from_utf8(r[0].2.clone()).unwrap();
        let issued = read_tokens(&m.dir.join("tokens"));
        assert_eq!(body, format!("{}\r\n{INJECTED}", issued[0]));

        let m = with(Fault::TokenStatus(403), 1);
        let r = exchange(m.addr, &[aws_put("60"), aws_put("60")]);
        assert_eq!((r[0].0, r[1].0), (403, 200), "--fault-times 1: only the first");
    }

    #[test]
    fn user_data_redirect_and_status() {
        let m = with(Fault::Redirect("http://10.0.0.1:8080/x".into()), 0);
        let t = token(&m);
        let r = exchange(m.addr, &[aws_get("/latest/user-data", &t)]);
        assert_eq!(r[0].0, 307);
        assert!(r[0].1.contains("Location: http://10.0.0.1:8080/x"), "{}", r[0].1);

        let m = with(Fault::UserDataStatus(401), 0);
        let t = token(&m);
        assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &t)])[0].0, 401);
        let log = read_log(&m.dir.join("log")).unwrap();
        assert_eq!(log.last().map(|e| (e.status, e.token_valid)), Some((401, true)), "logged as sent");
    }

    #[test]
    fn fin_then_rst_mid_body() {
        let m = with(Fault::FinMidBody, 1);
        let t = token(&m);
        let (got, err) = raw(&m, &get(&t));
        assert_eq!(err, None, "FIN, not RST");
        let text = String::from_utf8(got).unwrap();
        assert!(text.contains("Content-Length: 20\r\n") && text.ends_with("\r\n\r\n0123456789"), "{text:?}");
        // --fault-times 1: the next answer is whole.
        assert_eq!(exchange(m.addr, &[aws_get("/latest/user-data", &t)])[0].2, b"0123456789abcdefghij");

        let m = with(Fault::ResetMidBody, 0);
        let t = token(&m);
        let (got, err) = raw(&m, &get(&t));
        assert_eq!(err, Some(std::io::ErrorKind::ConnectionReset));
        assert!(got.ends_with(b"0123456789"));
    }

    #[test]
    fn broken_framing() {
        let cases = [
            (Fault::ChunkSize("1x".into()), &b"\r\n\r\n1x\r\n0123456789abcdefghij\r\n0\r\n\r\n"[..]),
            (Fault::ChunkNoCrlf, b"\r\n\r\n10\r\n0123456789abcdefghij\r\n0\r\n\r\n"),
            (Fault::ChunkNoEnd, b"\r\n\r\n14\r\n0123456789abcdefghij\r\n0\r\n"),
        ];
        for (fault, tail) in cases {
            let m = with(fault.clone(), 0);
            let t = token(&m);
            let (got, err) = raw(&m, &get(&t));
            assert_eq!(err, None);
            assert!(got.ends_with(tail), "{fault:?}: {:?}", String::from_utf8_lossy(&got));
            assert!(String::from_utf8_lossy(&got).contains("Transfer-Encoding: chunked"));
        }
        let m = with(Fault::StatusLine("HTTP/1.1 2x0 OK".into()), 0);
        let t = token(&m);
        assert!(raw(&m, &get(&t)).0.starts_with(b"HTTP/1.1 2x0 OK\r\n"));
        let m = with(Fault::HugeHead, 0);
        let t = token(&m);
        let got = raw(&m, &get(&t)).0;
        let head_end = find(&got, b"\r\n\r\n").unwrap();
        assert!(head_end > 64 * 1024, "{head_end}");
    }
}
