//! A container's upper directory as an OCI layer tarball.
//!
//! burrow-fs keeps the upper directory in the OCI layer format itself
//! (deletions are `.wh.NAME` files, a directory that replaced a lower one
//! holds `.wh..wh..opq`), so a layer is the upper tree written as a tar
//! with nothing translated: names relative to the root, directories
//! before their contents (sorted, so the same tree gives the same bytes),
//! owners as numbers, modes with setuid/setgid/sticky bits, mtimes,
//! symlinks, FIFOs, hardlinks as tar links to the first name seen, and
//! extended attributes as PAX `SCHILY.xattr.NAME` records (what GNU tar
//! and the importer read), leaving out burrow-fs's own `user.burrow.*`.
//! Sockets are skipped (tar cannot carry them; docker skips them too).
//! Runs inside burrow's user namespace, where every owner of the upper is
//! readable.

use std::collections::HashMap;
use std::fs;
use std::io::{self, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

/// Write `upper` as an uncompressed tar to `out`.
pub fn write(upper: &Path, out: impl Write) -> io::Result<()> {
    let mut builder = tar::Builder::new(out);
    builder.follow_symlinks(false);
    let mut links = Links::new();
    walk(upper, Path::new(""), &mut builder, &mut links)?;
    builder.into_inner()?.flush()
}

fn walk<W: Write>(dir: &Path, rel: &Path, b: &mut tar::Builder<W>, links: &mut Links) -> io::Result<()> {
    let mut names: Vec<_> = fs::read_dir(dir)?.map(|e| e.map(|e| e.file_name())).collect::<io::Result<_>>()?;
    names.sort();
    for name in names {
        let path = dir.join(&name);
        let rel = rel.join(&name);
        if append_entry(b, &path, &rel, links)? {
            walk(&path, &rel, b, links)?;
        }
    }
    Ok(())
}

/// Files already written, by (device, inode), for hardlinks.
pub(super) type Links = HashMap<(u64, u64), PathBuf>;

/// Append the file at `path` as the entry `rel` (a directory only as its
/// header); returns whether it is a directory whose contents the caller
/// should append next. A regular file with the `user.burrow.rdev`
/// placeholder attribute (a device node unpacking could not create) is
/// written back as the device node it stands for.
pub(super) fn append_entry<W: Write>(b: &mut tar::Builder<W>, path: &Path, rel: &Path, links: &mut Links) -> io::Result<bool> {
    let meta = fs::symlink_metadata(path)?;
    let ft = meta.file_type();
    if ft.is_socket() {
        tracing::debug!(path = %rel.display(), "socket left out of the layer");
        return Ok(false);
    }
    let xattrs = xattrs_of(path);
    if !xattrs.is_empty() {
        b.append_pax_extensions(xattrs.iter().map(|(k, v)| (k.as_str(), v.as_slice())))?;
    }
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Complete);
    h.set_mode(meta.mode() & 0o7777);
    if ft.is_file() {
        if let Some((kind, major, minor)) = device_placeholder(path) {
            h.set_entry_type(kind);
            h.set_size(0);
            h.set_device_major(major)?;
            h.set_device_minor(minor)?;
            b.append_data(&mut h, rel, io::empty())?;
            return Ok(false);
        }
    }
    if ft.is_file() && meta.nlink() > 1 {
        if let Some(first) = links.get(&(meta.dev(), meta.ino())) {
            h.set_entry_type(tar::EntryType::Link);
            h.set_size(0);
            b.append_link(&mut h, rel, first)?;
            return Ok(false);
        }
        links.insert((meta.dev(), meta.ino()), rel.to_path_buf());
    }
    if ft.is_dir() {
        h.set_size(0);
        b.append_data(&mut h, dir_name(rel), io::empty())?;
        return Ok(true);
    } else if ft.is_symlink() {
        h.set_size(0);
        b.append_link(&mut h, rel, fs::read_link(path)?)?;
    } else if ft.is_file() {
        let f = fs::File::open(path)?;
        b.append_data(&mut h, rel, f)?;
    } else {
        // FIFOs and device nodes: the header says it all.
        h.set_size(0);
        b.append_data(&mut h, rel, io::empty())?;
    }
    Ok(false)
}

