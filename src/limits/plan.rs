//! The decision: a `Request` and what the host delegates → the cgroup
//! files to write, or why a limit cannot be enforced here.
//!
//! Pure: the host is plain data (`Host`) and device numbers come from a
//! lookup function, so every rule is unit-tested. The values follow
//! docker and runc: `--memory-swap` defaults to twice `--memory`, `--cpus`
//! is a CFS quota over a 100 ms period, cgroup v2 weights are converted
//! from docker's v1 ranges with runc's formulas.

use std::collections::BTreeMap;

use serde::Serialize;

use super::host::{DeviceError, Host, Version};
use super::request::{Request, Swap, Throttle};
use super::{Error, Result};

/// A cgroup controller (v1 name `blkio` is `Io` here).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Controller {
    Memory,
    Pids,
    Cpu,
    Cpuacct,
    Cpuset,
    Io,
    Freezer,
}

impl Controller {
    pub const ALL: [Controller; 7] = [
        Controller::Memory,
        Controller::Pids,
        Controller::Cpu,
        Controller::Cpuacct,
        Controller::Cpuset,
        Controller::Io,
        Controller::Freezer,
    ];

    /// The name of its v1 hierarchy under /sys/fs/cgroup.
    pub fn v1_name(self) -> &'static str {
        match self {
            Controller::Memory => "memory",
            Controller::Pids => "pids",
            Controller::Cpu => "cpu",
            Controller::Cpuacct => "cpuacct",
            Controller::Cpuset => "cpuset",
            Controller::Io => "blkio",
            Controller::Freezer => "freezer",
        }
    }

    /// Its name in cgroup v2's cgroup.controllers; `None` for the ones v2
    /// has built in (cpu accounting is in cpu.stat, freezing in
    /// cgroup.freeze).
    pub fn v2_name(self) -> Option<&'static str> {
        match self {
            Controller::Memory => Some("memory"),
            Controller::Pids => Some("pids"),
            Controller::Cpu => Some("cpu"),
            Controller::Cpuset => Some("cpuset"),
            Controller::Io => Some("io"),
            Controller::Cpuacct | Controller::Freezer => None,
        }
    }
}

/// One file to write in the container's cgroup of `controller`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: Controller,
    pub file: &'static str,
    pub value: String,
}

/// A limit this host cannot enforce: which, why, and how to get it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub limit: String,
    pub reason: String,
    pub fix: String,
}

impl Refusal {
    pub fn into_error(self) -> Error {
        Error::NotEnforceable { limit: self.limit, reason: self.reason, fix: self.fix }
    }
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} is not enforced, running without it: {}; {}", self.limit, self.reason, self.fix)
    }
}

/// The files to write, in order, and the limits that cannot be enforced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub writes: Vec<Write>,
    pub refused: Vec<Refusal>,
}

/// docker's CFS period for `--cpus`, microseconds.
const CPU_PERIOD_US: u64 = 100_000;

/// Finds a device path's major and minor numbers, or says why not.
pub type DeviceLookup<'a> = &'a dyn Fn(&str) -> std::result::Result<(u64, u64), DeviceError>;

/// Decide what to write for `req` on `host`.
pub fn plan(req: &Request, host: &Host, device: DeviceLookup) -> Result<Plan> {
    let mut p = Planner { host, v2: host.version == Version::V2, plan: Plan::default() };
    p.memory(req);
    p.cpus(req)?;
    p.cpu_shares(req);
    p.cpuset(req)?;
    p.pids(req);
    p.blkio_weight(req);
    p.device_rates(req, device)?;
    Ok(p.plan)
}

struct Planner<'a> {
    host: &'a Host,
    /// The host has cgroup v2 (else v1).
    v2: bool,
    plan: Plan,
}

