//! Renames within one mount never answer EXDEV: lower files and whole lower
//! directory trees move with their content and metadata.

use crate::common::sys;
use crate::common::*;
use crate::util::*;

#[test]
fn lower_file_moves_across_directories_with_its_metadata() {
    let mut st = Stack::new();
    st.layer().file_mode("a/f", "payload", 0o640).xattr("a/f", "user.k", b"v").mtime("a/f", 1_234_567_890, 42).dir("b");
    let Some(m) = st.mount() else { return };
    ok(sys::rename(&m.p("a/f"), &m.p("b/g")), "rename lower file into another dir (EXDEV is a bug)");
    let check = |m: &Mount| {
        assert_eq!(read(&m.p("b/g")), b"payload");
        assert_eq!(perm(&m.p("b/g")), 0o640);
        assert_eq!(mtime(&m.p("b/g")), (1_234_567_890, 42));
        assert_eq!(user_xattrs(&m.p("b/g")).get("user.k").map(Vec::as_slice), Some(&b"v"[..]));
        assert_errno(sys::lstat(&m.p("a/f")), libc::ENOENT, "old name");
        assert_eq!(names(&m.p("a")), Vec::<String>::new());
    };
    check(&m);
    let m = st.remount(m);
    check(&m);
}

#[test]
fn lower_directory_with_children_moves_across_directories() {
    let mut st = Stack::new();
    st.layer()
        .file_mode("a/d/x", "x data", 0o600)
        .mtime("a/d/x", 1_000_000_000, 7)
        .file("a/d/sub/y", "y data")
        .symlink("a/d/link", "x")
        .dir_mode("a/d", 0o750)
        .dir("b");
    st.layer().file("a/d/top", "from layer 1").dir_mode("a/d", 0o750);
    let Some(m) = st.mount() else { return };
    let ino = lst(&m.p("a/d/x")).st_ino;
    ok(sys::rename(&m.p("a/d"), &m.p("b/e")), "rename lower dir tree (EXDEV is a bug)");
    let check = |m: &Mount| {
        assert_eq!(names(&m.p("b/e")), ["link", "sub", "top", "x"]);
        assert_eq!(read(&m.p("b/e/x")), b"x data");
        assert_eq!(perm(&m.p("b/e/x")), 0o600);
        assert_eq!(mtime(&m.p("b/e/x")), (1_000_000_000, 7));
        assert_eq!(read(&m.p("b/e/sub/y")), b"y data");
        assert_eq!(read(&m.p("b/e/top")), b"from layer 1");
        assert_eq!(ok(sys::readlink(&m.p("b/e/link")), "readlink"), "x");
        assert_eq!(perm(&m.p("b/e")), 0o750);
    };
    check(&m);
    assert_errno(sys::lstat(&m.p("a/d")), libc::ENOENT, "old dir name");
    assert_errno(sys::lstat(&m.p("a/d/x")), libc::ENOENT, "old child name");
    assert_eq!(lst(&m.p("b/e/x")).st_ino, ino, "st_ino of a child after its dir moved");
    ok(sys::mkdir(&m.p("a/d"), 0o755), "mkdir at the old name");
    assert_eq!(names(&m.p("a/d")), Vec::<String>::new(), "new dir at old name must not show the moved children");
    let m = st.remount(m);
    check(&m);
    assert_eq!(names(&m.p("a/d")), Vec::<String>::new());
}

#[test]
fn lower_directory_moves_over_empty_directory() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x").dir("e");
    let Some(m) = st.mount() else { return };
    ok(sys::rename(&m.p("d"), &m.p("e")), "rename lower dir over empty lower dir");
    assert_eq!(names(&m.p("e")), ["x"]);
    assert_errno(sys::lstat(&m.p("d")), libc::ENOENT, "old name");
}

#[test]
fn merged_directory_keeps_entries_of_every_layer() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x");
    st.layer().file("d/y", "y");
    let Some(m) = st.mount() else { return };
    write(&m.p("d/z"), b"z");
    ok(sys::rename(&m.p("d"), &m.p("d2")), "rename merged dir");
    assert_eq!(names(&m.p("d2")), ["x", "y", "z"]);
    ok(sys::mkdir(&m.p("d"), 0o755), "mkdir at old name");
    assert_eq!(names(&m.p("d")), Vec::<String>::new());
    ok(sys::rename(&m.p("d2"), &m.p("d3")), "rename it again");
    assert_eq!(names(&m.p("d3")), ["x", "y", "z"]);
}

