//! Data paths: O_APPEND, fsync, statfs, readdir offsets, remount.

use std::collections::HashSet;
use std::ffi::{CStr, OsString};
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::ffi::OsStrExt;

use crate::common::sys;
use crate::common::*;
use crate::util::*;

#[test]
fn o_append_writes_go_to_the_end() {
    let mut st = Stack::new();
    st.layer().file("f", "abc");
    let Some(m) = st.mount() else { return };
    let a = ok(sys::open(&m.p("f"), libc::O_WRONLY | libc::O_APPEND, 0), "open append 1");
    let b = ok(sys::open(&m.p("f"), libc::O_WRONLY | libc::O_APPEND, 0), "open append 2");
    ok(sys::write(a.as_fd(), b"def"), "write 1");
    ok(sys::write(b.as_fd(), b"ghi"), "write 2");
    // Linux: pwrite on an O_APPEND descriptor appends, whatever the offset.
    ok(sys::pwrite(a.as_fd(), b"jkl", 0), "pwrite with O_APPEND");
    drop((a, b));
    assert_eq!(read(&m.p("f")), b"abcdefghijkl");
}

#[test]
fn fsync_fdatasync_and_syncfs_succeed() {
    let mut st = Stack::new();
    st.layer().file("lower", "x").dir("d");
    let Some(m) = st.mount() else { return };
    let fd = ok(sys::open(&m.p("new"), libc::O_CREAT | libc::O_WRONLY, 0o644), "create");
    ok(sys::write(fd.as_fd(), b"data"), "write");
    ok(sys::fsync(fd.as_fd()), "fsync new file");
    ok(sys::fdatasync(fd.as_fd()), "fdatasync new file");
    let fd = ok(sys::open(&m.p("lower"), libc::O_RDWR, 0), "open lower");
    ok(sys::fsync(fd.as_fd()), "fsync lower file before writing");
    ok(sys::pwrite(fd.as_fd(), b"y", 1), "write lower");
    ok(sys::fdatasync(fd.as_fd()), "fdatasync lower");
    let ro = ok(sys::open(&m.p("lower"), libc::O_RDONLY, 0), "open read-only");
    ok(sys::fsync(ro.as_fd()), "fsync read-only descriptor");
    let dir = ok(sys::open(&m.p("d"), libc::O_RDONLY | libc::O_DIRECTORY, 0), "open dir");
    ok(sys::fsync(dir.as_fd()), "fsync dir");
    // SAFETY: `dir` is open (owned here) for the call; no memory is passed.
    ok(sys::check(unsafe { libc::syncfs(dir.as_raw_fd()) }), "syncfs");
    assert_eq!(read(&m.p("lower")), b"xy");
}

#[test]
fn statfs_describes_a_filesystem() {
    let mut st = Stack::new();
    st.layer().file("d/f", "x");
    let Some(m) = st.mount() else { return };
    for p in [m.root.clone(), m.p("d"), m.p("d/f")] {
        let s = ok(sys::statvfs(&p), &format!("statvfs {}", p.display()));
        assert!(s.f_bsize > 0 && s.f_blocks > 0, "statvfs {}: bsize {} blocks {}", p.display(), s.f_bsize, s.f_blocks);
        assert!(s.f_bavail <= s.f_blocks && s.f_bfree <= s.f_blocks, "free blocks beyond total");
        assert!(s.f_namemax > 0 && s.f_namemax <= 255, "f_namemax {}", s.f_namemax);
    }
}

/// A readdir(3) stream: the non-null `DIR` from opendir, closed on drop
/// and used only through `&mut self`/`&self` until then.
struct Dir(*mut libc::DIR);

impl Dir {
    fn open(p: &std::path::Path) -> Dir {
        let c = sys::cstr(p);
        // SAFETY: `c` is a NUL-terminated path alive for the call, which only reads it.
        let d = unsafe { libc::opendir(c.as_ptr()) };
        assert!(!d.is_null(), "opendir {}: {}", p.display(), std::io::Error::last_os_error());
        Dir(d)
    }

