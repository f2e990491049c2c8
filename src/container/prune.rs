//! `container prune` and the container side of `system df`: what stopped
//! containers hold, and removing them.
//!
//! A container's size is what it added to the store: its writable layer
//! and its own files (log, generated /etc files), counted once per inode
//! so hardlinks do not double. Pruning takes the store lock (so no
//! container is being created meanwhile) and each container's lifecycle
//! lock if it is free (so none is being started; a busy one is skipped),
//! and skips any whose supervisor is alive.

use super::record::{self, ContainerId};
use super::{state, Result};
use crate::lock::StoreLock;
use crate::paths::Paths;

/// The size a container adds to the store (everything in its directory:
/// the mount point is empty when it is not running).
pub fn size(paths: &Paths, r: &record::Record) -> u64 {
    crate::du::tree_size(&r.dir(paths))
}

/// What `prune` removed.
#[derive(Debug, Default)]
pub struct PruneReport {
    pub deleted: Vec<ContainerId>,
    pub reclaimed: u64,
}

/// Remove every container that is not running. Call inside burrow's
/// user namespace (their files belong to container ids).
pub(crate) fn prune(paths: &Paths) -> Result<PruneReport> {
    let store = StoreLock::exclusive(&paths.lock_file())?;
    record::reconcile(paths, &store)?;
    let mut staged = Vec::new();
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
        staged.push(super::remove::remove_locked(paths, &r, false, &store)?);
        report.reclaimed += bytes;
        report.deleted.push(r.id);
    }
    drop(store);
    staged.into_iter().for_each(super::remove::Staged::finish);
    Ok(report)
}
