//! `burrow run` end to end: namespaces, ids, exit codes, flags, signals,
//! terminals, capabilities and seccomp, as an unprivileged user.

mod common;

use std::io::{BufRead, BufReader};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

#[test]
fn container_root_has_the_full_subordinate_range() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "id -u; cat /proc/self/uid_map; cat /proc/self/gid_map"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "0", "{out}");
    let uid_map: Vec<Vec<u64>> = lines[1..3].iter().map(|l| l.split_whitespace().map(|x| x.parse().unwrap()).collect()).collect();
    assert_eq!(uid_map[0], vec![0, u64::from(common::uid()), 1], "{out}");
    assert_eq!(uid_map[1][0], 1);
    assert!(uid_map[1][2] >= 65536, "the whole subordinate range is mapped: {out}");
}

#[test]
fn keep_id_runs_as_the_callers_uid_with_image_owners_intact() {
    let Some(e) = env() else { return };
    let out =
        e.ok(&["run", "--rm", "--userns=keep-id", "busybox", "sh", "-c", "id -u; id -g; stat -c %u /bin/busybox; stat -c %u /home/app"]);
    let uid = common::uid().to_string();
    let gid = nix::unistd::getgid().as_raw().to_string();
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines, vec![uid.as_str(), gid.as_str(), "0", "1000"], "{out}");
}

#[test]
fn exit_codes_are_dockers() {
    let Some(e) = env() else { return };
    let code = |args: &[&str]| e.run(args).status.code();
    assert_eq!(code(&["run", "--rm", "busybox", "true"]), Some(0));
    assert_eq!(code(&["run", "--rm", "busybox", "sh", "-c", "exit 3"]), Some(3));
    assert_eq!(code(&["run", "--rm", "busybox", "/etc/passwd"]), Some(126));
    assert_eq!(code(&["run", "--rm", "busybox", "no-such-command"]), Some(127));
    assert_eq!(code(&["run", "--rm", "busybox", "/no/such/file"]), Some(127));
    // PID 1 cannot be killed from inside its own namespace, so the shell
    // runs under --init to be killable, as in docker.
    assert_eq!(code(&["run", "--rm", "--init", "busybox", "sh", "-c", "kill -9 $$"]), Some(137));
    let o = e.run(&["run", "--rm", "--pull=never", "no-such-image", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("not found"), "{}", stderr(&o));
    // As docker: a missing image is pulled first (from a registry that
    // cannot exist here, so that fails with 125 too).
    let o = e.run(&["run", "--rm", "registry.invalid/no-such-image", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("Unable to find image") && stderr(&o).contains("registry.invalid"), "{}", stderr(&o));
    let o = e.run(&["run", "--rm", "busybox", "no-such-command"]);
    assert!(stderr(&o).contains("executable file not found in $PATH"), "{}", stderr(&o));
}

#[test]
fn env_workdir_and_user() {
    let Some(e) = env() else { return };
    let env_file = e.dir.path().join("env");
    std::fs::write(&env_file, "# comment\nFROM_FILE=f\nA=file\n").unwrap();
    let out = e.ok(&[
        "run",
        "--rm",
        "-e",
        "A=flag",
        "--env-file",
        env_file.to_str().unwrap(),
        "-w",
        "/tmp/work",
        "-u",
        "app",
        "busybox",
        "sh",
        "-c",
        "echo $A $FROM_FILE $HOME; pwd; id -u; id -g; id -G",
    ]);
    assert_eq!(out, "flag f /home/app\n/tmp/work\n1000\n1000\n1000 2000\n");
    let out = e.ok(&["run", "--rm", "-u", "www-data:app", "busybox", "id"]);
    assert!(out.starts_with("uid=33(www-data) gid=1000(app)"), "{out}");
    let out = e.ok(&["run", "--rm", "-u", "4242:4343", "busybox", "sh", "-c", "id -u; id -g"]);
    assert_eq!(out, "4242\n4343\n");
    let o = e.run(&["run", "--rm", "-u", "nosuchuser", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("unable to find user nosuchuser"), "{}", stderr(&o));
}

#[test]
fn hostname_and_generated_etc_files() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "--hostname", "box1", "busybox", "sh", "-c", "hostname; cat /etc/hostname; grep box1 /etc/hosts"]);
    assert_eq!(out.lines().take(2).collect::<Vec<_>>(), vec!["box1", "box1"]);
    assert!(out.contains("10.0.2.100\tbox1"), "{out}");
    // default hostname: the short container id
    let out = e.ok(&["run", "--rm", "busybox", "hostname"]);
    assert_eq!(out.trim().len(), 12, "{out}");
}

