//! `burrow cp`: files between a container and the host, through the
//! container's own root.
//!
//! The container's side runs in a child process whose root directory is
//! the container's root, so a path or a symlink in the container can only
//! ever name something inside it, and which acts as the container's root
//! user, so it reads and writes every file the container's root could and
//! creates files with container owners. For a running container the child
//! joins its namespaces (`process::join::enter`, the user namespace
//! first). For a stopped (or never started) one, the child enters burrow's
//! user namespace and a private mount namespace, mounts the container's
//! root with burrow-fs exactly as `start` would (the same layers and
//! upper), and a grandchild chroots into it, while the child serves the
//! mount; the container's lifecycle lock keeps it from being started or
//! removed meanwhile. The two processes pass a tar stream through a pipe: the
//! reading side archives the source (symlinks kept as symlinks, except a
//! top-level one with `-L`), the writing side extracts it with docker's
//! naming rules (`target`, pure): into an existing directory, or as the
//! destination's new name, or, for `SRC/.`, the directory's content only.
//! Extraction never writes through a symlink it did not create the
//! destination for: every entry must be a plain relative path, and no
//! directory on the way below the destination may be a symlink. On the
//! host, files belong to the user; in the container to its root, unless
//! `-a` keeps the archive's owners.

use std::fs;
use std::io::{Read, Write};
use std::path::{Component, Path, PathBuf};

use super::record::{self, Status};
use super::Result;
use crate::paths::Paths;

/// One side of a copy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Location {
    Host(PathBuf),
    Container { key: String, path: String },
}

/// docker's reading of a `cp` argument: `NAME:PATH` is in a container
/// (a local path containing `:` can be written `./a:b`).
pub fn parse_location(arg: &str) -> Location {
    match arg.split_once(':') {
        Some((key, path)) if !key.is_empty() && !key.contains('/') => Location::Container { key: key.into(), path: path.into() },
        _ => Location::Host(arg.into()),
    }
}

