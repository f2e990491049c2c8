//! Mounting a layer stack with the backend under test, with a watchdog.
//!
//! `BURROW_FS_TEST_BACKEND` picks the filesystem: `burrow` (the default,
//! `burrow_fs::spawn_mount`) or `kernel` (the kernel's overlayfs, root only:
//! the layers are copied with their OCI markers rewritten into overlayfs
//! whiteouts, and mounted with `redirect_dir=on,index=on` so directory
//! renames and hardlinks behave as POSIX asks). The kernel backend exists to
//! prove the suites themselves right; tests about burrow's own upper format
//! say so and return early on it. `fuse-overlayfs` (if installed) is a
//! second, unprivileged reference for checking the suites as an ordinary
//! user; it reads OCI markers itself, but it has quirks of its own and does
//! not decide what is right.
//!
//! Prerequisites: burrow needs a usable /dev/fuse and fusermount3. Without
//! them a test prints why and returns, except under CI=true, where it fails:
//! a green CI must mean the filesystem really ran.
//!
//! A hung FUSE request must fail the test run, not hang it: every mount
//! carries a watchdog that aborts the process with a message when the test
//! outlives its deadline, and `within` bounds a single risky operation.

use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

use super::copy::{self, Translate};
use super::layer::Layer;
use super::sys;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Burrow,
    Kernel,
    FuseOverlayfs,
}

impl Backend {
    pub fn current() -> Backend {
        match std::env::var("BURROW_FS_TEST_BACKEND").as_deref() {
            Err(_) | Ok("") | Ok("burrow") => Backend::Burrow,
            Ok("kernel") => Backend::Kernel,
            Ok("fuse-overlayfs") => Backend::FuseOverlayfs,
            Ok(other) => panic!("BURROW_FS_TEST_BACKEND={other:?}: use burrow, kernel or fuse-overlayfs"),
        }
    }
}

/// Whether the test runs under CI (where skipping is not allowed):
/// `CI=true` or `CI=1`, as the engine's tests read it.
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

fn test_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// Why the current backend cannot run here, if it cannot.
fn missing_prerequisite(backend: Backend) -> Option<String> {
    match backend {
        Backend::Kernel => {
            if !sys::is_root() {
                panic!("BURROW_FS_TEST_BACKEND=kernel needs root (overlayfs is mounted with mount(2))");
            }
            None
        }
        Backend::Burrow | Backend::FuseOverlayfs => {
            if let Err(e) = sys::open(Path::new("/dev/fuse"), libc::O_RDWR, 0) {
                return Some(format!("/dev/fuse cannot be opened read-write: {e}"));
            }
            let found = std::env::var_os("PATH")
                .map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
                .unwrap_or_default()
                .into_iter()
                .chain([PathBuf::from("/usr/bin"), PathBuf::from("/bin")])
                .map(|d| d.join("fusermount3"))
                .find(|p| sys::access(p, libc::X_OK).is_ok());
            match found {
                None => Some("fusermount3 is not installed (apt-get install fuse3)".into()),
                Some(p) => match std::process::Command::new(&p).arg("-V").output() {
                    Ok(o) if o.status.success() => None,
                    Ok(o) => Some(format!("{} -V failed: {}", p.display(), String::from_utf8_lossy(&o.stderr))),
                    Err(e) => Some(format!("{} cannot run: {e}", p.display())),
                },
            }
        }
    }
}

/// For a test that needs root (files of other owners, another user's
/// access): when not root, run this very test again as root of a new user
/// namespace with the user's subordinate ids mapped (`unshare
/// --map-root-user --map-auto --mount`, as a rootless container has) and
/// return `true`, having checked that it passed there; when already root,
/// return `false` and let the caller go on. Without `unshare` or a
/// subordinate range the prerequisite rule applies (a failure under CI).
pub fn rerun_as_namespace_root() -> bool {
    if sys::is_root() {
        return false;
    }
    let name = test_name();
    assert!(std::env::var_os("BURROW_FS_TEST_IN_USERNS").is_none(), "{name}: not root inside the user namespace");
    let exe = std::env::current_exe().expect("the test binary's path");
    let out = std::process::Command::new("unshare")
        .args(["--user", "--map-root-user", "--map-auto", "--mount", "--"])
        .arg(&exe)
        .args(["--exact", name.as_str(), "--nocapture", "--test-threads=1"])
        .env("BURROW_FS_TEST_IN_USERNS", "1")
        .output();
    let out = match out {
        Ok(o) => o,
        Err(e) => {
            let why = format!("cannot run unshare(1) to become root of a user namespace: {e}");
            assert!(!in_ci(), "CI=true and {name} cannot run: {why}");
            eprintln!("SKIP {name}: {why}");
            return true;
        }
    };
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    if !out.status.success() && text.contains("unshare:") && !text.contains("running 1 test") {
        // unshare itself failed (no subordinate range, no newuidmap)
        assert!(!in_ci(), "CI=true and {name} cannot run as namespace root:\n{text}");
        eprintln!("SKIP {name}: cannot become root of a user namespace:\n{text}");
        return true;
    }
    eprintln!("as root of a user namespace:\n{text}");
    assert!(out.status.success() && text.contains("1 passed"), "{name} as root of a user namespace:\n{text}");
    true
}

