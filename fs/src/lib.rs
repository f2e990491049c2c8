//! burrow-fs: the layered root filesystem of burrow containers.
//!
//! A container's root is a stack of read-only image layers with one writable
//! directory on top. This crate holds the layer rules of the OCI image
//! specification (`whiteout`: which names hide lower files) and will hold
//! the FUSE overlay that serves the merged tree. It never depends on the
//! `burrow` engine crate.

pub mod whiteout;
