//! Thin wrappers over the `*at` system calls the overlay is built on.
//!
//! Every path here is a byte string relative to a directory descriptor (a
//! layer root opened `O_PATH`), never an absolute path, and never resolved
//! from `/`. An empty relative path means the directory itself. Names are
//! raw bytes: newlines and non-UTF-8 bytes pass through untouched. Each call
//! returns `io::Result` carrying the errno; nothing here logs or decides.
//!
//! Descriptors come in as `BorrowedFd`, so the compiler checks that each
//! one stays open for the call. This is the one place of the overlay that
//! calls libc for files: each `unsafe` block is a single system call whose
//! pointers come from Rust values (C strings, slices, out-parameters) that
//! live until it returns.

use std::ffi::CString;
use std::io;
use std::mem::MaybeUninit;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};

/// A relative path as a C string; the empty path becomes ".".
pub fn cpath(rel: &[u8]) -> io::Result<CString> {
    if rel.len() >= libc::PATH_MAX as usize {
        return Err(io::Error::from_raw_os_error(libc::ENAMETOOLONG));
    }
    let bytes = if rel.is_empty() { b"." as &[u8] } else { rel };
    CString::new(bytes).map_err(|_| io::Error::from_raw_os_error(libc::EINVAL))
}

/// Longest relative path handed to the kernel in one call.
const HOP: usize = 3072;

/// Where an `*at` call starts: the given directory, or (for paths longer
/// than the kernel takes at once) an intermediate directory opened on
/// the way, hop by hop.
pub struct At<'a> {
    base: BorrowedFd<'a>,
    hop: Option<OwnedFd>,
    pub path: CString,
}

impl At<'_> {
    /// The directory the call starts from, open while `self` lives.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.hop.as_ref().map(|f| f.as_fd()).unwrap_or(self.base)
    }

    /// The raw descriptor and the path of the call. Both stay valid while
    /// `self` lives: the descriptor is borrowed or owned by it, the path is
    /// its NUL-terminated `CString`.
    fn raw(&self) -> (RawFd, *const libc::c_char) {
        (self.fd().as_raw_fd(), self.path.as_ptr())
    }
}

/// Prepare an `*at` call on `rel` below `dir`, whatever its length.
///
/// The directories on the way are opened with openat2(2)
/// RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS: every directory part of a merged
/// path is a real directory in the layers that serve it, so a symlink
/// there means the tree changed under the server (a container swapping a
/// directory of its upper for a link to `/`), and following it could reach
/// host files. The final component is the caller's, which passes
/// AT_SYMLINK_NOFOLLOW or O_NOFOLLOW as fits. An absolute path (a layer
/// root given by the caller) is taken as it is.
pub fn at<'a>(dir: BorrowedFd<'a>, rel: &[u8]) -> io::Result<At<'a>> {
    let mut hop: Option<OwnedFd> = None;
    let mut rest = rel;
    if rel.first() == Some(&b'/') {
        if rel.len() >= HOP {
            return Err(errno(libc::ENAMETOOLONG));
        }
        return Ok(At { base: dir, hop, path: cpath(rest)? });
    }
    loop {
        let cut = if rest.len() >= HOP {
            rest[..HOP].iter().rposition(|&b| b == b'/').filter(|&c| c > 0).ok_or_else(|| errno(libc::ENAMETOOLONG))?
        } else {
            match rest.iter().rposition(|&b| b == b'/') {
                Some(c) if c > 0 => c,
                _ => break,
            }
        };
        let from = hop.as_ref().map(|f| f.as_fd()).unwrap_or(dir);
        hop = Some(open_beneath(from, &rest[..cut])?);
        rest = &rest[cut + 1..];
    }
    Ok(At { base: dir, hop, path: cpath(rest)? })
}

