//! Registry credentials: the auth files docker and podman write, read and
//! written by `login`, `logout` and every registry command.
//!
//! The format is docker's `config.json`: `{"auths": {"HOST": {"auth":
//! base64("user:password")}}}`; other keys in the file are kept as they
//! are. burrow writes its own file (`--authfile`, else `$REGISTRY_AUTH_FILE`,
//! else `$XDG_CONFIG_HOME/burrow/auth.json`), mode 0600, replaced
//! atomically, and reads, first match wins: that file, podman's
//! `$XDG_RUNTIME_DIR/containers/auth.json` and
//! `$XDG_CONFIG_HOME/containers/auth.json`, then `~/.docker/config.json`.
//! docker.io is stored under docker's key `https://index.docker.io/v1/`
//! and found under that, `docker.io`, `index.docker.io` or
//! `registry-1.docker.io`. `Credentials` never prints its password: its
//! `Debug` is redacted, so a `{:?}` in a log cannot leak it.

use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

use base64::Engine as _;

use super::error::{Error, Result};

/// A user name and password (or identity token).
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    pub username: String,
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials").field("username", &self.username).field("password", &"<redacted>").finish()
    }
}

impl Credentials {
    /// The `Authorization: Basic` value.
    pub fn basic(&self) -> String {
        format!("Basic {}", b64().encode(format!("{}:{}", self.username, self.password)))
    }
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

/// docker's key for Docker Hub.
const HUB_KEY: &str = "https://index.docker.io/v1/";
const HUB_ALIASES: &[&str] = &["docker.io", "index.docker.io", "registry-1.docker.io", HUB_KEY];

/// The key a registry's entry is stored under.
pub fn key_for(registry: &str) -> String {
    if HUB_ALIASES.contains(&registry) {
        HUB_KEY.to_string()
    } else {
        registry.to_string()
    }
}

/// Does a key in an auth file name this registry? Keys may be bare
/// hosts, URLs (`https://host/v1/`) or `host/namespace`.
fn key_matches(key: &str, registry: &str) -> bool {
    let host = key.strip_prefix("https://").or_else(|| key.strip_prefix("http://")).unwrap_or(key);
    let host = host.split('/').next().unwrap_or(host);
    if HUB_ALIASES.contains(&registry) {
        return HUB_ALIASES.contains(&host) || key == HUB_KEY;
    }
    host == registry
}

/// Where credentials are looked up and stored.
#[derive(Debug, Clone)]
pub struct AuthFiles {
    /// The file `login` writes and `logout` edits.
    pub write: PathBuf,
    /// Files read in order, `write` first.
    pub read: Vec<PathBuf>,
}

impl AuthFiles {
    /// The files for this user; `explicit` is `--authfile`, which then is
    /// the only file read.
    pub fn resolve(explicit: Option<&Path>) -> AuthFiles {
        let env = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
        if let Some(p) = explicit.map(Path::to_path_buf).or_else(|| env("REGISTRY_AUTH_FILE")) {
            return AuthFiles { write: p.clone(), read: vec![p] };
        }
        let home = env("HOME");
        let config = env("XDG_CONFIG_HOME").or_else(|| home.as_ref().map(|h| h.join(".config")));
        let write = config.as_ref().map(|c| c.join("burrow/auth.json")).unwrap_or_else(|| PathBuf::from("auth.json"));
        let mut read = vec![write.clone()];
        if let Some(r) = env("XDG_RUNTIME_DIR") {
            read.push(r.join("containers/auth.json"));
        }
        if let Some(c) = &config {
            read.push(c.join("containers/auth.json"));
        }
        if let Some(h) = &home {
            read.push(h.join(".docker/config.json"));
        }
        AuthFiles { write, read }
    }

    /// The stored credentials for `registry` (`host[:port]`), if any.
    pub fn lookup(&self, registry: &str) -> Result<Option<Credentials>> {
        for f in &self.read {
            let Some(doc) = read_doc(f)? else { continue };
            let Some(auths) = doc.get("auths").and_then(|a| a.as_object()) else { continue };
            for (key, entry) in auths {
                if key_matches(key, registry) {
                    if let Some(c) = decode_entry(f, entry)? {
                        return Ok(Some(c));
                    }
                }
            }
        }
        Ok(None)
    }

    /// Store credentials for `registry` in the write file.
    pub fn store(&self, registry: &str, creds: &Credentials) -> Result<()> {
        let mut doc = read_doc(&self.write)?.unwrap_or_else(|| serde_json::json!({}));
        if !doc.get("auths").is_some_and(|a| a.is_object()) {
            doc["auths"] = serde_json::json!({});
        }
        let auth = b64().encode(format!("{}:{}", creds.username, creds.password));
        doc["auths"][key_for(registry)] = serde_json::json!({ "auth": auth });
        write_doc(&self.write, &doc)
    }

    /// Remove `registry`'s entry from the write file; false when there
    /// was none.
    pub fn remove(&self, registry: &str) -> Result<bool> {
        let Some(mut doc) = read_doc(&self.write)? else { return Ok(false) };
        let Some(auths) = doc.get_mut("auths").and_then(|a| a.as_object_mut()) else { return Ok(false) };
        let keys: Vec<String> = auths.keys().filter(|k| key_matches(k, registry)).cloned().collect();
        for k in &keys {
            auths.remove(k);
        }
        if keys.is_empty() {
            return Ok(false);
        }
        write_doc(&self.write, &doc)?;
        Ok(true)
    }

