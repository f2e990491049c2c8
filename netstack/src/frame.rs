//! Frames from the container, read before the stack sees them, and the few
//! frames burrow writes without the stack.
//!
//! `classify` is a pure function of the bytes: it says whether a frame is a
//! TCP segment (and whether it opens a connection), a UDP datagram, an ICMP
//! echo request, something for smoltcp itself (ARP, neighbour discovery,
//! anything to the stack's own addresses) or malformed. Checksums of UDP
//! and ICMP are verified here because those never reach smoltcp; TCP is
//! verified by smoltcp. Fragments are not reassembled: a container sends
//! at most the TAP MTU (65520) at once, so a fragmented datagram is counted
//! and dropped. Nothing here can panic on any input (`tests` and the fuzz
//! target feed it garbage).
//!
//! The builders write UDP datagrams, echo replies and "unreachable" errors
//! towards the container, each into a caller's buffer, with checksums.

use std::net::{IpAddr, SocketAddr};

use smoltcp::phy::ChecksumCapabilities;
use smoltcp::wire::{
    EthernetAddress, EthernetFrame, EthernetProtocol, EthernetRepr, Icmpv4DstUnreachable, Icmpv4Packet, Icmpv4Repr, Icmpv6DstUnreachable,
    Icmpv6Packet, Icmpv6Repr, IpAddress, IpProtocol, Ipv4Packet, Ipv4Repr, Ipv6Packet, Ipv6Repr, TcpPacket, UdpPacket, UdpRepr,
};

/// What a frame from the container is.
#[derive(Debug, PartialEq, Eq)]
pub enum Class<'a> {
    /// A TCP segment; `opens` for a SYN without ACK.
    Tcp {
        src: SocketAddr,
        dst: SocketAddr,
        opens: bool,
        reset: bool,
    },
    Udp {
        src: SocketAddr,
        dst: SocketAddr,
        payload: &'a [u8],
    },
    Echo {
        src: IpAddr,
        dst: IpAddr,
        ident: u16,
        seq: u16,
        data: &'a [u8],
    },
    /// For smoltcp: ARP, neighbour discovery, ICMP other than echo, ...
    Stack,
    /// Dropped and counted under this reason.
    Drop(DropReason),
}

/// Why a frame was dropped.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DropReason {
    Malformed,
    BadChecksum,
    Fragment,
    UnknownProtocol,
}

impl DropReason {
    pub fn name(self) -> &'static str {
        match self {
            DropReason::Malformed => "malformed",
            DropReason::BadChecksum => "bad checksum",
            DropReason::Fragment => "fragment",
            DropReason::UnknownProtocol => "unknown protocol",
        }
    }
}

/// The source hardware address of an Ethernet frame.
pub fn source_mac(frame: &[u8]) -> Option<EthernetAddress> {
    EthernetFrame::new_checked(frame).ok().map(|f| f.src_addr())
}

/// Classify one Ethernet frame from the container.
pub fn classify(frame: &[u8]) -> Class<'_> {
    let Ok(eth) = EthernetFrame::new_checked(frame) else {
        return Class::Drop(DropReason::Malformed);
    };
    let payload = &frame[EthernetFrame::<&[u8]>::header_len()..];
    match eth.ethertype() {
        EthernetProtocol::Ipv4 => ipv4(payload),
        EthernetProtocol::Ipv6 => ipv6(payload),
        EthernetProtocol::Arp => Class::Stack,
        _ => Class::Drop(DropReason::UnknownProtocol),
    }
}

fn ipv4(packet: &[u8]) -> Class<'_> {
    let Ok(ip) = Ipv4Packet::new_checked(packet) else {
        return Class::Drop(DropReason::Malformed);
    };
    if !ip.verify_checksum() {
        return Class::Drop(DropReason::BadChecksum);
    }
    // Before `Ipv4Repr::parse`: smoltcp is built without reassembly, so
    // it refuses every fragment, which would count them as malformed.
    if ip.more_frags() || ip.frag_offset() != 0 {
        return Class::Drop(DropReason::Fragment);
    }
    let Ok(repr) = Ipv4Repr::parse(&ip, &ChecksumCapabilities::default()) else {
        return Class::Drop(DropReason::Malformed);
    };
    let header_len = usize::from(ip.header_len());
    let body = &packet[header_len..header_len + repr.payload_len];
    let (src, dst) = (IpAddr::V4(repr.src_addr), IpAddr::V4(repr.dst_addr));
    match repr.next_header {
        IpProtocol::Tcp => tcp(src, dst, body),
        IpProtocol::Udp => udp(src, dst, body),
        IpProtocol::Icmp => {
            let Ok(p) = Icmpv4Packet::new_checked(body) else {
                return Class::Drop(DropReason::Malformed);
            };
            if !p.verify_checksum() {
                return Class::Drop(DropReason::BadChecksum);
            }
            match Icmpv4Repr::parse(&p, &ChecksumCapabilities::default()) {
                Ok(Icmpv4Repr::EchoRequest { ident, seq_no, data }) => Class::Echo { src, dst, ident, seq: seq_no, data },
                Ok(_) => Class::Stack,
                Err(_) => Class::Drop(DropReason::Malformed),
            }
        }
        _ => Class::Drop(DropReason::UnknownProtocol),
    }
}

