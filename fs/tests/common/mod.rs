//! Shared fixtures of the burrow-fs integration suites.
//!
//! - `sys`: errno-preserving system call wrappers and errno assertions.
//! - `layer`: builders for OCI layer directories.
//! - `copy`: descriptor-based tree copies, the overlayfs marker translation
//!   and the reference layer applier.
//! - `burrow_backend`: the only file that names burrow-fs's API.
//! - `mount`: the backend under test, the prerequisite rule and the watchdog.
//!
//! Each test binary uses a different part, hence the blanket allow below.
#![allow(dead_code, unused_imports)]

pub mod burrow_backend;
pub mod copy;
pub mod layer;
pub mod mount;
pub mod sys;

use std::io::{Read, Write};
use std::os::fd::FromRawFd;

pub use layer::{name, Layer, MTIME};
pub use mount::{burrow_only, within, Backend, Mount, Stack};
pub use sys::{assert_errno, errname, errno, ok};

/// The uid/gid that plays "an unprivileged user": the caller itself when
/// not root, else 65534 (nobody) in a forked child.
pub fn unprivileged_ids() -> (u32, u32) {
    if sys::is_root() {
        (65534, 65534)
    } else {
        (sys::uid(), sys::gid())
    }
}

/// Run `f` as an unprivileged user: inline when the caller is not root,
/// else in a forked child with all ids set to 65534 and no groups. The
/// child reports its verdict through a pipe.
pub fn as_unprivileged(f: impl FnOnce() -> Result<(), String>) -> Result<(), String> {
    if !sys::is_root() {
        return f();
    }
    let mut fds = [0; 2];
    // SAFETY: `fds` is a live array of the two ints pipe2 fills in.
    sys::check(unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) }).expect("pipe");
    // SAFETY: pipe2 succeeded, so both are new descriptors that nothing else owns.
    let (rd, wr) = unsafe { (std::fs::File::from_raw_fd(fds[0]), std::fs::File::from_raw_fd(fds[1])) };
    // SAFETY: the child only runs `f` and leaves by _exit, never returning
    // into the test harness or running its destructors; glibc's fork
    // resets the allocator's locks, so `f` may allocate in the
    // single-threaded child.
    let pid = unsafe { libc::fork() };
    assert!(pid >= 0, "fork: {}", std::io::Error::last_os_error());
    if pid == 0 {
        drop(rd);
        let mut wr = wr;
        // SAFETY: setgroups reads no memory for a count of 0 (the null
        // pointer is allowed then); the set*id calls take plain integers.
        let dropped = unsafe {
            libc::setgroups(0, std::ptr::null()) == 0
                && libc::setresgid(65534, 65534, 65534) == 0
                && libc::setresuid(65534, 65534, 65534) == 0
        };
        let verdict = if dropped { f() } else { Err(format!("dropping privileges: {}", std::io::Error::last_os_error())) };
        let code = match verdict {
            Ok(()) => 0,
            Err(msg) => {
                let _ = wr.write_all(msg.as_bytes());
                1
            }
        };
        // SAFETY: _exit ends the child at once and touches no memory.
        unsafe { libc::_exit(code) };
    }
    drop(wr);
    let mut msg = String::new();
    let mut rd = rd;
    let _ = rd.read_to_string(&mut msg);
    let mut status = 0;
    // SAFETY: `status` is a live int the call fills in.
    unsafe { libc::waitpid(pid, &mut status, 0) };
    if libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0 {
        Ok(())
    } else if msg.is_empty() {
        Err(format!("unprivileged child died (wait status {status:#x})"))
    } else {
        Err(msg)
    }
}

/// Compare an errno inside an `as_unprivileged` closure.
pub fn expect_errno<T>(r: std::io::Result<T>, want: i32, what: &str) -> Result<(), String> {
    match r {
        Ok(_) => Err(format!("{what}: expected {}, got success", errname(want))),
        Err(e) if e.raw_os_error() == Some(want) => Ok(()),
        Err(e) => Err(format!("{what}: expected {}, got {} ({e})", errname(want), errname(e.raw_os_error().unwrap_or(-1)))),
    }
}

pub fn expect_ok<T>(r: std::io::Result<T>, what: &str) -> Result<T, String> {
    r.map_err(|e| format!("{what}: expected success, got {} ({e})", errname(e.raw_os_error().unwrap_or(-1))))
}

/// xorshift64*: a tiny deterministic PRNG for the randomized suites.
#[derive(Clone, Debug)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    pub fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in 0..n (n > 0).
    pub fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }

    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }

    pub fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}
