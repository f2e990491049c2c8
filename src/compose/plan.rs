//! One service of a loaded project to the engine's [`RunOptions`]: what
//! `burrow run` would be given for container N of the service, plus the
//! further networks it joins before it starts.
//!
//! Pure: the image's own healthcheck is an argument, nothing is read from
//! the store. Every attribute the typed model holds is either translated
//! to the `run` flag docker compose would set (through the same parsers
//! `run` uses: `volume::spec`, `limits`, `health::resolve`) or refused
//! here with its key path, so nothing the file asks for is silently
//! dropped. The container gets docker compose's `com.docker.compose.*`
//! labels; `config-hash` is a digest of the service's typed model, so a
//! changed service is recreated and an unchanged one is left running.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::model::{Healthcheck, Mount, MountType, Project, Service};
use crate::model::net::NetworkRequest;
use crate::model::RunOptions;
use burrow_netstack::mode::NetworkMode;

pub const PROJECT: &str = "com.docker.compose.project";
pub const SERVICE: &str = "com.docker.compose.service";
pub const NUMBER: &str = "com.docker.compose.container-number";
pub const ONEOFF: &str = "com.docker.compose.oneoff";
pub const HASH: &str = "com.docker.compose.config-hash";
pub const WORKING_DIR: &str = "com.docker.compose.project.working_dir";
pub const CONFIG_FILES: &str = "com.docker.compose.project.config_files";
pub const NETWORK: &str = "com.docker.compose.network";
pub const VOLUME: &str = "com.docker.compose.volume";

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{path}: {reason}")]
    Unsupported { path: String, reason: &'static str },
    #[error("{path}: {source}")]
    Limits { path: String, source: crate::limits::Error },
    #[error("{path}: {source}")]
    Mount { path: String, source: crate::volume::Error },
    #[error("{path}: {source}")]
    Health { path: String, source: crate::container::health::Error },
    #[error("{path}: {source}")]
    Restart { path: String, source: crate::container::restart::Error },
}

type Result<T> = std::result::Result<T, PlanError>;

fn unsupported<T>(path: String, reason: &'static str) -> Result<T> {
    Err(PlanError::Unsupported { path, reason })
}

/// A further network the container joins before it first starts.
#[derive(Debug, Clone, PartialEq)]
pub struct Join {
    pub network: String,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
}

/// Container `number` of a service, as the engine takes it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub name: String,
    pub opts: RunOptions,
    pub joins: Vec<Join>,
}

/// `PROJECT-SERVICE-N`, docker compose's container name.
pub fn container_name(project: &str, service: &str, number: u32) -> String {
    format!("{project}-{service}-{number}")
}

/// The image a service runs: its `image`, else `PROJECT-SERVICE` (built).
pub fn image_name(project: &str, service: &str, s: &Service) -> String {
    s.image.clone().unwrap_or_else(|| format!("{project}-{service}"))
}

/// How many containers a service has: `--scale`, else `deploy.replicas`, else 1.
pub fn replicas(service: &str, s: &Service, scale: &BTreeMap<String, u32>) -> u32 {
    scale.get(service).copied().unwrap_or_else(|| s.deploy.as_ref().and_then(|d| d.replicas).map_or(1, |r| r as u32))
}