fn ipv6(packet: &[u8]) -> Class<'_> {
    let Ok(ip) = Ipv6Packet::new_checked(packet) else {
        return Class::Drop(DropReason::Malformed);
    };
    let Ok(repr) = Ipv6Repr::parse(&ip) else {
        return Class::Drop(DropReason::Malformed);
    };
    let body = ip.payload();
    let (src, dst) = (IpAddr::V6(repr.src_addr), IpAddr::V6(repr.dst_addr));
    match repr.next_header {
        IpProtocol::Tcp => tcp(src, dst, body),
        IpProtocol::Udp => udp(src, dst, body),
        IpProtocol::Icmpv6 => {
            let Ok(p) = Icmpv6Packet::new_checked(body) else {
                return Class::Drop(DropReason::Malformed);
            };
            match Icmpv6Repr::parse(&repr.src_addr, &repr.dst_addr, &p, &ChecksumCapabilities::default()) {
                Ok(Icmpv6Repr::EchoRequest { ident, seq_no, data }) => Class::Echo { src, dst, ident, seq: seq_no, data },
                Ok(_) => Class::Stack,
                Err(_) => Class::Drop(DropReason::BadChecksum),
            }
        }
        // Hop-by-hop options carry MLD reports; smoltcp knows them.
        IpProtocol::HopByHop => Class::Stack,
        _ => Class::Drop(DropReason::UnknownProtocol),
    }
}

fn tcp(src: IpAddr, dst: IpAddr, body: &[u8]) -> Class<'_> {
    let Ok(p) = TcpPacket::new_checked(body) else {
        return Class::Drop(DropReason::Malformed);
    };
    Class::Tcp {
        src: SocketAddr::new(src, p.src_port()),
        dst: SocketAddr::new(dst, p.dst_port()),
        opens: p.syn() && !p.ack(),
        reset: p.rst(),
    }
}

fn udp(src: IpAddr, dst: IpAddr, body: &[u8]) -> Class<'_> {
    let Ok(p) = UdpPacket::new_checked(body) else {
        return Class::Drop(DropReason::Malformed);
    };
    let (s, d) = (IpAddress::from(src), IpAddress::from(dst));
    match UdpRepr::parse(&p, &s, &d, &ChecksumCapabilities::default()) {
        Ok(r) => {
            let len = usize::from(p.len()).min(body.len());
            Class::Udp { src: SocketAddr::new(src, r.src_port), dst: SocketAddr::new(dst, r.dst_port), payload: &body[8..len] }
        }
        Err(_) if p.dst_port() == 0 => Class::Drop(DropReason::Malformed),
        Err(_) => Class::Drop(DropReason::BadChecksum),
    }
}

/// The two hardware addresses of the virtual link.
#[derive(Debug, Clone, Copy)]
pub struct Link {
    pub ours: EthernetAddress,
    pub container: EthernetAddress,
}

/// Why a flow cannot be carried, as the container is told.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Unreachable {
    /// Nothing listens on the port (UDP).
    Port,
    /// The destination cannot be reached.
    Host,
    /// burrow's policy forbids it (the host's loopback without permission).
    Prohibited,
}

/// Build an IP packet into `buf` (after the Ethernet header) and return the
/// frame's length. `body_len` bytes of payload are written by `body`.
fn build(
    link: Link,
    src: IpAddr,
    dst: IpAddr,
    proto: IpProtocol,
    body_len: usize,
    buf: &mut Vec<u8>,
    body: impl FnOnce(&mut [u8]),
) -> Option<usize> {
    let caps = ChecksumCapabilities::default();
    let eth_len = EthernetFrame::<&[u8]>::header_len();
    let (ethertype, ip_len) = match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => (EthernetProtocol::Ipv4, 20),
        (IpAddr::V6(_), IpAddr::V6(_)) => (EthernetProtocol::Ipv6, 40),
        _ => return None,
    };
    let total = eth_len + ip_len + body_len;
    buf.clear();
    buf.resize(total, 0);
    let mut frame = EthernetFrame::new_unchecked(&mut buf[..]);
    EthernetRepr { src_addr: link.ours, dst_addr: link.container, ethertype }.emit(&mut frame);
    let ip_buf = &mut buf[eth_len..];
    match (src, dst) {
        (IpAddr::V4(s), IpAddr::V4(d)) => {
            let repr = Ipv4Repr { src_addr: s, dst_addr: d, next_header: proto, payload_len: body_len, hop_limit: 64 };
            let mut p = Ipv4Packet::new_unchecked(&mut ip_buf[..]);
            repr.emit(&mut p, &caps);
            body(&mut ip_buf[ip_len..]);
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let repr = Ipv6Repr { src_addr: s, dst_addr: d, next_header: proto, payload_len: body_len, hop_limit: 64 };
            let mut p = Ipv6Packet::new_unchecked(&mut ip_buf[..]);
            repr.emit(&mut p);
            body(&mut ip_buf[ip_len..]);
        }
        _ => return None,
    }
    Some(total)
}