    fn next(&mut self) -> Option<OsString> {
        loop {
            // SAFETY: self.0 is an open stream (see `Dir`).
            let e = unsafe { libc::readdir64(self.0) };
            if e.is_null() {
                return None;
            }
            // SAFETY: a non-null entry stays valid until the next readdir on
            // the stream, and its d_name is NUL-terminated; the name is copied
            // out (or skipped) before that.
            let n = unsafe { CStr::from_ptr((*e).d_name.as_ptr()) }.to_bytes();
            if n != b"." && n != b".." {
                return Some(std::ffi::OsStr::from_bytes(n).to_os_string());
            }
        }
    }

    fn tell(&self) -> libc::c_long {
        // SAFETY: self.0 is an open stream (see `Dir`).
        unsafe { libc::telldir(self.0) }
    }

    fn seek(&mut self, pos: libc::c_long) {
        // SAFETY: self.0 is an open stream (see `Dir`); the position is a
        // plain number, not a pointer: a bad one only misplaces readdir.
        unsafe { libc::seekdir(self.0, pos) }
    }
}

impl Drop for Dir {
    fn drop(&mut self) {
        // SAFETY: self.0 is an open stream, closed only here, once.
        unsafe { libc::closedir(self.0) };
    }
}

#[test]
fn readdir_offsets_survive_concurrent_changes() {
    let mut st = Stack::new();
    let (l0, l1) = (st.layer(), st.layer());
    for i in 0..100 {
        l0.file(format!("d/low{i:03}"), "");
        l1.file(format!("d/up{i:03}"), "");
    }
    l1.whiteout("d/low050");
    let Some(m) = st.mount() else { return };
    for i in 0..50 {
        write(&m.p(format!("d/new{i:03}")), b"");
    }
    let original: HashSet<OsString> = sys::list(&m.p("d")).expect("list").into_iter().collect();
    assert_eq!(original.len(), 99 + 100 + 50);

    let mut dir = Dir::open(&m.p("d"));
    let mut got: Vec<OsString> = (0..60).map(|_| dir.next().expect("entry")).collect();
    let pos = dir.tell();
    let ten: Vec<OsString> = (0..10).map(|_| dir.next().expect("entry")).collect();
    dir.seek(pos);
    let again: Vec<OsString> = (0..10).map(|_| dir.next().expect("entry")).collect();
    assert_eq!(ten, again, "seekdir to a telldir position must replay the same entries");
    got.extend(ten);

    // Change the directory under the open stream.
    let mut removed = HashSet::new();
    for n in got.iter().take(20) {
        ok(sys::unlink(&m.p("d").join(n)), "unlink already-read entry");
        removed.insert(n.clone());
    }
    let unread: Vec<OsString> = original.iter().filter(|n| !got.contains(n)).take(10).cloned().collect();
    for n in &unread {
        ok(sys::unlink(&m.p("d").join(n)), "unlink not-yet-read entry");
        removed.insert(n.clone());
    }
    for i in 0..30 {
        write(&m.p(format!("d/late{i:03}")), b"");
    }
    while let Some(n) = dir.next() {
        got.push(n);
    }
    let mut dup = HashSet::new();
    for n in &got {
        assert!(dup.insert(n), "{n:?} returned twice by one directory stream");
    }
    for n in &original {
        assert!(removed.contains(n) || dup.contains(n), "{n:?} was never returned");
    }
}

#[test]
fn changes_survive_remount() {
    let mut st = Stack::new();
    st.layer().file("modify", "old").file("remove", "r").file("d/x", "x").file("keep", "k");
    let Some(m) = st.mount() else { return };
    write(&m.p("modify"), b"new");
    ok(sys::unlink(&m.p("remove")), "unlink");
    ok(sys::rename(&m.p("d"), &m.p("moved")), "rename dir");
    ok(sys::mkdir(&m.p("newdir"), 0o700), "mkdir");
    write(&m.p("newdir/f"), b"f");
    ok(sys::lsetxattr(&m.p("keep"), "user.tag", b"t", 0), "setxattr");
    let m = st.remount(m);
    assert_eq!(read(&m.p("modify")), b"new");
    assert_eq!(names(&m.root), ["keep", "modify", "moved", "newdir"]);
    assert_eq!(read(&m.p("moved/x")), b"x");
    assert_eq!(perm(&m.p("newdir")), 0o700);
    assert_eq!(read(&m.p("newdir/f")), b"f");
    assert_eq!(user_xattrs(&m.p("keep")).get("user.tag").map(Vec::as_slice), Some(&b"t"[..]));
}

