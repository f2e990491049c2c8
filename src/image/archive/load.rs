//! `burrow load`: the images of a docker-archive or oci-archive into the
//! store, all or nothing.
//!
//! The input may be gzip or zstd compressed as a whole. Its members are
//! spooled (`spool`), the format is recognized by its documents
//! (`manifest.json`: docker-archive, else `index.json`: oci-archive) and
//! read into `Planned` images. Then every layer of every image is staged
//! through `ingest::stage_layer_file` (digest and size checked against
//! its descriptor, tar unpacked into `tmp/`, diff id computed) and its
//! diff id compared with the config, before any image is committed: a bad
//! layer in the last image leaves the store untouched. A layer that is
//! already stored (an uncompressed blob whose digest is its diff id, with
//! its layer directory present) is not unpacked again. Commit is
//! `ingest::commit_image`, one image at a time, under the exclusive lock.

use std::io::{BufReader, Read};

use super::spool::{Member, Spool};
use super::{docker, oci, Error, Result};
use crate::image::compress;
use crate::image::digest::{chain_ids, Digest};
use crate::image::ingest::{self, StagedImage, StagedLayer};
use crate::image::layout::Descriptor;
use crate::image::{Reference, Store, UnpackOptions};

/// One image of an archive, read but not yet staged.
pub(super) struct Planned {
    pub names: Vec<Reference>,
    pub manifest_bytes: Vec<u8>,
    pub manifest_media_type: String,
    pub config_bytes: Vec<u8>,
    /// Bottom first: the spooled member and its descriptor.
    pub layers: Vec<(Member, Descriptor)>,
}

/// One loaded image.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub id: Digest,
    /// Full normalized names; empty for an untagged image.
    pub names: Vec<String>,
    /// Files whose owner could not be kept (see `UnpackReport`).
    pub squashed_owners: u64,
    /// Device nodes stored as placeholder files.
    pub devices: u64,
}

/// Load every image of the archive `input`; `archive` names it in errors.
pub fn load(store: &Store, input: impl Read, archive: &str, opts: &UnpackOptions) -> Result<Vec<Loaded>> {
    let (_, tar) = compress::decompress(input).map_err(|source| Error::Read { archive: archive.to_string(), source })?;
    let mut spool = Spool::read(store, tar, archive)?;
    let planned = if spool.has(docker::MANIFEST) {
        docker::plan(&spool)?
    } else if spool.has(oci::INDEX) {
        oci::plan(&spool)?
    } else {
        return Err(Error::UnknownContent { archive: archive.to_string() });
    };
    if planned.is_empty() {
        let doc = if spool.has(docker::MANIFEST) { docker::MANIFEST } else { oci::INDEX };
        return Err(spool.bad(doc, "it lists no image".into()));
    }
    let mut staged = Vec::new();
    for p in planned {
        staged.push(stage(store, &mut spool, p, opts)?);
    }
    let mut out = Vec::new();
    for (image, names, loaded) in staged {
        let ingest_err = |source| Error::Ingest { archive: archive.to_string(), source };
        let (id, _) = ingest::commit_image(store, image, &names).map_err(ingest_err)?;
        out.push(Loaded { id, names: names.iter().map(|n| n.to_string()).collect(), ..loaded });
    }
    Ok(out)
}

/// Stage one planned image's layers and check them against its config.
fn stage(store: &Store, spool: &mut Spool, p: Planned, opts: &UnpackOptions) -> Result<(StagedImage, Vec<Reference>, Loaded)> {
    let ingest_err = |source| Error::Ingest { archive: spool.archive.clone(), source };
    let diff_ids = ingest::config_diff_ids(&p.config_bytes).map_err(ingest_err)?;
    if diff_ids.len() != p.layers.len() {
        return Err(Error::Ingest {
            archive: spool.archive.clone(),
            source: crate::image::Error::Inconsistent {
                what: format!("the config lists {} diff ids for {} layers", diff_ids.len(), p.layers.len()),
            },
        });
    }
    let mut loaded = Loaded { id: Digest::of_bytes(&p.config_bytes), names: Vec::new(), squashed_owners: 0, devices: 0 };
    let mut layers = Vec::new();
    for (i, ((member, desc), (diff_id, chain))) in p.layers.iter().zip(diff_ids.iter().zip(chain_ids(&diff_ids))).enumerate() {
        if desc.digest == *diff_id && store.has_blob(&desc.digest) && store.layer_dir(&chain).is_dir() {
            layers.push(StagedLayer::present(desc, diff_id.clone()));
            continue;
        }
        let file = spool.take_copy(member)?;
        let input = std::fs::File::open(&file).map_err(Error::io("open", &file))?;
        let input = BufReader::with_capacity(1 << 20, input);
        let layer = ingest::stage_layer_file(store, desc, input, file, opts)
            .map_err(|source| Error::Ingest { archive: spool.archive.clone(), source })?;
        if layer.diff_id != *diff_id {
            return Err(Error::Ingest {
                archive: spool.archive.clone(),
                source: crate::image::Error::Inconsistent {
                    what: format!("layer {} ({}) unpacks to {}, but the config says {diff_id}", i + 1, desc.digest, layer.diff_id),
                },
            });
        }
        if let Some(r) = &layer.report {
            loaded.squashed_owners += r.squashed_owners;
            loaded.devices += r.devices;
        }
        layers.push(layer);
    }
    let image =
        StagedImage { manifest_bytes: p.manifest_bytes, manifest_media_type: p.manifest_media_type, config_bytes: p.config_bytes, layers };
    Ok((image, p.names, loaded))
}
