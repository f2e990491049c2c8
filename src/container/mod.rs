//! Containers: records, root filesystems and the `run` sequence.
//!
//! `record` keeps what `ps` and `rm` read; `rootfs` lays out a
//! container's root for burrow-fs (upper, work, init layer, mount point)
//! and reads the image's files before the mount; `passwd` resolves
//! `--user` in the container's own files; `run` turns an image and the
//! user's flags into a `process::Spec`, starts it, waits and records the
//! outcome (`net` decides its network); `diff` and `commit` read the upper directory (an OCI layer
//! as it stands, `layer_tar`); `export` writes the merged tree as a tar;
//! `exec` decides what a command run in a running container gets.
//! The process details (namespaces, mounts, the FUSE session, exec) live
//! in `crate::process`.

/// The span every log line about one container runs in, so that the
/// `--log-level debug` output of concurrent containers (in one log, or in
/// a build that runs several) can be told apart: `container{id=abc123}`.
/// Threads a container's supervisor starts enter it too.
pub fn span(id: &record::ContainerId) -> tracing::Span {
    tracing::info_span!("container", id = %id.short())
}

pub mod attach;
pub(crate) mod bridge;
pub mod commit;
pub mod connect;
pub mod cp;
pub mod diff;
pub mod exec;
pub mod export;
pub mod health;
pub mod inspect;
mod layer_tar;
pub mod lifecycle;
mod live;
pub mod logs;
pub(crate) mod monitor;
pub mod net;
pub use crate::passwd;
pub mod prune;
pub mod record;
pub(crate) mod remove;
pub mod restart;
pub mod rootfs;
pub(crate) mod run;
pub(crate) mod state;
pub mod top;

use std::path::PathBuf;

pub use record::{ContainerId, Record, Status};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("container record {path} is unreadable: {reason}")]
    Corrupt { path: PathBuf, reason: String },
    #[error("no such container: {key}")]
    NoSuchContainer { key: String },
    #[error("container id prefix {key} is ambiguous: give more digits or the name")]
    Ambiguous { key: String },
    #[error("the container name \"{name}\" is already in use by container {id}: remove it with `burrow rm {name}` or choose another name")]
    NameInUse { name: String, id: String },
    #[error("invalid container name \"{name}\": only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName { name: String },
    #[error("container {name} is running: stop it first or use `burrow rm -f`")]
    Running { name: String },
    #[error("container files can only be removed inside burrow's user namespace (an engine bug)")]
    NotInUserns,
    #[error(transparent)]
    Rootfs(#[from] rootfs::Error),
    #[error(transparent)]
    User(#[from] passwd::Error),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error(transparent)]
    Process(#[from] crate::process::Error),
    #[error(transparent)]
    UserNs(#[from] crate::userns::Error),
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error(transparent)]
    Caps(#[from] crate::process::caps::Error),
    #[error(transparent)]
    Seccomp(#[from] crate::process::seccomp::Error),
    #[error("cannot compare container {name} with its image: {reason}")]
    Diff { name: String, reason: String },
    #[error("container {name} has no file system changes to commit (its upper directory is missing)")]
    NoUpper { name: String },
    #[error("the image of container {name} ({image}) is no longer in the store")]
    ImageGone { name: String, image: String },
    #[error(transparent)]
    Network(#[from] crate::network::Error),
    #[error(transparent)]
    Limits(#[from] crate::limits::Error),
    #[error(transparent)]
    Ports(#[from] burrow_netstack::ports::Error),
    #[error(transparent)]
    NetStack(#[from] burrow_netstack::Error),
    #[error("ports cannot be published with --network {mode}: the container uses {}; leave out -p/-P or use the default network", if *mode == "host" { "the host's network directly, so its ports are the host's" } else { "no network" })]
    PublishConflict { mode: &'static str },
    #[error("conflicting options: {flag} cannot be used with --network container: (the joined container's network applies)")]
    JoinConflict { flag: &'static str },
    #[error("cannot join the network of container {name}: it is not running (start it first)")]
    JoinNotRunning { name: String },
    #[error("{flag} applies to containers on a user-defined network only: add --network NAME (see `burrow network create`)")]
    NeedsUserNetwork { flag: &'static str },
    #[error("cannot link to container {name}: it is not on network {network}")]
    LinkElsewhere { name: String, network: String },
    #[error("{name} is a built-in network mode, not a user-defined network")]
    BuiltinNetwork { name: String },
    #[error(
        "network {name} is internal: it has no way out, so no port can be published from it; use a network created without --internal"
    )]
    InternalPublish { name: String },
    #[error("--network {mode} cannot be combined with another --network: only user-defined networks can be given more than once")]
    CombinedNetworks { mode: String },
    #[error("network {name} is given more than once with --network")]
    NetworkTwice { name: String },
    #[error("invalid --mac-address {mac}: a container's hardware address must be unicast and not all zeros (the first byte even, such as 02:42:0a:59:00:02)")]
    BadMac { mac: crate::model::network::Mac },
    #[error("MAC address {mac} is already used by container {container} on network {network}: choose another --mac-address")]
    MacInUse { mac: crate::model::network::Mac, network: String, container: String },
    #[error("container {name} cannot be connected to network {network}: it uses the network mode {mode}, not a user-defined network; create it again with --network NAME to put it on user-defined networks")]
    ConnectMode { name: String, network: String, mode: String },
    #[error("container {name} is already connected to network {network}")]
    AlreadyConnected { name: String, network: String },
    #[error("container {name} is not connected to network {network}")]
    NotConnected { name: String, network: String },
    #[error(transparent)]
    NetworkStore(#[from] crate::network::store::Error),
    #[error(transparent)]
    Ipam(#[from] crate::network::ipam::Error),
    #[error(transparent)]
    Holder(#[from] crate::network::holder::Error),
    #[error("no command specified: give one after the image name, or use an image with CMD or ENTRYPOINT")]
    NoCommand,
    #[error("the working directory {dir:?} is invalid: it must be an absolute path")]
    RelativeWorkdir { dir: String },
    #[error("invalid environment variable {item:?}: give NAME=VALUE, or NAME to pass on your own value")]
    InvalidEnv { item: String },
    #[error("container {name} was created by an older burrow that did not keep its settings: remove it and run it again")]
    NoConfig { name: String },
    #[error("container {name} is already running")]
    AlreadyRunning { name: String },
    #[error("conflicting options: --restart and --rm (a container removed when it exits cannot be restarted)")]
    RestartWithRm,
    #[error("container {name} is not running: start it first (burrow ps -a shows its state)")]
    NotRunning { name: String },
    #[error("container {name} was started by an older burrow that did not record what exec needs: run it again")]
    NoExecDefaults { name: String },
    #[error(transparent)]
    Logs(#[from] logs::Error),
    #[error(transparent)]
    Copy(#[from] cp::CpError),
    #[error(transparent)]
    Volume(#[from] crate::volume::Error),
}

pub type Result<T> = std::result::Result<T, Error>;
