//! Unpack one layer (an uncompressed tar stream) into a fresh directory,
//! securely, and compute the layer's diff id on the way.
//!
//! Security: every archive name goes through `path::clean` (no absolute
//! names, no `..`), and every parent directory is opened with
//! `at::open_beneath` (openat2 `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), so
//! nothing is ever written through a symlink, even one the archive itself
//! created a moment earlier. Final components are created with `*at` calls
//! and `O_NOFOLLOW` / `AT_SYMLINK_NOFOLLOW`. Hardlink targets follow the
//! same rules and must already exist in the layer. A refused entry stops
//! the unpack with an error naming it and the directory is removed.
//!
//! Semantics follow docker's layer extraction: later entries replace
//! earlier ones; a directory over a directory only updates metadata. OCI
//! whiteouts (`.wh.*`) are ordinary empty files here, interpreted later by
//! the overlay. Device nodes cannot be created without privilege, so each
//! becomes an empty file carrying `user.burrow.rdev` = `c MAJ MIN`. Owners
//! at or above the caller's mapped range, or that the kernel refuses, are
//! squashed to the caller (0 inside burrow's namespace) and counted. Modes
//! are applied after chown (chown clears setuid); directory modes and
//! times are applied last, deepest first, since creating children changes
//! a directory's mtime and a read-only directory could not receive them.

mod at;
mod path;

use std::collections::HashMap;
use std::ffi::{CString, OsStr, OsString};
use std::fs;
use std::io::{self, Read};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use super::digest::{Digest, HashingReader};
use super::fsutil;

/// The xattr that records a device node we could not create.
pub const RDEV_XATTR: &str = "user.burrow.rdev";

#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("not a tar archive (nor gzip/zstd compressed tar)")]
    NotATar,
    #[error("cannot read the archive (truncated or corrupt?): {source}")]
    Read { source: io::Error },
    #[error("refusing archive entry {entry:?}: {reason}; the archive is unsafe to unpack and nothing was stored")]
    Refused { entry: String, reason: &'static str },
    #[error("cannot create {entry:?} in {dir}: {source}")]
    Create { entry: String, dir: PathBuf, source: io::Error },
    #[error("cannot create the layer directory {path}: {source}")]
    Dest { path: PathBuf, source: io::Error },
}

/// The id ranges the caller can own files as.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackOptions {
    /// Number of uids mapped in the current user namespace; owners at or
    /// above are squashed to 0.
    pub max_uid: u64,
    pub max_gid: u64,
}

impl UnpackOptions {
    /// The ids the current user namespace maps (all of them outside one).
    pub fn current() -> UnpackOptions {
        let m = crate::userns::current();
        UnpackOptions { max_uid: m.uid_count().max(1), max_gid: m.gid_count().max(1) }
    }

    /// The warning for `files` entries whose owners were squashed to root,
    /// naming the ids this namespace maps (pure).
    pub fn squashed_warning(&self, files: u64) -> String {
        let head = format!("warning: {files} files are owned by users or groups");
        if self.max_uid <= 1 || self.max_gid <= 1 {
            format!("{head} other than yours, and this user namespace maps only your own ids (burrow's single-id mapping); they now belong to root in containers (add a subordinate id range in /etc/subuid and /etc/subgid to keep them)")
        } else {
            format!(
                "{head} outside the ids this user namespace maps (uids 0-{}, gids 0-{}, from your subordinate ranges); they now belong to root in containers",
                self.max_uid - 1,
                self.max_gid - 1
            )
        }
    }
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions { max_uid: u64::from(u32::MAX), max_gid: u64::from(u32::MAX) }
    }
}

/// What an unpack did; the caller warns about squashed owners and devices.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnpackReport {
    /// Archive entries processed.
    pub entries: u64,
    /// Entries whose owner could not be kept.
    pub squashed_owners: u64,
    /// Device nodes recorded as placeholder files.
    pub devices: u64,
    /// Extended attributes that could not be set.
    pub xattr_failures: u64,
    /// Bytes of regular file content written.
    pub size_bytes: u64,
    /// sha256 of the uncompressed tar stream.
    pub diff_id: Digest,
    /// Length of the uncompressed tar stream.
    pub tar_size: u64,
}

