//! The plumbing of user-defined networks, without any container: the
//! hidden `burrow __bridge-selftest` enters burrow's user namespace as
//! this unprivileged user, starts the holders of two networks (a network
//! namespace with a bridge each), attaches three empty namespaces with
//! veth pairs, and checks kernel traffic, isolation, detach, and the
//! death of a holder killed with SIGKILL (see src/cli/bridge.rs). These
//! tests read its report and check from outside that a holder outlives
//! the command that started it and that its lock goes with it.

mod common;

use std::fs::File;
use std::path::Path;
use std::process::Output;

use common::{burrow_bin, require, stderr, stdout, uid};
use nix::fcntl::{Flock, FlockArg};

fn ready() -> bool {
    require(uid() != 0, "the tests must run as an unprivileged user (packaging/test.sh does this)")
        && require(Path::new("/proc/self/ns/net").exists(), "network namespaces")
}

fn selftest(dir: &Path, keep: bool) -> Output {
    let mut cmd = std::process::Command::new(burrow_bin());
    cmd.arg("__bridge-selftest");
    if keep {
        cmd.arg("--keep");
    }
    cmd.arg(dir).env_remove("BURROW_USERNS").stdin(std::process::Stdio::null());
    let out = cmd.output().expect("burrow runs");
    assert!(out.status.success(), "the self-test failed ({}):\n{}\nstderr: {}", out.status, stdout(&out), stderr(&out));
    out
}

#[test]
fn containers_on_one_bridge_talk_in_the_kernel_and_other_networks_cannot_reach_them() {
    if !ready() {
        return;
    }
    let dir = tempfile::Builder::new().prefix("burrow-bridge.").tempdir_in("/tmp").unwrap();
    let out = stdout(&selftest(dir.path(), false));
    for line in [
        "ok tcp and udp 10.89.0.3 -> 10.89.0.2, seen from 10.89.0.3",
        "ok tcp and udp 10.89.0.2 -> 10.89.0.3, seen from 10.89.0.2",
        "ok tcp and udp fd89::3 -> fd89::2, seen from fd89::3",
        "ok 10.89.0.2 unreachable from the other network",
        "ok 10.89.0.3 unreachable from the other network",
        "ok fd89::2 unreachable from the other network",
        "ok c2's eth0 gone after detach",
        "ok holder a seen gone after SIGKILL",
        "ok holder b stopped",
    ] {
        assert!(out.contains(line), "missing {line:?} in the self-test's report:\n{out}");
    }
    for net in ["a", "b"] {
        assert!(lock_is_free(&dir.path().join(net).join("holder.lock")), "network {net}'s holder still holds its lock after the self-test");
    }
}

#[test]
fn a_holder_outlives_its_command_and_its_lock_dies_with_it() {
    if !ready() {
        return;
    }
    let dir = tempfile::Builder::new().prefix("burrow-bridge.").tempdir_in("/tmp").unwrap();
    let out = stdout(&selftest(dir.path(), true));
    let pid: i32 = out.lines().find_map(|l| l.strip_prefix("kept ")).and_then(|p| p.trim().parse().ok()).expect("a kept holder's pid");
    let lock = dir.path().join("a").join("holder.lock");
    // The command has exited; its holder runs on, holding the lock.
    let comm = std::fs::read_to_string(format!("/proc/{pid}/comm")).unwrap_or_default();
    assert_eq!(comm.trim(), "burrow-netns", "the kept holder (pid {pid}) is not running");
    assert!(!lock_is_free(&lock), "the running holder (pid {pid}) does not hold {}", lock.display());
    let pid_file = std::fs::read_to_string(dir.path().join("a").join("holder.pid")).unwrap();
    assert_eq!(pid_file.trim(), pid.to_string());
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    // A blocking lock returns once the kernel has released the killed holder's.
    let file = File::open(&lock).unwrap();
    let held = Flock::lock(file, FlockArg::LockExclusive).map_err(|(_, e)| e).expect("the lock after the holder's death");
    drop(held);
}

fn lock_is_free(path: &Path) -> bool {
    let file = File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(_) => true,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => false,
        Err((_, e)) => panic!("flock {}: {e}", path.display()),
    }
}
