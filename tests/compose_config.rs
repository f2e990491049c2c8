//! `burrow compose ... config` driven through the real binary: file
//! discovery (upwards, with the override file), `.env` and the shell's
//! variables, the global flags and `COMPOSE_*` variables, the output
//! forms, and the error forms (syntax errors with line and column, key
//! paths, cycles, missing variables) with docker's exit code 125.
//! Nothing here needs a container or a store: compose config only reads.

mod common;

use std::io::Write;
use std::path::Path;
use std::process::{Command, Output, Stdio};

use serde_norway::Value;

const BASE: &str = r#"
x-restart: &restart
  restart: unless-stopped
services:
  web:
    <<: *restart
    build: ./web
    image: shop/web:${TAG:-latest}
    ports: ["${WEB_PORT:-8000}:5000"]
    environment:
      - DATABASE_URL=postgres://shop:${DB_PASSWORD:?set DB_PASSWORD in .env}@db/shop
      - REDIS_HOST=cache
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started}
    volumes: ["./static:/app/static:ro"]
  db:
    image: postgres:16
    volumes: [db-data:/var/lib/postgresql/data]
    healthcheck:
      test: pg_isready -U shop
      interval: 5s
  cache:
    image: redis:7
  admin:
    image: adminer
    profiles: [debug]
    depends_on: [db]
volumes:
  db-data: {}
"#;

const OVERRIDE: &str = "services:\n  web:\n    ports: ['9229:9229']\n    environment: {FLASK_DEBUG: '1'}\n";

/// A project directory `Shop App` with the base, override and `.env`
/// files, and a subdirectory to start from.
fn project() -> (tempfile::TempDir, std::path::PathBuf) {
    let dir = tempfile::Builder::new().prefix("burrow-compose.").tempdir_in("/tmp").unwrap();
    let proj = dir.path().join("Shop App");
    std::fs::create_dir_all(proj.join("web/src")).unwrap();
    std::fs::write(proj.join("compose.yaml"), BASE).unwrap();
    std::fs::write(proj.join("compose.override.yaml"), OVERRIDE).unwrap();
    std::fs::write(proj.join(".env"), "DB_PASSWORD=hunter2\nTAG=1.2\n").unwrap();
    (dir, proj)
}

/// `burrow compose ARGS` in `cwd` with only the given variables set.
fn compose(cwd: &Path, vars: &[(&str, &str)], args: &[&str], stdin: Option<&str>) -> Output {
    let mut c = Command::new(common::burrow_bin());
    c.arg("compose").args(args).current_dir(cwd).env_clear();
    c.env("PATH", "/usr/bin:/bin").env("HOME", cwd).env("BURROW_ROOT", cwd.join(".store-unused"));
    for (k, v) in vars {
        c.env(k, v);
    }
    c.stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() }).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = c.spawn().expect("burrow runs");
    if let Some(text) = stdin {
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
    }
    child.wait_with_output().unwrap()
}

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "failed: {}\nstderr: {}", o.status, String::from_utf8_lossy(&o.stderr));
    String::from_utf8(o.stdout.clone()).unwrap()
}

/// The exit code 125 and the error line.
fn refused(o: &Output) -> String {
    assert_eq!(o.status.code(), Some(125), "stdout: {}", String::from_utf8_lossy(&o.stdout));
    String::from_utf8_lossy(&o.stderr).into_owned()
}

#[test]
fn config_prints_the_merged_interpolated_model() {
    let (_d, proj) = project();
    // Started from a subdirectory: the files are found in the parent.
    let out = ok(&compose(&proj.join("web/src"), &[("WEB_PORT", "8080")], &["config"], None));
    let v: Value = serde_norway::from_str(&out).unwrap();
    assert_eq!(v["name"], "shopapp");
    let web = &v["services"]["web"];
    assert_eq!(web["image"], "shop/web:1.2");
    assert_eq!(web["restart"], "unless-stopped");
    assert_eq!(web["build"]["context"].as_str().unwrap(), proj.join("web").to_str().unwrap());
    assert_eq!(web["environment"]["DATABASE_URL"], "postgres://shop:hunter2@db/shop");
    assert_eq!(web["environment"]["FLASK_DEBUG"], "1");
    let ports = web["ports"].as_sequence().unwrap();
    assert_eq!(ports.len(), 2);
    assert_eq!(ports[0]["published"], "8080", "the shell's WEB_PORT");
    assert_eq!(ports[0]["target"], 5000);
    assert_eq!(ports[1]["target"], 9229);
    assert_eq!(web["volumes"][0]["type"], "bind");
    assert_eq!(web["volumes"][0]["source"].as_str().unwrap(), proj.join("static").to_str().unwrap());
    assert_eq!(web["volumes"][0]["read_only"], true);
    assert_eq!(web["depends_on"]["db"]["condition"], "service_healthy");
    assert_eq!(v["services"]["db"]["healthcheck"]["test"][0], "CMD-SHELL");
    assert!(v["services"].get("admin").is_none(), "admin's profile is off");
    assert_eq!(v["volumes"]["db-data"]["name"], "shopapp_db-data");
    assert_eq!(v["networks"]["default"]["name"], "shopapp_default");
}