/// A UDP datagram `src` → `dst` (the container) into `buf`; `None` when the
/// families differ or the datagram exceeds what IP carries.
pub fn udp_frame(link: Link, src: SocketAddr, dst: SocketAddr, payload: &[u8], buf: &mut Vec<u8>) -> Option<usize> {
    if payload.len() > usize::from(u16::MAX) - 8 - 40 {
        return None;
    }
    let (s, d) = (IpAddress::from(src.ip()), IpAddress::from(dst.ip()));
    build(link, src.ip(), dst.ip(), IpProtocol::Udp, 8 + payload.len(), buf, |b| {
        let repr = UdpRepr { src_port: src.port(), dst_port: dst.port() };
        let mut p = UdpPacket::new_unchecked(b);
        repr.emit(&mut p, &s, &d, payload.len(), |out| out.copy_from_slice(payload), &ChecksumCapabilities::default());
    })
}

/// An echo reply from `src` to the container at `dst`.
pub fn echo_reply_frame(link: Link, src: IpAddr, dst: IpAddr, ident: u16, seq: u16, data: &[u8], buf: &mut Vec<u8>) -> Option<usize> {
    let caps = ChecksumCapabilities::default();
    match (src, dst) {
        (IpAddr::V4(_), IpAddr::V4(_)) => {
            let repr = Icmpv4Repr::EchoReply { ident, seq_no: seq, data };
            build(link, src, dst, IpProtocol::Icmp, repr.buffer_len(), buf, |b| repr.emit(&mut Icmpv4Packet::new_unchecked(b), &caps))
        }
        (IpAddr::V6(s), IpAddr::V6(d)) => {
            let repr = Icmpv6Repr::EchoReply { ident, seq_no: seq, data };
            build(link, src, dst, IpProtocol::Icmpv6, repr.buffer_len(), buf, |b| {
                repr.emit(&s, &d, &mut Icmpv6Packet::new_unchecked(b), &caps)
            })
        }
        _ => None,
    }
}

