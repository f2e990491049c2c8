//! `burrow exec`: what a command run in a running container gets, as
//! `docker exec` decides it.
//!
//! At `run`, the container keeps `ExecDefaults` in its record: its
//! environment, identity, working directory, capability flags and
//! security options. An exec'd command gets, unless its flags say
//! otherwise: that environment with exec's `--env-file` lines and `-e`
//! on top (HOME follows the exec user when the container's HOME was
//! burrow's default, as runc sets it; TERM=xterm with `-t`), the
//! container's user (`-u` is resolved in the container's own
//! /etc/passwd and /etc/group, read after joining its mount namespace),
//! the container's working directory (`-w`), and the container's
//! capabilities, seccomp filter and no_new_privs. `plan` is pure;
//! `exec` checks that the container runs, prepares what can fail on the
//! host side (env files, seccomp), joins the container
//! (`process::join`), reads the container's files and starts the command.
//! `--privileged` is refused by the CLI: burrow has nothing to give more.

use std::fs;
use std::io::Read;
use std::os::unix::fs::OpenOptionsExt;
use std::path::PathBuf;

use super::passwd::{self, Identity};
use super::record::{self, Status};
use super::run::{check_env, environment, parse_env_file};
use super::{Error, Result};
pub use crate::model::exec::ExecDefaults;
use crate::paths::Paths;
use crate::process::join::{self, ExecSpec, Stdio};

impl ExecDefaults {
    /// Built by `run` from the container's final settings; `sources` are
    /// the image's Env, the env-file lines and `-e` flags, which say
    /// whether HOME was set explicitly.
    pub fn capture(env: &[String], sources: &[&[String]], id: &Identity, cwd: &str, opts: &super::run::RunOptions) -> Self {
        let explicit = |key: &str| sources.iter().flat_map(|s| s.iter()).any(|kv| kv.split('=').next() == Some(key));
        let explicit_home = explicit("HOME");
        // TERM=xterm that `run -t` added is for the container's terminal;
        // an exec gets it only with its own -t, as in docker.
        let keep_term = !opts.tty || explicit("TERM");
        ExecDefaults {
            env: env.iter().filter(|kv| keep_term || kv.split('=').next() != Some("TERM")).cloned().collect(),
            home_from_user: !explicit_home,
            uid: id.uid,
            gid: id.gid,
            groups: id.groups.clone(),
            cwd: cwd.to_string(),
            cap_add: opts.cap_add.clone(),
            cap_drop: opts.cap_drop.clone(),
            security_opt: opts.security_opt.clone(),
        }
    }
}

/// `burrow exec`'s flags.
#[derive(Debug, Clone, Default)]
pub struct ExecOptions {
    pub container: String,
    pub command: Vec<String>,
    pub detach: bool,
    pub interactive: bool,
    pub tty: bool,
    pub env: Vec<String>,
    pub env_files: Vec<PathBuf>,
    pub user: Option<String>,
    pub workdir: Option<String>,
}

/// The command's environment, identity and directory (pure): `passwd`
/// and `group` are the container's files, read only when `-u` is given.
pub fn plan(
    defaults: &ExecDefaults,
    opts: &ExecOptions,
    env_file_lines: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
    files: &dyn Fn() -> (String, String),
) -> Result<(Vec<String>, Identity, String)> {
    let identity = match &opts.user {
        Some(spec) => {
            let (passwd_text, group_text) = files();
            passwd::resolve(spec, &passwd_text, &group_text)?
        }
        None => Identity { uid: defaults.uid, gid: defaults.gid, groups: defaults.groups.clone(), home: String::new(), name: None },
    };
    let base: Vec<String> = if defaults.home_from_user && opts.user.is_some() {
        defaults.env.iter().filter(|kv| kv.split('=').next() != Some("HOME")).cloned().collect()
    } else {
        defaults.env.clone()
    };
    let hostname = base.iter().find_map(|kv| kv.strip_prefix("HOSTNAME=")).unwrap_or("").to_string();
    let home = if identity.home.is_empty() { "/" } else { identity.home.as_str() };
    let env = environment(&base, env_file_lines, &opts.env, lookup, &hostname, home, opts.tty);
    let cwd = match opts.workdir.as_deref().filter(|w| !w.is_empty()) {
        Some(w) if !w.starts_with('/') => return Err(Error::RelativeWorkdir { dir: w.to_string() }),
        Some(w) => w.to_string(),
        None => defaults.cwd.clone(),
    };
    Ok((env, identity, cwd))
}

