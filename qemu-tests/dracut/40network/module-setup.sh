#!/bin/bash
# Test-only replacement for dracut's `network` module in the boot-test image
# (`cargo xtask qemu-test`, scenarios with "image": "dracut"). Ignition's 30ignition
# depends on `network` for the case where it must fetch over the kernel's stack; dracut's
# real module would add a DHCP client, `ip` and every NIC driver. This one adds nothing, so
# the only network code in the test image is flint's: if Ignition did need the network
# (/run/ignition/neednet), nothing would serve it and the test says so.

check() {
    return 255
}

depends() {
    return 0
}

install() {
    return 0
}
