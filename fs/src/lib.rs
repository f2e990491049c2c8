//! burrow-fs: the layered root filesystem of burrow containers.
//!
//! A container's root is a stack of read-only image layers with one writable
//! directory on top. This crate holds the layer rules of the OCI image
//! specification (`whiteout`: which names hide lower files; `overlay`: how
//! layers merge; `merged`: the same merge by path, for reading an image
//! without mounting it), `diff` (what a container changed, `docker diff` style)
//! and the FUSE overlay that serves the merged tree (`ops`, `mutate`,
//! `rename`, `copyup`, `writes` for the filesystem, `fuse` for the wire adapter,
//! `mount` for sessions). The upper directory is itself an OCI layer:
//! deletions are `.wh.NAME` files and `.wh..wh..opq` markers, so
//! committing a container is archiving its upper as it is. It never
//! depends on the `burrow` engine crate.

use std::path::PathBuf;

pub mod copyup;
pub mod diff;
pub mod fuse;
pub mod inode;
pub mod merged;
mod mount;
pub mod mutate;
pub mod ops;
pub mod overlay;
pub mod rename;
pub mod sys;
pub mod whiteout;
pub mod writes;

#[cfg(test)]
mod smoke_test;

pub use inode::Ino;
pub use merged::Merged;
pub use mount::{default_threads, mount_data, serve, spawn_mount, spawn_mount_threads, Mounted, Server};

/// Errors of setting up or serving an overlay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer directory cannot be opened.
    #[error(transparent)]
    Layer(#[from] overlay::StackError),
    /// The upper layer cannot be read to set up the root.
    #[error("cannot read the upper layer {path}: {source}")]
    Upper { path: PathBuf, source: std::io::Error },
    /// Reading a layer for a diff failed.
    #[error("cannot read {path} while comparing layers: {source}")]
    Diff { path: PathBuf, source: std::io::Error },
    /// Mounting or the FUSE handshake failed.
    #[error("cannot mount the overlay at {mountpoint}: {source} (is /dev/fuse usable and fusermount3 installed?)")]
    Mount { mountpoint: PathBuf, source: std::io::Error },
    /// The FUSE session could not start on the given descriptor.
    #[error("cannot start the FUSE session: {source}")]
    Session { source: std::io::Error },
}

/// The layer stack of one overlay.
#[derive(Debug, Clone)]
pub struct Config {
    /// Image layers, TOPMOST FIRST.
    pub lowers: Vec<PathBuf>,
    /// The writable layer; it is kept in the OCI layer format.
    pub upper: PathBuf,
    /// Scratch directory on the same filesystem as `upper`, for atomic copy-up.
    pub work: PathBuf,
}
