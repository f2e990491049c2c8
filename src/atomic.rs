//! Durable replacement of a small file, and the room the store keeps for
//! its own bookkeeping on a full disk.
//!
//! Every file burrow keeps and rewrites whole (container records, image
//! index, volume metadata, health state, build and seccomp caches,
//! registry credentials) goes through [`write`]: the bytes go to a temp
//! file with a unique name next to the destination (same file system, so
//! the rename is atomic; a name of its own, so two writers never share a
//! temp), are fsynced, the temp is renamed over the destination, and the
//! directory is fsynced so the rename itself survives a crash. A reader
//! therefore sees the old file or the new one, never a mix, and after a
//! power loss the file is one of the two. When any step fails (ENOSPC on
//! a full disk, most often) the temp file is removed and the destination
//! is untouched. A process killed between the create and the rename leaves
//! a hidden `.NAME.<hex>.tmp` beside the file; it is only wasted space.
//!
//! Writing a new file needs new space, so on a full disk [`write`] fails.
//! Removals must still work there (`rmi` rewrites `index.json`), so the
//! store keeps a preallocated reserve file ([`Reserve`]): a write made to
//! free space that fails for lack of room deletes the reserve and tries
//! once more, and the reserve is made again when there is room to spare.
//! This module depends on nothing else in burrow, so every module may use
//! it.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::fd::AsRawFd;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

/// Replace `dest` with `bytes` (mode 0644 before the umask).
pub fn write(dest: &Path, bytes: &[u8]) -> io::Result<()> {
    write_mode(dest, bytes, 0o644)
}

