//! A case's network (`netns::Segment`): the server's addresses, dnsmasq (RA, DHCPv6, DHCPv4,
//! DNS) or the suite's `dns-mock`, the metadata mock(s), the nft drop rules, the DAD peer and a
//! capture; and the self-checks that prove each piece without flint, from the probe namespace
//! with the kernel's own IPv6 and stock tools (`rdisc6`, `dhclient -6`, `dig`, `curl`). A
//! self-check that fails fails the case as "fixture: …", so a red case says whether the
//! fixture or flint is wrong.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use super::case::*;
use crate::harness::netns::{self, CLIENT_IF, SEGMENT_IF, Segment};
use crate::mock::dns::{self, DnsOptions, Mode};
use crate::mock::{self, payloads};
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// Marks the self-checks' own requests in the mock's log (left out of the checks).
pub const SELF_CHECK_PATH: &str = "/flint-fixture-check";
const NFT_TABLE: &str = "flintdrop";

/// Everything a case's network started; field order is drop order (processes before the
/// namespaces).
pub struct Fixture {
    _procs: Vec<ChildGuard>,
    capture: Option<ChildGuard>,
    pub mock_log: Option<PathBuf>,
    pub decoy_log: Option<PathBuf>,
    pub dns_log: Option<PathBuf>,
    pub dnsmasq_log: Option<PathBuf>,
    pub pcap: Option<PathBuf>,
    pub seg: Segment,
}

/// The modified EUI-64 link-local address of `mac` (RFC 4291 §2.5.1, appendix A).
pub fn eui64_link_local(mac: &str) -> Option<std::net::Ipv6Addr> {
    let b: Vec<u8> = mac.split(':').map(|h| u8::from_str_radix(h, 16)).collect::<Result<_, _>>().ok()?;
    let [m0, m1, m2, m3, m4, m5] = <[u8; 6]>::try_from(b).ok()?;
    let iid = [m0 ^ 2, m1, m2, 0xff, 0xfe, m3, m4, m5];
    let mut o = [0u8; 16];
    o[0] = 0xfe;
    o[1] = 0x80;
    o[8..].copy_from_slice(&iid);
    Some(std::net::Ipv6Addr::from(o))
}

/// The mock's payload file for `p` (`None`: no user-data), and the bytes flint must write.
pub fn payload(p: Payload, marker: &str) -> (Option<Vec<u8>>, Option<Vec<u8>>) {
    let plain = payloads::ignition_small(marker);
    match p {
        Payload::Plain => (Some(plain.clone()), Some(plain)),
        Payload::Gzip => {
            let (plain, gz) = payloads::large_gzip(marker);
            (Some(gz), Some(plain))
        }
        Payload::Base64Text => {
            use base64::Engine as _;
            let text = base64::engine::general_purpose::STANDARD.encode(&plain).into_bytes();
            (Some(text.clone()), Some(text))
        }
        Payload::None => (None, None),
    }
}

fn run_in(ns: &str, program: &str, args: &[&str], limit: Duration) -> Result<std::process::Output, String> {
    let mut cmd = Segment::exec(ns, util::tool(program));
    cmd.args(args);
    proc::run_capture(&mut cmd, limit)
}

fn text(o: &std::process::Output) -> String {
    format!("{}{}", String::from_utf8_lossy(&o.stdout), String::from_utf8_lossy(&o.stderr))
}

