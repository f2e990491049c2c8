//! Internal verbs of the bridge networks' plumbing, hidden from `--help`:
//! `__network-holder` is a network's holder process (started by
//! `network::holder::NetnsHolder::create`), and `__bridge-selftest` proves
//! the plumbing with real namespaces and no container, for
//! `tests/bridge.rs`. Neither is for users.
//!
//! The self-test enters burrow's user namespace, starts the holders of two
//! networks (a: 10.89.0.0/24, b: 10.89.1.0/24), makes three empty network
//! namespaces standing for containers (c1 and c2 on a, c3 on b), attaches
//! them, and checks: TCP and UDP between c1 and c2 over IPv4 and IPv6
//! (fd89:0:0:N::/64), each server seeing the client's own address; c3 reaches its own gateway but cannot connect to
//! c1 or c2; a detached c2 has no eth0 left; a holder killed with SIGKILL
//! is seen as gone and a new one starts in its place. Each check prints
//! one `ok ...` line; the first failure ends the run with an error. With
//! `--keep`, network a's holder is left running and its pid printed last
//! (`kept PID`), for the caller to check that it outlives this command.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::os::fd::{BorrowedFd, OwnedFd};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context};
use burrow::network::holder::{self, Endpoint, HolderPlan, NetnsHolder};
use burrow::network::link::{self, in_netns, Netlink};

/// The names a network's DNS answers: every running container on it (and
/// on the asking container's other networks), by name, id, alias and
/// hostname, and the `--dns` servers of the asking container, which its
/// outside names go to (`burrow::network::names`), read from the records
/// at each query. The holder's directory is `<store>/networks/<name>`.
fn names_of(dir: &Path) -> holder::NameTable {
    let network = dir.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let paths = dir.parent().and_then(Path::parent).map(|root| burrow::paths::Paths::resolve(Some(root)));
    let running = move || -> Vec<burrow::container::record::Record> {
        let Some(paths) = &paths else { return Vec::new() };
        let Ok(mut records) = burrow::container::record::list(paths) else { return Vec::new() };
        records.retain(|r| r.monitor_alive(paths));
        records
    };
    let (records, net) = (running.clone(), network.clone());
    let lookup = Box::new(move |client: Option<IpAddr>, name: &str| burrow::network::names::lookup(&records(), &net, client, name));
    let upstreams = Box::new(move |client: IpAddr| burrow::network::names::upstreams(&running(), &network, client));
    holder::NameTable { lookup, upstreams }
}

#[derive(clap::Args, Debug)]
pub struct HolderArgs {
    dir: PathBuf,
    /// The plan, as JSON
    plan: String,
}

/// The holder's life; its exit code.
pub fn holder(a: &HolderArgs) -> i32 {
    match serde_json::from_str::<HolderPlan>(&a.plan) {
        Ok(plan) => holder::serve(&a.dir, &plan, Some(names_of(&a.dir))),
        Err(e) => {
            eprintln!("Error: invalid network plan {:?}: {e}", a.plan);
            125
        }
    }
}

#[derive(clap::Args, Debug)]
pub struct SelftestArgs {
    /// Leave network a's holder running and print its pid
    #[arg(long)]
    keep: bool,
    /// Directory for the holders' files
    dir: PathBuf,
}

const PORT: u16 = 7000;
/// Connecting never waits longer than this (an unreachable address may
/// get no answer at all).
const PATIENCE: Duration = Duration::from_secs(5);

fn plan(third: u8, last: u8) -> HolderPlan {
    let gateway6 = Some((v6(third, 1), 64));
    HolderPlan {
        gateway: Ipv4Addr::new(10, 89, third, 1),
        prefix_len: 24,
        gateway6,
        mtu: 1500,
        mac: [0x02, 0xb0, 0, 0, third, last],
        uplink: None,
    }
}

/// fd89:0:0:THIRD::HOST, network THIRD's IPv6 subnet.
fn v6(third: u8, host: u8) -> Ipv6Addr {
    Ipv6Addr::new(0xfd89, 0, 0, third.into(), 0, 0, 0, host.into())
}

