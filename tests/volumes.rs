//! Volumes and mounts end to end, as an unprivileged user: named and
//! anonymous volumes, the copy of the image's content into a new volume,
//! binds with the owners the host sees, tmpfs, `--volumes-from`,
//! `volume rm`/`prune`, `rm -v`, and bad input refused before anything
//! exists (including an image symlink that points at a host path).

mod common;

use std::io::Read;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

fn s(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// The first subordinate uid of this user.
fn sub_start() -> u32 {
    let name = nix::unistd::User::from_uid(nix::unistd::getuid()).unwrap().unwrap().name;
    let text = std::fs::read_to_string("/etc/subuid").unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && (f[0] == name || f[0] == common::uid().to_string())).then(|| f[1].parse().unwrap())
        })
        .unwrap()
}

fn volumes(e: &Env) -> Vec<String> {
    e.ok(&["volume", "ls", "-q"]).lines().map(str::to_string).collect()
}

fn mounts(e: &Env, container: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", container])).unwrap();
    v[0]["Mounts"].clone()
}

/// `base` saved, its config given a VOLUME entry, loaded back as `tag`.
fn image_with_volume(e: &Env, base: &str, tag: &str, volume: &str) {
    let out = e.dir.path().join("saved.tar");
    e.ok(&["save", "-o", s(&out), base]);
    let mut members: Vec<(String, Vec<u8>)> = Vec::new();
    let mut a = tar::Archive::new(std::fs::File::open(&out).unwrap());
    for entry in a.entries().unwrap() {
        let mut entry = entry.unwrap();
        if entry.header().entry_type().is_dir() {
            continue;
        }
        let name = entry.path().unwrap().to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).unwrap();
        members.push((name, data));
    }
    let mut manifest: serde_json::Value = serde_json::from_slice(&members.iter().find(|(n, _)| n == "manifest.json").unwrap().1).unwrap();
    let config_name = manifest[0]["Config"].as_str().unwrap().to_string();
    let mut config: serde_json::Value = serde_json::from_slice(&members.iter().find(|(n, _)| *n == config_name).unwrap().1).unwrap();
    config["config"]["Volumes"] = serde_json::json!({ volume: {} });
    manifest[0]["Config"] = "config.json".into();
    manifest[0]["RepoTags"] = serde_json::json!([tag]);
    let new = e.dir.path().join("volimg.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&new).unwrap());
    let mut add = |name: &str, data: &[u8]| {
        let mut h = tar::Header::new_ustar();
        h.set_mode(0o644);
        h.set_size(data.len() as u64);
        b.append_data(&mut h, name, data).unwrap();
    };
    for (n, d) in &members {
        if n != "manifest.json" && *n != config_name {
            add(n, d);
        }
    }
    add("config.json", &serde_json::to_vec(&config).unwrap());
    add("manifest.json", &serde_json::to_vec(&manifest).unwrap());
    b.into_inner().unwrap();
    e.ok(&["load", "-i", s(&new)]);
}

#[test]
fn named_volume_data_survives_rm_and_is_seen_by_the_next_container() {
    let Some(e) = env() else { return };
    assert_eq!(e.ok(&["volume", "create", "--label", "tier=db", "data"]).trim(), "data");
    e.ok(&["run", "--name", "writer", "-v", "data:/data", "busybox", "sh", "-c", "echo keep > /data/f"]);
    let m = mounts(&e, "writer");
    assert_eq!(m[0]["Type"], "volume", "{m}");
    assert_eq!(m[0]["Name"], "data");
    assert_eq!(m[0]["Destination"], "/data");
    assert_eq!(m[0]["RW"], true);
    e.ok(&["rm", "writer"]);
    assert_eq!(e.ok(&["run", "--rm", "-v", "data:/other:ro", "busybox", "cat", "/other/f"]), "keep\n");
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", "data"])).unwrap();
    assert_eq!(v[0]["Name"], "data");
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["Labels"]["tier"], "db");
    let mountpoint = PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert_eq!(mountpoint, e.root.join("volumes/data/_data"));
    assert_eq!(std::fs::read_to_string(mountpoint.join("f")).unwrap(), "keep\n");
    assert_eq!(e.ok(&["volume", "ls", "-q", "--filter", "label=tier=db"]).trim(), "data");
    assert_eq!(e.ok(&["volume", "ls", "-q", "--filter", "name=nomatch"]).trim(), "");
    let ls = e.ok(&["volume", "ls"]);
    assert!(ls.starts_with("DRIVER") && ls.contains("local     data"), "{ls}");
}