#[test]
fn read_only_root() {
    let Some(e) = env() else { return };
    let o = e.run(&["run", "--rm", "--read-only", "busybox", "touch", "/etc/x"]);
    assert_ne!(o.status.code(), Some(0));
    assert!(stderr(&o).contains("Read-only file system"), "{}", stderr(&o));
    // /dev/shm stays writable, as in docker
    e.ok(&["run", "--rm", "--read-only", "busybox", "touch", "/dev/shm/x"]);
    e.ok(&["run", "--rm", "busybox", "touch", "/etc/x"]);
}

#[test]
fn the_command_is_pid_1_and_init_reaps_orphans() {
    let Some(e) = env() else { return };
    assert_eq!(e.ok(&["run", "--rm", "busybox", "sh", "-c", "echo $$"]), "1\n");
    // An orphan that exits becomes a zombie of PID 1 unless PID 1 reaps it.
    let script = "(sleep 0.2 &); sleep 1; ps -o stat,comm | grep -c '^Z' || true; cat /proc/1/comm";
    let out = e.ok(&["run", "--rm", "--init", "busybox", "sh", "-c", script]);
    assert_eq!(out, "0\nburrow-init\n");
    // Without --init, a PID 1 that never waits (here `sleep`) collects zombies.
    let script = "(sleep 0.2 &); (sleep 1; ps -o stat,comm | grep -c '^Z') & exec sleep 2";
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", script]);
    assert!(out.trim().parse::<u32>().unwrap() >= 1, "zombies are left without --init, as in docker: {out}");
}

/// A `burrow run` child that is killed (SIGKILL) if a test fails before
/// it ends, so no container outlives its test.
struct Running(std::process::Child);

impl std::ops::Deref for Running {
    type Target = std::process::Child;
    fn deref(&self) -> &std::process::Child {
        &self.0
    }
}

impl std::ops::DerefMut for Running {
    fn deref_mut(&mut self) -> &mut std::process::Child {
        &mut self.0
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

fn spawn_and_wait_ready(e: &Env, args: &[&str]) -> (Running, BufReader<std::process::ChildStdout>) {
    let mut child = Running(e.cmd(args).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap());
    let mut out = BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    out.read_line(&mut line).unwrap();
    assert_eq!(line, "ready\n");
    (child, out)
}

#[test]
fn sigterm_reaches_the_container() {
    let Some(e) = env() else { return };
    let script = "trap 'echo got-term; exit 42' TERM; echo ready; while :; do sleep 0.1; done";
    let (mut child, mut out) = spawn_and_wait_ready(&e, &["run", "--rm", "busybox", "sh", "-c", script]);
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut out, &mut rest).unwrap();
    assert_eq!(rest, "got-term\n");
    assert_eq!(status.code(), Some(42));

    // With --init, the workload is not PID 1 and gets SIGTERM's default action.
    let (mut child, _out) = spawn_and_wait_ready(&e, &["run", "--rm", "--init", "busybox", "sh", "-c", "echo ready; exec sleep 60"]);
    let started = Instant::now();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGTERM).unwrap();
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143));
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn tty_gives_a_private_pty() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "-t", "busybox", "sh", "-c", "tty; test -t 0 && test -t 1 && echo both-tty; echo $TERM"]);
    let out = out.replace('\r', "");
    assert_eq!(out, "/dev/pts/0\nboth-tty\nxterm\n");
    let o = e.run(&["run", "--rm", "busybox", "sh", "-c", "test -t 1"]);
    assert_eq!(o.status.code(), Some(1), "without -t there is no terminal");
}

