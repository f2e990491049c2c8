//! The layer stack and the OCI merge rules: which layer answers a name,
//! which layers a directory draws its entries from, what a listing shows.
//!
//! Theory of operation. The stack is the upper directory on top of the
//! lower layers (topmost first), each held open as an `O_PATH` descriptor.
//! A merged directory is described by a [`DirView`]: whether it exists in
//! the upper, and the lower layers that contribute to it, top to bottom,
//! stopping at an opaque marker (`.wh..wh..opq`), a non-directory or a
//! whiteout. Resolving a name inside a directory asks only the layers of
//! that view, top first; the first layer holding the name answers, and a
//! `.wh.NAME` seen on the way means "deleted". A listing merges the same
//! layers: whiteouts hide names of the layers below the one that holds
//! them, never of their own layer; markers are never shown.
//!
//! This module reads layers with `*at` calls relative to the layer roots;
//! it never writes, never follows a symlink inside a layer, and never
//! resolves a path from `/`. It keeps no cache: callers (the inode table)
//! cache the views it computes.

use std::collections::HashSet;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

use crate::sys;
use crate::whiteout::{self, Kind};

/// A layer of the stack.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Layer {
    Upper,
    /// Index into the lower layers, 0 = topmost.
    Lower(u16),
}

/// The layers a merged directory draws on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DirView {
    /// The directory exists in the upper layer.
    pub upper: bool,
    /// Lower layers holding it, topmost first, cut at an opaque marker.
    pub lowers: Vec<u16>,
}

impl DirView {
    /// The layers to search, top first.
    pub fn layers(&self) -> impl Iterator<Item = Layer> + '_ {
        self.upper.then_some(Layer::Upper).into_iter().chain(self.lowers.iter().map(|&i| Layer::Lower(i)))
    }

    /// The view of the same directory with the upper layer ignored.
    pub fn lowers_only(&self) -> DirView {
        DirView { upper: false, lowers: self.lowers.clone() }
    }
}

/// Errors of opening a layer stack.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("cannot open layer directory {path}: {source}")]
    Open { path: std::path::PathBuf, source: io::Error },
    #[error("{path} is not a directory")]
    NotDir { path: std::path::PathBuf },
}

/// The open layer roots of one overlay.
#[derive(Debug)]
pub struct Stack {
    upper: OwnedFd,
    lowers: Vec<OwnedFd>,
    work: OwnedFd,
}

fn open_root(path: &Path) -> Result<OwnedFd, StackError> {
    // SAFETY: AT_FDCWD is not -1 and not a descriptor that can be closed:
    // the *at calls read it as "the current directory", and it is only
    // handed to openat below, which resolves the absolute layer path.
    let cwd = unsafe { BorrowedFd::borrow_raw(libc::AT_FDCWD) };
    let fd = sys::openat(cwd, path.as_os_str().as_bytes(), libc::O_PATH | libc::O_DIRECTORY, 0)
        .map_err(|source| StackError::Open { path: path.to_path_buf(), source })?;
    Ok(fd)
}

impl Stack {
    /// Open the layer roots (lowers topmost first).
    pub fn open(lowers: &[std::path::PathBuf], upper: Option<&Path>, work: Option<&Path>) -> Result<Stack, StackError> {
        let lower_fds = lowers.iter().map(|p| open_root(p)).collect::<Result<Vec<_>, _>>()?;
        // a read-only stack (diff) has no upper: an empty anchor stands in
        let upper = match upper {
            Some(p) => open_root(p)?,
            None => open_root(Path::new("/"))?,
        };
        let work = match work {
            Some(p) => open_root(p)?,
            None => open_root(Path::new("/"))?,
        };
        Ok(Stack { upper, lowers: lower_fds, work })
    }

    pub fn fd(&self, layer: Layer) -> BorrowedFd<'_> {
        match layer {
            Layer::Upper => self.upper.as_fd(),
            Layer::Lower(i) => self.lowers.get(i as usize).map(|f| f.as_fd()).unwrap_or(self.upper.as_fd()),
        }
    }

    pub fn upper(&self) -> BorrowedFd<'_> {
        self.upper.as_fd()
    }

    pub fn work(&self) -> BorrowedFd<'_> {
        self.work.as_fd()
    }

    pub fn lower_count(&self) -> usize {
        self.lowers.len()
    }

    /// The view of the root directory.
    pub fn root_view(&self, with_upper: bool) -> io::Result<DirView> {
        let mut view = DirView { upper: with_upper, lowers: Vec::new() };
        if with_upper && is_opaque(self.upper(), b"")? {
            return Ok(view);
        }
        for i in 0..self.lowers.len() as u16 {
            view.lowers.push(i);
            if is_opaque(self.fd(Layer::Lower(i)), b"")? {
                break;
            }
        }
        Ok(view)
    }
}

/// Whether directory `dir` of a layer carries the opaque marker.
pub fn is_opaque(layer: BorrowedFd<'_>, dir: &[u8]) -> io::Result<bool> {
    sys::exists(layer, &sys::join(dir, whiteout::OPAQUE))
}

