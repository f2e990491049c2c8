//! Inode numbers and the table of nodes the kernel knows.
//!
//! Theory of operation. The kernel names files by node id ([`Ino`]); root
//! is 1. A number is tied to the identity of the file on the host, the
//! (device, inode) pair of its topmost layer entry, by [`InoMap`], which is
//! never trimmed while the mount lives: a node the kernel forgot and looks
//! up again gets the same number, and hardlinks inside one layer share
//! it. A copy-up registers the new upper identity under the old number.
//! When the last host link of an upper file goes, its identity is dropped
//! so a recycled host inode gets a fresh number.
//!
//! [`Nodes`] holds what the kernel currently references: one [`Node`] per
//! number with its FUSE lookup count, freed when `forget` brings the count
//! to zero. Each node caches its merged relative path, its topmost layer
//! and, for directories, its [`DirView`]. Both tables are sharded so no
//! lock is shared by all requests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::overlay::{DirView, Entry, Layer};
use crate::writes::Behind;

/// A FUSE node id / the st_ino the overlay reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Ino(pub u64);

impl Ino {
    pub const ROOT: Ino = Ino(1);
}

const SHARDS: usize = 64;

/// Lock helpers that survive poisoning: a panicking thread must not take
/// the whole mount down with it.
pub fn read<T>(l: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    l.read().unwrap_or_else(|e| e.into_inner())
}
pub fn write<T>(l: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    l.write().unwrap_or_else(|e| e.into_inner())
}
pub fn lock<T>(l: &Mutex<T>) -> MutexGuard<'_, T> {
    l.lock().unwrap_or_else(|e| e.into_inner())
}

/// Host identity → number.
#[derive(Debug)]
pub struct InoMap {
    shards: Vec<Mutex<HashMap<(u64, u64), Ino>>>,
    next: AtomicU64,
}

impl Default for InoMap {
    fn default() -> Self {
        InoMap { shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(), next: AtomicU64::new(2) }
    }
}

fn shard_of(dev: u64, ino: u64) -> usize {
    ((ino ^ dev.rotate_left(17)).wrapping_mul(0x9E37_79B9_7F4A_7C15) >> 58) as usize % SHARDS
}

impl InoMap {
    /// The number of host file (dev, ino), allocating one if new.
    pub fn get_or_alloc(&self, dev: u64, ino: u64) -> Ino {
        let mut shard = lock(&self.shards[shard_of(dev, ino)]);
        *shard.entry((dev, ino)).or_insert_with(|| Ino(self.next.fetch_add(1, Ordering::Relaxed)))
    }

    pub fn get(&self, dev: u64, ino: u64) -> Option<Ino> {
        lock(&self.shards[shard_of(dev, ino)]).get(&(dev, ino)).copied()
    }

    /// Tie host file (dev, ino) to an existing number (copy-up, root).
    pub fn bind(&self, dev: u64, ino: u64, to: Ino) {
        lock(&self.shards[shard_of(dev, ino)]).insert((dev, ino), to);
    }

    /// Forget a host identity whose last link is gone.
    pub fn unbind(&self, dev: u64, ino: u64) {
        lock(&self.shards[shard_of(dev, ino)]).remove(&(dev, ino));
    }
}

/// The cached place of a node in the merged tree.
#[derive(Debug, Clone)]
pub struct Place {
    /// Parent directory (root is its own parent).
    pub parent: Ino,
    /// Merged path relative to the root, "" for the root.
    pub path: Vec<u8>,
    /// The topmost layer holding it.
    pub layer: Layer,
    /// `S_IFMT` bits.
    pub fmt: u32,
    /// For directories, the layers it draws on.
    pub view: DirView,
    /// Other known names of a hardlinked file (the kernel shares one node).
    pub links: Vec<Vec<u8>>,
    /// Its last name was removed while the kernel still references it
    /// (an open unlinked file): `path` no longer leads to it.
    pub gone: bool,
}

