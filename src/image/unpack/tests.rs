use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};

use tar::EntryType;

use super::*;
use crate::image::testtar::{header, TarBuf};

fn run(tar: &[u8]) -> (tempfile::TempDir, PathBuf, Result<UnpackReport>) {
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("layer");
    let r = unpack(tar, &dest, &UnpackOptions::default());
    (t, dest, r)
}

fn refused(tar: &[u8], entry: &str) {
    let (_t, dest, r) = run(tar);
    match r {
        Err(UnpackError::Refused { entry: e, .. }) => assert_eq!(e, entry),
        other => panic!("expected refusal of {entry}, got {other:?}"),
    }
    assert!(!dest.exists(), "partial layer left behind");
}

#[test]
fn unpacks_ordinary_entries() {
    let tar = TarBuf::new()
        .dir("./", 0o755)
        .dir("etc/", 0o755)
        .file("etc/hosts", b"127.0.0.1 localhost\n")
        .symlink("etc/link", "/etc/hosts")
        .hardlink("etc/hard", "etc/hosts")
        .file("usr/bin/tool", b"#!/bin/sh\n")
        .file("etc/.wh.gone", b"")
        .file("etc/.wh..wh..opq", b"")
        .raw(header(b"run/fifo", EntryType::Fifo, 0, b"", 0o640), b"")
        .raw(header(b"ro/", EntryType::Directory, 0, b"", 0o555), b"")
        .file("ro/inside", b"x")
        .finish();
    let (_t, dest, r) = run(&tar);
    let r = r.unwrap();
    assert_eq!(r.entries, 11);
    assert_eq!(r.diff_id, Digest::of_bytes(&tar));
    assert_eq!(r.tar_size, tar.len() as u64);
    assert_eq!(fs::read(dest.join("etc/hosts")).unwrap(), b"127.0.0.1 localhost\n");
    assert_eq!(fs::read_link(dest.join("etc/link")).unwrap(), PathBuf::from("/etc/hosts"));
    let a = fs::metadata(dest.join("etc/hosts")).unwrap();
    let b = fs::metadata(dest.join("etc/hard")).unwrap();
    assert_eq!(a.ino(), b.ino());
    assert_eq!(a.mode() & 0o7777, 0o644);
    assert_eq!(a.mtime(), 1_600_000_000);
    assert_eq!(fs::metadata(dest.join("usr/bin")).unwrap().mode() & 0o7777, 0o755);
    assert!(fs::symlink_metadata(dest.join("run/fifo")).unwrap().file_type().is_fifo());
    assert_eq!(fs::symlink_metadata(dest.join("run/fifo")).unwrap().mode() & 0o7777, 0o640);
    assert_eq!(fs::metadata(dest.join("etc/.wh.gone")).unwrap().len(), 0);
    assert!(dest.join("etc/.wh..wh..opq").exists());
    let ro = fs::metadata(dest.join("ro")).unwrap();
    assert_eq!(ro.mode() & 0o7777, 0o555);
    assert_eq!(ro.mtime(), 1_600_000_000);
    assert_eq!(fs::metadata(dest.join("etc")).unwrap().mtime(), 1_600_000_000);
    assert_eq!(fs::symlink_metadata(dest.join("etc/link")).unwrap().mtime(), 1_600_000_000);
    fsutil::remove_tree(&dest).unwrap();
}

