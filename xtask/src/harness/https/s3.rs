//! The object store: `moto`'s S3 server from PyPI (in a venv under the cache directory; Debian
//! 12 packages no moto), `boto3` putting the large cloud-config and presigning the GET exactly
//! as CAPL's bootstrap does (bucket + key, SigV4 query string, an expiry), nginx terminating TLS
//! with the suite's CA in front.
//!
//! moto 5 does not check a presigned URL's signature or expiry at all (a request whose
//! `Signature=` is present and whose object exists is served: `moto/s3/responses.py`
//! `_key_response`), so a URL with one byte changed would still be answered 200 and the
//! "signature mismatch" case would prove nothing. Between nginx and moto sits a SigV4 check
//! built on botocore's own signer (`S3SigV4QueryAuth`, the code that made the URL): it signs
//! the request again at the URL's `X-Amz-Date` and answers S3's 403 `SignatureDoesNotMatch`
//! (or `AccessDenied`, "Request has expired") when the signatures differ; everything else is
//! relayed to moto unchanged.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use super::servers::{listening, run_in};
use crate::harness::kernel::cache_root;
use crate::harness::netns::Segment;
use crate::support::proc::{self, ChildGuard};
use crate::support::util;

/// The PyPI packages, pinned to the versions the suite was written against.
const PACKAGES: &[&str] = &["moto[server]==5.2.5", "boto3==1.44.8"];
pub const BUCKET: &str = "capl-bootstrap";
pub const KEY: &str = "clusters/flint-capl/worker-0/cloud-config.yaml";
pub const REGION: &str = "us-ord";
const ACCESS_KEY: &str = "AKIAFLINTHTTPSSUITE0";
/// moto accepts any secret; this one only has to be the same for boto3 and the check.
const SECRET_KEY: &str = "flint-https-suite-secret-key-0000000000";
pub const MOTO_PORT: u16 = 5000;
pub const CHECK_PORT: u16 = 5001;

/// The venv, made (and the packages installed) when missing.
pub fn venv() -> Result<PathBuf, String> {
    let dir = cache_root().join("https-venv");
    let py = dir.join("bin/python");
    let stamp = dir.join(format!("flint-packages-{}", PACKAGES.join(",").replace(['[', ']', '=', ','], "_")));
    if stamp.exists() {
        return Ok(dir);
    }
    eprintln!("xtask: installing {} into {}", PACKAGES.join(" "), dir.display());
    if !py.exists() {
        let mut cmd = Command::new("/usr/bin/python3");
        cmd.args(["-m", "venv"]).arg(&dir);
        proc::run_ok(&mut cmd, Duration::from_secs(300))?;
    }
    let mut cmd = Command::new(dir.join("bin/pip"));
    cmd.args(["install", "-q"]).args(PACKAGES);
    proc::run_ok(&mut cmd, Duration::from_secs(900))?;
    std::fs::write(&stamp, "").map_err(|e| e.to_string())?;
    Ok(dir)
}

const CHECK_PY: &str = r#"
import datetime, hmac, http.server, sys, urllib.error, urllib.parse, urllib.request
import botocore.auth
from botocore.auth import S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

host, port, upstream, access_key, secret_key, region = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5], sys.argv[6]
AUTH = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Date", "X-Amz-Expires", "X-Amz-SignedHeaders", "X-Amz-Signature")

