//! burrow-netstack: the userspace network of rootless burrow containers.
//!
//! Containers get a private network namespace; this crate will carry its
//! traffic from a TAP device through smoltcp to host sockets. Today it holds
//! the addressing plan of the virtual network (`config`), which the engine
//! uses to write the container's resolv.conf and hosts files and which the
//! stack will serve. It never depends on the `burrow` engine crate.

pub mod config;
