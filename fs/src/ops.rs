//! The overlay filesystem: node bookkeeping, lookups, attributes, open
//! files and listings, independent of the FUSE wire protocol.
//!
//! Theory of operation. [`Overlay`] ties the layer stack (`overlay`), the
//! node and number tables (`inode`); there are no open handles: files
//! and directories are served without open (see `fuse`). Every
//! operation starts from a node's cached [`Place`]: its relative path, its
//! topmost layer and, for a directory, its view; no operation walks from
//! the root. A lookup resolves one name against the parent's view and
//! counts a kernel reference. Copy-up happens here, on first write or
//! metadata change, parents first, each node under its own lock, never
//! under a table-wide one. Mutations live in `mutate` and `rename`.
//!
//! Every method answers `io::Result`; the FUSE adapter turns errors into
//! errno replies. Nothing here panics on bad input.

use std::collections::HashMap;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};

use crate::copyup::{self, Privilege};
use crate::inode::{lock, read, write, Ino, InoMap, Node, Nodes, Place};
use crate::overlay::{self, DirView, Entry, Found, Layer, Stack};
use crate::sys;

/// A stat whose `st_ino` is the overlay's number.
pub type Attr = libc::stat;

/// The overlay state shared by all worker threads.
#[derive(Debug)]
pub struct Overlay {
    pub stack: Stack,
    pub inos: InoMap,
    pub nodes: Nodes,
    pub privilege: Privilege,
    /// Host device of each lower layer root (for listing numbers).
    lower_devs: Vec<u64>,
    upper_dev: u64,
    /// Per lower layer, built on first need: inode → names, for files
    /// with more than one link (so a copy-up keeps the link group).
    link_index: Vec<OnceLock<HashMap<u64, Vec<Vec<u8>>>>>,
    /// Writes answered before they landed and still landing (`writes`).
    pub writes_in_flight: AtomicUsize,
}

/// Walk a layer and collect the names of multiply-linked files.
fn build_link_index(root: BorrowedFd<'_>) -> HashMap<u64, Vec<Vec<u8>>> {
    let mut out: HashMap<u64, Vec<Vec<u8>>> = HashMap::new();
    let mut todo: Vec<Vec<u8>> = vec![Vec::new()];
    while let Some(dir) = todo.pop() {
        let Ok(entries) = sys::read_dir(root, &dir) else { continue };
        for e in entries {
            let path = sys::join(&dir, &e.name);
            match e.dtype {
                libc::DT_DIR => todo.push(path),
                libc::DT_REG | libc::DT_UNKNOWN => {
                    if let Ok(st) = sys::fstatat(root, &path) {
                        if overlay::is_dir(&st) {
                            todo.push(path);
                        } else if st.st_nlink > 1 {
                            out.entry(st.st_ino).or_default().push(path);
                        }
                    }
                }
                _ => {}
            }
        }
    }
    out
}

pub fn enoent() -> io::Error {
    sys::errno(libc::ENOENT)
}

impl Overlay {
    /// Open the stack and register the root.
    pub fn new(stack: Stack) -> io::Result<Overlay> {
        let upper_st = sys::fstatat(stack.upper(), b"")?;
        let mut lower_devs = Vec::new();
        for i in 0..stack.lower_count() {
            lower_devs.push(sys::fstatat(stack.fd(Layer::Lower(i as u16)), b"")?.st_dev);
        }
        let view = stack.root_view(true)?;
        let ov = Overlay {
            stack,
            inos: InoMap::default(),
            nodes: Nodes::default(),
            privilege: Privilege { root: sys::euid() == 0 },
            link_index: (0..lower_devs.len()).map(|_| OnceLock::new()).collect(),
            writes_in_flight: AtomicUsize::new(0),
            lower_devs,
            upper_dev: upper_st.st_dev,
        };
        ov.inos.bind(upper_st.st_dev, upper_st.st_ino, Ino::ROOT);
        ov.nodes.remember(
            Ino::ROOT,
            Place { parent: Ino::ROOT, path: Vec::new(), layer: Layer::Upper, fmt: libc::S_IFDIR, view, links: Vec::new(), gone: false },
            1,
        );
        Ok(ov)
    }

