//! The DNS responder of a user-defined network: what a container on the
//! network asks to find the others by name.
//!
//! Theory of operation. The network's holder process binds one UDP socket
//! and one TCP listener on port 53 of the network's gateway address, inside
//! the network's namespace, and runs `serve_udp` and `serve_tcp` on them;
//! each container's `/etc/resolv.conf` names that gateway. The gateway is
//! podman's (aardvark-dns's) choice, not docker's 127.0.0.11: 127.0.0.11 is a
//! loopback address, so it exists separately in every container's own
//! namespace and docker has to install a NAT rule inside each container to
//! send it to the daemon's resolver, with a listener per container. The
//! gateway is already routed from every container on the bridge, so one pair
//! of sockets per network serves them all, with no rule and no per-container
//! set-up.
//!
//! Answers come from a `Names` table consulted at query time (the holder
//! looks names, short ids, `--network-alias` and `--link` aliases up in its
//! records), so a container that starts, stops or connects is seen by the
//! next query without any cache to invalidate. A and AAAA questions for a
//! name in the table get every address of that family, sorted and then
//! rotated by one per query for that name and type (round robin among
//! containers sharing an alias; A and AAAA keep separate turns because
//! `getaddrinfo` asks both each time). A name in the table with no address
//! of the asked family, or asked for another type, gets NOERROR with no
//! records: NXDOMAIN would deny the name for every type (RFC 2308) and a
//! caching client would then forget the A record too. Names compare
//! case-insensitively (RFC 4343), with or without a trailing dot, and with or
//! without the network's search domain; a name under the search domain that
//! is not in the table gets NXDOMAIN, since nothing upstream knows it. The
//! TTL is 0 (RFC 1035 §3.2.1: use for this transaction only): an address
//! belongs to a container that may be gone a second later, round robin only
//! works if clients ask again, and a query to the gateway costs next to
//! nothing.
//!
//! Every other question (outside names, other classes) is forwarded: the
//! query bytes as they are, id included, to the upstream resolvers in order
//! (each gets an equal share of `UPSTREAM_TIMEOUT`, 2 s in all), and the
//! first answer carrying that id is relayed as it is; if none answers, the
//! client gets SERVFAIL. UDP queries go upstream over UDP, TCP queries over
//! TCP, so a client falling back to TCP after a truncated answer gets the
//! whole of it. Forwarded UDP queries run on their own threads, so a slow
//! upstream never holds up the network's own names. A network without
//! upstreams (`--internal`) answers REFUSED for outside names: nothing
//! outside is reachable from it, so an address would be of no use, and
//! REFUSED tells the client at once instead of after a timeout.
//!
//! Wire format (RFC 1035 §4, TCP framing RFC 1035 §4.2.2 and RFC 7766) is
//! hickory-proto's. Malformed packets and stray responses are dropped
//! (trace-level log), never answered. Local answers that do not fit the
//! client's UDP size (512 bytes, or its EDNS size up to 1232) are sent
//! truncated (TC) so that the client asks again over TCP. Not done here: a
//! cache, recursion of its own, PTR records for container addresses, DNSSEC.
//! The responder only uses the sockets it is given and opens client sockets
//! towards the upstreams; binding, namespaces and the records are the
//! holder's.

use std::collections::HashMap;
use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Mutex;
use std::thread;
use std::time::{Duration, Instant};

use hickory_proto::op::{Edns, Message, MessageType, OpCode, Query, ResponseCode};
use hickory_proto::rr::{DNSClass, Name, RData, Record, RecordType};

#[cfg(test)]
mod tests;

