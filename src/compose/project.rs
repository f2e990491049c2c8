//! The merged tree of all files to a checked [`Project`]: the top-level
//! keys checked, the name decided, every service and resource typed,
//! each service's environment resolved (its `env_file`s under its
//! `environment`, a bare `KEY` taken from the variables), the default
//! network added for services that name none, references to networks,
//! volumes, secrets and configs checked against their top-level
//! definitions, and the profiles applied (`graph`).

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::{Mapping, Value};

use super::discover::{self, DiscoverError, Setup};
use super::dotenv::{self, DotenvError};
use super::graph::{self, GraphError};
use super::interpolate::Vars;
use super::model::{MountType, Network, Project, Service};
use super::resources;
use super::schema::{self, check, SchemaError};
use super::service;

#[derive(Debug, thiserror::Error)]
pub enum ProjectError {
    #[error("service {service:?} refers to undefined {kind} {name:?}: define it under the top-level {kind}s")]
    Undefined { service: String, kind: &'static str, name: String },
    #[error("service {service:?} has neither image nor build: give it one")]
    NoImage { service: String },
    #[error("service {service:?} sets both network_mode and networks: keep one")]
    ModeAndNetworks { service: String },
    #[error("services.{service}.env_file: {source}")]
    EnvFile { service: String, source: DotenvError },
    #[error(transparent)]
    Schema(#[from] SchemaError),
    #[error(transparent)]
    Graph(#[from] GraphError),
    #[error(transparent)]
    Name(#[from] DiscoverError),
}

type Result<T> = std::result::Result<T, ProjectError>;

/// Build the project from the merged tree.
pub fn build(top: &Mapping, setup: &Setup, named: &[String]) -> Result<Project> {
    check(top, "", &schema::TOP)?;
    let name = match (&setup.name, top.get("name").filter(|v| !v.is_null())) {
        (Some(n), _) => n.clone(),
        (None, Some(n)) => discover::valid_name(&super::value::string(n, "name").map_err(SchemaError::from)?, "name:")?,
        (None, None) => discover::name_from_dir(&setup.working_dir)?,
    };
    let wd = setup.working_dir.as_path();
    let mut services = resources::section(top, "services", |_, v, p| service::service(v, p, wd))?;
    let mut networks = resources::section(top, "networks", |k, v, p| resources::network(k, v, p, &name))?;
    let volumes = resources::section(top, "volumes", |k, v, p| resources::volume(k, v, p, &name))?;
    let secrets = resources::section(top, "secrets", |k, v, p| resources::file_def(k, v, p, &name, false))?;
    let configs = resources::section(top, "configs", |k, v, p| resources::file_def(k, v, p, &name, true))?;
    for (sname, s) in services.iter_mut() {
        resolve_environment(sname, s, &setup.vars)?;
        if s.image.is_none() && s.build.is_none() {
            return Err(ProjectError::NoImage { service: sname.clone() });
        }
        if s.network_mode.is_some() && !s.networks.is_empty() {
            return Err(ProjectError::ModeAndNetworks { service: sname.clone() });
        }
        if s.network_mode.is_none() && s.networks.is_empty() {
            s.networks.insert("default".into(), None);
        }
    }
    let uses_default = services.values().any(|s| s.networks.contains_key("default"));
    if uses_default && !networks.contains_key("default") {
        networks.insert("default".into(), Network { name: format!("{name}_default"), ..Default::default() });
    }
    let (on, off) = graph::select(services, &setup.profiles, named)?;
    for (sname, s) in &on {
        references(sname, s, &networks, &volumes, &secrets, &configs)?;
    }
    Ok(Project {
        name,
        services: on,
        networks,
        volumes,
        secrets,
        configs,
        working_dir: setup.working_dir.clone(),
        files: setup.files.iter().map(|f| f.label()).collect(),
        disabled: off,
    })
}

/// The service's `env_file`s, then its `environment` over them; a name
/// without a value takes the variable's value, if it is set.
fn resolve_environment(sname: &str, s: &mut Service, vars: &Vars) -> Result<()> {
    let mut env: BTreeMap<String, Option<String>> = BTreeMap::new();
    for f in &s.env_file {
        let path = Path::new(&f.path);
        if !f.required && !path.exists() {
            continue;
        }
        let pairs = dotenv::read(path, vars).map_err(|source| ProjectError::EnvFile { service: sname.to_string(), source })?;
        env.extend(pairs.into_iter().map(|(k, v)| (k, Some(v))));
    }
    for (k, v) in std::mem::take(&mut s.environment) {
        let v = v.or_else(|| vars.get(&k).cloned());
        env.insert(k, v);
    }
    s.environment = env;
    Ok(())
}

fn references<N, V, S, C>(
    sname: &str,
    s: &Service,
    networks: &BTreeMap<String, N>,
    volumes: &BTreeMap<String, V>,
    secrets: &BTreeMap<String, S>,
    configs: &BTreeMap<String, C>,
) -> Result<()> {
    let undefined = |kind, name: &str| ProjectError::Undefined { service: sname.to_string(), kind, name: name.to_string() };
    if let Some(n) = s.networks.keys().find(|n| !networks.contains_key(*n)) {
        return Err(undefined("network", n));
    }
    for m in &s.volumes {
        if let (MountType::Volume, Some(src)) = (m.kind, &m.source) {
            if !volumes.contains_key(src) {
                return Err(undefined("volume", src));
            }
        }
    }
    if let Some(r) = s.secrets.iter().find(|r| !secrets.contains_key(&r.source)) {
        return Err(undefined("secret", &r.source));
    }
    if let Some(r) = s.configs.iter().find(|r| !configs.contains_key(&r.source)) {
        return Err(undefined("config", &r.source));
    }
    Ok(())
}

/// Whether the merged tree still has the obsolete `version` key.
pub fn has_version(top: &Mapping) -> bool {
    top.get("version").is_some_and(|v| !matches!(v, Value::Null))
}
