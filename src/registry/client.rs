//! HTTP to one registry endpoint (OCI distribution spec): the ping, the
//! `WWW-Authenticate` dance, tokens, retries.
//!
//! `connect` pings `/v2/` once. HTTPS is always tried first, with the
//! system roots plus the registry's CA files (`config::ca_files`); an
//! insecure endpoint also accepts any certificate and falls back to plain
//! HTTP when TLS does not connect; a loopback endpoint falls back to plain
//! HTTP only when the server does not speak TLS at all. The ping's answer decides how every
//! later request authenticates: 200 needs nothing, a `Basic` challenge
//! sends the user's credentials each time, a `Bearer` challenge means a
//! token from the realm per set of scopes (anonymous when the user has no
//! credentials), cached for the life of the client and fetched again once
//! when a request is refused with a 401 anyway. Connection failures, 429
//! and 5xx answers are retried with backoff; request builders are closures
//! so a retry sends the whole request again. Credentials and tokens live
//! only in headers; `Client`'s `Debug` leaves them out.

use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;
use std::time::Duration;

use reqwest::blocking::{Client as Http, RequestBuilder, Response};
use reqwest::header::{HeaderValue, AUTHORIZATION, WWW_AUTHENTICATE};
use reqwest::{Method, StatusCode};

use super::challenge::{self, Challenge};
use super::config::{ca_files, Endpoint, Options};
use super::creds::Credentials;
use super::error::{Error, Result};

/// How requests authenticate, as the ping found out.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Auth {
    None,
    Basic,
    Bearer { realm: String, service: Option<String> },
}

pub struct Client {
    /// The registry's name for messages and auth files (`docker.io`,
    /// `127.0.0.1:5000`).
    pub registry: String,
    pub endpoint: Endpoint,
    base: String,
    http: Http,
    creds: Option<Credentials>,
    auth: Auth,
    tokens: Mutex<HashMap<String, String>>,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("registry", &self.registry)
            .field("base", &self.base)
            .field("auth", &self.auth)
            .field("creds", &self.creds)
            .finish_non_exhaustive()
    }
}

const ATTEMPTS: u32 = 4;

/// Seconds without a byte before a request or download is given up
/// (`BURROW_REGISTRY_TIMEOUT`, default 60).
fn idle_timeout() -> Duration {
    let s = std::env::var("BURROW_REGISTRY_TIMEOUT").ok().and_then(|v| v.parse::<u64>().ok()).unwrap_or(60);
    Duration::from_secs(s.max(1))
}

fn backoff(attempt: u32) -> Duration {
    Duration::from_millis(250 << attempt.min(4))
}

/// The whole chain of an error, for messages and classification.
pub fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        let t = c.to_string();
        if !s.contains(&t) {
            s.push_str(": ");
            s.push_str(&t);
        }
        cur = c.source();
    }
    s
}

fn build_http(endpoint: &Endpoint, opts: &Options) -> Result<Http> {
    let mut b = Http::builder()
        .connect_timeout(Duration::from_secs(30))
        .timeout(idle_timeout())
        .user_agent(concat!("burrow/", env!("CARGO_PKG_VERSION")))
        .pool_max_idle_per_host(8);
    for f in ca_files(&endpoint.host, opts) {
        let pem = std::fs::read(&f).map_err(|source| Error::Io { op: "read the CA file", path: f.clone(), source })?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| Error::Tls {
            registry: endpoint.host.clone(),
            detail: format!("{} is not a PEM certificate: {e}", f.display()),
        })?;
        for c in certs {
            b = b.add_root_certificate(c);
        }
    }
    if endpoint.insecure {
        b = b.danger_accept_invalid_certs(true);
    }
    b.build().map_err(|e| Error::Tls { registry: endpoint.host.clone(), detail: chain(&e) })
}

