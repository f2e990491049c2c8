//! A hostile container, in process: the stack serves one end of a
//! `socketpair(AF_UNIX, SOCK_SEQPACKET)` instead of a TAP (one read is one
//! frame, one write is one frame, which is all the stack asks of a TAP),
//! and this test plays the container on the other end with frames built
//! from smoltcp's wire types. No namespace, no root.
//!
//! One stack takes, in order: thousands of malformed, truncated, oversized,
//! bad-checksum and fragmented frames and unknown ethertypes; a "million
//! UDP destinations" flood; a SYN flood; SYNs with bad checksums. After
//! each the process's descriptors must stay bounded by the flow limits;
//! after all of them ordinary UDP and TCP must still work end to end
//! through host echo servers, a closed port must answer RST and a refused
//! destination ICMP unreachable. When it stops, its counters must account
//! for every frame (each malformed frame dropped once, under the reason
//! `frame::classify` gives it) and every descriptor must be given back.
//!
//! The host side only uses 127.0.0.1: the gateway 10.0.2.2 stands for it
//! (`allow_host_loopback`).

use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddrV4, TcpListener, UdpSocket};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

use burrow_netstack::config::VirtualNetwork;
use burrow_netstack::frame::{self, Class};
use burrow_netstack::stack::OUR_MAC;
use burrow_netstack::{Limits, Options, Plan};
use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    ArpOperation, ArpPacket, ArpRepr, EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv4Message, Icmpv4Packet,
    Icmpv4Repr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, TcpControl, TcpPacket, TcpRepr, TcpSeqNumber, UdpPacket, UdpRepr,
};

const MAC: EthernetAddress = EthernetAddress([0x02, 0xb0, 0xb0, 0x00, 0x00, 0x64]);
const ME: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 100);
const GATEWAY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 2);
/// Inside the virtual network, nobody: refused by the forwarding decision.
const NOBODY: Ipv4Addr = Ipv4Addr::new(10, 0, 2, 77);
const MTU: u32 = 1500;
/// What one read of the stack takes of a frame (`device::frame_len`).
const READ_LEN: usize = MTU as usize + 14;

const LIMITS: Limits = Limits { tcp_flows: 64, tcp_buffer: 64 * 1024, udp_flows: 32, icmp_flows: 8, udp_idle: Duration::from_secs(60) };
const UDP_FLOOD: u16 = 20_000;
const SYN_FLOOD: u16 = 2_000;
const BAD_SYNS: u16 = 100;
/// Descriptors the stack may hold beyond its flows (epoll, waker, ...).
const SLACK: usize = 8;

// ---------------------------------------------------------------------------
// The container's end of the link.

struct Link {
    fd: OwnedFd,
    /// What the stack must have counted as dropped, by reason.
    expected_drops: BTreeMap<&'static str, u64>,
    sent: u64,
}

