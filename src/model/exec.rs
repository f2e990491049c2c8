//! What a container's record keeps for later `exec`s into it: the
//! environment, user and directory its command got.

use serde::{Deserialize, Serialize};

/// What `run` recorded for later `exec`s into the container.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecDefaults {
    /// The container's environment as its command got it.
    pub env: Vec<String>,
    /// Whether HOME in `env` is the default burrow derived from the
    /// user (so another `-u` user gets its own home instead).
    pub home_from_user: bool,
    pub uid: u32,
    pub gid: u32,
    pub groups: Vec<u32>,
    pub cwd: String,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
}
