//! `container prune` and the container side of `system df`: what stopped
//! containers hold, and removing them.
//!
//! A container's size is what it added to the store: its writable layer
//! and its own files (log, generated /etc files), counted once per inode
//! so hardlinks do not double. Pruning takes the store lock (so no
//! container is being created meanwhile) and each container's lifecycle
//! lock if it is free (so none is being started; a busy one is skipped),
//! and skips any whose supervisor is alive.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::record::{self, ContainerId};
use super::{state, Result};
use crate::lock::StoreLock;
use crate::paths::Paths;

/// Bytes of regular files under `path`, each inode once.
pub fn tree_size(path: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
        let Ok(m) = std::fs::symlink_metadata(p) else { return 0 };
        if m.is_file() {
            return if seen.insert((m.dev(), m.ino())) { m.len() } else { 0 };
        }
        if !m.is_dir() {
            return 0;
        }
        let Ok(rd) = std::fs::read_dir(p) else { return 0 };
        rd.flatten().map(|e| walk(&e.path(), seen)).sum()
    }
    walk(path, &mut HashSet::new())
}

/// The size a container adds to the store (everything in its directory:
/// the mount point is empty when it is not running).
pub fn size(paths: &Paths, r: &record::Record) -> u64 {
    tree_size(&r.dir(paths))
}

/// What `prune` removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub deleted: Vec<ContainerId>,
    pub reclaimed: u64,
}

/// Remove every container that is not running. Call inside burrow's
/// user namespace (their files belong to container ids).
pub fn prune(paths: &Paths) -> Result<PruneReport> {
    let _lock = StoreLock::exclusive(&paths.lock_file())?;
    record::reconcile(paths)?;
    let mut report = PruneReport::default();
    for r in record::list(paths)? {
        let dir = r.dir(paths);
        // A container another command is working on is left alone (and
        // never waited for: `rm` takes its lifecycle lock before this lock).
        let Some(_life) = state::try_lifecycle(&dir)? else { continue };
        // Running, or about to be started by the `run` that made it.
        if r.monitor_alive(paths) || state::creator_alive(&dir) {
            continue;
        }
        let bytes = size(paths, &r);
        record::remove_files(paths, &dir)?;
        report.reclaimed += bytes;
        report.deleted.push(r.id);
    }
    Ok(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_count_hardlinks_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/a"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(t.path().join("d/a"), t.path().join("b")).unwrap();
        std::fs::write(t.path().join("c"), b"xyz").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("s")).unwrap();
        assert_eq!(tree_size(t.path()), 1003);
        assert_eq!(tree_size(&t.path().join("missing")), 0);
    }
}
