//! The servers, all real programs no test writes by hand: `openssl s_server -WWW` (one per
//! identity, serving its working directory), Debian's `nginx` (its default TLS settings, plain
//! HTTP for the Ignition `replace` and the TLS proxy in front of the object store), `moto`'s S3
//! server, and two tiny Python (stdlib) TCP servers for the transport failures: one relays a
//! ClientHello to a real `s_server` and hands back only the first bytes of its ServerHello
//! before closing (or resetting), one reads the ClientHello and never answers.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::pki::Served;
use crate::harness::netns::Segment;
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// Starts `program args…` in namespace `ns` from `cwd`, stdout and stderr into `dir/<label>.log`,
/// and waits (≤ `limit`) until `ready` holds (then it must still be running).
fn spawn_ready(
    ns: &str,
    program: &Path,
    args: &[String],
    cwd: &Path,
    (dir, label): (&Path, &str),
    ready: impl Fn() -> bool,
) -> Result<ChildGuard, String> {
    let limit = Duration::from_secs(10);
    let log = dir.join(format!("{label}.log"));
    let out = std::fs::File::create(&log).map_err(|e| format!("{}: {e}", log.display()))?;
    let err = out.try_clone().map_err(|e| e.to_string())?;
    let mut cmd = Segment::exec(ns, program);
    cmd.current_dir(cwd).args(args).stdin(Stdio::null()).stdout(out).stderr(err);
    let mut child = ChildGuard::spawn(&mut cmd, label)?;
    let ok = proc::wait_until(limit, Duration::from_millis(20), || child.try_status().is_some() || ready());
    if !ok || child.try_status().is_some() {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        return Err(format!("{label} did not start: {}", util::tail(&text, 6)));
    }
    Ok(child)
}

/// Is something listening on `addr:port` in `ns` (`ss -Hltn`)?
pub fn listening(ns: &str, addr: &str, port: u16) -> bool {
    let mut cmd = Segment::exec(ns, util::tool("ss"));
    cmd.args(["-Hltn"]);
    proc::run_capture(&mut cmd, Duration::from_secs(5))
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.split_whitespace().nth(3) == Some(&format!("{addr}:{port}")))
        })
        .unwrap_or(false)
}

/// Where a server listens: namespace, address, port.
#[derive(Clone, Copy)]
pub struct Listen<'a> {
    pub ns: &'a str,
    pub addr: &'a str,
    pub port: u16,
}

/// Which protocol versions an `s_server` speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Versions {
    /// OpenSSL's default: TLS 1.2 and 1.3.
    Default,
    Tls13Only,
    Tls12Only,
}

/// `openssl s_server -WWW` on `addr:port` presenting `s`, serving `www`.
pub fn s_server(
    at: Listen,
    s: &Served,
    v: Versions,
    www: &Path,
    dir: &Path,
    label: &str,
) -> Result<ChildGuard, String> {
    let Listen { ns, addr, port } = at;
    let mut a: Vec<String> = vec!["s_server".into(), "-WWW".into(), "-quiet".into()];
    a.extend(["-accept".into(), format!("{addr}:{port}")]);
    a.extend(["-cert".into(), s.leaf.display().to_string(), "-key".into(), s.key.display().to_string()]);
    if let Some(chain) = &s.chain {
        a.extend(["-cert_chain".into(), chain.display().to_string()]);
    }
    match v {
        Versions::Default => {}
        Versions::Tls13Only => a.push("-tls1_3".into()),
        Versions::Tls12Only => a.push("-tls1_2".into()),
    }
    // The 1024-bit RSA leaf is refused by OpenSSL's default security level 2 of Debian:
    // level 0 lets the server present whatever its case needs (the client judges).
    a.push("-cipher".into());
    a.push("DEFAULT:@SECLEVEL=0".into());
    spawn_ready(ns, &util::tool("openssl"), &a, www, (dir, label), || listening(ns, addr, port))
}

/// nginx's configuration: the TLS server with nginx's default protocols and ciphers (nothing
/// set), plain HTTP on port 80 of the same address, and the object store's TLS proxy.
pub struct NginxConf<'a> {
    pub tls_addr: &'a str,
    pub tls: &'a Served,
    pub s3_addr: &'a str,
    pub s3: &'a Served,
    /// Where the S3 server listens (loopback of the server namespace).
    pub s3_upstream: &'a str,
    pub www: &'a Path,
    /// Debian's own TLS settings (`debian_tls`).
    pub debian_tls: &'a str,
}