#[derive(Debug, Clone, Copy, Default)]
pub struct Options {
    /// `-a`: keep the owners recorded in the archive.
    pub archive: bool,
    /// `-L`: follow a symlink given as the source.
    pub follow: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum CpError {
    #[error("copying between two containers is not supported: copy to the host first")]
    TwoContainers,
    #[error("one of the paths must be in a container (CONTAINER:PATH)")]
    NoContainer,
    #[error("{path}: {source}")]
    Io { path: String, source: std::io::Error },
    #[error("{path}: no such file or directory")]
    Missing { path: String },
    #[error("the archive entry {entry:?} is not a plain relative path: refused")]
    BadEntry { entry: String },
    #[error("{path} is a symlink inside the destination: refusing to write through it")]
    SymlinkOnTheWay { path: String },
    #[error("the parent directory of {path} does not exist")]
    NoParent { path: String },
    #[error("cannot copy a directory onto the file {path}")]
    DirOntoFile { path: String },
    #[error("{message}")]
    Inside { message: String },
    #[error(transparent)]
    Enter(crate::userns::Error),
    #[error(transparent)]
    Join(crate::process::Error),
    #[error("the image of container {name} ({image}) is no longer in the store")]
    ImageGone { name: String, image: String },
    #[error(transparent)]
    Layout(super::rootfs::Error),
    #[error("cannot {step}: {source}")]
    Sys { step: &'static str, source: nix::Error },
    #[error("cannot mount the container's root: {source}")]
    Mount { source: burrow_fs::Error },
    #[error("the copy inside the container's root failed ({status:?})")]
    CopyFailed { status: nix::Result<nix::sys::wait::WaitStatus> },
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> CpError + '_ {
    move |source| CpError::Io { path: path.display().to_string(), source }
}

/// Copy `src` to `dst`; exactly one of them is in a container. Call
/// before any thread exists, in the caller's own user namespace (a child
/// joins the container's namespaces); `enter` moves a process into
/// burrow's user namespace (for a container that is not running).
pub(crate) fn copy(
    paths: &Paths,
    src: &Location,
    dst: &Location,
    opts: Options,
    enter: &dyn Fn() -> std::result::Result<(), crate::userns::Error>,
) -> Result<()> {
    let (key, out_of_container) = match (src, dst) {
        (Location::Container { key, .. }, Location::Host(_)) => (key, true),
        (Location::Host(_), Location::Container { key, .. }) => (key, false),
        (Location::Container { .. }, Location::Container { .. }) => return Err(CpError::TwoContainers.into()),
        _ => return Err(CpError::NoContainer.into()),
    };
    let r = record::find(paths, key)?;
    let _life = super::state::lifecycle(&r.dir(paths))?;
    let r = record::observed(paths, record::find(paths, key)?);
    let running = match (r.status, r.pid) {
        (Status::Running, Some(pid)) if record::is_alive(&r) => Some(pid),
        _ => None,
    };
    let (read_end, write_end) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| CpError::Io { path: "pipe".into(), source: e.into() })?;
    let (err_read, err_write) =
        nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(|e| CpError::Io { path: "pipe".into(), source: e.into() })?;
    // SAFETY: the caller is single-threaded; the child only joins,
    // copies and exits.
    match unsafe { nix::unistd::fork() }.map_err(|e| CpError::Io { path: "fork".into(), source: e.into() })? {
        nix::unistd::ForkResult::Child => {
            drop(err_read);
            let side = |read_end: std::os::fd::OwnedFd, write_end: std::os::fd::OwnedFd| -> std::result::Result<(), CpError> {
                if out_of_container {
                    drop(read_end);
                    let Location::Container { path, .. } = src else { unreachable!("checked above") };
                    archive(Path::new(&absolute(path)), fs::File::from(write_end), opts)
                } else {
                    drop(write_end);
                    let Location::Container { path, .. } = dst else { unreachable!("checked above") };
                    extract(fs::File::from(read_end), Path::new(&absolute(path)), opts.archive)
                }
            };
            let outcome = match running {
                Some(pid) => crate::process::join::enter(pid, r.pid_start).map_err(CpError::Join).and_then(|_| side(read_end, write_end)),
                None => enter().map_err(CpError::Enter).and_then(|_| stopped_side(paths, &r, || side(read_end, write_end))),
            };
            let code = match outcome {
                Ok(()) => 0,
                Err(e) => {
                    let _ = fs::File::from(err_write).write_all(e.to_string().as_bytes());
                    1
                }
            };
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        nix::unistd::ForkResult::Parent { child } => {
            drop(err_write);
            let here = if out_of_container {
                drop(write_end);
                let Location::Host(dest) = dst else { unreachable!("checked above") };
                extract(fs::File::from(read_end), dest, false)
            } else {
                drop(read_end);
                let Location::Host(source) = src else { unreachable!("checked above") };
                archive(source, fs::File::from(write_end), opts)
            };
            let status = nix::sys::wait::waitpid(child, None);
            let mut inside = String::new();
            let _ = fs::File::from(err_read).read_to_string(&mut inside);
            if !inside.is_empty() {
                return Err(CpError::Inside { message: inside }.into());
            }
            here?;
            if !matches!(status, Ok(nix::sys::wait::WaitStatus::Exited(_, 0))) {
                return Err(CpError::Inside { message: format!("{status:?}") }.into());
            }
            Ok(())
        }
    }
}

/// In burrow's user namespace: mount the stopped container's root in a
/// private mount namespace, run `side` in a grandchild chrooted there,
/// then unmount. The grandchild is forked while the mount's server
/// threads run; it only chroots, copies and exits.
fn stopped_side(
    paths: &Paths,
    r: &record::Record,
    side: impl FnOnce() -> std::result::Result<(), CpError>,
) -> std::result::Result<(), CpError> {
    use nix::mount::{mount, MsFlags};
    let image = crate::image::Store::open(paths)
        .and_then(|s| s.resolve(r.image_id.as_str()))
        .map_err(|_| CpError::ImageGone { name: r.name.clone(), image: r.image.clone() })?;
    let layers: Vec<PathBuf> = image.layers.iter().map(|l| l.dir.clone()).collect();
    let layout = super::rootfs::Layout::of(&r.dir(paths), &layers);
    if !layout.upper.exists() {
        layout.create().map_err(CpError::Layout)?;
    }
    let sys = |step| move |source| CpError::Sys { step, source };
    nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNS).map_err(sys("make a private mount namespace"))?;
    mount(None::<&str>, "/", None::<&str>, MsFlags::MS_REC | MsFlags::MS_PRIVATE, None::<&str>).map_err(sys("make mounts private"))?;
    let cfg = burrow_fs::Config { lowers: layout.lowers.clone(), upper: layout.upper.clone(), work: layout.work.clone() };
    let mounted = burrow_fs::spawn_mount(cfg, &layout.rootfs).map_err(|source| CpError::Mount { source })?;
    let (msg_read, msg_write) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).map_err(sys("make a pipe"))?;
    // SAFETY: the grandchild only chroots, runs the copy (which allocates:
    // glibc's malloc is fork-safe) and leaves with _exit.
    let result = match unsafe { nix::unistd::fork() } {
        Ok(nix::unistd::ForkResult::Child) => {
            drop(msg_read);
            let r = nix::unistd::chroot(&layout.rootfs)
                .and_then(|_| nix::unistd::chdir("/"))
                .map_err(sys("enter the container's root"))
                .and_then(|_| side());
            let code = match r {
                Ok(()) => 0,
                Err(e) => {
                    let _ = fs::File::from(msg_write).write_all(e.to_string().as_bytes());
                    1
                }
            };
            // SAFETY: leave without running the parent's destructors.
            unsafe { libc::_exit(code) }
        }
        Ok(nix::unistd::ForkResult::Parent { child }) => {
            drop(msg_write);
            let status = nix::sys::wait::waitpid(child, None);
            let mut msg = String::new();
            let _ = fs::File::from(msg_read).read_to_string(&mut msg);
            match status {
                Ok(nix::sys::wait::WaitStatus::Exited(_, 0)) => Ok(()),
                _ if !msg.is_empty() => Err(CpError::Inside { message: msg }),
                status => Err(CpError::CopyFailed { status }),
            }
        }
        Err(source) => Err(CpError::Sys { step: "fork", source }),
    };
    drop(mounted);
    result
}

