//! Instance metadata, sans-IO: taking values out of metadata documents (as each platform's
//! [`Document`] list describes them), and rendering what the next boot stages read — Afterburn
//! attributes, a cloud-init NoCloud `meta-data`, an Ignition base config fragment — plus the
//! check that user-data is an Ignition config.
//!
//! Every value is validated before it is kept: one line, no control characters, and for the
//! attribute file none of the characters systemd's `EnvironmentFile=` parser treats specially.
//! A value that fails is dropped (and counted), never written half-sanitised.

use core::fmt::Write as _;

use smoltcp::wire::IpAddress;

use crate::decode::json::{self, Event, JsonError, Scanner, Writer};
use crate::decode::yaml;
use crate::platform::{Body, Document, Field, List, Records, Role};

/// Bytes of metadata text kept in one run (values, not documents).
pub const ARENA: usize = 16 * 1024;
/// Values kept in one run.
pub const VALUES_MAX: usize = 64;
/// SSH keys read through a key index (EC2); also bounds the follow-up requests.
pub const KEYS_MAX: usize = 16;
/// Longest key id of a key index (EC2's are numbers; Alibaba's key-pair names, `skp-…`).
pub const KEY_ID_MAX: usize = 64;

/// One key of a key index, as it goes into `<index path><id>/openssh-key`.
pub type KeyId = heapless::String<KEY_ID_MAX>;
/// Longest hostname kept: HOST_NAME_MAX (hostname(7)); Afterburn cuts a longer name at its
/// first dot.
pub const HOSTNAME_MAX: usize = 64;
/// Member-path depth tracked; values nested deeper never match a platform path.
const PATH_DEPTH: usize = 6;
const NAME_MAX: usize = 48;

#[derive(Clone, Copy, Debug)]
struct Value {
    field: &'static Field,
    /// Position in the array the value came from.
    index: Option<u8>,
    start: u16,
    end: u16,
}

/// Why a metadata document was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DocError {
    Json(JsonError),
    Yaml(yaml::YamlError),
}

impl core::fmt::Display for DocError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            DocError::Json(e) => e.fmt(f),
            DocError::Yaml(e) => write!(f, "YAML {e}"),
        }
    }
}

/// The values gathered so far in this run.
pub struct Metadata {
    arena: heapless::Vec<u8, ARENA>,
    values: heapless::Vec<Value, VALUES_MAX>,
    /// Key numbers from a key index, to read one by one.
    pub pending_keys: heapless::Deque<KeyId, KEYS_MAX>,
    /// Values refused (bad characters, too long, no room).
    pub dropped: u32,
}

const KEY_FIELD: Field = Field::role(Role::SshKey, None);
/// What a [`Role::BlockingKey`] sets.
const BLOCK_FIELD: Field = Field::role(Role::Block, None);

impl Default for Metadata {
    fn default() -> Self {
        Self::new()
    }
}

impl Metadata {
    pub const fn new() -> Metadata {
        Metadata {
            arena: heapless::Vec::new(),
            values: heapless::Vec::new(),
            pending_keys: heapless::Deque::new(),
            dropped: 0,
        }
    }

    /// Takes what `doc` describes out of its response body. A key-index follow-up (a single
    /// key's text) is passed with `key = true`.
    pub fn absorb(&mut self, doc: &'static Document, key: bool, body: &[u8]) -> Result<(), DocError> {
        if key {
            self.keep(&KEY_FIELD, None, body.trim_ascii());
            return Ok(());
        }
        match &doc.body {
            Body::Text(field) => self.keep(field, None, body.trim_ascii()),
            Body::KeyIndex => {
                for line in body.split(|&b| b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty()) {
                    // `N=name` (EC2: the number is the id) or `id/` (Alibaba: a key-pair name).
                    // The id becomes part of a request path, so only a short run of letters,
                    // digits, `-`, `_` and `.` is taken; any other line is skipped, not guessed at.
                    let id = match line.iter().position(|&b| b == b'=') {
                        Some(i) => &line[..i],
                        None => line.strip_suffix(b"/").unwrap_or(b""),
                    };
                    let safe = |b: &u8| b.is_ascii_alphanumeric() || b"-_.".contains(b);
                    let id = core::str::from_utf8(id)
                        .ok()
                        .filter(|s| !matches!(*s, "" | "." | "..") && s.bytes().all(|b| safe(&b)))
                        .and_then(|s| KeyId::try_from(s).ok());
                    if id.is_none_or(|id| self.pending_keys.push_back(id).is_err()) {
                        self.dropped += 1;
                    }
                }
            }
            Body::Json(paths) => return self.members(paths, body, false),
            Body::Yaml(paths) => return self.members(paths, body, true),
            Body::CloudConfigPart(paths) => {
                if let Some(part) = cloud_config_part(body) {
                    return self.members(paths, part, true);
                }
            }
            // Each leaf is its own body: see `Metadata::put`.
            Body::Leaves(_) => {}
        }
        Ok(())
    }

    /// One value per non-empty line of `text`; with `user_sep`, each line is `user<sep>value`.
    fn lines(&mut self, field: &'static Field, user_sep: Option<u8>, text: &[u8]) {
        for line in text.split(|&b| b == b'\n').map(<[u8]>::trim_ascii).filter(|l| !l.is_empty()) {
            let value = match user_sep {
                // `user<sep>value`: a line without the separator names no user.
                Some(sep) => match line.iter().position(|&b| b == sep) {
                    Some(i) => line[i + 1..].trim_ascii(),
                    None => {
                        self.dropped += 1;
                        continue;
                    }
                },
                None => line,
            };
            self.value(field, None, value);
        }
    }

