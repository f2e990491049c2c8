//! `burrow pull`, `push`, `login` and `logout` against a real registry
//! (distribution's `docker-registry`, started per test by
//! `common::registry`), as an unprivileged user.
//!
//! Images reach the registry through skopeo and are read back with skopeo,
//! so burrow is never its own witness. Each test has its own registry, its
//! own store, and its own `HOME` and `XDG_CONFIG_HOME` (temporary
//! directories), so no credentials, certificates or registries.conf of the
//! user running the tests leak in.
//!
//! The `harness_*` tests check only the registry and skopeo side, without
//! burrow.

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::registry::{self, Registry};
use common::{rootless_ready, stderr, stdout, Env};

/// One test's burrow: a private store, HOME and XDG_CONFIG_HOME.
struct Client {
    env: Env,
    home: PathBuf,
    config: PathBuf,
}

impl Client {
    fn new() -> Client {
        let env = Env::new();
        let home = env.dir.path().join("home");
        let config = env.dir.path().join("config");
        std::fs::create_dir_all(&home).unwrap();
        std::fs::create_dir_all(&config).unwrap();
        Client { env, home, config }
    }

    fn cmd(&self, args: &[&str]) -> Command {
        let mut c = self.env.cmd(args);
        c.env("HOME", &self.home).env("XDG_CONFIG_HOME", &self.config).env_remove("REGISTRY_AUTH_FILE");
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("burrow runs")
    }

    fn run_stdin(&self, args: &[&str], input: &str) -> Output {
        let mut child = self.cmd(args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
        child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
        child.wait_with_output().unwrap()
    }

    fn ok(&self, args: &[&str]) -> String {
        let o = self.run(args);
        assert!(o.status.success(), "burrow {args:?} failed: {}\nstdout: {}\nstderr: {}", o.status, stdout(&o), stderr(&o));
        stdout(&o)
    }

    /// `burrow pull ARGS…`; returns the image id, the last line of stdout.
    fn pull(&self, args: &[&str]) -> String {
        let mut all = vec!["pull"];
        all.extend_from_slice(args);
        image_id(&self.ok(&all))
    }

    /// The default credentials file.
    fn auth_file(&self) -> PathBuf {
        self.config.join("burrow/auth.json")
    }

    fn write_registries_conf(&self, text: &str) {
        let dir = self.config.join("burrow");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("registries.conf"), text).unwrap();
    }

    /// `burrow image inspect`'s RootFS.Layers.
    fn layers(&self, image: &str) -> Vec<String> {
        let out = self.ok(&["image", "inspect", image]);
        let v: serde_json::Value = serde_json::from_str(&out).expect("inspect prints JSON");
        let v = if v.is_array() { v[0].clone() } else { v };
        v["RootFS"]["Layers"].as_array().expect("RootFS.Layers").iter().map(|l| l.as_str().unwrap().to_string()).collect()
    }
}

fn client() -> Option<Client> {
    (rootless_ready() && registry::registry_ready()).then(Client::new)
}

/// The last line of `pull`'s stdout, checked to be `sha256:<64 hex>`.
fn image_id(out: &str) -> String {
    let id = out.lines().last().unwrap_or("").trim().to_string();
    let hex = id.strip_prefix("sha256:").unwrap_or("");
    assert!(hex.len() == 64 && hex.bytes().all(|b| b.is_ascii_hexdigit()), "last line of stdout is no image id: {out:?}");
    id
}

fn config_digest(layout: &Path, reference: &str) -> String {
    registry::layout_manifest(layout, reference)["config"]["digest"].as_str().unwrap().to_string()
}

fn diff_ids(layout: &Path, reference: &str) -> Vec<String> {
    let cfg = config_digest(layout, reference);
    let blob = layout.join("blobs/sha256").join(cfg.trim_start_matches("sha256:"));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(blob).unwrap()).unwrap();
    v["rootfs"]["diff_ids"].as_array().unwrap().iter().map(|d| d.as_str().unwrap().to_string()).collect()
}

fn says_unauthorized(o: &Output) -> bool {
    let e = stderr(o).to_lowercase();
    e.contains("401") || e.contains("unauthorized")
}

