//! The event loop of one container's network.
//!
//! One thread owns everything: the TAP descriptor, smoltcp's interface and
//! sockets, every host socket and the published ports, all registered
//! with one mio `Poll` (epoll, edge-triggered). A round of the loop:
//! 1. wait for readiness (or smoltcp's next timer, or a wake-up to stop);
//! 2. note which host sockets became readable or writable;
//! 3. read a batch of frames from the TAP: classify each (`frame`), open
//!    flows for new SYNs (`tcp`), carry UDP and ICMP echo by hand (`udp`,
//!    `icmp`), queue the rest for smoltcp;
//! 4. accept clients on published ports (`inbound`);
//! 5. let smoltcp process the queue, pump bytes between each TCP flow's
//!    smoltcp socket and its host socket, let smoltcp send.
//!
//! Steps 3–5 repeat without waiting while there is work a readiness event
//! would not announce again (a TAP batch cut short, segments smoltcp still
//! has to send). Right after traffic the wait polls for 50 µs before it
//! sleeps (`wait`), which halves request/response round trips.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::net::{IpAddr, SocketAddr};
use std::os::fd::OwnedFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use mio::unix::SourceFd;
use mio::{Events, Interest, Poll, Token, Waker};
use smoltcp::iface::{Config, Interface, PollResult, SocketSet};
use smoltcp::time::Instant as SmolInstant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpAddress, IpCidr};

use crate::device::Tap;
use crate::flow::{Key, Limits, Slab};
use crate::forward::Plan;
use crate::frame::{self, Class, Link, Unreachable};
use crate::icmp::IcmpFlow;
use crate::inbound::{Listener, NsUdp, Published};
use crate::pcap::Pcap;
use crate::publish::Controls;
use crate::stats::Stats;
use crate::tcp::TcpFlow;
use crate::udp::UdpFlow;
use crate::Error;

/// The stack's own hardware address (locally administered).
pub const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0xb0, 0xb0, 0x00, 0x00, 0x02]);

pub(crate) const TAP: Token = Token(0);
pub(crate) const WAKE: Token = Token(1);
pub(crate) const LISTENER: usize = 1 << 16;
pub(crate) const TCP: usize = 1 << 20;
pub(crate) const UDP: usize = 2 << 20;
pub(crate) const ICMP: usize = 3 << 20;
pub(crate) const NS_UDP: usize = 4 << 20;
const KIND_MASK: usize = !((1 << 20) - 1);

/// The largest datagram a host socket hands over.
const DGRAM: usize = 65_536;

/// How long the loop polls without sleeping after traffic.
const SPIN: Duration = Duration::from_micros(50);

/// Egress passes per round at most (each sends one segment per socket).
const EGRESS_PASSES: usize = 16;

/// Frames read from the TAP per round before the rest gets a turn.
const TAP_BATCH: usize = 256;

/// What `start` needs besides the TAP.
#[derive(Debug, Clone)]
pub struct Options {
    pub plan: Plan,
    pub mtu: u32,
    pub limits: Limits,
    pub pcap: Option<std::path::PathBuf>,
    /// Subnets behind the link's peer (a router: a user-defined
    /// network's namespace), reached through the peer's address in the
    /// plan (`container()`), whose hardware address is `peer_mac`.
    pub routed: Vec<(IpAddr, u8)>,
    /// The peer's hardware address, when known before its first frame.
    pub peer_mac: Option<[u8; 6]>,
}

/// The running stack.
pub struct Handle {
    pub(crate) waker: Arc<Waker>,
    pub(crate) controls: Controls,
    stop: Arc<AtomicBool>,
    thread: Option<std::thread::JoinHandle<Stats>>,
}

impl Handle {
    /// Stop the loop and return its counters.
    pub fn stop(mut self) -> Stats {
        self.halt()
    }

    fn halt(&mut self) -> Stats {
        self.stop.store(true, Ordering::SeqCst);
        let _ = self.waker.wake();
        self.thread.take().and_then(|t| t.join().ok()).unwrap_or_default()
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.halt();
        }
    }
}

