//! Small file system helpers shared by the store and import: random temp
//! names (whole files are replaced with `crate::atomic`), removal of trees that contain
//! read-only directories (image layers often do: `/proc` is 0555), and
//! moving a directory whose own mode forbids updating its `..` entry.

use std::fs;
use std::io;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// A fresh file name under `dir` (not created). This process becomes a
/// user of `dir` (`tmp::hold`), so `system prune` leaves the entry alone.
pub fn temp_path(dir: &Path, prefix: &str) -> PathBuf {
    super::tmp::hold(dir);
    dir.join(format!("{prefix}-{}", crate::atomic::random_hex()))
}

/// Remove `path` and everything under it, making directories writable
/// first, at any depth (`rmtree`). A missing path is not an error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    crate::rmtree::remove_tree(path)
}

/// Rename a directory; if its own mode forbids the move (moving a
/// directory to a new parent rewrites its `..`, which needs write
/// permission on it), lend it u+w for the move.
pub fn rename_dir(from: &Path, to: &Path) -> io::Result<()> {
    match fs::rename(from, to) {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied => {
            let mode = fs::symlink_metadata(from)?.permissions().mode();
            fs::set_permissions(from, fs::Permissions::from_mode(mode | 0o200))?;
            let r = fs::rename(from, to);
            let back = if r.is_ok() { to } else { from };
            let _ = fs::set_permissions(back, fs::Permissions::from_mode(mode & 0o7777));
            r
        }
        r => r,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removes_read_only_trees() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("top");
        fs::create_dir_all(top.join("a/b")).unwrap();
        fs::write(top.join("a/b/f"), b"x").unwrap();
        fs::set_permissions(top.join("a/b"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(top.join("a"), fs::Permissions::from_mode(0o000)).unwrap();
        remove_tree(&top).unwrap();
        assert!(!top.exists());
        remove_tree(&top).unwrap();
    }
}
