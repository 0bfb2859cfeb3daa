//! A small DNS server of the dual-stack suite's own (`xtask dns-mock …`, issue #11): the
//! behaviours dnsmasq will not produce on demand. UDP and TCP on one address (port 53 unless
//! told otherwise), answering from a fixed table of A, AAAA and CNAME records, in one of three
//! modes:
//!
//! - `answer`: a plain authoritative server (NXDOMAIN for a name it does not hold, NOERROR
//!   with no answer for a name that has other types, CNAME chains followed in one answer);
//! - `truncate`: every UDP answer is the header and question with TC=1 and nothing else, as a
//!   server answers when the records do not fit in 512 bytes; over TCP the full answer
//!   (RFC 1035 §4.2.2 framing), so a stub that retries over TCP on TC resolves;
//! - `silent`: every UDP query is read and dropped, TCP connections are accepted and never
//!   answered: a DNS server that is there and never answers.
//!
//! Every query is logged as a JSON line (`transport`, `qname`, `qtype`, `rcode`, `tc`,
//! `answers`), so a case can tell that flint asked, what, and over which transport.
//! Written from RFC 1035 (§4.1 message format, §4.2 transports) and RFC 3596 (AAAA).

use std::fs::File;
use std::io::{Read, Write};
use std::net::{IpAddr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::proc::{self, ChildGuard};
use crate::support::util;

pub const DNS_HELP: &str = "\
usage: xtask dns-mock --listen IP [options]
  --listen IP            address to serve on (UDP and TCP)
  --port N               port (default 53)
  --mode M               answer (default) | truncate (UDP: TC=1 and no records; TCP: the answer)
                         | silent (UDP read and dropped; TCP accepted, never answered)
  --record NAME,TYPE,V   a record: TYPE A, AAAA or CNAME (repeatable)
  --log FILE             JSON lines, one per query
  --ready FILE           created once both sockets are bound
  --max-seconds N        exit after N seconds (default 600)
";

pub const TYPE_A: u16 = 1;
pub const TYPE_CNAME: u16 = 5;
pub const TYPE_AAAA: u16 = 28;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    Answer,
    Truncate,
    Silent,
}

impl Mode {
    fn as_str(self) -> &'static str {
        match self {
            Mode::Answer => "answer",
            Mode::Truncate => "truncate",
            Mode::Silent => "silent",
        }
    }
}

/// One record of the table.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rdata {
    A(std::net::Ipv4Addr),
    Aaaa(std::net::Ipv6Addr),
    Cname(String),
}

impl Rdata {
    fn rtype(&self) -> u16 {
        match self {
            Rdata::A(_) => TYPE_A,
            Rdata::Aaaa(_) => TYPE_AAAA,
            Rdata::Cname(_) => TYPE_CNAME,
        }
    }
}

#[derive(Clone, Debug)]
pub struct DnsOptions {
    pub listen: IpAddr,
    pub port: u16,
    pub mode: Mode,
    pub records: Vec<(String, Rdata)>,
    pub log: Option<PathBuf>,
    pub ready: Option<PathBuf>,
    pub max_seconds: u64,
}

impl DnsOptions {
    pub fn new(listen: IpAddr, mode: Mode) -> Self {
        DnsOptions { listen, port: 53, mode, records: Vec::new(), log: None, ready: None, max_seconds: 600 }
    }

    /// Adds a record (`value`: an address for A/AAAA, a name for CNAME).
    pub fn record(mut self, name: &str, rtype: &str, value: &str) -> Self {
        if let Ok(r) = parse_record(&format!("{name},{rtype},{value}")) {
            self.records.push(r);
        }
        self
    }

    pub fn to_args(&self) -> Vec<String> {
        let mut a = vec![
            "--listen".to_string(),
            self.listen.to_string(),
            "--port".into(),
            self.port.to_string(),
            "--mode".into(),
            self.mode.as_str().into(),
            "--max-seconds".into(),
            self.max_seconds.to_string(),
        ];
        for (name, r) in &self.records {
            let (t, v) = match r {
                Rdata::A(ip) => ("A", ip.to_string()),
                Rdata::Aaaa(ip) => ("AAAA", ip.to_string()),
                Rdata::Cname(n) => ("CNAME", n.clone()),
            };
            a.extend(["--record".into(), format!("{name},{t},{v}")]);
        }
        for (flag, p) in [("--log", &self.log), ("--ready", &self.ready)] {
            if let Some(p) = p {
                a.extend([flag.into(), p.display().to_string()]);
            }
        }
        a
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut o = DnsOptions::new(IpAddr::from([127, 0, 0, 1]), Mode::Answer);
        let mut listen = None;
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            match flag.as_str() {
                "--listen" => listen = Some(value()?.parse().map_err(|_| format!("{flag}: bad address"))?),
                "--port" => o.port = value()?.parse().map_err(|_| format!("{flag}: bad number"))?,
                "--mode" => {
                    o.mode = match value()?.as_str() {
                        "answer" => Mode::Answer,
                        "truncate" => Mode::Truncate,
                        "silent" => Mode::Silent,
                        m => return Err(format!("dns-mock: unknown mode `{m}`")),
                    }
                }
                "--record" => o.records.push(parse_record(&value()?)?),
                "--log" => o.log = Some(value()?.into()),
                "--ready" => o.ready = Some(value()?.into()),
                "--max-seconds" => o.max_seconds = value()?.parse().map_err(|_| format!("{flag}: bad number"))?,
                other => return Err(format!("dns-mock: unknown option `{other}`\n{DNS_HELP}")),
            }
        }
        o.listen = listen.ok_or_else(|| format!("dns-mock: --listen is required\n{DNS_HELP}"))?;
        Ok(o)
    }
}

