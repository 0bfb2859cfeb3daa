//! Fault behaviours of the mock (`--fault SPEC [--fault-times N]`), for the HTTP half of the
//! fault matrix (docs/faults-http.md).
//!
//! Two hooks in `server.rs` call in here:
//! - [`answer`], inside `Server::handle` before the request is logged, replaces the answer the
//!   platform would give (a 403 token endpoint, a token carrying CR LF, a redirect, a status
//!   for every user-data GET, an Akamai body that is not base64). The log shows what was sent.
//! - [`take_over`], in the connection loop after the answer is decided, writes a user-data
//!   answer with broken framing instead (cut by a RST or a FIN, bad chunked framing, a bad
//!   status line, a 64 KiB head, an absurd `Content-Length`, a byte per second, endless `100
//!   Continue`) and ends the connection itself. The log still shows the 200 that was meant.
//!
//! A fault applies to the first `--fault-times` matching requests (0 = every one), so "fails
//! once, then works" and "always fails" are the same fault.
//!
//! This file is a child module of `server` (declared there with `#[path]`), so it reaches the
//! server's private request, response and state types without widening their visibility.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::{Request, Response, Server, State, reason};

/// One fault; `spec()` and `parse()` are the `--fault` syntax (`name` or `name=value`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Fault {
    /// Token PUT answers this status (e.g. 403: IMDS disabled).
    TokenStatus(u16),
    /// Token body `<token>\r\nX-Flint-Injected: 1`: a header injection attempt.
    TokenCrlf,
    /// Token body `<token>\nX-Flint-Injected: 1` (bare LF).
    TokenLf,
    /// Every matching user-data GET answers this status, whatever the token (401: stale forever).
    UserDataStatus(u16),
    /// User-data GET answers `307` with `Location: <url>` (another host).
    Redirect(String),
    /// Akamai: the payload file is served as-is instead of base64-encoded (invalid base64).
    Verbatim,
    /// Head with the full `Content-Length`, half the body, then an abortive close (RST).
    ResetMidBody,
    /// Head with the full `Content-Length`, half the body, then FIN.
    FinMidBody,
    /// Chunked body whose first chunk-size line is this text (not hex, too many digits).
    ChunkSize(String),
    /// Chunked body whose first chunk's data is not followed by CRLF.
    ChunkNoCrlf,
    /// Chunked body complete up to the last-chunk `0\r\n`, then FIN: no final CRLF.
    ChunkNoEnd,
    /// This status line instead of `HTTP/1.1 200 OK`.
    StatusLine(String),
    /// A 64 KiB header field before `Content-Length`.
    HugeHead,
    /// `Content-Length: 1073741824`, a little of the body, then the connection is held open.
    HugeLength,
    /// Head with `Content-Length`, then one body byte per second.
    Drip,
    /// `HTTP/1.1 100 Continue` interim responses, one every 10 ms, and never a final one.
    Endless100,
}

/// Bound on how long any fault keeps a connection busy (drip, endless 100, held open).
const FAULT_MAX: Duration = Duration::from_secs(40);
const INJECTED: &str = "X-Flint-Injected: 1";

impl Fault {
    pub fn spec(&self) -> String {
        match self {
            Fault::TokenStatus(s) => format!("token-status={s}"),
            Fault::TokenCrlf => "token-crlf".into(),
            Fault::TokenLf => "token-lf".into(),
            Fault::UserDataStatus(s) => format!("user-data-status={s}"),
            Fault::Redirect(url) => format!("redirect={url}"),
            Fault::Verbatim => "verbatim".into(),
            Fault::ResetMidBody => "reset-mid-body".into(),
            Fault::FinMidBody => "fin-mid-body".into(),
            Fault::ChunkSize(t) => format!("chunk-size={t}"),
            Fault::ChunkNoCrlf => "chunk-no-crlf".into(),
            Fault::ChunkNoEnd => "chunk-no-end".into(),
            Fault::StatusLine(t) => format!("status-line={t}"),
            Fault::HugeHead => "huge-head".into(),
            Fault::HugeLength => "huge-length".into(),
            Fault::Drip => "drip".into(),
            Fault::Endless100 => "endless-100".into(),
        }
    }

