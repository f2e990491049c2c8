//! Resource limits: docker's `run` flags enforced through cgroups the
//! host delegates to the user, and rlimits.
//!
//! Theory of operation. `request` parses the flags (docker's units and
//! rules) into a `Request`, which the container's record keeps. `host`
//! finds what this user may use (thin, reads /sys/fs/cgroup or
//! `$BURROW_CGROUP_ROOT`): a delegated cgroup v2 subtree
//! (`burrow.slice/$USER` as packaging/provision.sh makes it, or the user's
//! own systemd-delegated cgroup) or delegated cgroup v1 hierarchies
//! (`<controller>/burrow/$USER`). `plan` is the pure decision: request +
//! host facts → the files to write per controller, or a `Refusal` saying
//! why a limit cannot be enforced here and how to get it. `run` fails on a
//! refusal unless `--limits=best-effort` turns it into a warning; it never
//! ignores a limit silently. `cgroup` is the kernel side: one cgroup
//! `<delegated>/<container id>` per hierarchy, created whenever a
//! delegated subtree exists (so stats and pause work without limits),
//! the container's first process attached right after its clone while
//! it is still the host user (cgroup v1 lets a user move only its own
//! processes), OOM kills read after exit, removed when the container's
//! processes are gone; also stats and the freezer for `pause`. `rlimit`
//! checks `--ulimit` against the user's own hard limits before the
//! container exists and applies them in the container's child before
//! execve. Not here: network accounting (stats show "--"), devices
//! cgroups (the user namespace already confines device access).
//! See cgroups(7), Documentation/admin-guide/cgroup-v1 and cgroup-v2.rst.

mod cgroup;
mod host;
mod plan;
mod request;
mod rlimit;

pub use cgroup::{Cgroup, Stats};
pub use host::{DeviceError, Host, Version};
pub use plan::{plan, probe_each, Controller, Plan, Refusal, Write};
pub use request::{
    parse_blkio_weight, parse_bytes, parse_cpu_list, parse_cpus, parse_device_rate, parse_memory, parse_pids, parse_shares, parse_swap,
    parse_ulimit, DeviceRate, Request, Swap, Throttle, Ulimit, ULIMITS,
};
pub use rlimit::{raise_nofile, Rlimit};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {flag}: {reason}")]
    Invalid { flag: String, reason: String },
    #[error("cannot enforce {limit} here: {reason}; {fix}, or run with --limits=best-effort to go without it")]
    NotEnforceable { limit: String, reason: String, fix: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot write {value:?} to {path}: {source}")]
    Write { path: PathBuf, value: String, source: std::io::Error },
    #[error("cannot move process {pid} into the container's cgroup {path}: {source}{hint}")]
    Attach { pid: i32, path: PathBuf, source: std::io::Error, hint: &'static str },
    #[error("--ulimit {name}: the hard limit {hard} is above your own hard limit {max}; ask for at most {max} (raising it needs root on the host)")]
    UlimitTooHigh { name: String, hard: String, max: String },
    #[error("cannot apply --ulimit {name}: {source}")]
    Setrlimit { name: String, source: std::io::Error },
    #[error("container {id} has no cgroup: no delegated cgroup was found when it started{fix}")]
    NoCgroup { id: String, fix: String },
    #[error("cannot {what} container {id}: the freezer cgroup controller is not delegated to you; {fix}")]
    NoFreezer { what: &'static str, id: String, fix: String },
    #[error("{flag}: cannot use device {path}: {source}")]
    Device { flag: &'static str, path: String, source: DeviceError },
}

impl Error {
    fn invalid(flag: &str, reason: &str) -> Error {
        Error::Invalid { flag: flag.to_string(), reason: reason.to_string() }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Check `request` against this host before anything of the container
/// exists: the limits it cannot enforce, to be printed as warnings
/// (only with `best_effort`); otherwise the first as an error.
pub fn preflight(request: &Request) -> Result<Vec<Refusal>> {
    request.validate()?;
    rlimit::prepare(&request.ulimits)?;
    let host = Host::detect();
    let plan = plan::plan(request, &host, &host::device_numbers)?;
    decide(request, plan.refused)
}

fn decide(request: &Request, refused: Vec<Refusal>) -> Result<Vec<Refusal>> {
    match refused.into_iter().next() {
        Some(first) if !request.best_effort => Err(first.into_error()),
        first => Ok(first.into_iter().collect()),
    }
}

/// What `setup` made for a container.
pub struct Setup {
    /// The container's cgroup; `None` when the host delegates nothing.
    pub cgroup: Option<Cgroup>,
    /// The rlimits for the container's child to apply.
    pub rlimits: Vec<Rlimit>,
}

/// Create container `id`'s cgroup (whenever a delegated subtree exists)
/// and write the limits of `request` it can enforce; a limit it cannot
/// is an error unless `request.best_effort` (then it was warned about by
/// `preflight`).
pub fn setup(request: &Request, id: &str) -> Result<Setup> {
    request.validate()?;
    let rlimits = rlimit::prepare(&request.ulimits)?;
    let host = Host::detect();
    let plan = plan::plan(request, &host, &host::device_numbers)?;
    let refused = plan.refused.clone();
    decide(request, refused)?;
    if host.delegated.is_empty() {
        return Ok(Setup { cgroup: None, rlimits });
    }
    let cgroup = match Cgroup::create(&host, id) {
        Ok(c) => c,
        Err(e) if !request.wants_cgroup() || request.best_effort => {
            tracing::warn!(%e, "running the container without a cgroup (no stats, no pause)");
            return Ok(Setup { cgroup: None, rlimits });
        }
        Err(e) => return Err(e),
    };
    if let Err(e) = cgroup.apply(&plan) {
        let _ = cgroup.remove();
        return Err(e);
    }
    Ok(Setup { cgroup: Some(cgroup), rlimits })
}

/// Whether container `id` is frozen by `burrow pause`.
pub fn is_paused(id: &str) -> bool {
    Cgroup::open(id).is_ok_and(|c| c.is_frozen())
}
