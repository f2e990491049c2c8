//! Containers that outlive the command: `run -d`, `create`, `start`,
//! `stop`, `kill`, `restart`, `wait`, `rename`, `logs`, `attach`, `rm -f`,
//! restart policies, and a supervisor killed with `kill -9` — through the
//! real binary as an unprivileged user.

mod common;

use std::time::{Duration, Instant};

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

/// The pids of this store's supervisors (their command line names the store).
fn monitors(e: &Env) -> Vec<i32> {
    let needle = format!("--root {} __monitor", e.root.display());
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|d| d.file_name().to_str()?.parse::<i32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline"))
                .map(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(&needle))
                .unwrap_or(false)
        })
        .collect()
}

fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| !s.contains(") Z "))
}

fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let t = Instant::now();
    while !cond() {
        assert!(t.elapsed() < Duration::from_secs(30), "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn state(e: &Env, name: &str) -> String {
    e.ok(&["inspect", "--format", "{{.State.Status}} {{.State.ExitCode}} {{.RestartCount}}", name]).trim().to_string()
}

#[test]
fn detached_run_keeps_logs_apart_and_stops_starts_and_removes() {
    let Some(e) = env() else { return };
    let script = "trap 'echo bye; exit 0' TERM; echo out; echo err >&2; while true; do sleep 0.1; done";
    // (The lines are logged after the trap is set, so waiting for them
    // below also makes sure the stop signal is handled.)
    let id = e.ok(&["run", "-d", "--name", "web", "busybox", "sh", "-c", script]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "run -d prints the full id: {id}");
    assert!(e.ok(&["ps", "-q"]).contains(&id[..12]));
    assert!(e.ok(&["ps"]).contains("Up "));
    wait_until("both lines logged", || e.ok(&["logs", "web"]).contains("out"));
    let o = e.run(&["logs", "web"]);
    assert_eq!(stdout(&o), "out\n", "stdout stays stdout");
    assert_eq!(stderr(&o), "err\n", "stderr stays stderr");
    let pid: i32 = e.ok(&["inspect", "-f", "{{.State.Pid}}", "web"]).trim().parse().unwrap();
    assert!(alive(pid));

    // The stop signal is handled: exit 0 and the handler's output kept.
    e.ok(&["stop", "web"]);
    assert_eq!(state(&e, "web"), "exited 0 0");
    assert!(!alive(pid), "the container's process is gone");
    assert!(monitors(&e).is_empty(), "no supervisor left");
    assert!(e.ok(&["logs", "web"]).ends_with("bye\n"), "logs survive the exit");
    assert!(!e.ok(&["ps"]).contains("web"));
    assert!(e.ok(&["ps", "-a"]).contains("Exited (0)"));

    // Started again: same files, a second life appended to the log.
    e.ok(&["start", "web"]);
    wait_until("second life logged", || stderr(&e.run(&["logs", "web"])).matches("err").count() == 2);
    let o = e.run(&["logs", "--tail", "2", "web"]);
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("out\n", "err\n"), "the last two lines, each on its stream");
    let stamped = e.ok(&["logs", "-t", "--tail", "2", "web"]);
    assert!(stamped.starts_with("20") && stamped.contains("Z out"), "{stamped}");
    assert!(e.ok(&["logs", "--since", "2999-01-01T00:00:00Z", "web"]).is_empty());

    // rm refuses a running container, -f kills it and leaves nothing.
    let o = e.run(&["rm", "web"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("is running"), "{}", stderr(&o));
    e.ok(&["rm", "-f", "web"]);
    assert!(e.ok(&["ps", "-aq"]).is_empty());
    assert!(monitors(&e).is_empty());
    assert!(!e.root.join("containers").join(id).exists(), "the container's directory is gone");
}

#[test]
fn restart_policy_restarts_a_crashing_container_n_times() {
    let Some(e) = env() else { return };
    e.ok(&["run", "-d", "--name", "crash", "--restart", "on-failure:2", "busybox", "sh", "-c", "echo try; exit 3"]);
    assert_eq!(e.ok(&["wait", "crash"]).trim(), "3");
    assert_eq!(state(&e, "crash"), "exited 3 2");
    assert_eq!(e.ok(&["logs", "crash"]), "try\ntry\ntry\n");
    assert_eq!(
        e.ok(&["inspect", "-f", "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}", "crash"]).trim(),
        "on-failure:2"
    );
    // A clean exit is not restarted under on-failure; `always` is, until stopped.
    e.ok(&["run", "-d", "--name", "always", "--restart", "always", "busybox", "sh", "-c", "echo up; sleep 0.2"]);
    wait_until("two restarts", || e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]).trim().parse::<u32>().unwrap() >= 2);
    e.ok(&["stop", "-t", "1", "always"]);
    let after = e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(e.ok(&["inspect", "-f", "{{.RestartCount}}", "always"]), after, "a stopped container is not restarted");
    assert!(state(&e, "always").starts_with("exited"));
}