/// An O_PATH descriptor of directory `rel` below `from`, refusing any
/// symlink and anything outside `from`.
fn open_beneath(from: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    let p = cpath(rel)?;
    // SAFETY: open_how is a C struct of integers only, for which all-zero
    // bytes are a valid value (and the kernel's "no flags" default).
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_PATH | libc::O_DIRECTORY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: `from` is open for the call (borrowed), `p` is a NUL-terminated
    // string and `how` a live open_how whose exact size is passed, so the
    // kernel reads only memory we own; it writes nothing back.
    let fd = unsafe { libc::syscall(libc::SYS_openat2, from.as_raw_fd(), p.as_ptr(), &how, std::mem::size_of::<libc::open_how>()) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(owned(fd as RawFd))
}

/// Take ownership of a descriptor a successful open just returned.
fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: only called with the non-negative result of an open call:
    // a new descriptor that no other value owns or will close.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// The effective user id of the server (root of its user namespace or an
/// ordinary user).
pub fn euid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

/// The effective group id of the server.
pub fn egid() -> u32 {
    // SAFETY: getegid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::getegid() }
}

/// `parent/name`, or `name` when `parent` is the root ("").
pub fn join(parent: &[u8], name: &[u8]) -> Vec<u8> {
    if parent.is_empty() {
        return name.to_vec();
    }
    let mut out = Vec::with_capacity(parent.len() + 1 + name.len());
    out.extend_from_slice(parent);
    out.push(b'/');
    out.extend_from_slice(name);
    out
}

/// Split `a/b/c` into (`a/b`, `c`); a single name has the root as parent.
pub fn split(path: &[u8]) -> (&[u8], &[u8]) {
    match path.iter().rposition(|&b| b == b'/') {
        Some(i) => (&path[..i], &path[i + 1..]),
        None => (&[], path),
    }
}

fn check(ret: libc::c_int) -> io::Result<libc::c_int> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret)
    }
}

fn check_size(ret: isize) -> io::Result<usize> {
    if ret < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(ret as usize)
    }
}

/// Whether an error is "no such entry" (including a non-directory on the way).
pub fn is_absent(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOENT) | Some(libc::ENOTDIR))
}

pub fn errno(e: libc::c_int) -> io::Error {
    io::Error::from_raw_os_error(e)
}

pub fn fstatat(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<libc::stat> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fd and path live as long as `p`; `st` is writable stat-sized memory.
    check(unsafe { libc::fstatat(fd, path, st.as_mut_ptr(), libc::AT_SYMLINK_NOFOLLOW) })?;
    // SAFETY: fstatat succeeded, so the kernel filled in the whole stat.
    Ok(unsafe { st.assume_init() })
}

