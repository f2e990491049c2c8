//! What this host delegates to the user: found, not assumed.
//!
//! The cgroup root is /sys/fs/cgroup, or `$BURROW_CGROUP_ROOT` (tests
//! point it at an empty directory to see how `run` behaves on a host that
//! delegates nothing). A unified (v2) root offers `burrow.slice/$USER` as
//! packaging/provision.sh makes it, else the user's own cgroup when it is
//! writable (a systemd user session with Delegate=yes); a v1 or hybrid root
//! offers `<controller>/burrow/$USER` per hierarchy. A directory counts
//! when this user may write its `cgroup.procs`. `$USER` is the host user:
//! inside burrow's user namespace this process is root, so the name comes
//! from the outside id of uid 0 in /proc/self/uid_map.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::plan::Controller;

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Version {
    V1,
    V2,
}

/// The facts `plan` decides on.
#[derive(Debug, Clone)]
pub struct Host {
    pub version: Version,
    /// The cgroup file system root.
    pub root: PathBuf,
    /// The host user's name.
    pub user: String,
    /// Each delegated controller and the directory the user may create
    /// cgroups in (one directory for every controller on v2; v1
    /// hierarchies mounted together share their real path).
    pub delegated: BTreeMap<Controller, PathBuf>,
    /// The interface files in those directories, by controller.
    pub files: BTreeSet<(Controller, String)>,
    /// The CPUs the user may use.
    pub cpus: Vec<u32>,
}

impl Host {
    pub fn has_file(&self, controller: Controller, file: &str) -> bool {
        self.files.contains(&(controller, file.to_string()))
    }

    /// Why `controller` is not delegated and how to get it.
    pub fn missing(&self, controller: Controller) -> (String, String) {
        let user = &self.user;
        match self.version {
            Version::V1 => {
                let c = controller.v1_name();
                let dir = self.root.join(c).join("burrow").join(user);
                (
                    format!("the {c} cgroup controller is not delegated to you ({} is missing or not writable)", dir.display()),
                    format!(
                        "ask your administrator to delegate it (as root: `mkdir -p {d} && chown {user} {d} {d}/cgroup.procs {d}/tasks`; packaging/provision.sh does this)",
                        d = dir.display()
                    ),
                )
            }
            Version::V2 => {
                let c = controller.v2_name().unwrap_or(controller.v1_name());
                let dir = self.delegated.values().next().cloned().unwrap_or_else(|| self.root.join("burrow.slice").join(user));
                (
                    format!("the {c} cgroup controller is not delegated to you (not enabled for {})", dir.display()),
                    format!(
                        "ask your administrator to delegate it (as root: enable +{c} in cgroup.subtree_control of every parent of {} and chown that directory to {user}; packaging/provision.sh does this, and so does systemd for a user session with Delegate=yes)",
                        dir.display()
                    ),
                )
            }
        }
    }

    /// Probe this host.
    pub fn detect() -> Host {
        let root = std::env::var_os("BURROW_CGROUP_ROOT").map(PathBuf::from).unwrap_or_else(|| PathBuf::from("/sys/fs/cgroup"));
        let user = host_user();
        let mut host =
            Host { version: Version::V1, root: root.clone(), user, delegated: BTreeMap::new(), files: BTreeSet::new(), cpus: Vec::new() };
        if root.join("cgroup.controllers").exists() {
            host.version = Version::V2;
            detect_v2(&mut host);
        } else {
            detect_v1(&mut host);
        }
        for (c, dir) in host.delegated.clone() {
            if let Ok(rd) = std::fs::read_dir(&dir) {
                for e in rd.flatten() {
                    host.files.insert((c, e.file_name().to_string_lossy().into_owned()));
                }
            }
        }
        let cpuset = host.delegated.get(&Controller::Cpuset).map(|d| {
            let f = if host.version == Version::V2 { "cpuset.cpus.effective" } else { "cpuset.cpus" };
            d.join(f)
        });
        host.cpus = cpuset
            .into_iter()
            .chain([PathBuf::from("/sys/devices/system/cpu/online")])
            .find_map(|f| std::fs::read_to_string(f).ok().and_then(|t| super::request::parse_cpu_list("cpus", &t).ok()))
            .unwrap_or_else(|| (0..std::thread::available_parallelism().map_or(1, |n| n.get() as u32)).collect());
        host
    }
}

fn detect_v1(host: &mut Host) {
    for c in Controller::ALL {
        let dir = host.root.join(c.v1_name()).join("burrow").join(&host.user);
        if writable(&dir.join("cgroup.procs")) {
            let real = std::fs::canonicalize(&dir).unwrap_or(dir);
            host.delegated.insert(c, real);
        }
    }
}

fn detect_v2(host: &mut Host) {
    let own = std::fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    let rel = own.lines().find_map(|l| l.strip_prefix("0::")).unwrap_or("/").trim_start_matches('/').to_string();
    let candidates = [host.root.join("burrow.slice").join(&host.user), host.root.join(rel)];
    let Some(dir) = candidates.into_iter().find(|d| d != &host.root && writable(&d.join("cgroup.procs"))) else {
        return;
    };
    let available = std::fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
    for c in Controller::ALL {
        let ok = match c.v2_name() {
            Some(name) => available.split_whitespace().any(|a| a == name),
            // cpu.stat and cgroup.freeze exist in every non-root cgroup.
            None => true,
        };
        if ok {
            host.delegated.insert(c, dir.clone());
        }
    }
}

fn writable(path: &Path) -> bool {
    nix::unistd::access(path, nix::unistd::AccessFlags::W_OK).is_ok()
}

/// The host user's name (or number): the outside id of uid 0 when this
/// process is in burrow's user namespace, else its own uid.
fn host_user() -> String {
    let own = nix::unistd::getuid().as_raw();
    let map = std::fs::read_to_string("/proc/self/uid_map").unwrap_or_default();
    let outside = map
        .lines()
        .filter_map(|l| {
            let v: Vec<u64> = l.split_whitespace().filter_map(|x| x.parse().ok()).collect();
            (v.len() == 3 && v[0] <= u64::from(own) && u64::from(own) < v[0] + v[2]).then(|| v[1] + (u64::from(own) - v[0]))
        })
        .next()
        .map_or(own, |o| o as u32);
    nix::unistd::User::from_uid(nix::unistd::Uid::from_raw(outside)).ok().flatten().map(|u| u.name).unwrap_or_else(|| outside.to_string())
}

/// Why a `--device-*` path gives no device numbers.
#[derive(Debug, thiserror::Error)]
pub enum DeviceError {
    #[error("{source}")]
    Stat { source: std::io::Error },
    #[error("not a block device")]
    NotBlock,
}

/// A device's major and minor numbers, for the `--device-*` flags.
pub fn device_numbers(path: &str) -> Result<(u64, u64), DeviceError> {
    use std::os::unix::fs::{FileTypeExt, MetadataExt};
    let m = std::fs::metadata(path).map_err(|source| DeviceError::Stat { source })?;
    if !m.file_type().is_block_device() {
        return Err(DeviceError::NotBlock);
    }
    let rdev = m.rdev();
    Ok((libc::major(rdev) as u64, libc::minor(rdev) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn device_numbers_want_a_block_device() {
        assert!(matches!(device_numbers("/dev/null"), Err(DeviceError::NotBlock)));
        let missing = device_numbers("/nonexistent/burrow-device").unwrap_err();
        assert!(matches!(&missing, DeviceError::Stat { source } if source.kind() == std::io::ErrorKind::NotFound), "{missing:?}");
        assert_eq!(missing.to_string(), "No such file or directory (os error 2)");
    }
}
