//! Containers: records, root filesystems and the `run` sequence.
//!
//! `record` keeps what `ps` and `rm` read; `rootfs` merges an image's
//! layers into the container's private root; `passwd` resolves `--user`
//! in the container's own files; `run` turns an image and the user's flags
//! into a `process::Spec`, starts it, waits and records the outcome. The
//! process details (namespaces, mounts, exec) live in `crate::process`.

pub mod overlay;
pub mod passwd;
pub mod record;
pub mod rootfs;
pub mod run;

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
    #[error(transparent)]
    Rootfs(#[from] rootfs::Error),
    #[error(transparent)]
    User(#[from] passwd::Error),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error(transparent)]
    Process(#[from] crate::process::Error),
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error(transparent)]
    Caps(#[from] crate::process::caps::Error),
    #[error(transparent)]
    Seccomp(#[from] crate::process::seccomp::Error),
    #[error("no command specified: give one after the image name, or use an image with CMD or ENTRYPOINT")]
    NoCommand,
    #[error("the working directory {dir:?} is invalid: it must be an absolute path")]
    RelativeWorkdir { dir: String },
}

pub type Result<T> = std::result::Result<T, Error>;
