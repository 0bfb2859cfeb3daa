//! `xtask relay HOST:PORT`: what slirp's `guestfwd=…-cmd:` runs for each guest connection to
//! the metadata address. stdin/stdout are slirp's end of that connection; this joins them to
//! a TCP connection to the mock and passes each side's FIN on as a half-close, so HTTP's
//! `Connection: close` works in both directions (the `guestfwd=…-tcp:` form does not pass FIN
//! on and hangs, qemu.md §3). Bounded: it exits after 60 s whatever happens.

use std::io::{Read, Write};
use std::net::{Shutdown, TcpStream};
use std::time::Duration;

const MAX_LIFETIME: Duration = Duration::from_secs(60);

pub fn main(args: &[String]) -> Result<(), String> {
    let [addr] = args else {
        return Err("usage: xtask relay HOST:PORT".into());
    };
    std::thread::spawn(|| {
        std::thread::sleep(MAX_LIFETIME);
        std::process::exit(0);
    });
    let upstream = TcpStream::connect(addr).map_err(|e| format!("relay: connect {addr}: {e}"))?;
    let _ = upstream.set_nodelay(true);
    let mut to_server = upstream.try_clone().map_err(|e| e.to_string())?;
    // Guest → server; the guest's FIN (stdin EOF) becomes a half-close towards the mock.
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to_server.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to_server.shutdown(Shutdown::Write);
    });
    // Server → guest; when the mock closes, exiting closes stdout, which slirp turns into
    // the guest's FIN.
    let mut from_server = upstream;
    let mut stdout = std::io::stdout().lock();
    let mut buf = [0u8; 16 * 1024];
    loop {
        match from_server.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if stdout.write_all(&buf[..n]).and_then(|_| stdout.flush()).is_err() {
                    break;
                }
            }
        }
    }
    Ok(())
}
