//! `burrow import`: a root file system tarball becomes a one-layer image.
//!
//! The input may be gzip or zstd compressed (`compress`). Its uncompressed
//! bytes flow once through a tee: into a temp blob file and into `unpack`,
//! which hashes them (the diff id) while unpacking into a temp directory.
//! All of that happens under `tmp/` without the store lock, so a slow or
//! hostile input never blocks other commands and, when it fails, is
//! simply removed: the store stays exactly as it was. Only then, under
//! the exclusive lock, the layer blob, config and manifest are moved into
//! `blobs/`, the layer directory into `layers/<chain id>`, and finally the
//! index gains the name (the commit point). Like `docker import`, the
//! config has docker's default `PATH` and no `Cmd`.

use std::fs;
use std::io::{self, Read, Write};
use std::path::{Path, PathBuf};

use serde_json::json;

use super::compress;
use super::digest::{chain_id, Digest};
use super::error::{Error, Result};
use super::fsutil;
use super::layout::{Descriptor, Manifest, MEDIA_CONFIG, MEDIA_LAYER_TAR, MEDIA_MANIFEST};
use super::reference::Reference;
use super::store::Store;
use super::unpack::{unpack, UnpackOptions, UnpackReport};

/// docker's default PATH for imported images.
pub const DEFAULT_PATH: &str = "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    pub unpack: UnpackOptions,
    /// The history comment (docker's `import -m`, `commit -m`).
    pub message: Option<String>,
    /// The image's author (`commit -a`).
    pub author: Option<String>,
    /// Dockerfile instructions applied to the config (`-c`, see `change`).
    pub changes: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct ImportResult {
    /// The new image's id (config digest).
    pub id: Digest,
    /// The full normalized name given, if any.
    pub name: Option<String>,
    pub report: UnpackReport,
}

/// Removes a temp directory unless disarmed.
struct TempDir(PathBuf);

impl Drop for TempDir {
    fn drop(&mut self) {
        if let Err(e) = fsutil::remove_tree(&self.0) {
            tracing::warn!(path = %self.0.display(), "cannot remove temp directory: {e}");
        }
    }
}

/// Copies everything read into a writer.
struct Tee<R, W> {
    r: R,
    w: W,
}

impl<R: Read, W: Write> Read for Tee<R, W> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.r.read(buf)?;
        self.w.write_all(&buf[..n])?;
        Ok(n)
    }
}

/// The OCI name of this machine's architecture.
pub fn oci_arch() -> &'static str {
    match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        "arm" => "arm",
        "powerpc64" => "ppc64le",
        "riscv64" => "riscv64",
        "s390x" => "s390x",
        other => other,
    }
}

/// Import a (maybe compressed) tar as a new image named `name`.
pub fn import(store: &Store, input: impl Read, name: Option<&str>, opts: &ImportOptions) -> Result<ImportResult> {
    add_layer(store, None, input, name, opts, "burrow import")
}

/// A new image made of `base`'s layers and one more read from `input`
/// (`burrow commit`): the config is the base's with the new diff id and a
/// history entry added. Without a base this is `import`.
pub fn add_layer(
    store: &Store,
    base: Option<&super::store::Image>,
    input: impl Read,
    name: Option<&str>,
    opts: &ImportOptions,
    created_by: &str,
) -> Result<ImportResult> {
    stage_layer(store, base, input, name, opts, created_by)?.commit(store)
}

/// A layer unpacked and hashed under `tmp/`, with its image's config and
/// name ready: nothing in the store refers to it yet. `commit` makes it an
/// image; dropping it removes the temp files.
pub struct Staged {
    work: TempDir,
    blob: super::BlobWriter,
    report: UnpackReport,
    chain: Digest,
    config_bytes: Vec<u8>,
    layers: Vec<Descriptor>,
    reference: Option<Reference>,
}

