//! `--restart`: whether the supervisor starts an exited container again.
//!
//! docker's policies: `no`, `on-failure[:N]` (a non-zero exit, at most N
//! restarts when N is given), `always` and `unless-stopped` (both restart
//! after any exit; they differ only after a daemon restart, which burrow
//! does not have, so they behave the same here). A container the user
//! stopped (`stop`, `kill`, `rm -f`, `restart`) is never restarted. The
//! delay before a restart doubles from 100 ms up to a minute, and starts
//! over once a run lasted at least ten seconds, as docker does.

use std::time::Duration;

pub use crate::model::restart::Policy;

#[derive(Debug, thiserror::Error)]
#[error("invalid --restart {text:?}: use no, on-failure[:MAX-RETRIES], always or unless-stopped")]
pub struct Error {
    text: String,
}

impl std::str::FromStr for Policy {
    type Err = Error;
    fn from_str(s: &str) -> Result<Policy, Error> {
        let bad = || Error { text: s.into() };
        match s.split_once(':') {
            None => match s {
                "" | "no" => Ok(Policy::No),
                "on-failure" => Ok(Policy::OnFailure { max_retries: None }),
                "always" => Ok(Policy::Always),
                "unless-stopped" => Ok(Policy::UnlessStopped),
                _ => Err(bad()),
            },
            Some(("on-failure", n)) => Ok(Policy::OnFailure { max_retries: Some(n.parse().map_err(|_| bad())?) }),
            Some(_) => Err(bad()),
        }
    }
}

impl Policy {
    /// docker's `HostConfig.RestartPolicy` name and retry count.
    pub fn docker(self) -> (&'static str, u32) {
        match self {
            Policy::No => ("no", 0),
            Policy::OnFailure { max_retries } => ("on-failure", max_retries.unwrap_or(0)),
            Policy::Always => ("always", 0),
            Policy::UnlessStopped => ("unless-stopped", 0),
        }
    }

    /// After an exit with `code` following `restarts` restarts: wait this
    /// long and start again, or `None` to stay exited.
    pub fn decide(self, code: i32, restarts: u32, stopped_by_user: bool, ran_for: Duration) -> Option<Duration> {
        if stopped_by_user {
            return None;
        }
        let again = match self {
            Policy::No => false,
            Policy::OnFailure { max_retries } => code != 0 && max_retries.is_none_or(|n| restarts < n),
            Policy::Always | Policy::UnlessStopped => true,
        };
        if !again {
            return None;
        }
        let step = if ran_for >= Duration::from_secs(10) { 0 } else { restarts.min(10) };
        Some((Duration::from_millis(100) * 2u32.pow(step)).min(Duration::from_secs(60)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse() {
        assert_eq!("no".parse::<Policy>().unwrap(), Policy::No);
        assert_eq!("on-failure:3".parse::<Policy>().unwrap(), Policy::OnFailure { max_retries: Some(3) });
        assert_eq!("on-failure".parse::<Policy>().unwrap(), Policy::OnFailure { max_retries: None });
        assert_eq!("unless-stopped".parse::<Policy>().unwrap(), Policy::UnlessStopped);
        for bad in ["sometimes", "on-failure:x", "always:2", "on-failure:-1"] {
            assert!(bad.parse::<Policy>().is_err(), "{bad}");
        }
    }

    #[test]
    fn decisions() {
        let quick = Duration::from_millis(5);
        let f3 = Policy::OnFailure { max_retries: Some(3) };
        assert_eq!(f3.decide(1, 0, false, quick), Some(Duration::from_millis(100)));
        assert_eq!(f3.decide(1, 2, false, quick), Some(Duration::from_millis(400)));
        assert_eq!(f3.decide(1, 3, false, quick), None);
        assert_eq!(f3.decide(0, 0, false, quick), None);
        assert_eq!(Policy::Always.decide(0, 50, false, quick), Some(Duration::from_secs(60)));
        assert_eq!(Policy::Always.decide(0, 50, false, Duration::from_secs(11)), Some(Duration::from_millis(100)));
        assert_eq!(Policy::Always.decide(1, 0, true, quick), None);
        assert_eq!(Policy::No.decide(1, 0, false, quick), None);
    }
}
