//! Where a project comes from, as docker compose decides it.
//!
//! Files: the `-f` files in order (`-` is stdin); else `COMPOSE_FILE`, a
//! list split on `COMPOSE_PATH_SEPARATOR` (default `:`); else the first of
//! `compose.yaml`, `compose.yml`, `docker-compose.yml`,
//! `docker-compose.yaml` found in the project directory (`--project-
//! directory`, else the current one) or the nearest parent holding one,
//! followed by the first of the `.override` names in that same directory.
//! The project directory is `--project-directory`, else the first file's
//! directory. The variables are the process environment over the `.env`
//! file of the project directory (or the `--env-file` files, in order);
//! `COMPOSE_*` settings in the `.env` of the directory compose starts from
//! count as if exported. Profiles are `--profile`, else `COMPOSE_PROFILES`
//! (comma separated). The project name is `-p`, else
//! `COMPOSE_PROJECT_NAME`, else the files' `name:`, else the project
//! directory's base name made valid (lowercase, `[a-z0-9_-]`, starting
//! with a letter or digit).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::dotenv::{self, DotenvError};
use super::interpolate::Vars;

pub const FILE_NAMES: &[&str] = &["compose.yaml", "compose.yml", "docker-compose.yml", "docker-compose.yaml"];
pub const OVERRIDE_NAMES: &[&str] =
    &["compose.override.yml", "compose.override.yaml", "docker-compose.override.yml", "docker-compose.override.yaml"];

#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error("no configuration file provided: none of {} found in {dir} or its parents; name one with -f", FILE_NAMES.join(", "))]
    NotFound { dir: PathBuf },
    #[error("cannot read the compose file {path}: {source}")]
    Read { path: PathBuf, source: std::io::Error },
    #[error("invalid project name {name:?} ({from}): use only lowercase letters, digits, '-' and '_', starting with a letter or digit")]
    InvalidName { name: String, from: &'static str },
    #[error("the project directory {dir} gives no usable project name: name the project with -p")]
    EmptyName { dir: PathBuf },
    #[error("invalid COMPOSE_DISABLE_ENV_FILE value {value:?}: use true or false")]
    DisableEnvFile { value: String },
    #[error(transparent)]
    Dotenv(#[from] DotenvError),
}

/// What the command line and the environment say.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `-f`, in order; `-` is stdin.
    pub files: Vec<String>,
    pub project_name: Option<String>,
    pub project_directory: Option<PathBuf>,
    pub env_files: Vec<PathBuf>,
    pub profiles: Vec<String>,
    /// The directory compose runs in.
    pub cwd: PathBuf,
    /// The process environment.
    pub environ: BTreeMap<String, String>,
}

/// One compose file to read.
#[derive(Debug, Clone, PartialEq)]
pub enum Source {
    File(PathBuf),
    Stdin,
}

impl Source {
    pub fn label(&self) -> String {
        match self {
            Source::File(p) => p.display().to_string(),
            Source::Stdin => "-".into(),
        }
    }
}

/// The outcome: files, directory, variables, profiles and the name if
/// the command line or the environment fixed it.
#[derive(Debug, Clone)]
pub struct Setup {
    pub files: Vec<Source>,
    pub working_dir: PathBuf,
    pub vars: Vars,
    pub profiles: Vec<String>,
    pub name: Option<String>,
}

pub fn setup(o: &Options) -> Result<Setup, DiscoverError> {
    let abs = |p: &Path| super::mounts::clean(&o.cwd.join(p));
    let project_dir = o.project_directory.as_deref().map(abs);
    // COMPOSE_* settings from the .env compose starts from.
    let mut environ = o.environ.clone();
    let start = project_dir.clone().unwrap_or_else(|| o.cwd.clone());
    for (k, v) in env_file_vars(&o.env_files.iter().map(|p| abs(p)).collect::<Vec<_>>(), &start, &o.environ)? {
        if k.starts_with("COMPOSE_") {
            environ.entry(k).or_insert(v);
        }
    }
    let files = files(o, &environ, &start)?;
    let working_dir = project_dir
        .or_else(|| {
            files.iter().find_map(|f| match f {
                Source::File(p) => p.parent().map(Path::to_path_buf),
                Source::Stdin => None,
            })
        })
        .unwrap_or_else(|| o.cwd.clone());
    let mut vars = environ.clone();
    for (k, v) in env_file_vars(&o.env_files.iter().map(|p| abs(p)).collect::<Vec<_>>(), &working_dir, &environ)? {
        vars.entry(k).or_insert(v);
    }
    let profiles = if o.profiles.is_empty() {
        vars.get("COMPOSE_PROFILES")
            .map(|p| p.split(',').map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect())
            .unwrap_or_default()
    } else {
        o.profiles.clone()
    };
    let name = match (&o.project_name, vars.get("COMPOSE_PROJECT_NAME").filter(|n| !n.is_empty())) {
        (Some(n), _) => Some(valid_name(n, "-p")?),
        (None, Some(n)) => Some(valid_name(n, "COMPOSE_PROJECT_NAME")?),
        (None, None) => None,
    };
    Ok(Setup { files, working_dir, vars, profiles, name })
}