#[test]
fn a_killed_supervisor_is_detected_and_cleaned() {
    let Some(e) = env() else { return };
    e.ok(&["run", "-d", "--name", "victim", "busybox", "sleep", "1000"]);
    let pid: i32 = e.ok(&["inspect", "-f", "{{.State.Pid}}", "victim"]).trim().parse().unwrap();
    let mons = monitors(&e);
    assert_eq!(mons.len(), 1, "one supervisor per container");
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(mons[0]), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_until("the container's process to die with its supervisor", || !alive(pid));
    // The container's first process is signalled when the supervisor's
    // thread that cloned it exits; the supervisor's other threads may hold
    // its lock (and so its claim to be running) a moment longer.
    wait_until("ps -a to show the container exited", || e.ok(&["ps", "-a"]).contains("Exited (137)"));
    assert!(!e.ok(&["ps"]).contains("victim"));
    // A writing command records it, and the container can run again.
    e.ok(&["start", "victim"]);
    assert!(state(&e, "victim").starts_with("running"));
    e.ok(&["rm", "-f", "victim"]);
    assert!(monitors(&e).is_empty());
}

#[test]
fn create_start_attach_wait_rename_and_kill() {
    let Some(e) = env() else { return };
    let id = e.ok(&["create", "--name", "job", "busybox", "sh", "-c", "echo working; exit 4"]);
    assert_eq!(id.trim().len(), 64);
    assert!(e.ok(&["ps", "-a", "--filter", "status=created", "--format", "{{.Names}}"]).contains("job"));
    let o = e.run(&["start", "-a", "job"]);
    assert_eq!(o.status.code(), Some(4), "start -a returns the exit code: {}", stderr(&o));
    assert_eq!(stdout(&o), "working\n");
    assert_eq!(e.ok(&["wait", "job"]).trim(), "4");
    assert_eq!(e.ok(&["ps", "-a", "--filter", "exited=4", "-q"]).trim().len(), 12);

    e.ok(&["rename", "job", "task"]);
    assert_eq!(e.ok(&["inspect", "-f", "{{.Name}}", "task"]).trim(), "/task");
    e.ok(&["run", "-d", "--name", "sleeper", "busybox", "sleep", "1000"]);
    let o = e.run(&["rename", "task", "sleeper"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));

    e.ok(&["kill", "-s", "KILL", "sleeper"]);
    assert_eq!(e.ok(&["wait", "sleeper"]).trim(), "137");
    let o = e.run(&["kill", "sleeper"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("is not running"), "{}", stderr(&o));
    // A foreground run shows its output and keeps it in the log as well.
    let o = e.run(&["run", "--name", "fg0", "busybox", "sh", "-c", "echo to-out; echo to-err >&2; exit 5"]);
    assert_eq!((o.status.code(), stdout(&o).as_str(), stderr(&o).as_str()), (Some(5), "to-out\n", "to-err\n"));
    let o = e.run(&["logs", "fg0"]);
    assert_eq!((stdout(&o).as_str(), stderr(&o).as_str()), ("to-out\n", "to-err\n"));
    // A foreground run with a restart policy shows the output and exit code.
    let o = e.run(&["run", "--name", "fg", "--restart", "on-failure:1", "busybox", "sh", "-c", "echo again; exit 2"]);
    assert_eq!(o.status.code(), Some(2));
    assert_eq!(stdout(&o), "again\nagain\n");
}

#[test]
fn logs_follow_until_the_container_exits() {
    let Some(e) = env() else { return };
    e.ok(&["run", "-d", "--name", "talker", "busybox", "sh", "-c", "for i in 1 2 3 4 5; do echo line $i; sleep 0.2; done"]);
    let o = e.run(&["logs", "-f", "talker"]);
    assert!(o.status.success());
    assert_eq!(stdout(&o), "line 1\nline 2\nline 3\nline 4\nline 5\n", "follow prints every line once and ends with the container");
    // A terminal's output is logged too.
    e.ok(&["run", "-dt", "--name", "tty", "busybox", "sh", "-c", "tty; echo done"]);
    e.ok(&["wait", "tty"]);
    let log = e.ok(&["logs", "tty"]);
    assert!(log.contains("/dev/pts/0") && log.contains("done"), "{log}");
    // With -i a shell waits for input instead of exiting at once.
    e.ok(&["run", "-di", "--name", "shell", "busybox", "sh"]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(state(&e, "shell").starts_with("running"));
    // --log-driver none keeps nothing, and logs says so.
    e.ok(&["run", "-d", "--name", "quiet", "--log-driver", "none", "busybox", "echo", "hi"]);
    e.ok(&["wait", "quiet"]);
    let o = e.run(&["logs", "quiet"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("--log-driver none"), "{}", stderr(&o));
    // Rotation keeps the newest lines within the size limit.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "chatty",
        "--log-opt",
        "max-size=8k",
        "--log-opt",
        "max-file=2",
        "busybox",
        "sh",
        "-c",
        "i=0; while [ $i -lt 2000 ]; do echo line $i; i=$((i+1)); done",
    ]);
    e.ok(&["wait", "chatty"]);
    let log = e.ok(&["logs", "chatty"]);
    assert!(log.ends_with("line 1999\n"));
    assert!(!log.contains("line 0\n"), "old lines rotated away");
    let dir = e.root.join("containers").join(e.ok(&["inspect", "-f", "{{.Id}}", "chatty"]).trim());
    assert!(std::fs::metadata(dir.join("ctr.log")).unwrap().len() <= 8192);
    assert!(!dir.join("ctr.log.2").exists());
}

#[test]
fn twenty_detached_containers_start_list_and_stop_cleanly() {
    let Some(e) = env() else { return };
    let names: Vec<String> = (0..20).map(|i| format!("c{i}")).collect();
    let children: Vec<_> =
        names.iter().map(|n| e.cmd(&["run", "-d", "--name", n, "busybox", "sleep", "1000"]).output().expect("burrow runs")).collect();
    for o in &children {
        assert!(o.status.success(), "{}", stderr(o));
    }
    assert_eq!(e.ok(&["ps", "-q"]).lines().count(), 20);
    assert_eq!(monitors(&e).len(), 20);
    let mut stop = vec!["stop", "-t", "0"];
    stop.extend(names.iter().map(String::as_str));
    assert_eq!(e.ok(&stop).lines().count(), 20);
    assert!(e.ok(&["ps", "-q"]).is_empty());
    assert_eq!(e.ok(&["ps", "-a", "--filter", "status=exited", "-q"]).lines().count(), 20);
    let mut rm = vec!["rm"];
    rm.extend(names.iter().map(String::as_str));
    e.ok(&rm);
    assert!(e.ok(&["ps", "-aq"]).is_empty());
    assert!(monitors(&e).is_empty());
    let left: Vec<_> = std::fs::read_dir(e.root.join("containers")).unwrap().flatten().collect();
    assert!(left.is_empty(), "no container directory left: {left:?}");
}

#[test]
fn two_commands_on_one_container_run_one_after_the_other() {
    let Some(e) = env() else { return };
    e.ok(&[
        "run",
        "-d",
        "--name",
        "busy",
        "busybox",
        "sh",
        "-c",
        "trap 'sleep 0.3; exit 0' TERM; echo ready; while true; do sleep 0.1; done",
    ]);
    wait_until("the trap to be set", || e.ok(&["logs", "busy"]).contains("ready"));
    let a = e.cmd(&["stop", "busy"]).spawn().unwrap();
    let b = e.cmd(&["stop", "busy"]).spawn().unwrap();
    assert!(a.wait_with_output().unwrap().status.success());
    assert!(b.wait_with_output().unwrap().status.success());
    assert_eq!(state(&e, "busy"), "exited 0 0");
    let start = e.cmd(&["start", "busy"]).spawn().unwrap();
    let rm = e.cmd(&["rm", "-f", "busy"]).spawn().unwrap();
    let (s, r) = (start.wait_with_output().unwrap(), rm.wait_with_output().unwrap());
    assert!(r.status.success(), "{}", stderr(&r));
    let _ = s;
    assert!(e.ok(&["ps", "-aq"]).is_empty());
    assert!(monitors(&e).is_empty(), "whichever ran first, nothing is left running");
}

#[test]
fn bad_input_fails_clearly_and_creates_nothing() {
    let Some(e) = env() else { return };
    for verb in [
        &["stop", "nope"][..],
        &["start", "nope"],
        &["logs", "nope"],
        &["kill", "nope"],
        &["wait", "nope"],
        &["rename", "nope", "x"],
        &["attach", "nope"],
    ] {
        let o = e.run(verb);
        assert_eq!(o.status.code(), Some(125), "{verb:?}");
        assert!(stderr(&o).contains("no such container: nope"), "{verb:?}: {}", stderr(&o));
    }
    let o = e.run(&["run", "-d", "busybox", "/no/such/command"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    assert!(e.ok(&["ps", "-q"]).is_empty());
    for (args, msg) in [
        (&["run", "-d", "--restart", "sometimes", "busybox", "true"][..], "invalid --restart"),
        (&["run", "-d", "--rm", "--restart", "always", "busybox", "true"], "conflicting options"),
        (&["run", "-d", "--log-driver", "syslog", "busybox", "true"], "log driver"),
        (&["run", "-d", "--log-opt", "max-size=tiny", "busybox", "true"], "--log-opt"),
        (&["run", "-d", "--stop-signal", "SIGNOPE", "busybox", "true"], "--stop-signal"),
        (&["kill", "-s", "NOPE", "x"], "invalid signal"),
        (&["ps", "--filter", "label=x"], "unsupported filter"),
        (&["ps", "--format", "{{range .}}"], "unsupported --format"),
    ] {
        let o = e.run(args);
        assert_eq!(o.status.code(), Some(125), "{args:?}");
        assert!(stderr(&o).contains(msg), "{args:?}: {}", stderr(&o));
    }
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1, "only the container whose command was missing exists");
    e.ok(&["run", "-d", "--name", "one", "busybox", "sleep", "100"]);
    let o = e.run(&["run", "-d", "--name", "one", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already in use"));
}

#[test]
fn top_df_and_prune_see_the_containers() {
    let Some(e) = env() else { return };
    e.ok(&["run", "-d", "--name", "busy", "busybox", "sh", "-c", "sleep 1000 & echo started; wait"]);
    wait_until("the child to start", || e.ok(&["logs", "busy"]).contains("started"));
    let top = e.ok(&["top", "busy", "-o", "pid,args"]);
    assert!(top.starts_with("  PID") || top.contains("PID"), "{top}");
    assert!(top.contains("sleep 1000"), "{top}");
    assert!(!top.contains("burrow"), "only the container's processes: {top}");
    e.ok(&["run", "--name", "done1", "busybox", "sh", "-c", "head -c 100000 /dev/zero > /big"]);
    e.ok(&["run", "--name", "done2", "busybox", "true"]);
    let df = e.ok(&["system", "df"]);
    let containers = df.lines().find(|l| l.starts_with("Containers")).unwrap_or_default().split_whitespace().collect::<Vec<_>>();
    assert_eq!(&containers[1..3], ["3", "1"], "3 containers, 1 running: {df}");
    assert!(df.contains("Local Volumes") && df.contains("Images"), "{df}");
    let o = e.run(&["container", "prune"]);
    let asked = String::from_utf8_lossy(&o.stdout);
    assert!(o.status.success() && asked.contains("[y/N]") && !asked.contains("Deleted"), "without -f it asks; end of input is no: {asked}");
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 3, "nothing pruned without a yes");
    let out = e.ok(&["container", "prune", "-f"]);
    assert!(out.contains("Deleted Containers:") && out.contains("Total reclaimed space:"), "{out}");
    assert_eq!(out.lines().filter(|l| l.len() == 64).count(), 2, "the two stopped ones: {out}");
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1, "the running one stays");
    let o = e.run(&["top", "done1"]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn a_committed_container_runs_as_an_image_with_its_changes_and_deletions() {
    let Some(e) = env() else { return };
    e.ok(&["run", "--name", "src", "busybox", "sh", "-c", "echo hi > /marker; rm -r /home"]);
    e.ok(&[
        "commit",
        "-c",
        r#"CMD ["sh", "-c", "cat /marker; echo $X; [ -e /home ] || echo gone"]"#,
        "-c",
        "ENV X=1",
        "-c",
        "EXPOSE 8080",
        "-m",
        "made by a test",
        "src",
        "made:v1",
    ]);
    let o = e.run(&["run", "--rm", "made:v1"]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(stdout(&o), "hi\n1\ngone\n");
    let cfg = e.ok(&["image", "inspect", "--format", "{{json .Config.ExposedPorts}}", "made:v1"]);
    assert!(cfg.contains("8080/tcp"), "{cfg}");
    let o = e.run(&["commit", "-c", "RUN make", "src", "bad:v1"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("invalid change"), "{}", stderr(&o));
    assert!(!e.ok(&["images"]).contains("bad"), "nothing was stored");
}

#[test]
fn healthchecks_report_starting_unhealthy_and_healthy() {
    let Some(e) = env() else { return };
    e.ok(&[
        "run",
        "-d",
        "--name",
        "doc",
        "--health-cmd",
        "test -e /tmp/ok",
        "--health-interval",
        "100ms",
        "--health-retries",
        "2",
        "busybox",
        "sleep",
        "1000",
    ]);
    let health = || e.ok(&["inspect", "-f", "{{.State.Health.Status}}", "doc"]).trim().to_string();
    wait_until("unhealthy after two failures", || health() == "unhealthy");
    assert!(e.ok(&["ps", "--format", "{{.Status}}"]).contains("(unhealthy)"));
    e.ok(&["exec", "doc", "touch", "/tmp/ok"]);
    wait_until("healthy after a success", || health() == "healthy");
    assert_eq!(e.ok(&["ps", "--filter", "health=healthy", "--format", "{{.Names}}"]).trim(), "doc");
    let log = e.ok(&["inspect", "-f", "{{json .State.Health.Log}}", "doc"]);
    assert!(log.contains("\"ExitCode\":1") && log.contains("\"ExitCode\":0"), "{log}");
    let cfg = e.ok(&["inspect", "-f", "{{json .Config.Healthcheck.Test}}", "doc"]);
    assert_eq!(cfg.trim(), r#"["CMD-SHELL","test -e /tmp/ok"]"#);
    // Conflicting or malformed flags are refused.
    let o = e.run(&["run", "-d", "--no-healthcheck", "--health-cmd", "true", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125), "conflicting flags: {}", stderr(&o));
    let o = e.run(&["run", "-d", "--health-cmd", "true", "--health-interval", "soon", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("--health-interval"), "{}", stderr(&o));
}

#[test]
fn cp_copies_both_ways_through_the_containers_root_running_or_not() {
    let Some(e) = env() else { return };
    e.ok(&[
        "run",
        "-d",
        "--name",
        "box",
        "busybox",
        "sh",
        "-c",
        "mkdir -p /data/sub; echo inside > /data/sub/f; ln -s /etc /data/etc; echo ready; sleep 1000",
    ]);
    wait_until("the files", || e.ok(&["logs", "box"]).contains("ready"));
    let out = e.dir.path().join("out");
    std::fs::create_dir(&out).unwrap();
    // Out of the container: a directory into an existing one, symlinks kept.
    e.ok(&["cp", "box:/data", out.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(out.join("data/sub/f")).unwrap(), "inside\n");
    assert!(std::fs::symlink_metadata(out.join("data/etc")).unwrap().file_type().is_symlink());
    // A symlink in the container resolves inside it, never on the host.
    e.ok(&["cp", "box:/data/etc/hostname", out.join("hn").to_str().unwrap()]);
    let hn = std::fs::read_to_string(out.join("hn")).unwrap();
    assert_eq!(hn.trim(), &e.ok(&["inspect", "-f", "{{.Id}}", "box"]).trim()[..12], "the container's /etc/hostname");
    // Into the container: a new name, then read back with exec.
    let host_file = e.dir.path().join("host.txt");
    std::fs::write(&host_file, "from the host\n").unwrap();
    e.ok(&["cp", host_file.to_str().unwrap(), "box:/data/sub/copied"]);
    assert_eq!(e.ok(&["exec", "box", "cat", "/data/sub/copied"]), "from the host\n");
    assert_eq!(e.ok(&["exec", "box", "stat", "-c", "%u", "/data/sub/copied"]).trim(), "0", "owned by the container's root");
    e.ok(&["cp", &format!("{}/.", out.join("data/sub").display()), "box:/tmp"]);
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/f"]), "inside\n", "SRC/. copies the content");
    // Errors.
    let o = e.run(&["cp", "box:/no/such", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
    let o = e.run(&["cp", "/root/.profile", "box:/tmp/"]);
    assert_eq!(o.status.code(), Some(125), "a host file the user cannot read: {}", stderr(&o));
    // A stopped container: its root is mounted for the copy, both ways.
    e.ok(&["stop", "-t", "0", "box"]);
    let again = e.dir.path().join("again");
    e.ok(&["cp", "box:/data/sub/copied", again.to_str().unwrap()]);
    assert_eq!(std::fs::read_to_string(&again).unwrap(), "from the host\n");
    // docker's create → cp → start: the file is there when it starts.
    e.ok(&["create", "--name", "cfg", "busybox", "cat", "/etc/app.conf"]);
    e.ok(&["cp", host_file.to_str().unwrap(), "cfg:/etc/app.conf"]);
    let o = e.run(&["start", "-a", "cfg"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "from the host\n"), "{}", stderr(&o));
    let o = e.run(&["cp", "cfg:/no/such", out.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no such file"), "{}", stderr(&o));
}

#[test]
fn system_prune_removes_stopped_containers_and_with_volumes_their_anonymous_volumes() {
    let Some(e) = env() else { return };
    e.ok(&["run", "--name", "gone", "-v", "/anon", "busybox", "true"]);
    e.ok(&["run", "--name", "named", "-v", "keep:/data", "busybox", "true"]);
    e.ok(&["run", "-d", "--name", "alive", "busybox", "sleep", "1000"]);
    assert_eq!(e.ok(&["volume", "ls", "-q"]).lines().count(), 2);
    let out = e.ok(&["system", "prune", "-f", "--volumes"]);
    assert!(out.contains("Deleted Containers:") && out.contains("Deleted Volumes:"), "{out}");
    assert_eq!(e.ok(&["ps", "-aq"]).lines().count(), 1, "the running container stays");
    assert_eq!(e.ok(&["volume", "ls", "-q"]).trim(), "keep", "named volumes stay");
}

#[test]
fn attach_sends_input_to_a_detached_container() {
    let Some(e) = env() else { return };
    let attach = |name: &str, input: &str| {
        use std::io::Write;
        let mut c = e.cmd(&["attach", name]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
        c.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        c.wait_with_output().unwrap()
    };
    e.ok(&["run", "-di", "--name", "plain", "busybox", "sh"]);
    let o = attach("plain", "echo from-attach\nexit 3\n");
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(3), "from-attach\n"));
    // With a terminal, what the user types reaches the shell through it.
    e.ok(&["run", "-dit", "--name", "term", "busybox", "sh"]);
    let o = attach("term", "echo tty-$((6*7))\nexit 4\n");
    assert_eq!(o.status.code(), Some(4));
    assert!(stdout(&o).contains("tty-42"), "{}", stdout(&o));
    assert!(e.ok(&["logs", "term"]).contains("tty-42"), "the terminal's output is logged");
    // --no-stdin only follows the output; a container without -i has no input.
    e.ok(&["run", "-d", "--name", "noin", "busybox", "sh", "-c", "sleep 0.5; echo late"]);
    let o = e.run(&["attach", "--no-stdin", "noin"]);
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(0), "late\n"));
    // create -i, then start -ai.
    e.ok(&["create", "-i", "--name", "later", "busybox", "sh"]);
    let mut c = e.cmd(&["start", "-ai", "later"]).stdin(std::process::Stdio::piped()).stdout(std::process::Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(&mut c.stdin.take().unwrap(), b"echo started-$((1+1))\nexit 5\n").unwrap();
    let o = c.wait_with_output().unwrap();
    assert_eq!((o.status.code(), stdout(&o).as_str()), (Some(5), "started-2\n"));
    let o = e.run(&["start", "-i", "later"]);
    assert_eq!(o.status.code(), Some(125), "-i without -a is refused");
}
