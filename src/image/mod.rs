//! Images: references, digests, the content store and layer unpacking.
//!
//! The store is an OCI image layout under the storage root: blobs are
//! content-addressed files under `blobs/sha256/`, `index.json` maps image
//! names (the `org.opencontainers.image.ref.name` annotation, holding the
//! full normalized reference such as `docker.io/library/busybox:latest`) to
//! manifests, and every layer is also kept unpacked under
//! `layers/<chain id>/`, ready to be a read-only lower directory of a
//! container's overlay. An image's id is the digest of its config blob, as
//! in docker.
//!
//! The files split by concern: `digest` and `reference` are pure parsing;
//! `layout` holds the JSON documents of the OCI layout; `blob` writes
//! verified blobs; `store` answers and changes the index; `unpack` turns a
//! tar stream into a directory without ever writing outside it; `compress`
//! sniffs gzip and zstd; `import` combines them into `burrow import`;
//! `prune` removes unused images;
//! `inspect` renders docker's JSON; `fsutil` holds the little file system
//! helpers the others share; `tmp` tells a killed command's leftovers in
//! `tmp/` from work in progress and clears them; `archive` reads and writes docker-archive
//! and oci-archive tars (`save`, `load`) on top of `ingest`. This module does not talk to registries
//! (that is `registry/`) and does not build images.

pub mod archive;
mod blob;
pub mod change;
pub mod compress;
pub mod digest;
mod error;
mod fsutil;
pub mod import;
pub mod ingest;
mod inspect;
pub mod layout;
pub mod merged;
mod prune;
pub mod reference;
mod store;
pub mod tmp;
pub mod unpack;

pub use blob::BlobWriter;
pub use digest::{chain_id, chain_ids, Digest, DigestError};
pub use error::{Error, Result};
pub use import::{import, ImportOptions, ImportResult};
pub use prune::PruneReport;
pub use reference::{Reference, ReferenceError};
pub use store::{Image, ImageSummary, ImageUser, Layer, RemoveReport, Store};
pub use unpack::{unpack, UnpackError, UnpackOptions, UnpackReport};

/// The annotation that names a manifest in `index.json`.
pub const REF_NAME_ANNOTATION: &str = "org.opencontainers.image.ref.name";

#[cfg(test)]
mod tests;
#[cfg(test)]
mod testtar;
