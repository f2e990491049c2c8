//! Removing a container: the one way, for `rm`, `run --rm`, `container
//! prune`, `reconcile` (a `--rm` container whose supervisor or creator is
//! gone), an undone create and a build's RUN steps.
//!
//! The locks are taken in the one order `container::lifecycle` states.
//!
//! Removal proper ([`remove_locked`]) needs the store lock, which it takes
//! as an argument, so that calling it without the lock does not compile:
//! the container must not be running; its directory is moved into `tmp/`
//! in one rename (it leaves every listing at once, and a removal cut short
//! leaves a leftover that `system prune` clears, never a half-container);
//! with `volumes`, its anonymous volumes that no other container mounts
//! are removed. The moved tree is deleted by [`Staged::finish`], after the
//! caller released the store lock, so concurrent `--rm` runs do not wait
//! for each other's deletions. `rm` is two phases because of namespaces:
//! [`claim`] (and the kill of `-f`) runs in the caller's own namespace,
//! which may signal the container; [`remove`] inside burrow's, which may
//! delete its files (`userns::InUserns`).

use std::path::{Path, PathBuf};

use super::record::{self, Record};
use super::{lifecycle, state, Error, Result};
use crate::lock::StoreLock;
use crate::paths::Paths;
use crate::userns::InUserns;

/// A container moved out of `containers/`, its tree still to delete.
#[must_use = "the moved tree stays in tmp/ until finish() deletes it"]
#[derive(Debug)]
pub struct Staged {
    tree: Option<PathBuf>,
}

impl Staged {
    /// Delete the moved tree (after the store lock is released); a
    /// failure is logged and left to `system prune`, which clears `tmp/`.
    pub fn finish(self) {
        if let Some(tree) = self.tree {
            if let Err(e) = crate::rmtree::remove_tree(&tree) {
                tracing::warn!(%e, path = %tree.display(), "could not delete a removed container's files; system prune clears them");
            }
        }
    }
}

/// Remove container `r`, which must not be running: its directory leaves
/// `containers/` at once, and with `volumes` its anonymous volumes that no
/// other container mounts go too. Holding `_store` proves the store lock.
pub fn remove_locked(paths: &Paths, r: &Record, volumes: bool, _store: &StoreLock) -> Result<Staged> {
    if r.monitor_alive(paths) {
        return Err(Error::Running { name: r.name.clone() });
    }
    let staged = stage(paths, &r.dir(paths))?;
    if let Some(Err(e)) = crate::limits::Cgroup::open(r.id.as_str()).ok().map(|cg| cg.remove()) {
        tracing::debug!(%e, "could not remove the container's cgroup");
    }
    if volumes {
        crate::volume::attach::remove_anonymous(paths, &r.mounts, &record::mounters(paths)?)?;
    }
    Ok(staged)
}

/// Move a container directory (with or without a readable record) into
/// `tmp/` in one rename; where the move cannot be made it is deleted in
/// place at once.
pub(super) fn stage(paths: &Paths, dir: &Path) -> Result<Staged> {
    let name = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let _ = std::fs::create_dir_all(paths.tmp());
    let moved = crate::image::tmp::temp_path(&paths.tmp(), &format!("rm-container-{}", &name[..name.len().min(12)]));
    match std::fs::rename(dir, &moved) {
        Ok(()) => Ok(Staged { tree: Some(moved) }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Staged { tree: None }),
        Err(_) => {
            crate::rmtree::remove_tree(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
            Ok(Staged { tree: None })
        }
    }
}

/// The proof that this process is inside burrow's user namespace, for
/// code that runs there by construction (a `run`, a monitor, a build
/// step) and so has no `InUserns` handed down.
pub fn in_userns() -> Result<InUserns> {
    InUserns::here().ok_or(Error::NotInUserns)
}

/// Remove container `r` under the store lock, taken and released here,
/// then delete its files: `run --rm`, a build step, an undone create.
/// Call inside burrow's user namespace.
pub fn remove_now(paths: &Paths, r: &Record, volumes: bool, _ns: &InUserns) -> Result<()> {
    let staged = {
        let store = StoreLock::exclusive(&paths.lock_file())?;
        remove_locked(paths, r, volumes, &store)?
    };
    staged.finish();
    Ok(())
}

/// A container `rm` holds: its lifecycle lock, from the kill (with `-f`)
/// to the removal, so a `start` at the same moment runs before or after,
/// never in between.
#[derive(Debug)]
pub struct Claimed {
    key: String,
    dir: PathBuf,
    /// Its record does not load (`record::Broken`).
    broken: bool,
    _life: state::Held,
}

impl Claimed {
    /// Wait until its supervisor is gone (after a kill).
    pub fn wait(&self) {
        state::wait_monitor_gone(&self.dir, None);
    }
}

/// Phase one of `rm`, from the caller's own namespace: take container
/// `key`'s lifecycle lock and, with `force`, kill it (wait with
/// [`Claimed::wait`], after killing all of them, so teardowns overlap).
/// A running container without `force` is refused. A container whose
/// record does not load is claimed by its id (or a unique prefix).
pub fn claim(paths: &Paths, key: &str, force: bool) -> Result<Claimed> {
    let r = match record::find(paths, key) {
        Err(Error::NoSuchContainer { .. }) => {
            let b = record::find_broken(paths, key).ok_or_else(|| Error::NoSuchContainer { key: key.to_string() })?;
            let dir = paths.containers().join(&b.id);
            let life = state::lifecycle(&dir)?;
            return Ok(Claimed { key: key.to_string(), dir, broken: true, _life: life });
        }
        r => r?,
    };
    let dir = r.dir(paths);
    let life = state::lifecycle(&dir)?;
    if r.monitor_alive(paths) {
        if !force {
            return Err(Error::Running { name: r.name });
        }
        lifecycle::kill_locked(paths, &r)?;
    }
    Ok(Claimed { key: key.to_string(), dir, broken: false, _life: life })
}

/// Phase two of `rm`, inside burrow's namespace: remove the claimed
/// container (with `volumes`, its anonymous volumes). A container another
/// command removed meanwhile is "no such container". A broken one goes
/// with its directory (its volumes cannot be known).
pub fn remove(paths: &Paths, claimed: Claimed, volumes: bool, _ns: &InUserns) -> Result<()> {
    let staged = {
        let store = StoreLock::exclusive(&paths.lock_file())?;
        record::reconcile(paths, &store)?;
        if claimed.broken {
            if !claimed.dir.exists() || record::broken(paths).iter().all(|b| paths.containers().join(&b.id) != claimed.dir) {
                return Err(Error::NoSuchContainer { key: claimed.key.clone() });
            }
            stage(paths, &claimed.dir)?
        } else {
            // Found by its directory, not by the key: a name given to another
            // container meanwhile must not make this remove that one.
            let r = record::list(paths)?
                .into_iter()
                .find(|r| r.dir(paths) == claimed.dir)
                .ok_or_else(|| Error::NoSuchContainer { key: claimed.key.clone() })?;
            remove_locked(paths, &r, volumes, &store)?
        }
    };
    staged.finish();
    Ok(())
}