fn base64(data: &[u8]) -> String {
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for c in data.chunks(3) {
        let n = (u32::from(c[0]) << 16) | (u32::from(*c.get(1).unwrap_or(&0)) << 8) | u32::from(*c.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= c.len() {
                out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn read_json(path: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display())))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()))
}

// --- the harness alone ------------------------------------------------------

#[test]
fn harness_plain_registry_takes_and_gives_back_a_layout() {
    if !registry::registry_ready() {
        return;
    }
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    let digest = reg.seed(&layout, "latest", "busybox:latest");
    let index = read_json(&layout.join("index.json"));
    assert_eq!(digest, index["manifests"][0]["digest"], "skopeo copied the manifest unchanged");
    let inspected = reg.inspect("busybox:latest");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), registry::layout_layers(&layout, "latest").len());
    let o = reg.curl("/v2/_catalog", &[]);
    assert!(stdout(&o).contains("\"busybox\""), "{}", stdout(&o));
    // skopeo inspect downloads the config (once in seed, once above), not
    // the layers: blob_gets sees exactly that.
    assert_eq!(reg.blob_gets(&config_digest(&layout, "latest")), 2, "{}", reg.log());
    for l in registry::layout_layers(&layout, "latest") {
        assert_eq!(reg.blob_gets(&l), 0, "{}", reg.log());
    }
}

#[test]
fn harness_tls_registry_wants_its_ca_and_a_login() {
    if !registry::tls_ready() {
        return;
    }
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::tls_auth();
    reg.seed(&layout, "latest", "busybox:latest");
    let o = reg.curl("/v2/_catalog", &[]);
    assert!(o.status.success() && stdout(&o).contains("\"busybox\""), "{} {}", stdout(&o), stderr(&o));
    // Without credentials: 401.
    let o = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&reg.tls.as_ref().unwrap().ca)
        .arg(format!("{}/v2/_catalog", reg.url()))
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "401");
    // Without the CA: the certificate is refused.
    let o = Command::new("curl").args(["-sS", "-o", "/dev/null"]).arg(format!("{}/v2/", reg.url())).output().unwrap();
    assert!(!o.status.success(), "curl trusted the test CA without being told");
    // By the name localhost too.
    let o = Command::new("curl")
        .args(["-sS", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
        .arg(&reg.tls.as_ref().unwrap().ca)
        .arg(format!("https://localhost:{}/v2/", reg.port))
        .output()
        .unwrap();
    assert_eq!(stdout(&o), "401", "{}", stderr(&o));
}

// --- pull -----------------------------------------------------------------

#[test]
fn pull_busybox_with_tls_verify_false_then_run() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    reg.seed(&layout, "latest", "busybox:latest");
    let name = reg.reference("busybox:latest");
    let id = c.pull(&["--tls-verify=false", &name]);
    assert_eq!(id, config_digest(&layout, "latest"), "the image id is the config digest");
    let images = c.ok(&["images"]);
    assert!(images.contains(&reg.reference("busybox")) && images.contains("latest"), "{images}");
    assert_eq!(c.ok(&["run", "--rm", &name, "echo", "hi"]), "hi\n");
    assert_eq!(c.layers(&name), diff_ids(&layout, "latest"));
}

#[test]
fn pull_insecure_registry_from_registries_conf() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    reg.seed(&layout, "latest", "tools/busybox:1");
    let name = reg.reference("tools/busybox:1");
    c.write_registries_conf(&format!("[[registry]]\nlocation = \"{}\"\ninsecure = true\n", reg.host()));
    let id = c.pull(&["-q", &name]);
    assert_eq!(id, config_digest(&layout, "latest"));
    assert_eq!(c.ok(&["run", "--rm", &name, "echo", "hi"]), "hi\n");
}

#[test]
fn pull_short_name_from_the_default_registry() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    reg.seed(&layout, "latest", "tools/busybox:1");
    c.write_registries_conf(&format!("default-registry = \"{h}\"\n\n[[registry]]\nlocation = \"{h}\"\ninsecure = true\n", h = reg.host()));
    let id = c.pull(&["tools/busybox:1"]);
    assert_eq!(id, config_digest(&layout, "latest"));
    assert_eq!(c.ok(&["run", "--rm", &id, "echo", "hi"]), "hi\n");
}