/// The work of `add_layer` that needs no lock: read `input` to its end,
/// unpack and hash it, make the config. The store is not changed.
pub fn stage_layer(
    store: &Store,
    base: Option<&super::store::Image>,
    input: impl Read,
    name: Option<&str>,
    opts: &ImportOptions,
    created_by: &str,
) -> Result<Staged> {
    let reference = match name {
        Some(n) => {
            let r = Reference::parse(n)?;
            if r.digest().is_some() {
                return Err(Error::DigestTag { name: n.to_string() });
            }
            Some(r)
        }
        None => None,
    };
    // Bad changes fail before any work is done.
    for c in &opts.changes {
        super::change::apply(&mut json!({}), c)?;
    }
    let tmp = store.paths().tmp();
    let work = TempDir(fsutil::temp_path(&tmp, "import"));
    fs::create_dir(&work.0).map_err(Error::io("create", &work.0))?;
    let rootfs = work.0.join("rootfs");

    let (_, decompressed) = compress::decompress(input).map_err(|source| super::unpack::UnpackError::Read { source })?;
    let mut blob = store.blob_writer()?;
    let report = unpack(Tee { r: decompressed, w: &mut blob }, &rootfs, &opts.unpack)?;
    let diff_id = report.diff_id.clone();
    let mut diff_ids: Vec<Digest> = base.map(|b| b.layers.iter().map(|l| l.diff_id.clone()).collect()).unwrap_or_default();
    diff_ids.push(diff_id.clone());
    let chain = chain_id(&diff_ids).unwrap_or_else(|| diff_id.clone());

    let config = match base {
        Some(b) => derived_config(&b.config_json, &diff_ids, created_by, opts.message.as_deref()),
        None => config_json(&diff_id, opts.message.as_deref()),
    };
    let mut config = config;
    if let Some(a) = &opts.author {
        config["author"] = json!(a);
    }
    for c in &opts.changes {
        super::change::apply(&mut config, c)?;
    }
    let config_bytes = serde_json::to_vec(&config).map_err(|source| Error::Encode { what: "the image config", source })?;
    let layers = base.map(|b| b.manifest.layers.clone()).unwrap_or_default();
    Ok(Staged { work, blob, report, chain, config_bytes, layers, reference })
}

impl Staged {
    /// Under the exclusive lock, move the layer and its blobs into the
    /// store and name the image (the commit point).
    pub fn commit(self, store: &Store) -> Result<ImportResult> {
        let Staged { work, blob, report, chain, config_bytes, mut layers, reference } = self;
        let _lock = store.lock_exclusive()?;
        let (layer_digest, layer_size) = blob.commit(Some(&report.diff_id), Some(report.tar_size))?;
        let config_digest = store.write_blob(&config_bytes)?;
        layers.push(Descriptor::new(MEDIA_LAYER_TAR, layer_digest, layer_size));
        let manifest = Manifest::new(Descriptor::new(MEDIA_CONFIG, config_digest.clone(), config_bytes.len() as u64), layers);
        let manifest_bytes = serde_json::to_vec(&manifest).map_err(|source| Error::Encode { what: "the manifest", source })?;
        let manifest_digest = store.write_blob(&manifest_bytes)?;
        store.add_layer_dir(&work.0.join("rootfs"), &chain)?;
        store.set_name(&Descriptor::new(MEDIA_MANIFEST, manifest_digest, manifest_bytes.len() as u64), reference.as_ref())?;
        Ok(ImportResult { id: config_digest, name: reference.map(|r| r.to_string()), report })
    }
}

/// The write end of the pipe a layer producer writes into; it notes when
/// the reader has gone (EPIPE), so the reader's error is the one to tell.
pub struct PipeEnd {
    file: fs::File,
    closed: std::sync::Arc<std::sync::atomic::AtomicBool>,
}

impl Write for PipeEnd {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let r = self.file.write(buf);
        if matches!(&r, Err(e) if e.kind() == io::ErrorKind::BrokenPipe) {
            self.closed.store(true, std::sync::atomic::Ordering::SeqCst);
        }
        r
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

/// `add_layer` with a layer tar that `produce` writes, on a thread of its
/// own, into a pipe the store reads (`commit`, a build's COPY): nothing is
/// staged on disk twice. The image is named only once the producer has
/// returned success: one that fails after writing part of the stream
/// (which may well read as a complete tar) leaves the store as it was.
/// When the store stopped reading first (a refused entry, a full disk),
/// the producer only saw the pipe close, and the store's error is returned.
pub fn add_produced_layer<E>(
    store: &Store,
    base: Option<&super::store::Image>,
    name: Option<&str>,
    opts: &ImportOptions,
    created_by: &str,
    produce: impl FnOnce(io::BufWriter<PipeEnd>) -> std::result::Result<(), E> + Send + 'static,
) -> std::result::Result<ImportResult, E>
where
    E: From<Error> + Send + 'static,
{
    use std::sync::atomic::{AtomicBool, Ordering};
    let (reader, writer) = nix::unistd::pipe().map_err(|e| Error::Io { op: "create", path: "a pipe".into(), source: e.into() })?;
    let closed = std::sync::Arc::new(AtomicBool::new(false));
    let end = PipeEnd { file: fs::File::from(writer), closed: closed.clone() };
    let producer = std::thread::spawn(move || produce(io::BufWriter::with_capacity(1 << 20, end)));
    let staged = stage_layer(store, base, io::BufReader::with_capacity(1 << 20, fs::File::from(reader)), name, opts, created_by);
    let produced = producer.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic));
    match (produced, staged) {
        (Err(_), Err(e)) if closed.load(Ordering::SeqCst) => Err(e.into()),
        (Err(e), _) => Err(e),
        (Ok(()), staged) => Ok(staged?.commit(store)?),
    }
}

