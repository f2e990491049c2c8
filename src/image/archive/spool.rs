//! Spool an archive's members into a temp directory, since an image
//! archive's members may come in any order (a layer before the manifest
//! that names it).
//!
//! Every regular member is copied once into `tmp/layer-load-*/m<N>` (the
//! `layer` prefix lets `ingest::sweep_tmp` remove what a killed load left)
//! and hashed on the way, so a layer's digest is known without reading it
//! again. Member names are checked like layer entries: an absolute name
//! or a `..` component refuses the whole archive (nothing is written
//! under a member's own name, but an archive made to escape is hostile).
//! Symlinks and hardlinks between members (`docker save` of old used
//! them for shared layers) are recorded and resolved on lookup, inside
//! the archive only. Directories and other member types are ignored.

use std::collections::HashMap;
use std::fs;
use std::io::{self, BufWriter, Read};
use std::path::PathBuf;

use super::{Error, Result};
use crate::image::digest::{Digest, HashingReader};
use crate::image::ingest::TempDir;
use crate::image::Store;

/// One spooled regular member.
#[derive(Debug, Clone)]
pub(super) struct Member {
    pub path: PathBuf,
    pub digest: Digest,
    pub size: u64,
}

/// The spooled archive.
pub(super) struct Spool {
    pub archive: String,
    dir: TempDir,
    files: HashMap<String, Member>,
    /// Link name → target member name (already made archive-relative).
    links: HashMap<String, String>,
    next: u64,
}

/// The canonical form of a member name: no `./`, no empty or `.`
/// components, no trailing slash. Absolute names and `..` are refused.
pub(super) fn normalize(raw: &[u8]) -> std::result::Result<String, &'static str> {
    let s = std::str::from_utf8(raw).map_err(|_| "the name is not UTF-8")?;
    if s.starts_with('/') {
        return Err("absolute path");
    }
    let mut parts = Vec::new();
    for c in s.split('/') {
        match c {
            "" | "." => {}
            ".." => return Err("path contains a .. component"),
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// A symlink target relative to the link's directory, as a member name.
fn link_target(link: &str, target: &[u8]) -> std::result::Result<String, &'static str> {
    let t = std::str::from_utf8(target).map_err(|_| "the link target is not UTF-8")?;
    if t.starts_with('/') {
        return Err("the link points to an absolute path");
    }
    let mut parts: Vec<&str> = link.split('/').collect();
    parts.pop();
    for c in t.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() {
                    return Err("the link points outside the archive");
                }
            }
            c => parts.push(c),
        }
    }
    Ok(parts.join("/"))
}

/// Why reading the tar stream failed after `seen` members: a system
/// error as it is; otherwise the stream does not parse, and the tar
/// reader's own text is left out, since it quotes the raw header bytes
/// (a whole text file, when one is loaded by mistake).
fn read_error(archive: &str, seen: u64, source: io::Error) -> Error {
    let archive = archive.to_string();
    match (source.raw_os_error(), seen) {
        (Some(_), _) => Error::Read { archive, source },
        (None, 0) => Error::NotATar { archive },
        (None, members) => Error::Corrupt { archive, members },
    }
}