type Result<T> = std::result::Result<T, UnpackError>;

/// Unpack `tar` into `dest`, which must not exist yet. On error `dest` is
/// removed again.
pub fn unpack(tar: impl Read, dest: &Path, opts: &UnpackOptions) -> Result<UnpackReport> {
    fs::create_dir(dest).map_err(|source| UnpackError::Dest { path: dest.to_path_buf(), source })?;
    let result = unpack_into(tar, dest, opts);
    if result.is_err() {
        if let Err(e) = fsutil::remove_tree(dest) {
            tracing::warn!(path = %dest.display(), "cannot remove the partial layer: {e}");
        }
    }
    result
}

struct DirMeta {
    mode: u32,
    mtime: Option<(i64, u32)>,
}

#[derive(Default)]
struct Counts {
    entries: u64,
    squashed: u64,
    devices: u64,
    xattr_failures: u64,
    size: u64,
}

/// Per-entry values a PAX header may override.
#[derive(Default)]
struct Pax {
    uid: Option<u64>,
    gid: Option<u64>,
    mtime: Option<(i64, u32)>,
    xattrs: Vec<(CString, Vec<u8>)>,
}

/// One entry's metadata, PAX overrides applied and owners mapped.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: (i64, u32),
    xattrs: Vec<(CString, Vec<u8>)>,
    /// The owner could not be kept.
    squashed: bool,
}

struct Unpacker<'a> {
    root: OwnedFd,
    dest: &'a Path,
    opts: &'a UnpackOptions,
    dirs: HashMap<OsString, DirMeta>,
    counts: Counts,
}

fn unpack_into(tar: impl Read, dest: &Path, opts: &UnpackOptions) -> Result<UnpackReport> {
    let root = fs::File::open(dest).map_err(|source| UnpackError::Dest { path: dest.to_path_buf(), source })?;
    let mut u = Unpacker { root: root.into(), dest, opts, dirs: HashMap::new(), counts: Counts::default() };
    u.dirs.insert(OsString::new(), DirMeta { mode: 0o755, mtime: None });

    let mut archive = tar::Archive::new(HashingReader::new(tar));
    let entries = archive.entries().map_err(|_| UnpackError::NotATar)?;
    let mut first = true;
    for entry in entries {
        let entry = match entry {
            Ok(e) => e,
            Err(_) if first => return Err(UnpackError::NotATar),
            Err(source) => return Err(UnpackError::Read { source }),
        };
        first = false;
        u.entry(entry)?;
    }
    let (diff_id, tar_size) = archive.into_inner().finish().map_err(|source| UnpackError::Read { source })?;
    if first && tar_size == 0 {
        return Err(UnpackError::NotATar);
    }
    u.finish_dirs()?;
    let c = u.counts;
    Ok(UnpackReport {
        entries: c.entries,
        squashed_owners: c.squashed,
        devices: c.devices,
        xattr_failures: c.xattr_failures,
        size_bytes: c.size,
        diff_id,
        tar_size,
    })
}

