//! A private OCI registry per test: Debian's `docker-registry` (distribution
//! 2.8) on a free 127.0.0.1 port, with its own storage, config and log,
//! killed when the [`Registry`] is dropped.
//!
//! Two flavours: [`Registry::plain`] speaks HTTP without authentication;
//! [`Registry::tls_auth`] speaks HTTPS with a certificate for `127.0.0.1`
//! and `localhost` signed by a CA made for this one registry (openssl), and
//! asks for basic authentication against an htpasswd file (bcrypt, the only
//! hash distribution accepts). Images are put in and read back with skopeo,
//! an independent client, so a test of burrow never depends on burrow to
//! set up or to check.
//!
//! The registry writes one access-log line per request to its stdout and
//! its warnings and errors to its stderr; both go to files
//! ([`Registry::log`]); [`Registry::blob_gets`] counts the blob downloads
//! in the access log.
//!
//! Prerequisites (packaging/provision.sh installs them): docker-registry,
//! skopeo, and for the TLS flavour openssl and htpasswd (apache2-utils);
//! see [`registry_ready`] and [`tls_ready`].

use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::require;

const REGISTRY_BIN: &str = "/usr/bin/docker-registry";

/// The user and password the TLS registry accepts.
pub const USER: &str = "burrow";
pub const PASSWORD: &str = "s3cret-Pass";

fn on_path(prog: &str) -> bool {
    std::env::var_os("PATH").map(|p| std::env::split_paths(&p).any(|d| d.join(prog).is_file())).unwrap_or(false)
}

/// docker-registry and skopeo are there.
pub fn registry_ready() -> bool {
    require(Path::new(REGISTRY_BIN).exists(), "/usr/bin/docker-registry (package docker-registry)")
        && require(on_path("skopeo"), "skopeo (package skopeo)")
}

/// What the TLS registry needs besides [`registry_ready`].
pub fn tls_ready() -> bool {
    registry_ready()
        && require(on_path("openssl"), "openssl (package openssl)")
        && require(on_path("htpasswd"), "htpasswd (package apache2-utils)")
}

/// An OCI image layout the tests seed registries from, named by an
/// environment variable (packaging/test.sh sets them); `None` after saying
/// why when it is missing.
pub fn layout(var: &str) -> Option<PathBuf> {
    let dir = std::env::var_os(var).map(PathBuf::from);
    let ok = dir.as_ref().is_some_and(|d| d.join("index.json").is_file());
    require(ok, &format!("${var}: an OCI image layout (packaging/test.sh builds it)")).then(|| dir.unwrap())
}

/// The busybox layout (two layers, tag `latest`).
pub fn busybox_oci() -> Option<PathBuf> {
    layout("BURROW_TEST_BUSYBOX_OCI")
}

/// The Debian bookworm minbase layout (four layers, tag `bookworm`).
pub fn debian_oci() -> Option<PathBuf> {
    layout("BURROW_TEST_DEBIAN_OCI")
}

/// The manifest a layout's index.json tags `reference`, as JSON.
pub fn layout_manifest(layout: &Path, reference: &str) -> serde_json::Value {
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(layout.join("index.json")).expect("index.json")).expect("index.json is JSON");
    let desc = index["manifests"]
        .as_array()
        .expect("manifests")
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == reference)
        .unwrap_or_else(|| panic!("{} has no manifest tagged {reference}", layout.display()));
    let digest = desc["digest"].as_str().unwrap();
    let blob = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&std::fs::read(blob).expect("manifest blob")).expect("manifest is JSON")
}

/// The layer digests of a layout's manifest, in order.
pub fn layout_layers(layout: &Path, reference: &str) -> Vec<String> {
    layout_manifest(layout, reference)["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_string()).collect()
}

/// A 127.0.0.1 port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    let l = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    l.local_addr().unwrap().port()
}

