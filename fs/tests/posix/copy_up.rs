//! Copy-up: the first change to a lower entry keeps everything the change
//! does not touch, holes stay holes, and descriptors opened earlier see it.

use std::os::fd::AsFd;

use crate::common::sys;
use crate::common::*;
use crate::util::*;

/// Owner ids for lower files: a foreign owner when root, else our own.
fn owner() -> (u32, u32) {
    if sys::is_root() {
        (1234, 4321)
    } else {
        (sys::uid(), sys::gid())
    }
}

#[test]
fn open_for_write_keeps_mode_owner_mtime_and_xattrs() {
    let (uid, gid) = owner();
    let mut st = Stack::new();
    st.layer()
        .file("f", "content")
        .owner("f", uid, gid)
        .mode("f", 0o751)
        .xattr("f", "user.a", b"1")
        .xattr("f", "user.bin", &[0, 255, 10, 13])
        .mtime("f", 1_500_000_000, 999_999_999);
    let Some(m) = st.mount() else { return };
    let f = m.p("f");
    let before = lst(&f);
    drop(ok(sys::open(&f, libc::O_RDWR, 0), "open lower file O_RDWR"));
    let after = lst(&f);
    assert_eq!(after.st_mode, before.st_mode, "mode");
    assert_eq!((after.st_uid, after.st_gid), (uid, gid), "owner");
    assert_eq!(mtime(&f), (1_500_000_000, 999_999_999), "mtime");
    assert_eq!(read(&f), b"content");
    let x = user_xattrs(&f);
    assert_eq!(x.get("user.a").map(Vec::as_slice), Some(&b"1"[..]));
    assert_eq!(x.get("user.bin").map(Vec::as_slice), Some(&[0u8, 255, 10, 13][..]));
}

#[test]
fn metadata_change_keeps_data_mtime_and_other_xattrs() {
    let (uid, gid) = owner();
    let mut st = Stack::new();
    st.layer()
        .file("g", "g data")
        .owner("g", uid, gid)
        .mode("g", 0o604)
        .xattr("g", "user.old", b"o")
        .file("h", "h data")
        .owner("h", uid, gid)
        .mode("h", 0o644);
    let Some(m) = st.mount() else { return };
    ok(sys::lsetxattr(&m.p("g"), "user.new", b"n", 0), "setxattr on lower file");
    let x = user_xattrs(&m.p("g"));
    assert_eq!(x.get("user.old").map(Vec::as_slice), Some(&b"o"[..]));
    assert_eq!(x.get("user.new").map(Vec::as_slice), Some(&b"n"[..]));
    assert_eq!(perm(&m.p("g")), 0o604);
    assert_eq!(mtime(&m.p("g")), MTIME);
    assert_eq!(read(&m.p("g")), b"g data");
    ok(sys::chmod(&m.p("h"), 0o600), "chmod lower file");
    assert_eq!(perm(&m.p("h")), 0o600);
    assert_eq!(mtime(&m.p("h")), MTIME, "chmod must not change mtime");
    assert_eq!(read(&m.p("h")), b"h data");
    assert_eq!((lst(&m.p("h")).st_uid, lst(&m.p("h")).st_gid), (uid, gid));
}

#[test]
fn directory_copy_up_keeps_mode_owner_and_xattrs() {
    let (uid, gid) = owner();
    let mut st = Stack::new();
    st.layer().file("d/old", "o").owner("d", uid, gid).dir_mode("d", 0o750).xattr("d", "user.dir", b"yes");
    let Some(m) = st.mount() else { return };
    write(&m.p("d/new"), b"n");
    assert_eq!(perm(&m.p("d")), 0o750);
    assert_eq!((lst(&m.p("d")).st_uid, lst(&m.p("d")).st_gid), (uid, gid));
    assert_eq!(user_xattrs(&m.p("d")).get("user.dir").map(Vec::as_slice), Some(&b"yes"[..]));
    assert_eq!(names(&m.p("d")), ["new", "old"]);
}

#[test]
fn o_trunc_on_lower_file_empties_it_and_keeps_mode() {
    let mut st = Stack::new();
    st.layer().file_mode("f", "old content", 0o640);
    let Some(m) = st.mount() else { return };
    let fd = ok(sys::open(&m.p("f"), libc::O_WRONLY | libc::O_TRUNC, 0), "open O_TRUNC");
    ok(sys::write(fd.as_fd(), b"new"), "write");
    drop(fd);
    assert_eq!(read(&m.p("f")), b"new");
    assert_eq!(perm(&m.p("f")), 0o640);
}

