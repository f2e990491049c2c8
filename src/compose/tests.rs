//! Tests of the compose loader's passes, each alone, and of whole
//! projects of the Docker books' kind (web, database, cache, volumes).

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::{Mapping, Value};

use super::interpolate::{substitute, InterpolateError, Vars};
use super::model::*;
use super::*;

fn vars(pairs: &[(&str, &str)]) -> Vars {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn sub(text: &str, v: &Vars) -> Result<String, InterpolateError> {
    substitute(text, v, "p").map(|s| s.text)
}

#[test]
fn interpolation_forms() {
    let v = vars(&[("A", "a"), ("EMPTY", ""), ("B", "b")]);
    assert_eq!(sub("${A}-$A-$$A-$${A}", &v).unwrap(), "a-a-$A-${A}");
    assert_eq!(sub("${EMPTY:-d} ${EMPTY-d} ${UNSET-d} ${UNSET:-d}", &v).unwrap(), "d  d d");
    assert_eq!(sub("${A:+alt}|${EMPTY:+alt}|${EMPTY+alt}|${UNSET+alt}", &v).unwrap(), "alt||alt|");
    assert_eq!(sub("${UNSET:-${B}}|${UNSET:-${ALSO:-deep}}|${UNSET-$B}", &v).unwrap(), "b|deep|b");
    assert_eq!(sub("x${A}y$A.z", &v).unwrap(), "xaya.z");
    assert_eq!(sub("no dollars", &v).unwrap(), "no dollars");
    let unset = substitute("${NOPE} $NOPE ${NOPE2}", &v, "p").unwrap().unset;
    assert_eq!(unset, vec!["NOPE".to_string(), "NOPE2".to_string()]);
}

#[test]
fn interpolation_defaults_distinguish_empty_from_unset() {
    let v = vars(&[("EMPTY", "")]);
    assert_eq!(sub("${EMPTY:-d}", &v).unwrap(), "d");
    assert_eq!(sub("${EMPTY-d}", &v).unwrap(), "");
    assert_eq!(sub("${EMPTY?must}", &v).unwrap(), "");
}

#[test]
fn interpolation_errors_name_variable_and_path() {
    let v = vars(&[("EMPTY", "")]);
    let e = substitute("${PASS:?set PASS in .env}", &v, "services.db.environment.PASS").unwrap_err();
    assert_eq!(
        e,
        InterpolateError::Required {
            path: "services.db.environment.PASS".into(),
            variable: "PASS".into(),
            message: "set PASS in .env".into()
        }
    );
    assert!(matches!(sub("${EMPTY:?no}", &v), Err(InterpolateError::Required { .. })));
    assert!(sub("${EMPTY?no}", &v).is_ok());
    assert!(matches!(sub("${UNSET?}", &v), Err(InterpolateError::Required { .. })));
    for bad in ["$1", "${}", "${A", "cost: 5$", "${A:x}", "${-x}"] {
        assert!(matches!(sub(bad, &v), Err(InterpolateError::Invalid { .. })), "{bad}");
    }
    let msg = substitute("${X:?need ${EMPTY:-it}}", &v, "p").unwrap_err().to_string();
    assert_eq!(msg, "p: required variable X is missing a value: need it");
}

#[test]
fn interpolation_walks_values_not_keys() {
    let mut doc: Value =
        serde_norway::from_str("services:\n  $K:\n    image: ${IMG}\n    command: [echo, $$HOME, $IMG]\n    init: true\n").unwrap();
    let mut unset = Vec::new();
    interpolate::interpolate_tree(&mut doc, "", &vars(&[("IMG", "busybox"), ("K", "nope")]), &mut unset).unwrap();
    let svc = &doc["services"]["$K"];
    assert_eq!(svc["image"], "busybox");
    assert_eq!(svc["command"][1], "$HOME");
    assert_eq!(svc["command"][2], "busybox");
    let mut doc: Value = serde_norway::from_str("services:\n  web:\n    ports: ['${P:?port}']\n").unwrap();
    let e = interpolate::interpolate_tree(&mut doc, "", &Vars::new(), &mut unset).unwrap_err();
    assert!(matches!(e, InterpolateError::Required { ref path, .. } if path == "services.web.ports[0]"), "{e}");
}

#[test]
fn dotenv_format() {
    let text =
        "# comment\n\nexport A=1\nB = two words # note\nC='lit ${A}'\nD=\"x${A}\\n\"\nE=${A}${B:-z}\nF=\"multi\nline\"\nHOME\nNOTSET\n";
    let got = dotenv::parse(text, Path::new(".env"), &vars(&[("HOME", "/h")])).unwrap();
    let m: BTreeMap<_, _> = got.into_iter().collect();
    assert_eq!(m["A"], "1");
    assert_eq!(m["B"], "two words");
    assert_eq!(m["C"], "lit ${A}");
    assert_eq!(m["D"], "x1\n");
    assert_eq!(m["E"], "1two words");
    assert_eq!(m["F"], "multi\nline");
    assert_eq!(m["HOME"], "/h");
    assert!(!m.contains_key("NOTSET"));
    let e = dotenv::parse("A=1\n=2\n", Path::new("x.env"), &Vars::new()).unwrap_err();
    assert_eq!(e.to_string(), "x.env:2: a line has no variable name before =");
    assert!(dotenv::parse("A=\"open\n", Path::new("x"), &Vars::new()).is_err());
}

fn yaml(text: &str) -> Mapping {
    match yaml::parse(text, "t.yaml").unwrap() {
        Value::Mapping(m) => m,
        _ => unreachable!(),
    }
}

/// Parse and canonicalise like one file of a project in /proj.
fn canon(text: &str) -> Mapping {
    let mut v = Value::Mapping(yaml(text));
    canonical::file(&mut v, Path::new("/proj")).unwrap();
    match v {
        Value::Mapping(m) => m,
        _ => unreachable!(),
    }
}

fn merged(files: &[&str]) -> Mapping {
    let mut out = Mapping::new();
    for f in files {
        merge::file(&mut out, canon(f)).unwrap();
    }
    out
}

#[test]
fn yaml_anchors_merge_keys_and_syntax_errors() {
    let m = yaml("x-base: &base\n  image: busybox\n  restart: always\nservices:\n  a:\n    <<: *base\n    restart: 'no'\n  b: *base\n");
    assert_eq!(m["services"]["a"]["image"], "busybox");
    assert_eq!(m["services"]["a"]["restart"], "no");
    assert_eq!(m["services"]["b"]["restart"], "always");
    let e = yaml::parse("services:\n  web:\n    image: [a\n", "c.yaml").unwrap_err();
    assert!(matches!(e, yaml::YamlError::Syntax { line: 4, .. } | yaml::YamlError::Syntax { line: 3, .. }), "{e}");
    assert!(e.to_string().starts_with("c.yaml:"), "{e}");
    let e = yaml::parse("services: {}\nservices: {}\n", "d.yaml").unwrap_err();
    assert!(e.to_string().contains("duplicate"), "{e}");
    assert!(matches!(yaml::parse("- a\n", "l.yaml"), Err(yaml::YamlError::NotMapping { .. })));
}

#[test]
fn merge_rules_of_the_specification() {
    let base = "services:\n  web:\n    image: a\n    command: [echo, a]\n    dns: [1.1.1.1]\n    environment: {A: '1', B: '2'}\n    ports: ['8080:80', '9000:9000']\n    volumes: ['data:/data', './src:/src']\n    healthcheck: {test: [CMD, a], interval: 10s}\n";
    let over = "services:\n  web:\n    image: b\n    command: [echo, b]\n    dns: [8.8.8.8, 1.1.1.1]\n    environment: [B=3, C=4]\n    ports: ['8080:80', '8443:443']\n    volumes: ['other:/data']\n    healthcheck: {test: [CMD, b]}\n  new:\n    image: n\n";
    let m = merged(&[base, over]);
    let web = &m["services"]["web"];
    assert_eq!(web["image"], "b");
    assert_eq!(web["command"], serde_norway::from_str::<Value>("[echo, b]").unwrap());
    assert_eq!(web["dns"].as_sequence().unwrap().len(), 2);
    assert_eq!(web["environment"]["A"], "1");
    assert_eq!(web["environment"]["B"], "3");
    assert_eq!(web["environment"]["C"], "4");
    let ports = web["ports"].as_sequence().unwrap();
    assert_eq!(ports.len(), 3, "{ports:?}");
    let vols = web["volumes"].as_sequence().unwrap();
    assert_eq!(vols.len(), 2);
    assert_eq!(vols[0]["source"], "other");
    assert_eq!(vols[1]["source"], "/proj/src");
    assert_eq!(web["healthcheck"]["test"], serde_norway::from_str::<Value>("[CMD, b]").unwrap());
    assert_eq!(web["healthcheck"]["interval"], "10s");
    assert_eq!(m["services"]["new"]["image"], "n");
}

#[test]
fn merge_reset_and_override_tags() {
    let base = "services:\n  app:\n    image: a\n    ports: ['8080:80']\n    environment: {FOO: bar, KEEP: k}\n";
    let over = "services:\n  app:\n    ports: !override ['8443:443']\n    environment:\n      FOO: !reset null\n";
    let m = merged(&[base, over]);
    let app = &m["services"]["app"];
    let ports = app["ports"].as_sequence().unwrap();
    assert_eq!(ports.len(), 1);
    assert_eq!(ports[0]["target"], 443);
    assert!(app["environment"].get("FOO").is_none());
    assert_eq!(app["environment"]["KEEP"], "k");
    let m = merged(&[base, "services:\n  app:\n    ports: !reset []\n"]);
    assert!(m["services"]["app"].get("ports").is_none());
    let mut out = Mapping::new();
    let e = merge::file(&mut out, canon("services:\n  app:\n    image: !weird x\n")).unwrap_err();
    assert_eq!(e.to_string(), "services.app.image: the YAML tag !weird is not supported (only !reset and !override)");
}

#[test]
fn short_port_syntax() {
    let p = |s: &str| ports::parse_short(s, "p").map(|v| serde_norway::to_string(&v).unwrap());
    let one = ports::parse_short("127.0.0.1:8080:80/udp", "p").unwrap();
    assert_eq!(one.len(), 1);
    assert_eq!(one[0]["host_ip"], "127.0.0.1");
    assert_eq!(one[0]["published"], "8080");
    assert_eq!(one[0]["target"], 80);
    assert_eq!(one[0]["protocol"], "udp");
    let range = ports::parse_short("8000-8002:9000-9002", "p").unwrap();
    assert_eq!(range.len(), 3);
    assert_eq!(range[2]["published"], "8002");
    assert_eq!(range[2]["target"], 9002);
    let to_one = ports::parse_short("8000-8010:80", "p").unwrap();
    assert_eq!(to_one.len(), 1);
    assert_eq!(to_one[0]["published"], "8000-8010");
    let anon = ports::parse_short("3000-3001", "p").unwrap();
    assert_eq!(anon.len(), 2);
    assert!(anon[0].get("published").is_none());
    let v6 = ports::parse_short("[::1]:80:80", "p").unwrap();
    assert_eq!(v6[0]["host_ip"], "::1");
    assert_eq!(ports::parse_short("127.0.0.1::80", "p").unwrap()[0].get("published"), None);
    for bad in ["0:80", "80:99999", "a:b", "8000-8002:90-91", "80/sctp", "1.2.3:80:80", "[::1:80:80"] {
        assert!(p(bad).is_err(), "{bad}");
    }
}

#[test]
fn short_volume_syntax() {
    let base = Path::new("/proj");
    let v = mounts::parse_short("./data/../db:/var/lib/db:ro,z", base, "p").unwrap();
    assert_eq!(v["type"], "bind");
    assert_eq!(v["source"], "/proj/db");
    assert_eq!(v["read_only"], true);
    assert_eq!(v["bind"]["selinux"], "z");
    assert_eq!(v["bind"]["create_host_path"], true);
    let v = mounts::parse_short("data:/data:nocopy", base, "p").unwrap();
    assert_eq!(v["type"], "volume");
    assert_eq!(v["source"], "data");
    assert_eq!(v["volume"]["nocopy"], true);
    let v = mounts::parse_short("/cache", base, "p").unwrap();
    assert_eq!(v["type"], "volume");
    assert!(v.get("source").is_none());
    assert!(mounts::parse_short("data:relative", base, "p").is_err());
    assert!(mounts::parse_short("data:/d:bogus", base, "p").is_err());
    assert!(mounts::parse_short("a:/b:ro:x", base, "p").is_err());
}

#[test]
fn words_split_like_a_shell() {
    assert_eq!(words::split(r#"sh -c 'echo "$HOME"' "a b" c\ d"#, "p").unwrap(), vec!["sh", "-c", "echo \"$HOME\"", "a b", "c d"]);
    assert_eq!(words::split("  ", "p").unwrap(), Vec::<String>::new());
    assert_eq!(words::split("''", "p").unwrap(), vec![""]);
    assert!(words::split("echo 'open", "p").is_err());
}

#[test]
fn go_durations_print_as_go_does() {
    let d = |s: f64| GoDuration(std::time::Duration::from_secs_f64(s)).to_string();
    assert_eq!(d(90.0), "1m30s");
    assert_eq!(d(0.5), "500ms");
    assert_eq!(d(1.5), "1.5s");
    assert_eq!(d(3600.0), "1h0m0s");
    assert_eq!(d(0.0), "0s");
    assert_eq!(d(10.0), "10s");
}

fn load_text(files: &[&str], profiles: &[&str], named: &[&str]) -> Result<Project, String> {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("Book App");
    std::fs::create_dir(&root).unwrap();
    let mut paths = Vec::new();
    for (i, f) in files.iter().enumerate() {
        let p = root.join(format!("f{i}.yaml"));
        std::fs::write(&p, f).unwrap();
        paths.push(p.display().to_string());
    }
    let o = Options {
        files: paths,
        profiles: profiles.iter().map(|s| s.to_string()).collect(),
        cwd: root.clone(),
        environ: vars(&[("TAG", "7")]),
        ..Default::default()
    };
    let named: Vec<String> = named.iter().map(|s| s.to_string()).collect();
    load(&o, &named).map(|l| l.project).map_err(|e| e.to_string())
}

const BOOK: &str = r#"
services:
  web:
    build:
      context: .
      args: [VERSION=1]
    ports: ["5000:5000"]
    environment:
      REDIS_HOST: cache
      DATABASE_URL: postgres://app@db/app
    depends_on:
      db: {condition: service_healthy}
      cache: {condition: service_started, required: false}
    networks: [front, back]
    deploy: {replicas: 2, resources: {limits: {memory: 256m, cpus: '0.25', pids: 100}}}
    stop_grace_period: 1m30s
    stop_signal: SIGINT
    ulimits: {nofile: {soft: 1024, hard: 2048}, nproc: 512}
    extra_hosts: ["host.docker.internal:host-gateway", "other=10.0.0.9"]
    secrets: [db_password]
  db:
    image: postgres:16
    environment: [POSTGRES_PASSWORD_FILE=/run/secrets/db_password]
    volumes: [db-data:/var/lib/postgresql/data]
    networks:
      back:
        aliases: [database]
        ipv4_address: 172.28.0.10
    healthcheck:
      test: [CMD-SHELL, pg_isready -U app]
      interval: 5s
      retries: 10
      start_period: 30s
    secrets: [db_password]
  cache:
    image: redis:${TAG}
    profiles: [cache]
    tmpfs: /data
    read_only: true
  migrate:
    image: app-migrate
    depends_on:
      db: {condition: service_healthy}
    restart: "no"
volumes:
  db-data: {}
networks:
  front: {}
  back:
    ipam:
      config: [{subnet: 172.28.0.0/16}]
secrets:
  db_password:
    file: ./db_password.txt
"#;

#[test]
fn a_book_project_loads() {
    let p = load_text(&[BOOK], &[], &[]).unwrap();
    assert_eq!(p.name, "bookapp");
    assert_eq!(p.services.keys().collect::<Vec<_>>(), vec!["db", "migrate", "web"]);
    assert!(p.disabled.contains_key("cache"));
    let web = &p.services["web"];
    assert!(web.build.as_ref().unwrap().context.ends_with("Book App"));
    assert_eq!(web.build.as_ref().unwrap().args["VERSION"].as_deref(), Some("1"));
    assert_eq!(web.ports[0].published.as_deref(), Some("5000"));
    // The optional dependency on a service that is off is dropped.
    assert_eq!(web.depends_on.keys().collect::<Vec<_>>(), vec!["db"]);
    assert_eq!(web.depends_on["db"].condition, Condition::ServiceHealthy);
    let limits = &web.deploy.as_ref().unwrap().resources.as_ref().unwrap().limits;
    assert_eq!(limits.memory, Some(256 << 20));
    assert_eq!(limits.cpus, Some(250_000_000));
    assert_eq!(limits.pids, Some(100));
    assert_eq!(web.ulimits["nproc"], Ulimit::Single(512));
    assert_eq!(web.extra_hosts[0].ip, "host-gateway");
    assert_eq!(web.stop_grace_period.unwrap().to_string(), "1m30s");
    let db = &p.services["db"];
    assert_eq!(db.networks["back"].as_ref().unwrap().aliases, vec!["database"]);
    assert_eq!(db.healthcheck.as_ref().unwrap().retries, Some(10));
    assert_eq!(p.volumes["db-data"].name, "bookapp_db-data");
    assert_eq!(p.networks["back"].ipam[0].subnet.to_string(), "172.28.0.0/16");
    assert!(p.secrets["db_password"].file.as_deref().unwrap().ends_with("Book App/db_password.txt"));
    // migrate names no network: it joins the project's default one.
    assert_eq!(p.networks["default"].name, "bookapp_default");
    assert_eq!(p.services["migrate"].networks.keys().collect::<Vec<_>>(), vec!["default"]);
}

#[test]
fn profiles_select_services() {
    let p = load_text(&[BOOK], &["cache"], &[]).unwrap();
    assert!(p.services.contains_key("cache"));
    assert_eq!(p.services["cache"].image.as_deref(), Some("redis:7"));
    assert_eq!(p.services["web"].depends_on.len(), 2);
    let p = load_text(&[BOOK], &["*"], &[]).unwrap();
    assert!(p.services.contains_key("cache"));
    // Naming a service turns it on.
    let p = load_text(&[BOOK], &[], &["cache"]).unwrap();
    assert!(p.services.contains_key("cache"));
    let two = "services:\n  db: {image: d, profiles: [dev]}\n  admin: {image: a, profiles: [debug], depends_on: [db]}\n";
    let e = load_text(&[two], &[], &["admin"]).unwrap_err();
    assert_eq!(e, "service \"admin\" depends on \"db\", which is off: activate its profile with --profile dev");
    assert!(load_text(&[two], &["dev"], &["admin"]).is_ok());
    assert_eq!(load_text(&[two], &[], &["nosuch"]).unwrap_err(), "no such service: nosuch");
}

#[test]
fn depends_on_cycles_and_undefined_services() {
    let cyc = "services:\n  a: {image: x, depends_on: [b]}\n  b: {image: x, depends_on: {c: {condition: service_healthy}}}\n  c: {image: x, network_mode: 'service:a'}\n";
    assert_eq!(load_text(&[cyc], &[], &[]).unwrap_err(), "depends_on makes a cycle: a -> b -> c -> a");
    let selfdep = "services:\n  a: {image: x, depends_on: [a]}\n";
    assert_eq!(load_text(&[selfdep], &[], &[]).unwrap_err(), "depends_on makes a cycle: a -> a");
    let undef = "services:\n  a: {image: x, depends_on: [ghost]}\n";
    assert_eq!(load_text(&[undef], &[], &[]).unwrap_err(), "service \"a\" depends on undefined service \"ghost\"");
    let mut services = BTreeMap::new();
    for (n, deps) in [("web", vec!["db", "cache"]), ("db", vec![]), ("cache", vec!["db"])] {
        let mut s = Service::default();
        for d in deps {
            s.depends_on.insert(d.into(), Dependency { condition: Condition::ServiceStarted, restart: false, required: true });
        }
        services.insert(n.to_string(), s);
    }
    assert_eq!(graph::start_order(&services).unwrap(), vec!["db", "cache", "web"]);
}

#[test]
fn unknown_and_unsupported_keys_are_refused_with_their_path() {
    let cases = [
        (
            "services:\n  web: {image: x, portz: [80]}\n",
            "unknown key services.web.portz: check its spelling against the compose specification",
        ),
        ("services:\n  web: {image: x, gpus: all}\n", "services.web.gpus is not supported by burrow"),
        ("services:\n  web: {image: x, build: {context: ., ssh: [default]}}\n", "services.web.build.ssh is not supported by burrow"),
        (
            "services:\n  web: {image: x, deploy: {resources: {reservations: {memory: 1g}}}}\n",
            "services.web.deploy.resources.reservations is not supported by burrow",
        ),
        (
            "services:\n  web: {image: x, ports: [{target: 80, app_protocol: http}]}\n",
            "services.web.ports[0].app_protocol is not supported by burrow",
        ),
        (
            "services:\n  web: {image: x, networks: {n: {ipv6_address: '::2'}}}\nnetworks: {n: {}}\n",
            "services.web.networks.n.ipv6_address is not supported by burrow",
        ),
        ("services:\n  web: {image: x}\nvolumes:\n  v: {driver_opts: {type: nfs}}\n", "volumes.v.driver_opts is not supported by burrow"),
        ("include: [other.yaml]\nservices: {}\n", "include is not supported by burrow: merge the files with -f instead"),
        ("servics: {}\n", "unknown key servics: check its spelling against the compose specification"),
        (
            "services:\n  web: {image: x, healthcheck: {tset: x}}\n",
            "unknown key services.web.healthcheck.tset: check its spelling against the compose specification",
        ),
    ];
    for (text, want) in cases {
        assert_eq!(load_text(&[text], &[], &[]).unwrap_err(), want, "{text}");
    }
    assert!(load_text(&["x-anything: 1\nservices:\n  web: {image: x, x-note: hi}\n"], &[], &[]).is_ok());
}

#[test]
fn invalid_values_name_their_path() {
    let cases = [
        ("services:\n  web: {image: x, ports: ['80:99999']}\n", "services.web.ports[0]"),
        ("services:\n  web: {image: x, restart: sometimes}\n", "services.web.restart"),
        ("services:\n  web: {image: x, stop_grace_period: soon}\n", "services.web.stop_grace_period"),
        (
            "services:\n  web: {image: x, depends_on: {db: {condition: service_ready}}}\n  db: {image: y}\n",
            "services.web.depends_on.db.condition",
        ),
        ("services:\n  web: {image: x, deploy: {resources: {limits: {memory: lots}}}}\n", "services.web.deploy.resources.limits.memory"),
        ("services:\n  web: {image: x, ulimits: {nofiles: 5}}\n", "services.web.ulimits.nofiles"),
        ("services:\n  web: {image: x, volumes: [data:/d]}\n", "undefined volume \"data\""),
        ("services:\n  web: {image: x, networks: [back]}\n", "undefined network \"back\""),
        ("services:\n  web: {build: ., secrets: [s]}\n", "undefined secret \"s\""),
        ("services:\n  web: {}\n", "neither image nor build"),
        ("services:\n  web: {image: x, init: maybe}\n", "services.web.init"),
        ("services:\n  web: {image: x, command: \"echo 'unclosed\"}\n", "services.web.command"),
    ];
    for (text, want) in cases {
        let e = load_text(&[text], &[], &[]).unwrap_err();
        assert!(e.contains(want), "{text}: {e}");
    }
}

#[test]
fn override_file_merges_over_the_base() {
    let base = "services:\n  web:\n    image: web:1\n    ports: ['8080:80']\n    environment: {MODE: prod}\n";
    let over = "services:\n  web:\n    image: web:dev\n    ports: ['8080:80', '9229:9229']\n    environment: [MODE=dev, DEBUG=1]\n    volumes: ['.:/app']\n";
    let p = load_text(&[base, over], &[], &[]).unwrap();
    let web = &p.services["web"];
    assert_eq!(web.image.as_deref(), Some("web:dev"));
    assert_eq!(web.ports.len(), 2);
    assert_eq!(web.environment["MODE"].as_deref(), Some("dev"));
    assert_eq!(web.environment["DEBUG"].as_deref(), Some("1"));
    assert_eq!(web.volumes[0].kind, MountType::Bind);
}

#[test]
fn extends_in_the_same_file_and_another() {
    let dir = tempfile::tempdir().unwrap();
    let common = dir.path().join("common");
    std::fs::create_dir(&common).unwrap();
    std::fs::write(
        common.join("base.yaml"),
        "services:\n  base:\n    image: base:1\n    volumes: ['./conf:/conf']\n    environment: {A: a}\n",
    )
    .unwrap();
    let main = "services:\n  app:\n    extends: {file: common/base.yaml, service: base}\n    environment: {B: b}\n  worker:\n    extends: app\n    command: work\n";
    std::fs::write(dir.path().join("compose.yaml"), main).unwrap();
    let o = Options { cwd: dir.path().to_path_buf(), project_name: Some("ext".into()), ..Default::default() };
    let p = load(&o, &[]).unwrap().project;
    let app = &p.services["app"];
    assert_eq!(app.image.as_deref(), Some("base:1"));
    assert_eq!(app.environment.len(), 2);
    // The base file's relative paths are its own directory's.
    assert_eq!(app.volumes[0].source.as_deref(), Some(common.join("conf").to_str().unwrap()));
    let worker = &p.services["worker"];
    assert_eq!(worker.image.as_deref(), Some("base:1"));
    assert_eq!(worker.command.as_deref(), Some(&["work".to_string()][..]));
    let cyc = "services:\n  a: {image: x, extends: b}\n  b: {image: x, extends: a}\n";
    assert_eq!(load_text(&[cyc], &[], &[]).unwrap_err(), "extends makes a cycle: a -> b -> a");
    let missing = "services:\n  a: {image: x, extends: nope}\n";
    assert!(load_text(&[missing], &[], &[]).unwrap_err().contains("no service \"nope\""));
}

#[test]
fn discovery_and_names() {
    assert_eq!(discover::normalize_name("My_App.v2"), "my_appv2");
    assert_eq!(discover::normalize_name("-_Web"), "web");
    assert!(discover::valid_name("Web", "-p").is_err());
    assert!(discover::valid_name("web_1-a", "-p").is_ok());
    let dir = tempfile::tempdir().unwrap();
    let sub = dir.path().join("proj/deep/er");
    std::fs::create_dir_all(&sub).unwrap();
    let proj = dir.path().join("proj");
    for n in ["docker-compose.yml", "compose.yaml", "docker-compose.override.yml", "compose.override.yaml"] {
        std::fs::write(proj.join(n), "services: {}\n").unwrap();
    }
    let found = discover::discover(&sub).unwrap();
    assert_eq!(found, vec![Source::File(proj.join("compose.yaml")), Source::File(proj.join("compose.override.yaml"))]);
    let o = Options { cwd: sub.clone(), ..Default::default() };
    let s = discover::setup(&o).unwrap();
    assert_eq!(s.working_dir, proj);
    let lone = dir.path().join("lone");
    std::fs::create_dir(&lone).unwrap();
    std::fs::write(lone.join(".env"), "COMPOSE_PROJECT_NAME=fromdotenv\nCOMPOSE_PROFILES=a, b\nX=dot\n").unwrap();
    let environ = vars(&[("COMPOSE_FILE", "one.yaml,two.yaml"), ("COMPOSE_PATH_SEPARATOR", ","), ("X", "shell")]);
    let o = Options { cwd: lone.clone(), environ, ..Default::default() };
    let s = discover::setup(&o).unwrap();
    assert_eq!(s.files, vec![Source::File(lone.join("one.yaml")), Source::File(lone.join("two.yaml"))]);
    assert_eq!(s.name.as_deref(), Some("fromdotenv"));
    assert_eq!(s.profiles, vec!["a", "b"]);
    assert_eq!(s.vars["X"], "shell", "the shell's value wins over .env");
}
