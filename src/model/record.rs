//! A container's record: what `ps`, `inspect`, `start` and `rm` read.
//!
//! Plain data. `container::record` stores it (`container.json` plus the
//! live fields in `live.bin`) and finds it by name or id.

use serde::{Deserialize, Serialize};

use super::digest::Digest;
use super::exec::ExecDefaults;
use super::id::ContainerId;
use super::mount::UserMount;
use super::network::Endpoint;
use super::port::PublishedPort;
use super::run::RunOptions;
use super::time::Timestamp;
use super::volume::MountPoint;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    Created,
    Running,
    /// Exited, and the restart policy will start it again shortly.
    Restarting,
    Exited,
}

impl Status {
    /// docker's `State.Status` word.
    pub fn word(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Restarting => "restarting",
            Status::Exited => "exited",
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Record {
    pub id: ContainerId,
    pub name: String,
    pub image: String,
    pub image_id: Digest,
    pub command: Vec<String>,
    pub created: Timestamp,
    pub status: Status,
    pub pid: Option<i32>,
    /// The pid's start time (field 22 of /proc/PID/stat), so a reused pid
    /// is not mistaken for the container.
    #[serde(default)]
    pub pid_start: Option<u64>,
    pub exit_code: Option<i32>,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub auto_remove: bool,
    /// Published ports as `burrow port` shows them (`80/tcp -> 0.0.0.0:8080`).
    #[serde(default)]
    pub ports: Vec<PublishedPort>,
    /// The flags the container was created with; `start` and restarts
    /// read them (absent in records of older burrow versions).
    #[serde(default)]
    pub config: Option<RunOptions>,
    /// How often the restart policy has started it again.
    #[serde(default)]
    pub restart_count: u32,
    /// Why the last start failed before the command ran (docker's State.Error).
    #[serde(default)]
    pub error: Option<String>,
    /// Volumes, binds and tmpfs as mounted (`inspect` "Mounts", `rm -v`,
    /// `--volumes-from`, `volume rm`'s in-use check).
    #[serde(default)]
    pub mounts: Vec<MountPoint>,
    /// The same mounts as the container's first process makes them.
    #[serde(default)]
    pub user_mounts: Vec<UserMount>,
    /// Whether the kernel's OOM killer killed a process of the container
    /// in its last run (docker's State.OOMKilled).
    #[serde(default)]
    pub oom_killed: bool,
    /// What `burrow exec` gives a command in this container (set when it starts).
    #[serde(default)]
    pub exec: Option<ExecDefaults>,
    /// Its place on each user-defined network it joins (address, MAC),
    /// chosen when it is created.
    #[serde(default)]
    pub endpoints: Vec<Endpoint>,
}

impl Record {
    /// A record for a container just created: no process yet.
    pub fn created(id: ContainerId, name: String, image: String, image_id: Digest, command: Vec<String>, auto_remove: bool) -> Record {
        Record {
            id,
            name,
            image,
            image_id,
            command,
            created: Timestamp::now(),
            status: Status::Created,
            pid: None,
            pid_start: None,
            exit_code: None,
            started_at: None,
            finished_at: None,
            auto_remove,
            ports: Vec::new(),
            config: None,
            restart_count: 0,
            error: None,
            mounts: Vec::new(),
            user_mounts: Vec::new(),
            oom_killed: false,
            exec: None,
            endpoints: Vec::new(),
        }
    }
}
