//! `burrow pull` against an in-process fake registry, for what a real
//! registry will not do on demand: wrong digests, truncated bodies, 500s,
//! a slow trickle, a token dance, a redirect to another host, a lying
//! manifest, a registry that vanishes, and a pull killed with SIGKILL and
//! resumed by the next one. The fake speaks just enough HTTP/1.1 (one
//! request per connection) and records every request it saw.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{rootless_ready, stderr, Env};
use sha2::Digest as _;

#[derive(Debug, Clone)]
struct Request {
    method: String,
    path: String,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// What to answer.
struct Reply {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
    /// Send only this many body bytes, then close (Content-Length still
    /// announces the whole body).
    cut_after: Option<usize>,
    /// Send the body in pieces of this size with this pause between.
    trickle: Option<(usize, Duration)>,
}

impl Reply {
    fn new(status: u16, body: Vec<u8>) -> Reply {
        Reply { status, headers: Vec::new(), body, cut_after: None, trickle: None }
    }
    fn header(mut self, k: &str, v: &str) -> Reply {
        self.headers.push((k.into(), v.into()));
        self
    }
}

type Handler = dyn Fn(&Request) -> Reply + Send + Sync;

struct Fake {
    port: u16,
    requests: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
}

impl Fake {
    fn start(ip: &str, handler: Arc<Handler>) -> Fake {
        let listener = TcpListener::bind((ip, 0)).unwrap();
        let port = listener.local_addr().unwrap().port();
        let requests = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let (reqs, st) = (requests.clone(), stop.clone());
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                if st.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(conn) = conn else { continue };
                let (h, r) = (handler.clone(), reqs.clone());
                std::thread::spawn(move || serve(conn, &*h, &r));
            }
        });
        Fake { port, requests, stop }
    }

    fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    fn seen(&self) -> Vec<Request> {
        self.requests.lock().unwrap().clone()
    }

    /// Stop accepting: later connections are refused.
    fn vanish(&self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(("127.0.0.1", self.port));
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        self.vanish();
    }
}

fn serve(conn: TcpStream, handler: &Handler, log: &Mutex<Vec<Request>>) {
    let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    if reader.read_line(&mut line).unwrap_or(0) == 0 {
        return;
    }
    let mut parts = line.split_whitespace();
    let (method, path) = (parts.next().unwrap_or("").to_string(), parts.next().unwrap_or("").to_string());
    let mut headers = Vec::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
        if let Some((k, v)) = h.trim_end().split_once(':') {
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
    }
    let req = Request { method, path, headers };
    log.lock().unwrap().push(req.clone());
    let reply = handler(&req);
    let mut out = conn;
    let mut head = format!("HTTP/1.1 {} X\r\nContent-Length: {}\r\nConnection: close\r\n", reply.status, reply.body.len());
    for (k, v) in &reply.headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("\r\n");
    if out.write_all(head.as_bytes()).is_err() || req.method == "HEAD" {
        return;
    }
    let body = match reply.cut_after {
        Some(n) => &reply.body[..n.min(reply.body.len())],
        None => &reply.body[..],
    };
    match reply.trickle {
        Some((size, pause)) => {
            for chunk in body.chunks(size) {
                if out.write_all(chunk).is_err() {
                    return;
                }
                let _ = out.flush();
                std::thread::sleep(pause);
            }
        }
        None => {
            let _ = out.write_all(body);
        }
    }
    let _ = out.flush();
    let _ = out.shutdown(std::net::Shutdown::Both);
}

fn sha(b: &[u8]) -> String {
    format!("sha256:{:x}", sha2::Sha256::digest(b))
}

/// A one-layer busybox image: gzip layer, config, manifest.
struct Image {
    layer: Vec<u8>,
    layer_digest: String,
    config: Vec<u8>,
    config_digest: String,
    manifest: Vec<u8>,
}

fn image(dir: &std::path::Path) -> Image {
    let tar_path = dir.join("layer.tar");
    common::busybox_tar(&tar_path);
    let tar = std::fs::read(&tar_path).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&tar).unwrap();
    let layer = gz.finish().unwrap();
    let config = serde_json::to_vec(&serde_json::json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin"], "Cmd": ["sh"]},
        "rootfs": {"type": "layers", "diff_ids": [sha(&tar)]},
    }))
    .unwrap();
    let manifest = manifest_for(&config, &layer, layer.len());
    Image { layer_digest: sha(&layer), config_digest: sha(&config), layer, config, manifest }
}

