//! Entering burrow's user namespace (the kernel-touching part).
//!
//! Order matters here. The helper that runs `newuidmap` is forked *before*
//! `unshare(CLONE_NEWUSER)`: a setuid binary exec'd from inside the new
//! namespace would lose its setuid bit (root is not mapped there). The
//! helper waits until the parent has unshared, writes both maps for the
//! parent's pid, and reports back. In the single-id fallback the process
//! writes its own maps, which the kernel allows only for its own id and only
//! after `setgroups` is denied.
//!
//! `unshare(CLONE_NEWUSER)` fails in a multithreaded process, so `enter`
//! must run before anything starts a thread.

use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::sched::{unshare, CloneFlags};
use nix::sys::wait::waitpid;
use nix::unistd::{fork, getgid, getpid, getuid, pipe, ForkResult, Pid, User};

use super::plan::{HostIds, Mapping, MappingKind, Plan};
use super::{parse_subid, Error, Result};

/// Read the host facts and choose the maps (see `plan::plan`).
pub fn detect(force_single: bool) -> Plan {
    let uid = getuid().as_raw();
    let gid = getgid().as_raw();
    let name = User::from_uid(getuid()).ok().flatten().map(|u| u.name);
    let read = |p: &str| std::fs::read_to_string(p).unwrap_or_default();
    let subuids = parse_subid(&read("/etc/subuid"), name.as_deref(), uid);
    let subgids = parse_subid(&read("/etc/subgid"), name.as_deref(), uid);
    let host = HostIds {
        uid,
        gid,
        user: name.as_deref(),
        subuids: &subuids,
        subgids: &subgids,
        have_newuidmap: find_helper("newuidmap").is_some(),
        have_newgidmap: find_helper("newgidmap").is_some(),
    };
    super::plan::plan(&host, force_single)
}

/// Locate a setuid helper on PATH, then in the usual places.
pub fn find_helper(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path).chain(["/usr/bin", "/bin", "/usr/sbin"].map(PathBuf::from)).map(|d| d.join(name)).find(|p| p.is_file())
}

/// Whether this process already runs in a user namespace other than the
/// initial one (its uid_map is not the identity over all ids).
pub fn inside() -> bool {
    std::fs::read_to_string("/proc/self/uid_map")
        .map(|m| m.split_whitespace().collect::<Vec<_>>() != ["0", "0", "4294967295"])
        .unwrap_or(false)
}

/// Proof that this process runs inside burrow's user namespace, where it
/// may create and delete files owned by container ids: the engine
/// functions that do so take one, so calling them from the host's
/// namespace does not compile. Made by [`InUserns::here`], which checks.
#[derive(Debug, Clone, Copy)]
pub struct InUserns {
    _checked: (),
}

impl InUserns {
    /// The proof, when this process is inside a user namespace (the
    /// command line entered burrow's, or a monitor or build step inherited
    /// it); `None` in the host's.
    pub fn here() -> Option<InUserns> {
        inside().then_some(InUserns { _checked: () })
    }
}

/// The maps of the user namespace this process is in.
pub fn current() -> Mapping {
    maps_in(Path::new("/proc/self"))
}

/// The maps of the user namespace process `pid` is in (the inside ids are
/// that namespace's; empty when the process is gone).
pub fn of_process(pid: i32) -> Mapping {
    maps_in(&Path::new("/proc").join(pid.to_string()))
}

fn maps_in(dir: &Path) -> Mapping {
    let read = |f: &str| std::fs::read_to_string(dir.join(f)).unwrap_or_default();
    Mapping::parse(&read("uid_map"), &read("gid_map"))
}

/// What entering burrow's namespace decided.
#[derive(Debug)]
pub struct Entered {
    /// The plan in force (detected even when the process was inside already).
    pub plan: Plan,
    /// Why only the user's own ids are mapped, when the user should be
    /// told (the single-id fallback, not forced by `BURROW_USERNS`, for a
    /// caller who is not root and was not inside already).
    pub fallback: Option<String>,
    pub proof: InUserns,
}

/// Enter burrow's user namespace, once per process and before any thread
/// exists: the subordinate ranges when the helpers can map them, else the
/// single-id fallback (forced with `BURROW_USERNS=single-id`). A process
/// already inside stays where it is.
pub fn enter_burrow() -> Result<Entered> {
    enter_burrow_at(&crate::paths::Paths::runtime_dir())
}

/// `enter_burrow`, with the shared namespace's files in `runtime` (see
/// `pause`).
pub fn enter_burrow_at(runtime: &Path) -> Result<Entered> {
    let force_single = std::env::var("BURROW_USERNS").is_ok_and(|v| v == "single-id");
    let plan = detect(force_single);
    let mut fallback = None;
    if !inside() {
        if let MappingKind::SingleId { reason } = &plan.kind {
            if !force_single && !getuid().is_root() {
                fallback = Some(reason.clone());
            }
        }
        super::pause::join_or_create(runtime, &plan)?;
    }
    let proof = InUserns::here().ok_or(Error::NotEntered)?;
    Ok(Entered { plan, fallback, proof })
}

