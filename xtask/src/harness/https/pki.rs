//! The suite's own PKI, made by `openssl` at suite start in the suite's scratch directory: three
//! trusted roots (RSA, ECDSA P-256, ECDSA P-384) and one that is not trusted, their
//! intermediates, and one leaf per server, each with exactly the property its case is about.
//!
//! Every certificate is signed by `openssl ca` (so validity windows can be set exactly, which
//! `openssl x509 -req` of OpenSSL 3.0 cannot) with the extensions written out in full here,
//! nothing copied from a request. The one certificate `openssl` will not make — a valid leaf
//! whose signature is wrong — is an `openssl` certificate with one bit of its signature flipped.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine as _;

use crate::support::{proc, util};

/// The domain every server's name is in; dnsmasq is authoritative for it.
pub const DOMAIN: &str = "tls.example";
/// The address of every TLS server of the suite but the object store's.
pub const TLS_IP: &str = "10.0.0.20";

/// A key type.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Key {
    Rsa(u32),
    P256,
    P384,
}

impl Key {
    /// The digest its signatures are made with (RFC 5758 §3.2: SHA-384 for P-384).
    fn md(self) -> &'static str {
        if self == Key::P384 { "sha384" } else { "sha256" }
    }

    fn genpkey_args(self) -> Vec<String> {
        match self {
            Key::Rsa(bits) => {
                vec!["-algorithm".into(), "RSA".into(), "-pkeyopt".into(), format!("rsa_keygen_bits:{bits}")]
            }
            Key::P256 => vec!["-algorithm".into(), "EC".into(), "-pkeyopt".into(), "ec_paramgen_curve:P-256".into()],
            Key::P384 => vec!["-algorithm".into(), "EC".into(), "-pkeyopt".into(), "ec_paramgen_curve:P-384".into()],
        }
    }
}

/// A certificate and its key on disk.
#[derive(Clone, Debug)]
pub struct Cert {
    pub cert: PathBuf,
    pub key: PathBuf,
    key_type: Key,
}

/// What a server presents: its leaf, the intermediates it sends after it (may be empty), its key.
#[derive(Clone, Debug)]
pub struct Served {
    pub leaf: PathBuf,
    /// The certificates sent after the leaf, in order (`-cert_chain`); `None` when there are none.
    pub chain: Option<PathBuf>,
    /// The leaf followed by the chain (nginx's `ssl_certificate`).
    pub fullchain: PathBuf,
    pub key: PathBuf,
}

/// The validity window (`openssl ca -startdate/-enddate`, UTCTime `YYMMDDHHMMSSZ`).
#[derive(Clone, Copy, Debug)]
pub enum Validity {
    /// 2025-01-01 to 2036-01-01: valid today.
    Current,
    /// 2020-01-01 to 2021-01-01.
    Expired,
    /// 2040-01-01 to 2049-01-01.
    NotYet,
}

impl Validity {
    fn dates(self) -> (&'static str, &'static str) {
        match self {
            Validity::Current => ("250101000000Z", "360101000000Z"),
            Validity::Expired => ("200101000000Z", "210101000000Z"),
            Validity::NotYet => ("400101000000Z", "490101000000Z"),
        }
    }
}

/// `basicConstraints` and `keyUsage` of a CA (RFC 5280 §4.2.1.9, §4.2.1.3).
pub fn ca_ext(pathlen: Option<u8>) -> String {
    let pl = pathlen.map(|n| format!(",pathlen:{n}")).unwrap_or_default();
    format!(
        "basicConstraints=critical,CA:TRUE{pl}\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n"
    )
}

/// A TLS server's leaf: not a CA, `digitalSignature` (what a TLS 1.3 CertificateVerify needs,
/// RFC 8446 §4.4.3), `serverAuth`, and `san` as its subjectAltName.
pub fn leaf_ext(san: &str) -> String {
    format!(
        "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName={san}\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n"
    )
}

/// `DNS:<name>.tls.example`
pub fn dns(name: &str) -> String {
    format!("DNS:{name}.{DOMAIN}")
}

