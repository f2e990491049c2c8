//! What the user asked for: docker's `run` resource flags, parsed.
//!
//! Pure parsing with docker's units and rules (github.com/docker/go-units
//! `RAMInBytes`, `ParseUlimit`; the daemon's checks for `--memory-swap`,
//! `--cpus`, `--blkio-weight`). Nothing here looks at the host: whether a
//! limit can be enforced is `plan`'s question.

use super::{Error, Result};
pub use crate::model::limits::{DeviceRate, Request, Swap, Throttle, Ulimit};

/// docker's smallest `--memory` (the daemon refuses less).
pub const MIN_MEMORY: u64 = 6 * 1024 * 1024;

/// docker's `--ulimit` names with their setrlimit(2) resources.
pub const ULIMITS: &[(&str, i32)] = &[
    ("core", libc::RLIMIT_CORE as i32),
    ("cpu", libc::RLIMIT_CPU as i32),
    ("data", libc::RLIMIT_DATA as i32),
    ("fsize", libc::RLIMIT_FSIZE as i32),
    ("locks", libc::RLIMIT_LOCKS as i32),
    ("memlock", libc::RLIMIT_MEMLOCK as i32),
    ("msgqueue", libc::RLIMIT_MSGQUEUE as i32),
    ("nice", libc::RLIMIT_NICE as i32),
    ("nofile", libc::RLIMIT_NOFILE as i32),
    ("nproc", libc::RLIMIT_NPROC as i32),
    ("rss", libc::RLIMIT_RSS as i32),
    ("rtprio", libc::RLIMIT_RTPRIO as i32),
    ("rttime", libc::RLIMIT_RTTIME as i32),
    ("sigpending", libc::RLIMIT_SIGPENDING as i32),
    ("stack", libc::RLIMIT_STACK as i32),
];

impl Request {
    /// Whether any cgroup limit was asked for (ulimits are rlimits).
    pub fn wants_cgroup(&self) -> bool {
        self.memory.is_some()
            || self.memory_swap.is_some()
            || self.nano_cpus.is_some()
            || self.cpu_shares.is_some()
            || self.cpuset_cpus.is_some()
            || self.pids_limit.is_some()
            || self.blkio_weight.is_some()
            || !self.device_rates.is_empty()
    }

    /// The rules between flags that docker checks before anything runs.
    pub fn validate(&self) -> Result<()> {
        if let Some(Swap::Total(total)) = self.memory_swap {
            let Some(memory) = self.memory else {
                return Err(Error::invalid("--memory-swap", "set --memory as well: the swap limit is memory plus swap"));
            };
            if total < memory {
                return Err(Error::invalid("--memory-swap", "it must be at least --memory (it is the total of memory and swap)"));
            }
        }
        for u in &self.ulimits {
            if u.soft > u.hard {
                return Err(Error::invalid("--ulimit", &format!("{}: the soft limit is above the hard limit", u.name)));
            }
        }
        Ok(())
    }
}

/// docker's `RAMInBytes`: a number with an optional binary unit
/// b, k, m, g, t, p (optionally followed by "b" or "ib"), case-insensitive.
pub fn parse_bytes(flag: &str, text: &str) -> Result<u64> {
    let t = text.trim().to_ascii_lowercase();
    let split = t.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(t.len());
    let (num, unit) = t.split_at(split);
    let unit = unit.trim_start();
    let bad = || Error::invalid(flag, &format!("{text:?} is not a size: use a number with b, k, m or g (64m)"));
    let letter = unit.strip_suffix("ib").or_else(|| unit.strip_suffix('b')).filter(|l| !l.is_empty() || unit == "b").unwrap_or(unit);
    let shift = match letter {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        "p" => 50,
        _ => return Err(bad()),
    };
    let value: f64 = num.parse().map_err(|_| bad())?;
    let bytes = value * (1u64 << shift) as f64;
    if !bytes.is_finite() || bytes >= u64::MAX as f64 {
        return Err(Error::invalid(flag, &format!("{text:?} is too large")));
    }
    Ok(bytes as u64)
}

/// `--memory`: a size of at least 6 MiB.
pub fn parse_memory(text: &str) -> Result<u64> {
    let m = parse_bytes("--memory", text)?;
    if m < MIN_MEMORY {
        return Err(Error::invalid("--memory", "the minimum memory limit is 6m"));
    }
    Ok(m)
}

/// `--memory-swap`: -1 for unlimited, else a size.
pub fn parse_swap(text: &str) -> Result<Swap> {
    if text.trim() == "-1" {
        return Ok(Swap::Unlimited);
    }
    Ok(Swap::Total(parse_bytes("--memory-swap", text)?))
}

