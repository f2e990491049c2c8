//! Thin, errno-preserving wrappers over the system calls the suites use.
//!
//! `std::fs` covers most operations but not renameat2 flags, xattrs,
//! utimensat with UTIME_OMIT, mknod or *at calls relative to a directory
//! descriptor. Every wrapper returns `io::Result` so a test can compare the
//! exact errno with `raw_os_error()`.
//!
//! Descriptors come in as `BorrowedFd`, so each is open for the call. In
//! the `unsafe` blocks, every pointer comes from a Rust value (a `CString`
//! from `cstr`, a slice, a local out-parameter) that lives until the call
//! returns, with its true length passed alongside.

use std::ffi::{CString, OsStr, OsString};
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

pub fn cstr(p: impl AsRef<OsStr>) -> CString {
    CString::new(p.as_ref().as_bytes()).expect("path without NUL byte")
}

pub fn check(rc: libc::c_int) -> io::Result<libc::c_int> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc)
    }
}

fn check_size(rc: libc::ssize_t) -> io::Result<usize> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(rc as usize)
    }
}

/// The errno of a result: 0 for success.
pub fn errno<T>(r: &io::Result<T>) -> i32 {
    match r {
        Ok(_) => 0,
        Err(e) => e.raw_os_error().unwrap_or(-1),
    }
}

/// A readable name for an errno value, for assertion messages.
pub fn errname(e: i32) -> String {
    let name = match e {
        0 => "OK",
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::EIO => "EIO",
        libc::EBADF => "EBADF",
        libc::EACCES => "EACCES",
        libc::EBUSY => "EBUSY",
        libc::EEXIST => "EEXIST",
        libc::EXDEV => "EXDEV",
        libc::ENOTDIR => "ENOTDIR",
        libc::EISDIR => "EISDIR",
        libc::EINVAL => "EINVAL",
        libc::ENOSPC => "ENOSPC",
        libc::EROFS => "EROFS",
        libc::EMLINK => "EMLINK",
        libc::ENAMETOOLONG => "ENAMETOOLONG",
        libc::ENOSYS => "ENOSYS",
        libc::ENOTEMPTY => "ENOTEMPTY",
        libc::ELOOP => "ELOOP",
        libc::ENODATA => "ENODATA",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::ENOTCONN => "ENOTCONN",
        libc::ESTALE => "ESTALE",
        libc::ERANGE => "ERANGE",
        libc::E2BIG => "E2BIG",
        libc::EFBIG => "EFBIG",
        _ => return format!("errno {e}"),
    };
    name.to_string()
}

/// Assert that `r` failed with exactly `want`.
#[track_caller]
pub fn assert_errno<T: std::fmt::Debug>(r: io::Result<T>, want: i32, what: &str) {
    match r {
        Ok(v) => panic!("{what}: expected {}, got success ({v:?})", errname(want)),
        Err(e) => {
            let got = e.raw_os_error().unwrap_or(-1);
            assert_eq!(got, want, "{what}: expected {}, got {} ({e})", errname(want), errname(got));
        }
    }
}

/// Unwrap with the operation named in the message.
#[track_caller]
pub fn ok<T>(r: io::Result<T>, what: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{what}: expected success, got {} ({e})", errname(e.raw_os_error().unwrap_or(-1))),
    }
}

pub fn lstat(p: &Path) -> io::Result<libc::stat> {
    let c = cstr(p);
    // SAFETY: libc::stat is a C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path alive for the call; `st` is a live stat it fills.
    check(unsafe { libc::lstat(c.as_ptr(), &mut st) })?;
    Ok(st)
}

pub fn stat(p: &Path) -> io::Result<libc::stat> {
    let c = cstr(p);
    // SAFETY: libc::stat is a C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path alive for the call; `st` is a live stat it fills.
    check(unsafe { libc::stat(c.as_ptr(), &mut st) })?;
    Ok(st)
}

pub fn fstat(fd: BorrowedFd<'_>) -> io::Result<libc::stat> {
    // SAFETY: libc::stat is a C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: fd is open for the call (borrowed); `st` is a live stat it fills.
    check(unsafe { libc::fstat(fd.as_raw_fd(), &mut st) })?;
    Ok(st)
}

