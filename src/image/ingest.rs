//! Adding an image that arrives as separate blobs: `pull` from a registry,
//! `load` from an archive.
//!
//! The work happens in two phases so that a slow network or a hostile
//! archive never blocks other commands and never leaves the store half
//! changed. **Staging** (no lock held, any number of layers in parallel):
//! each layer blob streams once through `stage_layer`, which hashes the
//! compressed bytes (the blob digest), hands them to a sink the caller
//! chose (a temp blob file, or nothing when the caller keeps its own
//! copy), decompresses them and unpacks the tar into a temp directory under
//! `tmp/`, hashing the uncompressed bytes (the diff id). **Commit**
//! (`commit_image`, exclusive lock): the config's diff ids are checked
//! against what was unpacked, blobs are moved into `blobs/`, layer
//! directories into `layers/<chain id>`, and finally the index gains the
//! names, which is the commit point. A failure anywhere before that point
//! drops the staged temp files and directories: the store is as it was.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use super::compress;
use super::digest::{chain_ids, Digest};
use super::error::{Error, Result};
use super::fsutil;
use super::layout::{Descriptor, Manifest};
use super::reference::Reference;
use super::store::Store;
use super::unpack::{unpack, UnpackError, UnpackOptions, UnpackReport};
use super::BlobWriter;

/// A temp directory removed on drop unless taken.
#[derive(Debug)]
pub struct TempDir(Option<PathBuf>);

impl TempDir {
    /// A new, not yet existing path under the store's `tmp/`.
    pub fn new(store: &Store, prefix: &str) -> TempDir {
        TempDir(Some(fsutil::temp_path(&store.paths().tmp(), prefix)))
    }

    pub fn path(&self) -> &Path {
        self.0.as_deref().unwrap_or(Path::new(""))
    }

    fn take(&mut self) -> Option<PathBuf> {
        self.0.take()
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Some(p) = self.0.take() {
            if p.exists() {
                if let Err(e) = fsutil::remove_tree(&p) {
                    tracing::warn!(path = %p.display(), "cannot remove temp directory: {e}");
                }
            }
        }
    }
}

/// Where a staged layer's blob is until commit.
pub enum StagedBlob {
    /// Already in `blobs/`.
    Present,
    /// Written by `stage_layer` into a temp blob file.
    Writer(BlobWriter),
    /// A complete file the caller kept (a resumable download); it is
    /// moved into `blobs/` at commit.
    File(PathBuf),
}

/// One layer ready to be committed.
pub struct StagedLayer {
    /// The digest and size the bytes really had.
    pub digest: Digest,
    pub size: u64,
    pub diff_id: Digest,
    pub report: Option<UnpackReport>,
    blob: StagedBlob,
    /// The unpacked layer; `None` when the layer directory is already in
    /// the store.
    dir: Option<TempDir>,
}

impl StagedLayer {
    /// A layer whose blob and unpacked directory are both in the store.
    pub fn present(desc: &Descriptor, diff_id: Digest) -> StagedLayer {
        StagedLayer { digest: desc.digest.clone(), size: desc.size, diff_id, report: None, blob: StagedBlob::Present, dir: None }
    }
}

/// Hashes and counts everything read, and copies it into a writer.
struct Tee<'a, R, W> {
    r: &'a mut R,
    w: &'a mut W,
    hasher: &'a mut sha2::Sha256,
    size: &'a mut u64,
    /// Set when a read or a copy failed: bytes may be missing from the
    /// hash, so what follows is no longer the rest of the blob.
    broken: &'a mut bool,
}

impl<R: Read, W: Write> Read for Tee<'_, R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let copied = self.r.read(buf).and_then(|n| self.w.write_all(&buf[..n]).map(|_| n));
        let n = copied.inspect_err(|_| *self.broken = true)?;
        sha2::Digest::update(self.hasher, &buf[..n]);
        *self.size += n as u64;
        Ok(n)
    }
}

