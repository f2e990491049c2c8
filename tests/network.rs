//! Container networking end to end: burrow-netstack behind a real TAP in
//! the container's namespace, real host sockets, as an unprivileged user.
//!
//! Host-side servers are plain std sockets in the test process on the
//! host's loopback; the container reaches them through the gateway
//! (10.0.2.2) only with `allow_host_loopback`. Published ports are checked
//! for the client address the container sees. The Debian test reaches the
//! real package mirror (DNS + TCP), as the machines allow.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Stdio;
use std::time::{Duration, Instant};

use common::net::{ask, background, host_address, http_server, published, socket_from};
use common::{require, rootless_ready, stderr, Env};
use sha2::{Digest, Sha256};

const ALLOW: &str = "--network=burrow:allow_host_loopback=true";

fn env() -> Option<Env> {
    rootless_ready().then(|| Env::new().with_busybox())
}

#[test]
fn outbound_tcp_reaches_host_loopback_only_when_allowed() {
    let Some(e) = env() else { return };
    let (port, peers) = http_server();
    let url = format!("http://10.0.2.2:{port}/");
    let out = e.ok(&["run", "--rm", ALLOW, "busybox", "wget", "-q", "-O-", &url]);
    assert_eq!(out, "hello from the host\n");
    assert_eq!(peers.lock().unwrap().len(), 1);
    assert!(peers.lock().unwrap()[0].ip().is_loopback());

    // Without permission the gateway is not the host's loopback.
    let o = e.run(&["run", "--rm", "busybox", "wget", "-q", "-O-", &url]);
    assert_eq!(o.status.code(), Some(1), "{}", stderr(&o));
    assert!(stderr(&o).contains("No route to host"), "{}", stderr(&o));
    assert_eq!(peers.lock().unwrap().len(), 1, "the host server saw no second connection");
    // Nor is anything else of the virtual network, nor loopback addresses.
    let o = e.run(&["run", "--rm", "busybox", "sh", "-c", &format!("nc 10.0.2.77 {port} </dev/null")]);
    assert!(stderr(&o).contains("No route to host"), "{}", stderr(&o));
}

#[test]
fn refused_and_reset_connections_travel_back() {
    let Some(e) = env() else { return };
    // A port nobody listens on: the container sees "refused" (an RST).
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let o = e.run(&["run", "--rm", ALLOW, "busybox", "sh", "-c", &format!("nc 10.0.2.2 {closed} </dev/null")]);
    assert!(stderr(&o).contains("Connection refused"), "{}", stderr(&o));

    // A server that resets: the container's read fails with a reset.
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for s in l.incoming().flatten() {
            let mut buf = [0u8; 16];
            let mut s = s;
            let _ = s.read(&mut buf);
            let s2 = socket2::Socket::from(s);
            s2.set_linger(Some(Duration::ZERO)).unwrap();
            drop(s2);
        }
    });
    let url = format!("http://10.0.2.2:{port}/");
    let o = e.run(&["run", "--rm", ALLOW, "busybox", "wget", "-q", "-O-", &url]);
    assert_eq!(o.status.code(), Some(1));
    assert!(stderr(&o).contains("Connection reset by peer"), "{}", stderr(&o));
}

/// A DNS answer to `query` (one question): every A question gets
/// 192.0.2.99, anything else no answer.
fn dns_answer(query: &[u8]) -> Vec<u8> {
    let mut r = query.to_vec();
    r[2] = 0x81;
    r[3] = 0x80;
    let qtype = u16::from_be_bytes([query[query.len() - 4], query[query.len() - 3]]);
    if qtype == 1 {
        r[7] = 1;
        r.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 99]);
    }
    r
}

