//! ADD's remote sources: `ADD https://host/file /dest`.
//!
//! The file is downloaded on every build (its content, not its URL, keys
//! the cache, as BuildKit does), into a scratch directory the step owns,
//! with the sha256 of its bytes computed on the way and checked against
//! `--checksum=sha256:HEX` when given. As in docker the file is never
//! unpacked, its mode is 0600 and its modification time is the server's
//! Last-Modified when the server sends one. Its name is the last segment
//! of the URL's path (`download` when there is none), used when the
//! destination is a directory.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("ADD {url}: {reason}")]
    Download { url: String, reason: String },
    #[error("ADD {url}: the content's digest is sha256:{actual}, not the --checksum {expected}")]
    Checksum { url: String, expected: String, actual: String },
    #[error("ADD --checksum={given}: give sha256:HEX (64 hex digits)")]
    BadChecksum { given: String },
    #[error("{path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
}

/// Whether an ADD source is a URL burrow downloads.
pub fn is_url(source: &str) -> bool {
    source.starts_with("http://") || source.starts_with("https://")
}

/// The file name docker gives a download: the URL path's last segment.
pub fn file_name(url: &str) -> String {
    let path = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path = path.split(['?', '#']).next().unwrap_or("");
    let path = path.split_once('/').map(|(_, p)| p).unwrap_or("");
    path.rsplit('/').find(|s| !s.is_empty() && *s != "." && *s != "..").unwrap_or("download").to_string()
}

/// `sha256:HEX` as the lowercase hex digest.
pub fn parse_checksum(given: &str) -> Result<String, Error> {
    match given.split_once(':') {
        Some(("sha256", hex)) if hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()) => Ok(hex.to_ascii_lowercase()),
        _ => Err(Error::BadChecksum { given: given.to_string() }),
    }
}

/// Download `url` into `dir` (under [`file_name`]); returns the file.
pub fn fetch(url: &str, dir: &Path, checksum: Option<&str>) -> Result<PathBuf, Error> {
    let expected = checksum.map(parse_checksum).transpose()?;
    let fail = |reason: String| Error::Download { url: url.to_string(), reason };
    let client = reqwest::blocking::Client::builder()
        .user_agent(concat!("burrow/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(std::time::Duration::from_secs(30))
        .timeout(None)
        .build()
        .map_err(|e| fail(e.to_string()))?;
    let mut response = client.get(url).send().map_err(|e| fail(chain(&e)))?;
    if !response.status().is_success() {
        return Err(fail(format!("the server answered {}", response.status())));
    }
    let modified = response
        .headers()
        .get(reqwest::header::LAST_MODIFIED)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| chrono::DateTime::parse_from_rfc2822(v).ok())
        .map(std::time::SystemTime::from);
    let path = dir.join(file_name(url));
    let io = |source| Error::Io { path: path.clone(), source };
    let mut file = std::fs::File::create(&path).map_err(io)?;
    let mut hash = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = match response.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(fail(format!("the download broke off: {e}"))),
        };
        hash.update(&buf[..n]);
        file.write_all(&buf[..n]).map_err(io)?;
    }
    let actual: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    if let Some(expected) = expected {
        if expected != actual {
            return Err(Error::Checksum { url: url.to_string(), expected: format!("sha256:{expected}"), actual });
        }
    }
    file.set_permissions(std::os::unix::fs::PermissionsExt::from_mode(0o600)).map_err(io)?;
    if let Some(t) = modified {
        file.set_modified(t).map_err(io)?;
    }
    Ok(path)
}

/// An error with its sources, for a one-line message.
fn chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(&format!(": {c}"));
        cur = c.source();
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_checksums() {
        assert_eq!(file_name("https://example.com/a/b/tool.tar.gz?x=1"), "tool.tar.gz");
        assert_eq!(file_name("http://example.com/dir/"), "dir");
        assert_eq!(file_name("http://example.com"), "download");
        assert!(is_url("https://x") && !is_url("ftp://x") && !is_url("file.txt"));
        let hex = "a".repeat(64);
        assert_eq!(parse_checksum(&format!("sha256:{}", hex.to_uppercase())).unwrap(), hex);
        assert!(parse_checksum("md5:abc").is_err());
        assert!(parse_checksum("sha256:abc").is_err());
    }

    #[test]
    fn a_download_is_checked_and_dated() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        std::thread::spawn(move || {
            for stream in listener.incoming().take(2) {
                let mut s = stream.unwrap();
                let mut req = [0u8; 1024];
                let _ = s.read(&mut req);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nLast-Modified: Tue, 15 Nov 1994 08:12:31 GMT\r\nConnection: close\r\n\r\nhello");
            }
        });
        let t = tempfile::tempdir().unwrap();
        let url = format!("http://127.0.0.1:{port}/files/greeting.txt");
        let sum = "sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824";
        let p = fetch(&url, t.path(), Some(sum)).unwrap();
        assert_eq!(p, t.path().join("greeting.txt"));
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "hello");
        let m = std::fs::metadata(&p).unwrap();
        assert_eq!(std::os::unix::fs::PermissionsExt::mode(&m.permissions()) & 0o777, 0o600);
        assert_eq!(std::os::unix::fs::MetadataExt::mtime(&m), 784887151);
        let bad = "sha256:".to_string() + &"0".repeat(64);
        assert!(matches!(fetch(&url, t.path(), Some(&bad)), Err(Error::Checksum { .. })));
    }
}