#[test]
fn pull_from_a_mirror_when_the_registry_is_down() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let mirror = Registry::plain();
    mirror.seed(&layout, "latest", "busybox:latest");
    let down = format!("127.0.0.1:{}", registry::free_port());
    c.write_registries_conf(&format!(
        "[[registry]]\nlocation = \"{down}\"\ninsecure = true\n\n\
         [[registry.mirror]]\nlocation = \"{}\"\ninsecure = true\n",
        mirror.host()
    ));
    let name = format!("{down}/busybox:latest");
    let id = c.pull(&[&name]);
    assert_eq!(id, config_digest(&layout, "latest"));
    assert!(mirror.log().contains("GET /v2/busybox/manifests/latest"), "{}", mirror.log());
    assert_eq!(c.ok(&["run", "--rm", &name, "echo", "hi"]), "hi\n");
}

#[test]
fn pull_by_digest() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    let digest = reg.seed(&layout, "latest", "busybox:latest");
    let name = reg.reference(&format!("busybox@{digest}"));
    let id = c.pull(&["--tls-verify=false", &name]);
    assert_eq!(id, config_digest(&layout, "latest"));
    assert!(reg.log().contains(&format!("GET /v2/busybox/manifests/{digest}")), "{}", reg.log());
    assert_eq!(c.ok(&["run", "--rm", &name, "echo", "hi"]), "hi\n");
    // A digest the registry does not have.
    let missing = reg.reference(&format!("busybox@sha256:{}", "0".repeat(64)));
    let o = c.run(&["pull", "--tls-verify=false", &missing]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
}

#[test]
fn pull_debian_layers_then_pull_again_downloads_nothing() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::debian_oci() else { return };
    let reg = Registry::plain();
    let digest = reg.seed(&layout, "bookworm", "debian:bookworm");
    let name = reg.reference("debian:bookworm");
    let layers = registry::layout_layers(&layout, "bookworm");
    let index = read_json(&layout.join("index.json"));
    assert_eq!(digest, index["manifests"][0]["digest"], "the registry serves the layout's manifest, uncompressed layer included");
    let id = c.pull(&["--tls-verify=false", &name]);
    assert_eq!(id, config_digest(&layout, "bookworm"));
    for l in &layers {
        assert_eq!(reg.blob_gets(l), 1, "layer {l} downloaded once:\n{}", reg.log());
    }
    assert_eq!(c.layers(&name), diff_ids(&layout, "bookworm"), "one layer per layer of the layout (gzip, zstd, gzip, plain)");
    let version = c.ok(&["run", "--rm", &name, "cat", "/etc/debian_version"]);
    assert!(version.starts_with("12."), "{version}");
    let out = c.ok(&["run", "--rm", &name, "sh", "-c", "ls /usr/share/doc | wc -l; ls /var/lib/dpkg/status; id -un"]);
    assert!(out.ends_with("/var/lib/dpkg/status\nroot\n"), "{out}");

    let o = c.run(&["pull", "--tls-verify=false", &name]);
    assert!(o.status.success(), "{}", stderr(&o));
    assert_eq!(image_id(&stdout(&o)), id);
    for l in &layers {
        assert_eq!(reg.blob_gets(l), 1, "layer {l} downloaded again by the second pull:\n{}", reg.log());
    }
}

#[test]
fn pull_of_a_missing_tag_or_repository_fails_with_125() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    reg.seed(&layout, "latest", "busybox:latest");
    for missing in ["busybox:nope", "nothing/here:latest"] {
        let o = c.run(&["pull", "--tls-verify=false", &reg.reference(missing)]);
        assert_eq!(o.status.code(), Some(125), "{missing}: {}", stderr(&o));
        let e = stderr(&o).to_lowercase();
        assert!(e.contains("manifest unknown") || e.contains("not found"), "{missing}: {e}");
    }
    assert!(c.ok(&["images", "-q"]).trim().is_empty(), "a failed pull leaves no image");
}