/// `--cpus`: a positive decimal number of CPUs, as billionths.
pub fn parse_cpus(text: &str) -> Result<u64> {
    let bad = || Error::invalid("--cpus", &format!("{text:?} is not a number of CPUs: use a decimal such as 0.5 or 2"));
    let (int, frac) = text.trim().split_once('.').unwrap_or((text.trim(), ""));
    if (int.is_empty() && frac.is_empty()) || !int.chars().all(|c| c.is_ascii_digit()) || !frac.chars().all(|c| c.is_ascii_digit()) {
        return Err(bad());
    }
    if frac.len() > 9 {
        return Err(Error::invalid("--cpus", "at most nine decimal places are meaningful"));
    }
    let whole: u64 = if int.is_empty() { 0 } else { int.parse().map_err(|_| bad())? };
    let part: u64 = if frac.is_empty() { 0 } else { format!("{frac:0<9}").parse().map_err(|_| bad())? };
    let nano = whole.checked_mul(1_000_000_000).and_then(|w| w.checked_add(part)).ok_or_else(bad)?;
    if nano == 0 {
        return Err(Error::invalid("--cpus", "it must be above 0 (leave it out for no limit)"));
    }
    // The kernel's smallest quota is 1ms per 100ms period.
    if nano < 10_000_000 {
        return Err(Error::invalid("--cpus", "the smallest limit is 0.01"));
    }
    Ok(nano)
}

/// `--cpu-shares`: a positive integer (the kernel's range is 2 to 262144).
pub fn parse_shares(text: &str) -> Result<u64> {
    let n: u64 = text.trim().parse().map_err(|_| Error::invalid("--cpu-shares", &format!("{text:?} is not a number")))?;
    if !(2..=262_144).contains(&n) {
        return Err(Error::invalid("--cpu-shares", "it must be between 2 and 262144 (1024 is the default weight)"));
    }
    Ok(n)
}

/// The CPUs of a cpuset list such as "0-2,4".
pub fn parse_cpu_list(flag: &str, text: &str) -> Result<Vec<u32>> {
    let bad = || Error::invalid(flag, &format!("{text:?} is not a CPU list: use numbers and ranges such as 0-2,4"));
    let mut out = Vec::new();
    for part in text.trim().split(',') {
        let (a, b) = part.split_once('-').unwrap_or((part, part));
        let (a, b): (u32, u32) = (a.trim().parse().map_err(|_| bad())?, b.trim().parse().map_err(|_| bad())?);
        if a > b || b - a > 4096 {
            return Err(bad());
        }
        out.extend(a..=b);
    }
    out.sort_unstable();
    out.dedup();
    Ok(out)
}

/// `--pids-limit`: a positive number, or 0 / -1 for unlimited.
pub fn parse_pids(text: &str) -> Result<Option<u64>> {
    let n: i64 = text.trim().parse().map_err(|_| Error::invalid("--pids-limit", &format!("{text:?} is not a number")))?;
    Ok((n > 0).then_some(n as u64))
}

/// `--blkio-weight`: 10 to 1000 (0 means unset, as in docker).
pub fn parse_blkio_weight(text: &str) -> Result<Option<u16>> {
    let n: u16 = text.trim().parse().map_err(|_| Error::invalid("--blkio-weight", &format!("{text:?} is not a number")))?;
    match n {
        0 => Ok(None),
        10..=1000 => Ok(Some(n)),
        _ => Err(Error::invalid("--blkio-weight", "it must be between 10 and 1000")),
    }
}

/// `--device-*-bps DEVICE:RATE` (a size per second) and
/// `--device-*-iops DEVICE:RATE` (a plain number).
pub fn parse_device_rate(kind: Throttle, text: &str) -> Result<DeviceRate> {
    let flag = kind.flag();
    let Some((path, rate)) = text.rsplit_once(':') else {
        return Err(Error::invalid(flag, &format!("{text:?} is not DEVICE:RATE (for example /dev/sda:10mb)")));
    };
    if !path.starts_with("/dev/") {
        return Err(Error::invalid(flag, &format!("{path:?} is not a device path under /dev")));
    }
    let rate = match kind {
        Throttle::ReadBps | Throttle::WriteBps => parse_bytes(flag, rate)?,
        Throttle::ReadIops | Throttle::WriteIops => {
            rate.trim().parse().map_err(|_| Error::invalid(flag, &format!("{rate:?} is not a number of operations per second")))?
        }
    };
    if rate == 0 {
        return Err(Error::invalid(flag, "the rate must be above 0"));
    }
    Ok(DeviceRate { kind, path: path.to_string(), rate })
}