/// Why a request did not get an answer.
fn classify(registry: &str, e: &reqwest::Error) -> Error {
    let detail = chain(e);
    let lower = detail.to_ascii_lowercase();
    if lower.contains("invalidcontenttype") || lower.contains("corrupt message") || lower.contains("wrong version number") {
        Error::PlainHttp { registry: registry.to_string() }
    } else if lower.contains("certificate") || lower.contains("unknownissuer") || lower.contains("tls") {
        Error::Tls { registry: registry.to_string(), detail }
    } else {
        Error::Unreachable { registry: registry.to_string(), detail }
    }
}

fn retryable_status(s: StatusCode) -> bool {
    s.is_server_error() || s == StatusCode::TOO_MANY_REQUESTS || s == StatusCode::REQUEST_TIMEOUT
}

impl Client {
    /// Ping `endpoint` and learn how it authenticates.
    pub fn connect(registry: &str, endpoint: &Endpoint, creds: Option<Credentials>, opts: &Options) -> Result<Client> {
        let http = build_http(endpoint, opts)?;
        let mut client = Client {
            registry: registry.to_string(),
            endpoint: endpoint.clone(),
            base: format!("https://{}", endpoint.host),
            http,
            creds,
            auth: Auth::None,
            tokens: Mutex::new(HashMap::new()),
        };
        let ping = match client.ping() {
            Ok(r) => r,
            Err(e)
                if endpoint.insecure && matches!(e, Error::Tls { .. } | Error::PlainHttp { .. } | Error::Unreachable { .. })
                    || endpoint.plain_http && matches!(e, Error::PlainHttp { .. }) =>
            {
                tracing::debug!(registry, "HTTPS failed ({e}); trying plain HTTP");
                client.base = format!("http://{}", endpoint.host);
                client.ping().map_err(|e2| match e2 {
                    Error::Unreachable { .. } => e,
                    other => other,
                })?
            }
            Err(e) => return Err(e),
        };
        client.auth = match ping.status() {
            s if s.is_success() => Auth::None,
            StatusCode::UNAUTHORIZED => {
                let header = ping.headers().get(WWW_AUTHENTICATE).and_then(|h| h.to_str().ok()).unwrap_or("");
                match challenge::parse(header) {
                    Some(Challenge::Basic) => Auth::Basic,
                    Some(Challenge::Bearer { realm, service, .. }) => Auth::Bearer { realm, service },
                    None => {
                        return Err(Error::BadResponse {
                            registry: registry.to_string(),
                            what: "authentication challenge".into(),
                            detail: format!("WWW-Authenticate {header:?} names no scheme burrow speaks (Basic, Bearer)"),
                        })
                    }
                }
            }
            s => {
                return Err(Error::Status {
                    registry: registry.to_string(),
                    what: "GET /v2/ (is this an OCI registry?)".into(),
                    status: s.as_u16(),
                    body: String::new(),
                })
            }
        };
        Ok(client)
    }