/// The `ssl_*` lines of Debian's `/etc/nginx/nginx.conf`: what "nginx with its default TLS
/// configuration" is on Debian (nginx 1.22's compiled-in default has no TLS 1.3; Debian's
/// file adds it).
pub fn debian_tls() -> Result<String, String> {
    let conf = std::fs::read_to_string("/etc/nginx/nginx.conf").map_err(|e| format!("/etc/nginx/nginx.conf: {e}"))?;
    let lines: Vec<&str> = conf.lines().map(str::trim).filter(|l| l.starts_with("ssl_")).collect();
    if !lines.iter().any(|l| l.starts_with("ssl_protocols")) {
        return Err("/etc/nginx/nginx.conf sets no ssl_protocols".into());
    }
    Ok(lines.iter().map(|l| format!("  {l}")).collect::<Vec<_>>().join("\n"))
}

pub fn nginx_conf(c: &NginxConf, dir: &Path) -> String {
    let d = dir.display();
    let www = c.www.display();
    format!(
        "daemon off;
master_process off;
worker_processes 1;
pid {d}/nginx.pid;
error_log {d}/nginx-error.log info;
events {{ worker_connections 256; }}
http {{
  log_format flint '$remote_addr $scheme $server_port \"$request\" $status $body_bytes_sent';
  access_log {d}/nginx-access.log flint;
  client_body_temp_path {d}/nginx-tmp/body;
  proxy_temp_path {d}/nginx-tmp/proxy;
  fastcgi_temp_path {d}/nginx-tmp/fastcgi;
  uwsgi_temp_path {d}/nginx-tmp/uwsgi;
  scgi_temp_path {d}/nginx-tmp/scgi;
  default_type application/octet-stream;
{debian_tls}
  server {{
    listen {tls_addr}:443 ssl;
    server_name nginx.{domain};
    ssl_certificate {tls_chain};
    ssl_certificate_key {tls_key};
    root {www};
  }}
  server {{
    listen {tls_addr}:80;
    root {www};
  }}
  server {{
    listen {s3_addr}:443 ssl;
    server_name s3.{domain};
    ssl_certificate {s3_chain};
    ssl_certificate_key {s3_key};
    client_max_body_size 16m;
    location / {{
      proxy_pass http://{up};
      proxy_set_header Host $http_host;
      proxy_http_version 1.1;
    }}
  }}
}}
",
        debian_tls = c.debian_tls,
        tls_addr = c.tls_addr,
        domain = super::pki::DOMAIN,
        tls_chain = c.tls.fullchain.display(),
        tls_key = c.tls.key.display(),
        s3_addr = c.s3_addr,
        s3_chain = c.s3.fullchain.display(),
        s3_key = c.s3.key.display(),
        up = c.s3_upstream,
    )
}

pub fn nginx(ns: &str, c: &NginxConf, dir: &Path) -> Result<ChildGuard, String> {
    let ndir = dir.join("nginx");
    std::fs::create_dir_all(ndir.join("nginx-tmp")).map_err(|e| e.to_string())?;
    let conf = ndir.join("nginx.conf");
    std::fs::write(&conf, nginx_conf(c, &ndir)).map_err(|e| e.to_string())?;
    let a: Vec<String> = vec![
        "-p".into(),
        ndir.display().to_string(),
        "-e".into(),
        ndir.join("nginx-startup.log").display().to_string(),
        "-c".into(),
        conf.display().to_string(),
    ];
    spawn_ready(ns, &util::tool("nginx"), &a, &ndir, (dir, "nginx"), || {
        listening(ns, c.tls_addr, 443) && listening(ns, c.tls_addr, 80) && listening(ns, c.s3_addr, 443)
    })
}