fn manifest_for(config: &[u8], layer: &[u8], claimed_size: usize) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": sha(config), "size": config.len()},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": sha(layer), "size": claimed_size}],
    }))
    .unwrap()
}

/// The standard answers for `img` in repository `app`; `layer` decides
/// how the layer blob is served (given the request and how many layer
/// requests came before).
fn registry(img: Arc<Image>, layer: impl Fn(&Request, usize, &Image) -> Reply + Send + Sync + 'static) -> Arc<Handler> {
    let count = AtomicUsize::new(0);
    Arc::new(move |r: &Request| {
        let manifest_path = "/v2/app/manifests/latest";
        if r.path == "/v2/" {
            Reply::new(200, b"{}".to_vec())
        } else if r.path == manifest_path || r.path == format!("/v2/app/manifests/{}", sha(&img.manifest)) {
            Reply::new(200, img.manifest.clone()).header("Content-Type", "application/vnd.oci.image.manifest.v1+json")
        } else if r.path == format!("/v2/app/blobs/{}", img.config_digest) {
            Reply::new(200, img.config.clone())
        } else if r.path == format!("/v2/app/blobs/{}", img.layer_digest) {
            let n = count.fetch_add(1, Ordering::SeqCst);
            layer(r, n, &img)
        } else {
            Reply::new(404, br#"{"errors":[{"code":"NOT_FOUND","message":"no"}]}"#.to_vec())
        }
    })
}

/// Serve `body` honouring a `Range: bytes=N-` request.
fn ranged(r: &Request, body: &[u8]) -> Reply {
    if let Some(start) =
        r.header("Range").and_then(|v| v.strip_prefix("bytes=")).and_then(|v| v.trim_end_matches('-').parse::<usize>().ok())
    {
        return Reply::new(206, body[start..].to_vec())
            .header("Content-Range", &format!("bytes {start}-{}/{}", body.len() - 1, body.len()));
    }
    Reply::new(200, body.to_vec())
}

fn pull(e: &Env, host: &str, extra_env: &[(&str, &str)]) -> std::process::Output {
    let mut c = e.cmd(&["pull", "--tls-verify=false", &format!("{host}/app")]);
    c.env("XDG_CONFIG_HOME", e.dir.path().join("config"));
    for (k, v) in extra_env {
        c.env(k, v);
    }
    c.output().unwrap()
}

fn pulled_and_runs(e: &Env, host: &str, o: &std::process::Output) {
    assert!(o.status.success(), "pull failed: {}", stderr(o));
    let out = e.ok(&["run", "--rm", &format!("{host}/app"), "echo", "pulled"]);
    assert_eq!(out.trim(), "pulled");
}

/// The store without burrow's resumable downloads.
fn listing(e: &Env) -> Vec<String> {
    e.store_listing().into_iter().filter(|l| !l.starts_with("downloads/")).collect()
}

#[test]
fn a_wrong_digest_is_refused_and_the_next_pull_completes() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let good = Arc::new(AtomicBool::new(false));
    let g = good.clone();
    let fake = Fake::start(
        "127.0.0.1",
        registry(img, move |r, _, img| {
            if g.load(Ordering::SeqCst) {
                ranged(r, &img.layer)
            } else {
                let mut bad = img.layer.clone();
                let mid = bad.len() / 2;
                bad[mid] ^= 0xff;
                Reply::new(200, bad)
            }
        }),
    );
    e.ok(&["images"]);
    let before = listing(&e);
    let o = pull(&e, &fake.host(), &[]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("layer sha256:"), "the message names the layer: {msg}");
    assert!(msg.contains("does not match its digest"), "the message says what is wrong: {msg}");
    assert!(!msg.contains("not a tar") && !msg.contains("format"), "a digest mismatch is not a format error: {msg}");
    assert_eq!(listing(&e), before, "a failed pull must not change the store");
    let kept: u64 =
        std::fs::read_dir(e.root.join("downloads")).map(|d| d.flatten().map(|f| f.metadata().unwrap().len()).sum()).unwrap_or(0);
    assert_eq!(kept, 0, "bytes that failed their digest must not be kept for resuming");
    good.store(true, Ordering::SeqCst);
    let o = pull(&e, &fake.host(), &[]);
    pulled_and_runs(&e, &fake.host(), &o);
}

