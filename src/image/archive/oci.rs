//! Reading an oci-archive: `index.json` into planned images.
//!
//! Each descriptor of `index.json` names a manifest blob
//! (`blobs/sha256/<hex>`); a nested image index (a multi-platform image)
//! is resolved to the manifest for this machine (linux and `oci_arch`).
//! The image's name comes from the `io.containerd.image.name` annotation
//! when present, else from `org.opencontainers.image.ref.name` when that
//! holds a repository (a `/` or `:`); a bare tag such as `latest`, as
//! `skopeo copy ... oci-archive:F:latest` writes, names no repository and
//! the image is loaded untagged. Several descriptors of one manifest give
//! one image with several names. Every blob's content is checked against
//! its digest here; the manifest is stored byte for byte, so the image
//! keeps its repo digest. This module only reads the spool.

use std::collections::BTreeMap;

use super::load::Planned;
use super::spool::{Member, Spool};
use super::{Error, Result, CONTAINERD_NAME_ANNOTATION};
use crate::image::digest::Digest;
use crate::image::import::oci_arch;
use crate::image::layout::{Descriptor, Index, Manifest, DOCKER_MANIFEST, MEDIA_INDEX, MEDIA_MANIFEST};
use crate::image::{Reference, REF_NAME_ANNOTATION};

pub(super) const INDEX: &str = "index.json";
pub(super) const LAYOUT: &str = "oci-layout";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

/// The member holding a blob.
pub(super) fn blob_name(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// The blob `d`, checked against its digest.
fn blob<'a>(spool: &'a Spool, d: &Digest, by: &str) -> Result<&'a Member> {
    let name = blob_name(d);
    let m = spool.get(&name, by)?;
    if m.digest != *d {
        return Err(Error::DigestMismatch { archive: spool.archive.clone(), member: name, expected: d.clone(), found: m.digest.clone() });
    }
    Ok(m)
}

/// The image name an index descriptor of `spool` carries, if any.
pub(super) fn name_of(spool: &Spool, d: &Descriptor) -> Result<Option<Reference>> {
    let Some(raw) = d
        .annotations
        .get(CONTAINERD_NAME_ANNOTATION)
        .or_else(|| d.annotations.get(REF_NAME_ANNOTATION).filter(|n| n.contains('/') || n.contains(':')))
    else {
        return Ok(None);
    };
    let bad = |source| Error::BadName { archive: spool.archive.clone(), member: INDEX, name: raw.clone(), source };
    Reference::parse(raw).map(Some).map_err(bad)
}

/// Follow a nested index to the manifest for this platform.
fn platform_manifest(spool: &Spool, d: &Descriptor, by: &str) -> Result<Descriptor> {
    let name = blob_name(&d.digest);
    blob(spool, &d.digest, by)?;
    let (index, _): (Index, _) = spool.read_json(&name, by)?;
    let arch = oci_arch();
    let platform =
        |m: &Descriptor, key: &str| m.extra.get("platform").and_then(|p| p.get(key)).and_then(|v| v.as_str()).map(str::to_string);
    index
        .manifests
        .into_iter()
        .find(|m| platform(m, "os").as_deref() == Some("linux") && platform(m, "architecture").as_deref() == Some(arch))
        .ok_or_else(|| Error::Unsupported {
            archive: spool.archive.clone(),
            what: format!("image index {} without a linux/{arch} manifest", d.digest),
        })
}

pub(super) fn plan(spool: &Spool) -> Result<Vec<Planned>> {
    if spool.has(LAYOUT) {
        let (layout, _): (serde_json::Value, _) = spool.read_json(LAYOUT, "the archive")?;
        let version = layout.get("imageLayoutVersion").and_then(|v| v.as_str()).unwrap_or("");
        if !version.starts_with("1.") {
            return Err(spool.bad(LAYOUT, format!("image layout version {version:?}, expected 1.x")));
        }
    }
    let (index, _): (Index, _) = spool.read_json(INDEX, "the archive")?;
    // Manifest digest → (descriptor, names), in index order.
    let mut order: Vec<Digest> = Vec::new();
    let mut images: BTreeMap<Digest, (Descriptor, Vec<Reference>)> = BTreeMap::new();
    for d in &index.manifests {
        let d = match d.media_type.as_str() {
            MEDIA_INDEX | DOCKER_LIST => {
                let mut m = platform_manifest(spool, d, INDEX)?;
                m.annotations = d.annotations.clone();
                m
            }
            MEDIA_MANIFEST | DOCKER_MANIFEST => d.clone(),
            other => {
                return Err(Error::Unsupported { archive: spool.archive.clone(), what: format!("an index entry of media type {other:?}") })
            }
        };
        let name = name_of(spool, &d)?;
        let slot = images.entry(d.digest.clone()).or_insert_with(|| {
            order.push(d.digest.clone());
            (d.clone(), Vec::new())
        });
        slot.1.extend(name);
    }
    let mut out = Vec::new();
    for digest in order {
        let Some((d, names)) = images.remove(&digest) else { continue };
        let by = format!("manifest {digest}");
        blob(spool, &d.digest, INDEX)?;
        let (manifest, manifest_bytes): (Manifest, _) = spool.read_json(&blob_name(&d.digest), INDEX)?;
        blob(spool, &manifest.config.digest, &by)?;
        let config_bytes = spool.read_small(&blob_name(&manifest.config.digest), &by)?;
        let mut layers = Vec::new();
        for l in &manifest.layers {
            layers.push((blob(spool, &l.digest, &by)?.clone(), l.clone()));
        }
        let media = manifest.media_type.clone().unwrap_or_else(|| d.media_type.clone());
        out.push(Planned { names, manifest_bytes, manifest_media_type: media, config_bytes, layers });
    }
    Ok(out)
}
