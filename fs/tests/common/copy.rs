//! Copying layer trees, by directory descriptors so depth is unlimited.
//!
//! Three uses: a faithful copy (`Translate::None`), a copy that rewrites the
//! OCI markers into the kernel overlayfs format (`Translate::KernelOverlay`:
//! `.wh.NAME` becomes a 0/0 character device NAME and `.wh..wh..opq` becomes
//! `trusted.overlay.opaque=y` on its directory), and `apply_layers`, the
//! reference applier of the differential suite: the layers extracted one
//! over the other into a plain directory, the way an image is unpacked.
//! Copies keep type, mode, owner (when the caller may set it), atime and
//! mtime, user.* xattrs of files and directories, symlink targets, device
//! numbers, holes of sparse files, and hardlinks within one source tree.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::io;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::rc::Rc;

use super::sys::{self, cstr};

#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Translate {
    None,
    KernelOverlay,
}

/// First copy of each multiply-linked inode: (dir fd, name).
type Links = HashMap<(u64, u64), (Rc<OwnedFd>, OsString)>;

struct Ctx {
    translate: Translate,
    links: Links,
    /// Layers below the one being translated, and where in the tree we are:
    /// a whiteout with nothing below to hide is dropped, because overlayfs
    /// would show it as a device in a directory that is not merged.
    below: Vec<std::path::PathBuf>,
    rel: std::path::PathBuf,
}

impl Ctx {
    fn new(translate: Translate, below: &[std::path::PathBuf]) -> Ctx {
        Ctx { translate, links: HashMap::new(), below: below.to_vec(), rel: std::path::PathBuf::new() }
    }

    fn hides_something(&self, name: &OsStr) -> bool {
        let rel = self.rel.join(name);
        self.below.iter().any(|l| sys::lstat(&l.join(&rel)).is_ok())
    }
}

const OPAQUE: &[u8] = b".wh..wh..opq";
const WH: &[u8] = b".wh.";

fn open_dir(path: &Path) -> io::Result<OwnedFd> {
    sys::open(path, libc::O_RDONLY | libc::O_DIRECTORY, 0)
}

fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    sys::openat(dir, name, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)
}

/// Names in the directory open as `fd` (without "." and "..").
pub fn names_at(fd: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let dup = fd.try_clone_to_owned()?;
    // SAFETY: `dup` is an open descriptor we own; on success the DIR takes
    // it over (released from `dup` below), on failure `dup` still closes it.
    let dir = unsafe { libc::fdopendir(dup.as_raw_fd()) };
    if dir.is_null() {
        return Err(io::Error::last_os_error());
    }
    // the stream owns the descriptor now: closedir closes it
    let _ = dup.into_raw_fd();
    // SAFETY: `dir` is the non-null stream fdopendir just returned, not yet closed.
    unsafe { libc::rewinddir(dir) };
    let mut out = Vec::new();
    loop {
        // SAFETY: __errno_location points to this thread's errno, valid for
        // the thread's life; zeroing it tells the end of the stream from an error.
        unsafe { *libc::__errno_location() = 0 };
        // SAFETY: `dir` is open until the closedir below, which ends the loop.
        let ent = unsafe { libc::readdir64(dir) };
        if ent.is_null() {
            let e = io::Error::last_os_error().raw_os_error().unwrap_or(0);
            // SAFETY: `dir` is open and never used after this.
            unsafe { libc::closedir(dir) };
            if e != 0 {
                return Err(io::Error::from_raw_os_error(e));
            }
            break;
        }
        // SAFETY: a non-null entry stays valid until the next readdir on
        // `dir`, and its d_name is NUL-terminated; the name is copied out
        // before that.
        let name = unsafe { std::ffi::CStr::from_ptr((*ent).d_name.as_ptr()) }.to_bytes();
        if name != b"." && name != b".." {
            out.push(OsStr::from_bytes(name).to_os_string());
        }
    }
    out.sort();
    Ok(out)
}

/// Copy the directory `src` to the new directory `dst`; `below` are the
/// layers under `src` (used by the overlayfs translation only).
pub fn copy_tree(src: &Path, dst: &Path, translate: Translate, below: &[std::path::PathBuf]) -> io::Result<()> {
    sys::mkdir(dst, 0o700)?;
    let (s, d) = (open_dir(src)?, open_dir(dst)?);
    let mut ctx = Ctx::new(translate, below);
    copy_dir_contents(s.as_fd(), &Rc::new(d), &mut ctx)?;
    copy_meta_fd(s.as_fd(), &Rc::new(open_dir(dst)?), &sys::fstat(s.as_fd())?, true)
}

