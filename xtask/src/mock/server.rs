//! The mock's server: the accept loop, one thread per connection, the knobs every platform
//! shares (rate limit, scripted failures, delays), each platform's routes through `routes`,
//! the request log, and response framing (Content-Length, chunked, close-delimited,
//! truncated).

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::http::{ReadError, Request, Response, close_gracefully, read_request, reason, write_chunked};
use super::options::Platform;
use super::service::{Server, State};
use super::{akamai, aws, azure, faults, gcp, nocloud, openstack};
use super::{
    aliyun, cloudstack, digitalocean, exoscale, hetzner, ibmcloud, oraclecloud, packet, scaleway, upcloud, vultr,
};

/// What the server needs to know about one platform. A new platform is a module of its own
/// (fixtures and routes, like `aws.rs`), its id in `options.rs` and its arm here.
struct PlatformMock {
    /// The request header that carries the session token.
    token_header: &'static str,
    /// What the service calls itself in `Server:`.
    server_name: &'static str,
    /// Answers one request (tokens, user-data, metadata), under the server's state lock.
    route: fn(&Server, &Request, &mut State, bool) -> Response,
}

fn platform(p: Platform) -> PlatformMock {
    match p {
        Platform::Aws => {
            PlatformMock { token_header: aws::TOKEN_HEADER, server_name: aws::SERVER_NAME, route: aws::route }
        }
        Platform::Akamai => {
            PlatformMock { token_header: akamai::TOKEN_HEADER, server_name: akamai::SERVER_NAME, route: akamai::route }
        }
        Platform::OpenStack => PlatformMock {
            token_header: openstack::TOKEN_HEADER,
            server_name: openstack::SERVER_NAME,
            route: openstack::route,
        },
        Platform::NoCloud => PlatformMock {
            token_header: nocloud::TOKEN_HEADER,
            server_name: nocloud::SERVER_NAME,
            route: nocloud::route,
        },
        Platform::Azure => {
            PlatformMock { token_header: azure::TOKEN_HEADER, server_name: azure::SERVER_NAME, route: azure::route }
        }
        Platform::Gcp => {
            PlatformMock { token_header: gcp::TOKEN_HEADER, server_name: gcp::SERVER_NAME, route: gcp::route }
        }
        Platform::DigitalOcean => PlatformMock { token_header: "", server_name: "nginx", route: digitalocean::route },
        Platform::Hetzner => PlatformMock { token_header: "", server_name: "nginx", route: hetzner::route },
        Platform::Vultr => PlatformMock { token_header: "", server_name: "nginx", route: vultr::route },
        Platform::UpCloud => PlatformMock { token_header: "", server_name: "nginx", route: upcloud::route },
        Platform::Exoscale => PlatformMock { token_header: "", server_name: "nginx", route: exoscale::route },
        Platform::CloudStack => PlatformMock { token_header: "", server_name: "Apache", route: cloudstack::route },
        Platform::Scaleway => PlatformMock { token_header: "", server_name: "nginx", route: scaleway::route },
        Platform::OracleCloud => PlatformMock { token_header: "", server_name: "nginx", route: oraclecloud::route },
        Platform::Aliyun => {
            PlatformMock { token_header: aliyun::TOKEN_HEADER, server_name: "Tengine", route: aliyun::route }
        }
        Platform::IbmCloud => PlatformMock { token_header: "", server_name: "nginx", route: ibmcloud::route },
        Platform::Packet => PlatformMock { token_header: "", server_name: "nginx", route: packet::route },
    }
}

/// Accept loop; also used in-process by the unit tests.
pub(super) fn serve(listener: TcpListener, server: Arc<Server>) {
    let mut conn_id = 0u64;
    for stream in listener.incoming() {
        match stream {
            Ok(stream) => {
                conn_id += 1;
                let server = Arc::clone(&server);
                let id = conn_id;
                std::thread::spawn(move || server.connection(stream, id));
            }
            // EMFILE and friends: back off briefly instead of spinning.
            Err(_) => std::thread::sleep(Duration::from_millis(10)),
        }
    }
}

/// Idle keep-alive connections are dropped after this, so threads cannot pile up.
const IDLE: Duration = Duration::from_secs(15);

impl Server {
    pub(super) fn connection(&self, mut stream: TcpStream, conn: u64) {
        let _ = stream.set_read_timeout(Some(IDLE));
        // A client that stops reading must not pin this thread forever either.
        let _ = stream.set_write_timeout(Some(IDLE));
        let _ = stream.set_nodelay(true);
        // Who asked: the address the client used (a static one, a lease, a link-local one).
        let peer_addr = stream.peer_addr().ok();
        let peer = peer_addr.map(|a| a.ip().to_string()).unwrap_or_default();
        let mut buf = Vec::new();
        loop {
            let req = match read_request(&mut stream, &mut buf) {
                Ok(mut r) => {
                    r.peer_port = peer_addr.map_or(0, |a| a.port());
                    r
                }
                Err(ReadError::Closed) => return,
                Err(ReadError::Malformed(why)) => {
                    self.log_malformed(conn, &why);
                    let resp = Response::new(400, "text/plain", "bad request\n");
                    let _ = self.write(&mut stream, "GET", &resp, true);
                    return;
                }
            };
            let resp = self.handle(&req, conn, &peer);
            if self.opts.delay_ms > 0 {
                std::thread::sleep(Duration::from_millis(self.opts.delay_ms));
            }
            if faults::take_over(self, &mut stream, &resp) {
                return;
            }
            let close = req.wants_close || self.opts.close_delimited || self.opts.truncate;
            if self.write(&mut stream, &req.method, &resp, close).is_err() || close {
                close_gracefully(&mut stream);
                return;
            }
        }
    }

