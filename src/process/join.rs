//! `burrow exec`: a new process inside a running container's namespaces.
//!
//! The CLI stays in the host's namespaces until here (a user namespace of
//! its own would be a sibling of the container's, without rights over it).
//! The user owns every namespace burrow created, so from the host it has
//! every capability in them and may `setns(2)` into each. `enter` does
//! this in the only order that works:
//!
//! 1. `/proc/PID` is opened as a directory and the process's start time
//!    read through it, so a reused pid is never joined; the namespace
//!    files are then opened relative to that directory (a different
//!    process behind the same pid would make these opens fail).
//! 2. The process is made non-dumpable: from the moment it joins, the
//!    container's own root could otherwise ptrace it (same uid there)
//!    while it still holds every capability of the container's user
//!    namespace. execve(2) makes the workload dumpable again.
//! 3. The user namespace first (setns(2) refuses a multi-threaded caller,
//!    so nothing may have started a thread before; the nested one of a
//!    keep-id container is simply whatever the container's pid is in),
//!    then ipc, uts, net, cgroup and finally mnt, which also moves the
//!    root and working directory into the container's root (burrow-fs).
//!    A namespace the container shares with the caller (`--network host`)
//!    is left alone: joining it would need rights only the host has.
//!
//! The pid namespace applies to children only, and a process whose
//! children would go to another pid namespace may not start threads, which
//! the caller needs for proxying. So `Joined::spawn` forks a short-lived
//! starter that joins the pid namespace and clones the command with
//! CLONE_PARENT: the command is the caller's own child, to wait for and
//! signal, and the caller stays free to start threads. For `-d` a keeper
//! process takes the starter's place: it stays outside the container (so
//! the container never sees it), and forks and reaps the command. The command's process then waits
//! at a gate while the parent puts it into the container's cgroup, sets
//! up its terminal and stdio and drops to the container's identity in the
//! order `init` uses for a container's workload (bounding set, seccomp,
//! no_new_privs, ids, final capabilities), changes to its working
//! directory as that user, resolves the command and `execve`s. The parent
//! proxies the terminal and signals exactly as for `run` (`launch`'s
//! `supervise`) and returns the exit code (128+N for signal N).
//!
//! This module does not decide anything: the environment, the user and
//! the working directory come in an `ExecSpec` built by the engine
//! (`container::exec`) from what the container recorded at `run`.

use std::fs::File;
use std::os::fd::{AsFd, AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::fs::MetadataExt;

use nix::fcntl::{openat, OFlag};
use nix::sched::{setns, CloneFlags};
use nix::sys::stat::Mode;
use nix::unistd::{fork, setsid, ForkResult, Pid};
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use super::channel::{self, report, ErrorPipe, FdRole, Gate};
use super::setup_error::{Result as SetupResult, SetupError};
use super::{caps, exec, seccomp, tty, Error, Exit, ExitClass, Result};

/// The namespaces joined by `enter`, in order (pid is `spawn`'s).
const NAMESPACES: [(&str, CloneFlags); 6] = [
    ("user", CloneFlags::CLONE_NEWUSER),
    ("ipc", CloneFlags::CLONE_NEWIPC),
    ("uts", CloneFlags::CLONE_NEWUTS),
    ("net", CloneFlags::CLONE_NEWNET),
    ("cgroup", CloneFlags::CLONE_NEWCGROUP),
    ("mnt", CloneFlags::CLONE_NEWNS),
];

/// What the command runs as and with, decided by the engine.
pub struct ExecSpec {
    pub args: Vec<String>,
    pub env: Vec<String>,
    pub cwd: String,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub caps: caps::CapSet,
    pub seccomp: Option<seccomp::Prepared>,
    pub no_new_privs: bool,
    /// The container's `cgroup.procs` files, opened before the mount
    /// namespace was joined (their paths are the host's).
    pub cgroup_procs: Vec<File>,
}

/// How the command's stdio is connected.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stdio {
    /// The caller's stdout and stderr; stdin too when `stdin`.
    Shared { stdin: bool },
    /// A pty from the container's devpts, proxied to the caller.
    Tty { stdin: bool },
    /// `-d`: the caller does not wait; stdout and stderr are /dev/null.
    /// With `tty` the command gets a terminal (whose output is drained),
    /// with `stdin` an input that stays open (nobody writes to it), so an
    /// interactive program keeps running as docker's `exec -dit` does.
    Detached { tty: bool, stdin: bool },
}

