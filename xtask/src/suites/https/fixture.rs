//! The suite's network and servers, and the proofs that show each piece works (or fails) as
//! its case says without flint; with what every case's run shares (flint's fixed arguments,
//! running it, the checks on its error line and on what it left behind).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::cases::{self, Host, Kind, Proof, SERVERS};
use crate::harness::checks::files_under;
use crate::harness::flint::{FlintRun, HARD_EXTRA, run_flint_cmd};
use crate::harness::handoff::{OUTPUT, REPORT, rel};
use crate::harness::https::pki::{self, DOMAIN, Material, TLS_IP};
use crate::harness::https::s3;
use crate::harness::https::servers::{self, run_in};
use crate::harness::netns::{self, CLIENT_IF, SEGMENT_IF, Segment};
use crate::harness::tally::Tally;
use crate::mock::payloads;
use crate::support::proc::ChildGuard;
use crate::support::util;

pub const BOOT: &str =
    "BOOT_IMAGE=/boot/vmlinuz-6.1.0-56-amd64 root=UUID=0b3c6d1e-5f7a-4c2b-9d8e-1a2b3c4d5e6f ro console=ttyS0,115200n8";
pub const ROUTER: &str = "10.0.0.1";
pub const S3_IP: &str = "10.0.0.30";
pub const METADATA: &str = "169.254.169.254";
const PROBE: &str = "10.0.0.250";
/// The system bundles flint tries, in its order (docs/contract.md): the system-bundle case puts
/// the suite's roots over the first one the host has (Debian's is the second), which is the
/// one flint reads.
const SYSTEM_BUNDLES: [&str; 3] =
    ["/etc/pki/tls/certs/ca-bundle.crt", "/etc/ssl/certs/ca-certificates.crt", "/etc/ssl/cert.pem"];

/// The first of `SYSTEM_BUNDLES` the host has.
fn system_bundle() -> Option<&'static str> {
    SYSTEM_BUNDLES.into_iter().find(|p| Path::new(p).is_file())
}
/// What every TLS server serves at `/user-data`.
pub const USER_DATA: &str = "user-data";

/// Everything the suite started; field order is drop order (processes before the namespaces).
pub struct Fixture {
    procs: Vec<ChildGuard>,
    pub store: Option<s3::Store>,
    pub seg: Segment,
    pub mat: Material,
    /// What every server serves (s_server's and nginx's root).
    pub www: PathBuf,
    pub dir: PathBuf,
    /// The Ignition config at `/user-data`, with the marker.
    pub payload: Vec<u8>,
    pub marker: String,
    /// Problems found by each server's proof ("fixture: …"), by server name.
    pub proofs: BTreeMap<String, Vec<String>>,
}

fn host_names() -> Vec<(String, &'static str)> {
    let mut v: Vec<(String, &str)> = SERVERS.iter().map(|s| (format!("{}.{DOMAIN}", s.name), TLS_IP)).collect();
    v.push((format!("nginx.{DOMAIN}"), TLS_IP));
    v.push((format!("s3.{DOMAIN}"), S3_IP));
    v
}

fn dnsmasq_args(dir: &Path) -> Vec<String> {
    let mut a: Vec<String> = vec![
        "--no-ping".into(),
        "--bind-interfaces".into(),
        format!("--interface={SEGMENT_IF}"),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
        "--log-queries".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
        // Authoritative: a name it does not hold is NXDOMAIN, never forwarded.
        format!("--local=/{DOMAIN}/"),
        "--dhcp-range=10.0.0.50,10.0.0.150,255.255.255.0,1h".into(),
        format!("--dhcp-option=option:router,{ROUTER}"),
        format!("--dhcp-option=option:dns-server,{ROUTER}"),
    ];
    for (name, ip) in host_names() {
        a.push(format!("--host-record={name},{ip}"));
    }
    a
}

