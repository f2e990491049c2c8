//! What one build step does to an image, each producing a new image.
//!
//! - [`run`]: the command runs in a real burrow container of the current
//!   image (its FUSE root, its network, the step's `--mount`s), started
//!   under a supervisor process of its own exactly as `run -d` does, while
//!   the build follows its log; a non-zero exit fails the step, otherwise
//!   the container's upper directory (an OCI layer, whiteouts included)
//!   is committed as the new layer.
//! - [`copy`]: files become a layer directly: a tar stream built from the
//!   chosen sources (or, for ADD, the entries of a local archive) goes into
//!   the store's `add_layer`, as `import` does.
//! - [`config`]: ENV, CMD, LABEL and the other metadata instructions change
//!   only the config: a new image with the same layers and an
//!   `empty_layer` history entry.
//!
//! The caller runs inside burrow's user namespace (the store's files
//! belong to container ids).

mod archive;
mod copy;
mod run;

use std::path::PathBuf;

use crate::image::{import, Digest, Image, Store};

pub use archive::archive_compression;
pub use copy::{copy, CopyItem};
pub use run::{run, RunStep};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the command {command:?} returned a non-zero code: {code}{tail}")]
    RunFailed { command: String, code: i32, tail: String },
    #[error("{archive}: entry {entry:?} would land outside the destination: ADD refuses archives with .. in their paths")]
    ArchiveEscape { archive: PathBuf, entry: String },
    #[error(transparent)]
    Container(#[from] crate::container::lifecycle::Error),
    #[error(transparent)]
    Monitor(#[from] crate::container::lifecycle::StartError),
    #[error(transparent)]
    Image(#[from] crate::image::Error),
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// ENV, CMD, LABEL...: the config changed, no new layer. `history` is
/// the entry's `created_by`; `None` adds none.
pub fn config(store: &Store, base: &Image, history: Option<&str>, change: impl FnOnce(&mut serde_json::Value)) -> Result<Digest, Error> {
    Ok(import::add_config(store, base, None, history, change)?)
}