/// Replace `dest` with `bytes`, creating it with `mode` (before the umask).
pub fn write_mode(dest: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let tmp = temp_name(dest)?;
    let written = (|| {
        let mut f = OpenOptions::new().write(true).create_new(true).mode(mode).open(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()?;
        fs::rename(&tmp, dest)
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    fsync_dir(dest.parent().unwrap_or(Path::new(".")));
    Ok(())
}

/// A fresh temp name beside `dest`: `.NAME.<16 hex>.tmp`.
fn temp_name(dest: &Path) -> io::Result<PathBuf> {
    let name = dest.file_name().ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name to write"))?;
    let dir = dest.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    Ok(dir.join(format!(".{}.{}.tmp", name.to_string_lossy(), random_hex())))
}

/// 16 random hex digits (names are also created with O_EXCL, so a weak
/// fallback only risks a retry-worthy error, never a shared temp).
pub fn random_hex() -> String {
    let mut b = [0u8; 8];
    if getrandom::getrandom(&mut b).is_err() {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b = (t.as_nanos() as u64 ^ u64::from(std::process::id())).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Best-effort fsync of a directory, so a rename into it is durable.
pub fn fsync_dir(dir: &Path) {
    if let Ok(f) = File::open(dir) {
        let _ = f.sync_all();
    }
}

/// Whether an error means the file system has no room (or quota) left.
pub fn is_no_space(e: &io::Error) -> bool {
    matches!(e.raw_os_error(), Some(libc::ENOSPC) | Some(libc::EDQUOT))
}

/// A preallocated file that holds room for bookkeeping writes on a full
/// disk (see the module comment).
#[derive(Debug, Clone)]
pub struct Reserve {
    path: PathBuf,
    size: u64,
}

impl Reserve {
    /// The store's reserve: 1 MiB, room for an `index.json` of thousands
    /// of images.
    pub const SIZE: u64 = 1 << 20;

    pub fn new(path: PathBuf, size: u64) -> Reserve {
        Reserve { path, size }
    }

    /// Run `write`; if it fails for lack of room, give the reserve back
    /// to the file system and run it once more. Use only for writes that
    /// are part of freeing space.
    pub fn with_room<T>(&self, mut write: impl FnMut() -> io::Result<T>) -> io::Result<T> {
        match write() {
            Err(e) if is_no_space(&e) && self.path.exists() => {
                tracing::info!(reserve = %self.path.display(), "the disk is full; releasing the reserve to record a removal");
                fs::remove_file(&self.path).or_else(|e| if e.kind() == io::ErrorKind::NotFound { Ok(()) } else { Err(e) })?;
                write()
            }
            r => r,
        }
    }

    /// Make the reserve if it is missing and the file system has at least
    /// four times its size free (so it never takes the last room a user
    /// needs). Best effort: failures are logged at debug level.
    pub fn replenish(&self) {
        if self.path.exists() {
            return;
        }
        let Some(dir) = self.path.parent() else { return };
        // fsblkcnt_t and c_ulong are 32 bits wide on some targets.
        #[allow(clippy::useless_conversion)]
        let free = match nix::sys::statvfs::statvfs(dir) {
            Ok(s) => u64::from(s.blocks_available()).saturating_mul(u64::from(s.fragment_size())),
            Err(_) => return,
        };
        if free < self.size.saturating_mul(4) {
            return;
        }
        if let Err(e) = self.create() {
            tracing::debug!(%e, reserve = %self.path.display(), "cannot make the reserve");
        }
    }

    fn create(&self) -> io::Result<()> {
        let tmp = temp_name(&self.path)?;
        let made = (|| {
            let f = OpenOptions::new().write(true).create_new(true).mode(0o600).open(&tmp)?;
            let len = libc::off_t::try_from(self.size).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
            // SAFETY: plain system call on a descriptor we own; no memory is passed.
            let rc = unsafe { libc::posix_fallocate(f.as_raw_fd(), 0, len) };
            if rc != 0 {
                return Err(io::Error::from_raw_os_error(rc));
            }
            f.sync_all()?;
            fs::rename(&tmp, &self.path)
        })();
        if made.is_err() {
            let _ = fs::remove_file(&tmp);
        }
        made
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> = fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn replaces_and_leaves_nothing_else() {
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("f.json");
        write(&f, b"one").unwrap();
        write(&f, b"two").unwrap();
        assert_eq!(fs::read(&f).unwrap(), b"two");
        assert_eq!(names(t.path()), ["f.json"]);
    }

    #[test]
    fn a_failed_write_removes_its_temp_and_keeps_the_old_file() {
        let t = tempfile::tempdir().unwrap();
        // A non-empty directory cannot be replaced by a file: the rename fails.
        let d = t.path().join("d");
        fs::create_dir(&d).unwrap();
        fs::write(d.join("inside"), b"x").unwrap();
        assert!(write(&d, b"new").is_err());
        assert_eq!(names(t.path()), ["d"]);
        assert_eq!(names(&d), ["inside"]);
    }

    #[test]
    fn mode_is_applied() {
        use std::os::unix::fs::PermissionsExt;
        let t = tempfile::tempdir().unwrap();
        let f = t.path().join("secret");
        write_mode(&f, b"s", 0o600).unwrap();
        assert_eq!(fs::metadata(&f).unwrap().permissions().mode() & 0o777, 0o600);
    }

    #[test]
    fn reserve_is_released_only_for_lack_of_room() {
        let t = tempfile::tempdir().unwrap();
        let r = Reserve::new(t.path().join("reserve"), 4096);
        r.replenish();
        assert_eq!(fs::metadata(t.path().join("reserve")).unwrap().len(), 4096);
        let other = r.with_room(|| Err::<(), _>(io::Error::from(io::ErrorKind::PermissionDenied)));
        assert!(other.is_err());
        assert!(t.path().join("reserve").exists(), "kept for an error that is not ENOSPC");
        let mut tries = 0;
        let ok = r.with_room(|| {
            tries += 1;
            if tries == 1 {
                Err(io::Error::from_raw_os_error(libc::ENOSPC))
            } else {
                Ok(tries)
            }
        });
        assert_eq!(ok.unwrap(), 2);
        assert!(!t.path().join("reserve").exists());
        r.replenish();
        assert_eq!(names(t.path()), ["reserve"]);
    }
}