/// Apply the prerequisite rule: `true` when the test may go on.
pub fn prerequisites_met() -> bool {
    let backend = Backend::current();
    match missing_prerequisite(backend) {
        None => true,
        Some(why) if in_ci() => panic!("CI=true and the {backend:?} backend cannot run: {why}"),
        Some(why) => {
            eprintln!("SKIP {}: {why}", test_name());
            false
        }
    }
}

/// Aborts the whole test process when not dropped within its deadline.
pub struct Watchdog {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Watchdog {
    pub fn start(what: String, deadline: Duration, mountpoint: Option<PathBuf>) -> Watchdog {
        let (stop, rx) = mpsc::channel::<()>();
        let thread = std::thread::spawn(move || {
            if let Err(mpsc::RecvTimeoutError::Timeout) = rx.recv_timeout(deadline) {
                give_up(&what, deadline, mountpoint.as_deref());
            }
        });
        Watchdog { stop: Some(stop), thread: Some(thread) }
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

fn give_up(what: &str, deadline: Duration, mountpoint: Option<&Path>) -> ! {
    eprintln!("WATCHDOG: {what} did not finish within {} s: a filesystem operation hangs. Aborting the test process.", deadline.as_secs());
    if let Some(mp) = mountpoint {
        if sys::is_root() {
            let _ = sys::umount2(mp, libc::MNT_DETACH);
        } else {
            let _ = std::process::Command::new("fusermount3").args(["-u", "-z"]).arg(mp).status();
        }
    }
    std::process::abort()
}

/// Run `f` on its own thread; abort the process if it takes longer than
/// `secs` (a hung FUSE request cannot be cancelled from the caller).
pub fn within<T: Send + 'static>(secs: u64, what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    match rx.recv_timeout(Duration::from_secs(secs)) {
        Ok(v) => v,
        Err(mpsc::RecvTimeoutError::Disconnected) => panic!("{what}: panicked (see above)"),
        Err(mpsc::RecvTimeoutError::Timeout) => give_up(what, Duration::from_secs(secs), None),
    }
}

/// Layer directories, bottom first, plus scratch space for mounts.
pub struct Stack {
    dir: tempfile::TempDir,
    layers: Vec<PathBuf>,
    runs: std::cell::Cell<usize>,
}

impl Default for Stack {
    fn default() -> Self {
        Stack::new()
    }
}

impl Stack {
    pub fn new() -> Stack {
        // Every test expects the same creation modes; umask is per process
        // and all tests set the same value.
        // SAFETY: umask takes no pointers and cannot fail; every test sets
        // this same value, so a test running in parallel sees no change.
        unsafe { libc::umask(0o022) };
        let dir = tempfile::Builder::new().prefix("burrow-fs-test.").tempdir().expect("scratch dir under $TMPDIR");
        // Children that drop to another uid must reach the mount.
        sys::chmod(dir.path(), 0o755).expect("chmod scratch dir");
        Stack { dir, layers: Vec::new(), runs: std::cell::Cell::new(0) }
    }

    pub fn base(&self) -> &Path {
        self.dir.path()
    }

    /// A new empty layer on top of the existing ones.
    pub fn layer(&mut self) -> Layer {
        let l = Layer::new(self.dir.path().join(format!("layer{}", self.layers.len())));
        self.layers.push(l.root.clone());
        l
    }

    /// Use an existing directory as the next layer up.
    pub fn push_dir(&mut self, dir: PathBuf) {
        self.layers.push(dir);
    }

    pub fn layers_bottom_first(&self) -> Vec<PathBuf> {
        self.layers.clone()
    }

