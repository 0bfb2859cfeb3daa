//! `cargo xtask faults-net [FILTER] [--keep]`: the network faults (`suites/faults_net.rs`,
//! docs/faults-net.md).

use crate::suites::faults_net;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&faults_net::SUITE, args, deps::ensure)
}
