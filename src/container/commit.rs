//! `burrow commit`: a container's changes become a new image.
//!
//! The container's upper directory is already an OCI layer (burrow-fs
//! writes deletions as whiteouts), so committing streams it as a tar
//! (`layer_tar`) through a pipe into the image store's `add_layer`, which
//! verifies, unpacks and names the image exactly as `import` does: a
//! failure anywhere, the writer's included, leaves the store as it was
//! (the image is named only once the whole upper was written). The new image is the
//! container's image plus this one layer, with the config (Env, Cmd, ...)
//! of the image kept and a history entry naming the container's command.
//! A running container is committed as it is at that moment, without
//! pausing it.

use super::{layer_tar, record, Error, Result};
use crate::image::{import, ImportOptions, ImportResult, Store};
use crate::paths::Paths;

#[derive(Debug, Clone, Default)]
pub struct CommitOptions {
    pub message: Option<String>,
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config (`-c`).
    pub changes: Vec<String>,
    /// The history entry's `created_by` (default: the container's command).
    pub created_by: Option<String>,
}

/// Commit container `key` (name or id prefix) as image `name` (untagged
/// when `None`).
pub(crate) fn commit(paths: &Paths, key: &str, name: Option<&str>, opts: &CommitOptions) -> Result<ImportResult> {
    let rec = record::find(paths, key)?;
    let upper = rec.dir(paths).join("upper");
    if !upper.is_dir() {
        return Err(Error::NoUpper { name: rec.name.clone() });
    }
    let store = Store::open(paths)?;
    let base = store.resolve(rec.image_id.as_str()).map_err(|_| Error::ImageGone { name: rec.name.clone(), image: rec.image.clone() })?;
    let import_opts = ImportOptions {
        message: opts.message.clone(),
        author: opts.author.clone(),
        changes: opts.changes.clone(),
        unpack: crate::image::UnpackOptions::current(),
    };
    let created_by = opts.created_by.clone().unwrap_or_else(|| format!("burrow commit: {}", rec.command.join(" ")));
    import::add_produced_layer(&store, Some(&base), name, &import_opts, &created_by, move |out| {
        layer_tar::write(&upper, out).map_err(|source| Error::Io { path: upper, source })
    })
}