    /// Mount the stack over a fresh upper directory; `None` means skip.
    pub fn mount(&self) -> Option<Mount> {
        self.mount_for(Duration::from_secs(120))
    }

    /// Mount with a watchdog of `deadline` for the test's whole use of it.
    pub fn mount_for(&self, deadline: Duration) -> Option<Mount> {
        if !prerequisites_met() {
            return None;
        }
        let n = self.runs.get();
        self.runs.set(n + 1);
        let run = self.dir.path().join(format!("run{n}"));
        for d in ["upper", "work", "mnt"] {
            std::fs::create_dir_all(run.join(d)).expect("create run dirs");
            sys::chmod(&run.join(d), 0o755).expect("chmod run dirs");
        }
        Some(self.mount_run(run, deadline))
    }

    /// Unmount `m` and mount the same layers and upper again.
    pub fn remount(&self, m: Mount) -> Mount {
        let (run, deadline) = (m.run.clone(), m.deadline);
        drop(m);
        self.mount_run(run, deadline)
    }

    /// Mount again over the upper directory of an unmounted earlier mount.
    pub fn mount_again(&self, upper: &Path) -> Option<Mount> {
        if !prerequisites_met() {
            return None;
        }
        let run = upper.parent().expect("upper inside its run dir").to_path_buf();
        Some(self.mount_run(run, Duration::from_secs(120)))
    }

