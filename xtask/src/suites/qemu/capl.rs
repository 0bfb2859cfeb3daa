//! The CAPL pointer boot (issue #13, payload `capl-include-https`): the Akamai mock serves
//! `#include\n<URL>\n` (base64, as Akamai does), where the URL is a `boto3`-presigned S3 GET of
//! the large cloud-config (more than 64 KiB) in `moto`'s bucket, behind nginx's TLS; flint in
//! the guest must follow it over https and write that cloud-config byte for byte.
//!
//! The https suite's object store, signature check and nginx (`suites/https`), started in the
//! VM's own namespace: moto on 127.0.0.1:5000, the SigV4 check on 127.0.0.1:5001, nginx's S3
//! proxy on 127.0.0.3:443 (its other server on 127.0.0.2, away from the mock's 127.0.0.1:80).
//! The guest reaches the proxy at `STORE_IP`:443 through one more slirp guestfwd, and the URL
//! is signed for exactly that authority (SigV4 covers the Host header, which nginx passes on).
//! The certificate names the address as an IP SAN only (RFC 6125 §1.7.2: no DNS name, no CN
//! fallback); its CA goes into the initramfs (a second cpio archive after the image's own,
//! which the kernel unpacks over the first) at `CA_PATH`, given to flint as
//! `flint.ca-bundle=`. Before the boot, `curl` in the namespace proves the URL fetches the
//! object through the same proxy with the same CA, so a failed boot is flint's.

use std::any::Any;
use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::harness::cpio::Archive;
use crate::harness::https::pki::{self, Key, Pki, Validity};
use crate::harness::https::{s3, servers};
use crate::harness::qemu::Forward;
use crate::harness::qemu::cloud::Served;
use crate::mock::payloads;
use crate::support::util;

/// Where the guest reaches the object store: inside slirp's 169.254.0.0/16 (guestfwd needs it),
/// not the metadata address.
pub const STORE_IP: &str = "169.254.169.250";
/// nginx's S3 proxy in the VM's namespace (what the guestfwd relays to).
const PROXY: &str = "127.0.0.3";
/// nginx's other (static) server, unused here: kept off 127.0.0.1, where the mock has port 80.
const NGINX_OTHER: &str = "127.0.0.2";
/// The CA bundle's path in the initramfs.
pub const CA_PATH: &str = "/etc/fxq/ca.pem";
/// The object's size: above 64 KiB, past every platform's user-data limit.
const BIG: usize = 80 * 1024;

/// The started store and what the boot needs from it.
pub struct Capl {
    /// The pointer the mock serves, and the object flint must write.
    pub served: Served,
    /// The image with the CA appended.
    pub initrd: PathBuf,
    /// The SigV4 check's log (one line per request it answered).
    pub sigv4_log: PathBuf,
    /// moto, the check and nginx: for `cloud::start_cloud_on` to hold.
    pub guards: Vec<Box<dyn Any>>,
}

/// The guestfwd to the proxy.
pub fn forward() -> Forward {
    Forward { guest: format!("{STORE_IP}:443"), host: format!("{PROXY}:443") }
}

/// The pointer CAPL's bootstrap writes: cloud-init's include format, one URL per line.
pub fn pointer(url: &str) -> Vec<u8> {
    format!("#include\n{url}\n").into_bytes()
}

/// Root and intermediate P-256, the leaf RSA 2048 with `STORE_IP` as its only name. Returns the
/// served identity and the bundle (the root alone).
fn pki(dir: &Path) -> Result<(pki::Served, PathBuf), String> {
    let p = Pki::new(dir)?;
    let root = p.self_signed("root", Key::P256, &pki::ca_ext(None))?;
    let int = p.issue("int", Key::P256, &root, &pki::ca_ext(Some(0)), Validity::Current)?;
    let leaf = p.issue("store", Key::Rsa(2048), &int, &pki::leaf_ext(&format!("IP:{STORE_IP}")), Validity::Current)?;
    Ok((p.served("store", &leaf, &[&int])?, p.bundle("ca", &[&root])?))
}

