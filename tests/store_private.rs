//! The store is its user's alone.
//!
//! Image layers and container uppers keep their setuid bits and are owned
//! on the host by the user or one of the user's subordinate ids, so a store
//! other users could enter would hand them those identities. These tests
//! act as a second unprivileged user (`burrowother`, which
//! `packaging/provision.sh` lets the test user reach with `sudo -n -u`) and
//! check it can neither list the store nor reach a setuid file a container
//! planted; that an existing open store is tightened on first use with one
//! line, after `info` and `system check` reported it; and that a root owned
//! by someone else is refused, not taken over.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::*;

const OTHER: &str = "burrowother";

/// Run a command as the second user, with a clean environment.
fn as_other(args: &[&str]) -> Output {
    Command::new("sudo").args(["-n", "-u", OTHER, "--"]).args(args).output().expect("sudo runs")
}

fn other_ready() -> bool {
    let ok = Command::new("sudo").args(["-n", "-u", OTHER, "--", "/bin/true"]).output().is_ok_and(|o| o.status.success());
    require(ok, "a second user burrowother this user may act as with `sudo -n -u burrowother` (packaging/provision.sh)")
}

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).unwrap().permissions().mode() & 0o7777
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A test store whose parent other users may enter, as under a 0755 home,
/// so the store itself is the only thing that keeps them out.
fn open_parent_env() -> Env {
    let env = Env::new();
    std::fs::set_permissions(env.dir.path(), std::fs::Permissions::from_mode(0o755)).unwrap();
    env
}

/// Every regular file under `dir` with the setuid bit, as the store's user sees it.
fn setuid_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(rd) = std::fs::read_dir(dir) else { return };
    for e in rd.flatten() {
        let Ok(m) = e.path().symlink_metadata() else { continue };
        if m.is_dir() {
            setuid_files(&e.path(), out);
        } else if m.is_file() && m.permissions().mode() & 0o4000 != 0 {
            out.push(e.path());
        }
    }
}

/// The second user's attempt failed because it was not let in.
fn assert_denied(what: &str, o: &Output) {
    assert!(!o.status.success(), "{OTHER} could {what}: stdout {}", String::from_utf8_lossy(&o.stdout));
    assert!(stderr(o).contains("Permission denied"), "{what}: expected permission denied, got: {}", stderr(o));
}

#[test]
fn another_user_can_neither_list_the_store_nor_run_a_setuid_file_a_container_planted() {
    if !rootless_ready() || !other_ready() {
        return;
    }
    let env = open_parent_env().with_busybox();
    env.ok(&["run", "--name", "planter", "busybox", "sh", "-c", "cp /bin/busybox /id && chmod 4755 /id"]);
    let mut planted = Vec::new();
    setuid_files(&env.root.join("containers"), &mut planted);
    assert_eq!(planted.len(), 1, "the container's setuid file in its upper: {planted:?}");
    let planted = planted[0].to_str().unwrap();
    let layer_file = std::fs::read_dir(env.root.join("layers"))
        .unwrap()
        .flatten()
        .map(|e| e.path().join("bin/busybox"))
        .find(|p| p.is_file())
        .expect("busybox in a layer");

    // The parent is open: the second user reaches it, and stops at the store.
    assert!(as_other(&["/bin/ls", env.dir.path().to_str().unwrap()]).status.success());
    assert_denied("list the store", &as_other(&["/bin/ls", env.root.to_str().unwrap()]));
    assert_denied("list the containers", &as_other(&["/bin/ls", env.root.join("containers").to_str().unwrap()]));
    assert_denied("stat the planted setuid file", &as_other(&["/usr/bin/stat", planted]));
    // Named after an applet, busybox runs as `id` when executed.
    assert_denied("run the planted setuid file", &as_other(&[planted]));
    assert_denied("read a layer's file", &as_other(&["/bin/cat", layer_file.to_str().unwrap()]));
    assert_eq!(mode(&env.root), 0o700, "the store root's mode");

    // The store's own user still has everything.
    assert_eq!(env.ok(&["start", "-a", "planter"]), "");
    assert!(env.ok(&["run", "--rm", "busybox", "echo", "ok"]).contains("ok"));
}

#[test]
fn an_open_store_is_reported_then_tightened_on_first_use_with_one_line() {
    if !rootless_ready() || !other_ready() {
        return;
    }
    let env = open_parent_env().with_busybox();
    std::fs::set_permissions(&env.root, std::fs::Permissions::from_mode(0o755)).unwrap();
    assert!(as_other(&["/bin/ls", env.root.to_str().unwrap()]).status.success(), "the store was made open for the test");

    // info and system check report it and change nothing.
    let info = env.ok(&["info"]);
    assert!(info.contains("other users can enter") && info.contains("chmod 0700"), "info: {info}");
    let json: serde_json::Value = serde_json::from_str(&env.ok(&["info", "--format", "json"])).unwrap();
    assert_eq!(json["storage_private"], false, "info json: {json}");
    let check = env.run(&["system", "check"]);
    assert!(!check.status.success(), "system check passed an open store");
    let out = String::from_utf8_lossy(&check.stdout);
    assert!(out.contains("other users can enter") && out.contains("chmod 0700"), "system check: {out}\n{}", stderr(&check));
    assert_eq!(mode(&env.root), 0o755, "info and system check only report");

    // The next command that uses the store closes it, and says so once.
    let o = env.run(&["images"]);
    assert!(o.status.success(), "images: {}", stderr(&o));
    let expected = format!("burrow: store {} was open to other users (0755); made it 0700\n", env.root.display());
    assert_eq!(stderr(&o), expected);
    assert_eq!(mode(&env.root), 0o700);
    assert_denied("list the store after it was tightened", &as_other(&["/bin/ls", env.root.to_str().unwrap()]));
    let again = env.run(&["images"]);
    assert_eq!(stderr(&again), "", "a private store is not mentioned");
    let info = env.ok(&["info"]);
    assert!(!info.contains("other users can enter"), "info: {info}");
    let check = env.ok(&["system", "check"]);
    assert!(check.contains("no problems found"), "system check: {check}");
}

#[test]
fn a_store_root_that_belongs_to_another_user_is_refused_and_left_alone() {
    if !other_ready() {
        return;
    }
    let made = as_other(&["/bin/mktemp", "-d", "/tmp/burrow-other.XXXXXX"]);
    assert!(made.status.success(), "mktemp as {OTHER}: {}", stderr(&made));
    let theirs = String::from_utf8_lossy(&made.stdout).trim().to_string();
    let o = Command::new(burrow_bin()).args(["--root", &theirs, "images"]).env_remove("BURROW_ROOT").output().unwrap();
    let after = mode(Path::new(&theirs));
    let _ = as_other(&["/bin/rm", "-rf", &theirs]);
    assert_eq!(o.status.code(), Some(125), "stderr: {}", stderr(&o));
    assert!(stderr(&o).contains("belongs to"), "expected a clear refusal, got: {}", stderr(&o));
    assert_eq!(after, 0o700, "the other user's directory is left as it was");
}
