//! Published ports of containers on a user-defined network.
//!
//! The network's holder runs the one burrow-netstack its containers'
//! outside traffic goes through (`uplink`), so a container's `-p` ports
//! are served there too. The container's side binds them (at each start,
//! so a taken port fails that start with docker's error and nothing
//! runs) and hands the bound sockets to the holder over its control
//! socket, `networks/<name>/holder.sock` (a `SOCK_SEQPACKET` Unix socket,
//! so each message keeps its bounds): one or more messages of JSON
//! (`Chunk`: the container's address and the mappings) each carrying the
//! descriptors with `SCM_RIGHTS`, in order, the last one marked; the
//! holder answers once (`Answer`).
//!
//! The connection is the publication's life: the container's side keeps
//! it open while the container runs, and the holder withdraws the ports
//! when it reads end-of-file, whether the container ended, its
//! supervisor was killed, or anything in between. [`Publication`]'s drop
//! shuts its side and waits for the holder to close too, which it does
//! only once the ports are closed, so a container restarted at once
//! finds its host ports free again.

use std::io::{IoSlice, IoSliceMut};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use burrow_netstack::inbound::{Bound, Published};
use burrow_netstack::ports::{PortMapping, Proto};
use nix::sys::socket::{self, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags, SockFlag, SockType, UnixAddr};
use nix::sys::time::TimeVal;

/// The control socket in the network's directory.
pub const SOCK: &str = "holder.sock";
/// Descriptors per message (the kernel takes at most 253).
const PER_MESSAGE: usize = 128;
/// The largest message.
const MESSAGE: usize = 64 * 1024;
/// How long a withdrawal may take before the container's side goes on.
const RELEASE_PATIENCE: Duration = Duration::from_secs(5);

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot reach the network's holder at {path}: {source}")]
    Connect { path: PathBuf, source: nix::Error },
    #[error("cannot talk to the network's holder at {path}: {source}")]
    Talk { path: PathBuf, source: nix::Error },
    #[error("the network's holder refused the published ports: {message}")]
    Refused { message: String },
    #[error("the network's holder closed the connection without an answer ({path})")]
    NoAnswer { path: PathBuf },
    #[error("cannot serve published ports at {path}: {source}")]
    Serve { path: PathBuf, source: nix::Error },
}

pub type Result<T> = std::result::Result<T, Error>;

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Chunk {
    target: IpAddr,
    ports: Vec<Port>,
    last: bool,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Port {
    host_ip: Option<IpAddr>,
    host_port: u16,
    container_port: u16,
    udp: bool,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(tag = "answer", rename_all = "lowercase")]
enum Answer {
    Ok,
    Failed { message: String },
}

impl Port {
    fn of(m: &PortMapping) -> Port {
        Port { host_ip: m.host_ip, host_port: m.host_port, container_port: m.container_port, udp: m.proto == Proto::Udp }
    }

    /// The published socket, from its mapping and the descriptor that
    /// came with it.
    fn published(&self, fd: OwnedFd) -> Published {
        let (proto, socket) = if self.udp {
            (Proto::Udp, Bound::Udp(std::net::UdpSocket::from(fd)))
        } else {
            (Proto::Tcp, Bound::Tcp(std::net::TcpListener::from(fd)))
        };
        let mapping = PortMapping { host_ip: self.host_ip, host_port: self.host_port, container_port: self.container_port, proto };
        Published { mapping, socket }
    }
}

fn raw(p: &Published) -> RawFd {
    match &p.socket {
        Bound::Tcp(l) => l.as_raw_fd(),
        Bound::Udp(u) => u.as_raw_fd(),
    }
}

fn seqpacket() -> nix::Result<OwnedFd> {
    socket::socket(AddressFamily::Unix, SockType::SeqPacket, SockFlag::SOCK_CLOEXEC, None)
}

/// Ports published for one container; dropping it withdraws them.
#[derive(Debug)]
pub struct Publication {
    sock: OwnedFd,
}

impl Drop for Publication {
    fn drop(&mut self) {
        let fd = self.sock.as_raw_fd();
        let _ = socket::shutdown(fd, socket::Shutdown::Write);
        let _ = socket::setsockopt(&self.sock, socket::sockopt::ReceiveTimeout, &TimeVal::new(RELEASE_PATIENCE.as_secs() as _, 0));
        let mut buf = [0u8; 64];
        // The holder closes its end once the ports are closed.
        while let Ok(n) = socket::recv(fd, &mut buf, MsgFlags::empty()) {
            if n == 0 {
                break;
            }
        }
    }
}

/// Hand `ports` (bound on the host) to the holder of the network in
/// `dir`, for the container at `target`. Sent, this process's copies of
/// the sockets close.
pub fn publish(dir: &Path, target: IpAddr, ports: Vec<Published>) -> Result<Publication> {
    let path = dir.join(SOCK);
    let sock = seqpacket().map_err(|source| Error::Connect { path: path.clone(), source })?;
    let addr = UnixAddr::new(&path).map_err(|source| Error::Connect { path: path.clone(), source })?;
    socket::connect(sock.as_raw_fd(), &addr).map_err(|source| Error::Connect { path: path.clone(), source })?;
    let talk = |source| Error::Talk { path: path.clone(), source };
    let chunks: Vec<&[Published]> = if ports.is_empty() { vec![&[]] } else { ports.chunks(PER_MESSAGE).collect() };
    let count = chunks.len();
    for (i, chunk) in chunks.into_iter().enumerate() {
        let msg = Chunk { target, ports: chunk.iter().map(|p| Port::of(&p.mapping)).collect(), last: i + 1 == count };
        let json = serde_json::to_vec(&msg).unwrap_or_default();
        let fds: Vec<RawFd> = chunk.iter().map(raw).collect();
        let cmsg = if fds.is_empty() { vec![] } else { vec![ControlMessage::ScmRights(&fds)] };
        socket::sendmsg::<()>(sock.as_raw_fd(), &[IoSlice::new(&json)], &cmsg, MsgFlags::empty(), None).map_err(talk)?;
    }
    drop(ports);
    let mut buf = vec![0u8; MESSAGE];
    let n = socket::recv(sock.as_raw_fd(), &mut buf, MsgFlags::empty()).map_err(talk)?;
    match serde_json::from_slice::<Answer>(&buf[..n]) {
        Ok(Answer::Ok) => Ok(Publication { sock }),
        Ok(Answer::Failed { message }) => Err(Error::Refused { message }),
        Err(_) => Err(Error::NoAnswer { path }),
    }
}

/// What the holder's side publishes through: the network's stack.
pub trait Stack: Send + Sync + 'static {
    fn publish(&self, owner: u64, target: IpAddr, ports: Vec<Published>) -> std::result::Result<(), burrow_netstack::Error>;
    fn withdraw(&self, owner: u64);
}

