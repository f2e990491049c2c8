//! The container's mounts, made inside its new mount namespace.
//!
//! Order: make every mount private (nothing propagates back to the host);
//! the root is then mounted (burrow-fs, `fuse_root`) and already a mount
//! point for pivot_root; mount
//! /proc, a read-only /sys, a fresh /dev (tmpfs with the host's harmless
//! device nodes bound in, since mknod is not allowed in a user namespace,
//! a private devpts, shm and mqueue), the container's own mounts
//! (`volumes`), bind burrow's generated /etc files,
//! then pivot_root and detach the old root. After the pivot come the paths
//! docker masks or makes read-only in /proc and /sys, and finally the
//! read-only remount of the root for `--read-only`. Mounts a user namespace
//! locks (nosuid, nodev, noexec of an inherited mount) must be repeated in
//! every remount, which `remount_ro` reads back from statvfs(3).

use std::fs;
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::statvfs::{statvfs, FsFlags};

use super::setup_error::{Result, SetupError};
use super::FileMount;

type R = Result<()>;

fn mnt(src: Option<&str>, target: &Path, fstype: Option<&str>, flags: MsFlags, data: Option<&str>) -> R {
    mount(src, target, fstype, flags, data).map_err(|source| SetupError::Mount {
        what: fstype.or(src).unwrap_or("-").to_string(),
        target: target.to_path_buf(),
        source,
    })
}

const NOSUID_NODEV_NOEXEC: MsFlags = MsFlags::MS_NOSUID.union(MsFlags::MS_NODEV).union(MsFlags::MS_NOEXEC);

/// Host device nodes every container gets (bound, not created).
const DEVICES: [&str; 6] = ["null", "zero", "full", "random", "urandom", "tty"];

/// Make every mount private: nothing propagates back to the host.
pub fn make_private() -> R {
    mnt(None, Path::new("/"), None, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None)
}

/// Everything before pivot_root but the root itself (`root` is already
/// the burrow-fs mount, a mount point of this namespace).
pub fn prepare_root(root: &Path, files: &[FileMount], mounts: &[super::UserMount], devpts_gid: Option<u32>) -> R {
    let proc_dir = ensure_dir(root, "proc")?;
    mnt(Some("proc"), &proc_dir, Some("proc"), NOSUID_NODEV_NOEXEC, None)?;

    let sys = ensure_dir(root, "sys")?;
    let ro = NOSUID_NODEV_NOEXEC | MsFlags::MS_RDONLY;
    if mnt(Some("sysfs"), &sys, Some("sysfs"), ro, None).is_err() {
        // sysfs needs a network namespace owned by our user namespace; when
        // the kernel refuses anyway, a read-only bind of the host's will do.
        mnt(Some("/sys"), &sys, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
        remount_ro(&sys)?;
    }

    let dev = ensure_dir(root, "dev")?;
    mnt(Some("tmpfs"), &dev, Some("tmpfs"), MsFlags::MS_NOSUID | MsFlags::MS_STRICTATIME, Some("mode=755,size=65536k"))?;
    for name in DEVICES {
        let target = dev.join(name);
        fs::write(&target, b"").map_err(|source| SetupError::Create { path: target.clone(), source })?;
        mnt(Some(&format!("/dev/{name}")), &target, None, MsFlags::MS_BIND, None)?;
    }
    for (link, to) in [
        ("fd", "/proc/self/fd"),
        ("stdin", "/proc/self/fd/0"),
        ("stdout", "/proc/self/fd/1"),
        ("stderr", "/proc/self/fd/2"),
        ("ptmx", "pts/ptmx"),
        ("core", "/proc/kcore"),
    ] {
        symlink(to, dev.join(link)).map_err(|source| SetupError::Create { path: Path::new("/dev").join(link), source })?;
    }
    let pts = ensure_dir(&dev, "pts")?;
    let mut pts_opts = String::from("newinstance,ptmxmode=0666,mode=0620");
    if let Some(gid) = devpts_gid {
        pts_opts.push_str(&format!(",gid={gid}"));
    }
    mnt(Some("devpts"), &pts, Some("devpts"), MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC, Some(&pts_opts))?;
    let shm = ensure_dir(&dev, "shm")?;
    mnt(Some("shm"), &shm, Some("tmpfs"), NOSUID_NODEV_NOEXEC, Some("mode=1777,size=65536k"))?;
    let mq = ensure_dir(&dev, "mqueue")?;
    mnt(Some("mqueue"), &mq, Some("mqueue"), NOSUID_NODEV_NOEXEC, None)?;

    // The container's volumes, binds and tmpfs go before burrow's /etc
    // files, so those stay visible over a volume at /etc (as in docker).
    super::volumes::mount_all(root, mounts)?;

    // A file the user mounted at the same place wins (docker skips its own).
    for f in files.iter().filter(|f| !mounts.iter().any(|m| m.target == f.target)) {
        let target = root.join(f.target.trim_start_matches('/'));
        if let Some(parent) = target.parent() {
            fs::create_dir_all(parent).map_err(|source| SetupError::Create { path: parent.to_path_buf(), source })?;
        }
        // A symlink here (Debian's /etc/resolv.conf can be one) would make
        // the bind follow it, possibly out of the root: replace it.
        if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_file()) {
            let _ = fs::remove_file(&target);
        }
        if !target.exists() {
            fs::write(&target, b"").map_err(|source| SetupError::Create { path: target.clone(), source })?;
        }
        mnt(Some(f.source.to_str().unwrap_or("")), &target, None, MsFlags::MS_BIND, None)?;
    }
    Ok(())
}

