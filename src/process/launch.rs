//! The parent side of a container: clone, release, proxy, wait.
//!
//! `burrow run` is already root in burrow's user namespace. It clones the
//! container's first process straight into new mount, pid, uts, ipc,
//! network and cgroup namespaces (plus a nested user namespace for
//! keep-id, whose maps it writes before opening the gate), moves it
//! into its cgroup (`limits`) and opens its network namespace before the
//! gate too: after the gate the workload may exit at any moment, so
//! nothing after it reads `/proc/<child>`. The clone is the
//! raw system call without a new stack, which behaves like fork(2); it must
//! happen while this process is single-threaded, so the signal-forwarding
//! thread starts only afterwards. Signals that reach `burrow run` (TERM,
//! INT, HUP, QUIT, USR1, USR2) are forwarded to the container; WINCH
//! resizes its terminal. The exit code is the container's, or 128+N when a
//! signal N ended it.

use std::os::fd::OwnedFd;

use nix::sys::signal::{kill, Signal};
use nix::sys::wait::{waitpid, WaitStatus};
use nix::unistd::Pid;
use signal_hook::consts::{SIGHUP, SIGINT, SIGQUIT, SIGTERM, SIGUSR1, SIGUSR2, SIGWINCH};
use signal_hook::iterator::Signals;

use super::channel::{self, ErrorPipe, FdRole, Gate};
use super::init::{child_main, ChildEnds};
use super::{tty, BridgeJoin, Error, Exit, Result, Spec};

/// The container's network, to be served once its TAP device exists:
/// the stack's options and the host ports already bound.
pub struct NetStart {
    pub options: burrow_netstack::Options,
    pub published: Vec<burrow_netstack::Published>,
}

/// Run `spec` as a container in the foreground and wait for it, serving
/// its root with burrow-fs over `root` (see `fuse_root`) and, with `net`,
/// its network with burrow-netstack; `started` learns the container's
/// host pid once its command runs.
pub fn launch(spec: Spec, root: burrow_fs::Config, net: Option<NetStart>, started: &mut dyn FnMut(Pid)) -> Result<Exit> {
    let Gate { wait_end, open_end } = Gate::new()?;
    let ErrorPipe { read_end, write_end } = ErrorPipe::new()?;
    let (tty_parent, tty_child) = tty_channel(spec.tty)?;
    let flags = clone_flags(&spec);
    let joined = match &spec.network {
        super::NetSpec::Join(fd) => Some(fd.clone()),
        _ => None,
    };
    let bridge = match &spec.network {
        super::NetSpec::Bridge(b) => Some(b.clone()),
        _ => None,
    };
    let (published, holds) = bridge.as_deref().map(BridgeJoin::take_for_parent).unwrap_or_default();
    let (fuse_parent, fuse_child) = channel::fd_channel()?;
    let (tty_on, stdin_on) = (spec.tty, spec.stdin);
    let (tty_sink, tty_source) = terminal_ends(&spec)?;
    let threads = thread_count();
    if threads > 1 {
        return Err(Error::Threads { count: threads });
    }
    // Catch the forwarded signals before the child exists, so one sent as
    // soon as the container runs is not lost (or fatal to burrow). The
    // handlers only write to a pipe; the child's are reset by execve.
    let signals =
        Signals::new([SIGTERM, SIGINT, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2, SIGWINCH]).map_err(|source| Error::Channel { source })?;
    let nested = spec.nested_userns.clone();
    let cgroup = spec.cgroup.clone();
    // `--network container:`: the child is cloned from inside the other
    // container's namespace, so it is born there, even into a nested
    // keep-id user namespace that could not join it later. This process
    // stays there too: it serves no network for this container, and it
    // could not go back (the host's namespace is not burrow's to enter).
    if let Some(target) = &joined {
        nix::sched::setns(target, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|source| Error::Join { ns: "net", source })?;
    }
    // SAFETY: clone without CLONE_VM and without a new stack duplicates the
    // process like fork(2); burrow is single-threaded at this point.
    let ret = unsafe { libc::syscall(libc::SYS_clone, (flags | libc::SIGCHLD) as libc::c_ulong, 0usize, 0usize, 0usize, 0usize) };
    if ret < 0 {
        return Err(Error::Clone { source: nix::Error::last() });
    }
    if ret == 0 {
        drop((open_end, read_end, tty_parent, fuse_parent, published, holds));
        child_main(spec, wait_end, ChildEnds { errors: write_end, tty: tty_child, fuse: Some(fuse_child) });
    }
    let child = Pid::from_raw(ret as i32);
    drop((wait_end, write_end, tty_child, fuse_child));
    drop(spec);
    // Before the gate: the child is still root of burrow's namespace (the
    // host user), the only uid a v1 cgroup lets us move. Its network
    // namespace is held now too, while the child surely lives in it: after
    // the gate, a workload as short as `true` may have exited (and its
    // namespace gone) before its TAP device arrives.
    let prepared = cgroup
        .as_ref()
        .map_or(Ok(()), |c| c.attach(child.as_raw()).map_err(Error::from))
        .and_then(|_| bridge.map_or(Ok(None), |b| plug(child, &b, published)))
        .inspect(|_| drop(holds))
        .and_then(|publication| Ok((publication, net.as_ref().map(|_| open_netns(child)).transpose()?)));
    let (publication, netns) = match prepared {
        Ok(p) => p,
        Err(e) => {
            let _ = kill(child, Signal::SIGKILL);
            let _ = waitpid(child, None);
            return Err(e);
        }
    };

    let mut serving = None;
    let mut network = None;
    let mut config = Some(root);
    let mut net = net.zip(netns);
    let terminal = Terminal { sock: tty_parent, stdin: stdin_on, tty: tty_on, sink: tty_sink, source: tty_source };
    let result = supervise(child, nested, open_end, read_end, terminal, signals, started, &mut || {
        if let Some(c) = config.take() {
            serving = super::fuse_root::receive_and_serve(&fuse_parent, c)?;
        }
        if let (Some((n, ns)), Some(_)) = (net.take(), &serving) {
            network = serve_network(&fuse_parent, n, ns)?;
        }
        Ok(())
    });
    if let Some(n) = network {
        // The stack logs its counters itself as it stops.
        n.stop();
    }
    if let Some(s) = serving {
        s.finish();
    }
    // Its ports are free again once this returns.
    drop(publication);
    result
}

