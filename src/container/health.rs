//! Healthchecks: `--health-*` flags or the image's HEALTHCHECK, probed by
//! the container's supervisor, reported by `ps` and `inspect`.
//!
//! `resolve` (pure) merges the flags over the image's `Healthcheck`
//! exactly as docker does: `--no-healthcheck` or a test of `["NONE"]`
//! disables it, a flag replaces the image's field, unset fields default
//! to a 30 s interval, a 30 s timeout, 3 retries and no start period.
//! `Health::record` (pure) is docker's state machine: `starting` until
//! the first success (failures inside the start period do not count),
//! `healthy` after a success, `unhealthy` once `retries` probes in a row
//! failed; the last five probes are kept. `run_checker` is the thread the
//! supervisor runs while the container lives: every interval it runs the
//! test with `burrow exec` (so a probe sees exactly what `exec` sees,
//! joins the container's cgroup, and is killed after the timeout) and
//! writes `health.json` in the container's directory (`atomic::write`), which
//! `ps` and `inspect` read.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub use crate::model::health::{parse_duration, Check};
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid {flag} {value:?}: give a duration such as 30s, 1m30s or 500ms")]
    Duration { flag: &'static str, value: String },
    #[error("invalid {flag} {value:?}: {reason}")]
    Value { flag: &'static str, value: String, reason: &'static str },
    #[error("--no-healthcheck conflicts with --health-* options")]
    Conflict,
}

/// The `--health-*` flags as typed.
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub cmd: Option<String>,
    pub interval: Option<String>,
    pub timeout: Option<String>,
    pub retries: Option<u32>,
    pub start_period: Option<String>,
    pub none: bool,
}

/// The image config's `Healthcheck` merged with the flags; `None` when
/// there is no check (or it is disabled).
pub fn resolve(flags: &Flags, image: Option<&Value>) -> Result<Option<Check>, Error> {
    let any_flag = flags.cmd.is_some()
        || flags.interval.is_some()
        || flags.timeout.is_some()
        || flags.retries.is_some()
        || flags.start_period.is_some();
    if flags.none {
        return if any_flag { Err(Error::Conflict) } else { Ok(None) };
    }
    let dur = |flag: &'static str, v: &Option<String>| -> Result<Option<Duration>, Error> {
        v.as_deref()
            .map(|s| match parse_duration(s) {
                Some(d) if d.is_zero() || d >= Duration::from_millis(1) => Ok(d),
                _ => Err(Error::Duration { flag, value: s.into() }),
            })
            .transpose()
    };
    let ns = |key: &str| image.and_then(|h| h.get(key)).and_then(Value::as_u64).filter(|n| *n > 0).map(Duration::from_nanos);
    let image_test: Option<Vec<String>> = image.and_then(|h| h.get("Test")).and_then(|t| serde_json::from_value(t.clone()).ok());
    let test = match (&flags.cmd, image_test) {
        (Some(cmd), _) if cmd.trim().is_empty() => {
            return Err(Error::Value { flag: "--health-cmd", value: cmd.clone(), reason: "the command is empty" })
        }
        (Some(cmd), _) => vec!["CMD-SHELL".to_string(), cmd.clone()],
        (None, Some(t)) if t.first().is_some_and(|f| f == "NONE") => return Ok(None),
        (None, Some(t)) if matches!(t.first().map(String::as_str), Some("CMD" | "CMD-SHELL")) && t.len() > 1 => t,
        (None, _) => return Ok(None),
    };
    let default = Duration::from_secs(30);
    let interval = dur("--health-interval", &flags.interval)?.filter(|d| !d.is_zero()).or(ns("Interval")).unwrap_or(default);
    let timeout = dur("--health-timeout", &flags.timeout)?.filter(|d| !d.is_zero()).or(ns("Timeout")).unwrap_or(default);
    let start_period = dur("--health-start-period", &flags.start_period)?.or(ns("StartPeriod")).unwrap_or_default();
    let retries =
        flags.retries.or(image.and_then(|h| h.get("Retries")).and_then(Value::as_u64).filter(|n| *n > 0).map(|n| n as u32)).unwrap_or(3);
    if retries == 0 {
        return Err(Error::Value { flag: "--health-retries", value: "0".into(), reason: "at least 1" });
    }
    let start_interval = ns("StartInterval");
    Ok(Some(Check { test, interval, timeout, start_period, retries, start_interval }))
}

/// One probe as `inspect` shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Probe {
    pub start: String,
    pub end: String,
    pub exit_code: i32,
    pub output: String,
}

/// docker's `State.Health`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Health {
    pub status: String,
    pub failing_streak: u32,
    pub log: Vec<Probe>,
}

impl Default for Health {
    fn default() -> Health {
        Health { status: "starting".into(), failing_streak: 0, log: Vec::new() }
    }
}

impl Health {
    /// Account for one probe; `starting_up` while inside the start period.
    pub fn record(&mut self, probe: Probe, retries: u32, starting_up: bool) {
        if probe.exit_code == 0 {
            self.status = "healthy".into();
            self.failing_streak = 0;
        } else if !(starting_up && self.status == "starting") {
            self.failing_streak += 1;
            if self.failing_streak >= retries {
                self.status = "unhealthy".into();
            }
        }
        self.log.push(probe);
        let cut = self.log.len().saturating_sub(5);
        self.log.drain(..cut);
    }

    fn path(dir: &Path) -> PathBuf {
        dir.join("health.json")
    }

