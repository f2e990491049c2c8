//! `burrow pull`: manifest (index → platform), config, then every missing
//! layer downloaded, verified and unpacked at once, in parallel.
//!
//! Each missing layer streams from the registry through a tee that appends
//! the bytes to `downloads/<hex>.partial` under the storage root, and on
//! into `ingest::stage_layer`, which hashes and unpacks them as they
//! arrive. The partial file is the blob: when the stream ends with the
//! right digest it is moved into `blobs/` at commit. When the connection
//! breaks, the command retries with `Range: bytes=N-`, and so does the
//! next `burrow pull` after a `kill -9`: the partial file survives both,
//! and the bytes already there are read back from disk (and hashed and
//! unpacked again, which is cheap next to the network) instead of fetched.
//! A partial file is locked (`flock`) while a command appends to it, so
//! two pulls of the same layer take turns; one whose bytes do not hash to
//! the digest is deleted. A layer whose blob and unpacked directory are
//! already in the store is not fetched at all. Nothing becomes visible
//! until `ingest::commit_image` names the image, so a failed pull leaves
//! the store as it was (plus partial files that make the next pull fast).

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;

use nix::fcntl::Flock;
use reqwest::header::{ACCEPT, CONTENT_RANGE, CONTENT_TYPE, RANGE};
use reqwest::{Method, StatusCode};

use super::client::{pull_scope, Client};
use super::config::{Conf, Options};
use super::creds::AuthFiles;
use super::error::{Error, Result};
use super::platform::{self, IndexEntry, Platform};
use super::progress::Progress;
use crate::image::ingest::{self, StagedImage, StagedLayer};
use crate::image::layout::{Descriptor, Manifest, DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST};
use crate::image::{chain_ids, Digest, Reference, Store, UnpackOptions};

pub const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";
const DOCKER_SCHEMA1: &str = "application/vnd.docker.distribution.manifest.v1+prettyjws";
const ACCEPTED: &str = "application/vnd.oci.image.index.v1+json, application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.oci.image.manifest.v1+json, application/vnd.docker.distribution.manifest.v2+json";
/// Larger manifests or configs are refused rather than read into memory.
const MAX_DOCUMENT: u64 = 8 << 20;
/// Layers downloaded at once.
const PARALLEL: usize = 4;
const ATTEMPTS: u32 = 5;

#[derive(Debug, Clone, Default)]
pub struct PullOptions {
    pub platform: Option<Platform>,
    pub conn: Options,
    pub authfile: Option<PathBuf>,
    pub unpack: UnpackOptions,
}

#[derive(Debug, Clone)]
pub struct PullResult {
    pub id: Digest,
    /// The full name the image now has.
    pub name: String,
    pub manifest_digest: Digest,
    pub downloaded: usize,
    pub reused: usize,
    /// Files whose owners the user namespace cannot represent.
    pub squashed_owners: u64,
}

