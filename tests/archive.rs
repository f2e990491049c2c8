//! Archives end to end through the real binary: save and load (docker-
//! and oci-archive) between fresh stores, podman and skopeo as
//! independent readers and writers, export and import, history, image
//! prune, rmi of an image in use and system check.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{require, rootless_ready, stderr, stdout, Env};

fn path(e: &Env, name: &str) -> PathBuf {
    e.dir.path().join(name)
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

fn image_id(e: &Env, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["image", "inspect", name])).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

fn have(tool: &str) -> bool {
    Command::new(tool).arg("--version").output().is_ok_and(|o| o.status.success())
}

/// Every entry of a tar: name, type, mode, owner, size and link target
/// (not times).
fn tar_listing(file: &Path) -> Vec<String> {
    let mut ar = tar::Archive::new(std::fs::File::open(file).unwrap());
    let mut out: Vec<String> = ar
        .entries()
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            let h = e.header();
            let link = e.link_name().unwrap().map(|l| l.display().to_string()).unwrap_or_default();
            format!(
                "{} {:?} {:o} {}:{} {} {link}",
                e.path().unwrap().display(),
                h.entry_type(),
                h.mode().unwrap(),
                h.uid().unwrap(),
                h.gid().unwrap(),
                h.size().unwrap()
            )
        })
        .collect();
    out.sort();
    out
}

/// A private podman store for this test.
struct Podman {
    root: PathBuf,
}

impl Podman {
    fn new(e: &Env) -> Podman {
        Podman { root: e.dir.path().join("podman") }
    }
    fn cmd(&self, args: &[&str]) -> std::process::Output {
        Command::new("podman")
            .arg("--root")
            .arg(self.root.join("root"))
            .arg("--runroot")
            .arg(self.root.join("run"))
            .args(["--storage-driver", "vfs"])
            .args(args)
            .output()
            .expect("podman runs")
    }
    fn ok(&self, args: &[&str]) -> String {
        let o = self.cmd(args);
        assert!(o.status.success(), "podman {args:?}: {}", stderr(&o));
        stdout(&o)
    }
}

impl Drop for Podman {
    fn drop(&mut self) {
        let _ = self.cmd(&["unshare", "rm", "-rf", s(&self.root.join("root")), s(&self.root.join("run"))]);
    }
}

#[test]
fn save_and_load_round_trip_between_fresh_stores() {
    if !rootless_ready() {
        return;
    }
    let a = Env::new().with_busybox();
    let id = image_id(&a, "busybox");
    let b = Env::new();
    for format in ["docker-archive", "oci-archive"] {
        let file = path(&a, &format!("{format}.tar"));
        a.ok(&["save", "--format", format, "-o", s(&file), "busybox"]);
        let out = b.ok(&["load", "-i", s(&file)]);
        assert_eq!(out, "Loaded image: busybox:latest\n", "{format}");
        assert_eq!(image_id(&b, "busybox"), id, "{format}: the same image id");
        assert_eq!(b.ok(&["run", "--rm", "busybox", "echo", "loaded"]), "loaded\n");
        b.ok(&["rmi", "busybox"]);
    }
    // stdout to stdin, through `image save` / `image load`, gzip compressed
    let file = path(&a, "piped.tar");
    let mut c = a.cmd(&["image", "save", "busybox"]);
    c.stdout(std::fs::File::create(&file).unwrap());
    assert!(c.status().unwrap().success());
    let gz = path(&a, "piped.tar.gz");
    assert!(Command::new("gzip").arg("-k").arg(&file).status().unwrap().success());
    let mut c = b.cmd(&["image", "load"]);
    c.stdin(std::fs::File::open(&gz).unwrap());
    let o = c.output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(image_id(&b, "busybox"), id);
    // by id: loaded without a name
    let by_id = path(&a, "by-id.tar");
    a.ok(&["save", "-o", s(&by_id), &id]);
    let c = Env::new();
    assert_eq!(c.ok(&["load", "-i", s(&by_id)]), format!("Loaded image ID: {id}\n"));
}

