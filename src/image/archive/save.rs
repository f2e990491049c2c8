//! `burrow save`: images of the store into one docker-archive or
//! oci-archive, streamed to any writer.
//!
//! The store's shared lock is held throughout, so no blob disappears
//! while it is written. Every blob is streamed from its file into the tar
//! and hashed on the way; a blob whose content does not match its digest
//! fails the save (the caller removes its temp file). docker-archive
//! members: per layer `<diff id hex>/layer.tar` (uncompressed, written
//! once however many images share it; a compressed blob is decompressed
//! into a temp file under `tmp/` first, since a tar header needs the size,
//! and checked against the diff id), per image `<config hex>.json`, and
//! `manifest.json` last with the names the user asked for, in full
//! (`docker.io/library/busybox:latest`) as podman writes them: docker
//! reads both forms, podman turns a short `busybox:latest` into
//! `localhost/busybox:latest`. oci-archive members: `oci-layout`, `index.json` (one
//! descriptor per name, annotated with the full name both as
//! `org.opencontainers.image.ref.name` and `io.containerd.image.name`; an
//! image saved by id has one descriptor without a name), and each blob
//! once, as stored. As in docker, an image named by id is saved without
//! names. Member times are zero, so one image always gives the same bytes.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufReader, Read, Write};
use std::path::Path;

use serde_json::json;

use super::{oci, Error, Format, Result, CONTAINERD_NAME_ANNOTATION};
use crate::image::compress;
use crate::image::digest::{Digest, HashingReader};
use crate::image::fsutil;
use crate::image::layout::{Descriptor, Index, OCI_LAYOUT};
use crate::image::{Image, Reference, Store, REF_NAME_ANNOTATION};

/// Save the images `names` (names or ids) to `out` in `format`.
pub fn save(store: &Store, names: &[String], format: Format, out: impl Write) -> Result<()> {
    let _lock = store.lock_shared()?;
    let images = resolve(store, names)?;
    let mut tar = tar::Builder::new(out);
    match format {
        Format::DockerArchive => write_docker(store, &images, &mut tar)?,
        Format::OciArchive => write_oci(store, &images, &mut tar)?,
    }
    tar.into_inner().and_then(|mut w| w.flush()).map_err(|source| Error::Write { source })
}

/// The images asked for, each once, with the full names given for it.
fn resolve(store: &Store, names: &[String]) -> Result<Vec<(Image, Vec<String>)>> {
    let mut out: Vec<(Image, Vec<String>)> = Vec::new();
    for n in names {
        let image = store.resolve(n)?;
        let by_name = Reference::parse(n).ok().map(|r| r.to_string()).filter(|full| image.names.contains(full));
        let slot = match out.iter().position(|(i, _)| i.id == image.id) {
            Some(p) => p,
            None => {
                out.push((image, Vec::new()));
                out.len() - 1
            }
        };
        if let Some(full) = by_name {
            if !out[slot].1.contains(&full) {
                out[slot].1.push(full);
            }
        }
    }
    Ok(out)
}

fn header(size: u64, mode: u32, kind: tar::EntryType) -> tar::Header {
    let mut h = tar::Header::new_ustar();
    h.set_entry_type(kind);
    h.set_size(size);
    h.set_mode(mode);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(0);
    h
}

fn write_err(source: io::Error) -> Error {
    Error::Write { source }
}

fn append_bytes<W: Write>(tar: &mut tar::Builder<W>, name: &str, bytes: &[u8]) -> Result<()> {
    let mut h = header(bytes.len() as u64, 0o644, tar::EntryType::Regular);
    tar.append_data(&mut h, name, bytes).map_err(write_err)
}

fn append_dir<W: Write>(tar: &mut tar::Builder<W>, name: &str) -> Result<()> {
    let mut h = header(0, 0o755, tar::EntryType::Directory);
    tar.append_data(&mut h, name, io::empty()).map_err(write_err)
}

/// Stream the file `path` into the archive as `name`, checking that its
/// content hashes to `expect`.
fn append_verified<W: Write>(tar: &mut tar::Builder<W>, name: &str, path: &Path, expect: &Digest) -> Result<()> {
    let f = File::open(path).map_err(Error::io("open", path))?;
    let size = f.metadata().map_err(Error::io("stat", path))?.len();
    let mut h = header(size, 0o644, tar::EntryType::Regular);
    let mut reader = HashingReader::new(BufReader::with_capacity(1 << 20, f).take(size));
    tar.append_data(&mut h, name, &mut reader).map_err(write_err)?;
    let (found, n) = reader.finish().map_err(Error::io("read", path))?;
    if found != *expect || n != size {
        return Err(Error::CorruptBlob { digest: expect.clone(), found });
    }
    Ok(())
}

