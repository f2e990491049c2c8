//! One service's canonical tree to a typed [`Service`].
//!
//! Every key is checked against `schema` first (unknown and unsupported
//! keys refused with their path), then each attribute is read into its
//! type with the checks docker compose makes when it loads a file:
//! ports and addresses parse, durations are Go durations, sizes and CPU
//! counts use docker's units, restart policies, signals and ulimit names
//! are ones docker knows, mount targets are absolute. The environment
//! is not resolved here (`project` reads `env_file` and the variables).

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::Value;

use super::model::*;
use super::schema::{self, check, SchemaError};
use super::value::{boolean, entries, index, invalid, join, mapping, signed, string, string_list, strings, unsigned, wrong};

type Result<T> = std::result::Result<T, SchemaError>;

/// Read a service; `working_dir` is the default build context.
pub fn service(v: &Value, path: &str, working_dir: &Path) -> Result<Service> {
    let m = mapping(v, path)?;
    check(m, path, &schema::SERVICE)?;
    let mut s = Service::default();
    for (key, v, p) in entries(m, path)? {
        if v.is_null() && key != "environment" {
            continue;
        }
        let p = p.as_str();
        match key.as_str() {
            "image" => s.image = Some(string(v, p)?),
            "build" => s.build = Some(build(v, p, working_dir)?),
            "command" => s.command = Some(command(v, p)?),
            "entrypoint" => s.entrypoint = Some(command(v, p)?),
            "environment" => s.environment = optional_map(v, p)?,
            "env_file" => s.env_file = env_files(v, p)?,
            "ports" => s.ports = list(v, p, port)?,
            "expose" => s.expose = expose(v, p)?,
            "volumes" => s.volumes = list(v, p, mount)?,
            "networks" => s.networks = networks(v, p)?,
            "network_mode" => s.network_mode = Some(network_mode(v, p)?),
            "depends_on" => s.depends_on = depends_on(v, p)?,
            "healthcheck" => s.healthcheck = Some(healthcheck(v, p)?),
            "restart" => s.restart = Some(restart(v, p)?),
            "deploy" => s.deploy = Some(deploy(v, p)?),
            "user" => s.user = Some(string(v, p)?),
            "working_dir" => s.working_dir = Some(absolute_in_container(v, p)?),
            "hostname" => s.hostname = Some(string(v, p)?),
            "labels" => s.labels = string_map(v, p)?,
            "init" => s.init = Some(boolean(v, p)?),
            "read_only" => s.read_only = boolean(v, p)?,
            "tmpfs" => s.tmpfs = strings(v, p)?,
            "extra_hosts" => s.extra_hosts = extra_hosts(v, p)?,
            "dns" => s.dns = list(v, p, ip)?,
            "cap_add" => s.cap_add = string_list(v, p)?,
            "cap_drop" => s.cap_drop = string_list(v, p)?,
            "stop_signal" => s.stop_signal = Some(signal(v, p)?),
            "stop_grace_period" => s.stop_grace_period = Some(duration(v, p)?),
            "ulimits" => s.ulimits = ulimits(v, p)?,
            "profiles" => s.profiles = string_list(v, p)?,
            "secrets" => s.secrets = list(v, p, file_ref)?,
            "configs" => s.configs = list(v, p, file_ref)?,
            _ => {} // `extends` is resolved before; `x-` keys are ignored.
        }
    }
    Ok(s)
}

/// Each entry of a list read by `f`.
fn list<T>(v: &Value, p: &str, f: impl Fn(&Value, &str) -> Result<T>) -> Result<Vec<T>> {
    match v {
        Value::Sequence(items) => items.iter().enumerate().map(|(i, x)| f(x, &index(p, i))).collect(),
        other => Err(wrong(p, "a list", other).into()),
    }
}

fn string_map(v: &Value, p: &str) -> Result<BTreeMap<String, String>> {
    Ok(optional_map(v, p)?.into_iter().map(|(k, v)| (k, v.unwrap_or_default())).collect())
}

/// A mapping of scalars (null kept as None).
fn optional_map(v: &Value, p: &str) -> Result<BTreeMap<String, Option<String>>> {
    if v.is_null() {
        return Ok(BTreeMap::new());
    }
    let m = mapping(v, p)?;
    entries(m, p)?
        .into_iter()
        .map(|(k, v, kp)| match v {
            Value::Null => Ok((k, None)),
            other => Ok((k, Some(string(other, &kp)?))),
        })
        .collect()
}

