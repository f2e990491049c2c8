//! COPY and ADD: the chosen files as one new layer.
//!
//! A producer thread writes a tar stream (parents the image lacks first,
//! then each item: a file, a symlink, a tree, or the entries of an
//! archive ADD unpacks) into a pipe that the store reads
//! (`import::add_produced_layer`), so nothing is staged on disk twice, and
//! the layer becomes an image only once every item was written. Files are owned by root unless
//! `--chown`, and keep their modes unless `--chmod`; an archive's entries
//! keep the owners and modes recorded in it unless `--chown`.

use std::io::Write;
use std::path::{Path, PathBuf};

use super::{archive, Error};
use crate::image::{import, Digest, Image, ImportOptions, Store};

/// One file or directory a COPY puts into the image.
#[derive(Debug, Clone)]
pub struct CopyItem {
    /// Where it is read from (on the host, or in a stage's files).
    pub source: PathBuf,
    /// Its path in the image, absolute.
    pub dest: String,
    /// A directory brings its whole tree (else only itself: the caller
    /// lists what it holds, as the build context does after
    /// `.dockerignore`).
    pub recursive: bool,
    /// ADD of a local archive: its entries go under `dest`, a directory.
    pub unpack: bool,
}

/// COPY/ADD: the items as one new layer on `base` (`None`: scratch).
pub fn copy(
    store: &Store,
    base: Option<&Image>,
    items: &[CopyItem],
    chown: Option<(u32, u32)>,
    chmod: Option<u32>,
    created_by: &str,
) -> Result<Digest, Error> {
    let items = items.to_vec();
    let layers = base.map(Image::layer_dirs_top_first).unwrap_or_default();
    let opts = ImportOptions { unpack: crate::image::UnpackOptions::current(), ..Default::default() };
    let made = import::add_produced_layer(store, base, None, &opts, created_by, move |out| -> Result<(), Error> {
        let io = |source| Error::Io { path: "COPY".into(), source };
        let mut b = tar::Builder::new(out);
        b.follow_symlinks(false);
        write_items(&mut b, &items, &layers, chown, chmod)?;
        b.into_inner().map_err(io)?.flush().map_err(io)
    })?;
    Ok(made.id)
}

/// The items' entries, after the directories the image lacks (the
/// parents, and the destination itself when an archive is unpacked into
/// it).
fn write_items<W: Write>(
    b: &mut tar::Builder<W>,
    items: &[CopyItem],
    layers: &[PathBuf],
    chown: Option<(u32, u32)>,
    chmod: Option<u32>,
) -> Result<(), Error> {
    let io = |source| Error::Io { path: "COPY".into(), source };
    let mut made: Vec<String> = Vec::new();
    for item in items {
        let rel = item.dest.trim_start_matches('/').trim_end_matches('/').to_string();
        let parts: Vec<&str> = rel.split('/').filter(|p| !p.is_empty()).collect();
        let dirs = if item.unpack { parts.len() } else { parts.len().saturating_sub(1) };
        let mut parent = String::new();
        for part in &parts[..dirs] {
            parent = if parent.is_empty() { part.to_string() } else { format!("{parent}/{part}") };
            if made.contains(&parent) || crate::image::merged::is_dir(layers, &parent) {
                continue;
            }
            directory(b, &parent).map_err(io)?;
            made.push(parent.clone());
        }
        if item.unpack {
            archive::append(b, &item.source, &rel, chown)?;
        } else {
            append(b, &item.source, &rel, chown, chmod, item.recursive).map_err(io)?;
        }
        made.push(rel);
    }
    Ok(())
}

/// A root-owned 0755 directory entry.
fn directory<W: Write>(b: &mut tar::Builder<W>, rel: &str) -> std::io::Result<()> {
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Directory);
    h.set_mode(0o755);
    h.set_size(0);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    b.append_data(&mut h, format!("{rel}/"), std::io::empty())
}

/// Append `source` (a file, symlink or directory tree) as `rel`.
fn append<W: Write>(
    b: &mut tar::Builder<W>,
    source: &Path,
    rel: &str,
    chown: Option<(u32, u32)>,
    chmod: Option<u32>,
    recursive: bool,
) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt;
    let meta = std::fs::symlink_metadata(source)?;
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(&meta, tar::HeaderMode::Deterministic);
    let (uid, gid) = chown.unwrap_or((0, 0));
    h.set_uid(uid.into());
    h.set_gid(gid.into());
    h.set_mtime(meta.mtime().max(0) as u64);
    if let Some(m) = chmod {
        h.set_mode(m);
    } else {
        h.set_mode(meta.mode() & 0o7777);
    }
    if meta.file_type().is_symlink() {
        let target = std::fs::read_link(source)?;
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_size(0);
        b.append_link(&mut h, rel, target)?;
    } else if meta.is_dir() {
        h.set_entry_type(tar::EntryType::Directory);
        h.set_size(0);
        b.append_data(&mut h, format!("{rel}/"), std::io::empty())?;
        if !recursive {
            return Ok(());
        }
        let mut names: Vec<_> = std::fs::read_dir(source)?.filter_map(|e| e.ok()).map(|e| e.file_name()).collect();
        names.sort();
        for n in names {
            append(b, &source.join(&n), &format!("{rel}/{}", n.to_string_lossy()), chown, chmod, true)?;
        }
    } else if meta.is_file() {
        h.set_entry_type(tar::EntryType::Regular);
        h.set_size(meta.len());
        b.append_data(&mut h, rel, std::fs::File::open(source)?)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn copy_makes_missing_parents_and_keeps_modes() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("ctx");
        std::fs::create_dir_all(src.join("dir/sub")).unwrap();
        std::fs::write(src.join("dir/sub/f"), "x").unwrap();
        std::fs::write(src.join("tool"), "#!/bin/sh\n").unwrap();
        std::os::unix::fs::PermissionsExt::set_mode(&mut std::fs::metadata(src.join("tool")).unwrap().permissions(), 0o755);
        let (r, w) = nix::unistd::pipe().unwrap();
        let h = std::thread::spawn(move || {
            let mut b = tar::Builder::new(std::fs::File::from(w));
            append(&mut b, &src.join("dir"), "opt/app", Some((1000, 1000)), None, true).unwrap();
            append(&mut b, &src.join("tool"), "usr/bin/tool", None, Some(0o700), true).unwrap();
            b.into_inner().unwrap();
        });
        let mut ar = tar::Archive::new(std::fs::File::from(r));
        let got: Vec<(String, u64, u32)> = ar
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.header().uid().unwrap(), e.header().mode().unwrap())
            })
            .collect();
        h.join().unwrap();
        assert_eq!(got[0].0, "opt/app/");
        assert!(got.iter().any(|(p, uid, _)| p == "opt/app/sub/f" && *uid == 1000), "{got:?}");
        assert!(got.iter().any(|(p, uid, mode)| p == "usr/bin/tool" && *uid == 0 && *mode == 0o700), "{got:?}");
    }
}
