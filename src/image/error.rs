//! The error type of the image store and of import.
//!
//! Parsing and unpacking have their own enums (`ReferenceError`,
//! `DigestError`, `UnpackError`) that this one wraps unchanged, so a caller
//! matches on one type (`NotFound` is the one the CLI cares about) while
//! the messages stay the ones written where the problem was found.

use std::path::PathBuf;

use super::digest::{Digest, DigestError};
use super::reference::ReferenceError;
use super::unpack::UnpackError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("image {name:?} not found locally: import it with burrow import, or pull it")]
    NotFound { name: String },
    #[error("short image id {prefix:?} matches {count} images: give more digits of the id")]
    Ambiguous { prefix: String, count: usize },
    #[error("conflict: unable to delete {short} (must be forced) - image is referenced in {count} repositories: remove its names one by one, or use rmi -f")]
    MustForce { short: String, count: usize },
    #[error("conflict: unable to remove repository reference \"{reference}\" (must force) - container {container} is using its referenced image {image}")]
    InUse { reference: String, container: String, image: String },
    #[error("conflict: unable to delete {image} (must be forced) - image is being used by stopped container {container}")]
    InUseById { image: String, container: String },
    #[error("conflict: unable to delete {image} (cannot be forced) - image is being used by running container {container}")]
    InUseRunning { image: String, container: String },
    #[error("cannot tell which containers use images, so none is removed: {source}")]
    Users { source: Box<dyn std::error::Error + Send + Sync> },
    #[error("refusing to use {name:?} as a tag: a name with a digest cannot be a tag, give NAME[:TAG]")]
    DigestTag { name: String },
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    #[error(transparent)]
    Change(#[from] super::change::Error),
    #[error(transparent)]
    Digest(#[from] DigestError),
    #[error(transparent)]
    Unpack(#[from] UnpackError),
    #[error(transparent)]
    Lock(#[from] crate::lock::Error),
    #[error(transparent)]
    Root(#[from] crate::private_dir::Error),
    #[error("cannot {op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error("store file {path} is corrupt ({source}): remove the image with burrow rmi -f and import or pull it again")]
    Corrupt { path: PathBuf, source: serde_json::Error },
    #[error("blob {digest} is missing from the store: remove the image with burrow rmi -f and import or pull it again")]
    MissingBlob { digest: Digest },
    #[error("content does not match its digest: expected {expected}, found {found}; the data was corrupted in transit, try again")]
    DigestMismatch { expected: Digest, found: Digest },
    #[error(
        "content of {digest} has the wrong size: expected {expected} bytes, found {found}; the data was corrupted in transit, try again"
    )]
    SizeMismatch { digest: Digest, expected: u64, found: u64 },
    #[error("the image does not hold together: {what}")]
    Inconsistent { what: String },
    #[error("cannot encode {what}: {source}")]
    Encode { what: &'static str, source: serde_json::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}