#[test]
fn a_truncated_body_is_resumed_with_a_range_request() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let fake = Fake::start(
        "127.0.0.1",
        registry(img.clone(), |r, n, img| {
            let mut reply = ranged(r, &img.layer);
            if n == 0 {
                reply.cut_after = Some(img.layer.len() / 3);
            }
            reply
        }),
    );
    let o = pull(&e, &fake.host(), &[]);
    pulled_and_runs(&e, &fake.host(), &o);
    let ranges: Vec<String> = fake.seen().iter().filter_map(|r| r.header("Range").map(str::to_string)).collect();
    assert_eq!(ranges.len(), 1, "one resume: {ranges:?}");
    let start: usize = ranges[0].trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
    assert!(start > 0 && start <= img.layer.len() / 3, "resumed at {start}");
}

#[test]
fn server_errors_are_retried() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let inner = registry(img, |r, n, img| if n < 2 { Reply::new(500, b"oops".to_vec()) } else { ranged(r, &img.layer) });
    let manifests = AtomicUsize::new(0);
    let fake = Fake::start(
        "127.0.0.1",
        Arc::new(move |r: &Request| {
            if r.path.contains("/manifests/") && manifests.fetch_add(1, Ordering::SeqCst) == 0 {
                return Reply::new(503, b"busy".to_vec());
            }
            inner(r)
        }),
    );
    let o = pull(&e, &fake.host(), &[]);
    pulled_and_runs(&e, &fake.host(), &o);
}

#[test]
fn a_slow_trickle_completes_when_bytes_keep_coming() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let fake = Fake::start(
        "127.0.0.1",
        registry(img.clone(), |r, _, img| {
            let mut reply = ranged(r, &img.layer);
            reply.trickle = Some((img.layer.len() / 12 + 1, Duration::from_millis(250)));
            reply
        }),
    );
    // Three seconds in all, never a second without bytes.
    let o = pull(&e, &fake.host(), &[("BURROW_REGISTRY_TIMEOUT", "1")]);
    pulled_and_runs(&e, &fake.host(), &o);
}

#[test]
fn a_bearer_token_is_fetched_after_a_401_and_blobs_follow_a_redirect_without_it() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    // The blob host: another address and port, as a CDN would be.
    let blob_img = img.clone();
    let cdn = Fake::start("127.0.0.2", Arc::new(move |r: &Request| ranged(r, &blob_img.layer)));
    let cdn_url = format!("http://127.0.0.2:{}/blob", cdn.port);
    let port = Arc::new(Mutex::new(0u16));
    let p = port.clone();
    let inner = registry(img.clone(), move |_, _, _| Reply::new(307, Vec::new()).header("Location", &cdn_url));
    let fake = Fake::start(
        "127.0.0.1",
        Arc::new(move |r: &Request| {
            let realm = format!("http://127.0.0.1:{}/token", p.lock().unwrap());
            if r.path.starts_with("/token") {
                return Reply::new(200, br#"{"token":"t0ken"}"#.to_vec());
            }
            if r.header("Authorization") != Some("Bearer t0ken") {
                let challenge = format!(r#"Bearer realm="{realm}",service="fake",scope="repository:app:pull""#);
                return Reply::new(401, b"{}".to_vec()).header("WWW-Authenticate", &challenge);
            }
            inner(r)
        }),
    );
    *port.lock().unwrap() = fake.port;
    let o = pull(&e, &fake.host(), &[]);
    pulled_and_runs(&e, &fake.host(), &o);
    let seen = fake.seen();
    let token = seen.iter().find(|r| r.path.starts_with("/token")).expect("a token request");
    assert!(token.path.contains("service=fake") && token.path.contains("scope=repository%3Aapp%3Apull"), "{}", token.path);
    assert!(cdn.seen().iter().all(|r| r.header("Authorization").is_none()), "the token must not follow a redirect to another host");
    assert!(!cdn.seen().is_empty(), "the blob came from the redirect target");
}

#[test]
fn a_manifest_that_lies_about_sizes_is_refused() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = image(e.dir.path());
    e.ok(&["images"]);
    let before = listing(&e);
    // Short by a little, by half, and a size smaller than any gzip header.
    for claimed in [img.layer.len() - 100, img.layer.len() / 2, 10] {
        let lying = Image { manifest: manifest_for(&img.config, &img.layer, claimed), ..image(e.dir.path()) };
        let fake = Fake::start("127.0.0.1", registry(Arc::new(lying), |r, _, img| ranged(r, &img.layer)));
        let o = pull(&e, &fake.host(), &[]);
        assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
        let msg = stderr(&o);
        assert!(msg.contains("layer sha256:") && msg.contains("more bytes than the manifest"), "claimed {claimed}: {msg}");
        assert!(!msg.contains("not a tar"), "a size mismatch is not a format error: {msg}");
        assert_eq!(listing(&e), before);
    }
}

