//! `burrow info`: what this host allows, and the command that fixes each
//! missing prerequisite.
//!
//! Everything is probed, not assumed: whether other users can enter the
//! store root or the runtime directory (`private_dir`), the id maps burrow
//! would use (and why), whether the setuid helpers exist, whether `/dev/fuse` and
//! `/dev/net/tun` open for this user, unprivileged ICMP, the cgroup layout
//! and which delegated controllers (cgroup v2 subtree or v1 hierarchies
//! under `<ctrl>/burrow/$USER`) this user may write to, and so which
//! resource limits `run` could enforce. `Report` is plain data; the CLI
//! prints it as text or JSON.

use std::path::PathBuf;

use serde::Serialize;

use crate::paths::Paths;
use crate::userns::{self, Mapping, MappingKind};

#[derive(Debug, Serialize)]
pub struct Report {
    pub version: &'static str,
    pub storage_root: PathBuf,
    /// False when other users can enter the store root.
    pub storage_private: bool,
    pub runtime_dir: PathBuf,
    /// False when other users can enter the runtime directory.
    pub runtime_dir_private: bool,
    pub id_mapping: IdMapping,
    pub fuse: Check,
    pub tun: Check,
    pub ping: Check,
    pub cgroups: Cgroups,
    /// Each missing prerequisite with the command that fixes it.
    pub fixes: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct IdMapping {
    pub mode: &'static str,
    pub uid_map: String,
    pub gid_map: String,
    pub ids: u64,
    pub reason: Option<String>,
    pub newuidmap: Option<PathBuf>,
}

#[derive(Debug, Serialize)]
pub struct Check {
    pub ok: bool,
    pub detail: String,
}

#[derive(Debug, Serialize)]
pub struct Cgroups {
    pub version: &'static str,
    /// Controllers this user may use, with where they are.
    pub delegated: Vec<(String, PathBuf)>,
    /// The limit flags `run` can enforce here (`--ulimit` always).
    pub enforceable_limits: Vec<String>,
    /// The others, each with why not.
    pub not_enforceable: Vec<String>,
}

/// Probe the host.
pub fn probe(paths: &Paths) -> Report {
    let mut fixes = Vec::new();
    let mut private = |dir: &std::path::Path, what: &str| match crate::private_dir::exposure(dir) {
        Some(o) => {
            fixes.push(format!("{what}: {o}"));
            false
        }
        None => true,
    };
    let storage_private = private(&paths.root, "store (the next burrow command that uses it closes it)");
    let runtime_dir_private = private(&paths.runtime, "runtime dir");
    let plan = userns::detect(false);
    let user = nix::unistd::User::from_uid(nix::unistd::getuid())
        .ok()
        .flatten()
        .map(|u| u.name)
        .unwrap_or_else(|| nix::unistd::getuid().to_string());
    let reason = match &plan.kind {
        MappingKind::Range => None,
        MappingKind::SingleId { reason } => {
            fixes.push(format!("subordinate ids: {reason}"));
            Some(reason.clone())
        }
    };
    let id_mapping = IdMapping {
        mode: if plan.uses_helpers() { "range" } else { "single-id" },
        uid_map: Mapping::render(&plan.mapping.uid).trim_end().replace('\n', ", "),
        gid_map: Mapping::render(&plan.mapping.gid).trim_end().replace('\n', ", "),
        ids: plan.mapping.uid_count(),
        reason,
        newuidmap: userns::find_helper("newuidmap"),
    };
    let fuse = open_check("/dev/fuse");
    if !fuse.ok {
        fixes.push(fix_fuse(&fuse.detail));
    }
    let tun = open_check("/dev/net/tun");
    if !tun.ok {
        fixes.push(fix_tun(&tun.detail));
    }
    let ping = ping_check();
    if !ping.ok {
        fixes.push(fix_ping(&ping.detail));
    }
    let cgroups = cgroups();
    if cgroups.delegated.is_empty() {
        fixes.push(fix_cgroups(cgroups.version, &user));
    }
    Report {
        version: env!("CARGO_PKG_VERSION"),
        storage_root: paths.root.clone(),
        storage_private,
        runtime_dir: paths.runtime.clone(),
        runtime_dir_private,
        id_mapping,
        fuse,
        tun,
        ping,
        cgroups,
        fixes,
    }
}

fn fix_fuse(detail: &str) -> String {
    format!("/dev/fuse: {detail} — burrow run needs it for every container's root; as root: `chmod 0666 /dev/fuse` (and `apt-get install fuse3`)")
}

fn fix_tun(detail: &str) -> String {
    format!("/dev/net/tun: {detail} — as root: `chmod 0666 /dev/net/tun`")
}

fn fix_ping(detail: &str) -> String {
    format!("ping: {detail} — as root: `sysctl -w net.ipv4.ping_group_range=\"0 2147483647\"`")
}

fn fix_cgroups(version: &str, user: &str) -> String {
    match version {
        "v2" => format!("resource limits: no delegated cgroup v2 subtree — as root: `mkdir -p /sys/fs/cgroup/burrow.slice/{user} && chown -R {user} /sys/fs/cgroup/burrow.slice/{user}` with memory, pids and cpu enabled in the parents' cgroup.subtree_control (or run burrow from a systemd user session with Delegate=yes)"),
        _ => format!("resource limits: no delegated cgroup v1 subtrees — as root, for c in memory pids cpu: `mkdir -p /sys/fs/cgroup/$c/burrow/{user} && chown {user} /sys/fs/cgroup/$c/burrow/{user} /sys/fs/cgroup/$c/burrow/{user}/{{cgroup.procs,tasks}}` (packaging/provision.sh does this)"),
    }
}

/// What an administrator may need to do on this host for its users to
/// run burrow (the hidden `__host-setup` verb the Debian package's
/// postinst prints; it changes nothing): the same fixes `burrow info`
/// gives a user, judged for every user at once, with USER standing for
/// each one. Empty when nothing is missing.
pub fn host_setup() -> Vec<String> {
    let mut out = Vec::new();
    let others_rw = |path: &str| {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).map(|m| m.permissions().mode() & 0o006 == 0o006).unwrap_or(false)
    };
    if !others_rw("/dev/fuse") {
        out.push(fix_fuse("not readable and writable by every user"));
    }
    if !others_rw("/dev/net/tun") {
        out.push(fix_tun("not readable and writable by every user"));
    }
    let ranges = |f: &str| std::fs::read_to_string(f).map(|t| t.lines().filter(|l| l.contains(':')).count()).unwrap_or(0);
    if ranges("/etc/subuid") == 0 || ranges("/etc/subgid") == 0 {
        out.push("subordinate ids: /etc/subuid or /etc/subgid names no one, so every user's containers map their own id only — as root, for each user: `usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER` (a range of 65536 ids no other user has)".to_string());
    }
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    if range.split_whitespace().filter_map(|x| x.parse::<u64>().ok()).collect::<Vec<_>>() != [0, 2147483647] {
        out.push(fix_ping(&format!("unprivileged ICMP is limited to the groups {}", range.trim())));
    }
    let host = crate::limits::Host::detect();
    let base = match host.version {
        crate::limits::Version::V2 => "/sys/fs/cgroup/burrow.slice",
        crate::limits::Version::V1 => "/sys/fs/cgroup/memory/burrow",
    };
    if !std::path::Path::new(base).exists() {
        let version = if matches!(host.version, crate::limits::Version::V2) { "v2" } else { "v1" };
        out.push(fix_cgroups(version, "USER"));
    }
    out
}

