//! `burrow compose`: docker compose v2's verbs and global flags.
//!
//! Thin over `burrow::compose`: the global flags (`-f`, `-p`,
//! `--project-directory`, `--env-file`, `--profile`, given before the
//! verb) and the process environment become the loader's options;
//! `config` prints the loaded model; `up` and `run` (in `up`) and the
//! other verbs (in `verbs`) drive the engine through
//! `burrow::compose::apply` and the lifecycle service, finding a
//! project's containers by their `com.docker.compose.*` labels.

use std::path::PathBuf;

use burrow::compose::{self, Options};
use burrow::paths::Paths;

mod up;
mod verbs;

#[derive(clap::Args, Debug)]
pub struct ComposeArgs {
    /// Compose configuration files (repeatable, merged in order; - for stdin)
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Vec<String>,
    /// Project name
    #[arg(short = 'p', long = "project-name", value_name = "NAME")]
    project_name: Option<String>,
    /// Alternate working directory (default: the first file's directory)
    #[arg(long, value_name = "DIR")]
    project_directory: Option<PathBuf>,
    /// Alternate environment files (default: .env in the project directory)
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Activate a profile (repeatable)
    #[arg(long, value_name = "PROFILE")]
    profile: Vec<String>,
    #[command(subcommand)]
    command: ComposeCommand,
}

#[derive(clap::Subcommand, Debug)]
enum ComposeCommand {
    /// Parse, resolve and render the compose file in canonical form
    Config(ConfigArgs),
    /// Create and start containers
    Up(up::UpArgs),
    /// Stop and remove containers and networks
    Down(verbs::DownArgs),
    /// List containers
    Ps(verbs::PsArgs),
    /// View output from containers
    Logs(verbs::LogsArgs),
    /// Build or rebuild services
    Build(verbs::ServicesArgs),
    /// Pull service images
    Pull(verbs::ServicesArgs),
    /// Push service images
    Push(verbs::ServicesArgs),
    /// Execute a command in a running container
    Exec(verbs::ExecArgs),
    /// Run a one-off command on a service
    Run(up::RunArgs),
    /// Start services
    Start(verbs::ServicesArgs),
    /// Stop services
    Stop(verbs::StopArgs),
    /// Restart services
    Restart(verbs::StopArgs),
    /// Force stop service containers
    Kill(verbs::KillArgs),
    /// Remove stopped service containers
    Rm(verbs::RmArgs),
    /// Display the running processes
    Top(verbs::ServicesArgs),
    /// Print the public port for a port binding
    Port(verbs::PortArgs),
    /// List images used by the created containers
    Images(verbs::ServicesArgs),
    /// List running compose projects
    Ls(verbs::LsArgs),
}

#[derive(clap::Args, Debug)]
struct ConfigArgs {
    /// Print the service names, one per line
    #[arg(long)]
    services: bool,
    /// Print the volume names, one per line
    #[arg(long)]
    volumes: bool,
    /// Print the profile names, one per line
    #[arg(long)]
    profiles: bool,
    /// Format the output: yaml or json
    #[arg(long, value_name = "FORMAT", default_value = "yaml", value_parser = ["yaml", "json"])]
    format: String,
    /// Only validate the configuration, print nothing
    #[arg(short, long)]
    quiet: bool,
    /// Services to show (they are on whatever their profiles)
    services_named: Vec<String>,
}

impl ComposeArgs {
    /// The loader's options: the global flags and the process environment.
    fn options(&self) -> anyhow::Result<Options> {
        Ok(Options {
            files: self.file.clone(),
            project_name: self.project_name.clone(),
            project_directory: self.project_directory.clone(),
            env_files: self.env_file.clone(),
            profiles: self.profile.clone(),
            cwd: std::env::current_dir()?,
            environ: std::env::vars().collect(),
        })
    }

    /// Load the project (`named`: the services the command names).
    fn load(&self, named: &[String]) -> anyhow::Result<compose::Project> {
        let loaded = compose::load(&self.options()?, named)?;
        for w in &loaded.warnings {
            eprintln!("warning: {w}");
        }
        Ok(loaded.project)
    }

    /// The project's name without needing its file (`-p`, else the file's).
    fn project_name(&self) -> anyhow::Result<String> {
        match &self.project_name {
            Some(p) => Ok(p.clone()),
            None => Ok(self.load(&[])?.name),
        }
    }
}

pub fn compose(paths: &Paths, args: ComposeArgs) -> anyhow::Result<i32> {
    use ComposeCommand as C;
    let done = |r: anyhow::Result<()>| r.map(|_| 0);
    match &args.command {
        C::Config(a) => done(config(&args.load(&a.services_named)?, a)),
        C::Up(a) => up::up(paths, &args, a),
        C::Run(a) => up::run(paths, &args, a),
        C::Down(a) => done(verbs::down(paths, &args, a)),
        C::Ps(a) => done(verbs::ps(paths, &args, a)),
        C::Logs(a) => done(verbs::logs(paths, &args, a)),
        C::Build(a) => done(up::build(paths, &args, a)),
        C::Pull(a) => done(up::pull(paths, &args, a)),
        C::Push(a) => done(verbs::push(paths, &args, a)),
        C::Exec(a) => verbs::exec(paths, &args, a),
        C::Start(a) => done(verbs::start(paths, &args, a)),
        C::Stop(a) => done(verbs::stop(paths, &args, a, false)),
        C::Restart(a) => done(verbs::stop(paths, &args, a, true)),
        C::Kill(a) => done(verbs::kill(paths, &args, a)),
        C::Rm(a) => done(verbs::rm(paths, &args, a)),
        C::Top(a) => done(verbs::top(paths, &args, a)),
        C::Port(a) => done(verbs::port(paths, &args, a)),
        C::Images(a) => done(verbs::images(paths, &args, a)),
        C::Ls(a) => done(verbs::ls(paths, a)),
    }
}

fn config(project: &compose::Project, a: &ConfigArgs) -> anyhow::Result<()> {
    if a.quiet {
        return Ok(());
    }
    let lines: Option<Vec<String>> = if a.services {
        Some(compose::graph::start_order(&project.services)?)
    } else if a.volumes {
        Some(project.volumes.keys().cloned().collect())
    } else if a.profiles {
        Some(compose::all_profiles(project))
    } else {
        None
    };
    match lines {
        Some(lines) => lines.iter().for_each(|l| println!("{l}")),
        None if a.format == "json" => println!("{}", serde_json::to_string_pretty(project)?),
        None => print!("{}", serde_norway::to_string(project)?),
    }
    Ok(())
}
