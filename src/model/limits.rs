//! The resource limits a container was given (`--memory`, `--cpus`,
//! `--ulimit`...), as its record keeps them; parsing and checking them is
//! `limits::request`'s business, enforcing them `limits::plan`'s.

use serde::{Deserialize, Serialize};

/// Every resource limit of one container, as `run` was given them. Kept
/// in the container's record, so it serializes; `Default` is "no limits".
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Request {
    /// `--memory`, bytes.
    pub memory: Option<u64>,
    /// `--memory-swap`: memory plus swap, bytes.
    pub memory_swap: Option<Swap>,
    /// `--cpus` in billionths of a CPU (docker's NanoCpus).
    pub nano_cpus: Option<u64>,
    /// `--cpu-shares` (relative weight, 1024 is the default).
    pub cpu_shares: Option<u64>,
    /// `--cpuset-cpus` as given ("0-2,4"), checked for syntax.
    pub cpuset_cpus: Option<String>,
    /// `--pids-limit`; `None` is unlimited (docker's 0 and -1).
    pub pids_limit: Option<u64>,
    /// `--blkio-weight`, 10 to 1000.
    pub blkio_weight: Option<u16>,
    /// `--device-{read,write}-{bps,iops}`.
    pub device_rates: Vec<DeviceRate>,
    /// `--ulimit`.
    pub ulimits: Vec<Ulimit>,
    /// `--limits=best-effort`: a limit the host cannot enforce is a warning.
    pub best_effort: bool,
}

/// `--memory-swap`: a total, or -1 for unlimited swap.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Swap {
    Unlimited,
    Total(u64),
}

/// Which of the four device throttles.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Throttle {
    ReadBps,
    WriteBps,
    ReadIops,
    WriteIops,
}

impl Throttle {
    pub fn flag(self) -> &'static str {
        match self {
            Throttle::ReadBps => "--device-read-bps",
            Throttle::WriteBps => "--device-write-bps",
            Throttle::ReadIops => "--device-read-iops",
            Throttle::WriteIops => "--device-write-iops",
        }
    }
}

/// One `--device-*-bps/iops DEVICE:RATE`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeviceRate {
    pub kind: Throttle,
    /// The host device path as given (`/dev/sda`).
    pub path: String,
    /// Bytes or operations per second.
    pub rate: u64,
}

/// One `--ulimit NAME=SOFT[:HARD]`; `u64::MAX` is unlimited.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ulimit {
    pub name: String,
    pub soft: u64,
    pub hard: u64,
}