#[test]
fn devices_become_placeholders() {
    let mut h = header(b"dev/null", EntryType::Char, 0, b"", 0o666);
    h.set_device_major(1).unwrap();
    h.set_device_minor(3).unwrap();
    h.set_cksum();
    let tar = TarBuf::new().raw(h, b"").finish();
    let (_t, dest, r) = run(&tar);
    let r = r.unwrap();
    assert_eq!(r.devices, 1);
    let md = fs::symlink_metadata(dest.join("dev/null")).unwrap();
    assert!(md.is_file());
    assert_eq!(md.len(), 0);
    if r.xattr_failures == 0 {
        let p = CString::new(dest.join("dev/null").as_os_str().as_bytes()).unwrap();
        let k = CString::new(RDEV_XATTR).unwrap();
        let mut buf = [0u8; 64];
        // SAFETY: valid strings and buffer.
        let n = unsafe { libc::lgetxattr(p.as_ptr(), k.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        assert_eq!(&buf[..n as usize], b"c 1 3");
    }
}

#[test]
fn later_entries_replace_earlier_ones() {
    let tar = TarBuf::new()
        .file("a", b"file")
        .dir("a/", 0o700)
        .file("a/x", b"x")
        .dir("b/", 0o755)
        .file("b/y", b"y")
        .file("b", b"now a file")
        .file("c", b"one")
        .file("c", b"two")
        .dir("a/", 0o750)
        .finish();
    let (_t, dest, r) = run(&tar);
    r.unwrap();
    assert_eq!(fs::read(dest.join("a/x")).unwrap(), b"x");
    assert_eq!(fs::metadata(dest.join("a")).unwrap().permissions().mode() & 0o7777, 0o750);
    assert_eq!(fs::read(dest.join("b")).unwrap(), b"now a file");
    assert_eq!(fs::read(dest.join("c")).unwrap(), b"two");
}

#[test]
fn refuses_dotdot_and_absolute_names() {
    refused(&TarBuf::new().file("../evil", b"x").finish(), "../evil");
    refused(&TarBuf::new().file("ok", b"").file("a/../../evil", b"x").finish(), "a/../../evil");
    refused(&TarBuf::new().file("/etc/evil", b"x").finish(), "/etc/evil");
}

#[test]
fn refuses_writing_through_symlinks() {
    let outside = tempfile::tempdir().unwrap();
    let target = outside.path().to_str().unwrap().to_string();
    refused(&TarBuf::new().symlink("link", &target).file("link/pwned", b"x").finish(), "link/pwned");
    assert_eq!(fs::read_dir(outside.path()).unwrap().count(), 0);
    // Even a symlink that stays inside the layer is never followed.
    refused(&TarBuf::new().dir("d/", 0o755).symlink("l", "d").file("l/x", b"x").finish(), "l/x");
    refused(&TarBuf::new().symlink("up", "..").file("up/x", b"x").finish(), "up/x");
    // A file as a parent.
    let (_t, _d, r) = run(&TarBuf::new().file("f", b"").file("f/x", b"").finish());
    assert!(matches!(r, Err(UnpackError::Refused { .. })));
}

#[test]
fn replacing_a_symlink_does_not_follow_it() {
    let outside = tempfile::tempdir().unwrap();
    let victim = outside.path().join("victim");
    fs::write(&victim, b"safe").unwrap();
    let tar = TarBuf::new().symlink("f", victim.to_str().unwrap()).file("f", b"overwritten").finish();
    let (_t, dest, r) = run(&tar);
    r.unwrap();
    assert_eq!(fs::read(&victim).unwrap(), b"safe");
    assert_eq!(fs::read(dest.join("f")).unwrap(), b"overwritten");
}

#[test]
fn refuses_hardlinks_outside() {
    refused(&TarBuf::new().hardlink("h", "../../etc/passwd").finish(), "h");
    refused(&TarBuf::new().hardlink("h", "/etc/passwd").finish(), "h");
    refused(&TarBuf::new().symlink("s", "/etc").hardlink("h", "s/passwd").finish(), "h");
    refused(&TarBuf::new().hardlink("h", "missing").finish(), "h");
    refused(&TarBuf::new().dir("d/", 0o755).hardlink("h", "d").finish(), "h");
}

#[test]
fn hardlink_to_a_symlink_links_the_symlink() {
    let tar = TarBuf::new().symlink("s", "/etc/passwd").hardlink("h", "s").finish();
    let (_t, dest, r) = run(&tar);
    r.unwrap();
    assert_eq!(fs::read_link(dest.join("h")).unwrap(), PathBuf::from("/etc/passwd"));
}

#[test]
fn not_a_tar() {
    for input in [&b"hello, this is not a tar archive at all"[..], &[0x55u8; 2048][..], &b""[..]] {
        let (_t, dest, r) = run(input);
        assert!(matches!(r, Err(UnpackError::NotATar)), "{r:?}");
        assert!(!dest.exists());
    }
    assert_eq!(UnpackError::NotATar.to_string(), "not a tar archive (nor gzip/zstd compressed tar)");
}

#[test]
fn empty_tar_is_an_empty_layer() {
    let tar = TarBuf::new().finish();
    let (_t, dest, r) = run(&tar);
    assert_eq!(r.unwrap().entries, 0);
    assert_eq!(fs::read_dir(&dest).unwrap().count(), 0);
}

#[test]
fn squashes_owners_outside_the_range() {
    let tar = TarBuf::new().file_owned("f", b"x", 100_000, 100_000).finish();
    let t = tempfile::tempdir().unwrap();
    let dest = t.path().join("l");
    let r = unpack(&tar[..], &dest, &UnpackOptions { max_uid: 65536, max_gid: 65536 }).unwrap();
    assert_eq!(r.squashed_owners, 1);
    let me = nix::unistd::geteuid().as_raw();
    assert!([0, me].contains(&fs::metadata(dest.join("f")).unwrap().uid()));
}

#[test]
fn the_squash_warning_names_the_map_in_force() {
    let range = UnpackOptions { max_uid: 65537, max_gid: 65537 }.squashed_warning(3);
    assert!(range.starts_with("warning: 3 files") && range.contains("uids 0-65536, gids 0-65536"), "{range}");
    assert!(!range.contains("add a subordinate") && !range.contains("single-id"), "{range}");
    let single = UnpackOptions { max_uid: 1, max_gid: 1 }.squashed_warning(1);
    assert!(single.contains("single-id") && single.contains("add a subordinate id range"), "{single}");
}

#[test]
fn owners_inside_the_range_are_kept_or_counted() {
    let tar = TarBuf::new().file_owned("f", b"x", 1, 1).finish();
    let (_t, dest, r) = run(&tar);
    let r = r.unwrap();
    let uid = fs::metadata(dest.join("f")).unwrap().uid();
    assert!(uid == 1 || r.squashed_owners == 1);
}

#[test]
fn pax_times() {
    assert_eq!(parse_pax_time("1700000000.5"), Some((1_700_000_000, 500_000_000)));
    assert_eq!(parse_pax_time("12"), Some((12, 0)));
    assert_eq!(parse_pax_time("x"), None);
}

#[test]
fn truncated_archive_is_a_read_error() {
    let mut tar = TarBuf::new().file("a", &[7u8; 4096]).file("b", &[7u8; 4096]).finish();
    tar.truncate(1024 + 512);
    let (_t, dest, r) = run(&tar);
    assert!(matches!(r, Err(UnpackError::Read { .. })), "{r:?}");
    assert!(!dest.exists());
}
