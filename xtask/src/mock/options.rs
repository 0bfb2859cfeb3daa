//! What the mock can be told, as one value: the harness builds `Options`, `to_args` turns it
//! into the mock's command line and the mock process parses it back (`parse`), so the two
//! cannot drift apart.

use std::path::PathBuf;

use super::fault::Fault;

/// The platforms the mock plays. A new one is a module of its own (fixtures and routes, like
/// `aws.rs`), its id here and its arm in `server.rs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Platform {
    Aws,
    Akamai,
    OpenStack,
    /// cloud-init NoCloud's network seed (`ds=nocloud;s=URL`), `nocloud.rs`.
    NoCloud,
    /// Azure's Instance Metadata Service, `azure.rs`.
    Azure,
    Gcp,
    // Issue #12's metadata services, one module each (`digitalocean.rs` …).
    DigitalOcean,
    Hetzner,
    Vultr,
    UpCloud,
    Exoscale,
    CloudStack,
    Scaleway,
    OracleCloud,
    Aliyun,
    IbmCloud,
    /// Equinix Metal, `packet.rs` (plain HTTP: the suite puts TLS in front).
    Packet,
}

impl Platform {
    pub const ALL: [Platform; 17] = [
        Platform::Aws,
        Platform::Akamai,
        Platform::OpenStack,
        Platform::NoCloud,
        Platform::Azure,
        Platform::Gcp,
        Platform::DigitalOcean,
        Platform::Hetzner,
        Platform::Vultr,
        Platform::UpCloud,
        Platform::Exoscale,
        Platform::CloudStack,
        Platform::Scaleway,
        Platform::OracleCloud,
        Platform::Aliyun,
        Platform::IbmCloud,
        Platform::Packet,
    ];

    /// The id flint and Ignition use (`--platform`, `ignition.platform.id=`).
    pub fn as_str(self) -> &'static str {
        match self {
            Platform::Aws => "aws",
            Platform::Akamai => "akamai",
            Platform::OpenStack => "openstack",
            Platform::NoCloud => "nocloud",
            Platform::Gcp => "gcp",
            Platform::DigitalOcean => "digitalocean",
            Platform::Hetzner => "hetzner",
            Platform::Vultr => "vultr",
            Platform::UpCloud => "upcloud",
            Platform::Exoscale => "exoscale",
            Platform::CloudStack => "cloudstack",
            Platform::Scaleway => "scaleway",
            Platform::OracleCloud => "oraclecloud",
            Platform::Aliyun => "aliyun",
            Platform::IbmCloud => "ibmcloud",
            Platform::Packet => "packet",
            Platform::Azure => "azure",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        Platform::ALL.into_iter().find(|p| p.as_str() == s).ok_or_else(|| {
            let ids: Vec<&str> = Platform::ALL.iter().map(|p| p.as_str()).collect();
            format!("unknown platform `{s}` ({})", ids.join(", "))
        })
    }
}

pub const MOCK_HELP: &str = "\
usage: xtask mock --platform aws|akamai|openstack|nocloud|azure|gcp|digitalocean|hetzner|vultr|upcloud|
                  exoscale|cloudstack|scaleway|oraclecloud|aliyun|ibmcloud|packet [options]
  --listen ADDR          listen address (default 169.254.169.254:80)
  --payload FILE         user-data: served raw (aws, openstack, nocloud) or base64-encoded (akamai, azure); absent = none
  --log FILE             JSON lines, one per request (method, path, status, token sent/valid…)
  --tokens FILE          every issued token, one per line
  --ready FILE           created once the socket is bound
  --chunked              Transfer-Encoding: chunked, bodies split into several odd-sized chunks
  --close-delimited      no Content-Length; closing the connection ends every body
  --truncate             user-data answers announce the full length, send half, close
  --delay-ms N           wait N ms before every response
  --stale-token-once     the first user-data GET with a valid token answers 401 and revokes it
  --fail-first N         the first N requests (any path) answer --fail-status
  --fail-status S        status for --fail-first (default 503)
  --retry-after S        Retry-After header on 429/503 answers
  --no-token-api         aws, aliyun: the token PUT answers 404, GETs need no token
  --no-ssh-keys          no SSH keys (aws: meta-data/public-keys/ 404; akamai: no users)
  --no-metadata          every metadata path 404 (user-data and tokens still served; nocloud: meta-data)
  --no-openstack-tree    openstack: every /openstack/… path 404, only the EC2-compatible tree answers
  --floating-ip          openstack: the instance has a floating IP (else public-ipv4 is empty)
  --key-newline          openstack: the public key ends with a newline (imported from a .pub file)
  --seed-path PATH       nocloud: the seed directory, `/` at both ends (default /nocloud/flint-nc-01/)
  --seed-host HOST       nocloud: the only Host header answered (e.g. 10.0.0.1:8000); others 404
  --gcp-block TEXT       gcp: the instance's block-project-ssh-keys attribute (absent: 404)
  --gcp-legacy-keys      gcp: the instance also has a legacy sshKeys attribute
  --any-port             scaleway: answer /user_data from any TCP source port (the real one
                         refuses ports >= 1024: a negative control)
  --none-status S        hetzner, packet: how no user-data looks: 404, 204 or 200 (empty body; default)
  --put-hop-limit N      aws: IP TTL of token responses (default 1 like IMDS; 0 = kernel default)
  --rate-limit N         past N requests in a second, answer 429 with Retry-After: 1 (load test)
  --max-seconds N        exit after N seconds whatever happens (default 600)
  --fault SPEC           a fault of docs/faults-http.md (mock/faults.rs), e.g. reset-mid-body,
                         token-status=403, redirect=URL, chunk-size=TEXT, drip, endless-100
  --fault-times N        the fault hits the first N matching requests only (default 0 = all)