const CA_CONFIG: &str = "\
[ ca ]
default_ca = flint_test_ca
[ flint_test_ca ]
database = index.txt
new_certs_dir = newcerts
default_md = sha256
policy = policy_any
email_in_dn = no
copy_extensions = none
unique_subject = no
rand_serial = yes
[ policy_any ]
commonName = supplied
";

/// The factory: a directory with `openssl ca`'s database and every key and certificate made.
pub struct Pki {
    dir: PathBuf,
    limit: Duration,
}

fn openssl(dir: &Path, args: &[&str], limit: Duration) -> Result<(), String> {
    let mut cmd = Command::new(util::tool("openssl"));
    cmd.current_dir(dir).args(args);
    proc::run_ok(&mut cmd, limit).map(|_| ())
}

impl Pki {
    pub fn new(dir: &Path) -> Result<Pki, String> {
        std::fs::create_dir_all(dir.join("newcerts")).map_err(|e| format!("{}: {e}", dir.display()))?;
        let w = |name: &str, text: &str| std::fs::write(dir.join(name), text).map_err(|e| format!("{name}: {e}"));
        w("ca.cnf", CA_CONFIG)?;
        w("index.txt", "")?;
        w("index.txt.attr", "unique_subject = no\n")?;
        // RSA 4096 key generation can take seconds on a busy machine.
        Ok(Pki { dir: dir.to_path_buf(), limit: Duration::from_secs(120) })
    }

    fn path(&self, name: &str, ext: &str) -> PathBuf {
        self.dir.join(format!("{name}.{ext}"))
    }

    fn key(&self, name: &str, k: Key) -> Result<PathBuf, String> {
        let out = self.path(name, "key");
        let args = k.genpkey_args();
        let mut all: Vec<&str> = vec!["genpkey"];
        all.extend(args.iter().map(String::as_str));
        let o = out.display().to_string();
        all.extend(["-out", &o]);
        openssl(&self.dir, &all, self.limit)?;
        Ok(out)
    }

    /// A self-signed certificate with `ext` (a root CA, or the self-signed leaf).
    pub fn self_signed(&self, name: &str, k: Key, ext: &str) -> Result<Cert, String> {
        let key = self.key(name, k)?;
        let csr = self.csr(name, &key)?;
        self.sign(name, &csr, None, k, ext, Validity::Current)?;
        Ok(Cert { cert: self.path(name, "pem"), key, key_type: k })
    }

    fn csr(&self, name: &str, key: &Path) -> Result<PathBuf, String> {
        let csr = self.path(name, "csr");
        let (k, c) = (key.display().to_string(), csr.display().to_string());
        let subj = format!("/O=flint https suite/CN={name}");
        openssl(&self.dir, &["req", "-new", "-key", &k, "-subj", &subj, "-out", &c], self.limit)?;
        Ok(csr)
    }

    /// `openssl ca`: signs `csr` by `issuer` (itself when `None`: `-selfsign`).
    fn sign(
        &self,
        name: &str,
        csr: &Path,
        issuer: Option<&Cert>,
        k: Key,
        ext: &str,
        v: Validity,
    ) -> Result<(), String> {
        let extfile = self.path(name, "ext");
        std::fs::write(&extfile, ext).map_err(|e| e.to_string())?;
        let out = self.path(name, "pem");
        let (start, end) = v.dates();
        let (csr_s, out_s, ext_s) =
            (csr.display().to_string(), out.display().to_string(), extfile.display().to_string());
        let self_key = self.path(name, "key").display().to_string();
        let (md, ca_args): (&str, Vec<String>) = match issuer {
            Some(i) => (
                i.key_type.md(),
                vec!["-cert".into(), i.cert.display().to_string(), "-keyfile".into(), i.key.display().to_string()],
            ),
            None => (k.md(), vec!["-selfsign".into(), "-keyfile".into(), self_key]),
        };
        let mut args: Vec<&str> = vec!["ca", "-batch", "-config", "ca.cnf", "-notext", "-md", md];
        args.extend(ca_args.iter().map(String::as_str));
        args.extend(["-in", &csr_s, "-out", &out_s, "-startdate", start, "-enddate", end, "-extfile", &ext_s]);
        openssl(&self.dir, &args, self.limit)
    }

