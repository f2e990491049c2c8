//! Attaching to a detached container's input.
//!
//! A container started with `-i` (and `-d`) reads its stdin from a pipe
//! (or, with `-t`, its terminal is fed from that pipe) whose write end its
//! supervisor holds. `serve` listens on `attach.sock` in the container's
//! directory and copies what each client sends into that pipe; `connect`
//! is the client's side. The output needs no socket: `attach` follows the
//! log, where all output goes. The socket is bound and reached through
//! `/proc/self/fd/N/attach.sock` of a descriptor on the directory, so a
//! long store path never exceeds the 108 bytes a socket address holds.

use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

const SOCKET: &str = "attach.sock";

fn short_path<T>(dir: &Path, f: impl FnOnce(&str) -> std::io::Result<T>) -> std::io::Result<T> {
    let d = std::fs::File::open(dir)?;
    f(&format!("/proc/self/fd/{}/{SOCKET}", d.as_raw_fd()))
}

/// Listen for clients until `stop`; each one's bytes go to `stdin`.
pub fn serve(dir: &Path, stdin: OwnedFd, stop: Arc<AtomicBool>) -> std::io::Result<JoinHandle<()>> {
    let _ = std::fs::remove_file(dir.join(SOCKET));
    let listener = short_path(dir, |p| UnixListener::bind(p))?;
    listener.set_nonblocking(true)?;
    let stdin = std::fs::File::from(stdin);
    Ok(std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match listener.accept() {
                Ok((mut client, _)) => {
                    let Ok(mut to) = stdin.try_clone() else { continue };
                    std::thread::spawn(move || {
                        let _ = client.set_nonblocking(false);
                        let mut buf = [0u8; 8192];
                        while let Ok(n) = client.read(&mut buf) {
                            if n == 0 || to.write_all(&buf[..n]).is_err() {
                                break;
                            }
                        }
                    });
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => std::thread::sleep(Duration::from_millis(50)),
                Err(_) => std::thread::sleep(Duration::from_millis(50)),
            }
        }
    }))
}

/// The client's side: a stream whose bytes reach the container's stdin.
pub fn connect(dir: &Path) -> std::io::Result<UnixStream> {
    short_path(dir, |p| UnixStream::connect(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bytes_reach_the_pipe() {
        let t = tempfile::tempdir().unwrap();
        let (r, w) = nix::unistd::pipe().unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let server = serve(t.path(), w, stop.clone()).unwrap();
        let mut c = connect(t.path()).unwrap();
        c.write_all(b"hello\n").unwrap();
        drop(c);
        let mut got = [0u8; 6];
        std::fs::File::from(r).read_exact(&mut got).unwrap();
        assert_eq!(&got, b"hello\n");
        stop.store(true, Ordering::Relaxed);
        server.join().unwrap();
    }
}
