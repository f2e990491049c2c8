//! The container's network device, made by the container's first process.
//!
//! Runs inside the new network namespace, as root of burrow's user
//! namespace (which owns that network namespace, so CAP_NET_ADMIN holds
//! there), before `pivot_root` (the device node `/dev/net/tun` is the
//! host's). It creates a TAP device named `eth0` (docker's name), gives it
//! the MTU, a fixed hardware address (so the stack knows it before the
//! first frame), the container's IPv4 address and a default route via the
//! gateway, and the same for IPv6 with duplicate address detection off (a
//! new address would otherwise be unusable for a second); the descriptor
//! goes to `burrow run` (`launch`), which serves the other end with
//! burrow-netstack. The old ioctl interface is enough for all of it and
//! needs no netlink code. Unprivileged ICMP sockets are opened to every
//! group inside, as docker does, so `ping` works for non-root users of
//! the container too.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

use super::setup_error::{Result as R, SetupError};

/// What the device gets.
#[derive(Debug, Clone)]
pub struct TapPlan {
    pub mtu: u32,
    pub mac: [u8; 6],
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// Address, prefix length and gateway for IPv6.
    pub ipv6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
}

const DEVICE: &str = "eth0";

fn ifreq(name: &str) -> libc::ifreq {
    // SAFETY: ifreq is plain data; zero is a valid value.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    for (i, b) in name.bytes().take(libc::IFNAMSIZ - 1).enumerate() {
        req.ifr_name[i] = b as libc::c_char;
    }
    req
}

fn sockaddr_in(a: Ipv4Addr) -> libc::sockaddr {
    let sin = libc::sockaddr_in {
        sin_family: libc::AF_INET as libc::sa_family_t,
        sin_port: 0,
        sin_addr: libc::in_addr { s_addr: u32::from(a).to_be() },
        sin_zero: [0; 8],
    };
    // SAFETY: sockaddr_in and sockaddr have the same size on Linux.
    unsafe { std::mem::transmute::<libc::sockaddr_in, libc::sockaddr>(sin) }
}

fn ioctl<T>(fd: &OwnedFd, req: libc::c_ulong, arg: &mut T, step: &'static str) -> R<()> {
    // SAFETY: `arg` is the structure this request expects.
    if unsafe { libc::ioctl(fd.as_raw_fd(), req as _, arg as *mut T) } != 0 {
        return Err(SetupError::Tap { step, device: DEVICE, source: std::io::Error::last_os_error() });
    }
    Ok(())
}

