//! Published ports: the `-p/--publish` and image `ExposedPorts` syntax.
//!
//! `-p` takes docker's form `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`. The host
//! and container ports may be ranges (`8000-8010:80-90`) of equal length,
//! which expand to one [`PortMapping`] per port; a missing or empty host port
//! (`-p 80`, `-p 127.0.0.1::80`) means "any free port", written as host port
//! 0 and chosen by whoever binds the socket. An IPv6 host address is written
//! in brackets (`[::1]:8080:80`). PROTO is `tcp` (the default) or `udp`.
//!
//! Where this differs from docker, it refuses rather than guesses: a host
//! range for a single container port (`8000-8010:80`, docker's "any free
//! port in the range") is an error, as are `sctp` (the stack has no SCTP)
//! and an unbracketed IPv6 address (ambiguous with the port separators).
//! Parsing only: nothing here binds a socket or checks that a port is free.

use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The accepted form, quoted by every `-p` error.
const PUBLISH_FORM: &str = "[IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp], e.g. 8080:80, 127.0.0.1:8080:80/udp, [::1]::80 or 8000-8010:80-90";
/// The accepted form of an image's exposed port.
const EXPOSE_FORM: &str = "PORT[/tcp|udp], e.g. 80/tcp, 53/udp or 8080";

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("empty port specification: expected {form}", form = PUBLISH_FORM)]
    Empty,
    #[error("invalid port specification {spec:?}: too many ':'-separated parts; expected {form}", form = PUBLISH_FORM)]
    TooManyParts { spec: String },
    #[error("invalid port {text:?} in {spec:?}: a port is a number from 1 to 65535 or a range such as 8000-8010; expected {form}", form = PUBLISH_FORM)]
    BadPort { spec: String, text: String },
    #[error("invalid port range {text:?} in {spec:?}: the first port must not exceed the last; expected {form}", form = PUBLISH_FORM)]
    BackwardsRange { spec: String, text: String },
    #[error("container port 0 in {spec:?}: the container port must be from 1 to 65535; expected {form}", form = PUBLISH_FORM)]
    ZeroContainerPort { spec: String },
    #[error("port ranges in {spec:?} differ in length: {host} host ports for {container} container ports; give ranges of equal length, e.g. 8000-8002:80-82")]
    RangeMismatch { spec: String, host: usize, container: usize },
    #[error("host port range for a single container port in {spec:?} is not supported: publish one host port (8080:80) or let burrow choose one (-p 80)")]
    HostRangeForOnePort { spec: String },
    #[error("invalid host address {text:?} in {spec:?}: expected an IPv4 address or a bracketed IPv6 address; expected {form}", form = PUBLISH_FORM)]
    BadAddress { spec: String, text: String },
    #[error("IPv6 host address in {spec:?} must be in brackets: write [{addr}]:HOSTPORT:CONTAINERPORT")]
    UnbracketedIpv6 { spec: String, addr: String },
    #[error("{spec:?} gives a host address but no host port: write {addr}::{port} for any free port or {addr}:HOSTPORT:{port}")]
    AddressWithoutPort { spec: String, addr: String, port: String },
    #[error("protocol sctp in {spec:?} is not supported: burrow's network carries tcp and udp only")]
    Sctp { spec: String },
    #[error("unknown protocol {proto:?} in {spec:?}: expected tcp or udp")]
    UnknownProto { spec: String, proto: String },
    #[error("invalid exposed port {spec:?}: expected {form}", form = EXPOSE_FORM)]
    BadExpose { spec: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// A transport protocol the stack can forward.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Proto {
    #[default]
    Tcp,
    Udp,
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        })
    }
}

/// One host port forwarded to one container port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct PortMapping {
    /// The host address to bind; `None` means all addresses.
    pub host_ip: Option<IpAddr>,
    /// The host port; 0 means any free port, chosen when it is bound.
    pub host_port: u16,
    pub container_port: u16,
    pub proto: Proto,
}

/// `burrow port` style: `80/tcp -> 0.0.0.0:8080`, `53/udp -> [::1]:5353`.
/// An unbound "any free port" mapping shows host port 0.
impl fmt::Display for PortMapping {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{} -> ", self.container_port, self.proto)?;
        match self.host_ip {
            None => write!(f, "0.0.0.0:{}", self.host_port),
            Some(IpAddr::V4(a)) => write!(f, "{a}:{}", self.host_port),
            Some(IpAddr::V6(a)) => write!(f, "[{a}]:{}", self.host_port),
        }
    }
}

