//! The holder of a user-defined network: the process that owns the
//! network's namespace and bridge, and how containers are plugged in.
//!
//! One holder per network. It is `burrow __network-holder DIR PLAN`,
//! started by [`NetnsHolder::create`] as a new session (fork and exec of
//! burrow itself, so it starts single-threaded and outlives the command
//! that started it, as a detached container's monitor does). It inherits
//! the user namespace of that command, which must be burrow's (the
//! `InUserns` proof), unshares a network namespace of its own, and makes
//! there `br0` with the network's gateway addresses, `lo` up and IP
//! forwarding on. A network with a way out also gets `tap0` there, served
//! by burrow-netstack, which a thread left behind in the host's namespace
//! starts (`HostSide`; `uplink` says how the link is planned), and a
//! control socket through which containers publish ports on that stack
//! (`publish`). Then it answers the network's names on
//! the gateway (`dns`, from a table its caller gives; outside names go
//! through the stack) until SIGTERM,
//! SIGINT or SIGHUP, or until no container has been attached for two
//! checks and no command is about to attach one (`START_LOCK`); the
//! namespace, bridge and every veth end in it go when it exits (descriptors others hold on the namespace keep it a little
//! longer).
//!
//! Later commands find it by its directory (`networks/<name>/`):
//! `holder.lock` is held with `flock(2)` for the holder's whole life, so
//! the kernel releases it at any death, `kill -9` included, and
//! `holder.pid` names the process. The holder removes a previous holder's
//! pid file right after taking the lock and writes its own only once the
//! bridge is ready, so [`NetnsHolder::find`] that sees the lock held and a
//! pid file has the live, configured holder. Starting a holder is not
//! serialised here: the caller holds the network's own lock around
//! `find` + `create`.
//!
//! [`attach`] plugs a container in: a veth pair made in the holder's
//! namespace with its peer created directly in the container's (named
//! `eth0` there, with the endpoint's MAC and MTU), the holder's end
//! enslaved to `br0` and up, then inside the container's namespace the
//! address, the link up and the default route via the gateway. Frames
//! between two containers of the network cross veth, bridge, veth, all in
//! the kernel. Networks are isolated because each has its own namespace:
//! nothing routes between two holders.
//!
//! Capabilities: the process that attaches needs CAP_NET_ADMIN over both
//! namespaces, that is root of a user namespace that owns (or is an
//! ancestor of the owner of) both. burrow's user namespace is one for all
//! of the user's processes (held by `__pause`, see `userns::pause`), so
//! the holder, the containers and the command that attaches them are all
//! in it. A command that could not join it and made a namespace of its
//! own (the fallback there) is refused with EPERM, as a sibling namespace
//! has no rights over another's.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use nix::fcntl::{Flock, FlockArg};
use nix::sys::signal::{SigSet, Signal};

use super::link::{self, in_netns, Netlink, Veth};
use super::publish;
use super::uplink::{self, UplinkPlan};
use crate::userns::InUserns;