/// Whether `.wh.NAME` exists in directory `dir` of a layer.
pub fn has_whiteout(layer: BorrowedFd<'_>, dir: &[u8], name: &[u8]) -> io::Result<bool> {
    if whiteout::PREFIX.len() + name.len() > NAME_MAX {
        // such a whiteout cannot exist on any host filesystem
        return Ok(false);
    }
    let mut wh = Vec::with_capacity(whiteout::PREFIX.len() + name.len());
    wh.extend_from_slice(whiteout::PREFIX);
    wh.extend_from_slice(name);
    sys::exists(layer, &sys::join(dir, &wh))
}

/// Longest name a layer can hold.
pub const NAME_MAX: usize = 255;

/// Whether a name is reserved for OCI markers and so never visible.
pub fn is_reserved(name: &[u8]) -> bool {
    name.starts_with(whiteout::PREFIX)
}

/// What a name resolves to in a merged directory.
#[derive(Debug, Clone)]
pub struct Found {
    /// The topmost layer holding it.
    pub layer: Layer,
    /// Its stat in that layer.
    pub st: libc::stat,
    /// For a directory, the layers it draws on.
    pub view: Option<DirView>,
}

pub fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

/// Resolve `name` in the merged directory `dir` (relative path) of `view`.
/// `Ok(None)` means absent or whited out.
pub fn resolve(stack: &Stack, dir: &[u8], view: &DirView, name: &[u8]) -> io::Result<Option<Found>> {
    resolve_from(stack, dir, view, name, None)
}