impl Place {
    /// `old` is gone: fall back to another known name if it was the primary.
    pub fn drop_name(&mut self, old: &[u8]) {
        self.links.retain(|l| l != old);
        if self.path == old {
            match self.links.pop() {
                Some(l) => self.path = l,
                None => self.gone = true,
            }
        }
    }

    /// `old` became `new`; `new` becomes the primary name.
    pub fn rename_name(&mut self, old: &[u8], new: Vec<u8>) {
        self.gone = false;
        if self.path != old && self.fmt != libc::S_IFDIR {
            let prev = std::mem::take(&mut self.path);
            self.links.push(prev);
        }
        self.links.retain(|l| l != old && *l != new);
        self.path = new;
    }

    /// Rewrite every name under directory `from` to lie under `to`.
    pub fn reroot(&mut self, from: &[u8], to: &[u8]) {
        let fix = |p: &mut Vec<u8>| {
            if p.len() > from.len() && p.starts_with(from) && p[from.len()] == b'/' {
                let mut np = to.to_vec();
                np.extend_from_slice(&p[from.len()..]);
                *p = np;
            }
        };
        fix(&mut self.path);
        self.links.iter_mut().for_each(fix);
    }
}

/// One node the kernel references.
#[derive(Debug)]
pub struct Node {
    pub ino: Ino,
    lookups: AtomicU64,
    pub place: RwLock<Place>,
    /// Serialises copy-up of this node.
    pub copy_lock: Mutex<()>,
    /// A directory's listing snapshot: the kernel reads directories
    /// without opendir (see `fuse`), so the snapshot that keeps offsets
    /// stable lives here, retaken at every read from offset 0.
    pub listing: RwLock<Option<Arc<Vec<Entry>>>>,
    /// A descriptor kept for a file whose last name was removed while the
    /// kernel still references it (it may be open: files are served
    /// without open, so this is how an unlinked open file stays readable
    /// and writable), and whether it is writable. Used only while the
    /// node is `gone`.
    pub kept: Mutex<Option<(std::os::fd::OwnedFd, bool)>>,
    /// Orders a file's writes and holds requests about it while a write
    /// answered early is still landing (see `writes`).
    pub behind: Behind,
}

impl Node {
    pub fn place(&self) -> Place {
        read(&self.place).clone()
    }

    pub fn is_upper(&self) -> bool {
        read(&self.place).layer == Layer::Upper
    }
}

/// The nodes the kernel holds, by number.
#[derive(Debug)]
pub struct Nodes {
    shards: Vec<RwLock<HashMap<Ino, Arc<Node>>>>,
}

impl Default for Nodes {
    fn default() -> Self {
        Nodes { shards: (0..SHARDS).map(|_| RwLock::new(HashMap::new())).collect() }
    }
}

impl Nodes {
    fn shard(&self, ino: Ino) -> &RwLock<HashMap<Ino, Arc<Node>>> {
        &self.shards[(ino.0 as usize) % SHARDS]
    }

    pub fn get(&self, ino: Ino) -> Option<Arc<Node>> {
        read(self.shard(ino)).get(&ino).cloned()
    }

    /// Count one more kernel reference to `ino` at `place`, creating the
    /// node if the kernel had none. The cached place is refreshed, except
    /// that a node already in the upper layer is not moved back down.
    pub fn remember(&self, ino: Ino, place: Place, count: u64) -> Arc<Node> {
        let mut shard = write(self.shard(ino));
        if let Some(node) = shard.get(&ino) {
            node.lookups.fetch_add(count, Ordering::Relaxed);
            let node = node.clone();
            drop(shard);
            {
                let mut p = write(&node.place);
                p.parent = place.parent;
                if p.fmt != libc::S_IFDIR && p.path != place.path && !p.links.contains(&p.path) {
                    let prev = std::mem::take(&mut p.path);
                    p.links.push(prev);
                }
                p.links.retain(|l| *l != place.path);
                p.path = place.path;
                p.gone = false;
                p.fmt = place.fmt;
                if place.layer == Layer::Upper || p.layer != Layer::Upper {
                    p.layer = place.layer;
                }
                p.view = place.view;
            }
            return node;
        }
        let node = Arc::new(Node {
            ino,
            lookups: AtomicU64::new(count),
            place: RwLock::new(place),
            copy_lock: Mutex::new(()),
            listing: RwLock::new(None),
            kept: Mutex::new(None),
            behind: Behind::default(),
        });
        shard.insert(ino, node.clone());
        node
    }

