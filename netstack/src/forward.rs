//! The forwarding decision: where a flow the container opens goes on the host.
//!
//! One pure function of the destination the container asked for, the
//! protocol and the plan. The virtual network's special addresses are
//! translated: the gateway is the host's loopback, but only when the user
//! allowed it (`allow_host_loopback`); port 53 of the DNS address is the
//! first nameserver of the host's resolv.conf (a `127.0.0.53` stub
//! included: it is the host side that connects). Everything else inside the
//! virtual subnet, and destinations that make no sense from a container
//! (loopback, multicast, broadcast, unspecified), are refused; any other
//! address is reached as it is, with the user's own sockets, so a container
//! reaches exactly what its user could.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use crate::config::VirtualNetwork;

/// The transport of a flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    Tcp,
    Udp,
    Icmp,
}

/// What the decision needs to know.
#[derive(Debug, Clone)]
pub struct Plan {
    pub network: VirtualNetwork,
    pub ipv6: bool,
    pub allow_host_loopback: bool,
    /// Where DNS queries go; `None` when the host has no nameserver.
    pub dns_upstream: Option<SocketAddr>,
}

/// Why a flow is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The gateway stands for the host's loopback, which needs permission.
    HostLoopback,
    /// The DNS address only answers DNS.
    NotDns,
    /// No nameserver is known to forward to.
    NoUpstream,
    /// Nothing lives at this address of the virtual network.
    NoSuchHost,
    /// Loopback, multicast, broadcast or unspecified: not routable.
    Unroutable,
}

/// The decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Open a host socket to this address (the port is ignored for ICMP).
    Host(SocketAddr),
    Refuse(Refusal),
}

/// Decide where a flow to `dst` goes.
pub fn outbound(plan: &Plan, transport: Transport, dst: SocketAddr) -> Verdict {
    let net = &plan.network;
    let ip = dst.ip();
    if ip.is_ipv6() && !plan.ipv6 {
        // IPv6 is off: the container has no such address to speak from.
        return Verdict::Refuse(Refusal::Unroutable);
    }
    let (gateway, dns, loopback): (IpAddr, IpAddr, IpAddr) = match ip {
        IpAddr::V4(_) => (net.gateway().into(), net.dns().into(), Ipv4Addr::LOCALHOST.into()),
        IpAddr::V6(_) => (net.ipv6_gateway().into(), net.ipv6_dns().into(), Ipv6Addr::LOCALHOST.into()),
    };
    if ip == gateway {
        return if plan.allow_host_loopback {
            Verdict::Host(SocketAddr::new(loopback, dst.port()))
        } else {
            Verdict::Refuse(Refusal::HostLoopback)
        };
    }
    if ip == dns {
        if transport == Transport::Icmp || dst.port() != 53 {
            return Verdict::Refuse(Refusal::NotDns);
        }
        return match plan.dns_upstream {
            Some(up) => Verdict::Host(up),
            None => Verdict::Refuse(Refusal::NoUpstream),
        };
    }
    let inside = match ip {
        IpAddr::V4(a) => (u32::from(a) & u32::from(net.netmask())) == u32::from(net.network),
        IpAddr::V6(a) => plan.ipv6 && a.segments()[..4] == net.ipv6_prefix().segments()[..4],
    };
    if inside {
        return Verdict::Refuse(Refusal::NoSuchHost);
    }
    let unroutable = match ip {
        IpAddr::V4(a) => a.is_loopback() || a.is_multicast() || a.is_broadcast() || a.is_unspecified(),
        IpAddr::V6(a) => {
            a.is_loopback()
                || a.is_multicast()
                || a.is_unspecified()
                || (a.segments()[0] & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped().is_some()
        }
    };
    if unroutable {
        return Verdict::Refuse(Refusal::Unroutable);
    }
    Verdict::Host(dst)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(allow: bool) -> Plan {
        Plan {
            network: VirtualNetwork::default(),
            ipv6: true,
            allow_host_loopback: allow,
            dns_upstream: Some("127.0.0.53:53".parse().unwrap()),
        }
    }

    fn sa(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn gateway_is_host_loopback_only_when_allowed() {
        assert_eq!(outbound(&plan(false), Transport::Tcp, sa("10.0.2.2:80")), Verdict::Refuse(Refusal::HostLoopback));
        assert_eq!(outbound(&plan(true), Transport::Tcp, sa("10.0.2.2:80")), Verdict::Host(sa("127.0.0.1:80")));
        let v6gw = SocketAddr::new(VirtualNetwork::default().ipv6_gateway().into(), 80);
        assert_eq!(outbound(&plan(true), Transport::Tcp, v6gw), Verdict::Host(sa("[::1]:80")));
        assert_eq!(outbound(&plan(false), Transport::Icmp, sa("10.0.2.2:0")), Verdict::Refuse(Refusal::HostLoopback));
    }

    #[test]
    fn dns_address_forwards_port_53_only() {
        let p = plan(false);
        assert_eq!(outbound(&p, Transport::Udp, sa("10.0.2.3:53")), Verdict::Host(sa("127.0.0.53:53")));
        assert_eq!(outbound(&p, Transport::Tcp, sa("10.0.2.3:53")), Verdict::Host(sa("127.0.0.53:53")));
        assert_eq!(outbound(&p, Transport::Tcp, sa("10.0.2.3:22")), Verdict::Refuse(Refusal::NotDns));
        let none = Plan { dns_upstream: None, ..p };
        assert_eq!(outbound(&none, Transport::Udp, sa("10.0.2.3:53")), Verdict::Refuse(Refusal::NoUpstream));
    }

    #[test]
    fn ipv6_off_refuses_ipv6() {
        let p = Plan { ipv6: false, ..plan(true) };
        assert_eq!(outbound(&p, Transport::Tcp, sa("[2a04:4e42::644]:443")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Tcp, sa("10.0.2.2:80")), Verdict::Host(sa("127.0.0.1:80")));
    }

    #[test]
    fn other_addresses() {
        let p = plan(false);
        assert_eq!(outbound(&p, Transport::Tcp, sa("10.0.2.77:80")), Verdict::Refuse(Refusal::NoSuchHost));
        assert_eq!(outbound(&p, Transport::Tcp, sa("127.0.0.1:80")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Udp, sa("224.0.0.251:5353")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Udp, sa("255.255.255.255:67")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Tcp, sa("[::1]:80")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Tcp, sa("[fe80::1]:80")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Tcp, sa("[::ffff:127.0.0.1]:80")), Verdict::Refuse(Refusal::Unroutable));
        assert_eq!(outbound(&p, Transport::Tcp, sa("151.101.2.132:80")), Verdict::Host(sa("151.101.2.132:80")));
        assert_eq!(outbound(&p, Transport::Tcp, sa("[2a04:4e42::644]:443")), Verdict::Host(sa("[2a04:4e42::644]:443")));
    }
}