fn lossy(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

fn io_kind(e: &io::Error) -> Option<i32> {
    e.raw_os_error()
}

impl Unpacker<'_> {
    fn root(&self) -> BorrowedFd<'_> {
        self.root.as_fd()
    }

    fn create_err(&self, entry: &str) -> impl FnOnce(io::Error) -> UnpackError + '_ {
        let entry = entry.to_string();
        move |source| UnpackError::Create { entry, dir: self.dest.to_path_buf(), source }
    }

    fn entry<R: Read>(&mut self, mut entry: tar::Entry<'_, R>) -> Result<()> {
        use tar::EntryType as T;
        let raw = entry.path_bytes().into_owned();
        let name = lossy(&raw);
        let kind = entry.header().entry_type();
        if matches!(kind, T::XGlobalHeader | T::XHeader | T::GNULongName | T::GNULongLink) {
            return Ok(());
        }
        let comps = path::clean(&raw).map_err(|r| UnpackError::Refused { entry: name.clone(), reason: r.reason() })?;
        self.counts.entries += 1;
        let mut meta = self.meta(&mut entry)?;
        if comps.is_empty() {
            return self.layer_root(kind, meta, name);
        }
        let (last, parents) = comps.split_last().ok_or(UnpackError::Refused { entry: name.clone(), reason: "empty name" })?;
        let last: &OsStr = last;
        let parent = self.open_parent(parents, &name, true)?;
        let pfd = parent.as_fd();

        match kind {
            T::Directory => self.directory(pfd, last, path::join(&comps), &mut meta, &name)?,
            T::Regular | T::Continuous | T::GNUSparse => {
                self.clear(pfd, last, false, &name)?;
                let mut f = at::create_file(pfd, last).map_err(self.create_err(&name))?;
                let n = io::copy(&mut entry, &mut f).map_err(|source| UnpackError::Read { source })?;
                self.counts.size += n;
                self.finish_file(&f, &mut meta, &name)?;
            }
            T::Char | T::Block => self.device(entry.header(), pfd, last, &mut meta, &name)?,
            T::Symlink => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                self.symlink(&target, pfd, last, &mut meta, &name)?;
            }
            T::Link => {
                let target = entry.link_name_bytes().map(|t| t.into_owned()).unwrap_or_default();
                self.hardlink(&target, pfd, last, &name)?;
                return Ok(());
            }
            T::Fifo => self.fifo(pfd, last, &mut meta, &name)?,
            other => {
                tracing::warn!(entry = %name, "skipping archive entry of unsupported type {other:?}");
                self.counts.entries -= 1;
                return Ok(());
            }
        }
        self.squash_count(meta.squashed);
        Ok(())
    }

    /// An entry's metadata: its header with the PAX overrides, owners
    /// mapped to ones we may own.
    fn meta<R: Read>(&self, entry: &mut tar::Entry<'_, R>) -> Result<Meta> {
        let pax = read_pax(entry).map_err(|source| UnpackError::Read { source })?;
        let h = entry.header();
        let mode = h.mode().map_err(|source| UnpackError::Read { source })? & 0o7777;
        let uid = pax.uid.map(Ok).unwrap_or_else(|| h.uid()).map_err(|source| UnpackError::Read { source })?;
        let gid = pax.gid.map(Ok).unwrap_or_else(|| h.gid()).map_err(|source| UnpackError::Read { source })?;
        let mtime = pax.mtime.unwrap_or((h.mtime().unwrap_or(0) as i64, 0));
        let (uid, gid, squashed) = self.owner(uid, gid);
        Ok(Meta { mode, uid, gid, mtime, xattrs: pax.xattrs, squashed })
    }

    /// The layer root itself ("./"): only a directory, only metadata.
    fn layer_root(&mut self, kind: tar::EntryType, mut meta: Meta, name: String) -> Result<()> {
        if kind != tar::EntryType::Directory {
            return Err(UnpackError::Refused { entry: name, reason: "a non-directory cannot replace the layer root" });
        }
        self.dirs.insert(OsString::new(), DirMeta { mode: meta.mode, mtime: Some(meta.mtime) });
        if at::fchown(self.root(), meta.uid, meta.gid).is_err() {
            meta.squashed = true;
        }
        self.squash_count(meta.squashed);
        Ok(())
    }

    /// A directory at `rel`; one already there only gets new metadata
    /// (its mode and time wait for `finish_dirs`).
    fn directory(&mut self, dir: BorrowedFd<'_>, last: &OsStr, rel: OsString, meta: &mut Meta, name: &str) -> Result<()> {
        let exists = self.clear(dir, last, true, name)?;
        if !exists {
            at::mkdir(dir, last, 0o700).map_err(self.create_err(name))?;
        }
        if at::chown_nofollow(dir, last, meta.uid, meta.gid).is_err() {
            meta.squashed = true;
        }
        self.set_xattrs(dir, last, None, &meta.xattrs);
        self.dirs.insert(rel, DirMeta { mode: meta.mode, mtime: Some(meta.mtime) });
        Ok(())
    }

    /// A device node: an empty file recording its numbers in `RDEV_XATTR`.
    fn device(&mut self, h: &tar::Header, dir: BorrowedFd<'_>, last: &OsStr, meta: &mut Meta, name: &str) -> Result<()> {
        let major = h.device_major().ok().flatten().unwrap_or(0);
        let minor = h.device_minor().ok().flatten().unwrap_or(0);
        let letter = if h.entry_type() == tar::EntryType::Char { 'c' } else { 'b' };
        self.clear(dir, last, false, name)?;
        let f = at::create_file(dir, last).map_err(self.create_err(name))?;
        self.counts.devices += 1;
        if let Ok(k) = CString::new(RDEV_XATTR) {
            meta.xattrs.push((k, format!("{letter} {major} {minor}").into_bytes()));
        }
        self.finish_file(&f, meta, name)
    }

    fn symlink(&mut self, target: &[u8], dir: BorrowedFd<'_>, last: &OsStr, meta: &mut Meta, name: &str) -> Result<()> {
        if target.is_empty() {
            return Err(UnpackError::Refused { entry: name.to_string(), reason: "symlink without a target" });
        }
        self.clear(dir, last, false, name)?;
        at::symlink(target, dir, last).map_err(self.create_err(name))?;
        if at::chown_nofollow(dir, last, meta.uid, meta.gid).is_err() {
            meta.squashed = true;
        }
        self.set_xattrs(dir, last, None, &meta.xattrs);
        let _ = at::utimes_nofollow(dir, last, meta.mtime);
        Ok(())
    }

    fn fifo(&mut self, dir: BorrowedFd<'_>, last: &OsStr, meta: &mut Meta, name: &str) -> Result<()> {
        self.clear(dir, last, false, name)?;
        at::mkfifo(dir, last, 0o600).map_err(self.create_err(name))?;
        if at::chown_nofollow(dir, last, meta.uid, meta.gid).is_err() {
            meta.squashed = true;
        }
        at::chmod_at(dir, last, meta.mode).map_err(self.create_err(name))?;
        self.set_xattrs(dir, last, None, &meta.xattrs);
        let _ = at::utimes_nofollow(dir, last, meta.mtime);
        Ok(())
    }

    /// Owner, mode, xattrs and time of a file just written.
    fn finish_file(&mut self, f: &fs::File, meta: &mut Meta, name: &str) -> Result<()> {
        if at::fchown(f.as_fd(), meta.uid, meta.gid).is_err() {
            meta.squashed = true;
        }
        at::fchmod(f.as_fd(), meta.mode).map_err(self.create_err(name))?;
        self.set_xattrs(f.as_fd(), OsStr::new(""), Some(f), &meta.xattrs);
        at::futimens(f.as_fd(), meta.mtime).map_err(self.create_err(name))?;
        Ok(())
    }

    fn squash_count(&mut self, squashed: bool) {
        if squashed {
            self.counts.squashed += 1;
        }
    }

    /// Map archive ids to ids we may own: ids outside the mapped range
    /// become 0 (reported as squashed).
    fn owner(&self, uid: u64, gid: u64) -> (u32, u32, bool) {
        let mut squashed = false;
        let mut pick = |id: u64, max: u64| {
            if id >= max || id > u64::from(u32::MAX - 1) {
                squashed = true;
                0
            } else {
                id as u32
            }
        };
        let u = pick(uid, self.opts.max_uid);
        let g = pick(gid, self.opts.max_gid);
        (u, g, squashed)
    }

    /// Open the directory holding an entry, creating missing components
    /// (mode fixed at the end) when `create`.
    fn open_parent(&mut self, parents: &[&OsStr], name: &str, create: bool) -> Result<OwnedFd> {
        let flags = libc::O_PATH | libc::O_DIRECTORY;
        match at::open_beneath(self.root(), &path::join(parents), flags) {
            Ok(fd) => return Ok(fd),
            Err(e) if io_kind(&e) == Some(libc::ENOENT) && create => {}
            Err(e) => return Err(self.parent_error(e, name)),
        }
        let mut cur = at::open_beneath(self.root(), OsStr::new(""), flags).map_err(self.create_err(name))?;
        for (i, comp) in parents.iter().enumerate() {
            let next = match at::open_beneath(cur.as_fd(), comp, flags) {
                Ok(fd) => fd,
                Err(e) if io_kind(&e) == Some(libc::ENOENT) => {
                    match at::mkdir(cur.as_fd(), comp, 0o700) {
                        Ok(()) => {
                            self.dirs.insert(path::join(&parents[..=i]), DirMeta { mode: 0o755, mtime: None });
                        }
                        Err(e) if io_kind(&e) == Some(libc::EEXIST) => {}
                        Err(e) => return Err(self.create_err(name)(e)),
                    }
                    at::open_beneath(cur.as_fd(), comp, flags).map_err(|e| self.parent_error(e, name))?
                }
                Err(e) => return Err(self.parent_error(e, name)),
            };
            cur = next;
        }
        Ok(cur)
    }

    fn parent_error(&self, e: io::Error, name: &str) -> UnpackError {
        let reason = match io_kind(&e) {
            Some(libc::ELOOP) => "it would be written through a symlink",
            Some(libc::ENOTDIR) => "a parent component is not a directory",
            Some(libc::EXDEV) => "it would be written outside the layer",
            _ => return self.create_err(name)(e),
        };
        UnpackError::Refused { entry: name.to_string(), reason }
    }

    /// Make room for a new entry; returns true when an existing directory
    /// stays (a directory entry over a directory).
    fn clear(&self, dir: BorrowedFd<'_>, last: &OsStr, new_is_dir: bool, name: &str) -> Result<bool> {
        match at::stat_nofollow(dir, last) {
            Err(e) if io_kind(&e) == Some(libc::ENOENT) => Ok(false),
            Err(e) => Err(self.create_err(name)(e)),
            Ok(st) => {
                let is_dir = st.st_mode & libc::S_IFMT == libc::S_IFDIR;
                if is_dir && new_is_dir {
                    return Ok(true);
                }
                if is_dir {
                    at::remove_all(dir, last).map_err(self.create_err(name))?;
                } else {
                    at::unlink(dir, last, false).map_err(self.create_err(name))?;
                }
                Ok(false)
            }
        }
    }

    fn hardlink(&mut self, target: &[u8], dir: BorrowedFd<'_>, last: &OsStr, name: &str) -> Result<()> {
        let refuse = |reason| UnpackError::Refused { entry: name.to_string(), reason };
        let tcomps = match path::clean(target) {
            Ok(c) => c,
            Err(path::Refusal::Absolute) => return Err(refuse("hardlink target is an absolute path")),
            Err(path::Refusal::DotDot) => return Err(refuse("hardlink target contains a .. component")),
            Err(path::Refusal::Empty) => return Err(refuse("hardlink without a target")),
        };
        let Some((tlast, tparents)) = tcomps.split_last() else {
            return Err(refuse("hardlink to the layer root"));
        };
        let tparent = match at::open_beneath(self.root(), &path::join(tparents), libc::O_PATH | libc::O_DIRECTORY) {
            Ok(fd) => fd,
            Err(e) => {
                return Err(match io_kind(&e) {
                    Some(libc::ELOOP) => refuse("hardlink target goes through a symlink"),
                    Some(libc::EXDEV) => refuse("hardlink target is outside the layer"),
                    _ => refuse("hardlink target does not exist in the layer"),
                })
            }
        };
        let st = at::stat_nofollow(tparent.as_fd(), tlast).map_err(|_| refuse("hardlink target does not exist in the layer"))?;
        if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            return Err(refuse("hardlink target is a directory"));
        }
        if let Ok(existing) = at::stat_nofollow(dir, last) {
            if existing.st_ino == st.st_ino && existing.st_dev == st.st_dev {
                return Ok(());
            }
        }
        self.clear(dir, last, false, name)?;
        at::hardlink(tparent.as_fd(), tlast, dir, last).map_err(self.create_err(name))?;
        Ok(())
    }

    fn set_xattrs(&mut self, dir: BorrowedFd<'_>, last: &OsStr, file: Option<&fs::File>, xattrs: &[(CString, Vec<u8>)]) {
        for (k, v) in xattrs {
            let r = match file {
                Some(f) => at::fsetxattr(f.as_fd(), k, v),
                None => at::lsetxattr_at(dir, last, k, v),
            };
            if let Err(e) = r {
                tracing::debug!(xattr = ?k, "cannot set xattr: {e}");
                self.counts.xattr_failures += 1;
            }
        }
    }

    /// Apply directory modes and times, deepest first.
    fn finish_dirs(&mut self) -> Result<()> {
        let mut dirs: Vec<(&OsString, &DirMeta)> = self.dirs.iter().collect();
        let depth = |p: &OsString| if p.is_empty() { 0 } else { 1 + p.as_bytes().iter().filter(|b| **b == b'/').count() };
        dirs.sort_by_key(|(p, _)| std::cmp::Reverse(depth(p)));
        for (p, meta) in dirs {
            // Replaced by a non-directory later on: nothing to do.
            let Ok(fd) = at::open_beneath(self.root.as_fd(), p, libc::O_RDONLY | libc::O_DIRECTORY) else { continue };
            let name = p.to_string_lossy();
            at::fchmod(fd.as_fd(), meta.mode).map_err(|source| UnpackError::Create {
                entry: name.to_string(),
                dir: self.dest.to_path_buf(),
                source,
            })?;
            if let Some(t) = meta.mtime {
                let _ = at::futimens(fd.as_fd(), t);
            }
        }
        Ok(())
    }
}