#[test]
fn pull_from_a_registry_that_is_down_fails_with_125_naming_it() {
    let Some(c) = client() else { return };
    let host = format!("127.0.0.1:{}", registry::free_port());
    let o = c.run(&["pull", "--tls-verify=false", &format!("{host}/busybox:latest")]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(stderr(&o).contains(&host), "the message names the registry: {}", stderr(&o));
}

// --- push -----------------------------------------------------------------

#[test]
fn push_then_read_back_with_skopeo_and_pull_by_digest() {
    let Some(c) = client() else { return };
    let reg = Registry::plain();
    let tar = c.env.dir.path().join("busybox.tar");
    common::busybox_tar(&tar);
    let id = image_id(&c.ok(&["import", tar.to_str().unwrap(), "busybox"]));
    let digest_file = c.env.dir.path().join("digest");
    let dest = reg.reference("team/app:1.0");
    c.ok(&["push", "--tls-verify=false", "--digestfile", digest_file.to_str().unwrap(), "busybox", &dest]);
    let pushed = std::fs::read_to_string(&digest_file).expect("--digestfile written").trim().to_string();
    assert_eq!(pushed, reg.digest("team/app:1.0"), "the digest file names the manifest the registry has");
    let inspected = reg.inspect("team/app:1.0");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), 1, "{inspected}");
    assert_eq!(inspected["Os"], "linux");

    // A second repository on the same registry (the layer may be mounted
    // from team/app rather than uploaded again).
    let other = reg.reference("team/other:2.0");
    let digest_file2 = c.env.dir.path().join("digest2");
    c.ok(&["push", "-q", "--tls-verify=false", "--digestfile", digest_file2.to_str().unwrap(), "busybox", &other]);
    let pushed2 = std::fs::read_to_string(&digest_file2).unwrap().trim().to_string();
    assert_eq!(pushed2, reg.digest("team/other:2.0"));
    assert_eq!(pushed2, pushed, "the same image gives the same manifest");
    if !reg.log().contains("POST /v2/team/other/blobs/uploads/?") || !reg.log().contains("mount=") {
        eprintln!("note: the second push uploaded its layer again instead of mounting it from team/app");
    }

    c.ok(&["rmi", "busybox"]);
    assert!(!c.ok(&["images"]).contains("busybox"));
    let by_digest = reg.reference(&format!("team/other@{pushed2}"));
    assert_eq!(c.pull(&["--tls-verify=false", &by_digest]), id, "pulled back, the image has its old id");
    assert_eq!(c.ok(&["run", "--rm", &by_digest, "echo", "hi"]), "hi\n");
}

#[test]
fn push_to_the_images_own_name() {
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::plain();
    reg.seed(&layout, "latest", "busybox:latest");
    let name = reg.reference("busybox:latest");
    c.pull(&["--tls-verify=false", &name]);
    let copy = reg.reference("copy/busybox:v2");
    c.ok(&["tag", &name, &copy]);
    c.ok(&["push", "--tls-verify=false", &copy]);
    let inspected = reg.inspect("copy/busybox:v2");
    assert_eq!(inspected["Layers"].as_array().unwrap().len(), registry::layout_layers(&layout, "latest").len());
}

// --- TLS and login ----------------------------------------------------------