/// Start serving the container's network: `tap` is the TAP descriptor
/// made inside its namespace, `netns` that namespace (for clients of
/// published ports that connect from the host's loopback, `inbound`),
/// `published` the host ports bound beforehand (`inbound::bind`).
pub fn start(tap: OwnedFd, netns: Option<File>, options: Options, published: Vec<Published>) -> Result<Handle, Error> {
    let pcap = match &options.pcap {
        Some(p) => Some(Pcap::create(p).map_err(|source| Error::Pcap { path: p.clone(), source })?),
        None => None,
    };
    let tap = Tap::new(tap, options.mtu, pcap).map_err(|source| Error::Io { what: "the TAP device", source })?;
    let poll = Poll::new().map_err(|source| Error::Io { what: "epoll", source })?;
    let waker = Arc::new(Waker::new(poll.registry(), WAKE).map_err(|source| Error::Io { what: "epoll", source })?);
    let stop = Arc::new(AtomicBool::new(false));
    let controls = Controls::default();
    let mut stack = Stack::new(poll, tap, netns, options, published, stop.clone())?;
    stack.controls = controls.clone();
    // The caller's span (the container's) goes with the thread, and from
    // it to every splice thread it starts.
    let span = tracing::Span::current();
    let thread = std::thread::Builder::new()
        .name("burrow-net".into())
        .spawn(move || {
            let _span = span.entered();
            if let Err(e) = stack.run() {
                tracing::error!(%e, "the container's network stopped");
            }
            stack.finish()
        })
        .map_err(|source| Error::Io { what: "the network thread", source })?;
    Ok(Handle { waker, controls, stop, thread: Some(thread) })
}

pub(crate) struct Stack {
    pub poll: Poll,
    pub iface: Interface,
    pub tap: Tap,
    pub sockets: SocketSet<'static>,
    pub plan: Plan,
    pub limits: Limits,
    pub container_mac: Option<EthernetAddress>,
    pub tcp: Slab<TcpFlow>,
    pub tcp_keys: HashMap<Key, usize>,
    pub udp: Slab<UdpFlow>,
    pub udp_keys: HashMap<Key, usize>,
    pub icmp: Slab<IcmpFlow>,
    pub icmp_keys: HashMap<(IpAddr, IpAddr, u16), usize>,
    /// Published ports by token (`LISTENER + index`); a withdrawn one
    /// leaves its slot empty.
    pub listeners: Vec<Option<Listener>>,
    /// Replies of inbound UDP from non-loopback clients: (container
    /// endpoint, client) → listener.
    pub inbound_udp: HashMap<(SocketAddr, SocketAddr), usize>,
    pub controls: Controls,
    pub ns_udp: Slab<NsUdp>,
    pub ns_udp_keys: HashMap<(usize, SocketAddr), usize>,
    pub netns: Option<Arc<File>>,
    pub stats: Stats,
    pub scratch: Vec<u8>,
    epoch: std::time::Instant,
    stop: Arc<AtomicBool>,
    tap_readable: bool,
    /// Work is waiting that no readiness event will announce.
    pub busy: bool,
}

