//! Thin, fd-relative wrappers over the `*at` system calls that unpacking
//! uses, returning `io::Error`.
//!
//! Every lookup of a path that came from an archive goes through
//! `open_beneath`, which is `openat2(2)` with `RESOLVE_BENEATH |
//! RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS`: the kernel itself refuses
//! to leave the layer directory or to follow any symlink on the way, so a
//! symlink planted by an earlier entry cannot redirect a later write. On
//! kernels without openat2 (before 5.6) the same rule is applied one
//! component at a time with `O_NOFOLLOW` (the caller has already refused
//! `..`). Final components are then created or changed with the `*at`
//! calls and `O_NOFOLLOW` / `AT_SYMLINK_NOFOLLOW`.

use std::ffi::{CStr, CString, OsStr};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;

fn cstr(b: &[u8]) -> io::Result<CString> {
    CString::new(b).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn owned(r: libc::c_int) -> io::Result<OwnedFd> {
    let fd = cvt(r)?;
    // SAFETY: the kernel just returned this descriptor and nothing else owns it.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// Open `path` (relative, no `..`) under `dir` without following any
/// symlink and without leaving `dir`. `flags` gets `O_CLOEXEC` added.
pub fn open_beneath(dir: BorrowedFd<'_>, path: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let p = if path.is_empty() { OsStr::new(".") } else { path };
    let c = cstr(p.as_bytes())?;
    // SAFETY: open_how is plain data; all-zero is its documented default.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_BENEATH | libc::RESOLVE_NO_SYMLINKS | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid fd, NUL-terminated path, and a pointer/size pair that
    // describes `how`.
    let r = unsafe {
        libc::syscall(libc::SYS_openat2, dir.as_raw_fd(), c.as_ptr(), &how as *const libc::open_how, std::mem::size_of::<libc::open_how>())
    };
    if r >= 0 {
        // SAFETY: a new descriptor from the kernel.
        return Ok(unsafe { OwnedFd::from_raw_fd(r as libc::c_int) });
    }
    let err = io::Error::last_os_error();
    match err.raw_os_error() {
        Some(libc::ENOSYS) | Some(libc::EPERM) => open_walk(dir, p, flags),
        _ => Err(err),
    }
}

/// The fallback of `open_beneath`: one component at a time, never
/// following a symlink (`O_NOFOLLOW` makes a symlink component fail with
/// ELOOP, or ENOTDIR with `O_DIRECTORY`, which we report as ELOOP).
fn open_walk(dir: BorrowedFd<'_>, path: &OsStr, flags: libc::c_int) -> io::Result<OwnedFd> {
    let comps: Vec<&[u8]> = path.as_bytes().split(|b| *b == b'/').filter(|c| !c.is_empty() && *c != b".").collect();
    let mut cur = dup_dir(dir)?;
    for (i, comp) in comps.iter().enumerate() {
        if *comp == b".." {
            return Err(io::Error::from_raw_os_error(libc::EXDEV));
        }
        let last = i + 1 == comps.len();
        let f = if last { flags } else { libc::O_PATH | libc::O_DIRECTORY };
        if let Ok(st) = stat_nofollow(cur_fd(&cur), OsStr::from_bytes(comp)) {
            if st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                return Err(io::Error::from_raw_os_error(libc::ELOOP));
            }
        }
        let c = cstr(comp)?;
        // SAFETY: valid fd and NUL-terminated name.
        cur = owned(unsafe { libc::openat(cur.as_raw_fd(), c.as_ptr(), f | libc::O_NOFOLLOW | libc::O_CLOEXEC, 0) })?;
    }
    if comps.is_empty() {
        let c = cstr(b".")?;
        // SAFETY: valid fd and NUL-terminated name.
        return owned(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags | libc::O_CLOEXEC, 0) });
    }
    Ok(cur)
}

fn cur_fd(fd: &OwnedFd) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    fd.as_fd()
}

fn dup_dir(dir: BorrowedFd<'_>) -> io::Result<OwnedFd> {
    dir.try_clone_to_owned()
}