fn parse_record(spec: &str) -> Result<(String, Rdata), String> {
    let mut parts = spec.splitn(3, ',');
    let (Some(name), Some(t), Some(v)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(format!("dns-mock: --record NAME,TYPE,VALUE, got `{spec}`"));
    };
    let bad = || format!("dns-mock: bad record `{spec}`");
    let r = match t.to_ascii_uppercase().as_str() {
        "A" => Rdata::A(v.parse().map_err(|_| bad())?),
        "AAAA" => Rdata::Aaaa(v.parse().map_err(|_| bad())?),
        "CNAME" => Rdata::Cname(canonical(v)),
        _ => return Err(bad()),
    };
    Ok((canonical(name), r))
}

/// Lower case, no trailing dot.
fn canonical(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// A parsed query: id, flags, the question's name (canonical) and type, and the question's
/// bytes as sent (copied into the answer).
#[derive(Debug, PartialEq, Eq)]
pub struct Query {
    pub id: u16,
    pub flags: u16,
    pub qname: String,
    pub qtype: u16,
    question: Vec<u8>,
}

/// RFC 1035 §4.1: a header and exactly one question with uncompressed labels.
pub fn parse_query(msg: &[u8]) -> Option<Query> {
    if msg.len() < 12 {
        return None;
    }
    let id = u16::from_be_bytes([msg[0], msg[1]]);
    let flags = u16::from_be_bytes([msg[2], msg[3]]);
    let qdcount = u16::from_be_bytes([msg[4], msg[5]]);
    if flags & 0x8000 != 0 || qdcount != 1 {
        return None;
    }
    let mut i = 12;
    let mut labels = Vec::new();
    loop {
        let len = *msg.get(i)? as usize;
        i += 1;
        if len == 0 {
            break;
        }
        if len > 63 {
            return None;
        }
        labels.push(String::from_utf8_lossy(msg.get(i..i + len)?).to_ascii_lowercase());
        i += len;
    }
    let qtype = u16::from_be_bytes([*msg.get(i)?, *msg.get(i + 1)?]);
    msg.get(i + 2..i + 4)?;
    Some(Query { id, flags, qname: labels.join("."), qtype, question: msg[12..i + 4].to_vec() })
}

fn encode_name(name: &str, out: &mut Vec<u8>) {
    for label in name.split('.').filter(|l| !l.is_empty()) {
        out.push(label.len().min(63) as u8);
        out.extend_from_slice(&label.as_bytes()[..label.len().min(63)]);
    }
    out.push(0);
}

/// The answer to `q` from `records`: (message, rcode, number of answers). `truncated`: the
/// header and question only, TC set.
pub fn answer(q: &Query, records: &[(String, Rdata)], truncated: bool) -> (Vec<u8>, u8, usize) {
    // Follow CNAMEs (bounded), collecting the chain and the final records of the type asked.
    let mut chain: Vec<(String, Rdata)> = Vec::new();
    let mut name = q.qname.clone();
    let mut known = false;
    for _ in 0..8 {
        let here: Vec<&Rdata> = records.iter().filter(|(n, _)| *n == name).map(|(_, r)| r).collect();
        known |= !here.is_empty();
        if let Some(Rdata::Cname(target)) = here.iter().find(|r| matches!(r, Rdata::Cname(_))).copied()
            && q.qtype != TYPE_CNAME
        {
            chain.push((name.clone(), Rdata::Cname(target.clone())));
            name = target.clone();
            continue;
        }
        chain.extend(here.into_iter().filter(|r| r.rtype() == q.qtype).map(|r| (name.clone(), r.clone())));
        break;
    }
    let rcode: u8 = if known { 0 } else { 3 };
    let answers = if truncated { Vec::new() } else { chain };
    // QR, opcode and RD from the query, AA, RA; TC when truncated.
    let mut flags: u16 = 0x8000 | (q.flags & 0x7900) | 0x0400 | 0x0080 | u16::from(rcode);
    if truncated {
        flags |= 0x0200;
    }
    let mut m = Vec::with_capacity(512);
    m.extend_from_slice(&q.id.to_be_bytes());
    m.extend_from_slice(&flags.to_be_bytes());
    m.extend_from_slice(&1u16.to_be_bytes());
    m.extend_from_slice(&(answers.len() as u16).to_be_bytes());
    m.extend_from_slice(&[0, 0, 0, 0]);
    m.extend_from_slice(&q.question);
    for (owner, r) in &answers {
        if *owner == q.qname {
            m.extend_from_slice(&[0xc0, 12]);
        } else {
            encode_name(owner, &mut m);
        }
        m.extend_from_slice(&r.rtype().to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m.extend_from_slice(&60u32.to_be_bytes());
        let mut rdata = Vec::new();
        match r {
            Rdata::A(ip) => rdata.extend_from_slice(&ip.octets()),
            Rdata::Aaaa(ip) => rdata.extend_from_slice(&ip.octets()),
            Rdata::Cname(n) => encode_name(n, &mut rdata),
        }
        m.extend_from_slice(&(rdata.len() as u16).to_be_bytes());
        m.extend_from_slice(&rdata);
    }
    (m, rcode, answers.len())
}

struct Shared {
    opts: DnsOptions,
    log: Mutex<Option<File>>,
    started: Instant,
}

impl Shared {
    fn log(&self, transport: &str, q: &Query, rcode: Option<u8>, tc: bool, answers: usize) {
        let entry = json!({
            "t_ms": self.started.elapsed().as_millis() as u64,
            "transport": transport,
            "qname": q.qname,
            "qtype": q.qtype,
            "rcode": rcode,
            "tc": tc,
            "answers": answers,
        });
        if let Some(f) = self.log.lock().unwrap_or_else(|e| e.into_inner()).as_mut() {
            let _ = writeln!(f, "{entry}");
        }
    }
}

/// `xtask dns-mock …`: serves until killed (or `--max-seconds`).
pub fn main(args: &[String]) -> Result<(), String> {
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{DNS_HELP}");
        return Ok(());
    }
    let opts = DnsOptions::parse(args)?;
    let addr = SocketAddr::new(opts.listen, opts.port);
    let udp = UdpSocket::bind(addr).map_err(|e| format!("dns-mock: bind udp {addr}: {e}"))?;
    let tcp = TcpListener::bind(addr).map_err(|e| format!("dns-mock: bind tcp {addr}: {e}"))?;
    let log = match &opts.log {
        Some(p) => Some(File::create(p).map_err(|e| format!("dns-mock: {}: {e}", p.display()))?),
        None => None,
    };
    if let Some(ready) = &opts.ready {
        File::create(ready).map_err(|e| format!("dns-mock: {}: {e}", ready.display()))?;
    }
    let max = Duration::from_secs(opts.max_seconds);
    std::thread::spawn(move || {
        std::thread::sleep(max);
        std::process::exit(0);
    });
    let shared = Arc::new(Shared { opts, log: Mutex::new(log), started: Instant::now() });
    let s = Arc::clone(&shared);
    std::thread::spawn(move || serve_tcp(tcp, s));
    let mut buf = [0u8; 4096];
    loop {
        let Ok((n, peer)) = udp.recv_from(&mut buf) else { continue };
        let Some(q) = parse_query(&buf[..n]) else { continue };
        match shared.opts.mode {
            Mode::Silent => shared.log("udp", &q, None, false, 0),
            mode => {
                let (m, rcode, answers) = answer(&q, &shared.opts.records, mode == Mode::Truncate);
                shared.log("udp", &q, Some(rcode), mode == Mode::Truncate, answers);
                let _ = udp.send_to(&m, peer);
            }
        }
    }
}

fn serve_tcp(listener: TcpListener, shared: Arc<Shared>) {
    for stream in listener.incoming() {
        let Ok(stream) = stream else {
            std::thread::sleep(Duration::from_millis(10));
            continue;
        };
        let s = Arc::clone(&shared);
        std::thread::spawn(move || tcp_connection(stream, &s));
    }
}

fn tcp_connection(mut stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(15)));
    loop {
        let mut len = [0u8; 2];
        if stream.read_exact(&mut len).is_err() {
            return;
        }
        let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if stream.read_exact(&mut msg).is_err() {
            return;
        }
        let Some(q) = parse_query(&msg) else { return };
        if shared.opts.mode == Mode::Silent {
            shared.log("tcp", &q, None, false, 0);
            continue;
        }
        let (m, rcode, answers) = answer(&q, &shared.opts.records, false);
        shared.log("tcp", &q, Some(rcode), false, answers);
        let mut framed = (m.len() as u16).to_be_bytes().to_vec();
        framed.extend_from_slice(&m);
        if stream.write_all(&framed).is_err() {
            return;
        }
    }
}

