//! A container on a user-defined network (`run --network NAME`).
//!
//! `check` (at create) refuses the flags that need a user-defined network
//! elsewhere, and published ports on an `--internal` one. `endpoint` (at create, under the
//! store lock, so twenty containers created at once get twenty addresses)
//! picks the container's address and MAC with `network::ipam` among the
//! addresses the records already hold. `prepare` (at each start) finds
//! the network's holder or starts it (`network::holder`, under the
//! network's start lock, kept shared until the container is plugged in so
//! an idle holder does not leave meanwhile), and says what `launch`
//! plugs: a veth from the holder's bridge into the container's namespace
//! as `eth0`. The container's `/etc/resolv.conf` names the gateway, where
//! the holder answers the network's container names. `prepare` also binds
//! the published ports, which `launch` hands to the holder once the
//! container is plugged in (`network::publish`); a network without
//! `--internal` gets its way out from the holder (`network::uplink`).

use std::collections::BTreeSet;
use std::fs::OpenOptions;
use std::net::IpAddr;
use std::sync::Arc;

use burrow_netstack::mode::NetworkMode;

use super::net::Prepared;
use super::record::{self, Record};
use super::{Error, Result};
use crate::model::net::NetworkRequest;
use crate::model::network::{Endpoint, Network};
use crate::network::holder::{self, HolderPlan, NetnsHolder};
use crate::network::uplink::UplinkPlan;
use crate::network::{hosts, ipam, resolv, store};
use crate::paths::Paths;
use crate::process::{BridgeJoin, NetSpec};

/// The user-defined network a request names, if it names one.
pub fn named(req: &NetworkRequest) -> Option<&str> {
    match &req.mode {
        NetworkMode::Named(n) => Some(n.as_str()),
        _ => None,
    }
}

fn network(paths: &Paths, key: &str) -> Result<Network> {
    match store::find(paths, key)? {
        store::Found::User(n) => Ok(*n),
        store::Found::Builtin(b) => Err(Error::BuiltinNetwork { name: b.name.to_string() }),
    }
}

/// What `create` checks for `--network NAME`.
pub fn check(paths: &Paths, req: &NetworkRequest) -> Result<()> {
    let Some(key) = named(req) else {
        let flag = if !req.aliases.is_empty() {
            Some("--network-alias")
        } else if req.ip.is_some() {
            Some("--ip")
        } else if !req.links.is_empty() {
            Some("--link")
        } else {
            None
        };
        return match flag {
            Some(flag) => Err(Error::NeedsUserNetwork { flag }),
            None => Ok(()),
        };
    };
    for a in &req.aliases {
        if !crate::model::name::valid_name(a) {
            return Err(Error::InvalidName { name: a.clone() });
        }
    }
    let net = network(paths, key)?;
    if net.internal && (!req.publish.is_empty() || req.publish_all) {
        return Err(Error::InternalPublish { name: net.name });
    }
    Ok(())
}

/// The container's place on the network `key`: the first free address
/// (and IPv6 address) and its MAC. Call with the store lock held.
pub fn endpoint(paths: &Paths, req: &NetworkRequest) -> Result<Endpoint> {
    let net = network(paths, named(req).unwrap_or_default())?;
    let records = record::list(paths)?;
    let on_it = || records.iter().flat_map(|r| r.endpoints.iter()).filter(|e| e.network == net.name);
    let used4: BTreeSet<_> = on_it().map(|e| e.ipv4).collect();
    let used6: BTreeSet<_> = on_it().filter_map(|e| e.ipv6).collect();
    let ipv4 = ipam::allocate_v4(&net, &used4, req.ip)?;
    // A linked container must be on this network (it is known by its
    // address there).
    for link in &req.links {
        linked(&records, &net.name, link)?;
    }
    let ipv6 = match &net.ipv6 {
        Some(_) => Some(ipam::allocate_v6(&net, &used6, None)?),
        None => None,
    };
    Ok(Endpoint { network: net.name, ipv4, ipv6, mac: ipam::mac_for(ipv4), aliases: req.aliases.clone() })
}

/// `--link NAME[:ALIAS]`: the linked container's address on `network`,
/// under its name and the alias.
fn linked(records: &[Record], network: &str, link: &str) -> Result<Vec<(String, IpAddr)>> {
    let (name, alias) = link.split_once(':').unwrap_or((link, link));
    let r = records.iter().find(|r| r.name == name || (name.len() >= 12 && r.id.as_str().starts_with(name)));
    let r = r.ok_or_else(|| Error::NoSuchContainer { key: name.to_string() })?;
    let e = r
        .endpoints
        .iter()
        .find(|e| e.network == network)
        .ok_or_else(|| Error::LinkElsewhere { name: r.name.clone(), network: network.to_string() })?;
    let ip = IpAddr::V4(e.ipv4);
    Ok(vec![(alias.to_string(), ip), (r.name.clone(), ip)])
}

