//! Terminals: `-t` gives the container a pseudo-terminal of its own.
//!
//! The pty is allocated inside the container, from its private devpts
//! instance, so `tty` prints `/dev/pts/0` and the slave's owner and group
//! are container ids. The master travels to `burrow run` over a socketpair
//! (SCM_RIGHTS). The parent puts its own terminal in raw mode, copies
//! stdin to the master (only with `-i`) and the master to stdout, and
//! copies its window size to the master at start and on every SIGWINCH.
//! Without `-t`, the container shares the caller's stdio directly (no
//! copying at all), with stdin replaced by /dev/null unless `-i`.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::thread::JoinHandle;

use nix::fcntl::OFlag;
use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg, Termios};

use super::channel::{self, FdRole};
use super::setup_error::{Result as SetupResult, SetupError};

/// docker's rule for `-i -t` in the foreground: the caller's stdin must be
/// a terminal, since a pipe cannot give a terminal's keys (and raw mode)
/// to the container's. `NotATty` exits 1, as docker does (pure).
pub fn check_stdin(interactive: bool, tty: bool, detached: bool, stdin_is_terminal: bool) -> super::Result<()> {
    if interactive && tty && !detached && !stdin_is_terminal {
        return Err(super::Error::NotATty);
    }
    Ok(())
}

/// Child side: allocate a pty, send the master, make the slave our
/// controlling terminal and stdio. Runs after setsid().
pub fn attach_child(sock: Option<&OwnedFd>) -> SetupResult<()> {
    let role = FdRole::Terminal;
    let sock = sock.ok_or(SetupError::NoChannel { role })?;
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY).map_err(|source| SetupError::OpenPtmx { source })?;
    grantpt(&master).map_err(|source| SetupError::Pty { call: "grantpt", source })?;
    unlockpt(&master).map_err(|source| SetupError::Pty { call: "unlockpt", source })?;
    let name = ptsname_r(&master).map_err(|source| SetupError::Pty { call: "ptsname", source })?;
    let slave =
        std::fs::OpenOptions::new().read(true).write(true).open(&name).map_err(|source| SetupError::Open { path: name.into(), source })?;
    channel::send_fd(sock, role, &master).map_err(|source| SetupError::Hand { role, source })?;
    drop(master);
    // Wait until the parent has copied its window size to the pty, so the
    // workload never sees a 0x0 terminal.
    let mut ack = [0u8; 1];
    let _ = nix::unistd::read(sock.as_raw_fd(), &mut ack);
    // SAFETY: ioctl and dup2 on fds we own.
    unsafe {
        if libc::ioctl(slave.as_raw_fd(), libc::TIOCSCTTY, 0) != 0 {
            return Err(SetupError::ControllingTerminal { source: std::io::Error::last_os_error() });
        }
        for fd in 0..3 {
            if libc::dup2(slave.as_raw_fd(), fd) < 0 {
                return Err(SetupError::Dup { source: std::io::Error::last_os_error() });
            }
        }
    }
    Ok(())
}

/// Child side without `-i`: stdin reads nothing.
pub fn null_stdin() -> SetupResult<()> {
    let null = File::open("/dev/null").map_err(|source| SetupError::Open { path: "/dev/null".into(), source })?;
    // SAFETY: dup2 onto fd 0.
    if unsafe { libc::dup2(null.as_raw_fd(), 0) } < 0 {
        return Err(SetupError::Dup { source: std::io::Error::last_os_error() });
    }
    Ok(())
}

/// Restores the caller's terminal mode when dropped.
pub struct RawMode {
    saved: Option<Termios>,
}

impl RawMode {
    /// Raw mode on stdin if it is a terminal; a no-op guard otherwise.
    pub fn enter() -> RawMode {
        let stdin = std::io::stdin();
        let Ok(saved) = tcgetattr(stdin.as_fd()) else { return RawMode { saved: None } };
        let mut raw = saved.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(stdin.as_fd(), SetArg::TCSANOW, &raw);
        RawMode { saved: Some(saved) }
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        if let Some(t) = &self.saved {
            let _ = tcsetattr(std::io::stdin().as_fd(), SetArg::TCSADRAIN, t);
        }
    }
}

/// Copy the caller's window size (from stdout, else stdin) to `master`.
pub fn copy_winsize(master: &OwnedFd) {
    // SAFETY: TIOCGWINSZ/TIOCSWINSZ with a winsize we own.
    unsafe {
        let mut ws: libc::winsize = std::mem::zeroed();
        if libc::ioctl(1, libc::TIOCGWINSZ, &mut ws) == 0 || libc::ioctl(0, libc::TIOCGWINSZ, &mut ws) == 0 {
            libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws);
        }
    }
}

/// A detached container's terminal: copy what it prints into `to` (its
/// log pipe) until the container side closes.
pub fn copy_out(master: &OwnedFd, to: OwnedFd) -> std::io::Result<JoinHandle<()>> {
    let mut from = File::from(master.try_clone()?);
    let mut to = File::from(to);
    Ok(std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    }))
}

/// A detached container's terminal input: copy `from` (its stdin pipe,
/// fed by `attach`) into the terminal until the pipe ends.
pub fn copy_in(from: OwnedFd, master: &OwnedFd) -> std::io::Result<()> {
    let mut from = File::from(from);
    let mut to = File::from(master.try_clone()?);
    std::thread::spawn(move || {
        let mut buf = [0u8; 8192];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || to.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    Ok(())
}

/// Start copying: stdin → master (when `stdin`), master → stdout. The
/// returned handle finishes when the container side of the pty is closed.
pub fn proxy(master: &OwnedFd, stdin: bool) -> std::io::Result<JoinHandle<()>> {
    if stdin {
        let mut to = File::from(master.try_clone()?);
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            let mut input = std::io::stdin().lock();
            while let Ok(n) = input.read(&mut buf) {
                if n == 0 || to.write_all(&buf[..n]).is_err() {
                    break;
                }
            }
        });
    }
    let mut from = File::from(master.try_clone()?);
    Ok(std::thread::spawn(move || {
        let mut buf = [0u8; 16384];
        let mut out = std::io::stdout();
        // EIO means every slave fd is closed: the container is done.
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 || out.write_all(&buf[..n]).and_then(|_| out.flush()).is_err() {
                break;
            }
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interactive_terminal_needs_a_terminal_on_stdin_in_the_foreground() {
        assert!(matches!(check_stdin(true, true, false, false), Err(super::super::Error::NotATty)));
        assert!(check_stdin(true, true, false, true).is_ok());
        // -t alone, -i alone and detached containers do not read a terminal.
        assert!(check_stdin(false, true, false, false).is_ok());
        assert!(check_stdin(true, false, false, false).is_ok());
        assert!(check_stdin(true, true, true, false).is_ok());
    }
}