fn endpoint(id: &str, third: u8, host: u8) -> Endpoint {
    Endpoint {
        host_ifname: Endpoint::host_ifname_for(id),
        ifname: "eth0".into(),
        mac: [0x02, 0xb1, 0, 0, third, host],
        mtu: 1500,
        addr: Ipv4Addr::new(10, 89, third, host),
        prefix_len: 24,
        gateway: Ipv4Addr::new(10, 89, third, 1),
        ipv6: Some((v6(third, host), 64, v6(third, 1))),
        default_route: true,
    }
}

pub fn selftest(a: &SelftestArgs) -> anyhow::Result<i32> {
    let entered = burrow::userns::enter_burrow()?;
    let (dir_a, dir_b) = (a.dir.join("a"), a.dir.join("b"));
    let net_a = NetnsHolder::create(entered.proof, &dir_a, &plan(0, 1)).context("network a")?;
    let net_b = NetnsHolder::create(entered.proof, &dir_b, &plan(1, 1)).context("network b")?;
    let found = NetnsHolder::find(&dir_a)?.context("network a's holder is running but find() did not see it")?;
    if found.pid() != net_a.pid() {
        bail!("find() named pid {} for network a, whose holder is {}", found.pid(), net_a.pid());
    }
    println!("ok holders a (pid {}) and b (pid {}) found by their directories", net_a.pid(), net_b.pid());
    let (c1, c2, c3) = (link::new_netns()?, link::new_netns()?, link::new_netns()?);
    let (e1, e2, e3) = (endpoint("c1", 0, 2), endpoint("c2", 0, 3), endpoint("c3", 1, 2));
    holder::attach(net_a.netns(), fd(&c1), &e1).context("attach c1 to a")?;
    holder::attach(net_a.netns(), fd(&c2), &e2).context("attach c2 to a")?;
    holder::attach(net_b.netns(), fd(&c3), &e3).context("attach c3 to b")?;
    println!("ok c1 {} and c2 {} on a, c3 {} on b", e1.addr, e2.addr, e3.addr);
    let six = |e: &Endpoint| IpAddr::V6(e.ipv6.map(|(a, _, _)| a).unwrap_or(Ipv6Addr::UNSPECIFIED));
    for (netns, e) in [(fd(&c1), &e1), (fd(&c2), &e2)] {
        serve_echo(netns, e.addr.into())?;
        serve_echo(netns, six(e))?;
    }
    traffic(fd(&c2), e2.addr.into(), e1.addr.into())?;
    traffic(fd(&c1), e1.addr.into(), e2.addr.into())?;
    traffic(fd(&c2), six(&e2), six(&e1))?;
    isolation(fd(&c3), e3.gateway, &[e1.addr.into(), e2.addr.into(), six(&e1), six(&e2)])?;
    holder::detach(net_a.netns(), &e2).context("detach c2")?;
    if let Ok(Ok(_)) = in_netns(fd(&c2), || Netlink::open().and_then(|mut nl| nl.index("eth0"))) {
        bail!("c2 still has eth0 after it was detached");
    }
    println!("ok c2's eth0 gone after detach");
    let kept = killed_holder(net_a, &dir_a, a.keep)?;
    net_b.stop()?;
    reap(net_b.pid());
    if NetnsHolder::find(&dir_b)?.is_some() {
        bail!("network b's holder was stopped but find() still sees it");
    }
    println!("ok holder b stopped");
    if let Some(pid) = kept {
        println!("kept {pid}");
    }
    Ok(0)
}

fn fd(owned: &OwnedFd) -> BorrowedFd<'_> {
    std::os::fd::AsFd::as_fd(owned)
}

/// Wait for a holder this process started (so the zombie goes).
fn reap(pid: i32) {
    let _ = nix::sys::wait::waitpid(nix::unistd::Pid::from_raw(pid), None);
}

