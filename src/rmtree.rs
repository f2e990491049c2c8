//! Removing a directory tree of any depth: the one way burrow deletes a
//! tree (a container's files, a layer, a staging directory in `tmp/`).
//!
//! A path-based walk fails once a path passes the kernel's `PATH_MAX`
//! (4096 bytes), which a container reaches with a 2,000-deep `mkdir` loop;
//! a walk that keeps one descriptor per level runs out of descriptors
//! instead. This one holds a single directory descriptor at a time: it
//! unlinks the plain entries of the current directory with `unlinkat(2)`,
//! steps into the first subdirectory it finds (`openat` with
//! `O_NOFOLLOW`, so a symlink is unlinked, never followed), and when a
//! directory is empty climbs back through its `..`, checking that the
//! parent it reaches is the one it came from (same device and inode), and
//! removes the emptied directory from there. A directory we may not read
//! or write (image layers hold 0555 and 0000 ones) is given `u+rwx` first.
//! It never crosses into another file system (a mount point is an error,
//! not a tree to empty), and an entry that vanishes meanwhile (another
//! process removing the same tree) is taken as removed.

use std::ffi::{CString, OsStr, OsString};
use std::fs::File;
use std::io;
use std::os::fd::{AsRawFd, BorrowedFd, FromRawFd, IntoRawFd, OwnedFd};
use std::os::unix::ffi::{OsStrExt, OsStringExt};
use std::path::Path;

/// Remove `path` and everything under it; a missing path is not an error.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let (parent, name) = match (path.parent(), path.file_name()) {
        (Some(p), Some(n)) => (if p.as_os_str().is_empty() { Path::new(".") } else { p }, n),
        _ => return Err(io::Error::new(io::ErrorKind::InvalidInput, format!("{}: not a removable path", path.display()))),
    };
    let dir = match File::open(parent) {
        Ok(d) => d,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    // SAFETY: `dir` outlives the borrow.
    remove_tree_at(unsafe { BorrowedFd::borrow_raw(dir.as_raw_fd()) }, name)
}

/// Remove `name` in directory `dir` and, if it is a directory, everything
/// under it (see the module comment).
pub fn remove_tree_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<()> {
    let st = match stat_at(dir, name) {
        Err(e) if gone(&e) => return Ok(()),
        other => other?,
    };
    if !is_dir(&st) {
        return ok_if_gone(unlink_at(dir, name, false));
    }
    let mut cur = match open_dir_at(dir, name) {
        Err(e) if gone(&e) => return Ok(()),
        other => other?,
    };
    // The name of each directory below the top, with its parent's identity.
    let mut stack: Vec<(OsString, (u64, u64))> = Vec::new();
    loop {
        let here = fstat(&cur)?;
        if here.st_dev != st.st_dev {
            return Err(io::Error::other(format!("{}: a mount point is in the way; unmount it first", name.to_string_lossy())));
        }
        if here.st_mode & 0o700 != 0o700 {
            // SAFETY: fchmod on a descriptor we own.
            cvt(unsafe { libc::fchmod(cur.as_raw_fd(), (here.st_mode & 0o7777 | 0o700) as libc::mode_t) })?;
        }
        if let Some(sub) = empty_but_dirs(&cur)? {
            match open_dir_at(fd(&cur), &sub) {
                Ok(next) => {
                    stack.push((sub, (here.st_dev, here.st_ino)));
                    cur = next;
                }
                Err(e) if gone(&e) => {}
                Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => ok_if_gone(unlink_at(fd(&cur), &sub, false))?,
                Err(e) => return Err(e),
            }
            continue;
        }
        let Some((child, (dev, ino))) = stack.pop() else { break };
        let up = open_dir_at(fd(&cur), OsStr::new(".."))?;
        let there = fstat(&up)?;
        if (there.st_dev, there.st_ino) != (dev, ino) {
            return Err(io::Error::other(format!("{}: the tree moved while it was being removed", name.to_string_lossy())));
        }
        cur = up;
        ok_if_gone(unlink_at(fd(&cur), &child, true))?;
    }
    drop(cur);
    ok_if_gone(unlink_at(dir, name, true))
}

/// Unlink every entry of `dir` that is not a directory; the name of the
/// first directory found, if any (the rest wait for a later pass).
fn empty_but_dirs(dir: &OwnedFd) -> io::Result<Option<OsString>> {
    // A fresh open of "." reads from the start, whatever earlier passes did.
    let own = open_dir_at(fd(dir), OsStr::new("."))?;
    let mut d = nix::dir::Dir::from_fd(own.into_raw_fd()).map_err(io::Error::from)?;
    for e in d.iter() {
        let e = e.map_err(io::Error::from)?;
        let n = e.file_name().to_bytes();
        if n == b"." || n == b".." {
            continue;
        }
        let name = OsString::from_vec(n.to_vec());
        let dir_entry = match e.file_type() {
            Some(t) => t == nix::dir::Type::Directory,
            None => match stat_at(fd(dir), &name) {
                Ok(st) => is_dir(&st),
                Err(e) if gone(&e) => continue,
                Err(e) => return Err(e),
            },
        };
        if dir_entry {
            return Ok(Some(name));
        }
        ok_if_gone(unlink_at(fd(dir), &name, false))?;
    }
    Ok(None)
}

fn fd(f: &OwnedFd) -> BorrowedFd<'_> {
    use std::os::fd::AsFd;
    f.as_fd()
}