impl Fixture {
    pub fn build(dir: &Path, with_store: bool) -> Result<Fixture, String> {
        let pki_dir = dir.join("pki");
        let mat = pki::build(&pki_dir).map_err(|e| format!("certificate factory: {e}"))?;
        let www = dir.join("www");
        std::fs::create_dir_all(&www).map_err(|e| e.to_string())?;
        let marker = payloads::new_marker();
        let payload = payloads::ignition_small(&marker);
        std::fs::write(www.join(USER_DATA), &payload).map_err(|e| e.to_string())?;
        let seg = Segment::new()?;
        for a in [format!("{ROUTER}/24"), format!("{METADATA}/32"), format!("{TLS_IP}/32"), format!("{S3_IP}/32")] {
            seg.server_addr(&a)?;
        }
        Segment::ip_in(&seg.probe, &["addr", "add", &format!("{PROBE}/24"), "dev", CLIENT_IF])?;
        Segment::ip_in(&seg.probe, &["route", "add", "default", "dev", CLIENT_IF])?;
        let mut fx = Fixture {
            procs: Vec::new(),
            store: None,
            seg,
            mat,
            www,
            dir: dir.to_path_buf(),
            payload,
            marker,
            proofs: BTreeMap::new(),
        };
        let s = fx.seg.server.clone();
        fx.procs.push(netns::start_dnsmasq_args(&s, &dnsmasq_args(dir), dir, "dnsmasq")?);
        let logs = dir.join("servers");
        std::fs::create_dir_all(&logs).map_err(|e| e.to_string())?;
        let upstream_port = cases::port_of("rsa2048").ok_or("no rsa2048 server")?;
        for srv in SERVERS {
            let label = format!("server-{}", srv.name);
            let at = servers::Listen { ns: &s, addr: TLS_IP, port: srv.port };
            let g = match srv.kind {
                Kind::SServer(v) => {
                    let served = fx.mat.served.get(srv.name).ok_or(format!("no identity {}", srv.name))?;
                    servers::s_server(at, served, v, &fx.www, &logs, &label)?
                }
                Kind::Truncate { rst } => servers::truncate(at, (TLS_IP, upstream_port), 40, rst, &logs, &label)?,
                Kind::Stall => servers::stall(at, &logs, &label)?,
            };
            fx.procs.push(g);
        }
        if with_store {
            fx.store = Some(s3::Store::start(&s, &logs)?);
        }
        let nginx_tls = fx.mat.served.get("nginx").ok_or("no nginx identity")?.clone();
        let s3_tls = fx.mat.served.get("s3").ok_or("no s3 identity")?.clone();
        let conf = servers::NginxConf {
            tls_addr: TLS_IP,
            tls: &nginx_tls,
            s3_addr: S3_IP,
            s3: &s3_tls,
            s3_upstream: &format!("127.0.0.1:{}", s3::CHECK_PORT),
            www: &fx.www,
            debian_tls: &servers::debian_tls()?,
        };
        fx.procs.push(servers::nginx(&s, &conf, &logs)?);
        Ok(fx)
    }

    /// `https://<host>[:port]/<path>` of a server.
    pub fn url(&self, server: &str, host: Host, path: &str) -> String {
        let port = cases::port_of(server).unwrap_or(0);
        let h = match host {
            Host::Name => format!("{server}.{DOMAIN}"),
            Host::Ip => TLS_IP.to_string(),
        };
        if port == 443 { format!("https://{h}/{path}") } else { format!("https://{h}:{port}/{path}") }
    }

    fn probe(&self, program: &str, args: &[&str]) -> (Option<i32>, String) {
        run_in(&self.seg.probe, &util::tool(program), args, Duration::from_secs(20)).unwrap_or_else(|e| (None, e))
    }

    /// `curl` from the probe: (exit, body or error text).
    pub fn curl(&self, url: &str, extra: &[&str], out: &Path) -> (Option<i32>, String) {
        let bundle = self.mat.bundle.display().to_string();
        let o = out.display().to_string();
        let mut args = vec!["-sS", "--max-time", "10", "--cacert", &bundle, "-o", &o];
        args.extend_from_slice(extra);
        args.push(url);
        self.probe("curl", &args)
    }

