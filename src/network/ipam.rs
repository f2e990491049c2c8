//! Address management for user-defined networks: which subnet a new
//! network gets, whether the addressing a user asks for holds together,
//! and which address (and MAC) a container gets on a network.
//!
//! Theory of operation. Everything here is a pure function of its inputs:
//! the request, the networks that exist, the host's routes and the set of
//! addresses already taken are all passed in, so every rule is unit-tested
//! without a store or a kernel. The one exception, [`host_routes`], is a
//! thin reader of `/proc/net/route` and `/proc/net/ipv6_route` whose
//! parsing is again pure.
//!
//! The rules, docker's unless said otherwise:
//! - Without `--subnet`, a network takes the first /24 of podman's
//!   rootless pool 10.89.0.0/24, 10.89.1.0/24, ... 10.89.255.0/24 that
//!   overlaps no other network and no host route (the default route
//!   aside), so a container's traffic to the host's own networks is never
//!   shadowed. With `--ipv6` and no IPv6 subnet it takes a ULA /64,
//!   `fdXX:XXXX:XXXX::/64` with 40 random bits (RFC 4193).
//! - A given subnet is written canonically (no host bits), leaves room for
//!   a container (IPv4 /30 or larger), and overlaps nothing (each conflict
//!   is named). At most one subnet per family; an IPv6 one needs `--ipv6`.
//! - The gateway (default: the subnet's first host) lies inside its subnet
//!   and is neither its network nor its broadcast address; an
//!   `--ip-range` lies inside the IPv4 subnet.
//! - A container gets the first free address of the range (or the
//!   subnet), skipping the network, gateway and broadcast addresses; an
//!   address it asks for (`--ip`) may be anywhere in the subnet (the range
//!   is where automatic ones come from, as in docker and compose) but must
//!   be free. Its MAC is docker's: `02:42` and the four IPv4 bytes.
//!
//! Not done here: reserving the address in the store (the caller holds
//! the lock while it asks and records the answer).

use std::collections::BTreeSet;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use ipnet::{IpNet, Ipv4Net, Ipv6Net};

use crate::model::network::{Ipv4Config, Ipv6Config, Mac, Network};

/// What a candidate subnet collides with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Conflict {
    Network { name: String, subnet: IpNet },
    Route(HostRoute),
}

impl fmt::Display for Conflict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Conflict::Network { name, subnet } => write!(f, "network {name} ({subnet})"),
            Conflict::Route(r) => write!(f, "the host's route to {} on {}", r.dest, r.device),
        }
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum Error {
    #[error("more than one IPv{family} --subnet given ({first} and {second}): a network has at most one subnet per address family")]
    TwoSubnets { family: u8, first: IpNet, second: IpNet },
    #[error("invalid subnet {given}: it has host bits set; write it as {canonical}")]
    NotCanonical { given: IpNet, canonical: IpNet },
    #[error("subnet {subnet} is too small: it leaves no address for a container (use /30 or larger)")]
    TooSmall { subnet: IpNet },
    #[error("subnet {subnet} overlaps {conflict}: choose another --subnet")]
    Overlap { subnet: IpNet, conflict: Conflict },
    #[error("IPv6 subnet {subnet} given without --ipv6: add --ipv6 to give the network IPv6")]
    Ipv6NotEnabled { subnet: IpNet },
    #[error("--gateway {gateway} has no --subnet of its address family to belong to: give the subnet too")]
    GatewayWithoutSubnet { gateway: IpAddr },
    #[error("more than one --gateway for subnet {subnet}")]
    TwoGateways { subnet: IpNet },
    #[error("--gateway {gateway} is outside subnet {subnet}")]
    GatewayOutside { gateway: IpAddr, subnet: IpNet },
    #[error("--gateway {gateway} is the {what} address of subnet {subnet}: choose a host address")]
    GatewayReserved { gateway: IpAddr, subnet: IpNet, what: &'static str },
    #[error("--ip-range {range} needs an IPv4 --subnet that contains it")]
    RangeWithoutSubnet { range: IpNet },
    #[error("--ip-range {range} is outside subnet {subnet}")]
    RangeOutside { range: IpNet, subnet: IpNet },
    #[error("--ip-range {range} is IPv6: burrow takes an allocation range for IPv4 only")]
    RangeIpv6 { range: IpNet },
    #[error("more than one --ip-range given ({first} and {second})")]
    TwoRanges { first: IpNet, second: IpNet },
    #[error("no free subnet left in burrow's pool 10.89.0.0/16 (every /24 overlaps a network or a host route): give one with --subnet")]
    PoolExhausted,
    #[error("no free address left on network {network} ({range}): remove a container from it, or create a network with a larger --subnet")]
    Exhausted { network: String, range: IpNet },
    #[error("address {ip} is outside network {network}'s subnet {subnet}")]
    AddressOutside { ip: IpAddr, network: String, subnet: IpNet },
    #[error("address {ip} is the {what} address of network {network}: choose another")]
    AddressReserved { ip: IpAddr, network: String, what: &'static str },
    #[error("address {ip} is already in use on network {network}")]
    AddressTaken { ip: IpAddr, network: String },
    #[error("network {network} has no IPv6: create it with --ipv6 to ask for an IPv6 address")]
    NoIpv6 { network: String },
}

pub type Result<T> = std::result::Result<T, Error>;

/// One route of the host's main routing table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HostRoute {
    pub dest: IpNet,
    pub device: String,
}

/// The addressing `network create` asks for, as typed.
#[derive(Debug, Clone, Default)]
pub struct Request {
    pub subnets: Vec<IpNet>,
    pub gateways: Vec<IpAddr>,
    pub ip_ranges: Vec<IpNet>,
    pub ipv6: bool,
}

/// A new network's addressing, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addressing {
    pub ipv4: Ipv4Config,
    pub ipv6: Option<Ipv6Config>,
}

