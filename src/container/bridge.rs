//! A container on user-defined networks (`run --network NAME`, repeated
//! for several, and `network connect`, see `connect`).
//!
//! `check` (at create) refuses the flags that need a user-defined network
//! elsewhere, and published ports on an `--internal` one; `check_more`
//! the flags of the first network (`--ip6`, `--mac-address`) and further
//! `--network` values. `endpoints` (at create, under the store lock, so
//! twenty containers created at once get twenty addresses) gives the
//! container an endpoint on each network (`allocate`: address, IPv6
//! address and MAC, with `network::ipam`, among those the records already
//! hold); `--ip`, `--ip6`, `--mac-address` and `--network-alias` apply to
//! the first network, as in docker (podman applies them to the only
//! network and refuses them with several; docker's rule keeps scripts
//! that add a second network working). `prepare` (at each start) finds
//! each network's holder or starts it (`holder_of`: `network::holder`,
//! under the network's start lock, kept shared until the container is
//! plugged in so an idle holder does not leave meanwhile; the locks are
//! taken in name order), and says what `launch` plugs: a veth from each
//! holder's bridge into the container's namespace, `eth0` on the first
//! network with the default routes, `eth1`... on the others in the
//! record's order. The container's `/etc/resolv.conf` names the first
//! network's gateway, where the holder answers the names of all the
//! container's networks (`network::names`). `prepare` also binds the
//! published ports, which `launch` hands to the first network's holder
//! once the container is plugged in (`network::publish`); a network
//! without `--internal` gets its way out from the holder
//! (`network::uplink`).

use std::collections::BTreeSet;
use std::fs::{File, OpenOptions};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::sync::Arc;

use burrow_netstack::mode::NetworkMode;

use super::net::Prepared;
use super::record::{self, Record};
use super::{Error, Result};
use crate::model::net::NetworkRequest;
use crate::model::network::{Endpoint, Mac, Network};
use crate::network::holder::{self, HolderPlan, NetnsHolder};
use crate::network::uplink::UplinkPlan;
use crate::network::{hosts, ipam, link, resolv, store};
use crate::paths::Paths;
use crate::process::{BridgeJoin, BridgePlug, NetSpec};

/// The user-defined network a request names, if it names one.
pub fn named(req: &NetworkRequest) -> Option<&str> {
    match &req.mode {
        NetworkMode::Named(n) => Some(n.as_str()),
        _ => None,
    }
}