fn read_pax<R: Read>(entry: &mut tar::Entry<'_, R>) -> io::Result<Pax> {
    let mut pax = Pax::default();
    let Some(exts) = entry.pax_extensions()? else { return Ok(pax) };
    for ext in exts {
        let ext = ext?;
        let key = ext.key_bytes();
        let value = ext.value_bytes();
        let num = || std::str::from_utf8(value).ok().and_then(|s| s.trim().parse::<u64>().ok());
        match key {
            b"uid" => pax.uid = num(),
            b"gid" => pax.gid = num(),
            b"mtime" => pax.mtime = std::str::from_utf8(value).ok().and_then(parse_pax_time),
            _ => {
                if let Some(x) = key.strip_prefix(b"SCHILY.xattr.") {
                    if let Ok(k) = CString::new(x) {
                        pax.xattrs.push((k, value.to_vec()));
                    }
                }
            }
        }
    }
    Ok(pax)
}

/// PAX times are decimal seconds with an optional fraction: `1700000000.5`.
fn parse_pax_time(s: &str) -> Option<(i64, u32)> {
    let (sec, frac) = match s.split_once('.') {
        Some((a, b)) => (a, b),
        None => (s, ""),
    };
    let sec: i64 = sec.parse().ok()?;
    let mut digits: String = frac.chars().take(9).filter(|c| c.is_ascii_digit()).collect();
    while digits.len() < 9 {
        digits.push('0');
    }
    let nsec: u32 = digits.parse().ok()?;
    Some((sec, nsec))
}

#[cfg(test)]
mod tests;
