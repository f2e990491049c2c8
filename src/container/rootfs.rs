//! The container's private root filesystem (until the FUSE overlay lands).
//!
//! The image's unpacked layers are merged bottom-up into
//! `containers/<id>/rootfs`, applying OCI whiteouts (`burrow_fs::whiteout`)
//! as each layer is laid over the ones below. Regular files are copied with
//! `std::fs::copy`, which uses `copy_file_range(2)` (and so reflinks on
//! filesystems that share extents); hardlinks inside a layer stay hardlinks.
//! Owners, modes, times and extended attributes are kept; an owner
//! translation (`keep-id` containers see burrow's ids through a nested map)
//! is applied as files are created. Runs inside burrow's user namespace,
//! where container root may create files of every mapped owner.

use std::collections::HashMap;
use std::ffi::OsStr;
use std::fs;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use burrow_fs::whiteout::{self, Kind};
use nix::sys::stat::{utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::fcntl::AtFlags;
use nix::unistd::{fchownat, mkfifo, Gid, Uid};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot build the container root at {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot set owner or times of {path}: {source}")]
    Meta { path: PathBuf, source: nix::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> Error + '_ {
    move |source| Error::Io { path: path.to_path_buf(), source }
}

/// Maps an owner as stored in the layers to the owner to give the copy.
pub type OwnerMap<'a> = &'a dyn Fn(u32, u32) -> (u32, u32);

/// Merge `layers` (bottom first) into `dest`, which must not exist yet.
pub fn build(layers: &[PathBuf], dest: &Path, owners: OwnerMap<'_>) -> Result<()> {
    fs::create_dir(dest).map_err(io(dest))?;
    for layer in layers {
        let mut links = HashMap::new();
        merge_dir(layer, dest, owners, &mut links)?;
        copy_meta(layer, dest, owners)?;
    }
    Ok(())
}

/// Lay the directory `src` of a layer over `dst` of the merged tree.
fn merge_dir(src: &Path, dst: &Path, owners: OwnerMap<'_>, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    let mut entries: Vec<_> = fs::read_dir(src)
        .map_err(io(src))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<std::io::Result<_>>()
        .map_err(io(src))?;
    // Opaque markers and whiteouts first, so they hide only lower content.
    entries.sort_by_key(|n| whiteout::classify(n) == Kind::Normal);
    for name in entries {
        match whiteout::classify(&name) {
            Kind::Opaque => clear_dir(dst)?,
            Kind::Whiteout(target) => remove_any(&dst.join(target))?,
            Kind::Normal => merge_entry(&src.join(&name), &dst.join(&name), owners, links)?,
        }
    }
    Ok(())
}

fn merge_entry(src: &Path, dst: &Path, owners: OwnerMap<'_>, links: &mut HashMap<(u64, u64), PathBuf>) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io(src))?;
    let existing = fs::symlink_metadata(dst).ok();
    let ft = meta.file_type();
    if let Some(old) = &existing {
        if !(ft.is_dir() && old.is_dir()) {
            remove_any(dst)?;
        }
    }
    if ft.is_dir() {
        if existing.as_ref().is_none_or(|m| !m.is_dir()) {
            fs::create_dir(dst).map_err(io(dst))?;
        }
        merge_dir(src, dst, owners, links)?;
        return copy_meta(src, dst, owners);
    }
    if meta.nlink() > 1 {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            return fs::hard_link(first, dst).map_err(io(dst));
        }
        links.insert((meta.dev(), meta.ino()), dst.to_path_buf());
    }
    if ft.is_symlink() {
        let target = fs::read_link(src).map_err(io(src))?;
        symlink(&target, dst).map_err(io(dst))?;
    } else if ft.is_file() {
        fs::copy(src, dst).map_err(io(dst))?;
    } else if SFlag::from_bits_truncate(meta.mode() & SFlag::S_IFMT.bits()) == SFlag::S_IFIFO {
        mkfifo(dst, Mode::from_bits_truncate(0o600)).map_err(|e| Error::Meta { path: dst.into(), source: e })?;
    } else {
        // Sockets and devices cannot be made rootless; unpack already
        // recorded devices as plain files, so anything else is skipped.
        tracing::debug!(path = %src.display(), "skipping special file");
        return Ok(());
    }
    copy_meta(src, dst, owners)
}

/// Give `dst` the owner, mode, extended attributes and times of `src`.
fn copy_meta(src: &Path, dst: &Path, owners: OwnerMap<'_>) -> Result<()> {
    let meta = fs::symlink_metadata(src).map_err(io(src))?;
    let (uid, gid) = owners(meta.uid(), meta.gid());
    let meta_err = |source| Error::Meta { path: dst.to_path_buf(), source };
    let chown = |u: u32, g: u32| {
        fchownat(None, dst, Some(Uid::from_raw(u)), Some(Gid::from_raw(g)), AtFlags::AT_SYMLINK_NOFOLLOW)
    };
    match chown(uid, gid) {
        // An owner this namespace does not map (single-id mode) becomes
        // root, as unpacking did.
        Err(nix::errno::Errno::EINVAL) => chown(0, 0).map_err(meta_err)?,
        other => other.map_err(meta_err)?,
    }
    let is_link = meta.file_type().is_symlink();
    if !is_link {
        fs::set_permissions(dst, fs::Permissions::from_mode(meta.mode() & 0o7777)).map_err(io(dst))?;
        copy_xattrs(src, dst);
    }
    let atime = TimeSpec::new(meta.atime(), meta.atime_nsec());
    let mtime = TimeSpec::new(meta.mtime(), meta.mtime_nsec());
    utimensat(None, dst, &atime, &mtime, UtimensatFlags::NoFollowSymlink).map_err(meta_err)
}

/// Copy extended attributes; those the host refuses are logged, not fatal
/// (a `trusted.*` attribute cannot be set rootless).
fn copy_xattrs(src: &Path, dst: &Path) {
    let Ok(names) = list_xattrs(src) else { return };
    for name in names {
        let c_src = cpath(src);
        let c_dst = cpath(dst);
        let mut buf = vec![0u8; 65536];
        // SAFETY: paths and names are NUL-terminated, buf is valid for its length.
        let n = unsafe { libc::lgetxattr(c_src.as_ptr(), name.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if n < 0 {
            continue;
        }
        // SAFETY: as above; n bytes of buf are initialised.
        let r = unsafe { libc::lsetxattr(c_dst.as_ptr(), name.as_ptr(), buf.as_ptr().cast(), n as usize, 0) };
        if r != 0 {
            tracing::debug!(path = %dst.display(), name = ?name, err = %std::io::Error::last_os_error(), "xattr not copied");
        }
    }
}

fn cpath(p: &Path) -> std::ffi::CString {
    std::ffi::CString::new(p.as_os_str().as_bytes()).unwrap_or_default()
}

fn list_xattrs(p: &Path) -> std::io::Result<Vec<std::ffi::CString>> {
    let c = cpath(p);
    let mut buf = vec![0u8; 65536];
    // SAFETY: c is NUL-terminated and buf valid for its length.
    let n = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    if n < 0 {
        return Err(std::io::Error::last_os_error());
    }
    buf.truncate(n as usize);
    Ok(buf
        .split(|b| *b == 0)
        .filter(|s| !s.is_empty())
        .filter_map(|s| std::ffi::CString::new(s).ok())
        .collect())
}

fn clear_dir(dir: &Path) -> Result<()> {
    for e in fs::read_dir(dir).map_err(io(dir))? {
        let e = e.map_err(io(dir))?;
        remove_any(&e.path())?;
    }
    Ok(())
}

/// Remove a file or a whole tree; a missing path is fine.
pub fn remove_any(path: &Path) -> Result<()> {
    match fs::symlink_metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(Error::Io { path: path.into(), source: e }),
        Ok(m) if m.is_dir() => fs::remove_dir_all(path).map_err(io(path)),
        Ok(_) => fs::remove_file(path).map_err(io(path)),
    }
}

/// True for a name the merged tree must never show.
pub fn is_marker(name: &OsStr) -> bool {
    whiteout::classify(name) != Kind::Normal
}

#[cfg(test)]
mod tests {
    use super::*;

    fn same(u: u32, g: u32) -> (u32, u32) {
        (u, g)
    }

    #[test]
    fn upper_layers_win_and_whiteouts_hide() {
        let t = tempfile::tempdir().unwrap();
        let (l0, l1, dest) = (t.path().join("l0"), t.path().join("l1"), t.path().join("root"));
        fs::create_dir_all(l0.join("etc")).unwrap();
        fs::create_dir_all(l0.join("opt/old")).unwrap();
        fs::write(l0.join("etc/a"), "lower").unwrap();
        fs::write(l0.join("etc/gone"), "x").unwrap();
        fs::write(l0.join("opt/old/f"), "x").unwrap();
        fs::hard_link(l0.join("etc/a"), l0.join("etc/a-link")).unwrap();
        fs::create_dir_all(l1.join("etc")).unwrap();
        fs::create_dir_all(l1.join("opt")).unwrap();
        fs::write(l1.join("etc/a"), "upper").unwrap();
        fs::write(l1.join("etc/.wh.gone"), "").unwrap();
        fs::write(l1.join("opt/.wh..wh..opq"), "").unwrap();
        fs::write(l1.join("opt/new"), "n").unwrap();
        symlink("a", l1.join("etc/link")).unwrap();
        build(&[l0, l1], &dest, &same).unwrap();
        assert_eq!(fs::read_to_string(dest.join("etc/a")).unwrap(), "upper");
        assert_eq!(fs::read_to_string(dest.join("etc/a-link")).unwrap(), "lower");
        assert!(!dest.join("etc/gone").exists());
        assert!(!dest.join("etc/.wh.gone").exists());
        assert!(!dest.join("opt/old").exists());
        assert!(!dest.join("opt/.wh..wh..opq").exists());
        assert!(dest.join("opt/new").exists());
        assert_eq!(fs::read_link(dest.join("etc/link")).unwrap(), PathBuf::from("a"));
    }

    #[test]
    fn hardlinks_and_modes_survive() {
        let t = tempfile::tempdir().unwrap();
        let (l0, dest) = (t.path().join("l0"), t.path().join("root"));
        fs::create_dir_all(l0.join("bin")).unwrap();
        fs::write(l0.join("bin/tool"), "#!").unwrap();
        fs::set_permissions(l0.join("bin/tool"), fs::Permissions::from_mode(0o751)).unwrap();
        fs::hard_link(l0.join("bin/tool"), l0.join("bin/alias")).unwrap();
        build(&[l0], &dest, &same).unwrap();
        let a = fs::metadata(dest.join("bin/tool")).unwrap();
        let b = fs::metadata(dest.join("bin/alias")).unwrap();
        assert_eq!(a.ino(), b.ino());
        assert_eq!(a.mode() & 0o7777, 0o751);
    }
}