def verdict(path, host_header):
    split = urllib.parse.urlsplit(path)
    q = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    d = dict(q)
    if any(k not in d for k in AUTH):
        return ("AccessDenied", "Query-string authentication requires the X-Amz parameters")
    cred = d["X-Amz-Credential"].split("/")
    if d["X-Amz-Algorithm"] != "AWS4-HMAC-SHA256" or len(cred) != 5 or cred[0] != access_key:
        return ("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist in our records.")
    try:
        when = datetime.datetime.strptime(d["X-Amz-Date"], "%Y%m%dT%H%M%SZ")
        expires = int(d["X-Amz-Expires"])
    except ValueError:
        return ("AuthorizationQueryParametersError", "X-Amz-Date or X-Amz-Expires is malformed")
    base = [(k, v) for k, v in q if k not in AUTH]
    url = "https://" + host_header + split.path + ("?" + urllib.parse.urlencode(base) if base else "")
    botocore.auth.get_current_datetime = lambda: when
    req = AWSRequest(method="GET", url=url)
    S3SigV4QueryAuth(Credentials(access_key, secret_key), "s3", cred[2], expires=expires).add_auth(req)
    want = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(req.url).query))["X-Amz-Signature"]
    if not hmac.compare_digest(want, d["X-Amz-Signature"]):
        return ("SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided.")
    if datetime.datetime.utcnow() > when + datetime.timedelta(seconds=expires):
        return ("AccessDenied", "Request has expired")
    return None

class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def reply(self, status, body, ctype):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = True
    def do_GET(self):
        why = verdict(self.path, self.headers.get("Host", ""))
        if why:
            body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<Error><Code>%s</Code><Message>%s</Message></Error>" % why).encode()
            print("GET %s -> 403 %s" % (urllib.parse.urlsplit(self.path).path, why[0]), flush=True)
            return self.reply(403, body, "application/xml")
        req = urllib.request.Request("http://" + upstream + self.path, headers={"Host": self.headers.get("Host", "")})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                status, body, ctype = r.status, r.read(), r.headers.get("Content-Type", "application/octet-stream")
        except urllib.error.HTTPError as e:
            status, body, ctype = e.code, e.read(), e.headers.get("Content-Type", "application/xml")
        print("GET %s -> %d, %d bytes from moto" % (urllib.parse.urlsplit(self.path).path, status, len(body)), flush=True)
        self.reply(status, body, ctype)
    def log_message(self, *a):
        pass

srv = http.server.ThreadingHTTPServer((host, port), H)
print("listening", flush=True)
srv.serve_forever()
"#;

/// Puts the object through moto directly and prints the presigned URL for the public endpoint,
/// as CAPL's bootstrap does (path-style bucket, SigV4, an expiry).
const SEED_PY: &str = r#"
import sys
import boto3
from botocore.config import Config
moto, endpoint, bucket, key, region, access_key, secret_key, body_file, expires = sys.argv[1:10]
kw = dict(region_name=region, aws_access_key_id=access_key, aws_secret_access_key=secret_key)
put = boto3.client("s3", endpoint_url=moto, **kw)
put.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})
with open(body_file, "rb") as f:
    put.put_object(Bucket=bucket, Key=key, Body=f.read())
pre = boto3.client("s3", endpoint_url=endpoint, config=Config(signature_version="s3v4", s3={"addressing_style": "path"}), **kw)
print(pre.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}, ExpiresIn=int(expires)))
"#;

/// moto and the signature check, running in the server namespace on its loopback.
pub struct Store {
    _moto: ChildGuard,
    _check: ChildGuard,
    venv: PathBuf,
}

