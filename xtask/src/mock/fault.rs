//! The faults of the HTTP half of the fault matrix (docs/faults-http.md), as the harness
//! names them (`--fault SPEC [--fault-times N]`); what each does on the wire is in `faults.rs`.

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
