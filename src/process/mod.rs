//! The container's processes: namespaces, mounts, identity, exec.
//!
//! `launch` is the parent side, run by the `burrow` command: it clones the
//! container's first process into new mount, pid, uts, ipc, network and
//! cgroup namespaces (and a nested user namespace for `keep-id`), writes
//! nested id maps, proxies the terminal and signals, and waits. `init` is
//! the child side, in order: mounts (`mounts`), pivot_root, hostname,
//! loopback, then the workload's identity, seccomp, capabilities and
//! `execve` (`exec`). With `--init` the child stays as a small PID 1
//! (`pid1`) that reaps orphans and forwards signals. Failures in the child
//! travel back over a close-on-exec pipe (`channel`) as an exit class and a
//! message (`setup_error` has the child's typed failures), so the parent
//! can answer with docker's exit codes: 125 for an
//! engine error, 126 when the command cannot be executed, 127 when it is
//! not found. `join` is `burrow exec`: a new process in the namespaces of
//! a running container, with the same identity, capabilities and seccomp.

pub mod caps;
mod channel;
mod exec;
pub mod fuse_root;
mod init;
pub mod join;
mod launch;
mod mounts;
mod pid1;
pub mod seccomp;
mod seccomp_profile;
mod setup_error;
mod tap;
mod tty;
mod volumes;

use std::os::fd::OwnedFd;
use std::path::PathBuf;

pub use crate::model::{UserMount, UserMountKind};
pub use channel::FdRole;
pub use exec::DEFAULT_PATH;
pub use launch::{launch, NetStart};
pub use tap::TapPlan;
pub use tty::{check_stdin, RawMode};

