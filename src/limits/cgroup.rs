//! One container's cgroup: the thin code that touches cgroupfs.
//!
//! `create` makes `<delegated>/<container id>` in every delegated
//! hierarchy (one directory on v2, where the controllers are first
//! enabled in the delegated directory's cgroup.subtree_control); a new v1
//! cpuset starts empty and refuses tasks, so it gets its parent's CPUs and
//! memory nodes. `apply` writes a `Plan`. `attach` writes a pid into every
//! `cgroup.procs`: on v1 the kernel lets a user move only processes of
//! its own uid, so `burrow run` attaches the container's first process
//! right after the clone, before it takes a mapped id; its children
//! inherit the cgroup. `remove` rmdirs after the container's processes are
//! gone, retrying briefly while the kernel still counts exiting tasks
//! (EBUSY). A `burrow run` killed with SIGKILL cannot remove its cgroup:
//! `reconcile` does when it marks the container exited, and `create`
//! sweeps empty container cgroups older than a minute whose records may
//! be gone. Counters are read from the same files `docker stats` uses.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Serialize;

use super::host::{Host, Version};
use super::plan::{Controller, Plan};
use super::{Error, Result};

/// A container's cgroup, one directory per delegated controller.
#[derive(Debug, Clone)]
pub struct Cgroup {
    id: String,
    version: Version,
    dirs: BTreeMap<Controller, PathBuf>,
    /// Why the freezer is missing, if it is.
    no_freezer: Option<String>,
}

/// What `burrow stats` shows; `None` where the controller is not delegated.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Stats {
    /// Bytes in use, without the inactive file cache (as docker).
    pub memory_usage: Option<u64>,
    /// The memory limit in bytes; `None` when unlimited.
    pub memory_limit: Option<u64>,
    pub cpu_usage_ns: Option<u64>,
    /// Periods in which the CPU quota throttled the container.
    pub cpu_throttled_periods: Option<u64>,
    pub pids_current: Option<u64>,
    pub blkio_read_bytes: Option<u64>,
    pub blkio_write_bytes: Option<u64>,
}

impl Cgroup {
    /// Make container `id`'s cgroup in every hierarchy `host` delegates.
    pub fn create(host: &Host, id: &str) -> Result<Cgroup> {
        sweep(host);
        let mut dirs = BTreeMap::new();
        let mut made: Vec<PathBuf> = Vec::new();
        for (c, parent) in &host.delegated {
            let dir = parent.join(id);
            if !made.contains(&dir) {
                if host.version == Version::V2 {
                    enable_v2_controllers(host, parent);
                }
                if let Err(source) = std::fs::create_dir(&dir) {
                    if source.kind() != std::io::ErrorKind::AlreadyExists {
                        let partial = Cgroup { id: id.into(), version: host.version, dirs, no_freezer: None };
                        let _ = partial.remove();
                        return Err(Error::Io { path: dir, source });
                    }
                }
                made.push(dir.clone());
            }
            dirs.insert(*c, dir);
        }
        let cg = Cgroup { id: id.into(), version: host.version, dirs, no_freezer: None };
        if let (Version::V1, Some(dir)) = (host.version, cg.dirs.get(&Controller::Cpuset)) {
            for f in ["cpuset.cpus", "cpuset.mems"] {
                if let Err(e) = inherit(dir, f) {
                    let _ = cg.remove();
                    return Err(e);
                }
            }
        }
        Ok(cg)
    }

    /// Find the cgroup of container `id` (full id), as `run` made it.
    pub fn open(id: &str) -> Result<Cgroup> {
        let host = Host::detect();
        let dirs: BTreeMap<Controller, PathBuf> =
            host.delegated.iter().map(|(c, p)| (*c, p.join(id))).filter(|(_, d)| d.is_dir()).collect();
        if dirs.is_empty() {
            let fix = if host.delegated.is_empty() {
                format!("; {}", host.missing(Controller::Memory).1.replace("delegate it", "delegate cgroups"))
            } else {
                String::new()
            };
            return Err(Error::NoCgroup { id: id.chars().take(12).collect(), fix });
        }
        let no_freezer = (!dirs.contains_key(&Controller::Freezer)).then(|| host.missing(Controller::Freezer).1);
        Ok(Cgroup { id: id.into(), version: host.version, dirs, no_freezer })
    }

    /// The directories, each once (v1 hierarchies may be mounted together).
    fn unique_dirs(&self) -> Vec<&PathBuf> {
        let mut out: Vec<&PathBuf> = Vec::new();
        for d in self.dirs.values() {
            if !out.contains(&d) {
                out.push(d);
            }
        }
        out
    }

