//! The command line: docker's verbs and flags, parsed with clap.
//!
//! Each verb is a few lines that call the engine library and print; the
//! exit codes are docker's (125 when burrow itself fails, the container's
//! own code otherwise, 126/127 when its command cannot run). Commands that
//! read or write container-owned files first enter burrow's user namespace
//! (`userns::enter`), before any thread exists.

mod archive;
mod bridge;
mod build;
mod completion;
mod compose;
mod container;
mod exec;
mod history;
mod images;
mod info;
mod lifecycle;
mod limits;
mod network;
mod registry;
mod system;
mod template;
mod volume;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

use burrow::paths::Paths;

#[derive(Parser, Debug)]
#[command(
    name = "burrow",
    version,
    about = "Rootless containers without a daemon: docker's commands for users who cannot get root",
    disable_help_subcommand = true
)]
pub struct Cli {
    /// Storage root (images, layers, containers); default $XDG_DATA_HOME/burrow or ~/.local/share/burrow
    #[arg(long, global = true, env = "BURROW_ROOT", value_name = "PATH")]
    root: Option<PathBuf>,
    /// Log level: error, warn, info, debug, trace
    #[arg(long, global = true, env = "BURROW_LOG", default_value = "warn", value_name = "LEVEL")]
    log_level: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a command in a new container
    Run(Box<container::RunArgs>),
    #[command(flatten)]
    Life(Lifecycle),
    /// List containers
    #[command(visible_alias = "list")]
    Ps(container::PsArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// List a container's published ports
    Port(container::PortArgs),
    /// Build an image from a Dockerfile
    Build(Box<build::BuildArgs>),
    /// Manage the build cache
    #[command(subcommand)]
    Builder(BuilderCommand),
    /// Import a root filesystem tarball as an image
    Import(images::ImportArgs),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Log in to a registry
    Login(registry::LoginArgs),
    /// Log out of a registry
    Logout(registry::LogoutArgs),
    /// List images
    Images(images::ImagesArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(images::TagArgs),
    /// Remove one or more images
    Rmi(images::RmiArgs),
    /// Manage images
    #[command(subcommand)]
    Image(ImageCommand),
    /// Manage containers
    #[command(subcommand)]
    Container(ContainerCommand),
    /// Create a new image from a container's changes
    Commit(container::CommitArgs),
    /// Show the changes to a container's file system (A added, C changed, D deleted)
    Diff(container::DiffArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
    /// Load images from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Export a container's filesystem as a tar archive
    Export(archive::ExportArgs),
    /// Show the history of an image
    History(history::HistoryArgs),
    /// Manage burrow's storage
    #[command(subcommand)]
    System(SystemCommand),
    /// Manage volumes
    #[command(subcommand)]
    Volume(volume::VolumeCommand),
    /// Manage networks
    #[command(subcommand)]
    Network(network::NetworkCommand),
    /// Define and run multi-container applications (compose files)
    Compose(Box<compose::ComposeArgs>),
    /// Display low-level information on containers or images (JSON)
    Inspect(container::InspectArgs),
    /// Show what this host allows and how to fix what it does not
    Info(info::InfoArgs),
    /// Show the burrow version
    Version,
    /// Run a command inside burrow's user namespace (as `podman unshare`): see and remove files owned by container ids
    Unshare(UnshareArgs),
    /// The supervisor of a detached container (started by burrow itself)
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell)
    Completion(completion::CompletionArgs),
    #[command(name = "__man", hide = true)]
    Man(completion::ManArgs),
    #[command(name = "__host-setup", hide = true)]
    HostSetup,
    #[command(name = "__monitor", hide = true)]
    Monitor(lifecycle::MonitorArgs),
    /// The process that holds burrow's user namespace (started by burrow itself)
    #[command(name = "__pause", hide = true)]
    Pause { gate: std::path::PathBuf },
    /// The holder of a user-defined network's namespace (started by burrow itself)
    #[command(name = "__network-holder", hide = true)]
    NetworkHolder(bridge::HolderArgs),
    /// Internal: prove the bridge plumbing with real namespaces (tests/bridge.rs)
    #[command(name = "__bridge-selftest", hide = true)]
    BridgeSelftest(bridge::SelftestArgs),
}

#[derive(Subcommand, Debug)]
enum ImageCommand {
    /// Display detailed information on one or more images
    Inspect(images::InspectArgs),
    /// List images
    #[command(visible_alias = "list")]
    Ls(images::ImagesArgs),
    /// Remove one or more images
    Rm(images::RmiArgs),
    /// Create a tag TARGET that refers to SOURCE
    Tag(images::TagArgs),
    /// Import a root filesystem tarball as an image
    Import(images::ImportArgs),
    /// Download an image from a registry
    Pull(registry::PullArgs),
    /// Upload an image to a registry
    Push(registry::PushArgs),
    /// Save one or more images to a tar archive (streamed to STDOUT by default)
    Save(archive::SaveArgs),
    /// Load images from a tar archive or STDIN
    Load(archive::LoadArgs),
    /// Show the history of an image
    History(history::HistoryArgs),
    /// Remove unused images
    Prune(images::PruneArgs),
}

#[derive(Subcommand, Debug)]
enum BuilderCommand {
    /// Build an image from a Dockerfile
    Build(Box<build::BuildArgs>),
    /// Remove the build cache: intermediate images, cache mounts
    Prune(build::PruneArgs),
}

#[derive(Subcommand, Debug)]
enum SystemCommand {
    /// Check the store: every blob against its digest, every layer directory present
    Check(system::CheckArgs),
    /// Show what takes space: images, containers, volumes, build cache
    Df(system::DfArgs),
    /// Remove stopped containers, dangling (with -a, unused) images and the build cache
    Prune(system::PruneArgs),
}

#[derive(Subcommand, Debug)]
enum ContainerCommand {
    /// Run a command in a new container
    Run(Box<container::RunArgs>),
    #[command(flatten)]
    Life(Lifecycle),
    /// Remove all stopped containers
    Prune(container::PruneArgs),
    /// List containers
    #[command(visible_alias = "list")]
    Ls(container::PsArgs),
    /// Remove one or more containers
    Rm(container::RmArgs),
    /// Display detailed information on one or more containers
    Inspect(container::InspectArgs),
    /// List a container's published ports
    Port(container::PortArgs),
    /// Create a new image from a container's changes
    Commit(container::CommitArgs),
    /// Show the changes to a container's file system
    Diff(container::DiffArgs),
    /// Export a container's filesystem as a tar archive
    Export(archive::ExportArgs),
}

/// The verbs of a container's life, both top-level (`burrow stop`) and
/// under `burrow container`.
#[derive(Subcommand, Debug)]
enum Lifecycle {
    /// Create a new container without starting it
    Create(Box<container::RunArgs>),
    /// Start one or more created or stopped containers
    Start(lifecycle::StartArgs),
    /// Stop one or more running containers (stop signal, then SIGKILL)
    Stop(lifecycle::StopArgs),
    /// Restart one or more containers
    Restart(lifecycle::RestartArgs),
    /// Send a signal to one or more running containers
    Kill(lifecycle::KillArgs),
    /// Block until containers stop, then print their exit codes
    Wait(lifecycle::WaitArgs),
    /// Rename a container
    Rename(lifecycle::RenameArgs),
    /// Fetch a container's logs
    Logs(lifecycle::LogsArgs),
    /// Attach to a running container's output (and input, if it was created with -i)
    Attach(lifecycle::AttachArgs),
    /// Run a command in a running container
    Exec(exec::ExecArgs),
    /// Show the processes of a running container
    Top(lifecycle::TopArgs),
    /// Copy files between a container and the host (CONTAINER:PATH)
    Cp(lifecycle::CpArgs),
    /// Display a live stream of containers' resource usage
    Stats(limits::StatsArgs),
    /// Pause all processes within one or more containers
    Pause(limits::PauseArgs),
    /// Unpause all processes within one or more containers
    Unpause(limits::PauseArgs),
}

fn dispatch_lifecycle(paths: &Paths, command: Lifecycle) -> anyhow::Result<i32> {
    use Lifecycle as L;
    let done = |r: anyhow::Result<()>| r.map(|_| 0);
    match command {
        L::Create(a) => done(container::create(paths, *a)),
        L::Start(a) => lifecycle::start(paths, &a),
        L::Stop(a) => done(lifecycle::stop(paths, &a)),
        L::Restart(a) => done(lifecycle::restart(paths, &a)),
        L::Kill(a) => done(lifecycle::kill(paths, &a)),
        L::Wait(a) => done(lifecycle::wait(paths, &a)),
        L::Rename(a) => done(lifecycle::rename(paths, &a)),
        L::Logs(a) => done(lifecycle::logs(paths, &a)),
        L::Attach(a) => lifecycle::attach(paths, &a),
        // No enter(): exec and cp join the container's own namespaces.
        L::Exec(a) => exec::exec(paths, a),
        L::Top(a) => done(lifecycle::top(paths, &a)),
        L::Cp(a) => done(lifecycle::cp(paths, &a)),
        L::Stats(a) => done(limits::stats(paths, &a)),
        L::Pause(a) => done(limits::pause(paths, &a, true)),
        L::Unpause(a) => done(limits::pause(paths, &a, false)),
    }
}

#[derive(clap::Args, Debug)]
struct UnshareArgs {
    /// Command and arguments (default: $SHELL)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    command: Vec<String>,
}

/// Whatever follows a verb burrow refuses, so the refusal is its own
/// clear error rather than a usage error about the arguments.
#[derive(clap::Args, Debug)]
pub(crate) struct Rest {
    #[arg(trailing_var_arg = true, allow_hyphen_values = true, hide = true)]
    args: Vec<String>,
}

impl Command {
    /// Whether the command closes an open store root before it runs: every
    /// one but those that do not touch the store and the two that report
    /// an open store (`info`, `system check`) and change nothing.
    fn tightens_store(&self) -> bool {
        !matches!(
            self,
            Command::Info(_)
                | Command::Version
                | Command::Completion(_)
                | Command::Man(_)
                | Command::HostSetup
                | Command::Login(_)
                | Command::Logout(_)
                | Command::Pause { .. }
                | Command::NetworkHolder(_)
                | Command::BridgeSelftest(_)
                | Command::System(SystemCommand::Check(_))
        )
    }
}

pub fn main() -> ExitCode {
    // docker answers a usage error with 125, not clap's 2; help and
    // version still print to stdout and exit 0.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 125 } else { 0 });
        }
    };
    let filter = tracing_subscriber::EnvFilter::try_new(log_directives(&cli.log_level))
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_timer(tracing_subscriber::fmt::time::uptime())
        .init();
    // The processes burrow starts of itself (a detached container's
    // monitor, a build step's) log at the same level into their own logs.
    std::env::set_var("BURROW_LOG", &cli.log_level);
    burrow::limits::raise_nofile();
    let paths = Paths::resolve(cli.root.as_deref());
    if cli.command.tightens_store() {
        match burrow::private_dir::tighten(&paths.root) {
            Ok(Some(open)) => eprintln!("burrow: store {} was open to other users ({:04o}); made it 0700", open.path.display(), open.mode),
            Ok(None) => {}
            Err(e) => {
                eprintln!("Error: {e}");
                return ExitCode::from(125);
            }
        }
    }
    match dispatch(&paths, cli.command) {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("Error: {}", describe(&e));
            ExitCode::from(125)
        }
    }
}

