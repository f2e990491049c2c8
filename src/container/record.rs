//! Container records: what `ps`, `inspect` and `rm` read.
//!
//! Each container has a directory `containers/<id>/` holding
//! `container.json` (its configuration, rewritten through `atomic::write`
//! when it is created or renamed), `live.bin` (status, pid, exit code and
//! the other fields that change with every start and exit, rewritten in
//! place so an exit is recorded even on a full disk: see `live`), its
//! root filesystem and the files burrow generates for it (`hosts`,
//! `hostname`, `resolv.conf`). A `Record` is both files merged: the live
//! file's fields win over the copies `container.json` was last written
//! with. Names are unique; ids are 64 hex digits and may be abbreviated to
//! any unique prefix, as docker allows.

use std::fs;
use std::path::{Path, PathBuf};

use super::live::{self, Live};
use super::{Error, Result};
use crate::paths::Paths;

pub use crate::model::ContainerId;

impl Record {
    pub fn dir(&self, paths: &Paths) -> PathBuf {
        paths.containers().join(self.id.as_str())
    }

    /// Write the whole record: `container.json` atomically, then its
    /// live fields into `live.bin` (created if missing).
    pub fn save(&self, paths: &Paths) -> Result<()> {
        let dir = self.dir(paths);
        let file = dir.join("container.json");
        let data = serde_json::to_vec_pretty(self).map_err(|e| Error::Corrupt { path: file.clone(), reason: e.to_string() })?;
        crate::atomic::write(&file, &data).map_err(|source| Error::Io { path: file, source })?;
        self.save_live(&dir)
    }

    /// Write only the live fields, in place (see `live`).
    fn save_live(&self, dir: &Path) -> Result<()> {
        let live = self.live();
        match live::update(dir, &live) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => live::create(dir, &live),
            r => r,
        }
        .map_err(|source| Error::Io { path: live::path(dir), source })
    }

    /// Change the stored record under its lock: `change` sees the record
    /// as it is on disk now, so concurrent writers keep each other's
    /// fields. A change of live fields only is written in place, needing
    /// no new space; anything else rewrites `container.json` too. Returns
    /// the record as saved.
    pub fn update(&self, paths: &Paths, change: impl FnOnce(&mut Record)) -> Result<Record> {
        let dir = self.dir(paths);
        let _lock = super::state::record_lock(&dir)?;
        let mut current = Record::load(&dir)?;
        let mut before = current.clone();
        change(&mut current);
        before.set_live(current.live());
        let only_live = serde_json::to_value(&before).ok() == serde_json::to_value(&current).ok();
        match only_live {
            true if live::path(&dir).exists() => current.save_live(&dir)?,
            _ => current.save(paths)?,
        }
        Ok(current)
    }

    /// The fields `live.bin` keeps.
    fn live(&self) -> Live {
        Live {
            status: self.status,
            pid: self.pid,
            pid_start: self.pid_start,
            exit_code: self.exit_code,
            started_at: self.started_at,
            finished_at: self.finished_at,
            restart_count: self.restart_count,
            error: self.error.clone(),
            oom_killed: self.oom_killed,
        }
    }

    fn set_live(&mut self, l: Live) {
        self.status = l.status;
        self.pid = l.pid;
        self.pid_start = l.pid_start;
        self.exit_code = l.exit_code;
        self.started_at = l.started_at;
        self.finished_at = l.finished_at;
        self.restart_count = l.restart_count;
        self.error = l.error;
        self.oom_killed = l.oom_killed;
    }

    /// Whether a supervisor holds the container (see `state`).
    pub fn monitor_alive(&self, paths: &Paths) -> bool {
        super::state::monitor_alive(&self.dir(paths))
    }

    pub(super) fn load(dir: &Path) -> Result<Record> {
        let path = dir.join("container.json");
        let data = fs::read(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
        let mut r: Record = serde_json::from_slice(&data).map_err(|e| Error::Corrupt { path, reason: e.to_string() })?;
        if let Some(l) = live::read(dir) {
            r.set_live(l);
        }
        Ok(r)
    }
}