/// The bridge's name inside a holder's namespace.
pub const BRIDGE: &str = "br0";
const LOCK: &str = "holder.lock";
const PID: &str = "holder.pid";
const LOG: &str = "holder.log";

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Link(#[from] link::Error),
    #[error("invalid network plan: {reason}")]
    Plan { reason: &'static str },
    #[error("invalid endpoint: {reason}")]
    Endpoint { reason: &'static str },
    #[error("cannot use {path}: {source}")]
    Io { path: PathBuf, source: std::io::Error },
    #[error("cannot lock {path}: {source}")]
    Lock { path: PathBuf, source: nix::Error },
    #[error("a holder already runs for the network in {dir}")]
    AlreadyHeld { dir: PathBuf },
    #[error("the holder of the network in {dir} is still starting; try again")]
    NotReady { dir: PathBuf },
    #[error("cannot start the network's holder: {source}")]
    Spawn { source: std::io::Error },
    #[error("the network's holder failed: {message} (its log: {log})")]
    Failed { message: String, log: PathBuf },
    #[error("the network's holder exited before it was ready; see {log}")]
    Vanished { log: PathBuf },
    #[error("cannot open the namespaces of the network's holder (pid {pid}): {source}")]
    Namespace { pid: i32, source: std::io::Error },
    #[error("cannot turn on IP forwarding in the network's namespace ({path}): {source}; containers on it could not reach the outside")]
    Forwarding { path: &'static str, source: std::io::Error },
    #[error("cannot signal the network's holder (pid {pid}): {source}")]
    Signal { pid: i32, source: nix::Error },
    #[error("cannot wait for signals: {source}")]
    Signals { source: nix::Error },
    #[error("the network's way out cannot start: {0}")]
    Stack(#[from] burrow_netstack::Error),
    #[error(transparent)]
    Publish(#[from] publish::Error),
    #[error("the holder's host-side thread is gone")]
    HostSide,
}

pub type Result<T> = std::result::Result<T, Error>;

/// What a holder makes: the bridge's addresses (the network's gateway),
/// MTU and fixed hardware address.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct HolderPlan {
    pub gateway: Ipv4Addr,
    pub prefix_len: u8,
    /// IPv6 gateway address and prefix length, for `--ipv6` networks.
    pub gateway6: Option<(Ipv6Addr, u8)>,
    pub mtu: u32,
    pub mac: [u8; 6],
    /// The way out through burrow-netstack; `None` for `--internal`.
    #[serde(default)]
    pub uplink: Option<UplinkPlan>,
}

impl HolderPlan {
    pub fn check(&self) -> Result<()> {
        let bad = |reason| Err(Error::Plan { reason });
        if !(1..=30).contains(&self.prefix_len) {
            return bad("an IPv4 prefix length must be 1 to 30");
        }
        if self.gateway6.is_some_and(|(_, p)| !(1..=126).contains(&p)) {
            return bad("an IPv6 prefix length must be 1 to 126");
        }
        if !(68..=65535).contains(&self.mtu) {
            return bad("the MTU must be 68 to 65535");
        }
        if self.mac[0] & 1 != 0 {
            return bad("the bridge's hardware address must be unicast");
        }
        Ok(())
    }
}

/// One container's place on a network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoint {
    /// The veth end on the bridge, in the holder's namespace (unique there).
    pub host_ifname: String,
    /// The container's interface: `eth0`, `eth1` for a second network.
    pub ifname: String,
    pub mac: [u8; 6],
    pub mtu: u32,
    pub addr: Ipv4Addr,
    pub prefix_len: u8,
    pub gateway: Ipv4Addr,
    /// Address, prefix length and gateway for IPv6.
    pub ipv6: Option<(Ipv6Addr, u8, Ipv6Addr)>,
    /// Whether the container's default routes go through this network
    /// (its first one).
    pub default_route: bool,
}

impl Endpoint {
    /// The bridge port's name for the container `id`: `vb` and the first
    /// 13 characters of the id (15 bytes, the kernel's limit).
    pub fn host_ifname_for(id: &str) -> String {
        format!("vb{}", id.chars().filter(char::is_ascii_alphanumeric).take(13).collect::<String>())
    }

    pub fn check(&self) -> Result<()> {
        let bad = |reason| Err(Error::Endpoint { reason });
        if !link::valid_ifname(&self.host_ifname) || !link::valid_ifname(&self.ifname) {
            return bad("interface names are 1 to 15 bytes without '/', ':' or white space");
        }
        if self.mac[0] & 1 != 0 {
            return bad("the hardware address must be unicast");
        }
        let net = |a: Ipv4Addr| u32::from(a).checked_shr(32 - u32::from(self.prefix_len)).unwrap_or(0);
        if !(1..=30).contains(&self.prefix_len) || net(self.addr) != net(self.gateway) || self.addr == self.gateway {
            return bad("the address and the gateway must be two addresses of one subnet of prefix length 1 to 30");
        }
        Ok(())
    }
}

/// A live holder, found by its directory.
#[derive(Debug)]
pub struct NetnsHolder {
    pid: i32,
    netns: OwnedFd,
    userns: OwnedFd,
}

impl NetnsHolder {
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Its network namespace (for [`attach`] and [`detach`]).
    pub fn netns(&self) -> BorrowedFd<'_> {
        self.netns.as_fd()
    }

    /// Its user namespace, which a command joins to create containers the
    /// holder's namespace may be wired to.
    pub fn userns(&self) -> BorrowedFd<'_> {
        self.userns.as_fd()
    }

    /// Ask the holder to exit; its namespace goes when the last
    /// descriptor on it (this one included) closes.
    pub fn stop(&self) -> Result<()> {
        let pid = nix::unistd::Pid::from_raw(self.pid);
        nix::sys::signal::kill(pid, Signal::SIGTERM).map_err(|source| Error::Signal { pid: self.pid, source })
    }

    /// The live holder of the network in `dir`; `None` when none runs
    /// (never started, exited, or killed: the lock is free).
    pub fn find(dir: &Path) -> Result<Option<NetnsHolder>> {
        let path = dir.join(LOCK);
        let file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(source) => return Err(Error::Io { path, source }),
        };
        match Flock::lock(file, FlockArg::LockSharedNonblock) {
            Ok(_free) => return Ok(None),
            Err((_, nix::errno::Errno::EWOULDBLOCK)) => {}
            Err((_, source)) => return Err(Error::Lock { path, source }),
        }
        let pid_path = dir.join(PID);
        let pid = match std::fs::read_to_string(&pid_path) {
            Ok(text) => text.trim().parse::<i32>().map_err(|_| Error::NotReady { dir: dir.to_path_buf() })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(Error::NotReady { dir: dir.to_path_buf() }),
            Err(source) => return Err(Error::Io { path: pid_path, source }),
        };
        let ns =
            |kind: &str| File::open(format!("/proc/{pid}/ns/{kind}")).map(OwnedFd::from).map_err(|source| Error::Namespace { pid, source });
        Ok(Some(NetnsHolder { pid, netns: ns("net")?, userns: ns("user")? }))
    }

    /// Start the holder of the network in `dir` (created if missing) and
    /// wait until its bridge is ready. It lives in this process's user
    /// namespace, which must be burrow's.
    pub fn create(_proof: InUserns, dir: &Path, plan: &HolderPlan) -> Result<NetnsHolder> {
        plan.check()?;
        std::fs::create_dir_all(dir).map_err(|source| Error::Io { path: dir.to_path_buf(), source })?;
        let log = dir.join(LOG);
        let diag = OpenOptions::new().create(true).append(true).open(&log).map_err(|source| Error::Io { path: log.clone(), source })?;
        let exe = std::env::current_exe().map_err(|source| Error::Spawn { source })?;
        let json = serde_json::to_string(plan).map_err(|e| Error::Spawn { source: e.into() })?;
        let mut cmd = Command::new(exe);
        cmd.arg("__network-holder").arg(dir).arg(json);
        cmd.stdin(Stdio::null()).stdout(Stdio::piped()).stderr(diag).current_dir("/");
        // SAFETY: setsid is async-signal-safe; nothing else runs between
        // fork and exec.
        unsafe {
            cmd.pre_exec(|| if libc::setsid() < 0 { Err(std::io::Error::last_os_error()) } else { Ok(()) });
        }
        let mut child = cmd.spawn().map_err(|source| Error::Spawn { source })?;
        let mut line = String::new();
        if let Some(out) = child.stdout.take() {
            let _ = std::io::BufReader::new(out).read_line(&mut line);
        }
        // Not waited for: it outlives this command, and its parent's exit
        // hands it to init (or the nearest subreaper).
        drop(child);
        match serde_json::from_str::<Report>(line.trim_end()) {
            Ok(Report::Ready { .. }) => Self::find(dir)?.ok_or(Error::Vanished { log }),
            Ok(Report::Failed { message }) => Err(Error::Failed { message, log }),
            Err(_) => Err(Error::Vanished { log }),
        }
    }
}