pub fn fstatat(dir: BorrowedFd<'_>, name: &OsStr, flags: i32) -> io::Result<libc::stat> {
    let c = cstr(name);
    // SAFETY: libc::stat is a C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated name alive for the
    // call; `st` is a live stat it fills.
    check(unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, flags) })?;
    Ok(st)
}

pub fn open(p: &Path, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    let fd = check(unsafe { libc::open(c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    // SAFETY: `fd` was just returned by a successful open: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn openat(dir: BorrowedFd<'_>, name: &OsStr, flags: i32, mode: u32) -> io::Result<OwnedFd> {
    let c = cstr(name);
    // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated name alive for the
    // call, which only reads it.
    let fd = check(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC, mode as libc::c_uint) })?;
    // SAFETY: `fd` was just returned by a successful open: a new descriptor nothing else owns.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

pub fn mkdir(p: &Path, mode: u32) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::mkdir(c.as_ptr(), mode) }).map(drop)
}

pub fn mkdirat(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstr(name);
    // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated name alive for the
    // call, which only reads it.
    check(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode) }).map(drop)
}

pub fn rmdir(p: &Path) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::rmdir(c.as_ptr()) }).map(drop)
}

pub fn unlink(p: &Path) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::unlink(c.as_ptr()) }).map(drop)
}

pub fn unlinkat(dir: BorrowedFd<'_>, name: &OsStr, flags: i32) -> io::Result<()> {
    let c = cstr(name);
    // SAFETY: dir is open for the call (borrowed); `c` is a NUL-terminated name alive for the
    // call, which only reads it.
    check(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

pub fn rename(from: &Path, to: &Path) -> io::Result<()> {
    renameat2(from, to, 0)
}

/// renameat2(2) with RENAME_NOREPLACE / RENAME_EXCHANGE flags.
pub fn renameat2(from: &Path, to: &Path, flags: u32) -> io::Result<()> {
    let (a, b) = (cstr(from), cstr(to));
    // SAFETY: `a` and `b` are NUL-terminated paths alive for the call, which only reads them;
    // AT_FDCWD is the current directory, not a descriptor.
    check(unsafe { libc::renameat2(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), flags) }).map(drop)
}

pub fn renameat(dir: BorrowedFd<'_>, from: &OsStr, to: &OsStr) -> io::Result<()> {
    let (a, b) = (cstr(from), cstr(to));
    // SAFETY: dir is open for the call (borrowed); `a` and `b` are NUL-terminated names alive for
    // the call, which only reads them.
    check(unsafe { libc::renameat(dir.as_raw_fd(), a.as_ptr(), dir.as_raw_fd(), b.as_ptr()) }).map(drop)
}

pub fn link(from: &Path, to: &Path) -> io::Result<()> {
    let (a, b) = (cstr(from), cstr(to));
    // SAFETY: `a` and `b` are NUL-terminated paths alive for the call, which only reads them;
    // AT_FDCWD is the current directory, not a descriptor.
    check(unsafe { libc::linkat(libc::AT_FDCWD, a.as_ptr(), libc::AT_FDCWD, b.as_ptr(), 0) }).map(drop)
}

pub fn symlink(target: impl AsRef<OsStr>, at: &Path) -> io::Result<()> {
    let (a, b) = (cstr(target), cstr(at));
    // SAFETY: `a` and `b` are NUL-terminated strings alive for the call, which only reads them.
    check(unsafe { libc::symlink(a.as_ptr(), b.as_ptr()) }).map(drop)
}

pub fn readlink(p: &Path) -> io::Result<OsString> {
    std::fs::read_link(p).map(|p| p.into_os_string())
}

pub fn mknod(p: &Path, mode: u32, dev: u64) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::mknod(c.as_ptr(), mode, dev as libc::dev_t) }).map(drop)
}

pub fn mkfifo(p: &Path, mode: u32) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::mkfifo(c.as_ptr(), mode) }).map(drop)
}

pub fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::chmod(c.as_ptr(), mode) }).map(drop)
}

pub fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::lchown(c.as_ptr(), uid, gid) }).map(drop)
}