/// A new image that is `base` with its config changed by `change` and
/// no new layer (a Dockerfile's ENV, CMD, LABEL...): the history entry,
/// if `history` gives one, says `empty_layer`, as docker's does (none for
/// a change no instruction made, such as clearing the triggers a child
/// build ran). Untagged unless `name`.
pub fn add_config(
    store: &Store,
    base: &super::store::Image,
    name: Option<&str>,
    history: Option<&str>,
    change: impl FnOnce(&mut serde_json::Value),
) -> Result<Digest> {
    let reference = name.map(Reference::parse).transpose()?;
    let mut config = base.config_json.clone();
    if !config.is_object() {
        config = json!({});
    }
    change(&mut config);
    let now = now();
    config["created"] = json!(now);
    if let Some(created_by) = history {
        let entry = json!({ "created": now, "created_by": created_by, "empty_layer": true });
        match config.get_mut("history").and_then(|h| h.as_array_mut()) {
            Some(h) => h.push(entry),
            None => config["history"] = json!([entry]),
        }
    }
    let config_bytes = serde_json::to_vec(&config).map_err(|source| Error::Encode { what: "the image config", source })?;
    let _lock = store.lock_exclusive()?;
    let config_digest = store.write_blob(&config_bytes)?;
    let manifest =
        Manifest::new(Descriptor::new(MEDIA_CONFIG, config_digest.clone(), config_bytes.len() as u64), base.manifest.layers.clone());
    let manifest_bytes = serde_json::to_vec(&manifest).map_err(|source| Error::Encode { what: "the manifest", source })?;
    let manifest_digest = store.write_blob(&manifest_bytes)?;
    store.set_name(&Descriptor::new(MEDIA_MANIFEST, manifest_digest, manifest_bytes.len() as u64), reference.as_ref())?;
    Ok(config_digest)
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true)
}

fn config_json(diff_id: &Digest, message: Option<&str>) -> serde_json::Value {
    let now = now();
    let mut history = json!({ "created": now, "created_by": "burrow import" });
    if let Some(m) = message {
        history["comment"] = json!(m);
    }
    json!({
        "created": now,
        "architecture": oci_arch(),
        "os": "linux",
        "config": { "Env": [DEFAULT_PATH] },
        "rootfs": { "type": "layers", "diff_ids": [diff_id.to_string()] },
        "history": [history],
    })
}

/// The base image's config with one more layer and history entry; every
/// other field (Env, Cmd, unknown keys) is kept as it was.
pub fn derived_config(base: &serde_json::Value, diff_ids: &[Digest], created_by: &str, message: Option<&str>) -> serde_json::Value {
    let now = now();
    let mut config = base.clone();
    if !config.is_object() {
        config = json!({});
    }
    config["created"] = json!(now);
    config["rootfs"] = json!({ "type": "layers", "diff_ids": diff_ids.iter().map(|d| d.to_string()).collect::<Vec<_>>() });
    let mut entry = json!({ "created": now, "created_by": created_by });
    if let Some(m) = message {
        entry["comment"] = json!(m);
    }
    match config.get_mut("history").and_then(|h| h.as_array_mut()) {
        Some(h) => h.push(entry),
        None => config["history"] = json!([entry]),
    }
    config
}

/// Import a file (`-` is stdin).
pub fn import_path(store: &Store, path: &Path, name: Option<&str>, opts: &ImportOptions) -> Result<ImportResult> {
    if path == Path::new("-") {
        return import(store, io::stdin().lock(), name, opts);
    }
    let f = fs::File::open(path).map_err(Error::io("open", path))?;
    import(store, io::BufReader::with_capacity(1 << 20, f), name, opts)
}
