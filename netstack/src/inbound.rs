//! Published ports: host listeners whose clients reach the container with
//! their own address.
//!
//! `bind` opens every `-p` socket before the container starts, so a taken
//! or privileged port fails `burrow run` with a clear error and nothing
//! runs. A host address left out binds the IPv6 wildcard in dual-stack
//! mode (IPv4 clients too), falling back to 0.0.0.0 on hosts without IPv6.
//!
//! A client is carried one of two ways, and either way the container sees
//! the client's real address and port:
//! - from the host's loopback (127.0.0.0/8, ::1): `splice`, a socket made
//!   inside the container's namespace from the client's address;
//! - from anywhere else: through the stack, smoltcp connecting to the
//!   container *from* the client's address (`tcp::tcp_inbound`); UDP
//!   datagrams are written with the client's address and the container's
//!   replies to it go back out through the published socket.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use mio::{Interest, Registry, Token};

use crate::frame;
use crate::ports::{PortMapping, Proto};
use crate::splice;
use crate::stack::{Stack, NS_UDP};
use crate::Error;

/// A published port, bound.
#[derive(Debug)]
pub struct Published {
    /// The mapping with the host port actually bound.
    pub mapping: PortMapping,
    pub socket: Bound,
}

#[derive(Debug)]
pub enum Bound {
    Tcp(std::net::TcpListener),
    Udp(std::net::UdpSocket),
}

/// The lowest port an ordinary user may bind.
pub fn unprivileged_port_start() -> u16 {
    std::fs::read_to_string("/proc/sys/net/ipv4/ip_unprivileged_port_start").ok().and_then(|s| s.trim().parse().ok()).unwrap_or(1024)
}

/// Bind every mapping on the host.
pub fn bind(mappings: &[PortMapping]) -> Result<Vec<Published>, Error> {
    let mut out = Vec::new();
    for m in mappings {
        let addrs: Vec<SocketAddr> = match m.host_ip {
            Some(ip) => vec![SocketAddr::new(ip, m.host_port)],
            None => {
                vec![SocketAddr::new(Ipv6Addr::UNSPECIFIED.into(), m.host_port), SocketAddr::new(Ipv4Addr::UNSPECIFIED.into(), m.host_port)]
            }
        };
        let mut last = None;
        let mut bound = None;
        for addr in &addrs {
            let r = match m.proto {
                Proto::Tcp => std::net::TcpListener::bind(addr).map(Bound::Tcp),
                Proto::Udp => std::net::UdpSocket::bind(addr).map(Bound::Udp),
            };
            match r {
                Ok(b) => {
                    bound = Some((b, *addr));
                    break;
                }
                // No IPv6 on this host: try the IPv4 wildcard.
                Err(e) if matches!(e.raw_os_error(), Some(libc::EAFNOSUPPORT | libc::EADDRNOTAVAIL)) && m.host_ip.is_none() => {
                    last = Some(e)
                }
                Err(e) => {
                    last = Some(e);
                    break;
                }
            }
        }
        let Some((socket, addr)) = bound else {
            let e = last.unwrap_or_else(|| io::Error::other("no address to bind"));
            let spec = format!("{}/{}", m.host_port, m.proto);
            return Err(match e.kind() {
                io::ErrorKind::AddrInUse => Error::PortInUse { port: spec },
                io::ErrorKind::PermissionDenied => Error::PortPrivileged { port: spec, start: unprivileged_port_start() },
                _ => Error::Bind { port: spec, source: e },
            });
        };
        let port = match &socket {
            Bound::Tcp(l) => l.local_addr(),
            Bound::Udp(u) => u.local_addr(),
        }
        .map(|a| a.port())
        .unwrap_or(addr.port());
        out.push(Published { mapping: PortMapping { host_port: port, ..*m }, socket });
    }
    Ok(out)
}

/// A published port inside the loop.
pub struct Listener {
    pub mapping: PortMapping,
    sock: Sock,
    /// The container's address behind the peer, for ports published on
    /// a user-defined network (`publish`); `None`: the peer itself.
    pub target: Option<IpAddr>,
    /// Who published it (`publish`), to withdraw it.
    pub owner: Option<u64>,
}