    /// Write the files `plan` decided on.
    pub fn apply(&self, plan: &Plan) -> Result<()> {
        for w in &plan.writes {
            let Some(dir) = self.dirs.get(&w.controller) else {
                return Err(Error::NotEnforceable {
                    limit: w.file.to_string(),
                    reason: format!("no {} cgroup was created", w.controller.v1_name()),
                    fix: "see `burrow info`".into(),
                });
            };
            write(&dir.join(w.file), &w.value)?;
        }
        Ok(())
    }

    /// Move process `pid` (and so its future children) into the cgroup.
    /// Every `cgroup.procs` of the container, opened for writing a pid
    /// into later (`burrow exec` opens them before it joins the
    /// container's mount namespace, where these paths mean something else).
    pub fn procs_files(&self) -> Result<Vec<std::fs::File>> {
        self.unique_dirs()
            .into_iter()
            .map(|dir| {
                let path = dir.join("cgroup.procs");
                std::fs::OpenOptions::new().write(true).open(&path).map_err(|source| Error::Attach {
                    pid: 0,
                    path: path.clone(),
                    source,
                    hint: "",
                })
            })
            .collect()
    }

    pub fn attach(&self, pid: i32) -> Result<()> {
        for dir in self.unique_dirs() {
            let path = dir.join("cgroup.procs");
            std::fs::write(&path, pid.to_string()).map_err(|source| Error::Attach {
                pid,
                path: path.clone(),
                source,
                hint: match self.version {
                    Version::V1 => " (a user may move only its own processes)",
                    Version::V2 => " (on cgroup v2 burrow must run inside the delegated subtree to move processes into it)",
                },
            })?;
        }
        Ok(())
    }

    /// Whether the kernel's OOM killer killed a process of the container.
    pub fn oom_killed(&self) -> bool {
        let Some(dir) = self.dirs.get(&Controller::Memory) else { return false };
        let file = if self.version == Version::V2 { "memory.events" } else { "memory.oom_control" };
        read(dir, file).and_then(|t| keyed(&t, "oom_kill")).is_some_and(|n| n > 0)
    }

    /// The container's counters.
    pub fn stats(&self) -> Stats {
        let d = |c: Controller| self.dirs.get(&c);
        let mut s = Stats::default();
        let v2 = self.version == Version::V2;
        if let Some(dir) = d(Controller::Memory) {
            let (usage, limit, stat, inactive) = if v2 {
                ("memory.current", "memory.max", "memory.stat", "inactive_file")
            } else {
                ("memory.usage_in_bytes", "memory.limit_in_bytes", "memory.stat", "total_inactive_file")
            };
            let cache = read(dir, stat).and_then(|t| keyed(&t, inactive)).unwrap_or(0);
            s.memory_usage = read(dir, usage).and_then(|t| t.trim().parse::<u64>().ok()).map(|u| u.saturating_sub(cache));
            // v1 shows "unlimited" as a huge page-aligned number.
            s.memory_limit = read(dir, limit).and_then(|t| t.trim().parse::<u64>().ok()).filter(|l| *l < 1 << 62);
        }
        if v2 {
            if let Some(dir) = d(Controller::Cpu).or(d(Controller::Cpuacct)) {
                let stat = read(dir, "cpu.stat").unwrap_or_default();
                s.cpu_usage_ns = keyed(&stat, "usage_usec").map(|u| u * 1000);
                s.cpu_throttled_periods = keyed(&stat, "nr_throttled");
            }
        } else {
            s.cpu_usage_ns = d(Controller::Cpuacct).and_then(|dir| read(dir, "cpuacct.usage")).and_then(|t| t.trim().parse().ok());
            s.cpu_throttled_periods = d(Controller::Cpu).and_then(|dir| read(dir, "cpu.stat")).and_then(|t| keyed(&t, "nr_throttled"));
        }
        s.pids_current = d(Controller::Pids).and_then(|dir| read(dir, "pids.current")).and_then(|t| t.trim().parse().ok());
        if let Some(dir) = d(Controller::Io) {
            let (r, w) = if v2 {
                io_stat_v2(&read(dir, "io.stat").unwrap_or_default())
            } else {
                io_service_bytes_v1(&read(dir, "blkio.throttle.io_service_bytes").unwrap_or_default())
            };
            (s.blkio_read_bytes, s.blkio_write_bytes) = (Some(r), Some(w));
        }
        s
    }

    fn freezer(&self, what: &'static str) -> Result<&PathBuf> {
        self.dirs.get(&Controller::Freezer).ok_or_else(|| Error::NoFreezer {
            what,
            id: self.id.chars().take(12).collect(),
            fix: self.no_freezer.clone().unwrap_or_default(),
        })
    }