pub(super) fn network(paths: &Paths, key: &str) -> Result<Network> {
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

/// The user-defined networks a request names, the first (`mode`) first.
pub fn requested(req: &NetworkRequest) -> Vec<&str> {
    named(req).into_iter().chain(req.more_networks.iter().map(String::as_str)).collect()
}

/// What `create` checks besides `check`: the flags for the first network
/// (`--ip6`, `--mac-address`) and `--network` given more than once (each
/// further network an existing user-defined one, given once; published
/// ports go through the first network only, so only its kind matters).
pub fn check_more(paths: &Paths, req: &NetworkRequest) -> Result<()> {
    if named(req).is_none() {
        if !req.more_networks.is_empty() {
            return Err(Error::CombinedNetworks { mode: req.mode.to_string() });
        }
        let flag = if req.ip6.is_some() {
            Some("--ip6")
        } else if req.mac.is_some() {
            Some("--mac-address")
        } else {
            None
        };
        return flag.map_or(Ok(()), |flag| Err(Error::NeedsUserNetwork { flag }));
    }
    if let Some(mac) = req.mac {
        if mac.0[0] & 1 != 0 || mac.0 == [0; 6] {
            return Err(Error::BadMac { mac });
        }
    }
    let mut seen = vec![network(paths, named(req).unwrap_or_default())?.name];
    for extra in &req.more_networks {
        let Ok(NetworkMode::Named(key)) = extra.parse::<NetworkMode>() else {
            return Err(Error::CombinedNetworks { mode: extra.clone() });
        };
        let name = network(paths, &key)?.name;
        if seen.contains(&name) {
            return Err(Error::NetworkTwice { name });
        }
        seen.push(name);
    }
    Ok(())
}

/// What a container asks for on one network (`run` flags for its first
/// network, `network connect` flags).
#[derive(Debug, Clone, Default)]
pub struct Wanted {
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
    pub mac: Option<Mac>,
    pub aliases: Vec<String>,
}

/// The container's place on each network it asks for: the first free
/// address (and IPv6 address) and a MAC on each; `--ip`, `--ip6`,
/// `--mac-address` and `--network-alias` apply to the first network (as
/// docker does). Call with the store lock held.
pub fn endpoints(paths: &Paths, req: &NetworkRequest) -> Result<Vec<Endpoint>> {
    let records = record::list(paths)?;
    let mut out = Vec::new();
    for (i, key) in requested(req).into_iter().enumerate() {
        let net = network(paths, key)?;
        let want = if i == 0 {
            // A linked container must be on this network (it is known by
            // its address there).
            for link in &req.links {
                linked(&records, &net.name, link)?;
            }
            Wanted { ip: req.ip, ip6: req.ip6, mac: req.mac, aliases: req.aliases.clone() }
        } else {
            Wanted::default()
        };
        out.push(allocate(&records, &net, &want)?);
    }
    Ok(out)
}

/// One endpoint on `net`, among the addresses and MACs the `records`
/// already hold there. Call with the store lock held.
pub(super) fn allocate(records: &[Record], net: &Network, want: &Wanted) -> Result<Endpoint> {
    let on_it = || records.iter().flat_map(|r| r.endpoints.iter().map(move |e| (r, e))).filter(|(_, e)| e.network == net.name);
    let used4: BTreeSet<_> = on_it().map(|(_, e)| e.ipv4).collect();
    let used6: BTreeSet<_> = on_it().filter_map(|(_, e)| e.ipv6).collect();
    let ipv4 = ipam::allocate_v4(net, &used4, want.ip)?;
    let ipv6 = match (&net.ipv6, want.ip6) {
        (None, None) => None,
        _ => Some(ipam::allocate_v6(net, &used6, want.ip6)?),
    };
    let mac = want.mac.unwrap_or_else(|| ipam::mac_for(ipv4));
    if let Some((r, _)) = on_it().find(|(_, e)| e.mac == mac) {
        return Err(Error::MacInUse { mac, network: net.name.clone(), container: r.name.clone() });
    }
    Ok(Endpoint { network: net.name.clone(), ipv4, ipv6, mac, aliases: want.aliases.clone() })
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
        mtu: net.mtu(),
        mac: [0x02, 0x42, g[0], g[1], g[2], g[3]],
        uplink: (!net.internal).then(|| UplinkPlan::new(subnet, prefix_len, upstream, ipv6)),
    }
}

/// The holder of `net`, found or started, and its start lock held shared:
/// keep the lock until the container is plugged in (an idle holder takes
/// it exclusively before it leaves). Call in burrow's user namespace.
pub(super) fn holder_of(paths: &Paths, net: &Network) -> Result<(OwnedFd, File)> {
    let dir = store::root(paths).join(&net.name);
    let start = dir.join(holder::START_LOCK);
    let io = |source| Error::Io { path: start.clone(), source };
    std::fs::create_dir_all(&dir).map_err(|source| Error::Io { path: dir.clone(), source })?;
    let hold = OpenOptions::new().read(true).write(true).create(true).truncate(false).open(&start).map_err(io)?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    loop {
        // Exclusive while finding or starting the holder, then shared.
        flock(&hold, libc::LOCK_EX).map_err(io)?;
        let found = match NetnsHolder::find(&dir)? {
            Some(h) => h,
            None => NetnsHolder::create(super::remove::in_userns()?, &dir, &plan(net, &host_resolv))?,
        };
        // The conversion is not atomic (flock(2)): an idle holder may
        // take the lock in between and leave. Shared, it cannot any more,
        // so the holder is looked for again: still the same, it stays.
        flock(&hold, libc::LOCK_SH).map_err(io)?;
        if NetnsHolder::find(&dir).ok().flatten().is_some_and(|again| again.pid() == found.pid()) {
            let ns = found.netns().try_clone_to_owned().map_err(|source| Error::Io { path: dir.clone(), source })?;
            return Ok((ns, hold));
        }
        tracing::debug!(pid = found.pid(), "the network's holder left while the container was being started; looking again");
    }
}

