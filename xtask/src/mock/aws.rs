//! AWS EC2 instance metadata service, IMDSv2 (shared/reference/platforms.md §1): the
//! instance's fixtures, its metadata tree and its routes.
//!
//! Every value is defined here once and is public, so tests compare flint's outputs against
//! these constants instead of repeating literals. Formats: text leaves, `\n`-separated
//! listings without a trailing newline, `public-keys/` as `N=name`, 404 for an absent leaf
//! such as `ipv6` on an instance without IPv6.
//!
//! Knobs (`Options`): `no_ssh_keys` — an instance launched without a key pair
//! (`public-keys/` is 404, as IMDS has no such directory then); `no_metadata` — every
//! metadata path is 404, user-data and the token API still work; `no_token_api` — IMDSv1
//! only; `stale_token_once`; `put_hop_limit`.

use base64::Engine as _;
use serde_json::json;

use super::http::{Request, Response, is_dated_version};
use super::keys;
use super::options::Options;
use super::service::{Server, State};
use crate::support::util;

/// The request header that carries the session token.
pub const TOKEN_HEADER: &str = "x-aws-ec2-metadata-token";
/// What IMDS calls itself in `Server:`.
pub(super) const SERVER_NAME: &str = "EC2ws";

pub const INSTANCE_ID: &str = "i-0f1a2b3c4d5e6f708";
pub const AMI_ID: &str = "ami-0f1a2b3c4d5e6f708";
pub const INSTANCE_TYPE: &str = "t3.micro";
/// EC2 answers `hostname` and `local-hostname` with the same private DNS name.
pub const HOSTNAME: &str = "ip-10-0-0-57.eu-west-1.compute.internal";
pub const LOCAL_HOSTNAME: &str = HOSTNAME;
pub const PUBLIC_HOSTNAME: &str = "ec2-203-0-113-25.eu-west-1.compute.amazonaws.com";
pub const LOCAL_IPV4: &str = "10.0.0.57";
pub const PUBLIC_IPV4: &str = "203.0.113.25";
pub const AVAILABILITY_ZONE: &str = "eu-west-1b";
pub const AVAILABILITY_ZONE_ID: &str = "euw1-az3";
pub const REGION: &str = "eu-west-1";
pub const ACCOUNT_ID: &str = "123456789012";
/// `meta-data/public-keys/` entries in index order: (key-pair name, `openssh-key` line).
/// (IMDS puts the key-pair name in the key's comment; key-b's comment is harsher than its
/// listing name, so the listing stays the plain `0=key-a\n1=key-b`.)
pub const PUBLIC_KEYS: [(&str, &str); 2] = [("key-a", keys::KEY_A), ("key-b", keys::KEY_B)];

/// The authorized-keys lines a consumer should end up with, in index order.
pub fn ssh_keys() -> Vec<&'static str> {
    PUBLIC_KEYS.iter().map(|(_, k)| *k).collect()
}

const AWS_404: &str = "<?xml version=\"1.0\" encoding=\"iso-8859-1\"?>\n\
<!DOCTYPE html PUBLIC \"-//W3C//DTD XHTML 1.0 Transitional//EN\"\n\
\t\"http://www.w3.org/TR/xhtml1/DTD/xhtml1-transitional.dtd\">\n\
<html xmlns=\"http://www.w3.org/1999/xhtml\" xml:lang=\"en\" lang=\"en\">\n \
<head>\n  <title>404 - Not Found</title>\n </head>\n <body>\n  <h1>404 - Not Found</h1>\n </body>\n</html>\n";

/// AWS IMDSv2 (platforms.md §1).
pub(super) fn route(server: &Server, req: &Request, st: &mut State, token_valid: bool) -> Response {
    let not_found = || Response::new(404, "text/html", AWS_404);
    // IMDS refuses anything that looks proxied.
    if req.header("x-forwarded-for").is_some() {
        return Response::new(403, "text/plain", "Forbidden\n");
    }
    let path = req.path().trim_end_matches('/');
    if path.ends_with("/api/token") {
        // Only the unversioned path hands out tokens; dated ones are refused by design.
        if path != "/latest/api/token" {
            return Response::new(403, "text/plain", "Forbidden\n");
        }
        if server.opts.no_token_api {
            return not_found();
        }
        if req.method != "PUT" {
            return Response::new(405, "text/plain", "Method Not Allowed\n").header("Allow", "OPTIONS, PUT");
        }
        let ttl = req
            .header("x-aws-ec2-metadata-token-ttl-seconds")
            .and_then(|v| v.trim().parse::<u64>().ok())
            .filter(|t| (1..=21600).contains(t));
        let Some(ttl) = ttl else {
            return Response::new(400, "text/plain", "Bad Request\n");
        };
        let token = server.issue_token(st, format!("AQAEA{}", base64_url(&util::random_bytes(42))), ttl);
        let mut r =
            Response::new(200, "text/plain", token).header("X-Aws-Ec2-Metadata-Token-Ttl-Seconds", ttl.to_string());
        if server.opts.put_hop_limit > 0 {
            r.ttl = Some(server.opts.put_hop_limit);
        }
        return r;
    }
    if req.method != "GET" && req.method != "HEAD" {
        return Response::new(405, "text/plain", "Method Not Allowed\n").header("Allow", "OPTIONS, GET, HEAD");
    }
    let tokenless_ok = server.opts.no_token_api && req.header(TOKEN_HEADER).is_none();
    if !token_valid && !tokenless_ok {
        return Response::new(401, "text/html", "<html><body><h1>401 - Unauthorized</h1></body></html>\n");
    }
    // `/latest/…` or a dated version such as `/2019-10-01/…` (Ignition's path).
    let mut parts = path.trim_start_matches('/').splitn(2, '/');
    let version = parts.next().unwrap_or("");
    let rest = parts.next().unwrap_or("");
    if !(version == "latest" || is_dated_version(version)) {
        return not_found();
    }
    let text = |body: &str| Response::new(200, "text/plain", body.to_string());
    match rest {
        "" => {
            let mut names = if server.opts.no_metadata { vec![] } else { vec!["dynamic", "meta-data"] };
            if server.payload.is_some() {
                names.push("user-data");
            }
            text(&names.join("\n"))
        }
        "user-data" => {
            if server.opts.stale_token_once && !st.stale_done {
                // Looks to the client like a token that expired between PUT and GET.
                st.stale_done = true;
                if let Some(t) = req.header(TOKEN_HEADER) {
                    st.tokens.remove(t);
                }
                return Response::new(401, "text/html", "<html><body><h1>401 - Unauthorized</h1></body></html>\n");
            }
            server.raw_user_data().unwrap_or_else(not_found)
        }
        _ => match tree(rest, &server.opts) {
            Some(body) => text(&body),
            None => not_found(),
        },
    }
}

