//! A container's healthcheck as its record keeps it, and Go's duration
//! syntax the `--health-*` flags and HEALTHCHECK options are written in.

use std::time::Duration;

use serde::{Deserialize, Serialize};

/// The check a container runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    /// docker's form: ["CMD-SHELL", "cmd"] or ["CMD", "arg0", ...].
    pub test: Vec<String>,
    pub interval: Duration,
    pub timeout: Duration,
    pub start_period: Duration,
    pub retries: u32,
    /// Compose's `start_interval` (docker's StartInterval): the time
    /// between probes while in the start period, when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_interval: Option<Duration>,
}

impl Check {
    /// The time to the next probe, `elapsed` after the container started.
    pub fn next_interval(&self, elapsed: Duration) -> Duration {
        match self.start_interval {
            Some(d) if elapsed < self.start_period && !d.is_zero() => d,
            _ => self.interval,
        }
    }
}

impl Check {
    /// The command `exec` runs.
    pub fn argv(&self) -> Vec<String> {
        match self.test.first().map(String::as_str) {
            Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), self.test[1..].join(" ")],
            Some("CMD") => self.test[1..].to_vec(),
            _ => Vec::new(),
        }
    }
}

/// Go's duration syntax (`1m30s`, `500ms`, `2h`).
pub fn parse_duration(text: &str) -> Option<Duration> {
    let mut total = 0f64;
    let mut rest = text.trim();
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let n = rest.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(rest.len());
        let num: f64 = rest[..n].parse().ok()?;
        rest = &rest[n..];
        let units = [("ns", 1e-9), ("us", 1e-6), ("µs", 1e-6), ("ms", 1e-3), ("s", 1.0), ("m", 60.0), ("h", 3600.0)];
        let (unit, scale) = units.iter().find(|(u, _)| rest.starts_with(u))?;
        total += num * scale;
        rest = &rest[unit.len()..];
    }
    Some(Duration::from_secs_f64(total))
}