/// `--ulimit NAME=SOFT[:HARD]` as docker's `ParseUlimit`: a known name, -1
/// or "unlimited" for no limit, HARD defaults to SOFT.
pub fn parse_ulimit(text: &str) -> Result<Ulimit> {
    let Some((name, values)) = text.split_once('=') else {
        return Err(Error::invalid("--ulimit", &format!("{text:?} is not NAME=SOFT[:HARD] (for example nofile=1024:2048)")));
    };
    if !ULIMITS.iter().any(|(n, _)| *n == name) {
        let names: Vec<&str> = ULIMITS.iter().map(|(n, _)| *n).collect();
        return Err(Error::invalid("--ulimit", &format!("unknown limit {name:?}: use one of {}", names.join(", "))));
    }
    let value = |v: &str| -> Result<u64> {
        match v.trim() {
            "-1" | "unlimited" => Ok(u64::MAX),
            n => n.parse().map_err(|_| Error::invalid("--ulimit", &format!("{name}: {n:?} is not a number"))),
        }
    };
    let (soft, hard) = match values.split_once(':') {
        Some((s, h)) => (value(s)?, value(h)?),
        None => {
            let v = value(values)?;
            (v, v)
        }
    };
    if soft > hard {
        return Err(Error::invalid("--ulimit", &format!("{name}: the soft limit {soft} is above the hard limit {hard}")));
    }
    Ok(Ulimit { name: name.to_string(), soft, hard })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_binary_units() {
        assert_eq!(parse_bytes("x", "64m").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("x", "64M").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("x", "64mb").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("x", "64MiB").unwrap(), 64 << 20);
        assert_eq!(parse_bytes("x", "1g").unwrap(), 1 << 30);
        assert_eq!(parse_bytes("x", "1.5k").unwrap(), 1536);
        assert_eq!(parse_bytes("x", "100").unwrap(), 100);
        assert_eq!(parse_bytes("x", "100b").unwrap(), 100);
        for bad in ["", "m", "64x", "-1", "64mbb", "1..2k", "64ib"] {
            assert!(parse_bytes("x", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn memory_has_docker_minimum() {
        assert!(parse_memory("4m").is_err());
        assert_eq!(parse_memory("6m").unwrap(), MIN_MEMORY);
        assert_eq!(parse_swap("-1").unwrap(), Swap::Unlimited);
        assert_eq!(parse_swap("128m").unwrap(), Swap::Total(128 << 20));
    }

    #[test]
    fn swap_must_cover_memory() {
        let mut r = Request { memory: Some(64 << 20), memory_swap: Some(Swap::Total(32 << 20)), ..Default::default() };
        assert!(r.validate().unwrap_err().to_string().contains("at least --memory"));
        r.memory_swap = Some(Swap::Total(64 << 20));
        r.validate().unwrap();
        r.memory = None;
        assert!(r.validate().unwrap_err().to_string().contains("set --memory"));
        r.memory_swap = Some(Swap::Unlimited);
        r.validate().unwrap();
    }

    #[test]
    fn cpus_are_decimal() {
        assert_eq!(parse_cpus("0.5").unwrap(), 500_000_000);
        assert_eq!(parse_cpus("2").unwrap(), 2_000_000_000);
        assert_eq!(parse_cpus(".25").unwrap(), 250_000_000);
        assert_eq!(parse_cpus("1.000000001").unwrap(), 1_000_000_001);
        for bad in ["", ".", "0", "0.001", "-1", "1e3", "a", "1.2.3", "1.0000000001"] {
            assert!(parse_cpus(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn shares_pids_weight() {
        assert_eq!(parse_shares("512").unwrap(), 512);
        assert!(parse_shares("1").is_err());
        assert_eq!(parse_pids("20").unwrap(), Some(20));
        assert_eq!(parse_pids("0").unwrap(), None);
        assert_eq!(parse_pids("-1").unwrap(), None);
        assert!(parse_pids("x").is_err());
        assert_eq!(parse_blkio_weight("500").unwrap(), Some(500));
        assert_eq!(parse_blkio_weight("0").unwrap(), None);
        assert!(parse_blkio_weight("5").is_err());
        assert!(parse_blkio_weight("1001").is_err());
    }

    #[test]
    fn cpu_lists() {
        assert_eq!(parse_cpu_list("x", "0-2,4").unwrap(), vec![0, 1, 2, 4]);
        assert_eq!(parse_cpu_list("x", "1").unwrap(), vec![1]);
        for bad in ["", "a", "2-1", "0,", "-1"] {
            assert!(parse_cpu_list("x", bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn device_rates() {
        let r = parse_device_rate(Throttle::ReadBps, "/dev/sda:1mb").unwrap();
        assert_eq!((r.path.as_str(), r.rate), ("/dev/sda", 1 << 20));
        assert_eq!(parse_device_rate(Throttle::WriteIops, "/dev/sda:100").unwrap().rate, 100);
        assert!(parse_device_rate(Throttle::WriteIops, "/dev/sda:1k").is_err());
        assert!(parse_device_rate(Throttle::ReadBps, "sda:1mb").is_err());
        assert!(parse_device_rate(Throttle::ReadBps, "/dev/sda").is_err());
        assert!(parse_device_rate(Throttle::ReadBps, "/dev/sda:0").is_err());
    }

    #[test]
    fn ulimits_like_docker() {
        assert_eq!(parse_ulimit("nofile=64:128").unwrap(), Ulimit { name: "nofile".into(), soft: 64, hard: 128 });
        assert_eq!(parse_ulimit("nproc=10").unwrap(), Ulimit { name: "nproc".into(), soft: 10, hard: 10 });
        assert_eq!(parse_ulimit("core=-1").unwrap().hard, u64::MAX);
        assert_eq!(parse_ulimit("memlock=unlimited:unlimited").unwrap().soft, u64::MAX);
        assert!(parse_ulimit("nofile=128:64").is_err());
        assert!(parse_ulimit("files=1").unwrap_err().to_string().contains("nofile"));
        assert!(parse_ulimit("nofile").is_err());
        assert!(parse_ulimit("nofile=x").is_err());
    }
}
