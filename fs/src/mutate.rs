//! Changes to the merged tree other than rename: new entries, deletions,
//! attribute and xattr changes, written to the upper layer in OCI form.
//!
//! Theory of operation. A new entry is created in the upper copy of its
//! parent (copied up first). If a `.wh.NAME` whiteout sat there, it is
//! removed after the entry exists (an entry beats a whiteout of its own
//! layer, so a crash in between shows the new entry), and a new directory
//! gets an opaque marker so the deleted lower directory stays hidden. A
//! deletion writes `.wh.NAME` first when the name is still visible in a
//! lower layer, then removes the upper entry. Names starting with `.wh.`
//! cannot be created from inside the mount (EINVAL): they would be read
//! back as deletions once the upper is used as a layer.
//!
//! Owners are the caller's ids (BSD/SysV: a setgid directory passes its
//! group and, to subdirectories, its setgid bit). Modes arrive with the
//! umask applied by the kernel; worker threads run with a zero umask of
//! their own so the host does not mask again.

use std::ffi::CString;
use std::io;
use std::sync::Arc;

use crate::copyup::{self, chown_lenient};
use crate::inode::{write, Ino, Node, Place};
use crate::ops::{enoent, Attr, Overlay};
use crate::overlay::{self, DirView, Layer};
use crate::sys;
use crate::whiteout;

/// The caller of a request.
#[derive(Debug, Clone, Copy)]
pub struct Caller {
    pub uid: u32,
    pub gid: u32,
}

/// Extended attributes burrow might keep for itself: hidden and refused.
pub const PRIVATE_XATTR: &[u8] = b"user.burrow.";

/// What to create.
#[derive(Debug, Clone)]
pub enum NewKind<'a> {
    File,
    Dir,
    Node { rdev: u32 },
    Symlink { target: &'a [u8] },
}

/// Time to set, as `utimensat` wants it.
#[derive(Debug, Clone, Copy)]
pub enum SetTime {
    Now,
    At(libc::timespec),
}

/// A setattr request.
#[derive(Debug, Clone, Default)]
pub struct SetAttr {
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub size: Option<u64>,
    pub atime: Option<SetTime>,
    pub mtime: Option<SetTime>,
}

fn whiteout_name(name: &[u8]) -> Vec<u8> {
    let mut wh = whiteout::PREFIX.to_vec();
    wh.extend_from_slice(name);
    wh
}

impl Overlay {
    /// Checks shared by every entry creation: the name, the parent, and
    /// that nothing is there. Returns the parent node, copied up.
    fn prepare_new(&self, parent: Ino, name: &[u8]) -> io::Result<Arc<Node>> {
        if overlay::is_reserved(name) {
            tracing::debug!(name = ?String::from_utf8_lossy(name), "refusing a name reserved for whiteouts");
            return Err(sys::errno(libc::EINVAL));
        }
        if name.len() > 255 {
            return Err(sys::errno(libc::ENAMETOOLONG));
        }
        let pnode = self.node(parent)?;
        let p = pnode.place();
        if p.fmt != libc::S_IFDIR {
            return Err(sys::errno(libc::ENOTDIR));
        }
        if overlay::resolve(&self.stack, &p.path, &p.view, name)?.is_some() {
            return Err(sys::errno(libc::EEXIST));
        }
        self.copy_up(&pnode, true)?;
        Ok(pnode)
    }

    /// Owner and extra mode bits for a new entry in upper dir `dir`.
    fn new_owner(&self, dir: &[u8], caller: Caller, is_dir: bool) -> io::Result<(u32, u32, u32)> {
        let pst = sys::fstatat(self.stack.upper(), dir)?;
        if pst.st_mode & libc::S_ISGID != 0 {
            return Ok((caller.uid, pst.st_gid, if is_dir { libc::S_ISGID } else { 0 }));
        }
        Ok((caller.uid, caller.gid, 0))
    }

