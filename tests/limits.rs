//! Resource limits end to end, as the unprivileged user with the host's
//! real delegated cgroups (packaging/provision.sh): memory (OOM kill and
//! `inspect`'s OOMKilled), pids, CPU quota, ulimits, device throttles,
//! limits the host cannot enforce (strict and best-effort), `stats`,
//! `pause`/`unpause`, and no cgroup left behind.

mod common;

use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use common::{rootless_ready, stderr, stdout, Env};

fn user() -> String {
    nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map(|u| u.name).unwrap_or_default()
}

/// Where this user's delegated cgroups are: the v1 directories per
/// controller, or the v2 subtree.
fn delegated() -> Vec<PathBuf> {
    let root = PathBuf::from("/sys/fs/cgroup");
    let writable = |d: &PathBuf| nix::unistd::access(&d.join("cgroup.procs"), nix::unistd::AccessFlags::W_OK).is_ok();
    if root.join("cgroup.controllers").exists() {
        return [root.join("burrow.slice").join(user())].into_iter().filter(writable).collect();
    }
    ["memory", "pids", "cpu", "cpuacct", "cpuset", "blkio", "freezer"]
        .iter()
        .map(|c| root.join(c).join("burrow").join(user()))
        .filter(writable)
        .collect()
}

fn v2() -> bool {
    PathBuf::from("/sys/fs/cgroup/cgroup.controllers").exists()
}

/// A rootless environment with the controllers `wanted` delegated.
fn env(wanted: &[&str]) -> Option<Env> {
    if !rootless_ready() {
        return None;
    }
    let have = delegated();
    for w in wanted {
        let ok = if v2() {
            have.first().and_then(|d| std::fs::read_to_string(d.join("cgroup.controllers")).ok()).is_some_and(|c| {
                let name = if *w == "blkio" { "io" } else { w };
                c.split_whitespace().any(|x| x == name) || matches!(*w, "freezer" | "cpuacct")
            })
        } else {
            have.iter().any(|d| d.parent().and_then(|p| p.parent()).is_some_and(|p| p.ends_with(w)))
        };
        if !common::require(ok, &format!("the {w} cgroup controller delegated to this user (packaging/provision.sh)")) {
            return None;
        }
    }
    Some(Env::new().with_busybox())
}

/// The container's full id.
fn id_of(e: &Env, name: &str) -> String {
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", name])).unwrap();
    v[0]["Id"].as_str().unwrap().to_string()
}

fn inspect(e: &Env, name: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", name])).unwrap();
    v[0].clone()
}

/// The container's cgroup directories that still exist.
fn leftover_cgroups(id: &str) -> Vec<PathBuf> {
    delegated().into_iter().map(|d| d.join(id)).filter(|d| d.exists()).collect()
}

/// A container running in the background; SIGKILLed if still running
/// when dropped.
struct Bg(Child);

impl Bg {
    fn start(e: &Env, args: &[&str]) -> Bg {
        Bg(e.cmd(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("burrow runs"))
    }

    /// SIGTERM to `burrow run`, which forwards it; the exit code.
    fn stop(mut self) -> Option<i32> {
        let pid = nix::unistd::Pid::from_raw(self.0.id() as i32);
        nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGTERM).unwrap();
        self.0.wait().unwrap().code()
    }
}

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Poll `check` until it holds; the deadline only keeps a broken build
/// from hanging the suite (it is not what is measured).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !check() {
        assert!(t0.elapsed() < Duration::from_secs(60), "never happened: {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn wait_running(e: &Env, name: &str) {
    eventually(&format!("{name} running"), || {
        let o = e.run(&["inspect", name]);
        o.status.success() && stdout(&o).contains("\"Running\": true")
    });
}

/// A loop that ends on SIGTERM (a PID 1 without a handler ignores it).
const SPIN: &str = "trap 'exit 0' TERM; while :; do :; done";
const IDLE: &str = "trap 'exit 0' TERM; while :; do sleep 1; done";