    /// `openssl s_client -verify_return_error` from the probe against `port`, checking the name
    /// (or the IP) as flint must.
    fn s_client(&self, port: u16, name: Option<&str>, extra: &[&str]) -> (Option<i32>, String) {
        let bundle = self.mat.bundle.display().to_string();
        let connect = format!("{TLS_IP}:{port}");
        let mut args = vec!["s_client", "-connect", &connect, "-verify_return_error", "-CAfile", &bundle];
        match name {
            Some(n) => args.extend(["-servername", n, "-verify_hostname", n]),
            None => args.extend(["-verify_ip", TLS_IP]),
        }
        args.extend_from_slice(extra);
        self.probe("openssl", &args)
    }

    /// Proves one server as its `Proof` says; returns the problems ("fixture: …").
    fn prove(&self, srv: &cases::Srv, tmp: &Path) -> Vec<String> {
        let mut bad = Vec::new();
        let name = format!("{}.{DOMAIN}", srv.name);
        let ip_only = srv.name == "ipnosan";
        let url = if ip_only {
            format!("https://{TLS_IP}:{}/{USER_DATA}", srv.port)
        } else {
            format!("https://{name}:{}/{USER_DATA}", srv.port)
        };
        let resolve = format!("{name}:{}:{TLS_IP}", srv.port);
        let body = tmp.join(format!("curl-{}.out", srv.name));
        let _ = std::fs::remove_file(&body);
        let curl = |extra: &[&str]| {
            let mut e = vec!["--resolve", resolve.as_str()];
            e.extend_from_slice(extra);
            self.curl(&url, &e, &body)
        };
        let sname = if ip_only { None } else { Some(name.as_str()) };
        let verified = |t: &str| t.contains("Verify return code: 0 (ok)");
        match srv.proof {
            Proof::Good => {
                let (code, text) = curl(&[]);
                if code != Some(0) || std::fs::read(&body).ok().as_deref() != Some(&self.payload[..]) {
                    bad.push(format!(
                        "fixture: curl {url}: exit {code:?}, not the served bytes: {}",
                        util::tail(&text, 3)
                    ));
                }
                let (_, text) = self.s_client(srv.port, sname, &["-tls1_3"]);
                if !verified(&text) || !text.contains("TLSv1.3") {
                    bad.push(format!("fixture: s_client -tls1_3 does not verify: {}", util::tail(&text, 4)));
                }
            }
            Proof::Refused(why) => {
                let (_, text) = self.s_client(srv.port, sname, &[]);
                if !text.contains(why) || verified(&text) {
                    bad.push(format!("fixture: s_client does not refuse with {why:?}: {}", util::tail(&text, 4)));
                }
                let (code, text) = curl(&[]);
                if code != Some(60) && code != Some(35) {
                    bad.push(format!(
                        "fixture: curl {url}: exit {code:?}, expected 60 or 35 (handshake): {}",
                        util::tail(&text, 3)
                    ));
                }
            }
            Proof::Tls12Only => {
                // s_client prints "Verify return code: 0 (ok)" even when no certificate came:
                // a refused handshake is a failed exit with no peer certificate.
                let (code, t13) = self.s_client(srv.port, sname, &["-tls1_3"]);
                if code == Some(0) || !t13.contains("no peer certificate available") {
                    bad.push(format!("fixture: s_client -tls1_3 got a handshake: {}", util::tail(&t13, 4)));
                }
                let (_, t12) = self.s_client(srv.port, sname, &["-tls1_2"]);
                if !verified(&t12) || !t12.contains("TLSv1.2") {
                    bad.push(format!("fixture: s_client -tls1_2 does not verify: {}", util::tail(&t12, 4)));
                }
            }
            Proof::LeafShows(what) => {
                let (_, text) = self.s_client(srv.port, sname, &["-tls1_3"]);
                if !verified(&text) {
                    bad.push(format!("fixture: s_client does not verify: {}", util::tail(&text, 4)));
                }
                let leaf = self.mat.served.get(srv.name).map(|s| s.leaf.display().to_string()).unwrap_or_default();
                let (_, x) = self.probe("openssl", &["x509", "-noout", "-ext", "keyUsage", "-in", &leaf]);
                if !x.contains(what) || x.contains("Digital Signature") {
                    bad.push(format!("fixture: the leaf's keyUsage is not {what} alone: {}", x.trim()));
                }
            }
            Proof::WeakKey => {
                let (_, text) = self.s_client(srv.port, sname, &["-tls1_3", "-cipher", "DEFAULT:@SECLEVEL=0"]);
                if !verified(&text) {
                    bad.push(format!("fixture: s_client does not verify at level 0: {}", util::tail(&text, 4)));
                }
                let (_, text) = self.s_client(srv.port, sname, &["-tls1_3", "-auth_level", "2"]);
                if !text.contains("EE certificate key too weak") {
                    bad.push(format!(
                        "fixture: -auth_level 2 does not call the key too weak: {}",
                        util::tail(&text, 4)
                    ));
                }
            }
            Proof::Truncated => {
                let (code, text) = self.s_client(srv.port, sname, &[]);
                if code == Some(0)
                    || !text.contains("no peer certificate available")
                    || !text.contains("SSL handshake has read 40 bytes")
                {
                    bad.push(format!("fixture: s_client through the relay: exit {code:?}: {}", util::tail(&text, 6)));
                }
                let log = std::fs::read_to_string(self.dir.join(format!("servers/server-{}.log", srv.name)))
                    .unwrap_or_default();
                // "forwarded 40 of N: 16 03 03 LL LL 02 …": a handshake record holding a ServerHello.
                let cut = log.lines().find(|l| l.contains("forwarded 40 of "));
                if !cut.is_some_and(|l| {
                    l.split(": ").last().is_some_and(|hex| hex.starts_with("160303") && hex.get(10..12) == Some("02"))
                }) {
                    bad.push(format!(
                        "fixture: the relay did not hand on the start of a ServerHello: {}",
                        util::tail(&log, 3)
                    ));
                }
            }
            Proof::Stalled => {
                let (code, text) = self.curl(&url, &["--resolve", &resolve, "--max-time", "2"], &body);
                if code != Some(28) {
                    bad.push(format!(
                        "fixture: curl against the stalling server: exit {code:?}, expected 28: {}",
                        util::tail(&text, 3)
                    ));
                }
                let log = std::fs::read_to_string(self.dir.join(format!("servers/server-{}.log", srv.name)))
                    .unwrap_or_default();
                if !log.lines().any(|l| l.starts_with("read ") && l.contains("(1603")) {
                    bad.push(format!("fixture: the stalling server saw no ClientHello: {}", util::tail(&log, 3)));
                }
            }
        }
        bad
    }

