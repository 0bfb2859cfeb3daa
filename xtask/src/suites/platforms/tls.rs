//! Equinix Metal's service is only at `https://metadata.packet.net`: the fixture that puts
//! the plain-HTTP mock (`mock::packet`) behind that name and real TLS, with nothing written
//! by hand on the wire.
//!
//! - a CA and a leaf for `metadata.packet.net` (ECDSA P-256; the leaf `CA:FALSE`,
//!   `digitalSignature`, `serverAuth`, the name as a subjectAltName DNS entry) made with
//!   `openssl` for each case, and a second, unrelated CA for the case that must refuse;
//! - Debian's `nginx` terminating TLS on [`ADDRESS`]`:443` in the server namespace, TLS 1.2
//!   and 1.3 (nginx's default since 1.23.4; Debian 12's 1.22 leaves 1.3 out unless told), and
//!   proxying to the mock on [`BACKEND`], which only the server namespace can reach: every
//!   request the mock logs came through a handshake;
//! - dnsmasq as the DHCP server *and* the name server it announces (option 6), with
//!   `metadata.packet.net` as a host record for [`ADDRESS`], an address off the lease's subnet
//!   that the guest reaches through the router, as the real one.
//!
//! Before flint runs, the fixture proves itself from the server namespace with curl: the
//! chain verifies against the CA for the name (a request nginx answers itself, so the mock's
//! log holds only flint's requests), and does not against the other CA.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::harness::netns::{POOL, ROUTER_IP, SERVER_IF, start_dnsmasq_args};
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// What `metadata.packet.net` resolves to (TEST-NET-2, held by the server end as a /32).
pub const ADDRESS: &str = "198.51.100.80";
/// What it resolves to in the IPv6 case, its only record (an AAAA): on-link in the prefix the
/// router advertises, [`PREFIX6`]`/64`.
pub const ADDRESS6: &str = "fd00:e9::80";
pub const PREFIX6: &str = "fd00:e9::";
/// The server end's address in the prefix.
pub const ROUTER6: &str = "fd00:e9::1";
/// Where the mock listens, behind nginx.
pub const BACKEND: &str = "127.0.0.1:8080";
/// The name, from the mock's facts.
pub use crate::mock::packet::HOST;
/// nginx answers this itself (the fixture's self-check), never the mock.
const PROBE: &str = "/flint-fixture-probe";

/// The case's certificates, under its directory.
pub struct Pki {
    /// The trust anchor flint is given (`--ca-bundle`).
    pub ca: PathBuf,
    /// A CA that signed nothing nginx serves.
    pub foreign_ca: PathBuf,
    leaf: PathBuf,
    key: PathBuf,
}

fn openssl(dir: &Path, args: &[&str]) -> Result<(), String> {
    let mut cmd = Command::new(util::tool("openssl"));
    cmd.current_dir(dir).args(args);
    proc::run_ok(&mut cmd, Duration::from_secs(30)).map(|_| ())
}

/// A self-signed P-256 CA: `<name>.pem`, `<name>.key`.
fn make_ca(dir: &Path, name: &str, cn: &str) -> Result<PathBuf, String> {
    let (pem, key) = (format!("{name}.pem"), format!("{name}.key"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &pem,
            "-days",
            "30",
            "-subj",
            &format!("/O=flint tests/CN={cn}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
        ],
    )?;
    Ok(dir.join(pem))
}

impl Pki {
    pub fn make(dir: &Path) -> Result<Pki, String> {
        std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
        let ca = make_ca(dir, "ca", "flint packet test CA")?;
        let foreign_ca = make_ca(dir, "foreign-ca", "flint packet foreign CA")?;
        openssl(
            dir,
            &[
                "req",
                "-new",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-keyout",
                "leaf.key",
                "-out",
                "leaf.csr",
                "-subj",
                &format!("/CN={HOST}"),
            ],
        )?;
        let ext = format!(
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n\
             subjectAltName=DNS:{HOST}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
        );
        std::fs::write(dir.join("leaf.ext"), ext).map_err(|e| e.to_string())?;
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "leaf.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-days",
                "30",
                "-extfile",
                "leaf.ext",
                "-out",
                "leaf.pem",
            ],
        )?;
        Ok(Pki { ca, foreign_ca, leaf: dir.join("leaf.pem"), key: dir.join("leaf.key") })
    }
}