/// The error and its causes, leaving out a cause whose text the message
/// before it already includes (engine errors embed their source), with
/// overlong quotations cut (`text::shorten`).
pub(crate) fn describe(e: &anyhow::Error) -> String {
    let mut out = String::new();
    for cause in e.chain() {
        let text = cause.to_string();
        if !out.contains(&text) {
            if !out.is_empty() {
                out.push_str(": ");
            }
            out.push_str(&text);
        }
    }
    burrow::text::shorten(&out).into_owned()
}

fn dispatch(paths: &Paths, command: Command) -> anyhow::Result<i32> {
    use Command as C;
    let done = |r: anyhow::Result<()>| r.map(|_| 0);
    match command {
        C::Run(a) | C::Container(ContainerCommand::Run(a)) => container::run(paths, *a),
        C::Life(l) | C::Container(ContainerCommand::Life(l)) => dispatch_lifecycle(paths, l),
        C::Monitor(a) => Ok(lifecycle::monitor(paths, &a)),
        C::Pause { gate } => Ok(burrow::userns::pause::main(&gate)),
        C::NetworkHolder(a) => Ok(bridge::holder(&a)),
        C::BridgeSelftest(a) => bridge::selftest(&a),
        C::Ps(a) | C::Container(ContainerCommand::Ls(a)) => done(container::ps(paths, &a)),
        C::Rm(a) | C::Container(ContainerCommand::Rm(a)) => done(container::rm(paths, &a)),
        C::Inspect(a) | C::Container(ContainerCommand::Inspect(a)) => done(container::inspect(paths, &a)),
        C::Port(a) | C::Container(ContainerCommand::Port(a)) => done(container::port(paths, &a)),
        C::Commit(a) | C::Container(ContainerCommand::Commit(a)) => done(container::commit(paths, &a)),
        C::Diff(a) | C::Container(ContainerCommand::Diff(a)) => done(enter(false).and_then(|_| container::diff(paths, &a))),
        C::Build(a) | C::Builder(BuilderCommand::Build(a)) => done(build::build(paths, *a)),
        C::Builder(BuilderCommand::Prune(a)) => done(enter(false).and_then(|_| build::prune(paths, &a))),
        C::Import(a) | C::Image(ImageCommand::Import(a)) => done(enter(false).and_then(|_| images::import(paths, &a))),
        C::Pull(a) | C::Image(ImageCommand::Pull(a)) => done(enter(false).and_then(|_| registry::pull(paths, &a))),
        C::Push(a) | C::Image(ImageCommand::Push(a)) => done(registry::push(paths, &a)),
        C::Login(a) => done(registry::login(&a)),
        C::Logout(a) => done(registry::logout(&a)),
        C::Images(a) | C::Image(ImageCommand::Ls(a)) => done(images::images(paths, &a)),
        C::Tag(a) | C::Image(ImageCommand::Tag(a)) => done(images::tag(paths, &a)),
        C::Rmi(a) | C::Image(ImageCommand::Rm(a)) => done(enter(false).and_then(|_| images::rmi(paths, &a))),
        C::Image(ImageCommand::Inspect(a)) => done(images::inspect(paths, &a)),
        C::Image(ImageCommand::Prune(a)) => done(enter(false).and_then(|_| images::prune(paths, &a))),
        C::Save(a) | C::Image(ImageCommand::Save(a)) => done(archive::save(paths, &a)),
        C::Load(a) | C::Image(ImageCommand::Load(a)) => done(enter(false).and_then(|_| archive::load(paths, &a))),
        C::Export(a) | C::Container(ContainerCommand::Export(a)) => done(enter(false).and_then(|_| archive::export(paths, &a))),
        C::History(a) | C::Image(ImageCommand::History(a)) => done(history::history(paths, &a)),
        C::System(SystemCommand::Check(a)) => done(enter(false).and_then(|_| system::check(paths, &a))),
        C::System(SystemCommand::Df(a)) => done(system::df(paths, &a)),
        C::System(SystemCommand::Prune(a)) => done(enter(false).and_then(|_| system::prune(paths, &a))),
        C::Container(ContainerCommand::Prune(a)) => done(container::prune(paths, &a)),
        C::Volume(v) => done(volume::dispatch(paths, v)),
        C::Network(n) => done(network::dispatch(paths, n)),
        C::Compose(a) => compose::compose(paths, *a),
        C::Info(a) => done(info::info(paths, &a)),
        C::Completion(a) => done(completion::completion(&a)),
        C::Man(a) => done(completion::man(&a)),
        C::HostSetup => done(completion::host_setup()),
        C::Version => {
            println!("burrow version {}", env!("CARGO_PKG_VERSION"));
            println!("os/arch: linux/{}", std::env::consts::ARCH);
            Ok(0)
        }
        C::Unshare(a) => unshare(a),
    }
}