    fn set_owner(&self, path: &[u8], uid: u32, gid: u32, mode: u32) -> io::Result<()> {
        let me = (sys::euid(), sys::egid());
        if (uid, gid) != me {
            let r = sys::fchownat(self.stack.upper(), path, uid, gid);
            chown_lenient(self.privilege, r, (uid, gid), me)?;
            // chown drops set-id bits; put back what was asked for
            if mode & (libc::S_ISUID | libc::S_ISGID) != 0 && mode & libc::S_IFMT != libc::S_IFLNK {
                sys::fchmodat(self.stack.upper(), path, mode & 0o7777)?;
            }
        }
        Ok(())
    }

    /// Create an entry (a file with `NewKind::File`; no handle is kept,
    /// see `fuse`).
    pub fn create(&self, parent: Ino, name: &[u8], kind: NewKind<'_>, mode: u32, umask: u32, caller: Caller) -> io::Result<(Ino, Attr)> {
        ensure_thread_umask();
        let pnode = self.prepare_new(parent, name)?;
        let p = pnode.place();
        let path = sys::join(&p.path, name);
        let up = self.stack.upper();
        let had_whiteout = !p.view.lowers.is_empty() && overlay::has_whiteout(up, &p.path, name)?;
        let is_dir = matches!(kind, NewKind::Dir);
        let (uid, gid, extra) = self.new_owner(&p.path, caller, is_dir)?;
        let perm = (mode & 0o7777 & !umask) | extra;
        let lend = |f: &mut dyn FnMut() -> io::Result<()>| copyup::as_owner(self.privilege, up, &p.path, 0o300, f);
        match kind {
            NewKind::File => {
                let fd = copyup::as_owner(self.privilege, up, &p.path, 0o300, || {
                    sys::openat(up, &path, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW, perm)
                })?;
                // served without a handle (see `fuse`): the creating
                // descriptor is not needed past the creation
                drop(fd);
            }
            NewKind::Dir => {
                if had_whiteout {
                    // build it opaque in the work dir, then move it in
                    let tmp = copyup::temp_name();
                    let work = self.stack.work();
                    sys::mkdirat(work, &tmp, 0o700)?;
                    let built = sys::openat(work, &sys::join(&tmp, whiteout::OPAQUE), libc::O_CREAT | libc::O_WRONLY, 0o600)
                        .map(drop)
                        .and_then(|_| lend(&mut || copyup::place(&self.stack, &tmp, &path)))
                        .and_then(|_| sys::fchmodat(up, &path, perm));
                    if let Err(e) = built {
                        let _ = sys::unlinkat(work, &sys::join(&tmp, whiteout::OPAQUE), 0);
                        copyup::discard(work, &tmp);
                        return Err(e);
                    }
                } else {
                    lend(&mut || sys::mkdirat(up, &path, perm))?;
                }
            }
            NewKind::Node { rdev } => lend(&mut || sys::mknodat(up, &path, (mode & libc::S_IFMT) | perm, rdev as u64))?,
            NewKind::Symlink { target } => lend(&mut || sys::symlinkat(target, up, &path))?,
        }
        let fmt = match kind {
            NewKind::Symlink { .. } => libc::S_IFLNK,
            _ => 0,
        };
        self.set_owner(&path, uid, gid, fmt | perm)?;
        if had_whiteout {
            lend(&mut || sys::unlinkat(up, &sys::join(&p.path, &whiteout_name(name)), 0))?;
        }
        let st = sys::fstatat(up, &path)?;
        let view = is_dir.then(|| DirView { upper: true, lowers: Vec::new() });
        let ino = self.inos.get_or_alloc(st.st_dev, st.st_ino);
        let node = self.nodes.remember(
            ino,
            Place {
                parent,
                path,
                layer: Layer::Upper,
                fmt: st.st_mode & libc::S_IFMT,
                view: view.clone().unwrap_or_default(),
                links: Vec::new(),
                gone: false,
            },
            1,
        );
        let attr = self.present(ino, st, view.as_ref());
        drop(node);
        Ok((ino, attr))
    }