impl Link {
    fn pair() -> (Link, OwnedFd) {
        let mut fds = [0; 2];
        // SAFETY: socketpair writes two new descriptors into `fds`.
        let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_SEQPACKET | libc::SOCK_CLOEXEC, 0, fds.as_mut_ptr()) };
        assert_eq!(r, 0, "socketpair: {}", std::io::Error::last_os_error());
        // SAFETY: both descriptors are new and ours.
        let (a, b) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
        (Link { fd: a, expected_drops: BTreeMap::new(), sent: 0 }, b)
    }

    /// Write one frame (blocking), noting what the stack will make of it.
    fn send(&mut self, frame: &[u8]) {
        assert!(!frame.is_empty(), "a TAP never delivers an empty frame");
        let seen = &frame[..frame.len().min(READ_LEN)];
        if let Class::Drop(reason) = frame::classify(seen) {
            *self.expected_drops.entry(reason.name()).or_default() += 1;
        }
        // SAFETY: send from a valid slice on a descriptor we own.
        let n = unsafe { libc::send(self.fd.as_raw_fd(), frame.as_ptr().cast(), frame.len(), libc::MSG_NOSIGNAL) };
        assert_eq!(n, frame.len() as isize, "send: {}", std::io::Error::last_os_error());
        self.sent += 1;
    }

    /// One frame from the stack, waiting at most until `deadline`.
    fn recv(&self, deadline: Instant) -> Option<Vec<u8>> {
        let wait = deadline.saturating_duration_since(Instant::now());
        let mut pfd = libc::pollfd { fd: self.fd.as_raw_fd(), events: libc::POLLIN, revents: 0 };
        // SAFETY: poll on one valid pollfd.
        let r = unsafe { libc::poll(&mut pfd, 1, wait.as_millis() as libc::c_int) };
        if r <= 0 {
            return None;
        }
        let mut buf = vec![0u8; 65_536];
        // SAFETY: recv into a valid buffer on a descriptor we own.
        let n = unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT) };
        if n <= 0 {
            return None;
        }
        buf.truncate(n as usize);
        Some(buf)
    }

    /// Read frames until `want` accepts one, answering the stack's ARP
    /// requests on the way as a container's kernel would.
    fn expect<T>(&mut self, what: &str, timeout: Duration, mut want: impl FnMut(&[u8]) -> Option<T>) -> T {
        let deadline = Instant::now() + timeout;
        while let Some(f) = self.recv(deadline) {
            self.answer_arp(&f);
            if let Some(t) = want(&f) {
                return t;
            }
        }
        panic!("no {what} from the stack within {timeout:?}");
    }

    /// Read whatever is waiting, passing each frame to `each`.
    fn drain(&mut self, mut each: impl FnMut(&[u8])) {
        let now = Instant::now();
        while let Some(f) = self.recv(now) {
            self.answer_arp(&f);
            each(&f);
        }
    }

    fn answer_arp(&mut self, f: &[u8]) {
        let Ok(eth) = EthernetFrame::new_checked(f) else { return };
        if eth.ethertype() != EthernetProtocol::Arp {
            return;
        }
        let Ok(ArpRepr::EthernetIpv4 { operation, source_hardware_addr, source_protocol_addr, target_protocol_addr, .. }) =
            ArpPacket::new_checked(eth.payload()).and_then(|p| ArpRepr::parse(&p))
        else {
            return;
        };
        if operation == ArpOperation::Request && target_protocol_addr == ME {
            self.send(&arp(ArpOperation::Reply, source_hardware_addr, source_protocol_addr));
        }
    }

    /// Wait until the stack has handled everything sent so far: frames are
    /// taken in order, so the echo of a datagram sent now proves it.
    fn sync(&mut self, echo: u16) {
        for attempt in 0..10u8 {
            self.drain(|_| {});
            let probe = [b's', b'y', b'n', b'c', attempt];
            self.send(&udp(7, SocketAddrV4::new(GATEWAY, echo), &probe));
            let deadline = Instant::now() + Duration::from_millis(500);
            while let Some(f) = self.recv(deadline) {
                self.answer_arp(&f);
                if matches!(frame::classify(&f), Class::Udp { payload, .. } if payload == probe) {
                    return;
                }
            }
        }
        panic!("the stack stopped answering");
    }
}

// ---------------------------------------------------------------------------
// Frames from the container.

fn caps() -> ChecksumCapabilities {
    ChecksumCapabilities::default()
}

fn v4(a: Ipv4Addr) -> IpAddress {
    IpAddress::Ipv4(a)
}

fn eth(ethertype: EthernetProtocol, dst: EthernetAddress, payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0u8; 14 + payload.len()];
    EthernetRepr { src_addr: MAC, dst_addr: dst, ethertype }.emit(&mut EthernetFrame::new_unchecked(&mut f[..]));
    f[14..].copy_from_slice(payload);
    f
}

