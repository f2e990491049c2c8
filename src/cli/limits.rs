//! The resource flags of `run`, and `stats`, `pause`, `unpause`.

use std::io::Write as _;

use burrow::container::{record, Record, Status};
use burrow::limits::{self, Request, Throttle};
use burrow::paths::Paths;

/// `run`'s resource limit flags (docker's names and units).
#[derive(clap::Args, Debug, Default)]
pub struct LimitArgs {
    /// Memory limit (a size with b, k, m or g: 64m)
    #[arg(short, long, value_name = "BYTES")]
    memory: Option<String>,
    /// Memory plus swap limit (-1: unlimited swap; default twice --memory)
    #[arg(long = "memory-swap", value_name = "BYTES", allow_hyphen_values = true)]
    memory_swap: Option<String>,
    /// Number of CPUs (decimal: 0.5 is half a CPU)
    #[arg(long, value_name = "N")]
    cpus: Option<String>,
    /// CPU shares (relative weight; 1024 is the default)
    #[arg(short = 'c', long = "cpu-shares", value_name = "N")]
    cpu_shares: Option<String>,
    /// CPUs in which to allow execution (0-3, 0,1)
    #[arg(long = "cpuset-cpus", value_name = "LIST")]
    cpuset_cpus: Option<String>,
    /// Limit the number of processes (0 or -1: unlimited)
    #[arg(long = "pids-limit", value_name = "N", allow_hyphen_values = true)]
    pids_limit: Option<String>,
    /// Block I/O weight, 10 to 1000 (0: unset)
    #[arg(long = "blkio-weight", value_name = "N")]
    blkio_weight: Option<String>,
    /// Limit read rate from a device (DEVICE:RATE, RATE a size per second)
    #[arg(long = "device-read-bps", value_name = "DEV:RATE")]
    device_read_bps: Vec<String>,
    /// Limit write rate to a device (DEVICE:RATE, RATE a size per second)
    #[arg(long = "device-write-bps", value_name = "DEV:RATE")]
    device_write_bps: Vec<String>,
    /// Limit read operations per second from a device (DEVICE:N)
    #[arg(long = "device-read-iops", value_name = "DEV:N")]
    device_read_iops: Vec<String>,
    /// Limit write operations per second to a device (DEVICE:N)
    #[arg(long = "device-write-iops", value_name = "DEV:N")]
    device_write_iops: Vec<String>,
    /// Ulimit options (NAME=SOFT[:HARD], e.g. nofile=1024:2048)
    #[arg(long, value_name = "NAME=SOFT[:HARD]")]
    ulimit: Vec<String>,
    /// strict (default): fail when a limit cannot be enforced here; best-effort: warn and run without it
    #[arg(long, value_name = "MODE", default_value = "strict", value_parser = ["strict", "best-effort"])]
    limits: String,
}

impl LimitArgs {
    /// Parse the flags into the engine's request.
    pub fn request(&self) -> anyhow::Result<Request> {
        let mut r = Request {
            memory: self.memory.as_deref().map(limits::parse_memory).transpose()?,
            memory_swap: self.memory_swap.as_deref().map(limits::parse_swap).transpose()?,
            nano_cpus: self.cpus.as_deref().map(limits::parse_cpus).transpose()?,
            cpu_shares: self.cpu_shares.as_deref().map(limits::parse_shares).transpose()?,
            cpuset_cpus: self.cpuset_cpus.clone(),
            pids_limit: self.pids_limit.as_deref().map(limits::parse_pids).transpose()?.flatten(),
            blkio_weight: self.blkio_weight.as_deref().map(limits::parse_blkio_weight).transpose()?.flatten(),
            device_rates: Vec::new(),
            ulimits: self.ulimit.iter().map(|u| limits::parse_ulimit(u)).collect::<Result<_, _>>()?,
            best_effort: self.limits == "best-effort",
        };
        if let Some(list) = &r.cpuset_cpus {
            limits::parse_cpu_list("--cpuset-cpus", list)?;
        }
        let kinds = [
            (Throttle::ReadBps, &self.device_read_bps),
            (Throttle::WriteBps, &self.device_write_bps),
            (Throttle::ReadIops, &self.device_read_iops),
            (Throttle::WriteIops, &self.device_write_iops),
        ];
        for (kind, values) in kinds {
            for v in values {
                r.device_rates.push(limits::parse_device_rate(kind, v)?);
            }
        }
        Ok(r)
    }
}

/// Parse and check the limits before anything of the container exists;
/// with `--limits=best-effort` what cannot be enforced is a warning.
pub fn prepare(args: &LimitArgs) -> anyhow::Result<Request> {
    let request = args.request()?;
    for refusal in limits::preflight(&request)? {
        eprintln!("warning: {refusal}");
    }
    Ok(request)
}

