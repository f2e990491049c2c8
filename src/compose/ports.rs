//! The short syntax of `ports:` turned into the long one, as the compose
//! specification's `ports` section reads it:
//! `[HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]`, with ranges on both sides
//! (`8000-8010:8000-8010`), an IPv6 host address in brackets and
//! `tcp`/`udp`. A target range with an equal published range is one
//! entry per port; a single target with a published range keeps the range
//! as the published side (the engine picks a free port in it). The long
//! syntax comes out as docker compose config prints it: `target` a
//! number, `published` a string, `protocol` and `mode` filled in.

use serde_norway::{Mapping, Value};

use super::value::{invalid, text, Result};

/// Parse a short-syntax port into one or more long-syntax mappings.
pub fn parse_short(spec: &str, path: &str) -> Result<Vec<Value>> {
    let (addr, protocol) = match spec.rsplit_once('/') {
        Some((a, p)) => (a, p),
        None => (spec, "tcp"),
    };
    check_protocol(protocol, spec, path)?;
    let (host_ip, rest) = split_host_ip(addr).ok_or_else(|| invalid(path, spec, "an IPv6 host address must be closed by ]"))?;
    let (published, target) = match rest.rsplit_once(':') {
        Some((p, t)) => (p, t),
        None => ("", rest),
    };
    if published.contains(':') {
        return Err(invalid(path, spec, "expected [HOST_IP:][PUBLISHED:]TARGET[/PROTOCOL]"));
    }
    if let Some(ip) = host_ip {
        if ip.parse::<std::net::IpAddr>().is_err() {
            return Err(invalid(path, spec, format!("{ip} is not an IP address")));
        }
    }
    let targets = range(target).ok_or_else(|| invalid(path, spec, format!("{target:?} is not a port or port range (1-65535)")))?;
    let published_range = if published.is_empty() {
        None
    } else {
        Some(range(published).ok_or_else(|| invalid(path, spec, format!("{published:?} is not a port or port range (1-65535)")))?)
    };
    let entry = |target: u16, published: Option<String>| long(target, published, host_ip, protocol);
    let n = targets.1 - targets.0;
    Ok(match published_range {
        None => (targets.0..=targets.1).map(|t| entry(t, None)).collect(),
        Some((a, b)) if b - a == n => (0..=n).map(|i| entry(targets.0 + i, Some((a + i).to_string()))).collect(),
        Some((a, b)) if n == 0 => vec![entry(targets.0, Some(format!("{a}-{b}")))],
        Some(_) => return Err(invalid(path, spec, "the published and target ranges differ in length")),
    })
}

/// One long-syntax port mapping.
pub fn long(target: u16, published: Option<String>, host_ip: Option<&str>, protocol: &str) -> Value {
    let mut m = Mapping::new();
    m.insert(text("mode"), text("ingress"));
    if let Some(ip) = host_ip {
        m.insert(text("host_ip"), text(ip));
    }
    m.insert(text("target"), Value::Number(target.into()));
    if let Some(p) = published {
        m.insert(text("published"), text(p));
    }
    m.insert(text("protocol"), text(protocol));
    Value::Mapping(m)
}

pub fn check_protocol(protocol: &str, spec: &str, path: &str) -> Result<()> {
    match protocol {
        "tcp" | "udp" => Ok(()),
        _ => Err(invalid(path, spec, format!("protocol {protocol:?} is not supported by burrow (tcp or udp)"))),
    }
}

/// `[::1]:rest` or `1.2.3.4:p:t` → the host address and the rest; None
/// for an unclosed bracket.
fn split_host_ip(addr: &str) -> Option<(Option<&str>, &str)> {
    if let Some(inner) = addr.strip_prefix('[') {
        let (ip, rest) = inner.split_once(']')?;
        return Some((Some(ip), rest.strip_prefix(':').unwrap_or(rest)));
    }
    // Three parts: the first is the address.
    let parts: Vec<&str> = addr.splitn(3, ':').collect();
    if parts.len() == 3 {
        let rest = &addr[parts[0].len() + 1..];
        return Some((Some(parts[0]), rest));
    }
    Some((None, addr))
}

/// `80` or `8000-8010` as an inclusive range of valid ports.
pub fn range(s: &str) -> Option<(u16, u16)> {
    let port = |p: &str| p.trim().parse::<u16>().ok().filter(|&n| n > 0);
    match s.split_once('-') {
        Some((a, b)) => {
            let (a, b) = (port(a)?, port(b)?);
            (a <= b).then_some((a, b))
        }
        None => port(s).map(|p| (p, p)),
    }
}