fn command(v: &Value, p: &str) -> Result<Vec<String>> {
    match v {
        Value::Sequence(_) => Ok(string_list(v, p)?),
        other => Ok(super::words::split(&string(other, p)?, p)?),
    }
}

fn build(v: &Value, p: &str, working_dir: &Path) -> Result<Build> {
    let m = mapping(v, p)?;
    check(m, p, &schema::BUILD)?;
    let get = |k: &str| m.get(k).filter(|v| !v.is_null());
    Ok(Build {
        context: match get("context") {
            Some(c) => string(c, &join(p, "context"))?,
            None => working_dir.to_string_lossy().into_owned(),
        },
        dockerfile: get("dockerfile").map(|d| string(d, &join(p, "dockerfile"))).transpose()?.unwrap_or_else(|| "Dockerfile".into()),
        args: get("args").map(|a| optional_map(a, &join(p, "args"))).transpose()?.unwrap_or_default(),
        target: get("target").map(|t| string(t, &join(p, "target"))).transpose()?,
        labels: get("labels").map(|l| string_map(l, &join(p, "labels"))).transpose()?.unwrap_or_default(),
    })
}

fn env_files(v: &Value, p: &str) -> Result<Vec<EnvFile>> {
    list(v, p, |e, ep| {
        let m = mapping(e, ep)?;
        check(m, ep, &schema::ENV_FILE)?;
        let path = m.get("path").ok_or_else(|| invalid(ep, "", "an env_file entry needs path"))?;
        Ok(EnvFile {
            path: string(path, &join(ep, "path"))?,
            required: m.get("required").map(|r| boolean(r, &join(ep, "required"))).transpose()?.unwrap_or(true),
        })
    })
}

fn port(v: &Value, p: &str) -> Result<Port> {
    let m = mapping(v, p)?;
    check(m, p, &schema::PORT)?;
    let text = |k: &str| m.get(k).filter(|v| !v.is_null()).map(|v| string(v, &join(p, k))).transpose();
    let target = unsigned(m.get("target").unwrap_or(&Value::Null), &join(p, "target"))?;
    let target = u16::try_from(target)
        .ok()
        .filter(|t| *t > 0)
        .ok_or_else(|| invalid(&join(p, "target"), &target.to_string(), "not a port (1-65535)"))?;
    let published = text("published")?;
    if let Some(pb) = &published {
        super::ports::range(pb).ok_or_else(|| invalid(&join(p, "published"), pb, "not a port or port range (1-65535)"))?;
    }
    let protocol = text("protocol")?.unwrap_or_else(|| "tcp".into());
    super::ports::check_protocol(&protocol, &protocol, &join(p, "protocol"))?;
    let mode = text("mode")?.unwrap_or_else(|| "ingress".into());
    if mode != "ingress" && mode != "host" {
        return Err(invalid(&join(p, "mode"), &mode, "expected ingress or host").into());
    }
    let host_ip = text("host_ip")?.map(|h| h.parse().map_err(|_| invalid(&join(p, "host_ip"), &h, "not an IP address"))).transpose()?;
    Ok(Port { mode, host_ip, target, published, protocol })
}

fn expose(v: &Value, p: &str) -> Result<Vec<String>> {
    let items = string_list(v, p)?;
    for (i, e) in items.iter().enumerate() {
        let (port, proto) = e.split_once('/').unwrap_or((e, "tcp"));
        if super::ports::range(port).is_none() {
            return Err(invalid(&index(p, i), e, "not a port or port range (1-65535)").into());
        }
        super::ports::check_protocol(proto, e, &index(p, i))?;
    }
    Ok(items)
}