/// A container path is taken from its root.
fn absolute(path: &str) -> String {
    if path.starts_with('/') {
        path.to_string()
    } else {
        format!("/{path}")
    }
}

/// Whether the user asked for a directory's content (`SRC/.`).
fn contents_only(src: &Path) -> bool {
    src.as_os_str().as_encoded_bytes().ends_with(b"/.")
}

/// Archive `src` as one top entry named after it (`.` for `SRC/.`).
fn archive(src: &Path, out: fs::File, opts: Options) -> std::result::Result<(), CpError> {
    let meta = if opts.follow { fs::metadata(src) } else { fs::symlink_metadata(src) };
    let meta = meta.map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => CpError::Missing { path: src.display().to_string() },
        _ => CpError::Io { path: src.display().to_string(), source: e },
    })?;
    let name: PathBuf = if contents_only(src) { ".".into() } else { src.file_name().map(PathBuf::from).unwrap_or_else(|| ".".into()) };
    let mut b = tar::Builder::new(std::io::BufWriter::with_capacity(1 << 20, out));
    b.follow_symlinks(false);
    let result = if meta.is_dir() {
        // The top directory is read through its resolved path (-L), its
        // content without following anything.
        let dir = if opts.follow { fs::canonicalize(src).map_err(io(src))? } else { src.to_path_buf() };
        b.append_dir_all(&name, &dir)
    } else if opts.follow {
        b.append_file(&name, &mut fs::File::open(src).map_err(io(src))?)
    } else {
        b.append_path_with_name(src, &name)
    };
    result.and_then(|_| b.into_inner()).and_then(|mut w| w.flush()).map_err(io(src))
}

/// Where the archive's top entry goes, by docker's rules: an existing
/// directory receives it (the caller joins the top's name unless it is a
/// directory's content); otherwise `dest` becomes it, in a parent that
/// must exist.
pub fn target(dest: &Path, top_is_dir: bool, contents: bool) -> std::result::Result<PathBuf, CpError> {
    match fs::metadata(dest) {
        Ok(m) if m.is_dir() => Ok(dest.to_path_buf()),
        Ok(_) if top_is_dir => Err(CpError::DirOntoFile { path: dest.display().to_string() }),
        Ok(_) => Ok(dest.to_path_buf()),
        Err(_) if dest.as_os_str().as_encoded_bytes().ends_with(b"/") => Err(CpError::Missing { path: dest.display().to_string() }),
        Err(_) => {
            let parent = dest.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new("."));
            if !parent.is_dir() {
                return Err(CpError::NoParent { path: dest.display().to_string() });
            }
            if contents {
                fs::create_dir(dest).map_err(io(dest))?;
            }
            Ok(dest.to_path_buf())
        }
    }
}

