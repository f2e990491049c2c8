//! `burrow push`: blobs first, each only if the registry lacks it, the
//! manifest last.
//!
//! For every layer blob and the config: `HEAD` says whether the
//! repository has it already; if not, and another repository of the same
//! registry is known to have it (a local image named there contains it),
//! a cross-repository mount (`POST .../uploads/?mount=D&from=REPO`) makes
//! the registry link it without any bytes moving; otherwise the blob is
//! uploaded, monolithically (one `PUT` with the body) up to the chunk
//! size and in `PATCH` chunks with `Content-Range` beyond it, always from
//! the store's file. Blobs go up in parallel. The manifest is pushed
//! exactly as it is stored, so its digest, printed at the end, is the one
//! a later `pull NAME@DIGEST` asks for. A push that fails before the
//! manifest leaves only unreferenced blobs in the registry.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

use reqwest::blocking::Body;
use reqwest::header::{CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, LOCATION};
use reqwest::{Method, StatusCode};

use super::client::{pull_scope, push_scope, Client};
use super::config::{Conf, Options};
use super::creds::AuthFiles;
use super::error::{Error, Result};
use super::progress::Progress;
use crate::image::layout::Descriptor;
use crate::image::{Digest, Reference, Store};

const PARALLEL: usize = 4;

#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    pub conn: Options,
    pub authfile: Option<PathBuf>,
    /// Blobs larger than this go up in chunks of this size
    /// (`BURROW_PUSH_CHUNK_SIZE`, default 64 MiB).
    pub chunk_size: u64,
}

impl PushOptions {
    pub fn default_chunk_size() -> u64 {
        std::env::var("BURROW_PUSH_CHUNK_SIZE").ok().and_then(|v| v.parse().ok()).filter(|n| *n > 0).unwrap_or(64 << 20)
    }
}

#[derive(Debug, Clone)]
pub struct PushResult {
    pub name: String,
    pub digest: Digest,
    pub size: u64,
    pub uploaded: usize,
    pub mounted: usize,
    pub existed: usize,
}

/// What happened to one blob.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Outcome {
    Existed,
    Mounted,
    Uploaded,
}

/// Push the local image `image` to `dest` (default: the name `image`
/// was given by).
pub fn push(store: &Store, conf: &Conf, image: &str, dest: Option<&str>, opts: &PushOptions, progress: &Progress) -> Result<PushResult> {
    let img = store.resolve(image)?;
    let target = match dest {
        Some(d) => conf.resolve(d)?,
        None => {
            let parsed = conf.resolve(image).ok().map(|r| r.to_string());
            let name =
                parsed.filter(|n| img.names.contains(n)).or_else(|| img.names.first().cloned()).ok_or_else(|| Error::BadResponse {
                    registry: "-".into(),
                    what: format!("image {image}"),
                    detail: "it has no name to push to: give a destination, burrow push IMAGE REGISTRY/REPO:TAG".into(),
                })?;
            Reference::parse(&name)?
        }
    };
    if target.digest().is_some() {
        return Err(crate::image::Error::DigestTag { name: target.to_string() }.into());
    }
    let auth = AuthFiles::resolve(opts.authfile.as_deref());
    let endpoint = conf.push_endpoint(target.domain(), &opts.conn);
    let client = Client::connect(target.domain(), &endpoint, auth.lookup(target.domain())?, &opts.conn)?;
    let repo = target.path().to_string();
    let sources = mount_sources(store, target.domain(), &repo);
    progress.say(&format!("Pushing {target}"));

    let manifest_media = img.manifests[0].media_type.clone();
    let manifest_bytes = store.read_blob(&img.manifest_digest)?;
    let mut blobs: Vec<Descriptor> = img.layers.iter().map(|l| l.blob.clone()).collect();
    blobs.push(img.manifest.config.clone());
    let job = Job { store, client: &client, repo: &repo, sources: &sources, opts, progress };
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Result<Outcome>>> = Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..PARALLEL.min(blobs.len()) {
            s.spawn(|| loop {
                let k = next.fetch_add(1, Ordering::SeqCst);
                let Some(b) = blobs.get(k) else { break };
                let r = job.blob(b);
                let failed = r.is_err();
                results.lock().unwrap().push(r);
                if failed {
                    next.store(usize::MAX / 2, Ordering::SeqCst);
                }
            });
        }
    });
    progress.clear();
    let mut counts = HashMap::new();
    for r in results.into_inner().unwrap() {
        *counts.entry(r?).or_insert(0) += 1;
    }
    progress.say("Writing manifest to image destination");
    let tag = target.tag().unwrap_or("latest").to_string();
    let scopes = [push_scope(&repo)];
    let body = manifest_bytes.clone();
    let r = client.send(Method::PUT, &format!("/v2/{repo}/manifests/{tag}"), &scopes, &|b| {
        b.header(CONTENT_TYPE, manifest_media.as_str()).body(body.clone())
    })?;
    if !r.status().is_success() {
        let s = r.status();
        return Err(client.status_error(&format!("PUT manifest {tag} of {repo}"), s, r));
    }
    Ok(PushResult {
        name: target.to_string(),
        digest: Digest::of_bytes(&manifest_bytes),
        size: manifest_bytes.len() as u64,
        uploaded: counts.get(&Outcome::Uploaded).copied().unwrap_or(0),
        mounted: counts.get(&Outcome::Mounted).copied().unwrap_or(0),
        existed: counts.get(&Outcome::Existed).copied().unwrap_or(0),
    })
}

