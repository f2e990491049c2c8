//! Image commands end to end: import (and what it refuses), images, tag,
//! rmi, inspect, info — through the real binary.

mod common;

use common::{rootless_ready, stderr, Env};

/// A tar with one entry whose raw name is `name` (bypassing the tar
/// crate's own path checks, as an attacker's tool would).
fn raw_tar(entries: &[(&str, tar::EntryType, &str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, kind, link, data) in entries {
        let mut h = tar::Header::new_gnu();
        {
            let raw = h.as_old_mut();
            raw.name[..name.len()].copy_from_slice(name.as_bytes());
            raw.linkname[..link.len()].copy_from_slice(link.as_bytes());
        }
        h.set_entry_type(*kind);
        h.set_mode(if *kind == tar::EntryType::Directory { 0o755 } else { 0o644 });
        h.set_size(data.len() as u64);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

fn refused(e: &Env, tar: &[u8], expect: &str) {
    let path = e.dir.path().join("bad.tar");
    std::fs::write(&path, tar).unwrap();
    let before = e.store_listing();
    let o = e.run(&["import", path.to_str().unwrap(), "bad"]);
    assert_eq!(o.status.code(), Some(125), "must be refused: {}", stderr(&o));
    assert!(stderr(&o).to_lowercase().contains(expect), "message {:?} lacks {expect:?}", stderr(&o));
    assert_eq!(e.store_listing(), before, "the store must be exactly as before");
}

#[test]
fn hostile_tarballs_are_refused_and_the_store_is_unchanged() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    use tar::EntryType::{Directory, Link, Regular, Symlink};
    refused(&e, &raw_tar(&[("../escape", Regular, "", b"x")]), "..");
    refused(&e, &raw_tar(&[("a/../../escape", Regular, "", b"x")]), "..");
    refused(&e, &raw_tar(&[("/etc/passwd", Regular, "", b"x")]), "absolute");
    refused(
        &e,
        &raw_tar(&[("etc", Directory, "", b""), ("etc/evil", Symlink, "/tmp", b""), ("etc/evil/owned", Regular, "", b"x")]),
        "symlink",
    );
    refused(&e, &raw_tar(&[("link", Link, "../../etc/passwd", b"")]), "..");
    refused(&e, &raw_tar(&[("link", Link, "/etc/passwd", b"")]), "absolute");
    refused(&e, b"this is not a tarball at all, just some text that goes on and on", "not a tar");
    // a symlink pointing out is fine as long as nothing is written through it
    let path = e.dir.path().join("ok.tar");
    std::fs::write(&path, raw_tar(&[("outside", Symlink, "/etc/shadow", b"")])).unwrap();
    e.ok(&["import", path.to_str().unwrap(), "harmless"]);
}

#[test]
fn owners_outside_the_map_are_reported_with_the_map_in_force() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let mut b = tar::Builder::new(Vec::new());
    for (name, uid) in [("mine", 0u64), ("far", 10_000_000)] {
        let mut h = tar::Header::new_gnu();
        h.set_size(1);
        h.set_mode(0o644);
        h.set_uid(uid);
        h.set_gid(uid);
        h.set_mtime(1_700_000_000);
        b.append_data(&mut h, name, &b"x"[..]).unwrap();
    }
    let path = e.dir.path().join("owners.tar");
    std::fs::write(&path, b.into_inner().unwrap()).unwrap();
    let o = e.run(&["import", path.to_str().unwrap(), "owners"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("warning: 1 files") && msg.contains("uids 0-"), "the warning names the ids mapped: {msg}");
    assert!(!msg.contains("add a subordinate id range"), "a range is in use already: {msg}");
    let o = e.cmd(&["import", path.to_str().unwrap(), "owners2"]).env("BURROW_USERNS", "single-id").output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(stderr(&o).contains("single-id") && stderr(&o).contains("add a subordinate id range"), "{}", stderr(&o));
}

#[test]
fn import_compressed_and_list_tag_rmi_inspect() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let tar = e.dir.path().join("bb.tar");
    common::busybox_tar(&tar);
    let gz = e.dir.path().join("bb.tar.gz");
    let status = std::process::Command::new("gzip").arg("-k").arg(&tar).status().unwrap();
    assert!(status.success());
    let id = e.ok(&["import", gz.to_str().unwrap(), "bb:gz"]).trim().to_string();
    assert!(id.starts_with("sha256:") && id.len() == 71, "{id}");
    // the same content imported from stdin gives the same layer
    let mut c = e.cmd(&["import", "-", "bb:plain"]);
    c.stdin(std::fs::File::open(&tar).unwrap());
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));

    let images = e.ok(&["images"]);
    assert!(images.starts_with("REPOSITORY"), "{images}");
    assert!(images.contains("bb") && images.contains("gz") && images.contains("plain"), "{images}");
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["images", "--format", "json"])).unwrap();
    assert_eq!(json.as_array().unwrap().len(), 2);
    let quiet = e.ok(&["images", "-q"]);
    assert_eq!(quiet.lines().count(), 2, "{quiet}");

    e.ok(&["tag", "bb:gz", "other/name:v1"]);
    let insp: serde_json::Value = serde_json::from_str(&e.ok(&["image", "inspect", "other/name:v1"])).unwrap();
    assert_eq!(insp[0]["Id"], serde_json::Value::String(id.clone()));
    assert_eq!(insp[0]["RootFS"]["Type"], "layers");
    e.ok(&["run", "--rm", "other/name:v1", "true"]);

    let out = e.ok(&["rmi", "other/name:v1"]);
    assert!(out.contains("Untagged"), "{out}");
    e.ok(&["rmi", "bb:gz", "bb:plain"]);
    assert_eq!(e.ok(&["images", "-q"]), "");
    let o = e.run(&["rmi", "bb:gz"]);
    assert_eq!(o.status.code(), Some(125));
    let layers = std::fs::read_dir(e.root.join("layers")).map(|d| d.count()).unwrap_or(0);
    assert_eq!(layers, 0, "removing the last image removes its layers");
}