    /// The node of `ino`, once a write to it answered early has landed
    /// (so every request sees the data; see `writes`).
    pub fn node(&self, ino: Ino) -> io::Result<Arc<Node>> {
        let node = self.nodes.get(ino).ok_or_else(|| {
            tracing::debug!(ino = ino.0, "request for a node the kernel should not know");
            sys::errno(libc::ESTALE)
        })?;
        node.behind.settle();
        Ok(node)
    }

    /// Fix up a host stat for the merged view. A stat taken by name
    /// while a write answered early was landing is taken again after it.
    pub fn present(&self, ino: Ino, mut st: libc::stat, view: Option<&DirView>) -> Attr {
        if self.writes_in_flight.load(Ordering::Acquire) > 0 {
            if let Some(node) = self.nodes.get(ino).filter(|n| n.behind.is_pending()) {
                node.behind.settle();
                if let Ok((again, _)) = self.stat_node(&node, &node.place()) {
                    st = again;
                }
            }
        }
        st.st_ino = ino.0;
        if let Some(v) = view {
            // a merged directory's link count says nothing about its
            // subdirectories; 1 tells find(1) not to count on it
            if v.layers().nth(1).is_some() {
                st.st_nlink = 1;
            }
        }
        st
    }

    /// Count a kernel reference to a found entry and return its attributes.
    pub fn enter(&self, parent: Ino, dir: &[u8], name: &[u8], found: Found) -> (Ino, Attr) {
        let ino = self.inos.get_or_alloc(found.st.st_dev, found.st.st_ino);
        let fmt = found.st.st_mode & libc::S_IFMT;
        let attr = self.present(ino, found.st, found.view.as_ref());
        let place = Place {
            parent,
            path: sys::join(dir, name),
            layer: found.layer,
            fmt,
            view: found.view.unwrap_or_default(),
            links: Vec::new(),
            gone: false,
        };
        self.nodes.remember(ino, place, 1);
        (ino, attr)
    }

    /// Look `name` up in directory `parent`; `None` if absent.
    pub fn lookup(&self, parent: Ino, name: &[u8]) -> io::Result<Option<(Ino, Attr)>> {
        if name.len() > 255 {
            return Err(sys::errno(libc::ENAMETOOLONG));
        }
        let p = self.node(parent)?.place();
        if p.fmt != libc::S_IFDIR {
            return Err(sys::errno(libc::ENOTDIR));
        }
        match overlay::resolve(&self.stack, &p.path, &p.view, name)? {
            Some(found) => Ok(Some(self.enter(parent, &p.path, name, found))),
            None => Ok(None),
        }
    }

    pub fn forget(&self, ino: Ino, n: u64) {
        self.nodes.forget(ino, n);
    }

    /// The attributes of a node (of its kept descriptor once removed).
    pub fn getattr(&self, ino: Ino) -> io::Result<Attr> {
        let node = self.node(ino)?;
        let p = node.place();
        let (st, kept) = self.stat_node(&node, &p)?;
        Ok(self.present(ino, st, (p.fmt == libc::S_IFDIR && !kept).then_some(&p.view)))
    }

    /// The host stat of a node at place `p`: of its kept descriptor once
    /// removed (then `true`), else of its topmost entry.
    fn stat_node(&self, node: &Node, p: &Place) -> io::Result<(libc::stat, bool)> {
        if p.gone {
            if let Some((fd, _)) = lock(&node.kept).as_ref() {
                return Ok((sys::fstat(fd.as_fd())?, true));
            }
        }
        Ok((sys::fstatat(self.stack.fd(p.layer), &p.path)?, false))
    }