#[test]
fn mkdir_and_create_apply_umask() {
    let mut st = Stack::new();
    st.layer();
    let Some(m) = st.mount() else { return };
    ok(sys::mkdir(&m.p("d"), 0o777), "mkdir");
    assert_eq!(perm(&m.p("d")), 0o755);
    drop(ok(sys::open(&m.p("f"), libc::O_CREAT | libc::O_WRONLY, 0o666), "create"));
    assert_eq!(perm(&m.p("f")), 0o644);
    assert_eq!(lst(&m.p("f")).st_uid, sys::uid(), "new file owned by the caller");
    assert_eq!(lst(&m.p("d")).st_gid, sys::gid(), "new dir group of the caller");
}

#[test]
fn an_open_file_stays_usable_after_its_name_is_removed() {
    let mut st = Stack::new();
    st.layer().file("lower", "from the layer").file("victim", "x");
    let Some(m) = st.mount() else { return };
    // an upper file: written, unlinked, written again and read back
    let up = ok(sys::open(&m.p("tmp"), libc::O_CREAT | libc::O_RDWR, 0o600), "create");
    drop(up);
    let up = ok(sys::open(&m.p("tmp"), libc::O_RDWR, 0), "reopen");
    ok(sys::pwrite(up.as_fd(), b"before", 0), "write before unlink");
    ok(sys::unlink(&m.p("tmp")), "unlink upper");
    ok(sys::pwrite(up.as_fd(), b"+after", 6), "write after unlink");
    assert_eq!(ok(sys::pread(up.as_fd(), 32, 0), "read after unlink"), b"before+after");
    assert_eq!(ok(sys::fstat(up.as_fd()), "fstat").st_size, 12);
    // a lower file: readable after unlink, and writable without touching the layer
    let low = ok(sys::open(&m.p("lower"), libc::O_RDWR, 0), "open lower");
    ok(sys::unlink(&m.p("lower")), "unlink lower");
    assert_eq!(ok(sys::pread(low.as_fd(), 32, 0), "read lower after unlink"), b"from the layer");
    ok(sys::pwrite(low.as_fd(), b"FROM", 0), "write lower after unlink");
    assert_eq!(ok(sys::pread(low.as_fd(), 32, 0), "read back"), b"FROM the layer");
    assert_errno(sys::lstat(&m.p("lower")), libc::ENOENT, "the name is gone");
    // replaced by a rename: the old file is still there for its opener
    let v = ok(sys::open(&m.p("victim"), libc::O_RDONLY, 0), "open victim");
    std::fs::write(m.p("new"), "new").unwrap();
    ok(sys::rename(&m.p("new"), &m.p("victim")), "replace victim");
    assert_eq!(ok(sys::pread(v.as_fd(), 32, 0), "read replaced"), b"x");
    assert_eq!(read(&m.p("victim")), b"new");
    drop((up, low, v));
    // the layer itself never changed
    assert_eq!(std::fs::read(st.layers_bottom_first()[0].join("lower")).unwrap(), b"from the layer");
}

#[test]
fn thousands_of_files_do_not_exhaust_the_servers_descriptors() {
    // More files than a default RLIMIT_NOFILE (1024, set here since the
    // server shares this process): created, written, read and removed one
    // after another, each closed before the next.
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: `lim` is a live rlimit the call fills in.
    unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim) };
    lim.rlim_cur = lim.rlim_cur.min(1024);
    // SAFETY: `lim` is a live rlimit the call only reads.
    unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    let mut st = Stack::new();
    st.layer().dir("d");
    let Some(m) = st.mount() else { return };
    for i in 0..3000 {
        let p = m.p(format!("d/f{i}"));
        std::fs::write(&p, b"data").unwrap_or_else(|e| panic!("create file {i}: {e}"));
        assert_eq!(read(&p), b"data");
    }
    for i in 0..3000 {
        ok(sys::unlink(&m.p(format!("d/f{i}"))), "unlink");
    }
    std::fs::write(m.p("d/last"), b"still fine").unwrap();
    assert_eq!(read(&m.p("d/last")), b"still fine");
}