    /// A certificate for a new `k` key, signed by `issuer`, with `ext` and validity `v`.
    pub fn issue(&self, name: &str, k: Key, issuer: &Cert, ext: &str, v: Validity) -> Result<Cert, String> {
        let key = self.key(name, k)?;
        let csr = self.csr(name, &key)?;
        self.sign(name, &csr, Some(issuer), k, ext, v)?;
        Ok(Cert { cert: self.path(name, "pem"), key, key_type: k })
    }

    /// What a server presents: `leaf` and then `chain` (nearest issuer first, RFC 8446 §4.4.2).
    pub fn served(&self, name: &str, leaf: &Cert, chain: &[&Cert]) -> Result<Served, String> {
        let read = |p: &Path| std::fs::read_to_string(p).map_err(|e| format!("{}: {e}", p.display()));
        let mut tail = String::new();
        for c in chain {
            tail += &read(&c.cert)?;
        }
        let chain_path = if chain.is_empty() {
            None
        } else {
            let p = self.path(&format!("{name}-chain"), "pem");
            std::fs::write(&p, &tail).map_err(|e| e.to_string())?;
            Some(p)
        };
        let full = self.path(&format!("{name}-fullchain"), "pem");
        std::fs::write(&full, read(&leaf.cert)? + &tail).map_err(|e| e.to_string())?;
        Ok(Served { leaf: leaf.cert.clone(), chain: chain_path, fullchain: full, key: leaf.key.clone() })
    }

    /// A copy of `c` whose signature has one bit flipped (its last byte: inside the signature
    /// BIT STRING, which ends the DER, RFC 5280 §4.1). Everything signed stays as it was.
    pub fn bad_signature(&self, name: &str, c: &Cert) -> Result<Cert, String> {
        let pem = std::fs::read_to_string(&c.cert).map_err(|e| e.to_string())?;
        let mut der = pem_to_der(&pem)?;
        let last = der.len() - 1;
        der[last] ^= 0x01;
        let out = self.path(name, "pem");
        std::fs::write(&out, der_to_pem(&der)).map_err(|e| e.to_string())?;
        Ok(Cert { cert: out, key: c.key.clone(), key_type: c.key_type })
    }

    /// Concatenates certificates into a bundle file (the `--ca-bundle` and system bundle).
    pub fn bundle(&self, name: &str, certs: &[&Cert]) -> Result<PathBuf, String> {
        let mut text = String::new();
        for c in certs {
            text += &std::fs::read_to_string(&c.cert).map_err(|e| e.to_string())?;
        }
        let p = self.path(name, "pem");
        std::fs::write(&p, text).map_err(|e| e.to_string())?;
        Ok(p)
    }
}

/// The DER of the first `CERTIFICATE` block of `pem`.
pub fn pem_to_der(pem: &str) -> Result<Vec<u8>, String> {
    let body: String = pem
        .lines()
        .skip_while(|l| !l.starts_with("-----BEGIN CERTIFICATE-----"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body.trim()).map_err(|e| format!("PEM: {e}"))
}

pub fn der_to_pem(der: &[u8]) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(der);
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out += std::str::from_utf8(chunk).unwrap_or_default();
        out.push('\n');
    }
    out + "-----END CERTIFICATE-----\n"
}

/// Everything the servers present and the clients trust.
pub struct Material {
    /// The three trusted roots: what `--ca-bundle` names and what the system bundle case
    /// puts at the system path.
    pub bundle: PathBuf,
    pub served: BTreeMap<&'static str, Served>,
    /// The root in no bundle (the unknown issuer's), for a config's own
    /// `certificateAuthorities`.
    pub other_root: PathBuf,
}

/// One served identity: name, key, issuer, extensions, validity.
struct LeafSpec {
    name: &'static str,
    key: Key,
    issuer: &'static str,
    ext: String,
    validity: Validity,
}