#[test]
fn a_failed_save_leaves_no_file() {
    let e = Env::new();
    let file = path(&e, "out.tar");
    let o = e.run(&["save", "-o", s(&file), "nosuchimage"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    let left: Vec<_> = std::fs::read_dir(e.dir.path()).unwrap().flatten().map(|d| d.file_name()).collect();
    assert!(!file.exists() && left.iter().all(|n| !n.to_string_lossy().contains("out.tar")), "{left:?}");
    // stdout a terminal: refused as docker does (script(1) gives a pty)
    if require(Path::new("/usr/bin/script").exists(), "script (util-linux)") {
        let bin = common::burrow_bin();
        let o = Command::new("/usr/bin/script")
            .args(["-qec", &format!("{} save busybox", bin.display()), "/dev/null"])
            .env("BURROW_ROOT", &e.root)
            .stdin(std::process::Stdio::null())
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(125), "{}", stdout(&o));
        assert!(stdout(&o).contains("cowardly refusing to save to a terminal. Use the -o flag or redirect"), "{}", stdout(&o));
    }
    let o = e.run(&["save", "--format", "zip", "-o", s(&file), "x"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("docker-archive or oci-archive"));
}

fn refused(e: &Env, bytes: &[u8], expect: &str) {
    let file = path(e, "bad.tar");
    std::fs::write(&file, bytes).unwrap();
    let before = e.store_listing();
    let o = e.run(&["load", "-i", s(&file)]);
    assert_eq!(o.status.code(), Some(125), "must be refused: {}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("bad.tar") && msg.contains(expect), "message {msg:?} lacks the archive or {expect:?}");
    assert_eq!(e.store_listing(), before, "the store must be exactly as before");
}

fn tar_of(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, data) in members {
        let mut h = tar::Header::new_gnu();
        h.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
        h.set_size(data.len() as u64);
        h.set_mode(0o644);
        h.set_uid(0);
        h.set_gid(0);
        h.set_mtime(1_700_000_000);
        h.set_cksum();
        b.append(&h, *data).unwrap();
    }
    b.into_inner().unwrap()
}

#[test]
fn bad_archives_are_refused_and_the_store_is_unchanged() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    refused(&e, b"this is not a tar archive, just a line of text that goes on", "not a tar");
    refused(&e, &tar_of(&[("etc/passwd", b"x")]), "neither manifest.json");
    refused(&e, &tar_of(&[("../evil", b"x"), ("manifest.json", b"[]")]), "..");
    let manifest = br#"[{"Config":"c.json","RepoTags":["x:1"],"Layers":["l/layer.tar"]}]"#;
    refused(&e, &tar_of(&[("manifest.json", manifest), ("c.json", b"{\"rootfs\":{\"diff_ids\":[]}}")]), "l/layer.tar");
    // a layer that is not what the config says
    let saved = path(&e, "good.tar");
    e.ok(&["save", "-o", s(&saved), "busybox"]);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    for entry in tar::Archive::new(std::fs::File::open(&saved).unwrap()).entries().unwrap() {
        let mut entry = entry.unwrap();
        let name = entry.path().unwrap().display().to_string();
        let mut data = Vec::new();
        std::io::Read::read_to_end(&mut entry, &mut data).unwrap();
        if entry.header().entry_type().is_file() {
            members.push((name, data));
        }
    }
    let other = tar_of(&[("evil", b"x")]);
    let swapped: Vec<(&str, &[u8])> =
        members.iter().map(|(n, d)| (n.as_str(), if n.ends_with("layer.tar") { other.as_slice() } else { d.as_slice() })).collect();
    refused(&e, &tar_of(&swapped), "config says");
}

#[test]
fn messages_quote_neither_a_files_bytes_nor_a_whole_overlong_path() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    e.ok(&["images"]);
    // A text file (and a binary) loaded by mistake: the tar reader's
    // complaint quotes the header bytes, which must not reach the user.
    let text = "hello world this is text\n".repeat(200);
    refused(&e, text.as_bytes(), "not a tar");
    let o = e.run(&["load", "-i", s(&path(&e, "bad.tar"))]);
    assert!(!stderr(&o).contains("hello"), "{}", stderr(&o));
    let elf = std::fs::read("/bin/busybox").unwrap();
    refused(&e, &elf[..5000], "not a tar");
    let o = e.run(&["load", "-i", s(&path(&e, "bad.tar"))]);
    assert!(!stderr(&o).contains("ELF"), "{}", stderr(&o));
    // A 20 KB path is shown cut, with its start and its end.
    let long = format!("{}/{}archive.tar", e.dir.path().display(), "sub/".repeat(5000));
    for args in [&["load", "-i", long.as_str()][..], &["import", long.as_str(), "x"]] {
        let o = e.run(args);
        assert_eq!(o.status.code(), Some(125), "{args:?}: {}", stderr(&o));
        let msg = stderr(&o);
        assert!(msg.len() < 1000, "{} bytes: {}", msg.len(), &msg[..300]);
        assert!(msg.contains(&format!("{}/sub/sub/", e.dir.path().display())) && msg.contains("sub/sub/archive.tar"), "{msg}");
        assert!(msg.contains('…'), "{msg}");
    }
}

