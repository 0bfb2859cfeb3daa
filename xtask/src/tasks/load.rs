//! `cargo xtask load [--instances N] [--rate-limit R] [--timeout S] [--keep]`: N flints at
//! once against one rate-limited mock (`suites/load.rs`).

use crate::suites::load::{self, Config};
use crate::support::deps;

pub fn cli(args: &[String]) -> Result<(), String> {
    let mut cfg = Config::default();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || it.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--instances" => cfg.instances = value()?.parse().map_err(|_| "--instances: a number")?,
            "--rate-limit" => cfg.rate_limit = value()?.parse().map_err(|_| "--rate-limit: a number")?,
            "--timeout" => cfg.budget = value()?.parse().map_err(|_| "--timeout: seconds")?,
            "--keep" => cfg.keep = true,
            other => return Err(format!("load: unknown argument `{other}`")),
        }
    }
    deps::ensure()?;
    let o = load::run(&cfg)?;
    let status = if o.problems.is_empty() { "ok  " } else { "FAIL" };
    println!("{status} {:<24} {}", format!("load-{}", cfg.instances), load::summary(&cfg, &o));
    load::print_problems(&cfg, &o);
    if o.problems.is_empty() { Ok(()) } else { Err("load test failed".into()) }
}
