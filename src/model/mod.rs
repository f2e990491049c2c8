//! The data model: what burrow records about containers, shared by every
//! engine module and depending on none of them.
//!
//! Theory of operation. The modules that act on containers (`container`,
//! `volume`, `process`, `monitor`, `build`) meet in the values they pass
//! and keep, not in each other's code: a container's record and the `run`
//! options inside it (mounts, ports, network, limits, healthcheck, restart
//! policy, exec defaults), ids and digests, timestamps, what `/proc` says
//! about a process, user-defined networks and a container's endpoint on
//! one, the rule for user-given names. Those live here, in a leaf that
//! imports nothing from the rest of the crate, so that every engine module
//! may depend on them and nothing they hold drags a second module along. Behaviour (locks,
//! files, kernel calls, parsing of flags) stays with the module that owns
//! it, as further `impl` blocks there where a type needs one.

pub mod digest;
pub mod exec;
pub mod health;
pub mod id;
pub mod idmap;
pub mod limits;
pub mod logs;
pub mod mount;
pub mod name;
pub mod net;
pub mod network;
pub mod port;
pub mod procfs;
pub mod record;
pub mod restart;
pub mod run;
pub mod time;
pub mod volume;

pub use digest::Digest;
pub use id::{ContainerId, NetworkId};
pub use mount::{UserMount, UserMountKind};
pub use network::{Endpoint, Network};
pub use port::PublishedPort;
pub use record::{Record, Status};
pub use run::RunOptions;
pub use time::Timestamp;