/// The CA and login of a TLS registry.
pub struct Tls {
    /// The CA certificate (PEM) that signed the registry's certificate.
    pub ca: PathBuf,
    pub user: String,
    pub password: String,
}

pub struct Registry {
    pub dir: tempfile::TempDir,
    pub port: u16,
    pub tls: Option<Tls>,
    child: Child,
    access_log: PathBuf,
    error_log: PathBuf,
}

impl Registry {
    /// An HTTP registry without authentication.
    pub fn plain() -> Registry {
        Registry::start(false)
    }

    /// An HTTPS registry that wants `USER`/`PASSWORD`.
    pub fn tls_auth() -> Registry {
        Registry::start(true)
    }

    fn start(tls: bool) -> Registry {
        let dir = tempfile::Builder::new().prefix("burrow-registry.").tempdir_in("/tmp").expect("tempdir");
        let tls = tls.then(|| make_tls(dir.path()));
        let access_log = dir.path().join("access.log");
        let error_log = dir.path().join("registry.log");
        // A port found free may be taken before the registry binds it:
        // try a few.
        let mut last = String::new();
        for _ in 0..5 {
            let port = free_port();
            let config = dir.path().join("config.yml");
            std::fs::write(&config, config_yaml(dir.path(), port, tls.is_some())).unwrap();
            let mut child = Command::new(REGISTRY_BIN)
                .arg("serve")
                .arg(&config)
                .stdin(Stdio::null())
                .stdout(std::fs::File::create(&access_log).unwrap())
                .stderr(std::fs::File::create(&error_log).unwrap())
                .spawn()
                .expect("start docker-registry");
            match wait_ready(&mut child, port, tls.as_ref()) {
                Ok(()) => return Registry { dir, port, tls, child, access_log, error_log },
                Err(e) => {
                    last = format!("{e}\n{}", std::fs::read_to_string(&error_log).unwrap_or_default());
                    let _ = child.kill();
                    let _ = child.wait();
                }
            }
        }
        panic!("docker-registry did not start: {last}");
    }