/// Pull `input` (what the user typed) into `store`.
pub fn pull(store: &Store, conf: &Conf, input: &str, opts: &PullOptions, progress: &Progress) -> Result<PullResult> {
    let reference = conf.resolve(input)?;
    let auth = AuthFiles::resolve(opts.authfile.as_deref());
    let endpoints = conf.pull_endpoints(reference.domain(), &opts.conn);
    let mut last = None;
    for (i, ep) in endpoints.iter().enumerate() {
        let is_last = i + 1 == endpoints.len();
        let creds = auth.lookup(if ep.mirror { &ep.host } else { reference.domain() })?;
        let name = if ep.mirror { ep.host.clone() } else { reference.domain().to_string() };
        let attempt =
            Client::connect(&name, ep, creds, &opts.conn).and_then(|client| pull_from(store, &client, &reference, opts, progress));
        match attempt {
            Ok(r) => return Ok(r),
            Err(e) if !is_last && ep.mirror => {
                progress.say(&format!("mirror {} failed ({e}); trying the next source", ep.host));
                last = Some(e);
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(Error::Unreachable { registry: reference.domain().to_string(), detail: "no endpoint".into() }))
}

/// What a manifest request returned.
struct Document {
    bytes: Vec<u8>,
    media_type: String,
    digest: Digest,
}

fn pull_from(store: &Store, client: &Client, reference: &Reference, opts: &PullOptions, progress: &Progress) -> Result<PullResult> {
    let repo = reference.path().to_string();
    let src = Source { store, client, reference, scopes: vec![pull_scope(&repo)], repo, opts, progress };
    progress.say(&format!("Trying to pull {reference}..."));
    let doc = src.image_manifest()?;
    let manifest: Manifest = serde_json::from_slice(&doc.bytes).map_err(|e| Error::BadResponse {
        registry: client.registry.clone(),
        what: format!("manifest for {reference}"),
        detail: e.to_string(),
    })?;

    let config_bytes = fetch_config(store, client, &src.repo, &src.scopes, &manifest.config, reference)?;
    let diff_ids = ingest::config_diff_ids(&config_bytes)?;
    if diff_ids.len() != manifest.layers.len() {
        return Err(Error::BadResponse {
            registry: client.registry.clone(),
            what: format!("image {reference}"),
            detail: format!("its manifest lists {} layers but its config {}", manifest.layers.len(), diff_ids.len()),
        });
    }

    let downloads = store.paths().root.join("downloads");
    fs::create_dir_all(&downloads).map_err(|source| Error::Io { op: "create", path: downloads.clone(), source })?;
    let (mut slots, todo) = src.present_layers(&manifest.layers, &diff_ids);
    let reused = slots.len() - todo.len();
    src.download(&manifest.layers, &todo, &downloads, &mut slots)?;
    let (layers, squashed) = src.staged(&manifest.layers, slots)?;
    progress.say("Writing manifest to image destination");
    let staged = StagedImage { manifest_bytes: doc.bytes, manifest_media_type: doc.media_type, config_bytes, layers };
    // A pull by digest is named `repo@digest`, so that name finds it again.
    let name = reference.to_string();
    let (id, manifest_digest) = ingest::commit_image(store, staged, std::slice::from_ref(reference))?;
    Ok(PullResult { id, name, manifest_digest, downloaded: todo.len(), reused, squashed_owners: squashed })
}

/// One pull from one endpoint: what each of its steps asks with.
struct Source<'a> {
    store: &'a Store,
    client: &'a Client,
    reference: &'a Reference,
    repo: String,
    scopes: Vec<String>,
    opts: &'a PullOptions,
    progress: &'a Progress,
}

/// Where each layer of a pull stands: staged (or failed), or `None` while
/// it is still to be downloaded.
type Slots = Vec<Option<Result<StagedLayer>>>;

impl Source<'_> {
    /// The image manifest to pull: the one asked for, checked against the
    /// digest asked for, or from an index the one for the platform; never
    /// Docker schema 1.
    fn image_manifest(&self) -> Result<Document> {
        let reference = self.reference;
        let target = match reference.digest() {
            Some(d) => d.to_string(),
            None => reference.tag().unwrap_or("latest").to_string(),
        };
        let mut doc = fetch_manifest(self.client, &self.repo, &self.scopes, &target, reference)?;
        if let Some(d) = reference.digest() {
            if doc.digest != *d {
                return Err(Error::BadResponse {
                    registry: self.client.registry.clone(),
                    what: format!("manifest for {reference}"),
                    detail: format!("its content hashes to {}, not the digest asked for", doc.digest),
                });
            }
        }
        if doc.media_type == MEDIA_INDEX || doc.media_type == DOCKER_LIST {
            doc = self.platform_manifest(&doc)?;
        } else if let Some(want) = &self.opts.platform {
            // A single-platform image: --platform must still be honoured.
            check_single_platform(self.store, self.client, &self.repo, &self.scopes, &doc, want, reference)?;
        }
        if doc.media_type == DOCKER_SCHEMA1 || doc.media_type.starts_with("application/vnd.docker.distribution.manifest.v1") {
            return Err(Error::BadResponse {
                registry: self.client.registry.clone(),
                what: format!("manifest for {reference}"),
                detail: "it is Docker schema 1, deprecated since 2017 and not supported; push the image again with a current tool".into(),
            });
        }
        Ok(doc)
    }

    /// The manifest `index` lists for `--platform` (or this host).
    fn platform_manifest(&self, index: &Document) -> Result<Document> {
        let reference = self.reference;
        #[derive(serde::Deserialize)]
        struct Index {
            manifests: Vec<IndexEntry>,
        }
        let index: Index = serde_json::from_slice(&index.bytes).map_err(|e| Error::BadResponse {
            registry: self.client.registry.clone(),
            what: format!("image index for {reference}"),
            detail: e.to_string(),
        })?;
        let want = self.opts.platform.clone().unwrap_or_else(Platform::host);
        let entry = platform::choose(&index.manifests, &want).ok_or_else(|| Error::NoPlatform {
            reference: reference.to_string(),
            wanted: want.to_string(),
            available: platform::describe(&index.manifests),
        })?;
        let chosen = fetch_manifest(self.client, &self.repo, &self.scopes, entry.digest.as_str(), reference)?;
        if chosen.digest != entry.digest {
            return Err(Error::BadResponse {
                registry: self.client.registry.clone(),
                what: format!("manifest {} of {reference}", entry.digest),
                detail: format!("its content hashes to {}", chosen.digest),
            });
        }
        Ok(chosen)
    }

    /// The layers whose blob and directory are both in the store already
    /// staged as they are, and the indices of the others.
    fn present_layers(&self, layers: &[Descriptor], diff_ids: &[Digest]) -> (Slots, Vec<usize>) {
        let chains = chain_ids(diff_ids);
        let mut slots: Slots = Vec::new();
        let mut todo = Vec::new();
        for (i, layer) in layers.iter().enumerate() {
            if self.store.has_blob(&layer.digest) && self.store.layer_dir(&chains[i]).is_dir() {
                self.progress.say(&format!("Copying blob {} skipped: already exists", layer.digest.short()));
                slots.push(Some(Ok(StagedLayer::present(layer, diff_ids[i].clone()))));
            } else {
                slots.push(None);
                todo.push(i);
            }
        }
        (slots, todo)
    }

    /// Download and unpack the layers `todo`, `PARALLEL` at a time, into
    /// their slots. The first failure cancels the other downloads and is
    /// the error.
    fn download(&self, layers: &[Descriptor], todo: &[usize], downloads: &Path, slots: &mut Slots) -> Result<()> {
        let cancel = AtomicBool::new(false);
        let image_name = self.reference.to_string();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<(usize, Result<StagedLayer>)>> = Mutex::new(Vec::new());
        std::thread::scope(|s| {
            for _ in 0..PARALLEL.min(todo.len()) {
                s.spawn(|| loop {
                    let k = next.fetch_add(1, Ordering::SeqCst);
                    let Some(&i) = todo.get(k) else { break };
                    if cancel.load(Ordering::SeqCst) {
                        break;
                    }
                    let layer = &layers[i];
                    let job = LayerJob {
                        image: &image_name,
                        store: self.store,
                        client: self.client,
                        repo: &self.repo,
                        scopes: &self.scopes,
                        desc: layer,
                        downloads,
                        opts: self.opts,
                        progress: self.progress,
                        cancel: &cancel,
                    };
                    let r = job.run().map_err(|e| match e {
                        Error::Image(source) => {
                            Error::Layer { image: self.reference.to_string(), layer: layer.digest.clone(), source: Box::new(source) }
                        }
                        other => other,
                    });
                    if r.is_err() {
                        cancel.store(true, Ordering::SeqCst);
                    }
                    results.lock().unwrap().push((i, r));
                });
            }
        });
        self.progress.clear();
        let mut first_err = None;
        for (i, r) in results.into_inner().unwrap() {
            match r {
                Err(e) if first_err.is_none() && !matches!(e, Error::Download { ref detail, .. } if detail == CANCELLED) => {
                    first_err = Some(e)
                }
                other => slots[i] = Some(other),
            }
        }
        first_err.map_or(Ok(()), Err)
    }

    /// The staged layers in manifest order, and how many files' owners
    /// their unpacking squashed.
    fn staged(&self, layers: &[Descriptor], slots: Slots) -> Result<(Vec<StagedLayer>, u64)> {
        let mut staged = Vec::new();
        let mut squashed = 0;
        for (i, s) in slots.into_iter().enumerate() {
            let l = s.unwrap_or_else(|| {
                Err(Error::Download { image: self.reference.to_string(), layer: layers[i].digest.clone(), detail: CANCELLED.into() })
            })?;
            squashed += l.report.as_ref().map_or(0, |r| r.squashed_owners);
            staged.push(l);
        }
        Ok((staged, squashed))
    }
}

