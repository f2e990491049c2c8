//! The pipes between `burrow run` and the container's first process.
//!
//! `Gate` is a one-byte pipe the child waits on until the parent has done
//! what must precede the container's setup (writing nested id maps).
//! `ErrorPipe` is close-on-exec: a successful `execve` closes it with
//! nothing written, a failure writes one [`Failure`] (JSON) before exiting,
//! so the parent learns which case happened by reading to end of file. A
//! socketpair carries descriptors with SCM_RIGHTS (the root's FUSE
//! descriptor, then the TAP device, on one; the terminal's master on
//! another), each labelled with its [`FdRole`] in the message's one data
//! byte: the receiver names the role it expects and refuses another, so a
//! change in the order of what the child sends is an error that names
//! both, never a descriptor served as the wrong thing.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd, RawFd};

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

/// What a descriptor sent over an fd channel is, carried in the
/// message's data byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FdRole {
    /// The container's network device (`tap`).
    Tap,
    /// The master side of the container's terminal (`tty`).
    Terminal,
    /// The FUSE connection of the container's root (`fuse_root`).
    FuseRoot,
}

impl FdRole {
    const ALL: [FdRole; 3] = [FdRole::Tap, FdRole::Terminal, FdRole::FuseRoot];

    fn byte(self) -> u8 {
        match self {
            FdRole::Tap => b't',
            FdRole::Terminal => b'm',
            FdRole::FuseRoot => b'r',
        }
    }

    fn from_byte(b: u8) -> Option<FdRole> {
        FdRole::ALL.into_iter().find(|r| r.byte() == b)
    }
}

impl std::fmt::Display for FdRole {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            FdRole::Tap => "the network device",
            FdRole::Terminal => "the terminal",
            FdRole::FuseRoot => "the root",
        })
    }
}

/// A socketpair for passing descriptors.
pub fn fd_channel() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(AddressFamily::Unix, SockType::Stream, None, SockFlag::SOCK_CLOEXEC).map_err(|e| Error::Channel { source: e.into() })
}

/// Send `fd` labelled as `role`.
pub fn send_fd(sock: &OwnedFd, role: FdRole, fd: impl AsFd) -> Result<()> {
    let fds = [fd.as_fd().as_raw_fd()];
    let byte = [role.byte()];
    let iov = [std::io::IoSlice::new(&byte)];
    sendmsg::<()>(sock.as_raw_fd(), &iov, &[ControlMessage::ScmRights(&fds)], MsgFlags::empty(), None)
        .map(|_| ())
        .map_err(|e| Error::Channel { source: e.into() })
}

/// Receive one fd, which must be the `expected` one; `None` when the peer
/// closed without sending. A descriptor of another role is closed and
/// refused (`Error::FdRole`).
pub fn recv_fd(sock: &OwnedFd, expected: FdRole) -> Result<Option<OwnedFd>> {
    let mut buf = [0u8; 1];
    let mut iov = [std::io::IoSliceMut::new(&mut buf)];
    let mut space = nix::cmsg_space!(RawFd);
    let msg = recvmsg::<()>(sock.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
        .map_err(|e| Error::Channel { source: e.into() })?;
    let mut received = None;
    for c in msg.cmsgs().map_err(|e| Error::Channel { source: e.into() })? {
        if let ControlMessageOwned::ScmRights(fds) = c {
            for &fd in &fds {
                // SAFETY: the kernel just installed this fd for us; owning
                // it closes every one but the first when dropped.
                let fd = unsafe { OwnedFd::from_raw_fd(fd) };
                received.get_or_insert(fd);
            }
        }
    }
    let Some(fd) = received else { return Ok(None) };
    match FdRole::from_byte(buf[0]) {
        Some(found) if found == expected => Ok(Some(fd)),
        Some(found) => Err(Error::FdRole { expected, found }),
        None => Err(Error::FdUnlabelled { expected, byte: buf[0] }),
    }
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

    #[test]
    fn a_descriptor_arrives_only_in_the_role_expected() {
        let (parent, child) = fd_channel().unwrap();
        let sent = std::fs::File::open("/dev/null").unwrap();
        send_fd(&child, FdRole::Tap, &sent).unwrap();
        let got = recv_fd(&parent, FdRole::Tap).unwrap().expect("a descriptor");
        let same = |a: &dyn AsRawFd, b: &dyn AsRawFd| {
            let (x, y) = (nix::sys::stat::fstat(a.as_raw_fd()).unwrap(), nix::sys::stat::fstat(b.as_raw_fd()).unwrap());
            (x.st_dev, x.st_ino) == (y.st_dev, y.st_ino)
        };
        assert!(same(&got, &sent), "the very file sent");

        send_fd(&child, FdRole::Terminal, &sent).unwrap();
        let err = recv_fd(&parent, FdRole::FuseRoot).unwrap_err();
        assert!(matches!(err, Error::FdRole { expected: FdRole::FuseRoot, found: FdRole::Terminal }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("the root") && text.contains("the terminal"), "names both roles: {text}");

        drop(child);
        assert!(recv_fd(&parent, FdRole::Tap).unwrap().is_none(), "closed without sending");
    }

    #[test]
    fn roles_round_trip_through_their_byte() {
        for r in FdRole::ALL {
            assert_eq!(FdRole::from_byte(r.byte()), Some(r));
        }
        assert_eq!(FdRole::from_byte(b'x'), None);
    }
}
