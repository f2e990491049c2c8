//! docker's JSON for a container (`inspect`) and for one `ps` row.
//!
//! Only fields burrow really knows are filled; their names and shapes are
//! docker's, so `--format '{{.State.ExitCode}}'` and scripts that read
//! `.NetworkSettings.Ports` work unchanged.

use serde_json::{json, Map, Value};

use super::record::{Record, Status};
use crate::model::PublishedPort;
use crate::paths::Paths;

/// `80/tcp -> 0.0.0.0:8080` lines as docker's `Ports` map.
fn port_map(ports: &[PublishedPort]) -> Value {
    let mut map = Map::new();
    for p in ports {
        let entry = json!({"HostIp": p.host_ip.to_string(), "HostPort": p.host_port.to_string()});
        match map.entry(p.private()).or_insert_with(|| json!([])) {
            Value::Array(a) => a.push(entry),
            _ => unreachable!("only arrays are inserted"),
        }
    }
    Value::Object(map)
}

/// docker's `NetworkSettings.Networks` for the user-defined networks a
/// container is on: its address and MAC on each.
fn networks(r: &Record) -> Value {
    let mut map = Map::new();
    for e in &r.endpoints {
        map.insert(
            e.network.clone(),
            json!({
                "IPAddress": e.ipv4.to_string(),
                "GlobalIPv6Address": e.ipv6.map(|a| a.to_string()).unwrap_or_default(),
                "MacAddress": e.mac.to_string(),
                "Aliases": e.aliases,
            }),
        );
    }
    Value::Object(map)
}

/// docker's zero time, for a container that never started or finished.
const NEVER: &str = "0001-01-01T00:00:00Z";

/// The `inspect` object of one container (its status as observed).
pub fn render(paths: &Paths, r: &Record, paused: bool) -> Value {
    let c = r.config.clone().unwrap_or_default();
    let dir = r.dir(paths);
    let running = r.status == Status::Running;
    let (restart_name, retries) = c.restart.docker();
    let status = if paused && running { "paused" } else { r.status.word() };
    json!({
        "Id": r.id,
        "Created": r.created,
        "Path": r.command.first().cloned().unwrap_or_default(),
        "Args": r.command.iter().skip(1).collect::<Vec<_>>(),
        "State": {
            "Status": status,
            "Running": running,
            "Paused": paused && running,
            "Restarting": r.status == Status::Restarting,
            "OOMKilled": r.oom_killed,
            "Dead": false,
            "Pid": if running { r.pid.unwrap_or(0) } else { 0 },
            "ExitCode": r.exit_code.unwrap_or(0),
            "Error": r.error.clone().unwrap_or_default(),
            "StartedAt": r.started_at.map_or_else(|| NEVER.to_string(), |t| t.to_string()),
            "FinishedAt": r.finished_at.map_or_else(|| NEVER.to_string(), |t| t.to_string()),
            "Health": c.health.as_ref().and_then(|_| super::health::Health::load(&dir)),
        },
        "Image": r.image_id,
        "ResolvConfPath": dir.join("resolv.conf"),
        "HostnamePath": dir.join("hostname"),
        "HostsPath": dir.join("hosts"),
        "LogPath": if c.log.enabled { super::logs::path(&dir).display().to_string() } else { String::new() },
        "Name": format!("/{}", r.name),
        "RestartCount": r.restart_count,
        "Driver": "burrow-fs",
        "Mounts": r.mounts,
        "HostConfig": {
            "AutoRemove": r.auto_remove,
            "RestartPolicy": {"Name": restart_name, "MaximumRetryCount": retries},
            "LogConfig": {
                "Type": if c.log.enabled { "json-file" } else { "none" },
                "Config": if c.log.enabled { json!({"max-size": c.log.max_size.to_string(), "max-file": c.log.max_files.to_string()}) } else { json!({}) },
            },
            "NetworkMode": c.network.mode.to_string(),
            "ReadonlyRootfs": c.read_only,
            "CapAdd": c.cap_add,
            "CapDrop": c.cap_drop,
            "SecurityOpt": c.security_opt,
            "Init": c.init,
            "UsernsMode": if c.keep_id.is_some() { "keep-id" } else { "" },
            "Dns": c.network.dns,
            "ExtraHosts": c.network.add_host,
        },
        "Config": {
            "Hostname": c.hostname.clone().unwrap_or_else(|| r.id.short().to_string()),
            "User": c.user.clone().unwrap_or_default(),
            "Tty": c.tty,
            "OpenStdin": c.interactive,
            "Env": c.env,
            "Cmd": c.command,
            "Image": r.image,
            "WorkingDir": c.workdir.clone().unwrap_or_default(),
            "Entrypoint": c.entrypoint.map(|e| vec![e]),
            "StopSignal": c.stop_signal,
            "StopTimeout": c.stop_timeout,
            "Healthcheck": c.health.as_ref().map(|h| json!({
                "Test": h.test,
                "Interval": h.interval.as_nanos() as u64,
                "Timeout": h.timeout.as_nanos() as u64,
                "StartPeriod": h.start_period.as_nanos() as u64,
                "Retries": h.retries,
            })),
        },
        "NetworkSettings": {
            "Ports": port_map(&r.ports),
            "Networks": networks(r),
        },
    })
}

/// One `ps` row: docker's `--format` fields.
pub fn ps_row(r: &Record, paused: bool, status: String, running_for: String) -> Value {
    let ports: Vec<String> = r.ports.iter().map(|p| format!("{}->{}", p.host(), p.private())).collect();
    json!({
        "ID": r.id.short(),
        "Image": r.image,
        "Command": format!("\"{}\"", r.command.join(" ")),
        "CreatedAt": r.created,
        "RunningFor": running_for,
        "Ports": ports.join(", "),
        "State": if paused && r.status == Status::Running { "paused" } else { r.status.word() },
        "Status": status,
        "Names": r.name,
        "Labels": "",
        "Mounts": r.mounts.iter().map(|m| m.name.clone().unwrap_or_else(|| m.source.clone())).collect::<Vec<_>>().join(","),
        "Networks": "",
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports_as_docker_shows_them() {
        let ports: Vec<PublishedPort> = ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080", "53/udp -> 127.0.0.1:5353"]
            .iter()
            .map(|t| PublishedPort::parse(t).unwrap())
            .collect();
        let v = port_map(&ports);
        assert_eq!(v["80/tcp"][0], json!({"HostIp": "0.0.0.0", "HostPort": "8080"}));
        assert_eq!(v["80/tcp"][1]["HostIp"], "::");
        assert_eq!(v["53/udp"][0]["HostPort"], "5353");
    }
}