/// dnsmasq's command line for the case (`None`: no dnsmasq needed).
fn dnsmasq_args(c: &Case, dir: &Path) -> Option<Vec<String>> {
    let dnsmasq_dns = c.dns == Dns::Dnsmasq;
    if c.v4 == V4::None && !c.v6.has_ra() && !dnsmasq_dns {
        return None;
    }
    let mut a: Vec<String> = vec![
        "--no-ping".into(),
        "--bind-interfaces".into(),
        format!("--interface={SEGMENT_IF}"),
        format!("--dhcp-leasefile={}", dir.join("dnsmasq.leases").display()),
        "--log-dhcp".into(),
        "--no-resolv".into(),
        "--no-hosts".into(),
    ];
    if dnsmasq_dns {
        a.push("--log-queries".into());
        // Authoritative for the domain: an unknown name is NXDOMAIN, never forwarded.
        a.push(format!("--local=/{DOMAIN}/"));
        a.push(format!("--cname=alias.{DOMAIN},metadata.{DOMAIN}"));
        for (name, addr) in c.records {
            a.push(format!("--host-record={name},{addr}"));
        }
    } else {
        a.push("--port=0".into());
    }
    let link = c.announce == Announce::Link;
    let (dns6, dns4) = match c.dns {
        Dns::Dnsmasq => (Some(DNS6), Some(DNS4)),
        Dns::Mock(_) => (Some(DNS6_MOCK), Some(DNS4_MOCK)),
        Dns::None => (None, None),
    };
    if c.v4 == V4::Dhcp {
        a.push(format!("--dhcp-range={0}.50,{0}.150,255.255.255.0,1h", "10.0.0"));
        a.push(format!("--dhcp-option=option:router,{ROUTER4}"));
        match dns4.filter(|_| link) {
            Some(d) => {
                a.push(format!("--dhcp-option=option:dns-server,{d}"));
                a.push(format!("--dhcp-option=option:domain-name,{DOMAIN}"));
                a.push(format!("--dhcp-option=option:domain-search,{DOMAIN},{OTHER_DOMAIN}"));
            }
            // An empty option 6: dnsmasq would otherwise announce itself.
            None => a.push("--dhcp-option=option:dns-server".into()),
        }
    }
    if c.v6.has_ra() {
        a.push("--enable-ra".into());
        a.push(match c.v6 {
            V6::Slaac => format!("--dhcp-range={PREFIX6},ra-only,64,1h"),
            V6::Stateless => format!("--dhcp-range={PREFIX6},ra-stateless,64,1h"),
            _ => format!("--dhcp-range={PREFIX6}{:x},{PREFIX6}{:x},64,1h", DHCP6_POOL.0, DHCP6_POOL.1),
        });
        match dns6.filter(|_| link) {
            Some(d) => {
                a.push(format!("--dhcp-option=option6:dns-server,[{d}]"));
                a.push(format!("--dhcp-option=option6:domain-search,{DOMAIN},{OTHER_DOMAIN}"));
            }
            None => a.push("--dhcp-option=option6:dns-server".into()),
        }
    }
    Some(a)
}