fn cstr(name: &OsStr) -> io::Result<CString> {
    CString::new(name.as_bytes()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))
}

fn cvt(r: libc::c_int) -> io::Result<libc::c_int> {
    if r < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(r)
    }
}

fn gone(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::NotFound
}

fn ok_if_gone(r: io::Result<()>) -> io::Result<()> {
    match r {
        Err(e) if gone(&e) => Ok(()),
        other => other,
    }
}

fn is_dir(st: &libc::stat) -> bool {
    st.st_mode & libc::S_IFMT == libc::S_IFDIR
}

fn stat_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<libc::stat> {
    let c = cstr(name)?;
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: valid descriptor, NUL-terminated name, valid out pointer.
    cvt(unsafe { libc::fstatat(dir.as_raw_fd(), c.as_ptr(), &mut st, libc::AT_SYMLINK_NOFOLLOW) })?;
    Ok(st)
}

fn fstat(f: &OwnedFd) -> io::Result<libc::stat> {
    // SAFETY: an all-zero stat is a valid out-buffer.
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    // SAFETY: a descriptor we own and a valid out pointer.
    cvt(unsafe { libc::fstat(f.as_raw_fd(), &mut st) })?;
    Ok(st)
}

/// Open directory `name` under `dir` without following a symlink; a
/// directory we may not read gets `u+rwx` and is opened again.
fn open_dir_at(dir: BorrowedFd<'_>, name: &OsStr) -> io::Result<OwnedFd> {
    let c = cstr(name)?;
    let flags = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    let open = || -> io::Result<OwnedFd> {
        // SAFETY: valid descriptor and NUL-terminated name.
        let r = cvt(unsafe { libc::openat(dir.as_raw_fd(), c.as_ptr(), flags) })?;
        // SAFETY: the kernel just returned this descriptor; nothing else owns it.
        Ok(unsafe { OwnedFd::from_raw_fd(r) })
    };
    match open() {
        Err(e) if e.kind() == io::ErrorKind::PermissionDenied && name != ".." => {
            let st = stat_at(dir, name)?;
            if !is_dir(&st) {
                return Err(io::Error::from_raw_os_error(libc::ENOTDIR));
            }
            // SAFETY: valid descriptor and NUL-terminated name; the entry is a
            // directory (fchmodat has no no-follow mode, and a directory is no symlink).
            cvt(unsafe { libc::fchmodat(dir.as_raw_fd(), c.as_ptr(), (st.st_mode & 0o7777 | 0o700) as libc::mode_t, 0) })?;
            open()
        }
        other => other,
    }
}

fn unlink_at(dir: BorrowedFd<'_>, name: &OsStr, is_dir: bool) -> io::Result<()> {
    let c = cstr(name)?;
    let flags = if is_dir { libc::AT_REMOVEDIR } else { 0 };
    // SAFETY: valid descriptor and NUL-terminated name.
    cvt(unsafe { libc::unlinkat(dir.as_raw_fd(), c.as_ptr(), flags) }).map(drop)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn removes_read_only_and_locked_directories() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("top");
        fs::create_dir_all(top.join("a/b/c")).unwrap();
        fs::write(top.join("a/b/f"), b"x").unwrap();
        fs::write(top.join("a/g"), b"x").unwrap();
        std::os::unix::fs::symlink("/etc", top.join("a/link")).unwrap();
        fs::set_permissions(top.join("a/b"), fs::Permissions::from_mode(0o555)).unwrap();
        fs::set_permissions(top.join("a"), fs::Permissions::from_mode(0o000)).unwrap();
        remove_tree(&top).unwrap();
        assert!(!top.exists());
        assert!(Path::new("/etc").is_dir(), "a symlink is unlinked, never followed");
        remove_tree(&top).unwrap();
    }

    #[test]
    fn removes_a_tree_deeper_than_path_max() {
        let t = tempfile::tempdir().unwrap();
        let top = t.path().join("deep");
        fs::create_dir(&top).unwrap();
        let mut cur: OwnedFd = File::open(&top).unwrap().into();
        // 2,100 levels of "dd": 6,300 bytes of path, more than PATH_MAX.
        for i in 0..2100 {
            let c = CString::new("dd").unwrap();
            // SAFETY: valid descriptor and NUL-terminated name.
            cvt(unsafe { libc::mkdirat(cur.as_raw_fd(), c.as_ptr(), 0o755) }).unwrap();
            if i % 500 == 0 {
                // SAFETY: as above.
                let f = cvt(unsafe { libc::openat(cur.as_raw_fd(), c.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC) }).unwrap();
                // SAFETY: a descriptor the kernel just returned.
                let fd = unsafe { OwnedFd::from_raw_fd(f) };
                fs::write(format!("/proc/self/fd/{}/file", fd.as_raw_fd()), b"x").unwrap();
                cur = fd;
                continue;
            }
            cur = open_dir_at(fd(&cur), OsStr::new("dd")).unwrap();
        }
        drop(cur);
        remove_tree(&top).unwrap();
        assert!(!top.exists());
    }

    #[test]
    fn removes_a_plain_file_and_tolerates_a_missing_path() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        fs::write(&f, b"x").unwrap();
        remove_tree(&f).unwrap();
        assert!(!f.exists());
        remove_tree(&t.path().join("missing/deeper")).unwrap();
    }
}
