//! `cargo xtask dualstack [FILTER] [--keep]`: the dual-stack and names cases
//! (`suites/dualstack`, issue #11) with the flint already built (or `$FLINT_BIN`); the suite
//! installs dnsmasq, ndisc6, isc-dhcp-client, bind9-dnsutils, nftables and tcpdump when missing.

use crate::suites::dualstack;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&dualstack::SUITE, args, deps::ensure_dualstack)
}