/// The TTL of every local answer (see the module header for why 0).
pub const TTL: u32 = 0;
/// How long upstream resolvers have, in all, before the client gets SERVFAIL.
pub const UPSTREAM_TIMEOUT: Duration = Duration::from_secs(2);
/// How often the serving loops look at their stop flag.
const POLL: Duration = Duration::from_millis(100);
/// Forwarded UDP queries in flight at once; beyond, clients get SERVFAIL.
const MAX_FORWARDS: usize = 64;
/// Open TCP connections at once; beyond, new ones are closed.
const MAX_CONNECTIONS: usize = 32;
/// A TCP connection with no complete query for this long is closed.
const TCP_IDLE: Duration = Duration::from_secs(10);
/// The largest UDP answer we send even if a client offers more: the DNS
/// flag day 2020 size, which avoids IP fragmentation.
const UDP_CEILING: u16 = 1232;
/// Names with a round-robin turn remembered; past it the turns restart.
const MAX_TURNS: usize = 4096;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("invalid dns search domain {domain:?} for the network's resolver: expected a domain name such as dns.burrow")]
    Domain { domain: String },
    #[error("the network's dns responder cannot read its socket's address: {source}")]
    Address { source: io::Error },
    #[error("the network's dns responder on {addr} cannot {op}: {source}")]
    Socket { addr: SocketAddr, op: &'static str, source: io::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

/// The table the responder answers from, consulted at every query.
pub trait Names: Sync {
    /// Every address (both families) of `name`, which comes lowercased,
    /// without trailing dot or search domain; empty if the name is not on
    /// the network. Implementations compare names lowercased.
    fn lookup(&self, name: &str) -> Vec<IpAddr>;

    /// The same for a question from `client` (the querying container's
    /// address, which may make more names known: those of its other
    /// networks); by default the client does not matter.
    fn lookup_for(&self, client: Option<IpAddr>, name: &str) -> Vec<IpAddr> {
        let _ = client;
        self.lookup(name)
    }

    /// The resolvers the container at `client` asked for (`--dns`), which
    /// its outside names go to instead of the network's; empty: the
    /// network's.
    fn upstreams_for(&self, _client: IpAddr) -> Vec<SocketAddr> {
        Vec::new()
    }
}

impl<F: Fn(&str) -> Vec<IpAddr> + Sync> Names for F {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        self(name)
    }
}

/// A table whose answers depend on who asks: `F(client, name)`.
pub struct ByClient<F>(pub F);

impl<F: Fn(Option<IpAddr>, &str) -> Vec<IpAddr> + Sync> Names for ByClient<F> {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        (self.0)(None, name)
    }

    fn lookup_for(&self, client: Option<IpAddr>, name: &str) -> Vec<IpAddr> {
        (self.0)(client, name)
    }
}

/// How a query arrived, which bounds the size of a local answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Udp,
    Tcp,
}

/// What to do with one incoming packet.
#[derive(Debug, PartialEq, Eq)]
pub enum Action {
    /// Send these bytes back to the client.
    Reply(Vec<u8>),
    /// Send the packet upstream (`forward_udp` / `forward_tcp`).
    Forward,
    /// Ignore the packet: malformed, or not a query.
    Drop,
}

/// Where a question's name lives.
#[derive(Debug, PartialEq, Eq)]
enum Place {
    /// On the network: the table's key and its addresses.
    Local { key: String, addrs: Vec<IpAddr> },
    /// Under the network's search domain but not in the table.
    OwnZone,
    /// Somewhere else: the upstreams' business.
    Outside,
}

pub struct Responder<N> {
    names: N,
    domain: Option<String>,
    upstreams: Vec<SocketAddr>,
    timeout: Duration,
    turns: Mutex<HashMap<(String, RecordType), usize>>,
}

impl<N: Names> Responder<N> {
    /// A responder answering from `names`, whose containers also use the
    /// search domain `domain`, forwarding the rest to `upstreams` (none: an
    /// internal network, outside names are refused).
    pub fn new(names: N, domain: Option<&str>, upstreams: Vec<SocketAddr>) -> Result<Self> {
        let domain = domain.map(normalize_domain).transpose()?;
        Ok(Responder { names, domain, upstreams, timeout: UPSTREAM_TIMEOUT, turns: Mutex::new(HashMap::new()) })
    }

    /// The same responder with another upstream time budget (tests).
    pub fn with_timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The decision for one packet; the only I/O it does is the table lookup.
    pub fn decide(&self, packet: &[u8], transport: Transport) -> Action {
        self.decide_for(packet, transport, None)
    }