/// A DNS server on the host's loopback, over UDP and TCP on one port.
fn dns_server() -> u16 {
    let tcp = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = tcp.local_addr().unwrap().port();
    let udp = UdpSocket::bind(("127.0.0.1", port)).unwrap();
    std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(&dns_answer(&buf[..n]), from);
        }
    });
    std::thread::spawn(move || {
        for mut s in tcp.incoming().flatten() {
            let mut len = [0u8; 2];
            if s.read_exact(&mut len).is_err() {
                continue;
            }
            let mut q = vec![0u8; u16::from_be_bytes(len) as usize];
            if s.read_exact(&mut q).is_ok() {
                let a = dns_answer(&q);
                let _ = s.write_all(&(a.len() as u16).to_be_bytes());
                let _ = s.write_all(&a);
            }
        }
    });
    port
}

#[test]
fn dns_over_udp_and_tcp_through_the_forwarder() {
    let Some(e) = env() else { return };
    let port = dns_server();
    let mode = format!("--network=burrow:dns_forward=127.0.0.1:{port}");
    let out = e.ok(&["run", "--rm", &mode, "busybox", "sh", "-c", "cat /etc/resolv.conf; nslookup app.example"]);
    assert!(out.contains("nameserver 10.0.2.3"), "{out}");
    assert!(out.contains("Address: 192.0.2.99"), "{out}");

    // DNS over TCP, by hand: a length-prefixed query for app.example A.
    let mut q = vec![0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0];
    for label in ["app", "example"] {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.extend_from_slice(&[0, 0, 1, 0, 1]);
    let mut framed = (q.len() as u16).to_be_bytes().to_vec();
    framed.extend_from_slice(&q);
    let octal: String = framed.iter().map(|b| format!("\\{b:03o}")).collect();
    let script = format!("printf '{octal}' | nc 10.0.2.3 53 | od -An -tx1 -v");
    let out = e.ok(&["run", "--rm", &mode, "busybox", "sh", "-c", &script]);
    let bytes: Vec<u8> = out.split_whitespace().map(|h| u8::from_str_radix(h, 16).unwrap()).collect();
    assert!(bytes.len() > 14, "a TCP DNS answer: {out}");
    let msg = &bytes[2..];
    assert_eq!(&msg[..2], &[0x12, 0x34], "our query id");
    assert_eq!(&msg[msg.len() - 4..], &[192, 0, 2, 99], "the answer");

    // The DNS address answers nothing but DNS.
    let o = e.run(&["run", "--rm", &mode, "busybox", "sh", "-c", "nc 10.0.2.3 80 </dev/null"]);
    assert!(!o.status.success());
}

#[test]
fn the_hosts_resolver_and_the_package_mirror() {
    let Some(e) = env() else { return };
    let resolves = std::net::ToSocketAddrs::to_socket_addrs(&("deb.debian.org", 80)).is_ok();
    if !require(resolves, "the host resolves deb.debian.org (the package mirror)") {
        return;
    }
    let out = e.ok(&[
        "run",
        "--rm",
        "busybox",
        "sh",
        "-c",
        "nslookup deb.debian.org && wget -q -O- http://deb.debian.org/debian/dists/bookworm/Release | head -n 3",
    ]);
    assert!(out.contains("Name:\tdeb.debian.org") || out.contains("canonical name"), "{out}");
    assert!(out.contains("Origin: Debian"), "{out}");
}

#[test]
fn ping_the_gateway_and_through_icmp_sockets() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "busybox", "ping", "-c", "1", "-W", "5", "10.0.2.2"]);
    assert!(out.contains("1 packets received"), "{out}");
    let out = e.ok(&["run", "--rm", "busybox", "ping6", "-c", "1", "-W", "5", "fd00:b0b0::2"]);
    assert!(out.contains("1 packets received"), "{out}");
    let range = std::fs::read_to_string("/proc/sys/net/ipv4/ping_group_range").unwrap_or_default();
    let gid = nix::unistd::getgid().as_raw();
    if !require(burrow_netstack::icmp::ping_allowed(&range, gid), "net.ipv4.ping_group_range includes this user's group") {
        return;
    }
    let Some(host) = host_address() else {
        require(false, "a non-loopback host address to ping");
        return;
    };
    let out = e.ok(&["run", "--rm", "busybox", "ping", "-c", "2", "-W", "5", &host.to_string()]);
    assert!(out.contains("2 packets received"), "{out}");
}

