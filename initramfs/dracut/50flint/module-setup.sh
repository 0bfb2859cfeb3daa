#!/bin/bash
# shellcheck disable=SC2154 # moddir, initdir, systemdsystemunitdir, ... are dracut's
# dracut module for flint: fetches the instance's user-data in the initramfs, before any
# network exists, and hands it to Ignition as /usr/lib/ignition/user.ign (+ /run/ignition/).
# Sourced by dracut (dracut.modules(7)); install with the directory as
# /usr/lib/dracut/modules.d/50flint/. Documentation: docs/packaging.md.
#
# The number: modules install in ascending order, and 50 > 30 means Ignition's 30ignition is
# already in $initdir when install() below looks for ignition-complete.target.

# 255: include only when asked for (`dracut -a flint`, `add_dracutmodules+=" flint "`) or
# when another module depends on it, the convention of Ignition's and Afterburn's modules
# (peers.md §2.5). 0 would put a network fetcher into every generic initramfs built on the
# host, including ones for machines that are not cloud instances.
check() {
    return 255
}

# systemd only. Never `network`: flint brings the NIC up on its own TCP/IP stack and the
# kernel's network configuration is never touched, so no DHCP client, `ip` or NetworkManager
# is needed for flint (Ignition's own module still depends on `network` for the case where
# it does need the network; that is Ignition's choice, not flint's).
depends() {
    echo systemd
    return 0
}

# The NIC drivers of the clouds flint serves (KVM clouds: virtio_net; AWS: ena, ixgbevf;
# GCP: gve; Azure: hv_netvsc, mlx4_en, mlx5_core; VMware: vmxnet3; emulated: e1000, e1000e,
# igb); udev loads whichever matches the hardware. instmods adds each one's dependencies
# from modules.dep (hv_vmbus, virtio, ...) and skips names this kernel does not have (it is
# optional unless called with -c). virtio_pci is the PCI transport virtio_net devices sit
# on, not a modules.dep dependency of virtio_net, so it is named here.
#
# Config drives (OpenStack config-2): flint reads the block device raw, so only the block
# drivers are needed, never a filesystem module: CD drives (sr_mod with cdrom, on ATA
# ata_piix or ahci; on Azure Gen2 VMs hv_storvsc) and virtio disks (virtio_blk, virtio_scsi
# with sd_mod).
installkernel() {
    instmods virtio_net virtio_pci ena gve hv_netvsc vmxnet3 \
        e1000 e1000e igb ixgbevf mlx4_en mlx5_core
    instmods sr_mod cdrom ata_piix ahci hv_storvsc virtio_blk virtio_scsi sd_mod
    # QEMU's fw_cfg items (platform qemu): udev loads it from the firmware's QEMU0002 device.
    instmods qemu_fw_cfg
}

install() {
    # The binary: fully static (no PT_INTERP), so inst_simple, never inst_binary or
    # inst_multiple, which would chase libraries. A packager puts it next to this file
    # (as Debian does with Ignition's), otherwise the host's /usr/bin/flint is used.
    local bin="$moddir/flint"
    [[ -x $bin ]] || bin="$dracutsysrootdir/usr/bin/flint"
    if [[ ! -x $bin ]]; then
        derror "flint: no binary at $moddir/flint or /usr/bin/flint"
        return 1
    fi
    inst_simple "$bin" /usr/bin/flint || return 1
    inst_simple "$moddir/flint.service" "$systemdsystemunitdir/flint.service" || return 1

    # The host's CA bundle, at the same path, for https (flint looks for these three in this
    # order unless flint.ca-bundle= names one). Only the first present is copied: they are the
    # same certificates in the distributions that have several.
    local bundle
    for bundle in /etc/pki/tls/certs/ca-bundle.crt /etc/ssl/certs/ca-certificates.crt /etc/ssl/cert.pem; do
        if [[ -r $dracutsysrootdir$bundle ]]; then
            inst_simple "$dracutsysrootdir$bundle" "$bundle" || return 1
            break
        fi
    done

    # Wants, not Requires: a required unit that fails (a flint killed at its start timeout,
    # say) fails the target that requires it, and initrd.target's failure isolates
    # emergency.target. flint must never be able to do that (fail-open), and Wants gives the
    # same "start it when the target starts" without the failure propagation.
    if [[ -e $initdir$systemdsystemunitdir/ignition-complete.target ]]; then
        # Ignition's generator makes initrd.target require ignition-complete.target only
        # when ignition.firstboot is on the kernel command line: first boot only.
        $SYSTEMCTL -q --root "$initdir" add-wants ignition-complete.target flint.service || return 1
    else
        # No Ignition in this image: initrd.target pulls flint in on every boot and the
        # unit's own ConditionKernelCommandLine= (ignition.firstboot or flint.platform)
        # decides whether it runs.
        $SYSTEMCTL -q --root "$initdir" add-wants initrd.target flint.service || return 1
    fi
    return 0
}
