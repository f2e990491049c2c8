//! The preconditions of the lifecycle's entry points, as types.
//!
//! A container's bind sources must be opened and checked with the
//! caller's own permissions (`volume::host`), and that must happen before
//! burrow enters its user namespace, where the process is root and could
//! read what the user cannot. Creating and starting containers, and
//! removing their files, must then happen inside that namespace. So:
//! [`Checked`] holds bind sources checked as the caller, and the only way
//! from outside the library to a [`Ready`] (what those entry points take)
//! is [`Checked::enter`]. A `Ready` proves both: the process is inside the
//! namespace (it holds a `userns::InUserns`) and the binds it carries were
//! checked first. `create` refuses a bind source that is not among them
//! (`volume::attach::prepare`), so a mount cannot slip past the check.

use std::path::Path;

use crate::container::record;
use crate::container::{Error, Result};
use crate::model::run::KeepId;
use crate::model::volume::{MountRequest, MountType, VolumesFrom};
use crate::paths::Paths;
use crate::userns::{Entered, InUserns};
use crate::volume::CheckedBind;

/// Bind sources checked with the caller's own permissions.
#[derive(Debug, Default)]
#[must_use = "enter() turns the check into the Ready the lifecycle takes"]
pub struct Checked {
    binds: Vec<CheckedBind>,
}

impl Checked {
    /// For a new container (`run`, `create`): its `-v`/`--mount` binds and
    /// those of its `--volumes-from` containers; `-v` creates a missing
    /// source directory, as docker does.
    pub fn new_container(paths: &Paths, mounts: &[MountRequest], volumes_from: &[VolumesFrom]) -> Result<Checked> {
        let from = record::mounts_from(paths, volumes_from)?;
        Ok(Checked { binds: crate::volume::host::check_all(mounts, &from)? })
    }

    /// For containers about to start again (`start`, `restart`): the bind
    /// mounts their records keep. A key that finds no container is left
    /// to the start itself to report.
    pub fn existing(paths: &Paths, keys: &[String]) -> Result<Checked> {
        let mut binds = Vec::new();
        for key in keys {
            if let Ok(r) = record::find(paths, key) {
                for m in r.mounts.iter().filter(|m| m.kind == MountType::Bind) {
                    binds.push(crate::volume::host::check(Path::new(&m.source), false)?);
                }
            }
        }
        Ok(Checked { binds })
    }

    /// Nothing to check: the command mounts no host path (`rm`, `prune`,
    /// `commit`).
    pub fn nothing() -> Checked {
        Checked::default()
    }

    /// Enter burrow's user namespace (once per process, before any thread
    /// exists; a process already inside stays there).
    pub fn enter(self) -> Result<Ready> {
        let entered = crate::userns::enter_burrow()?;
        let keep_id = keep_id_of(&entered);
        Ok(Ready { proof: entered.proof, binds: self.binds, fallback: entered.fallback, keep_id })
    }
}

fn keep_id_of(entered: &Entered) -> KeepId {
    // Inside, this process is root; the caller's host ids are what
    // burrow's namespace maps to root.
    let m = &entered.plan.mapping;
    KeepId { uid: m.uid_outside(0).unwrap_or(0), gid: m.gid_outside(0).unwrap_or(0), outer: m.clone() }
}

/// Inside burrow's user namespace, with the bind sources checked before
/// entering: what creating, starting and removing containers take.
#[derive(Debug)]
pub struct Ready {
    proof: InUserns,
    binds: Vec<CheckedBind>,
    fallback: Option<String>,
    keep_id: KeepId,
}

impl Ready {
    /// For code inside the namespace by construction (a build, whose RUN
    /// steps' binds are checked by the build itself as it reads the
    /// Dockerfile, in the namespace it entered for the whole build).
    /// Not reachable from outside the library.
    pub(crate) fn here(binds: Vec<CheckedBind>) -> Result<Ready> {
        let proof = InUserns::here().ok_or(Error::NotInUserns)?;
        let mapping = crate::userns::current();
        let keep_id = KeepId { uid: mapping.uid_outside(0).unwrap_or(0), gid: mapping.gid_outside(0).unwrap_or(0), outer: mapping };
        Ok(Ready { proof, binds, fallback: None, keep_id })
    }

    pub fn proof(&self) -> &InUserns {
        &self.proof
    }

    pub fn binds(&self) -> &[CheckedBind] {
        &self.binds
    }

    /// Why only the user's own ids are mapped, when the user should be told.
    pub fn fallback(&self) -> Option<&str> {
        self.fallback.as_deref()
    }

    /// `--userns=keep-id`: the maps of burrow's namespace, to nest in.
    pub fn keep_id(&self) -> KeepId {
        self.keep_id.clone()
    }
}
