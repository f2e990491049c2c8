//! Open files and directories: the handles behind FUSE `fh` numbers.
//!
//! A file handle owns a host descriptor. One opened read-only on a lower
//! file remembers the node's copy-up generation; when a writer copies the
//! file up, the next read sees the generation change and reopens the
//! upper copy, so it reads what was written (POSIX asks for it). A
//! directory handle owns the merged listing snapshot taken at `opendir`;
//! readdir offsets are indices into it, so they stay valid whatever
//! happens to the directory meanwhile. A read from offset 0 (the first
//! one, or after rewinddir) takes a fresh snapshot, as POSIX asks.

use std::collections::HashMap;
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};

use crate::inode::{read, write, Ino, Node};
use crate::overlay::Entry;

/// An open regular file (or other non-directory).
#[derive(Debug)]
pub struct FileHandle {
    pub node: Arc<Node>,
    /// The descriptor and the node generation it was opened at.
    pub fd: RwLock<(OwnedFd, u64)>,
    pub writable: bool,
}

/// An open directory.
#[derive(Debug)]
pub struct DirHandle {
    pub node: Arc<Node>,
    pub parent: Ino,
    /// The listing snapshot, taken at the first read from offset 0 and
    /// retaken at every later read from offset 0 (rewinddir).
    pub entries: RwLock<Option<Arc<Vec<Entry>>>>,
}

#[derive(Debug)]
pub enum Handle {
    File(FileHandle),
    Dir(DirHandle),
}

const SHARDS: usize = 32;

/// The handle table.
#[derive(Debug)]
pub struct Handles {
    shards: Vec<RwLock<HashMap<u64, Arc<Handle>>>>,
    next: AtomicU64,
}

impl Default for Handles {
    fn default() -> Self {
        Handles { shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect(), next: AtomicU64::new(1) }
    }
}

impl Handles {
    pub fn insert(&self, h: Handle) -> u64 {
        let fh = self.next.fetch_add(1, Ordering::Relaxed);
        write(&self.shards[fh as usize % SHARDS]).insert(fh, Arc::new(h));
        fh
    }

    pub fn get(&self, fh: u64) -> Option<Arc<Handle>> {
        read(&self.shards[fh as usize % SHARDS]).get(&fh).cloned()
    }

    pub fn remove(&self, fh: u64) -> Option<Arc<Handle>> {
        write(&self.shards[fh as usize % SHARDS]).remove(&fh)
    }
}
