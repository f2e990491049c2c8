//! The short syntax of a service's `volumes:` turned into the long one:
//! `[SOURCE:]TARGET[:MODE]` as the compose specification's `volumes`
//! section reads it. A source starting with `/`, `.` or `~` is a bind
//! mount (made absolute against the file's directory, `~` against HOME);
//! any other source names a volume; no source is an anonymous volume.
//! MODE is a comma list of `ro`/`rw`, `z`/`Z` (SELinux relabelling),
//! `nocopy` and a bind propagation (`shared`, `rslave`, ...). The long
//! syntax comes out as docker compose config prints it.

use std::path::Path;

use serde_norway::{Mapping, Value};

use super::value::{invalid, text, Result};

const PROPAGATIONS: &[&str] = &["shared", "rshared", "slave", "rslave", "private", "rprivate"];

/// Parse a short-syntax volume into its long-syntax mapping; `base` is
/// the directory relative bind sources are resolved against.
pub fn parse_short(spec: &str, base: &Path, path: &str) -> Result<Value> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (source, target, mode) = match parts.as_slice() {
        [t] => (None, *t, None),
        [s, t] => (Some(*s), *t, None),
        [s, t, m] => (Some(*s), *t, Some(*m)),
        _ => return Err(invalid(path, spec, "expected [SOURCE:]TARGET[:MODE]")),
    };
    if !target.starts_with('/') {
        return Err(invalid(path, spec, format!("the target {target:?} must be an absolute path in the container")));
    }
    let mut m = Mapping::new();
    let mut read_only = false;
    let mut bind = Mapping::new();
    let mut volume = Mapping::new();
    for opt in mode.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match opt {
            "ro" => read_only = true,
            "rw" => read_only = false,
            "z" | "Z" => {
                bind.insert(text("selinux"), text(opt));
            }
            "nocopy" => {
                volume.insert(text("nocopy"), Value::Bool(true));
            }
            p if PROPAGATIONS.contains(&p) => {
                bind.insert(text("propagation"), text(p));
            }
            other => return Err(invalid(path, spec, format!("unknown mode {other:?} (ro, rw, z, Z, nocopy, or a propagation)"))),
        }
    }
    match source {
        Some(s) if is_path(s) => {
            m.insert(text("type"), text("bind"));
            m.insert(text("source"), text(absolute(s, base)));
            m.insert(text("target"), text(target));
            if read_only {
                m.insert(text("read_only"), Value::Bool(true));
            }
            bind.insert(text("create_host_path"), Value::Bool(true));
            m.insert(text("bind"), Value::Mapping(bind));
        }
        _ => {
            if !bind.is_empty() && source.is_none() {
                return Err(invalid(path, spec, "an anonymous volume takes no bind options"));
            }
            m.insert(text("type"), text("volume"));
            if let Some(s) = source {
                m.insert(text("source"), text(s));
            }
            m.insert(text("target"), text(target));
            if read_only {
                m.insert(text("read_only"), Value::Bool(true));
            }
            if source.is_some() {
                m.insert(text("volume"), Value::Mapping(volume));
            }
        }
    }
    Ok(Value::Mapping(m))
}

/// Whether a volume source is a host path rather than a volume's name.
pub fn is_path(source: &str) -> bool {
    source.starts_with('/') || source.starts_with('.') || source.starts_with('~')
}

/// A host path made absolute: `~` is HOME, a relative path is taken
/// against `base`. The result is cleaned of `.` and `..` components.
pub fn absolute(p: &str, base: &Path) -> String {
    let joined = if let Some(rest) = p.strip_prefix('~') {
        let home = std::env::var_os("HOME").map(std::path::PathBuf::from).unwrap_or_else(|| "/".into());
        home.join(rest.trim_start_matches('/'))
    } else {
        base.join(p)
    };
    clean(&joined).to_string_lossy().into_owned()
}

/// Remove `.` and resolve `..` lexically (no file system access).
pub fn clean(p: &Path) -> std::path::PathBuf {
    use std::path::Component;
    let mut out = std::path::PathBuf::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other.as_os_str()),
        }
    }
    out
}
