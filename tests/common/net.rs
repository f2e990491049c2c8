//! Network helpers of the integration tests: servers on the host, the
//! host's own address, containers in the background, published ports
//! and clients bound to a chosen source address.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use super::{stderr, stdout, Env};

/// A host HTTP server on 127.0.0.1 that answers every request with a fixed
/// body and records who connected.
pub fn http_server() -> (u16, Arc<Mutex<Vec<SocketAddr>>>) {
    http_server_on("127.0.0.1")
}

/// The same on `ip` (0.0.0.0: every address).
pub fn http_server_on(ip: &str) -> (u16, Arc<Mutex<Vec<SocketAddr>>>) {
    let l = TcpListener::bind((ip, 0)).unwrap();
    let port = l.local_addr().unwrap().port();
    let peers = Arc::new(Mutex::new(Vec::new()));
    let seen = peers.clone();
    std::thread::spawn(move || {
        for s in l.incoming() {
            let Ok(mut s) = s else { continue };
            seen.lock().unwrap().push(s.peer_addr().unwrap());
            let mut buf = [0u8; 4096];
            let _ = s.read(&mut buf);
            let _ = s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 20\r\n\r\nhello from the host\n");
        }
    });
    (port, peers)
}

/// The host's own non-loopback IPv4 address, if it has one (no packet is sent).
pub fn host_address() -> Option<std::net::IpAddr> {
    let s = UdpSocket::bind("0.0.0.0:0").ok()?;
    s.connect("203.0.113.80:80").ok()?;
    Some(s.local_addr().ok()?.ip()).filter(|ip| !ip.is_loopback())
}

/// A container running in the background, killed when dropped.
pub struct Bg(pub std::process::Child);

impl Drop for Bg {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn background(e: &Env, args: &[&str]) -> Bg {
    Bg(e.cmd(args).stdout(Stdio::null()).stderr(Stdio::piped()).spawn().expect("burrow runs"))
}

/// Wait until `burrow port NAME PORT` names the host side.
pub fn published(e: &Env, name: &str, port: &str) -> SocketAddr {
    let t0 = Instant::now();
    loop {
        let o = e.run(&["port", name, port]);
        if o.status.success() {
            let text = stdout(&o);
            return text.lines().next().unwrap().parse().unwrap_or_else(|_| panic!("port printed {text:?}"));
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "burrow port {name} never answered: {}", stderr(&o));
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Connect (from `from`) until the container's server answers; returns
/// what it sent and our own address.
pub fn ask(from: &str, to: SocketAddr) -> (String, SocketAddr) {
    let t0 = Instant::now();
    loop {
        let sock = socket_from(from);
        if let Ok(mut s) = sock.and_then(|s| {
            s.connect(&to.into())?;
            Ok(TcpStream::from(s))
        }) {
            let me = s.local_addr().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
            let mut out = String::new();
            let _ = s.read_to_string(&mut out);
            if !out.is_empty() {
                return (out, me);
            }
        }
        assert!(t0.elapsed() < Duration::from_secs(20), "nothing answered on {to}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn socket_from(from: &str) -> std::io::Result<socket2::Socket> {
    let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    s.bind(&SocketAddr::new(from.parse().unwrap(), 0).into())?;
    Ok(s)
}
