//! The container's network, from `run` flags to what `launch` needs.
//!
//! `prepare` decides everything before any process exists, so bad input
//! and taken ports fail `burrow run` with nothing started: it checks that
//! the flags fit the mode (ports cannot be published without burrow's
//! network), expands `-P` over the image's exposed ports, binds every
//! published port on the host (`burrow_netstack::bind`), writes the text
//! of `/etc/hosts` and `/etc/resolv.conf` (`crate::network`), and says
//! how the TAP device is configured (`process::TapPlan`) and how the
//! stack is started (`process::NetStart`).

use std::net::SocketAddr;

use burrow_netstack::mode::NetworkMode;
use burrow_netstack::ports::{self, PortMapping};
use burrow_netstack::{Limits, Options, Plan};

use super::record::{self, Status};
use super::Error;
pub use crate::model::net::NetworkRequest;
use crate::network::{hosts, resolv};
use crate::paths::Paths;
use crate::process::{NetSpec, NetStart, TapPlan};

/// Everything decided.
pub struct Prepared {
    pub spec: NetSpec,
    pub start: Option<NetStart>,
    /// The published ports with the host ports actually bound.
    pub ports: Vec<PortMapping>,
    pub hosts: String,
    pub resolv: String,
}

/// The container's hardware address on the virtual link.
pub const CONTAINER_MAC: [u8; 6] = [0x02, 0xb0, 0xb0, 0x00, 0x00, 0x64];

/// `--network container:NAME` takes the joined container's network as it
/// is: the flags that would change it are refused, as docker refuses them
/// ("conflicting options"), and the container must exist.
pub fn check(paths: &Paths, req: &NetworkRequest, hostname: Option<&str>) -> Result<(), Error> {
    super::bridge::check(paths, req)?;
    super::bridge::check_more(paths, req)?;
    let NetworkMode::Container(key) = &req.mode else { return Ok(()) };
    let flag = if !req.publish.is_empty() || req.publish_all {
        Some("-p/--publish and -P/--publish-all")
    } else if !req.expose.is_empty() {
        Some("--expose")
    } else if !req.dns.is_empty() || !req.dns_search.is_empty() || !req.dns_option.is_empty() {
        Some("--dns, --dns-search and --dns-option")
    } else if !req.add_host.is_empty() {
        Some("--add-host")
    } else if hostname.is_some() {
        Some("-h/--hostname")
    } else {
        None
    };
    if let Some(flag) = flag {
        return Err(Error::JoinConflict { flag });
    }
    record::find(paths, key)?;
    Ok(())
}

/// Join a running container's network namespace (`--network
/// container:NAME`): its namespace (`running_netns`), held open from now
/// on, and its hostname and `/etc/hosts` and `/etc/resolv.conf` as it has
/// them.
pub fn join(paths: &Paths, key: &str) -> Result<(Prepared, String), Error> {
    let target = record::find(paths, key)?;
    let ns = running_netns(paths, &target).ok_or_else(|| Error::JoinNotRunning { name: target.name.clone() })?;
    let dir = target.dir(paths);
    let read = |file: &str| std::fs::read_to_string(dir.join(file)).map_err(|source| Error::Io { path: dir.join(file), source });
    let hostname = read("hostname")?.trim().to_string();
    let prepared = Prepared {
        spec: NetSpec::Join(std::sync::Arc::new(ns.into())),
        start: None,
        ports: Vec::new(),
        hosts: read("hosts")?,
        resolv: read("resolv.conf")?,
    };
    Ok((prepared, hostname))
}

/// The network namespace of container `r` if it runs (also for
/// `network connect`), opened through its first process and that process
/// checked again afterwards, so a pid reused meanwhile cannot hand over a
/// stranger's namespace.
pub fn running_netns(paths: &Paths, r: &record::Record) -> Option<std::fs::File> {
    let r = record::observed(paths, r.clone());
    let running = r.status == Status::Running && record::is_alive(&r) && r.monitor_alive(paths);
    let pid = r.pid.filter(|_| running)?;
    let ns = std::fs::File::open(format!("/proc/{pid}/ns/net")).ok()?;
    (record::process_start(pid) == r.pid_start).then_some(ns)
}

