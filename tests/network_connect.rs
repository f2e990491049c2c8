//! A container on several user-defined networks, as an unprivileged user
//! with real containers: `run --network a --network b`, `network connect`
//! and `network disconnect` of running and stopped containers (what the
//! container can reach and resolve changes at once), `--ip6`,
//! `--mac-address`, `--hostname`/`--domainname` in the network's DNS, and
//! the gateways and prefixes `inspect` shows. Bad input is refused with 125
//! and nothing half-done (a connect whose plugging fails leaves no
//! endpoint behind). Only `--internal` networks are used.

mod common;

use common::{rootless_ready, stderr, stdout, Env};

fn containers() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

/// Run, expect 125 and a message containing `says`.
fn refused(e: &Env, args: &[&str], says: &str) {
    let o = e.run(args);
    let err = stderr(&o);
    assert_eq!(o.status.code(), Some(125), "{args:?}: {err}");
    assert!(err.contains(says), "{args:?}: expected {says:?} in: {err}");
}

fn inspect(e: &Env, container: &str) -> serde_json::Value {
    let v: serde_json::Value = serde_json::from_str(&e.ok(&["inspect", container])).unwrap();
    v[0].clone()
}

/// Whether `exec`ing `script` in `container` succeeds.
fn succeeds(e: &Env, container: &str, script: &str) -> bool {
    e.run(&["exec", container, "sh", "-c", script]).status.success()
}

const PING: &str = "ping -c 1 -W 2";