/// Decide a new network's addressing. `ula` is 5 random bytes, used for
/// the IPv6 subnet when `--ipv6` comes without one.
pub fn plan(req: &Request, existing: &[Network], routes: &[HostRoute], ula: [u8; 5]) -> Result<Addressing> {
    let (v4, v6) = split_subnets(&req.subnets)?;
    for s in v4.iter().map(|s| IpNet::V4(*s)).chain(v6.iter().map(|s| IpNet::V6(*s))) {
        check_subnet(s, existing, routes)?;
    }
    if let (Some(s), false) = (v6, req.ipv6) {
        return Err(Error::Ipv6NotEnabled { subnet: IpNet::V6(s) });
    }
    let subnet4 = match v4 {
        Some(s) => s,
        None => {
            if let Some(g) = req.gateways.iter().find(|g| g.is_ipv4()) {
                return Err(Error::GatewayWithoutSubnet { gateway: *g });
            }
            if let Some(r) = req.ip_ranges.first() {
                return Err(Error::RangeWithoutSubnet { range: *r });
            }
            free_pool_subnet(existing, routes)?
        }
    };
    let ipv4 = Ipv4Config { subnet: subnet4, gateway: gateway4(subnet4, &req.gateways)?, ip_range: ip_range(subnet4, &req.ip_ranges)? };
    let ipv6 = if req.ipv6 {
        let subnet6 = match v6 {
            Some(s) => s,
            None => {
                let s = ula_subnet(ula);
                check_subnet(IpNet::V6(s), existing, routes)?;
                s
            }
        };
        Some(Ipv6Config { subnet: subnet6, gateway: gateway6(subnet6, &req.gateways)? })
    } else {
        if let Some(g) = req.gateways.iter().find(|g| g.is_ipv6()) {
            return Err(Error::GatewayWithoutSubnet { gateway: *g });
        }
        None
    };
    Ok(Addressing { ipv4, ipv6 })
}

/// At most one subnet per family.
fn split_subnets(subnets: &[IpNet]) -> Result<(Option<Ipv4Net>, Option<Ipv6Net>)> {
    let (mut v4, mut v6): (Option<Ipv4Net>, Option<Ipv6Net>) = (None, None);
    for s in subnets {
        match s {
            IpNet::V4(n) => match v4 {
                Some(first) => return Err(Error::TwoSubnets { family: 4, first: first.into(), second: *s }),
                None => v4 = Some(*n),
            },
            IpNet::V6(n) => match v6 {
                Some(first) => return Err(Error::TwoSubnets { family: 6, first: first.into(), second: *s }),
                None => v6 = Some(*n),
            },
        }
    }
    Ok((v4, v6))
}

/// A user-given subnet: canonical, big enough, overlapping nothing.
fn check_subnet(subnet: IpNet, existing: &[Network], routes: &[HostRoute]) -> Result<()> {
    if subnet.trunc() != subnet {
        return Err(Error::NotCanonical { given: subnet, canonical: subnet.trunc() });
    }
    if subnet.max_prefix_len() - subnet.prefix_len() < 2 {
        return Err(Error::TooSmall { subnet });
    }
    match conflict(subnet, existing, routes) {
        Some(conflict) => Err(Error::Overlap { subnet, conflict }),
        None => Ok(()),
    }
}

fn overlaps(a: IpNet, b: IpNet) -> bool {
    a.contains(&b.network()) || b.contains(&a.network())
}

