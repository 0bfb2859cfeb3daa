//! `cargo xtask bench --qemu [--rounds N]`: kernel start → config written, flint against the
//! kernel-stack reference (`qemu-tests/reference.sh`: busybox udhcpc, a token PUT through
//! `nc`, the user-data GET with `wget`, `gunzip`, `mv`), both in the same initramfs on the
//! same VM (virtio-net on slirp, the AWS mock behind guestfwd), alternating every round.
//!
//! Times are read on the guest's own clock: the init stamps each step into the kernel log,
//! so "config written" is the printk timestamp right after the tool exits, and kernel start
//! is 0. This prints numbers; it asserts nothing about them.

use std::collections::BTreeMap;

use crate::harness::build;
use crate::harness::qemu::cloud::{self as cloud, Payload};
use crate::harness::qemu::{self as vm, Boot};
use crate::harness::report;
use crate::mock::payloads;
use crate::support::{deps, sha256, util};

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Tool {
    Flint,
    Reference,
}

impl Tool {
    fn mode(self) -> &'static str {
        match self {
            Tool::Flint => "flint",
            Tool::Reference => "reference",
        }
    }
}

struct Sample {
    /// Kernel start → config written (guest clock).
    written: f64,
    /// Tool exec → exit (guest clock).
    tool: f64,
    run_init: f64,
    /// Kernel start → the init's end marker (guest clock).
    end: f64,
    /// QEMU exec → end marker (host clock).
    host_end: f64,
    phases_us: BTreeMap<String, u64>,
}

pub(super) fn run(args: &[String]) -> Result<(), String> {
    let mut rounds = 5usize;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--rounds" => {
                rounds = it
                    .next()
                    .and_then(|v| v.parse().ok())
                    .filter(|&n| n > 0)
                    .ok_or("--rounds needs a positive number")?
            }
            other => return Err(format!("bench --qemu: unexpected `{other}`")),
        }
    }
    util::require_root("cargo xtask bench --qemu")?;
    deps::ensure_qemu()?;
    let built = build::built_or_override()?;
    let env = cloud::prepare_env(&built.path)?;
    let served = cloud::payload(Payload::IgnitionGzip, &payloads::new_marker());
    let decoded = served.decoded.as_deref().ok_or("payload")?;
    let sha = sha256::hex(decoded);

    println!(
        "bench --qemu: {rounds} round(s), each boots the same image twice (flint, reference; order alternates)\n  \
         kernel {} (PVH vmlinux), accel {} ({}), virtio-net on slirp, AWS mock via guestfwd, user-data {} B gzip -> {} B\n  \
         flint:     /bin/flint --report … (flint.platform=aws flint.timeout=20)\n  \
         reference: busybox ip link up; udhcpc; printf PUT | nc; wget GET; gunzip; mv  (qemu-tests/reference.sh)",
        env.kernel.release,
        env.accel.name(),
        env.accel_why,
        served.file.as_ref().map_or(0, Vec::len),
        decoded.len()
    );
    let mut samples: Vec<(Tool, Result<Sample, String>)> = Vec::new();
    for round in 0..rounds {
        let order = if round % 2 == 0 { [Tool::Flint, Tool::Reference] } else { [Tool::Reference, Tool::Flint] };
        for tool in order {
            let r = one_boot(&env, tool, served.file.as_deref(), &sha);
            match &r {
                Ok(s) => eprintln!("  round {} {:<9} config written at {:.3} s", round + 1, tool.mode(), s.written),
                Err(e) => {
                    eprintln!("  round {} {:<9} FAILED: {}", round + 1, tool.mode(), e.lines().next().unwrap_or(""))
                }
            }
            samples.push((tool, r));
        }
    }

    println!();
    println!(
        "{:<44} {:>10} {:>10} {:>10} {:>6}",
        "median over rounds (guest clock)", "flint", "reference", "diff", "ok"
    );
    let ok = |t: Tool| -> Vec<&Sample> {
        samples.iter().filter(|(x, _)| *x == t).filter_map(|(_, r)| r.as_ref().ok()).collect()
    };
    let (f, r) = (ok(Tool::Flint), ok(Tool::Reference));
    let med = |v: &[&Sample], g: fn(&Sample) -> f64| util::median(&v.iter().map(|s| g(s)).collect::<Vec<_>>());
    type Row = (&'static str, fn(&Sample) -> f64);
    let rows: [Row; 5] = [
        ("kernel start -> config written", |s| s.written),
        ("  of which tool exec -> exit", |s| s.tool),
        ("kernel start -> Run /init", |s| s.run_init),
        ("kernel start -> end marker", |s| s.end),
        ("qemu exec -> end marker (host clock)", |s| s.host_end),
    ];
    for (label, g) in rows {
        let (a, b) = (med(&f, g), med(&r, g));
        let show = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.3} s"));
        let diff = match (a, b) {
            (Some(a), Some(b)) => format!("{:+.3} s", a - b),
            _ => "-".into(),
        };
        println!("{label:<44} {:>10} {:>10} {:>10} {:>2}/{}", show(a), show(b), diff, f.len().min(r.len()), rounds);
    }
    for (tool, r) in &samples {
        if let Err(e) = r {
            println!("  failed {} boot: {e}", tool.mode());
        }
    }
    if !f.is_empty() {
        println!("\nflint's own phases (its --report, median, ms):");
        let line: Vec<String> = report::PHASES
            .iter()
            .map(|p| {
                let v: Vec<f64> = f.iter().filter_map(|s| s.phases_us.get(*p)).map(|&us| us as f64 / 1e3).collect();
                format!("{p} {}", util::median(&v).map_or("-".into(), |m| format!("{m:.1}")))
            })
            .collect();
        println!("  {}", line.join(", "));
    }
    Ok(())
}

fn one_boot(env: &cloud::Env, tool: Tool, file: Option<&[u8]>, sha: &str) -> Result<Sample, String> {
    let dir = util::ScratchDir::new(&format!("qbench-{}", tool.mode()))?;
    let cloud = cloud::start_aws_slirp(file, dir.path())?;
    let append = format!(
        "flint.platform=aws flint.timeout=20 fxq.mode={} fxq.watchdog=60 fxq.expect_exit=0 fxq.expect_sha256={sha}",
        tool.mode()
    );
    let vm = cloud::aws_slirp_vm(env, &cloud, dir.path(), append);
    let boot: Boot = vm::boot(&vm)?;
    let m = &boot.markers;
    if !boot.ended() || m.get("RESULT") != Some("PASS") {
        let logs = m.all("LOG").join(" | ");
        return Err(format!("result {:?}, exit {:?}, log: {logs}\n{}", m.get("RESULT"), m.exit(), boot.tails()));
    }
    let st = m.stamps();
    let get = |k: &str| st.get(k).copied().ok_or_else(|| format!("no `{k}` timestamp"));
    let phases_us = m
        .report()
        .and_then(|r| r["timings_us"].as_object().cloned())
        .map(|o| o.into_iter().filter_map(|(k, v)| v.as_u64().map(|u| (k, u))).collect())
        .unwrap_or_default();
    Ok(Sample {
        written: get("tool-done")?,
        tool: get("tool-done")? - get("tool-start")?,
        run_init: get("run-init")?,
        end: get("end")?,
        host_end: boot.to_end.unwrap_or(boot.wall).as_secs_f64(),
        phases_us,
    })
}