pub fn stat_nofollow(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<libc::stat> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: zeroed stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid fd, NUL-terminated name, valid out pointer.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

pub fn mkdir(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: valid fd and NUL-terminated name.
    cvt(unsafe { libc::mkdirat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

/// Create a new regular file; fails if anything exists under `name`.
pub fn create_file(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<File> {
    let c = cstr(name.as_bytes())?;
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_EXCL | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: valid fd and NUL-terminated name.
    let fd = owned(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags, 0o600 as libc::c_uint) })?;
    Ok(File::from(fd))
}

pub fn symlink(target: &[u8], dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let t = cstr(target)?;
    let c = cstr(name.as_bytes())?;
    // SAFETY: NUL-terminated strings and a valid fd.
    cvt(unsafe { libc::symlinkat(t.as_ptr(), dir.as_raw_fd(), c.as_ptr()) }).map(drop)
}

pub fn hardlink(odir: BorrowedFd<'_>, oname: &OsStr, ndir: BorrowedFd<'_>, nname: &OsStr) -> io::Result<()> {
    let o = cstr(oname.as_bytes())?;
    let n = cstr(nname.as_bytes())?;
    // SAFETY: valid fds and NUL-terminated names; flags 0 never follows a
    // symlink at `oname`.
    cvt(unsafe { libc::linkat(odir.as_raw_fd(), o.as_ptr(), ndir.as_raw_fd(), n.as_ptr(), 0) }).map(drop)
}

pub fn mkfifo(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: valid fd and NUL-terminated name.
    cvt(unsafe { libc::mkfifoat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t) }).map(drop)
}

pub fn unlink(dir: BorrowedFd<'_>, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let c = cstr(name.as_bytes())?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid fd and NUL-terminated name.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

/// Remove `name` under `dir` and, if it is a directory, everything in it,
/// never following symlinks (`rmtree`).
pub fn remove_all(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    crate::rmtree::remove_tree_at(dir, name)
}

pub fn chown_nofollow(dir: BorrowedFd<'_>, name: &OsStr, uid: u32, gid: u32) -> io::Result<()> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: valid fd and NUL-terminated name.
    cvt(unsafe { libc::fchownat(dir.as_raw_fd(), c.as_ptr(), uid, gid, libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

pub fn fchown(fd: BorrowedFd<'_>, uid: u32, gid: u32) -> io::Result<()> {
    // SAFETY: a valid descriptor.
    cvt(unsafe { libc::fchown(fd.as_raw_fd(), uid, gid) }).map(drop)
}

pub fn fchmod(fd: BorrowedFd<'_>, mode: u32) -> io::Result<()> {
    // SAFETY: a valid descriptor.
    cvt(unsafe { libc::fchmod(fd.as_raw_fd(), mode as libc::mode_t) }).map(drop)
}

/// chmod a name that is known not to be a symlink (fifos we just created
/// in our private temp directory); `fchmodat` cannot refuse symlinks on
/// older kernels.
pub fn chmod_at(dir: BorrowedFd<'_>, name: &OsStr, mode: u32) -> io::Result<()> {
    let c = cstr(name.as_bytes())?;
    // SAFETY: valid fd and NUL-terminated name.
    cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), mode as libc::mode_t, 0) }).map(drop)
}

fn times(mtime: (i64, u32)) -> [libc::timespec; 2] {
    let ts = libc::timespec { tv_sec: mtime.0 as libc::time_t, tv_nsec: mtime.1 as _ };
    [ts, ts]
}

pub fn futimens(fd: BorrowedFd<'_>, mtime: (i64, u32)) -> io::Result<()> {
    let t = times(mtime);
    // SAFETY: a valid descriptor and a two-element timespec array.
    cvt(unsafe { libc::futimens(fd.as_raw_fd(), t.as_ptr()) }).map(drop)
}

pub fn utimes_nofollow(dir: BorrowedFd<'_>, name: &OsStr, mtime: (i64, u32)) -> io::Result<()> {
    let c = cstr(name.as_bytes())?;
    let t = times(mtime);
    // SAFETY: valid fd, NUL-terminated name, two-element timespec array.
    cvt(unsafe { libc::utimensat(dir.as_raw_fd(), c.as_ptr(), t.as_ptr(), libc::AT_SYMLINK_NOFOLLOW) }).map(drop)
}

pub fn fsetxattr(fd: BorrowedFd<'_>, key: &CStr, value: &[u8]) -> io::Result<()> {
    // SAFETY: a valid descriptor, NUL-terminated key, pointer/len of value.
    cvt(unsafe { libc::fsetxattr(fd.as_raw_fd(), key.as_ptr(), value.as_ptr().cast(), value.len(), 0) }).map(drop)
}

/// Set an xattr on `name` under `dir` without following a symlink there.
/// Goes through `/proc/self/fd/<dir>/<name>`: the magic link is our own
/// descriptor, and `lsetxattr` does not follow the final component.
pub fn lsetxattr_at(dir: BorrowedFd<'_>, name: &OsStr, key: &CStr, value: &[u8]) -> io::Result<()> {
    let mut p = format!("/proc/self/fd/{}/", dir.as_raw_fd()).into_bytes();
    p.extend_from_slice(name.as_bytes());
    let c = cstr(&p)?;
    // SAFETY: NUL-terminated path and key, pointer/len of value.
    cvt(unsafe { libc::lsetxattr(c.as_ptr(), key.as_ptr(), value.as_ptr().cast(), value.len(), 0) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsFd;

    /// The fallback for kernels without openat2 refuses symlinks too.
    #[test]
    fn walk_refuses_symlinks() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir(t.path().join("d")).unwrap();
        std::os::unix::fs::symlink("d", t.path().join("l")).unwrap();
        std::os::unix::fs::symlink("/", t.path().join("up")).unwrap();
        let root: OwnedFd = File::open(t.path()).unwrap().into();
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        for open in [open_walk, open_beneath] {
            assert!(open(root.as_fd(), OsStr::new("d"), flags).is_ok());
            assert!(open(root.as_fd(), OsStr::new(""), flags).is_ok());
            for bad in ["l", "up/etc", "l/x"] {
                let e = open(root.as_fd(), OsStr::new(bad), flags).unwrap_err();
                assert!(matches!(e.raw_os_error(), Some(libc::ELOOP) | Some(libc::ENOTDIR) | Some(libc::ENOENT)), "{bad}: {e}");
            }
            assert_eq!(open(root.as_fd(), OsStr::new("l"), flags).unwrap_err().raw_os_error(), Some(libc::ELOOP));
        }
    }
}
