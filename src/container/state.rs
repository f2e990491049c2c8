//! What is true about a container right now, and who may change it.
//!
//! Four `flock(2)` files in the container's directory carry the truth,
//! because the kernel drops a lock when its holder dies, so nothing here
//! can go stale after a `kill -9`:
//!
//! - `monitor.lock` is held exclusively by the process that supervises the
//!   container (the monitor of a detached container, or `burrow run`
//!   itself in the foreground) for as long as it lives. A container is
//!   running exactly while this lock is held; `wait` blocks on it, and a
//!   record that says "running" while nobody holds it belonged to a
//!   monitor that was killed (`record::reconcile` then marks it exited).
//! - `lifecycle.lock` serialises the commands that change a container's
//!   life (start, stop, kill, restart, rm, rename): two of them on the
//!   same container at once run one after the other.
//! - `creator.lock` is held by the `burrow run` that made the container,
//!   from before its record exists until the container is handed to its
//!   monitor (`run -d`) or, in the foreground, until it is removed after
//!   its exit (`--rm`). A `--rm` container whose creator and monitor are
//!   both gone, and that is not running, was abandoned half-way (the
//!   command was killed, or died of SIGPIPE): `record::reconcile` removes
//!   it. `burrow create` makes no such file, so the container it leaves
//!   for a later `start` is never taken for abandoned.
//! - `record.lock` guards a read-modify-write of the record
//!   (`container.json` and `live.bin`, see `record` and `live`), held
//!   only for the moment of the update, so the monitor (which records pid,
//!   status and exit code) and a command (which renames) never undo each
//!   other's changes. The monitor never takes `lifecycle.lock`, so a `stop`
//!   holding it can wait for the monitor to finish.

use std::fs::{File, OpenOptions};
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::fcntl::{Flock, FlockArg};

use super::{Error, Result};

const MONITOR: &str = "monitor.lock";
const LIFECYCLE: &str = "lifecycle.lock";
const RECORD: &str = "record.lock";
const CREATOR: &str = "creator.lock";

/// A held lock on one of a container's lock files; dropping it unlocks.
#[derive(Debug)]
pub struct Held {
    flock: Flock<File>,
}

impl Held {
    /// The descriptor, for a monitor that keeps the lock across `execve`.
    pub fn raw_fd(&self) -> i32 {
        self.flock.as_raw_fd()
    }
}

fn open(path: &Path) -> Result<File> {
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(path)
        .map_err(|source| Error::Io { path: path.to_path_buf(), source })
}