// --- harness side ----------------------------------------------------------------------

/// One logged query.
#[derive(Clone, Debug)]
pub struct DnsLogEntry {
    pub transport: String,
    pub qname: String,
    pub qtype: u16,
    pub tc: bool,
}

pub fn read_dns_log(path: &Path) -> Vec<DnsLogEntry> {
    std::fs::read_to_string(path)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .map(|v| DnsLogEntry {
            transport: v["transport"].as_str().unwrap_or("").into(),
            qname: v["qname"].as_str().unwrap_or("").into(),
            qtype: v["qtype"].as_u64().unwrap_or(0) as u16,
            tc: v["tc"].as_bool().unwrap_or(false),
        })
        .collect()
}

/// Starts `xtask dns-mock` in `netns` with its log (`<dir>/<name>.jsonl`) and stderr in `dir`;
/// waits (≤ 5 s) until both sockets are bound. Returns the guard and the log's path.
pub fn start_dns_in(netns: &str, opts: &DnsOptions, dir: &Path, name: &str) -> Result<(ChildGuard, PathBuf), String> {
    let mut opts = opts.clone();
    let log = dir.join(format!("{name}.jsonl"));
    opts.log = Some(log.clone());
    let ready = dir.join(format!("{name}-ready"));
    let _ = std::fs::remove_file(&ready);
    opts.ready = Some(ready.clone());
    let exe = std::env::current_exe().map_err(|e| format!("current_exe: {e}"))?;
    let stderr_path = dir.join(format!("{name}-stderr.txt"));
    let stderr = File::create(&stderr_path).map_err(|e| format!("{}: {e}", stderr_path.display()))?;
    let mut cmd = Command::new(util::tool("ip"));
    cmd.args(["netns", "exec", netns])
        .arg(exe)
        .arg("dns-mock")
        .args(opts.to_args())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(stderr);
    let mut child = ChildGuard::spawn(&mut cmd, "dns-mock")?;
    let ok = proc::wait_until(Duration::from_secs(5), Duration::from_millis(5), || {
        ready.exists() || child.try_status().is_some()
    });
    if !ok || !ready.exists() {
        let err = std::fs::read_to_string(&stderr_path).unwrap_or_default();
        return Err(format!("dns-mock did not start: {}", err.trim()));
    }
    Ok((child, log))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(name: &str, qtype: u16) -> Vec<u8> {
        let mut m = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
        encode_name(name, &mut m);
        m.extend_from_slice(&qtype.to_be_bytes());
        m.extend_from_slice(&1u16.to_be_bytes());
        m
    }

    fn table() -> Vec<(String, Rdata)> {
        let o = DnsOptions::new(IpAddr::from([127, 0, 0, 1]), Mode::Answer)
            .record("metadata.example.internal", "AAAA", "fd00::80")
            .record("alias.example.internal", "CNAME", "metadata.example.internal")
            .record("v4.example.internal", "A", "10.0.0.80");
        o.records
    }

    #[test]
    fn answers_nxdomain_nodata_and_cname_chains() {
        let q = parse_query(&query("Metadata.Example.Internal", TYPE_AAAA)).unwrap();
        assert_eq!(q.qname, "metadata.example.internal");
        let (m, rcode, n) = answer(&q, &table(), false);
        assert_eq!((rcode, n), (0, 1));
        assert_eq!(&m[m.len() - 16..], &"fd00::80".parse::<std::net::Ipv6Addr>().unwrap().octets());
        assert_eq!(m[2] & 0x81, 0x81, "QR and RD");
        let (_, rcode, n) = answer(&parse_query(&query("v4.example.internal", TYPE_AAAA)).unwrap(), &table(), false);
        assert_eq!((rcode, n), (0, 0), "NODATA");
        let (_, rcode, _) = answer(&parse_query(&query("nothere.example.internal", TYPE_A)).unwrap(), &table(), false);
        assert_eq!(rcode, 3, "NXDOMAIN");
        let (_, rcode, n) = answer(&parse_query(&query("alias.example.internal", TYPE_AAAA)).unwrap(), &table(), false);
        assert_eq!((rcode, n), (0, 2), "the CNAME and the AAAA");
        let (m, _, n) = answer(&q, &table(), true);
        assert_eq!((n, m[2] & 0x02), (0, 0x02), "TC set, no records");
    }

    #[test]
    fn options_round_trip() {
        let o = DnsOptions::new("fd00::54".parse().unwrap(), Mode::Truncate).record("a.b", "AAAA", "fd00::1");
        let back = DnsOptions::parse(&o.to_args()).unwrap();
        assert_eq!((back.listen, back.mode, back.records), (o.listen, o.mode, o.records));
    }
}
