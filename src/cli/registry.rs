//! `pull`, `push`, `login` and `logout`: docker's registry verbs over
//! `burrow::registry`. Progress goes to stderr, results to stdout.

use std::io::{IsTerminal, Read};
use std::path::PathBuf;

use anyhow::Context;
use burrow::image::{Store, UnpackOptions};
use burrow::paths::Paths;
use burrow::registry::platform::Platform;
use burrow::registry::progress::Progress;
use burrow::registry::pull::{pull as pull_image, PullOptions};
use burrow::registry::push::{push as push_image, PushOptions};
use burrow::registry::{AuthFiles, Conf, Credentials, Options};

/// Flags every registry verb shares.
#[derive(clap::Args, Debug, Clone)]
pub struct ConnArgs {
    /// Require HTTPS and verify certificates (false: also allow plain HTTP and any certificate)
    #[arg(long, value_name = "BOOL", default_value_t = true, action = clap::ArgAction::Set)]
    tls_verify: bool,
    /// Directory of CA certificates (*.crt) to trust for the registry
    #[arg(long, value_name = "DIR")]
    cert_dir: Option<PathBuf>,
    /// Credentials file (default $REGISTRY_AUTH_FILE or ~/.config/burrow/auth.json)
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
}

impl ConnArgs {
    fn options(&self) -> Options {
        Options { tls_verify_off: !self.tls_verify, cert_dir: self.cert_dir.clone() }
    }
}

#[derive(clap::Args, Debug)]
pub struct PullArgs {
    /// Suppress progress output
    #[arg(short, long)]
    quiet: bool,
    /// Platform to pull from a multi-platform image (OS/ARCH[/VARIANT])
    #[arg(long, value_name = "PLATFORM")]
    platform: Option<String>,
    #[command(flatten)]
    conn: ConnArgs,
    /// Image to pull
    #[arg(value_name = "NAME[:TAG|@DIGEST]")]
    image: String,
}

