//! `network connect` and `network disconnect`: a container joins or
//! leaves a user-defined network, running or not (docker's semantics).
//!
//! Connect decides the container's endpoint on the network (address, MAC,
//! aliases: `bridge::allocate`) and records it under the store lock, as
//! `create` does, so concurrent connects and creates get distinct
//! addresses. A container that is not running is done then: its next
//! start plugs every endpoint of its record (`bridge::prepare`). A running
//! one is plugged at once, outside the store lock (finding or starting
//! the network's holder takes the network's start lock, which a start
//! holds while it may wait for the store): a veth from the holder's bridge
//! into the container's namespace as the first free `ethN`, with no
//! default route unless it is the container's only network. If plugging
//! fails the endpoint is taken out of the record again, so a connect
//! either happens whole or not at all.
//!
//! Only a container created on a user-defined network can be connected:
//! burrow's default network (a TAP served by burrow-netstack), `host`,
//! `none` and `container:` give the container no bridge to add to, and
//! mixing the default network with user-defined ones is not supported.
//!
//! Disconnect unplugs a running container (the holder deletes its end of
//! the veth, which takes the container's end with it) and forgets the
//! endpoint. With `-f` a failure to unplug (its holder gone, the link
//! already removed) does not keep the endpoint.
//!
//! The network's DNS sees both at once: it reads the records' endpoints
//! at each query.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::AsFd;

use burrow_netstack::mode::NetworkMode;

use super::bridge::{self, Wanted};
use super::record::{self, Record};
use super::{Error, Result};
use crate::lock::StoreLock;
use crate::model::net::NetworkRequest;
use crate::model::network::{Endpoint, Network};
use crate::network::holder::{self, NetnsHolder};
use crate::network::store;
use crate::paths::Paths;
use crate::userns::InUserns;

/// What `network connect` asks for.
#[derive(Debug, Clone, Default)]
pub struct ConnectRequest {
    /// The network, by name or id.
    pub network: String,
    /// The container, by name or id.
    pub container: String,
    pub aliases: Vec<String>,
    pub ip: Option<Ipv4Addr>,
    pub ip6: Option<Ipv6Addr>,
}

/// Connect a container to a network; plugged at once if it runs.
pub fn connect(paths: &Paths, req: &ConnectRequest, _ns: &InUserns) -> Result<()> {
    let (r, net, ep) = {
        let _store = StoreLock::exclusive(&paths.lock_file())?;
        let net = bridge::network(paths, &req.network)?;
        let r = record::find(paths, &req.container)?;
        let config = r.config.clone().unwrap_or_default();
        if bridge::named(&config.network).is_none() {
            return Err(Error::ConnectMode { name: r.name, network: net.name, mode: config.network.mode.to_string() });
        }
        if r.endpoints.iter().any(|e| e.network == net.name) {
            return Err(Error::AlreadyConnected { name: r.name, network: net.name });
        }
        // The aliases as `run --network-alias` takes them (published ports
        // stay on the container's first network).
        let on_it = NetworkRequest { mode: NetworkMode::Named(net.name.clone()), aliases: req.aliases.clone(), ..Default::default() };
        bridge::check(paths, &on_it)?;
        let want = Wanted { ip: req.ip, ip6: req.ip6, mac: None, aliases: req.aliases.clone() };
        let ep = bridge::allocate(&record::list(paths)?, &net, &want)?;
        let r = r.update(paths, |c| c.endpoints.push(ep.clone()))?;
        (r, net, ep)
    };
    let Some(ns) = super::net::running_netns(paths, &r) else { return Ok(()) };
    let only = r.endpoints.len() == 1;
    let plugged = bridge::holder_of(paths, &net).and_then(|(holder, _hold)| {
        let ifname = bridge::free_ifname(ns.as_fd())?;
        let plug = bridge::plug_endpoint(r.id.as_str(), &ep, &net, ifname, only);
        Ok(holder::attach(holder.as_fd(), ns.as_fd(), &plug)?)
    });
    if let Err(e) = plugged {
        let _store = StoreLock::exclusive(&paths.lock_file())?;
        if let Err(undo) = r.update(paths, |c| c.endpoints.retain(|x| x.network != net.name)) {
            tracing::warn!(%undo, "cannot take the endpoint that was not plugged out of the record");
        }
        return Err(e);
    }
    Ok(())
}

/// Disconnect a container from a network; unplugged at once if it runs.
pub fn disconnect(paths: &Paths, network: &str, container: &str, force: bool, _ns: &InUserns) -> Result<()> {
    let _store = StoreLock::exclusive(&paths.lock_file())?;
    let net = bridge::network(paths, network)?;
    let r = record::find(paths, container)?;
    let ep = r
        .endpoints
        .iter()
        .find(|e| e.network == net.name)
        .cloned()
        .ok_or_else(|| Error::NotConnected { name: r.name.clone(), network: net.name.clone() })?;
    if super::net::running_netns(paths, &r).is_some() {
        match unplug(paths, &r, &net, &ep) {
            Err(e) if force => tracing::warn!(%e, "cannot unplug the container; forgetting its endpoint anyway (-f)"),
            other => other?,
        }
    }
    r.update(paths, |c| c.endpoints.retain(|e| e.network != net.name))?;
    Ok(())
}

/// Unplug a running container from `net`: nothing to do when the holder
/// is gone, since its namespace and every veth in it went with it.
fn unplug(paths: &Paths, r: &Record, net: &Network, ep: &Endpoint) -> Result<()> {
    let Some(found) = NetnsHolder::find(&store::root(paths).join(&net.name))? else { return Ok(()) };
    let plug = bridge::plug_endpoint(r.id.as_str(), ep, net, String::new(), false);
    Ok(holder::detach(found.netns(), &plug)?)
}