/// Parse one `-p/--publish` value; a range expands to one mapping per port,
/// in ascending order.
pub fn parse_publish(spec: &str) -> Result<Vec<PortMapping>> {
    if spec.is_empty() {
        return Err(Error::Empty);
    }
    let (addr_ports, proto) = split_proto(spec, spec)?;
    let (host_ip, rest) = split_address(spec, addr_ports)?;
    let parts: Vec<&str> = rest.split(':').collect();
    let (host, container) = match parts.as_slice() {
        [c] => ("", *c),
        [h, c] => (*h, *c),
        [ip, h, c] if host_ip.is_none() => {
            let ip = parse_ip(spec, ip)?;
            return expand(spec, Some(ip), h, c, proto);
        }
        _ if host_ip.is_none() && looks_like_ipv6(rest) => {
            let addr = rest.rsplitn(3, ':').nth(2).unwrap_or(rest).to_string();
            return Err(Error::UnbracketedIpv6 { spec: spec.into(), addr });
        }
        _ => return Err(Error::TooManyParts { spec: spec.into() }),
    };
    if host_ip.is_none() && parts.len() == 2 && host.parse::<IpAddr>().is_ok() {
        return Err(Error::AddressWithoutPort { spec: spec.into(), addr: host.into(), port: container.into() });
    }
    expand(spec, host_ip, host, container, proto)
}

/// Parse an image `ExposedPorts` key (`80/tcp`, `53/udp`, `8080`), as `-P`
/// publishes them. A range or a port 0 is refused.
pub fn parse_expose(spec: &str) -> Result<(u16, Proto)> {
    let (port, proto) = split_proto(spec, spec)?;
    match parse_port(port) {
        Some(p) if p != 0 => Ok((p, proto)),
        _ => Err(Error::BadExpose { spec: spec.into() }),
    }
}

impl FromStr for Proto {
    type Err = Error;

    fn from_str(text: &str) -> Result<Proto> {
        parse_proto(text, text)
    }
}

fn parse_proto(spec: &str, text: &str) -> Result<Proto> {
    match text.to_ascii_lowercase().as_str() {
        "tcp" => Ok(Proto::Tcp),
        "udp" => Ok(Proto::Udp),
        "sctp" => Err(Error::Sctp { spec: spec.into() }),
        _ => Err(Error::UnknownProto { spec: spec.into(), proto: text.into() }),
    }
}

/// `X/proto` → (X, proto); no `/` means tcp. IP addresses never hold a `/`.
fn split_proto<'a>(spec: &str, text: &'a str) -> Result<(&'a str, Proto)> {
    match text.rsplit_once('/') {
        None => Ok((text, Proto::Tcp)),
        Some((rest, proto)) => Ok((rest, parse_proto(spec, proto)?)),
    }
}

/// A leading `[addr]:` → (Some(addr), rest); otherwise (None, text).
fn split_address<'a>(spec: &str, text: &'a str) -> Result<(Option<IpAddr>, &'a str)> {
    let Some(inner) = text.strip_prefix('[') else {
        return Ok((None, text));
    };
    let bad = || Error::BadAddress { spec: spec.into(), text: text.into() };
    let (addr, rest) = inner.split_once(']').ok_or_else(bad)?;
    let rest = rest.strip_prefix(':').ok_or_else(bad)?;
    let ip = parse_ip(spec, addr)?;
    // `[::1]:80` has a host address and only a container port.
    if !rest.contains(':') {
        return Err(Error::AddressWithoutPort { spec: spec.into(), addr: format!("[{addr}]"), port: rest.into() });
    }
    Ok((Some(ip), rest))
}

fn parse_ip(spec: &str, text: &str) -> Result<IpAddr> {
    text.parse().map_err(|_| Error::BadAddress { spec: spec.into(), text: text.into() })
}

/// Whether the part before the last two `:` parses as an IPv6 address.
fn looks_like_ipv6(text: &str) -> bool {
    text.rsplitn(3, ':').nth(2).is_some_and(|a| a.parse::<std::net::Ipv6Addr>().is_ok())
}

/// Digits only (no sign, no spaces), within u16.
fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// `N` or `N-M` → inclusive (first, last).
fn parse_range(spec: &str, text: &str) -> Result<(u16, u16)> {
    let bad = || Error::BadPort { spec: spec.into(), text: text.into() };
    let (first, last) = match text.split_once('-') {
        None => {
            let p = parse_port(text).ok_or_else(bad)?;
            (p, p)
        }
        Some((a, b)) => {
            let (a, b) = (parse_port(a).ok_or_else(bad)?, parse_port(b).ok_or_else(bad)?);
            if a == 0 {
                return Err(bad());
            }
            (a, b)
        }
    };
    if first > last {
        return Err(Error::BackwardsRange { spec: spec.into(), text: text.into() });
    }
    Ok((first, last))
}

