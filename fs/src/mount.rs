//! Sessions: serving an overlay on a /dev/fuse descriptor, or mounting it.
//!
//! Two ways in. [`serve`] takes a /dev/fuse descriptor whose mount(2) the
//! caller did (the engine, root in a user namespace, mounts with the
//! string from [`mount_data`]), performs the FUSE INIT handshake and
//! serves from worker threads, each on its own cloned descriptor.
//! [`spawn_mount`] mounts by itself through fuser: mount(2) directly when
//! root (of a user namespace or not), with `allow_other`; else through
//! fusermount3 as an ordinary user, without `allow_other` (fuse.conf does
//! not allow it) — only the mounting user sees the files then. Both use
//! `default_permissions`: the kernel checks modes against the ids the
//! overlay reports.

use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::sync::Arc;

use fuser::{MountOption, Session, SessionACL};

use crate::fuse::{Fs, MAX_WRITE};
use crate::ops::Overlay;
use crate::overlay::Stack;
use crate::{Config, Error};

/// Worker threads when the caller does not say: one per core, at least
/// four, at most eight. Even a client that waits for each answer gets
/// them faster with more workers than cores (packaging/bench/fs, two
/// cores, medians: untar 8711 ms with 2 workers, 4654 with 3, 4085 with
/// 4, 4098 with 6; copy-up 381/296/260/266 ms; rm -rf 1117/850/686/813
/// ms); and a slow copy-up does not stall the other requests.
pub fn default_threads() -> usize {
    std::thread::available_parallelism().map_or(4, |n| n.get()).clamp(4, 8)
}

fn overlay(cfg: &Config) -> Result<Overlay, Error> {
    let stack = Stack::open(&cfg.lowers, Some(&cfg.upper), Some(&cfg.work))?;
    Overlay::new(stack).map_err(|source| Error::Upper { path: cfg.upper.clone(), source })
}

fn session_config(threads: usize, options: Vec<MountOption>, acl: SessionACL) -> fuser::Config {
    let mut c = fuser::Config::default();
    c.mount_options = options;
    c.acl = acl;
    c.n_threads = Some(threads.max(1));
    c.clone_fd = true;
    c
}

/// A running session on an already-mounted /dev/fuse descriptor.
#[derive(Debug)]
pub struct Server {
    session: fuser::BackgroundSession,
}

impl Server {
    /// Wait until the connection ends (unmount or abort).
    pub fn join(self) -> std::io::Result<()> {
        self.session.join()
    }
}

/// Serve `cfg` on `fd`, an open /dev/fuse the caller mounted (or will
/// mount: this blocks in the INIT handshake until the kernel speaks),
/// with `threads` workers.
pub fn serve(fd: OwnedFd, cfg: Config, threads: usize) -> Result<Server, Error> {
    let fs = Fs::new(Arc::new(overlay(&cfg)?));
    let session = Session::from_fd(fs, fd, SessionACL::All, session_config(threads, Vec::new(), SessionACL::All))
        .map_err(|source| Error::Session { source })?;
    let session = session.spawn().map_err(|source| Error::Session { source })?;
    Ok(Server { session })
}

/// The data string for mount(2) with type "fuse" by a caller who is root
/// in a user namespace:
///
/// - `fd=N`: the open /dev/fuse;
/// - `rootmode=`: file type and permissions of the root, octal;
/// - `user_id=0,group_id=0`: the mount belongs to namespace root;
/// - `allow_other`: every user of the container may use it;
/// - `default_permissions`: the kernel checks permissions from the modes
///   and owners the overlay reports (the overlay itself runs as root);
/// - `max_read=1048576`: reads as large as the writes we accept.
pub fn mount_data(fd: BorrowedFd<'_>, root_mode: u32) -> String {
    format!(
        "fd={},rootmode={:o},user_id=0,group_id=0,allow_other,default_permissions,max_read={MAX_WRITE}",
        fd.as_raw_fd(),
        libc::S_IFDIR | (root_mode & 0o7777)
    )
}

/// A mounted overlay served by background threads; Drop unmounts and joins.
#[derive(Debug)]
pub struct Mounted {
    session: Option<fuser::BackgroundSession>,
    mountpoint: std::path::PathBuf,
}

impl Mounted {
    /// Unmount and wait for the workers, reporting failures.
    pub fn unmount(mut self) -> std::io::Result<()> {
        match self.session.take() {
            Some(s) => s.umount_and_join(),
            None => Ok(()),
        }
    }

    /// Wait until someone else unmounts.
    pub fn join(mut self) -> std::io::Result<()> {
        match self.session.take() {
            Some(s) => s.join(),
            None => Ok(()),
        }
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        if let Some(s) = self.session.take() {
            if let Err(e) = s.umount_and_join() {
                // Busy for a moment (a release still in flight): detach it
                // lazily rather than leave it behind.
                tracing::debug!(error = %e, "unmounting the overlay failed; detaching it");
                lazy_unmount(&self.mountpoint);
            }
        }
    }
}

fn lazy_unmount(mountpoint: &Path) {
    let Ok(c) = std::ffi::CString::new(mountpoint.as_os_str().as_encoded_bytes()) else { return };
    // SAFETY: `c` is a NUL-terminated path that outlives the call, which
    // only reads it; a lazy unmount touches no memory of this process.
    if unsafe { libc::umount2(c.as_ptr(), libc::MNT_DETACH) } != 0 {
        let _ = std::process::Command::new("fusermount3").args(["-u", "-z", "--"]).arg(mountpoint).status();
    }
}

/// Mount `cfg` at `mountpoint` and serve it in background threads.
pub fn spawn_mount(cfg: Config, mountpoint: &Path) -> Result<Mounted, Error> {
    spawn_mount_threads(cfg, mountpoint, default_threads())
}

/// [`spawn_mount`] with a chosen number of worker threads.
pub fn spawn_mount_threads(cfg: Config, mountpoint: &Path, threads: usize) -> Result<Mounted, Error> {
    let fs = Fs::new(Arc::new(overlay(&cfg)?));
    let root = crate::sys::euid() == 0;
    let mut options = vec![
        MountOption::FSName("burrow".into()),
        MountOption::Subtype("burrow".into()),
        MountOption::DefaultPermissions,
        MountOption::CUSTOM(format!("max_read={MAX_WRITE}")),
    ];
    if root {
        options.push(MountOption::Dev);
        options.push(MountOption::Suid);
    }
    let acl = if root { SessionACL::All } else { SessionACL::Owner };
    let err = |source| Error::Mount { mountpoint: mountpoint.to_path_buf(), source };
    let session = Session::new(fs, mountpoint, &session_config(threads, options, acl)).map_err(err)?;
    let session = session.spawn().map_err(err)?;
    Ok(Mounted { session: Some(session), mountpoint: mountpoint.to_path_buf() })
}
