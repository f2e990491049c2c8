//! The store lock.
//!
//! Every command that changes the store takes an exclusive `flock(2)` on
//! `<root>/lock`; commands that only read take it shared. The kernel drops
//! the lock when the process dies, so a killed command never leaves the
//! store locked. Writes are still atomic on their own (temp file + rename),
//! so a reader without the lock sees either the old or the new state.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::fcntl::{Flock, FlockArg};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open the store lock {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("cannot lock the store at {path}: {source}")]
    Lock { path: PathBuf, source: nix::Error },
    #[error(transparent)]
    Root(#[from] crate::private_dir::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// A held store lock; dropping it unlocks.
#[derive(Debug)]
pub struct StoreLock {
    _flock: Flock<File>,
}

impl StoreLock {
    pub fn exclusive(path: &Path) -> Result<StoreLock> {
        Self::take(path, FlockArg::LockExclusive)
    }

    pub fn shared(path: &Path) -> Result<StoreLock> {
        Self::take(path, FlockArg::LockShared)
    }

    fn take(path: &Path, arg: FlockArg) -> Result<StoreLock> {
        // The lock is the first file of a new store: its directory is the
        // store root, made private to this user.
        if let Some(dir) = path.parent() {
            crate::private_dir::create(dir)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .truncate(false)
            .read(true)
            .write(true)
            .open(path)
            .map_err(|source| Error::Open { path: path.to_path_buf(), source })?;
        let flock = Flock::lock(file, arg).map_err(|(_, source)| Error::Lock { path: path.to_path_buf(), source })?;
        Ok(StoreLock { _flock: flock })
    }
}
