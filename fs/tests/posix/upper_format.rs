//! burrow's upper directory is itself an OCI layer, and `diff::changes`
//! reads a session back from it. These tests are burrow-only: the kernel's
//! overlayfs keeps its own upper format.

use std::path::{Path, PathBuf};

use crate::common::sys;
use crate::common::*;
use crate::util::*;

fn exists(p: &Path) -> bool {
    sys::lstat(p).is_ok()
}

#[test]
fn deleting_a_lower_file_leaves_a_whiteout_file() {
    let mut st = Stack::new();
    st.layer().file("f", "x").file("d/g", "y").file("d/h", "z");
    let Some(m) = st.mount() else { return };
    if !burrow_only(&m) {
        return;
    }
    ok(sys::unlink(&m.p("f")), "unlink lower file");
    ok(sys::unlink(&m.p("d/g")), "unlink nested lower file");
    write(&m.p("upper_only"), b"u");
    ok(sys::unlink(&m.p("upper_only")), "unlink upper-only file");
    let upper = m.upper.clone();
    m.unmount();
    let wh = lst(&upper.join(".wh.f"));
    assert_eq!(wh.st_mode & libc::S_IFMT, libc::S_IFREG, "OCI whiteouts are regular files");
    assert!(exists(&upper.join("d/.wh.g")), "upper lacks d/.wh.g");
    assert!(!exists(&upper.join("f")), "upper still holds f");
    assert!(!exists(&upper.join("d/.wh.h")), "whiteout for a file never deleted");
    assert!(!exists(&upper.join(".wh.upper_only")), "whiteout for a name that has nothing below");
    assert!(!exists(&upper.join("upper_only")));
}

#[test]
fn recreated_lower_directory_is_marked_opaque() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x");
    let Some(m) = st.mount() else { return };
    if !burrow_only(&m) {
        return;
    }
    ok(sys::unlink(&m.p("d/x")), "unlink");
    ok(sys::rmdir(&m.p("d")), "rmdir");
    ok(sys::mkdir(&m.p("d"), 0o755), "mkdir");
    write(&m.p("d/y"), b"y");
    let upper = m.upper.clone();
    m.unmount();
    assert!(exists(&upper.join("d/.wh..wh..opq")), "upper lacks d/.wh..wh..opq");
    assert!(exists(&upper.join("d/y")));
    assert!(!exists(&upper.join(".wh.d")), "a whiteout for d beside the recreated d");
    let Some(m) = st.mount_again(&upper) else { return };
    assert_eq!(names(&m.p("d")), ["y"]);
}

#[test]
fn names_with_the_whiteout_prefix_are_refused() {
    let mut st = Stack::new();
    st.layer().file("f", "x");
    let Some(m) = st.mount() else { return };
    if !burrow_only(&m) {
        return;
    }
    for n in [".wh.x", ".wh..wh..opq", ".wh.f"] {
        let p = m.p(n);
        assert_errno(sys::open(&p, libc::O_CREAT | libc::O_WRONLY, 0o644), libc::EINVAL, &format!("create {n}"));
        assert_errno(sys::mkdir(&p, 0o755), libc::EINVAL, &format!("mkdir {n}"));
        assert_errno(sys::symlink("t", &p), libc::EINVAL, &format!("symlink {n}"));
        assert_errno(sys::mkfifo(&p, 0o644), libc::EINVAL, &format!("mkfifo {n}"));
        assert_errno(sys::link(&m.p("f"), &p), libc::EINVAL, &format!("link to {n}"));
        assert_errno(sys::rename(&m.p("f"), &p), libc::EINVAL, &format!("rename to {n}"));
    }
    assert_eq!(names(&m.root), ["f"]);
    assert_eq!(read(&m.p("f")), b"x");
}

#[test]
fn diff_changes_reports_a_session() {
    let mut st = Stack::new();
    st.layer()
        .file("keep", "k")
        .file("modify", "m")
        .file("remove", "r")
        .file("dir/a", "a")
        .file("dir/b", "b")
        .file("olddir/x", "x")
        .file("meta", "m");
    let Some(m) = st.mount() else { return };
    if !burrow_only(&m) {
        return;
    }
    write(&m.p("modify"), b"modified");
    ok(sys::unlink(&m.p("remove")), "unlink");
    write(&m.p("new"), b"n");
    ok(sys::mkdir(&m.p("newdir"), 0o755), "mkdir");
    write(&m.p("newdir/f"), b"f");
    ok(sys::unlink(&m.p("olddir/x")), "unlink olddir/x");
    ok(sys::rmdir(&m.p("olddir")), "rmdir olddir");
    write(&m.p("dir/a"), b"a2");
    ok(sys::chmod(&m.p("meta"), 0o600), "chmod");
    write(&m.p("tmp"), b"t");
    ok(sys::unlink(&m.p("tmp")), "unlink tmp");
    let upper = m.upper.clone();
    m.unmount();
    let lowers: Vec<PathBuf> = st.layers_bottom_first().into_iter().rev().collect();
    let report = crate::common::burrow_backend::changes(&lowers, &upper);
    for want in ["C /modify", "D /remove", "A /new", "A /newdir", "D /olddir", "C /dir/a", "C /meta"] {
        assert!(report.iter().any(|r| r == want), "missing {want:?} in {report:?}");
    }
    for r in &report {
        let path = &r[2..];
        assert!(
            !["/keep", "/tmp", "/dir/b", "/olddir/x"].contains(&path),
            "{r:?} reported for an entry the session did not change (in {report:?})"
        );
        if path.starts_with("/newdir/") {
            assert!(r.starts_with("A "), "{r:?}: entries of a new dir are additions");
        }
    }
    let mut uniq = report.clone();
    uniq.sort();
    uniq.dedup();
    assert_eq!(uniq.len(), report.len(), "a path reported twice: {report:?}");
}