#[test]
fn interactive_stdin_is_passed_through() {
    let Some(e) = env() else { return };
    let mut child = e
        .cmd(&["run", "--rm", "-i", "busybox", "sh", "-c", "read x; echo got:$x"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"hello\n").unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(stdout(&o), "got:hello\n");
    // without -i, stdin is empty
    assert_eq!(e.ok(&["run", "--rm", "busybox", "sh", "-c", "cat; echo end"]), "end\n");
}

#[test]
fn rm_leaves_no_trace_and_records_otherwise() {
    let Some(e) = env() else { return };
    let before = e.store_listing();
    e.ok(&["run", "--rm", "busybox", "sh", "-c", "echo hi > /root/f"]);
    assert_eq!(e.store_listing(), before, "--rm must leave the store as it was");
    e.ok(&["run", "--name", "kept", "busybox", "sh", "-c", "exit 0"]);
    let ps = e.ok(&["ps", "-a"]);
    assert!(ps.contains("kept") && ps.contains("Exited (0)"), "{ps}");
    let o = e.run(&["run", "--name", "kept", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));
    e.ok(&["rm", "kept"]);
    assert_eq!(e.store_listing(), before);
}

const DOCKER_DEFAULT_CAPS: &str = "00000000a80425fb";

#[test]
fn capabilities_are_dockers_and_can_be_dropped() {
    let Some(e) = env() else { return };
    let caps = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2"]);
        e.ok(&args).trim().to_string()
    };
    assert_eq!(caps(&[]), DOCKER_DEFAULT_CAPS);
    assert_eq!(caps(&["--cap-drop", "ALL"]), "0000000000000000");
    assert_eq!(caps(&["--cap-drop", "all", "--cap-add", "CAP_CHOWN"]), "0000000000000001");
    let chown = |extra: &[&str]| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["busybox", "sh", "-c", "touch /tmp/f && chown 5 /tmp/f"]);
        e.run(&args).status.code()
    };
    assert_eq!(chown(&[]), Some(0));
    assert_eq!(chown(&["--cap-drop", "CHOWN"]), Some(1), "a dropped capability is really gone");
    let o = e.run(&["run", "--rm", "--cap-add", "NOT_A_CAP", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    // A non-root user has no effective capabilities, as in docker.
    let out = e.ok(&["run", "--rm", "-u", "app", "busybox", "sh", "-c", "grep CapEff /proc/self/status | cut -f2"]);
    assert_eq!(out.trim(), "0000000000000000");
}

#[test]
fn seccomp_denies_what_docker_denies() {
    let Some(e) = env() else { return };
    let o = e.run(&["run", "--rm", "busybox", "unshare", "-U", "true"]);
    assert_ne!(o.status.code(), Some(0), "unshare(CLONE_NEWUSER) is denied by the default profile");
    assert!(stderr(&o).contains("Operation not permitted"), "{}", stderr(&o));
    e.ok(&["run", "--rm", "--security-opt", "seccomp=unconfined", "busybox", "unshare", "-U", "true"]);
    // A profile file in docker's format
    let profile = e.dir.path().join("deny-mkdir.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":1}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let o = e.run(&["run", "--rm", "--security-opt", &opt, "busybox", "mkdir", "/tmp/d"]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    e.ok(&["run", "--rm", "--security-opt", "no-new-privileges", "busybox", "grep", "-q", "NoNewPrivs:\t1", "/proc/self/status"]);
    let o = e.run(&["run", "--rm", "--security-opt", "apparmor=foo", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
}

#[test]
fn proc_and_sys_are_hardened_and_dev_is_minimal() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "ls /dev | tr '\\n' ' '; echo; cat /proc/kcore | wc -c; echo x > /sys/kernel/profiling 2>/dev/null || echo sys-ro; ip link show lo | grep -c UP"]);
    let lines: Vec<&str> = out.lines().collect();
    for dev in ["null", "zero", "full", "random", "urandom", "tty", "pts", "shm", "mqueue", "ptmx", "fd"] {
        assert!(lines[0].split(' ').any(|d| d == dev), "/dev lacks {dev}: {}", lines[0]);
    }
    assert_eq!(lines[1], "0", "/proc/kcore is masked");
    assert!(out.contains("sys-ro"), "{out}");
    assert_eq!(lines.last().unwrap().trim(), "1", "loopback is up: {out}");
}

#[test]
fn unsupported_flags_are_refused_not_ignored() {
    let Some(e) = env() else { return };
    for flag in [&["--gpus", "all"][..], &["--device", "/dev/null"]] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flag);
        args.extend_from_slice(&["busybox", "true"]);
        let o = e.run(&args);
        assert_eq!(o.status.code(), Some(125), "{flag:?}");
        assert!(stderr(&o).contains("unexpected argument"), "{}", stderr(&o));
    }
}