#[test]
fn a_memory_hog_is_oom_killed_and_inspect_says_so() {
    let Some(e) = env(&["memory"]) else { return };
    // dd's 200 MiB buffer is filled from /dev/zero: every page is touched.
    let hog = ["dd", "if=/dev/zero", "of=/dev/null", "bs=200M", "count=1"];
    let o = e.run(&[&["run", "--name", "hog", "--memory", "64m", "busybox"][..], &hog].concat());
    assert_eq!(o.status.code(), Some(137), "{}", stderr(&o));
    let v = inspect(&e, "hog");
    assert_eq!(v["State"]["OOMKilled"], true, "{v}");
    assert_eq!(v["State"]["ExitCode"], 137);
    assert_eq!(v["HostConfig"]["Memory"], 64 << 20);
    assert_eq!(v["HostConfig"]["MemorySwap"], 128 << 20);
    assert!(leftover_cgroups(&id_of(&e, "hog")).is_empty());
    // The same command fits in a larger limit: the kill was the limit's.
    let o = e.run(&[&["run", "--name", "fits", "--memory", "512m", "busybox"][..], &hog].concat());
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(inspect(&e, "fits")["State"]["OOMKilled"], false);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let Some(e) = env(&["pids"]) else { return };
    // Without a limit this forks 200 sleeps and exits 0; ash gives up at
    // the first fork that fails.
    let bomb = "i=0; while [ $i -lt 200 ]; do i=$((i+1)); echo $i; sleep 1000 & done";
    let o = e.run(&["run", "--name", "bomb", "--pids-limit", "20", "busybox", "sh", "-c", bomb]);
    assert_eq!(o.status.code(), Some(2), "{}", stderr(&o));
    assert!(stderr(&o).contains("can't fork"), "{}", stderr(&o));
    let forks: u32 = stdout(&o).lines().last().unwrap().parse().unwrap();
    assert!(forks <= 20, "pids.max 20 counts the shell and its children: {forks} forks");
    assert_eq!(inspect(&e, "bomb")["HostConfig"]["PidsLimit"], 20);
    // The host still forks, and the container's sleeps went with it.
    assert!(std::process::Command::new("true").status().unwrap().success());
    assert!(leftover_cgroups(&id_of(&e, "bomb")).is_empty());
}

#[test]
fn cpus_throttle_and_stats_show_the_container() {
    let Some(e) = env(&["cpu", "cpuacct", "memory", "pids"]) else { return };
    let bg = Bg::start(&e, &["run", "--name", "spin", "--cpus", "0.5", "busybox", "sh", "-c", SPIN]);
    wait_running(&e, "spin");
    let id = id_of(&e, "spin");
    // A busy loop under a 50% quota is throttled in its first periods.
    eventually("the CPU quota throttles the container", || {
        let out = e.ok(&["stats", "--no-stream", "--format", "json", "spin"]);
        let row: serde_json::Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
        assert_eq!(row["Name"], "spin");
        row["Raw"]["cpu_throttled_periods"].as_u64().unwrap() > 0
    });
    let table = e.ok(&["stats", "--no-stream"]);
    let header = table.lines().next().unwrap();
    for col in ["CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O", "PIDS"] {
        assert!(header.contains(col), "{table}");
    }
    let row = table.lines().find(|l| l.contains("spin")).unwrap_or_else(|| panic!("{table}"));
    assert!(row.starts_with(&id[..12]) && row.trim_end().ends_with(" 1"), "one process: {row}");
    assert_eq!(inspect(&e, "spin")["HostConfig"]["NanoCpus"], 500_000_000u64);
    assert_eq!(bg.stop(), Some(0));
    assert!(leftover_cgroups(&id).is_empty());
}

