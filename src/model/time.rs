//! Points in time as burrow records them.
//!
//! One type for every recorded time (a container's creation, start and
//! finish): UTC, written as RFC 3339 with nanoseconds and a `Z`, which is
//! how docker prints `Created`, `StartedAt` and `FinishedAt`. Reading
//! accepts any RFC 3339 offset, so records written by older burrow
//! versions (`+00:00`, no fraction) still load.

use std::fmt;

use chrono::{DateTime, SecondsFormat, Utc};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(DateTime<Utc>);

impl Timestamp {
    pub fn now() -> Timestamp {
        Timestamp(Utc::now())
    }

    pub fn time(&self) -> DateTime<Utc> {
        self.0
    }

    /// Any RFC 3339 time, converted to UTC.
    pub fn parse(text: &str) -> Option<Timestamp> {
        DateTime::parse_from_rfc3339(text).ok().map(|t| Timestamp(t.with_timezone(&Utc)))
    }
}

impl From<DateTime<Utc>> for Timestamp {
    fn from(t: DateTime<Utc>) -> Timestamp {
        Timestamp(t)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0.to_rfc3339_opts(SecondsFormat::Nanos, true))
    }
}

impl Serialize for Timestamp {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Timestamp {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Timestamp, D::Error> {
        let text = String::deserialize(d)?;
        Timestamp::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("invalid time {text:?}: expected RFC 3339")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_forms_and_writes_dockers() {
        let old = Timestamp::parse("2024-01-01T10:00:00+00:00").unwrap();
        let new = Timestamp::parse("2024-01-01T10:00:00.000000000Z").unwrap();
        assert_eq!(old, new);
        assert_eq!(old.to_string(), "2024-01-01T10:00:00.000000000Z");
        let json = serde_json::to_string(&old).unwrap();
        assert_eq!(serde_json::from_str::<Timestamp>(&json).unwrap(), old);
        assert!(serde_json::from_str::<Timestamp>("\"yesterday\"").is_err());
    }
}
