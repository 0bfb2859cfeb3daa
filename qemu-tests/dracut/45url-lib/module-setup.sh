#!/bin/bash
# Test-only replacement for dracut's `url-lib` module (Debian's dracut-network package) in
# the boot-test image: Ignition's 30ignition lists it, but Ignition fetches with its own
# HTTP client and never uses url-lib's curl wrappers. Like the `network` stand-in next to
# it, it keeps every kernel-stack network tool out of the image.

check() {
    return 255
}

depends() {
    return 0
}

install() {
    return 0
}