/// The relay that cuts a real handshake short: reads one full ClientHello record (RFC 8446
/// §5.1: 5-byte header, then the length it gives), sends it to the upstream `s_server`, waits
/// for the first `keep` bytes of the answer (the start of the ServerHello record), hands only
/// those on, and closes the connection (`fin`) or resets it (`rst`, SO_LINGER 0). One line per
/// connection in the log: what was read and what was handed on, as hex.
const TRUNCATE_PY: &str = r#"
import socket, struct, sys, threading
host, port, up_host, up_port, keep, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3], int(sys.argv[4]), int(sys.argv[5]), sys.argv[6]

def read_exact(s, n):
    b = b""
    while len(b) < n:
        d = s.recv(n - len(b))
        if not d:
            break
        b += d
    return b

def handle(c):
    up = None
    try:
        c.settimeout(10)
        head = read_exact(c, 5)
        body = read_exact(c, struct.unpack(">H", head[3:5])[0]) if len(head) == 5 else b""
        up = socket.create_connection((up_host, up_port), timeout=10)
        up.sendall(head + body)
        got = b""
        while len(got) < keep:
            d = up.recv(65536)
            if not d:
                break
            got += d
        c.sendall(got[:keep])
        print("client-hello %d bytes (%s) forwarded %d of %d: %s" % (len(head + body), (head + body)[:6].hex(), min(keep, len(got)), len(got), got[:keep].hex()), flush=True)
    except Exception as e:
        print("error %r" % (e,), flush=True)
    finally:
        if mode == "rst":
            c.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        c.close()
        if up is not None:
            up.close()

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// Accepts, reads what the client sends (its ClientHello), logs it, and never answers: every
/// connection is held open until the server is killed.
const STALL_PY: &str = r#"
import socket, sys, threading
host, port = sys.argv[1], int(sys.argv[2])
held = []

def handle(c):
    total = 0
    first = b""
    while True:
        try:
            d = c.recv(65536)
        except Exception:
            break
        if not d:
            break
        if not first:
            first = d[:6]
            print("read %d bytes (%s), not answering" % (len(d), first.hex()), flush=True)
        total += len(d)
    print("client closed after %d bytes" % total, flush=True)

srv = socket.socket()
srv.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
srv.bind((host, port))
srv.listen(64)
print("listening", flush=True)
while True:
    c, _ = srv.accept()
    held.append(c)
    threading.Thread(target=handle, args=(c,), daemon=True).start()
"#;

/// Debian's Python: stdlib only.
pub fn python() -> PathBuf {
    PathBuf::from("/usr/bin/python3")
}

/// The truncating relay on `addr:port` in front of `upstream` (`host:port`).
pub fn truncate(
    at: Listen,
    upstream: (&str, u16),
    keep: usize,
    rst: bool,
    dir: &Path,
    label: &str,
) -> Result<ChildGuard, String> {
    let Listen { ns, addr, port } = at;
    let script = dir.join("truncate.py");
    std::fs::write(&script, TRUNCATE_PY).map_err(|e| e.to_string())?;
    let a: Vec<String> = vec![
        "-u".into(),
        script.display().to_string(),
        addr.into(),
        port.to_string(),
        upstream.0.into(),
        upstream.1.to_string(),
        keep.to_string(),
        if rst { "rst" } else { "fin" }.into(),
    ];
    spawn_ready(ns, &python(), &a, dir, (dir, label), || listening(ns, addr, port))
}

/// The server that stalls mid-handshake on `addr:port`.
pub fn stall(at: Listen, dir: &Path, label: &str) -> Result<ChildGuard, String> {
    let Listen { ns, addr, port } = at;
    let script = dir.join("stall.py");
    std::fs::write(&script, STALL_PY).map_err(|e| e.to_string())?;
    let a: Vec<String> = vec!["-u".into(), script.display().to_string(), addr.into(), port.to_string()];
    spawn_ready(ns, &python(), &a, dir, (dir, label), || listening(ns, addr, port))
}

/// Runs `program args` in `ns` to completion (bounded), stdout and stderr together.
pub fn run_in(ns: &str, program: &Path, args: &[&str], limit: Duration) -> Result<(Option<i32>, String), String> {
    let mut cmd: Command = Segment::exec(ns, program);
    cmd.args(args);
    let o = proc::run_capture(&mut cmd, limit)?;
    let text = format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr));
    Ok((Some(proc::exit_code(o.status)), text))
}
