//! `--log-driver` and `--log-opt` as a container's record keeps them
//! (parsed by `container::logs`).

use serde::{Deserialize, Serialize};

/// `--log-driver` and `--log-opt`, kept in the container's record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogConfig {
    /// false for `--log-driver none`: output is dropped, `logs` refuses.
    pub enabled: bool,
    /// Rotate when the live file would grow beyond this many bytes.
    pub max_size: u64,
    /// How many files to keep, the live one included.
    pub max_files: u32,
}

impl Default for LogConfig {
    fn default() -> LogConfig {
        LogConfig { enabled: true, max_size: 10 << 20, max_files: 3 }
    }
}