enum Sock {
    Tcp(mio::net::TcpListener),
    Udp(mio::net::UdpSocket),
}

impl Listener {
    pub fn new(p: Published) -> io::Result<Listener> {
        let sock = match p.socket {
            Bound::Tcp(l) => {
                l.set_nonblocking(true)?;
                Sock::Tcp(mio::net::TcpListener::from_std(l))
            }
            Bound::Udp(u) => {
                u.set_nonblocking(true)?;
                Sock::Udp(mio::net::UdpSocket::from_std(u))
            }
        };
        Ok(Listener { mapping: p.mapping, sock, target: None, owner: None })
    }

    pub fn deregister(&mut self, registry: &Registry) {
        let _ = match &mut self.sock {
            Sock::Tcp(l) => registry.deregister(l),
            Sock::Udp(u) => registry.deregister(u),
        };
    }

    pub fn register(&mut self, registry: &Registry, token: Token) -> io::Result<()> {
        match &mut self.sock {
            Sock::Tcp(l) => registry.register(l, token, Interest::READABLE),
            Sock::Udp(u) => registry.register(u, token, Interest::READABLE),
        }
    }

    /// Send a reply of the container to a UDP client.
    pub fn send_udp(&self, data: &[u8], to: SocketAddr) {
        if let Sock::Udp(u) = &self.sock {
            let to = match (u.local_addr(), to) {
                // A dual-stack socket addresses IPv4 clients as mapped.
                (Ok(SocketAddr::V6(_)), SocketAddr::V4(v4)) => SocketAddr::new(v4.ip().to_ipv6_mapped().into(), v4.port()),
                _ => to,
            };
            let _ = u.send_to(data, to);
        }
    }
}

/// A UDP client on the host's loopback, with its socket in the container.
pub struct NsUdp {
    pub listener: usize,
    pub peer: SocketAddr,
    /// The container's endpoint.
    pub target: SocketAddr,
    pub sock: mio::net::UdpSocket,
    pub last: Instant,
}

fn canonical(a: SocketAddr) -> SocketAddr {
    SocketAddr::new(a.ip().to_canonical(), a.port())
}

impl Stack {
    /// Where a client from `peer` of listener `l` goes in the container.
    fn inbound_target(&self, l: &Listener, peer: &SocketAddr) -> SocketAddr {
        let ip = l.target.or_else(|| self.container_ip(&peer.ip())).unwrap_or_else(|| self.plan.network.container().into());
        SocketAddr::new(ip, l.mapping.container_port)
    }

