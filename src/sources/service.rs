//! The provider flow, sans-IO: token PUT (if the platform has one), then the user-data GET,
//! with retries, as a state machine driven by responses, transport errors and `now`.
//!
//! Retry policy (the same for every platform, every request bounded by the caller's budget):
//! - connection failures, truncated responses, 5xx and 429 are retried after a backoff of
//!   200 ms doubling to a 5 s cap (Ignition's schedule), half of it randomised ("equal jitter")
//!   so a fleet booting at once does not retry in lockstep; a backoff that would outlast the
//!   budget is shortened to one last attempt 200 ms before the deadline;
//! - `Retry-After` (delay-seconds) on 429/503 is honoured when it fits in the budget; when it
//!   does not, the flow gives up at once instead of sleeping into a certain failure;
//! - a stale token (the token step's `refresh_on` statuses) is replaced once;
//! - any other status, or a malformed response, ends the flow: retrying would not change it.
//!
//! With [`Flow::fetch_metadata`], the platform's metadata documents follow the user-data (with
//! or without user-data: hostname and keys are wanted either way) under the same policy, except
//! that they can never cost the user-data: a 404 or unexpected status skips the document, and
//! a spent budget or request cap ends the metadata stage with what was gathered.

use core::fmt::{self, Write as _};
use smoltcp::time::{Duration, Instant};

use crate::http::{self, Head, HttpError};
use crate::platform::{Document, Role, Service, Take};
use crate::rand::Rng;
use crate::sources::meta::Metadata;
use crate::sources::seed::Url;

/// Longest token accepted. AWS tokens are ~56 bytes, Akamai's 64.
pub const TOKEN_MAX: usize = 512;
/// Hard cap on requests in one run, beside the time budget: token and user-data with their
/// retries, plus the metadata documents (EC2: 9, then up to `meta::KEYS_MAX` keys).
pub const MAX_REQUESTS: u32 = 96;
/// Longest request target: an EC2 key's path (the index path plus `N/openssh-key`), a NoCloud
/// seed URL's path with a file name joined to it, an object store's signed URL (an S3 SigV4
/// query with a session token runs to 1.5 KB).
pub const PATH_MAX: usize = 2048;
const BACKOFF_FIRST: Duration = Duration::from_millis(200);
const BACKOFF_CAP: Duration = Duration::from_secs(5);
/// A backoff that would end past the deadline is cut short to leave this much for one last
/// attempt: a service that comes up late in the budget still gets asked.
const LAST_ATTEMPT: Duration = Duration::from_millis(200);

/// Which request the flow is on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Stage {
    Token,
    UserData,
    Metadata,
}

impl Stage {
    /// Log/report phase name.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn name(self) -> &'static str {
        match self {
            Stage::Token => "token",
            Stage::UserData => "user-data",
            Stage::Metadata => "metadata",
        }
    }
}

pub use crate::net::Transport;

/// What the caller does next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Send [`Flow::request`] now.
    Request,
    /// Sleep until then, then send [`Flow::request`].
    RetryAt(Instant),
    /// Done: the user-data body is in the buffer its response was parsed into.
    UserData,
    /// Done: the platform says this instance has no user-data.
    NoUserData,
}

/// Why the flow ended without user-data.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    /// The budget ran out; the last thing that went wrong is attached.
    Budget(Last),
    /// The service asked to wait longer than the budget allows (seconds).
    RetryAfterTooLong(u32),
    /// A status the flow has no answer to.
    Status(u16),
    /// The token body is empty, too long or holds bytes a header cannot carry.
    BadToken,
    /// A freshly fetched token was refused too.
    TokenRefused(u16),
    /// [`MAX_REQUESTS`] requests were sent without an answer that ends the flow.
    RequestCap,
    /// The response is not valid HTTP, or too large.
    Http(HttpError),
    /// The service's host name did not resolve.
    Dns(crate::net::dns::DnsError),
    /// The document that holds the user-data is not valid JSON.
    Document,
    /// The https server could not be trusted, or the TLS session failed.
    Tls(crate::tls::TlsError),
    /// An https URL, and no trust anchors were found.
    NoTrust,
}

/// The last retryable problem before the budget ran out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Last {
    Transport(Transport),
    Status(u16),
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Failure::Budget(Last::Transport(t)) => write!(f, "budget spent; last attempt: {t}"),
            Failure::Budget(Last::Status(s)) => write!(f, "budget spent; last answer: HTTP {s}"),
            Failure::RetryAfterTooLong(s) => write!(f, "service asked to retry after {s} s, beyond the budget"),
            Failure::Status(s) => write!(f, "unexpected HTTP {s}"),
            Failure::BadToken => f.write_str("token is empty, too long or not printable ASCII"),
            Failure::TokenRefused(s) => write!(f, "a fresh token was refused too (HTTP {s})"),
            Failure::RequestCap => write!(f, "{MAX_REQUESTS} requests sent without a usable answer"),
            Failure::Http(e) => write!(f, "{e}"),
            Failure::Dns(e) => write!(f, "host name not resolved: {e}"),
            Failure::Document => f.write_str("user-data document is not valid JSON"),
            Failure::Tls(e) => write!(f, "{e}"),
            Failure::NoTrust => f.write_str("no trust anchors for https (no --ca-bundle, no system CA bundle)"),
        }
    }
}

impl Failure {
    /// True when the service was not (usefully) reached, as opposed to answering wrongly.
    pub fn is_unreachable(&self) -> bool {
        matches!(self, Failure::Budget(_) | Failure::RetryAfterTooLong(_) | Failure::RequestCap | Failure::Dns(_))
    }
}

/// The flow state; see the module docs.
pub struct Flow {
    service: &'static Service,
    stage: Stage,
    /// The user-data resource being asked (a 404 moves to the next).
    resource: usize,
    token: heapless::Vec<u8, TOKEN_MAX>,
    /// The token endpoint said tokens are not in use (IMDSv1).
    tokenless: bool,
    refreshed: bool,
    /// Where a fresh token leads back to.
    after_token: Stage,
    /// Consecutive retryable failures, for the backoff exponent.
    failures: u32,
    requests: u32,
    rng: Rng,
    /// Read the platform's metadata after the user-data.
    metadata: bool,
    /// How the user-data stage ended (`Some(true)`: there is user-data).
    found: Option<bool>,
    /// Metadata document being read, the key of a key index being followed, and the leaf of a
    /// leaf table.
    doc: usize,
    key: Option<crate::sources::meta::KeyId>,
    leaf: usize,
    /// What the metadata documents yielded.
    pub meta: Metadata,
    /// Where the user-data is in its body when the platform takes a JSON member (the raw
    /// string's bytes, escapes not yet decoded).
    pub member: Option<core::ops::Range<usize>>,
}

