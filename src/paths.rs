//! Where burrow keeps things.
//!
//! The store (images, layers, containers, volumes) lives under
//! `$BURROW_ROOT`, else `--root`, else `$XDG_DATA_HOME/burrow`, else
//! `~/.local/share/burrow`. Runtime state that must not survive a reboot
//! (sockets, pid files) lives under `$XDG_RUNTIME_DIR/burrow`, else
//! `/tmp/burrow-$UID`. This module only computes paths; it creates nothing.

use std::path::{Path, PathBuf};

/// The storage root and the runtime directory of one burrow user.
#[derive(Debug, Clone)]
pub struct Paths {
    pub root: PathBuf,
    pub runtime: PathBuf,
}

impl Paths {
    /// Resolve the paths from an explicit root (the `--root` flag or
    /// `BURROW_ROOT`, which clap folds into one value) and the environment.
    pub fn resolve(explicit_root: Option<&Path>) -> Paths {
        let uid = nix::unistd::getuid().as_raw();
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        let root = explicit_root
            .map(Path::to_path_buf)
            .or_else(|| env("XDG_DATA_HOME").map(|d| d.join("burrow")))
            .or_else(|| env("HOME").map(|h| h.join(".local/share/burrow")))
            .unwrap_or_else(|| PathBuf::from(format!("/tmp/burrow-{uid}/store")));
        Paths { root, runtime: Paths::runtime_dir() }
    }

    /// The runtime directory alone: `$XDG_RUNTIME_DIR/burrow`, else
    /// `/tmp/burrow-$UID` (it does not depend on the store root).
    pub fn runtime_dir() -> PathBuf {
        let uid = nix::unistd::getuid().as_raw();
        match std::env::var_os("XDG_RUNTIME_DIR").filter(|v| !v.is_empty()) {
            Some(d) => PathBuf::from(d).join("burrow"),
            None => PathBuf::from(format!("/tmp/burrow-{uid}")),
        }
    }

    pub fn blobs(&self) -> PathBuf {
        self.root.join("blobs/sha256")
    }
    pub fn layers(&self) -> PathBuf {
        self.root.join("layers")
    }
    pub fn containers(&self) -> PathBuf {
        self.root.join("containers")
    }
    /// User-defined networks (`network::store`).
    pub fn networks(&self) -> PathBuf {
        self.root.join("networks")
    }
    pub fn tmp(&self) -> PathBuf {
        self.root.join("tmp")
    }
    /// Derived data that can always be rebuilt (compiled seccomp programs).
    pub fn cache(&self) -> PathBuf {
        self.root.join("cache")
    }
    pub fn lock_file(&self) -> PathBuf {
        self.root.join("lock")
    }
    /// Preallocated room for removals on a full disk (`atomic::Reserve`).
    pub fn reserve(&self) -> PathBuf {
        self.root.join("reserve")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn explicit_root_wins() {
        let p = Paths::resolve(Some(Path::new("/srv/b")));
        assert_eq!(p.root, PathBuf::from("/srv/b"));
        assert_eq!(p.blobs(), PathBuf::from("/srv/b/blobs/sha256"));
        assert_eq!(p.layers(), PathBuf::from("/srv/b/layers"));
    }
}
