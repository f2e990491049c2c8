//! burrow-netstack: the userspace network of rootless burrow containers.
//!
//! A container gets its own network namespace with one TAP device in it
//! (made by the engine); this crate serves the other end of that TAP.
//! Frames are read by one event-loop thread (`stack`) and classified
//! (`frame`): TCP goes through smoltcp, which terminates the container's
//! connections so each can be carried over an ordinary host socket
//! (`tcp`); UDP and ICMP echo are carried by hand (`udp`, `icmp`). Where
//! a flow goes is one pure decision (`forward`): the gateway is the
//! host's loopback only when the user allows it, the DNS address is the
//! host's nameserver. Published ports (`inbound`) keep the client's
//! address, through the stack or, for clients on the host's loopback,
//! through a socket made inside the container's namespace and spliced
//! (`splice`). The flow table's states and bounds are in `flow`. The
//! same stack is a user-defined network's way out: its peer is then the
//! network's namespace, a router with the network's subnets behind it
//! (`Options::routed`), and ports are published while it runs, each
//! towards one container's address (`publish`).
//!
//! Pure pieces the engine uses too: the addressing plan (`config`), the
//! `--network` value (`mode`), the `-p` syntax (`ports`). The crate never
//! depends on the `burrow` engine crate.

pub mod config;
mod device;
pub mod flow;
pub mod forward;
pub mod frame;
pub mod icmp;
pub mod inbound;
pub mod mode;
mod pcap;
pub mod ports;
pub mod publish;
mod splice;
pub mod stack;
pub mod stats;
mod tcp;
mod udp;

pub use flow::Limits;
pub use forward::Plan;
pub use inbound::{bind, Published};
pub use stack::{start, Handle, Options};
pub use stats::Stats;

/// Why the network could not be set up.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("host port {port} is already in use: publish another host port (-p OTHER:CONTAINERPORT) or stop what holds it")]
    PortInUse { port: String },
    #[error("host port {port} is privileged: ordinary users may bind ports from {start} up (net.ipv4.ip_unprivileged_port_start); publish a higher host port, e.g. -p 8080:80")]
    PortPrivileged { port: String, start: u16 },
    #[error("cannot bind host port {port}: {source}")]
    Bind { port: String, source: std::io::Error },
    #[error("cannot write the packet capture {}: {source}", path.display())]
    Pcap { path: std::path::PathBuf, source: std::io::Error },
    #[error("cannot set up {what}: {source}")]
    Io { what: &'static str, source: std::io::Error },
}
