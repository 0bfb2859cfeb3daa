//! Where user-data comes from.

pub mod meta;
pub mod service;