impl Store {
    pub fn start(ns: &str, dir: &Path) -> Result<Store, String> {
        let venv = venv()?;
        let moto_args: Vec<String> = vec!["-H".into(), "127.0.0.1".into(), "-p".into(), MOTO_PORT.to_string()];
        let log = dir.join("moto.log");
        let out = std::fs::File::create(&log).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Segment::exec(ns, util::tool("env"));
        // A path-style request to a host that is not AWS's: moto must not read the first label
        // of `s3.tls.example` as a bucket.
        cmd.arg("S3_IGNORE_SUBDOMAIN_BUCKETNAME=true")
            .arg(venv.join("bin/moto_server"))
            .args(&moto_args)
            .current_dir(dir)
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut moto = ChildGuard::spawn(&mut cmd, "moto")?;
        let up = proc::wait_until(Duration::from_secs(60), Duration::from_millis(50), || {
            moto.try_status().is_some() || listening(ns, "127.0.0.1", MOTO_PORT)
        });
        if !up || moto.try_status().is_some() {
            return Err(format!(
                "moto did not start: {}",
                util::tail(&std::fs::read_to_string(&log).unwrap_or_default(), 6)
            ));
        }
        let script = dir.join("sigv4-check.py");
        std::fs::write(&script, CHECK_PY).map_err(|e| e.to_string())?;
        let clog = dir.join("sigv4-check.log");
        let out = std::fs::File::create(&clog).map_err(|e| e.to_string())?;
        let err = out.try_clone().map_err(|e| e.to_string())?;
        let mut cmd = Segment::exec(ns, venv.join("bin/python"));
        cmd.arg("-u")
            .arg(&script)
            .args([
                "127.0.0.1",
                &CHECK_PORT.to_string(),
                &format!("127.0.0.1:{MOTO_PORT}"),
                ACCESS_KEY,
                SECRET_KEY,
                REGION,
            ])
            .stdin(std::process::Stdio::null())
            .stdout(out)
            .stderr(err);
        let mut check = ChildGuard::spawn(&mut cmd, "sigv4 check")?;
        let up = proc::wait_until(Duration::from_secs(30), Duration::from_millis(50), || {
            check.try_status().is_some() || listening(ns, "127.0.0.1", CHECK_PORT)
        });
        if !up || check.try_status().is_some() {
            return Err(format!(
                "the SigV4 check did not start: {}",
                util::tail(&std::fs::read_to_string(&clog).unwrap_or_default(), 6)
            ));
        }
        Ok(Store { _moto: moto, _check: check, venv })
    }

    /// Puts `body` at `BUCKET/KEY` and returns the presigned GET URL on `endpoint`.
    pub fn put_and_presign(
        &self,
        ns: &str,
        endpoint: &str,
        body: &Path,
        expires: u32,
        dir: &Path,
    ) -> Result<String, String> {
        let script = dir.join("s3-seed.py");
        std::fs::write(&script, SEED_PY).map_err(|e| e.to_string())?;
        let moto = format!("http://127.0.0.1:{MOTO_PORT}");
        let body_s = body.display().to_string();
        let exp = expires.to_string();
        let script_s = script.display().to_string();
        let args = [script_s.as_str(), &moto, endpoint, BUCKET, KEY, REGION, ACCESS_KEY, SECRET_KEY, &body_s, &exp];
        let (code, text) = run_in(ns, &self.venv.join("bin/python"), &args, Duration::from_secs(60))?;
        let url = text.lines().rev().find(|l| l.starts_with("https://")).map(str::to_string);
        match (code, url) {
            (Some(0), Some(u)) => Ok(u),
            _ => Err(format!("boto3 put/presign failed: {}", util::tail(&text, 8))),
        }
    }
}

/// `url` with one character of its signature changed (hex digit `0` ↔ `1`, or `a` ↔ `b`).
pub fn tamper(url: &str) -> String {
    let Some(at) = url.find("X-Amz-Signature=") else { return url.to_string() };
    let pos = at + "X-Amz-Signature=".len() + 7;
    let mut b = url.as_bytes().to_vec();
    if let Some(c) = b.get_mut(pos) {
        *c = match *c {
            b'0' => b'1',
            b'1' => b'0',
            b'a' => b'b',
            b'b' => b'a',
            other if other.is_ascii_digit() => b'0',
            _ => b'0',
        };
    }
    String::from_utf8(b).unwrap_or_else(|_| url.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tampering_changes_one_signature_byte() {
        let u = "https://s3.tls.example/b/k?X-Amz-Date=1&X-Amz-Signature=0123456789abcdef";
        let t = tamper(u);
        assert_eq!(t.len(), u.len());
        assert_eq!(u.bytes().zip(t.bytes()).filter(|(a, b)| a != b).count(), 1);
        assert!(t.starts_with("https://s3.tls.example/b/k?X-Amz-Date=1&X-Amz-Signature=0123456"));
    }
}
