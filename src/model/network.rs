//! User-defined networks as the store keeps them, and what a container
//! has on one of them.
//!
//! A `Network` is the whole definition `network create` settles on: its
//! addressing (an IPv4 subnet with its gateway and optional allocation
//! range, an optional IPv6 subnet and gateway), whether it reaches the
//! outside (`internal`), labels and driver options, and when it was made.
//! Every address is a typed value (`ipnet` for prefixes), checked once by
//! `network::ipam` before a `Network` exists, so a loaded record needs no
//! re-parsing. An `Endpoint` is one container's place on one network: its
//! addresses, its MAC and the extra names (aliases) it answers to. Both
//! are plain data for records; the rules that make them live in
//! `network::ipam` and `network::store`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{Ipv4Addr, Ipv6Addr};

use ipnet::{Ipv4Net, Ipv6Net};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

use super::id::NetworkId;
use super::time::Timestamp;

/// The network drivers burrow has: only docker's `bridge`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Driver {
    Bridge,
}

impl Driver {
    pub fn as_str(&self) -> &'static str {
        match self {
            Driver::Bridge => "bridge",
        }
    }
}

/// A network's IPv4 addressing.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv4Config {
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    /// Where container addresses are taken from (the whole subnet if none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_range: Option<Ipv4Net>,
}

/// A network's IPv6 addressing (`--ipv6`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ipv6Config {
    pub subnet: Ipv6Net,
    pub gateway: Ipv6Addr,
}

/// One user-defined network (`networks/<name>/network.json`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Network {
    pub name: String,
    pub id: NetworkId,
    pub driver: Driver,
    pub ipv4: Ipv4Config,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Config>,
    /// No way out: containers reach each other only.
    #[serde(default)]
    pub internal: bool,
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Driver options as given with `-o` (only `mtu` is accepted).
    #[serde(default)]
    pub options: BTreeMap<String, String>,
    pub created: Timestamp,
}

/// The MTU of a user-defined network's bridge and veths when `-o mtu` is
/// not given. Nothing of the network reaches a physical link: traffic
/// between containers stays in the kernel, and traffic to the outside is
/// terminated by burrow-netstack and carried over the user's own sockets.
/// So the MTU is burrow-netstack's (the default network's TAP has the
/// same), not Ethernet's 1500, and containers exchange 64 KiB segments
/// as they would over loopback (measured: c2c throughput about 2x that of
/// MTU 1500, `packaging/bench/net`).
pub const DEFAULT_MTU: u32 = 65520;

impl Network {
    /// The MTU: `-o mtu=N` (podman's name) or docker's
    /// `com.docker.network.driver.mtu`, else [`DEFAULT_MTU`].
    pub fn mtu(&self) -> u32 {
        let given = self.options.get("mtu").or_else(|| self.options.get("com.docker.network.driver.mtu"));
        given.and_then(|m| m.parse().ok()).unwrap_or(DEFAULT_MTU)
    }
}

/// A MAC address; written as docker does, `02:42:0a:59:00:02`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        write!(f, "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", b[0], b[1], b[2], b[3], b[4], b[5])
    }
}

/// Text that is not a MAC address.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("invalid MAC address {text:?}: expected six hex pairs such as 02:42:0a:59:00:02")]
pub struct BadMac {
    pub text: String,
}

impl std::str::FromStr for Mac {
    type Err = BadMac;
    fn from_str(text: &str) -> Result<Mac, BadMac> {
        let parts: Vec<&str> = text.split(':').collect();
        let bad = || BadMac { text: text.to_string() };
        if parts.len() != 6 {
            return Err(bad());
        }
        let mut b = [0u8; 6];
        for (slot, part) in b.iter_mut().zip(&parts) {
            if part.len() != 2 {
                return Err(bad());
            }
            *slot = u8::from_str_radix(part, 16).map_err(|_| bad())?;
        }
        Ok(Mac(b))
    }
}

impl Serialize for Mac {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Mac {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Mac, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// What a container has on one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network: String,
    pub ipv4: Ipv4Addr,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6: Option<Ipv6Addr>,
    pub mac: Mac,
    #[serde(default)]
    pub aliases: Vec<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn network_and_endpoint_round_trip_as_json() {
        let n = Network {
            name: "app".into(),
            id: NetworkId::random(),
            driver: Driver::Bridge,
            ipv4: Ipv4Config { subnet: "10.89.0.0/24".parse().unwrap(), gateway: "10.89.0.1".parse().unwrap(), ip_range: None },
            ipv6: Some(Ipv6Config { subnet: "fd12:3456:789a::/64".parse().unwrap(), gateway: "fd12:3456:789a::1".parse().unwrap() }),
            internal: true,
            labels: BTreeMap::from([("tier".into(), "db".into())]),
            options: BTreeMap::from([("mtu".into(), "1400".into())]),
            created: Timestamp::now(),
        };
        let json = serde_json::to_value(&n).unwrap();
        assert_eq!(json["ipv4"]["subnet"], "10.89.0.0/24");
        assert_eq!(json["driver"], "bridge");
        assert!(json["ipv4"].get("ip_range").is_none());
        assert_eq!(serde_json::from_value::<Network>(json).unwrap(), n);
        assert_eq!(n.mtu(), 1400);
        let docker = Network { options: BTreeMap::from([("com.docker.network.driver.mtu".into(), "9000".into())]), ..n.clone() };
        assert_eq!(docker.mtu(), 9000, "docker's option name counts too");
        assert_eq!(Network { options: BTreeMap::new(), ..n.clone() }.mtu(), DEFAULT_MTU);
        let e = Endpoint {
            network: "app".into(),
            ipv4: "10.89.0.2".parse().unwrap(),
            ipv6: None,
            mac: "02:42:0a:59:00:02".parse().unwrap(),
            aliases: vec!["db".into()],
        };
        let json = serde_json::to_value(&e).unwrap();
        assert_eq!(json["mac"], "02:42:0a:59:00:02");
        assert_eq!(serde_json::from_value::<Endpoint>(json).unwrap(), e);
        for bad in ["02:42:0a:59:00", "02:42:0a:59:00:zz", "2:42:0a:59:00:02"] {
            assert!(bad.parse::<Mac>().is_err(), "{bad}");
        }
    }
}
