//! Everything that touches the machine below rustix's safe API, and all of flint's `unsafe`:
//! the process entry point, exit, the C memory functions the compiler expects, the panic
//! handler, statically reserved memory ([`Reserved`]), raw socket options, and the AF_PACKET
//! device ([`packet`]) with the interface ioctls ([`netdev`]) behind the NIC seam ([`nic`]).
//!
//! The bottom layer: it knows the library's seams and smoltcp's device trait, never the
//! binary's own modules. The program is named to it with [`entry!`].
//!
//! Every `unsafe` block states why it is sound in a `SAFETY:` comment.
#![allow(unsafe_code)]

pub mod netdev;
pub mod nic;
pub mod packet;

use core::arch::{asm, global_asm};
use core::sync::atomic::{AtomicBool, Ordering};

use rustix::fd::{AsFd, AsRawFd, BorrowedFd};

// ---------------------------------------------------------------------------------------------
// Entry and exit

// The kernel enters `_start` with `rsp` pointing at argc, followed by argv[], NULL, envp[], NULL
// and the aux vector (System V x86-64 ABI §3.4.1). The stack is 16-byte aligned there; a call
// pushes the return address, which gives the callee the `rsp ≡ 8 (mod 16)` it expects. `rbp` is
// zeroed so that stack walkers stop here.
global_asm!(
    ".globl _start",
    ".type _start,@function",
    "_start:",
    "xor ebp, ebp",
    "mov rdi, rsp",
    "and rsp, -16",
    "call {entry}",
    "ud2",
    entry = sym entry,
);

unsafe extern "Rust" {
    /// The program: defined by [`entry!`] in the binary's root.
    safe fn flint_main(args: Args) -> i32;
}

/// Names the program's `fn main(Args) -> i32` as the one `_start` runs (cortex-m-rt's
/// `#[entry]` idea: the runtime calls the program through a symbol, so it never imports it).
#[macro_export]
macro_rules! entry {
    ($main:path) => {
        #[allow(unsafe_code)]
        #[unsafe(no_mangle)]
        fn flint_main(args: $crate::sys::Args) -> i32 {
            $main(args)
        }
    };
}

/// Rust side of `_start`: reads argc/argv off the initial stack, runs the program, exits.
unsafe extern "C" fn entry(stack: *const usize) -> ! {
    // SAFETY: `stack` is the initial stack pointer laid out by the kernel as described above:
    // argc, then argc+1 argv pointers (NULL-terminated).
    let (argc, argv) = unsafe { (*stack, stack.add(1) as *const *const u8) };
    let code = flint_main(Args { next: argv, left: argc });
    exit(code)
}

/// The process arguments as byte strings (the program name first).
pub struct Args {
    next: *const *const u8,
    left: usize,
}

impl Iterator for Args {
    type Item = &'static [u8];

    fn next(&mut self) -> Option<&'static [u8]> {
        if self.left == 0 {
            return None;
        }
        // SAFETY: `next` points into the kernel-provided argv array, which holds `left` more
        // valid pointers to NUL-terminated strings that live (unmodified) for the whole process.
        unsafe {
            let s = *self.next;
            self.next = self.next.add(1);
            self.left -= 1;
            Some(core::slice::from_raw_parts(s, strlen(s)))
        }
    }
}

/// Ends the process with `code` (exit_group(2): there is only one thread, nothing to flush).
pub fn exit(code: i32) -> ! {
    // SAFETY: exit_group takes one integer and never returns; no memory is touched.
    unsafe { asm!("syscall", in("rax") 231, in("rdi") code, options(noreturn, nostack)) }
}

#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    // A panic is a bug in flint; say where, never what (the message could quote input).
    let mut line = heapless::String::<256>::new();
    let _ = core::fmt::write(&mut line, format_args!("flint: error: internal: panic"));
    if let Some(loc) = info.location() {
        let _ = core::fmt::write(&mut line, format_args!(" at {}:{}", loc.file(), loc.line()));
    }
    let _ = line.push('\n');
    write_stderr(line.as_bytes());
    exit(1)
}

/// Only referenced by non-LTO builds of `core` (debug builds); never called under panic=abort.
#[cfg(not(test))]
#[unsafe(no_mangle)]
extern "C" fn rust_eh_personality() {}

// ---------------------------------------------------------------------------------------------
// Memory functions. The -gnu target's compiler_builtins leaves these to libc, which flint does
// not link. They use `rep movsb`/`rep stosb` (fast on every x86-64 since Ivy Bridge, ERMSB), so
// LLVM cannot turn their bodies back into calls to themselves.

/// # Safety
/// C `memcpy` contract: valid, non-overlapping regions of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: forwarded C contract; direction flag is clear per the ABI.
    unsafe {
        asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _, options(nostack, preserves_flags))
    };
    dst
}

