//! The data model: what burrow records about containers, shared by every
//! engine module and depending on none of them.
//!
//! Theory of operation. The modules that act on containers (`container`,
//! `volume`, `process`, `monitor`, `build`) meet in the values they pass
//! and keep, not in each other's code: an id (`ContainerId`), the mounts a
//! container's first process makes (`UserMount`), what `/proc` says about a
//! process (`procfs`). Those live here, in a leaf that imports nothing
//! from the rest of the crate, so that every engine module may depend on
//! them and nothing they hold drags a second module along. Behaviour
//! (locks, files, kernel calls) stays with the module that owns it.

pub mod id;
pub mod mount;
pub mod procfs;

pub use id::ContainerId;
pub use mount::{UserMount, UserMountKind};
