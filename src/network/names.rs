//! Which addresses a network's DNS gives for a name, and to whom.
//!
//! A container on a user-defined network asks its first network's
//! resolver (the gateway in its `/etc/resolv.conf`), whatever network the
//! name it asks for is on. As docker's resolver does, the answer covers
//! every network the asking container is on: the resolver of network `a`
//! finds the client among the containers of `a` by its source address,
//! and answers names on `a` and on the client's other networks, each with
//! its address on that network (one the client reaches through its own
//! interface there). A client it cannot place (not a container of `a`)
//! sees the names on `a` only. Names are `Record::answers_to`'s. The
//! client's `--dns` servers, if it gave any, are where its outside names
//! go (`upstreams`), instead of the network's upstream. Pure: the
//! caller reads the records (those of running containers) at each query.

use std::collections::BTreeSet;
use std::net::{IpAddr, SocketAddr};

use crate::model::Record;

/// The container of `network` at `ip`, among `records`.
fn asking<'a>(records: &'a [Record], network: &str, ip: IpAddr) -> Option<&'a Record> {
    records
        .iter()
        .find(|r| r.endpoints.iter().any(|e| e.network == network && (IpAddr::V4(e.ipv4) == ip || e.ipv6.map(IpAddr::V6) == Some(ip))))
}

/// The resolvers the container of `network` at `client` gave with
/// `--dns` (port 53); empty when it gave none or is not known.
pub fn upstreams(records: &[Record], network: &str, client: IpAddr) -> Vec<SocketAddr> {
    let dns = asking(records, network, client).and_then(|r| r.config.as_ref()).map(|c| c.network.dns.as_slice()).unwrap_or_default();
    dns.iter().filter_map(|d| d.parse::<IpAddr>().ok()).map(|ip| SocketAddr::new(ip, 53)).collect()
}

/// The addresses of `name` for `client` asking network `network`'s
/// resolver, among the running containers `records`.
pub fn lookup(records: &[Record], network: &str, client: Option<IpAddr>, name: &str) -> Vec<IpAddr> {
    let mut seen = BTreeSet::from([network]);
    if let Some(r) = client.and_then(|ip| asking(records, network, ip)) {
        seen.extend(r.endpoints.iter().map(|e| e.network.as_str()));
    }
    let mut out = Vec::new();
    for r in records {
        for e in r.endpoints.iter().filter(|e| seen.contains(e.network.as_str())) {
            if r.answers_to(e, name) {
                out.push(IpAddr::V4(e.ipv4));
                out.extend(e.ipv6.map(IpAddr::V6));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::network::Endpoint;
    use crate::model::{ContainerId, Digest};

    fn on(name: &str, nets: &[(&str, &str)]) -> Record {
        let mut r =
            Record::created(ContainerId::random(), name.into(), "busybox".into(), Digest::of_bytes(b"x"), vec!["true".into()], false);
        for (n, ip) in nets {
            let ipv4: std::net::Ipv4Addr = ip.parse().unwrap();
            r.endpoints.push(Endpoint {
                network: n.to_string(),
                ipv4,
                ipv6: None,
                mac: crate::network::ipam::mac_for(ipv4),
                aliases: Vec::new(),
            });
        }
        r
    }

    #[test]
    fn a_client_sees_the_names_of_all_its_networks_and_no_others() {
        let records = [
            on("both", &[("a", "10.1.0.2"), ("b", "10.2.0.2")]),
            on("only-a", &[("a", "10.1.0.3")]),
            on("only-b", &[("b", "10.2.0.3")]),
            on("c", &[("c", "10.3.0.2")]),
        ];
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        let from_both = ip("10.1.0.2");
        assert_eq!(lookup(&records, "a", from_both, "only-b"), [ip("10.2.0.3").unwrap()], "b's name, at its address on b");
        assert_eq!(lookup(&records, "a", from_both, "only-a"), [ip("10.1.0.3").unwrap()]);
        assert!(lookup(&records, "a", from_both, "c").is_empty(), "a network the client is not on");
        assert!(lookup(&records, "a", ip("10.1.0.3"), "only-b").is_empty(), "only-a is not on b");
        assert!(lookup(&records, "a", None, "only-b").is_empty(), "an unknown client sees this network only");
        assert_eq!(lookup(&records, "a", ip("10.1.0.3"), "both"), [ip("10.1.0.2").unwrap()], "its address on the shared network");
        assert!(lookup(&records, "a", ip("10.2.0.3"), "only-b").is_empty(), "a client placed by its address on this network only");
    }
}
