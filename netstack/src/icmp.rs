//! Ping: ICMP echo through the host's unprivileged ICMP sockets.
//!
//! Linux lets a user whose group is inside `net.ipv4.ping_group_range`
//! open `socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP)` (and the ICMPv6 twin):
//! the kernel owns the echo identifier and hands back only replies to that
//! socket. One socket per (container address, destination, identifier);
//! the container's identifier is restored on the way back. Where the
//! sysctl forbids it the request is dropped and counted (`burrow info`
//! says so); echo requests to the stack's own addresses are answered by
//! smoltcp and never come here.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Instant;

use mio::unix::SourceFd;
use mio::{Interest, Token};

use crate::forward::{self, Transport, Verdict};
use crate::frame::{self, Unreachable};
use crate::stack::{Stack, ICMP};

pub struct IcmpFlow {
    pub container: IpAddr,
    pub remote: IpAddr,
    pub ident: u16,
    pub sock: OwnedFd,
    pub last: Instant,
}

/// May a process with group `gid` open ICMP sockets, given the text of
/// `/proc/sys/net/ipv4/ping_group_range`?
pub fn ping_allowed(range: &str, gid: u32) -> bool {
    let mut it = range.split_whitespace().filter_map(|w| w.parse::<u64>().ok());
    match (it.next(), it.next()) {
        (Some(lo), Some(hi)) => lo <= u64::from(gid) && u64::from(gid) <= hi,
        _ => false,
    }
}

fn open_icmp(remote: IpAddr) -> io::Result<OwnedFd> {
    let (family, proto) = match remote {
        IpAddr::V4(_) => (libc::AF_INET, libc::IPPROTO_ICMP),
        IpAddr::V6(_) => (libc::AF_INET6, libc::IPPROTO_ICMPV6),
    };
    // SAFETY: socket(2) returns a new descriptor or -1.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC, proto) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is new and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let addr = nix::sys::socket::SockaddrStorage::from(SocketAddr::new(remote, 0));
    nix::sys::socket::connect(fd.as_raw_fd(), &addr).map_err(io::Error::from)?;
    Ok(fd)
}

impl Stack {
    pub(crate) fn echo_request(&mut self, frame_bytes: &[u8], src: IpAddr, dst: IpAddr, ident: u16, seq: u16, data: &[u8]) {
        let key = (src, dst, ident);
        let id = match self.icmp_keys.get(&key) {
            Some(&id) => id,
            None => {
                let target = match forward::outbound(&self.plan, Transport::Icmp, SocketAddr::new(dst, 0)) {
                    Verdict::Host(t) => t.ip(),
                    Verdict::Refuse(why) => {
                        self.stats.refused += 1;
                        tracing::debug!(%dst, ?why, "refused ping from the container");
                        self.send_unreachable(frame_bytes, &dst, Unreachable::Prohibited);
                        return;
                    }
                };
                if self.icmp.len() >= self.limits.icmp_flows {
                    self.stats.over_limit += 1;
                    if let Some(oldest) = self.icmp.iter().min_by_key(|(_, f)| f.last).map(|(i, _)| i) {
                        self.remove_icmp(oldest);
                    }
                }
                let sock = match open_icmp(target) {
                    Ok(s) => s,
                    Err(e) => {
                        self.stats.drop("ping not permitted on this host");
                        tracing::debug!(%e, "cannot open an ICMP socket (net.ipv4.ping_group_range)");
                        return;
                    }
                };
                let (id, flow) = self.icmp.insert(IcmpFlow { container: src, remote: dst, ident, sock, last: Instant::now() });
                let fd = flow.sock.as_raw_fd();
                if self.poll.registry().register(&mut SourceFd(&fd), Token(ICMP + id), Interest::READABLE).is_err() {
                    self.icmp.remove(id);
                    return;
                }
                self.icmp_keys.insert(key, id);
                self.stats.icmp_opened += 1;
                id
            }
        };
        let Some(flow) = self.icmp.get_mut(id) else { return };
        flow.last = Instant::now();
        let request_type = if dst.is_ipv4() { 8u8 } else { 128u8 };
        let mut msg = Vec::with_capacity(8 + data.len());
        msg.extend_from_slice(&[request_type, 0, 0, 0]);
        msg.extend_from_slice(&ident.to_be_bytes());
        msg.extend_from_slice(&seq.to_be_bytes());
        msg.extend_from_slice(data);
        // The kernel fills in the identifier and the checksum.
        // SAFETY: send from a valid buffer on a descriptor we own.
        unsafe { libc::send(flow.sock.as_raw_fd(), msg.as_ptr().cast(), msg.len(), 0) };
    }

    pub(crate) fn icmp_event(&mut self, id: usize, buf: &mut [u8]) {
        loop {
            let Some(flow) = self.icmp.get_mut(id) else { return };
            // SAFETY: recv into a valid buffer on a descriptor we own.
            let n = unsafe { libc::recv(flow.sock.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                return;
            }
            let n = n as usize;
            let reply_type = if flow.remote.is_ipv4() { 0u8 } else { 129u8 };
            if n < 8 || buf[0] != reply_type {
                continue;
            }
            flow.last = Instant::now();
            let seq = u16::from_be_bytes([buf[6], buf[7]]);
            let (remote, container, ident) = (flow.remote, flow.container, flow.ident);
            let Some(link) = self.link() else { continue };
            let len = frame::echo_reply_frame(link, remote, container, ident, seq, &buf[8..n], &mut self.scratch);
            self.send_scratch(len);
        }
    }

    pub(crate) fn remove_icmp(&mut self, id: usize) {
        if let Some(flow) = self.icmp.remove(id) {
            self.icmp_keys.remove(&(flow.container, flow.remote, flow.ident));
            let _ = self.poll.registry().deregister(&mut SourceFd(&flow.sock.as_raw_fd()));
        }
    }

    pub(crate) fn sweep_icmp(&mut self) {
        let idle = self.limits.udp_idle;
        let old: Vec<usize> = self.icmp.iter().filter(|(_, f)| f.last.elapsed() > idle).map(|(i, _)| i).collect();
        for id in old {
            self.remove_icmp(id);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ping_range() {
        assert!(super::ping_allowed("0\t2147483647\n", 1000));
        assert!(!super::ping_allowed("1\t0\n", 0));
        assert!(!super::ping_allowed("1\t0\n", 1000));
        assert!(super::ping_allowed("100 200", 100));
        assert!(!super::ping_allowed("garbage", 100));
    }
}
