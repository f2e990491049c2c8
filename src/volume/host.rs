//! Checking bind sources with the caller's own permissions.
//!
//! Run *before* `userns::enter`: as root of burrow's user namespace the CLI
//! would pass permission checks on every file owned by an id it maps, so
//! the check uses the plain host user. Each source is opened with O_PATH
//! (following symlinks, as docker does), checked with access(2) on that
//! very descriptor (`/proc/self/fd/N`), and its identity (device, inode)
//! kept: the container's first process opens the path again in its own
//! mount namespace and refuses to mount anything else, so a path swapped
//! after the check does not matter. A missing source of `-v` is created as
//! a directory owned by the user (docker's behaviour); a missing source of
//! `--mount type=bind` is an error.

use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use nix::fcntl::{open, OFlag};
use nix::sys::stat::Mode;
use nix::unistd::{access, AccessFlags};

use super::{Error, Result};
pub use crate::model::volume::CheckedBind;

/// Check (and for `-v`, create) one bind source as the calling user.
pub fn check(path: &Path, create: bool) -> Result<CheckedBind> {
    let fd = match open_path(path) {
        Ok(fd) => fd,
        Err(nix::errno::Errno::ENOENT) if create => {
            std::fs::create_dir_all(path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
            open_path(path).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?
        }
        Err(nix::errno::Errno::ENOENT) => return Err(Error::MissingSource { path: path.to_path_buf() }),
        Err(source) => return Err(Error::Unreadable { path: path.to_path_buf(), source }),
    };
    let proc_path = format!("/proc/self/fd/{}", fd.as_raw_fd());
    let meta = std::fs::metadata(&proc_path).map_err(|source| Error::Io { path: path.to_path_buf(), source })?;
    let mut want = AccessFlags::R_OK;
    if meta.is_dir() {
        want |= AccessFlags::X_OK;
    }
    access(proc_path.as_str(), want).map_err(|source| Error::Unreadable { path: path.to_path_buf(), source })?;
    Ok(CheckedBind { path: path.to_path_buf(), dev: meta.dev(), ino: meta.ino(), is_dir: meta.is_dir() })
}

/// Check every bind source a container will mount: those given and those
/// of its `--volumes-from` containers (`from`: their mounts, as their
/// records keep them). Call before `userns::enter`, on every start (the
/// result is not stored in the record).
pub fn check_all(mounts: &[super::MountRequest], from: &[super::MountPoint]) -> Result<Vec<CheckedBind>> {
    let mut out = Vec::new();
    for m in mounts {
        if let super::MountKind::Bind { source, create } = &m.kind {
            out.push(check(source, *create)?);
        }
    }
    for m in from.iter().filter(|m| m.kind == super::MountType::Bind) {
        out.push(check(Path::new(&m.source), false)?);
    }
    Ok(out)
}

fn open_path(path: &Path) -> nix::Result<OwnedFd> {
    let fd = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())?;
    // SAFETY: open returned a new descriptor we own.
    Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_create_and_identity() {
        let t = tempfile::tempdir().unwrap();
        let made = t.path().join("a/b");
        let c = check(&made, true).unwrap();
        assert!(made.is_dir() && c.is_dir);
        assert_eq!(c.ino, std::fs::metadata(&made).unwrap().ino());
        assert!(matches!(check(&t.path().join("none"), false), Err(Error::MissingSource { .. })));
        let f = t.path().join("f");
        std::fs::write(&f, "x").unwrap();
        assert!(!check(&f, false).unwrap().is_dir);
    }
}
