//! The container root end to end: burrow-fs under `burrow run`, owners
//! stored as mapped ids, permissions inside the container, multi-layer
//! images made with `burrow commit` (whiteouts and opaque directories
//! across layers), `burrow diff`, and no mount left behind.

mod common;

use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

/// The full id of container `name`.
fn container_dir(e: &Env, name: &str) -> PathBuf {
    let out = e.ok(&["inspect", name]);
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let id = v[0]["Id"].as_str().unwrap().to_string();
    e.root.join("containers").join(id)
}

/// The first subordinate uid and gid of this user.
fn sub_start(file: &str) -> u32 {
    let name = nix::unistd::User::from_uid(nix::unistd::getuid()).unwrap().unwrap().name;
    let text = std::fs::read_to_string(file).unwrap();
    text.lines()
        .find_map(|l| {
            let f: Vec<&str> = l.split(':').collect();
            (f.len() == 3 && (f[0] == name || f[0] == common::uid().to_string())).then(|| f[1].parse().unwrap())
        })
        .unwrap()
}

#[test]
fn chown_inside_stores_the_mapped_owner_on_disk() {
    let Some(e) = env() else { return };
    e.ok(&[
        "run",
        "--name",
        "own",
        "busybox",
        "sh",
        "-c",
        "echo data > /srv-file && chown 33:33 /srv-file && mkdir /d && chown 1000:2000 /d",
    ]);
    let upper = container_dir(&e, "own").join("upper");
    let f = std::fs::symlink_metadata(upper.join("srv-file")).unwrap();
    // container id N >= 1 is subordinate id start + N - 1 on the host
    assert_eq!(f.uid(), sub_start("/etc/subuid") + 32);
    assert_eq!(f.gid(), sub_start("/etc/subgid") + 32);
    let d = std::fs::symlink_metadata(upper.join("d")).unwrap();
    assert_eq!((d.uid(), d.gid()), (sub_start("/etc/subuid") + 999, sub_start("/etc/subgid") + 1999));
    // and the container sees them as it set them, next to the layer's owners
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "stat -c %u:%g /home/app /bin/busybox"]);
    assert_eq!(out, "1000:1000\n0:0\n");
    e.ok(&["rm", "own"]);
}

