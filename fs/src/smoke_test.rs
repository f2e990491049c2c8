//! One end-to-end mount: spawn_mount as the current user, a few changes
//! through the mount, the upper checked as an OCI layer. Without a usable
//! /dev/fuse it prints why and passes, except under CI=true.

use std::fs;
use std::path::Path;

/// Whether this runs under CI, where a test never skips: `CI=true` or
/// `CI=1`, as the engine's tests read it.
fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn usable() -> Result<(), String> {
    fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").map_err(|e| format!("/dev/fuse: {e}"))?;
    if !Path::new("/usr/bin/fusermount3").exists() && !Path::new("/bin/fusermount3").exists() && crate::sys::euid() != 0 {
        return Err("fusermount3 is not installed".into());
    }
    Ok(())
}

/// A directory of the upper swapped for a symlink behind the server's
/// back (what a container racing a rename against the server could
/// arrange) must not lead the server out of the layer.
#[test]
fn a_directory_swapped_for_a_symlink_is_not_followed() {
    if let Err(why) = usable() {
        assert!(!in_ci(), "CI=true and the mount cannot run: {why}");
        eprintln!("SKIP symlink swap test: {why}");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s);
    for d in ["l1", "u/d", "w", "m", "outside"] {
        fs::create_dir_all(p(d)).unwrap();
    }
    fs::write(p("u/d/f"), "inside").unwrap();
    fs::write(p("outside/f"), "host").unwrap();
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(p("outside/f"), fs::Permissions::from_mode(0o644)).unwrap();
    let cfg = crate::Config { lowers: vec![p("l1")], upper: p("u"), work: p("w") };
    let m = crate::spawn_mount(cfg, &p("m")).unwrap();
    assert_eq!(fs::read_to_string(p("m/d/f")).unwrap(), "inside");
    // the server knows d/f by its path now; swap d for a link out
    fs::rename(p("u/d"), p("u/d-moved")).unwrap();
    std::os::unix::fs::symlink(p("outside"), p("u/d")).unwrap();
    let r = fs::set_permissions(p("m/d/f"), fs::Permissions::from_mode(0o600));
    assert!(r.is_err(), "chmod through a swapped directory must fail");
    assert_eq!(fs::metadata(p("outside/f")).unwrap().permissions().mode() & 0o777, 0o644, "the host file is untouched");
    drop(m);
}

#[test]
fn mount_read_write_delete() {
    if let Err(why) = usable() {
        assert!(!in_ci(), "CI=true and the mount cannot run: {why}");
        eprintln!("SKIP mount smoke test: {why}");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s);
    for d in ["l1", "l2", "u", "w", "m"] {
        fs::create_dir_all(p(d)).unwrap();
    }
    fs::create_dir_all(p("l2/etc")).unwrap();
    fs::write(p("l2/etc/passwd"), "root").unwrap();
    fs::write(p("l2/etc/old"), "old").unwrap();
    fs::write(p("l1/etc.keep"), "").unwrap();
    fs::write(p("l1/.wh.etc.keep"), "").unwrap();
    let cfg = crate::Config { lowers: vec![p("l1"), p("l2")], upper: p("u"), work: p("w") };
    let m = crate::spawn_mount(cfg, &p("m")).unwrap();
    assert_eq!(fs::read_to_string(p("m/etc/passwd")).unwrap(), "root");
    fs::write(p("m/etc/passwd"), "root\nwww").unwrap();
    fs::remove_file(p("m/etc/old")).unwrap();
    fs::create_dir(p("m/srv")).unwrap();
    let mut names: Vec<_> = fs::read_dir(p("m")).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    assert_eq!(names, ["etc", "etc.keep", "srv"]);
    assert_eq!(fs::read(p("m/.wh.etc.keep")).map_err(|e| e.kind()), Err(std::io::ErrorKind::NotFound));
    drop(m);
    assert_eq!(fs::read_to_string(p("u/etc/passwd")).unwrap(), "root\nwww");
    assert!(p("u/etc/.wh.old").exists());
    let diff: Vec<String> = crate::diff::changes(&[p("l1"), p("l2")], &p("u")).unwrap().iter().map(|c| c.to_string()).collect();
    assert_eq!(diff, ["C /etc", "D /etc/old", "C /etc/passwd", "A /srv"]);
}

/// The engine's way in: mount(2) with `mount_data`, then `serve`. That
/// needs root, as burrow has in its user namespace: an ordinary user runs
/// this test again as root of a new one (`unshare --map-root-user --mount`).
#[test]
fn serve_on_a_mounted_descriptor() {
    use std::ffi::CString;
    use std::os::fd::{AsFd, OwnedFd};
    use std::os::unix::ffi::OsStrExt;
    if let Err(why) = usable() {
        assert!(!in_ci(), "CI=true and the serve test cannot run: {why}");
        eprintln!("SKIP serve test: {why}");
        return;
    }
    if crate::sys::euid() != 0 {
        assert!(std::env::var_os("BURROW_FS_TEST_IN_USERNS").is_none(), "not root inside the user namespace");
        let out = std::process::Command::new("unshare")
            .args(["--user", "--map-root-user", "--mount", "--"])
            .arg(std::env::current_exe().unwrap())
            .args(["--exact", "smoke_test::serve_on_a_mounted_descriptor", "--nocapture", "--test-threads=1"])
            .env("BURROW_FS_TEST_IN_USERNS", "1")
            .output()
            .expect("unshare(1) from util-linux");
        let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
        eprintln!("as root of a user namespace:\n{text}");
        assert!(out.status.success() && text.contains("1 passed"), "the serve test as root of a user namespace:\n{text}");
        return;
    }
    let t = tempfile::tempdir().unwrap();
    let p = |s: &str| t.path().join(s);
    for d in ["l", "u", "w", "m"] {
        fs::create_dir_all(p(d)).unwrap();
    }
    fs::write(p("l/hello"), "world").unwrap();
    let dev: OwnedFd = fs::OpenOptions::new().read(true).write(true).open("/dev/fuse").unwrap().into();
    let data = CString::new(crate::mount_data(dev.as_fd(), 0o755)).unwrap();
    let target = CString::new(p("m").as_os_str().as_bytes()).unwrap();
    // SAFETY: the four pointers are NUL-terminated strings (two literals,
    // `target` and `data`) that outlive the call, which only reads them.
    let rc = unsafe {
        libc::mount(c"burrow".as_ptr(), target.as_ptr(), c"fuse.burrow".as_ptr(), libc::MS_NOSUID | libc::MS_NODEV, data.as_ptr().cast())
    };
    assert_eq!(rc, 0, "mount: {}", std::io::Error::last_os_error());
    let cfg = crate::Config { lowers: vec![p("l")], upper: p("u"), work: p("w") };
    let server = crate::serve(dev, cfg, 2).unwrap();
    assert_eq!(fs::read_to_string(p("m/hello")).unwrap(), "world");
    fs::write(p("m/new"), "x").unwrap();
    // SAFETY: `target` is a NUL-terminated path that outlives the call.
    assert_eq!(unsafe { libc::umount2(target.as_ptr(), libc::MNT_DETACH) }, 0);
    server.join().unwrap();
    assert_eq!(fs::read_to_string(p("u/new")).unwrap(), "x");
}