    /// Freeze every process of the container (`burrow pause`) and wait
    /// until the kernel says they are.
    pub fn freeze(&self) -> Result<()> {
        let dir = self.freezer("pause")?;
        let (file, value) = if self.version == Version::V2 { ("cgroup.freeze", "1") } else { ("freezer.state", "FROZEN") };
        write(&dir.join(file), value)?;
        for _ in 0..200 {
            let done = if self.version == Version::V2 {
                read(dir, "cgroup.events").and_then(|t| keyed(&t, "frozen")) == Some(1)
            } else {
                read(dir, "freezer.state").is_some_and(|s| s.trim() == "FROZEN")
            };
            if done {
                return Ok(());
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = self.thaw();
        Err(Error::Io {
            path: dir.join(file),
            source: std::io::Error::new(std::io::ErrorKind::TimedOut, "the processes did not freeze within 2 s; try again"),
        })
    }

    /// Let the container run again (`burrow unpause`).
    pub fn thaw(&self) -> Result<()> {
        let dir = self.freezer("unpause")?;
        if self.version == Version::V2 {
            write(&dir.join("cgroup.freeze"), "0")
        } else {
            write(&dir.join("freezer.state"), "THAWED")
        }
    }

    /// Whether the container is frozen (or freezing).
    pub fn is_frozen(&self) -> bool {
        let Some(dir) = self.dirs.get(&Controller::Freezer) else { return false };
        if self.version == Version::V2 {
            read(dir, "cgroup.freeze").is_some_and(|t| t.trim() == "1")
        } else {
            read(dir, "freezer.state").is_some_and(|t| t.trim() != "THAWED")
        }
    }

    /// Remove the cgroup; call once the container's processes are gone.
    pub fn remove(&self) -> Result<()> {
        // A v1 memory cgroup removed with page cache still charged to it
        // lingers in the kernel as a dying cgroup until that memory is
        // reclaimed; hundreds of them slow every later cgroup operation.
        // Emptying it first (best effort: it has no tasks any more) lets it
        // go at once.
        if let (Version::V1, Some(mem)) = (self.version, self.dirs.get(&Controller::Memory)) {
            // Opened without create: only the kernel's file is written to.
            if let Ok(mut f) = std::fs::OpenOptions::new().write(true).open(mem.join("memory.force_empty")) {
                let _ = std::io::Write::write_all(&mut f, b"0");
            }
        }
        let mut first = None;
        for dir in self.unique_dirs() {
            let mut tries = 0;
            loop {
                match std::fs::remove_dir(dir) {
                    Ok(()) => break,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => break,
                    Err(e) if e.raw_os_error() == Some(libc::EBUSY) && tries < 100 => {
                        tries += 1;
                        std::thread::sleep(Duration::from_millis(10));
                    }
                    Err(source) => {
                        first.get_or_insert(Error::Io { path: dir.clone(), source });
                        break;
                    }
                }
            }
        }
        first.map_or(Ok(()), Err)
    }

    /// The container id this cgroup belongs to.
    pub fn id(&self) -> &str {
        &self.id
    }
}

/// How old an empty container cgroup must be before `sweep` takes it:
/// a new one is populated within milliseconds of its creation.
const STALE_AFTER: Duration = Duration::from_secs(60);

/// Remove the empty cgroups of containers whose `burrow run` was killed
/// (nothing was left to remove them, and their records may be gone with
/// a deleted store). Only container-named, process-less directories older
/// than `STALE_AFTER` are touched; failures are harmless and only logged.
fn sweep(host: &Host) {
    let mut parents: Vec<&PathBuf> = host.delegated.values().collect();
    parents.dedup();
    for parent in parents {
        let Ok(rd) = std::fs::read_dir(parent) else { continue };
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_container_name(&name) {
                continue;
            }
            let dir = e.path();
            let old = e.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).is_some_and(|a| a > STALE_AFTER);
            let empty = read(&dir, "cgroup.procs").is_some_and(|p| p.trim().is_empty());
            if old && empty {
                match std::fs::remove_dir(&dir) {
                    Ok(()) => tracing::debug!(dir = %dir.display(), "removed a stale container cgroup"),
                    Err(e) => tracing::debug!(%e, dir = %dir.display(), "cannot remove a stale container cgroup"),
                }
            }
        }
    }
}

/// A container id: 64 lowercase hex digits.
fn is_container_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

fn write(path: &Path, value: &str) -> Result<()> {
    std::fs::write(path, value).map_err(|source| Error::Write { path: path.to_path_buf(), value: value.to_string(), source })
}

fn read(dir: &Path, file: &str) -> Option<String> {
    std::fs::read_to_string(dir.join(file)).ok()
}

