//! Registries: pull, push and login over the OCI distribution spec.
//!
//! `config` decides where a name goes (short names, mirrors, insecure
//! registries, CA files) and `creds` where credentials live; both are
//! pure but for reading files. `challenge` parses `WWW-Authenticate`;
//! `client` is the HTTP to one endpoint with the auth dance and retries;
//! `platform` picks a manifest from an index. `pull` and `push` are the
//! two transfers; they hand staged layers to `image::ingest`, which owns
//! every change to the store. `progress` draws what the user sees.

pub mod challenge;
pub mod client;
pub mod config;
pub mod creds;
mod error;
pub mod platform;
pub mod progress;
pub mod pull;
pub mod push;

pub use config::{Conf, Options};
pub use creds::{AuthFiles, Credentials};
pub use error::{Error, Result};

/// `burrow login`: check the credentials against the registry, then store
/// them. Nothing is stored when the registry refuses them.
pub fn login(conf: &Conf, registry: &str, creds: Credentials, opts: &Options, files: &AuthFiles) -> Result<()> {
    let registry = normalize_registry(registry);
    let endpoint = conf.push_endpoint(&registry, opts);
    let client = client::Client::connect(&registry, &endpoint, Some(creds.clone()), opts)?;
    client.verify_login()?;
    files.store(&registry, &creds)
}

/// `docker.io`, `https://index.docker.io/v1/`, `HOST/path` → the host
/// part as auth files key it.
pub fn normalize_registry(s: &str) -> String {
    let s = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://")).unwrap_or(s);
    let host = s.split('/').next().unwrap_or(s);
    match host {
        "index.docker.io" | "registry-1.docker.io" | "" => "docker.io".to_string(),
        h => h.to_string(),
    }
}
