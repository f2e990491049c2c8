//! Ids of the things burrow keeps.

use serde::{Deserialize, Serialize};

/// A container id: 64 lowercase hex digits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(transparent)]
pub struct ContainerId(String);

impl ContainerId {
    pub fn random() -> ContainerId {
        ContainerId(random_hex64())
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 12-digit form docker prints.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

/// 64 random lowercase hex digits (the clock's nanoseconds if the kernel
/// has no randomness to give).
fn random_hex64() -> String {
    let mut b = [0u8; 32];
    getrandom::getrandom(&mut b).unwrap_or_else(|_| {
        let t = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default();
        b[..16].copy_from_slice(&t.as_nanos().to_le_bytes());
    });
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// A user-defined network's id: 64 lowercase hex digits, as docker's.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Hash)]
#[serde(transparent)]
pub struct NetworkId(String);

impl NetworkId {
    pub fn random() -> NetworkId {
        NetworkId(random_hex64())
    }
    /// An id given as text (a built-in network's fixed id); None unless
    /// it is 64 lowercase hex digits.
    pub fn parse(text: &str) -> Option<NetworkId> {
        (text.len() == 64 && text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))).then(|| NetworkId(text.to_string()))
    }
    pub fn as_str(&self) -> &str {
        &self.0
    }
    /// The 12-digit form `network ls` prints.
    pub fn short(&self) -> &str {
        &self.0[..12]
    }
}

impl std::fmt::Display for NetworkId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::fmt::Display for ContainerId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}