    /// Takes the values at `paths` out of a JSON or YAML document (same events either way).
    /// Values are kept only once the whole document parsed: a broken one contributes nothing.
    fn members(&mut self, paths: &'static [(&'static str, Field)], body: &[u8], yaml: bool) -> Result<(), DocError> {
        let mut path = PathTracker::new();
        let mark = (self.arena.len(), self.values.len());
        let mut record = Record::default();
        // The records table whose element the innermost object is, if any.
        let table = |path: &PathTracker| {
            paths.iter().find_map(|(p, f)| match f.list {
                List::Records(i) => path.element_of(p).and(crate::platform::RECORDS.get(usize::from(i)).copied()),
                _ => None,
            })
        };
        let mut on = |event, text: Option<&[u8]>| {
            // A joined list starts as an empty value: Afterburn writes `NAME=` for an empty
            // array (Akamai's `tags: []`).
            if event == Event::Array
                && let Some((_, field)) =
                    paths.iter().find(|(p, f)| matches!(f.list, List::Joined(_)) && path.matches(p))
            {
                self.keep(field, Some(0), b"");
            }
            match path.on(event, text) {
                // A member of a record: kept until the record is complete.
                Some((_, scalar)) if let Some(t) = table(&path) => record.member(t, path.name(), scalar),
                Some((index, scalar)) => {
                    if let Some((_, field)) = paths.iter().find(|(p, _)| path.matches(p)) {
                        match scalar {
                            Some(t) => self.keep(field, index, t),
                            None => self.dropped += 1,
                        }
                    }
                }
                // The next record starts: the one before is complete.
                None if event == Event::Object
                    && let Some(t) = table(&path) =>
                {
                    self.record(&mut record);
                    record.start(t);
                }
                None => {}
            }
        };
        let r = if yaml {
            yaml::scan(body, &mut on).map_err(DocError::Yaml)
        } else {
            json::scan(body, &mut on).map_err(DocError::Json)
        };
        self.record(&mut record);
        if r.is_err() {
            self.arena.truncate(mark.0);
            self.values.truncate(mark.1);
        }
        r
    }

    /// Writes the record read last, if it is complete: its address under the next number of
    /// its class, and its `with` address under the same number. One without its address or its
    /// flag (or with one that is not valid) is dropped and takes no number.
    // Out of line: measured smaller so (two callers).
    #[inline(never)]
    fn record(&mut self, r: &mut Record) {
        let Some(table) = r.table else { return };
        let (address, flag, with) = (r.address.take(), r.flag.take(), r.with.take());
        let (Some(address), Some(flag)) = (address, flag) else {
            self.dropped += 1;
            return;
        };
        let class = 2 * usize::from(matches!(address, IpAddress::Ipv6(_))) + usize::from(flag);
        let n = r.counts[class];
        r.counts[class] = n.saturating_add(1);
        for (field, ip) in table.classes[class].iter().zip([Some(address), with]) {
            if let Some(t) = ip.and_then(|ip| crate::report::text(format_args!("{}", crate::fmt::Addr(ip)))) {
                self.keep(field, Some(n), t.as_bytes());
            }
        }
    }

    /// Keeps one value found outside a document (a network configuration's address).
    pub fn put(&mut self, field: &'static Field, text: &[u8]) {
        self.keep(field, None, text);
    }

    fn keep(&mut self, field: &'static Field, index: Option<u8>, text: &[u8]) {
        match field.list {
            List::Lines => self.lines(field, None, text),
            List::UserLines(sep) => self.lines(field, Some(sep), text),
            List::FirstV6 => {
                // `addr[/prefix]`; anything else is another family's value, not a bad one.
                let addr = text.trim_ascii().split(|&b| b == b'/').next().and_then(crate::net::config::ipv6);
                if let Some(a) = addr
                    && !self.values.iter().any(|v| core::ptr::eq(v.field, field))
                    && let Some(t) = crate::report::text(format_args!("{}", crate::fmt::Ip6(a)))
                {
                    self.value(field, None, t.as_bytes());
                }
            }
            // A scalar where the records' objects belong holds no record.
            List::Records(_) => self.dropped += 1,
            _ => self.value(field, index, text),
        }
    }

    fn value(&mut self, field: &'static Field, index: Option<u8>, text: &[u8]) {
        // Surrounding whitespace is no part of a value: a key imported from a `.pub` file ends
        // in a newline in Nova's `meta_data.json` (as in both of Afterburn's fixtures).
        let text = text.trim_ascii();
        // An empty value is still an attribute (Afterburn writes `AFTERBURN_X=`), but nothing
        // flint itself could use.
        if text.is_empty() && (field.attr.is_none() || field.role != Role::None || field.omit_empty) {
            return;
        }
        let text = match field.role {
            Role::Hostname => match hostname(text) {
                Some(h) => h,
                None => {
                    self.dropped += 1;
                    return;
                }
            },
            // Anything but a yes leaves the switch off (cloud-init: `.lower() == "true"`;
            // Google's guest agent: Go's `strconv.ParseBool`).
            Role::Block if !(text.eq_ignore_ascii_case(b"true") || text == b"1" || text == b"t" || text == b"T") => {
                return;
            }
            Role::BlockingKey if self.get(Role::Block).is_none() => {
                self.keep(&BLOCK_FIELD, None, b"true");
                text
            }
            _ => text,
        };
        if text.iter().any(|&b| b < 0x20 || b == 0x7f) {
            self.dropped += 1;
            return;
        }
        // Array elements joined on one line extend the value the array started (empty until
        // its first element, which needs no separator).
        if let (List::Joined(sep), Some(i)) = (field.list, index)
            && let Some(last) =
                self.values.last_mut().filter(|v| core::ptr::eq(v.field, field) && v.end as usize == self.arena.len())
        {
            let sep: &[u8] = if i == 0 { b"" } else { &[sep] };
            if self.arena.extend_from_slice(sep).is_ok() && self.arena.extend_from_slice(text).is_ok() {
                last.end = self.arena.len() as u16;
                return;
            }
            self.arena.truncate(last.end as usize);
            self.dropped += 1;
            return;
        }
        let start = self.arena.len();
        if self.arena.extend_from_slice(text).is_err() {
            self.dropped += 1;
            return;
        }
        let index = if field.list == List::Indexed { index } else { None };
        let value = Value { field, index, start: start as u16, end: self.arena.len() as u16 };
        if self.values.push(value).is_err() {
            self.arena.truncate(start);
            self.dropped += 1;
        }
    }

    fn text(&self, v: &Value) -> &[u8] {
        &self.arena[v.start as usize..v.end as usize]
    }

    /// The first value with `role`.
    pub fn get(&self, role: Role) -> Option<&[u8]> {
        self.values.iter().find(|v| v.field.role == role).map(|v| self.text(v))
    }

    /// Every SSH key, in the order the platform listed them.
    pub fn keys(&self) -> impl Iterator<Item = &[u8]> {
        self.values.iter().filter(|v| matches!(v.field.role, Role::SshKey | Role::BlockingKey)).map(|v| self.text(v))
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Afterburn's attribute file: `NAME=value` lines (`NAME_<i>` for list elements), in the
    /// order the values arrived. Values systemd's `EnvironmentFile=` would reinterpret (quotes,
    /// backslashes) are left out rather than escaped: Afterburn writes values raw too.
    ///
    /// Every Afterburn attribute is `AFTERBURN_<PLATFORM>_<NAME>` with the platform's id in
    /// capitals (docs/usage/attributes.md), so the tables hold only `<NAME>`.
    pub fn render_attributes<'b>(&self, platform: &str, out: &'b mut [u8]) -> Option<&'b [u8]> {
        let mut w = Writer::new(out);
        for v in &self.values {
            let (Some(name), text) = (v.field.attr, self.text(v)) else { continue };
            if text.iter().any(|&b| matches!(b, b'"' | b'\'' | b'\\')) {
                continue;
            }
            w.bytes(b"AFTERBURN_").ok()?;
            for b in platform.bytes() {
                w.bytes(&[b.to_ascii_uppercase()]).ok()?;
            }
            w.bytes(b"_").ok()?;
            w.bytes(name.as_bytes()).ok()?;
            if let Some(i) = v.index {
                write!(w, "_{i}").ok()?;
            }
            w.bytes(b"=").ok()?;
            w.bytes(text).ok()?;
            w.bytes(b"\n").ok()?;
        }
        Some(w.into_slice())
    }

    /// cloud-init NoCloud `meta-data` (YAML). Every scalar is a double-quoted string with JSON
    /// escapes, which YAML's double-quoted style reads the same way (YAML 1.2 §7.3.1).
    /// `None` without an instance id: cloud-init keys "first boot" on it, so a made-up one
    /// would be worse than no seed.
    pub fn render_meta_data<'b>(&self, out: &'b mut [u8]) -> Option<&'b [u8]> {
        let id = self.get(Role::InstanceId)?;
        let mut w = Writer::new(out);
        w.bytes(b"instance-id: ").ok()?;
        w.quoted(id).ok()?;
        if let Some(h) = self.get(Role::Hostname) {
            w.bytes(b"\nlocal-hostname: ").ok()?;
            w.quoted(h).ok()?;
        }
        let mut keys = self.keys().peekable();
        if keys.peek().is_some() {
            w.bytes(b"\npublic-keys:").ok()?;
            for k in keys {
                w.bytes(b"\n  - ").ok()?;
                w.quoted(k).ok()?;
            }
        }
        w.bytes(b"\n").ok()?;
        Some(w.into_slice())
    }

    /// An Ignition base config fragment (spec 3.0.0, which every Ignition v2 reads and merges
    /// with newer user configs): `/etc/hostname`, and the SSH keys of `user`. `Some(empty)` when
    /// there is neither; `None` when `out` is too small.
    pub fn render_fragment<'b>(&self, user: &[u8], out: &'b mut [u8]) -> Option<&'b [u8]> {
        let hostname = self.get(Role::Hostname);
        let mut keys = self.keys().peekable();
        let has_keys = keys.peek().is_some();
        let mut w = Writer::new(out);
        if hostname.is_none() && !has_keys {
            return Some(w.into_slice());
        }
        w.bytes(br#"{"ignition":{"version":"3.0.0"}"#).ok()?;
        if let Some(h) = hostname {
            // A hostname holds only letters, digits, '-', '_' and '.' (see `hostname`), none of
            // which a data URL (RFC 2397) needs escaped; the newline is `%0A`.
            w.bytes(br#","storage":{"files":[{"path":"/etc/hostname","mode":420,"overwrite":true,"contents":{"source":"data:,"#).ok()?;
            w.bytes(h).ok()?;
            w.bytes(br#"%0A"}}]}"#).ok()?;
        }
        if has_keys {
            w.bytes(br#","passwd":{"users":[{"name":"#).ok()?;
            w.quoted(user).ok()?;
            w.bytes(br#","sshAuthorizedKeys":["#).ok()?;
            for (i, k) in keys.enumerate() {
                if i > 0 {
                    w.bytes(b",").ok()?;
                }
                w.quoted(k).ok()?;
            }
            w.bytes(b"]}]}").ok()?;
        }
        w.bytes(b"}\n").ok()?;
        Some(w.into_slice())
    }
}

/// A hostname fit for `/etc/hostname`: letters, digits, `-`, `_`, `.`; one longer than
/// [`HOSTNAME_MAX`] is cut at its first dot (as Afterburn does), and refused if still too long.
pub fn hostname(name: &[u8]) -> Option<&[u8]> {
    let name = if name.len() > HOSTNAME_MAX { name.split(|&b| b == b'.').next()? } else { name };
    let ok = !name.is_empty()
        && name.len() <= HOSTNAME_MAX
        && name.iter().all(|&b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'))
        && name[0] != b'-'
        && name[0] != b'.';
    ok.then_some(name)
}

/// The `text/cloud-config` part of a MIME multipart message (RFC 2046 §5.1) that names
/// `ssh_authorized_keys`, as Afterburn's IBM Cloud provider picks it; its body, without the line
/// break before the next delimiter. Parts with a transfer encoding other than none are not
/// decoded (cloud-init's own multipart writer leaves text parts as they are).
pub fn cloud_config_part(msg: &[u8]) -> Option<&[u8]> {
    /// Each line with where it starts and where the next one does (CR LF or LF).
    fn lines(b: &[u8]) -> impl Iterator<Item = (usize, usize, &[u8])> {
        let mut at = 0;
        b.split(|&c| c == b'\n').map(move |l| {
            let start = at;
            at += l.len() + 1;
            (start, at, l.strip_suffix(b"\r").unwrap_or(l))
        })
    }
    fn header<'h>(line: &'h [u8], name: &[u8]) -> Option<&'h [u8]> {
        let (n, v) = line.split_at(line.iter().position(|&c| c == b':')?);
        n.eq_ignore_ascii_case(name).then(|| v[1..].trim_ascii())
    }
    // The boundary, from the message's Content-Type (`boundary=x` or `boundary="x"`).
    let head = lines(msg).map(|(_, _, l)| l).take_while(|l| !l.is_empty());
    let ctype = head.filter_map(|l| header(l, b"content-type")).next()?;
    let at = ctype.windows(9).position(|w| w.eq_ignore_ascii_case(b"boundary="))? + 9;
    let rest = &ctype[at..];
    let boundary = match rest.strip_prefix(b"\"") {
        Some(q) => &q[..q.iter().position(|&c| c == b'"')?],
        None => rest.split(|&c| c == b';' || c.is_ascii_whitespace()).next()?,
    };
    if boundary.is_empty() {
        return None;
    }
    let delimiter = |l: &[u8]| l.strip_prefix(b"--").and_then(|l| l.strip_prefix(boundary)).is_some();
    // Each part: headers up to a blank line, then its body up to the next delimiter.
    let mut part: Option<(bool, Option<usize>)> = None;
    for (start, next, line) in lines(msg) {
        if delimiter(line) {
            if let Some((true, Some(body))) = part {
                let text = &msg[body..start.saturating_sub(1).max(body)];
                let text = text.strip_suffix(b"\r").unwrap_or(text);
                if text.windows(19).any(|w| w == b"ssh_authorized_keys") {
                    return Some(text);
                }
            }
            part = Some((false, None));
            continue;
        }
        if let Some((cloud_config, body @ None)) = &mut part {
            if line.is_empty() {
                *body = Some(next);
            } else if header(line, b"content-type").is_some_and(|v| v.starts_with(b"text/cloud-config")) {
                *cloud_config = true;
            }
        }
    }
    None
}

/// The record of a [`Records`] table being read: what its members gave so far.
#[derive(Default)]
struct Record {
    table: Option<&'static Records>,
    address: Option<IpAddress>,
    flag: Option<bool>,
    with: Option<IpAddress>,
    /// Records numbered so far, by class.
    counts: [u8; 4],
}

impl Record {
    /// A record of `table` starts (the one before has been written).
    fn start(&mut self, table: &'static Records) {
        if !self.table.is_some_and(|t| core::ptr::eq(t, table)) {
            (self.table, self.counts) = (Some(table), [0; 4]);
        }
    }

    /// A scalar member of the record: the last of a repeated member counts, as in JSON readers.
    fn member(&mut self, table: &'static Records, name: Option<&[u8]>, text: Option<&[u8]>) {
        let text = text.unwrap_or_default();
        match name {
            Some(n) if n == table.address.as_bytes() => self.address = ip(text),
            Some(n) if n == table.with.as_bytes() => self.with = ip(text),
            Some(n) if n == table.flag.as_bytes() => {
                self.flag = match text {
                    b"true" => Some(true),
                    b"false" => Some(false),
                    _ => None,
                }
            }
            _ => {}
        }
    }
}

/// An IPv4 or IPv6 address as [`crate::net::config`] reads them (no prefix, no zone).
fn ip(text: &[u8]) -> Option<IpAddress> {
    use crate::net::config::{ipv4, ipv6};
    match ipv4(text) {
        Some([a, b, c, d]) => Some(IpAddress::v4(a, b, c, d)),
        None => ipv6(text).map(|a| IpAddress::Ipv6(a.into())),
    }
}

/// The member path of the token being scanned: object member names by depth, arrays skipped.
pub(crate) struct PathTracker {
    names: [[u8; NAME_MAX]; PATH_DEPTH],
    lens: [u8; PATH_DEPTH],
    /// Bit `i`: the container at depth `i + 1` is an array.
    arrays: u64,
    /// Element counters of the arrays being scanned, by depth.
    counts: [u8; PATH_DEPTH],
    depth: usize,
    /// Some name on the path was too long to keep: nothing below it matches.
    blurred: u64,
}

impl PathTracker {
    pub(crate) fn new() -> Self {
        PathTracker {
            names: [[0; NAME_MAX]; PATH_DEPTH],
            lens: [0; PATH_DEPTH],
            arrays: 0,
            counts: [0; PATH_DEPTH],
            depth: 0,
            blurred: 0,
        }
    }

    /// Follows one event; for a scalar, returns its array index (if in an array) and its text.
    pub(crate) fn on<'t>(&mut self, event: Event, text: Option<&'t [u8]>) -> Option<(Option<u8>, Option<&'t [u8]>)> {
        let d = self.depth;
        match event {
            Event::Key => {
                if let Some(slot) = d.checked_sub(1).filter(|&s| s < PATH_DEPTH) {
                    match text.filter(|t| t.len() <= NAME_MAX) {
                        Some(t) => {
                            self.names[slot][..t.len()].copy_from_slice(t);
                            self.lens[slot] = t.len() as u8;
                            self.blurred &= !(1 << slot);
                        }
                        None => self.blurred |= 1 << slot,
                    }
                }
                None
            }
            Event::Object | Event::Array => {
                // A container is an element of the array around it, too.
                self.element();
                if d < 64 {
                    if event == Event::Array {
                        self.arrays |= 1 << d;
                        if d < PATH_DEPTH {
                            self.counts[d] = 0;
                        }
                    } else {
                        self.arrays &= !(1 << d);
                    }
                }
                self.depth += 1;
                None
            }
            Event::End => {
                self.depth = d.saturating_sub(1);
                None
            }
            Event::Null => {
                self.element();
                None
            }
            _ => {
                // A scalar in an object that is an array element takes that element's index
                // (DigitalOcean's `interfaces.public[i].ipv4.ip_address` is `…_PUBLIC_i`).
                let index = self.element().or_else(|| self.enclosing());
                Some((index, text))
            }
        }
    }

    /// Counts an element of the innermost array; returns its index.
    // Out of line: measured smaller so (inlined, it grew its callers more than it costs).
    #[inline(never)]
    fn element(&mut self) -> Option<u8> {
        let slot = self.depth.checked_sub(1)?;
        if slot >= PATH_DEPTH || self.arrays & (1 << slot) == 0 {
            return None;
        }
        let i = self.counts[slot];
        self.counts[slot] = i.saturating_add(1);
        Some(i)
    }

    /// The index of the element being scanned in the innermost array around the current
    /// container, if any.
    fn enclosing(&self) -> Option<u8> {
        let slot = (0..self.depth.min(PATH_DEPTH)).rev().find(|&s| self.arrays & (1 << s) != 0)?;
        self.counts[slot].checked_sub(1)
    }

    /// Does the current path equal `pattern` (dotted member names, `*` for any)?
    pub(crate) fn matches(&self, pattern: &str) -> bool {
        self.matches_to(pattern, self.depth)
    }

    /// When the innermost container is an object that is an element of an array at `pattern`:
    /// that element's index (a record of [`Records`]).
    fn element_of(&self, pattern: &str) -> Option<u8> {
        let array = self.depth.checked_sub(2).filter(|&a| a + 1 < PATH_DEPTH)?;
        let shape = self.arrays >> array & 0b11;
        (shape == 0b01 && self.matches_to(pattern, array)).then(|| self.counts[array].wrapping_sub(1))
    }

    /// The name of the innermost object's current member, unless it was too long to keep.
    fn name(&self) -> Option<&[u8]> {
        let slot = self.depth.checked_sub(1).filter(|&s| s < PATH_DEPTH && self.blurred & (1 << s) == 0)?;
        Some(&self.names[slot][..self.lens[slot] as usize])
    }

    /// Do the member names of the outermost `depth` containers equal `pattern`?
    fn matches_to(&self, pattern: &str, depth: usize) -> bool {
        if depth > PATH_DEPTH {
            return false;
        }
        let mut parts = pattern.split('.');
        for slot in 0..depth {
            if self.arrays & (1 << slot) != 0 {
                continue;
            }
            if self.blurred & (1 << slot) != 0 {
                return false;
            }
            match parts.next() {
                Some("*") => {}
                Some(p) if p.as_bytes() == &self.names[slot][..self.lens[slot] as usize] => {}
                _ => return false,
            }
        }
        parts.next().is_none()
    }
}

/// What the user-data turned out to be, for `--ignition`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// A JSON object with `ignition.version` 3.x: Ignition v2 (spec 3) will take it.
    Config,
    /// Not JSON at all (a `#cloud-config`, a script...).
    NotJson(JsonError),
    /// JSON, but not an object with a string `ignition.version`.
    NoVersion,
    /// An `ignition.version` Ignition v2 does not read (spec 1 and 2 configs).
    OldVersion,
}

