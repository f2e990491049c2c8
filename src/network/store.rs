//! The network store: `networks/<name>/network.json`, one directory per
//! user-defined network, and the built-in networks beside them.
//!
//! Theory of operation. A network is its directory plus its definition,
//! written with `atomic::write` after the directory exists; a directory
//! without `network.json` is not a network (a create killed half way), is
//! not listed and is taken over by the next create of that name. A create
//! that fails removes the directory it made, so nothing is half-created.
//! Creation and removal take a `&StoreLock` (the exclusive store lock,
//! which the caller holds) as proof, because the checks they make (the
//! name is free, the subnet overlaps no other network, no container uses
//! the network) only hold while nobody else changes the store. Who uses a
//! network is the caller's to say (container records are not this
//! module's), as pairs of container and network names.
//!
//! The built-in networks are docker's `bridge`, `host` and `none` (the
//! modes `--network` has always had; `bridge` is burrow's own per-container
//! network): listed, never created or removed. `burrow` and `default`
//! name the same modes, so they are reserved as well.

use std::collections::BTreeMap;
use std::fs;
use std::path::PathBuf;

use sha2::{Digest as _, Sha256};

use super::ipam::{self, HostRoute};
use crate::lock::StoreLock;
use crate::model::network::{Driver, Network};
use crate::model::{NetworkId, Timestamp};
use crate::paths::Paths;

/// Names `network create` refuses: the built-in modes.
pub const RESERVED: [&str; 5] = ["bridge", "host", "none", "burrow", "default"];

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid network name {name:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    InvalidName { name: String },
    #[error("network name {name:?} is reserved for a built-in network mode: choose another name")]
    Reserved { name: String },
    #[error("network with name {name} already exists")]
    Exists { name: String },
    #[error("network {name} not found")]
    NoSuchNetwork { name: String },
    #[error("network id prefix {key} is ambiguous: it matches {}", names.join(", "))]
    Ambiguous { key: String, names: Vec<String> },
    #[error("{name} is a pre-defined network and cannot be removed")]
    Builtin { name: String },
    #[error("error while removing network {name}: network {name} has active endpoints (containers: {})", containers.join(", "))]
    InUse { name: String, containers: Vec<String> },
    #[error("network driver {driver:?} is not supported: burrow has only the \"bridge\" driver")]
    Driver { driver: String },
    #[error("unknown network option {key:?}: burrow accepts only mtu (-o mtu=1400)")]
    UnknownOption { key: String },
    #[error("invalid network option {text:?}: expected KEY=VALUE, such as mtu=1400")]
    OptionSyntax { text: String },
    #[error("invalid mtu {value:?}: expected a number from 68 to 65535")]
    Mtu { value: String },
    #[error(transparent)]
    Ipam(#[from] ipam::Error),
    #[error("network {name} is corrupt ({path}): {reason}; remove the directory to forget it")]
    Corrupt { name: String, path: PathBuf, reason: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

/// What `network create` asks for, parsed but not yet checked.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub driver: String,
    pub addressing: ipam::Request,
    pub internal: bool,
    pub labels: BTreeMap<String, String>,
    /// `-o` values as typed (`KEY=VALUE`).
    pub options: Vec<String>,
}

/// A built-in network: docker's name and driver, and a fixed id.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Builtin {
    pub name: &'static str,
    pub driver: &'static str,
}

impl Builtin {
    /// A stable id (docker's daemon picks one at start; burrow has no
    /// daemon, so it derives one from the name).
    pub fn id(&self) -> NetworkId {
        let hex: String = Sha256::digest(format!("burrow built-in network {}", self.name)).iter().map(|b| format!("{b:02x}")).collect();
        NetworkId::parse(&hex).expect("a sha256 is 64 hex digits")
    }
}

pub const BUILTINS: [Builtin; 3] =
    [Builtin { name: "bridge", driver: "bridge" }, Builtin { name: "host", driver: "host" }, Builtin { name: "none", driver: "null" }];

pub fn root(paths: &Paths) -> PathBuf {
    paths.networks()
}

fn file(paths: &Paths, name: &str) -> PathBuf {
    root(paths).join(name).join("network.json")
}

/// Read one network by its exact name.
pub fn get(paths: &Paths, name: &str) -> Result<Network> {
    if !crate::model::name::valid_name(name) {
        return Err(Error::NoSuchNetwork { name: name.to_string() });
    }
    let path = file(paths, name);
    let data = match fs::read(&path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NoSuchNetwork { name: name.to_string() }),
        Err(source) => return Err(Error::Io { path, source }),
    };
    serde_json::from_slice(&data).map_err(|e| Error::Corrupt { name: name.to_string(), path, reason: e.to_string() })
}

/// Every user-defined network, sorted by name (an unreadable one is
/// skipped with a log line; `get` names its problem).
pub fn list(paths: &Paths) -> Result<Vec<Network>> {
    let dir = root(paths);
    let entries = match fs::read_dir(&dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(Error::Io { path: dir, source }),
    };
    let mut out = Vec::new();
    for e in entries.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        match get(paths, &name) {
            Ok(n) => out.push(n),
            Err(err) => tracing::debug!(%err, name, "skipping network directory"),
        }
    }
    out.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(out)
}

/// A network or a built-in one, as `inspect` and `rm` find them.
#[derive(Debug, Clone)]
pub enum Found {
    User(Box<Network>),
    Builtin(Builtin),
}

