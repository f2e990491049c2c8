//! burrow-overlayfs: fuse-overlayfs compatible command line (stub).
fn main() {
    std::process::exit(1);
}