#[test]
fn podman_and_skopeo_read_burrows_archives_and_burrow_reads_podmans() {
    if !rootless_ready() || !require(have("podman"), "podman") || !require(have("skopeo"), "skopeo") {
        return;
    }
    let e = Env::new().with_busybox();
    let id = image_id(&e, "busybox");
    let docker = path(&e, "docker.tar");
    let oci = path(&e, "oci.tar");
    e.ok(&["save", "-o", s(&docker), "busybox"]);
    e.ok(&["save", "--format", "oci-archive", "-o", s(&oci), "busybox"]);
    for (transport, file) in [("docker-archive", &docker), ("oci-archive", &oci)] {
        let o = Command::new("skopeo").arg("inspect").arg(format!("{transport}:{}", s(file))).output().unwrap();
        assert!(o.status.success(), "skopeo inspect {transport}: {}", stderr(&o));
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["Os"], "linux", "{transport}");
    }
    let p = Podman::new(&e);
    for file in [&docker, &oci] {
        let out = p.ok(&["load", "-i", s(file)]);
        assert!(out.contains("docker.io/library/busybox:latest"), "{out}");
        let pid = p.ok(&["image", "inspect", "--format", "{{.Id}}", "docker.io/library/busybox:latest"]);
        assert_eq!(format!("sha256:{}", pid.trim()), id, "podman sees the same config digest");
        p.ok(&["rmi", "docker.io/library/busybox:latest"]);
    }
    // podman's own archive: import the rootfs there, save, load here
    let rootfs = path(&e, "rootfs.tar");
    common::busybox_tar(&rootfs);
    p.ok(&["import", s(&rootfs), "example.com/from-podman:v1"]);
    let pid = p.ok(&["image", "inspect", "--format", "{{.Id}}", "example.com/from-podman:v1"]);
    let from_podman = path(&e, "podman.tar");
    p.ok(&["save", "-o", s(&from_podman), "example.com/from-podman:v1"]);
    let b = Env::new();
    assert_eq!(b.ok(&["load", "-i", s(&from_podman)]), "Loaded image: example.com/from-podman:v1\n");
    assert_eq!(image_id(&b, "example.com/from-podman:v1"), format!("sha256:{}", pid.trim()));
    assert_eq!(b.ok(&["run", "--rm", "example.com/from-podman:v1", "echo", "hi"]), "hi\n");
    let oci_from_podman = path(&e, "podman-oci.tar");
    p.ok(&["save", "--format", "oci-archive", "-o", s(&oci_from_podman), "example.com/from-podman:v1"]);
    let c = Env::new();
    c.ok(&["load", "-i", s(&oci_from_podman)]);
    assert_eq!(c.ok(&["images", "-q", "--no-trunc"]).trim(), format!("sha256:{}", pid.trim()));
}

#[test]
fn export_then_import_gives_the_same_tree() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    e.ok(&[
        "run",
        "--name",
        "c1",
        "busybox",
        "sh",
        "-c",
        "echo hi > /new && rm /bin/ls && mkdir -p /home/app/d && chown 1000:1000 /home/app/d",
    ]);
    let first = path(&e, "first.tar");
    e.ok(&["export", "-o", s(&first), "c1"]);
    let listing = tar_listing(&first);
    assert!(listing.iter().any(|l| l.starts_with("new Regular 644 0:0 3")), "{listing:?}");
    assert!(listing.iter().any(|l| l.starts_with("home/app/d/ Directory 755 1000:1000")), "{listing:?}");
    assert!(!listing.iter().any(|l| l.starts_with("bin/ls ") || l.contains(".wh.")), "{listing:?}");
    e.ok(&["import", s(&first), "exported"]);
    e.ok(&["container", "run", "--name", "c2", "exported", "true"]);
    let second = path(&e, "second.tar");
    let mut c = e.cmd(&["container", "export", "c2"]);
    c.stdout(std::fs::File::create(&second).unwrap());
    assert!(c.status().unwrap().success());
    assert_eq!(tar_listing(&second), listing);
}

