//! Permissions are enforced for unprivileged callers.
//!
//! Run as an ordinary user, the caller itself is the unprivileged user. Run
//! as root, a forked child drops to uid/gid 65534 (`as_unprivileged`), and
//! the lower entries are owned by 65534 where the test needs "its own"
//! files; such a child must still reach the mount at all, which a FUSE mount
//! only allows other users with allow_other. Containers run unprivileged
//! users of their own, so that is checked first.

use std::path::{Path, PathBuf};

use crate::common::sys;
use crate::common::*;

/// Fail clearly when the unprivileged user cannot use the mount at all,
/// rather than passing an EACCES test for the wrong reason.
fn reachable(m: &Mount, public_file: &Path) -> Result<(), String> {
    expect_ok(sys::stat(&m.root), "stat of the mount root by an unprivileged user (allow_other missing?)")?;
    expect_ok(std::fs::read(public_file), "read of a 0644 file by an unprivileged user").map(drop)
}

/// A file of another owner that others may not read: made in a layer when
/// root; else found on the host (/etc/shadow, owned by root) and served by
/// using its directory as the bottom layer.
fn foreign_private_file(st: &mut Stack) -> Option<(PathBuf, &'static str)> {
    if sys::is_root() {
        let l = st.layer();
        l.file("secret", "s").owner("secret", 0, 0).mode("secret", 0o600);
        l.file("public", "p").owner("public", 0, 0).mode("public", 0o644);
        return Some((PathBuf::from("secret"), "public"));
    }
    for (dir, name) in [("/etc", "shadow"), ("/etc", "gshadow")] {
        let p = Path::new(dir).join(name);
        if let Ok(s) = sys::lstat(&p) {
            if s.st_uid != sys::uid() && s.st_mode & 0o004 == 0 && s.st_mode & libc::S_IFMT == libc::S_IFREG {
                st.push_dir(PathBuf::from(dir));
                st.layer().file("public", "p");
                return Some((PathBuf::from(name), "public"));
            }
        }
    }
    None
}