fn ensure_dir(parent: &Path, name: &str) -> Result<PathBuf> {
    let p = parent.join(name);
    match fs::symlink_metadata(&p) {
        Ok(m) if m.is_dir() => Ok(p),
        Ok(_) => Err(SetupError::NotADirectory { path: p }),
        Err(_) => match fs::create_dir(&p) {
            Ok(()) => Ok(p),
            Err(source) => Err(SetupError::Create { path: p, source }),
        },
    }
}

/// Switch to `root` and detach the old root (pivot_root(2), "new_root and
/// put_old may be the same directory").
pub fn pivot(root: &Path) -> R {
    nix::unistd::chdir(root).map_err(|source| SetupError::Enter { path: root.to_path_buf(), source })?;
    nix::unistd::pivot_root(".", ".").map_err(|source| SetupError::PivotRoot { source })?;
    umount2(".", MntFlags::MNT_DETACH).map_err(|source| SetupError::DetachOldRoot { source })?;
    nix::unistd::chdir("/").map_err(|source| SetupError::Enter { path: PathBuf::from("/"), source })
}

/// /proc and /sys paths docker hides (masked) or freezes (read-only).
const MASKED: [&str; 10] = [
    "/proc/asound",
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/latency_stats",
    "/proc/timer_list",
    "/proc/sched_debug",
    "/proc/scsi",
    "/sys/firmware",
    "/sys/devices/virtual/powercap",
];
const READ_ONLY: [&str; 5] = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];

/// After pivot_root: mask and freeze kernel interfaces, then `--read-only`.
pub fn harden(read_only_root: bool) -> R {
    for p in MASKED {
        let path = Path::new(p);
        match fs::symlink_metadata(path) {
            Ok(m) if m.is_dir() => mnt(Some("tmpfs"), path, Some("tmpfs"), MsFlags::MS_RDONLY, Some("size=0"))?,
            Ok(_) => mnt(Some("/dev/null"), path, None, MsFlags::MS_BIND, None)?,
            Err(_) => {}
        }
    }
    for p in READ_ONLY {
        let path = Path::new(p);
        if path.exists() {
            mnt(Some(p), path, None, MsFlags::MS_BIND | MsFlags::MS_REC, None)?;
            remount_ro(path)?;
        }
    }
    if read_only_root {
        remount_ro(Path::new("/"))?;
    }
    Ok(())
}

/// Remount a bind mount read-only, repeating the flags the kernel locked.
pub(super) fn remount_ro(path: &Path) -> R {
    let st = statvfs(path).map_err(|source| SetupError::Statvfs { path: path.to_path_buf(), source })?;
    let mut flags = MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY;
    for (f, m) in [
        (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
        (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
        (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
        (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
        (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
        (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
    ] {
        if st.flags().contains(f) {
            flags |= m;
        }
    }
    mnt(None, path, None, flags, None)
}

/// Bring up the loopback interface of the new network namespace
/// (netdevice(7): SIOCGIFFLAGS / SIOCSIFFLAGS with IFF_UP).
pub fn loopback_up() -> R {
    // SAFETY: plain socket/ioctl calls on a zeroed ifreq we own.
    unsafe {
        let fd = libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0);
        if fd < 0 {
            return Err(SetupError::Socket { source: std::io::Error::last_os_error() });
        }
        let mut req: libc::ifreq = std::mem::zeroed();
        for (i, b) in b"lo\0".iter().enumerate() {
            req.ifr_name[i] = *b as libc::c_char;
        }
        let mut rc = libc::ioctl(fd, libc::SIOCGIFFLAGS as _, &mut req);
        if rc == 0 {
            req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short;
            rc = libc::ioctl(fd, libc::SIOCSIFFLAGS as _, &req);
        }
        let err = std::io::Error::last_os_error();
        libc::close(fd);
        if rc != 0 {
            return Err(SetupError::Loopback { source: err });
        }
    }
    Ok(())
}
