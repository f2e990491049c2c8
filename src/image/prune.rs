//! `burrow image prune`: remove images nobody needs, as docker does.
//!
//! Without `all`, only dangling images (no name) go; with `all`, every
//! image no container uses. The caller says which images containers use
//! (`in_use`, asked under the exclusive store lock, so a container created
//! meanwhile cannot lose its image). The index is rewritten once, without
//! the victims (the commit point); then each victim's blobs and layer
//! directories that no surviving or later victim shares are deleted, and
//! the bytes of deleted blobs are summed for "Total reclaimed space".
//! Layer directories are not counted (docker counts the layer size).

use std::collections::HashSet;

use super::digest::Digest;
use super::error::Result;
use super::store::Store;

/// What `prune` did, in docker's words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// Full names removed.
    pub untagged: Vec<String>,
    /// Deleted image ids, each followed by the chain ids of its deleted layers.
    pub deleted: Vec<Digest>,
    /// Bytes of blob files deleted.
    pub reclaimed: u64,
}

impl Store {
    /// Remove dangling images (every unused image with `all`).
    pub fn prune(&self, all: bool, in_use: impl FnOnce() -> Result<HashSet<Digest>>) -> Result<PruneReport> {
        self.prune_matching(|_, names| all || names.is_empty(), in_use)
    }

    /// Remove every image no container uses for which `victim(id, names)`
    /// holds (`image prune` leaves the build cache's untagged images to
    /// `builder prune`, as docker does).
    pub fn prune_matching(
        &self,
        victim: impl Fn(&Digest, &[String]) -> bool,
        in_use: impl FnOnce() -> Result<HashSet<Digest>>,
    ) -> Result<PruneReport> {
        let _lock = self.lock_exclusive()?;
        let mut index = self.read_index()?;
        let images = self.images(&index)?;
        let used = in_use()?;
        let (victims, survivors): (Vec<_>, Vec<_>) = images.into_iter().partition(|i| !used.contains(&i.id) && victim(&i.id, &i.names));
        let mut report = PruneReport::default();
        if victims.is_empty() {
            return Ok(report);
        }
        for v in &victims {
            for m in &v.manifests {
                index.remove_manifest(&m.digest);
            }
        }
        self.write_index_to_free(&index)?;
        for (k, v) in victims.iter().enumerate() {
            report.untagged.extend(v.names.iter().cloned());
            report.deleted.push(v.id.clone());
            let (chains, bytes) = self.collect_garbage(v, survivors.iter().chain(&victims[k + 1..]));
            report.deleted.extend(chains);
            report.reclaimed += bytes;
        }
        self.replenish();
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::testtar::TarBuf;
    use crate::image::{import, ImportOptions};
    use crate::paths::Paths;

    #[test]
    fn prunes_dangling_then_unused_and_keeps_used() {
        let t = tempfile::tempdir().unwrap();
        let s = Store::open(&Paths { root: t.path().join("r"), runtime: t.path().join("x") }).unwrap();
        let tar = |f: &str| TarBuf::new().file(f, b"data").finish();
        let opts = ImportOptions::default();
        let a = import(&s, &tar("a")[..], Some("a"), &opts).unwrap().id;
        let b = import(&s, &tar("b")[..], None, &opts).unwrap().id;
        let c = import(&s, &tar("c")[..], Some("c"), &opts).unwrap().id;
        let r = s.prune(false, || Ok(HashSet::new())).unwrap();
        assert_eq!(r.deleted.first(), Some(&b));
        assert!(r.reclaimed > 0);
        let r = s.prune(true, || Ok(HashSet::from([c.clone()]))).unwrap();
        assert_eq!(r.untagged, ["docker.io/library/a:latest"]);
        assert_eq!(r.deleted.first(), Some(&a));
        let left: Vec<Digest> = s.list().unwrap().into_iter().map(|i| i.id).collect();
        assert_eq!(left, [c]);
        assert!(s.fsck().unwrap().is_empty());
        assert_eq!(s.prune(true, || Ok(HashSet::new())).unwrap().deleted.len(), 2);
        assert!(s.list().unwrap().is_empty());
    }
}
