//! The verbs of a container's life after `run`/`create`: start, stop,
//! kill, restart, wait, rename, logs, attach, top, cp, and the hidden
//! `__monitor` that `run -d` and `start` spawn.
//!
//! Each is parsing, one call of the lifecycle service
//! (`container::lifecycle`, which says which namespace each runs in and
//! why) and rendering.

use std::io::Write;
use std::time::Duration;

use burrow::container::lifecycle::{self, Checked};
use burrow::container::logs::{self, Entry, Follower, Stream};
use burrow::container::record;
use burrow::paths::Paths;

/// Print log entries to stdout or stderr as they were written.
fn print(entries: &[Entry], timestamps: bool) {
    let (mut out, mut err) = (std::io::stdout().lock(), std::io::stderr().lock());
    for e in entries {
        let w: &mut dyn Write = if e.stream == Stream::Stdout { &mut out } else { &mut err };
        if timestamps {
            let _ = write!(w, "{} ", e.time.to_rfc3339_opts(chrono::SecondsFormat::Nanos, true));
        }
        let _ = w.write_all(e.log.as_bytes());
    }
    let _ = out.flush();
    let _ = err.flush();
}

/// Copy new log entries until the container's supervisor is gone; its
/// exit code.
fn follow(
    paths: &Paths,
    r: &record::Record,
    mut follower: Follower,
    after: Option<chrono::DateTime<chrono::Utc>>,
    timestamps: bool,
) -> i32 {
    follow_every(paths, r, &mut follower, after, timestamps, Duration::from_millis(50))
}

fn follow_every(
    paths: &Paths,
    r: &record::Record,
    follower: &mut Follower,
    after: Option<chrono::DateTime<chrono::Utc>>,
    timestamps: bool,
    every: Duration,
) -> i32 {
    loop {
        let alive = lifecycle::running(paths, r);
        let new: Vec<Entry> = follower.poll().into_iter().filter(|e| after.is_none_or(|a| e.time > a)).collect();
        print(&new, timestamps);
        if !alive {
            break;
        }
        std::thread::sleep(every);
    }
    record::find(paths, r.id.as_str()).map(|r| record::observed(paths, r).exit_code.unwrap_or(0)).unwrap_or(0)
}

/// Show a started container's output until it exits (a foreground `run`
/// with a restart policy, `start -a`); its exit code.
pub fn follow_until_exit(paths: &Paths, r: &record::Record, follower: Follower) -> anyhow::Result<i32> {
    Ok(follow(paths, r, follower, None, false))
}

