//! The fast interim root: the kernel's overlayfs inside the container's
//! user namespace, until burrow-fs serves every root (issue 3).
//!
//! Copying an image into a private root creates one inode per file, and
//! inode creation is what rootless hosts make slow (about 0.3 ms each on
//! ext4 here, so 80 ms for a busybox image). Where the kernel allows an
//! overlay mount in a user namespace (Linux 5.11 and later, with the
//! `userxattr` option), the container's init mounts the image's layers as
//! read-only lowers with a private upper directory instead, which costs no
//! copy at all. The overlay is used only when it means the same as the OCI
//! rules: no keep-id owner translation and no OCI whiteout or opaque
//! marker in any layer (overlayfs has its own whiteout format). Otherwise,
//! and when the probe fails, burrow falls back to the private copy.
//!
//! The probe runs once per kernel release: a forked child unshares a mount
//! namespace, mounts a tiny overlay and writes through it; the answer is
//! cached in the runtime directory.

use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::mount::{mount, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::{fork, ForkResult};

use burrow_fs::whiteout::{self, Kind};

/// The mount the container's init makes at its root.
#[derive(Debug, Clone)]
pub struct OverlayMount {
    /// Lower layers, topmost first (overlayfs's order).
    pub lowers: Vec<PathBuf>,
    pub upper: PathBuf,
    pub work: PathBuf,
}

impl OverlayMount {
    /// The mount data, or `None` when a path cannot be written in it
    /// (overlayfs separates with `:` and `,`).
    pub fn data(&self) -> Option<String> {
        let ok = |p: &Path| p.to_str().filter(|s| !s.contains([',', ':', '\\'])).map(str::to_owned);
        let lowers: Option<Vec<String>> = self.lowers.iter().map(|p| ok(p)).collect();
        Some(format!(
            "lowerdir={},upperdir={},workdir={},userxattr",
            lowers?.join(":"),
            ok(&self.upper)?,
            ok(&self.work)?
        ))
    }

    /// Mount at `target` (in the container's mount namespace).
    pub fn mount_at(&self, target: &Path) -> Result<(), String> {
        let data = self.data().ok_or("a layer path cannot be given to overlayfs")?;
        mount(Some("overlay"), target, Some("overlay"), MsFlags::empty(), Some(data.as_str()))
            .map_err(|e| format!("cannot mount the overlay root: {e}"))
    }
}

/// True if any layer holds an OCI whiteout or opaque marker. Reads
/// directory entries only (their d_type), never stats a file.
pub fn has_markers(layers: &[PathBuf]) -> bool {
    fn walk(dir: &Path) -> bool {
        let Ok(rd) = fs::read_dir(dir) else { return true };
        for e in rd.flatten() {
            if whiteout::classify(&e.file_name()) != Kind::Normal {
                return true;
            }
            if e.file_type().is_ok_and(|t| t.is_dir()) && walk(&e.path()) {
                return true;
            }
        }
        false
    }
    layers.iter().any(|l| walk(l))
}

/// Whether overlayfs works in burrow's user namespace on this kernel
/// (probed once, cached under `runtime`). `BURROW_ROOTFS=copy` turns the
/// overlay off.
pub fn usable(runtime: &Path) -> bool {
    if std::env::var("BURROW_ROOTFS").is_ok_and(|v| v == "copy") {
        return false;
    }
    let release = nix::sys::utsname::uname().map(|u| u.release().as_bytes().to_vec()).unwrap_or_default();
    let cache = runtime.join("overlay-probe");
    if let Ok(text) = fs::read(&cache) {
        if let Some(rest) = text.strip_prefix(release.as_slice()) {
            return rest == b" yes";
        }
    }
    let ok = probe(runtime);
    let _ = fs::create_dir_all(runtime);
    let tmp = runtime.join(format!("overlay-probe.{}", std::process::id()));
    let mut line = release;
    line.extend_from_slice(if ok { b" yes" } else { b" no" });
    if fs::write(&tmp, line).is_ok() {
        let _ = fs::rename(&tmp, &cache);
    }
    ok
}

fn probe(runtime: &Path) -> bool {
    let base = runtime.join(format!("overlay-probe-dir.{}", std::process::id()));
    let dirs = ["lower", "upper", "work", "merged"].map(|d| base.join(d));
    if dirs.iter().any(|d| fs::create_dir_all(d).is_err()) {
        let _ = fs::remove_dir_all(&base);
        return false;
    }
    let m = OverlayMount { lowers: vec![dirs[0].clone()], upper: dirs[1].clone(), work: dirs[2].clone() };
    // SAFETY: single-threaded here; the child only mounts, writes and exits.
    let ok = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            let worked = unshare(CloneFlags::CLONE_NEWNS).is_ok()
                && mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).is_ok()
                && m.mount_at(&dirs[3]).is_ok()
                && fs::write(dirs[3].join("probe"), b"x").is_ok();
            // SAFETY: leave the child without unwinding.
            unsafe { libc::_exit(if worked { 0 } else { 1 }) }
        }
        Ok(ForkResult::Parent { child }) => matches!(waitpid(child, None), Ok(WaitStatus::Exited(_, 0))),
        Err(_) => false,
    };
    let _ = fs::remove_dir_all(&base);
    ok
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_data_orders_and_refuses_separators() {
        let m = OverlayMount {
            lowers: vec!["/s/l2".into(), "/s/l1".into()],
            upper: "/s/c/upper".into(),
            work: "/s/c/work".into(),
        };
        assert_eq!(m.data().unwrap(), "lowerdir=/s/l2:/s/l1,upperdir=/s/c/upper,workdir=/s/c/work,userxattr");
        let bad = OverlayMount { lowers: vec!["/a:b".into()], ..m };
        assert!(bad.data().is_none());
    }

    #[test]
    fn finds_markers_at_any_depth() {
        let t = tempfile::tempdir().unwrap();
        fs::create_dir_all(t.path().join("a/b")).unwrap();
        fs::write(t.path().join("a/b/file"), "").unwrap();
        assert!(!has_markers(&[t.path().to_path_buf()]));
        fs::write(t.path().join("a/b/.wh.gone"), "").unwrap();
        assert!(has_markers(&[t.path().to_path_buf()]));
    }
}