/// Stream one (maybe compressed) layer blob from `input`, copying its
/// bytes into `sink` and unpacking it under the store's `tmp/`. The
/// whole stream is read, also what follows the end of the tar archive,
/// so the digest covers every byte. Checks the digest and size against
/// `desc` and returns the staged layer with `blob` as its blob.
pub fn stage_layer<R: Read, W: Write>(
    store: &Store,
    desc: &Descriptor,
    mut input: R,
    sink: &mut W,
    opts: &UnpackOptions,
) -> Result<(Digest, u64, Digest, UnpackReport, TempDir)> {
    let dir = TempDir::new(store, "layer");
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    let (mut size, mut broken) = (0u64, false);
    let unpacked = (|| -> Result<UnpackReport> {
        let tee = Tee { r: &mut input, w: sink, hasher: &mut hasher, size: &mut size, broken: &mut broken };
        let (_, mut tar) = compress::decompress(tee).map_err(|source| UnpackError::Read { source })?;
        let report = unpack(&mut tar, dir.path(), opts)?;
        // The rest of the compressed stream (gzip trailer, tar padding).
        io::copy(&mut tar, &mut io::sink()).map_err(|source| UnpackError::Read { source })?;
        Ok(report)
    })();
    // The rest of the input. After a failed unpack too, unless the input
    // itself failed: bytes that are not the blob the descriptor names (a
    // wrong digest or size) usually fail to unpack first, and the
    // mismatch is the error worth reporting.
    let unpacked = match unpacked {
        Err(e) if broken => return Err(e),
        other => other,
    };
    let mut tee = Tee { r: &mut input, w: sink, hasher: &mut hasher, size: &mut size, broken: &mut broken };
    let drained = io::copy(&mut tee, &mut io::sink());
    let report = match (unpacked, drained) {
        (Ok(report), Ok(_)) => report,
        (Ok(_), Err(source)) => return Err(UnpackError::Read { source }.into()),
        (Err(e), Err(_)) => return Err(e),
        (Err(e), Ok(_)) => {
            check_blob(desc, Digest::from_hasher(hasher), size)?;
            return Err(e);
        }
    };
    let digest = Digest::from_hasher(hasher);
    check_blob(desc, digest.clone(), size)?;
    let diff_id = report.diff_id.clone();
    Ok((digest, size, diff_id, report, dir))
}

/// Whether the bytes read are the blob `desc` names.
fn check_blob(desc: &Descriptor, digest: Digest, size: u64) -> Result<()> {
    if digest != desc.digest {
        return Err(Error::DigestMismatch { expected: desc.digest.clone(), found: digest });
    }
    if size != desc.size {
        return Err(Error::SizeMismatch { digest, expected: desc.size, found: size });
    }
    Ok(())
}

/// `stage_layer` with the blob kept in a temp blob file of the store.
pub fn stage_layer_blob(store: &Store, desc: &Descriptor, input: impl Read, opts: &UnpackOptions) -> Result<StagedLayer> {
    let mut w = store.blob_writer()?;
    let (digest, size, diff_id, report, dir) = stage_layer(store, desc, input, &mut w, opts)?;
    Ok(StagedLayer { digest, size, diff_id, report: Some(report), blob: StagedBlob::Writer(w), dir: Some(dir) })
}

/// `stage_layer` for a blob the caller stores itself (`file`, complete
/// once this returns); it is moved into `blobs/` at commit.
pub fn stage_layer_file(store: &Store, desc: &Descriptor, input: impl Read, file: PathBuf, opts: &UnpackOptions) -> Result<StagedLayer> {
    let (digest, size, diff_id, report, dir) = stage_layer(store, desc, input, &mut io::sink(), opts)?;
    Ok(StagedLayer { digest, size, diff_id, report: Some(report), blob: StagedBlob::File(file), dir: Some(dir) })
}

/// Everything an image is made of, staged.
pub struct StagedImage {
    /// The manifest exactly as received (its digest is the image's
    /// repo digest) and its media type.
    pub manifest_bytes: Vec<u8>,
    pub manifest_media_type: String,
    pub config_bytes: Vec<u8>,
    /// Bottom layer first, one per manifest layer.
    pub layers: Vec<StagedLayer>,
}

/// Why a staged image does not hold together.
fn inconsistent(what: String) -> Error {
    Error::Inconsistent { what }
}

/// The diff ids a config lists.
pub fn config_diff_ids(config_bytes: &[u8]) -> Result<Vec<Digest>> {
    #[derive(serde::Deserialize)]
    struct Config {
        rootfs: RootFs,
    }
    #[derive(serde::Deserialize)]
    struct RootFs {
        diff_ids: Vec<Digest>,
    }
    let c: Config = serde_json::from_slice(config_bytes)
        .map_err(|e| inconsistent(format!("the image config is not valid JSON with rootfs.diff_ids: {e}")))?;
    Ok(c.rootfs.diff_ids)
}