    fn mount_run(&self, run: PathBuf, deadline: Duration) -> Mount {
        let backend = Backend::current();
        let (upper, work, root) = (run.join("upper"), run.join("work"), run.join("mnt"));
        let watchdog = Watchdog::start(format!("test {}", test_name()), deadline, Some(root.clone()));
        let inner = match backend {
            Backend::Burrow => Inner::Burrow(mount_burrow(&self.layers, &upper, &work, &root)),
            Backend::Kernel => {
                mount_kernel(&self.layers, &run, &upper, &work, &root);
                Inner::Kernel(root.clone())
            }
            Backend::FuseOverlayfs => {
                mount_fuse_overlayfs(&self.layers, &upper, &work, &root);
                Inner::Fuse(root.clone())
            }
        };
        let served = match backend {
            Backend::Burrow | Backend::FuseOverlayfs => self.layers.clone(),
            Backend::Kernel => (0..self.layers.len()).map(|i| run.join("klayers").join(i.to_string())).collect(),
        };
        Mount { root, upper, work, run, backend, deadline, served, inner: Some(inner), watchdog: Some(watchdog) }
    }
}

impl Drop for Stack {
    fn drop(&mut self) {
        copy::make_removable(self.dir.path());
    }
}

// ---- burrow-fs backend: see `burrow_backend` ---------------------------

type BurrowMount = super::burrow_backend::Mounted;
use super::burrow_backend::mount as mount_burrow;

// ---- kernel overlayfs backend ---------------------------------------------

fn mount_kernel(layers: &[PathBuf], run: &Path, upper: &Path, work: &Path, root: &Path) {
    // A remount reuses the copies: index=on ties the upper to its lowers.
    let klayers = run.join("klayers");
    let reuse = klayers.exists();
    std::fs::create_dir_all(&klayers).expect("create klayers");
    let mut lowers = Vec::new();
    for (i, l) in layers.iter().enumerate() {
        let dst = klayers.join(i.to_string());
        if reuse {
            lowers.push(dst);
            continue;
        }
        copy::copy_tree(l, &dst, Translate::KernelOverlay, &layers[..i])
            .unwrap_or_else(|e| panic!("copy layer {} for overlayfs: {e}", l.display()));
        lowers.push(dst);
    }
    if lowers.is_empty() {
        let empty = klayers.join("empty");
        std::fs::create_dir_all(&empty).expect("empty layer");
        lowers.push(empty);
    }
    let lowerdir: Vec<String> = lowers.iter().rev().map(|p| p.to_str().expect("utf-8 scratch path").to_string()).collect();
    let data = format!("lowerdir={},upperdir={},workdir={},redirect_dir=on,index=on", lowerdir.join(":"), upper.display(), work.display());
    let (src, fstype, target, d) = (sys::cstr("overlay"), sys::cstr("overlay"), sys::cstr(root), sys::cstr(&data));
    // SAFETY: the four pointers are NUL-terminated strings alive for the
    // call, which only reads them.
    let rc = unsafe { libc::mount(src.as_ptr(), target.as_ptr(), fstype.as_ptr(), 0, d.as_ptr().cast()) };
    if rc != 0 {
        panic!("mount overlay on {} ({data}): {}", root.display(), std::io::Error::last_os_error());
    }
}

fn unmount_kernel(root: &Path) {
    for _ in 0..50 {
        match sys::umount2(root, 0) {
            Ok(()) => return,
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) => {}
            Err(_) => break,
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = sys::umount2(root, libc::MNT_DETACH);
}

// ---- fuse-overlayfs backend (unprivileged reference) -----------------------

fn mount_fuse_overlayfs(layers: &[PathBuf], upper: &Path, work: &Path, root: &Path) {
    let lowerdir: Vec<String> = layers.iter().rev().map(|p| p.to_str().expect("utf-8 layer path").to_string()).collect();
    let opts = format!("lowerdir={},upperdir={},workdir={}", lowerdir.join(":"), upper.display(), work.display());
    let out = std::process::Command::new("fuse-overlayfs").arg("-o").arg(&opts).arg(root).output().expect("run fuse-overlayfs");
    assert!(out.status.success(), "fuse-overlayfs {opts}: {}", String::from_utf8_lossy(&out.stderr));
}

fn unmount_fuse(root: &Path) {
    for _ in 0..50 {
        let st = std::process::Command::new("fusermount3").arg("-u").arg(root).status();
        if st.is_ok_and(|s| s.success()) {
            return;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let _ = std::process::Command::new("fusermount3").args(["-u", "-z"]).arg(root).status();
}

enum Inner {
    Burrow(BurrowMount),
    Kernel(PathBuf),
    Fuse(PathBuf),
}

/// A mounted stack; unmounted on drop.
pub struct Mount {
    /// The mountpoint: the merged tree.
    pub root: PathBuf,
    /// The upper directory (burrow: an OCI layer).
    pub upper: PathBuf,
    pub work: PathBuf,
    pub backend: Backend,
    /// The layer directories the filesystem actually reads, bottom first
    /// (the kernel backend reads translated copies).
    pub served: Vec<PathBuf>,
    run: PathBuf,
    deadline: Duration,
    inner: Option<Inner>,
    watchdog: Option<Watchdog>,
}

impl Mount {
    /// A path inside the merged tree.
    pub fn p(&self, rel: impl AsRef<Path>) -> PathBuf {
        self.root.join(rel)
    }

    pub fn is_burrow(&self) -> bool {
        self.backend == Backend::Burrow
    }

    /// Unmount now (also done on drop).
    pub fn unmount(mut self) {
        self.release();
    }

    fn release(&mut self) {
        let was_mounted = self.inner.is_some();
        match self.inner.take() {
            Some(Inner::Burrow(m)) => drop(m),
            Some(Inner::Kernel(root)) => unmount_kernel(&root),
            Some(Inner::Fuse(root)) => unmount_fuse(&root),
            None => {}
        }
        drop(self.watchdog.take());
        if was_mounted && still_mounted(&self.root) {
            // Clean up so the next tests run, then fail this one.
            if sys::is_root() {
                let _ = sys::umount2(&self.root, libc::MNT_DETACH);
            } else {
                let _ = std::process::Command::new("fusermount3").args(["-u", "-z"]).arg(&self.root).status();
            }
            let msg = format!("{} is still mounted after the {:?} mount was dropped", self.root.display(), self.backend);
            if std::thread::panicking() {
                eprintln!("{msg}");
            } else {
                panic!("{msg}");
            }
        }
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        self.release();
    }
}

/// Whether `path` is listed as a mountpoint in /proc/self/mountinfo.
fn still_mounted(path: &Path) -> bool {
    let Ok(info) = std::fs::read("/proc/self/mountinfo") else { return false };
    // Field 5 is the mount point, with space, tab, newline and backslash
    // written as octal escapes.
    let mut want = Vec::new();
    for b in path.as_os_str().as_encoded_bytes() {
        match b {
            b' ' | b'\t' | b'\n' | b'\\' => want.extend(format!("\\{:03o}", b).bytes()),
            _ => want.push(*b),
        }
    }
    info.split(|b| *b == b'\n').any(|line| line.split(|b| *b == b' ').nth(4) == Some(&want[..]))
}

/// Skip a test written for burrow's own formats when on another backend.
pub fn burrow_only(m: &Mount) -> bool {
    if m.is_burrow() {
        return true;
    }
    eprintln!("SKIP {}: checks burrow's own upper format (backend {:?})", test_name(), m.backend);
    false
}
