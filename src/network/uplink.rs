//! A user-defined network's way out: a TAP device in the network's
//! namespace, served by burrow-netstack in the holder.
//!
//! Traffic between containers of one network stays on the kernel's
//! bridge. What leaves the network is routed by the network's namespace
//! (IP forwarding is on there) out of `tap0`, a TAP device whose other
//! end is burrow-netstack running in the holder, in the host's network
//! namespace: the stack terminates each flow and carries it over the
//! user's own sockets, exactly as it does for a container on the default
//! network. The namespace plays the container's part on the link between
//! them (`link`, a /24 of the stack's usual plan: the stack is the
//! gateway .2 and the DNS forwarder .3, the namespace is .100), and the
//! stack learns that the network's subnets lie behind it (`routed`), so
//! its replies to 10.89.0.5 go to the namespace, which hands them to the
//! container. No address translation happens anywhere: the stack sees
//! each container's own address, and a client of a published port is
//! shown to the container with its own address too (`publish`).
//!
//! `UplinkPlan::new` is the pure choice of the link (slirp's 10.0.2.0/24
//! unless the network's subnet overlaps it); `make` creates and
//! configures the device in the calling thread's namespace; `options` is
//! what the stack is started with.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::os::fd::OwnedFd;

use burrow_netstack::config::VirtualNetwork;
use burrow_netstack::{Limits, Options, Plan};

use super::link::{self, Netlink};

/// The uplink device's name in the network's namespace.
pub const DEVICE: &str = "tap0";
/// Its hardware address (locally administered; the stack knows it before
/// the first frame, so it can send to the namespace first).
pub const MAC: [u8; 6] = [0x02, 0xb0, 0xb0, 0x00, 0x01, 0x64];

/// What the holder needs to give its network a way out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct UplinkPlan {
    /// The link's /24 (its network address).
    pub link: Ipv4Addr,
    /// Where the stack forwards DNS (the host's nameserver), if anywhere.
    pub dns_upstream: Option<SocketAddr>,
    /// Whether IPv6 leaves too (an `--ipv6` network on a host with IPv6).
    pub ipv6: bool,
}

impl UplinkPlan {
    /// The plan for a network whose IPv4 subnet is `subnet/prefix_len`:
    /// the link is the first of 10.0.2.0/24, 10.0.3.0/24, … that does not
    /// overlap it.
    pub fn new(subnet: Ipv4Addr, prefix_len: u8, dns_upstream: Option<SocketAddr>, ipv6: bool) -> UplinkPlan {
        let overlaps = |link: Ipv4Addr| {
            let shorter = prefix_len.min(24);
            let mask = u32::MAX.checked_shl(32 - u32::from(shorter)).unwrap_or(0);
            u32::from(link) & mask == u32::from(subnet) & mask
        };
        let link = (2..=255u8).map(|third| Ipv4Addr::new(10, 0, third, 0)).find(|l| !overlaps(*l)).unwrap_or(Ipv4Addr::new(10, 0, 2, 0));
        UplinkPlan { link, dns_upstream, ipv6 }
    }

    pub fn network(&self) -> VirtualNetwork {
        VirtualNetwork { network: self.link, prefix_len: 24 }
    }

    /// The address the network's own DNS responder forwards outside
    /// names to: the stack's forwarder on the link.
    pub fn dns(&self) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(self.network().dns()), 53)
    }

    /// What burrow-netstack runs with; `routed` are the network's subnets.
    pub fn options(&self, mtu: u32, routed: Vec<(IpAddr, u8)>) -> Options {
        let plan = Plan { network: self.network(), ipv6: self.ipv6, allow_host_loopback: false, dns_upstream: self.dns_upstream };
        Options { plan, mtu, limits: Limits::default(), pcap: None, routed, peer_mac: Some(MAC) }
    }
}

/// Create `tap0` in the calling thread's network namespace: the
/// namespace's side of the link, with a default route via the stack.
/// Returns the descriptor of the stack's side.
pub fn make(plan: &UplinkPlan, mtu: u32) -> link::Result<OwnedFd> {
    let tap = link::open_tap(DEVICE)?;
    let net = plan.network();
    let mut nl = Netlink::open()?;
    nl.set_mtu_and_address(DEVICE, mtu, MAC)?;
    nl.add_address(DEVICE, IpAddr::V4(net.container()), net.prefix_len)?;
    if plan.ipv6 {
        nl.add_address(DEVICE, IpAddr::V6(net.ipv6_container()), net.ipv6_prefix_len())?;
    }
    nl.set_up(DEVICE)?;
    nl.add_default_route(DEVICE, IpAddr::V4(net.gateway()))?;
    if plan.ipv6 {
        nl.add_default_route(DEVICE, IpAddr::V6(net.ipv6_gateway()))?;
    }
    Ok(tap)
}

/// The IPv6 network address of `addr/prefix_len`.
pub fn v6_network(addr: Ipv6Addr, prefix_len: u8) -> Ipv6Addr {
    let mask = u128::MAX.checked_shl(128 - u32::from(prefix_len)).unwrap_or(0);
    Ipv6Addr::from(u128::from(addr) & mask)
}

/// The IPv4 network address of `addr/prefix_len`.
pub fn v4_network(addr: Ipv4Addr, prefix_len: u8) -> Ipv4Addr {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0);
    Ipv4Addr::from(u32::from(addr) & mask)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_link_avoids_the_networks_subnet() {
        let p = |s: &str, len| UplinkPlan::new(s.parse().unwrap(), len, None, false).link.to_string();
        assert_eq!(p("10.89.0.0", 24), "10.0.2.0");
        assert_eq!(p("10.0.2.0", 24), "10.0.3.0");
        assert_eq!(p("10.0.0.0", 22), "10.0.4.0", "10.0.0.0/22 covers 10.0.0-3");
        assert_eq!(p("10.0.2.128", 25), "10.0.3.0");
        assert_eq!(p("192.168.0.0", 16), "10.0.2.0");
    }

    #[test]
    fn the_stack_forwards_dns_and_routes_the_network_through_the_namespace() {
        let plan = UplinkPlan::new("10.89.0.0".parse().unwrap(), 24, Some("192.0.2.53:53".parse().unwrap()), false);
        assert_eq!(plan.dns().to_string(), "10.0.2.3:53");
        let o = plan.options(1500, vec![("10.89.0.0".parse().unwrap(), 24)]);
        assert_eq!(o.plan.dns_upstream, Some("192.0.2.53:53".parse().unwrap()));
        assert!(!o.plan.allow_host_loopback, "a network's containers do not reach the host's loopback");
        assert_eq!(o.peer_mac, Some(MAC));
        assert_eq!(o.routed.len(), 1);
    }

    #[test]
    fn network_addresses() {
        assert_eq!(v4_network("10.89.3.7".parse().unwrap(), 16).to_string(), "10.89.0.0");
        assert_eq!(v6_network("fd89:0:0:3::1".parse().unwrap(), 64).to_string(), "fd89:0:0:3::");
    }
}
