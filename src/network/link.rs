//! Network devices, addresses and routes over rtnetlink (rtnetlink(7)),
//! synchronously.
//!
//! A [`Netlink`] is one `NETLINK_ROUTE` socket. It acts on the network
//! namespace that was current for the calling thread when it was opened
//! (a socket's namespace is fixed at creation), so code that works on a
//! namespace other than its own opens the socket inside [`in_netns`]. Each
//! method sends one request with `NLM_F_ACK` and waits for the kernel's
//! answer, so it returns only once the change is made, or with the errno
//! the kernel gave and the device it was about. Messages are built and
//! parsed with `netlink-packet-route`; nothing here interprets a device's
//! state beyond its index, and nothing is retried or cleaned up: the
//! caller (`holder`) decides what a failure means.
//!
//! The operations are the few a bridge network needs (ip-link(8),
//! ip-address(8), ip-route(8)): create a bridge, create a veth pair whose
//! peer is made directly in another namespace (`IFLA_NET_NS_FD`) or moved
//! there later, enslave a port to a bridge, bring a device up, add an
//! address, add a default route, delete a device; and `open_tap`, the
//! one device rtnetlink cannot make (a TAP belongs to its descriptor).
//!
//! Permissions: every request needs CAP_NET_ADMIN in the user namespace
//! that owns the socket's network namespace, and one that names a second
//! namespace needs it there too (the kernel checks both the socket's
//! opener and the sender). Root of burrow's user namespace has it in every
//! namespace that user namespace owns, and in no other.

use std::io;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd, OwnedFd};

