//! A deliberately misbehaving DHCPv4 server (`xtask dhcp-mock …`), for the fault scenarios
//! dnsmasq cannot play: a server that offers but never acknowledges, one that answers every
//! REQUEST with a NAK, one that answers everything 2 s late, two servers answering on one
//! link, a /32 lease with a router outside it.
//!
//! Message format from RFC 2131 §2 (fixed 236-byte header, magic cookie, options from
//! RFC 2132). It runs inside the server namespace on a plain UDP socket bound to
//! `0.0.0.0:67` and answers to the limited broadcast `255.255.255.255:68` (RFC 2131 §4.1
//! allows broadcasting every reply; the harness adds a host route for 255.255.255.255 so
//! the kernel has somewhere to send it). Every message in and out is logged as a JSON line,
//! and the process is bounded: it exits after `--max-seconds` and after `MAX_REPLIES`.

use std::io::Write;
use std::net::{Ipv4Addr, SocketAddrV4, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::proc::ChildGuard;
use crate::support::util;

pub const HELP: &str = "\
usage: xtask dhcp-mock [options]
  --ack MODE             ack (default) | never (OFFER only) | nak (every REQUEST is NAKed)
  --delay-ms N           send every reply N ms after the message it answers
  --servers N            1 (default) or 2: a second server (identifier 10.0.0.2) offers too
  --mask A.B.C.D         subnet mask option (default 255.255.255.0)
  --router A.B.C.D       router option (default 10.0.0.1)
  --mtu N                interface MTU option (26)
  --log FILE             JSON lines, one per message received or sent
  --ready FILE           created once the socket is bound
  --max-seconds N        exit after N seconds (default 120)
";

/// RFC 2131 §3: the client and server ports, and the magic cookie opening the options.
const SERVER_PORT: u16 = 67;
const CLIENT_PORT: u16 = 68;
const COOKIE: [u8; 4] = [99, 130, 83, 99];
/// Bound on what one run of the mock sends, whatever the client does.
const MAX_REPLIES: u32 = 200;

/// RFC 2132 §9.6 message types.
const DISCOVER: u8 = 1;
const OFFER: u8 = 2;
const REQUEST: u8 = 3;
const ACK: u8 = 5;
const NAK: u8 = 6;

/// The addresses each emulated server offers (both inside dnsmasq's pool, so the harness's
/// report checks hold for either), and their identifiers (option 54).
pub const SERVER_IDS: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 1), Ipv4Addr::new(10, 0, 0, 2)];
pub const OFFERED: [Ipv4Addr; 2] = [Ipv4Addr::new(10, 0, 0, 77), Ipv4Addr::new(10, 0, 0, 133)];

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AckMode {
    Ack,
    Never,
    Nak,
}

#[derive(Clone, Debug)]
pub struct Options {
    pub ack: AckMode,
    pub delay_ms: u64,
    pub servers: usize,
    pub mask: Ipv4Addr,
    pub router: Ipv4Addr,
    pub mtu: Option<u16>,
    pub log: Option<PathBuf>,
    pub ready: Option<PathBuf>,
    pub max_seconds: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            ack: AckMode::Ack,
            delay_ms: 0,
            servers: 1,
            mask: Ipv4Addr::new(255, 255, 255, 0),
            router: Ipv4Addr::new(10, 0, 0, 1),
            mtu: None,
            log: None,
            ready: None,
            max_seconds: 120,
        }
    }
}

impl Options {
    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--ack".to_string(),
            match self.ack {
                AckMode::Ack => "ack",
                AckMode::Never => "never",
                AckMode::Nak => "nak",
            }
            .to_string(),
            "--delay-ms".into(),
            self.delay_ms.to_string(),
            "--servers".into(),
            self.servers.to_string(),
            "--mask".into(),
            self.mask.to_string(),
            "--router".into(),
            self.router.to_string(),
            "--max-seconds".into(),
            self.max_seconds.to_string(),
        ];
        if let Some(m) = self.mtu {
            a.extend(["--mtu".into(), m.to_string()]);
        }
        for (flag, p) in [("--log", &self.log), ("--ready", &self.ready)] {
            if let Some(p) = p {
                a.extend([flag.to_string(), p.display().to_string()]);
            }
        }
        a
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = Options::default();
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            let bad = |v: &str| format!("{flag}: bad value `{v}`");
            match flag.as_str() {
                "--ack" => {
                    o.ack = match value()?.as_str() {
                        "ack" => AckMode::Ack,
                        "never" => AckMode::Never,
                        "nak" => AckMode::Nak,
                        v => return Err(bad(v)),
                    }
                }
                "--delay-ms" => o.delay_ms = value()?.parse().map_err(|_| bad("delay"))?,
                "--servers" => {
                    o.servers = value()?.parse().ok().filter(|n| (1..=2).contains(n)).ok_or_else(|| bad("servers"))?
                }
                "--mask" => o.mask = value()?.parse().map_err(|_| bad("mask"))?,
                "--router" => o.router = value()?.parse().map_err(|_| bad("router"))?,
                "--mtu" => o.mtu = Some(value()?.parse().map_err(|_| bad("mtu"))?),
                "--log" => o.log = Some(value()?.into()),
                "--ready" => o.ready = Some(value()?.into()),
                "--max-seconds" => o.max_seconds = value()?.parse().map_err(|_| bad("max-seconds"))?,
                "-h" | "--help" => return Err(HELP.into()),
                other => return Err(format!("dhcp-mock: unknown option `{other}`\n{HELP}")),
            }
        }
        Ok(o)
    }
}

