//! The container's root filesystem on disk, before burrow-fs serves it.
//!
//! Every container root is a burrow-fs overlay (crate `burrow-fs`): the
//! image's unpacked layers read-only underneath, the container's own
//! `upper/` on top, nothing copied. This module lays out the directories
//! the overlay needs in `containers/<id>/`:
//!
//! - `upper/` and `work/` (the writable layer and its scratch space; the
//!   upper's root takes the image root's mode, owner and times, since the
//!   topmost layer decides the attributes of a merged directory);
//! - `init/`, a small read-only layer just above the image (docker's "init
//!   layer"): empty files at `/etc/hosts`, `/etc/hostname` and
//!   `/etc/resolv.conf` and the directories `/proc`, `/sys`, `/dev` when
//!   the image lacks them, so the mount points burrow binds over exist
//!   without writing into the upper. `burrow diff` and `burrow commit`
//!   therefore see only what the container itself changed. Directories
//!   the init layer must create on the way (`/etc`) copy the image's
//!   attributes, since they sit above the image's.
//! - `rootfs/`, the mount point.
//!
//! It also reads single files of the merged image before anything is
//! mounted (`/etc/passwd` for `--user`), following the OCI whiteout rules
//! and resolving symlinks inside the layer only (openat2 RESOLVE_IN_ROOT),
//! so an image cannot make burrow read a host file.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::AtFlags;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use crate::image::merged::find;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot prepare the container root at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot set owner or times of {path}: {source}")]
    Meta { path: PathBuf, source: nix::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// The files burrow binds over in every container.
pub const BOUND_FILES: [&str; 3] = ["etc/hosts", "etc/hostname", "etc/resolv.conf"];
/// The directories burrow mounts over in every container.
pub const MOUNT_DIRS: [&str; 3] = ["proc", "sys", "dev"];

/// Where a container's root lives.
#[derive(Debug, Clone)]
pub struct Layout {
    /// The mount point.
    pub rootfs: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
    /// Every read-only layer, topmost first: the init layer, then the
    /// image's layers.
    pub lowers: Vec<PathBuf>,
}

impl Layout {
    pub fn of(dir: &Path, image_layers_bottom_first: &[PathBuf]) -> Layout {
        let mut lowers = vec![dir.join("init")];
        lowers.extend(image_layers_bottom_first.iter().rev().cloned());
        Layout { rootfs: dir.join("rootfs"), upper: dir.join("upper"), work: dir.join("work"), lowers }
    }

    /// The image's layers, topmost first (without the init layer).
    pub fn image_layers(&self) -> &[PathBuf] {
        &self.lowers[1..]
    }

    /// Create the directories and the init layer.
    pub fn create(&self) -> Result<()> {
        let init = &self.lowers[0];
        for d in [&self.rootfs, &self.upper, &self.work, init] {
            fs::create_dir(d).map_err(io(d))?;
        }
        let image = self.image_layers();
        if let Some(top) = image.first() {
            copy_attrs(top, &self.upper)?;
            copy_attrs(top, init)?;
        }
        for name in MOUNT_DIRS {
            if find(image, name).is_none() {
                let d = init.join(name);
                fs::create_dir(&d).map_err(io(&d))?;
                fs::set_permissions(&d, fs::Permissions::from_mode(0o755)).map_err(io(&d))?;
            }
        }
        for file in BOUND_FILES {
            let parent = Path::new(file).parent().unwrap_or(Path::new(""));
            let dir = init.join(parent);
            if !dir.exists() {
                fs::create_dir_all(&dir).map_err(io(&dir))?;
                match find(image, parent.as_os_str().to_str().unwrap_or("")) {
                    Some(src) if src.is_dir() => copy_attrs(&src, &dir)?,
                    _ => fs::set_permissions(&dir, fs::Permissions::from_mode(0o755)).map_err(io(&dir))?,
                }
            }
            let f = init.join(file);
            fs::write(&f, b"").map_err(io(&f))?;
            fs::set_permissions(&f, fs::Permissions::from_mode(0o644)).map_err(io(&f))?;
        }
        // The init layer's directories keep the times copied above.
        if let Some(src) = find(image, "etc").filter(|p| p.is_dir()) {
            copy_attrs(&src, &init.join("etc"))?;
        }
        Ok(())
    }
}

/// Give `dst` the mode, owner and times of `src`.
fn copy_attrs(src: &Path, dst: &Path) -> Result<()> {
    let m = fs::symlink_metadata(src).map_err(io(src))?;
    let meta = |source| Error::Meta { path: dst.to_path_buf(), source };
    fchownat(None, dst, Some(Uid::from_raw(m.uid())), Some(Gid::from_raw(m.gid())), AtFlags::AT_SYMLINK_NOFOLLOW).map_err(meta)?;
    fs::set_permissions(dst, fs::Permissions::from_mode(m.mode() & 0o7777)).map_err(io(dst))?;
    let at = TimeSpec::new(m.atime(), m.atime_nsec());
    let mt = TimeSpec::new(m.mtime(), m.mtime_nsec());
    utimensat(None, dst, &at, &mt, UtimensatFlags::NoFollowSymlink).map_err(meta)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::image::merged::read_merged;

    fn layers(t: &Path) -> (PathBuf, PathBuf) {
        let (l0, l1) = (t.join("l0"), t.join("l1"));
        fs::create_dir_all(l0.join("etc")).unwrap();
        fs::create_dir_all(l0.join("opt/old")).unwrap();
        fs::write(l0.join("etc/passwd"), "lower").unwrap();
        fs::write(l0.join("etc/group"), "g").unwrap();
        fs::write(l0.join("etc/gone"), "x").unwrap();
        fs::write(l0.join("opt/old/f"), "x").unwrap();
        fs::create_dir_all(l1.join("etc")).unwrap();
        fs::create_dir_all(l1.join("opt")).unwrap();
        fs::write(l1.join("etc/passwd"), "upper").unwrap();
        fs::write(l1.join("etc/.wh.gone"), "").unwrap();
        fs::write(l1.join("opt/.wh..wh..opq"), "").unwrap();
        (l0, l1)
    }

    #[test]
    fn merged_reads_follow_the_layer_rules() {
        let t = tempfile::tempdir().unwrap();
        let (l0, l1) = layers(t.path());
        let top_first = [l1.clone(), l0.clone()];
        assert_eq!(read_merged(&top_first, "etc/passwd"), "upper");
        assert_eq!(read_merged(&top_first, "etc/group"), "g");
        assert_eq!(read_merged(&top_first, "etc/gone"), "");
        assert!(find(&top_first, "opt/old/f").is_none(), "hidden by the opaque directory");
        assert!(find(&top_first, "opt").is_some());
        assert_eq!(find(&top_first, "etc/group"), Some(l0.join("etc/group")));
    }

    #[test]
    fn reads_do_not_leave_the_layer() {
        let t = tempfile::tempdir().unwrap();
        let l = t.path().join("l");
        fs::create_dir_all(l.join("etc")).unwrap();
        fs::write(t.path().join("secret"), "host").unwrap();
        std::os::unix::fs::symlink("../../secret", l.join("etc/passwd")).unwrap();
        assert_eq!(read_merged(&[l], "etc/passwd"), "");
    }

    #[test]
    fn the_init_layer_holds_mount_points_with_the_images_attributes() {
        let t = tempfile::tempdir().unwrap();
        let (l0, l1) = layers(t.path());
        fs::set_permissions(l1.join("etc"), fs::Permissions::from_mode(0o751)).unwrap();
        let dir = t.path().join("c");
        fs::create_dir(&dir).unwrap();
        let layout = Layout::of(&dir, &[l0, l1]);
        layout.create().unwrap();
        let init = dir.join("init");
        for f in BOUND_FILES {
            assert_eq!(fs::read(init.join(f)).unwrap(), b"");
        }
        for d in MOUNT_DIRS {
            assert!(init.join(d).is_dir(), "{d}");
        }
        assert_eq!(fs::metadata(init.join("etc")).unwrap().mode() & 0o7777, 0o751);
        assert_eq!(layout.lowers[0], init);
        assert!(dir.join("upper").is_dir() && dir.join("work").is_dir() && dir.join("rootfs").is_dir());
    }
}
