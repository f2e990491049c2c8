//! `--restart`: the policy a container's record keeps (parsed and applied
//! by `container::restart`).

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(tag = "name", rename_all = "kebab-case")]
pub enum Policy {
    #[default]
    No,
    OnFailure {
        max_retries: Option<u32>,
    },
    Always,
    UnlessStopped,
}
