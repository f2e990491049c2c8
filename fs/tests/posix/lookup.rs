//! Merging of layers: the topmost entry wins, directories are unions,
//! whiteouts and opaque markers hide lower entries and are never shown.

use crate::common::sys;
use crate::common::*;
use crate::util::*;

#[test]
fn top_layer_wins_for_content_and_mode() {
    let mut st = Stack::new();
    let l0 = st.layer();
    l0.file_mode("a", "lower a", 0o600).file("b", "lower b").file("d/x", "x0");
    let l1 = st.layer();
    l1.file_mode("a", "upper a", 0o640).file("d/y", "y1");
    let Some(m) = st.mount() else { return };
    assert_eq!(read(&m.p("a")), b"upper a");
    assert_eq!(perm(&m.p("a")), 0o640);
    assert_eq!(read(&m.p("b")), b"lower b");
    assert_eq!(read(&m.p("d/x")), b"x0");
    assert_eq!(names(&m.p("d")), ["x", "y"]);
    assert_eq!(names(&m.root), ["a", "b", "d"]);
}

#[test]
fn type_in_top_layer_replaces_lower_type() {
    let mut st = Stack::new();
    st.layer().file("f_then_dir", "file").dir("dir_then_file/child").file("dir_then_file/child/x", "x");
    st.layer().dir("f_then_dir").file("f_then_dir/inner", "i").file("dir_then_file", "now a file");
    let Some(m) = st.mount() else { return };
    assert_eq!(kind(&m.p("f_then_dir")), libc::S_IFDIR);
    assert_eq!(names(&m.p("f_then_dir")), ["inner"]);
    assert_eq!(kind(&m.p("dir_then_file")), libc::S_IFREG);
    assert_eq!(read(&m.p("dir_then_file")), b"now a file");
    assert_errno(sys::lstat(&m.p("dir_then_file/child")), libc::ENOTDIR, "lookup under a file that replaced a dir");
}

#[test]
fn same_name_in_three_layers_is_listed_once() {
    let mut st = Stack::new();
    for i in 0..3 {
        st.layer().file("d/same", format!("v{i}")).file(format!("d/only{i}"), "o");
    }
    let Some(m) = st.mount() else { return };
    assert_eq!(names(&m.p("d")), ["only0", "only1", "only2", "same"]);
    assert_eq!(read(&m.p("d/same")), b"v2");
}

#[test]
fn readdir_reports_entry_types() {
    let mut st = Stack::new();
    st.layer().file("f", "x").dir("d").symlink("s", "f").fifo("p");
    st.layer().file("d/g", "y");
    let Some(m) = st.mount() else { return };
    let mut seen = Vec::new();
    for e in std::fs::read_dir(&m.root).expect("readdir root") {
        let e = e.expect("entry");
        let t = e.file_type().expect("d_type");
        use std::os::unix::fs::FileTypeExt;
        let k = if t.is_dir() {
            "dir"
        } else if t.is_symlink() {
            "symlink"
        } else if t.is_fifo() {
            "fifo"
        } else if t.is_file() {
            "file"
        } else {
            "other"
        };
        seen.push((e.file_name().to_string_lossy().into_owned(), k));
    }
    seen.sort();
    assert_eq!(seen, [("d".into(), "dir"), ("f".into(), "file"), ("p".into(), "fifo"), ("s".into(), "symlink")]);
}

#[test]
fn whiteout_hides_lower_file() {
    let mut st = Stack::new();
    st.layer().file("f", "gone").file("g", "stays").file("d/f", "gone too");
    st.layer().whiteout("f").whiteout("d/f");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::lstat(&m.p("f")), libc::ENOENT, "stat whited-out file");
    assert_errno(sys::open(&m.p("f"), libc::O_RDONLY, 0), libc::ENOENT, "open whited-out file");
    assert_errno(sys::lstat(&m.p(".wh.f")), libc::ENOENT, "stat of the marker itself");
    assert_eq!(names(&m.root), ["d", "g"]);
    assert_eq!(names(&m.p("d")), Vec::<String>::new());
}

#[test]
fn whiteout_hides_lower_directory_tree() {
    let mut st = Stack::new();
    st.layer().file("d/sub/x", "x").file("keep", "k");
    st.layer().whiteout("d");
    let Some(m) = st.mount() else { return };
    assert_errno(sys::lstat(&m.p("d")), libc::ENOENT, "stat whited-out dir");
    assert_errno(sys::lstat(&m.p("d/sub/x")), libc::ENOENT, "stat below whited-out dir");
    assert_errno(sys::open(&m.p("d/new"), libc::O_CREAT | libc::O_WRONLY, 0o644), libc::ENOENT, "create below whited-out dir");
    ok(sys::mkdir(&m.p("d"), 0o755), "mkdir over whiteout");
    assert_eq!(names(&m.p("d")), Vec::<String>::new(), "recreated dir must not show the lower tree");
    assert_errno(sys::lstat(&m.p("d/sub")), libc::ENOENT, "lower child after recreate");
}

#[test]
fn whiteout_in_middle_layer_is_overridden_by_top_layer() {
    let mut st = Stack::new();
    st.layer().file("f", "bottom").file("d/x", "x");
    st.layer().whiteout("f").whiteout("d");
    st.layer().file("f", "top").file("d/y", "y");
    let Some(m) = st.mount() else { return };
    assert_eq!(read(&m.p("f")), b"top");
    assert_eq!(names(&m.p("d")), ["y"], "a dir recreated above a whiteout shows only its own entries");
}

#[test]
fn opaque_directory_hides_lower_entries() {
    let mut st = Stack::new();
    st.layer().file("d/a", "a").file("d/b", "b").file("d/sub/c", "c");
    st.layer().opaque("d").file("d/new", "n");
    let Some(m) = st.mount() else { return };
    assert_eq!(names(&m.p("d")), ["new"]);
    assert_errno(sys::lstat(&m.p("d/a")), libc::ENOENT, "stat hidden by opaque dir");
    assert_errno(sys::lstat(&m.p("d/sub/c")), libc::ENOENT, "stat below hidden subdir");
    assert_errno(sys::lstat(&m.p("d/.wh..wh..opq")), libc::ENOENT, "stat of the opaque marker");
    ok(sys::unlink(&m.p("d/new")), "remove the only visible entry");
    ok(sys::rmdir(&m.p("d")), "rmdir of an opaque dir with nothing visible");
}

#[test]
fn markers_never_appear_in_any_listing() {
    let mut st = Stack::new();
    st.layer().file("a/x", "").file("a/y", "").file("b/z", "").file("c", "");
    st.layer().whiteout("a/x").opaque("b").whiteout("c").file("b/w", "");
    let Some(m) = st.mount() else { return };
    fn walk(p: &std::path::Path, out: &mut Vec<String>) {
        for n in sys::list(p).expect("readdir") {
            let child = p.join(&n);
            out.push(n.to_string_lossy().into_owned());
            if sys::lstat(&child).expect("lstat").st_mode & libc::S_IFMT == libc::S_IFDIR {
                walk(&child, out);
            }
        }
    }
    let mut all = Vec::new();
    walk(&m.root, &mut all);
    assert!(all.iter().all(|n| !n.starts_with(".wh.")), "marker listed: {all:?}");
    assert_eq!(names(&m.p("a")), ["y"]);
    assert_eq!(names(&m.p("b")), ["w"]);
}