/// One parsed client message (only what the server needs).
#[derive(Debug, Clone)]
struct Message {
    xid: u32,
    flags: u16,
    ciaddr: Ipv4Addr,
    chaddr: [u8; 16],
    kind: u8,
    requested: Option<Ipv4Addr>,
    server_id: Option<Ipv4Addr>,
}

fn ip_at(b: &[u8], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(b[at], b[at + 1], b[at + 2], b[at + 3])
}

/// Parses a BOOTREQUEST; `None` for anything that is not a well-formed DHCP client message.
fn parse(b: &[u8]) -> Option<Message> {
    // op = BOOTREQUEST, htype = Ethernet, hlen = 6 (RFC 2131 §2, RFC 1700).
    if b.len() < 240 || b[0] != 1 || b[1] != 1 || b[2] != 6 || b[236..240] != COOKIE {
        return None;
    }
    let mut m = Message {
        xid: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        flags: u16::from_be_bytes([b[10], b[11]]),
        ciaddr: ip_at(b, 12),
        chaddr: b[28..44].try_into().ok()?,
        kind: 0,
        requested: None,
        server_id: None,
    };
    let mut i = 240;
    while i < b.len() {
        match b[i] {
            0 => i += 1,
            255 => break,
            code => {
                // A truncated last option ends the list; what came before still counts.
                let Some(&len) = b.get(i + 1) else { break };
                let Some(v) = b.get(i + 2..i + 2 + len as usize) else { break };
                let len = len as usize;
                match (code, len) {
                    (53, 1) => m.kind = v[0],
                    (50, 4) => m.requested = Some(ip_at(v, 0)),
                    (54, 4) => m.server_id = Some(ip_at(v, 0)),
                    _ => {}
                }
                i += 2 + len;
            }
        }
    }
    (m.kind != 0).then_some(m)
}

/// Builds a BOOTREPLY answering `req` (RFC 2131 §4.3.1 table 3 for the fields a server sets).
fn reply(req: &Message, kind: u8, yiaddr: Ipv4Addr, server: Ipv4Addr, o: &Options) -> Vec<u8> {
    let mut b = vec![0u8; 240];
    b[0] = 2; // BOOTREPLY
    b[1] = 1;
    b[2] = 6;
    b[4..8].copy_from_slice(&req.xid.to_be_bytes());
    b[10..12].copy_from_slice(&req.flags.to_be_bytes());
    b[16..20].copy_from_slice(&yiaddr.octets());
    b[28..44].copy_from_slice(&req.chaddr);
    b[236..240].copy_from_slice(&COOKIE);
    let mut opt = |code: u8, v: &[u8]| {
        b.push(code);
        b.push(v.len() as u8);
        b.extend_from_slice(v);
    };
    opt(53, &[kind]);
    opt(54, &server.octets());
    if kind != NAK {
        opt(51, &3600u32.to_be_bytes());
        opt(1, &o.mask.octets());
        opt(3, &o.router.octets());
        if let Some(mtu) = o.mtu {
            opt(26, &mtu.to_be_bytes());
        }
    }
    b.push(255);
    // BOOTP's minimum message size (RFC 1542 §3.2.1): some clients drop shorter replies.
    b.resize(b.len().max(300), 0);
    b
}

fn kind_name(k: u8) -> &'static str {
    match k {
        1 => "DISCOVER",
        2 => "OFFER",
        3 => "REQUEST",
        4 => "DECLINE",
        5 => "ACK",
        6 => "NAK",
        7 => "RELEASE",
        8 => "INFORM",
        _ => "?",
    }
}

