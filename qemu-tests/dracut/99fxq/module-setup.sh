#!/bin/bash
# shellcheck disable=SC2154 # moddir, initdir, systemdsystemunitdir, ... are dracut's
# Test-only dracut module for `cargo xtask qemu-test` (scenarios with "image": "dracut"):
# after Ignition's fetch-offline stage it reports what flint and Ignition did over the
# second serial port and powers the VM off, before Ignition's later stages (kargs, disks,
# ...) would look for a root disk the test VM does not have. Never part of a real image.

check() {
    return 255
}

depends() {
    echo systemd
    return 0
}

install() {
    inst_multiple sha256sum base64 cat grep tail tr ip journalctl systemctl
    inst_script "$moddir/fxq-report.sh" /usr/bin/fxq-report
    inst_simple "$moddir/fxq-report.service" "$systemdsystemunitdir/fxq-report.service"
    inst_simple "$moddir/fxq-emergency.service" "$systemdsystemunitdir/fxq-emergency.service"
    inst_simple "$moddir/fxq-fwcfg.service" "$systemdsystemunitdir/fxq-fwcfg.service"
    $SYSTEMCTL -q --root "$initdir" add-wants initrd.target fxq-report.service || return 1
    # Notes, right before flint starts, whether udev has loaded qemu_fw_cfg (platform qemu).
    $SYSTEMCTL -q --root "$initdir" add-wants initrd.target fxq-fwcfg.service || return 1
    # If anything isolates emergency.target (every Ignition unit's OnFailure=), report that
    # at once instead of leaving the harness to time out at an emergency shell.
    $SYSTEMCTL -q --root "$initdir" add-wants emergency.target fxq-emergency.service || return 1
    return 0
}