/// The log filter for `--log-level`: a plain level also hides fuser's
/// "Failed to send FUSE reply", which it logs as an error whenever a
/// container exits with requests in flight (the kernel has dropped them:
/// an expected event, shown from debug on).
fn log_directives(level: &str) -> String {
    match level.trim() {
        l @ ("off" | "error" | "warn" | "info") => format!("{l},fuser::reply=off"),
        other => other.to_string(),
    }
}

/// Enter burrow's user namespace (once; `userns::enter_burrow`), telling
/// the user unless `quiet` when only their own ids are mapped.
pub(crate) fn enter(quiet: bool) -> anyhow::Result<burrow::userns::Plan> {
    let entered = burrow::userns::enter_burrow()?;
    if !quiet {
        warn_fallback(entered.fallback.as_deref());
    }
    Ok(entered.plan)
}

/// The one line that says burrow fell back to mapping the user alone.
pub(crate) fn warn_fallback(reason: Option<&str>) {
    if let Some(reason) = reason {
        eprintln!("warning: mapping only your own uid and gid into containers ({reason}); files owned by other users in images will belong to root");
    }
}

/// Ask before a destructive command (docker's prompt); false means no.
/// Without a terminal to ask on, the command fails and names `-f`.
/// `-f/--force` of the prune verbs, and the question they ask without it.
#[derive(clap::Args, Debug)]
pub(crate) struct Force {
    /// Do not prompt for confirmation
    #[arg(short, long)]
    force: bool,
}