    /// nginx: its TLS 1.3 handshake verifies and it serves the file; plain HTTP too.
    fn prove_nginx(&self, tmp: &Path) -> Vec<String> {
        let mut bad = Vec::new();
        let body = tmp.join("curl-nginx.out");
        let url = format!("https://nginx.{DOMAIN}/{USER_DATA}");
        let resolve = format!("nginx.{DOMAIN}:443:{TLS_IP}");
        let (code, text) = self.curl(&url, &["--resolve", &resolve, "--tlsv1.3"], &body);
        if code != Some(0) || std::fs::read(&body).ok().as_deref() != Some(&self.payload[..]) {
            bad.push(format!("fixture: curl --tlsv1.3 {url}: exit {code:?}: {}", util::tail(&text, 3)));
        }
        let (_, text) = self.s_client(443, Some(&format!("nginx.{DOMAIN}")), &["-tls1_3"]);
        if !text.contains("Verify return code: 0 (ok)") {
            bad.push(format!("fixture: s_client to nginx does not verify: {}", util::tail(&text, 4)));
        }
        let plain = format!("http://{TLS_IP}/{USER_DATA}");
        let (code, text) = self.curl(&plain, &[], &body);
        if code != Some(0) || std::fs::read(&body).ok().as_deref() != Some(&self.payload[..]) {
            bad.push(format!("fixture: curl {plain}: exit {code:?}: {}", util::tail(&text, 3)));
        }
        bad
    }

    /// dnsmasq answers every server's name, and a name it does not hold is NXDOMAIN.
    fn prove_dns(&self) -> Vec<String> {
        let mut bad = Vec::new();
        let at = format!("@{ROUTER}");
        for (name, ip) in host_names() {
            let (_, text) = self.probe("dig", &[&at, "+tries=1", "+time=2", "+short", "A", &name]);
            if text.trim() != ip {
                bad.push(format!("fixture: dig A {name} {at}: {:?}, expected {ip}", text.trim()));
            }
        }
        let (_, text) = self.probe("dig", &[&at, "+tries=1", "+time=2", "A", &format!("nothere.{DOMAIN}")]);
        if !text.contains("status: NXDOMAIN") {
            bad.push(format!("fixture: nothere.{DOMAIN} is not NXDOMAIN: {}", util::tail(&text, 4)));
        }
        bad
    }

