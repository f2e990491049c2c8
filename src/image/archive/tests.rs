//! Archive round trips and refusals on a temp store: what `save` writes
//! `load` reads back with the same image id, and every kind of bad
//! archive is refused with the store left exactly as it was.

use std::collections::BTreeMap;
use std::fs;
use std::path::Path;

use super::*;
use crate::image::testtar::TarBuf;
use crate::image::{import, ImportOptions, Store, UnpackOptions};
use crate::paths::Paths;

fn store(t: &Path, name: &str) -> Store {
    let paths = Paths { root: t.join(name), runtime: t.join(format!("{name}-run")) };
    Store::open(&paths).unwrap()
}

fn rootfs() -> Vec<u8> {
    TarBuf::new().dir("bin/", 0o755).file("bin/sh", b"#!fake shell\n").symlink("bin/ash", "sh").finish()
}

/// Every file under the store root with its size (not `lock`).
fn listing(s: &Store) -> BTreeMap<String, u64> {
    fn walk(base: &Path, dir: &Path, out: &mut BTreeMap<String, u64>) {
        for e in fs::read_dir(dir).unwrap().flatten() {
            let p = e.path();
            if e.file_type().unwrap().is_dir() {
                walk(base, &p, out);
            } else if p.file_name().unwrap() != "lock" {
                out.insert(p.strip_prefix(base).unwrap().display().to_string(), e.metadata().unwrap().len());
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(&s.paths().root, &s.paths().root, &mut out);
    out
}

fn load_bytes(s: &Store, bytes: &[u8]) -> Result<Vec<Loaded>> {
    load(s, bytes, "test.tar", &UnpackOptions::default())
}

fn refused(s: &Store, bytes: &[u8], check: impl Fn(&Error) -> bool) {
    let before = listing(s);
    match load_bytes(s, bytes) {
        Ok(_) => panic!("loaded a bad archive"),
        Err(e) => assert!(check(&e), "unexpected error: {e}"),
    }
    assert_eq!(listing(s), before, "the store must be unchanged");
}

fn saved(s: &Store, names: &[&str], format: Format) -> Vec<u8> {
    let mut out = Vec::new();
    let names: Vec<String> = names.iter().map(|n| n.to_string()).collect();
    save(s, &names, format, &mut out).unwrap();
    out
}

/// The members of a tar and their contents.
fn members(bytes: &[u8]) -> BTreeMap<String, Vec<u8>> {
    let mut ar = tar::Archive::new(bytes);
    let mut out = BTreeMap::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        let name = e.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut e, &mut data).unwrap();
        out.insert(name, data);
    }
    out
}

/// A tar of the given members, in order.
fn archive(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut t = TarBuf::new();
    for (n, d) in members {
        t = t.file(n, d);
    }
    t.finish()
}

#[test]
fn docker_archive_round_trip_keeps_the_id_and_names() {
    let t = tempfile::tempdir().unwrap();
    let a = store(t.path(), "a");
    let r = import(&a, &rootfs()[..], Some("busybox"), &ImportOptions::default()).unwrap();
    a.tag("busybox", "other:v1").unwrap();
    let bytes = saved(&a, &["busybox", "other:v1"], Format::DockerArchive);
    let m = members(&bytes);
    let manifest: serde_json::Value = serde_json::from_slice(&m["manifest.json"]).unwrap();
    assert_eq!(manifest[0]["RepoTags"], serde_json::json!(["docker.io/library/busybox:latest", "docker.io/library/other:v1"]));
    assert_eq!(manifest[0]["Config"], format!("{}.json", r.id.hex()));

    let b = store(t.path(), "b");
    let loaded = load_bytes(&b, &bytes).unwrap();
    assert_eq!(loaded.len(), 1);
    assert_eq!(loaded[0].id, r.id);
    assert_eq!(loaded[0].names, ["docker.io/library/busybox:latest", "docker.io/library/other:v1"]);
    assert_eq!(b.resolve("other:v1").unwrap().id, r.id);
    assert!(b.fsck().unwrap().is_empty());
    // Loading again changes nothing but is fine; compressed input too.
    let gz = {
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        std::io::Write::write_all(&mut e, &bytes).unwrap();
        e.finish().unwrap()
    };
    assert_eq!(load_bytes(&b, &gz).unwrap()[0].id, r.id);
    // By id: no names.
    let by_id = saved(&a, &[r.id.as_str()], Format::DockerArchive);
    let manifest: serde_json::Value = serde_json::from_slice(&members(&by_id)["manifest.json"]).unwrap();
    assert!(manifest[0]["RepoTags"].is_null());
}

#[test]
fn oci_archive_round_trip_keeps_the_manifest() {
    let t = tempfile::tempdir().unwrap();
    let a = store(t.path(), "a");
    let r = import(&a, &rootfs()[..], Some("example.com/app:1"), &ImportOptions::default()).unwrap();
    let bytes = saved(&a, &["example.com/app:1"], Format::OciArchive);
    let m = members(&bytes);
    assert!(m.contains_key("oci-layout") && m.contains_key("index.json"));
    let index: serde_json::Value = serde_json::from_slice(&m["index.json"]).unwrap();
    assert_eq!(index["manifests"][0]["annotations"][crate::image::REF_NAME_ANNOTATION], "example.com/app:1");
    let b = store(t.path(), "b");
    let loaded = load_bytes(&b, &bytes).unwrap();
    assert_eq!(loaded[0].id, r.id);
    assert_eq!(b.resolve("example.com/app:1").unwrap().manifest_digest, a.resolve("example.com/app:1").unwrap().manifest_digest);
}

#[test]
fn bad_archives_are_refused_and_the_store_is_unchanged() {
    let t = tempfile::tempdir().unwrap();
    let a = store(t.path(), "a");
    import(&a, &rootfs()[..], Some("busybox"), &ImportOptions::default()).unwrap();
    let good = members(&saved(&a, &["busybox"], Format::DockerArchive));
    let b = store(t.path(), "b");
    refused(&b, b"this is not a tar archive at all, only some text", |e| matches!(e, Error::NotATar { .. }));
    refused(&b, b"", |e| matches!(e, Error::NotATar { .. }));
    // A text file loaded by mistake: the message does not quote it.
    let text = "hello world this is text\n".repeat(200);
    refused(&b, text.as_bytes(), |e| matches!(e, Error::NotATar { .. }) && !e.to_string().contains("hello"));
    let mut cut = archive(&[("a", &[1u8; 600][..])]);
    cut.truncate(512 + 1024);
    cut.extend(text.as_bytes());
    refused(&b, &cut, |e| matches!(e, Error::Corrupt { members: 1, .. }) && !e.to_string().contains("hello"));
    refused(&b, &archive(&[("etc/passwd", b"root")]), |e| matches!(e, Error::UnknownContent { .. }));
    refused(&b, &archive(&[("manifest.json", b"{not json")]), |e| matches!(e, Error::BadDocument { .. }));
    refused(&b, &archive(&[("manifest.json", b"[]")]), |e| matches!(e, Error::BadDocument { .. }));
    let mut bad_name = TarBuf::new().raw(crate::image::testtar::header(b"../escape", tar::EntryType::Regular, 1, b"", 0o644), b"x");
    for (n, d) in &good {
        bad_name = bad_name.file(n, d);
    }
    refused(&b, &bad_name.finish(), |e| matches!(e, Error::UnsafeMember { reason, .. } if reason.contains("..")));
    // A layer the manifest names is missing.
    let without_layer: Vec<(&str, &[u8])> =
        good.iter().filter(|(n, _)| !n.ends_with("layer.tar")).map(|(n, d)| (n.as_str(), d.as_slice())).collect();
    refused(&b, &archive(&without_layer), |e| matches!(e, Error::MissingMember { member, .. } if member.ends_with("layer.tar")));
    // A layer whose content is not what the config says.
    let other_layer = TarBuf::new().file("evil", b"x").finish();
    let swapped: Vec<(&str, &[u8])> =
        good.iter().map(|(n, d)| (n.as_str(), if n.ends_with("layer.tar") { other_layer.as_slice() } else { d.as_slice() })).collect();
    refused(&b, &archive(&swapped), |e| e.to_string().contains("but the config says"));
    // A config that does not match the digest in its name.
    let bad_config: Vec<(&str, &[u8])> = good
        .iter()
        .map(|(n, d)| (n.as_str(), if n.ends_with(".json") && n != "manifest.json" { &b"{}"[..] } else { d.as_slice() }))
        .collect();
    refused(&b, &archive(&bad_config), |e| matches!(e, Error::DigestMismatch { .. }));
    // An oci blob that does not match its digest.
    let oci = members(&saved(&a, &["busybox"], Format::OciArchive));
    let tampered: Vec<(&str, &[u8])> = oci
        .iter()
        .map(|(n, d)| {
            let layer = n.starts_with("blobs/") && d.len() > 1024;
            (n.as_str(), if layer { other_layer.as_slice() } else { d.as_slice() })
        })
        .collect();
    refused(&b, &archive(&tampered), |e| matches!(e, Error::DigestMismatch { .. }));
    // An oci index naming its image with something that is not a name.
    let mut index: serde_json::Value = serde_json::from_slice(&oci["index.json"]).unwrap();
    index["manifests"][0]["annotations"][CONTAINERD_NAME_ANNOTATION] = "example.com/App:1".into();
    let index = serde_json::to_vec(&index).unwrap();
    let misnamed: Vec<(&str, &[u8])> =
        oci.iter().map(|(n, d)| (n.as_str(), if n == "index.json" { index.as_slice() } else { d.as_slice() })).collect();
    refused(&b, &archive(&misnamed), |e| {
        matches!(e, Error::BadName { member: "index.json", name, .. } if name == "example.com/App:1")
            && e.to_string().starts_with("test.tar: index.json is invalid: image name \"example.com/App:1\": invalid reference format")
    });
    assert!(b.list().unwrap().is_empty());
}