/// This process, inside every namespace of the container but its pid
/// namespace (see the module comment).
pub struct Joined {
    pidns: Option<OwnedFd>,
}

/// Join the namespaces of the container whose first process is `pid`,
/// started at `start` (field 22 of /proc/PID/stat). Must be called while
/// the process is single-threaded; afterwards the process sees the
/// container's files, not the host's.
pub fn enter(pid: i32, start: Option<u64>) -> Result<Joined> {
    let gone = || Error::Gone { pid };
    let dir =
        nix::fcntl::open(format!("/proc/{pid}").as_str(), OFlag::O_DIRECTORY | OFlag::O_CLOEXEC, Mode::empty()).map_err(|_| gone())?;
    // SAFETY: `open` just returned this descriptor, owned by nothing else.
    let dir = unsafe { OwnedFd::from_raw_fd(dir) };
    let mut targets = Vec::new();
    for (name, flag) in NAMESPACES.iter().chain(&[("pid", CloneFlags::CLONE_NEWPID)]) {
        let fd = open_in(&dir, &format!("ns/{name}")).map_err(|source| Error::Join { ns: name, source })?;
        let own = std::fs::metadata(format!("/proc/self/ns/{name}")).map_err(|e| Error::Join { ns: name, source: io_errno(&e) })?;
        let theirs = nix::sys::stat::fstat(fd.as_raw_fd()).map_err(|source| Error::Join { ns: name, source })?;
        let shared = (own.dev(), own.ino()) == (theirs.st_dev, theirs.st_ino);
        targets.push((*name, *flag, (!shared).then_some(fd)));
    }
    // Checked after opening: a process that replaced the container's
    // behind a reused pid has another start time, and once the directory
    // is open its files are the first process's or fail to open.
    let now = crate::model::procfs::process_start(pid);
    if now.is_none() || (start.is_some() && now != start) {
        return Err(gone());
    }
    // SAFETY: prctl with integer arguments only.
    if unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) } != 0 {
        return Err(Error::Join { ns: "user", source: nix::Error::last() });
    }
    let mut pidns = None;
    for (name, flag, fd) in targets {
        let Some(fd) = fd else { continue };
        if flag == CloneFlags::CLONE_NEWPID {
            pidns = Some(fd);
            continue;
        }
        setns(fd.as_fd(), flag).map_err(|source| Error::Join { ns: name, source })?;
    }
    Ok(Joined { pidns })
}

fn open_in(dir: &OwnedFd, name: &str) -> nix::Result<OwnedFd> {
    let fd = openat(Some(dir.as_raw_fd()), name, OFlag::O_RDONLY | OFlag::O_CLOEXEC, Mode::empty())?;
    // SAFETY: `openat` just returned this descriptor, owned by nothing else.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

fn io_errno(e: &std::io::Error) -> nix::Error {
    nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO))
}