const CANCELLED: &str = "cancelled because another layer failed";

fn check_single_platform(
    store: &Store,
    client: &Client,
    repo: &str,
    scopes: &[String],
    doc: &Document,
    want: &Platform,
    reference: &Reference,
) -> Result<()> {
    let manifest: Manifest = serde_json::from_slice(&doc.bytes).map_err(|e| Error::BadResponse {
        registry: client.registry.clone(),
        what: format!("manifest for {reference}"),
        detail: e.to_string(),
    })?;
    let config = fetch_config(store, client, repo, scopes, &manifest.config, reference)?;
    #[derive(serde::Deserialize)]
    struct C {
        #[serde(default)]
        os: String,
        #[serde(default)]
        architecture: String,
        #[serde(default)]
        variant: Option<String>,
    }
    let c: C = serde_json::from_slice(&config).map_err(|e| Error::BadResponse {
        registry: client.registry.clone(),
        what: format!("config of {reference}"),
        detail: e.to_string(),
    })?;
    let have = Platform { os: c.os, architecture: c.architecture, variant: c.variant };
    let matches = have.os == want.os
        && Platform::parse(&have.architecture).map(|p| p.architecture).unwrap_or_default() == want.architecture
        && (want.variant.is_none() || want.variant == have.variant);
    if !matches {
        return Err(Error::NoPlatform { reference: reference.to_string(), wanted: want.to_string(), available: have.to_string() });
    }
    Ok(())
}