fn base64_url(b: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(b)
}

/// AWS: the body of `rest` (the path after `/latest/` or a dated version, trailing `/`
/// stripped), or `None` for 404. User-data and the version root are the server's business.
fn tree(rest: &str, opts: &Options) -> Option<String> {
    if opts.no_metadata || !(rest.starts_with("meta-data") || rest.starts_with("dynamic")) {
        return None;
    }
    let keys = !opts.no_ssh_keys;
    // `meta-data/public-keys/N…`: N is the listing index, as IMDS numbers key pairs.
    if let Some(sub) = rest.strip_prefix("meta-data/public-keys/").filter(|_| keys) {
        let (index, leaf) = sub.split_once('/').unwrap_or((sub, ""));
        let (_, key) = PUBLIC_KEYS.get(index.parse::<usize>().ok()?)?;
        return match leaf {
            "" => Some("openssh-key".into()),
            // Real IMDS ends the key with a newline; consumers must trim it.
            "openssh-key" => Some(format!("{key}\n")),
            _ => None,
        };
    }
    let leaf = |s: &str| Some(s.to_string());
    match rest {
        "meta-data" => {
            let mut names = vec![
                "ami-id",
                "hostname",
                "instance-id",
                "instance-type",
                "local-hostname",
                "local-ipv4",
                "placement/",
                "public-hostname",
                "public-ipv4",
            ];
            if keys {
                names.push("public-keys/");
            }
            Some(names.join("\n"))
        }
        "meta-data/ami-id" => leaf(AMI_ID),
        "meta-data/instance-id" => leaf(INSTANCE_ID),
        "meta-data/instance-type" => leaf(INSTANCE_TYPE),
        "meta-data/hostname" => leaf(HOSTNAME),
        "meta-data/local-hostname" => leaf(LOCAL_HOSTNAME),
        "meta-data/public-hostname" => leaf(PUBLIC_HOSTNAME),
        "meta-data/local-ipv4" => leaf(LOCAL_IPV4),
        "meta-data/public-ipv4" => leaf(PUBLIC_IPV4),
        "meta-data/placement" => leaf("availability-zone\navailability-zone-id\nregion"),
        "meta-data/placement/availability-zone" => leaf(AVAILABILITY_ZONE),
        "meta-data/placement/availability-zone-id" => leaf(AVAILABILITY_ZONE_ID),
        "meta-data/placement/region" => leaf(REGION),
        "meta-data/public-keys" if keys => Some(
            PUBLIC_KEYS.iter().enumerate().map(|(i, (name, _))| format!("{i}={name}")).collect::<Vec<_>>().join("\n"),
        ),
        "dynamic" => leaf("instance-identity/"),
        "dynamic/instance-identity" => leaf("document\npkcs7\nsignature"),
        // Served pretty-printed, as IMDS does; `region` is what Afterburn reads from it.
        "dynamic/instance-identity/document" => serde_json::to_string_pretty(&json!({
            "accountId": ACCOUNT_ID,
            "architecture": "x86_64",
            "availabilityZone": AVAILABILITY_ZONE,
            "billingProducts": null,
            "devpayProductCodes": null,
            "marketplaceProductCodes": null,
            "imageId": AMI_ID,
            "instanceId": INSTANCE_ID,
            "instanceType": INSTANCE_TYPE,
            "kernelId": null,
            "pendingTime": "2026-11-23T03:00:00Z",
            "privateIp": LOCAL_IPV4,
            "ramdiskId": null,
            "region": REGION,
            "version": "2017-09-30"
        }))
        .ok(),
        // `meta-data/ipv6` included: this instance has no IPv6 address, so the leaf is absent.
        _ => None,
    }
}