    /// No `--ca-bundle`: `curl` from the probe with the suite's roots bind-mounted at the system
    /// path (as the case runs flint) fetches; with the host's own system bundle it is refused.
    fn prove_system_bundle(&self, tmp: &Path) -> Vec<String> {
        let mut bad = Vec::new();
        if system_bundle().is_none() {
            bad.push(format!("fixture: the host has none of the system bundles {SYSTEM_BUNDLES:?}"));
        }
        let port = cases::port_of("system").unwrap_or(0);
        let name = format!("system.{DOMAIN}");
        let url = format!("https://{name}:{port}/{USER_DATA}");
        let resolve = format!("{name}:{port}:{TLS_IP}");
        let body = tmp.join("curl-system.out");
        let b = body.display().to_string();
        let args = ["-sS", "--max-time", "10", "--resolve", &resolve, "-o", &b, &url];
        let mut cmd = self.with_system_bundle(&self.seg.probe, &util::tool("curl"));
        cmd.args(args);
        match crate::support::proc::run_capture(&mut cmd, Duration::from_secs(20)) {
            Ok(o) if o.status.success() && std::fs::read(&body).ok().as_deref() == Some(&self.payload[..]) => {}
            Ok(o) => bad.push(format!(
                "fixture: curl with the roots at {:?} did not fetch: {}",
                system_bundle(),
                String::from_utf8_lossy(&o.stderr).trim()
            )),
            Err(e) => bad.push(format!("fixture: {e}")),
        }
        let (code, text) = self.probe("curl", &args);
        if code != Some(60) {
            bad.push(format!(
                "fixture: curl with the host's system bundle: exit {code:?}, expected 60: {}",
                util::tail(&text, 2)
            ));
        }
        bad
    }

    /// `program` in namespace `ns` and in a mount namespace of its own where the suite's roots
    /// are bind-mounted over the system bundle; the host's file is never touched.
    fn with_system_bundle(&self, ns: &str, program: &Path) -> Command {
        const SCRIPT: &str = r#"set -e; mount --bind "$1" "$2"; shift 2; exec "$@""#;
        let mut cmd = Command::new(util::tool("unshare"));
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", SCRIPT, "sh"])
            .arg(&self.mat.bundle)
            .arg(system_bundle().unwrap_or(SYSTEM_BUNDLES[1]))
            .arg(util::tool("ip"))
            .args(["netns", "exec", ns])
            .arg(program);
        cmd
    }

    /// Every proof, one counted line each; the problems kept for the cases.
    pub fn prove_all(&mut self, t: &mut Tally) {
        let tmp = self.dir.join("proofs");
        let _ = std::fs::create_dir_all(&tmp);
        let mut results: Vec<(String, Vec<String>)> = Vec::new();
        results.push(("dns".into(), self.prove_dns()));
        for srv in SERVERS {
            results.push((srv.name.to_string(), self.prove(srv, &tmp)));
        }
        results.push(("nginx".into(), self.prove_nginx(&tmp)));
        results.push(("system-bundle".into(), self.prove_system_bundle(&tmp)));
        self.record(t, results);
    }

    /// Counts proofs (one line each) and keeps their problems for the cases.
    pub fn record(&mut self, t: &mut Tally, results: Vec<(String, Vec<String>)>) {
        for (name, problems) in results {
            let detail = if problems.is_empty() { "proven without flint".to_string() } else { problems.join("; ") };
            t.step(&format!("fixture {name}"), problems.is_empty(), &detail);
            self.proofs.insert(name, problems);
        }
    }

    /// The fixture problems a case inherits from the proofs it depends on.
    pub fn unproven(&self, names: &[&str]) -> Vec<String> {
        let mut v: Vec<String> = vec![];
        for n in names.iter().chain(["dns"].iter()) {
            match self.proofs.get(*n) {
                Some(p) => v.extend(p.iter().cloned()),
                None => v.push(format!("fixture: {n} was never proven")),
            }
        }
        v
    }
}

