//! Store round trips on a temp directory: import, resolve, list, tag,
//! inspect, remove, and failed imports that must leave no trace.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use super::testtar::TarBuf;
use super::*;
use crate::paths::Paths;

fn store() -> (tempfile::TempDir, Store) {
    let t = tempfile::tempdir().unwrap();
    let paths = Paths { root: t.path().join("root"), runtime: t.path().join("run") };
    let s = Store::open(&paths).unwrap();
    (t, s)
}

fn rootfs() -> Vec<u8> {
    TarBuf::new()
        .dir("./", 0o755)
        .dir("bin/", 0o755)
        .file("bin/sh", b"#!fake shell\n")
        .dir("proc/", 0o555)
        .symlink("bin/ash", "sh")
        .finish()
}

fn imp(s: &Store, tar: &[u8], name: Option<&str>) -> Result<ImportResult> {
    import(s, tar, name, &ImportOptions::default())
}

/// Every path under `root` with its type, size, mode and content hash.
fn snapshot(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    fn walk(root: &Path, p: &Path, out: &mut BTreeMap<String, String>) {
        for e in fs::read_dir(p).unwrap() {
            let e = e.unwrap();
            let md = fs::symlink_metadata(e.path()).unwrap();
            let rel = e.path().strip_prefix(root).unwrap().display().to_string();
            let content = if md.is_file() { Digest::of_bytes(&fs::read(e.path()).unwrap()).to_string() } else { String::new() };
            out.insert(rel, format!("{:o} {} {content}", md.mode(), md.len()));
            if md.is_dir() {
                walk(root, &e.path(), out);
            }
        }
    }
    walk(root, root, &mut out);
    out
}

#[test]
fn import_resolve_list_tag_remove() {
    let (_t, s) = store();
    let tar = rootfs();
    let r = imp(&s, &tar, Some("busybox")).unwrap();
    assert_eq!(r.name.as_deref(), Some("docker.io/library/busybox:latest"));
    assert_eq!(r.report.diff_id, Digest::of_bytes(&tar));

    let img = s.resolve("busybox").unwrap();
    assert_eq!(img.id, r.id);
    assert_eq!(img.names, vec!["docker.io/library/busybox:latest"]);
    assert_eq!(img.layers.len(), 1);
    assert_eq!(img.layers[0].chain_id, r.report.diff_id);
    assert_eq!(fs::read(img.layers[0].dir.join("bin/sh")).unwrap(), b"#!fake shell\n");
    assert!(s.has_blob(&r.report.diff_id));
    let c = img.config.config().as_ref().unwrap();
    assert_eq!(c.env().as_ref().unwrap(), &vec![import::DEFAULT_PATH.to_string()]);
    assert!(c.cmd().is_none());
    assert_eq!(s.resolve("docker.io/library/busybox:latest").unwrap().id, r.id);
    assert_eq!(s.resolve(&r.id.to_string()).unwrap().id, r.id);
    s.tag("busybox", "other:1").unwrap();
    let by_id = s.resolve(&r.id.to_string()).unwrap();
    let mut names = by_id.names.clone();
    names.sort();
    assert_eq!(names, ["docker.io/library/busybox:latest", "docker.io/library/other:1"], "a full id finds every name");
    assert_eq!(by_id.manifest_digest, img.manifest_digest);
    assert!(matches!(s.resolve(&format!("sha256:{}", "0".repeat(64))), Err(Error::NotFound { .. })));
    s.remove("other:1", false).unwrap();
    assert_eq!(s.resolve(&r.id.hex()[..4]).unwrap().id, r.id);
    assert_eq!(s.resolve(&format!("busybox@{}", img.manifest_digest)).unwrap().id, r.id);
    assert!(matches!(s.resolve("alpine"), Err(Error::NotFound { .. })));
    assert!(matches!(s.resolve("Alpine"), Err(Error::Reference(_))));
    let msg = s.resolve("foo").unwrap_err().to_string();
    assert_eq!(msg, "image \"foo\" not found locally: import it with burrow import, or pull it");

    let list = s.list().unwrap();
    assert_eq!(list.len(), 1);
    assert_eq!(list[0].size, tar.len() as u64);
    assert_eq!(list[0].layers, 1);
    assert!(list[0].created.is_some());

    s.tag("busybox", "localhost:5000/a/b:1").unwrap();
    let img = s.resolve("localhost:5000/a/b:1").unwrap();
    assert_eq!(img.names.len(), 2);

    let j = s.inspect("busybox").unwrap();
    assert_eq!(j["Id"], r.id.to_string());
    assert_eq!(j["RepoTags"], serde_json::json!(["busybox:latest", "localhost:5000/a/b:1"]));
    assert_eq!(j["RootFS"]["Layers"][0], r.report.diff_id.to_string());
    assert_eq!(j["Os"], "linux");
    assert!(j["Config"]["Cmd"].is_null());

    // By id with two names: needs force.
    assert!(matches!(s.remove(&r.id.to_string(), false), Err(Error::MustForce { .. })));
    // By name: untag only.
    let rep = s.remove("busybox", false).unwrap();
    assert_eq!(rep.untagged, vec!["docker.io/library/busybox:latest"]);
    assert!(rep.deleted.is_empty());
    assert!(s.resolve("busybox").is_err());
    // Last name: delete everything.
    let layer_dir = img.layers[0].dir.clone();
    let rep = s.remove("localhost:5000/a/b:1", false).unwrap();
    assert_eq!(rep.untagged, vec!["localhost:5000/a/b:1"]);
    assert_eq!(rep.deleted, vec![r.id.clone(), r.report.diff_id.clone()]);
    assert!(!layer_dir.exists());
    assert!(s.list().unwrap().is_empty());
    assert_eq!(fs::read_dir(s.paths().blobs()).unwrap().count(), 0);
    assert_eq!(fs::read_dir(s.paths().tmp()).unwrap().count(), 0);
    assert!(s.fsck().unwrap().is_empty());
}

