//! Copy-up: bringing one entry of a lower layer into the upper layer.
//!
//! Theory of operation. An entry is rebuilt under a unique temporary name
//! in the work directory (same filesystem as the upper), with its data,
//! owner, mode, extended attributes and timestamps, and only then renamed
//! to its place in the upper, so a crash never leaves a half-copied file
//! visible. File data is cloned with `FICLONE` when the filesystem can
//! share extents, else copied with `copy_file_range` region by region
//! between `SEEK_DATA` and `SEEK_HOLE`, so holes stay holes. The rename
//! into a directory would bump that directory's times; they are restored,
//! because a copy-up is not a change the user made.
//!
//! Ownership: the overlay serves as root of a user namespace (or as an
//! ordinary user). Restoring the owner is attempted always; when the
//! server is not root a refused `fchown` (EPERM/EINVAL) is ignored and the
//! copy belongs to the server's user: an ordinary user cannot own files
//! for anyone else, and refusing every write to a lower file would be
//! worse. Extended attributes the kernel refuses (security.* without
//! privilege, trusted.*) are skipped the same way, with a debug log.
//!
//! This module does not decide when to copy up, nor copy parent
//! directories: the caller makes sure the upper parent exists.

use std::io;
use std::os::fd::{AsFd, BorrowedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::overlay::{Layer, Stack};
use crate::sys;

static TMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A unique name for a temporary entry in the work directory.
pub fn temp_name() -> Vec<u8> {
    let n = TMP_COUNTER.fetch_add(1, Ordering::Relaxed);
    format!("#burrow-{}-{n}", std::process::id()).into_bytes()
}

/// How to treat ownership failures.
#[derive(Debug, Clone, Copy)]
pub struct Privilege {
    /// The server runs as (namespace) root: a failed chown is an error.
    pub root: bool,
}

/// Run `f`, an operation on an entry of directory `dir` (or on `dir`
/// itself), and if an unprivileged server is refused (EACCES) on a
/// directory it owns, lend itself the `add` permission bits for the time
/// of one retry, then put the mode and times back. An ordinary user
/// cannot override modes as root can, yet must copy up below a 0555
/// directory or read a 0000 file it owns; this is the price. Lower layers
/// can be touched this way too (a mode change undone at once).
pub fn as_owner<T>(priv_: Privilege, root: BorrowedFd<'_>, dir: &[u8], add: u32, mut f: impl FnMut() -> io::Result<T>) -> io::Result<T> {
    match f() {
        Err(e) if !priv_.root && e.raw_os_error() == Some(libc::EACCES) => {
            let st = sys::fstatat(root, dir)?;
            if st.st_uid != sys::euid() || st.st_mode & libc::S_IFMT == libc::S_IFLNK {
                return Err(e);
            }
            sys::fchmodat(root, dir, (st.st_mode & 0o7777) | add)?;
            let r = f();
            if let Err(e) = sys::fchmodat(root, dir, st.st_mode & 0o7777) {
                tracing::warn!(dir = ?String::from_utf8_lossy(dir), error = %e, "cannot restore a mode lent for copy-up");
            }
            restore_times(root, dir, &st);
            r
        }
        r => r,
    }
}

/// Chown tolerating refusal when unprivileged or when nothing changes.
pub fn chown_lenient(priv_: Privilege, r: io::Result<()>, want: (u32, u32), have: (u32, u32)) -> io::Result<()> {
    match r {
        Ok(()) => Ok(()),
        Err(_) if want == have => Ok(()),
        Err(e) if !priv_.root && matches!(e.raw_os_error(), Some(libc::EPERM) | Some(libc::EINVAL)) => {
            tracing::debug!(uid = want.0, gid = want.1, "chown refused to an unprivileged server; keeping own ids");
            Ok(())
        }
        Err(e) => Err(e),
    }
}

fn copy_xattrs(src_root: BorrowedFd<'_>, src: &[u8], dst_root: BorrowedFd<'_>, dst: &[u8]) -> io::Result<()> {
    let sp = sys::xattr_path(src_root, src)?;
    let attrs = sys::all_xattrs(&sp)?;
    if attrs.is_empty() {
        return Ok(());
    }
    let dp = sys::xattr_path(dst_root, dst)?;
    for (name, value) in attrs {
        if let Err(e) = sys::setxattr(&dp, &name, &value, 0) {
            match e.raw_os_error() {
                Some(libc::EPERM) | Some(libc::ENOTSUP) | Some(libc::EACCES) | Some(libc::EINVAL) => {
                    tracing::debug!(name = ?name, error = %e, "xattr not copied up");
                }
                _ => return Err(e),
            }
        }
    }
    Ok(())
}

/// Copy the bytes of `src` into `dst` (both regular files), keeping holes.
pub fn copy_data(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, size: u64) -> io::Result<()> {
    if size == 0 {
        return Ok(());
    }
    if sys::ficlone(dst, src).is_ok() {
        return Ok(());
    }
    let mut off: u64 = 0;
    while off < size {
        let data = match sys::lseek(src, off as i64, libc::SEEK_DATA) {
            Ok(d) => d as u64,
            Err(e) if e.raw_os_error() == Some(libc::ENXIO) => break,
            Err(e) if e.raw_os_error() == Some(libc::EINVAL) => off,
            Err(e) => return Err(e),
        };
        let hole = match sys::lseek(src, data as i64, libc::SEEK_HOLE) {
            Ok(h) => (h as u64).min(size),
            Err(_) => size,
        };
        copy_range(src, dst, data, hole.saturating_sub(data))?;
        off = hole.max(data + 1);
    }
    sys::ftruncate(dst, size)
}

fn copy_range(src: BorrowedFd<'_>, dst: BorrowedFd<'_>, start: u64, len: u64) -> io::Result<()> {
    let mut done = 0u64;
    let mut use_cfr = true;
    let mut buf = Vec::new();
    while done < len {
        let chunk = (len - done).min(1 << 30) as usize;
        if use_cfr {
            let mut soff = (start + done) as libc::loff_t;
            let mut doff = soff;
            match sys::copy_file_range(src, &mut soff, dst, &mut doff, chunk) {
                Ok(0) => return Ok(()), // source shrank
                Ok(n) => {
                    done += n as u64;
                    continue;
                }
                Err(e) => match e.raw_os_error() {
                    Some(libc::EXDEV) | Some(libc::ENOSYS) | Some(libc::EINVAL) | Some(libc::EOPNOTSUPP) => use_cfr = false,
                    _ => return Err(e),
                },
            }
        }
        if buf.is_empty() {
            buf = vec![0u8; 1 << 20];
        }
        let want = chunk.min(buf.len());
        let n = sys::pread(src, &mut buf[..want], start + done)?;
        if n == 0 {
            return Ok(());
        }
        let mut w = 0;
        while w < n {
            w += sys::pwrite(dst, &buf[w..n], start + done + w as u64)?;
        }
        done += n as u64;
    }
    Ok(())
}

/// Build a copy of `src_layer/path` at `work/tmp`. Returns nothing; the
/// caller renames or cleans up.
fn build(stack: &Stack, src_layer: Layer, path: &[u8], st: &libc::stat, tmp: &[u8], with_data: bool, priv_: Privilege) -> io::Result<()> {
    let src_root = stack.fd(src_layer);
    let work = stack.work();
    let fmt = st.st_mode & libc::S_IFMT;
    let perm = st.st_mode & 0o7777;
    let owner = (st.st_uid, st.st_gid);
    let me = (sys::euid(), sys::egid());
    match fmt {
        libc::S_IFREG => {
            let dst = sys::openat(work, tmp, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o600)?;
            if with_data && st.st_size > 0 {
                let src = as_owner(priv_, src_root, path, 0o400, || sys::openat(src_root, path, libc::O_RDONLY | libc::O_NOFOLLOW, 0))?;
                copy_data(src.as_fd(), dst.as_fd(), st.st_size as u64)?;
            }
            chown_lenient(priv_, sys::fchown(dst.as_fd(), owner.0, owner.1), owner, me)?;
            sys::fchmod(dst.as_fd(), perm)?;
            copy_xattrs(src_root, path, work, tmp)?;
        }
        libc::S_IFDIR => {
            // the final mode is set once in place: moving a directory
            // needs write access to it (its ".." changes)
            sys::mkdirat(work, tmp, 0o700)?;
            chown_lenient(priv_, sys::fchownat(work, tmp, owner.0, owner.1), owner, me)?;
            if priv_.root {
                sys::fchmodat(work, tmp, perm)?;
            }
            copy_xattrs(src_root, path, work, tmp)?;
        }
        libc::S_IFLNK => {
            let target = sys::readlinkat(src_root, path)?;
            sys::symlinkat(&target, work, tmp)?;
            chown_lenient(priv_, sys::fchownat(work, tmp, owner.0, owner.1), owner, me)?;
            copy_xattrs(src_root, path, work, tmp)?;
        }
        _ => {
            sys::mknodat(work, tmp, st.st_mode, st.st_rdev)?;
            chown_lenient(priv_, sys::fchownat(work, tmp, owner.0, owner.1), owner, me)?;
            sys::fchmodat(work, tmp, perm)?;
        }
    }
    sys::utimensat(work, tmp, &sys::times_of(st))
}

/// Remove a temporary entry left by a failed copy (best effort).
pub fn discard(work: BorrowedFd<'_>, tmp: &[u8]) {
    if sys::unlinkat(work, tmp, 0).is_err() {
        let _ = sys::unlinkat(work, tmp, libc::AT_REMOVEDIR);
    }
}

/// Copy the entry at `path` from `src_layer` to the same path in the
/// upper, whose parent directory must already exist. A directory is
/// copied without its children. Returns the stat of the new upper entry.
pub fn copy_entry(stack: &Stack, src_layer: Layer, path: &[u8], with_data: bool, priv_: Privilege) -> io::Result<libc::stat> {
    let st = sys::fstatat(stack.fd(src_layer), path)?;
    let tmp = temp_name();
    if let Err(e) = build(stack, src_layer, path, &st, &tmp, with_data, priv_) {
        discard(stack.work(), &tmp);
        return Err(e);
    }
    if let Err(e) = as_owner(priv_, stack.upper(), sys::split(path).0, 0o300, || place(stack, &tmp, path)) {
        discard(stack.work(), &tmp);
        return Err(e);
    }
    if !priv_.root && st.st_mode & libc::S_IFMT == libc::S_IFDIR {
        sys::fchmodat(stack.upper(), path, st.st_mode & 0o7777)?;
        sys::utimensat(stack.upper(), path, &sys::times_of(&st))?;
    }
    sys::fstatat(stack.upper(), path)
}

/// Rename `work/tmp` to `upper/path`, keeping the times of the upper parent.
pub fn place(stack: &Stack, tmp: &[u8], path: &[u8]) -> io::Result<()> {
    let (parent, _) = sys::split(path);
    let pst = sys::fstatat(stack.upper(), parent)?;
    sys::renameat2(stack.work(), tmp, stack.upper(), path, libc::RENAME_NOREPLACE)?;
    restore_times(stack.upper(), parent, &pst);
    Ok(())
}

/// Put back the times a directory had before an internal change.
pub fn restore_times(root: BorrowedFd<'_>, dir: &[u8], st: &libc::stat) {
    if let Err(e) = sys::utimensat(root, dir, &sys::times_of(st)) {
        tracing::debug!(dir = ?String::from_utf8_lossy(dir), error = %e, "cannot restore directory times");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    #[test]
    fn copy_keeps_data_mode_times_and_holes() {
        let t = tempfile::tempdir().unwrap();
        let (l, u, w) = (t.path().join("l"), t.path().join("u"), t.path().join("w"));
        for d in [&l, &u, &w] {
            fs::create_dir_all(d).unwrap();
        }
        fs::create_dir_all(l.join("d")).unwrap();
        fs::create_dir_all(u.join("d")).unwrap();
        let f = fs::File::create(l.join("d/sparse")).unwrap();
        f.set_len(64 << 20).unwrap();
        use std::os::unix::fs::FileExt;
        f.write_all_at(b"tail", (64 << 20) - 4).unwrap();
        fs::set_permissions(l.join("d/sparse"), fs::Permissions::from_mode(0o751)).unwrap();
        let stack = Stack::open(std::slice::from_ref(&l), Some(&u), Some(&w)).unwrap();
        let before = fs::metadata(u.join("d")).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let st = copy_entry(&stack, Layer::Lower(0), b"d/sparse", true, Privilege { root: sys::euid() == 0 }).unwrap();
        let src = fs::metadata(l.join("d/sparse")).unwrap();
        let dst = fs::metadata(u.join("d/sparse")).unwrap();
        assert_eq!(dst.len(), 64 << 20);
        assert_eq!(st.st_mode & 0o7777, 0o751);
        assert_eq!(dst.mtime(), src.mtime());
        assert_eq!(dst.mtime_nsec(), src.mtime_nsec());
        assert!(dst.blocks() < 1024, "holes stay holes: {} blocks", dst.blocks());
        assert_eq!(&fs::read(u.join("d/sparse")).unwrap()[(64 << 20) - 4..], b"tail");
        let after = fs::metadata(u.join("d")).unwrap();
        assert_eq!((after.mtime(), after.mtime_nsec()), (before.mtime(), before.mtime_nsec()), "parent times restored");
        assert_eq!(fs::read_dir(&w).unwrap().count(), 0, "nothing left in work");
    }
}