    fn ping(&self) -> Result<Response> {
        let url = format!("{}/v2/", self.base);
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            match self.http.get(&url).send() {
                Ok(r) if retryable_status(r.status()) && attempt + 1 < ATTEMPTS => {}
                Ok(r) => return Ok(r),
                Err(e) => {
                    let err = classify(&self.registry, &e);
                    if !matches!(err, Error::Unreachable { .. }) || e.is_connect() && attempt >= 1 {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
            std::thread::sleep(backoff(attempt));
        }
        Err(last.unwrap_or(Error::Unreachable { registry: self.registry.clone(), detail: "no answer".into() }))
    }

    /// The base URL, `https://host` or `http://host`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// Does the registry want credentials at all?
    pub fn needs_auth(&self) -> bool {
        self.auth != Auth::None
    }

    /// Check the credentials the client was made with (for `login`): a
    /// token fetch for Bearer, an authenticated ping for Basic.
    pub fn verify_login(&self) -> Result<()> {
        match &self.auth {
            Auth::None => Ok(()),
            Auth::Bearer { .. } => self.fetch_token(&[]).map(|_| ()),
            Auth::Basic => {
                let url = format!("{}/v2/", self.base);
                let mut req = self.http.get(&url);
                if let Some(c) = &self.creds {
                    req = req.header(AUTHORIZATION, c.basic());
                }
                let r = req.send().map_err(|e| classify(&self.registry, &e))?;
                match r.status() {
                    s if s.is_success() => Ok(()),
                    StatusCode::UNAUTHORIZED => Err(Error::BadCredentials { registry: self.registry.clone() }),
                    s => Err(self.status_error("GET /v2/", s, r)),
                }
            }
        }
    }

    fn fetch_token(&self, scopes: &[String]) -> Result<String> {
        let Auth::Bearer { realm, service } = &self.auth else { return Ok(String::new()) };
        let mut query: Vec<(&str, &str)> = Vec::new();
        if let Some(s) = service {
            query.push(("service", s));
        }
        for s in scopes {
            query.push(("scope", s));
        }
        let mut last = None;
        for attempt in 0..ATTEMPTS {
            let mut req = self.http.get(realm).query(&query);
            if let Some(c) = &self.creds {
                req = req.header(AUTHORIZATION, c.basic());
            }
            match req.send() {
                Ok(r) if retryable_status(r.status()) && attempt + 1 < ATTEMPTS => {}
                Ok(r) if r.status().is_success() => {
                    #[derive(serde::Deserialize)]
                    struct Token {
                        token: Option<String>,
                        access_token: Option<String>,
                    }
                    let body = r.bytes().map_err(|e| classify(&self.registry, &e))?;
                    let t: Token = serde_json::from_slice(&body).map_err(|e| Error::BadResponse {
                        registry: self.registry.clone(),
                        what: "token".into(),
                        detail: e.to_string(),
                    })?;
                    return t.token.or(t.access_token).filter(|t| !t.is_empty()).ok_or_else(|| Error::BadResponse {
                        registry: self.registry.clone(),
                        what: "token".into(),
                        detail: "the answer holds neither token nor access_token".into(),
                    });
                }
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED || r.status() == StatusCode::FORBIDDEN => {
                    return Err(match &self.creds {
                        Some(_) => Error::BadCredentials { registry: self.registry.clone() },
                        None => self.unauthorized(scopes),
                    });
                }
                Ok(r) => return Err(self.status_error("the token request", r.status(), r)),
                Err(e) => last = Some(classify(realm, &e)),
            }
            std::thread::sleep(backoff(attempt));
        }
        Err(last.unwrap_or(Error::Unreachable { registry: realm.clone(), detail: "no answer".into() }))
    }

    fn unauthorized(&self, scopes: &[String]) -> Error {
        let what = scopes.first().map(|s| describe_scope(s)).unwrap_or_else(|| "access".into());
        let hint = match &self.creds {
            Some(_) => format!(" and refused the stored credentials: run burrow login {}", self.registry),
            None => format!(": run burrow login {}", self.registry),
        };
        Error::Unauthorized { registry: self.registry.clone(), what, hint }
    }

    fn authorization(&self, scopes: &[String], fresh: bool) -> Result<Option<HeaderValue>> {
        let value = match &self.auth {
            Auth::None => return Ok(None),
            Auth::Basic => match &self.creds {
                Some(c) => c.basic(),
                None => return Ok(None),
            },
            Auth::Bearer { .. } => {
                let key = scopes.join(" ");
                let cached = if fresh { None } else { self.tokens.lock().unwrap().get(&key).cloned() };
                let token = match cached {
                    Some(t) => t,
                    None => {
                        let t = self.fetch_token(scopes)?;
                        self.tokens.lock().unwrap().insert(key, t.clone());
                        t
                    }
                };
                format!("Bearer {token}")
            }
        };
        let mut v = HeaderValue::from_str(&value).map_err(|_| Error::BadResponse {
            registry: self.registry.clone(),
            what: "token".into(),
            detail: "it cannot be sent as a header".into(),
        })?;
        v.set_sensitive(true);
        Ok(Some(v))
    }

    /// Send a request to `path_or_url` (a path under the base, or an
    /// absolute URL such as an upload location), authenticated for
    /// `scopes`, retrying as the module docs say. `build` adds headers and
    /// body; it is called again for every attempt. Answers other than
    /// retryable ones are returned as they are, also errors.
    pub fn send(
        &self,
        method: Method,
        path_or_url: &str,
        scopes: &[String],
        build: &dyn Fn(RequestBuilder) -> RequestBuilder,
    ) -> Result<Response> {
        let url = if path_or_url.starts_with("http://") || path_or_url.starts_with("https://") {
            path_or_url.to_string()
        } else {
            format!("{}{}", self.base, path_or_url)
        };
        let mut fresh = false;
        let mut last = None;
        let mut attempt = 0;
        while attempt < ATTEMPTS {
            let mut req = self.http.request(method.clone(), &url);
            if let Some(a) = self.authorization(scopes, fresh)? {
                req = req.header(AUTHORIZATION, a);
            }
            match build(req).send() {
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED && !fresh && self.auth != Auth::None => {
                    // A token for other scopes, or an expired one.
                    fresh = true;
                    continue;
                }
                Ok(r) if r.status() == StatusCode::UNAUTHORIZED => return Err(self.unauthorized(scopes)),
                Ok(r) if retryable_status(r.status()) && attempt + 1 < ATTEMPTS => {
                    tracing::debug!(url, status = r.status().as_u16(), "retrying");
                }
                Ok(r) => return Ok(r),
                Err(e) => {
                    tracing::debug!(url, "request failed: {}", chain(&e));
                    let err = classify(&self.registry, &e);
                    if !matches!(err, Error::Unreachable { .. }) {
                        return Err(err);
                    }
                    last = Some(err);
                }
            }
            std::thread::sleep(backoff(attempt));
            attempt += 1;
        }
        Err(last.unwrap_or(Error::Unreachable { registry: self.registry.clone(), detail: "no answer".into() }))
    }

    /// An error for an unexpected answer, with the registry's own error
    /// message when it sent one (`{"errors":[{"code","message"}]}`).
    pub fn status_error(&self, what: &str, status: StatusCode, r: Response) -> Error {
        let text = r.text().unwrap_or_default();
        let body = registry_message(&text).map(|m| format!(": {m}")).unwrap_or_default();
        if status == StatusCode::FORBIDDEN {
            return Error::Denied { registry: self.registry.clone(), what: what.to_string() };
        }
        Error::Status { registry: self.registry.clone(), what: what.to_string(), status: status.as_u16(), body }
    }
}

/// `repository:team/app:pull,push` → `pull, push of team/app`.
fn describe_scope(scope: &str) -> String {
    let mut parts = scope.splitn(3, ':');
    match (parts.next(), parts.next(), parts.next()) {
        (Some("repository"), Some(name), Some(actions)) => format!("{} of {name}", actions.replace(',', " and ")),
        _ => scope.to_string(),
    }
}

/// The first message in a distribution-spec error body.
pub fn registry_message(body: &str) -> Option<String> {
    #[derive(serde::Deserialize)]
    struct Errors {
        errors: Vec<Entry>,
    }
    #[derive(serde::Deserialize)]
    struct Entry {
        code: Option<String>,
        message: Option<String>,
    }
    let e: Errors = serde_json::from_str(body).ok()?;
    let first = e.errors.into_iter().next()?;
    match (first.code, first.message) {
        (Some(c), Some(m)) => Some(format!("{} ({m})", c.to_ascii_lowercase().replace('_', " "))),
        (Some(c), None) => Some(c.to_ascii_lowercase().replace('_', " ")),
        (None, Some(m)) => Some(m),
        (None, None) => None,
    }
}

/// The scope to pull from a repository.
pub fn pull_scope(repo: &str) -> String {
    format!("repository:{repo}:pull")
}

/// The scope to push to a repository.
pub fn push_scope(repo: &str) -> String {
    format!("repository:{repo}:pull,push")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_messages_are_readable() {
        let b = r#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{}}]}"#;
        assert_eq!(registry_message(b).unwrap(), "manifest unknown (manifest unknown)");
        assert_eq!(registry_message("<html>"), None);
        assert_eq!(describe_scope("repository:team/app:pull,push"), "pull and push of team/app");
    }
}