    /// The decision for one packet from `client` (see `Names::lookup_for`).
    pub fn decide_for(&self, packet: &[u8], transport: Transport, client: Option<IpAddr>) -> Action {
        let query = match Message::from_vec(packet) {
            Ok(query) => query,
            Err(error) => {
                tracing::trace!(%error, len = packet.len(), "dropping malformed dns packet");
                return Action::Drop;
            }
        };
        if query.message_type() != MessageType::Query {
            tracing::trace!(id = query.id(), "dropping a dns response sent to the responder");
            return Action::Drop;
        }
        if query.op_code() != OpCode::Query {
            return self.reply_code(&query, ResponseCode::NotImp);
        }
        let [question] = query.queries() else {
            return self.reply_code(&query, ResponseCode::FormErr);
        };
        let place = if question.query_class() == DNSClass::IN { self.place(question.name(), client) } else { Place::Outside };
        match place {
            Place::Local { key, addrs } => self.reply_local(&query, question, &key, addrs, transport),
            Place::OwnZone => self.reply_local(&query, question, "", Vec::new(), transport),
            Place::Outside if self.upstreams.is_empty() => self.reply_code(&query, ResponseCode::Refused),
            Place::Outside => Action::Forward,
        }
    }

    /// Where `name` lives: the table is tried with the name as asked, then
    /// without the search domain.
    fn place(&self, name: &Name, client: Option<IpAddr>) -> Place {
        let ascii = name.to_ascii().to_ascii_lowercase();
        let full = ascii.strip_suffix('.').unwrap_or(&ascii);
        let inner = self.domain.as_deref().and_then(|d| {
            if full == d {
                Some("")
            } else {
                full.strip_suffix(d).and_then(|rest| rest.strip_suffix('.'))
            }
        });
        for key in [Some(full), inner].into_iter().flatten().filter(|k| !k.is_empty()) {
            let addrs = self.names.lookup_for(client, key);
            if !addrs.is_empty() {
                return Place::Local { key: key.to_string(), addrs };
            }
        }
        if inner.is_some() {
            Place::OwnZone
        } else {
            Place::Outside
        }
    }

    /// The answer for a name on the network (or, with no addresses, under
    /// its domain: NXDOMAIN).
    fn reply_local(&self, query: &Message, question: &Query, key: &str, addrs: Vec<IpAddr>, transport: Transport) -> Action {
        let mut reply = self.reply_to(query);
        reply.set_authoritative(true);
        if addrs.is_empty() {
            reply.set_response_code(ResponseCode::NXDomain);
        }
        let qtype = question.query_type();
        let mut chosen: Vec<IpAddr> = addrs
            .into_iter()
            .filter(|a| matches!((qtype, a), (RecordType::A, IpAddr::V4(_)) | (RecordType::AAAA, IpAddr::V6(_))))
            .collect();
        chosen.sort();
        chosen.dedup();
        if chosen.len() > 1 {
            let turn = self.turn(key, qtype) % chosen.len();
            chosen.rotate_left(turn);
        }
        for addr in chosen {
            reply.add_answer(Record::from_rdata(question.name().clone(), TTL, RData::from(addr)));
        }
        let limit = match transport {
            Transport::Udp => usize::from(query.max_payload().min(UDP_CEILING)),
            Transport::Tcp => usize::from(u16::MAX),
        };
        match encode(&reply) {
            Some(bytes) if bytes.len() <= limit => Action::Reply(bytes),
            Some(_) => encode(&reply.truncate()).map_or(Action::Drop, Action::Reply),
            None => Action::Drop,
        }
    }

    /// This query's round-robin turn for `key` and `qtype`, advancing it.
    fn turn(&self, key: &str, qtype: RecordType) -> usize {
        let mut turns = self.turns.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if turns.len() >= MAX_TURNS {
            turns.clear();
        }
        let turn = turns.entry((key.to_string(), qtype)).or_insert(0);
        let now = *turn;
        *turn = turn.wrapping_add(1);
        now
    }