impl Spool {
    /// Read the whole (uncompressed) tar `input` into a new temp directory.
    pub fn read(store: &Store, input: impl Read, archive: &str) -> Result<Spool> {
        let dir = TempDir::new(store, "layer-load");
        fs::create_dir(dir.path()).map_err(Error::io("create", dir.path()))?;
        let mut spool = Spool { archive: archive.to_string(), dir, files: HashMap::new(), links: HashMap::new(), next: 0 };
        let mut ar = tar::Archive::new(input);
        let mut seen = 0u64;
        let entries = ar.entries().map_err(|e| read_error(archive, 0, e))?;
        for entry in entries {
            let mut entry = entry.map_err(|e| read_error(archive, seen, e))?;
            seen += 1;
            let raw = entry.path_bytes().into_owned();
            let unsafe_member =
                |reason| Error::UnsafeMember { archive: archive.to_string(), member: String::from_utf8_lossy(&raw).into_owned(), reason };
            let name = normalize(&raw).map_err(unsafe_member)?;
            let kind = entry.header().entry_type();
            match kind {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let member = spool.write(&mut entry)?;
                    spool.links.remove(&name);
                    spool.files.insert(name, member);
                }
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let target = entry.link_name_bytes().unwrap_or_default().into_owned();
                    let target = if kind == tar::EntryType::Symlink { link_target(&name, &target) } else { normalize(&target) }
                        .map_err(unsafe_member)?;
                    spool.files.remove(&name);
                    spool.links.insert(name, target);
                }
                _ => {}
            }
        }
        if seen == 0 {
            return Err(Error::NotATar { archive: archive.into() });
        }
        Ok(spool)
    }

    fn write(&mut self, entry: &mut impl Read) -> Result<Member> {
        let path = self.dir.path().join(format!("m{}", self.next));
        self.next += 1;
        let file = fs::File::create(&path).map_err(Error::io("create", &path))?;
        let mut out = BufWriter::with_capacity(1 << 20, file);
        let mut hashing = HashingReader::new(entry);
        io::copy(&mut hashing, &mut out).map_err(|source| Error::Read { archive: self.archive.clone(), source })?;
        out.into_inner().map_err(|e| Error::Io { op: "write", path: path.clone(), source: e.into_error() })?;
        let (digest, size) = hashing.finish().map_err(|source| Error::Read { archive: self.archive.clone(), source })?;
        Ok(Member { path, digest, size })
    }

    /// Whether a member (or a link to one) of that name exists.
    pub fn has(&self, name: &str) -> bool {
        self.resolve(name).is_some()
    }

    fn resolve(&self, name: &str) -> Option<&Member> {
        let mut name = normalize(name.as_bytes()).ok()?;
        for _ in 0..16 {
            if let Some(m) = self.files.get(&name) {
                return Some(m);
            }
            name = self.links.get(&name)?.clone();
        }
        None
    }

    /// The member `name`, which `by` refers to.
    pub fn get(&self, name: &str, by: &str) -> Result<&Member> {
        self.resolve(name).ok_or_else(|| Error::MissingMember {
            archive: self.archive.clone(),
            member: name.to_string(),
            by: by.to_string(),
        })
    }

    /// The bytes of a small member (a JSON document).
    pub fn read_small(&self, name: &str, by: &str) -> Result<Vec<u8>> {
        const MAX: u64 = 64 << 20;
        let m = self.get(name, by)?;
        if m.size > MAX {
            return Err(self.bad(name, format!("{} bytes is too large for a JSON document", m.size)));
        }
        fs::read(&m.path).map_err(Error::io("read", &m.path))
    }

    /// A JSON member parsed, with its bytes.
    pub fn read_json<T: serde::de::DeserializeOwned>(&self, name: &str, by: &str) -> Result<(T, Vec<u8>)> {
        let bytes = self.read_small(name, by)?;
        let v = serde_json::from_slice(&bytes).map_err(|e| self.bad(name, e.to_string()))?;
        Ok((v, bytes))
    }

    /// A new name for the member's file (a hard link, else a copy) that
    /// ingest may move into `blobs/`; it lives in the spool directory, so
    /// it goes with it when not used.
    pub fn take_copy(&mut self, m: &Member) -> Result<PathBuf> {
        let path = self.dir.path().join(format!("m{}", self.next));
        self.next += 1;
        if fs::hard_link(&m.path, &path).is_err() {
            fs::copy(&m.path, &path).map_err(Error::io("copy", &m.path))?;
        }
        Ok(path)
    }

    pub fn bad(&self, member: &str, reason: String) -> Error {
        Error::BadDocument { archive: self.archive.clone(), member: member.to_string(), reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_normalized_or_refused() {
        assert_eq!(normalize(b"./a//b/./c/").unwrap(), "a/b/c");
        assert_eq!(normalize(b"manifest.json").unwrap(), "manifest.json");
        assert!(normalize(b"/etc/passwd").is_err());
        assert!(normalize(b"a/../../b").is_err());
        assert!(normalize(b"\xff").is_err());
    }

    #[test]
    fn link_targets_stay_inside() {
        assert_eq!(link_target("a/layer.tar", b"../b/layer.tar").unwrap(), "b/layer.tar");
        assert_eq!(link_target("x", b"y").unwrap(), "y");
        assert!(link_target("a/l", b"../../x").is_err());
        assert!(link_target("a/l", b"/x").is_err());
    }
}