#[test]
fn unlinked_lower_file_recreated_shows_only_new_content() {
    let mut st = Stack::new();
    st.layer().file_mode("f", "old and long content", 0o755).xattr("f", "user.old", b"1");
    let Some(m) = st.mount() else { return };
    ok(sys::unlink(&m.p("f")), "unlink lower file");
    let fd = ok(sys::open(&m.p("f"), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o600), "recreate");
    ok(sys::write(fd.as_fd(), b"new"), "write");
    drop(fd);
    assert_eq!(read(&m.p("f")), b"new");
    assert_eq!(perm(&m.p("f")), 0o600);
    assert!(user_xattrs(&m.p("f")).is_empty(), "xattrs of the deleted lower file came back");
}

#[test]
fn sparse_lower_file_stays_sparse_after_copy_up() {
    const SIZE: u64 = 64 << 20;
    let mut st = Stack::new();
    st.layer().sparse("sparse", SIZE, SIZE - 3, b"end");
    let Some(m) = st.mount() else { return };
    let f = m.p("sparse");
    let fd = ok(sys::open(&f, libc::O_WRONLY, 0), "open for write");
    ok(sys::pwrite(fd.as_fd(), b"x", 0), "write first byte");
    ok(sys::fsync(fd.as_fd()), "fsync");
    drop(fd);
    let s = lst(&f);
    assert_eq!(s.st_size as u64, SIZE);
    assert!(
        (s.st_blocks as u64) * 512 < (1 << 20),
        "a 64 MiB file with 4 bytes of data uses {} KiB after copy-up: holes were filled",
        s.st_blocks as u64 / 2
    );
    let fd = ok(sys::open(&f, libc::O_RDONLY, 0), "open for read");
    assert_eq!(ok(sys::pread(fd.as_fd(), 1, 0), "pread 0"), b"x");
    assert_eq!(ok(sys::pread(fd.as_fd(), 4096, 32 << 20), "pread hole"), vec![0u8; 4096]);
    assert_eq!(ok(sys::pread(fd.as_fd(), 10, SIZE - 3), "pread end"), b"end");
}

#[test]
fn file_beyond_4_gib_reads_back() {
    const FIVE_GIB: u64 = 5 << 30;
    let mut st = Stack::new();
    st.layer().sparse("lower_big", FIVE_GIB + 5, FIVE_GIB, b"lower");
    let Some(m) = st.mount() else { return };
    let f = m.p("big");
    let fd = ok(sys::open(&f, libc::O_CREAT | libc::O_RDWR, 0o644), "create");
    ok(sys::pwrite(fd.as_fd(), b"tail", FIVE_GIB), "pwrite at 5 GiB");
    assert_eq!(ok(sys::fstat(fd.as_fd()), "fstat").st_size as u64, FIVE_GIB + 4);
    assert_eq!(ok(sys::pread(fd.as_fd(), 16, FIVE_GIB), "pread at 5 GiB"), b"tail");
    assert_eq!(ok(sys::pread(fd.as_fd(), 8, 4 << 30), "pread at 4 GiB"), vec![0u8; 8]);
    drop(fd);
    assert_eq!(lst(&f).st_size as u64, FIVE_GIB + 4);

    let lower = m.p("lower_big");
    let fd = ok(sys::open(&lower, libc::O_RDONLY, 0), "open lower big");
    assert_eq!(ok(sys::pread(fd.as_fd(), 16, FIVE_GIB), "pread lower at 5 GiB"), b"lower");
    drop(fd);
    let fd = ok(sys::open(&lower, libc::O_WRONLY, 0), "copy-up of a 5 GiB sparse file");
    ok(sys::pwrite(fd.as_fd(), b"head", 0), "write at 0");
    drop(fd);
    let fd = ok(sys::open(&lower, libc::O_RDONLY, 0), "reopen");
    assert_eq!(ok(sys::pread(fd.as_fd(), 4, 0), "pread head"), b"head");
    assert_eq!(ok(sys::pread(fd.as_fd(), 16, FIVE_GIB), "pread tail after copy-up"), b"lower");
    assert!((lst(&lower).st_blocks as u64) * 512 < (16 << 20), "5 GiB sparse file was copied up densely");
}

#[test]
fn descriptor_opened_before_copy_up_sees_new_data() {
    let mut st = Stack::new();
    st.layer().file("f", "old data");
    let Some(m) = st.mount() else { return };
    let ro = ok(sys::open(&m.p("f"), libc::O_RDONLY, 0), "open read-only");
    assert_eq!(ok(sys::pread(ro.as_fd(), 3, 0), "first read"), b"old");
    let rw = ok(sys::open(&m.p("f"), libc::O_WRONLY | libc::O_TRUNC, 0), "open for write");
    ok(sys::write(rw.as_fd(), b"NEW DATA!"), "write");
    drop(rw);
    assert_eq!(
        ok(sys::pread(ro.as_fd(), 64, 0), "read through the older descriptor"),
        b"NEW DATA!",
        "a descriptor opened before copy-up reads stale lower data"
    );
    assert_eq!(ok(sys::fstat(ro.as_fd()), "fstat").st_size, 9);
}
