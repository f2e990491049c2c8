//! A published port as a container's record keeps it: the container's
//! port and protocol, and the host address and port actually bound.
//!
//! `burrow port` prints it as `80/tcp -> 0.0.0.0:8080` (docker's form),
//! `inspect` splits it into docker's `HostIp`/`HostPort`. Records written
//! by older burrow versions kept that printed form as a string; it is
//! still read.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use burrow_netstack::ports::{PortMapping, Proto};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PublishedPort {
    pub container_port: u16,
    #[serde(with = "proto_text")]
    pub proto: Proto,
    pub host_ip: IpAddr,
    pub host_port: u16,
}

impl PublishedPort {
    /// `80/tcp`.
    pub fn private(&self) -> String {
        format!("{}/{}", self.container_port, self.proto)
    }

    /// The host side: `0.0.0.0:8080`, `[::]:8080`.
    pub fn host(&self) -> String {
        std::net::SocketAddr::new(self.host_ip, self.host_port).to_string()
    }

    /// The printed form, the inverse of `Display`.
    pub fn parse(text: &str) -> Option<PublishedPort> {
        let (private, host) = text.split_once(" -> ")?;
        let (port, proto) = private.split_once('/')?;
        let (ip, host_port) = host.rsplit_once(':')?;
        let ip = ip.trim_start_matches('[').trim_end_matches(']');
        Some(PublishedPort {
            container_port: port.parse().ok()?,
            proto: proto_text::parse(proto)?,
            host_ip: ip.parse().ok()?,
            host_port: host_port.parse().ok()?,
        })
    }
}

impl From<&PortMapping> for PublishedPort {
    fn from(m: &PortMapping) -> PublishedPort {
        PublishedPort {
            container_port: m.container_port,
            proto: m.proto,
            host_ip: m.host_ip.unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
            host_port: m.host_port,
        }
    }
}

impl fmt::Display for PublishedPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} -> {}", self.private(), self.host())
    }
}

impl<'de> Deserialize<'de> for PublishedPort {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<PublishedPort, D::Error> {
        #[derive(Deserialize)]
        struct Fields {
            container_port: u16,
            #[serde(with = "proto_text")]
            proto: Proto,
            host_ip: IpAddr,
            host_port: u16,
        }
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Either {
            Fields(Fields),
            Printed(String),
        }
        match Either::deserialize(d)? {
            Either::Fields(f) => {
                Ok(PublishedPort { container_port: f.container_port, proto: f.proto, host_ip: f.host_ip, host_port: f.host_port })
            }
            Either::Printed(text) => {
                PublishedPort::parse(&text).ok_or_else(|| serde::de::Error::custom(format!("invalid published port {text:?}")))
            }
        }
    }
}

/// The protocol as `-p` spells it: `tcp`, `udp`.
mod proto_text {
    use burrow_netstack::ports::Proto;

    pub fn parse(text: &str) -> Option<Proto> {
        match text {
            "tcp" => Some(Proto::Tcp),
            "udp" => Some(Proto::Udp),
            _ => None,
        }
    }

    pub fn serialize<S: serde::Serializer>(proto: &Proto, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(proto)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Proto, D::Error> {
        let text = <String as serde::Deserialize>::deserialize(d)?;
        parse(&text).ok_or_else(|| serde::de::Error::custom(format!("invalid protocol {text:?}: expected tcp or udp")))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn printed_form_round_trips_and_old_records_load() {
        for text in ["80/tcp -> 0.0.0.0:8080", "80/tcp -> [::]:8080", "53/udp -> 127.0.0.1:5353"] {
            let p = PublishedPort::parse(text).unwrap();
            assert_eq!(p.to_string(), text);
            let json = serde_json::to_string(&p).unwrap();
            assert!(json.contains("\"container_port\""), "{json}");
            assert_eq!(serde_json::from_str::<PublishedPort>(&json).unwrap(), p);
            assert_eq!(serde_json::from_str::<PublishedPort>(&format!("{text:?}")).unwrap(), p);
        }
        assert!(serde_json::from_str::<PublishedPort>("\"80/tcp\"").is_err());
    }
}