    /// A hard link to `ino` named `name` in `parent`.
    pub fn link(&self, ino: Ino, parent: Ino, name: &[u8]) -> io::Result<(Ino, Attr)> {
        let node = self.node(ino)?;
        if node.place().fmt == libc::S_IFDIR {
            return Err(sys::errno(libc::EPERM));
        }
        let pnode = self.prepare_new(parent, name)?;
        self.copy_up(&node, true)?;
        let p = pnode.place();
        let src = node.place().path;
        let path = sys::join(&p.path, name);
        let up = self.stack.upper();
        let had_whiteout = !p.view.lowers.is_empty() && overlay::has_whiteout(up, &p.path, name)?;
        copyup::as_owner(self.privilege, up, &p.path, 0o300, || sys::linkat(up, &src, up, &path))?;
        if had_whiteout {
            sys::unlinkat(up, &sys::join(&p.path, &whiteout_name(name)), 0)?;
        }
        let st = sys::fstatat(up, &path)?;
        self.inos.bind(st.st_dev, st.st_ino, node.ino);
        self.nodes.remember(
            node.ino,
            Place {
                parent,
                path,
                layer: Layer::Upper,
                fmt: st.st_mode & libc::S_IFMT,
                view: DirView::default(),
                links: Vec::new(),
                gone: false,
            },
            1,
        );
        Ok((node.ino, self.present(node.ino, st, None)))
    }

    /// Whether `name` in the directory at `dir` shows through from a lower layer.
    pub fn visible_below(&self, dir: &[u8], view: &DirView, name: &[u8]) -> io::Result<bool> {
        if view.lowers.is_empty() {
            return Ok(false);
        }
        Ok(overlay::resolve(&self.stack, dir, &view.lowers_only(), name)?.is_some())
    }