/// Give a new v1 cpuset its parent's value when it is empty.
fn inherit(dir: &Path, file: &str) -> Result<()> {
    if read(dir, file).is_some_and(|t| !t.trim().is_empty()) {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(dir);
    let value = read(parent, file).unwrap_or_default();
    write(&dir.join(file), value.trim())
}

/// Enable the delegated controllers for the children of `parent`.
fn enable_v2_controllers(host: &Host, parent: &Path) {
    let path = parent.join("cgroup.subtree_control");
    let enabled = std::fs::read_to_string(&path).unwrap_or_default();
    for c in host.delegated.keys().filter_map(|c| c.v2_name()) {
        if !enabled.split_whitespace().any(|e| e == c) {
            if let Err(e) = std::fs::write(&path, format!("+{c}")) {
                tracing::debug!(%e, controller = c, "cannot enable a cgroup v2 controller");
            }
        }
    }
}

/// The number after `key` in a "key value" per line file.
fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|l| {
        let mut it = l.split_whitespace();
        (it.next() == Some(key)).then(|| it.next()?.parse().ok()).flatten()
    })
}

/// Read and write bytes from v1 `blkio.throttle.io_service_bytes`.
fn io_service_bytes_v1(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for l in text.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if let [_, op, n] = f.as_slice() {
            let n: u64 = n.parse().unwrap_or(0);
            match *op {
                "Read" => r += n,
                "Write" => w += n,
                _ => {}
            }
        }
    }
    (r, w)
}

/// Read and write bytes from v2 `io.stat`.
fn io_stat_v2(text: &str) -> (u64, u64) {
    let (mut r, mut w) = (0, 0);
    for kv in text.split_whitespace() {
        if let Some(n) = kv.strip_prefix("rbytes=") {
            r += n.parse::<u64>().unwrap_or(0);
        } else if let Some(n) = kv.strip_prefix("wbytes=") {
            w += n.parse::<u64>().unwrap_or(0);
        }
    }
    (r, w)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_container_ids_are_swept() {
        assert!(is_container_name(&"a1".repeat(32)));
        assert!(!is_container_name("user.slice"));
        assert!(!is_container_name(&"A1".repeat(32)));
    }

    #[test]
    fn counters_parse() {
        assert_eq!(keyed("oom_kill_disable 0\nunder_oom 0\noom_kill 3\n", "oom_kill"), Some(3));
        assert_eq!(keyed("low 0\noom 1\n", "oom_kill"), None);
        assert_eq!(io_service_bytes_v1("8:0 Read 10\n8:0 Write 5\n8:0 Total 15\n8:16 Read 1\nTotal 16\n"), (11, 5));
        assert_eq!(io_stat_v2("8:0 rbytes=10 wbytes=5 rios=1 wios=1\n8:16 rbytes=1 wbytes=0\n"), (11, 5));
    }

    #[test]
    fn create_remove_in_a_fake_tree() {
        let t = tempfile::tempdir().unwrap();
        let parent = t.path().join("cpuset/burrow/u");
        std::fs::create_dir_all(&parent).unwrap();
        std::fs::write(parent.join("cpuset.cpus"), "0-1\n").unwrap();
        std::fs::write(parent.join("cpuset.mems"), "0\n").unwrap();
        let mem = t.path().join("memory/burrow/u");
        std::fs::create_dir_all(&mem).unwrap();
        let host = Host {
            version: Version::V1,
            root: t.path().to_path_buf(),
            user: "u".into(),
            delegated: [(Controller::Cpuset, parent.clone()), (Controller::Memory, mem.clone())].into(),
            files: Default::default(),
            cpus: vec![0, 1],
        };
        let cg = Cgroup::create(&host, "abc").unwrap();
        assert_eq!(std::fs::read_to_string(parent.join("abc/cpuset.cpus")).unwrap(), "0-1");
        let plan = Plan {
            writes: vec![super::super::Write { controller: Controller::Memory, file: "memory.limit_in_bytes", value: "7".into() }],
            refused: vec![],
        };
        cg.apply(&plan).unwrap();
        assert_eq!(std::fs::read_to_string(mem.join("abc/memory.limit_in_bytes")).unwrap(), "7");
        assert!(matches!(cg.freeze(), Err(Error::NoFreezer { .. })));
        // A real cgroup directory has only kernel files; empty this one.
        for f in ["cpuset.cpus", "cpuset.mems"] {
            std::fs::remove_file(parent.join("abc").join(f)).unwrap();
        }
        std::fs::remove_file(mem.join("abc/memory.limit_in_bytes")).unwrap();
        cg.remove().unwrap();
        assert!(!parent.join("abc").exists() && !mem.join("abc").exists());
    }
}
