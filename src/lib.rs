//! flint's library: everything but the process entry, the raw syscalls and the packet device.
//!
//! The layers, in the order data flows through a run (each imports only from layers below it
//! in this list's dependency order, never back up):
//!
//! | module | what |
//! |---|---|
//! | [`net`] | NIC choice, address acquisition (DHCPv4, RFC 3927 link-local), the smoltcp stack |
//! | [`tls`] | TLS 1.3 client and X.509 path validation, sans-IO |
//! | [`http`] | HTTP/1.1 request writer and incremental response parser, sans-IO |
//! | [`engine`] | one poll-driven loop that races a platform's sources under one budget |
//! | [`sources`] | the kinds of source: an HTTP metadata service, a config drive |
//! | [`platform`] | one data module per platform: which sources, endpoints, paths, encodings |
//! | [`decode`] | base64, gzip, the JSON scanner, the kernel command line's words |
//! | [`handoff`] | every file a run leaves for the next boot stage, written atomically |
//!
//! Protocol logic takes bytes and `now` and returns what to do; nothing here reads the clock.
//! The only hardware seams are [`net::Nic`] (the NIC, implemented over AF_PACKET by the binary's
//! `sys` module and in memory by the tests) and [`sources::drive::Drives`] (block devices).
//! Files are written through rustix's safe API; there is no `unsafe` in this crate.
#![cfg_attr(not(test), no_std)]
#![deny(unsafe_code)]

#[macro_use]
pub mod fmt;
pub mod args;
pub mod decode;
pub mod engine;
pub mod handoff;
pub mod http;
pub mod net;
pub mod platform;
pub mod rand;
pub mod report;
pub mod sources;
pub mod tls;