    /// Remove every entry from the write file.
    pub fn remove_all(&self) -> Result<()> {
        let Some(mut doc) = read_doc(&self.write)? else { return Ok(()) };
        doc["auths"] = serde_json::json!({});
        write_doc(&self.write, &doc)
    }
}

fn bad(path: &Path, detail: impl Into<String>) -> Error {
    Error::AuthFile { path: path.to_path_buf(), detail: detail.into() }
}

fn read_doc(path: &Path) -> Result<Option<serde_json::Value>> {
    match fs::read(path) {
        Ok(b) if b.iter().all(u8::is_ascii_whitespace) => Ok(None),
        Ok(b) => serde_json::from_slice(&b).map(Some).map_err(|e| bad(path, format!("not valid JSON: {e}"))),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(bad(path, e.to_string())),
    }
}

fn decode_entry(path: &Path, entry: &serde_json::Value) -> Result<Option<Credentials>> {
    if let Some(auth) = entry.get("auth").and_then(|a| a.as_str()).filter(|a| !a.is_empty()) {
        let raw = b64().decode(auth.trim()).map_err(|_| bad(path, "an \"auth\" value is not base64"))?;
        let s = String::from_utf8(raw).map_err(|_| bad(path, "an \"auth\" value is not UTF-8"))?;
        let (u, p) = s.split_once(':').ok_or_else(|| bad(path, "an \"auth\" value is not user:password"))?;
        return Ok(Some(Credentials { username: u.to_string(), password: p.to_string() }));
    }
    if let Some(token) = entry.get("identitytoken").and_then(|t| t.as_str()).filter(|t| !t.is_empty()) {
        return Ok(Some(Credentials { username: "<token>".into(), password: token.to_string() }));
    }
    Ok(None)
}

fn write_doc(path: &Path, doc: &serde_json::Value) -> Result<()> {
    let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(dir).map_err(|e| bad(path, format!("cannot create {}: {e}", dir.display())))?;
    let mut bytes = serde_json::to_vec_pretty(doc).map_err(|e| bad(path, e.to_string()))?;
    bytes.push(b'\n');
    crate::atomic::write_mode(path, &bytes, 0o600).map_err(|e| bad(path, format!("cannot write: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(dir: &Path) -> AuthFiles {
        let w = dir.join("burrow/auth.json");
        AuthFiles { write: w.clone(), read: vec![w, dir.join("podman.json"), dir.join("docker.json")] }
    }

    #[test]
    fn store_lookup_remove_round_trip_keeps_other_keys() {
        let d = tempfile::tempdir().unwrap();
        let f = files(d.path());
        fs::create_dir_all(d.path().join("burrow")).unwrap();
        fs::write(&f.write, r#"{"credsStore":"x","auths":{}}"#).unwrap();
        let c = Credentials { username: "al".into(), password: "p:w".into() };
        f.store("127.0.0.1:5000", &c).unwrap();
        assert_eq!(f.lookup("127.0.0.1:5000").unwrap(), Some(c.clone()));
        assert_eq!(f.lookup("127.0.0.1:5001").unwrap(), None);
        let doc: serde_json::Value = serde_json::from_slice(&fs::read(&f.write).unwrap()).unwrap();
        assert_eq!(doc["credsStore"], "x");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(fs::metadata(&f.write).unwrap().permissions().mode() & 0o777, 0o600);
        assert!(f.remove("127.0.0.1:5000").unwrap());
        assert!(!f.remove("127.0.0.1:5000").unwrap());
        assert_eq!(f.lookup("127.0.0.1:5000").unwrap(), None);
    }

    #[test]
    fn reads_docker_and_podman_files_and_hub_aliases() {
        let d = tempfile::tempdir().unwrap();
        let f = files(d.path());
        let enc = b64().encode("u:secret");
        fs::write(d.path().join("docker.json"), format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{enc}"}}}}}}"#)).unwrap();
        fs::write(d.path().join("podman.json"), format!(r#"{{"auths":{{"reg.example:5000/team":{{"auth":"{enc}"}}}}}}"#)).unwrap();
        assert_eq!(f.lookup("docker.io").unwrap().unwrap().username, "u");
        assert_eq!(f.lookup("reg.example:5000").unwrap().unwrap().password, "secret");
        assert_eq!(key_for("docker.io"), HUB_KEY);
    }

    #[test]
    fn debug_never_shows_the_password() {
        let c = Credentials { username: "al".into(), password: "hunter2".into() };
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", Some(&c)).contains("hunter2"));
    }

    #[test]
    fn broken_files_are_named() {
        let d = tempfile::tempdir().unwrap();
        let f = files(d.path());
        fs::create_dir_all(d.path().join("burrow")).unwrap();
        fs::write(&f.write, "{nope").unwrap();
        let e = f.lookup("x").unwrap_err().to_string();
        assert!(e.contains("auth.json") && e.contains("JSON"), "{e}");
    }
}
