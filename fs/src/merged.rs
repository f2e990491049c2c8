//! A read-only merged view of image layers by path, for the engine code
//! that reads an image without mounting it: `COPY --from` in builds,
//! filling a new volume from the image, reading `/etc/passwd` for `--user`.
//!
//! Theory of operation. It is the overlay's own merge (`overlay::resolve`
//! and `overlay::list`) over a stack without an upper layer, so a file the
//! mounted root shows is exactly the file this view finds: one OCI merge
//! rule in the whole project. A lookup walks a relative path one
//! component at a time from the root's view; `.` is skipped and `..` goes
//! back up lexically, never above the root. Symlinks are never followed
//! here: a symlink in the middle of a path is not a directory, so the
//! lookup answers `None`; callers that follow an image's links as if its
//! root were `/` (volume filling) do so one component at a time with
//! [`Merged::child`]. Every answer names the host path of the entry in its
//! topmost layer, which the caller may read or copy.

use std::ffi::{OsStr, OsString};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::PathBuf;

use crate::overlay::{self, DirView, Layer, Stack, StackError};

/// The merged layers of one image (or stage), opened once.
#[derive(Debug)]
pub struct Merged {
    stack: Stack,
    roots: Vec<PathBuf>,
}

/// A directory of the merged view: its path and the layers it draws on.
#[derive(Debug, Clone)]
pub struct Dir {
    rel: Vec<u8>,
    view: DirView,
}

/// One entry of the merged view.
#[derive(Debug, Clone)]
pub struct Entry {
    pub name: OsString,
    /// Where it is on the host: in the topmost layer that holds it.
    pub path: PathBuf,
    /// `lstat` of that file.
    pub st: libc::stat,
    /// For a directory, the merged directory to list or descend into.
    pub dir: Option<Dir>,
}

impl Merged {
    /// Open the layer directories, topmost first.
    pub fn open(layers_top_first: &[PathBuf]) -> Result<Merged, StackError> {
        let stack = Stack::open(layers_top_first, None, None)?;
        Ok(Merged { stack, roots: layers_top_first.to_vec() })
    }

    /// The root directory.
    pub fn root(&self) -> io::Result<Dir> {
        Ok(Dir { rel: Vec::new(), view: self.stack.root_view(false)? })
    }

    /// `name` in directory `dir`, or `None` when no layer shows it.
    pub fn child(&self, dir: &Dir, name: &OsStr) -> io::Result<Option<Entry>> {
        let found = overlay::resolve(&self.stack, &dir.rel, &dir.view, name.as_bytes())?;
        Ok(found.map(|f| self.entry(dir, name.to_os_string(), f)))
    }

    /// The entry at `rel` ("etc/passwd"), without following symlinks, or
    /// `None` when no layer has it or a whiteout, an opaque directory or
    /// a non-directory above hides it. The root itself has no entry.
    pub fn lookup(&self, rel: &str) -> io::Result<Option<Entry>> {
        let mut parts: Vec<&[u8]> = Vec::new();
        for p in rel.as_bytes().split(|c| *c == b'/') {
            match p {
                b"" | b"." => {}
                b".." => {
                    parts.pop();
                }
                p => parts.push(p),
            }
        }
        let mut dir = self.root()?;
        let Some((last, above)) = parts.split_last() else { return Ok(None) };
        for part in above {
            match self.child(&dir, OsStr::from_bytes(part))? {
                Some(Entry { dir: Some(d), .. }) => dir = d,
                _ => return Ok(None),
            }
        }
        self.child(&dir, OsStr::from_bytes(last))
    }

    /// Whether `rel` is a directory of the merged view (not a symlink to
    /// one); the root always is.
    pub fn is_dir(&self, rel: &str) -> io::Result<bool> {
        if rel.split('/').all(|p| p.is_empty() || p == ".") {
            return Ok(true);
        }
        Ok(self.lookup(rel)?.is_some_and(|e| e.dir.is_some()))
    }

    /// The merged directory at `rel`, or `None` when it is not one.
    pub fn dir(&self, rel: &str) -> io::Result<Option<Dir>> {
        if rel.split('/').all(|p| p.is_empty() || p == ".") {
            return self.root().map(Some);
        }
        Ok(self.lookup(rel)?.and_then(|e| e.dir))
    }

