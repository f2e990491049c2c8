//! `burrow diff`: what a container changed in its file system, in
//! docker's words (`A` added, `C` changed, `D` deleted, one path a line,
//! sorted).
//!
//! The upper directory holds every change (burrow-fs writes deletions as
//! OCI whiteouts), so the answer is `burrow_fs::diff` of the upper
//! against the image's layers; the init layer that holds burrow's mount
//! points is not part of the image and never shows.

use super::{record, rootfs, Error, Result};
use crate::image::Store;
use crate::paths::Paths;

/// The changes of container `key` (name or id prefix), as "C /etc" lines.
pub fn diff(paths: &Paths, key: &str) -> Result<Vec<String>> {
    let rec = record::find(paths, key)?;
    let store = Store::open(paths)?;
    let image = store.resolve(rec.image_id.as_str()).map_err(|_| Error::ImageGone { name: rec.name.clone(), image: rec.image.clone() })?;
    let layers: Vec<_> = image.layers.iter().map(|l| l.dir.clone()).collect();
    let layout = rootfs::Layout::of(&rec.dir(paths), &layers);
    if !layout.upper.is_dir() {
        return Err(Error::NoUpper { name: rec.name });
    }
    let changes = burrow_fs::diff::changes(layout.image_layers(), &layout.upper)
        .map_err(|e| Error::Diff { name: rec.name.clone(), reason: e.to_string() })?;
    Ok(changes.iter().map(|c| format!("{} {}", letter(&c.kind), c.path.display())).collect())
}

fn letter(kind: &burrow_fs::diff::ChangeKind) -> char {
    use burrow_fs::diff::ChangeKind as K;
    match kind {
        K::Added => 'A',
        K::Changed => 'C',
        K::Deleted => 'D',
    }
}
