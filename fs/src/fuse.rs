//! The FUSE adapter: fuser requests in, [`Overlay`] calls, one reply out.
//!
//! Theory of operation. Each handler converts the request's arguments
//! (names as raw bytes), calls the overlay, and replies exactly once:
//! success, or the errno of the `io::Error` (EIO when it has none), with
//! a trace line per operation and a debug line per failure. Entries and
//! attributes are cached by the kernel for a day: this server is the only
//! writer of the layers, and every change goes through it. Lookups that
//! find nothing are cached as negative entries for the same reason.
//! Nothing here panics; a poisoned lock is taken over, not propagated.

use std::ffi::OsStr;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use fuser::{
    AccessFlags, BsdFileFlags, Errno, FileAttr, FileHandle, FileType, Filesystem, FopenFlags, Generation, INodeNo, InitFlags, IoctlFlags,
    KernelConfig, LockOwner, OpenFlags, RenameFlags, ReplyAttr, ReplyCreate, ReplyData, ReplyDirectory, ReplyDirectoryPlus, ReplyEmpty,
    ReplyEntry, ReplyIoctl, ReplyLseek, ReplyOpen, ReplyStatfs, ReplyWrite, ReplyXattr, Request, TimeOrNow, WriteFlags,
};

use crate::inode::Ino;
use crate::mutate::{Caller, NewKind, SetAttr, SetTime, XattrReply};
use crate::ops::{Attr, Overlay};
use crate::sys;
use crate::writes::Written;

const TTL: Duration = Duration::from_secs(86_400);
/// Largest write the kernel may send us.
pub const MAX_WRITE: u32 = 1 << 20;

/// fuser's view of the overlay.
#[derive(Debug)]
pub struct Fs {
    pub ov: Arc<Overlay>,
    /// Whether `create` answers FOPEN_DIRECT_IO: only when the kernel
    /// granted FUSE_DIRECT_IO_ALLOW_MMAP (Linux 6.6), without which a
    /// direct-I/O descriptor could not be mapped shared. Set by `init`.
    direct_io: bool,
}

impl Fs {
    pub fn new(ov: Arc<Overlay>) -> Fs {
        Fs { ov, direct_io: false }
    }
}

fn errno(e: &io::Error) -> Errno {
    Errno::from_i32(e.raw_os_error().unwrap_or(libc::EIO))
}

fn fail(op: &str, e: io::Error) -> Errno {
    match e.raw_os_error() {
        Some(libc::ENOENT) | Some(libc::EEXIST) | Some(libc::ENODATA) | Some(libc::ENOTEMPTY) => {
            tracing::trace!(op, error = %e, "failed")
        }
        _ => tracing::debug!(op, error = %e, "failed"),
    }
    errno(&e)
}

fn time(sec: i64, nsec: i64) -> SystemTime {
    if sec >= 0 {
        UNIX_EPOCH + Duration::new(sec as u64, nsec as u32)
    } else {
        UNIX_EPOCH - Duration::new((-sec) as u64, 0) + Duration::new(0, nsec as u32)
    }
}

