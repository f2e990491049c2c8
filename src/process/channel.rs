//! The pipes between `burrow run` and the container's first process.
//!
//! `Gate` is a one-byte pipe the child waits on until the parent has done
//! what must precede the container's setup (writing nested id maps).
//! `ErrorPipe` is close-on-exec: a successful `execve` closes it with
//! nothing written, a failure writes one [`Failure`] (JSON) before exiting,
//! so the parent learns which case happened by reading to end of file. A
//! socketpair carries the terminal's master fd with SCM_RIGHTS.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};

use nix::sys::socket::{recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType};

use super::{Error, ExitClass, Result};

fn pipe() -> Result<(File, File)> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Channel { source: e.into() })?;
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
/// What a child that could not reach `execve` says on the error pipe.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Failure {
    pub class: ExitClass,
    pub message: String,
}

pub fn report(end: &mut File, class: ExitClass, message: &str) {
    let bytes = serde_json::to_vec(&Failure { class, message: message.to_string() }).unwrap_or_default();
    let _ = end.write_all(&bytes);
}

/// Read the child's report: `None` after a successful exec. A report
/// that does not parse (a child killed while writing) is an engine error
/// quoting what arrived.
pub fn read_report(end: &mut File) -> Option<(ExitClass, String)> {
    let mut bytes = Vec::new();
    let _ = end.read_to_end(&mut bytes);
    if bytes.is_empty() {
        return None;
    }
    match serde_json::from_slice::<Failure>(&bytes) {
        Ok(f) => Some((f.class, f.message)),
        Err(_) => Some((ExitClass::Engine, String::from_utf8_lossy(&bytes).into_owned())),
    }
}

/// A socketpair for passing the terminal master.
pub fn fd_channel() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).map_err(|e| Error::Channel { source: e.into() })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failure_crosses_the_pipe_typed() {
        let ErrorPipe { read_end, write_end } = ErrorPipe::new().unwrap();
        let (mut r, mut w) = (read_end, write_end);
        report(&mut w, ExitClass::NotFound, "exec: \"nope\": executable file not found\nin $PATH");
        drop(w);
        assert_eq!(read_report(&mut r), Some((ExitClass::NotFound, "exec: \"nope\": executable file not found\nin $PATH".to_string())));
        let ErrorPipe { mut read_end, write_end } = ErrorPipe::new().unwrap();
        drop(write_end);
        assert_eq!(read_report(&mut read_end), None, "nothing written: the exec succeeded");
    }
}