/// A digest of the service's model: what decides recreation.
pub fn config_hash(s: &Service) -> String {
    let text = serde_json::to_string(s).unwrap_or_default();
    Sha256::digest(text.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

/// The labels every container of the project carries.
pub fn labels(p: &Project, service: &str, s: &Service, number: u32, oneoff: bool) -> BTreeMap<String, String> {
    let mut l = s.labels.clone();
    l.insert(PROJECT.into(), p.name.clone());
    l.insert(SERVICE.into(), service.into());
    l.insert(NUMBER.into(), number.to_string());
    l.insert(ONEOFF.into(), if oneoff { "True" } else { "False" }.into());
    l.insert(HASH.into(), config_hash(s));
    l.insert(WORKING_DIR.into(), p.working_dir.display().to_string());
    l.insert(CONFIG_FILES.into(), p.files.join(","));
    l
}

/// Container `number` of `service` (`oneoff`: a `compose run` container,
/// named by the caller); `image_health` is the image config's Healthcheck.
pub fn plan(p: &Project, service: &str, number: u32, oneoff: bool, image_health: Option<&Value>) -> Result<Planned> {
    let s = &p.services[service];
    let path = |k: &str| format!("services.{service}.{k}");
    let (command, entrypoint) = command_line(s);
    let (network, joins) = networks(p, service, s)?;
    let mut opts = RunOptions {
        image: image_name(&p.name, service, s),
        command,
        entrypoint,
        env: s.environment.iter().filter_map(|(k, v)| v.as_ref().map(|v| format!("{k}={v}"))).collect(),
        workdir: s.working_dir.clone(),
        user: s.user.clone(),
        hostname: s.hostname.clone(),
        read_only: s.read_only,
        cap_add: s.cap_add.clone(),
        cap_drop: s.cap_drop.clone(),
        init: s.init.unwrap_or(false),
        network,
        stop_signal: s.stop_signal.clone(),
        stop_timeout: s.stop_grace_period.map(|d| d.0.as_secs_f64().ceil() as u32),
        labels: labels(p, service, s, number, oneoff),
        ..Default::default()
    };
    if let Some(r) = &s.restart {
        opts.restart = r.parse().map_err(|source| PlanError::Restart { path: path("restart"), source })?;
    }
    opts.mounts = mounts(p, service, s)?;
    opts.health = health(s.healthcheck.as_ref(), image_health, &path("healthcheck"))?;
    opts.limits = limits(s, &path)?;
    Ok(Planned { name: container_name(&p.name, service, number), opts, joins })
}

/// compose's `entrypoint` is a whole list; `run` takes its first word as
/// `--entrypoint` and the rest before the command.
fn command_line(s: &Service) -> (Vec<String>, Option<String>) {
    match &s.entrypoint {
        None => (s.command.clone().unwrap_or_default(), None),
        Some(e) if e.is_empty() => (s.command.clone().unwrap_or_default(), Some(String::new())),
        Some(e) => {
            let mut command = e[1..].to_vec();
            command.extend(s.command.clone().unwrap_or_default());
            (command, Some(e[0].clone()))
        }
    }
}

/// The first network in the request (the service's name and aliases as
/// network aliases), the others joined before the start.
fn networks(p: &Project, service: &str, s: &Service) -> Result<(NetworkRequest, Vec<Join>)> {
    let mut req = NetworkRequest {
        expose: s.expose.clone(),
        dns: s.dns.iter().map(ToString::to_string).collect(),
        add_host: s.extra_hosts.iter().map(|h| format!("{}:{}", h.host, h.ip)).collect(),
        publish: s.ports.iter().map(publish).collect(),
        ..Default::default()
    };
    if let Some(mode) = &s.network_mode {
        let text = match mode.strip_prefix("service:") {
            Some(other) => format!("container:{}", container_name(&p.name, other, 1)),
            None => mode.clone(),
        };
        req.mode = text.parse().map_err(|_| PlanError::Unsupported {
            path: format!("services.{service}.network_mode"),
            reason: "burrow runs none, host, bridge, service:NAME and container:NAME",
        })?;
        return Ok((req, Vec::new()));
    }
    let mut joins = Vec::new();
    for (key, opts) in &s.networks {
        let net = &p.networks[key];
        let mut aliases = vec![service.to_string()];
        aliases.extend(opts.iter().flat_map(|o| o.aliases.iter().cloned()));
        joins.push(Join { network: net.name.clone(), aliases, ip: opts.as_ref().and_then(|o| o.ipv4_address) });
    }
    let first = joins.remove(0);
    req.mode = NetworkMode::Named(first.network);
    req.aliases = first.aliases;
    req.ip = first.ip;
    Ok((req, joins))
}

/// A long-syntax port as `-p` takes it.
fn publish(port: &super::model::Port) -> String {
    let mut out = String::new();
    if let Some(ip) = port.host_ip {
        out.push_str(&match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]:"),
            v4 => format!("{v4}:"),
        });
    }
    match &port.published {
        Some(pb) => out.push_str(&format!("{pb}:")),
        None if port.host_ip.is_some() => out.push(':'),
        None => {}
    }
    out.push_str(&format!("{}/{}", port.target, port.protocol));
    out
}

/// Volumes, binds, tmpfs, secrets and configs as `run`'s mount requests.
fn mounts(p: &Project, service: &str, s: &Service) -> Result<Vec<crate::model::volume::MountRequest>> {
    let (mut vols, mut mounts, mut tmpfs) = (Vec::new(), Vec::new(), s.tmpfs.clone());
    for (i, m) in s.volumes.iter().enumerate() {
        let mp = format!("services.{service}.volumes[{i}]");
        match mount(p, m, &mp)? {
            Spec::Volume(v) => vols.push(v),
            Spec::Mount(v) => mounts.push(v),
            Spec::Tmpfs(v) => tmpfs.push(v),
        }
    }
    for (kind, refs, defs, dir) in [("secrets", &s.secrets, &p.secrets, "/run/secrets/"), ("configs", &s.configs, &p.configs, "/")] {
        for (i, r) in refs.iter().enumerate() {
            let rp = format!("services.{service}.{kind}[{i}]");
            if r.uid.is_some() || r.gid.is_some() || r.mode.is_some() {
                return unsupported(rp, "burrow mounts secrets and configs as their files are: remove uid, gid and mode");
            }
            let def = &defs[&r.source];
            let Some(file) = def.file.as_ref().filter(|_| !def.external) else {
                return unsupported(format!("{kind}.{}", r.source), "burrow takes secrets and configs from a file: give file:");
            };
            let target = match &r.target {
                Some(t) if t.starts_with('/') => t.clone(),
                Some(t) => format!("{dir}{t}"),
                None => format!("{dir}{}", r.source),
            };
            mounts.push(format!("type=bind,source={file},target={target},readonly"));
        }
    }
    let path = format!("services.{service}.volumes");
    crate::volume::spec::parse_all(&vols, &mounts, &tmpfs).map_err(|source| PlanError::Mount { path, source })
}