/// Take a lock without waiting; `None` when someone else holds it.
fn lock(path: PathBuf, arg: FlockArg) -> Result<Option<Held>> {
    let file = open(&path)?;
    match Flock::lock(file, arg) {
        Ok(flock) => Ok(Some(Held { flock })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(Error::Io { path, source: e.into() }),
    }
}

/// Take a lock, waiting as long as it is held.
fn lock_wait(path: PathBuf, arg: FlockArg) -> Result<Held> {
    let file = open(&path)?;
    Flock::lock(file, arg).map(|flock| Held { flock }).map_err(|(_, e)| Error::Io { path, source: e.into() })
}

/// Become the container's supervisor; `None` when another process
/// already supervises it. `monitor_alive` probes with a shared lock held
/// for an instant, so a busy lock is tried again for a while before it
/// counts as a supervisor's (which holds it for the container's life): 1
/// in 500 concurrent `run`s lost its own fresh container to another
/// command's probe.
pub fn claim_monitor(dir: &Path) -> Result<Option<Held>> {
    let mut pause = Duration::from_micros(100);
    let deadline = Instant::now() + Duration::from_millis(200);
    loop {
        if let Some(held) = lock(dir.join(MONITOR), FlockArg::LockExclusiveNonblock)? {
            return Ok(Some(held));
        }
        if Instant::now() >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Take over the monitor lock a previous image of this process held
/// across `execve` (a restart re-executes the supervisor).
pub fn adopt_monitor(fd: i32) -> Result<Option<Held>> {
    use std::os::fd::FromRawFd;
    // SAFETY: the descriptor was left open for us by the process image
    // that held the lock; nothing else in this process owns it.
    let file = unsafe { File::from_raw_fd(fd) };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(flock) => Ok(Some(Held { flock })),
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => Ok(None),
        Err((_, e)) => Err(Error::Io { path: format!("/proc/self/fd/{fd}").into(), source: e.into() }),
    }
}

/// Whether a supervisor holds the container (it is running or starting).
pub fn monitor_alive(dir: &Path) -> bool {
    let path = dir.join(MONITOR);
    if !path.exists() {
        return false;
    }
    matches!(lock(path, FlockArg::LockSharedNonblock), Ok(None))
}

/// Wait until no supervisor holds the container, up to `timeout` (for
/// ever with `None`); true when it is free. Without a timeout this blocks
/// in `flock` itself, so it returns the moment the supervisor exits; with
/// one it polls, from 1 ms up to 10 ms apart.
pub fn wait_monitor_gone(dir: &Path, timeout: Option<Duration>) -> bool {
    let path = dir.join(MONITOR);
    let Some(timeout) = timeout else {
        if !path.exists() {
            return true;
        }
        return match lock_wait(path, FlockArg::LockShared) {
            Ok(_) => true,
            Err(e) => {
                tracing::debug!(%e, "cannot wait on the monitor lock; polling");
                wait_monitor_gone(dir, Some(Duration::from_secs(86_400 * 365)))
            }
        };
    };
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(1);
    loop {
        if !monitor_alive(dir) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(pause.min(deadline.saturating_duration_since(Instant::now())));
        pause = (pause * 2).min(Duration::from_millis(10));
    }
}

/// Become the creator of the container in `dir` (a new directory, so
/// nobody else holds it).
pub fn claim_creator(dir: &Path) -> Result<Held> {
    lock_wait(dir.join(CREATOR), FlockArg::LockExclusive)
}

/// Whether the container had a creating `run` and it is gone (see the
/// module comment); false for a container `burrow create` made.
pub fn creator_gone(dir: &Path) -> bool {
    let path = dir.join(CREATOR);
    path.exists() && matches!(lock(path, FlockArg::LockSharedNonblock), Ok(Some(_)))
}

/// Whether the `run` that made the container still lives.
pub fn creator_alive(dir: &Path) -> bool {
    let path = dir.join(CREATOR);
    path.exists() && matches!(lock(path, FlockArg::LockSharedNonblock), Ok(None))
}

/// Serialise a lifecycle command on this container.
pub fn lifecycle(dir: &Path) -> Result<Held> {
    lock_wait(dir.join(LIFECYCLE), FlockArg::LockExclusive).map_err(|e| match e {
        // Removed meanwhile: a removal moves the directory away first.
        Error::Io { source, .. } if source.kind() == std::io::ErrorKind::NotFound => {
            Error::NoSuchContainer { key: dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default() }
        }
        e => e,
    })
}

/// The lifecycle lock if no other command holds it now.
pub fn try_lifecycle(dir: &Path) -> Result<Option<Held>> {
    lock(dir.join(LIFECYCLE), FlockArg::LockExclusiveNonblock)
}

/// Hold the record lock for one read-modify-write.
pub(super) fn record_lock(dir: &Path) -> Result<Held> {
    lock_wait(dir.join(RECORD), FlockArg::LockExclusive)
}

/// The file whose presence tells the monitor that the user stopped the
/// container, so its restart policy must not bring it back.
pub fn stop_marker(dir: &Path) -> PathBuf {
    dir.join("stopped-by-user")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monitor_lock_tells_liveness() {
        let t = tempfile::tempdir().unwrap();
        assert!(!monitor_alive(t.path()));
        let held = claim_monitor(t.path()).unwrap().unwrap();
        assert!(monitor_alive(t.path()));
        assert!(claim_monitor(t.path()).unwrap().is_none());
        assert!(!wait_monitor_gone(t.path(), Some(Duration::from_millis(20))));
        drop(held);
        assert!(!monitor_alive(t.path()));
        assert!(wait_monitor_gone(t.path(), Some(Duration::ZERO)));
    }

    #[test]
    fn creator_lock_tells_an_abandoned_container() {
        let t = tempfile::tempdir().unwrap();
        assert!(!creator_gone(t.path()) && !creator_alive(t.path()), "no creator: made by `create`");
        let held = claim_creator(t.path()).unwrap();
        assert!(creator_alive(t.path()) && !creator_gone(t.path()));
        drop(held);
        assert!(creator_gone(t.path()) && !creator_alive(t.path()));
    }
}