impl core::fmt::Display for Verdict {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            Verdict::Config => f.write_str("an Ignition config"),
            Verdict::NotJson(e) => write!(f, "not an Ignition config ({e})"),
            Verdict::NoVersion => f.write_str("not an Ignition config (no ignition.version)"),
            Verdict::OldVersion => f.write_str("an Ignition spec 1/2 config, which Ignition v2 does not read"),
        }
    }
}

/// Streams user-data through the JSON scanner and looks for `ignition.version`.
pub struct IgnitionCheck {
    scanner: Scanner,
    path: PathTracker,
    object: Option<bool>,
    /// The last `ignition.version` string seen (JSON readers keep the last of a repeated
    /// member): whether it names spec 3. One too long to keep is no spec 3 version.
    version: Option<bool>,
    error: Option<JsonError>,
}

impl Default for IgnitionCheck {
    fn default() -> Self {
        Self::new()
    }
}

impl IgnitionCheck {
    pub fn new() -> Self {
        IgnitionCheck { scanner: Scanner::new(), path: PathTracker::new(), object: None, version: None, error: None }
    }

    pub fn push(&mut self, chunk: &[u8]) {
        if self.error.is_some() {
            return;
        }
        let IgnitionCheck { scanner, path, object, version, .. } = self;
        let r = scanner.push(chunk, &mut |event, text| {
            object.get_or_insert(event == Event::Object);
            if let Some((_, t)) = path.on(event, text)
                && event == Event::String
                && path.depth == 2
                && path.matches("ignition.version")
            {
                *version = Some(t.is_some_and(|t| t.starts_with(b"3.")));
            }
        });
        self.error = r.err();
    }