#[derive(clap::Args, Debug)]
pub struct StartArgs {
    /// Attach to the container's output and return its exit code
    #[arg(short, long)]
    attach: bool,
    /// Attach the container's STDIN (with -a; the container must have been created with -i)
    #[arg(short, long)]
    interactive: bool,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn start(paths: &Paths, args: &StartArgs) -> anyhow::Result<i32> {
    if args.interactive && !args.attach {
        anyhow::bail!("start -i needs -a: use `burrow start -ai CONTAINER`");
    }
    if args.attach && args.containers.len() > 1 {
        anyhow::bail!("you cannot start and attach multiple containers at once");
    }
    let ready = Checked::existing(paths, &args.containers)?.enter()?;
    super::warn_fallback(ready.fallback());
    let mut failed = false;
    for key in &args.containers {
        let follower = record::find(paths, key).ok().map(|r| Follower::at_end(&r.dir(paths)));
        match lifecycle::start(paths, &ready, key) {
            Ok(r) if args.attach => {
                let follower = follower.unwrap_or_else(|| Follower::at_end(&r.dir(paths)));
                return attach_to(paths, &r, follower, args.interactive);
            }
            Ok(_) => println!("{key}"),
            Err(e) => {
                if args.attach {
                    eprintln!("Error: {e}");
                    return Ok(e.exit_code());
                }
                eprintln!("Error: cannot start {key}: {e}");
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some containers could not be started");
    }
    Ok(0)
}

#[derive(clap::Args, Debug)]
pub struct StopArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    time: Option<u32>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn stop(paths: &Paths, args: &StopArgs) -> anyhow::Result<()> {
    each(&args.containers, "stop", |key| lifecycle::stop(paths, key, args.time).map(|_| ()).map_err(Into::into))
}

#[derive(clap::Args, Debug)]
pub struct RestartArgs {
    /// Seconds to wait before killing the container (default: its --stop-timeout, else 10)
    #[arg(short = 't', long = "time", alias = "timeout", value_name = "SECONDS")]
    time: Option<u32>,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn restart(paths: &Paths, args: &RestartArgs) -> anyhow::Result<()> {
    // Stop everything from the caller's namespace first, then start from
    // burrow's (entering is once per process and needs no thread yet).
    let mut stopped = Vec::new();
    let stop = each(&args.containers, "stop", |key| {
        lifecycle::stop(paths, key, args.time)?;
        stopped.push(key.to_string());
        Ok(())
    });
    if stopped.is_empty() {
        return stop;
    }
    let ready = Checked::existing(paths, &stopped)?.enter()?;
    super::warn_fallback(ready.fallback());
    let quiet = |_: &str| {};
    let start = each_quiet(&stopped, "start", quiet, |key| lifecycle::start(paths, &ready, key).map(|_| ()).map_err(Into::into));
    stop.and(start)
}

#[derive(clap::Args, Debug)]
pub struct KillArgs {
    /// Signal to send (name or number)
    #[arg(short, long, default_value = "KILL")]
    signal: String,
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn kill(paths: &Paths, args: &KillArgs) -> anyhow::Result<()> {
    let Some(signal) = lifecycle::parse_signal(&args.signal) else {
        anyhow::bail!("invalid signal {:?}: give a name (KILL, SIGTERM) or a number", args.signal);
    };
    each(&args.containers, "kill", |key| lifecycle::kill(paths, key, signal).map(|_| ()).map_err(Into::into))
}

#[derive(clap::Args, Debug)]
pub struct WaitArgs {
    #[arg(required = true)]
    containers: Vec<String>,
}

pub fn wait(paths: &Paths, args: &WaitArgs) -> anyhow::Result<()> {
    let mut failed = false;
    for key in &args.containers {
        match lifecycle::wait(paths, key) {
            Ok(code) => println!("{code}"),
            Err(e) => {
                eprintln!("Error: {e}");
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some containers could not be waited for");
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct RenameArgs {
    container: String,
    new_name: String,
}

pub fn rename(paths: &Paths, args: &RenameArgs) -> anyhow::Result<()> {
    lifecycle::rename(paths, &args.container, &args.new_name)?;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct LogsArgs {
    /// Follow the output until the container stops
    #[arg(short, long)]
    follow: bool,
    /// Show only the last N lines ("all" for everything)
    #[arg(short = 'n', long, value_name = "N")]
    tail: Option<String>,
    /// Prefix each line with its time (RFC 3339, nanoseconds)
    #[arg(short, long)]
    timestamps: bool,
    /// Only lines since a time (RFC 3339, Unix seconds, or a duration such as 10m)
    #[arg(long, value_name = "TIME")]
    since: Option<String>,
    /// Only lines before a time (same forms as --since)
    #[arg(long, value_name = "TIME")]
    until: Option<String>,
    container: String,
}

pub fn logs(paths: &Paths, args: &LogsArgs) -> anyhow::Result<()> {
    let r = record::find(paths, &args.container)?;
    if !r.config.as_ref().is_none_or(|c| c.log.enabled) {
        anyhow::bail!("container {} was created with --log-driver none: it keeps no logs", r.name);
    }
    let dir = r.dir(paths);
    let now = chrono::Utc::now();
    let since = args.since.as_deref().map(|t| logs::parse_time(t, now)).transpose()?;
    let until = args.until.as_deref().map(|t| logs::parse_time(t, now)).transpose()?;
    let tail = match args.tail.as_deref() {
        None | Some("all") => None,
        Some(n) => Some(n.parse::<usize>().map_err(|_| anyhow::anyhow!("invalid --tail {n:?}: give a number of lines or \"all\""))?),
    };
    let follower = Follower::at_end(&dir);
    let entries = logs::select(logs::read_all(&dir)?, since, until, tail);
    print(&entries, args.timestamps);
    if args.follow && until.is_none() {
        let last = entries.last().map(|e| e.time);
        follow(paths, &r, follower, last, args.timestamps);
    }
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct AttachArgs {
    /// Do not attach STDIN
    #[arg(long)]
    no_stdin: bool,
    container: String,
}

/// `attach`: the running container's output from now until it exits,
/// and (unless --no-stdin) the caller's input to its stdin.
pub fn attach(paths: &Paths, args: &AttachArgs) -> anyhow::Result<i32> {
    let r = record::find(paths, &args.container)?;
    if !r.monitor_alive(paths) {
        anyhow::bail!("you cannot attach to a stopped container, start it first");
    }
    attach_to(paths, &r, Follower::at_end(&r.dir(paths)), !args.no_stdin)
}

/// Ctrl-P then Ctrl-Q: docker's keys to detach and leave the container running.
const DETACH_KEYS: [u8; 2] = [0x10, 0x11];

/// Follow the output; with `stdin` and a container created with -i, send
/// the caller's input to it (raw terminal with -t, Ctrl-P Ctrl-Q detaches).
fn attach_to(paths: &Paths, r: &record::Record, mut follower: Follower, stdin: bool) -> anyhow::Result<i32> {
    let config = r.config.clone().unwrap_or_default();
    if !stdin || !config.interactive {
        return Ok(follow(paths, r, follower, None, false));
    }
    let dir = r.dir(paths);
    let mut sock =
        burrow::container::attach::connect(&dir).map_err(|e| anyhow::anyhow!("cannot attach to the input of {}: {e}", r.name))?;
    let raw = std::sync::Arc::new(std::sync::Mutex::new(config.tty.then(burrow::process::RawMode::enter)));
    let restore = raw.clone();
    let tty = config.tty;
    std::thread::spawn(move || {
        use std::io::Read;
        let mut buf = [0u8; 4096];
        let mut last = 0u8;
        let mut input = std::io::stdin().lock();
        while let Ok(n) = input.read(&mut buf) {
            if n == 0 {
                break;
            }
            let chunk = &buf[..n];
            let detach = tty && (chunk.windows(2).any(|w| w == DETACH_KEYS) || (last == DETACH_KEYS[0] && chunk[0] == DETACH_KEYS[1]));
            if detach {
                if let Ok(mut r) = restore.lock() {
                    r.take();
                }
                eprintln!("\r\nread escape sequence");
                std::process::exit(0);
            }
            last = chunk[n - 1];
            if sock.write_all(chunk).is_err() {
                break;
            }
        }
    });
    let code = follow_every(paths, r, &mut follower, None, false, Duration::from_millis(10));
    if let Ok(mut r) = raw.lock() {
        r.take();
    }
    Ok(code)
}

#[derive(clap::Args, Debug)]
pub struct TopArgs {
    container: String,
    /// ps options (default -ef)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    ps_args: Vec<String>,
}

/// `top`: the container's processes as the host's `ps` shows them.
pub fn top(paths: &Paths, args: &TopArgs) -> anyhow::Result<()> {
    let r = record::observed(paths, record::find(paths, &args.container)?);
    let pid = match (r.status, r.pid) {
        (burrow::container::Status::Running, Some(pid)) if record::is_alive(&r) => pid,
        _ => anyhow::bail!("container {} is not running", r.name),
    };
    let pids = burrow::container::top::pids(pid)?;
    let ps_args = if args.ps_args.is_empty() { vec!["-ef".to_string()] } else { args.ps_args.clone() };
    let out = std::process::Command::new("ps").args(&ps_args).output().map_err(|e| anyhow::anyhow!("cannot run ps: {e}"))?;
    if !out.status.success() {
        anyhow::bail!("ps {} failed: {}", ps_args.join(" "), String::from_utf8_lossy(&out.stderr).trim());
    }
    print!("{}", burrow::container::top::filter_ps(&String::from_utf8_lossy(&out.stdout), &pids)?);
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct CpArgs {
    /// Archive mode: keep the files' owners
    #[arg(short, long)]
    archive: bool,
    /// Follow a symlink given as the source
    #[arg(short = 'L', long)]
    follow_link: bool,
    /// Print nothing but errors (burrow prints nothing anyway)
    #[arg(short, long)]
    quiet: bool,
    /// CONTAINER:PATH or a host path
    #[arg(value_name = "SRC")]
    src: String,
    /// CONTAINER:PATH or a host path
    #[arg(value_name = "DEST")]
    dest: String,
}

/// `cp`: through the container's own root (see `container::cp`).
pub fn cp(paths: &Paths, args: &CpArgs) -> anyhow::Result<()> {
    use burrow::container::cp;
    let opts = cp::Options { archive: args.archive, follow: args.follow_link };
    lifecycle::cp(paths, &cp::parse_location(&args.src), &cp::parse_location(&args.dest), opts)?;
    Ok(())
}

#[derive(clap::Args, Debug)]
pub struct MonitorArgs {
    id: String,
}

/// The hidden `__monitor ID` (see `container::monitor`).
pub fn monitor(paths: &Paths, args: &MonitorArgs) -> i32 {
    lifecycle::supervise(paths, &args.id)
}

/// Run `op` for every key, printing each key done (docker's output) and
/// each error; fail at the end when any failed.
fn each(keys: &[String], verb: &str, op: impl FnMut(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    each_quiet(keys, verb, |k| println!("{k}"), op)
}

fn each_quiet(keys: &[String], verb: &str, done: impl Fn(&str), mut op: impl FnMut(&str) -> anyhow::Result<()>) -> anyhow::Result<()> {
    let mut failed = false;
    for key in keys {
        match op(key) {
            Ok(()) => done(key),
            Err(e) => {
                eprintln!("Error: cannot {verb} {key}: {}", super::describe(&e));
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some containers could not be {}", if verb == "stop" { "stopped".to_string() } else { format!("{verb}ed") });
    }
    Ok(())
}
