//! The volume store: `volumes/<name>/_data` and `volumes/<name>/volume.json`.
//!
//! A volume is a directory; its metadata (creation time, labels, whether
//! it is anonymous) is written with `atomic::write` (temp, fsync, rename), after
//! `_data` exists, so a volume without `volume.json` is one whose creation
//! was interrupted: it is not listed, is finished or replaced by the next
//! create of its name, and is removed by `volume prune` and `system prune
//! --volumes` (`remove_half_made`), as is what an interrupted removal
//! (metadata first) leaves. Callers hold the store lock for create and remove (`attach` and
//! the CLI do). Volume files belong to container ids, so removal needs
//! burrow's user namespace.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{io, spec::valid_volume_name, Error, Result};
use crate::paths::Paths;

/// What `volume.json` holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Meta {
    pub created_at: String,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    #[serde(default)]
    pub anonymous: bool,
}

/// A volume as `volume inspect` shows it (docker's shape).
#[derive(Debug, Clone)]
pub struct Volume {
    pub name: String,
    pub mountpoint: PathBuf,
    pub meta: Meta,
}

impl Volume {
    pub fn to_json(&self) -> serde_json::Value {
        let mut labels = self.meta.labels.clone();
        if self.meta.anonymous {
            labels.insert("com.docker.volume.anonymous".into(), String::new());
        }
        serde_json::json!({
            "CreatedAt": self.meta.created_at,
            "Driver": "local",
            "Labels": labels,
            "Mountpoint": self.mountpoint,
            "Name": self.name,
            "Options": serde_json::Value::Null,
            "Scope": "local",
        })
    }
}

pub fn root(paths: &Paths) -> PathBuf {
    paths.root.join("volumes")
}

/// The directory a volume's content lives in.
pub fn data_dir(paths: &Paths, name: &str) -> PathBuf {
    root(paths).join(name).join("_data")
}

/// A random 64-hex name for an anonymous volume.
pub fn anonymous_name() -> String {
    crate::model::ContainerId::random().to_string()
}

/// Read one volume.
pub fn get(paths: &Paths, name: &str) -> Result<Volume> {
    if !valid_volume_name(name) {
        return Err(Error::NoSuchVolume { name: name.to_string() });
    }
    let dir = root(paths).join(name);
    let meta_path = dir.join("volume.json");
    let data = match fs::read(&meta_path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NoSuchVolume { name: name.to_string() }),
        Err(source) => return Err(Error::Io { path: meta_path, source }),
    };
    let meta = serde_json::from_slice(&data).map_err(|e| Error::Corrupt { name: name.to_string(), reason: e.to_string() })?;
    Ok(Volume { name: name.to_string(), mountpoint: dir.join("_data"), meta })
}

/// Every complete volume, sorted by name.
pub fn list(paths: &Paths) -> Result<Vec<Volume>> {
    let dir = root(paths);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match get(paths, &name) {
            Ok(v) => out.push(v),
            Err(err) => tracing::debug!(%err, name, "skipping volume directory"),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// Create a volume, or return the existing one of that name (docker's
/// `volume create` is idempotent). The bool says whether it is new. Call
/// with the store lock held.
pub fn create(paths: &Paths, name: &str, labels: BTreeMap<String, String>, anonymous: bool) -> Result<(Volume, bool)> {
    if !valid_volume_name(name) {
        return Err(Error::InvalidName { name: name.to_string() });
    }
    if let Ok(v) = get(paths, name) {
        return Ok((v, false));
    }
    let dir = root(paths).join(name);
    let data = dir.join("_data");
    match fs::create_dir_all(&data) {
        Ok(()) => {}
        Err(source) => return Err(Error::Io { path: data, source }),
    }
    let meta = Meta { created_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true), labels, anonymous };
    write_meta(&dir, &meta)?;
    Ok((Volume { name: name.to_string(), mountpoint: data, meta }, true))
}

fn write_meta(dir: &Path, meta: &Meta) -> Result<()> {
    let file = dir.join("volume.json");
    let bytes = serde_json::to_vec_pretty(meta).map_err(|e| Error::Corrupt { name: dir.display().to_string(), reason: e.to_string() })?;
    crate::atomic::write(&file, &bytes).map_err(io(&file))
}

/// Remove a volume's files: metadata first, so an interrupted removal
/// leaves a directory that is no longer a volume. Call with the store
/// lock held, inside burrow's user namespace.
pub fn remove(paths: &Paths, name: &str) -> Result<()> {
    get(paths, name)?;
    let dir = root(paths).join(name);
    let meta = dir.join("volume.json");
    fs::remove_file(&meta).map_err(io(&meta))?;
    crate::rmtree::remove_tree(&dir).map_err(|source| Error::Io { path: dir.clone(), source })
}

/// Remove the directories of creates killed before they wrote
/// `volume.json` and of removals killed after they deleted it: no volume
/// of that name exists, nothing lists them, and without this they would
/// only take space (`volume prune` and `system prune --volumes` call it).
/// Returns the bytes freed. Call with the store lock held, which every
/// create and remove holds too, so none of them is work in progress; and
/// inside burrow's user namespace.
pub fn remove_half_made(paths: &Paths) -> Result<u64> {
    let dir = root(paths);
    let Ok(entries) = fs::read_dir(&dir) else { return Ok(0) };
    let mut freed = 0;
    for e in entries.flatten() {
        let path = e.path();
        if !e.file_type().is_ok_and(|t| t.is_dir()) || path.join("volume.json").exists() {
            continue;
        }
        tracing::info!(dir = %path.display(), "removing a volume directory an interrupted create or remove left");
        freed += crate::du::tree_size(&path);
        crate::rmtree::remove_tree(&path).map_err(|source| Error::Io { path: path.clone(), source })?;
    }
    Ok(freed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_get_list_remove() {
        let t = tempfile::tempdir().unwrap();
        let paths = Paths::resolve(Some(t.path()));
        let labels = BTreeMap::from([("a".to_string(), "b".to_string())]);
        let (v, new) = create(&paths, "data", labels.clone(), false).unwrap();
        assert!(new && v.mountpoint.is_dir());
        let (again, new) = create(&paths, "data", BTreeMap::new(), false).unwrap();
        assert!(!new);
        assert_eq!(again.meta.labels, labels);
        let anon = anonymous_name();
        create(&paths, &anon, BTreeMap::new(), true).unwrap();
        // an interrupted create (no metadata) is not a volume
        fs::create_dir_all(root(&paths).join("half/_data")).unwrap();
        let names: Vec<String> = list(&paths).unwrap().into_iter().map(|v| v.name).collect();
        assert_eq!(names.len(), 2);
        assert!(names.contains(&"data".to_string()));
        let j = get(&paths, &anon).unwrap().to_json();
        assert_eq!(j["Driver"], "local");
        assert!(j["Labels"].get("com.docker.volume.anonymous").is_some());
        remove(&paths, "data").unwrap();
        assert!(matches!(get(&paths, "data"), Err(Error::NoSuchVolume { .. })));
        // the half-made one goes with the half-made cleanup, the volume stays
        remove_half_made(&paths).unwrap();
        assert!(!root(&paths).join("half").exists());
        assert!(get(&paths, &anon).is_ok());
        assert!(matches!(create(&paths, "../x", BTreeMap::new(), false), Err(Error::InvalidName { .. })));
    }
}