impl Fixture {
    pub fn build(c: &Case, payload_file: Option<&Path>, dir: &Path) -> Result<Fixture, String> {
        let seg = Segment::new()?;
        let mut fx = Fixture {
            _procs: Vec::new(),
            capture: None,
            mock_log: None,
            decoy_log: None,
            dns_log: None,
            dnsmasq_log: None,
            pcap: None,
            seg,
        };
        let (s, p) = (fx.seg.server.clone(), fx.seg.probe.clone());
        // Addresses.
        if c.v4 == V4::Dhcp {
            for a in [format!("{ROUTER4}/24"), format!("{METADATA4}/32"), format!("{DNS4}/32")] {
                fx.seg.server_addr(&a)?;
            }
            for a in [format!("{DNS4_MOCK}/32"), format!("{META4}/32")] {
                fx.seg.server_addr(&a)?;
            }
            Segment::ip_in(&p, &["addr", "add", &format!("{PROBE4}/24"), "dev", CLIENT_IF])?;
            Segment::ip_in(&p, &["route", "add", "default", "dev", CLIENT_IF])?;
        }
        // OpenStack's link-local endpoint only where OpenStack is played: dnsmasq would
        // otherwise send its RAs from it.
        if c.v6 != V6::None && c.service.is_some_and(|s| s.platform == mock::Platform::OpenStack) {
            fx.seg.server_addr(&format!("{OPENSTACK6}/64"))?;
        }
        if c.v6.has_ra() {
            fx.seg.server_addr(&format!("{ROUTER6}/64"))?;
            for a in [DNS6, DNS6_MOCK, META6, DECOY6, AWS6, AKAMAI6] {
                fx.seg.server_addr(&format!("{a}/128"))?;
            }
            Segment::ip_in(&p, &["-6", "addr", "add", &format!("{PROBE6}/64"), "dev", CLIENT_IF, "nodad"])?;
            Segment::ip_in(&p, &["-6", "route", "add", "default", "dev", CLIENT_IF])?;
        }
        if c.dad_peer {
            let ll = eui64_link_local(&fx.seg.client_mac).ok_or("bad client MAC")?;
            Segment::ip_in(&p, &["-6", "addr", "add", &format!("{ll}/64"), "dev", CLIENT_IF, "nodad"])?;
        }
        netns::sysctl(&fx.seg.client, &format!("net.ipv6.conf.{CLIENT_IF}.disable_ipv6"), c.disable_ipv6_before)?;

        // DNS and DHCP/RA.
        if let Some(args) = dnsmasq_args(c, dir) {
            fx._procs.push(netns::start_dnsmasq_args(&s, &args, dir, "dnsmasq")?);
            fx.dnsmasq_log = Some(dir.join("dnsmasq.log"));
        }
        if let Dns::Mock(mode) = c.dns {
            let listen = if c.v6.has_ra() { DNS6_MOCK } else { DNS4_MOCK };
            let mut o = DnsOptions::new(listen.parse().map_err(|_| "bad dns-mock address")?, mode);
            for (name, addr) in c.records {
                o = o.record(name, if addr.contains(':') { "AAAA" } else { "A" }, addr);
            }
            let (guard, log) = dns::start_dns_in(&s, &o, dir, "dns-mock")?;
            fx._procs.push(guard);
            fx.dns_log = Some(log);
        }
        // The services.
        if let Some(svc) = c.service {
            let mut o = mock::Options::new(svc.platform);
            o.listen = svc.listen.into();
            o.payload = payload_file.map(Path::to_path_buf);
            (svc.knobs)(&mut o);
            let (guard, o) = mock::start_in(&s, &o, dir)?;
            fx._procs.push(guard);
            fx.mock_log = o.log;
        }
        if let Some(listen) = c.decoy {
            let decoy_dir = dir.join("decoy");
            std::fs::create_dir_all(&decoy_dir).map_err(|e| e.to_string())?;
            let mut o = mock::Options::new(mock::Platform::Aws);
            o.listen = listen.into();
            o.no_token_api = true;
            o.payload = payload_file.map(Path::to_path_buf);
            let (guard, o) = mock::start_in(&s, &o, &decoy_dir)?;
            fx._procs.push(guard);
            fx.decoy_log = o.log;
        }
        // Drops.
        if !c.drops.is_empty() {
            let mut rules = format!(
                "table inet {NFT_TABLE} {{\n chain input {{\n  type filter hook input priority 0; policy accept;\n"
            );
            // flint's frames through a counted rule of their own (nft 1.0.6 cannot reset rule
            // counters, and the self-check's probe must be dropped too, uncounted).
            for d in c.drops {
                rules += &format!("  ether saddr {} {} counter drop\n", fx.seg.client_mac, d.matches);
                rules += &format!("  {} drop\n", d.matches);
            }
            rules += " }\n}\n";
            let file = dir.join("drops.nft");
            std::fs::write(&file, rules).map_err(|e| e.to_string())?;
            let f = file.display().to_string();
            let o = run_in(&s, "nft", &["-f", &f], Duration::from_secs(10))?;
            if !o.status.success() {
                return Err(format!("nft -f {f}: {}", text(&o)));
            }
        }
        Ok(fx)
    }