    /// `127.0.0.1:PORT`, the registry part of a reference.
    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/REPO[:TAG|@DIGEST]`.
    pub fn reference(&self, repo: &str) -> String {
        format!("{}/{repo}", self.host())
    }

    pub fn url(&self) -> String {
        url(self.port, self.tls.as_ref())
    }

    /// curl of `PATH` (such as `/v2/_catalog`) on this registry, trusting
    /// its CA and logging in.
    pub fn curl(&self, path: &str, args: &[&str]) -> Output {
        curl(self.port, self.tls.as_ref(), path, args)
    }

    /// The access log so far: one line per request,
    /// `127.0.0.1 - - [DATE] "GET /v2/REPO/blobs/sha256:… HTTP/1.1" 200 SIZE "" "AGENT"`.
    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.access_log).unwrap_or_default()
    }

    /// The registry's own warnings and errors so far.
    pub fn errors(&self) -> String {
        std::fs::read_to_string(&self.error_log).unwrap_or_default()
    }

    /// Successful downloads of the blob `digest` so far (any repository).
    pub fn blob_gets(&self, digest: &str) -> usize {
        let needle = format!("/blobs/{digest} HTTP/1.1\" 200 ");
        self.log().lines().filter(|l| l.contains("\"GET /v2/") && l.contains(&needle)).count()
    }

    /// skopeo with this registry's trust and credentials for a docker://
    /// source (`src` true) or destination.
    fn skopeo_flags(&self, side: &str) -> Vec<String> {
        match &self.tls {
            None => vec![format!("--{side}tls-verify=false")],
            Some(t) => {
                vec![format!("--{side}cert-dir={}", t.ca.parent().unwrap().display()), format!("--{side}creds={}:{}", t.user, t.password)]
            }
        }
    }

    fn skopeo(&self, args: &[String]) -> String {
        let o = Command::new("skopeo").args(args).stdin(Stdio::null()).output().expect("skopeo runs");
        assert!(
            o.status.success(),
            "skopeo {args:?} failed: {}\n{}\nregistry log:\n{}",
            o.status,
            String::from_utf8_lossy(&o.stderr),
            self.log()
        );
        String::from_utf8_lossy(&o.stdout).into_owned()
    }

    /// Copy the image tagged `reference` in the OCI layout to `REPO:TAG`
    /// here, byte for byte (`--preserve-digests`: without it skopeo would
    /// gzip an uncompressed layer); returns the manifest digest the registry
    /// has for it, the one in the layout's index.json.
    pub fn seed(&self, layout: &Path, reference: &str, repo_tag: &str) -> String {
        let mut args = vec!["copy".to_string(), "--quiet".to_string(), "--preserve-digests".to_string()];
        args.extend(self.skopeo_flags("dest-"));
        args.push(format!("oci:{}:{reference}", layout.display()));
        args.push(format!("docker://{}", self.reference(repo_tag)));
        self.skopeo(&args);
        self.digest(repo_tag)
    }

    /// The manifest digest of `REPO[:TAG|@DIGEST]` as skopeo reads it.
    pub fn digest(&self, repo_ref: &str) -> String {
        let mut args = vec!["inspect".to_string(), "--format={{.Digest}}".to_string()];
        args.extend(self.skopeo_flags(""));
        args.push(format!("docker://{}", self.reference(repo_ref)));
        self.skopeo(&args).trim().to_string()
    }

    /// `skopeo inspect` of `REPO[:TAG|@DIGEST]` (docker's JSON, with
    /// Digest, Layers, Architecture …).
    pub fn inspect(&self, repo_ref: &str) -> serde_json::Value {
        let mut args = vec!["inspect".to_string()];
        args.extend(self.skopeo_flags(""));
        args.push(format!("docker://{}", self.reference(repo_ref)));
        serde_json::from_str(&self.skopeo(&args)).expect("skopeo inspect prints JSON")
    }

    /// Put the CA into `dir/ca.crt`, a directory for `--cert-dir`.
    pub fn write_cert_dir(&self, dir: &Path) {
        let t = self.tls.as_ref().expect("a TLS registry");
        std::fs::create_dir_all(dir).unwrap();
        std::fs::copy(&t.ca, dir.join("ca.crt")).unwrap();
    }

    /// Put the CA where podman looks for it under a config home:
    /// `CONFIG_HOME/containers/certs.d/127.0.0.1:PORT/ca.crt`.
    pub fn write_certs_d(&self, config_home: &Path) {
        self.write_cert_dir(&config_home.join("containers/certs.d").join(self.host()));
    }

    /// Stop the registry now (the port is then closed).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
        if std::thread::panicking() {
            eprintln!("--- registry {} access log:\n{}", self.host(), self.log());
            eprintln!("--- registry {} errors:\n{}", self.host(), self.errors());
        }
    }
}

fn url(port: u16, tls: Option<&Tls>) -> String {
    let scheme = if tls.is_some() { "https" } else { "http" };
    format!("{scheme}://127.0.0.1:{port}")
}

fn curl(port: u16, tls: Option<&Tls>, path: &str, args: &[&str]) -> Output {
    let mut c = Command::new("curl");
    c.args(["-sS", "--max-time", "10"]);
    if let Some(t) = tls {
        c.arg("--cacert").arg(&t.ca).arg("-u").arg(format!("{}:{}", t.user, t.password));
    }
    c.args(args).arg(format!("{}{path}", url(port, tls))).stdin(Stdio::null());
    c.output().expect("curl runs")
}

/// Wait until `/v2/` answers (200, or 401 when it wants a login).
fn wait_ready(child: &mut Child, port: u16, tls: Option<&Tls>) -> Result<(), String> {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return Err(format!("docker-registry exited: {status}"));
        }
        let listening = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).is_ok();
        let mut answer = String::new();
        if listening {
            let o = curl(port, tls, "/v2/", &["-o", "/dev/null", "-w", "%{http_code}"]);
            answer = String::from_utf8_lossy(&o.stdout).into_owned();
            if answer == "200" || answer == "401" {
                return Ok(());
            }
        }
        if Instant::now() > deadline {
            return Err(if listening {
                format!("GET /v2/ on 127.0.0.1:{port} answered {answer:?}")
            } else {
                format!("nothing listens on 127.0.0.1:{port}")
            });
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn config_yaml(dir: &Path, port: u16, tls: bool) -> String {
    let mut y = format!(
        "version: 0.1\n\
         log:\n  level: warn\n  formatter: text\n  accesslog:\n    disabled: false\n\
         storage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\n\
         http:\n  addr: 127.0.0.1:{port}\n  secret: burrow-test-secret\n",
        dir.join("storage").display()
    );
    if tls {
        y += &format!(
            "  tls:\n    certificate: {}\n    key: {}\n\
             auth:\n  htpasswd:\n    realm: burrow-test\n    path: {}\n",
            dir.join("tls/server.crt").display(),
            dir.join("tls/server.key").display(),
            dir.join("htpasswd").display()
        );
    }
    y
}

/// A CA, a server certificate for 127.0.0.1 and localhost signed by it, and
/// the htpasswd file. The CA alone goes to `DIR/ca/ca.crt` so that
/// `DIR/ca` can be a `--cert-dir`.
fn make_tls(dir: &Path) -> Tls {
    let t = dir.join("tls");
    let ca_dir = dir.join("ca");
    std::fs::create_dir_all(&t).unwrap();
    std::fs::create_dir_all(&ca_dir).unwrap();
    std::fs::write(
        t.join("ca.cnf"),
        "[req]\ndistinguished_name = dn\nprompt = no\nx509_extensions = v3_ca\n\
         [dn]\nCN = burrow test CA\n\
         [v3_ca]\nbasicConstraints = critical, CA:TRUE\nkeyUsage = critical, keyCertSign, cRLSign\n\
         subjectKeyIdentifier = hash\n",
    )
    .unwrap();
    std::fs::write(
        t.join("server.ext"),
        "basicConstraints = critical, CA:FALSE\nkeyUsage = critical, digitalSignature, keyEncipherment\n\
         extendedKeyUsage = serverAuth\nsubjectAltName = IP:127.0.0.1, DNS:localhost\n\
         subjectKeyIdentifier = hash\nauthorityKeyIdentifier = keyid\n",
    )
    .unwrap();
    let ca = ca_dir.join("ca.crt");
    let s = |p: &str| t.join(p).display().to_string();
    openssl(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "2",
        "-config",
        &s("ca.cnf"),
        "-keyout",
        &s("ca.key"),
        "-out",
        &ca.display().to_string(),
    ]);
    openssl(&[
        "req",
        "-new",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-subj",
        "/CN=127.0.0.1",
        "-keyout",
        &s("server.key"),
        "-out",
        &s("server.csr"),
    ]);
    openssl(&[
        "x509",
        "-req",
        "-in",
        &s("server.csr"),
        "-CA",
        &ca.display().to_string(),
        "-CAkey",
        &s("ca.key"),
        "-CAcreateserial",
        "-days",
        "2",
        "-extfile",
        &s("server.ext"),
        "-out",
        &s("server.crt"),
    ]);
    let o = Command::new("htpasswd").args(["-Bbn", USER, PASSWORD]).output().expect("htpasswd runs");
    assert!(o.status.success(), "htpasswd: {}", String::from_utf8_lossy(&o.stderr));
    std::fs::write(dir.join("htpasswd"), &o.stdout).unwrap();
    Tls { ca, user: USER.into(), password: PASSWORD.into() }
}

fn openssl(args: &[&str]) {
    let o = Command::new("openssl").args(args).stdin(Stdio::null()).output().expect("openssl runs");
    assert!(o.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&o.stderr));
}