/// For every blob of a local image named in another repository of
/// `domain`, those repositories.
fn mount_sources(store: &Store, domain: &str, repo: &str) -> HashMap<Digest, Vec<String>> {
    let mut out: HashMap<Digest, Vec<String>> = HashMap::new();
    let Ok(list) = store.list() else { return out };
    for summary in list {
        for name in &summary.names {
            let Ok(r) = Reference::parse(name) else { continue };
            if r.domain() != domain || r.path() == repo {
                continue;
            }
            let Ok(img) = store.resolve(name) else { continue };
            for b in img.layers.iter().map(|l| &l.blob.digest).chain([&img.manifest.config.digest]) {
                let v = out.entry(b.clone()).or_default();
                if !v.iter().any(|x| x == r.path()) {
                    v.push(r.path().to_string());
                }
            }
        }
    }
    out
}

struct Job<'a> {
    store: &'a Store,
    client: &'a Client,
    repo: &'a str,
    sources: &'a HashMap<Digest, Vec<String>>,
    opts: &'a PushOptions,
    progress: &'a Progress,
}

impl Job<'_> {
    fn blob(&self, desc: &Descriptor) -> Result<Outcome> {
        let d = &desc.digest;
        let scopes = vec![push_scope(self.repo)];
        let head = self.client.send(Method::HEAD, &format!("/v2/{}/blobs/{d}", self.repo), &scopes, &|b| b)?;
        if head.status().is_success() {
            self.progress.say(&format!("Copying blob {} skipped: already exists", d.short()));
            return Ok(Outcome::Existed);
        }
        let mut location = None;
        for src in self.sources.get(d).into_iter().flatten() {
            let scopes = vec![push_scope(self.repo), pull_scope(src)];
            let url = format!("/v2/{}/blobs/uploads/?mount={d}&from={src}", self.repo);
            let r = self.client.send(Method::POST, &url, &scopes, &|b| b.header(CONTENT_LENGTH, "0"))?;
            match r.status() {
                StatusCode::CREATED => {
                    self.progress.say(&format!("Copying blob {} mounted from {src}", d.short()));
                    return Ok(Outcome::Mounted);
                }
                StatusCode::ACCEPTED => {
                    location = Some(self.location(&r)?);
                    break;
                }
                _ => {}
            }
        }
        let location = match location {
            Some(l) => l,
            None => {
                let r = self
                    .client
                    .send(Method::POST, &format!("/v2/{}/blobs/uploads/", self.repo), &scopes, &|b| b.header(CONTENT_LENGTH, "0"))?;
                if r.status() != StatusCode::ACCEPTED {
                    let s = r.status();
                    return Err(self.client.status_error(&format!("starting the upload of {d} to {}", self.repo), s, r));
                }
                self.location(&r)?
            }
        };
        let path = self.store.blob_path(d);
        self.progress.start("Copying", d, desc.size, 0);
        let r = if desc.size > self.opts.chunk_size {
            self.chunked(desc, &path, location, &scopes)
        } else {
            self.monolithic(desc, &path, location, &scopes)
        };
        self.progress.finish("Copying", d);
        r.map(|_| Outcome::Uploaded)
    }

    fn location(&self, r: &reqwest::blocking::Response) -> Result<String> {
        let loc = r.headers().get(LOCATION).and_then(|v| v.to_str().ok()).ok_or_else(|| Error::BadResponse {
            registry: self.client.registry.clone(),
            what: "upload session".into(),
            detail: "no Location header".into(),
        })?;
        Ok(if loc.starts_with("http://") || loc.starts_with("https://") {
            loc.to_string()
        } else {
            format!("{}{}", self.client.base(), loc)
        })
    }

    fn with_digest(location: &str, d: &Digest) -> String {
        let sep = if location.contains('?') { '&' } else { '?' };
        format!("{location}{sep}digest={d}")
    }

    fn monolithic(&self, desc: &Descriptor, path: &Path, location: String, scopes: &[String]) -> Result<()> {
        let url = Self::with_digest(&location, &desc.digest);
        let size = desc.size;
        let r = self.client.send(Method::PUT, &url, scopes, &|b| {
            let body = File::open(path).map(|f| Body::sized(f, size)).unwrap_or_else(|_| Body::from(Vec::new()));
            b.header(CONTENT_TYPE, "application/octet-stream").header(CONTENT_LENGTH, size).body(body)
        })?;
        if r.status() != StatusCode::CREATED && !r.status().is_success() {
            let s = r.status();
            return Err(self.client.status_error(&format!("uploading {}", desc.digest), s, r));
        }
        self.progress.advance(&desc.digest, size);
        Ok(())
    }

    fn chunked(&self, desc: &Descriptor, path: &Path, mut location: String, scopes: &[String]) -> Result<()> {
        let io = |source| Error::Io { op: "read", path: path.to_path_buf(), source };
        let mut f = File::open(path).map_err(io)?;
        let mut offset = 0u64;
        let mut buf = Vec::new();
        while offset < desc.size {
            let n = self.opts.chunk_size.min(desc.size - offset);
            buf.clear();
            f.seek(SeekFrom::Start(offset)).map_err(io)?;
            (&mut f).take(n).read_to_end(&mut buf).map_err(io)?;
            let range = format!("{}-{}", offset, offset + n - 1);
            let chunk = buf.clone();
            let r = self.client.send(Method::PATCH, &location, scopes, &|b| {
                b.header(CONTENT_TYPE, "application/octet-stream")
                    .header(CONTENT_RANGE, range.as_str())
                    .header(CONTENT_LENGTH, chunk.len())
                    .body(chunk.clone())
            })?;
            if r.status() != StatusCode::ACCEPTED {
                let s = r.status();
                return Err(self.client.status_error(&format!("uploading a chunk of {}", desc.digest), s, r));
            }
            location = self.location(&r)?;
            offset += n;
            self.progress.advance(&desc.digest, n);
        }
        let url = Self::with_digest(&location, &desc.digest);
        let r = self.client.send(Method::PUT, &url, scopes, &|b| b.header(CONTENT_LENGTH, "0"))?;
        if !r.status().is_success() {
            let s = r.status();
            return Err(self.client.status_error(&format!("finishing the upload of {}", desc.digest), s, r));
        }
        Ok(())
    }
}
