//! Filling a new volume with the image's content at its mount point.
//!
//! docker copies what the image has at the target into an empty volume the
//! first time it is mounted. burrow reads the image's unpacked layers
//! directly (nothing is mounted yet): the target is resolved in the merged
//! view, following the image's symlinks as if the image root were `/` (a
//! link can never lead out of the layers), and each directory's entries are
//! merged by burrow-fs's own rules (`burrow_fs::Merged`: a `.wh.NAME` hides
//! NAME below, `.wh..wh..opq` the whole directory below, a non-directory
//! everything below it), so the volume gets what the mounted root shows. Files, directories, symlinks and FIFOs are copied
//! with owner, mode and times (the CLI is root in burrow's user namespace,
//! so it may chown to any mapped id); device nodes cannot be made in a user
//! namespace and are skipped; hard links become separate copies.

use std::ffi::{OsStr, OsString};
use std::fs;
use std::os::fd::AsRawFd;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::fcntl::AtFlags;
use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use nix::unistd::{fchownat, Gid, Uid};

use burrow_fs::merged::{Dir, Entry, Merged};

use super::{Error, Result};

/// Resolve `target` in the merged image, following its symlinks as if
/// the image root were `/` (a link can never lead out of the layers): the
/// merged directory there and its path in the topmost layer holding it,
/// or `None` when there is no directory.
fn resolve(merged: &Merged, root: &Path, target: &str) -> Option<(Dir, PathBuf)> {
    let mut todo: Vec<OsString> = target.split('/').rev().filter(|p| !p.is_empty()).map(OsString::from).collect();
    let mut done: Vec<(Dir, PathBuf)> = vec![(merged.root().ok()?, root.to_path_buf())];
    let mut links = 0;
    while let Some(part) = todo.pop() {
        match part.as_bytes() {
            b"." => continue,
            b".." => {
                if done.len() > 1 {
                    done.pop();
                }
                continue;
            }
            _ => {}
        }
        let entry = merged.child(&done.last()?.0, &part).ok()??;
        if entry.st.st_mode & libc::S_IFMT == libc::S_IFLNK {
            links += 1;
            if links > 40 {
                return None;
            }
            let to = fs::read_link(&entry.path).ok()?;
            if to.is_absolute() {
                done.truncate(1);
            }
            todo.extend(
                to.as_os_str()
                    .as_bytes()
                    .split(|c| *c == b'/')
                    .rev()
                    .filter(|p| !p.is_empty())
                    .map(|p| OsString::from(OsStr::from_bytes(p))),
            );
            continue;
        }
        done.push((entry.dir?, entry.path));
    }
    done.pop()
}

/// Copy the image's directory at `target` into `dest` (an empty volume
/// directory); nothing when the image has no directory there. `dest`
/// takes the image directory's owner, mode and times.
pub fn fill(layers_top_first: &[PathBuf], target: &str, dest: &Path) -> Result<()> {
    let Some(top) = layers_top_first.first() else { return Ok(()) };
    let merged = Merged::open(layers_top_first).map_err(|e| fill_err(target, top)(std::io::Error::other(e)))?;
    let Some((dir, path)) = resolve(&merged, top, target) else { return Ok(()) };
    copy_dir(&merged, target, &dir, dest)?;
    let m = fs::symlink_metadata(&path).map_err(fill_err(target, &path))?;
    attrs(&m, dest).map_err(fill_err(target, dest))
}

fn fill_err<'a>(target: &'a str, path: &'a Path) -> impl FnOnce(std::io::Error) -> Error + 'a {
    move |source| Error::Fill { target: target.to_string(), path: path.to_path_buf(), source }
}

/// Copy one directory's merged entries. Nothing created follows a
/// symlink already at its name (a container using the volume could race
/// the copy): files are created with O_EXCL, attributes set through a
/// descriptor opened with O_NOFOLLOW.
fn copy_dir(merged: &Merged, target: &str, dir: &Dir, dest: &Path) -> Result<()> {
    let listing = merged.list(dir).map_err(fill_err(target, dest))?;
    for Entry { name, path: src, dir: sub, .. } in listing {
        let to = dest.join(&name);
        let m = fs::symlink_metadata(&src).map_err(fill_err(target, &src))?;
        let ft = m.file_type();
        if ft.is_dir() {
            fs::create_dir(&to).map_err(fill_err(target, &to))?;
            if let Some(d) = sub {
                copy_dir(merged, target, &d, &to)?;
            }
        } else if ft.is_symlink() {
            let link = fs::read_link(&src).map_err(fill_err(target, &src))?;
            std::os::unix::fs::symlink(&link, &to).map_err(fill_err(target, &to))?;
        } else if ft.is_file() {
            let mut from = fs::File::open(&src).map_err(fill_err(target, &src))?;
            let mut out = fs::OpenOptions::new().write(true).create_new(true).mode(0o600).open(&to).map_err(fill_err(target, &to))?;
            std::io::copy(&mut from, &mut out).map_err(fill_err(target, &to))?;
        } else if ft.is_fifo() {
            nix::unistd::mkfifo(&to, nix::sys::stat::Mode::from_bits_truncate(m.mode() & 0o7777))
                .map_err(|e| fill_err(target, &to)(std::io::Error::from(e)))?;
        } else {
            tracing::debug!(path = %src.display(), "device or socket not copied into the volume");
            continue;
        }
        attrs(&m, &to).map_err(fill_err(target, &to))?;
    }
    Ok(())
}

