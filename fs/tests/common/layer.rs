//! Builders for OCI layer directories.
//!
//! A `Stack` owns a scratch directory under $TMPDIR holding the layers
//! (bottom first, as images list them), and the upper, work and mount
//! directories of each mount made from it. A `Layer` writes entries into
//! one layer directory: files with content, mode, owner, mtime and user.*
//! xattrs, directories, symlinks, hardlinks, fifos, and the two OCI markers,
//! `.wh.NAME` whiteouts and `.wh..wh..opq` opaque directories.
//! Every builder call panics with the path on failure: a broken fixture is a
//! broken test, not a finding.

use std::ffi::{OsStr, OsString};
use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::sys::{self, Time};

/// The mtime given to every entry a builder creates, unless told otherwise.
/// Nanoseconds are set so copy-up checks see full precision.
pub const MTIME: (i64, i64) = (1_600_000_000, 123_456_789);

/// One layer directory.
#[derive(Clone, Debug)]
pub struct Layer {
    pub root: PathBuf,
}

impl Layer {
    pub fn new(root: PathBuf) -> Layer {
        std::fs::create_dir_all(&root).unwrap_or_else(|e| panic!("create layer {}: {e}", root.display()));
        sys::chmod(&root, 0o755).expect("chmod layer root");
        Layer { root }
    }

    pub fn path(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    fn parents(&self, rel: &Path) -> PathBuf {
        let p = self.path(rel);
        if let Some(parent) = p.parent() {
            if !parent.exists() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("create {}: {e}", parent.display()));
            }
        }
        p
    }

    /// A directory (and its parents) with mode 0755.
    pub fn dir(&self, rel: impl AsRef<Path>) -> &Layer {
        self.dir_mode(rel, 0o755)
    }

    pub fn dir_mode(&self, rel: impl AsRef<Path>, mode: u32) -> &Layer {
        let p = self.parents(rel.as_ref());
        if !p.is_dir() {
            sys::ok(sys::mkdir(&p, 0o700), &format!("mkdir {}", p.display()));
        }
        sys::ok(sys::chmod(&p, mode), &format!("chmod {}", p.display()));
        self
    }

    /// A regular file with mode 0644 and mtime `MTIME`.
    pub fn file(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>) -> &Layer {
        self.file_mode(rel, content, 0o644)
    }

    pub fn file_mode(&self, rel: impl AsRef<Path>, content: impl AsRef<[u8]>, mode: u32) -> &Layer {
        let p = self.parents(rel.as_ref());
        std::fs::write(&p, content).unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        sys::ok(sys::chmod(&p, mode), &format!("chmod {}", p.display()));
        self.mtime(rel, MTIME.0, MTIME.1)
    }

    /// A sparse file of `size` bytes holding `data` at `offset`.
    pub fn sparse(&self, rel: impl AsRef<Path>, size: u64, offset: u64, data: &[u8]) -> &Layer {
        let p = self.parents(rel.as_ref());
        let fd = sys::ok(sys::open(&p, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL, 0o644), "create sparse");
        sys::ok(sys::ftruncate(fd.as_fd(), size), "ftruncate sparse");
        sys::ok(sys::pwrite(fd.as_fd(), data, offset), "pwrite sparse");
        drop(fd);
        self.mtime(rel, MTIME.0, MTIME.1)
    }

    pub fn symlink(&self, rel: impl AsRef<Path>, target: impl AsRef<OsStr>) -> &Layer {
        let p = self.parents(rel.as_ref());
        sys::ok(sys::symlink(target, &p), &format!("symlink {}", p.display()));
        self.mtime(rel, MTIME.0, MTIME.1)
    }

    /// A second name for the existing entry `existing`.
    pub fn hardlink(&self, rel: impl AsRef<Path>, existing: impl AsRef<Path>) -> &Layer {
        let p = self.parents(rel.as_ref());
        sys::ok(sys::link(&self.path(existing), &p), &format!("link {}", p.display()));
        self
    }

    pub fn fifo(&self, rel: impl AsRef<Path>) -> &Layer {
        let p = self.parents(rel.as_ref());
        sys::ok(sys::mkfifo(&p, 0o644), &format!("mkfifo {}", p.display()));
        sys::ok(sys::chmod(&p, 0o644), "chmod fifo");
        self.mtime(rel, MTIME.0, MTIME.1)
    }

    /// The OCI whiteout that deletes `rel` of lower layers.
    pub fn whiteout(&self, rel: impl AsRef<Path>) -> &Layer {
        let rel = rel.as_ref();
        let name = rel.file_name().expect("whiteout of a named entry");
        let mut wh = OsString::from(".wh.");
        wh.push(name);
        let at = rel.parent().unwrap_or(Path::new("")).join(wh);
        let p = self.parents(&at);
        std::fs::write(&p, b"").unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    /// Mark directory `rel` opaque: lower layers' entries of it are hidden.
    pub fn opaque(&self, rel: impl AsRef<Path>) -> &Layer {
        let dir = self.path(rel.as_ref());
        if !dir.is_dir() {
            self.dir(rel.as_ref());
        }
        let p = dir.join(".wh..wh..opq");
        std::fs::write(&p, b"").unwrap_or_else(|e| panic!("write {}: {e}", p.display()));
        self
    }

    pub fn xattr(&self, rel: impl AsRef<Path>, name: &str, value: &[u8]) -> &Layer {
        let p = self.path(rel);
        sys::ok(sys::lsetxattr(&p, name, value, 0), &format!("setxattr {} {name}", p.display()));
        self
    }

    pub fn mode(&self, rel: impl AsRef<Path>, mode: u32) -> &Layer {
        let p = self.path(rel);
        sys::ok(sys::chmod(&p, mode), &format!("chmod {}", p.display()));
        self
    }

    pub fn mtime(&self, rel: impl AsRef<Path>, sec: i64, nsec: i64) -> &Layer {
        let p = self.path(rel);
        sys::ok(sys::lutimens(&p, Time::At(sec, nsec), Time::At(sec, nsec)), &format!("utimens {}", p.display()));
        self
    }

    /// Change the owner; as non-root only the caller's own ids work.
    pub fn owner(&self, rel: impl AsRef<Path>, uid: u32, gid: u32) -> &Layer {
        let p = self.path(rel);
        sys::ok(sys::lchown(&p, uid, gid), &format!("chown {}", p.display()));
        self
    }
}

/// A name of raw bytes as a path component (names need not be UTF-8).
pub fn name(bytes: &[u8]) -> &Path {
    Path::new(OsStr::from_bytes(bytes))
}