use netlink_packet_core::{NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST};
use netlink_packet_route::address::{AddressAttribute, AddressFlags, AddressMessage};
use netlink_packet_route::link::{InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot open /dev/net/tun (it must exist and be readable and writable by the user): {source}")]
    Tun { source: io::Error },
    #[error("cannot open a netlink socket: {source}")]
    Socket { source: io::Error },
    #[error("cannot {op} {device}: {source}{hint}", hint = permission_hint(source))]
    Kernel { op: &'static str, device: String, source: io::Error },
    #[error("cannot {op} {device}: the kernel's answer could not be read: {source}")]
    Decode { op: &'static str, device: String, source: netlink_packet_core::DecodeError },
    #[error("cannot {op} {device}: the kernel's answer did not say whether it was done")]
    NoAnswer { op: &'static str, device: String },
    #[error("{device} is not a valid interface name: 1 to 15 bytes, none of them '/', ':' or white space")]
    BadName { device: String },
    #[error("cannot open the network namespace of this thread: {source}")]
    OwnNetns { source: io::Error },
    #[error("cannot enter a network namespace: {source}{hint}", hint = permission_hint(&io::Error::from(*source)))]
    Setns { source: nix::Error },
    #[error("cannot create a network namespace: {source}{hint}", hint = permission_hint(&io::Error::from(*source)))]
    Unshare { source: nix::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

fn permission_hint(e: &io::Error) -> &'static str {
    if e.raw_os_error() == Some(libc::EPERM) {
        " (the network namespace must belong to the user namespace burrow runs in)"
    } else {
        ""
    }
}

/// Whether the kernel accepts `name` as an interface name (dev_valid_name
/// in net/core/dev.c).
pub fn valid_ifname(name: &str) -> bool {
    (1..libc::IFNAMSIZ).contains(&name.len())
        && name != "."
        && name != ".."
        && !name.bytes().any(|b| b == b'/' || b == b':' || b.is_ascii_whitespace())
}

fn checked(name: &str) -> Result<&str> {
    if valid_ifname(name) {
        Ok(name)
    } else {
        Err(Error::BadName { device: name.to_string() })
    }
}

/// The veth pair to create: `name` in the socket's namespace, `peer` in
/// `peer_netns` (the same namespace when `None`).
#[derive(Debug, Clone, Copy)]
pub struct Veth<'a> {
    pub name: &'a str,
    pub peer: &'a str,
    pub mtu: u32,
    pub peer_mac: Option<[u8; 6]>,
    pub peer_netns: Option<BorrowedFd<'a>>,
}

/// One rtnetlink socket, bound to the network namespace the calling
/// thread was in when it was opened.
#[derive(Debug)]
pub struct Netlink {
    socket: Socket,
    seq: u32,
}

impl Netlink {
    pub fn open() -> Result<Netlink> {
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|source| Error::Socket { source })?;
        socket.bind_auto().map_err(|source| Error::Socket { source })?;
        socket.connect(&SocketAddr::new(0, 0)).map_err(|source| Error::Socket { source })?;
        Ok(Netlink { socket, seq: 0 })
    }

    /// A bridge named `name` with a fixed MTU and, when given, a fixed
    /// hardware address (a bridge otherwise takes the lowest of its ports',
    /// so its address would change as containers come and go).
    pub fn create_bridge(&mut self, name: &str, mtu: u32, mac: Option<[u8; 6]>) -> Result<()> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(checked(name)?.to_string()));
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        if let Some(mac) = mac {
            msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        msg.attributes.push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Bridge)]));
        self.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL, "create the bridge", name)
    }

    /// A veth pair; the peer is created directly in `peer_netns`, so it
    /// never appears in this namespace (no name clash with a container's
    /// `eth0` here).
    pub fn create_veth(&mut self, v: &Veth<'_>) -> Result<()> {
        let mut peer = LinkMessage::default();
        peer.attributes.push(LinkAttribute::IfName(checked(v.peer)?.to_string()));
        peer.attributes.push(LinkAttribute::Mtu(v.mtu));
        if let Some(mac) = v.peer_mac {
            peer.attributes.push(LinkAttribute::Address(mac.to_vec()));
        }
        if let Some(ns) = v.peer_netns {
            peer.attributes.push(LinkAttribute::NetNsFd(ns.as_raw_fd()));
        }
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(checked(v.name)?.to_string()));
        msg.attributes.push(LinkAttribute::Mtu(v.mtu));
        msg.attributes
            .push(LinkAttribute::LinkInfo(vec![LinkInfo::Kind(InfoKind::Veth), LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer)))]));
        self.ack(RouteNetlinkMessage::NewLink(msg), NLM_F_CREATE | NLM_F_EXCL, "create the veth pair", v.name)
    }

    /// Move `name` into the network namespace `netns` (it keeps its name).
    pub fn move_to_netns(&mut self, name: &str, netns: BorrowedFd<'_>) -> Result<()> {
        let mut msg = self.by_name(name)?;
        msg.attributes.push(LinkAttribute::NetNsFd(netns.as_raw_fd()));
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, "move to another network namespace", name)
    }

    /// Make `name` a port of the bridge `bridge`.
    pub fn set_master(&mut self, name: &str, bridge: &str) -> Result<()> {
        let master = self.index(bridge)?;
        let mut msg = self.by_name(name)?;
        msg.attributes.push(LinkAttribute::Controller(master));
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, "attach to its bridge", name)
    }

    /// Give `name` an MTU and a hardware address.
    pub fn set_mtu_and_address(&mut self, name: &str, mtu: u32, mac: [u8; 6]) -> Result<()> {
        let mut msg = self.by_name(name)?;
        msg.attributes.push(LinkAttribute::Mtu(mtu));
        msg.attributes.push(LinkAttribute::Address(mac.to_vec()));
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, "set the MTU and hardware address of", name)
    }

    /// Bring `name` up.
    pub fn set_up(&mut self, name: &str) -> Result<()> {
        let mut msg = self.by_name(name)?;
        msg.header.flags = LinkFlags::Up;
        msg.header.change_mask = LinkFlags::Up;
        self.ack(RouteNetlinkMessage::SetLink(msg), 0, "bring up", name)
    }

    /// Add `addr/prefix_len` to `name`. IPv6 addresses skip duplicate
    /// address detection: burrow assigns them, and a tentative address is
    /// unusable for a second or more.
    pub fn add_address(&mut self, name: &str, addr: IpAddr, prefix_len: u8) -> Result<()> {
        let index = self.index(name)?;
        let mut msg = AddressMessage::default();
        msg.header.family = family(addr);
        msg.header.prefix_len = prefix_len;
        msg.header.index = index;
        msg.attributes.push(AddressAttribute::Local(addr));
        msg.attributes.push(AddressAttribute::Address(addr));
        if addr.is_ipv6() {
            msg.attributes.push(AddressAttribute::Flags(AddressFlags::Nodad));
        }
        self.ack(RouteNetlinkMessage::NewAddress(msg), NLM_F_CREATE | NLM_F_EXCL, "add an address to", name)
    }

    /// A default route via `gateway` out of `name` (main table).
    pub fn add_default_route(&mut self, name: &str, gateway: IpAddr) -> Result<()> {
        let index = self.index(name)?;
        let mut msg = RouteMessage::default();
        msg.header.address_family = family(gateway);
        msg.header.table = RouteHeader::RT_TABLE_MAIN;
        msg.header.protocol = RouteProtocol::Static;
        msg.header.scope = RouteScope::Universe;
        msg.header.kind = RouteType::Unicast;
        msg.attributes.push(RouteAttribute::Gateway(RouteAddress::from(gateway)));
        msg.attributes.push(RouteAttribute::Oif(index));
        self.ack(RouteNetlinkMessage::NewRoute(msg), NLM_F_CREATE | NLM_F_EXCL, "add the default route via", name)
    }

    /// Delete `name` (for a veth, the kernel deletes its peer too).
    pub fn delete_link(&mut self, name: &str) -> Result<()> {
        let msg = self.by_name(name)?;
        self.ack(RouteNetlinkMessage::DelLink(msg), 0, "delete", name)
    }

    /// The interface index of `name` in this socket's namespace.
    pub fn index(&mut self, name: &str) -> Result<u32> {
        let mut msg = LinkMessage::default();
        msg.attributes.push(LinkAttribute::IfName(checked(name)?.to_string()));
        let reply = self.request(RouteNetlinkMessage::GetLink(msg), 0, "find", name)?;
        match reply {
            Some(RouteNetlinkMessage::NewLink(link)) => Ok(link.header.index),
            _ => Err(Error::NoAnswer { op: "find", device: name.to_string() }),
        }
    }

    /// A link message that names `name` by index.
    fn by_name(&mut self, name: &str) -> Result<LinkMessage> {
        let mut msg = LinkMessage::default();
        msg.header.index = self.index(name)?;
        Ok(msg)
    }

    fn ack(&mut self, msg: RouteNetlinkMessage, flags: u16, op: &'static str, device: &str) -> Result<()> {
        self.request(msg, flags, op, device).map(|_| ())
    }

    /// Send one request and read until its acknowledgement; returns the
    /// message the kernel sent before it, if any (a GETLINK's answer).
    fn request(&mut self, msg: RouteNetlinkMessage, flags: u16, op: &'static str, device: &str) -> Result<Option<RouteNetlinkMessage>> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(msg));
        packet.finalize();
        let mut buf = vec![0; packet.buffer_len()];
        packet.serialize(&mut buf);
        let kernel = |source| Error::Kernel { op, device: device.to_string(), source };
        self.socket.send(&buf, 0).map_err(kernel)?;
        let mut answer = None;
        loop {
            let mut rx = Vec::with_capacity(64 * 1024);
            let n = self.socket.recv(&mut rx, 0).map_err(kernel)?;
            if n > rx.len() {
                return Err(Error::NoAnswer { op, device: device.to_string() });
            }
            let replies = split(&rx).map_err(|source| Error::Decode { op, device: device.to_string(), source })?;
            for reply in replies.into_iter().filter(|r| r.header.sequence_number == self.seq) {
                match reply.payload {
                    NetlinkPayload::Error(e) if e.code.is_none() => return Ok(answer),
                    NetlinkPayload::Error(e) => return Err(kernel(e.to_io())),
                    NetlinkPayload::InnerMessage(m) => answer = Some(m),
                    _ => {}
                }
            }
        }
    }
}

