//! Which registry to ask, how: short names, mirrors, insecure registries
//! and CA files.
//!
//! `$XDG_CONFIG_HOME/burrow/registries.conf` (or `$BURROW_REGISTRIES_CONF`)
//! is TOML in the spirit of podman's registries.conf, reduced to what
//! burrow uses:
//!
//! ```toml
//! default-registry = "registry.example:5000"   # short names go here, not docker.io
//! [[registry]]
//! location = "127.0.0.1:5000"
//! insecure = true                              # plain HTTP or unverified TLS allowed
//! [[registry.mirror]]
//! location = "mirror.example"
//! ```
//!
//! Registries on the loopback interface (`localhost`, 127.0.0.0/8) may
//! speak plain HTTP without configuration, as in docker (but one that
//! speaks TLS must present a trusted certificate). Unknown keys are
//! refused, so a typo is an error rather than a setting
//! silently ignored. Pulls try a registry's mirrors in order, then the
//! registry itself; pushes go to the registry only. CA files are every
//! `*.crt` in `--cert-dir`, or else in `certs.d/HOST[:PORT]/` under
//! `$XDG_CONFIG_HOME/containers`, `/etc/containers` and `/etc/docker`, as
//! podman and docker read them. Everything here is pure but `load` and
//! `ca_files`.

use std::fs;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use super::error::{Error, Result};
use crate::image::Reference;

/// docker.io's API host.
pub const HUB_API: &str = "registry-1.docker.io";

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "kebab-case")]
pub struct Conf {
    #[serde(default)]
    pub default_registry: Option<String>,
    #[serde(default)]
    pub registry: Vec<RegistryConf>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RegistryConf {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
    #[serde(default)]
    pub mirror: Vec<MirrorConf>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct MirrorConf {
    pub location: String,
    #[serde(default)]
    pub insecure: bool,
}

/// One place to send requests for a repository.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// `host[:port]` as in URLs and auth files.
    pub host: String,
    /// Plain HTTP and unverified TLS allowed.
    pub insecure: bool,
    /// Plain HTTP allowed when the host does not speak TLS at all (loopback
    /// registries); a host that does speak TLS is still verified.
    pub plain_http: bool,
    /// A mirror rather than the registry itself.
    pub mirror: bool,
}

/// registries.conf is not valid TOML or not burrow's keys; the text is
/// toml's own (it quotes the line and names the key).
#[derive(Debug, thiserror::Error)]
#[error("{}", .toml.to_string().trim())]
pub struct ParseError {
    toml: toml::de::Error,
}

/// Per-command choices from flags.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// `--tls-verify=false`.
    pub tls_verify_off: bool,
    /// `--cert-dir`.
    pub cert_dir: Option<PathBuf>,
}

impl Conf {
    /// Read the user's file; a missing file is an empty configuration.
    pub fn load() -> Result<Conf> {
        let Some(path) = conf_path() else { return Ok(Conf::default()) };
        match fs::read_to_string(&path) {
            Ok(s) => Conf::parse(&s).map_err(|source| Error::Config { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Conf::default()),
            Err(source) => Err(Error::ConfigRead { path, source }),
        }
    }

    pub fn parse(s: &str) -> std::result::Result<Conf, ParseError> {
        toml::from_str(s).map_err(|toml| ParseError { toml })
    }

    /// Parse what the user typed, sending short names to the default
    /// registry when one is configured (docker.io otherwise).
    pub fn resolve(&self, input: &str) -> Result<Reference> {
        let explicit_domain = input.split_once('/').is_some_and(|(first, _)| first.contains(['.', ':']) || first == "localhost");
        let full = match &self.default_registry {
            Some(d) if !explicit_domain => format!("{d}/{input}"),
            _ => input.to_string(),
        };
        Ok(Reference::parse(&full)?)
    }

    fn entry(&self, domain: &str) -> Option<&RegistryConf> {
        self.registry.iter().find(|r| r.location.trim_end_matches('/') == domain)
    }

    /// Where to pull `domain`'s images from, in order.
    pub fn pull_endpoints(&self, domain: &str, opts: &Options) -> Vec<Endpoint> {
        let mut out = Vec::new();
        let entry = self.entry(domain);
        for m in entry.map(|e| e.mirror.as_slice()).unwrap_or_default() {
            let insecure = m.insecure || opts.tls_verify_off;
            let plain_http = insecure || is_loopback(&m.location);
            out.push(Endpoint { host: m.location.clone(), insecure, plain_http, mirror: true });
        }
        out.push(self.push_endpoint(domain, opts));
        out
    }

    /// Where to push (and log in).
    pub fn push_endpoint(&self, domain: &str, opts: &Options) -> Endpoint {
        let insecure = self.entry(domain).is_some_and(|e| e.insecure) || opts.tls_verify_off;
        let plain_http = insecure || is_loopback(domain);
        let host = if domain == "docker.io" { HUB_API.to_string() } else { domain.to_string() };
        Endpoint { host, insecure, plain_http, mirror: false }
    }
}

/// `localhost` and 127.0.0.0/8, with or without a port: docker lets
/// these speak plain HTTP without being configured insecure, since the
/// traffic never leaves the machine.
pub fn is_loopback(domain: &str) -> bool {
    let host = match domain.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => domain,
    };
    host == "localhost" || host.parse::<std::net::Ipv4Addr>().is_ok_and(|ip| ip.is_loopback())
}

