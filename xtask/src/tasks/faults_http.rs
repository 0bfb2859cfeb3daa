//! `cargo xtask faults-http [FILTER] [--keep]`: the HTTP, payload and output faults and the
//! signal runs (`suites/faults_http.rs`, docs/faults-http.md).

use crate::suites::faults_http;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&faults_http::SUITE, args, deps::ensure)
}