/// Whether `rel` exists (any type), without following a final symlink.
pub fn exists(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<bool> {
    match fstatat(dir, rel) {
        Ok(_) => Ok(true),
        Err(e) if is_absent(&e) => Ok(false),
        Err(e) => Err(e),
    }
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    let mut st = MaybeUninit::<libc::stat>::uninit();
    // SAFETY: fd is open for the call (borrowed); `st` is writable stat-sized memory.
    check(unsafe { libc::fstat(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstat succeeded, so the kernel filled in the whole stat.
    Ok(unsafe { st.assume_init() })
}

pub fn openat(dir: BorrowedFd<'_>, rel: &[u8], flags: libc::c_int, mode: libc::mode_t) -> io::Result<OwnedFd> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; openat reads only the path.
    let fd = check(unsafe { libc::openat(fd, path, flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    Ok(owned(fd))
}

/// Open a directory of a layer (or the layer root) as an `O_PATH` anchor.
pub fn open_path(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<OwnedFd> {
    openat(dir, rel, libc::O_PATH | libc::O_NOFOLLOW, 0)
}

pub fn mkdirat(dir: BorrowedFd<'_>, rel: &[u8], mode: u32) -> io::Result<()> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; the call only reads the path.
    check(unsafe { libc::mkdirat(fd, path, mode) }).map(drop)
}

pub fn mknodat(dir: BorrowedFd<'_>, rel: &[u8], mode: u32, rdev: u64) -> io::Result<()> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; the call only reads the path.
    check(unsafe { libc::mknodat(fd, path, mode, rdev) }).map(drop)
}

pub fn symlinkat(target: &[u8], dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<()> {
    let t = CString::new(target).map_err(|_| errno(libc::EINVAL))?;
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: `t` is a NUL-terminated string alive to the end of the
    // function; fd and path live as long as `p`; both are only read.
    check(unsafe { libc::symlinkat(t.as_ptr(), fd, path) }).map(drop)
}

pub fn linkat(odir: BorrowedFd<'_>, orel: &[u8], ndir: BorrowedFd<'_>, nrel: &[u8]) -> io::Result<()> {
    let o = at(odir, orel)?;
    let n = at(ndir, nrel)?;
    let ((ofd, opath), (nfd, npath)) = (o.raw(), n.raw());
    // SAFETY: each descriptor and path lives as long as `o` or `n`; the
    // call only reads the two paths.
    check(unsafe { libc::linkat(ofd, opath, nfd, npath, 0) }).map(drop)
}

pub fn unlinkat(dir: BorrowedFd<'_>, rel: &[u8], flags: libc::c_int) -> io::Result<()> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; the call only reads the path.
    check(unsafe { libc::unlinkat(fd, path, flags) }).map(drop)
}

pub fn renameat2(odir: BorrowedFd<'_>, orel: &[u8], ndir: BorrowedFd<'_>, nrel: &[u8], flags: u32) -> io::Result<()> {
    let o = at(odir, orel)?;
    let n = at(ndir, nrel)?;
    let ((ofd, opath), (nfd, npath)) = (o.raw(), n.raw());
    // SAFETY: each descriptor and path lives as long as `o` or `n`; the
    // call only reads the two paths.
    check(unsafe { libc::renameat2(ofd, opath, nfd, npath, flags) }).map(drop)
}

pub fn readlinkat(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<Vec<u8>> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    let mut buf = vec![0u8; libc::PATH_MAX as usize + 1];
    // SAFETY: fd and path live as long as `p`; the kernel writes at most
    // buf.len() bytes into `buf`, which is that long.
    let n = check_size(unsafe { libc::readlinkat(fd, path, buf.as_mut_ptr().cast(), buf.len()) })?;
    buf.truncate(n);
    Ok(buf)
}

pub fn fchownat(dir: BorrowedFd<'_>, rel: &[u8], uid: u32, gid: u32) -> io::Result<()> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; the call only reads the path.
    check(unsafe { libc::fchownat(fd, path, uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

pub fn fchmodat(dir: BorrowedFd<'_>, rel: &[u8], mode: u32) -> io::Result<()> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; the call only reads the path.
    check(unsafe { libc::fchmodat(fd, path, mode, 0) }).map(drop)
}

pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fchmod(fd.as_raw_fd(), mode) }).map(drop)
}

/// Set atime and mtime of `rel` (not following a final symlink).
pub fn utimensat(dir: BorrowedFd<'_>, rel: &[u8], times: &[libc::timespec; 2]) -> io::Result<()> {
    let p = at(dir, rel)?;
    let (fd, path) = p.raw();
    // SAFETY: fd and path live as long as `p`; `times` points to the two
    // timespecs the call reads.
    check(unsafe { libc::utimensat(fd, path, times.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

pub fn futimens(fd: BorrowedFd<'_>, times: &[libc::timespec; 2]) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); `times` points to the two
    // timespecs the call reads.
    check(unsafe { libc::futimens(fd.as_raw_fd(), times.as_ptr()) }).map(drop)
}

/// The (atime, mtime) pair of a stat, ready for `utimensat`.
pub fn times_of(st: &libc::stat) -> [libc::timespec; 2] {
    [libc::timespec { tv_sec: st.st_atime, tv_nsec: st.st_atime_nsec }, libc::timespec { tv_sec: st.st_mtime, tv_nsec: st.st_mtime_nsec }]
}

pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) }).map(drop)
}

pub fn pread(fd: BorrowedFd<'_>, buf: &mut [u8], off: u64) -> io::Result<usize> {
    // SAFETY: fd is open for the call (borrowed); the kernel writes at most
    // buf.len() bytes into `buf`, which we hold exclusively.
    check_size(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), off as libc::off_t) })
}

pub fn pwrite(fd: BorrowedFd<'_>, buf: &[u8], off: u64) -> io::Result<usize> {
    // SAFETY: fd is open for the call (borrowed); the kernel reads
    // buf.len() bytes from `buf`, which is that long.
    check_size(unsafe { libc::pwrite(fd.as_raw_fd(), buf.as_ptr().cast(), buf.len(), off as libc::off_t) })
}

pub fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fsync(fd.as_raw_fd()) }).map(drop)
}

pub fn fdatasync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fdatasync(fd.as_raw_fd()) }).map(drop)
}

/// fallocate(2) with the caller's mode bits, passed through unchanged.
pub fn fallocate(fd: BorrowedFd<'_>, mode: libc::c_int, off: u64, len: u64) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fallocate(fd.as_raw_fd(), mode, off as libc::off_t, len as libc::off_t) }).map(drop)
}

/// FICLONE: make `dst` share all of `src`'s extents (reflink).
pub fn ficlone(dst: BorrowedFd<'_>, src: BorrowedFd<'_>) -> io::Result<()> {
    // _IOW(0x94, 9, int)
    const FICLONE: libc::c_ulong = 0x4004_9409;
    // SAFETY: both descriptors are open for the call (borrowed); FICLONE
    // takes the source descriptor as an integer argument, not a pointer.
    check(unsafe { libc::ioctl(dst.as_raw_fd(), FICLONE as _, src.as_raw_fd()) }).map(drop)
}

/// copy_file_range(2) of up to `len` bytes, advancing both offsets.
pub fn copy_file_range(src: BorrowedFd<'_>, soff: &mut i64, dst: BorrowedFd<'_>, doff: &mut i64, len: usize) -> io::Result<usize> {
    // SAFETY: both descriptors are open for the call (borrowed); the two
    // offsets are exclusive references to live integers the kernel updates.
    check_size(unsafe { libc::copy_file_range(src.as_raw_fd(), soff, dst.as_raw_fd(), doff, len, 0) })
}

pub fn lseek(fd: BorrowedFd<'_>, off: i64, whence: libc::c_int) -> io::Result<i64> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    let r = unsafe { libc::lseek(fd.as_raw_fd(), off, whence) };
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

/// The `/proc/self/fd/N/rel` name of an entry below a layer root, for the
/// xattr calls that have no `*at` form. The magic link resolves to the
/// layer root itself; the `l*xattr` calls do not follow a final symlink.
pub fn xattr_path<'a>(root: BorrowedFd<'a>, rel: &[u8]) -> io::Result<XPath<'a>> {
    let a = at(root, rel)?;
    let mut p = format!("/proc/self/fd/{}/", a.fd().as_raw_fd()).into_bytes();
    p.extend_from_slice(a.path.as_bytes());
    let path = CString::new(p).map_err(|_| errno(libc::EINVAL))?;
    Ok(XPath { _anchor: a, path })
}

