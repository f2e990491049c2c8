//! File writes, and answering a large one before it lands.
//!
//! Theory of operation. A write through a FUSE server is serial: the
//! writer's write(2) waits while the server copies the data out of the
//! request and then into the upper file, and only then may the writer
//! prepare its next buffer. Once the server holds the data (its request
//! buffer, valid until the handler returns) and the upper file is open,
//! nothing but the copy into the file is left, so a large write is
//! acknowledged first and written right after, while the writer moves on
//! on the other core: the kernel's own page cache does the same. Three
//! rules keep that invisible:
//!
//! - Order. Each file has a gate ([`Behind`]), held by a write from before
//!   its acknowledgement until its data is in the file. The next write to
//!   the file, and every other request about it, pass the gate first
//!   ([`Behind::settle`] from `Overlay::node`, and from `Overlay::present`
//!   for attributes found by name in a lookup or a listing), so a read, a
//!   stat, a truncate or an fsync sees the data.
//! - Room. Only when the upper filesystem has room for the write plus
//!   [`HEADROOM`] ([`goes_behind`]); nearer full a write is answered after
//!   it is done, so ENOSPC reaches the writer's write(2), as on a disk.
//! - Errors. A write that fails after its acknowledgement (EIO, or EDQUOT,
//!   which statvfs does not show) is logged and reported, once, by the
//!   next write or fsync of that file, as the kernel reports writeback
//!   errors; that write is then not done.
//!
//! Small writes gain nothing from it and are answered when done.

use std::io;
use std::os::fd::BorrowedFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::inode::{lock, Ino};
use crate::ops::Overlay;
use crate::sys;

/// Smallest write that is acknowledged before it lands.
pub const BEHIND_MIN: usize = 64 << 10;

/// Free space the upper filesystem must keep beyond a write for it to be
/// acknowledged before it lands: more than all the workers' writes that
/// can be in flight at once (one per file, at most a MiB each).
pub const HEADROOM: u64 = 64 << 20;

/// Whether a write of `len` bytes may be acknowledged before it lands,
/// with `avail` bytes free for the server on the upper filesystem.
pub fn goes_behind(len: usize, avail: u64) -> bool {
    len >= BEHIND_MIN && avail >= len as u64 + HEADROOM
}

/// A file's write gate and its pending error.
#[derive(Debug, Default)]
pub struct Behind {
    gate: Mutex<()>,
    /// A write was acknowledged and is not in the file yet.
    pending: AtomicBool,
    /// The failure of an acknowledged write, until reported.
    error: Mutex<Option<io::Error>>,
}

/// The held gate of one file.
#[derive(Debug)]
pub struct Gate<'a> {
    behind: &'a Behind,
    /// The overlay's count of acknowledged writes in flight.
    in_flight: &'a AtomicUsize,
    pending: bool,
    _held: MutexGuard<'a, ()>,
}

impl Behind {
    /// Take the gate: wait for the file's write in flight, if any.
    pub fn enter<'a>(&'a self, in_flight: &'a AtomicUsize) -> Gate<'a> {
        Gate { behind: self, in_flight, pending: false, _held: lock(&self.gate) }
    }

    /// Wait until a write acknowledged before this call is in the file.
    /// Must not be called by the holder of the gate.
    pub fn settle(&self) {
        if self.is_pending() {
            drop(lock(&self.gate));
        }
    }

    pub fn is_pending(&self) -> bool {
        self.pending.load(Ordering::Acquire)
    }

    /// The failure of an acknowledged write, once.
    pub fn take_error(&self) -> Option<io::Error> {
        lock(&self.error).take()
    }
}

impl Gate<'_> {
    /// From now on the write is acknowledged but not in the file: other
    /// requests about the file wait for this gate.
    pub fn go_behind(&mut self) {
        if !self.pending {
            self.pending = true;
            self.in_flight.fetch_add(1, Ordering::AcqRel);
            self.behind.pending.store(true, Ordering::Release);
        }
    }

    /// Keep the failure of the acknowledged write for the next write or
    /// fsync of the file.
    pub fn failed(&self, e: io::Error) {
        *lock(&self.behind.error) = Some(e);
    }
}