/// The descriptor that creates a file (burrow gives it direct I/O) and
/// later opens of the same file (page cache) see each other's writes, also
/// through a shared mapping of the creating descriptor.
#[test]
fn creating_descriptor_and_other_opens_agree() {
    let mut st = Stack::new();
    st.layer().dir("d");
    let Some(m) = st.mount() else { return };
    let c = ok(sys::open(&m.p("d/new"), libc::O_CREAT | libc::O_EXCL | libc::O_RDWR, 0o644), "create");
    ok(sys::write(c.as_fd(), &[b'a'; 8192]), "write through the creating descriptor");
    let r = ok(sys::open(&m.p("d/new"), libc::O_RDONLY, 0), "open for reading");
    assert_eq!(ok(sys::pread(r.as_fd(), 4, 0), "read (fills the cache)"), b"aaaa");
    ok(sys::pwrite(c.as_fd(), b"bbbb", 0), "overwrite through the creating descriptor");
    assert_eq!(ok(sys::pread(r.as_fd(), 4, 0), "read again"), b"bbbb", "a stale cached page");
    assert_eq!(ok(sys::pread(c.as_fd(), 4, 4096), "read through the creating descriptor"), b"aaaa");
    // SAFETY: the address is null, so the kernel picks a fresh range and no
    // memory Rust already uses is remapped; `c` is open for the call. The
    // mapping is unmapped below and not used after.
    let p = unsafe { libc::mmap(std::ptr::null_mut(), 4096, libc::PROT_READ | libc::PROT_WRITE, libc::MAP_SHARED, c.as_raw_fd(), 0) };
    assert_ne!(p, libc::MAP_FAILED, "shared mmap of the creating descriptor: {}", std::io::Error::last_os_error());
    // SAFETY: p maps 4096 writable bytes.
    unsafe { std::ptr::copy_nonoverlapping(b"cccc".as_ptr(), p.cast::<u8>(), 4) };
    // SAFETY: p and its length are the mapping's.
    assert_eq!(unsafe { libc::msync(p, 4096, libc::MS_SYNC) }, 0, "msync");
    assert_eq!(ok(sys::pread(r.as_fd(), 4, 0), "read what the mapping wrote"), b"cccc");
    ok(sys::pwrite(c.as_fd(), b"dddd", 0), "write under the mapping");
    // SAFETY: p maps 4096 readable bytes.
    assert_eq!(unsafe { std::slice::from_raw_parts(p.cast::<u8>(), 4) }, b"dddd", "the mapping is stale");
    // SAFETY: unmapping the mapping made above.
    unsafe { libc::munmap(p, 4096) };
    drop((c, r));
    let mut want = vec![b'a'; 8192];
    want[..4].copy_from_slice(b"dddd");
    assert_eq!(read(&m.p("d/new")), want);
}

/// A write by a caller without CAP_FSETID clears set-user-id and
/// set-group-id (with group execute), also through the creating
/// descriptor (a direct write in burrow).
#[test]
fn unprivileged_write_clears_setid_bits() {
    if sys::is_root() {
        return; // root keeps them (CAP_FSETID)
    }
    let mut st = Stack::new();
    st.layer().dir("d");
    let Some(m) = st.mount() else { return };
    // 256 KiB: a write burrow answers before it lands
    for size in [1, 256 << 10] {
        for (mode, after) in [(0o4755, 0o755), (0o2755, 0o755), (0o2745, 0o2745), (0o6711, 0o711)] {
            let p = m.p(format!("d/f{mode:o}-{size}"));
            let c = ok(sys::open(&p, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o644), "create");
            ok(sys::chmod(&p, mode), "chmod");
            ok(sys::write(c.as_fd(), &vec![b'x'; size]), "write through the creating descriptor");
            assert_eq!(perm(&p), after, "mode {mode:o} after a write of {size} bytes");
            drop(c);
        }
    }
}