#[test]
fn history_lists_layers_newest_first() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    e.ok(&["run", "--name", "c", "busybox", "touch", "/x"]);
    e.ok(&["commit", "-m", "added x", "c", "withx"]);
    let out = e.ok(&["history", "withx"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert!(lines[0].starts_with("IMAGE") && lines[0].contains("CREATED BY") && lines[0].ends_with("COMMENT"), "{out}");
    let id = image_id(&e, "withx");
    assert!(lines[1].starts_with(&id[7..19]) && lines[1].contains("burrow commit: touch /x") && lines[1].ends_with("added x"), "{out}");
    assert!(lines[2].starts_with("<missing>") && lines[2].contains("burrow import"), "{out}");
    assert_eq!(e.ok(&["image", "history", "-q", "--no-trunc", "withx"]), format!("{id}\n<missing>\n"));
    let raw = e.ok(&["image", "history", "-H=false", "--format", "json", "withx"]);
    let first: serde_json::Value = serde_json::from_str(raw.lines().next().unwrap()).unwrap();
    assert!(first["Size"].as_str().unwrap().parse::<u64>().is_ok(), "{raw}");
}

#[test]
fn prune_and_rmi_leave_images_in_use_alone() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    let tar = path(&e, "rootfs.tar");
    common::busybox_tar(&tar);
    e.ok(&["run", "--name", "user", "busybox", "true"]);
    let o = e.run(&["rmi", "busybox"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("conflict: unable to remove repository reference \"busybox\" (must force) - container"), "{}", stderr(&o));
    // untagging one of two names is fine
    e.ok(&["tag", "busybox", "second"]);
    assert!(e.ok(&["rmi", "second"]).contains("Untagged: second:latest"));

    // an untagged image and an unused named one
    e.ok(&["import", s(&tar)]);
    e.ok(&["run", "--rm", "busybox", "true"]);
    e.ok(&["tag", "busybox", "unused"]);
    e.ok(&["import", "-m", "other content", s(&tar), "other"]);
    // Without -f it asks; end of input (stdin is /dev/null) is "no".
    let o = e.run(&["image", "prune"]);
    let asked = String::from_utf8_lossy(&o.stdout).to_string();
    assert!(o.status.success() && asked.contains("Are you sure you want to continue? [y/N]"), "{asked}");
    assert!(!asked.contains("Deleted"), "{asked}");
    // "n" from a pipe keeps everything too; "y" would go ahead (below with -f).
    let mut child = e.cmd(&["image", "prune"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"n\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert!(o.status.success() && !String::from_utf8_lossy(&o.stdout).contains("Deleted"));
    let mut child = e.cmd(&["image", "prune"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut child.stdin.take().unwrap(), b"y\n").unwrap();
    let o = child.wait_with_output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let out = out.split_once("[y/N] ").map(|(_, after)| after.to_string()).unwrap_or(out);
    assert!(out.starts_with("Deleted Images:\n") && out.contains("deleted: sha256:"), "{out}");
    assert!(out.trim_end().lines().last().unwrap().starts_with("Total reclaimed space: "), "{out}");
    assert_eq!(e.ok(&["images", "-q"]).lines().count(), 2, "busybox (also unused) and other stay");
    let out = e.ok(&["image", "prune", "-a", "-f"]);
    assert!(out.contains("untagged: other:latest"), "{out}");
    assert!(!out.contains("busybox"), "busybox is used by a container: {out}");
    assert_eq!(e.ok(&["images", "--format", "json"]).matches("\"Id\"").count(), 1);
    // forced removal of an image a stopped container uses
    e.ok(&["rmi", "-f", "busybox", "unused"]);
    assert_eq!(e.ok(&["images", "-q"]), "");
}

#[test]
fn system_check_finds_a_corrupt_blob() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new().with_busybox();
    assert!(e.ok(&["system", "check"]).contains("no problems"));
    // an imported image's layer blob is its uncompressed tar: digest = diff id
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["image", "inspect", "busybox"])).unwrap();
    let layer = v[0]["RootFS"]["Layers"][0].as_str().unwrap().to_string();
    let blob = e.root.join("blobs/sha256").join(&layer[7..]);
    std::fs::write(&blob, b"not the layer").unwrap();
    let o = e.run(&["system", "check"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stdout(&o).contains(&format!("blob {layer}: content hashes to")), "{}", stdout(&o));
    assert!(stderr(&o).contains("1 problem"), "{}", stderr(&o));
}
