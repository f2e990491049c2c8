//! The errno of each failure case, on lower, upper and merged entries.

use crate::common::sys;
use crate::common::*;
use crate::util::*;

const CREAT_EXCL: i32 = libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY;

#[test]
fn enoent_for_missing_names() {
    let mut st = Stack::new();
    st.layer().file("f", "x").dir("d");
    let Some(m) = st.mount() else { return };
    let missing = m.p("missing");
    assert_errno(sys::lstat(&missing), libc::ENOENT, "stat");
    assert_errno(sys::open(&missing, libc::O_RDONLY, 0), libc::ENOENT, "open");
    assert_errno(sys::unlink(&missing), libc::ENOENT, "unlink");
    assert_errno(sys::rmdir(&missing), libc::ENOENT, "rmdir");
    assert_errno(sys::rename(&missing, &m.p("d/x")), libc::ENOENT, "rename");
    assert_errno(sys::readlink(&missing), libc::ENOENT, "readlink");
    assert_errno(sys::link(&missing, &m.p("l")), libc::ENOENT, "link");
    assert_errno(sys::chmod(&missing, 0o600), libc::ENOENT, "chmod");
    assert_errno(sys::truncate(&missing, 0), libc::ENOENT, "truncate");
    assert_errno(sys::lsetxattr(&missing, "user.k", b"v", 0), libc::ENOENT, "setxattr");
    assert_errno(sys::open(&m.p("missing/x"), CREAT_EXCL, 0o644), libc::ENOENT, "create in missing dir");
    assert_errno(sys::mkdir(&m.p("missing/x"), 0o755), libc::ENOENT, "mkdir in missing dir");
    assert_errno(sys::symlink("t", &m.p("missing/s")), libc::ENOENT, "symlink in missing dir");
    assert_errno(sys::rename(&m.p("f"), &m.p("missing/f")), libc::ENOENT, "rename into missing dir");
    assert_eq!(read(&m.p("f")), b"x", "failed rename must leave the source");
}

#[test]
fn eexist_for_taken_names() {
    let mut st = Stack::new();
    st.layer().file("f", "lower").dir("d").symlink("s", "f").dir("d2");
    let Some(m) = st.mount() else { return };
    util_new(&m.p("g"), b"upper");
    assert_errno(sys::open(&m.p("f"), CREAT_EXCL, 0o644), libc::EEXIST, "O_EXCL create over lower file");
    assert_errno(sys::open(&m.p("s"), CREAT_EXCL, 0o644), libc::EEXIST, "O_EXCL create over lower symlink");
    assert_errno(sys::open(&m.p("g"), CREAT_EXCL, 0o644), libc::EEXIST, "O_EXCL create over upper file");
    assert_errno(sys::mkdir(&m.p("d"), 0o755), libc::EEXIST, "mkdir over lower dir");
    assert_errno(sys::mkdir(&m.p("f"), 0o755), libc::EEXIST, "mkdir over lower file");
    assert_errno(sys::link(&m.p("g"), &m.p("f")), libc::EEXIST, "link over lower file");
    assert_errno(sys::link(&m.p("f"), &m.p("d")), libc::EEXIST, "link over lower dir");
    assert_errno(sys::symlink("x", &m.p("f")), libc::EEXIST, "symlink over lower file");
    assert_errno(sys::mkfifo(&m.p("s"), 0o644), libc::EEXIST, "mkfifo over lower symlink");
    assert_errno(sys::renameat2(&m.p("g"), &m.p("f"), libc::RENAME_NOREPLACE), libc::EEXIST, "NOREPLACE over lower file");
    assert_errno(sys::renameat2(&m.p("f"), &m.p("g"), libc::RENAME_NOREPLACE), libc::EEXIST, "NOREPLACE lower over upper");
    assert_errno(sys::renameat2(&m.p("d2"), &m.p("d"), libc::RENAME_NOREPLACE), libc::EEXIST, "NOREPLACE dir over dir");
    assert_eq!(read(&m.p("f")), b"lower");
    assert_eq!(read(&m.p("g")), b"upper");
}

fn util_new(p: &std::path::Path, data: &[u8]) {
    write(p, data);
}

#[test]
fn rmdir_of_dir_with_only_lower_entries_is_enotempty() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x").file("e/sub/y", "y");
    st.layer().dir("d");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::rmdir(&m.p("d")), libc::ENOTEMPTY, "rmdir merged dir with a lower entry");
    assert_errno(sys::rmdir(&m.p("e")), libc::ENOTEMPTY, "rmdir lower dir with a lower subdir");
    ok(sys::mkdir(&m.p("empty"), 0o755), "mkdir");
    assert_errno(sys::rename(&m.p("empty"), &m.p("d")), libc::ENOTEMPTY, "rename over non-empty merged dir");
    assert_eq!(names(&m.p("d")), ["x"]);
}

