//! The mounts a container's first process makes, as the record keeps
//! them: decided by `volume` when the container is created, made by
//! `process` at every start.

use std::path::PathBuf;

/// One mount the container asked for, ready for the kernel.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct UserMount {
    /// Cleaned absolute path inside the container.
    pub target: String,
    pub kind: UserMountKind,
    pub read_only: bool,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub enum UserMountKind {
    /// A host path or a volume's `_data`, with the identity checked
    /// before the container started.
    Bind { source: PathBuf, dev: u64, ino: u64, is_dir: bool },
    /// A tmpfs with mount(2) data (`size=..,mode=..`).
    Tmpfs { data: String, noexec: bool },
}
