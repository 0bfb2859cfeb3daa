//! The mock's protocol behaviour, over loopback (no namespaces, no root).

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::Duration;

use super::server::{Server, accept_has, find, is_dated_version, serve};
use super::*;

struct Running {
    addr: std::net::SocketAddr,
    dir: util::ScratchDir,
}

fn start(mut opts: Options, payload: Option<&[u8]>) -> Running {
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
fn exchange(addr: std::net::SocketAddr, reqs: &[String]) -> Vec<(u16, String, Vec<u8>)> {
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

fn aws_put(ttl: &str) -> String {
    format!(
        "PUT /latest/api/token HTTP/1.1\r\nHost: 169.254.169.254\r\nX-aws-ec2-metadata-token-ttl-seconds: {ttl}\r\nContent-Length: 0\r\n\r\n"
    )
}

fn aws_get(path: &str, token: &str) -> String {
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
    assert_eq!(r[2].2, b"0=flint-test");
    assert!(r[3].2.starts_with(b"ssh-ed25519 "));
    assert_eq!(r[4].2, b"i-0f1a2b3c4d5e6f708");

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
    .map(|r| exchange(m.addr, &[r.clone()])[0].0)
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
        let x = exchange(m.addr, &[r.clone()]).remove(0);
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
    assert_eq!(v["label"], "flint-test");
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