#[test]
fn single_id_fallback_works_and_says_so() {
    let Some(e) = env() else { return };
    let out = e.cmd(&["run", "--rm", "busybox", "cat", "/proc/self/uid_map"]).env("BURROW_USERNS", "single-id").output().unwrap();
    assert!(out.status.success(), "{}", stderr(&out));
    let map = stdout(&out);
    assert_eq!(map.lines().count(), 1, "{map}");
    assert_eq!(map.split_whitespace().collect::<Vec<_>>(), vec!["0".to_string(), common::uid().to_string(), "1".to_string()]);
}

#[test]
fn every_command_shares_one_user_namespace_held_by_a_pause_process() {
    let Some(e) = env() else { return };
    e.ok(&["run", "-d", "--name", "holder", "busybox", "sleep", "1000"]);
    // The container's supervisor, a later command and the pause process
    // are in one namespace, and the command needed no new one.
    let needle = format!("--root {} __monitor", e.root.display());
    let monitor = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .find(|p| std::fs::read(p.path().join("cmdline")).is_ok_and(|c| String::from_utf8_lossy(&c).replace('\0', " ").contains(&needle)))
        .expect("the container's monitor runs");
    let of = |dir: &std::path::Path| std::fs::read_link(dir.join("ns/user")).unwrap();
    let ns = of(&monitor.path());
    assert_eq!(e.ok(&["unshare", "readlink", "/proc/self/ns/user"]).trim(), ns.to_str().unwrap());
    let pauses: Vec<_> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| std::fs::read(p.path().join("cmdline")).is_ok_and(|c| c.windows(7).any(|w| w == b"__pause")))
        .filter(|p| std::fs::read_link(p.path().join("ns/user")).is_ok_and(|n| n == ns))
        .collect();
    assert_eq!(pauses.len(), 1, "one pause process holds the namespace");
    e.ok(&["rm", "-f", "holder"]);
}

#[test]
fn writes_stay_private() {
    let Some(e) = env() else { return };
    let run = |script: &str| {
        let o = e.cmd(&["run", "--rm", "busybox", "sh", "-c", script]).output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        stdout(&o)
    };
    run("echo changed > /etc/passwd && rm /bin/ls && mkdir /newdir && chown 33:33 /newdir && stat -c %u /newdir");
    let out = run("head -1 /etc/passwd; test -e /bin/ls && echo ls-back; test -e /newdir || echo no-newdir");
    assert_eq!(out, "root:x:0:0:root:/root:/bin/sh\nls-back\nno-newdir\n");
}

#[test]
fn tty_window_size_follows_the_callers_terminal() {
    let Some(e) = env() else { return };
    let have_script = std::path::Path::new("/usr/bin/script").exists();
    if !common::require(have_script, "script(1) from util-linux to give burrow a terminal") {
        return;
    }
    let cmd =
        format!("stty cols 91 rows 33; BURROW_ROOT={} {} run --rm -t busybox stty size", e.root.display(), common::burrow_bin().display());
    let o = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    assert_eq!(stdout(&o).replace('\r', "").trim(), "33 91", "{}", stderr(&o));
}

/// Processes of this user whose command line is exactly `argv`.
fn processes_with_cmdline(argv: &[&str]) -> usize {
    let want: Vec<u8> = argv.iter().flat_map(|a| a.bytes().chain([0])).collect();
    std::fs::read_dir("/proc").unwrap().flatten().filter(|e| std::fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want)).count()
}