/// How container `id`'s endpoint `ep` on `net` is plugged: as `ifname`,
/// with the default routes through it or not.
pub(super) fn plug_endpoint(id: &str, ep: &Endpoint, net: &Network, ifname: String, default_route: bool) -> holder::Endpoint {
    holder::Endpoint {
        host_ifname: holder::Endpoint::host_ifname_for(id),
        ifname,
        mac: ep.mac.0,
        mtu: net.mtu(),
        addr: ep.ipv4,
        prefix_len: net.ipv4.subnet.prefix_len(),
        gateway: net.ipv4.gateway,
        ipv6: ep.ipv6.zip(net.ipv6.as_ref()).map(|(a, c)| (a, c.subnet.prefix_len(), c.gateway)),
        default_route,
    }
}

/// Each start: the published ports bound, the holders found or started,
/// and what `launch` plugs: `eth0` on the first network (with the default
/// routes, and the published ports), `eth1`... on the others, in the
/// record's order.
pub fn prepare(paths: &Paths, r: &Record, req: &NetworkRequest, image_exposed: &[String], hostname: &str) -> Result<Prepared> {
    let nets = r.endpoints.iter().map(|e| network(paths, &e.network)).collect::<Result<Vec<_>>>()?;
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    // No network left (disconnected from all): nothing to publish through.
    let wanted = if nets.is_empty() { Vec::new() } else { super::net::mappings(req, image_exposed)? };
    let published = burrow_netstack::bind(&wanted)?;
    let ports = published.iter().map(|p| p.mapping).collect();
    // Start locks in name order: two starts taking two networks' locks in
    // opposite orders would wait for each other.
    let mut order: Vec<usize> = (0..nets.len()).collect();
    order.sort_by(|&a, &b| nets[a].name.cmp(&nets[b].name));
    let mut holders: Vec<Option<(OwnedFd, File)>> = nets.iter().map(|_| None).collect();
    for i in order {
        holders[i] = Some(holder_of(paths, &nets[i])?);
    }
    let mut plugs = Vec::new();
    for (i, ((ep, net), held)) in r.endpoints.iter().zip(&nets).zip(holders).enumerate() {
        let (holder, hold) = held.expect("every holder was found above");
        let endpoint = plug_endpoint(r.id.as_str(), ep, net, format!("eth{i}"), i == 0);
        plugs.push(BridgePlug { holder, endpoint, hold: std::sync::Mutex::new(Some(hold)), dir: store::root(paths).join(&net.name) });
    }
    let first = r.endpoints.first().zip(nets.first());
    let mut extra = Vec::new();
    for h in &req.add_host {
        extra.push(hosts::parse_add_host(h, None)?);
    }
    if let (Some((_, net)), false) = (first, req.links.is_empty()) {
        let records = record::list(paths)?;
        for link in &req.links {
            extra.extend(linked(&records, &net.name, link)?);
        }
    }
    let hosts = hosts::hosts_file(hostname, first.map(|(ep, _)| IpAddr::V4(ep.ipv4)), &extra);
    let mode = first.map_or(resolv::DnsMode::None, |(_, net)| resolv::DnsMode::Burrow { dns: IpAddr::V4(net.ipv4.gateway) });
    let mut dns = resolv::DnsPlan::new(mode, &req.dns, &req.dns_search, &req.dns_option)?;
    // `--dns` servers are the network resolver's upstreams for this
    // container (the holder reads them from its record), as docker's
    // embedded DNS does: the container keeps asking the gateway, so the
    // network's names still resolve.
    dns.servers.clear();
    let resolv = resolv::resolv_conf(&host_resolv, dns);
    let published = std::sync::Mutex::new(published);
    let spec = NetSpec::Bridge(Arc::new(BridgeJoin { plugs, published }));
    Ok(Prepared { spec, start: None, ports, hosts, resolv })
}

/// The first `ethN` name free in the namespace `netns` (a running
/// container's, for `network connect`).
pub(super) fn free_ifname(netns: BorrowedFd<'_>) -> Result<String> {
    let found = link::in_netns(netns, || -> std::result::Result<String, link::Error> {
        let mut nl = link::Netlink::open()?;
        Ok((0..).map(|i| format!("eth{i}")).find(|n| nl.index(n).is_err()).expect("some ethN is free"))
    });
    Ok(found.map_err(holder::Error::from)?.map_err(holder::Error::from)?)
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