/// Removes a temp file on drop.
struct TempFile(std::path::PathBuf);

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// A layer as an uncompressed tar in the archive: the blob itself when
/// it is one, else decompressed into a temp file and checked against the
/// diff id.
fn append_layer<W: Write>(store: &Store, tar: &mut tar::Builder<W>, name: &str, blob: &Descriptor, diff_id: &Digest) -> Result<()> {
    let path = store.blob_path(&blob.digest);
    if blob.digest == *diff_id {
        return append_verified(tar, name, &path, diff_id);
    }
    let f = File::open(&path).map_err(Error::io("open", &path))?;
    let (_, mut plain) = compress::decompress(BufReader::with_capacity(1 << 20, f)).map_err(Error::io("read", &path))?;
    let tmp = TempFile(fsutil::temp_path(&store.paths().tmp(), "save"));
    let out = File::create(&tmp.0).map_err(Error::io("create", &tmp.0))?;
    let mut out = io::BufWriter::with_capacity(1 << 20, out);
    io::copy(&mut plain, &mut out).map_err(Error::io("decompress", &path))?;
    out.into_inner().map_err(|e| Error::Io { op: "write", path: tmp.0.clone(), source: e.into_error() })?;
    append_verified(tar, name, &tmp.0, diff_id)
}

fn write_docker<W: Write>(store: &Store, images: &[(Image, Vec<String>)], tar: &mut tar::Builder<W>) -> Result<()> {
    let mut written: HashSet<Digest> = HashSet::new();
    let mut manifest = Vec::new();
    for (image, names) in images {
        let mut layers = Vec::new();
        for l in &image.layers {
            let dir = l.diff_id.hex().to_string();
            let member = format!("{dir}/layer.tar");
            if written.insert(l.diff_id.clone()) {
                append_dir(tar, &format!("{dir}/"))?;
                append_layer(store, tar, &member, &l.blob, &l.diff_id)?;
            }
            layers.push(member);
        }
        let config = format!("{}.json", image.id.hex());
        if written.insert(image.id.clone()) {
            append_verified(tar, &config, &store.blob_path(&image.id), &image.id)?;
        }
        let tags: Vec<&String> = names.iter().collect();
        manifest.push(json!({
            "Config": config,
            "RepoTags": if tags.is_empty() { serde_json::Value::Null } else { json!(tags) },
            "Layers": layers,
        }));
    }
    let bytes = serde_json::to_vec(&manifest).map_err(|source| crate::image::Error::Encode { what: "manifest.json", source })?;
    append_bytes(tar, "manifest.json", &bytes)
}

fn write_oci<W: Write>(store: &Store, images: &[(Image, Vec<String>)], tar: &mut tar::Builder<W>) -> Result<()> {
    let mut index = Index::default();
    for (image, names) in images {
        let m = image
            .manifests
            .first()
            .cloned()
            .unwrap_or_else(|| Descriptor::new(crate::image::layout::MEDIA_MANIFEST, image.manifest_digest.clone(), 0));
        let base = Descriptor::new(&m.media_type, m.digest.clone(), m.size);
        if names.is_empty() {
            index.manifests.push(base.clone());
        }
        for n in names {
            let mut d = base.clone();
            d.annotations.insert(REF_NAME_ANNOTATION.to_string(), n.clone());
            d.annotations.insert(CONTAINERD_NAME_ANNOTATION.to_string(), n.clone());
            index.manifests.push(d);
        }
    }
    append_bytes(tar, oci::LAYOUT, OCI_LAYOUT.as_bytes())?;
    let bytes = serde_json::to_vec(&index).map_err(|source| crate::image::Error::Encode { what: "index.json", source })?;
    append_bytes(tar, oci::INDEX, &bytes)?;
    append_dir(tar, "blobs/")?;
    append_dir(tar, "blobs/sha256/")?;
    let mut written: HashSet<Digest> = HashSet::new();
    for (image, _) in images {
        let blobs = std::iter::once(&image.manifest_digest)
            .chain(std::iter::once(&image.id))
            .chain(image.manifest.layers.iter().map(|l| &l.digest));
        for d in blobs {
            if written.insert(d.clone()) {
                append_verified(tar, &oci::blob_name(d), &store.blob_path(d), d)?;
            }
        }
    }
    Ok(())
}
