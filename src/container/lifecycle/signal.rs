//! Signalling a container from a command: stop, kill, wait, rename.
//!
//! Each takes the container's lifecycle lock (`state`), so two commands
//! on one container run one after the other. Stop and kill signal the
//! container's first process directly: they run in the caller's own user
//! namespace, which owns every namespace burrow creates, so the caller
//! may signal any of the container's processes (a command that entered a
//! fresh burrow namespace could not: it would be a sibling). Both leave
//! the stop marker first, so the restart policy lets the container rest.
//! `stop` waits for the supervisor to finish (it releases the monitor
//! lock after recording the exit), sending SIGKILL after the timeout.

use std::time::Duration;

use nix::sys::signal::{kill as send_signal, Signal};
use nix::unistd::Pid;

use crate::container::record::{self, Record, Status};
use crate::container::run::ImageDefaults;
use crate::container::{state, Error, Result};
use crate::lock::StoreLock;
use crate::paths::Paths;

/// Parse `SIGTERM`, `TERM`, `term` or `15`.
pub fn parse_signal(text: &str) -> Option<Signal> {
    if let Ok(n) = text.parse::<i32>() {
        return Signal::try_from(n).ok();
    }
    let upper = text.to_ascii_uppercase();
    let name = if upper.starts_with("SIG") { upper } else { format!("SIG{upper}") };
    name.parse().ok()
}

/// The live first process of a running container.
fn live_pid(r: &Record) -> Option<Pid> {
    (r.status == Status::Running && record::is_alive(r)).then(|| Pid::from_raw(r.pid.unwrap_or(0))).filter(|p| p.as_raw() > 0)
}

fn mark_stopped(paths: &Paths, r: &Record) -> Result<()> {
    let p = state::stop_marker(&r.dir(paths));
    std::fs::write(&p, b"").map_err(|source| Error::Io { path: p, source })
}

/// Stop a container: its stop signal, then SIGKILL after `timeout`
/// seconds (the `--stop-timeout` it was created with, else 10). A
/// container that is not running is left as it is.
pub fn stop(paths: &Paths, key: &str, timeout: Option<u32>) -> Result<Record> {
    let r = record::find(paths, key)?;
    let dir = r.dir(paths);
    let _lock = state::lifecycle(&dir)?;
    if !r.monitor_alive(paths) {
        return Ok(r);
    }
    mark_stopped(paths, &r)?;
    let r = record::find(paths, key)?;
    let config = r.config.clone().unwrap_or_default();
    let defaults =
        crate::image::Store::open(paths).and_then(|s| s.resolve(r.image_id.as_str())).map(|i| ImageDefaults::of(&i)).unwrap_or_default();
    let signal = parse_signal(&config.stop_signal(&defaults)).unwrap_or(Signal::SIGTERM);
    let secs = timeout.or(config.stop_timeout).unwrap_or(10);
    if let Some(pid) = live_pid(&r) {
        let _ = send_signal(pid, signal);
    }
    if !state::wait_monitor_gone(&dir, Some(Duration::from_secs(secs.into()))) {
        if let Some(pid) = live_pid(&record::find(paths, key)?) {
            let _ = send_signal(pid, Signal::SIGKILL);
        }
        state::wait_monitor_gone(&dir, None);
    }
    record::find(paths, key).or(Ok(r))
}

/// Send `signal` to a running container's first process.
pub fn kill(paths: &Paths, key: &str, signal: Signal) -> Result<Record> {
    let r = record::find(paths, key)?;
    let dir = r.dir(paths);
    let _lock = state::lifecycle(&dir)?;
    let Some(pid) = live_pid(&r).filter(|_| r.monitor_alive(paths)) else {
        return Err(Error::NotRunning { name: r.name });
    };
    mark_stopped(paths, &r)?;
    send_signal(pid, signal).map_err(|e| Error::Io { path: dir, source: e.into() })?;
    Ok(r)
}

/// `rm -f`'s first step, with the caller holding the container's
/// lifecycle lock: kill a running container. The caller then waits with
/// `state::wait_monitor_gone` (after killing all of its containers, so
/// their teardowns overlap).
pub fn kill_locked(paths: &Paths, r: &Record) -> Result<()> {
    if !r.monitor_alive(paths) {
        return Ok(());
    }
    mark_stopped(paths, r)?;
    if let Some(pid) = live_pid(&record::find(paths, r.id.as_str())?) {
        let _ = send_signal(pid, Signal::SIGKILL);
    }
    Ok(())
}

/// Block until the container is not running, and return its exit code.
pub fn wait(paths: &Paths, key: &str) -> Result<i32> {
    let r = record::find(paths, key)?;
    state::wait_monitor_gone(&r.dir(paths), None);
    let r = record::observed(paths, record::find(paths, key)?);
    Ok(r.exit_code.unwrap_or(0))
}

/// Give a container a new name.
pub fn rename(paths: &Paths, key: &str, new_name: &str) -> Result<Record> {
    if !record::valid_name(new_name) {
        return Err(Error::InvalidName { name: new_name.into() });
    }
    let _store = StoreLock::exclusive(&paths.lock_file())?;
    let r = record::find(paths, key)?;
    if let Some(other) = record::list(paths)?.into_iter().find(|o| o.name == new_name && o.id != r.id) {
        return Err(Error::NameInUse { name: new_name.into(), id: other.id.short().to_string() });
    }
    r.update(paths, |r| r.name = new_name.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signals() {
        assert_eq!(parse_signal("SIGTERM"), Some(Signal::SIGTERM));
        assert_eq!(parse_signal("kill"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("HUP"), Some(Signal::SIGHUP));
        assert_eq!(parse_signal("9"), Some(Signal::SIGKILL));
        assert_eq!(parse_signal("SIGNOPE"), None);
        assert_eq!(parse_signal("99"), None);
    }
}
