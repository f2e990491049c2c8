//! Volumes and the mounts a container asks for (`-v`, `--mount`,
//! `--tmpfs`, `--volumes-from`, the image's VOLUME entries).
//!
//! Theory of operation. `spec` parses the flags into `MountRequest`s and
//! checks docker's rules (absolute targets, not `/`, no duplicates, nothing
//! at or under /proc and /sys) without touching anything. `host` checks a
//! bind source with the caller's own permissions *before* `burrow` enters
//! its user namespace (as root there, the CLI could read files of every id
//! it maps) and records the source's identity (device, inode), which the
//! container's first process compares with what it opens before mounting,
//! so a path swapped after the check is refused. `plan` is the pure merge
//! of the requests, the mounts of `--volumes-from` containers and the
//! image's VOLUME entries into the list of mounts, parents first. `store`
//! keeps named and anonymous volumes under `volumes/<name>/` (`_data` and
//! an atomically written `volume.json`); `fill` copies the image's content
//! at a mount point into a new, empty volume (docker's copy: owners, modes,
//! times and symlinks kept, whiteouts and opaque directories honoured);
//! `attach` ties them together for `run` and answers which containers use
//! a volume. The kernel side (resolving each target inside the container's
//! root with openat2(RESOLVE_IN_ROOT) and mounting there) is
//! `process::volumes`.
//!
//! Not done: volume drivers other than `local`, volume options (`-o`),
//! propagation other than private, SELinux relabelling (`:z`, `:Z`),
//! volume subpaths; each is refused with a clear error.

pub mod attach;
pub mod fill;
pub mod host;
pub mod plan;
pub mod spec;
pub mod store;

use std::path::PathBuf;

pub use attach::{MountPoint, MountType, Mounter};
pub use host::CheckedBind;
pub use spec::{MountKind, MountRequest, TmpfsOptions, VolumesFrom};
pub use store::Volume;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid volume specification {spec:?}: {reason}")]
    Spec { spec: String, reason: String },
    #[error("invalid mount {spec:?}: {reason}")]
    Mount { spec: String, reason: String },
    #[error("invalid --tmpfs {spec:?}: {reason}")]
    Tmpfs { spec: String, reason: String },
    #[error("invalid mount target {target:?}: {reason}")]
    Target { target: String, reason: String },
    #[error("duplicate mount point: {target}")]
    Duplicate { target: String },
    #[error("invalid volume name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters; to bind a host directory, give an absolute path")]
    InvalidName { name: String },
    #[error("no such volume: {name}")]
    NoSuchVolume { name: String },
    #[error("remove {name}: volume is in use - [{}]", containers.join(", "))]
    InUse { name: String, containers: Vec<String> },
    #[error("volume driver {driver:?} is not supported: burrow has only the \"local\" driver")]
    Driver { driver: String },
    #[error("bind source path does not exist: {path}")]
    MissingSource { path: PathBuf },
    #[error("cannot use {path} as a bind source: {source}; you cannot read it on this host, so the container may not either")]
    Unreadable { path: PathBuf, source: nix::Error },
    #[error("bind source {path} was not checked with your permissions before the container started (an engine bug)")]
    Unchecked { path: PathBuf },
    #[error("volume {name} is corrupt: {reason}")]
    Corrupt { name: String, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot copy the image's {target} into the volume: {path}: {source}")]
    Fill { target: String, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

pub(crate) fn io(path: &std::path::Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}
