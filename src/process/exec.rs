//! Finding and executing the container's command, with docker's answers.
//!
//! A command without a slash is looked up in the container's `PATH` (from
//! its environment, else docker's default). Not found → 127 ("executable
//! file not found in $PATH"); found but refused by execve(2) with EACCES,
//! ENOEXEC, EISDIR or similar → 126 ("permission denied"); ENOENT for a
//! path the user gave → 127. The lookup only reads the filesystem and runs
//! after pivot_root, so it sees the container's files, not the host's.
//! `drop_privileges` is the last step before execve, for the workload and
//! for `burrow exec` alike, and [`execute`] is the final step of both: one
//! path from the command line to execve(2) and docker's exit class.

use std::ffi::CString;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;

use super::setup_error::SetupError;
use super::ExitClass;

pub const DEFAULT_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/// A command ready for execve(2): resolved in the container's PATH, its
/// arguments and environment as C strings. `run`'s workload prepares it
/// before dropping privileges (the lookup sees what root sees, as runc's),
/// `exec`'s command after (as the user, like its working directory); both
/// then end in [`Command::execute`].
pub struct Command {
    path: PathBuf,
    cpath: CString,
    argv: Vec<CString>,
    envp: Vec<CString>,
}

impl Command {
    pub fn prepare(args: &[String], env: &[String]) -> Result<Command, (ExitClass, String)> {
        let cmd = args.first().map(String::as_str).unwrap_or_default();
        let path = resolve(cmd, path_of(env))?;
        let (argv, envp) = (cstrings(args)?, cstrings(env)?);
        let cpath = CString::new(path.as_os_str().as_encoded_bytes())
            .map_err(|_| (ExitClass::NotFound, "command path contains a NUL byte".to_string()))?;
        Ok(Command { path, cpath, argv, envp })
    }

    /// execve(2); returns only when it failed, with docker's exit class
    /// and message for the parent.
    pub fn execute(self) -> (ExitClass, String) {
        let errno = match nix::unistd::execve(&self.cpath, &self.argv, &self.envp) {
            Err(e) => e,
            Ok(never) => match never {},
        };
        classify(errno, &self.path)
    }
}

/// The container's PATH from its environment.
pub fn path_of(env: &[String]) -> &str {
    env.iter().rev().find_map(|e| e.strip_prefix("PATH=")).unwrap_or(DEFAULT_PATH)
}

/// Resolve `cmd` to a path to execute.
pub fn resolve(cmd: &str, path: &str) -> Result<PathBuf, (ExitClass, String)> {
    if cmd.is_empty() {
        return Err((ExitClass::NotFound, "exec: no command given: set one on the command line or in the image (CMD/ENTRYPOINT)".into()));
    }
    if cmd.contains('/') {
        return Ok(PathBuf::from(cmd));
    }
    let mut found_dir_or_noexec = None;
    for dir in path.split(':').filter(|d| !d.is_empty()) {
        let candidate = Path::new(dir).join(cmd);
        match std::fs::metadata(&candidate) {
            Ok(m) if m.is_file() && m.permissions().mode() & 0o111 != 0 => return Ok(candidate),
            Ok(_) => {
                found_dir_or_noexec.get_or_insert(candidate);
            }
            Err(_) => {}
        }
    }
    match found_dir_or_noexec {
        // Like execvp, report the first non-executable match as such.
        Some(p) => Ok(p),
        None => Err((ExitClass::NotFound, format!("exec: \"{cmd}\": executable file not found in $PATH"))),
    }
}

/// Classify an execve failure.
pub fn classify(errno: Errno, path: &Path) -> (ExitClass, String) {
    let p = path.display();
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => (ExitClass::NotFound, format!("exec: \"{p}\": no such file or directory")),
        Errno::EACCES | Errno::EISDIR | Errno::ENOEXEC | Errno::EPERM | Errno::ETXTBSY => {
            (ExitClass::CannotExecute, format!("exec: \"{p}\": permission denied ({})", errno.desc()))
        }
        e => (ExitClass::CannotExecute, format!("exec: \"{p}\": {}", e.desc())),
    }
}

pub fn cstrings(items: &[String]) -> Result<Vec<CString>, (ExitClass, String)> {
    items
        .iter()
        .map(|s| CString::new(s.as_bytes()).map_err(|_| (ExitClass::Engine, format!("argument or variable contains a NUL byte: {s:?}"))))
        .collect()
}

/// Become the workload's identity, in the order the kernel requires: the
/// capability bounding set while CAP_SETPCAP is held, the seccomp filter
/// while CAP_SYS_ADMIN is held (docker does not set no_new_privs by
/// default, and without it loading needs that capability), no_new_privs,
/// then the ids (with keep-caps) and the final capability sets. Shared by
/// the container's workload (`init`) and `burrow exec` (`join`).
pub fn drop_privileges(
    caps: &super::caps::CapSet,
    seccomp: Option<&super::seccomp::Prepared>,
    no_new_privs: bool,
    uid: u32,
    gid: u32,
    groups: &[u32],
) -> Result<(), SetupError> {
    super::caps::drop_bounding(caps)?;
    if let Some(filter) = seccomp {
        filter.load()?;
    }
    if no_new_privs {
        // SAFETY: prctl with integer arguments only.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(SetupError::NoNewPrivs { source: std::io::Error::last_os_error() });
        }
    }
    super::caps::switch_ids(uid, gid, groups)?;
    Ok(super::caps::apply_final(caps, uid == 0)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn path_from_env() {
        assert_eq!(path_of(&["A=1".into(), "PATH=/x:/y".into()]), "/x:/y");
        assert_eq!(path_of(&[]), DEFAULT_PATH);
    }

    #[test]
    fn resolves_in_path_and_classifies() {
        let t = tempfile::tempdir().unwrap();
        let bin = t.path().join("bin");
        std::fs::create_dir(&bin).unwrap();
        std::fs::write(bin.join("tool"), "x").unwrap();
        std::fs::set_permissions(bin.join("tool"), std::fs::Permissions::from_mode(0o755)).unwrap();
        std::fs::write(bin.join("data"), "x").unwrap();
        let path = format!("/nonexistent:{}", bin.display());
        assert_eq!(resolve("tool", &path).unwrap(), bin.join("tool"));
        assert_eq!(resolve("data", &path).unwrap(), bin.join("data"));
        assert_eq!(resolve("nope", &path).unwrap_err().0, ExitClass::NotFound);
        assert_eq!(resolve("/abs/x", &path).unwrap(), PathBuf::from("/abs/x"));
        assert_eq!(classify(Errno::EACCES, Path::new("/x")).0, ExitClass::CannotExecute);
        assert_eq!(classify(Errno::ENOENT, Path::new("/x")).0, ExitClass::NotFound);
    }
}
