//! Image archives: `burrow save` writes images of the store into one tar,
//! `burrow load` adds the images of such a tar to the store.
//!
//! Two formats, both read and written: **docker-archive**, what
//! `docker save` and `podman save` write by default (`manifest.json`
//! lists per image a config file, its `RepoTags` and its layers as
//! uncompressed tars), and **oci-archive**, a tar of an OCI image layout
//! (`oci-layout`, `index.json` naming manifests with the
//! `org.opencontainers.image.ref.name` annotation, `blobs/sha256/...`).
//!
//! Saving streams: blobs are copied from the store into the tar one at a
//! time (a compressed layer is decompressed into a temp file first for
//! docker-archive, since a tar header needs the size up front) and every
//! blob is verified against its digest on the way. Loading cannot stream
//! in one pass, since an archive's members come in any order: `spool`
//! copies every member into a temp directory under the store's `tmp/`,
//! hashing it; `docker` and `oci` turn the spooled documents into
//! `Planned` images (pure reading, no store change); `load` stages every
//! layer through `ingest` and commits the images only when all of them
//! hold together, so a bad archive leaves the store exactly as it was.
//! Neither direction handles registries, signatures or the legacy v1
//! per-layer `json`/`VERSION` files (they are not written and ignored
//! when read).

mod docker;
mod load;
mod oci;
mod save;
mod spool;

use std::io;
use std::path::PathBuf;

use super::digest::Digest;

pub use load::{load, Loaded};
pub use save::save;

/// An archive format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    DockerArchive,
    OciArchive,
}

impl std::str::FromStr for Format {
    type Err = Error;
    fn from_str(s: &str) -> Result<Format> {
        match s {
            "docker-archive" | "docker" => Ok(Format::DockerArchive),
            "oci-archive" | "oci" => Ok(Format::OciArchive),
            other => Err(Error::UnknownFormatName { name: other.to_string() }),
        }
    }
}

/// The annotation containerd and docker put beside `ref.name` with the
/// full image name; burrow writes both and prefers it when reading.
pub const CONTAINERD_NAME_ANNOTATION: &str = "io.containerd.image.name";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("unknown archive format {name:?}: use docker-archive or oci-archive")]
    UnknownFormatName { name: String },
    #[error("{archive}: not a tar archive (nor a gzip/zstd compressed one): burrow load takes what docker save or burrow save writes")]
    NotATar { archive: String },
    #[error("{archive}: cannot read the archive (truncated or corrupt?): {source}")]
    Read { archive: String, source: io::Error },
    #[error("{archive}: the archive is truncated or corrupt after its first {members} members: a tar header does not parse")]
    Corrupt { archive: String, members: u64 },
    #[error("{archive}: refusing member {member:?}: {reason}; nothing was loaded")]
    UnsafeMember { archive: String, member: String, reason: &'static str },
    #[error("{archive}: neither manifest.json (docker-archive) nor index.json (oci-archive) is in the archive: this is not an image archive (a root file system tarball is added with burrow import)")]
    UnknownContent { archive: String },
    #[error("{archive}: {member} is referenced by {by} but is not in the archive")]
    MissingMember { archive: String, member: String, by: String },
    #[error("{archive}: {member} is invalid: {reason}")]
    BadDocument { archive: String, member: String, reason: String },
    #[error("{archive}: {member} is invalid: image name {name:?}: {source}")]
    BadName { archive: String, member: &'static str, name: String, source: super::ReferenceError },
    #[error("{archive}: {member} does not match its digest: expected {expected}, found {found}")]
    DigestMismatch { archive: String, member: String, expected: Digest, found: Digest },
    #[error("{archive}: {what} is not supported")]
    Unsupported { archive: String, what: String },
    #[error("{archive}: {source}")]
    Ingest { archive: String, source: super::Error },
    #[error("cannot {op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
    #[error("cannot write the archive: {source}")]
    Write { source: io::Error },
    #[error("blob {digest} in the store does not match its digest (found {found}): run burrow system check")]
    CorruptBlob { digest: Digest, found: Digest },
    #[error(transparent)]
    Store(#[from] super::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Error {
        let path = path.into();
        move |source| Error::Io { op, path, source }
    }
}

#[cfg(test)]
mod tests;
