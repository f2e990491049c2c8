//! burrow-fs: the layered root filesystem of burrow containers.
//!
//! A container's root is a stack of read-only image layers with one writable
//! directory on top. This crate holds the layer rules of the OCI image
//! specification (`whiteout`: which names hide lower files), `diff` (what a
//! container changed, `docker diff` style) and the FUSE overlay that serves
//! the merged tree. It never depends on the `burrow` engine crate.

use std::os::fd::{OwnedFd, RawFd};
use std::path::{Path, PathBuf};

pub mod diff;
pub mod whiteout;

/// Errors of setting up or serving an overlay.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A layer directory cannot be opened.
    #[error("cannot open layer directory {path}: {source}")]
    Layer { path: PathBuf, source: std::io::Error },
    /// Reading a layer for a diff failed.
    #[error("cannot read {path} while comparing layers: {source}")]
    Diff { path: PathBuf, source: std::io::Error },
    /// Mounting or the FUSE handshake failed.
    #[error("cannot mount the overlay at {mountpoint}: {source}")]
    Mount { mountpoint: PathBuf, source: std::io::Error },
    /// The FUSE session could not start.
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
    /// Scratch directory on the same filesystem as `upper`.
    pub work: PathBuf,
}

/// A running session on an already-mounted /dev/fuse descriptor.
pub struct Server {
    _priv: (),
}

impl Server {
    /// Wait until the connection ends (unmount or abort).
    pub fn join(self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Serve `cfg` on `fd`, an open /dev/fuse whose mount(2) the caller did.
pub fn serve(_fd: OwnedFd, _cfg: Config, _threads: usize) -> Result<Server, Error> {
    Err(Error::Session { source: std::io::Error::other("not implemented yet") })
}

/// The data string for mount(2) of type "fuse".
pub fn mount_data(fd: RawFd, root_mode: u32) -> String {
    format!(
        "fd={fd},rootmode={:o},user_id=0,group_id=0,allow_other,default_permissions,max_read=1048576",
        libc::S_IFDIR | (root_mode & 0o7777)
    )
}

/// A mounted overlay served by background threads; Drop unmounts and joins.
pub struct Mounted {
    _priv: (),
}

/// Mount `cfg` at `mountpoint` and serve it in background threads.
pub fn spawn_mount(_cfg: Config, mountpoint: &Path) -> Result<Mounted, Error> {
    Err(Error::Mount { mountpoint: mountpoint.to_path_buf(), source: std::io::Error::other("not implemented yet") })
}
