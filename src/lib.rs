//! flint's protocol core: everything that can be decided from bytes and a clock reading.
//!
//! Nothing in this crate performs I/O or reads the time, with one exception: `sources::drive::scan`
//! lists sysfs and opens block devices for the drive readers (safe `rustix` calls only). The
//! binary (`src/main.rs` and its `sys` module) owns the NIC, the clock and the files, and drives
//! these pieces; the host test suite (`cargo test`) exercises them directly.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

pub mod args;
pub mod csum;
pub mod decode;
#[macro_use]
pub mod fmt;
pub mod flow;
pub mod http;
pub mod iflist;
pub mod json;
pub mod lease;
pub mod meta;
pub mod linklocal;
pub mod platform;
pub mod rand;
pub mod report;
pub mod sources;
