//! One user namespace for all of a user's burrow processes, held by a
//! pause process while any of them lives.
//!
//! Each burrow command used to enter a user namespace of its own, with the
//! same maps. Sibling namespaces cannot reach each other's resources: one
//! command could not join (or even open) the network namespace of a
//! container another command started, so `--network container:`, and
//! networks that many containers join, need every process in one
//! namespace. So, as rootless podman does, the first command makes the
//! namespace and forks a pause process that stays in it; later commands
//! join it with `setns(2)` (which the user may do: as the namespace's
//! owner, in its parent namespace, they hold every capability in it) and
//! need no `newuidmap` at all.
//!
//! The pause process is no daemon: it leaves once it is alone in the
//! namespace (no container, monitor, network holder or command in it),
//! checking every few seconds. Files, in the runtime directory, keyed by
//! the maps (so `BURROW_USERNS=single-id` gets a namespace of its own):
//! `userns-KEY.lock`, held with `flock` by the pause process for its life
//! (so it is alive exactly while the lock is held, even after SIGKILL),
//! `userns-KEY.pid`, and `userns-KEY.gate`, which commands hold shared
//! while they join or create and the pause process takes exclusively
//! before it leaves, so it never leaves under a command that is joining.
//! If joining fails for any reason, the command makes a namespace of its
//! own as before: correct for everything but what needs sharing.

use std::fs::{File, OpenOptions};
use std::os::fd::{AsRawFd, OwnedFd};
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use nix::fcntl::{Flock, FlockArg};
use nix::sched::{setns, CloneFlags};

use super::plan::{Mapping, Plan};
use super::{Error, Result};

/// How often the pause process looks whether it is alone.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// The environment variable that hands the pause process its lock.
const LOCK_FD_ENV: &str = "BURROW_PAUSE_LOCK_FD";

/// The files of the namespace for `mapping` in `dir`.
struct Files {
    lock: PathBuf,
    pid: PathBuf,
    gate: PathBuf,
}

impl Files {
    fn of(dir: &Path, mapping: &Mapping) -> Files {
        let text = format!("{}|{}", Mapping::render(&mapping.uid), Mapping::render(&mapping.gid));
        let digest = crate::model::Digest::of_bytes(text.as_bytes());
        let key = &digest.hex()[..12];
        Files {
            lock: dir.join(format!("userns-{key}.lock")),
            pid: dir.join(format!("userns-{key}.pid")),
            gate: dir.join(format!("userns-{key}.gate")),
        }
    }
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).custom_flags(libc::O_CLOEXEC).open(path)
}

/// Join the namespace of a live pause process for `plan`'s maps, or make
/// one (as `enter` does) and leave a pause process in it. Before any
/// thread exists. Creating is done holding the gate exclusively, so two
/// commands that find no pause process at once make one namespace.
pub fn join_or_create(dir: &Path, plan: &Plan) -> Result<()> {
    let files = Files::of(dir, &plan.mapping);
    let gate = crate::private_dir::create(dir).ok().and_then(|_| open(&files.gate).ok());
    let Some(gate) = gate else { return super::enter::enter(plan) };
    let gate = match Flock::lock(gate, FlockArg::LockShared) {
        Ok(_shared) if join(&files).is_ok() => return Ok(()),
        Ok(shared) => shared,
        Err((_, e)) => {
            tracing::debug!(%e, "no shared user namespace: the gate cannot be locked");
            return super::enter::enter(plan);
        }
    };
    // None lives: make it, one command at a time (the lock is the same
    // open file, so this converts the shared lock).
    let gate = match Flock::lock(gate.unlock().map_err(|(_, e)| Error::Gate { source: e })?, FlockArg::LockExclusive) {
        Ok(exclusive) => exclusive,
        Err((_, source)) => return Err(Error::Gate { source }),
    };
    if join(&files).is_ok() {
        return Ok(());
    }
    super::enter::enter(plan)?;
    if let Err(e) = spawn_pause(&files) {
        tracing::debug!(%e, "no pause process: this command's user namespace is its own");
    }
    drop(gate);
    Ok(())
}

/// The live pause process's namespace, joined.
fn join(files: &Files) -> std::io::Result<()> {
    let lock = open(&files.lock)?;
    // Free lock: no pause process lives.
    if let Ok(free) = Flock::lock(lock, FlockArg::LockSharedNonblock) {
        drop(free);
        return Err(std::io::ErrorKind::NotFound.into());
    }
    let pid: i32 = std::fs::read_to_string(&files.pid)?.trim().parse().map_err(|_| std::io::ErrorKind::InvalidData)?;
    let ns = File::open(format!("/proc/{pid}/ns/user"))?;
    setns(&ns, CloneFlags::CLONE_NEWUSER).map_err(std::io::Error::from)
}

/// Fork the pause process into the namespace just made: it takes over the
/// lock (taken here first, so no second command can think none lives) and
/// re-executes itself as `burrow __pause`, so its command line says what
/// it is.
fn spawn_pause(files: &Files) -> std::io::Result<()> {
    // A plain flock(2), not nix's `Flock`, whose drop would unlock the
    // open file the child shares.
    let lock = open(&files.lock)?;
    // SAFETY: flock on a descriptor this function owns.
    if unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    let exe = std::env::current_exe()?;
    let fd = lock.as_raw_fd();
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("__pause").arg(&files.gate).env(LOCK_FD_ENV, fd.to_string()).env_remove("BURROW_LOG");
    cmd.stdin(std::process::Stdio::null()).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null()).current_dir("/");
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            // A session of its own, and the lock kept across exec.
            if libc::setsid() < 0 || libc::fcntl(fd, libc::F_SETFD, 0) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn()?;
    crate::atomic::write(&files.pid, format!("{}\n", child.id()).as_bytes())?;
    // The child holds the lock now (the same open file); closing ours
    // does not release it. The child is never waited for: it is
    // reparented when this command ends.
    drop(lock);
    std::mem::forget(child);
    Ok(())
}

/// The pause process (`burrow __pause GATE`): hold the lock, and leave
/// once no other process is in the namespace. Its exit code.
pub fn main(gate: &Path) -> i32 {
    let held = std::env::var(LOCK_FD_ENV).ok().and_then(|v| v.parse::<i32>().ok());
    std::env::remove_var(LOCK_FD_ENV);
    let Some(fd) = held else { return 2 };
    // SAFETY: the descriptor was handed over by `spawn_pause` across exec
    // and is owned by nothing else in this process.
    let _lock: OwnedFd = unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(fd) };
    let own = namespace_of("self");
    loop {
        std::thread::sleep(IDLE_CHECK);
        if others_in(&own) {
            continue;
        }
        // Leave only while no command is joining (they hold the gate).
        let Ok(file) = open(gate) else { continue };
        if let Ok(_exclusive) = Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            if !others_in(&own) {
                return 0;
            }
        }
    }
}

fn namespace_of(pid: &str) -> Option<PathBuf> {
    std::fs::read_link(format!("/proc/{pid}/ns/user")).ok()
}

/// Whether any process but this one is in namespace `own`.
fn others_in(own: &Option<PathBuf>) -> bool {
    let Some(own) = own else { return true };
    let me = std::process::id().to_string();
    let Ok(entries) = std::fs::read_dir("/proc") else { return true };
    entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .filter(|name| name.bytes().all(|b| b.is_ascii_digit()) && *name != me)
        .any(|pid| namespace_of(&pid).as_ref() == Some(own))
}
