//! The store root is its user's alone.
//!
//! Image layers and container uppers hold setuid files owned on the host by
//! the user or by one of the user's subordinate ids, and volumes hold the
//! containers' data; another user who could reach them could run such a
//! file with that identity. So the store root is 0700, as podman keeps its
//! graph root: that one directory shuts other users out of everything
//! under it, and the modes below it stay the images' own.
//!
//! - `create` makes a missing root with mode 0700 in the `mkdir(2)` itself
//!   (the umask can only take bits away, so it is never open, not even for
//!   a moment), then checks that the directory there is this user's. The
//!   engine calls it before it writes into the store.
//! - `tighten` closes an existing root that other users can enter, and
//!   says what its mode was; the command line calls it once per command
//!   that uses the store and tells the user in one line.
//! - `exposure` only looks: `info` and `system check` report with it.
//!
//! A root that belongs to someone else is refused, never chmod'ed: burrow
//! does not take over another user's directory (nor keep its store where
//! that user could swap it). The directories above the root are left as
//! they are: the private root alone keeps others out.

use std::fmt;
use std::fs;
use std::io;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// Permission bits that let users other than the owner in.
const OTHERS: u32 = 0o077;
const PRIVATE: u32 = 0o700;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("the store {path} belongs to uid {owner}, not to you (uid {uid}): burrow keeps its store private and does not take over another user's directory; use a --root of your own")]
    NotYours { path: PathBuf, owner: u32, uid: u32 },
    #[error("the store {path} is not a directory: use a --root that is a directory or does not exist yet")]
    NotDir { path: PathBuf },
    #[error("cannot {op} the store {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

/// A directory other users can enter or list, and its mode then.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Open {
    pub path: PathBuf,
    pub mode: u32,
}

impl fmt::Display for Open {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let p = self.path.display();
        write!(f, "other users can enter {p} ({:04o}): `chmod 0700 {p}`", self.mode)
    }
}

/// What a directory's owner and mode mean for a store root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Verdict {
    Private,
    Open { mode: u32 },
    NotYours { owner: u32 },
    NotDir,
}

fn judge(is_dir: bool, owner: u32, mode: u32, uid: u32) -> Verdict {
    if !is_dir {
        Verdict::NotDir
    } else if owner != uid {
        Verdict::NotYours { owner }
    } else if mode & OTHERS != 0 {
        Verdict::Open { mode: mode & 0o7777 }
    } else {
        Verdict::Private
    }
}

/// The verdict on `dir`, or None when it does not exist.
fn look(dir: &Path) -> Result<Option<Verdict>> {
    match fs::metadata(dir) {
        Ok(m) => Ok(Some(judge(m.is_dir(), m.uid(), m.mode(), nix::unistd::geteuid().as_raw()))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(source) => Err(Error::Io { op: "look at", path: dir.to_path_buf(), source }),
    }
}

fn refuse(dir: &Path, v: Verdict) -> Result<()> {
    match v {
        Verdict::NotYours { owner } => Err(Error::NotYours { path: dir.to_path_buf(), owner, uid: nix::unistd::geteuid().as_raw() }),
        Verdict::NotDir => Err(Error::NotDir { path: dir.to_path_buf() }),
        Verdict::Private | Verdict::Open { .. } => Ok(()),
    }
}

/// Make `dir` (and its missing parents) if missing, itself with mode 0700;
/// then check that it is a directory of this user. An existing open
/// directory is left for `tighten`.
pub fn create(dir: &Path) -> Result<()> {
    if let Some(parent) = dir.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent).map_err(|source| Error::Io { op: "create the parent of", path: dir.to_path_buf(), source })?;
    }
    match fs::DirBuilder::new().mode(PRIVATE).create(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(source) => return Err(Error::Io { op: "create", path: dir.to_path_buf(), source }),
    }
    match look(dir)? {
        Some(v) => refuse(dir, v),
        None => Err(Error::Io { op: "create", path: dir.to_path_buf(), source: io::ErrorKind::NotFound.into() }),
    }
}

/// Close an existing `dir` that other users can enter (chmod 0700);
/// returns how it was open, or None when there was nothing to do (private,
/// or not there yet).
pub fn tighten(dir: &Path) -> Result<Option<Open>> {
    let Some(v) = look(dir)? else { return Ok(None) };
    refuse(dir, v)?;
    let Verdict::Open { mode } = v else { return Ok(None) };
    fs::set_permissions(dir, fs::Permissions::from_mode(PRIVATE)).map_err(|source| Error::Io {
        op: "make private (chmod 0700)",
        path: dir.to_path_buf(),
        source,
    })?;
    Ok(Some(Open { path: dir.to_path_buf(), mode }))
}

/// Whether other users can enter `dir`, without changing anything; None
/// also when it does not exist or cannot be looked at.
pub fn exposure(dir: &Path) -> Option<Open> {
    match look(dir) {
        Ok(Some(Verdict::Open { mode })) => Some(Open { path: dir.to_path_buf(), mode }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn any_bit_for_group_or_others_is_open() {
        assert_eq!(judge(true, 5, 0o40700, 5), Verdict::Private);
        assert_eq!(judge(true, 5, 0o40755, 5), Verdict::Open { mode: 0o755 });
        assert_eq!(judge(true, 5, 0o40710, 5), Verdict::Open { mode: 0o710 });
        assert_eq!(judge(true, 5, 0o40701, 5), Verdict::Open { mode: 0o701 });
        assert_eq!(judge(true, 5, 0o42770, 5), Verdict::Open { mode: 0o2770 });
    }

    #[test]
    fn someone_elses_directory_or_a_file_is_refused_before_its_mode_counts() {
        assert_eq!(judge(true, 0, 0o41777, 5), Verdict::NotYours { owner: 0 });
        assert_eq!(judge(false, 5, 0o100644, 5), Verdict::NotDir);
    }

    #[test]
    fn a_new_root_is_private_and_an_open_one_is_tightened_once() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("a/b/store");
        create(&root).unwrap();
        assert_eq!(fs::metadata(&root).unwrap().mode() & 0o7777, 0o700);
        assert_eq!(tighten(&root).unwrap(), None);
        fs::set_permissions(&root, fs::Permissions::from_mode(0o755)).unwrap();
        create(&root).unwrap();
        assert_eq!(exposure(&root), Some(Open { path: root.clone(), mode: 0o755 }));
        assert_eq!(tighten(&root).unwrap(), Some(Open { path: root.clone(), mode: 0o755 }));
        assert_eq!(fs::metadata(&root).unwrap().mode() & 0o7777, 0o700);
        assert_eq!(exposure(&root), None);
    }

    #[test]
    fn a_file_in_the_way_is_refused() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f");
        fs::write(&f, "").unwrap();
        assert!(matches!(create(&f), Err(Error::NotDir { .. })));
        assert!(matches!(tighten(&f), Err(Error::NotDir { .. })));
        assert_eq!(tighten(&t.path().join("missing")).unwrap(), None);
    }
}