    /// Write `.wh.NAME` into the upper copy of `dir` (idempotent).
    pub fn write_whiteout(&self, dir: &[u8], name: &[u8]) -> io::Result<()> {
        let up = self.stack.upper();
        let r = copyup::as_owner(self.privilege, up, dir, 0o300, || {
            sys::openat(up, &sys::join(dir, &whiteout_name(name)), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o600)
        });
        match r {
            Ok(_) => Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EEXIST) => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Remove the OCI markers inside an upper directory so it can go.
    pub fn clear_markers(&self, dir: &[u8]) -> io::Result<()> {
        for e in sys::read_dir(self.stack.upper(), dir)? {
            if overlay::is_reserved(&e.name) {
                sys::unlinkat(self.stack.upper(), &sys::join(dir, &e.name), 0)?;
            } else {
                return Err(sys::errno(libc::ENOTEMPTY));
            }
        }
        Ok(())
    }

    /// unlink (dir = false) or rmdir (dir = true).
    pub fn remove(&self, parent: Ino, name: &[u8], dir: bool) -> io::Result<()> {
        let pnode = self.node(parent)?;
        let p = pnode.place();
        let found = overlay::resolve(&self.stack, &p.path, &p.view, name)?.ok_or_else(enoent)?;
        let path = sys::join(&p.path, name);
        match (dir, &found.view) {
            (false, Some(_)) => return Err(sys::errno(libc::EISDIR)),
            (true, None) => return Err(sys::errno(libc::ENOTDIR)),
            (true, Some(v)) => {
                if !overlay::is_empty(&self.stack, &path, v)? {
                    return Err(sys::errno(libc::ENOTEMPTY));
                }
            }
            (false, None) => {}
        }
        let node = self.inos.get(found.st.st_dev, found.st.st_ino).and_then(|i| self.nodes.get(i));
        if let Some(n) = node.as_ref().filter(|_| !dir && (found.st.st_nlink <= 1 || found.layer != Layer::Upper)) {
            // the kernel still references it, so it may be open
            self.keep_open(n, found.layer, &path);
        }
        let below = found.layer != Layer::Upper || self.visible_below(&p.path, &p.view, name)?;
        if below {
            self.copy_up(&pnode, true)?;
            self.write_whiteout(&p.path, name)?;
        }
        if found.layer == Layer::Upper {
            let up = self.stack.upper();
            if dir {
                copyup::as_owner(self.privilege, up, &path, 0o300, || self.clear_markers(&path))?;
                copyup::as_owner(self.privilege, up, &p.path, 0o300, || sys::unlinkat(up, &path, libc::AT_REMOVEDIR))?;
            } else {
                copyup::as_owner(self.privilege, up, &p.path, 0o300, || sys::unlinkat(up, &path, 0))?;
            }
            if dir || found.st.st_nlink <= 1 {
                self.inos.unbind(found.st.st_dev, found.st.st_ino);
            }
        }
        // The node may live on (open, or the kernel's late time updates):
        // it must not find its way back to this name.
        if let Some(node) = node {
            write(&node.place).drop_name(&path);
        }
        Ok(())
    }

    pub fn setattr(&self, ino: Ino, a: &SetAttr) -> io::Result<Attr> {
        let node = self.node(ino)?;
        if node.place().gone {
            return self.setattr_gone(&node, a);
        }
        self.copy_up(&node, a.size != Some(0))?;
        let p = node.place();
        let up = self.stack.upper();
        if a.uid.is_some() || a.gid.is_some() {
            sys::fchownat(up, &p.path, a.uid.unwrap_or(u32::MAX), a.gid.unwrap_or(u32::MAX))?;
        }
        if let Some(mode) = a.mode {
            if p.fmt != libc::S_IFLNK {
                sys::fchmodat(up, &p.path, mode & 0o7777)?;
            }
        }
        if let Some(size) = a.size {
            if p.fmt == libc::S_IFDIR {
                return Err(sys::errno(libc::EISDIR));
            }
            self.with_node_fd(ino, true, |fd| sys::ftruncate(fd, size))?;
        }
        if a.atime.is_some() || a.mtime.is_some() {
            let conv = |t: Option<SetTime>| match t {
                None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
                Some(SetTime::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
                Some(SetTime::At(ts)) => ts,
            };
            sys::utimensat(up, &p.path, &[conv(a.atime), conv(a.mtime)])?;
        }
        self.upper_attr(&node)
    }

    // ---- extended attributes --------------------------------------------

    fn xattr_target(&self, ino: Ino) -> io::Result<sys::XPath<'_>> {
        let p = self.node(ino)?.place();
        sys::xattr_path(self.stack.fd(p.layer), &p.path)
    }

    pub fn getxattr(&self, ino: Ino, name: &[u8], size: u32) -> io::Result<XattrReply> {
        if name.starts_with(PRIVATE_XATTR) {
            return Err(sys::errno(libc::ENODATA));
        }
        let target = self.xattr_target(ino)?;
        let cname = CString::new(name).map_err(|_| sys::errno(libc::EINVAL))?;
        if size == 0 {
            return Ok(XattrReply::Size(sys::getxattr(&target, &cname, &mut [])? as u32));
        }
        let mut buf = vec![0u8; size as usize];
        let n = sys::getxattr(&target, &cname, &mut buf)?;
        buf.truncate(n);
        Ok(XattrReply::Data(buf))
    }

    pub fn listxattr(&self, ino: Ino, size: u32) -> io::Result<XattrReply> {
        let target = self.xattr_target(ino)?;
        let n = sys::listxattr(&target, &mut [])?;
        let mut buf = vec![0u8; n];
        let n = sys::listxattr(&target, &mut buf)?;
        buf.truncate(n);
        let mut out = Vec::with_capacity(buf.len());
        for name in buf.split(|&b| b == 0).filter(|s| !s.is_empty() && !s.starts_with(PRIVATE_XATTR)) {
            out.extend_from_slice(name);
            out.push(0);
        }
        if size == 0 {
            return Ok(XattrReply::Size(out.len() as u32));
        }
        if out.len() > size as usize {
            return Err(sys::errno(libc::ERANGE));
        }
        Ok(XattrReply::Data(out))
    }

    pub fn setxattr(&self, ino: Ino, name: &[u8], value: &[u8], flags: i32) -> io::Result<()> {
        if name.starts_with(PRIVATE_XATTR) {
            return Err(sys::errno(libc::EPERM));
        }
        let node = self.node(ino)?;
        self.copy_up(&node, true)?;
        let target = self.xattr_target(ino)?;
        let cname = CString::new(name).map_err(|_| sys::errno(libc::EINVAL))?;
        sys::setxattr(&target, &cname, value, flags)
    }

    pub fn removexattr(&self, ino: Ino, name: &[u8]) -> io::Result<()> {
        if name.starts_with(PRIVATE_XATTR) {
            return Err(sys::errno(libc::ENODATA));
        }
        let node = self.node(ino)?;
        // nothing to remove means nothing to copy up
        let target = self.xattr_target(ino)?;
        let cname = CString::new(name).map_err(|_| sys::errno(libc::EINVAL))?;
        sys::getxattr(&target, &cname, &mut [])?;
        self.copy_up(&node, true)?;
        let target = self.xattr_target(ino)?;
        sys::removexattr(&target, &cname)
    }

    /// setattr of a file whose last name is gone (still open somewhere,
    /// or a late time update from the kernel's writeback): only through
    /// its kept descriptor, never by path, which would resurrect the name.
    fn setattr_gone(&self, node: &Node, a: &SetAttr) -> io::Result<Attr> {
        let write = a.size.is_some() || a.mode.is_some() || a.uid.is_some() || a.gid.is_some() || a.atime.is_some() || a.mtime.is_some();
        self.with_node_fd(node.ino, write, |fd| {
            if a.uid.is_some() || a.gid.is_some() {
                sys::fchown(fd, a.uid.unwrap_or(u32::MAX), a.gid.unwrap_or(u32::MAX))?;
            }
            if let Some(mode) = a.mode {
                sys::fchmod(fd, mode & 0o7777)?;
            }
            if let Some(size) = a.size {
                sys::ftruncate(fd, size)?;
            }
            if a.atime.is_some() || a.mtime.is_some() {
                sys::futimens(fd, &[timespec(a.atime), timespec(a.mtime)])?;
            }
            Ok(self.present(node.ino, sys::fstat(fd)?, None))
        })
    }

    /// Mark a node as in the upper layer with no lower contributions.
    pub fn settle(&self, node: &Node) {
        let mut w = write(&node.place);
        w.layer = Layer::Upper;
        w.view = if w.fmt == libc::S_IFDIR { DirView { upper: true, lowers: Vec::new() } } else { DirView::default() };
    }
}

/// A time of a setattr as utimensat(2) takes it.
fn timespec(t: Option<SetTime>) -> libc::timespec {
    match t {
        None => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
        Some(SetTime::Now) => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Some(SetTime::At(ts)) => ts,
    }
}

/// The answer to a getxattr/listxattr.
#[derive(Debug)]
pub enum XattrReply {
    Size(u32),
    Data(Vec<u8>),
}

/// Give the current worker thread its own umask of 0 (once), so modes the
/// kernel already masked are not masked again by the server's umask.
pub fn ensure_thread_umask() {
    thread_local! {
        static DONE: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
    }
    DONE.with(|d| {
        if !d.get() {
            d.set(true);
            // SAFETY: unshare(CLONE_FS) takes no pointers; it gives only
            // this thread its own cwd, root and umask, which no Rust code
            // relies on being shared (every path here is relative to a
            // layer descriptor, never to the cwd).
            if unsafe { libc::unshare(libc::CLONE_FS) } == 0 {
                // SAFETY: umask takes no pointers and cannot fail; after the
                // unshare above it changes this thread's umask only.
                unsafe { libc::umask(0) };
            } else {
                tracing::debug!(error = %io::Error::last_os_error(), "cannot unshare fs attributes; modes may be masked twice");
            }
        }
    });
}