/// One rule per limit flag.
impl Planner<'_> {
    /// `--memory` and `--memory-swap`.
    fn memory(&mut self, req: &Request) {
        let Some(m) = req.memory else {
            if req.memory_swap.is_some() {
                self.need(Controller::Memory, "--memory-swap");
            }
            return;
        };
        if !self.need(Controller::Memory, "--memory") {
            return;
        }
        let v2 = self.v2;
        self.write(Controller::Memory, if v2 { "memory.max" } else { "memory.limit_in_bytes" }, m.to_string());
        let swap_file = if v2 { "memory.swap.max" } else { "memory.memsw.limit_in_bytes" };
        // docker: no --memory-swap means as much swap as memory.
        let total = match req.memory_swap {
            None => Some(m.saturating_mul(2)),
            Some(Swap::Total(t)) => Some(t),
            Some(Swap::Unlimited) => None,
        };
        let value = match (v2, total) {
            (true, None) => "max".to_string(),
            (false, None) => "-1".to_string(),
            (true, Some(t)) => t.saturating_sub(m).to_string(),
            (false, Some(t)) => t.to_string(),
        };
        if self.host.has_file(Controller::Memory, swap_file) {
            self.write(Controller::Memory, swap_file, value);
        } else if req.memory_swap.is_some() {
            self.refuse(
                "--memory-swap",
                &format!("this kernel has no {swap_file} (swap accounting is off)"),
                "boot the host with swapaccount=1, or leave out --memory-swap",
            );
        }
    }

    /// `--cpus`: a CFS quota over docker's period.
    fn cpus(&mut self, req: &Request) -> Result<()> {
        let Some(nano) = req.nano_cpus else { return Ok(()) };
        let n = self.host.cpus.len().max(1) as u64;
        if nano > n * 1_000_000_000 {
            return Err(Error::invalid(
                "--cpus",
                &format!("the range of CPUs is from 0.01 to {n}.00, as there are only {n} CPUs available"),
            ));
        }
        if !self.need(Controller::Cpu, "--cpus") {
            return Ok(());
        }
        let quota = (nano as u128 * CPU_PERIOD_US as u128 / 1_000_000_000) as u64;
        if self.v2 {
            self.write(Controller::Cpu, "cpu.max", format!("{quota} {CPU_PERIOD_US}"));
        } else if self.host.has_file(Controller::Cpu, "cpu.cfs_quota_us") {
            self.write(Controller::Cpu, "cpu.cfs_period_us", CPU_PERIOD_US.to_string());
            self.write(Controller::Cpu, "cpu.cfs_quota_us", quota.to_string());
        } else {
            self.refuse("--cpus", "this kernel has no CPU bandwidth control (cpu.cfs_quota_us)", "use --cpu-shares instead");
        }
        Ok(())
    }

    /// `--cpu-shares`.
    fn cpu_shares(&mut self, req: &Request) {
        let Some(shares) = req.cpu_shares else { return };
        if !self.need(Controller::Cpu, "--cpu-shares") {
            return;
        }
        if self.v2 {
            // runc's conversion of [2, 262144] to [1, 10000].
            self.write(Controller::Cpu, "cpu.weight", (1 + (shares.saturating_sub(2) * 9999) / 262_142).to_string());
        } else {
            self.write(Controller::Cpu, "cpu.shares", shares.to_string());
        }
    }

    /// `--cpuset-cpus`: only CPUs the user may use.
    fn cpuset(&mut self, req: &Request) -> Result<()> {
        let Some(list) = &req.cpuset_cpus else { return Ok(()) };
        let cpus = super::request::parse_cpu_list("--cpuset-cpus", list)?;
        if let Some(bad) = cpus.iter().find(|c| !self.host.cpus.contains(c)) {
            return Err(Error::invalid(
                "--cpuset-cpus",
                &format!("CPU {bad} is not available to you (allowed: {})", render_cpus(&self.host.cpus)),
            ));
        }
        if self.need(Controller::Cpuset, "--cpuset-cpus") {
            self.write(Controller::Cpuset, "cpuset.cpus", list.trim().to_string());
        }
        Ok(())
    }

    /// `--pids-limit`.
    fn pids(&mut self, req: &Request) {
        let Some(n) = req.pids_limit else { return };
        if self.need(Controller::Pids, "--pids-limit") {
            self.write(Controller::Pids, "pids.max", n.to_string());
        }
    }

    /// `--blkio-weight`: the first weight file the I/O scheduler offers.
    fn blkio_weight(&mut self, req: &Request) {
        let Some(w) = req.blkio_weight else { return };
        if !self.need(Controller::Io, "--blkio-weight") {
            return;
        }
        let (files, value): (&[&'static str], u64) = if self.v2 {
            // runc's conversion of [10, 1000] to [1, 10000].
            (&["io.weight", "io.bfq.weight"], 1 + (u64::from(w) - 10) * 9999 / 990)
        } else {
            (&["blkio.weight", "blkio.bfq.weight"], u64::from(w))
        };
        match files.iter().find(|f| self.host.has_file(Controller::Io, f)) {
            Some(f) => self.write(Controller::Io, f, value.to_string()),
            None => self.refuse(
                "--blkio-weight",
                "no block I/O scheduler here supports weights (no blkio.weight or bfq weight file)",
                "select the bfq I/O scheduler for the disk, or leave out --blkio-weight",
            ),
        }
    }

    /// `--device-{read,write}-{bps,iops}`: one v1 file per kind, or on v2
    /// all of one device's throttles in one io.max line.
    fn device_rates(&mut self, req: &Request, device: DeviceLookup) -> Result<()> {
        let mut io_max: BTreeMap<(u64, u64), Vec<String>> = BTreeMap::new();
        for d in &req.device_rates {
            let (major, minor) = device(&d.path).map_err(|source| Error::Device { flag: d.kind.flag(), path: d.path.clone(), source })?;
            if !self.need(Controller::Io, d.kind.flag()) {
                continue;
            }
            if self.v2 {
                let key = match d.kind {
                    Throttle::ReadBps => "rbps",
                    Throttle::WriteBps => "wbps",
                    Throttle::ReadIops => "riops",
                    Throttle::WriteIops => "wiops",
                };
                io_max.entry((major, minor)).or_default().push(format!("{key}={}", d.rate));
            } else {
                let file = match d.kind {
                    Throttle::ReadBps => "blkio.throttle.read_bps_device",
                    Throttle::WriteBps => "blkio.throttle.write_bps_device",
                    Throttle::ReadIops => "blkio.throttle.read_iops_device",
                    Throttle::WriteIops => "blkio.throttle.write_iops_device",
                };
                self.write(Controller::Io, file, format!("{major}:{minor} {}", d.rate));
            }
        }
        for ((major, minor), keys) in io_max {
            self.write(Controller::Io, "io.max", format!("{major}:{minor} {}", keys.join(" ")));
        }
        Ok(())
    }
}

