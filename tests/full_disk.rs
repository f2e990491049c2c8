//! A full disk does not wedge burrow (issue 16): a container that fills
//! the store's file system still has its exit code reported by `run`,
//! `ps`, `inspect` and `wait`, every removal works while the disk is full,
//! a write that needs room fails cleanly without leaving temp files, and
//! once space is freed containers run again.
//!
//! The store lives on a 32 MiB tmpfs that the test mounts itself, in a
//! user and mount namespace it owns, so nothing needs root and the file
//! system disappears with the namespace. The user namespace is made by
//! `burrow unshare` (the user's full subordinate range, as burrow's own
//! namespace would have it); burrow, finding itself already inside a user
//! namespace, uses it as its own instead of nesting another (a nested
//! namespace could not get the subordinate range: newuidmap loses its
//! setuid power where host root is not mapped). `unshare -m` inside it
//! makes the private mount namespace for the tmpfs. That process stays as
//! the holder; every burrow command of the test joins both namespaces
//! with `nsenter`. Between steps the test tops the disk up with a pad
//! file beside the store, so each removal really runs on a full disk.

mod common;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};

use common::*;

/// A tmpfs store in namespaces held by a child process.
struct SmallDisk {
    holder: Child,
    dir: tempfile::TempDir,
    mnt: PathBuf,
    root: PathBuf,
}