/// docker's HostConfig fields for the limits, added to `inspect`'s.
pub fn add_host_config(host_config: &mut serde_json::Value, r: &Request) {
    let rates = |k: Throttle| -> Vec<serde_json::Value> {
        r.device_rates.iter().filter(|d| d.kind == k).map(|d| serde_json::json!({ "Path": d.path, "Rate": d.rate })).collect()
    };
    let unlimited = |v: u64| if v == u64::MAX { -1 } else { v as i64 };
    let fields = serde_json::json!({
        "Memory": r.memory.unwrap_or(0),
        "MemorySwap": match r.memory_swap {
            Some(limits::Swap::Unlimited) => -1,
            Some(limits::Swap::Total(t)) => t as i64,
            None => r.memory.map_or(0, |m| 2 * m as i64),
        },
        "NanoCpus": r.nano_cpus.unwrap_or(0),
        "CpuShares": r.cpu_shares.unwrap_or(0),
        "CpusetCpus": r.cpuset_cpus.clone().unwrap_or_default(),
        "PidsLimit": r.pids_limit,
        "BlkioWeight": r.blkio_weight.unwrap_or(0),
        "BlkioDeviceReadBps": rates(Throttle::ReadBps),
        "BlkioDeviceWriteBps": rates(Throttle::WriteBps),
        "BlkioDeviceReadIOps": rates(Throttle::ReadIops),
        "BlkioDeviceWriteIOps": rates(Throttle::WriteIops),
        "Ulimits": r.ulimits.iter().map(|u| serde_json::json!({ "Name": u.name, "Soft": unlimited(u.soft), "Hard": unlimited(u.hard) })).collect::<Vec<_>>(),
    });
    if let (Some(out), serde_json::Value::Object(add)) = (host_config.as_object_mut(), fields) {
        out.extend(add);
    }
}

#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Show all containers (default shows just running)
    #[arg(short, long)]
    all: bool,
    /// Print one sample and exit instead of refreshing every second
    #[arg(long)]
    no_stream: bool,
    /// Don't truncate output
    #[arg(long)]
    no_trunc: bool,
    /// Output format: table (default) or json (one object a line)
    #[arg(long, default_value = "table")]
    format: String,
    /// Containers (default: all running)
    containers: Vec<String>,
}

/// One sample of one container.
struct Sample {
    record: Record,
    stats: Option<limits::Stats>,
    at: std::time::Instant,
}

fn sample(paths: &Paths, args: &StatsArgs) -> anyhow::Result<Vec<Sample>> {
    let records: Vec<Record> = if args.containers.is_empty() {
        record::list(paths)?.into_iter().filter(|r| args.all || (r.status == Status::Running && record::is_alive(r))).collect()
    } else {
        args.containers.iter().map(|k| record::find(paths, k)).collect::<Result<_, _>>()?
    };
    Ok(records
        .into_iter()
        .map(|record| {
            let stats = limits::Cgroup::open(record.id.as_str()).ok().map(|c| c.stats());
            Sample { record, stats, at: std::time::Instant::now() }
        })
        .collect())
}

pub fn stats(paths: &Paths, args: &StatsArgs) -> anyhow::Result<()> {
    if !["table", "json"].contains(&args.format.as_str()) {
        anyhow::bail!("unsupported --format {:?}: use table or json", args.format);
    }
    let mut before = sample(paths, args)?;
    loop {
        std::thread::sleep(std::time::Duration::from_secs(1));
        let now = sample(paths, args)?;
        let mut out = String::new();
        if !args.no_stream && args.format == "table" {
            // Clear the screen and go home, as docker's streaming table.
            out.push_str("\x1b[2J\x1b[H");
        }
        if args.format == "table" {
            out.push_str(&format!(
                "{:<14}{:<20}{:<9}{:<22}{:<9}{:<12}{:<20}PIDS\n",
                "CONTAINER ID", "NAME", "CPU %", "MEM USAGE / LIMIT", "MEM %", "NET I/O", "BLOCK I/O"
            ));
        }
        for s in &now {
            let prev = before.iter().find(|b| b.record.id == s.record.id);
            let row = Row::of(s, prev, args.no_trunc);
            if args.format == "json" {
                out.push_str(&serde_json::to_string(&row)?);
                out.push('\n');
            } else {
                out.push_str(&format!(
                    "{:<14}{:<20}{:<9}{:<22}{:<9}{:<12}{:<20}{}\n",
                    row.id, row.name, row.cpu_perc, row.mem_usage, row.mem_perc, row.net_io, row.block_io, row.pids
                ));
            }
        }
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(out.as_bytes())?;
        stdout.flush()?;
        if args.no_stream {
            return Ok(());
        }
        before = now;
    }
}

