//! Where user-data comes from besides a metadata service.
//!
//! [`drive`]: config drives (OpenStack `config-2`, later NoCloud `cidata`), block devices read
//! raw, never mounted.

pub mod drive;