fn arp(operation: ArpOperation, target_mac: EthernetAddress, target_ip: Ipv4Addr) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation,
        source_hardware_addr: MAC,
        source_protocol_addr: ME,
        target_hardware_addr: target_mac,
        target_protocol_addr: target_ip,
    };
    let mut p = vec![0u8; repr.buffer_len()];
    repr.emit(&mut ArpPacket::new_unchecked(&mut p[..]));
    let dst = if operation == ArpOperation::Request { EthernetAddress::BROADCAST } else { target_mac };
    eth(EthernetProtocol::Arp, dst, &p)
}

fn ip(proto: IpProtocol, dst: Ipv4Addr, body: &[u8]) -> Vec<u8> {
    let mut p = vec![0u8; 20 + body.len()];
    let repr = Ipv4Repr { src_addr: ME, dst_addr: dst, next_header: proto, payload_len: body.len(), hop_limit: 64 };
    repr.emit(&mut Ipv4Packet::new_unchecked(&mut p[..]), &caps());
    p[20..].copy_from_slice(body);
    eth(EthernetProtocol::Ipv4, OUR_MAC, &p)
}

fn udp(sport: u16, dst: SocketAddrV4, payload: &[u8]) -> Vec<u8> {
    let mut b = vec![0u8; 8 + payload.len()];
    let repr = UdpRepr { src_port: sport, dst_port: dst.port() };
    repr.emit(
        &mut UdpPacket::new_unchecked(&mut b[..]),
        &v4(ME),
        &v4(*dst.ip()),
        payload.len(),
        |out| out.copy_from_slice(payload),
        &caps(),
    );
    ip(IpProtocol::Udp, *dst.ip(), &b)
}

fn tcp(sport: u16, dst: SocketAddrV4, control: TcpControl, seq: u32, ack: Option<u32>, payload: &[u8]) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: sport,
        dst_port: dst.port(),
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 65_535,
        window_scale: None,
        max_seg_size: (control == TcpControl::Syn).then_some(1460),
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut TcpPacket::new_unchecked(&mut b[..]), &v4(ME), &v4(*dst.ip()), &caps());
    ip(IpProtocol::Tcp, *dst.ip(), &b)
}

fn ping(dst: Ipv4Addr, ident: u16, seq: u16) -> Vec<u8> {
    let repr = Icmpv4Repr::EchoRequest { ident, seq_no: seq, data: b"hostile" };
    let mut b = vec![0u8; repr.buffer_len()];
    repr.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]), &caps());
    ip(IpProtocol::Icmp, dst, &b)
}

/// Rewrite the IPv4 header of `f` as a fragment.
fn fragment(mut f: Vec<u8>, ident: u16, offset: u16, more: bool) -> Vec<u8> {
    let mut p = Ipv4Packet::new_unchecked(&mut f[14..]);
    p.set_ident(ident);
    p.set_dont_frag(false);
    p.set_more_frags(more);
    p.set_frag_offset(offset);
    p.fill_checksum();
    f
}

/// Deterministic noise (xorshift64).
struct Noise(u64);

impl Noise {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
    fn bytes(&mut self, n: usize) -> Vec<u8> {
        (0..n).map(|_| self.next() as u8).collect()
    }
}

// ---------------------------------------------------------------------------
// Frames from the stack.

struct Segment {
    src: SocketAddrV4,
    dst_port: u16,
    syn: bool,
    ack: bool,
    rst: bool,
    fin: bool,
    seq: u32,
    ack_number: u32,
    payload: Vec<u8>,
}