/// Makes the whole PKI in `dir`. Names of `Material::served` are the servers' (cases.rs).
pub fn build(dir: &Path) -> Result<Material, String> {
    let p = Pki::new(dir)?;
    let mut ca: BTreeMap<&'static str, Cert> = BTreeMap::new();
    ca.insert("root-rsa", p.self_signed("root-rsa", Key::Rsa(3072), &ca_ext(None))?);
    ca.insert("root-p256", p.self_signed("root-p256", Key::P256, &ca_ext(None))?);
    ca.insert("root-p384", p.self_signed("root-p384", Key::P384, &ca_ext(None))?);
    // Not in any bundle: the unknown issuer.
    ca.insert("root-other", p.self_signed("root-other", Key::Rsa(2048), &ca_ext(None))?);
    // (name, key, issuer, extensions): every intermediate, parents first.
    let ints: [(&'static str, Key, &'static str, String); 9] = [
        ("int-rsa2048", Key::Rsa(2048), "root-rsa", ca_ext(Some(0))),
        ("int-rsa3072", Key::Rsa(3072), "root-rsa", ca_ext(Some(0))),
        ("int-rsa4096", Key::Rsa(4096), "root-rsa", ca_ext(Some(0))),
        ("int-p256", Key::P256, "root-p256", ca_ext(Some(0))),
        ("int-p384", Key::P384, "root-p384", ca_ext(Some(0))),
        ("int-other", Key::Rsa(2048), "root-other", ca_ext(Some(0))),
        // basicConstraints CA:FALSE, yet keyCertSign: only the CA bit says no (§4.2.1.9).
        (
            "int-notca",
            Key::Rsa(2048),
            "root-rsa",
            "basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid:always\n".into(),
        ),
        // pathLenConstraint 0, and yet another CA under it (§4.2.1.9).
        ("int-pathlen0", Key::Rsa(2048), "root-rsa", ca_ext(Some(0))),
        ("int-under-pathlen0", Key::Rsa(2048), "int-pathlen0", ca_ext(None)),
    ];
    let mut parent: BTreeMap<&'static str, &'static str> = BTreeMap::new();
    for (name, k, issuer, ext) in ints {
        let i = ca[issuer].clone();
        ca.insert(name, p.issue(name, k, &i, &ext, Validity::Current)?);
        parent.insert(name, issuer);
    }
    // A normal leaf that then signs another leaf (the "leaf signing a leaf" chain).
    let signer =
        p.issue("leaf-signer", Key::P256, &ca["int-p256"].clone(), &leaf_ext(&dns("signer")), Validity::Current)?;
    ca.insert("leaf-signer", signer);
    parent.insert("leaf-signer", "int-p256");

    let cur = Validity::Current;
    let spec = |name, key, issuer, ext: String, validity| LeafSpec { name, key, issuer, ext, validity };
    let leaves = vec![
        spec("rsa2048", Key::Rsa(2048), "int-rsa2048", leaf_ext(&dns("rsa2048")), cur),
        spec("rsa3072", Key::Rsa(3072), "int-rsa3072", leaf_ext(&dns("rsa3072")), cur),
        spec("rsa4096", Key::Rsa(4096), "int-rsa4096", leaf_ext(&dns("rsa4096")), cur),
        spec("p256", Key::P256, "int-p256", leaf_ext(&dns("p256")), cur),
        spec("p384", Key::P384, "int-p384", leaf_ext(&dns("p384")), cur),
        spec("tls13only", Key::P256, "int-p256", leaf_ext(&dns("tls13only")), cur),
        spec("tls12only", Key::Rsa(2048), "int-rsa2048", leaf_ext(&dns("tls12only")), cur),
        spec("nginx", Key::Rsa(2048), "int-rsa2048", leaf_ext(&dns("nginx")), cur),
        spec("system", Key::P256, "int-p256", leaf_ext(&dns("system")), cur),
        spec("ipsan", Key::P256, "int-p256", leaf_ext(&format!("IP:{TLS_IP},{}", dns("ipsan"))), cur),
        spec("ipnosan", Key::P256, "int-p256", leaf_ext(&dns("ipnosan")), cur),
        spec("expired", Key::P256, "int-p256", leaf_ext(&dns("expired")), Validity::Expired),
        spec("notyet", Key::P256, "int-p256", leaf_ext(&dns("notyet")), Validity::NotYet),
        spec("wrongname", Key::P256, "int-p256", leaf_ext(&dns("other")), cur),
        spec("unknownissuer", Key::Rsa(2048), "int-other", leaf_ext(&dns("unknownissuer")), cur),
        spec("intnotca", Key::Rsa(2048), "int-notca", leaf_ext(&dns("intnotca")), cur),
        spec("leafleaf", Key::P256, "leaf-signer", leaf_ext(&dns("leafleaf")), cur),
        spec("pathlen", Key::Rsa(2048), "int-under-pathlen0", leaf_ext(&dns("pathlen")), cur),
        spec(
            "eku",
            Key::P256,
            "int-p256",
            leaf_ext(&dns("eku")).replace("extendedKeyUsage=serverAuth", "extendedKeyUsage=clientAuth"),
            cur,
        ),
        // An RSA leaf whose keyUsage allows key transport only: no TLS 1.3 signature (§4.4.3).
        spec(
            "keyusage",
            Key::Rsa(2048),
            "int-rsa2048",
            leaf_ext(&dns("keyusage"))
                .replace("keyUsage=critical,digitalSignature", "keyUsage=critical,keyEncipherment"),
            cur,
        ),
        // A private extension marked critical (RFC 5280 §4.2: must be rejected).
        spec(
            "critext",
            Key::P256,
            "int-p256",
            leaf_ext(&dns("critext")) + "1.3.6.1.4.1.55555.1=critical,ASN1:NULL\n",
            cur,
        ),
        spec("rsa1024", Key::Rsa(1024), "int-rsa2048", leaf_ext(&dns("rsa1024")), cur),
        spec("badsig", Key::P256, "int-p256", leaf_ext(&dns("badsig")), cur),
        // The object store's proxy and the Ignition servers.
        spec("s3", Key::P256, "int-p256", leaf_ext(&dns("s3")), cur),
    ];
    let mut served = BTreeMap::new();
    for l in leaves {
        let issuer = ca[l.issuer].clone();
        let mut leaf = p.issue(l.name, l.key, &issuer, &l.ext, l.validity)?;
        if l.name == "badsig" {
            leaf = p.bad_signature("badsig-flipped", &leaf)?;
        }
        // The chain each server sends: every intermediate up to (not including) the root.
        let mut chain: Vec<&Cert> = Vec::new();
        let mut up = l.issuer;
        while let Some(&next) = parent.get(up) {
            chain.push(&ca[up]);
            up = next;
        }
        served.insert(l.name, p.served(l.name, &leaf, &chain)?);
    }
    // The self-signed leaf: its own issuer, in no bundle.
    let ss = p.self_signed("selfsigned", Key::P256, &leaf_ext(&dns("selfsigned")))?;
    served.insert("selfsigned", p.served("selfsigned", &ss, &[])?);
    let bundle = p.bundle("trusted-roots", &[&ca["root-rsa"], &ca["root-p256"], &ca["root-p384"]])?;
    let other_root = ca["root-other"].cert.clone();
    Ok(Material { bundle, served, other_root })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_round_trip_and_extensions() {
        let der: Vec<u8> = (0..200u8).collect();
        assert_eq!(pem_to_der(&der_to_pem(&der)).unwrap(), der);
        assert!(pem_to_der("no pem here").unwrap().is_empty());
        assert!(ca_ext(Some(0)).contains("CA:TRUE,pathlen:0"));
        assert!(ca_ext(None).contains("CA:TRUE\n"));
        let l = leaf_ext("DNS:a.tls.example");
        assert!(l.contains("CA:FALSE") && l.contains("serverAuth") && l.contains("subjectAltName=DNS:a.tls.example"));
    }
}