impl Flow {
    pub fn new(service: &'static Service, seed: u64) -> Flow {
        Flow {
            service,
            stage: if service.token.is_some() { Stage::Token } else { Stage::UserData },
            resource: 0,
            token: heapless::Vec::new(),
            tokenless: false,
            refreshed: false,
            after_token: Stage::UserData,
            failures: 0,
            requests: 0,
            rng: Rng::new(seed),
            metadata: false,
            found: None,
            doc: 0,
            key: None,
            leaf: 0,
            meta: Metadata::new(),
            member: None,
        }
    }

    /// Also read the platform's metadata documents, after the user-data.
    pub fn fetch_metadata(&mut self) {
        self.metadata = true;
    }

    fn document(&self) -> Option<&'static Document> {
        self.service.metadata.get(self.doc)
    }

    pub fn stage(&self) -> Stage {
        self.stage
    }

    /// How the user-data stage ended: `Some(true)` user-data, `Some(false)` none.
    pub fn found(&self) -> Option<bool> {
        self.found
    }

    /// Requests sent so far.
    pub fn requests(&self) -> u32 {
        self.requests
    }

    /// A request whose connection failed before it could be written (every address of the
    /// race refused or silent): it counts as sent, as it did when the request was written first.
    pub fn unsent(&mut self) {
        self.requests += 1;
    }

    /// Writes the request for the current stage into `out`, with `host` as its `Host`; returns
    /// its length. With a `base` (a NoCloud seed), the platform's paths are file names joined
    /// to it.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn request(&mut self, out: &mut [u8], host: &[u8], base: Option<&Url<'_>>) -> Result<usize, HttpError> {
        self.requests += 1;
        let p = self.service;
        let mut fields: heapless::Vec<(&str, &[u8]), 8> = heapless::Vec::new();
        let mut path: heapless::String<PATH_MAX> = heapless::String::new();
        let mut body = "";
        let (method, statics) = match (self.stage, &p.token, self.document()) {
            (Stage::Token, Some(t), _) => {
                path.push_str(t.path).map_err(|_| HttpError::BadRequest)?;
                body = t.body;
                (t.method, t.fields)
            }
            (Stage::Metadata, _, Some(doc)) => {
                match (&self.key, doc.leaf(self.leaf)) {
                    (Some(id), _) => write!(path, "{}{id}/openssh-key", doc.path),
                    (None, leaf) => write!(path, "{}{}", doc.path, leaf.map_or("", |l| l.0)),
                }
                .map_err(|_| HttpError::BadRequest)?;
                ("GET", p.meta_fields)
            }
            _ => {
                let r = p.user_data.resources.get(self.resource).ok_or(HttpError::BadRequest)?;
                path.push_str(r.path).map_err(|_| HttpError::BadRequest)?;
                ("GET", r.fields)
            }
        };
        for (name, value) in statics {
            fields.push((name, value.as_bytes())).map_err(|_| HttpError::BadRequest)?;
        }
        if let (Stage::UserData | Stage::Metadata, Some(t), false) = (self.stage, &p.token, self.tokenless) {
            fields.push((t.header, &self.token)).map_err(|_| HttpError::BadRequest)?;
        }
        let mut joined = [0u8; PATH_MAX];
        let path = match base {
            // `--url`: the URL's own path and query, byte for byte (`/` when it has none).
            Some(url) if path.is_empty() => match url.path {
                [] => b"/",
                p if p.starts_with(b"/") => p,
                p => {
                    joined[0] = b'/';
                    joined.get_mut(1..=p.len()).ok_or(HttpError::BadRequest)?.copy_from_slice(p);
                    &joined[..=p.len()]
                }
            },
            Some(url) => url.join(path.as_bytes(), &mut joined).ok_or(HttpError::BadRequest)?,
            None => path.as_bytes(),
        };
        http::write_request(out, method, host, path, &fields, body.as_bytes())
    }

    /// A complete response arrived for the current request. `body` is the stored body (2xx only).
    pub fn on_response(&mut self, now: Instant, deadline: Instant, head: Head, body: &[u8]) -> Result<Step, Failure> {
        let r = self.respond(now, deadline, head, body);
        self.settle(r)
    }

    fn respond(&mut self, now: Instant, deadline: Instant, head: Head, body: &[u8]) -> Result<Step, Failure> {
        let status = head.status;
        match self.stage {
            Stage::Token => match status {
                200..=299 => {
                    let step = self.service.token.as_ref().ok_or(Failure::BadToken)?;
                    self.token.clear();
                    self.token.extend_from_slice(step.prefix.as_bytes()).map_err(|_| Failure::BadToken)?;
                    let n = take_token(step.take, body, &mut self.token)?;
                    debug!("token", "received ({n} bytes)");
                    self.advance(self.after_token)
                }
                404 if self.service.token.as_ref().is_some_and(|t| t.tokenless_on_404) => {
                    info!("token", "token endpoint answered 404; continuing without a token");
                    self.tokenless = true;
                    self.advance(self.after_token)
                }
                _ => self.retry_or_fail(now, deadline, head),
            },
            Stage::UserData => match status {
                200..=299 => {
                    let found = match self.service.user_data.take {
                        Take::Body => !body.is_empty() && matches!(status, 200 | 203),
                        Take::Member(path) => {
                            self.member = member(body, path).map_err(|_| Failure::Document)?;
                            self.member.as_ref().is_some_and(|r| !r.is_empty())
                        }
                    };
                    self.user_data(found)
                }
                404 if self.resource + 1 < self.service.user_data.resources.len() => {
                    self.resource += 1;
                    info!("user-data", "HTTP 404; asking {}", self.service.user_data.resources[self.resource].path);
                    self.advance(Stage::UserData)
                }
                404 if self.service.user_data.none_on_404 => self.user_data(false),
                s if self.stale_token(s) => self.refresh(s),
                _ => self.retry_or_fail(now, deadline, head),
            },
            Stage::Metadata => match status {
                200..=299 => {
                    if let Some(doc) = self.document() {
                        match doc.leaf(self.leaf) {
                            Some((_, field)) => self.meta.put(field, body),
                            None => {
                                if let Err(e) = self.meta.absorb(doc, self.key.is_some(), body) {
                                    warn!("metadata", "{}: {e}; skipped", doc.path);
                                }
                            }
                        }
                    }
                    self.next_document()
                }
                // Not published for this instance (`public-ipv4` on a private one).
                404 => self.next_document(),
                s if self.stale_token(s) => self.refresh(s),
                429 | 500..=599 => self.retry_or_fail(now, deadline, head),
                s => {
                    warn!("metadata", "HTTP {s}; skipped");
                    self.next_document()
                }
            },
        }
    }

    fn stale_token(&self, status: u16) -> bool {
        self.service.token.is_some_and(|t| t.refresh_on.contains(&status)) && !self.tokenless
    }

    /// A stale token: get a new one (once per run), then repeat the current request.
    fn refresh(&mut self, status: u16) -> Result<Step, Failure> {
        if self.refreshed {
            return Err(Failure::TokenRefused(status));
        }
        info!(self.stage.name(), "HTTP {status}: token refused, getting a new one");
        self.refreshed = true;
        self.token.clear();
        self.after_token = self.stage;
        self.advance(Stage::Token)
    }

    /// The user-data stage is over: on to the metadata, or done.
    fn user_data(&mut self, found: bool) -> Result<Step, Failure> {
        self.found = Some(found);
        if self.metadata {
            (self.doc, self.key, self.leaf) = (0, None, 0);
            self.skip_known();
            if self.document().is_some() {
                return self.advance(Stage::Metadata);
            }
        }
        Ok(self.done())
    }

    /// Moves past documents that are only a fallback for values already known.
    fn skip_known(&mut self) {
        while let Some(doc) = self.document() {
            if doc.unless == Role::None || self.meta.get(doc.unless).is_none() {
                break;
            }
            self.doc += 1;
        }
    }

    fn done(&self) -> Step {
        if self.found == Some(true) { Step::UserData } else { Step::NoUserData }
    }

    /// The next metadata request: a pending key of a key index, else the next document.
    fn next_document(&mut self) -> Result<Step, Failure> {
        self.key = self.meta.pending_keys.pop_front();
        if self.key.is_none() {
            self.leaf += 1;
            if self.document().and_then(|d| d.leaf(self.leaf)).is_none() {
                (self.doc, self.leaf) = (self.doc + 1, 0);
                self.skip_known();
            }
        }
        if self.document().is_none() {
            return Ok(self.done());
        }
        self.advance(Stage::Metadata)
    }

    /// Once the user-data stage is over nothing fails the run: metadata that could not be
    /// read is left out.
    fn settle(&mut self, r: Result<Step, Failure>) -> Result<Step, Failure> {
        match r {
            Err(f) if self.found.is_some() => {
                warn!("metadata", "incomplete: {f}");
                Ok(self.done())
            }
            r => r,
        }
    }

    /// The current request failed below HTTP (or its response broke off).
    pub fn on_transport(&mut self, now: Instant, deadline: Instant, t: Transport) -> Result<Step, Failure> {
        info!(self.stage.name(), "{t}");
        let r = self.backoff(now, deadline, None, Last::Transport(t));
        self.settle(r)
    }

    /// A response could not be parsed.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    pub fn on_http_error(&mut self, now: Instant, deadline: Instant, e: HttpError) -> Result<Step, Failure> {
        match e {
            // The message broke off: a transport problem, worth another try.
            HttpError::Truncated => self.on_transport(now, deadline, Transport::Truncated),
            _ => self.settle(Err(Failure::Http(e))),
        }
    }

    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn advance(&mut self, stage: Stage) -> Result<Step, Failure> {
        self.stage = stage;
        self.failures = 0;
        if self.requests >= MAX_REQUESTS {
            return Err(Failure::RequestCap);
        }
        Ok(Step::Request)
    }

    fn retry_or_fail(&mut self, now: Instant, deadline: Instant, head: Head) -> Result<Step, Failure> {
        let s = head.status;
        if s == 429 || (500..=599).contains(&s) {
            info!(self.stage.name(), "HTTP {s}");
            let after = if s == 429 || s == 503 { head.retry_after } else { None };
            return self.backoff(now, deadline, after, Last::Status(s));
        }
        Err(Failure::Status(s))
    }

    fn backoff(
        &mut self,
        now: Instant,
        deadline: Instant,
        retry_after: Option<u32>,
        last: Last,
    ) -> Result<Step, Failure> {
        if self.requests >= MAX_REQUESTS {
            return Err(Failure::Budget(last));
        }
        let exp = self.failures.min(16);
        self.failures += 1;
        let full = (BACKOFF_FIRST * (1u32 << exp.min(5))).min(BACKOFF_CAP);
        let half = full.total_micros() / 2;
        let jittered = Duration::from_micros(half + self.rng.below(half + 1));
        let wait = match retry_after {
            Some(secs) => {
                let asked = Duration::from_secs(secs as u64);
                if now + asked >= deadline {
                    return Err(Failure::RetryAfterTooLong(secs));
                }
                // Spread a fleet that was told the same instant over the jitter window.
                asked + Duration::from_micros(self.rng.below(half + 1))
            }
            None => jittered,
        };
        let mut at = now + wait;
        if at >= deadline {
            let last_try = deadline - LAST_ATTEMPT;
            if retry_after.is_some() || last_try <= now {
                return Err(Failure::Budget(last));
            }
            at = last_try;
        }
        debug!(self.stage.name(), "retry in {} ms", wait.total_millis());
        Ok(Step::RetryAt(at))
    }
}

