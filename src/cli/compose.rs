//! `burrow compose`: docker compose v2's verbs and global flags.
//!
//! Thin over `burrow::compose`: the global flags (`-f`, `-p`,
//! `--project-directory`, `--env-file`, `--profile`, given before the
//! verb) and the process environment become the loader's options;
//! `config` prints the loaded model. The verbs that run a project are
//! listed with docker's names and answer that they are not available yet.

use std::path::PathBuf;

use anyhow::bail;
use burrow::compose::{self, Options};

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
    /// Create and start containers (not available yet)
    Up(super::Rest),
    /// Stop and remove containers and networks (not available yet)
    Down(super::Rest),
    /// List containers (not available yet)
    Ps(super::Rest),
    /// View output from containers (not available yet)
    Logs(super::Rest),
    /// Build or rebuild services (not available yet)
    Build(super::Rest),
    /// Pull service images (not available yet)
    Pull(super::Rest),
    /// Push service images (not available yet)
    Push(super::Rest),
    /// Execute a command in a running container (not available yet)
    Exec(super::Rest),
    /// Run a one-off command on a service (not available yet)
    Run(super::Rest),
    /// Start services (not available yet)
    Start(super::Rest),
    /// Stop services (not available yet)
    Stop(super::Rest),
    /// Restart services (not available yet)
    Restart(super::Rest),
    /// Force stop service containers (not available yet)
    Kill(super::Rest),
    /// Remove stopped service containers (not available yet)
    Rm(super::Rest),
    /// Display the running processes (not available yet)
    Top(super::Rest),
    /// Print the public port for a port binding (not available yet)
    Port(super::Rest),
    /// List images used by the created containers (not available yet)
    Images(super::Rest),
    /// List running compose projects (not available yet)
    Ls(super::Rest),
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

impl ComposeCommand {
    fn verb(&self) -> &'static str {
        use ComposeCommand as C;
        match self {
            C::Config(_) => "config",
            C::Up(_) => "up",
            C::Down(_) => "down",
            C::Ps(_) => "ps",
            C::Logs(_) => "logs",
            C::Build(_) => "build",
            C::Pull(_) => "pull",
            C::Push(_) => "push",
            C::Exec(_) => "exec",
            C::Run(_) => "run",
            C::Start(_) => "start",
            C::Stop(_) => "stop",
            C::Restart(_) => "restart",
            C::Kill(_) => "kill",
            C::Rm(_) => "rm",
            C::Top(_) => "top",
            C::Port(_) => "port",
            C::Images(_) => "images",
            C::Ls(_) => "ls",
        }
    }
}

pub fn compose(args: ComposeArgs) -> anyhow::Result<()> {
    let ComposeCommand::Config(config_args) = &args.command else {
        bail!("burrow compose {} is not available yet: this version of burrow only reads compose files (burrow compose config)", args.command.verb());
    };
    let options = Options {
        files: args.file.clone(),
        project_name: args.project_name.clone(),
        project_directory: args.project_directory.clone(),
        env_files: args.env_file.clone(),
        profiles: args.profile.clone(),
        cwd: std::env::current_dir()?,
        environ: std::env::vars().collect(),
    };
    let loaded = compose::load(&options, &config_args.services_named)?;
    for w in &loaded.warnings {
        eprintln!("warning: {w}");
    }
    config(&loaded.project, config_args)
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