    /// Starts the capture on the bridge (when the case asks for one).
    pub fn start_capture(&mut self, dir: &Path) -> Result<(), String> {
        let pcap = dir.join("link.pcap");
        let err = dir.join("tcpdump-stderr.txt");
        let stderr = std::fs::File::create(&err).map_err(|e| e.to_string())?;
        let mut cmd = Segment::exec(&self.seg.server, util::tool("tcpdump"));
        cmd.args(["-U", "--immediate-mode", "-n", "-s", "256", "-i", SEGMENT_IF, "-w"])
            .arg(&pcap)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(stderr);
        let mut guard = ChildGuard::spawn(&mut cmd, "tcpdump")?;
        let ok = proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
            guard.try_status().is_some() || std::fs::read_to_string(&err).is_ok_and(|t| t.contains("listening on"))
        });
        if !ok || guard.try_status().is_some() {
            return Err(format!("tcpdump did not start: {}", std::fs::read_to_string(&err).unwrap_or_default()));
        }
        self.capture = Some(guard);
        self.pcap = Some(pcap);
        Ok(())
    }

    /// Stops the capture (SIGKILL is fine: `-U` wrote every packet as it came) and returns the
    /// decoded text, one line per frame, with link-level headers and epoch timestamps.
    pub fn capture_text(&mut self) -> Option<String> {
        std::thread::sleep(Duration::from_millis(100));
        if let Some(mut g) = self.capture.take() {
            g.kill();
        }
        let pcap = self.pcap.as_ref()?;
        let mut cmd = Command::new(util::tool("tcpdump"));
        cmd.args(["-n", "-e", "-tt", "-v", "-r"]).arg(pcap);
        proc::run_capture(&mut cmd, Duration::from_secs(20))
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
    }

    /// `(rule, packets)` of every drop rule.
    pub fn drop_counters(&self) -> Vec<(String, u64)> {
        let Ok(o) = run_in(&self.seg.server, "nft", &["list", "table", "inet", NFT_TABLE], Duration::from_secs(10))
        else {
            return Vec::new();
        };
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .filter(|l| l.contains("counter packets"))
            .map(|l| {
                let n =
                    l.split("counter packets ").nth(1).and_then(|r| r.split(' ').next()).and_then(|n| n.parse().ok());
                (l.trim().to_string(), n.unwrap_or(0))
            })
            .collect()
    }

    /// The self-checks: every piece of the fixture works (or is broken) as the case says,
    /// seen from the probe with the kernel's own stack. Each problem starts with "fixture:".
    pub fn self_check(&self, c: &Case, dir: &Path) -> Vec<String> {
        let mut bad = Vec::new();
        let p = self.seg.probe.as_str();
        let t = Duration::from_secs(10);
        // The RA: flags, prefix, RDNSS and DNSSL.
        if c.v6.has_ra() {
            match run_in(p, "rdisc6", &["-1", "-w", "1500", CLIENT_IF], t) {
                Ok(o) => {
                    let ra = text(&o);
                    std::fs::write(dir.join("selfcheck-rdisc6.txt"), &ra).ok();
                    let flag = |name: &str| {
                        ra.lines()
                            .find(|l| l.trim_start().starts_with(name))
                            .is_some_and(|l| l.trim_end().ends_with("Yes"))
                    };
                    let (a, m, other) = (
                        flag("Autonomous address conf."),
                        flag("Stateful address conf."),
                        flag("Stateful other conf."),
                    );
                    let want = match c.v6 {
                        V6::Slaac => (true, false, false),
                        V6::Stateless => (true, false, true),
                        _ => (false, true, true),
                    };
                    if (a, m, other) != want {
                        bad.push(format!("fixture: RA flags (A, M, O) = {:?}, expected {want:?}", (a, m, other)));
                    }
                    if !ra.contains("Prefix                   : fd00::/64") {
                        bad.push("fixture: RA carries no fd00::/64 prefix".into());
                    }
                    if ra.contains("Router lifetime           :            0") {
                        bad.push("fixture: RA router lifetime 0 (not a default router)".into());
                    }
                    let announced = c.announce == Announce::Link && c.dns != Dns::None;
                    let rdnss = ra.contains("Recursive DNS server");
                    if announced {
                        let want_dns = if c.dns == Dns::Dnsmasq { DNS6 } else { DNS6_MOCK };
                        if !ra.lines().any(|l| l.contains("Recursive DNS server") && l.trim_end().ends_with(want_dns)) {
                            bad.push(format!("fixture: RA has no RDNSS {want_dns}"));
                        }
                        if !ra.lines().any(|l| l.contains("DNS search list") && l.contains(DOMAIN)) {
                            bad.push(format!("fixture: RA has no DNSSL {DOMAIN}"));
                        }
                    } else if rdnss {
                        bad.push("fixture: RA announces a DNS server the case wants unannounced".into());
                    }
                }
                Err(e) => bad.push(format!("fixture: rdisc6: {e}")),
            }
        }
        // DHCPv6: a lease from the pool (stateful), or DNS from an information-request.
        if matches!(c.v6, V6::Stateful | V6::Stateless) {
            let lf = dir.join("selfcheck-dhclient6.leases").display().to_string();
            let pf = dir.join("selfcheck-dhclient6.pid").display().to_string();
            let mode = if c.v6 == V6::Stateful { "-N" } else { "-S" };
            let r = run_in(
                p,
                "dhclient",
                &["-6", mode, "-1", "-v", "-lf", &lf, "-pf", &pf, "-sf", "/bin/true", CLIENT_IF],
                t,
            );
            let out = r.map(|o| text(&o)).unwrap_or_else(|e| e);
            std::fs::write(dir.join("selfcheck-dhclient6.txt"), &out).ok();
            let lease = std::fs::read_to_string(&lf).unwrap_or_default();
            // What dnsmasq sent (an information-request leaves no lease file).
            let sent = std::fs::read_to_string(dir.join("dnsmasq.log")).unwrap_or_default();
            if c.v6 == V6::Stateful && !lease.contains(&format!("iaaddr {PREFIX6}1")) {
                bad.push(format!("fixture: dhclient -6 got no address from the pool: {}", util::tail(&out, 5)));
            } else if c.announce == Announce::Link && c.dns != Dns::None && !sent.contains("option: 23 dns-server") {
                bad.push(format!("fixture: DHCPv6 gives no DNS server (option 23): {}", util::tail(&out, 5)));
            }
            // Release, so the pool stays as it was.
            let _ = run_in(p, "dhclient", &["-6", "-r", "-lf", &lf, "-pf", &pf, "-sf", "/bin/true", CLIENT_IF], t);
        }
        // DNS: every record, an NXDOMAIN, or the mode of the dns-mock.
        let dns_at = match c.dns {
            Dns::Dnsmasq if c.v6.has_ra() => Some(DNS6),
            Dns::Dnsmasq => Some(DNS4),
            Dns::Mock(_) if c.v6.has_ra() => Some(DNS6_MOCK),
            Dns::Mock(_) => Some(DNS4_MOCK),
            Dns::None => None,
        };
        if let Some(server) = dns_at {
            let at = format!("@{server}");
            let dig = |args: &[&str]| {
                let mut all = vec![at.as_str(), "+tries=1", "+time=1"];
                all.extend_from_slice(args);
                run_in(p, "dig", &all, t)
            };
            match c.dns {
                Dns::Mock(Mode::Silent) => match dig(&["AAAA", "metadata.example.internal"]) {
                    Ok(o) if !o.status.success() => {}
                    Ok(o) => bad.push(format!("fixture: the silent DNS server answered: {}", util::tail(&text(&o), 5))),
                    Err(e) => bad.push(format!("fixture: dig: {e}")),
                },
                Dns::Mock(Mode::Truncate) => {
                    let udp = dig(&["+notcp", "+ignore", "AAAA", "metadata.example.internal"]).map(|o| text(&o));
                    if !udp
                        .as_ref()
                        .is_ok_and(|t| t.contains("flags: qr tc") || t.contains(" tc ") || t.contains(" tc;"))
                    {
                        bad.push(format!(
                            "fixture: UDP answer not truncated: {}",
                            util::tail(&udp.unwrap_or_else(|e| e), 6)
                        ));
                    }
                    let tcp = dig(&["+tcp", "+short", "AAAA", "metadata.example.internal"]).map(|o| text(&o));
                    if !tcp.as_ref().is_ok_and(|t| t.trim() == META6) {
                        bad.push(format!("fixture: TCP answer is not {META6}: {tcp:?}"));
                    }
                }
                _ => {
                    for (name, addr) in c.records.iter() {
                        let qt = if addr.contains(':') { "AAAA" } else { "A" };
                        match dig(&["+short", qt, name]) {
                            Ok(o) if String::from_utf8_lossy(&o.stdout).lines().any(|l| l.trim() == *addr) => {}
                            Ok(o) => bad
                                .push(format!("fixture: dig {qt} {name} {at}: {:?}, expected {addr}", text(&o).trim())),
                            Err(e) => bad.push(format!("fixture: dig: {e}")),
                        }
                    }
                    match dig(&["AAAA", "nothere.example.internal"]) {
                        Ok(o) if text(&o).contains("status: NXDOMAIN") => {}
                        Ok(o) => bad.push(format!(
                            "fixture: nothere.example.internal is not NXDOMAIN: {}",
                            util::tail(&text(&o), 8)
                        )),
                        Err(e) => bad.push(format!("fixture: dig: {e}")),
                    }
                    let v4only = c.records.iter().any(|(n, _)| *n == "v4only.example.internal");
                    match dig(&["AAAA", "v4only.example.internal"]).map(|o| (o, v4only)) {
                        Ok((_, false)) => {}
                        Ok((o, _)) if text(&o).contains("status: NOERROR") && text(&o).contains("ANSWER: 0") => {}
                        Ok((o, _)) => bad.push(format!(
                            "fixture: v4only.example.internal AAAA is not an empty NOERROR: {}",
                            util::tail(&text(&o), 8)
                        )),
                        Err(e) => bad.push(format!("fixture: dig: {e}")),
                    }
                }
            }
        }
        // The services answer over the address flint must use (a probe request that the
        // checks leave out), unless a drop rule is meant to stop it; dropped paths time out.
        if let Some(svc) = c.service {
            for url in service_urls(c, svc.listen) {
                let dropped = c.drops.iter().any(|d| drop_covers(d.matches, &url));
                let mut args = vec!["-s", "-o", "/dev/null", "-w", "%{http_code}", "--connect-timeout", "1", "-g"];
                args.push(&url);
                match run_in(p, "curl", &args, t) {
                    Ok(o) if dropped => {
                        if o.status.code() != Some(28) {
                            bad.push(format!("fixture: {url} should be dropped, curl exit {:?}", o.status.code()));
                        }
                    }
                    Ok(o) => {
                        let code = String::from_utf8_lossy(&o.stdout).trim().to_string();
                        if !o.status.success() || code == "000" {
                            bad.push(format!(
                                "fixture: {url} does not answer (curl exit {:?}, {code})",
                                o.status.code()
                            ));
                        }
                    }
                    Err(e) => bad.push(format!("fixture: curl {url}: {e}")),
                }
            }
        }
        if self.drop_counters().iter().any(|(_, n)| *n > 0) {
            bad.push(format!("fixture: flint's drop counters moved before flint ran: {:?}", self.drop_counters()));
        }
        if c.dad_peer {
            let ll = eui64_link_local(&self.seg.client_mac).map(|a| a.to_string()).unwrap_or_default();
            let got = Segment::ip_in(p, &["-6", "addr", "show", "dev", CLIENT_IF]).unwrap_or_default();
            if !got
                .lines()
                .any(|l| l.contains(&format!("inet6 {ll}/64")) && !l.contains("tentative") && !l.contains("dadfailed"))
            {
                bad.push(format!("fixture: the probe does not hold {ll}: {got}"));
            }
        }
        bad
    }
}