enum Spec {
    Volume(String),
    Mount(String),
    Tmpfs(String),
}

fn mount(p: &Project, m: &Mount, mp: &str) -> Result<Spec> {
    if let Some(b) = &m.bind {
        if b.propagation.is_some() || b.selinux.is_some() {
            return unsupported(format!("{mp}.bind"), "burrow does not set bind propagation or SELinux labels: remove them");
        }
    }
    let ro = if m.read_only { ",readonly" } else { "" };
    Ok(match m.kind {
        MountType::Volume => {
            let nocopy = if m.volume.as_ref().is_some_and(|v| v.nocopy) { ",volume-nocopy" } else { "" };
            match &m.source {
                Some(src) => Spec::Mount(format!("type=volume,source={},target={}{ro}{nocopy}", p.volumes[src].name, m.target)),
                None => Spec::Mount(format!("type=volume,target={}{ro}{nocopy}", m.target)),
            }
        }
        MountType::Bind => {
            let src = m.source.clone().unwrap_or_default();
            if m.bind.as_ref().is_none_or(|b| b.create_host_path) {
                Spec::Volume(format!("{src}:{}{}", m.target, if m.read_only { ":ro" } else { "" }))
            } else {
                Spec::Mount(format!("type=bind,source={src},target={}{ro}", m.target))
            }
        }
        MountType::Tmpfs => {
            let mut opts = Vec::new();
            if let Some(t) = &m.tmpfs {
                opts.extend(t.size.map(|s| format!("size={s}")));
                opts.extend(t.mode.map(|m| format!("mode={m:o}")));
            }
            if m.read_only {
                opts.push("ro".into());
            }
            Spec::Tmpfs(if opts.is_empty() { m.target.clone() } else { format!("{}:{}", m.target, opts.join(",")) })
        }
    })
}

/// The service's healthcheck over the image's, as docker compose merges
/// them (a field the service sets replaces the image's).
fn health(hc: Option<&Healthcheck>, image: Option<&Value>, path: &str) -> Result<Option<crate::model::health::Check>> {
    let err = |source| PlanError::Health { path: path.to_string(), source };
    let Some(hc) = hc else {
        return crate::container::health::resolve(&Default::default(), image).map_err(err);
    };
    if hc.disable {
        return Ok(None);
    }
    let mut merged = image.cloned().filter(Value::is_object).unwrap_or_else(|| json!({}));
    let ns = |d: &Option<super::model::GoDuration>| d.map(|d| json!(d.0.as_nanos() as u64));
    for (key, v) in [
        ("Test", (!hc.test.is_empty()).then(|| json!(hc.test))),
        ("Interval", ns(&hc.interval)),
        ("Timeout", ns(&hc.timeout)),
        ("StartPeriod", ns(&hc.start_period)),
        ("Retries", hc.retries.map(|r| json!(r))),
        ("StartInterval", ns(&hc.start_interval)),
    ] {
        if let Some(v) = v {
            merged[key] = v;
        }
    }
    crate::container::health::resolve(&Default::default(), Some(&merged)).map_err(err)
}

/// `deploy.resources.limits` and `ulimits`.
fn limits(s: &Service, path: &dyn Fn(&str) -> String) -> Result<crate::model::limits::Request> {
    let mut r = crate::model::limits::Request::default();
    if let Some(l) = s.deploy.as_ref().and_then(|d| d.resources.as_ref()).map(|r| &r.limits) {
        let lp = path("deploy.resources.limits");
        if let Some(m) = l.memory {
            r.memory = Some(
                crate::limits::parse_memory(&m.to_string()).map_err(|source| PlanError::Limits { path: format!("{lp}.memory"), source })?,
            );
        }
        r.nano_cpus = l.cpus;
        r.pids_limit = l.pids.filter(|p| *p > 0).map(|p| p as u64);
    }
    for (name, u) in &s.ulimits {
        let text = match u {
            super::model::Ulimit::Single(n) => format!("{name}={n}"),
            super::model::Ulimit::Pair { soft, hard } => format!("{name}={soft}:{hard}"),
        };
        let up = path(&format!("ulimits.{name}"));
        r.ulimits.push(crate::limits::parse_ulimit(&text).map_err(|source| PlanError::Limits { path: up, source })?);
    }
    Ok(r)
}

#[cfg(test)]
#[path = "plan_tests.rs"]
mod tests;
