//! docker's JSON for a container (`inspect`) and for one `ps` row.
//!
//! Only fields burrow really knows are filled; their names and shapes are
//! docker's, so `--format '{{.State.ExitCode}}'` and scripts that read
//! `.NetworkSettings.Ports` work unchanged.

use std::net::{Ipv4Addr, Ipv6Addr};

use burrow_netstack::mode::NetworkMode;
use serde_json::{json, Map, Value};

use super::record::{Record, Status};
use crate::model::network::Mac;
use crate::model::PublishedPort;
use crate::network::store;
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

/// One entry of docker's `NetworkSettings.Networks`: an address with its
/// prefix and gateway for each family, a MAC, a network id and names.
struct Place {
    network_id: String,
    ipv4: Option<(Ipv4Addr, u8, Ipv4Addr)>,
    ipv6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
    mac: String,
    aliases: Vec<String>,
    dns_names: Vec<String>,
}

impl Place {
    /// No address at all (the top level off the default network).
    fn none() -> Place {
        Place { network_id: String::new(), ipv4: None, ipv6: None, mac: String::new(), aliases: Vec::new(), dns_names: Vec::new() }
    }

    fn json(&self) -> Value {
        let text = |a: Option<String>| a.unwrap_or_default();
        json!({
            "NetworkID": self.network_id,
            "IPAddress": text(self.ipv4.map(|(a, _, _)| a.to_string())),
            "IPPrefixLen": self.ipv4.map_or(0, |(_, p, _)| p),
            "Gateway": text(self.ipv4.map(|(_, _, g)| g.to_string())),
            "GlobalIPv6Address": text(self.ipv6.map(|(a, _, _)| a.to_string())),
            "GlobalIPv6PrefixLen": self.ipv6.map_or(0, |(_, p, _)| p),
            "IPv6Gateway": text(self.ipv6.map(|(_, _, g)| g.to_string())),
            "MacAddress": self.mac,
            "Aliases": self.aliases,
            "DNSNames": self.dns_names,
        })
    }
}

/// burrow's default network as a container on it has it (`bridge` in
/// docker's terms), if that is its mode.
fn default_place(mode: &NetworkMode) -> Option<Place> {
    let NetworkMode::Burrow(o) = mode else { return None };
    let v = o.cidr;
    Some(Place {
        network_id: store::BUILTINS[0].id().to_string(),
        ipv4: Some((v.container(), v.prefix_len, v.gateway())),
        ipv6: o.enable_ipv6.then(|| (v.ipv6_container(), v.ipv6_prefix_len(), v.ipv6_gateway())),
        mac: Mac(super::net::CONTAINER_MAC).to_string(),
        aliases: Vec::new(),
        dns_names: Vec::new(),
    })
}

/// docker's `NetworkSettings.Networks`: the default network's entry, or
/// one per user-defined network the container is on (its address there,
/// with the network's prefix and gateways).
fn networks(paths: &Paths, r: &Record, default: Option<&Place>) -> Value {
    let mut map = Map::new();
    if let Some(p) = default {
        map.insert("bridge".into(), p.json());
    }
    for e in &r.endpoints {
        let net = store::get(paths, &e.network).ok();
        let place = Place {
            network_id: net.as_ref().map(|n| n.id.to_string()).unwrap_or_default(),
            ipv4: net.as_ref().map(|n| (e.ipv4, n.ipv4.subnet.prefix_len(), n.ipv4.gateway)),
            ipv6: e.ipv6.zip(net.as_ref().and_then(|n| n.ipv6.as_ref())).map(|(a, c)| (a, c.subnet.prefix_len(), c.gateway)),
            mac: e.mac.to_string(),
            aliases: e.aliases.clone(),
            dns_names: r.dns_names(e),
        };
        map.insert(e.network.clone(), place.json());
    }
    Value::Object(map)
}

/// `NetworkSettings` itself: ports, the default network's addresses at the
/// top level (empty on other networks, as docker has them) and `Networks`.
fn network_settings(paths: &Paths, r: &Record, mode: &NetworkMode) -> Value {
    let default = default_place(mode);
    let top = default.as_ref().map_or_else(|| Place::none().json(), Place::json);
    let mut out = json!({"Ports": port_map(&r.ports), "Networks": networks(paths, r, default.as_ref())});
    for key in ["IPAddress", "IPPrefixLen", "Gateway", "GlobalIPv6Address", "GlobalIPv6PrefixLen", "IPv6Gateway", "MacAddress"] {
        out[key] = top[key].clone();
    }
    out
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
            "Labels": c.labels,
            "Healthcheck": c.health.as_ref().map(|h| json!({
                "Test": h.test,
                "Interval": h.interval.as_nanos() as u64,
                "Timeout": h.timeout.as_nanos() as u64,
                "StartPeriod": h.start_period.as_nanos() as u64,
                "Retries": h.retries,
            })),
        },
        "NetworkSettings": network_settings(paths, r, &c.network.mode),
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
