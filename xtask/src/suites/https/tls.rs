//! The `--url https://…` cases: one flint run against one server of the fixture.

use std::path::Path;
use std::time::Duration;

use super::cases::{self, Kind, TlsCase, Trust, Via};
use super::fixture::{
    Fixture, USER_DATA, base_args, check_nothing_written, check_word, line_count, new_lines, run_flint,
};
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
    let url = match c.trust {
        Trust::PlainHttp => format!("http://{}.{DOMAIN}/{USER_DATA}", c.server),
        _ => fx.url(c.server, c.host, USER_DATA),
    };
    let bundle = fx.mat.bundle.display().to_string();
    let kernel = match c.via {
        Via::Args => String::new(),
        Via::Kernel => format!("flint.url={url} flint.ca-bundle={bundle}"),
        Via::IgnitionMetal => format!("ignition.platform.id=metal ignition.config.url={url} flint.ca-bundle={bundle}"),
    };
    let mut args = base_args(&root, &logs, c.budget, &kernel).map_err(|e| vec![e])?;
    if c.via == Via::Args {
        args.extend(["--url".into(), url]);
        if c.trust == Trust::Bundle {
            args.extend(["--ca-bundle".into(), bundle]);
        }
    }
    // The transport failures' servers log what they read: flint's bytes must have been a
    // TLS ClientHello (a handshake record, 0x16 0x03), so an exit 4 is about the handshake.
    let transport = cases::SERVERS.iter().find(|s| s.name == c.server && !matches!(s.kind, Kind::SServer(_)));
    let server_log = fx.dir.join(format!("servers/server-{}.log", c.server));
    let before = line_count(&server_log);
    let fr = run_flint(fx, &args, &logs, c.budget, c.trust == Trust::SystemPath).map_err(|e| vec![e])?;
    let budget = Duration::from_secs_f64(c.budget);
    let mut bad = check_exit(fr.exit, c.exit, None, budget + HARD_EXTRA);
    bad.extend(check_time(fr.elapsed, budget));
    // A server that cannot be trusted, or a TLS failure, is phase `tls` (docs/contract.md).
    bad.extend(check_stderr(&fr.stderr, c.exit, (c.exit == 5).then_some("tls")));
    if c.exit == 0 {
        match std::fs::read(root.join(rel(OUTPUT))) {
            Ok(b) if b == fx.payload => {}
            Ok(b) => bad.push(format!("{OUTPUT}: {} bytes, not the {} bytes served", b.len(), fx.payload.len())),
            Err(e) => bad.push(format!("{OUTPUT}: {e}")),
        }
    } else {
        bad.extend(check_nothing_written(&root));
    }
    if transport.is_some() {
        let seen = new_lines(&server_log, before);
        if !seen.iter().any(|l| l.contains("(1603")) {
            bad.push(format!("the server never read a ClientHello from flint: {seen:?}"));
        }
    }
    if let Some(w) = c.word {
        bad.extend(check_word(&fr.stderr, w));
    }
    bad.extend(check_secrets(&logs, &[], &fx.marker));
    verdict(bad, fr.elapsed, &args, &fr.stderr, &[])
}