fn fetch_manifest(client: &Client, repo: &str, scopes: &[String], target: &str, reference: &Reference) -> Result<Document> {
    let path = format!("/v2/{repo}/manifests/{target}");
    let r = client.send(Method::GET, &path, scopes, &|b| b.header(ACCEPT, ACCEPTED))?;
    match r.status() {
        s if s.is_success() => {}
        StatusCode::NOT_FOUND => {
            return Err(Error::ManifestUnknown { registry: client.registry.clone(), reference: reference.to_string() })
        }
        s => return Err(client.status_error(&format!("GET manifest {target} of {repo}"), s, r)),
    }
    let header_type =
        r.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(|v| v.split(';').next().unwrap_or(v).trim().to_string());
    let bytes = read_limited(r, MAX_DOCUMENT).map_err(|detail| Error::BadResponse {
        registry: client.registry.clone(),
        what: format!("manifest for {reference}"),
        detail,
    })?;
    #[derive(serde::Deserialize)]
    struct Probe {
        #[serde(rename = "mediaType")]
        media_type: Option<String>,
        manifests: Option<serde_json::Value>,
        #[serde(rename = "schemaVersion")]
        schema_version: Option<u32>,
    }
    let probe: Probe = serde_json::from_slice(&bytes).map_err(|e| Error::BadResponse {
        registry: client.registry.clone(),
        what: format!("manifest for {reference}"),
        detail: format!("not JSON: {e}"),
    })?;
    let media_type = probe.media_type.or(header_type.filter(|t| t.starts_with("application/vnd."))).unwrap_or_else(|| {
        match (probe.manifests.is_some(), probe.schema_version) {
            (true, _) => MEDIA_INDEX.to_string(),
            (false, Some(1)) => DOCKER_SCHEMA1.to_string(),
            _ => MEDIA_MANIFEST.to_string(),
        }
    });
    let known = [MEDIA_INDEX, DOCKER_LIST, MEDIA_MANIFEST, DOCKER_MANIFEST];
    if !known.contains(&media_type.as_str()) && !media_type.contains("manifest.v1") {
        return Err(Error::BadResponse {
            registry: client.registry.clone(),
            what: format!("manifest for {reference}"),
            detail: format!("media type {media_type} is not an image (it may be an artifact)"),
        });
    }
    Ok(Document { digest: Digest::of_bytes(&bytes), bytes, media_type })
}