fn mount(v: &Value, p: &str) -> Result<Mount> {
    let m = mapping(v, p)?;
    check(m, p, &schema::MOUNT)?;
    let text = |k: &str| m.get(k).filter(|v| !v.is_null()).map(|v| string(v, &join(p, k))).transpose();
    let kind = match text("type")?.as_deref() {
        Some("volume") => MountType::Volume,
        Some("bind") => MountType::Bind,
        Some("tmpfs") => MountType::Tmpfs,
        Some(other @ ("image" | "npipe" | "cluster")) => {
            return Err(invalid(&join(p, "type"), other, "this mount type is not supported by burrow (volume, bind or tmpfs)").into())
        }
        Some(other) => return Err(invalid(&join(p, "type"), other, "expected volume, bind or tmpfs").into()),
        None => return Err(invalid(p, "", "a long-syntax mount needs type").into()),
    };
    let target = text("target")?.ok_or_else(|| invalid(p, "", "a mount needs target"))?;
    if !target.starts_with('/') {
        return Err(invalid(&join(p, "target"), &target, "must be an absolute path in the container").into());
    }
    let source = text("source")?;
    match (kind, &source) {
        (MountType::Bind, None) => return Err(invalid(p, &target, "a bind mount needs source").into()),
        (MountType::Tmpfs, Some(s)) => return Err(invalid(&join(p, "source"), s, "a tmpfs mount takes no source").into()),
        _ => {}
    }
    let read_only = m.get("read_only").map(|r| boolean(r, &join(p, "read_only"))).transpose()?.unwrap_or(false);
    let sub = |k: &str, keys: &schema::Keys| -> Result<Option<&serde_norway::Mapping>> {
        match m.get(k).filter(|v| !v.is_null()) {
            None => Ok(None),
            Some(v) => {
                let sm = mapping(v, &join(p, k))?;
                check(sm, &join(p, k), keys)?;
                Ok(Some(sm))
            }
        }
    };
    let bind = sub("bind", &schema::MOUNT_BIND)?
        .map(|b| -> Result<BindOptions> {
            let bp = join(p, "bind");
            Ok(BindOptions {
                propagation: b.get("propagation").map(|v| string(v, &join(&bp, "propagation"))).transpose()?,
                create_host_path: b
                    .get("create_host_path")
                    .map(|v| boolean(v, &join(&bp, "create_host_path")))
                    .transpose()?
                    .unwrap_or(false),
                selinux: b.get("selinux").map(|v| string(v, &join(&bp, "selinux"))).transpose()?,
            })
        })
        .transpose()?;
    let volume = sub("volume", &schema::MOUNT_VOLUME)?
        .map(|o| -> Result<VolumeOptions> {
            Ok(VolumeOptions { nocopy: o.get("nocopy").map(|v| boolean(v, &join(p, "volume.nocopy"))).transpose()?.unwrap_or(false) })
        })
        .transpose()?;
    let tmpfs = sub("tmpfs", &schema::MOUNT_TMPFS)?
        .map(|t| -> Result<TmpfsOptions> {
            Ok(TmpfsOptions {
                size: t.get("size").map(|v| bytes(v, &join(p, "tmpfs.size"))).transpose()?,
                mode: t.get("mode").map(|v| file_mode(v, &join(p, "tmpfs.mode"))).transpose()?,
            })
        })
        .transpose()?;
    Ok(Mount { kind, source, target, read_only, bind, volume, tmpfs })
}

fn networks(v: &Value, p: &str) -> Result<BTreeMap<String, Option<ServiceNetwork>>> {
    let m = mapping(v, p)?;
    let mut out = BTreeMap::new();
    for (name, v, np) in entries(m, p)? {
        let net = match v {
            Value::Null => None,
            other => {
                let nm = mapping(other, &np)?;
                check(nm, &np, &schema::SERVICE_NETWORK)?;
                Some(ServiceNetwork {
                    aliases: nm.get("aliases").map(|a| string_list(a, &join(&np, "aliases"))).transpose()?.unwrap_or_default(),
                    ipv4_address: nm
                        .get("ipv4_address")
                        .filter(|v| !v.is_null())
                        .map(|a| {
                            let s = string(a, &join(&np, "ipv4_address"))?;
                            s.parse().map_err(|_| invalid(&join(&np, "ipv4_address"), &s, "not an IPv4 address"))
                        })
                        .transpose()?,
                })
            }
        };
        out.insert(name, net);
    }
    Ok(out)
}

fn network_mode(v: &Value, p: &str) -> Result<String> {
    let mode = string(v, p)?;
    let ok = matches!(mode.as_str(), "none" | "host" | "bridge")
        || mode.strip_prefix("service:").or_else(|| mode.strip_prefix("container:")).is_some_and(|n| !n.is_empty());
    if !ok {
        return Err(invalid(p, &mode, "expected none, host, bridge, service:NAME or container:NAME").into());
    }
    Ok(mode)
}