#[test]
fn rename_replaces_lower_file() {
    let mut st = Stack::new();
    st.layer().file("a", "A").file("b", "B");
    let Some(m) = st.mount() else { return };
    ok(sys::rename(&m.p("a"), &m.p("b")), "rename over lower file");
    assert_eq!(read(&m.p("b")), b"A");
    assert_eq!(names(&m.root), ["b"]);
    let m = st.remount(m);
    assert_eq!(read(&m.p("b")), b"A");
    assert_eq!(names(&m.root), ["b"]);
}

#[test]
fn rename_between_names_of_one_inode_is_a_no_op() {
    let mut st = Stack::new();
    st.layer().file("a", "shared").hardlink("b", "a");
    let Some(m) = st.mount() else { return };
    ok(sys::rename(&m.p("a"), &m.p("b")), "rename between hardlinks");
    assert_eq!(names(&m.root), ["a", "b"], "POSIX: both names stay");
    ok(sys::rename(&m.p("a"), &m.p("a")), "rename to itself");
    assert_eq!(read(&m.p("a")), b"shared");
}

#[test]
fn noreplace_to_a_free_name_moves() {
    let mut st = Stack::new();
    st.layer().file("f", "x").file("d/y", "y");
    let Some(m) = st.mount() else { return };
    ok(sys::renameat2(&m.p("f"), &m.p("g"), libc::RENAME_NOREPLACE), "NOREPLACE file to free name");
    ok(sys::renameat2(&m.p("d"), &m.p("e"), libc::RENAME_NOREPLACE), "NOREPLACE dir to free name");
    assert_eq!(names(&m.root), ["e", "g"]);
    assert_eq!(read(&m.p("e/y")), b"y");
}

#[test]
fn exchange_lower_file_with_upper_directory() {
    let mut st = Stack::new();
    st.layer().file_mode("f", "file data", 0o600);
    let Some(m) = st.mount() else { return };
    ok(sys::mkdir(&m.p("dir"), 0o755), "mkdir");
    write(&m.p("dir/child"), b"c");
    ok(sys::renameat2(&m.p("f"), &m.p("dir"), libc::RENAME_EXCHANGE), "RENAME_EXCHANGE lower file / upper dir");
    assert_eq!(kind(&m.p("f")), libc::S_IFDIR);
    assert_eq!(read(&m.p("f/child")), b"c");
    assert_eq!(kind(&m.p("dir")), libc::S_IFREG);
    assert_eq!(read(&m.p("dir")), b"file data");
    assert_eq!(perm(&m.p("dir")), 0o600);
    let m = st.remount(m);
    assert_eq!(read(&m.p("f/child")), b"c");
    assert_eq!(read(&m.p("dir")), b"file data");
}

#[test]
fn exchange_two_lower_directories() {
    let mut st = Stack::new();
    st.layer().file("a/x", "ax").file("b/y", "by");
    let Some(m) = st.mount() else { return };
    ok(sys::renameat2(&m.p("a"), &m.p("b"), libc::RENAME_EXCHANGE), "RENAME_EXCHANGE two lower dirs");
    assert_eq!(names(&m.p("a")), ["y"]);
    assert_eq!(names(&m.p("b")), ["x"]);
    assert_eq!(read(&m.p("a/y")), b"by");
    assert_errno(sys::renameat2(&m.p("a"), &m.p("missing"), libc::RENAME_EXCHANGE), libc::ENOENT, "EXCHANGE with missing");
}

#[test]
fn renamed_file_and_directory_keep_st_ino() {
    let mut st = Stack::new();
    st.layer().file("f", "x").file("d/x", "y").dir("into");
    let Some(m) = st.mount() else { return };
    let (fi, di) = (lst(&m.p("f")).st_ino, lst(&m.p("d")).st_ino);
    ok(sys::rename(&m.p("f"), &m.p("into/f2")), "rename file");
    ok(sys::rename(&m.p("d"), &m.p("into/d2")), "rename dir");
    assert_eq!(lst(&m.p("into/f2")).st_ino, fi, "file st_ino after rename");
    assert_eq!(lst(&m.p("into/d2")).st_ino, di, "dir st_ino after rename");
}