#[derive(clap::Args, Debug)]
pub struct PushArgs {
    /// Suppress progress output
    #[arg(short, long)]
    quiet: bool,
    /// Write the pushed manifest's digest to this file
    #[arg(long, value_name = "FILE")]
    digestfile: Option<PathBuf>,
    #[command(flatten)]
    conn: ConnArgs,
    /// Local image (name or id)
    #[arg(value_name = "IMAGE")]
    image: String,
    /// Where to push (default: the image's name)
    #[arg(value_name = "DESTINATION")]
    destination: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct LoginArgs {
    /// User name
    #[arg(short, long)]
    username: Option<String>,
    /// Password (visible to other users in the process list: prefer --password-stdin)
    #[arg(short, long)]
    password: Option<String>,
    /// Read the password from stdin
    #[arg(long)]
    password_stdin: bool,
    #[command(flatten)]
    conn: ConnArgs,
    /// Registry host[:port] (default docker.io)
    registry: Option<String>,
}

#[derive(clap::Args, Debug)]
pub struct LogoutArgs {
    /// Remove the credentials of every registry
    #[arg(short, long)]
    all: bool,
    /// Credentials file (default $REGISTRY_AUTH_FILE or ~/.config/burrow/auth.json)
    #[arg(long, value_name = "FILE")]
    authfile: Option<PathBuf>,
    /// Registry host[:port] (default docker.io)
    registry: Option<String>,
}

pub fn pull(paths: &Paths, args: &PullArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    burrow::image::ingest::sweep_tmp(&store, burrow::image::ingest::SWEEP_AGE);
    let conf = Conf::load()?;
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let opts = PullOptions { platform, conn: args.conn.options(), authfile: args.conn.authfile.clone(), unpack: UnpackOptions::current() };
    let progress = Progress::new(args.quiet);
    let r = pull_image(&store, &conf, &args.image, &opts, &progress)?;
    if r.squashed_owners > 0 {
        eprintln!("{}", opts.unpack.squashed_warning(r.squashed_owners));
    }
    if !args.quiet {
        eprintln!("Digest: {}", r.manifest_digest);
    }
    println!("{}", r.id);
    Ok(())
}

/// `run --pull`: pull with default options and progress, then the image.
pub fn pull_for_run(store: &Store, image: &str) -> anyhow::Result<burrow::image::Image> {
    pull_with(store, image, None)
}

/// A build's base image: pulled with the build's `--tls-verify`,
/// `--cert-dir` and `--authfile`, as `pull` has them.
pub fn pull_with(store: &Store, image: &str, conn: Option<&ConnArgs>) -> anyhow::Result<burrow::image::Image> {
    let conf = Conf::load()?;
    let mut opts = PullOptions { unpack: UnpackOptions::current(), ..PullOptions::default() };
    if let Some(c) = conn {
        opts.conn = c.options();
        opts.authfile = c.authfile.clone();
    }
    let r = pull_image(store, &conf, image, &opts, &Progress::new(false))?;
    Ok(store.resolve(&r.id.to_string())?)
}

pub fn push(paths: &Paths, args: &PushArgs) -> anyhow::Result<()> {
    let store = Store::open(paths)?;
    let conf = Conf::load()?;
    let opts =
        PushOptions { conn: args.conn.options(), authfile: args.conn.authfile.clone(), chunk_size: PushOptions::default_chunk_size() };
    let progress = Progress::new(args.quiet);
    let r = push_image(&store, &conf, &args.image, args.destination.as_deref(), &opts, &progress)?;
    if let Some(f) = &args.digestfile {
        std::fs::write(f, r.digest.to_string()).with_context(|| format!("cannot write the digest file {}", f.display()))?;
    }
    if !args.quiet {
        println!("{}: digest: {} size: {}", r.name, r.digest, r.size);
    }
    Ok(())
}

pub fn login(args: &LoginArgs) -> anyhow::Result<()> {
    let registry = burrow::registry::normalize_registry(args.registry.as_deref().unwrap_or("docker.io"));
    let stdin = std::io::stdin();
    let username = match &args.username {
        Some(u) => u.clone(),
        None if stdin.is_terminal() && !args.password_stdin => prompt("Username: ")?,
        None => anyhow::bail!("give the user name with -u/--username"),
    };
    let password = match (&args.password, args.password_stdin) {
        (Some(_), true) => anyhow::bail!("--password and --password-stdin are mutually exclusive"),
        (Some(p), false) => p.clone(),
        (None, true) => {
            let mut s = String::new();
            stdin.lock().read_to_string(&mut s).context("cannot read the password from stdin")?;
            s.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) if stdin.is_terminal() => {
            let p = read_password("Password: ")?;
            p.trim_end_matches(['\n', '\r']).to_string()
        }
        (None, false) => anyhow::bail!("no password: use --password-stdin (or -p)"),
    };
    if username.is_empty() || password.is_empty() {
        anyhow::bail!("user name and password must not be empty");
    }
    let conf = Conf::load()?;
    let files = AuthFiles::resolve(args.conn.authfile.as_deref());
    burrow::registry::login(&conf, &registry, Credentials { username, password }, &args.conn.options(), &files)?;
    println!("Login Succeeded!");
    Ok(())
}

pub fn logout(args: &LogoutArgs) -> anyhow::Result<()> {
    let files = AuthFiles::resolve(args.authfile.as_deref());
    if args.all {
        files.remove_all()?;
        println!("Removed login credentials for all registries");
        return Ok(());
    }
    let registry = burrow::registry::normalize_registry(args.registry.as_deref().unwrap_or("docker.io"));
    if !files.remove(&registry)? {
        anyhow::bail!("not logged into {registry}");
    }
    println!("Removed login credentials for {registry}");
    Ok(())
}

fn prompt(label: &str) -> anyhow::Result<String> {
    use std::io::Write;
    eprint!("{label}");
    std::io::stderr().flush()?;
    let mut s = String::new();
    std::io::stdin().read_line(&mut s)?;
    Ok(s.trim().to_string())
}

/// Read a line with the terminal's echo off.
fn read_password(label: &str) -> anyhow::Result<String> {
    use nix::sys::termios::{tcgetattr, tcsetattr, LocalFlags, SetArg};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin)?;
    let mut quiet = saved.clone();
    quiet.local_flags.remove(LocalFlags::ECHO);
    tcsetattr(&stdin, SetArg::TCSANOW, &quiet)?;
    let r = prompt(label);
    let _ = tcsetattr(&stdin, SetArg::TCSANOW, &saved);
    eprintln!();
    r
}
