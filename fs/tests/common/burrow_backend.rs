//! The burrow-fs API the suites drive, in one place.
//!
//! `mount` calls `burrow_fs::spawn_mount` (lowers topmost first; dropping
//! the `Mounted` unmounts) and `changes` renders `burrow_fs::diff::changes`
//! as "A /path", "C /path", "D /path" lines, docker-diff style.

use std::path::{Path, PathBuf};

pub type Mounted = burrow_fs::Mounted;

/// Mount `layers` (bottom first) over `upper` at `root`.
pub fn mount(layers: &[PathBuf], upper: &Path, work: &Path, root: &Path) -> Mounted {
    let cfg = burrow_fs::Config { lowers: layers.iter().rev().cloned().collect(), upper: upper.to_path_buf(), work: work.to_path_buf() };
    match burrow_fs::spawn_mount(cfg, root) {
        Ok(m) => m,
        Err(e) => panic!("burrow_fs::spawn_mount on {}: {e}", root.display()),
    }
}

/// The changes of `upper` against `lowers` (topmost first).
pub fn changes(lowers: &[PathBuf], upper: &Path) -> Vec<String> {
    use burrow_fs::diff::ChangeKind;
    let changes = burrow_fs::diff::changes(lowers, upper).unwrap_or_else(|e| panic!("diff::changes: {e}"));
    changes
        .iter()
        .map(|c| {
            let k = match c.kind {
                ChangeKind::Added => "A",
                ChangeKind::Changed => "C",
                ChangeKind::Deleted => "D",
            };
            format!("{k} {}", c.path.display())
        })
        .collect()
}
