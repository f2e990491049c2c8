//! The virtual network's addressing plan.
//!
//! One IPv4 /24 (by default 10.0.2.0/24, the range slirp4netns users know):
//! the gateway at .2 (the host, as seen from the container), the DNS
//! forwarder at .3 and the container at .100. A user may move the network
//! with a CIDR (`10.9.0.0/24`); the host parts stay the same. Parsing and
//! validation only; nothing here opens a socket.

use std::net::Ipv4Addr;
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