/// Appends the token a 2xx token response carries (per `take`) to `out`, which may already hold
/// the header's prefix; returns the token's length. A token must fit a header field value:
/// printable ASCII without spaces, so nothing received can inject a header.
fn take_token(take: Take, body: &[u8], out: &mut heapless::Vec<u8, TOKEN_MAX>) -> Result<usize, Failure> {
    fn put(text: &[u8], out: &mut heapless::Vec<u8, TOKEN_MAX>) -> Result<usize, Failure> {
        let token = text.trim_ascii();
        if token.is_empty() || !token.iter().all(|b| (0x21..=0x7e).contains(b)) {
            return Err(Failure::BadToken);
        }
        out.extend_from_slice(token).map_err(|_| Failure::BadToken)?;
        Ok(token.len())
    }
    match take {
        Take::Body => put(body, out),
        // Taken as it stands between its quotes: tokens (JWTs, opaque strings) carry no
        // escapes, and one with a backslash is refused rather than decoded.
        Take::Member(path) => match member(body, path) {
            Ok(Some(r)) if !body[r.clone()].contains(&b'\\') => put(&body[r], out),
            _ => Err(Failure::BadToken),
        },
    }
}

/// Where the first string at member `path` of a JSON body is: the bytes between its quotes,
/// escapes not decoded (see [`crate::decode::json::unescape_in_place`]). `Ok(None)` when the
/// member is absent or not a string; an error when the body is not one JSON value.
///
/// The scanner keeps at most `json::TEXT_MAX` bytes of a string's text, and user-data is larger,
/// so the value is located instead: the body goes through the scanner a byte at a time, the
/// string event comes at its closing quote, and the opening quote is the nearest one before it
/// that no backslash escapes (inside a JSON string every quote is escaped).
pub fn member(body: &[u8], path: &str) -> Result<Option<core::ops::Range<usize>>, crate::decode::json::JsonError> {
    use crate::decode::json::{Event, Scanner};
    let mut tracker = crate::sources::meta::PathTracker::new();
    let mut scanner = Scanner::new();
    let mut found = None;
    for (end, b) in body.iter().enumerate() {
        let mut hit = false;
        scanner.push(core::slice::from_ref(b), &mut |event, text| {
            // Not inside an array: `{"user_data": ["x"]}` holds no user-data string.
            hit |=
                matches!(tracker.on(event, text), Some((None, _))) && event == Event::String && tracker.matches(path);
        })?;
        if hit && found.is_none() {
            let mut start = end;
            while start > 0 {
                start -= 1;
                // Backslashes are counted only before a quote: each run once, so linear.
                if body[start] == b'"' && body[..start].iter().rev().take_while(|&&c| c == b'\\').count() % 2 == 0 {
                    break;
                }
            }
            found = Some(start + 1..end);
        }
    }
    scanner.finish(&mut |_, _| {})?;
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{Platform, akamai, aws, openstack};
    extern crate std;
    use std::string::String;

    fn svc(p: &'static Platform) -> &'static Service {
        p.services().next().unwrap()
    }

    fn t(ms: u64) -> Instant {
        Instant::from_millis(ms as i64)
    }
    const DEADLINE: u64 = 30_000;

    fn head(status: u16) -> Head {
        Head { status, retry_after: None }
    }

    fn request_text(flow: &mut Flow) -> String {
        let mut buf = [0u8; 1024];
        let n = flow.request(&mut buf, b"169.254.169.254", None).unwrap();
        String::from_utf8(buf[..n].to_vec()).unwrap()
    }

    /// Drives a flow through scripted responses; each entry is (status, body) or a transport
    /// failure. Returns every request sent and the final result.
    fn script(
        platform: &'static Platform,
        answers: &[Result<(u16, &str), Transport>],
    ) -> (std::vec::Vec<String>, Result<Step, Failure>) {
        run(&mut Flow::new(svc(platform), 7), answers)
    }

    fn run(
        flow: &mut Flow,
        answers: &[Result<(u16, &str), Transport>],
    ) -> (std::vec::Vec<String>, Result<Step, Failure>) {
        let mut sent = std::vec::Vec::new();
        let mut now = 0;
        let mut result = Ok(Step::Request);
        for a in answers {
            sent.push(request_text(flow));
            result = match a {
                Ok((status, body)) => flow.on_response(t(now), t(DEADLINE), head(*status), body.as_bytes()),
                Err(e) => flow.on_transport(t(now), t(DEADLINE), *e),
            };
            match result {
                Ok(Step::Request) => {}
                Ok(Step::RetryAt(at)) => now = at.total_millis() as u64,
                _ => break,
            }
        }
        (sent, result)
    }

    fn first_line(request: &str) -> &str {
        request.split("\r\n").next().unwrap()
    }

    #[test]
    fn metadata_follows_user_data_with_the_token() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 7);
        flow.fetch_metadata();
        let answers = [
            Ok((200, "tok")),
            Ok((200, "{}")),
            Ok((200, "i-0abc")),   // instance-id
            Ok((404, "")),         // instance-type: absent, skipped
            Ok((500, "")),         // local-ipv4: retried...
            Ok((200, "10.0.0.5")), // ...and read
            Err(Transport::Reset), // public-ipv4: retried...
            Ok((401, "")),         // ...token went stale: a new one...
            Ok((200, "tok2")),
            Ok((200, "198.51.100.7")),  // ...and the same document again
            Ok((200, "us-east-1a")),    // availability-zone
            Ok((403, "")),              // hostname: refused, skipped
            Ok((200, "ec2-1.example")), // public-hostname
            Ok((200, "ip-10-0-0-5")),   // local-hostname
            Ok((200, "{\"region\": \"us-east-1\"}")),
            Ok((200, "0=a\n1=b")), // key index
            Ok((200, "ssh-ed25519 AAAA0")),
            Ok((200, "ssh-ed25519 AAAA1\n")),
        ];
        let (sent, r) = run(&mut flow, &answers);
        assert_eq!(r, Ok(Step::UserData));
        assert_eq!(sent.len(), answers.len());
        let lines: std::vec::Vec<&str> = sent.iter().map(|s| first_line(s)).collect();
        assert_eq!(lines[2], "GET /latest/meta-data/instance-id HTTP/1.1");
        assert_eq!(lines[7], lines[6]);
        assert_eq!(lines[8], "PUT /latest/api/token HTTP/1.1");
        assert_eq!(lines[9], lines[6]);
        assert_eq!(lines[16], "GET /latest/meta-data/public-keys/0/openssh-key HTTP/1.1");
        assert_eq!(lines[17], "GET /latest/meta-data/public-keys/1/openssh-key HTTP/1.1");
        assert!(sent[2].contains("X-aws-ec2-metadata-token: tok\r\n"));
        assert!(sent[17].contains("X-aws-ec2-metadata-token: tok2\r\n"));
        let m = &flow.meta;
        assert_eq!(m.get(crate::platform::Role::InstanceId), Some(&b"i-0abc"[..]));
        assert_eq!(m.get(crate::platform::Role::Hostname), Some(&b"ip-10-0-0-5"[..]));
        assert_eq!(m.keys().count(), 2);
        let mut buf = [0u8; 1024];
        let attrs = String::from_utf8(m.render_attributes("aws", &mut buf).unwrap().to_vec()).unwrap();
        assert!(attrs.contains("AFTERBURN_AWS_IPV4_PUBLIC=198.51.100.7\n"));
        assert!(attrs.contains("AFTERBURN_AWS_REGION=us-east-1\n"));
        assert!(!attrs.contains("AFTERBURN_AWS_HOSTNAME="));
    }

    #[test]
    fn metadata_never_costs_the_user_data() {
        // The service dies after the user-data: the budget runs out in the metadata stage.
        let mut flow = Flow::new(svc(&akamai::PLATFORM), 7);
        flow.fetch_metadata();
        let mut answers = std::vec![Ok((200, "tok")), Ok((200, "e30="))];
        answers.extend([Err(Transport::Timeout); 40]);
        let (sent, r) = run(&mut flow, &answers);
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent.len() < answers.len());
        assert!(sent[2].starts_with("GET /v1/instance HTTP/1.1\r\n"));
        assert!(sent[2].contains("Accept: application/json\r\n"));
        assert!(sent[2].contains("Metadata-Token: tok\r\n"));
        // No user-data still reads the metadata (hostname and keys are wanted anyway); a
        // malformed response there is skipped, not fatal.
        let mut flow = Flow::new(svc(&akamai::PLATFORM), 7);
        flow.fetch_metadata();
        let (sent, r) = run(
            &mut flow,
            &[Ok((200, "tok")), Ok((200, "")), Ok((200, "{\"id\": 7}")), Ok((200, "{bad")), Ok((200, "{}"))],
        );
        assert_eq!(r, Ok(Step::NoUserData));
        assert_eq!(sent.len(), 5);
        assert_eq!(flow.meta.get(crate::platform::Role::InstanceId), Some(&b"7"[..]));
    }

    #[test]
    fn aws_token_then_user_data() {
        let (sent, r) = script(&aws::PLATFORM, &[Ok((200, "AQAEAtoken==\n")), Ok((200, "{\"ignition\":{}}"))]);
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent[0].starts_with("PUT /latest/api/token HTTP/1.1\r\n"));
        assert!(sent[0].contains("X-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
        assert!(sent[1].starts_with("GET /latest/user-data HTTP/1.1\r\n"));
        assert!(sent[1].contains("\r\nX-aws-ec2-metadata-token: AQAEAtoken==\r\n"), "token trimmed and sent");
    }

    #[test]
    fn aws_no_user_data_is_404() {
        let (_, r) = script(&aws::PLATFORM, &[Ok((200, "tok")), Ok((404, ""))]);
        assert_eq!(r, Ok(Step::NoUserData));
    }

    #[test]
    fn stale_token_is_replaced_once() {
        let (sent, r) = script(&aws::PLATFORM, &[Ok((200, "old")), Ok((401, "")), Ok((200, "new")), Ok((200, "data"))]);
        assert_eq!(r, Ok(Step::UserData));
        assert_eq!(sent.len(), 4);
        assert!(sent[2].starts_with("PUT "));
        assert!(sent[3].contains("X-aws-ec2-metadata-token: new\r\n"));

        let (_, r) = script(&aws::PLATFORM, &[Ok((200, "a")), Ok((401, "")), Ok((200, "b")), Ok((401, ""))]);
        assert_eq!(r, Err(Failure::TokenRefused(401)));
    }

    #[test]
    fn imdsv1_fallback_on_404_but_not_on_403() {
        let (sent, r) = script(&aws::PLATFORM, &[Ok((404, "")), Ok((200, "data"))]);
        assert_eq!(r, Ok(Step::UserData));
        assert!(!sent[1].contains("X-aws-ec2-metadata-token:"), "no token header after fallback");
        let (_, r) = script(&aws::PLATFORM, &[Ok((403, ""))]);
        assert_eq!(r, Err(Failure::Status(403)));
        let (_, r) = script(&akamai::PLATFORM, &[Ok((404, ""))]);
        assert_eq!(r, Err(Failure::Status(404)));
    }

    #[test]
    fn akamai_requests_and_empty_means_none() {
        let (sent, r) = script(&akamai::PLATFORM, &[Ok((200, "abc123")), Ok((200, ""))]);
        assert_eq!(r, Ok(Step::NoUserData));
        assert!(sent[0].starts_with("PUT /v1/token HTTP/1.1\r\n"));
        assert!(sent[0].contains("Metadata-Token-Expiry-Seconds: 300\r\n"));
        assert!(sent[1].starts_with("GET /v1/user-data HTTP/1.1\r\n"));
        assert!(sent[1].contains("Accept: text/plain\r\n"));
        assert!(sent[1].contains("Metadata-Token: abc123\r\n"));
        let (_, r) = script(&akamai::PLATFORM, &[Ok((200, "a")), Ok((403, "")), Ok((200, "b")), Ok((200, "Zm9v"))]);
        assert_eq!(r, Ok(Step::UserData));
    }

    #[test]
    fn user_data_member_is_located_with_its_escapes() {
        let body =
            br#"{"id": "x", "metadata": {"ssh_authorized_keys": "k", "user_data": "I2Nsb3Vk\/"}, "user_data": "top"}"#;
        let r = member(body, "metadata.user_data").unwrap().unwrap();
        assert_eq!(&body[r], br"I2Nsb3Vk\/");
        assert_eq!(&body[member(body, "user_data").unwrap().unwrap()], b"top");
        // A quote after escaped backslashes; an escaped quote is no end.
        let body = br#"{"user_data": "a\\\"b\\", "x": 1}"#;
        assert_eq!(&body[member(body, "user_data").unwrap().unwrap()], br#"a\\\"b\\"#);
        // Absent, null, a number or an array (Vultr's `[]` for none) is no user-data.
        for none in
            [&br#"{"other": "x"}"#[..], br#"{"user_data": null}"#, br#"{"user_data": 5}"#, br#"{"user_data": []}"#]
        {
            assert_eq!(member(none, "user_data").unwrap(), None);
        }
        assert!(member(br#"{"user_data": "x""#, "user_data").is_err());
        // A string in an array is no member's value.
        assert_eq!(
            member(br#"{"user_data": ["x"], "metadata": [{"user_data": "y"}]}"#, "metadata.user_data").unwrap(),
            None
        );
        assert_eq!(member(br#"{"user_data": ["x"]}"#, "user_data").unwrap(), None);
        // A long run of escaped backslashes is located in linear time.
        let long = std::format!("{{\"user_data\": \"{}\"}}", "\\\\".repeat(100_000));
        assert_eq!(member(long.as_bytes(), "user_data").unwrap(), Some(15..15 + 200_000));
        assert!(member(br#"{"user_data": "x"} trailing"#, "user_data").is_err());
    }

    #[test]
    fn oracle_asks_with_the_bearer_and_takes_the_member() {
        use crate::platform::oraclecloud;
        let (sent, r) =
            script(&oraclecloud::PLATFORM, &[Ok((200, r#"{"id": "ocid1", "metadata": {"user_data": "eyJ9"}}"#))]);
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent[0].starts_with("GET /opc/v2/instance/ HTTP/1.1\r\n"), "{}", sent[0]);
        assert!(sent[0].contains("Authorization: Bearer Oracle\r\n"));
        let (_, r) = script(&oraclecloud::PLATFORM, &[Ok((200, r#"{"id": "ocid1", "metadata": {}}"#))]);
        assert_eq!(r, Ok(Step::NoUserData));
        let (_, r) = script(&oraclecloud::PLATFORM, &[Ok((200, r#"{"metadata": {"user_data": ""}}"#))]);
        assert_eq!(r, Ok(Step::NoUserData));
        let (_, r) = script(&oraclecloud::PLATFORM, &[Ok((200, "<html>"))]);
        assert_eq!(r, Err(Failure::Document));
    }

    #[test]
    fn ibmcloud_token_then_the_initialization_member() {
        use crate::platform::ibmcloud;
        let token = r#"{"access_token": "eyJ.a.b", "expires_in": 300}"#;
        let init = r##"{"user_data": "#cloud-config\nhostname: \"a\"\n", "keys": []}"##;
        let (sent, r) = script(&ibmcloud::PLATFORM, &[Ok((200, token)), Ok((200, init))]);
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent[0].starts_with("PUT /identity/v1/token?version=2025-08-26 HTTP/1.1\r\n"));
        assert!(sent[0].contains("Metadata-Flavor: ibm\r\n"));
        assert!(sent[1].starts_with("GET /metadata/v1/instance/initialization?version=2025-08-26 HTTP/1.1\r\n"));
        assert!(sent[1].contains("Authorization: Bearer eyJ.a.b\r\n"));
        let (_, r) = script(&ibmcloud::PLATFORM, &[Ok((200, token)), Ok((200, r#"{"keys": []}"#))]);
        assert_eq!(r, Ok(Step::NoUserData));
    }

    #[test]
    fn aliyun_goes_on_without_a_token_when_the_put_is_404() {
        use crate::platform::aliyun;
        let (sent, r) = script(&aliyun::PLATFORM, &[Ok((404, "")), Ok((200, "#cloud-config"))]);
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent[0].contains("X-aliyun-ecs-metadata-token-ttl-seconds: 21600\r\n"));
        assert!(!sent[1].contains("X-aliyun-ecs-metadata-token:"));
        let (sent, _) = script(&aliyun::PLATFORM, &[Ok((200, "tok")), Ok((404, ""))]);
        assert!(sent[1].contains("X-aliyun-ecs-metadata-token: tok\r\n"));
    }

    #[test]
    fn leaf_tables_are_asked_leaf_by_leaf() {
        use crate::platform::exoscale;
        let mut flow = Flow::new(svc(&exoscale::PLATFORM), 1);
        flow.fetch_metadata();
        let mut script = std::vec![Ok((200, ""))];
        script.extend(core::iter::repeat_n(Ok((200, "v")), 9));
        script.push(Ok((200, "ssh-ed25519 AAAA k\n")));
        let (sent, r) = run(&mut flow, &script);
        assert_eq!(r, Ok(Step::NoUserData));
        let paths: std::vec::Vec<&str> = sent.iter().map(|s| s.split(' ').nth(1).unwrap()).collect();
        assert_eq!(
            paths,
            [
                "/1.0/user-data",
                "/1.0/meta-data/instance-id",
                "/1.0/meta-data/local-hostname",
                "/1.0/meta-data/public-hostname",
                "/1.0/meta-data/availability-zone",
                "/1.0/meta-data/public-ipv4",
                "/1.0/meta-data/local-ipv4",
                "/1.0/meta-data/service-offering",
                "/1.0/meta-data/cloud-identifier",
                "/1.0/meta-data/vm-id",
                "/1.0/meta-data/public-keys",
            ]
        );
        assert_eq!(flow.meta.keys().count(), 1);
    }

    #[test]
    fn tokens_that_could_inject_headers_are_refused() {
        for bad in ["", "  \n", "a\r\nX-Evil: 1", "tok en", "t\u{7f}"] {
            let (_, r) = script(&aws::PLATFORM, &[Ok((200, bad))]);
            assert_eq!(r, Err(Failure::BadToken), "{bad:?}");
        }
        let long = "a".repeat(TOKEN_MAX + 1);
        let (_, r) = script(&aws::PLATFORM, &[Ok((200, long.as_str()))]);
        assert_eq!(r, Err(Failure::BadToken));
    }

    #[test]
    fn server_errors_and_transport_failures_back_off_with_jitter() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 1);
        let mut now = t(0);
        let mut waits = std::vec::Vec::new();
        for _ in 0..8 {
            flow.request(&mut [0u8; 512], b"h", None).unwrap();
            let Ok(Step::RetryAt(at)) = flow.on_response(now, t(60_000), head(503), b"") else { panic!() };
            waits.push((at - now).total_millis());
            now = at;
        }
        // Equal jitter: between half and all of 200, 400, 800, ... capped at 5 s.
        for (i, w) in waits.iter().enumerate() {
            let full = (200u64 << i.min(5)).min(5000);
            assert!(*w >= full / 2 && *w <= full, "wait {i} = {w} ms");
        }
        let (_, r) = script(
            &aws::PLATFORM,
            &[Err(Transport::Refused), Err(Transport::Reset), Ok((200, "t")), Ok((500, "")), Ok((200, "x"))],
        );
        assert_eq!(r, Ok(Step::UserData));
    }

    #[test]
    fn budget_ends_retries() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 3);
        flow.request(&mut [0u8; 512], b"h", None).unwrap();
        assert_eq!(
            flow.on_transport(t(29_950), t(DEADLINE), Transport::Timeout),
            Err(Failure::Budget(Last::Transport(Transport::Timeout)))
        );
        let mut flow = Flow::new(svc(&aws::PLATFORM), 3);
        flow.request(&mut [0u8; 512], b"h", None).unwrap();
        assert_eq!(flow.on_response(t(29_990), t(DEADLINE), head(500), b""), Err(Failure::Budget(Last::Status(500))));
    }

    #[test]
    fn a_long_backoff_becomes_one_last_attempt_before_the_deadline() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 3);
        // Six failures make the next backoff 2.5–5 s; only 1 s of budget is left.
        for _ in 0..6 {
            flow.request(&mut [0u8; 512], b"h", None).unwrap();
            flow.on_transport(t(0), t(60_000), Transport::Refused).unwrap();
        }
        flow.request(&mut [0u8; 512], b"h", None).unwrap();
        assert_eq!(flow.on_transport(t(29_000), t(DEADLINE), Transport::Refused), Ok(Step::RetryAt(t(DEADLINE - 200))));
    }

    #[test]
    fn retry_after_is_honoured_within_the_budget() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 5);
        flow.request(&mut [0u8; 512], b"h", None).unwrap();
        let h = Head { status: 429, retry_after: Some(2) };
        let Ok(Step::RetryAt(at)) = flow.on_response(t(1000), t(DEADLINE), h, b"") else { panic!() };
        assert!(at >= t(3000) && at <= t(3100), "{at}");
        assert_eq!(flow.on_response(t(1000), t(2500), h, b""), Err(Failure::RetryAfterTooLong(2)));
    }

    #[test]
    fn other_statuses_and_bad_http_end_the_flow() {
        let (_, r) = script(&aws::PLATFORM, &[Ok((200, "t")), Ok((302, ""))]);
        assert_eq!(r, Err(Failure::Status(302)), "redirects are not followed");
        let (_, r) = script(&aws::PLATFORM, &[Ok((400, ""))]);
        assert_eq!(r, Err(Failure::Status(400)));
        let mut flow = Flow::new(svc(&aws::PLATFORM), 3);
        assert_eq!(flow.on_http_error(t(0), t(DEADLINE), HttpError::BadChunk), Err(Failure::Http(HttpError::BadChunk)));
        assert!(matches!(flow.on_http_error(t(0), t(DEADLINE), HttpError::Truncated), Ok(Step::RetryAt(_))));
    }

    #[test]
    fn request_count_is_bounded() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 9);
        let mut n = 0;
        for _ in 0..MAX_REQUESTS + 5 {
            flow.request(&mut [0u8; 512], b"h", None).unwrap();
            n += 1;
            if flow.on_transport(t(0), t(u32::MAX as u64), Transport::Refused).is_err() {
                break;
            }
        }
        assert_eq!(n, MAX_REQUESTS);
    }

    /// A service shaped like IBM Cloud's: a JSON-bodied token PUT whose token is a JSON member,
    /// sent as `Authorization: Bearer …`.
    const BEARER: Service = Service {
        endpoints: &[],
        token: Some(&crate::platform::TokenStep {
            method: "PUT",
            path: "/identity/v1/token?version=2025-08-26",
            fields: &[("Metadata-Flavor", "ibm"), ("Content-Type", "application/json")],
            body: r#"{"expires_in": 300}"#,
            take: Take::Member("access_token"),
            header: "Authorization",
            prefix: "Bearer ",
            tokenless_on_404: false,
            refresh_on: &[401],
        }),
        user_data: crate::platform::UserData {
            resources: &[crate::platform::Resource { path: "/metadata/v1/instance/initialization", fields: &[] }],
            encoding: crate::decode::Encoding::Raw,
            none_on_404: true,
            take: Take::Body,
        },
        metadata: &[],
        meta_fields: &[],
        connect: crate::platform::Connect::PLAIN,
    };

    #[test]
    fn token_from_a_json_member_with_a_body_and_a_prefix() {
        let mut flow = Flow::new(&BEARER, 1);
        let (sent, r) = run(
            &mut flow,
            &[Ok((200, r#"{"access_token": "eyJ.abc", "expires_in": 300}"#)), Ok((200, "#cloud-config"))],
        );
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent[0].starts_with("PUT /identity/v1/token?version=2025-08-26 HTTP/1.1\r\n"));
        assert!(sent[0].contains("Content-Length: 19\r\n"));
        assert!(sent[0].ends_with("\r\n\r\n{\"expires_in\": 300}"));
        assert!(sent[1].contains("Authorization: Bearer eyJ.abc\r\n"));
        // No such member, a non-string member, or a broken document: no token.
        for bad in
            [r#"{"token": "x"}"#, r#"{"access_token": 5}"#, r#"{"access_token": "a b"}"#, r#"{"access_token": "x""#]
        {
            let (_, r) = run(&mut Flow::new(&BEARER, 1), &[Ok((200, bad))]);
            assert_eq!(r, Err(Failure::BadToken), "{bad}");
        }
    }

    #[test]
    fn a_404_moves_to_the_next_user_data_resource_and_the_last_means_none() {
        let (sent, r) = script(&openstack::PLATFORM, &[Ok((404, "")), Ok((404, ""))]);
        assert_eq!(r, Ok(Step::NoUserData));
        assert_eq!(first_line(&sent[0]), "GET /openstack/latest/user_data HTTP/1.1");
        assert_eq!(first_line(&sent[1]), "GET /latest/user-data HTTP/1.1");
        let (sent, r) = script(&openstack::PLATFORM, &[Ok((404, "")), Ok((200, "x"))]);
        assert_eq!((sent.len(), r), (2, Ok(Step::UserData)));
        let (sent, r) = script(&openstack::PLATFORM, &[Ok((200, "x"))]);
        assert_eq!((sent.len(), r), (1, Ok(Step::UserData)));
    }

    #[test]
    fn fallback_documents_are_skipped_when_their_value_is_known() {
        // meta_data.json gave keys: the EC2 key index is never asked.
        let mut flow = Flow::new(svc(&openstack::PLATFORM), 3);
        flow.fetch_metadata();
        let meta = r#"{"uuid": "b3c7", "public_keys": {"k": "ssh-ed25519 AAAA k"}}"#;
        let answers = [
            Ok((200, "x")),
            Ok((200, meta)),
            Ok((200, "h.novalocal")),
            Ok((200, "i-1")),
            Ok((200, "m1.small")),
            Ok((200, "10.0.0.5")),
            Ok((200, "")),
        ];
        let (sent, r) = run(&mut flow, &answers);
        assert_eq!(r, Ok(Step::UserData));
        assert!(sent.iter().all(|s| !s.contains("public-keys")), "{sent:?}");
        assert_eq!(flow.meta.keys().count(), 1);
        // Without the OpenStack document, the EC2 index and key follow.
        let mut flow = Flow::new(svc(&openstack::PLATFORM), 3);
        flow.fetch_metadata();
        let answers = [
            Ok((200, "x")),
            Ok((404, "")),
            Ok((200, "h")),
            Ok((200, "i-1")),
            Ok((200, "t")),
            Ok((200, "l")),
            Ok((200, "p")),
            Ok((200, "0=k")),
            Ok((200, "ssh-rsa AAAA")),
        ];
        let (sent, r) = run(&mut flow, &answers);
        assert_eq!(r, Ok(Step::UserData));
        assert_eq!(first_line(&sent[8]), "GET /latest/meta-data/public-keys/0/openssh-key HTTP/1.1");
        assert_eq!(flow.meta.keys().collect::<std::vec::Vec<_>>(), [&b"ssh-rsa AAAA"[..]]);
    }

    #[test]
    fn the_request_cap_names_itself() {
        let mut flow = Flow::new(svc(&aws::PLATFORM), 9);
        let mut last = Ok(Step::Request);
        for _ in 0..MAX_REQUESTS {
            flow.request(&mut [0u8; 512], b"h", None).unwrap();
            // The token endpoint keeps answering 404 (tokenless), then user-data keeps 500ing.
            last = flow.on_response(t(0), t(u32::MAX as u64), head(500), b"");
            if last.is_err() {
                break;
            }
        }
        assert_eq!(last, Err(Failure::Budget(Last::Status(500))));
        assert_eq!(std::format!("{}", Failure::RequestCap), "96 requests sent without a usable answer");
        assert!(!std::format!("{}", Failure::Budget(Last::Status(500))).contains("HTTP 0"));
    }

    #[test]
    fn packet_asks_its_fixed_url_with_accept() {
        use crate::platform::{Role, packet};
        // The engine hands the flow the platform's own URL, as it does a seed.
        let url = Url::parse(packet::URL.as_bytes()).unwrap();
        let ask = |flow: &mut Flow| {
            let mut buf = [0u8; 1024];
            let n = flow.request(&mut buf, url.authority, Some(&url)).unwrap();
            String::from_utf8(buf[..n].to_vec()).unwrap()
        };
        let mut flow = Flow::new(svc(&packet::PLATFORM), 7);
        flow.fetch_metadata();
        let sent = ask(&mut flow);
        assert!(sent.starts_with("GET /userdata HTTP/1.1\r\nHost: metadata.packet.net\r\n"), "{sent}");
        assert!(sent.contains("\r\nAccept: */*\r\n"));
        assert_eq!(flow.on_response(t(0), t(DEADLINE), head(200), b"{\"ignition\":{}}"), Ok(Step::Request));
        let sent = ask(&mut flow);
        assert!(sent.starts_with("GET /metadata HTTP/1.1\r\nHost: metadata.packet.net\r\n"), "{sent}");
        assert!(sent.contains("\r\nAccept: */*\r\n"));
        let meta = br#"{"id": "6f1a", "hostname": "m1", "ssh_keys": ["ssh-ed25519 AAAA k"], "plan": "c3.small.x86",
            "network": {"addresses": [{"address": "147.75.1.2", "public": true, "gateway": "147.75.1.1"}]}}"#;
        assert_eq!(flow.on_response(t(0), t(DEADLINE), head(200), meta), Ok(Step::UserData));
        assert_eq!(flow.meta.get(Role::InstanceId), Some(&b"6f1a"[..]));
        assert_eq!(flow.meta.get(Role::Hostname), Some(&b"m1"[..]));
        assert_eq!(flow.meta.keys().count(), 1);
        // Ignition: an empty body is no config; a 404 is an error like any other.
        let mut flow = Flow::new(svc(&packet::PLATFORM), 7);
        ask(&mut flow);
        assert_eq!(flow.on_response(t(0), t(DEADLINE), head(200), b""), Ok(Step::NoUserData));
        let mut flow = Flow::new(svc(&packet::PLATFORM), 7);
        ask(&mut flow);
        assert_eq!(flow.on_response(t(0), t(DEADLINE), head(404), b""), Err(Failure::Status(404)));
        // The service's 406 to another `Accept` is no answer to retry.
        let mut flow = Flow::new(svc(&packet::PLATFORM), 7);
        ask(&mut flow);
        assert_eq!(flow.on_response(t(0), t(DEADLINE), head(406), b""), Err(Failure::Status(406)));
    }
}
