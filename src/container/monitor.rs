//! The supervisor of a detached container, which outlives the command.
//!
//! `spawn` (in the command) starts `burrow __monitor ID` as a new session
//! in the caller's user namespace (burrow's, where the container's files
//! belong), its stdio on /dev/null and its own diagnostics appended to
//! `containers/<id>/monitor.log`, and reads one report from a pipe at
//! descriptor 3: `ok` once the container's command runs, or the exit code
//! and message of a start that failed, so `run -d` and `start` answer
//! exactly like a foreground run. The command then exits; nothing stays
//! behind but the monitor.
//!
//! `main` (in the monitor) takes the container's monitor lock (see
//! `container::state`: holding it *is* being the running container),
//! runs one life of the container with its output pumped into its log
//! (`container::run::start` with `Io::Detached`) — serving its FUSE root
//! and its network from this process, as `burrow run` does in the
//! foreground — and records the exit. When the restart policy asks for
//! another life, the monitor waits the back-off (cut short by a user's
//! stop), and re-executes itself with the lock descriptor kept open: each
//! life begins in a fresh single-threaded process (the container's clone
//! requires one) and the lock is never released in between, so `wait`,
//! `logs -f` and `ps` see one continuous supervisor. When the container
//! is done for good and was created with `--rm`, the monitor removes it.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::os::fd::AsRawFd;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use super::record::{self, Record, Status};
use super::run::{self, Io};
use super::state;
use crate::paths::Paths;
use crate::process::ExitClass;

/// The environment variable that hands the lock descriptor to the next
/// process image of a restarting monitor.
const LOCK_FD_ENV: &str = "BURROW_MONITOR_LOCK_FD";
/// The descriptor the report pipe is given in the monitor.
const REPORT_FD: i32 = 3;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot start the supervisor of container {name}: {source}")]
    Spawn { name: String, source: std::io::Error },
    #[error("the supervisor of container {name} ended before the container started; see {log}")]
    Vanished { name: String, log: String },
    #[error("{message}")]
    Failed { code: i32, message: String },
    #[error(transparent)]
    Container(#[from] super::Error),
}