/// A TCP segment to the container, with every checksum verified.
fn segment(f: &[u8]) -> Option<Segment> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    if eth.ethertype() != EthernetProtocol::Ipv4 {
        return None;
    }
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Tcp {
        return None;
    }
    assert!(ip.verify_checksum(), "IPv4 checksum of a segment from the stack");
    assert_eq!((eth.dst_addr(), eth.src_addr(), ip.dst_addr()), (MAC, OUR_MAC, ME), "addresses of a segment");
    let t = TcpPacket::new_checked(ip.payload()).ok()?;
    assert!(t.verify_checksum(&v4(ip.src_addr()), &v4(ip.dst_addr())), "TCP checksum of a segment from the stack");
    Some(Segment {
        src: SocketAddrV4::new(ip.src_addr(), t.src_port()),
        dst_port: t.dst_port(),
        syn: t.syn(),
        ack: t.ack(),
        rst: t.rst(),
        fin: t.fin(),
        seq: t.seq_number().0 as u32,
        ack_number: t.ack_number().0 as u32,
        payload: t.payload().to_vec(),
    })
}

/// An ICMP destination unreachable to the container: its code and the
/// quoted datagram's source, destination and destination port. (Parsed by
/// hand: smoltcp's `Icmpv4Repr::parse` wants the whole quoted datagram, and
/// RFC 792 quotes only its header and first 8 bytes.)
fn unreachable(f: &[u8]) -> Option<(u8, Ipv4Addr, Ipv4Addr, u16)> {
    let eth = EthernetFrame::new_checked(f).ok()?;
    let ip = Ipv4Packet::new_checked(eth.payload()).ok()?;
    if ip.next_header() != IpProtocol::Icmp {
        return None;
    }
    let icmp = Icmpv4Packet::new_checked(ip.payload()).ok()?;
    if icmp.msg_type() != Icmpv4Message::DstUnreachable {
        return None;
    }
    assert!(ip.verify_checksum() && icmp.verify_checksum(), "checksums of an ICMP error from the stack");
    assert_eq!((eth.dst_addr(), ip.dst_addr()), (MAC, ME), "addresses of an ICMP error");
    let quoted = icmp.data();
    assert_eq!(quoted.len(), 20 + 8, "an ICMP error quotes the IPv4 header and 8 bytes");
    let header = Ipv4Packet::new_unchecked(quoted);
    let dport = u16::from_be_bytes([quoted[22], quoted[23]]);
    Some((icmp.msg_code(), header.src_addr(), header.dst_addr(), dport))
}

/// What the SYN flood brought back: the SYN-ACK of each flood flow (our
/// port → the acknowledgement number) and the RSTs of the refused.
struct Flood {
    to: SocketAddrV4,
    syn_acks: HashMap<u16, u32>,
    rsts: u32,
}

impl Flood {
    fn note(&mut self, f: &[u8]) {
        match segment(f) {
            Some(s) if s.src == self.to && s.syn && s.ack => {
                self.syn_acks.insert(s.dst_port, s.ack_number);
            }
            Some(s) if s.src == self.to && s.rst => self.rsts += 1,
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------
// The host side.

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").expect("read /proc/self/fd").count()
}

fn udp_echo_server() -> u16 {
    let s = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = s.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let mut buf = [0u8; 65_536];
        while let Ok((n, from)) = s.recv_from(&mut buf) {
            let _ = s.send_to(&buf[..n], from);
        }
    });
    port
}

fn tcp_echo_server() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = l.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = c.read(&mut buf) {
                    if c.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    port
}

// ---------------------------------------------------------------------------