#[test]
fn a_new_volume_is_filled_from_the_image_at_its_mount_point() {
    let Some(e) = env() else { return };
    // /bin replaced by a new volume still has busybox and its links
    let out = e.ok(&["run", "--rm", "-v", "binvol:/bin", "busybox", "ls", "-l", "/bin/sh"]);
    assert!(out.contains("/bin/sh -> busybox"), "{out}");
    e.ok(&["run", "--rm", "-v", "etcvol:/etc", "busybox", "true"]);
    let data = e.root.join("volumes/etcvol/_data");
    let passwd = std::fs::symlink_metadata(data.join("passwd")).unwrap();
    assert_eq!(passwd.uid(), common::uid(), "image root's file belongs to the user");
    assert_eq!(passwd.mode() & 0o777, 0o644);
    assert_eq!(passwd.mtime(), 1_700_000_000, "times kept");
    assert!(std::fs::read_to_string(data.join("passwd")).unwrap().contains("app:x:1000"));
    // not refilled once it has content; nocopy leaves a new volume empty
    e.ok(&["run", "--rm", "-v", "etcvol:/etc", "busybox", "rm", "/etc/group"]);
    let out = e.ok(&["run", "--rm", "-v", "etcvol:/etc", "busybox", "ls", "/etc"]);
    assert!(!out.contains("group") && out.contains("passwd"), "{out}");
    let out = e.ok(&["run", "--rm", "--mount", "type=volume,src=bare,dst=/etc,volume-nocopy", "busybox", "ls", "/etc"]);
    assert!(!out.contains("passwd"), "{out}");
}