#[test]
fn login_pull_logout_against_tls_with_basic_auth() {
    if !registry::tls_ready() {
        return;
    }
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::tls_auth();
    reg.seed(&layout, "latest", "busybox:latest");
    let host = reg.host();
    let certs = c.env.dir.path().join("certs");
    reg.write_cert_dir(&certs);
    let certs = certs.to_str().unwrap();
    let name = reg.reference("busybox:latest");
    let auth = c.auth_file();

    // Not logged in.
    let o = c.run(&["pull", "--cert-dir", certs, &name]);
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(says_unauthorized(&o), "pull without login: {}", stderr(&o));

    // A wrong password is refused and nothing is stored.
    let o = c.run(&["login", "-u", registry::USER, "-p", "wrong-password", "--cert-dir", certs, &host]);
    assert!(!o.status.success(), "login with a wrong password succeeded: {}", stdout(&o));
    assert!(says_unauthorized(&o), "{}", stderr(&o));
    assert!(!auth.exists(), "a failed login wrote {}", auth.display());

    // Without -u and without a terminal, it says what to pass.
    let o = c.run(&["login", "--cert-dir", certs, &host]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("pass -u NAME and the password with --password-stdin"), "{}", stderr(&o));

    // The right one, on stdin.
    let o = c.run_stdin(&["login", "-u", registry::USER, "--password-stdin", "--cert-dir", certs, &host], registry::PASSWORD);
    assert!(o.status.success(), "login: {}", stderr(&o));
    assert!(stdout(&o).contains("Login Succeeded!"), "{}", stdout(&o));
    assert!(!stdout(&o).contains(registry::PASSWORD) && !stderr(&o).contains(registry::PASSWORD), "the password is echoed");
    let stored = read_json(&auth);
    assert_eq!(stored["auths"][&host]["auth"], base64(format!("{}:{}", registry::USER, registry::PASSWORD).as_bytes()), "{stored}");

    // Logged in, the CA from --cert-dir, TLS verified.
    let id = c.pull(&["--cert-dir", certs, &name]);
    assert_eq!(id, config_digest(&layout, "latest"));
    assert_eq!(c.ok(&["run", "--rm", &name, "echo", "hi"]), "hi\n");

    // Push needs the login too.
    let dest = reg.reference("team/app:1.0");
    c.ok(&["push", "--cert-dir", certs, &name, &dest]);
    assert_eq!(reg.digest("team/app:1.0"), reg.digest("busybox:latest"));

    // Without any CA the certificate is not trusted.
    c.ok(&["rmi", &name]);
    let o = c.run(&["pull", &name]);
    assert_eq!(o.status.code(), Some(125), "pull trusted an unknown CA: {}", stderr(&o));

    // The CA where podman keeps it: $XDG_CONFIG_HOME/containers/certs.d/HOST/ca.crt.
    reg.write_certs_d(&c.config);
    assert_eq!(c.pull(&[&name]), id);

    c.ok(&["logout", &host]);
    if auth.exists() {
        let stored = read_json(&auth);
        assert!(stored["auths"].get(&host).is_none(), "logout left {stored}");
    }
    c.ok(&["rmi", &name]);
    let o = c.run(&["pull", &name]);
    assert_eq!(o.status.code(), Some(125));
    assert!(says_unauthorized(&o), "pull after logout: {}", stderr(&o));
}

#[test]
fn login_with_authfile_and_registry_auth_file() {
    if !registry::tls_ready() {
        return;
    }
    let Some(c) = client() else { return };
    let Some(layout) = registry::busybox_oci() else { return };
    let reg = Registry::tls_auth();
    reg.seed(&layout, "latest", "busybox:latest");
    reg.write_certs_d(&c.config);
    let host = reg.host();
    let name = reg.reference("busybox:latest");

    let file = c.env.dir.path().join("my-auth.json");
    let f = file.to_str().unwrap();
    let o = c.run_stdin(&["login", "--authfile", f, "-u", registry::USER, "--password-stdin", &host], registry::PASSWORD);
    assert!(o.status.success(), "{}", stderr(&o));
    assert!(read_json(&file)["auths"].get(&host).is_some());
    assert!(!c.auth_file().exists(), "--authfile also wrote the default file");
    c.pull(&["--authfile", f, &name]);

    // REGISTRY_AUTH_FILE names the same file for every command.
    c.ok(&["rmi", &name]);
    let o = c.cmd(&["pull", &name]).env("REGISTRY_AUTH_FILE", &file).output().unwrap();
    assert!(o.status.success(), "pull with REGISTRY_AUTH_FILE: {}", stderr(&o));

    // docker's ~/.docker/config.json is read too.
    c.ok(&["rmi", &name]);
    std::fs::create_dir_all(c.home.join(".docker")).unwrap();
    std::fs::copy(&file, c.home.join(".docker/config.json")).unwrap();
    c.pull(&[&name]);

    let o = c.run(&["logout", "--authfile", f, &host]);
    assert!(o.status.success(), "{}", stderr(&o));
    let left = read_json(&file);
    assert!(left["auths"].get(&host).is_none(), "{left}");
}
