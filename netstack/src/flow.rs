//! The flow table: every conversation the stack carries, and its limits.
//!
//! A flow joins one endpoint in the container with one host socket. Its
//! identity is the pair of endpoints *as the container sees them*
//! (`Key`): for an outbound flow the container's address and the
//! destination it asked for (10.0.2.2:80, not 127.0.0.1:80); for an
//! inbound one the container's address and the client's.
//!
//! TCP states (`tcp::State`), and what is allowed in each:
//! - `HostConnecting` (outbound): the container's SYN is kept, no smoltcp
//!   socket exists, the host `connect()` is in flight. Retransmitted SYNs
//!   are dropped. Success → a listening socket is made and the SYN
//!   replayed → `Open`. Refused → the SYN is replayed with no socket, so
//!   smoltcp answers RST; unreachable → ICMP; either way the flow ends.
//! - `ContainerConnecting` (inbound): the host client is accepted, smoltcp
//!   sends SYN to the container from the client's address. Established →
//!   `Open`; reset → the client is reset and the flow ends.
//! - `Open`: bytes move both ways; a FIN from either side is passed on as
//!   a half-close (`shutdown(SHUT_WR)` on the host, `close()` in smoltcp).
//! - The flow ends when smoltcp's socket is closed (or in TIME-WAIT) and
//!   the host side is done; a reset on either side resets the other.
//!
//! UDP and ICMP flows have no states: they live while used and expire
//! after `Limits::udp_idle`; when a table is full the least recently used
//! flow makes room (counted in `Stats::over_limit`), so a container
//! talking to a million destinations costs a bounded number of sockets.
//!
//! Bounds: at most `Limits::tcp_flows` TCP flows, each with
//! `Limits::tcp_buffer` bytes of buffer per direction in smoltcp (the
//! host kernel's socket buffers come on top and are the kernel's own
//! limit), `Limits::udp_flows` UDP and `Limits::icmp_flows` ICMP flows.

use std::net::SocketAddr;
use std::time::Duration;

/// Resource bounds of one container's network.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub tcp_flows: usize,
    pub tcp_buffer: usize,
    pub udp_flows: usize,
    pub icmp_flows: usize,
    pub udp_idle: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { tcp_flows: 4096, tcp_buffer: 512 * 1024, udp_flows: 1024, icmp_flows: 64, udp_idle: Duration::from_secs(60) }
    }
}

/// A flow's identity as the container sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub container: SocketAddr,
    pub remote: SocketAddr,
}

/// A slab: stable small integers for entries, reused after removal, so
/// that a flow's mio token is its slot.
pub struct Slab<T> {
    slots: Vec<Option<T>>,
    free: Vec<usize>,
    len: usize,
}

impl<T> Default for Slab<T> {
    fn default() -> Self {
        Slab { slots: Vec::new(), free: Vec::new(), len: 0 }
    }
}

impl<T> Slab<T> {
    /// Store `value`; its id, and the value in place (to register its
    /// socket under that id).
    pub fn insert(&mut self, value: T) -> (usize, &mut T) {
        self.len += 1;
        let i = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(None);
                self.slots.len() - 1
            }
        };
        (i, self.slots[i].insert(value))
    }

    pub fn remove(&mut self, i: usize) -> Option<T> {
        let v = self.slots.get_mut(i)?.take();
        if v.is_some() {
            self.len -= 1;
            self.free.push(i);
        }
        v
    }

    pub fn get(&self, i: usize) -> Option<&T> {
        self.slots.get(i)?.as_ref()
    }

    pub fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.slots.get_mut(i)?.as_mut()
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The ids in use.
    pub fn ids(&self) -> Vec<usize> {
        self.slots.iter().enumerate().filter(|(_, s)| s.is_some()).map(|(i, _)| i).collect()
    }

    pub fn iter(&self) -> impl Iterator<Item = (usize, &T)> {
        self.slots.iter().enumerate().filter_map(|(i, s)| s.as_ref().map(|v| (i, v)))
    }
}

#[cfg(test)]
mod tests {
    use super::Slab;

    #[test]
    fn slab_reuses_slots() {
        let mut s = Slab::default();
        let a = s.insert("a").0;
        let b = s.insert("b").0;
        assert_eq!((a, b), (0, 1));
        assert_eq!(s.remove(a), Some("a"));
        assert_eq!(s.remove(a), None);
        assert_eq!(s.len(), 1);
        assert_eq!(s.insert("c"), (0, &mut "c"));
        assert_eq!(s.ids(), vec![0, 1]);
        assert_eq!(s.get(1), Some(&"b"));
    }
}
