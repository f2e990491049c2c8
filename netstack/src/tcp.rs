//! TCP flows: a smoltcp socket facing the container, a host socket facing
//! the world, and the bytes between them.
//!
//! The states and what each allows are described in `flow`. Bytes move
//! without an intermediate buffer: smoltcp's receive buffer is written
//! straight into the host socket and the host socket is read straight
//! into smoltcp's send buffer, so back-pressure on either side is the
//! other side's window. smoltcp's defaults are for small devices; for a
//! host they cost latency, so Nagle and delayed ACKs are off towards the
//! container (the container's own kernel still does both as it likes),
//! and the host sockets get TCP_NODELAY (the container's segmentation
//! already decided how the bytes are grouped).

use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr};

use mio::{Interest, Token};
use smoltcp::iface::SocketHandle;
use smoltcp::socket::tcp;

use crate::flow::Key;
use crate::forward::{self, Refusal, Transport, Verdict};
use crate::frame::Unreachable;
use crate::stack::{Disposition, Stack, TCP};

/// How long a handshake with the container may take.
const HANDSHAKE_TIMEOUT_SECS: u64 = 30;

/// The states of a TCP flow (see `flow`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    HostConnecting,
    ContainerConnecting,
    Open,
}

pub struct TcpFlow {
    pub key: Key,
    pub state: State,
    pub socket: Option<SocketHandle>,
    pub host: mio::net::TcpStream,
    /// The SYN waiting for the host connect.
    pub syn: Option<Vec<u8>>,
    pub readable: bool,
    pub writable: bool,
    /// The host sent FIN; smoltcp was told to close.
    pub host_eof: bool,
    /// The container's FIN was passed on to the host.
    pub host_shut: bool,
    /// The container side reached ESTABLISHED at least once.
    pub established: bool,
}

impl TcpFlow {
    fn new(key: Key, state: State, socket: Option<SocketHandle>, host: mio::net::TcpStream, syn: Option<Vec<u8>>) -> TcpFlow {
        TcpFlow { key, state, socket, host, syn, readable: false, writable: false, host_eof: false, host_shut: false, established: false }
    }
}

impl Stack {
    /// A TCP segment from the container.
    pub(crate) fn tcp_segment(&mut self, buf: &[u8], src: SocketAddr, dst: SocketAddr, opens: bool, reset: bool) -> Disposition {
        let key = Key { container: src, remote: dst };
        if let Some(&id) = self.tcp_keys.get(&key) {
            let Some(flow) = self.tcp.get(id) else { return Disposition::Stack };
            if flow.state == State::HostConnecting {
                if reset {
                    // The container gave up before the host answered.
                    self.remove_tcp(id, true);
                }
                // Otherwise a retransmitted SYN while the host connect is
                // in flight.
                return Disposition::Recycle;
            }
            if reset && self.socket_state(id) == Some(tcp::State::SynReceived) {
                // smoltcp answers a RST in SYN-RECEIVED by going back to
                // LISTEN, and a listening socket takes every later segment
                // to its port that carries no ACK, other flows' RSTs and
                // SYNs included, until `pump_one` ends the flow. Hand the
                // RST over and end the flow now, before any later frame
                // reaches smoltcp.
                self.tap.queue(buf.to_vec());
                let now = self.now();
                self.iface.poll(now, &mut self.tap, &mut self.sockets);
                if self.socket_state(id) == Some(tcp::State::Listen) {
                    self.remove_tcp(id, true);
                }
                return Disposition::Recycle;
            }
            return Disposition::Stack;
        }
        if !opens {
            // smoltcp answers a stray segment with RST.
            return Disposition::Stack;
        }
        let target = match forward::outbound(&self.plan, Transport::Tcp, dst) {
            Verdict::Host(t) => t,
            Verdict::Refuse(why) => {
                self.stats.refused += 1;
                tracing::debug!(%dst, ?why, "refused a TCP connection from the container");
                let prohibited = why == Refusal::HostLoopback || why == Refusal::NoSuchHost;
                if prohibited && self.send_unreachable(buf, &dst.ip(), Unreachable::Prohibited) {
                    return Disposition::Recycle;
                }
                return Disposition::Stack; // RST
            }
        };
        if self.tcp.len() >= self.limits.tcp_flows {
            self.stats.over_limit += 1;
            tracing::debug!(limit = self.limits.tcp_flows, "TCP flow table full; refusing a connection");
            return Disposition::Stack;
        }
        let host = match mio::net::TcpStream::connect(target) {
            Ok(s) => s,
            Err(e) => {
                tracing::debug!(%target, %e, "host connect failed");
                return self.connect_failed(buf, dst, &e);
            }
        };
        let _ = host.set_nodelay(true);
        keepalive(&host);
        let (id, flow) = self.tcp.insert(TcpFlow::new(key, State::HostConnecting, None, host, Some(buf.to_vec())));
        if let Err(e) = self.poll.registry().register(&mut flow.host, Token(TCP + id), Interest::READABLE | Interest::WRITABLE) {
            tracing::warn!(%e, "cannot watch a host socket");
            self.tcp.remove(id);
            return Disposition::Stack;
        }
        self.tcp_keys.insert(key, id);
        self.stats.tcp_opened += 1;
        Disposition::Recycle
    }

