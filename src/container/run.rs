//! Image + flags → a container record (`create`) → a running container
//! (`start`), and both in one for a foreground `burrow run` (`run`).
//!
//! The pure part (`command_line`, `environment`) decides the argv and the
//! environment exactly as docker combines the image config with `run`
//! flags. `create` checks everything that can be checked before a process
//! exists (command, capabilities, security options, env files, name) and
//! writes the record with the flags, env files already read, so a later
//! `start` or restart does not depend on the caller's files or shell.
//! `start` is one life of the container: it lays out the root (`rootfs`,
//! kept across restarts), writes hosts/hostname/resolv.conf and decides
//! the network (`net`), makes the cgroup with its limits (`limits`), mounts burrow-fs at the root
//! (`process::fuse_root`), launches, and records pid, status and exit
//! code. It runs either in the caller's terminal (`Io::Caller`) or, in the
//! supervisor of a detached container (`crate::monitor`), with the
//! container's output pumped into its log (`Io::Detached`). With `--rm` a
//! foreground run leaves nothing of the container, whatever the outcome.

use std::fs;
use std::path::{Path, PathBuf};

use std::os::fd::OwnedFd;
use std::sync::{Arc, Mutex};

use super::logs::{self, LogWriter, Stream};
use super::record::{self, ContainerId, Record, Status};
use super::restart::Policy;
use super::{passwd, rootfs, state, Error, Result};
use crate::lock::StoreLock;
pub use crate::model::run::{ImageDefaults, RunOptions};
use crate::paths::Paths;
use crate::process::{self, caps, seccomp, Detached, FileMount, Spec};
use crate::volume::CheckedBind;

