//! `burrow exec` end to end, as an unprivileged user: a command joins a
//! running container (started by a foreground `burrow run` in the
//! background of the test) and sees its files, network, processes and
//! environment, with docker's flags and exit codes.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::{rootless_ready, stderr, stdout, Env};

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

/// A foreground `burrow run` in the background, killed (SIGKILL, which
/// takes its container along) when the test ends, however it ends.
struct Container(std::process::Child);

impl Drop for Container {
    fn drop(&mut self) {
        if self.0.try_wait().ok().flatten().is_none() {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
}

/// Start `burrow run --name NAME ARGS...` and wait until `ps` lists it
/// as running and `ready` (a shell test) holds inside it.
fn start(e: &Env, name: &str, args: &[&str], ready: &str) -> Container {
    let mut all = vec!["run", "--name", name];
    all.extend_from_slice(args);
    let c = Container(e.cmd(&all).stdout(Stdio::null()).stderr(Stdio::inherit()).spawn().unwrap());
    let deadline = Instant::now() + Duration::from_secs(30);
    while !e.ok(&["ps"]).lines().any(|l| l.ends_with(name) && l.contains(" Up ")) {
        assert!(Instant::now() < deadline, "container {name} never showed as running");
        std::thread::sleep(Duration::from_millis(20));
    }
    while !e.run(&["exec", name, "sh", "-c", ready]).status.success() {
        assert!(Instant::now() < deadline, "container {name} never became ready ({ready})");
        std::thread::sleep(Duration::from_millis(20));
    }
    c
}

/// `burrow exec` processes (or a detached exec's keeper, which keeps the
/// command line) still running against container `name`.
fn exec_processes(name: &str) -> usize {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|p| {
            std::fs::read(p.path().join("cmdline")).is_ok_and(|c| {
                let args: Vec<&[u8]> = c.split(|b| *b == 0).collect();
                args.len() > 2 && args[0].ends_with(b"burrow") && args.contains(&&b"exec"[..]) && args.contains(&name.as_bytes())
            })
        })
        .count()
}

#[test]
fn exec_sees_the_containers_files_network_processes_and_environment() {
    let Some(e) = env() else { return };
    let _c = start(&e, "box", &["-e", "FROM_RUN=1", "busybox", "sh", "-c", "echo from-run > /tmp/f && exec sleep 1000"], "test -e /tmp/f");
    // Files: the container's, and an exec's writes are seen by the next one.
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/f"]), "from-run\n");
    e.ok(&["exec", "box", "sh", "-c", "echo from-exec > /tmp/g"]);
    assert_eq!(e.ok(&["exec", "box", "cat", "/tmp/g"]), "from-exec\n");
    // Network: the container's device and address.
    let addr = e.ok(&["exec", "box", "ip", "addr", "show", "eth0"]);
    assert!(addr.contains("inet 10.0.2.100/24"), "{addr}");
    // Processes: the container's pid namespace, its command as PID 1.
    assert_eq!(e.ok(&["exec", "box", "cat", "/proc/1/cmdline"]), "sleep\u{0}1000\u{0}");
    assert_eq!(e.ok(&["exec", "box", "hostname"]), e.ok(&["exec", "box", "cat", "/etc/hostname"]));
    // Environment: run's -e, exec's -e on top.
    assert_eq!(e.ok(&["exec", "box", "sh", "-c", "echo $FROM_RUN"]), "1\n");
    assert_eq!(e.ok(&["exec", "-e", "ADDED=2", "-e", "FROM_RUN=3", "box", "sh", "-c", "echo $ADDED $FROM_RUN"]), "2 3\n");
    // User and working directory: the container's unless -u / -w.
    assert_eq!(e.ok(&["exec", "box", "sh", "-c", "id -u; pwd"]), "0\n/\n");
    assert_eq!(e.ok(&["exec", "-u", "1000", "box", "id", "-u"]), "1000\n");
    assert_eq!(e.ok(&["exec", "-u", "root", "box", "id", "-u"]), "0\n");
    assert_eq!(e.ok(&["exec", "-w", "/tmp", "box", "pwd"]), "/tmp\n");
    // A user without the right to a directory cannot work in it.
    e.ok(&["exec", "box", "sh", "-c", "mkdir -m 700 /private"]);
    let o = e.run(&["exec", "-u", "1000", "-w", "/private", "box", "true"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    // No process of an exec is left behind, inside or outside.
    let ps = e.ok(&["exec", "box", "ps", "-o", "pid,comm"]);
    let rest: Vec<&str> = ps.lines().skip(1).map(str::trim).collect();
    assert_eq!(rest.len(), 2, "only PID 1 and ps itself: {ps}");
    assert!(rest[0].starts_with("1 ") && rest[1].ends_with("ps"), "{ps}");
    assert_eq!(exec_processes("box"), 0);
}

#[test]
fn exec_exit_codes_are_dockers() {
    let Some(e) = env() else { return };
    let _c = start(&e, "codes", &["busybox", "sleep", "1000"], "true");
    assert_eq!(e.run(&["exec", "codes", "sh", "-c", "exit 3"]).status.code(), Some(3));
    let o = e.run(&["exec", "codes", "sh", "-c", "kill -TERM $$"]);
    assert_eq!(o.status.code(), Some(143), "a signal N ends the exec with 128+N");
    let o = e.run(&["exec", "codes", "no-such-command"]);
    assert_eq!(o.status.code(), Some(127));
    assert!(stderr(&o).contains("executable file not found"), "{}", stderr(&o));
    let o = e.run(&["exec", "codes", "/etc/passwd"]);
    assert_eq!(o.status.code(), Some(126), "{}", stderr(&o));
    let o = e.run(&["exec", "no-such-container", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("no such container: no-such-container"), "{}", stderr(&o));
    let o = e.run(&["exec", "--privileged", "codes", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("--privileged"), "{}", stderr(&o));
    // -dit: an interactive shell keeps running in the background, on a
    // terminal of its own (and -di on an input that stays open).
    e.ok(&["exec", "-dit", "codes", "sh", "-c", "tty > /tmp/dit-tty; exec sh"]);
    e.ok(&["exec", "-di", "codes", "sh", "-c", "echo started > /tmp/di; exec cat"]);
    let t = std::time::Instant::now();
    while e.ok(&["exec", "codes", "sh", "-c", "cat /tmp/dit-tty /tmp/di 2>/dev/null"]).lines().count() < 2 {
        assert!(t.elapsed() < std::time::Duration::from_secs(10), "the detached commands did not start");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert!(e.ok(&["exec", "codes", "cat", "/tmp/dit-tty"]).starts_with("/dev/pts/"));
    std::thread::sleep(std::time::Duration::from_millis(300));
    let ps = e.ok(&["exec", "codes", "ps", "-o", "args"]);
    assert!(ps.lines().any(|l| l.trim() == "sh") && ps.lines().any(|l| l.trim() == "cat"), "both still run, waiting for input: {ps}");
    let o = e.run(&["exec", "-u", "nobody2", "codes", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("unable to find user nobody2"), "{}", stderr(&o));
    // Values docker refuses: -1 as a uid (it would stay root), a nameless
    // variable, an id outside the container's map, -it without a terminal.
    for (args, code, expect) in [
        (&["-u", "4294967295"][..], 125, "out of range"),
        (&["-u", "0:4294967295"], 125, "out of range"),
        (&["-u", "4000000"], 125, "uid 4000000 is not mapped"),
        (&["-e", "=x"], 125, "invalid environment variable"),
        (&["-it"], 1, "the input device is not a TTY"),
    ] {
        let mut all = vec!["exec"];
        all.extend_from_slice(args);
        all.extend_from_slice(&["codes", "id", "-u"]);
        let o = e.run(&all);
        assert_eq!(o.status.code(), Some(code), "{args:?}: {}{}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(expect) && stdout(&o).is_empty(), "{args:?}: {}{}", stdout(&o), stderr(&o));
    }
}

#[test]
fn exec_into_a_stopped_container_is_refused_clearly() {
    let Some(e) = env() else { return };
    e.ok(&["run", "--name", "done", "busybox", "true"]);
    let o = e.run(&["exec", "done", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("container done is not running"), "{}", stderr(&o));
}

#[test]
fn exec_stdin_tty_and_detach() {
    let Some(e) = env() else { return };
    let _c = start(&e, "io", &["busybox", "sleep", "1000"], "true");
    // -i passes stdin; without it stdin is empty.
    let mut child = e.cmd(&["exec", "-i", "io", "cat"]).stdin(Stdio::piped()).stdout(Stdio::piped()).spawn().unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), b"hi\n").unwrap();
    drop(child.stdin.take());
    let o = child.wait_with_output().unwrap();
    assert_eq!(stdout(&o), "hi\n");
    assert_eq!(e.ok(&["exec", "io", "sh", "-c", "cat; echo end"]), "end\n");
    assert_eq!(e.run(&["exec", "io", "sh", "-c", "test -t 1"]).status.code(), Some(1), "no terminal without -t");

    // -d returns at once with 0; the command's effect appears.
    let o = e.run(&["exec", "-d", "io", "sh", "-c", "sleep 0.2; echo later > /tmp/d"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let deadline = Instant::now() + Duration::from_secs(30);
    while !e.run(&["exec", "io", "test", "-s", "/tmp/d"]).status.success() {
        assert!(Instant::now() < deadline, "the detached command never wrote its file");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(e.ok(&["exec", "io", "cat", "/tmp/d"]), "later\n");
    let o = e.run(&["exec", "-d", "io", "no-such-command"]);
    assert_eq!(o.status.code(), Some(127), "a detached command that cannot start says so");
    // The keeper of a detached command leaves with it.
    let deadline = Instant::now() + Duration::from_secs(30);
    while exec_processes("io") > 0 {
        assert!(Instant::now() < deadline, "a detached exec's keeper outlived its command");
        std::thread::sleep(Duration::from_millis(20));
    }

    // -t under a terminal: a pty of the container's devpts, the command's code.
    let have_script = std::path::Path::new("/usr/bin/script").exists();
    if !common::require(have_script, "script(1) from util-linux to give burrow a terminal") {
        return;
    }
    let cmd = format!(
        "stty cols 91 rows 33; BURROW_ROOT={} {} exec -t io sh -c 'tty; stty size; echo $TERM; exit 4'",
        e.root.display(),
        common::burrow_bin().display()
    );
    let o = std::process::Command::new("script").args(["-qec", &cmd, "/dev/null"]).output().unwrap();
    let out = stdout(&o).replace('\r', "");
    assert!(out.starts_with("/dev/pts/") && out.contains("\n33 91\nxterm\n"), "{out}\n{}", stderr(&o));
    assert_eq!(o.status.code(), Some(4));
}

#[test]
fn exec_has_the_containers_capabilities_and_seccomp() {
    let Some(e) = env() else { return };
    let _c = start(&e, "sec", &["--cap-drop", "NET_RAW", "busybox", "sleep", "1000"], "true");
    let fields = "grep -E '^(CapBnd|CapEff|CapPrm|Seccomp|NoNewPrivs)' /proc/";
    let container = e.ok(&["exec", "sec", "sh", "-c", &format!("{fields}1/status")]);
    let exec = e.ok(&["exec", "sec", "sh", "-c", &format!("{fields}self/status")]);
    assert_eq!(exec, container);
    assert!(container.contains("Seccomp:\t2"), "{container}");
    // A non-root exec ends with no capabilities.
    let user = e.ok(&["exec", "-u", "1000", "sec", "grep", "CapEff", "/proc/self/status"]);
    assert_eq!(user, "CapEff:\t0000000000000000\n");
}

#[test]
fn exec_into_keep_id_and_host_network_containers() {
    let Some(e) = env() else { return };
    let _k = start(&e, "keep", &["--userns=keep-id", "busybox", "sleep", "1000"], "true");
    assert_eq!(e.ok(&["exec", "keep", "id", "-u"]), format!("{}\n", common::uid()));
    assert_eq!(e.ok(&["exec", "keep", "cat", "/proc/1/cmdline"]), "sleep\u{0}1000\u{0}");
    // --network host: the network namespace is the host's and is not joined.
    let _h = start(&e, "hostnet", &["--network", "host", "busybox", "sleep", "1000"], "true");
    assert_eq!(e.ok(&["exec", "hostnet", "cat", "/proc/1/cmdline"]), "sleep\u{0}1000\u{0}");
    let host_ns = std::fs::read_link("/proc/self/ns/net").unwrap();
    let inside = e.ok(&["exec", "hostnet", "readlink", "/proc/self/ns/net"]);
    assert_eq!(inside.trim(), host_ns.to_str().unwrap());
}

/// Everything after the container belongs to the command, as in docker:
/// `-c`, `-e`, `--help` and `--` reach it untouched.
#[test]
fn exec_arguments_after_the_container_are_the_commands() {
    let Some(e) = env() else { return };
    let _c = start(&e, "argv", &["busybox", "sleep", "60"], "true");
    assert_eq!(
        e.ok(&["exec", "-e", "A=1", "argv", "sh", "-c", "echo \"$A\" \"$@\"", "sh", "-e", "--help", "--", "-d"]),
        "1 -e --help -- -d\n"
    );
    let o = e.run(&["exec", "argv", "--help"]);
    assert_eq!(o.status.code(), Some(127), "{}", common::stderr(&o));
    let o = e.run(&["exec", "argv"]);
    assert_eq!(o.status.code(), Some(125), "a command is required: {}", common::stderr(&o));
}
