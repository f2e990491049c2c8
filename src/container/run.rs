//! `burrow run` in the foreground: image + flags → a running container.
//!
//! The pure part (`command_line`, `environment`) decides the argv and the
//! environment exactly as docker combines the image config with `run`
//! flags. `run` then creates the record, lays out the root (`rootfs`), writes
//! hosts/hostname/resolv.conf and decides the network (`net`), prepares capabilities and seccomp (so bad
//! input fails before any process exists), mounts burrow-fs at the root
//! (`process::fuse_root`), launches, and records the exit
//! code. With `--rm` nothing of the container is left afterwards, whatever
//! the outcome.

use std::fs;
use std::path::{Path, PathBuf};

use super::record::{self, ContainerId, Record, Status};
use super::{passwd, rootfs, Error, Result};
use crate::lock::StoreLock;
use crate::paths::Paths;
use crate::process::{self, caps, seccomp, FileMount, Spec};
use crate::userns::Mapping;

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
    pub read_only: bool,
    pub cap_add: Vec<String>,
    pub cap_drop: Vec<String>,
    pub security_opt: Vec<String>,
    pub init: bool,
    /// `--userns=keep-id`: the maps of burrow's own namespace, to nest in.
    pub keep_id: Option<KeepId>,
    pub network: super::net::NetworkRequest,
}

#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct KeepId {
    pub outer: Mapping,
    pub uid: u32,
    pub gid: u32,
}

/// docker's rule: `--entrypoint` replaces the image's entrypoint and drops
/// its CMD; arguments after the image replace CMD.
pub fn command_line(image: &ImageDefaults, entrypoint: Option<&str>, args: &[String]) -> Vec<String> {
    let (ep, default_cmd): (Vec<String>, &[String]) = match entrypoint {
        Some("") => (vec![], &[]),
        Some(e) => (vec![e.to_string()], &[]),
        None => (image.entrypoint.clone(), &image.cmd),
    };
    let cmd = if args.is_empty() { default_cmd.to_vec() } else { args.to_vec() };
    ep.into_iter().chain(cmd).collect()
}

/// The container's environment: image Env, then `--env-file` lines, then
/// `-e`; a bare `-e NAME` copies the caller's value (and is dropped when
/// the caller has none). HOSTNAME, HOME, PATH and (with `-t`) TERM are
/// added when missing.
pub fn environment(
    image_env: &[String],
    env_file_lines: &[String],
    flags: &[String],
    lookup: &dyn Fn(&str) -> Option<String>,
    hostname: &str,
    home: &str,
    tty: bool,
) -> Vec<String> {
    let mut env: Vec<String> = Vec::new();
    let mut set = |kv: String| {
        let key = kv.split('=').next().unwrap_or("").to_string();
        env.retain(|e| e.split('=').next() != Some(key.as_str()));
        env.push(kv);
    };
    for kv in image_env {
        set(kv.clone());
    }
    for item in env_file_lines.iter().chain(flags) {
        if item.contains('=') {
            set(item.clone());
        } else if let Some(v) = lookup(item) {
            set(format!("{item}={v}"));
        }
    }
    let has = |env: &[String], k: &str| env.iter().any(|e| e.split('=').next() == Some(k));
    let mut extra = Vec::new();
    if !has(&env, "PATH") {
        extra.push(format!("PATH={}", process::DEFAULT_PATH));
    }
    if !has(&env, "HOSTNAME") {
        extra.push(format!("HOSTNAME={hostname}"));
    }
    if tty && !has(&env, "TERM") {
        extra.push("TERM=xterm".to_string());
    }
    if !has(&env, "HOME") {
        extra.push(format!("HOME={home}"));
    }
    extra.into_iter().chain(env).collect()
}

/// Parse an env file as docker does: one `KEY=VALUE` or `KEY` a line,
/// blank lines and `#` comments skipped.
pub fn parse_env_file(text: &str) -> Vec<String> {
    text.lines()
        .map(|l| l.trim_start())
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| l.trim_end_matches('\r').to_string())
        .collect()
}