/// Starts the store in namespace `ns`, puts the object, signs the URL, proves it, and writes
/// the image with the CA, all under `dir`.
pub fn start(ns: &str, initrd: &Path, marker: &str, dir: &Path) -> Result<Capl, String> {
    let logs = dir.join("store");
    std::fs::create_dir_all(&logs).map_err(|e| format!("{}: {e}", logs.display()))?;
    let (served, bundle) = pki(&logs.join("pki")).map_err(|e| format!("certificate factory: {e}"))?;
    let store = s3::Store::start(ns, &logs)?;
    let www = logs.join("www");
    std::fs::create_dir_all(&www).map_err(|e| e.to_string())?;
    let conf = servers::NginxConf {
        tls_addr: NGINX_OTHER,
        tls: &served,
        s3_addr: PROXY,
        s3: &served,
        s3_upstream: &format!("127.0.0.1:{}", s3::CHECK_PORT),
        www: &www,
        debian_tls: &servers::debian_tls()?,
    };
    let nginx = servers::nginx(ns, &conf, &logs)?;

    let big = payloads::cloud_config_of_len(marker, BIG);
    let body = logs.join("big-cloud-config");
    std::fs::write(&body, &big).map_err(|e| e.to_string())?;
    let url = store.put_and_presign(ns, &format!("https://{STORE_IP}"), &body, 3600, &logs)?;
    if !url.starts_with(&format!("https://{STORE_IP}/{}/", s3::BUCKET)) || !url.contains("X-Amz-Signature=") {
        return Err(format!("fixture: the presigned URL is not path-style SigV4 on {STORE_IP}: {url}"));
    }
    prove(ns, &url, &bundle, &big, &logs)?;

    let mut image = std::fs::read(initrd).map_err(|e| format!("{}: {e}", initrd.display()))?;
    let pem = std::fs::read(&bundle).map_err(|e| format!("{}: {e}", bundle.display()))?;
    let mut a = Archive::new();
    a.file(CA_PATH, 0o644, &pem);
    // The kernel reads an uncompressed archive after a compressed one only from a 4-byte
    // boundary (init/initramfs.c, `unpack_to_rootfs`: NULs are skipped, `this_header & 3` must
    // be 0): pad the gzip'd image with zeros first, or the CA is lost as "junk" whenever the
    // image's length is not a multiple of 4 (it varies with flint's own size).
    image.resize(image.len().next_multiple_of(4), 0);
    image.extend_from_slice(&a.finish());
    let with_ca = dir.join("initramfs-capl.cpio");
    std::fs::write(&with_ca, &image).map_err(|e| format!("{}: {e}", with_ca.display()))?;

    Ok(Capl {
        served: Served { file: Some(pointer(&url)), decoded: Some(big) },
        initrd: with_ca,
        sigv4_log: logs.join("sigv4-check.log"),
        guards: vec![Box::new(nginx), Box::new(store)],
    })
}

/// `curl` in the VM's namespace, connecting to the proxy but otherwise as the guest does (the
/// URL's authority as Host, the certificate checked against the IP with the CA alone): the
/// object, byte for byte, status 200.
fn prove(ns: &str, url: &str, bundle: &Path, big: &[u8], dir: &Path) -> Result<(), String> {
    let out = dir.join("curl-presigned.out");
    let (b, o) = (bundle.display().to_string(), out.display().to_string());
    let to = format!("{STORE_IP}:443:{PROXY}:443");
    let args = ["-sS", "--max-time", "20", "--cacert", &b, "--connect-to", &to, "-o", &o, "-w", "%{http_code}", url];
    let (code, text) = servers::run_in(ns, &util::tool("curl"), &args, Duration::from_secs(30))?;
    match std::fs::read(&out) {
        Ok(got) if code == Some(0) && text.trim() == "200" && got == big => Ok(()),
        got => Err(format!(
            "fixture: curl of the presigned URL through the proxy: exit {code:?}, status {}, {} bytes (want {})",
            util::tail(&text, 3),
            got.map_or(0, |g| g.len()),
            big.len()
        )),
    }
}

/// Lines of the SigV4 check's log from line `from` on that record the object served (200).
pub fn served_since(log: &str, from: usize) -> bool {
    log.lines().skip(from).any(|l| l.starts_with("GET ") && l.contains(" -> 200,"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_and_forward() {
        assert_eq!(pointer("https://h/b/k?X-Amz-Signature=ab"), b"#include\nhttps://h/b/k?X-Amz-Signature=ab\n");
        let f = forward();
        assert_eq!((f.guest.as_str(), f.host.as_str()), ("169.254.169.250:443", "127.0.0.3:443"));
    }

    #[test]
    fn only_a_new_200_counts() {
        let log =
            "GET /capl-bootstrap/k -> 200, 81920 bytes from moto\nGET /capl-bootstrap/k -> 403 SignatureDoesNotMatch\n";
        assert!(served_since(log, 0));
        assert!(!served_since(log, 1));
        assert!(!served_since("", 0));
    }
}
