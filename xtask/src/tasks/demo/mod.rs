//! `cargo xtask demo [--netns]`: the QEMU demo (`qemu.rs`), or with `--netns` flint fetching the bundled Ignition config (fixtures/example.ign) from
//! the AWS mock over DHCP, then the config and the phase timings from its report.

use std::time::Duration;

mod qemu;

use crate::harness::build;
use crate::harness::flint::run_flint;
use crate::harness::netns::{Addressing, Topology};
use crate::harness::report::PHASES;
use crate::mock::{self, payloads};
use crate::support::{cleanup, deps, util};

/// `cargo xtask demo [--netns]`
pub fn cli(args: &[String]) -> Result<(), String> {
    match args {
        [] => qemu::run(),
        [flag] if flag == "--netns" => run(),
        _ => Err("demo takes no argument but --netns".into()),
    }
}

fn run() -> Result<(), String> {
    util::require_root("cargo xtask demo")?;
    deps::ensure()?;
    let built = build::built_or_override()?;
    cleanup::remove_stale();

    let dir = util::ScratchDir::new("demo")?;
    std::fs::write(dir.join("example.ign"), payloads::EXAMPLE_IGNITION).map_err(|e| e.to_string())?;
    let topo = Topology::new(Addressing::Dhcp)?;
    let _dnsmasq = topo.start_dnsmasq(dir.path())?;
    let mut mo = mock::Options::new(mock::Platform::Aws);
    mo.payload = Some(dir.join("example.ign"));
    let (_mock, _) = mock::start_in(&topo.server, &mo, dir.path())?;
    println!(
        "demo: namespaces {} (dnsmasq, aws mock on 169.254.169.254:80) <-veth-> {} (eth0 down, no address)",
        topo.server, topo.client
    );

    let out = dir.join("user.ign");
    let report = dir.join("report.json");
    let args: Vec<String> = ["--platform", "aws", "--interface", "eth0", "--timeout", "10", "--output"]
        .iter()
        .map(|s| s.to_string())
        .chain([out.display().to_string(), "--report".into(), report.display().to_string()])
        .collect();
    println!("$ ip netns exec {} {} {}", topo.client, built.path.display(), args.join(" "));
    let run = run_flint(&topo, &built.path, &args, dir.path(), Duration::from_secs(20))?;
    print!("{}", run.stderr);
    println!(
        "flint exited {} after {:.1} ms (wall, from the harness)",
        run.exit.map_or("-".into(), |c| c.to_string()),
        run.elapsed.as_secs_f64() * 1e3
    );

    match std::fs::read_to_string(&out) {
        Ok(config) => {
            println!("\n--- {} ---", out.display());
            print!("{config}");
            if !config.ends_with('\n') {
                println!();
            }
        }
        Err(e) => println!("\nno config written: {e}"),
    }

    let r: serde_json::Value = std::fs::read(&report)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or("flint wrote no readable report")?;
    println!("\n--- report ---");
    println!("{}", crate::harness::report::summary(&r));
    println!("{:<10} {:>10}", "phase", "time");
    for p in PHASES {
        let v = &r["timings_us"][p];
        let shown = v.as_u64().map_or("-".to_string(), |us| format!("{:.3} ms", us as f64 / 1e3));
        println!("{p:<10} {shown:>10}");
    }
    if run.exit == Some(0) { Ok(()) } else { Err(format!("flint exited {:?}", run.exit)) }
}