impl Joined {
    /// Run `spec` in the container and, unless detached, wait for it.
    pub fn spawn(self, mut spec: ExecSpec, stdio: Stdio) -> Result<Exit> {
        let procs = std::mem::take(&mut spec.cgroup_procs);
        let ErrorPipe { mut read_end, write_end } = ErrorPipe::new()?;
        if let Stdio::Detached { tty, stdin } = stdio {
            // SAFETY: single-threaded; the keeper only calls what `keeper` calls.
            match unsafe { fork() }.map_err(|source| Error::Fork { source })? {
                ForkResult::Child => {
                    drop(read_end);
                    keeper(self.pidns, spec, procs, write_end, tty, stdin)
                }
                ForkResult::Parent { .. } => {
                    // The keeper stays behind to reap the command; only its
                    // start is waited for (end of file when it exec'd).
                    drop(write_end);
                    return match channel::read_report(&mut read_end) {
                        Some((class, message)) => Err(Error::Child { class, message }),
                        None => Ok(Exit { code: 0 }),
                    };
                }
            }
        }
        let (tty_on, stdin_on) = match stdio {
            Stdio::Tty { stdin } => (true, stdin),
            Stdio::Shared { stdin } => (false, stdin),
            Stdio::Detached { .. } => (false, false),
        };
        let Gate { wait_end, open_end } = Gate::new()?;
        let (tty_parent, tty_child) = if tty_on {
            let (a, b) = channel::fd_channel()?;
            (Some(a), Some(b))
        } else {
            (None, None)
        };
        let (mut pid_from_starter, pid_to_parent) =
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map(|(r, w)| (File::from(r), File::from(w))).map_err(|source| Error::Fork { source })?;
        // As in `launch`: catch the signals to forward before the child exists.
        let signals =
            Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]).map_err(|source| Error::Channel { source })?;
        // SAFETY: single-threaded; the starter only calls what `starter` calls.
        let starter_pid = match unsafe { fork() }.map_err(|source| Error::Fork { source })? {
            ForkResult::Child => {
                // `signals` stays: its handlers only write to a pipe and
                // execve resets them.
                drop((read_end, open_end, tty_parent, pid_from_starter));
                let stdio = if tty_on { Stdio::Tty { stdin: stdin_on } } else { stdio };
                starter(self.pidns, spec, wait_end, write_end, tty_child, stdio, pid_to_parent)
            }
            ForkResult::Parent { child } => child,
        };
        drop((wait_end, write_end, tty_child, spec, pid_to_parent));
        while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(starter_pid, None) {}
        let mut raw = [0u8; 4];
        if std::io::Read::read_exact(&mut pid_from_starter, &mut raw).is_err() {
            // The starter failed and said why on the error pipe.
            return Err(match channel::read_report(&mut read_end) {
                Some((class, message)) => Error::Child { class, message },
                None => Error::Fork { source: nix::Error::ECHILD },
            });
        }
        let child = Pid::from_raw(i32::from_ne_bytes(raw));
        if let Err(e) = enter_cgroup(child, &procs) {
            let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
            let _ = nix::sys::wait::waitpid(child, None);
            return Err(e);
        }
        // `supervise` opens the gate, then proxies, forwards and waits.
        {
            let terminal = super::launch::Terminal { sock: tty_parent, stdin: stdin_on, tty: tty_on, sink: None, source: None };
            super::launch::supervise(child, None, open_end, read_end, terminal, signals, &mut |_| {}, &mut || Ok(()))
        }
    }
}

/// Put the command into the container's cgroup, while it still has the
/// caller's host uid (a delegated cgroup v1 subtree lets the user move
/// only its own processes) and waits at the gate.
///
/// Its failure fails the exec: the command must not escape the
/// container's limits.
fn enter_cgroup(child: Pid, procs: &[File]) -> Result<()> {
    for mut f in procs {
        std::io::Write::write_all(&mut f, child.as_raw().to_string().as_bytes())
            .map_err(|e| Error::Join { ns: "cgroup", source: nix::Error::from_raw(e.raw_os_error().unwrap_or(libc::EIO)) })?;
    }
    Ok(())
}

