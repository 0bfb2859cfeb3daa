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
//! The faults themselves, as the harness names them, are `fault::Fault`.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use super::fault::Fault;
use super::http::{Request, Response, close_gracefully, reason};
use super::service::{Server, State};

/// Bound on how long any fault keeps a connection busy (drip, endless 100, held open).
const FAULT_MAX: Duration = Duration::from_secs(40);
/// The header a token with a line break tries to inject.
pub(super) const INJECTED: &str = "X-Flint-Injected: 1";

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
        close_gracefully(stream);
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