impl Stack {
    fn new(
        poll: Poll,
        mut tap: Tap,
        netns: Option<File>,
        options: Options,
        published: Vec<Published>,
        stop: Arc<AtomicBool>,
    ) -> Result<Stack, Error> {
        let plan = options.plan;
        let epoch = std::time::Instant::now();
        let mut config = Config::new(HardwareAddress::Ethernet(OUR_MAC));
        config.random_seed = seed();
        let mut iface = Interface::new(config, &mut tap, SmolInstant::from_micros(0));
        let net = plan.network;
        iface.update_ip_addrs(|a| {
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(net.gateway()), net.prefix_len));
            let _ = a.push(IpCidr::new(IpAddress::Ipv4(net.dns()), net.prefix_len));
            if plan.ipv6 {
                let _ = a.push(IpCidr::new(IpAddress::Ipv6(net.ipv6_gateway()), 64));
                let _ = a.push(IpCidr::new(IpAddress::Ipv6(net.ipv6_dns()), 64));
            }
        });
        let _ = iface.routes_mut().add_default_ipv4_route(net.gateway());
        if plan.ipv6 {
            let _ = iface.routes_mut().add_default_ipv6_route(net.ipv6_gateway());
        }
        add_routed(&mut iface, &plan, &options.routed);
        // Accept traffic to every address: each flow's socket listens on
        // the destination the container asked for.
        iface.set_any_ip(true);
        let tap_fd = tap.raw_fd();
        poll.registry().register(&mut SourceFd(&tap_fd), TAP, Interest::READABLE).map_err(|source| Error::Io { what: "epoll", source })?;
        let mut listeners = Vec::new();
        for (i, p) in published.into_iter().enumerate() {
            let mut l = Listener::new(p).map_err(|source| Error::Io { what: "a published port", source })?;
            l.register(poll.registry(), Token(LISTENER + i)).map_err(|source| Error::Io { what: "epoll", source })?;
            listeners.push(Some(l));
        }
        // Flow buffers are large and mostly untouched: allocate them with
        // mmap so that untouched pages cost nothing.
        // SAFETY: mallopt only tunes the allocator.
        unsafe { libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024) };
        Ok(Stack {
            poll,
            iface,
            tap,
            sockets: SocketSet::new(Vec::new()),
            plan,
            limits: options.limits,
            container_mac: options.peer_mac.map(EthernetAddress),
            tcp: Slab::default(),
            tcp_keys: HashMap::new(),
            udp: Slab::default(),
            udp_keys: HashMap::new(),
            icmp: Slab::default(),
            icmp_keys: HashMap::new(),
            listeners,
            inbound_udp: HashMap::new(),
            controls: Controls::default(),
            ns_udp: Slab::default(),
            ns_udp_keys: HashMap::new(),
            netns: netns.map(Arc::new),
            stats: Stats::default(),
            scratch: Vec::new(),
            epoch,
            stop,
            tap_readable: true,
            busy: false,
        })
    }

    pub fn now(&self) -> SmolInstant {
        SmolInstant::from_micros(self.epoch.elapsed().as_micros() as i64)
    }

    pub fn link(&self) -> Option<Link> {
        self.container_mac.map(|container| Link { ours: OUR_MAC, container })
    }

    /// The container's address of the same family as `like`.
    pub fn container_ip(&self, like: &IpAddr) -> Option<IpAddr> {
        match like {
            IpAddr::V4(_) => Some(self.plan.network.container().into()),
            IpAddr::V6(_) if self.plan.ipv6 => Some(self.plan.network.ipv6_container().into()),
            IpAddr::V6(_) => None,
        }
    }

    /// The gateway address of the same family as `like`.
    pub fn gateway(&self, like: &IpAddr) -> IpAddr {
        match like {
            IpAddr::V4(_) => self.plan.network.gateway().into(),
            IpAddr::V6(_) => self.plan.network.ipv6_gateway().into(),
        }
    }

    /// Tell the container, from the gateway, that `original` (a frame it
    /// sent towards `to`) cannot be delivered; false when its hardware
    /// address is not known yet, so nothing could be sent.
    pub fn send_unreachable(&mut self, original: &[u8], to: &IpAddr, why: Unreachable) -> bool {
        let Some(link) = self.link() else { return false };
        let router = self.gateway(to);
        let n = frame::unreachable_frame(link, router, original, why, &mut self.scratch);
        self.send_scratch(n);
        true
    }

    /// Is `ip` one of the stack's own addresses (gateway, DNS)?
    pub fn is_ours(&self, ip: &IpAddr) -> bool {
        self.iface.has_ip_addr(IpAddress::from(*ip))
    }

    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        let mut last_sweep = std::time::Instant::now();
        let mut last_event = std::time::Instant::now();
        // One buffer for every datagram a host socket hands over, zeroed
        // once.
        let mut dgram = vec![0u8; DGRAM];
        loop {
            let timeout = if self.busy || self.tap_readable {
                Some(Duration::ZERO)
            } else {
                let now = self.now();
                let smol = self.iface.poll_delay(now, &self.sockets).map(|d| Duration::from_micros(d.total_micros()));
                Some(smol.map_or(Duration::from_secs(1), |d| d.min(Duration::from_secs(1))))
            };
            match self.wait(&mut events, timeout, &mut last_event) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            if self.stop.load(Ordering::SeqCst) {
                return Ok(());
            }
            for ev in events.iter() {
                let t = ev.token().0;
                match t & KIND_MASK {
                    _ if ev.token() == TAP => self.tap_readable = true,
                    _ if ev.token() == WAKE => self.apply_controls(),
                    0 if t >= LISTENER => self.listener_ready(t - LISTENER, &mut dgram),
                    TCP => self.tcp_event(t - TCP, ev),
                    UDP => self.udp_event(t - UDP, &mut dgram),
                    ICMP => self.icmp_event(t - ICMP, &mut dgram),
                    NS_UDP => self.ns_udp_event(t - NS_UDP, &mut dgram),
                    _ => {}
                }
            }
            self.busy = false;
            if self.tap_readable {
                self.read_tap()?;
            }
            self.turn();
            if last_sweep.elapsed() >= Duration::from_secs(1) {
                last_sweep = std::time::Instant::now();
                self.sweep_idle();
            }
        }
    }

    /// Wait for readiness. Right after traffic, poll without sleeping for
    /// a few microseconds first: a request/response peer usually answers
    /// within that time, and catching it awake saves the scheduler's
    /// wake-up latency on every round trip. An idle container never spins.
    fn wait(&mut self, events: &mut Events, timeout: Option<Duration>, last_event: &mut std::time::Instant) -> io::Result<()> {
        if timeout != Some(Duration::ZERO) && last_event.elapsed() < SPIN {
            while last_event.elapsed() < SPIN {
                self.poll.poll(events, Some(Duration::ZERO))?;
                if !events.is_empty() {
                    *last_event = std::time::Instant::now();
                    return Ok(());
                }
                std::hint::spin_loop();
            }
        }
        self.poll.poll(events, timeout)?;
        if !events.is_empty() {
            *last_event = std::time::Instant::now();
        }
        Ok(())
    }

    /// smoltcp in, pump, smoltcp out.
    fn turn(&mut self) {
        let now = self.now();
        self.iface.poll(now, &mut self.tap, &mut self.sockets);
        self.pump_tcp();
        // smoltcp sends at most one segment per socket per egress pass:
        // pass again while anything went out, so a window's worth leaves
        // in this round rather than one segment per wake-up.
        let now = self.now();
        for _ in 0..EGRESS_PASSES {
            if self.iface.poll_egress(now, &mut self.tap, &mut self.sockets) == PollResult::None {
                break;
            }
        }
    }

    fn read_tap(&mut self) -> io::Result<()> {
        for _ in 0..TAP_BATCH {
            let Some(buf) = self.tap.read_frame()? else {
                self.tap_readable = false;
                return Ok(());
            };
            self.stats.frames_in += 1;
            self.frame_in(buf);
        }
        // More may be waiting; come back without sleeping.
        Ok(())
    }

    fn frame_in(&mut self, buf: Vec<u8>) {
        if self.container_mac.is_none() {
            if let Some(mac) = frame::source_mac(&buf) {
                if mac.is_unicast() {
                    self.container_mac = Some(mac);
                }
            }
        }
        let verdict = match frame::classify(&buf) {
            Class::Drop(reason) => {
                self.stats.drop(reason.name());
                tracing::trace!(reason = reason.name(), "dropped a frame from the container");
                Disposition::Recycle
            }
            Class::Stack => Disposition::Stack,
            Class::Tcp { src, dst, opens, reset } => self.tcp_segment(&buf, src, dst, opens, reset),
            Class::Udp { src, dst, payload } => {
                self.udp_datagram(&buf, src, dst, payload);
                Disposition::Recycle
            }
            Class::Echo { src, dst, ident, seq, data } => {
                if self.is_ours(&dst) {
                    Disposition::Stack
                } else {
                    self.echo_request(&buf, src, dst, ident, seq, data);
                    Disposition::Recycle
                }
            }
        };
        match verdict {
            Disposition::Stack => self.tap.queue(buf),
            Disposition::Recycle => self.tap.recycle(buf),
        }
    }

    /// Write a frame built in `self.scratch` (of `len` bytes) to the TAP.
    pub fn send_scratch(&mut self, len: Option<usize>) {
        if let Some(n) = len {
            let buf = std::mem::take(&mut self.scratch);
            self.tap.writer.send(&buf[..n]);
            self.scratch = buf;
        }
    }

    fn sweep_idle(&mut self) {
        self.sweep_udp();
        self.sweep_icmp();
        self.sweep_ns_udp();
        if let Some(p) = &mut self.tap.writer.pcap {
            p.flush();
        }
    }

    fn finish(&mut self) -> Stats {
        if let Some(p) = &mut self.tap.writer.pcap {
            p.flush();
        }
        let mut s = self.stats.clone();
        s.frames_out = self.tap.writer.sent;
        s.frames_refused_by_tap = self.tap.writer.refused;
        tracing::debug!(stats = ?s, "container network stopped");
        s
    }
}