#[test]
fn a_registry_that_vanishes_mid_pull_is_a_clear_error() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let vanish = Arc::new(Mutex::new(None::<Arc<AtomicBool>>));
    let v = vanish.clone();
    let fake = Fake::start(
        "127.0.0.1",
        registry(img, move |r, _, img| {
            if let Some(flag) = v.lock().unwrap().as_ref() {
                flag.store(true, Ordering::SeqCst);
            }
            let mut reply = ranged(r, &img.layer);
            reply.cut_after = Some(img.layer.len() / 2);
            reply
        }),
    );
    *vanish.lock().unwrap() = Some(fake.stop.clone());
    e.ok(&["images"]);
    let before = listing(&e);
    let o = pull(&e, &fake.host(), &[]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    let msg = stderr(&o);
    assert!(msg.contains("layer sha256:") && msg.contains(&fake.host()), "{msg}");
    assert!(msg.contains("pull again") || msg.contains("resume"), "{msg}");
    assert_eq!(listing(&e), before);
    assert!(e.ok(&["images", "-q"]).trim().is_empty());
}

#[test]
fn a_pull_killed_with_sigkill_is_resumed_by_the_next_one() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let slow = Arc::new(AtomicBool::new(true));
    let s = slow.clone();
    let fake = Fake::start(
        "127.0.0.1",
        registry(img.clone(), move |r, _, img| {
            let mut reply = ranged(r, &img.layer);
            if s.load(Ordering::SeqCst) {
                reply.trickle = Some((4096, Duration::from_millis(20)));
            }
            reply
        }),
    );
    let mut c = e.cmd(&["pull", "--tls-verify=false", &format!("{}/app", fake.host())]);
    c.env("XDG_CONFIG_HOME", e.dir.path().join("config")).stdout(std::process::Stdio::null()).stderr(std::process::Stdio::null());
    let mut child = c.spawn().unwrap();
    let part = e.root.join("downloads").join(format!("{}.partial", &img.layer_digest[7..]));
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while std::fs::metadata(&part).map(|m| m.len()).unwrap_or(0) < 64 * 1024 {
        assert!(std::time::Instant::now() < deadline, "the download never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    let kept = std::fs::metadata(&part).unwrap().len() as usize;
    assert!(kept > 0 && kept < img.layer.len());
    assert!(e.ok(&["images", "-q"]).trim().is_empty(), "nothing is named before the commit point");
    slow.store(false, Ordering::SeqCst);
    let before = fake.seen().len();
    let o = pull(&e, &fake.host(), &[]);
    pulled_and_runs(&e, &fake.host(), &o);
    let resumed: Vec<String> = fake.seen()[before..].iter().filter_map(|r| r.header("Range").map(str::to_string)).collect();
    assert_eq!(resumed.len(), 1, "{resumed:?}");
    let start: usize = resumed[0].trim_start_matches("bytes=").trim_end_matches('-').parse().unwrap();
    assert!(start >= kept.min(64 * 1024), "resumed at {start}, {kept} bytes were on disk");
    assert!(!part.exists(), "the finished download became the blob");
}

#[test]
fn a_full_disk_is_a_clear_error_and_the_store_stays_usable() {
    if !rootless_ready() {
        return;
    }
    let unshare_ok =
        std::process::Command::new("unshare").args(["--user", "--map-root-user", "--mount", "true"]).status().is_ok_and(|s| s.success());
    if !common::require(unshare_ok, "unshare(1) with user and mount namespaces (util-linux)") {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let fake = Fake::start("127.0.0.1", registry(img.clone(), |r, _, img| ranged(r, &img.layer)));
    // A tmpfs too small for the layer and its unpacked tree, in a mount
    // namespace of our own; then made large enough for a second pull.
    let disk = e.dir.path().join("disk");
    std::fs::create_dir(&disk).unwrap();
    let burrow = common::burrow_bin();
    let script = format!(
        r#"set -u
mount -t tmpfs -o size={small} tmpfs "$D" || exit 90
export BURROW_ROOT="$D/store" BURROW_USERNS=single-id
"$B" pull --tls-verify=false "$H/app"; echo "first=$?"
"$B" images -q; echo "images=$?"
"$B" system check; echo "check=$?"
mount -t tmpfs -o remount,size=64m tmpfs "$D" || exit 91
"$B" pull -q --tls-verify=false "$H/app"; echo "second=$?"
"$B" system check; echo "check2=$?"
"#,
        small = img.layer.len() + 512 * 1024
    );
    let o = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--mount", "sh", "-c", &script])
        .env("D", &disk)
        .env("B", &burrow)
        .env("H", fake.host())
        .env("XDG_CONFIG_HOME", e.dir.path().join("config"))
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout).to_string();
    let err = stderr(&o);
    assert!(out.contains("first=125"), "a full disk fails the pull with 125:\n{out}\n{err}");
    assert!(err.contains("is full") && err.contains("layer sha256:"), "the error names the cause and the layer:\n{err}");
    assert!(out.contains("images=0") && out.contains("check=0"), "the store is usable and consistent after:\n{out}\n{err}");
    assert!(out.contains("second=0") && out.contains("check2=0"), "the next pull completes:\n{out}\n{err}");
    assert!(out.contains(&img.config_digest), "the second pull printed the image id:\n{out}");
}

#[test]
fn an_image_index_gives_the_platform_asked_for() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let host_arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        other => other,
    };
    let other_arch = if host_arch == "arm64" { "amd64" } else { "arm64" };
    // The other platform's manifest is absent: choosing it is an error the
    // test can see.
    let missing = format!("sha256:{}", "e".repeat(64));
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": missing, "size": 10,
             "platform": {"os": "linux", "architecture": other_arch}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": sha(&img.manifest), "size": img.manifest.len(),
             "platform": {"os": "linux", "architecture": host_arch}},
            {"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{}", "a".repeat(64)), "size": 10,
             "platform": {"os": "unknown", "architecture": "unknown"}},
        ],
    }))
    .unwrap();
    let inner = registry(img.clone(), |r, _, img| ranged(r, &img.layer));
    let fake = Fake::start(
        "127.0.0.1",
        Arc::new(move |r: &Request| {
            if r.path == "/v2/app/manifests/latest" {
                return Reply::new(200, index.clone()).header("Content-Type", "application/vnd.oci.image.index.v1+json");
            }
            inner(r)
        }),
    );
    let pull_platform = |platform: Option<&str>| {
        let mut args = vec!["pull".to_string(), "-q".into(), "--tls-verify=false".into()];
        if let Some(p) = platform {
            args.push(format!("--platform={p}"));
        }
        args.push(format!("{}/app", fake.host()));
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        e.cmd(&a).env("XDG_CONFIG_HOME", e.dir.path().join("config")).output().unwrap()
    };
    let o = pull_platform(Some("linux/s390x"));
    assert_eq!(o.status.code(), Some(125));
    assert!(
        stderr(&o).contains("no image for platform linux/s390x") && stderr(&o).contains(&format!("linux/{other_arch}")),
        "{}",
        stderr(&o)
    );
    let o = pull_platform(Some(&format!("linux/{other_arch}")));
    assert_eq!(o.status.code(), Some(125), "the other platform's manifest is not there");
    assert!(fake.seen().iter().any(|r| r.path.ends_with(&missing)), "--platform chose the other manifest");
    let o = pull_platform(None);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), img.config_digest, "this machine's platform by default");
    assert_eq!(e.ok(&["run", "--rm", &format!("{}/app", fake.host()), "echo", "indexed"]).trim(), "indexed");
}

