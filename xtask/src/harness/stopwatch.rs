//! The benchmark's stopwatch, `xtask time-exec`: started inside a client namespace, it times
//! one command from spawn to exit with `Instant`, so `ip netns exec` and harness overhead are
//! excluded and the resolution is far below `/usr/bin/time`'s 10 ms (nostd.md P16).

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use crate::support::{cleanup, proc};

/// `xtask time-exec [--result FILE] [--timeout S] -- CMD [ARGS…]`: spawns CMD, waits, writes
/// `<elapsed_ns> <exit_code>` to FILE (or a readable line to stderr without `--result`).
/// CMD inherits stdout/stderr; it is SIGKILLed after `--timeout` (default 30 s).
pub fn main(args: &[String]) -> Result<(), String> {
    let mut result = None;
    let mut timeout = 30.0f64;
    let mut it = args.iter();
    let mut cmd_args: Vec<String> = Vec::new();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--result" => result = it.next().cloned(),
            "--timeout" => timeout = it.next().and_then(|v| v.parse().ok()).ok_or("--timeout needs seconds")?,
            "--" => {
                cmd_args = it.by_ref().cloned().collect();
                break;
            }
            other => return Err(format!("time-exec: unexpected `{other}`")),
        }
    }
    let (program, rest) = cmd_args.split_first().ok_or("time-exec: no command after --")?;
    let mut cmd = Command::new(program);
    cmd.args(rest).stdin(Stdio::null());

    let start = Instant::now();
    let mut child = cmd.spawn().map_err(|e| format!("time-exec: spawn {program}: {e}"))?;
    // Watchdog instead of polling: a blocking wait() keeps the measurement exact.
    let done = Arc::new(AtomicBool::new(false));
    let pid = child.id();
    {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs_f64(timeout);
            while Instant::now() < deadline {
                if done.load(Ordering::Relaxed) {
                    return;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            if !done.load(Ordering::Relaxed) {
                cleanup::kill9(pid);
            }
        });
    }
    let status = child.wait().map_err(|e| format!("time-exec: wait: {e}"))?;
    let elapsed = start.elapsed();
    done.store(true, Ordering::Relaxed);
    let code = proc::exit_code(status);
    match result {
        Some(path) => std::fs::write(&path, format!("{} {code}\n", elapsed.as_nanos()))
            .map_err(|e| format!("time-exec: {path}: {e}")),
        None => {
            eprintln!("time-exec: {:.3} ms, exit {code}", elapsed.as_secs_f64() * 1e3);
            Ok(())
        }
    }
}