/// What happens to a frame's buffer after classification.
pub(crate) enum Disposition {
    /// smoltcp takes it.
    Stack,
    /// Done with; back to the pool.
    Recycle,
}

/// Routes to the subnets behind the peer, through its address.
fn add_routed(iface: &mut Interface, plan: &Plan, routed: &[(IpAddr, u8)]) {
    let net = plan.network;
    iface.routes_mut().update(|table| {
        for (addr, len) in routed {
            let (cidr, via) = match addr {
                IpAddr::V4(a) => (IpCidr::new(IpAddress::Ipv4(*a), *len), IpAddress::Ipv4(net.container())),
                IpAddr::V6(a) if plan.ipv6 => (IpCidr::new(IpAddress::Ipv6(*a), *len), IpAddress::Ipv6(net.ipv6_container())),
                IpAddr::V6(_) => continue,
            };
            let route = smoltcp::iface::Route { cidr, via_router: via, preferred_until: None, expires_at: None };
            if table.push(route).is_err() {
                tracing::warn!(%cidr, "the stack's route table is full");
            }
        }
    });
}

fn seed() -> u64 {
    let mut b = [0u8; 8];
    // SAFETY: getrandom into a valid 8-byte buffer.
    let n = unsafe { libc::getrandom(b.as_mut_ptr().cast(), 8, 0) };
    if n == 8 {
        u64::from_ne_bytes(b)
    } else {
        std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id())
    }
}
