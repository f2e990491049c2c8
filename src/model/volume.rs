//! Mounts as a container asks for them (`MountRequest`, parsed from `-v`,
//! `--mount`, `--tmpfs` by `volume::spec`), as its record keeps them once
//! made (`MountPoint`, docker's "Mounts" fields), and a bind source that
//! passed the caller's permission check (`CheckedBind`, `volume::host`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// One mount a container asked for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountRequest {
    /// The cleaned absolute path inside the container.
    pub target: String,
    pub kind: MountKind,
    pub read_only: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum MountKind {
    /// A named volume, or an anonymous one when `name` is `None`.
    Volume {
        name: Option<String>,
        nocopy: bool,
        labels: Vec<(String, String)>,
    },
    /// A host path; `create` makes a missing directory (`-v`), otherwise
    /// a missing source is an error (`--mount type=bind`).
    Bind {
        source: PathBuf,
        create: bool,
    },
    Tmpfs(TmpfsOptions),
}

/// tmpfs(5) options burrow passes on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TmpfsOptions {
    pub size: Option<u64>,
    pub mode: Option<u32>,
    pub uid: Option<u32>,
    pub gid: Option<u32>,
    pub nr_inodes: Option<u64>,
    pub noexec: bool,
}

impl TmpfsOptions {
    /// The data string for mount(2).
    pub fn data(&self) -> String {
        let mut parts = Vec::new();
        if let Some(s) = self.size {
            parts.push(format!("size={s}"));
        }
        if let Some(m) = self.mode {
            parts.push(format!("mode={m:o}"));
        }
        if let Some(u) = self.uid {
            parts.push(format!("uid={u}"));
        }
        if let Some(g) = self.gid {
            parts.push(format!("gid={g}"));
        }
        if let Some(n) = self.nr_inodes {
            parts.push(format!("nr_inodes={n}"));
        }
        parts.join(",")
    }
}

/// `--volumes-from CONTAINER[:ro|rw]`; `read_only` is `None` to keep each
/// mount's own mode.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct VolumesFrom {
    pub container: String,
    pub read_only: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MountType {
    Volume,
    Bind,
    Tmpfs,
}

/// A container's mount as its record keeps it and `inspect` shows it
/// ("Mounts", docker's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MountPoint {
    #[serde(rename = "Type")]
    pub kind: MountType,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Source")]
    pub source: String,
    #[serde(rename = "Destination")]
    pub destination: String,
    #[serde(rename = "Driver", default, skip_serializing_if = "Option::is_none")]
    pub driver: Option<String>,
    #[serde(rename = "Mode")]
    pub mode: String,
    #[serde(rename = "RW")]
    pub rw: bool,
    #[serde(rename = "Propagation")]
    pub propagation: String,
}

/// A bind source that passed the caller's permission check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CheckedBind {
    pub path: PathBuf,
    pub dev: u64,
    pub ino: u64,
    pub is_dir: bool,
}