    pub fn finish(mut self) -> Verdict {
        if self.error.is_none() {
            self.error = self.scanner.finish(&mut |_, _| {}).err();
        }
        match (self.error, self.object, &self.version) {
            (Some(e), ..) => Verdict::NotJson(e),
            (None, Some(true), Some(true)) => Verdict::Config,
            (None, Some(true), Some(false)) => Verdict::OldVersion,
            _ => Verdict::NoVersion,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::platform::{akamai, aws};
    extern crate std;
    use std::string::String;
    use std::vec::Vec;

    fn doc(platform: &'static crate::platform::Platform, path: &str) -> &'static Document {
        platform.services().flat_map(|s| s.metadata.iter()).find(|d| d.path == path).unwrap()
    }

    /// Takes `body` as the text leaf at `path` of `platform`'s service, as the flow does.
    fn leaf(m: &mut Metadata, platform: &'static crate::platform::Platform, path: &str, body: &[u8]) {
        let docs = platform.services().flat_map(|s| s.metadata.iter());
        let field = docs
            .flat_map(|d| (0..).map_while(move |i| d.leaf(i)).map(move |l| (d.path, l)))
            .find(|(prefix, (name, _))| path.strip_prefix(*prefix) == Some(*name))
            .map(|(_, (_, f))| f)
            .unwrap();
        m.put(field, body);
    }

    fn s(b: &[u8]) -> String {
        String::from_utf8(b.to_vec()).unwrap()
    }

    fn akamai_metadata() -> Metadata {
        let mut m = Metadata::new();
        let instance = br#"{"id": 12345, "host_uuid": "3a6b", "label": "web-1", "region": "us-ord", "type": "g6-nanode-1",
            "tags": ["a", "b c", "d"], "specs": {"vcpus": 1, "memory": 1024}, "backups": {"enabled": false, "status": null}}"#;
        m.absorb(doc(&akamai::PLATFORM, "/v1/instance"), false, instance).unwrap();
        let network = br#"{"interfaces": [], "ipv4": {"public": ["192.0.2.10/32", "192.0.2.11/32"], "private": [], "shared": []},
            "ipv6": {"slaac": "2001:db8::1/128", "link_local": "fe80::1/128", "ranges": [], "shared_ranges": ["2001:db8:1::/64"]}}"#;
        m.absorb(doc(&akamai::PLATFORM, "/v1/network"), false, network).unwrap();
        let keys = br#"{"users": {"root": ["ssh-ed25519 AAAA1 root@a", "ssh-rsa AAAA2"], "alice": ["ssh-ed25519 AAAA3 alice"]}}"#;
        m.absorb(doc(&akamai::PLATFORM, "/v1/ssh-keys"), false, keys).unwrap();
        m
    }

    #[test]
    fn akamai_attributes_use_afterburn_names() {
        let m = akamai_metadata();
        let mut buf = [0u8; 2048];
        let text = s(m.render_attributes("akamai", &mut buf).unwrap());
        assert_eq!(
            text,
            "AFTERBURN_AKAMAI_INSTANCE_ID=12345\n\
             AFTERBURN_AKAMAI_INSTANCE_HOST_UUID=3a6b\n\
             AFTERBURN_AKAMAI_INSTANCE_LABEL=web-1\n\
             AFTERBURN_AKAMAI_INSTANCE_REGION=us-ord\n\
             AFTERBURN_AKAMAI_INSTANCE_TYPE=g6-nanode-1\n\
             AFTERBURN_AKAMAI_INSTANCE_TAGS=a:b c:d\n\
             AFTERBURN_AKAMAI_PUBLIC_IPV4_0=192.0.2.10/32\n\
             AFTERBURN_AKAMAI_PUBLIC_IPV4_1=192.0.2.11/32\n\
             AFTERBURN_AKAMAI_IPV6_SLAAC=2001:db8::1/128\n\
             AFTERBURN_AKAMAI_IPV6_LINK_LOCAL=fe80::1/128\n\
             AFTERBURN_AKAMAI_IPV6_SHARED_RANGE_0=2001:db8:1::/64\n"
        );
        assert_eq!(m.get(Role::InstanceId), Some(&b"12345"[..]));
        assert_eq!(m.get(Role::Hostname), Some(&b"web-1"[..]));
        let keys: Vec<String> = m.keys().map(s).collect();
        assert_eq!(keys, ["ssh-ed25519 AAAA1 root@a", "ssh-rsa AAAA2", "ssh-ed25519 AAAA3 alice"]);
    }

    #[test]
    fn aws_text_leaves_and_key_index() {
        let mut m = Metadata::new();
        leaf(&mut m, &aws::PLATFORM, "/latest/meta-data/instance-id", b"i-0abc\n");
        leaf(&mut m, &aws::PLATFORM, "/latest/meta-data/local-hostname", b"ip-10-0-0-5.ec2.internal");
        m.absorb(
            doc(&aws::PLATFORM, "/latest/dynamic/instance-identity/document"),
            false,
            br#"{"region":"eu-west-1","instanceId":"i-0abc"}"#,
        )
        .unwrap();
        let index = doc(&aws::PLATFORM, "/latest/meta-data/public-keys/");
        m.absorb(index, false, b"0=my-key\n3=other\nbogus\n").unwrap();
        assert_eq!(m.pending_keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(), ["0", "3"]);
        assert_eq!(m.dropped, 1);
        m.absorb(index, true, b"ssh-ed25519 AAAAk1 me\n").unwrap();
        let mut buf = [0u8; 512];
        assert_eq!(
            s(m.render_attributes("aws", &mut buf).unwrap()),
            "AFTERBURN_AWS_INSTANCE_ID=i-0abc\nAFTERBURN_AWS_REGION=eu-west-1\n"
        );
        let mut buf = [0u8; 512];
        assert_eq!(
            s(m.render_meta_data(&mut buf).unwrap()),
            "instance-id: \"i-0abc\"\nlocal-hostname: \"ip-10-0-0-5.ec2.internal\"\npublic-keys:\n  - \"ssh-ed25519 AAAAk1 me\"\n"
        );
    }

    #[test]
    fn fragment_is_an_ignition_config() {
        let m = akamai_metadata();
        let mut buf = [0u8; 2048];
        let frag = m.render_fragment(b"core", &mut buf).unwrap();
        let v: serde_json::Value = serde_json::from_slice(frag).unwrap();
        assert_eq!(v["ignition"]["version"], "3.0.0");
        let file = &v["storage"]["files"][0];
        assert_eq!(file["path"], "/etc/hostname");
        assert_eq!(file["mode"], 420);
        assert_eq!(file["contents"]["source"], "data:,web-1%0A");
        let user = &v["passwd"]["users"][0];
        assert_eq!(user["name"], "core");
        assert_eq!(user["sshAuthorizedKeys"].as_array().unwrap().len(), 3);
        // It is itself an Ignition config.
        let mut check = IgnitionCheck::new();
        check.push(frag);
        assert_eq!(check.finish(), Verdict::Config);
        // Nothing to say: no fragment.
        assert_eq!(Metadata::new().render_fragment(b"core", &mut buf), Some(&b""[..]));
    }

    #[test]
    fn bad_values_are_dropped_not_written() {
        let mut m = Metadata::new();
        leaf(&mut m, &aws::PLATFORM, "/latest/meta-data/instance-type", b"t3.micro\nINJECTED=1");
        leaf(&mut m, &aws::PLATFORM, "/latest/meta-data/local-hostname", b"bad host!");
        leaf(&mut m, &aws::PLATFORM, "/latest/meta-data/local-ipv4", b"10.0.0.5\"");
        assert_eq!(m.dropped, 2);
        let mut buf = [0u8; 256];
        // The quote-bearing value is kept but not put where systemd would misread it.
        assert_eq!(m.render_attributes("aws", &mut buf), Some(&b""[..]));
        // No instance id: no meta-data rather than a made-up one.
        assert_eq!(m.render_meta_data(&mut buf), None);
    }

    #[test]
    fn broken_json_contributes_nothing() {
        let mut m = Metadata::new();
        let r = m.absorb(doc(&akamai::PLATFORM, "/v1/instance"), false, br#"{"id": 5, "label": "x""#);
        assert!(r.is_err());
        assert!(m.is_empty());
    }

    #[test]
    fn hostnames() {
        assert_eq!(hostname(b"web-1"), Some(&b"web-1"[..]));
        let long = [b"a".repeat(40), b".".to_vec(), b"b".repeat(40)].concat();
        assert_eq!(hostname(&long), Some(&b"a".repeat(40)[..]));
        assert_eq!(hostname(&b"a".repeat(65)), None);
        assert_eq!(hostname(b"-x"), None);
        assert_eq!(hostname(b"a b"), None);
    }

    #[test]
    fn ignition_verdicts() {
        let verdict = |doc: &[u8], chunk: usize| {
            let mut c = IgnitionCheck::new();
            for part in doc.chunks(chunk) {
                c.push(part);
            }
            c.finish()
        };
        let config = br#"{"storage": {"files": [{"path": "/x", "ignition": {"version": "2.0"}}]}, "ignition": {"config": {}, "version": "3.4.0"}}"#;
        for chunk in [1, 5, 1000] {
            assert_eq!(verdict(config, chunk), Verdict::Config);
        }
        assert!(matches!(verdict(b"#cloud-config\nusers: []\n", 64), Verdict::NotJson(_)));
        assert!(matches!(
            verdict(br#"{"ignition": {"version": "3.4.0"}"#, 64),
            Verdict::NotJson(JsonError::Incomplete)
        ));
        assert_eq!(verdict(br#"{"ignition": {"version": "2.2.0"}}"#, 64), Verdict::OldVersion);
        assert_eq!(verdict(br#"{"ignition": {"version": 3}}"#, 64), Verdict::NoVersion);
        assert_eq!(verdict(br#"{"storage": {"ignition": {"version": "3.0.0"}}}"#, 64), Verdict::NoVersion);
        assert_eq!(verdict(br#"[{"ignition": {"version": "3.0.0"}}]"#, 64), Verdict::NoVersion);
        assert_eq!(verdict(b"\"3.0.0\"", 64), Verdict::NoVersion);
        // Found by the `ignition` fuzz target: a long version string is still a version, and
        // the last of a repeated member counts, as in serde_json and Go.
        let long = std::format!("{{\"ignition\": {{\"version\": \"2.1{}.0\"}}}}", "K".repeat(100));
        assert_eq!(verdict(long.as_bytes(), 64), Verdict::OldVersion);
        let twice = std::format!("{{\"ignition\": {{\"version\": \"3.4.0\", \"version\": \"{}\"}}}}", "9".repeat(3000));
        assert_eq!(verdict(twice.as_bytes(), 64), Verdict::OldVersion);
    }

    #[test]
    fn digitalocean_addresses_are_numbered_by_interface() {
        use crate::platform::digitalocean;
        let mut m = Metadata::new();
        let body = br#"{"droplet_id": 2756294, "hostname": "web-1", "public_keys": ["ssh-ed25519 AAAA1 a", "ssh-ed25519 AAAA2 b"],
            "region": "nyc3", "interfaces": {"public": [
                {"ipv4": {"ip_address": "192.0.2.1", "netmask": "255.255.255.0"}, "anchor_ipv4": {"ip_address": "10.17.0.5"},
                 "ipv6": {"ip_address": "2001:db8::1"}, "mac": "aa:bb"},
                {"ipv4": {"ip_address": "192.0.2.2"}}],
              "private": [{"ipv4": {"ip_address": "10.132.0.2"}}]}}"#;
        m.absorb(doc(&digitalocean::PLATFORM, "/metadata/v1.json"), false, body).unwrap();
        let mut buf = [0u8; 1024];
        assert_eq!(
            s(m.render_attributes("digitalocean", &mut buf).unwrap()),
            "AFTERBURN_DIGITALOCEAN_HOSTNAME=web-1\nAFTERBURN_DIGITALOCEAN_REGION=nyc3\n\
             AFTERBURN_DIGITALOCEAN_IPV4_PUBLIC_0=192.0.2.1\nAFTERBURN_DIGITALOCEAN_IPV4_ANCHOR_0=10.17.0.5\n\
             AFTERBURN_DIGITALOCEAN_IPV6_PUBLIC_0=2001:db8::1\nAFTERBURN_DIGITALOCEAN_IPV4_PUBLIC_1=192.0.2.2\n\
             AFTERBURN_DIGITALOCEAN_IPV4_PRIVATE_0=10.132.0.2\n"
        );
        assert_eq!(m.get(Role::InstanceId), Some(&b"2756294"[..]));
        assert_eq!(m.keys().count(), 2);
    }

    #[test]
    fn oracle_keys_are_one_string_of_lines() {
        use crate::platform::oraclecloud;
        let mut m = Metadata::new();
        let body = br#"{"id": "ocid1.instance.oc1..x", "hostname": "vm", "canonicalRegionName": "eu-frankfurt-1",
            "metadata": {"ssh_authorized_keys": "ssh-rsa AAAA1 a\nssh-ed25519 AAAA2 b\n", "user_data": "e30="}}"#;
        m.absorb(doc(&oraclecloud::PLATFORM, "/opc/v2/instance/"), false, body).unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), [&b"ssh-rsa AAAA1 a"[..], b"ssh-ed25519 AAAA2 b"]);
        let mut buf = [0u8; 512];
        assert_eq!(
            s(m.render_attributes("oraclecloud", &mut buf).unwrap()),
            "AFTERBURN_ORACLECLOUD_INSTANCE_ID=ocid1.instance.oc1..x\nAFTERBURN_ORACLECLOUD_HOSTNAME=vm\n\
             AFTERBURN_ORACLECLOUD_REGION_ID=eu-frankfurt-1\n"
        );
    }

    #[test]
    fn alibaba_key_index_lines_are_key_pair_ids() {
        use crate::platform::aliyun;
        let mut m = Metadata::new();
        let index = doc(&aliyun::PLATFORM, "/latest/meta-data/public-keys/");
        m.absorb(index, false, b"0/\nskp-bp1xyz/\n\n../\na b/\nno-slash\n").unwrap();
        assert_eq!(m.pending_keys.iter().map(|k| k.as_str()).collect::<Vec<_>>(), ["0", "skp-bp1xyz"]);
        assert_eq!(m.dropped, 3);
    }

    #[test]
    fn a_key_ending_in_cr_lf_is_kept() {
        // Azure's `keyData` ends in CR LF: surrounding whitespace goes before the control
        // character rule looks at the value.
        let mut m = Metadata::new();
        let body = b"{\"public_keys\": [\"ssh-ed25519 AAAA1 me\\r\\n\"], \"hostname\": \"h\\r\\n\"}";
        m.absorb(doc(&crate::platform::digitalocean::PLATFORM, "/metadata/v1.json"), false, body).unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), [&b"ssh-ed25519 AAAA1 me"[..]]);
        assert_eq!(m.get(Role::Hostname), Some(&b"h"[..]));
        assert_eq!(m.dropped, 0);
    }

    #[test]
    fn hetzner_public_ipv6_is_the_first_ipv6_subnet_address() {
        // Afterburn's fixture (tests/fixtures/hetzner/metadata.yaml), shortened.
        let body = br#"availability-zone: hel1-dc2
hostname: my-server
instance-id: 42
local-ipv4: ''
network-config:
    version: 1
    config:
        - type: physical
          name: eth0
          subnets:
            - type: dhcp
              ipv4: true
            - type: static
              address: 0a00:0a0:a000:a000::1/64
              ipv6: true
              gateway: aa11::1
            - type: static
              address: 2001:db8::9/64
              ipv6: true
public-ipv4: 1.2.3.4
region: eu-central
"#;
        let mut m = Metadata::new();
        m.absorb(doc(&crate::platform::hetzner::PLATFORM, "/hetzner/v1/metadata"), false, body).unwrap();
        let mut buf = [0u8; 512];
        let text = s(m.render_attributes("hetzner", &mut buf).unwrap());
        assert!(text.contains("AFTERBURN_HETZNER_PUBLIC_IPV6=a00:a0:a000:a000::1\n"), "{text}");
        assert!(!text.contains("2001:db8::9"), "{text}");
        assert_eq!(m.dropped, 0);
    }

    #[test]
    fn ibm_keys_come_from_the_vendor_data_cloud_config_part() {
        // The shape of Afterburn's fixture (tests/fixtures/ibmcloud/vendor-data), CR LF lines.
        let msg = "Content-Type: multipart/form-data; boundary=3efa30\r\nMIME-Version: 1.0\r\n\r\n\
                   --3efa30\r\nContent-Type: text/cloud-config\r\n\r\n#cloud-config\r\nusers:\r\n- default\r\n\r\n\
                   --3efa30\r\nContent-Type: text/cloud-config\r\n\r\n#cloud-config\r\ndisable_root: false\r\n\
                   ssh_authorized_keys:\r\n- ssh-rsa AAAAB3 one testuser@test.com\r\n- ssh-ed25519 AAAAC3 two\r\n\r\n\
                   --3efa30\r\nContent-Type: text/x-shellscript\r\n\r\n#!/bin/sh\r\necho ssh_authorized_keys\r\n--3efa30--\r\n";
        let part = cloud_config_part(msg.as_bytes()).unwrap();
        assert!(part.starts_with(b"#cloud-config\r\ndisable_root") && part.ends_with(b"two\r\n"), "{}", s(part));
        let mut m = Metadata::new();
        let ibm = &crate::platform::ibmcloud::PLATFORM;
        let vendor = ibm.drives().flat_map(|d| d.metadata.iter()).find(|d| d.path == "vendor-data").unwrap();
        m.absorb(vendor, false, msg.as_bytes()).unwrap();
        assert_eq!(
            m.keys().collect::<Vec<_>>(),
            [&b"ssh-rsa AAAAB3 one testuser@test.com"[..], b"ssh-ed25519 AAAAC3 two"]
        );
        // Quoted boundaries and LF lines; no such part, no boundary, or no delimiter: nothing.
        let lf = "Content-Type: multipart/mixed; boundary=\"b 1\"\n\n--b 1\nContent-Type: text/cloud-config; charset=us-ascii\n\nssh_authorized_keys: [k]\n--b 1--\n";
        assert_eq!(cloud_config_part(lf.as_bytes()), Some(&b"ssh_authorized_keys: [k]"[..]));
        // Afterburn's fixture folds a key onto a second line: a multi-line plain scalar, which
        // the YAML reader refuses (decode/yaml.rs), so that part gives no keys at all.
        let folded = msg.replace("one testuser@test.com", "one\r\n  testuser@test.com");
        let mut m = Metadata::new();
        assert!(m.absorb(vendor, false, folded.as_bytes()).is_err());
        assert_eq!(m.keys().count(), 0);
        for none in [&b"#cloud-config\nssh_authorized_keys: [k]\n"[..], b"Content-Type: multipart/mixed\n\n--x\n", b""]
        {
            assert_eq!(cloud_config_part(none), None);
        }
    }

    #[test]
    fn empty_values_are_attributes_but_never_used() {
        let mut m = Metadata::new();
        let instance = br#"{"id": 7, "label": "", "tags": []}"#;
        m.absorb(doc(&akamai::PLATFORM, "/v1/instance"), false, instance).unwrap();
        let mut buf = [0u8; 512];
        // Afterburn writes the empty tag list as an empty value; an empty label names no host.
        assert_eq!(
            s(m.render_attributes("akamai", &mut buf).unwrap()),
            "AFTERBURN_AKAMAI_INSTANCE_ID=7\nAFTERBURN_AKAMAI_INSTANCE_TAGS=\n"
        );
        assert_eq!(m.get(Role::Hostname), None);
        let mut m = Metadata::new();
        m.absorb(doc(&akamai::PLATFORM, "/v1/instance"), false, br#"{"tags": ["x"]}"#).unwrap();
        assert_eq!(s(m.render_attributes("akamai", &mut buf).unwrap()), "AFTERBURN_AKAMAI_INSTANCE_TAGS=x\n");
        let mut m = Metadata::new();
        leaf(&mut m, &crate::platform::openstack::PLATFORM, "/latest/meta-data/public-ipv4", b"");
        assert_eq!(s(m.render_attributes("openstack", &mut buf).unwrap()), "AFTERBURN_OPENSTACK_IPV4_PUBLIC=\n");
        // Afterburn's Alibaba provider skips an empty leaf; its Exoscale provider writes it.
        let mut m = Metadata::new();
        leaf(&mut m, &crate::platform::aliyun::PLATFORM, "/latest/meta-data/eipv4", b"");
        leaf(&mut m, &crate::platform::exoscale::PLATFORM, "/1.0/meta-data/public-ipv4", b"\n");
        assert_eq!(s(m.render_attributes("x", &mut buf).unwrap()), "AFTERBURN_X_PUBLIC_IPV4=\n");
    }

    #[test]
    fn line_documents_drop_the_user_part() {
        static KEYS: Document = Document {
            path: "/computeMetadata/v1/instance/attributes/ssh-keys",
            body: Body::Text(Field { list: List::UserLines(b':'), ..Field::role(Role::SshKey, None) }),
            unless: Role::None,
        };
        let mut m = Metadata::new();
        m.absorb(&KEYS, false, b"alice:ssh-ed25519 AAAA1 alice\n\n  bob:ssh-rsa AAAA2 bob  \nnocolon\n").unwrap();
        assert_eq!(m.keys().collect::<Vec<_>>(), [&b"ssh-ed25519 AAAA1 alice"[..], b"ssh-rsa AAAA2 bob"]);
        assert_eq!(m.dropped, 1);
    }

    /// What a NoCloud reader would ask of `meta-data` and of a `#cloud-config`. Arrays are no
    /// part of a member path, so `users.ssh_authorized_keys` names every user's keys.
    static META_DATA: &[(&str, Field)] = &[
        ("instance-id", Field::role(Role::InstanceId, None)),
        ("local-hostname", Field::role(Role::Hostname, None)),
        ("public-keys", Field::role(Role::SshKey, None)),
        ("public-keys.*", Field::role(Role::SshKey, None)),
    ];
    static CLOUD_CONFIG: &[(&str, Field)] = &[
        ("hostname", Field::role(Role::Hostname, None)),
        ("ssh_authorized_keys", Field::role(Role::SshKey, None)),
        ("users.ssh_authorized_keys", Field::role(Role::SshKey, None)),
    ];

    #[test]
    fn yaml_documents_by_member_path() {
        // cloud-localds and Proxmox: keys as a list or as one string.
        for (body, keys) in [
            (&b"instance-id: iid-1\nlocal-hostname: vm1\npublic-keys:\n  - ssh-rsa AAAA1 a\n  - ssh-ed25519 AAAA2 b\n"[..], 2),
            (b"instance-id: iid-1\nlocal-hostname: 'vm1'\npublic-keys: ssh-rsa AAAA1 a\n", 1),
            // KubeVirt: compact JSON, the keys a mapping.
            (br#"{"instance-id":"iid-1","local-hostname":"vm1","public-keys":{"a":"ssh-rsa AAAA1 a","b":"ssh-ed25519 AAAA2 b"}}"#, 2),
        ] {
            let mut m = Metadata::new();
            m.members(META_DATA, body, true).unwrap();
            assert_eq!(m.get(Role::InstanceId), Some(&b"iid-1"[..]));
            assert_eq!(m.get(Role::Hostname), Some(&b"vm1"[..]));
            assert_eq!(m.keys().collect::<Vec<_>>(), [&b"ssh-rsa AAAA1 a"[..], b"ssh-ed25519 AAAA2 b"][..keys]);
        }

        let user_data = b"#cloud-config\nhostname: vm1\nssh_authorized_keys:\n  - ssh-ed25519 AAAA0 top\nusers:\n  - default\n  - name: a\n    ssh_authorized_keys: [ssh-rsa AAAA1 a, 'ssh-rsa AAAA2 a']\n  - name: b\n    groups: [wheel]\n    ssh_authorized_keys:\n    - ssh-ed25519 AAAA3 b\nwrite_files:\n- path: /x\n  content: |\n    ssh_authorized_keys: [not, these]\n";
        let mut m = Metadata::new();
        m.members(CLOUD_CONFIG, user_data, true).unwrap();
        assert_eq!(m.get(Role::Hostname), Some(&b"vm1"[..]));
        let keys: Vec<String> = m.keys().map(s).collect();
        assert_eq!(keys, ["ssh-ed25519 AAAA0 top", "ssh-rsa AAAA1 a", "ssh-rsa AAAA2 a", "ssh-ed25519 AAAA3 b"]);

        // A broken document contributes nothing, whatever came before the error.
        let mut m = Metadata::new();
        let Err(DocError::Yaml(e)) =
            m.members(CLOUD_CONFIG, b"hostname: vm1\nssh_authorized_keys: [k1\nusers: &x\n", true)
        else {
            panic!("a broken YAML document must be refused")
        };
        assert_eq!(e.line, 3, "where the unclosed sequence meets the next key");
        assert!(m.is_empty());
    }

    #[test]
    fn values_lose_surrounding_whitespace_but_not_inner_controls() {
        let mut m = Metadata::new();
        let doc = doc(&crate::platform::openstack::PLATFORM, "/openstack/latest/meta_data.json");
        let body =
            br#"{"uuid": " b3c7 ", "public_keys": {"a": "ssh-rsa AAAA Generated by Nova\n", "b": "ssh-rsa BB\nX"}}"#;
        m.absorb(doc, false, body).unwrap();
        assert_eq!(m.get(Role::InstanceId), Some(&b"b3c7"[..]));
        assert_eq!(m.keys().collect::<Vec<_>>(), [&b"ssh-rsa AAAA Generated by Nova"[..]]);
        assert_eq!(m.dropped, 1, "a newline inside a value still refuses it");
    }

    /// Equinix Metal's document: the attribute lines, sorted (Afterburn's are a map).
    fn packet_attributes(body: &str) -> (Metadata, Vec<String>) {
        let mut m = Metadata::new();
        m.absorb(doc(&crate::platform::packet::PLATFORM, "metadata"), false, body.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let mut lines: Vec<String> =
            s(m.render_attributes("packet", &mut buf).unwrap()).lines().map(String::from).collect();
        lines.sort();
        (m, lines)
    }

    #[test]
    fn packet_addresses_are_numbered_per_family_and_publicity() {
        // Afterburn's fixture (src/providers/packet/mock_tests.rs), with keys and an id added.
        let body = r#"{"id": "test-id", "hostname": "test-hostname", "iqn": "test-iqn", "plan": "test-plan",
            "facility": "test-facility", "tags": [], "ssh_keys": ["ssh-ed25519 AAAA1 a", "ssh-rsa AAAA2 b"],
            "network": {"interfaces": [], "addresses": [
              {"id": "fde7", "address_family": 4, "netmask": "255.255.255.254", "public": true,
               "management": true, "address": "147.0.0.1", "gateway": "147.0.0.0"},
              {"id": "3ae0", "address_family": 6, "netmask": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "public": true,
               "management": true, "address": "2604:1380::1", "gateway": "2604:1380::0"},
              {"id": "bec0", "address_family": 4, "netmask": "255.255.255.254", "public": false,
               "management": true, "address": "10.0.0.1", "gateway": "10.0.0.0"},
              {"id": "3847", "address_family": 6, "netmask": "ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", "public": false,
               "management": true, "address": "fd00::1", "gateway": "fd00::0"}],
              "bonding": {"mode": 0}},
            "phone_home_url": "test-url"}"#;
        let (m, lines) = packet_attributes(body);
        // Afterburn's expected map, each name with AFTERBURN_ in front.
        let mut want: Vec<String> = [
            "PACKET_HOSTNAME=test-hostname",
            "PACKET_PHONE_HOME_URL=test-url",
            "PACKET_PLAN=test-plan",
            "PACKET_IPV4_PUBLIC_0=147.0.0.1",
            "PACKET_IPV4_PUBLIC_GATEWAY_0=147.0.0.0",
            "PACKET_IPV4_PRIVATE_0=10.0.0.1",
            "PACKET_IPV4_PRIVATE_GATEWAY_0=10.0.0.0",
            "PACKET_IPV6_PUBLIC_0=2604:1380::1",
            "PACKET_IPV6_PUBLIC_GATEWAY_0=2604:1380::",
            "PACKET_IPV6_PRIVATE_0=fd00::1",
            "PACKET_IPV6_PRIVATE_GATEWAY_0=fd00::",
        ]
        .iter()
        .map(|l| std::format!("AFTERBURN_{l}"))
        .collect();
        want.sort();
        assert_eq!(lines, want);
        assert_eq!(m.get(Role::InstanceId), Some(&b"test-id"[..]));
        assert_eq!(m.get(Role::Hostname), Some(&b"test-hostname"[..]));
        assert_eq!(m.keys().collect::<Vec<_>>(), [&b"ssh-ed25519 AAAA1 a"[..], b"ssh-rsa AAAA2 b"]);
        assert_eq!(m.dropped, 0);
    }

    #[test]
    fn packet_records_in_any_order_with_members_missing() {
        let body = r#"{"network": {"addresses": [
            {"gateway": "203.0.113.0", "public": true, "address": "203.0.113.1"},
            {"public": false, "address": "10.1.0.2"},
            {"address": "10.1.0.3", "gateway": "10.1.0.1"},
            {"public": true, "gateway": "203.0.113.8"},
            {"address": "203.0.113.9", "public": "yes"},
            {"address": "203.0.113.10/31", "public": true},
            {"address": "2001:DB8:0:0:1:0:0:1", "public": true, "gateway": "2001:db8::",
             "parent_block": {"address": "192.0.2.99", "public": false, "network": "2001:db8::"}},
            {"address": "2001:0db8:0000:0000:0000:0000:0000:0010", "public": true, "gateway": null, "tags": [{"address": "1.1.1.1", "public": true}]},
            {"public": true, "address": "203.0.113.11", "address": "203.0.113.12"},
            {},
            "198.51.100.1"]}}"#;
        let (m, lines) = packet_attributes(body);
        assert_eq!(
            lines,
            [
                "AFTERBURN_PACKET_IPV4_PRIVATE_0=10.1.0.2",
                "AFTERBURN_PACKET_IPV4_PUBLIC_0=203.0.113.1",
                "AFTERBURN_PACKET_IPV4_PUBLIC_1=203.0.113.12",
                "AFTERBURN_PACKET_IPV4_PUBLIC_GATEWAY_0=203.0.113.0",
                "AFTERBURN_PACKET_IPV6_PUBLIC_0=2001:db8::1:0:0:1",
                "AFTERBURN_PACKET_IPV6_PUBLIC_1=2001:db8::10",
                "AFTERBURN_PACKET_IPV6_PUBLIC_GATEWAY_0=2001:db8::",
            ]
        );
        // No flag, no address, a flag that is no boolean, an address with a prefix, the empty
        // record and the string: dropped, and numbered by nothing.
        assert_eq!(m.dropped, 6);
    }

    #[test]
    fn packet_numbers_go_past_nine_in_array_order() {
        let records: Vec<String> = (0..12)
            .map(|i| match i % 3 {
                0 => std::format!(r#"{{"address": "198.51.100.{i}", "public": true, "gateway": "198.51.100.254"}}"#),
                1 => std::format!(r#"{{"public": true, "address": "2001:db8::{i:x}"}}"#),
                _ => std::format!(r#"{{"address": "10.0.0.{i}", "public": false}}"#),
            })
            .collect();
        let body = std::format!(r#"{{"hostname": "h", "network": {{"addresses": [{}]}}}}"#, records.join(","));
        let mut m = Metadata::new();
        m.absorb(doc(&crate::platform::packet::PLATFORM, "metadata"), false, body.as_bytes()).unwrap();
        let mut buf = [0u8; 4096];
        let text = s(m.render_attributes("packet", &mut buf).unwrap());
        // In document order, each class counting on its own.
        assert!(text.starts_with(
            "AFTERBURN_PACKET_HOSTNAME=h\nAFTERBURN_PACKET_IPV4_PUBLIC_0=198.51.100.0\n\
             AFTERBURN_PACKET_IPV4_PUBLIC_GATEWAY_0=198.51.100.254\nAFTERBURN_PACKET_IPV6_PUBLIC_0=2001:db8::1\n\
             AFTERBURN_PACKET_IPV4_PRIVATE_0=10.0.0.2\nAFTERBURN_PACKET_IPV4_PUBLIC_1=198.51.100.3\n"
        ));
        assert!(text.ends_with(
            "AFTERBURN_PACKET_IPV4_PUBLIC_3=198.51.100.9\nAFTERBURN_PACKET_IPV4_PUBLIC_GATEWAY_3=198.51.100.254\n\
             AFTERBURN_PACKET_IPV6_PUBLIC_3=2001:db8::a\nAFTERBURN_PACKET_IPV4_PRIVATE_3=10.0.0.11\n"
        ));
        // Eleven of one class: numbers past nine.
        let many = (0..11).map(|i| std::format!(r#"{{"address": "10.0.0.{i}", "public": false}}"#));
        let body = std::format!(r#"{{"network": {{"addresses": [{}]}}}}"#, many.collect::<Vec<_>>().join(","));
        let (_, lines) = packet_attributes(&body);
        assert_eq!(lines.len(), 11);
        assert!(lines.contains(&"AFTERBURN_PACKET_IPV4_PRIVATE_10=10.0.0.10".into()), "{lines:?}");
        assert!(lines.contains(&"AFTERBURN_PACKET_IPV4_PRIVATE_9=10.0.0.9".into()));
        // A broken document gives nothing, records included.
        let mut m = Metadata::new();
        let broken = br#"{"network": {"addresses": [{"address": "10.0.0.1", "public": false}, {"#;
        assert!(m.absorb(doc(&crate::platform::packet::PLATFORM, "metadata"), false, broken).is_err());
        assert!(m.is_empty());
    }

    #[test]
    fn records_of_one_array_do_not_run_into_another() {
        // A repeated `addresses` member (a document serde, and so Afterburn, refuses) goes on
        // numbering where the first stopped; an element's own nested objects are no record.
        let body = r#"{"network": {"addresses": [{"address": "10.0.0.1", "public": false}],
            "addresses": [{"public": false, "x": {"address": "10.9.9.9"}}, {"address": "10.0.0.2", "public": false}]}}"#;
        let (m, lines) = packet_attributes(body);
        assert_eq!(lines, ["AFTERBURN_PACKET_IPV4_PRIVATE_0=10.0.0.1", "AFTERBURN_PACKET_IPV4_PRIVATE_1=10.0.0.2"]);
        assert_eq!(m.dropped, 1);
    }

    #[test]
    fn a_record_keeps_a_gateway_of_the_other_family() {
        // Afterburn classifies by `address` and prints `gateway` whatever its family (the
        // metadata fuzz target's first find was its own oracle, which wanted them alike).
        let body =
            r#"{"network": {"addresses": [{"address": "10.0.0.1", "public": false, "gateway": "2604:1380:0::0"}]}}"#;
        let (_, lines) = packet_attributes(body);
        assert_eq!(
            lines,
            ["AFTERBURN_PACKET_IPV4_PRIVATE_0=10.0.0.1", "AFTERBURN_PACKET_IPV4_PRIVATE_GATEWAY_0=2604:1380::"]
        );
    }
}
