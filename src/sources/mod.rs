//! Where user-data comes from: an HTTP metadata service ([`service`]: the request flow, retries,
//! tokens) or a config drive ([`drive`]: block devices read raw, never mounted), and what both
//! yield besides user-data ([`meta`]), and where a NoCloud seed is ([`seed`]: cloud-init's
//! `ds=nocloud` selector and its seed URL).

pub mod authorities;
pub mod drive;
pub mod meta;
pub mod pointer;
pub mod seed;
pub mod service;
