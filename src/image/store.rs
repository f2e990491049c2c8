//! The image store: an OCI image layout at the storage root.
//!
//! ```text
//! oci-layout                {"imageLayoutVersion":"1.0.0"}
//! index.json                one descriptor per image name (annotation
//!                           org.opencontainers.image.ref.name = the full
//!                           normalized reference); untagged images keep
//!                           one descriptor without the annotation
//! blobs/sha256/<hex>        manifests, configs, layer tars
//! layers/<chain id hex>/    unpacked layers, the read-only overlay lowers
//! tmp/                      temp files and directories, same file system
//! reserve                   1 MiB kept free for removals on a full disk
//! ```
//!
//! Readers take the store lock shared, writers exclusive
//! (`crate::lock::StoreLock`); every file is replaced atomically, and the
//! index is always written last, so it is the commit point: a command
//! killed before it leaves only unreferenced temp files or blobs behind.
//! An image's id is its config digest; its size is the sum of its layer
//! blob sizes (for imported images, the uncompressed tars). Removal
//! follows docker: removing a name untags, removing the last name (or by
//! id) deletes the image and every blob and layer directory that no other
//! image references. Containers are not read here: `remove_checked` and
//! `prune` ask the caller which images containers use. A removal must
//! work on a full disk, yet its new `index.json` needs room for a temp
//! file: on ENOSPC it releases the reserve (`atomic::Reserve`) and writes
//! again, and the reserve is made again after the removal freed space.

use std::collections::{BTreeMap, HashSet};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use oci_spec::image::ImageConfiguration;

use super::blob::BlobWriter;
use super::digest::{chain_ids, Digest};
use super::error::{Error, Result};
use super::fsutil;
use super::layout::{Descriptor, Index, Manifest, MEDIA_INDEX, OCI_LAYOUT};
use super::reference::Reference;
use crate::lock::StoreLock;
use crate::paths::Paths;

/// A handle on the store; cheap, holds no lock.
#[derive(Debug, Clone)]
pub struct Store {
    paths: Paths,
}

/// One layer of an image, bottom first.
#[derive(Debug, Clone)]
pub struct Layer {
    pub diff_id: Digest,
    pub chain_id: Digest,
    /// The layer blob as the manifest describes it.
    pub blob: Descriptor,
    /// The unpacked layer: `layers/<chain id hex>`.
    pub dir: PathBuf,
}

/// An image in the store.
#[derive(Debug, Clone)]
pub struct Image {
    /// The config digest.
    pub id: Digest,
    /// Full normalized names (`docker.io/library/busybox:latest`); empty
    /// for an untagged image.
    pub names: Vec<String>,
    pub manifest_digest: Digest,
    pub manifest: Manifest,
    pub config: ImageConfiguration,
    /// The config blob as JSON, for `inspect`.
    pub config_json: serde_json::Value,
    pub layers: Vec<Layer>,
    pub created: Option<DateTime<Utc>>,
    pub size: u64,
    /// Every manifest in the index with this config (usually one).
    pub(crate) manifests: Vec<Descriptor>,
}

impl Image {
    /// The unpacked layer directories, the top one first (the order
    /// `image::merged::find` and the overlay read them in).
    pub fn layer_dirs_top_first(&self) -> Vec<PathBuf> {
        self.layers.iter().rev().map(|l| l.dir.clone()).collect()
    }
}

/// A row of `burrow images`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageSummary {
    pub id: Digest,
    pub names: Vec<String>,
    pub created: Option<DateTime<Utc>>,
    pub size: u64,
    pub layers: usize,
}

/// What `remove` did, in docker's words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RemoveReport {
    /// Full names removed.
    pub untagged: Vec<String>,
    /// The image id, then the chain ids of layers deleted with it.
    pub deleted: Vec<Digest>,
}

/// A container that uses an image: `rmi` and `image prune` leave the
/// image alone (the container module lists them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageUser {
    pub image_id: Digest,
    /// The container's short id.
    pub container: String,
    pub running: bool,
}