";

/// nocloud: where the seed directory is unless `--seed-path` says otherwise.
pub const DEFAULT_SEED_PATH: &str = "/nocloud/flint-nc-01/";

/// Everything the mock can be told; the harness builds it, `to_args` serialises it and the
/// mock process parses it back.
#[derive(Clone, Debug)]
pub struct Options {
    pub platform: Platform,
    pub listen: String,
    pub payload: Option<PathBuf>,
    pub log: Option<PathBuf>,
    pub tokens: Option<PathBuf>,
    pub ready: Option<PathBuf>,
    pub chunked: bool,
    pub close_delimited: bool,
    pub truncate: bool,
    pub delay_ms: u64,
    pub stale_token_once: bool,
    pub fail_first: u32,
    pub fail_status: u16,
    pub retry_after: Option<u32>,
    pub no_token_api: bool,
    pub no_ssh_keys: bool,
    pub no_metadata: bool,
    pub no_openstack_tree: bool,
    pub floating_ip: bool,
    pub key_newline: bool,
    pub put_hop_limit: u32,
    /// gcp: `block-project-ssh-keys` text, and whether the instance has a legacy `sshKeys`.
    pub gcp_block: Option<String>,
    pub gcp_legacy_keys: bool,
    /// scaleway: `/user_data` answers any source port (the real service: only < 1024).
    pub any_port: bool,
    /// hetzner: the status of "no user-data" (404, 204, or 200 with an empty body).
    pub none_status: u16,
    /// nocloud: the seed directory (`/` at both ends) and the `Host` it answers for.
    pub seed_path: String,
    pub seed_host: Option<String>,
    pub rate_limit: Option<u32>,
    pub max_seconds: u64,
    pub fault: Option<Fault>,
    pub fault_times: u32,
}

impl Options {
    pub fn new(platform: Platform) -> Self {
        Options {
            platform,
            listen: "169.254.169.254:80".into(),
            payload: None,
            log: None,
            tokens: None,
            ready: None,
            chunked: false,
            close_delimited: false,
            truncate: false,
            delay_ms: 0,
            stale_token_once: false,
            fail_first: 0,
            fail_status: 503,
            retry_after: None,
            no_token_api: false,
            no_ssh_keys: false,
            no_metadata: false,
            no_openstack_tree: false,
            floating_ip: false,
            key_newline: false,
            put_hop_limit: 1,
            gcp_block: None,
            gcp_legacy_keys: false,
            any_port: false,
            none_status: 200,
            seed_path: DEFAULT_SEED_PATH.into(),
            seed_host: None,
            rate_limit: None,
            max_seconds: 600,
            fault: None,
            fault_times: 0,
        }
    }