impl Stack for burrow_netstack::Handle {
    fn publish(&self, owner: u64, target: IpAddr, ports: Vec<Published>) -> std::result::Result<(), burrow_netstack::Error> {
        burrow_netstack::Handle::publish(self, owner, target, ports)
    }
    fn withdraw(&self, owner: u64) {
        if let Err(e) = burrow_netstack::Handle::withdraw(self, owner) {
            tracing::warn!(%e, "cannot withdraw published ports");
        }
    }
}

/// The holder's side: listen on `dir`'s control socket and serve each
/// container's publication on a thread of its own, until the process
/// exits.
pub fn serve(dir: &Path, stack: Arc<dyn Stack>) -> Result<()> {
    let path = dir.join(SOCK);
    let failed = |source| Error::Serve { path: path.clone(), source };
    // A previous holder's socket (this one holds the network's lock).
    let _ = std::fs::remove_file(&path);
    let sock = seqpacket().map_err(failed)?;
    let addr = UnixAddr::new(&path).map_err(failed)?;
    socket::bind(sock.as_raw_fd(), &addr).map_err(failed)?;
    socket::listen(&sock, socket::Backlog::new(64).unwrap_or(socket::Backlog::MAXCONN)).map_err(failed)?;
    let owners = AtomicU64::new(1);
    std::thread::Builder::new()
        .name("burrow-publish".into())
        .spawn(move || loop {
            let conn = match socket::accept4(sock.as_raw_fd(), SockFlag::SOCK_CLOEXEC) {
                // SAFETY: accept4 returned a new descriptor, ours.
                Ok(fd) => unsafe { OwnedFd::from_raw_fd(fd) },
                Err(nix::errno::Errno::EINTR | nix::errno::Errno::ECONNABORTED) => continue,
                Err(e) => {
                    tracing::warn!(%e, "the control socket failed: no more ports can be published");
                    return;
                }
            };
            let owner = owners.fetch_add(1, Ordering::Relaxed);
            let stack = stack.clone();
            let _ = std::thread::Builder::new().name("burrow-publish".into()).spawn(move || connection(conn, owner, &*stack));
        })
        .map(|_| ())
        .map_err(|e| failed(nix::errno::Errno::from_raw(e.raw_os_error().unwrap_or(libc::EAGAIN))))
}

