//! The translation of services to `run` options, on loaded projects.

use super::*;
use crate::compose::{load, Options};
use crate::model::volume::MountKind;

fn project(text: &str) -> Project {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("shop");
    std::fs::create_dir(&root).unwrap();
    std::fs::write(root.join("secret.txt"), "s3cret").unwrap();
    let file = root.join("compose.yaml");
    std::fs::write(&file, text).unwrap();
    let o = Options { files: vec![file.display().to_string()], cwd: root, ..Default::default() };
    let p = load(&o, &[]).unwrap().project;
    std::mem::forget(dir);
    p
}

const SHOP: &str = r#"
services:
  web:
    image: busybox
    entrypoint: ["/bin/sh", "-c"]
    command: ["httpd -f"]
    environment: {A: "1", UNSET_ONE: null}
    ports: ["127.0.0.1:8080:80", "9000/udp"]
    expose: ["81"]
    networks:
      front: {aliases: [www]}
      back: {ipv4_address: 10.89.7.9}
    volumes: ["data:/data:ro", "./site:/site", {type: tmpfs, target: /scratch, tmpfs: {size: 1048576}}]
    secrets: [token]
    healthcheck: {test: ["CMD", "true"], interval: 2s, retries: 5}
    restart: on-failure:3
    deploy: {resources: {limits: {memory: 64m, cpus: "0.5", pids: 50}}, replicas: 2}
    ulimits: {nofile: {soft: 1024, hard: 2048}}
    stop_grace_period: 1500ms
    stop_signal: SIGINT
    extra_hosts: ["db.local=10.0.0.5"]
    labels: {tier: front}
    init: true
    read_only: true
    user: "1000"
    working_dir: /site
    hostname: webhost
  db:
    image: busybox
    network_mode: service:web
networks:
  front: {}
  back: {}
volumes:
  data: {}
secrets:
  token: {file: ./secret.txt}
"#;

#[test]
fn a_service_becomes_run_options_and_labels() {
    let p = project(SHOP);
    let w = plan(&p, "web", 2, false, None).unwrap();
    assert_eq!(w.name, "shop-web-2");
    let o = &w.opts;
    assert_eq!(o.image, "busybox");
    assert_eq!(o.entrypoint.as_deref(), Some("/bin/sh"));
    assert_eq!(o.command, vec!["-c", "httpd -f"]);
    assert_eq!(o.env, vec!["A=1"]);
    assert_eq!(o.network.mode.to_string(), "shop_back");
    assert_eq!(o.network.aliases, vec!["web"]);
    assert_eq!(o.network.ip, Some("10.89.7.9".parse().unwrap()));
    assert_eq!(w.joins, vec![Join { network: "shop_front".into(), aliases: vec!["web".into(), "www".into()], ip: None }]);
    assert_eq!(o.network.publish, vec!["127.0.0.1:8080:80/tcp", "9000/udp"]);
    assert_eq!(o.network.expose, vec!["81"]);
    assert_eq!(o.network.add_host, vec!["db.local:10.0.0.5"]);
    let kinds: Vec<(&str, &MountKind, bool)> = o.mounts.iter().map(|m| (m.target.as_str(), &m.kind, m.read_only)).collect();
    assert!(
        matches!(kinds[..], [
        ("/site", MountKind::Bind { create: true, .. }, false),
        ("/data", MountKind::Volume { name: Some(ref n), .. }, true),
        ("/run/secrets/token", MountKind::Bind { create: false, .. }, true),
        ("/scratch", MountKind::Tmpfs(_), false),
    ] if n == "shop_data"),
        "{kinds:?}"
    );
    let h = o.health.as_ref().unwrap();
    assert_eq!((h.test.clone(), h.interval.as_secs(), h.retries), (vec!["CMD".to_string(), "true".into()], 2, 5));
    assert_eq!(o.restart, "on-failure:3".parse().unwrap());
    assert_eq!((o.limits.memory, o.limits.nano_cpus, o.limits.pids_limit), (Some(64 << 20), Some(500_000_000), Some(50)));
    assert_eq!(o.limits.ulimits.len(), 1);
    assert_eq!((o.stop_timeout, o.stop_signal.as_deref()), (Some(2), Some("SIGINT")));
    assert!(o.init && o.read_only);
    assert_eq!((o.user.as_deref(), o.workdir.as_deref(), o.hostname.as_deref()), (Some("1000"), Some("/site"), Some("webhost")));
    let l = &o.labels;
    assert_eq!(l[PROJECT], "shop");
    assert_eq!(l[SERVICE], "web");
    assert_eq!(l[NUMBER], "2");
    assert_eq!(l[ONEOFF], "False");
    assert_eq!(l["tier"], "front");
    assert_eq!(l[HASH], config_hash(&p.services["web"]));
    assert!(l[CONFIG_FILES].ends_with("compose.yaml"));
    assert_eq!(replicas("web", &p.services["web"], &BTreeMap::new()), 2);
    assert_eq!(replicas("web", &p.services["web"], &[("web".to_string(), 3)].into()), 3);
    let db = plan(&p, "db", 1, false, None).unwrap();
    assert_eq!(db.opts.network.mode.to_string(), "container:shop-web-1");
}