fn depends_on(v: &Value, p: &str) -> Result<BTreeMap<String, Dependency>> {
    let m = mapping(v, p)?;
    let mut out = BTreeMap::new();
    for (name, v, dp) in entries(m, p)? {
        let dm = mapping(v, &dp)?;
        check(dm, &dp, &schema::DEPENDS_ON)?;
        let condition = match dm.get("condition").map(|c| string(c, &join(&dp, "condition"))).transpose()?.as_deref() {
            None | Some("service_started") => Condition::ServiceStarted,
            Some("service_healthy") => Condition::ServiceHealthy,
            Some("service_completed_successfully") => Condition::ServiceCompletedSuccessfully,
            Some(other) => {
                return Err(invalid(
                    &join(&dp, "condition"),
                    other,
                    "expected service_started, service_healthy or service_completed_successfully",
                )
                .into())
            }
        };
        let flag = |k: &str, default| dm.get(k).map(|r| boolean(r, &join(&dp, k))).transpose().map(|b| b.unwrap_or(default));
        out.insert(name, Dependency { condition, restart: flag("restart", false)?, required: flag("required", true)? });
    }
    Ok(out)
}

fn healthcheck(v: &Value, p: &str) -> Result<Healthcheck> {
    let m = mapping(v, p)?;
    check(m, p, &schema::HEALTHCHECK)?;
    let dur = |k: &str| m.get(k).filter(|v| !v.is_null()).map(|v| duration(v, &join(p, k))).transpose();
    let test = match m.get("test") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Sequence(_)) => {
            let t = string_list(&m["test"], &join(p, "test"))?;
            match t.first().map(String::as_str) {
                Some("CMD" | "CMD-SHELL" | "NONE") => t,
                _ => return Err(invalid(&join(p, "test"), &t.join(" "), "a list must start with CMD, CMD-SHELL or NONE").into()),
            }
        }
        Some(other) => vec!["CMD-SHELL".to_string(), string(other, &join(p, "test"))?],
    };
    Ok(Healthcheck {
        disable: m.get("disable").map(|d| boolean(d, &join(p, "disable"))).transpose()?.unwrap_or(false)
            || test.first().is_some_and(|t| t == "NONE"),
        test,
        interval: dur("interval")?,
        timeout: dur("timeout")?,
        start_period: dur("start_period")?,
        start_interval: dur("start_interval")?,
        retries: m.get("retries").filter(|v| !v.is_null()).map(|r| unsigned(r, &join(p, "retries"))).transpose()?,
    })
}

fn restart(v: &Value, p: &str) -> Result<String> {
    let r = string(v, p)?;
    r.parse::<crate::model::restart::Policy>()
        .map_err(|_| invalid(p, &r, "expected no, always, on-failure[:MAX-RETRIES] or unless-stopped"))?;
    Ok(r)
}

fn deploy(v: &Value, p: &str) -> Result<Deploy> {
    let m = mapping(v, p)?;
    check(m, p, &schema::DEPLOY)?;
    let mut d = Deploy {
        replicas: m.get("replicas").filter(|v| !v.is_null()).map(|r| unsigned(r, &join(p, "replicas"))).transpose()?,
        resources: None,
    };
    if let Some(r) = m.get("resources").filter(|v| !v.is_null()) {
        let rp = join(p, "resources");
        let rm = mapping(r, &rp)?;
        check(rm, &rp, &schema::RESOURCES)?;
        let mut limits = Limits::default();
        if let Some(l) = rm.get("limits").filter(|v| !v.is_null()) {
            let lp = join(&rp, "limits");
            let lm = mapping(l, &lp)?;
            check(lm, &lp, &schema::LIMITS)?;
            if let Some(c) = lm.get("cpus") {
                let cp = join(&lp, "cpus");
                let text = string(c, &cp)?;
                limits.cpus = Some(crate::limits::parse_cpus(&text).map_err(|e| invalid(&cp, &text, e.to_string()))?);
            }
            if let Some(mem) = lm.get("memory") {
                limits.memory = Some(bytes(mem, &join(&lp, "memory"))?);
            }
            if let Some(pids) = lm.get("pids") {
                limits.pids = Some(signed(pids, &join(&lp, "pids"))?);
            }
        }
        d.resources = Some(Resources { limits });
    }
    Ok(d)
}

fn bytes(v: &Value, p: &str) -> Result<u64> {
    let text = string(v, p)?;
    crate::limits::parse_bytes(p, &text).map_err(|_| invalid(p, &text, "not a size: use a number with b, k, m or g (512m)").into())
}