#[test]
fn others_0600_file_cannot_be_opened() {
    let mut st = Stack::new();
    let Some((secret, public)) = foreign_private_file(&mut st) else {
        let why = "no file of another owner without read permission for others (/etc/shadow) exists here";
        assert!(!mount::in_ci(), "{why}");
        eprintln!("SKIP: {why}");
        return;
    };
    let Some(m) = st.mount() else { return };
    let (secret, public) = (m.p(secret), m.p(public));
    let verdict = as_unprivileged(|| {
        reachable(&m, &public)?;
        expect_ok(sys::lstat(&secret), "stat of the other owner's file")?;
        expect_errno(sys::open(&secret, libc::O_RDONLY, 0), libc::EACCES, "open for read")?;
        expect_errno(sys::open(&secret, libc::O_WRONLY, 0), libc::EACCES, "open for write")?;
        expect_errno(sys::truncate(&secret, 0), libc::EACCES, "truncate")?;
        expect_errno(sys::chmod(&secret, 0o666), libc::EPERM, "chmod of another owner's file")?;
        Ok(())
    });
    verdict.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn own_0000_file_is_eacces_for_unprivileged_caller() {
    let (uid, gid) = unprivileged_ids();
    let mut st = Stack::new();
    st.layer().file("public", "p").file("locked", "l").owner("locked", uid, gid).mode("locked", 0o000).dir("home").owner("home", uid, gid);
    let Some(m) = st.mount() else { return };
    let (locked, public, home) = (m.p("locked"), m.p("public"), m.p("home"));
    let verdict = as_unprivileged(|| {
        reachable(&m, &public)?;
        expect_errno(sys::open(&locked, libc::O_RDONLY, 0), libc::EACCES, "open 0000 for read")?;
        expect_errno(sys::open(&locked, libc::O_WRONLY, 0), libc::EACCES, "open 0000 for write")?;
        expect_errno(sys::access(&locked, libc::R_OK), libc::EACCES, "access R_OK")?;
        expect_ok(sys::chmod(&locked, 0o400), "owner may chmod its own file")?;
        expect_ok(std::fs::read(&locked), "read after chmod 0400")?;
        expect_errno(sys::open(&locked, libc::O_WRONLY, 0), libc::EACCES, "write to 0400")?;
        let mine = home.join("mine");
        expect_ok(std::fs::write(&mine, b"m"), "create in own dir")?;
        expect_ok(sys::chmod(&mine, 0), "chmod 0 on a new file")?;
        expect_errno(sys::open(&mine, libc::O_RDONLY, 0), libc::EACCES, "open new 0000 file")?;
        Ok(())
    });
    verdict.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn read_only_directory_refuses_changes() {
    let (uid, gid) = unprivileged_ids();
    let mut st = Stack::new();
    st.layer()
        .file("public", "p")
        .file("ro/f", "f")
        .owner("ro/f", uid, gid)
        .dir("ro/sub")
        .owner("ro/sub", uid, gid)
        .owner("ro", uid, gid)
        .mode("ro", 0o555);
    let Some(m) = st.mount() else { return };
    let (ro, public) = (m.p("ro"), m.p("public"));
    let verdict = as_unprivileged(|| {
        reachable(&m, &public)?;
        expect_errno(sys::open(&ro.join("new"), libc::O_CREAT | libc::O_WRONLY, 0o644), libc::EACCES, "create in 0555 dir")?;
        expect_errno(sys::mkdir(&ro.join("nd"), 0o755), libc::EACCES, "mkdir in 0555 dir")?;
        expect_errno(sys::symlink("x", &ro.join("s")), libc::EACCES, "symlink in 0555 dir")?;
        expect_errno(sys::unlink(&ro.join("f")), libc::EACCES, "unlink in 0555 dir")?;
        expect_errno(sys::rename(&ro.join("f"), &ro.join("g")), libc::EACCES, "rename in 0555 dir")?;
        expect_errno(sys::access(&ro, libc::W_OK), libc::EACCES, "access W_OK on 0555 dir")?;
        // The files inside stay writable: copy-up must work below a 0555 dir.
        expect_ok(std::fs::write(ro.join("f"), b"changed"), "write own file inside a 0555 dir")?;
        expect_ok(std::fs::write(ro.join("sub/new"), b"n"), "create in own dir below a 0555 dir")?;
        match std::fs::read(ro.join("f")) {
            Ok(d) if d == b"changed" => Ok(()),
            other => Err(format!("read back after write below 0555 dir: {other:?}")),
        }
    });
    verdict.unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn sticky_directory_protects_other_users_files() {
    // a file of another owner in a sticky dir needs root: as namespace root
    if crate::common::mount::rerun_as_namespace_root() {
        return;
    }
    let mut st = Stack::new();
    st.layer().file("public", "p").file("tmp/rootfile", "r").mode("tmp/rootfile", 0o666).mode("tmp", 0o1777);
    let Some(m) = st.mount() else { return };
    let (tmp, public) = (m.p("tmp"), m.p("public"));
    let verdict = as_unprivileged(|| {
        reachable(&m, &public)?;
        expect_errno(sys::unlink(&tmp.join("rootfile")), libc::EPERM, "unlink another's file in sticky dir")?;
        expect_errno(sys::rename(&tmp.join("rootfile"), &tmp.join("x")), libc::EPERM, "rename another's file")?;
        expect_ok(std::fs::write(tmp.join("rootfile"), b"w"), "write to a 0666 file")?;
        expect_ok(std::fs::write(tmp.join("mine"), b"m"), "create in sticky dir")?;
        expect_ok(sys::unlink(&tmp.join("mine")), "unlink own file in sticky dir")
    });
    verdict.unwrap_or_else(|e| panic!("{e}"));
}
