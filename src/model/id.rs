//! Ids of the things burrow keeps.

use serde::{Deserialize, Serialize};

/// A container id: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    pub fn random() -> ContainerId {
        let mut b = [0u8; 32];
        getrandom::getrandom(&mut b).unwrap_or_else(|_| {
            let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
            b[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
        });
        ContainerId(b.iter().map(|x| format!("{x:02x}")).collect())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 12-digit form docker prints.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