    pub fn to_args(&self) -> Vec<String> {
        let mut a: Vec<String> =
            vec!["--platform".into(), self.platform.as_str().into(), "--listen".into(), self.listen.clone()];
        let mut path = |flag: &str, p: &Option<PathBuf>| {
            if let Some(p) = p {
                a.push(flag.into());
                a.push(p.display().to_string());
            }
        };
        path("--payload", &self.payload);
        path("--log", &self.log);
        path("--tokens", &self.tokens);
        path("--ready", &self.ready);
        for (on, flag) in [
            (self.chunked, "--chunked"),
            (self.close_delimited, "--close-delimited"),
            (self.truncate, "--truncate"),
            (self.stale_token_once, "--stale-token-once"),
            (self.no_token_api, "--no-token-api"),
            (self.no_ssh_keys, "--no-ssh-keys"),
            (self.no_metadata, "--no-metadata"),
            (self.no_openstack_tree, "--no-openstack-tree"),
            (self.floating_ip, "--floating-ip"),
            (self.key_newline, "--key-newline"),
            (self.gcp_legacy_keys, "--gcp-legacy-keys"),
            (self.any_port, "--any-port"),
        ] {
            if on {
                a.push(flag.into());
            }
        }
        a.extend(["--delay-ms".into(), self.delay_ms.to_string()]);
        a.extend(["--fail-first".into(), self.fail_first.to_string()]);
        a.extend(["--fail-status".into(), self.fail_status.to_string()]);
        if let Some(s) = self.retry_after {
            a.extend(["--retry-after".into(), s.to_string()]);
        }
        a.extend(["--put-hop-limit".into(), self.put_hop_limit.to_string()]);
        if let Some(b) = &self.gcp_block {
            a.extend(["--gcp-block".into(), b.clone()]);
        }
        a.extend(["--none-status".into(), self.none_status.to_string()]);
        a.extend(["--seed-path".into(), self.seed_path.clone()]);
        if let Some(h) = &self.seed_host {
            a.extend(["--seed-host".into(), h.clone()]);
        }
        if let Some(n) = self.rate_limit {
            a.extend(["--rate-limit".into(), n.to_string()]);
        }
        a.extend(["--max-seconds".into(), self.max_seconds.to_string()]);
        if let Some(f) = &self.fault {
            a.extend(["--fault".into(), f.spec(), "--fault-times".into(), self.fault_times.to_string()]);
        }
        a
    }

    pub fn parse(args: &[String]) -> Result<Self, String> {
        let mut platform = None;
        let mut o = Options::new(Platform::Aws);
        let mut it = args.iter();
        while let Some(flag) = it.next() {
            let mut value = || it.next().cloned().ok_or_else(|| format!("{flag} needs a value"));
            fn num<T: std::str::FromStr>(flag: &str, v: String) -> Result<T, String> {
                v.parse().map_err(|_| format!("{flag}: bad number `{v}`"))
            }
            match flag.as_str() {
                "--platform" => platform = Some(Platform::parse(&value()?)?),
                "--listen" => o.listen = value()?,
                "--payload" => o.payload = Some(value()?.into()),
                "--log" => o.log = Some(value()?.into()),
                "--tokens" => o.tokens = Some(value()?.into()),
                "--ready" => o.ready = Some(value()?.into()),
                "--chunked" => o.chunked = true,
                "--close-delimited" => o.close_delimited = true,
                "--truncate" => o.truncate = true,
                "--stale-token-once" => o.stale_token_once = true,
                "--no-token-api" => o.no_token_api = true,
                "--no-ssh-keys" => o.no_ssh_keys = true,
                "--no-metadata" => o.no_metadata = true,
                "--no-openstack-tree" => o.no_openstack_tree = true,
                "--floating-ip" => o.floating_ip = true,
                "--key-newline" => o.key_newline = true,
                "--any-port" => o.any_port = true,
                "--none-status" => o.none_status = num(flag, value()?)?,
                "--delay-ms" => o.delay_ms = num(flag, value()?)?,
                "--fail-first" => o.fail_first = num(flag, value()?)?,
                "--fail-status" => o.fail_status = num(flag, value()?)?,
                "--retry-after" => o.retry_after = Some(num(flag, value()?)?),
                "--put-hop-limit" => o.put_hop_limit = num(flag, value()?)?,
                "--gcp-block" => o.gcp_block = Some(value()?),
                "--gcp-legacy-keys" => o.gcp_legacy_keys = true,
                "--seed-path" => o.seed_path = value()?,
                "--seed-host" => o.seed_host = Some(value()?),
                "--rate-limit" => o.rate_limit = Some(num(flag, value()?)?),
                "--max-seconds" => o.max_seconds = num(flag, value()?)?,
                "--fault" => o.fault = Some(Fault::parse(&value()?)?),
                "--fault-times" => o.fault_times = num(flag, value()?)?,
                "-h" | "--help" => return Err(MOCK_HELP.into()),
                other => return Err(format!("mock: unknown option `{other}`\n{MOCK_HELP}")),
            }
        }
        o.platform = platform.ok_or_else(|| format!("mock: --platform is required\n{MOCK_HELP}"))?;
        Ok(o)
    }
}
