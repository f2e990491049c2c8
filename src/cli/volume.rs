//! `burrow volume create|ls|inspect|rm|prune`.
//!
//! Thin over `burrow::volume`: commands that create or remove volume files
//! enter burrow's user namespace first (a volume's files belong to
//! container ids) and hold the store lock while they change the store;
//! `ls` and `inspect` only read.

use std::collections::BTreeMap;

use burrow::lock::StoreLock;
use burrow::paths::Paths;
use burrow::volume::{attach, store};

#[derive(clap::Subcommand, Debug)]
pub enum VolumeCommand {
    /// Create a volume
    Create(CreateArgs),
    /// List volumes
    #[command(visible_alias = "list")]
    Ls(LsArgs),
    /// Display detailed information on one or more volumes (JSON)
    Inspect(InspectArgs),
    /// Remove one or more volumes
    #[command(visible_alias = "remove")]
    Rm(RmArgs),
    /// Remove unused volumes (anonymous ones only, unless --all)
    Prune(PruneArgs),
}

#[derive(clap::Args, Debug)]
pub struct CreateArgs {
    /// Volume name (a random one when missing)
    name: Option<String>,
    /// Specify the volume driver name (only "local")
    #[arg(short, long, default_value = "local")]
    driver: String,
    /// Set metadata for a volume (KEY=VALUE)
    #[arg(long, value_name = "KEY[=VALUE]")]
    label: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct LsArgs {
    /// Only display volume names
    #[arg(short, long)]
    quiet: bool,
    /// Filter: name=SUBSTRING, dangling=true|false, label=KEY[=VALUE]
    #[arg(short, long, value_name = "FILTER")]
    filter: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct InspectArgs {
    /// Volumes
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct RmArgs {
    /// Do not fail when a volume does not exist
    #[arg(short, long)]
    force: bool,
    /// Volumes
    #[arg(required = true)]
    names: Vec<String>,
}

#[derive(clap::Args, Debug)]
pub struct PruneArgs {
    /// Remove all unused volumes, not just anonymous ones
    #[arg(short, long)]
    all: bool,
    #[command(flatten)]
    confirm: super::Force,
}

pub fn dispatch(paths: &Paths, cmd: VolumeCommand) -> anyhow::Result<()> {
    match cmd {
        VolumeCommand::Create(a) => create(paths, &a),
        VolumeCommand::Ls(a) => ls(paths, &a),
        VolumeCommand::Inspect(a) => inspect(paths, &a),
        VolumeCommand::Rm(a) => rm(paths, &a),
        VolumeCommand::Prune(a) => prune(paths, &a),
    }
}

pub(crate) fn labels(list: &[String]) -> BTreeMap<String, String> {
    list.iter()
        .map(|l| {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn create(paths: &Paths, args: &CreateArgs) -> anyhow::Result<()> {
    if args.driver != "local" {
        return Err(burrow::volume::Error::Driver { driver: args.driver.clone() }.into());
    }
    super::enter(false)?;
    let _lock = StoreLock::exclusive(&paths.lock_file())?;
    let (name, anonymous) = match &args.name {
        Some(n) => (n.clone(), false),
        None => (store::anonymous_name(), true),
    };
    let (v, _) = store::create(paths, &name, labels(&args.label), anonymous)?;
    println!("{}", v.name);
    Ok(())
}

/// One `--filter` of `volume ls`, parsed.
enum Filter {
    Name(String),
    Dangling(bool),
    Label(String, Option<String>),
}

fn parse_filter(f: &str) -> anyhow::Result<Filter> {
    match f.split_once('=') {
        Some(("name", v)) => Ok(Filter::Name(v.to_string())),
        Some(("dangling", "true" | "1")) => Ok(Filter::Dangling(true)),
        Some(("dangling", "false" | "0")) => Ok(Filter::Dangling(false)),
        Some(("label", l)) => Ok(match l.split_once('=') {
            Some((k, v)) => Filter::Label(k.to_string(), Some(v.to_string())),
            None => Filter::Label(l.to_string(), None),
        }),
        _ => anyhow::bail!("invalid filter {f:?}: use name=SUBSTRING, dangling=true|false or label=KEY[=VALUE]"),
    }
}

fn ls(paths: &Paths, args: &LsArgs) -> anyhow::Result<()> {
    let filters = args.filter.iter().map(|f| parse_filter(f)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut shown = Vec::new();
    let mounters = burrow::container::record::mounters(paths)?;
    for v in store::list(paths)? {
        let mut keep = true;
        for f in &filters {
            keep &= match f {
                Filter::Name(s) => v.name.contains(s.as_str()),
                Filter::Dangling(d) => attach::users(&mounters, &v.name).is_empty() == *d,
                Filter::Label(k, val) => v.meta.labels.get(k).is_some_and(|x| val.as_ref().is_none_or(|want| want == x)),
            };
        }
        if keep {
            shown.push(v);
        }
    }
    if args.quiet {
        for v in &shown {
            println!("{}", v.name);
        }
        return Ok(());
    }
    println!("{:<10}VOLUME NAME", "DRIVER");
    for v in &shown {
        println!("{:<10}{}", "local", v.name);
    }
    Ok(())
}

fn inspect(paths: &Paths, args: &InspectArgs) -> anyhow::Result<()> {
    let mut out = Vec::new();
    for n in &args.names {
        out.push(store::get(paths, n)?.to_json());
    }
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

fn rm(paths: &Paths, args: &RmArgs) -> anyhow::Result<()> {
    super::enter(false)?;
    let mut failed = false;
    for name in &args.names {
        let result = (|| -> anyhow::Result<bool> {
            let _lock = StoreLock::exclusive(&paths.lock_file())?;
            match store::get(paths, name) {
                Err(burrow::volume::Error::NoSuchVolume { .. }) if args.force => return Ok(false),
                r => r?,
            };
            let users = attach::users(&burrow::container::record::mounters(paths)?, name);
            if !users.is_empty() {
                return Err(burrow::volume::Error::InUse { name: name.clone(), containers: users }.into());
            }
            store::remove(paths, name)?;
            Ok(true)
        })();
        match result {
            Ok(true) => println!("{name}"),
            Ok(false) => {}
            Err(e) => {
                eprintln!("Error: {}", super::describe(&e));
                failed = true;
            }
        }
    }
    if failed {
        anyhow::bail!("some volumes could not be removed");
    }
    Ok(())
}

/// docker >= 23: unused anonymous volumes, or every unused one with -a.
fn prune(paths: &Paths, args: &PruneArgs) -> anyhow::Result<()> {
    let what = if args.all { "all local volumes" } else { "anonymous local volumes" };
    if !args.confirm.go_ahead(&format!("WARNING! This will remove {what} not used by at least one container.\n"))? {
        return Ok(());
    }
    super::enter(false)?;
    let _lock = StoreLock::exclusive(&paths.lock_file())?;
    let (deleted, reclaimed) = attach::prune(paths, args.all, &burrow::container::record::mounters(paths)?)?;
    super::print_deleted("Volumes", &deleted);
    println!("Total reclaimed space: {}", super::images::human_size(reclaimed));
    Ok(())
}