/// Run a container in the foreground; returns its exit code.
pub fn run(paths: &Paths, opts: &RunOptions, image: &crate::image::Image, defaults: &ImageDefaults) -> Result<i32> {
    let id = ContainerId::random();
    let hostname = opts.hostname.clone().unwrap_or_else(|| id.short().to_string());
    let args = command_line(defaults, opts.entrypoint.as_deref(), &opts.command);
    if args.is_empty() {
        return Err(Error::NoCommand);
    }
    let caps = caps::resolve(&opts.cap_add, &opts.cap_drop)?;
    let mut no_new_privs = false;
    let mut seccomp_mode = seccomp::SeccompMode::Default;
    for opt in &opts.security_opt {
        match seccomp::parse_security_opt(opt)? {
            Some(seccomp::SecurityOpt::NoNewPrivileges(v)) => no_new_privs = v,
            Some(seccomp::SecurityOpt::Seccomp(m)) => seccomp_mode = m,
            None => {}
        }
    }
    let seccomp = seccomp::prepare(&seccomp_mode, &caps)?;
    let mut env_file_lines = Vec::new();
    for f in &opts.env_files {
        let text = fs::read_to_string(f).map_err(|source| Error::Io { path: f.clone(), source })?;
        env_file_lines.extend(parse_env_file(&text));
    }

    // Create the record under the store lock so names stay unique.
    let record = {
        let _lock = StoreLock::exclusive(&paths.lock_file())?;
        record::reconcile(paths)?;
        let name = match &opts.name {
            Some(n) if !record::valid_name(n) => return Err(Error::InvalidName { name: n.clone() }),
            Some(n) => {
                if let Ok(other) = record::find(paths, n) {
                    if other.name == *n {
                        return Err(Error::NameInUse { name: n.clone(), id: other.id.short().to_string() });
                    }
                }
                n.clone()
            }
            None => record::fresh_name(paths)?,
        };
        let record = Record::created(id.clone(), name, opts.image.clone(), image.id.to_string(), args.clone(), opts.rm);
        let dir = record.dir(paths);
        fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
        record.save(paths)?;
        record
    };
    let dir = record.dir(paths);
    let outcome = start(paths, opts, image, defaults, record, &hostname, args, env_file_lines, caps, seccomp, no_new_privs);
    if opts.rm {
        let t = std::time::Instant::now();
        if let Err(e) = rootfs::remove_any(&dir) {
            tracing::warn!(%e, "could not remove the container");
        }
        tracing::debug!(elapsed = ?t.elapsed(), "container removed");
    }
    outcome
}

#[allow(clippy::too_many_arguments)]
fn start(
    paths: &Paths,
    opts: &RunOptions,
    image: &crate::image::Image,
    defaults: &ImageDefaults,
    mut record: Record,
    hostname: &str,
    args: Vec<String>,
    env_file_lines: Vec<String>,
    caps: caps::CapSet,
    seccomp: Option<seccomp::Prepared>,
    no_new_privs: bool,
) -> Result<i32> {
    let dir = record.dir(paths);
    let t0 = std::time::Instant::now();
    let image_layers: Vec<PathBuf> = image.layers.iter().map(|l| l.dir.clone()).collect();
    let nested = opts.keep_id.as_ref().map(|k| crate::userns::keep_id(&k.outer, k.uid, k.gid));
    let layout = rootfs::Layout::of(&dir, &image_layers);
    layout.create()?;
    tracing::debug!(elapsed = ?t0.elapsed(), "root filesystem laid out");
    let read = |p: &str| rootfs::read_merged(layout.image_layers(), p);
    let user_spec = opts.user.clone().unwrap_or_else(|| defaults.user.clone());
    let mut identity = passwd::resolve(&user_spec, &read("etc/passwd"), &read("etc/group"))?;
    if let (Some(k), None) = (&opts.keep_id, &opts.user) {
        identity = passwd::resolve(&k.uid.to_string(), &read("etc/passwd"), &read("etc/group"))?;
        if identity.name.is_none() {
            identity.gid = k.gid;
            identity.groups = vec![k.gid];
        }
    }
    let env = environment(
        &defaults.env,
        &env_file_lines,
        &opts.env,
        &|k| std::env::var(k).ok(),
        hostname,
        &identity.home,
        opts.tty,
    );
    let cwd = opts.workdir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| {
        if defaults.workdir.is_empty() { "/".into() } else { defaults.workdir.clone() }
    });
    if !cwd.starts_with('/') {
        return Err(Error::RelativeWorkdir { dir: cwd });
    }
    record.exec = Some(super::exec::ExecDefaults::capture(&env, &[&defaults.env, &env_file_lines, &opts.env], &identity, &cwd, opts));

    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let net = super::net::prepare(&opts.network, &defaults.exposed, hostname, &host_resolv)?;
    let files = write_etc_files(&dir, hostname, &net.hosts, &net.resolv)?;
    record.ports = net.ports.iter().map(|p| p.to_string()).collect();
    let gid_count = nested.as_ref().map_or_else(
        || opts.keep_id.as_ref().map_or(u64::MAX, |k| k.outer.gid_count()),
        |m| m.gid_count(),
    );
    let root_mode = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(&layout.upper).map(|m| m.mode()).unwrap_or(libc::S_IFDIR | 0o755)
    };
    let spec = Spec {
        rootfs: layout.rootfs.clone(),
        root_mode,
        args,
        env,
        cwd,
        uid: identity.uid,
        gid: identity.gid,
        groups: identity.groups,
        hostname: hostname.to_string(),
        read_only: opts.read_only,
        files,
        tty: opts.tty,
        stdin: opts.interactive,
        init: opts.init,
        caps,
        seccomp,
        no_new_privs,
        nested_userns: nested,
        devpts_gid: (gid_count > 5 && own_gid_count() > 5).then_some(5),
        network: net.spec,
    };

    let fs_config = burrow_fs::Config { lowers: layout.lowers.clone(), upper: layout.upper.clone(), work: layout.work.clone() };
    tracing::debug!(elapsed = ?t0.elapsed(), "launching");
    let result = process::launch(spec, fs_config, net.start, &mut |pid| {
        record.status = Status::Running;
        record.started_at = Some(chrono::Utc::now().to_rfc3339());
        record.pid = Some(pid.as_raw());
        record.pid_start = record::process_start(pid.as_raw());
        if let Err(e) = record.save(paths) {
            tracing::warn!(%e, "could not record the container's pid");
        }
    });
    tracing::debug!(elapsed = ?t0.elapsed(), "container exited");
    record.status = Status::Exited;
    record.finished_at = Some(chrono::Utc::now().to_rfc3339());
    record.exit_code = Some(match &result {
        Ok(exit) => exit.code,
        Err(process::Error::Child { class, .. }) => class.code(),
        Err(_) => 125,
    });
    if !opts.rm {
        record.save(paths)?;
    }
    Ok(result?.code)
}