/// The first network or host route `subnet` overlaps. The default route
/// (prefix 0) overlaps everything and says nothing, so it is left out.
pub fn conflict(subnet: IpNet, existing: &[Network], routes: &[HostRoute]) -> Option<Conflict> {
    let networks = existing.iter().flat_map(|n| {
        let v4 = std::iter::once(IpNet::V4(n.ipv4.subnet));
        let v6 = n.ipv6.iter().map(|c| IpNet::V6(c.subnet));
        v4.chain(v6).map(move |s| (n.name.clone(), s))
    });
    for (name, s) in networks {
        if overlaps(subnet, s) {
            return Some(Conflict::Network { name, subnet: s });
        }
    }
    routes.iter().find(|r| r.dest.prefix_len() > 0 && overlaps(subnet, r.dest)).map(|r| Conflict::Route(r.clone()))
}

/// The first /24 of 10.89.0.0/16 that overlaps nothing.
fn free_pool_subnet(existing: &[Network], routes: &[HostRoute]) -> Result<Ipv4Net> {
    (0..=255u8)
        .map(|third| Ipv4Net::new(Ipv4Addr::new(10, 89, third, 0), 24).expect("/24 is a valid prefix"))
        .find(|s| conflict(IpNet::V4(*s), existing, routes).is_none())
        .ok_or(Error::PoolExhausted)
}

/// `fdXX:XXXX:XXXX::/64`: the ULA prefix, 40 random bits, subnet id 0.
fn ula_subnet(r: [u8; 5]) -> Ipv6Net {
    let addr = Ipv6Addr::new(0xfd00 | r[0] as u16, u16::from_be_bytes([r[1], r[2]]), u16::from_be_bytes([r[3], r[4]]), 0, 0, 0, 0, 0);
    Ipv6Net::new(addr, 64).expect("/64 is a valid prefix")
}

/// The gateways given for one subnet: outside ones of the same family are
/// an error, since each family has one subnet.
fn gateway_for(subnet: IpNet, gateways: &[IpAddr]) -> Result<Option<IpAddr>> {
    let mine: Vec<IpAddr> = gateways.iter().filter(|g| g.is_ipv4() == matches!(subnet, IpNet::V4(_))).copied().collect();
    match mine.as_slice() {
        [] => Ok(None),
        [g] if !subnet.contains(g) => Err(Error::GatewayOutside { gateway: *g, subnet }),
        [g] if *g == subnet.network() => Err(Error::GatewayReserved { gateway: *g, subnet, what: "network" }),
        [g] if subnet.addr().is_ipv4() && *g == subnet.broadcast() => {
            Err(Error::GatewayReserved { gateway: *g, subnet, what: "broadcast" })
        }
        [g] => Ok(Some(*g)),
        _ => Err(Error::TwoGateways { subnet }),
    }
}

fn gateway4(subnet: Ipv4Net, gateways: &[IpAddr]) -> Result<Ipv4Addr> {
    match gateway_for(IpNet::V4(subnet), gateways)? {
        Some(IpAddr::V4(g)) => Ok(g),
        _ => Ok(Ipv4Addr::from(u32::from(subnet.network()) + 1)),
    }
}

fn gateway6(subnet: Ipv6Net, gateways: &[IpAddr]) -> Result<Ipv6Addr> {
    match gateway_for(IpNet::V6(subnet), gateways)? {
        Some(IpAddr::V6(g)) => Ok(g),
        _ => Ok(Ipv6Addr::from(u128::from(subnet.network()) + 1)),
    }
}

fn ip_range(subnet: Ipv4Net, ranges: &[IpNet]) -> Result<Option<Ipv4Net>> {
    match ranges {
        [] => Ok(None),
        [IpNet::V6(_)] => Err(Error::RangeIpv6 { range: ranges[0] }),
        [IpNet::V4(r)] if r.trunc() != *r => Err(Error::NotCanonical { given: ranges[0], canonical: ranges[0].trunc() }),
        [IpNet::V4(r)] if !subnet.contains(r) => Err(Error::RangeOutside { range: ranges[0], subnet: IpNet::V4(subnet) }),
        [IpNet::V4(r)] => Ok(Some(*r)),
        [first, second, ..] => Err(Error::TwoRanges { first: *first, second: *second }),
    }
}

/// An IPv4 address for a container on `net`: `requested` if it is free,
/// else the first free one of the range.
pub fn allocate_v4(net: &Network, used: &BTreeSet<Ipv4Addr>, requested: Option<Ipv4Addr>) -> Result<Ipv4Addr> {
    let c = &net.ipv4;
    let subnet = IpNet::V4(c.subnet);
    let reserved = |ip: Ipv4Addr| match ip {
        _ if ip == c.subnet.network() => Some("network"),
        _ if ip == c.subnet.broadcast() => Some("broadcast"),
        _ if ip == c.gateway => Some("gateway"),
        _ => None,
    };
    if let Some(ip) = requested {
        return check_requested(IpAddr::V4(ip), &net.name, subnet, reserved(ip), used.contains(&ip)).map(|_| ip);
    }
    let range = c.ip_range.unwrap_or(c.subnet);
    let (lo, hi) = (u32::from(range.network()), u32::from(range.broadcast()));
    first_free(lo as u128, hi as u128, |n| {
        let ip = Ipv4Addr::from(n as u32);
        reserved(ip).is_none() && !used.contains(&ip)
    })
    .map(|n| Ipv4Addr::from(n as u32))
    .ok_or(Error::Exhausted { network: net.name.clone(), range: IpNet::V4(range) })
}

