//! docker's JSON shapes for networks: `network inspect` and the rows of
//! `network ls` (what `--format` templates see).
//!
//! The built-in networks have no record: `bridge` shows the addressing
//! every container's own virtual network has (`burrow_netstack`'s
//! default), `host` and `none` none, and their creation time is Go's zero
//! time, as docker prints for a time it does not know.

use serde_json::{json, Value};

use super::store::{Builtin, Found};
use crate::model::network::{Endpoint, Network};

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

/// A running container on a network, as `network inspect` lists it.
#[derive(Debug, Clone)]
pub struct Member {
    pub id: String,
    pub name: String,
    pub endpoint: Endpoint,
}

/// `network inspect`'s object for one network, with its running
/// containers (`Containers`, by id: name, MAC and addresses with the
/// subnet's prefix length, as docker shows them).
pub fn inspect(found: &Found, members: &[Member]) -> Value {
    match found {
        Found::User(n) => user(n, members),
        Found::Builtin(b) => builtin(b),
    }
}

fn containers(n: &Network, members: &[Member]) -> Value {
    let mut out = serde_json::Map::new();
    for m in members.iter().filter(|m| m.endpoint.network == n.name) {
        let e = &m.endpoint;
        let v6 = match (e.ipv6, &n.ipv6) {
            (Some(a), Some(c)) => format!("{a}/{}", c.subnet.prefix_len()),
            _ => String::new(),
        };
        out.insert(
            m.id.clone(),
            json!({
                "Name": m.name,
                "EndpointID": "",
                "MacAddress": e.mac.to_string(),
                "IPv4Address": format!("{}/{}", e.ipv4, n.ipv4.subnet.prefix_len()),
                "IPv6Address": v6,
            }),
        );
    }
    Value::Object(out)
}

fn user(n: &Network, members: &[Member]) -> Value {
    let mut v4 = json!({"Subnet": n.ipv4.subnet.to_string(), "Gateway": n.ipv4.gateway.to_string()});
    if let Some(r) = n.ipv4.ip_range {
        v4["IPRange"] = r.to_string().into();
    }
    let mut config = vec![v4];
    if let Some(v6) = &n.ipv6 {
        config.push(json!({"Subnet": v6.subnet.to_string(), "Gateway": v6.gateway.to_string()}));
    }
    json!({
        "Name": n.name,
        "Id": n.id.as_str(),
        "Created": n.created.to_string(),
        "Scope": "local",
        "Driver": n.driver.as_str(),
        "EnableIPv4": true,
        "EnableIPv6": n.ipv6.is_some(),
        "IPAM": {"Driver": "default", "Options": {}, "Config": config},
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers(n, members),
        "Options": n.options,
        "Labels": n.labels,
    })
}

fn builtin(b: &Builtin) -> Value {
    let config = if b.name == "bridge" {
        let v = burrow_netstack::config::VirtualNetwork::default();
        vec![json!({"Subnet": format!("{}/{}", v.network, v.prefix_len), "Gateway": v.gateway().to_string()})]
    } else {
        Vec::new()
    };
    json!({
        "Name": b.name,
        "Id": b.id().as_str(),
        "Created": ZERO_TIME,
        "Scope": "local",
        "Driver": b.driver,
        "EnableIPv4": b.name == "bridge",
        "EnableIPv6": false,
        "IPAM": {"Driver": "default", "Options": null, "Config": config},
        "Internal": false,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": {},
        "Options": {},
        "Labels": {},
    })
}