#[test]
fn config_lists_formats_and_flags() {
    let (_d, proj) = project();
    // In start order: each service after what it depends on.
    assert_eq!(ok(&compose(&proj, &[], &["config", "--services"], None)), "cache\ndb\nweb\n");
    assert_eq!(ok(&compose(&proj, &[], &["--profile", "debug", "config", "--services"], None)), "db\nadmin\ncache\nweb\n");
    assert_eq!(ok(&compose(&proj, &[("COMPOSE_PROFILES", "debug")], &["config", "--services"], None)), "db\nadmin\ncache\nweb\n");
    assert_eq!(ok(&compose(&proj, &[], &["config", "--volumes"], None)), "db-data\n");
    assert_eq!(ok(&compose(&proj, &[], &["config", "--profiles"], None)), "debug\n");
    assert_eq!(ok(&compose(&proj, &[], &["config", "-q"], None)), "");
    // Named explicitly, a service is on whatever its profile.
    let named = ok(&compose(&proj, &[], &["config", "admin"], None));
    assert!(named.contains("adminer"), "{named}");
    let json: serde_json::Value = serde_json::from_str(&ok(&compose(&proj, &[], &["config", "--format", "json"], None))).unwrap();
    assert_eq!(json["services"]["db"]["image"], "postgres:16");
    let name = |args: &[&str], vars: &[(&str, &str)]| {
        let v: Value = serde_norway::from_str(&ok(&compose(&proj, vars, args, None))).unwrap();
        v["name"].as_str().unwrap().to_string()
    };
    assert_eq!(name(&["-p", "shop2", "config"], &[("COMPOSE_PROJECT_NAME", "env")]), "shop2");
    assert_eq!(name(&["config"], &[("COMPOSE_PROJECT_NAME", "fromenv")]), "fromenv");
    // Only the base file: the override is not read when -f is given.
    let only = ok(&compose(&proj, &[], &["-f", "compose.yaml", "config"], None));
    assert!(!only.contains("9229"), "{only}");
    let via_env = ok(&compose(&proj, &[("COMPOSE_FILE", "compose.yaml")], &["config"], None));
    assert!(!via_env.contains("9229"), "{via_env}");
    // --env-file replaces .env; stdin as a file; --project-directory.
    std::fs::write(proj.join("prod.env"), "DB_PASSWORD=prod\n").unwrap();
    assert!(ok(&compose(&proj, &[], &["--env-file", "prod.env", "config"], None)).contains("shop:prod@db"));
    let other = proj.parent().unwrap().join("elsewhere");
    std::fs::create_dir(&other).unwrap();
    let piped = ok(&compose(&other, &[], &["-f", "-", "--project-directory", proj.to_str().unwrap(), "config"], Some(BASE)));
    let v: Value = serde_norway::from_str(&piped).unwrap();
    assert_eq!(v["name"], "shopapp");
    assert_eq!(v["services"]["web"]["environment"]["DATABASE_URL"], "postgres://shop:hunter2@db/shop", "the project directory's .env");
}

#[test]
fn config_errors_name_where_and_exit_125() {
    let (_d, proj) = project();
    // A required variable that is missing.
    std::fs::write(proj.join(".env"), "TAG=1\n").unwrap();
    let e = refused(&compose(&proj, &[], &["config"], None));
    assert!(e.contains("services.web.environment[0]: required variable DB_PASSWORD is missing a value: set DB_PASSWORD in .env"), "{e}");
    // The shell can set it instead.
    ok(&compose(&proj, &[("DB_PASSWORD", "x")], &["config", "-q"], None));
    std::fs::remove_file(proj.join("compose.override.yaml")).unwrap();
    let cases: &[(&str, &str)] = &[
        ("services:\n  web:\n    image: x\n   ports: [80]\n", "compose.yaml:4:4: "),
        ("services:\n  web:\n    image: x\n    portz: ['80:80']\n", "unknown key services.web.portz"),
        ("services:\n  web:\n    image: x\n    privileged: true\n", "services.web.privileged is not supported by burrow"),
        ("services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: [a]}\n", "depends_on makes a cycle: a -> b -> a"),
        ("services:\n  web: {image: 'cost$5'}\n", "invalid interpolation format"),
    ];
    for (text, want) in cases {
        std::fs::write(proj.join("compose.yaml"), text).unwrap();
        let e = refused(&compose(&proj, &[("DB_PASSWORD", "x")], &["config"], None));
        assert!(e.starts_with("Error: ") && e.contains(want), "{text}: {e}");
    }
    let empty = proj.parent().unwrap().join("empty");
    std::fs::create_dir(&empty).unwrap();
    assert!(refused(&compose(&empty, &[], &["config"], None)).contains("no configuration file provided"));
    assert!(refused(&compose(&proj, &[], &["-p", "Bad Name", "config"], None)).contains("invalid project name"));
}

#[test]
fn unset_variables_warn_and_become_empty() {
    let dir = tempfile::Builder::new().prefix("burrow-compose.").tempdir_in("/tmp").unwrap();
    std::fs::write(dir.path().join("docker-compose.yml"), "services:\n  web:\n    image: \"busybox${SUFFIX}\"\n").unwrap();
    let o = compose(dir.path(), &[], &["-p", "warn", "config"], None);
    assert!(ok(&o).contains("image: busybox\n"));
    assert!(String::from_utf8_lossy(&o.stderr).contains("The \"SUFFIX\" variable is not set. Defaulting to a blank string."));
}