fn open_check(path: &str) -> Check {
    match std::fs::OpenOptions::new().read(true).write(true).open(path) {
        Ok(_) => Check { ok: true, detail: "usable".into() },
        Err(e) => Check { ok: false, detail: format!("cannot open {path}: {e}") },
    }
}

fn ping_check() -> Check {
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let gid = nix::unistd::getgid().as_raw();
    let mut it = range.split_whitespace().filter_map(|x| x.parse::<u64>().ok());
    match (it.next(), it.next()) {
        (Some(lo), Some(hi)) if lo <= u64::from(gid) && u64::from(gid) <= hi => {
            Check { ok: true, detail: format!("unprivileged ICMP allowed (ping_group_range {lo} {hi})") }
        }
        _ => Check { ok: false, detail: format!("unprivileged ICMP not allowed for gid {gid} (ping_group_range {})", range.trim()) },
    }
}

fn cgroups() -> Cgroups {
    let host = crate::limits::Host::detect();
    let delegated = host.delegated.iter().map(|(c, dir)| (c.v1_name().replace("blkio", "io"), dir.clone())).collect();
    let mut enforceable_limits = Vec::new();
    let mut not_enforceable = Vec::new();
    for (flag, refusal) in crate::limits::probe_each(&host) {
        match refusal {
            None => enforceable_limits.push(flag.to_string()),
            Some(r) => not_enforceable.push(format!("{flag}: {}", r.reason)),
        }
    }
    let version = match host.version {
        crate::limits::Version::V1 => "v1",
        crate::limits::Version::V2 => "v2",
    };
    Cgroups { version, delegated, enforceable_limits, not_enforceable }
}
