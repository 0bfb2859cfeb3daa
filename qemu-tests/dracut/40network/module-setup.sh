#!/bin/bash
# Test-only replacement for dracut's `network` module (and, as 45url-lib/module-setup.sh,
# a symlink here, for `url-lib`) in the boot-test image (`cargo xtask qemu-test`, scenarios
# with "image": "dracut"). Ignition's 30ignition depends on both for the case where it must
# fetch over the kernel's stack; dracut's real modules (Debian's dracut-network) would add a
# DHCP client, `ip`, curl and every NIC driver, and Ignition fetches with its own HTTP client
# anyway. This one adds nothing, so the test image has no DHCP client, network service or
# network configuration (99fxq adds `ip`, only to read the kernel's addresses): if Ignition
# did need the network (/run/ignition/neednet), nothing would serve it and the test says so.

check() {
    return 255
}

depends() {
    return 0
}

install() {
    return 0
}
