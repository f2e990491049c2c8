//! The virtual network's addressing plan.
//!
//! One IPv4 /24 (by default 10.0.2.0/24, the range slirp4netns users know):
//! the gateway at .2 (the host, as seen from the container), the DNS
//! forwarder at .3 and the container at .100. A user may move the network
//! with a CIDR (`10.9.0.0/24`); the host parts stay the same.
//!
//! IPv6 uses one fixed unique-local /64, `fd00:b0b0::/64` (RFC 4193), with the
//! same host numbers: gateway `fd00:b0b0::2`, DNS `fd00:b0b0::3`, container
//! `fd00:b0b0::100`. Every container has its own namespace, so one fixed
//! prefix never collides between containers; it is not configurable because
//! nothing has needed it to be. Parsing and validation only; nothing here
//! opens a socket.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("invalid network {text:?}: expected an IPv4 CIDR such as 10.0.2.0/24")]
    Syntax { text: String },
    #[error("network {text:?} is too small: burrow needs at least a /24 (prefix length 24 or less)")]
    TooSmall { text: String },
}

/// Host numbers inside the subnet.
const GATEWAY_HOST: u32 = 2;
const DNS_HOST: u32 = 3;
const CONTAINER_HOST: u32 = 100;

/// The IPv6 prefix of every virtual network: `fd00:b0b0::/64`.
pub const IPV6_PREFIX: Ipv6Addr = Ipv6Addr::new(0xfd00, 0xb0b0, 0, 0, 0, 0, 0, 0);
pub const IPV6_PREFIX_LEN: u8 = 64;
/// IPv6 interface ids, written in hex as the addresses show them.
const IPV6_GATEWAY_HOST: u16 = 0x2;
const IPV6_DNS_HOST: u16 = 0x3;
const IPV6_CONTAINER_HOST: u16 = 0x100;

/// The addresses of one container's virtual network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VirtualNetwork {
    pub network: Ipv4Addr,
    pub prefix_len: u8,
}

impl Default for VirtualNetwork {
    fn default() -> Self {
        VirtualNetwork { network: Ipv4Addr::new(10, 0, 2, 0), prefix_len: 24 }
    }
}

impl VirtualNetwork {
    fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(u32::from(self.network) | n)
    }
    pub fn gateway(&self) -> Ipv4Addr {
        self.host(GATEWAY_HOST)
    }
    pub fn dns(&self) -> Ipv4Addr {
        self.host(DNS_HOST)
    }
    pub fn container(&self) -> Ipv4Addr {
        self.host(CONTAINER_HOST)
    }
    pub fn netmask(&self) -> Ipv4Addr {
        Ipv4Addr::from(u32::MAX.checked_shl(32 - u32::from(self.prefix_len)).unwrap_or(0))
    }

    fn ipv6_host(&self, n: u16) -> Ipv6Addr {
        let s = IPV6_PREFIX.segments();
        Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, n)
    }
    /// The IPv6 network address, `fd00:b0b0::` (the same for every network).
    pub fn ipv6_prefix(&self) -> Ipv6Addr {
        IPV6_PREFIX
    }
    pub fn ipv6_prefix_len(&self) -> u8 {
        IPV6_PREFIX_LEN
    }
    /// `fd00:b0b0::2`: the host, as seen from the container.
    pub fn ipv6_gateway(&self) -> Ipv6Addr {
        self.ipv6_host(IPV6_GATEWAY_HOST)
    }
    /// `fd00:b0b0::3`: the DNS forwarder.
    pub fn ipv6_dns(&self) -> Ipv6Addr {
        self.ipv6_host(IPV6_DNS_HOST)
    }
    /// `fd00:b0b0::100`: the container.
    pub fn ipv6_container(&self) -> Ipv6Addr {
        self.ipv6_host(IPV6_CONTAINER_HOST)
    }
}

impl std::fmt::Display for VirtualNetwork {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

impl FromStr for VirtualNetwork {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let syntax = || Error::Syntax { text: text.into() };
        let (addr, len) = text.split_once('/').ok_or_else(syntax)?;
        let addr: Ipv4Addr = addr.parse().map_err(|_| syntax())?;
        let prefix_len: u8 = len.parse().map_err(|_| syntax())?;
        if prefix_len > 32 {
            return Err(syntax());
        }
        if prefix_len > 24 {
            return Err(Error::TooSmall { text: text.into() });
        }
        let mask = u32::MAX.checked_shl(32 - u32::from(prefix_len)).unwrap_or(0);
        Ok(VirtualNetwork { network: Ipv4Addr::from(u32::from(addr) & mask), prefix_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_plan() {
        let n = VirtualNetwork::default();
        assert_eq!(n.gateway(), Ipv4Addr::new(10, 0, 2, 2));
        assert_eq!(n.dns(), Ipv4Addr::new(10, 0, 2, 3));
        assert_eq!(n.container(), Ipv4Addr::new(10, 0, 2, 100));
        assert_eq!(n.netmask(), Ipv4Addr::new(255, 255, 255, 0));
        assert_eq!(n.to_string(), "10.0.2.0/24");
    }

    #[test]
    fn ipv6_plan() {
        let n: VirtualNetwork = "10.9.0.0/24".parse().unwrap();
        let a = |t: &str| t.parse::<Ipv6Addr>().unwrap();
        assert_eq!(n.ipv6_prefix(), a("fd00:b0b0::"));
        assert_eq!(n.ipv6_prefix_len(), 64);
        assert_eq!(n.ipv6_gateway(), a("fd00:b0b0::2"));
        assert_eq!(n.ipv6_dns(), a("fd00:b0b0::3"));
        assert_eq!(n.ipv6_container(), a("fd00:b0b0::100"));
        assert!(n.ipv6_container().is_unique_local());
    }

    #[test]
    fn parses_and_normalises() {
        let n: VirtualNetwork = "10.9.0.77/24".parse().unwrap();
        assert_eq!(n.network, Ipv4Addr::new(10, 9, 0, 0));
        assert_eq!(n.container(), Ipv4Addr::new(10, 9, 0, 100));
        let wide: VirtualNetwork = "172.30.0.0/16".parse().unwrap();
        assert_eq!(wide.dns(), Ipv4Addr::new(172, 30, 0, 3));
    }

    #[test]
    fn rejects_bad_input() {
        assert!(matches!("10.0.2.0".parse::<VirtualNetwork>(), Err(Error::Syntax { .. })));
        assert!(matches!("10.0.2.0/33".parse::<VirtualNetwork>(), Err(Error::Syntax { .. })));
        assert!(matches!("10.0.2.0/28".parse::<VirtualNetwork>(), Err(Error::TooSmall { .. })));
        assert!(matches!("x/24".parse::<VirtualNetwork>(), Err(Error::Syntax { .. })));
    }
}