/// An octal file mode written as a number (`0440` reads as octal text).
fn file_mode(v: &Value, p: &str) -> Result<u32> {
    let text = string(v, p)?;
    let digits = text.strip_prefix("0o").unwrap_or(&text);
    let parsed = if text.starts_with('0') { u32::from_str_radix(digits, 8).ok() } else { text.parse().ok() };
    parsed.filter(|m| *m <= 0o7777).ok_or_else(|| invalid(p, &text, "not a file mode (such as 0440)").into())
}

fn absolute_in_container(v: &Value, p: &str) -> Result<String> {
    let s = string(v, p)?;
    if !s.starts_with('/') {
        return Err(invalid(p, &s, "must be an absolute path in the container").into());
    }
    Ok(s)
}

fn extra_hosts(v: &Value, p: &str) -> Result<Vec<HostEntry>> {
    let pairs: Vec<(String, String, String)> = match v {
        Value::Mapping(m) => entries(m, p)?.into_iter().map(|(k, v, ep)| Ok((k, string(v, &ep)?, ep))).collect::<Result<_>>()?,
        _ => {
            let items = string_list(v, p)?;
            items
                .into_iter()
                .enumerate()
                .map(|(i, e)| {
                    let ep = index(p, i);
                    let split = if e.contains('=') { e.split_once('=') } else { e.split_once(':') };
                    let (h, a) = split.ok_or_else(|| invalid(&ep, &e, "expected HOST=IP or HOST:IP"))?;
                    Ok((h.to_string(), a.to_string(), ep))
                })
                .collect::<Result<_>>()?
        }
    };
    pairs
        .into_iter()
        .map(|(host, addr, ep)| {
            let addr = addr.trim_start_matches('[').trim_end_matches(']').to_string();
            let entry = format!("{host}={addr}");
            crate::network::hosts::parse_add_host(&entry, Some(std::net::Ipv4Addr::LOCALHOST.into()))
                .map_err(|_| invalid(&ep, &entry, "expected a host name and an IP address (or host-gateway)"))?;
            Ok(HostEntry { host, ip: addr })
        })
        .collect()
}

fn ip(v: &Value, p: &str) -> Result<std::net::IpAddr> {
    let s = string(v, p)?;
    s.parse().map_err(|_| invalid(p, &s, "not an IP address").into())
}

fn signal(v: &Value, p: &str) -> Result<String> {
    let s = string(v, p)?;
    crate::container::lifecycle::parse_signal(&s).ok_or_else(|| invalid(p, &s, "not a signal (SIGTERM, SIGINT, 15, ...)"))?;
    Ok(s)
}

pub fn duration(v: &Value, p: &str) -> Result<GoDuration> {
    let s = string(v, p)?;
    crate::model::health::parse_duration(&s)
        .map(GoDuration)
        .ok_or_else(|| invalid(p, &s, "not a duration (such as 30s, 1m30s, 500ms)").into())
}

fn ulimits(v: &Value, p: &str) -> Result<BTreeMap<String, Ulimit>> {
    let m = mapping(v, p)?;
    let mut out = BTreeMap::new();
    for (name, v, up) in entries(m, p)? {
        if !crate::limits::ULIMITS.iter().any(|(n, _)| *n == name) {
            return Err(invalid(&up, &name, "not a ulimit docker knows (nofile, nproc, core, ...)").into());
        }
        let limit = match v {
            Value::Mapping(lm) => {
                check(lm, &up, &schema::ULIMIT)?;
                let get = |k: &str| signed(lm.get(k).unwrap_or(&Value::Null), &join(&up, k));
                let (soft, hard) = (get("soft")?, get("hard")?);
                if soft > hard && hard >= 0 {
                    return Err(invalid(&up, &format!("{soft}:{hard}"), "the soft limit is above the hard limit").into());
                }
                Ulimit::Pair { soft, hard }
            }
            other => Ulimit::Single(signed(other, &up)?),
        };
        out.insert(name, limit);
    }
    Ok(out)
}

fn file_ref(v: &Value, p: &str) -> Result<FileRef> {
    let m = mapping(v, p)?;
    check(m, p, &schema::FILE_REF)?;
    let text = |k: &str| m.get(k).filter(|v| !v.is_null()).map(|v| string(v, &join(p, k))).transpose();
    Ok(FileRef {
        source: text("source")?.ok_or_else(|| invalid(p, "", "needs source"))?,
        target: text("target")?,
        uid: text("uid")?,
        gid: text("gid")?,
        mode: m.get("mode").filter(|v| !v.is_null()).map(|v| file_mode(v, &join(p, "mode"))).transpose()?,
    })
}