    /// The header and question of a reply to `query`.
    fn reply_to(&self, query: &Message) -> Message {
        let mut reply = Message::error_msg(query.id(), query.op_code(), ResponseCode::NoError);
        reply
            .set_recursion_desired(query.recursion_desired())
            .set_recursion_available(!self.upstreams.is_empty())
            .set_checking_disabled(query.checking_disabled())
            .add_queries(query.queries().iter().cloned());
        if query.extensions().is_some() {
            let mut edns = Edns::new();
            edns.set_max_payload(UDP_CEILING);
            reply.set_edns(edns);
        }
        reply
    }

    fn reply_code(&self, query: &Message, code: ResponseCode) -> Action {
        let mut reply = self.reply_to(query);
        reply.set_response_code(code);
        encode(&reply).map_or(Action::Drop, Action::Reply)
    }

    /// SERVFAIL for a query that could not be forwarded (nothing for a
    /// packet that does not parse).
    fn servfail(&self, packet: &[u8]) -> Option<Vec<u8>> {
        let query = Message::from_vec(packet).ok()?;
        match self.reply_code(&query, ResponseCode::ServFail) {
            Action::Reply(bytes) => Some(bytes),
            Action::Forward | Action::Drop => None,
        }
    }

    /// The upstreams of `client`: its own (`--dns`) or the network's.
    fn upstreams_of(&self, client: IpAddr) -> (Vec<SocketAddr>, Duration) {
        let own = self.names.upstreams_for(client);
        let upstreams = if own.is_empty() { self.upstreams.clone() } else { own };
        let n = u32::try_from(upstreams.len()).unwrap_or(u32::MAX).max(1);
        (upstreams, self.timeout / n)
    }

    /// The upstreams' answer to `client`'s UDP query, or SERVFAIL.
    pub fn forward_udp(&self, packet: &[u8], client: IpAddr) -> Option<Vec<u8>> {
        let (upstreams, share) = self.upstreams_of(client);
        for upstream in &upstreams {
            match ask_udp(*upstream, packet, share) {
                Ok(answer) => return Some(answer),
                Err(error) => tracing::debug!(%upstream, %error, "upstream dns resolver did not answer over udp"),
            }
        }
        self.servfail(packet)
    }

    /// The upstreams' answer to `client`'s TCP query, or SERVFAIL.
    pub fn forward_tcp(&self, packet: &[u8], client: IpAddr) -> Option<Vec<u8>> {
        let (upstreams, share) = self.upstreams_of(client);
        for upstream in &upstreams {
            match ask_tcp(*upstream, packet, share) {
                Ok(answer) => return Some(answer),
                Err(error) => tracing::debug!(%upstream, %error, "upstream dns resolver did not answer over tcp"),
            }
        }
        self.servfail(packet)
    }
}

/// `domain` lowercased, without trailing dot; refused unless a domain name.
fn normalize_domain(domain: &str) -> Result<String> {
    let invalid = || Error::Domain { domain: domain.to_string() };
    let trimmed = domain.strip_suffix('.').unwrap_or(domain);
    let name = Name::from_ascii(trimmed).map_err(|_| invalid())?;
    if trimmed.is_empty() || name.is_root() || !trimmed.is_ascii() {
        return Err(invalid());
    }
    let ascii = name.to_ascii().to_ascii_lowercase();
    Ok(ascii.strip_suffix('.').unwrap_or(&ascii).to_string())
}

fn encode(message: &Message) -> Option<Vec<u8>> {
    message.to_vec().map_err(|error| tracing::warn!(%error, "cannot encode a dns reply")).ok()
}

/// Whether `answer` is a response carrying `query`'s id.
fn answers(query: &[u8], answer: &[u8]) -> bool {
    answer.len() >= 12 && query.len() >= 2 && answer[..2] == query[..2] && answer[2] & 0x80 != 0
}

fn unspecified(peer: SocketAddr) -> SocketAddr {
    match peer {
        SocketAddr::V4(_) => SocketAddr::from((Ipv4Addr::UNSPECIFIED, 0)),
        SocketAddr::V6(_) => SocketAddr::from((Ipv6Addr::UNSPECIFIED, 0)),
    }
}