#[test]
fn published_ports_keep_the_clients_address() {
    let Some(e) = env() else { return };
    let _c = background(
        &e,
        &[
            "run",
            "--rm",
            "--name",
            "web",
            "-p",
            "127.0.0.1::8080",
            "-p",
            "8081:8080",
            "busybox",
            "nc",
            "-ll",
            "-p",
            "8080",
            "-e",
            "sh",
            "-c",
            "netstat -tn | grep ESTAB",
        ],
    );
    let local = published(&e, "web", "8080");
    assert_eq!(local.ip().to_string(), "127.0.0.1");
    let all = e.ok(&["port", "web"]);
    assert!(all.contains(&format!("8080/tcp -> 127.0.0.1:{}", local.port())), "{all}");
    assert!(all.contains("8080/tcp -> 0.0.0.0:8081"), "{all}");

    // From another loopback address: the container sees exactly it.
    let (seen, me) = ask("127.0.0.2", local);
    assert!(seen.contains(&format!("127.0.0.2:{}", me.port())), "the container saw {seen:?}, we are {me}");
    // From the host's own address, through the stack.
    if let Some(host) = host_address() {
        let (seen, me) = ask(&host.to_string(), SocketAddr::new(host, 8081));
        assert!(seen.contains(&format!("{host}:{}", me.port())), "the container saw {seen:?}, we are {me}");
    }
    let inspect = e.ok(&["inspect", "--format", "{{json .NetworkSettings.Ports}}", "web"]);
    let ports: serde_json::Value = serde_json::from_str(&inspect).unwrap();
    assert!(ports["8080/tcp"].as_array().unwrap().contains(&serde_json::json!({"HostIp": "0.0.0.0", "HostPort": "8081"})), "{inspect}");
}

