//! The `--network` value: which network a container gets.
//!
//! `none` gives the container a loopback device only; `host` shares the
//! host's network namespace; `burrow` (also spelled `bridge` or `default`,
//! the names docker users type) gives it a private namespace whose traffic
//! this crate carries, tuned by `burrow:KEY=VALUE,...` options:
//!
//! - `allow_host_loopback=true|false` (false): whether the gateway address
//!   reaches the host's loopback (127.0.0.1) services;
//! - `cidr=A.B.C.D/N` (10.0.2.0/24): the IPv4 network, see `config`;
//! - `mtu=N` (65520): the TAP device's MTU, from 1280 (the IPv6 minimum)
//!   to 65520;
//! - `enable_ipv6=true|false` (true): whether the container gets an
//!   address in `fd00:b0b0::/64`;
//! - `dns_forward=IP[:PORT]` (the host's first nameserver, port 53): where
//!   the DNS address forwards queries, over UDP and TCP alike;
//! - `pcap=PATH`: write the container's traffic to a capture file. Since
//!   options are separated by `,`, the path cannot contain one.
//!
//! `container:NAME` (or an id) joins another container's network namespace:
//! same interfaces, addresses and published ports, as docker and podman
//! pods do. `slirp4netns` and `pasta` are refused (burrow carries the
//! traffic itself). Parsing only.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::config::{self, VirtualNetwork};

const MODES: &str = "none, host, container:NAME, a network's name, burrow (also bridge or default) or burrow:KEY=VALUE,...";
const KEYS: &str =
    "allow_host_loopback=true|false, cidr=A.B.C.D/N, mtu=1280..65520, enable_ipv6=true|false, dns_forward=IP[:PORT], pcap=PATH";

pub const MTU_MIN: u32 = 1280;
pub const MTU_MAX: u32 = 65520;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("unknown network mode {text:?}: accepted values are {modes}", modes = MODES)]
    UnknownMode { text: String },
    #[error("network mode {name} is not used by burrow, which carries container traffic itself: use --network burrow (the default); accepted values are {modes}", modes = MODES)]
    Foreign { name: String },
    #[error("--network container: needs a container name or id (container:NAME)")]
    NoContainer,
    #[error("network mode {mode} takes no options: only burrow:KEY=VALUE,... does")]
    OptionsNotAllowed { mode: String },
    #[error("empty option in {text:?}: write burrow:KEY=VALUE,KEY=VALUE; valid keys are {keys}", keys = KEYS)]
    EmptyOption { text: String },
    #[error("unknown network option {key:?}: valid keys are {keys}", keys = KEYS)]
    UnknownOption { key: String },
    #[error("network option {key} needs a value ({key}=VALUE): valid keys are {keys}", keys = KEYS)]
    MissingValue { key: String },
    #[error("network option {key} is given twice")]
    Duplicate { key: String },
    #[error("invalid value {value:?} for network option {key}: expected {expected}")]
    BadValue { key: &'static str, value: String, expected: &'static str },
    #[error("invalid value for network option cidr: {0}")]
    Cidr(#[from] config::Error),
}

pub type Result<T> = std::result::Result<T, Error>;

/// What `--network` asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetworkMode {
    /// Loopback only.
    None,
    /// The host's own network namespace.
    Host,
    /// A private namespace on burrow's userspace network.
    Burrow(BurrowOptions),
    /// Another container's namespace (its name or id).
    Container(String),
    /// A user-defined network (`network create NAME`), by name or id.
    Named(String),
}

/// docker's network name rule: `[a-zA-Z0-9][a-zA-Z0-9_.-]*`.
fn is_network_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric()) && chars.all(|c| c.is_ascii_alphanumeric() || "_.-".contains(c))
}

impl Default for NetworkMode {
    fn default() -> Self {
        NetworkMode::Burrow(BurrowOptions::default())
    }
}

/// The options of `--network burrow:...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BurrowOptions {
    pub allow_host_loopback: bool,
    pub cidr: VirtualNetwork,
    pub mtu: u32,
    pub enable_ipv6: bool,
    pub dns_forward: Option<std::net::SocketAddr>,
    pub pcap: Option<PathBuf>,
}