fn mac(chaddr: &[u8; 16]) -> String {
    chaddr[..6].iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

struct Log {
    started: Instant,
    file: Option<std::fs::File>,
}

impl Log {
    fn line(&mut self, dir: &str, kind: u8, m: &Message, yiaddr: Option<Ipv4Addr>, server: Option<Ipv4Addr>) {
        let v = serde_json::json!({
            "t_ms": self.started.elapsed().as_millis() as u64,
            "dir": dir,
            "type": kind_name(kind),
            "xid": format!("{:08x}", m.xid),
            "mac": mac(&m.chaddr),
            "yiaddr": yiaddr.map(|a| a.to_string()),
            "server": server.map(|a| a.to_string()),
            "requested": m.requested.map(|a| a.to_string()),
        });
        if let Some(f) = self.file.as_mut() {
            let _ = writeln!(f, "{v}");
        }
    }
}

/// `xtask dhcp-mock …`: serves until `--max-seconds`.
pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{HELP}");
        return Ok(());
    }
    let o = Arc::new(Options::parse(args)?);
    let sock = UdpSocket::bind(SocketAddrV4::new(Ipv4Addr::UNSPECIFIED, SERVER_PORT))
        .map_err(|e| format!("dhcp-mock: bind :{SERVER_PORT}: {e}"))?;
    sock.set_broadcast(true).map_err(|e| e.to_string())?;
    let file = match &o.log {
        Some(p) => Some(
            std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(p)
                .map_err(|e| format!("{}: {e}", p.display()))?,
        ),
        None => None,
    };
    let log = Arc::new(Mutex::new(Log { started: Instant::now(), file }));
    if let Some(r) = &o.ready {
        std::fs::File::create(r).map_err(|e| format!("{}: {e}", r.display()))?;
    }
    let end = Instant::now() + Duration::from_secs(o.max_seconds);
    let mut replies = 0u32;
    let mut buf = [0u8; 1500];
    while Instant::now() < end && replies < MAX_REPLIES {
        sock.set_read_timeout(Some((end - Instant::now()).max(Duration::from_millis(1)))).map_err(|e| e.to_string())?;
        let Ok((n, _)) = sock.recv_from(&mut buf) else { continue };
        let Some(m) = parse(&buf[..n]) else { continue };
        let mut lg = log.lock().unwrap_or_else(|e| e.into_inner());
        lg.line("in", m.kind, &m, None, m.server_id);
        // What each emulated server sends back: (type, yiaddr, server id).
        let mut out: Vec<(u8, Ipv4Addr, Ipv4Addr)> = Vec::new();
        match m.kind {
            DISCOVER => {
                for s in 0..o.servers {
                    out.push((OFFER, OFFERED[s], SERVER_IDS[s]));
                }
            }
            REQUEST => {
                // SELECTING carries the chosen server's identifier (RFC 2131 §4.3.2); the
                // other servers take the REQUEST as a decline of their offer and stay silent.
                let s = match m.server_id {
                    Some(id) => SERVER_IDS[..o.servers].iter().position(|&x| x == id),
                    None => Some(0),
                };
                if let Some(s) = s {
                    let asked = m.requested.unwrap_or(m.ciaddr);
                    match o.ack {
                        AckMode::Never => {}
                        AckMode::Nak => out.push((NAK, Ipv4Addr::UNSPECIFIED, SERVER_IDS[s])),
                        // A request for anything but what this server offered is NAKed (§4.3.2).
                        AckMode::Ack if asked == OFFERED[s] => out.push((ACK, OFFERED[s], SERVER_IDS[s])),
                        AckMode::Ack => out.push((NAK, Ipv4Addr::UNSPECIFIED, SERVER_IDS[s])),
                    }
                }
            }
            _ => {}
        }
        drop(lg);
        for (kind, yiaddr, server) in out {
            replies += 1;
            let bytes = reply(&m, kind, yiaddr, server, &o);
            let sock = sock.try_clone().map_err(|e| e.to_string())?;
            let (log, m, delay) = (Arc::clone(&log), m.clone(), Duration::from_millis(o.delay_ms));
            // A delayed reply must not hold up the next message: one short-lived thread each,
            // at most MAX_REPLIES of them.
            std::thread::spawn(move || {
                std::thread::sleep(delay);
                let to = SocketAddrV4::new(Ipv4Addr::BROADCAST, CLIENT_PORT);
                if sock.send_to(&bytes, to).is_ok() {
                    let mut lg = log.lock().unwrap_or_else(|e| e.into_inner());
                    lg.line("out", kind, &m, Some(yiaddr), Some(server));
                }
            });
        }
    }
    // Let delayed replies still in flight go out before the process ends.
    std::thread::sleep(Duration::from_millis(o.delay_ms.min(10_000)));
    Ok(())
}

