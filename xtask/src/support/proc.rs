//! Child processes with bounded waits and kill-on-drop.

use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::thread::sleep;
use std::time::{Duration, Instant};

/// A spawned child that is SIGKILLed and reaped when dropped, unless it already exited.
/// Registered with `cleanup` so a panic (abort) still kills it.
pub struct ChildGuard {
    child: Child,
    label: String,
    status: Option<ExitStatus>,
}

impl ChildGuard {
    pub fn spawn(cmd: &mut Command, label: &str) -> Result<Self, String> {
        let child = cmd.spawn().map_err(|e| format!("spawn {label} ({:?}): {e}", cmd.get_program()))?;
        crate::support::cleanup::add_pid(child.id());
        Ok(ChildGuard { child, label: label.to_string(), status: None })
    }

    /// The child's pid (to signal it).
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// The child's stdin pipe (when spawned with `Stdio::piped()`), to feed it from a thread.
    pub fn take_stdin(&mut self) -> Option<std::process::ChildStdin> {
        self.child.stdin.take()
    }

    /// Exit status if the child has exited (non-blocking).
    pub fn try_status(&mut self) -> Option<ExitStatus> {
        if self.status.is_none()
            && let Ok(Some(st)) = self.child.try_wait()
        {
            self.finished(st);
        }
        self.status
    }

    /// Waits at most `limit`; `None` means it is still running (and still guarded).
    pub fn wait_timeout(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(st) = self.try_status() {
                return Some(st);
            }
            let now = Instant::now();
            if now >= deadline {
                return None;
            }
            // Short polls: scenario timings are reported in ms and a 5 ms granularity is plenty.
            sleep((deadline - now).min(Duration::from_millis(5)));
        }
    }

    /// SIGKILL and reap (idempotent).
    pub fn kill(&mut self) {
        if self.status.is_none() {
            let _ = self.child.kill();
            // Reaping after SIGKILL is quick; still bounded so a D-state child cannot hang us.
            let deadline = Instant::now() + Duration::from_secs(5);
            while Instant::now() < deadline {
                if let Ok(Some(st)) = self.child.try_wait() {
                    self.finished(st);
                    return;
                }
                sleep(Duration::from_millis(2));
            }
            eprintln!("xtask: warning: {} (pid {}) did not die after SIGKILL", self.label, self.child.id());
        }
    }

    fn finished(&mut self, st: ExitStatus) {
        self.status = Some(st);
        crate::support::cleanup::remove_pid(self.child.id());
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Runs a short helper command (`ip …`) to completion within `limit`, capturing output.
pub fn run_capture(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let what = describe(cmd);
    cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut guard = ChildGuard::spawn(cmd, &what)?;
    // Drain both pipes while waiting: a child blocked on a full pipe would never exit.
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut buf);
            }
            buf
        })
    };
    let out = drain(guard.child.stdout.take().map(|p| Box::new(p) as _));
    let err = drain(guard.child.stderr.take().map(|p| Box::new(p) as _));
    match guard.wait_timeout(limit) {
        Some(status) => {
            Ok(Output { status, stdout: out.join().unwrap_or_default(), stderr: err.join().unwrap_or_default() })
        }
        // The guard kills the child on return; the readers then see EOF and end.
        None => Err(format!("`{what}` did not finish within {limit:?}")),
    }
}

/// Like `run_capture` but fails on a non-zero exit, quoting stderr.
pub fn run_ok(cmd: &mut Command, limit: Duration) -> Result<Output, String> {
    let what = describe(cmd);
    let out = run_capture(cmd, limit)?;
    if out.status.success() {
        Ok(out)
    } else {
        Err(format!("`{what}` failed ({}): {}", out.status, String::from_utf8_lossy(&out.stderr).trim()))
    }
}

/// Runs a long command (cargo) with inherited stdio, bounded by `limit`.
pub fn run_inherit(cmd: &mut Command, limit: Duration) -> Result<ExitStatus, String> {
    let what = describe(cmd);
    let mut guard = ChildGuard::spawn(cmd.stdin(Stdio::null()), &what)?;
    guard.wait_timeout(limit).ok_or_else(|| format!("`{what}` did not finish within {limit:?}"))
}

pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

/// Polls `cond` every `every` until it holds or `limit` passes.
pub fn wait_until(limit: Duration, every: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let deadline = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        sleep(every);
    }
}

/// Exit code of a status, or 128 + signal like a shell reports it.
pub fn exit_code(st: ExitStatus) -> i32 {
    use std::os::unix::process::ExitStatusExt;
    st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(0))
}
