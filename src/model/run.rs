//! The `run` flags a container was created with, and what its image's
//! config says about running it. `create` writes them into the record;
//! `start` and restarts read them back, so every field serializes.

use std::path::PathBuf;

use super::health::Check;
use super::idmap::Mapping;
use super::limits::Request;
use super::logs::LogConfig;
use super::net::NetworkRequest;
use super::restart::Policy;
use super::volume::{MountRequest, VolumesFrom};

/// What the image's config says about running it.
#[derive(Debug, Clone, Default)]
pub struct ImageDefaults {
    pub env: Vec<String>,
    pub entrypoint: Vec<String>,
    pub cmd: Vec<String>,
    pub workdir: String,
    pub user: String,
    /// ExposedPorts keys (`80/tcp`), for `-P`.
    pub exposed: Vec<String>,
    /// The image's STOPSIGNAL, empty for SIGTERM.
    pub stop_signal: String,
    /// VOLUME entries: anonymous volumes unless a mount covers them.
    pub volumes: Vec<String>,
}

/// The `run` flags burrow implements. Kept in the container's record
/// (`create` writes them, `start` and restarts read them), so every field
/// must serialize.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize)]
pub struct RunOptions {
    pub image: String,
    pub command: Vec<String>,
    pub name: Option<String>,
    pub rm: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub entrypoint: Option<String>,
    pub hostname: Option<String>,
    /// `--domainname`: the container's NIS domain name (and, on a
    /// user-defined network, `HOSTNAME.DOMAINNAME` in the network's DNS).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domainname: Option<String>,
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub init: bool,
    /// `--userns=keep-id`: the maps of burrow's own namespace, to nest in.
    pub keep_id: Option<KeepId>,
    pub network: NetworkRequest,
    /// `--restart`.
    #[serde(default)]
    pub restart: Policy,
    /// `--log-driver` and `--log-opt`.
    #[serde(default)]
    pub log: LogConfig,
    /// `--stop-signal` (else the image's STOPSIGNAL, else SIGTERM).
    #[serde(default)]
    pub stop_signal: Option<String>,
    /// `--stop-timeout` in seconds (else 10).
    #[serde(default)]
    pub stop_timeout: Option<u32>,
    /// `-v`, `--mount`, `--tmpfs` (parsed by `volume::spec`).
    #[serde(default)]
    pub mounts: Vec<MountRequest>,
    #[serde(default)]
    pub volumes_from: Vec<VolumesFrom>,
    /// The healthcheck (flags over the image's HEALTHCHECK), if any.
    #[serde(default)]
    pub health: Option<Check>,
    /// `--memory`, `--cpus`, `--ulimit`... (`limits`).
    #[serde(default)]
    pub limits: Request,
    /// Container labels (`compose` sets docker compose's
    /// `com.docker.compose.*` ones; `inspect` shows them in Config.Labels).
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub labels: std::collections::BTreeMap<String, String>,
}

impl RunOptions {
    /// The signal `stop` sends first: the flag, the image's, SIGTERM.
    pub fn stop_signal(&self, defaults: &ImageDefaults) -> String {
        self.stop_signal.clone().filter(|s| !s.is_empty()).unwrap_or_else(|| {
            if defaults.stop_signal.is_empty() {
                "SIGTERM".into()
            } else {
                defaults.stop_signal.clone()
            }
        })
    }
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeepId {
    pub outer: Mapping,
    pub uid: u32,
    pub gid: u32,
}