/// Find a network by name, full id or unique id prefix (docker's order).
pub fn find(paths: &Paths, key: &str) -> Result<Found> {
    if let Some(b) = BUILTINS.iter().find(|b| b.name == key || b.id().as_str() == key) {
        return Ok(Found::Builtin(b.clone()));
    }
    match get(paths, key) {
        Err(Error::NoSuchNetwork { .. }) => {}
        other => return other.map(|n| Found::User(Box::new(n))),
    }
    let matches: Vec<Network> =
        if key.is_empty() { Vec::new() } else { list(paths)?.into_iter().filter(|n| n.id.as_str().starts_with(key)).collect() };
    match matches.len() {
        0 => Err(Error::NoSuchNetwork { name: key.to_string() }),
        1 => Ok(Found::User(Box::new(matches.into_iter().next().expect("one match")))),
        _ => Err(Error::Ambiguous { key: key.to_string(), names: matches.into_iter().map(|n| n.name).collect() }),
    }
}

/// Check a request and decide the network it makes (all but the clock is
/// an input: the random `id` also gives the 40 random bits of an IPv6 ULA
/// subnet): the pure half of `create`.
pub fn define(req: &CreateRequest, existing: &[Network], routes: &[HostRoute], id: NetworkId) -> Result<Network> {
    let name = req.name.clone();
    if !crate::model::name::valid_name(&name) {
        return Err(Error::InvalidName { name });
    }
    if RESERVED.contains(&name.as_str()) {
        return Err(Error::Reserved { name });
    }
    if existing.iter().any(|n| n.name == name) {
        return Err(Error::Exists { name });
    }
    let driver = match req.driver.as_str() {
        "bridge" => Driver::Bridge,
        other => return Err(Error::Driver { driver: other.to_string() }),
    };
    let options = options(&req.options)?;
    let mut ula = [0u8; 5];
    for (i, b) in ula.iter_mut().enumerate() {
        *b = u8::from_str_radix(&id.as_str()[2 * i..2 * i + 2], 16).unwrap_or(0);
    }
    let addressing = ipam::plan(&req.addressing, existing, routes, ula)?;
    Ok(Network {
        name,
        id,
        driver,
        ipv4: addressing.ipv4,
        ipv6: addressing.ipv6,
        internal: req.internal,
        labels: req.labels.clone(),
        options,
        created: Timestamp::now(),
    })
}

/// `-o KEY=VALUE`: only the MTU (podman's `mtu` or docker's
/// `com.docker.network.driver.mtu`), kept as given.
fn options(given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut out = BTreeMap::new();
    for text in given {
        let (k, v) = text.split_once('=').ok_or_else(|| Error::OptionSyntax { text: text.clone() })?;
        match k {
            "mtu" | "com.docker.network.driver.mtu" => {
                if !v.parse::<u32>().is_ok_and(|m| (68..=65535).contains(&m)) {
                    return Err(Error::Mtu { value: v.to_string() });
                }
            }
            _ => return Err(Error::UnknownOption { key: k.to_string() }),
        }
        out.insert(k.to_string(), v.to_string());
    }
    Ok(out)
}

/// Create a network from `req` (the host's routes passed in). Call with
/// the exclusive store lock held.
pub fn create(_held: &StoreLock, paths: &Paths, req: &CreateRequest, routes: &[HostRoute]) -> Result<Network> {
    let net = define(req, &list(paths)?, routes, NetworkId::random())?;
    let dir = root(paths).join(&net.name);
    let io = |path: &PathBuf| {
        let path = path.clone();
        move |source| Error::Io { path, source }
    };
    fs::create_dir_all(&dir).map_err(io(&dir))?;
    let path = file(paths, &net.name);
    let bytes = serde_json::to_vec_pretty(&net).expect("a network serializes");
    if let Err(e) = crate::atomic::write(&path, &bytes) {
        let _ = crate::rmtree::remove_tree(&dir);
        return Err(io(&path)(e));
    }
    Ok(net)
}

/// The containers that use `name`, from the caller's (container, network)
/// pairs.
pub fn users(users: &[(String, String)], name: &str) -> Vec<String> {
    users.iter().filter(|(_, n)| n == name).map(|(c, _)| c.clone()).collect()
}

/// Remove a network found by name or id, unless a container uses it.
/// Returns its name. Call with the exclusive store lock held.
pub fn remove(_held: &StoreLock, paths: &Paths, key: &str, all_users: &[(String, String)]) -> Result<String> {
    let net = match find(paths, key)? {
        Found::Builtin(b) => return Err(Error::Builtin { name: b.name.to_string() }),
        Found::User(n) => n,
    };
    let containers = users(all_users, &net.name);
    if !containers.is_empty() {
        return Err(Error::InUse { name: net.name, containers });
    }
    // The definition first: an interrupted removal leaves a directory that
    // is no longer a network.
    let path = file(paths, &net.name);
    fs::remove_file(&path).map_err(|source| Error::Io { path, source })?;
    let dir = root(paths).join(&net.name);
    // An idle holder may still wait for its next check: it goes now.
    if let Ok(Some(holder)) = super::holder::NetnsHolder::find(&dir) {
        if let Err(e) = holder.stop() {
            tracing::warn!(%e, "cannot stop the removed network's holder; it leaves by itself when idle");
        }
    }
    crate::rmtree::remove_tree(&dir).map_err(|source| Error::Io { path: dir, source })?;
    Ok(net.name)
}

/// Remove every network no container uses and `keep` does not keep;
/// returns their names. Call with the exclusive store lock held.
pub fn prune(held: &StoreLock, paths: &Paths, all_users: &[(String, String)], keep: impl Fn(&Network) -> bool) -> Result<Vec<String>> {
    let mut removed = Vec::new();
    for n in list(paths)? {
        if keep(&n) || !users(all_users, &n.name).is_empty() {
            continue;
        }
        removed.push(remove(held, paths, &n.name, all_users)?);
    }
    Ok(removed)
}

#[cfg(test)]
mod tests;
