//! The container's first process, from clone to execve.
//!
//! Runs in the child of `launch`'s clone, already inside the new
//! namespaces. It waits at the gate until the parent has written any
//! nested id maps (before that it has no usable ids) and moved it into
//! its cgroup, roots a new cgroup namespace there, then mounts its
//! root with FUSE and hands the descriptor to the parent (`fuse_root`),
//! sets up the rest of its mounts (`mounts`) and the hostname, brings up
//! loopback, applies the `--ulimit` rlimits and, with
//! `--init`, forks the workload and stays behind as PID 1 (`pid1`).
//!
//! The workload's last steps are ordered by what each needs: the terminal
//! and the working directory are made while still root; the capability
//! bounding set is dropped while CAP_SETPCAP is held; the seccomp filter is
//! loaded while CAP_SYS_ADMIN is held (docker does not set no_new_privs by
//! default, and without it loading needs that capability); then ids are
//! switched and the final capability sets written (a non-root user ends
//! with none, root with the chosen set); only execve follows. With
//! `--init`, PID 1 gives up every capability and loads the same filter
//! before it starts waiting, so it is no more privileged than the workload. Each failure is reported on the error pipe and ends the
//! process with docker's exit class.

use std::fs::File;
use std::os::fd::OwnedFd;

use nix::unistd::{sethostname, setsid};

use super::channel::{self, report, FdRole};
use super::setup_error::{Result as SetupResult, SetupError};
use super::{caps, exec, mounts, pid1, tty, ExitClass, Spec};

/// Everything the child holds of the parent's channels.
pub struct ChildEnds {
    pub errors: File,
    pub tty: Option<OwnedFd>,
    /// Where the FUSE descriptor of the root goes (`fuse_root`); taken
    /// by `setup`.
    pub fuse: Option<OwnedFd>,
}

/// The child's whole life; never returns.
pub fn child_main(spec: Spec, mut gate: File, mut ends: ChildEnds) -> ! {
    // SAFETY: prctl with integer arguments only.
    unsafe { libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL, 0, 0, 0) };
    if !channel::wait_gate(&mut gate) {
        // The parent went away before releasing us.
        // SAFETY: _exit takes an integer and ends the process at once; no
        // Rust state is observed after it.
        unsafe { libc::_exit(125) }
    }
    drop(gate);
    if let Some(d) = &spec.detached {
        if let Err(e) = detached_stdio(d) {
            fail(&mut ends.errors, ExitClass::Engine, &e.to_string());
        }
    }
    // The parent has moved us into the container's cgroup by now: a new
    // cgroup namespace rooted there shows the container "/" as docker's do.
    // SAFETY: unshare with a flag only.
    if spec.cgroup.is_some() && unsafe { libc::unshare(libc::CLONE_NEWCGROUP) } != 0 {
        let e = std::io::Error::last_os_error();
        fail(&mut ends.errors, ExitClass::Engine, &format!("cannot root the cgroup namespace at the container's cgroup: {e}"));
    }
    let fuse = ends.fuse.take();
    if let Err(e) = fuse.ok_or(SetupError::NoChannel { role: FdRole::FuseRoot }).and_then(|f| setup(&spec, f)) {
        fail(&mut ends.errors, ExitClass::Engine, &e.to_string());
    }
    // Before a --init fork, so the init and the workload share them.
    if let Some(Err(e)) = spec.rlimits.iter().map(|r| r.apply()).find(|r| r.is_err()) {
        fail(&mut ends.errors, ExitClass::Engine, &e.to_string());
    }
    if spec.init {
        // SAFETY: single-threaded child; the forked workload only calls
        // what `workload` calls and then execs.
        match unsafe { nix::unistd::fork() } {
            Ok(nix::unistd::ForkResult::Child) => workload(spec, ends),
            Ok(nix::unistd::ForkResult::Parent { child }) => {
                drop(ends);
                let none = caps::CapSet::empty();
                let _ = caps::drop_bounding(&none);
                if let Some(filter) = &spec.seccomp {
                    let _ = filter.load();
                }
                let _ = caps::apply_final(&none, false);
                pid1::run(child)
            }
            Err(e) => fail(&mut ends.errors, ExitClass::Engine, &format!("cannot fork the workload: {e}")),
        }
    }
    workload(spec, ends)
}