/// # Safety
/// C `memmove` contract: valid regions of `n` bytes, possibly overlapping.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // Destination before the source or disjoint: a forward copy never reads a byte it wrote.
        // SAFETY: as memcpy.
        unsafe {
            asm!("rep movsb", inout("rcx") n => _, inout("rdi") dst => _, inout("rsi") src => _, options(nostack, preserves_flags))
        };
    } else {
        // Overlap with the destination after the source: copy backwards, then restore DF=0 as
        // the ABI requires.
        // SAFETY: both pointers start at the last byte of valid regions of `n` bytes.
        unsafe {
            asm!("std", "rep movsb", "cld",
                inout("rcx") n => _, inout("rdi") dst.add(n).wrapping_sub(1) => _,
                inout("rsi") src.add(n).wrapping_sub(1) => _, options(nostack))
        };
    }
    dst
}

/// # Safety
/// C `memset` contract: a valid region of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, c: i32, n: usize) -> *mut u8 {
    // SAFETY: forwarded C contract.
    unsafe {
        asm!("rep stosb", inout("rcx") n => _, inout("rdi") dst => _, in("al") c as u8, options(nostack, preserves_flags))
    };
    dst
}

/// # Safety
/// C `memcmp` contract: valid regions of `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: `i < n` and both regions hold `n` bytes. Volatile keeps LLVM from recognising
        // the loop as a memcmp idiom and calling this very function.
        let (x, y) = unsafe { (core::ptr::read_volatile(a.add(i)), core::ptr::read_volatile(b.add(i))) };
        if x != y {
            return x as i32 - y as i32;
        }
    }
    0
}

/// # Safety
/// As `memcmp`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract.
    unsafe { memcmp(a, b, n) }
}

/// # Safety
/// `s` points to a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: every byte up to and including the NUL is readable; volatile as in memcmp.
    while unsafe { core::ptr::read_volatile(s.add(n)) } != 0 {
        n += 1;
    }
    n
}

// ---------------------------------------------------------------------------------------------
// Statically reserved memory

/// Memory reserved at link time, handed out once: its owner declares
/// `static X: Reserved<T> = Reserved::new(…)` next to the code that uses it and takes the only
/// `&'static mut` at start. A zero-initialised `T` lands in `.bss`, so its pages cost nothing
/// until touched (a static with any non-zero byte goes to `.data` whole).
pub struct Reserved<T> {
    cell: core::cell::UnsafeCell<T>,
    taken: AtomicBool,
}

// SAFETY: `take` hands out at most one reference, ever; flint is single-threaded anyway.
unsafe impl<T> Sync for Reserved<T> {}

impl<T> Reserved<T> {
    pub const fn new(value: T) -> Reserved<T> {
        Reserved { cell: core::cell::UnsafeCell::new(value), taken: AtomicBool::new(false) }
    }

