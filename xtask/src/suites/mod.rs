//! The suites: tables of cases and the checks specific to them, each exposing a
//! `harness::tally::Suite`. A suite uses the harness, the mock and the support helpers, never
//! another suite (`layers.rs` checks it).

pub mod auto;
pub mod azure;
pub mod build;
pub mod cargo;
pub mod consumers;
pub mod dualstack;
pub mod e2e;
pub mod faults_http;
pub mod faults_net;
pub mod fuzz;
pub mod gcp;
pub mod https;
pub mod load;
pub mod nocloud;
pub mod openstack;
pub mod packaging;
pub mod platforms;
pub mod qemu;