    pub fn parse(spec: &str) -> Result<Fault, String> {
        let (name, value) = match spec.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (spec, None),
        };
        let status = || -> Result<u16, String> {
            value.and_then(|v| v.parse().ok()).ok_or_else(|| format!("--fault {name}=STATUS needs a number"))
        };
        let text = || value.map(String::from).ok_or_else(|| format!("--fault {name}=VALUE needs a value"));
        Ok(match name {
            "token-status" => Fault::TokenStatus(status()?),
            "token-crlf" => Fault::TokenCrlf,
            "token-lf" => Fault::TokenLf,
            "user-data-status" => Fault::UserDataStatus(status()?),
            "redirect" => Fault::Redirect(text()?),
            "verbatim" => Fault::Verbatim,
            "reset-mid-body" => Fault::ResetMidBody,
            "fin-mid-body" => Fault::FinMidBody,
            "chunk-size" => Fault::ChunkSize(text()?),
            "chunk-no-crlf" => Fault::ChunkNoCrlf,
            "chunk-no-end" => Fault::ChunkNoEnd,
            "status-line" => Fault::StatusLine(text()?),
            "huge-head" => Fault::HugeHead,
            "huge-length" => Fault::HugeLength,
            "drip" => Fault::Drip,
            "endless-100" => Fault::Endless100,
            _ => return Err(format!("unknown --fault `{spec}`")),
        })
    }
}

/// Counts a matching request; true while the fault still applies (`--fault-times`).
fn take(server: &Server, st: &mut State) -> bool {
    st.fault_hits += 1;
    server.opts.fault_times == 0 || st.fault_hits <= server.opts.fault_times
}

fn is_token_request(req: &Request) -> bool {
    let p = req.path().trim_end_matches('/');
    p.ends_with("/api/token") || p == "/v1/token"
}

fn is_user_data_request(req: &Request) -> bool {
    req.path().trim_end_matches('/').ends_with("/user-data")
}

/// Replaces the platform's answer for the faults that only change what is said.
pub(super) fn answer(server: &Server, req: &Request, st: &mut State, resp: Response) -> Response {
    let Some(fault) = &server.opts.fault else { return resp };
    match fault {
        Fault::TokenStatus(s) if is_token_request(req) && take(server, st) => {
            Response::new(*s, "text/plain", format!("{}\n", reason(*s)))
        }
        Fault::TokenCrlf | Fault::TokenLf if is_token_request(req) && resp.status == 200 && take(server, st) => {
            // The token itself was issued (and logged to --tokens) by the platform route; only
            // the body gains a line break and a header after it.
            let brk = if *fault == Fault::TokenCrlf { "\r\n" } else { "\n" };
            let token = String::from_utf8_lossy(&resp.body).into_owned();
            Response { body: format!("{token}{brk}{INJECTED}").into_bytes(), ..resp }
        }
        Fault::UserDataStatus(s) if is_user_data_request(req) && take(server, st) => {
            Response::new(*s, "text/plain", format!("{}\n", reason(*s)))
        }
        Fault::Redirect(url) if resp.user_data && take(server, st) => {
            Response::new(307, "text/plain", "").header("Location", url.clone())
        }
        Fault::Verbatim if resp.user_data && resp.status == 200 && take(server, st) => {
            Response { body: server.payload.clone().unwrap_or_default(), ..resp }
        }
        _ => resp,
    }
}

/// Writes a user-data answer with broken framing for the wire faults; true when it did (the
/// connection is then finished and must not be used again).
pub(super) fn take_over(server: &Server, stream: &mut TcpStream, resp: &Response) -> bool {
    let Some(fault) = &server.opts.fault else { return false };
    let wire = !matches!(
        fault,
        Fault::TokenStatus(_)
            | Fault::TokenCrlf
            | Fault::TokenLf
            | Fault::UserDataStatus(_)
            | Fault::Redirect(_)
            | Fault::Verbatim
    );
    if !wire || !resp.user_data || resp.status != 200 {
        return false;
    }
    {
        let mut st = server.state.lock().unwrap_or_else(|e| e.into_inner());
        if !take(server, &mut st) {
            return false;
        }
    }
    // Write errors mean the client has gone, which ends the fault as well.
    let _ = write_fault(fault, stream, &resp.body);
    if *fault == Fault::ResetMidBody {
        abortive_close(stream);
    } else {
        super::close_gracefully(stream);
    }
    true
}

fn head(status_line: &str, fields: &[String]) -> Vec<u8> {
    let mut h = format!("{status_line}\r\nServer: EC2ws\r\nContent-Type: application/octet-stream\r\n");
    for f in fields {
        h += f;
        h += "\r\n";
    }
    h += "Connection: close\r\n\r\n";
    h.into_bytes()
}

