//! Image references, parsed and normalized the way docker does.
//!
//! `NAME[:TAG][@DIGEST]` where NAME is `[DOMAIN/]PATH`. The first component
//! is a registry domain only when it contains `.` or `:` or is `localhost`;
//! otherwise the domain is `docker.io`, and a one-component path on
//! docker.io gains `library/` (`busybox` → `docker.io/library/busybox`). A
//! reference without tag or digest means `:latest`. The grammar follows
//! distribution's `reference` package (`reference/regexp.go`); IPv6 domains
//! are not supported. This module only parses; it never looks anything up.

use std::fmt;
use std::str::FromStr;

use super::digest::Digest;

const DEFAULT_DOMAIN: &str = "docker.io";
const LEGACY_DOMAIN: &str = "index.docker.io";
const OFFICIAL_PREFIX: &str = "library/";
const MAX_NAME: usize = 255;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReferenceError {
    #[error("invalid reference format: empty image name")]
    Empty,
    #[error("invalid reference format: repository name must be lowercase (in {input:?})")]
    Uppercase { input: String },
    #[error("invalid reference format: {input:?} is not NAME[:TAG][@DIGEST] (names use a-z, 0-9 and separators . _ __ -)")]
    Format { input: String },
    #[error("invalid reference format: tag {tag:?} must be at most 128 letters, digits, _ . or - and not start with . or -")]
    Tag { tag: String },
    #[error("invalid reference format: repository name {input:?} is longer than 255 characters")]
    TooLong { input: String },
    #[error("invalid repository name {input:?}: 64-character hexadecimal strings are image ids, not names")]
    HexName { input: String },
    #[error("invalid reference format: {0}")]
    Digest(#[from] super::digest::DigestError),
}

/// A normalized image reference.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Reference {
    domain: String,
    path: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl Reference {
    /// Parse and normalize; a reference without tag or digest gets `latest`.
    pub fn parse(input: &str) -> Result<Reference, ReferenceError> {
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        let format = || ReferenceError::Format { input: input.to_string() };
        let (rest, digest) = match input.split_once('@') {
            Some((r, d)) => (r, Some(Digest::parse(d)?)),
            None => (input, None),
        };
        let (name, tag) = match rest.rfind(':') {
            Some(i) if !rest[i..].contains('/') => (&rest[..i], Some(&rest[i + 1..])),
            _ => (rest, None),
        };
        if name.is_empty() {
            return Err(format());
        }
        if let Some(t) = tag {
            if !valid_tag(t) {
                return Err(ReferenceError::Tag { tag: t.to_string() });
            }
        }
        let (domain, path) = match name.split_once('/') {
            Some((first, rest)) if first.contains(['.', ':']) || first == "localhost" || first.chars().any(|c| c.is_ascii_uppercase()) => {
                (first.to_string(), rest.to_string())
            }
            _ => (DEFAULT_DOMAIN.to_string(), name.to_string()),
        };
        if !valid_domain(&domain) {
            return Err(format());
        }
        if path.chars().any(|c| c.is_ascii_uppercase()) {
            return Err(ReferenceError::Uppercase { input: input.to_string() });
        }
        if path.is_empty() || !path.split('/').all(valid_component) {
            return Err(format());
        }
        if name.len() > MAX_NAME {
            return Err(ReferenceError::TooLong { input: input.to_string() });
        }
        let domain = if domain == LEGACY_DOMAIN { DEFAULT_DOMAIN.to_string() } else { domain };
        let path = if domain == DEFAULT_DOMAIN && !path.contains('/') {
            if path.len() == 64 && path.bytes().all(|b| b.is_ascii_hexdigit()) {
                return Err(ReferenceError::HexName { input: input.to_string() });
            }
            format!("{OFFICIAL_PREFIX}{path}")
        } else {
            path
        };
        let tag = match (tag, &digest) {
            (Some(t), _) => Some(t.to_string()),
            (None, Some(_)) => None,
            (None, None) => Some("latest".to_string()),
        };
        Ok(Reference { domain, path, tag, digest })
    }

    /// The registry domain (`docker.io`, `localhost:5000`).
    pub fn domain(&self) -> &str {
        &self.domain
    }

    /// The repository path inside the registry (`library/busybox`).
    pub fn path(&self) -> &str {
        &self.path
    }

    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }

    /// The full repository name: `docker.io/library/busybox`.
    pub fn name(&self) -> String {
        format!("{}/{}", self.domain, self.path)
    }

    /// The repository as docker prints it: `busybox`, `user/app`,
    /// `localhost:5000/a/b`.
    pub fn familiar(&self) -> String {
        if self.domain == DEFAULT_DOMAIN {
            self.path.strip_prefix(OFFICIAL_PREFIX).filter(|p| !p.contains('/')).unwrap_or(&self.path).to_string()
        } else {
            self.name()
        }
    }

    /// The familiar repository with tag and digest: `busybox:latest`.
    pub fn familiar_tagged(&self) -> String {
        let mut s = self.familiar();
        self.push_suffix(&mut s);
        s
    }

    /// The same repository with another tag and no digest.
    pub fn with_tag(&self, tag: &str) -> Result<Reference, ReferenceError> {
        if !valid_tag(tag) {
            return Err(ReferenceError::Tag { tag: tag.to_string() });
        }
        Ok(Reference { tag: Some(tag.to_string()), digest: None, ..self.clone() })
    }

    fn push_suffix(&self, s: &mut String) {
        if let Some(t) = &self.tag {
            s.push(':');
            s.push_str(t);
        }
        if let Some(d) = &self.digest {
            s.push('@');
            s.push_str(d.as_str());
        }
    }
}