    /// The visible entries of `dir`, in the overlay's listing order.
    pub fn list(&self, dir: &Dir) -> io::Result<Vec<Entry>> {
        let mut out = Vec::new();
        for e in overlay::list(&self.stack, &dir.rel, &dir.view)? {
            let name = OsString::from(OsStr::from_bytes(&e.name));
            // The listing knows the topmost holder; resolving from there
            // gives its stat and, for a directory, the layers below it.
            if let Some(f) = overlay::resolve_from(&self.stack, &dir.rel, &dir.view, &e.name, Some(e.layer))? {
                out.push(self.entry(dir, name, f));
            }
        }
        Ok(out)
    }

    fn entry(&self, dir: &Dir, name: OsString, f: overlay::Found) -> Entry {
        let rel = crate::sys::join(&dir.rel, name.as_bytes());
        let root = match f.layer {
            Layer::Lower(i) => self.roots.get(i as usize),
            Layer::Upper => None,
        };
        // A stack without an upper never answers from it; an empty path
        // would then be refused by whoever opens it.
        let path = root.map(|r| r.join(OsStr::from_bytes(&rel))).unwrap_or_default();
        Entry { name, path, st: f.st, dir: f.view.map(|view| Dir { rel, view }) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    /// l1 (top) over l0: a whiteout, an opaque directory, a file hiding a
    /// directory, and a directory merged from both.
    fn layers() -> (tempfile::TempDir, Vec<PathBuf>) {
        let t = tempfile::tempdir().unwrap();
        let (l0, l1) = (t.path().join("l0"), t.path().join("l1"));
        for d in ["etc", "opt/old", "srv/deep", "usr/share"] {
            fs::create_dir_all(l0.join(d)).unwrap();
        }
        fs::write(l0.join("etc/passwd"), "root").unwrap();
        fs::write(l0.join("etc/gone"), "x").unwrap();
        fs::write(l0.join("opt/old/f"), "x").unwrap();
        fs::write(l0.join("srv/deep/f"), "x").unwrap();
        fs::write(l0.join("usr/share/a"), "a").unwrap();
        for d in ["etc", "opt", "usr/share"] {
            fs::create_dir_all(l1.join(d)).unwrap();
        }
        fs::write(l1.join("etc/.wh.gone"), "").unwrap();
        fs::write(l1.join("opt/.wh..wh..opq"), "").unwrap();
        fs::write(l1.join("opt/new"), "n").unwrap();
        fs::write(l1.join("srv"), "a file over a directory").unwrap();
        fs::write(l1.join("usr/share/b"), "b").unwrap();
        std::os::unix::fs::symlink("/etc", l1.join("link")).unwrap();
        (t, vec![l1, l0])
    }

    #[test]
    fn lookup_follows_the_oci_rules() {
        let (_t, l) = layers();
        let m = Merged::open(&l).unwrap();
        let found = |rel: &str| m.lookup(rel).unwrap().map(|e| e.path);
        assert_eq!(found("etc/passwd"), Some(l[1].join("etc/passwd")));
        assert_eq!(found("/etc/./passwd"), Some(l[1].join("etc/passwd")));
        assert_eq!(found("etc/gone"), None, "whited out");
        assert_eq!(found("opt/old/f"), None, "below an opaque directory");
        assert_eq!(found("opt/new"), Some(l[0].join("opt/new")));
        assert_eq!(found("srv/deep/f"), None, "a file above hides the directory");
        assert_eq!(found("link/passwd"), None, "symlinks are not followed");
        assert_eq!(found("../../etc/passwd"), Some(l[1].join("etc/passwd")), ".. stops at the root");
        assert!(m.is_dir("usr/share").unwrap() && m.is_dir("/").unwrap() && !m.is_dir("link").unwrap());
    }

    #[test]
    fn a_listing_merges_and_hides() {
        let (_t, l) = layers();
        let m = Merged::open(&l).unwrap();
        let names = |rel: &str| {
            let mut v: Vec<String> =
                m.list(&m.dir(rel).unwrap().unwrap()).unwrap().iter().map(|e| e.name.to_string_lossy().into_owned()).collect();
            v.sort();
            v
        };
        assert_eq!(names("usr/share"), ["a", "b"]);
        assert_eq!(names("etc"), ["passwd"]);
        assert_eq!(names("opt"), ["new"]);
        assert_eq!(names(""), ["etc", "link", "opt", "srv", "usr"]);
        assert!(m.dir("srv").unwrap().is_none());
    }
}
