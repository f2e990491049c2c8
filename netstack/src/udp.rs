//! UDP, carried without smoltcp: one connected host socket per pair of
//! endpoints, datagrams copied as they are.
//!
//! A datagram from the container is looked up by its endpoints; a new pair
//! goes through the forwarding decision (the DNS address becomes the
//! host's nameserver here) and gets a host socket `connect()`ed to the
//! target, so the kernel filters replies from anyone else. Replies are
//! written to the container as coming from the address it wrote to. A
//! refused destination answers ICMP port unreachable (prohibited for the
//! host's loopback), as would a host that answers so. Datagrams to a
//! published port's client (replies of inbound UDP) go back out through
//! the published socket. Idle flows expire; a full table evicts the least
//! recently used.

use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Instant;

use mio::{Interest, Token};

use crate::flow::Key;
use crate::forward::{self, Refusal, Transport, Verdict};
use crate::frame::{self, Unreachable};
use crate::stack::{Stack, UDP};

pub struct UdpFlow {
    pub key: Key,
    pub host: mio::net::UdpSocket,
    pub last: Instant,
}

impl Stack {
    pub(crate) fn udp_datagram(&mut self, frame_bytes: &[u8], src: SocketAddr, dst: SocketAddr, payload: &[u8]) {
        // A reply to a client of a published port?
        if let Some(&l) = self.inbound_udp.get(&(src, dst)) {
            if let Some(listener) = self.listeners.get(l).and_then(Option::as_ref) {
                listener.send_udp(payload, dst);
            }
            return;
        }
        let key = Key { container: src, remote: dst };
        if let Some(flow) = self.udp_keys.get(&key).and_then(|&id| self.udp.get_mut(id)) {
            flow.last = Instant::now();
            if let Err(e) = flow.host.send(payload) {
                self.udp_send_failed(frame_bytes, dst, &e);
            }
            return;
        }
        let target = match forward::outbound(&self.plan, Transport::Udp, dst) {
            Verdict::Host(t) => t,
            Verdict::Refuse(why) => {
                self.stats.refused += 1;
                tracing::debug!(%dst, ?why, "refused UDP from the container");
                let kind = if why == Refusal::HostLoopback { Unreachable::Prohibited } else { Unreachable::Port };
                self.send_unreachable(frame_bytes, &dst.ip(), kind);
                return;
            }
        };
        if self.udp.len() >= self.limits.udp_flows {
            self.stats.over_limit += 1;
            if let Some(oldest) = self.udp.iter().min_by_key(|(_, f)| f.last).map(|(i, _)| i) {
                self.remove_udp(oldest);
            }
        }
        let bind: SocketAddr = match target {
            SocketAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
            SocketAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
        };
        let host = match mio::net::UdpSocket::bind(bind).and_then(|s| s.connect(target).map(|_| s)) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(%target, %e, "cannot open a host UDP socket");
                self.udp_send_failed(frame_bytes, dst, &e);
                return;
            }
        };
        let (id, flow) = self.udp.insert(UdpFlow { key, host, last: Instant::now() });
        if self.poll.registry().register(&mut flow.host, Token(UDP + id), Interest::READABLE).is_err() {
            self.udp.remove(id);
            return;
        }
        let sent = flow.host.send(payload);
        self.udp_keys.insert(key, id);
        self.stats.udp_opened += 1;
        if let Err(e) = sent {
            self.udp_send_failed(frame_bytes, dst, &e);
        }
    }

    /// A datagram to `dst` could not be sent: say why, as a router would.
    fn udp_send_failed(&mut self, frame_bytes: &[u8], dst: SocketAddr, e: &io::Error) {
        let kind = match e.raw_os_error() {
            Some(libc::ECONNREFUSED) => Unreachable::Port,
            Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::EADDRNOTAVAIL) => Unreachable::Host,
            _ => return,
        };
        self.send_unreachable(frame_bytes, &dst.ip(), kind);
    }

    pub(crate) fn udp_event(&mut self, id: usize, buf: &mut [u8]) {
        loop {
            let Some(flow) = self.udp.get_mut(id) else { return };
            let key = flow.key;
            match flow.host.recv(buf) {
                Ok(n) => {
                    flow.last = Instant::now();
                    let Some(link) = self.link() else { continue };
                    match frame::udp_frame(link, key.remote, key.container, &buf[..n], &mut self.scratch) {
                        Some(len) => self.send_scratch(Some(len)),
                        None => self.stats.drop("oversized reply"),
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.raw_os_error() == Some(libc::ECONNREFUSED) => {
                    // The destination answered "port unreachable": tell the
                    // container about a datagram it sent there.
                    if let Some(link) = self.link() {
                        let mut probe = Vec::new();
                        if let Some(n) = frame::udp_frame(link, key.container, key.remote, &[], &mut probe) {
                            self.send_unreachable(&probe[..n], &key.remote.ip(), Unreachable::Port);
                        }
                    }
                }
                Err(_) => return,
            }
        }
    }

    pub(crate) fn remove_udp(&mut self, id: usize) {
        if let Some(mut flow) = self.udp.remove(id) {
            self.udp_keys.remove(&flow.key);
            let _ = self.poll.registry().deregister(&mut flow.host);
        }
    }

    pub(crate) fn sweep_udp(&mut self) {
        let idle = self.limits.udp_idle;
        let old: Vec<usize> = self.udp.iter().filter(|(_, f)| f.last.elapsed() > idle).map(|(i, _)| i).collect();
        for id in old {
            self.remove_udp(id);
        }
    }
}