    /// The state of a flow's smoltcp socket, once it has one.
    fn socket_state(&self, id: usize) -> Option<tcp::State> {
        let handle = self.tcp.get(id)?.socket?;
        Some(self.sockets.get::<tcp::Socket>(handle).state())
    }

    /// The container's SYN cannot be carried: RST for a refused port, ICMP
    /// for an unreachable network.
    fn connect_failed(&mut self, syn: &[u8], dst: SocketAddr, e: &io::Error) -> Disposition {
        let unreachable = matches!(e.raw_os_error(), Some(libc::ENETUNREACH | libc::EHOSTUNREACH | libc::ETIMEDOUT | libc::EADDRNOTAVAIL));
        if unreachable && self.send_unreachable(syn, &dst.ip(), Unreachable::Host) {
            return Disposition::Recycle;
        }
        Disposition::Stack
    }

    pub(crate) fn tcp_event(&mut self, id: usize, ev: &mio::event::Event) {
        let Some(flow) = self.tcp.get_mut(id) else { return };
        if ev.is_readable() || ev.is_read_closed() || ev.is_error() {
            flow.readable = true;
        }
        if ev.is_writable() || ev.is_write_closed() || ev.is_error() {
            flow.writable = true;
        }
        if flow.state == State::HostConnecting && (flow.writable || ev.is_error()) {
            self.host_connect_done(id);
        }
    }

    fn host_connect_done(&mut self, id: usize) {
        let Some(flow) = self.tcp.get_mut(id) else { return };
        let result = match flow.host.take_error() {
            Ok(Some(e)) | Err(e) => Err(e),
            Ok(None) => match flow.host.peer_addr() {
                Ok(_) => Ok(()),
                Err(e) if e.kind() == io::ErrorKind::NotConnected => return, // still in flight
                Err(e) => Err(e),
            },
        };
        let syn = flow.syn.take().unwrap_or_default();
        let key = flow.key;
        match result {
            Ok(()) => {
                let mut socket = self.new_socket();
                if let Err(e) = socket.listen(key.remote) {
                    tracing::debug!(?e, "cannot listen for a flow");
                    self.remove_tcp(id, false);
                    self.tap.queue(syn);
                    return;
                }
                let handle = self.sockets.add(socket);
                if let Some(flow) = self.tcp.get_mut(id) {
                    flow.socket = Some(handle);
                    flow.state = State::Open;
                }
                self.tap.queue(syn);
            }
            Err(e) => {
                tracing::debug!(remote = %key.remote, %e, "host connect failed");
                self.remove_tcp(id, false);
                if let Disposition::Stack = self.connect_failed(&syn, key.remote, &e) {
                    self.tap.queue(syn);
                }
            }
        }
    }