fn copy_dir_contents(src: BorrowedFd<'_>, dst: &Rc<OwnedFd>, ctx: &mut Ctx) -> io::Result<()> {
    for name in names_at(src)? {
        copy_entry(src, &name, dst, ctx)?;
    }
    Ok(())
}

fn copy_entry(src: BorrowedFd<'_>, name: &OsStr, dst: &Rc<OwnedFd>, ctx: &mut Ctx) -> io::Result<()> {
    let d = dst.as_fd();
    let bytes = name.as_bytes();
    if ctx.translate == Translate::KernelOverlay {
        if bytes == OPAQUE {
            return sys::fsetxattr(d, OsStr::new("trusted.overlay.opaque"), b"y");
        }
        if let Some(target) = bytes.strip_prefix(WH).filter(|t| !t.is_empty()) {
            if !ctx.hides_something(OsStr::from_bytes(target)) {
                return Ok(());
            }
            let c = cstr(OsStr::from_bytes(target));
            // SAFETY: `d` is open for the call (borrowed from `dst`); `c` is a
            // NUL-terminated name alive for the call, which only reads it.
            return sys::check(unsafe { libc::mknodat(d.as_raw_fd(), c.as_ptr(), libc::S_IFCHR, 0) }).map(drop);
        }
    }
    let st = sys::fstatat(src, name, libc::AT_SYMLINK_NOFOLLOW)?;
    let cname = cstr(name);
    match st.st_mode & libc::S_IFMT {
        libc::S_IFDIR => {
            sys::mkdirat(d, name, 0o700)?;
            let s = open_dir_at(src, name)?;
            let child = Rc::new(open_dir_at(d, name)?);
            ctx.rel.push(name);
            let r = copy_dir_contents(s.as_fd(), &child, ctx);
            ctx.rel.pop();
            r?;
            copy_meta_fd(s.as_fd(), &child, &st, true)?;
        }
        libc::S_IFREG => {
            let key = (st.st_dev, st.st_ino);
            if st.st_nlink > 1 {
                if let Some((ldir, lname)) = ctx.links.get(&key) {
                    let lc = cstr(lname);
                    // SAFETY: both directories are open (`ldir` is held by ctx, `d`
                    // borrowed from `dst`); both names are NUL-terminated and
                    // alive for the call, which only reads them.
                    return sys::check(unsafe { libc::linkat(ldir.as_raw_fd(), lc.as_ptr(), d.as_raw_fd(), cname.as_ptr(), 0) }).map(drop);
                }
            }
            let s = sys::openat(src, name, libc::O_RDONLY | libc::O_NOFOLLOW, 0)?;
            let out = sys::openat(d, name, libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW, 0o600)?;
            copy_data(s.as_fd(), out.as_fd(), st.st_size as u64)?;
            let out = Rc::new(out);
            copy_meta_fd(s.as_fd(), &out, &st, false)?;
            if st.st_nlink > 1 {
                ctx.links.insert(key, (dst.clone(), name.to_os_string()));
            }
        }
        libc::S_IFLNK => {
            let target = readlinkat(src, name)?;
            let t = cstr(&target);
            // SAFETY: `d` is open for the call (borrowed from `dst`); `t` and
            // `cname` are NUL-terminated and alive for the call, which only reads them.
            sys::check(unsafe { libc::symlinkat(t.as_ptr(), d.as_raw_fd(), cname.as_ptr()) })?;
            meta_at(d, name, &st)?;
        }
        _ => {
            // SAFETY: `d` is open for the call (borrowed from `dst`); `cname`
            // is a NUL-terminated name alive for the call, which only reads it.
            sys::check(unsafe { libc::mknodat(d.as_raw_fd(), cname.as_ptr(), st.st_mode, st.st_rdev) })?;
            meta_at(d, name, &st)?;
        }
    }
    Ok(())
}

