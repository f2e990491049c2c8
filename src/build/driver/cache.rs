//! The build cache: step key → image id, one small file per key under
//! `cache/build/`, written with `atomic::write` (temp, fsync, rename) so two
//! builds at once never see half a record. A hit whose image has been
//! removed since is a miss.

use std::path::Path;

use sha2::{Digest as _, Sha256};

use super::Build;
use crate::image::{Digest, Image};

/// The key of a step on `parent` (`None`: scratch) described by `parts`.
pub(super) fn key(parent: Option<&Image>, parts: &[&str]) -> String {
    let mut h = Sha256::new();
    h.update(parent.map(|i| i.id.to_string()).unwrap_or_else(|| "scratch".into()));
    for p in parts {
        h.update([0u8]);
        h.update(p.as_bytes());
    }
    hex(h)
}

fn hex(h: Sha256) -> String {
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// The image a key stands for, unless `--no-cache` or it is gone.
pub(super) fn get(b: &Build, key: &str) -> Option<Image> {
    if b.opts.no_cache {
        return None;
    }
    let id = std::fs::read_to_string(b.paths.cache().join("build").join(key)).ok()?;
    b.store.resolve(id.trim()).ok()
}

pub(super) fn put(b: &Build, key: &str, id: &Digest) {
    let dir = b.paths.cache().join("build");
    let r = std::fs::create_dir_all(&dir).and_then(|_| crate::atomic::write(&dir.join(key), id.to_string().as_bytes()));
    if let Err(e) = r {
        tracing::debug!(%e, "cannot record the build cache");
    }
}

/// sha256 of a file's bytes, a symlink's target, or a tree's names, modes
/// and contents.
pub(super) fn content_digest(path: &Path) -> std::io::Result<String> {
    use std::os::unix::fs::MetadataExt;
    fn feed(h: &mut Sha256, path: &Path, rel: &str) -> std::io::Result<()> {
        let m = std::fs::symlink_metadata(path)?;
        h.update(format!("{rel}\u{0}{:o}\u{0}", m.mode()));
        if m.file_type().is_symlink() {
            h.update(std::fs::read_link(path)?.as_os_str().as_encoded_bytes());
        } else if m.is_file() {
            let mut f = std::fs::File::open(path)?;
            std::io::copy(&mut f, h)?;
        } else if m.is_dir() {
            let mut names: Vec<_> = std::fs::read_dir(path)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
            names.sort();
            for n in names {
                feed(h, &path.join(&n), &format!("{rel}/{}", n.to_string_lossy()))?;
            }
        }
        Ok(())
    }
    let mut h = Sha256::new();
    feed(&mut h, path, "")?;
    Ok(hex(h))
}