/// How a user's string matched an image.
enum Match {
    Name(String),
    Id,
}

impl Store {
    /// Open the store at `paths.root`, creating the layout if missing (the
    /// root private to this user, `private_dir::create`).
    pub fn open(paths: &Paths) -> Result<Store> {
        let store = Store { paths: paths.clone() };
        crate::private_dir::create(&paths.root)?;
        for d in [paths.blobs(), paths.layers(), paths.tmp()] {
            fs::create_dir_all(&d).map_err(Error::io("create", &d))?;
        }
        let layout = paths.root.join("oci-layout");
        let index = store.index_path();
        if !layout.exists() || !index.exists() {
            let _lock = store.lock_exclusive()?;
            if !layout.exists() {
                crate::atomic::write(&layout, OCI_LAYOUT.as_bytes()).map_err(Error::io("write", &layout))?;
            }
            if !index.exists() {
                store.write_index(&Index::default())?;
            }
        }
        store.replenish();
        Ok(store)
    }

    pub fn paths(&self) -> &Paths {
        &self.paths
    }

    pub fn lock_exclusive(&self) -> Result<StoreLock> {
        Ok(StoreLock::exclusive(&self.paths.lock_file())?)
    }

    pub fn lock_shared(&self) -> Result<StoreLock> {
        Ok(StoreLock::shared(&self.paths.lock_file())?)
    }

    fn index_path(&self) -> PathBuf {
        self.paths.root.join("index.json")
    }

    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.paths.blobs().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// The directory of an unpacked layer stack.
    pub fn layer_dir(&self, chain_id: &Digest) -> PathBuf {
        self.paths.layers().join(chain_id.hex())
    }

    /// Start writing a blob (see `BlobWriter`); commit it with the
    /// exclusive lock held.
    pub fn blob_writer(&self) -> Result<BlobWriter> {
        BlobWriter::create(&self.paths.tmp(), &self.paths.blobs())
    }

    /// Move a complete file (a finished download whose bytes were hashed
    /// as they were written, `ingest::stage_layer_file`) into `blobs/` as
    /// `digest`. Caller holds the exclusive lock.
    pub fn add_blob_file(&self, file: &Path, digest: &Digest) -> Result<()> {
        let dest = self.blob_path(digest);
        match fs::File::open(file) {
            Ok(f) => {
                let _ = f.sync_all();
            }
            // Another command finished the same download first.
            Err(e) if e.kind() == io::ErrorKind::NotFound && dest.is_file() => return Ok(()),
            Err(e) => return Err(Error::io("open", file)(e)),
        }
        fs::rename(file, &dest).map_err(Error::io("move the blob into", &dest))?;
        crate::atomic::fsync_dir(&self.paths.blobs());
        Ok(())
    }