/// The bookkeeping every rule shares.
impl Planner<'_> {
    /// Whether `controller` is delegated; if not, refuse `flag` (once).
    fn need(&mut self, controller: Controller, flag: &str) -> bool {
        if self.host.delegated.contains_key(&controller) {
            return true;
        }
        if !self.plan.refused.iter().any(|r| r.limit == flag) {
            let (reason, fix) = self.host.missing(controller);
            self.refuse(flag, &reason, &fix);
        }
        false
    }

    fn write(&mut self, controller: Controller, file: &'static str, value: String) {
        self.plan.writes.push(Write { controller, file, value });
    }

    fn refuse(&mut self, limit: &str, reason: &str, fix: &str) {
        self.plan.refused.push(Refusal { limit: limit.to_string(), reason: reason.to_string(), fix: fix.to_string() });
    }
}

fn render_cpus(cpus: &[u32]) -> String {
    cpus.iter().map(|c| c.to_string()).collect::<Vec<_>>().join(",")
}

/// Every limit flag with the refusal a request for it alone would get.
pub fn probe_each(host: &Host) -> Vec<(&'static str, Option<Refusal>)> {
    let one = |r: Request| plan(&r, host, &|_| Ok((8, 0))).ok().and_then(|p| p.refused.into_iter().next());
    let base = Request::default();
    let cpu = host.cpus.first().copied().unwrap_or(0).to_string();
    vec![
        ("--memory", one(Request { memory: Some(64 << 20), ..base.clone() })),
        ("--memory-swap", one(Request { memory: Some(64 << 20), memory_swap: Some(Swap::Total(128 << 20)), ..base.clone() })),
        ("--cpus", one(Request { nano_cpus: Some(10_000_000), ..base.clone() })),
        ("--cpu-shares", one(Request { cpu_shares: Some(512), ..base.clone() })),
        ("--cpuset-cpus", one(Request { cpuset_cpus: Some(cpu), ..base.clone() })),
        ("--pids-limit", one(Request { pids_limit: Some(100), ..base.clone() })),
        ("--blkio-weight", one(Request { blkio_weight: Some(500), ..base.clone() })),
        (
            "--device-read-bps (and write, iops)",
            one(Request {
                device_rates: vec![super::DeviceRate { kind: Throttle::ReadBps, path: "/dev/x".into(), rate: 1 }],
                ..base.clone()
            }),
        ),
        ("--ulimit", None),
    ]
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::path::PathBuf;

    use super::*;
    use crate::limits::request::DeviceRate;

    fn host(version: Version, ctrls: &[Controller], files: &[&str]) -> Host {
        let delegated = ctrls.iter().map(|c| (*c, PathBuf::from(format!("/cg/{}/burrow/u", c.v1_name())))).collect();
        let files = ctrls
            .iter()
            .flat_map(|c| files.iter().map(move |f| (*c, f.to_string())))
            .filter(|(c, f)| f.starts_with(c.v1_name()) || f.starts_with(c.v2_name().unwrap_or("-")))
            .collect::<BTreeSet<_>>();
        Host { version, root: PathBuf::from("/cg"), user: "u".into(), delegated, files, cpus: vec![0, 1] }
    }

    fn v1_all() -> Host {
        host(
            Version::V1,
            &Controller::ALL,
            &["memory.limit_in_bytes", "memory.memsw.limit_in_bytes", "cpu.cfs_quota_us", "blkio.bfq.weight"],
        )
    }

    fn no_dev(_: &str) -> std::result::Result<(u64, u64), DeviceError> {
        Ok((8, 0))
    }

    fn files(p: &Plan) -> Vec<(&str, &str)> {
        p.writes.iter().map(|w| (w.file, w.value.as_str())).collect()
    }

    #[test]
    fn v1_memory_defaults_swap_to_twice() {
        let r = Request { memory: Some(64 << 20), ..Default::default() };
        let p = plan(&r, &v1_all(), &no_dev).unwrap();
        assert_eq!(files(&p), vec![("memory.limit_in_bytes", "67108864"), ("memory.memsw.limit_in_bytes", "134217728")]);
        let r = Request { memory: Some(64 << 20), memory_swap: Some(Swap::Unlimited), ..Default::default() };
        assert_eq!(files(&plan(&r, &v1_all(), &no_dev).unwrap())[1], ("memory.memsw.limit_in_bytes", "-1"));
    }

    #[test]
    fn v2_memory_swap_is_the_swap_part() {
        let h = host(Version::V2, &[Controller::Memory], &["memory.max", "memory.swap.max"]);
        let r = Request { memory: Some(100), memory_swap: Some(Swap::Total(300)), ..Default::default() };
        assert_eq!(files(&plan(&r, &h, &no_dev).unwrap()), vec![("memory.max", "100"), ("memory.swap.max", "200")]);
    }

    #[test]
    fn swap_without_accounting_is_refused_only_when_asked() {
        let h = host(Version::V1, &[Controller::Memory], &["memory.limit_in_bytes"]);
        let r = Request { memory: Some(64 << 20), ..Default::default() };
        let p = plan(&r, &h, &no_dev).unwrap();
        assert_eq!(files(&p), vec![("memory.limit_in_bytes", "67108864")]);
        assert!(p.refused.is_empty());
        let r = Request { memory_swap: Some(Swap::Total(128 << 20)), ..r };
        assert_eq!(plan(&r, &h, &no_dev).unwrap().refused[0].limit, "--memory-swap");
    }

    #[test]
    fn cpus_become_a_quota() {
        let r = Request { nano_cpus: Some(500_000_000), cpu_shares: Some(512), ..Default::default() };
        assert_eq!(
            files(&plan(&r, &v1_all(), &no_dev).unwrap()),
            vec![("cpu.cfs_period_us", "100000"), ("cpu.cfs_quota_us", "50000"), ("cpu.shares", "512")]
        );
        let h = host(Version::V2, &[Controller::Cpu], &[]);
        assert_eq!(files(&plan(&r, &h, &no_dev).unwrap()), vec![("cpu.max", "50000 100000"), ("cpu.weight", "20")]);
        let r = Request { nano_cpus: Some(3_000_000_000), ..Default::default() };
        assert!(plan(&r, &v1_all(), &no_dev).unwrap_err().to_string().contains("only 2 CPUs"));
    }

    #[test]
    fn cpuset_must_be_allowed() {
        let r = Request { cpuset_cpus: Some("1".into()), ..Default::default() };
        assert_eq!(files(&plan(&r, &v1_all(), &no_dev).unwrap()), vec![("cpuset.cpus", "1")]);
        let r = Request { cpuset_cpus: Some("0-3".into()), ..Default::default() };
        assert!(plan(&r, &v1_all(), &no_dev).unwrap_err().to_string().contains("CPU 2"));
    }

    #[test]
    fn pids_and_io() {
        let r = Request {
            pids_limit: Some(20),
            blkio_weight: Some(500),
            device_rates: vec![
                DeviceRate { kind: Throttle::ReadBps, path: "/dev/sda".into(), rate: 1024 },
                DeviceRate { kind: Throttle::WriteIops, path: "/dev/sda".into(), rate: 10 },
            ],
            ..Default::default()
        };
        assert_eq!(
            files(&plan(&r, &v1_all(), &no_dev).unwrap()),
            vec![
                ("pids.max", "20"),
                ("blkio.bfq.weight", "500"),
                ("blkio.throttle.read_bps_device", "8:0 1024"),
                ("blkio.throttle.write_iops_device", "8:0 10")
            ]
        );
        let h = host(Version::V2, &[Controller::Pids, Controller::Io], &["io.weight"]);
        assert_eq!(
            files(&plan(&r, &h, &no_dev).unwrap()),
            vec![("pids.max", "20"), ("io.weight", "4950"), ("io.max", "8:0 rbps=1024 wiops=10")]
        );
        let bad_dev = |_: &str| Err(DeviceError::NotBlock);
        let msg = plan(&r, &v1_all(), &bad_dev).unwrap_err().to_string();
        assert_eq!(msg, "--device-read-bps: cannot use device /dev/sda: not a block device");
    }

    #[test]
    fn undelegated_controllers_are_refused_with_a_fix() {
        let h = host(Version::V1, &[Controller::Pids], &[]);
        let r = Request { memory: Some(64 << 20), pids_limit: Some(5), blkio_weight: Some(100), ..Default::default() };
        let p = plan(&r, &h, &no_dev).unwrap();
        assert_eq!(files(&p), vec![("pids.max", "5")]);
        let limits: Vec<&str> = p.refused.iter().map(|r| r.limit.as_str()).collect();
        assert_eq!(limits, vec!["--memory", "--blkio-weight"]);
        assert!(p.refused[0].fix.contains("memory"), "{}", p.refused[0].fix);
        assert!(p.refused[0].fix.contains("provision.sh"));
        let msg = p.refused[0].clone().into_error().to_string();
        assert!(msg.starts_with("cannot enforce --memory here"), "{msg}");
        assert!(msg.ends_with("or run with --limits=best-effort to go without it"), "{msg}");
    }

    #[test]
    fn no_limits_no_writes() {
        let p = plan(&Request::default(), &v1_all(), &no_dev).unwrap();
        assert_eq!(p, Plan::default());
        let nothing = host(Version::V1, &[], &[]);
        assert!(probe_each(&nothing).iter().filter(|(f, _)| *f != "--ulimit").all(|(_, r)| r.is_some()));
        assert!(probe_each(&v1_all()).iter().all(|(_, r)| r.is_none()));
    }
}