fn read_limited(r: impl Read, max: u64) -> std::result::Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    r.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("reading it failed: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!("it is larger than {max} bytes"));
    }
    Ok(bytes)
}

fn fetch_config(
    store: &Store,
    client: &Client,
    repo: &str,
    scopes: &[String],
    desc: &Descriptor,
    reference: &Reference,
) -> Result<Vec<u8>> {
    if store.has_blob(&desc.digest) {
        if let Ok(b) = store.read_blob(&desc.digest) {
            if Digest::of_bytes(&b) == desc.digest {
                return Ok(b);
            }
        }
    }
    if desc.size > MAX_DOCUMENT {
        return Err(Error::BadResponse {
            registry: client.registry.clone(),
            what: format!("config of {reference}"),
            detail: format!("the manifest says it is {} bytes, more than burrow accepts for a config", desc.size),
        });
    }
    let path = format!("/v2/{repo}/blobs/{}", desc.digest);
    let r = client.send(Method::GET, &path, scopes, &|b| b)?;
    if !r.status().is_success() {
        let s = r.status();
        return Err(client.status_error(&format!("GET config {} of {repo}", desc.digest), s, r));
    }
    let bytes = read_limited(r, MAX_DOCUMENT).map_err(|detail| Error::BadResponse {
        registry: client.registry.clone(),
        what: format!("config of {reference}"),
        detail,
    })?;
    let found = Digest::of_bytes(&bytes);
    if found != desc.digest {
        return Err(Error::Image(crate::image::Error::DigestMismatch { expected: desc.digest.clone(), found }));
    }
    Ok(bytes)
}

/// Did `e` come from a full disk (ENOSPC, or EDQUOT for a quota)?
fn is_disk_full(e: &Error) -> bool {
    let mut cur: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(c) = cur {
        if let Some(io) = c.downcast_ref::<io::Error>() {
            if matches!(io.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT)) {
                return true;
            }
        }
        cur = c.source();
    }
    let text = e.to_string();
    text.contains("os error 28") || text.contains("os error 122")
}

/// One layer to download and unpack.
struct LayerJob<'a> {
    /// The full reference, for messages.
    image: &'a str,
    store: &'a Store,
    client: &'a Client,
    repo: &'a str,
    scopes: &'a [String],
    desc: &'a Descriptor,
    downloads: &'a Path,
    opts: &'a PullOptions,
    progress: &'a Progress,
    cancel: &'a AtomicBool,
}

/// Why a network read failed, remembered so a retry can tell a broken
/// connection (resume) from bad content (give up).
#[derive(Default)]
struct NetFailure {
    /// The connection broke: resume.
    network: Mutex<Option<String>>,
    /// The registry sent more bytes than the manifest's size: the
    /// manifest does not describe the blob, give up (the unpack's own
    /// error about the cut-off stream would only mislead).
    oversize: AtomicBool,
}

/// Appends what the body delivers to the partial file, refusing more
/// bytes than the manifest promised.
struct Appender<'a, R> {
    body: R,
    file: &'a File,
    left: u64,
    digest: &'a Digest,
    progress: &'a Progress,
    cancel: &'a AtomicBool,
    failure: &'a NetFailure,
}