#[test]
fn busybox_httpd_sees_the_clients_address() {
    let Some(e) = env() else { return };
    // A CGI script answers with the client's address as httpd saw it.
    let script = "mkdir -p /www/cgi-bin && printf '#!/bin/sh\\necho Content-Type: text/plain\\necho\\necho $REMOTE_ADDR:$REMOTE_PORT\\n' >/www/cgi-bin/who && chmod +x /www/cgi-bin/who && exec httpd -f -p 80 -h /www";
    let _c = background(&e, &["run", "--rm", "--name", "httpd", "-p", "127.0.0.1::80", "busybox", "sh", "-c", script]);
    let to = published(&e, "httpd", "80");
    let t0 = Instant::now();
    loop {
        let s = socket_from("127.0.0.2").and_then(|s| {
            s.connect(&to.into())?;
            Ok(TcpStream::from(s))
        });
        if let Ok(mut s) = s {
            let me = s.local_addr().unwrap();
            s.write_all(b"GET /cgi-bin/who HTTP/1.0\r\n\r\n").unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if out.starts_with("HTTP/1.") {
                assert!(out.contains(" 200 "), "{out}");
                // httpd listens dual-stack, so IPv4 clients show as mapped.
                let seen = out.lines().last().unwrap_or_default().replace("[::ffff:", "").replace(']', "");
                assert_eq!(seen, format!("127.0.0.2:{}", me.port()), "{out}");
                return;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "httpd never answered on {to}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn publishing_refuses_taken_and_privileged_ports_and_other_modes() {
    let Some(e) = env() else { return };
    let held = TcpListener::bind("127.0.0.1:0").unwrap();
    let spec = format!("127.0.0.1:{}:80", held.local_addr().unwrap().port());
    let o = e.run(&["run", "--rm", "-p", &spec, "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(stderr(&o).contains("already in use"), "{}", stderr(&o));
    let start: u16 = std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").unwrap().trim().parse().unwrap();
    if start > 80 {
        let o = e.run(&["run", "--rm", "-p", "127.0.0.1:80:80", "busybox", "true"]);
        assert_eq!(o.status.code(), Some(125));
        assert!(stderr(&o).contains("privileged"), "{}", stderr(&o));
    }
    for mode in ["host", "none"] {
        let o = e.run(&["run", "--rm", "--network", mode, "-p", "8080:80", "busybox", "true"]);
        assert_eq!(o.status.code(), Some(125), "{mode}");
        assert!(stderr(&o).contains("cannot be published"), "{}", stderr(&o));
    }
    for bad in [
        &["-p", "99999:80"][..],
        &["-p", "80/sctp"],
        &["--network", "slirp4netns"],
        &["--network", "burrow:mtu=1"],
        &["--dns", "not-an-ip"],
    ] {
        let mut args = vec!["run", "--rm"];
        args.extend_from_slice(bad);
        args.extend_from_slice(&["busybox", "true"]);
        let o = e.run(&args);
        assert_eq!(o.status.code(), Some(125), "{bad:?}: {}", stderr(&o));
    }
    // Nothing was left behind by the refused runs.
    assert_eq!(e.ok(&["ps", "-a", "-q"]), "");
}

#[test]
fn network_modes_none_and_host() {
    let Some(e) = env() else { return };
    let out = e.ok(&["run", "--rm", "--network", "none", "busybox", "sh", "-c", "ip -o link | cut -d: -f2"]);
    assert_eq!(out.split_whitespace().collect::<Vec<_>>(), ["lo"]);
    let out = e.ok(&["run", "--rm", "busybox", "sh", "-c", "ip -o link | cut -d: -f2; ip route"]);
    assert!(out.contains("eth0") && out.contains("default via 10.0.2.2"), "{out}");
    if let Some(host) = host_address() {
        let out = e.ok(&["run", "--rm", "--network", "host", "busybox", "ip", "-o", "addr"]);
        assert!(out.contains(&host.to_string()), "{out}");
        let resolv = e.ok(&["run", "--rm", "--network", "host", "busybox", "cat", "/etc/resolv.conf"]);
        assert_eq!(resolv, std::fs::read_to_string("/etc/resolv.conf").unwrap());
    }
}

#[test]
fn dns_flags_and_added_hosts() {
    let Some(e) = env() else { return };
    let out = e.ok(&[
        "run",
        "--rm",
        "--hostname",
        "box1",
        "--dns",
        "192.0.2.53",
        "--dns-search",
        "example.com",
        "--dns-option",
        "ndots:2",
        "--add-host",
        "db:10.1.2.3",
        "--add-host",
        "host.burrow.internal:host-gateway",
        "busybox",
        "sh",
        "-c",
        "cat /etc/resolv.conf /etc/hosts",
    ]);
    for want in [
        "nameserver 192.0.2.53",
        "search example.com",
        "options ndots:2",
        "10.1.2.3\tdb",
        "10.0.2.2\thost.burrow.internal",
        "10.0.2.100\tbox1",
    ] {
        assert!(out.contains(want), "missing {want:?} in\n{out}");
    }
    assert!(!out.contains("nameserver 10.0.2.3"), "{out}");
}

#[test]
fn host_gateway_name_reaches_the_host_when_allowed() {
    let Some(e) = env() else { return };
    let (port, _) = http_server();
    let url = format!("http://host.burrow.internal:{port}/");
    let out = e.ok(&["run", "--rm", ALLOW, "--add-host", "host.burrow.internal:host-gateway", "busybox", "wget", "-q", "-O-", &url]);
    assert_eq!(out, "hello from the host\n");
}

#[test]
fn ipv6_on_the_virtual_network() {
    let Some(e) = env() else { return };
    let Ok(l) = TcpListener::bind("[::1]:0") else {
        require(false, "IPv6 loopback on the host");
        return;
    };
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut s in l.incoming().flatten() {
            let _ = s.write_all(b"over ipv6\n");
        }
    });
    let out = e.ok(&["run", "--rm", ALLOW, "busybox", "sh", "-c", &format!("nc fd00:b0b0::2 {port} </dev/null")]);
    assert_eq!(out, "over ipv6\n");
}

/// A host TCP sink that hashes exactly `len` bytes from one client.
fn sink(len: u64) -> (u16, std::thread::JoinHandle<String>) {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let t = std::thread::spawn(move || {
        let (mut s, _) = l.accept().unwrap();
        let mut h = Sha256::new();
        let mut buf = vec![0u8; 1 << 20];
        let mut left = len;
        while left > 0 {
            let n = s.read(&mut buf[..left.min(1 << 20) as usize]).unwrap();
            assert!(n > 0, "the stream ended {left} bytes early");
            h.update(&buf[..n]);
            left -= n as u64;
        }
        hex(&h.finalize())
    });
    (port, t)
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Deterministic bytes, hashed as they are produced.
fn pseudo_random(len: u64, mut each: impl FnMut(&[u8])) -> String {
    let mut h = Sha256::new();
    let mut state = 0x9e37_79b9_7f4a_7c15u64;
    let mut buf = vec![0u8; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = left.min(buf.len() as u64) as usize;
        for chunk in buf[..n].chunks_mut(8) {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            chunk.copy_from_slice(&state.to_le_bytes()[..chunk.len()]);
        }
        h.update(&buf[..n]);
        each(&buf[..n]);
        left -= n as u64;
    }
    hex(&h.finalize())
}

const GIB: u64 = 1 << 30;

#[test]
fn a_gibibyte_each_way_arrives_intact() {
    let Some(e) = env() else { return };
    // Container → host: random bytes, hashed on both sides.
    let (port, got) = sink(GIB);
    let script = format!(
        "mkfifo /tmp/p && (sha256sum </tmp/p >/tmp/sum &) && head -c {GIB} /dev/urandom | tee /tmp/p | nc 10.0.2.2 {port}; sleep 0.2; cat /tmp/sum"
    );
    let out = e.ok(&["run", "--rm", ALLOW, "busybox", "sh", "-c", &script]);
    let sent = out.split_whitespace().next().unwrap_or_default().to_string();
    assert_eq!(got.join().unwrap(), sent, "the host received what the container sent");

    // Host → container through a published port.
    let mut c = e
        .cmd(&["run", "--rm", "--name", "rx", "-p", "127.0.0.1::9000", "busybox", "sh", "-c", "nc -l -p 9000 | sha256sum"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let to = published(&e, "rx", "9000");
    let t0 = Instant::now();
    let mut s = loop {
        // nc may not listen yet: the splice path then resets us at once.
        if let Ok(mut s) = TcpStream::connect(to) {
            // A refused connection is reset; a live one waits for data
            // (or is half-closed: nc's own stdin is empty).
            std::thread::sleep(Duration::from_millis(300));
            let mut probe = [0u8; 1];
            s.set_nonblocking(true).unwrap();
            let alive = match s.read(&mut probe) {
                Ok(0) => true,
                Err(e) => e.kind() == std::io::ErrorKind::WouldBlock,
                Ok(_) => false,
            };
            s.set_nonblocking(false).unwrap();
            if alive {
                break s;
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "the container never listened");
        std::thread::sleep(Duration::from_millis(200));
    };
    let sent = pseudo_random(GIB, |b| s.write_all(b).unwrap());
    drop(s);
    let mut out = String::new();
    BufReader::new(c.stdout.take().unwrap()).read_line(&mut out).unwrap();
    let _ = c.wait();
    assert_eq!(out.split_whitespace().next().unwrap_or_default(), sent, "the container received what the host sent");
}

#[test]
fn a_thousand_concurrent_connections() {
    let Some(e) = env() else { return };
    const N: usize = 1000;
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        // Hold every connection until all are open at once, then answer.
        let mut open = Vec::new();
        while open.len() < N {
            let (s, _) = l.accept().unwrap();
            open.push(s);
        }
        for (i, mut s) in open.into_iter().enumerate() {
            writeln!(s, "ok {i}").unwrap();
        }
    });
    let script = format!(
        "i=0; while [ $i -lt {N} ]; do (nc 10.0.2.2 {port} </dev/null >/tmp/o.$i) & i=$((i+1)); done; wait; cat /tmp/o.* | grep -c ^ok"
    );
    let out = e.ok(&["run", "--rm", ALLOW, "busybox", "sh", "-c", &script]);
    server.join().unwrap();
    assert_eq!(out.trim(), N.to_string());
}

#[test]
fn pcap_records_the_containers_traffic() {
    let Some(e) = env() else { return };
    let file = e.dir.path().join("net.pcap");
    let mode = format!("--network=burrow:pcap={}", file.display());
    e.ok(&["run", "--rm", &mode, "busybox", "ping", "-c", "1", "10.0.2.2"]);
    let bytes = std::fs::read(&file).unwrap();
    assert_eq!(&bytes[..4], &0xa1b2_c3d4u32.to_le_bytes());
    assert!(bytes.len() > 24 + 2 * (16 + 98), "an echo request and its reply, at least: {} bytes", bytes.len());
}

/// Load the Debian layout (packaging/test.sh builds it) as an image.
fn with_debian(e: &Env) -> Option<String> {
    let dir = std::env::var_os("BURROW_TEST_DEBIAN_OCI").map(std::path::PathBuf::from);
    let ok = dir.as_ref().is_some_and(|d| d.join("index.json").is_file());
    if !require(ok, "$BURROW_TEST_DEBIAN_OCI: the Debian OCI layout (packaging/test.sh builds it)") {
        return None;
    }
    let tarball = e.dir.path().join("debian.tar");
    let mut b = tar::Builder::new(std::fs::File::create(&tarball).unwrap());
    b.append_dir_all(".", dir.unwrap()).unwrap();
    b.finish().unwrap();
    let out = e.ok(&["load", "-i", tarball.to_str().unwrap()]);
    let id = out.lines().last().and_then(|l| l.split(": ").nth(1)).unwrap().trim().to_string();
    Some(id)
}

#[test]
fn debian_apt_get_update_and_udp_both_ways() {
    let Some(e) = env() else { return };
    let resolves = std::net::ToSocketAddrs::to_socket_addrs(&("deb.debian.org", 80)).is_ok();
    if !require(resolves, "the host resolves deb.debian.org (the package mirror)") {
        return;
    }
    let Some(image) = with_debian(&e) else { return };
    let out = e.ok(&["run", "--rm", &image, "sh", "-c", "apt-get update 2>&1; echo rc=$?"]);
    assert!(out.contains("rc=0") && out.contains("Reading package lists"), "{out}");

    // UDP out: a host echo server reached through the gateway.
    let echo = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = echo.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 2048];
        while let Ok((n, from)) = echo.recv_from(&mut buf) {
            let _ = echo.send_to(&buf[..n], from);
        }
    });
    let perl = format!(
        "use IO::Socket::INET; my $s = IO::Socket::INET->new(PeerAddr => '10.0.2.2:{port}', Proto => 'udp') or die $!; \
         $s->send('ping over udp'); my $r; $s->recv($r, 100); print $r"
    );
    let out = e.ok(&["run", "--rm", ALLOW, &image, "perl", "-e", &perl]);
    assert_eq!(out, "ping over udp");

    // UDP in: a published UDP port, from another loopback address.
    let server = "use IO::Socket::INET; my $s = IO::Socket::INET->new(LocalPort => 5353, Proto => 'udp') or die $!; \
                  while (1) { my $m; my $from = $s->recv($m, 100); $s->send($m . ' from ' . $s->peerhost . ':' . $s->peerport, 0, $from) }";
    let _c = background(&e, &["run", "--rm", "--name", "u", "-p", "127.0.0.1::5353/udp", &image, "perl", "-e", server]);
    let to = published(&e, "u", "5353/udp");
    let client = UdpSocket::bind("127.0.0.2:0").unwrap();
    client.set_read_timeout(Some(Duration::from_millis(500))).unwrap();
    let me = client.local_addr().unwrap();
    let t0 = Instant::now();
    let reply = loop {
        client.send_to(b"hello", to).unwrap();
        let mut buf = [0u8; 200];
        if let Ok((n, _)) = client.recv_from(&mut buf) {
            break String::from_utf8_lossy(&buf[..n]).into_owned();
        }
        assert!(t0.elapsed() < Duration::from_secs(30), "no UDP reply from the container");
    };
    assert_eq!(reply, format!("hello from 127.0.0.2:{}", me.port()));
}

#[test]
fn container_mode_joins_the_other_containers_network() {
    let Some(e) = env() else { return };
    let web = e.ok(&["run", "-d", "--name", "web", "busybox", "sh", "-c", "while true; do echo shared | nc -l -p 9000; done"]);
    let web_host = e.ok(&["exec", "web", "hostname"]);
    // Its loopback service is the joined container's loopback service,
    // and the hostname and /etc/hosts come with the network.
    let script =
        "hostname; for i in $(seq 100); do nc 127.0.0.1 9000 </dev/null && break; sleep 0.1; done; ls /sys/class/net | tr '\\n' ' '";
    let out = e.ok(&["run", "--rm", "--network", "container:web", "busybox", "sh", "-c", script]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.first().copied(), Some(web_host.trim()), "{out}");
    assert_eq!(lines.get(1).copied(), Some("shared"), "{out}");
    assert_eq!(lines.get(2).map(|l| l.trim()), Some(e.ok(&["exec", "web", "sh", "-c", "ls /sys/class/net | tr '\\n' ' '"]).trim()));
    assert_eq!(
        e.ok(&["run", "--rm", "--network", "container:web", "busybox", "cat", "/etc/hosts"]),
        e.ok(&["exec", "web", "cat", "/etc/hosts"])
    );
    assert!(e.ok(&["inspect", "-f", "{{.HostConfig.NetworkMode}}", "web"]).trim() == "burrow" || !web.is_empty());
    // What would change the joined network is refused, as docker does.
    for flags in [&["-p", "8080:80"][..], &["--dns", "1.1.1.1"], &["--add-host", "a:1.2.3.4"], &["-h", "other"], &["--expose", "80"]] {
        let mut args = vec!["run", "--rm", "--network", "container:web"];
        args.extend_from_slice(flags);
        args.extend(["busybox", "true"]);
        let o = e.run(&args);
        assert_eq!(o.status.code(), Some(125), "{flags:?}");
        assert!(String::from_utf8_lossy(&o.stderr).contains("conflicting options"), "{flags:?}: {}", String::from_utf8_lossy(&o.stderr));
    }
    let o = e.run(&["run", "--rm", "--network", "container:nosuch", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("no such container"), "{}", String::from_utf8_lossy(&o.stderr));
    // A stopped container has no network to join.
    e.ok(&["rm", "-f", "web"]);
    e.ok(&["create", "--name", "idle", "busybox", "true"]);
    let o = e.run(&["run", "--rm", "--network", "container:idle", "busybox", "true"]);
    assert_eq!(o.status.code(), Some(125));
    assert!(String::from_utf8_lossy(&o.stderr).contains("not running"), "{}", String::from_utf8_lossy(&o.stderr));
}