/// The holder's one message to the command that started it, a JSON line
/// on its standard output.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "report", rename_all = "lowercase")]
enum Report {
    Ready { pid: i32 },
    Failed { message: String },
}

/// What a holder's DNS responder answers from, looked up in the records
/// at each query by the caller, which may read them: the addresses of a
/// name for the asking container (container names, short ids, aliases
/// and hostnames on this network and on the asker's other networks,
/// `lookup(client, name)`), and the resolvers the asking container gave
/// with `--dns` (`upstreams(client)`).
pub struct NameTable {
    pub lookup: Lookup,
    pub upstreams: Box<dyn Fn(IpAddr) -> Vec<std::net::SocketAddr> + Send + Sync>,
}

/// `lookup(client, name)`: the addresses of `name` for the asking container.
pub type Lookup = Box<dyn Fn(Option<IpAddr>, &str) -> Vec<IpAddr> + Send + Sync>;

impl super::dns::Names for NameTable {
    fn lookup(&self, name: &str) -> Vec<IpAddr> {
        (self.lookup)(None, name)
    }
    fn lookup_for(&self, client: Option<IpAddr>, name: &str) -> Vec<IpAddr> {
        (self.lookup)(client, name)
    }
    fn upstreams_for(&self, client: IpAddr) -> Vec<std::net::SocketAddr> {
        (self.upstreams)(client)
    }
}

