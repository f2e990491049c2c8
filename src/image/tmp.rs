//! The store's `tmp/`: work in progress (a layer being unpacked, a blob
//! being written, a layer being deleted) until it is moved into place or
//! dropped. A command killed half-way leaves its entries there; nothing
//! names them, so they only take space until `clear` removes them.
//!
//! Telling a leftover from another command's work in progress needs no
//! guess from ages: a process takes a shared `flock(2)` on the `tmp/`
//! directory itself the first time it names an entry there
//! (`fsutil::temp_path` calls `hold`) and keeps it until it exits, when
//! the kernel drops it. `clear` takes the lock exclusively without
//! waiting: when it gets it, no other live process can own an entry, and
//! everything in `tmp/` is a leftover; when it does not, it removes
//! nothing and says so. (A process that called `hold` must not call
//! `clear` while its own entries are in use; `system prune` and `system
//! check` call it when their own work is done.)

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// The `tmp/` directories this process holds, each open with its lock.
static HELD: Mutex<Vec<(PathBuf, File)>> = Mutex::new(Vec::new());

fn flock(f: &File, op: libc::c_int) -> io::Result<()> {
    // SAFETY: flock on a descriptor `f` owns.
    if unsafe { libc::flock(f.as_raw_fd(), op) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Mark this process as a user of `tmp` until it exits (see the module
/// comment). Waits while a `clear` runs. Best effort: a `tmp` that cannot
/// be opened is left to fail where it is used.
pub fn hold(tmp: &Path) {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    if held.iter().any(|(p, _)| p == tmp) {
        return;
    }
    let taken = File::open(tmp).and_then(|f| flock(&f, libc::LOCK_SH).map(|_| f));
    match taken {
        Ok(f) => held.push((tmp.to_path_buf(), f)),
        Err(e) => tracing::debug!(path = %tmp.display(), "cannot lock the temp directory: {e}"),
    }
}

/// A fresh name under `tmp` (not created), holding `tmp` for this
/// process as every entry's maker must.
pub fn temp_path(tmp: &Path, prefix: &str) -> PathBuf {
    super::fsutil::temp_path(tmp, prefix)
}

/// What `clear` found.
#[derive(Debug, Default)]
pub struct Cleared {
    /// Entries removed, by name.
    pub removed: Vec<String>,
    /// Entries that could not be removed, with why.
    pub failed: Vec<(String, io::Error)>,
}

/// Remove every entry of `tmp` if no other process uses it; `None` when
/// one does (nothing is removed then). Run inside burrow's user namespace:
/// the entries hold files of container ids.
pub fn clear(tmp: &Path) -> io::Result<Option<Cleared>> {
    let mut held = HELD.lock().unwrap_or_else(|p| p.into_inner());
    let ours = held.iter().position(|(p, _)| p == tmp);
    let f = match ours {
        Some(i) => &held[i].1,
        None => {
            let f = match File::open(tmp) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Some(Cleared::default())),
                other => other?,
            };
            held.push((tmp.to_path_buf(), f));
            &held[held.len() - 1].1
        }
    };
    // Converting a shared lock drops it first, so on failure it is taken
    // again (a process only reaches here with its own work finished).
    if let Err(e) = flock(f, libc::LOCK_EX | libc::LOCK_NB) {
        let back = if ours.is_some() { flock(f, libc::LOCK_SH) } else { Ok(()) };
        if ours.is_none() {
            held.pop();
        }
        back?;
        return if e.kind() == io::ErrorKind::WouldBlock { Ok(None) } else { Err(e) };
    }
    let mut out = Cleared::default();
    let entries = std::fs::read_dir(tmp).and_then(|rd| rd.map(|e| e.map(|e| e.file_name())).collect::<io::Result<Vec<_>>>());
    for name in entries.unwrap_or_default() {
        let shown = name.to_string_lossy().into_owned();
        match crate::rmtree::remove_tree(&tmp.join(&name)) {
            Ok(()) => out.removed.push(shown),
            Err(e) => out.failed.push((shown, e)),
        }
    }
    out.removed.sort();
    // Keep using tmp/ as before: a shared lock, as `hold` takes.
    flock(f, libc::LOCK_SH)?;
    Ok(Some(out))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clears_only_when_no_other_process_holds_it() {
        let t = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(t.path().join("layer-1/sub")).unwrap();
        std::fs::write(t.path().join("blob-2"), b"x").unwrap();
        // Another process's hold: a lock on another open of the directory.
        let other = File::open(t.path()).unwrap();
        flock(&other, libc::LOCK_SH).unwrap();
        assert!(clear(t.path()).unwrap().is_none());
        assert!(t.path().join("layer-1/sub").is_dir(), "work in progress stays");
        drop(other);
        hold(t.path());
        let done = clear(t.path()).unwrap().unwrap();
        assert_eq!(done.removed, ["blob-2", "layer-1"]);
        assert!(done.failed.is_empty());
        assert_eq!(std::fs::read_dir(t.path()).unwrap().count(), 0);
        // This process still holds it shared.
        let probe = File::open(t.path()).unwrap();
        assert_eq!(flock(&probe, libc::LOCK_EX | libc::LOCK_NB).unwrap_err().kind(), io::ErrorKind::WouldBlock);
    }
}
