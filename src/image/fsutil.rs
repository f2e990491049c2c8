//! Small file system helpers shared by the store and import: atomic
//! replacement of a file, random temp names, removal of trees that contain
//! read-only directories (image layers often do: `/proc` is 0555), and
//! moving a directory whose own mode forbids updating its `..` entry.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// 16 random hex digits for temp names.
pub fn random_hex() -> String {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        // Not security sensitive: names are also created with O_EXCL.
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b = (t.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    super::digest::to_hex(&b)
}

/// A fresh file name under `dir` (not created). This process becomes a
/// user of `dir` (`tmp::hold`), so `system prune` leaves the entry alone.
pub fn temp_path(dir: &Path, prefix: &str) -> PathBuf {
    super::tmp::hold(dir);
    dir.join(format!("{prefix}-{}", random_hex()))
}

/// Replace `dest` with `bytes`: write a temp file in `tmp_dir` (same file
/// system), fsync, rename over `dest`, fsync the directory.
pub fn write_atomic(tmp_dir: &Path, dest: &Path, bytes: &[u8]) -> io::Result<()> {
    let tmp = temp_path(tmp_dir, "write");
    let result = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result?;
    if let Some(dir) = dest.parent() {
        fsync_dir(dir);
    }
    Ok(())
}

/// Best-effort fsync of a directory after a rename into it.
pub fn fsync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
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

    #[test]
    fn atomic_write_replaces() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        write_atomic(t.path(), &f, b"one").unwrap();
        write_atomic(t.path(), &f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(fs::read_dir(t.path()).unwrap().count(), 1);
    }
}