/// dnsmasq on the server end: DHCP (pool, router 10.0.0.1) and DNS for the name, announced
/// as the lease's name server; every query logged (`dns.log`). With `v6`, router
/// advertisements for [`PREFIX6`]`/64` (SLAAC) and the name an AAAA record only.
pub fn start_dns(ns: &str, logs: &Path, v6: bool) -> Result<ChildGuard, String> {
    let mut args: Vec<String> = vec![
        "--no-ping".into(),
        "--bind-interfaces".into(),
        format!("--interface={SERVER_IF}"),
        "--no-resolv".into(),
        "--no-hosts".into(),
        format!("--host-record={HOST},{}", if v6 { ADDRESS6 } else { ADDRESS }),
        format!("--dhcp-range=10.0.0.{},10.0.0.{},255.255.255.0,1h", POOL.0, POOL.1),
        format!("--dhcp-option=option:router,{ROUTER_IP}"),
        format!("--dhcp-option=option:dns-server,{ROUTER_IP}"),
        format!("--dhcp-leasefile={}", logs.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
        "--log-queries".into(),
    ];
    if v6 {
        args.extend(["--enable-ra".into(), format!("--dhcp-range={PREFIX6},ra-only,64,1h")]);
    }
    start_dnsmasq_args(ns, &args, logs, "dns")
}

/// nginx in `ns`: TLS on `ADDRESS:443` (and `[ADDRESS6]:443` with `v6`) with the leaf,
/// everything proxied to the mock, the access log (`nginx-access.log`) recording each
/// request's protocol, SNI and client address. Returns once the self-check passed.
pub fn start_nginx(ns: &str, pki: &Pki, logs: &Path, v6: bool) -> Result<ChildGuard, String> {
    let dir = logs.join("nginx");
    for sub in ["", "tmp"] {
        std::fs::create_dir_all(dir.join(sub)).map_err(|e| format!("{}: {e}", dir.display()))?;
    }
    let tmp = dir.join("tmp");
    let conf = format!(
        r#"daemon off;
master_process off;
pid {pid};
error_log {logs}/nginx-error.log info;
events {{ worker_connections 64; }}
http {{
    log_format tls '$ssl_protocol $ssl_server_name $request_method $request_uri $status $remote_addr';
    access_log {logs}/nginx-access.log tls;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    server {{
        listen {ADDRESS}:443 ssl;{listen6}
        server_name {HOST};
        ssl_certificate {leaf};
        ssl_certificate_key {key};
        ssl_protocols TLSv1.2 TLSv1.3;
        location = {PROBE} {{ return 200 "fixture\n"; }}
        location / {{
            proxy_pass http://{BACKEND};
            proxy_http_version 1.1;
            proxy_set_header Host $http_host;
            proxy_set_header Connection "";
        }}
    }}
}}
"#,
        pid = dir.join("nginx.pid").display(),
        logs = logs.display(),
        tmp = tmp.display(),
        leaf = pki.leaf.display(),
        key = pki.key.display(),
        listen6 = if v6 { format!("\n        listen [{ADDRESS6}]:443 ssl;") } else { String::new() },
    );
    let conf_path = dir.join("nginx.conf");
    std::fs::write(&conf_path, conf).map_err(|e| e.to_string())?;
    let out = std::fs::File::create(logs.join("nginx-stderr.log")).map_err(|e| e.to_string())?;
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", ns])
        .arg(util::tool("nginx"))
        .arg("-e")
        .arg(logs.join("nginx-error.log"))
        .arg("-c")
        .arg(&conf_path)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(out);
    let mut child = ChildGuard::spawn(&mut cmd, "nginx")?;
    let verified = |ca: &Path| probe(ns, ca).is_ok();
    let up = proc::wait_until(Duration::from_secs(5), Duration::from_millis(20), || {
        child.try_status().is_some() || verified(&pki.ca)
    });
    if !up || child.try_status().is_some() {
        let text = std::fs::read_to_string(logs.join("nginx-error.log")).unwrap_or_default();
        let last = probe(ns, &pki.ca).err().unwrap_or_default();
        return Err(format!("nginx did not serve {HOST} verifiably: {last}; {}", util::tail(&text, 5)));
    }
    // The other CA must not verify this chain, or the refusing case would prove nothing.
    if verified(&pki.foreign_ca) {
        return Err("the foreign CA verifies the served chain: the fixture is wrong".into());
    }
    Ok(child)
}

/// curl from `ns` to the probe path over TLS, verifying against `ca` only, the name resolved
/// to [`ADDRESS`] (as DNS does for flint).
fn probe(ns: &str, ca: &Path) -> Result<(), String> {
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", ns]).arg(util::tool("curl"));
    cmd.args(["-sS", "--fail", "--max-time", "3", "--capath", "/nonexistent", "--cacert"]).arg(ca);
    cmd.args(["--resolve", &format!("{HOST}:443:{ADDRESS}"), &format!("https://{HOST}{PROBE}")]);
    let out = proc::run_capture(&mut cmd, Duration::from_secs(5))?;
    if out.status.success() && out.stdout == b"fixture\n" {
        Ok(())
    } else {
        Err(format!("curl: {} {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// The nginx access log lines other than the fixture's own probes: (protocol, SNI, method,
/// target, status, client address).
pub fn access_log(logs: &Path) -> Vec<Vec<String>> {
    std::fs::read_to_string(logs.join("nginx-access.log"))
        .unwrap_or_default()
        .lines()
        .map(|l| l.split(' ').map(String::from).collect::<Vec<_>>())
        .filter(|f| f.get(3).map(String::as_str) != Some(PROBE))
        .collect()
}