#[test]
fn kill_9_of_burrow_takes_the_container_and_a_later_command_cleans_up() {
    let Some(e) = env() else { return };
    for rm in [true, false] {
        let mut args = vec!["run", "--name", "victim"];
        if rm {
            args.push("--rm");
        }
        args.extend_from_slice(&["busybox", "sh", "-c", "echo ready; exec sleep 3599"]);
        let (mut child, _out) = spawn_and_wait_ready(&e, &args);
        let deadline = Instant::now() + Duration::from_secs(10);
        while processes_with_cmdline(&["sleep", "3599"]) == 0 {
            assert!(Instant::now() < deadline, "the container's sleep never started");
            std::thread::sleep(Duration::from_millis(10));
        }
        let ps = e.ok(&["ps"]);
        assert!(ps.contains("victim") && ps.contains("Up"), "{ps}");
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while processes_with_cmdline(&["sleep", "3599"]) > 0 {
            assert!(Instant::now() < deadline, "the container outlived burrow");
            std::thread::sleep(Duration::from_millis(20));
        }
        // the next command that writes the store reconciles the records
        e.ok(&["run", "--rm", "busybox", "true"]);
        let ps = e.ok(&["ps", "-a"]);
        if rm {
            assert!(!ps.contains("victim"), "an --rm container is removed: {ps}");
        } else {
            assert!(ps.contains("victim") && ps.contains("Exited (137)"), "{ps}");
            e.ok(&["rm", "victim"]);
        }
    }
    let leftovers: Vec<_> = std::fs::read_dir(e.root.join("containers")).unwrap().flatten().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

/// Everything after the image belongs to the container's command, as in
/// docker: flags burrow also has (`-c` is --cpu-shares, `-e` --env),
/// `--help` and `--` reach the command untouched, and burrow's own flags
/// still work before the image.
#[test]
fn arguments_after_the_image_are_the_commands() {
    let Some(e) = env() else { return };
    assert_eq!(e.ok(&["run", "--rm", "--entrypoint", "sh", "busybox", "-c", "echo hi"]), "hi\n");
    let out = e.ok(&["run", "--rm", "-e", "A=1", "busybox", "sh", "-c", "echo \"$A\" \"$@\"", "sh", "-e", "B=2", "--help", "--", "-c"]);
    assert_eq!(out, "1 -e B=2 --help -- -c\n");
    // A first argument that looks like one of burrow's flags is the
    // command, not a flag: the busybox image has no `-e` to run.
    let o = e.run(&["run", "--rm", "busybox", "-e", "A=1"]);
    assert_eq!(o.status.code(), Some(127), "{}", stderr(&o));
    let out = e.ok(&["create", "--name", "argv", "busybox", "sh", "-c", "echo created \"$0\"", "--help"]);
    assert!(!out.trim().is_empty());
    assert_eq!(stdout(&e.run(&["start", "-a", "argv"])), "created --help\n");
    e.ok(&["rm", "argv"]);
}

/// `--log-level debug` of two containers at once, into one file: every
/// line about a container carries its id, so the two can be told apart.
#[test]
fn debug_logs_of_concurrent_containers_carry_their_ids() {
    let Some(e) = env() else { return };
    let log = e.dir.path().join("debug.log");
    let file = std::fs::OpenOptions::new().create(true).append(true).open(&log).unwrap();
    let children: Vec<_> = ["one", "two"]
        .iter()
        .map(|name| {
            e.cmd(&["--log-level", "debug", "run", "--name", name, "busybox", "true"])
                .stdout(Stdio::null())
                .stderr(file.try_clone().unwrap())
                .spawn()
                .unwrap()
        })
        .collect();
    for mut c in children {
        assert!(c.wait().unwrap().success());
    }
    let text = std::fs::read_to_string(&log).unwrap();
    for name in ["one", "two"] {
        let id = e.ok(&["inspect", "-f", "{{.Id}}", name]);
        let tag = format!("container{{id={}}}", &id.trim()[..12]);
        let lines: Vec<&str> = text.lines().filter(|l| l.contains(&tag)).collect();
        assert!(lines.iter().any(|l| l.contains("launching")), "no launch logged for {name} ({tag}):\n{text}");
    }
    assert!(!text.lines().any(|l| l.contains("launching") && !l.contains("container{id=")), "a line without its container:\n{text}");
}

/// Many short containers at once, on one store: each must start and exit
/// 0. The network setup once opened the child's namespace after the gate,
/// when a workload as short as `true` could already have exited ("cannot
/// set up the container's channel: No such file or directory").
#[test]
fn five_hundred_concurrent_short_runs_all_succeed() {
    let Some(e) = env() else { return };
    const RUNS: usize = 500;
    const AT_ONCE: usize = 25;
    let next = std::sync::atomic::AtomicUsize::new(0);
    let failures = std::sync::Mutex::new(Vec::new());
    std::thread::scope(|s| {
        for _ in 0..AT_ONCE {
            s.spawn(|| {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < RUNS {
                    let o = e.run(&["run", "--rm", "busybox", "true"]);
                    if !o.status.success() {
                        failures.lock().unwrap().push(format!("{}: {}", o.status, stderr(&o).trim()));
                    }
                }
            });
        }
    });
    let failures = failures.into_inner().unwrap();
    assert!(failures.is_empty(), "{} of {RUNS} runs failed: {failures:#?}", failures.len());
    assert_eq!(e.ok(&["ps", "-aq"]), "", "every --rm container is gone");
}

/// Flag values burrow used to accept and should not: each is refused with
/// docker's exit code before a container exists.
#[test]
fn bad_flag_values_are_refused() {
    let Some(e) = env() else { return };
    let refused = |flags: &[&str], code: i32, expect: &str| {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(flags);
        args.extend_from_slice(&["busybox", "id"]);
        let o = e.run(&args);
        assert_eq!(o.status.code(), Some(code), "{flags:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(expect), "{flags:?}: {}", stderr(&o));
        assert!(stdout(&o).is_empty(), "{flags:?} ran: {}", stdout(&o));
        stderr(&o)
    };
    // 4294967295 is -1 to setresuid, which would leave the workload root.
    refused(&["-u", "4294967295"], 125, "out of range");
    refused(&["-u", "0:4294967295"], 125, "out of range");
    refused(&["-e", "=x"], 125, "invalid environment variable \"=x\"");
    refused(&["-e", ""], 125, "invalid environment variable");
    let env_file = e.dir.path().join("env");
    std::fs::write(&env_file, "A=1\n=nameless\n").unwrap();
    refused(&["--env-file", env_file.to_str().unwrap()], 125, "\"=nameless\"");
    // docker: "the input device is not a TTY", exit 1 (stdin is /dev/null here).
    refused(&["-it"], 1, "the input device is not a TTY");
    refused(&["-i", "-t"], 1, "the input device is not a TTY");
    assert_eq!(e.ok(&["ps", "-aq"]), "", "no container record left");
    // Detached, -it reads no terminal of the caller's: it runs.
    e.ok(&["run", "-dit", "--name", "bg", "busybox", "sh"]);
    e.ok(&["rm", "-f", "bg"]);
}

/// An id the container's user namespace does not map is refused before
/// the container starts, with a message about the map really in force.
#[test]
fn unmapped_ids_are_refused_naming_the_mapping_in_force() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "cat /proc/self/uid_map /proc/self/gid_map"]);
    let last = |n: usize| -> u64 {
        let l: Vec<u64> = out.lines().nth(n).unwrap().split_whitespace().map(|x| x.parse().unwrap()).collect();
        l[0] + l[2] - 1
    };
    let (top_uid, top_gid) = (last(1), last(3));
    assert_eq!(e.ok(&["run", "--rm", "-u", &format!("{top_uid}:{top_gid}"), "busybox", "id", "-u"]).trim(), top_uid.to_string());
    for (user, kind, id) in [(format!("{}", top_uid + 1), "uid", top_uid + 1), (format!("0:{}", top_gid + 1), "gid", top_gid + 1)] {
        let o = e.run(&["run", "--rm", "-u", &user, "busybox", "true"]);
        assert_eq!(o.status.code(), Some(125), "{user}: {}", stderr(&o));
        let msg = stderr(&o);
        let top = if kind == "uid" { top_uid } else { top_gid };
        assert!(msg.contains(&format!("{kind} {id} is not mapped")) && msg.contains(&format!("{kind}s 0-{top}")), "{user}: {msg}");
        assert!(!msg.contains("single-id"), "a range is in use: {msg}");
    }
    let o = e.cmd(&["run", "--rm", "-u", "app", "busybox", "true"]).env("BURROW_USERNS", "single-id").output().unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("uid 1000 is not mapped") && msg.contains("single-id") && msg.contains("subuid"), "{msg}");
}

#[test]
fn isatty_on_a_file_of_the_root_is_answered_quietly() {
    let Some(e) = env() else { return };
    // isatty(3) asks TCGETS; the root's files answer ENOTTY, and burrow
    // logs nothing about it on the user's terminal.
    let o = e.run(&["run", "--rm", "busybox", "sh", "-c", "test -t 0 < /etc/passwd; echo rc=$?"]);
    assert_eq!(String::from_utf8_lossy(&o.stdout), "rc=1\n");
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains("ioctl") && !err.contains("WARN"), "burrow logged: {err}");
}
