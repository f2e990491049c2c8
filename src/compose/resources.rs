//! The top-level `networks`, `volumes`, `secrets` and `configs` of a
//! project, typed and named. A resource's engine name is its `name:`, or
//! for an external one its key, or else `PROJECT_KEY` (docker compose's
//! rule). Networks use the `bridge` driver, volumes the `local` one; a
//! network's `ipam.config` pools become burrow's `--subnet`, `--gateway`
//! and `--ip-range`. A secret comes from a file or an environment
//! variable; a config from a file, inline content or a variable.

use std::collections::BTreeMap;

use serde_norway::Value;

use super::model::{FileDef, IpamPool, Network, Volume};
use super::schema::{self, check, SchemaError};
use super::value::{boolean, entries, index, invalid, join, mapping, string};

type Result<T> = std::result::Result<T, SchemaError>;

/// The entries of one top-level section, each read by `f(key, value, path)`.
pub fn section<T>(top: &serde_norway::Mapping, key: &str, f: impl Fn(&str, &Value, &str) -> Result<T>) -> Result<BTreeMap<String, T>> {
    let Some(v) = top.get(key).filter(|v| !v.is_null()) else { return Ok(BTreeMap::new()) };
    let m = mapping(v, key)?;
    entries(m, key)?.into_iter().map(|(k, v, p)| Ok((k.clone(), f(&k, v, &p)?))).collect()
}

/// Common: `name`, `external` and the engine name they give.
fn naming(m: Option<&serde_norway::Mapping>, key: &str, p: &str, project: &str) -> Result<(String, bool)> {
    let Some(m) = m else { return Ok((format!("{project}_{key}"), false)) };
    let name = m.get("name").filter(|v| !v.is_null()).map(|n| string(n, &join(p, "name"))).transpose()?;
    let external = m.get("external").map(|e| boolean(e, &join(p, "external"))).transpose()?.unwrap_or(false);
    let engine = match (name, external) {
        (Some(n), _) => n,
        (None, true) => key.to_string(),
        (None, false) => format!("{project}_{key}"),
    };
    Ok((engine, external))
}

fn labels(m: &serde_norway::Mapping, p: &str) -> Result<BTreeMap<String, String>> {
    match m.get("labels") {
        None | Some(Value::Null) => Ok(BTreeMap::new()),
        Some(Value::Sequence(items)) => items
            .iter()
            .enumerate()
            .map(|(i, x)| {
                let s = string(x, &index(&join(p, "labels"), i))?;
                let (k, v) = s.split_once('=').unwrap_or((&s, ""));
                Ok((k.to_string(), v.to_string()))
            })
            .collect(),
        Some(v) => entries(mapping(v, &join(p, "labels"))?, &join(p, "labels"))?
            .into_iter()
            .map(|(k, v, kp)| Ok((k, if v.is_null() { String::new() } else { string(v, &kp)? })))
            .collect(),
    }
}

fn driver(m: &serde_norway::Mapping, p: &str, only: &str) -> Result<Option<String>> {
    let Some(d) = m.get("driver").filter(|v| !v.is_null()) else { return Ok(None) };
    let d = string(d, &join(p, "driver"))?;
    if d != only {
        return Err(invalid(&join(p, "driver"), &d, format!("burrow has only the {only} driver")).into());
    }
    Ok(Some(d))
}

pub fn network(key: &str, v: &Value, p: &str, project: &str) -> Result<Network> {
    let m = if v.is_null() { None } else { Some(mapping(v, p)?) };
    if let Some(m) = m {
        check(m, p, &schema::NETWORK)?;
    }
    let (name, external) = naming(m, key, p, project)?;
    let Some(m) = m else { return Ok(Network { name, ..Default::default() }) };
    let flag = |k: &str| m.get(k).map(|b| boolean(b, &join(p, k))).transpose().map(Option::unwrap_or_default);
    Ok(Network {
        name,
        external,
        driver: driver(m, p, "bridge")?,
        internal: flag("internal")?,
        enable_ipv6: flag("enable_ipv6")?,
        ipam: ipam(m, p)?,
        labels: labels(m, p)?,
    })
}

fn ipam(m: &serde_norway::Mapping, p: &str) -> Result<Vec<IpamPool>> {
    let Some(v) = m.get("ipam").filter(|v| !v.is_null()) else { return Ok(Vec::new()) };
    let ip = join(p, "ipam");
    let im = mapping(v, &ip)?;
    check(im, &ip, &schema::IPAM)?;
    if let Some(d) = im.get("driver").filter(|v| !v.is_null()) {
        let d = string(d, &join(&ip, "driver"))?;
        if d != "default" {
            return Err(invalid(&join(&ip, "driver"), &d, "burrow has only the default IPAM driver").into());
        }
    }
    let Some(Value::Sequence(pools)) = im.get("config") else { return Ok(Vec::new()) };
    pools
        .iter()
        .enumerate()
        .map(|(i, pool)| {
            let pp = index(&join(&ip, "config"), i);
            let pm = mapping(pool, &pp)?;
            check(pm, &pp, &schema::IPAM_POOL)?;
            let get = |k: &str| pm.get(k).filter(|v| !v.is_null()).map(|v| string(v, &join(&pp, k))).transpose();
            let net = |k: &str, s: String| s.parse::<ipnet::IpNet>().map_err(|_| invalid(&join(&pp, k), &s, "not a CIDR subnet"));
            Ok(IpamPool {
                subnet: net("subnet", get("subnet")?.ok_or_else(|| invalid(&pp, "", "an ipam pool needs subnet"))?)?,
                gateway: get("gateway")?
                    .map(|g| g.parse().map_err(|_| invalid(&join(&pp, "gateway"), &g, "not an IP address")))
                    .transpose()?,
                ip_range: get("ip_range")?.map(|r| net("ip_range", r)).transpose()?,
            })
        })
        .collect()
}

pub fn volume(key: &str, v: &Value, p: &str, project: &str) -> Result<Volume> {
    let m = if v.is_null() { None } else { Some(mapping(v, p)?) };
    if let Some(m) = m {
        check(m, p, &schema::VOLUME)?;
    }
    let (name, external) = naming(m, key, p, project)?;
    let Some(m) = m else { return Ok(Volume { name, ..Default::default() }) };
    Ok(Volume { name, external, driver: driver(m, p, "local")?, labels: labels(m, p)? })
}

/// A secret (`config` false) or a config (`config` true).
pub fn file_def(key: &str, v: &Value, p: &str, project: &str, config: bool) -> Result<FileDef> {
    let m = mapping(v, p)?;
    check(m, p, if config { &schema::CONFIG } else { &schema::SECRET })?;
    let (name, external) = naming(Some(m), key, p, project)?;
    let get = |k: &str| m.get(k).filter(|v| !v.is_null()).map(|v| string(v, &join(p, k))).transpose();
    let def = FileDef { name, file: get("file")?, environment: get("environment")?, content: get("content")?, external };
    let sources = [def.file.is_some(), def.environment.is_some(), def.content.is_some(), def.external].iter().filter(|b| **b).count();
    if sources != 1 {
        let what = if config { "file, content, environment or external" } else { "file, environment or external" };
        return Err(invalid(p, key, format!("give exactly one of {what}")).into());
    }
    Ok(def)
}