impl SmallDisk {
    fn new() -> Option<SmallDisk> {
        if !rootless_ready()
            || !require(Path::new("/usr/bin/nsenter").exists(), "nsenter (package util-linux)")
            || !require(Path::new("/usr/bin/unshare").exists(), "unshare (package util-linux)")
        {
            return None;
        }
        let dir = tempfile::Builder::new().prefix("burrow-full.").tempdir_in("/tmp").expect("tempdir");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&mnt).unwrap();
        std::fs::create_dir(dir.path().join("sig")).unwrap();
        let mut holder = Command::new(burrow_bin())
            .args(["unshare", "unshare", "-m", "sh", "-c", "mount -t tmpfs -o size=32m tmpfs \"$1\" && echo ready && read x", "sh"])
            .arg(&mnt)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("burrow unshare runs");
        let mut line = String::new();
        BufReader::new(holder.stdout.take().unwrap()).read_line(&mut line).unwrap();
        assert_eq!(line, "ready\n", "the holder could not mount the tmpfs");
        let root = mnt.join("store");
        Some(SmallDisk { holder, dir, mnt, root })
    }

    /// `argv` run inside the holder's namespaces.
    fn inside(&self, argv: &[&str]) -> Command {
        let mut c = Command::new("/usr/bin/nsenter");
        c.args(["-U", "-m", "-t", &self.holder.id().to_string(), "--"]).args(argv);
        c.env("BURROW_ROOT", &self.root).env_remove("BURROW_USERNS").stdin(Stdio::null());
        c
    }

    fn burrow(&self, args: &[&str]) -> Output {
        let bin = burrow_bin();
        let mut argv = vec![bin.to_str().unwrap()];
        argv.extend_from_slice(args);
        self.inside(&argv).output().expect("nsenter runs")
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.burrow(args);
        assert!(o.status.success(), "burrow {args:?} failed on the full disk: {}\nstderr: {}", o.status, stderr(&o));
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    fn sh(&self, script: &str) -> Output {
        self.inside(&["sh", "-c", script, "sh", self.mnt.to_str().unwrap()]).output().expect("nsenter runs")
    }

    /// Top the file system up with the pad file until it is full.
    fn fill(&self) {
        let o = self.sh("cat /dev/zero >> \"$1/pad\"");
        assert!(!o.status.success() && stderr(&o).contains("No space left"), "the pad did not fill the disk: {}", stderr(&o));
        self.assert_full();
    }

    fn assert_full(&self) {
        let o = self.sh("stat -f -c %a \"$1\"");
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), "0", "the disk is not full: {}", stderr(&o));
    }

    /// Temp files anywhere in the store (none may be left behind).
    fn temps(&self) -> String {
        String::from_utf8_lossy(&self.sh("find \"$1/store\" -name '*.tmp'").stdout).into_owned()
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        // Detached containers' supervisors keep the mount namespace (and
        // so the tmpfs) alive: remove them before the holder goes.
        let ids = String::from_utf8_lossy(&self.burrow(&["ps", "-aq"]).stdout).into_owned();
        let ids: Vec<&str> = ids.split_whitespace().collect();
        if !ids.is_empty() {
            let mut args = vec!["rm", "-f"];
            args.extend(ids);
            let _ = self.burrow(&args);
        }
        drop(self.holder.stdin.take());
        let _ = self.holder.wait();
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn a_full_disk_keeps_exit_codes_and_removals_work() {
    let Some(d) = SmallDisk::new() else { return };
    let tar = d.dir.path().join("busybox.tar");
    busybox_tar(&tar);
    d.ok(&["import", tar.to_str().unwrap(), "busybox"]);
    let sig = format!("{}:/sig", d.dir.path().join("sig").display());
    d.ok(&["run", "-d", "--name", "zero", "-v", &sig, "busybox", "sh", "-c", "while [ ! -e /sig/go ]; do sleep 0.1; done"]);
    d.ok(&["run", "-d", "--name", "bg", "busybox", "sleep", "1000"]);
    d.ok(&["create", "--name", "idle", "busybox", "true"]);

    // A container fills the disk and exits 4; another exits 0 on the full disk.
    let o = d.burrow(&["run", "--name", "fill", "busybox", "sh", "-c", "dd if=/dev/zero of=/big bs=1M; exit 4"]);
    assert_eq!(o.status.code(), Some(4), "run must answer the container's code: {}", stderr(&o));
    d.assert_full();
    std::fs::write(d.dir.path().join("sig/go"), "").unwrap();
    assert_eq!(d.ok(&["wait", "zero"]), "0\n");
    assert_eq!(d.ok(&["wait", "fill"]), "4\n");
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "fill"]), "4\n");
    assert_eq!(d.ok(&["inspect", "-f", "{{.State.ExitCode}}", "zero"]), "0\n");
    let ps = d.ok(&["ps", "-a", "--format", "{{.Names}} {{.Status}}"]);
    assert!(ps.contains("fill Exited (4)") && ps.contains("zero Exited (0)") && ps.contains("bg Up"), "{ps}");
    d.assert_full();

    // A write that needs room fails cleanly and leaves no temp file.
    let o = d.burrow(&["tag", "busybox", "busybox:more"]);
    assert_eq!(o.status.code(), Some(125), "tag on a full disk: {}", stderr(&o));
    assert!(stderr(&o).contains("No space left"), "{}", stderr(&o));
    let o = d.burrow(&["create", "--name", "nope", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125), "create on a full disk: {}", stderr(&o));
    assert_eq!(d.temps(), "");

    // Every removal works on the full disk.
    d.fill();
    assert_eq!(d.ok(&["rm", "zero"]), "zero\n");
    d.fill();
    assert_eq!(d.ok(&["rm", "-f", "bg"]), "bg\n");
    d.fill();
    let pruned = d.ok(&["container", "prune", "-f"]);
    assert_eq!(d.ok(&["ps", "-aq"]), "", "prune left containers: {pruned}");
    d.ok(&["create", "--name", "idle2", "busybox", "true"]);
    d.fill();
    d.ok(&["rmi", "-f", "busybox"]);
    assert_eq!(d.ok(&["images", "-q"]), "");
    d.fill();
    d.ok(&["system", "prune", "-f"]);
    assert_eq!(d.ok(&["ps", "-aq"]), "");
    assert_eq!(d.temps(), "");
    let left = d.sh("ls \"$1/store/containers\"");
    assert_eq!(String::from_utf8_lossy(&left.stdout), "", "container directories left behind");

    // With the space back, containers run again.
    assert!(d.sh("rm \"$1/pad\"").status.success());
    d.ok(&["import", tar.to_str().unwrap(), "busybox"]);
    assert_eq!(d.burrow(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]).status.code(), Some(3));
    assert_eq!(d.ok(&["run", "--name", "again", "busybox", "echo", "hello"]), "hello\n");
}
