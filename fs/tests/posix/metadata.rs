//! chmod, chown, truncate, utimensat and inode numbers.

use std::os::fd::AsFd;

use crate::common::sys::{self, Time};
use crate::common::*;
use crate::util::*;

#[test]
fn chmod_of_lower_entries() {
    let mut st = Stack::new();
    st.layer().file("f", "x").dir("d").file("d/y", "y");
    let Some(m) = st.mount() else { return };
    for mode in [0o600, 0o4755, 0o2750, 0o1644, 0o000, 0o777] {
        ok(sys::chmod(&m.p("f"), mode), &format!("chmod {mode:o}"));
        assert_eq!(perm(&m.p("f")), mode);
    }
    ok(sys::chmod(&m.p("d"), 0o1777), "chmod dir");
    assert_eq!(perm(&m.p("d")), 0o1777);
    assert_eq!(read(&m.p("d/y")), b"y");
    assert_eq!(mtime(&m.p("f")), MTIME, "chmod changed mtime");
}

#[test]
fn chown_to_own_ids() {
    let mut st = Stack::new();
    let (uid, gid) = unprivileged_ids();
    st.layer().file("f", "x").owner("f", uid, gid).dir("d").owner("d", uid, gid);
    let Some(m) = st.mount() else { return };
    // The caller's own ids always work; root may also give files away.
    let (to_uid, to_gid) = if sys::is_root() { (1000, 1000) } else { (sys::uid(), sys::gid()) };
    ok(sys::lchown(&m.p("f"), to_uid, to_gid), "chown lower file");
    let s = lst(&m.p("f"));
    assert_eq!((s.st_uid, s.st_gid), (to_uid, to_gid));
    ok(sys::lchown(&m.p("d"), to_uid, to_gid), "chown lower dir");
    assert_eq!((lst(&m.p("d")).st_uid, lst(&m.p("d")).st_gid), (to_uid, to_gid));
    ok(sys::lchown(&m.p("f"), u32::MAX, u32::MAX), "chown with -1/-1 changes nothing");
    assert_eq!((lst(&m.p("f")).st_uid, lst(&m.p("f")).st_gid), (to_uid, to_gid));
    assert_eq!(mtime(&m.p("f")), MTIME, "chown changed mtime");
}

#[test]
fn truncate_up_and_down() {
    let mut st = Stack::new();
    st.layer().file("f", "hello world").file("g", "0123456789");
    let Some(m) = st.mount() else { return };
    ok(sys::truncate(&m.p("f"), 5), "truncate down lower file");
    assert_eq!(read(&m.p("f")), b"hello");
    ok(sys::truncate(&m.p("f"), 12), "truncate up");
    assert_eq!(read(&m.p("f")), b"hello\0\0\0\0\0\0\0");
    assert_eq!(lst(&m.p("f")).st_size, 12);
    let fd = ok(sys::open(&m.p("g"), libc::O_RDWR, 0), "open g");
    ok(sys::ftruncate(fd.as_fd(), 3), "ftruncate down");
    assert_eq!(ok(sys::fstat(fd.as_fd()), "fstat").st_size, 3);
    ok(sys::ftruncate(fd.as_fd(), 0), "ftruncate to zero");
    ok(sys::pwrite(fd.as_fd(), b"z", 6), "write past end");
    drop(fd);
    assert_eq!(read(&m.p("g")), b"\0\0\0\0\0\0z");
}

#[test]
fn utimensat_explicit_times_and_omit() {
    let mut st = Stack::new();
    st.layer().file("f", "x").symlink("s", "f").dir("d");
    let Some(m) = st.mount() else { return };
    let f = m.p("f");
    let times = |p: &std::path::Path| {
        let s = lst(p);
        ((s.st_atime, s.st_atime_nsec), (s.st_mtime, s.st_mtime_nsec))
    };
    ok(sys::lutimens(&f, Time::At(1000, 1), Time::At(2000, 2)), "explicit times");
    assert_eq!(times(&f), ((1000, 1), (2000, 2)));
    ok(sys::lutimens(&f, Time::Omit, Time::At(3000, 3)), "omit atime");
    assert_eq!(times(&f), ((1000, 1), (3000, 3)));
    ok(sys::lutimens(&f, Time::At(4000, 4), Time::Omit), "omit mtime");
    assert_eq!(times(&f), ((4000, 4), (3000, 3)));
    ok(sys::lutimens(&f, Time::Omit, Time::Omit), "omit both");
    assert_eq!(times(&f), ((4000, 4), (3000, 3)));
    ok(sys::lutimens(&m.p("s"), Time::At(5, 0), Time::At(6, 999_999_999)), "symlink times");
    assert_eq!(times(&m.p("s")).1, (6, 999_999_999));
    assert_eq!(times(&f).1, (3000, 3), "symlink times leaked to target");
    ok(sys::lutimens(&m.p("d"), Time::At(7, 0), Time::At(8, 0)), "dir times");
    assert_eq!(times(&m.p("d")).1, (8, 0));
    let fd = ok(sys::open(&f, libc::O_WRONLY, 0), "open");
    ok(sys::futimens(fd.as_fd(), Time::Omit, Time::At(9, 9)), "futimens");
    drop(fd);
    assert_eq!(times(&f).1, (9, 9));
}

#[test]
fn st_ino_is_stable_across_lookups_and_copy_up() {
    let mut st = Stack::new();
    let l = st.layer();
    l.file("f", "x").dir("d");
    for i in 0..300 {
        l.file(format!("many/{i:03}"), "m");
    }
    let Some(m) = st.mount() else { return };
    let (fi, di) = (lst(&m.p("f")).st_ino, lst(&m.p("d")).st_ino);
    let mut seen = std::collections::HashSet::new();
    for i in 0..300 {
        let p = m.p(format!("many/{i:03}"));
        drop(ok(sys::open(&p, libc::O_RDONLY, 0), "open many"));
        assert!(seen.insert(lst(&p).st_ino), "two files share st_ino");
    }
    assert!(!seen.contains(&fi), "st_ino of f reused");
    assert_eq!(lst(&m.p("f")).st_ino, fi, "st_ino after other lookups");
    let fd = ok(sys::open(&m.p("f"), libc::O_WRONLY | libc::O_APPEND, 0), "open for write");
    ok(sys::write(fd.as_fd(), b"y"), "write");
    assert_eq!(ok(sys::fstat(fd.as_fd()), "fstat").st_ino, fi, "fstat st_ino after copy-up");
    drop(fd);
    assert_eq!(lst(&m.p("f")).st_ino, fi, "st_ino after copy-up");
    write(&m.p("d/new"), b"n");
    assert_eq!(lst(&m.p("d")).st_ino, di, "dir st_ino after copy-up");
    for i in 0..300 {
        assert_ne!(lst(&m.p(format!("many/{i:03}"))).st_ino, fi, "st_ino of f reused");
    }
    assert_eq!(lst(&m.p("f")).st_ino, fi, "st_ino at the end");
}