/// A `/proc/self/fd/...` path and the descriptor it goes through.
pub struct XPath<'a> {
    _anchor: At<'a>,
    path: CString,
}

impl std::ops::Deref for XPath<'_> {
    type Target = CString;
    fn deref(&self) -> &CString {
        &self.path
    }
}

pub fn getxattr(p: &CString, name: &CString, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `p` and `name` are NUL-terminated and borrowed for the call;
    // the kernel writes at most buf.len() bytes into `buf`.
    check_size(unsafe { libc::lgetxattr(p.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
}

pub fn setxattr(p: &CString, name: &CString, value: &[u8], flags: libc::c_int) -> io::Result<()> {
    // SAFETY: `p` and `name` are NUL-terminated and borrowed for the call;
    // the kernel reads value.len() bytes from `value`.
    check(unsafe { libc::lsetxattr(p.as_ptr(), name.as_ptr(), value.as_ptr().cast(), value.len(), flags) }).map(drop)
}

pub fn removexattr(p: &CString, name: &CString) -> io::Result<()> {
    // SAFETY: `p` and `name` are NUL-terminated and borrowed for the call.
    check(unsafe { libc::lremovexattr(p.as_ptr(), name.as_ptr()) }).map(drop)
}

pub fn listxattr(p: &CString, buf: &mut [u8]) -> io::Result<usize> {
    // SAFETY: `p` is NUL-terminated and borrowed for the call; the kernel
    // writes at most buf.len() bytes into `buf`.
    check_size(unsafe { libc::llistxattr(p.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })
}

/// All extended attributes of an inode as (name, value) pairs.
pub fn all_xattrs(fd: &CString) -> io::Result<Vec<(CString, Vec<u8>)>> {
    let size = match listxattr(fd, &mut []) {
        Ok(0) => return Ok(Vec::new()),
        Ok(n) => n,
        Err(e) if matches!(e.raw_os_error(), Some(libc::ENOTSUP) | Some(libc::EPERM)) => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut names = vec![0u8; size];
    let n = listxattr(fd, &mut names)?;
    names.truncate(n);
    let mut out = Vec::new();
    for raw in names.split(|&b| b == 0).filter(|s| !s.is_empty()) {
        let name = CString::new(raw).map_err(|_| errno(libc::EINVAL))?;
        let len = match getxattr(fd, &name, &mut []) {
            Ok(n) => n,
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENODATA) | Some(libc::EPERM) | Some(libc::EACCES)) => continue,
            Err(e) => return Err(e),
        };
        let mut value = vec![0u8; len];
        let n = getxattr(fd, &name, &mut value)?;
        value.truncate(n);
        out.push((name, value));
    }
    Ok(out)
}

/// One raw directory entry: name, `d_type`, host inode number.
#[derive(Debug, Clone)]
pub struct RawEntry {
    pub name: Vec<u8>,
    pub dtype: u8,
    pub ino: u64,
}

/// Read a whole directory with getdents64, without "." and "..".
pub fn read_dir(dir: BorrowedFd<'_>, rel: &[u8]) -> io::Result<Vec<RawEntry>> {
    let fd = openat(dir, rel, libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW, 0)?;
    let mut buf = vec![0u8; 64 * 1024];
    let mut out = Vec::new();
    loop {
        // SAFETY: `fd` is owned here and open; the kernel writes at most
        // buf.len() bytes of records into `buf`, which is that long.
        let n = unsafe { libc::syscall(libc::SYS_getdents64, fd.as_raw_fd(), buf.as_mut_ptr(), buf.len()) };
        if n < 0 {
            return Err(io::Error::last_os_error());
        }
        if n == 0 {
            return Ok(out);
        }
        let mut pos = 0usize;
        while pos < n as usize {
            // struct linux_dirent64 { u64 d_ino; i64 d_off; u16 d_reclen; u8 d_type; char d_name[]; }
            let rec = &buf[pos..n as usize];
            if rec.len() < 19 {
                return Err(errno(libc::EIO));
            }
            let ino = u64::from_ne_bytes(rec[0..8].try_into().map_err(|_| errno(libc::EIO))?);
            let reclen = u16::from_ne_bytes([rec[16], rec[17]]) as usize;
            if reclen < 19 || reclen > rec.len() {
                return Err(errno(libc::EIO));
            }
            let dtype = rec[18];
            let name_field = &rec[19..reclen];
            let end = name_field.iter().position(|&b| b == 0).unwrap_or(name_field.len());
            let name = &name_field[..end];
            if name != b"." && name != b".." {
                out.push(RawEntry { name: name.to_vec(), dtype, ino });
            }
            pos += reclen;
        }
    }
}

/// statfs of the filesystem holding `fd`.
pub fn fstatvfs(fd: BorrowedFd<'_>) -> io::Result<libc::statvfs> {
    let mut st = MaybeUninit::<libc::statvfs>::uninit();
    // SAFETY: fd is open for the call (borrowed); `st` is writable
    // statvfs-sized memory.
    check(unsafe { libc::fstatvfs(fd.as_raw_fd(), st.as_mut_ptr()) })?;
    // SAFETY: fstatvfs succeeded, so the C library filled in the whole struct.
    Ok(unsafe { st.assume_init() })
}
