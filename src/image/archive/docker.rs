//! Reading a docker-archive: `manifest.json` into planned images.
//!
//! `manifest.json` is a JSON array with one object per image:
//! `{"Config": "<hex>.json", "RepoTags": ["busybox:latest"], "Layers":
//! ["<id>/layer.tar", ...]}` (docker 25 and later name members
//! `blobs/sha256/<hex>` instead; both are just member names here). The
//! layers are normally uncompressed tars; a gzip or zstd one is accepted
//! and its media type set from its magic bytes. Since the archive has no
//! manifest in the registry sense, an OCI manifest is made for the store
//! from the config and the layers' real digests and sizes. A member whose
//! name carries a digest (`<hex>.json`, `blobs/sha256/<hex>`) must match
//! it; everything else is verified by `ingest` (diff ids against the
//! config). This module only reads the spool; it does not change the
//! store.

use serde::Deserialize;

use super::load::Planned;
use super::spool::Spool;
use super::{Error, Result};
use crate::image::compress::{self, Compression};
use crate::image::digest::Digest;
use crate::image::layout::{Descriptor, Manifest, MEDIA_CONFIG, MEDIA_LAYER_GZIP, MEDIA_LAYER_TAR, MEDIA_LAYER_ZSTD, MEDIA_MANIFEST};
use crate::image::Reference;

pub(super) const MANIFEST: &str = "manifest.json";

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct Entry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

/// The digest a member's name promises, if it has the form
/// `blobs/sha256/<hex>` or `<hex>.json`.
pub(super) fn named_digest(name: &str) -> Option<Digest> {
    if let Some(hex) = name.strip_prefix("blobs/sha256/") {
        return Digest::from_hex(hex).ok();
    }
    let base = name.rsplit('/').next()?;
    Digest::from_hex(base.strip_suffix(".json")?).ok()
}

/// Check a member's content against the digest its name promises.
fn check_named(spool: &Spool, name: &str, found: &Digest) -> Result<()> {
    match named_digest(name) {
        Some(expected) if expected != *found => {
            Err(Error::DigestMismatch { archive: spool.archive.clone(), member: name.to_string(), expected, found: found.clone() })
        }
        _ => Ok(()),
    }
}

/// The layer media type of a member, from its first bytes.
fn layer_media_type(path: &std::path::Path) -> Result<&'static str> {
    use std::io::Read;
    let mut head = [0u8; 4];
    let mut f = std::fs::File::open(path).map_err(Error::io("open", path))?;
    let n = f.read(&mut head).map_err(Error::io("read", path))?;
    Ok(match compress::detect(&head[..n]) {
        Compression::None => MEDIA_LAYER_TAR,
        Compression::Gzip => MEDIA_LAYER_GZIP,
        Compression::Zstd => MEDIA_LAYER_ZSTD,
    })
}

pub(super) fn plan(spool: &Spool) -> Result<Vec<Planned>> {
    let (entries, _): (Vec<Entry>, _) = spool.read_json(MANIFEST, "the archive")?;
    let mut out = Vec::new();
    for (i, e) in entries.into_iter().enumerate() {
        let by = format!("image {} of {MANIFEST}", i + 1);
        let config = spool.get(&e.config, &by)?.clone();
        check_named(spool, &e.config, &config.digest)?;
        let config_bytes = spool.read_small(&e.config, &by)?;
        let mut layers = Vec::new();
        for name in &e.layers {
            let m = spool.get(name, &by)?.clone();
            check_named(spool, name, &m.digest)?;
            let media = layer_media_type(&m.path)?;
            let desc = Descriptor::new(media, m.digest.clone(), m.size);
            layers.push((m, desc));
        }
        let mut names = Vec::new();
        for t in e.repo_tags.unwrap_or_default() {
            let r = Reference::parse(&t).map_err(|err| spool.bad(MANIFEST, format!("RepoTags {t:?}: {err}")))?;
            names.push(r);
        }
        let manifest = Manifest::new(
            Descriptor::new(MEDIA_CONFIG, config.digest.clone(), config.size),
            layers.iter().map(|(_, d)| d.clone()).collect(),
        );
        let manifest_bytes =
            serde_json::to_vec(&manifest).map_err(|source| crate::image::Error::Encode { what: "the manifest", source })?;
        out.push(Planned { names, manifest_bytes, manifest_media_type: MEDIA_MANIFEST.to_string(), config_bytes, layers });
    }
    Ok(out)
}