use crate::userns::Mapping;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot create the container's namespaces: {source}")]
    Clone { source: nix::Error },
    #[error("cannot set up the container's channel: {source}")]
    Channel { source: std::io::Error },
    #[error("the container's process sent {found} where burrow expected {expected} (a bug in burrow)")]
    FdRole { expected: FdRole, found: FdRole },
    #[error("the container's process sent a descriptor labelled {byte:#04x} where burrow expected {expected} (a bug in burrow)")]
    FdUnlabelled { expected: FdRole, byte: u8 },
    #[error("{message}")]
    Child { class: ExitClass, message: String },
    #[error(transparent)]
    UserNs(#[from] crate::userns::Error),
    #[error(transparent)]
    Root(#[from] fuse_root::Error),
    #[error("cannot wait for the container: {source}")]
    Wait { source: nix::Error },
    #[error(transparent)]
    Network(#[from] burrow_netstack::Error),
    #[error("cannot use the terminal: {source}")]
    Terminal { source: nix::Error },
    #[error("burrow has {count} threads where it must have one to create a container (a bug in burrow)")]
    Threads { count: usize },
    #[error(transparent)]
    Limits(#[from] crate::limits::Error),
    #[error("cannot plug the container into its network: {0}")]
    Bridge(#[from] crate::network::holder::Error),
    #[error(transparent)]
    Publish(#[from] crate::network::publish::Error),
    #[error("the container's process {pid} is gone: the container is not running any more")]
    Gone { pid: i32 },
    #[error("cannot join the container's {ns} namespace: {source}")]
    Join { ns: &'static str, source: nix::Error },
    #[error("cannot start the command in the container: {source}")]
    Fork { source: nix::Error },
    #[error("the input device is not a TTY: -i with -t needs a terminal on stdin; leave out -t to pipe input into the container")]
    NotATty,
}

pub type Result<T> = std::result::Result<T, Error>;

/// How a failure before `execve` maps to docker's exit codes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum ExitClass {
    /// Something in burrow or the host failed: 125.
    Engine,
    /// The command exists but cannot be executed: 126.
    CannotExecute,
    /// The command was not found: 127.
    NotFound,
}

impl ExitClass {
    pub fn code(self) -> i32 {
        match self {
            ExitClass::Engine => 125,
            ExitClass::CannotExecute => 126,
            ExitClass::NotFound => 127,
        }
    }
}

/// A file burrow generated (hosts, hostname, resolv.conf) bind-mounted
/// into the container at `target`.
#[derive(Debug, Clone)]
pub struct FileMount {
    pub source: PathBuf,
    pub target: &'static str,
}

/// Everything the container's first process needs, prepared by the
/// parent before the clone so that input errors surface early.
pub struct Spec {
    /// The container's root directory, where the init mounts burrow-fs.
    pub rootfs: PathBuf,
    /// The mode of the root directory (S_IFDIR and permissions).
    pub root_mode: u32,
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub hostname: String,
    /// `--domainname`: the UTS namespace's NIS domain name.
    pub domainname: Option<String>,
    pub read_only: bool,
    pub files: Vec<FileMount>,
    /// Volumes, binds and tmpfs (`-v`, `--mount`, `--tmpfs`), parents first.
    pub mounts: Vec<UserMount>,
    pub tty: bool,
    pub stdin: bool,
    pub init: bool,
    pub caps: caps::CapSet,
    pub seccomp: Option<seccomp::Prepared>,
    pub no_new_privs: bool,
    /// Maps of a nested user namespace (keep-id), written by the parent.
    pub nested_userns: Option<Mapping>,
    /// The gid of the `tty` group for devpts, when it is mapped.
    pub devpts_gid: Option<u32>,
    pub network: NetSpec,
    /// Standard streams on pipes (a detached container's, or a logged
    /// foreground one's); `None` shares the caller's.
    pub detached: Option<Detached>,
    /// The container's cgroup, joined right after the clone (`limits`).
    pub cgroup: Option<crate::limits::Cgroup>,
    /// `--ulimit`s, applied by the child before execve.
    pub rlimits: Vec<crate::limits::Rlimit>,
}

/// The standard streams of a container that is not simply sharing the
/// caller's: its stdout and stderr go to these descriptors (its log's
/// pipes), its stdin comes from `stdin` or /dev/null. With a terminal
/// (detached only), what the terminal prints is copied to `stdout`.
pub struct Detached {
    pub stdin: Option<OwnedFd>,
    pub stdout: OwnedFd,
    pub stderr: OwnedFd,
}

/// The container's network namespace.
#[derive(Debug, Clone)]
pub enum NetSpec {
    /// The host's own (`--network host`).
    Host,
    /// A new namespace with loopback only (`--network none`).
    Loopback,
    /// A new namespace with a TAP device served by burrow-netstack.
    Tap(TapPlan),
    /// Another container's namespace (`--network container:NAME`), held
    /// open by this descriptor from before its container was found alive.
    Join(std::sync::Arc<std::os::fd::OwnedFd>),
    /// A new namespace plugged into a user-defined network's bridge
    /// before the container runs (`network::holder::attach`).
    Bridge(std::sync::Arc<BridgeJoin>),
}

/// What plugging a container into its user-defined networks takes: one
/// plug per network, the first (`eth0`, the default route) first. None
/// at all leaves the container with loopback only (it was disconnected
/// from every network).
#[derive(Debug)]
pub struct BridgeJoin {
    pub plugs: Vec<BridgePlug>,
    /// The container's published ports, bound; handed to the first
    /// network's holder once the container is plugged in
    /// (`network::publish`).
    pub published: std::sync::Mutex<Vec<burrow_netstack::Published>>,
}

/// What plugging a container into one network's bridge takes.
#[derive(Debug)]
pub struct BridgePlug {
    /// The network holder's namespace.
    pub holder: std::os::fd::OwnedFd,
    pub endpoint: crate::network::holder::Endpoint,
    /// The holder's start lock, held (shared) until the container is
    /// attached, so an idle holder does not leave in between. `launch`
    /// takes it out before the clone, so the container never has a copy
    /// (a copy would hold the lock for the container's life).
    pub hold: std::sync::Mutex<Option<std::fs::File>>,
    /// The network's directory (where the holder's control socket is).
    pub dir: std::path::PathBuf,
}

/// How the container ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Exit {
    /// The exit code `burrow run` returns: the status, or 128+N for signal N.
    pub code: i32,
}