fn send(stream: &mut TcpStream, bytes: &[u8]) -> std::io::Result<()> {
    stream.write_all(bytes)?;
    stream.flush()
}

fn write_fault(fault: &Fault, stream: &mut TcpStream, body: &[u8]) -> std::io::Result<()> {
    let ok = "HTTP/1.1 200 OK";
    let length = format!("Content-Length: {}", body.len());
    let chunked = "Transfer-Encoding: chunked".to_string();
    let half = &body[..body.len() / 2];
    match fault {
        Fault::ResetMidBody | Fault::FinMidBody => {
            send(stream, &head(ok, &[length]))?;
            send(stream, half)?;
            // Let the half body reach the client before the RST, which would discard
            // anything still queued on our side (RFC 9293 §3.10.7.1 vs. Linux's abort).
            std::thread::sleep(Duration::from_millis(100));
        }
        Fault::ChunkSize(text) => {
            send(stream, &head(ok, &[chunked]))?;
            send(stream, format!("{text}\r\n").as_bytes())?;
            send(stream, body)?;
            send(stream, b"\r\n0\r\n\r\n")?;
        }
        Fault::ChunkNoCrlf => {
            // A first chunk of 16 bytes followed by data instead of its CRLF (RFC 9112 §7.1).
            let n = body.len().min(16);
            send(stream, &head(ok, &[chunked]))?;
            send(stream, format!("{n:x}\r\n").as_bytes())?;
            send(stream, body)?;
            send(stream, b"\r\n0\r\n\r\n")?;
        }
        Fault::ChunkNoEnd => {
            send(stream, &head(ok, &[chunked]))?;
            let mut frame = format!("{:x}\r\n", body.len()).into_bytes();
            frame.extend_from_slice(body);
            frame.extend_from_slice(b"\r\n0\r\n");
            send(stream, &frame)?;
        }
        Fault::StatusLine(line) => {
            send(stream, &head(line, &[length]))?;
            send(stream, body)?;
        }
        Fault::HugeHead => {
            let fill = format!("X-Fill: {}", "a".repeat(64 * 1024));
            send(stream, &head(ok, &[fill, length]))?;
            send(stream, body)?;
        }
        Fault::HugeLength => {
            send(stream, &head(ok, &["Content-Length: 1073741824".into()]))?;
            send(stream, &body[..body.len().min(1024)])?;
            // Held open so that a client that waited for the announced body would run into its
            // budget instead of failing at once.
            hold(stream, FAULT_MAX);
        }
        Fault::Drip => {
            send(stream, &head(ok, &[length]))?;
            let start = Instant::now();
            for b in body {
                if start.elapsed() > FAULT_MAX {
                    break;
                }
                send(stream, std::slice::from_ref(b))?;
                std::thread::sleep(Duration::from_secs(1));
            }
        }
        Fault::Endless100 => {
            let start = Instant::now();
            while start.elapsed() < FAULT_MAX {
                send(stream, b"HTTP/1.1 100 Continue\r\n\r\n")?;
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        Fault::TokenStatus(_)
        | Fault::TokenCrlf
        | Fault::TokenLf
        | Fault::UserDataStatus(_)
        | Fault::Redirect(_)
        | Fault::Verbatim => {}
    }
    Ok(())
}

/// Waits (≤ `limit`) until the peer closes, discarding what it sends.
fn hold(stream: &mut TcpStream, limit: Duration) {
    let start = Instant::now();
    let _ = stream.set_read_timeout(Some(Duration::from_millis(200)));
    let mut sink = [0u8; 512];
    while start.elapsed() < limit {
        match stream.read(&mut sink) {
            Ok(0) => return,
            Ok(_) => {}
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {}
            Err(_) => return,
        }
    }
}

/// Closes with a RST instead of a FIN: SO_LINGER on with a zero timeout makes close() abort
/// the connection (socket(7); RFC 9293 §3.10.4 ABORT).
fn abortive_close(stream: &mut TcpStream) {
    let _ = rustix::net::sockopt::set_socket_linger(&*stream, Some(Duration::ZERO));
    // The caller drops the stream, and with it the descriptor: that close sends the RST.
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mock::tests::{Running, aws_get, aws_put, exchange, start};
    use crate::mock::{Options, Platform, read_log, read_tokens};

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
        let head_end = super::super::find(&got, b"\r\n\r\n").unwrap();
        assert!(head_end > 64 * 1024, "{head_end}");
    }
}