#[test]
fn bind_mounts_show_the_mapped_owners_on_the_host_and_read_only_holds() {
    let Some(e) = env() else { return };
    let h = e.dir.path().join("shared");
    std::fs::create_dir(&h).unwrap();
    std::fs::set_permissions(&h, std::fs::Permissions::from_mode(0o777)).unwrap();
    let spec = format!("{}:/h", s(&h));
    e.ok(&["run", "--rm", "-v", &spec, "busybox", "sh", "-c", "echo root > /h/by-root"]);
    e.ok(&["run", "--rm", "-u", "1000", "-v", &spec, "busybox", "sh", "-c", "echo app > /h/by-app"]);
    assert_eq!(std::fs::metadata(h.join("by-root")).unwrap().uid(), common::uid());
    assert_eq!(std::fs::metadata(h.join("by-app")).unwrap().uid(), sub_start() + 999);
    // read-only, by -v and by --mount
    for args in [vec!["-v".to_string(), format!("{spec}:ro")], vec!["--mount".into(), format!("type=bind,src={},dst=/h,readonly", s(&h))]] {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend(args.iter().map(String::as_str));
        cmd.extend(["busybox", "sh", "-c", "cat /h/by-root && echo x > /h/new"]);
        let o = e.run(&cmd);
        assert_eq!(stdout(&o), "root\n");
        assert!(!o.status.success() && stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
    }
    assert!(!h.join("new").exists());
    // read-only reaches what is mounted under the source (the host's /dev/shm under /dev)
    let probe = format!("/hostdev/shm/burrow-volumes-test-{}", std::process::id());
    let o = e.run(&["run", "--rm", "-v", "/dev:/hostdev:ro", "busybox", "touch", &probe]);
    let leaked = Path::new(&probe.replace("/hostdev", "/dev")).to_path_buf();
    let _ = std::fs::remove_file(&leaked);
    assert!(!o.status.success() && stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
    // a single file, and a missing -v source is created as a directory
    let f = e.dir.path().join("motd");
    std::fs::write(&f, "hello\n").unwrap();
    assert_eq!(e.ok(&["run", "--rm", "-v", &format!("{}:/etc/motd:ro", s(&f)), "busybox", "cat", "/etc/motd"]), "hello\n");
    // a file mounted where burrow puts its own /etc/hosts wins
    assert_eq!(e.ok(&["run", "--rm", "-v", &format!("{}:/etc/hosts", s(&f)), "busybox", "cat", "/etc/hosts"]), "hello\n");
    let made = e.dir.path().join("made/here");
    e.ok(&["run", "--rm", "-v", &format!("{}:/m", s(&made)), "busybox", "touch", "/m/x"]);
    assert!(made.join("x").is_file());
    assert_eq!(std::fs::metadata(&made).unwrap().uid(), common::uid());
}

#[test]
fn tmpfs_mounts_and_a_read_only_root_with_writable_mounts() {
    let Some(e) = env() else { return };
    let out =
        e.ok(&["run", "--rm", "--tmpfs", "/t:size=64k", "busybox", "sh", "-c", "grep ' /t ' /proc/mounts; echo x > /t/f && cat /t/f"]);
    assert!(out.contains("tmpfs /t tmpfs") && out.contains("size=64k") && out.contains("noexec") && out.ends_with("x\n"), "{out}");
    let out = e.ok(&["run", "--rm", "--mount", "type=tmpfs,dst=/t2,tmpfs-mode=1770", "busybox", "stat", "-c", "%a", "/t2"]);
    assert_eq!(out.trim(), "1770");
    let o = e.run(&[
        "run",
        "--rm",
        "--read-only",
        "-v",
        "rwvol:/d",
        "--tmpfs",
        "/t",
        "busybox",
        "sh",
        "-c",
        "touch /d/ok && touch /t/ok && echo wrote && touch /nope",
    ]);
    assert_eq!(stdout(&o), "wrote\n");
    assert!(!o.status.success() && stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
}

#[test]
fn an_image_volume_gets_an_anonymous_volume_that_rm_v_removes() {
    let Some(e) = env() else { return };
    e.ok(&["run", "--name", "seed", "busybox", "sh", "-c", "mkdir /data && echo seeded > /data/seed"]);
    e.ok(&["commit", "seed", "seeded"]);
    e.ok(&["rm", "seed"]);
    image_with_volume(&e, "seeded", "volimg:latest", "/data");
    assert!(volumes(&e).is_empty());
    assert_eq!(e.ok(&["run", "--name", "anon", "volimg", "sh", "-c", "cat /data/seed; echo more > /data/new"]), "seeded\n");
    let m = mounts(&e, "anon");
    let name = m[0]["Name"].as_str().unwrap().to_string();
    assert!(name.len() == 64 && name.chars().all(|c| c.is_ascii_hexdigit()), "{m}");
    assert_eq!(m[0]["Destination"], "/data");
    assert_eq!(volumes(&e), vec![name.clone()]);
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["volume", "inspect", &name])).unwrap();
    assert!(v[0]["Labels"].get("com.docker.volume.anonymous").is_some(), "{v}");
    // a mount at the VOLUME's path replaces it; --rm removes its own anonymous volume
    e.ok(&["run", "--rm", "-v", "named:/data", "volimg", "true"]);
    e.ok(&["run", "--rm", "volimg", "true"]);
    let mut expect = vec![name.clone(), "named".to_string()];
    expect.sort();
    assert_eq!(volumes(&e), expect);
    e.ok(&["rm", "-v", "anon"]);
    assert_eq!(volumes(&e), vec!["named".to_string()], "rm -v removed only the anonymous volume");
}

#[test]
fn volumes_from_mounts_another_containers_volumes() {
    let Some(e) = env() else { return };
    let h = e.dir.path().join("hostside");
    std::fs::create_dir(&h).unwrap();
    std::fs::write(h.join("note"), "from host\n").unwrap();
    e.ok(&["run", "--name", "src", "-v", "vf:/vol", "-v", &format!("{}:/host", s(&h)), "busybox", "sh", "-c", "echo shared > /vol/f"]);
    assert_eq!(e.ok(&["run", "--rm", "--volumes-from", "src", "busybox", "cat", "/vol/f", "/host/note"]), "shared\nfrom host\n");
    let o = e.run(&["run", "--rm", "--volumes-from", "src:ro", "busybox", "sh", "-c", "echo x > /vol/g"]);
    assert!(!o.status.success() && stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
    let o = e.run(&["run", "--rm", "--volumes-from", "nosuch", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no such container"), "{}", stderr(&o));
}

#[test]
fn volume_rm_refuses_a_used_volume_and_prune_removes_unused_ones() {
    let Some(e) = env() else { return };
    e.ok(&["run", "--name", "user", "-v", "used:/d", "busybox", "true"]);
    let o = e.run(&["volume", "rm", "used"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("remove used: volume is in use"), "{}", stderr(&o));
    let o = e.run(&["volume", "rm", "nosuch"]);
    assert_eq!(o.status.code(), Some(125));
    e.ok(&["volume", "rm", "-f", "nosuch"]);
    let anon = e.ok(&["volume", "create"]).trim().to_string();
    e.ok(&["volume", "create", "keepme"]);
    assert_eq!(e.ok(&["volume", "ls", "-q", "--filter", "dangling=false"]).trim(), "used");
    let out = e.ok(&["volume", "prune", "-f"]);
    assert!(out.contains(&anon) && !out.contains("keepme") && out.contains("Total reclaimed space"), "{out}");
    let mut expect = vec!["keepme".to_string(), "used".to_string()];
    expect.sort();
    assert_eq!(volumes(&e), expect);
    let out = e.ok(&["volume", "prune", "-f", "-a"]);
    assert!(out.contains("keepme") && !out.contains("used"), "{out}");
    assert_eq!(volumes(&e), vec!["used".to_string()]);
    e.ok(&["rm", "user"]);
    assert_eq!(e.ok(&["volume", "rm", "used"]).trim(), "used");
    assert!(volumes(&e).is_empty());
}

#[test]
fn bad_mounts_are_refused_before_anything_is_created() {
    let Some(e) = env() else { return };
    let missing = e.dir.path().join("missing");
    let root_sub = "/root/burrow-volume-test";
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec!["-v".into(), "x:/proc".into()], "/proc"),
        (vec!["-v".into(), "data:/proc/foo".into()], "/proc"),
        (vec!["-v".into(), "data:/sys/x".into()], "/sys"),
        (vec!["-v".into(), "data:relative".into()], "absolute"),
        (vec!["-v".into(), "data:/".into()], "root"),
        (vec!["-v".into(), "data:/a".into(), "-v".into(), "other:/a/".into()], "duplicate mount point"),
        (vec!["-v".into(), "./rel:/x".into()], "invalid volume name"),
        // docker: "invalid spec"; not an anonymous volume
        (vec!["-v".into(), ":/x".into()], "the source is empty"),
        (vec!["--mount".into(), format!("type=bind,src={},dst=/x", s(&missing))], "does not exist"),
        (vec!["--mount".into(), "type=bind,src=/etc,dst=/x,bind-propagation=rshared".into()], "not supported"),
        (vec!["-v".into(), "/root:/r".into()], "cannot use /root"),
        (vec!["-v".into(), format!("{root_sub}:/r")], "cannot use /root"),
        // a host file of another user that this user cannot read
        (vec!["-v".into(), "/etc/shadow:/s:ro".into()], "cannot use /etc/shadow"),
    ];
    for (flags, expect) in cases {
        let mut cmd = vec!["run", "--rm"];
        cmd.extend(flags.iter().map(String::as_str));
        cmd.extend(["busybox", "true"]);
        let o = e.run(&cmd);
        assert_eq!(o.status.code(), Some(125), "{flags:?}: {}", stderr(&o));
        assert!(stderr(&o).contains(expect), "{flags:?}: {}", stderr(&o));
    }
    assert!(!missing.exists());
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "", "no container record left");
    assert!(volumes(&e).is_empty(), "no volume created");
}

#[test]
fn an_image_symlink_at_the_target_mounts_inside_the_root_not_on_the_host() {
    let Some(e) = env() else { return };
    let host = e.dir.path().join("hostdir");
    std::fs::create_dir(&host).unwrap();
    std::fs::write(host.join("keep"), "host\n").unwrap();
    let script = format!("ln -s {} /data && ln -s ../../../../{} /up", s(&host), s(&host).trim_start_matches('/'));
    e.ok(&["run", "--name", "linker", "busybox", "sh", "-c", &script]);
    e.ok(&["commit", "linker", "linked"]);
    // an absolute link to the host's path: the volume lands inside the root
    assert_eq!(e.ok(&["run", "--rm", "-v", "lv:/data", "linked", "sh", "-c", "echo in > /data/x; ls /data"]), "x\n");
    assert_eq!(std::fs::read_to_string(e.root.join("volumes/lv/_data/x")).unwrap(), "in\n");
    // a relative link that climbs past the root: the bind lands inside it too
    let h2 = e.dir.path().join("bindsrc");
    std::fs::create_dir(&h2).unwrap();
    let spec = format!("{}:/up", s(&h2));
    assert_eq!(e.ok(&["run", "--rm", "-v", &spec, "linked", "sh", "-c", "echo b > /up/y; ls /up"]), "y\n");
    assert_eq!(std::fs::read_to_string(h2.join("y")).unwrap(), "b\n");
    // a symlink a container left in a volume, under another mount's target
    e.ok(&["run", "--rm", "-v", "lv3:/vol", "busybox", "ln", "-s", s(&host), "/vol/out"]);
    e.ok(&["run", "--rm", "-v", "lv3:/vol", "-v", "lv4:/vol/out", "busybox", "sh", "-c", "echo z > /vol/out/z"]);
    assert_eq!(std::fs::read_to_string(e.root.join("volumes/lv4/_data/z")).unwrap(), "z\n");
    let host_entries: Vec<_> = std::fs::read_dir(&host).unwrap().map(|d| d.unwrap().file_name()).collect();
    assert_eq!(host_entries, vec![std::ffi::OsString::from("keep")], "nothing mounted over or written to the host's directory");
}