/// How often an idle holder looks whether a container is still attached.
const IDLE_CHECK: std::time::Duration = std::time::Duration::from_secs(5);
/// The file commands hold (shared) from finding the holder until their
/// container is attached, and the holder takes (exclusively) to leave.
pub const START_LOCK: &str = "holder-start.lock";

/// The holder's whole life (the hidden `__network-holder` verb); returns
/// its exit code. With `names`, it answers DNS on the gateway (port 53,
/// UDP and TCP) from them; it leaves on a signal, or once no container
/// has been attached for a while (no `vb*` port on its bridge).
pub fn serve(dir: &Path, plan: &HolderPlan, names: Option<NameTable>) -> i32 {
    // SAFETY: PR_SET_NAME with a NUL-terminated name of under 16 bytes.
    unsafe { libc::prctl(libc::PR_SET_NAME, c"burrow-netns".as_ptr(), 0, 0, 0) };
    let mut signals = SigSet::empty();
    for s in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        signals.add(s);
    }
    // Every thread, the host side's included, inherits the blocked mask.
    let ready = signals.thread_block().map_err(|source| Error::Signals { source }).and_then(|_| set_up(dir, plan));
    let report = match &ready {
        Ok(_) => Report::Ready { pid: std::process::id() as i32 },
        Err(e) => Report::Failed { message: e.to_string() },
    };
    let mut line = serde_json::to_vec(&report).unwrap_or_default();
    line.push(b'\n');
    let _ = std::io::stdout().write_all(&line);
    let _ = std::io::stdout().flush();
    // The command that started the holder reads to the end of this pipe.
    if let Ok(null) = File::open("/dev/null") {
        // SAFETY: dup2 onto standard output, which this process owns.
        unsafe { libc::dup2(null.as_raw_fd(), libc::STDOUT_FILENO) };
    }
    let Ok(_lock) = ready else { return 125 };
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    if let Some(names) = names {
        let upstreams = plan.uplink.iter().map(UplinkPlan::dns).collect();
        if let Err(e) = start_dns(plan.gateway, names, upstreams, stop.clone()) {
            tracing::warn!(%e, "the network's DNS responder cannot start");
        }
    }
    let mut idle = 0;
    loop {
        let timeout = nix::sys::time::TimeSpec::from_duration(IDLE_CHECK);
        // SAFETY: sigtimedwait with a valid set and timeout; the signals
        // are blocked in this thread (and in the DNS threads, which
        // inherit the mask).
        let got = unsafe { libc::sigtimedwait(signals.as_ref(), std::ptr::null_mut(), timeout.as_ref()) };
        if got > 0 {
            tracing::info!(signal = got, "network holder exits");
            break;
        }
        idle = if attached() { 0 } else { idle + 1 };
        if idle >= 2 && may_leave(dir) {
            tracing::info!("no container left on the network: holder exits");
            break;
        }
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = std::fs::remove_file(dir.join(PID));
    0
}