#[test]
fn a_container_on_two_networks_reaches_and_resolves_both() {
    let Some(e) = containers() else { return };
    e.ok(&["network", "create", "--internal", "--subnet", "10.211.1.0/24", "front"]);
    e.ok(&["network", "create", "--internal", "--subnet", "10.211.2.0/24", "back"]);
    e.ok(&["run", "-d", "--name", "web", "--network", "front", "busybox", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", "db", "--network", "back", "busybox", "sleep", "1000"]);
    // --ip and --network-alias apply to the first network.
    e.ok(&[
        "run",
        "-d",
        "--name",
        "app",
        "--network",
        "front",
        "--network",
        "back",
        "--ip",
        "10.211.1.77",
        "--network-alias",
        "api",
        "busybox",
        "sleep",
        "1000",
    ]);
    let links = e.ok(&["exec", "app", "ls", "/sys/class/net"]);
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["eth0", "eth1", "lo"], "{links}");
    let routes = e.ok(&["exec", "app", "ip", "route"]);
    assert!(routes.lines().any(|l| l.starts_with("default via 10.211.1.1 dev eth0")), "the first network has the default route: {routes}");
    assert!(!routes.lines().any(|l| l.starts_with("default") && l.contains("eth1")), "{routes}");
    let eth1 = e.ok(&["exec", "app", "ip", "addr", "show", "eth1"]);
    assert!(eth1.contains("inet 10.211.2."), "{eth1}");
    // It reaches and resolves containers of both networks; they resolve it.
    assert!(succeeds(&e, "app", &format!("{PING} web && {PING} db")));
    assert!(succeeds(&e, "web", &format!("{PING} api && {PING} app")));
    assert!(succeeds(&e, "db", &format!("{PING} app")));
    assert!(!succeeds(&e, "db", "nslookup api"), "the alias is the first network's only");
    // ...but the two single-network containers still do not see each other.
    assert!(!succeeds(&e, "web", "nslookup db"));
    let db_ip = inspect(&e, "db")["NetworkSettings"]["Networks"]["back"]["IPAddress"].as_str().unwrap().to_string();
    assert!(!succeeds(&e, "web", &format!("{PING} {db_ip}")), "front reached back through app");
    // inspect: one entry per network with its gateway, prefix and id.
    let app = inspect(&e, "app");
    let nets = &app["NetworkSettings"]["Networks"];
    assert_eq!(nets["front"]["IPAddress"], "10.211.1.77");
    assert_eq!(nets["front"]["Gateway"], "10.211.1.1");
    assert_eq!(nets["front"]["IPPrefixLen"], 24);
    assert_eq!(nets["front"]["Aliases"], serde_json::json!(["api"]));
    assert_eq!(nets["back"]["Gateway"], "10.211.2.1");
    assert_eq!(nets["back"]["Aliases"], serde_json::json!([]));
    let back_id = e.ok(&["network", "inspect", "-f", "{{.Id}}", "back"]);
    assert_eq!(nets["back"]["NetworkID"].as_str().unwrap(), back_id.trim());
    assert_eq!(app["NetworkSettings"]["IPAddress"], "", "no default-network address on user networks, as docker");
    refused(&e, &["network", "rm", "back"], "app");
    e.ok(&["rm", "-f", "web", "db", "app"]);
}

#[test]
fn connect_and_disconnect_change_what_a_running_container_reaches_and_resolves() {
    let Some(e) = containers() else { return };
    e.ok(&["network", "create", "--internal", "--subnet", "10.212.1.0/24", "one"]);
    e.ok(&["network", "create", "--internal", "--subnet", "10.212.2.0/24", "two"]);
    e.ok(&["run", "-d", "--name", "a", "--network", "one", "busybox", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", "b", "--network", "two", "busybox", "sleep", "1000"]);
    assert!(!succeeds(&e, "b", &format!("{PING} a")), "not connected yet");
    e.ok(&["network", "connect", "--alias", "bee", "--ip", "10.212.1.50", "one", "b"]);
    let links = e.ok(&["exec", "b", "ls", "/sys/class/net"]);
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["eth0", "eth1", "lo"], "{links}");
    let routes = e.ok(&["exec", "b", "ip", "route"]);
    assert!(routes.lines().any(|l| l.starts_with("default via 10.212.2.1 dev eth0")), "the default route stays: {routes}");
    assert!(succeeds(&e, "b", &format!("{PING} a")), "b reaches and resolves a");
    let looked = e.ok(&["exec", "a", "nslookup", "bee"]);
    assert!(looked.contains("10.212.1.50"), "{looked}");
    assert!(succeeds(&e, "a", &format!("{PING} b")));
    let v = inspect(&e, "b");
    assert_eq!(v["NetworkSettings"]["Networks"]["one"]["IPAddress"], "10.212.1.50");
    assert_eq!(v["NetworkSettings"]["Networks"]["one"]["Gateway"], "10.212.1.1");
    refused(&e, &["network", "connect", "one", "b"], "container b is already connected to network one");
    refused(&e, &["network", "rm", "one"], "b");

    e.ok(&["network", "disconnect", "one", "b"]);
    let links = e.ok(&["exec", "b", "ls", "/sys/class/net"]);
    assert_eq!(links.split_whitespace().collect::<Vec<_>>(), ["eth0", "lo"], "{links}");
    assert!(!succeeds(&e, "b", &format!("{PING} a")));
    assert!(!succeeds(&e, "a", "nslookup bee"), "the alias went with the endpoint");
    assert!(!succeeds(&e, "a", &format!("{PING} 10.212.1.50")));
    assert!(inspect(&e, "b")["NetworkSettings"]["Networks"].get("one").is_none());
    refused(&e, &["network", "disconnect", "one", "b"], "container b is not connected to network one");
    // Connected again: the next free interface name, a fresh address.
    e.ok(&["network", "connect", "one", "b"]);
    assert!(succeeds(&e, "b", &format!("{PING} a")));
    e.ok(&["network", "disconnect", "-f", "one", "b"]);

    // A stopped container: recorded now, plugged at its next start.
    e.ok(&["create", "--name", "c", "--network", "two", "busybox", "sh", "-c", &format!("ls /sys/class/net && {PING} a")]);
    e.ok(&["network", "connect", "one", "c"]);
    let o = e.run(&["start", "-a", "c"]);
    assert!(o.status.success(), "{}{}", stdout(&o), stderr(&o));
    assert!(stdout(&o).split_whitespace().any(|w| w == "eth1"), "{}", stdout(&o));
    e.ok(&["rm", "-f", "a", "b", "c"]);
    e.ok(&["network", "rm", "one", "two"]);
}

#[test]
fn bad_connects_are_refused_and_leave_nothing_behind() {
    let Some(e) = containers() else { return };
    e.ok(&["network", "create", "--internal", "--subnet", "10.213.1.0/24", "net"]);
    e.ok(&["network", "create", "--internal", "--subnet", "10.213.2.0/24", "locked"]);
    e.ok(&["run", "-d", "--name", "x", "--network", "net", "busybox", "sleep", "1000"]);
    e.ok(&["run", "-d", "--name", "plain", "busybox", "sleep", "1000"]);
    e.ok(&["create", "--name", "hosted", "--network", "host", "busybox", "true"]);
    let listing = e.store_listing();
    refused(&e, &["network", "connect", "nosuch", "x"], "network nosuch not found");
    refused(&e, &["network", "connect", "net", "nosuch"], "nosuch");
    refused(&e, &["network", "connect", "bridge", "x"], "built-in");
    refused(&e, &["network", "connect", "net", "x"], "already connected");
    refused(&e, &["network", "connect", "locked", "plain"], "network mode burrow");
    refused(&e, &["network", "connect", "locked", "hosted"], "network mode host");
    refused(&e, &["network", "connect", "--ip", "10.9.9.9", "locked", "x"], "10.9.9.9");
    refused(&e, &["network", "connect", "--ip6", "fd00::5", "locked", "x"], "has no IPv6");
    refused(&e, &["network", "connect", "--alias", "bad/name", "locked", "x"], "bad/name");
    refused(&e, &["network", "disconnect", "locked", "x"], "not connected to network locked");
    assert_eq!(e.store_listing(), listing, "nothing written");
    // Plugging a running container in fails (the network's start lock is
    // a directory, so its holder cannot be started): the endpoint recorded
    // first is taken back.
    let blocker = e.root.join("networks/locked/holder-start.lock");
    std::fs::create_dir(&blocker).unwrap();
    let o = e.run(&["network", "connect", "locked", "x"]);
    std::fs::remove_dir(&blocker).unwrap();
    assert_eq!(o.status.code(), Some(125), "{}", stderr(&o));
    assert!(inspect(&e, "x")["NetworkSettings"]["Networks"].get("locked").is_none(), "the failed connect left its endpoint");
    e.ok(&["network", "rm", "locked"]);
    e.ok(&["rm", "-f", "x", "plain", "hosted"]);
}

#[test]
fn ipv6_mac_and_hostnames_on_a_user_network() {
    let Some(e) = containers() else { return };
    e.ok(&["network", "create", "--internal", "--ipv6", "--subnet", "10.214.0.0/24", "--subnet", "fd00:214::/64", "six"]);
    e.ok(&["network", "create", "--internal", "four"]);
    e.ok(&[
        "run",
        "-d",
        "--name",
        "srv",
        "--network",
        "six",
        "--ip6",
        "fd00:214::99",
        "--mac-address",
        "02:aa:bb:cc:dd:ee",
        "--hostname",
        "store",
        "--domainname",
        "example.test",
        "busybox",
        "sleep",
        "1000",
    ]);
    assert_eq!(e.ok(&["exec", "srv", "cat", "/sys/class/net/eth0/address"]).trim(), "02:aa:bb:cc:dd:ee");
    let addr = e.ok(&["exec", "srv", "ip", "addr", "show", "eth0"]);
    assert!(addr.contains("inet6 fd00:214::99/64"), "{addr}");
    assert_eq!(e.ok(&["exec", "srv", "hostname"]).trim(), "store");
    assert_eq!(e.ok(&["exec", "srv", "cat", "/proc/sys/kernel/domainname"]).trim(), "example.test");
    let ip = inspect(&e, "srv")["NetworkSettings"]["Networks"]["six"]["IPAddress"].as_str().unwrap().to_string();
    for name in ["store", "store.example.test"] {
        let looked = e.ok(&["run", "--rm", "--network", "six", "busybox", "nslookup", name]);
        assert!(looked.contains(&ip) && looked.contains("fd00:214::99"), "{name}: {looked}");
    }
    let pinged = e.ok(&["run", "--rm", "--network", "six", "busybox", "ping", "-6", "-c", "1", "-W", "2", "store"]);
    assert!(pinged.contains("1 packets received"), "{pinged}");
    let six = &inspect(&e, "srv")["NetworkSettings"]["Networks"]["six"];
    assert_eq!(six["GlobalIPv6Address"], "fd00:214::99");
    assert_eq!(six["GlobalIPv6PrefixLen"], 64);
    assert_eq!(six["IPv6Gateway"], "fd00:214::1");
    assert_eq!(six["MacAddress"], "02:aa:bb:cc:dd:ee");
    let names = six["DNSNames"].as_array().unwrap();
    assert!(names.iter().any(|n| n == "store.example.test") && names.iter().any(|n| n == "srv"), "{six}");
    // Refused, naming why, with nothing created.
    let listing = e.store_listing();
    refused(&e, &["run", "--rm", "--network", "four", "--ip6", "fd00:214::5", "busybox", "true"], "network four has no IPv6");
    refused(&e, &["run", "--rm", "--ip6", "fd00:214::5", "busybox", "true"], "user-defined network");
    refused(&e, &["run", "--rm", "--network", "six", "--ip6", "fd00:214::99", "busybox", "true"], "fd00:214::99");
    refused(&e, &["run", "--rm", "--mac-address", "02:00:00:00:00:01", "busybox", "true"], "user-defined network");
    refused(&e, &["run", "--rm", "--network", "six", "--mac-address", "01:00:5e:00:00:01", "busybox", "true"], "unicast");
    refused(
        &e,
        &["run", "--rm", "--network", "six", "--mac-address", "02:aa:bb:cc:dd:ee", "busybox", "true"],
        "already used by container srv",
    );
    refused(&e, &["run", "--rm", "--network", "six", "--mac-address", "nonsense", "busybox", "true"], "invalid MAC address");
    refused(&e, &["run", "--rm", "--network", "six", "--network", "host", "busybox", "true"], "cannot be combined");
    refused(&e, &["run", "--rm", "--network", "six", "--network", "six", "busybox", "true"], "more than once");
    refused(&e, &["run", "--rm", "--network", "six", "--network", "nosuch", "busybox", "true"], "nosuch");
    assert_eq!(e.store_listing(), listing, "nothing created");
    e.ok(&["rm", "-f", "srv"]);
}

#[test]
fn inspect_shows_the_default_networks_address() {
    let Some(e) = containers() else { return };
    e.ok(&["create", "--name", "d", "busybox", "true"]);
    let v = inspect(&e, "d");
    let s = &v["NetworkSettings"];
    assert_eq!(s["IPAddress"], "10.0.2.100");
    assert_eq!(s["Gateway"], "10.0.2.2");
    assert_eq!(s["IPPrefixLen"], 24);
    assert_eq!(s["Networks"]["bridge"]["IPAddress"], "10.0.2.100");
    let bridge_id = e.ok(&["network", "inspect", "-f", "{{.Id}}", "bridge"]);
    assert_eq!(s["Networks"]["bridge"]["NetworkID"].as_str().unwrap(), bridge_id.trim());
    e.ok(&["create", "--name", "n", "--network", "none", "busybox", "true"]);
    assert_eq!(inspect(&e, "n")["NetworkSettings"]["IPAddress"], "");
}