/// One UDP exchange with `upstream` from a fresh socket (a random source
/// port), waiting at most `within` for an answer with the query's id.
fn ask_udp(upstream: SocketAddr, packet: &[u8], within: Duration) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + within;
    let socket = UdpSocket::bind(unspecified(upstream))?;
    socket.connect(upstream)?;
    socket.send(packet)?;
    let mut buf = vec![0u8; 65535];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        socket.set_read_timeout(Some(left))?;
        let len = socket.recv(&mut buf)?;
        if answers(packet, &buf[..len]) {
            buf.truncate(len);
            return Ok(buf);
        }
    }
}

/// One TCP exchange with `upstream`, within `within` in all.
fn ask_tcp(upstream: SocketAddr, packet: &[u8], within: Duration) -> io::Result<Vec<u8>> {
    let deadline = Instant::now() + within;
    let mut stream = TcpStream::connect_timeout(&upstream, within)?;
    let left = deadline.saturating_duration_since(Instant::now()).max(Duration::from_millis(1));
    stream.set_write_timeout(Some(left))?;
    stream.write_all(&frame(packet)?)?;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(io::ErrorKind::TimedOut.into());
        }
        stream.set_read_timeout(Some(left))?;
        let mut len = [0u8; 2];
        stream.read_exact(&mut len)?;
        let mut answer = vec![0u8; usize::from(u16::from_be_bytes(len))];
        stream.read_exact(&mut answer)?;
        if answers(packet, &answer) {
            return Ok(answer);
        }
    }
}