pub fn truncate(p: &Path, len: u64) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::truncate(c.as_ptr(), len as libc::off_t) }).map(drop)
}

pub fn access(p: &Path, mode: i32) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::access(c.as_ptr(), mode) }).map(drop)
}

/// A timestamp for utimensat: explicit, UTIME_NOW or UTIME_OMIT.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Time {
    At(i64, i64),
    Now,
    Omit,
}

fn timespec(t: Time) -> libc::timespec {
    match t {
        Time::At(s, ns) => libc::timespec { tv_sec: s as libc::time_t, tv_nsec: ns as libc::c_long },
        Time::Now => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_NOW },
        Time::Omit => libc::timespec { tv_sec: 0, tv_nsec: libc::UTIME_OMIT },
    }
}

/// utimensat(2) without following a final symlink.
pub fn lutimens(p: &Path, atime: Time, mtime: Time) -> io::Result<()> {
    let c = cstr(p);
    let ts = [timespec(atime), timespec(mtime)];
    // SAFETY: `c` is a NUL-terminated path and `ts` two timespecs, both alive for the call, which
    // only reads them.
    check(unsafe { libc::utimensat(libc::AT_FDCWD, c.as_ptr(), ts.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

pub fn futimens(fd: BorrowedFd<'_>, atime: Time, mtime: Time) -> io::Result<()> {
    let ts = [timespec(atime), timespec(mtime)];
    // SAFETY: fd is open for the call (borrowed); `ts` holds the two timespecs the call reads.
    check(unsafe { libc::futimens(fd.as_raw_fd(), ts.as_ptr()) }).map(drop)
}

pub fn lsetxattr(p: &Path, name: &str, value: &[u8], flags: i32) -> io::Result<()> {
    let (c, n) = (cstr(p), cstr(name));
    // SAFETY: `c` and `n` are NUL-terminated and alive for the call; it reads value.len() bytes of
    // `value`.
    check(unsafe { libc::lsetxattr(c.as_ptr(), n.as_ptr(), value.as_ptr().cast(), value.len(), flags) }).map(drop)
}

pub fn lgetxattr(p: &Path, name: &str) -> io::Result<Vec<u8>> {
    let (c, n) = (cstr(p), cstr(name));
    let mut buf = vec![0u8; 65536];
    // SAFETY: `c` and `n` are NUL-terminated and alive for the call; it writes at most buf.len()
    // bytes into `buf`.
    let len = check_size(unsafe { libc::lgetxattr(c.as_ptr(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })?;
    buf.truncate(len);
    Ok(buf)
}

pub fn lremovexattr(p: &Path, name: &str) -> io::Result<()> {
    let (c, n) = (cstr(p), cstr(name));
    // SAFETY: `c` and `n` are NUL-terminated and alive for the call, which only reads them.
    check(unsafe { libc::lremovexattr(c.as_ptr(), n.as_ptr()) }).map(drop)
}

/// All xattr names of `p` (final symlink not followed).
pub fn llistxattr(p: &Path) -> io::Result<Vec<OsString>> {
    let c = cstr(p);
    let mut buf = vec![0u8; 65536];
    // SAFETY: `c` is NUL-terminated and alive for the call; it writes at most buf.len() bytes into
    // `buf`.
    let len = check_size(unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })?;
    buf.truncate(len);
    Ok(split_names(&buf))
}

pub fn fgetxattr(fd: BorrowedFd<'_>, name: &OsStr) -> io::Result<Vec<u8>> {
    let n = cstr(name);
    let mut buf = vec![0u8; 65536];
    // SAFETY: fd is open for the call (borrowed); `n` is NUL-terminated; the call writes at most
    // buf.len() bytes into `buf`.
    let len = check_size(unsafe { libc::fgetxattr(fd.as_raw_fd(), n.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) })?;
    buf.truncate(len);
    Ok(buf)
}

pub fn fsetxattr(fd: BorrowedFd<'_>, name: &OsStr, value: &[u8]) -> io::Result<()> {
    let n = cstr(name);
    // SAFETY: fd is open for the call (borrowed); `n` is NUL-terminated; the call reads
    // value.len() bytes of `value`.
    check(unsafe { libc::fsetxattr(fd.as_raw_fd(), n.as_ptr(), value.as_ptr().cast(), value.len(), 0) }).map(drop)
}

pub fn flistxattr(fd: BorrowedFd<'_>) -> io::Result<Vec<OsString>> {
    let mut buf = vec![0u8; 65536];
    // SAFETY: fd is open for the call (borrowed); the call writes at most buf.len() bytes into
    // `buf`.
    let len = check_size(unsafe { libc::flistxattr(fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len()) })?;
    buf.truncate(len);
    Ok(split_names(&buf))
}

fn split_names(buf: &[u8]) -> Vec<OsString> {
    buf.split(|b| *b == 0).filter(|s| !s.is_empty()).map(|s| OsString::from_vec(s.to_vec())).collect()
}

pub fn pwrite(fd: BorrowedFd<'_>, data: &[u8], off: u64) -> io::Result<usize> {
    // SAFETY: fd is open for the call (borrowed); the call reads data.len() bytes of `data`.
    check_size(unsafe { libc::pwrite(fd.as_raw_fd(), data.as_ptr().cast(), data.len(), off as libc::off_t) })
}

pub fn pread(fd: BorrowedFd<'_>, len: usize, off: u64) -> io::Result<Vec<u8>> {
    let mut buf = vec![0u8; len];
    // SAFETY: fd is open for the call (borrowed); `buf` is `len` bytes long and the call writes at
    // most that.
    let n = check_size(unsafe { libc::pread(fd.as_raw_fd(), buf.as_mut_ptr().cast(), len, off as libc::off_t) })?;
    buf.truncate(n);
    Ok(buf)
}

pub fn write(fd: BorrowedFd<'_>, data: &[u8]) -> io::Result<usize> {
    // SAFETY: fd is open for the call (borrowed); the call reads data.len() bytes of `data`.
    check_size(unsafe { libc::write(fd.as_raw_fd(), data.as_ptr().cast(), data.len()) })
}

pub fn fsync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fsync(fd.as_raw_fd()) }).map(drop)
}

pub fn fdatasync(fd: BorrowedFd<'_>) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::fdatasync(fd.as_raw_fd()) }).map(drop)
}

pub fn ftruncate(fd: BorrowedFd<'_>, len: u64) -> io::Result<()> {
    // SAFETY: fd is open for the call (borrowed); no memory is passed.
    check(unsafe { libc::ftruncate(fd.as_raw_fd(), len as libc::off_t) }).map(drop)
}

/// umount2(2) of `p` with `flags` (0 or MNT_DETACH).
pub fn umount2(p: &Path, flags: i32) -> io::Result<()> {
    let c = cstr(p);
    // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
    check(unsafe { libc::umount2(c.as_ptr(), flags) }).map(drop)
}

pub fn statvfs(p: &Path) -> io::Result<libc::statvfs> {
    let c = cstr(p);
    // SAFETY: libc::statvfs is a C struct of integers, for which all-zero bytes are valid.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    // SAFETY: `c` is a NUL-terminated path alive for the call; `st` is a live statvfs it fills.
    check(unsafe { libc::statvfs(c.as_ptr(), &mut st) })?;
    Ok(st)
}

/// Names in a directory (without "." and ".."), through readdir(3).
pub fn list(p: &Path) -> io::Result<Vec<OsString>> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(p)? {
        out.push(e?.file_name());
    }
    out.sort();
    Ok(out)
}

/// Read a whole file without following a final symlink.
pub fn read_all(p: &Path) -> io::Result<Vec<u8>> {
    std::fs::read(p)
}

pub fn file_type(mode: u32) -> u32 {
    mode & libc::S_IFMT
}

pub fn is_root() -> bool {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

pub fn uid() -> u32 {
    // SAFETY: geteuid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::geteuid() }
}

pub fn gid() -> u32 {
    // SAFETY: getegid takes no arguments, touches no memory and cannot fail.
    unsafe { libc::getegid() }
}

/// `name` as an `OsStr` built from raw bytes (names need not be UTF-8).
pub fn os(bytes: &[u8]) -> &OsStr {
    OsStr::from_bytes(bytes)
}
