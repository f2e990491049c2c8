//! `burrow compose` running real projects as the unprivileged user, on
//! the busybox test image: dependency gates (`service_healthy`,
//! `service_completed_successfully`), a named volume that outlives
//! `down`, recreation of what changed only, scale with the service name
//! answering for every replica, profiles, an override file, `.env`, a
//! secret file, `compose run --rm`, a failing dependency stopping what
//! `up` started, and `down -v` leaving nothing behind.

mod common;

use std::path::{Path, PathBuf};
use std::process::Output;

use common::{require, rootless_ready, stderr, Env};

/// A project directory `name` under the test's directory with `files`.
fn project(e: &Env, name: &str, files: &[(&str, &str)]) -> PathBuf {
    let dir = e.dir.path().join(name);
    std::fs::create_dir_all(&dir).unwrap();
    for (f, text) in files {
        std::fs::write(dir.join(f), text).unwrap();
    }
    dir
}

fn compose(e: &Env, dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["compose"];
    all.extend_from_slice(args);
    e.cmd(&all).current_dir(dir).output().expect("burrow runs")
}

fn ok(e: &Env, dir: &Path, args: &[&str]) -> String {
    let o = compose(e, dir, args);
    assert!(o.status.success(), "compose {args:?} failed: {}\nstderr: {}", o.status, stderr(&o));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// A service's log once it has `lines` lines (a started container may not
/// have written yet when `up -d` returns).
fn logs(e: &Env, dir: &Path, service: &str, lines: usize) -> String {
    let mut out = String::new();
    for _ in 0..200 {
        out = ok(e, dir, &["logs", "--no-log-prefix", service]);
        if out.lines().count() >= lines {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    out
}

fn ready() -> Option<Env> {
    if !rootless_ready() || !require(Path::new("/bin/busybox").exists(), "/bin/busybox") {
        return None;
    }
    Some(Env::new().with_busybox())
}

/// A long-running command that stops at once on SIGTERM.
const SERVE: &str = r#"["sh", "-c", "trap 'exit 0' TERM; while :; do sleep 0.1; done"]"#;

fn names(e: &Env) -> Vec<String> {
    let mut v: Vec<String> = e.ok(&["ps", "-a", "--format", "{{.Names}}"]).lines().map(str::to_string).collect();
    v.sort();
    v
}

#[test]
fn gates_volume_recreation_and_down_v() {
    let Some(e) = ready() else { return };
    let file = format!(
        r#"
services:
  db:
    image: busybox
    command: ["sh", "-c", "trap 'exit 0' TERM; sleep 0.5; touch /data/ready; while :; do sleep 0.1; done"]
    volumes: [data:/data]
    healthcheck: {{test: "test -f /data/ready", interval: 10s, start_period: 60s, start_interval: 100ms}}
  migrate:
    image: busybox
    command: ["sh", "-c", "test -f /data/ready && echo migrated >> /data/log"]
    volumes: [data:/data]
    depends_on: {{db: {{condition: service_healthy}}}}
  web:
    image: busybox
    command: ["sh", "-c", "test -f /data/log && echo gate-ok; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    volumes: [data:/data:ro]
    depends_on:
      migrate: {{condition: service_completed_successfully}}
  side:
    image: busybox
    command: {SERVE}
volumes:
  data: {{}}
"#
    );
    let dir = project(&e, "shop", &[("compose.yaml", &file)]);
    ok(&e, &dir, &["up", "-d"]);
    // migrate ran only once db was healthy, web only after migrate exited 0.
    assert_eq!(logs(&e, &dir, "web", 1).trim(), "gate-ok");
    assert_eq!(names(&e), ["shop-db-1", "shop-migrate-1", "shop-side-1", "shop-web-1"]);
    let ps: Vec<serde_json::Value> =
        ok(&e, &dir, &["ps", "-a", "--format", "json"]).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let db = ps.iter().find(|r| r["Service"] == "db").unwrap();
    assert_eq!((db["State"].as_str(), db["Health"].as_str()), (Some("running"), Some("healthy")), "{db}");
    let labels = &db["Labels"];
    assert_eq!(labels["com.docker.compose.project"], "shop");
    assert_eq!(labels["com.docker.compose.container-number"], "1");
    let inspect: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", "shop-db-1"])).unwrap();
    assert_eq!(inspect[0]["Config"]["Labels"]["com.docker.compose.service"], "db");
    let net: serde_json::Value = serde_json::from_str(&e.ok(&["network", "inspect", "shop_default"])).unwrap();
    assert_eq!(net[0]["Labels"]["com.docker.compose.network"], "default");

    // A changed service is recreated, the others are left running.
    let side_id = e.ok(&["inspect", "--format", "{{.Id}}", "shop-side-1"]);
    let db_id = e.ok(&["inspect", "--format", "{{.Id}}", "shop-db-1"]);
    std::fs::write(
        dir.join("compose.yaml"),
        file.replace("  side:\n    image: busybox\n", "  side:\n    image: busybox\n    environment: [CHANGED=1]\n"),
    )
    .unwrap();
    let out = compose(&e, &dir, &["up", "-d"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_ne!(e.ok(&["inspect", "--format", "{{.Id}}", "shop-side-1"]), side_id, "side changed: recreated");
    assert_eq!(e.ok(&["inspect", "--format", "{{.Id}}", "shop-db-1"]), db_id, "db did not change: kept");

    // The named volume survives down and up.
    ok(&e, &dir, &["down"]);
    assert!(names(&e).is_empty());
    assert!(e.ok(&["volume", "ls", "-q"]).contains("shop_data"));
    ok(&e, &dir, &["up", "-d", "migrate"]);
    let log = e.ok(&["run", "--rm", "-v", "shop_data:/d", "busybox", "cat", "/d/log"]);
    assert_eq!(log.lines().count(), 3, "one line per migration run: {log}");

    // down -v: no container, network or volume left.
    ok(&e, &dir, &["down", "-v"]);
    assert!(names(&e).is_empty());
    assert_eq!(e.ok(&["network", "ls", "--format", "{{.Name}}"]).lines().count(), 3, "only the built-in networks");
    assert_eq!(e.ok(&["volume", "ls", "-q"]).trim(), "");
}

#[test]
fn scale_answers_by_service_name_and_run_rm() {
    let Some(e) = ready() else { return };
    let file = format!(
        r#"
services:
  web:
    image: busybox
    command: {SERVE}
  probe:
    image: busybox
    command: {SERVE}
    depends_on: [web]
"#
    );
    let dir = project(&e, "scaled", &[("compose.yaml", &file)]);
    ok(&e, &dir, &["up", "-d", "--wait", "--scale", "web=3"]);
    let ips: Vec<String> = (1..=3)
        .map(|n| {
            e.ok(&["inspect", "--format", "{{.NetworkSettings.Networks.scaled_default.IPAddress}}", &format!("scaled-web-{n}")])
                .trim()
                .to_string()
        })
        .collect();
    let answer = ok(&e, &dir, &["exec", "probe", "nslookup", "web"]);
    for ip in &ips {
        assert!(answer.contains(ip.as_str()), "{ip} missing from: {answer}");
    }
    // A one-off container on the project network, removed after.
    let o = ok(&e, &dir, &["run", "--rm", "-e", "WHO=run", "probe", "sh", "-c", "echo $WHO; nslookup web | grep -c ^Address"]);
    assert_eq!(o.split_whitespace().collect::<Vec<_>>(), ["run", "4"], "{o}");
    assert!(!names(&e).iter().any(|n| n.contains("-run-")), "{:?}", names(&e));
    assert_eq!(names(&e).len(), 4, "run neither scaled web down nor recreated it");
    ok(&e, &dir, &["down"]);
    assert!(names(&e).is_empty());
}

#[test]
fn profiles_override_env_and_secret() {
    let Some(e) = ready() else { return };
    let base = format!(
        r#"
services:
  app:
    image: busybox
    command: ["sh", "-c", "echo $$GREETING; cat /run/secrets/token; trap 'exit 0' TERM; while :; do sleep 0.1; done"]
    environment:
      GREETING: ${{GREETING:?set GREETING in .env}}
    secrets: [token]
  debug:
    image: busybox
    profiles: [debug]
    command: {SERVE}
secrets:
  token: {{file: ./token.txt}}
"#
    );
    let over = "services:\n  app:\n    environment:\n      GREETING: overridden-${GREETING}\n";
    let dir = project(
        &e,
        "prof",
        &[("compose.yaml", &base), ("compose.override.yaml", over), (".env", "GREETING=hello\n"), ("token.txt", "s3cret\n")],
    );
    ok(&e, &dir, &["up", "-d"]);
    assert_eq!(names(&e), ["prof-app-1"], "debug is off without its profile");
    let out = logs(&e, &dir, "app", 2);
    assert_eq!(out.lines().collect::<Vec<_>>(), ["overridden-hello", "s3cret"]);
    let w = compose(&e, &dir, &["exec", "app", "sh", "-c", "echo x > /run/secrets/token"]);
    assert!(!w.status.success(), "the secret is mounted read-only");
    ok(&e, &dir, &["--profile", "debug", "up", "-d"]);
    assert_eq!(names(&e), ["prof-app-1", "prof-debug-1"]);
    ok(&e, &dir, &["--profile", "debug", "down"]);
    assert!(names(&e).is_empty());
    std::fs::write(dir.join(".env"), "").unwrap();
    let o = compose(&e, &dir, &["up", "-d"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("set GREETING in .env"), "{}", stderr(&o));
}

#[test]
fn a_failing_dependency_stops_what_up_started() {
    let Some(e) = ready() else { return };
    let file = format!(
        r#"
services:
  cache:
    image: busybox
    command: {SERVE}
  broken:
    image: busybox
    command: ["sh", "-c", "exit 3"]
  app:
    image: busybox
    command: {SERVE}
    depends_on:
      cache: {{condition: service_started}}
      broken: {{condition: service_completed_successfully}}
"#
    );
    let dir = project(&e, "fail", &[("compose.yaml", &file)]);
    let o = compose(&e, &dir, &["up", "-d"]);
    assert_eq!(o.status.code(), Some(125));
    let err = stderr(&o);
    assert!(err.contains("service app") && err.contains("fail-broken-1 exited with code 3"), "{err}");
    assert!(!names(&e).contains(&"fail-app-1".to_string()), "app never created: {:?}", names(&e));
    let running = e.ok(&["ps", "--format", "{{.Names}}"]);
    assert_eq!(running.trim(), "", "cache was stopped again: {running}");
    ok(&e, &dir, &["down"]);
}

#[test]
fn what_the_engine_cannot_do_is_refused_by_key() {
    let Some(e) = ready() else { return };
    let file = "services:\n  a:\n    image: busybox\n    secrets: [{source: s, mode: 0400}]\nsecrets:\n  s: {file: ./s.txt}\n";
    let dir = project(&e, "refuse", &[("compose.yaml", file), ("s.txt", "x")]);
    let o = compose(&e, &dir, &["up", "-d"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("services.a.secrets[0]: burrow mounts secrets"), "{}", stderr(&o));
    assert!(names(&e).is_empty());
}

#[test]
fn foreground_up_prefixes_logs_and_stops_on_exit_or_interrupt() {
    let Some(e) = ready() else { return };
    let file = r#"
services:
  srv:
    image: busybox
    command: ["sh", "-c", "trap 'echo bye; exit 0' TERM; echo serving; while :; do sleep 0.1; done"]
  job:
    image: busybox
    command: ["sh", "-c", "echo working; exit 7"]
    depends_on: [srv]
"#;
    let dir = project(&e, "fg", &[("compose.yaml", file)]);
    let o = compose(&e, &dir, &["up", "--exit-code-from", "job"]);
    assert_eq!(o.status.code(), Some(7), "{}", stderr(&o));
    let out = String::from_utf8_lossy(&o.stdout);
    for line in ["srv-1  | serving", "job-1  | working", "srv-1  | bye"] {
        assert!(out.lines().any(|l| l == line), "{line:?} missing from:\n{out}");
    }
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}}"]).trim(), "", "everything stopped");

    // Ctrl-C: the project stops gracefully, up exits 130.
    let mut child = e.cmd(&["compose", "up", "srv"]).current_dir(&dir).stdout(std::process::Stdio::piped()).spawn().unwrap();
    let mut stdout = std::io::BufReader::new(child.stdout.take().unwrap());
    let mut line = String::new();
    while !line.contains("serving") {
        line.clear();
        assert!(std::io::BufRead::read_line(&mut stdout, &mut line).unwrap() > 0, "up ended before srv served");
    }
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let mut rest = String::new();
    std::io::Read::read_to_string(&mut stdout, &mut rest).unwrap();
    assert_eq!(child.wait().unwrap().code(), Some(130));
    assert!(rest.contains("srv-1  | bye"), "{rest}");
    assert_eq!(e.ok(&["ps", "--format", "{{.Names}}"]).trim(), "");
    ok(&e, &dir, &["down"]);
}

#[test]
fn a_built_service_with_published_ports() {
    let Some(e) = ready() else { return };
    let file = "services:\n  web:\n    build: ./web\n    ports: [\"127.0.0.1::8080\", \"8081\"]\n";
    let dockerfile = "FROM busybox\nRUN echo built-here > /built\nCMD [\"sh\", \"-c\", \"cat /built; trap 'exit 0' TERM; while :; do sleep 0.1; done\"]\n";
    let dir = project(&e, "bp", &[("compose.yaml", file)]);
    std::fs::create_dir(dir.join("web")).unwrap();
    std::fs::write(dir.join("web/Dockerfile"), dockerfile).unwrap();
    ok(&e, &dir, &["up", "-d"]);
    assert_eq!(logs(&e, &dir, "web", 1).trim(), "built-here", "the image was built from web/Dockerfile");
    assert!(e.ok(&["images"]).lines().any(|l| l.starts_with("bp-web ")));
    let host = ok(&e, &dir, &["port", "web", "8080"]);
    assert!(host.trim().starts_with("127.0.0.1:"), "{host}");
    assert!(ok(&e, &dir, &["port", "web", "8081"]).trim().starts_with("0.0.0.0:"));
    ok(&e, &dir, &["down", "--rmi", "local"]);
    assert!(!e.ok(&["images"]).lines().any(|l| l.starts_with("bp-web ")), "down --rmi local removed the built image");
}