/// An archive path as plain components, refused unless relative and
/// without `..` (a `.` component is dropped).
fn plain(entry: &Path) -> std::result::Result<PathBuf, CpError> {
    let mut out = PathBuf::new();
    for c in entry.components() {
        match c {
            Component::Normal(n) => out.push(n),
            Component::CurDir => {}
            _ => return Err(CpError::BadEntry { entry: entry.display().to_string() }),
        }
    }
    Ok(out)
}

/// Refuse to go through a symlink between `base` and `path` (exclusive of
/// `base`, inclusive of `path`'s parents).
fn no_symlinks_below(base: &Path, rel: &Path) -> std::result::Result<(), CpError> {
    let mut cur = base.to_path_buf();
    let parents: Vec<_> = rel.parent().map(|p| p.components().collect()).unwrap_or_default();
    for c in parents {
        cur.push(c);
        if fs::symlink_metadata(&cur).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(CpError::SymlinkOnTheWay { path: cur.display().to_string() });
        }
    }
    Ok(())
}

/// Extract the archive at `dest` by docker's rules (see the module).
fn extract(input: fs::File, dest: &Path, keep_owners: bool) -> std::result::Result<(), CpError> {
    let mut ar = tar::Archive::new(std::io::BufReader::with_capacity(1 << 20, input));
    // The first entry is the top (`NAME`, or `.` for a directory's
    // content); it decides where everything goes.
    let mut layout: Option<(PathBuf, PathBuf)> = None; // (top as archived, where it goes)
    for entry in ar.entries().map_err(io(dest))? {
        let mut entry = entry.map_err(io(dest))?;
        let name = plain(&entry.path().map_err(io(dest))?)?;
        let kind = entry.header().entry_type();
        let (top, base) = match &layout {
            Some(l) => l.clone(),
            None => {
                let t = target(dest, kind.is_dir(), name.as_os_str().is_empty())?;
                let into_dir = fs::metadata(&t).is_ok_and(|m| m.is_dir());
                let base = if into_dir { t.join(&name) } else { t };
                layout = Some((name.clone(), base.clone()));
                (name.clone(), base)
            }
        };
        let rel = name.strip_prefix(&top).map_err(|_| CpError::BadEntry { entry: name.display().to_string() })?.to_path_buf();
        let path = if rel.as_os_str().is_empty() { base.clone() } else { base.join(&rel) };
        no_symlinks_below(&base, &rel)?;
        if kind.is_dir() && !rel.as_os_str().is_empty() && fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink()) {
            return Err(CpError::SymlinkOnTheWay { path: path.display().to_string() });
        }
        if kind.is_dir() && fs::metadata(&path).is_ok_and(|m| m.is_dir()) && rel.as_os_str().is_empty() && top.as_os_str().is_empty() {
            // `SRC/.` into an existing directory: keep the directory as it is.
            continue;
        }
        if kind.is_hard_link() {
            let link = entry.link_name().map_err(io(&path))?.ok_or_else(|| CpError::BadEntry { entry: name.display().to_string() })?;
            let link = plain(&link)?;
            let link_rel = link.strip_prefix(&top).map_err(|_| CpError::BadEntry { entry: link.display().to_string() })?;
            no_symlinks_below(&base, link_rel)?;
            let _ = fs::remove_file(&path);
            fs::hard_link(base.join(link_rel), &path).map_err(io(&path))?;
            continue;
        }
        if !kind.is_dir() && fs::symlink_metadata(&path).is_ok_and(|m| !m.is_dir()) {
            fs::remove_file(&path).map_err(io(&path))?;
        }
        entry.set_preserve_mtime(true);
        entry.set_preserve_permissions(true);
        entry.unpack(&path).map_err(io(&path))?;
        if keep_owners {
            let (uid, gid) = (entry.header().uid().unwrap_or(0) as u32, entry.header().gid().unwrap_or(0) as u32);
            std::os::unix::fs::lchown(&path, Some(uid), Some(gid)).map_err(io(&path))?;
        }
    }
    if layout.is_none() {
        return Err(CpError::Inside { message: "the archive was empty".into() });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations() {
        assert_eq!(parse_location("web:/etc/hosts"), Location::Container { key: "web".into(), path: "/etc/hosts".into() });
        assert_eq!(parse_location("./a:b"), Location::Host("./a:b".into()));
        assert_eq!(parse_location("/tmp/x"), Location::Host("/tmp/x".into()));
        assert_eq!(parse_location(":x"), Location::Host(":x".into()));
    }

    #[test]
    fn entries_must_be_plain() {
        assert_eq!(plain(Path::new("top/a/b")).unwrap(), PathBuf::from("top/a/b"));
        assert_eq!(plain(Path::new("./a")).unwrap(), PathBuf::from("a"));
        assert_eq!(plain(Path::new("./")).unwrap(), PathBuf::new());
        assert!(plain(Path::new("top/../../etc")).is_err());
        assert!(plain(Path::new("/etc/passwd")).is_err());
    }

    fn roundtrip(src: &Path, dest: &Path) -> std::result::Result<(), CpError> {
        let (r, w) = nix::unistd::pipe().unwrap();
        let src = src.to_path_buf();
        let h = std::thread::spawn(move || archive(&src, fs::File::from(w), Options::default()));
        let got = extract(fs::File::from(r), dest, false);
        h.join().unwrap()?;
        got
    }

    #[test]
    fn docker_naming_rules() {
        let t = tempfile::tempdir().unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), "data").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", src.join("link")).unwrap();
        // Into an existing directory: dest/src/...
        let d1 = t.path().join("d1");
        fs::create_dir(&d1).unwrap();
        roundtrip(&src, &d1).unwrap();
        assert_eq!(fs::read_to_string(d1.join("src/sub/f")).unwrap(), "data");
        assert!(fs::symlink_metadata(d1.join("src/link")).unwrap().file_type().is_symlink(), "symlinks stay symlinks");
        // A new name: dest is the copy.
        let d2 = t.path().join("d2");
        roundtrip(&src, &d2).unwrap();
        assert_eq!(fs::read_to_string(d2.join("sub/f")).unwrap(), "data");
        // SRC/. into an existing directory: the content only.
        let d3 = t.path().join("d3");
        fs::create_dir(&d3).unwrap();
        roundtrip(&t.path().join("src/."), &d3).unwrap();
        assert_eq!(fs::read_to_string(d3.join("sub/f")).unwrap(), "data");
        // A file onto a new name, into a directory, over a file.
        let f = src.join("sub/f");
        roundtrip(&f, &t.path().join("newname")).unwrap();
        assert_eq!(fs::read_to_string(t.path().join("newname")).unwrap(), "data");
        roundtrip(&f, &d1).unwrap();
        assert_eq!(fs::read_to_string(d1.join("f")).unwrap(), "data");
        fs::write(t.path().join("newname"), "old").unwrap();
        roundtrip(&f, &t.path().join("newname")).unwrap();
        assert_eq!(fs::read_to_string(t.path().join("newname")).unwrap(), "data");
        // Errors: a missing parent, a directory onto a file.
        assert!(matches!(roundtrip(&f, &t.path().join("no/such/x")), Err(CpError::NoParent { .. })));
        assert!(matches!(roundtrip(&src, &t.path().join("newname")), Err(CpError::DirOntoFile { .. })));
    }

    #[test]
    fn a_symlink_in_the_destination_is_not_written_through() {
        let t = tempfile::tempdir().unwrap();
        let outside = t.path().join("outside");
        fs::create_dir(&outside).unwrap();
        let dest = t.path().join("dest");
        fs::create_dir_all(dest.join("src")).unwrap();
        std::os::unix::fs::symlink(&outside, dest.join("src/sub")).unwrap();
        let src = t.path().join("src");
        fs::create_dir_all(src.join("sub")).unwrap();
        fs::write(src.join("sub/f"), "x").unwrap();
        let err = roundtrip(&src, &dest).unwrap_err();
        assert!(matches!(err, CpError::SymlinkOnTheWay { .. }), "{err}");
        assert!(!outside.join("f").exists());
    }
}