/// flint's fixed arguments: `--root`, `--cmdline`, `--output`, `--report`, `--timeout`,
/// `--interface`.
pub fn base_args(root: &Path, logs: &Path, budget: f64, kernel: &str) -> Result<Vec<String>, String> {
    let cmdline = logs.join("cmdline");
    std::fs::write(&cmdline, format!("{BOOT} {kernel} quiet\n")).map_err(|e| e.to_string())?;
    let mut a: Vec<String> = vec!["--root".into(), root.display().to_string()];
    a.extend(["--cmdline".into(), cmdline.display().to_string()]);
    a.extend(["--output".into(), OUTPUT.into(), "--report".into(), REPORT.into()]);
    a.extend(["--timeout".into(), budget.to_string(), "--interface".into(), CLIENT_IF.into()]);
    Ok(a)
}

/// The lines a server's log gained since `before` lines (what one flint run did there).
pub fn new_lines(log: &Path, before: usize) -> Vec<String> {
    std::fs::read_to_string(log).unwrap_or_default().lines().skip(before).map(str::to_string).collect()
}

/// How many lines a server's log has now.
pub fn line_count(log: &Path) -> usize {
    std::fs::read_to_string(log).map(|t| t.lines().count()).unwrap_or(0)
}

/// A failed run's error line holds `word` (case-insensitive).
pub fn check_word(stderr: &str, word: &str) -> Vec<String> {
    let errors: Vec<&str> = stderr.lines().filter(|l| l.starts_with("flint: error: ")).collect();
    if errors.iter().any(|l| l.to_ascii_lowercase().contains(&word.to_ascii_lowercase())) {
        Vec::new()
    } else {
        vec![format!("no error line names {word:?}: {errors:?}")]
    }
}

/// Nothing but (perhaps) the report under the root: no output, no temporary file.
pub fn check_nothing_written(root: &Path) -> Vec<String> {
    let stray: Vec<String> = files_under(root).into_iter().filter(|f| *f != rel(REPORT)).collect();
    if stray.is_empty() { Vec::new() } else { vec![format!("written although the run failed: {stray:?}")] }
}

/// Runs flint in the client namespace (`system`: in a mount namespace with the suite's roots
/// at the system path).
pub fn run_flint(fx: &Fixture, args: &[String], logs: &Path, budget: f64, system: bool) -> Result<FlintRun, String> {
    let flint = util::flint_under_test();
    let cmd =
        if system { fx.with_system_bundle(&fx.seg.client, &flint) } else { Segment::exec(&fx.seg.client, &flint) };
    std::fs::write(logs.join("flint-args.txt"), args.join(" ")).ok();
    run_flint_cmd(cmd, args, logs, Duration::from_secs_f64(budget) + HARD_EXTRA)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_resolves() {
        let args = dnsmasq_args(Path::new("/d"));
        assert!(args.iter().any(|a| a == &format!("--host-record=rsa2048.{DOMAIN},{TLS_IP}")));
        assert!(args.iter().any(|a| a == &format!("--host-record=s3.{DOMAIN},{S3_IP}")));
        assert!(args.iter().any(|a| a == &format!("--host-record=stall.{DOMAIN},{TLS_IP}")));
    }

    #[test]
    fn error_words_and_leftovers() {
        let s = "flint: link: up\nflint: error: user-data: certificate EXPIRED (notAfter)\n";
        assert!(check_word(s, "expired").is_empty());
        assert!(!check_word(s, "unknown issuer").is_empty());
        assert!(!check_word("flint: user-data: expired\n", "expired").is_empty(), "only the error line counts");
        let dir = std::env::temp_dir().join(format!("flint-https-test-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("run/flint")).unwrap();
        std::fs::write(dir.join(rel(REPORT)), "{}").unwrap();
        assert!(check_nothing_written(&dir).is_empty());
        std::fs::write(dir.join(rel(OUTPUT)), "x").unwrap();
        assert!(!check_nothing_written(&dir).is_empty());
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