/// One row of `network ls` as docker's `--format` sees it: every value a
/// string, labels as `k=v,k2=v2`, the id cut to 12 digits unless `full_id`.
pub fn ls_row(found: &Found, full_id: bool) -> Value {
    let (name, id, driver, created, v6, internal, labels) = match found {
        Found::User(n) => {
            let labels: Vec<String> = n.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let created = n.created.time().format("%Y-%m-%d %H:%M:%S%.f %z UTC").to_string();
            (n.name.clone(), n.id.to_string(), n.driver.as_str(), created, n.ipv6.is_some(), n.internal, labels.join(","))
        }
        Found::Builtin(b) => {
            (b.name.to_string(), b.id().to_string(), b.driver, "0001-01-01 00:00:00 +0000 UTC".to_string(), false, false, String::new())
        }
    };
    let id = if full_id { id } else { id[..12].to_string() };
    json!({
        "ID": id,
        "Name": name,
        "Driver": driver,
        "Scope": "local",
        "IPv6": v6.to_string(),
        "Internal": internal.to_string(),
        "Labels": labels,
        "CreatedAt": created,
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::network::{Driver, Ipv4Config, Ipv6Config};
    use crate::model::{NetworkId, Timestamp};
    use crate::network::store::BUILTINS;

    #[test]
    fn dockers_fields() {
        let n = Network {
            name: "app".into(),
            id: NetworkId::random(),
            driver: Driver::Bridge,
            ipv4: Ipv4Config {
                subnet: "10.5.0.0/16".parse().unwrap(),
                gateway: "10.5.0.1".parse().unwrap(),
                ip_range: Some("10.5.1.0/24".parse().unwrap()),
            },
            ipv6: Some(Ipv6Config { subnet: "fd00:1::/64".parse().unwrap(), gateway: "fd00:1::1".parse().unwrap() }),
            internal: true,
            labels: BTreeMap::from([("a".into(), "1".into()), ("b".into(), "2".into())]),
            options: BTreeMap::from([("mtu".into(), "1400".into())]),
            created: Timestamp::parse("2024-01-02T03:04:05.5Z").unwrap(),
        };
        let found = Found::User(Box::new(n.clone()));
        let member = |network: &str| Member {
            id: "c0ffee".into(),
            name: "db".into(),
            endpoint: Endpoint {
                network: network.into(),
                ipv4: "10.5.1.7".parse().unwrap(),
                ipv6: Some("fd00:1::7".parse().unwrap()),
                mac: crate::model::network::Mac([2, 0, 0, 0, 0, 7]),
                aliases: Vec::new(),
            },
        };
        let v = inspect(&found, &[member("app"), Member { id: "other".into(), ..member("elsewhere") }]);
        assert_eq!(
            v["Containers"],
            json!({"c0ffee": {"Name": "db", "EndpointID": "", "MacAddress": "02:00:00:00:00:07", "IPv4Address": "10.5.1.7/16", "IPv6Address": "fd00:1::7/64"}}),
            "only the network's own containers, with the subnet's prefix lengths"
        );
        assert_eq!(v["IPAM"]["Config"][0], json!({"Subnet": "10.5.0.0/16", "Gateway": "10.5.0.1", "IPRange": "10.5.1.0/24"}));
        assert_eq!(v["IPAM"]["Config"][1]["Subnet"], "fd00:1::/64");
        assert_eq!(v["EnableIPv6"], true);
        assert_eq!(v["Internal"], true);
        assert_eq!(v["Options"]["mtu"], "1400");
        assert_eq!(v["Created"], "2024-01-02T03:04:05.500000000Z");
        let row = ls_row(&found, false);
        assert_eq!(row["ID"].as_str().unwrap().len(), 12);
        assert_eq!(row["Labels"], "a=1,b=2");
        assert_eq!(row["CreatedAt"], "2024-01-02 03:04:05.500 +0000 UTC");
        assert_eq!(ls_row(&found, true)["ID"], n.id.as_str());
        let bridge = inspect(&Found::Builtin(BUILTINS[0].clone()), &[]);
        assert_eq!(bridge["IPAM"]["Config"][0]["Subnet"], "10.0.2.0/24");
        assert_eq!(inspect(&Found::Builtin(BUILTINS[2].clone()), &[])["Driver"], "null");
    }
}
