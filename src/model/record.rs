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

    /// The names this container answers to in the DNS of the network of
    /// its endpoint `e` (docker's `DNSNames`): its name, short id and
    /// aliases there, and its `--hostname`, with `--domainname` also as
    /// `HOSTNAME.DOMAINNAME`.
    pub fn dns_names(&self, e: &Endpoint) -> Vec<String> {
        let mut out = vec![self.name.clone(), self.id.short().to_string()];
        out.extend(e.aliases.iter().cloned());
        let config = self.config.as_ref();
        if let Some(host) = config.and_then(|c| c.hostname.as_deref()).filter(|h| !h.is_empty()) {
            out.push(host.to_string());
            if let Some(domain) = config.and_then(|c| c.domainname.as_deref()).filter(|d| !d.is_empty()) {
                out.push(format!("{host}.{domain}"));
            }
        }
        out.dedup();
        out
    }

    /// Whether `name` (any case) is one of its `dns_names` on `e`, or a
    /// prefix of its id at least as long as a short id.
    pub fn answers_to(&self, e: &Endpoint, name: &str) -> bool {
        (name.len() >= 12 && self.id.as_str().starts_with(&name.to_ascii_lowercase()))
            || self.dns_names(e).iter().any(|n| n.eq_ignore_ascii_case(name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dns_names_are_name_id_aliases_and_hostname() {
        let id = ContainerId::random();
        let mut r = Record::created(id.clone(), "db".into(), "busybox".into(), Digest::of_bytes(b"x"), vec!["true".into()], false);
        let e = Endpoint {
            network: "app".into(),
            ipv4: "10.89.0.2".parse().unwrap(),
            ipv6: None,
            mac: "02:42:0a:59:00:02".parse().unwrap(),
            aliases: vec!["database".into()],
        };
        assert_eq!(r.dns_names(&e), ["db", id.short(), "database"]);
        r.config = Some(RunOptions { hostname: Some("store".into()), domainname: Some("example.org".into()), ..Default::default() });
        assert_eq!(r.dns_names(&e), ["db", id.short(), "database", "store", "store.example.org"]);
        assert!(r.answers_to(&e, "DB") && r.answers_to(&e, "Store.Example.Org") && r.answers_to(&e, &id.as_str()[..20]));
        assert!(!r.answers_to(&e, &id.as_str()[..6]), "a short prefix is not a name");
        assert!(!r.answers_to(&e, "example.org"));
    }
}