    /// The memory. Panics if taken twice, so there is never more than one `&mut`: the
    /// interior-mutability pattern `mut_from_ref` warns about, made sound by the flag.
    #[allow(clippy::mut_from_ref)]
    pub fn take(&'static self) -> &'static mut T {
        assert!(!self.taken.swap(true, Ordering::Relaxed), "reserved memory taken twice");
        // SAFETY: the flag above guarantees this is the only reference ever created.
        unsafe { &mut *self.cell.get() }
    }
}

// ---------------------------------------------------------------------------------------------
// Small helpers

/// Writes a whole line to stderr (one write(2), so concurrent writers do not interleave lines).
pub fn write_stderr(bytes: &[u8]) {
    // SAFETY: fd 2 is only borrowed for this call; if it is closed the write fails harmlessly.
    let fd = unsafe { rustix::stdio::stderr() };
    let _ = rustix::io::write(fd, bytes);
}

/// Writes to stdout, retrying short writes (for --help and --version).
pub fn write_stdout(mut bytes: &[u8]) {
    // SAFETY: as in `write_stderr`.
    let fd = unsafe { rustix::stdio::stdout() };
    while let Ok(n @ 1..) = rustix::io::write(fd, bytes) {
        bytes = &bytes[n..];
    }
}

/// A duration as the kernel's `timespec`.
pub fn timespec(d: smoltcp::time::Duration) -> rustix::time::Timespec {
    let us = d.total_micros();
    rustix::time::Timespec { tv_sec: (us / 1_000_000) as i64, tv_nsec: ((us % 1_000_000) * 1000) as i64 }
}

/// CLOCK_MONOTONIC in microseconds, by the plain clock_gettime(2) syscall.
///
/// The vDSO would save ~0.1 µs per call, but finding it cost 0.6 KB of ELF-parsing code and an
/// aux vector hand-off at start; flint reads the clock a few hundred times per run.
pub fn monotonic_us() -> i64 {
    let ts = clock_gettime(1);
    ts[0] * 1_000_000 + ts[1] / 1000
}

/// CLOCK_REALTIME in whole seconds since the epoch: the time certificates are checked at.
pub fn realtime_s() -> i64 {
    clock_gettime(0)[0]
}

#[inline(never)]
fn clock_gettime(clock: usize) -> [i64; 2] {
    let mut ts = [0i64; 2];
    // SAFETY: clock_gettime writes one `struct timespec` (two i64 on x86-64) into `ts`.
    // CLOCK_REALTIME (0) and CLOCK_MONOTONIC (1) always exist, so the call cannot fail.
    unsafe {
        asm!("syscall", inlateout("rax") 228isize => _, in("rdi") clock, in("rsi") ts.as_mut_ptr(),
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    ts
}

/// Raw setsockopt(2) with an `int` value; rustix has no packet-socket options.
pub fn setsockopt_int(fd: BorrowedFd<'_>, level: i32, name: i32, value: i32) -> rustix::io::Result<()> {
    setsockopt(fd, level, name, &value.to_ne_bytes())
}

/// setsockopt(2) with `value` as the option's bytes (a C struct laid out by the caller).
pub fn setsockopt(fd: BorrowedFd<'_>, level: i32, name: i32, value: &[u8]) -> rustix::io::Result<()> {
    let ret: isize;
    // SAFETY: setsockopt reads `value.len()` bytes from a live borrowed slice; fd is valid
    // (borrowed).
    unsafe {
        asm!("syscall", inlateout("rax") 54isize => ret, in("rdi") fd.as_raw_fd(), in("rsi") level,
            in("rdx") name, in("r10") value.as_ptr(), in("r8") value.len(),
            lateout("rcx") _, lateout("r11") _, options(nostack))
    };
    errno(ret).map(|_| ())
}

/// Holds (blocks) SIGTERM, SIGINT and SIGHUP for the rest of the process: flint calls it when the
/// fetch is over and only the output files remain, and exits right after them. systemd stops a
/// unit with SIGTERM; arriving while the files are written, it can no longer leave a temporary
/// file behind or cut the hand-off short: the exit that follows answers it, with the run's real
/// exit code. (SIGKILL cannot be held: it may still leave a hidden temporary.)
pub fn hold_termination() {
    sigprocmask(0); // SIG_BLOCK
}

/// Bits of SIGHUP (1), SIGINT (2), SIGTERM (15) in a kernel `sigset_t` (bit = signal - 1).
const TERMINATION: u64 = 1 << 0 | 1 << 1 | 1 << 14;

fn sigprocmask(how: usize) {
    let set = TERMINATION;
    // SAFETY: rt_sigprocmask(2) reads one 8-byte `sigset_t` from a live local and writes no old
    // set (NULL); it cannot fail with these arguments.
    unsafe {
        asm!("syscall", inlateout("rax") 14isize => _, in("rdi") how, in("rsi") &set as *const u64, in("rdx") 0usize,
            in("r10") 8usize, lateout("rcx") _, lateout("r11") _, options(nostack))
    };
}

fn errno(ret: isize) -> rustix::io::Result<usize> {
    if (-4095..0).contains(&ret) { Err(rustix::io::Errno::from_raw_os_error(-ret as i32)) } else { Ok(ret as usize) }
}

/// Releases `fd` off the exit path.
///
/// Closing an AF_PACKET socket waits for an RCU grace period (`synchronize_net()` in
/// `packet_release`), 10–15 ms measured — longer than flint's whole fetch. A forked child keeps a
/// reference to the socket, waits (at most 200 ms) until this process has exited, and then pays
/// for the close; this process exits at once. The child closes stdio first so a reader of
/// flint's output sees end-of-file when flint exits, not when the child does.
pub fn close_in_background<F: AsFd>(fd: F) {
    let raw = fd.as_fd().as_raw_fd();
    let parent = rustix::process::getpid();
    let ret: isize;
    // SAFETY: fork(2) has no memory arguments. The child below only makes raw syscalls and
    // exits; it never returns into Rust code that could observe the duplicated state.
    unsafe { asm!("syscall", inlateout("rax") 57isize => ret, lateout("rcx") _, lateout("r11") _, options(nostack)) };
    if ret != 0 {
        return; // parent (or fork failed: then exit closes the socket, slowly but correctly)
    }
    for stdio in 0..3 {
        raw_close(stdio);
    }
    for _ in 0..200 {
        if rustix::process::getppid() != Some(parent) {
            break;
        }
        let _ = rustix::event::poll(&mut [], Some(&rustix::time::Timespec { tv_sec: 0, tv_nsec: 1_000_000 }));
    }
    raw_close(raw);
    exit(0)
}

fn raw_close(fd: i32) {
    // SAFETY: close(2) on a descriptor number; the child owns its copy of the table.
    unsafe {
        asm!("syscall", inlateout("rax") 3isize => _, in("rdi") fd, lateout("rcx") _, lateout("r11") _, options(nostack))
    };
}
