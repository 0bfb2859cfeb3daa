//! `cargo xtask initramfs [--dracut] [--out PATH]`: the boot-test image (or the dracut one),
//! and how to boot it by hand.

use std::path::PathBuf;

use crate::harness::{build, dracut, initramfs, kernel};
use crate::support::deps;

/// `cargo xtask initramfs [--dracut] [--out PATH]`
pub fn cli(args: &[String]) -> Result<(), String> {
    let mut out = None;
    let mut dracut = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--out" => out = Some(it.next().map(PathBuf::from).ok_or("--out needs a path")?),
            "--dracut" => dracut = true,
            other => return Err(format!("initramfs: unexpected `{other}`")),
        }
    }
    deps::ensure_qemu()?;
    let built = build::built_or_override()?;
    let kernel = kernel::ensure()?;
    if dracut {
        let cached = dracut::image(&built.path, &kernel)?;
        let path = match out {
            Some(o) => {
                std::fs::copy(&cached, &o).map_err(|e| format!("{}: {e}", o.display()))?;
                o
            }
            None => cached,
        };
        let size = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
        println!("kernel:    {} ({} {})", kernel.release, kernel.package, kernel.version);
        println!("vmlinux:   {}", kernel.vmlinux.display());
        println!("initramfs: {} ({size} bytes, dracut, systemd initrd)", path.display());
        println!(
            "modules:   flint (initramfs/dracut/50flint), Ignition's 30ignition, the test report qemu-tests/dracut/99fxq"
        );
        println!("boot it:   qemu-system-x86_64 -nodefaults -nographic -no-reboot -accel tcg -m 256M \\");
        println!("             -kernel {} -initrd {} \\", kernel.vmlinux.display(), path.display());
        println!(
            "             -append 'console=ttyS0 panic=-1 ignition.firstboot ignition.platform.id=metal flint.platform=aws' \\"
        );
        println!("             -serial stdio -serial null -netdev user,id=n0 -device virtio-net-pci,netdev=n0");
        return Ok(());
    }
    let out = out.unwrap_or_else(initramfs::default_path);
    let image = initramfs::build(&built.path, &kernel, &out)?;
    println!("kernel:    {} ({} {})", kernel.release, kernel.package, kernel.version);
    println!("vmlinux:   {}", kernel.vmlinux.display());
    println!("initramfs: {} ({} bytes, gzip newc cpio)", image.path.display(), image.size);
    println!("modules:   {}", image.modules.join(" "));
    println!("boot it:   qemu-system-x86_64 -nodefaults -nographic -no-reboot -accel tcg -m 256M \\");
    println!("             -kernel {} -initrd {} \\", kernel.vmlinux.display(), image.path.display());
    println!("             -append 'console=ttyS0 panic=-1 flint.platform=aws' -serial stdio -serial null \\");
    println!("             -netdev user,id=n0 -device virtio-net-pci,netdev=n0");
    Ok(())
}