#[test]
fn info_reports_the_mapping_and_prerequisites() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let out = e.ok(&["info"]);
    assert!(out.contains(&format!("storage root:   {}", e.root.display())), "{out}");
    assert!(out.contains("id mapping:     range"), "{out}");
    let json: serde_json::Value = serde_json::from_str(&e.ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(json["id_mapping"]["mode"], "range");
    assert!(json["fuse"]["ok"].is_boolean());
    // The provisioned test machine opens both devices and delegates cgroups.
    if common::in_ci() {
        assert_eq!(json["fuse"]["ok"], true, "{out}");
        assert_eq!(json["tun"]["ok"], true, "{out}");
        assert!(!json["cgroups"]["enforceable_limits"].as_array().unwrap().is_empty(), "{out}");
    }
}

#[test]
fn cli_basics() {
    let e = Env::new();
    let help = e.ok(&["--help"]);
    for verb in ["run", "ps", "images", "import", "pull", "build", "exec", "info", "version"] {
        assert!(help.contains(verb), "--help lacks {verb}");
    }
    assert!(e.ok(&["version"]).starts_with("burrow version "));
    // `network` is there (tests/networks.rs has the rest); a network that
    // does not exist is named.
    assert!(e.ok(&["network", "ls"]).starts_with("NETWORK ID"));
    let o = e.run(&["network", "connect", "n", "c"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("network n not found"), "{}", stderr(&o));
    // A context without a Dockerfile says which file it looked for.
    let o = e.run(&["build", e.dir.path().to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("Dockerfile"), "{}", stderr(&o));
    // A registry that cannot exist (RFC 2606): the error names it.
    let o = e.cmd(&["pull", "registry.invalid/busybox"]).env("XDG_CONFIG_HOME", e.dir.path()).output().unwrap();
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("cannot reach registry registry.invalid"), "{}", stderr(&o));
}
