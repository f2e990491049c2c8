//! burrow: a rootless, daemonless container engine.
//!
//! This crate is the engine library; `src/main.rs` and `src/cli/` are a thin
//! command line over it. The modules follow the life of a container:
//! `paths` finds the store, `private_dir` keeps its root to its user,
//! `userns` puts this process into the user's namespace so it may own files
//! as container ids, `image` keeps images as an
//! OCI layout, `container` keeps container records and builds their root
//! filesystem, and `process` runs the container's first process in its new
//! namespaces. `monitor` supervises a detached container after the command
//! that started it has exited. `volume` keeps volumes and turns the mount
//! flags into mounts. `limits` enforces resource limits through delegated
//! cgroups and rlimits. `network` writes the files a container reads to find the
//! network (resolv.conf, hosts) from the flags and the host's files. `info`
//! reports what this host allows and how to fix what it does not. `build`
//! parses Dockerfiles into typed stages for `burrow build`. `text` keeps
//! what messages quote (long paths, raw bytes) readable. `rmtree` is the
//! one way a directory tree is removed, at any depth.

pub mod atomic;
pub mod build;
pub mod compose;
pub mod container;
pub mod du;
pub mod image;
pub mod info;
pub mod limits;
pub mod lock;
pub mod model;
pub mod network;
pub mod passwd;
pub mod paths;
pub mod private_dir;
pub mod process;
pub mod registry;
pub mod rmtree;
pub mod text;
pub mod userns;
pub mod volume;