impl Force {
    /// True when forced or the user said yes to `warning`.
    pub(crate) fn go_ahead(&self, warning: &str) -> anyhow::Result<bool> {
        if self.force {
            return Ok(true);
        }
        confirm(warning)
    }
}

/// Ask on standard output and read the answer from standard input,
/// terminal or not (docker reads `y` from a pipe too); end of input is
/// "no".
fn confirm(warning: &str) -> anyhow::Result<bool> {
    use std::io::{BufRead, Write};
    print!("{warning}Are you sure you want to continue? [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().lock().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

/// docker's report of what a prune removed: a titled list, if any.
pub(crate) fn print_deleted(title: &str, items: &[String]) {
    if !items.is_empty() {
        println!("Deleted {title}:");
        for i in items {
            println!("{i}");
        }
        println!();
    }
}

fn unshare(args: UnshareArgs) -> anyhow::Result<i32> {
    use std::os::unix::process::CommandExt;
    enter(true)?;
    let mut argv = args.command;
    if argv.is_empty() {
        argv.push(std::env::var("SHELL").unwrap_or_else(|_| "/bin/sh".into()));
    }
    let err = std::process::Command::new(&argv[0]).args(&argv[1..]).exec();
    let code = if err.kind() == std::io::ErrorKind::NotFound { 127 } else { 126 };
    eprintln!("Error: cannot run {}: {err}", argv[0]);
    Ok(code)
}
