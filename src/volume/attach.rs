//! Turning planned mounts into volumes on disk, the container record's
//! mount points and the mounts its first process makes.
//!
//! `prepare` runs under the store lock while `run` creates the container's
//! record, after the bind sources were checked by `host::check` as the
//! calling user: it refuses an unchecked bind before it creates anything,
//! then creates the named and anonymous volumes that do not exist yet and
//! fills each empty one from the image (unless `nocopy`). `users` answers
//! which containers use a volume (for `volume rm` and `prune`), and
//! `remove_anonymous` is `rm -v` / `run --rm`. Who mounts what comes in
//! as a list of [`Mounter`]s the container engine reads from its records
//! (`container::record::mounters`): the volume code never reads them.

use std::collections::BTreeMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::host::CheckedBind;
use super::spec::{MountKind, MountRequest};
use super::{fill, io, store, Error, Result};
pub use crate::model::volume::{MountPoint, MountType};
use crate::model::{UserMount, UserMountKind};
use crate::paths::Paths;

/// What `prepare` made.
#[derive(Debug, Default)]
pub struct Prepared {
    pub points: Vec<MountPoint>,
    pub mounts: Vec<UserMount>,
}

/// Create and fill volumes for `planned`; `image_layers` are the image's
/// unpacked layers, topmost first. Call with the store lock held, inside
/// burrow's user namespace.
pub fn prepare(paths: &Paths, planned: &[MountRequest], checked: &[CheckedBind], image_layers: &[PathBuf]) -> Result<Prepared> {
    let find_checked = |p: &std::path::Path| checked.iter().find(|c| c.path == p).cloned();
    for m in planned {
        if let MountKind::Bind { source, .. } = &m.kind {
            find_checked(source).ok_or_else(|| Error::Unchecked { path: source.clone() })?;
        }
        if let MountKind::Volume { name: Some(name), .. } = &m.kind {
            if !super::spec::valid_volume_name(name) {
                return Err(Error::InvalidName { name: name.clone() });
            }
        }
    }
    let mut out = Prepared::default();
    for m in planned {
        let mode = if m.read_only { "ro" } else { "rw" };
        match &m.kind {
            MountKind::Volume { name, nocopy, labels } => {
                let (name, anonymous) = match name {
                    Some(n) => (n.clone(), false),
                    None => (store::anonymous_name(), true),
                };
                let labels: BTreeMap<String, String> = labels.iter().cloned().collect();
                let (vol, _) = store::create(paths, &name, labels, anonymous)?;
                let data = vol.mountpoint.clone();
                let empty = std::fs::read_dir(&data).map_err(io(&data))?.next().is_none();
                if !nocopy && empty {
                    fill::fill(image_layers, &m.target, &data)?;
                }
                let meta = std::fs::metadata(&data).map_err(io(&data))?;
                out.mounts.push(UserMount {
                    target: m.target.clone(),
                    kind: UserMountKind::Bind { source: data.clone(), dev: meta.dev(), ino: meta.ino(), is_dir: true },
                    read_only: m.read_only,
                });
                out.points.push(MountPoint {
                    kind: MountType::Volume,
                    name: Some(name),
                    source: data.display().to_string(),
                    destination: m.target.clone(),
                    driver: Some("local".into()),
                    mode: if *nocopy { format!("{mode},nocopy") } else { mode.into() },
                    rw: !m.read_only,
                    propagation: String::new(),
                });
            }
            MountKind::Bind { source, .. } => {
                let c = find_checked(source).ok_or_else(|| Error::Unchecked { path: source.clone() })?;
                out.mounts.push(UserMount {
                    target: m.target.clone(),
                    kind: UserMountKind::Bind { source: c.path.clone(), dev: c.dev, ino: c.ino, is_dir: c.is_dir },
                    read_only: m.read_only,
                });
                out.points.push(MountPoint {
                    kind: MountType::Bind,
                    name: None,
                    source: source.display().to_string(),
                    destination: m.target.clone(),
                    driver: None,
                    mode: mode.into(),
                    rw: !m.read_only,
                    propagation: "rprivate".into(),
                });
            }
            MountKind::Tmpfs(o) => {
                out.mounts.push(UserMount {
                    target: m.target.clone(),
                    kind: UserMountKind::Tmpfs { data: o.data(), noexec: o.noexec },
                    read_only: m.read_only,
                });
                out.points.push(MountPoint {
                    kind: MountType::Tmpfs,
                    name: None,
                    source: String::new(),
                    destination: m.target.clone(),
                    driver: None,
                    mode: o.data(),
                    rw: !m.read_only,
                    propagation: String::new(),
                });
            }
        }
    }
    Ok(out)
}

/// One container and the mounts its record keeps.
#[derive(Debug, Clone)]
pub struct Mounter {
    /// The container's short id, as messages name it.
    pub container: String,
    pub mounts: Vec<MountPoint>,
}

/// The containers (short ids) among `mounters` that mount volume `name`.
pub fn users(mounters: &[Mounter], name: &str) -> Vec<String> {
    mounters
        .iter()
        .filter(|c| c.mounts.iter().any(|m| m.kind == MountType::Volume && m.name.as_deref() == Some(name)))
        .map(|c| c.container.clone())
        .collect()
}

/// Remove the anonymous volumes among `points` that no container uses
/// any more (`rm -v`, `run --rm`). Call with the store lock held, inside
/// burrow's user namespace, after the container's record is gone, with
/// the mounters left.
pub fn remove_anonymous(paths: &Paths, points: &[MountPoint], mounters: &[Mounter]) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for p in points.iter().filter(|p| p.kind == MountType::Volume) {
        let Some(name) = &p.name else { continue };
        let Ok(v) = store::get(paths, name) else { continue };
        if v.meta.anonymous && users(mounters, name).is_empty() {
            store::remove(paths, name)?;
            removed.push(name.clone());
        }
    }
    Ok(removed)
}

/// Remove the volumes no container uses: anonymous ones, or all with
/// `all`; their names and the bytes freed (with what interrupted creates
/// and removals left, `store::remove_half_made`). Call with the store
/// lock held, inside burrow's user namespace.
pub fn prune(paths: &Paths, all: bool, mounters: &[Mounter]) -> Result<(Vec<String>, u64)> {
    let mut deleted = Vec::new();
    let mut reclaimed = store::remove_half_made(paths)?;
    for v in store::list(paths)? {
        if (!all && !v.meta.anonymous) || !users(mounters, &v.name).is_empty() {
            continue;
        }
        reclaimed += crate::du::tree_size(&v.mountpoint);
        store::remove(paths, &v.name)?;
        deleted.push(v.name);
    }
    Ok((deleted, reclaimed))
}
