//! The error type of registry commands. Every variant names the registry
//! or image it is about and, where the user can do something, says what.

use std::path::PathBuf;

use crate::image::Digest;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach registry {registry}: {detail}")]
    Unreachable { registry: String, detail: String },
    #[error("registry {registry} answers plain HTTP, not HTTPS: if you trust this network, use --tls-verify=false or mark it insecure in registries.conf")]
    PlainHttp { registry: String },
    #[error("TLS with registry {registry} failed: {detail}; put its CA certificate in ~/.config/containers/certs.d/{registry}/ca.crt or pass --cert-dir (or --tls-verify=false on a network you trust)")]
    Tls { registry: String, detail: String },
    #[error("401 unauthorized: {what} on registry {registry} requires authentication{hint}")]
    Unauthorized { registry: String, what: String, hint: String },
    #[error("401 unauthorized: wrong username or password for registry {registry}")]
    BadCredentials { registry: String },
    #[error("403 denied: registry {registry} refuses {what}: the credentials lack permission")]
    Denied { registry: String, what: String },
    #[error("manifest unknown: {reference} does not exist in registry {registry} (check the name and tag)")]
    ManifestUnknown { registry: String, reference: String },
    #[error("registry {registry} answered {status} to {what}{body}")]
    Status { registry: String, what: String, status: u16, body: String },
    #[error("registry {registry} sent a {what} that burrow cannot use: {detail}")]
    BadResponse { registry: String, what: String, detail: String },
    #[error("{reference} has no image for platform {wanted}; available: {available}")]
    NoPlatform { reference: String, wanted: String, available: String },
    #[error("invalid --platform {value:?}: use OS/ARCH[/VARIANT], for example linux/arm64")]
    BadPlatform { value: String },
    #[error("pulling {image}: layer {layer}: {source}")]
    Layer { image: String, layer: Digest, source: Box<crate::image::Error> },
    #[error("pulling {image}: layer {layer}: {detail}")]
    Download { image: String, layer: Digest, detail: String },
    #[error("auth file {path}: {detail}")]
    AuthFile { path: PathBuf, detail: String },
    #[error("registries configuration {path}: {source}")]
    Config { path: PathBuf, source: super::config::ParseError },
    #[error("registries configuration {path}: {source}")]
    ConfigRead { path: PathBuf, source: std::io::Error },
    #[error("cannot {op} {path}: {source}")]
    Io { op: &'static str, path: PathBuf, source: std::io::Error },
    #[error(transparent)]
    Image(#[from] crate::image::Error),
}

impl From<crate::image::ReferenceError> for Error {
    fn from(e: crate::image::ReferenceError) -> Error {
        Error::Image(e.into())
    }
}

pub type Result<T> = std::result::Result<T, Error>;