/// Commit a staged image under the exclusive lock and give it `names`
/// (none: an untagged image). Returns the image id and the manifest
/// digest.
pub fn commit_image(store: &Store, image: StagedImage, names: &[Reference]) -> Result<(Digest, Digest)> {
    let manifest: Manifest = serde_json::from_slice(&image.manifest_bytes)
        .map_err(|e| inconsistent(format!("the manifest is not a valid image manifest: {e}")))?;
    let config_digest = Digest::of_bytes(&image.config_bytes);
    if config_digest != manifest.config.digest {
        return Err(Error::DigestMismatch { expected: manifest.config.digest.clone(), found: config_digest });
    }
    let diff_ids = config_diff_ids(&image.config_bytes)?;
    serde_json::from_slice::<serde_json::Value>(&image.config_bytes)
        .and_then(|v| super::store::parse_config(&v))
        .map_err(|e| inconsistent(format!("the image config is not valid: {e}")))?;
    if diff_ids.len() != manifest.layers.len() || image.layers.len() != manifest.layers.len() {
        return Err(inconsistent(format!("the manifest lists {} layers, the config {} diff ids", manifest.layers.len(), diff_ids.len())));
    }
    for (i, (l, want)) in image.layers.iter().zip(&diff_ids).enumerate() {
        if l.diff_id != *want {
            return Err(inconsistent(format!("layer {} ({}) unpacks to {}, but the config says {want}", i + 1, l.digest, l.diff_id)));
        }
        if l.digest != manifest.layers[i].digest {
            return Err(inconsistent(format!("layer {} is {}, the manifest says {}", i + 1, l.digest, manifest.layers[i].digest)));
        }
    }
    let chains = chain_ids(&diff_ids);

    let _lock = store.lock_exclusive()?;
    let manifest_desc = {
        let mut w = store.blob_writer()?;
        w.write_all(&image.manifest_bytes).map_err(Error::io("write a blob under", store.paths().tmp()))?;
        let mut w2 = store.blob_writer()?;
        w2.write_all(&image.config_bytes).map_err(Error::io("write a blob under", store.paths().tmp()))?;
        w2.commit(Some(&config_digest), None)?;
        let (d, size) = w.commit(None, None)?;
        Descriptor::new(&image.manifest_media_type, d, size)
    };
    for (mut l, chain) in image.layers.into_iter().zip(&chains) {
        match l.blob {
            StagedBlob::Present => {
                if !store.has_blob(&l.digest) {
                    return Err(Error::MissingBlob { digest: l.digest });
                }
            }
            StagedBlob::Writer(w) => {
                w.commit(Some(&l.digest), Some(l.size))?;
            }
            StagedBlob::File(p) => store.add_blob_file(&p, &l.digest)?,
        }
        if let Some(dir) = l.dir.as_mut().and_then(TempDir::take) {
            store.add_layer_dir(&dir, chain)?;
        } else if !store.layer_dir(chain).is_dir() {
            return Err(inconsistent(format!("layer {chain} was expected in the store but is missing")));
        }
    }
    match names {
        [] => store.set_name(&manifest_desc, None)?,
        _ => {
            for n in names {
                store.set_name(&manifest_desc, Some(n))?;
            }
        }
    }
    Ok((config_digest, manifest_desc.digest))
}

/// How old staging leftovers must be before `pull` and `load` sweep them:
/// far longer than any staging takes.
pub const SWEEP_AGE: std::time::Duration = std::time::Duration::from_secs(6 * 3600);

/// Remove leftovers of staging that a killed command left in `tmp/`.
/// Only entries older than `min_age` are touched, so a concurrent
/// command's work in progress is safe.
pub fn sweep_tmp(store: &Store, min_age: std::time::Duration) {
    let tmp = store.paths().tmp();
    let Ok(rd) = fs::read_dir(&tmp) else { return };
    let now = std::time::SystemTime::now();
    for e in rd.flatten() {
        let old = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| now.duration_since(t).ok()).is_some_and(|age| age >= min_age);
        if old && e.file_name().to_string_lossy().starts_with("layer") {
            let _ = fsutil::remove_tree(&e.path());
        }
    }
}

/// Unpack a layer whose blob is already in the store (its directory is
/// missing); nothing is fetched.
pub fn stage_layer_stored(store: &Store, desc: &Descriptor, opts: &UnpackOptions) -> Result<StagedLayer> {
    let p = store.blob_path(&desc.digest);
    let f = fs::File::open(&p).map_err(Error::io("open", &p))?;
    let (digest, size, diff_id, report, dir) = stage_layer(store, desc, io::BufReader::with_capacity(1 << 20, f), &mut io::sink(), opts)?;
    Ok(StagedLayer { digest, size, diff_id, report: Some(report), blob: StagedBlob::Present, dir: Some(dir) })
}