fn socket(family: libc::c_int) -> R<OwnedFd> {
    // SAFETY: socket(2) returns a new descriptor or -1.
    let fd = unsafe { libc::socket(family, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(SetupError::Socket { source: std::io::Error::last_os_error() });
    }
    // SAFETY: new descriptor, ours.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// The kernel's `struct rtentry` (glibc layout).
#[repr(C)]
struct RtEntry {
    rt_pad1: libc::c_ulong,
    rt_dst: libc::sockaddr,
    rt_gateway: libc::sockaddr,
    rt_genmask: libc::sockaddr,
    rt_flags: libc::c_ushort,
    rt_pad2: libc::c_short,
    rt_pad3: libc::c_ulong,
    rt_tos: libc::c_uchar,
    rt_class: libc::c_uchar,
    rt_pad4: [libc::c_short; 3],
    rt_metric: libc::c_short,
    rt_dev: *mut libc::c_char,
    rt_mtu: libc::c_ulong,
    rt_window: libc::c_ulong,
    rt_irtt: libc::c_ushort,
}

/// The kernel's `struct in6_rtmsg`.
#[repr(C)]
struct In6RtMsg {
    dst: libc::in6_addr,
    src: libc::in6_addr,
    gateway: libc::in6_addr,
    kind: u32,
    dst_len: u16,
    src_len: u16,
    metric: u32,
    info: libc::c_ulong,
    flags: u32,
    ifindex: libc::c_int,
}

/// Create and configure the device; returns the TAP descriptor. IPv6 is
/// configured when planned and the kernel has it.
pub fn create(plan: &TapPlan) -> R<OwnedFd> {
    let tun = open_device()?;
    let s4 = socket(libc::AF_INET)?;
    configure_ipv4(&s4, plan)?;
    // IPv6: no duplicate address detection, no router advertisements.
    let conf = format!("/proc/sys/net/ipv6/conf/{DEVICE}");
    let ipv6 = plan.ipv6.is_some()
        && std::path::Path::new(&conf).exists()
        && std::fs::write(format!("{conf}/accept_dad"), "0").is_ok()
        && std::fs::write(format!("{conf}/accept_ra"), "0").is_ok();
    bring_up(&s4)?;
    default_route_v4(&s4, plan.gateway)?;
    if let (true, Some((addr, prefix, gateway))) = (ipv6, plan.ipv6) {
        configure_ipv6(addr, prefix, gateway)?;
    }
    let _ = std::fs::write("/proc/sys/net/ipv4/ping_group_range", "0 2147483647");
    Ok(tun)
}

/// Open /dev/net/tun and attach it to a new persistent TAP device.
fn open_device() -> R<OwnedFd> {
    let path = c"/dev/net/tun";
    // SAFETY: open(2) on a constant path.
    let tun = unsafe { libc::open(path.as_ptr(), libc::O_RDWR | libc::O_CLOEXEC) };
    if tun < 0 {
        return Err(SetupError::OpenTun { source: std::io::Error::last_os_error() });
    }
    // SAFETY: new descriptor, ours.
    let tun = unsafe { OwnedFd::from_raw_fd(tun) };
    let mut req = ifreq(DEVICE);
    req.ifr_ifru.ifru_flags = (libc::IFF_TAP | libc::IFF_NO_PI) as libc::c_short;
    ioctl(&tun, libc::TUNSETIFF as libc::c_ulong, &mut req, "create the TAP device")?;
    // Persistent: closing the last descriptor then leaves the device to
    // the namespace's teardown, which the kernel runs in the background,
    // instead of unregistering it synchronously in `burrow run`'s close
    // (about 20 ms of RCU grace periods on every container's exit).
    // SAFETY: TUNSETPERSIST takes an integer argument.
    if unsafe { libc::ioctl(tun.as_raw_fd(), libc::TUNSETPERSIST as _, 1 as libc::c_ulong) } != 0 {
        return Err(SetupError::TapPersist { device: DEVICE, source: std::io::Error::last_os_error() });
    }
    Ok(tun)
}

/// MTU, hardware address, IPv4 address and netmask.
fn configure_ipv4(s4: &OwnedFd, plan: &TapPlan) -> R<()> {
    let mut req = ifreq(DEVICE);
    req.ifr_ifru.ifru_mtu = plan.mtu as libc::c_int;
    ioctl(s4, libc::SIOCSIFMTU, &mut req, "set the MTU")?;
    let mut req = ifreq(DEVICE);
    // SAFETY: writing the hardware address into the union's sockaddr.
    unsafe {
        req.ifr_ifru.ifru_hwaddr.sa_family = libc::ARPHRD_ETHER;
        for (i, b) in plan.mac.iter().enumerate() {
            req.ifr_ifru.ifru_hwaddr.sa_data[i] = *b as libc::c_char;
        }
    }
    ioctl(s4, libc::SIOCSIFHWADDR, &mut req, "set the hardware address")?;
    let mut req = ifreq(DEVICE);
    req.ifr_ifru.ifru_addr = sockaddr_in(plan.addr);
    ioctl(s4, libc::SIOCSIFADDR, &mut req, "set the address")?;
    let mut req = ifreq(DEVICE);
    let mask = u32::MAX.checked_shl(32 - u32::from(plan.prefix_len)).unwrap_or(0);
    req.ifr_ifru.ifru_netmask = sockaddr_in(Ipv4Addr::from(mask));
    ioctl(s4, libc::SIOCSIFNETMASK, &mut req, "set the netmask")
}

fn bring_up(s4: &OwnedFd) -> R<()> {
    let mut req = ifreq(DEVICE);
    ioctl(s4, libc::SIOCGIFFLAGS, &mut req, "read the flags")?;
    // SAFETY: the flags member was just filled by the kernel.
    unsafe { req.ifr_ifru.ifru_flags |= (libc::IFF_UP | libc::IFF_RUNNING) as libc::c_short };
    ioctl(s4, libc::SIOCSIFFLAGS, &mut req, "bring up")
}

fn default_route_v4(s4: &OwnedFd, gateway: Ipv4Addr) -> R<()> {
    let mut rt = RtEntry {
        rt_pad1: 0,
        rt_dst: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        rt_gateway: sockaddr_in(gateway),
        rt_genmask: sockaddr_in(Ipv4Addr::UNSPECIFIED),
        rt_flags: libc::RTF_UP | libc::RTF_GATEWAY,
        rt_pad2: 0,
        rt_pad3: 0,
        rt_tos: 0,
        rt_class: 0,
        rt_pad4: [0; 3],
        rt_metric: 0,
        // No device: the gateway is on eth0's own subnet, so the kernel
        // finds it from there.
        rt_dev: std::ptr::null_mut(),
        rt_mtu: 0,
        rt_window: 0,
        rt_irtt: 0,
    };
    ioctl(s4, libc::SIOCADDRT, &mut rt, "add the default route")
}

/// The IPv6 address and default route (the caller turned off DAD first).
fn configure_ipv6(addr: Ipv6Addr, prefix: u8, gateway: Ipv6Addr) -> R<()> {
    let s6 = socket(libc::AF_INET6)?;
    let mut req = ifreq(DEVICE);
    ioctl(&s6, libc::SIOCGIFINDEX, &mut req, "find the interface index")?;
    // SAFETY: the index member was just filled by the kernel.
    let index = unsafe { req.ifr_ifru.ifru_ifindex };
    let mut a =
        libc::in6_ifreq { ifr6_addr: libc::in6_addr { s6_addr: addr.octets() }, ifr6_prefixlen: u32::from(prefix), ifr6_ifindex: index };
    ioctl(&s6, libc::SIOCSIFADDR, &mut a, "set the IPv6 address")?;
    let mut rt = In6RtMsg {
        dst: libc::in6_addr { s6_addr: [0; 16] },
        src: libc::in6_addr { s6_addr: [0; 16] },
        gateway: libc::in6_addr { s6_addr: gateway.octets() },
        kind: 0,
        dst_len: 0,
        src_len: 0,
        metric: 1,
        info: 0,
        flags: u32::from(libc::RTF_UP | libc::RTF_GATEWAY),
        ifindex: index,
    };
    ioctl(&s6, libc::SIOCADDRT, &mut rt, "add the IPv6 default route")
}
