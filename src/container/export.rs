//! `burrow export`: a container's merged root file system as one tar.
//!
//! The tree is the one the container sees, without mounting anything:
//! the upper directory on top of the init layer and the image's layers,
//! merged by burrow-fs's own rules (`burrow_fs::overlay`: the topmost
//! layer holding a name answers, `.wh.NAME` hides lower names, an opaque
//! directory hides everything below it). Whiteouts and opaque markers
//! never appear in the archive. Each entry is written as `layer_tar`
//! writes a layer (owners as numbers, modes, times, xattrs, hardlinks
//! within a layer, device placeholders back as device nodes), names
//! sorted, directories before their contents, no entry for the root
//! itself (as docker). Bind-mounted files (`/etc/hosts` ...) appear as
//! the empty files of the init layer. Runs inside burrow's user
//! namespace, where owners read as the container's ids. A running
//! container is exported as it is at that moment.

use std::io::Write;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use burrow_fs::overlay::{self, DirView, Layer, Stack};

use super::layer_tar::{self, Links};
use super::{record, rootfs, Error, Result};
use crate::image::Store;
use crate::paths::Paths;

/// Write container `key`'s (name or id prefix) file system to `out`.
pub fn export(paths: &Paths, key: &str, out: impl Write) -> Result<()> {
    let rec = record::find(paths, key)?;
    let store = Store::open(paths)?;
    let image = store.resolve(rec.image_id.as_str()).map_err(|_| Error::ImageGone { name: rec.name.clone(), image: rec.image.clone() })?;
    let layers: Vec<PathBuf> = image.layers.iter().map(|l| l.dir.clone()).collect();
    let layout = rootfs::Layout::of(&rec.dir(paths), &layers);
    if !layout.upper.is_dir() {
        return Err(Error::NoUpper { name: rec.name });
    }
    let io_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source: std::io::Error| Error::Io { path, source }
    };
    let stack = Stack::open(&layout.lowers, Some(&layout.upper), None)
        .map_err(|e| Error::Io { path: layout.upper.clone(), source: std::io::Error::other(e.to_string()) })?;
    let tree = Tree { stack: &stack, upper: &layout.upper, lowers: &layout.lowers };
    let mut b = tar::Builder::new(out);
    b.follow_symlinks(false);
    let mut links = Links::new();
    let root = stack.root_view(true).map_err(io_err(&layout.upper))?;
    tree.walk(b"", &root, &mut b, &mut links)?;
    b.into_inner().and_then(|mut w| w.flush()).map_err(io_err(Path::new("-")))?;
    Ok(())
}

struct Tree<'a> {
    stack: &'a Stack,
    upper: &'a Path,
    lowers: &'a [PathBuf],
}

impl Tree<'_> {
    fn root_of(&self, layer: Layer) -> &Path {
        match layer {
            Layer::Upper => self.upper,
            Layer::Lower(i) => &self.lowers[i as usize],
        }
    }

    /// Append the merged directory `dir` (relative, no leading slash).
    fn walk<W: Write>(&self, dir: &[u8], view: &DirView, b: &mut tar::Builder<W>, links: &mut Links) -> Result<()> {
        let here = Path::new(std::ffi::OsStr::from_bytes(dir));
        let io_err = |source| Error::Io { path: here.to_path_buf(), source };
        let mut entries = overlay::list(self.stack, dir, view).map_err(io_err)?;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        for e in entries {
            let Some(found) = overlay::resolve_from(self.stack, dir, view, &e.name, Some(e.layer)).map_err(io_err)? else {
                continue;
            };
            let rel = here.join(std::ffi::OsStr::from_bytes(&e.name));
            let path = self.root_of(found.layer).join(&rel);
            let is_dir = layer_tar::append_entry(b, &path, &rel, links).map_err(|source| Error::Io { path: path.clone(), source })?;
            if let (true, Some(child)) = (is_dir, found.view) {
                self.walk(rel.as_os_str().as_bytes(), &child, b, links)?;
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    #[test]
    fn the_merged_tree_has_no_whiteouts_and_hides_what_they_hide() {
        let t = tempfile::tempdir().unwrap();
        let (low, up) = (t.path().join("low"), t.path().join("up"));
        fs::create_dir_all(low.join("etc")).unwrap();
        fs::create_dir_all(low.join("opt/old")).unwrap();
        fs::write(low.join("etc/passwd"), "lower").unwrap();
        fs::write(low.join("etc/gone"), "x").unwrap();
        fs::write(low.join("opt/old/f"), "x").unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::create_dir_all(up.join("opt")).unwrap();
        fs::write(up.join("etc/passwd"), "upper").unwrap();
        fs::write(up.join("etc/.wh.gone"), "").unwrap();
        fs::write(up.join("opt/.wh..wh..opq"), "").unwrap();
        fs::write(up.join("opt/new"), "n").unwrap();
        let lowers = vec![low];
        let stack = Stack::open(&lowers, Some(&up), None).unwrap();
        let tree = Tree { stack: &stack, upper: &up, lowers: &lowers };
        let mut b = tar::Builder::new(Vec::new());
        tree.walk(b"", &stack.root_view(true).unwrap(), &mut b, &mut Links::new()).unwrap();
        let bytes = b.into_inner().unwrap();
        let mut seen = Vec::new();
        for e in tar::Archive::new(&bytes[..]).entries().unwrap() {
            let mut e = e.unwrap();
            let name = e.path().unwrap().display().to_string();
            let mut data = String::new();
            std::io::Read::read_to_string(&mut e, &mut data).unwrap();
            seen.push(format!("{name}={data}"));
        }
        assert_eq!(seen, ["etc/=", "etc/passwd=upper", "opt/=", "opt/new=n"]);
    }
}