impl<R: Read> Read for Appender<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.cancel.load(Ordering::Relaxed) {
            // Not `Interrupted`: readers retry that forever.
            return Err(io::Error::other(CANCELLED));
        }
        let n = match self.body.read(buf) {
            Ok(n) => n,
            Err(e) => {
                *self.failure.network.lock().unwrap() = Some(super::client::chain(&e));
                return Err(e);
            }
        };
        if n as u64 > self.left {
            self.failure.oversize.store(true, Ordering::Relaxed);
            return Err(io::Error::new(io::ErrorKind::InvalidData, "the registry sent more bytes than the manifest says the layer has"));
        }
        self.left -= n as u64;
        (&mut &*self.file).write_all(&buf[..n])?;
        self.progress.advance(self.digest, n as u64);
        Ok(n)
    }
}

impl LayerJob<'_> {
    fn run(&self) -> Result<StagedLayer> {
        let d = &self.desc.digest;
        if self.store.has_blob(d) {
            // The blob is here but its directory is not: unpack it again.
            return Ok(ingest::stage_layer_stored(self.store, self.desc, &self.opts.unpack)?);
        }
        let part = self.downloads.join(format!("{}.partial", d.hex()));
        match self.lock_partial(&part)? {
            Some(file) => self.download(&file, &part),
            // Another pull finished this blob while we waited.
            None => Ok(ingest::stage_layer_stored(self.store, self.desc, &self.opts.unpack)?),
        }
    }

    /// Open and lock the partial file `part`, waiting for a pull that has
    /// it locked; `None` when that pull committed the blob meanwhile.
    fn lock_partial(&self, part: &Path) -> Result<Option<Flock<File>>> {
        let file = OpenOptions::new().read(true).append(true).create(true).open(part).map_err(|source| Error::Io {
            op: "open",
            path: part.to_path_buf(),
            source,
        })?;
        let file = Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| Error::Io {
            op: "lock",
            path: part.to_path_buf(),
            source: e.into(),
        })?;
        // Another pull may have finished this blob while we waited.
        let same = fs::metadata(part).ok().map(|m| (m.dev(), m.ino()));
        let ours = file.metadata().ok().map(|m| (m.dev(), m.ino()));
        if same == ours {
            return Ok(Some(file));
        }
        if self.store.has_blob(&self.desc.digest) {
            return Ok(None);
        }
        Err(self.failed("another command moved the partial download away; pull again".into()))
    }

    /// Fetch the rest of the layer into `file` (the locked `part`) and
    /// stage it, resuming after a broken connection up to `ATTEMPTS` times.
    fn download(&self, file: &File, part: &Path) -> Result<StagedLayer> {
        let d = &self.desc.digest;
        let io_err = |op: &'static str| move |source| Error::Io { op, path: part.to_path_buf(), source };
        let mut started = false;
        let mut attempt = 0;
        loop {
            let have = file.metadata().map_err(io_err("stat"))?.len();
            if have > self.desc.size {
                file.set_len(0).map_err(io_err("truncate"))?;
                continue;
            }
            if !started {
                self.progress.start("Copying", d, self.desc.size, have);
                started = true;
            } else {
                self.progress.reset(d, have);
            }
            let failure = NetFailure::default();
            let e = match self.attempt(file, part, have, &failure) {
                Ok(staged) => {
                    self.progress.finish("Copying", d);
                    return Ok(staged);
                }
                Err(e) => e,
            };
            let network = failure.network.lock().unwrap().take();
            let retry = network.is_some() || matches!(e, Error::Unreachable { .. });
            if self.cancel.load(Ordering::Relaxed) {
                return Err(self.failed(CANCELLED.into()));
            }
            if !retry {
                return Err(self.discard(e, &failure, file, part));
            }
            attempt += 1;
            if attempt >= ATTEMPTS {
                let last = network.unwrap_or_else(|| e.to_string());
                return Err(self.failed(format!(
                    "the download from {} failed {attempt} times, last: {last}; run the pull again to resume where it stopped",
                    self.client.registry
                )));
            }
            tracing::debug!(layer = %d, "download failed ({e}); resuming");
            std::thread::sleep(std::time::Duration::from_millis(300 << attempt.min(4)));
        }
    }

    /// Bad bytes (wrong digest, corrupt data): never resume from them. A
    /// full disk: give the space back. Either way the partial file goes;
    /// the error says why.
    fn discard(&self, e: Error, failure: &NetFailure, file: &File, part: &Path) -> Error {
        let _ = file.set_len(0);
        let _ = fs::remove_file(part);
        if failure.oversize.load(Ordering::Relaxed) {
            return self.failed(format!(
                "the registry sent more bytes than the manifest says the layer has ({} bytes): the manifest does not describe this blob; nothing was stored",
                self.desc.size
            ));
        }
        if is_disk_full(&e) {
            return self.failed(format!(
                "the disk holding {} is full (no space left on device): free some space (burrow image prune removes unused images) and pull again",
                self.store.paths().root.display()
            ));
        }
        e
    }

    /// This layer's download failed: `detail` says how.
    fn failed(&self, detail: String) -> Error {
        Error::Download { image: self.image.to_string(), layer: self.desc.digest.clone(), detail }
    }

    fn attempt(&self, file: &File, part: &Path, have: u64, failure: &NetFailure) -> Result<StagedLayer> {
        let d = &self.desc.digest;
        let path = format!("/v2/{}/blobs/{d}", self.repo);
        let mut have = have;
        let body: Option<reqwest::blocking::Response> = if have < self.desc.size {
            let range = format!("bytes={have}-");
            let r = self.client.send(Method::GET, &path, self.scopes, &|b| if have > 0 { b.header(RANGE, range.as_str()) } else { b })?;
            match r.status() {
                StatusCode::PARTIAL_CONTENT => {
                    let start = r
                        .headers()
                        .get(CONTENT_RANGE)
                        .and_then(|v| v.to_str().ok())
                        .and_then(|v| v.strip_prefix("bytes "))
                        .and_then(|v| v.split('-').next())
                        .and_then(|v| v.parse::<u64>().ok());
                    if start != Some(have) {
                        file.set_len(0).map_err(|source| Error::Io { op: "truncate", path: part.to_path_buf(), source })?;
                        *failure.network.lock().unwrap() = Some("the registry answered a different range".into());
                        return Err(Error::Unreachable { registry: self.client.registry.clone(), detail: "range mismatch".into() });
                    }
                    Some(r)
                }
                s if s.is_success() => {
                    if have > 0 {
                        // No range support: start over.
                        file.set_len(0).map_err(|source| Error::Io { op: "truncate", path: part.to_path_buf(), source })?;
                        have = 0;
                        self.progress.reset(d, 0);
                    }
                    Some(r)
                }
                StatusCode::RANGE_NOT_SATISFIABLE => {
                    file.set_len(0).map_err(|source| Error::Io { op: "truncate", path: part.to_path_buf(), source })?;
                    *failure.network.lock().unwrap() = Some("the registry refused the range".into());
                    return Err(Error::Unreachable { registry: self.client.registry.clone(), detail: "range refused".into() });
                }
                s => return Err(self.client.status_error(&format!("GET layer {d} of {}", self.repo), s, r)),
            }
        } else {
            None
        };
        let mut prefix = File::open(part).map_err(|source| Error::Io { op: "open", path: part.to_path_buf(), source })?;
        prefix.seek(SeekFrom::Start(0)).map_err(|source| Error::Io { op: "seek", path: part.to_path_buf(), source })?;
        let prefix = io::BufReader::with_capacity(1 << 20, prefix.take(have));
        let input: Box<dyn Read> = match body {
            Some(b) => Box::new(prefix.chain(Appender {
                body: b,
                file,
                left: self.desc.size - have,
                digest: d,
                progress: self.progress,
                cancel: self.cancel,
                failure,
            })),
            None => Box::new(prefix),
        };
        Ok(ingest::stage_layer_file(self.store, self.desc, input, part.to_path_buf(), &self.opts.unpack)?)
    }
}
