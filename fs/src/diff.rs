//! What a container changed: `docker diff` over an OCI upper layer.
//!
//! Theory of operation. The upper layer is walked; each entry is compared
//! with the merged view of the lower layers (topmost first) at the same
//! path. A `.wh.NAME` file reports NAME as Deleted (D). An ordinary entry
//! reports Added (A) when nothing is below it, else Changed (C): a
//! directory present in the upper and below shows as C like docker does,
//! since it is only there because something inside it changed. Below an
//! added directory every entry is A. A directory with an opaque marker
//! also reports as D every lower entry it hides that the upper does not
//! recreate. The result is sorted by path. This module only reads.

use std::collections::HashSet;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use crate::overlay::{self, DirView, Stack};
use crate::sys;
use crate::whiteout::{self, Kind};
use crate::Error;

/// The kind of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum ChangeKind {
    Added,
    Changed,
    Deleted,
}

/// One changed path, absolute inside the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    pub kind: ChangeKind,
    pub path: PathBuf,
}

impl std::fmt::Display for Change {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let k = match self.kind {
            ChangeKind::Added => 'A',
            ChangeKind::Changed => 'C',
            ChangeKind::Deleted => 'D',
        };
        write!(f, "{k} {}", self.path.display())
    }
}

struct Walker<'a> {
    lowers: &'a Stack,
    upper: &'a Stack,
    upper_path: &'a Path,
    out: Vec<Change>,
}

fn abs(rel: &[u8]) -> PathBuf {
    let mut p = b"/".to_vec();
    p.extend_from_slice(rel);
    PathBuf::from(std::ffi::OsStr::from_bytes(&p))
}

impl Walker<'_> {
    fn err(&self, rel: &[u8], source: std::io::Error) -> Error {
        Error::Diff { path: self.upper_path.join(std::ffi::OsStr::from_bytes(rel)), source }
    }

    /// Walk upper directory `dir`; `below` is the lower view at `dir`
    /// (None when the directory is new).
    fn walk(&mut self, dir: &[u8], below: Option<&DirView>) -> Result<(), Error> {
        let up = self.upper.upper();
        let entries = sys::read_dir(up, dir).map_err(|e| self.err(dir, e))?;
        let opaque = entries.iter().any(|e| e.name == whiteout::OPAQUE);
        let names: HashSet<&[u8]> = entries.iter().map(|e| e.name.as_slice()).collect();
        for e in &entries {
            let path = sys::join(dir, &e.name);
            match whiteout::classify(std::ffi::OsStr::from_bytes(&e.name)) {
                Kind::Opaque => {}
                Kind::Whiteout(target) => {
                    self.out.push(Change { kind: ChangeKind::Deleted, path: abs(&sys::join(dir, target.as_bytes())) });
                }
                Kind::Normal => {
                    let found = match below.filter(|_| !opaque) {
                        Some(v) => overlay::resolve(self.lowers, dir, v, &e.name).map_err(|err| self.err(&path, err))?,
                        None => None,
                    };
                    let kind = if found.is_some() { ChangeKind::Changed } else { ChangeKind::Added };
                    self.out.push(Change { kind, path: abs(&path) });
                    let is_dir = sys::fstatat(up, &path).map(|st| overlay::is_dir(&st)).map_err(|err| self.err(&path, err))?;
                    if is_dir {
                        let view = found.and_then(|f| f.view);
                        self.walk(&path, view.as_ref())?;
                    }
                }
            }
        }
        if opaque {
            if let Some(v) = below {
                let hidden = overlay::list(self.lowers, dir, v).map_err(|e| self.err(dir, e))?;
                for h in hidden {
                    let wh = whiteout::whiteout_for(std::ffi::OsStr::from_bytes(&h.name));
                    if !names.contains(h.name.as_slice()) && !names.contains(wh.as_bytes()) {
                        self.out.push(Change { kind: ChangeKind::Deleted, path: abs(&sys::join(dir, &h.name)) });
                    }
                }
            }
        }
        Ok(())
    }
}

/// The changes `upper` makes over `lowers` (topmost first), sorted by path.
pub fn changes(lowers: &[PathBuf], upper: &Path) -> Result<Vec<Change>, Error> {
    let lower_stack = Stack::open(lowers, None, None)?;
    let upper_stack = Stack::open(&[], Some(upper), None)?;
    let root_opaque = overlay::is_opaque(upper_stack.upper(), b"").map_err(|source| Error::Diff { path: upper.to_path_buf(), source })?;
    let below = lower_stack.root_view(false).map_err(|source| Error::Diff { path: upper.to_path_buf(), source })?;
    let mut w = Walker { lowers: &lower_stack, upper: &upper_stack, upper_path: upper, out: Vec::new() };
    let view = if root_opaque { DirView::default() } else { below.clone() };
    w.walk(b"", Some(&view))?;
    if root_opaque {
        // the whole image is hidden: every top-level lower entry is gone
        let hidden = overlay::list(w.lowers, b"", &below).map_err(|source| Error::Diff { path: upper.to_path_buf(), source })?;
        let present: HashSet<PathBuf> = w.out.iter().map(|c| c.path.clone()).collect();
        for h in hidden {
            let p = abs(&h.name);
            if !present.contains(&p) {
                w.out.push(Change { kind: ChangeKind::Deleted, path: p });
            }
        }
    }
    let mut out = w.out;
    out.sort_by(|a, b| a.path.as_os_str().as_bytes().cmp(b.path.as_os_str().as_bytes()));
    out.dedup_by(|a, b| a.path == b.path);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;

    fn show(c: &[Change]) -> Vec<String> {
        c.iter().map(|c| c.to_string()).collect()
    }

    #[test]
    fn added_changed_deleted() {
        let t = tempfile::tempdir().unwrap();
        let (l1, l2, up) = (t.path().join("l1"), t.path().join("l2"), t.path().join("u"));
        fs::create_dir_all(l2.join("etc")).unwrap();
        fs::write(l2.join("etc/passwd"), "root").unwrap();
        fs::write(l2.join("etc/group"), "root").unwrap();
        fs::create_dir_all(l1.join("usr")).unwrap();
        fs::create_dir_all(up.join("etc")).unwrap();
        fs::write(up.join("etc/passwd"), "root\nwww").unwrap();
        fs::write(up.join("etc/.wh.group"), "").unwrap();
        fs::create_dir_all(up.join("srv/www")).unwrap();
        fs::write(up.join("srv/www/index"), "").unwrap();
        let got = show(&changes(&[l1, l2], &up).unwrap());
        assert_eq!(got, ["C /etc", "D /etc/group", "C /etc/passwd", "A /srv", "A /srv/www", "A /srv/www/index"]);
    }

    #[test]
    fn opaque_dir_reports_hidden_entries() {
        let t = tempfile::tempdir().unwrap();
        let (l1, up) = (t.path().join("l1"), t.path().join("u"));
        fs::create_dir_all(l1.join("d")).unwrap();
        fs::write(l1.join("d/old"), "").unwrap();
        fs::write(l1.join("d/kept"), "").unwrap();
        fs::create_dir_all(up.join("d")).unwrap();
        fs::write(up.join("d/.wh..wh..opq"), "").unwrap();
        fs::write(up.join("d/kept"), "").unwrap();
        let got = show(&changes(&[l1], &up).unwrap());
        assert_eq!(got, ["C /d", "A /d/kept", "D /d/old"]);
    }
}