fn mtu(net: &Network) -> u32 {
    net.options.get("mtu").and_then(|m| m.parse().ok()).unwrap_or(1500)
}

/// What the holder of `net` makes: a way out unless it is internal,
/// with DNS forwarded to the host's first nameserver.
fn plan(net: &Network, host_resolv: &str) -> HolderPlan {
    let g = net.ipv4.gateway.octets();
    let (subnet, prefix_len) = (net.ipv4.subnet.addr(), net.ipv4.subnet.prefix_len());
    let ipv6 = net.ipv6.is_some() && std::path::Path::new("/proc/sys/net/ipv6").exists();
    let upstream = resolv::host_nameservers(host_resolv).into_iter().next().map(|ip| std::net::SocketAddr::new(ip, 53));
    HolderPlan {
        gateway: net.ipv4.gateway,
        prefix_len,
        gateway6: net.ipv6.as_ref().map(|c| (c.gateway, c.subnet.prefix_len())),
        mtu: mtu(net),
        mac: [0x02, 0x42, g[0], g[1], g[2], g[3]],
        uplink: (!net.internal).then(|| UplinkPlan::new(subnet, prefix_len, upstream, ipv6)),
    }
}

/// Each start: the holder found or started, the published ports bound,
/// and what `launch` plugs.
pub fn prepare(paths: &Paths, r: &Record, req: &NetworkRequest, image_exposed: &[String], hostname: &str) -> Result<Prepared> {
    let key = named(req).unwrap_or_default();
    let net = network(paths, key)?;
    let ep = r
        .endpoints
        .iter()
        .find(|e| e.network == net.name)
        .ok_or_else(|| Error::NoEndpoint { name: r.name.clone(), network: net.name.clone() })?;
    let dir = store::root(paths).join(&net.name);
    // The start lock, exclusive while finding or starting the holder, then
    // shared until the container is plugged in (it travels in the plan,
    // which `launch` drops after plugging): an idle holder takes it
    // exclusively before it leaves.
    let start = dir.join(holder::START_LOCK);
    let io = |source| Error::Io { path: start.clone(), source };
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let hold = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&start).map_err(io)?;
    flock(&hold, libc::LOCK_EX).map_err(io)?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let wanted = super::net::mappings(req, image_exposed)?;
    let published = burrow_netstack::bind(&wanted)?;
    let ports = published.iter().map(|p| p.mapping).collect();
    let found = match NetnsHolder::find(&dir)? {
        Some(h) => h,
        None => NetnsHolder::create(super::remove::in_userns()?, &dir, &plan(&net, &host_resolv))?,
    };
    flock(&hold, libc::LOCK_SH).map_err(io)?;
    let holder_ns = found.netns().try_clone_to_owned().map_err(|source| Error::Io { path: dir.clone(), source })?;
    let endpoint = holder::Endpoint {
        host_ifname: holder::Endpoint::host_ifname_for(r.id.as_str()),
        ifname: "eth0".into(),
        mac: ep.mac.0,
        mtu: mtu(&net),
        addr: ep.ipv4,
        prefix_len: net.ipv4.subnet.prefix_len(),
        gateway: net.ipv4.gateway,
        ipv6: ep.ipv6.zip(net.ipv6.as_ref()).map(|(a, c)| (a, c.subnet.prefix_len(), c.gateway)),
        default_route: true,
    };
    let mut extra = Vec::new();
    for h in &req.add_host {
        extra.push(hosts::parse_add_host(h, None)?);
    }
    if !req.links.is_empty() {
        let records = record::list(paths)?;
        for link in &req.links {
            extra.extend(linked(&records, &net.name, link)?);
        }
    }
    let hosts = hosts::hosts_file(hostname, Some(IpAddr::V4(ep.ipv4)), &extra);
    let mut dns =
        resolv::DnsPlan::new(resolv::DnsMode::Burrow { dns: IpAddr::V4(net.ipv4.gateway) }, &req.dns, &req.dns_search, &req.dns_option)?;
    // `--dns` servers are the network resolver's upstreams for this
    // container (the holder reads them from its record), as docker's
    // embedded DNS does: the container keeps asking the gateway, so the
    // network's names still resolve.
    dns.servers.clear();
    let resolv = resolv::resolv_conf(&host_resolv, dns);
    let published = std::sync::Mutex::new(published);
    let spec = NetSpec::Bridge(Arc::new(BridgeJoin { holder: holder_ns, endpoint, hold: Some(hold), dir, published }));
    Ok(Prepared { spec, start: None, ports, hosts, resolv })
}

/// flock(2) on a file of this module's (`op`: LOCK_EX or LOCK_SH; a
/// conversion keeps the file locked in one of the two modes).
fn flock(file: &std::fs::File, op: libc::c_int) -> std::io::Result<()> {
    // SAFETY: flock on a descriptor the borrowed file keeps open.
    if unsafe { libc::flock(std::os::fd::AsRawFd::as_raw_fd(file), op) } < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}
