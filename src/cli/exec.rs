//! `burrow exec`: run a command in a running container.
//!
//! Unlike the other container commands this one must not enter a user
//! namespace of its own (it would be a sibling of the container's,
//! without rights over it): the engine joins the container's namespaces
//! straight from the host's, so nothing here may start a thread first.

use std::path::PathBuf;

use burrow::container::exec::ExecOptions;
use burrow::paths::Paths;
use burrow::process;

#[derive(clap::Args, Debug)]
pub struct ExecArgs {
    /// Detached mode: run the command in the background
    #[arg(short, long)]
    detach: bool,
    /// Keep STDIN open
    #[arg(short, long)]
    interactive: bool,
    /// Allocate a pseudo-TTY
    #[arg(short, long)]
    tty: bool,
    /// Set environment variables (KEY=VALUE, or KEY to copy the caller's)
    #[arg(short, long = "env", value_name = "KEY[=VALUE]")]
    env: Vec<String>,
    /// Read environment variables from a file
    #[arg(long = "env-file", value_name = "FILE")]
    env_file: Vec<PathBuf>,
    /// Username or UID, with an optional group (USER[:GROUP])
    #[arg(short, long)]
    user: Option<String>,
    /// Working directory inside the container
    #[arg(short, long)]
    workdir: Option<String>,
    /// Give extended privileges to the command (refused: burrow has none to give)
    #[arg(long)]
    privileged: bool,
    /// The container (name or id), then the command and its arguments.
    /// Everything after the container is the command's, flags included,
    /// as in docker
    #[arg(value_names = ["CONTAINER", "COMMAND"], required = true, num_args = 2.., trailing_var_arg = true)]
    argv: Vec<String>,
}

pub fn exec(paths: &Paths, mut args: ExecArgs) -> anyhow::Result<i32> {
    let mut command = std::mem::take(&mut args.argv);
    // clap guarantees two values at least: the container and a command.
    let container = if command.is_empty() { String::new() } else { command.remove(0) };
    if args.privileged {
        anyhow::bail!("burrow exec --privileged is not supported: a rootless container has no more privileges to give; run without it");
    }
    let opts = ExecOptions {
        container,
        command,
        detach: args.detach,
        interactive: args.interactive,
        tty: args.tty,
        env: args.env,
        env_files: args.env_file,
        user: args.user,
        workdir: args.workdir,
    };
    match burrow::container::exec::exec(paths, &opts) {
        Ok(code) => Ok(code),
        Err(burrow::container::Error::Process(process::Error::Child { class, message })) => {
            eprintln!("Error: {message}");
            Ok(class.code())
        }
        Err(e) => Err(e.into()),
    }
}
