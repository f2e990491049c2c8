//! The container's own mounts (volumes, binds, tmpfs), made inside its
//! mount namespace before pivot_root.
//!
//! Every target is resolved inside the container's root: from a descriptor
//! of the root, one component at a time, with each symlink of the image
//! read and followed as if the root were `/` (`..` never climbs above
//! it), missing directories (or, for a file bind, an empty file) created
//! on the way, and the final descriptor opened with openat2(2)
//! RESOLVE_IN_ROOT. The mount is then made onto `/proc/self/fd/N` of that
//! descriptor, so an image whose `/data` links to a host path gets the
//! volume inside its root, never over the host's path. A bind source is
//! opened with O_PATH in this mount namespace and must be the very file
//! the CLI checked with the user's permissions (same device and inode).
//! Binds are recursive, and so is read-only (mount_setattr(2), which
//! leaves the flags the kernel locked alone); tmpfs is nosuid,nodev (and
//! noexec for `--tmpfs`, docker's default).

use std::ffi::CString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{open, readlinkat, AtFlags, OFlag};
use nix::mount::{mount, MsFlags};
use nix::sys::stat::{fstat, fstatat, mkdirat, Mode, SFlag};

use super::setup_error::{Result as R, SetupError};
use crate::model::{UserMount, UserMountKind};

fn proc_fd(fd: &OwnedFd) -> String {
    format!("/proc/self/fd/{}", fd.as_raw_fd())
}

fn owned(fd: RawFd) -> OwnedFd {
    // SAFETY: every caller passes a descriptor the kernel just returned.
    unsafe { OwnedFd::from_raw_fd(fd) }
}

/// openat2(2) with RESOLVE_IN_ROOT: `path` resolved as if `root` were `/`.
fn open_in_root(root: &OwnedFd, path: &str, flags: i32) -> nix::Result<OwnedFd> {
    let c = CString::new(if path.is_empty() { "." } else { path }).map_err(|_| Errno::EINVAL)?;
    // SAFETY: open_how is plain data; zero is valid for every field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (flags | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid descriptor, NUL-terminated path, open_how of the given size.
    let fd = unsafe { libc::syscall(libc::SYS_openat2, root.as_raw_fd(), c.as_ptr(), &how, std::mem::size_of::<libc::open_how>()) };
    if fd < 0 {
        return Err(Errno::last());
    }
    Ok(owned(fd as RawFd))
}

/// Resolve `target` inside `root`, creating what is missing (a directory,
/// or an empty file when `dir` is false); returns an O_PATH descriptor.
fn resolve_create(root: &OwnedFd, target: &str, dir: bool) -> R<OwnedFd> {
    let err = |at: &str, source: Errno| SetupError::MountPoint { target: target.to_string(), at: at.to_string(), source };
    let mut todo: Vec<String> = target.split('/').rev().filter(|p| !p.is_empty()).map(str::to_string).collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_str() {
            "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let parent =
            open_in_root(root, &done.join("/"), libc::O_PATH | libc::O_DIRECTORY).map_err(|e| err(&format!("/{}", done.join("/")), e))?;
        let last = todo.is_empty();
        match fstatat(Some(parent.as_raw_fd()), part.as_str(), AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK => {
                links += 1;
                if links > 40 {
                    return Err(SetupError::TooManyLinks { target: target.to_string() });
                }
                let to = readlinkat(Some(parent.as_raw_fd()), part.as_str()).map_err(|e| err(&part, e))?;
                let to = to.to_string_lossy().into_owned();
                if to.starts_with('/') {
                    done.clear();
                }
                todo.extend(to.split('/').rev().filter(|p| !p.is_empty()).map(str::to_string));
            }
            Ok(st) if SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR => done.push(part),
            Ok(_) if last => done.push(part),
            Ok(_) => {
                let at = PathBuf::from(format!("/{}", done.join("/"))).join(&part);
                return Err(SetupError::NotADirectoryOnTheWay { target: target.to_string(), at });
            }
            Err(Errno::ENOENT) => {
                if last && !dir {
                    let fd = nix::fcntl::openat(
                        Some(parent.as_raw_fd()),
                        part.as_str(),
                        OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW,
                        Mode::from_bits_truncate(0o644),
                    )
                    .map_err(|e| err(&part, e))?;
                    drop(owned(fd));
                } else {
                    mkdirat(Some(parent.as_raw_fd()), part.as_str(), Mode::from_bits_truncate(0o755)).map_err(|e| err(&part, e))?;
                }
                done.push(part);
            }
            Err(e) => return Err(err(&part, e)),
        }
    }
    let fd = open_in_root(root, &done.join("/"), libc::O_PATH).map_err(|e| err("open", e))?;
    let st = fstat(fd.as_raw_fd()).map_err(|e| err("stat", e))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFDIR;
    match (dir, is_dir) {
        (true, false) => Err(SetupError::DirOntoFile { target: target.to_string() }),
        (false, true) => Err(SetupError::FileOntoDir { target: target.to_string() }),
        _ => Ok(fd),
    }
}

