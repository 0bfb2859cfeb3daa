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

/// Byte strings (interface names, paths) in logs: printable ASCII as is, the rest as `?`.
pub struct Bytes<'a>(pub &'a [u8]);

impl core::fmt::Display for Bytes<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for &b in self.0 {
            let c = if (0x20..0x7f).contains(&b) { b as char } else { '?' };
            core::fmt::Write::write_char(f, c)?;
        }
        Ok(())
    }
}

/// A MAC address, `02:f1:17:00:00:01`.
pub struct Mac(pub [u8; 6]);

impl core::fmt::Display for Mac {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let m = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5])
    }
}

/// errno values flint can meet, by name; others by number.
pub struct ErrnoName(pub rustix::io::Errno);

impl core::fmt::Display for ErrnoName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        use rustix::io::Errno;
        let name = match self.0 {
            Errno::PERM => "operation not permitted",
            Errno::ACCESS => "permission denied",
            Errno::NOENT => "no such file or directory",
            Errno::NOTDIR => "not a directory",
            Errno::ISDIR => "is a directory",
            Errno::ROFS => "read-only file system",
            Errno::NOSPC => "no space left on device",
            Errno::NAMETOOLONG => "path too long",
            Errno::NODEV => "no such device",
            Errno::NXIO => "no such device or address",
            Errno::NOMEDIUM => "no medium",
            Errno::IO => "I/O error",
            Errno::LOOP => "too many symbolic links",
            _ => return write!(f, "errno {}", self.0.raw_os_error()),
        };
        f.write_str(name)
    }
}

/// `n` in decimal, in the tail of `buf`.
pub fn decimal(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buf[i..];
        }
    }
}

/// A decimal number made of ASCII digits only; `None` when empty, not digits, or past `u64`.
pub fn parse_decimal(text: &[u8]) -> Option<u64> {
    if text.is_empty() {
        return None;
    }
    text.iter().try_fold(0u64, |n, &b| match b {
        b'0'..=b'9' => n.checked_mul(10)?.checked_add(u64::from(b - b'0')),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decimals_both_ways() {
        let mut buf = [0u8; 20];
        for n in [0, 7, 10, 12345, u64::MAX] {
            let text = decimal(n, &mut buf);
            assert_eq!(parse_decimal(text), Some(n));
        }
        assert_eq!(decimal(u64::MAX, &mut buf), b"18446744073709551615");
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        for bad in [&b""[..], b"-1", b"1 ", b"0x10", b"1.5"] {
            assert_eq!(parse_decimal(bad), None, "{bad:?}");
        }
    }
}

/// An IP address as text: dotted quad, or IPv6 in RFC 5952 form (lower-case hex, leading zeros
/// dropped, the longest run of two or more zero groups — the first of equal runs — as `::`).
/// flint's own, because `core::net`'s display and parser cost ~5 KB of the size budget.
#[derive(Clone, Copy)]
pub struct Addr(pub smoltcp::wire::IpAddress);

impl core::fmt::Display for Addr {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0 {
            smoltcp::wire::IpAddress::Ipv4(a) => crate::net::linklocal::Ip(a.octets()).fmt(f),
            smoltcp::wire::IpAddress::Ipv6(a) => Ip6(a.octets()).fmt(f),
        }
    }
}

/// An IPv6 address as text; see [`Addr`].
pub struct Ip6(pub [u8; 16]);

impl core::fmt::Display for Ip6 {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        let g: [u16; 8] = core::array::from_fn(|i| u16::from_be_bytes([self.0[2 * i], self.0[2 * i + 1]]));
        // The longest run of zero groups (RFC 5952 §4.2.3: only when two or more).
        let (mut best, mut len, mut run) = (8, 1, 0);
        for (i, &v) in g.iter().enumerate() {
            run = if v == 0 { run + 1 } else { 0 };
            if run > len {
                (best, len) = (i + 1 - run, run);
            }
        }
        let mut i = 0;
        while i < 8 {
            if i == best {
                f.write_str("::")?;
                i += len;
                continue;
            }
            if i > 0 && i != best + len {
                f.write_str(":")?;
            }
            // Hex digits by hand: `{:x}` linked u16's LowerHex and a format call per group.
            let v = g[i];
            for shift in [12, 8, 4, 0] {
                if v >> shift != 0 || shift == 0 {
                    core::fmt::Write::write_char(f, char::from(b"0123456789abcdef"[usize::from(v >> shift & 0xf)]))?;
                }
            }
            i += 1;
        }
        Ok(())
    }
}

#[cfg(test)]
mod ip6_tests {
    extern crate std;
    use std::string::ToString;

    #[test]
    fn ipv6_text_is_rfc_5952_and_agrees_with_std() {
        let cases = [
            "::",
            "::1",
            "1::",
            "fe80::a9fe:a9fe",
            "fd00:ec2::254",
            "2001:db8::1:0:0:1",
            "2001:db8:0:1:1:1:1:1",
            "1:0:0:2:0:0:0:3",
            "0:0:1::",
            "1:2:3:4:5:6:7:8",
            "2001:db8:0:0:1:0:0:1",
            "fd00:a9fe:a9fe::1",
        ];
        for t in cases {
            let a: std::net::Ipv6Addr = t.parse().unwrap();
            assert_eq!(super::Ip6(a.octets()).to_string(), a.to_string(), "{t}");
        }
        // Exhaustively over every zero/non-zero group pattern.
        for mask in 0u32..256 {
            let mut o = [0u8; 16];
            for i in 0..8 {
                if mask & (1 << i) != 0 {
                    o[2 * i + 1] = i as u8 + 1;
                }
            }
            let a = std::net::Ipv6Addr::from(o);
            // std prints IPv4-mapped and -compatible forms as dotted quads; RFC 5952 §5 only
            // recommends it, and flint never meets them.
            if a.to_string().contains('.') {
                continue;
            }
            assert_eq!(super::Ip6(o).to_string(), a.to_string(), "{a}");
        }
    }
}
