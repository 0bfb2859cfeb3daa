//! Leaf helpers that know nothing of flint, its tests or the mock: paths and randomness
//! (`util`), bounded child processes (`proc`), last-resort cleanup (`cleanup`), apt installs
//! (`deps`), and the formats the checks need (`sha256`, `gzip`, `elf`, and `symbols` for the size
//! table).

pub mod cleanup;
pub mod deps;
pub mod elf;
pub mod gzip;
pub mod proc;
pub mod sha256;
pub mod symbols;
pub mod util;