// --- harness side ----------------------------------------------------------------------

/// One line of the mock's log.
#[derive(Debug, Clone)]
pub struct Event {
    pub t_ms: u64,
    /// "in" (from the client) or "out".
    pub dir: String,
    pub kind: String,
    pub yiaddr: Option<String>,
    pub server: Option<String>,
}

pub fn read_log(path: &Path) -> Vec<Event> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| Event {
            t_ms: v["t_ms"].as_u64().unwrap_or(0),
            dir: v["dir"].as_str().unwrap_or("").into(),
            kind: v["type"].as_str().unwrap_or("").into(),
            yiaddr: v["yiaddr"].as_str().map(String::from),
            server: v["server"].as_str().map(String::from),
        })
        .collect()
}

/// Starts `xtask dhcp-mock` in `netns` (log `dhcp-mock.jsonl` in `dir`), after giving `iface`
/// the route for the limited broadcast, and waits (≤ 5 s) until its socket is bound.
pub fn start_in(netns: &str, iface: &str, o: &Options, dir: &Path) -> Result<ChildGuard, String> {
    let mut o = o.clone();
    o.log = Some(dir.join("dhcp-mock.jsonl"));
    let ready = dir.join("dhcp-mock-ready");
    o.ready = Some(ready.clone());
    let ip = util::tool("ip");
    // The route may already exist (a second start in the same namespace): then it is fine.
    let _ = crate::support::proc::run_capture(
        Command::new(&ip).args(["-n", netns, "route", "add", "255.255.255.255/32", "dev", iface]),
        Duration::from_secs(10),
    );
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let err_path = dir.join("dhcp-mock-stderr.txt");
    let stderr = std::fs::File::create(&err_path).map_err(|e| format!("{}: {e}", err_path.display()))?;
    let mut cmd = Command::new(ip);
    cmd.args(["netns", "exec", netns]).arg(exe).arg("dhcp-mock").args(o.to_args());
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(stderr);
    let mut child = ChildGuard::spawn(&mut cmd, "dhcp-mock")?;
    let ok = crate::support::proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        ready.exists() || child.try_status().is_some()
    });
    if !ok || !ready.exists() {
        return Err(format!("dhcp-mock did not start: {}", std::fs::read_to_string(&err_path).unwrap_or_default()));
    }
    Ok(child)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn discover() -> Vec<u8> {
        let mut b = vec![0u8; 240];
        b[0] = 1;
        b[1] = 1;
        b[2] = 6;
        b[4..8].copy_from_slice(&0x1234_5678u32.to_be_bytes());
        b[28..34].copy_from_slice(&[2, 0xf1, 0x17, 0, 0, 1]);
        b[236..240].copy_from_slice(&COOKIE);
        b.extend_from_slice(&[53, 1, DISCOVER, 0, 50, 4, 10, 0, 0, 9, 255]);
        b
    }

    #[test]
    fn parses_a_discover_with_padding() {
        let m = parse(&discover()).unwrap();
        assert_eq!((m.xid, m.kind, m.requested), (0x1234_5678, DISCOVER, Some(Ipv4Addr::new(10, 0, 0, 9))));
        assert_eq!(mac(&m.chaddr), "02:f1:17:00:00:01");
        let mut truncated = discover();
        truncated.truncate(245); // option 50 cut short
        assert!(parse(&truncated).is_some_and(|m| m.requested.is_none()));
        let mut not_request = discover();
        not_request[0] = 2;
        assert!(parse(&not_request).is_none());
    }

    #[test]
    fn offer_carries_the_options_asked_for() {
        let m = parse(&discover()).unwrap();
        let o = Options { mtu: Some(1280), mask: Ipv4Addr::BROADCAST, ..Options::default() };
        let r = reply(&m, OFFER, OFFERED[0], SERVER_IDS[0], &o);
        assert!(r.len() >= 300);
        assert_eq!(r[0], 2);
        assert_eq!(&r[4..8], &0x1234_5678u32.to_be_bytes());
        assert_eq!(ip_at(&r, 16), OFFERED[0]);
        let opts = &r[240..];
        assert!(opts.windows(3).any(|w| w == [53, 1, OFFER]));
        assert!(opts.windows(4).any(|w| w == [26, 2, 0x05, 0x00]));
        assert!(opts.windows(6).any(|w| w == [1, 4, 255, 255, 255, 255]));
        let nak = reply(&m, NAK, Ipv4Addr::UNSPECIFIED, SERVER_IDS[0], &o);
        assert!(!nak[240..].windows(2).any(|w| w == [3, 4]), "a NAK carries no lease options");
    }
}
