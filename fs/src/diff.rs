//! What a container changed: `docker diff` over an OCI upper layer.

use std::path::{Path, PathBuf};

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

/// The changes `upper` makes over `lowers` (topmost first), sorted by path.
pub fn changes(_lowers: &[PathBuf], _upper: &Path) -> Result<Vec<Change>, Error> {
    Ok(Vec::new())
}
