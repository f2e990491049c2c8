//! User namespaces: which ids burrow maps, and entering the namespace.
//!
//! burrow runs every command that touches container-owned files inside a
//! user namespace of its own making, where the invoking user is root and the
//! user's subordinate ids (`/etc/subuid`, `/etc/subgid`) are the other
//! container ids. The maps are written by the setuid helpers `newuidmap` and
//! `newgidmap` (shadow-utils), the only rootless way to map more than one id.
//! Without a range or without the helpers burrow falls back to mapping the
//! user alone to root, says so, and squashes other owners to root.
//!
//! The decision of which maps to use is pure (`plan`, in `plan.rs`) and unit
//! tested; `enter.rs` is the thin part that calls `unshare(2)` and the
//! helpers. `keep-id` containers get a nested namespace whose maps are
//! computed here too (`plan::keep_id`), written directly from the outer one.
//! See user_namespaces(7), newuidmap(1), subuid(5).

mod enter;
pub mod pause;
mod plan;
mod subid;

pub use enter::{current, detect, enter, enter_burrow, find_helper, inside, of_process, write_nested_maps, Entered, InUserns};
pub use plan::{keep_id, plan, HostIds, IdMap, Mapping, MappingKind, Plan};
pub use subid::{parse_subid, SubidRange};

use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot read {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("cannot create a user namespace: {source}; check that unprivileged user namespaces are enabled (sysctl kernel.unprivileged_userns_clone=1, user.max_user_namespaces > 0)")]
    Unshare { source: nix::Error },
    #[error(
        "{helper} failed ({status}): {stderr}; check /etc/subuid and /etc/subgid, or set BURROW_USERNS=single-id to map only your own ids"
    )]
    Helper { helper: &'static str, status: String, stderr: String },
    #[error("cannot run {helper}: {source}; install the uidmap package")]
    Spawn { helper: &'static str, source: std::io::Error },
    #[error("cannot write {path}: {source}")]
    WriteMap { path: PathBuf, source: std::io::Error },
    #[error("cannot become root in the new user namespace: {source}")]
    SetId { source: nix::Error },
    #[error("cannot fork the id-map helper: {source}")]
    Fork { source: nix::Error },
    #[error("--userns=keep-id needs a subordinate id range: {reason}")]
    KeepIdNeedsRange { reason: String },
    #[error("the user namespace was entered but this process still sees the host's id maps (an engine bug)")]
    NotEntered,
    #[error("cannot lock the shared user namespace's gate file: {source}")]
    Gate { source: nix::Error },
}

pub type Result<T> = std::result::Result<T, Error>;