/// One line of `stats`, with docker's `--format json` keys.
#[derive(serde::Serialize)]
struct Row {
    #[serde(rename = "ID")]
    id: String,
    #[serde(rename = "Name")]
    name: String,
    #[serde(rename = "CPUPerc")]
    cpu_perc: String,
    #[serde(rename = "MemUsage")]
    mem_usage: String,
    #[serde(rename = "MemPerc")]
    mem_perc: String,
    #[serde(rename = "NetIO")]
    net_io: String,
    #[serde(rename = "BlockIO")]
    block_io: String,
    #[serde(rename = "PIDs")]
    pids: String,
    /// The counters as read (burrow's addition).
    #[serde(rename = "Raw")]
    raw: Option<limits::Stats>,
}

impl Row {
    fn of(s: &Sample, prev: Option<&Sample>, no_trunc: bool) -> Row {
        let dash = || "--".to_string();
        let st = s.stats.clone();
        let cpu = match (&st, prev.and_then(|p| p.stats.as_ref().map(|ps| (ps, p.at)))) {
            (Some(now), Some((then, at))) => match (now.cpu_usage_ns, then.cpu_usage_ns) {
                (Some(a), Some(b)) => {
                    let wall = s.at.duration_since(at).as_nanos().max(1) as f64;
                    format!("{:.2}%", a.saturating_sub(b) as f64 / wall * 100.0)
                }
                _ => dash(),
            },
            _ => dash(),
        };
        let total = host_memory();
        let (mem_usage, mem_perc) = match st.as_ref().and_then(|x| x.memory_usage.map(|u| (u, x.memory_limit))) {
            Some((used, limit)) => {
                let limit = limit.or(total).unwrap_or(0);
                let perc = if limit > 0 { format!("{:.2}%", used as f64 / limit as f64 * 100.0) } else { dash() };
                (format!("{} / {}", human(used), human(limit)), perc)
            }
            None => (dash(), dash()),
        };
        let block_io = match st.as_ref().and_then(|x| Some((x.blkio_read_bytes?, x.blkio_write_bytes?))) {
            Some((r, w)) => format!("{} / {}", human_si(r), human_si(w)),
            None => dash(),
        };
        let pids = st.as_ref().and_then(|x| x.pids_current).map_or_else(dash, |p| p.to_string());
        Row {
            id: if no_trunc { s.record.id.to_string() } else { s.record.id.short().to_string() },
            name: s.record.name.clone(),
            cpu_perc: cpu,
            mem_usage,
            mem_perc,
            net_io: dash(),
            block_io,
            pids,
            raw: st,
        }
    }
}

/// The host's memory, docker's limit for a container without one.
fn host_memory() -> Option<u64> {
    let info = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kb: u64 = info.lines().find_map(|l| l.strip_prefix("MemTotal:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb * 1024)
}

/// docker's binary sizes for memory: 1.5MiB, 64MiB, 23.4GiB.
fn human(b: u64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1024.0 && i + 1 < units.len() {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{b}B")
    } else {
        trim(format!("{v:.2}")) + units[i]
    }
}

/// docker's decimal sizes for I/O: 0B, 1.2MB.
fn human_si(b: u64) -> String {
    let units = ["B", "kB", "MB", "GB", "TB"];
    let mut v = b as f64;
    let mut i = 0;
    while v >= 1000.0 && i + 1 < units.len() {
        v /= 1000.0;
        i += 1;
    }
    if i == 0 {
        format!("{b}B")
    } else {
        trim(format!("{v:.2}")) + units[i]
    }
}

/// "1.50" → "1.5", "64.00" → "64".
fn trim(n: String) -> String {
    n.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[derive(clap::Args, Debug)]
pub struct PauseArgs {
    /// Containers (names or ids)
    #[arg(required = true)]
    containers: Vec<String>,
}

/// `pause` (freeze) or `unpause` (thaw) each container; docker's output
/// and exit status (125 when any failed).
pub fn pause(paths: &Paths, args: &PauseArgs, freeze: bool) -> anyhow::Result<()> {
    let mut failed = false;
    for key in &args.containers {
        let result = (|| -> anyhow::Result<()> {
            let r = record::find(paths, key)?;
            if r.status != Status::Running || !record::is_alive(&r) {
                anyhow::bail!("container {} is not running", r.name);
            }
            let cg = limits::Cgroup::open(r.id.as_str())?;
            match (freeze, cg.is_frozen()) {
                (true, true) => anyhow::bail!("container {} is already paused", r.name),
                (false, false) => anyhow::bail!("container {} is not paused", r.name),
                (true, false) => cg.freeze()?,
                (false, true) => cg.thaw()?,
            }
            Ok(())
        })();
        match result {
            Ok(()) => println!("{key}"),
            Err(e) => {
                eprintln!("Error: {}", super::describe(&e));
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some containers could not be {}", if freeze { "paused" } else { "unpaused" });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_print_like_docker() {
        assert_eq!(human(512), "512B");
        assert_eq!(human(64 << 20), "64MiB");
        assert_eq!(human(1536), "1.5KiB");
        assert_eq!(human_si(0), "0B");
        assert_eq!(human_si(1_234_567), "1.23MB");
    }
}