/// Like [`resolve`], but start at layer `start` (known from a listing to
/// be the topmost holder), skipping the layers above it.
pub fn resolve_from(stack: &Stack, dir: &[u8], view: &DirView, name: &[u8], start: Option<Layer>) -> io::Result<Option<Found>> {
    if is_reserved(name) {
        return Ok(None);
    }
    let path = sys::join(dir, name);
    let layers: Vec<Layer> = view.layers().collect();
    let first = start.and_then(|s| layers.iter().position(|&l| l == s)).unwrap_or(0);
    for (pos, &layer) in layers.iter().enumerate().skip(first) {
        let fd = stack.fd(layer);
        match sys::fstatat(fd, &path) {
            Ok(st) => {
                let view = if is_dir(&st) { Some(child_view(stack, &path, layer, &layers[pos + 1..], name, dir)?) } else { None };
                return Ok(Some(Found { layer, st, view }));
            }
            Err(e) if sys::is_absent(&e) => {
                if has_whiteout(fd, dir, name)? {
                    return Ok(None);
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(None)
}

/// The view of directory `path` found first in `top`, with `below` the
/// remaining layers of its parent's view.
fn child_view(stack: &Stack, path: &[u8], top: Layer, below: &[Layer], name: &[u8], parent: &[u8]) -> io::Result<DirView> {
    let mut view = DirView::default();
    match top {
        Layer::Upper => view.upper = true,
        Layer::Lower(i) => view.lowers.push(i),
    }
    if is_opaque(stack.fd(top), path)? {
        return Ok(view);
    }
    for &layer in below {
        let Layer::Lower(i) = layer else { continue };
        let fd = stack.fd(layer);
        match sys::fstatat(fd, path) {
            Ok(st) if is_dir(&st) => {
                view.lowers.push(i);
                if is_opaque(fd, path)? {
                    break;
                }
            }
            Ok(_) => break,
            Err(e) if sys::is_absent(&e) => {
                if has_whiteout(fd, parent, name)? {
                    break;
                }
            }
            Err(e) => return Err(e),
        }
    }
    Ok(view)
}

/// One entry of a merged listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub name: Vec<u8>,
    /// `d_type` as the layer reported it.
    pub dtype: u8,
    /// The layer the entry comes from (its topmost).
    pub layer: Layer,
    /// The inode number in that layer.
    pub host_ino: u64,
}

/// Merge per-layer listings (top first) by the OCI rules. Pure.
pub fn merge(layers: Vec<(Layer, Vec<sys::RawEntry>)>) -> Vec<Entry> {
    let mut seen: HashSet<Vec<u8>> = HashSet::new();
    let mut hidden: HashSet<Vec<u8>> = HashSet::new();
    let mut out = Vec::new();
    for (layer, entries) in layers {
        let mut hides = Vec::new();
        for e in entries {
            match whiteout::classify(std::ffi::OsStr::from_bytes(&e.name)) {
                Kind::Opaque => {}
                Kind::Whiteout(target) => hides.push(target.into_vec()),
                Kind::Normal => {
                    if is_reserved(&e.name) || hidden.contains(&e.name) || seen.contains(&e.name) {
                        continue;
                    }
                    seen.insert(e.name.clone());
                    out.push(Entry { name: e.name, dtype: e.dtype, layer, host_ino: e.ino });
                }
            }
        }
        hidden.extend(hides);
    }
    out
}

/// List the merged directory `dir` of `view`.
pub fn list(stack: &Stack, dir: &[u8], view: &DirView) -> io::Result<Vec<Entry>> {
    let mut per_layer = Vec::new();
    for layer in view.layers() {
        match sys::read_dir(stack.fd(layer), dir) {
            Ok(entries) => per_layer.push((layer, entries)),
            // a lower directory that vanished contributes nothing
            Err(e) if sys::is_absent(&e) && layer != Layer::Upper => {
                tracing::debug!(?layer, dir = ?String::from_utf8_lossy(dir), "layer directory vanished");
            }
            Err(e) => return Err(e),
        }
    }
    Ok(merge(per_layer))
}

/// Whether the merged directory has any visible entry.
pub fn is_empty(stack: &Stack, dir: &[u8], view: &DirView) -> io::Result<bool> {
    Ok(list(stack, dir, view)?.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn raw(names: &[&str]) -> Vec<sys::RawEntry> {
        names.iter().map(|n| sys::RawEntry { name: n.as_bytes().to_vec(), dtype: libc::DT_REG, ino: 1 }).collect()
    }

    fn names(e: &[Entry]) -> Vec<String> {
        let mut v: Vec<String> = e.iter().map(|e| String::from_utf8_lossy(&e.name).into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn merge_hides_below_not_beside() {
        let got = merge(vec![
            (Layer::Upper, raw(&["a", ".wh.b", ".wh.c", "c"])),
            (Layer::Lower(0), raw(&["b", "c", "d", ".wh..wh..opq", ".wh.e"])),
            (Layer::Lower(1), raw(&["e", "a"])),
        ]);
        // c: the whiteout and the entry in one layer → the entry shows
        assert_eq!(names(&got), ["a", "c", "d"]);
        assert_eq!(got.iter().find(|e| e.name == b"a").map(|e| e.layer), Some(Layer::Upper));
        assert_eq!(got.iter().find(|e| e.name == b"c").map(|e| e.layer), Some(Layer::Upper));
    }

    #[test]
    fn merge_ignores_stray_whiteouts() {
        let got = merge(vec![(Layer::Upper, raw(&[".wh.nothing"])), (Layer::Lower(0), raw(&["x"]))]);
        assert_eq!(names(&got), ["x"]);
    }

    struct Tree {
        _t: tempfile::TempDir,
        stack: Stack,
    }

    /// upper, l0 (top), l1 built from (path, content) with dirs ending in '/'.
    fn tree(upper: &[&str], l0: &[&str], l1: &[&str]) -> Tree {
        let t = tempfile::tempdir().unwrap();
        for (dir, list) in [("u", upper), ("l0", l0), ("l1", l1)] {
            fs::create_dir_all(t.path().join(dir)).unwrap();
            for p in list {
                let full = t.path().join(dir).join(p);
                if p.ends_with('/') {
                    fs::create_dir_all(&full).unwrap();
                } else {
                    fs::create_dir_all(full.parent().unwrap()).unwrap();
                    fs::write(&full, dir).unwrap();
                }
            }
        }
        fs::create_dir_all(t.path().join("w")).unwrap();
        let stack = Stack::open(&[t.path().join("l0"), t.path().join("l1")], Some(&t.path().join("u")), Some(&t.path().join("w"))).unwrap();
        Tree { _t: t, stack }
    }

    #[test]
    fn resolve_top_wins_and_whiteouts_hide() {
        let t = tree(&["a", ".wh.b"], &["a", "b", "c"], &["c", "d"]);
        let root = t.stack.root_view(true).unwrap();
        assert_eq!(resolve(&t.stack, b"", &root, b"a").unwrap().map(|f| f.layer), Some(Layer::Upper));
        assert!(resolve(&t.stack, b"", &root, b"b").unwrap().is_none());
        assert_eq!(resolve(&t.stack, b"", &root, b"c").unwrap().map(|f| f.layer), Some(Layer::Lower(0)));
        assert_eq!(resolve(&t.stack, b"", &root, b"d").unwrap().map(|f| f.layer), Some(Layer::Lower(1)));
        assert!(resolve(&t.stack, b"", &root, b".wh.b").unwrap().is_none(), "markers are never visible");
    }

    #[test]
    fn directory_views_stop_at_opaque_and_non_dirs() {
        let t = tree(&["d/", "d/.wh..wh..opq", "e/"], &["d/x", "e/y", "f"], &["d/z", "e/z", "f/"]);
        let root = t.stack.root_view(true).unwrap();
        let d = resolve(&t.stack, b"", &root, b"d").unwrap().unwrap();
        assert_eq!(d.view, Some(DirView { upper: true, lowers: vec![] }));
        let e = resolve(&t.stack, b"", &root, b"e").unwrap().unwrap();
        assert_eq!(e.view, Some(DirView { upper: true, lowers: vec![0, 1] }));
        assert_eq!(names(&list(&t.stack, b"e", e.view.as_ref().unwrap()).unwrap()), ["y", "z"]);
        // a file in l0 hides the directory of the same name in l1
        let f = resolve(&t.stack, b"", &root, b"f").unwrap().unwrap();
        assert!(f.view.is_none());
        assert_eq!(names(&list(&t.stack, b"d", d.view.as_ref().unwrap()).unwrap()), Vec::<String>::new());
    }
}
