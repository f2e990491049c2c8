//! The container's root, mounted by the container and served by burrow.
//!
//! Order, and why:
//! 1. The container's first process, once its namespaces and id maps
//!    exist, makes every mount private, opens `/dev/fuse` and mounts it
//!    at the root directory with `allow_other` (container processes run
//!    as many ids) and `default_permissions` (the kernel enforces modes,
//!    as on any filesystem). The mount belongs to the container's user
//!    namespace, so the ids in FUSE requests and replies are the
//!    container's own ids, which are the ids stored in the layers and the
//!    upper: `chown 33:33` inside stores 33 in burrow's namespace (the
//!    subordinate id start + 32 on the host), and a keep-id container,
//!    whose nested namespace renumbers burrow's ids, still sees every
//!    image file with the owner the image gave it, with no translation
//!    in the server.
//! 2. It passes the FUSE descriptor to `burrow run` over a socket and
//!    closes its own copy, so nothing in the container can keep the
//!    connection alive; its next access to the root waits for the server.
//! 3. `burrow run` (root in burrow's user namespace, so it can create
//!    files of every mapped owner) serves with worker threads; the
//!    kernel's INIT request is already queued.
//! 4. The mount exists only in the container's mount namespace: when the
//!    container's last process exits it is gone, the kernel ends the
//!    connection and the server's threads return. A `kill -9` of
//!    `burrow run` closes the server's descriptor, which aborts the
//!    connection, and the container dies by PR_SET_PDEATHSIG: nothing is
//!    left mounted anywhere.

use std::os::fd::{AsFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::fcntl::OFlag;
use nix::mount::{mount, MsFlags};
use nix::sys::stat::Mode;

use super::channel::{self, FdRole};
use super::setup_error::SetupError;

/// Why the container's root could not be served.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("cannot receive the container's root from its first process: {source}")]
    Receive { source: Box<super::Error> },
    #[error("cannot serve the container's root: {source}")]
    Serve { source: burrow_fs::Error },
}

/// Child side, steps 1 and 2. `root_mode` is the root directory's mode.
pub fn mount_and_send(root: &Path, root_mode: u32, sock: &OwnedFd) -> Result<(), SetupError> {
    let fd =
        nix::fcntl::open("/dev/fuse", OFlag::O_RDWR | OFlag::O_CLOEXEC, Mode::empty()).map_err(|source| SetupError::OpenFuse { source })?;
    // SAFETY: open returned a new descriptor that nothing else owns.
    let fd = unsafe { OwnedFd::from_raw_fd(fd) };
    let data = burrow_fs::mount_data(fd.as_fd(), root_mode);
    mount(Some("burrow"), root, Some("fuse.burrow"), MsFlags::empty(), Some(data.as_str()))
        .map_err(|source| SetupError::MountRoot { path: root.to_path_buf(), source })?;
    channel::send_fd(sock, FdRole::FuseRoot, &fd).map_err(|source| SetupError::Hand { role: FdRole::FuseRoot, source })
}

/// The root while burrow-fs serves it.
pub struct Serving {
    server: burrow_fs::Server,
}

/// Parent side, step 3: `None` when the child closed the socket without
/// sending (it failed, and says why on the error pipe).
pub fn receive_and_serve(sock: &OwnedFd, config: burrow_fs::Config) -> Result<Option<Serving>, Error> {
    let Some(fd) = channel::recv_fd(sock, FdRole::FuseRoot).map_err(|e| Error::Receive { source: Box::new(e) })? else {
        return Ok(None);
    };
    let server = burrow_fs::serve(fd, config, burrow_fs::default_threads()).map_err(|source| Error::Serve { source })?;
    Ok(Some(Serving { server }))
}

impl Serving {
    /// Step 4: wait for the server to stop after the container exited.
    pub fn finish(self) {
        // The connection ends with the container's mount namespace; should
        // a stray reference keep it, burrow does not wait forever for its
        // threads (they end with the process).
        let (tx, rx) = std::sync::mpsc::channel();
        let server = self.server;
        std::thread::spawn(move || {
            let _ = tx.send(server.join());
        });
        match rx.recv_timeout(std::time::Duration::from_secs(10)) {
            Ok(Err(e)) => tracing::debug!(%e, "the root's server ended with an error"),
            Ok(Ok(())) => {}
            Err(_) => tracing::warn!("the container's root is still in use after the container exited; leaving its server behind"),
        }
    }
}
