//! `extends`: a service built on another, in the same file or (with
//! `file:`) in another compose file, as the compose specification's
//! `extends` section describes. The base service is resolved first (it
//! may extend another in turn), then the extending service's own
//! attributes are merged over it with the merge rules of `merge`. A base
//! read from another file has its relative paths taken against that
//! file's directory (the loader given here canonicalises it so). A chain
//! that comes back to itself is refused, naming the chain.

use std::path::{Path, PathBuf};

use serde_norway::{Mapping, Value};

use super::merge::{self, MergeError};
use super::value::{join, scalar_text};

#[derive(Debug, thiserror::Error)]
pub enum ExtendsError {
    #[error("services.{service}.extends: no service {base:?} in {file}")]
    NoService { service: String, base: String, file: PathBuf },
    #[error("services.{service}.extends needs service: the name of the service to extend")]
    NoName { service: String },
    #[error("extends makes a cycle: {chain}")]
    Cycle { chain: String },
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Schema(#[from] super::schema::SchemaError),
}

/// Resolve every `extends` of a file's services in place. `load` reads
/// another compose file (parsed, interpolated and canonical) by path.
pub fn resolve<E: From<ExtendsError>>(doc: &mut Mapping, file: &Path, load: &mut dyn FnMut(&Path) -> Result<Mapping, E>) -> Result<(), E> {
    let Some(Value::Mapping(services)) = doc.get("services").cloned() else { return Ok(()) };
    let mut resolved = Mapping::new();
    for (k, _) in services.iter() {
        let name = scalar_text(k).unwrap_or_default();
        let mut chain = Vec::new();
        let svc = service(&name, file, &services, load, &mut chain)?;
        resolved.insert(k.clone(), Value::Mapping(svc));
    }
    doc.insert(Value::String("services".into()), Value::Mapping(resolved));
    Ok(())
}

fn service<E: From<ExtendsError>>(
    name: &str,
    file: &Path,
    services: &Mapping,
    load: &mut dyn FnMut(&Path) -> Result<Mapping, E>,
    chain: &mut Vec<(PathBuf, String)>,
) -> Result<Mapping, E> {
    let Some(Value::Mapping(svc)) = services.get(name) else {
        // Not a mapping: the model pass reports its shape.
        return Ok(services.get(name).and_then(Value::as_mapping).cloned().unwrap_or_default());
    };
    let Some(ext) = svc.get("extends") else { return Ok(svc.clone()) };
    let ext_path = format!("services.{name}.extends");
    let ext = super::value::mapping(ext, &ext_path).map_err(|e| ExtendsError::Schema(e.into()))?.clone();
    super::schema::check(&ext, &ext_path, &super::schema::EXTENDS).map_err(ExtendsError::from)?;
    let base_name = ext.get("service").and_then(scalar_text).ok_or_else(|| ExtendsError::NoName { service: name.to_string() })?;
    let base_file = ext.get("file").and_then(scalar_text).map(PathBuf::from).unwrap_or_else(|| file.to_path_buf());
    chain.push((file.to_path_buf(), name.to_string()));
    if chain.iter().any(|(f, s)| *f == base_file && *s == base_name) {
        let mut names: Vec<&str> = chain.iter().map(|(_, s)| s.as_str()).collect();
        names.push(&base_name);
        return Err(ExtendsError::Cycle { chain: names.join(" -> ") }.into());
    }
    let base = if base_file == file {
        if !services.contains_key(base_name.as_str()) {
            return Err(ExtendsError::NoService { service: name.to_string(), base: base_name, file: file.to_path_buf() }.into());
        }
        service(&base_name, file, services, load, chain)?
    } else {
        let other = load(&base_file)?;
        let other_services = other.get("services").and_then(Value::as_mapping).cloned().unwrap_or_default();
        if !other_services.contains_key(base_name.as_str()) {
            return Err(ExtendsError::NoService { service: name.to_string(), base: base_name, file: base_file }.into());
        }
        service(&base_name, &base_file, &other_services, load, chain)?
    };
    chain.pop();
    let mut merged = base;
    merged.remove("extends");
    let mut own = svc.clone();
    own.remove("extends");
    merge::service(&mut merged, own, &join("services", name)).map_err(ExtendsError::from)?;
    Ok(merged)
}
