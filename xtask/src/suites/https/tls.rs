//! The `--url https://…` cases: one flint run against one server of the fixture.

use std::path::Path;
use std::time::Duration;

use super::cases::{TlsCase, Trust};
use super::fixture::{Fixture, USER_DATA, base_args, check_nothing_written, check_word, run_flint};
use crate::harness::checks::{check_secrets, check_stderr};
use crate::harness::flint::{HARD_EXTRA, check_exit, check_time, verdict};
use crate::harness::handoff::{OUTPUT, rel};
use crate::harness::https::pki::DOMAIN;

pub fn run(c: &TlsCase, fx: &Fixture, dir: &Path) -> Result<Duration, Vec<String>> {
    let trust_proof = match c.trust {
        Trust::SystemPath | Trust::HostSystem => "system-bundle",
        Trust::Bundle | Trust::PlainHttp => "dns",
    };
    let unproven = fx.unproven(&[c.server, trust_proof]);
    if !unproven.is_empty() {
        return Err(unproven);
    }
    let (root, logs) = (dir.join("root"), dir.join("logs"));
    for d in [&root, &logs] {
        std::fs::create_dir_all(d).map_err(|e| vec![format!("mkdir {}: {e}", d.display())])?;
    }
    let mut args = base_args(&root, &logs, c.budget).map_err(|e| vec![e])?;
    let url = match c.trust {
        Trust::PlainHttp => format!("http://{}.{DOMAIN}/{USER_DATA}", c.server),
        _ => fx.url(c.server, c.host, USER_DATA),
    };
    args.extend(["--url".into(), url]);
    if c.trust == Trust::Bundle {
        args.extend(["--ca-bundle".into(), fx.mat.bundle.display().to_string()]);
    }
    let fr = run_flint(fx, &args, &logs, c.budget, c.trust == Trust::SystemPath).map_err(|e| vec![e])?;
    let budget = Duration::from_secs_f64(c.budget);
    let mut bad = check_exit(fr.exit, c.exit, None, budget + HARD_EXTRA);
    bad.extend(check_time(fr.elapsed, budget));
    bad.extend(check_stderr(&fr.stderr, c.exit, None));
    if c.exit == 0 {
        match std::fs::read(root.join(rel(OUTPUT))) {
            Ok(b) if b == fx.payload => {}
            Ok(b) => bad.push(format!("{OUTPUT}: {} bytes, not the {} bytes served", b.len(), fx.payload.len())),
            Err(e) => bad.push(format!("{OUTPUT}: {e}")),
        }
    } else {
        bad.extend(check_nothing_written(&root));
    }
    if let Some(w) = c.word {
        bad.extend(check_word(&fr.stderr, w));
    }
    bad.extend(check_secrets(&logs, &[], &fx.marker));
    verdict(bad, fr.elapsed, &args, &fr.stderr, &[])
}
