//! Compose files: `compose.yaml` and friends in, a checked [`Project`] out.
//!
//! Theory of operation. Loading is a row of passes, each a function with
//! its own tests, as compose-go's loader keeps them: `discover` decides
//! the files, the project directory, the variables (`.env` under the
//! process environment) and the profiles; for each file `yaml` parses the
//! text (anchors and merge keys resolved, syntax errors with line and
//! column), `interpolate` substitutes variables in its values,
//! `canonical` rewrites short syntaxes into long ones and makes host paths
//! absolute, and `extends` builds services on the services they extend;
//! `merge` then folds the files together by the specification's merge
//! rules. `project` checks and types the merged tree (`schema` says which
//! keys exist and which burrow implements; `service` and `resources` read
//! them into `model`) and `graph` applies profiles and checks
//! `depends_on`. The passes before `project` work on the YAML tree
//! (serde_norway's `Value`); from `project` on everything is typed, and
//! the executor (`compose up` and the other verbs) reads only the model.
//!
//! The reference is the compose specification (compose-spec/compose-spec)
//! for the file and docker compose v2 for behaviour. Nothing here starts
//! a container or touches burrow's store.

pub mod apply;
mod canonical;
pub mod discover;
pub mod dotenv;
mod extends;
pub mod graph;
pub mod interpolate;
mod merge;
pub mod model;
mod mounts;
pub mod plan;
mod ports;
mod project;
mod resources;
mod schema;
mod service;
pub mod state;
mod value;
mod words;
mod yaml;

#[cfg(test)]
mod tests;

use std::path::Path;

use serde_norway::{Mapping, Value};

pub use discover::{Options, Source};
pub use model::Project;

#[derive(Debug, thiserror::Error)]
pub enum ComposeError {
    #[error(transparent)]
    Discover(#[from] discover::DiscoverError),
    #[error(transparent)]
    Yaml(#[from] yaml::YamlError),
    #[error("{file}: {source}")]
    Interpolate { file: String, source: interpolate::InterpolateError },
    #[error("{file}: {source}")]
    Shape { file: String, source: value::ShapeError },
    #[error(transparent)]
    Merge(#[from] merge::MergeError),
    #[error(transparent)]
    Extends(#[from] extends::ExtendsError),
    #[error(transparent)]
    Project(#[from] project::ProjectError),
}

/// A loaded project and what docker compose would warn about.
#[derive(Debug)]
pub struct Loaded {
    pub project: Project,
    pub warnings: Vec<String>,
}

/// Load the project the options describe; `named` are the services the
/// command line names (they are on whatever their profiles).
pub fn load(options: &Options, named: &[String]) -> Result<Loaded, ComposeError> {
    let setup = discover::setup(options)?;
    let mut unset = Vec::new();
    let mut merged = Mapping::new();
    for source in &setup.files {
        let text = discover::read(source)?;
        let label = source.label();
        let mut doc = file(&text, &label, &setup.working_dir, &setup.vars, &mut unset)?;
        let own_path = match source {
            Source::File(p) => p.clone(),
            Source::Stdin => setup.working_dir.join("-"),
        };
        let mut load_other = |p: &Path| -> Result<Mapping, ComposeError> {
            let text = discover::read(&Source::File(p.to_path_buf()))?;
            let base = p.parent().map_or_else(|| setup.working_dir.clone(), Path::to_path_buf);
            file(&text, &p.display().to_string(), &base, &setup.vars, &mut unset)
        };
        extends::resolve(&mut doc, &own_path, &mut load_other)?;
        merge::file(&mut merged, doc)?;
    }
    let mut warnings: Vec<String> =
        unset.iter().map(|v| format!("The \"{v}\" variable is not set. Defaulting to a blank string.")).collect();
    if project::has_version(&merged) {
        warnings.push("the attribute `version` is obsolete, it will be ignored, please remove it to avoid potential confusion".into());
    }
    let project = project::build(&merged, &setup, named)?;
    Ok(Loaded { project, warnings })
}

/// One file: parsed, interpolated and canonical.
fn file(text: &str, label: &str, base: &Path, vars: &interpolate::Vars, unset: &mut Vec<String>) -> Result<Mapping, ComposeError> {
    let mut doc = yaml::parse(text, label)?;
    interpolate::interpolate_tree(&mut doc, "", vars, unset)
        .map_err(|source| ComposeError::Interpolate { file: label.to_string(), source })?;
    canonical::file(&mut doc, base).map_err(|source| ComposeError::Shape { file: label.to_string(), source })?;
    match doc {
        Value::Mapping(m) => Ok(m),
        _ => Ok(Mapping::new()),
    }
}

/// Every profile named by a service, on or off, sorted.
pub fn all_profiles(p: &Project) -> Vec<String> {
    let mut out: Vec<String> = p.services.values().chain(p.disabled.values()).flat_map(|s| s.profiles.iter().cloned()).collect();
    out.sort();
    out.dedup();
    out
}