/// One container's publication: its chunks, the answer, then the wait
/// for its end.
fn connection(conn: OwnedFd, owner: u64, stack: &dyn Stack) {
    let answer = match receive(&conn, owner, stack) {
        Ok(()) => Answer::Ok,
        Err(message) => {
            stack.withdraw(owner);
            Answer::Failed { message }
        }
    };
    let ok = matches!(answer, Answer::Ok);
    let json = serde_json::to_vec(&answer).unwrap_or_default();
    let _ = socket::send(conn.as_raw_fd(), &json, MsgFlags::empty());
    if ok {
        let mut buf = [0u8; 64];
        // Until the container's side shuts down or dies.
        while let Ok(n) = socket::recv(conn.as_raw_fd(), &mut buf, MsgFlags::empty()) {
            if n == 0 {
                break;
            }
        }
        stack.withdraw(owner);
    }
}

/// Read the chunks and publish them; the failure's text for the answer.
fn receive(conn: &OwnedFd, owner: u64, stack: &dyn Stack) -> std::result::Result<(), String> {
    let mut buf = vec![0u8; MESSAGE];
    loop {
        let mut space = nix::cmsg_space!([RawFd; PER_MESSAGE]);
        let mut iov = [IoSliceMut::new(&mut buf)];
        let msg = socket::recvmsg::<()>(conn.as_raw_fd(), &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(|e| format!("cannot read the request: {e}"))?;
        let mut fds = Vec::new();
        for c in msg.cmsgs().map_err(|e| format!("cannot read the request: {e}"))? {
            if let ControlMessageOwned::ScmRights(got) = c {
                // SAFETY: the kernel just installed these descriptors for us.
                fds.extend(got.into_iter().map(|fd| unsafe { OwnedFd::from_raw_fd(fd) }));
            }
        }
        let n = msg.bytes;
        if n == 0 {
            return Err("the container's side left before its request was complete".into());
        }
        let chunk: Chunk = serde_json::from_slice(&buf[..n]).map_err(|e| format!("invalid request: {e}"))?;
        if chunk.ports.len() != fds.len() {
            return Err(format!("{} ports came with {} sockets", chunk.ports.len(), fds.len()));
        }
        let ports = chunk.ports.iter().zip(fds).map(|(p, fd)| p.published(fd)).collect();
        stack.publish(owner, chunk.target, ports).map_err(|e| e.to_string())?;
        if chunk.last {
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Records what the holder's side asks of the stack.
    #[derive(Default)]
    struct Recorder {
        events: Mutex<Vec<String>>,
        kept: Mutex<Vec<Published>>,
    }

    impl Stack for Recorder {
        fn publish(&self, owner: u64, target: IpAddr, ports: Vec<Published>) -> std::result::Result<(), burrow_netstack::Error> {
            for p in &ports {
                self.events.lock().unwrap().push(format!("publish {owner} {target} {}", p.mapping));
            }
            self.kept.lock().unwrap().extend(ports);
            Ok(())
        }
        fn withdraw(&self, owner: u64) {
            self.kept.lock().unwrap().clear();
            self.events.lock().unwrap().push(format!("withdraw {owner}"));
        }
    }

    #[test]
    fn ports_travel_with_their_sockets_and_are_withdrawn_when_the_publication_ends() {
        let dir = tempfile::tempdir().unwrap();
        let stack = Arc::new(Recorder::default());
        serve(dir.path(), stack.clone()).unwrap();
        let mut wanted: Vec<PortMapping> = (0..PER_MESSAGE + 2)
            .map(|_| PortMapping { host_ip: Some("127.0.0.1".parse().unwrap()), host_port: 0, container_port: 80, proto: Proto::Tcp })
            .collect();
        wanted.push(PortMapping { host_ip: Some("127.0.0.1".parse().unwrap()), host_port: 0, container_port: 53, proto: Proto::Udp });
        let bound = burrow_netstack::bind(&wanted).unwrap();
        let first = bound[0].mapping.host_port;
        let publication = publish(dir.path(), "10.89.0.5".parse().unwrap(), bound).unwrap();
        let events = stack.events.lock().unwrap().clone();
        assert_eq!(events.len(), PER_MESSAGE + 3, "two messages, every port: {events:?}");
        assert!(events[0].starts_with("publish 1 10.89.0.5 80/tcp -> 127.0.0.1:"), "{events:?}");
        assert!(events.last().unwrap().starts_with("publish 1 10.89.0.5 53/udp"), "{events:?}");
        // The holder's copy is the one that listens now.
        let kept = stack.kept.lock().unwrap();
        let Bound::Tcp(l) = &kept[0].socket else { panic!("a TCP port came back as UDP") };
        assert_eq!(l.local_addr().unwrap().port(), first);
        drop(kept);
        drop(publication);
        assert_eq!(stack.events.lock().unwrap().last().unwrap(), "withdraw 1");
        assert!(std::net::TcpListener::bind(("127.0.0.1", first)).is_ok(), "the port is free once the publication is dropped");
    }

    #[test]
    fn a_missing_holder_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let err = publish(dir.path(), "10.89.0.5".parse().unwrap(), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("holder.sock"), "{err}");
    }
}