/// Run `opts.command` in the running container `opts.container`; the
/// command's exit code (0 at once with `-d`). Must be called while the
/// process is single-threaded: it joins the container's namespaces, after
/// which this process sees the container's files, not the store.
pub fn exec(paths: &Paths, opts: &ExecOptions) -> Result<i32> {
    if opts.command.is_empty() {
        return Err(Error::NoCommand);
    }
    let r = record::find(paths, &opts.container)?;
    let _span = super::span(&r.id).entered();
    if r.status != Status::Running || !record::is_alive(&r) {
        return Err(Error::NotRunning { name: r.name });
    }
    let (Some(pid), Some(defaults)) = (r.pid, r.exec.as_ref()) else {
        return Err(Error::NoExecDefaults { name: r.name });
    };
    let super::run::Security { caps: set, seccomp: filter, no_new_privs } =
        super::run::Security::resolve(&defaults.cap_add, &defaults.cap_drop, &defaults.security_opt, paths)?;
    let mut env_file_lines = Vec::new();
    for f in &opts.env_files {
        let text = fs::read_to_string(f).map_err(|source| Error::Io { path: f.clone(), source })?;
        env_file_lines.extend(parse_env_file(&text));
    }
    check_env(&env_file_lines)?;
    check_env(&opts.env)?;
    // The container's cgroup, if it has one, is opened while the host's
    // /sys/fs/cgroup is still in view.
    let cgroup_procs = match crate::limits::Cgroup::open(r.id.as_str()) {
        Ok(cg) => cg.procs_files()?,
        Err(_) => Vec::new(),
    };
    // The container's id maps, read while the host's /proc is in view.
    let mapping = crate::userns::of_process(pid);
    let joined = join::enter(pid, r.pid_start)?;
    // From here on, paths are the container's.
    let files = || (read_container_file("/etc/passwd"), read_container_file("/etc/group"));
    let (env, identity, cwd) = plan(defaults, opts, &env_file_lines, &|k| std::env::var(k).ok(), &files)?;
    passwd::check_mapped(&identity, &mapping)?;
    let spec = ExecSpec {
        args: opts.command.clone(),
        env,
        cwd,
        uid: identity.uid,
        gid: identity.gid,
        groups: identity.groups,
        caps: set,
        seccomp: filter,
        no_new_privs,
        cgroup_procs,
    };
    let stdio = match (opts.detach, opts.tty) {
        (true, tty) => Stdio::Detached { tty, stdin: opts.interactive },
        (false, true) => Stdio::Tty { stdin: opts.interactive },
        (false, false) => Stdio::Shared { stdin: opts.interactive },
    };
    Ok(joined.spawn(spec, stdio)?.code)
}

