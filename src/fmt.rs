//! Logging shim over the `log` facade (embassy's `fmt.rs` pattern).
//!
//! `info!(phase, ...)` and friends call one out-of-line [`emit`] with the phase as the record's
//! target, instead of expanding `log`'s macros at every site: each site then costs only its
//! `format_args!`, which took ~0.3 KB per site off the binary. `debug!` compiles to nothing
//! unless the `log` crate's static maximum level allows it (release builds set
//! `release_max_level_info`).

pub use log::Level;

/// True when debug lines are compiled in.
pub const DEBUG: bool = log::STATIC_MAX_LEVEL as usize >= log::LevelFilter::Debug as usize;

/// Hands one event to the installed logger.
#[inline(never)]
pub fn emit(level: Level, phase: &'static str, args: core::fmt::Arguments<'_>) {
    if level <= log::max_level() {
        log::logger().log(&log::Record::builder().level(level).target(phase).args(args).build());
    }
}

/// `info!(phase, "format", args...)`
#[macro_export]
macro_rules! info {
    ($phase:expr, $($arg:tt)+) => { $crate::fmt::emit($crate::fmt::Level::Info, $phase, format_args!($($arg)+)) };
}

/// `warn!(phase, "format", args...)`
#[macro_export]
macro_rules! warn {
    ($phase:expr, $($arg:tt)+) => { $crate::fmt::emit($crate::fmt::Level::Warn, $phase, format_args!($($arg)+)) };
}

/// `error!(phase, "format", args...)`
#[macro_export]
macro_rules! error {
    ($phase:expr, $($arg:tt)+) => { $crate::fmt::emit($crate::fmt::Level::Error, $phase, format_args!($($arg)+)) };
}

/// `debug!(phase, "format", args...)`: nothing at all in release builds.
#[macro_export]
macro_rules! debug {
    ($phase:expr, $($arg:tt)+) => {
        if $crate::fmt::DEBUG {
            $crate::fmt::emit($crate::fmt::Level::Debug, $phase, format_args!($($arg)+))
        }
    };
}