#[test]
fn the_default_network_and_image_healthcheck() {
    let p = project("services:\n  app:\n    build: .\n    healthcheck: {interval: 1s, start_period: 10s, start_interval: 100ms}\n");
    let image_hc = json!({"Test": ["CMD-SHELL", "true"], "Interval": 30_000_000_000u64, "Retries": 4});
    let a = plan(&p, "app", 1, true, Some(&image_hc)).unwrap();
    assert_eq!(a.opts.image, "shop-app");
    assert_eq!(a.opts.network.mode.to_string(), "shop_default");
    assert_eq!(a.opts.network.aliases, vec!["app"]);
    assert_eq!(a.opts.labels[ONEOFF], "True");
    let h = a.opts.health.unwrap();
    assert_eq!((h.test[1].as_str(), h.interval.as_secs(), h.retries), ("true", 1, 4));
    assert_eq!(h.start_interval, Some(std::time::Duration::from_millis(100)));
    assert_eq!(h.next_interval(std::time::Duration::from_secs(1)), std::time::Duration::from_millis(100), "in the start period");
    assert_eq!(h.next_interval(std::time::Duration::from_secs(11)), std::time::Duration::from_secs(1), "after it");
}

#[test]
fn what_the_engine_cannot_do_is_refused_with_its_path() {
    let cases = [
        (
            "services:\n  a:\n    image: x\n    secrets: [{source: s, mode: 0400}]\nsecrets:\n  s: {file: ./secret.txt}\n",
            "services.a.secrets[0]",
        ),
        ("services:\n  a:\n    image: x\n    secrets: [s]\nsecrets:\n  s: {environment: HOME}\n", "secrets.s"),
        (
            "services:\n  a:\n    image: x\n    volumes: [{type: bind, source: ., target: /x, bind: {propagation: rshared}}]\n",
            "services.a.volumes[0].bind",
        ),
    ];
    for (text, path) in cases {
        let p = project(text);
        let e = plan(&p, "a", 1, false, None).unwrap_err().to_string();
        assert!(e.starts_with(&format!("{path}:")), "{e}");
    }
}

#[test]
fn the_hash_changes_with_the_service() {
    let a = project("services:\n  a:\n    image: x\n");
    let b = project("services:\n  a:\n    image: x\n    environment: [K=V]\n");
    assert_ne!(config_hash(&a.services["a"]), config_hash(&b.services["a"]));
    assert_eq!(config_hash(&a.services["a"]), config_hash(&project("services:\n  a: {image: x}\n").services["a"]));
}