/// Whether a container is attached: a bridge port (`vb…`) in this
/// namespace (`/proc/self/net/dev` lists the main thread's namespace's
/// devices). A port goes with its container's namespace.
fn attached() -> bool {
    std::fs::read_to_string("/proc/self/net/dev").map_or(true, |t| t.lines().any(|l| l.trim_start().starts_with("vb")))
}

/// Whether no command is between finding this holder and attaching its
/// container (they hold the start lock shared), or the network is gone
/// (`network rm`, or its store deleted): nothing can attach any more.
fn may_leave(dir: &Path) -> bool {
    let file = match OpenOptions::new().read(true).write(true).create(true).truncate(false).open(dir.join(START_LOCK)) {
        Ok(f) => f,
        Err(_) => return !dir.exists(),
    };
    match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        // Kept until the process exits: a command then finds no holder.
        Ok(held) if !attached() => {
            std::mem::forget(held);
            true
        }
        // Attached in between: `held` is dropped, the lock released.
        Ok(_) | Err(_) => false,
    }
}

/// The DNS responder on the gateway, UDP and TCP, in threads (their
/// sockets, and those they forward through, are in the network's
/// namespace). An internal network has no upstream: outside names are
/// refused.
fn start_dns(
    gateway: Ipv4Addr,
    names: NameTable,
    upstreams: Vec<std::net::SocketAddr>,
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::io::Result<()> {
    let at = std::net::SocketAddr::new(IpAddr::V4(gateway), 53);
    let udp = std::net::UdpSocket::bind(at)?;
    let tcp = std::net::TcpListener::bind(at)?;
    let responder = std::sync::Arc::new(super::dns::Responder::new(names, None, upstreams).map_err(std::io::Error::other)?);
    let (r, s) = (responder.clone(), stop.clone());
    std::thread::spawn(move || super::dns::serve_udp(udp, &r, &s));
    std::thread::spawn(move || super::dns::serve_tcp(tcp, &responder, &stop));
    Ok(())
}

/// Take the lock, make the namespace, bridge and way out, publish the
/// pid; the lock is held for as long as the returned value lives.
fn set_up(dir: &Path, plan: &HolderPlan) -> Result<Flock<File>> {
    plan.check()?;
    let path = dir.join(LOCK);
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|source| Error::Io { path: path.clone(), source })?;
    let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
        Ok(l) => l,
        Err((_, nix::errno::Errno::EWOULDBLOCK)) => return Err(Error::AlreadyHeld { dir: dir.to_path_buf() }),
        Err((_, source)) => return Err(Error::Lock { path, source }),
    };
    let pid_path = dir.join(PID);
    match std::fs::remove_file(&pid_path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Error::Io { path: pid_path, source: e }),
        _ => {}
    }
    // The way out's stack must run in the host's namespace, which this
    // process cannot enter again once it has left (see `link::in_netns`):
    // a thread made now stays there and starts it.
    let host = plan.uplink.as_ref().map(|_| HostSide::spawn()).transpose()?;
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).map_err(|source| link::Error::Unshare { source })?;
    make_bridge(plan)?;
    enable_forwarding(plan.gateway6.is_some())?;
    if let (Some(uplink), Some(host)) = (&plan.uplink, host) {
        start_uplink(dir, plan, uplink, &host)?;
    }
    crate::atomic::write(&pid_path, format!("{}\n", std::process::id()).as_bytes())
        .map_err(|source| Error::Io { path: pid_path, source })?;
    Ok(lock)
}