    /// The address a loopback client is given inside the container: its
    /// own, or 127.0.0.1's family twin when the container lacks IPv6; for
    /// a container behind the peer (`routed`), none: the kernel picks the
    /// router's address, as a loopback address cannot cross a router.
    fn loopback_source(&self, l: &Listener, peer: SocketAddr, target: &SocketAddr) -> SocketAddr {
        if l.target.is_some() {
            let any = if target.is_ipv4() { IpAddr::V4(Ipv4Addr::UNSPECIFIED) } else { IpAddr::V6(Ipv6Addr::UNSPECIFIED) };
            SocketAddr::new(any, 0)
        } else if peer.is_ipv4() == target.is_ipv4() {
            peer
        } else {
            SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), peer.port())
        }
    }

    fn listener(&self, i: usize) -> Option<&Listener> {
        self.listeners.get(i).and_then(Option::as_ref)
    }

    pub(crate) fn listener_ready(&mut self, i: usize, buf: &mut [u8]) {
        let Some(l) = self.listener(i) else { return };
        match &l.sock {
            Sock::Tcp(_) => loop {
                let Some(l @ Listener { sock: Sock::Tcp(lst), .. }) = self.listener(i) else { return };
                let (stream, peer) = match lst.accept() {
                    Ok(x) => x,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        tracing::debug!(%e, "accept failed on a published port");
                        return;
                    }
                };
                let peer = canonical(peer);
                let target = self.inbound_target(l, &peer);
                match (&self.netns, peer.ip().is_loopback()) {
                    (Some(ns), true) => {
                        let std_stream = std::net::TcpStream::from(stream);
                        let src = self.loopback_source(l, peer, &target);
                        self.stats.inbound_accepted += 1;
                        splice::spawn(ns.clone(), std_stream, src, target);
                    }
                    _ => self.tcp_inbound(stream, peer, target),
                }
            },
            Sock::Udp(_) => {
                while let Some(l @ Listener { sock: Sock::Udp(u), .. }) = self.listener(i) {
                    let (n, peer) = match u.recv_from(buf) {
                        Ok(x) => x,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(_) => break,
                    };
                    let peer = canonical(peer);
                    let target = self.inbound_target(l, &peer);
                    if peer.ip().is_loopback() && self.netns.is_some() {
                        self.ns_udp_send(i, peer, target, &buf[..n]);
                    } else if let Some(link) = self.link() {
                        let from = if peer.is_ipv4() == target.is_ipv4() {
                            peer
                        } else {
                            SocketAddr::new(self.gateway(&target.ip()), peer.port())
                        };
                        self.inbound_udp.insert((target, from), i);
                        let len = frame::udp_frame(link, from, target, &buf[..n], &mut self.scratch);
                        self.send_scratch(len);
                    }
                }
            }
        }
    }

    fn ns_udp_send(&mut self, listener: usize, peer: SocketAddr, target: SocketAddr, data: &[u8]) {
        let id = match self.ns_udp_keys.get(&(listener, peer)) {
            Some(&id) => id,
            None => {
                let Some(ns) = self.netns.clone() else { return };
                let Some(l) = self.listener(listener) else { return };
                let src = self.loopback_source(l, peer, &target);
                let made = splice::in_netns(&ns, || {
                    // Not connected: a server bound to the wildcard answers
                    // a loopback client from 127.0.0.1, not from `target`.
                    let fd = splice::socket_from(libc::SOCK_DGRAM | libc::SOCK_NONBLOCK, src, None)?;
                    Ok(std::net::UdpSocket::from(fd))
                });
                let sock = match made {
                    Ok(s) => mio::net::UdpSocket::from_std(s),
                    Err(e) => {
                        tracing::debug!(%e, "cannot reach the container for a UDP client");
                        return;
                    }
                };
                let (id, entry) = self.ns_udp.insert(NsUdp { listener, peer, target, sock, last: Instant::now() });
                if self.poll.registry().register(&mut entry.sock, Token(NS_UDP + id), Interest::READABLE).is_err() {
                    self.ns_udp.remove(id);
                    return;
                }
                self.ns_udp_keys.insert((listener, peer), id);
                self.stats.inbound_accepted += 1;
                id
            }
        };
        if let Some(e) = self.ns_udp.get_mut(id) {
            e.last = Instant::now();
            let _ = e.sock.send_to(data, e.target);
        }
    }

    pub(crate) fn ns_udp_event(&mut self, id: usize, buf: &mut [u8]) {
        loop {
            let Some(e) = self.ns_udp.get_mut(id) else { return };
            match e.sock.recv_from(buf) {
                Ok((n, _)) => {
                    e.last = Instant::now();
                    let (l, peer) = (e.listener, e.peer);
                    if let Some(listener) = self.listener(l) {
                        listener.send_udp(&buf[..n], peer);
                    }
                }
                Err(ref err) if err.kind() == io::ErrorKind::Interrupted => continue,
                Err(_) => return,
            }
        }
    }

    pub(crate) fn sweep_ns_udp(&mut self) {
        let idle = self.limits.udp_idle;
        let old: Vec<usize> = self.ns_udp.iter().filter(|(_, e)| e.last.elapsed() > idle).map(|(i, _)| i).collect();
        for id in old {
            if let Some(mut e) = self.ns_udp.remove(id) {
                self.ns_udp_keys.remove(&(e.listener, e.peer));
                let _ = self.poll.registry().deregister(&mut e.sock);
            }
        }
        // Replies are matched by client; forget them all rather than grow.
        if self.inbound_udp.len() > self.limits.udp_flows {
            self.inbound_udp.clear();
        }
    }
}