    /// Drop `n` kernel references; the node goes when none are left.
    pub fn forget(&self, ino: Ino, n: u64) {
        if ino == Ino::ROOT {
            return;
        }
        let mut shard = write(self.shard(ino));
        if let Some(node) = shard.get(&ino) {
            let prev = node.lookups.load(Ordering::Relaxed);
            let left = prev.saturating_sub(n);
            node.lookups.store(left, Ordering::Relaxed);
            if left == 0 {
                shard.remove(&ino);
            }
        }
    }

    /// How many nodes are held (for tests and logs).
    pub fn len(&self) -> usize {
        self.shards.iter().map(|s| read(s).len()).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Every node with a name (its path or another hardlink's) under
    /// directory `prefix`.
    pub fn under(&self, prefix: &[u8]) -> Vec<Arc<Node>> {
        let inside = |p: &[u8]| p.len() > prefix.len() && p.starts_with(prefix) && p[prefix.len()] == b'/';
        let mut out = Vec::new();
        for s in &self.shards {
            for node in read(s).values() {
                let p = read(&node.place);
                if inside(&p.path) || p.links.iter().any(|l| inside(l)) {
                    out.push(node.clone());
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn place(path: &str) -> Place {
        Place {
            parent: Ino::ROOT,
            path: path.as_bytes().to_vec(),
            layer: Layer::Lower(0),
            fmt: libc::S_IFREG,
            view: DirView::default(),
            links: Vec::new(),
            gone: false,
        }
    }

    #[test]
    fn numbers_are_stable_and_shared_by_hardlinks() {
        let m = InoMap::default();
        let a = m.get_or_alloc(1, 100);
        let b = m.get_or_alloc(1, 101);
        assert_ne!(a, b);
        assert_eq!(m.get_or_alloc(1, 100), a);
        assert_ne!(m.get_or_alloc(2, 100), a, "same inode on another device is another file");
        m.bind(3, 7, a);
        assert_eq!(m.get(3, 7), Some(a));
        m.unbind(3, 7);
        assert_eq!(m.get(3, 7), None);
    }

    #[test]
    fn forget_frees_at_zero() {
        let n = Nodes::default();
        n.remember(Ino(5), place("a"), 1);
        n.remember(Ino(5), place("a"), 2);
        n.forget(Ino(5), 2);
        assert!(n.get(Ino(5)).is_some());
        n.forget(Ino(5), 1);
        assert!(n.get(Ino(5)).is_none());
        assert!(n.is_empty());
    }

    #[test]
    fn under_matches_whole_components() {
        let n = Nodes::default();
        n.remember(Ino(2), place("a/b"), 1);
        n.remember(Ino(3), place("ab/c"), 1);
        n.remember(Ino(4), place("a"), 1);
        let got: Vec<Ino> = n.under(b"a").iter().map(|x| x.ino).collect();
        assert_eq!(got, vec![Ino(2)]);
    }

    #[test]
    fn under_finds_a_hardlink_by_any_of_its_names() {
        // The newest name is the node's path; an older name inside a
        // renamed directory must still be rewritten (else a later unlink
        // of the newest name leaves the node at a stale path).
        let n = Nodes::default();
        let mut p = place("data/g8");
        p.links.push(b"dir/d8".to_vec());
        n.remember(Ino(7), p, 1);
        let got: Vec<Ino> = n.under(b"dir").iter().map(|x| x.ino).collect();
        assert_eq!(got, vec![Ino(7)]);
        let node = n.get(Ino(7)).unwrap();
        write(&node.place).reroot(b"dir", b"moved");
        assert_eq!(read(&node.place).links, vec![b"moved/d8".to_vec()]);
    }
}