pub fn readlinkat(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OsString> {
    let c = cstr(name);
    let mut buf = vec![0u8; 8192];
    // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated
    // name; the call writes at most buf.len() bytes into `buf`.
    let n = unsafe { libc::readlinkat(dir.as_raw_fd(), c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(OsStr::from_bytes(&buf).to_os_string())
}

/// Copy the data extents of `src` (holes stay holes).
fn copy_data(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, size: u64) -> io::Result<()> {
    let mut off: i64 = 0;
    let mut buf = vec![0u8; 1 << 20];
    while (off as u64) < size {
        // SAFETY: src is open for the call (borrowed); no memory is passed.
        let data = unsafe { libc::lseek(src.as_raw_fd(), off, libc::SEEK_DATA) };
        if data < 0 {
            let e = io::Error::last_os_error();
            if e.raw_os_error() == Some(libc::ENXIO) {
                break;
            }
            return Err(e);
        }
        // SAFETY: src is open for the call (borrowed); no memory is passed.
        let hole = unsafe { libc::lseek(src.as_raw_fd(), data, libc::SEEK_HOLE) };
        if hole < 0 {
            return Err(io::Error::last_os_error());
        }
        let mut pos = data;
        while pos < hole {
            let want = ((hole - pos) as usize).min(buf.len());
            // SAFETY: src is open for the call (borrowed); want <= buf.len(),
            // so the call writes only into `buf`.
            let n = unsafe { libc::pread(src.as_raw_fd(), buf.as_mut_ptr().cast(), want, pos) };
            if n <= 0 {
                return if n < 0 { Err(io::Error::last_os_error()) } else { Ok(()) };
            }
            let mut done = 0;
            while done < n as usize {
                done += sys::pwrite(dst, &buf[done..n as usize], (pos as u64) + done as u64)?;
            }
            pos += n as i64;
        }
        off = hole;
    }
    sys::ftruncate(dst, size)
}

/// Owner, xattrs, mode and times of an open file or directory `dst` from
/// `st` (and the xattrs of the open source `src`). When `replace_xattrs`,
/// user.* xattrs of `dst` absent from `src` are removed (merged dirs).
fn copy_meta_fd(src: BorrowedFd<'_>, dst: &Rc<OwnedFd>, st: &libc::stat, replace_xattrs: bool) -> io::Result<()> {
    let d = dst.as_fd();
    let src_names: Vec<OsString> = sys::flistxattr(src)?.into_iter().filter(|n| n.as_bytes().starts_with(b"user.")).collect();
    if replace_xattrs {
        for n in sys::flistxattr(d)? {
            if n.as_bytes().starts_with(b"user.") && !src_names.contains(&n) {
                let c = cstr(&n);
                // SAFETY: `d` is open for the call (borrowed from `dst`); `c` is
                // a NUL-terminated name alive for the call, which only reads it.
                sys::check(unsafe { libc::fremovexattr(d.as_raw_fd(), c.as_ptr()) })?;
            }
        }
    }
    for n in &src_names {
        let v = sys::fgetxattr(src, n)?;
        sys::fsetxattr(d, n, &v)?;
    }
    if sys::is_root() || (st.st_uid == sys::uid() && st.st_gid == sys::gid()) {
        // SAFETY: `d` is open for the call (borrowed from `dst`); no memory is passed.
        sys::check(unsafe { libc::fchown(d.as_raw_fd(), st.st_uid, st.st_gid) })?;
    }
    // SAFETY: `d` is open for the call (borrowed from `dst`); no memory is passed.
    sys::check(unsafe { libc::fchmod(d.as_raw_fd(), st.st_mode & 0o7777) })?;
    let ts = [
        libc::timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec },
        libc::timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec },
    ];
    // SAFETY: `d` is open for the call (borrowed from `dst`); `ts` holds the
    // two timespecs the call reads.
    sys::check(unsafe { libc::futimens(d.as_raw_fd(), ts.as_ptr()) }).map(drop)
}

/// Owner, mode and times of the entry `name` in `dir` that cannot be opened
/// (symlinks, fifos, devices). Symlinks have no mode of their own.
fn meta_at(dir: BorrowedFd<'_>, name: &OsStr, st: &libc::stat) -> io::Result<()> {
    let c = cstr(name);
    if sys::is_root() {
        // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated
        // name alive for the call, which only reads it.
        sys::check(unsafe { libc::fchownat(dir.as_raw_fd(), c.as_ptr(), st.st_uid, st.st_gid, libc::AT_SYMLINK_NOFOLLOW) })?;
    }
    if st.st_mode & libc::S_IFMT != libc::S_IFLNK {
        // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated
        // name alive for the call, which only reads it.
        sys::check(unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), st.st_mode & 0o7777, 0) })?;
    }
    let ts = [
        libc::timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec },
        libc::timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec },
    ];
    // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated
    // name and `ts` two timespecs, alive for the call, which only reads them.
    sys::check(unsafe { libc::utimensat(dir.as_raw_fd(), c.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

/// Remove `name` from `dir`, recursively if it is a directory.
pub fn remove_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let st = sys::fstatat(dir, name, libc::AT_SYMLINK_NOFOLLOW)?;
    if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        let d = open_dir_at(dir, name)?;
        for child in names_at(d.as_fd())? {
            remove_at(d.as_fd(), &child)?;
        }
        sys::unlinkat(dir, name, libc::AT_REMOVEDIR)
    } else {
        sys::unlinkat(dir, name, 0)
    }
}

/// Extract `layers` (bottom first) one over the other into the new
/// directory `dst`, applying whiteouts and opaque markers: the reference
/// tree an overlay of the same layers must show.
pub fn apply_layers(layers: &[&Path], dst: &Path) -> io::Result<()> {
    sys::mkdir(dst, 0o755)?;
    for layer in layers {
        let s = open_dir(layer)?;
        let d = Rc::new(open_dir(dst)?);
        let mut ctx = Ctx::new(Translate::None, &[]);
        merge_dir(s.as_fd(), &d, &mut ctx)?;
        copy_meta_fd(s.as_fd(), &d, &sys::fstat(s.as_fd())?, true)?;
    }
    Ok(())
}

fn merge_dir(src: BorrowedFd<'_>, dst: &Rc<OwnedFd>, ctx: &mut Ctx) -> io::Result<()> {
    let d = dst.as_fd();
    let names = names_at(src)?;
    if names.iter().any(|n| n.as_bytes() == OPAQUE) {
        for existing in names_at(d)? {
            remove_at(d, &existing)?;
        }
    }
    for n in &names {
        if let Some(target) = n.as_bytes().strip_prefix(WH).filter(|t| !t.is_empty() && n.as_bytes() != OPAQUE) {
            match remove_at(d, OsStr::from_bytes(target)) {
                Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {}
                other => other?,
            }
        }
    }
    for n in names.iter().filter(|n| !n.as_bytes().starts_with(WH)) {
        let st = sys::fstatat(src, n, libc::AT_SYMLINK_NOFOLLOW)?;
        let existing = sys::fstatat(d, n, libc::AT_SYMLINK_NOFOLLOW).ok();
        let both_dirs = st.st_mode & libc::S_IFMT == libc::S_IFDIR && existing.is_some_and(|e| e.st_mode & libc::S_IFMT == libc::S_IFDIR);
        if both_dirs {
            let s = open_dir_at(src, n)?;
            let child = Rc::new(open_dir_at(d, n)?);
            merge_dir(s.as_fd(), &child, ctx)?;
            copy_meta_fd(s.as_fd(), &child, &st, true)?;
        } else {
            if existing.is_some() {
                remove_at(d, n)?;
            }
            copy_entry(src, n, dst, ctx)?;
        }
    }
    Ok(())
}

/// Give every directory under `root` owner rwx so the tree can be removed.
pub fn make_removable(root: &Path) {
    let Ok(fd) = open_dir(root) else { return };
    // SAFETY: `fd` is open (owned here); no memory is passed.
    unsafe { libc::fchmod(fd.as_raw_fd(), 0o755) };
    fn walk(fd: BorrowedFd<'_>) {
        let Ok(names) = names_at(fd) else { return };
        for n in names {
            let Ok(st) = sys::fstatat(fd, &n, libc::AT_SYMLINK_NOFOLLOW) else { continue };
            if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
                let c = cstr(&n);
                // SAFETY: fd is open for the call (borrowed); `c` is a
                // NUL-terminated name alive for the call, which only reads it.
                unsafe { libc::fchmodat(fd.as_raw_fd(), c.as_ptr(), 0o755, 0) };
                if let Ok(child) = open_dir_at(fd, &n) {
                    walk(child.as_fd());
                }
            }
        }
    }
    walk(fd.as_fd());
}
