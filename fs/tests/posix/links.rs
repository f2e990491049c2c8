//! Hardlinks, symlinks and special files.

use std::os::fd::AsFd;
use std::os::unix::ffi::OsStrExt;

use crate::common::sys;
use crate::common::*;
use crate::util::*;

#[test]
fn hardlinks_of_a_layer_share_inode_and_count() {
    let mut st = Stack::new();
    st.layer().file("a", "shared").hardlink("b", "a").dir("d");
    let Some(m) = st.mount() else { return };
    let (a, b) = (lst(&m.p("a")), lst(&m.p("b")));
    assert_eq!(a.st_ino, b.st_ino, "names of one lower inode");
    assert_eq!((a.st_nlink, b.st_nlink), (2, 2));
    ok(sys::link(&m.p("a"), &m.p("d/c")), "link a third name");
    for n in ["a", "b", "d/c"] {
        let s = lst(&m.p(n));
        assert_eq!(s.st_ino, a.st_ino, "{n}: st_ino");
        assert_eq!(s.st_nlink, 3, "{n}: st_nlink after link");
    }
    let fd = ok(sys::open(&m.p("d/c"), libc::O_WRONLY | libc::O_APPEND, 0), "open third name");
    ok(sys::write(fd.as_fd(), b"+more"), "append");
    drop(fd);
    assert_eq!(read(&m.p("a")), b"shared+more", "write through one name seen through another");
    assert_eq!(read(&m.p("b")), b"shared+more");
    ok(sys::unlink(&m.p("b")), "unlink one name");
    assert_eq!(lst(&m.p("a")).st_nlink, 2);
    assert_eq!(lst(&m.p("d/c")).st_nlink, 2);
    assert_eq!(lst(&m.p("a")).st_ino, lst(&m.p("d/c")).st_ino);
}

#[test]
fn link_of_a_lower_file() {
    let mut st = Stack::new();
    st.layer().file_mode("f", "data", 0o640);
    let Some(m) = st.mount() else { return };
    ok(sys::link(&m.p("f"), &m.p("g")), "link lower file");
    let (f, g) = (lst(&m.p("f")), lst(&m.p("g")));
    assert_eq!(f.st_ino, g.st_ino);
    assert_eq!((f.st_nlink, g.st_nlink), (2, 2));
    assert_eq!(g.st_mode & 0o7777, 0o640);
    write(&m.p("g"), b"changed");
    assert_eq!(read(&m.p("f")), b"changed");
    ok(sys::unlink(&m.p("f")), "unlink original name");
    assert_eq!(lst(&m.p("g")).st_nlink, 1);
    assert_eq!(read(&m.p("g")), b"changed");
    let m = st.remount(m);
    assert_eq!(read(&m.p("g")), b"changed");
    assert_errno(sys::lstat(&m.p("f")), libc::ENOENT, "unlinked name after remount");
}

#[test]
fn symlinks_read_and_resolve() {
    let mut st = Stack::new();
    st.layer().file("target", "t").symlink("lower_link", "target").symlink("dangling", "nowhere");
    let Some(m) = st.mount() else { return };
    assert_eq!(ok(sys::readlink(&m.p("lower_link")), "readlink lower"), "target");
    assert_eq!(kind(&m.p("lower_link")), libc::S_IFLNK);
    assert_eq!(lst(&m.p("lower_link")).st_size, 6, "symlink st_size is the target length");
    assert_eq!(ok(sys::stat(&m.p("lower_link")), "stat through link").st_mode & libc::S_IFMT, libc::S_IFREG);
    assert_eq!(read(&m.p("lower_link")), b"t");
    assert_errno(sys::stat(&m.p("dangling")), libc::ENOENT, "stat through dangling link");
    ok(sys::symlink("a/../b/./c", &m.p("new_link")), "symlink");
    assert_eq!(ok(sys::readlink(&m.p("new_link")), "readlink new"), "a/../b/./c");
    let long: Vec<u8> = (0..4095).map(|i| b'a' + (i % 26) as u8).collect();
    ok(sys::symlink(sys::os(&long), &m.p("long_link")), "symlink with a 4095-byte target");
    assert_eq!(ok(sys::readlink(&m.p("long_link")), "readlink long").as_bytes(), &long[..]);
    ok(sys::unlink(&m.p("lower_link")), "unlink lower symlink");
    assert_eq!(read(&m.p("target")), b"t", "unlinking a symlink leaves its target");
}

#[test]
fn fifos_and_special_files() {
    let mut st = Stack::new();
    st.layer().fifo("lower_fifo");
    let Some(m) = st.mount() else { return };
    assert_eq!(kind(&m.p("lower_fifo")), libc::S_IFIFO);
    ok(sys::mkfifo(&m.p("p"), 0o640), "mkfifo");
    assert_eq!(kind(&m.p("p")), libc::S_IFIFO);
    assert_eq!(perm(&m.p("p")), 0o640);
    ok(sys::mknod(&m.p("q"), libc::S_IFIFO | 0o600, 0), "mknod S_IFIFO");
    assert_eq!(kind(&m.p("q")), libc::S_IFIFO);
    ok(sys::mknod(&m.p("sock"), libc::S_IFSOCK | 0o600, 0), "mknod S_IFSOCK");
    assert_eq!(kind(&m.p("sock")), libc::S_IFSOCK);
    ok(sys::chmod(&m.p("lower_fifo"), 0o600), "chmod lower fifo");
    assert_eq!(perm(&m.p("lower_fifo")), 0o600);
    // A fifo on the mount is a pipe of the kernel, not a file of the fs.
    let fd = ok(sys::open(&m.p("lower_fifo"), libc::O_RDWR | libc::O_NONBLOCK, 0), "open fifo");
    ok(sys::write(fd.as_fd(), b"ping"), "write fifo");
    let mut buf = [0u8; 8];
    let n = ok(std::io::Read::read(&mut std::fs::File::from(fd), &mut buf), "read fifo");
    assert_eq!(&buf[..n], b"ping");
    assert_eq!(lst(&m.p("lower_fifo")).st_size, 0);
}