fn conf_path() -> Option<PathBuf> {
    let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    env("BURROW_REGISTRIES_CONF")
        .or_else(|| env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config"))).map(|c| c.join("burrow/registries.conf")))
}

/// The CA certificate files to trust for `host` (PEM, `*.crt`).
pub fn ca_files(host: &str, opts: &Options) -> Vec<PathBuf> {
    let dirs: Vec<PathBuf> = match &opts.cert_dir {
        Some(d) => vec![d.clone()],
        None => {
            let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
            let config = env("XDG_CONFIG_HOME").or_else(|| env("HOME").map(|h| h.join(".config")));
            let mut v = Vec::new();
            if let Some(c) = config {
                v.push(c.join("containers/certs.d").join(host));
            }
            v.push(Path::new("/etc/containers/certs.d").join(host));
            v.push(Path::new("/etc/docker/certs.d").join(host));
            v
        }
    };
    let mut out = Vec::new();
    for d in dirs {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> = rd.flatten().map(|e| e.path()).filter(|p| p.extension().is_some_and(|x| x == "crt")).collect();
        files.sort();
        out.extend(files);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const CONF: &str = r#"
default-registry = "reg.example:5000"
[[registry]]
location = "127.0.0.1:5000"
insecure = true
[[registry.mirror]]
location = "mirror.example"
"#;

    #[test]
    fn short_names_follow_the_default_registry() {
        let c = Conf::parse(CONF).unwrap();
        assert_eq!(c.resolve("busybox").unwrap().to_string(), "reg.example:5000/busybox:latest");
        assert_eq!(c.resolve("team/app:1").unwrap().to_string(), "reg.example:5000/team/app:1");
        assert_eq!(c.resolve("quay.io/x/y").unwrap().to_string(), "quay.io/x/y:latest");
        assert_eq!(Conf::default().resolve("busybox").unwrap().to_string(), "docker.io/library/busybox:latest");
    }

    #[test]
    fn mirrors_first_then_the_registry() {
        let c = Conf::parse(CONF).unwrap();
        let e = c.pull_endpoints("127.0.0.1:5000", &Options::default());
        assert_eq!(e.len(), 2);
        assert_eq!((e[0].host.as_str(), e[0].mirror, e[0].insecure), ("mirror.example", true, false));
        assert_eq!((e[1].host.as_str(), e[1].mirror, e[1].insecure), ("127.0.0.1:5000", false, true));
        let hub = c.push_endpoint("docker.io", &Options::default());
        assert_eq!((hub.host.as_str(), hub.insecure), (HUB_API, false));
        let off = Options { tls_verify_off: true, cert_dir: None };
        assert!(c.push_endpoint("quay.io", &off).insecure);
        let lo = c.push_endpoint("127.0.0.5:5000", &Options::default());
        assert!(lo.plain_http && !lo.insecure, "loopback: plain HTTP yes, unverified TLS no");
        assert!(c.push_endpoint("localhost", &Options::default()).plain_http);
        assert!(!c.push_endpoint("127.0.0.1.example:5000", &Options::default()).plain_http);
    }

    #[test]
    fn typos_are_errors() {
        let e = Conf::parse("[[registry]]\nlocation = \"x\"\ninsecur = true\n").unwrap_err().to_string();
        assert!(e.contains("unknown field `insecur`"), "{e}");
        assert_eq!(e, e.trim(), "no trailing newline from toml");
    }
}
