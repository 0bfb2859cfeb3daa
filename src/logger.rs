//! The `log` backend: one line per event on stderr, `flint: <phase>: <message>`, failures as
//! `flint: error: <phase>: <reason>`. The phase is the record's target. systemd carries stderr
//! to the journal; a plain initramfs shows it on the console.
//!
//! Lines are formatted into a fixed 512-byte buffer and written with a single write(2); a
//! longer line is cut, never split. No caller ever formats a token or user-data bytes.

use core::fmt;
use core::sync::atomic::{AtomicBool, Ordering};

use crate::sys;

const LINE_MAX: usize = 512;

/// A line being formatted.
pub struct Line {
    buf: [u8; LINE_MAX],
    len: usize,
}

impl Line {
    pub fn new() -> Line {
        Line { buf: [0; LINE_MAX], len: 0 }
    }

    /// The line with its newline.
    pub fn finish(&mut self) -> &[u8] {
        let n = self.len.min(LINE_MAX - 1);
        self.buf[n] = b'\n';
        &self.buf[..=n]
    }
}

impl fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        let room = LINE_MAX - 1 - self.len;
        let n = s.len().min(room);
        self.buf[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
        Ok(())
    }
}

struct Logger;

static VERBOSE: AtomicBool = AtomicBool::new(false);
static LOGGER: Logger = Logger;

impl log::Log for Logger {
    fn enabled(&self, m: &log::Metadata<'_>) -> bool {
        m.level() <= log::Level::Info || VERBOSE.load(Ordering::Relaxed)
    }

    fn log(&self, r: &log::Record<'_>) {
        if !self.enabled(r.metadata()) {
            return;
        }
        // smoltcp's own debug lines are only interesting with --verbose.
        if r.target().starts_with("smoltcp") && !VERBOSE.load(Ordering::Relaxed) {
            return;
        }
        let mut line = Line::new();
        let level = match r.level() {
            log::Level::Error => "error: ",
            log::Level::Warn => "warning: ",
            _ => "",
        };
        let _ = fmt::write(&mut line, format_args!("flint: {level}{}: {}", r.target(), r.args()));
        sys::write_stderr(line.finish());
    }

    fn flush(&self) {}
}

pub fn init() {
    let _ = log::set_logger(&LOGGER);
    log::set_max_level(log::LevelFilter::Debug);
}

pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}