fn expand(spec: &str, host_ip: Option<IpAddr>, host: &str, container: &str, proto: Proto) -> Result<Vec<PortMapping>> {
    let (c_first, c_last) = parse_range(spec, container)?;
    if c_first == 0 {
        return Err(Error::ZeroContainerPort { spec: spec.into() });
    }
    let count = usize::from(c_last - c_first) + 1;
    let host_ports: Vec<u16> = if host.is_empty() {
        vec![0; count]
    } else {
        let (h_first, h_last) = parse_range(spec, host)?;
        let h_count = usize::from(h_last - h_first) + 1;
        if h_count > 1 && count == 1 {
            return Err(Error::HostRangeForOnePort { spec: spec.into() });
        }
        if h_count != count {
            return Err(Error::RangeMismatch { spec: spec.into(), host: h_count, container: count });
        }
        (h_first..=h_last).collect()
    };
    Ok((c_first..=c_last)
        .zip(host_ports)
        .map(|(container_port, host_port)| PortMapping { host_ip, host_port, container_port, proto })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    fn one(spec: &str) -> PortMapping {
        let v = parse_publish(spec).unwrap();
        assert_eq!(v.len(), 1, "{spec}");
        v[0]
    }

    fn m(host_ip: Option<IpAddr>, host_port: u16, container_port: u16, proto: Proto) -> PortMapping {
        PortMapping { host_ip, host_port, container_port, proto }
    }

    const LO: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
    const LO6: Option<IpAddr> = Some(IpAddr::V6(Ipv6Addr::LOCALHOST));

    #[test]
    fn single_ports() {
        assert_eq!(one("80"), m(None, 0, 80, Proto::Tcp));
        assert_eq!(one("8080:80"), m(None, 8080, 80, Proto::Tcp));
        assert_eq!(one("8080:80/udp"), m(None, 8080, 80, Proto::Udp));
        assert_eq!(one("53/UDP"), m(None, 0, 53, Proto::Udp));
        assert_eq!(one("0:80"), m(None, 0, 80, Proto::Tcp));
        assert_eq!(one(":80"), m(None, 0, 80, Proto::Tcp));
        assert_eq!(one("65535:65535/tcp"), m(None, 65535, 65535, Proto::Tcp));
    }

    #[test]
    fn host_addresses() {
        assert_eq!(one("127.0.0.1:8080:80"), m(LO, 8080, 80, Proto::Tcp));
        assert_eq!(one("127.0.0.1::80"), m(LO, 0, 80, Proto::Tcp));
        assert_eq!(one("[::1]:8080:80/udp"), m(LO6, 8080, 80, Proto::Udp));
        assert_eq!(one("[::1]::80"), m(LO6, 0, 80, Proto::Tcp));
        let any: Option<IpAddr> = Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert_eq!(one("0.0.0.0:1:2"), m(any, 1, 2, Proto::Tcp));
        let fe80: IpAddr = "fe80::1:2".parse().unwrap();
        assert_eq!(one("[fe80::1:2]:3:4"), m(Some(fe80), 3, 4, Proto::Tcp));
    }

    #[test]
    fn ranges_expand() {
        assert_eq!(
            parse_publish("8000-8002:80-82/udp").unwrap(),
            vec![m(None, 8000, 80, Proto::Udp), m(None, 8001, 81, Proto::Udp), m(None, 8002, 82, Proto::Udp)]
        );
        assert_eq!(parse_publish("127.0.0.1::80-81").unwrap(), vec![m(LO, 0, 80, Proto::Tcp), m(LO, 0, 81, Proto::Tcp)]);
        assert_eq!(parse_publish("7000-7001").unwrap(), vec![m(None, 0, 7000, Proto::Tcp), m(None, 0, 7001, Proto::Tcp)]);
        assert_eq!(parse_publish("90-90:80-80").unwrap(), vec![m(None, 90, 80, Proto::Tcp)]);
    }

    fn err(spec: &str) -> Error {
        parse_publish(spec).unwrap_err()
    }

    #[test]
    fn rejects_bad_ports() {
        let s = |x: &str| x.to_string();
        assert_eq!(err(""), Error::Empty);
        assert_eq!(err("x"), Error::BadPort { spec: s("x"), text: s("x") });
        assert_eq!(err("+80"), Error::BadPort { spec: s("+80"), text: s("+80") });
        assert_eq!(err("65536"), Error::BadPort { spec: s("65536"), text: s("65536") });
        assert_eq!(err("8080:"), Error::BadPort { spec: s("8080:"), text: s("") });
        assert_eq!(err(" 80"), Error::BadPort { spec: s(" 80"), text: s(" 80") });
        assert_eq!(err("0-5:80-85"), Error::BadPort { spec: s("0-5:80-85"), text: s("0-5") });
        assert_eq!(err("80-"), Error::BadPort { spec: s("80-"), text: s("80-") });
        assert_eq!(err("0"), Error::ZeroContainerPort { spec: s("0") });
        assert_eq!(err("8080:0"), Error::ZeroContainerPort { spec: s("8080:0") });
        assert_eq!(err("90-80"), Error::BackwardsRange { spec: s("90-80"), text: s("90-80") });
        assert_eq!(err("1:2:3:4"), Error::TooManyParts { spec: s("1:2:3:4") });
    }

    #[test]
    fn rejects_bad_ranges() {
        let s = |x: &str| x.to_string();
        assert_eq!(err("8000-8010:80"), Error::HostRangeForOnePort { spec: s("8000-8010:80") });
        assert_eq!(err("8000-8001:80-82"), Error::RangeMismatch { spec: s("8000-8001:80-82"), host: 2, container: 3 });
        assert_eq!(err("8000:80-81"), Error::RangeMismatch { spec: s("8000:80-81"), host: 1, container: 2 });
    }

    #[test]
    fn rejects_bad_addresses_and_protocols() {
        let s = |x: &str| x.to_string();
        assert_eq!(err("1.2.3:80:80"), Error::BadAddress { spec: s("1.2.3:80:80"), text: s("1.2.3") });
        assert_eq!(err("[::1:80:80"), Error::BadAddress { spec: s("[::1:80:80"), text: s("[::1:80:80") });
        assert_eq!(err("[::1]80:80"), Error::BadAddress { spec: s("[::1]80:80"), text: s("[::1]80:80") });
        assert_eq!(err("[nope]:80:80"), Error::BadAddress { spec: s("[nope]:80:80"), text: s("nope") });
        assert_eq!(err("::1:8080:80"), Error::UnbracketedIpv6 { spec: s("::1:8080:80"), addr: s("::1") });
        assert_eq!(err("127.0.0.1:80"), Error::AddressWithoutPort { spec: s("127.0.0.1:80"), addr: s("127.0.0.1"), port: s("80") });
        assert_eq!(err("[::1]:80"), Error::AddressWithoutPort { spec: s("[::1]:80"), addr: s("[::1]"), port: s("80") });
        assert_eq!(err("80/sctp"), Error::Sctp { spec: s("80/sctp") });
        assert_eq!(err("80/icmp"), Error::UnknownProto { spec: s("80/icmp"), proto: s("icmp") });
        assert_eq!(err("80/"), Error::UnknownProto { spec: s("80/"), proto: s("") });
    }

    #[test]
    fn messages_show_the_accepted_form() {
        let msg = err("x").to_string();
        assert!(msg.contains("[IP:][HOSTPORT:]CONTAINERPORT[/tcp|udp]"), "{msg}");
        let msg = err("80/sctp").to_string();
        assert!(msg.contains("tcp and udp only"), "{msg}");
    }

    #[test]
    fn expose_keys() {
        assert_eq!(parse_expose("80/tcp"), Ok((80, Proto::Tcp)));
        assert_eq!(parse_expose("53/udp"), Ok((53, Proto::Udp)));
        assert_eq!(parse_expose("8080"), Ok((8080, Proto::Tcp)));
        let bad = |x: &str| Err(Error::BadExpose { spec: x.into() });
        assert_eq!(parse_expose("0/tcp"), bad("0/tcp"));
        assert_eq!(parse_expose("80-81/tcp"), bad("80-81/tcp"));
        assert_eq!(parse_expose(""), bad(""));
        assert_eq!(parse_expose("x"), bad("x"));
        assert_eq!(parse_expose("80/sctp"), Err(Error::Sctp { spec: "80/sctp".into() }));
    }

    #[test]
    fn display() {
        assert_eq!(one("8080:80").to_string(), "80/tcp -> 0.0.0.0:8080");
        assert_eq!(one("127.0.0.1:5353:53/udp").to_string(), "53/udp -> 127.0.0.1:5353");
        assert_eq!(one("[::1]:8080:80").to_string(), "80/tcp -> [::1]:8080");
        assert_eq!(one("80").to_string(), "80/tcp -> 0.0.0.0:0");
        assert_eq!(Proto::Udp.to_string(), "udp");
        assert_eq!("TCP".parse::<Proto>(), Ok(Proto::Tcp));
    }
}
