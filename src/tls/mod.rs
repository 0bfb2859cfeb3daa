//! TLS 1.3 client (RFC 8446), sans-IO, and the certificate checks it relies on ([`pki`]).
//!
//! The layer sits between the TCP socket and the HTTP parser: it takes the bytes TCP delivered
//! and `now`, and hands back what to send and the decrypted application data. Nothing here
//! reads a clock, draws randomness or touches a socket; the caller passes entropy from
//! `getrandom()` and the real-time clock in.

pub mod entropy;
pub mod pki;
pub mod session;

pub use session::{Secure, Trust, WRITE_MAX};
