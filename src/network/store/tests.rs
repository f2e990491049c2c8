use std::path::Path;

use super::*;

fn request(name: &str) -> CreateRequest {
    CreateRequest { name: name.into(), driver: "bridge".into(), ..CreateRequest::default() }
}

fn setup() -> (tempfile::TempDir, Paths, StoreLock) {
    let t = tempfile::tempdir().unwrap();
    let paths = Paths::resolve(Some(t.path()));
    let lock = StoreLock::exclusive(&paths.lock_file()).unwrap();
    (t, paths, lock)
}

fn names(paths: &Paths) -> Vec<String> {
    list(paths).unwrap().into_iter().map(|n| n.name).collect()
}

#[test]
fn create_find_list_remove() {
    let (_t, paths, lock) = setup();
    let mut r = request("app");
    r.labels.insert("tier".into(), "db".into());
    r.options.push("mtu=1400".into());
    let a = create(&lock, &paths, &r, &[]).unwrap();
    assert_eq!(a.ipv4.subnet.to_string(), "10.89.0.0/24");
    assert!(Path::new(&paths.networks().join("app/network.json")).is_file());
    let b = create(&lock, &paths, &request("web.2"), &[]).unwrap();
    assert_eq!(b.ipv4.subnet.to_string(), "10.89.1.0/24", "the next free /24");
    assert_eq!(names(&paths), ["app", "web.2"]);
    assert_eq!(get(&paths, "app").unwrap(), a);
    // by id and by unique id prefix
    assert!(matches!(find(&paths, a.id.as_str()).unwrap(), Found::User(n) if n.name == "app"));
    assert!(matches!(find(&paths, &a.id.as_str()[..12]).unwrap(), Found::User(n) if n.name == "app"));
    assert!(matches!(find(&paths, "bridge").unwrap(), Found::Builtin(b) if b.driver == "bridge"));
    assert!(matches!(find(&paths, "nope"), Err(Error::NoSuchNetwork { .. })));
    // a half-made directory is no network, and a create takes it over
    fs::create_dir_all(paths.networks().join("half")).unwrap();
    assert_eq!(names(&paths), ["app", "web.2"]);
    create(&lock, &paths, &request("half"), &[]).unwrap();
    assert_eq!(remove(&lock, &paths, "half", &[]).unwrap(), "half");
    assert!(!paths.networks().join("half").exists());
    // in use: refused naming the containers
    let users = [("db1".to_string(), "app".to_string()), ("web".to_string(), "other".to_string()), ("db2".to_string(), "app".to_string())];
    let e = remove(&lock, &paths, "app", &users).unwrap_err();
    assert_eq!(e.to_string(), "error while removing network app: network app has active endpoints (containers: db1, db2)");
    assert!(matches!(remove(&lock, &paths, "host", &[]), Err(Error::Builtin { .. })));
    // prune removes what is unused and not kept
    let removed = prune(&lock, &paths, &users, |n| n.labels.contains_key("keep")).unwrap();
    assert_eq!(removed, ["web.2"]);
    assert_eq!(names(&paths), ["app"]);
    assert_eq!(remove(&lock, &paths, &a.id.as_str()[..20], &[]).unwrap(), "app");
    assert!(names(&paths).is_empty());
}

#[test]
fn bad_requests_create_nothing() {
    let (_t, paths, lock) = setup();
    create(
        &lock,
        &paths,
        &CreateRequest {
            addressing: ipam::Request { subnets: vec!["10.10.0.0/16".parse().unwrap()], ..Default::default() },
            ..request("one")
        },
        &[],
    )
    .unwrap();
    let cases: Vec<(CreateRequest, &str)> = vec![
        (request("one"), "network with name one already exists"),
        (request("-bad"), "invalid network name \"-bad\""),
        (request("a/b"), "invalid network name"),
        (CreateRequest { driver: "macvlan".into(), ..request("x") }, "\"macvlan\" is not supported"),
        (CreateRequest { options: vec!["parent=eth0".into()], ..request("x") }, "unknown network option \"parent\""),
        (CreateRequest { options: vec!["mtu=9".into()], ..request("x") }, "invalid mtu \"9\""),
        (CreateRequest { options: vec!["mtu".into()], ..request("x") }, "expected KEY=VALUE"),
        (
            CreateRequest {
                addressing: ipam::Request { subnets: vec!["10.10.5.0/24".parse().unwrap()], ..Default::default() },
                ..request("x")
            },
            "overlaps network one (10.10.0.0/16)",
        ),
    ];
    for name in RESERVED {
        let e = create(&lock, &paths, &request(name), &[]).unwrap_err();
        assert!(matches!(e, Error::Reserved { .. }), "{name}: {e}");
    }
    for (req, message) in cases {
        let e = create(&lock, &paths, &req, &[]).unwrap_err();
        assert!(e.to_string().contains(message), "{e}");
    }
    assert_eq!(names(&paths), ["one"]);
    let dirs: Vec<_> = fs::read_dir(paths.networks()).unwrap().flatten().map(|e| e.file_name()).collect();
    assert_eq!(dirs, ["one"], "no directory left by a refused create");
}

#[test]
fn a_failed_write_leaves_no_directory() {
    let (_t, paths, lock) = setup();
    // networks/ read-only for writes inside new directories: make the
    // network's directory exist as a file so create_dir_all fails, then a
    // directory where the temp file cannot be made
    fs::create_dir_all(paths.networks()).unwrap();
    fs::write(paths.networks().join("clash"), b"").unwrap();
    assert!(matches!(create(&lock, &paths, &request("clash"), &[]), Err(Error::Io { .. })));
    // network.json is a directory: the rename fails, the directory goes
    fs::create_dir_all(paths.networks().join("w/network.json/inner")).unwrap();
    assert!(matches!(create(&lock, &paths, &request("w"), &[]), Err(Error::Io { .. })));
    assert!(!paths.networks().join("w").exists());
}

#[test]
fn builtin_ids_are_stable_and_distinct() {
    let ids: Vec<NetworkId> = BUILTINS.iter().map(Builtin::id).collect();
    assert_eq!(ids[0], BUILTINS[0].id());
    assert!(ids[0] != ids[1] && ids[1] != ids[2]);
}

#[test]
fn ula_bits_come_from_the_id() {
    let id = NetworkId::parse(&format!("abcdef0123{}", "0".repeat(54))).unwrap();
    let req = CreateRequest { addressing: ipam::Request { ipv6: true, ..Default::default() }, ..request("six") };
    let n = define(&req, &[], &[], id).unwrap();
    assert_eq!(n.ipv6.unwrap().subnet.to_string(), "fdab:cdef:123::/64");
}
