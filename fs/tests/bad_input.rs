//! Bad and extreme input: odd names, stray markers, NAME_MAX and PATH_MAX,
//! huge directories, and layers that change under a running mount.
//!
//! The rule for all of them: the filesystem answers, with data or an errno,
//! and never panics or hangs. A panicking FUSE server shows up here as a
//! dead mount (ENOTCONN), a hang as the watchdog aborting the test binary.

mod common;

use std::collections::HashSet;
use std::ffi::{OsStr, OsString};
use std::os::fd::{AsFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::sys;
use common::*;

fn names(p: &Path) -> Vec<OsString> {
    ok(sys::list(p), &format!("readdir {}", p.display()))
}

fn read(p: &Path) -> Vec<u8> {
    ok(std::fs::read(p), &format!("read {}", p.display()))
}

/// The mount still answers and takes new files.
#[track_caller]
fn assert_alive(m: &Mount) {
    ok(sys::lstat(&m.root), "stat of the mount root");
    ok(sys::list(&m.root), "readdir of the mount root");
    let probe = m.p("alive-probe");
    ok(std::fs::write(&probe, b"still here"), "create a file on the mount");
    assert_eq!(read(&probe), b"still here");
    ok(sys::unlink(&probe), "unlink the probe");
}

// ---- names -----------------------------------------------------------------

#[test]
fn names_with_newlines_and_non_utf8_bytes() {
    let mut st = Stack::new();
    st.layer()
        .file(name(b"new\nline"), "nl")
        .file(name(b"bad\xff\xfe"), "bytes")
        .file(name(b"gone\n\xff"), "hidden")
        .file(name(b"dir\n\xff/child\x01\x7f"), "child")
        .file(name(b"tab\there \\ back"), "tab")
        .symlink(name(b"link\xc3\x28"), OsStr::from_bytes(b"target\n\xff"));
    st.layer().whiteout(name(b"gone\n\xff"));
    let Some(m) = st.mount() else { return };
    let want: Vec<&[u8]> = vec![b"bad\xff\xfe", b"dir\n\xff", b"link\xc3\x28", b"new\nline", b"tab\there \\ back"];
    let got = names(&m.root);
    assert_eq!(got.iter().map(|n| n.as_bytes()).collect::<Vec<_>>(), want);
    assert_eq!(read(&m.p(name(b"new\nline"))), b"nl");
    assert_eq!(read(&m.p(name(b"bad\xff\xfe"))), b"bytes");
    assert_eq!(read(&m.p(name(b"dir\n\xff/child\x01\x7f"))), b"child");
    assert_eq!(ok(sys::readlink(&m.p(name(b"link\xc3\x28"))), "readlink").as_bytes(), b"target\n\xff");
    assert_errno(sys::lstat(&m.p(name(b"gone\n\xff"))), libc::ENOENT, "whited-out odd name");

    ok(sys::rename(&m.p(name(b"new\nline")), &m.p(name(b"re\nnamed\xfe"))), "rename odd name");
    ok(sys::unlink(&m.p(name(b"bad\xff\xfe"))), "unlink odd name");
    ok(sys::unlink(&m.p(name(b"dir\n\xff/child\x01\x7f"))), "unlink odd child");
    ok(sys::rmdir(&m.p(name(b"dir\n\xff"))), "rmdir odd dir");
    ok(std::fs::write(m.p(name(b"made\n\x80here")), b"made"), "create odd name");
    let check = |m: &Mount| {
        let got = names(&m.root);
        let want: Vec<&[u8]> = vec![b"link\xc3\x28", b"made\n\x80here", b"re\nnamed\xfe", b"tab\there \\ back"];
        assert_eq!(got.iter().map(|n| n.as_bytes()).collect::<Vec<_>>(), want);
        assert_eq!(read(&m.p(name(b"re\nnamed\xfe"))), b"nl");
        assert_eq!(read(&m.p(name(b"made\n\x80here"))), b"made");
    };
    check(&m);
    let m = st.remount(m);
    check(&m);
}

#[test]
fn layer_directories_with_newlines_and_non_utf8_in_their_paths() {
    let mut st = Stack::new();
    let odd = [st.base().join(name(b"layer\none\xff")), st.base().join(name(b"layer:two,\xfe x"))];
    let l0 = Layer::new(odd[0].clone());
    l0.file("a", "from the first").file("both", "first");
    let l1 = Layer::new(odd[1].clone());
    l1.file("b", "from the second").file("both", "second");
    st.push_dir(odd[0].clone());
    st.push_dir(odd[1].clone());
    let Some(m) = st.mount() else { return };
    assert_eq!(read(&m.p("a")), b"from the first");
    assert_eq!(read(&m.p("b")), b"from the second");
    assert_eq!(read(&m.p("both")), b"second");
    ok(std::fs::write(m.p("a"), b"changed"), "copy-up from an oddly named layer");
    assert_eq!(read(&m.p("a")), b"changed");
}

#[test]
fn whiteouts_for_entries_that_do_not_exist_are_harmless() {
    let mut st = Stack::new();
    st.layer().file("a", "a").dir("d");
    st.layer().whiteout("nothere").whiteout("d/nothere").whiteout("x/y").opaque("fresh").whiteout("fresh/z");
    let Some(m) = st.mount() else { return };
    assert_eq!(names(&m.root), ["a", "d", "fresh", "x"]);
    assert!(names(&m.p("d")).is_empty());
    assert!(names(&m.p("x")).is_empty(), "a dir holding only a stray whiteout lists {:?}", names(&m.p("x")));
    assert!(names(&m.p("fresh")).is_empty());
    assert_errno(sys::lstat(&m.p("nothere")), libc::ENOENT, "whited-out name that never existed");
    ok(std::fs::write(m.p("nothere"), b"now here"), "create over a stray whiteout");
    assert_eq!(read(&m.p("nothere")), b"now here");
    ok(sys::unlink(&m.p("nothere")), "unlink it again");
    assert_errno(sys::lstat(&m.p("nothere")), libc::ENOENT, "after unlink");
    ok(sys::mkdir(&m.p("d/nothere"), 0o755), "mkdir over a stray whiteout");
    ok(sys::rmdir(&m.p("x")), "rmdir a dir holding only a stray whiteout");
}

#[test]
fn malformed_markers_get_answers_not_hangs() {
    let mut st = Stack::new();
    st.layer().file("a", "a").file("x", "x").file("y", "y").file("d/e", "e");
    let top = st.layer();
    top.file(".wh.x/inside", "a whiteout that is a directory")
        .symlink(".wh.y", "a")
        .file("d/.wh..wh..opq/inside", "an opaque marker that is a directory")
        .file("d/f", "f");
    let Some(m) = st.mount() else { return };
    // What these mean is not defined; the filesystem must answer.
    for p in [m.p("x"), m.p("y"), m.p(".wh.x"), m.p(".wh.y"), m.p("d/e"), m.p("d/.wh..wh..opq")] {
        let r = sys::lstat(&p);
        eprintln!("lstat {}: {}", p.display(), errname(errno(&r)));
    }
    let _ = sys::list(&m.p("d"));
    assert_eq!(read(&m.p("a")), b"a");
    assert_eq!(read(&m.p("d/f")), b"f");
    assert_alive(&m);
}

// ---- NAME_MAX and PATH_MAX ---------------------------------------------------

fn long_name(len: usize, fill: u8) -> OsString {
    OsStr::from_bytes(&vec![fill; len]).to_os_string()
}

#[test]
fn name_max_is_the_limit() {
    let (n255, n256) = (long_name(255, b'n'), long_name(256, b'n'));
    let lower255 = long_name(255, b'l');
    let mut st = Stack::new();
    st.layer().file(&lower255, "lower long").file("f", "f");
    let Some(m) = st.mount() else { return };
    assert_eq!(read(&m.p(&lower255)), b"lower long");
    ok(std::fs::write(m.p(&lower255), b"copied up"), "copy-up of a 255-byte name");
    assert_eq!(read(&m.p(&lower255)), b"copied up");

    ok(std::fs::write(m.p(&n255), b"x"), "create a 255-byte name");
    assert!(names(&m.root).contains(&n255));
    ok(sys::rename(&m.p(&n255), &m.p(long_name(255, b'r'))), "rename to a 255-byte name");
    ok(sys::mkdir(&m.p(long_name(255, b'd')), 0o755), "mkdir a 255-byte name");
    ok(sys::symlink("f", &m.p(long_name(255, b's'))), "symlink a 255-byte name");
    ok(sys::link(&m.p("f"), &m.p(long_name(255, b'h'))), "link a 255-byte name");

    let too_long = m.p(&n256);
    assert_errno(sys::open(&too_long, libc::O_CREAT | libc::O_WRONLY, 0o644), libc::ENAMETOOLONG, "create 256");
    assert_errno(sys::mkdir(&too_long, 0o755), libc::ENAMETOOLONG, "mkdir 256");
    assert_errno(sys::lstat(&too_long), libc::ENAMETOOLONG, "stat 256");
    assert_errno(sys::symlink("f", &too_long), libc::ENAMETOOLONG, "symlink 256");
    assert_errno(sys::rename(&m.p("f"), &too_long), libc::ENAMETOOLONG, "rename to 256");
    assert_errno(sys::link(&m.p("f"), &too_long), libc::ENAMETOOLONG, "link 256");
    assert_alive(&m);
}

#[test]
fn deleting_a_lower_entry_whose_whiteout_name_would_exceed_name_max() {
    // An OCI whiteout is ".wh." + name: for a 255-byte name it cannot exist
    // on the host. Success must really delete (also after remount); a
    // refusal must be an errno that leaves the entry intact.
    let long = long_name(255, b'w');
    let mut st = Stack::new();
    st.layer().file(&long, "long").dir(long_name(253, b'v'));
    let Some(m) = st.mount() else { return };
    for victim in [long.clone(), long_name(253, b'v')] {
        let p = m.p(&victim);
        let is_dir = sys::lstat(&p).map(|s| s.st_mode & libc::S_IFMT == libc::S_IFDIR).unwrap_or(false);
        let r = if is_dir { sys::rmdir(&p) } else { sys::unlink(&p) };
        eprintln!("removing a lower {}-byte name: {}", victim.len(), errname(errno(&r)));
        if r.is_ok() {
            assert_errno(sys::lstat(&p), libc::ENOENT, "removed long name");
            assert!(!names(&m.root).contains(&victim), "removed long name still listed");
        } else {
            ok(sys::lstat(&p), "a refused removal must leave the entry");
        }
    }
    let before = names(&m.root);
    let m = st.remount(m);
    assert_eq!(names(&m.root), before, "listing changed across remount");
    assert_alive(&m);
}

/// Directories `name` nested `depth` times under `dir`; the deepest is
/// returned open. Relative *at() calls, since the path exceeds PATH_MAX.
fn nest(dir: &OwnedFd, name: &OsStr, depth: usize, create: bool) -> std::io::Result<OwnedFd> {
    let mut cur = sys::openat(dir.as_fd(), OsStr::new("."), libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    for _ in 0..depth {
        if create {
            sys::mkdirat(cur.as_fd(), name, 0o755)?;
        }
        cur = sys::openat(cur.as_fd(), name, libc::O_RDONLY | libc::O_DIRECTORY, 0)?;
    }
    Ok(cur)
}

fn read_at(dir: &OwnedFd, name: &str) -> std::io::Result<Vec<u8>> {
    let fd = sys::openat(dir.as_fd(), OsStr::new(name), libc::O_RDONLY, 0)?;
    let mut out = Vec::new();
    loop {
        let chunk = sys::pread(fd.as_fd(), 65536, out.len() as u64)?;
        if chunk.is_empty() {
            return Ok(out);
        }
        out.extend(chunk);
    }
}

fn write_at(dir: &OwnedFd, name: &str, data: &[u8], flags: i32) -> std::io::Result<()> {
    let fd = sys::openat(dir.as_fd(), OsStr::new(name), libc::O_WRONLY | flags, 0o644)?;
    sys::pwrite(fd.as_fd(), data, 0).map(drop)
}

#[test]
fn paths_longer_than_path_max_work_through_relative_lookups() {
    const DEPTH: usize = 24; // 24 * 251 bytes: about 6,000 bytes of path
    let seg = long_name(250, b'p');
    let mut st = Stack::new();
    let l0 = st.layer();
    {
        let root = ok(sys::open(&l0.root, libc::O_RDONLY | libc::O_DIRECTORY, 0), "open layer");
        let deep = ok(nest(&root, &seg, DEPTH, true), "build deep layer");
        ok(write_at(&deep, "leaf", b"deep leaf", libc::O_CREAT), "write deep leaf");
    }
    let Some(m) = st.mount() else { return };
    let root = ok(sys::open(&m.root, libc::O_RDONLY | libc::O_DIRECTORY, 0), "open mount root");
    let deep = ok(nest(&root, &seg, DEPTH, false), "walk the deep tree through the mount");
    assert_eq!(ok(read_at(&deep, "leaf"), "read deep leaf"), b"deep leaf");
    ok(write_at(&deep, "leaf", b"DEEP", 0), "copy-up of a file below PATH_MAX depth");
    assert_eq!(ok(read_at(&deep, "leaf"), "read back"), b"DEEP leaf");
    ok(write_at(&deep, "new", b"new", libc::O_CREAT | libc::O_EXCL), "create at depth");
    ok(sys::mkdirat(deep.as_fd(), OsStr::new("sub"), 0o755), "mkdir at depth");
    ok(sys::renameat(deep.as_fd(), OsStr::new("new"), OsStr::new("renamed")), "rename at depth");
    let listed = ok(common::copy::names_at(deep.as_fd()), "readdir at depth");
    assert_eq!(listed, ["leaf", "renamed", "sub"].map(OsString::from));
    drop((deep, root));

    // An absolute path one byte under PATH_MAX works, one at it does not.
    let prefix: Vec<u8> = std::iter::repeat_n([seg.as_bytes(), b"/"].concat(), 16).flatten().collect();
    let rel_at_limit = [&prefix[..], &vec![b'z'; 4095 - prefix.len()][..]].concat();
    let root = ok(sys::open(&m.root, libc::O_RDONLY | libc::O_DIRECTORY, 0), "open mount root");
    let f = sys::openat(root.as_fd(), OsStr::from_bytes(&rel_at_limit), libc::O_CREAT | libc::O_WRONLY, 0o644);
    ok(f, "create with a 4095-byte relative path");
    let over = [&prefix[..], &vec![b'z'; 4096 - prefix.len()][..]].concat();
    let f = sys::openat(root.as_fd(), OsStr::from_bytes(&over), libc::O_CREAT | libc::O_WRONLY, 0o644);
    assert_errno(f, libc::ENAMETOOLONG, "create with a 4096-byte relative path");
    drop(root);

    let m = st.remount(m);
    let root = ok(sys::open(&m.root, libc::O_RDONLY | libc::O_DIRECTORY, 0), "open mount root");
    let deep = ok(nest(&root, &seg, DEPTH, false), "walk again after remount");
    assert_eq!(ok(read_at(&deep, "leaf"), "read after remount"), b"DEEP leaf");
    assert_eq!(ok(read_at(&deep, "renamed"), "read renamed"), b"new");
}

// ---- a huge directory --------------------------------------------------------

const HUGE: usize = 100_000;

fn huge_name(i: usize) -> String {
    format!("entry-{i:06}")
}

fn count_unique(p: &Path) -> (usize, HashSet<OsString>) {
    let mut seen = HashSet::new();
    let mut total = 0;
    for e in ok(std::fs::read_dir(p), "opendir") {
        let e = ok(e, "readdir");
        total += 1;
        let n = e.file_name();
        assert!(seen.insert(n.clone()), "{n:?} listed twice");
    }
    (total, seen)
}

#[test]
fn directory_with_100_000_entries() {
    let mut bottom_stack = Stack::new();
    let l0 = bottom_stack.layer();
    l0.dir("huge");
    for i in 0..HUGE {
        let p = l0.root.join("huge").join(huge_name(i));
        std::fs::File::create(&p).unwrap_or_else(|e| panic!("create {}: {e}", p.display()));
    }
    let deadline = Duration::from_secs(400);
    {
        let Some(m) = bottom_stack.mount_for(deadline) else { return };
        let (total, _) = count_unique(&m.p("huge"));
        assert_eq!(total, HUGE, "entries listed from one lower layer");
        ok(sys::lstat(&m.p(format!("huge/{}", huge_name(HUGE - 1)))), "stat the last entry");
    }

    // The same layer under a middle layer that whites out every 100th entry
    // and a top layer that adds 500.
    let mut st = Stack::new();
    st.push_dir(l0.root.clone());
    let l1 = st.layer();
    for i in (0..HUGE).step_by(100) {
        l1.whiteout(format!("huge/{}", huge_name(i)));
    }
    let l2 = st.layer();
    for i in 0..500 {
        l2.file(format!("huge/top-{i:03}"), "");
    }
    let Some(m) = st.mount_for(deadline) else { return };
    let (total, seen) = count_unique(&m.p("huge"));
    assert_eq!(total, HUGE - HUGE / 100 + 500, "entries after 1,000 whiteouts and 500 additions");
    assert!(!seen.contains(OsStr::new(&huge_name(500))), "whited-out entry listed");
    assert!(seen.contains(OsStr::new(&huge_name(501))));
    assert_errno(sys::lstat(&m.p(format!("huge/{}", huge_name(700)))), libc::ENOENT, "whited-out entry");
    ok(sys::unlink(&m.p(format!("huge/{}", huge_name(1)))), "unlink in the huge dir");
    ok(std::fs::write(m.p("huge/added"), b""), "create in the huge dir");
    assert_eq!(count_unique(&m.p("huge")).0, HUGE - HUGE / 100 + 500, "count after one unlink and one create");
}

// ---- layers changing under a running mount -----------------------------------

/// Operations on entries of the bottom layer; each answer as text.
fn poke(root: PathBuf) -> Vec<String> {
    let p = |rel: &str| root.join(rel);
    vec![
        format!("stat f: {}", errname(errno(&sys::lstat(&p("f"))))),
        format!("read f: {}", errname(errno(&std::fs::read(p("f"))))),
        format!("readdir d: {}", errname(errno(&sys::list(&p("d"))))),
        format!("read d/a: {}", errname(errno(&std::fs::read(p("d/a"))))),
        format!("write d/b: {}", errname(errno(&std::fs::write(p("d/b"), b"w")))),
        format!("unlink d/c: {}", errname(errno(&sys::unlink(&p("d/c"))))),
        format!("rename d -> d2: {}", errname(errno(&sys::rename(&p("d"), &p("d2"))))),
        format!("rename f -> f2: {}", errname(errno(&sys::rename(&p("f"), &p("f2"))))),
        format!("readdir /: {}", errname(errno(&sys::list(&root)))),
    ]
}

fn layer_vanishes(how: &'static str, change: fn(&Path)) {
    let mut st = Stack::new();
    st.layer().file("f", "bottom").file("d/a", "a").file("d/b", "b").file("d/c", "c");
    st.layer().file("g", "top layer");
    let Some(m) = st.mount() else { return };
    assert_eq!(read(&m.p("f")), b"bottom");
    assert_eq!(names(&m.p("d")).len(), 3);
    change(&m.served[0]);
    let root = m.root.clone();
    let answers = within(60, &format!("operations after the bottom layer was {how}"), move || poke(root));
    eprintln!("after the bottom layer was {how}: {answers:?}");
    assert_eq!(read(&m.p("g")), b"top layer", "the other layer must still be served");
    assert_alive(&m);
    // Unmounting is covered by the mount's watchdog.
    drop(m);
}

#[test]
fn lower_layer_deleted_under_a_running_mount() {
    layer_vanishes("deleted", |dir| {
        std::fs::remove_dir_all(dir).expect("delete the layer");
    });
}

#[test]
fn lower_layer_renamed_under_a_running_mount() {
    layer_vanishes("renamed", |dir| {
        let mut to = dir.as_os_str().to_os_string();
        to.push(".moved");
        std::fs::rename(dir, to).expect("rename the layer");
    });
}

#[test]
fn lower_entries_change_type_under_a_running_mount() {
    layer_vanishes("rewritten", |dir| {
        std::fs::remove_file(dir.join("f")).expect("remove f");
        std::fs::create_dir(dir.join("f")).expect("f becomes a dir");
        std::fs::remove_dir_all(dir.join("d")).expect("remove d");
        std::fs::write(dir.join("d"), b"d is a file now").expect("d becomes a file");
    });
}