/// The channel the child sends its pty master over (with -t).
fn tty_channel(tty: bool) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    if !tty {
        return Ok((None, None));
    }
    let (a, b) = channel::fd_channel()?;
    Ok((Some(a), Some(b)))
}

impl super::BridgeJoin {
    /// What only the parent may keep across the clone: the published
    /// ports of a container on a user-defined network (they go to the
    /// network's holder once it is plugged in, so the holder's copies are
    /// the only ones left) and the networks' start locks (dropped once the
    /// container is plugged in). The child closes its copies at once: with
    /// --init its first process never execs, and a copy of a start lock
    /// would hold up every later start on the network.
    fn take_for_parent(&self) -> (Vec<burrow_netstack::Published>, Vec<std::fs::File>) {
        let published = std::mem::take(&mut *self.published.lock().unwrap_or_else(|p| p.into_inner()));
        let holds = self.plugs.iter().filter_map(|p| p.hold.lock().unwrap_or_else(|e| e.into_inner()).take()).collect();
        (published, holds)
    }
}

/// Plug the waiting child's namespace into its networks' bridges: its
/// `eth0` (and `eth1`... on further networks) exist, addressed and
/// routed, before its command runs; its published ports are served by
/// the first network's holder from then on, for as long as the returned
/// publication lives.
fn plug(child: Pid, b: &super::BridgeJoin, ports: Vec<burrow_netstack::Published>) -> Result<Option<crate::network::publish::Publication>> {
    use std::os::fd::AsFd;
    let ns = open_netns(child)?;
    for p in &b.plugs {
        crate::network::holder::attach(p.holder.as_fd(), ns.as_fd(), &p.endpoint)?;
    }
    let Some(first) = b.plugs.first().filter(|_| !ports.is_empty()) else { return Ok(None) };
    let target = std::net::IpAddr::V4(first.endpoint.addr);
    Ok(Some(crate::network::publish::publish(&first.dir, target, ports)?))
}

/// The namespaces the container's first process is cloned into: all but
/// the network with `--network host` or `container:` (it shares one), and
/// a nested user namespace for keep-id.
fn clone_flags(spec: &Spec) -> libc::c_int {
    let mut flags = libc::CLONE_NEWNS | libc::CLONE_NEWPID | libc::CLONE_NEWUTS | libc::CLONE_NEWIPC | libc::CLONE_NEWCGROUP;
    if !matches!(spec.network, super::NetSpec::Host | super::NetSpec::Join(_)) {
        flags |= libc::CLONE_NEWNET;
    }
    if spec.nested_userns.is_some() {
        flags |= libc::CLONE_NEWUSER;
    }
    flags
}

/// A detached container's terminal output goes to its log pipe, and its
/// input (with -i) comes from its stdin pipe (what `attach` writes).
fn terminal_ends(spec: &Spec) -> Result<(Option<OwnedFd>, Option<OwnedFd>)> {
    let sink = match (&spec.detached, spec.tty) {
        (Some(d), true) => Some(d.stdout.try_clone().map_err(|source| Error::Channel { source })?),
        _ => None,
    };
    let source = match (&spec.detached, spec.tty) {
        (Some(super::Detached { stdin: Some(i), .. }), true) => Some(i.try_clone().map_err(|source| Error::Channel { source })?),
        _ => None,
    };
    Ok((sink, source))
}