    /// Store a small blob (config, manifest). Caller holds the exclusive lock.
    pub fn write_blob(&self, bytes: &[u8]) -> Result<Digest> {
        let mut w = self.blob_writer()?;
        io::Write::write_all(&mut w, bytes).map_err(Error::io("write a blob under", self.paths.tmp()))?;
        Ok(w.commit(None, None)?.0)
    }

    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>> {
        let p = self.blob_path(digest);
        fs::read(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => Error::MissingBlob { digest: digest.clone() },
            _ => Error::Io { op: "read", path: p, source: e },
        })
    }

    fn read_json<T: serde::de::DeserializeOwned>(&self, digest: &Digest) -> Result<T> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|source| Error::Corrupt { path: self.blob_path(digest), source })
    }

    /// Move an unpacked layer directory into `layers/<chain id hex>`
    /// unless that layer is already there (then `unpacked` is removed).
    /// Caller holds the exclusive lock.
    pub fn add_layer_dir(&self, unpacked: &Path, chain_id: &Digest) -> Result<()> {
        let dest = self.layer_dir(chain_id);
        if dest.exists() {
            return fsutil::remove_tree(unpacked).map_err(Error::io("remove", unpacked));
        }
        fsutil::rename_dir(unpacked, &dest).map_err(Error::io("move the layer into", &dest))?;
        crate::atomic::fsync_dir(&self.paths.layers());
        Ok(())
    }

    /// Point `name` (or nothing: an untagged image) at a stored manifest
    /// and commit the index. Caller holds the exclusive lock.
    pub fn set_name(&self, manifest: &Descriptor, name: Option<&Reference>) -> Result<()> {
        let mut index = self.read_index()?;
        match name {
            Some(r) => index.set_name(&r.to_string(), manifest),
            None => index.add_untagged(manifest),
        }
        self.write_index(&index)
    }

    pub(crate) fn read_index(&self) -> Result<Index> {
        let p = self.index_path();
        match fs::read(&p) {
            Ok(b) => serde_json::from_slice(&b).map_err(|source| Error::Corrupt { path: p, source }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Index::default()),
            Err(e) => Err(Error::Io { op: "read", path: p, source: e }),
        }
    }

    pub(crate) fn write_index(&self, index: &Index) -> Result<()> {
        let bytes = serde_json::to_vec(index).map_err(|source| Error::Encode { what: "index.json", source })?;
        let p = self.index_path();
        crate::atomic::write(&p, &bytes).map_err(Error::io("write", &p))
    }

    /// Write the index of a removal: on a full disk the store's reserve
    /// is released to make room (`atomic::Reserve`), so removing images
    /// always works. `replenish` makes the reserve again once the
    /// removal has freed space.
    pub(crate) fn write_index_to_free(&self, index: &Index) -> Result<()> {
        let bytes = serde_json::to_vec(index).map_err(|source| Error::Encode { what: "index.json", source })?;
        let p = self.index_path();
        self.reserve().with_room(|| crate::atomic::write(&p, &bytes)).map_err(Error::io("write", &p))
    }

    fn reserve(&self) -> crate::atomic::Reserve {
        crate::atomic::Reserve::new(self.paths.reserve(), crate::atomic::Reserve::SIZE)
    }

    /// Make the store's reserve if it is missing and there is room.
    pub(crate) fn replenish(&self) {
        self.reserve().replenish();
    }

    /// Every image, grouped by id, in index order.
    pub(super) fn images(&self, index: &Index) -> Result<Vec<Image>> {
        let mut seen = HashSet::new();
        let mut out: Vec<Image> = Vec::new();
        for d in &index.manifests {
            if !seen.insert(d.digest.clone()) {
                continue;
            }
            if d.media_type == MEDIA_INDEX {
                tracing::warn!(digest = %d.digest, "skipping a nested image index in index.json");
                continue;
            }
            add_merged(&mut out, self.load(index, d)?);
        }
        Ok(out)
    }

    fn load(&self, index: &Index, desc: &Descriptor) -> Result<Image> {
        let manifest: Manifest = self.read_json(&desc.digest)?;
        let id = manifest.config.digest.clone();
        let raw = self.read_blob(&id)?;
        let corrupt = |source| Error::Corrupt { path: self.blob_path(&id), source };
        let config_json: serde_json::Value = serde_json::from_slice(&raw).map_err(corrupt)?;
        let config = parse_config(&config_json).map_err(corrupt)?;
        let diff_ids: Vec<Digest> = config.rootfs().diff_ids().iter().map(|s| Digest::parse(s)).collect::<std::result::Result<_, _>>()?;
        let layers = diff_ids
            .iter()
            .zip(chain_ids(&diff_ids))
            .zip(manifest.layers.iter())
            .map(|((diff_id, chain_id), blob)| Layer {
                diff_id: diff_id.clone(),
                dir: self.layer_dir(&chain_id),
                chain_id,
                blob: blob.clone(),
            })
            .collect();
        let created = config.created().as_deref().and_then(|c| DateTime::parse_from_rfc3339(c).ok()).map(|t| t.with_timezone(&Utc));
        let size = manifest.layers.iter().map(|l| l.size).sum();
        Ok(Image {
            id,
            names: index.names_of(&desc.digest),
            manifest_digest: desc.digest.clone(),
            manifest,
            config,
            config_json,
            layers,
            created,
            size,
            manifests: vec![Descriptor::new(&desc.media_type, desc.digest.clone(), desc.size)],
        })
    }

    /// Every image, loaded whole, in index order.
    pub fn all(&self) -> Result<Vec<Image>> {
        let _lock = self.lock_shared()?;
        self.images(&self.read_index()?)
    }

    /// All images, newest first.
    pub fn list(&self) -> Result<Vec<ImageSummary>> {
        let mut out: Vec<ImageSummary> = self
            .all()?
            .into_iter()
            .map(|i| ImageSummary { id: i.id, names: i.names, created: i.created, size: i.size, layers: i.layers.len() })
            .collect();
        out.sort_by_key(|i| std::cmp::Reverse(i.created));
        Ok(out)
    }

    /// Find an image by name (`busybox` finds
    /// `docker.io/library/busybox:latest`), by `name@digest`, by id or by an
    /// id prefix of at least 4 hex digits.
    pub fn resolve(&self, s: &str) -> Result<Image> {
        let _lock = self.lock_shared()?;
        let index = self.read_index()?;
        if let Some(image) = self.resolve_full_id(&index, s)? {
            return Ok(image);
        }
        let images = self.images(&index)?;
        let (i, _) = find(&images, s)?;
        images.into_iter().nth(i).ok_or_else(|| Error::NotFound { name: s.to_string() })
    }

    /// A full image id (`sha256:` and 64 hex digits), found by reading
    /// only the manifests and loading just its own: what a build asks for
    /// after every step, in a store that may hold thousands of images.
    /// `None` sends the caller to [`find`]'s rules (a name equal to the
    /// text wins there, as it does here).
    fn resolve_full_id(&self, index: &Index, s: &str) -> Result<Option<Image>> {
        let Some(hex) = s.strip_prefix("sha256:") else { return Ok(None) };
        if hex.len() != 64 || !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Ok(None);
        }
        if Reference::parse(s).is_ok_and(|r| index.lookup(&r.to_string()).is_some()) {
            return Ok(None);
        }
        let id = Digest::parse(s)?;
        let mut seen = HashSet::new();
        let mut found = Vec::new();
        for d in &index.manifests {
            if d.media_type == MEDIA_INDEX || !seen.insert(d.digest.clone()) {
                continue;
            }
            let manifest: Manifest = self.read_json(&d.digest)?;
            if manifest.config.digest != id {
                continue;
            }
            add_merged(&mut found, self.load(index, d)?);
        }
        Ok(found.pop())
    }

    /// docker's `inspect` JSON for one image.
    pub fn inspect(&self, s: &str) -> Result<serde_json::Value> {
        Ok(super::inspect::render(&self.resolve(s)?))
    }

    /// Give the image `src` the name `target` (moving it from any image
    /// that had it).
    pub fn tag(&self, src: &str, target: &str) -> Result<()> {
        let r = Reference::parse(target)?;
        if r.digest().is_some() {
            return Err(Error::DigestTag { name: target.to_string() });
        }
        let _lock = self.lock_exclusive()?;
        let mut index = self.read_index()?;
        let images = self.images(&index)?;
        let (i, _) = find(&images, src)?;
        let manifest = &images[i].manifests[0];
        index.set_name(&r.to_string(), manifest);
        self.write_index(&index)
    }

    /// docker's `rmi`: untag a name, or delete an image with its
    /// unshared blobs and layers.
    pub fn remove(&self, s: &str, force: bool) -> Result<RemoveReport> {
        self.remove_checked(s, force, || Ok::<_, std::convert::Infallible>(Vec::new()))
    }

    /// `remove`, refusing to delete an image a container uses (`users`,
    /// asked under the store lock so no container appears meanwhile)
    /// unless `force`, and always when that container runs. Untagging one
    /// of several names is allowed, as in docker.
    pub fn remove_checked<E>(
        &self,
        s: &str,
        force: bool,
        users: impl FnOnce() -> std::result::Result<Vec<ImageUser>, E>,
    ) -> Result<RemoveReport>
    where
        E: std::error::Error + Send + Sync + 'static,
    {
        let _lock = self.lock_exclusive()?;
        let mut index = self.read_index()?;
        let images = self.images(&index)?;
        let (i, how) = find(&images, s)?;
        let image = &images[i];
        let mut report = RemoveReport::default();
        match how {
            Match::Name(name) if image.names.len() > 1 => {
                index.remove_name(&name);
                report.untagged.push(name);
                self.write_index_to_free(&index)?;
                return Ok(report);
            }
            Match::Id if image.names.len() > 1 && !force => {
                return Err(Error::MustForce { short: image.id.short().to_string(), count: image.names.len() });
            }
            _ => {}
        }
        let using: Vec<ImageUser> =
            users().map_err(|e| Error::Users { source: Box::new(e) })?.into_iter().filter(|u| u.image_id == image.id).collect();
        if let Some(u) = using.iter().find(|u| u.running) {
            return Err(Error::InUseRunning { image: image.id.short().to_string(), container: u.container.clone() });
        }
        if let (Some(u), false) = (using.first(), force) {
            return Err(match how {
                Match::Name(_) => {
                    Error::InUse { reference: s.to_string(), container: u.container.clone(), image: image.id.short().to_string() }
                }
                Match::Id => Error::InUseById { image: image.id.short().to_string(), container: u.container.clone() },
            });
        }
        report.untagged.extend(image.names.iter().cloned());
        for m in &image.manifests {
            index.remove_manifest(&m.digest);
        }
        self.write_index_to_free(&index)?;
        report.deleted.push(image.id.clone());
        report.deleted.extend(self.collect_garbage(image, images.iter().filter(|o| o.id != image.id)).0);
        self.replenish();
        Ok(report)
    }

    /// Delete what `gone` used and no image in `kept` uses; returns the
    /// chain ids of deleted layer directories and the bytes of deleted
    /// blobs. Failures are logged, not returned: the index is already
    /// committed, and leftovers are only wasted space.
    pub(super) fn collect_garbage<'a>(&self, gone: &Image, kept: impl Iterator<Item = &'a Image>) -> (Vec<Digest>, u64) {
        let mut blobs = HashSet::new();
        let mut chains = HashSet::new();
        for k in kept {
            blobs.extend(k.manifests.iter().map(|m| m.digest.clone()));
            blobs.insert(k.id.clone());
            blobs.extend(k.layers.iter().map(|l| l.blob.digest.clone()));
            chains.extend(k.layers.iter().map(|l| l.chain_id.clone()));
        }
        let mut candidates: Vec<Digest> = gone.manifests.iter().map(|m| m.digest.clone()).collect();
        candidates.push(gone.id.clone());
        candidates.extend(gone.layers.iter().map(|l| l.blob.digest.clone()));
        let mut bytes = 0;
        let unique: HashSet<&Digest> = candidates.iter().filter(|d| !blobs.contains(*d)).collect();
        for d in unique {
            let len = fs::metadata(self.blob_path(d)).map(|m| m.len()).unwrap_or(0);
            match fs::remove_file(self.blob_path(d)) {
                Ok(()) => bytes += len,
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => tracing::warn!(digest = %d, "cannot delete blob: {e}"),
            }
        }
        let mut deleted = Vec::new();
        for l in gone.layers.iter().rev().filter(|l| !chains.contains(&l.chain_id)) {
            let tmp = fsutil::temp_path(&self.paths.tmp(), "rm-layer");
            // Move first so a half-deleted directory is never a lower.
            let victim = match fs::rename(&l.dir, &tmp) {
                Ok(()) => tmp,
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(_) => l.dir.clone(),
            };
            match fsutil::remove_tree(&victim) {
                Ok(()) => deleted.push(l.chain_id.clone()),
                Err(e) => {
                    tracing::warn!(layer = %l.chain_id, "cannot delete layer directory {}: {e}", victim.display())
                }
            }
        }
        (deleted, bytes)
    }

    /// Check every image: blobs present with the right digest, layer
    /// directories present. Returns one line per problem.
    pub fn fsck(&self) -> Result<Vec<String>> {
        let _lock = self.lock_shared()?;
        let index = self.read_index()?;
        let mut problems = Vec::new();
        let mut digests: BTreeMap<Digest, ()> = BTreeMap::new();
        for d in &index.manifests {
            let image = match self.load(&index, d) {
                Ok(i) => i,
                Err(e) => {
                    problems.push(format!("manifest {}: {e}", d.digest));
                    continue;
                }
            };
            digests.insert(d.digest.clone(), ());
            digests.insert(image.id.clone(), ());
            for l in &image.layers {
                digests.insert(l.blob.digest.clone(), ());
                if !l.dir.is_dir() {
                    problems.push(format!("layer {} of image {}: directory {} is missing", l.chain_id, image.id, l.dir.display()));
                }
            }
        }
        for d in digests.keys() {
            match fs::File::open(self.blob_path(d)) {
                Ok(f) => {
                    let (found, _) = super::digest::HashingReader::new(f).finish().map_err(Error::io("read", self.blob_path(d)))?;
                    if found != *d {
                        problems.push(format!("blob {d}: content hashes to {found}"));
                    }
                }
                Err(_) => problems.push(format!("blob {d} is missing")),
            }
        }
        Ok(problems)
    }
}