impl Error {
    /// The exit code the command reports for this failure (docker's).
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Failed { code, .. } => *code,
            _ => 125,
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Start a supervisor for the created or exited container `r` and wait
/// until its command runs (or failed to start).
pub fn spawn(paths: &Paths, r: &Record) -> Result<()> {
    let dir = r.dir(paths);
    let spawn_err = |source| Error::Spawn { name: r.name.clone(), source };
    let exe = std::env::current_exe().map_err(spawn_err)?;
    let (read_end, write_end) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| spawn_err(e.into()))?;
    let log_path = dir.join("monitor.log");
    let diag = OpenOptions::new().create(true).append(true).open(&log_path).map_err(spawn_err)?;
    let mut cmd = Command::new(exe);
    cmd.arg("--root").arg(&paths.root).arg("__monitor").arg(r.id.as_str());
    cmd.stdin(Stdio::null()).stdout(Stdio::null()).stderr(diag).current_dir("/");
    cmd.env_remove(LOCK_FD_ENV);
    let report = write_end.as_raw_fd();
    // SAFETY: only async-signal-safe calls between fork and exec.
    unsafe {
        cmd.pre_exec(move || {
            if libc::setsid() < 0 || libc::dup2(report, REPORT_FD) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().map_err(spawn_err)?;
    drop(write_end);
    drop(child);
    // One line is the whole report: the pipe itself may stay open in the
    // container's first process, which is cloned from the monitor.
    let mut line = String::new();
    let mut reader = std::io::BufReader::new(File::from(read_end));
    let _ = std::io::BufRead::read_line(&mut reader, &mut line);
    match Report::parse(&line) {
        Some(Report::Started) => Ok(()),
        Some(Report::Failed { code, message }) => Err(Error::Failed { code, message }),
        None => Err(Error::Vanished { name: r.name.clone(), log: log_path.display().to_string() }),
    }
}

/// The monitor's one message to the command that spawned it, on the
/// report pipe: one line of JSON.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(tag = "report", rename_all = "lowercase")]
enum Report {
    /// The container's command runs.
    Started,
    /// It could not start: the exit code `run -d` returns, and why.
    Failed { code: i32, message: String },
}

impl Report {
    fn failed(code: i32, e: &dyn std::fmt::Display) -> Report {
        Report::Failed { code, message: e.to_string() }
    }

    /// A complete report line; `None` for none (the monitor died first).
    fn parse(line: &str) -> Option<Report> {
        serde_json::from_str(line.strip_suffix('\n')?).ok()
    }
}

/// Send the one report; later calls send nothing.
fn send(report: &mut Option<File>, msg: Report) {
    if let Some(mut f) = report.take() {
        let mut line = serde_json::to_vec(&msg).unwrap_or_default();
        line.push(b'\n');
        let _ = f.write_all(&line);
    }
}

/// Start a created or exited container under a new supervisor; a
/// running one is left alone. Call inside burrow's user namespace (the
/// supervisor serves the container's files). Starting a container is
/// spawning its monitor, so this lives here: `container` never reaches
/// back into the monitor that runs it.
pub fn start(paths: &Paths, key: &str) -> Result<Record> {
    let dir = record::find(paths, key)?.dir(paths);
    let _lock = state::lifecycle(&dir)?;
    // Read again under the lock: a removal may have won the race.
    let r = record::find(paths, key)?;
    if r.dir(paths) != dir {
        return Err(super::Error::NoSuchContainer { key: key.to_string() }.into());
    }
    if r.monitor_alive(paths) {
        return Ok(r);
    }
    let _ = std::fs::remove_file(state::stop_marker(&dir));
    spawn(paths, &r)?;
    Ok(record::find(paths, key)?)
}

/// The supervisor's whole life; returns its process exit code.
pub fn main(paths: &Paths, id: &str) -> i32 {
    // SAFETY: descriptor 3 is the report pipe `spawn` set up, or (after a
    // restart's re-execution) nothing: then fcntl fails and it is not used.
    // (The lock descriptor a restart hands over is opened after this one,
    // so it is never 3.)
    let mut report = (unsafe { libc::fcntl(REPORT_FD, libc::F_GETFD) } >= 0).then(|| {
        // SAFETY: fcntl on the descriptor just found open; close-on-exec
        // from now on, so the workload never inherits it.
        unsafe { libc::fcntl(REPORT_FD, libc::F_SETFD, libc::FD_CLOEXEC) };
        // SAFETY: descriptor 3 is ours alone (see above).
        unsafe { <File as std::os::fd::FromRawFd>::from_raw_fd(REPORT_FD) }
    });
    let held = std::env::var(LOCK_FD_ENV).ok().and_then(|v| v.parse::<i32>().ok());
    std::env::remove_var(LOCK_FD_ENV);
    let r = match record::find(paths, id) {
        Ok(r) => r,
        Err(e) => {
            send(&mut report, Report::failed(125, &e));
            return 125;
        }
    };
    let dir = r.dir(paths);
    let lock = match held {
        Some(fd) => state::adopt_monitor(fd),
        None => state::claim_monitor(&dir),
    };
    let lock = match lock {
        Ok(Some(l)) => l,
        Ok(None) => {
            send(&mut report, Report::failed(125, &super::Error::AlreadyRunning { name: r.name.clone() }));
            return 125;
        }
        Err(e) => {
            send(&mut report, Report::failed(125, &e));
            return 125;
        }
    };
    let began = Instant::now();
    let outcome = run::start(paths, r.clone(), Io::Detached, &mut || send(&mut report, Report::Started));
    let code = match outcome {
        Ok(code) => code,
        Err(e) => {
            let code = match &e {
                super::Error::Process(crate::process::Error::Child { class, .. }) => class.code(),
                _ => ExitClass::Engine.code(),
            };
            tracing::warn!(%e, "the container did not start");
            send(&mut report, Report::failed(code, &e));
            code
        }
    };
    let Ok(r) = record::find(paths, id) else { return code };
    let policy = r.config.as_ref().map(|c| c.restart).unwrap_or_default();
    let stopped = || state::stop_marker(&dir).exists();
    if let Some(delay) = policy.decide(code, r.restart_count, stopped(), began.elapsed()) {
        let _ = r.update(paths, |r| {
            r.status = Status::Restarting;
            r.restart_count += 1;
        });
        if wait_unless_stopped(&dir, delay) {
            restart(paths, id, &lock);
        }
        let _ = r.update(paths, |r| r.status = Status::Exited);
    }
    if r.auto_remove {
        run::remove_with_volumes(paths, &r);
    }
    drop(lock);
    code
}

/// Sleep `delay`, waking early when the user stops the container; true
/// when the restart should go ahead.
fn wait_unless_stopped(dir: &Path, delay: Duration) -> bool {
    let until = Instant::now() + delay;
    while Instant::now() < until {
        if state::stop_marker(dir).exists() {
            return false;
        }
        std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
    }
    !state::stop_marker(dir).exists()
}

/// Re-execute this supervisor for the container's next life, keeping the
/// monitor lock; returns only if that fails.
fn restart(paths: &Paths, id: &str, lock: &state::Held) {
    let fd = lock.raw_fd();
    // SAFETY: clearing close-on-exec on a descriptor this process owns.
    unsafe { libc::fcntl(fd, libc::F_SETFD, 0) };
    let Ok(exe) = std::env::current_exe() else { return };
    let err = Command::new(exe).arg("--root").arg(&paths.root).arg("__monitor").arg(id).env(LOCK_FD_ENV, fd.to_string()).exec();
    tracing::warn!(%err, "cannot restart the container's supervisor");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_are_one_line_each() {
        for r in [Report::Started, Report::failed(127, &"exec: \"nope\": not found\nsecond line")] {
            let mut line = serde_json::to_string(&r).unwrap();
            assert!(!line.contains('\n'));
            line.push('\n');
            assert_eq!(Report::parse(&line), Some(r));
        }
        assert_eq!(Report::parse("{\"report\":\"started\"}"), None, "a line cut short is no report");
        assert_eq!(Report::parse(""), None);
        assert_eq!(Report::parse("garbage\n"), None);
    }
}