/// The URLs (with the self-check path) at which the probe checks the case's service.
fn service_urls(c: &Case, listen: &str) -> Vec<String> {
    let port = listen.rsplit(':').next().unwrap_or("80");
    let mut hosts: Vec<String> = Vec::new();
    if listen.starts_with("[::]") || listen.starts_with("0.0.0.0") {
        if c.v4 == V4::Dhcp {
            hosts.extend([METADATA4.to_string(), META4.to_string()]);
        }
        if c.v6.has_ra() {
            hosts.extend([format!("[{META6}]"), format!("[{AWS6}]")]);
        }
        if c.v6 != V6::None && c.service.is_some_and(|s| s.platform == mock::Platform::OpenStack) {
            hosts.push(format!("[{OPENSTACK6}%25{CLIENT_IF}]"));
        }
    } else {
        hosts.push(listen.rsplit_once(':').map(|(h, _)| h.to_string()).unwrap_or_default());
    }
    hosts.into_iter().map(|h| format!("http://{h}:{port}{SELF_CHECK_PATH}")).collect()
}

/// Whether the drop rule `matches` (`ip6 daddr X …` / `ip daddr X …`) covers `url`'s host.
fn drop_covers(matches: &str, url: &str) -> bool {
    let host = url.trim_start_matches("http://").split('/').next().unwrap_or("");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h).trim_matches(|c| c == '[' || c == ']');
    matches.split_whitespace().collect::<Vec<_>>().windows(2).any(|w| w[0] == "daddr" && w[1] == host)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eui64_of_a_mac() {
        assert_eq!(eui64_link_local("02:f1:17:00:00:01").unwrap().to_string(), "fe80::f1:17ff:fe00:1");
        assert_eq!(eui64_link_local("52:54:00:12:34:56").unwrap().to_string(), "fe80::5054:ff:fe12:3456");
        assert!(eui64_link_local("nonsense").is_none());
    }

    #[test]
    fn drops_cover_their_hosts() {
        assert!(drop_covers("ip6 daddr fd00:ec2::254 tcp dport 80", "http://[fd00:ec2::254]:80/x"));
        assert!(!drop_covers("ip6 daddr fd00:ec2::254 tcp dport 80", "http://169.254.169.254:80/x"));
        assert!(drop_covers("ip daddr 169.254.169.254 tcp dport 80", "http://169.254.169.254:80/x"));
    }
}
