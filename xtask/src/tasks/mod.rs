//! One module per `cargo xtask` task: argument parsing, the tools the task installs, and the
//! suites or harness pieces it runs. Nothing below imports a task.

pub mod auto;
pub mod azure;
pub mod bench;
pub mod build;
pub mod consumers;
pub mod demo;
pub mod dualstack;
pub mod e2e;
pub mod faults_http;
pub mod faults_net;
pub mod fuzz;
pub mod gcp;
pub mod https;
pub mod initramfs;
pub mod initramfs_tools_test;
pub mod load;
pub mod nocloud;
pub mod openstack;
pub mod platforms;
pub mod qemu_test;
pub mod size;
pub mod test;

use crate::harness::tally::{Selection, Suite, Tally};

/// A `[FILTER] [--keep]` task over one suite: `tools` first, then the selected cases, one line
/// each, and `N passed, N failed`.
fn suite_cli(suite: &Suite, args: &[String], tools: fn() -> Result<(), String>) -> Result<(), String> {
    let sel = Selection::parse(args).map_err(|e| format!("{}: {e}", suite.name))?;
    tools()?;
    let mut t = Tally::default();
    (suite.run)(&sel, &mut t)?;
    t.close("case(s)")
}