/// An ICMP "destination unreachable" from `router` about `original`, the
/// frame the container sent (its IP header and first 8 bytes are quoted).
pub fn unreachable_frame(link: Link, router: IpAddr, original: &[u8], why: Unreachable, buf: &mut Vec<u8>) -> Option<usize> {
    let caps = ChecksumCapabilities::default();
    let ip = original.get(EthernetFrame::<&[u8]>::header_len()..)?;
    match router {
        IpAddr::V4(_) => {
            let p = Ipv4Packet::new_checked(ip).ok()?;
            let header = Ipv4Repr::parse(&p, &caps).ok()?;
            let body = &ip[usize::from(p.header_len())..];
            let data = &body[..body.len().min(8)];
            let reason = match why {
                Unreachable::Port => Icmpv4DstUnreachable::PortUnreachable,
                Unreachable::Host => Icmpv4DstUnreachable::HostUnreachable,
                Unreachable::Prohibited => Icmpv4DstUnreachable::HostProhibited,
            };
            let repr = Icmpv4Repr::DstUnreachable { reason, header, data };
            build(link, router, IpAddr::V4(header.src_addr), IpProtocol::Icmp, repr.buffer_len(), buf, |b| {
                repr.emit(&mut Icmpv4Packet::new_unchecked(b), &caps)
            })
        }
        IpAddr::V6(r) => {
            let p = Ipv6Packet::new_checked(ip).ok()?;
            let header = Ipv6Repr::parse(&p).ok()?;
            let body = p.payload();
            let data = &body[..body.len().min(8)];
            let reason = match why {
                Unreachable::Port => Icmpv6DstUnreachable::PortUnreachable,
                Unreachable::Host => Icmpv6DstUnreachable::AddrUnreachable,
                Unreachable::Prohibited => Icmpv6DstUnreachable::AdminProhibit,
            };
            let repr = Icmpv6Repr::DstUnreachable { reason, header, data };
            let dst = header.src_addr;
            build(link, router, IpAddr::V6(dst), IpProtocol::Icmpv6, repr.buffer_len(), buf, |b| {
                repr.emit(&r, &dst, &mut Icmpv6Packet::new_unchecked(b), &caps)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const LINK: Link = Link { ours: EthernetAddress([2, 0, 0, 0, 0, 2]), container: EthernetAddress([2, 0, 0, 0, 0, 100]) };

    fn v4(a: [u8; 4], port: u16) -> SocketAddr {
        SocketAddr::new(IpAddr::V4(Ipv4Addr::from(a)), port)
    }

    #[test]
    fn udp_round_trip() {
        let mut buf = Vec::new();
        let (src, dst) = (v4([10, 0, 2, 3], 53), v4([10, 0, 2, 100], 40000));
        let n = udp_frame(LINK, src, dst, b"hello", &mut buf).unwrap();
        assert_eq!(classify(&buf[..n]), Class::Udp { src, dst, payload: b"hello" });
    }

    #[test]
    fn udp_v6_round_trip() {
        let mut buf = Vec::new();
        let a = SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 3)), 53);
        let b = SocketAddr::new(IpAddr::V6(Ipv6Addr::new(0xfd00, 0, 0, 0, 0, 0, 0, 0x100)), 999);
        let n = udp_frame(LINK, a, b, b"x", &mut buf).unwrap();
        assert_eq!(classify(&buf[..n]), Class::Udp { src: a, dst: b, payload: b"x" });
    }

    #[test]
    fn corrupted_udp_checksum_is_dropped() {
        let mut buf = Vec::new();
        let n = udp_frame(LINK, v4([1, 1, 1, 1], 1), v4([10, 0, 2, 100], 2), b"payload", &mut buf).unwrap();
        buf[n - 1] ^= 0xff;
        assert_eq!(classify(&buf[..n]), Class::Drop(DropReason::BadChecksum));
    }

    #[test]
    fn echo_reply_parses_as_stack_traffic() {
        let mut buf = Vec::new();
        let n = echo_reply_frame(LINK, [1, 1, 1, 1].into(), [10, 0, 2, 100].into(), 7, 9, b"ping", &mut buf).unwrap();
        // A reply is not a request: the stack would see it.
        assert_eq!(classify(&buf[..n]), Class::Stack);
    }

    #[test]
    fn unreachable_quotes_the_original() {
        let mut orig = Vec::new();
        let n = udp_frame(LINK, v4([10, 0, 2, 100], 5000), v4([10, 0, 2, 2], 9), b"q", &mut orig).unwrap();
        let mut buf = Vec::new();
        let m = unreachable_frame(LINK, [10, 0, 2, 2].into(), &orig[..n], Unreachable::Port, &mut buf).unwrap();
        let ip = Ipv4Packet::new_checked(&buf[14..m]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(10, 0, 2, 100));
        let icmp = Icmpv4Packet::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        // Type 3 (unreachable), code 3 (port), then the quoted IP header
        // and the first 8 bytes of the UDP datagram.
        assert_eq!((u8::from(icmp.msg_type()), icmp.msg_code()), (3, 3));
        assert_eq!(&icmp.data()[12..20], &orig[14 + 12..14 + 20]);
        assert_eq!(icmp.data().len(), 20 + 8);
    }

    #[test]
    fn fragments_are_counted_as_fragments() {
        let mut buf = Vec::new();
        let n = udp_frame(LINK, v4([10, 0, 2, 100], 5), v4([8, 8, 8, 8], 53), &[7; 64], &mut buf).unwrap();
        for (more, offset) in [(true, 0), (true, 8), (false, 16)] {
            let mut f = buf[..n].to_vec();
            let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
            ip.set_dont_frag(false);
            ip.set_more_frags(more);
            ip.set_frag_offset(offset);
            ip.fill_checksum();
            assert_eq!(classify(&f), Class::Drop(DropReason::Fragment));
        }
    }

    #[test]
    fn garbage_never_panics() {
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut next = || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let mut base = Vec::new();
        let n = udp_frame(LINK, v4([10, 0, 2, 100], 5), v4([8, 8, 8, 8], 53), &[7; 64], &mut base).unwrap();
        base.truncate(n);
        for _ in 0..20_000 {
            let mut f = base.clone();
            let flips = (next() % 6) as usize;
            for _ in 0..flips {
                let i = (next() as usize) % f.len();
                f[i] = next() as u8;
            }
            f.truncate((next() as usize) % (f.len() + 1));
            let _ = classify(&f);
        }
    }
}