/// The way out (`uplink`): `tap0` here, burrow-netstack on its other end
/// started by the host side, and the control socket through which
/// containers publish ports on that stack.
fn start_uplink(dir: &Path, plan: &HolderPlan, uplink: &UplinkPlan, host: &HostSide) -> Result<()> {
    let tap = uplink::make(uplink, plan.mtu)?;
    let here = File::open("/proc/thread-self/ns/net").map_err(|source| Error::Io { path: "/proc/thread-self/ns/net".into(), source })?;
    let mut routed = vec![(IpAddr::V4(uplink::v4_network(plan.gateway, plan.prefix_len)), plan.prefix_len)];
    if let Some((gw6, prefix6)) = plan.gateway6 {
        routed.push((IpAddr::V6(uplink::v6_network(gw6, prefix6)), prefix6));
    }
    let options = uplink.options(plan.mtu, routed);
    let stack = host.run(move || burrow_netstack::start(tap, Some(here), options, Vec::new())).ok_or(Error::HostSide)??;
    publish::serve(dir, std::sync::Arc::new(stack))?;
    Ok(())
}

/// A thread left in the host's network namespace, to start what must run
/// there after the holder has moved to the network's.
struct HostSide {
    jobs: std::sync::mpsc::Sender<Box<dyn FnOnce() + Send>>,
}

impl HostSide {
    fn spawn() -> Result<HostSide> {
        let (jobs, queue) = std::sync::mpsc::channel::<Box<dyn FnOnce() + Send>>();
        std::thread::Builder::new()
            .name("burrow-host".into())
            .spawn(move || queue.into_iter().for_each(|job| job()))
            .map_err(|source| Error::Spawn { source })?;
        Ok(HostSide { jobs })
    }

    /// Run `f` there and wait for its result (`None`: the thread is gone).
    fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> Option<T> {
        let (tx, rx) = std::sync::mpsc::channel();
        self.jobs.send(Box::new(move || drop(tx.send(f())))).ok()?;
        rx.recv().ok()
    }
}

/// `lo` and `br0` with the gateway addresses, up (in this namespace).
fn make_bridge(plan: &HolderPlan) -> Result<()> {
    let mut nl = Netlink::open()?;
    nl.set_up("lo")?;
    nl.create_bridge(BRIDGE, plan.mtu, Some(plan.mac))?;
    nl.add_address(BRIDGE, IpAddr::V4(plan.gateway), plan.prefix_len)?;
    if let Some((gw6, prefix6)) = plan.gateway6 {
        nl.add_address(BRIDGE, IpAddr::V6(gw6), prefix6)?;
    }
    nl.set_up(BRIDGE)?;
    Ok(())
}

/// Forwarding for this namespace (net sysctls are per namespace, and
/// writable by root of the user namespace that owns it).
fn enable_forwarding(ipv6: bool) -> Result<()> {
    let mut knobs = vec!["/proc/sys/net/ipv4/ip_forward"];
    if ipv6 {
        knobs.push("/proc/sys/net/ipv6/conf/all/forwarding");
    }
    for path in knobs {
        std::fs::write(path, "1").map_err(|source| Error::Forwarding { path, source })?;
    }
    Ok(())
}

/// Plug a container into the network whose holder's namespace is
/// `holder`; on failure nothing of the endpoint is left behind.
pub fn attach(holder: BorrowedFd<'_>, container: BorrowedFd<'_>, ep: &Endpoint) -> Result<()> {
    ep.check()?;
    in_netns(holder, || -> Result<()> {
        let mut nl = Netlink::open()?;
        let veth = Veth { name: &ep.host_ifname, peer: &ep.ifname, mtu: ep.mtu, peer_mac: Some(ep.mac), peer_netns: Some(container) };
        nl.create_veth(&veth)?;
        let port = nl.set_master(&ep.host_ifname, BRIDGE).and_then(|_| nl.set_up(&ep.host_ifname));
        if port.is_err() {
            let _ = nl.delete_link(&ep.host_ifname);
        }
        Ok(port?)
    })??;
    let inside = in_netns(container, || configure_inside(ep)).map_err(Error::from).and_then(|r| r);
    if inside.is_err() {
        let _ = detach(holder, ep);
    }
    inside
}