/// A file of the container (missing or odd: empty). Opened without
/// blocking and read only when it is a regular file, so a FIFO the
/// container put there cannot hang `exec`; at most 4 MiB.
fn read_container_file(path: &str) -> String {
    let Ok(f) = fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path) else {
        return String::new();
    };
    if !f.metadata().is_ok_and(|m| m.is_file()) {
        return String::new();
    }
    let mut text = String::new();
    let _ = f.take(4 << 20).read_to_string(&mut text);
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    const PASSWD: &str = "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n";

    fn defaults() -> ExecDefaults {
        ExecDefaults {
            env: s(&["PATH=/bin", "HOSTNAME=box", "HOME=/root", "FROM_RUN=1"]),
            home_from_user: true,
            uid: 0,
            gid: 0,
            groups: vec![0],
            cwd: "/srv".into(),
            ..Default::default()
        }
    }

    fn files() -> (String, String) {
        (PASSWD.to_string(), "root:x:0:\napp:x:1000:\n".to_string())
    }

    fn no_lookup(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn container_settings_by_default() {
        let opts = ExecOptions { command: s(&["true"]), ..Default::default() };
        let unread = || -> (String, String) { panic!("the container's files are read only for -u") };
        let (env, id, cwd) = plan(&defaults(), &opts, &[], &no_lookup, &unread).unwrap();
        assert_eq!(env, defaults().env);
        assert_eq!((id.uid, id.gid, id.groups), (0, 0, vec![0]));
        assert_eq!(cwd, "/srv");
    }

    #[test]
    fn flags_add_and_override() {
        let opts = ExecOptions { env: s(&["FROM_RUN=2", "NEW=x"]), workdir: Some("/tmp".into()), tty: true, ..Default::default() };
        let (env, _, cwd) = plan(&defaults(), &opts, &s(&["FILE=f"]), &no_lookup, &files).unwrap();
        for want in ["FROM_RUN=2", "NEW=x", "FILE=f", "TERM=xterm", "HOME=/root", "HOSTNAME=box"] {
            assert!(env.contains(&want.to_string()), "{want} in {env:?}");
        }
        assert!(!env.contains(&"FROM_RUN=1".to_string()));
        assert_eq!(cwd, "/tmp");
        let rel = ExecOptions { workdir: Some("tmp".into()), ..Default::default() };
        assert!(matches!(plan(&defaults(), &rel, &[], &no_lookup, &files), Err(Error::RelativeWorkdir { .. })));
    }

    #[test]
    fn user_flag_resolves_in_the_container_and_moves_a_default_home() {
        let opts = ExecOptions { user: Some("app".into()), ..Default::default() };
        let (env, id, _) = plan(&defaults(), &opts, &[], &no_lookup, &files).unwrap();
        assert_eq!((id.uid, id.gid), (1000, 1000));
        assert!(env.contains(&"HOME=/home/app".to_string()), "{env:?}");
        // A HOME the user set at run stays.
        let explicit = ExecDefaults { home_from_user: false, ..defaults() };
        let (env, _, _) = plan(&explicit, &opts, &[], &no_lookup, &files).unwrap();
        assert!(env.contains(&"HOME=/root".to_string()), "{env:?}");
        // A numeric uid without an entry gets gid 0 and home /.
        let opts = ExecOptions { user: Some("4242".into()), ..Default::default() };
        let (env, id, _) = plan(&defaults(), &opts, &[], &no_lookup, &files).unwrap();
        assert_eq!((id.uid, id.gid), (4242, 0));
        assert!(env.contains(&"HOME=/".to_string()), "{env:?}");
        let opts = ExecOptions { user: Some("nobody2".into()), ..Default::default() };
        assert!(matches!(plan(&defaults(), &opts, &[], &no_lookup, &files), Err(Error::User(_))));
    }

    #[test]
    fn capture_notes_an_explicit_home() {
        let id = Identity { uid: 1, gid: 2, groups: vec![2], home: "/h".into(), name: None };
        let opts = super::super::run::RunOptions::default();
        let d = ExecDefaults::capture(&s(&["HOME=/h"]), &[&s(&["A=1"]), &[]], &id, "/", &opts);
        assert!(d.home_from_user);
        let d = ExecDefaults::capture(&s(&["HOME=/x"]), &[&s(&["HOME=/x"])], &id, "/", &opts);
        assert!(!d.home_from_user);
        assert_eq!((d.uid, d.gid, d.cwd.as_str()), (1, 2, "/"));
        let tty = super::super::run::RunOptions { tty: true, ..Default::default() };
        let d = ExecDefaults::capture(&s(&["TERM=xterm", "A=1"]), &[], &id, "/", &tty);
        assert_eq!(d.env, s(&["A=1"]));
    }
}