impl ImageDefaults {
    pub fn of(image: &crate::image::Image) -> ImageDefaults {
        let Some(c) = image.config.config() else { return ImageDefaults::default() };
        ImageDefaults {
            env: c.env().clone().unwrap_or_default(),
            entrypoint: c.entrypoint().clone().unwrap_or_default(),
            cmd: c.cmd().clone().unwrap_or_default(),
            workdir: c.working_dir().clone().unwrap_or_default(),
            user: c.user().clone().unwrap_or_default(),
            exposed: c.exposed_ports().clone().unwrap_or_default(),
            stop_signal: c.stop_signal().clone().unwrap_or_default(),
            volumes: c.volumes().clone().unwrap_or_default(),
        }
    }
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

/// Refuse an `-e` or `--env-file` item without a name (`=x`, empty), as
/// docker does: the kernel would pass it on as it is (pure).
pub fn check_env(items: &[String]) -> Result<()> {
    match items.iter().find(|kv| kv.split('=').next().is_none_or(str::is_empty)) {
        Some(kv) => Err(Error::InvalidEnv { item: kv.clone() }),
        None => Ok(()),
    }
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

/// Create a container: check the flags, write its record (status
/// created) and directory. Nothing runs yet.
pub fn create(paths: &Paths, opts: &RunOptions, image: &crate::image::Image, binds: &[CheckedBind]) -> Result<Record> {
    create_as(paths, opts, image, binds, |_| Ok(())).map(|(r, ())| r)
}

/// `create` for a `run`, which holds the container's creator lock until it
/// has handed the container on (see `state`): should it die first, the
/// next command removes a `--rm` container it left.
pub fn create_for_run(
    paths: &Paths,
    opts: &RunOptions,
    image: &crate::image::Image,
    binds: &[CheckedBind],
) -> Result<(Record, state::Held)> {
    create_as(paths, opts, image, binds, state::claim_creator)
}

/// `create`, with `claim` run on the new directory before the record is written.
fn create_as<T>(
    paths: &Paths,
    opts: &RunOptions,
    image: &crate::image::Image,
    binds: &[CheckedBind],
    claim: impl FnOnce(&Path) -> Result<T>,
) -> Result<(Record, T)> {
    let defaults = &ImageDefaults::of(image);
    let id = ContainerId::random();
    let _span = super::span(&id).entered();
    let args = command_line(defaults, opts.entrypoint.as_deref(), &opts.command);
    if args.is_empty() {
        return Err(Error::NoCommand);
    }
    if opts.rm && opts.restart != Policy::No {
        return Err(Error::RestartWithRm);
    }
    // Bad capability or seccomp flags fail now, before anything exists
    // (this also compiles the filter into the cache for `start`).
    Security::of(opts, paths)?;
    super::net::check(paths, &opts.network, opts.hostname.as_deref())?;
    // The env files are read now, and a bare `-e NAME` takes the caller's
    // value now, as docker does: the record needs neither later.
    let mut env = Vec::new();
    for f in &opts.env_files {
        let text = fs::read_to_string(f).map_err(|source| Error::Io { path: f.clone(), source })?;
        env.extend(parse_env_file(&text));
    }
    env.extend(opts.env.iter().cloned());
    check_env(&env)?;
    let env = env
        .into_iter()
        .filter_map(|kv| if kv.contains('=') { Some(kv) } else { std::env::var(&kv).ok().map(|v| format!("{kv}={v}")) })
        .collect();
    let config = RunOptions { env, env_files: Vec::new(), ..opts.clone() };

    // Create the record under the store lock so names stay unique (and
    // volumes are not removed while they are being attached).
    let store = StoreLock::exclusive(&paths.lock_file())?;
    record::reconcile(paths, &store)?;
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
    let mut record = Record::created(id, name, opts.image.clone(), image.id.clone(), args, opts.rm);
    if super::bridge::named(&opts.network).is_some() {
        record.endpoints = super::bridge::endpoints(paths, &opts.network)?;
    }
    let prepared = prepare_mounts(paths, opts, image, defaults, binds)?;
    record.mounts = prepared.points;
    record.user_mounts = prepared.mounts;
    record.config = Some(config);
    let dir = record.dir(paths);
    fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let held = claim(&dir)?;
    if let Err(e) = record.save(paths) {
        // A create that fails (a full disk) leaves nothing behind.
        if let Err(e) = super::remove::remove_locked(paths, &record, true, &store).map(super::remove::Staged::finish) {
            tracing::warn!(%e, "could not remove the half-created container");
        }
        return Err(e);
    }
    Ok((record, held))
}

/// Run a container in the foreground; returns its exit code.
pub fn run(paths: &Paths, opts: &RunOptions, image: &crate::image::Image, binds: &[CheckedBind]) -> Result<i32> {
    // The creator lock is held until the container is removed.
    let (record, _creator) = create_for_run(paths, opts, image, binds)?;
    let dir = record.dir(paths);
    let outcome = match state::claim_monitor(&dir)? {
        Some(_monitor) => start(paths, record.clone(), Io::Caller, &mut || {}),
        None => Err(Error::AlreadyRunning { name: record.name.clone() }),
    };
    if opts.rm {
        remove_with_volumes(paths, &record);
    }
    outcome
}

/// Remove a container and, as docker's `--rm` does, its anonymous
/// volumes that no other container uses; failures are logged. Runs in
/// burrow's namespace (the `run` or monitor that ran it).
pub fn remove_with_volumes(paths: &Paths, record: &Record) {
    let t = std::time::Instant::now();
    let removed = super::remove::in_userns().and_then(|ns| super::remove::remove_now(paths, record, true, &ns));
    if let Err(e) = removed {
        tracing::warn!(%e, "could not remove the container");
    }
    tracing::debug!(elapsed = ?t.elapsed(), "container removed");
}

/// Capabilities and seccomp as the flags ask (a container's, or an
/// exec's, which has the container's).
pub(super) struct Security {
    pub caps: caps::CapSet,
    pub seccomp: Option<seccomp::Prepared>,
    pub no_new_privs: bool,
}

impl Security {
    fn of(opts: &RunOptions, paths: &Paths) -> Result<Security> {
        Security::resolve(&opts.cap_add, &opts.cap_drop, &opts.security_opt, paths)
    }

    /// `--cap-add`, `--cap-drop` and `--security-opt`, the filter compiled
    /// through the store's cache.
    pub(super) fn resolve(cap_add: &[String], cap_drop: &[String], security_opt: &[String], paths: &Paths) -> Result<Security> {
        let caps = caps::resolve(cap_add, cap_drop)?;
        let mut no_new_privs = false;
        let mut seccomp_mode = seccomp::SeccompMode::Default;
        for opt in security_opt {
            match seccomp::parse_security_opt(opt)? {
                Some(seccomp::SecurityOpt::NoNewPrivileges(v)) => no_new_privs = v,
                Some(seccomp::SecurityOpt::Seccomp(m)) => seccomp_mode = m,
                None => {}
            }
        }
        let seccomp = seccomp::prepare_cached(&seccomp_mode, &caps, &paths.cache().join("seccomp"))?;
        Ok(Security { caps, seccomp, no_new_privs })
    }
}

/// Where a started container's standard streams go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Io {
    /// The caller's terminal (foreground `run`).
    Caller,
    /// The container's log (a detached container's supervisor).
    Detached,
}

/// One life of a created container, supervised by the calling process
/// (which holds its monitor lock): from the root's layout to the exit
/// code, which is also recorded. `started` runs once the command runs.
pub fn start(paths: &Paths, mut record: Record, io: Io, started: &mut dyn FnMut()) -> Result<i32> {
    let _span = super::span(&record.id).entered();
    let opts = record.config.clone().ok_or_else(|| Error::NoConfig { name: record.name.clone() })?;
    let opts = &opts;
    let store = crate::image::Store::open(paths)?;
    let image = &store
        .resolve(record.image_id.as_str())
        .map_err(|_| Error::ImageGone { name: record.name.clone(), image: record.image.clone() })?;
    let defaults = &ImageDefaults::of(image);
    let Security { caps, seccomp, no_new_privs } = Security::of(opts, paths)?;
    let (net, hostname) = network(paths, opts, &record, defaults)?;
    let hostname = &hostname;
    let args = record.command.clone();
    // `create` folded the env files into `opts.env`.
    let env_file_lines: &[String] = &[];
    let dir = record.dir(paths);
    let t0 = std::time::Instant::now();
    let image_layers: Vec<PathBuf> = image.layers.iter().map(|l| l.dir.clone()).collect();
    let nested = opts.keep_id.as_ref().map(|k| crate::userns::keep_id(&k.outer, k.uid, k.gid));
    let layout = rootfs::Layout::of(&dir, &image_layers);
    if !layout.upper.exists() {
        layout.create()?;
    }
    tracing::debug!(elapsed = ?t0.elapsed(), "root filesystem laid out");
    let identity = identity(opts, defaults, &layout, nested.as_ref())?;
    let env = environment(&defaults.env, env_file_lines, &opts.env, &|k| std::env::var(k).ok(), hostname, &identity.home, opts.tty);
    let cwd = working_dir(opts, defaults)?;
    record.exec = Some(super::exec::ExecDefaults::capture(&env, &[&defaults.env, env_file_lines, &opts.env], &identity, &cwd, opts));

    let files = write_etc_files(&dir, hostname, &net.hosts, &net.resolv)?;
    record.ports = net.ports.iter().map(crate::model::PublishedPort::from).collect();
    // What `exec` and `port` read is recorded before the command runs
    // (container.json is rewritten only if it changed), so recording the
    // running state once it runs is a quick write in place (`live`).
    let (exec_defaults, ports) = (record.exec.clone(), record.ports.clone());
    record = record.update(paths, |r| {
        r.exec = exec_defaults;
        r.ports = ports;
    })?;
    let gid_count = nested.as_ref().map_or_else(|| opts.keep_id.as_ref().map_or(u64::MAX, |k| k.outer.gid_count()), |m| m.gid_count());
    let root_mode = {
        use std::os::unix::fs::MetadataExt;
        fs::metadata(&layout.upper).map(|m| m.mode()).unwrap_or(libc::S_IFDIR | 0o755)
    };
    let limits = crate::limits::setup(&opts.limits, record.id.as_str())?;
    let mut spec = Spec {
        rootfs: layout.rootfs.clone(),
        root_mode,
        args,
        env,
        cwd,
        uid: identity.uid,
        gid: identity.gid,
        groups: identity.groups,
        hostname: hostname.to_string(),
        domainname: opts.domainname.clone(),
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
        detached: None,
        mounts: record.user_mounts.clone(),
        cgroup: limits.cgroup.clone(),
        rlimits: limits.rlimits,
    };
    let Wiring { mut pumps_from, stdin_hold: _stdin_hold, log } = wire(io, opts, &dir, &mut spec)?;
    let mut companions = Companions::default();
    let _ = fs::remove_file(dir.join("health.json"));

    let fs_config = burrow_fs::Config { lowers: layout.lowers.clone(), upper: layout.upper.clone(), work: layout.work.clone() };
    tracing::debug!(elapsed = ?t0.elapsed(), "launching");
    let result = process::launch(spec, fs_config, net.start, &mut |pid| {
        // Threads may exist only after the clone.
        companions.start(paths, &record, opts, log.as_ref(), pumps_from.drain(..), _stdin_hold.as_ref());
        let saved = record.update(paths, |r| {
            r.status = Status::Running;
            r.started_at = Some(crate::model::Timestamp::now());
            r.pid = Some(pid.as_raw());
            r.pid_start = record::process_start(pid.as_raw());
            r.error = None;
        });
        match saved {
            Ok(r) => record = r,
            Err(e) => tracing::warn!(%e, "could not record the container's pid"),
        }
        started();
    });
    tracing::debug!(elapsed = ?t0.elapsed(), "container exited");
    drop(pumps_from);
    companions.finish(&dir);
    record_exit(paths, &record, opts, &result, limits.cgroup.as_ref())?;
    Ok(result?.code)
}

/// The threads that live as long as the container's command: the log
/// pumps, the healthcheck, the attach server. They start once the command
/// was cloned (a clone needs a single-threaded process) and are joined
/// when it exited.
#[derive(Default)]
struct Companions {
    pumps: Vec<std::thread::JoinHandle<()>>,
    checker: Option<std::thread::JoinHandle<()>>,
    attach: Option<std::thread::JoinHandle<()>>,
    stop: Arc<std::sync::atomic::AtomicBool>,
}

impl Companions {
    fn start(
        &mut self,
        paths: &Paths,
        record: &Record,
        opts: &RunOptions,
        log: Option<&Arc<Mutex<LogWriter>>>,
        pumps_from: impl Iterator<Item = (std::fs::File, Stream, Option<std::fs::File>)>,
        stdin_hold: Option<&OwnedFd>,
    ) {
        let dir = record.dir(paths);
        if let Some(w) = log {
            for (from, stream, mirror) in pumps_from {
                self.pumps.push(logs::pump(from, stream, w.clone(), mirror, opts.tty));
            }
        }
        if let Some(w) = stdin_hold.and_then(|w| w.try_clone().ok()) {
            match super::attach::serve(&dir, w, self.stop.clone()) {
                Ok(h) => self.attach = Some(h),
                Err(e) => tracing::warn!(%e, "cannot listen for attach"),
            }
        }
        if let Some(check) = opts.health.clone() {
            let (root, id, stop) = (paths.root.clone(), record.id.to_string(), self.stop.clone());
            let span = tracing::Span::current();
            self.checker = Some(std::thread::spawn(move || span.in_scope(|| super::health::run_checker(root, dir, id, check, stop))));
        }
    }

