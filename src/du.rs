//! Disk usage of a tree, as `du` counts it for `system df` and prune
//! reports: the bytes of regular files, each inode once (hard links are
//! counted once), without following symlinks. Unreadable parts count as
//! nothing: a size is a report, never a reason to fail.

use std::collections::HashSet;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

/// Bytes of regular files under `path`, each inode once.
pub fn tree_size(path: &Path) -> u64 {
    fn walk(p: &Path, seen: &mut HashSet<(u64, u64)>) -> u64 {
        let Ok(m) = std::fs::symlink_metadata(p) else { return 0 };
        if m.is_file() {
            return if seen.insert((m.dev(), m.ino())) { m.len() } else { 0 };
        }
        if !m.is_dir() {
            return 0;
        }
        let Ok(rd) = std::fs::read_dir(p) else { return 0 };
        rd.flatten().map(|e| walk(&e.path(), seen)).sum()
    }
    walk(path, &mut HashSet::new())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_inode_once() {
        let t = tempfile::tempdir().unwrap();
        std::fs::write(t.path().join("a"), vec![0u8; 1000]).unwrap();
        std::fs::hard_link(t.path().join("a"), t.path().join("b")).unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::fs::write(t.path().join("d/c"), b"abc").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", t.path().join("l")).unwrap();
        assert_eq!(tree_size(t.path()), 1003);
        assert_eq!(tree_size(&t.path().join("missing")), 0);
    }
}
