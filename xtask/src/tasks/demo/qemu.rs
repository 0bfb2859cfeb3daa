//! `cargo xtask demo`: one boot of the test image under QEMU — a Debian kernel, the NIC
//! driver loaded from the initramfs, flint fetching the bundled Ignition config from the AWS
//! mock over slirp — then the config, flint's log, its phase timings and the boot timeline
//! on the guest's own clock. (`cargo xtask demo --netns` is the namespace-only demo.)

use crate::harness::build;
use crate::harness::qemu::{self as vm, cloud};
use crate::harness::report::PHASES;
use crate::mock::payloads;
use crate::support::{cleanup, deps, sha256, util};

pub(super) fn run() -> Result<(), String> {
    util::require_root("cargo xtask demo")?;
    deps::ensure_qemu()?;
    let built = build::built_or_override()?;
    cleanup::remove_stale();
    let env = cloud::prepare_env(&built.path)?;
    let config = payloads::EXAMPLE_IGNITION.as_bytes();
    let dir = util::ScratchDir::new("qemu-demo")?;
    let cloud = cloud::start_aws_slirp(Some(config), dir.path())?;
    let append = format!(
        "flint.platform=aws flint.timeout=20 fxq.mode=flint fxq.show=1 fxq.expect_exit=0 fxq.expect_sha256={}",
        sha256::hex(config)
    );
    let vm = cloud::aws_slirp_vm(&env, &cloud, dir.path(), append);
    println!(
        "demo: Debian kernel {} ({} {}) under QEMU/{} ({}), booted as the uncompressed vmlinux (PVH)\n      \
         initramfs: flint {} bytes + busybox test init + virtio/e1000 modules; NIC virtio-net-pci on slirp\n      \
         metadata: the AWS mock in namespace {} behind guestfwd 169.254.169.254:80, serving xtask/fixtures/example.ign",
        env.kernel.release,
        env.kernel.package,
        env.kernel.version,
        env.accel.name(),
        env.accel_why,
        built.size,
        cloud.net.ns
    );
    println!("      kernel arguments: console=ttyS0 panic=-1 {}\n", vm.append);
    let boot = vm::boot(&vm)?;
    drop(cloud);
    let m = &boot.markers;
    if !boot.ended() {
        return Err(format!("the boot did not reach the end marker\n{}", boot.tails()));
    }

    println!("--- flint's log (stderr, on the guest console) ---");
    for l in m.all("LOG") {
        println!("{l}");
    }
    match m.file() {
        Some(bytes) => {
            println!(
                "\n--- /run/flint/user-data ({} bytes, sha256 {}) ---",
                bytes.len(),
                m.get("SHA256").unwrap_or("-")
            );
            let text = String::from_utf8_lossy(&bytes);
            print!("{text}");
            if !text.ends_with('\n') {
                println!();
            }
        }
        None => println!("\nno config written (sha256 {})", m.get("SHA256").unwrap_or("-")),
    }

    let st = m.stamps();
    let at = |k: &str| st.get(k).map_or("      -".to_string(), |t| format!("{t:>7.3}"));
    println!("\n--- boot timeline (guest clock: seconds since kernel start) ---");
    println!("{} s  kernel start", format_args!("{:>7.3}", 0.0));
    println!("{} s  kernel runs /init", at("run-init"));
    println!("{} s  init: /proc, /sys, /dev mounted", at("init"));
    println!("{} s  init: NIC drivers loaded (virtio, e1000, e1000e modules)", at("modules"));
    println!("{} s  flint started", at("tool-start"));
    println!(
        "{} s  flint done: exit {}, config written",
        at("tool-done"),
        m.exit().map_or("-".into(), |c| c.to_string())
    );
    println!("{} s  end marker, power-off", at("end"));
    println!(
        "host clock: qemu exec -> end marker {:.3} s, -> qemu exit {:.3} s",
        boot.to_end.unwrap_or(boot.wall).as_secs_f64(),
        boot.wall.as_secs_f64()
    );

    if let Some(r) = m.report() {
        println!("\n--- flint's report ---");
        println!("{}", crate::harness::report::summary(&r));
        let phases: Vec<String> = PHASES
            .iter()
            .map(|p| {
                let v = &r["timings_us"][p];
                format!("{p} {}", v.as_u64().map_or("-".to_string(), |us| format!("{:.1} ms", us as f64 / 1e3)))
            })
            .collect();
        println!("phases: {}", phases.join(", "));
    }
    match m.get("RESULT") {
        Some("PASS") => Ok(()),
        other => Err(format!("the guest reports {other:?} (flint exit {:?})", m.exit())),
    }
}
