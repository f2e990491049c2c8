//! ADD of a local archive: its entries become entries of the step's layer,
//! under the destination directory.
//!
//! Recognised as docker does: a tar, plain or compressed with gzip, bzip2,
//! xz or zstd (the compression told by its magic bytes, the tar by the
//! `ustar` magic of the first header once decompressed); anything else is
//! copied as a file. Entry paths are re-rooted under the destination:
//! leading `/` and `./` are dropped, and a path with a `..` component is
//! refused, so an archive cannot place files outside the directory it is
//! added to (the store's unpacker then refuses to follow symlinks out of
//! the layer, as for every layer). Hard link targets are re-rooted the same
//! way; symlink targets are kept as written, since they resolve inside the
//! container.

use std::io::{BufReader, Read, Write};
use std::path::{Component, Path, PathBuf};

use super::Error;

/// How an archive ADD would unpack is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

fn detect(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

fn open(path: &Path) -> std::io::Result<(Compression, Box<dyn Read>)> {
    let mut file = BufReader::new(std::fs::File::open(path)?);
    let mut head = [0u8; 6];
    let n = read_full(&mut file, &mut head)?;
    let kind = detect(&head[..n]);
    let file = std::io::Cursor::new(head[..n].to_vec()).chain(file);
    let reader: Box<dyn Read> = match kind {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(file)),
        Compression::Xz => Box::new(liblzma::read::XzDecoder::new_multi_decoder(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    };
    Ok((kind, reader))
}

fn read_full(r: &mut impl Read, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The compression of a file ADD unpacks, or `None` when it is not a tar
/// archive (it is then copied as it is).
pub fn archive_compression(path: &Path) -> Option<Compression> {
    let (kind, mut reader) = open(path).ok()?;
    let mut header = [0u8; 512];
    let n = read_full(&mut reader, &mut header).ok()?;
    (n == 512 && &header[257..262] == b"ustar").then_some(kind)
}

/// `name` re-rooted under `dest`, or `None` when it climbs out with `..`.
fn reroot(dest: &str, name: &Path) -> Option<String> {
    let mut parts = Vec::new();
    for c in name.components() {
        match c {
            Component::Normal(p) => parts.push(p.to_string_lossy().into_owned()),
            Component::RootDir | Component::CurDir => {}
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    let rel = parts.join("/");
    Some(match (dest.is_empty(), rel.is_empty()) {
        (true, _) => rel,
        (false, true) => dest.to_string(),
        (false, false) => format!("{dest}/{rel}"),
    })
}

/// Append the entries of the archive at `source` under `dest` (relative).
pub fn append<W: Write>(b: &mut tar::Builder<W>, source: &Path, dest: &str, chown: Option<(u32, u32)>) -> Result<(), Error> {
    let io = |source: std::io::Error, path: &Path| Error::Io { path: path.to_path_buf(), source };
    let (_, reader) = open(source).map_err(|e| io(e, source))?;
    let mut ar = tar::Archive::new(reader);
    for entry in ar.entries().map_err(|e| io(e, source))? {
        let mut entry = entry.map_err(|e| io(e, source))?;
        let name: PathBuf = entry.path().map_err(|e| io(e, source))?.into_owned();
        let escape = || Error::ArchiveEscape { archive: source.to_path_buf(), entry: name.display().to_string() };
        let path = reroot(dest, &name).ok_or_else(escape)?;
        if path.is_empty() {
            continue;
        }
        let mut h = entry.header().clone();
        if let Some((uid, gid)) = chown {
            h.set_uid(uid.into());
            h.set_gid(gid.into());
        }
        let kind = h.entry_type();
        let appended = if kind.is_hard_link() {
            let target = entry.link_name().map_err(|e| io(e, source))?.ok_or_else(escape)?.into_owned();
            let target = reroot(dest, &target).ok_or_else(escape)?;
            b.append_link(&mut h, &path, target)
        } else if kind.is_symlink() {
            let target = entry.link_name().map_err(|e| io(e, source))?.map(|t| t.into_owned()).unwrap_or_default();
            b.append_link(&mut h, &path, target)
        } else if kind.is_dir() {
            b.append_data(&mut h, format!("{path}/"), std::io::empty())
        } else if kind.is_file() || kind == tar::EntryType::Continuous || kind.is_gnu_sparse() {
            h.set_entry_type(tar::EntryType::Regular);
            h.set_size(entry.size());
            b.append_data(&mut h, &path, &mut entry)
        } else if kind.is_character_special() || kind.is_block_special() || kind.is_fifo() {
            b.append_data(&mut h, &path, std::io::empty())
        } else {
            // PAX and GNU long-name records are read by the iterator; any
            // other record carries nothing for a layer.
            continue;
        };
        appended.map_err(|e| io(e, Path::new(&path)))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tar_with(entries: &[(&str, &[u8])]) -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        for (name, data) in entries {
            let mut h = tar::Header::new_ustar();
            h.set_size(data.len() as u64);
            h.set_mode(0o640);
            h.set_uid(7);
            h.set_gid(8);
            h.as_ustar_mut().unwrap().name[..name.len()].copy_from_slice(name.as_bytes());
            h.set_cksum();
            b.append(&h, *data).unwrap();
        }
        b.into_inner().unwrap()
    }

    fn names(tar: &[u8]) -> Vec<(String, u64, u32)> {
        tar::Archive::new(tar)
            .entries()
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.path().unwrap().display().to_string(), e.header().uid().unwrap(), e.header().mode().unwrap())
            })
            .collect()
    }

    #[test]
    fn every_compression_is_recognised_and_unpacked_under_dest() {
        let t = tempfile::tempdir().unwrap();
        let plain = tar_with(&[("./a.txt", b"a"), ("dir/b.txt", b"b")]);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(&plain).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::fast());
        bz.write_all(&plain).unwrap();
        let mut xz = liblzma::write::XzEncoder::new(Vec::new(), 1);
        xz.write_all(&plain).unwrap();
        let zst = zstd::encode_all(&plain[..], 1).unwrap();
        for (name, bytes, kind) in [
            ("p.tar", plain.clone(), Compression::None),
            ("g.tgz", gz.finish().unwrap(), Compression::Gzip),
            ("b.tbz", bz.finish().unwrap(), Compression::Bzip2),
            ("x.txz", xz.finish().unwrap(), Compression::Xz),
            ("z.tzst", zst, Compression::Zstd),
        ] {
            let p = t.path().join(name);
            std::fs::write(&p, bytes).unwrap();
            assert_eq!(archive_compression(&p), Some(kind), "{name}");
            let mut b = tar::Builder::new(Vec::new());
            append(&mut b, &p, "opt/x", None).unwrap();
            let got = names(&b.into_inner().unwrap());
            assert_eq!(got, vec![("opt/x/a.txt".into(), 7, 0o640), ("opt/x/dir/b.txt".into(), 7, 0o640)], "{name}");
        }
        // Not a tar (even when compressed): copied as a file.
        std::fs::write(t.path().join("notes.gz"), {
            let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            gz.write_all(&[b'x'; 600]).unwrap();
            gz.finish().unwrap()
        })
        .unwrap();
        assert_eq!(archive_compression(&t.path().join("notes.gz")), None);
        std::fs::write(t.path().join("short"), "hi").unwrap();
        assert_eq!(archive_compression(&t.path().join("short")), None);
    }

    #[test]
    fn entries_climbing_out_are_refused_and_chown_applies() {
        let t = tempfile::tempdir().unwrap();
        let p = t.path().join("evil.tar");
        std::fs::write(&p, tar_with(&[("ok", b"1"), ("../../etc/passwd", b"x")])).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        let err = append(&mut b, &p, "app", None).unwrap_err();
        assert!(matches!(err, Error::ArchiveEscape { .. }), "{err}");
        std::fs::write(&p, tar_with(&[("/abs/f", b"1")])).unwrap();
        let mut b = tar::Builder::new(Vec::new());
        append(&mut b, &p, "app", Some((1000, 1001))).unwrap();
        assert_eq!(names(&b.into_inner().unwrap()), vec![("app/abs/f".into(), 1000, 0o640)]);
        assert_eq!(reroot("", Path::new("./x/./y")).as_deref(), Some("x/y"));
    }
}