/// The process that joins the pid namespace for the command and clones
/// it with CLONE_PARENT, so the command is the caller's own child (the
/// caller cannot join the pid namespace itself: a process whose children
/// go to another pid namespace may not start threads, and the caller
/// needs threads to proxy). Sends the command's pid and exits.
fn starter(
    pidns: Option<OwnedFd>,
    spec: ExecSpec,
    gate: File,
    mut errors: File,
    tty_sock: Option<OwnedFd>,
    stdio: Stdio,
    mut pid_to_parent: File,
) -> ! {
    if let Some(ns) = &pidns {
        if let Err(e) = setns(ns.as_fd(), CloneFlags::CLONE_NEWPID) {
            fail(&mut errors, ExitClass::Engine, &format!("cannot join the container's pid namespace: {e}"));
        }
    }
    // SAFETY: clone without CLONE_VM and without a new stack duplicates
    // the process like fork(2); the starter is single-threaded.
    let ret =
        unsafe { libc::syscall(libc::SYS_clone, (libc::CLONE_PARENT | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if ret < 0 {
        fail(&mut errors, ExitClass::Engine, &format!("cannot start the command: {}", nix::Error::last()));
    }
    if ret == 0 {
        drop(pid_to_parent);
        command(spec, gate, errors, tty_sock, stdio)
    }
    let _ = std::io::Write::write_all(&mut pid_to_parent, &(ret as i32).to_ne_bytes());
    // SAFETY: immediate exit without unwinding or atexit handlers.
    unsafe { libc::_exit(0) }
}

/// `-d`: a process outside the container's pid namespace (so the
/// container never sees it) that starts the command and reaps it.
fn keeper(pidns: Option<OwnedFd>, spec: ExecSpec, procs: Vec<File>, mut errors: File, tty_on: bool, stdin_on: bool) -> ! {
    // SAFETY: naming the process is a plain prctl.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"burrow-exec".as_ptr(), 0, 0, 0) };
    let _ = setsid();
    if let Err(e) = null_stdio() {
        fail(&mut errors, ExitClass::Engine, &e.to_string());
    }
    if let Some(ns) = &pidns {
        if let Err(e) = setns(ns.as_fd(), CloneFlags::CLONE_NEWPID) {
            fail(&mut errors, ExitClass::Engine, &format!("cannot join the container's pid namespace: {e}"));
        }
    }
    let Ok(Gate { wait_end, mut open_end }) = Gate::new() else { fail(&mut errors, ExitClass::Engine, "cannot make the command's gate") };
    let (tty_parent, tty_child) = match tty_on.then(channel::fd_channel).transpose() {
        Ok(Some((a, b))) => (Some(a), Some(b)),
        Ok(None) => (None, None),
        Err(e) => fail(&mut errors, ExitClass::Engine, &e.to_string()),
    };
    // -i without -t: an input pipe this keeper holds open.
    let input = match stdin_on.then(|| nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)).transpose() {
        Ok(p) => p,
        Err(e) => fail(&mut errors, ExitClass::Engine, &format!("cannot make the command's input: {e}")),
    };
    // SAFETY: single-threaded; the child only calls what `command` calls.
    let child = match unsafe { fork() } {
        Ok(ForkResult::Child) => {
            drop((open_end, tty_parent));
            if let Some((r, _)) = &input {
                // SAFETY: dup2 onto fd 0 of a descriptor this process owns.
                if unsafe { libc::dup2(r.as_raw_fd(), 0) } < 0 {
                    fail(&mut errors, ExitClass::Engine, "cannot connect the command's input");
                }
            }
            drop(input);
            command(spec, wait_end, errors, tty_child, Stdio::Detached { tty: tty_on, stdin: stdin_on })
        }
        Ok(ForkResult::Parent { child }) => child,
        Err(e) => fail(&mut errors, ExitClass::Engine, &format!("cannot fork the command: {e}")),
    };
    drop(tty_child);
    drop((wait_end, spec));
    let released =
        enter_cgroup(child, &procs).map_err(|e| e.to_string()).and_then(|_| channel::open_gate(&mut open_end).map_err(|e| e.to_string()));
    if let Err(msg) = released {
        let _ = nix::sys::signal::kill(child, nix::sys::signal::Signal::SIGKILL);
        fail(&mut errors, ExitClass::Engine, &msg);
    }
    // With -t the command sends its terminal's master here: keep it open
    // and drain what the command prints until it closes its side.
    let master = match &tty_parent {
        Some(sock) => match channel::recv_fd(sock, FdRole::Terminal) {
            Ok(Some(m)) => {
                let _ = nix::unistd::write(sock, b"1");
                Some(m)
            }
            _ => None,
        },
        None => None,
    };
    // The command holds the caller's copy of the report pipe until it
    // execs; ours goes now so the caller sees end of file then.
    drop(errors);
    if let Some(m) = master {
        let mut from = File::from(m);
        let mut buf = [0u8; 8192];
        while let Ok(n) = std::io::Read::read(&mut from, &mut buf) {
            if n == 0 {
                break;
            }
        }
    }
    while let Err(nix::errno::Errno::EINTR) = nix::sys::wait::waitpid(child, None) {}
    drop(input);
    // SAFETY: immediate exit without unwinding or atexit handlers.
    unsafe { libc::_exit(0) }
}

fn null_stdio() -> SetupResult<()> {
    let null = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/null")
        .map_err(|source| SetupError::Open { path: "/dev/null".into(), source })?;
    for fd in 0..3 {
        // SAFETY: dup2 onto the standard descriptors.
        if unsafe { libc::dup2(null.as_raw_fd(), fd) } < 0 {
            return Err(SetupError::Dup { source: std::io::Error::last_os_error() });
        }
    }
    Ok(())
}

fn fail(errors: &mut File, class: ExitClass, msg: &str) -> ! {
    report(errors, class, msg);
    // SAFETY: immediate exit without unwinding or atexit handlers.
    unsafe { libc::_exit(class.code()) }
}

/// The command's process, in every namespace of the container; never returns.
fn command(spec: ExecSpec, mut gate: File, mut errors: File, tty_sock: Option<OwnedFd>, stdio: Stdio) -> ! {
    if !channel::wait_gate(&mut gate) {
        // The parent went away before releasing us.
        // SAFETY: _exit takes an integer and ends the process at once; no
        // Rust state is observed after it.
        unsafe { libc::_exit(125) }
    }
    drop(gate);
    if let Err(e) = setsid() {
        fail(&mut errors, ExitClass::Engine, &format!("setsid: {e}"));
    }
    let connected = match stdio {
        Stdio::Tty { .. } => tty::attach_child(tty_sock.as_ref()),
        Stdio::Shared { stdin: false } => tty::null_stdin(),
        Stdio::Shared { stdin: true } | Stdio::Detached { tty: false, .. } => Ok(()),
        Stdio::Detached { tty: true, .. } => tty::attach_child(tty_sock.as_ref()),
    };
    if let Err(e) = connected {
        fail(&mut errors, ExitClass::Engine, &e.to_string());
    }
    drop(tty_sock);
    if let Err(e) = become_user(&spec) {
        fail(&mut errors, ExitClass::Engine, &e.to_string());
    }
    // As the user, so a directory it may not enter stays closed (docker
    // answers a bad -w with 126 as well).
    if let Err(e) = std::env::set_current_dir(&spec.cwd) {
        fail(&mut errors, ExitClass::CannotExecute, &format!("cannot change to the working directory {}: {e}", spec.cwd));
    }
    let (class, msg) = match exec::Command::prepare(&spec.args, &spec.env) {
        Ok(command) => command.execute(),
        Err(failure) => failure,
    };
    fail(&mut errors, class, &msg)
}

/// The container workload's order (`exec::drop_privileges`).
fn become_user(spec: &ExecSpec) -> SetupResult<()> {
    exec::drop_privileges(&spec.caps, spec.seccomp.as_ref(), spec.no_new_privs, spec.uid, spec.gid, &spec.groups)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_user_namespace_comes_first_and_the_mount_namespace_last() {
        // The others need the capabilities the user namespace gives, and
        // after mnt the paths are the container's.
        assert_eq!(NAMESPACES.first().map(|n| n.0), Some("user"));
        assert_eq!(NAMESPACES.last().map(|n| n.0), Some("mnt"));
        assert!(!NAMESPACES.iter().any(|n| n.1 == CloneFlags::CLONE_NEWPID), "pid is joined by the starter only");
    }
}
