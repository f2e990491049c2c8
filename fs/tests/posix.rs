//! POSIX behaviour of the merged tree, one test per behaviour.
//!
//! Each test builds a small layer stack, mounts it with the backend under
//! test (see `common::mount`) and asserts results and exact errnos. The
//! expectations are those of Linux on a local filesystem: every test here
//! passes on the kernel's overlayfs (`BURROW_FS_TEST_BACKEND=kernel`, root),
//! except the few in `upper_format` that check burrow's own OCI upper layer
//! and say so. Groups:
//! - `lookup`: merging, whiteouts, opaque directories;
//! - `errors`: ENOENT, EEXIST, ENOTEMPTY, EISDIR, ENOTDIR, EINVAL, EPERM;
//! - `rename`: lower files and directories, NOREPLACE, EXCHANGE, never EXDEV;
//! - `copy_up`: what a first write keeps, sparse and large files, open fds;
//! - `links`: hardlinks, symlinks, fifos;
//! - `metadata`: chmod, chown, truncate, utimensat, xattrs, st_ino;
//! - `io`: O_APPEND, fsync, statfs, readdir offsets, persistence;
//! - `permissions`: what an unprivileged caller may not do;
//! - `upper_format`: burrow's upper layer and `diff::changes`.

mod common;

#[path = "posix/copy_up.rs"]
mod copy_up;
#[path = "posix/errors.rs"]
mod errors;
#[path = "posix/io.rs"]
mod io;
#[path = "posix/links.rs"]
mod links;
#[path = "posix/lookup.rs"]
mod lookup;
#[path = "posix/metadata.rs"]
mod metadata;
#[path = "posix/permissions.rs"]
mod permissions;
#[path = "posix/rename.rs"]
mod rename;
#[path = "posix/upper_format.rs"]
mod upper_format;

/// Small helpers shared by the groups.
mod util {
    use std::collections::BTreeMap;
    use std::path::Path;

    use crate::common::sys;

    pub fn lst(p: &Path) -> libc::stat {
        sys::ok(sys::lstat(p), &format!("lstat {}", p.display()))
    }

    pub fn perm(p: &Path) -> u32 {
        lst(p).st_mode & 0o7777
    }

    pub fn kind(p: &Path) -> u32 {
        lst(p).st_mode & libc::S_IFMT
    }

    pub fn mtime(p: &Path) -> (i64, i64) {
        let st = lst(p);
        (st.st_mtime, st.st_mtime_nsec)
    }

    pub fn read(p: &Path) -> Vec<u8> {
        sys::ok(std::fs::read(p), &format!("read {}", p.display()))
    }

    pub fn write(p: &Path, data: &[u8]) {
        sys::ok(std::fs::write(p, data), &format!("write {}", p.display()))
    }

    pub fn names(p: &Path) -> Vec<String> {
        sys::ok(sys::list(p), &format!("readdir {}", p.display())).into_iter().map(|n| n.to_string_lossy().into_owned()).collect()
    }

    pub fn user_xattrs(p: &Path) -> BTreeMap<String, Vec<u8>> {
        let mut out = BTreeMap::new();
        for n in sys::ok(sys::llistxattr(p), &format!("listxattr {}", p.display())) {
            let n = n.to_string_lossy().into_owned();
            if n.starts_with("user.") {
                let v = sys::ok(sys::lgetxattr(p, &n), &format!("getxattr {} {n}", p.display()));
                out.insert(n, v);
            }
        }
        out
    }
}