/// A container directory whose record does not load (truncated to
/// nothing, garbage): `ps -a` lists it with the path and the reason, and
/// `rm` removes it, so a damaged record never wedges the store.
#[derive(Debug, Clone)]
pub struct Broken {
    /// The directory's name: the container's id.
    pub id: String,
    /// The record that does not load.
    pub path: PathBuf,
    pub reason: String,
}

/// Every container directory whose record exists but does not load.
pub fn broken(paths: &Paths) -> Vec<Broken> {
    let Ok(entries) = fs::read_dir(paths.containers()) else { return Vec::new() };
    let mut out: Vec<Broken> = entries
        .flatten()
        .filter(|e| e.path().join("container.json").exists())
        .filter_map(|e| match Record::load(&e.path()) {
            Ok(_) => None,
            Err(err) => Some(Broken {
                id: e.file_name().to_string_lossy().into_owned(),
                path: e.path().join("container.json"),
                // The path is a field of its own: keep only why.
                reason: match err {
                    Error::Corrupt { reason, .. } => reason,
                    other => other.to_string(),
                },
            }),
        })
        .collect();
    out.sort_by(|a, b| a.id.cmp(&b.id));
    out
}

/// The broken container `key` names (its full id or a unique prefix).
pub fn find_broken(paths: &Paths, key: &str) -> Option<Broken> {
    let mut found = broken(paths).into_iter().filter(|b| !key.is_empty() && b.id.starts_with(key));
    let one = found.next()?;
    found.next().is_none().then_some(one)
}

/// Every container record, oldest first. Directories without a readable
/// record (a create killed half-way) are skipped with a debug log.
pub fn list(paths: &Paths) -> Result<Vec<Record>> {
    let dir = paths.containers();
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        match Record::load(&e.path()) {
            Ok(r) => out.push(r),
            Err(err) => tracing::debug!(%err, "skipping container directory"),
        }
    }
    out.sort_by_key(|r| r.created);
    Ok(out)
}

pub use crate::model::procfs::process_start;
pub use crate::model::record::{Record, Status};

/// Whether the process recorded for `r` still runs.
pub fn is_alive(r: &Record) -> bool {
    match (r.pid, r.pid_start) {
        (Some(pid), Some(start)) => process_start(pid) == Some(start),
        (Some(pid), None) => process_start(pid).is_some(),
        _ => false,
    }
}

/// Make the records tell the truth after a supervisor was killed: a
/// container recorded as running (or restarting) whose supervisor is gone
/// is marked exited (137, as if killed), and removed when it was started
/// with `--rm`. The kernel already took its mounts and processes with its
/// namespaces (the container's first process dies with its supervisor);
/// a process that somehow survived is killed. A `--rm` container that its
/// `run` abandoned before it ran or before it was removed (see `state`)
/// is removed, and so is a directory a killed create left without a
/// record. Holding `store` proves the store lock.
pub fn reconcile(paths: &Paths, store: &crate::lock::StoreLock) -> Result<()> {
    remove_half_created(paths)?;
    for r in list(paths)? {
        if r.monitor_alive(paths) {
            continue;
        }
        if !matches!(r.status, Status::Running | Status::Restarting) {
            if r.auto_remove && super::state::creator_gone(&r.dir(paths)) {
                tracing::info!(id = %r.id.short(), "the run that made this --rm container is gone; removing it");
                remove_auto(paths, &r, store)?;
            }
            continue;
        }
        tracing::info!(id = %r.id.short(), "container's supervisor is gone; marking it exited");
        if is_alive(&r) {
            if let Some(pid) = r.pid {
                let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL);
            }
        }
        if r.auto_remove {
            // (removal takes the cgroup too)
            remove_auto(paths, &r, store)?;
            continue;
        }
        // Its processes died with it; a cgroup it left behind goes too.
        if let Some(Err(e)) = crate::limits::Cgroup::open(r.id.as_str()).ok().map(|cg| cg.remove()) {
            tracing::warn!(%e, "could not remove the container's cgroup");
        }
        r.update(paths, |r| {
            if matches!(r.status, Status::Running | Status::Restarting) {
                r.status = Status::Exited;
                r.exit_code = Some(137);
                r.finished_at = Some(crate::model::Timestamp::now());
            }
        })?;
    }
    Ok(())
}