    /// Join them all (the pumps end with the command's output).
    fn finish(self, dir: &Path) {
        for p in self.pumps {
            let _ = p.join();
        }
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        if let Some(c) = self.checker {
            let _ = c.join();
        }
        if let Some(a) = self.attach {
            let _ = a.join();
            let _ = fs::remove_file(dir.join("attach.sock"));
        }
    }
}

/// The container's network and hostname: decided from its flags, or with
/// `--network container:` the joined container's (see `net`).
fn network(paths: &Paths, opts: &RunOptions, record: &Record, defaults: &ImageDefaults) -> Result<(super::net::Prepared, String)> {
    if let burrow_netstack::mode::NetworkMode::Container(key) = &opts.network.mode {
        return super::net::join(paths, key);
    }
    let hostname = opts.hostname.clone().unwrap_or_else(|| record.id.short().to_string());
    if super::bridge::named(&opts.network).is_some() {
        return Ok((super::bridge::prepare(paths, record, &opts.network, &defaults.exposed, &hostname)?, hostname));
    }
    let host_resolv = fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    Ok((super::net::prepare(&opts.network, &defaults.exposed, &hostname, &host_resolv)?, hostname))
}

/// Who the command runs as: `--user`, else the image's USER, resolved in
/// the container's own passwd and group files; with keep-id and no
/// `--user`, the caller's own ids. Each id must be mapped in the
/// container's user namespace (burrow's own, or keep-id's nested one).
fn identity(
    opts: &RunOptions,
    defaults: &ImageDefaults,
    layout: &rootfs::Layout,
    nested: Option<&crate::userns::Mapping>,
) -> Result<passwd::Identity> {
    let read = |p: &str| crate::image::merged::read_merged(layout.image_layers(), p);
    let user_spec = opts.user.clone().unwrap_or_else(|| defaults.user.clone());
    let mut identity = passwd::resolve(&user_spec, &read("etc/passwd"), &read("etc/group"))?;
    if let (Some(k), None) = (&opts.keep_id, &opts.user) {
        identity = passwd::resolve(&k.uid.to_string(), &read("etc/passwd"), &read("etc/group"))?;
        if identity.name.is_none() {
            identity.gid = k.gid;
            identity.groups = vec![k.gid];
        }
    }
    passwd::check_mapped(&identity, &nested.cloned().unwrap_or_else(crate::userns::current))?;
    Ok(identity)
}

/// `--workdir`, else the image's WORKDIR, else `/`; it must be absolute.
fn working_dir(opts: &RunOptions, defaults: &ImageDefaults) -> Result<String> {
    let cwd = opts.workdir.clone().filter(|w| !w.is_empty()).unwrap_or_else(|| {
        if defaults.workdir.is_empty() {
            "/".into()
        } else {
            defaults.workdir.clone()
        }
    });
    if !cwd.starts_with('/') {
        return Err(Error::RelativeWorkdir { dir: cwd });
    }
    Ok(cwd)
}

/// Where a container's standard streams go: the pipes the log pumps read
/// (each with the caller's descriptor to copy to, in the foreground), the
/// write end of a detached `-i` container's stdin held open, and the log.
struct Wiring {
    pumps_from: Vec<(std::fs::File, Stream, Option<std::fs::File>)>,
    stdin_hold: Option<OwnedFd>,
    log: Option<Arc<Mutex<LogWriter>>>,
}

/// Wire the container's streams for `io` into `spec.detached`. A detached
/// container writes into pipes that the log pumps read; its stdin (with
/// -i) is a pipe held open here, so a shell waits for input as it would
/// on an attached terminal.
fn wire(io: Io, opts: &RunOptions, dir: &Path, spec: &mut Spec) -> Result<Wiring> {
    let mut pumps_from: Vec<(std::fs::File, Stream, Option<std::fs::File>)> = Vec::new();
    let mut _stdin_hold: Option<OwnedFd> = None;
    let pipe = || nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| Error::Io { path: dir.to_path_buf(), source: e.into() });
    let log = match io {
        // A foreground container without a terminal is logged too (as
        // docker does), its output copied to the caller as it comes; one
        // removed at exit (`--rm`) keeps no log nobody could read.
        Io::Caller if opts.log.enabled && !opts.tty && !opts.rm => {
            let dup = |fd: i32| {
                // SAFETY: duplicating one of this process's standard descriptors.
                let new = unsafe { libc::fcntl(fd, libc::F_DUPFD_CLOEXEC, 3) };
                if new < 0 {
                    return Err(Error::Io { path: format!("/proc/self/fd/{fd}").into(), source: std::io::Error::last_os_error() });
                }
                // SAFETY: `new` was just returned by fcntl and is owned by nothing else.
                Ok(unsafe { <OwnedFd as std::os::fd::FromRawFd>::from_raw_fd(new) })
            };
            let stdin = if opts.interactive { Some(dup(0)?) } else { None };
            let (out_r, out_w) = pipe()?;
            let (err_r, err_w) = pipe()?;
            pumps_from.push((out_r.into(), Stream::Stdout, Some(dup(1)?.into())));
            pumps_from.push((err_r.into(), Stream::Stderr, Some(dup(2)?.into())));
            spec.detached = Some(Detached { stdin, stdout: out_w, stderr: err_w });
            Some(Arc::new(Mutex::new(LogWriter::open(dir, opts.log.clone())?)))
        }
        Io::Caller => None,
        Io::Detached => {
            let stdin = if opts.interactive {
                let (r, w) = pipe()?;
                _stdin_hold = Some(w);
                Some(r)
            } else {
                None
            };
            if opts.log.enabled {
                let (out_r, out_w) = pipe()?;
                let (err_r, err_w) = pipe()?;
                pumps_from.push((out_r.into(), Stream::Stdout, None));
                pumps_from.push((err_r.into(), Stream::Stderr, None));
                spec.detached = Some(Detached { stdin, stdout: out_w, stderr: err_w });
                Some(Arc::new(Mutex::new(LogWriter::open(dir, opts.log.clone())?)))
            } else {
                let null = || {
                    fs::OpenOptions::new()
                        .write(true)
                        .open("/dev/null")
                        .map(OwnedFd::from)
                        .map_err(|source| Error::Io { path: "/dev/null".into(), source })
                };
                spec.detached = Some(Detached { stdin, stdout: null()?, stderr: null()? });
                None
            }
        }
    };
    Ok(Wiring { pumps_from, stdin_hold: _stdin_hold, log })
}

