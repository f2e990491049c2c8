//! Why a container's process could not reach `execve`.
//!
//! The container's first process (`init`, with `mounts`, `volumes`, `tap`
//! and `fuse_root`) and `burrow exec`'s command (`join`) prepare
//! themselves in a child process: streams and terminal (`tty`), mounts,
//! network device, identity (`exec::drop_privileges`). Each step that can
//! fail has a variant here with what it acted on (a path, a mount target,
//! a device, a descriptor's role) and the kernel's error. The child turns
//! the error into text once, in its `fail`, and sends it to the parent in
//! a `channel::Failure` with the exit class it chose; the parent shows the
//! text as it arrived. Nothing outside the child process handles this
//! type: the process boundary is crossed by the report, not by the value.

use std::path::PathBuf;

use nix::errno::Errno;

use super::channel::FdRole;

#[derive(Debug, thiserror::Error)]
pub enum SetupError {
    #[error("cannot open {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot set up the container's output: {source}")]
    Output { source: std::io::Error },
    #[error("dup2: {source}")]
    Dup { source: std::io::Error },
    #[error("no channel for {role}")]
    NoChannel { role: FdRole },
    #[error("cannot hand {role} to burrow: {source}")]
    Hand { role: FdRole, source: super::Error },
    #[error("cannot open /dev/ptmx: {source}")]
    OpenPtmx { source: Errno },
    #[error("{call}: {source}")]
    Pty { call: &'static str, source: Errno },
    #[error("cannot set the controlling terminal: {source}")]
    ControllingTerminal { source: std::io::Error },
    #[error("cannot set the hostname: {source}")]
    Hostname { source: Errno },
    #[error("cannot set the domain name: {source}")]
    Domainname { source: Errno },

    #[error("cannot mount {what} on {}: {source}", target.display())]
    Mount { what: String, target: PathBuf, source: Errno },
    #[error("cannot create {}: {source}", path.display())]
    Create { path: PathBuf, source: std::io::Error },
    #[error("{} is not a directory in the image", path.display())]
    NotADirectory { path: PathBuf },
    #[error("cannot enter {}: {source}", path.display())]
    Enter { path: PathBuf, source: Errno },
    #[error("pivot_root failed: {source}")]
    PivotRoot { source: Errno },
    #[error("cannot detach the old root: {source}")]
    DetachOldRoot { source: Errno },
    #[error("statvfs {}: {source}", path.display())]
    Statvfs { path: PathBuf, source: Errno },
    #[error("socket: {source}")]
    Socket { source: std::io::Error },
    #[error("cannot bring up lo: {source}")]
    Loopback { source: std::io::Error },

    #[error("cannot prepare the mount point {target}: {at}: {source}")]
    MountPoint { target: String, at: String, source: Errno },
    #[error("cannot prepare the mount point {target}: too many symbolic links")]
    TooManyLinks { target: String },
    #[error("cannot mount on {target}: {} is not a directory in the container", at.display())]
    NotADirectoryOnTheWay { target: String, at: PathBuf },
    #[error("cannot mount a directory on {target}: it is a file in the container")]
    DirOntoFile { target: String },
    #[error("cannot mount a file on {target}: it is a directory in the container")]
    FileOntoDir { target: String },
    #[error("cannot open the container root {}: {source}", path.display())]
    OpenRoot { path: PathBuf, source: Errno },
    #[error("cannot open the mount source {}: {source}", path.display())]
    OpenSource { path: PathBuf, source: Errno },
    #[error("cannot stat {}: {source}", path.display())]
    StatSource { path: PathBuf, source: Errno },
    #[error("the mount source {} changed after it was checked; refusing to mount it", path.display())]
    SourceChanged { path: PathBuf },
    #[error("cannot reopen {target}: {source}")]
    Reopen { target: String, source: Errno },
    #[error("mount_setattr: {source}")]
    MountSetattr { source: Errno },
    #[error("cannot make {target} read-only: {source}")]
    ReadOnly { target: String, source: Box<SetupError> },

    #[error(
        "cannot open /dev/net/tun: {source}; burrow's container network needs it: ask an administrator to run `chmod 0666 /dev/net/tun`, or run with --network none"
    )]
    OpenTun { source: std::io::Error },
    #[error("cannot {step} on {device}: {source}")]
    Tap { step: &'static str, device: &'static str, source: std::io::Error },
    #[error("cannot keep {device} past its descriptor: {source}")]
    TapPersist { device: &'static str, source: std::io::Error },

    #[error(
        "cannot open /dev/fuse: {source}; burrow serves every container's root with FUSE: ask an administrator to run `chmod 0666 /dev/fuse` (see `burrow info`)"
    )]
    OpenFuse { source: Errno },
    #[error("cannot mount the container's root at {}: {source}", path.display())]
    MountRoot { path: PathBuf, source: Errno },

    #[error(transparent)]
    Caps(#[from] super::caps::Error),
    #[error(transparent)]
    Seccomp(#[from] super::seccomp::Error),
    #[error("cannot set no_new_privs: {source}")]
    NoNewPrivs { source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, SetupError>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_name_what_failed() {
        let e = SetupError::Hand { role: FdRole::Tap, source: super::super::Error::Channel { source: Errno::EPIPE.into() } };
        assert!(e.to_string().starts_with("cannot hand the network device to burrow: cannot set up the container's channel"), "{e}");
        let e = SetupError::ReadOnly { target: "/data".into(), source: Box::new(SetupError::MountSetattr { source: Errno::EPERM }) };
        assert_eq!(e.to_string(), "cannot make /data read-only: mount_setattr: EPERM: Operation not permitted");
        let e = SetupError::Mount { what: "proc".into(), target: "/r/proc".into(), source: Errno::EPERM };
        assert_eq!(e.to_string(), "cannot mount proc on /r/proc: EPERM: Operation not permitted");
    }
}
