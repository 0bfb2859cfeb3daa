//! flint's X.509 parser (`tls::pki::cert::Cert::parse`) against the x509-parser crate, on any
//! bytes and on the openssl-made fixtures of `src/tls/pki/testdata` with up to 8 changed bytes
//! and a cut. Checked: no panic anywhere (parse, path validation with the fixture roots,
//! `pem_to_der`); for a certificate both parsers accept, the same signed bytes (tbs), serial
//! number, validity in Unix seconds, subjectAltName dNSName and iPAddress entries in order,
//! and basicConstraints (cA and pathLenConstraint); and `pem_to_der` leaves only whole DER
//! SEQUENCEs.
#![no_main]

use arbitrary::Arbitrary;
use flint::tls::pki::cert::Cert;
use flint::tls::pki::{Anchors, ServerName, pem_to_der, verify_server};
use libfuzzer_sys::fuzz_target;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};

macro_rules! fixtures {
    ($($name:literal),*) => {
        [$(include_bytes!(concat!("../../src/tls/pki/testdata/", $name, ".der")) as &[u8]),*]
    };
}
const FIXTURES: [&[u8]; 12] = fixtures!(
    "leaf-p256",
    "leaf-rsa2048",
    "leaf-pss",
    "int-pss",
    "leaf-ip",
    "leaf-wild",
    "root-p384",
    "int-pl0",
    "leaf-critical",
    "leaf-nosan",
    "leaf-rsa4096",
    "leaf-client"
);
const ROOTS: [&[u8]; 3] = fixtures!("root-rsa", "root-p256", "root-p384");
/// 2026-06-01, as the unit tests use.
const NOW: u64 = 1_780_272_000;

#[derive(Arbitrary, Debug)]
enum Case {
    /// Any bytes.
    Raw(Vec<u8>),
    /// A fixture with up to 8 bytes replaced and possibly cut.
    Patched { which: u8, patches: Vec<(u16, u8)>, cut: Option<u16> },
}

fuzz_target!(|case: Case| {
    let der = match case {
        Case::Raw(v) => v,
        Case::Patched { which, patches, cut } => {
            let mut v = FIXTURES[which as usize % FIXTURES.len()].to_vec();
            for (at, b) in patches.into_iter().take(8) {
                let n = v.len();
                v[at as usize % n] = b;
            }
            if let Some(c) = cut {
                v.truncate(c as usize % (v.len() + 1));
            }
            v
        }
    };
    let mine = Cert::parse(&der);
    if let Ok(c) = &mine {
        compare(c, &der);
    }

    // Path validation over the certificate as a leaf and as an intermediate: no panic.
    let roots: Vec<u8> = ROOTS.concat();
    let anchors = Anchors::new(&roots);
    for name in [ServerName::Dns(b"p256.flint.test"), ServerName::V4([192, 0, 2, 7])] {
        let _ = verify_server(&[&der], &anchors, name, NOW);
        let _ = verify_server(&[FIXTURES[0], &der], &anchors, name, NOW);
    }

    // The bytes as a PEM bundle: what comes out is whole DER SEQUENCEs only.
    let mut pem = b"-----BEGIN CERTIFICATE-----\n".to_vec();
    pem.extend_from_slice(&der);
    pem.extend_from_slice(b"\n-----END CERTIFICATE-----\n");
    let mut both = [&der[..], &pem[..]].concat();
    let n = pem_to_der(&mut both);
    assert!(n <= der.len() + pem.len());
    let mut rest = &both[..n];
    while !rest.is_empty() {
        let (t, h, l) = flint::tls::pki::der::header(rest).expect("pem_to_der left a broken TLV");
        assert_eq!(t, 0x30, "pem_to_der left something that is not a SEQUENCE");
        rest = &rest[h + l..];
    }
});

/// Both parsers read the certificate: the fields must agree.
fn compare(c: &Cert<'_>, der: &[u8]) {
    let Ok((rest, x)) = X509Certificate::from_der(der) else { return };
    if !rest.is_empty() {
        return;
    }
    assert_eq!(c.tbs, x.tbs_certificate.as_ref(), "tbs");
    assert_eq!(c.serial, x.raw_serial(), "serial");
    let nb = x.validity().not_before.timestamp();
    let na = x.validity().not_after.timestamp();
    if nb >= 0 && na >= 0 {
        assert_eq!((c.not_before, c.not_after), (nb as u64, na as u64), "validity");
    }
    if let Ok(bc) = x.basic_constraints() {
        let want = bc.and_then(|b| b.value.ca.then_some(b.value.path_len_constraint));
        assert_eq!(c.ca, want, "basicConstraints");
    }
    // x509-parser reads a constructed [2] or [7] (0xa2, 0xa7) as a dNSName or iPAddress; DER
    // makes both primitive (IMPLICIT IA5String / OCTET STRING), and flint reads them as
    // neither: such a SAN is not compared (found by this target; flint's reading is the strict one).
    let constructed = c.san_entries().any(|(t, _)| t == 0xa2 || t == 0xa7);
    if let Ok(san) = x.subject_alternative_name()
        && !constructed
    {
        let want: Vec<(u8, &[u8])> = san
            .map(|s| s.value.general_names.iter())
            .into_iter()
            .flatten()
            .filter_map(|g| match g {
                GeneralName::DNSName(s) => Some((0x82, s.as_bytes())),
                GeneralName::IPAddress(a) => Some((0x87, *a)),
                _ => None,
            })
            .collect();
        let got: Vec<(u8, &[u8])> = c.san_entries().filter(|e| e.0 == 0x82 || e.0 == 0x87).collect();
        assert_eq!(got, want, "subjectAltName");
    }
}