fn kind(mode: u32) -> FileType {
    match mode & libc::S_IFMT {
        libc::S_IFDIR => FileType::Directory,
        libc::S_IFLNK => FileType::Symlink,
        libc::S_IFIFO => FileType::NamedPipe,
        libc::S_IFCHR => FileType::CharDevice,
        libc::S_IFBLK => FileType::BlockDevice,
        libc::S_IFSOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn dtype_kind(d: u8) -> FileType {
    match d {
        libc::DT_DIR => FileType::Directory,
        libc::DT_LNK => FileType::Symlink,
        libc::DT_FIFO => FileType::NamedPipe,
        libc::DT_CHR => FileType::CharDevice,
        libc::DT_BLK => FileType::BlockDevice,
        libc::DT_SOCK => FileType::Socket,
        _ => FileType::RegularFile,
    }
}

fn attr(st: &Attr) -> FileAttr {
    FileAttr {
        ino: INodeNo(st.st_ino),
        size: st.st_size as u64,
        blocks: st.st_blocks as u64,
        atime: time(st.st_atime, st.st_atime_nsec),
        mtime: time(st.st_mtime, st.st_mtime_nsec),
        ctime: time(st.st_ctime, st.st_ctime_nsec),
        crtime: time(st.st_ctime, st.st_ctime_nsec),
        kind: kind(st.st_mode),
        perm: (st.st_mode & 0o7777) as u16,
        nlink: st.st_nlink as u32,
        uid: st.st_uid,
        gid: st.st_gid,
        rdev: st.st_rdev as u32,
        blksize: st.st_blksize as u32,
        flags: 0,
    }
}

fn negative() -> FileAttr {
    FileAttr {
        ino: INodeNo(0),
        size: 0,
        blocks: 0,
        atime: UNIX_EPOCH,
        mtime: UNIX_EPOCH,
        ctime: UNIX_EPOCH,
        crtime: UNIX_EPOCH,
        kind: FileType::RegularFile,
        perm: 0,
        nlink: 0,
        uid: 0,
        gid: 0,
        rdev: 0,
        blksize: 0,
        flags: 0,
    }
}

fn set_time(t: Option<TimeOrNow>) -> Option<SetTime> {
    t.map(|t| match t {
        TimeOrNow::Now => SetTime::Now,
        TimeOrNow::SpecificTime(st) => match st.duration_since(UNIX_EPOCH) {
            Ok(d) => SetTime::At(libc::timespec { tv_sec: d.as_secs() as i64, tv_nsec: d.subsec_nanos() as i64 }),
            Err(e) => {
                let d = e.duration();
                let (mut s, mut n) = (-(d.as_secs() as i64), -(d.subsec_nanos() as i64));
                if n < 0 {
                    s -= 1;
                    n += 1_000_000_000;
                }
                SetTime::At(libc::timespec { tv_sec: s, tv_nsec: n })
            }
        },
    })
}

fn caller(req: &Request) -> Caller {
    Caller { uid: req.uid(), gid: req.gid() }
}

thread_local! {
    static READ_BUF: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
}

impl Fs {
    fn entry(&self, reply: ReplyEntry, r: io::Result<(Ino, Attr)>, op: &str) {
        match r {
            Ok((_, st)) => reply.entry(&TTL, &attr(&st), Generation(0)),
            Err(e) => reply.error(fail(op, e)),
        }
    }
}

/// Whether to let the kernel cache writes: off unless
/// `BURROW_FS_WRITEBACK=1`, since it measured slower here (packaging/bench/fs:
/// 1 GiB write 1065 ms against 773 ms without) while every suite passes
/// with it on.
fn writeback_wanted() -> bool {
    std::env::var("BURROW_FS_WRITEBACK").is_ok_and(|v| v == "1")
}

impl Filesystem for Fs {
    fn init(&mut self, _req: &Request, config: &mut KernelConfig) -> io::Result<()> {
        let caps = config.capabilities();
        let want = InitFlags::FUSE_ASYNC_READ
            | InitFlags::FUSE_BIG_WRITES
            | InitFlags::FUSE_MAX_PAGES
            | InitFlags::FUSE_PARALLEL_DIROPS
            | InitFlags::FUSE_DO_READDIRPLUS
            | InitFlags::FUSE_READDIRPLUS_AUTO
            | InitFlags::FUSE_CACHE_SYMLINKS
            | InitFlags::FUSE_EXPORT_SUPPORT
            // files answered FOPEN_DIRECT_IO (see `create`) may still be
            // mapped shared
            | InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP;
        let _ = config.add_capabilities(want & caps);
        self.direct_io = caps.contains(InitFlags::FUSE_DIRECT_IO_ALLOW_MMAP);
        if writeback_wanted() {
            let _ = config.add_capabilities(InitFlags::FUSE_WRITEBACK_CACHE & caps);
        }
        let _ = config.set_max_write(MAX_WRITE);
        let _ = config.set_max_readahead(MAX_WRITE);
        let _ = config.set_max_background(64);
        let _ = config.set_congestion_threshold(48);
        tracing::debug!(kernel = ?config.kernel_abi(), "fuse session initialised");
        Ok(())
    }

    fn lookup(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEntry) {
        tracing::trace!(parent = parent.0, name = ?name, "lookup");
        match self.ov.lookup(Ino(parent.0), name.as_bytes()) {
            Ok(Some((_, st))) => reply.entry(&TTL, &attr(&st), Generation(0)),
            Ok(None) => reply.entry(&TTL, &negative(), Generation(0)),
            Err(e) => reply.error(fail("lookup", e)),
        }
    }

    fn forget(&self, _req: &Request, ino: INodeNo, nlookup: u64) {
        tracing::trace!(ino = ino.0, nlookup, "forget");
        self.ov.forget(Ino(ino.0), nlookup);
    }

    // batch_forget: fuser's default calls `forget` for each node.

    fn getattr(&self, _req: &Request, ino: INodeNo, _fh: Option<FileHandle>, reply: ReplyAttr) {
        tracing::trace!(ino = ino.0, "getattr");
        match self.ov.getattr(Ino(ino.0)) {
            Ok(st) => reply.attr(&TTL, &attr(&st)),
            Err(e) => reply.error(fail("getattr", e)),
        }
    }

    fn setattr(
        &self,
        _req: &Request,
        ino: INodeNo,
        mode: Option<u32>,
        uid: Option<u32>,
        gid: Option<u32>,
        size: Option<u64>,
        atime: Option<TimeOrNow>,
        mtime: Option<TimeOrNow>,
        _ctime: Option<SystemTime>,
        _fh: Option<FileHandle>,
        _crtime: Option<SystemTime>,
        _chgtime: Option<SystemTime>,
        _bkuptime: Option<SystemTime>,
        _flags: Option<BsdFileFlags>,
        reply: ReplyAttr,
    ) {
        tracing::trace!(ino = ino.0, ?mode, ?uid, ?gid, ?size, "setattr");
        let a = SetAttr { mode, uid, gid, size, atime: set_time(atime), mtime: set_time(mtime) };
        match self.ov.setattr(Ino(ino.0), &a) {
            Ok(st) => reply.attr(&TTL, &attr(&st)),
            Err(e) => reply.error(fail("setattr", e)),
        }
    }

    fn readlink(&self, _req: &Request, ino: INodeNo, reply: ReplyData) {
        tracing::trace!(ino = ino.0, "readlink");
        match self.ov.readlink(Ino(ino.0)) {
            Ok(t) => reply.data(&t),
            Err(e) => reply.error(fail("readlink", e)),
        }
    }

    fn mknod(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, rdev: u32, reply: ReplyEntry) {
        tracing::trace!(parent = parent.0, name = ?name, mode, "mknod");
        let r = self.ov.create(Ino(parent.0), name.as_bytes(), NewKind::Node { rdev }, mode, umask, caller(req));
        self.entry(reply, r, "mknod");
    }

    fn mkdir(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, reply: ReplyEntry) {
        tracing::trace!(parent = parent.0, name = ?name, mode, "mkdir");
        let r = self.ov.create(Ino(parent.0), name.as_bytes(), NewKind::Dir, mode, umask, caller(req));
        self.entry(reply, r, "mkdir");
    }

    fn unlink(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        tracing::trace!(parent = parent.0, name = ?name, "unlink");
        match self.ov.remove(Ino(parent.0), name.as_bytes(), false) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("unlink", e)),
        }
    }

    fn rmdir(&self, _req: &Request, parent: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        tracing::trace!(parent = parent.0, name = ?name, "rmdir");
        match self.ov.remove(Ino(parent.0), name.as_bytes(), true) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("rmdir", e)),
        }
    }

    fn symlink(&self, req: &Request, parent: INodeNo, link_name: &OsStr, target: &Path, reply: ReplyEntry) {
        tracing::trace!(parent = parent.0, name = ?link_name, "symlink");
        let r = self.ov.create(
            Ino(parent.0),
            link_name.as_bytes(),
            NewKind::Symlink { target: target.as_os_str().as_bytes() },
            libc::S_IFLNK | 0o777,
            0,
            caller(req),
        );
        self.entry(reply, r, "symlink");
    }

    fn rename(
        &self,
        _req: &Request,
        parent: INodeNo,
        name: &OsStr,
        newparent: INodeNo,
        newname: &OsStr,
        flags: RenameFlags,
        reply: ReplyEmpty,
    ) {
        tracing::trace!(parent = parent.0, name = ?name, newparent = newparent.0, newname = ?newname, "rename");
        match self.ov.rename(Ino(parent.0), name.as_bytes(), Ino(newparent.0), newname.as_bytes(), flags.bits()) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("rename", e)),
        }
    }

    fn link(&self, _req: &Request, ino: INodeNo, newparent: INodeNo, newname: &OsStr, reply: ReplyEntry) {
        tracing::trace!(ino = ino.0, newparent = newparent.0, newname = ?newname, "link");
        let r = self.ov.link(Ino(ino.0), Ino(newparent.0), newname.as_bytes());
        self.entry(reply, r, "link");
    }

    /// No open for files either (FUSE_NO_OPEN_SUPPORT): ENOSYS makes the
    /// kernel skip OPEN and RELEASE, a round trip each per file, and keep
    /// the page cache as with FOPEN_KEEP_CACHE. Reads and writes then come
    /// without a handle and reach the file through its node
    /// (`Overlay::with_node_fd`): a write copies up, a read takes the
    /// topmost copy; O_TRUNC arrives as a setattr (no ATOMIC_O_TRUNC); a
    /// file removed while the kernel still holds it keeps a descriptor.
    /// `create` answers without a handle too.
    fn open(&self, _req: &Request, ino: INodeNo, flags: OpenFlags, reply: ReplyOpen) {
        tracing::trace!(ino = ino.0, flags = flags.0, "open");
        reply.error(Errno::ENOSYS);
    }

    fn read(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        size: u32,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: ReplyData,
    ) {
        tracing::trace!(ino = ino.0, offset, size, "read");
        READ_BUF.with(|b| {
            let mut buf = b.borrow_mut();
            if buf.len() < size as usize {
                buf.resize(size as usize, 0);
            }
            let r = self.ov.with_node_fd(Ino(ino.0), false, |fd| {
                let mut done = 0usize;
                while done < size as usize {
                    let n = sys::pread(fd, &mut buf[done..size as usize], offset + done as u64)?;
                    if n == 0 {
                        break;
                    }
                    done += n;
                }
                Ok(done)
            });
            match r {
                Ok(n) => reply.data(&buf[..n]),
                Err(e) => reply.error(fail("read", e)),
            }
        });
    }

    /// A direct write (see `create`) by a writer without CAP_FSETID comes
    /// with FUSE_WRITE_KILL_SUIDGID instead of the kernel clearing the
    /// set-id bits itself; the kernel refetches the attributes after a
    /// direct write. A large write is answered before it lands (`writes`).
    fn write(
        &self,
        _req: &Request,
        ino: INodeNo,
        _fh: FileHandle,
        offset: u64,
        data: &[u8],
        wf: WriteFlags,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        reply: ReplyWrite,
    ) {
        tracing::trace!(ino = ino.0, offset, len = data.len(), "write");
        let kill = wf.contains(WriteFlags::FUSE_WRITE_KILL_SUIDGID);
        let mut reply = Some(reply);
        let len = data.len() as u32;
        let r = self.ov.write(Ino(ino.0), offset, data, kill, || {
            if let Some(reply) = reply.take() {
                reply.written(len);
            }
        });
        let Some(reply) = reply else { return };
        match r {
            Ok(Written::Done(n)) => reply.written(n as u32),
            Ok(Written::Acknowledged) => reply.written(len),
            Err(e) => reply.error(fail("write", e)),
        }
    }

    /// Refused: ENOSYS stops the kernel sending FLUSH, a round trip on
    /// every close that did nothing here (no POSIX locks are served, and
    /// the kernel still writes dirty pages back on close without it).
    /// packaging/bench/fs, read every file of /usr: 317 -> 188 ms (kernel
    /// overlay 189-194). It was once answered because 1 GiB writes then
    /// measured 770 to 2,100 ms; since the creating descriptor writes
    /// directly (see `create`) they stay at 668-717 ms either way.
    fn flush(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _lock: LockOwner, reply: ReplyEmpty) {
        reply.error(Errno::ENOSYS);
    }

    fn release(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: OpenFlags,
        _lock: Option<LockOwner>,
        _flush: bool,
        reply: ReplyEmpty,
    ) {
        reply.ok();
    }

    fn fsync(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, datasync: bool, reply: ReplyEmpty) {
        match self.ov.fsync(Ino(ino.0), datasync) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("fsync", e)),
        }
    }

    /// No opendir: ENOSYS tells the kernel (FUSE_NO_OPENDIR_SUPPORT) to
    /// stop sending OPENDIR and RELEASEDIR, two round trips per directory,
    /// and to cache listings as with FOPEN_CACHE_DIR|FOPEN_KEEP_CACHE; the
    /// kernel drops a cached listing when the directory changes through
    /// the mount. Reads then carry no handle and the listing snapshot
    /// lives on the node (`Overlay::node_listing`).
    fn opendir(&self, _req: &Request, ino: INodeNo, _flags: OpenFlags, reply: ReplyOpen) {
        tracing::trace!(ino = ino.0, "opendir");
        reply.error(Errno::ENOSYS);
    }

    fn readdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectory) {
        tracing::trace!(ino = ino.0, offset, "readdir");
        let (dir, parent, entries) = match self.ov.node_listing(Ino(ino.0), offset) {
            Ok(x) => x,
            Err(e) => return reply.error(fail("readdir", e)),
        };
        let total = entries.len() as u64 + 2;
        let mut off = offset;
        while off < total {
            let full = match off {
                0 => reply.add(INodeNo(dir.ino.0), 1, FileType::Directory, "."),
                1 => reply.add(INodeNo(parent.0), 2, FileType::Directory, ".."),
                i => {
                    let e = &entries[(i - 2) as usize];
                    let ino = self.ov.entry_ino(e);
                    reply.add(INodeNo(ino.0), i + 1, dtype_kind(e.dtype), OsStr::from_bytes(&e.name))
                }
            };
            if full {
                break;
            }
            off += 1;
        }
        reply.ok();
    }

    fn readdirplus(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, mut reply: ReplyDirectoryPlus) {
        tracing::trace!(ino = ino.0, offset, "readdirplus");
        let (dir, parent, entries) = match self.ov.node_listing(Ino(ino.0), offset) {
            Ok(x) => x,
            Err(e) => return reply.error(fail("readdirplus", e)),
        };
        let total = entries.len() as u64 + 2;
        let mut off = offset;
        while off < total {
            let full = if off < 2 {
                // "." and "..": the kernel takes no reference for them
                let (target, name) = if off == 0 { (dir.ino, ".") } else { (parent, "..") };
                let mut a = negative();
                a.ino = INodeNo(target.0);
                a.kind = FileType::Directory;
                reply.add(INodeNo(target.0), off + 1, name, &Duration::ZERO, &a, Generation(0))
            } else {
                let e = &entries[(off - 2) as usize];
                match self.ov.enter_entry(&dir, e) {
                    Ok(Some((ino, st))) => {
                        let full = reply.add(INodeNo(ino.0), off + 1, OsStr::from_bytes(&e.name), &TTL, &attr(&st), Generation(0));
                        if full {
                            self.ov.forget(ino, 1);
                        }
                        full
                    }
                    Ok(None) => false,
                    Err(e) => {
                        tracing::debug!(error = %e, "readdirplus: entry vanished");
                        false
                    }
                }
            };
            if full {
                break;
            }
            off += 1;
        }
        reply.ok();
    }

    fn releasedir(&self, _req: &Request, _ino: INodeNo, _fh: FileHandle, _flags: OpenFlags, reply: ReplyEmpty) {
        reply.ok();
    }

    fn fsyncdir(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, _datasync: bool, reply: ReplyEmpty) {
        match self.ov.fsyncdir(Ino(ino.0)) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("fsyncdir", e)),
        }
    }

    fn statfs(&self, _req: &Request, _ino: INodeNo, reply: ReplyStatfs) {
        match self.ov.statfs() {
            Ok(s) => reply.statfs(
                s.f_blocks,
                s.f_bfree,
                s.f_bavail,
                s.f_files,
                s.f_ffree,
                s.f_bsize as u32,
                s.f_namemax as u32,
                s.f_frsize as u32,
            ),
            Err(e) => reply.error(fail("statfs", e)),
        }
    }

    fn setxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, value: &[u8], flags: i32, _position: u32, reply: ReplyEmpty) {
        tracing::trace!(ino = ino.0, name = ?name, "setxattr");
        match self.ov.setxattr(Ino(ino.0), name.as_bytes(), value, flags) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("setxattr", e)),
        }
    }

    fn getxattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, size: u32, reply: ReplyXattr) {
        tracing::trace!(ino = ino.0, name = ?name, "getxattr");
        match self.ov.getxattr(Ino(ino.0), name.as_bytes(), size) {
            Ok(XattrReply::Size(n)) => reply.size(n),
            Ok(XattrReply::Data(d)) => reply.data(&d),
            Err(e) => reply.error(fail("getxattr", e)),
        }
    }

    fn listxattr(&self, _req: &Request, ino: INodeNo, size: u32, reply: ReplyXattr) {
        match self.ov.listxattr(Ino(ino.0), size) {
            Ok(XattrReply::Size(n)) => reply.size(n),
            Ok(XattrReply::Data(d)) => reply.data(&d),
            Err(e) => reply.error(fail("listxattr", e)),
        }
    }

    fn removexattr(&self, _req: &Request, ino: INodeNo, name: &OsStr, reply: ReplyEmpty) {
        match self.ov.removexattr(Ino(ino.0), name.as_bytes()) {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("removexattr", e)),
        }
    }

    fn access(&self, _req: &Request, _ino: INodeNo, _mask: AccessFlags, reply: ReplyEmpty) {
        // default_permissions: the kernel checks modes itself
        reply.ok();
    }

    fn create(&self, req: &Request, parent: INodeNo, name: &OsStr, mode: u32, umask: u32, flags: i32, reply: ReplyCreate) {
        tracing::trace!(parent = parent.0, name = ?name, mode, flags, "create");
        match self.ov.create(Ino(parent.0), name.as_bytes(), NewKind::File, mode, umask, caller(req)) {
            // Without open the kernel never sends RELEASE, not even after
            // create: answer without a handle; reads and writes go through
            // the node like those of any other file. The creating
            // descriptor does direct I/O (FOPEN_DIRECT_IO): its writes go
            // from the writer's pages to us without passing through this
            // mount's page cache, one copy of the data and one page
            // allocation fewer per byte, and without the per-write
            // security.capability GETXATTR of the cached path (1 GiB dd:
            // 1,816 -> 902 ms here, kernel overlay 672). Coherence holds:
            // a direct write drops the cached pages of its range, other
            // opens of the file (no-open) keep using the page cache, and
            // shared mmap of it stays possible (FUSE_DIRECT_IO_ALLOW_MMAP, without
            // which the kernel gets no direct I/O).
            Ok((_, st)) => {
                let mut f = FopenFlags::FOPEN_KEEP_CACHE | FopenFlags::FOPEN_NOFLUSH;
                if self.direct_io {
                    f |= FopenFlags::FOPEN_DIRECT_IO;
                }
                reply.created(&TTL, &attr(&st), Generation(0), FileHandle(0), f)
            }
            Err(e) => reply.error(fail("create", e)),
        }
    }

    fn fallocate(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: u64, length: u64, mode: i32, reply: ReplyEmpty) {
        let r = self.ov.with_node_fd(Ino(ino.0), true, |fd| sys::fallocate(fd, mode, offset, length));
        match r {
            Ok(()) => reply.ok(),
            Err(e) => reply.error(fail("fallocate", e)),
        }
    }

    /// No ioctl is served: every one gets ENOTTY, what the kernel answers
    /// for an ioctl a file does not support (`isatty(3)` on a file of the
    /// root asks TCGETS and expects exactly that), quietly.
    #[allow(clippy::too_many_arguments)]
    fn ioctl(
        &self,
        _req: &Request,
        _ino: INodeNo,
        _fh: FileHandle,
        _flags: IoctlFlags,
        _cmd: u32,
        _in_data: &[u8],
        _out_size: u32,
        reply: ReplyIoctl,
    ) {
        reply.error(Errno::ENOTTY);
    }

    fn lseek(&self, _req: &Request, ino: INodeNo, _fh: FileHandle, offset: i64, whence: i32, reply: ReplyLseek) {
        match self.ov.with_node_fd(Ino(ino.0), false, |fd| sys::lseek(fd, offset, whence)) {
            Ok(o) => reply.offset(o),
            Err(e) => reply.error(fail("lseek", e)),
        }
    }
}