/// An IPv6 address for a container on `net` (which must have IPv6).
pub fn allocate_v6(net: &Network, used: &BTreeSet<Ipv6Addr>, requested: Option<Ipv6Addr>) -> Result<Ipv6Addr> {
    let c = net.ipv6.as_ref().ok_or_else(|| Error::NoIpv6 { network: net.name.clone() })?;
    let subnet = IpNet::V6(c.subnet);
    let reserved = |ip: Ipv6Addr| match ip {
        _ if ip == c.subnet.network() => Some("network"),
        _ if ip == c.gateway => Some("gateway"),
        _ => None,
    };
    if let Some(ip) = requested {
        return check_requested(IpAddr::V6(ip), &net.name, subnet, reserved(ip), used.contains(&ip)).map(|_| ip);
    }
    let (lo, hi) = (u128::from(c.subnet.network()), u128::from(c.subnet.broadcast()));
    first_free(lo, hi, |n| {
        let ip = Ipv6Addr::from(n);
        reserved(ip).is_none() && !used.contains(&ip)
    })
    .map(Ipv6Addr::from)
    .ok_or(Error::Exhausted { network: net.name.clone(), range: subnet })
}

fn check_requested(ip: IpAddr, network: &str, subnet: IpNet, reserved: Option<&'static str>, taken: bool) -> Result<()> {
    let network = network.to_string();
    if !subnet.contains(&ip) {
        return Err(Error::AddressOutside { ip, network, subnet });
    }
    if let Some(what) = reserved {
        return Err(Error::AddressReserved { ip, network, what });
    }
    if taken {
        return Err(Error::AddressTaken { ip, network });
    }
    Ok(())
}

/// The first number in `lo..=hi` that `free` accepts. It stops after the
/// taken ones, so a /64 costs no more than a /24.
fn first_free(lo: u128, hi: u128, free: impl Fn(u128) -> bool) -> Option<u128> {
    let mut n = lo;
    loop {
        if free(n) {
            return Some(n);
        }
        if n >= hi {
            return None;
        }
        n += 1;
    }
}

/// docker's MAC for a container address: `02:42` then the address bytes.
pub fn mac_for(ip: Ipv4Addr) -> Mac {
    let [a, b, c, d] = ip.octets();
    Mac([0x02, 0x42, a, b, c, d])
}

/// The host's IPv4 and IPv6 routes (the current network namespace's main
/// table; an unreadable file gives none).
pub fn host_routes() -> Vec<HostRoute> {
    let mut out = parse_routes_v4(&std::fs::read_to_string("/proc/net/route").unwrap_or_default());
    out.extend(parse_routes_v6(&std::fs::read_to_string("/proc/net/ipv6_route").unwrap_or_default()));
    out
}

/// `/proc/net/route`: a header line, then `Iface Destination Gateway Flags
/// RefCnt Use Metric Mask ...` with destination and mask as the kernel's
/// in-memory (network order) words printed in hex.
pub fn parse_routes_v4(text: &str) -> Vec<HostRoute> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            let word = |s: &str| u32::from_str_radix(s, 16).ok().map(|w| Ipv4Addr::from(w.to_ne_bytes()));
            let (dest, mask) = (word(f.get(1)?)?, word(f.get(7)?)?);
            let prefix = u32::from(mask).leading_ones() as u8;
            Some(HostRoute { dest: IpNet::V4(Ipv4Net::new(dest, prefix).ok()?.trunc()), device: f.first()?.to_string() })
        })
        .collect()
}

/// `/proc/net/ipv6_route`: `dest prefixlen src srclen nexthop metric
/// refcnt use flags device`, addresses as 32 hex digits.
pub fn parse_routes_v6(text: &str) -> Vec<HostRoute> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 10 {
                return None;
            }
            let dest = Ipv6Addr::from(u128::from_str_radix(f[0], 16).ok()?);
            let prefix = u8::from_str_radix(f[1], 16).ok()?;
            Some(HostRoute { dest: IpNet::V6(Ipv6Net::new(dest, prefix).ok()?.trunc()), device: f[9].to_string() })
        })
        .collect()
}

#[cfg(test)]
mod tests;