/// Give `dst` the owner, mode and times in `m` (owner first: chown
/// clears set-id bits).
fn attrs(m: &fs::Metadata, dst: &Path) -> std::io::Result<()> {
    let at = TimeSpec::new(m.atime(), m.atime_nsec());
    let mt = TimeSpec::new(m.mtime(), m.mtime_nsec());
    let (uid, gid) = (Some(Uid::from_raw(m.uid())), Some(Gid::from_raw(m.gid())));
    if m.file_type().is_symlink() {
        fchownat(None, dst, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)?;
        utimensat(None, dst, &at, &mt, UtimensatFlags::NoFollowSymlink)?;
        return Ok(());
    }
    let f = fs::OpenOptions::new().read(true).custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK).open(dst)?;
    let fd = f.as_raw_fd();
    nix::unistd::fchown(fd, uid, gid)?;
    nix::sys::stat::fchmod(fd, nix::sys::stat::Mode::from_bits_truncate(m.mode() & 0o7777))?;
    nix::sys::stat::futimens(fd, &at, &mt)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    #[test]
    fn copies_the_merged_directory_through_symlinks_with_whiteouts() {
        let t = tempfile::tempdir().unwrap();
        let (l0, l1) = (t.path().join("l0"), t.path().join("l1"));
        fs::create_dir_all(l0.join("usr/share/x")).unwrap();
        fs::create_dir_all(l0.join("usr/share/old/deep")).unwrap();
        fs::write(l0.join("usr/share/a"), "lower").unwrap();
        fs::write(l0.join("usr/share/gone"), "x").unwrap();
        fs::write(l0.join("usr/share/x/y"), "y").unwrap();
        fs::write(l0.join("usr/share/old/deep/f"), "f").unwrap();
        std::os::unix::fs::symlink("/usr/share", l0.join("data")).unwrap();
        fs::create_dir_all(l1.join("usr/share/old")).unwrap();
        fs::write(l1.join("usr/share/a"), "upper").unwrap();
        fs::write(l1.join("usr/share/.wh.gone"), "").unwrap();
        fs::write(l1.join("usr/share/old/.wh..wh..opq"), "").unwrap();
        fs::write(l1.join("usr/share/old/new"), "n").unwrap();
        std::os::unix::fs::symlink("a", l1.join("usr/share/link")).unwrap();
        fs::set_permissions(l1.join("usr/share"), fs::Permissions::from_mode(0o750)).unwrap();
        fs::set_permissions(l0.join("usr/share/x/y"), fs::Permissions::from_mode(0o4755)).unwrap();
        let layers = [l1, l0];
        let dest = t.path().join("vol");
        fs::create_dir(&dest).unwrap();
        fill(&layers, "/data/", &dest).unwrap();
        assert_eq!(fs::read_to_string(dest.join("a")).unwrap(), "upper");
        assert!(!dest.join("gone").exists());
        assert_eq!(fs::read_to_string(dest.join("x/y")).unwrap(), "y");
        assert!(!dest.join("old/deep").exists(), "hidden by the opaque directory");
        assert!(dest.join("old/new").exists());
        assert_eq!(fs::read_link(dest.join("link")).unwrap(), Path::new("a"));
        assert_eq!(fs::metadata(&dest).unwrap().mode() & 0o7777, 0o750);
        assert_eq!(fs::metadata(dest.join("x/y")).unwrap().mode() & 0o7777, 0o4755, "set-id bits survive the chown");
        // nothing at the target, or a link out of the image: nothing copied
        let empty = t.path().join("empty");
        fs::create_dir(&empty).unwrap();
        fill(&layers, "/nothing", &empty).unwrap();
        fill(&layers, "/data/../../../etc", &empty).unwrap();
        assert_eq!(fs::read_dir(&empty).unwrap().count(), 0);
    }
}
