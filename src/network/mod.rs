//! Container networking, engine side: the files a container reads to find
//! the network, from the user's flags and the host's own files.
//!
//! `resolv` writes the container's `/etc/resolv.conf` (docker's `--dns`,
//! `--dns-search` and `--dns-option` semantics) and lists the host's
//! nameservers for burrow's DNS forwarder; `hosts` parses `--add-host` and
//! writes `/etc/hosts` in docker's layout. The `--network` value, the
//! addressing plan and the `-p` syntax live in `burrow_netstack` (`mode`,
//! `config`, `ports`), which this module only reads. Everything here is a
//! pure function of its inputs: reading `/etc/resolv.conf` and writing and
//! bind-mounting the results is `container::run`'s job, and nothing here
//! opens a socket. The small helpers below map a `NetworkMode` to the
//! addresses these files name.
//!
//! User-defined networks (`network create`): `ipam` decides their
//! addressing (the subnet pool, the checks of `--subnet`, `--gateway` and
//! `--ip-range`, a container's address and MAC) as pure functions, and
//! `store` keeps them as `networks/<name>/network.json` beside the
//! built-in `bridge`, `host` and `none`.
//! `dns` is the exception that does open sockets: the responder that a
//! user-defined network's holder runs on the network's gateway, and
//! `names` decides what it answers to whom. `link`,
//! `holder`, `uplink` and `publish` are the kernel plumbing of those
//! networks: devices over netlink, the process that holds a network's
//! namespace, its way out through burrow-netstack, and the control socket
//! through which containers publish ports on it.

pub mod dns;
pub mod holder;
pub mod hosts;
pub mod inspect;
pub mod ipam;
pub mod link;
pub mod names;
pub mod publish;
pub mod resolv;
pub mod store;
pub mod uplink;

use std::net::{IpAddr, Ipv4Addr};

use burrow_netstack::mode::NetworkMode;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("invalid --dns value {value:?}: expected an IP address such as 1.1.1.1 or 2606:4700:4700::1111")]
    Dns { value: String },
    #[error("invalid --dns-search value {value:?}: expected a domain name such as example.com, or . for none")]
    DnsSearch { value: String },
    #[error("invalid --dns-option value {value:?}: expected one resolv.conf option such as ndots:2 or edns0")]
    DnsOption { value: String },
    #[error("invalid --add-host value {value:?}: expected NAME:IP or NAME=IP, e.g. db:10.0.2.50, cache:[::1] or gw:host-gateway")]
    AddHostSyntax { value: String },
    #[error("invalid --add-host value {value:?}: {name:?} is not a host name (letters, digits, '.', '-' and '_')")]
    AddHostName { value: String, name: String },
    #[error("invalid --add-host value {value:?}: {addr:?} is not an IP address (nor host-gateway)")]
    AddHostAddress { value: String, addr: String },
    #[error("--add-host {value:?} asks for host-gateway, but this network mode has no gateway to the host (--network none): give an IP address instead")]
    NoHostGateway { value: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The container's own address in `/etc/hosts`: the virtual network's
/// container address in burrow mode, none otherwise (`hosts_file` then
/// writes 127.0.1.1, as docker does without a network).
pub fn container_ip(mode: &NetworkMode) -> Option<IpAddr> {
    match mode {
        NetworkMode::Burrow(o) => Some(IpAddr::V4(o.cidr.container())),
        NetworkMode::None | NetworkMode::Host | NetworkMode::Container(_) | NetworkMode::Named(_) => None,
    }
}

/// What `host-gateway` stands for: the virtual gateway in burrow mode, the
/// host's loopback in host mode (the container shares the host's network,
/// so the host's services are right there), nothing in none mode.
pub fn host_gateway(mode: &NetworkMode) -> Option<IpAddr> {
    match mode {
        NetworkMode::Burrow(o) => Some(IpAddr::V4(o.cidr.gateway())),
        NetworkMode::Host => Some(IpAddr::V4(Ipv4Addr::LOCALHOST)),
        NetworkMode::None | NetworkMode::Container(_) | NetworkMode::Named(_) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_per_mode() {
        let burrow: NetworkMode = "burrow:cidr=10.9.0.0/24".parse().unwrap();
        assert_eq!(container_ip(&burrow), Some("10.9.0.100".parse().unwrap()));
        assert_eq!(host_gateway(&burrow), Some("10.9.0.2".parse().unwrap()));
        assert_eq!(container_ip(&NetworkMode::default()), Some("10.0.2.100".parse().unwrap()));
        assert_eq!(container_ip(&NetworkMode::Host), None);
        assert_eq!(host_gateway(&NetworkMode::Host), Some("127.0.0.1".parse().unwrap()));
        assert_eq!(container_ip(&NetworkMode::None), None);
        assert_eq!(host_gateway(&NetworkMode::None), None);
    }
}