#[test]
fn rmdir_succeeds_after_lower_entries_are_removed() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x").file("d/y", "y").file("d/sub/z", "z");
    let Some(m) = st.mount() else { return };
    ok(sys::unlink(&m.p("d/x")), "unlink d/x");
    assert_errno(sys::rmdir(&m.p("d")), libc::ENOTEMPTY, "rmdir with entries left");
    ok(sys::unlink(&m.p("d/y")), "unlink d/y");
    ok(sys::unlink(&m.p("d/sub/z")), "unlink d/sub/z");
    ok(sys::rmdir(&m.p("d/sub")), "rmdir d/sub");
    ok(sys::rmdir(&m.p("d")), "rmdir d once all lower entries are whited out");
    assert_errno(sys::lstat(&m.p("d")), libc::ENOENT, "stat removed dir");
    ok(sys::mkdir(&m.p("d"), 0o755), "mkdir again");
    assert_eq!(names(&m.p("d")), Vec::<String>::new());
}

#[test]
fn rmdir_succeeds_when_layers_white_out_every_entry() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x").file("d/y", "y");
    st.layer().whiteout("d/x").whiteout("d/y");
    let Some(m) = st.mount() else { return };
    assert_eq!(names(&m.p("d")), Vec::<String>::new());
    ok(sys::rmdir(&m.p("d")), "rmdir of a dir emptied by layer whiteouts");
    assert_errno(sys::lstat(&m.p("d")), libc::ENOENT, "stat removed dir");
}

#[test]
fn eisdir_for_file_operations_on_directories() {
    let mut st = Stack::new();
    st.layer().file("d/x", "x").file("f", "f").dir("e");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::open(&m.p("d"), libc::O_WRONLY, 0), libc::EISDIR, "open lower dir O_WRONLY");
    assert_errno(sys::open(&m.p("d"), libc::O_RDWR, 0), libc::EISDIR, "open lower dir O_RDWR");
    assert_errno(sys::unlink(&m.p("d")), libc::EISDIR, "unlink lower dir");
    assert_errno(sys::rename(&m.p("f"), &m.p("e")), libc::EISDIR, "rename file over empty dir");
    assert_errno(sys::rename(&m.p("f"), &m.p("d")), libc::EISDIR, "rename file over non-empty dir");
    assert_errno(sys::truncate(&m.p("d"), 0), libc::EISDIR, "truncate dir");
    assert_eq!(read(&m.p("f")), b"f");
}

#[test]
fn enotdir_for_directory_operations_on_files() {
    let mut st = Stack::new();
    st.layer().file("f", "f").file("d/x", "x").dir("e");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::rmdir(&m.p("f")), libc::ENOTDIR, "rmdir file");
    assert_errno(sys::lstat(&m.p("f/x")), libc::ENOTDIR, "lookup below file");
    assert_errno(sys::open(&m.p("f/x"), CREAT_EXCL, 0o644), libc::ENOTDIR, "create below file");
    assert_errno(sys::mkdir(&m.p("f/x"), 0o755), libc::ENOTDIR, "mkdir below file");
    assert_errno(sys::open(&m.p("f"), libc::O_RDONLY | libc::O_DIRECTORY, 0), libc::ENOTDIR, "O_DIRECTORY on file");
    assert_errno(sys::rename(&m.p("d"), &m.p("f")), libc::ENOTDIR, "rename dir over file");
    assert_errno(sys::rename(&m.p("e"), &m.p("f")), libc::ENOTDIR, "rename empty dir over file");
    assert_eq!(names(&m.p("d")), ["x"]);
}

#[test]
fn einval_for_directory_into_its_own_subtree() {
    let mut st = Stack::new();
    st.layer().file("d/sub/x", "x");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::rename(&m.p("d"), &m.p("d/sub/d")), libc::EINVAL, "rename dir into its own subdir");
    assert_errno(sys::rename(&m.p("d"), &m.p("d/d")), libc::EINVAL, "rename dir into itself");
    assert_eq!(names(&m.p("d/sub")), ["x"]);
}

#[test]
fn eperm_for_hardlink_to_directory() {
    let mut st = Stack::new();
    st.layer().dir("d");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::link(&m.p("d"), &m.p("e")), libc::EPERM, "link of a dir");
}

#[test]
fn enodata_and_eexist_for_xattr_flags() {
    let mut st = Stack::new();
    st.layer().file("f", "x").xattr("f", "user.present", b"1");
    let Some(m) = st.mount() else { return };
    let f = m.p("f");
    assert_errno(sys::lgetxattr(&f, "user.absent"), libc::ENODATA, "getxattr of absent name");
    assert_errno(sys::lremovexattr(&f, "user.absent"), libc::ENODATA, "removexattr of absent name");
    assert_errno(sys::lsetxattr(&f, "user.present", b"2", libc::XATTR_CREATE), libc::EEXIST, "XATTR_CREATE on present");
    assert_errno(sys::lsetxattr(&f, "user.absent", b"2", libc::XATTR_REPLACE), libc::ENODATA, "XATTR_REPLACE on absent");
    ok(sys::lsetxattr(&f, "user.present", b"3", libc::XATTR_REPLACE), "XATTR_REPLACE on present");
    ok(sys::lsetxattr(&f, "user.new", b"4", libc::XATTR_CREATE), "XATTR_CREATE on absent");
    assert_eq!(ok(sys::lgetxattr(&f, "user.present"), "get"), b"3");
    ok(sys::lremovexattr(&f, "user.present"), "remove");
    assert_errno(sys::lgetxattr(&f, "user.present"), libc::ENODATA, "getxattr after remove");
    assert_eq!(user_xattrs(&f).into_keys().collect::<Vec<_>>(), ["user.new"]);
}