/// Move this process into a new user namespace with `plan`'s maps and
/// become root there.
pub fn enter(plan: &Plan) -> Result<()> {
    match plan.kind {
        MappingKind::Range => enter_with_helpers(&plan.mapping),
        MappingKind::SingleId { .. } => {
            unshare(CloneFlags::CLONE_NEWUSER).map_err(|source| Error::Unshare { source })?;
            // The kernel refuses an unprivileged gid_map while setgroups is allowed.
            write_file(Path::new("/proc/self/setgroups"), "deny")?;
            write_file(Path::new("/proc/self/uid_map"), &Mapping::render(&plan.mapping.uid))?;
            write_file(Path::new("/proc/self/gid_map"), &Mapping::render(&plan.mapping.gid))?;
            Ok(())
        }
    }
}

fn enter_with_helpers(mapping: &Mapping) -> Result<()> {
    let target = getpid();
    let (go_r, go_w) = pipe().map_err(|source| Error::Fork { source })?;
    let (res_r, res_w) = pipe().map_err(|source| Error::Fork { source })?;
    // SAFETY: burrow is single-threaded here (documented precondition of
    // `enter`), so the child may run arbitrary code before it exits.
    match unsafe { fork() }.map_err(|source| Error::Fork { source })? {
        ForkResult::Child => {
            drop(go_w);
            drop(res_r);
            let code = map_helper_child(target, mapping, go_r, res_w);
            // SAFETY: leave without running the parent's atexit handlers.
            unsafe { libc::_exit(code) }
        }
        ForkResult::Parent { child } => {
            drop(go_r);
            drop(res_w);
            let unshared = unshare(CloneFlags::CLONE_NEWUSER);
            // Wake the helper either way; on failure it sees EOF and quits.
            let mut go = std::fs::File::from(go_w);
            if unshared.is_ok() {
                let _ = go.write_all(b"1");
            }
            drop(go);
            let mut report = String::new();
            let _ = std::fs::File::from(res_r).read_to_string(&mut report);
            let _ = waitpid(child, None);
            unshared.map_err(|source| Error::Unshare { source })?;
            if let Some(err) = report.strip_prefix("err ") {
                let (helper, rest) = err.split_once(' ').unwrap_or(("newuidmap", err));
                let (status, stderr) = rest.split_once('\n').unwrap_or((rest, ""));
                let helper = if helper == "newgidmap" { "newgidmap" } else { "newuidmap" };
                return Err(Error::Helper { helper, status: status.to_string(), stderr: stderr.trim().to_string() });
            }
            Ok(())
        }
    }
}

/// The helper's side: wait for the go byte, run both helpers, report
/// `ok` or `err HELPER STATUS\nSTDERR` on the result pipe.
fn map_helper_child(target: Pid, mapping: &Mapping, go: OwnedFd, result: OwnedFd) -> i32 {
    let mut byte = [0u8; 1];
    let mut go = std::fs::File::from(go);
    if go.read(&mut byte).unwrap_or(0) != 1 {
        return 1;
    }
    let mut out = std::fs::File::from(result);
    for (helper, maps) in [("newuidmap", &mapping.uid), ("newgidmap", &mapping.gid)] {
        let mut cmd = Command::new(find_helper(helper).unwrap_or_else(|| PathBuf::from(helper)));
        cmd.arg(target.as_raw().to_string());
        for m in maps {
            cmd.args([m.inside.to_string(), m.outside.to_string(), m.count.to_string()]);
        }
        let report = match cmd.output() {
            Ok(o) if o.status.success() => continue,
            Ok(o) => format!("err {helper} {}\n{}", o.status, String::from_utf8_lossy(&o.stderr)),
            Err(e) => format!("err {helper} could not start: {e}\n"),
        };
        let _ = out.write_all(report.as_bytes());
        return 1;
    }
    let _ = out.write_all(b"ok");
    0
}

/// Write the maps of a nested namespace owned by burrow's (keep-id). The
/// caller is root in burrow's namespace, which maps every id named.
pub fn write_nested_maps(pid: Pid, mapping: &Mapping) -> Result<()> {
    let dir = PathBuf::from(format!("/proc/{}", pid.as_raw()));
    write_file(&dir.join("uid_map"), &Mapping::render(&mapping.uid))?;
    write_file(&dir.join("gid_map"), &Mapping::render(&mapping.gid))
}

fn write_file(path: &Path, text: &str) -> Result<()> {
    std::fs::write(path, text).map_err(|source| Error::WriteMap { path: path.to_path_buf(), source })
}