/// The container's side: address, link up, default route (this namespace).
fn configure_inside(ep: &Endpoint) -> Result<()> {
    let mut nl = Netlink::open()?;
    nl.add_address(&ep.ifname, IpAddr::V4(ep.addr), ep.prefix_len)?;
    if let Some((addr6, prefix6, _)) = ep.ipv6 {
        nl.add_address(&ep.ifname, IpAddr::V6(addr6), prefix6)?;
    }
    nl.set_up(&ep.ifname)?;
    if ep.default_route {
        nl.add_default_route(&ep.ifname, IpAddr::V4(ep.gateway))?;
        if let Some((_, _, gw6)) = ep.ipv6 {
            nl.add_default_route(&ep.ifname, IpAddr::V6(gw6))?;
        }
    }
    Ok(())
}

/// Unplug a container: deleting the bridge's end of the pair deletes the
/// container's end with it.
pub fn detach(holder: BorrowedFd<'_>, ep: &Endpoint) -> Result<()> {
    in_netns(holder, || -> Result<()> { Ok(Netlink::open()?.delete_link(&ep.host_ifname)?) })?
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> HolderPlan {
        HolderPlan {
            gateway: "10.89.0.1".parse().unwrap(),
            prefix_len: 24,
            gateway6: None,
            mtu: 1500,
            mac: [0x02, 0, 0, 0, 0, 1],
            uplink: None,
        }
    }

    fn endpoint() -> Endpoint {
        Endpoint {
            host_ifname: Endpoint::host_ifname_for("0123456789abcdef0123"),
            ifname: "eth0".into(),
            mac: [0x02, 0, 0, 0, 0, 2],
            mtu: 1500,
            addr: "10.89.0.2".parse().unwrap(),
            prefix_len: 24,
            gateway: "10.89.0.1".parse().unwrap(),
            ipv6: None,
            default_route: true,
        }
    }

    #[test]
    fn host_side_names_fit_the_kernel_limit() {
        let name = Endpoint::host_ifname_for("0123456789abcdef0123");
        assert_eq!(name, "vb0123456789abc");
        assert!(link::valid_ifname(&name));
        assert_eq!(Endpoint::host_ifname_for("a-b"), "vbab");
    }

    #[test]
    fn plans_are_checked() {
        assert!(plan().check().is_ok());
        assert!(HolderPlan { prefix_len: 31, ..plan() }.check().is_err());
        assert!(HolderPlan { mtu: 10, ..plan() }.check().is_err());
        assert!(HolderPlan { mac: [1, 0, 0, 0, 0, 1], ..plan() }.check().is_err(), "multicast");
        assert!(HolderPlan { gateway6: Some(("fd00::1".parse().unwrap(), 128)), ..plan() }.check().is_err());
        assert!(HolderPlan { gateway6: Some(("fd00::1".parse().unwrap(), 64)), ..plan() }.check().is_ok());
    }

    #[test]
    fn endpoints_are_checked() {
        assert!(endpoint().check().is_ok());
        assert!(Endpoint { addr: "10.89.1.2".parse().unwrap(), ..endpoint() }.check().is_err(), "other subnet");
        assert!(Endpoint { addr: "10.89.0.1".parse().unwrap(), ..endpoint() }.check().is_err(), "the gateway itself");
        assert!(Endpoint { ifname: "a/b".into(), ..endpoint() }.check().is_err());
        assert!(Endpoint { mac: [3, 0, 0, 0, 0, 0], ..endpoint() }.check().is_err());
    }

    #[test]
    fn a_missing_directory_has_no_holder() {
        let dir = tempfile::tempdir().unwrap();
        assert!(NetnsHolder::find(&dir.path().join("none")).unwrap().is_none());
        std::fs::write(dir.path().join(LOCK), "").unwrap();
        std::fs::write(dir.path().join(PID), "1\n").unwrap();
        assert!(NetnsHolder::find(dir.path()).unwrap().is_none(), "a free lock means no holder, whatever the pid file says");
    }

    #[test]
    fn reports_round_trip() {
        let line = serde_json::to_string(&Report::Ready { pid: 42 }).unwrap();
        assert!(matches!(serde_json::from_str(&line).unwrap(), Report::Ready { pid: 42 }));
    }
}