/// A message with its TCP length prefix.
fn frame(message: &[u8]) -> io::Result<Vec<u8>> {
    let len = u16::try_from(message.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let mut framed = Vec::with_capacity(message.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(message);
    Ok(framed)
}

/// Errors that only mean "nothing arrived yet".
fn transient(error: &io::Error) -> bool {
    matches!(error.kind(), io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut | io::ErrorKind::Interrupted)
}

/// Answers DNS over UDP on `socket` until `stop` is set, then waits for the
/// forwarded queries still in flight (at most `UPSTREAM_TIMEOUT`).
pub fn serve_udp<N: Names>(socket: UdpSocket, responder: &Responder<N>, stop: &AtomicBool) -> Result<()> {
    let addr = socket.local_addr().map_err(|source| Error::Address { source })?;
    let fail = |op, source| Error::Socket { addr, op, source };
    socket.set_read_timeout(Some(POLL)).map_err(|e| fail("set a read timeout", e))?;
    let in_flight = AtomicUsize::new(0);
    let (socket, in_flight) = (&socket, &in_flight);
    thread::scope(|scope| {
        let mut buf = vec![0u8; 65535];
        while !stop.load(Ordering::Relaxed) {
            let (len, peer) = match socket.recv_from(&mut buf) {
                Ok(got) => got,
                Err(e) if transient(&e) => continue,
                Err(e) => return Err(fail("receive", e)),
            };
            let packet = &buf[..len];
            let reply = match responder.decide_for(packet, Transport::Udp, Some(peer.ip())) {
                Action::Drop => None,
                Action::Reply(bytes) => Some(bytes),
                Action::Forward if in_flight.load(Ordering::Relaxed) >= MAX_FORWARDS => responder.servfail(packet),
                Action::Forward => {
                    in_flight.fetch_add(1, Ordering::Relaxed);
                    let query = packet.to_vec();
                    let spawned = thread::Builder::new().name("dns-forward".into()).spawn_scoped(scope, move || {
                        if let Some(answer) = responder.forward_udp(&query, peer.ip()) {
                            send_udp(socket, &answer, peer);
                        }
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                    });
                    spawned.err().and_then(|error| {
                        tracing::warn!(%error, "cannot start a thread to forward a dns query");
                        in_flight.fetch_sub(1, Ordering::Relaxed);
                        responder.servfail(packet)
                    })
                }
            };
            if let Some(reply) = reply {
                send_udp(socket, &reply, peer);
            }
        }
        Ok(())
    })
}

fn send_udp(socket: &UdpSocket, bytes: &[u8], peer: SocketAddr) {
    if let Err(error) = socket.send_to(bytes, peer) {
        tracing::trace!(%peer, %error, "cannot send a dns answer");
    }
}

/// Answers DNS over TCP (RFC 7766: length-prefixed messages, several per
/// connection) on `listener` until `stop` is set, one thread per
/// connection, then waits for the connections to wind down.
pub fn serve_tcp<N: Names>(listener: TcpListener, responder: &Responder<N>, stop: &AtomicBool) -> Result<()> {
    let addr = listener.local_addr().map_err(|source| Error::Address { source })?;
    let fail = |op, source| Error::Socket { addr, op, source };
    listener.set_nonblocking(true).map_err(|e| fail("make the listener non-blocking", e))?;
    let open = AtomicUsize::new(0);
    let open = &open;
    thread::scope(|scope| {
        while !stop.load(Ordering::Relaxed) {
            let stream = match listener.accept() {
                Ok((stream, _)) => stream,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    wait_readable(&listener).map_err(|e| fail("wait for connections", e))?;
                    continue;
                }
                Err(e) if transient(&e) || e.kind() == io::ErrorKind::ConnectionAborted => continue,
                Err(e) => return Err(fail("accept a connection", e)),
            };
            if open.load(Ordering::Relaxed) >= MAX_CONNECTIONS {
                tracing::debug!("too many dns connections, closing a new one");
                continue;
            }
            open.fetch_add(1, Ordering::Relaxed);
            let spawned = thread::Builder::new().name("dns-tcp".into()).spawn_scoped(scope, move || {
                if let Err(error) = serve_connection(stream, responder, stop) {
                    tracing::trace!(%error, "dns connection ended");
                }
                open.fetch_sub(1, Ordering::Relaxed);
            });
            if let Err(error) = spawned {
                tracing::warn!(%error, "cannot start a thread for a dns connection");
                open.fetch_sub(1, Ordering::Relaxed);
            }
        }
        Ok(())
    })
}

/// Waits until `listener` has a connection or `POLL` has passed.
fn wait_readable(listener: &TcpListener) -> io::Result<()> {
    use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
    let mut fds = [PollFd::new(listener.as_fd(), PollFlags::POLLIN)];
    match poll(&mut fds, PollTimeout::from(u16::try_from(POLL.as_millis()).unwrap_or(u16::MAX))) {
        Ok(_) | Err(nix::errno::Errno::EINTR) => Ok(()),
        Err(errno) => Err(errno.into()),
    }
}

/// Queries on one TCP connection, answered in order, until the client
/// closes it, stays idle for `TCP_IDLE`, or `stop` is set.
fn serve_connection<N: Names>(mut stream: TcpStream, responder: &Responder<N>, stop: &AtomicBool) -> io::Result<()> {
    stream.set_nonblocking(false)?;
    let client = stream.peer_addr().ok().map(|a| a.ip());
    stream.set_read_timeout(Some(POLL))?;
    stream.set_write_timeout(Some(UPSTREAM_TIMEOUT))?;
    loop {
        let deadline = Instant::now() + TCP_IDLE;
        let mut len = [0u8; 2];
        if !fill(&mut stream, &mut len, stop, deadline)? {
            return Ok(());
        }
        let mut packet = vec![0u8; usize::from(u16::from_be_bytes(len))];
        if !fill(&mut stream, &mut packet, stop, deadline)? {
            return Ok(());
        }
        let reply = match responder.decide_for(&packet, Transport::Tcp, client) {
            Action::Reply(bytes) => Some(bytes),
            Action::Forward => client.and_then(|c| responder.forward_tcp(&packet, c)),
            Action::Drop => None,
        };
        if let Some(reply) = reply {
            stream.write_all(&frame(&reply)?)?;
        }
    }
}

/// Fills `buf` from `stream`; false if the client closed, `stop` was set or
/// `deadline` passed first.
fn fill(stream: &mut TcpStream, buf: &mut [u8], stop: &AtomicBool, deadline: Instant) -> io::Result<bool> {
    let mut done = 0;
    while done < buf.len() {
        if stop.load(Ordering::Relaxed) || Instant::now() >= deadline {
            return Ok(false);
        }
        match stream.read(&mut buf[done..]) {
            Ok(0) => return Ok(false),
            Ok(n) => done += n,
            Err(e) if transient(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}
