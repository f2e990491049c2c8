//! The pipes between `burrow run` and the container's first process.
//!
//! `Gate` is a one-byte pipe the child waits on until the parent has done
//! what must precede the container's setup (writing nested id maps).
//! `ErrorPipe` is close-on-exec: a successful `execve` closes it with
//! nothing written, a failure writes `CLASS MESSAGE` before exiting, so the
//! parent learns which case happened by reading to end of file. A
//! socketpair carries the terminal's master fd with SCM_RIGHTS.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType,
};

use super::{Error, ExitClass, Result};

fn pipe() -> Result<(File, File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)
        .map_err(|e| Error::Channel { source: e.into() })?;
    Ok((File::from(r), File::from(w)))
}

/// Parent → child "go ahead".
pub struct Gate {
    pub wait_end: File,
    pub open_end: File,
}

impl Gate {
    pub fn new() -> Result<Gate> {
        let (wait_end, open_end) = pipe()?;
        Ok(Gate { wait_end, open_end })
    }
}

/// Block until the parent opens the gate; false if it went away instead.
pub fn wait_gate(end: &mut File) -> bool {
    let mut b = [0u8; 1];
    matches!(end.read(&mut b), Ok(1))
}

pub fn open_gate(end: &mut File) -> Result<()> {
    end.write_all(b"1").map_err(|source| Error::Channel { source })
}

/// Child → parent failure report.
pub struct ErrorPipe {
    pub read_end: File,
    pub write_end: File,
}

impl ErrorPipe {
    pub fn new() -> Result<ErrorPipe> {
        let (read_end, write_end) = pipe()?;
        Ok(ErrorPipe { read_end, write_end })
    }
}

/// Write a failure from the child; best effort, the child exits next.
pub fn report(end: &mut File, class: ExitClass, message: &str) {
    let _ = write!(end, "{} {}", class.code(), message);
}

/// Read the child's report: `None` after a successful exec.
pub fn read_report(end: &mut File) -> Option<(ExitClass, String)> {
    let mut text = String::new();
    let _ = end.read_to_string(&mut text);
    if text.is_empty() {
        return None;
    }
    let (code, msg) = text.split_once(' ').unwrap_or(("125", &text));
    let class = match code {
        "126" => ExitClass::CannotExecute,
        "127" => ExitClass::NotFound,
        _ => ExitClass::Engine,
    };
    Some((class, msg.to_string()))
}

/// A socketpair for passing the terminal master.
pub fn fd_channel() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC)
        .map_err(|e| Error::Channel { source: e.into() })
}

pub fn send_fd(sock: &OwnedFd, fd: RawFd) -> Result<()> {
    let fds = [fd];
    let iov = [std::io::IoSlice::new(b"m")];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .map(|_| ())
        .map_err(|e| Error::Channel { source: e.into() })
}

/// Receive one fd; `None` when the peer closed without sending.
pub fn recv_fd(sock: &OwnedFd) -> Result<Option<OwnedFd>> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| Error::Channel { source: e.into() })?;
    for c in msg.cmsgs().map_err(|e| Error::Channel { source: e.into() })? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            if let Some(&fd) = fds.first() {
                // SAFETY: the kernel just installed this fd for us.
                return Ok(Some(unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
    }
    Ok(None)
}
