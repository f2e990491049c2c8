//! The build cache as a whole: which images are its own, the space it
//! takes, and `builder prune`.
//!
//! A build's intermediate images are untagged images that a record under
//! `cache/build/` points to; they are the cache, so `images` shows them
//! only with `-a`, `image prune` leaves them, and `builder prune` (also
//! run by `system prune`) removes them with their records and the
//! `RUN --mount=type=cache` directories. An image that is tagged, or that
//! a container uses, is never the cache's to remove.

use std::collections::HashSet;
use std::path::PathBuf;

use crate::image::{Digest, PruneReport, Store};
use crate::paths::Paths;

fn records_dir(paths: &Paths) -> PathBuf {
    paths.cache().join("build")
}

fn mounts_dir(paths: &Paths) -> PathBuf {
    paths.cache().join("build-mounts")
}

/// Every image id a cache record points to.
pub fn image_ids(paths: &Paths) -> HashSet<Digest> {
    let Ok(dir) = std::fs::read_dir(records_dir(paths)) else { return HashSet::new() };
    dir.filter_map(|e| e.ok()).filter_map(|e| std::fs::read_to_string(e.path()).ok()).filter_map(|id| id.trim().parse().ok()).collect()
}

/// What the build cache holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Usage {
    /// Untagged images the cache records point to.
    pub images: usize,
    /// Bytes of their layers no other image shares, and of cache mounts.
    pub bytes: u64,
    /// `RUN --mount=type=cache` directories.
    pub mounts: usize,
}

pub fn usage(paths: &Paths, store: &Store) -> crate::image::Result<Usage> {
    let ids = image_ids(paths);
    let mut cache_layers = HashSet::new();
    let mut other_layers = HashSet::new();
    let mut images = 0;
    for image in store.all()? {
        let ours = image.names.is_empty() && ids.contains(&image.id);
        images += usize::from(ours);
        for l in image.layers {
            if ours { &mut cache_layers } else { &mut other_layers }.insert(l.dir);
        }
    }
    let mut bytes: u64 = cache_layers.difference(&other_layers).map(|d| crate::du::tree_size(d)).sum();
    let mounts: Vec<PathBuf> = std::fs::read_dir(mounts_dir(paths))
        .map(|d| d.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| p.is_dir()).collect())
        .unwrap_or_default();
    bytes += mounts.iter().map(|m| crate::du::tree_size(m)).sum::<u64>();
    Ok(Usage { images, bytes, mounts: mounts.len() })
}

/// `builder prune`: the cache's images no container uses, the records
/// left pointing nowhere, and the cache mounts. Returns what went and
/// the bytes freed (blobs and cache mounts).
pub fn prune(
    paths: &Paths,
    store: &Store,
    in_use: impl FnOnce() -> crate::image::Result<HashSet<Digest>>,
) -> crate::image::Result<PruneReport> {
    let ids = image_ids(paths);
    let mut report = store.prune_matching(|id, names| names.is_empty() && ids.contains(id), in_use)?;
    if let Ok(dir) = std::fs::read_dir(records_dir(paths)) {
        for e in dir.filter_map(|e| e.ok()) {
            let live = std::fs::read_to_string(e.path()).is_ok_and(|id| store.resolve(id.trim()).is_ok());
            if !live {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let mounts = mounts_dir(paths);
    if mounts.exists() {
        report.reclaimed += crate::du::tree_size(&mounts);
        crate::rmtree::remove_tree(&mounts).map_err(|source| crate::image::Error::Io {
            op: "remove the build cache mounts",
            path: mounts.clone(),
            source,
        })?;
    }
    Ok(report)
}
