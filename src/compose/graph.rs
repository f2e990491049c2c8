//! Which services are on, and in which order they start.
//!
//! Profiles as the compose specification's "Profiles" section says: a
//! service without `profiles` is always on; one with profiles is on when
//! one of them is active (`--profile`, `COMPOSE_PROFILES`, `*` for all)
//! or when it is named on the command line, which also activates its
//! profiles. A service that is on and requires (`required: true`, the
//! default) a service that is off is refused, naming the profile that
//! would turn the dependency on; a dependency with `required: false` is
//! dropped. `depends_on` and `network_mode: service:NAME` must name
//! services of the project and must not form a cycle, which is refused
//! naming the cycle. `start_order` is an order in which every service
//! comes after its dependencies. Pure functions over the typed model.

use std::collections::{BTreeMap, BTreeSet};

use super::model::Service;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum GraphError {
    #[error("service {service:?} depends on undefined service {dependency:?}")]
    Undefined { service: String, dependency: String },
    #[error("service {service:?} depends on {dependency:?}, which is off: activate its profile with --profile {profile}")]
    Disabled { service: String, dependency: String, profile: String },
    #[error("depends_on makes a cycle: {chain}")]
    Cycle { chain: String },
    #[error("no such service: {name}")]
    NoSuchService { name: String },
}

/// The services a service needs started first: its `depends_on` and the
/// service whose network it shares.
pub fn dependencies(s: &Service) -> Vec<(String, bool)> {
    let mut out: Vec<(String, bool)> = s.depends_on.iter().map(|(n, d)| (n.clone(), d.required)).collect();
    if let Some(other) = s.network_mode.as_deref().and_then(|m| m.strip_prefix("service:")) {
        if !out.iter().any(|(n, _)| n == other) {
            out.push((other.to_string(), true));
        }
    }
    out
}

/// The services that are on and those that are off.
pub type OnOff = (BTreeMap<String, Service>, BTreeMap<String, Service>);

/// Split the services into (on, off) by the active profiles and the
/// services named explicitly; check what the services that are on need.
pub fn select(mut services: BTreeMap<String, Service>, profiles: &[String], named: &[String]) -> Result<OnOff, GraphError> {
    for n in named {
        if !services.contains_key(n) {
            return Err(GraphError::NoSuchService { name: n.clone() });
        }
    }
    let mut active: BTreeSet<String> = profiles.iter().filter(|p| !p.is_empty()).cloned().collect();
    for n in named {
        active.extend(services[n].profiles.iter().cloned());
    }
    let on = |s: &Service| s.profiles.is_empty() || active.contains("*") || s.profiles.iter().any(|p| active.contains(p));
    let mut off = BTreeMap::new();
    for name in services.keys().cloned().collect::<Vec<_>>() {
        if !on(&services[&name]) && !named.contains(&name) {
            off.insert(name.clone(), services.remove(&name).expect("listed"));
        }
    }
    for (name, s) in services.iter_mut() {
        for (dep, required) in dependencies(s) {
            if off.contains_key(&dep) {
                if required {
                    let profile = off[&dep].profiles.first().cloned().unwrap_or_default();
                    return Err(GraphError::Disabled { service: name.clone(), dependency: dep, profile });
                }
                s.depends_on.remove(&dep);
            }
        }
    }
    check(&services)?;
    Ok((services, off))
}

/// Every dependency names a service and there is no cycle.
pub fn check(services: &BTreeMap<String, Service>) -> Result<(), GraphError> {
    for (name, s) in services {
        for (dep, required) in dependencies(s) {
            if required && !services.contains_key(&dep) {
                return Err(GraphError::Undefined { service: name.clone(), dependency: dep });
            }
        }
    }
    start_order(services).map(|_| ())
}

/// The services in an order where each comes after what it depends on
/// (names sorted among equals); a cycle is an error naming it.
pub fn start_order(services: &BTreeMap<String, Service>) -> Result<Vec<String>, GraphError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        Active,
        Done,
    }
    fn visit(
        name: &str,
        services: &BTreeMap<String, Service>,
        marks: &mut BTreeMap<String, Mark>,
        stack: &mut Vec<String>,
        out: &mut Vec<String>,
    ) -> Result<(), GraphError> {
        match marks.get(name).copied().unwrap_or(Mark::New) {
            Mark::Done => return Ok(()),
            Mark::Active => {
                let from = stack.iter().position(|s| s == name).unwrap_or(0);
                let mut chain: Vec<&str> = stack[from..].iter().map(String::as_str).collect();
                chain.push(name);
                return Err(GraphError::Cycle { chain: chain.join(" -> ") });
            }
            Mark::New => {}
        }
        marks.insert(name.to_string(), Mark::Active);
        stack.push(name.to_string());
        if let Some(s) = services.get(name) {
            for (dep, _) in dependencies(s) {
                if services.contains_key(&dep) {
                    visit(&dep, services, marks, stack, out)?;
                }
            }
        }
        stack.pop();
        marks.insert(name.to_string(), Mark::Done);
        out.push(name.to_string());
        Ok(())
    }
    let mut marks = BTreeMap::new();
    let mut out = Vec::new();
    for name in services.keys() {
        visit(name, services, &mut marks, &mut Vec::new(), &mut out)?;
    }
    Ok(out)
}
