//! The fast path for clients on the host's own loopback.
//!
//! A client of a published port that connects from 127.0.0.2 cannot be
//! shown to the container as 127.0.0.2 through the TAP: inside the
//! container that address is its own loopback, so the kernel would drop
//! the packets as martians, and replies would never leave. Instead a
//! thread enters the container's network namespace (network namespaces
//! are per thread) and connects to the container's address *from the
//! client's own loopback address and port* there; the container's kernel
//! sees exactly the client's address, and the bytes never cross the
//! userspace stack: `splice(2)` moves them between the two kernel sockets
//! through a pipe, as fast as loopback allows. UDP clients get a socket
//! made the same way (`in_netns`).

use std::fs::File;
use std::io;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::Arc;

/// Run `f` on a thread inside the network namespace `ns`.
pub fn in_netns<T: Send>(ns: &File, f: impl FnOnce() -> io::Result<T> + Send) -> io::Result<T> {
    std::thread::scope(|s| {
        s.spawn(|| {
            enter(ns)?;
            f()
        })
        .join()
        .unwrap_or_else(|_| Err(io::Error::other("netns thread panicked")))
    })
}

fn enter(ns: &File) -> io::Result<()> {
    // SAFETY: setns on a namespace descriptor we hold; affects this thread.
    if unsafe { libc::setns(ns.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// A socket of `kind` bound to `bind` (or, if that port is taken, to the
/// same address and any port) and, with `target`, connected to it, in the
/// current thread's namespace.
pub fn socket_from(kind: libc::c_int, bind: SocketAddr, target: Option<SocketAddr>) -> io::Result<OwnedFd> {
    use nix::sys::socket::SockaddrStorage;
    let family = if bind.is_ipv4() { libc::AF_INET } else { libc::AF_INET6 };
    // SAFETY: socket(2) returns a new descriptor or -1.
    let fd = unsafe { libc::socket(family, kind | libc::SOCK_CLOEXEC, 0) };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is new and ours.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    if nix::sys::socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(bind)).is_err() {
        nix::sys::socket::bind(fd.as_raw_fd(), &SockaddrStorage::from(SocketAddr::new(bind.ip(), 0))).map_err(io::Error::from)?;
    }
    if let Some(target) = target {
        nix::sys::socket::connect(fd.as_raw_fd(), &SockaddrStorage::from(target)).map_err(io::Error::from)?;
    }
    Ok(fd)
}

/// Serve one loopback client: connect inside `ns` from `client_addr` to
/// `target` and splice both ways until both sides are done.
pub fn spawn(ns: Arc<File>, client: TcpStream, client_addr: SocketAddr, target: SocketAddr) {
    let span = tracing::Span::current();
    let spawned = std::thread::Builder::new().name("burrow-splice".into()).spawn(move || {
        let _span = span.entered();
        let inner = enter(&ns).and_then(|_| socket_from(libc::SOCK_STREAM, client_addr, Some(target)));
        let inner = match inner {
            Ok(fd) => TcpStream::from(fd),
            Err(e) => {
                tracing::debug!(%target, %e, "published port: the container refused");
                reset(&client);
                return;
            }
        };
        let _ = client.set_nonblocking(false);
        let _ = client.set_nodelay(true);
        let _ = inner.set_nodelay(true);
        let (Ok(c2), Ok(i2)) = (client.try_clone(), inner.try_clone()) else { return };
        let back = std::thread::Builder::new().name("burrow-splice".into()).spawn(move || pump(&i2, &c2));
        pump(&client, &inner);
        if let Ok(t) = back {
            let _ = t.join();
        }
    });
    if let Err(e) = spawned {
        tracing::warn!(%e, "cannot start a thread for a published port's client");
    }
}

/// Make closing `s` send RST instead of FIN.
pub(crate) fn reset(s: &impl AsRawFd) {
    let l = libc::linger { l_onoff: 1, l_linger: 0 };
    // SAFETY: setsockopt with a valid linger struct on a socket we hold.
    unsafe {
        libc::setsockopt(
            s.as_raw_fd(),
            libc::SOL_SOCKET,
            libc::SO_LINGER,
            (&l as *const libc::linger).cast(),
            std::mem::size_of::<libc::linger>() as libc::socklen_t,
        );
    }
}

const CHUNK: usize = 1 << 20;

/// Move bytes from `from` to `to` until end of file, then half-close `to`.
fn pump(from: &TcpStream, to: &TcpStream) {
    let mut fds = [0; 2];
    // SAFETY: pipe2 fills two descriptors.
    if unsafe { libc::pipe2(fds.as_mut_ptr(), libc::O_CLOEXEC) } != 0 {
        let _ = to.shutdown(Shutdown::Both);
        return;
    }
    // SAFETY: both descriptors are new and ours.
    let (pr, pw) = unsafe { (OwnedFd::from_raw_fd(fds[0]), OwnedFd::from_raw_fd(fds[1])) };
    // A larger pipe moves more per call; the default limit allows 1 MiB.
    // SAFETY: fcntl on our pipe.
    unsafe { libc::fcntl(pw.as_raw_fd(), libc::F_SETPIPE_SZ, CHUNK as libc::c_int) };
    let flags = libc::SPLICE_F_MOVE;
    loop {
        // SAFETY: splice between descriptors we hold, no offsets.
        let n = unsafe { libc::splice(from.as_raw_fd(), std::ptr::null_mut(), pw.as_raw_fd(), std::ptr::null_mut(), CHUNK, flags) };
        if n == 0 {
            let _ = to.shutdown(Shutdown::Write);
            return;
        }
        if n < 0 {
            if io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                continue;
            }
            reset(to);
            let _ = to.shutdown(Shutdown::Both);
            return;
        }
        let mut left = n as usize;
        while left > 0 {
            // SAFETY: as above.
            let m = unsafe { libc::splice(pr.as_raw_fd(), std::ptr::null_mut(), to.as_raw_fd(), std::ptr::null_mut(), left, flags) };
            if m <= 0 {
                if m < 0 && io::Error::last_os_error().kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                let _ = from.shutdown(Shutdown::Read);
                reset(from);
                return;
            }
            left -= m as usize;
        }
    }
}