    /// Decides the answer and logs the request. Everything stateful happens here, under the lock.
    fn handle(&self, req: &Request, conn: u64, peer: &str) -> Response {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        st.requests += 1;
        let now = Instant::now();
        st.tokens.retain(|_, expiry| *expiry > now);
        let token = req.header(platform(self.opts.platform).token_header);
        let token_valid = token.is_some_and(|t| st.tokens.contains_key(t));
        // A fixed one-second window, the shape of a metadata service's throttle seen from
        // outside (Azure IMDS: 5 requests/s per VM, then 429; AWS throttles but publishes no
        // figure; platforms.md §1). Retry-After: 1 is the window's length.
        let throttled = self.opts.rate_limit.is_some_and(|limit| {
            if now.duration_since(st.window.0) >= Duration::from_secs(1) {
                st.window = (now, 0);
            }
            st.window.1 += 1;
            st.window.1 > limit
        });
        let resp = if throttled {
            Response::new(429, "text/plain", "Too Many Requests (rate limit)\n").header("Retry-After", "1")
        } else if st.requests <= self.opts.fail_first {
            let mut r = Response::new(
                self.opts.fail_status,
                "text/plain",
                format!("{} (scenario)\n", reason(self.opts.fail_status)),
            );
            if let (Some(s), 429 | 503) = (self.opts.retry_after, self.opts.fail_status) {
                r = r.header("Retry-After", s.to_string());
            }
            r
        } else {
            (platform(self.opts.platform).route)(self, req, &mut st, token_valid)
        };
        let resp = faults::answer(self, req, &mut st, resp);
        let entry = json!({
            "t_ms": self.started.elapsed().as_millis() as u64,
            "conn": conn,
            "method": req.method,
            "path": req.target,
            "status": resp.status,
            "token_sent": token.is_some(),
            "token_valid": token_valid,
            "accept": req.header("accept"),
            "ttl_header": req.header("x-aws-ec2-metadata-token-ttl-seconds").or(req.header("metadata-token-expiry-seconds")),
            "user_agent": req.header("user-agent"),
            "bytes": resp.body.len(),
            "host": req.header("host"),
            "peer": peer,
            "peer_port": req.peer_port,
        });
        if let Some(f) = st.log.as_mut() {
            let _ = writeln!(f, "{entry}");
        }
        resp
    }

    /// Logs a request that could not be parsed (answered 400): what was wrong stands in its path.
    fn log_malformed(&self, conn: u64, what: &str) {
        let mut st = self.state.lock().unwrap_or_else(|e| e.into_inner());
        let entry = json!({
            "t_ms": self.started.elapsed().as_millis() as u64, "conn": conn, "method": "?", "path": what,
            "status": 400, "token_sent": false, "token_valid": false, "accept": null,
        });
        if let Some(f) = st.log.as_mut() {
            let _ = writeln!(f, "{entry}");
        }
    }

    /// Writes one response with the framing the knobs ask for. `Err` = the connection is done.
    fn write(&self, stream: &mut TcpStream, method: &str, resp: &Response, close: bool) -> std::io::Result<()> {
        let old_ttl = match resp.ttl {
            Some(ttl) => {
                let old = stream.ttl().ok();
                stream.set_ttl(ttl)?;
                old
            }
            None => None,
        };
        let has_body = method != "HEAD" && resp.status != 204 && resp.status != 304;
        let mut head = format!("HTTP/1.1 {} {}\r\n", resp.status, reason(resp.status));
        let server_name = platform(self.opts.platform).server_name;
        head += &format!("Server: {server_name}\r\nContent-Type: {}\r\n", resp.content_type);
        for (k, v) in &resp.headers {
            head += &format!("{k}: {v}\r\n");
        }
        let chunked = self.opts.chunked && !self.opts.close_delimited;
        if self.opts.close_delimited {
            head += "Connection: close\r\n";
        } else {
            if chunked {
                head += "Transfer-Encoding: chunked\r\n";
            } else {
                head += &format!("Content-Length: {}\r\n", resp.body.len());
            }
            if close {
                head += "Connection: close\r\n";
            }
        }
        head += "\r\n";
        stream.write_all(head.as_bytes())?;
        if has_body {
            let cut = self.opts.truncate && resp.user_data;
            let body: &[u8] = if cut { &resp.body[..resp.body.len() / 2] } else { &resp.body };
            if chunked {
                write_chunked(stream, body)?;
            } else {
                // Two writes so the body never rides in the same segment as the head.
                let (a, b) = body.split_at(body.len() / 3);
                stream.write_all(a)?;
                stream.flush()?;
                stream.write_all(b)?;
            }
        }
        stream.flush()?;
        if let Some(old) = old_ttl {
            let _ = stream.set_ttl(old);
        }
        Ok(())
    }
}