#[test]
fn two_pulls_of_one_image_at_once_both_succeed() {
    if !rootless_ready() {
        return;
    }
    let e = Env::new();
    let img = Arc::new(image(e.dir.path()));
    let fake = Fake::start(
        "127.0.0.1",
        registry(img.clone(), |r, _, img| {
            let mut reply = ranged(r, &img.layer);
            reply.trickle = Some((64 * 1024, Duration::from_millis(30)));
            reply
        }),
    );
    let spawn = || {
        e.cmd(&["pull", "-q", "--tls-verify=false", &format!("{}/app", fake.host())])
            .env("XDG_CONFIG_HOME", e.dir.path().join("config"))
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (a, b) = (spawn(), spawn());
    for o in [a.wait_with_output().unwrap(), b.wait_with_output().unwrap()] {
        assert!(o.status.success(), "{}", stderr(&o));
        assert_eq!(String::from_utf8_lossy(&o.stdout).trim(), img.config_digest);
    }
    assert_eq!(e.ok(&["system", "check"]).trim(), "no problems found");
    assert_eq!(e.ok(&["run", "--rm", &format!("{}/app", fake.host()), "echo", "both"]).trim(), "both");
    let left: Vec<_> = std::fs::read_dir(e.root.join("downloads")).unwrap().collect();
    assert!(left.is_empty(), "no partial download is left: {left:?}");
}