/// The netlink messages of one datagram (each padded to 4 bytes).
fn split(mut rx: &[u8]) -> std::result::Result<Vec<NetlinkMessage<RouteNetlinkMessage>>, netlink_packet_core::DecodeError> {
    let mut out = Vec::new();
    while !rx.is_empty() {
        let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rx)?;
        let len = (msg.header.length as usize).next_multiple_of(4);
        out.push(msg);
        if len == 0 || len >= rx.len() {
            break;
        }
        rx = &rx[len..];
    }
    Ok(out)
}

fn family(addr: IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// Run `f` in the network namespace `netns`, on a short-lived thread of
/// its own that enters it; the calling thread never changes namespace.
///
/// A network namespace is a property of a thread, not of the process
/// (setns(2) with CLONE_NEWNET changes only the caller's), so the other
/// threads keep theirs while `f` runs, and the sockets `f` opens stay in
/// `netns` for their whole life, whichever thread uses them later. The
/// thread cannot simply switch back instead: burrow's commands run in the
/// host's network namespace, which belongs to the initial user namespace,
/// where burrow has no CAP_SYS_ADMIN, so setns(2) back into it fails
/// (EPERM, verified). A thread that has entered `netns` therefore ends
/// with `f`, and nothing else ever runs on it.
pub fn in_netns<T: Send>(netns: BorrowedFd<'_>, f: impl FnOnce() -> T + Send) -> Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET).map_err(|source| Error::Setns { source })?;
            Ok(f())
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// A TAP device named `name` in the calling thread's namespace, and the
/// descriptor that serves its other end (the one kind of device
/// rtnetlink cannot create: it belongs to the descriptor). The device
/// goes when the descriptor closes.
pub fn open_tap(name: &str) -> Result<OwnedFd> {
    let tun = std::fs::OpenOptions::new().read(true).write(true).open("/dev/net/tun").map_err(|source| Error::Tun { source })?;
    // SAFETY: ifreq is plain data; zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in checked(name)?.bytes().enumerate() {
        req.ifr_name[i] = b as libc::c_char;
    }
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    // SAFETY: TUNSETIFF takes an ifreq, which `req` is.
    if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETIFF as _, &mut req as *mut libc::ifreq) } != 0 {
        return Err(Error::Kernel { op: "create the TAP device", device: name.to_string(), source: io::Error::last_os_error() });
    }
    Ok(OwnedFd::from(tun))
}

/// A new, empty network namespace (only `lo`, down), owned by the calling
/// thread's user namespace; the descriptor keeps it alive. Made on a short
/// thread of its own, so the caller's thread never changes namespace.
pub fn new_netns() -> Result<OwnedFd> {
    std::thread::scope(|s| {
        s.spawn(|| {
            nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|source| Error::Unshare { source })?;
            std::fs::File::open("/proc/thread-self/ns/net").map(OwnedFd::from).map_err(|source| Error::OwnNetns { source })
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn interface_names() {
        assert!(valid_ifname("eth0"));
        assert!(valid_ifname("br0"));
        assert!(valid_ifname("vb0123456789abc"));
        assert!(!valid_ifname("vb0123456789abcd"), "16 bytes is one too many");
        assert!(!valid_ifname(""));
        assert!(!valid_ifname("."));
        assert!(!valid_ifname(".."));
        assert!(!valid_ifname("a/b"));
        assert!(!valid_ifname("eth0:1"));
        assert!(!valid_ifname("a b"));
    }

    #[test]
    fn bad_names_are_refused_before_the_kernel_is_asked() {
        let err = checked("way-too-long-a-name").unwrap_err();
        assert!(err.to_string().contains("way-too-long-a-name"), "{err}");
    }
}