/// The familiar form of a stored full name (`docker.io/library/busybox:latest`
/// → `busybox:latest`); a name that does not parse is returned unchanged.
pub fn familiar(full: &str) -> String {
    Reference::parse(full).map(|r| r.familiar_tagged()).unwrap_or_else(|_| full.to_string())
}

impl fmt::Display for Reference {
    /// The full normalized form: `docker.io/library/busybox:latest`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = self.name();
        self.push_suffix(&mut s);
        f.write_str(&s)
    }
}

impl fmt::Debug for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Reference({self})")
    }
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Reference, ReferenceError> {
        Reference::parse(s)
    }
}

fn valid_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*`
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    let alnum = |x: &u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    if b.is_empty() || !alnum(&b[0]) || !alnum(&b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if alnum(&b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !alnum(&b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        let ok = sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-');
        if !ok {
            return false;
        }
    }
    true
}

/// `host(.host)*(:port)?` with host `[a-zA-Z0-9]([a-zA-Z0-9-]*[a-zA-Z0-9])?`.
fn valid_domain(d: &str) -> bool {
    let (host, port) = match d.split_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (d, None),
    };
    if let Some(p) = port {
        if p.is_empty() || !p.bytes().all(|c| c.is_ascii_digit()) {
            return false;
        }
    }
    !host.is_empty()
        && host.split('.').all(|part| {
            let b = part.as_bytes();
            !b.is_empty()
                && b[0].is_ascii_alphanumeric()
                && b[b.len() - 1].is_ascii_alphanumeric()
                && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        Reference::parse(s).unwrap().to_string()
    }

    #[test]
    fn normalizes_like_docker() {
        assert_eq!(norm("busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("busybox:1.36"), "docker.io/library/busybox:1.36");
        assert_eq!(norm("user/app"), "docker.io/user/app:latest");
        assert_eq!(norm("docker.io/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("index.docker.io/library/busybox"), "docker.io/library/busybox:latest");
        assert_eq!(norm("localhost:5000/a/b:1"), "localhost:5000/a/b:1");
        assert_eq!(norm("localhost/app"), "localhost/app:latest");
        assert_eq!(norm("quay.io/x/y"), "quay.io/x/y:latest");
        assert_eq!(norm("a-b.c.d/e__f-g"), "a-b.c.d/e__f-g:latest");
        assert!(Reference::parse("a_b.c/x").is_err());
        let d = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
        assert_eq!(norm(&format!("busybox@{d}")), format!("docker.io/library/busybox@{d}"));
        assert_eq!(norm(&format!("busybox:1@{d}")), format!("docker.io/library/busybox:1@{d}"));
    }

    #[test]
    fn familiar_forms() {
        let f = |s: &str| Reference::parse(s).unwrap().familiar();
        assert_eq!(f("docker.io/library/busybox:latest"), "busybox");
        assert_eq!(f("user/app"), "user/app");
        assert_eq!(f("docker.io/library/a/b"), "library/a/b");
        assert_eq!(f("localhost:5000/a/b:1"), "localhost:5000/a/b");
        assert_eq!(Reference::parse("busybox").unwrap().familiar_tagged(), "busybox:latest");
        let r = Reference::parse("busybox:1").unwrap();
        assert_eq!(r.tag(), Some("1"));
        assert_eq!(r.name(), "docker.io/library/busybox");
        assert_eq!(r.domain(), "docker.io");
        assert_eq!(r.path(), "library/busybox");
    }

    #[test]
    fn rejects_bad_references() {
        assert!(matches!(Reference::parse("BusyBox"), Err(ReferenceError::Uppercase { .. })));
        assert!(matches!(Reference::parse("user/App:1"), Err(ReferenceError::Uppercase { .. })));
        assert!(Reference::parse("BusyBox").unwrap_err().to_string().contains("must be lowercase"));
        assert_eq!(Reference::parse(""), Err(ReferenceError::Empty));
        assert!(Reference::parse("a//b").is_err());
        assert!(Reference::parse("-a").is_err());
        assert!(Reference::parse("a..b").is_err());
        assert!(Reference::parse("a___b").is_err());
        assert!(Reference::parse("a:").is_err());
        assert!(Reference::parse("a:-x").is_err());
        assert!(Reference::parse("a@sha256:00").is_err());
        assert!(Reference::parse("a b").is_err());
        assert!(Reference::parse("host:port/x").is_err());
        assert!(matches!(Reference::parse(&"ab".repeat(32)), Err(ReferenceError::HexName { .. })));
        assert!(Reference::parse(&"a".repeat(300)).is_err());
    }

    #[test]
    fn retag() {
        let r = Reference::parse("busybox:1").unwrap().with_tag("2").unwrap();
        assert_eq!(r.to_string(), "docker.io/library/busybox:2");
    }
}
