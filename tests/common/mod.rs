//! Shared harness of the integration tests.
//!
//! Every test drives the real `burrow` binary (`$BURROW_BIN`, else the one
//! cargo built) with a private storage root, as whatever user runs the test
//! binary — `packaging/test.sh` runs them as an unprivileged user. The
//! busybox image is built here from the host's static busybox with root
//! owners, so the tests need nothing but busybox-static and uidmap.
//!
//! Prerequisites: under `CI=true` a missing one fails the test; elsewhere
//! the test prints why it does not run and returns.

#![allow(dead_code)]

pub mod net;
pub mod registry;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Check a prerequisite: false (after saying why) when the test cannot
/// run here; a panic under CI, where every test must really run.
pub fn require(ok: bool, what: &str) -> bool {
    if !ok {
        if in_ci() {
            panic!("prerequisite missing under CI: {what}");
        }
        eprintln!("NOT RUN: prerequisite missing: {what}");
    }
    ok
}

pub fn burrow_bin() -> PathBuf {
    std::env::var_os("BURROW_BIN").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_burrow")))
}

pub fn uid() -> u32 {
    nix::unistd::getuid().as_raw()
}

/// The environment a rootless container test needs: not root, a
/// subordinate id range, the busybox binary.
pub fn rootless_ready() -> bool {
    let name = nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|u| u.name).unwrap_or_default();
    let subuid = std::fs::read_to_string("/etc/subuid").unwrap_or_default();
    require(uid() != 0, "the tests must run as an unprivileged user (packaging/test.sh does this)")
        && require(
            subuid.lines().any(|l| l.starts_with(&format!("{name}:")) || l.starts_with(&format!("{}:", uid()))),
            "a subordinate uid range for this user in /etc/subuid",
        )
        && require(Path::new("/usr/bin/newuidmap").exists(), "newuidmap (package uidmap)")
        && require(is_static_busybox(), "a static /bin/busybox (package busybox-static)")
}

/// A 64-bit ELF without a PT_INTERP program header is statically linked.
fn is_static_busybox() -> bool {
    let Ok(b) = std::fs::read("/bin/busybox") else { return false };
    if b.len() < 64 || &b[..4] != b"\x7fELF" || b[4] != 2 {
        return false;
    }
    let u64_at = |o: usize| u64::from_le_bytes(b[o..o + 8].try_into().unwrap()) as usize;
    let u16_at = |o: usize| u16::from_le_bytes(b[o..o + 2].try_into().unwrap()) as usize;
    let (phoff, phentsize, phnum) = (u64_at(0x20), u16_at(0x36), u16_at(0x38));
    (0..phnum).all(|i| {
        let o = phoff + i * phentsize;
        o + 4 <= b.len() && u32::from_le_bytes(b[o..o + 4].try_into().unwrap()) != 3
    })
}

/// One test's private burrow store.
pub struct Env {
    pub dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Env {
    pub fn new() -> Env {
        let dir = tempfile::Builder::new().prefix("burrow-test.").tempdir_in("/tmp").expect("tempdir");
        let root = dir.path().join("store");
        Env { dir, root }
    }

    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(burrow_bin());
        c.args(args).env("BURROW_ROOT", &self.root).env_remove("BURROW_USERNS").stdin(Stdio::null());
        c
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("burrow runs")
    }

    /// Run and expect success; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "burrow {args:?} failed: {}\nstderr: {}", o.status, String::from_utf8_lossy(&o.stderr));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Import the busybox image as `busybox:latest`.
    pub fn with_busybox(self) -> Env {
        let tar = self.dir.path().join("busybox.tar");
        busybox_tar(&tar);
        self.ok(&["import", tar.to_str().unwrap(), "busybox"]);
        self
    }

    /// Every non-directory under the store with its size, for before/after
    /// comparisons (empty directories burrow keeps, the lock and the
    /// rebuildable `cache/` do not count).
    pub fn store_listing(&self) -> Vec<String> {
        let mut out = Vec::new();
        walk(&self.root, &self.root, &mut out);
        out.sort();
        out
    }
}

fn walk(base: &Path, dir: &Path, out: &mut Vec<String>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let p = e.path();
        let rel = p.strip_prefix(base).unwrap().display().to_string();
        // The lock and derived data (compiled seccomp programs) are not
        // anyone's leftovers.
        if rel == "lock" || rel == "cache" {
            continue;
        }
        if e.file_type().is_ok_and(|t| t.is_dir()) {
            walk(base, &p, out);
        } else {
            let len = e.metadata().map(|m| m.len()).unwrap_or(0);
            out.push(format!("{rel} {len}"));
        }
    }
}

impl Drop for Env {
    fn drop(&mut self) {
        // Detached containers outlive their commands: stop them first.
        if let Ok(o) = self.cmd(&["ps", "-aq"]).output() {
            let ids: Vec<String> = String::from_utf8_lossy(&o.stdout).split_whitespace().map(str::to_string).collect();
            if !ids.is_empty() {
                let _ = self.cmd(&["rm", "-f"]).args(&ids).stdout(Stdio::null()).stderr(Stdio::null()).status();
            }
        }
        // Files owned by subordinate ids can only be removed from inside
        // burrow's user namespace.
        let _ = Command::new(burrow_bin())
            .args(["unshare", "rm", "-rf"])
            .arg(&self.root)
            .env("BURROW_ROOT", &self.root)
            .stderr(Stdio::null())
            .status();
    }
}

/// A busybox root filesystem tarball with root-owned files, a user `app`
/// (1000:1000, also in group `extra` 2000) and `www-data` (33).
pub fn busybox_tar(out: &Path) {
    let file = std::fs::File::create(out).expect("create tar");
    let mut b = tar::Builder::new(file);
    let dir = |b: &mut tar::Builder<std::fs::File>, path: &str, mode: u32, uid: u64| {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Directory);
        h.set_mode(mode);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        b.append_data(&mut h, path, std::io::empty()).unwrap();
    };
    for d in ["bin", "etc", "dev", "proc", "sys", "root", "home", "var", "usr", "usr/bin", "sbin"] {
        dir(&mut b, d, 0o755, 0);
    }
    dir(&mut b, "tmp", 0o1777, 0);
    dir(&mut b, "home/app", 0o755, 1000);
    let file = |b: &mut tar::Builder<std::fs::File>, path: &str, mode: u32, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(mode);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, path, data).unwrap();
    };
    let busybox = std::fs::read("/bin/busybox").expect("/bin/busybox");
    file(&mut b, "bin/busybox", 0o755, &busybox);
    file(
        &mut b,
        "etc/passwd",
        0o644,
        b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\nwww-data:x:33:33:www-data:/var/www:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    );
    file(&mut b, "etc/group", 0o644, b"root:x:0:\ntty:x:5:\nwww-data:x:33:\napp:x:1000:\nextra:x:2000:app\nnogroup:x:65534:\n");
    let list = Command::new("/bin/busybox").arg("--list").output().expect("busybox --list");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet == "busybox" || applet.is_empty() {
            continue;
        }
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(tar::EntryType::Symlink);
        h.set_mode(0o777);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_size(0);
        b.append_link(&mut h, format!("bin/{applet}"), "busybox").unwrap();
    }
    b.into_inner().unwrap().flush().unwrap();
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}