/// Point fds 0, 1 and 2 at a detached container's streams (before the
/// `--init` fork, so PID 1 and the workload share them).
fn detached_stdio(d: &super::Detached) -> SetupResult<()> {
    use std::os::fd::AsRawFd;
    let null;
    let stdin = match &d.stdin {
        Some(fd) => fd.as_raw_fd(),
        None => {
            null = File::open("/dev/null").map_err(|source| SetupError::Open { path: "/dev/null".into(), source })?;
            null.as_raw_fd()
        }
    };
    for (from, to) in [(stdin, 0), (d.stdout.as_raw_fd(), 1), (d.stderr.as_raw_fd(), 2)] {
        // SAFETY: dup2 between descriptors this process owns.
        if unsafe { libc::dup2(from, to) } < 0 {
            return Err(SetupError::Output { source: std::io::Error::last_os_error() });
        }
    }
    Ok(())
}

fn setup(spec: &Spec, sock: OwnedFd) -> SetupResult<()> {
    sethostname(&spec.hostname).map_err(|source| SetupError::Hostname { source })?;
    if let Some(domain) = &spec.domainname {
        // SAFETY: setdomainname reads `len` bytes of a live buffer.
        if unsafe { libc::setdomainname(domain.as_ptr().cast(), domain.len()) } < 0 {
            return Err(SetupError::Domainname { source: nix::errno::Errno::last() });
        }
    }
    mounts::make_private()?;
    super::fuse_root::mount_and_send(&spec.rootfs, spec.root_mode, &sock)?;
    // The network device is made while /dev/net/tun is still the host's;
    // its descriptor follows the root's on the same socket.
    if let super::NetSpec::Tap(plan) = &spec.network {
        let tap = super::tap::create(plan)?;
        channel::send_fd(&sock, FdRole::Tap, &tap).map_err(|source| SetupError::Hand { role: FdRole::Tap, source })?;
    }
    drop(sock);
    mounts::prepare_root(&spec.rootfs, &spec.files, &spec.mounts, spec.devpts_gid)?;
    mounts::pivot(&spec.rootfs)?;
    mounts::harden(spec.read_only)?;
    if matches!(spec.network, super::NetSpec::Host | super::NetSpec::Join(_)) {
        // The host's loopback, or the joined container's, is up and not
        // ours to touch.
        return Ok(());
    }
    mounts::loopback_up()
}

fn fail(errors: &mut File, class: ExitClass, msg: &str) -> ! {
    report(errors, class, msg);
    // SAFETY: immediate exit without unwinding or atexit handlers.
    unsafe { libc::_exit(class.code()) }
}

fn workload(spec: Spec, mut ends: ChildEnds) -> ! {
    let errors = &mut ends.errors;
    if let Err(e) = setsid() {
        fail(errors, ExitClass::Engine, &format!("setsid: {e}"));
    }
    let stdio = if spec.tty {
        tty::attach_child(ends.tty.as_ref())
    } else if !spec.stdin {
        tty::null_stdin()
    } else {
        Ok(())
    };
    if let Err(e) = stdio {
        fail(errors, ExitClass::Engine, &e.to_string());
    }
    if let Err(e) = std::fs::create_dir_all(&spec.cwd).and_then(|_| std::env::set_current_dir(&spec.cwd)) {
        fail(errors, ExitClass::Engine, &format!("cannot change to the working directory {}: {e}", spec.cwd));
    }
    let command = match exec::Command::prepare(&spec.args, &spec.env) {
        Ok(c) => c,
        Err((class, msg)) => fail(errors, class, &msg),
    };
    if let Err(e) = become_workload(&spec) {
        fail(errors, ExitClass::Engine, &e.to_string());
    }
    let (class, msg) = command.execute();
    fail(errors, class, &msg)
}

/// Drop privileges in the order the module comment explains.
fn become_workload(spec: &Spec) -> SetupResult<()> {
    exec::drop_privileges(&spec.caps, spec.seccomp.as_ref(), spec.no_new_privs, spec.uid, spec.gid, &spec.groups)
}