#[test]
fn shared_layers_survive_removal_of_one_image() {
    let (_t, s) = store();
    let tar = rootfs();
    let a = imp(&s, &tar, Some("a")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(2));
    let b = imp(&s, &tar, Some("b")).unwrap();
    assert_ne!(a.id, b.id, "configs differ by creation time");
    let rep = s.remove("a", false).unwrap();
    assert_eq!(rep.deleted, vec![a.id.clone()]);
    let img = s.resolve("b").unwrap();
    assert!(img.layers[0].dir.join("bin/sh").exists());
    assert!(s.has_blob(&img.layers[0].blob.digest));
    assert!(s.fsck().unwrap().is_empty());
}

#[test]
fn untagged_images_and_retagging() {
    let (_t, s) = store();
    let a = imp(&s, &rootfs(), None).unwrap();
    assert_eq!(a.name, None);
    let list = s.list().unwrap();
    assert_eq!(list.len(), 1);
    assert!(list[0].names.is_empty());
    s.tag(&a.id.hex()[..12], "x:1").unwrap();
    assert_eq!(s.list().unwrap()[0].names, vec!["docker.io/library/x:1"]);
    // Importing another image under the same name leaves the first untagged.
    let b = imp(&s, &TarBuf::new().file("f", b"b").finish(), Some("x:1")).unwrap();
    assert_eq!(s.resolve("x:1").unwrap().id, b.id);
    let old = s.resolve(&a.id.to_string()).unwrap();
    assert!(old.names.is_empty());
    // Untagged images are removed by id without force.
    let rep = s.remove(&a.id.hex()[..8], false).unwrap();
    assert_eq!(rep.deleted[0], a.id);
    assert_eq!(s.list().unwrap().len(), 1);
    assert!(matches!(
        s.tag("x:1", "y@sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
        Err(Error::DigestTag { .. })
    ));
}

#[test]
fn ambiguous_prefix() {
    let (_t, s) = store();
    let mut ids = Vec::new();
    // Ids are random-looking, so two images rarely share 4 leading digits;
    // check the 4-digit minimum always and ambiguity when it happens.
    for i in 0..2 {
        ids.push(imp(&s, &TarBuf::new().file("f", format!("{i}").as_bytes()).finish(), None).unwrap().id);
    }
    assert!(matches!(s.resolve(&ids[0].hex()[..3]), Err(Error::NotFound { .. }) | Err(Error::Reference(_))));
    let common: usize = ids[0].hex().bytes().zip(ids[1].hex().bytes()).take_while(|(a, b)| a == b).count();
    if common >= 4 {
        assert!(matches!(s.resolve(&ids[0].hex()[..4]), Err(Error::Ambiguous { .. })));
    }
}

#[test]
fn compressed_imports() {
    let (_t, s) = store();
    let tar = rootfs();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let gz = gz.finish().unwrap();
    let a = imp(&s, &gz, Some("gz")).unwrap();
    assert_eq!(a.report.diff_id, Digest::of_bytes(&tar));
    let z = zstd::encode_all(&tar[..], 3).unwrap();
    let b = imp(&s, &z, Some("zst")).unwrap();
    assert_eq!(b.report.diff_id, Digest::of_bytes(&tar));
    // The blob stored is the uncompressed tar.
    assert_eq!(fs::read(s.blob_path(&a.report.diff_id)).unwrap(), tar);
}

#[test]
fn failed_imports_leave_the_store_unchanged() {
    let (_t, s) = store();
    imp(&s, &rootfs(), Some("keep")).unwrap();
    let before = snapshot(&s.paths().root);
    let bad: Vec<Vec<u8>> = vec![
        b"definitely not a tar".to_vec(),
        Vec::new(),
        TarBuf::new().file("ok", b"fine").file("../escape", b"x").finish(),
        TarBuf::new().symlink("l", "/tmp").file("l/x", b"x").finish(),
        TarBuf::new().hardlink("h", "/etc/passwd").finish(),
        {
            let mut t = TarBuf::new().file("a", &[1u8; 8192]).finish();
            t.truncate(2048);
            t
        },
    ];
    for input in &bad {
        let e = imp(&s, input, Some("bad")).unwrap_err();
        assert!(matches!(e, Error::Unpack(_)), "{e}");
        assert_eq!(snapshot(&s.paths().root), before, "after failing with {e}");
    }
    assert_eq!(imp(&s, b"garbage", None).unwrap_err().to_string(), "not a tar archive (nor gzip/zstd compressed tar)");
    assert!(matches!(imp(&s, &rootfs(), Some("Bad")), Err(Error::Reference(_))));
    assert_eq!(snapshot(&s.paths().root), before);
}

#[test]
fn a_layer_that_is_not_its_digest_says_so_even_when_it_does_not_unpack() {
    let (_t, s) = store();
    let tar = rootfs();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let good = gz.finish().unwrap();
    let desc = layout::Descriptor::new("application/vnd.oci.image.layer.v1.tar+gzip", Digest::of_bytes(&good), good.len() as u64);
    let mut bad = good.clone();
    let mid = bad.len() / 2;
    bad[mid] ^= 0xff;
    let opts = UnpackOptions::default();
    let e = ingest::stage_layer_blob(&s, &desc, &bad[..], &opts).err().expect("a corrupt layer fails");
    assert!(matches!(&e, Error::DigestMismatch { expected, .. } if *expected == desc.digest), "{e}");
    // Bytes that are the blob but not an archive are a format error.
    let junk = b"not a layer at all".to_vec();
    let desc = layout::Descriptor::new("application/vnd.oci.image.layer.v1.tar", Digest::of_bytes(&junk), junk.len() as u64);
    let e = ingest::stage_layer_blob(&s, &desc, &junk[..], &opts).err().expect("junk fails");
    assert!(matches!(e, Error::Unpack(_)), "{e}");
    ingest::stage_layer_blob(&s, &layout::Descriptor::new("x", Digest::of_bytes(&good), good.len() as u64), &good[..], &opts).unwrap();
}