impl Drop for Gate<'_> {
    /// The data is in the file (or failed): clear the mark, then the gate
    /// opens (the guard field drops after this).
    fn drop(&mut self) {
        if self.pending {
            self.behind.pending.store(false, Ordering::Release);
            self.in_flight.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

/// What became of a write.
#[derive(Debug, PartialEq, Eq)]
pub enum Written {
    /// Done, this many bytes; the caller answers.
    Done(usize),
    /// Acknowledged through the callback before it was done; its outcome
    /// goes to the next write or fsync.
    Acknowledged,
}

impl Overlay {
    /// Write `data` at `offset` into file `ino`, copying it up first.
    /// `acknowledge` is called when the write is answered before it
    /// lands (see the module notes). `kill_suidgid`: the writer lacks
    /// CAP_FSETID, so clear set-user-id, and set-group-id with group
    /// execute, as a local filesystem does on write.
    pub fn write(&self, ino: Ino, offset: u64, data: &[u8], kill_suidgid: bool, acknowledge: impl FnOnce()) -> io::Result<Written> {
        let node = self.node(ino)?;
        let mut gate = node.behind.enter(&self.writes_in_flight);
        if let Some(e) = node.behind.take_error() {
            return Err(e);
        }
        self.with_fd_of(&node, true, |fd| {
            let avail = if data.len() >= BEHIND_MIN { self.upper_avail() } else { 0 };
            let behind = goes_behind(data.len(), avail);
            if behind {
                gate.go_behind();
                acknowledge();
            }
            let r = write_all(fd, data, offset).and_then(|n| {
                if kill_suidgid {
                    clear_setid(fd)?;
                }
                Ok(n)
            });
            match r {
                Ok(n) if !behind => Ok(Written::Done(n)),
                Ok(_) => Ok(Written::Acknowledged),
                Err(e) if !behind => Err(e),
                Err(e) => {
                    tracing::warn!(ino = ino.0, offset, len = data.len(), error = %e,
                        "a write answered before it landed failed; the next write or fsync of the file reports it");
                    gate.failed(e);
                    Ok(Written::Acknowledged)
                }
            }
        })
    }

    /// fsync (or fdatasync) file `ino`, after its write in flight, and
    /// report that write's failure if it failed.
    pub fn fsync(&self, ino: Ino, datasync: bool) -> io::Result<()> {
        let node = self.node(ino)?;
        if let Some(e) = node.behind.take_error() {
            return Err(e);
        }
        self.with_fd_of(&node, false, |fd| if datasync { sys::fdatasync(fd) } else { sys::fsync(fd) })
    }

    /// Bytes the server may still write to the upper filesystem (0 when
    /// it cannot tell).
    fn upper_avail(&self) -> u64 {
        match sys::fstatvfs(self.stack.upper()) {
            Ok(s) => s.f_bavail.saturating_mul(s.f_frsize),
            Err(_) => 0,
        }
    }
}

fn write_all(fd: BorrowedFd<'_>, data: &[u8], offset: u64) -> io::Result<usize> {
    let mut done = 0usize;
    while done < data.len() {
        let n = sys::pwrite(fd, &data[done..], offset + done as u64)?;
        if n == 0 {
            return Err(sys::errno(libc::EIO));
        }
        done += n;
    }
    Ok(done)
}

fn clear_setid(fd: BorrowedFd<'_>) -> io::Result<()> {
    let mode = sys::fstat(fd)?.st_mode;
    let sgid = libc::S_ISGID | libc::S_IXGRP;
    if mode & libc::S_ISUID != 0 || mode & sgid == sgid {
        sys::fchmod(fd, mode & 0o7777 & !(libc::S_ISUID | libc::S_ISGID))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;
    use std::time::Duration;

    #[test]
    fn only_large_writes_with_room_go_behind() {
        let mib = 1 << 20;
        assert!(goes_behind(mib, 1 << 30));
        assert!(goes_behind(BEHIND_MIN, BEHIND_MIN as u64 + HEADROOM));
        assert!(!goes_behind(BEHIND_MIN - 1, 1 << 30), "small writes are answered when done");
        assert!(!goes_behind(mib, mib as u64 + HEADROOM - 1), "near full, ENOSPC must reach write(2)");
        assert!(!goes_behind(mib, 0), "unknown free space");
    }

    #[test]
    fn settle_waits_for_the_write_in_flight() {
        let b = Arc::new(Behind::default());
        let n = Arc::new(AtomicUsize::new(0));
        let landed = Arc::new(AtomicBool::new(false));
        let (tx, rx) = std::sync::mpsc::channel();
        let writer = {
            let (b, n, landed) = (b.clone(), n.clone(), landed.clone());
            std::thread::spawn(move || {
                let mut g = b.enter(&n);
                g.go_behind();
                tx.send(()).unwrap();
                std::thread::sleep(Duration::from_millis(100));
                landed.store(true, Ordering::SeqCst);
            })
        };
        rx.recv().unwrap();
        assert!(b.is_pending());
        assert_eq!(n.load(Ordering::SeqCst), 1);
        b.settle();
        assert!(landed.load(Ordering::SeqCst), "settle returned before the write landed");
        writer.join().unwrap();
        assert!(!b.is_pending());
        assert_eq!(n.load(Ordering::SeqCst), 0);
    }

    /// Through a real overlay on temp dirs: a large write past the file
    /// size limit (RLIMIT_FSIZE: EFBIG, in a child process of its own) is
    /// acknowledged, then its failure comes back from the next fsync,
    /// once; a small one fails at once; one within the limit lands.
    #[test]
    fn a_write_that_fails_after_its_acknowledgement_is_reported_by_fsync() {
        if std::env::var_os("BURROW_FS_TEST_FSIZE").is_none() {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args(["--exact", "writes::tests::a_write_that_fails_after_its_acknowledgement_is_reported_by_fsync"])
                .args(["--nocapture", "--test-threads=1"])
                .env("BURROW_FS_TEST_FSIZE", "1")
                .output()
                .unwrap();
            let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
            assert!(out.status.success() && text.contains("1 passed"), "the test in a child with RLIMIT_FSIZE:\n{text}");
            return;
        }
        let limit = 1u64 << 20;
        // SAFETY: SIG_IGN installs no handler code, so no Rust code runs in
        // signal context; this child process runs only this one test.
        unsafe { libc::signal(libc::SIGXFSZ, libc::SIG_IGN) };
        let rl = libc::rlimit { rlim_cur: limit, rlim_max: limit };
        // SAFETY: `rl` is a live rlimit the call only reads.
        assert_eq!(unsafe { libc::setrlimit(libc::RLIMIT_FSIZE, &rl) }, 0);
        let t = tempfile::tempdir().unwrap();
        let p = |s: &str| t.path().join(s);
        for d in ["l", "u", "w"] {
            std::fs::create_dir_all(p(d)).unwrap();
        }
        std::fs::write(p("u/f"), "").unwrap();
        let stack = crate::overlay::Stack::open(&[p("l")], Some(&p("u")), Some(&p("w"))).unwrap();
        let ov = Overlay::new(stack).unwrap();
        let (ino, _) = ov.lookup(Ino::ROOT, b"f").unwrap().unwrap();
        assert!(ov.upper_avail() >= HEADROOM + (1 << 20), "the temp dir needs {HEADROOM} bytes free for this test");
        let big = vec![7u8; 256 << 10];

        let mut acked = false;
        assert_eq!(ov.write(ino, 0, &big, false, || acked = true).unwrap(), Written::Acknowledged);
        assert!(acked);
        let (_, st) = ov.lookup(Ino::ROOT, b"f").unwrap().unwrap();
        assert_eq!(st.st_size, big.len() as i64);

        let mut acked = false;
        assert_eq!(ov.write(ino, limit + 4096, &big, false, || acked = true).unwrap(), Written::Acknowledged);
        assert!(acked, "a large write with room is acknowledged before it lands");
        let e = ov.fsync(ino, false).expect_err("the failure reaches fsync");
        assert_eq!(e.raw_os_error(), Some(libc::EFBIG));
        ov.fsync(ino, false).expect("reported once");

        let e = ov.write(ino, limit + 4096, b"small", false, || panic!("a small write is not acknowledged early")).unwrap_err();
        assert_eq!(e.raw_os_error(), Some(libc::EFBIG));
        assert_eq!(std::fs::read(p("u/f")).unwrap(), big);
    }

    #[test]
    fn a_failure_is_reported_once() {
        let b = Behind::default();
        let n = AtomicUsize::new(0);
        {
            let mut g = b.enter(&n);
            g.go_behind();
            g.failed(sys::errno(libc::EIO));
        }
        assert!(!b.is_pending());
        assert_eq!(b.take_error().and_then(|e| e.raw_os_error()), Some(libc::EIO));
        assert!(b.take_error().is_none());
    }
}