#[test]
fn permissions_are_enforced_for_users_inside() {
    let Some(e) = env() else { return };
    let o = e.run(&["run", "--rm", "-u", "1000", "busybox", "sh", "-c", "touch /etc/x"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
    let o = e.run(&["run", "--rm", "-u", "1000", "busybox", "sh", "-c", "echo x >> /etc/passwd"]);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
    // root in the container may, and an ordinary user may write its home
    e.ok(&["run", "--rm", "busybox", "sh", "-c", "touch /etc/x"]);
    let out =
        e.ok(&["run", "--rm", "-u", "app", "busybox", "sh", "-c", "echo hi > /home/app/f && cat /home/app/f && stat -c %u /home/app/f"]);
    assert_eq!(out, "hi\n1000\n");
    // a 0700 directory of root stays closed to others
    let o = e.run(&["run", "--rm", "busybox", "sh", "-c", "mkdir -m 700 /private && su -s /bin/sh app -c 'ls /private'"]);
    assert!(stderr(&o).contains("Permission denied"), "{}", stderr(&o));
}

#[test]
fn posix_operations_through_the_root() {
    let Some(e) = env() else { return };
    let script = r#"
set -e
mv /usr /usr-moved && test -d /usr-moved/bin && ! test -e /usr
ln /bin/busybox /bb-link && test "$(stat -c %i /bin/busybox)" = "$(stat -c %i /bb-link)"
dd if=/dev/zero of=/big bs=1M count=8 2>/dev/null && test "$(stat -c %s /big)" = 8388608
echo a > /app && echo b >> /app && test "$(cat /app)" = "a
b"
mkfifo /fifo && test -p /fifo
ln -s /etc/passwd /sym && test "$(readlink /sym)" = /etc/passwd
chmod 600 /etc/group && test "$(stat -c %a /etc/group)" = 600
rm -rf /home && ! test -e /home && mkdir /home && test -z "$(ls -A /home)"
touch -d '2001-02-03 04:05:06' /etc/passwd && test "$(date -r /etc/passwd +%Y)" = 2001
echo ok
"#;
    let o = e.run(&["run", "--rm", "busybox", "sh", "-c", script]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ok\n");
    // nothing of that reached the image
    e.ok(&["run", "--rm", "busybox", "sh", "-c", "test -d /usr/bin && test -d /home/app && test ! -e /big"]);
}

#[test]
fn commit_makes_layers_whose_whiteouts_hide_lower_files() {
    let Some(e) = env() else { return };
    e.ok(&[
        "run",
        "--name",
        "step1",
        "busybox",
        "sh",
        "-c",
        "rm /bin/vi && echo one > /etc/motd && rm -rf /home && mkdir /home && touch /home/fresh && mkdir -p /opt/x && echo 1 > /opt/x/f",
    ]);
    let diff = e.ok(&["diff", "step1"]);
    let lines: Vec<&str> = diff.lines().collect();
    for want in ["C /bin", "D /bin/vi", "A /etc/motd", "C /home", "A /home/fresh", "D /home/app", "A /opt", "A /opt/x", "A /opt/x/f"] {
        assert!(lines.contains(&want), "missing {want:?} in:\n{diff}");
    }
    assert!(!diff.contains("/etc/hosts") && !diff.contains("resolv.conf"), "burrow's own mount points are not changes: {diff}");
    let mut sorted = lines.clone();
    sorted.sort_by_key(|l| &l[2..]);
    assert_eq!(lines, sorted, "sorted by path");
    e.ok(&["commit", "-m", "first", "step1", "layered:1"]);

    e.ok(&["run", "--name", "step2", "layered:1", "sh", "-c", "echo two > /etc/motd && rm /opt/x/f && echo 2 > /opt/x/g"]);
    e.ok(&["commit", "step2", "layered:2"]);
    let inspect: serde_json::Value = serde_json::from_str(&e.ok(&["image", "inspect", "layered:2"])).unwrap();
    assert_eq!(inspect[0]["RootFS"]["Layers"].as_array().map(|a| a.len()), Some(3), "{inspect}");

    let out = e.ok(&[
        "run",
        "--rm",
        "layered:2",
        "sh",
        "-c",
        "test -e /bin/vi && echo vi; cat /etc/motd; ls -A /home; ls /opt/x; test -e /home/app && echo app; true",
    ]);
    assert_eq!(out, "two\nfresh\ng\n");
    // the base image is untouched
    e.ok(&["run", "--rm", "busybox", "sh", "-c", "test -e /bin/vi && test -d /home/app && ! test -e /etc/motd"]);
    e.ok(&["rm", "step1", "step2"]);
}

#[test]
fn diff_of_an_untouched_container_is_empty_and_unknown_names_fail() {
    let Some(e) = env() else { return };
    e.ok(&["run", "--name", "idle", "busybox", "true"]);
    assert_eq!(e.ok(&["diff", "idle"]), "");
    let o = e.run(&["diff", "nope"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no such container"), "{}", stderr(&o));
    // a flag commit does not have is a usage error, with docker's code
    let o = e.run(&["commit", "--squash", "idle", "img"]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains("--squash"), "{}", stderr(&o));
    assert!(e.run(&["commit", "--help"]).status.success());
    e.ok(&["rm", "idle"]);
}

#[test]
fn no_mount_is_left_on_the_host() {
    let Some(e) = env() else { return };
    let before = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    // while a container runs, its root is mounted only in its own namespaces
    let out = e.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "grep -c ' / / ' /proc/self/mountinfo; grep ' / / ' /proc/self/mountinfo | grep -c fuse",
    ]);
    assert_eq!(out, "1\n1\n", "the container's / is burrow-fs");
    let after = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    let ours = |table: &str| table.lines().filter(|l| l.contains("fuse.burrow") && l.contains(e.root.to_str().unwrap())).count();
    assert_eq!((ours(&before), ours(&after)), (0, 0), "no container root of this store is mounted on the host");
    assert_eq!(
        before.lines().filter(|l| l.contains("fuse.burrow")).count(),
        after.lines().filter(|l| l.contains("fuse.burrow")).count(),
        "running a container leaves no burrow mount behind"
    );
}