/// Remove the directories of creates killed before they wrote the
/// record. A create makes the directory and writes the record under the
/// store lock, which the caller holds: a directory without a record is no
/// create in progress.
fn remove_half_created(paths: &Paths) -> Result<()> {
    let Ok(entries) = fs::read_dir(paths.containers()) else { return Ok(()) };
    for e in entries.flatten() {
        let dir = e.path();
        if dir.is_dir() && !dir.join("container.json").exists() && !super::state::creator_alive(&dir) {
            tracing::info!(dir = %dir.display(), "removing a container directory a killed create left without a record");
            super::remove::stage(paths, &dir)?.finish();
        }
    }
    Ok(())
}

/// Remove a `--rm` container nobody looks after, with its anonymous volumes.
fn remove_auto(paths: &Paths, r: &Record, store: &crate::lock::StoreLock) -> Result<()> {
    super::remove::remove_locked(paths, r, true, store)?.finish();
    Ok(())
}

/// The status to show: a record saying running whose supervisor is gone
/// is shown exited (137) even before a writing command reconciles it.
pub fn observed(paths: &Paths, mut r: Record) -> Record {
    if matches!(r.status, Status::Running | Status::Restarting) && !r.monitor_alive(paths) {
        r.status = Status::Exited;
        r.exit_code = Some(137);
    }
    r
}

/// Every container and the mounts its record keeps: how the volume code
/// learns who uses a volume (`volume::attach::users`).
pub fn mounters(paths: &Paths) -> Result<Vec<crate::volume::Mounter>> {
    Ok(list(paths)?.into_iter().map(|r| crate::volume::Mounter { container: r.id.short().to_string(), mounts: r.mounts }).collect())
}

/// Every container on a user-defined network, as (container name, network
/// name) pairs, from the records' endpoints: for `network rm` and
/// `network prune`, which refuse a network in use.
pub fn network_users(paths: &Paths) -> Result<Vec<(String, String)>> {
    Ok(list(paths)?.into_iter().flat_map(|r| r.endpoints.into_iter().map(move |e| (r.name.clone(), e.network))).collect())
}

/// The mounts of the `--volumes-from` containers, in order (for
/// `volume::host::check_all`, which checks their binds as the user).
pub fn mounts_from(paths: &Paths, from: &[crate::volume::VolumesFrom]) -> Result<Vec<crate::volume::MountPoint>> {
    let mut out = Vec::new();
    for f in from {
        out.extend(find(paths, &f.container)?.mounts);
    }
    Ok(out)
}

/// Every container with the image it uses, for `rmi` and `image prune`
/// (a record whose image id does not parse does not load: it is listed as
/// broken). Takes no lock: the store's callers hold it.
pub fn image_users(paths: &Paths) -> Result<Vec<crate::image::ImageUser>> {
    let all = list(paths)?;
    Ok(all
        .into_iter()
        .map(|r| {
            let running = matches!(r.status, Status::Running | Status::Restarting) && r.monitor_alive(paths);
            crate::image::ImageUser { image_id: r.image_id.clone(), container: r.id.short().to_string(), running }
        })
        .collect())
}

/// Find a container by name, full id or unique id prefix.
pub fn find(paths: &Paths, key: &str) -> Result<Record> {
    let all = list(paths)?;
    if let Some(r) = all.iter().find(|r| r.name == key || r.id.as_str() == key) {
        return Ok(r.clone());
    }
    let matches: Vec<_> = all.iter().filter(|r| !key.is_empty() && r.id.as_str().starts_with(key)).collect();
    match matches.as_slice() {
        [one] => Ok((*one).clone()),
        [] => Err(Error::NoSuchContainer { key: key.into() }),
        _ => Err(Error::Ambiguous { key: key.into() }),
    }
}