/// An image config as oci-spec types it. Fields the OCI image spec makes
/// optional but oci-spec requires (`history`, `rootfs.diff_ids` of an
/// image without layers) get their empty value, so a registry's valid
/// but sparse config does not read as corrupt.
pub fn parse_config(json: &serde_json::Value) -> serde_json::Result<ImageConfiguration> {
    let mut v = json.clone();
    if let Some(obj) = v.as_object_mut() {
        if !obj.get("history").is_some_and(|h| h.is_array()) {
            obj.insert("history".into(), serde_json::json!([]));
        }
        let rootfs = obj.entry("rootfs").or_insert_with(|| serde_json::json!({"type": "layers"}));
        if let Some(r) = rootfs.as_object_mut() {
            r.entry("diff_ids").or_insert_with(|| serde_json::json!([]));
        }
    }
    serde_json::from_value(v)
}

/// Match a user's string against images: a name first (docker's order),
/// then an id or id prefix.
/// Add an image loaded from one manifest, or merge it into the image
/// already there with the same config (another manifest of it): its names
/// and manifests join that one's.
fn add_merged(out: &mut Vec<Image>, image: Image) {
    match out.iter_mut().find(|i| i.id == image.id) {
        Some(same) => {
            same.names.extend(image.names);
            same.manifests.extend(image.manifests);
        }
        None => out.push(image),
    }
}

fn find(images: &[Image], s: &str) -> Result<(usize, Match)> {
    let parsed = Reference::parse(s);
    if let Ok(r) = &parsed {
        if let Some(d) = r.digest() {
            let hit = images.iter().position(|i| i.manifests.iter().any(|m| m.digest == *d) || i.id == *d);
            if let Some(i) = hit {
                return Ok((i, Match::Id));
            }
        } else {
            let full = r.to_string();
            if let Some(i) = images.iter().position(|i| i.names.contains(&full)) {
                return Ok((i, Match::Name(full)));
            }
        }
    }
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let is_id = hex.len() >= 4 && hex.len() <= 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if is_id {
        let hits: Vec<usize> = (0..images.len()).filter(|i| images[*i].id.hex().starts_with(hex)).collect();
        return match hits.len() {
            0 => Err(Error::NotFound { name: s.to_string() }),
            1 => Ok((hits[0], Match::Id)),
            count => Err(Error::Ambiguous { prefix: s.to_string(), count }),
        };
    }
    match parsed {
        Ok(_) => Err(Error::NotFound { name: s.to_string() }),
        Err(e) => Err(e.into()),
    }
}
