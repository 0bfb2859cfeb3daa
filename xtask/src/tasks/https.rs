//! `cargo xtask https [FILTER] [--keep]`: the HTTPS and pointers cases (`suites/https`, issue
//! #13) with the flint already built (or `$FLINT_BIN`); the suite installs openssl, nginx,
//! bind9-dnsutils, python3-venv and Ignition when missing, and moto and boto3 from PyPI into a
//! venv under the cache directory.

use crate::suites::https;
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    super::suite_cli(&https::SUITE, args, deps::ensure_https)
}