const ADJECTIVES: &[&str] = &[
    "brave", "calm", "eager", "fancy", "gentle", "happy", "jolly", "keen", "lucid", "merry", "nimble", "quiet", "rapid", "sharp", "tender",
    "vivid", "witty", "zen",
];
const NOUNS: &[&str] = &[
    "badger", "otter", "mole", "rabbit", "fox", "hedgehog", "vole", "marmot", "wombat", "meerkat", "ferret", "gopher", "shrew", "weasel",
    "squirrel", "chipmunk",
];

/// A docker-style random name not used by any container.
pub fn fresh_name(paths: &Paths) -> Result<String> {
    let taken: Vec<String> = list(paths)?.into_iter().map(|r| r.name).collect();
    let mut b = [0u8; 4];
    for attempt in 0u32.. {
        let _ = getrandom::getrandom(&mut b);
        let mut name = format!("{}_{}", ADJECTIVES[b[0] as usize % ADJECTIVES.len()], NOUNS[b[1] as usize % NOUNS.len()]);
        if attempt > 8 {
            name.push_str(&format!("{}", u16::from_le_bytes([b[2], b[3]])));
        }
        if !taken.contains(&name) {
            return Ok(name);
        }
    }
    unreachable!("the name loop only ends by returning")
}

/// docker's container name rule (shared with networks: `model::name`).
pub use crate::model::name::valid_name;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(valid_name("web-1.a_b"));
        assert!(!valid_name("-web"));
        assert!(!valid_name(""));
        assert!(!valid_name("a/b"));
    }

    #[test]
    fn ids_are_hex() {
        let id = ContainerId::random();
        assert_eq!(id.as_str().len(), 64);
        assert!(id.as_str().chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(id.short().len(), 12);
    }

    /// A created busybox container named `name`.
    fn sample(name: &str) -> Record {
        Record::created(
            ContainerId::random(),
            name.into(),
            "busybox".into(),
            crate::model::Digest::of_bytes(b"image"),
            vec!["true".into()],
            false,
        )
    }

    #[test]
    fn save_list_find() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(t.path()));
        let r = sample("web");
        fs::create_dir_all(r.dir(&paths)).unwrap();
        r.save(&paths).unwrap();
        assert_eq!(find(&paths, "web").unwrap().id, r.id);
        assert_eq!(find(&paths, &r.id.as_str()[..5]).unwrap().name, "web");
        assert!(matches!(find(&paths, "nope"), Err(Error::NoSuchContainer { .. })));
        assert_ne!(fresh_name(&paths).unwrap(), "web");
    }

    #[test]
    fn live_changes_leave_container_json_alone() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(t.path()));
        let r = sample("web");
        fs::create_dir_all(r.dir(&paths)).unwrap();
        r.save(&paths).unwrap();
        let json = fs::read(r.dir(&paths).join("container.json")).unwrap();
        r.update(&paths, |r| {
            r.status = Status::Exited;
            r.exit_code = Some(4);
        })
        .unwrap();
        assert_eq!(fs::read(r.dir(&paths).join("container.json")).unwrap(), json, "rewritten in place, in live.bin only");
        let back = find(&paths, "web").unwrap();
        assert_eq!((back.status, back.exit_code), (Status::Exited, Some(4)));
        let renamed = r.update(&paths, |r| r.name = "db".into()).unwrap();
        assert_eq!(renamed.exit_code, Some(4));
        assert_eq!(find(&paths, "db").unwrap().exit_code, Some(4));
    }

    #[test]
    fn a_record_without_live_file_is_read_from_container_json() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(t.path()));
        let mut r = sample("old");
        r.exit_code = Some(3);
        fs::create_dir_all(r.dir(&paths)).unwrap();
        r.save(&paths).unwrap();
        fs::remove_file(live::path(&r.dir(&paths))).unwrap();
        assert_eq!(find(&paths, "old").unwrap().exit_code, Some(3));
        r.update(&paths, |r| r.exit_code = Some(5)).unwrap();
        assert_eq!(find(&paths, "old").unwrap().exit_code, Some(5));
        assert!(live::path(&r.dir(&paths)).exists());
    }
}