/// A TCP and a UDP echo server on `addr:PORT` in the namespace `netns`:
/// each answer is the client's address as the server saw it, a space and
/// what the client sent. The sockets stay in `netns` while their threads
/// run anywhere.
fn serve_echo(netns: BorrowedFd<'_>, addr: IpAddr) -> anyhow::Result<()> {
    let (tcp, udp) = in_netns(netns, || Ok::<_, std::io::Error>((TcpListener::bind((addr, PORT))?, UdpSocket::bind((addr, PORT))?)))??;
    std::thread::spawn(move || {
        for mut s in tcp.incoming().flatten() {
            let mut buf = [0; 64];
            let n = s.read(&mut buf).unwrap_or(0);
            let peer = s.peer_addr().map(|p| p.ip().to_string()).unwrap_or_default();
            let _ = s.write_all(format!("{peer} {}", String::from_utf8_lossy(&buf[..n])).as_bytes());
        }
    });
    std::thread::spawn(move || {
        let mut buf = [0; 64];
        while let Ok((n, from)) = udp.recv_from(&mut buf) {
            let _ = udp.send_to(format!("{} {}", from.ip(), String::from_utf8_lossy(&buf[..n])).as_bytes(), from);
        }
    });
    Ok(())
}

/// TCP and UDP from `from` (in `netns`) to the echo servers at `to`.
fn traffic(netns: BorrowedFd<'_>, from: IpAddr, to: IpAddr) -> anyhow::Result<()> {
    let (tcp, udp) = in_netns(netns, || -> std::io::Result<(String, String)> {
        let mut s = TcpStream::connect_timeout(&SocketAddr::from((to, PORT)), PATIENCE)?;
        s.set_read_timeout(Some(PATIENCE))?;
        s.write_all(b"tcp-ping")?;
        s.shutdown(std::net::Shutdown::Write)?;
        let mut tcp = String::new();
        s.read_to_string(&mut tcp)?;
        let u = UdpSocket::bind((from, 0))?;
        u.set_read_timeout(Some(PATIENCE))?;
        u.send_to(b"udp-ping", (to, PORT))?;
        let mut buf = [0; 64];
        let (n, _) = u.recv_from(&mut buf)?;
        Ok((tcp, String::from_utf8_lossy(&buf[..n]).into_owned()))
    })?
    .with_context(|| format!("traffic from {from} to {to}"))?;
    if tcp != format!("{from} tcp-ping") || udp != format!("{from} udp-ping") {
        bail!("echo from {to} to {from} was {tcp:?} (TCP) and {udp:?} (UDP): the server did not see the client's own address");
    }
    println!("ok tcp and udp {from} -> {to}, seen from {from}");
    Ok(())
}

/// From `netns`: the own gateway answers (a refused connection is an
/// answer), and no address of the other network does.
fn isolation(netns: BorrowedFd<'_>, gateway: Ipv4Addr, others: &[IpAddr]) -> anyhow::Result<()> {
    let try_connect = |to: IpAddr| in_netns(netns, || TcpStream::connect_timeout(&(to, PORT).into(), PATIENCE));
    match try_connect(gateway.into())? {
        Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
        other => bail!("connecting to the own gateway {gateway}: expected a refusal (nothing listens there), got {other:?}"),
    }
    for to in others {
        match try_connect(*to)? {
            Ok(_) => bail!("a container on another network connected to {to}: the networks are not isolated"),
            Err(e) => println!("ok {to} unreachable from the other network ({e})"),
        }
    }
    Ok(())
}

/// SIGKILL a holder: the lock says it is gone, and a new one starts in
/// the same directory (left running with `keep`: its pid is returned).
fn killed_holder(net: NetnsHolder, dir: &Path, keep: bool) -> anyhow::Result<Option<i32>> {
    let pid = net.pid();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL)?;
    reap(pid);
    drop(net);
    if NetnsHolder::find(dir)?.is_some() {
        bail!("network a's holder (pid {pid}) was killed but find() still sees it");
    }
    println!("ok holder a seen gone after SIGKILL");
    let proof = burrow::userns::InUserns::here().context("not in burrow's user namespace any more")?;
    let again = NetnsHolder::create(proof, dir, &plan(0, 1)).context("restart network a")?;
    println!("ok holder a restarted (pid {})", again.pid());
    if keep {
        return Ok(Some(again.pid()));
    }
    again.stop()?;
    reap(again.pid());
    Ok(None)
}