impl Default for BurrowOptions {
    fn default() -> Self {
        BurrowOptions {
            allow_host_loopback: false,
            cidr: VirtualNetwork::default(),
            mtu: MTU_MAX,
            enable_ipv6: true,
            dns_forward: None,
            pcap: None,
        }
    }
}

impl FromStr for NetworkMode {
    type Err = Error;

    fn from_str(text: &str) -> Result<NetworkMode> {
        let (name, options) = match text.split_once(':') {
            Some((name, rest)) => (name, Some(rest)),
            None => (text, None),
        };
        match (name, options) {
            ("container", Some("")) => Err(Error::NoContainer),
            ("container", Some(other)) => Ok(NetworkMode::Container(other.into())),
            ("slirp4netns" | "pasta", _) => Err(Error::Foreign { name: name.into() }),
            ("none" | "host" | "bridge" | "default", Some(_)) => Err(Error::OptionsNotAllowed { mode: name.into() }),
            ("none", None) => Ok(NetworkMode::None),
            ("host", None) => Ok(NetworkMode::Host),
            ("bridge" | "default" | "burrow", None) => Ok(NetworkMode::default()),
            ("burrow", Some(opts)) => Ok(NetworkMode::Burrow(BurrowOptions::parse(opts)?)),
            (name, None) if is_network_name(name) => Ok(NetworkMode::Named(name.into())),
            _ => Err(Error::UnknownMode { text: text.into() }),
        }
    }
}

impl BurrowOptions {
    /// Parse `KEY=VALUE,KEY=VALUE` (the part after `burrow:`) over the
    /// defaults. Each key may appear once.
    pub fn parse(text: &str) -> Result<BurrowOptions> {
        let mut out = BurrowOptions::default();
        let mut seen: Vec<&str> = Vec::new();
        for item in text.split(',') {
            if item.is_empty() {
                return Err(Error::EmptyOption { text: text.into() });
            }
            let (key, value) = item.split_once('=').ok_or_else(|| match is_key(item) {
                true => Error::MissingValue { key: item.into() },
                false => Error::UnknownOption { key: item.into() },
            })?;
            if seen.contains(&key) {
                return Err(Error::Duplicate { key: key.into() });
            }
            seen.push(key);
            match key {
                "allow_host_loopback" => out.allow_host_loopback = parse_bool("allow_host_loopback", value)?,
                "enable_ipv6" => out.enable_ipv6 = parse_bool("enable_ipv6", value)?,
                "cidr" => out.cidr = value.parse()?,
                "mtu" => out.mtu = parse_mtu(value)?,
                "dns_forward" => out.dns_forward = Some(parse_dns_forward(value)?),
                "pcap" if value.is_empty() => return Err(Error::BadValue { key: "pcap", value: value.into(), expected: "a file path" }),
                "pcap" => out.pcap = Some(PathBuf::from(value)),
                _ => return Err(Error::UnknownOption { key: key.into() }),
            }
        }
        Ok(out)
    }
}