#[test]
fn cpuset_and_shares_are_applied() {
    let Some(e) = env(&["cpu", "cpuset"]) else { return };
    let o = e.run(&[
        "run",
        "--name",
        "pinned",
        "--cpuset-cpus",
        "0",
        "--cpu-shares",
        "512",
        "busybox",
        "grep",
        "Cpus_allowed_list",
        "/proc/self/status",
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o).split_whitespace().last(), Some("0"), "{}", stdout(&o));
    let v = inspect(&e, "pinned");
    assert_eq!(v["HostConfig"]["CpusetCpus"], "0");
    assert_eq!(v["HostConfig"]["CpuShares"], 512);
    // A CPU the user may not use is refused before anything runs.
    let o = e.run(&["run", "--rm", "--cpuset-cpus", "4095", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("CPU 4095 is not available"), "{}", stderr(&o));
}

#[test]
fn ulimits_are_seen_inside_and_limited_by_the_users_own() {
    let Some(e) = env(&[]) else { return };
    let out = e.ok(&["run", "--rm", "--ulimit", "nofile=64:64", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(out, "64\n64\n");
    let out = e.ok(&["run", "--rm", "--init", "--ulimit", "nofile=32:48", "busybox", "sh", "-c", "ulimit -n; ulimit -Hn"]);
    assert_eq!(out, "32\n48\n");
    let mut own = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: getrlimit fills the struct.
    assert_eq!(unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut own) }, 0);
    let above = format!("nofile=64:{}", own.rlim_max + 1);
    let o = e.run(&["run", "--rm", "--ulimit", &above, "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("above your own hard limit"), "{}", stderr(&o));
    for bad in ["nofile=2:1", "files=1", "nofile"] {
        let o = e.run(&["run", "--rm", "--ulimit", bad, "busybox", "true"]);
        assert_eq!(o.status.code(), Some(125), "{bad}");
    }
}

#[test]
fn a_limit_the_host_cannot_enforce_fails_unless_best_effort() {
    let Some(e) = env(&[]) else { return };
    // A cgroup root that delegates nothing, as on a host without provisioning.
    let empty = e.dir.path().join("no-cgroups");
    std::fs::create_dir(&empty).unwrap();
    let run = |args: &[&str]| e.cmd(args).env("BURROW_CGROUP_ROOT", &empty).output().unwrap();
    let o = run(&["run", "--rm", "--memory", "64m", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.contains("cannot enforce --memory here") && err.contains("delegate") && err.contains("--limits=best-effort"), "{err}");
    let o = run(&["run", "--rm", "--blkio-weight", "300", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("cannot enforce --blkio-weight"), "{}", stderr(&o));
    // Nothing was created for the refused containers.
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "");
    let o = run(&["run", "--rm", "--memory", "64m", "--limits=best-effort", "busybox", "echo", "ran"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stdout(&o), "ran\n");
    assert!(stderr(&o).contains("warning: --memory is not enforced"), "{}", stderr(&o));
    // No limit asked, nothing to refuse.
    let o = run(&["run", "--rm", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(stderr(&o), "");
}

#[test]
fn bad_limit_values_are_refused() {
    let Some(e) = env(&[]) else { return };
    let cases: [(&[&str], &str); 6] = [
        (&["--memory", "64x"], "--memory"),
        (&["--memory", "1m"], "minimum"),
        (&["--memory", "64m", "--memory-swap", "32m"], "at least --memory"),
        (&["--cpus", "abc"], "--cpus"),
        (&["--cpus", "1000"], "CPUs available"),
        (&["--device-read-bps", "/dev/no-such-disk:1mb"], "/dev/no-such-disk"),
    ];
    for (flags, want) in cases {
        let o = e.run(&[&["run", "--rm"][..], flags, &["busybox", "true"]].concat());
        assert_eq!(o.status.code(), Some(125), "{flags:?}");
        assert!(stderr(&o).contains(want), "{flags:?}: {}", stderr(&o));
    }
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn device_throttles_are_written_to_the_cgroup() {
    let Some(e) = env(&["blkio"]) else { return };
    use std::os::unix::fs::MetadataExt;
    // Any real block device of this host.
    let disk = std::fs::read_dir("/sys/block")
        .unwrap()
        .flatten()
        .map(|d| d.file_name().to_string_lossy().into_owned())
        .find(|n| !n.starts_with("loop") && !n.starts_with("ram") && PathBuf::from(format!("/dev/{n}")).exists());
    if !common::require(disk.is_some(), "a block device under /dev") {
        return;
    }
    let dev = format!("/dev/{}", disk.unwrap());
    let rdev = std::fs::metadata(&dev).unwrap().rdev();
    let numbers = format!("{}:{}", libc::major(rdev), libc::minor(rdev));
    let bg = Bg::start(
        &e,
        &[
            "run",
            "--name",
            "io",
            "--device-read-bps",
            &format!("{dev}:1mb"),
            "--device-write-iops",
            &format!("{dev}:100"),
            "busybox",
            "sh",
            "-c",
            IDLE,
        ],
    );
    wait_running(&e, "io");
    let id = id_of(&e, "io");
    let dir = delegated().into_iter().find(|d| v2() || d.to_string_lossy().contains("/blkio")).unwrap().join(&id);
    if v2() {
        let max = std::fs::read_to_string(dir.join("io.max")).unwrap();
        assert!(max.contains(&numbers) && max.contains("rbps=1048576") && max.contains("wiops=100"), "{max}");
    } else {
        let read = std::fs::read_to_string(dir.join("blkio.throttle.read_bps_device")).unwrap();
        assert_eq!(read.trim(), format!("{numbers} 1048576"));
        let write = std::fs::read_to_string(dir.join("blkio.throttle.write_iops_device")).unwrap();
        assert_eq!(write.trim(), format!("{numbers} 100"));
    }
    let v = inspect(&e, "io");
    assert_eq!(v["HostConfig"]["BlkioDeviceReadBps"][0]["Rate"], 1 << 20);
    assert_eq!(bg.stop(), Some(0));
    assert!(leftover_cgroups(&id).is_empty());
}

#[test]
fn pause_freezes_and_unpause_lets_the_container_continue() {
    let Some(e) = env(&["freezer"]) else { return };
    let bg = Bg::start(&e, &["run", "--name", "sleepy", "busybox", "sh", "-c", IDLE]);
    wait_running(&e, "sleepy");
    let id = id_of(&e, "sleepy");
    assert_eq!(e.ok(&["pause", "sleepy"]), "sleepy\n");
    assert_eq!(inspect(&e, "sleepy")["State"]["Paused"], true);
    let o = e.run(&["pause", "sleepy"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already paused"), "{}", stderr(&o));
    assert_eq!(e.ok(&["unpause", "sleepy"]), "sleepy\n");
    assert_eq!(inspect(&e, "sleepy")["State"]["Paused"], false);
    // It runs again: the TERM trap answers.
    assert_eq!(bg.stop(), Some(0));
    assert!(leftover_cgroups(&id).is_empty());
    let o = e.run(&["pause", "sleepy"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("not running"), "{}", stderr(&o));
    let o = e.run(&["unpause", "no-such-container"]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn a_killed_run_leaves_no_cgroup_after_the_next_command() {
    let Some(e) = env(&["memory"]) else { return };
    let mut bg = Bg::start(&e, &["run", "--name", "orphan", "--memory", "64m", "busybox", "sh", "-c", IDLE]);
    wait_running(&e, "orphan");
    let id = id_of(&e, "orphan");
    assert!(!leftover_cgroups(&id).is_empty(), "the running container has its cgroup");
    bg.0.kill().unwrap(); // SIGKILL: burrow run cannot clean up
    bg.0.wait().unwrap();
    // The container dies with it (PDEATHSIG); the next command that
    // reconciles the records removes what was left.
    eventually("rm succeeds once the container is gone", || e.run(&["rm", "orphan"]).status.success());
    assert!(leftover_cgroups(&id).is_empty(), "{:?}", leftover_cgroups(&id));
}

#[test]
fn info_lists_the_enforceable_limits() {
    let Some(e) = env(&["memory", "pids"]) else { return };
    let out = e.ok(&["info"]);
    let line = out.lines().find(|l| l.contains("enforceable:")).unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("--memory") && line.contains("--pids-limit") && line.contains("--ulimit"), "{line}");
    let empty = e.dir.path().join("no-cgroups");
    std::fs::create_dir(&empty).unwrap();
    let o = e.cmd(&["info"]).env("BURROW_CGROUP_ROOT", &empty).output().unwrap();
    let out = stdout(&o);
    assert!(out.contains("not enforced: --memory: the memory cgroup controller is not delegated"), "{out}");
}