/// The variables of the `--env-file` files, else of `dir/.env` if there
/// is one (unless `COMPOSE_DISABLE_ENV_FILE` is true).
fn env_file_vars(explicit: &[PathBuf], dir: &Path, environ: &Vars) -> Result<Vec<(String, String)>, DiscoverError> {
    let mut out = Vec::new();
    let mut known = environ.clone();
    let files: Vec<PathBuf> = if !explicit.is_empty() {
        explicit.to_vec()
    } else {
        if let Some(v) = environ.get("COMPOSE_DISABLE_ENV_FILE") {
            match v.to_ascii_lowercase().as_str() {
                "1" | "true" => return Ok(out),
                "0" | "false" | "" => {}
                _ => return Err(DiscoverError::DisableEnvFile { value: v.clone() }),
            }
        }
        let dot = dir.join(".env");
        if dot.is_file() {
            vec![dot]
        } else {
            Vec::new()
        }
    };
    for f in files {
        for (k, v) in dotenv::read(&f, &known)? {
            known.insert(k.clone(), v.clone());
            out.push((k, v));
        }
    }
    Ok(out)
}

fn files(o: &Options, environ: &Vars, start: &Path) -> Result<Vec<Source>, DiscoverError> {
    let given: Vec<String> = if !o.files.is_empty() {
        o.files.clone()
    } else if let Some(list) = environ.get("COMPOSE_FILE").filter(|l| !l.is_empty()) {
        let sep = environ.get("COMPOSE_PATH_SEPARATOR").filter(|s| !s.is_empty()).map_or(":", String::as_str);
        list.split(sep).filter(|s| !s.is_empty()).map(String::from).collect()
    } else {
        return discover(start);
    };
    Ok(given.into_iter().map(|f| if f == "-" { Source::Stdin } else { Source::File(super::mounts::clean(&o.cwd.join(f))) }).collect())
}

/// docker compose's search: the first directory from `start` upwards
/// that holds one of the file names.
pub fn discover(start: &Path) -> Result<Vec<Source>, DiscoverError> {
    let first = |dir: &Path, names: &[&str]| names.iter().map(|n| dir.join(n)).find(|p| p.is_file());
    let mut dir = Some(start);
    while let Some(d) = dir {
        if let Some(main) = first(d, FILE_NAMES) {
            let mut out = vec![Source::File(main)];
            out.extend(first(d, OVERRIDE_NAMES).map(Source::File));
            return Ok(out);
        }
        dir = d.parent();
    }
    Err(DiscoverError::NotFound { dir: start.to_path_buf() })
}

/// A name as given (`-p`, the environment, `name:`) must already be valid.
pub fn valid_name(name: &str, from: &'static str) -> Result<String, DiscoverError> {
    if normalize_name(name) == name && !name.is_empty() {
        Ok(name.to_string())
    } else {
        Err(DiscoverError::InvalidName { name: name.to_string(), from })
    }
}

/// A directory's base name made a project name: lowercase, only
/// `[a-z0-9_-]`, no leading `_` or `-`.
pub fn normalize_name(raw: &str) -> String {
    let kept: String =
        raw.to_lowercase().chars().filter(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_' || *c == '-').collect();
    kept.trim_start_matches(['_', '-']).to_string()
}

/// The name from the project directory.
pub fn name_from_dir(dir: &Path) -> Result<String, DiscoverError> {
    let base = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let name = normalize_name(&base);
    if name.is_empty() {
        return Err(DiscoverError::EmptyName { dir: dir.to_path_buf() });
    }
    Ok(name)
}

/// Read a compose file's text.
pub fn read(source: &Source) -> Result<String, DiscoverError> {
    match source {
        Source::File(p) => std::fs::read_to_string(p).map_err(|e| DiscoverError::Read { path: p.clone(), source: e }),
        Source::Stdin => {
            use std::io::Read;
            let mut s = String::new();
            std::io::stdin().read_to_string(&mut s).map_err(|e| DiscoverError::Read { path: "-".into(), source: e })?;
            Ok(s)
        }
    }
}