    pub(crate) fn new_socket(&self) -> tcp::Socket<'static> {
        let rx = tcp::SocketBuffer::new(vec![0u8; self.limits.tcp_buffer]);
        let tx = tcp::SocketBuffer::new(vec![0u8; self.limits.tcp_buffer]);
        let mut s = tcp::Socket::new(rx, tx);
        s.set_nagle_enabled(false);
        // A short delayed ACK: in request/response traffic the ACK rides on
        // the next request instead of costing a frame of its own; bulk
        // traffic still gets an ACK every second full segment.
        s.set_ack_delay(Some(smoltcp::time::Duration::from_millis(1)));
        // A handshake the container never completes (a SYN flood that
        // ignores our SYN-ACK) must not hold its slot forever; lifted once
        // the connection is established.
        s.set_timeout(Some(smoltcp::time::Duration::from_secs(HANDSHAKE_TIMEOUT_SECS)));
        s
    }

    /// Start an inbound flow: `host` is a client of a published port,
    /// `from` its address, `to` the container's endpoint.
    pub(crate) fn tcp_inbound(&mut self, host: mio::net::TcpStream, from: SocketAddr, to: SocketAddr) {
        if self.tcp.len() >= self.limits.tcp_flows {
            self.stats.over_limit += 1;
            return;
        }
        // The container sees the client's own address when families
        // match; an IPv6 client of an IPv4-only container comes from the
        // gateway instead.
        let local =
            if from.is_ipv4() == to.is_ipv4() { from } else { SocketAddr::new(self.gateway(&to.ip()), 1024 + (from.port() % 60000)) };
        let key = Key { container: to, remote: local };
        if self.tcp_keys.contains_key(&key) {
            return;
        }
        let mut socket = self.new_socket();
        if let Err(e) = socket.connect(self.iface.context(), to, local) {
            tracing::debug!(?e, "cannot connect into the container");
            return;
        }
        let _ = host.set_nodelay(true);
        keepalive(&host);
        let handle = self.sockets.add(socket);
        let (id, flow) = self.tcp.insert(TcpFlow::new(key, State::ContainerConnecting, Some(handle), host, None));
        if self.poll.registry().register(&mut flow.host, Token(TCP + id), Interest::READABLE | Interest::WRITABLE).is_err() {
            self.remove_tcp(id, true);
            return;
        }
        self.tcp_keys.insert(key, id);
        self.stats.inbound_accepted += 1;
    }

    /// Move bytes for every flow; end the flows that are done.
    pub(crate) fn pump_tcp(&mut self) {
        let mut finished = Vec::new();
        for id in self.tcp.ids() {
            match self.pump_one(id) {
                Pumped::Done { reset } => finished.push((id, reset)),
                Pumped::Progress => self.busy = true,
                Pumped::Idle => {}
            }
        }
        for (id, reset) in finished {
            self.remove_tcp(id, reset);
        }
    }

    fn pump_one(&mut self, id: usize) -> Pumped {
        let Some(flow) = self.tcp.get_mut(id) else { return Pumped::Idle };
        let Some(handle) = flow.socket else { return Pumped::Idle };
        let sock = self.sockets.get_mut::<tcp::Socket>(handle);
        let state = sock.state();
        if matches!(state, tcp::State::Established | tcp::State::CloseWait | tcp::State::FinWait1 | tcp::State::FinWait2) {
            if !flow.established {
                sock.set_timeout(None);
            }
            flow.established = true;
            flow.state = State::Open;
        }
        if state == tcp::State::Closed {
            // Reset by the container, refused, or closed after both FINs.
            let clean = flow.host_eof && flow.host_shut;
            return Pumped::Done { reset: !clean };
        }
        if state == tcp::State::Listen {
            // An outbound flow's SYN is queued in the same turn its socket
            // starts listening, and smoltcp has processed it before this
            // pump; inbound flows never listen. A socket still (or again)
            // listening therefore holds no connection: smoltcp dropped the
            // SYN (a bad TCP checksum, which `frame` leaves to smoltcp), or
            // the container reset the connection in SYN-RECEIVED, which
            // smoltcp answers by going back to LISTEN, not CLOSED
            // (`tcp_segment` ends most of those before this). Kept,
            // such a flow would hold its slot and host socket forever, and
            // its socket would take the next SYN to the same destination
            // from any port, wiring that connection to this host socket.
            tracing::debug!(container = %flow.key.container, remote = %flow.key.remote, "flow without a handshake; ending it");
            return Pumped::Done { reset: true };
        }
        if flow.state != State::Open {
            return Pumped::Idle;
        }
        let mut progress = false;
        // Container → host.
        while flow.writable && sock.can_recv() {
            let host = &mut flow.host;
            match sock.recv(|data| match host.write(data) {
                Ok(n) => (n, Ok(n)),
                Err(e) => (0, Err(e)),
            }) {
                Ok(Ok(_)) => progress = true,
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => flow.writable = false,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(_)) | Err(_) => {
                    sock.abort();
                    return Pumped::Done { reset: true };
                }
            }
        }
        if flow.established && !flow.host_shut && !sock.may_recv() && sock.recv_queue() == 0 {
            let _ = flow.host.shutdown(Shutdown::Write);
            flow.host_shut = true;
            progress = true;
        }
        // Host → container.
        while flow.readable && !flow.host_eof && sock.can_send() {
            let host = &mut flow.host;
            // Read until WouldBlock even after a short read: a FIN that
            // arrived with the data raises no second edge.
            match sock.send(|space| match host.read(space) {
                Ok(n) => (n, Ok(n)),
                Err(e) => (0, Err(e)),
            }) {
                Ok(Ok(0)) => {
                    flow.host_eof = true;
                    sock.close();
                    progress = true;
                }
                Ok(Ok(_)) => progress = true,
                Ok(Err(e)) if e.kind() == io::ErrorKind::WouldBlock => flow.readable = false,
                Ok(Err(e)) if e.kind() == io::ErrorKind::Interrupted => {}
                Ok(Err(_)) | Err(_) => {
                    sock.abort();
                    return Pumped::Done { reset: true };
                }
            }
        }
        if sock.state() == tcp::State::TimeWait && sock.recv_queue() == 0 {
            // Both sides closed; the container's last bytes are delivered.
            if !flow.host_shut {
                let _ = flow.host.shutdown(Shutdown::Write);
            }
            return Pumped::Done { reset: false };
        }
        // Come round again without waiting only if bytes could still move
        // (the loops above stop at WouldBlock or a full buffer, so this is
        // rare; smoltcp's own pending segments are its poll_delay's job).
        let more = (flow.readable && !flow.host_eof && sock.can_send()) || (flow.writable && sock.can_recv());
        if progress && more {
            Pumped::Progress
        } else {
            Pumped::Idle
        }
    }

    /// Forget a flow; `reset` answers the host side with RST.
    pub(crate) fn remove_tcp(&mut self, id: usize, reset: bool) {
        let Some(mut flow) = self.tcp.remove(id) else { return };
        self.tcp_keys.remove(&flow.key);
        let _ = self.poll.registry().deregister(&mut flow.host);
        if reset {
            crate::splice::reset(&flow.host);
        }
        if let Some(h) = flow.socket {
            // An aborted socket (CLOSED with its endpoints still set) sends
            // its RST at the next dispatch: let that happen before the
            // socket goes, or the container would wait forever.
            let sock = self.sockets.get_mut::<tcp::Socket>(h);
            if sock.state() != tcp::State::Closed && sock.state() != tcp::State::TimeWait {
                sock.abort();
            }
            let now = self.now();
            self.iface.poll(now, &mut self.tap, &mut self.sockets);
            self.sockets.remove(h);
        }
    }
}

enum Pumped {
    Idle,
    Progress,
    Done { reset: bool },
}

/// Host sockets probe idle peers (the kernel's keepalive timers), so a
/// flow to a host that vanished ends instead of holding its slot.
fn keepalive(s: &mio::net::TcpStream) {
    use std::os::fd::AsRawFd;
    let on: libc::c_int = 1;
    // SAFETY: setsockopt with a valid int on a socket we hold.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_KEEPALIVE,
            (&on as *const libc::c_int).cast(),
            std::mem::size_of::<libc::c_int>() as libc::socklen_t,
        );
    }
}