/// The ports to publish: `-p` values, then (with `-P`) every exposed port
/// of the image and of `--expose` on a free host port.
pub fn mappings(req: &NetworkRequest, image_exposed: &[String]) -> Result<Vec<PortMapping>, Error> {
    let mut out = Vec::new();
    for spec in &req.publish {
        out.extend(ports::parse_publish(spec)?);
    }
    let mut exposed = Vec::new();
    for spec in req.expose.iter().chain(image_exposed) {
        exposed.push(ports::parse_expose(spec)?);
    }
    if req.publish_all {
        for (port, proto) in exposed {
            if !out.iter().any(|m| m.container_port == port && m.proto == proto) {
                out.push(PortMapping { host_ip: None, host_port: 0, container_port: port, proto });
            }
        }
    }
    Ok(out)
}

pub fn prepare(req: &NetworkRequest, image_exposed: &[String], hostname: &str, host_resolv: &str) -> Result<Prepared, Error> {
    let wanted = mappings(req, image_exposed)?;
    if !wanted.is_empty() && !matches!(req.mode, NetworkMode::Burrow(_)) {
        let mode = if req.mode == NetworkMode::Host { "host" } else { "none" };
        return Err(Error::PublishConflict { mode });
    }
    let gateway = crate::network::host_gateway(&req.mode);
    let mut extra = Vec::new();
    for h in &req.add_host {
        extra.push(hosts::parse_add_host(h, gateway)?);
    }
    let dns = resolv::DnsPlan::new(resolv::DnsMode::for_network(&req.mode), &req.dns, &req.dns_search, &req.dns_option)?;
    let resolv = resolv::resolv_conf(host_resolv, dns);
    let hosts = hosts::hosts_file(hostname, crate::network::container_ip(&req.mode), &extra);
    let NetworkMode::Burrow(o) = &req.mode else {
        let spec = if req.mode == NetworkMode::Host { NetSpec::Host } else { NetSpec::Loopback };
        return Ok(Prepared { spec, start: None, ports: Vec::new(), hosts, resolv });
    };
    let ipv6 = o.enable_ipv6 && std::path::Path::new("/proc/sys/net/ipv6").exists();
    let net = o.cidr;
    let tap = TapPlan {
        mtu: o.mtu,
        mac: CONTAINER_MAC,
        addr: net.container(),
        prefix_len: net.prefix_len,
        gateway: net.gateway(),
        ipv6: ipv6.then(|| (net.ipv6_container(), net.ipv6_prefix_len(), net.ipv6_gateway())),
    };
    let upstream: Option<SocketAddr> =
        o.dns_forward.or_else(|| resolv::host_nameservers(host_resolv).into_iter().next().map(|ip| SocketAddr::new(ip, 53)));
    let published = burrow_netstack::bind(&wanted)?;
    let ports = published.iter().map(|p| p.mapping).collect();
    let options = Options {
        plan: Plan { network: net, ipv6, allow_host_loopback: o.allow_host_loopback, dns_upstream: upstream },
        mtu: o.mtu,
        limits: Limits::default(),
        pcap: o.pcap.clone(),
        routed: Vec::new(),
        peer_mac: Some(CONTAINER_MAC),
    };
    Ok(Prepared { spec: NetSpec::Tap(tap), start: Some(NetStart { options, published }), ports, hosts, resolv })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn publish_all_adds_exposed_ports_once() {
        let req =
            NetworkRequest { publish: vec!["8080:80".into()], publish_all: true, expose: vec!["9000/udp".into()], ..Default::default() };
        let m = mappings(&req, &["80/tcp".into(), "443/tcp".into()]).unwrap();
        let shown: Vec<String> = m.iter().map(|m| m.to_string()).collect();
        assert_eq!(shown, ["80/tcp -> 0.0.0.0:8080", "9000/udp -> 0.0.0.0:0", "443/tcp -> 0.0.0.0:0"]);
    }

    #[test]
    fn exposed_ports_alone_publish_nothing() {
        let req = NetworkRequest { expose: vec!["80".into()], ..Default::default() };
        assert!(mappings(&req, &["443/tcp".into()]).unwrap().is_empty());
    }

    #[test]
    fn ports_need_burrows_network() {
        for mode in ["host", "none"] {
            let req = NetworkRequest { mode: mode.parse().unwrap(), publish: vec!["80".into()], ..Default::default() };
            assert!(matches!(prepare(&req, &[], "h", ""), Err(Error::PublishConflict { .. })));
        }
    }

    #[test]
    fn none_mode_has_no_stack() {
        let req = NetworkRequest { mode: NetworkMode::None, ..Default::default() };
        let p = prepare(&req, &[], "h", "nameserver 1.1.1.1\n").unwrap();
        assert!(matches!(p.spec, NetSpec::Loopback));
        assert!(p.start.is_none());
        assert!(p.resolv.contains("1.1.1.1"));
    }
}
