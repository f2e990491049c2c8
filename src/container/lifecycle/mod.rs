//! The lifecycle service: the one door through which a container is
//! created, started, stopped, signalled, renamed, removed, pruned,
//! committed, copied into or out of and exec'd into.
//!
//! The CLI (every container verb), `run --rm`, the monitor, the build's
//! RUN steps and `reconcile` all change containers through these entry
//! points; the modules behind them (`run`, `remove`, `monitor`, `state`,
//! `record`) are the mechanics.
//!
//! Preconditions are types (see `ready`): what creates, starts or removes
//! a container's files takes a [`Ready`], which only [`Checked::enter`]
//! makes: bind sources checked as the caller, then burrow's user
//! namespace entered. What signals a container (`stop`, `kill`, the
//! first phase of `rm -f`) runs in the caller's own namespace, which owns
//! every namespace burrow creates, so it takes no `Ready`; `exec` and
//! `cp` join the container's own namespaces.
//!
//! Lock order, the same for every entry point (and nowhere else):
//!
//! 1. the container's `lifecycle.lock` (`state::lifecycle`), waited for;
//! 2. the store lock (`lock::StoreLock`), waited for;
//! 3. the container's `record.lock`, only for the moment of an update.
//!
//! A command that holds the store lock and wants a container's lifecycle
//! lock (`prune`, `reconcile`) takes it without waiting and skips a busy
//! container, so no two commands ever wait on each other in opposite
//! orders. A running container is one whose `monitor.lock` is held (by
//! its foreground `run` or its monitor); a container being created is one
//! whose `creator.lock` is held (see `state`).

mod ready;
mod signal;

pub use super::Error;
pub use ready::{Checked, Ready};
pub(crate) use signal::kill_locked;
pub use signal::{kill, parse_signal, rename, stop, wait};

use super::cp::{Location, Options as CopyOptions};
use super::monitor;
use super::prune::PruneReport;
use super::record::Record;
use super::remove::{self, Claimed};
use super::{run, Result};
use crate::image::Image;
use crate::model::RunOptions;
use crate::paths::Paths;

/// `create`: the container, not started.
pub fn create(paths: &Paths, ready: &Ready, opts: &RunOptions, image: &Image) -> Result<Record> {
    run::create(paths, opts, image, ready.binds())
}

/// A foreground `run`: create, start in this process with the caller's
/// terminal, wait, record the exit (and with `--rm` remove the container
/// whatever happened). Returns the container's exit code.
pub fn run(paths: &Paths, ready: &Ready, opts: &RunOptions, image: &Image) -> Result<i32> {
    run::run(paths, opts, image, ready.binds())
}

/// `run -d` (or a foreground run with a restart policy): create, and
/// start under a monitor that outlives the command; returns once the
/// container's command runs (or failed to start, with docker's exit code
/// in the error).
pub fn run_detached(paths: &Paths, ready: &Ready, opts: &RunOptions, image: &Image) -> monitor::Result<Record> {
    // Held until the monitor has the container (or failed to start it).
    let (record, _creator) = run::create_for_run(paths, opts, image, ready.binds())?;
    monitor::spawn(paths, &record)?;
    Ok(record)
}

/// `start`: a created or exited container, under a monitor; a running
/// one is left as it is.
pub fn start(paths: &Paths, _ready: &Ready, key: &str) -> monitor::Result<Record> {
    monitor::start(paths, key)
}

/// `rm`, phase one, in the caller's namespace: take the container's
/// lifecycle lock and, with `force`, kill it. Wait for all claimed
/// containers (`Claimed::wait`) before phase two, so teardowns overlap.
pub fn claim(paths: &Paths, key: &str, force: bool) -> Result<Claimed> {
    remove::claim(paths, key, force)
}

/// `rm`, phase two: remove the claimed container (with `volumes`, its
/// anonymous volumes no other container uses).
pub fn remove(paths: &Paths, ready: &Ready, claimed: Claimed, volumes: bool) -> Result<()> {
    remove::remove(paths, claimed, volumes, ready.proof())
}

/// Remove a container this command made and that is not running (a
/// build step's), with the anonymous volumes its image's VOLUMEs made
/// (no other container uses them): a build leaves none behind.
pub fn remove_stopped(paths: &Paths, ready: &Ready, r: &Record) -> Result<()> {
    remove::remove_now(paths, r, true, ready.proof())
}

/// `container prune`: every container not running and not being worked on.
pub fn prune(paths: &Paths, _ready: &Ready) -> Result<PruneReport> {
    super::prune::prune(paths)
}

/// `commit`: the container's changes as a new image.
pub fn commit(paths: &Paths, _ready: &Ready, key: &str, tag: Option<&str>, opts: &CommitOptions) -> Result<crate::image::ImportResult> {
    super::commit::commit(paths, key, tag, opts)
}

/// The supervisor's whole life (`burrow __monitor ID`); its exit code.
pub fn supervise(paths: &Paths, id: &str) -> i32 {
    monitor::main(paths, id)
}

/// `cp` between a container (running or not) and the host.
pub fn cp(paths: &Paths, src: &Location, dst: &Location, opts: CopyOptions) -> Result<()> {
    // A stopped container's files are copied by a child that enters
    // burrow's namespace itself (the caller stays in its own, which owns
    // a running container's).
    super::cp::copy(paths, src, dst, opts, &|| crate::userns::enter_burrow().map(|_| ()))
}

/// Whether the container's supervisor (its `run` or monitor) is alive.
pub fn running(paths: &Paths, r: &Record) -> bool {
    r.monitor_alive(paths)
}

pub use super::commit::CommitOptions;
pub use super::exec::{exec, ExecOptions};
/// A container's output, as its log keeps it (followed by `run -d`
/// attached, `logs -f` and a build's RUN steps).
pub use super::logs::{Entry, Follower};
pub use super::monitor::Error as StartError;