/// How many gids burrow's own namespace maps.
fn own_gid_count() -> u64 {
    fs::read_to_string("/proc/self/gid_map")
        .map(|m| m.lines().filter_map(|l| l.split_whitespace().nth(2)?.parse::<u64>().ok()).sum())
        .unwrap_or(0)
}

fn write_etc_files(dir: &Path, hostname: &str, hosts: &str, resolv: &str) -> Result<Vec<FileMount>> {
    let items = [
        ("hosts", hosts.to_string(), "/etc/hosts"),
        ("hostname", format!("{hostname}\n"), "/etc/hostname"),
        ("resolv.conf", resolv.to_string(), "/etc/resolv.conf"),
    ];
    let mut out = Vec::new();
    for (file, text, target) in items {
        let path = dir.join(file);
        fs::write(&path, text).map_err(|source| Error::Io { path: path.clone(), source })?;
        out.push(FileMount { source: path, target });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn entrypoint_and_cmd_combine_like_docker() {
        let img = ImageDefaults { entrypoint: s(&["/ep"]), cmd: s(&["-x"]), ..Default::default() };
        assert_eq!(command_line(&img, None, &[]), s(&["/ep", "-x"]));
        assert_eq!(command_line(&img, None, &s(&["a"])), s(&["/ep", "a"]));
        assert_eq!(command_line(&img, Some("sh"), &[]), s(&["sh"]));
        assert_eq!(command_line(&img, Some("sh"), &s(&["-c", "x"])), s(&["sh", "-c", "x"]));
        assert_eq!(command_line(&img, Some(""), &s(&["ls"])), s(&["ls"]));
        let plain = ImageDefaults { cmd: s(&["sh"]), ..Default::default() };
        assert_eq!(command_line(&plain, None, &[]), s(&["sh"]));
        assert!(command_line(&ImageDefaults::default(), None, &[]).is_empty());
    }

    #[test]
    fn environment_layers_and_defaults() {
        let lookup = |k: &str| (k == "FROMHOST").then(|| "h".to_string());
        let env = environment(
            &s(&["PATH=/bin", "A=image"]),
            &s(&["B=file", "A=file"]),
            &s(&["A=flag", "FROMHOST", "MISSING"]),
            &lookup,
            "box",
            "/root",
            true,
        );
        assert!(env.contains(&"A=flag".to_string()));
        assert!(env.contains(&"B=file".to_string()));
        assert!(env.contains(&"FROMHOST=h".to_string()));
        assert!(!env.iter().any(|e| e.starts_with("MISSING")));
        assert!(env.contains(&"PATH=/bin".to_string()));
        assert!(env.contains(&"HOSTNAME=box".to_string()));
        assert!(env.contains(&"TERM=xterm".to_string()));
        assert!(env.contains(&"HOME=/root".to_string()));
        assert_eq!(env.iter().filter(|e| e.starts_with("A=")).count(), 1);
    }

    #[test]
    fn env_file() {
        assert_eq!(parse_env_file("# c\nA=1\n\n  B\n"), s(&["A=1", "B"]));
    }
}
