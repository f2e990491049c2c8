//! Ports published while the stack runs.
//!
//! A container's stack gets its published ports at `start`. A
//! user-defined network's stack serves many containers that come and go,
//! so their ports arrive later: [`Handle::publish`] hands the stack host
//! sockets already bound (by the container's side, so a taken port fails
//! that container's start) together with the container's address on the
//! network, and [`Handle::withdraw`] takes back everything one owner
//! published. Both are requests queued for the loop, which a wake-up
//! makes it apply between two rounds; the caller waits for the answer, so
//! once `withdraw` returns the host ports are closed and free again.
//! A client of such a port reaches the container's address through the
//! peer, the network's router (`Options::routed`); one from the host's
//! loopback is spliced from inside the network's namespace without a
//! source of its own (the router's address), since a loopback address
//! cannot cross a router.

use std::io;
use std::net::IpAddr;
use std::sync::mpsc;
use std::sync::{Arc, Mutex};

use mio::Token;

use crate::inbound::{Listener, Published};
use crate::stack::{Handle, Stack, LISTENER};
use crate::Error;

/// The queue of requests between the handle and the loop.
pub type Controls = Arc<Mutex<Vec<Control>>>;

pub enum Control {
    Publish { owner: u64, target: IpAddr, ports: Vec<Published>, done: mpsc::Sender<io::Result<()>> },
    Withdraw { owner: u64, done: mpsc::Sender<()> },
}

impl Handle {
    fn request<T>(&self, make: impl FnOnce(mpsc::Sender<T>) -> Control) -> Result<T, Error> {
        let (tx, rx) = mpsc::channel();
        let gone = || Error::Io { what: "the network's stack", source: io::Error::other("it has stopped") };
        self.controls.lock().map_err(|_| gone())?.push(make(tx));
        self.waker.wake().map_err(|source| Error::Io { what: "the network's stack", source })?;
        rx.recv().map_err(|_| gone())
    }

    /// Serve `ports` (host sockets already bound) towards `target`, the
    /// container's address, on behalf of `owner`.
    pub fn publish(&self, owner: u64, target: IpAddr, ports: Vec<Published>) -> Result<(), Error> {
        self.request(|done| Control::Publish { owner, target, ports, done })?
            .map_err(|source| Error::Io { what: "a published port", source })
    }

    /// Close every port `owner` published; they are free once this returns.
    pub fn withdraw(&self, owner: u64) -> Result<(), Error> {
        self.request(|done| Control::Withdraw { owner, done })
    }
}

impl Stack {
    /// Apply the queued requests (on a wake-up).
    pub(crate) fn apply_controls(&mut self) {
        let queued = match self.controls.lock() {
            Ok(mut q) => std::mem::take(&mut *q),
            Err(_) => return,
        };
        for c in queued {
            match c {
                Control::Publish { owner, target, ports, done } => {
                    let r = self.add_listeners(owner, target, ports);
                    if r.is_err() {
                        self.remove_listeners(owner);
                    }
                    let _ = done.send(r);
                }
                Control::Withdraw { owner, done } => {
                    self.remove_listeners(owner);
                    let _ = done.send(());
                }
            }
        }
    }

    fn add_listeners(&mut self, owner: u64, target: IpAddr, ports: Vec<Published>) -> io::Result<()> {
        for p in ports {
            let mut l = Listener::new(p)?;
            l.target = Some(target);
            l.owner = Some(owner);
            let i = self.listeners.iter().position(Option::is_none).unwrap_or(self.listeners.len());
            l.register(self.poll.registry(), Token(LISTENER + i))?;
            if i == self.listeners.len() {
                self.listeners.push(Some(l));
            } else {
                self.listeners[i] = Some(l);
            }
        }
        Ok(())
    }

    fn remove_listeners(&mut self, owner: u64) {
        for slot in self.listeners.iter_mut() {
            if slot.as_ref().is_some_and(|l| l.owner == Some(owner)) {
                if let Some(mut l) = slot.take() {
                    l.deregister(self.poll.registry());
                }
            }
        }
        let gone: Vec<usize> = (0..self.listeners.len()).filter(|i| self.listeners[*i].is_none()).collect();
        self.inbound_udp.retain(|_, l| !gone.contains(l));
        let stale: Vec<usize> = self.ns_udp.iter().filter(|(_, e)| gone.contains(&e.listener)).map(|(i, _)| i).collect();
        for id in stale {
            if let Some(mut e) = self.ns_udp.remove(id) {
                self.ns_udp_keys.remove(&(e.listener, e.peer));
                let _ = self.poll.registry().deregister(&mut e.sock);
            }
        }
    }
}