fn is_key(text: &str) -> bool {
    matches!(text, "allow_host_loopback" | "cidr" | "mtu" | "enable_ipv6" | "dns_forward" | "pcap")
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; the port defaults to 53.
fn parse_dns_forward(value: &str) -> Result<std::net::SocketAddr> {
    let bad = || Error::BadValue {
        key: "dns_forward",
        value: value.into(),
        expected: "an IP address with an optional port, e.g. 192.0.2.53 or 127.0.0.1:5353",
    };
    if let Ok(ip) = value.parse::<std::net::IpAddr>() {
        return Ok(std::net::SocketAddr::new(ip, 53));
    }
    value.parse::<std::net::SocketAddr>().ok().filter(|a| a.port() != 0).ok_or_else(bad)
}

fn parse_bool(key: &'static str, value: &str) -> Result<bool> {
    match value {
        "true" => Ok(true),
        "false" => Ok(false),
        _ => Err(Error::BadValue { key, value: value.into(), expected: "true or false" }),
    }
}

fn parse_mtu(value: &str) -> Result<u32> {
    let bad = || Error::BadValue { key: "mtu", value: value.into(), expected: "a number from 1280 to 65520" };
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    match value.parse::<u32>() {
        Ok(mtu) if (MTU_MIN..=MTU_MAX).contains(&mtu) => Ok(mtu),
        _ => Err(bad()),
    }
}

/// The canonical spelling, which parses back to the same mode: `none`,
/// `host`, `burrow`, or `burrow:` followed by the options that differ from
/// their defaults.
impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let o = match self {
            NetworkMode::None => return f.write_str("none"),
            NetworkMode::Host => return f.write_str("host"),
            NetworkMode::Container(name) => return write!(f, "container:{name}"),
            NetworkMode::Named(name) => return f.write_str(name),
            NetworkMode::Burrow(o) => o,
        };
        let d = BurrowOptions::default();
        let mut items = Vec::new();
        if o.allow_host_loopback != d.allow_host_loopback {
            items.push(format!("allow_host_loopback={}", o.allow_host_loopback));
        }
        if o.cidr != d.cidr {
            items.push(format!("cidr={}", o.cidr));
        }
        if o.mtu != d.mtu {
            items.push(format!("mtu={}", o.mtu));
        }
        if o.enable_ipv6 != d.enable_ipv6 {
            items.push(format!("enable_ipv6={}", o.enable_ipv6));
        }
        if let Some(a) = &o.dns_forward {
            items.push(format!("dns_forward={a}"));
        }
        if let Some(p) = &o.pcap {
            items.push(format!("pcap={}", p.display()));
        }
        match items.is_empty() {
            true => f.write_str("burrow"),
            false => write!(f, "burrow:{}", items.join(",")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn parse(text: &str) -> Result<NetworkMode> {
        text.parse()
    }

    fn opts(text: &str) -> BurrowOptions {
        match parse(text).unwrap() {
            NetworkMode::Burrow(o) => o,
            other => panic!("{text}: {other:?}"),
        }
    }

    #[test]
    fn plain_modes() {
        assert_eq!(parse("none"), Ok(NetworkMode::None));
        assert_eq!(parse("host"), Ok(NetworkMode::Host));
        for name in ["burrow", "bridge", "default"] {
            assert_eq!(parse(name), Ok(NetworkMode::Burrow(BurrowOptions::default())), "{name}");
        }
        assert_eq!(NetworkMode::default(), parse("burrow").unwrap());
    }

    #[test]
    fn defaults() {
        let d = BurrowOptions::default();
        assert!(!d.allow_host_loopback);
        assert_eq!(d.cidr.to_string(), "10.0.2.0/24");
        assert_eq!(d.mtu, 65520);
        assert!(d.enable_ipv6);
        assert_eq!(d.pcap, None);
    }

    #[test]
    fn options() {
        let o = opts("burrow:allow_host_loopback=true,cidr=10.9.0.0/24,mtu=1500,enable_ipv6=false,pcap=/tmp/c.pcap");
        assert!(o.allow_host_loopback);
        assert_eq!(o.cidr.gateway(), Ipv4Addr::new(10, 9, 0, 2));
        assert_eq!(o.mtu, 1500);
        assert!(!o.enable_ipv6);
        assert_eq!(o.pcap, Some(PathBuf::from("/tmp/c.pcap")));
        assert_eq!(opts("burrow:mtu=1280").mtu, 1280);
        assert_eq!(opts("burrow:mtu=65520").mtu, 65520);
        assert_eq!(opts("burrow:allow_host_loopback=false"), BurrowOptions::default());
        assert_eq!(opts("burrow:dns_forward=192.0.2.53").dns_forward, Some("192.0.2.53:53".parse().unwrap()));
        assert_eq!(opts("burrow:dns_forward=[::1]:5353").dns_forward, Some("[::1]:5353".parse().unwrap()));
    }

    #[test]
    fn rejects_modes() {
        assert_eq!(parse("slirp4netns"), Err(Error::Foreign { name: "slirp4netns".into() }));
        assert_eq!(parse("slirp4netns:mtu=1500"), Err(Error::Foreign { name: "slirp4netns".into() }));
        assert_eq!(parse("pasta"), Err(Error::Foreign { name: "pasta".into() }));
        assert_eq!(parse("container:web"), Ok(NetworkMode::Container("web".into())));
        assert_eq!(parse("container:web").unwrap().to_string(), "container:web");
        assert_eq!(parse("container:"), Err(Error::NoContainer));
        assert_eq!(parse("Host"), Ok(NetworkMode::Named("Host".into())));
        assert_eq!(parse("app_net.1"), Ok(NetworkMode::Named("app_net.1".into())));
        assert_eq!(parse("-app"), Err(Error::UnknownMode { text: "-app".into() }));
        assert_eq!(parse(""), Err(Error::UnknownMode { text: "".into() }));
        assert_eq!(parse("container"), Ok(NetworkMode::Named("container".into())));
        assert_eq!(parse("ns:/proc/1/ns/net"), Err(Error::UnknownMode { text: "ns:/proc/1/ns/net".into() }));
        assert_eq!(parse("host:mtu=1500"), Err(Error::OptionsNotAllowed { mode: "host".into() }));
        assert_eq!(parse("bridge:mtu=1500"), Err(Error::OptionsNotAllowed { mode: "bridge".into() }));
        let msg = parse("slirp4netns").unwrap_err().to_string();
        assert!(msg.contains("none, host, container:NAME, a network"), "{msg}");
    }

    #[test]
    fn rejects_options() {
        let bad = |key: &'static str, value: &str, expected: &'static str| Err(Error::BadValue { key, value: value.into(), expected });
        assert_eq!(parse("burrow:"), Err(Error::EmptyOption { text: "".into() }));
        assert_eq!(parse("burrow:mtu=1500,"), Err(Error::EmptyOption { text: "mtu=1500,".into() }));
        assert_eq!(parse("burrow:speed=fast"), Err(Error::UnknownOption { key: "speed".into() }));
        assert_eq!(parse("burrow:fast"), Err(Error::UnknownOption { key: "fast".into() }));
        assert_eq!(parse("burrow:enable_ipv6"), Err(Error::MissingValue { key: "enable_ipv6".into() }));
        assert_eq!(parse("burrow:mtu=1500,mtu=9000"), Err(Error::Duplicate { key: "mtu".into() }));
        let mtu = "a number from 1280 to 65520";
        assert_eq!(parse("burrow:mtu=1279"), bad("mtu", "1279", mtu));
        assert_eq!(parse("burrow:mtu=65521"), bad("mtu", "65521", mtu));
        assert_eq!(parse("burrow:mtu=+1500"), bad("mtu", "+1500", mtu));
        assert_eq!(parse("burrow:mtu="), bad("mtu", "", mtu));
        assert_eq!(parse("burrow:mtu=99999999999"), bad("mtu", "99999999999", mtu));
        assert_eq!(parse("burrow:enable_ipv6=yes"), bad("enable_ipv6", "yes", "true or false"));
        assert_eq!(parse("burrow:allow_host_loopback=1"), bad("allow_host_loopback", "1", "true or false"));
        assert_eq!(parse("burrow:pcap="), bad("pcap", "", "a file path"));
        assert!(matches!(parse("burrow:dns_forward=nope"), Err(Error::BadValue { key: "dns_forward", .. })));
        assert!(matches!(parse("burrow:dns_forward=1.2.3.4:0"), Err(Error::BadValue { key: "dns_forward", .. })));
        assert_eq!(parse("burrow:cidr=10.0.0.0/28"), Err(Error::Cidr(config::Error::TooSmall { text: "10.0.0.0/28".into() })));
        assert_eq!(parse("burrow:cidr=x"), Err(Error::Cidr(config::Error::Syntax { text: "x".into() })));
        let msg = parse("burrow:speed=fast").unwrap_err().to_string();
        assert!(msg.contains("allow_host_loopback") && msg.contains("pcap=PATH"), "{msg}");
    }

    #[test]
    fn display_round_trips() {
        for text in [
            "none",
            "host",
            "burrow",
            "burrow:mtu=1500",
            "burrow:allow_host_loopback=true,cidr=10.9.0.0/24,mtu=9000,enable_ipv6=false,pcap=/tmp/x.pcap",
        ] {
            let mode = parse(text).unwrap();
            assert_eq!(mode.to_string(), text);
            assert_eq!(parse(&mode.to_string()).unwrap(), mode);
        }
        assert_eq!(parse("bridge").unwrap().to_string(), "burrow");
    }
}
