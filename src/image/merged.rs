//! Reading an image's files before any mount: a path in the merged
//! layers, whether it is a directory, a small file's contents.
//!
//! The merge rule is burrow-fs's own (`burrow_fs::Merged`: whiteouts,
//! opaque directories, the topmost layer wins), so these find exactly what
//! a container's mounted root shows; `create` (`--user`, VOLUME copies),
//! `COPY --from` and `--chown` read the image through them.

use std::fs;
use std::path::{Path, PathBuf};

/// The path, in the topmost layer that shows it, of the merged entry
/// `rel` ("etc/passwd"), or `None` when no layer has it or a whiteout or
/// opaque directory above hides it. Symlinks in `rel`'s directories are
/// not followed across layers. The rule is burrow-fs's own
/// (`burrow_fs::Merged`), so this finds exactly what the mounted root shows.
pub fn find(layers_top_first: &[PathBuf], rel: &str) -> Option<PathBuf> {
    if rel.split('/').all(|p| p.is_empty()) {
        return layers_top_first.first().cloned();
    }
    let merged = burrow_fs::Merged::open(layers_top_first).ok()?;
    merged.lookup(rel).ok().flatten().map(|e| e.path)
}

/// Whether the merged layers have a directory (not a symlink to one) at
/// `rel`; the root always is one.
pub fn is_dir(layers_top_first: &[PathBuf], rel: &str) -> bool {
    burrow_fs::Merged::open(layers_top_first).is_ok_and(|m| m.is_dir(rel).unwrap_or(false))
}

/// Read the merged file `rel` of an image (empty when it is missing).
pub fn read_merged(layers_top_first: &[PathBuf], rel: &str) -> String {
    let Some(path) = find(layers_top_first, rel) else { return String::new() };
    let layer = layers_top_first.iter().find(|l| path.starts_with(l));
    layer.and_then(|l| read_in_root(l, rel)).unwrap_or_default()
}

/// Read `rel` resolving every symlink as if `root` were `/`
/// (openat2(2) RESOLVE_IN_ROOT), so an image cannot make burrow read a
/// host file through a link such as `etc/passwd -> /etc/shadow`.
fn read_in_root(root: &Path, rel: &str) -> Option<String> {
    use std::io::Read;
    use std::os::fd::FromRawFd;
    let dir = fs::File::open(root).ok()?;
    let c = std::ffi::CString::new(rel).ok()?;
    // SAFETY: open_how is plain data; zero is a valid value for every field.
    let mut how: libc::open_how = unsafe { std::mem::zeroed() };
    how.flags = (libc::O_RDONLY | libc::O_CLOEXEC) as u64;
    how.resolve = libc::RESOLVE_IN_ROOT | libc::RESOLVE_NO_MAGICLINKS;
    // SAFETY: valid fd, NUL-terminated path and an open_how of the size given.
    let fd = unsafe {
        libc::syscall(libc::SYS_openat2, std::os::fd::AsRawFd::as_raw_fd(&dir), c.as_ptr(), &how, std::mem::size_of::<libc::open_how>())
    };
    if fd < 0 {
        return None;
    }
    // SAFETY: the kernel returned a new fd that we now own.
    let mut f = unsafe { fs::File::from_raw_fd(fd as i32) };
    let mut text = String::new();
    f.read_to_string(&mut text).ok()?;
    Some(text)
}