#[test]
fn hostile_container() {
    let started = Instant::now();
    let udp_echo = udp_echo_server();
    let tcp_echo = tcp_echo_server();
    // A host port that held a listener and no longer does.
    let closed = TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    // The SYN flood's target: it never accepts (its backlog takes the
    // connections), so every flood flow gets as far as SYN-RECEIVED.
    let flooded = TcpListener::bind("127.0.0.1:0").unwrap();
    let flood_port = flooded.local_addr().unwrap().port();
    let fds_before = open_fds();

    let (mut link, tap) = Link::pair();
    let plan = Plan { network: VirtualNetwork::default(), ipv6: false, allow_host_loopback: true, dns_upstream: None };
    let options = Options { plan, mtu: MTU, limits: LIMITS, pcap: None, routed: Vec::new(), peer_mac: None };
    let handle = burrow_netstack::start(tap, None, options, Vec::new()).expect("start the stack");

    // The stack learns our address from our ARP request and answers it.
    link.send(&arp(ArpOperation::Request, EthernetAddress([0; 6]), GATEWAY));
    link.expect("ARP reply for the gateway", Duration::from_secs(5), |f| {
        let eth = EthernetFrame::new_checked(f).ok()?;
        let p = ArpPacket::new_checked(eth.payload()).ok()?;
        match ArpRepr::parse(&p).ok()? {
            ArpRepr::EthernetIpv4 { operation: ArpOperation::Reply, source_hardware_addr, source_protocol_addr, .. } => {
                assert_eq!((source_hardware_addr, source_protocol_addr), (OUR_MAC, GATEWAY));
                Some(())
            }
            _ => None,
        }
    });
    link.sync(udp_echo);
    let fds_idle = open_fds();

    garbage(&mut link);
    link.sync(udp_echo);
    // Mutated ARP may have taught the stack another address for us.
    link.send(&arp(ArpOperation::Request, EthernetAddress([0; 6]), GATEWAY));
    link.sync(udp_echo);
    assert!(open_fds() <= fds_idle + LIMITS.udp_flows + SLACK, "descriptors after garbage: {}", open_fds());

    // A million UDP destinations, scaled down: every datagram opens a flow
    // to another host port, the table evicts, descriptors stay bounded.
    for i in 0..UDP_FLOOD {
        link.send(&udp(40_000, SocketAddrV4::new(GATEWAY, 20_000 + i), b"x"));
        if i % 64 == 0 {
            link.drain(|_| {});
        }
    }
    link.sync(udp_echo);
    let fds_udp = open_fds();
    assert!(fds_udp <= fds_idle + LIMITS.udp_flows + SLACK, "descriptors after the UDP flood: {fds_idle} → {fds_udp}");

    // A SYN flood to a host port that takes every connection: the first
    // tcp_flows SYNs get flows, the rest are refused with RST.
    let to_flood = SocketAddrV4::new(GATEWAY, flood_port);
    let mut seen = Flood { to: to_flood, syn_acks: HashMap::new(), rsts: 0 };
    for i in 0..SYN_FLOOD {
        link.send(&tcp(10_000 + i, to_flood, TcpControl::Syn, 1_000, None, &[]));
        if i % 64 == 0 {
            link.drain(|f| seen.note(f));
        }
    }
    link.sync(udp_echo);
    let deadline = Instant::now() + Duration::from_secs(2);
    while seen.syn_acks.len() < LIMITS.tcp_flows {
        match link.recv(deadline) {
            Some(f) => seen.note(&f),
            None => break,
        }
    }
    link.drain(|f| seen.note(f));
    let fds_syn = open_fds();
    assert!(fds_syn <= fds_idle + LIMITS.udp_flows + LIMITS.tcp_flows + SLACK, "descriptors after the SYN flood: {fds_idle} → {fds_syn}");
    assert_eq!(seen.syn_acks.len(), LIMITS.tcp_flows, "flood flows that reached SYN-RECEIVED");
    assert!(seen.rsts > 0, "SYNs over the limit are answered with RST");

    // While the half-open flows hold the table, a new connection is
    // refused at once, not left hanging.
    let to_echo = SocketAddrV4::new(GATEWAY, tcp_echo);
    link.send(&tcp(50_000, to_echo, TcpControl::Syn, 7, None, &[]));
    link.expect("RST for a SYN over the limit", Duration::from_secs(5), |f| {
        segment(f).filter(|s| s.src == to_echo && s.dst_port == 50_000 && s.rst)
    });

    // The container's kernel answers the SYN-ACKs of connections it never
    // made with RST; that frees the table.
    for (&port, &ack) in &seen.syn_acks {
        link.send(&tcp(port, to_flood, TcpControl::Rst, ack, None, &[]));
    }
    link.sync(udp_echo);
    let fds = settle(&mut link, udp_echo, fds_udp);
    assert!(fds <= fds_udp, "descriptors after resetting the flood: {fds_udp} → {fds}: flows left over");

    // SYNs whose checksum smoltcp rejects, after burrow already connected
    // on the host for them: each flow must end, not listen forever.
    for i in 0..BAD_SYNS {
        let mut f = tcp(30_000 + i, to_flood, TcpControl::Syn, 1_000, None, &[]);
        let csum = 14 + 20 + 16;
        f[csum] ^= 0x5a;
        link.send(&f);
    }
    let fds = settle(&mut link, udp_echo, fds_udp);
    assert!(fds <= fds_udp, "descriptors after SYNs with bad checksums: {fds_udp} → {fds}: flows left over");

    // After all that, the legitimate paths.
    legit_udp(&mut link, udp_echo);
    legit_tcp(&mut link, to_echo);
    refusals(&mut link, closed);
    link.sync(udp_echo);

    let stats = handle.stop();
    eprintln!("hostile: {stats:?} in {:?}", started.elapsed());
    assert_eq!(stats.frames_in, link.sent, "every frame was read");
    assert_eq!(stats.dropped, link.expected_drops, "each malformed frame dropped once, under its reason");
    let dropped: u64 = stats.dropped.values().sum();
    assert!(dropped >= 3_000, "dropped {dropped}");
    for reason in ["malformed", "bad checksum", "fragment", "unknown protocol"] {
        assert!(stats.dropped.get(reason).is_some_and(|&n| n > 0), "no frame dropped as {reason}");
    }
    let over = u64::from(UDP_FLOOD) - LIMITS.udp_flows as u64 + u64::from(SYN_FLOOD) - LIMITS.tcp_flows as u64;
    assert!(stats.over_limit >= over, "over_limit {} < {over}", stats.over_limit);
    assert!(stats.udp_opened >= u64::from(UDP_FLOOD), "udp_opened {}", stats.udp_opened);
    assert!(stats.refused > 0, "refused {}", stats.refused);

    // Everything the stack opened is closed again.
    drop(flooded);
    let deadline = Instant::now() + Duration::from_secs(3);
    while open_fds() > fds_before + 2 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(open_fds() <= fds_before + 2, "descriptors leaked: {fds_before} → {}", open_fds());
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

/// Let the stack finish what it was given (host connects complete, flows
/// end) until the process holds at most `target` descriptors or a second
/// has passed; return the count.
fn settle(link: &mut Link, echo: u16, target: usize) -> usize {
    // Returns as soon as the flows are gone; the deadline only bounds a
    // real leak, and is generous so a loaded machine (CI on two cores
    // beside compilers) does not read slowness as a leak.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        link.sync(echo);
        let fds = open_fds();
        if fds <= target || Instant::now() > deadline {
            return fds;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Thousands of frames the stack must drop (or, for the few mutations that
/// stay well formed, refuse): nothing may panic or hang.
fn garbage(link: &mut Link) {
    let mut noise = Noise(0x9e37_79b9_7f4a_7c15);
    let nobody = |port| SocketAddrV4::new(NOBODY, port);

    // Hand-made cases.
    for n in 1..14 {
        let f = noise.bytes(n);
        link.send(&f); // runts: shorter than an Ethernet header
    }
    link.send(&eth(EthernetProtocol::Ipv4, OUR_MAC, &[]));
    link.send(&eth(EthernetProtocol::Ipv4, OUR_MAC, &[0x45, 0, 0]));
    for ethertype in [0x0000u16, 0x05dc, 0x8100, 0x88cc, 0x88e5, 0x8906, 0xffff] {
        let payload = noise.bytes(46);
        link.send(&eth(EthernetProtocol::from(ethertype), OUR_MAC, &payload));
    }
    let good = udp(5_000, nobody(53), b"query");
    let mut f = good.clone();
    f[14 + 10] ^= 0xff; // IPv4 header checksum
    link.send(&f);
    let mut f = good.clone();
    f[14] = 0x65; // version 6 in an IPv4 ethertype
    link.send(&f);
    let mut f = good.clone();
    f[14] = 0x44; // header shorter than 20 bytes
    link.send(&f);
    let mut f = good.clone();
    f[14 + 2..14 + 4].copy_from_slice(&4000u16.to_be_bytes()); // total length past the frame
    Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
    link.send(&f);
    let mut f = good.clone();
    f[14 + 20 + 4..14 + 20 + 6].copy_from_slice(&900u16.to_be_bytes()); // UDP length past the packet
    link.send(&f);
    let mut f = good.clone();
    let last = f.len() - 1;
    f[last] ^= 0x01; // UDP checksum
    link.send(&f);
    let mut f = ping(NOBODY, 1, 1);
    let last = f.len() - 1;
    f[last] ^= 0x01; // ICMP checksum
    link.send(&f);
    let mut f = tcp(5_000, nobody(80), TcpControl::Syn, 1, None, &[]);
    f[14 + 20 + 12] = 0xf0; // data offset 60 bytes in a 24-byte header
    link.send(&f);
    for proto in [2u8, 4, 41, 47, 50, 132, 253, 255] {
        let body = noise.bytes(32);
        link.send(&ip(IpProtocol::from(proto), NOBODY, &body));
    }

    // Fragments: first, middle and last, overlapping, tiny, of every
    // protocol; none is reassembled.
    let big = udp(5_001, nobody(53), &[0xab; 64]);
    for ident in 0..50u16 {
        link.send(&fragment(big.clone(), ident, 0, true));
        link.send(&fragment(big.clone(), ident, 8, true));
        link.send(&fragment(big.clone(), ident, 16, false));
        // Overlapping: offsets 0 and 8 again, and a one-unit overlap that
        // would rewrite the UDP header.
        link.send(&fragment(big.clone(), ident, 0, true));
        link.send(&fragment(big.clone(), ident, 1, true));
        link.send(&fragment(tcp(5_002, nobody(80), TcpControl::Syn, 1, None, &[]), ident, 0, true));
        link.send(&fragment(ping(NOBODY, ident, 0), ident, 0, true));
        link.send(&fragment(ping(NOBODY, ident, 0), ident, 8190, false));
    }

    // Oversized: longer than a read takes; the stack sees them cut short.
    for len in [READ_LEN + 1, 9_000, 65_000] {
        let payload = noise.bytes(len - 42);
        link.send(&udp(5_003, nobody(53), &payload));
    }
    let junk = noise.bytes(70_000);
    link.send(&junk);

    // Mutations of well-formed frames, all addressed to where nothing is
    // carried (10.0.2.77), so a mutation that stays valid is refused.
    let bases = [
        udp(5_004, nobody(53), &[7; 64]),
        tcp(5_005, nobody(80), TcpControl::Syn, 1, None, &[]),
        tcp(5_006, nobody(80), TcpControl::Psh, 1, Some(1), b"GET / HTTP/1.0\r\n\r\n"),
        ping(NOBODY, 9, 9),
        fragment(udp(5_007, nobody(53), &[1; 40]), 77, 0, true),
        arp(ArpOperation::Request, EthernetAddress([0; 6]), GATEWAY),
    ];
    for i in 0..6_000 {
        let mut f = bases[i % bases.len()].clone();
        for _ in 0..noise.below(6) {
            let at = noise.below(f.len());
            f[at] = noise.next() as u8;
        }
        let keep = 1 + noise.below(f.len());
        f.truncate(keep);
        link.send(&f);
        if i % 64 == 0 {
            link.drain(|_| {});
        }
    }
}

/// A datagram to the host's UDP echo server comes back as a correct frame.
fn legit_udp(link: &mut Link, echo: u16) {
    let to = SocketAddrV4::new(GATEWAY, echo);
    link.send(&udp(41_000, to, b"still there?"));
    link.expect("the UDP echo", Duration::from_secs(5), |f| {
        let eth = EthernetFrame::new_checked(f).ok()?;
        match frame::classify(f) {
            Class::Udp { src, dst, payload } if dst.port() == 41_000 => {
                assert_eq!((eth.src_addr(), eth.dst_addr()), (OUR_MAC, MAC));
                assert_eq!(src, to.into());
                assert_eq!(dst, SocketAddrV4::new(ME, 41_000).into());
                assert_eq!(payload, b"still there?");
                Some(())
            }
            _ => None,
        }
    });
}

/// A full TCP conversation with the host's echo server through smoltcp.
fn legit_tcp(link: &mut Link, to: SocketAddrV4) {
    const PORT: u16 = 51_000;
    const ISN: u32 = 0x1000_0000;
    let ours = |s: &Segment| s.src == to && s.dst_port == PORT;
    link.send(&tcp(PORT, to, TcpControl::Syn, ISN, None, &[]));
    let syn_ack = link.expect("SYN-ACK", Duration::from_secs(5), |f| {
        let s = segment(f).filter(ours)?;
        assert!(s.syn && s.ack && !s.rst, "answer to a SYN within the limit must be SYN-ACK");
        Some(s)
    });
    assert_eq!(syn_ack.ack_number, ISN + 1);
    let (mut snd, mut rcv) = (ISN + 1, syn_ack.seq.wrapping_add(1));
    link.send(&tcp(PORT, to, TcpControl::None, snd, Some(rcv), &[]));

    let message = b"hello from a hostile container";
    link.send(&tcp(PORT, to, TcpControl::Psh, snd, Some(rcv), message));
    snd += message.len() as u32;
    let mut echoed = Vec::new();
    while echoed.len() < message.len() {
        let s = link.expect("echoed bytes", Duration::from_secs(5), |f| segment(f).filter(|s| ours(s) && !s.payload.is_empty()));
        assert!(!s.rst, "flow reset");
        if s.seq == rcv {
            rcv = rcv.wrapping_add(s.payload.len() as u32);
            echoed.extend_from_slice(&s.payload);
            link.send(&tcp(PORT, to, TcpControl::None, snd, Some(rcv), &[]));
        }
    }
    assert_eq!(echoed, message);

    // Close from our side; the host side closes back.
    link.send(&tcp(PORT, to, TcpControl::Fin, snd, Some(rcv), &[]));
    snd += 1;
    let fin = link.expect("FIN", Duration::from_secs(5), |f| segment(f).filter(|s| ours(s) && s.fin));
    assert_eq!(fin.ack_number, snd, "our FIN acknowledged");
    link.send(&tcp(PORT, to, TcpControl::None, snd, Some(fin.seq.wrapping_add(1)), &[]));
}

/// A closed host port answers RST; a destination burrow refuses answers
/// ICMP unreachable.
fn refusals(link: &mut Link, closed: u16) {
    let to = SocketAddrV4::new(GATEWAY, closed);
    link.send(&tcp(52_000, to, TcpControl::Syn, 500, None, &[]));
    let rst = link.expect("RST from a closed port", Duration::from_secs(5), |f| segment(f).filter(|s| s.src == to && s.dst_port == 52_000));
    assert!(rst.rst && !rst.syn, "a closed port answers RST");
    assert!(rst.ack && rst.ack_number == 501, "the RST acknowledges the SYN");

    link.send(&udp(53_000, SocketAddrV4::new(NOBODY, 9), b"anyone?"));
    let (code, from, to, port) =
        link.expect("ICMP unreachable", Duration::from_secs(5), |f| unreachable(f).filter(|u| u.1 == ME && u.3 == 9));
    assert_eq!(code, 3, "port unreachable");
    assert_eq!((from, to, port), (ME, NOBODY, 9), "the quoted datagram");
}