/// The device a placeholder file stands for (`user.burrow.rdev` =
/// `c MAJ MIN` or `b MAJ MIN`).
fn device_placeholder(path: &Path) -> Option<(tar::EntryType, u32, u32)> {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    let name = std::ffi::CString::new(crate::image::unpack::RDEV_XATTR).ok()?;
    let mut value = [0u8; 64];
    // SAFETY: NUL-terminated path and name, a buffer of the length given.
    let len = unsafe { libc::lgetxattr(c.as_ptr(), name.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
    if len <= 0 {
        return None;
    }
    let text = std::str::from_utf8(&value[..len as usize]).ok()?;
    let mut parts = text.split_whitespace();
    let kind = match parts.next()? {
        "c" => tar::EntryType::Char,
        "b" => tar::EntryType::Block,
        _ => return None,
    };
    Some((kind, parts.next()?.parse().ok()?, parts.next()?.parse().ok()?))
}

/// The extended attributes of `path` (not following a symlink) as PAX
/// keys and values; an unreadable attribute is left out with a log line.
fn xattrs_of(path: &Path) -> Vec<(String, Vec<u8>)> {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(path.as_os_str().as_bytes()) else { return Vec::new() };
    let mut names = vec![0u8; 4096];
    // SAFETY: a NUL-terminated path and a buffer of the length given.
    let n = unsafe { libc::llistxattr(c.as_ptr(), names.as_mut_ptr().cast(), names.len()) };
    if n <= 0 {
        return Vec::new();
    }
    let mut out = Vec::new();
    for name in names[..n as usize].split(|&b| b == 0).filter(|s| !s.is_empty() && !s.starts_with(b"user.burrow.")) {
        let Ok(cname) = std::ffi::CString::new(name) else { continue };
        let mut value = vec![0u8; 65536];
        // SAFETY: NUL-terminated path and name, a buffer of the length given.
        let len = unsafe { libc::lgetxattr(c.as_ptr(), cname.as_ptr(), value.as_mut_ptr().cast(), value.len()) };
        if len < 0 {
            tracing::debug!(path = %path.display(), name = %String::from_utf8_lossy(name), "xattr left out of the layer");
            continue;
        }
        value.truncate(len as usize);
        out.push((format!("SCHILY.xattr.{}", String::from_utf8_lossy(name)), value));
    }
    out
}

/// Directory entries carry a trailing slash, as GNU tar writes them.
fn dir_name(rel: &Path) -> PathBuf {
    let mut s = rel.as_os_str().to_os_string();
    s.push("/");
    PathBuf::from(s)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn the_upper_becomes_a_tar_with_whiteouts_and_links() {
        let t = tempfile::tempdir().unwrap();
        let up = t.path().join("upper");
        fs::create_dir_all(up.join("etc/sub")).unwrap();
        fs::write(up.join("etc/a"), "data").unwrap();
        fs::hard_link(up.join("etc/a"), up.join("etc/b")).unwrap();
        fs::write(up.join("etc/.wh.gone"), "").unwrap();
        fs::write(up.join("etc/sub/.wh..wh..opq"), "").unwrap();
        symlink("../a", up.join("etc/sub/l")).unwrap();
        let with_xattr = std::ffi::CString::new(up.join("etc/a").as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: NUL-terminated strings and a value of the length given.
        let set = unsafe { libc::lsetxattr(with_xattr.as_ptr(), c"user.note".as_ptr(), b"hi".as_ptr().cast(), 2, 0) };
        let mut out = Vec::new();
        write(&up, &mut out).unwrap();
        if set == 0 {
            let mut ar = tar::Archive::new(&out[..]);
            let mut found = false;
            for e in ar.entries().unwrap() {
                let mut e = e.unwrap();
                if e.path().unwrap().to_string_lossy() == "etc/a" {
                    for x in e.pax_extensions().unwrap().unwrap() {
                        let x = x.unwrap();
                        found |= x.key().unwrap() == "SCHILY.xattr.user.note" && x.value_bytes() == b"hi";
                    }
                }
            }
            assert!(found, "the xattr travels as a PAX record");
        }
        let mut ar = tar::Archive::new(&out[..]);
        let mut seen = Vec::new();
        for e in ar.entries().unwrap() {
            let e = e.unwrap();
            let kind = e.header().entry_type();
            let p = e.path().unwrap().to_string_lossy().into_owned();
            let link = e.link_name().unwrap().map(|l| l.to_string_lossy().into_owned());
            seen.push((p, kind, link));
        }
        let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
        assert_eq!(names, ["etc/", "etc/.wh.gone", "etc/a", "etc/b", "etc/sub/", "etc/sub/.wh..wh..opq", "etc/sub/l"]);
        assert_eq!(seen[3].1, tar::EntryType::Link);
        assert_eq!(seen[3].2.as_deref(), Some("etc/a"));
        assert_eq!(seen[6].1, tar::EntryType::Symlink);
        assert_eq!(seen[6].2.as_deref(), Some("../a"));
    }
}