/// The network namespace `child` was cloned into; only while the child
/// cannot have exited (it waits at the gate).
fn open_netns(child: Pid) -> Result<std::fs::File> {
    std::fs::File::open(format!("/proc/{child}/ns/net")).map_err(|source| Error::Channel { source })
}

/// Receive the TAP descriptor the child made and start the stack on it,
/// in `netns`; `None` when the child failed first (it says why on the
/// error pipe).
fn serve_network(sock: &OwnedFd, net: NetStart, netns: std::fs::File) -> Result<Option<burrow_netstack::Handle>> {
    let Some(tap) = channel::recv_fd(sock, FdRole::Tap)? else {
        return Ok(None);
    };
    Ok(Some(burrow_netstack::start(tap, Some(netns), net.options, net.published)?))
}

/// How many threads this process has (the clone needs exactly one).
fn thread_count() -> usize {
    std::fs::read_dir("/proc/self/task").map(|d| d.count()).unwrap_or(1)
}

/// The container's terminal as the parent sees it.
pub(super) struct Terminal {
    /// Where the child sends the pty master (with -t).
    pub(super) sock: Option<OwnedFd>,
    /// -i: copy the caller's stdin to the terminal.
    pub(super) stdin: bool,
    /// -t
    pub(super) tty: bool,
    /// Detached: copy the terminal's output here, not to the caller.
    pub(super) sink: Option<OwnedFd>,
    /// Detached with -i: copy this into the terminal, not the caller's stdin.
    pub(super) source: Option<OwnedFd>,
}

/// Release `child` at its gate, proxy its terminal and signals, wait;
/// also `join`'s parent side for `burrow exec`.
#[allow(clippy::too_many_arguments)]
pub(super) fn supervise(
    child: Pid,
    nested: Option<crate::userns::Mapping>,
    mut open_end: std::fs::File,
    mut read_end: std::fs::File,
    terminal: Terminal,
    mut signals: Signals,
    started: &mut dyn FnMut(Pid),
    serve_root: &mut dyn FnMut() -> Result<()>,
) -> Result<Exit> {
    let released = nested
        .as_ref()
        .map_or(Ok(()), |m| crate::userns::write_nested_maps(child, m).map_err(Error::from))
        .and_then(|_| channel::open_gate(&mut open_end));
    // The child mounts its root first thing after the gate; serve it.
    if let Err(e) = released.and_then(|_| serve_root()) {
        let _ = kill(child, Signal::SIGKILL);
        let _ = waitpid(child, None);
        return Err(e);
    }

    let mut raw_mode = None;
    let mut output = None;
    let mut master = None;
    let Terminal { sock: tty_parent, stdin: stdin_on, tty: tty_on, sink, source } = terminal;
    if let Some(sock) = &tty_parent {
        if let Some(m) = channel::recv_fd(sock, FdRole::Terminal)? {
            if sink.is_none() {
                tty::copy_winsize(&m);
            }
            let _ = nix::unistd::write(sock, b"1");
            if let Some(from) = source {
                tty::copy_in(from, &m).map_err(|source| Error::Channel { source })?;
            }
            output = Some(
                match sink {
                    Some(to) => tty::copy_out(&m, to),
                    None => {
                        raw_mode = Some(tty::RawMode::enter());
                        tty::proxy(&m, stdin_on)
                    }
                }
                .map_err(|source| Error::Channel { source })?,
            );
            master = Some(m);
        }
    }
    if let Some((class, message)) = channel::read_report(&mut read_end) {
        let _ = waitpid(child, None);
        drop(raw_mode);
        return Err(Error::Child { class, message });
    }

    started(child);
    let handle = signals.handle();
    let resize_fd = master.as_ref().and_then(|m| m.try_clone().ok());
    let forwarder = std::thread::spawn(move || {
        for sig in signals.forever() {
            if sig == SIGWINCH {
                if let Some(m) = &resize_fd {
                    tty::copy_winsize(m);
                }
                if !tty_on {
                    let _ = kill(child, Signal::SIGWINCH);
                }
                continue;
            }
            if let Ok(s) = Signal::try_from(sig) {
                let _ = kill(child, s);
            }
        }
    });

    let code = loop {
        match waitpid(child, None) {
            Ok(WaitStatus::Exited(_, code)) => break code,
            Ok(WaitStatus::Signaled(_, sig, _)) => break 128 + sig as i32,
            Ok(_) => continue,
            Err(nix::errno::Errno::EINTR) => continue,
            Err(source) => return Err(Error::Wait { source }),
        }
    };
    handle.close();
    let _ = forwarder.join();
    drop(master);
    if let Some(out) = output {
        let _ = out.join();
    }
    drop(raw_mode);
    Ok(Exit { code })
}
