//! Container logs, kept by the supervisor and read by `burrow logs`.
//!
//! The format is docker's `json-file`: one JSON object per line of
//! output, `{"log":"text\n","stream":"stdout","time":"RFC 3339 nanos"}`,
//! in `containers/<id>/ctr.log`, so stdout and stderr stay apart, every
//! line has its time, and the log outlives the container's process (it
//! goes with `rm`). The supervisor's `writer` pumps the container's two
//! pipes (or its terminal, all of which is stdout) into the file and
//! rotates it at a size limit (`ctr.log.1` is the newest rotated file).
//! `reader` reads the files back oldest first, selects by `--since`,
//! `--until` and `--tail`, and follows the live file across rotations.
//! The pure parts (options, `--since` times, line splitting) are here and
//! in `reader`; only the pumps touch descriptors.

mod reader;
mod writer;

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

pub use crate::model::logs::LogConfig;
pub use reader::{read_all, select, Follower};
pub use writer::{pump, LogWriter};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("invalid --log-opt {opt:?}: {reason}")]
    Option { opt: String, reason: String },
    #[error("log driver {driver:?} is not supported: use json-file (the default) or none")]
    Driver { driver: String },
    #[error("invalid time {text:?} for --since/--until: give an RFC 3339 time (2024-01-02T15:04:05Z), a Unix timestamp or a duration such as 10m or 1h30m")]
    Time { text: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// Which of the container's outputs a line came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stream {
    Stdout,
    Stderr,
}

/// One line of output as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub log: String,
    pub stream: Stream,
    pub time: DateTime<Utc>,
}

impl LogConfig {
    /// Parse `--log-driver` and the `--log-opt KEY=VALUE` list.
    pub fn parse(driver: Option<&str>, opts: &[String]) -> Result<LogConfig> {
        let mut c = LogConfig::default();
        match driver.unwrap_or("json-file") {
            "json-file" | "k8s-file" | "local" => {}
            "none" => c.enabled = false,
            other => return Err(Error::Driver { driver: other.into() }),
        }
        for opt in opts {
            let bad = |reason: &str| Error::Option { opt: opt.clone(), reason: reason.into() };
            let (k, v) = opt.split_once('=').ok_or_else(|| bad("expected KEY=VALUE"))?;
            match k {
                "max-size" => {
                    c.max_size = parse_size(v).filter(|n| *n >= 4096).ok_or_else(|| bad("expected a size of at least 4k such as 10m"))?
                }
                "max-file" => c.max_files = v.parse().ok().filter(|n| *n >= 1).ok_or_else(|| bad("expected a count of at least 1"))?,
                _ => return Err(bad("known options are max-size and max-file")),
            }
        }
        Ok(c)
    }
}

/// docker's sizes: a number with an optional b, k, m or g suffix.
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let (num, mult) = match s.trim_end_matches('b').chars().last()? {
        'k' => (&s[..s.find('k')?], 1u64 << 10),
        'm' => (&s[..s.find('m')?], 1 << 20),
        'g' => (&s[..s.find('g')?], 1 << 30),
        _ => (s.trim_end_matches('b'), 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

/// The live log file of the container in `dir`.
pub fn path(dir: &Path) -> PathBuf {
    dir.join("ctr.log")
}

/// Rotated file `n` (1 is the newest).
fn rotated(dir: &Path, n: u32) -> PathBuf {
    dir.join(format!("ctr.log.{n}"))
}

/// `--since`/`--until`: an RFC 3339 time, a Unix timestamp (with
/// optional fraction), or a duration before `now` (`10m`, `1h30m`, `45s`).
pub fn parse_time(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>> {
    let bad = || Error::Time { text: text.into() };
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Ok(t.with_timezone(&Utc));
    }
    if let Ok(secs) = text.parse::<f64>() {
        let nanos = (secs * 1e9) as i64;
        return Ok(DateTime::from_timestamp_nanos(nanos));
    }
    let mut total = 0f64;
    let mut num = String::new();
    let mut rest = text;
    while !rest.is_empty() {
        let c = rest.chars().next().ok_or_else(bad)?;
        if c.is_ascii_digit() || c == '.' {
            num.push(c);
            rest = &rest[1..];
            continue;
        }
        let (unit, len) = if rest.starts_with("ms") {
            (0.001, 2)
        } else {
            match c {
                'h' => (3600.0, 1),
                'm' => (60.0, 1),
                's' => (1.0, 1),
                _ => return Err(bad()),
            }
        };
        total += num.parse::<f64>().map_err(|_| bad())? * unit;
        num.clear();
        rest = &rest[len..];
    }
    if !num.is_empty() || total == 0.0 && text.is_empty() {
        return Err(bad());
    }
    Ok(now - chrono::Duration::milliseconds((total * 1000.0) as i64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options() {
        let c = LogConfig::parse(None, &["max-size=1m".into(), "max-file=5".into()]).unwrap();
        assert_eq!((c.enabled, c.max_size, c.max_files), (true, 1 << 20, 5));
        assert!(!LogConfig::parse(Some("none"), &[]).unwrap().enabled);
        assert!(matches!(LogConfig::parse(Some("syslog"), &[]), Err(Error::Driver { .. })));
        assert!(LogConfig::parse(None, &["max-size=big".into()]).is_err());
        assert!(LogConfig::parse(None, &["max-file=0".into()]).is_err());
        assert!(LogConfig::parse(None, &["compress=true".into()]).is_err());
        assert_eq!(parse_size("10k"), Some(10240));
        assert_eq!(parse_size("2gb"), Some(2 << 30));
        assert_eq!(parse_size("4096"), Some(4096));
    }

    #[test]
    fn times() {
        let now = DateTime::parse_from_rfc3339("2026-01-02T03:04:05Z").unwrap().with_timezone(&Utc);
        assert_eq!(parse_time("2026-01-02T03:00:00Z", now).unwrap().to_rfc3339(), "2026-01-02T03:00:00+00:00");
        assert_eq!(parse_time("1h30m", now).unwrap().to_rfc3339(), "2026-01-02T01:34:05+00:00");
        assert_eq!(parse_time("5s", now).unwrap().to_rfc3339(), "2026-01-02T03:04:00+00:00");
        assert_eq!(parse_time("0", now).unwrap().timestamp(), 0);
        assert_eq!(parse_time("1700000000.5", now).unwrap().timestamp_millis(), 1_700_000_000_500);
        for bad in ["", "10x", "m", "yesterday"] {
            assert!(parse_time(bad, now).is_err(), "{bad}");
        }
    }
}