    /// Run `f` on a descriptor of file `ino` (files are served without
    /// open handles, see `fuse`): for a removed file its kept descriptor,
    /// else the file in its current layer, opened for this request;
    /// `write` copies it up first. Reads therefore always see the topmost
    /// copy, also right after a copy-up.
    pub fn with_node_fd<T>(&self, ino: Ino, write: bool, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>) -> io::Result<T> {
        self.with_fd_of(&self.node(ino)?, write, f)
    }

    /// [`Overlay::with_node_fd`] for a node already in hand.
    pub fn with_fd_of<T>(&self, node: &Arc<Node>, write: bool, f: impl FnOnce(BorrowedFd<'_>) -> io::Result<T>) -> io::Result<T> {
        if node.place().gone {
            let mut kept = lock(&node.kept);
            let Some((fd, writable)) = kept.as_mut() else {
                // removed, and nothing kept: its old path is someone else's now
                return Err(sys::errno(libc::ENOENT));
            };
            if write && !*writable {
                *fd = self.private_copy(fd.as_fd())?;
                *writable = true;
            }
            return f(fd.as_fd());
        }
        if write {
            self.copy_up(node, true)?;
        }
        let p = node.place();
        let flags = if write { libc::O_WRONLY } else { libc::O_RDONLY };
        let dir = self.stack.fd(p.layer);
        let fd = match sys::openat(dir, &p.path, flags | libc::O_NOFOLLOW, 0) {
            // An unprivileged server writing a file of its own that the
            // caller made read-only (create 0444 then write, which the
            // kernel allows through the creating descriptor): lend it the
            // owner's write bit for the open. Only ever an upper file.
            Err(e) if write && e.raw_os_error() == Some(libc::EACCES) && !self.privilege.root && p.layer == Layer::Upper => {
                let st = sys::fstatat(dir, &p.path)?;
                sys::fchmodat(dir, &p.path, (st.st_mode & 0o7777) | 0o200)?;
                let opened = sys::openat(dir, &p.path, flags | libc::O_NOFOLLOW, 0);
                sys::fchmodat(dir, &p.path, st.st_mode & 0o7777)?;
                opened?
            }
            other => other?,
        };
        f(fd.as_fd())
    }

    /// An unnamed writable copy (O_TMPFILE in the work directory) of a
    /// read-only kept file: writing to a removed lower file.
    fn private_copy(&self, from: BorrowedFd<'_>) -> io::Result<OwnedFd> {
        let tmp = sys::openat(self.stack.work(), b".", libc::O_TMPFILE | libc::O_RDWR, 0o600)?;
        let mut src = std::fs::File::from(from.try_clone_to_owned()?);
        let mut dst = std::fs::File::from(tmp.try_clone()?);
        std::io::Seek::seek(&mut src, std::io::SeekFrom::Start(0))?;
        std::io::copy(&mut src, &mut dst)?;
        let st = sys::fstat(from)?;
        let _ = sys::fchmod(tmp.as_fd(), st.st_mode & 0o7777);
        let _ = sys::fchown(tmp.as_fd(), st.st_uid, st.st_gid);
        Ok(tmp)
    }

    /// Before `path`, the last known name of `node`, goes: keep a
    /// descriptor, since the kernel may still have the file open and,
    /// without open, the server has no other way to it. Freed with the
    /// node. A lower file is only ever opened read-only.
    pub fn keep_open(&self, node: &Node, layer: Layer, path: &[u8]) {
        {
            let p = node.place();
            if p.fmt != libc::S_IFREG || p.path != path || !p.links.is_empty() {
                return;
            }
        }
        let dir = self.stack.fd(layer);
        let writable = match layer {
            Layer::Upper => sys::openat(dir, path, libc::O_RDWR | libc::O_NOFOLLOW, 0).ok(),
            Layer::Lower(_) => None,
        };
        let fd = match writable {
            Some(fd) => Ok((fd, true)),
            None => sys::openat(dir, path, libc::O_RDONLY | libc::O_NOFOLLOW, 0).map(|fd| (fd, false)),
        };
        match fd {
            Ok(kept) => *lock(&node.kept) = Some(kept),
            Err(e) => tracing::debug!(error = %e, "cannot keep a descriptor of a removed file"),
        }
    }

    /// Attributes of the upper entry of a node (after a change).
    pub fn upper_attr(&self, node: &Node) -> io::Result<Attr> {
        let p = node.place();
        let st = sys::fstatat(self.stack.upper(), &p.path)?;
        Ok(self.present(node.ino, st, (p.fmt == libc::S_IFDIR).then_some(&p.view)))
    }

    pub fn readlink(&self, ino: Ino) -> io::Result<Vec<u8>> {
        let p = self.node(ino)?.place();
        sys::readlinkat(self.stack.fd(p.layer), &p.path)
    }

    // ---- copy-up -------------------------------------------------------

    /// Make sure the node exists in the upper layer (parents first).
    /// `with_data`: whether file contents matter (not when truncating).
    pub fn copy_up(&self, node: &Arc<Node>, with_data: bool) -> io::Result<()> {
        if node.is_upper() {
            return Ok(());
        }
        let p = node.place();
        self.ensure_upper_dir(p.parent, sys::split(&p.path).0)?;
        let _guard = lock(&node.copy_lock);
        let p = node.place();
        if p.layer == Layer::Upper {
            return Ok(());
        }
        tracing::trace!(path = ?String::from_utf8_lossy(&p.path), ?p.layer, "copy-up");
        let src = sys::fstatat(self.stack.fd(p.layer), &p.path)?;
        let st = copyup::copy_entry(&self.stack, p.layer, &p.path, with_data || src.st_nlink > 1, self.privilege)?;
        self.inos.bind(st.st_dev, st.st_ino, node.ino);
        let mut names = Vec::new();
        if let (Layer::Lower(i), true) = (p.layer, src.st_nlink > 1 && !overlay::is_dir(&src)) {
            names = self.copy_up_links(i, &src, &p.path);
        }
        {
            let mut w = write(&node.place);
            for n in names {
                if !w.links.contains(&n) && w.path != n {
                    w.links.push(n);
                }
            }
            w.layer = Layer::Upper;
            if w.fmt == libc::S_IFDIR {
                w.view.upper = true;
            }
        }
        Ok(())
    }

    /// After copying up `path`, a file with more links in lower layer `i`:
    /// give every other name that still shows that file the same upper
    /// inode, so the link group survives. Returns the names linked.
    fn copy_up_links(&self, i: u16, src: &libc::stat, path: &[u8]) -> Vec<Vec<u8>> {
        let index = self.link_index[i as usize].get_or_init(|| build_link_index(self.stack.fd(Layer::Lower(i))));
        let mut done = Vec::new();
        for other in index.get(&src.st_ino).into_iter().flatten() {
            if other == path {
                continue;
            }
            let shows = matches!(self.resolve_path(other), Ok(Some(f)) if f.layer == Layer::Lower(i) && f.st.st_ino == src.st_ino);
            if !shows {
                continue;
            }
            let r =
                self.ensure_upper_path(sys::split(other).0).and_then(|_| sys::linkat(self.stack.upper(), path, self.stack.upper(), other));
            match r {
                Ok(()) => done.push(other.clone()),
                Err(e) => tracing::debug!(name = ?String::from_utf8_lossy(other), error = %e, "hardlink not kept at copy-up"),
            }
        }
        done
    }

    /// Resolve a merged path from the root.
    pub fn resolve_path(&self, path: &[u8]) -> io::Result<Option<Found>> {
        let mut dir: Vec<u8> = Vec::new();
        let mut view = self.node(Ino::ROOT)?.place().view;
        let mut comps = path.split(|&b| b == b'/').peekable();
        while let Some(comp) = comps.next() {
            let Some(found) = overlay::resolve(&self.stack, &dir, &view, comp)? else { return Ok(None) };
            if comps.peek().is_none() {
                return Ok(Some(found));
            }
            let Some(v) = found.view else { return Ok(None) };
            dir = sys::join(&dir, comp);
            view = v;
        }
        Ok(None)
    }

    /// Make sure directory `ino` (at `path`) exists in the upper layer.
    pub fn ensure_upper_dir(&self, ino: Ino, path: &[u8]) -> io::Result<()> {
        match self.nodes.get(ino) {
            Some(n) => self.copy_up(&n, true),
            None => self.ensure_upper_path(path),
        }
    }

    /// Path-driven fallback: copy up every directory of `path` from the root.
    pub fn ensure_upper_path(&self, path: &[u8]) -> io::Result<()> {
        let mut dir: Vec<u8> = Vec::new();
        let mut view = self.node(Ino::ROOT)?.place().view;
        if path.is_empty() {
            return Ok(());
        }
        for comp in path.split(|&b| b == b'/') {
            let found = overlay::resolve(&self.stack, &dir, &view, comp)?.ok_or_else(enoent)?;
            let mut v = found.view.ok_or_else(|| sys::errno(libc::ENOTDIR))?;
            let child = sys::join(&dir, comp);
            if found.layer != Layer::Upper {
                let st = copyup::copy_entry(&self.stack, found.layer, &child, true, self.privilege)?;
                if let Some(ino) = self.inos.get(found.st.st_dev, found.st.st_ino) {
                    self.inos.bind(st.st_dev, st.st_ino, ino);
                    if let Some(node) = self.nodes.get(ino) {
                        let mut w = write(&node.place);
                        w.layer = Layer::Upper;
                        w.view.upper = true;
                    }
                }
                v.upper = true;
            }
            dir = child;
            view = v;
        }
        Ok(())
    }

    /// The number a listing entry shows (the same a lookup would give).
    pub fn entry_ino(&self, e: &Entry) -> Ino {
        let dev = match e.layer {
            Layer::Upper => self.upper_dev,
            Layer::Lower(i) => self.lower_devs.get(i as usize).copied().unwrap_or(0),
        };
        self.inos.get_or_alloc(dev, e.host_ino)
    }

    /// Resolve a listing entry fully (readdirplus) and count a reference.
    pub fn enter_entry(&self, dir: &Node, e: &Entry) -> io::Result<Option<(Ino, Attr)>> {
        let p = dir.place();
        match overlay::resolve_from(&self.stack, &p.path, &p.view, &e.name, Some(e.layer))? {
            Some(found) => Ok(Some(self.enter(dir.ino, &p.path, &e.name, found))),
            None => Ok(None),
        }
    }

    /// The listing of directory `ino` for a read at `offset`, without an
    /// open handle: a fresh snapshot at offset 0, kept on the node for the
    /// reads that follow. Also returns the node and its parent.
    pub fn node_listing(&self, ino: Ino, offset: u64) -> io::Result<(Arc<Node>, Ino, Arc<Vec<Entry>>)> {
        let node = self.node(ino)?;
        let p = node.place();
        if p.fmt != libc::S_IFDIR {
            return Err(sys::errno(libc::ENOTDIR));
        }
        if offset != 0 {
            if let Some(e) = read(&node.listing).as_ref() {
                return Ok((node.clone(), p.parent, e.clone()));
            }
        }
        let fresh = Arc::new(overlay::list(&self.stack, &p.path, &p.view)?);
        *write(&node.listing) = Some(fresh.clone());
        Ok((node, p.parent, fresh))
    }

    pub fn statfs(&self) -> io::Result<libc::statvfs> {
        sys::fstatvfs(self.stack.upper())
    }

    /// fsync of a directory: only an upper directory holds changes.
    pub fn fsyncdir(&self, ino: Ino) -> io::Result<()> {
        let p = self.node(ino)?.place();
        if p.layer != Layer::Upper {
            return Ok(());
        }
        let fd = sys::openat(self.stack.upper(), &p.path, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
        sys::fsync(fd.as_fd())
    }
}
