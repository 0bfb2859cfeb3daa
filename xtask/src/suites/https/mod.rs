//! The HTTPS and pointers suite (issue #13, `cargo xtask https [FILTER] [--keep]`): flint's
//! TLS 1.3 client and certificate checks against real servers — `openssl s_server -WWW` and
//! Debian's `nginx` — presenting chains made by the suite's own CA (`pki`); the transport
//! failures (a ServerHello cut short, a server that never answers); a real S3 (`moto` from
//! PyPI behind nginx's TLS, `boto3` presigning as CAPL does) reached through a CAPL-style
//! `#include` pointer in Akamai user-data; Ignition configs whose `merge`, `replace` and remote
//! file sources flint inlines, read by real Ignition 2.14 `fetch-offline` (`pointers`).
//!
//! One network for the whole suite (`netns::Segment`): the server namespace holds dnsmasq
//! (DHCPv4, and DNS authoritative for `tls.example`), every TLS server on 10.0.0.20, the S3
//! proxy on 10.0.0.30 and the Akamai mock on 169.254.169.254; flint runs in the client
//! namespace, a fresh `--root` per case. Before any case, every server is proven from the probe
//! namespace with stock tools (`curl`, `openssl s_client -verify_return_error`, `dig`): it
//! must succeed, or fail for exactly the reason its case is about. Each proof is a counted
//! `fixture …` line, and a case whose fixture is not proven fails as "fixture: …", so a red case
//! says whether the fixture or flint is wrong.

mod cases;
mod fixture;
mod pointers;
mod tls;

use crate::harness::flint::runner_ready;
use crate::harness::tally::{Selection, Suite, Tally, run_each};
use crate::support::{deps, util};
use cases::{TLS_CASES, TlsCase};
use fixture::Fixture;

pub const SUITE: Suite = Suite { name: "https", needs_flint: true, gate: false, run, cases: || all().len() };

/// A case of the suite.
pub enum Case {
    Tls(&'static TlsCase),
    Pointer(&'static pointers::PointerCase),
}

impl Case {
    fn name(&self) -> &'static str {
        match self {
            Case::Tls(c) => c.name,
            Case::Pointer(c) => c.name,
        }
    }

    fn about(&self) -> &'static str {
        match self {
            Case::Tls(c) => c.about,
            Case::Pointer(c) => c.about,
        }
    }
}

fn all() -> Vec<Case> {
    TLS_CASES.iter().map(Case::Tls).chain(pointers::CASES.iter().map(Case::Pointer)).collect()
}

/// Runs the selected cases, one line each, into `t`, after the fixture's proofs.
fn run(sel: &Selection, t: &mut Tally) -> Result<(), String> {
    util::require_root("the https suite (network namespaces)")?;
    deps::ensure_https()?;
    let selected = sel.pick(all(), |c| c.name(), "https case")?;
    let with_store = selected.iter().any(|c| matches!(c, Case::Pointer(p) if p.needs_store()));
    let mut scratch = util::ScratchDir::new("https-fixture")?;
    let mut fx = Fixture::build(scratch.path(), with_store).inspect_err(|_| scratch.keep())?;
    let prepared = if selected.iter().any(|c| matches!(c, Case::Pointer(_))) {
        Some(pointers::prepare(&fx).inspect_err(|_| scratch.keep())?)
    } else {
        None
    };
    let failed_before = t.failed;
    fx.prove_all(t);
    if let Some(p) = &prepared {
        let tmp = scratch.path().join("proofs");
        let results = pointers::prove(&fx, p, &tmp);
        fx.record(t, results);
    }
    // The proofs ran without flint; the cases need it.
    let counted = match runner_ready("the https suite") {
        Ok(_) => run_each(
            &selected,
            |c| (c.name(), c.about()),
            30,
            "case",
            sel.keep,
            |c, dir| match c {
                Case::Tls(tc) => tls::run(tc, &fx, dir),
                Case::Pointer(pc) => pointers::run(pc, &fx, prepared.as_ref(), dir),
            },
        ),
        Err(e) => Err(e),
    };
    // The fixture's files (PKI, server logs, proofs) stay when anything failed, or with --keep.
    let keep = sel.keep || t.failed > failed_before || counted.as_ref().map_or(true, |&(_, f)| f > 0);
    if keep {
        scratch.keep();
        println!("     fixture files kept in {}", scratch.path().display());
    }
    t.add(counted?);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = all().iter().map(|c| c.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), all().len());
    }
}