/// Make a bind read-only with everything mounted under it (docker 25's
/// recursive read-only): mount_setattr(2) with AT_RECURSIVE, which sets
/// only MOUNT_ATTR_RDONLY and so keeps the flags the kernel locked; on a
/// kernel without it (before 5.12), a remount of the top mount.
fn read_only(top: &OwnedFd) -> R<()> {
    #[repr(C)]
    struct MountAttr {
        attr_set: u64,
        attr_clr: u64,
        propagation: u64,
        userns_fd: u64,
    }
    const MOUNT_ATTR_RDONLY: u64 = 0x1;
    let attr = MountAttr { attr_set: MOUNT_ATTR_RDONLY, attr_clr: 0, propagation: 0, userns_fd: 0 };
    // SAFETY: valid descriptor, an empty NUL-terminated path and a
    // mount_attr of the size given.
    let rc = unsafe {
        libc::syscall(
            libc::SYS_mount_setattr,
            top.as_raw_fd(),
            c"".as_ptr(),
            libc::AT_EMPTY_PATH | libc::AT_RECURSIVE,
            &attr,
            std::mem::size_of::<MountAttr>(),
        )
    };
    match rc {
        0 => Ok(()),
        _ if Errno::last() == Errno::ENOSYS => super::mounts::remount_ro(Path::new(&proc_fd(top))),
        _ => Err(SetupError::MountSetattr { source: Errno::last() }),
    }
}

/// Make every mount, in order (parents first), under `root`.
pub fn mount_all(root: &Path, mounts: &[UserMount]) -> R<()> {
    if mounts.is_empty() {
        return Ok(());
    }
    let root_fd = open(root, OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty())
        .map(owned)
        .map_err(|source| SetupError::OpenRoot { path: root.to_path_buf(), source })?;
    for m in mounts {
        match &m.kind {
            UserMountKind::Bind { source, dev, ino, is_dir } => {
                let src = open(source.as_path(), OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
                    .map(owned)
                    .map_err(|e| SetupError::OpenSource { path: source.clone(), source: e })?;
                let st = fstat(src.as_raw_fd()).map_err(|e| SetupError::StatSource { path: source.clone(), source: e })?;
                if st.st_dev != *dev || st.st_ino != *ino {
                    return Err(SetupError::SourceChanged { path: source.clone() });
                }
                let target = resolve_create(&root_fd, &m.target, *is_dir)?;
                mount(
                    Some(proc_fd(&src).as_str()),
                    proc_fd(&target).as_str(),
                    None::<&str>,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None::<&str>,
                )
                .map_err(|e| SetupError::Mount {
                    what: source.display().to_string(),
                    target: PathBuf::from(&m.target),
                    source: e,
                })?;
                if m.read_only {
                    // The descriptor above is the directory under the new
                    // mount; resolve again to reach the mount itself.
                    let top = open_in_root(&root_fd, &m.target, libc::O_PATH)
                        .map_err(|source| SetupError::Reopen { target: m.target.clone(), source })?;
                    read_only(&top).map_err(|e| SetupError::ReadOnly { target: m.target.clone(), source: Box::new(e) })?;
                }
            }
            UserMountKind::Tmpfs { data, noexec } => {
                let target = resolve_create(&root_fd, &m.target, true)?;
                let mut flags = MsFlags::MS_NOSUID | MsFlags::MS_NODEV;
                if *noexec {
                    flags |= MsFlags::MS_NOEXEC;
                }
                if m.read_only {
                    flags |= MsFlags::MS_RDONLY;
                }
                let data = (!data.is_empty()).then_some(data.as_str());
                mount(Some("tmpfs"), proc_fd(&target).as_str(), Some("tmpfs"), flags, data).map_err(|source| SetupError::Mount {
                    what: "a tmpfs".to_string(),
                    target: PathBuf::from(&m.target),
                    source,
                })?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_resolve_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        let outside = t.path().join("outside");
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        std::fs::create_dir_all(&outside).unwrap();
        // a link to an absolute path (a host directory) and one climbing out
        std::os::unix::fs::symlink(&outside, root.join("data")).unwrap();
        std::os::unix::fs::symlink("../../../..", root.join("up")).unwrap();
        let fd = open(&root, OFlag::O_PATH | OFlag::O_DIRECTORY, Mode::empty()).map(owned).unwrap();
        let got = resolve_create(&fd, "/data/x", true).unwrap();
        let inside = root.join(outside.strip_prefix("/").unwrap()).join("x");
        assert!(inside.is_dir(), "created inside the root");
        assert!(!outside.join("x").exists(), "not on the host path");
        assert_eq!(std::fs::read_link(proc_fd(&got)).unwrap(), inside);
        resolve_create(&fd, "/up/etc/f", false).unwrap();
        assert!(root.join("etc/f").is_file());
        assert!(resolve_create(&fd, "/etc/f", true).is_err(), "a file is not a directory");
        assert!(resolve_create(&fd, "/etc/f/sub", true).is_err());
    }
}