    /// The container's current health, if it has a check.
    pub fn load(dir: &Path) -> Option<Health> {
        serde_json::from_slice(&std::fs::read(Self::path(dir)).ok()?).ok()
    }

    fn save(&self, dir: &Path) -> std::io::Result<()> {
        crate::atomic::write(&Self::path(dir), &serde_json::to_vec(self).map_err(std::io::Error::other)?)
    }
}

/// Probe `check` for the container `id` every interval until `stop`.
/// Runs in the supervisor, in a thread of its own.
pub fn run_checker(root: PathBuf, dir: PathBuf, id: String, check: Check, stop: Arc<AtomicBool>) {
    let began = Instant::now();
    let mut health = Health::default();
    if let Err(e) = health.save(&dir) {
        tracing::warn!(%e, "cannot record the container's health");
    }
    let sleep = |d: Duration| {
        let until = Instant::now() + d;
        while Instant::now() < until {
            if stop.load(Ordering::Relaxed) {
                return false;
            }
            std::thread::sleep((until - Instant::now()).min(Duration::from_millis(50)));
        }
        !stop.load(Ordering::Relaxed)
    };
    while sleep(check.next_interval(began.elapsed())) {
        let probe = probe(&root, &dir, &id, &check);
        if stop.load(Ordering::Relaxed) {
            break;
        }
        health.record(probe, check.retries, began.elapsed() < check.start_period);
        if let Err(e) = health.save(&dir) {
            tracing::warn!(%e, "cannot record the container's health");
        }
    }
}

/// One probe: `burrow exec ID ARGV`, output to a file, killed at the timeout.
fn probe(root: &Path, dir: &Path, id: &str, check: &Check) -> Probe {
    let start = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    let out_path = dir.join("health.out");
    let result = (|| -> std::io::Result<(i32, String)> {
        let out = std::fs::File::create(&out_path)?;
        let exe = std::env::current_exe()?;
        let mut child = std::process::Command::new(exe)
            .arg("--root")
            .arg(root)
            .arg("exec")
            .arg(id)
            .args(check.argv())
            .stdin(std::process::Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out)
            .spawn()?;
        let deadline = Instant::now() + check.timeout;
        let code = loop {
            if let Some(status) = child.try_wait()? {
                break status.code().unwrap_or(-1);
            }
            if Instant::now() >= deadline {
                let _ = child.kill();
                let _ = child.wait();
                return Ok((-1, format!("Health check exceeded timeout ({:?})", check.timeout)));
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        let mut text = std::fs::read_to_string(&out_path).unwrap_or_default();
        text.truncate(4096);
        Ok((code, text))
    })();
    let (exit_code, output) = result.unwrap_or_else(|e| (-1, format!("cannot run the health check: {e}")));
    let end = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Nanos, true);
    Probe { start, end, exit_code, output }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("1m30s"), Some(Duration::from_secs(90)));
        assert_eq!(parse_duration("500ms"), Some(Duration::from_millis(500)));
        assert_eq!(parse_duration("0"), Some(Duration::ZERO));
        assert_eq!(parse_duration("2h"), Some(Duration::from_secs(7200)));
        for bad in ["", "10", "5x", "s"] {
            assert_eq!(parse_duration(bad), None, "{bad}");
        }
    }

    #[test]
    fn flags_over_image() {
        let image = json!({"Test": ["CMD", "check", "--fast"], "Interval": 5_000_000_000u64, "Retries": 2});
        let c = resolve(&Flags::default(), Some(&image)).unwrap().unwrap();
        assert_eq!(c.argv(), ["check", "--fast"]);
        assert_eq!((c.interval, c.timeout, c.retries), (Duration::from_secs(5), Duration::from_secs(30), 2));
        let flags = Flags { cmd: Some("wget -q localhost".into()), interval: Some("1s".into()), ..Default::default() };
        let c = resolve(&flags, Some(&image)).unwrap().unwrap();
        assert_eq!(c.argv(), ["/bin/sh", "-c", "wget -q localhost"]);
        assert_eq!((c.interval, c.retries), (Duration::from_secs(1), 2));
        assert_eq!(resolve(&Flags { none: true, ..Default::default() }, Some(&image)).unwrap(), None);
        assert_eq!(resolve(&Flags::default(), Some(&json!({"Test": ["NONE"]}))).unwrap(), None);
        assert_eq!(resolve(&Flags::default(), None).unwrap(), None);
        assert!(matches!(resolve(&Flags { none: true, cmd: Some("x".into()), ..Default::default() }, None), Err(Error::Conflict)));
        assert!(resolve(&Flags { cmd: Some("x".into()), interval: Some("soon".into()), ..Default::default() }, None).is_err());
        assert!(resolve(&Flags { cmd: Some("x".into()), retries: Some(0), ..Default::default() }, None).is_err());
    }

    #[test]
    fn state_machine() {
        let p = |code| Probe { start: String::new(), end: String::new(), exit_code: code, output: String::new() };
        let mut h = Health::default();
        h.record(p(1), 2, true);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 0), "start period failures do not count");
        h.record(p(1), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("starting", 1));
        h.record(p(1), 2, false);
        assert_eq!(h.status, "unhealthy");
        h.record(p(0), 2, false);
        assert_eq!((h.status.as_str(), h.failing_streak), ("healthy", 0));
        for _ in 0..10 {
            h.record(p(0), 2, false);
        }
        assert_eq!(h.log.len(), 5);
    }
}