/// Record how a life ended: exited, its code (docker's for a start that
/// failed), the error, whether the OOM killer struck; the cgroup goes.
/// A `--rm` container about to be removed may fail to record it.
fn record_exit(
    paths: &Paths,
    record: &Record,
    opts: &RunOptions,
    result: &std::result::Result<process::Exit, process::Error>,
    cgroup: Option<&crate::limits::Cgroup>,
) -> Result<()> {
    let mut oom_killed = false;
    if let Some(cg) = cgroup {
        oom_killed = cg.oom_killed();
        if let Err(e) = cg.remove() {
            tracing::warn!(%e, "could not remove the container's cgroup");
        }
    }
    let code = match result {
        Ok(exit) => exit.code,
        Err(process::Error::Child { class, .. }) => class.code(),
        Err(_) => 125,
    };
    let error = result.as_ref().err().map(|e| e.to_string());
    let update = record.update(paths, |r| {
        r.status = Status::Exited;
        r.finished_at = Some(crate::model::Timestamp::now());
        r.exit_code = Some(code);
        r.pid = None;
        r.pid_start = None;
        r.error = error;
        r.oom_killed = oom_killed;
    });
    if !opts.rm {
        update?;
    }
    Ok(())
}

/// The container's mounts: the flags, the `--volumes-from` containers'
/// mounts and the image's VOLUMEs, with volumes created and filled (see
/// `volume::attach`). Call with the store lock held.
fn prepare_mounts(
    paths: &Paths,
    opts: &RunOptions,
    image: &crate::image::Image,
    defaults: &ImageDefaults,
    binds: &[CheckedBind],
) -> Result<crate::volume::attach::Prepared> {
    let mut sources = Vec::new();
    for f in &opts.volumes_from {
        sources.push((record::find(paths, &f.container)?.mounts, f.read_only));
    }
    let from: Vec<crate::volume::plan::From<'_>> =
        sources.iter().map(|(m, ro)| crate::volume::plan::From { mounts: m, read_only: *ro }).collect();
    let planned = crate::volume::plan::plan(&opts.mounts, &from, &defaults.volumes)?;
    Ok(crate::volume::attach::prepare(paths, &planned, binds, &image.layer_dirs_top_first())?)
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
        crate::atomic::write(&path, text.as_bytes()).map_err(|source| Error::Io { path: path.clone(), source })?;
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
    fn env_items_need_a_name() {
        let items = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert!(check_env(&items(&["A=1", "B", "C=", "D==x"])).is_ok());
        for bad in ["=x", "", "="] {
            assert!(matches!(check_env(&items(&["A=1", bad])), Err(Error::InvalidEnv { item }) if item == bad), "{bad:?}");
        }
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