/// Large writes (burrow answers them before they land, then holds every
/// other request about the file until they have) are seen at once by a
/// stat by name, another descriptor, a truncate and a rewrite of the same
/// range, through the creating descriptor and through a later open.
#[test]
fn large_writes_are_seen_at_once() {
    let mut st = Stack::new();
    st.layer().file("d/lower", "lower");
    let Some(m) = st.mount() else { return };
    const MIB: usize = 1 << 20;
    for (name, flags) in [("d/new", libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY), ("d/lower", libc::O_WRONLY | libc::O_TRUNC)] {
        let p = m.p(name);
        let w = ok(sys::open(&p, flags, 0o644), "open for writing");
        let r = ok(sys::open(&p, libc::O_RDONLY, 0), "open for reading");
        for i in 0..12u8 {
            ok(sys::write(w.as_fd(), &vec![i; MIB]), "write a MiB");
            let want = (usize::from(i) + 1) * MIB;
            assert_eq!(lst(&p).st_size as usize, want, "{name}: size by name after write {i}");
            assert_eq!(ok(sys::fstat(r.as_fd()), "fstat").st_size as usize, want, "{name}: size by descriptor after write {i}");
            assert_eq!(
                ok(sys::pread(r.as_fd(), 4096, (want - 4096) as u64), "read the end"),
                vec![i; 4096],
                "{name}: the end after write {i}"
            );
        }
        // the same range twice in a row: the second must win
        ok(sys::pwrite(w.as_fd(), &vec![b'a'; MIB], 0), "write the first MiB");
        ok(sys::pwrite(w.as_fd(), &vec![b'b'; MIB], 0), "write it again");
        ok(sys::ftruncate(w.as_fd(), (MIB + 10) as u64), "truncate after a write");
        drop((w, r));
        let data = read(&p);
        assert_eq!(data.len(), MIB + 10, "{name}: size after the truncate");
        assert!(data[..MIB].iter().all(|&b| b == b'b'), "{name}: the earlier write of the range won");
        assert!(data[MIB..].iter().all(|&b| b == 1), "{name}: the second MiB");
    }
}

/// Writers and listers at once: four threads write their own files in
/// 256 KiB steps (answered before they land, in burrow) while another
/// lists the directory with attributes (readdirplus) and stats every name;
/// no size seen may be below what a writer's write(2) already returned.
#[test]
fn concurrent_writers_and_listers_agree_on_sizes() {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
    use std::sync::Arc;
    let mut st = Stack::new();
    st.layer().dir("d");
    let Some(m) = st.mount() else { return };
    const STEP: usize = 256 << 10;
    const STEPS: u64 = 24;
    let done: Arc<Vec<AtomicU64>> = Arc::new((0..4).map(|_| AtomicU64::new(0)).collect());
    let stop = Arc::new(AtomicBool::new(false));
    let lister = {
        let (dir, done, stop) = (m.p("d"), done.clone(), stop.clone());
        std::thread::spawn(move || -> Result<u64, String> {
            let mut checks = 0;
            while !stop.load(Ordering::SeqCst) {
                let before: Vec<u64> = done.iter().map(|d| d.load(Ordering::SeqCst)).collect();
                let entries = std::fs::read_dir(&dir).map_err(|e| format!("read_dir: {e}"))?;
                for e in entries {
                    let e = e.map_err(|e| format!("entry: {e}"))?;
                    let name = e.file_name().into_string().unwrap();
                    let Some(i) = name.strip_prefix('w').and_then(|n| n.parse::<usize>().ok()) else { continue };
                    let by_entry = e.metadata().map_err(|e| format!("metadata: {e}"))?.len();
                    let by_name = lst(&dir.join(&name)).st_size as u64;
                    if by_entry < before[i] || by_name < before[i] {
                        return Err(format!("{name}: listed {by_entry}, stat {by_name}, after writes that returned {} bytes", before[i]));
                    }
                    checks += 1;
                }
            }
            Ok(checks)
        })
    };
    let writers: Vec<_> = (0..4)
        .map(|i| {
            let (path, done) = (m.p(format!("d/w{i}")), done.clone());
            std::thread::spawn(move || {
                let fd = ok(sys::open(&path, libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY, 0o644), "create");
                for k in 0..STEPS {
                    ok(sys::write(fd.as_fd(), &vec![k as u8; STEP]), "write");
                    done[i].store((k + 1) * STEP as u64, Ordering::SeqCst);
                }
            })
        })
        .collect();
    for w in writers {
        w.join().expect("a writer panicked");
    }
    stop.store(true, Ordering::SeqCst);
    let checks = lister.join().expect("the lister panicked").unwrap_or_else(|e| panic!("{e}"));
    assert!(checks > 0, "the lister saw no file");
    for i in 0..4 {
        let data = read(&m.p(format!("d/w{i}")));
        assert_eq!(data.len() as u64, STEPS * STEP as u64);
        for k in 0..STEPS as usize {
            assert!(data[k * STEP..(k + 1) * STEP].iter().all(|&b| b == k as u8), "w{i}: step {k} is wrong");
        }
    }
}
